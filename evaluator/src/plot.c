#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fer/font.h"

int fev_axes_px(const fev_axes *a, double x)
{
    double span = a->xmax - a->xmin;
    double t = span != 0 ? (x - a->xmin) / span : 0.5;
    return a->x + (int)lround(t * (a->w - 1));
}

int fev_axes_py(const fev_axes *a, double y)
{
    double span = a->ymax - a->ymin;
    double t = span != 0 ? (y - a->ymin) / span : 0.5;
    return a->y + a->h - 1 - (int)lround(t * (a->h - 1));
}

double fev_nice_step(double lo, double hi, int n_target)
{
    double span = hi - lo;
    if (!(span > 0) || !isfinite(span))
        return 1.0;
    double raw = span / (n_target > 0 ? n_target : 1);
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double nice = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return nice * mag;
}

void fev_nice_range(double *lo, double *hi, int n_target)
{
    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
        return;
    }
    if (*hi - *lo < 1e-12) {
        double pad = fabs(*lo) > 1e-12 ? fabs(*lo) * 0.1 : 0.5;
        *lo -= pad;
        *hi += pad;
    }
    double step = fev_nice_step(*lo, *hi, n_target);
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
}

void fev_axes_draw(fev_canvas *c, const fev_axes *a, double y_step, const char *y_format,
                   double x_step, const char *x_format)
{
    char buf[64];
    int th = fer_font_text_height(FER_LABEL_SCALE);
    if (y_step > 0) {
        double first = ceil(a->ymin / y_step - 1e-9) * y_step;
        for (double v = first; v <= a->ymax + y_step * 1e-6; v += y_step) {
            int py = fev_axes_py(a, v);
            fev_canvas_fill_rect(c, a->x, py, a->w, 1, FEV_GRID);
            fev_canvas_fill_rect(c, a->x - 4, py, 4, 1, FEV_AXIS);
            snprintf(buf, sizeof buf, y_format, fabs(v) < y_step * 1e-6 ? 0.0 : v);
            fev_canvas_text(c, buf, a->x - 7, py - th / 2, FER_LABEL_SCALE, FEV_ALIGN_RIGHT,
                            FEV_AXIS);
        }
    }
    if (x_format && x_step > 0) {
        double first = ceil(a->xmin / x_step - 1e-9) * x_step;
        for (double v = first; v <= a->xmax + x_step * 1e-6; v += x_step) {
            int px = fev_axes_px(a, v);
            fev_canvas_fill_rect(c, px, a->y, 1, a->h, FEV_GRID);
            fev_canvas_fill_rect(c, px, a->y + a->h, 1, 4, FEV_AXIS);
            snprintf(buf, sizeof buf, x_format, fabs(v) < x_step * 1e-6 ? 0.0 : v);
            fev_canvas_text(c, buf, px, a->y + a->h + 6, FER_LABEL_SCALE, FEV_ALIGN_CENTER,
                            FEV_AXIS);
        }
    }
    fev_canvas_rect(c, a->x - 1, a->y - 1, a->w + 2, a->h + 2, FEV_AXIS);
}

void fev_legend(fev_canvas *c, int right, int top, const char *const *labels,
                const fev_rgb *colours, int n)
{
    int th = fer_font_text_height(FER_LABEL_SCALE), tw = 0;
    for (int i = 0; i < n; i++) {
        int w = fer_font_text_width(labels[i], FER_LABEL_SCALE);
        if (w > tw)
            tw = w;
    }
    int row = th + 4, sw = 18;
    int bw = 8 + sw + 6 + tw + 8, bh = 6 + n * row + 2;
    int x = right - bw, y = top;
    fev_canvas_fill_rect(c, x, y, bw, bh, FEV_WHITE);
    fev_canvas_rect(c, x, y, bw, bh, FEV_RGB(190, 190, 190));
    for (int i = 0; i < n; i++) {
        int ry = y + 5 + i * row;
        fev_canvas_fill_rect(c, x + 8, ry + 2, sw, th - 4, colours[i]);
        fev_canvas_text(c, labels[i], x + 8 + sw + 6, ry, FER_LABEL_SCALE, FEV_ALIGN_LEFT,
                        FEV_BLACK);
    }
}

