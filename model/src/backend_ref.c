/* The reference backend: plain, obviously-correct loops over host memory, single-threaded.
 * It stays in the tree as the oracle for the fast backends and the golden tests, so clarity
 * beats speed here (sums that decide accuracy are accumulated in double). */
#include "backend_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fer/dropout_math.h"
#include "fer/graph_math.h"
#include "fer/head_math.h"
#include "fer/layer_math.h"
#include "fer/loss_math.h"
#include "fer/optim_math.h"

/* ---- memory --------------------------------------------------------------------------- */

fer_status fer_ref_alloc(fer_backend *b, size_t bytes, void **ptr)
{
    (void)b;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0)
        rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) {
        *ptr = NULL;
        return fer_fail(FER_ERR_NOMEM, "backend: cannot allocate %zu bytes", bytes);
    }
    memset(p, 0, rounded);
    *ptr = p;
    return FER_OK;
}

void fer_ref_release(fer_backend *b, void *ptr)
{
    (void)b;
    free(ptr);
}

fer_status fer_ref_upload(fer_backend *b, void *dst, const void *host_src, size_t bytes)
{
    (void)b;
    if (bytes)
        memcpy(dst, host_src, bytes);
    return FER_OK;
}

fer_status fer_ref_download(fer_backend *b, void *host_dst, const void *src, size_t bytes)
{
    (void)b;
    if (bytes)
        memcpy(host_dst, src, bytes);
    return FER_OK;
}

fer_status fer_ref_copy(fer_backend *b, void *dst, const void *src, size_t bytes)
{
    (void)b;
    if (bytes && dst != src)
        memmove(dst, src, bytes);
    return FER_OK;
}

fer_status fer_ref_fill(fer_backend *b, float *dst, float value, size_t n)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        dst[i] = value;
    return FER_OK;
}

fer_status fer_ref_synchronize(fer_backend *b)
{
    (void)b;
    return FER_OK;
}

/* ---- conv2d --------------------------------------------------------------------------- */

/* Output columns ow whose input column ow*stride - pad + kk lies inside [0, in). */
static void valid_range(int out, int in, int stride, int pad, int kk, int *lo, int *hi)
{
    int a = 0;
    while (a < out && a * stride - pad + kk < 0)
        a++;
    int z = out - 1;
    while (z >= a && z * stride - pad + kk >= in)
        z--;
    *lo = a;
    *hi = z; /* inclusive; hi < lo means empty */
}

fer_status fer_ref_conv2d_groups_check(const fer_conv2d_args *a)
{
    if (a->groups < 1 || a->in_c % a->groups != 0 || a->out_c % a->groups != 0)
        return fer_fail(FER_ERR_ARG, "conv2d: groups %d must be >= 1 and divide in %d and out %d",
                        a->groups, a->in_c, a->out_c);
    return FER_OK;
}

fer_status fer_ref_conv2d_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *bias, float *y)
{
    (void)b;
    fer_status st = fer_ref_conv2d_groups_check(a);
    if (st != FER_OK)
        return st;
    const int S = a->stride, P = a->pad, K = a->k;
    const int cin_g = a->in_c / a->groups, cout_g = a->out_c / a->groups;
    const size_t out_plane = (size_t)a->out_h * a->out_w, in_plane = (size_t)a->in_h * a->in_w;
    for (int n = 0; n < a->n; n++) {
        for (int oc = 0; oc < a->out_c; oc++) {
            float *yp = y + ((size_t)n * a->out_c + oc) * out_plane;
            float b0 = (a->has_bias && bias) ? bias[oc] : 0.0f;
            const int ic0 = oc / cout_g * cin_g; /* the first input channel of oc's group */
            for (size_t i = 0; i < out_plane; i++)
                yp[i] = b0;
            for (int icg = 0; icg < cin_g; icg++) {
                const int ic = ic0 + icg;
                const float *xp = x + ((size_t)n * a->in_c + ic) * in_plane;
                for (int kh = 0; kh < K; kh++) {
                    int oh_lo, oh_hi;
                    valid_range(a->out_h, a->in_h, S, P, kh, &oh_lo, &oh_hi);
                    for (int kw = 0; kw < K; kw++) {
                        int ow_lo, ow_hi;
                        valid_range(a->out_w, a->in_w, S, P, kw, &ow_lo, &ow_hi);
                        if (ow_lo > ow_hi)
                            continue; /* this tap never lands inside the input */
                        float wv = w[(((size_t)oc * cin_g + icg) * K + kh) * K + kw];
                        for (int oh = oh_lo; oh <= oh_hi; oh++) {
                            /* y[oh, ow] += w * x[oh*S - P + kh, ow*S - P + kw] */
                            const float *xs = xp + (size_t)(oh * S - P + kh) * a->in_w +
                                              (ow_lo * S - P + kw);
                            float *yd = yp + (size_t)oh * a->out_w + ow_lo;
                            for (int ow = ow_lo; ow <= ow_hi; ow++, xs += S)
                                *yd++ += wv * *xs;
                        }
                    }
                }
            }
        }
    }
    return FER_OK;
}

