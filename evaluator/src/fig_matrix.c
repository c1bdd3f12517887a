/* Confusion-matrix figures: one matrix (counts or row-normalised) and several side by side. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "canvas.h"
#include "fer/figures.h"
#include "fer/font.h"
#include "plot.h"

#define PAD 16

static double cell_value(const fer_metrics *m, int t, int p, int normalized, int *empty_row)
{
    int64_t row = 0;
    for (int k = 0; k < m->n_classes; k++)
        row += m->confusion[t][k];
    *empty_row = row == 0;
    if (!normalized)
        return (double)m->confusion[t][p];
    return row > 0 ? (double)m->confusion[t][p] / (double)row : 0.0;
}

static void format_value(char buf[32], double v, int normalized, int empty_row)
{
    if (normalized && empty_row)
        snprintf(buf, 32, "-");
    else if (normalized)
        snprintf(buf, 32, "%.2f", v);
    else
        snprintf(buf, 32, "%.0f", v);
}

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

/* Text scale for the cell values: 2 when the widest value fits, else 1. */
static int value_scale(const fer_metrics *m, int normalized, int cell)
{
    char buf[32];
    int w = 0;
    for (int t = 0; t < m->n_classes; t++)
        for (int p = 0; p < m->n_classes; p++) {
            int empty = 0;
            format_value(buf, cell_value(m, t, p, normalized, &empty), normalized, empty);
            int tw = fer_font_text_width(buf, 2);
            if (tw > w)
                w = tw;
        }
    return w + 10 <= cell ? 2 : 1;
}

static int cell_size(const fer_metrics *m)
{
    int cell = max_name_width(m) + 12;
    int digits = fer_font_text_width("00000", 2) + 10; /* counts up to 5 digits at scale 2 */
    if (cell < digits)
        cell = digits;
    return cell;
}

static double matrix_max(const fer_metrics *m)
{
    double vmax = 0;
    for (int t = 0; t < m->n_classes; t++)
        for (int p = 0; p < m->n_classes; p++)
            if ((double)m->confusion[t][p] > vmax)
                vmax = (double)m->confusion[t][p];
    return vmax;
}

/* Matrix with its top-left cell at (x0, y0); names on the left when left_names. */
static void draw_matrix(fev_canvas *c, int x0, int y0, int cell, const fer_metrics *m,
                        int normalized, double vmax, int left_names)
{
    int n = m->n_classes, th = fer_font_text_height(FER_LABEL_SCALE);
    int scale = value_scale(m, normalized, cell);
    char buf[32];
    for (int t = 0; t < n; t++) {
        for (int p = 0; p < n; p++) {
            int empty = 0;
            double v = cell_value(m, t, p, normalized, &empty);
            fev_rgb bg = fev_cmap_blues(vmax > 0 ? v / vmax : 0.0);
            int cx = x0 + p * cell, cy = y0 + t * cell;
            fev_canvas_fill_rect(c, cx, cy, cell, cell, bg);
            format_value(buf, v, normalized, empty);
            fev_canvas_text(c, buf, cx + cell / 2, cy + (cell - fer_font_text_height(scale)) / 2,
                            scale, FEV_ALIGN_CENTER, fev_contrast_text(bg));
        }
    }
    /* thin separators keep neighbouring pale cells apart */
    for (int k = 0; k <= n; k++) {
        fev_canvas_fill_rect(c, x0 + k * cell, y0, 1, n * cell, FEV_RGB(210, 215, 225));
        fev_canvas_fill_rect(c, x0, y0 + k * cell, n * cell, 1, FEV_RGB(210, 215, 225));
    }
    fev_canvas_rect(c, x0 - 1, y0 - 1, n * cell + 2, n * cell + 2, FEV_AXIS);
    for (int k = 0; k < n; k++) {
        fev_canvas_text(c, m->class_names[k], x0 + k * cell + cell / 2, y0 + n * cell + 7,
                        FER_LABEL_SCALE, FEV_ALIGN_CENTER, FEV_BLACK);
        if (left_names)
            fev_canvas_text(c, m->class_names[k], x0 - 8, y0 + k * cell + (cell - th) / 2,
                            FER_LABEL_SCALE, FEV_ALIGN_RIGHT, FEV_BLACK);
    }
    fev_canvas_text(c, "Predicted label", x0 + n * cell / 2, y0 + n * cell + 7 + th + 8,
                    FER_LABEL_SCALE, FEV_ALIGN_CENTER, FEV_AXIS);
}

