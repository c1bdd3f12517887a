/* Bar figures: per-class F1, per-class F1 of several runs, and the reliability diagram. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "canvas.h"
#include "fer/figures.h"
#include "fer/font.h"
#include "plot.h"

#define PAD 16

static int max_name_width(const fer_metrics *m)
{
    int w = 0;
    for (int i = 0; i < m->n_classes; i++) {
        int tw = fer_font_text_width(m->class_names[i], FER_LABEL_SCALE);
        if (tw > w)
            w = tw;
    }
    return w;
}

/* Shared frame of an F1 chart: title, y axis 0..1, class names under the groups. */
typedef struct f1_layout {
    fev_axes ax;
    int group_w, width, height;
} f1_layout;

static void f1_layout_make(const fer_metrics *m, int bars_per_group, int bar_w, int legend_h,
                           const char *title, f1_layout *L)
{
    int th = fer_font_text_height(FER_LABEL_SCALE);
    int title_h = fer_font_text_height(FER_TITLE_SCALE);
    int group_w = bars_per_group * bar_w + 24;
    if (group_w < max_name_width(m) + 10)
        group_w = max_name_width(m) + 10;
    if (group_w * m->n_classes < 480) /* few classes: keep a readable plot width */
        group_w = (480 + m->n_classes - 1) / m->n_classes;
    L->group_w = group_w;
    L->ax.x = PAD + th + 12 + fer_font_text_width("0.0", FER_LABEL_SCALE) + 10;
    L->ax.y = PAD + title_h + 12 + legend_h;
    L->ax.w = m->n_classes * group_w;
    L->ax.h = 320;
    L->ax.xmin = 0;
    L->ax.xmax = m->n_classes;
    L->ax.ymin = 0;
    L->ax.ymax = 1;
    L->width = L->ax.x + L->ax.w + PAD + 8;
    int title_w = fer_font_text_width(title ? title : "", FER_TITLE_SCALE) + 2 * PAD;
    if (L->width < title_w)
        L->width = title_w;
    L->height = L->ax.y + L->ax.h + 8 + th + 8 + th + PAD;
}

static void f1_frame(fev_canvas *c, const fer_metrics *m, const f1_layout *L, const char *title)
{
    int th = fer_font_text_height(FER_LABEL_SCALE);
    if (title)
        fev_canvas_text(c, title, L->width / 2, PAD, FER_TITLE_SCALE, FEV_ALIGN_CENTER,
                        FEV_BLACK);
    fev_axes_draw(c, &L->ax, 0.1, "%.1f", 0, NULL);
    for (int k = 0; k < m->n_classes; k++)
        fev_canvas_text(c, m->class_names[k], L->ax.x + k * L->group_w + L->group_w / 2,
                        L->ax.y + L->ax.h + 8, FER_LABEL_SCALE, FEV_ALIGN_CENTER, FEV_BLACK);
    fev_canvas_text_vertical(c, "F1", PAD + th / 2, L->ax.y + L->ax.h / 2, FER_LABEL_SCALE,
                             FEV_AXIS);
    fev_canvas_text(c, "class", L->ax.x + L->ax.w / 2, L->ax.y + L->ax.h + 8 + th + 8,
                    FER_LABEL_SCALE, FEV_ALIGN_CENTER, FEV_AXIS);
}

static double clamp01(double v) { return !(v >= 0) ? 0 : v > 1 ? 1 : v; }

static void bar(fev_canvas *c, const fev_axes *ax, int x, int w, double v, fev_rgb col,
                int label)
{
    int top = fev_axes_py(ax, clamp01(v)), base = fev_axes_py(ax, 0);
    fev_canvas_fill_rect(c, x, top, w, base - top + 1, col);
    if (label) {
        char buf[16];
        snprintf(buf, sizeof buf, "%.2f", v);
        fev_canvas_text(c, buf, x + w / 2, top - fer_font_text_height(1) - 1, 1,
                        FEV_ALIGN_CENTER, FEV_BLACK);
    }
}

