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
 *   0..255 -> I8_VW bytes), i8_load_u8(p) (I8_VW bytes -> I8_VW int32), f_sub
 * Register tile: R rows x NV vectors of output channels with the accumulators in named
 * variables (the preprocessor unrolls, so the compiler keeps them in registers); remainder rows
 * run the same code at R = 1. */

/* One accumulator's epilogue (cpu_int8.h): row `row`, channels oc.. */
static inline void I8V(epilogue)(const fer_i8_gemm *g, vi acc, int row, int oc)
{
    vf y = f_mul(f_from_i(i8_sub(acc, i8_loadi(g->comp + oc))), f_load(g->mult + oc));
    y = f_min(f_max(f_add(y, f_load(g->add + oc)), f_set1(g->lo)), f_set1(g->hi));
    if (g->out_u8)
        i8_store_u8(g->out_u8 + (size_t)row * g->ldo + oc, i8_round(y));
    else
        f_store(g->out_f32 + (size_t)row * g->ldf + oc, y);
}

#define I8_ROWS1(X) X(0)
#define I8_ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define I8_ROWS12(X) I8_ROWS6(X) X(6) X(7) X(8) X(9) X(10) X(11)

#define I8_DECL1(i) vi c##i##_0 = i8_zero();
#define I8_DECL2(i) I8_DECL1(i) vi c##i##_1 = i8_zero();
#define I8_DECL4(i) I8_DECL2(i) vi c##i##_2 = i8_zero(), c##i##_3 = i8_zero();
#define I8_W1 vi w0 = i8_load(b0 + (size_t)k4 * 64);
#define I8_W2 I8_W1 vi w1 = i8_load(b1 + (size_t)k4 * 64);
#define I8_W4 I8_W2 vi w2 = i8_load(b2 + (size_t)k4 * 64), w3 = i8_load(b3 + (size_t)k4 * 64);
#define I8_STEP1(i)                                                                            \
    vi x##i = i8_bcast32(a + (size_t)(i) * g->lda + (size_t)k4 * 4);                           \
    c##i##_0 = i8_dpbusd(c##i##_0, x##i, w0);
#define I8_STEP2(i) I8_STEP1(i) c##i##_1 = i8_dpbusd(c##i##_1, x##i, w1);
#define I8_STEP4(i)                                                                            \
    I8_STEP2(i) c##i##_2 = i8_dpbusd(c##i##_2, x##i, w2);                                      \
    c##i##_3 = i8_dpbusd(c##i##_3, x##i, w3);
