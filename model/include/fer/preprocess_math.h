/* Per-pixel math of face preprocessing (fer_crop_face_48 / fer_resize_gray in preprocess.c),
 * as FER_HD functions so the CUDA kernel of the video element's batch path (backend op
 * crop_faces_48) computes bit-identical 48x48 faces. tests/cuda/test_cuda_bodies.c checks the
 * equality against preprocess.c on random frames and boxes.
 *
 * Crop: a square of side round(max(bw, bh) * (1 + 2 * margin)) centred on the box, shrunk to
 * the frame when larger, then shifted (not cut) to lie inside the frame.
 * Resize, separable: per axis, shrinking averages the source cells covered by the output cell
 * weighted by overlap (area/box filter); enlarging interpolates linearly between the two
 * nearest source centres (half-pixel centres, edges clamped). Taps and weights are computed in
 * double and stored as float; the horizontal pass sums in float, the vertical pass sums the
 * horizontal results in float and rounds half up to 8 bits. */
#ifndef FER_PREPROCESS_MATH_H
#define FER_PREPROCESS_MATH_H
#include <math.h>
#include <stdint.h>
#include "fer/hd.h"

typedef struct fer_crop_rect {
    int x, y, side;
} fer_crop_rect;

/* w, h > 0. */
FER_HD fer_crop_rect fer_face_crop_rect(int w, int h, int bx, int by, int bw, int bh,
                                        float margin)
{
    fer_crop_rect r;
    double side = (double)(bw > bh ? bw : bh) * (1.0 + 2.0 * (margin > 0.0f ? margin : 0.0f));
    int s = (int)lround(side);
    int limit = w < h ? w : h;
    if (s > limit)
        s = limit;
    if (s < 1)
        s = 1;
    double cx = bx + bw / 2.0, cy = by + bh / 2.0;
    int x0 = (int)lround(cx - s / 2.0), y0 = (int)lround(cy - s / 2.0);
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x0 + s > w)
        x0 = w - s;
    if (y0 + s > h)
        y0 = h - s;
    r.x = x0;
    r.y = y0;
    r.side = s;
    return r;
}

/* Taps of output sample o along an axis of src -> dst samples: first source index and count
 * (at most ceil(src/dst) + 1 when shrinking, 1 or 2 when enlarging). */
FER_HD int fer_resize_taps(int o, int src, int dst, int *first)
{
    double scale = (double)src / (double)dst;
    if (dst <= src) {
        double lo = o * scale, hi = (o + 1) * scale;
        int i0 = (int)floor(lo), n = 0;
        for (int i = i0; i < src && i < hi; i++)
            n++;
        *first = i0;
        return n;
    }
    double c = (o + 0.5) * scale - 0.5;
    if (c < 0.0)
        c = 0.0;
    int i0 = (int)floor(c);
    if (i0 >= src - 1) {
        *first = src - 1;
        return 1;
    }
    *first = i0;
    return 2;
}

/* Weight of tap k (0-based, from fer_resize_taps) of output sample o. */
FER_HD float fer_resize_tap_weight(int o, int k, int src, int dst)
{
    double scale = (double)src / (double)dst;
    if (dst <= src) {
        double lo = o * scale, hi = (o + 1) * scale;
        int i = (int)floor(lo) + k;
        double ov = fmin(hi, i + 1.0) - fmax(lo, (double)i);
        return (float)(ov / scale);
    }
    double c = (o + 0.5) * scale - 0.5;
    if (c < 0.0)
        c = 0.0;
    int i0 = (int)floor(c);
    if (i0 >= src - 1)
        return 1.0f;
    float f = (float)(c - i0);
    return k == 0 ? 1.0f - f : f;
}

/* Horizontal pass value at source row sy for output column ox (float, as stored by the
 * two-pass resize). */
FER_HD float fer_resize_row_value(const uint8_t *src, int sstride, int sw, int dw, int sy, int ox)
{
    int first, n = fer_resize_taps(ox, sw, dw, &first);
    const uint8_t *row = src + (long)sy * sstride;
    float s = 0.0f;
    for (int k = 0; k < n; k++)
        s += fer_resize_tap_weight(ox, k, sw, dw) * (float)row[first + k];
    return s;
}

/* Output pixel (ox, oy) of resizing the sw x sh region at src (row stride sstride) to dw x dh. */
FER_HD uint8_t fer_resize_pixel(const uint8_t *src, int sw, int sh, int sstride, int dw, int dh,
                                int ox, int oy)
{
    if (sw == dw && sh == dh)
        return src[(long)oy * sstride + ox];
    int first, n = fer_resize_taps(oy, sh, dh, &first);
    float s = 0.0f;
    for (int k = 0; k < n; k++)
        s += fer_resize_tap_weight(oy, k, sh, dh) *
             fer_resize_row_value(src, sstride, sw, dw, first + k, ox);
    int v = (int)floorf(s + 0.5f);
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

/* Pixel (ox, oy) of the out x out face cut by rectangle r from a gray frame. */
FER_HD uint8_t fer_face_pixel(const uint8_t *gray, int stride, fer_crop_rect r, int out, int ox,
                              int oy)
{
    return fer_resize_pixel(gray + (long)r.y * stride + r.x, r.side, r.side, stride, out, out, ox,
                            oy);
}
#endif
