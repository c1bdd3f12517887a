/* fer-report compare: per-class F1 bars and row-normalised confusion matrices of several runs
 * side by side, plus a Markdown table of the per-class F1 and the summary numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "evalutil.h"
#include "fer/figures.h"
#include "report.h"

#define MAX_RUNS 8

static void md_table(FILE *f, const report_run *r, int n)
{
    fputs("| metric |", f);
    for (int i = 0; i < n; i++)
        fprintf(f, " %s |", r[i].name);
    if (n == 2)
        fprintf(f, " Δ (%s − %s) |", r[1].name, r[0].name);
    fputs("\n|---|", f);
    for (int i = 0; i < n + (n == 2); i++)
        fputs("---:|", f);
    fputc('\n', f);
    for (int c = 0; c < r[0].m.n_classes; c++) {
        fprintf(f, "| F1 %s |", r[0].m.class_names[c]);
        for (int i = 0; i < n; i++)
            fprintf(f, " %.4f |", r[i].m.f1[c]);
        if (n == 2)
            fprintf(f, " %+.4f |", r[1].m.f1[c] - r[0].m.f1[c]);
        fputc('\n', f);
    }
    const char *labels[3] = {"**accuracy**", "**macro-F1**", "weighted-F1"};
    for (int k = 0; k < 3; k++) {
        fprintf(f, "| %s |", labels[k]);
        double v[MAX_RUNS];
        for (int i = 0; i < n; i++) {
            v[i] = k == 0 ? r[i].m.accuracy : k == 1 ? r[i].m.macro_f1 : r[i].m.weighted_f1;
            fprintf(f, " %.4f |", v[i]);
        }
        if (n == 2)
            fprintf(f, " %+.4f |", v[1] - v[0]);
        fputc('\n', f);
    }
}

int report_compare(int argc, char **argv)
{
    const char *out_dir = ".";
    const char *args[MAX_RUNS];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_flag(REPORT_PROG, argc, argv, &i, "out", &v);
        if (r < 0)
            return 2;
        if (r > 0) {
            out_dir = v;
        } else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "%s compare: unknown option '%s'\n", REPORT_PROG, argv[i]);
            return 2;
        } else if (n == MAX_RUNS) {
            fprintf(stderr, "%s compare: at most %d runs\n", REPORT_PROG, MAX_RUNS);
            return 2;
        } else {
            args[n++] = argv[i];
        }
    }
    if (n < 2) {
        fprintf(stderr, "usage: fer-report compare RUN_A RUN_B... [--out DIR]\n");
        return 2;
    }
    report_run *runs = calloc(n, sizeof *runs);
    if (!runs)
        return cli_fail(REPORT_PROG, fer_fail(FER_ERR_NOMEM, "out of memory"));
    fer_status st = FER_OK;
    for (int i = 0; i < n && st == FER_OK; i++)
        st = report_load_run(args[i], &runs[i]);
    for (int i = 1; i < n && st == FER_OK; i++) {
        int same = runs[i].m.n_classes == runs[0].m.n_classes;
        for (int c = 0; same && c < runs[0].m.n_classes; c++)
            same = !strcmp(runs[i].m.class_names[c], runs[0].m.class_names[c]);
        if (!same)
            st = fer_fail(FER_ERR_FORMAT, "%s: its classes differ from those of %s",
                          runs[i].dir, runs[0].dir);
    }
    if (st == FER_OK)
        st = cli_mkdirs(out_dir);

    char tag[1024] = "", path[6000];
    const char *names[MAX_RUNS];
    fer_metrics ms[MAX_RUNS];
    for (int i = 0; i < n; i++) {
        size_t len = strlen(tag);
        snprintf(tag + len, sizeof tag - len, "%s%s", i ? "_vs_" : "", runs[i].name);
        names[i] = runs[i].name;
        ms[i] = runs[i].m;
    }
    int wrote_confusion = 0;
    if (st == FER_OK) {
        snprintf(path, sizeof path, "%s/per_class_f1_%s.png", out_dir, tag);
        st = fer_figure_compare_f1(ms, names, n, path);
    }
    if (st == FER_OK) {
        int all_cm = 1;
        for (int i = 0; i < n; i++)
            if (!runs[i].m.has_confusion) {
                fprintf(stderr, "%s: %s/metrics.json has no confusion_matrix (seed format?): "
                        "confusion_%s.png not written\n", REPORT_PROG, runs[i].dir, tag);
                all_cm = 0;
            }
        if (all_cm) {
            snprintf(path, sizeof path, "%s/confusion_%s.png", out_dir, tag);
            st = fer_figure_compare_confusion(ms, names, n, path);
            wrote_confusion = st == FER_OK;
        }
    }
    if (st == FER_OK) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        md_table(f, runs, n);
        fclose(f);
        snprintf(path, sizeof path, "%s/compare_%s.md", out_dir, tag);
        st = fer_write_file_atomic(path, buf, len);
        if (st == FER_OK)
            fputs(buf, stdout);
        free(buf);
    }
    free(runs);
    if (st != FER_OK)
        return cli_fail(REPORT_PROG, st);
    printf("\nwrote %s/per_class_f1_%s.png, %s%s%scompare_%s.md\n", out_dir, tag,
           wrote_confusion ? "confusion_" : "", wrote_confusion ? tag : "",
           wrote_confusion ? ".png, " : "", tag);
    return 0;
}
