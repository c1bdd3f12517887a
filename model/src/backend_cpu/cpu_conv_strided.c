/* conv2d with groups == 1 that neither Winograd, the 1x1 GEMM of cpu_pointwise.c nor the flat
 * planes of cpu_conv.c (stride 1 and 2) take: stride > 2, k > 7, pad > k-1.
 *
 * Method: im2col + the backend's SGEMM (cpu_gemm.c), a chunk of images at a time. A chunk's
 * columns form the panel col[r][n*P + p], r = (ci, kh, kw) (in_c*k*k rows), p = an output
 * position (P = out_h*out_w), n = the image within the chunk; zero where the tap falls into the
 * padding. Chunks are sized so the panel stays near the cache (COL_BUDGET); a 1x1 layer's panel
 * is just the strided gather of x (one row per channel).
 *   - forward:   yt = W x col             ([out_c][n*P]), copied into NCHW y with the bias;
 *   - weight:    dw (+)= dyt x col^T      (dyt: dy of the chunk as [out_c][n*P]), chunks added
 *                in image order;
 *   - input:     dcol = W^T x dyt, then col2im: one task per (image, input channel) owns that
 *                dx plane and adds its k*k rows of dcol into it, so no two threads write the same
 *                dx element.
 * The SGEMM sums every element in a fixed order and chunks depend on the shape only, so results
 * do not depend on the thread count. The bias gradient is summed by the caller (cpu_conv.c). */
#include <string.h>

#include "cpu_internal.h"
#include "fer/arch.h" /* FER_MAX_CONV_KERNEL */

#define COL_BUDGET (512 * 1024) /* floats of im2col panel per chunk (2 MiB) */

/* Output positions o in [lo, hi] whose input position o*stride - pad + tap lies in [0, in). */
static void tap_valid(int out, int in, int stride, int pad, int tap, int *lo, int *hi)
{
    int l = pad - tap <= 0 ? 0 : (pad - tap + stride - 1) / stride;
    int h = in - 1 + pad - tap < 0 ? -1 : (in - 1 + pad - tap) / stride;
    *lo = l;
    *hi = h < out - 1 ? h : out - 1; /* inclusive; hi < lo: the tap never lands in the input */
}

typedef struct strided_job {
    const fer_conv2d_args *a;
    int kk, rows;      /* taps per channel; panel rows = in_c * kk */
    size_t plane_in, plane_out;
    size_t np;         /* panel columns: chunk images * plane_out */
    int n0, imgs;      /* the chunk */
    const float *x, *dy, *bias;
    float *y, *dx;
    float *col, *ct;   /* panel; [out_c][np] (forward output or dy of the chunk) */
    float *dcol;       /* [rows][np] input-gradient panel */
    int lo_h[FER_MAX_CONV_KERNEL], hi_h[FER_MAX_CONV_KERNEL];
    int lo_w[FER_MAX_CONV_KERNEL], hi_w[FER_MAX_CONV_KERNEL];
} strided_job;

/* Panel rows of one (input channel, kernel row): kw = 0..k-1, every image and output row. */
static void im2col_task(void *ctx, int task, int worker)
{
    (void)worker;
    const strided_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const int ci = task / a->k, kh = task % a->k, S = a->stride, ow = a->out_w;
    for (int kw = 0; kw < a->k; kw++) {
        float *dst = j->col + ((size_t)ci * j->kk + (size_t)kh * a->k + kw) * j->np;
        const int w_lo = j->lo_w[kw], w_hi = j->hi_w[kw];
        for (int n = 0; n < j->imgs; n++) {
            const float *xp = j->x + ((size_t)(j->n0 + n) * a->in_c + ci) * j->plane_in;
            for (int oh = 0; oh < a->out_h; oh++, dst += ow) {
                if (oh < j->lo_h[kh] || oh > j->hi_h[kh] || w_lo > w_hi) {
                    memset(dst, 0, (size_t)ow * sizeof(float));
                    continue;
                }
                /* the first valid column's input: no pointer before the plane is formed */
                const float *xs =
                    xp + (size_t)(oh * S - a->pad + kh) * a->in_w + (w_lo * S - a->pad + kw);
                for (int q = 0; q < w_lo; q++)
                    dst[q] = 0.0f;
                if (S == 1)
                    memcpy(dst + w_lo, xs, (size_t)(w_hi - w_lo + 1) * sizeof(float));
                else
                    for (int q = w_lo; q <= w_hi; q++)
                        dst[q] = xs[(size_t)(q - w_lo) * S];
                for (int q = w_hi + 1; q < ow; q++)
                    dst[q] = 0.0f;
            }
        }
    }
}

