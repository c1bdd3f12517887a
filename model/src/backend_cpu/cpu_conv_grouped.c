/* conv2d with groups > 1 (grouped and depthwise) on the CPU backend: a direct convolution.
 *
 * An output channel sees only the in_c/groups input channels of its group, so there is little
 * to share between channels and a GEMM would be a thin one; a depthwise layer (groups == in_c)
 * is k*k multiply-adds per output element. Each task therefore owns whole planes and walks the
 * taps with row loops over the valid output columns (no padding tests inside a row); for
 * stride 1 the row loop is contiguous and the compiler vectorises it.
 *   - forward: one task per (image, output channel);
 *   - input gradient: one task per (image, input channel), over the output channels of its group;
 *   - weight and bias gradients: one task per output channel, images in order, so the sums do
 *     not depend on the thread count (as every cpu op).
 * groups == 1 never comes here: cpu_conv.c keeps its Winograd and flat-plane paths. */
#include <string.h>

#include "../backend_ref.h"
#include "cpu_internal.h"
#include "fer/arch.h" /* FER_MAX_CONV_KERNEL */

/* Output positions o in [lo, hi] whose input position o*stride - pad + tap lies in [0, in). */
static void tap_range(int out, int in, int stride, int pad, int tap, int *lo, int *hi)
{
    int l = pad - tap <= 0 ? 0 : (pad - tap + stride - 1) / stride;
    int h = (in - 1 + pad - tap) < 0 ? -1 : (in - 1 + pad - tap) / stride;
    if (h > out - 1)
        h = out - 1;
    *lo = l;
    *hi = h; /* inclusive; hi < lo means empty */
}

/* The valid ranges of every tap row and column, computed once per call. */
typedef struct tap_ranges {
    int h_lo[FER_MAX_CONV_KERNEL], h_hi[FER_MAX_CONV_KERNEL];
    int w_lo[FER_MAX_CONV_KERNEL], w_hi[FER_MAX_CONV_KERNEL];
} tap_ranges;

static void tap_ranges_init(tap_ranges *r, const fer_conv2d_args *a)
{
    for (int t = 0; t < a->k; t++) {
        tap_range(a->out_h, a->in_h, a->stride, a->pad, t, &r->h_lo[t], &r->h_hi[t]);
        tap_range(a->out_w, a->in_w, a->stride, a->pad, t, &r->w_lo[t], &r->w_hi[t]);
    }
}

typedef struct grouped_job {
    const fer_conv2d_args *a;
    const tap_ranges *r;
    int cin_g, cout_g;
    const float *x, *w, *bias, *dy;
    float *y, *dx, *dw, *dbias;
} grouped_job;

/* y[n, oc] = bias + sum over its group's input channels and the taps */
static void fwd_plane(void *ctx, int task, int worker)
{
    (void)worker;
    const grouped_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const int n = task / a->out_c, oc = task % a->out_c, S = a->stride, K = a->k;
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const int ic0 = oc / j->cout_g * j->cin_g;
    float *yp = j->y + ((size_t)n * a->out_c + oc) * out_plane;
    const float b0 = j->bias ? j->bias[oc] : 0.0f;
    for (size_t i = 0; i < out_plane; i++)
        yp[i] = b0;
    for (int icg = 0; icg < j->cin_g; icg++) {
        const float *xp = j->x + ((size_t)n * a->in_c + ic0 + icg) * in_plane;
        const float *wp = j->w + ((size_t)oc * j->cin_g + icg) * K * K;
        for (int kh = 0; kh < K; kh++) {
            for (int kw = 0; kw < K; kw++) {
                const int w_lo = j->r->w_lo[kw], cnt = j->r->w_hi[kw] - w_lo + 1;
                if (cnt <= 0)
                    continue;
                const float wv = wp[kh * K + kw];
                for (int oh = j->r->h_lo[kh]; oh <= j->r->h_hi[kh]; oh++) {
                    const float *xs =
                        xp + (size_t)(oh * S - a->pad + kh) * a->in_w + (w_lo * S - a->pad + kw);
                    float *yd = yp + (size_t)oh * a->out_w + w_lo;
                    if (S == 1)
                        for (int q = 0; q < cnt; q++)
                            yd[q] += wv * xs[q];
                    else
                        for (int q = 0; q < cnt; q++)
                            yd[q] += wv * xs[(size_t)q * S];
                }
            }
        }
    }
}

