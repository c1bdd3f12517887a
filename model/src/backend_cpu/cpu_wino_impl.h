/* Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms over vectors of WINO_CB channels (8 unless the
 * including file says 16), written once with the GCC/clang vector extension and included by each
 * kernel file (cpu_kernels_portable.c, cpu_kernels_avx2.c: 8; cpu_kernels_avx512.c: 16), so
 * every ISA compiles it with its own target and the same per-lane arithmetic (the same bits).
 *
 * Lavin & Gray:  Y = A^T [ (G g G^T) . (B^T d B) ] A.
 * F(4,3), points 0, +-1, +-2, inf:
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * F(2,3), points 0, +-1, inf (a few ulp from the direct sum, as the golden tests need):
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]     A^T = [1 1 1 0; 0 1 -1 -1]
 * (G is applied once per call to the weights, in cpu_winograd.c.)
 *
 * Layouts: xb, a band of the input in blocks of WINO_CB channels, [rows][cols][WINO_CB] with zero
 * padding;
 * v / m, the transformed tiles: element xi (0..35) of tile t, channel c at
 * [xi*xi_stride + t*tile_stride + c]. */
#ifndef FER_CPU_WINO_IMPL_H
#define FER_CPU_WINO_IMPL_H
#include <string.h>

/* 32-byte vectors are passed between static functions of this file only: the ABI note about
 * targets without AVX does not apply */
#pragma GCC diagnostic ignored "-Wpsabi"

#ifndef WINO_CB
#define WINO_CB 8
#endif
#if WINO_CB != 8 && WINO_CB != 16
#error "WINO_CB is 8 or 16"
#endif

/* wv: one vector of WINO_CB channels; wv8 / wv4u: the 8-channel pieces of the NCHW stores */
typedef float wv __attribute__((vector_size(WINO_CB * 4)));
typedef float wvu __attribute__((vector_size(WINO_CB * 4), aligned(4)));
typedef float wv8 __attribute__((vector_size(32)));
typedef float wv8u __attribute__((vector_size(32), aligned(4)));
typedef float wv4u __attribute__((vector_size(16), aligned(4)));

static inline wv wino_ld(const float *p)
{
    return *(const wvu *)(const void *)p;
}

static inline void wino_st(float *p, wv v)
{
    *(wvu *)(void *)p = v;
}

static inline wv8 wino_ld8(const float *p)
{
    return *(const wv8u *)(const void *)p;
}

static inline void wino_st8(float *p, wv8 v)
{
    *(wv8u *)(void *)p = v;
}

/* Fused multiply-adds where the including file provides them (AVX2), plain otherwise:
 * WINO_FMA(a, b, c) = a*b + c, WINO_FNMA(a, b, c) = c - a*b. */
#ifndef WINO_FMA
#define WINO_FMA(a, b, c) ((a) * (b) + (c))
#define WINO_FNMA(a, b, c) ((c) - (a) * (b))
#endif

static inline wv wino_splat(float f)
{
    wv v;
    for (int i = 0; i < WINO_CB; i++)
        v[i] = f;
    return v;
}

/* o = B^T d along one axis (6 -> 6) */
static inline void wino_bt6(const wv d[6], wv o[6])
{
    const wv k4 = wino_splat(4.0f), k5 = wino_splat(5.0f), k2 = wino_splat(2.0f);
    wv t0 = WINO_FNMA(k4, d[2], d[4]), t1 = WINO_FNMA(k4, d[1], d[3]);
    wv t2 = d[4] - d[2], t3 = d[3] - d[1];
    o[0] = WINO_FMA(k4, d[0], WINO_FNMA(k5, d[2], d[4]));
    o[1] = t0 + t1;
    o[2] = t0 - t1;
    o[3] = WINO_FMA(k2, t3, t2);
    o[4] = WINO_FNMA(k2, t3, t2);
    o[5] = WINO_FMA(k4, d[1], WINO_FNMA(k5, d[3], d[5]));
}

/* o = A^T m along one axis (6 -> 4) */
static inline void wino_at6(const wv m[6], wv o[4])
{
    const wv k2 = wino_splat(2.0f), k4 = wino_splat(4.0f), k8 = wino_splat(8.0f);
    wv a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
    o[0] = m[0] + a + c;
    o[1] = WINO_FMA(k2, d, b);
    o[2] = WINO_FMA(k4, c, a);
    o[3] = WINO_FMA(k8, d, b + m[5]);
}

