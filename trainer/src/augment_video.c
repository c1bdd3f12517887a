/* Issue-21 augmentations that mimic what the video element feeds the network: a face
 * detector's framing, camera gamma/contrast/brightness, blur, JPEG-like compression, and
 * RandomErasing (see fer/augment.h for ranges and order). Everything is double precision on
 * 48x48 images and rounds to 8 bits once per step, so results do not depend on the thread count
 * or the machine's vector width. */
#include <math.h>
#include <string.h>
#include "augment_internal.h"
#include "rng.h"

#define S FER_INPUT_SIZE

/* One stream per addition: turning one on never moves another's draws. */
enum { STREAM_JITTER = 1, STREAM_PHOTOMETRIC, STREAM_BLUR, STREAM_JPEG, STREAM_ERASE, STREAM_RRC };

static fer_rng stream(uint64_t seed, uint64_t which)
{
    fer_rng r = {fer_rng_key(seed, which, 0, FER_RNG_AUGMENT)};
    return r;
}

static double uniform_in(fer_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * fer_rng_uniform(r);
}

static uint8_t to_u8(double v)
{
    v = floor(v + 0.5);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* torchvision's box search, shared by RandomErasing and RandomResizedCrop: up to 10 tries of
 * an area share U(area_lo, area_hi) of the S x S image and a log-uniform ratio in
 * [ratio_lo, ratio_hi]; the ratio is h / w (erasing) or w / h (crops, ratio_is_w_over_h). A
 * box with sides in [1, max_side] is kept and placed uniformly: top, then left. 0 when no try
 * fits. */
static int draw_box(fer_rng *r, double area_lo, double area_hi, double ratio_lo, double ratio_hi,
                    int ratio_is_w_over_h, int max_side, int *top, int *left, int *h, int *w)
{
    const double area = (double)S * S, log_lo = log(ratio_lo), log_hi = log(ratio_hi);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * uniform_in(r, area_lo, area_hi);
        double ratio = exp(uniform_in(r, log_lo, log_hi));
        int along = (int)floor(sqrt(target * ratio) + 0.5); /* the side the ratio's numerator names */
        int across = (int)floor(sqrt(target / ratio) + 0.5);
        int bh = ratio_is_w_over_h ? across : along, bw = ratio_is_w_over_h ? along : across;
        if (bh < 1 || bw < 1 || bh > max_side || bw > max_side) continue;
        *top = (int)fer_rng_below(r, (uint32_t)(S - bh + 1));
        *left = (int)fer_rng_below(r, (uint32_t)(S - bw + 1));
        *h = bh;
        *w = bw;
        return 1;
    }
    return 0;
}

/* RandomErasing.get_params: area 2-33%, h / w in [0.3, 3.3], sides below the image's; no box
 * when every try fails (nothing is erased). */
static void draw_erase(fer_rng *r, fer_augment_params *out)
{
    draw_box(r, 0.02, 0.33, 0.3, 3.3, 0, S - 1, &out->erase_top, &out->erase_left, &out->erase_h,
             &out->erase_w);
}

/* RandomResizedCrop.get_params with ratio (3/4, 4/3); its fallback when every try fails is the
 * whole image (1 lies in the ratio range). */
static void draw_rrc(fer_rng *r, double scale_min, fer_augment_params *out)
{
    if (draw_box(r, scale_min, 1.0, 3.0 / 4.0, 4.0 / 3.0, 1, S, &out->rrc_top, &out->rrc_left,
                 &out->rrc_h, &out->rrc_w))
        return;
    out->rrc_top = out->rrc_left = 0;
    out->rrc_h = out->rrc_w = S;
}

void fer_augment_resized_crop(uint8_t *img, int top, int left, int h, int w)
{
    if (h < 1 || w < 1 || top < 0 || left < 0 || top + h > S || left + w > S) return;
    uint8_t box[S * S];
    for (int y = 0; y < h; y++) memcpy(box + y * w, img + (top + y) * S + left, (size_t)w);
    fer_resize_bilinear_pil(box, w, h, img, S, S);
}

