/* Augmentation equals the seed's torchvision/PIL pipeline bit for bit on fixed parameters
 * (augment_golden.bin from make_augment_golden.py), and the random parameters are drawn from
 * the right ranges with the right frequencies. argv[1]: the golden file. */
#include <math.h>
#include <string.h>
#include "fer/augment.h"
#include "fixtures.h"

static const struct { int flip; double deg; int top, left; } cases[] = {
    {0, 0.0, 4, 4}, {1, 0.0, 4, 4}, {0, 10.3, 0, 0}, {1, -14.7, 12, 12},
    {0, 5.55, 3, 9}, {1, -3.3, 7, 2}, {0, 14.99, 6, 6}, {0, -7.25, 11, 0}};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    size_t n = 0;
    uint8_t *golden = (uint8_t *)fx_read_file(argv[1], &n);
    CHECK(golden && n == (size_t)N_CASES * 2304);
    uint8_t src[2304], out[2304];
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) src[y * 48 + x] = (uint8_t)((x * 7 + y * 13 + (x * y) % 17 * 5) & 255);
    fer_augment_config cfg;
    fer_augment_config_seed(&cfg);
    for (int c = 0; c < N_CASES; c++) {
        fer_augment_params p = {.flip = cases[c].flip, .degrees = cases[c].deg,
                                .top = cases[c].top, .left = cases[c].left};
        fer_augment_apply(&cfg, &p, src, out);
        int diff = 0, maxd = 0;
        for (int i = 0; i < 2304; i++) {
            int d = abs(out[i] - golden[c * 2304 + i]);
            diff += d != 0;
            maxd = d > maxd ? d : maxd;
        }
        if (diff) {
            fprintf(stderr, "case %d: %d pixels differ from PIL (max %d)\n", c, diff, maxd);
            return 1;
        }
    }
    /* identity resize and a shrink behave as PIL: uniform stays uniform */
    uint8_t flat[96 * 96], small[48 * 48];
    memset(flat, 99, sizeof flat);
    fer_resize_bilinear_pil(flat, 96, 96, small, 48, 48);
    for (int i = 0; i < 2304; i++) CHECK(small[i] == 99);
    /* parameter draws: ranges and frequencies */
    int flips = 0, top_hist[13] = {0};
    double min_deg = 1e9, max_deg = -1e9, sum_deg = 0;
    const int draws = 20000;
    for (int i = 0; i < draws; i++) {
        fer_augment_params p;
        fer_augment_draw(&cfg, 0x1234567ull + (uint64_t)i * 0x9e3779b97f4a7c15ull, &p);
        flips += p.flip;
        CHECK(p.degrees >= -15.0 && p.degrees <= 15.0);
        CHECK(p.top >= 0 && p.top <= 12 && p.left >= 0 && p.left <= 12);
        top_hist[p.top]++;
        min_deg = fmin(min_deg, p.degrees);
        max_deg = fmax(max_deg, p.degrees);
        sum_deg += p.degrees;
    }
    /* 5-sigma bounds */
    CHECK(fabs(flips - draws * 0.5) < 5 * sqrt(draws * 0.25));
    CHECK(min_deg < -14.5 && max_deg > 14.5 && fabs(sum_deg / draws) < 5 * 8.66 / sqrt(draws));
    for (int k = 0; k < 13; k++)
        CHECK(fabs(top_hist[k] - draws / 13.0) < 5 * sqrt(draws / 13.0));
    /* same seed, same parameters */
    fer_augment_params a, b;
    memset(&a, 0, sizeof a); /* padding too: compared with memcmp */
    memset(&b, 0, sizeof b);
    fer_augment_draw(&cfg, 42, &a);
    fer_augment_draw(&cfg, 42, &b);
    CHECK(!memcmp(&a, &b, sizeof a));
    free(golden);
    printf("test_augment: ok (%d PIL cases bit-exact)\n", N_CASES);
    return 0;
}
