/* One PNG file -> 8-bit gray, following what the seed's loader did (PIL: convert("RGB") then
 * convert("L")): palette and low bit depths expanded, alpha dropped, RGB to luma with PIL's
 * fixed-point weights 0.299/0.587/0.114. 16-bit samples are scaled to 8 bits (v*255/65535). */
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data_internal.h"
#include "fer/fileio.h"
#include "fer/preprocess.h"

/* FER faces are 48x48 and a few kB: refuse absurd files and sizes (read from the header) before
 * anything is allocated or decoded. 4096^2 RGB = 48 MiB of decode buffer at most. */
#define PNG_MAX_SIDE 4096
#define PNG_MAX_FILE_BYTES ((size_t)64 << 20)

typedef struct png_err_ctx {
    jmp_buf jmp;
    char message[128];
} png_err_ctx;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_err_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", msg);
    longjmp(ctx->jmp, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* ancillary-chunk problems do not change the pixels */
}

/* PIL's L24 macro: ITU-R 601-2 luma in 16.16 fixed point, rounded. */
static uint8_t pil_luma(const uint8_t *rgb)
{
    return (uint8_t)((rgb[0] * 19595u + rgb[1] * 38470u + rgb[2] * 7471u + 0x8000u) >> 16);
}

/* Decodes into *gray_out (malloc'd width*height); volatile because of longjmp. */
static fer_status decode(const char *path, FILE *f, uint8_t **gray_out, int *w_out, int *h_out)
{
    png_err_ctx ctx;
    ctx.message[0] = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
                                             on_png_warning);
    if (!png) return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile gray = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(ctx.jmp)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rgb);
        free(rows);
        free(gray);
        return fer_fail(FER_ERR_FORMAT, "%s: corrupt PNG (%s)", path,
                        ctx.message[0] ? ctx.message : "libpng error");
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    /* the size cap is checked right after the header, with a clearer message than libpng's
     * own user limits give (lifted to the format's maximum for that); png_read_info allocates
     * nothing per pixel */
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    png_read_info(png, info);
    png_uint_32 w32 = png_get_image_width(png, info), h32 = png_get_image_height(png, info);
    if (w32 < 1 || h32 < 1 || w32 > PNG_MAX_SIDE || h32 > PNG_MAX_SIDE) {
        png_destroy_read_struct(&png, &info, NULL);
        return fer_fail(FER_ERR_FORMAT, "%s: image is %ux%u, at most %dx%d supported", path,
                        (unsigned)w32, (unsigned)h32, PNG_MAX_SIDE, PNG_MAX_SIDE);
    }
    int w = (int)w32;
    int h = (int)h32;
    int color = png_get_color_type(png, info);
    if (png_get_bit_depth(png, info) == 16) png_set_scale_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png); /* PIL's convert("RGB") drops alpha too */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    if (channels != 1 && channels != 3)
        longjmp(ctx.jmp, 1); /* unreachable after the transforms above */
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes < (size_t)w * (size_t)channels || rowbytes > SIZE_MAX / (size_t)h) {
        snprintf(ctx.message, sizeof ctx.message, "row size %zu does not fit the image", rowbytes);
        longjmp(ctx.jmp, 1);
    }
    rgb = malloc(rowbytes * (size_t)h);
    rows = malloc(sizeof(png_bytep) * (size_t)h);
    gray = malloc((size_t)w * (size_t)h);
    if (!rgb || !rows || !gray) {
        snprintf(ctx.message, sizeof ctx.message, "out of memory");
        longjmp(ctx.jmp, 1);
    }
    for (int y = 0; y < h; y++) rows[y] = rgb + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    for (size_t i = 0; i < (size_t)w * h; i++)
        gray[i] = channels == 1 ? rgb[i] : pil_luma(rgb + 3 * i);
    png_destroy_read_struct(&png, &info, NULL);
    free(rgb);
    free(rows);
    *gray_out = gray;
    *w_out = w;
    *h_out = h;
    return FER_OK;
}

fer_status fer_png_read_gray(const char *path, int w, int h, uint8_t *out)
{
    FILE *f = NULL;
    size_t size = 0;
    fer_status st = fer_open_regular(path, &f, &size); /* a FIFO or device is refused, not read */
    if (st) return st;
    if (size > PNG_MAX_FILE_BYTES) {
        fclose(f);
        return fer_fail(FER_ERR_FORMAT, "%s: %zu bytes, larger than any image we take (%zu)",
                        path, size, PNG_MAX_FILE_BYTES);
    }
    uint8_t sig[8];
    size_t got = fread(sig, 1, 8, f);
    if (got == 0) {
        fclose(f);
        return fer_fail(FER_ERR_FORMAT, "%s: empty file, not a PNG", path);
    }
    if (got < 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        return fer_fail(FER_ERR_FORMAT, "%s: not a PNG file", path);
    }
    uint8_t *gray = NULL;
    int iw = 0, ih = 0;
    fer_status s = decode(path, f, &gray, &iw, &ih);
    fclose(f);
    if (s) return s;
    if (iw == w && ih == h) {
        memcpy(out, gray, (size_t)w * h);
    } else {
        fer_resize_gray(gray, iw, ih, iw, out, w, h);
    }
    free(gray);
    return FER_OK;
}
