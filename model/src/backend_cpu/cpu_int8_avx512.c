/* int8 kernels with AVX512_VNNI (zmm vpdpbusd: 16 channels x 4 products per instruction),
 * selected at run time (cpu_int8.c) when the CPU has AVX512_VNNI and AVX512BW. */
#include "cpu_int8.h"

#if defined(FER_CPU_HAVE_VNNI)
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")
#include <immintrin.h>

#define I8_VW 16
typedef __m512i vi;
typedef __m512 vf;
#define I8V(name) name##_avx512_vnni
#define i8_zero() _mm512_setzero_si512()
#define i8_bcast32(p) _mm512_set1_epi32(*(const int32_t *)(const void *)(p))
#define i8_load(p) _mm512_loadu_si512((const void *)(p))
#define i8_loadi(p) _mm512_loadu_si512((const void *)(p))
/* vpdpbusd by inline asm: GCC 12's intrinsic pattern keeps the accumulator in zmm0-15 and
 * copies (and spills) the 24 accumulators of the 6 x 4 tile around every instruction */
static inline __m512i i8_dpbusd(__m512i acc, __m512i x, __m512i w)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
}
#define i8_sub(a, b) _mm512_sub_epi32((a), (b))
#define f_load(p) _mm512_loadu_ps(p)
#define f_set1(x) _mm512_set1_ps(x)
#define f_from_i(v) _mm512_cvtepi32_ps(v)
#define f_mul(a, b) _mm512_mul_ps((a), (b))
#define f_add(a, b) _mm512_add_ps((a), (b))
#define f_max(a, b) _mm512_max_ps((a), (b))
#define f_min(a, b) _mm512_min_ps((a), (b))
#define f_store(p, v) _mm512_storeu_ps((p), (v))
#define i8_round(v) _mm512_cvtps_epi32(v)
#define i8_store_u8(p, v) _mm_storeu_si128((__m128i *)(void *)(p), _mm512_cvtusepi32_epi8(v))

#define i8_load_u8(p) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define f_sub(a, b) _mm512_sub_ps((a), (b))

#include "cpu_int8_vnni.h"

const fer_i8_kernels fer_i8_kernels_avx512_vnni = {"avx512_vnni", gemm_avx512_vnni, add_avx512_vnni};
#endif
