/* Figures: rendered PNGs are read back and checked for size and pixel properties (cell colour
 * ordering, value text in every cell with a contrasting colour, bar heights proportional to
 * F1, one colour per run/series), plus error handling. Set FER_TEST_KEEP=DIR to keep the PNGs
 * there for a look. */
#include <string.h>
#include <unistd.h>

#include "fer/status.h"
#include "../common/fer_check.h"
#include "fer/figures.h"
#include "fer/font.h"
#include "png_read.h"

static const char names[7][FER_NAME_LEN] = {"angry", "disgust", "fear",    "happy",
                                            "neutral", "sad",   "surprise"};
static const int cm[7][7] = {{308, 12, 40, 20, 60, 40, 11},  {13, 26, 3, 3, 5, 4, 1},
                             {70, 4, 140, 20, 80, 150, 64},  {20, 1, 10, 756, 40, 20, 32},
                             {40, 2, 20, 40, 450, 60, 14},   {60, 3, 50, 40, 170, 271, 0},
                             {12, 1, 30, 20, 20, 10, 323}};

static void make_metrics(fer_metrics *m, int boost)
{
    fer_metrics_init(m, 7, names);
    unsigned seed = 1;
    for (int t = 0; t < 7; t++)
        for (int p = 0; p < 7; p++)
            for (int k = 0; k < cm[t][p] + (t == p ? boost : 0); k++) {
                float probs[7];
                seed = seed * 1103515245u + 12345u;
                float conf = 0.3f + 0.7f * (float)((seed >> 8) & 0xffff) / 65535.0f;
                for (int i = 0; i < 7; i++)
                    probs[i] = (1.0f - conf) / 6.0f;
                probs[p] = conf;
                fer_metrics_add(m, t, p, probs);
            }
    fer_metrics_finish(m);
}

static char dir[256];

static const char *out_path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static test_image load(const char *name)
{
    test_image im;
    CHECK(test_png_read(out_path(name), &im));
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_path(name));
    CHECK(access(tmp, F_OK) != 0);
    return im;
}

/* Cell background: sampled at the cell's top-left inside corner, away from the value text. */
static const uint8_t *cell_bg(const test_image *im, const fer_confusion_layout *L, int t, int p)
{
    return test_px(im, L->x0 + p * L->cell + 3, L->y0 + t * L->cell + 3);
}

/* Pixels in the cell's centre band that differ from its background (the value text). */
static int cell_text_pixels(const test_image *im, const fer_confusion_layout *L, int t, int p,
                            int want_white)
{
    const uint8_t *bg = cell_bg(im, L, t, p);
    int n = 0, x0 = L->x0 + p * L->cell + 4, y0 = L->y0 + t * L->cell + L->cell / 4;
    for (int y = y0; y < y0 + L->cell / 2; y++)
        for (int x = x0; x < x0 + L->cell - 8; x++) {
            const uint8_t *q = test_px(im, x, y);
            if (memcmp(q, bg, 3) == 0)
                continue;
            n += want_white ? test_is(q, 255, 255, 255) : test_is(q, 0, 0, 0);
        }
    return n;
}

