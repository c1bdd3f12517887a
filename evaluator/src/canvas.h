/* A small RGB canvas for the figures: filled rectangles, lines, text in the built-in font,
 * colour maps, and PNG output (libpng, written to PATH.tmp then renamed). Internal to
 * libfereval. Coordinates are pixels, (0,0) top-left; drawing outside the canvas is clipped. */
#ifndef FER_CANVAS_H
#define FER_CANVAS_H
#include <stdint.h>
#include "fer/status.h"

typedef struct fer_rgb {
    uint8_t r, g, b;
} fer_rgb;

#define FER_RGB(r, g, b) ((fer_rgb){(uint8_t)(r), (uint8_t)(g), (uint8_t)(b)})
#define FER_WHITE FER_RGB(255, 255, 255)
#define FER_BLACK FER_RGB(0, 0, 0)
#define FER_GRID FER_RGB(225, 225, 225)
#define FER_AXIS FER_RGB(60, 60, 60)

typedef struct fer_canvas {
    int w, h;
    uint8_t *rgb; /* w * h * 3 */
} fer_canvas;

typedef enum fer_align { FER_ALIGN_LEFT, FER_ALIGN_CENTER, FER_ALIGN_RIGHT } fer_align;

fer_status fer_canvas_new(int w, int h, fer_rgb background, fer_canvas **out);
void fer_canvas_free(fer_canvas *c);
fer_rgb fer_canvas_get(const fer_canvas *c, int x, int y);
void fer_canvas_set(fer_canvas *c, int x, int y, fer_rgb col);
void fer_canvas_fill_rect(fer_canvas *c, int x, int y, int w, int h, fer_rgb col);
void fer_canvas_rect(fer_canvas *c, int x, int y, int w, int h, fer_rgb col); /* 1px outline */
/* Line of the given thickness (pixels); dash > 0 draws dash-long pieces with dash-long gaps. */
void fer_canvas_line(fer_canvas *c, double x0, double y0, double x1, double y1, int thickness,
                     int dash, fer_rgb col);
/* Text with its top at y; align is relative to x. Returns the drawn width. */
int fer_canvas_text(fer_canvas *c, const char *text, int x, int y, int scale, fer_align align,
                    fer_rgb col);
/* Text rotated 90 degrees counter-clockwise (reads bottom to top), centred on (cx, cy). */
void fer_canvas_text_vertical(fer_canvas *c, const char *text, int cx, int cy, int scale,
                              fer_rgb col);
fer_status fer_canvas_write_png(const fer_canvas *c, const char *path);

/* Colour maps, t in [0, 1] (clamped). */
fer_rgb fer_cmap_blues(double t);
fer_rgb fer_cmap_viridis(double t);
/* Black or white, whichever reads better on bg. */
fer_rgb fer_contrast_text(fer_rgb bg);
/* The i-th colour of a qualitative palette (runs, curves). */
fer_rgb fer_palette(int i);

#endif
