/* Depthwise 3x3 / 5x5 plane kernels (stride 1 and 2) over DW_VW-column vectors, written once
 * with the GCC/clang vector extension and included by cpu_depthwise.c three times: plainly
 * (portable, 8 lanes), under an AVX2+FMA target (8 lanes) and under an AVX-512 target (16
 * lanes), each time with its own DW_NAME suffix, vector type DW_V / DW_VU (unaligned), DW_FMA,
 * lane shuffles DW_EVEN / DW_ODD (even / odd lanes of two vectors), DW_ZIPLO / DW_ZIPHI
 * (interleaved low / high halves of two vectors) and DW_HSUM (lanes summed in a fixed order).
 *
 * Planes come "split": the zero-padded input plane (padded row r = ih + pad, padded column
 * C = iw + pad) with each row stored as S phase rows, phase ph holding columns C = q*S + ph at
 * [(r*S + ph)*qw + q]. A tap (kh, kw) of output column ow then reads phase kw % S at
 * q = ow + kw / S: every tap of a stride-S row is a unit-stride vector load, no edge tests. */
#ifndef FER_CPU_DW_IMPL_TYPES
#define FER_CPU_DW_IMPL_TYPES
#include <string.h>

#pragma GCC diagnostic ignored "-Wpsabi" /* vectors pass between this file's static functions */

typedef float DW_V __attribute__((vector_size(32)));
typedef float dv8u __attribute__((vector_size(32), aligned(4)));
typedef float dv16 __attribute__((vector_size(64)));
typedef float dv16u __attribute__((vector_size(64), aligned(4)));
typedef float dv4 __attribute__((vector_size(16)));

#define DW_ALWAYS_INLINE static inline __attribute__((always_inline))

/* lanes of 8 summed in the order the AVX2 kernels always used */
#define DW_HSUM8(a) (((a)[0] + (a)[4]) + ((a)[1] + (a)[5])) + (((a)[2] + (a)[6]) + ((a)[3] + (a)[7]))


/* Geometry of one depthwise call (cpu_depthwise.c fills it). */
typedef struct dw_geom {
    int k, s, pad;
    int in_h, in_w, out_h, out_w;
    int vw;       /* floats per vector */
    int ovec;     /* vectors per output row */
    int rows_blk; /* output rows per forward pass */
    int out_rows; /* out_h rounded up to rows_blk */
    int qw;       /* floats per phase row of a split plane */
    int qrows;    /* padded rows of a split plane */
} dw_geom;
#endif

static inline DW_V DW_NAME(dw_ld)(const float *p)
{
    return *(const DW_VU *)(const void *)p;
}

static inline void DW_NAME(dw_st)(float *p, DW_V v)
{
    *(DW_VU *)(void *)p = v;
}

static inline DW_V DW_NAME(dw_splat)(float f)
{
    return (DW_V){0} + f;
}

/* Inline copies and fills: the rows of small planes are too short for memcpy/memset calls. */
static inline void DW_NAME(dw_zero)(float *restrict d, size_t n)
{
    size_t i = 0;
    for (; i + DW_VW <= n; i += DW_VW)
        DW_NAME(dw_st)(d + i, DW_NAME(dw_splat)(0.0f));
    for (; i < n; i++)
        d[i] = 0.0f;
}

static inline void DW_NAME(dw_copy)(float *restrict d, const float *restrict s, size_t n)
{
    size_t i = 0;
    for (; i + DW_VW <= n; i += DW_VW)
        DW_NAME(dw_st)(d + i, DW_NAME(dw_ld)(s + i));
    for (; i < n; i++)
        d[i] = s[i];
}

/* the first n < DW_VW lanes of v to p through tmp (DW_VW floats): AVX-512 masked stores
 * measured slower here */
static inline void DW_NAME(dw_st_part)(float *restrict p, DW_V v, int n, float *restrict tmp)
{
    DW_NAME(dw_st)(tmp, v);
    for (int q = 0; q < n; q++)
        p[q] = tmp[q];
}

