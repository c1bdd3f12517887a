/* AVX2 + FMA kernels (selected at run time when the CPU has both). The register tiles are sized
 * for the 16 ymm registers: 12 accumulators, the loaded input vectors and one broadcast.
 * The conv tile, GEMM, Winograd-GEMM and streaming kernels come from cpu_kernels_vec.h (written
 * once over the vector width, VW = 8 here), and so does the flat-plane weight-gradient tile;
 * maxpool2x2 and gemm_row_nt are AVX2-only and are also used by the AVX-512 set
 * (cpu_kernels_avx512.c). */
#include "cpu_internal.h"

#if defined(FER_CPU_HAVE_AVX2)
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#include <math.h>

#define WINO_FMA(a, b, c) ((wv)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define WINO_FNMA(a, b, c) ((wv)_mm256_fnmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#include "cpu_pool_impl.h"
#include "cpu_tile_store.h"
#include "cpu_wino_impl.h"

static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* the width-generic kernels at VW = 8 */
#define VW 8
typedef __m256 vf;
#define VK(name) name##_avx2
#define v_zero() _mm256_setzero_ps()
#define v_load(p) _mm256_loadu_ps(p)
#define v_store(p, v) _mm256_storeu_ps((p), (v))
#define v_stream(p, v) _mm256_stream_ps((p), (v)) /* p aligned to the vector */
#define v_bcast(p) _mm256_broadcast_ss(p)
#define v_set1(s) _mm256_set1_ps(s)
#define v_add(a, b) _mm256_add_ps((a), (b))
#define v_sub(a, b) _mm256_sub_ps((a), (b))
#define v_fma(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define v_fms(a, b, c) _mm256_fmsub_ps((a), (b), (c))
#define v_fnma(a, b, c) _mm256_fnmadd_ps((a), (b), (c))
/* max(x, +0) returns the second operand for NaN and for -0, exactly as fer_relu */
#define v_max0(x) _mm256_max_ps((x), _mm256_setzero_ps())
#define v_keep_pos(y, d)                                                                          \
    _mm256_and_ps(_mm256_cmp_ps((y), _mm256_setzero_ps(), _CMP_GT_OQ), (d))
#define v_hsum(v) hsum256(v)
#define v_load8(p) _mm256_loadu_ps(p)
/* the conv tile's 6 rows of 2 x 8 channels, transposed into 16 NCHW channel rows */
#define v_conv_store(r, bias, out, out_stride, n_co, n_px)                                       \
    do {                                                                                          \
        store_rows8((r)[0][0], (r)[1][0], (r)[2][0], (r)[3][0], (r)[4][0], (r)[5][0], (bias),     \
                    (out), (out_stride), (n_co), (n_px));                                         \
        if ((n_co) > 8)                                                                           \
            store_rows8((r)[0][1], (r)[1][1], (r)[2][1], (r)[3][1], (r)[4][1], (r)[5][1],         \
                        (bias) ? (bias) + 8 : NULL, (out) + 8 * (out_stride), (out_stride),       \
                        (n_co) - 8, (n_px));                                                      \
    } while (0)
#include "cpu_kernels_vec.h"

/* 8 outputs at a time: even/odd columns split with shuffles, the reference rule as masks */
void cpu_avx2_maxpool2x2(const float *x, int in_w, int out_h, int out_w, float *y,
                         int32_t *argmax)
{
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int oh = 0; oh < out_h; oh++) {
        const float *r0 = x + (size_t)(2 * oh) * in_w, *r1 = r0 + in_w;
        float *yr = y + (size_t)oh * out_w;
        int32_t *ar = argmax ? argmax + (size_t)oh * out_w : NULL;
        int ow = 0;
        for (; ow + 8 <= out_w; ow += 8) {
            __m256 a0 = _mm256_loadu_ps(r0 + 2 * ow), a1 = _mm256_loadu_ps(r0 + 2 * ow + 8);
            __m256 b0 = _mm256_loadu_ps(r1 + 2 * ow), b1 = _mm256_loadu_ps(r1 + 2 * ow + 8);
            __m256 v[4];
            v[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a0, a1, 0x88)), 0xD8));
            v[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a0, a1, 0xDD)), 0xD8));
            v[2] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(b0, b1, 0x88)), 0xD8));
            v[3] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(b0, b1, 0xDD)), 0xD8));
            __m256i base = _mm256_add_epi32(_mm256_set1_epi32(2 * oh * in_w + 2 * ow), lane2);
            __m256i off[4] = {_mm256_setzero_si256(), _mm256_set1_epi32(1),
                              _mm256_set1_epi32(in_w), _mm256_set1_epi32(in_w + 1)};
            __m256 best = v[0];
            __m256i idx = base;
            for (int k = 1; k < 4; k++) {
                /* replace when v > best, or v is NaN and best is not */
                __m256 gt = _mm256_cmp_ps(v[k], best, _CMP_GT_OQ);
                __m256 nan = _mm256_andnot_ps(_mm256_cmp_ps(best, best, _CMP_UNORD_Q),
                                              _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q));
                __m256 sel = _mm256_or_ps(gt, nan);
                best = _mm256_blendv_ps(best, v[k], sel);
                idx = _mm256_castps_si256(_mm256_blendv_ps(
                    _mm256_castsi256_ps(idx), _mm256_castsi256_ps(_mm256_add_epi32(base, off[k])), sel));
            }
            _mm256_storeu_ps(yr + ow, best);
            if (ar)
                _mm256_storeu_si256((__m256i *)(void *)(ar + ow), idx);
        }
        if (ow < out_w)
            maxpool2x2_row(x, in_w, out_w, oh, ow, y, argmax);
    }
}

