/* What one CUDA thread does, as FER_HD functions over the shared per-element math
 * (layer_math.h, loss_math.h, head_math.h, optim_math.h, dropout_math.h).
 *
 * The .cu files only map a thread to an index and call one of these. Because the bodies are
 * plain C as well, tests/cuda/test_cuda_bodies.c runs every body over every index on the CPU
 * and compares with the ref backend, so the GPU code path is exercised on machines without a
 * GPU; only the thread mapping and the cuDNN/cuBLAS calls need a device. */
#ifndef FER_CUDA_KERNEL_BODIES_H
#define FER_CUDA_KERNEL_BODIES_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "fer/activation_math.h"
#include "fer/backend.h"
#include "fer/dropout_math.h"
#include "fer/graph_math.h"
#include "fer/head_math.h"
#include "fer/layer_math.h"
#include "fer/loss_math.h"
#include "fer/optim_math.h"
#include "fer/pool_math.h"
#include "fer/preprocess.h"
#include "fer/preprocess_math.h"

/* ---- elementwise ------------------------------------------------------------------------ */

/* Linear bias broadcast: y[r, o] = bias[o] (the GEMM then adds x . w^T). */
FER_HD void fer_kb_bias_rows(size_t i, int cols, const float *bias, float *y)
{
    y[i] = bias[i % (size_t)cols];
}

/* Linear dbias: column sum over rows in row order, accumulated in double (as ref). */
FER_HD void fer_kb_col_sum(int col, int rows, int cols, const float *dy, float *out)
{
    double s = 0.0;
    for (int r = 0; r < rows; r++)
        s += dy[(size_t)r * cols + col];
    out[col] = (float)s;
}

FER_HD void fer_kb_dropout(size_t i, float p, uint64_t seed, uint64_t first, float scale,
                           const float *x, float *y)
{
    y[i] = fer_dropout_apply(seed, first + i, p, scale, x[i]);
}

FER_HD void fer_kb_optim(size_t i, const fer_optim_coeffs *k, float *param, const float *grad,
                         float *m, float *v)
{
    float dummy_m = 0.0f, dummy_v = 0.0f;
    fer_optim_update(k, &param[i], grad[i], m ? &m[i] : &dummy_m, v ? &v[i] : &dummy_v);
}

/* Activation of element i (activation_math.h); backward reads the layer input x. */
FER_HD void fer_kb_activation_forward(size_t i, fer_activation kind, float param, const float *x,
                                      float *y)
{
    y[i] = fer_activation_apply(kind, param, x[i]);
}

FER_HD void fer_kb_activation_backward(size_t i, fer_activation kind, float param,
                                       const float *x, const float *dy, float *dx)
{
    dx[i] = fer_activation_grad(kind, param, x[i], dy[i]);
}

/* ---- max-pool (the interface keeps argmax, so backward needs neither x nor y) ----------- */

/* Output element o: the first maximum of its window wins, NaN propagates (as PyTorch). */
FER_HD void fer_kb_maxpool_forward(size_t o, const fer_pool_args *a, const float *x, float *y,
                                   int32_t *argmax)
{
    const size_t out_plane = (size_t)a->out_h * a->out_w, in_plane = (size_t)a->in_h * a->in_w;
    const size_t plane = o / out_plane;
    const int pos = (int)(o % out_plane), oh = pos / a->out_w, ow = pos % a->out_w;
    const float *xp = x + plane * in_plane;
    int best = (oh * a->stride) * a->in_w + ow * a->stride;
    float bv = xp[best];
    for (int kh = 0; kh < a->k; kh++) {
        for (int kw = 0; kw < a->k; kw++) {
            int idx = (oh * a->stride + kh) * a->in_w + ow * a->stride + kw;
            float v = xp[idx];
            if (v > bv || v != v) {
                bv = v;
                best = idx;
            }
            if (bv != bv)
                break;
        }
    }
    y[o] = bv;
    if (argmax)
        argmax[o] = best;
}

/* Input element i gathers dy of every window whose argmax is i, in increasing output order
 * (the order in which ref scatters), so overlapping windows need no atomics. */