fer_status fer_ref_conv2d_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                   const float *w, const float *dy, float *dx, float *dw,
                                   float *dbias)
{
    (void)b;
    fer_status st = fer_ref_conv2d_groups_check(a);
    if (st != FER_OK)
        return st;
    const int S = a->stride, P = a->pad, K = a->k;
    const int cin_g = a->in_c / a->groups, cout_g = a->out_c / a->groups;
    const size_t out_plane = (size_t)a->out_h * a->out_w, in_plane = (size_t)a->in_h * a->in_w;
    if (dx)
        memset(dx, 0, sizeof(float) * (size_t)a->n * a->in_c * in_plane);
    if (a->has_bias && dbias) {
        for (int oc = 0; oc < a->out_c; oc++) {
            double s = 0.0;
            for (int n = 0; n < a->n; n++) {
                const float *dyp = dy + ((size_t)n * a->out_c + oc) * out_plane;
                for (size_t i = 0; i < out_plane; i++)
                    s += dyp[i];
            }
            dbias[oc] = (float)s;
        }
    }
    for (int oc = 0; oc < a->out_c; oc++) {
        const int ic0 = oc / cout_g * cin_g;
        for (int icg = 0; icg < cin_g; icg++) {
            const int ic = ic0 + icg;
            for (int kh = 0; kh < K; kh++) {
                int oh_lo, oh_hi;
                valid_range(a->out_h, a->in_h, S, P, kh, &oh_lo, &oh_hi);
                for (int kw = 0; kw < K; kw++) {
                    int ow_lo, ow_hi;
                    valid_range(a->out_w, a->in_w, S, P, kw, &ow_lo, &ow_hi);
                    size_t widx = (((size_t)oc * cin_g + icg) * K + kh) * K + kw;
                    if (ow_lo > ow_hi || oh_lo > oh_hi) {
                        /* the tap never lands inside the input: no gradient, and no pointer is
                         * formed from the (negative) first column */
                        dw[widx] = 0.0f;
                        continue;
                    }
                    float wv = w[widx];
                    double gsum = 0.0;
                    for (int n = 0; n < a->n; n++) {
                        const float *xp = x + ((size_t)n * a->in_c + ic) * in_plane;
                        const float *dyp = dy + ((size_t)n * a->out_c + oc) * out_plane;
                        float *dxp = dx ? dx + ((size_t)n * a->in_c + ic) * in_plane : NULL;
                        for (int oh = oh_lo; oh <= oh_hi; oh++) {
                            /* element (oh, ow) pairs with input (oh*S - P + kh, ow*S - P + kw) */
                            size_t first = (size_t)(oh * S - P + kh) * a->in_w +
                                           (size_t)(ow_lo * S - P + kw);
                            const float *dyr = dyp + (size_t)oh * a->out_w + ow_lo;
                            const float *xs = xp + first;
                            int cnt = ow_hi - ow_lo + 1;
                            float rsum = 0.0f;
                            for (int j = 0; j < cnt; j++)
                                rsum += dyr[j] * xs[(size_t)j * S];
                            gsum += rsum;
                            if (dxp) {
                                float *dxs = dxp + first;
                                for (int j = 0; j < cnt; j++)
                                    dxs[(size_t)j * S] += wv * dyr[j];
                            }
                        }
                    }
                    dw[widx] = (float)gsum;
                }
            }
        }
    }
    return FER_OK;
}

