/* Batch norm, max pooling and linear layers of the CPU backend, threaded over channels, planes
 * or GEMM blocks. Per-element formulas come from the shared headers (layer_math.h) so the
 * backends agree; reductions use 8 float lanes per plane and double across planes, and every
 * reduction has a fixed order (results do not depend on the thread count). */
#include <math.h>
#include <string.h>

#include "../backend_ref.h"
#include "cpu_internal.h"
#include "fer/layer_math.h"
#include "fer/pool_math.h"

/* ---- batch norm ------------------------------------------------------------------------- */

typedef struct bn_job {
    const cpu_kernels *k;
    const fer_bn_args *a;
    const float *x, *dy;
    const float *gamma, *beta;
    float *mean, *invstd;   /* per channel (statistics in, or out) */
    float *y;               /* y or dx */
    float *running_mean, *running_var;
    float *save_mean, *save_invstd;
    float *dgamma, *dbeta;
    float *scale, *shift;   /* per channel: y = x*scale + shift */
    float *mdy, *mdyx;      /* backward: means of dy and dy*xhat */
    int relu;               /* fer_bn_args.relu: y = relu(BN(x)); backward gates dy */
    float *plane_scratch;   /* fer_bn_args.pool: a plane per worker, pool_plane_floats apart */
    size_t pool_plane_floats;
} bn_job;

/* The per-channel map y = x * scale + shift of a batch norm: forward's output pass and the
 * fused ReLU's gate in backward both take it from here, so they agree to the bit. */
static void bn_scale_shift(float mean, float invstd, const float *gamma, const float *beta,
                           int c, float *scale, float *shift)
{
    float g = gamma ? gamma[c] : 1.0f, be = beta ? beta[c] : 0.0f;
    *scale = invstd * g;
    *shift = be - mean * invstd * g;
}

static void bn_stats_task(void *ctx, int c, int worker)
{
    (void)worker;
    const bn_job *j = ctx;
    const fer_bn_args *a = j->a;
    size_t hw = (size_t)a->hw, count = (size_t)a->n * hw;
    float pivot = j->x[(size_t)c * hw];
    double s[2] = {0.0, 0.0};
    for (int n = 0; n < a->n; n++)
        j->k->shifted_sums(hw, j->x + ((size_t)n * a->c + c) * hw, pivot, s);
    double m1 = s[0] / (double)count;
    double var = s[1] / (double)count - m1 * m1;
    if (var < 0.0)
        var = 0.0;
    float mean = (float)((double)pivot + m1);
    float invstd = (float)(1.0 / sqrt(var + (double)a->eps));
    if (j->save_mean)
        j->save_mean[c] = mean;
    if (j->save_invstd)
        j->save_invstd[c] = invstd;
    j->running_mean[c] = fer_bn_running(j->running_mean[c], mean, a->momentum);
    j->running_var[c] =
        fer_bn_running(j->running_var[c], fer_bn_unbiased((float)var, (double)count), a->momentum);
    bn_scale_shift(mean, invstd, j->gamma, j->beta, c, &j->scale[c], &j->shift[c]);
}

static void bn_apply_task(void *ctx, int plane, int worker)
{
    const bn_job *j = ctx;
    size_t hw = (size_t)j->a->hw;
    int c = plane % j->a->c;
    const fer_pool_args *pa = j->a->pool;
    if (!pa) {
        j->k->affine(hw, j->x + (size_t)plane * hw, j->scale[c], j->shift[c], j->relu,
                     j->y + (size_t)plane * hw);
        return;
    }
    /* the plane into cache, then the same 2x2 pool maxpool_forward runs on it */
    float *z = j->plane_scratch + (size_t)worker * j->pool_plane_floats;
    size_t out_plane = (size_t)pa->out_h * pa->out_w;
    j->k->affine(hw, j->x + (size_t)plane * hw, j->scale[c], j->shift[c], j->relu, z);
    j->k->maxpool2x2(z, pa->in_w, pa->out_h, pa->out_w, j->a->pool_y + (size_t)plane * out_plane,
                     j->a->pool_argmax ? j->a->pool_argmax + (size_t)plane * out_plane : NULL);
}