FER_HD void fer_kb_maxpool_backward(size_t i, const fer_pool_args *a, const int32_t *argmax,
                                    const float *dy, float *dx)
{
    const size_t out_plane = (size_t)a->out_h * a->out_w, in_plane = (size_t)a->in_h * a->in_w;
    const size_t plane = i / in_plane;
    const int pos = (int)(i % in_plane), ih = pos / a->in_w, iw = pos % a->in_w;
    /* windows oh with oh*stride <= ih < oh*stride + k */
    int oh_lo = ih < a->k ? 0 : (ih - a->k) / a->stride + 1;
    int oh_hi = ih / a->stride;
    int ow_lo = iw < a->k ? 0 : (iw - a->k) / a->stride + 1;
    int ow_hi = iw / a->stride;
    if (oh_hi > a->out_h - 1)
        oh_hi = a->out_h - 1;
    if (ow_hi > a->out_w - 1)
        ow_hi = a->out_w - 1;
    float s = 0.0f;
    for (int oh = oh_lo; oh <= oh_hi; oh++)
        for (int ow = ow_lo; ow <= ow_hi; ow++) {
            size_t o = plane * out_plane + (size_t)oh * a->out_w + ow;
            if (argmax[o] == pos)
                s += dy[o];
        }
    dx[i] = s;
}

/* ---- average pooling (pool_math.h): one output element forward, one input element
 * backward (a gather, no atomics) ------------------------------------------------------------ */

FER_HD void fer_kb_avgpool_forward(size_t o, const fer_avgpool_args *a, const float *x, float *y)
{
    const fer_avgpool_geom *g = &a->g;
    const size_t out_plane = (size_t)g->out_h * g->out_w, in_plane = (size_t)g->in_h * g->in_w;
    const size_t plane = o / out_plane;
    const int pos = (int)(o % out_plane);
    y[o] = fer_avgpool_at(g, x + plane * in_plane, pos / g->out_w, pos % g->out_w);
}

FER_HD void fer_kb_avgpool_backward(size_t i, const fer_avgpool_args *a, const float *dy,
                                    float *dx)
{
    const fer_avgpool_geom *g = &a->g;
    const size_t out_plane = (size_t)g->out_h * g->out_w, in_plane = (size_t)g->in_h * g->in_w;
    const size_t plane = i / in_plane;
    const int pos = (int)(i % in_plane);
    dx[i] = fer_avgpool_backward_at(g, dy + plane * out_plane, pos / g->in_w, pos % g->in_w);
}

/* ---- graph ops (graph_math.h): add, channel copy, mul gate, PReLU ------------------------ */

/* y may be x0 or x1: each thread reads its element before writing it. */
FER_HD void fer_kb_add(size_t i, const float *x0, const float *x1, float *y)
{
    y[i] = fer_add(x0[i], x1[i]);
}

/* Element i of the copied block (n * c * hw). */
FER_HD void fer_kb_channel_copy(size_t i, const fer_channel_copy_args *a, const float *src,
                                float *dst)
{
    size_t src_i, dst_i;
    fer_channel_copy_offsets(a, i, &src_i, &dst_i);
    dst[dst_i] = src[src_i];
}

/* pad2d: output element i (forward) and input element j (backward) */
FER_HD void fer_kb_pad2d_forward(size_t i, const fer_pad2d_args *a, const float *x, float *y)
{
    long long src = fer_pad2d_source(a, i);
    y[i] = src < 0 ? 0.0f : x[src];
}

FER_HD void fer_kb_pad2d_backward(size_t j, const fer_pad2d_args *a, const float *dy, float *dx)
{
    dx[j] = dy[fer_pad2d_target(a, j)];
}

FER_HD void fer_kb_mul_forward(size_t i, const fer_mul_args *a, const float *x, const float *g,
                               float *y)
{
    y[i] = fer_mul(x[i], g[fer_mul_gate_index(i, a->hw, a->g_hw)]);
}

FER_HD void fer_kb_mul_dx(size_t i, const fer_mul_args *a, const float *g, const float *dy,
                          float *dx)
{
    dx[i] = fer_mul(dy[i], g[fer_mul_gate_index(i, a->hw, a->g_hw)]);
}

