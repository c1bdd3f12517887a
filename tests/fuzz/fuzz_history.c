/* Fuzz target: fer-report's history.jsonl reader (evaluator/cli/report_curves.c), through
 * `fer-report curves RUN --out DIR` as a user runs it: the history is read and the training
 * curves are drawn. */
#include <stdio.h>

#include "fuzz_common.h"

int fer_report_main(int argc, char **argv); /* fer_report.c's main, renamed for the fuzz build */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char run[512], out[512], path[600];
    snprintf(run, sizeof run, "%s", fuzz_fresh_dir("run"));
    snprintf(out, sizeof out, "%s", fuzz_fresh_dir("curves"));
    snprintf(path, sizeof path, "%s/history.jsonl", run);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fuzz_fail("cannot write %s", path);
    char *argv[] = {"fer-report", "curves", run, "--out", out, NULL};
    (void)fer_report_main(5, argv);
    return 0;
}
