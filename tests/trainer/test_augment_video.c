/* Issue-21 augmentations (fer/augment.h): each is the identity at zero strength, stays in range,
 * is a pure function of the seed, draws from its documented ranges, and keeps a property of the
 * real operation (JPEG at quality 100 within 2 gray levels of the input, blur keeps the mean,
 * erasing covers 2-33% of the image with value 0, RandomResizedCrop's box has the area and
 * aspect ranges and resizes the box). Turning an addition on never changes the
 * seed pipeline's own draws. fer-eval's --perturb video copy is a pure function of the image
 * index, changes the image, and differs between indices. */
#include <math.h>
#include <string.h>
#include "fer/augment.h"
#include "fixtures.h"

#define N 2304

static void test_image(uint8_t *img)
{
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++)
            img[y * 48 + x] = (uint8_t)(128 + 90 * sin(x * 0.31) * cos(y * 0.23) + (x * y) % 7);
}

static double mean_of(const uint8_t *img)
{
    double s = 0;
    for (int i = 0; i < N; i++) s += img[i];
    return s / N;
}

static int max_abs_diff(const uint8_t *a, const uint8_t *b)
{
    int m = 0;
    for (int i = 0; i < N; i++) {
        int d = abs(a[i] - b[i]);
        m = d > m ? d : m;
    }
    return m;
}

static void identities(const uint8_t *src)
{
    uint8_t img[N];
    memcpy(img, src, N);
    fer_augment_frame_jitter(img, 1.0, 0.0, 0.0);
    CHECK(!memcmp(img, src, N));
    fer_augment_photometric(img, 1.0, 1.0, 0.0);
    CHECK(!memcmp(img, src, N));
    fer_augment_blur(img, 0.05); /* weights beyond the centre < 1e-80 */
    CHECK(!memcmp(img, src, N));
    fer_augment_jpeg(img, 100);
    int d = max_abs_diff(img, src);
    printf("JPEG quality 100: max difference %d gray levels\n", d);
    CHECK(d <= 2);
    /* a flat image survives every step unchanged (JPEG: DC only, step 1 at quality 100) */
    uint8_t flat[N], copy[N];
    memset(flat, 77, N);
    memcpy(copy, flat, N);
    fer_augment_blur(flat, 1.5);
    fer_augment_jpeg(flat, 30);
    fer_augment_frame_jitter(flat, 0.85, 0.1, -0.1);
    CHECK(!memcmp(flat, copy, N));
}

static void properties(const uint8_t *src)
{
    uint8_t img[N];
    /* blur keeps the mean (edge repetition moves it slightly: stated bound 1 gray level) and
     * lowers the variation between neighbours */
    memcpy(img, src, N);
    fer_augment_blur(img, 1.5);
    CHECK(fabs(mean_of(img) - mean_of(src)) < 1.0);
    long tv_src = 0, tv_img = 0;
    for (int i = 1; i < N; i++) {
        tv_src += abs(src[i] - src[i - 1]);
        tv_img += abs(img[i] - img[i - 1]);
    }
    printf("blur sigma 1.5: neighbour variation %ld -> %ld\n", tv_src, tv_img);
    CHECK(tv_img < tv_src * 0.9); /* smooth test image: most variation is low frequency */
    /* JPEG: lower quality, larger error; quality 30 still close (mean error < 8 levels) */
    double err[2];
    const int qualities[2] = {90, 30};
    for (int k = 0; k < 2; k++) {
        memcpy(img, src, N);
        fer_augment_jpeg(img, qualities[k]);
        err[k] = 0;
        for (int i = 0; i < N; i++) err[k] += abs(img[i] - src[i]);
        err[k] /= N;
    }
    printf("JPEG mean abs error: quality 90 %.2f, quality 30 %.2f\n", err[0], err[1]);
    CHECK(err[0] < err[1] && err[1] < 8.0 && err[1] > 0.1);
    /* photometric: brightness +0.1 raises the mean by about 25.5 levels (clipping: >= 20) */
    memcpy(img, src, N);
    fer_augment_photometric(img, 1.0, 1.0, 0.1);
    CHECK(mean_of(img) - mean_of(src) > 20 && mean_of(img) - mean_of(src) < 26);
    /* contrast 0: everything the mean */
    memcpy(img, src, N);
    fer_augment_photometric(img, 1.0, 0.0, 0.0);
    for (int i = 1; i < N; i++) CHECK(img[i] == img[0]);
    CHECK(fabs(img[0] - mean_of(src)) <= 0.5 + 1e-9);
    /* frame jitter: a 10% shift right moves content by about 4.8 pixels */
    uint8_t bar[N] = {0};
    for (int y = 0; y < 48; y++) bar[y * 48 + 24] = 255;
    fer_augment_frame_jitter(bar, 1.0, 0.1, 0.0);
    int peak = 0;
    for (int x = 0; x < 48; x++)
        if (bar[20 * 48 + x] > bar[20 * 48 + peak]) peak = x;
    CHECK(peak == 19 || peak == 20);
}