/* ---- batch norm ----------------------------------------------------------------------- */

fer_status fer_ref_batchnorm_forward(fer_backend *b, const fer_bn_args *a, int training,
                                     const float *x, const float *gamma, const float *beta,
                                     float *running_mean, float *running_var, float *y,
                                     float *save_mean, float *save_invstd)
{
    (void)b;
    if (a->relu || a->pool)
        return fer_fail(FER_ERR_UNSUPPORTED, "ref backend: batch norm with a fused %s",
                        a->relu ? "ReLU" : "max pool");
    const size_t hw = (size_t)a->hw, count = (size_t)a->n * hw;
    for (int c = 0; c < a->c; c++) {
        float mean, invstd;
        if (training) {
            double s = 0.0;
            for (int n = 0; n < a->n; n++) {
                const float *xp = x + ((size_t)n * a->c + c) * hw;
                for (size_t i = 0; i < hw; i++)
                    s += xp[i];
            }
            double dmean = s / (double)count, ss = 0.0;
            for (int n = 0; n < a->n; n++) {
                const float *xp = x + ((size_t)n * a->c + c) * hw;
                for (size_t i = 0; i < hw; i++)
                    ss += ((double)xp[i] - dmean) * ((double)xp[i] - dmean);
            }
            double var = ss / (double)count;
            mean = (float)dmean;
            invstd = (float)(1.0 / sqrt(var + (double)a->eps));
            if (save_mean)
                save_mean[c] = mean;
            if (save_invstd)
                save_invstd[c] = invstd;
            running_mean[c] = fer_bn_running(running_mean[c], mean, a->momentum);
            running_var[c] =
                fer_bn_running(running_var[c], fer_bn_unbiased((float)var, (double)count),
                               a->momentum);
        } else {
            mean = running_mean[c];
            invstd = 1.0f / sqrtf(running_var[c] + a->eps);
        }
        float g = gamma ? gamma[c] : 1.0f, be = beta ? beta[c] : 0.0f;
        for (int n = 0; n < a->n; n++) {
            const float *xp = x + ((size_t)n * a->c + c) * hw;
            float *yp = y + ((size_t)n * a->c + c) * hw;
            for (size_t i = 0; i < hw; i++)
                yp[i] = fer_bn_apply(xp[i], mean, invstd, g, be);
        }
    }
    return FER_OK;
}

fer_status fer_ref_batchnorm_backward(fer_backend *b, const fer_bn_args *a, const float *x,
                                      const float *gamma, const float *beta,
                                      const float *save_mean, const float *save_invstd,
                                      const float *dy, float *dx, float *dgamma, float *dbeta)
{
    (void)b, (void)beta;
    if (a->relu) /* the oracle runs the plain graph (fuses_relu 0) */
        return fer_fail(FER_ERR_UNSUPPORTED, "ref backend: batch norm with a fused ReLU");
    const size_t hw = (size_t)a->hw, count = (size_t)a->n * hw;
    for (int c = 0; c < a->c; c++) {
        float mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < a->n; n++) {
            const float *xp = x + ((size_t)n * a->c + c) * hw;
            const float *dyp = dy + ((size_t)n * a->c + c) * hw;
            for (size_t i = 0; i < hw; i++) {
                sdy += dyp[i];
                sdyx += (double)dyp[i] * (double)((xp[i] - mean) * invstd);
            }
        }
        if (dgamma)
            dgamma[c] = (float)sdyx;
        if (dbeta)
            dbeta[c] = (float)sdy;
        if (!dx)
            continue;
        float g = gamma ? gamma[c] : 1.0f;
        float mean_dy = (float)(sdy / (double)count), mean_dyx = (float)(sdyx / (double)count);
        for (int n = 0; n < a->n; n++) {
            const float *xp = x + ((size_t)n * a->c + c) * hw;
            const float *dyp = dy + ((size_t)n * a->c + c) * hw;
            float *dxp = dx + ((size_t)n * a->c + c) * hw;
            for (size_t i = 0; i < hw; i++)
                dxp[i] = fer_bn_backward_x(dyp[i], (xp[i] - mean) * invstd, g * invstd, mean_dy,
                                           mean_dyx);
        }
    }
    return FER_OK;
}