/* dst (dst_rows x dst_w, zeros elsewhere) gets src (rows x cols, row stride src_w) at row and
 * column offset off. The zeros are written only when zero_pad is set: later planes of the same
 * geometry overwrite exactly the same interior, so a buffer is zeroed once per call. */
static void DW_NAME(dw_pad_plane)(float *restrict dst, size_t dst_w, size_t dst_rows,
                                  const float *restrict src, size_t src_w, size_t rows,
                                  size_t cols, size_t off, int zero_pad)
{
    if (zero_pad)
        DW_NAME(dw_zero)(dst, dst_w * dst_rows);
    for (size_t r = 0; r < rows; r++)
        DW_NAME(dw_copy)(dst + (r + off) * dst_w + off, src + r * src_w, cols);
}

/* x[in_h][in_w] into the split layout of g (rows and columns outside the plane are zeros). The
 * zeros are written only when zero_pad is set (as dw_pad_plane); the copies end with an
 * overlapping full vector instead of a scalar tail and stay inside the plane's columns. */
static void DW_NAME(dw_split)(const dw_geom *g, const float *restrict x, float *restrict xq,
                              int zero_pad)
{
    const int S = g->s, qw = g->qw, row_floats = S * qw, pad = g->pad;
    /* columns iw with iw + pad < S*qw land in the buffer */
    const int n_cols = S * qw - pad < g->in_w ? S * qw - pad : g->in_w;
    const int r_end = g->in_h + pad < g->qrows ? g->in_h + pad : g->qrows;
    if (zero_pad)
        DW_NAME(dw_zero)(xq, (size_t)g->qrows * row_floats);
    for (int r = pad; r < r_end; r++) {
        float *d = xq + (size_t)r * row_floats;
        const float *xs = x + (size_t)(r - pad) * g->in_w;
        if (S == 1) {
            if (n_cols >= DW_VW) {
                int i = 0;
                for (; i + DW_VW <= n_cols; i += DW_VW)
                    DW_NAME(dw_st)(d + pad + i, DW_NAME(dw_ld)(xs + i));
                if (i < n_cols)
                    DW_NAME(dw_st)(d + pad + n_cols - DW_VW, DW_NAME(dw_ld)(xs + n_cols - DW_VW));
            } else {
                for (int i = 0; i < n_cols; i++)
                    d[pad + i] = xs[i];
            }
            continue;
        }
        /* stride 2: padded column C = iw + pad goes to phase C & 1 at C >> 1, so even iw share
         * the phase of C = pad (from base_a), odd iw the other (from base_b) */
        float *ph_a = d + (pad & 1) * qw, *ph_b = d + ((pad + 1) & 1) * qw;
        const int base_a = pad >> 1, base_b = (pad + 1) >> 1;
        int i = 0;
        if (n_cols >= 2 * DW_VW) {
            /* blocks of 2 * DW_VW columns; the last one starts at `last` and may overlap the one
             * before; an odd last column is left to the scalar tail */
            const int last = (n_cols - 2 * DW_VW) / 2;
            for (;; i += DW_VW) {
                if (i > last)
                    i = last;
                const DW_V lo = DW_NAME(dw_ld)(xs + 2 * i), hi = DW_NAME(dw_ld)(xs + 2 * i + DW_VW);
                DW_NAME(dw_st)(ph_a + base_a + i,
                               DW_EVEN(lo, hi));
                DW_NAME(dw_st)(ph_b + base_b + i,
                               DW_ODD(lo, hi));
                if (i == last)
                    break;
            }
            i = last + DW_VW;
        }
        for (int e = i; 2 * e < n_cols; e++)
            ph_a[base_a + e] = xs[2 * e];
        for (int o = i; 2 * o + 1 < n_cols; o++)
            ph_b[base_b + o] = xs[2 * o + 1];
    }
}

/* y (out_h x out_w) = bias + the K x K stride-S correlation of the split plane xq with w; RB
 * output rows per pass share their input row loads. tmp: DW_VW floats. */
