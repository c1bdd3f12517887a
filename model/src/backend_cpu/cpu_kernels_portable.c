/* Portable C kernels: the same tiles as the AVX2 set, written as plain loops the compiler can
 * vectorise for whatever target it builds for. Used where AVX2+FMA is absent, with
 * -Dcpu_backend=portable, or when FER_CPU_KERNELS=portable. */
#include <string.h>

#include "cpu_internal.h"
#include "cpu_pool_impl.h"
#include "fer/layer_math.h"
#include "cpu_wino_impl.h"

#define PORTABLE_NR 16 /* gemm_micro's columns, wino_gemm's and conv_tile's channels */

static void conv_tile_portable(const float *x, size_t x_stride, int cin, const int *offs, int kk,
                               const float *w, const float *bias, float *out, size_t out_stride,
                               int n_co, int n_px)
{
    float acc[CPU_CONV_PX][PORTABLE_NR] = {{0}};
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * x_stride;
        for (int t = 0; t < kk; t++) {
            const float *xt = xc + offs[t];
            const float *wt = w + ((size_t)c * kk + t) * PORTABLE_NR;
            for (int p = 0; p < CPU_CONV_PX; p++) {
                float xv = xt[p];
                for (int o = 0; o < PORTABLE_NR; o++)
                    acc[p][o] += xv * wt[o];
            }
        }
    }
    for (int o = 0; o < n_co; o++) {
        float bv = bias ? bias[o] : 0.0f;
        for (int p = 0; p < n_px; p++)
            out[(size_t)o * out_stride + p] = acc[p][o] + bv;
    }
}

static void convw_tile_portable(const float *dy, size_t dy_stride, const float *x,
                                const int *offs, int ntaps, size_t len, float *acc)
{
    for (int r = 0; r < CPU_CONVW_MR; r++) {
        const float *d = dy + (size_t)r * dy_stride;
        for (int t = 0; t < ntaps; t++) {
            float part[8] = {0};
            for (size_t j = 0; j < len; j += 8)
                for (int l = 0; l < 8; l++)
                    part[l] += d[j + l] * x[offs[t] + (ptrdiff_t)(j + l)];
            float s = 0.0f;
            for (int l = 0; l < 8; l++)
                s += part[l];
            acc[r * ntaps + t] += s;
        }
    }
}

static void gemm_micro_portable(int kc, const float *a, const float *b, float *c, size_t ldc,
                                int accumulate)
{
    float acc[CPU_GEMM_MR][PORTABLE_NR] = {{0}};
    for (int p = 0; p < kc; p++) {
        const float *ap = a + (size_t)p * CPU_GEMM_MR, *bp = b + (size_t)p * PORTABLE_NR;
        for (int i = 0; i < CPU_GEMM_MR; i++)
            for (int j = 0; j < PORTABLE_NR; j++)
                acc[i][j] += ap[i] * bp[j];
    }
    for (int i = 0; i < CPU_GEMM_MR; i++) {
        float *ci = c + (size_t)i * ldc;
        if (accumulate)
            for (int j = 0; j < PORTABLE_NR; j++)
                ci[j] += acc[i][j];
        else
            memcpy(ci, acc[i], sizeof acc[i]);
    }
}