fer_status cpu_batchnorm_forward(fer_backend *b, const fer_bn_args *a, int training,
                                 const float *x, const float *gamma, const float *beta,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd)
{
    cpu_ctx *cx = cpu_of(b);
    const fer_pool_args *pa = a->pool;
    if (pa && (pa->k != 2 || pa->stride != 2 || pa->n != a->n || pa->c != a->c ||
               (size_t)pa->in_h * pa->in_w != (size_t)a->hw || pa->out_h != pa->in_h / 2 ||
               pa->out_w != pa->in_w / 2 || !a->pool_y))
        return fer_fail(FER_ERR_ARG, "cpu backend: batch norm: the fused pool is not a 2x2 "
                        "stride-2 pool of its %d x %d output planes", a->c, a->hw);
    /* per worker a plane, on its own cache lines */
    size_t plane_floats = pa ? ((size_t)a->hw + 15) / 16 * 16 : 0;
    float *ws = cpu_workspace(cx, 2 * (size_t)a->c + 16 + plane_floats * (size_t)cx->threads);
    if (!ws)
        return FER_ERR_NOMEM;
    bn_job j = {0};
    j.plane_scratch = ws + ((2 * (size_t)a->c + 15) / 16 * 16);
    j.pool_plane_floats = plane_floats;
    j.k = cx->k;
    j.a = a;
    j.x = x;
    j.gamma = gamma;
    j.beta = beta;
    j.y = y;
    j.running_mean = running_mean;
    j.running_var = running_var;
    j.save_mean = save_mean;
    j.save_invstd = save_invstd;
    j.scale = ws;
    j.shift = ws + a->c;
    j.relu = a->relu;
    if (training) {
        cpu_parallel(cx, a->c, bn_stats_task, &j);
    } else {
        for (int c = 0; c < a->c; c++)
            bn_scale_shift(running_mean[c], 1.0f / sqrtf(running_var[c] + a->eps), gamma, beta,
                           c, &j.scale[c], &j.shift[c]);
    }
    cpu_parallel(cx, a->n * a->c, bn_apply_task, &j);
    return FER_OK;
}

/* channel c's ReLU gate in *g, or NULL when the batch norm has no fused ReLU */
static const cpu_relu_gate *bn_gate(const bn_job *j, int c, cpu_relu_gate *g)
{
    if (!j->relu)
        return NULL;
    g->scale = j->scale[c];
    g->shift = j->shift[c];
    return g;
}

static void bn_grad_stats_task(void *ctx, int c, int worker)
{
    (void)worker;
    const bn_job *j = ctx;
    const fer_bn_args *a = j->a;
    size_t hw = (size_t)a->hw, count = (size_t)a->n * hw;
    float mean = j->mean[c], invstd = j->invstd[c];
    cpu_relu_gate g;
    const cpu_relu_gate *gate = bn_gate(j, c, &g);
    double s[2] = {0.0, 0.0};
    for (int n = 0; n < a->n; n++) {
        size_t off = ((size_t)n * a->c + c) * hw;
        j->k->grad_sums(hw, j->x + off, j->dy + off, mean, gate, s);
    }
    double sdy = s[0], sdyx = s[1] * invstd;
    if (j->dgamma)
        j->dgamma[c] = (float)sdyx;
    if (j->dbeta)
        j->dbeta[c] = (float)sdy;
    j->mdy[c] = (float)(sdy / (double)count);
    j->mdyx[c] = (float)(sdyx / (double)count);
}