#define I8_EPI1(i) I8V(epilogue)(g, c##i##_0, row + (i), oc0);
#define I8_EPI2(i) I8_EPI1(i) I8V(epilogue)(g, c##i##_1, row + (i), oc0 + I8_VW);
#define I8_EPI4(i)                                                                             \
    I8_EPI2(i) I8V(epilogue)(g, c##i##_2, row + (i), oc0 + 2 * I8_VW);                         \
    I8V(epilogue)(g, c##i##_3, row + (i), oc0 + 3 * I8_VW);

/* tile_R_NV(g, row, oc0): rows row..row+R-1, channels oc0..oc0+NV*I8_VW-1, whole reduction */
#define I8_TILE(R, NV)                                                                         \
    static void I8V(tile_##R##_##NV)(const fer_i8_gemm *g, int row, int oc0)                   \
    {                                                                                          \
        const int8_t *b0 = g->b + fer_i8_pack_index(g->k, 0, oc0);                             \
        const int8_t *b1 = NV > 1 ? g->b + fer_i8_pack_index(g->k, 0, oc0 + I8_VW) : b0;       \
        const int8_t *b2 = NV > 2 ? g->b + fer_i8_pack_index(g->k, 0, oc0 + 2 * I8_VW) : b0;   \
        const int8_t *b3 = NV > 3 ? g->b + fer_i8_pack_index(g->k, 0, oc0 + 3 * I8_VW) : b0;   \
        (void)b1, (void)b2, (void)b3;                                                          \
        const uint8_t *a = g->a + (size_t)row * g->lda;                                        \
        I8_ROWS##R(I8_DECL##NV)                                                                \
        for (int k4 = 0, k4n = g->k / 4; k4 < k4n; k4++) {                                     \
            I8_W##NV                                                                           \
            I8_ROWS##R(I8_STEP##NV)                                                            \
        }                                                                                      \
        I8_ROWS##R(I8_EPI##NV)                                                                 \
    }

/* Rows [m0, m1) x channels [oc0, oc0 + NV * I8_VW): R-row tiles, then single rows. */
#define I8_COLUMN(R, NV)                                                                       \
    I8_TILE(R, NV)                                                                             \
    static void I8V(column_##R##_##NV)(const fer_i8_gemm *g, int m0, int m1, int oc0)          \
    {                                                                                          \
        int i = m0;                                                                            \
        for (; i + R <= m1; i += R)                                                            \
            I8V(tile_##R##_##NV)(g, i, oc0);                                                   \
        for (; i < m1; i++)                                                                    \
            I8V(tile_1_##NV)(g, i, oc0);                                                       \
    }

I8_TILE(1, 1)
I8_TILE(1, 2)
#if I8_VW == 16
I8_TILE(1, 4)
I8_COLUMN(6, 4)  /* 24 accumulators + 4 weight vectors + broadcasts of the 32 zmm */
I8_COLUMN(12, 2)
I8_COLUMN(12, 1)
#else
I8_COLUMN(6, 2)  /* 12 accumulators + 2 weight vectors + broadcasts of the 16 ymm */
I8_COLUMN(6, 1)
#endif

static void I8V(gemm)(const fer_i8_gemm *g, int m0, int m1)
{
    int oc = 0;
#if I8_VW == 16
    for (; oc + 4 * I8_VW <= g->n_pad; oc += 4 * I8_VW)
        I8V(column_6_4)(g, m0, m1, oc);
    for (; oc + 2 * I8_VW <= g->n_pad; oc += 2 * I8_VW)
        I8V(column_12_2)(g, m0, m1, oc);
    for (; oc < g->n_pad; oc += I8_VW)
        I8V(column_12_1)(g, m0, m1, oc);
#else
    for (; oc + 2 * I8_VW <= g->n_pad; oc += 2 * I8_VW)
        I8V(column_6_2)(g, m0, m1, oc);
    for (; oc < g->n_pad; oc += I8_VW)
        I8V(column_6_1)(g, m0, m1, oc);
#endif
}

/* fer_i8_add (cpu_int8.h), I8_VW elements at a time: the reference's operations in its order
 * (max/min pick as its comparisons do; i8_round rounds half to even as nearbyintf), the tail by
 * the reference itself. The residual adds were a quarter of resnet_s's int8 batch-1 time as
 * scalar code (bench/RESULTS.md, session 17). */
static void I8V(add)(const fer_i8_add *p)
{
    const vf za = f_set1(p->za), zb = f_set1(p->zb), ma = f_set1(p->ma), mb = f_set1(p->mb),
             zo = f_set1(p->zo), lo = f_set1(p->lo), hi = f_set1(255.0f);
    size_t e = 0;
    for (; e + I8_VW <= p->n; e += I8_VW) {
        vf ta = f_mul(f_sub(f_from_i(i8_load_u8(p->a + e)), za), ma);
        vf tb = f_mul(f_sub(f_from_i(i8_load_u8(p->b + e)), zb), mb);
        vf y = f_min(f_max(f_add(f_add(ta, tb), zo), lo), hi);
        i8_store_u8(p->out + e, i8_round(y));
    }
    fer_i8_add rest = *p;
    rest.a += e;
    rest.b += e;
    rest.out += e;
    rest.n -= e;
    fer_i8_add_ref(&rest);
}