fer_status fer_figure_per_class_f1(const fer_metrics *m, const char *title, const char *path)
{
    if (!m || m->n_classes < 1)
        return fer_fail(FER_ERR_ARG, "%s: no classes to plot", path);
    f1_layout L;
    int bar_w = 48, th = fer_font_text_height(FER_LABEL_SCALE);
    char sub[160];
    snprintf(sub, sizeof sub, "accuracy %.3f   macro-F1 %.3f (dashed line)   weighted-F1 %.3f"
             "   n = %lld", m->accuracy, m->macro_f1, m->weighted_f1, (long long)m->total);
    f1_layout_make(m, 1, bar_w, th + 12, title, &L);
    if (L.width < fer_font_text_width(sub, 1) + 2 * PAD) {
        int grow = fer_font_text_width(sub, 1) + 2 * PAD - L.width;
        L.width += grow;
        L.ax.x += grow / 2;
    }
    fev_canvas *c;
    fer_status st = fev_canvas_new(L.width, L.height, FEV_WHITE, &c);
    if (st != FER_OK)
        return st;
    f1_frame(c, m, &L, title);
    fev_canvas_text(c, sub, L.width / 2, L.ax.y - th - 12, 1, FEV_ALIGN_CENTER, FEV_AXIS);
    for (int k = 0; k < m->n_classes; k++)
        bar(c, &L.ax, L.ax.x + k * L.group_w + (L.group_w - bar_w) / 2, bar_w, m->f1[k],
            fev_palette(0), 1);
    /* macro-F1 as a dashed reference line */
    int py = fev_axes_py(&L.ax, clamp01(m->macro_f1));
    fev_canvas_line(c, L.ax.x, py, L.ax.x + L.ax.w - 1, py, 1, 6, fev_palette(4));
    st = fev_canvas_write_png(c, path);
    fev_canvas_free(c);
    return st;
}

fer_status fer_figure_compare_f1(const fer_metrics *runs, const char *const *run_names,
                                 int n_runs, const char *path)
{
    if (n_runs < 1 || n_runs > 8)
        return fer_fail(FER_ERR_ARG, "%s: compare needs 1..8 runs (got %d)", path, n_runs);
    for (int r = 0; r < n_runs; r++)
        if (runs[r].n_classes != runs[0].n_classes || runs[r].n_classes < 1)
            return fer_fail(FER_ERR_ARG, "%s: runs have different class counts", path);
    char title[256];
    size_t len = (size_t)snprintf(title, sizeof title, "Per-class F1: ");
    for (int r = 0; r < n_runs && len < sizeof title; r++)
        len += (size_t)snprintf(title + len, sizeof title - len, "%s%s", r ? " vs " : "",
                                run_names[r]);
    int bar_w = n_runs <= 3 ? 34 : 20;
    int th = fer_font_text_height(FER_LABEL_SCALE);
    int legend_h = n_runs * (th + 4) + 8 + 6;
    f1_layout L;
    f1_layout_make(&runs[0], n_runs, bar_w, legend_h, title, &L);
    fev_canvas *c;
    fer_status st = fev_canvas_new(L.width, L.height, FEV_WHITE, &c);
    if (st != FER_OK)
        return st;
    f1_frame(c, &runs[0], &L, title);
    int label = bar_w >= fer_font_text_width("0.00", 1) + 2;
    for (int k = 0; k < runs[0].n_classes; k++) {
        int gx = L.ax.x + k * L.group_w + (L.group_w - n_runs * bar_w) / 2;
        for (int r = 0; r < n_runs; r++)
            bar(c, &L.ax, gx + r * bar_w, bar_w - 2, runs[r].f1[k], fev_palette(r), label);
    }
    const char *labels[8];
    char lbuf[8][96];
    fev_rgb cols[8];
    for (int r = 0; r < n_runs; r++) {
        snprintf(lbuf[r], sizeof lbuf[r], "%s (macro-F1 %.3f)", run_names[r], runs[r].macro_f1);
        labels[r] = lbuf[r];
        cols[r] = fev_palette(r);
    }
    fev_legend(c, L.ax.x + L.ax.w, L.ax.y - legend_h, labels, cols, n_runs);
    st = fev_canvas_write_png(c, path);
    fev_canvas_free(c);
    return st;
}