static void test_confusion(const fer_metrics *m)
{
    fer_confusion_layout L;
    fer_figure_confusion_layout(m, "Confusion matrix (test)", &L);
    CHECK(L.cell >= fer_font_text_width("surprise", 1) + 8); /* names fit under the columns */
    for (int normalized = 0; normalized < 2; normalized++) {
        const char *name = normalized ? "cm_norm.png" : "cm.png";
        OK(fer_figure_confusion(m, normalized, "Confusion matrix (test)", out_path(name)));
        test_image im = load(name);
        CHECK(im.w == L.width && im.h == L.height);
        CHECK(im.w >= 7 * L.cell && im.w < 7 * L.cell + 400);
        /* colour ordering: more (or a larger share) is darker, equal values equal colours */
        for (int a = 0; a < 49; a++)
            for (int b = 0; b < 49; b++) {
                int ta = a / 7, pa = a % 7, tb = b / 7, pb = b % 7;
                double va = normalized ? (double)cm[ta][pa] / m->support[ta] : cm[ta][pa];
                double vb = normalized ? (double)cm[tb][pb] / m->support[tb] : cm[tb][pb];
                double la = test_lum(cell_bg(&im, &L, ta, pa));
                double lb = test_lum(cell_bg(&im, &L, tb, pb));
                double vmax = normalized ? 1.0 : 756.0;
                if (va > vb)
                    CHECK(la <= lb);
                if (va > vb + 0.03 * vmax)
                    CHECK(la < lb);
                if (va == vb)
                    CHECK(la == lb);
            }
        /* every cell carries its value; white on the darkest cell, black on the lightest */
        for (int t = 0; t < 7; t++)
            for (int p = 0; p < 7; p++) {
                int white = test_lum(cell_bg(&im, &L, t, p)) < 140;
                CHECK(cell_text_pixels(&im, &L, t, p, white) > 10);
            }
        CHECK(test_lum(cell_bg(&im, &L, 3, 3)) < 100); /* happy/happy, the largest count */
        CHECK(cell_text_pixels(&im, &L, 3, 3, 1) > 10);
        CHECK(cell_text_pixels(&im, &L, 1, 6, 0) > 10);
        /* class names under every column and left of every row; the title on top */
        for (int k = 0; k < 7; k++) {
            CHECK(test_count(&im, L.x0 + k * L.cell, L.y0 + 7 * L.cell + 2, L.cell, 20, 0, 0, 0) >
                  15);
            CHECK(test_count(&im, 0, L.y0 + k * L.cell, L.x0, L.cell, 0, 0, 0) > 15);
        }
        CHECK(test_count(&im, 0, 0, im.w, 40, 0, 0, 0) > 100);
        /* colour scale right of the matrix: dark at the top, light at the bottom */
        int bx = L.x0 + 7 * L.cell + 20 + 9;
        CHECK(test_lum(test_px(&im, bx, L.y0 + 1)) < 80);
        CHECK(test_lum(test_px(&im, bx, L.y0 + 7 * L.cell - 2)) > 230);
        free(im.rgb);
    }
}

/* Contiguous column runs containing colour (r,g,b) in rows y0..: returns the number of runs,
 * their heights (pixels of the colour in the run's middle column) in h. */
static int bar_runs(const test_image *im, int y0, int r, int g, int b, int *h, int max)
{
    int n = 0, x = 0, rows = im->h - y0;
    while (x < im->w) {
        while (x < im->w && test_count(im, x, y0, 1, rows, r, g, b) < 3)
            x++;
        int start = x;
        while (x < im->w && test_count(im, x, y0, 1, rows, r, g, b) >= 3)
            x++;
        if (x > start && n < max) {
            h[n++] = test_count(im, (start + x) / 2, y0, 1, rows, r, g, b);
        }
    }
    return n;
}

/* F1 charts: a 320 px plot area ending 58 px above the bottom edge */
#define PLOT_TOP(im) ((im).h - 58 - 320)

