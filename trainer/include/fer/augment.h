/* Training augmentation, as the seed's torchvision pipeline on 48x48 gray faces:
 * RandomHorizontalFlip(0.5) -> RandomRotation(15) (nearest, black fill, PIL's fixed-point
 * affine) -> RandomCrop(44, padding=4) -> Resize(48) (PIL bilinear) -> Normalize(0.5, 0.5).
 * Parameters are drawn from a 64-bit seed, so any image can be augmented independently.
 *
 * Optional additions (issue 21), each off at probability 0 so the seed's pipeline is unchanged,
 * each drawn from a stream of its own keyed by the same seed (enabling one never changes
 * another's draws). Order: flip -> frame jitter -> rotate -> crop/resize -> photometric ->
 * blur -> JPEG -> normalise -> random erasing (fer_augment_erase, on the normalised floats). */
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
    /* issue 21, probabilities (0: off) */
    float frame_jitter_p; /* reframe like a face detector's box: side x U(0.85, 1.15), centre
                             shifted by U(-0.1, 0.1) of the side on each axis (bilinear,
                             edge pixels repeated beyond the image) */
    float photometric_p;  /* gamma U(0.7, 1.4), then contrast U(0.7, 1.3) around the image mean,
                             then brightness + U(-0.15, 0.15) (in [0, 1] units) */
    float blur_p;         /* Gaussian blur, sigma U(0.5, 1.5), radius ceil(3 sigma), edges
                             repeated */
    float jpeg_p;         /* JPEG-like 8x8 DCT quantisation (IJG luminance table) at quality
                             U{30..90} */
    float erase_p;        /* RandomErasing: area U(0.02, 0.33) of the image, aspect log-uniform
                             in [0.3, 3.3], filled with 0 in normalised space (the mean) */
    float rrc_p;          /* RandomResizedCrop (torchvision's get_params): a box of area share
                             U(rrc_scale_min, 1) and aspect log-uniform in [3/4, 4/3], 10 tries
                             to fit it in the image (else the whole image), resized back to
                             48x48 with PIL's bilinear rule; after the flip, before the frame
                             jitter */
    float rrc_scale_min;  /* 0.6 */
    int tencrop;          /* flip and crop: one of fer-eval's ten-crop views, uniformly (see
                             fer_augment_tencrop_view), instead of flip_p and a random crop */
} fer_augment_config;

void fer_augment_config_seed(fer_augment_config *cfg); /* the seed's values */

/* One draw of the random parameters. */
typedef struct fer_augment_params {
    int flip;          /* mirror left-right (applied before rotating) */
    double degrees;    /* counter-clockwise, PIL's convention */
    int top, left;     /* crop origin in the padded image, 0 .. 48 + 2*pad - crop */
    /* issue 21: all zero = none of them (so {flip, degrees, top, left} is the seed's draw) */
    int jitter;                 /* reframe with the three values below */
    double jitter_scale;        /* box side / 48 */
    double jitter_dx, jitter_dy; /* box centre shift, fractions of 48 */
    int photometric;            /* apply the three values below */
    double gamma, contrast, brightness;
    double blur_sigma;          /* 0: no blur */
    int jpeg_quality;           /* 0: no JPEG; 1..100 */
    int erase_top, erase_left, erase_h, erase_w; /* erase_h 0: no erasing */
    int rrc_top, rrc_left, rrc_h, rrc_w;         /* rrc_h 0: no RandomResizedCrop */
} fer_augment_params;

void fer_augment_draw(const fer_augment_config *cfg, uint64_t seed, fer_augment_params *out);
/* Sets p's flip and crop origin to ten-crop view k (0..9) of fer-eval --tta tencrop: crops of
 * cfg->crop at top-left, top-right, bottom-left, bottom-right, centre of the unpadded image,
 * then the same five of the mirrored image (so that with no rotation and no other addition
 * fer_augment_apply gives that view exactly). */
void fer_augment_tencrop_view(const fer_augment_config *cfg, int k, fer_augment_params *p);
/* src, dst: FER_INPUT_SIZE^2 gray bytes (may not alias). */
void fer_augment_apply(const fer_augment_config *cfg, const fer_augment_params *p,
                       const uint8_t *src, uint8_t *dst);
/* Random erasing of p on one normalised FER_INPUT_SIZE^2 image (no-op when p->erase_h is 0). */
void fer_augment_erase(const fer_augment_params *p, float *x);

/* The single steps (augment_video.c), in place on a FER_INPUT_SIZE^2 gray image; exposed for
 * tests. */
void fer_augment_frame_jitter(uint8_t *img, double scale, double dx, double dy);
void fer_augment_photometric(uint8_t *img, double gamma, double contrast, double brightness);
void fer_augment_blur(uint8_t *img, double sigma);
void fer_augment_jpeg(uint8_t *img, int quality);
/* The box (top, left, h, w) of img, resized to the whole image (PIL bilinear); the box must lie
 * inside the image (1 <= h, w; top + h, left + w <= FER_INPUT_SIZE). */
void fer_augment_resized_crop(uint8_t *img, int top, int left, int h, int w);

/* fer-eval --perturb video: a fixed video-like copy of evaluation image `index`, in place.
 * All four video steps of training (frame jitter, photometric, blur, JPEG, in the training
 * order and ranges) are applied, with parameters drawn from (FER_PERTURB_SEED, index) alone, so
 * every model is scored on the same perturbed images. No flip, rotation or crop. */
#define FER_PERTURB_SEED 20211u
void fer_augment_video_perturb(uint8_t *img, uint64_t index);

/* PIL's Image.resize(BILINEAR) for 8-bit gray: separable triangle filter with support scaled
 * when shrinking, 22-bit fixed-point weights, horizontal pass first, rounding to uint8 between
 * passes. Used for the crop -> 48 step (the same rule torchvision applied in the seed). */
void fer_resize_bilinear_pil(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

#ifdef __cplusplus
}
#endif
#endif