/* 8 outputs at a time: 8 rows of b, 8 k per step, transposed in registers so each lane runs
 * the same fused chain over k as the 6x16 micro-kernel */
void cpu_avx2_gemm_row_nt(int kc, const float *a, const float *b, size_t ldb, int n, float *c,
                          int first)
{
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const float *r = b + (size_t)j * ldb;
        __m256 acc = _mm256_setzero_ps();
        int k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 r0 = _mm256_loadu_ps(r + k), r1 = _mm256_loadu_ps(r + ldb + k),
                   r2 = _mm256_loadu_ps(r + 2 * ldb + k), r3 = _mm256_loadu_ps(r + 3 * ldb + k),
                   r4 = _mm256_loadu_ps(r + 4 * ldb + k), r5 = _mm256_loadu_ps(r + 5 * ldb + k),
                   r6 = _mm256_loadu_ps(r + 6 * ldb + k), r7 = _mm256_loadu_ps(r + 7 * ldb + k);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            /* column k+q of the 8 rows, in k order */
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 0), _mm256_permute2f128_ps(u0, u4, 0x20), acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 1), _mm256_permute2f128_ps(u1, u5, 0x20), acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 2), _mm256_permute2f128_ps(u2, u6, 0x20), acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 3), _mm256_permute2f128_ps(u3, u7, 0x20), acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 4), _mm256_permute2f128_ps(u0, u4, 0x31), acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 5), _mm256_permute2f128_ps(u1, u5, 0x31), acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 6), _mm256_permute2f128_ps(u2, u6, 0x31), acc);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k + 7), _mm256_permute2f128_ps(u3, u7, 0x31), acc);
        }
        for (; k < kc; k++) {
            __m256 col = _mm256_setr_ps(r[k], r[ldb + k], r[2 * ldb + k], r[3 * ldb + k],
                                        r[4 * ldb + k], r[5 * ldb + k], r[6 * ldb + k],
                                        r[7 * ldb + k]);
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k), col, acc);
        }
        _mm256_storeu_ps(c + j, first ? acc : _mm256_add_ps(_mm256_loadu_ps(c + j), acc));
    }
    for (; j < n; j++) { /* fmaf: the same correctly rounded fused step as a vector lane */
        const float *r = b + (size_t)j * ldb;
        float acc = 0.0f;
        for (int k = 0; k < kc; k++)
            acc = fmaf(a[k], r[k], acc);
        c[j] = first ? acc : c[j] + acc;
    }
}

const cpu_kernels cpu_kernels_avx2 = {
    .name = "avx2",
    .gemm_nr = 16,
    .wino_co = 16,
    .wino_cb = 8,
    .conv_co = 16,
    .conv_tile = conv_tile_avx2,
    .convw_tile = convw_tile_avx2,
    .gemm_micro = gemm_micro_avx2,
    .relu_fwd = relu_fwd_avx2,
    .relu_bwd = relu_bwd_avx2,
    .affine = affine_avx2,
    .bn_bwd_apply = bn_bwd_apply_avx2,
    .shifted_sums = shifted_sums_avx2,
    .grad_sums = grad_sums_avx2,
    .maxpool2x2 = cpu_avx2_maxpool2x2,
    .axpy = axpy_avx2,
    .stream_copy = stream_copy_avx2,
    .gemm_row_nt = cpu_avx2_gemm_row_nt,
    .wino_block = wino_block_band,
    .dw3_blocked = dw3_blocked,
    .f23 = {wino2_in_tiles, wino2_dy_tiles, wino2_out_tiles},
    .f43 = {wino_in_tiles, wino_dy_tiles, wino_out_tiles},
    .wino_gemm = wino_gemm_avx2,
    .wino_gemm_tn = wino_gemm_tn_avx2,
};
#endif