DW_ALWAYS_INLINE void DW_NAME(dw_fwd_t)(const dw_geom *g, const float *restrict xq,
                                        const float *restrict w, float bias, float *restrict y,
                                        float *restrict tmp, const int K, const int S,
                                        const int RB)
{
    DW_V wb[25]; /* fixed sizes, not VLAs: the arrays must stay in registers */
    #pragma GCC unroll 32
    for (int t = 0; t < K * K; t++)
        wb[t] = DW_NAME(dw_splat)(w[t]);
    const size_t qw = (size_t)g->qw, rs = (size_t)S * qw;
    for (int oh0 = 0; oh0 < g->out_h; oh0 += RB) {
        const float *xr = xq + (size_t)oh0 * S * rs;
        for (int c = 0; c < g->ovec; c++) {
            DW_V acc[4];
            #pragma GCC unroll 32
            for (int r = 0; r < RB; r++)
                acc[r] = DW_NAME(dw_splat)(bias);
            #pragma GCC unroll 32
            for (int ir = 0; ir < (RB - 1) * S + K; ir++) {
                #pragma GCC unroll 32
                for (int kw = 0; kw < K; kw++) {
                    const DW_V v =
                        DW_NAME(dw_ld)(xr + ir * rs + (size_t)(kw % S) * qw + kw / S + c * DW_VW);
                    #pragma GCC unroll 32
                    for (int r = 0; r < RB; r++) {
                        const int kh = ir - r * S;
                        if (kh >= 0 && kh < K)
                            acc[r] = DW_FMA(wb[kh * K + kw], v, acc[r]);
                    }
                }
            }
            /* full vectors straight into y, the last partial one through tmp */
            const int rows = g->out_h - oh0 < RB ? g->out_h - oh0 : RB, cols = g->out_w - c * DW_VW;
            #pragma GCC unroll 32
            for (int r = 0; r < RB; r++) {
                if (r >= rows)
                    break;
                float *yd = y + (size_t)(oh0 + r) * g->out_w + c * DW_VW;
                if (cols >= DW_VW)
                    DW_NAME(dw_st)(yd, acc[r]);
                else
                    DW_NAME(dw_st_part)(yd, acc[r], cols, tmp);
            }
        }
    }
}

/* Input gradient of a stride-2 layer for one plane: the adjoint of dw_fwd_t as a gather. In the
 * padded frame, dX[R][C] = sum over taps with kh = R mod 2, kw = C mod 2 (step 2) of
 * w[kh][kw] * dy[R/2 - kh/2][C/2 - kw/2]; dyp holds dy with M = (K-1)/2 zero rows and columns
 * before it (row stride dyw), so no index goes below zero.
 * Vector pair c of a dx row covers dx columns 2V*c .. 2V*c + 2V-1 (V = DW_VW): even columns
 * come from padded columns of phase PHA = pad & 1 starting at q = (pad >> 1) + V*c, odd ones
 * from the other phase at ((pad + 1) >> 1) + V*c; both are computed in registers and
 * interleaved (no reload). */
DW_ALWAYS_INLINE DW_V DW_NAME(dw_dx_vec_t)(const float *restrict dyr, size_t dyw, const DW_V *wb,
                                          int q, const int K, const int PHR, const int PH)
{
    const int M = (K - 1) / 2;
    DW_V acc = DW_NAME(dw_splat)(0.0f);
#pragma GCC unroll 32
    for (int kh = PHR; kh < K; kh += 2)
#pragma GCC unroll 32
        for (int kw = PH; kw < K; kw += 2)
            acc = DW_FMA(wb[kh * K + kw],
                         DW_NAME(dw_ld)(dyr + (size_t)(M - kh / 2) * dyw + M - kw / 2 + q), acc);
    return acc;
}

