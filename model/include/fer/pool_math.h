/* Per-element math of average pooling (PyTorch AvgPool2d with count_include_pad=True,
 * ceil_mode=False, and AdaptiveAvgPool2d(1) as its global case), shared by every backend. */
#ifndef FER_POOL_MATH_H
#define FER_POOL_MATH_H
#include <stddef.h>
#include "fer/hd.h"

/* kh x kw windows at stride sh x sw over an input zero-padded by pad_h / pad_w; every window lies
 * inside the padded input, so the divisor is always kh * kw. global_avgpool is the case
 * kh = in_h, kw = in_w, pad 0 (PyTorch AdaptiveAvgPool2d(1)). */
typedef struct fer_avgpool_geom {
    int in_h, in_w, out_h, out_w;
    int kh, kw, sh, sw, pad_h, pad_w;
} fer_avgpool_geom;

/* One output element of one plane: the window's sum in row order, divided by kh * kw. */
FER_HD float fer_avgpool_at(const fer_avgpool_geom *g, const float *plane, int oh, int ow)
{
    float s = 0.0f;
    int h0 = oh * g->sh - g->pad_h, w0 = ow * g->sw - g->pad_w;
    for (int h = h0 < 0 ? 0 : h0; h < h0 + g->kh && h < g->in_h; h++)
        for (int w = w0 < 0 ? 0 : w0; w < w0 + g->kw && w < g->in_w; w++)
            s += plane[(size_t)h * g->in_w + w];
    return s / (float)(g->kh * g->kw);
}

/* Input gradient of one element of one plane: the sum, over the windows that cover (h, w) in
 * output order, of dy / (kh * kw): the terms and order of PyTorch's scatter, as a gather (no two
 * elements write the same place). */
FER_HD float fer_avgpool_backward_at(const fer_avgpool_geom *g, const float *dy_plane, int h,
                                     int w)
{
    /* windows oh with oh*sh - pad_h <= h < oh*sh - pad_h + kh */
    int ph = h + g->pad_h, pw = w + g->pad_w;
    int oh0 = ph < g->kh ? 0 : (ph - g->kh) / g->sh + 1, oh1 = ph / g->sh;
    int ow0 = pw < g->kw ? 0 : (pw - g->kw) / g->sw + 1, ow1 = pw / g->sw;
    if (oh1 > g->out_h - 1)
        oh1 = g->out_h - 1;
    if (ow1 > g->out_w - 1)
        ow1 = g->out_w - 1;
    const float div = (float)(g->kh * g->kw);
    float s = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++)
            s += dy_plane[(size_t)oh * g->out_w + ow] / div;
    return s;
}
#endif
