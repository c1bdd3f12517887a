/* conv2d with groups > 1 (grouped and depthwise) on the CPU backend.
 *
 * Groups of at least SLICE_MIN_CHANNELS input channels are dense convolutions of their own: the
 * group's channels of x (and dy) are copied into contiguous NCHW buffers and the groups == 1
 * machinery of cpu_conv.c (Winograd, flat planes) runs on them, group after group; the group's
 * weights, bias and their gradients are already contiguous ([out, in/groups, k, k] rows of its
 * output channels).
 *
 * Thinner groups, depthwise layers (groups == in_c) above all, have little to share between
 * channels (k*k multiply-adds per output element), so they take a direct convolution. Each task
 * owns whole planes and walks the taps with row loops over the valid output columns (no padding
 * tests inside a row); for stride 1 the row loop is contiguous and the compiler vectorises it.
 *   - forward: one task per (image, output channel);
 *   - input gradient: one task per (image, input channel), over the output channels of its group;
 *   - weight and bias gradients: one task per output channel, images in order, so the sums do
 *     not depend on the thread count (as every cpu op).
 * Depthwise 3x3 and 5x5 layers at stride 1 and 2 (pad <= k - 1) take the vectorised kernels of
 * cpu_depthwise.c instead (the input gradient with a channel multiplier > 1 stays here).
 * groups == 1 never comes here: cpu_conv.c keeps its Winograd and flat-plane paths. */
#include <stdlib.h>
#include <string.h>

#include "../backend_ref.h"
#include "cpu_depthwise.h"
#include "cpu_internal.h"
#include "fer/arch.h" /* FER_MAX_CONV_KERNEL */

#define SLICE_MIN_CHANNELS 4 /* input channels per group from which the dense path pays */

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

/* ---- dense groups: channel slices through the groups == 1 path ------------------------- */

/* The group's own dense convolution: its channels only, groups 1. */
static fer_conv2d_args group_args(const fer_conv2d_args *a)
{
    fer_conv2d_args s = *a;
    s.in_c = a->in_c / a->groups;
    s.out_c = a->out_c / a->groups;
    s.groups = 1;
    return s;
}

/* slice[i] = full[i, c0 .. c0 + cs) for every image i */
static void gather_slice(float *slice, const float *full, int n, int c_full, int c0, int cs,
                         size_t plane)
{
    for (int i = 0; i < n; i++)
        memcpy(slice + (size_t)i * cs * plane, full + ((size_t)i * c_full + c0) * plane,
               (size_t)cs * plane * sizeof(float));
}

/* full[i, c0 .. c0 + cs) = slice[i] for every image i */
static void scatter_slice(const float *slice, float *full, int n, int c_full, int c0, int cs,
                          size_t plane)
{
    for (int i = 0; i < n; i++)
        memcpy(full + ((size_t)i * c_full + c0) * plane, slice + (size_t)i * cs * plane,
               (size_t)cs * plane * sizeof(float));
}

static fer_status sliced_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                 const float *w, const float *bias, float *y)
{
    const fer_conv2d_args s = group_args(a);
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const size_t kk = (size_t)a->k * a->k;
    float *xs = malloc((size_t)a->n * s.in_c * in_plane * sizeof(float));
    float *ys = malloc((size_t)a->n * s.out_c * out_plane * sizeof(float));
    fer_status st = xs && ys ? FER_OK : fer_fail(FER_ERR_NOMEM, "cpu: conv2d group buffers");
    for (int g = 0; st == FER_OK && g < a->groups; g++) {
        gather_slice(xs, x, a->n, a->in_c, g * s.in_c, s.in_c, in_plane);
        st = cpu_conv2d_forward(b, &s, xs, w + (size_t)g * s.out_c * s.in_c * kk,
                                a->has_bias && bias ? bias + (size_t)g * s.out_c : NULL, ys);
        if (st == FER_OK)
            scatter_slice(ys, y, a->n, a->out_c, g * s.out_c, s.out_c, out_plane);
    }
    free(xs);
    free(ys);
    return st;
}

static fer_status sliced_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *dbias)
{
    const fer_conv2d_args s = group_args(a);
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const size_t kk = (size_t)a->k * a->k, x_floats = (size_t)a->n * s.in_c * in_plane;
    float *xs = malloc(x_floats * sizeof(float));
    float *dys = malloc((size_t)a->n * s.out_c * out_plane * sizeof(float));
    float *dxs = dx ? malloc(x_floats * sizeof(float)) : NULL;
    fer_status st = xs && dys && (dxs || !dx) ? FER_OK
                                              : fer_fail(FER_ERR_NOMEM, "cpu: conv2d group buffers");
    for (int g = 0; st == FER_OK && g < a->groups; g++) {
        size_t w0 = (size_t)g * s.out_c * s.in_c * kk;
        gather_slice(xs, x, a->n, a->in_c, g * s.in_c, s.in_c, in_plane);
        gather_slice(dys, dy, a->n, a->out_c, g * s.out_c, s.out_c, out_plane);
        st = cpu_conv2d_backward(b, &s, xs, w + w0, dys, dxs, dw + w0,
                                 a->has_bias && dbias ? dbias + (size_t)g * s.out_c : NULL);
        if (st == FER_OK && dx)
            scatter_slice(dxs, dx, a->n, a->in_c, g * s.in_c, s.in_c, in_plane);
    }
    free(xs);
    free(dys);
    free(dxs);
    return st;
}

/* ---- entry points ----------------------------------------------------------------------- */

fer_status cpu_conv2d_grouped_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                      const float *w, const float *bias, float *y)
{
    grouped_job j;
    tap_ranges r;
    fer_status st = grouped_job_init(&j, &r, a);
    if (st != FER_OK)
        return st;
    if (j.cin_g >= SLICE_MIN_CHANNELS)
        return sliced_forward(b, a, x, w, bias, y);
    if (cpu_depthwise_supported(a))
        return cpu_depthwise_forward(cpu_of(b), a, x, w, a->has_bias ? bias : NULL, y);
    j.x = x, j.w = w, j.bias = a->has_bias ? bias : NULL, j.y = y;
    cpu_parallel(cpu_of(b), a->n * a->out_c, fwd_plane, &j);
    return FER_OK;
}

fer_status cpu_conv2d_grouped_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                       const float *w, const float *dy, float *dx, float *dw,
                                       float *dbias)
{
    grouped_job j;
    tap_ranges r;
    fer_status st = grouped_job_init(&j, &r, a);
    if (st != FER_OK)
        return st;
    if (j.cin_g >= SLICE_MIN_CHANNELS)
        return sliced_backward(b, a, x, w, dy, dx, dw, dbias);
    cpu_ctx *c = cpu_of(b);
    j.x = x, j.w = w, j.dy = dy, j.dx = dx, j.dw = dw;
    j.dbias = a->has_bias ? dbias : NULL;
    if (cpu_depthwise_supported(a)) {
        if (dx && !cpu_depthwise_dx_supported(a)) {
            cpu_parallel(c, a->n * a->in_c, dx_plane, &j);
            dx = NULL;
        }
        return cpu_depthwise_backward(c, a, x, w, dy, dx, dw, j.dbias);
    }
    if (dx)
        cpu_parallel(c, a->n * a->in_c, dx_plane, &j);
    if (dw || j.dbias)
        cpu_parallel(c, a->out_c, dw_channel, &j);
    return FER_OK;
}