void fer_augment_draw_extra(const fer_augment_config *cfg, uint64_t seed, fer_augment_params *out)
{
    out->jitter = out->photometric = 0;
    out->jitter_scale = 1.0;
    out->jitter_dx = out->jitter_dy = 0.0;
    out->gamma = out->contrast = 1.0;
    out->brightness = 0.0;
    out->blur_sigma = 0.0;
    out->jpeg_quality = 0;
    out->erase_top = out->erase_left = out->erase_h = out->erase_w = 0;
    out->rrc_top = out->rrc_left = out->rrc_h = out->rrc_w = 0;
    fer_rng r;
    if (cfg->rrc_p > 0 && (r = stream(seed, STREAM_RRC), fer_rng_uniform(&r) < cfg->rrc_p))
        draw_rrc(&r, cfg->rrc_scale_min, out);
    if (cfg->frame_jitter_p > 0 && (r = stream(seed, STREAM_JITTER), fer_rng_uniform(&r) < cfg->frame_jitter_p)) {
        out->jitter = 1;
        out->jitter_scale = uniform_in(&r, 0.85, 1.15);
        out->jitter_dx = uniform_in(&r, -0.10, 0.10);
        out->jitter_dy = uniform_in(&r, -0.10, 0.10);
    }
    if (cfg->photometric_p > 0 &&
        (r = stream(seed, STREAM_PHOTOMETRIC), fer_rng_uniform(&r) < cfg->photometric_p)) {
        out->photometric = 1;
        out->gamma = uniform_in(&r, 0.7, 1.4);
        out->contrast = uniform_in(&r, 0.7, 1.3);
        out->brightness = uniform_in(&r, -0.15, 0.15);
    }
    if (cfg->blur_p > 0 && (r = stream(seed, STREAM_BLUR), fer_rng_uniform(&r) < cfg->blur_p))
        out->blur_sigma = uniform_in(&r, 0.5, 1.5);
    if (cfg->jpeg_p > 0 && (r = stream(seed, STREAM_JPEG), fer_rng_uniform(&r) < cfg->jpeg_p))
        out->jpeg_quality = 30 + (int)fer_rng_below(&r, 61);
    if (cfg->erase_p > 0 && (r = stream(seed, STREAM_ERASE), fer_rng_uniform(&r) < cfg->erase_p))
        draw_erase(&r, out);
}

void fer_augment_erase(const fer_augment_params *p, float *x)
{
    for (int y = p->erase_top; y < p->erase_top + p->erase_h; y++)
        for (int k = p->erase_left; k < p->erase_left + p->erase_w; k++) x[y * S + k] = 0.0f;
}

static int clamp_index(int i)
{
    return i < 0 ? 0 : i >= S ? S - 1 : i;
}

/* Output pixel (x, y) reads the box point centre + (x + 0.5 - S/2) * scale (pixel centres), so
 * scale 1 with no shift is the identity. */
void fer_augment_frame_jitter(uint8_t *img, double scale, double dx, double dy)
{
    uint8_t src[S * S];
    memcpy(src, img, sizeof src);
    const double cx = S / 2.0 + dx * S, cy = S / 2.0 + dy * S;
    for (int y = 0; y < S; y++) {
        double v = cy + (y + 0.5 - S / 2.0) * scale - 0.5;
        v = v < 0 ? 0 : v > S - 1 ? S - 1 : v;
        int y0 = (int)floor(v), y1 = clamp_index(y0 + 1);
        double fy = v - y0;
        for (int x = 0; x < S; x++) {
            double u = cx + (x + 0.5 - S / 2.0) * scale - 0.5;
            u = u < 0 ? 0 : u > S - 1 ? S - 1 : u;
            int x0 = (int)floor(u), x1 = clamp_index(x0 + 1);
            double fx = u - x0;
            double top = src[y0 * S + x0] * (1 - fx) + src[y0 * S + x1] * fx;
            double bottom = src[y1 * S + x0] * (1 - fx) + src[y1 * S + x1] * fx;
            img[y * S + x] = to_u8(top * (1 - fy) + bottom * fy);
        }
    }
}

