/* AMX-BF16 tile GEMM for the cpu backend's bf16 mode (--amp) on CPUs with Intel AMX
 * (AMX-TILE + AMX-BF16, e.g. Sapphire/Granite Rapids). The Winograd GEMMs' operands are already
 * in AMX's layouts (cpu_bf16.h): A rows of bf16 along the reduction, B as pairs over the
 * reduction ("VNNI" layout), so one tile instruction does 16 x 16 x 32 multiply-adds where
 * vdpbf16ps does 16 x 2. Products are summed in FP32 (the tile unit's accumulators), as with
 * vdpbf16ps; the summation order differs, so results agree to FP32 rounding, not bit for bit.
 *
 * A thread brackets its GEMMs with cpu_amx_begin / cpu_amx_end (tile configuration and
 * release: the tile state is per thread and costs 8 KiB in every context switch while held). */
#ifndef FER_CPU_AMX_H
#define FER_CPU_AMX_H
#include <stddef.h>
#include <stdint.h>

/* Rows of one tile: the GEMM's row count must be a multiple of it. */
#define CPU_AMX_ROWS 16

/* 1 when this build has the AMX kernels (FER_CPU_HAVE_AMX); the CPU check is cpu_amx_usable. */
int cpu_amx_built(void);

/* 1 when this build has the AMX kernels (FER_CPU_HAVE_AMX), the CPU has AMX-TILE and AMX-BF16,
 * the OS enables the tile state (XCR0) and Linux granted this process the tile data
 * (arch_prctl ARCH_REQ_XCOMP_PERM; asked once). Thread-safe. */
int cpu_amx_usable(void);

/* Configures this thread's tiles for a reduction of kpairs bf16 pairs (a multiple of 16 plus a
 * remainder tile). */
void cpu_amx_begin(int kpairs);
void cpu_amx_end(void);

/* c[p*ldc + o] (+)= sum_{q<kpairs} sum_{h<2} a[p*lda + 2q + h] * B(q, o).h  for p < rows (a
 * multiple of CPU_AMX_ROWS), o < 32, where B(q, o) = b[q*ldb + o] holds the pair (low half
 * first); accumulate 0 overwrites c. kpairs must be the value given to cpu_amx_begin. */
void cpu_amx_gemm(int rows, int kpairs, const uint16_t *a, size_t lda, const uint32_t *b,
                  size_t ldb, float *c, size_t ldc, int accumulate);

/* dst[r*ld_dst + q] = src[q*ld_src + r]: 32-bit words, q < rows_src, r < cols_src; dst rows
 * r in [cols_src, rows_dst) are zero. (Turns pairs-over-tiles [q][channel] into the A
 * operand's rows [channel][q] for the weight-gradient GEMM.) */
void cpu_amx_transpose_words(const uint32_t *src, size_t ld_src, int rows_src, int cols_src,
                             uint32_t *dst, size_t ld_dst, int rows_dst);

#endif