static void draws(void)
{
    fer_augment_config cfg;
    fer_augment_config_seed(&cfg);
    fer_augment_config all = cfg;
    all.frame_jitter_p = all.photometric_p = all.blur_p = all.jpeg_p = all.erase_p = 0.5f;
    fer_augment_config no_rrc = all;
    all.rrc_p = 0.5f;
    all.rrc_scale_min = 0.5f;
    const int n = 20000;
    int counts[6] = {0};
    double erased = 0, min_frac = 1, max_frac = 0, min_area = 1, min_aspect = 9, max_aspect = 0;
    for (int i = 0; i < n; i++) {
        uint64_t seed = 0xabcdefull + (uint64_t)i * 0x9e3779b97f4a7c15ull;
        fer_augment_params base, p, q;
        memset(&p, 0, sizeof p); /* padding too: compared with memcmp */
        memset(&q, 0, sizeof q);
        fer_augment_draw(&cfg, seed, &base);
        fer_augment_draw(&all, seed, &p);
        fer_augment_draw(&all, seed, &q);
        CHECK(!memcmp(&p, &q, sizeof p)); /* pure function of the seed */
        /* the seed pipeline's own draws do not move */
        CHECK(base.flip == p.flip && base.degrees == p.degrees && base.top == p.top &&
              base.left == p.left);
        CHECK(!base.jitter && !base.photometric && base.blur_sigma == 0 && !base.jpeg_quality &&
              !base.erase_h && !base.rrc_h);
        /* RandomResizedCrop draws from its own stream: the other additions' draws stay put */
        fer_augment_params o;
        fer_augment_draw(&no_rrc, seed, &o);
        CHECK(!o.rrc_h && o.jitter == p.jitter && o.jitter_scale == p.jitter_scale &&
              o.gamma == p.gamma && o.blur_sigma == p.blur_sigma &&
              o.jpeg_quality == p.jpeg_quality && o.erase_h == p.erase_h &&
              o.erase_top == p.erase_top);
        if (p.rrc_h) {
            counts[5]++;
            CHECK(p.rrc_top >= 0 && p.rrc_left >= 0 && p.rrc_w >= 1);
            CHECK(p.rrc_top + p.rrc_h <= 48 && p.rrc_left + p.rrc_w <= 48);
            double area = (double)p.rrc_h * p.rrc_w / N, aspect = (double)p.rrc_w / p.rrc_h;
            min_area = fmin(min_area, area);
            min_aspect = fmin(min_aspect, aspect);
            max_aspect = fmax(max_aspect, aspect);
        }
        if (p.jitter) {
            counts[0]++;
            CHECK(p.jitter_scale >= 0.85 && p.jitter_scale <= 1.15);
            CHECK(fabs(p.jitter_dx) <= 0.1 && fabs(p.jitter_dy) <= 0.1);
        }
        if (p.photometric) {
            counts[1]++;
            CHECK(p.gamma >= 0.7 && p.gamma <= 1.4 && p.contrast >= 0.7 && p.contrast <= 1.3);
            CHECK(fabs(p.brightness) <= 0.15);
        }
        if (p.blur_sigma > 0) {
            counts[2]++;
            CHECK(p.blur_sigma >= 0.5 && p.blur_sigma <= 1.5);
        }
        if (p.jpeg_quality) {
            counts[3]++;
            CHECK(p.jpeg_quality >= 30 && p.jpeg_quality <= 90);
        }
        if (p.erase_h) {
            counts[4]++;
            CHECK(p.erase_top >= 0 && p.erase_top + p.erase_h <= 48);
            CHECK(p.erase_left >= 0 && p.erase_left + p.erase_w <= 48);
            double frac = (double)p.erase_h * p.erase_w / N;
            erased += frac;
            min_frac = fmin(min_frac, frac);
            max_frac = fmax(max_frac, frac);
        }
    }
    /* each at probability 0.5 (5 sigma); erasing: a box is found for nearly every draw */
    for (int k = 0; k < 6; k++) {
        printf("addition %d applied %d / %d\n", k, counts[k], n);
        CHECK(fabs(counts[k] - n * 0.5) < 5 * sqrt(n * 0.25) + (k == 4 ? n * 0.02 : 0));
    }
    /* rounding of h and w moves the area a little beyond [0.02, 0.33] */
    printf("erased fraction: min %.3f max %.3f mean %.3f\n", min_frac, max_frac,
           erased / counts[4]);
    CHECK(min_frac > 0.012 && max_frac < 0.36);
    /* RandomResizedCrop: area share in [0.5, 1] and aspect in [3/4, 4/3] up to the rounding of
     * h and w to pixels (one pixel of ~34: 3%), and both ends of the ranges are reached */
    printf("rrc: min area %.3f, aspect %.3f .. %.3f\n", min_area, min_aspect, max_aspect);
    CHECK(min_area > 0.47 && min_area < 0.52);
    CHECK(min_aspect > 0.72 && min_aspect < 0.78 && max_aspect > 1.28 && max_aspect < 1.38);
    /* full augmentation with everything on: in range and deterministic, erasing gives zeros */
    uint8_t src[N], a[N], b[N];
    test_image(src);
    all.erase_p = 1.0f;
    fer_augment_params p;
    fer_augment_draw(&all, 99, &p);
    fer_augment_apply(&all, &p, src, a);
    fer_augment_apply(&all, &p, src, b);
    CHECK(!memcmp(a, b, N));
    float x[N];
    for (int i = 0; i < N; i++) x[i] = 1.0f;
    CHECK(p.erase_h > 0);
    fer_augment_erase(&p, x);
    int zeros = 0;
    for (int i = 0; i < N; i++) zeros += x[i] == 0.0f;
    CHECK(zeros == p.erase_h * p.erase_w);
    /* rotation range: --aug_rotate_max 0 never rotates */
    cfg.max_degrees = 0.0f;
    for (int i = 0; i < 100; i++) {
        fer_augment_draw(&cfg, (uint64_t)i, &p);
        CHECK(p.degrees == 0.0);
    }
}