void fer_augment_photometric(uint8_t *img, double gamma, double contrast, double brightness)
{
    double v[S * S], mean = 0.0;
    for (int i = 0; i < S * S; i++) {
        v[i] = pow(img[i] / 255.0, gamma);
        mean += v[i];
    }
    mean /= S * S;
    /* contrast as torchvision's adjust_contrast: a blend with the image's mean gray */
    for (int i = 0; i < S * S; i++)
        img[i] = to_u8((contrast * v[i] + (1.0 - contrast) * mean + brightness) * 255.0);
}

void fer_augment_blur(uint8_t *img, double sigma)
{
    enum { MAX_RADIUS = S - 1 };
    if (!(sigma > 0)) return;
    int radius = (int)ceil(3.0 * sigma);
    if (radius < 1) radius = 1;
    if (radius > MAX_RADIUS) radius = MAX_RADIUS;
    double w[2 * MAX_RADIUS + 1], sum = 0.0;
    for (int k = -radius; k <= radius; k++) sum += w[k + radius] = exp(-0.5 * k * k / (sigma * sigma));
    for (int k = 0; k <= 2 * radius; k++) w[k] /= sum;
    double rows[S * S];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double acc = 0.0;
            for (int k = -radius; k <= radius; k++) acc += w[k + radius] * img[y * S + clamp_index(x + k)];
            rows[y * S + x] = acc;
        }
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double acc = 0.0;
            for (int k = -radius; k <= radius; k++) acc += w[k + radius] * rows[clamp_index(y + k) * S + x];
            img[y * S + x] = to_u8(acc);
        }
}

/* The JPEG standard's example luminance quantisation table (ITU T.81 Annex K, K.1), row major. */
static const int luminance_quant[64] = {
    16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
    14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
    18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};

/* Quantises each 8x8 block's orthonormal DCT with the table scaled as libjpeg's quality setting
 * does (quality 100: every step 1, so only the coefficient rounding remains), then decodes. */
void fer_augment_jpeg(uint8_t *img, int quality)
{
    if (quality < 1) quality = 1;
    if (quality > 100) quality = 100;
    int scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
    int q[64];
    for (int i = 0; i < 64; i++) {
        int v = (luminance_quant[i] * scale + 50) / 100;
        q[i] = v < 1 ? 1 : v > 255 ? 255 : v;
    }
    double basis[8][8]; /* basis[u][x] = alpha(u) cos((2x + 1) u pi / 16) */
    for (int u = 0; u < 8; u++)
        for (int x = 0; x < 8; x++)
            basis[u][x] = (u ? sqrt(2.0 / 8.0) : sqrt(1.0 / 8.0)) * cos((2 * x + 1) * u * M_PI / 16.0);
    for (int by = 0; by < S; by += 8)
        for (int bx = 0; bx < S; bx += 8) {
            double block[8][8], tmp[8][8], coef[8][8];
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++) block[y][x] = img[(by + y) * S + bx + x] - 128.0;
            for (int u = 0; u < 8; u++) /* rows: tmp = B * block */
                for (int x = 0; x < 8; x++) {
                    double acc = 0.0;
                    for (int y = 0; y < 8; y++) acc += basis[u][y] * block[y][x];
                    tmp[u][x] = acc;
                }
            for (int u = 0; u < 8; u++) /* columns: coef = tmp * B^T, then quantise */
                for (int v = 0; v < 8; v++) {
                    double acc = 0.0;
                    for (int x = 0; x < 8; x++) acc += tmp[u][x] * basis[v][x];
                    coef[u][v] = floor(acc / q[u * 8 + v] + 0.5) * q[u * 8 + v];
                }
            for (int y = 0; y < 8; y++) /* inverse: block = B^T * coef * B */
                for (int v = 0; v < 8; v++) {
                    double acc = 0.0;
                    for (int u = 0; u < 8; u++) acc += basis[u][y] * coef[u][v];
                    tmp[y][v] = acc;
                }
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++) {
                    double acc = 0.0;
                    for (int v = 0; v < 8; v++) acc += tmp[y][v] * basis[v][x];
                    img[(by + y) * S + bx + x] = to_u8(acc + 128.0);
                }
        }
}
