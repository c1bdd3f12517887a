/* Figures rendered in C with libpng and the built-in font (fer/font.h): no Python, no external
 * plotting tool. Every function writes PATH.tmp and renames it into place. */
#ifndef FER_FIGURES_H
#define FER_FIGURES_H
#include "fer/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Confusion matrix with class names on both axes, a colour scale, and the value in every cell:
 * counts (normalized == 0) or row-normalised fractions (normalized == 1). */
fer_status fer_figure_confusion(const fer_metrics *m, int normalized, const char *title,
                                const char *path);
/* Where fer_figure_confusion puts the matrix: canvas size, top-left of cell (0,0), cell side
 * (cell (t,p) spans x0 + p*cell .. x0 + (p+1)*cell - 1). For tests and annotating callers. */
typedef struct fer_confusion_layout {
    int width, height, x0, y0, cell;
} fer_confusion_layout;
void fer_figure_confusion_layout(const fer_metrics *m, const char *title,
                                 fer_confusion_layout *out);
/* Bar chart of per-class F1 (values written above the bars). */
fer_status fer_figure_per_class_f1(const fer_metrics *m, const char *title, const char *path);
/* Reliability diagram from the calibration bins, with the ECE in the title. */
fer_status fer_figure_reliability(const fer_metrics *m, const char *title, const char *path);
/* Grouped per-class F1 bars for several runs (fer-report compare). */
fer_status fer_figure_compare_f1(const fer_metrics *runs, const char *const *run_names,
                                 int n_runs, const char *path);
/* Confusion matrices side by side (row-normalised). */
fer_status fer_figure_compare_confusion(const fer_metrics *runs, const char *const *run_names,
                                        int n_runs, const char *path);

/* Line plots: n_series curves over a shared x axis (epochs), e.g. train/val loss and accuracy.
 * Panels: series with the same panel index share a plot; one PNG. NaN values are gaps. */
typedef struct fer_curve_series {
    const char *label;
    int panel;            /* 0 = loss panel, 1 = accuracy/F1 panel, ... */
    const double *y;      /* n_points values */
} fer_curve_series;
fer_status fer_figure_curves(const double *x, int n_points, const fer_curve_series *series,
                             int n_series, const char *const *panel_titles, int n_panels,
                             const char *title, const char *path);
/* The same with a line style per series (styles: n_series entries, or NULL = defaults),
 * e.g. one colour per run and dashed lines for a second metric (fer-report curves). */
typedef struct fer_curve_style {
    int color;  /* 0: by series index; k > 0: palette colour k-1 */
    int dashed; /* 1: dashed line */
} fer_curve_style;
fer_status fer_figure_curves_styled(const double *x, int n_points,
                                    const fer_curve_series *series,
                                    const fer_curve_style *styles, int n_series,
                                    const char *const *panel_titles, int n_panels,
                                    const char *title, const char *path);

#ifdef __cplusplus
}
#endif
#endif
