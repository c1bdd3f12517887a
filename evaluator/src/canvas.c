#include "canvas.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/fileio.h"
#include "fer/font.h"

fer_status fev_canvas_new(int w, int h, fev_rgb background, fev_canvas **out)
{
    *out = NULL;
    if (w <= 0 || h <= 0 || w > 16384 || h > 16384)
        return fer_fail(FER_ERR_ARG, "canvas: bad size %dx%d", w, h);
    fev_canvas *c = calloc(1, sizeof *c);
    if (!c)
        return fer_fail(FER_ERR_NOMEM, "canvas: out of memory");
    c->rgb = malloc((size_t)w * h * 3);
    if (!c->rgb) {
        free(c);
        return fer_fail(FER_ERR_NOMEM, "canvas: out of memory");
    }
    c->w = w;
    c->h = h;
    fev_canvas_fill_rect(c, 0, 0, w, h, background);
    *out = c;
    return FER_OK;
}

void fev_canvas_free(fev_canvas *c)
{
    if (!c)
        return;
    free(c->rgb);
    free(c);
}

fev_rgb fev_canvas_get(const fev_canvas *c, int x, int y)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return FEV_BLACK;
    const uint8_t *p = c->rgb + ((size_t)y * c->w + x) * 3;
    return FEV_RGB(p[0], p[1], p[2]);
}

void fev_canvas_set(fev_canvas *c, int x, int y, fev_rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return;
    uint8_t *p = c->rgb + ((size_t)y * c->w + x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

void fev_canvas_fill_rect(fev_canvas *c, int x, int y, int w, int h, fev_rgb col)
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++)
            fev_canvas_set(c, xx, yy, col);
}

void fev_canvas_rect(fev_canvas *c, int x, int y, int w, int h, fev_rgb col)
{
    fev_canvas_fill_rect(c, x, y, w, 1, col);
    fev_canvas_fill_rect(c, x, y + h - 1, w, 1, col);
    fev_canvas_fill_rect(c, x, y, 1, h, col);
    fev_canvas_fill_rect(c, x + w - 1, y, 1, h, col);
}

void fev_canvas_line(fev_canvas *c, double x0, double y0, double x1, double y1, int thickness,
                     int dash, fev_rgb col)
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return;
    double dx = x1 - x0, dy = y1 - y0;
    double len = sqrt(dx * dx + dy * dy);
    int steps = (int)ceil(len * 2) + 1; /* half-pixel steps leave no holes */
    if (steps > 200000)
        return;
    if (thickness < 1)
        thickness = 1;
    int lo = -(thickness - 1) / 2, hi = thickness / 2;
    for (int i = 0; i <= steps; i++) {
        double t = (double)i / steps;
        if (dash > 0 && ((int)(t * len / dash)) % 2 == 1)
            continue;
        int px = (int)lround(x0 + t * dx), py = (int)lround(y0 + t * dy);
        for (int oy = lo; oy <= hi; oy++)
            for (int ox = lo; ox <= hi; ox++)
                fev_canvas_set(c, px + ox, py + oy, col);
    }
}

typedef struct plot_ctx {
    fev_canvas *c;
    fev_rgb col;
    int vertical, ox, oy, text_h;
} plot_ctx;

static void plot_pixel(void *vctx, int x, int y)
{
    plot_ctx *p = vctx;
    if (p->vertical) /* rotate (x, y) in text space by 90 degrees counter-clockwise */
        fev_canvas_set(p->c, p->ox + y, p->oy - x, p->col);
    else
        fev_canvas_set(p->c, x, y, p->col);
}

int fev_canvas_text(fev_canvas *c, const char *text, int x, int y, int scale, fev_align align,
                    fev_rgb col)
{
    int w = fer_font_text_width(text, scale);
    if (align == FEV_ALIGN_CENTER)
        x -= w / 2;
    else if (align == FEV_ALIGN_RIGHT)
        x -= w;
    plot_ctx p = {c, col, 0, 0, 0, 0};
    fer_font_draw(text, x, y, scale, plot_pixel, &p);
    return w;
}

void fev_canvas_text_vertical(fev_canvas *c, const char *text, int cx, int cy, int scale,
                              fev_rgb col)
{
    int w = fer_font_text_width(text, scale), h = fer_font_text_height(scale);
    plot_ctx p = {c, col, 1, cx - h / 2, cy + w / 2, h};
    fer_font_draw(text, 0, 0, scale, plot_pixel, &p);
}

fer_status fev_canvas_write_png(const fev_canvas *c, const char *path)
{
    fer_atomic_file af;
    fer_status st = fer_atomic_open(path, &af);
    if (st)
        return st;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc(sizeof(png_bytep) * c->h);
    volatile int ok = 0;
    if (png && info && rows && !setjmp(png_jmpbuf(png))) {
        png_init_io(png, af.f);
        png_set_IHDR(png, info, c->w, c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_compression_level(png, 9);
        png_write_info(png, info);
        for (int y = 0; y < c->h; y++)
            rows[y] = c->rgb + (size_t)y * c->w * 3;
        png_write_image(png, rows);
        png_write_end(png, NULL);
        ok = 1;
    }
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (!ok) {
        fer_atomic_abort(&af);
        return fer_fail(FER_ERR_IO, "%s: cannot write PNG", path);
    }
    return fer_atomic_commit(&af);
}

static fev_rgb lerp_stops(const uint8_t (*stops)[3], int n_stops, double t)
{
    if (!(t >= 0.0))
        t = 0.0;
    if (t > 1.0)
        t = 1.0;
    double pos = t * (n_stops - 1);
    int i = (int)pos;
    if (i >= n_stops - 1)
        i = n_stops - 2;
    double f = pos - i;
    uint8_t out[3];
    for (int k = 0; k < 3; k++)
        out[k] = (uint8_t)lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]));
    return FEV_RGB(out[0], out[1], out[2]);
}

fev_rgb fev_cmap_blues(double t)
{
    /* white to dark blue, as the seed's matplotlib "Blues" */
    static const uint8_t stops[][3] = {{247, 251, 255}, {222, 235, 247}, {198, 219, 239},
                                       {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                                       {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
    return lerp_stops(stops, (int)(sizeof stops / sizeof stops[0]), t);
}

fev_rgb fev_cmap_viridis(double t)
{
    static const uint8_t stops[][3] = {{68, 1, 84},    {72, 40, 120},  {62, 74, 137},
                                       {49, 104, 142}, {38, 130, 142}, {31, 158, 137},
                                       {53, 183, 121}, {110, 206, 88}, {181, 222, 43},
                                       {253, 231, 37}};
    return lerp_stops(stops, (int)(sizeof stops / sizeof stops[0]), t);
}

fev_rgb fev_contrast_text(fev_rgb bg)
{
    double lum = 0.299 * bg.r + 0.587 * bg.g + 0.114 * bg.b;
    return lum < 140.0 ? FEV_WHITE : FEV_BLACK;
}

fev_rgb fev_palette(int i)
{
    /* colour-blind-friendly qualitative set (Okabe-Ito, then greys) */
    static const fev_rgb pal[] = {{0, 114, 178},  {230, 159, 0},  {0, 158, 115},
                                  {204, 121, 167}, {213, 94, 0},  {86, 180, 233},
                                  {240, 228, 66},  {90, 90, 90}};
    int n = (int)(sizeof pal / sizeof pal[0]);
    return pal[((i % n) + n) % n];
}
