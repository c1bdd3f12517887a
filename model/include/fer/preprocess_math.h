/* Per-pixel math of face preprocessing (preprocess.h), shared by the host code and the CUDA
 * kernel of the video element's batch path (backend op crop_faces_48), so both produce the same
 * 48x48 input from the same frame and box.
 *
 * Crop: a square of side max(bw, bh) * (1 + 2 * margin) centred on the box, shrunk to the
 * frame when larger, then shifted (not cut) to lie inside the frame.
 * Resize: separable; per axis, shrinking averages the source cells covered by the output cell
 * weighted by overlap (area/box filter, exact for integer and fractional ratios), enlarging
 * interpolates linearly between the two nearest source centres (half-pixel centres, edges
 * clamped). The result is rounded to 8 bits, then normalised with fer_normalize_pixel. */
#ifndef FER_PREPROCESS_MATH_H
#define FER_PREPROCESS_MATH_H
#include <stdint.h>
#include "fer/hd.h"

typedef struct fer_crop_rect {
    int x, y, side;
} fer_crop_rect;

FER_HD fer_crop_rect fer_face_crop_rect(int w, int h, int bx, int by, int bw, int bh,
                                        float margin)
{
    fer_crop_rect r;
    int big = bw > bh ? bw : bh;
    if (big < 1)
        big = 1;
    if (margin < 0.0f)
        margin = 0.0f;
    double side = (double)big * (1.0 + 2.0 * (double)margin);
    int s = (int)(side + 0.5);
    int lim = w < h ? w : h;
    s = s > lim ? lim : s;
    s = s < 1 ? 1 : s;
    double cx = (double)bx + 0.5 * (double)bw, cy = (double)by + 0.5 * (double)bh;
    double fx = cx - 0.5 * (double)s, fy = cy - 0.5 * (double)s;
    int x = (int)(fx < 0.0 ? fx - 0.5 : fx + 0.5), y = (int)(fy < 0.0 ? fy - 0.5 : fy + 0.5);
    x = x > w - s ? w - s : x;
    y = y > h - s ? h - s : y;
    r.x = x < 0 ? 0 : x;
    r.y = y < 0 ? 0 : y;
    r.side = s;
    return r;
}

/* Source range [*lo, *hi] that output cell o of an axis (src -> dst samples) reads. */
FER_HD void fer_resize_span(int o, int src, int dst, int *lo, int *hi)
{
    if (src >= dst) {
        double scale = (double)src / (double)dst;
        double a = (double)o * scale, b = (double)(o + 1) * scale;
        int l = (int)a;               /* floor: a >= 0 */
        int h = (int)b;
        if ((double)h == b)
            h--;                      /* the cell ends exactly on a source boundary */
        *lo = l;
        *hi = h > src - 1 ? src - 1 : h;
    } else {
        double f = ((double)o + 0.5) * (double)src / (double)dst - 0.5;
        int i0 = f < 0.0 ? -1 : (int)f; /* floor for f > -1 */
        int i1 = i0 + 1;
        *lo = i0 < 0 ? 0 : i0;
        *hi = i1 > src - 1 ? src - 1 : i1;
    }
}

/* Weight of source sample s for output cell o (the weights of a cell sum to 1). */
FER_HD double fer_resize_weight(int s, int o, int src, int dst)
{
    if (src >= dst) {
        double scale = (double)src / (double)dst;
        double a = (double)o * scale, b = (double)(o + 1) * scale;
        double l = (double)s > a ? (double)s : a;
        double h = (double)(s + 1) < b ? (double)(s + 1) : b;
        return h > l ? (h - l) / scale : 0.0;
    }
    double f = ((double)o + 0.5) * (double)src / (double)dst - 0.5;
    int i0 = f < 0.0 ? -1 : (int)f;
    double t = f - (double)i0;
    int c0 = i0 < 0 ? 0 : i0, c1 = i0 + 1 > src - 1 ? src - 1 : i0 + 1;
    double wgt = 0.0;
    if (c0 == s)
        wgt += 1.0 - t;
    if (c1 == s)
        wgt += t;
    return wgt;
}

/* Output pixel (ox, oy) of resizing the sw x sh region at src (row stride sstride) to dw x dh. */
FER_HD uint8_t fer_resize_pixel(const uint8_t *src, int sw, int sh, int sstride, int dw, int dh,
                                int ox, int oy)
{
    int ylo, yhi, xlo, xhi;
    fer_resize_span(oy, sh, dh, &ylo, &yhi);
    fer_resize_span(ox, sw, dw, &xlo, &xhi);
    double acc = 0.0;
    for (int sy = ylo; sy <= yhi; sy++) {
        double wy = fer_resize_weight(sy, oy, sh, dh);
        if (wy == 0.0)
            continue;
        const uint8_t *row = src + (long)sy * sstride;
        double racc = 0.0;
        for (int sx = xlo; sx <= xhi; sx++)
            racc += fer_resize_weight(sx, ox, sw, dw) * (double)row[sx];
        acc += wy * racc;
    }
    double v = acc + 0.5;
    return v <= 0.0 ? 0 : (v >= 255.0 ? 255 : (uint8_t)(int)v);
}

/* Pixel (ox, oy) of the 48x48 face for a box: crop rectangle, then resize. */
FER_HD uint8_t fer_face_pixel(const uint8_t *gray, int stride, fer_crop_rect r, int out, int ox,
                              int oy)
{
    return fer_resize_pixel(gray + (long)r.y * stride + r.x, r.side, r.side, stride, out, out, ox,
                            oy);
}
#endif
