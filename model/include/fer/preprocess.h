/* The one definition of how a face becomes network input, shared by the trainer, the evaluator
 * and ferclassify: 8-bit gray, area-resized to 48x48, then (x/255 - mean)/std.
 * Video faces: a square crop around the detector box (grown by margin, clamped to the frame). */
#ifndef FER_PREPROCESS_H
#define FER_PREPROCESS_H
#include <stddef.h>
#include <stdint.h>
#include "fer/hd.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FER_INPUT_SIZE 48

typedef struct fer_norm {
    float mean, std; /* applied to x/255; the seed uses 0.5, 0.5 */
} fer_norm;

FER_HD float fer_normalize_pixel(uint8_t v, float mean, float std)
{
    return ((float)v / 255.0f - mean) / std;
}

void fer_normalize_u8(const uint8_t *src, size_t n, const fer_norm *norm, float *dst);

/* Area-average resize (box filter, exact for integer and fractional ratios), any size to any
 * size; upsampling falls back to bilinear. */
void fer_resize_gray(const uint8_t *src, int sw, int sh, int sstride, uint8_t *dst, int dw,
                     int dh);

/* Square crop centred on the box (side = max(bw,bh) * (1 + 2*margin)), clamped to the frame by
 * shifting, then resized to 48x48. */
void fer_crop_face_48(const uint8_t *gray, int w, int h, int stride, int bx, int by, int bw,
                      int bh, float margin, uint8_t out[FER_INPUT_SIZE * FER_INPUT_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
