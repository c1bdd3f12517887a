/* AVX2 + FMA kernels (selected at run time when the CPU has both). The register tiles are sized
 * for the 16 ymm registers: 12 accumulators, the loaded input vectors and one broadcast. */
#include "cpu_internal.h"

#if defined(FER_CPU_HAVE_AVX2)
#pragma GCC target("avx2,fma")
#include <immintrin.h>

/* 4 output channels x 24 flat positions: per (channel, tap) 3 vector loads, 4 broadcasts, 12 FMA */
static void conv_tile_avx2(const float *x, size_t x_stride, int cin, const int *offs, int kk,
                           const float *w, const float *bias, float *out, size_t out_stride)
{
    __m256 a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32;
    if (bias) {
        a00 = a01 = a02 = _mm256_broadcast_ss(bias + 0);
        a10 = a11 = a12 = _mm256_broadcast_ss(bias + 1);
        a20 = a21 = a22 = _mm256_broadcast_ss(bias + 2);
        a30 = a31 = a32 = _mm256_broadcast_ss(bias + 3);
    } else {
        a00 = a01 = a02 = a10 = a11 = a12 = _mm256_setzero_ps();
        a20 = a21 = a22 = a30 = a31 = a32 = _mm256_setzero_ps();
    }
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * x_stride;
        const float *wc = w + (size_t)c * kk * CPU_CONV_MR;
        for (int t = 0; t < kk; t++) {
            const float *xt = xc + offs[t];
            const float *wt = wc + t * CPU_CONV_MR;
            __m256 x0 = _mm256_loadu_ps(xt), x1 = _mm256_loadu_ps(xt + 8),
                   x2 = _mm256_loadu_ps(xt + 16);
            __m256 wv = _mm256_broadcast_ss(wt + 0);
            a00 = _mm256_fmadd_ps(wv, x0, a00);
            a01 = _mm256_fmadd_ps(wv, x1, a01);
            a02 = _mm256_fmadd_ps(wv, x2, a02);
            wv = _mm256_broadcast_ss(wt + 1);
            a10 = _mm256_fmadd_ps(wv, x0, a10);
            a11 = _mm256_fmadd_ps(wv, x1, a11);
            a12 = _mm256_fmadd_ps(wv, x2, a12);
            wv = _mm256_broadcast_ss(wt + 2);
            a20 = _mm256_fmadd_ps(wv, x0, a20);
            a21 = _mm256_fmadd_ps(wv, x1, a21);
            a22 = _mm256_fmadd_ps(wv, x2, a22);
            wv = _mm256_broadcast_ss(wt + 3);
            a30 = _mm256_fmadd_ps(wv, x0, a30);
            a31 = _mm256_fmadd_ps(wv, x1, a31);
            a32 = _mm256_fmadd_ps(wv, x2, a32);
        }
    }
    float *o = out;
    _mm256_storeu_ps(o, a00);
    _mm256_storeu_ps(o + 8, a01);
    _mm256_storeu_ps(o + 16, a02);
    o += out_stride;
    _mm256_storeu_ps(o, a10);
    _mm256_storeu_ps(o + 8, a11);
    _mm256_storeu_ps(o + 16, a12);
    o += out_stride;
    _mm256_storeu_ps(o, a20);
    _mm256_storeu_ps(o + 8, a21);
    _mm256_storeu_ps(o + 16, a22);
    o += out_stride;
    _mm256_storeu_ps(o, a30);
    _mm256_storeu_ps(o + 8, a31);
    _mm256_storeu_ps(o + 16, a32);
}

static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 4 output channels x 3 taps: per 8 positions 3 input loads, 4 gradient loads, 12 FMA */
static void convw_tile_avx2(const float *dy, size_t dy_stride, const float *x, int ntaps,
                            size_t len, float *acc)
{
    const float *d0 = dy, *d1 = dy + dy_stride, *d2 = dy + 2 * dy_stride,
                *d3 = dy + 3 * dy_stride;
    if (ntaps == 3) {
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00,
               a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (size_t j = 0; j < len; j += 8) {
            __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 1),
                   x2 = _mm256_loadu_ps(x + j + 2);
            __m256 d = _mm256_loadu_ps(d0 + j);
            a00 = _mm256_fmadd_ps(d, x0, a00);
            a01 = _mm256_fmadd_ps(d, x1, a01);
            a02 = _mm256_fmadd_ps(d, x2, a02);
            d = _mm256_loadu_ps(d1 + j);
            a10 = _mm256_fmadd_ps(d, x0, a10);
            a11 = _mm256_fmadd_ps(d, x1, a11);
            a12 = _mm256_fmadd_ps(d, x2, a12);
            d = _mm256_loadu_ps(d2 + j);
            a20 = _mm256_fmadd_ps(d, x0, a20);
            a21 = _mm256_fmadd_ps(d, x1, a21);
            a22 = _mm256_fmadd_ps(d, x2, a22);
            d = _mm256_loadu_ps(d3 + j);
            a30 = _mm256_fmadd_ps(d, x0, a30);
            a31 = _mm256_fmadd_ps(d, x1, a31);
            a32 = _mm256_fmadd_ps(d, x2, a32);
        }
        acc[0] += hsum256(a00);
        acc[1] += hsum256(a01);
        acc[2] += hsum256(a02);
        acc[3] += hsum256(a10);
        acc[4] += hsum256(a11);
        acc[5] += hsum256(a12);
        acc[6] += hsum256(a20);
        acc[7] += hsum256(a21);
        acc[8] += hsum256(a22);
        acc[9] += hsum256(a30);
        acc[10] += hsum256(a31);
        acc[11] += hsum256(a32);
        return;
    }
    for (int t = 0; t < ntaps; t++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (size_t j = 0; j < len; j += 8) {
            __m256 xv = _mm256_loadu_ps(x + j + t);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(d0 + j), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(d1 + j), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(d2 + j), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(d3 + j), xv, a3);
        }
        acc[0 * ntaps + t] += hsum256(a0);
        acc[1 * ntaps + t] += hsum256(a1);
        acc[2 * ntaps + t] += hsum256(a2);
        acc[3 * ntaps + t] += hsum256(a3);
    }
}

/* 6 x 16 register tile over packed panels */
static void gemm_micro_avx2(int kc, const float *a, const float *b, float *c, size_t ldc,
                            int accumulate)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
        a += CPU_GEMM_MR;
        b += CPU_GEMM_NR;
    }
    __m256 rows[CPU_GEMM_MR][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                   {c30, c31}, {c40, c41}, {c50, c51}};
    for (int i = 0; i < CPU_GEMM_MR; i++) {
        float *ci = c + (size_t)i * ldc;
        if (accumulate) {
            rows[i][0] = _mm256_add_ps(rows[i][0], _mm256_loadu_ps(ci));
            rows[i][1] = _mm256_add_ps(rows[i][1], _mm256_loadu_ps(ci + 8));
        }
        _mm256_storeu_ps(ci, rows[i][0]);
        _mm256_storeu_ps(ci + 8, rows[i][1]);
    }
}

const cpu_kernels cpu_kernels_avx2 = {
    .name = "avx2",
    .conv_tile = conv_tile_avx2,
    .convw_tile = convw_tile_avx2,
    .gemm_micro = gemm_micro_avx2,
};
#endif
