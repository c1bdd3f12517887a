/* Portable C kernels: the same tiles as the AVX2 set, written as plain loops the compiler can
 * vectorise for whatever target it builds for. Used where AVX2+FMA is absent, with
 * -Dcpu_backend=portable, or when FER_CPU_KERNELS=portable. */
#include <string.h>

#include "cpu_internal.h"

static void conv_tile_portable(const float *x, size_t x_stride, int cin, const int *offs, int kk,
                               const float *w, const float *bias, float *out, size_t out_stride)
{
    float acc[CPU_CONV_MR][CPU_CONV_NR];
    for (int r = 0; r < CPU_CONV_MR; r++)
        for (int j = 0; j < CPU_CONV_NR; j++)
            acc[r][j] = bias ? bias[r] : 0.0f;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * x_stride;
        for (int t = 0; t < kk; t++) {
            const float *xt = xc + offs[t];
            const float *wt = w + ((size_t)c * kk + t) * CPU_CONV_MR;
            for (int r = 0; r < CPU_CONV_MR; r++) {
                float wv = wt[r];
                for (int j = 0; j < CPU_CONV_NR; j++)
                    acc[r][j] += wv * xt[j];
            }
        }
    }
    for (int r = 0; r < CPU_CONV_MR; r++)
        memcpy(out + (size_t)r * out_stride, acc[r], sizeof acc[r]);
}

static void convw_tile_portable(const float *dy, size_t dy_stride, const float *x, int ntaps,
                                size_t len, float *acc)
{
    for (int r = 0; r < CPU_CONVW_MR; r++) {
        const float *d = dy + (size_t)r * dy_stride;
        for (int t = 0; t < ntaps; t++) {
            float part[8] = {0};
            for (size_t j = 0; j < len; j += 8)
                for (int l = 0; l < 8; l++)
                    part[l] += d[j + l] * x[j + l + t];
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
    float acc[CPU_GEMM_MR][CPU_GEMM_NR] = {{0}};
    for (int p = 0; p < kc; p++) {
        const float *ap = a + (size_t)p * CPU_GEMM_MR, *bp = b + (size_t)p * CPU_GEMM_NR;
        for (int i = 0; i < CPU_GEMM_MR; i++)
            for (int j = 0; j < CPU_GEMM_NR; j++)
                acc[i][j] += ap[i] * bp[j];
    }
    for (int i = 0; i < CPU_GEMM_MR; i++) {
        float *ci = c + (size_t)i * ldc;
        if (accumulate)
            for (int j = 0; j < CPU_GEMM_NR; j++)
                ci[j] += acc[i][j];
        else
            memcpy(ci, acc[i], sizeof acc[i]);
    }
}

const cpu_kernels cpu_kernels_portable = {
    .name = "portable",
    .conv_tile = conv_tile_portable,
    .convw_tile = convw_tile_portable,
    .gemm_micro = gemm_micro_portable,
};
