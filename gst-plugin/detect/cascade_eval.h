/* Window evaluation shared by the scalar scan (cascade_eval.c) and the SIMD scan
 * (cascade_simd.c). Internal. */
#ifndef FER_CASCADE_EVAL_H
#define FER_CASCADE_EVAL_H
#include "cascade_internal.h"

/* Where corner (px, py) of a window lies relative to the window's own corner, for an integral
 * plane whose columns are split into k sub-planes (column X in sub-plane X % k at X / k; sub
 * values apart). k = 1 is the plain image: py * stride + px. */
typedef struct fer_layout {
    int stride;
    int k;
    int32_t sub;
} fer_layout;

static inline int32_t fer_layout_at(const fer_layout *l, int px, int py)
{
    return (px % l->k) * l->sub + py * l->stride + px / l->k;
}

void fer_lbp_corners(const fer_lbp_feature *f, const fer_layout *l, int32_t o[16]);
void fer_haar_corners(const fer_haar_feature *f, const fer_layout *l, int32_t tilted_plane,
                      int32_t o[12]);
void fer_norm_corners(const fer_cascade *c, const fer_layout *l, int32_t o[4]);

/* Feature corner offsets for the plain integral planes (recomputed when stride/plane change). */
fer_status fer_cascade_make_offsets(fer_cascade *c, int stride, size_t plane);

/* Sum of one rectangle from four integral corners; uint32 wrap-around keeps it exact. */
#define FER_RECT_SUM(p, o, a, b, c_, d) \
    ((p)[(o)[a]] - (p)[(o)[b]] - (p)[(o)[c_]] + (p)[(o)[d]])

/* 8-bit LBP code of a 3x3 grid of cells, bits clockwise from the top-left cell (OpenCV). */
static inline int fer_lbp_code(const uint32_t *p, const int32_t *o)
{
    uint32_t centre = FER_RECT_SUM(p, o, 5, 6, 9, 10);
    return (FER_RECT_SUM(p, o, 0, 1, 4, 5) >= centre ? 128 : 0) |
           (FER_RECT_SUM(p, o, 1, 2, 5, 6) >= centre ? 64 : 0) |
           (FER_RECT_SUM(p, o, 2, 3, 6, 7) >= centre ? 32 : 0) |
           (FER_RECT_SUM(p, o, 6, 7, 10, 11) >= centre ? 16 : 0) |
           (FER_RECT_SUM(p, o, 10, 11, 14, 15) >= centre ? 8 : 0) |
           (FER_RECT_SUM(p, o, 9, 10, 13, 14) >= centre ? 4 : 0) |
           (FER_RECT_SUM(p, o, 8, 9, 12, 13) >= centre ? 2 : 0) |
           (FER_RECT_SUM(p, o, 4, 5, 8, 9) >= centre ? 1 : 0);
}

static inline float fer_haar_value(const fer_haar_feature *f, const int32_t *o,
                                   const uint32_t *p)
{
    float v = f->r[0].weight * (float)(int32_t)FER_RECT_SUM(p, o, 0, 1, 2, 3) +
              f->r[1].weight * (float)(int32_t)FER_RECT_SUM(p, o, 4, 5, 6, 7);
    if (f->n_rects > 2)
        v += f->r[2].weight * (float)(int32_t)FER_RECT_SUM(p, o, 8, 9, 10, 11);
    return v;
}

/* 1 / (area * std) of a window from its sum and squared sum, or 0 when OpenCV would skip the
 * window as too flat (std <= 10). */
float fer_haar_inv_norm(int32_t sum, uint32_t sqsum, int area);
float fer_haar_norm(const fer_cascade *c, const uint32_t *p);

/* Result as OpenCV's runAt: 1 = object, -k = rejected at stage k (0 = first stage); -1 also
 * for a Haar window too flat to evaluate. p: the window's corner in the sum plane. */
int fer_eval_window(const fer_cascade *c, const uint32_t *p);
/* Continues at first_stage with the window's Haar normalisation inv (ignored for LBP). */
int fer_eval_from(const fer_cascade *c, const uint32_t *p, int first_stage, float inv);

/* One pyramid level being scanned: size, window step (level pixels), scale back to the image
 * and the window size in image pixels. */
typedef struct fer_scan_level {
    int lw, lh, step;
    double factor;
    int ww, wh;
} fer_scan_level;

/* Scans of one level (cascade_scan.c); hits go to c->raw. */
fer_status fer_scan_exhaustive(fer_cascade *c, const fer_scan_level *lv);
fer_status fer_scan_coarse_to_fine(fer_cascade *c, const fer_scan_level *lv);
/* fer_scan_exhaustive's hits, 8 windows at a time (SIMD path only). */
fer_status fer_scan_dense(fer_cascade *c, const fer_scan_level *lv);

/* SIMD scan (cascade_simd.c): available for stump cascades. */
int fer_simd_usable(const fer_cascade *c);
/* Prepares the column-split copy for lanes k pixels apart on levels up to lw0 x lh0. */
fer_status fer_simd_prepare(fer_cascade *c, int k, int lw0, int lh0);
/* Copies the current level's integral planes (lw x lh image) into the split layout. */
void fer_simd_split(fer_cascade *c, int lw, int lh);
/* Evaluates the n <= 8 windows at (x0 + i*k, y), x0 a multiple of k; res as fer_eval_window. */
void fer_simd_eval8(const fer_cascade *c, int x0, int y, int n, int res[8]);
/* Evaluates the windows (x + i, y) for the bits i set in lanes (plain integral planes, which
 * need 8 values of padding after the last plane); other res entries are left alone. */
void fer_simd_eval8_adjacent(const fer_cascade *c, int x, int y, unsigned lanes, int res[8]);

#endif
