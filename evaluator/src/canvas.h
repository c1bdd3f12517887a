/* A small RGB canvas for the figures: filled rectangles, lines, text in the built-in font,
 * colour maps, and PNG output (libpng, written to PATH.tmp then renamed). Internal to
 * libfereval. Coordinates are pixels, (0,0) top-left; drawing outside the canvas is clipped. */
#ifndef FER_CANVAS_H
#define FER_CANVAS_H
#include <stdint.h>
#include "fer/status.h"

typedef struct fev_rgb {
    uint8_t r, g, b;
} fev_rgb;

#define FEV_RGB(r, g, b) ((fev_rgb){(uint8_t)(r), (uint8_t)(g), (uint8_t)(b)})
#define FEV_WHITE FEV_RGB(255, 255, 255)
#define FEV_BLACK FEV_RGB(0, 0, 0)
#define FEV_GRID FEV_RGB(225, 225, 225)
#define FEV_AXIS FEV_RGB(60, 60, 60)

typedef struct fev_canvas {
    int w, h;
    uint8_t *rgb; /* w * h * 3 */
} fev_canvas;

typedef enum fev_align { FEV_ALIGN_LEFT, FEV_ALIGN_CENTER, FEV_ALIGN_RIGHT } fev_align;

fer_status fev_canvas_new(int w, int h, fev_rgb background, fev_canvas **out);
void fev_canvas_free(fev_canvas *c);
fev_rgb fev_canvas_get(const fev_canvas *c, int x, int y);
void fev_canvas_set(fev_canvas *c, int x, int y, fev_rgb col);
void fev_canvas_fill_rect(fev_canvas *c, int x, int y, int w, int h, fev_rgb col);
void fev_canvas_rect(fev_canvas *c, int x, int y, int w, int h, fev_rgb col); /* 1px outline */
/* Line of the given thickness (pixels); dash > 0 draws dash-long pieces with dash-long gaps. */
void fev_canvas_line(fev_canvas *c, double x0, double y0, double x1, double y1, int thickness,
                     int dash, fev_rgb col);
/* Text with its top at y; align is relative to x. Returns the drawn width. */
int fev_canvas_text(fev_canvas *c, const char *text, int x, int y, int scale, fev_align align,
                    fev_rgb col);
/* Text rotated 90 degrees counter-clockwise (reads bottom to top), centred on (cx, cy). */
void fev_canvas_text_vertical(fev_canvas *c, const char *text, int cx, int cy, int scale,
                              fev_rgb col);
fer_status fev_canvas_write_png(const fev_canvas *c, const char *path);

/* Colour maps, t in [0, 1] (clamped). */
fev_rgb fev_cmap_blues(double t);
fev_rgb fev_cmap_viridis(double t);
/* Black or white, whichever reads better on bg. */
fev_rgb fev_contrast_text(fev_rgb bg);
/* The i-th colour of a qualitative palette (runs, curves). */
fev_rgb fev_palette(int i);

#endif
