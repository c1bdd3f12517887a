/* int8 kernels with AVX-VNNI (the VEX-encoded ymm vpdpbusd of CPUs without AVX-512: 8 channels
 * x 4 products per instruction), selected at run time (cpu_int8.c). */
#include "cpu_int8.h"

#if defined(FER_CPU_HAVE_VNNI)
#pragma GCC target("avx2,fma,avxvnni")
#include <immintrin.h>

#define I8_VW 8
typedef __m256i vi;
typedef __m256 vf;
#define I8V(name) name##_avx_vnni
#define i8_zero() _mm256_setzero_si256()
#define i8_bcast32(p) _mm256_set1_epi32(*(const int32_t *)(const void *)(p))
#define i8_load(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define i8_loadi(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define i8_dpbusd(acc, x, w) _mm256_dpbusd_avx_epi32((acc), (x), (w))
#define i8_sub(a, b) _mm256_sub_epi32((a), (b))
#define f_load(p) _mm256_loadu_ps(p)
#define f_set1(x) _mm256_set1_ps(x)
#define f_from_i(v) _mm256_cvtepi32_ps(v)
#define f_mul(a, b) _mm256_mul_ps((a), (b))
#define f_add(a, b) _mm256_add_ps((a), (b))
#define f_max(a, b) _mm256_max_ps((a), (b))
#define f_min(a, b) _mm256_min_ps((a), (b))
#define f_store(p, v) _mm256_storeu_ps((p), (v))
#define i8_round(v) _mm256_cvtps_epi32(v)

/* 8 int32 in 0..255 -> 8 bytes (the packs saturate, which values in range never reach) */
static inline void i8_store_u8(uint8_t *p, __m256i v)
{
    __m128i w16 = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)(void *)p, _mm_packus_epi16(w16, w16));
}

#define i8_load_u8(p) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p)))
#define f_sub(a, b) _mm256_sub_ps((a), (b))

#include "cpu_int8_vnni.h"

const fer_i8_kernels fer_i8_kernels_avx_vnni = {"avx_vnni", gemm_avx_vnni, add_avx_vnni};
#endif
