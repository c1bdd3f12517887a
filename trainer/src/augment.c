/* Seed-equivalent augmentation (see fer/augment.h). Rotation, padding and cropping are all
 * nearest/integer operations, so they are fused into one gather; the only interpolation is the
 * final PIL-bilinear resize of the crop back to 48x48. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fer/augment.h"
#include "augment_internal.h"
#include "rng.h"

#define S FER_INPUT_SIZE
#define PIL_PRECISION_BITS (32 - 8 - 2)

void fer_augment_config_seed(fer_augment_config *cfg)
{
    cfg->flip_p = 0.5f;
    cfg->max_degrees = 15.0f;
    cfg->crop = 44;
    cfg->pad = 4;
    cfg->frame_jitter_p = cfg->photometric_p = cfg->blur_p = cfg->jpeg_p = cfg->erase_p = 0.0f;
    cfg->rrc_p = 0.0f;
    cfg->rrc_scale_min = 0.6f;
    cfg->tencrop = 0;
}

/* The ten-crop view's own stream (augment_video.c's streams are 1..5): drawing it leaves every
 * other draw where it was. */
#define STREAM_TENCROP 16

void fer_augment_tencrop_view(const fer_augment_config *cfg, int k, fer_augment_params *p)
{
    /* torchvision's FiveCrop order; the evaluator's fer_tta_make_views uses the same offsets */
    const int m = S - cfg->crop;
    const int ox[5] = {0, m, 0, m, m / 2}, oy[5] = {0, 0, m, m, m / 2};
    p->flip = k >= 5;
    /* a mirrored view is the mirror of crop k-5: in the flipped image its x offset mirrors */
    p->left = (k < 5 ? ox[k] : m - ox[k - 5]) + cfg->pad;
    p->top = oy[k % 5] + cfg->pad;
}

void fer_augment_draw(const fer_augment_config *cfg, uint64_t seed, fer_augment_params *out)
{
    fer_rng r = {seed};
    out->flip = fer_rng_uniform(&r) < cfg->flip_p;
    out->degrees = -cfg->max_degrees + 2.0 * cfg->max_degrees * fer_rng_uniform(&r);
    uint32_t span = (uint32_t)(S + 2 * cfg->pad - cfg->crop + 1);
    out->top = (int)fer_rng_below(&r, span);
    out->left = (int)fer_rng_below(&r, span);
    if (cfg->tencrop) {
        fer_rng v = {fer_rng_key(seed, STREAM_TENCROP, 0, FER_RNG_AUGMENT)};
        fer_augment_tencrop_view(cfg, (int)fer_rng_below(&v, 10), out);
    }
    fer_augment_draw_extra(cfg, seed, out);
}

void fer_augment_video_perturb(uint8_t *img, uint64_t index)
{
    fer_augment_config cfg;
    fer_augment_config_seed(&cfg);
    cfg.flip_p = 0.0f;
    cfg.max_degrees = 0.0f;
    cfg.crop = S;
    cfg.pad = 0;
    cfg.frame_jitter_p = cfg.photometric_p = cfg.blur_p = cfg.jpeg_p = 1.0f;
    fer_augment_params p;
    fer_augment_draw(&cfg, fer_rng_key(FER_PERTURB_SEED, index, 0, FER_RNG_PERTURB), &p);
    uint8_t src[S * S];
    memcpy(src, img, sizeof src);
    fer_augment_apply(&cfg, &p, src, img);
}

/* PIL's FIX(): 16.16 fixed point, rounded half up */
static int32_t pil_fix(double v)
{
    return (int32_t)floor(v * 65536.0 + 0.5);
}

static int floor_shift16(int32_t v)
{
    return v >= 0 ? (int)(v >> 16) : -(int)((-(int64_t)v + 65535) >> 16);
}

/* rotated[y][x] for every pixel, as PIL's Image.rotate(deg) with NEAREST, center (24,24) and
 * black fill, which runs affine_fixed() for images this small. */
static void rotate_pil(const uint8_t *src, double degrees, uint8_t *dst)
{
    double rad = -degrees * M_PI / 180.0;
    double a = cos(rad), b = sin(rad), d = -sin(rad), e = cos(rad);
    double cx = S / 2.0, cy = S / 2.0;
    double c = a * -cx + b * -cy + cx;
    double f = d * -cx + e * -cy + cy;
    int32_t a0 = pil_fix(a), a1 = pil_fix(b), a3 = pil_fix(d), a4 = pil_fix(e);
    int32_t a2 = pil_fix(c + a * 0.5 + b * 0.5);
    int32_t a5 = pil_fix(f + d * 0.5 + e * 0.5);
    for (int y = 0; y < S; y++) {
        int32_t xx = a2, yy = a5;
        for (int x = 0; x < S; x++) {
            int xin = floor_shift16(xx), yin = floor_shift16(yy);
            dst[y * S + x] = (xin >= 0 && xin < S && yin >= 0 && yin < S) ? src[yin * S + xin] : 0;
            xx += a0;
            yy += a3;
        }
        a2 += a1;
        a5 += a4;
    }
}

/* --- PIL bilinear resize ------------------------------------------------------------------ */

typedef struct pil_coeffs {
    int ksize;
    int *bounds;   /* [out][2]: first input index, count */
    int32_t *kk;   /* [out][ksize] fixed-point weights */
} pil_coeffs;

static int pil_ksize(int in_size, int out_size)
{
    double scale = (double)in_size / out_size;
    return (int)ceil(scale < 1.0 ? 1.0 : scale) * 2 + 1;
}

