/* The aligned face crop of ferclassify align=true: the same square as fer_crop_face_48 (side
 * round(max(bw, bh) * (1 + 2 * margin)), centred on the box, shrunk to the frame and shifted
 * inside it: fer_face_crop_rect), rotated about its centre so the line from the subject's right
 * eye (image left) to the left eye becomes horizontal, and resampled to 48x48.
 *
 * Exact definition (so training-time augmentation can reproduce it): with the square's centre
 * (cx, cy), side s, cell = s / 48, k = clamp(ceil(cell), 1, 8) and angle a = atan2(left.y -
 * right.y, left.x - right.x), output pixel (u, v) is the mean of k x k samples at
 *   du = (u + (i + 0.5) / k) * cell - s / 2,  dv = (v + (j + 0.5) / k) * cell - s / 2,
 *   x = cx + cos(a) du - sin(a) dv,  y = cy + sin(a) du + cos(a) dv,
 * each bilinear between the pixel centres around (x - 0.5, y - 0.5) with coordinates clamped
 * to the frame (edge pixels repeated), rounded half up to 8 bits. When |a| < 0.5 degrees the
 * unaligned crop (fer_crop_face_48, area resize) is returned unchanged. */
#ifndef FER_CLASSIFY_ALIGN_H
#define FER_CLASSIFY_ALIGN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Below this eye-line angle (radians, 0.5 degrees) the crop is not rotated. */
#define FER_ALIGN_MIN_ANGLE 0.00872664626

/* Angle (radians) of the eye line from the subject's right eye (rx, ry) to the left (lx, ly). */
double fer_eye_angle(float rx, float ry, float lx, float ly);

/* gray: w x h, stride bytes per row, w, h > 0; the box as for fer_crop_face_48. */
void fer_crop_face_48_aligned(const uint8_t *gray, int w, int h, int stride, int bx, int by,
                              int bw, int bh, float margin, double angle, uint8_t out[48 * 48]);

#ifdef __cplusplus
}
#endif
#endif