static fer_status check_metrics(const fer_metrics *m, const char *path)
{
    if (!m || m->n_classes < 1 || m->n_classes > FER_MAX_CLASSES)
        return fer_fail(FER_ERR_ARG, "%s: no classes to plot", path);
    if (!m->has_confusion)
        return fer_fail(FER_ERR_ARG, "%s: the metrics have no confusion matrix", path);
    return FER_OK;
}

static void subtitle(const fer_metrics *m, int normalized, char sub[96])
{
    snprintf(sub, 96, normalized ? "rows sum to 1 (recall on the diagonal), n = %lld"
                                 : "counts, n = %lld",
             (long long)m->total);
}

void fer_figure_confusion_layout(const fer_metrics *m, const char *title,
                                 fer_confusion_layout *out)
{
    int n = m->n_classes, cell = cell_size(m);
    int th = fer_font_text_height(FER_LABEL_SCALE);
    int title_h = fer_font_text_height(FER_TITLE_SCALE);
    /* the colour bar's labels: counts up to the largest cell, or 0..1 */
    int label_w = fev_colorbar_label_width(0, matrix_max(m), 6, "%.0f");
    int label_w1 = fev_colorbar_label_width(0, 1, 6, "%.1f");
    out->cell = cell;
    out->x0 = PAD + th + 10 + max_name_width(m) + 10;
    out->y0 = PAD + title_h + 6 + th + 14;
    out->width = out->x0 + n * cell + 20 + 18 + 8 + (label_w > label_w1 ? label_w : label_w1) +
                 PAD;
    char sub[96];
    subtitle(m, 1, sub);
    int title_w = fer_font_text_width(title ? title : "", FER_TITLE_SCALE) + 2 * PAD;
    int sub_w = fer_font_text_width(sub, FER_LABEL_SCALE) + 2 * PAD;
    if (out->width < title_w)
        out->width = title_w;
    if (out->width < sub_w)
        out->width = sub_w;
    out->height = out->y0 + n * cell + 7 + th + 8 + th + PAD;
}

fer_status fer_figure_confusion(const fer_metrics *m, int normalized, const char *title,
                                const char *path)
{
    fer_status st = check_metrics(m, path);
    if (st != FER_OK)
        return st;
    fer_confusion_layout L;
    fer_figure_confusion_layout(m, title, &L);
    int n = m->n_classes, cell = L.cell, left = L.x0, top = L.y0;
    int width = L.width, height = L.height;
    int th = fer_font_text_height(FER_LABEL_SCALE);
    int title_h = fer_font_text_height(FER_TITLE_SCALE);
    double vmax = normalized ? 1.0 : matrix_max(m);
    const char *fmt = normalized ? "%.1f" : "%.0f";
    int bar_x = left + n * cell + 20, bar_w = 18;

    fev_canvas *c;
    if ((st = fev_canvas_new(width, height, FEV_WHITE, &c)) != FER_OK)
        return st;
    if (title)
        fev_canvas_text(c, title, width / 2, PAD, FER_TITLE_SCALE, FEV_ALIGN_CENTER, FEV_BLACK);
    char sub[96];
    subtitle(m, normalized, sub);
    fev_canvas_text(c, sub, width / 2, PAD + title_h + 6, FER_LABEL_SCALE, FEV_ALIGN_CENTER,
                    FEV_AXIS);
    draw_matrix(c, left, top, cell, m, normalized, vmax, 1);
    fev_canvas_text_vertical(c, "True label", PAD + th / 2, top + n * cell / 2, FER_LABEL_SCALE,
                             FEV_AXIS);
    fev_colorbar(c, bar_x, top, bar_w, n * cell, 0.0, vmax, 6, fmt, fev_cmap_blues);
    st = fev_canvas_write_png(c, path);
    fev_canvas_free(c);
    return st;
}