/* dg of a gate of x's shape (g_hw == hw): one element. */
FER_HD void fer_kb_mul_dg_elem(size_t i, const float *x, const float *dy, float *dg)
{
    dg[i] = (float)fer_mul_dg_term(x[i], dy[i]);
}

/* dg of a broadcast gate (g_hw == 1): plane p's sum in order, in double (as ref). */
FER_HD void fer_kb_mul_dg_plane(size_t p, int hw, const float *x, const float *dy, float *dg)
{
    const size_t base = p * (size_t)hw;
    double s = 0.0;
    for (int k = 0; k < hw; k++)
        s += fer_mul_dg_term(x[base + k], dy[base + k]);
    dg[p] = (float)s;
}

FER_HD void fer_kb_prelu_forward(size_t i, const fer_prelu_args *a, const float *x,
                                 const float *w, float *y)
{
    y[i] = fer_prelu(x[i], w[(i / (size_t)a->hw) % (size_t)a->c]);
}

/* dx may be dy: the launcher runs this after the dw reduction has read dy. */
FER_HD void fer_kb_prelu_dx(size_t i, const fer_prelu_args *a, const float *x, const float *w,
                            const float *dy, float *dx)
{
    dx[i] = fer_prelu_backward(x[i], w[(i / (size_t)a->hw) % (size_t)a->c], dy[i]);
}

/* dw, first stage: plane p's (sample p / c, channel p % c) sum in order, in double. */
FER_HD void fer_kb_prelu_dw_plane(size_t p, int hw, const float *x, const float *dy,
                                  double *partial)
{
    const size_t base = p * (size_t)hw;
    double s = 0.0;
    for (int k = 0; k < hw; k++)
        s += fer_prelu_dw_term(x[base + k], dy[base + k]);
    partial[p] = s;
}

/* dw, second stage: channel c's plane sums in sample order (the cpu backend's order). */
FER_HD void fer_kb_prelu_dw_channel(int c, const fer_prelu_args *a, const double *partial,
                                    float *dw)
{
    double s = 0.0;
    for (int n = 0; n < a->n; n++)
        s += partial[(size_t)n * a->c + c];
    dw[c] = (float)s;
}

/* ---- heads ------------------------------------------------------------------------------ */