/* ---- relu, maxpool, linear, dropout --------------------------------------------------- */

fer_status fer_ref_relu_forward(fer_backend *b, size_t n, const float *x, float *y)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        y[i] = fer_relu(x[i]);
    return FER_OK;
}

fer_status fer_ref_relu_backward(fer_backend *b, size_t n, const float *y, const float *dy,
                                 float *dx)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        dx[i] = fer_relu_backward(y[i], dy[i]);
    return FER_OK;
}

fer_status fer_ref_maxpool_forward(fer_backend *b, const fer_pool_args *a, const float *x,
                                   float *y, int32_t *argmax)
{
    (void)b;
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    for (size_t plane = 0; plane < (size_t)a->n * a->c; plane++) {
        const float *xp = x + plane * in_plane;
        for (int oh = 0; oh < a->out_h; oh++) {
            for (int ow = 0; ow < a->out_w; ow++) {
                int best = (oh * a->stride) * a->in_w + ow * a->stride;
                float bv = xp[best];
                for (int kh = 0; kh < a->k; kh++) {
                    for (int kw = 0; kw < a->k; kw++) {
                        int idx = (oh * a->stride + kh) * a->in_w + ow * a->stride + kw;
                        float v = xp[idx];
                        if (v > bv || isnan(v)) { /* first maximum wins; NaN propagates */
                            bv = v;
                            best = idx;
                        }
                        if (isnan(bv))
                            break;
                    }
                }
                size_t o = plane * out_plane + (size_t)oh * a->out_w + ow;
                y[o] = bv;
                if (argmax)
                    argmax[o] = best;
            }
        }
    }
    return FER_OK;
}

fer_status fer_ref_maxpool_backward(fer_backend *b, const fer_pool_args *a,
                                    const int32_t *argmax, const float *dy, float *dx)
{
    (void)b;
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    memset(dx, 0, sizeof(float) * (size_t)a->n * a->c * in_plane);
    for (size_t plane = 0; plane < (size_t)a->n * a->c; plane++)
        for (size_t o = 0; o < out_plane; o++)
            dx[plane * in_plane + (size_t)argmax[plane * out_plane + o]] += dy[plane * out_plane + o];
    return FER_OK;
}

fer_status fer_ref_linear_forward(fer_backend *b, const fer_linear_args *a, const float *x,
                                  const float *w, const float *bias, float *y)
{
    (void)b;
    for (int n = 0; n < a->n; n++) {
        const float *xr = x + (size_t)n * a->in;
        for (int o = 0; o < a->out; o++) {
            const float *wr = w + (size_t)o * a->in;
            double s = (a->has_bias && bias) ? bias[o] : 0.0;
            for (int i = 0; i < a->in; i++)
                s += (double)xr[i] * wr[i];
            y[(size_t)n * a->out + o] = (float)s;
        }
    }
    return FER_OK;
}

fer_status fer_ref_linear_backward(fer_backend *b, const fer_linear_args *a, const float *x,
                                   const float *w, const float *dy, float *dx, float *dw,
                                   float *dbias)
{
    (void)b;
    if (dx) {
        for (int n = 0; n < a->n; n++) {
            for (int i = 0; i < a->in; i++) {
                double s = 0.0;
                for (int o = 0; o < a->out; o++)
                    s += (double)dy[(size_t)n * a->out + o] * w[(size_t)o * a->in + i];
                dx[(size_t)n * a->in + i] = (float)s;
            }
        }
    }
    for (int o = 0; o < a->out; o++) {
        for (int i = 0; i < a->in; i++) {
            double s = 0.0;
            for (int n = 0; n < a->n; n++)
                s += (double)dy[(size_t)n * a->out + o] * x[(size_t)n * a->in + i];
            dw[(size_t)o * a->in + i] = (float)s;
        }
        if (a->has_bias && dbias) {
            double s = 0.0;
            for (int n = 0; n < a->n; n++)
                s += dy[(size_t)n * a->out + o];
            dbias[o] = (float)s;
        }
    }
    return FER_OK;
}

