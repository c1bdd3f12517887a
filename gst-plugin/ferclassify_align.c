/* Eye-levelled 48x48 face crops (ferclassify align=true); the definition is in the header. */
#include "ferclassify_align.h"

#include <math.h>
#include <string.h>

#include "fer/preprocess.h"
#include "fer/preprocess_math.h"

double fer_eye_angle(float rx, float ry, float lx, float ly)
{
    return atan2((double)ly - ry, (double)lx - rx);
}

/* Bilinear sample between the pixel centres around (x, y) (centre coordinates), clamped. */
static double sample(const uint8_t *gray, int w, int h, int stride, double x, double y)
{
    x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
    y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    double fx = x - x0, fy = y - y0;
    const uint8_t *r0 = gray + (size_t)y0 * stride, *r1 = gray + (size_t)y1 * stride;
    double top = r0[x0] + (r0[x1] - r0[x0]) * fx, bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
    return top + (bottom - top) * fy;
}

void fer_crop_face_48_aligned(const uint8_t *gray, int w, int h, int stride, int bx, int by,
                              int bw, int bh, float margin, double angle, uint8_t out[48 * 48])
{
    if (w <= 0 || h <= 0) {
        memset(out, 0, 48 * 48);
        return;
    }
    if (!isfinite(angle) || fabs(angle) < FER_ALIGN_MIN_ANGLE) {
        fer_crop_face_48(gray, w, h, stride, bx, by, bw, bh, margin, out);
        return;
    }
    fer_crop_rect r = fer_face_crop_rect(w, h, bx, by, bw, bh, margin);
    double side = r.side, cx = r.x + side / 2.0, cy = r.y + side / 2.0, cell = side / 48.0;
    int k = (int)ceil(cell);
    k = k < 1 ? 1 : k > 8 ? 8 : k;
    double c = cos(angle), s = sin(angle);
    for (int v = 0; v < 48; v++)
        for (int u = 0; u < 48; u++) {
            double acc = 0;
            for (int j = 0; j < k; j++)
                for (int i = 0; i < k; i++) {
                    double du = (u + (i + 0.5) / k) * cell - side / 2;
                    double dv = (v + (j + 0.5) / k) * cell - side / 2;
                    double x = cx + c * du - s * dv, y = cy + s * du + c * dv;
                    acc += sample(gray, w, h, stride, x - 0.5, y - 0.5);
                }
            double m = acc / (k * k) + 0.5;
            out[v * 48 + u] = (uint8_t)(m > 255 ? 255 : m);
        }
}
