/* Micro-kernels written once over a vector width, compiled into each x86 kernel set
 * (cpu_kernels_avx2.c: VW = 8, ymm; cpu_kernels_avx512.c: VW = 16, zmm), so the logic the AVX2
 * machines test is the logic AVX-512 runs.
 *
 * The including file defines, for its target:
 *   VW                    floats per vector
 *   vf                    the vector type
 *   VK(name)              the kernel's name in this set (name##_avx2, ...)
 *   v_zero() v_load(p) v_store(p, v) v_bcast(p) v_set1(s) v_add(a, b) v_sub(a, b)
 *   v_stream(p, v)        a non-temporal store to p, aligned to the vector
 *   v_fma(a, b, c) = a*b + c, v_fms(a, b, c) = a*b - c, v_fnma(a, b, c) = c - a*b (all fused)
 *   v_max0(x)             max(x, +0) returning +0 for NaN and -0 (fer_relu)
 *   v_keep_pos(y, d)      y > 0 ? d : 0 per lane (fer_relu_backward)
 *   v_hsum(v)             sum of the lanes as a float
 *   v_load8(p)            8 floats from p in the low lanes, the others zero (the same as
 *                         v_load when VW = 8)
 *   v_conv_store(rows, bias, out, out_stride, n_co, n_px)  the conv tile's rows[6][2] (position
 *                         x channel vectors) + bias into out[o*out_stride + p], o < n_co, p < n_px
 *
 * Register tile: 6 rows x 2 vectors (12 accumulators: 12 of the 16 ymm, 12 of the 32 zmm), so
 * the GEMM panels are NR = 2*VW wide. Each output element is one fused chain over k in the same
 * order at every width, so conv_tile, gemm_micro, wino_gemm and wino_gemm_tn give the same bits
 * on every set (only the panel layouts differ); the streaming sums regroup lanes (VW partial sums). */
#ifndef VW
#error "define VW, vf and the v_* operations before including cpu_kernels_vec.h"
#endif

#include <math.h>

#include "fer/layer_math.h"

#define VNR (2 * VW) /* columns of the register tile */

/* Keeps a loaded vector in a register: without it GCC folds the same load into every FMA that
 * uses it (3 loads instead of 1 in the weight-gradient tiles, which are load-bound). */
#define V_KEEP(v) __asm__("" : "+v"(v))

/* One rank-1 update of the 6 x 2VW tile: row R adds broadcast(*pR) * [b0 b1]. */
#define VTILE6_FMA(p0, p1, p2, p3, p4, p5)                                                         \
    do {                                                                                           \
        vf av_ = v_bcast(p0);                                                                      \
        c00 = v_fma(av_, b0, c00);                                                                 \
        c01 = v_fma(av_, b1, c01);                                                                 \
        av_ = v_bcast(p1);                                                                         \
        c10 = v_fma(av_, b0, c10);                                                                 \
        c11 = v_fma(av_, b1, c11);                                                                 \
        av_ = v_bcast(p2);                                                                         \
        c20 = v_fma(av_, b0, c20);                                                                 \
        c21 = v_fma(av_, b1, c21);                                                                 \
        av_ = v_bcast(p3);                                                                         \
        c30 = v_fma(av_, b0, c30);                                                                 \
        c31 = v_fma(av_, b1, c31);                                                                 \
        av_ = v_bcast(p4);                                                                         \
        c40 = v_fma(av_, b0, c40);                                                                 \
        c41 = v_fma(av_, b1, c41);                                                                 \
        av_ = v_bcast(p5);                                                                         \
        c50 = v_fma(av_, b0, c50);                                                                 \
        c51 = v_fma(av_, b1, c51);                                                                 \
    } while (0)