/* ---- activations, average pooling ------------------------------------------------------ */

fer_status fer_ref_activation_forward(fer_backend *b, fer_activation kind, float param, size_t n,
                                      const float *x, float *y)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        y[i] = fer_activation_apply(kind, param, x[i]);
    return FER_OK;
}

fer_status fer_ref_activation_backward(fer_backend *b, fer_activation kind, float param,
                                       size_t n, const float *x, const float *dy, float *dx)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        dx[i] = fer_activation_grad(kind, param, x[i], dy[i]);
    return FER_OK;
}

/* The oracle walks windows directly (PyTorch's loops); the other backends use the FER_HD
 * per-element form of pool_math.h, backward as a gather. */
fer_status fer_ref_avgpool_forward(fer_backend *b, const fer_avgpool_args *a, const float *x,
                                   float *y)
{
    (void)b;
    const fer_avgpool_geom *g = &a->g;
    size_t planes = (size_t)a->n * a->c;
    for (size_t p = 0; p < planes; p++) {
        const float *xp = x + p * g->in_h * g->in_w;
        for (int oh = 0; oh < g->out_h; oh++) {
            for (int ow = 0; ow < g->out_w; ow++) {
                float s = 0.0f;
                for (int kh = 0; kh < g->kh; kh++) {
                    for (int kw = 0; kw < g->kw; kw++) {
                        int h = oh * g->sh - g->pad_h + kh, w = ow * g->sw - g->pad_w + kw;
                        if (h >= 0 && h < g->in_h && w >= 0 && w < g->in_w)
                            s += xp[(size_t)h * g->in_w + w];
                    }
                }
                y[(p * g->out_h + oh) * g->out_w + ow] = s / (float)(g->kh * g->kw);
            }
        }
    }
    return FER_OK;
}

fer_status fer_ref_avgpool_backward(fer_backend *b, const fer_avgpool_args *a, const float *dy,
                                    float *dx)
{
    (void)b;
    const fer_avgpool_geom *g = &a->g;
    size_t planes = (size_t)a->n * a->c, in_plane = (size_t)g->in_h * g->in_w;
    memset(dx, 0, planes * in_plane * sizeof(float));
    for (size_t p = 0; p < planes; p++) {
        float *dxp = dx + p * in_plane;
        for (int oh = 0; oh < g->out_h; oh++) {
            for (int ow = 0; ow < g->out_w; ow++) {
                float d = dy[(p * g->out_h + oh) * g->out_w + ow] / (float)(g->kh * g->kw);
                for (int kh = 0; kh < g->kh; kh++) {
                    for (int kw = 0; kw < g->kw; kw++) {
                        int h = oh * g->sh - g->pad_h + kh, w = ow * g->sw - g->pad_w + kw;
                        if (h >= 0 && h < g->in_h && w >= 0 && w < g->in_w)
                            dxp[(size_t)h * g->in_w + w] += d;
                    }
                }
            }
        }
    }
    return FER_OK;
}

/* ---- graph ops: add, channel copy, mul gate, PReLU -------------------------------------- */

fer_status fer_ref_add(fer_backend *b, size_t n, const float *x0, const float *x1, float *y)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        y[i] = fer_add(x0[i], x1[i]);
    return FER_OK;
}

fer_status fer_ref_channel_copy(fer_backend *b, const fer_channel_copy_args *a, const float *src,
                                float *dst)
{
    (void)b;
    for (int s = 0; s < a->n; s++)
        for (int j = 0; j < a->c; j++)
            for (int p = 0; p < a->hw; p++)
                dst[((size_t)s * a->dst_c + a->dst_off + j) * a->hw + p] =
                    src[((size_t)s * a->src_c + a->src_off + j) * a->hw + p];
    return FER_OK;
}

