/* The .fer checkpoint: magic + version, JSON header, float32 LE payload, CRC32 (see
 * model/README.md). Written to PATH.tmp, flushed, fsync'ed, renamed into place. */
#ifndef FER_CHECKPOINT_H
#define FER_CHECKPOINT_H
#include "fer/model.h"
#include "fer/optim.h"
#include "fer/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_checkpoint_meta {
    int n_classes;
    char class_names[FER_MAX_CLASSES][FER_NAME_LEN]; /* training class order */
    fer_norm norm;               /* input normalisation used in training */
    int epoch;                   /* epochs completed */
    float best_metric;           /* best val macro-F1 so far */
    int has_prior;
    float class_prior[FER_MAX_CLASSES]; /* training class frequencies (logit adjustment) */
    char *config_json;           /* malloc'd JSON object: training config; may be NULL */
    char *state_json;            /* malloc'd JSON object: trainer state (rng, schedule); may be NULL */
    /* save only, not owned: the trainer's weight EMA (fer-train --ema) to store beside the
     * optimiser state, ema_floats = the model's parameter arena then its buffer arena; NULL:
     * none. Read back with fer_checkpoint_load_ema. */
    const float *ema_host;
    size_t ema_floats;
    /* save only, not owned: int8 activation ranges (fer/quant.h, fer-eval --calibrate_int8) to
     * store as the optional "int8" block; NULL: none. Read back with fer_checkpoint_load_int8. */
    const struct fer_int8_calib *int8_calib;
    /* Post-hoc logit adjustment shipped with the model (fer-eval --write_adjusted): inference
     * adds logit_offsets[k] to logit k (fer_classifier does unless told not to). They are
     * -tau * log(class_prior) when logit_offsets_tau >= 0, general offsets when it is < 0.
     * Stored as a float32 payload block, checked at load (finite, |x| <= 1000). */
    int has_logit_offsets;
    float logit_offsets[FER_MAX_CLASSES];
    float logit_offsets_tau;
    /* The head's weight rows were divided by their L2 norm^head_tau_norm (tau-normalised
     * head, fer-eval --tau_norm); 0: not. A note only: the stored weights already hold it. */
    float head_tau_norm;
} fer_checkpoint_meta;

void fer_checkpoint_meta_init(fer_checkpoint_meta *meta); /* FER-2013 class names, norm 0.5/0.5 */
void fer_checkpoint_meta_clear(fer_checkpoint_meta *meta); /* frees the strings */

/* opt may be NULL (no optimiser section). */
fer_status fer_checkpoint_save(const char *path, fer_model *m, const fer_checkpoint_meta *meta,
                               fer_optimizer *opt);
/* Reads the header only (arch + meta), e.g. to build a model of the right shape. */
fer_status fer_checkpoint_read_header(const char *path, fer_arch *arch_out,
                                      fer_checkpoint_meta *meta_out);
/* Loads tensors into an existing model; its arch must match the file (else FER_ERR_FORMAT
 * "PATH: architecture mismatch ..."). opt may be NULL; if given and the file has no optimiser
 * section, FER_ERR_FORMAT. */
fer_status fer_checkpoint_load_into(const char *path, fer_model *m, fer_optimizer *opt,
                                    fer_checkpoint_meta *meta_out);
/* Convenience: header + new model on backend + tensors. */
fer_status fer_checkpoint_load(const char *path, fer_backend *backend, int max_batch,
                               fer_model **model_out, fer_checkpoint_meta *meta_out);
int fer_checkpoint_has_optimizer(const char *path);
/* The weight EMA stored in path for model m's layout (see meta.ema_host): *host_out malloc'd
 * (free it), NULL when the file has none. Sizes must match m, and values are checked as the
 * model's own tensors (finite, in range) else FER_ERR_FORMAT naming the file. */
fer_status fer_checkpoint_load_ema(const char *path, fer_model *m, float **host_out);
/* The int8 calibration block of path (fer/quant.h): *found = 0 when the file has none. The
 * block is checked (fer_int8_calib_check against its own node count: finite ranges in range,
 * version) else FER_ERR_FORMAT naming the file; its node count against a model is the caller's
 * check. */
fer_status fer_checkpoint_load_int8(const char *path, struct fer_int8_calib *out, int *found);

#ifdef __cplusplus
}
#endif
#endif