/* y[n0+n][oc] = ct[oc][n*P ..] + bias[oc] */
static void store_y_task(void *ctx, int oc, int worker)
{
    (void)worker;
    const strided_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const float b0 = j->bias ? j->bias[oc] : 0.0f;
    for (int n = 0; n < j->imgs; n++) {
        const float *s = j->ct + (size_t)oc * j->np + (size_t)n * j->plane_out;
        float *d = j->y + ((size_t)(j->n0 + n) * a->out_c + oc) * j->plane_out;
        for (size_t i = 0; i < j->plane_out; i++)
            d[i] = s[i] + b0;
    }
}

/* ct[oc][n*P ..] = dy[n0+n][oc] */
static void gather_dy_task(void *ctx, int oc, int worker)
{
    (void)worker;
    const strided_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    for (int n = 0; n < j->imgs; n++)
        memcpy(j->ct + (size_t)oc * j->np + (size_t)n * j->plane_out,
               j->dy + ((size_t)(j->n0 + n) * a->out_c + oc) * j->plane_out,
               j->plane_out * sizeof(float));
}

/* dx[n0+n][ci] = sum over its k*k panel rows of dcol scattered back to the input positions;
 * the task owns the plane, taps in a fixed order. */
static void col2im_task(void *ctx, int task, int worker)
{
    (void)worker;
    const strided_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const int n = task / a->in_c, ci = task % a->in_c, S = a->stride, ow = a->out_w;
    float *dxp = j->dx + ((size_t)(j->n0 + n) * a->in_c + ci) * j->plane_in;
    memset(dxp, 0, j->plane_in * sizeof(float));
    for (int kh = 0; kh < a->k; kh++) {
        for (int kw = 0; kw < a->k; kw++) {
            const int w_lo = j->lo_w[kw], cnt = j->hi_w[kw] - w_lo + 1;
            if (cnt <= 0)
                continue;
            const float *src = j->dcol + ((size_t)ci * j->kk + (size_t)kh * a->k + kw) * j->np +
                               (size_t)n * j->plane_out;
            for (int oh = j->lo_h[kh]; oh <= j->hi_h[kh]; oh++) {
                float *xd =
                    dxp + (size_t)(oh * S - a->pad + kh) * a->in_w + (w_lo * S - a->pad + kw);
                const float *sr = src + (size_t)oh * ow + w_lo;
                if (S == 1)
                    for (int q = 0; q < cnt; q++)
                        xd[q] += sr[q];
                else
                    for (int q = 0; q < cnt; q++)
                        xd[(size_t)q * S] += sr[q];
            }
        }
    }
}

/* Shape of the job and the images per chunk (from the shape only, never the thread count). */
static int strided_init(strided_job *j, const fer_conv2d_args *a)
{
    memset(j, 0, sizeof *j);
    j->a = a;
    j->kk = a->k * a->k;
    j->rows = a->in_c * j->kk;
    j->plane_in = (size_t)a->in_h * a->in_w;
    j->plane_out = (size_t)a->out_h * a->out_w;
    for (int t = 0; t < a->k; t++) {
        tap_valid(a->out_h, a->in_h, a->stride, a->pad, t, &j->lo_h[t], &j->hi_h[t]);
        tap_valid(a->out_w, a->in_w, a->stride, a->pad, t, &j->lo_w[t], &j->hi_w[t]);
    }
    size_t per_img = (size_t)j->rows * j->plane_out;
    size_t imgs = per_img ? COL_BUDGET / per_img : 1;
    if (imgs < 1)
        imgs = 1;
    if (imgs > (size_t)a->n)
        imgs = (size_t)a->n;
    return (int)imgs;
}