fer_status fer_ref_pad2d_forward(fer_backend *b, const fer_pad2d_args *a, const float *x,
                                float *y)
{
    (void)b;
    size_t n = (size_t)a->n * (a->top + a->in_h + a->bottom) * (a->left + a->in_w + a->right);
    for (size_t i = 0; i < n; i++) {
        long long src = fer_pad2d_source(a, i);
        y[i] = src < 0 ? 0.0f : x[src];
    }
    return FER_OK;
}

fer_status fer_ref_pad2d_backward(fer_backend *b, const fer_pad2d_args *a, const float *dy,
                                 float *dx)
{
    (void)b;
    size_t n = (size_t)a->n * a->in_h * a->in_w;
    for (size_t j = 0; j < n; j++)
        dx[j] = dy[fer_pad2d_target(a, j)];
    return FER_OK;
}

fer_status fer_ref_mul_forward(fer_backend *b, const fer_mul_args *a, const float *x,
                               const float *g, float *y)
{
    (void)b;
    size_t n = (size_t)a->n * a->c * a->hw;
    for (size_t i = 0; i < n; i++)
        y[i] = fer_mul(x[i], g[fer_mul_gate_index(i, a->hw, a->g_hw)]);
    return FER_OK;
}

fer_status fer_ref_mul_backward(fer_backend *b, const fer_mul_args *a, const float *x,
                                const float *g, const float *dy, float *dx, float *dg)
{
    (void)b;
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->hw;
    for (size_t pl = 0; pl < planes; pl++) {
        double s = 0.0; /* dg of a broadcast gate: the plane's sum in order */
        for (size_t p = 0; p < hw; p++) {
            size_t i = pl * hw + p;
            if (dx)
                dx[i] = fer_mul(dy[i], g[fer_mul_gate_index(i, a->hw, a->g_hw)]);
            if (dg && a->g_hw == 1)
                s += fer_mul_dg_term(x[i], dy[i]);
            else if (dg)
                dg[i] = (float)fer_mul_dg_term(x[i], dy[i]);
        }
        if (dg && a->g_hw == 1)
            dg[pl] = (float)s;
    }
    return FER_OK;
}

fer_status fer_ref_prelu_forward(fer_backend *b, const fer_prelu_args *a, const float *x,
                                 const float *w, float *y)
{
    (void)b;
    for (int s = 0; s < a->n; s++)
        for (int c = 0; c < a->c; c++)
            for (int p = 0; p < a->hw; p++) {
                size_t i = ((size_t)s * a->c + c) * a->hw + p;
                y[i] = fer_prelu(x[i], w[c]);
            }
    return FER_OK;
}

fer_status fer_ref_prelu_backward(fer_backend *b, const fer_prelu_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw)
{
    (void)b;
    /* dw first: dx may overwrite dy */
    if (dw) {
        for (int c = 0; c < a->c; c++) {
            double s = 0.0;
            for (int n = 0; n < a->n; n++)
                for (int p = 0; p < a->hw; p++) {
                    size_t i = ((size_t)n * a->c + c) * a->hw + p;
                    s += fer_prelu_dw_term(x[i], dy[i]);
                }
            dw[c] = (float)s;
        }
    }
    if (dx) {
        for (int n = 0; n < a->n; n++)
            for (int c = 0; c < a->c; c++)
                for (int p = 0; p < a->hw; p++) {
                    size_t i = ((size_t)n * a->c + c) * a->hw + p;
                    dx[i] = fer_prelu_backward(x[i], w[c], dy[i]);
                }
    }
    return FER_OK;
}

fer_status fer_ref_dropout_forward(fer_backend *b, size_t n, float p, uint64_t seed,
                                   uint64_t first, const float *x, float *y)
{
    (void)b;
    float scale = fer_dropout_scale(p);
    for (size_t i = 0; i < n; i++)
        y[i] = fer_dropout_apply(seed, first + i, p, scale, x[i]);
    return FER_OK;
}