#define VTILE6_ZERO                                                                                \
    vf c00 = v_zero(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,          \
       c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00

/* Stores the tile into rows c + i*ldc (adding what is there when accumulate). */
#define VTILE6_STORE(c, ldc, accumulate)                                                           \
    do {                                                                                           \
        vf rows_[6][2] = {{c00, c01}, {c10, c11}, {c20, c21},                                      \
                          {c30, c31}, {c40, c41}, {c50, c51}};                                     \
        for (int i_ = 0; i_ < 6; i_++) {                                                           \
            float *ci_ = (c) + (size_t)i_ * (ldc);                                                 \
            if (accumulate) {                                                                      \
                rows_[i_][0] = v_add(rows_[i_][0], v_load(ci_));                                   \
                rows_[i_][1] = v_add(rows_[i_][1], v_load(ci_ + VW));                              \
            }                                                                                      \
            v_store(ci_, rows_[i_][0]);                                                            \
            v_store(ci_ + VW, rows_[i_][1]);                                                       \
        }                                                                                          \
    } while (0)

#if VW == 16
/* 12-row tiles (24 accumulators: only with AVX-512's 32 registers). The 6-row tile reloads its
 * b vector pair for every 6 broadcasts and ran at 2/3 of the FMA peak with its operands in L1;
 * 12 rows x 2 vectors reached 80% in the same loop (bench/RESULTS.md, session 17). Each output
 * is the same fused chain over k as in the 6-row kernel, so the bits do not change. */
#define VTILE12_ZERO                                                                               \
    vf acc[12][2];                                                                                 \
    _Pragma("GCC unroll 12") for (int i_ = 0; i_ < 12; i_++) acc[i_][0] = acc[i_][1] = v_zero()
#define VTILE12_LOAD(c, ldc)                                                                       \
    vf acc[12][2];                                                                                 \
    _Pragma("GCC unroll 12") for (int i_ = 0; i_ < 12; i_++) {                                     \
        acc[i_][0] = v_load((c) + (size_t)i_ * (ldc));                                             \
        acc[i_][1] = v_load((c) + (size_t)i_ * (ldc) + VW);                                        \
    }
/* row i adds broadcast(*p) * [b0 b1] */
#define VTILE12_FMA(i, p)                                                                          \
    do {                                                                                           \
        vf av_ = v_bcast(p);                                                                       \
        acc[i][0] = v_fma(av_, b0, acc[i][0]);                                                     \
        acc[i][1] = v_fma(av_, b1, acc[i][1]);                                                     \
    } while (0)
#define VTILE12_STORE(c, ldc, accumulate)                                                          \
    _Pragma("GCC unroll 12") for (int i_ = 0; i_ < 12; i_++) {                                     \
        float *ci_ = (c) + (size_t)i_ * (ldc);                                                     \
        if (accumulate) {                                                                          \
            acc[i_][0] = v_add(acc[i_][0], v_load(ci_));                                           \
            acc[i_][1] = v_add(acc[i_][1], v_load(ci_ + VW));                                      \
        }                                                                                          \
        v_store(ci_, acc[i_][0]);                                                                  \
        v_store(ci_ + VW, acc[i_][1]);                                                             \
    }
#endif

/* C[i*ldc + j] (+)= sum_p a[p*6 + i] * b[p*VNR + j]: 6 x VNR over packed panels */
static void VK(gemm_micro)(int kc, const float *a, const float *b, float *c, size_t ldc,
                           int accumulate)
{
    VTILE6_ZERO;
    for (int p = 0; p < kc; p++) {
        vf b0 = v_load(b), b1 = v_load(b + VW);
        VTILE6_FMA(a + 0, a + 1, a + 2, a + 3, a + 4, a + 5);
        a += 6;
        b += VNR;
    }
    VTILE6_STORE(c, ldc, accumulate);
}

/* Flat-plane conv tile: 6 flat positions x VNR output channels (cpu_conv.c packs the weights in
 * blocks of VNR = the set's conv_co): per (channel, tap) 2 weight loads, 6 input broadcasts, 12
 * FMA; v_conv_store (the including file's) transposes the tile into NCHW rows. */
static void VK(conv_tile)(const float *x, size_t x_stride, int cin, const int *offs, int kk,
                          const float *w, const float *bias, float *out, size_t out_stride,
                          int n_co, int n_px)
{
    VTILE6_ZERO;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * x_stride;
        for (int t = 0; t < kk; t++) {
            const float *a = xc + offs[t];
            vf b0 = v_load(w), b1 = v_load(w + VW);
            w += VNR;
            VTILE6_FMA(a + 0, a + 1, a + 2, a + 3, a + 4, a + 5);
        }
    }
    vf rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    v_conv_store(rows, bias, out, out_stride, n_co, n_px);
}

