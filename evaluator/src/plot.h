/* Axes for the figures: a pixel rectangle with data ranges, "nice" ticks, grid, labels and
 * legends, drawn on a fev_canvas. Internal to libfereval. */
#ifndef FER_PLOT_H
#define FER_PLOT_H
#include "canvas.h"

#define FER_TITLE_SCALE 2
#define FER_LABEL_SCALE 1

typedef struct fev_axes {
    int x, y, w, h;               /* plot area in pixels */
    double xmin, xmax, ymin, ymax; /* data range */
} fev_axes;

int fev_axes_px(const fev_axes *a, double x);
int fev_axes_py(const fev_axes *a, double y);
/* Tick step of roughly n_target ticks over [lo, hi] from the 1-2-5 series. */
double fev_nice_step(double lo, double hi, int n_target);
/* Widens [*lo, *hi] to multiples of a nice step; equal ends get a margin. */
void fev_nice_range(double *lo, double *hi, int n_target);
/* Frame, horizontal grid, y tick labels (printf format, e.g. "%.1f"); x ticks when
 * x_format is not NULL. */
void fev_axes_draw(fev_canvas *c, const fev_axes *a, double y_step, const char *y_format,
                   double x_step, const char *x_format);
/* Legend box with colour swatches; anchored with its top-right corner at (right, top). */
void fev_legend(fev_canvas *c, int right, int top, const char *const *labels,
                const fev_rgb *colours, int n);
/* Legend as rows of "swatch label" entries, wrapped at max_width; its height in pixels. */
int fev_legend_row_height(const char *const *labels, int n, int max_width);
void fev_legend_row(fev_canvas *c, int x, int y, int max_width, const char *const *labels,
                    const fev_rgb *colours, const int *dashed, int n);
/* Vertical colour bar for values in [vmin, vmax], labelled at about n_ticks nice values. */
void fev_colorbar(fev_canvas *c, int x, int y, int w, int h, double vmin, double vmax,
                  int n_ticks, const char *format, fev_rgb (*cmap)(double));
/* Width of the widest label a colour bar of that format would print. */
int fev_colorbar_label_width(double vmin, double vmax, int n_ticks, const char *format);

#endif