DW_ALWAYS_INLINE void DW_NAME(dw_dx_row_t)(const dw_geom *g, const float *restrict dyr,
                                           size_t dyw, const DW_V *wb, float *restrict d,
                                           float *restrict tmp, int nvec, const int K,
                                           const int PHR, const int PHA)
{
    const int qa = g->pad >> 1, qb = (g->pad + 1) >> 1;
    for (int c = 0; c < nvec; c++) {
        const DW_V a = DW_NAME(dw_dx_vec_t)(dyr, dyw, wb, qa + DW_VW * c, K, PHR, PHA);
        const DW_V b = DW_NAME(dw_dx_vec_t)(dyr, dyw, wb, qb + DW_VW * c, K, PHR, 1 - PHA);
        const DW_V lo = DW_ZIPLO(a, b);
        const DW_V hi = DW_ZIPHI(a, b);
        const int cols = g->in_w - 2 * DW_VW * c;
        if (cols >= 2 * DW_VW) {
            DW_NAME(dw_st)(d + 2 * DW_VW * c, lo);
            DW_NAME(dw_st)(d + 2 * DW_VW * c + DW_VW, hi);
        } else if (cols > DW_VW) {
            DW_NAME(dw_st)(d + 2 * DW_VW * c, lo);
            DW_NAME(dw_st_part)(d + 2 * DW_VW * c + DW_VW, hi, cols - DW_VW, tmp);
        } else if (cols == DW_VW) {
            DW_NAME(dw_st)(d + 2 * DW_VW * c, lo);
        } else {
            DW_NAME(dw_st_part)(d + 2 * DW_VW * c, lo, cols, tmp);
        }
    }
}

/* tmp: 2*DW_VW floats; nvec = ceil(in_w / (2*DW_VW)); dyp is at least nvec*DW_VW + M + ((pad + 1) >> 1) wide
 * and (pad + in_h - 1) / 2 + M + 1 rows deep */
DW_ALWAYS_INLINE void DW_NAME(dw_dx_s2_t)(const dw_geom *g, const float *restrict dyp, size_t dyw,
                                          const float *restrict w, float *restrict dx,
                                          float *restrict tmp, int nvec, const int K)
{
    DW_V wb[25]; /* fixed sizes, not VLAs: the arrays must stay in registers */
#pragma GCC unroll 32
    for (int t = 0; t < K * K; t++)
        wb[t] = DW_NAME(dw_splat)(w[t]);
    const int pha = g->pad & 1;
    for (int ih = 0; ih < g->in_h; ih++) {
        const int R = ih + g->pad;
        /* tap row kh reads dyp row R/2 + M - kh/2 (dw_dx_vec_t adds M - kh/2) */
        const float *dyr = dyp + (size_t)(R >> 1) * dyw;
        float *d = dx + (size_t)ih * g->in_w;
        if (R & 1) {
            if (pha)
                DW_NAME(dw_dx_row_t)(g, dyr, dyw, wb, d, tmp, nvec, K, 1, 1);
            else
                DW_NAME(dw_dx_row_t)(g, dyr, dyw, wb, d, tmp, nvec, K, 1, 0);
        } else {
            if (pha)
                DW_NAME(dw_dx_row_t)(g, dyr, dyw, wb, d, tmp, nvec, K, 0, 1);
            else
                DW_NAME(dw_dx_row_t)(g, dyr, dyw, wb, d, tmp, nvec, K, 0, 0);
        }
    }
}

/* Weight gradient of one plane: acc[kh*K + kw] += sum over the plane of dy * x at the tap, as
 * vector partial sums summed across lanes at the end (a fixed order). dyq: rows of dys floats
 * (at least ovec*DW_VW), zero past out_w and, up to out_h rounded up to RB, past out_h. Taps are taken TB kernel rows at a time (all of
 * them for K = 3: 9 accumulators; one row of 5 for K = 5), RB output rows per pass sharing
 * their input row loads (rows oh, oh+1, ... still added in order to each tap). */