FER_HD void fer_kb_l2norm_row_forward(int r, int dim, const float *x, float *y, float *norms)
{
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

FER_HD void fer_kb_l2norm_row_backward(int r, int dim, const float *x, const float *norms,
                                       const float *dy, float *dx)
{
    const float *xr = x + (size_t)r * dim, *dyr = dy + (size_t)r * dim;
    double dot = 0.0;
    for (int i = 0; i < dim; i++)
        dot += (double)xr[i] * dyr[i];
    for (int i = 0; i < dim; i++)
        dx[(size_t)r * dim + i] = fer_l2norm_backward(xr[i], dyr[i], norms[r], (float)dot);
}

FER_HD void fer_kb_arcface_forward(size_t i, int c, const fer_arcface_consts *k,
                                   const float *cos, const int32_t *labels, float *logits)
{
    int r = (int)(i / (size_t)c), j = (int)(i % (size_t)c);
    logits[i] = fer_arcface_logit(cos[i], labels && labels[r] == j, k);
}

FER_HD void fer_kb_arcface_backward(size_t i, int c, const fer_arcface_consts *k,
                                    const float *cos, const int32_t *labels,
                                    const float *dlogits, float *dcos)
{
    int r = (int)(i / (size_t)c), j = (int)(i % (size_t)c);
    dcos[i] = fer_arcface_backward(cos[i], labels && labels[r] == j, dlogits[i], k);
}

FER_HD void fer_kb_softmax_row(int r, int cols, const float *x, float *y)
{
    fer_softmax_row(x + (size_t)r * cols, cols, y + (size_t)r * cols);
}

/* ---- loss: per-row terms, then one ordered sum ------------------------------------------ */

/* Summary of a batch loss, written on the device and copied to the host in one piece. */
typedef struct fer_kb_loss_result {
    double num, den;   /* sum of row losses, sum of label weights */
    float loss, inv;   /* num/den and 1/den (applied to dlogits) */
    int bad_row;       /* first row with a label outside 0..c-1, or -1 */
    int pad_;
} fer_kb_loss_result;

/* Row r's loss numerator and weight; dlogits (may be NULL) receives the undivided gradient.
 * With a->targets the row's soft target replaces the label (labels may be NULL). Returns 0
 * when the label is out of range (the row then contributes nothing). */
FER_HD int fer_kb_loss_row(int r, const fer_loss_args *a, const float *logits,
                           const int32_t *labels, const float *class_weights, float *dlogits,
                           float *row_num, float *row_den)
{
    const float *target = a->targets ? a->targets + (size_t)r * a->c : NULL;
    int y = target ? 0 : labels[r];
    if (y < 0 || y >= a->c) {
        row_num[r] = 0.0f;
        row_den[r] = 0.0f;
        return 0;
    }
    float gamma = a->kind == FER_LOSS_FOCAL ? a->gamma : 0.0f;
    row_num[r] = fer_loss_row(logits + (size_t)r * a->c, a->logit_offset, a->c, y, target,
                              class_weights, gamma, a->label_smoothing,
                              dlogits ? dlogits + (size_t)r * a->c : NULL);
    row_den[r] = fer_loss_row_weight(class_weights, y, target, a->c);
    return 1;
}

/* Sums the rows in order in double (as ref); bad_row is set by the caller. */
FER_HD void fer_kb_loss_finalize(int n, const float *row_num, const float *row_den,
                                 fer_kb_loss_result *res)
{
    double num = 0.0, den = 0.0;
    for (int r = 0; r < n; r++) {
        num += row_num[r];
        den += row_den[r];
    }
    res->num = num;
    res->den = den;
    res->loss = den > 0.0 ? (float)(num / den) : 0.0f;
    res->inv = den > 0.0 ? (float)(1.0 / den) : 0.0f;
}

/* ---- faces: the video element's batch path --------------------------------------------- */

/* Element i of x[n,1,48,48]: face i / 48^2 cut from the frame by its box (x, y, w, h). */
FER_HD void fer_kb_face_pixel(size_t i, const fer_face_batch_args *a, const uint8_t *frame,
                              const int32_t *boxes, float *x)
{
    const int side = FER_INPUT_SIZE, plane = FER_INPUT_SIZE * FER_INPUT_SIZE;
    const int f = (int)(i / (size_t)plane), p = (int)(i % (size_t)plane);
    const int32_t *box = boxes + 4 * (size_t)f;
    fer_crop_rect r = fer_face_crop_rect(a->w, a->h, box[0], box[1], box[2], box[3], a->margin);
    uint8_t v = fer_face_pixel(frame, a->stride, r, side, p % side, p / side);
    x[i] = fer_normalize_pixel(v, a->mean, a->std);
}

/* ---- AMP: per-tensor power-of-two gradient scaling --------------------------------------- */

/* Largest |dy| is brought to [2^11, 2^12): well inside FP16's normal range (6.1e-5 .. 65504)
 * with headroom for sums, so small gradients keep their mantissa when down-converted. A power
 * of two makes scaling and unscaling exact in FP32. Non-finite or zero maxima leave S = 1. */
#define FER_AMP_TARGET_EXP 12

FER_HD float fer_kb_amp_scale_for(float maxabs)
{
    if (!(maxabs > 0.0f) || !(maxabs <= 3.4028235e38f))
        return 1.0f;
    int e;
    (void)frexpf(maxabs, &e); /* maxabs = m * 2^e, m in [0.5, 1) */
    int shift = FER_AMP_TARGET_EXP - e;
    if (shift > 127) /* S stays a finite, normal float */
        shift = 127;
    if (shift < -126)
        shift = -126;
    return ldexpf(1.0f, shift);
}

/* Bits of |x| order like the values for non-negative floats, so an integer max works. */
FER_HD uint32_t fer_kb_abs_bits(float x)
{
    union { float f; uint32_t u; } v;
    v.f = x;
    return v.u & 0x7fffffffu;
}

FER_HD float fer_kb_float_from_bits(uint32_t u)
{
    union { float f; uint32_t u; } v;
    v.u = u;
    return v.f;
}

#endif
