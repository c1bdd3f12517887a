/* Face preprocessing: area resize, square face crops, normalisation (see fer/preprocess.h).
 * The per-pixel math lives in fer/preprocess_math.h so the CUDA batch path matches exactly. */
#include "fer/preprocess.h"

#include <string.h>

#include "fer/preprocess_math.h"

void fer_normalize_u8(const uint8_t *src, size_t n, const fer_norm *norm, float *dst)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = fer_normalize_pixel(src[i], norm->mean, norm->std);
}

void fer_resize_gray(const uint8_t *src, int sw, int sh, int sstride, uint8_t *dst, int dw,
                     int dh)
{
    if (sw <= 0 || sh <= 0 || dw <= 0 || dh <= 0)
        return;
    if (sw == dw && sh == dh) {
        for (int y = 0; y < dh; y++)
            memcpy(dst + (size_t)y * dw, src + (size_t)y * sstride, (size_t)dw);
        return;
    }
    for (int oy = 0; oy < dh; oy++)
        for (int ox = 0; ox < dw; ox++)
            dst[(size_t)oy * dw + ox] = fer_resize_pixel(src, sw, sh, sstride, dw, dh, ox, oy);
}

void fer_crop_face_48(const uint8_t *gray, int w, int h, int stride, int bx, int by, int bw,
                      int bh, float margin, uint8_t out[FER_INPUT_SIZE * FER_INPUT_SIZE])
{
    if (w <= 0 || h <= 0) {
        memset(out, 0, FER_INPUT_SIZE * FER_INPUT_SIZE);
        return;
    }
    fer_crop_rect r = fer_face_crop_rect(w, h, bx, by, bw, bh, margin);
    fer_resize_gray(gray + (size_t)r.y * stride + r.x, r.side, r.side, stride, out,
                    FER_INPUT_SIZE, FER_INPUT_SIZE);
}
