/* fer-report seeds: mean and population std (the seed's statistics.pstdev; 0 for one run)
 * of accuracy, macro-F1 and the F1 of disgust and fear, per experiment = run name minus a
 * _seedNN suffix. CSV and LaTeX follow the seed's summary_seeds.py layout (4 and 3 decimals,
 * lines joined by newlines without a final one); LaTeX escapes '_' so the table compiles. */
#include <ctype.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "evalutil.h"
#include "report.h"

#define N_KEYS 4
static const char *const KEY_NAMES[N_KEYS] = {"accuracy", "macro_f1", "f1_disgust", "f1_fear"};

typedef struct group {
    char name[256];
    int first, count; /* runs[first .. first+count) */
    double mean[N_KEYS], std[N_KEYS];
} group;

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_metrics(const char *dir)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    return stat(path, &st) == 0;
}

/* Experiment name: the run name without a trailing _seed<digits>. */
static void group_name(const char *run, char *out, size_t cap)
{
    snprintf(out, cap, "%s", run);
    char *s = strstr(out, "_seed");
    while (s) {
        char *d = s + 5;
        while (isdigit((unsigned char)*d))
            d++;
        if (d > s + 5 && *d == 0) {
            *s = 0;
            return;
        }
        s = strstr(s + 1, "_seed");
    }
}

static double metric_value(const report_run *r, int key)
{
    if (key == 0)
        return r->m.accuracy;
    if (key == 1)
        return r->m.macro_f1;
    const char *cls = KEY_NAMES[key] + 3;
    for (int c = 0; c < r->m.n_classes; c++)
        if (!strcmp(r->m.class_names[c], cls))
            return r->m.f1[c];
    fprintf(stderr, "%s: %s: no class '%s'; its F1 counts as 0 (as the seed's script did)\n",
            REPORT_PROG, r->dir, cls);
    return 0.0;
}

static int cmp_runs(const void *a, const void *b)
{
    const report_run *x = a, *y = b;
    char gx[256], gy[256];
    group_name(x->name, gx, sizeof gx);
    group_name(y->name, gy, sizeof gy);
    int c = strcmp(gx, gy);
    if (c)
        return c;
    c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->dir, y->dir);
}

/* Expands the arguments into run folders (deduplicated). */
static fer_status collect_runs(char **patterns, int n_patterns, report_run **runs_out, int *n_out)
{
    report_run *runs = NULL;
    int n = 0, cap = 0;
    fer_status st = FER_OK;
    for (int p = 0; p < n_patterns && st == FER_OK; p++) {
        glob_t g;
        int explicit = !strpbrk(patterns[p], "*?[");
        int rc = glob(patterns[p], GLOB_NOCHECK | GLOB_MARK, NULL, &g);
        if (rc != 0) {
            st = fer_fail(FER_ERR_NOMEM, "%s: cannot expand the pattern", patterns[p]);
            break;
        }
        int matched = 0;
        for (size_t k = 0; k < g.gl_pathc && st == FER_OK; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s", g.gl_pathv[k]);
            size_t len = strlen(path);
            while (len > 1 && path[len - 1] == '/') /* GLOB_MARK's slash */
                path[--len] = 0;
            if (!is_dir(path))
                continue;
            if (!has_metrics(path)) {
                if (explicit)
                    st = fer_fail(FER_ERR_IO, "%s: no metrics.json in this run folder", path);
                else
                    fprintf(stderr, "%s: %s: no metrics.json, skipped\n", REPORT_PROG, path);
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                report_run *nr = realloc(runs, sizeof *runs * cap);
                if (!nr) {
                    st = fer_fail(FER_ERR_NOMEM, "out of memory");
                    break;
                }
                runs = nr;
            }
            if ((st = report_load_run(path, &runs[n])) != FER_OK)
                break;
            int dup = 0;
            for (int j = 0; j < n; j++)
                dup |= !strcmp(runs[j].dir, runs[n].dir);
            n += !dup;
            matched++;
        }
        if (st == FER_OK && !matched)
            st = fer_fail(FER_ERR_IO, "%s: no run folders with a metrics.json match",
                          patterns[p]);
        globfree(&g);
    }
    if (st != FER_OK) {
        free(runs);
        return st;
    }
    qsort(runs, n, sizeof *runs, cmp_runs);
    *runs_out = runs;
    *n_out = n;
    return FER_OK;
}

static fer_status summarize(const report_run *runs, group *g)
{
    double *v = malloc(sizeof(double) * g->count);
    if (!v)
        return fer_fail(FER_ERR_NOMEM, "out of memory");
    for (int k = 0; k < N_KEYS; k++) {
        double sum = 0.0, ss = 0.0;
        for (int i = 0; i < g->count; i++)
            sum += (v[i] = metric_value(&runs[g->first + i], k));
        double mean = sum / g->count;
        for (int i = 0; i < g->count; i++)
            ss += (v[i] - mean) * (v[i] - mean);
        g->mean[k] = g->count == 1 ? v[0] : mean;
        g->std[k] = g->count == 1 ? 0.0 : sqrt(ss / g->count); /* population std */
    }
    free(v);
    return FER_OK;
}

static void latex_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (strchr("_&%$#{}", *s))
            fputc('\\', f);
        fputc(*s, f);
    }
}