static void test_f1_bars(const fer_metrics *m, const fer_metrics *m2)
{
    OK(fer_figure_per_class_f1(m, "Per-class F1 (test)", out_path("f1.png")));
    test_image im = load("f1.png");
    CHECK(im.w > 7 * 48 && im.w < 1200 && im.h > 320 && im.h < 600);
    int h[16];
    CHECK(bar_runs(&im, PLOT_TOP(im), 0, 114, 178, h, 16) == 7);
    int imax = 0;
    for (int k = 0; k < 7; k++)
        if (m->f1[k] > m->f1[imax])
            imax = k;
    for (int k = 0; k < 7; k++) /* the plot is 320 px for F1 0..1 */
        CHECK_NEAR(h[k], m->f1[k] * 319 + 1, 2.5);
    CHECK(test_count_dark(&im, 0, 0, im.w, 40, 60) > 100); /* title */
    free(im.rgb);

    fer_metrics runs[2] = {*m, *m2};
    const char *run_names[2] = {"E0_match", "E5_balanced"};
    OK(fer_figure_compare_f1(runs, run_names, 2, out_path("cmp_f1.png")));
    im = load("cmp_f1.png");
    int h0[16], h1[16];
    CHECK(bar_runs(&im, PLOT_TOP(im), 0, 114, 178, h0, 16) == 7);
    CHECK(bar_runs(&im, PLOT_TOP(im), 230, 159, 0, h1, 16) == 7);
    CHECK(test_count(&im, 0, 0, im.w, PLOT_TOP(im), 0, 114, 178) > 50); /* legend swatches */
    CHECK(test_count(&im, 0, 0, im.w, PLOT_TOP(im), 230, 159, 0) > 50);
    for (int k = 0; k < 7; k++) {
        CHECK_NEAR(h0[k], m->f1[k] * 319 + 1, 2.5);
        CHECK_NEAR(h1[k], m2->f1[k] * 319 + 1, 2.5);
    }
    free(im.rgb);
}

static void test_compare_confusion(const fer_metrics *m, const fer_metrics *m2)
{
    fer_metrics runs[2] = {*m, *m2};
    const char *run_names[2] = {"E0_match", "E5_balanced"};
    OK(fer_figure_compare_confusion(runs, run_names, 2, out_path("cmp_cm.png")));
    test_image im = load("cmp_cm.png");
    fer_confusion_layout L;
    fer_figure_confusion_layout(m, NULL, &L);
    CHECK(im.w > 2 * 7 * L.cell && im.w < 2 * 7 * L.cell + 600);
    /* run names in their palette colours above the matrices */
    int names_h = L.y0 + fer_font_text_height(2) + 10; /* the run names sit above the matrices */
    CHECK(test_count(&im, 0, 0, im.w / 2, names_h, 0, 114, 178) > 50);
    CHECK(test_count(&im, im.w / 2, 0, im.w / 2, names_h, 230, 159, 0) > 50);
    /* both matrices present: a dark diagonal cell (happy) in each half */
    int dark_left = 0, dark_right = 0;
    for (int y = 0; y < im.h; y++)
        for (int x = 0; x < im.w; x++) {
            const uint8_t *p = test_px(&im, x, y);
            if (test_lum(p) < 95 && p[2] > p[0] + 60) /* dark blue */
                *(x < im.w / 2 ? &dark_left : &dark_right) += 1;
        }
    CHECK(dark_left > 500 && dark_right > 500);
    free(im.rgb);
}

static void test_reliability(const fer_metrics *m)
{
    OK(fer_figure_reliability(m, "Reliability (test)", out_path("reliability.png")));
    test_image im = load("reliability.png");
    CHECK(im.w >= 400 && im.w < 800 && im.h >= 500 && im.h < 900);
    int h[32];
    int bins_used = 0;
    for (int b = 0; b < FER_ECE_BINS; b++)
        bins_used += m->bin_count[b] > 0;
    /* accuracy bars touch each other, so one run plus the legend swatch */
    CHECK(bar_runs(&im, 0, 0, 114, 178, h, 32) >= 1);
    CHECK(test_count(&im, 0, 0, im.w, im.h, 240, 150, 140) > 100); /* gap shading */
    CHECK(bins_used >= 10);
    free(im.rgb);

    fer_metrics no_cal;
    fer_metrics_init(&no_cal, 2, NULL);
    fer_metrics_add(&no_cal, 0, 0, NULL);
    fer_metrics_finish(&no_cal);
    CHECK(fer_figure_reliability(&no_cal, NULL, out_path("x.png")) == FER_ERR_ARG);
}

