/* Training curves: panels of line plots over epochs on one PNG. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "canvas.h"
#include "fer/figures.h"
#include "fer/font.h"
#include "plot.h"

#define PAD 16
#define PANEL_W 380
#define PANEL_H 260
#define MAX_SERIES 16

/* Tick label format showing enough decimals for the step. */
static void tick_format(double step, char fmt[16])
{
    int dec = 0;
    while (dec < 6 && fabs(step * pow(10, dec) - round(step * pow(10, dec))) > 1e-6)
        dec++;
    snprintf(fmt, 16, "%%.%df", dec);
}

/* Small steps (learning rates) read better in exponent form. */
static void tick_format_for(double lo, double hi, double step, char fmt[16])
{
    double big = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
    if (big > 0 && big < 1e-2)
        snprintf(fmt, 16, "%%.1e");
    else
        tick_format(step, fmt);
}

fer_status fer_figure_curves(const double *x, int n_points, const fer_curve_series *series,
                             int n_series, const char *const *panel_titles, int n_panels,
                             const char *title, const char *path)
{
    return fer_figure_curves_styled(x, n_points, series, NULL, n_series, panel_titles,
                                    n_panels, title, path);
}

fer_status fer_figure_curves_styled(const double *x, int n_points,
                                    const fer_curve_series *series,
                                    const fer_curve_style *styles, int n_series,
                                    const char *const *panel_titles, int n_panels,
                                    const char *title, const char *path)
{
    if (n_points < 1 || !x)
        return fer_fail(FER_ERR_ARG, "%s: no points to plot", path);
    if (n_series < 1 || n_series > MAX_SERIES || n_panels < 1 || n_panels > 8)
        return fer_fail(FER_ERR_ARG, "%s: need 1..%d series in 1..8 panels", path, MAX_SERIES);
    for (int s = 0; s < n_series; s++)
        if (series[s].panel < 0 || series[s].panel >= n_panels || !series[s].y)
            return fer_fail(FER_ERR_ARG, "%s: series %d has a bad panel or no values", path, s);

    int th = fer_font_text_height(FER_LABEL_SCALE);
    int title_h = fer_font_text_height(FER_TITLE_SCALE);
    int label_w = fer_font_text_width("0.0e-00", 1);
    int panel_x0 = PAD + label_w + 10;
    int panel_stride = PANEL_W + label_w + 10 + 28;
    /* room for the panel titles and the legends above the plots */
    int legend_h = 0;
    for (int p = 0; p < n_panels; p++) {
        const char *labels[MAX_SERIES];
        int n = 0;
        for (int s = 0; s < n_series; s++)
            if (series[s].panel == p)
                labels[n++] = series[s].label ? series[s].label : "";
        int h = fev_legend_row_height(labels, n, PANEL_W);
        if (h > legend_h)
            legend_h = h;
    }
    int top = PAD + (title ? title_h + 10 : 0) + th + 8 + legend_h + 6;
    int width = panel_x0 + n_panels * panel_stride - (label_w + 10 + 28) + PAD + 8;
    int tw = fer_font_text_width(title ? title : "", FER_TITLE_SCALE) + 2 * PAD;
    if (width < tw)
        width = tw;
    int height = top + PANEL_H + 6 + th + 8 + th + PAD;

    double xmin = INFINITY, xmax = -INFINITY;
    for (int i = 0; i < n_points; i++)
        if (isfinite(x[i])) {
            xmin = fmin(xmin, x[i]);
            xmax = fmax(xmax, x[i]);
        }
    if (!isfinite(xmin))
        return fer_fail(FER_ERR_ARG, "%s: x values are not finite", path);
    if (xmax - xmin < 1e-12) {
        xmin -= 1;
        xmax += 1;
    }
    double x_step = fev_nice_step(xmin, xmax, 8);
    if (x_step < 1 && xmax - xmin >= 1 && floor(xmin) == xmin)
        x_step = 1; /* epochs are integers */
    char x_fmt[16];
    tick_format(x_step, x_fmt);

    fev_canvas *c;
    fer_status st = fev_canvas_new(width, height, FEV_WHITE, &c);
    if (st != FER_OK)
        return st;
    if (title)
        fev_canvas_text(c, title, width / 2, PAD, FER_TITLE_SCALE, FEV_ALIGN_CENTER, FEV_BLACK);

    for (int p = 0; p < n_panels; p++) {
        fev_axes ax = {panel_x0 + p * panel_stride, top, PANEL_W, PANEL_H, xmin, xmax, 0, 0};
        double lo = INFINITY, hi = -INFINITY;
        for (int s = 0; s < n_series; s++) {
            if (series[s].panel != p)
                continue;
            for (int i = 0; i < n_points; i++)
                if (isfinite(series[s].y[i])) {
                    lo = fmin(lo, series[s].y[i]);
                    hi = fmax(hi, series[s].y[i]);
                }
        }
        if (!isfinite(lo)) {
            lo = 0;
            hi = 1;
        }
        fev_nice_range(&lo, &hi, 5);
        ax.ymin = lo;
        ax.ymax = hi;
        double y_step = fev_nice_step(lo, hi, 5);
        char y_fmt[16];
        tick_format_for(lo, hi, y_step, y_fmt);
        if (panel_titles && panel_titles[p])
            fev_canvas_text(c, panel_titles[p], ax.x + ax.w / 2, top - legend_h - 6 - th - 8,
                            1, FEV_ALIGN_CENTER, FEV_BLACK);
        fev_axes_draw(c, &ax, y_step, y_fmt, x_step, x_fmt);
        fev_canvas_text(c, "epoch", ax.x + ax.w / 2, ax.y + ax.h + 6 + th + 8, 1,
                        FEV_ALIGN_CENTER, FEV_AXIS);

        const char *labels[MAX_SERIES];
        fev_rgb cols[MAX_SERIES];
        int dashes[MAX_SERIES];
        int n_leg = 0;
        for (int s = 0; s < n_series; s++) {
            if (series[s].panel != p)
                continue;
            int color = styles ? styles[s].color : 0, dashed = styles ? styles[s].dashed : 0;
            fev_rgb col = fev_palette(color > 0 ? color - 1 : s);
            int dash = dashed ? 6 : 0;
            const double *y = series[s].y;
            for (int i = 0; i + 1 < n_points; i++)
                if (isfinite(y[i]) && isfinite(y[i + 1]) && isfinite(x[i]) && isfinite(x[i + 1]))
                    fev_canvas_line(c, fev_axes_px(&ax, x[i]), fev_axes_py(&ax, y[i]),
                                    fev_axes_px(&ax, x[i + 1]), fev_axes_py(&ax, y[i + 1]), 2,
                                    dash, col);
            if (n_points <= 60)
                for (int i = 0; i < n_points; i++)
                    if (isfinite(y[i]) && isfinite(x[i]))
                        fev_canvas_fill_rect(c, fev_axes_px(&ax, x[i]) - 2,
                                             fev_axes_py(&ax, y[i]) - 2, 5, 5, col);
            labels[n_leg] = series[s].label ? series[s].label : "";
            dashes[n_leg] = dashed;
            cols[n_leg++] = col;
        }
        if (n_leg > 0)
            fev_legend_row(c, ax.x, top - legend_h - 6, PANEL_W, labels, cols, dashes, n_leg);
    }
    st = fev_canvas_write_png(c, path);
    fev_canvas_free(c);
    return st;
}