/* Input transform of tr x tw tiles (tile (r, t) reads rows 4r..4r+5, cols 4t..4t+5 of xb). */
static void wino_in_tiles(const float *xb, int cols, int tr, int tw, float *v, size_t xi_stride,
                          size_t tile_stride)
{
    size_t row = (size_t)cols * WINO_CB;
    for (int r = 0; r < tr; r++) {
        for (int t = 0; t < tw; t++) {
            const float *p = xb + (size_t)(4 * r) * row + (size_t)(4 * t) * WINO_CB;
            wv u[6][6];
            for (int j = 0; j < 6; j++) { /* columns: B^T over rows i */
                wv d[6];
                for (int i = 0; i < 6; i++)
                    d[i] = wino_ld(p + (size_t)i * row + (size_t)j * WINO_CB);
                wv o[6];
                wino_bt6(d, o);
                for (int i = 0; i < 6; i++)
                    u[i][j] = o[i];
            }
            float *dst = v + (size_t)(r * tw + t) * tile_stride;
            for (int i = 0; i < 6; i++) { /* rows: B^T over columns j */
                wv o[6];
                wino_bt6(u[i], o);
                for (int j = 0; j < 6; j++)
                    wino_st(dst + (size_t)(i * 6 + j) * xi_stride, o[j]);
            }
        }
    }
}

/* o = A e along one axis (4 -> 6), A = (A^T)^T: the weight gradient's dy transform */
static inline void wino_a4(const wv e[4], wv o[6])
{
    const wv k2 = wino_splat(2.0f), k4 = wino_splat(4.0f), k8 = wino_splat(8.0f);
    wv s02 = e[0] + e[2], s13 = e[1] + e[3];
    wv q = WINO_FMA(k4, e[2], e[0]), r = WINO_FMA(k8, e[3], k2 * e[1]);
    o[0] = e[0];
    o[1] = s02 + s13;
    o[2] = s02 - s13;
    o[3] = q + r;
    o[4] = q - r;
    o[5] = e[3];
}

/* dy transform (A E A^T) of tr x tw 4x4 tiles of the blocked band xb (tile (r, t) reads rows
 * 4r..4r+3, cols 4t..4t+3), same output layout as wino_in_tiles. */
static void wino_dy_tiles(const float *xb, int cols, int tr, int tw, float *v, size_t xi_stride,
                          size_t tile_stride)
{
    size_t row = (size_t)cols * WINO_CB;
    for (int r = 0; r < tr; r++) {
        for (int t = 0; t < tw; t++) {
            const float *p = xb + (size_t)(4 * r) * row + (size_t)(4 * t) * WINO_CB;
            wv u[6][4];
            for (int j = 0; j < 4; j++) {
                wv e[4], o[6];
                for (int i = 0; i < 4; i++)
                    e[i] = wino_ld(p + (size_t)i * row + (size_t)j * WINO_CB);
                wino_a4(e, o);
                for (int i = 0; i < 6; i++)
                    u[i][j] = o[i];
            }
            float *dst = v + (size_t)(r * tw + t) * tile_stride;
            for (int i = 0; i < 6; i++) {
                wv o[6];
                wino_a4(u[i], o);
                for (int j = 0; j < 6; j++)
                    wino_st(dst + (size_t)(i * 6 + j) * xi_stride, o[j]);
            }
        }
    }
}

