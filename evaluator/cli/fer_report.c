/* fer-report: the seed's report helpers, natively: seed summaries (CSV/Markdown/LaTeX),
 * run-vs-run figures and tables, and training curves. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_util.h"
#include "report.h"

static void usage(FILE *f)
{
    fputs("usage:\n"
          "  fer-report seeds RUN_GLOB... [--out DIR]\n"
          "      group runs by name minus a _seedNN suffix; write seed_summary.csv,\n"
          "      seed_summary.md and seed_summary_table.tex (mean and population std)\n"
          "  fer-report compare RUN_A RUN_B... [--out DIR]\n"
          "      per_class_f1_<A>_vs_<B>.png, confusion_<A>_vs_<B>.png and\n"
          "      compare_<A>_vs_<B>.md (the table is printed too)\n"
          "  fer-report curves RUN... [--out DIR]\n"
          "      training/validation curves from history.jsonl on one PNG: RUN/curves.png\n"
          "      for one run, DIR/curves_<A>_vs_<B>.png for several\n"
          "--out defaults to the current directory (curves of one run: the run folder).\n",
          f);
}

fer_status report_load_run(const char *arg, report_run *out)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(arg, &st) != 0)
        return fer_fail(FER_ERR_IO, "%s: no such run folder", arg);
    char path[4200];
    if (S_ISDIR(st.st_mode)) {
        snprintf(out->dir, sizeof out->dir, "%s", arg);
    } else { /* RUN/metrics.json */
        snprintf(out->dir, sizeof out->dir, "%s", arg);
        char *slash = strrchr(out->dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(out->dir, sizeof out->dir, ".");
    }
    size_t len = strlen(out->dir);
    while (len > 1 && out->dir[len - 1] == '/')
        out->dir[--len] = 0;
    cli_stem(out->dir, 0, out->name, sizeof out->name);
    if (!strcmp(out->dir, "."))
        snprintf(out->name, sizeof out->name, "run");
    snprintf(path, sizeof path, "%s/metrics.json", out->dir);
    return fer_metrics_read_json(path, &out->m);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "seeds"))
        return report_seeds(argc - 1, argv + 1);
    if (!strcmp(argv[1], "compare"))
        return report_compare(argc - 1, argv + 1);
    if (!strcmp(argv[1], "curves"))
        return report_curves(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s' (seeds, compare or curves; see --help)\n",
            REPORT_PROG, argv[1]);
    return 2;
}
