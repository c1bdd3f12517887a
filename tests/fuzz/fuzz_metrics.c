/* Fuzz target: fer-report's metrics.json reader (evaluator/src/metrics.c,
 * fer_metrics_read_json), then what `fer-report compare RUN_A RUN_B` does with two runs holding
 * that file: the per-class table, the comparison figures and the Markdown table, then
 * `fer-report seeds` over the two runs (summary CSV, Markdown, LaTeX). */
#include <stdio.h>
#include <stdlib.h>

#include "fer/metrics.h"
#include "fuzz_common.h"

int fer_report_main(int argc, char **argv); /* fer_report.c's main, renamed for the fuzz build */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("metrics.json", data, size);
    fer_metrics m;
    if (fer_metrics_read_json(path, &m) != FER_OK)
        return 0;
    if (m.n_classes < 1 || m.n_classes > FER_MAX_CLASSES)
        fuzz_fail("metrics.json read with %d classes", m.n_classes);
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull) {
        fer_metrics_print_table(&m, devnull);
        fclose(devnull);
    }
    /* two runs with the same file: fer-report compare renders figures from the values */
    char a[512], b[512], out[512];
    snprintf(a, sizeof a, "%s", fuzz_fresh_dir("runA"));
    snprintf(b, sizeof b, "%s", fuzz_fresh_dir("runB"));
    snprintf(out, sizeof out, "%s", fuzz_fresh_dir("report"));
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/metrics.json", a);
    snprintf(pb, sizeof pb, "%s/metrics.json", b);
    FILE *f1 = fopen(pa, "wb"), *f2 = fopen(pb, "wb");
    if (!f1 || !f2 || fwrite(data, 1, size, f1) != size || fwrite(data, 1, size, f2) != size)
        fuzz_fail("cannot write the run folders");
    fclose(f1);
    fclose(f2);
    char *compare[] = {"fer-report", "compare", a, b, "--out", out, NULL};
    (void)fer_report_main(6, compare);
    /* and `fer-report seeds`: the two runs as seeds of one experiment (mean, std, tables) */
    char *seeds[] = {"fer-report", "seeds", a, b, "--out", out, NULL};
    (void)fer_report_main(6, seeds);
    return 0;
}