/* dx[n, ic] = sum over the output channels of ic's group of w (tap) * dy shifted back */
static void dx_plane(void *ctx, int task, int worker)
{
    (void)worker;
    const grouped_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const int n = task / a->in_c, ic = task % a->in_c, S = a->stride, K = a->k;
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const int g = ic / j->cin_g, icg = ic % j->cin_g;
    float *dxp = j->dx + ((size_t)n * a->in_c + ic) * in_plane;
    memset(dxp, 0, in_plane * sizeof(float));
    for (int ocg = 0; ocg < j->cout_g; ocg++) {
        const int oc = g * j->cout_g + ocg;
        const float *dyp = j->dy + ((size_t)n * a->out_c + oc) * out_plane;
        const float *wp = j->w + ((size_t)oc * j->cin_g + icg) * K * K;
        for (int kh = 0; kh < K; kh++) {
            for (int kw = 0; kw < K; kw++) {
                const int w_lo = j->r->w_lo[kw], cnt = j->r->w_hi[kw] - w_lo + 1;
                if (cnt <= 0)
                    continue;
                const float wv = wp[kh * K + kw];
                for (int oh = j->r->h_lo[kh]; oh <= j->r->h_hi[kh]; oh++) {
                    float *xd = dxp + (size_t)(oh * S - a->pad + kh) * a->in_w +
                                (w_lo * S - a->pad + kw);
                    const float *dyr = dyp + (size_t)oh * a->out_w + w_lo;
                    if (S == 1)
                        for (int q = 0; q < cnt; q++)
                            xd[q] += wv * dyr[q];
                    else
                        for (int q = 0; q < cnt; q++)
                            xd[(size_t)q * S] += wv * dyr[q];
                }
            }
        }
    }
}

/* dw[oc] and dbias[oc]: per image and tap a float sum over the plane, added in double in image
 * order (the accumulation of the ref op) */
static void dw_channel(void *ctx, int oc, int worker)
{
    (void)worker;
    const grouped_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const int S = a->stride, K = a->k, KK = K * K;
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const int ic0 = oc / j->cout_g * j->cin_g;
    double acc[FER_MAX_CONV_KERNEL * FER_MAX_CONV_KERNEL];
    double bsum = 0.0;
    for (int icg = 0; j->dw && icg < j->cin_g; icg++) {
        memset(acc, 0, sizeof acc);
        for (int n = 0; n < a->n; n++) {
            const float *xp = j->x + ((size_t)n * a->in_c + ic0 + icg) * in_plane;
            const float *dyp = j->dy + ((size_t)n * a->out_c + oc) * out_plane;
            for (int kh = 0; kh < K; kh++) {
                for (int kw = 0; kw < K; kw++) {
                    const int w_lo = j->r->w_lo[kw], cnt = j->r->w_hi[kw] - w_lo + 1;
                    if (cnt <= 0)
                        continue;
                    float s = 0.0f;
                    for (int oh = j->r->h_lo[kh]; oh <= j->r->h_hi[kh]; oh++) {
                        const float *xs = xp + (size_t)(oh * S - a->pad + kh) * a->in_w +
                                          (w_lo * S - a->pad + kw);
                        const float *dyr = dyp + (size_t)oh * a->out_w + w_lo;
                        float rs = 0.0f;
                        if (S == 1)
                            for (int q = 0; q < cnt; q++)
                                rs += dyr[q] * xs[q];
                        else
                            for (int q = 0; q < cnt; q++)
                                rs += dyr[q] * xs[(size_t)q * S];
                        s += rs;
                    }
                    acc[kh * K + kw] += s;
                }
            }
        }
        float *dwp = j->dw + ((size_t)oc * j->cin_g + icg) * KK;
        for (int t = 0; t < KK; t++)
            dwp[t] = (float)acc[t];
    }
    if (j->dbias) {
        for (int n = 0; n < a->n; n++) {
            const float *dyp = j->dy + ((size_t)n * a->out_c + oc) * out_plane;
            float ps = 0.0f;
            for (size_t i = 0; i < out_plane; i++)
                ps += dyp[i];
            bsum += ps;
        }
        j->dbias[oc] = (float)bsum;
    }
}

static fer_status grouped_job_init(grouped_job *j, tap_ranges *r, const fer_conv2d_args *a)
{
    fer_status st = fer_ref_conv2d_groups_check(a);
    if (st != FER_OK)
        return st;
    if (a->k > FER_MAX_CONV_KERNEL)
        return fer_fail(FER_ERR_ARG, "cpu: conv2d kernel %d exceeds %d", a->k,
                        FER_MAX_CONV_KERNEL);
    tap_ranges_init(r, a);
    memset(j, 0, sizeof *j);
    j->a = a;
    j->r = r;
    j->cin_g = a->in_c / a->groups;
    j->cout_g = a->out_c / a->groups;
    return FER_OK;
}

fer_status cpu_conv2d_grouped_forward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                      const float *w, const float *bias, float *y)
{
    grouped_job j;
    tap_ranges r;
    fer_status st = grouped_job_init(&j, &r, a);
    if (st != FER_OK)
        return st;
    j.x = x, j.w = w, j.bias = a->has_bias ? bias : NULL, j.y = y;
    cpu_parallel(c, a->n * a->out_c, fwd_plane, &j);
    return FER_OK;
}

fer_status cpu_conv2d_grouped_backward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                       const float *w, const float *dy, float *dx, float *dw,
                                       float *dbias)
{
    grouped_job j;
    tap_ranges r;
    fer_status st = grouped_job_init(&j, &r, a);
    if (st != FER_OK)
        return st;
    j.x = x, j.w = w, j.dy = dy, j.dx = dx, j.dw = dw;
    j.dbias = a->has_bias ? dbias : NULL;
    if (dx)
        cpu_parallel(c, a->n * a->in_c, dx_plane, &j);
    if (dw || j.dbias)
        cpu_parallel(c, a->out_c, dw_channel, &j);
    return FER_OK;
}