static fer_status write_outputs(const char *out_dir, const report_run *runs, const group *g,
                                int n_groups)
{
    char path[4200], *buf = NULL;
    size_t len = 0;
    fer_status st;

    /* seed_summary.csv */
    FILE *f = open_memstream(&buf, &len);
    fputs("run", f);
    for (int k = 0; k < N_KEYS; k++)
        fprintf(f, ",%s_mean,%s_std", KEY_NAMES[k], KEY_NAMES[k]);
    for (int i = 0; i < n_groups; i++) {
        fprintf(f, "\n%s", g[i].name);
        for (int k = 0; k < N_KEYS; k++)
            fprintf(f, ",%.4f,%.4f", g[i].mean[k], g[i].std[k]);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/seed_summary.csv", out_dir);
    st = fer_write_file_atomic(path, buf, len);
    free(buf);
    if (st != FER_OK)
        return st;

    /* seed_summary_table.tex */
    f = open_memstream(&buf, &len);
    fputs("\\begin{tabular}{lcccc}\n\\hline\n"
          "Run & Acc (mean$\\pm$std) & Macro-F1 & F1 (disgust) & F1 (fear) \\\\\n\\hline\n", f);
    for (int i = 0; i < n_groups; i++) {
        latex_escape(f, g[i].name);
        for (int k = 0; k < N_KEYS; k++)
            fprintf(f, " & %.3f$\\pm$%.3f", g[i].mean[k], g[i].std[k]);
        fputs(" \\\\\n", f);
    }
    fputs("\\hline\n\\end{tabular}", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/seed_summary_table.tex", out_dir);
    st = fer_write_file_atomic(path, buf, len);
    free(buf);
    if (st != FER_OK)
        return st;

    /* seed_summary.md */
    f = open_memstream(&buf, &len);
    fputs("| run | runs | accuracy | macro-F1 | F1 (disgust) | F1 (fear) |\n"
          "|---|---:|---:|---:|---:|---:|\n", f);
    for (int i = 0; i < n_groups; i++) {
        fprintf(f, "| %s | %d", g[i].name, g[i].count);
        for (int k = 0; k < N_KEYS; k++)
            fprintf(f, " | %.4f ± %.4f", g[i].mean[k], g[i].std[k]);
        fputs(" |\n", f);
    }
    fputs("\nMean ± population standard deviation over the runs of each experiment "
          "(runs named `<experiment>_seedNN`).\n\n", f);
    for (int i = 0; i < n_groups; i++) {
        fprintf(f, "- %s:", g[i].name);
        for (int r = 0; r < g[i].count; r++)
            fprintf(f, "%s %s", r ? "," : "", runs[g[i].first + r].name);
        fputc('\n', f);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/seed_summary.md", out_dir);
    st = fer_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}

int report_seeds(int argc, char **argv)
{
    const char *out_dir = ".";
    char **patterns = calloc(argc > 0 ? argc : 1, sizeof *patterns);
    int n_patterns = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = cli_flag(REPORT_PROG, argc, argv, &i, "out", &v);
        if (r < 0) {
            free(patterns);
            return 2;
        }
        if (r > 0)
            out_dir = v;
        else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "%s seeds: unknown option '%s'\n", REPORT_PROG, argv[i]);
            free(patterns);
            return 2;
        } else
            patterns[n_patterns++] = argv[i];
    }
    if (!n_patterns) {
        fprintf(stderr, "usage: fer-report seeds RUN_GLOB... [--out DIR]\n");
        free(patterns);
        return 2;
    }
    report_run *runs = NULL;
    int n = 0, rc = 0;
    group *groups = NULL;
    fer_status st = collect_runs(patterns, n_patterns, &runs, &n);
    if (st == FER_OK && !(groups = calloc(n, sizeof *groups)))
        st = fer_fail(FER_ERR_NOMEM, "out of memory");
    int n_groups = 0;
    for (int i = 0; st == FER_OK && i < n; i++) {
        char name[256];
        group_name(runs[i].name, name, sizeof name);
        if (n_groups == 0 || strcmp(groups[n_groups - 1].name, name)) {
            snprintf(groups[n_groups].name, sizeof groups[n_groups].name, "%s", name);
            groups[n_groups].first = i;
            n_groups++;
        }
        groups[n_groups - 1].count++;
    }
    for (int i = 0; st == FER_OK && i < n_groups; i++)
        st = summarize(runs, &groups[i]);
    if (st == FER_OK)
        st = cli_mkdirs(out_dir);
    if (st == FER_OK)
        st = write_outputs(out_dir, runs, groups, n_groups);
    if (st == FER_OK) {
        printf("%-32s %5s  %-17s %-17s %-17s %-17s\n", "experiment", "runs", "accuracy",
               "macro-F1", "F1 disgust", "F1 fear");
        for (int i = 0; i < n_groups; i++) {
            printf("%-32s %5d ", groups[i].name, groups[i].count);
            for (int k = 0; k < N_KEYS; k++)
                printf(" %.4f ± %.4f  ", groups[i].mean[k], groups[i].std[k]);
            printf("\n");
        }
        printf("wrote %s/seed_summary.csv, seed_summary.md, seed_summary_table.tex\n", out_dir);
    } else {
        rc = cli_fail(REPORT_PROG, st);
    }
    free(groups);
    free(runs);
    free(patterns);
    return rc;
}