/* Tick values of a colour bar: multiples of a nice step within [vmin, vmax]. */
static int colorbar_ticks(double vmin, double vmax, int n_target, const char *format,
                          double *ticks, int max)
{
    double step = fev_nice_step(vmin, vmax, n_target > 1 ? n_target - 1 : 1);
    if (strstr(format, ".0f") && step < 1)
        step = 1; /* integer labels (counts) */
    int n = 0;
    for (double v = ceil(vmin / step - 1e-9) * step; v <= vmax + step * 1e-9 && n < max;
         v += step)
        ticks[n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
    return n;
}

int fev_colorbar_label_width(double vmin, double vmax, int n_ticks, const char *format)
{
    char buf[64];
    double ticks[32];
    int n = colorbar_ticks(vmin, vmax, n_ticks, format, ticks, 32), w = 0;
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, format, ticks[i]);
        int tw = fer_font_text_width(buf, FER_LABEL_SCALE);
        if (tw > w)
            w = tw;
    }
    return w;
}

void fev_colorbar(fev_canvas *c, int x, int y, int w, int h, double vmin, double vmax,
                  int n_ticks, const char *format, fev_rgb (*cmap)(double))
{
    char buf[64];
    for (int yy = 0; yy < h; yy++) {
        double t = h > 1 ? 1.0 - (double)yy / (h - 1) : 0.0;
        fev_canvas_fill_rect(c, x, y + yy, w, 1, cmap(t));
    }
    fev_canvas_rect(c, x - 1, y - 1, w + 2, h + 2, FEV_AXIS);
    int th = fer_font_text_height(FER_LABEL_SCALE);
    double ticks[32];
    int n = vmax > vmin ? colorbar_ticks(vmin, vmax, n_ticks, format, ticks, 32) : 0;
    for (int i = 0; i < n; i++) {
        double t = (ticks[i] - vmin) / (vmax - vmin);
        int py = y + h - 1 - (int)lround(t * (h - 1));
        fev_canvas_fill_rect(c, x + w, py, 4, 1, FEV_AXIS);
        snprintf(buf, sizeof buf, format, ticks[i]);
        fev_canvas_text(c, buf, x + w + 7, py - th / 2, FER_LABEL_SCALE, FEV_ALIGN_LEFT,
                        FEV_AXIS);
    }
}

int fev_legend_row_height(const char *const *labels, int n, int max_width)
{
    int th = fer_font_text_height(FER_LABEL_SCALE), x = 0, rows = n > 0;
    for (int i = 0; i < n; i++) {
        int w = 18 + 6 + fer_font_text_width(labels[i], FER_LABEL_SCALE) + 16;
        if (x > 0 && x + w > max_width) {
            rows++;
            x = 0;
        }
        x += w;
    }
    return rows * (th + 4);
}

void fev_legend_row(fev_canvas *c, int x0, int y0, int max_width, const char *const *labels,
                    const fev_rgb *colours, const int *dashed, int n)
{
    int th = fer_font_text_height(FER_LABEL_SCALE), x = 0, y = y0;
    for (int i = 0; i < n; i++) {
        int w = 18 + 6 + fer_font_text_width(labels[i], FER_LABEL_SCALE) + 16;
        if (x > 0 && x + w > max_width) {
            y += th + 4;
            x = 0;
        }
        if (dashed && dashed[i]) { /* two dashes, as the line */
            fev_canvas_fill_rect(c, x0 + x, y + 4, 7, th - 8, colours[i]);
            fev_canvas_fill_rect(c, x0 + x + 11, y + 4, 7, th - 8, colours[i]);
        } else {
            fev_canvas_fill_rect(c, x0 + x, y + 4, 18, th - 8, colours[i]);
        }
        fev_canvas_text(c, labels[i], x0 + x + 24, y, FER_LABEL_SCALE, FEV_ALIGN_LEFT,
                        FEV_BLACK);
        x += w;
    }
}
