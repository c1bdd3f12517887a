/* Element-wise ops of the CPU backend (ReLU, dropout, optimiser step, norms), split into
 * fixed-size chunks over the pool. ReLU runs the ISA kernels (same semantics as fer_relu, NaN
 * and -0 included); dropout and the optimiser use the shared FER_HD code, so all of them equal
 * the reference backend bit for bit. Reductions sum chunk partials in order. */
#include <string.h>

#include "cpu_internal.h"
#include "fer/activation_math.h"
#include "fer/dropout_math.h"
#include "fer/optim_math.h"

#define CHUNK 16384 /* elements per task */

typedef struct elt_job {
    const cpu_kernels *k;
    size_t n;
    const float *x, *y, *dy;
    float *out;
    float p, scale;
    uint64_t seed, first; /* dropout: mask element of x[0] */
    fer_activation act; /* activation kind; its parameter is in p */
    const fer_optim_coeffs *coef;
    float *param, *m, *v;
    const float *grad;
    double *partial;
    const char *src_bytes; /* copy */
    char *dst_bytes;
} elt_job;

static int n_chunks(size_t n)
{
    return (int)((n + CHUNK - 1) / CHUNK);
}

static void chunk_range(const elt_job *j, int task, size_t *a, size_t *b)
{
    *a = (size_t)task * CHUNK;
    *b = *a + CHUNK < j->n ? *a + CHUNK : j->n;
}

static void relu_fwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    j->k->relu_fwd(b - a, j->x + a, j->out + a);
}

fer_status cpu_relu_forward(fer_backend *b, size_t n, const float *x, float *y)
{
    elt_job j = {.k = cpu_of(b)->k, .n = n, .x = x, .out = y};
    cpu_parallel(cpu_of(b), n_chunks(n), relu_fwd_task, &j);
    return FER_OK;
}

static void relu_bwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    j->k->relu_bwd(b - a, j->y + a, j->dy + a, j->out + a);
}

fer_status cpu_relu_backward(fer_backend *b, size_t n, const float *y, const float *dy,
                             float *dx)
{
    elt_job j = {.k = cpu_of(b)->k, .n = n, .y = y, .dy = dy, .out = dx};
    cpu_parallel(cpu_of(b), n_chunks(n), relu_bwd_task, &j);
    return FER_OK;
}

static void dropout_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    for (size_t i = a; i < b; i++)
        j->out[i] = fer_dropout_apply(j->seed, j->first + i, j->p, j->scale, j->x[i]);
}

fer_status cpu_dropout_forward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                               const float *x, float *y)
{
    elt_job j = {.n = n, .x = x, .out = y, .p = p, .scale = fer_dropout_scale(p), .seed = seed,
                 .first = first};
    cpu_parallel(cpu_of(b), n_chunks(n), dropout_task, &j);
    return FER_OK;
}

fer_status cpu_dropout_backward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                                const float *dy, float *dx)
{
    return cpu_dropout_forward(b, n, p, seed, first, dy, dx);
}

/* One loop per kind with the kind fixed, so each is a straight loop over one FER_HD function
 * that the compiler vectorises (sigmoid's expf stays a call). */
#define ACT_LOOP(expr)                                                                         \
    for (size_t i = a; i < b; i++)                                                             \
        j->out[i] = (expr);

static void act_fwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    const float *restrict x = j->x;
    const float slope = j->p;
    switch (j->act) {
    case FER_ACT_LEAKY_RELU: ACT_LOOP(fer_leaky_relu(x[i], slope)) break;
    case FER_ACT_RELU6: ACT_LOOP(fer_relu6(x[i])) break;
    case FER_ACT_HARDSWISH: ACT_LOOP(fer_hardswish(x[i])) break;
    case FER_ACT_SIGMOID: ACT_LOOP(fer_sigmoid(x[i])) break;
    }
}

static void act_bwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    const float *x = j->x, *dy = j->dy; /* out may be dy: element i reads before it writes */
    const float slope = j->p;
    switch (j->act) {
    case FER_ACT_LEAKY_RELU: ACT_LOOP(fer_leaky_relu_backward(x[i], slope, dy[i])) break;
    case FER_ACT_RELU6: ACT_LOOP(fer_relu6_backward(x[i], dy[i])) break;
    case FER_ACT_HARDSWISH: ACT_LOOP(fer_hardswish_backward(x[i], dy[i])) break;
    case FER_ACT_SIGMOID: ACT_LOOP(fer_sigmoid_backward(x[i], dy[i])) break;
    }
}
#undef ACT_LOOP