DW_ALWAYS_INLINE void DW_NAME(dw_wgrad_t)(const dw_geom *g, const float *restrict xq,
                                          const float *restrict dyq, size_t dys,
                                          float *restrict acc_out, const int K, const int S,
                                          const int TB, const int RB)
{
    const size_t qw = (size_t)g->qw, rs = (size_t)S * qw;
    for (int kh0 = 0; kh0 < K; kh0 += TB) {
        DW_V acc[25];
#pragma GCC unroll 32
        for (int t = 0; t < TB * K; t++)
            acc[t] = DW_NAME(dw_splat)(0.0f);
        for (int oh = 0; oh < g->out_h; oh += RB) {
            const float *xr = xq + ((size_t)oh * S + kh0) * rs;
            for (int c = 0; c < g->ovec; c++) {
                DW_V d[4];
#pragma GCC unroll 32
                for (int r = 0; r < RB; r++)
                    d[r] = DW_NAME(dw_ld)(dyq + (oh + r) * dys + c * DW_VW);
#pragma GCC unroll 32
                for (int ir = 0; ir < (RB - 1) * S + TB; ir++)
#pragma GCC unroll 32
                    for (int kw = 0; kw < K; kw++) {
                        const DW_V v = DW_NAME(dw_ld)(xr + ir * rs + (size_t)(kw % S) * qw +
                                                     kw / S + c * DW_VW);
#pragma GCC unroll 32
                        for (int r = 0; r < RB; r++) {
                            const int kh = ir - r * S;
                            if (kh >= 0 && kh < TB)
                                acc[kh * K + kw] = DW_FMA(d[r], v, acc[kh * K + kw]);
                        }
                    }
            }
        }
#pragma GCC unroll 32
        for (int t = 0; t < TB * K; t++) {
            const DW_V a = acc[t];
            acc_out[kh0 * K + t] =
                DW_HSUM(a);
        }
    }
}

/* Stride-2 forward from a plainly padded plane (dw_split at stride 1; row stride g->qw >=
 * 2 * ovec * DW_VW + K - 1, g->qrows rows): the even and odd columns of each input row are
 * separated in registers (two unit-stride loads, DW_EVEN / DW_ODD) instead of in a phase-split
 * copy (+9% forward at 24x24 -> 12x12, one thread). g: the layer's geometry with qw the
 * padded plane's row stride (its s, 1, is the copy's; the kernel's stride is 2). */
DW_ALWAYS_INLINE void DW_NAME(dw_fwd_s2d_t)(const dw_geom *g, const float *restrict xp,
                                            const float *restrict w, float bias,
                                            float *restrict y, float *restrict tmp, const int K)
{
    enum { RB = 2 };
    DW_V wb[25]; /* fixed sizes, not VLAs: the arrays must stay in registers */
#pragma GCC unroll 32
    for (int t = 0; t < K * K; t++)
        wb[t] = DW_NAME(dw_splat)(w[t]);
    const size_t qw = (size_t)g->qw;
    for (int oh0 = 0; oh0 < g->out_h; oh0 += RB) {
        const float *xr = xp + (size_t)oh0 * 2 * qw;
        for (int c = 0; c < g->ovec; c++) {
            DW_V acc[RB];
#pragma GCC unroll 32
            for (int r = 0; r < RB; r++)
                acc[r] = DW_NAME(dw_splat)(bias);
#pragma GCC unroll 32
            for (int ir = 0; ir < (RB - 1) * 2 + K; ir++) {
                const float *row = xr + (size_t)ir * qw + (size_t)c * 2 * DW_VW;
#pragma GCC unroll 32
                for (int kw = 0; kw < K; kw += 2) {
                    /* lanes m: columns 2m + kw (even) and 2m + kw + 1 (odd) */
                    const DW_V lo = DW_NAME(dw_ld)(row + kw), hi = DW_NAME(dw_ld)(row + kw + DW_VW);
                    const DW_V ev = DW_EVEN(lo, hi);
#pragma GCC unroll 32
                    for (int r = 0; r < RB; r++) {
                        const int kh = ir - r * 2;
                        if (kh >= 0 && kh < K)
                            acc[r] = DW_FMA(wb[kh * K + kw], ev, acc[r]);
                    }
                    if (kw + 1 < K) {
                        const DW_V od = DW_ODD(lo, hi);
#pragma GCC unroll 32
                        for (int r = 0; r < RB; r++) {
                            const int kh = ir - r * 2;
                            if (kh >= 0 && kh < K)
                                acc[r] = DW_FMA(wb[kh * K + kw + 1], od, acc[r]);
                        }
                    }
                }
            }
            const int rows = g->out_h - oh0 < RB ? g->out_h - oh0 : RB, cols = g->out_w - c * DW_VW;
#pragma GCC unroll 32
            for (int r = 0; r < RB; r++) {
                if (r >= rows)
                    break;
                float *yd = y + (size_t)(oh0 + r) * g->out_w + c * DW_VW;
                if (cols >= DW_VW)
                    DW_NAME(dw_st)(yd, acc[r]);
                else
                    DW_NAME(dw_st_part)(yd, acc[r], cols, tmp);
            }
        }
    }
}