/* Stores 4 pixels (a, b, c, d: one vector of 8 channels each) as 8 channel rows of 4 floats. */
static inline void wino_store_4x8(wv8 a, wv8 b, wv8 c, wv8 d, float *y, size_t plane, int n_co)
{
    wv8 ab_lo = __builtin_shufflevector(a, b, 0, 8, 1, 9, 4, 12, 5, 13);
    wv8 ab_hi = __builtin_shufflevector(a, b, 2, 10, 3, 11, 6, 14, 7, 15);
    wv8 cd_lo = __builtin_shufflevector(c, d, 0, 8, 1, 9, 4, 12, 5, 13);
    wv8 cd_hi = __builtin_shufflevector(c, d, 2, 10, 3, 11, 6, 14, 7, 15);
    wv8 r[4];
    r[0] = __builtin_shufflevector(ab_lo, cd_lo, 0, 1, 8, 9, 4, 5, 12, 13);   /* ch 0 | ch 4 */
    r[1] = __builtin_shufflevector(ab_lo, cd_lo, 2, 3, 10, 11, 6, 7, 14, 15); /* ch 1 | ch 5 */
    r[2] = __builtin_shufflevector(ab_hi, cd_hi, 0, 1, 8, 9, 4, 5, 12, 13);   /* ch 2 | ch 6 */
    r[3] = __builtin_shufflevector(ab_hi, cd_hi, 2, 3, 10, 11, 6, 7, 14, 15); /* ch 3 | ch 7 */
    if (n_co >= 8) { /* the common case, without a test per row */
        for (int k = 0; k < 4; k++) {
            *(wv4u *)(void *)(y + (size_t)k * plane) =
                __builtin_shufflevector(r[k], r[k], 0, 1, 2, 3);
            *(wv4u *)(void *)(y + (size_t)(k + 4) * plane) =
                __builtin_shufflevector(r[k], r[k], 4, 5, 6, 7);
        }
        return;
    }
    for (int k = 0; k < 4 && k < n_co; k++)
        *(wv4u *)(void *)(y + (size_t)k * plane) = __builtin_shufflevector(r[k], r[k], 0, 1, 2, 3);
    for (int k = 0; k < 4 && k + 4 < n_co; k++)
        *(wv4u *)(void *)(y + (size_t)(k + 4) * plane) =
            __builtin_shufflevector(r[k], r[k], 4, 5, 6, 7);
}

#if WINO_CB == 16
static inline wv8 wino_lo8(wv v)
{
    return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
}

static inline wv8 wino_hi8(wv v)
{
    return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
}
#endif

/* Stores 4 pixels (one vector of WINO_CB channels each) as n_co channel rows of 4 floats. */
static inline void wino_store_4(wv a, wv b, wv c, wv d, float *y, size_t plane, int n_co)
{
#if WINO_CB == 16
    wino_store_4x8(wino_lo8(a), wino_lo8(b), wino_lo8(c), wino_lo8(d), y, plane, n_co);
    if (n_co > 8)
        wino_store_4x8(wino_hi8(a), wino_hi8(b), wino_hi8(c), wino_hi8(d), y + 8 * plane, plane,
                       n_co - 8);
#else
    wino_store_4x8(a, b, c, d, y, plane, n_co);
#endif
}

/* Output transform of tr x tw tiles for WINO_CB output channels (n_co valid) into NCHW planes y
 * (tile (r, t) -> rows 4r.., cols 4t..; rows >= rows_valid / cols >= cols_valid dropped). */
static void wino_out_tiles(const float *m, size_t xi_stride, size_t tile_stride, int tr, int tw,
                           const float *bias, int n_co, float *y, size_t plane, int out_w,
                           int rows_valid, int cols_valid)
{
    wv bv = wino_splat(0.0f);
    if (bias)
        for (int k = 0; k < n_co; k++)
            bv[k] = bias[k];
    for (int r = 0; r < tr; r++) {
        for (int t = 0; t < tw; t++) {
            const float *src = m + (size_t)(r * tw + t) * tile_stride;
            wv s[4][6];
            for (int j = 0; j < 6; j++) { /* columns: A^T over rows i */
                wv c[6], o[4];
                for (int i = 0; i < 6; i++)
                    c[i] = wino_ld(src + (size_t)(i * 6 + j) * xi_stride);
                wino_at6(c, o);
                for (int i = 0; i < 4; i++)
                    s[i][j] = o[i];
            }
            int h0 = 4 * r, w0 = 4 * t;
            for (int i = 0; i < 4 && h0 + i < rows_valid; i++) {
                wv o[4];
                wino_at6(s[i], o);
                for (int j = 0; j < 4; j++)
                    o[j] += bv;
                float *yr = y + (size_t)(h0 + i) * out_w + w0;
                if (w0 + 4 <= cols_valid) {
                    wino_store_4(o[0], o[1], o[2], o[3], yr, plane, n_co);
                } else {
                    for (int j = 0; j < 4 && w0 + j < cols_valid; j++)
                        for (int k = 0; k < n_co; k++)
                            yr[(size_t)k * plane + j] = o[j][k];
                }
            }
        }
    }
}

/* ---- F(2x2, 3x3) ---- */

static inline void wino2_bt4(const wv d[4], wv o[4])
{
    o[0] = d[0] - d[2];
    o[1] = d[1] + d[2];
    o[2] = d[2] - d[1];
    o[3] = d[1] - d[3];
}

