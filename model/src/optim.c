/* Optimisers over the whole parameter arena (one op call per step) and learning-rate schedules
 * with PyTorch semantics. */
#include "fer/optim.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

struct fer_optimizer {
    fer_model *model;
    fer_optim_config cfg;
    float *m, *v; /* backend memory, same layout as the parameter arena */
    size_t n;     /* floats in the arena */
    long step;
};

void fer_optim_config_default(fer_optim_kind kind, float lr, fer_optim_config *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->lr = lr;
    out->beta1 = 0.9f;
    out->beta2 = 0.999f;
    out->eps = 1e-8f;
    out->weight_decay = kind == FER_OPTIM_ADAMW ? 0.01f : 0.0f;
}

fer_status fer_optimizer_new(fer_model *m, const fer_optim_config *cfg, fer_optimizer **out)
{
    *out = NULL;
    if (cfg->kind != FER_OPTIM_ADAM && cfg->kind != FER_OPTIM_ADAMW && cfg->kind != FER_OPTIM_SGD)
        return fer_fail(FER_ERR_ARG, "optimizer: unknown kind %d", (int)cfg->kind);
    if (!(cfg->lr >= 0.0f) || !(cfg->weight_decay >= 0.0f))
        return fer_fail(FER_ERR_ARG, "optimizer: lr and weight decay must be >= 0");
    if (cfg->kind != FER_OPTIM_SGD &&
        !(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f && cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f &&
          cfg->eps >= 0.0f))
        return fer_fail(FER_ERR_ARG, "optimizer: betas must be in [0, 1) and eps >= 0");
    if (cfg->kind == FER_OPTIM_SGD && cfg->nesterov &&
        (cfg->momentum <= 0.0f || cfg->dampening != 0.0f))
        return fer_fail(FER_ERR_ARG, "optimizer: nesterov needs momentum > 0 and no dampening");
    fer_optimizer *o = calloc(1, sizeof *o);
    if (!o)
        return fer_fail(FER_ERR_NOMEM, "optimizer: out of memory");
    o->model = m;
    o->cfg = *cfg;
    fer_model_param_arena(m, &o->n);
    fer_backend *b = fer_model_backend(m);
    fer_status st = FER_OP(b, alloc, o->n * sizeof(float), (void **)&o->m);
    if (st == FER_OK)
        st = FER_OP(b, alloc, o->n * sizeof(float), (void **)&o->v);
    if (st != FER_OK) {
        fer_optimizer_free(o);
        return st;
    }
    *out = o;
    return FER_OK;
}

void fer_optimizer_free(fer_optimizer *o)
{
    if (!o)
        return;
    fer_backend *b = fer_model_backend(o->model);
    if (o->m)
        b->ops->release(b, o->m);
    if (o->v)
        b->ops->release(b, o->v);
    free(o);
}

fer_status fer_optimizer_step(fer_optimizer *o, float lr)
{
    fer_backend *b = fer_model_backend(o->model);
    fer_optim_args a = {o->cfg.kind, lr, o->cfg.beta1, o->cfg.beta2, o->cfg.eps,
                        o->cfg.weight_decay, o->cfg.momentum, o->cfg.dampening, o->cfg.nesterov,
                        o->step + 1};
    size_t n;
    float *params = fer_model_param_arena(o->model, &n);
    float *grads = fer_model_grad_arena(o->model, NULL);
    /* cRT: the frozen layers' parameters (the arena's start) and their moments stay as they are */
    size_t skip = fer_model_frozen_param_floats(o->model);
    FER_TRY(FER_OP(b, optimizer_step, &a, n - skip, params + skip, grads + skip, o->m + skip,
                   o->v + skip));
    o->step++;
    return FER_OK;
}

long fer_optimizer_steps(const fer_optimizer *o)
{
    return o->step;
}

const fer_optim_config *fer_optimizer_config(const fer_optimizer *o)
{
    return &o->cfg;
}

/* State is exchanged packed: PARAM tensors in table order, without the arena's padding. */
size_t fer_optimizer_state_floats(const fer_optimizer *o)
{
    return fer_model_param_count(o->model);
}

