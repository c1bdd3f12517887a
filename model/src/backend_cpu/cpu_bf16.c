/* bf16 GEMM kernels (cpu_bf16.h): vdpbf16ps with FP32 accumulators, compiled for
 * AVX512F/BW/VL + AVX512_BF16 (target pragma, as the other kernel files) when the compiler has
 * it (FER_CPU_HAVE_BF16); the backend calls them only on a CPU with AVX512_BF16 (CPUID).
 * The register tile is the FP32 Winograd GEMM's: 6 rows x 2 zmm (32 output channels), but each
 * instruction sums two products per lane, so one k step here is two of the FP32 kernel's. */
#include <string.h>

#include "cpu_bf16.h"

uint16_t cpu_bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a (quiet) NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#if defined(FER_CPU_HAVE_BF16)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")
#include <immintrin.h>

int cpu_bf16_built(void)
{
    return 1;
}

void cpu_bf16_convert(size_t n, const float *src, uint16_t *dst)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512((void *)(dst + i), (__m512i)v);
    }
    for (; i < n; i++)
        dst[i] = cpu_bf16_round(src[i]);
}

/* 16 lanes of 32-bit pairs: low half bf16(lo), high half bf16(hi) */
static inline __m512i pair16(__m512 lo, __m512 hi)
{
    __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
    __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

void cpu_bf16_pack_pairs(const float *src, size_t ld, int rows, int cols, uint32_t *dst,
                         size_t dst_ld)
{
    for (int r = 0; r < rows; r += 2) {
        const float *s0 = src + (size_t)r * ld, *s1 = s0 + ld;
        int has1 = r + 1 < rows;
        uint32_t *d = dst + (size_t)(r / 2) * dst_ld;
        for (int c = 0; c < cols; c += 16) {
            __mmask16 m = cols - c >= 16 ? (__mmask16)0xffff
                                         : (__mmask16)((1u << (cols - c)) - 1u);
            __m512 lo = _mm512_maskz_loadu_ps(m, s0 + c);
            __m512 hi = has1 ? _mm512_maskz_loadu_ps(m, s1 + c) : _mm512_setzero_ps();
            _mm512_mask_storeu_epi32(d + c, m, pair16(lo, hi));
        }
    }
}

void cpu_bf16_pack_pairs_t(const float *src, size_t ld, int rows, int k, uint32_t *dst,
                           size_t dst_ld)
{
    int full = k / 2; /* whole pairs */
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint32_t *d = dst + r;
        int q = 0;
        for (; q + 16 <= full; q += 16) { /* 32 floats -> 16 pair words, stored with a stride */
            uint32_t w[16];
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + 2 * q + 16),
                                             _mm512_loadu_ps(s + 2 * q));
            _mm512_storeu_si512((void *)w, (__m512i)v);
            for (int i = 0; i < 16; i++)
                d[(size_t)(q + i) * dst_ld] = w[i];
        }
        for (; q < full; q++)
            d[(size_t)q * dst_ld] = (uint32_t)cpu_bf16_round(s[2 * q]) |
                                    (uint32_t)cpu_bf16_round(s[2 * q + 1]) << 16;
        if (k % 2)
            d[(size_t)full * dst_ld] = cpu_bf16_round(s[k - 1]);
    }
}

#define BH(v) ((__m512bh)(v))
#define TILE_STEP(r, aword)                                                                        \
    do {                                                                                           \
        __m512i av_ = _mm512_set1_epi32((int)(aword));                                             \
        c##r##0 = _mm512_dpbf16_ps(c##r##0, BH(av_), BH(b0));                                      \
        c##r##1 = _mm512_dpbf16_ps(c##r##1, BH(av_), BH(b1));                                      \
    } while (0)

static inline uint32_t word_at(const uint16_t *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

void cpu_bf16_wino_gemm(int kc, const uint16_t *a, size_t lda, const uint32_t *b, float *c,
                        size_t ldc)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const uint16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda,
                   *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    for (int k = 0; k < kc; k += 2) {
        __m512i b0 = _mm512_loadu_si512((const void *)b);
        __m512i b1 = _mm512_loadu_si512((const void *)(b + 16));
        b += CPU_BF16_CO;
        TILE_STEP(0, word_at(a0 + k));
        TILE_STEP(1, word_at(a1 + k));
        TILE_STEP(2, word_at(a2 + k));
        TILE_STEP(3, word_at(a3 + k));
        TILE_STEP(4, word_at(a4 + k));
        TILE_STEP(5, word_at(a5 + k));
    }
    __m512 rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (int i = 0; i < 6; i++) {
        _mm512_storeu_ps(c + (size_t)i * ldc, rows[i][0]);
        _mm512_storeu_ps(c + (size_t)i * ldc + 16, rows[i][1]);
    }
}

