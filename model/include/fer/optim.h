/* Optimisers (PyTorch semantics) and learning-rate schedules. */
#ifndef FER_OPTIM_H
#define FER_OPTIM_H
#include <stddef.h>
#include "fer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_optim_config {
    fer_optim_kind kind;
    float lr;             /* base learning rate */
    float beta1, beta2, eps;
    float weight_decay;   /* adam: L2 added to the gradient; adamw: decoupled */
    float momentum, dampening;
    int nesterov;
} fer_optim_config;

/* Defaults of torch.optim for the kind (adam: 0.9/0.999/1e-8, wd 0; sgd: momentum 0). */
void fer_optim_config_default(fer_optim_kind kind, float lr, fer_optim_config *out);

typedef struct fer_optimizer fer_optimizer;
fer_status fer_optimizer_new(fer_model *m, const fer_optim_config *cfg, fer_optimizer **out);
void fer_optimizer_free(fer_optimizer *o);
/* One update of every PARAM tensor with learning rate lr (from the schedule). */
fer_status fer_optimizer_step(fer_optimizer *o, float lr);
long fer_optimizer_steps(const fer_optimizer *o);
/* State for checkpoints: step count plus the m and v arenas (host copies). */
size_t fer_optimizer_state_floats(const fer_optimizer *o); /* length of m (= v) */
fer_status fer_optimizer_get_state(fer_optimizer *o, long *step, float *m_host, float *v_host);
fer_status fer_optimizer_set_state(fer_optimizer *o, long step, const float *m_host,
                                   const float *v_host);
const fer_optim_config *fer_optimizer_config(const fer_optimizer *o);

typedef enum fer_schedule_kind {
    FER_SCHED_NONE = 0,
    FER_SCHED_COSINE,   /* CosineAnnealingLR(T_max = epochs, eta_min), stepped per epoch */
    FER_SCHED_STEP,     /* StepLR(step_size, gamma) */
    FER_SCHED_PLATEAU   /* ReduceLROnPlateau(mode max on val macro-F1, factor, patience) */
} fer_schedule_kind;

typedef struct fer_schedule {
    fer_schedule_kind kind;
    float base_lr, eta_min;
    int t_max;            /* cosine */
    int step_size;        /* step */
    float gamma;          /* step */
    float factor;         /* plateau, default 0.1 */
    int patience;         /* plateau, default 10 (PyTorch) */
    float threshold;      /* plateau, default 1e-4 rel */
    /* plateau state, saved in checkpoints */
    float plateau_lr, plateau_best;
    int plateau_bad_epochs;
} fer_schedule;

void fer_schedule_init(fer_schedule *s, fer_schedule_kind kind, float base_lr, int epochs);
/* LR to use during epoch (0-based) for NONE/COSINE/STEP; PLATEAU returns its current lr. */
float fer_schedule_lr(const fer_schedule *s, int epoch);
/* PLATEAU: feed the epoch's validation metric (higher is better). No-op for others. */
void fer_schedule_observe(fer_schedule *s, float metric);
/* "cosine" | "step" | "plateau" | "none" */
fer_status fer_schedule_parse(const char *s, fer_schedule_kind *out);

#ifdef __cplusplus
}
#endif
#endif