fer_status fer_ref_dropout_backward(fer_backend *b, size_t n, float p, uint64_t seed,
                                    uint64_t first, const float *dy, float *dx)
{
    (void)b;
    float scale = fer_dropout_scale(p);
    for (size_t i = 0; i < n; i++)
        dx[i] = fer_dropout_apply(seed, first + i, p, scale, dy[i]);
    return FER_OK;
}

/* ---- heads and loss ------------------------------------------------------------------- */

fer_status fer_ref_l2norm_rows_forward(fer_backend *b, int rows, int dim, const float *x,
                                       float *y, float *norms)
{
    (void)b;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        double ss = 0.0;
        for (int i = 0; i < dim; i++)
            ss += (double)xr[i] * xr[i];
        float norm = (float)sqrt(ss);
        float d = fer_l2norm_divisor(norm);
        for (int i = 0; i < dim; i++)
            y[(size_t)r * dim + i] = xr[i] / d;
        if (norms)
            norms[r] = norm;
    }
    return FER_OK;
}

fer_status fer_ref_l2norm_rows_backward(fer_backend *b, int rows, int dim, const float *x,
                                        const float *norms, const float *dy, float *dx)
{
    (void)b;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim, *dyr = dy + (size_t)r * dim;
        double dot = 0.0;
        for (int i = 0; i < dim; i++)
            dot += (double)xr[i] * dyr[i];
        for (int i = 0; i < dim; i++)
            dx[(size_t)r * dim + i] = fer_l2norm_backward(xr[i], dyr[i], norms[r], (float)dot);
    }
    return FER_OK;
}

fer_status fer_ref_arcface_forward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                   const int32_t *labels, float *logits)
{
    (void)b;
    fer_arcface_consts k = fer_arcface_make_consts(a->s, a->m);
    for (int r = 0; r < a->n; r++)
        for (int j = 0; j < a->c; j++) {
            size_t i = (size_t)r * a->c + j;
            logits[i] = fer_arcface_logit(cos[i], labels && labels[r] == j, &k);
        }
    return FER_OK;
}

fer_status fer_ref_arcface_backward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                    const int32_t *labels, const float *dlogits, float *dcos)
{
    (void)b;
    fer_arcface_consts k = fer_arcface_make_consts(a->s, a->m);
    for (int r = 0; r < a->n; r++)
        for (int j = 0; j < a->c; j++) {
            size_t i = (size_t)r * a->c + j;
            dcos[i] = fer_arcface_backward(cos[i], labels && labels[r] == j, dlogits[i], &k);
        }
    return FER_OK;
}

fer_status fer_ref_loss_forward_backward(fer_backend *b, const fer_loss_args *a,
                                         const float *logits, const int32_t *labels,
                                         const float *class_weights, float *loss_host,
                                         float *dlogits)
{
    (void)b;
    if (a->targets && a->kind == FER_LOSS_FOCAL)
        return fer_fail(FER_ERR_ARG, "loss: focal loss with soft targets is not supported");
    float gamma = a->kind == FER_LOSS_FOCAL ? a->gamma : 0.0f;
    double num = 0.0, den = 0.0;
    for (int r = 0; r < a->n; r++) {
        const float *target = a->targets ? a->targets + (size_t)r * a->c : NULL;
        int y = target ? 0 : labels[r];
        if (y < 0 || y >= a->c)
            return fer_fail(FER_ERR_ARG, "loss: label %d of sample %d is outside 0..%d", y, r,
                            a->c - 1);
        num += fer_loss_row(logits + (size_t)r * a->c, a->logit_offset, a->c, y, target,
                            class_weights, gamma, a->label_smoothing,
                            dlogits ? dlogits + (size_t)r * a->c : NULL);
        den += fer_loss_row_weight(class_weights, y, target, a->c);
    }
    if (den <= 0.0)
        return fer_fail(FER_ERR_ARG, "loss: class weights of the batch sum to %g", den);
    if (loss_host)
        *loss_host = (float)(num / den);
    if (dlogits) {
        float inv = (float)(1.0 / den);
        for (size_t i = 0; i < (size_t)a->n * a->c; i++)
            dlogits[i] *= inv;
    }
    return FER_OK;
}

