/* AVX-512 kernels (selected at run time when the CPU has AVX512F and the OS saves the zmm
 * state). The flat-plane conv and weight-gradient tiles, GEMM, Winograd-GEMM and streaming
 * kernels are cpu_kernels_vec.h at VW = 16: the same 6-row x 2-vector register tile as the AVX2
 * set, so 6 x 32 (12 of the 32 zmm), and the same per-element arithmetic (identical bits for the
 * conv tile and GEMMs); the conv tile and the GEMMs also run 12 rows at a time (24
 * accumulators, which AVX2's 16 registers cannot hold), with the same bits. Max pooling and the small-batch row GEMM are the AVX2 set's (ymm). The Winograd transforms
 * (cpu_wino_impl.h) are compiled here with this file's target on 16-channel vectors. */
#include "cpu_internal.h"

#if defined(FER_CPU_HAVE_AVX512)
#if defined(FER_CPU_HAVE_BF16) /* only wino2_in_tiles_bf16 uses it, only in bf16 mode */
#pragma GCC target("avx512f,avx512vl,avx512bf16,avx2,fma")
#include <immintrin.h>
#define WINO_ST_BF16(p, v)                                                                         \
    _mm256_storeu_si256((__m256i *)(void *)(p), (__m256i)_mm512_cvtneps_pbh((__m512)(v)))
#else
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#include <immintrin.h>
#endif

/* the Winograd transforms on 16-channel vectors (zmm): half the instructions of 8 */
#define WINO_CB 16
#define WINO_FMA(a, b, c) ((wv)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define WINO_FNMA(a, b, c) ((wv)_mm512_fnmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#include "cpu_tile_store.h"
#include "cpu_wino_impl.h"

#if defined(FER_CPU_HAVE_BF16)
static void wino2_in_tiles_bf16(const float *xb, int cols, int tr, int tw, uint16_t *v,
                                size_t xi_stride, size_t tile_stride)
{
    wino2_in_tiles_as(xb, cols, tr, tw, v, xi_stride, tile_stride, 1);
}
#define WINO2_IN_BF16 wino2_in_tiles_bf16
#else
#define WINO2_IN_BF16 NULL
#endif

/* y > 0 ? d : 0 per lane (ordered compare: NaN gives 0, as fer_relu_backward) */
static inline __m512 keep_pos512(__m512 y, __m512 d)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), d);
}

#define VW 16
typedef __m512 vf;
#define VK(name) name##_avx512
#define v_zero() _mm512_setzero_ps()
#define v_load(p) _mm512_loadu_ps(p)
#define v_store(p, v) _mm512_storeu_ps((p), (v))
#define v_stream(p, v) _mm512_stream_ps((p), (v)) /* p aligned to the vector */
#define v_bcast(p) _mm512_set1_ps(*(p))
#define v_set1(s) _mm512_set1_ps(s)
#define v_add(a, b) _mm512_add_ps((a), (b))
#define v_sub(a, b) _mm512_sub_ps((a), (b))
#define v_fma(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define v_fms(a, b, c) _mm512_fmsub_ps((a), (b), (c))
#define v_fnma(a, b, c) _mm512_fnmadd_ps((a), (b), (c))
/* max(x, +0) returns the second operand for NaN and for -0, exactly as fer_relu */
#define v_max0(x) _mm512_max_ps((x), _mm512_setzero_ps())
#define v_keep_pos(y, d) keep_pos512((y), (d))
#define v_hsum(v) _mm512_reduce_add_ps(v)
#define v_load8(p) _mm512_maskz_loadu_ps(0x00FF, (p))
/* the conv tile's 6 rows of 2 x 16 channels: four ymm quarters of 8 channels, each transposed
 * into 8 NCHW channel rows */
static inline void conv_store512(__m512 r[6][2], const float *bias, float *out, size_t out_stride,
                                 int n_co, int n_px)
{
    for (int q = 0; q < 4 && 8 * q < n_co; q++) {
        __m256 h[6];
        for (int p = 0; p < 6; p++)
            h[p] = (q & 1) ? _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                 _mm512_castps_pd(r[p][q >> 1]), 1))
                           : _mm512_castps512_ps256(r[p][q >> 1]);
        store_rows8(h[0], h[1], h[2], h[3], h[4], h[5], bias ? bias + 8 * q : NULL,
                    out + (size_t)(8 * q) * out_stride, out_stride, n_co - 8 * q, n_px);
    }
}
#define v_conv_store(r, bias, out, out_stride, n_co, n_px)                                       \
    conv_store512((r), (bias), (out), (out_stride), (n_co), (n_px))
#include "cpu_kernels_vec.h"

const cpu_kernels cpu_kernels_avx512 = {
    .name = "avx512",
    .gemm_nr = 32,
    .wino_co = 32,
    .wino_cb = 16,
    .conv_co = 32,
    .conv_tile = conv_tile_avx512,
    .conv_tile12 = conv_tile12_avx512,
    .convw_tile = convw_tile_avx512,
    .gemm_micro = gemm_micro_avx512,
    .gemm_micro12 = gemm_micro12_avx512,
    .relu_fwd = relu_fwd_avx512,
    .relu_bwd = relu_bwd_avx512,
    .affine = affine_avx512,
    .bn_bwd_apply = bn_bwd_apply_avx512,
    .shifted_sums = shifted_sums_avx512,
    .grad_sums = grad_sums_avx512,
    .maxpool2x2 = cpu_avx2_maxpool2x2,
    .axpy = axpy_avx512,
    .stream_copy = stream_copy_avx512,
    .gemm_row_nt = cpu_avx2_gemm_row_nt,
    .wino_block = wino_block_band,
    .dw3_blocked = dw3_blocked,
    .f23 = {wino2_in_tiles, wino2_dy_tiles, wino2_out_tiles, WINO2_IN_BF16},
    .f43 = {wino_in_tiles, wino_dy_tiles, wino_out_tiles},
    .wino_gemm = wino_gemm_avx512,
    .wino_gemm12 = wino_gemm12_avx512,
    .wino_gemm_tn = wino_gemm_tn_avx512,
    .wino_gemm_tn12 = wino_gemm_tn12_avx512,
};
#endif
