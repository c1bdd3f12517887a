/* The vpdpbusd GEMM + requantising epilogue, written once over the vector width and included by
 * cpu_int8_avx512.c (I8_VW 16, zmm) and cpu_int8_avxvnni.c (I8_VW 8, ymm). The including file
 * defines:
 *   I8_VW            int32 lanes of a vector
 *   vi, vf           integer and float vector types
 *   I8V(name)        the set's name for a function
 *   i8_zero(), i8_bcast32(p) (4 bytes at p to every lane), i8_load(p) (I8_VW x 4 bytes),
 *   i8_dpbusd(acc, a_u8, b_s8), i8_sub(a, b), i8_loadi(p) (I8_VW int32),
 *   f_load(p), f_set1(x), f_from_i(v), f_mul, f_add, f_max, f_min, f_store(p, v),
 *   i8_round(v) (float -> int32, round half to even), i8_store_u8(p, v) (I8_VW int32 in
 *   0..255 -> I8_VW bytes)
 * Register tile: MR rows x NV vectors of output channels, accumulators in registers; the
 * remainder rows run the same code at MR = 1. */

/* One MR x NV tile at (row, oc0): the whole reduction, then the epilogue (cpu_int8.h). */
static inline __attribute__((always_inline)) void I8V(tile)(const fer_i8_gemm *g, int row,
                                                           int oc0, const int MR, const int NV)
{
    vi acc[12][4];
    const int8_t *b[4];
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++)
        b[j] = g->b + fer_i8_pack_index(g->k, 0, oc0 + j * I8_VW);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++)
            acc[i][j] = i8_zero();
    const uint8_t *a = g->a + (size_t)row * g->lda;
    const int k4n = g->k / 4;
    for (int k4 = 0; k4 < k4n; k4++) {
        vi w[4];
#pragma GCC unroll 4
        for (int j = 0; j < NV; j++)
            w[j] = i8_load(b[j] + (size_t)k4 * 64);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            vi x = i8_bcast32(a + (size_t)i * g->lda + (size_t)k4 * 4);
#pragma GCC unroll 4
            for (int j = 0; j < NV; j++)
                acc[i][j] = i8_dpbusd(acc[i][j], x, w[j]);
        }
    }
    vf lo = f_set1(g->lo), hi = f_set1(g->hi);
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) {
        int oc = oc0 + j * I8_VW;
        vi comp = i8_loadi(g->comp + oc);
        vf mult = f_load(g->mult + oc), add = f_load(g->add + oc);
#pragma GCC unroll 12
        for (int i = 0; i < MR; i++) {
            vf y = f_mul(f_from_i(i8_sub(acc[i][j], comp)), mult);
            y = f_min(f_max(f_add(y, add), lo), hi);
            if (g->out_u8)
                i8_store_u8(g->out_u8 + (size_t)(row + i) * g->ldo + oc, i8_round(y));
            else
                f_store(g->out_f32 + (size_t)(row + i) * g->ldf + oc, y);
        }
    }
}

/* Rows [m0, m1), columns [oc0, oc0 + NV * I8_VW): tiles of MR rows, then single rows. */
static inline __attribute__((always_inline)) void I8V(column)(const fer_i8_gemm *g, int m0,
                                                             int m1, int oc0, const int MR,
                                                             const int NV)
{
    int i = m0;
    for (; i + MR <= m1; i += MR)
        I8V(tile)(g, i, oc0, MR, NV);
    for (; i < m1; i++)
        I8V(tile)(g, i, oc0, 1, NV);
}

static void I8V(gemm)(const fer_i8_gemm *g, int m0, int m1)
{
    int oc = 0;
#if I8_VW == 16
    /* 24 accumulators + 4 weight vectors + 1 broadcast of the 32 zmm */
    for (; oc + 4 * I8_VW <= g->n_pad; oc += 4 * I8_VW)
        I8V(column)(g, m0, m1, oc, 6, 4);
    for (; oc + 2 * I8_VW <= g->n_pad; oc += 2 * I8_VW)
        I8V(column)(g, m0, m1, oc, 12, 2);
    for (; oc < g->n_pad; oc += I8_VW)
        I8V(column)(g, m0, m1, oc, 12, 1);
#else
    /* 12 accumulators + 2 weight vectors + 1 broadcast of the 16 ymm */
    for (; oc + 2 * I8_VW <= g->n_pad; oc += 2 * I8_VW)
        I8V(column)(g, m0, m1, oc, 6, 2);
    for (; oc < g->n_pad; oc += I8_VW)
        I8V(column)(g, m0, m1, oc, 6, 1);
#endif
}