fer_status cpu_activation_forward(fer_backend *b, fer_activation kind, float param, size_t n,
                                  const float *x, float *y)
{
    elt_job j = {.n = n, .x = x, .out = y, .p = param, .act = kind};
    cpu_parallel(cpu_of(b), n_chunks(n), act_fwd_task, &j);
    return FER_OK;
}

fer_status cpu_activation_backward(fer_backend *b, fer_activation kind, float param, size_t n,
                                   const float *x, const float *dy, float *dx)
{
    elt_job j = {.n = n, .x = x, .dy = dy, .out = dx, .p = param, .act = kind};
    cpu_parallel(cpu_of(b), n_chunks(n), act_bwd_task, &j);
    return FER_OK;
}

static void optim_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    float dm = 0.0f, dv = 0.0f;
    for (size_t i = a; i < b; i++) {
        float *mi = j->m ? &j->m[i] : &dm, *vi = j->v ? &j->v[i] : &dv;
        fer_optim_update(j->coef, &j->param[i], j->grad[i], mi, vi);
    }
}

fer_status cpu_optimizer_step(fer_backend *b, const fer_optim_args *a, size_t n, float *param,
                              const float *grad, float *m, float *v)
{
    fer_optim_coeffs k = fer_optim_make_coeffs(a);
    elt_job j = {.n = n, .coef = &k, .param = param, .grad = grad, .m = m, .v = v};
    cpu_parallel(cpu_of(b), n_chunks(n), optim_task, &j);
    return FER_OK;
}

static void sumsq_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    double s = 0.0;
    for (size_t i = a; i < b; i++)
        s += (double)j->x[i] * j->x[i];
    j->partial[task] = s;
}

fer_status cpu_sum_squares(fer_backend *b, size_t n, const float *x, double *out_host)
{
    cpu_ctx *cx = cpu_of(b);
    int tasks = n_chunks(n);
    /* partials in the op workspace: doubles, 2 floats each */
    double *partial = (double *)(void *)cpu_workspace(cx, 2 * (size_t)(tasks > 0 ? tasks : 1));
    if (!partial)
        return FER_ERR_NOMEM;
    elt_job j = {.n = n, .x = x, .partial = partial};
    cpu_parallel(cx, tasks, sumsq_task, &j);
    double s = 0.0;
    for (int t = 0; t < tasks; t++)
        s += partial[t];
    *out_host = s;
    return FER_OK;
}

static void scale_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    for (size_t i = a; i < b; i++)
        j->out[i] *= j->scale;
}

fer_status cpu_scale(fer_backend *b, size_t n, float *x, float alpha)
{
    elt_job j = {.n = n, .out = x, .scale = alpha};
    cpu_parallel(cpu_of(b), n_chunks(n), scale_task, &j);
    return FER_OK;
}

static void fill_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx;
    size_t a, b;
    chunk_range(j, task, &a, &b);
    for (size_t i = a; i < b; i++)
        j->out[i] = j->scale;
}

fer_status cpu_fill(fer_backend *b, float *dst, float value, size_t n)
{
    elt_job j = {.n = n, .out = dst, .scale = value};
    cpu_parallel(cpu_of(b), n_chunks(n), fill_task, &j);
    return FER_OK;
}

static void copy_task(void *ctx, int task, int worker)
{
    (void)worker;
    const elt_job *j = ctx; /* n counts floats; a byte tail is handled by the caller */
    size_t a, b;
    chunk_range(j, task, &a, &b);
    memcpy(j->dst_bytes + a * sizeof(float), j->src_bytes + a * sizeof(float),
           (b - a) * sizeof(float));
}

fer_status cpu_copy(fer_backend *b, void *dst, const void *src, size_t bytes)
{
    if (!bytes || dst == src)
        return FER_OK;
    const char *s = src;
    char *d = dst;
    if ((s < d + bytes && d < s + bytes) || bytes < 4 * CHUNK * sizeof(float)) {
        memmove(dst, src, bytes); /* overlapping or small: one thread */
        return FER_OK;
    }
    size_t floats = bytes / sizeof(float);
    elt_job j = {.n = floats, .src_bytes = s, .dst_bytes = d};
    cpu_parallel(cpu_of(b), n_chunks(floats), copy_task, &j);
    memcpy(d + floats * sizeof(float), s + floats * sizeof(float), bytes - floats * sizeof(float));
    return FER_OK;
}
