/* Transposed store of a conv tile (positions x channels in registers -> NCHW rows), ymm; included
 * by the x86 kernel files (cpu_kernels_avx2.c, cpu_kernels_avx512.c), each with its own target. */
#ifndef FER_CPU_TILE_STORE_H
#define FER_CPU_TILE_STORE_H
#include <immintrin.h>

/* Writes 8 channel rows (o0..o0+7) of the tile from rows r[p] = (position p, channels o0..o0+7):
 * an 8x8 transpose (positions 6 and 7 are zero), the bias, then 6 positions per channel. */
static inline void store_rows8(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4, __m256 r5,
                               const float *bias, float *out, size_t out_stride, int n_co,
                               int n_px)
{
    __m256 z = _mm256_setzero_ps();
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, z, 0x44), u5 = _mm256_shuffle_ps(t4, z, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, z, 0x44), u7 = _mm256_shuffle_ps(t5, z, 0xEE);
    __m256 col[8];
    col[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    col[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    col[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    col[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    col[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    col[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    col[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    col[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
    int n = n_co < 8 ? n_co : 8;
    for (int o = 0; o < n; o++) {
        __m256 v = bias ? _mm256_add_ps(col[o], _mm256_broadcast_ss(bias + o)) : col[o];
        float *d = out + (size_t)o * out_stride;
        if (n_px == CPU_CONV_PX) {
            _mm_storeu_ps(d, _mm256_castps256_ps128(v));
            _mm_storel_pi((__m64 *)(void *)(d + 4), _mm256_extractf128_ps(v, 1));
        } else {
            float tmp[8];
            _mm256_storeu_ps(tmp, v);
            for (int p = 0; p < n_px; p++)
                d[p] = tmp[p];
        }
    }
}

#endif
