/* Reads a PNG back as 8-bit RGB for pixel checks (libpng's simplified API). */
#ifndef FER_TEST_PNG_READ_H
#define FER_TEST_PNG_READ_H
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct test_image {
    int w, h;
    uint8_t *rgb;
} test_image;

static inline int test_png_read(const char *path, test_image *out)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return 0;
    img.format = PNG_FORMAT_RGB;
    out->w = (int)img.width;
    out->h = (int)img.height;
    out->rgb = malloc(PNG_IMAGE_SIZE(img));
    if (!out->rgb || !png_image_finish_read(&img, NULL, out->rgb, 0, NULL)) {
        png_image_free(&img);
        free(out->rgb);
        return 0;
    }
    return 1;
}

static inline const uint8_t *test_px(const test_image *im, int x, int y)
{
    return im->rgb + ((size_t)y * im->w + x) * 3;
}

static inline double test_lum(const uint8_t *p) { return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]; }

static inline int test_is(const uint8_t *p, int r, int g, int b)
{
    return p[0] == r && p[1] == g && p[2] == b;
}

/* Pixels in the rectangle equal to (r,g,b). */
static inline int test_count(const test_image *im, int x0, int y0, int w, int h, int r, int g,
                             int b)
{
    int n = 0;
    for (int y = y0; y < y0 + h && y < im->h; y++)
        for (int x = x0; x < x0 + w && x < im->w; x++)
            n += test_is(test_px(im, x, y), r, g, b);
    return n;
}

/* Pixels in the rectangle darker than the given luminance (text on a light background). */
static inline int test_count_dark(const test_image *im, int x0, int y0, int w, int h, double lum)
{
    int n = 0;
    for (int y = y0; y < y0 + h && y < im->h; y++)
        for (int x = x0; x < x0 + w && x < im->w; x++)
            n += test_lum(test_px(im, x, y)) < lum;
    return n;
}
#endif