static void bn_grad_apply_task(void *ctx, int plane, int worker)
{
    (void)worker;
    const bn_job *j = ctx;
    size_t hw = (size_t)j->a->hw;
    int c = plane % j->a->c;
    float invstd = j->invstd[c], gi = (j->gamma ? j->gamma[c] : 1.0f) * invstd;
    size_t off = (size_t)plane * hw;
    cpu_relu_gate g;
    j->k->bn_bwd_apply(hw, j->x + off, j->dy + off, j->mean[c], invstd, gi, j->mdy[c], j->mdyx[c],
                       bn_gate(j, c, &g), j->y + off);
}

fer_status cpu_batchnorm_backward(fer_backend *b, const fer_bn_args *a, const float *x,
                                  const float *gamma, const float *beta,
                                  const float *save_mean, const float *save_invstd,
                                  const float *dy, float *dx, float *dgamma, float *dbeta)
{
    cpu_ctx *cx = cpu_of(b);
    float *ws = cpu_workspace(cx, 4 * (size_t)a->c);
    if (!ws)
        return FER_ERR_NOMEM;
    bn_job j = {0};
    j.k = cx->k;
    j.a = a;
    j.x = x;
    j.dy = dy;
    j.gamma = gamma;
    j.mean = (float *)save_mean;
    j.invstd = (float *)save_invstd;
    j.y = dx;
    j.dgamma = dgamma;
    j.dbeta = dbeta;
    j.mdy = ws;
    j.mdyx = ws + a->c;
    j.relu = a->relu;
    if (a->relu) { /* the gate: forward's output map, from the same statistics */
        j.scale = ws + 2 * (size_t)a->c;
        j.shift = ws + 3 * (size_t)a->c;
        for (int c = 0; c < a->c; c++)
            bn_scale_shift(save_mean[c], save_invstd[c], gamma, beta, c, &j.scale[c],
                           &j.shift[c]);
    }
    cpu_parallel(cx, a->c, bn_grad_stats_task, &j);
    if (dx)
        cpu_parallel(cx, a->n * a->c, bn_grad_apply_task, &j);
    return FER_OK;
}

/* ---- max pooling ------------------------------------------------------------------------ */

typedef struct pool_job {
    const cpu_kernels *k;
    const fer_pool_args *a;
    const float *x, *dy;
    float *y;
    int32_t *argmax;
    const int32_t *argmax_in;
    float *dx;
    int planes_per_task;
} pool_job;

/* One plane with the reference rule: first maximum in window order wins, NaN propagates. */
static void pool_plane(const fer_pool_args *a, const float *xp, float *yp, int32_t *ap)
{
    for (int oh = 0; oh < a->out_h; oh++) {
        for (int ow = 0; ow < a->out_w; ow++) {
            int best = (oh * a->stride) * a->in_w + ow * a->stride;
            float bv = xp[best];
            for (int kh = 0; kh < a->k && !isnan(bv); kh++) {
                const float *row = xp + (oh * a->stride + kh) * a->in_w + ow * a->stride;
                for (int kw = 0; kw < a->k; kw++) {
                    float v = row[kw];
                    if (v > bv || isnan(v)) {
                        bv = v;
                        best = (oh * a->stride + kh) * a->in_w + ow * a->stride + kw;
                        if (isnan(v))
                            break;
                    }
                }
            }
            yp[oh * a->out_w + ow] = bv;
            if (ap)
                ap[oh * a->out_w + ow] = best;
        }
    }
}

static void pool_fwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const pool_job *j = ctx;
    const fer_pool_args *a = j->a;
    size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    size_t p0 = (size_t)task * j->planes_per_task, p1 = p0 + j->planes_per_task;
    size_t planes = (size_t)a->n * a->c;
    if (p1 > planes)
        p1 = planes;
    int fast = a->k == 2 && a->stride == 2;
    for (size_t p = p0; p < p1; p++) {
        int32_t *ap = j->argmax ? j->argmax + p * out_plane : NULL;
        if (fast)
            j->k->maxpool2x2(j->x + p * in_plane, a->in_w, a->out_h, a->out_w, j->y + p * out_plane,
                             ap);
        else
            pool_plane(a, j->x + p * in_plane, j->y + p * out_plane, ap);
    }
}