fer_status fer_ref_softmax_rows(fer_backend *b, int rows, int cols, const float *x, float *y)
{
    (void)b;
    for (int r = 0; r < rows; r++)
        fer_softmax_row(x + (size_t)r * cols, cols, y + (size_t)r * cols);
    return FER_OK;
}

/* ---- optimisation --------------------------------------------------------------------- */

fer_status fer_ref_optimizer_step(fer_backend *b, const fer_optim_args *a, size_t n, float *param,
                                  const float *grad, float *m, float *v)
{
    (void)b;
    fer_optim_coeffs k = fer_optim_make_coeffs(a);
    float dummy_m = 0.0f, dummy_v = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float *mi = m ? &m[i] : &dummy_m, *vi = v ? &v[i] : &dummy_v;
        fer_optim_update(&k, &param[i], grad[i], mi, vi);
    }
    return FER_OK;
}

fer_status fer_ref_sum_squares(fer_backend *b, size_t n, const float *x, double *out_host)
{
    (void)b;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    *out_host = s;
    return FER_OK;
}

fer_status fer_ref_scale(fer_backend *b, size_t n, float *x, float alpha)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        x[i] *= alpha;
    return FER_OK;
}

/* ---- the backend ---------------------------------------------------------------------- */

static void ref_destroy(fer_backend *b)
{
    (void)b;
}

const fer_backend_ops fer_ref_ops = {
    .destroy = ref_destroy,
    .alloc = fer_ref_alloc,
    .release = fer_ref_release,
    .upload = fer_ref_upload,
    .download = fer_ref_download,
    .copy = fer_ref_copy,
    .fill = fer_ref_fill,
    .synchronize = fer_ref_synchronize,
    .set_precision = NULL,
    .conv2d_forward = fer_ref_conv2d_forward,
    .conv2d_backward = fer_ref_conv2d_backward,
    .batchnorm_forward = fer_ref_batchnorm_forward,
    .batchnorm_backward = fer_ref_batchnorm_backward,
    .relu_forward = fer_ref_relu_forward,
    .relu_backward = fer_ref_relu_backward,
    .maxpool_forward = fer_ref_maxpool_forward,
    .maxpool_backward = fer_ref_maxpool_backward,
    .linear_forward = fer_ref_linear_forward,
    .linear_backward = fer_ref_linear_backward,
    .dropout_forward = fer_ref_dropout_forward,
    .dropout_backward = fer_ref_dropout_backward,
    .activation_forward = fer_ref_activation_forward,
    .activation_backward = fer_ref_activation_backward,
    .avgpool_forward = fer_ref_avgpool_forward,
    .avgpool_backward = fer_ref_avgpool_backward,
    .add = fer_ref_add,
    .channel_copy = fer_ref_channel_copy,
    .pad2d_forward = fer_ref_pad2d_forward,
    .pad2d_backward = fer_ref_pad2d_backward,
    .mul_forward = fer_ref_mul_forward,
    .mul_backward = fer_ref_mul_backward,
    .prelu_forward = fer_ref_prelu_forward,
    .prelu_backward = fer_ref_prelu_backward,
    .l2norm_rows_forward = fer_ref_l2norm_rows_forward,
    .l2norm_rows_backward = fer_ref_l2norm_rows_backward,
    .arcface_forward = fer_ref_arcface_forward,
    .arcface_backward = fer_ref_arcface_backward,
    .loss_forward_backward = fer_ref_loss_forward_backward,
    .softmax_rows = fer_ref_softmax_rows,
    .optimizer_step = fer_ref_optimizer_step,
    .sum_squares = fer_ref_sum_squares,
    .scale = fer_ref_scale,
};

fer_status fer_backend_ref_new(int threads, fer_backend **out)
{
    return fer_backend_host_new("ref", &fer_ref_ops, NULL, threads, out);
}
