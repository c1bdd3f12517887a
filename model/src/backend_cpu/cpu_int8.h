/* int8 inference kernels (fer/quant.h drives them): u8 activations x s8 weights summed in
 * int32, then requantised to u8 (or written as float) in one epilogue. Three sets compute the
 * same integers and the same float epilogue bit for bit: portable C (the reference), AVX-VNNI
 * (ymm vpdpbusd) and AVX512_VNNI (zmm vpdpbusd); they differ only in speed. */
#ifndef FER_CPU_INT8_H
#define FER_CPU_INT8_H
#include <stddef.h>
#include <stdint.h>

#include "fer/status.h"

/* Output channels are packed in groups of this many (the zmm lane count); ymm kernels take
 * each group as two halves. */
#define FER_I8_GROUP 16
/* The longest reduction a layer may have: K * 255 * 127 stays below 2^31. */
#define FER_I8_MAX_K 65536

/* round half to even (nearbyintf's result) of 0 <= y <= 255 without its libm call, which made
 * the scalar residual adds a third of resnet_s's int8 latency: y + 1.5 * 2^23 lands where floats
 * are integers, so the sum is rounded to the nearest one and the subtraction is exact (the
 * build never uses -ffast-math, which could fold the pair) */
static inline uint8_t fer_i8_round_u8(float y)
{
    return (uint8_t)(int)((y + 12582912.0f) - 12582912.0f);
}

/* C[m][o] = sum_k A[m][k] * B[k][o] (A u8, B s8), then per output channel o
 *   y = (float)(C - comp[o]) * mult[o] + add[o]        (a product, then a sum: no FMA)
 *   y = min(max(y, lo), hi)
 * and either out_u8[m][o] = round-half-even(y) (lo >= 0, hi <= 255) or out_f32[m][o] = y,
 * for every o < n_pad. */
typedef struct fer_i8_gemm {
    int m, k, n_pad;          /* k: a multiple of 4; n_pad: a multiple of FER_I8_GROUP */
    const uint8_t *a;
    size_t lda;               /* bytes between rows of a */
    const int8_t *b;          /* fer_i8_pack_index layout, n_pad x k bytes */
    const int32_t *comp;      /* n_pad: zero point of a x sum of the channel's weights */
    const float *mult, *add;  /* n_pad */
    float lo, hi;
    uint8_t *out_u8;          /* m x ldo, or NULL for float output */
    size_t ldo;
    float *out_f32;           /* m x ldf, ldf >= n_pad */
    size_t ldf;
} fer_i8_gemm;

/* Byte offset of weight (k, o) in the packed layout: groups of 16 channels, in each group
 * blocks of 4 k (64 bytes: channel-major, the 4 k of one channel adjacent, as vpdpbusd reads
 * them). */
static inline size_t fer_i8_pack_index(int k_total, int k, int o)
{
    return ((size_t)(o / FER_I8_GROUP) * (size_t)(k_total / 4) + (size_t)(k / 4)) * 64 +
           (size_t)(o % FER_I8_GROUP) * 4 + (size_t)(k % 4);
}

/* Rows [m0, m1) of g. */
typedef void (*fer_i8_gemm_fn)(const fer_i8_gemm *g, int m0, int m1);

/* Residual add of two u8 tensors into a third (fer/quant.h's add nodes): per element
 *   y = ((float)a - za) * ma + ((float)b - zb) * mb + zo      (products, then the sums, in
 *                                                              this order: no FMA)
 *   y = min(max(y, lo), 255),  out = round-half-even(y)
 * u8 inputs and finite factors keep y finite; 0 <= lo <= 255. out may be a or b exactly. */
typedef struct fer_i8_add {
    const uint8_t *a, *b;
    uint8_t *out;
    size_t n;
    float za, zb, ma, mb, zo, lo;
} fer_i8_add;
typedef void (*fer_i8_add_fn)(const fer_i8_add *p);
/* One element at a time: the portable set's add and the others' reference and tail. */
void fer_i8_add_ref(const fer_i8_add *p);

typedef struct fer_i8_kernels {
    const char *name; /* "avx512_vnni", "avx_vnni", "portable" */
    fer_i8_gemm_fn gemm;
    fer_i8_add_fn add;
} fer_i8_kernels;

extern const fer_i8_kernels fer_i8_kernels_portable;
#if defined(FER_CPU_HAVE_VNNI)
extern const fer_i8_kernels fer_i8_kernels_avx512_vnni;
extern const fer_i8_kernels fer_i8_kernels_avx_vnni;
#endif

/* NULL when kernel set `name` runs on this CPU (and build), else the missing feature
 * ("AVX512_VNNI", "AVX-VNNI", ...). */
const char *fer_i8_missing(const char *name);
/* name: "auto" (the best this CPU runs) or one set's name; FER_ERR_UNSUPPORTED naming the
 * missing feature, FER_ERR_ARG for an unknown name. */
fer_status fer_i8_select(const char *name, const fer_i8_kernels **out);
/* The set FER_ISA asks for: avx512 -> avx512_vnni, avx2 -> avx_vnni, portable; unset or auto:
 * the best this CPU runs. */
fer_status fer_i8_select_env(const fer_i8_kernels **out);
#endif