static inline void wino2_at4(const wv m[4], wv o[2])
{
    o[0] = m[0] + m[1] + m[2];
    o[1] = m[1] - m[2] - m[3];
}

static inline void wino2_a2(const wv e[2], wv o[4])
{
    o[0] = e[0];
    o[1] = e[0] + e[1];
    o[2] = e[0] - e[1];
    o[3] = -e[1];
}

/* Input transform: tile (r, t) reads rows 2r..2r+3, cols 2t..2t+3 of xb. Neighbouring tiles
 * share two columns, so the column pass runs once per column of a block of tiles. */
/* WINO_ST_BF16(p, v): 8 floats stored as bf16 (round to nearest even), where the including
 * file has such a store; otherwise the bf16 branch below is never taken. */
#ifndef WINO_ST_BF16
#define WINO_ST_BF16(p, v) ((void)(p), (void)(v))
#endif

/* bf16 != 0: v is uint16_t (bf16), else float */
static inline void wino2_in_tiles_as(const float *xb, int cols, int tr, int tw, void *v,
                                     size_t xi_stride, size_t tile_stride, int bf16)
{
    enum { TB = 16 }; /* tiles per block */
    size_t row = (size_t)cols * WINO_CB;
    wv u[4][2 * TB + 2];
    for (int r = 0; r < tr; r++) {
        const float *base = xb + (size_t)(2 * r) * row;
        for (int t0 = 0; t0 < tw; t0 += TB) {
            int nt = tw - t0 < TB ? tw - t0 : TB;
            for (int j = 0; j < 2 * nt + 2; j++) { /* columns: B^T over rows */
                const float *p = base + (size_t)(2 * t0 + j) * WINO_CB;
                wv d[4] = {wino_ld(p), wino_ld(p + row), wino_ld(p + 2 * row),
                            wino_ld(p + 3 * row)};
                wv o[4];
                wino2_bt4(d, o);
                for (int i = 0; i < 4; i++)
                    u[i][j] = o[i];
            }
            for (int t = 0; t < nt; t++) { /* rows: B^T over the tile's 4 columns */
                size_t dst = (size_t)(r * tw + t0 + t) * tile_stride;
                for (int i = 0; i < 4; i++) {
                    wv o[4];
                    wino2_bt4(&u[i][2 * t], o);
                    for (int j = 0; j < 4; j++) {
                        size_t at = dst + (size_t)(i * 4 + j) * xi_stride;
                        if (bf16)
                            WINO_ST_BF16((uint16_t *)v + at, o[j]);
                        else
                            wino_st((float *)v + at, o[j]);
                    }
                }
            }
        }
    }
}

static void wino2_in_tiles(const float *xb, int cols, int tr, int tw, float *v, size_t xi_stride,
                           size_t tile_stride)
{
    wino2_in_tiles_as(xb, cols, tr, tw, v, xi_stride, tile_stride, 0);
}

/* dy transform (A E A^T): tile (r, t) reads rows 2r..2r+1, cols 2t..2t+1 of xb. */
static void wino2_dy_tiles(const float *xb, int cols, int tr, int tw, float *v, size_t xi_stride,
                           size_t tile_stride)
{
    size_t row = (size_t)cols * WINO_CB;
    for (int r = 0; r < tr; r++) {
        for (int t = 0; t < tw; t++) {
            const float *p = xb + (size_t)(2 * r) * row + (size_t)(2 * t) * WINO_CB;
            wv u[4][2];
            for (int j = 0; j < 2; j++) {
                wv e[2] = {wino_ld(p + (size_t)j * WINO_CB),
                           wino_ld(p + row + (size_t)j * WINO_CB)},
                   o[4];
                wino2_a2(e, o);
                for (int i = 0; i < 4; i++)
                    u[i][j] = o[i];
            }
            float *dst = v + (size_t)(r * tw + t) * tile_stride;
            for (int i = 0; i < 4; i++) {
                wv o[4];
                wino2_a2(u[i], o);
                for (int j = 0; j < 4; j++)
                    wino_st(dst + (size_t)(i * 4 + j) * xi_stride, o[j]);
            }
        }
    }
}