fer_status fer_figure_reliability(const fer_metrics *m, const char *title, const char *path)
{
    if (!m || !m->has_calibration)
        return fer_fail(FER_ERR_ARG, "%s: the metrics have no calibration bins", path);
    int th = fer_font_text_height(FER_LABEL_SCALE);
    int title_h = fer_font_text_height(FER_TITLE_SCALE);
    char full_title[160];
    snprintf(full_title, sizeof full_title, "%s%sECE = %.4f", title ? title : "",
             title ? ", " : "", m->ece);
    const char *labels[] = {"accuracy in bin", "mean confidence in bin",
                            "gap (hatched where under-confident)",
                            "perfect calibration (dashed)"};
    fev_rgb acc_col = fev_palette(0), conf_col = FEV_RGB(180, 40, 30);
    fev_rgb gap_col = FEV_RGB(240, 150, 140), diag_col = FEV_RGB(90, 90, 90);
    fev_rgb cols[] = {acc_col, conf_col, gap_col, diag_col};
    int legend_w = 400; /* the plot width */
    int legend_h = fev_legend_row_height(labels, 4, legend_w);
    fev_axes ax = {0};
    ax.x = PAD + th + 12 + fer_font_text_width("0.0", 1) + 10;
    ax.y = PAD + title_h + 6 + th + 10 + legend_h + 8;
    ax.w = ax.h = legend_w;
    ax.xmin = ax.ymin = 0;
    ax.xmax = ax.ymax = 1;
    fev_axes hist = ax; /* sample share per bin, under the main panel */
    hist.y = ax.y + ax.h + 12;
    hist.h = 90;
    int64_t total = 0;
    double share_max = 0;
    for (int b = 0; b < FER_ECE_BINS; b++)
        total += m->bin_count[b];
    for (int b = 0; b < FER_ECE_BINS; b++)
        if (total > 0 && (double)m->bin_count[b] / total > share_max)
            share_max = (double)m->bin_count[b] / total;
    hist.ymax = share_max > 0 ? share_max : 1;
    fev_nice_range(&hist.ymin, &hist.ymax, 2);
    int width = ax.x + ax.w + PAD + 12;
    int tw = fer_font_text_width(full_title, FER_TITLE_SCALE) + 2 * PAD;
    if (width < tw)
        width = tw;
    int height = hist.y + hist.h + 8 + th + 8 + th + PAD;

    fev_canvas *c;
    fer_status st = fev_canvas_new(width, height, FEV_WHITE, &c);
    if (st != FER_OK)
        return st;
    fev_canvas_text(c, full_title, width / 2, PAD, FER_TITLE_SCALE, FEV_ALIGN_CENTER, FEV_BLACK);
    char sub[96];
    snprintf(sub, sizeof sub, "%d equal-width confidence bins, n = %lld", FER_ECE_BINS,
             (long long)total);
    fev_canvas_text(c, sub, width / 2, PAD + title_h + 6, 1, FEV_ALIGN_CENTER, FEV_AXIS);
    fev_legend_row(c, ax.x, ax.y - legend_h - 8, legend_w, labels, cols, NULL, 4);
    fev_axes_draw(c, &ax, 0.2, "%.1f", 0, NULL);
    for (int b = 0; b < FER_ECE_BINS; b++) {
        if (m->bin_count[b] == 0)
            continue;
        int x0 = fev_axes_px(&ax, (double)b / FER_ECE_BINS);
        int x1 = fev_axes_px(&ax, (double)(b + 1) / FER_ECE_BINS);
        int base = fev_axes_py(&ax, 0);
        int ya = fev_axes_py(&ax, clamp01(m->bin_accuracy[b]));
        int yc = fev_axes_py(&ax, clamp01(m->bin_confidence[b]));
        fev_canvas_fill_rect(c, x0 + 1, ya, x1 - x0 - 1, base - ya + 1, acc_col);
        /* the gap between accuracy and mean confidence: solid above an overconfident bar,
         * hatched inside an underconfident one */
        if (yc < ya)
            fev_canvas_fill_rect(c, x0 + 1, yc, x1 - x0 - 1, ya - yc, gap_col);
        for (int y = ya; y < yc; y++)
            for (int x = x0 + 1; x < x1; x++)
                if ((x + y) % 5 < 2)
                    fev_canvas_set(c, x, y, gap_col);
        fev_canvas_fill_rect(c, x0 + 1, yc - 1, x1 - x0 - 1, 2, conf_col);
    }
    fev_canvas_line(c, fev_axes_px(&ax, 0), fev_axes_py(&ax, 0), fev_axes_px(&ax, 1),
                    fev_axes_py(&ax, 1), 1, 5, diag_col);
    fev_canvas_text_vertical(c, "accuracy", PAD + th / 2, ax.y + ax.h / 2, 1, FEV_AXIS);

    fev_axes_draw(c, &hist, hist.ymax / 2, "%g", 0.2, "%.1f");
    for (int b = 0; b < FER_ECE_BINS; b++) {
        if (m->bin_count[b] == 0 || total == 0)
            continue;
        int x0 = fev_axes_px(&hist, (double)b / FER_ECE_BINS);
        int x1 = fev_axes_px(&hist, (double)(b + 1) / FER_ECE_BINS);
        int top = fev_axes_py(&hist, (double)m->bin_count[b] / total);
        int base = fev_axes_py(&hist, 0);
        fev_canvas_fill_rect(c, x0 + 1, top, x1 - x0 - 1, base - top + 1, FEV_RGB(150, 150, 150));
    }
    fev_canvas_text_vertical(c, "share", PAD + th / 2, hist.y + hist.h / 2, 1, FEV_AXIS);
    fev_canvas_text(c, "confidence (probability of the predicted class)", ax.x + ax.w / 2,
                    hist.y + hist.h + 8 + th + 8, 1, FEV_ALIGN_CENTER, FEV_AXIS);
    st = fev_canvas_write_png(c, path);
    fev_canvas_free(c);
    return st;
}
