/* Image helpers of the cascade detector: OpenCV-like bilinear downscaling and the integral
 * images (sum, squared sum, 45-degree tilted sum). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cascade_internal.h"

#define RESIZE_BITS 11
#define RESIZE_ONE (1 << RESIZE_BITS)

fer_status fer_cascade_grow(void **buf, size_t *cap, size_t need, const char *path)
{
    if (need <= *cap)
        return FER_OK;
    void *p = realloc(*buf, need);
    if (!p)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory (%zu bytes of scratch)", path, need);
    *buf = p;
    *cap = need;
    return FER_OK;
}

/* Source index and 11-bit weight of the right/lower neighbour for each destination pixel,
 * with pixel centres aligned as in cv::resize(INTER_LINEAR). */
static void resize_axis(int src, int dst, int32_t *idx0, int32_t *idx1, int32_t *wt)
{
    double scale = (double)src / dst;
    for (int d = 0; d < dst; d++) {
        double f = (d + 0.5) * scale - 0.5;
        int s = (int)floor(f);
        double a = f - s;
        if (s < 0) {
            s = 0;
            a = 0;
        }
        if (s >= src - 1) {
            s = src - 1;
            a = 0;
        }
        idx0[d] = s;
        idx1[d] = s + 1 < src ? s + 1 : s;
        wt[d] = (int32_t)lrint(a * RESIZE_ONE);
    }
}

fer_status fer_resize_bilinear(fer_cascade *c, const uint8_t *src, int sw, int sh,
                               int sstride, uint8_t *dst, int dw, int dh)
{
    size_t tab = (size_t)3 * (dw + dh) * sizeof(int32_t);
    fer_status st = fer_cascade_grow((void **)&c->resize_tab, &c->resize_tab_cap, tab, c->path);
    if (st == FER_OK)
        st = fer_cascade_grow((void **)&c->resize_rows, &c->resize_rows_cap, (size_t)2 * dw * sizeof(int32_t),
                  c->path);
    if (st != FER_OK)
        return st;
    int32_t *x0 = c->resize_tab, *x1 = x0 + dw, *xw = x1 + dw;
    int32_t *y0 = xw + dw, *y1 = y0 + dh, *yw = y1 + dh;
    resize_axis(sw, dw, x0, x1, xw);
    resize_axis(sh, dh, y0, y1, yw);
    int32_t *buf[2] = {c->resize_rows, c->resize_rows + dw};
    int held[2] = {-1, -1}; /* source row held in each buffer */
    for (int y = 0; y < dh; y++) {
        int want[2] = {y0[y], y1[y]};
        int slot[2];
        for (int k = 0; k < 2; k++) {
            if (held[0] == want[k] || held[1] == want[k]) {
                slot[k] = held[0] == want[k] ? 0 : 1;
                continue;
            }
            /* Overwrite the buffer that does not hold the other wanted row. */
            int other = want[1 - k];
            int sl = held[0] == other ? 1 : 0;
            const uint8_t *sp = src + (size_t)want[k] * sstride;
            int32_t *out = buf[sl];
            for (int x = 0; x < dw; x++)
                out[x] = sp[x0[x]] * (RESIZE_ONE - xw[x]) + sp[x1[x]] * xw[x];
            held[sl] = want[k];
            slot[k] = sl;
        }
        const int32_t *ra = buf[slot[0]], *rb = buf[slot[1]];
        int32_t b = yw[y], a = RESIZE_ONE - b;
        uint8_t *dp = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++)
            dp[x] = (uint8_t)((ra[x] * a + rb[x] * b + (1 << (2 * RESIZE_BITS - 1))) >>
                              (2 * RESIZE_BITS));
    }
    return FER_OK;
}

void fer_integral(const uint8_t *img, int w, int h, int istride, uint32_t *sum,
                  uint32_t *sqsum, int stride)
{
    memset(sum, 0, (size_t)(w + 1) * sizeof *sum);
    if (sqsum)
        memset(sqsum, 0, (size_t)(w + 1) * sizeof *sqsum);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = img + (size_t)y * istride;
        const uint32_t *above = sum + (size_t)y * stride;
        uint32_t *cur = sum + (size_t)(y + 1) * stride;
        uint32_t acc = 0;
        cur[0] = 0;
        for (int x = 0; x < w; x++) {
            acc += row[x];
            cur[x + 1] = above[x + 1] + acc;
        }
        if (!sqsum)
            continue;
        const uint32_t *qa = sqsum + (size_t)y * stride;
        uint32_t *qc = sqsum + (size_t)(y + 1) * stride;
        uint32_t qacc = 0;
        qc[0] = 0;
        for (int x = 0; x < w; x++) {
            qacc += (uint32_t)row[x] * row[x];
            qc[x + 1] = qa[x + 1] + qacc; /* wraps for huge images; window differences stay exact */
        }
    }
}

/* T(X,Y) = T(X-1,Y-1) + T(X+1,Y-1) - T(X,Y-2) + I(X-1,Y-1) + I(X-1,Y-2), with pixels outside
 * the image zero. The triangles reach up to h pixels left and right of the image, so rows are
 * computed on X in [-pad, w + pad] (pad = h + 1, where T is zero at the ends) and only
 * X in [0, w] is stored. Three rolling rows keep the scratch small. */
void fer_integral_tilted(const uint8_t *img, int w, int h, int istride, uint32_t *tilted,
                         int stride, uint32_t *rows)
{
    int pad = h + 1;
    int span = w + 2 * pad + 1; /* X from -pad to w + pad */
    uint32_t *r2 = rows, *r1 = rows + span, *r0 = rows + 2 * span; /* Y-2, Y-1, Y */
    memset(rows, 0, (size_t)3 * span * sizeof *rows);
    memset(tilted, 0, (size_t)(w + 1) * sizeof *tilted);
    for (int Y = 1; Y <= h; Y++) {
        const uint8_t *iy1 = img + (size_t)(Y - 1) * istride;
        const uint8_t *iy2 = Y >= 2 ? img + (size_t)(Y - 2) * istride : NULL;
        r0[0] = r0[span - 1] = 0;
        for (int i = 1; i < span - 1; i++) {
            int X = i - pad;
            uint32_t v = r1[i - 1] + r1[i + 1] - r2[i];
            int px = X - 1;
            if (px >= 0 && px < w) {
                v += iy1[px];
                if (iy2)
                    v += iy2[px];
            }
            r0[i] = v;
        }
        memcpy(tilted + (size_t)Y * stride, r0 + pad, (size_t)(w + 1) * sizeof *tilted);
        uint32_t *t = r2;
        r2 = r1;
        r1 = r0;
        r0 = t;
    }
}