static void DW_NAME(dw_fwd_s2d)(const dw_geom *g, const float *xp, const float *w, float bias,
                                float *y, float *tmp)
{
    if (g->k == 3)
        DW_NAME(dw_fwd_s2d_t)(g, xp, w, bias, y, tmp, 3);
    else
        DW_NAME(dw_fwd_s2d_t)(g, xp, w, bias, y, tmp, 5);
}

/* The instantiations cpu_depthwise.c calls through its table. */
static void DW_NAME(dw_fwd)(const dw_geom *g, const float *xq, const float *w, float bias,
                            float *y, float *tmp)
{
    if (g->k == 3 && g->s == 1)
        DW_NAME(dw_fwd_t)(g, xq, w, bias, y, tmp, 3, 1, 4);
    else if (g->k == 3)
        DW_NAME(dw_fwd_t)(g, xq, w, bias, y, tmp, 3, 2, 2);
    else if (g->s == 1)
        DW_NAME(dw_fwd_t)(g, xq, w, bias, y, tmp, 5, 1, 2);
    else
        DW_NAME(dw_fwd_t)(g, xq, w, bias, y, tmp, 5, 2, 2);
}

static void DW_NAME(dw_dx_s2)(const dw_geom *g, const float *dyp, size_t dyw, const float *w,
                              float *dx, float *tmp, int qvec)
{
    if (g->k == 3)
        DW_NAME(dw_dx_s2_t)(g, dyp, dyw, w, dx, tmp, qvec, 3);
    else
        DW_NAME(dw_dx_s2_t)(g, dyp, dyw, w, dx, tmp, qvec, 5);
}

static void DW_NAME(dw_wgrad)(const dw_geom *g, const float *xq, const float *dyq, size_t dys,
                              float *acc)
{
    if (g->k == 3 && g->s == 1)
        DW_NAME(dw_wgrad_t)(g, xq, dyq, dys, acc, 3, 1, 3, 2);
    else if (g->k == 3)
        DW_NAME(dw_wgrad_t)(g, xq, dyq, dys, acc, 3, 2, 3, 2);
    else if (g->s == 1)
        DW_NAME(dw_wgrad_t)(g, xq, dyq, dys, acc, 5, 1, 1, 1);
    else
        DW_NAME(dw_wgrad_t)(g, xq, dyq, dys, acc, 5, 2, 1, 1);
}

/* sum of a dy plane in the dyq layout (rows of dys floats, zeros past out_w), lanes summed in a
 * fixed order */
static float DW_NAME(dw_plane_sum)(const dw_geom *g, const float *dyq, size_t dys)
{
    DW_V a = DW_NAME(dw_splat)(0.0f);
    for (int r = 0; r < g->out_h; r++)
        for (int c = 0; c < g->ovec; c++)
            a += DW_NAME(dw_ld)(dyq + (size_t)r * dys + (size_t)c * DW_VW);
    return DW_HSUM(a);
}