static double bilinear_filter(double x)
{
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL's precompute_coeffs + normalize_coeffs_8bpc (Resample.c), into c->bounds (2*out) and
 * c->kk (ksize*out) provided by the caller; k: ksize doubles of scratch. */
static void pil_precompute(int in_size, int out_size, pil_coeffs *c, double *k)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = pil_ksize(in_size, out_size);
    c->ksize = ksize;
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        int x;
        for (x = 0; x < xmax; x++) {
            k[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0) k[x] /= ww;
        for (; x < ksize; x++) k[x] = 0;
        for (x = 0; x < ksize; x++) {
            double v = k[x] * (1 << PIL_PRECISION_BITS);
            c->kk[xx * ksize + x] = (int32_t)(v < 0 ? -0.5 + v : 0.5 + v);
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
}

static uint8_t pil_clip8(int64_t v)
{
    if (v >= ((int64_t)1 << PIL_PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PIL_PRECISION_BITS);
}

/* Both passes with precomputed coefficients; tmp holds dw x sh bytes. */
static void pil_resample(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh,
                         const pil_coeffs *hc, const pil_coeffs *vc, uint8_t *tmp)
{
    for (int y = 0; y < sh; y++)
        for (int xx = 0; xx < dw; xx++) {
            const int32_t *k = hc->kk + xx * hc->ksize;
            int xmin = hc->bounds[2 * xx], n = hc->bounds[2 * xx + 1];
            int64_t acc = 1 << (PIL_PRECISION_BITS - 1);
            for (int x = 0; x < n; x++) acc += (int64_t)src[y * sw + xmin + x] * k[x];
            tmp[y * dw + xx] = pil_clip8(acc);
        }
    for (int yy = 0; yy < dh; yy++) {
        const int32_t *k = vc->kk + yy * vc->ksize;
        int ymin = vc->bounds[2 * yy], n = vc->bounds[2 * yy + 1];
        for (int xx = 0; xx < dw; xx++) {
            int64_t acc = 1 << (PIL_PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) acc += (int64_t)tmp[(ymin + y) * dw + xx] * k[y];
            dst[yy * dw + xx] = pil_clip8(acc);
        }
    }
}

void fer_resize_bilinear_pil(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    if (sw == dw && sh == dh) {
        memcpy(dst, src, (size_t)sw * sh);
        return;
    }
    int hk = pil_ksize(sw, dw), vk = pil_ksize(sh, dh);
    int kmax = hk > vk ? hk : vk;
    pil_coeffs hc = {hk, malloc(sizeof(int) * 2 * (size_t)dw), malloc(sizeof(int32_t) * (size_t)hk * dw)};
    pil_coeffs vc = {vk, malloc(sizeof(int) * 2 * (size_t)dh), malloc(sizeof(int32_t) * (size_t)vk * dh)};
    double *scratch = malloc(sizeof(double) * (size_t)kmax);
    uint8_t *tmp = malloc((size_t)dw * sh);
    if (hc.bounds && hc.kk && vc.bounds && vc.kk && scratch && tmp) {
        pil_precompute(sw, dw, &hc, scratch);
        pil_precompute(sh, dh, &vc, scratch);
        pil_resample(src, sw, sh, dst, dw, dh, &hc, &vc, tmp);
    } else { /* allocation failure: nearest, so the caller still gets an image */
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) dst[y * dw + x] = src[(y * sh / dh) * sw + x * sw / dw];
    }
    free(tmp);
    free(scratch);
    free(hc.bounds);
    free(hc.kk);
    free(vc.bounds);
    free(vc.kk);
}

void fer_augment_apply(const fer_augment_config *cfg, const fer_augment_params *p,
                       const uint8_t *src, uint8_t *dst)
{
    uint8_t flipped[S * S], rotated[S * S], crop[S * S];
    const uint8_t *in = src;
    if (p->flip) {
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) flipped[y * S + x] = src[y * S + (S - 1 - x)];
        in = flipped;
    }
    uint8_t resized[S * S];
    if (p->rrc_h > 0) {
        memcpy(resized, in, sizeof resized);
        fer_augment_resized_crop(resized, p->rrc_top, p->rrc_left, p->rrc_h, p->rrc_w);
        in = resized;
    }
    uint8_t reframed[S * S];
    if (p->jitter) { /* the detector's box comes first: it frames what the rest sees */
        memcpy(reframed, in, sizeof reframed);
        fer_augment_frame_jitter(reframed, p->jitter_scale, p->jitter_dx, p->jitter_dy);
        in = reframed;
    }
    if (p->degrees != 0.0) {
        rotate_pil(in, p->degrees, rotated);
        in = rotated;
    }
    int cs = cfg->crop;
    for (int y = 0; y < cs; y++) {
        int sy = y + p->top - cfg->pad;
        for (int x = 0; x < cs; x++) {
            int sx = x + p->left - cfg->pad;
            crop[y * cs + x] = (sx >= 0 && sx < S && sy >= 0 && sy < S) ? in[sy * S + sx] : 0;
        }
    }
    if (cs > S || pil_ksize(cs, S) > 3) { /* crops larger than the output: generic path */
        fer_resize_bilinear_pil(crop, cs, cs, dst, S, S);
    } else {
        int bounds[2 * S];
        int32_t kk[3 * S];
        double scratch[3];
        uint8_t tmp[S * S];
        pil_coeffs c = {3, bounds, kk};
        pil_precompute(cs, S, &c, scratch);
        pil_resample(crop, cs, cs, dst, S, S, &c, &c, tmp);
    }
    /* camera, then motion/focus blur, then the encoder */
    if (p->photometric) fer_augment_photometric(dst, p->gamma, p->contrast, p->brightness);
    if (p->blur_sigma > 0) fer_augment_blur(dst, p->blur_sigma);
    if (p->jpeg_quality > 0) fer_augment_jpeg(dst, p->jpeg_quality);
}