/* 2x2 output block of one tile: o[i][j] (8 channels each). */
static inline void wino2_tile_out(const float *src, size_t xi_stride, wv bv, wv o[2][2])
{
    wv s[2][4];
    for (int j = 0; j < 4; j++) {
        wv c[4], q[2];
        for (int i = 0; i < 4; i++)
            c[i] = wino_ld(src + (size_t)(i * 4 + j) * xi_stride);
        wino2_at4(c, q);
        s[0][j] = q[0];
        s[1][j] = q[1];
    }
    for (int i = 0; i < 2; i++) {
        wv q[2];
        wino2_at4(s[i], q);
        o[i][0] = q[0] + bv;
        o[i][1] = q[1] + bv;
    }
}

/* Output transform into NCHW planes; two neighbouring tiles make 4 pixels per row store. */
static void wino2_out_tiles(const float *m, size_t xi_stride, size_t tile_stride, int tr, int tw,
                            const float *bias, int n_co, float *y, size_t plane, int out_w,
                            int rows_valid, int cols_valid)
{
    wv bv = wino_splat(0.0f);
    if (bias)
        for (int k = 0; k < n_co; k++)
            bv[k] = bias[k];
    for (int r = 0; r < tr; r++) {
        for (int t = 0; t < tw; t += 2) {
            int pair = t + 1 < tw;
            wv a[2][2], b[2][2];
            wino2_tile_out(m + (size_t)(r * tw + t) * tile_stride, xi_stride, bv, a);
            if (pair)
                wino2_tile_out(m + (size_t)(r * tw + t + 1) * tile_stride, xi_stride, bv, b);
            int h0 = 2 * r, w0 = 2 * t;
            for (int i = 0; i < 2 && h0 + i < rows_valid; i++) {
                float *yr = y + (size_t)(h0 + i) * out_w + w0;
                if (pair && w0 + 4 <= cols_valid) {
                    wino_store_4(a[i][0], a[i][1], b[i][0], b[i][1], yr, plane, n_co);
                    continue;
                }
                for (int j = 0; j < 4 && w0 + j < cols_valid; j++) {
                    if (j >= 2 && !pair)
                        break;
                    wv v = j < 2 ? a[i][j] : b[i][j - 2];
                    for (int k = 0; k < n_co; k++)
                        yr[(size_t)k * plane + j] = v[k];
                }
            }
        }
    }
}

/* Columns j..j+7 of 8 channel rows src[0..7] into o[jj*WINO_CB + k] (an 8x8 transpose). */
static inline void wino_transpose8(const float *const src[8], int j, float *o)
{
    wv8 a0 = wino_ld8(src[0] + j), a1 = wino_ld8(src[1] + j), a2 = wino_ld8(src[2] + j),
        a3 = wino_ld8(src[3] + j), a4 = wino_ld8(src[4] + j), a5 = wino_ld8(src[5] + j),
        a6 = wino_ld8(src[6] + j), a7 = wino_ld8(src[7] + j);
    wv8 t0 = __builtin_shufflevector(a0, a1, 0, 8, 1, 9, 4, 12, 5, 13);
    wv8 t1 = __builtin_shufflevector(a0, a1, 2, 10, 3, 11, 6, 14, 7, 15);
    wv8 t2 = __builtin_shufflevector(a2, a3, 0, 8, 1, 9, 4, 12, 5, 13);
    wv8 t3 = __builtin_shufflevector(a2, a3, 2, 10, 3, 11, 6, 14, 7, 15);
    wv8 t4 = __builtin_shufflevector(a4, a5, 0, 8, 1, 9, 4, 12, 5, 13);
    wv8 t5 = __builtin_shufflevector(a4, a5, 2, 10, 3, 11, 6, 14, 7, 15);
    wv8 t6 = __builtin_shufflevector(a6, a7, 0, 8, 1, 9, 4, 12, 5, 13);
    wv8 t7 = __builtin_shufflevector(a6, a7, 2, 10, 3, 11, 6, 14, 7, 15);
    wv8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    wv8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    wv8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    wv8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    wv8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    wv8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    wv8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    wv8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    wino_st8(o + 0 * WINO_CB, __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11));
    wino_st8(o + 1 * WINO_CB, __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11));
    wino_st8(o + 2 * WINO_CB, __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11));
    wino_st8(o + 3 * WINO_CB, __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11));
    wino_st8(o + 4 * WINO_CB, __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15));
    wino_st8(o + 5 * WINO_CB, __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15));
    wino_st8(o + 6 * WINO_CB, __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15));
    wino_st8(o + 7 * WINO_CB, __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15));
}