#if VW == 16
/* conv_tile over 12 flat positions, stored as two 6-row halves */
static void VK(conv_tile12)(const float *x, size_t x_stride, int cin, const int *offs, int kk,
                            const float *w, const float *bias, float *out, size_t out_stride,
                            int n_co)
{
    VTILE12_ZERO;
    for (int c = 0; c < cin; c++) {
        const float *xc = x + (size_t)c * x_stride;
        for (int t = 0; t < kk; t++, w += VNR) {
            const float *a = xc + offs[t];
            vf b0 = v_load(w), b1 = v_load(w + VW);
            _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++)
                VTILE12_FMA(i, a + i);
        }
    }
    v_conv_store(acc, bias, out, out_stride, n_co, 6);
    v_conv_store(acc + 6, bias, out + 6, out_stride, n_co, 6);
}
#endif

/* Flat-plane weight-gradient tile: 4 output channels x up to 3 taps, acc[r*ntaps + t] +=
 * sum_{j<len} dy[r*dy_stride + j] * x[offs[t] + j]; len is a multiple of 8 (a last half vector
 * when VW = 16: v_load8 loads 8 floats, the other lanes zero). Per VW positions 3 input loads, 4
 * gradient loads, 12 FMA. Any 3 taps (stride 2: of different phases) fill the tile. */