void cpu_bf16_wino_gemm_tn(int kpairs, const uint32_t *a, size_t lda, const uint32_t *b,
                           size_t ldb, float *c, size_t ldc)
{
    __m512 c00 = _mm512_loadu_ps(c), c01 = _mm512_loadu_ps(c + 16);
    __m512 c10 = _mm512_loadu_ps(c + ldc), c11 = _mm512_loadu_ps(c + ldc + 16);
    __m512 c20 = _mm512_loadu_ps(c + 2 * ldc), c21 = _mm512_loadu_ps(c + 2 * ldc + 16);
    __m512 c30 = _mm512_loadu_ps(c + 3 * ldc), c31 = _mm512_loadu_ps(c + 3 * ldc + 16);
    __m512 c40 = _mm512_loadu_ps(c + 4 * ldc), c41 = _mm512_loadu_ps(c + 4 * ldc + 16);
    __m512 c50 = _mm512_loadu_ps(c + 5 * ldc), c51 = _mm512_loadu_ps(c + 5 * ldc + 16);
    for (int q = 0; q < kpairs; q++) {
        __m512i b0 = _mm512_loadu_si512((const void *)b);
        __m512i b1 = _mm512_loadu_si512((const void *)(b + 16));
        b += ldb;
        TILE_STEP(0, a[0]);
        TILE_STEP(1, a[1]);
        TILE_STEP(2, a[2]);
        TILE_STEP(3, a[3]);
        TILE_STEP(4, a[4]);
        TILE_STEP(5, a[5]);
        a += lda;
    }
    __m512 rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (int i = 0; i < 6; i++) {
        _mm512_storeu_ps(c + (size_t)i * ldc, rows[i][0]);
        _mm512_storeu_ps(c + (size_t)i * ldc + 16, rows[i][1]);
    }
}

void cpu_bf16_gemm_micro(int kpairs, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                         int accumulate)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int q = 0; q < kpairs; q++) {
        __m512i b0 = _mm512_loadu_si512((const void *)b);
        __m512i b1 = _mm512_loadu_si512((const void *)(b + 16));
        b += CPU_BF16_CO;
        TILE_STEP(0, a[0]);
        TILE_STEP(1, a[1]);
        TILE_STEP(2, a[2]);
        TILE_STEP(3, a[3]);
        TILE_STEP(4, a[4]);
        TILE_STEP(5, a[5]);
        a += 6;
    }
    __m512 rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    for (int i = 0; i < 6; i++) {
        float *ci = c + (size_t)i * ldc;
        if (accumulate) {
            rows[i][0] = _mm512_add_ps(_mm512_loadu_ps(ci), rows[i][0]);
            rows[i][1] = _mm512_add_ps(_mm512_loadu_ps(ci + 16), rows[i][1]);
        }
        _mm512_storeu_ps(ci, rows[i][0]);
        _mm512_storeu_ps(ci + 16, rows[i][1]);
    }
}

#else /* no AVX512_BF16 in this build: the backend never selects bf16 (cpu_bf16_built) */

int cpu_bf16_built(void)
{
    return 0;
}

void cpu_bf16_convert(size_t n, const float *src, uint16_t *dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = cpu_bf16_round(src[i]);
}

void cpu_bf16_pack_pairs(const float *src, size_t ld, int rows, int cols, uint32_t *dst,
                         size_t dst_ld)
{
    (void)src, (void)ld, (void)rows, (void)cols, (void)dst, (void)dst_ld;
}

void cpu_bf16_pack_pairs_t(const float *src, size_t ld, int rows, int k, uint32_t *dst,
                           size_t dst_ld)
{
    (void)src, (void)ld, (void)rows, (void)k, (void)dst, (void)dst_ld;
}

void cpu_bf16_wino_gemm(int kc, const uint16_t *a, size_t lda, const uint32_t *b, float *c,
                        size_t ldc)
{
    (void)kc, (void)a, (void)lda, (void)b, (void)c, (void)ldc;
}

void cpu_bf16_wino_gemm_tn(int kpairs, const uint32_t *a, size_t lda, const uint32_t *b,
                           size_t ldb, float *c, size_t ldc)
{
    (void)kpairs, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}

void cpu_bf16_gemm_micro(int kpairs, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                         int accumulate)
{
    (void)kpairs, (void)a, (void)b, (void)c, (void)ldc, (void)accumulate;
}
#endif
