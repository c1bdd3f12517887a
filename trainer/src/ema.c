/* Weight EMA on the model's backend (see ema.h). */
#include <stdlib.h>
#include "ema.h"

struct fer_ema {
    fer_backend *b;
    double decay;
    int warmup;
    size_t n_params, n_buffers;
    float *params, *buffers; /* backend memory, laid out as the model's arenas */
    float *scratch;          /* backend memory, max(n_params, n_buffers) floats */
};

static fer_status op_missing(const fer_backend *b, const char *op)
{
    return fer_fail(FER_ERR_UNSUPPORTED, "--ema: the %s backend has no %s op", b->name, op);
}

static fer_status copy_floats(fer_backend *b, float *dst, const float *src, size_t n)
{
    if (!n) return FER_OK;
    return b->ops->copy ? b->ops->copy(b, dst, src, n * sizeof(float)) : op_missing(b, "copy");
}

fer_status fer_ema_new(fer_model *m, double decay, int warmup, fer_ema **out)
{
    *out = NULL;
    fer_backend *b = fer_model_backend(m);
    if (!b->ops->scale || !b->ops->add) return op_missing(b, b->ops->scale ? "add" : "scale");
    fer_ema *e = calloc(1, sizeof *e);
    if (!e) return fer_fail(FER_ERR_NOMEM, "--ema: out of memory");
    e->b = b;
    e->decay = decay;
    e->warmup = warmup;
    const float *params = fer_model_param_arena(m, &e->n_params);
    const float *buffers = fer_model_buffer_arena(m, &e->n_buffers);
    size_t most = e->n_params > e->n_buffers ? e->n_params : e->n_buffers;
    /* alloc of 0 bytes is not portable across backends: at least one float each */
    fer_status s = b->ops->alloc(b, sizeof(float) * (e->n_params ? e->n_params : 1),
                                 (void **)&e->params);
    if (!s) s = b->ops->alloc(b, sizeof(float) * (e->n_buffers ? e->n_buffers : 1),
                              (void **)&e->buffers);
    if (!s) s = b->ops->alloc(b, sizeof(float) * (most ? most : 1), (void **)&e->scratch);
    if (!s) s = copy_floats(b, e->params, params, e->n_params);
    if (!s) s = copy_floats(b, e->buffers, buffers, e->n_buffers);
    if (s) {
        fer_ema_free(e);
        return s;
    }
    *out = e;
    return FER_OK;
}

void fer_ema_free(fer_ema *e)
{
    if (!e) return;
    if (e->params) e->b->ops->release(e->b, e->params);
    if (e->buffers) e->b->ops->release(e->b, e->buffers);
    if (e->scratch) e->b->ops->release(e->b, e->scratch);
    free(e);
}

double fer_ema_decay_at(const fer_ema *e, long k)
{
    if (!e->warmup) return e->decay;
    double ramp = (1.0 + (double)k) / (10.0 + (double)k);
    return ramp < e->decay ? ramp : e->decay;
}

/* avg = d * avg + (1 - d) * w over n floats, w copied to scratch first (w is the model's) */
static fer_status blend(fer_ema *e, float *avg, const float *w, size_t n, float d, float one_minus_d)
{
    if (!n) return FER_OK;
    fer_backend *b = e->b;
    fer_status s = copy_floats(b, e->scratch, w, n);
    if (!s) s = b->ops->scale(b, n, e->scratch, one_minus_d);
    if (!s) s = b->ops->scale(b, n, avg, d);
    if (!s) s = b->ops->add(b, n, avg, e->scratch, avg);
    return s;
}

fer_status fer_ema_update(fer_ema *e, fer_model *m, long k)
{
    double d = fer_ema_decay_at(e, k);
    /* 1 - d in double, then rounded: 1 - 0.999f in float would lose digits */
    float df = (float)d, one_minus = (float)(1.0 - d);
    fer_status s = blend(e, e->params, fer_model_param_arena(m, NULL), e->n_params, df, one_minus);
    if (!s) s = blend(e, e->buffers, fer_model_buffer_arena(m, NULL), e->n_buffers, df, one_minus);
    return s;
}

static fer_status swap_floats(fer_ema *e, float *a, float *b, size_t n)
{
    fer_status s = copy_floats(e->b, e->scratch, a, n);
    if (!s) s = copy_floats(e->b, a, b, n);
    if (!s) s = copy_floats(e->b, b, e->scratch, n);
    return s;
}

fer_status fer_ema_swap(fer_ema *e, fer_model *m)
{
    fer_status s = swap_floats(e, fer_model_param_arena(m, NULL), e->params, e->n_params);
    if (!s) s = swap_floats(e, fer_model_buffer_arena(m, NULL), e->buffers, e->n_buffers);
    return s;
}

size_t fer_ema_floats(const fer_ema *e)
{
    return e->n_params + e->n_buffers;
}

fer_status fer_ema_get_host(fer_ema *e, float *host)
{
    fer_status s = FER_OK;
    if (e->n_params) s = e->b->ops->download(e->b, host, e->params, e->n_params * sizeof(float));
    if (!s && e->n_buffers)
        s = e->b->ops->download(e->b, host + e->n_params, e->buffers,
                                e->n_buffers * sizeof(float));
    return s;
}

fer_status fer_ema_set_host(fer_ema *e, const float *host)
{
    fer_status s = FER_OK;
    if (e->n_params) s = e->b->ops->upload(e->b, e->params, host, e->n_params * sizeof(float));
    if (!s && e->n_buffers)
        s = e->b->ops->upload(e->b, e->buffers, host + e->n_params, e->n_buffers * sizeof(float));
    return s;
}