static void relu_fwd_portable(size_t n, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

static void relu_bwd_portable(size_t n, const float *y, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* y = x * scale + shift (then relu): the same expression a gate recomputes in backward */
static void affine_portable(size_t n, const float *x, float scale, float shift, int relu,
                            float *y)
{
    if (relu)
        for (size_t i = 0; i < n; i++)
            y[i] = fer_relu(x[i] * scale + shift);
    else
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * scale + shift;
}

static inline float gate_dy(float x, float dy, const cpu_relu_gate *g)
{
    return g ? fer_relu_backward(x * g->scale + g->shift, dy) : dy;
}

static void bn_bwd_apply_portable(size_t n, const float *x, const float *dy, float mean,
                                  float invstd, float gi, float mdy, float mdyx,
                                  const cpu_relu_gate *gate, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = gi * (gate_dy(x[i], dy[i], gate) - mdy - (x[i] - mean) * invstd * mdyx);
}

/* 8 float lanes per call, summed in double by the caller's per-plane accumulation */
static void shifted_sums_portable(size_t n, const float *x, float pivot, double *s)
{
    float a[8] = {0}, b[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            float d = x[i + l] - pivot;
            a[l] += d;
            b[l] += d * d;
        }
    for (; i < n; i++) {
        float d = x[i] - pivot;
        a[0] += d;
        b[0] += d * d;
    }
    float ta = 0.0f, tb = 0.0f;
    for (int l = 0; l < 8; l++) {
        ta += a[l];
        tb += b[l];
    }
    s[0] += ta;
    s[1] += tb;
}

static void grad_sums_portable(size_t n, const float *x, const float *dy, float mean,
                               const cpu_relu_gate *gate, double *s)
{
    float a[8] = {0}, b[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            float g = gate_dy(x[i + l], dy[i + l], gate);
            a[l] += g;
            b[l] += g * (x[i + l] - mean);
        }
    for (; i < n; i++) {
        float g = gate_dy(x[i], dy[i], gate);
        a[0] += g;
        b[0] += g * (x[i] - mean);
    }
    float ta = 0.0f, tb = 0.0f;
    for (int l = 0; l < 8; l++) {
        ta += a[l];
        tb += b[l];
    }
    s[0] += ta;
    s[1] += tb;
}

/* 2x2, stride 2, the reference rule unrolled */
static void maxpool2x2_portable(const float *x, int in_w, int out_h, int out_w, float *y,
                                int32_t *argmax)
{
    for (int oh = 0; oh < out_h; oh++)
        maxpool2x2_row(x, in_w, out_w, oh, 0, y, argmax);
}

static void stream_copy_portable(float *dst, const float *src, size_t n)
{
    memcpy(dst, src, n * sizeof(float));
}

static void axpy_portable(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static void wino_gemm_portable(int kc, const float *a, size_t lda, const float *b, float *c,
                               size_t ldc)
{
    float acc[6][16] = {{0}};
    for (int k = 0; k < kc; k++)
        for (int p = 0; p < 6; p++) {
            float av = a[(size_t)p * lda + k];
            for (int o = 0; o < 16; o++)
                acc[p][o] += av * b[(size_t)k * 16 + o];
        }
    for (int p = 0; p < 6; p++)
        memcpy(c + (size_t)p * ldc, acc[p], sizeof acc[p]);
}

static void wino_gemm_tn_portable(int kc, const float *a, size_t lda, const float *b, size_t ldb,
                                  float *c, size_t ldc)
{
    float acc[6][16];
    for (int p = 0; p < 6; p++)
        memcpy(acc[p], c + (size_t)p * ldc, sizeof acc[p]);
    for (int k = 0; k < kc; k++)
        for (int p = 0; p < 6; p++) {
            float av = a[(size_t)k * lda + p];
            for (int o = 0; o < 16; o++)
                acc[p][o] += av * b[(size_t)k * ldb + o];
        }
    for (int p = 0; p < 6; p++)
        memcpy(c + (size_t)p * ldc, acc[p], sizeof acc[p]);
}

static void gemm_row_nt_portable(int kc, const float *a, const float *b, size_t ldb, int n,
                                 float *c, int first)
{
    for (int j = 0; j < n; j++) {
        const float *bj = b + (size_t)j * ldb;
        float acc = 0.0f;
        for (int k = 0; k < kc; k++)
            acc += a[k] * bj[k];
        c[j] = first ? acc : c[j] + acc;
    }
}

const cpu_kernels cpu_kernels_portable = {
    .name = "portable",
    .gemm_nr = PORTABLE_NR,
    .wino_co = PORTABLE_NR,
    .wino_cb = 8,
    .conv_co = PORTABLE_NR,
    .conv_tile = conv_tile_portable,
    .convw_tile = convw_tile_portable,
    .gemm_micro = gemm_micro_portable,
    .relu_fwd = relu_fwd_portable,
    .relu_bwd = relu_bwd_portable,
    .affine = affine_portable,
    .bn_bwd_apply = bn_bwd_apply_portable,
    .shifted_sums = shifted_sums_portable,
    .grad_sums = grad_sums_portable,
    .maxpool2x2 = maxpool2x2_portable,
    .axpy = axpy_portable,
    .stream_copy = stream_copy_portable,
    .gemm_row_nt = gemm_row_nt_portable,
    .wino_block = wino_block_band,
    .dw3_blocked = dw3_blocked,
    .f23 = {wino2_in_tiles, wino2_dy_tiles, wino2_out_tiles},
    .f43 = {wino_in_tiles, wino_dy_tiles, wino_out_tiles},
    .wino_gemm = wino_gemm_portable,
    .wino_gemm_tn = wino_gemm_tn_portable,
};