static void VK(convw_tile)(const float *dy, size_t dy_stride, const float *x, const int *offs,
                           int ntaps, size_t len, float *acc)
{
    const float *d0 = dy, *d1 = dy + dy_stride, *d2 = dy + 2 * dy_stride,
                *d3 = dy + 3 * dy_stride;
    size_t full = len / VW * VW;
    if (ntaps == 3) { /* cpu_conv.c groups taps by 3; a square kernel leaves 0 or 1 over */
        const float *xa = x + offs[0], *xb = x + offs[1], *xc = x + offs[2];
        vf a00 = v_zero(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00, a20 = a00,
           a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
#define CONVW3_STEP(LOAD, j)                                                                       \
    do {                                                                                           \
        vf x0 = LOAD(xa + (j)), x1 = LOAD(xb + (j)), x2 = LOAD(xc + (j));                          \
        vf d = LOAD(d0 + (j));                                                                     \
        V_KEEP(d);                                                                                 \
        a00 = v_fma(d, x0, a00);                                                                   \
        a01 = v_fma(d, x1, a01);                                                                   \
        a02 = v_fma(d, x2, a02);                                                                   \
        d = LOAD(d1 + (j));                                                                        \
        V_KEEP(d);                                                                                 \
        a10 = v_fma(d, x0, a10);                                                                   \
        a11 = v_fma(d, x1, a11);                                                                   \
        a12 = v_fma(d, x2, a12);                                                                   \
        d = LOAD(d2 + (j));                                                                        \
        V_KEEP(d);                                                                                 \
        a20 = v_fma(d, x0, a20);                                                                   \
        a21 = v_fma(d, x1, a21);                                                                   \
        a22 = v_fma(d, x2, a22);                                                                   \
        d = LOAD(d3 + (j));                                                                        \
        V_KEEP(d);                                                                                 \
        a30 = v_fma(d, x0, a30);                                                                   \
        a31 = v_fma(d, x1, a31);                                                                   \
        a32 = v_fma(d, x2, a32);                                                                   \
    } while (0)
        for (size_t j = 0; j < full; j += VW)
            CONVW3_STEP(v_load, j);
        if (full < len)
            CONVW3_STEP(v_load8, full);
#undef CONVW3_STEP
        acc[0] += v_hsum(a00);
        acc[1] += v_hsum(a01);
        acc[2] += v_hsum(a02);
        acc[3] += v_hsum(a10);
        acc[4] += v_hsum(a11);
        acc[5] += v_hsum(a12);
        acc[6] += v_hsum(a20);
        acc[7] += v_hsum(a21);
        acc[8] += v_hsum(a22);
        acc[9] += v_hsum(a30);
        acc[10] += v_hsum(a31);
        acc[11] += v_hsum(a32);
        return;
    }
    for (int t = 0; t < ntaps; t++) {
        vf a0 = v_zero(), a1 = a0, a2 = a0, a3 = a0;
#define CONVW1_STEP(LOAD, j)                                                                       \
    do {                                                                                           \
        vf xv = LOAD(x + offs[t] + (j));                                                           \
        V_KEEP(xv);                                                                                \
        a0 = v_fma(LOAD(d0 + (j)), xv, a0);                                                        \
        a1 = v_fma(LOAD(d1 + (j)), xv, a1);                                                        \
        a2 = v_fma(LOAD(d2 + (j)), xv, a2);                                                        \
        a3 = v_fma(LOAD(d3 + (j)), xv, a3);                                                        \
    } while (0)
        for (size_t j = 0; j < full; j += VW)
            CONVW1_STEP(v_load, j);
        if (full < len)
            CONVW1_STEP(v_load8, full);
#undef CONVW1_STEP
        acc[0 * ntaps + t] += v_hsum(a0);
        acc[1 * ntaps + t] += v_hsum(a1);
        acc[2 * ntaps + t] += v_hsum(a2);
        acc[3 * ntaps + t] += v_hsum(a3);
    }
}

/* 6 tiles x VNR channels, A rows strided (the transformed tiles), B packed [kc][VNR] */
static void VK(wino_gemm)(int kc, const float *a, size_t lda, const float *b, float *c,
                          size_t ldc)
{
    VTILE6_ZERO;
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda,
                *a5 = a + 5 * lda;
    for (int k = 0; k < kc; k++) {
        vf b0 = v_load(b), b1 = v_load(b + VW);
        b += VNR;
        VTILE6_FMA(a0 + k, a1 + k, a2 + k, a3 + k, a4 + k, a5 + k);
    }
    VTILE6_STORE(c, ldc, 0);
}

#if VW == 16
/* gemm_micro over two packed A panels: rows 0-5 from a, 6-11 from a + a_next */
static void VK(gemm_micro12)(int kc, const float *a, size_t a_next, const float *b, float *c,
                             size_t ldc, int accumulate)
{
    VTILE12_ZERO;
    const float *ah = a + a_next;
    for (int p = 0; p < kc; p++, a += 6, ah += 6, b += VNR) {
        vf b0 = v_load(b), b1 = v_load(b + VW);
        _Pragma("GCC unroll 6") for (int i = 0; i < 6; i++) {
            VTILE12_FMA(i, a + i);
            VTILE12_FMA(6 + i, ah + i);
        }
    }
    VTILE12_STORE(c, ldc, accumulate);
}

/* wino_gemm over 12 tiles */
static void VK(wino_gemm12)(int kc, const float *a, size_t lda, const float *b, float *c,
                            size_t ldc)
{
    VTILE12_ZERO;
    for (int k = 0; k < kc; k++, b += VNR) {
        vf b0 = v_load(b), b1 = v_load(b + VW);
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++)
            VTILE12_FMA(i, a + (size_t)i * lda + k);
    }
    VTILE12_STORE(c, ldc, 0);
}

/* wino_gemm_tn over 12 input channels (the weight gradient's GEMM) */
static void VK(wino_gemm_tn12)(int kc, const float *a, size_t lda, const float *b, size_t ldb,
                               float *c, size_t ldc)
{
    VTILE12_LOAD(c, ldc);
    for (int k = 0; k < kc; k++, a += lda, b += ldb) {
        vf b0 = v_load(b), b1 = v_load(b + VW);
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++)
            VTILE12_FMA(i, a + i);
    }
    VTILE12_STORE(c, ldc, 0);
}
#endif

