/* Training augmentation, as the seed's torchvision pipeline on 48x48 gray faces:
 * RandomHorizontalFlip(0.5) -> RandomRotation(15) (nearest, black fill, PIL's fixed-point
 * affine) -> RandomCrop(44, padding=4) -> Resize(48) (PIL bilinear) -> Normalize(0.5, 0.5).
 * Parameters are drawn from a 64-bit seed, so any image can be augmented independently. */
#ifndef FER_AUGMENT_H
#define FER_AUGMENT_H
#include <stdint.h>
#include "fer/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_augment_config {
    float flip_p;      /* 0.5 */
    float max_degrees; /* 15: angle uniform in [-max, max] */
    int crop;          /* 44 */
    int pad;           /* 4 */
} fer_augment_config;

void fer_augment_config_seed(fer_augment_config *cfg); /* the seed's values */

/* One draw of the random parameters. */
typedef struct fer_augment_params {
    int flip;          /* mirror left-right (applied before rotating) */
    double degrees;    /* counter-clockwise, PIL's convention */
    int top, left;     /* crop origin in the padded image, 0 .. 48 + 2*pad - crop */
} fer_augment_params;

void fer_augment_draw(const fer_augment_config *cfg, uint64_t seed, fer_augment_params *out);
/* src, dst: FER_INPUT_SIZE^2 gray bytes (may not alias). */
void fer_augment_apply(const fer_augment_config *cfg, const fer_augment_params *p,
                       const uint8_t *src, uint8_t *dst);

/* PIL's Image.resize(BILINEAR) for 8-bit gray: separable triangle filter with support scaled
 * when shrinking, 22-bit fixed-point weights, horizontal pass first, rounding to uint8 between
 * passes. Used for the crop -> 48 step (the same rule torchvision applied in the seed). */
void fer_resize_bilinear_pil(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

#ifdef __cplusplus
}
#endif
#endif