static void set_chunk(strided_job *j, int n0, int chunk)
{
    j->n0 = n0;
    j->imgs = j->a->n - n0 < chunk ? j->a->n - n0 : chunk;
    j->np = (size_t)j->imgs * j->plane_out;
}

int cpu_conv_strided_supported(const fer_conv2d_args *a)
{
    return a->groups == 1 && a->k >= 1 && a->k <= FER_MAX_CONV_KERNEL && a->stride >= 1 &&
           a->pad >= 0 && a->n >= 1 && a->out_h >= 1 && a->out_w >= 1;
}

fer_status cpu_conv_strided_forward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                    const float *w, const float *bias, float *y)
{
    strided_job j;
    int chunk = strided_init(&j, a);
    size_t np_max = (size_t)chunk * j.plane_out;
    float *ws = cpu_workspace(c, ((size_t)j.rows + (size_t)a->out_c) * np_max);
    if (!ws)
        return FER_ERR_NOMEM;
    j.col = ws;
    j.ct = ws + (size_t)j.rows * np_max;
    j.x = x;
    j.bias = bias;
    j.y = y;
    for (int n0 = 0; n0 < a->n; n0 += chunk) {
        set_chunk(&j, n0, chunk);
        cpu_parallel(c, a->in_c * a->k, im2col_task, &j);
        /* ct[out_c][np] = W[out_c][rows] x col[rows][np] */
        fer_status st = cpu_sgemm(c, 0, 0, a->out_c, (int)j.np, j.rows, w, (size_t)j.rows, j.col,
                                  j.np, j.ct, j.np, 0, 0);
        if (st != FER_OK)
            return st;
        cpu_parallel(c, a->out_c, store_y_task, &j);
    }
    return FER_OK;
}

fer_status cpu_conv_strided_backward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                     const float *w, const float *dy, float *dx, float *dw)
{
    if (!dx && !dw)
        return FER_OK;
    strided_job j;
    int chunk = strided_init(&j, a);
    size_t np_max = (size_t)chunk * j.plane_out;
    size_t col_f = dw ? (size_t)j.rows * np_max : 0, dcol_f = dx ? (size_t)j.rows * np_max : 0;
    float *ws = cpu_workspace(c, col_f + (size_t)a->out_c * np_max + dcol_f);
    if (!ws)
        return FER_ERR_NOMEM;
    j.col = ws;
    j.ct = ws + col_f;
    j.dcol = j.ct + (size_t)a->out_c * np_max;
    j.x = x;
    j.dy = dy;
    j.dx = dx;
    for (int n0 = 0; n0 < a->n; n0 += chunk) {
        set_chunk(&j, n0, chunk);
        cpu_parallel(c, a->out_c, gather_dy_task, &j);
        fer_status st = FER_OK;
        if (dw) {
            cpu_parallel(c, a->in_c * a->k, im2col_task, &j);
            /* dw[out_c][rows] (+)= dyt[out_c][np] x col[rows][np]^T, chunks in image order */
            st = cpu_sgemm(c, 0, 1, a->out_c, j.rows, (int)j.np, j.ct, j.np, j.col, j.np, dw,
                           (size_t)j.rows, n0 > 0, 0);
        }
        if (st == FER_OK && dx) {
            /* dcol[rows][np] = W^T x dyt */
            st = cpu_sgemm(c, 1, 0, j.rows, (int)j.np, a->out_c, w, (size_t)j.rows, j.ct, j.np,
                           j.dcol, j.np, 0, 0);
            if (st == FER_OK)
                cpu_parallel(c, j.imgs * a->in_c, col2im_task, &j);
        }
        if (st != FER_OK)
            return st;
    }
    return FER_OK;
}