/* 6 input channels x VNR output channels of the Winograd weight gradient, accumulated into c
 * over kc tiles */
static void VK(wino_gemm_tn)(int kc, const float *a, size_t lda, const float *b, size_t ldb,
                             float *c, size_t ldc)
{
    vf c00 = v_load(c), c01 = v_load(c + VW);
    vf c10 = v_load(c + ldc), c11 = v_load(c + ldc + VW);
    vf c20 = v_load(c + 2 * ldc), c21 = v_load(c + 2 * ldc + VW);
    vf c30 = v_load(c + 3 * ldc), c31 = v_load(c + 3 * ldc + VW);
    vf c40 = v_load(c + 4 * ldc), c41 = v_load(c + 4 * ldc + VW);
    vf c50 = v_load(c + 5 * ldc), c51 = v_load(c + 5 * ldc + VW);
    for (int k = 0; k < kc; k++) {
        vf b0 = v_load(b), b1 = v_load(b + VW);
        b += ldb;
        VTILE6_FMA(a + 0, a + 1, a + 2, a + 3, a + 4, a + 5);
        a += lda;
    }
    VTILE6_STORE(c, ldc, 0);
}

/* ---- streaming ops (memory bound; x and y may be the same buffer) ---- */

static void VK(relu_fwd)(size_t n, const float *x, float *y)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW)
        v_store(y + i, v_max0(v_load(x + i)));
    for (; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void VK(relu_bwd)(size_t n, const float *y, const float *dy, float *dx)
{
    size_t i = 0;
    for (; i + VW <= n; i += VW)
        v_store(dx + i, v_keep_pos(v_load(y + i), v_load(dy + i)));
    for (; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* y = fma(x, scale, shift) in the vector loop and fmaf in the tail: one rounding for every
 * element, so a relu gate (gate_dy) recomputes the sign forward saw, bit for bit */
static void VK(affine)(size_t n, const float *x, float scale, float shift, int relu, float *y)
{
    vf sc = v_set1(scale), sh = v_set1(shift);
    size_t i = 0;
    if (relu) {
        for (; i + VW <= n; i += VW)
            v_store(y + i, v_max0(v_fma(v_load(x + i), sc, sh)));
        for (; i < n; i++)
            y[i] = fer_relu(fmaf(x[i], scale, shift));
    } else {
        for (; i + VW <= n; i += VW)
            v_store(y + i, v_fma(v_load(x + i), sc, sh));
        for (; i < n; i++)
            y[i] = fmaf(x[i], scale, shift);
    }
}

/* dy where the gated batch norm's output x * scale + shift is > 0 (fer_relu_backward) */
static inline vf VK(gate_dy)(vf x, vf dy, vf sc, vf sh)
{
    return v_keep_pos(v_fma(x, sc, sh), dy);
}

static inline float VK(gate_dy1)(float x, float dy, const cpu_relu_gate *g)
{
    return g ? fer_relu_backward(fmaf(x, g->scale, g->shift), dy) : dy;
}

static void VK(bn_bwd_apply)(size_t n, const float *x, const float *dy, float mean, float invstd,
                             float gi, float mdy, float mdyx, const cpu_relu_gate *gate,
                             float *dx)
{
    /* gi*(dy - mdy - (x-mean)*invstd*mdyx) = gi*dy - gi*mdy - (x-mean)*(gi*invstd*mdyx) */
    vf vm = v_set1(mean), vk = v_set1(gi * invstd * mdyx), vg = v_set1(gi), vb = v_set1(gi * mdy);
    size_t i = 0;
    if (gate) {
        vf sc = v_set1(gate->scale), sh = v_set1(gate->shift);
        for (; i + VW <= n; i += VW) {
            vf xv = v_load(x + i);
            vf t = v_fms(vg, VK(gate_dy)(xv, v_load(dy + i), sc, sh), vb);
            v_store(dx + i, v_fnma(v_sub(xv, vm), vk, t));
        }
    } else {
        for (; i + VW <= n; i += VW) {
            vf xc = v_sub(v_load(x + i), vm);
            vf t = v_fms(vg, v_load(dy + i), vb);
            v_store(dx + i, v_fnma(xc, vk, t));
        }
    }
    for (; i < n; i++)
        dx[i] = gi * (VK(gate_dy1)(x[i], dy[i], gate) - mdy - (x[i] - mean) * invstd * mdyx);
}

static void VK(shifted_sums)(size_t n, const float *x, float pivot, double *s)
{
    vf p = v_set1(pivot), a0 = v_zero(), a1 = a0, b0 = a0, b1 = a0;
    size_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        vf d0 = v_sub(v_load(x + i), p), d1 = v_sub(v_load(x + i + VW), p);
        a0 = v_add(a0, d0);
        a1 = v_add(a1, d1);
        b0 = v_fma(d0, d0, b0);
        b1 = v_fma(d1, d1, b1);
    }
    float ta = v_hsum(v_add(a0, a1)), tb = v_hsum(v_add(b0, b1));
    for (; i < n; i++) {
        float d = x[i] - pivot;
        ta += d;
        tb += d * d;
    }
    s[0] += ta;
    s[1] += tb;
}

static void VK(grad_sums)(size_t n, const float *x, const float *dy, float mean,
                          const cpu_relu_gate *gate, double *s)
{
    vf m = v_set1(mean), a0 = v_zero(), a1 = a0, b0 = a0, b1 = a0;
    size_t i = 0;
    if (gate) {
        vf sc = v_set1(gate->scale), sh = v_set1(gate->shift);
        for (; i + 2 * VW <= n; i += 2 * VW) {
            vf x0 = v_load(x + i), x1 = v_load(x + i + VW);
            vf g0 = VK(gate_dy)(x0, v_load(dy + i), sc, sh);
            vf g1 = VK(gate_dy)(x1, v_load(dy + i + VW), sc, sh);
            a0 = v_add(a0, g0);
            a1 = v_add(a1, g1);
            b0 = v_fma(g0, v_sub(x0, m), b0);
            b1 = v_fma(g1, v_sub(x1, m), b1);
        }
    } else {
        for (; i + 2 * VW <= n; i += 2 * VW) {
            vf g0 = v_load(dy + i), g1 = v_load(dy + i + VW);
            a0 = v_add(a0, g0);
            a1 = v_add(a1, g1);
            b0 = v_fma(g0, v_sub(v_load(x + i), m), b0);
            b1 = v_fma(g1, v_sub(v_load(x + i + VW), m), b1);
        }
    }
    float ta = v_hsum(v_add(a0, a1)), tb = v_hsum(v_add(b0, b1));
    for (; i < n; i++) {
        float g = VK(gate_dy1)(x[i], dy[i], gate);
        ta += g;
        tb += g * (x[i] - mean);
    }
    s[0] += ta;
    s[1] += tb;
}

/* dst = src with non-temporal stores where dst is vector-aligned (the ends plainly); the caller
 * fences (cpu_stream_fence) before another thread may read dst */
static void VK(stream_copy)(float *dst, const float *src, size_t n)
{
    size_t i = 0;
    for (; i < n && ((uintptr_t)(dst + i) & (VW * sizeof(float) - 1)); i++)
        dst[i] = src[i];
    for (; i + VW <= n; i += VW)
        v_stream(dst + i, v_load(src + i));
    for (; i < n; i++)
        dst[i] = src[i];
}

static void VK(axpy)(size_t n, float alpha, const float *x, float *y)
{
    vf va = v_set1(alpha);
    size_t i = 0;
    for (; i + VW <= n; i += VW)
        v_store(y + i, v_fma(va, v_load(x + i), v_load(y + i)));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

#undef VTILE6_FMA
#undef VTILE6_ZERO
#undef VTILE6_STORE
#undef VNR