static fer_status transfer_state(fer_optimizer *o, float *arena, float *host, int to_host)
{
    fer_model *m = o->model;
    fer_backend *b = m->b;
    size_t pos = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        const fer_tensor *tt = &m->tensors[t];
        if (tt->info.role != FER_TENSOR_PARAM)
            continue;
        size_t bytes = tt->info.numel * sizeof(float);
        if (to_host)
            FER_TRY(FER_OP(b, download, host + pos, arena + tt->offset, bytes));
        else
            FER_TRY(FER_OP(b, upload, arena + tt->offset, host + pos, bytes));
        pos += tt->info.numel;
    }
    return FER_OK;
}

fer_status fer_optimizer_get_state(fer_optimizer *o, long *step, float *m_host, float *v_host)
{
    if (step)
        *step = o->step;
    if (m_host)
        FER_TRY(transfer_state(o, o->m, m_host, 1));
    if (v_host)
        FER_TRY(transfer_state(o, o->v, v_host, 1));
    return FER_OK;
}

fer_status fer_optimizer_set_state(fer_optimizer *o, long step, const float *m_host,
                                   const float *v_host)
{
    if (step < 0)
        return fer_fail(FER_ERR_ARG, "optimizer: negative step count %ld", step);
    if (m_host)
        FER_TRY(transfer_state(o, o->m, (float *)m_host, 0));
    if (v_host)
        FER_TRY(transfer_state(o, o->v, (float *)v_host, 0));
    o->step = step;
    return FER_OK;
}

/* ---- schedules ------------------------------------------------------------------------ */

void fer_schedule_init(fer_schedule *s, fer_schedule_kind kind, float base_lr, int epochs)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->base_lr = base_lr;
    s->eta_min = 0.0f;
    s->t_max = epochs > 0 ? epochs : 1;
    s->step_size = epochs >= 3 ? epochs / 3 : 1;
    s->gamma = 0.1f;
    s->factor = 0.1f;
    s->patience = 10;
    s->threshold = 1e-4f;
    s->plateau_lr = base_lr;
    s->plateau_best = -FLT_MAX; /* PyTorch starts at -inf; -FLT_MAX keeps saved state finite */
    s->plateau_bad_epochs = 0;
}

float fer_schedule_lr(const fer_schedule *s, int epoch)
{
    const double pi = 3.14159265358979323846;
    if (epoch < 0)
        epoch = 0;
    switch (s->kind) {
    case FER_SCHED_COSINE: {
        int t = s->t_max > 0 ? s->t_max : 1;
        return (float)((double)s->eta_min + ((double)s->base_lr - (double)s->eta_min) *
                                                (1.0 + cos(pi * (double)epoch / (double)t)) / 2.0);
    }
    case FER_SCHED_STEP: {
        int k = s->step_size > 0 ? epoch / s->step_size : 0;
        return (float)((double)s->base_lr * pow((double)s->gamma, (double)k));
    }
    case FER_SCHED_PLATEAU:
        return s->plateau_lr;
    case FER_SCHED_NONE:
    default:
        return s->base_lr;
    }
}

void fer_schedule_observe(fer_schedule *s, float metric)
{
    if (s->kind != FER_SCHED_PLATEAU)
        return;
    /* mode "max", threshold_mode "rel": better when metric > best * (1 + threshold) */
    if ((double)metric > (double)s->plateau_best * (1.0 + (double)s->threshold)) {
        s->plateau_best = metric;
        s->plateau_bad_epochs = 0;
    } else {
        s->plateau_bad_epochs++;
    }
    if (s->plateau_bad_epochs > s->patience) {
        float new_lr = s->plateau_lr * s->factor;
        if (new_lr < 0.0f)
            new_lr = 0.0f;
        if (s->plateau_lr - new_lr > 1e-8f)
            s->plateau_lr = new_lr;
        s->plateau_bad_epochs = 0;
    }
}

fer_status fer_schedule_parse(const char *str, fer_schedule_kind *out)
{
    if (strcmp(str, "cosine") == 0)
        *out = FER_SCHED_COSINE;
    else if (strcmp(str, "step") == 0)
        *out = FER_SCHED_STEP;
    else if (strcmp(str, "plateau") == 0)
        *out = FER_SCHED_PLATEAU;
    else if (strcmp(str, "none") == 0)
        *out = FER_SCHED_NONE;
    else
        return fer_fail(FER_ERR_ARG, "unknown schedule '%s' (expected cosine, step, plateau or none)",
                        str);
    return FER_OK;
}
