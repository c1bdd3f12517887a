/* One small built-in bitmap font for the figures and the video overlay (ASCII 32..126). */
#ifndef FER_FONT_H_INCLUDED
#define FER_FONT_H_INCLUDED
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FER_FONT_W 8   /* glyph cell width, pixels (advance) */
#define FER_FONT_H 13  /* glyph cell height, pixels */

/* FER_FONT_H rows; bit 7 of each byte is the leftmost pixel. Unknown chars give '?'. */
const uint8_t *fer_font_glyph(unsigned char c);

/* Calls plot(ctx, x, y) for every set pixel of text at (x, y) = top-left, each font pixel
 * drawn as a scale x scale block. */
typedef void (*fer_font_plot_fn)(void *ctx, int x, int y);
void fer_font_draw(const char *text, int x, int y, int scale, fer_font_plot_fn plot, void *ctx);
int fer_font_text_width(const char *text, int scale);
int fer_font_text_height(int scale);

#ifdef __cplusplus
}
#endif
#endif
