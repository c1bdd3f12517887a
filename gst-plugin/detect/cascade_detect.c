/* Multi-scale sliding-window evaluation of a loaded cascade (cv::detectMultiScale semantics:
 * shrink the image, keep the window; OpenCV's step rule; groupRectangles with eps 0.2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cascade_eval.h"

#define GROUP_EPS 0.2
/* Levels whose window is under this many cascade windows get the exhaustive scan even when
 * coarse-to-fine is asked for (see fer_cascade_detect). */
#define DENSE_BELOW 2.5
#define MAX_SCALES 1024 /* 1.01^1024: any image up to the 32768 px limit */

void fer_cascade_params_default(fer_cascade_params *p)
{
    p->scale_factor = 1.2;
    p->min_neighbors = 3;
    p->min_size = 24;
    p->max_size = 0;
    p->step = 0;
    p->exhaustive = 0;
}

static int list_scales(const fer_cascade *c, int w, int h, const fer_cascade_params *p,
                       double *factors)
{
    int max_w = p->max_size > 0 ? p->max_size : w, max_h = p->max_size > 0 ? p->max_size : h;
    int n = 0;
    for (double f = 1; n < MAX_SCALES; f *= p->scale_factor) {
        int ww = (int)lrint(c->win_w * f), wh = (int)lrint(c->win_h * f);
        if (ww > max_w || wh > max_h || ww > w || wh > h)
            break;
        if (ww < p->min_size || wh < p->min_size)
            continue;
        factors[n++] = f;
    }
    return n;
}

static fer_status check_args(const fer_cascade *c, const uint8_t *gray, int w, int h,
                             int stride, const fer_cascade_params *p)
{
    if (!c || !gray || !p)
        return fer_fail(FER_ERR_ARG, "cascade: NULL argument");
    if (w <= 0 || h <= 0 || stride < w || w > 32768 || h > 32768)
        return fer_fail(FER_ERR_ARG, "%s: bad image size %dx%d (stride %d)", c->path, w, h,
                        stride);
    if (!(p->scale_factor >= 1.01 && p->scale_factor <= 16.0))
        return fer_fail(FER_ERR_ARG, "%s: scale factor %g outside [1.01, 16]", c->path,
                        p->scale_factor);
    if (p->min_neighbors < 0 || p->min_size < 0 || p->max_size < 0 || p->step < 0)
        return fer_fail(FER_ERR_ARG, "%s: negative detection parameter", c->path);
    return FER_OK;
}

fer_status fer_cascade_detect(fer_cascade *c, const uint8_t *gray, int w, int h, int stride,
                              const fer_cascade_params *p, fer_cascade_boxes *out)
{
    fer_status st = check_args(c, gray, w, h, stride, p);
    if (st != FER_OK)
        return st;
    out->n = 0;
    c->raw.n = 0;
    double factors[MAX_SCALES];
    int nscales = list_scales(c, w, h, p, factors);
    if (nscales == 0)
        return FER_OK;

    /* One integral stride for all levels (the first level is the largest), so feature
     * offsets are computed once. */
    int lw0 = (int)lrint(w / factors[0]), lh0 = (int)lrint(h / factors[0]);
    int stride_i = lw0 + 1;
    size_t plane = (size_t)stride_i * (lh0 + 1);
    int planes = c->type == FER_CASCADE_LBP ? 1 : c->has_tilted ? 3 : 2;
    /* +8 values: SIMD lanes past the last window read (and ignore) them. */
    size_t ints_need = (plane * planes + 8) * sizeof(uint32_t);
    if (ints_need > c->ints_cap) {
        st = fer_cascade_grow((void **)&c->ints, &c->ints_cap, ints_need, c->path);
        if (st == FER_OK)
            memset(c->ints, 0, ints_need); /* never read uninitialised values */
    }
    if (st == FER_OK)
        st = fer_cascade_grow((void **)&c->level, &c->level_cap, (size_t)lw0 * lh0, c->path);
    if (st == FER_OK && c->has_tilted)
        st = fer_cascade_grow((void **)&c->tilted_rows, &c->tilted_rows_cap,
                  (size_t)3 * (lw0 + 2 * lh0 + 3) * sizeof(uint32_t), c->path);
    if (st == FER_OK)
        st = fer_cascade_make_offsets(c, stride_i, plane);
    int simd_k = 0; /* lane distance of the SIMD split layout prepared for this frame */

    for (int i = 0; i < nscales && st == FER_OK; i++) {
        double f = factors[i];
        int lw = (int)lrint(w / f), lh = (int)lrint(h / f);
        if (lw < c->win_w || lh < c->win_h)
            continue;
        const uint8_t *img = gray;
        int istride = stride;
        if (lw != w || lh != h) {
            st = fer_resize_bilinear(c, gray, w, h, stride, c->level, lw, lh);
            img = c->level;
            istride = lw;
        }
        if (st != FER_OK)
            break;
        fer_integral(img, lw, lh, istride, c->ints,
                     c->type == FER_CASCADE_HAAR ? c->ints + plane : NULL, stride_i);
        if (c->has_tilted)
            fer_integral_tilted(img, lw, lh, istride, c->ints + 2 * plane, stride_i,
                                c->tilted_rows);
        int step = p->step > 0 ? p->step : f >= 2 ? 1 : 2;
        /* Small faces give clusters of only a few hits, which the coarse grid can miss (one
         * of the five 32-48 px faces of sample5.jpg at 360 px wide): levels whose window is
         * under DENSE_BELOW cascade windows are scanned exhaustively. */
        int dense = p->exhaustive || f < DENSE_BELOW;
        int simd = fer_simd_usable(c);
        int k = dense ? step : 2 * step; /* lane distance of the SIMD layout */
        if (simd && k > 1 && simd_k != k) {
            simd_k = k;
            st = fer_simd_prepare(c, simd_k, lw0, lh0);
            if (st != FER_OK)
                break;
        }
        int ww = (int)lrint(c->win_w * f), wh = (int)lrint(c->win_h * f);
        fer_scan_level level = {lw, lh, step, f, ww, wh};
        if (dense)
            st = simd ? fer_scan_dense(c, &level) : fer_scan_exhaustive(c, &level);
        else
            st = fer_scan_coarse_to_fine(c, &level);
    }
    if (st == FER_OK)
        st = fer_cascade_group(c->raw.v, c->raw.n, p->min_neighbors, GROUP_EPS, out);
    if (st != FER_OK)
        return st;
    /* Clip to the image like cv::CascadeClassifier (boxes may round past the border). */
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        fer_cascade_box b = out->v[i];
        int x1 = b.x + b.w < w ? b.x + b.w : w, y1 = b.y + b.h < h ? b.y + b.h : h;
        b.x = b.x > 0 ? b.x : 0;
        b.y = b.y > 0 ? b.y : 0;
        b.w = x1 - b.x;
        b.h = y1 - b.y;
        if (b.w > 0 && b.h > 0)
            out->v[kept++] = b;
    }
    out->n = kept;
    return FER_OK;
}
