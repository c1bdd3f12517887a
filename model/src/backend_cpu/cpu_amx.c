/* AMX-BF16 tile GEMM (cpu_amx.h). Compiled with the AMX target pragma when the compiler has it
 * (FER_CPU_HAVE_AMX); the backend calls it only when cpu_amx_usable() says the CPU and the OS
 * allow it. Tile registers: 0, 1 the two 16 x 16 FP32 accumulators (32 output columns), 2 the
 * A tile (16 rows x 32 bf16), 3, 4 the B tiles (16 pairs x 16 columns), 5-7 the same for the
 * reduction's remainder (fewer than 16 pairs), so one configuration serves a whole reduction. */
#include <string.h>

#include "cpu_amx.h"
#include "cpu_internal.h"

#if defined(FER_CPU_HAVE_AMX)
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cpuid.h>

#pragma GCC target("amx-tile,amx-bf16,avx512f")
#include <immintrin.h>

/* GCC 12's _tile_loadconfig tells the compiler it reads a pointer's 8 bytes, so the stores
 * that fill the 64-byte configuration get dropped; and its _tile_loadd names no memory read.
 * Our own statements say what they read. */
#define AMX_LOADCFG(cfg) __asm__ volatile("ldtilecfg %0" ::"m"(*(cfg)) : "memory")
#define AMX_LOAD(t, base, stride)                                                                  \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"((const void *)(base)),                  \
                     "r"((long)(stride))                                                           \
                     : "memory")

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_probe(void)
{
    if ((cpu_os_xsave_states() & (3u << 17)) != (3u << 17)) /* XTILECFG, XTILEDATA by the OS */
        return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    if (!(d & (1u << 24)) || !(d & (1u << 22))) /* AMX-TILE, AMX-BF16 */
        return 0;
#if defined(__linux__) && defined(SYS_arch_prctl)
    /* Linux hands out the 8 KiB tile state only on request (once per process) */
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0)
        return 0;
#endif
    return 1;
}

int cpu_amx_built(void)
{
    return 1;
}

int cpu_amx_usable(void)
{
    static atomic_int state; /* 0 unknown, 1 usable, 2 not */
    int s = atomic_load(&state);
    if (s == 0) { /* a race only repeats the (idempotent) probe */
        s = amx_probe() ? 1 : 2;
        atomic_store(&state, s);
    }
    return s == 1;
}

typedef struct amx_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

void cpu_amx_begin(int kpairs)
{
    amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    int rem = kpairs % 16 ? kpairs % 16 : 16;
    for (int t = 0; t < 5; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    cfg.colsb[5] = (uint16_t)(4 * rem); /* A remainder: 16 rows of rem pairs */
    cfg.rows[5] = 16;
    for (int t = 6; t < 8; t++) { /* B remainder: rem pairs x 16 columns */
        cfg.colsb[t] = 64;
        cfg.rows[t] = (uint8_t)rem;
    }
    AMX_LOADCFG(&cfg);
}

void cpu_amx_end(void)
{
    _tile_release();
}

/* accumulators 0, 1 += A tile ta (from ap) x B tiles tb0, tb1 (from bq, bq + 16 columns) */
#define AMX_STEP(ta, tb0, tb1, ap, bq)                                                             \
    do {                                                                                           \
        AMX_LOAD(ta, (ap), sa);                                                                    \
        AMX_LOAD(tb0, (bq), sb);                                                                   \
        AMX_LOAD(tb1, (bq) + 16, sb);                                                              \
        _tile_dpbf16ps(0, ta, tb0);                                                                \
        _tile_dpbf16ps(1, ta, tb1);                                                                \
    } while (0)

void cpu_amx_gemm(int rows, int kpairs, const uint16_t *a, size_t lda, const uint32_t *b,
                  size_t ldb, float *c, size_t ldc, int accumulate)
{
    int full = kpairs / 16, rem = kpairs % 16;
    size_t sa = lda * sizeof(uint16_t), sb = ldb * sizeof(uint32_t), sc = ldc * sizeof(float);
    for (int r0 = 0; r0 < rows; r0 += 16) {
        float *cr = c + (size_t)r0 * ldc;
        const uint16_t *ar = a + (size_t)r0 * lda;
        if (accumulate) {
            AMX_LOAD(0, cr, sc);
            AMX_LOAD(1, cr + 16, sc);
        } else {
            _tile_zero(0);
            _tile_zero(1);
        }
        for (int q = 0; q < full; q++)
            AMX_STEP(2, 3, 4, ar + 32 * q, b + (size_t)16 * q * ldb);
        if (rem) /* the remainder's own tiles (fewer than 16 pairs) */
            AMX_STEP(5, 6, 7, ar + 32 * full, b + (size_t)16 * full * ldb);
        _tile_stored(0, cr, sc);
        _tile_stored(1, cr + 16, sc);
    }
}

/* 16 x 16 words, rows r[i] -> columns, in registers (three shuffle stages) */
static void transpose16(__m512i r[16])
{
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* r[4g + j], 128-bit lane L: column 4L + j of rows 4g .. 4g + 3; the two stages below
     * gather lane L of r[j], r[4 + j], r[8 + j], r[12 + j] into output row 4L + j */
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);      /* lanes 0,2 of each */
        t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xdd);  /* lanes 1,3 */
        t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

void cpu_amx_transpose_words(const uint32_t *src, size_t ld_src, int rows_src, int cols_src,
                             uint32_t *dst, size_t ld_dst, int rows_dst)
{
    for (int c0 = 0; c0 < rows_dst; c0 += 16) {
        int nc = cols_src - c0 < 16 ? (cols_src - c0 > 0 ? cols_src - c0 : 0) : 16;
        int nd = rows_dst - c0 < 16 ? rows_dst - c0 : 16;
        __mmask16 cm = (__mmask16)((1u << nc) - 1u);
        for (int q0 = 0; q0 < rows_src; q0 += 16) {
            int nq = rows_src - q0 < 16 ? rows_src - q0 : 16;
            __mmask16 qm = (__mmask16)((1u << nq) - 1u);
            __m512i r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < nq ? _mm512_maskz_loadu_epi32(cm, src + (size_t)(q0 + i) * ld_src + c0)
                              : _mm512_setzero_si512();
            transpose16(r);
            for (int j = 0; j < nd; j++)
                _mm512_mask_storeu_epi32(dst + (size_t)(c0 + j) * ld_dst + q0, qm, r[j]);
        }
    }
}

#else /* no AMX in this build: never usable, the kernels are never called */

int cpu_amx_built(void)
{
    return 0;
}

int cpu_amx_usable(void)
{
    return 0;
}

void cpu_amx_begin(int kpairs)
{
    (void)kpairs;
}

void cpu_amx_end(void)
{
}

void cpu_amx_gemm(int rows, int kpairs, const uint16_t *a, size_t lda, const uint32_t *b,
                  size_t ldb, float *c, size_t ldc, int accumulate)
{
    (void)rows, (void)kpairs, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc,
        (void)accumulate;
}

void cpu_amx_transpose_words(const uint32_t *src, size_t ld_src, int rows_src, int cols_src,
                             uint32_t *dst, size_t ld_dst, int rows_dst)
{
    (void)src, (void)ld_src, (void)rows_src, (void)cols_src, (void)dst, (void)ld_dst,
        (void)rows_dst;
}
#endif