fer_status fer_figure_compare_confusion(const fer_metrics *runs, const char *const *run_names,
                                        int n_runs, const char *path)
{
    if (n_runs < 1)
        return fer_fail(FER_ERR_ARG, "%s: no runs to compare", path);
    fer_status st;
    int cell = 0, name_w = 0;
    for (int r = 0; r < n_runs; r++) {
        if ((st = check_metrics(&runs[r], path)) != FER_OK)
            return st;
        if (runs[r].n_classes != runs[0].n_classes)
            return fer_fail(FER_ERR_ARG, "%s: runs have different class counts (%d vs %d)",
                            path, runs[0].n_classes, runs[r].n_classes);
        if (cell_size(&runs[r]) > cell)
            cell = cell_size(&runs[r]);
        if (max_name_width(&runs[r]) > name_w)
            name_w = max_name_width(&runs[r]);
    }
    int n = runs[0].n_classes, th = fer_font_text_height(FER_LABEL_SCALE);
    int title_h = fer_font_text_height(FER_TITLE_SCALE);
    int run_title_h = fer_font_text_height(FER_TITLE_SCALE);
    int left = PAD + th + 10 + name_w + 10;
    int gap = name_w + 32; /* between matrices: room for the next one's row names */
    int top = PAD + title_h + 6 + th + 14 + run_title_h + 10;
    int mats_w = n_runs * n * cell + (n_runs - 1) * gap;
    int bar_x = left + mats_w + 20, bar_w = 18;
    int width = bar_x + bar_w + 8 + fev_colorbar_label_width(0, 1, 6, "%.1f") + PAD;
    int height = top + n * cell + 7 + th + 8 + th + PAD;

    char title[256];
    size_t len = 0;
    title[0] = 0;
    for (int r = 0; r < n_runs && len < sizeof title; r++)
        len += (size_t)snprintf(title + len, sizeof title - len, "%s%s", r ? " vs " : "",
                                run_names[r]);
    int title_w = fer_font_text_width(title, FER_TITLE_SCALE) + 2 * PAD;
    if (width < title_w)
        width = title_w;

    fev_canvas *c;
    if ((st = fev_canvas_new(width, height, FEV_WHITE, &c)) != FER_OK)
        return st;
    fev_canvas_text(c, title, width / 2, PAD, FER_TITLE_SCALE, FEV_ALIGN_CENTER, FEV_BLACK);
    fev_canvas_text(c, "row-normalised confusion matrices (rows sum to 1)", width / 2,
                    PAD + title_h + 6, FER_LABEL_SCALE, FEV_ALIGN_CENTER, FEV_AXIS);
    for (int r = 0; r < n_runs; r++) {
        int x0 = left + r * (n * cell + gap);
        char label[96];
        snprintf(label, sizeof label, "%s (macro-F1 %.3f)", run_names[r], runs[r].macro_f1);
        int sc = fer_font_text_width(label, FER_TITLE_SCALE) <= n * cell ? FER_TITLE_SCALE : 1;
        fev_canvas_text(c, label, x0 + n * cell / 2, top - run_title_h - 10 +
                        (run_title_h - fer_font_text_height(sc)), sc, FEV_ALIGN_CENTER,
                        fev_palette(r));
        draw_matrix(c, x0, top, cell, &runs[r], 1, 1.0, 1);
    }
    fev_canvas_text_vertical(c, "True label", PAD + th / 2, top + n * cell / 2, FER_LABEL_SCALE,
                             FEV_AXIS);
    fev_colorbar(c, bar_x, top, bar_w, n * cell, 0.0, 1.0, 6, "%.1f", fev_cmap_blues);
    st = fev_canvas_write_png(c, path);
    fev_canvas_free(c);
    return st;
}
