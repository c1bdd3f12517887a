/* fer-report curves: training/validation curves from runs' history.jsonl (lines like
 * {"epoch":1,"train/loss":..,"train/acc":..,"val/acc":..,"val/macro_f1":..,"lr":..}).
 * One run: its loss, accuracies, macro-F1 and learning rate. Several runs: one colour per run,
 * macro-F1 solid and accuracy dashed. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "cli_util.h"
#include "evalutil.h"
#include "fer/json_num.h"
#include "fer/figures.h"
#include "report.h"

#define MAX_RUNS 4 /* 4 series each: 16, the figure's limit */
#define MAX_EPOCHS 100000
#define N_KEYS 6
static const char *const KEYS[N_KEYS] = {"train/loss", "val/loss", "train/acc",
                                         "val/acc",    "val/macro_f1", "lr"};

typedef struct history {
    char name[256];
    int n;           /* epochs 1..n (index epoch-1); missing values are NaN */
    double *y[N_KEYS];
} history;

static void history_free(history *h)
{
    for (int k = 0; k < N_KEYS; k++)
        free(h->y[k]);
}

static fer_status grow(history *h, int epochs, const char *path)
{
    if (epochs <= h->n)
        return FER_OK;
    for (int k = 0; k < N_KEYS; k++) {
        double *p = realloc(h->y[k], sizeof(double) * epochs);
        if (!p)
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
        for (int e = h->n; e < epochs; e++)
            p[e] = NAN;
        h->y[k] = p;
    }
    h->n = epochs;
    return FER_OK;
}

/* Later lines win, so a resumed run's re-written epochs replace the old ones. */
static fer_status read_history(const char *run_dir, history *h)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/history.jsonl", run_dir);
    char *text;
    fer_status st = fer_read_text_file(path, (size_t)64 << 20, &text, NULL); /* ~1 kB per epoch */
    if (st != FER_OK)
        return st;
    int line_no = 0;
    for (char *line = text, *next; line && *line && st == FER_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        line_no++;
        if (strspn(line, " \t\r") == strlen(line))
            continue;
        cJSON *o = cJSON_Parse(line);
        char where[4300];
        snprintf(where, sizeof where, "%s:%d", path, line_no);
        long long epoch = 0;
        if (!cJSON_IsObject(o)) {
            st = fer_fail(FER_ERR_FORMAT, "%s: not a JSON object with an integer \"epoch\" "
                          ">= 1", where);
        } else if ((st = fer_json_int(cJSON_GetObjectItemCaseSensitive(o, "epoch"), where,
                                      "epoch", 1, MAX_EPOCHS, &epoch)) == FER_OK &&
                   (st = grow(h, (int)epoch, path)) == FER_OK) {
            int e = (int)epoch - 1;
            for (int k = 0; k < N_KEYS && st == FER_OK; k++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, KEYS[k]);
                if (v && !cJSON_IsNull(v)) /* null: not measured that epoch */
                    st = fer_json_double(v, where, KEYS[k], -DBL_MAX, DBL_MAX, &h->y[k][e]);
            }
        }
        cJSON_Delete(o);
    }
    free(text);
    if (st == FER_OK && h->n == 0)
        st = fer_fail(FER_ERR_FORMAT, "%s: no epochs", path);
    return st;
}

static int has_values(const history *h, int k)
{
    for (int e = 0; e < h->n; e++)
        if (isfinite(h->y[k][e]))
            return 1;
    return 0;
}