static void test_curves(void)
{
    double x[30], loss[30], acc[30], vacc[30], f1[30], lr[30];
    for (int i = 0; i < 30; i++) {
        x[i] = i + 1;
        loss[i] = 1.8 * exp(-i / 8.0) + 0.6;
        acc[i] = 0.3 + 0.4 * (1 - exp(-i / 6.0));
        vacc[i] = i == 10 ? NAN : acc[i] - 0.03; /* a gap */
        f1[i] = acc[i] - 0.1;
        lr[i] = 1e-3 * 0.5 * (1 + cos(M_PI * i / 30));
    }
    fer_curve_series s[5] = {{"train/loss", 0, loss},
                             {"train/acc", 1, acc},
                             {"val/acc", 1, vacc},
                             {"val/macro_f1", 1, f1},
                             {"lr", 2, lr}};
    const char *panels[3] = {"loss", "accuracy / macro-F1", "learning rate"};
    OK(fer_figure_curves(x, 30, s, 5, panels, 3, "curves (test)", out_path("curves.png")));
    test_image im = load("curves.png");
    CHECK(im.w > 3 * 380 && im.w < 3 * 380 + 400 && im.h > 260 && im.h < 500);
    const int pal[5][3] = {{0, 114, 178}, {230, 159, 0}, {0, 158, 115}, {204, 121, 167},
                           {213, 94, 0}};
    for (int k = 0; k < 5; k++)
        CHECK(test_count(&im, 0, 0, im.w, im.h, pal[k][0], pal[k][1], pal[k][2]) > 200);
    /* each series in its own panel third */
    CHECK(test_count(&im, 0, 0, im.w / 3, im.h, 0, 114, 178) > 200);
    CHECK(test_count(&im, 2 * im.w / 3, 0, im.w / 3, im.h, 213, 94, 0) > 200);
    free(im.rgb);

    /* one point, and a series of NaN only, still give a picture */
    double one = 1, nan_y = NAN;
    fer_curve_series s1[2] = {{"a", 0, &one}, {"b", 0, &nan_y}};
    OK(fer_figure_curves(&one, 1, s1, 2, NULL, 1, NULL, out_path("curves1.png")));
    CHECK(fer_figure_curves(x, 30, s, 5, panels, 2, NULL, out_path("x.png")) == FER_ERR_ARG);
    CHECK(fer_figure_curves(x, 0, s, 5, panels, 3, NULL, out_path("x.png")) == FER_ERR_ARG);
}

static void test_errors(const fer_metrics *m)
{
    fer_metrics seedfmt = *m;
    seedfmt.has_confusion = 0; /* read from the seed's metrics.json */
    CHECK(fer_figure_confusion(&seedfmt, 0, NULL, out_path("x.png")) == FER_ERR_ARG);
    CHECK(fer_figure_confusion(m, 0, NULL, "/nonexistent-dir/cm.png") == FER_ERR_IO);
    CHECK(strstr(fer_last_error(), "/nonexistent-dir/cm.png"));
    /* empty matrix and a class with no support: no crash, "-" rows, a valid PNG */
    fer_metrics e;
    fer_metrics_init(&e, 3, NULL);
    fer_metrics_add(&e, 0, 1, NULL);
    fer_metrics_finish(&e);
    OK(fer_figure_confusion(&e, 1, "sparse", out_path("sparse.png")));
    OK(fer_figure_per_class_f1(&e, NULL, out_path("sparse_f1.png")));
    test_image im = load("sparse.png");
    free(im.rgb);
}

int main(void)
{
    const char *keep = getenv("FER_TEST_KEEP");
    if (keep && *keep) {
        snprintf(dir, sizeof dir, "%s", keep);
    } else {
        snprintf(dir, sizeof dir, "/tmp/fer_test_figures_XXXXXX");
        CHECK(mkdtemp(dir));
    }
    fer_metrics m, m2;
    make_metrics(&m, 0);
    make_metrics(&m2, 40);
    test_confusion(&m);
    test_f1_bars(&m, &m2);
    test_compare_confusion(&m, &m2);
    test_reliability(&m);
    test_curves();
    test_errors(&m);
    if (!(keep && *keep)) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    printf("figures: all checks passed\n");
    return 0;
}