/* Blocks channels [c0, c0+WINO_CB) of one dense image x[c][h][w] into xb[rows][cols][WINO_CB]:
 * row i, col j of the band is input row row0+i, column col0+j; zero outside the image or past
 * c. */
static void wino_block_band(const float *x, int c, int h, int w, int c0, int row0, int rows,
                            int col0, int cols, float *xb)
{
    enum { CB = WINO_CB };
    size_t plane = (size_t)h * w;
    int nc = c - c0 < CB ? c - c0 : CB;
    int j_lo = -col0 > 0 ? -col0 : 0;             /* first band column inside the image */
    int j_hi = w - col0 < cols ? w - col0 : cols; /* one past the last */
    for (int i = 0; i < rows; i++) {
        float *d = xb + (size_t)i * cols * CB;
        int ih = row0 + i;
        if (ih < 0 || ih >= h || j_hi <= j_lo) {
            memset(d, 0, (size_t)cols * CB * sizeof(float));
            continue;
        }
        if (j_lo > 0)
            memset(d, 0, (size_t)j_lo * CB * sizeof(float));
        if (j_hi < cols)
            memset(d + (size_t)j_hi * CB, 0, (size_t)(cols - j_hi) * CB * sizeof(float));
        const float *src[CB];
        for (int k = 0; k < CB; k++)
            src[k] = k < nc ? x + (size_t)(c0 + k) * plane + (size_t)ih * w + col0 : NULL;
        int j = j_lo;
        if (nc == CB) /* 8 columns x 8 channels at a time */
            for (; j + 8 <= j_hi; j += 8)
                for (int k0 = 0; k0 < CB; k0 += 8)
                    wino_transpose8(src + k0, j, d + (size_t)j * CB + k0);
        for (; j < j_hi; j++)
            for (int k = 0; k < CB; k++)
                d[(size_t)j * CB + k] = k < nc ? src[k][j] : 0.0f;
    }
}

/* Depthwise 3x3 (channel multiplier 1) of WINO_CB channels from a zero-padded blocked band xb
 * [rows][cols][WINO_CB] (wino_block_band from row0 = col0 = -pad): y(oh, ow) = bias + the
 * 9 taps w[tap] * xb[oh*s + kh][ow*s + kw] in row-major order, one channel vector per output
 * position, into n_co NCHW planes y (w: the channels' 3x3 kernels, w[k*9 + tap]). On small
 * planes this beats vectors along a row (cpu_dw_impl.h), which leave lanes of a 12-column row
 * idle and pay a set-up per plane. */
/* One output position of dw3_blocked: acc + the 9 taps at px, in row-major order. */
static inline wv dw3_point(const float *px, size_t row, const wv wt[9], wv acc)
{
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++)
            acc = WINO_FMA(wt[kh * 3 + kw], wino_ld(px + (size_t)kh * row + (size_t)kw * WINO_CB),
                           acc);
    return acc;
}

static void dw3_blocked(const float *xb, int cols, int stride, const float *w, const float *bias,
                        int n_co, float *y, size_t plane, int out_h, int out_w)
{
    wv wt[9], bv = wino_splat(0.0f);
    for (int t = 0; t < 9; t++)
        for (int k = 0; k < WINO_CB; k++)
            wt[t][k] = k < n_co ? w[(size_t)k * 9 + t] : 0.0f;
    if (bias)
        for (int k = 0; k < n_co; k++)
            bv[k] = bias[k];
    const size_t row = (size_t)cols * WINO_CB, step = (size_t)stride * WINO_CB;
    for (int oh = 0; oh < out_h; oh++) {
        const float *r0 = xb + (size_t)(oh * stride) * row;
        float *yr = y + (size_t)oh * out_w;
        int ow = 0;
        for (; ow + 4 <= out_w; ow += 4) {
            wv o[4];
            for (int q = 0; q < 4; q++)
                o[q] = dw3_point(r0 + (size_t)(ow + q) * step, row, wt, bv);
            wino_store_4(o[0], o[1], o[2], o[3], yr + ow, plane, n_co);
        }
        for (; ow < out_w; ow++) {
            wv acc = dw3_point(r0 + (size_t)ow * step, row, wt, bv);
            for (int k = 0; k < n_co; k++)
                yr[(size_t)k * plane + ow] = acc[k];
        }
    }
}

#endif
