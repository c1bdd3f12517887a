/* bf16 GEMM kernels of the cpu backend's reduced-precision mode (fer_backend_set_precision
 * FER_PREC_BF16, fer-train --amp). Operands are rounded to bf16 (round to nearest even) when
 * they are packed, products are summed in FP32 by vdpbf16ps (AVX512_BF16), results and the
 * master weights stay FP32. A bf16 "pair" is two consecutive elements of the reduction
 * dimension in one 32-bit word (low half first), the operand layout vdpbf16ps reads. */
#ifndef FER_CPU_BF16_H
#define FER_CPU_BF16_H
#include <stddef.h>
#include <stdint.h>

/* Output channels of one bf16 Winograd GEMM block (two zmm of FP32 accumulators per row). */
#define CPU_BF16_CO 32

/* x rounded to bf16, to nearest even (NaN stays a quiet NaN), as vcvtneps2bf16 rounds
 * normal numbers. */
uint16_t cpu_bf16_round(float x);

/* 1 when this build has the AVX512_BF16 kernels below (FER_CPU_HAVE_BF16); the CPU check is
 * the caller's (cpu_ctx.has_bf16). */
int cpu_bf16_built(void);

/* dst[i] = bf16(src[i]), i < n. */
void cpu_bf16_convert(size_t n, const float *src, uint16_t *dst);

/* Pairs along rows: dst[(r/2)*dst_ld + c] = bf16(src[r*ld + c]) | bf16(src[(r+1)*ld + c]) << 16
 * for r even < rows, c < cols; a missing last odd row is zero. */
void cpu_bf16_pack_pairs(const float *src, size_t ld, int rows, int cols, uint32_t *dst,
                         size_t dst_ld);

/* Pairs within rows, transposed: dst[q*dst_ld + r] = bf16(src[r*ld + 2q]) |
 * bf16(src[r*ld + 2q + 1]) << 16 for r < rows, q < (k+1)/2; an odd k's last partner is zero. */
void cpu_bf16_pack_pairs_t(const float *src, size_t ld, int rows, int k, uint32_t *dst,
                           size_t dst_ld);

/* Winograd forward / input-gradient GEMM: c[p*ldc + o] = sum_{k<kc} a[p*lda + k] * b(k, o) for
 * p < 6, o < CPU_BF16_CO, kc even; a: bf16 rows, b: pairs [k/2][o]. Overwrites c. */
void cpu_bf16_wino_gemm(int kc, const uint16_t *a, size_t lda, const uint32_t *b, float *c,
                        size_t ldc);

/* Winograd weight-gradient GEMM: c[p*ldc + o] += sum_{q<kpairs} sum_{h<2} A(q,h,p) * B(q,h,o)
 * for p < 6, o < CPU_BF16_CO, where a[q*lda + p] and b[q*ldb + o] are pairs over the tiles. */
void cpu_bf16_wino_gemm_tn(int kpairs, const uint32_t *a, size_t lda, const uint32_t *b,
                           size_t ldb, float *c, size_t ldc);

/* The blocked SGEMM's tile (cpu_gemm.c) in bf16: C[i*ldc + j] (+)= sum over k of A(k, i) *
 * B(k, j), i < 6, j < CPU_BF16_CO, from pair panels a[q*6 + i], b[q*CPU_BF16_CO + j],
 * q < kpairs; accumulate 0 overwrites C. */
void cpu_bf16_gemm_micro(int kpairs, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                         int accumulate);

#endif
