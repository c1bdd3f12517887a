/* Pointwise (1x1) weight-gradient tile, written once over the vector width with the GCC/clang
 * vector extension and included by cpu_pointwise.c once per kernel set (portable: 8 lanes, no
 * target; AVX2+FMA: 8 lanes; AVX-512: 16 lanes), each time with its own PW_NAME suffix, vector
 * type PW_V (PW_VW lanes), fused PW_FMA and tile shape PW_R x PW_T (accumulators + loads must
 * fit the register file: 3 x 4 for 16 registers, 4 x 6 for 32).
 *
 * dw[co][ci] = sum over pixels of dy[co][p] * x[ci][p] contracts along the contiguous pixel
 * index of both operands, so the tile keeps vectors along p (no transposed packing) and sums
 * lanes once at the end of a chunk. */
#ifndef FER_CPU_PW_IMPL_TYPES
#define FER_CPU_PW_IMPL_TYPES
#pragma GCC diagnostic ignored "-Wpsabi" /* vectors pass between this file's static functions */
typedef float pv8 __attribute__((vector_size(32)));
typedef float pv8u __attribute__((vector_size(32), aligned(4)));
typedef float pv16 __attribute__((vector_size(64)));
typedef float pv16u __attribute__((vector_size(64), aligned(4)));
#endif

/* lanes summed as a fixed tree: halves added until 4 lanes are left, then (0+2) + (1+3) */
static inline float PW_NAME(pw_hsum)(PW_V a)
{
    typedef float v4 __attribute__((vector_size(16)));
#if PW_VW == 16
    const pv8 h8 = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
                   __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
#else
    const pv8 h8 = a;
#endif
    const v4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) +
                  __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
    const v4 h2 = h4 + __builtin_shufflevector(h4, h4, 2, 3, 0, 1);
    return h2[0] + h2[1];
}

/* out[r*PW_T + t] += sum over images i < n_img and p < len (a multiple of PW_VW) of
 * dy[r][i][p] * x[t][i][p], where row r of dy starts at dy + dy_off[r] + i*dy_img (x alike).
 * Rows past the caller's edge repeat a valid row; the caller ignores their sums. */
static void PW_NAME(pw_dot_tile)(const float *dy, const size_t *dy_off, size_t dy_img,
                                 const float *x, const size_t *x_off, size_t x_img, int n_img,
                                 size_t len, float *out)
{
    PW_V acc[PW_R * PW_T];
#pragma GCC unroll 32
    for (int t = 0; t < PW_R * PW_T; t++)
        acc[t] = (PW_V){0};
    for (int i = 0; i < n_img; i++) {
        const float *d[PW_R], *xs[PW_T];
#pragma GCC unroll 32
        for (int r = 0; r < PW_R; r++)
            d[r] = dy + dy_off[r] + (size_t)i * dy_img;
#pragma GCC unroll 32
        for (int t = 0; t < PW_T; t++)
            xs[t] = x + x_off[t] + (size_t)i * x_img;
        for (size_t p = 0; p < len; p += PW_VW) {
            PW_V dv[PW_R];
#pragma GCC unroll 32
            for (int r = 0; r < PW_R; r++)
                dv[r] = *(const PW_VU *)(const void *)(d[r] + p);
#pragma GCC unroll 32
            for (int t = 0; t < PW_T; t++) {
                const PW_V xv = *(const PW_VU *)(const void *)(xs[t] + p);
#pragma GCC unroll 32
                for (int r = 0; r < PW_R; r++)
                    acc[r * PW_T + t] = PW_FMA(dv[r], xv, acc[r * PW_T + t]);
            }
        }
    }
#pragma GCC unroll 32
    for (int t = 0; t < PW_R * PW_T; t++)
        out[t] += PW_NAME(pw_hsum)(acc[t]);
}

/* dst[k*NR + j] = src[k*plane + off[j]] for k < K, j < nr (zeros for nr <= j < NR): the strided
 * pixels of one B panel; q0 is the panel's first output pixel, out_w the output row length.
 * Stride 2: each output-row segment of the panel takes the even lanes of two vectors at a time
 * (the last pixel outside a vector's reach one at a time); a vector may write up to PW_VW
 * floats past the segment, which later segments, the zero tail or the next row overwrite, so
 * dst has PW_VW floats of slack after K*NR. No read leaves the plane. */
static void PW_NAME(pw_gather_panel)(const float *src, size_t plane, int K, const int32_t *off,
                                     int q0, int out_w, int stride, int nr, int NR, float *dst)
{
    for (int k = 0; k < K; k++) {
        const float *s = src + (size_t)k * plane;
        float *d = dst + (size_t)k * NR;
        if (stride != 2) {
            for (int j = 0; j < nr; j++)
                d[j] = s[off[j]];
        } else {
            int j = 0;
            while (j < nr) {
                const int ow = (q0 + j) % out_w;
                const int seg = nr - j < out_w - ow ? nr - j : out_w - ow;
                int e = 0;
                for (; e < seg && (size_t)off[j + e] + 2 * PW_VW <= plane; e += PW_VW) {
                    const PW_V lo = *(const PW_VU *)(const void *)(s + off[j + e]);
                    const PW_V hi = *(const PW_VU *)(const void *)(s + off[j + e] + PW_VW);
                    *(PW_VU *)(void *)(d + j + e) = PW_EVEN(lo, hi);
                }
                for (; e < seg; e++)
                    d[j + e] = s[off[j + e]];
                j += seg;
            }
        }
        for (int j = nr; j < NR; j++)
            d[j] = 0.0f;
    }
}

/* One input-gradient plane of a 1x1 stride-2 layer (pad 0) from its dense output-grid form
 * g[out_h][out_w]: rows 2*oh hold g's row oh at the even columns, every other element is zero.
 * g has PW_VW floats of slack after its last row; a vector write may run into the next row,
 * which is written after it, and never past the plane's last row. */
static void PW_NAME(pw_expand_s2)(const float *g, int out_h, int out_w, float *dx, int in_h,
                                  int in_w)
{
    const PW_V z = (PW_V){0};
    for (int ih = 0; ih < in_h; ih++) {
        float *d = dx + (size_t)ih * in_w;
        if (ih % 2 || ih / 2 >= out_h) {
            int i = 0;
            for (; i + PW_VW <= in_w; i += PW_VW)
                *(PW_VU *)(void *)(d + i) = z;
            for (; i < in_w; i++)
                d[i] = 0.0f;
            continue;
        }
        const float *s = g + (size_t)(ih / 2) * out_w;
        /* vectors of PW_VW/2 pixels while the write stays in the plane */
        const size_t room = (size_t)(in_h - ih) * in_w;
        int ow = 0;
        for (; ow < out_w && (size_t)(2 * ow + PW_VW) <= room; ow += PW_VW / 2)
            *(PW_VU *)(void *)(d + 2 * ow) = PW_ZIPLO(*(const PW_VU *)(const void *)(s + ow), z);
        for (; ow < out_w; ow++) {
            d[2 * ow] = s[ow];
            if (2 * ow + 1 < in_w)
                d[2 * ow + 1] = 0.0f;
        }
        /* the columns past the last pixel (in_w - 2*out_w of them: 0 or 1 at pad 0) */
        for (int c = 2 * out_w; c < in_w; c++)
            d[c] = 0.0f;
    }
}