/* fer_augment_resized_crop: the whole image is the identity; a box inside one flat quadrant
 * gives that quadrant's gray everywhere; a box of a ramp stretches it (still monotonic, ends
 * kept); a box outside the image changes nothing. */
static void resized_crop(const uint8_t *src)
{
    uint8_t img[N], quad[N];
    memcpy(img, src, N);
    fer_augment_resized_crop(img, 0, 0, 48, 48);
    CHECK(!memcmp(img, src, N), "the whole-image box is not the identity");
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) quad[y * 48 + x] = (uint8_t)(y < 24 ? (x < 24 ? 10 : 80) : (x < 24 ? 150 : 220));
    const int boxes[4][4] = {{0, 0, 24, 24}, {0, 24, 24, 24}, {24, 0, 20, 24}, {30, 26, 18, 22}};
    const uint8_t want[4] = {10, 80, 150, 220};
    for (int b = 0; b < 4; b++) {
        memcpy(img, quad, N);
        fer_augment_resized_crop(img, boxes[b][0], boxes[b][1], boxes[b][2], boxes[b][3]);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += img[i] != want[b];
        CHECK(bad == 0, "box %d: %d pixels differ from the quadrant's gray %d", b, bad, want[b]);
    }
    uint8_t ramp[N];
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) ramp[y * 48 + x] = (uint8_t)(x * 5);
    memcpy(img, ramp, N);
    fer_augment_resized_crop(img, 4, 10, 30, 24); /* columns 10..33: grays 50..165 */
    for (int y = 0; y < 48; y++) {
        CHECK(abs(img[y * 48] - 50) <= 3 && abs(img[y * 48 + 47] - 165) <= 3);
        for (int x = 1; x < 48; x++) CHECK(img[y * 48 + x] >= img[y * 48 + x - 1]);
    }
    const int outside[4][4] = {{-1, 0, 10, 10}, {40, 0, 10, 10}, {0, 0, 0, 10}, {0, 47, 10, 2}};
    for (int b = 0; b < 4; b++) {
        memcpy(img, src, N);
        fer_augment_resized_crop(img, outside[b][0], outside[b][1], outside[b][2], outside[b][3]);
        CHECK(!memcmp(img, src, N), "an invalid box %d changed the image", b);
    }
}

static void perturb(const uint8_t *src)
{
    uint8_t a[N], b[N], c[N];
    memcpy(a, src, N);
    memcpy(b, src, N);
    memcpy(c, src, N);
    fer_augment_video_perturb(a, 5);
    fer_augment_video_perturb(b, 5);
    fer_augment_video_perturb(c, 6);
    CHECK(!memcmp(a, b, N), "the perturbation of image 5 is not repeatable");
    CHECK(max_abs_diff(a, src) > 10, "the perturbation hardly changed the image");
    CHECK(memcmp(a, c, N) != 0, "images 5 and 6 got the same perturbation");
    /* mean gray level stays plausible (photometric ranges are bounded) */
    CHECK(fabs(mean_of(a) - mean_of(src)) < 80.0);
}

int main(void)
{
    uint8_t src[N];
    test_image(src);
    identities(src);
    properties(src);
    draws();
    resized_crop(src);
    perturb(src);
    printf("test_augment_video: ok\n");
    return 0;
}