int report_curves(int argc, char **argv)
{
    const char *out_dir = NULL, *dirs[MAX_RUNS];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_flag(REPORT_PROG, argc, argv, &i, "out", &v);
        if (r < 0)
            return 2;
        if (r > 0) {
            out_dir = v;
        } else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "%s curves: unknown option '%s'\n", REPORT_PROG, argv[i]);
            return 2;
        } else if (n == MAX_RUNS) {
            fprintf(stderr, "%s curves: at most %d runs on one picture\n", REPORT_PROG,
                    MAX_RUNS);
            return 2;
        } else {
            dirs[n++] = argv[i];
        }
    }
    if (n < 1) {
        fprintf(stderr, "usage: fer-report curves RUN... [--out DIR]\n");
        return 2;
    }
    history h[MAX_RUNS];
    memset(h, 0, sizeof h);
    fer_status st = FER_OK;
    int epochs = 0;
    for (int i = 0; i < n && st == FER_OK; i++) {
        char trimmed[4096];
        snprintf(trimmed, sizeof trimmed, "%s", dirs[i]);
        cli_stem(trimmed, 0, h[i].name, sizeof h[i].name);
        st = read_history(dirs[i], &h[i]);
        if (h[i].n > epochs)
            epochs = h[i].n;
    }
    for (int i = 0; i < n && st == FER_OK; i++)
        st = grow(&h[i], epochs, dirs[i]); /* shared x axis */

    double *x = st == FER_OK ? malloc(sizeof(double) * (epochs > 0 ? epochs : 1)) : NULL;
    fer_curve_series s[4 * MAX_RUNS];
    fer_curve_style sty[4 * MAX_RUNS];
    char labels[4 * MAX_RUNS][300];
    int ns = 0;
    char path[6000], title[1100];
    if (st == FER_OK && !x)
        st = fer_fail(FER_ERR_NOMEM, "out of memory");
    if (st == FER_OK) {
        for (int e = 0; e < epochs; e++)
            x[e] = e + 1;
        const char *panels[3] = {"loss", "accuracy / macro-F1", "learning rate"};
        if (n == 1) {
            const char *lab[N_KEYS] = {"train loss", "val loss", "train acc", "val acc",
                                       "val macro-F1", "learning rate"};
            const int panel[N_KEYS] = {0, 0, 1, 1, 1, 2};
            for (int k = 0; k < N_KEYS; k++) {
                if (!has_values(&h[0], k) && k == 1)
                    continue; /* no val loss in this history */
                s[ns] = (fer_curve_series){lab[k], panel[k], h[0].y[k]};
                sty[ns] = (fer_curve_style){ns + 1, 0};
                ns++;
            }
            snprintf(title, sizeof title, "%s: training curves", h[0].name);
            snprintf(path, sizeof path, "%s/curves.png", out_dir ? out_dir : dirs[0]);
        } else {
            size_t len = 0;
            title[0] = 0;
            for (int i = 0; i < n; i++) {
                snprintf(labels[ns], sizeof labels[ns], "%.200s train loss", h[i].name);
                s[ns] = (fer_curve_series){labels[ns], 0, h[i].y[0]};
                sty[ns] = (fer_curve_style){i + 1, 0};
                ns++;
                snprintf(labels[ns], sizeof labels[ns], "%.200s val macro-F1", h[i].name);
                s[ns] = (fer_curve_series){labels[ns], 1, h[i].y[4]};
                sty[ns] = (fer_curve_style){i + 1, 0};
                ns++;
                snprintf(labels[ns], sizeof labels[ns], "%.200s val acc", h[i].name);
                s[ns] = (fer_curve_series){labels[ns], 1, h[i].y[3]};
                sty[ns] = (fer_curve_style){i + 1, 1};
                ns++;
                snprintf(labels[ns], sizeof labels[ns], "%.200s lr", h[i].name);
                s[ns] = (fer_curve_series){labels[ns], 2, h[i].y[5]};
                sty[ns] = (fer_curve_style){i + 1, 0};
                ns++;
                if (len < sizeof title)
                    len += (size_t)snprintf(title + len, sizeof title - len, "%s%s",
                                            i ? "_vs_" : "", h[i].name);
            }
            panels[0] = "train loss";
            panels[1] = "val macro-F1 (solid), val acc (dashed)";
            if (!out_dir)
                out_dir = ".";
            snprintf(path, sizeof path, "%s/curves_%s.png", out_dir, title);
            for (char *p = title; (p = strstr(p, "_vs_")); p += 4)
                memcpy(p, " vs ", 4);
        }
        if (out_dir)
            st = cli_mkdirs(out_dir);
        if (st == FER_OK)
            st = fer_figure_curves_styled(x, epochs, s, sty, ns, panels, 3, title, path);
    }
    free(x);
    for (int i = 0; i < n; i++)
        history_free(&h[i]);
    if (st != FER_OK)
        return cli_fail(REPORT_PROG, st);
    printf("wrote %s (%d epochs)\n", path, epochs);
    return 0;
}