/* 2x2 stride 2: the windows do not overlap, so every dx element is written once, dy where
 * the window's argmax points and 0 elsewhere (the rows and column no window covers too), with
 * no zero-fill pass and no scattered adds. dy + 0.0f is what the general path's 0 + dy gives
 * (-0 becomes +0), so the bits are the same. */
static void pool2x2_bwd_plane(const fer_pool_args *a, const int32_t *am, const float *dy,
                              float *dx)
{
    const int iw = a->in_w, ow = a->out_w;
    for (int oh = 0; oh < a->out_h; oh++) {
        float *r0 = dx + (size_t)(2 * oh) * iw, *r1 = r0 + iw;
        const int32_t *amr = am + (size_t)oh * ow;
        const float *dyr = dy + (size_t)oh * ow;
        for (int q = 0; q < ow; q++) {
            int32_t base = (2 * oh) * iw + 2 * q, m = amr[q];
            float g = dyr[q] + 0.0f;
            r0[2 * q] = m == base ? g : 0.0f;
            r0[2 * q + 1] = m == base + 1 ? g : 0.0f;
            r1[2 * q] = m == base + iw ? g : 0.0f;
            r1[2 * q + 1] = m == base + iw + 1 ? g : 0.0f;
        }
        for (int c = 2 * ow; c < iw; c++) /* the column no window covers */
            r0[c] = r1[c] = 0.0f;
    }
    for (int r = 2 * a->out_h; r < a->in_h; r++) /* the row no window covers */
        memset(dx + (size_t)r * iw, 0, (size_t)iw * sizeof(float));
}

static void pool_bwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const pool_job *j = ctx;
    const fer_pool_args *a = j->a;
    size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    size_t p0 = (size_t)task * j->planes_per_task, p1 = p0 + j->planes_per_task;
    size_t planes = (size_t)a->n * a->c;
    if (p1 > planes)
        p1 = planes;
    for (size_t p = p0; p < p1; p++) {
        float *dx = j->dx + p * in_plane;
        const float *dy = j->dy + p * out_plane;
        const int32_t *am = j->argmax_in + p * out_plane;
        if (a->k == 2 && a->stride == 2) {
            pool2x2_bwd_plane(a, am, dy, dx);
            continue;
        }
        memset(dx, 0, in_plane * sizeof(float));
        for (size_t o = 0; o < out_plane; o++)
            dx[am[o]] += dy[o];
    }
}

static int planes_per_task(cpu_ctx *cx, size_t planes, size_t plane_floats)
{
    size_t by_size = (32768 + plane_floats - 1) / plane_floats; /* ~128 KiB of input per task */
    size_t by_balance = planes / (size_t)(8 * cx->threads);
    size_t per = by_size < by_balance ? by_size : by_balance;
    return per < 1 ? 1 : (int)per;
}

fer_status cpu_maxpool_forward(fer_backend *b, const fer_pool_args *a, const float *x, float *y,
                               int32_t *argmax)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c;
    pool_job j = {cx->k, a, x, NULL, y, argmax, NULL, NULL,
                  planes_per_task(cx, planes, (size_t)a->in_h * a->in_w)};
    cpu_parallel(cx, (int)((planes + j.planes_per_task - 1) / j.planes_per_task), pool_fwd_task,
                 &j);
    return FER_OK;
}

fer_status cpu_maxpool_backward(fer_backend *b, const fer_pool_args *a, const int32_t *argmax,
                                const float *dy, float *dx)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c;
    pool_job j = {cx->k, a, NULL, dy, NULL, NULL, argmax, dx,
                  planes_per_task(cx, planes, (size_t)a->in_h * a->in_w)};
    cpu_parallel(cx, (int)((planes + j.planes_per_task - 1) / j.planes_per_task), pool_bwd_task,
                 &j);
    return FER_OK;
}

/* ---- average pooling: planes over the pool, each element through pool_math.h ------------- */

typedef struct avgpool_job {
    const fer_avgpool_args *a;
    const float *src; /* x (forward) or dy (backward) */
    float *dst;       /* y or dx */
    int backward;     /* dst is the input plane, each element gathered from dy's windows */
    int planes_per_task;
} avgpool_job;

static void avgpool_task(void *ctx, int task, int worker)
{
    (void)worker;
    const avgpool_job *j = ctx;
    const fer_avgpool_geom *g = &j->a->g;
    size_t in_plane = (size_t)g->in_h * g->in_w, out_plane = (size_t)g->out_h * g->out_w;
    size_t src_plane = j->backward ? out_plane : in_plane;
    size_t dst_plane = j->backward ? in_plane : out_plane;
    int rows = j->backward ? g->in_h : g->out_h, cols = j->backward ? g->in_w : g->out_w;
    size_t p0 = (size_t)task * j->planes_per_task, p1 = p0 + j->planes_per_task;
    size_t planes = (size_t)j->a->n * j->a->c;
    for (size_t p = p0; p < p1 && p < planes; p++) {
        const float *src = j->src + p * src_plane;
        float *dst = j->dst + p * dst_plane;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                dst[(size_t)r * cols + c] = j->backward ? fer_avgpool_backward_at(g, src, r, c)
                                                        : fer_avgpool_at(g, src, r, c);
    }
}

static fer_status avgpool_run(fer_backend *b, const fer_avgpool_args *a, const float *src,
                              float *dst, int backward)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c;
    avgpool_job j = {a, src, dst, backward,
                     planes_per_task(cx, planes, (size_t)a->g.in_h * a->g.in_w)};
    cpu_parallel(cx, (int)((planes + j.planes_per_task - 1) / j.planes_per_task), avgpool_task,
                 &j);
    return FER_OK;
}

fer_status cpu_avgpool_forward(fer_backend *b, const fer_avgpool_args *a, const float *x,
                               float *y)
{
    return avgpool_run(b, a, x, y, 0);
}

fer_status cpu_avgpool_backward(fer_backend *b, const fer_avgpool_args *a, const float *dy,
                                float *dx)
{
    return avgpool_run(b, a, dy, dx, 1);
}

/* ---- linear ----------------------------------------------------------------------------- */

fer_status cpu_linear_forward(fer_backend *b, const fer_linear_args *a, const float *x,
                              const float *w, const float *bias, float *y)
{
    cpu_ctx *cx = cpu_of(b);
    int has_bias = a->has_bias && bias;
    if (has_bias)
        for (int n = 0; n < a->n; n++)
            memcpy(y + (size_t)n * a->out, bias, (size_t)a->out * sizeof(float));
    return cpu_sgemm(cx, 0, 1, a->n, a->out, a->in, x, (size_t)a->in, w, (size_t)a->in, y,
                     (size_t)a->out, has_bias, 1);
}

fer_status cpu_linear_backward(fer_backend *b, const fer_linear_args *a, const float *x,
                               const float *w, const float *dy, float *dx, float *dw,
                               float *dbias)
{
    cpu_ctx *cx = cpu_of(b);
    if (dx) {
        fer_status st = cpu_sgemm(cx, 0, 0, a->n, a->in, a->out, dy, (size_t)a->out, w,
                                  (size_t)a->in, dx, (size_t)a->in, 0, 1);
        if (st != FER_OK)
            return st;
    }
    if (dw) {
        fer_status st = cpu_sgemm(cx, 1, 0, a->out, a->in, a->n, dy, (size_t)a->out, x,
                                  (size_t)a->in, dw, (size_t)a->in, 0, 0);
        if (st != FER_OK)
            return st;
    }
    if (a->has_bias && dbias) {
        for (int o = 0; o < a->out; o++) {
            double s = 0.0;
            for (int n = 0; n < a->n; n++)
                s += dy[(size_t)n * a->out + o];
            dbias[o] = (float)s;
        }
    }
    return FER_OK;
}
