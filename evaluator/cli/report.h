/* fer-report subcommands (seeds, compare, curves) and the run loading they share. */
#ifndef FER_REPORT_H
#define FER_REPORT_H
#include "fer/metrics.h"

#define REPORT_PROG "fer-report"

typedef struct report_run {
    char dir[4096];  /* the run folder */
    char name[256];  /* its last path component */
    fer_metrics m;   /* its metrics.json */
} report_run;

/* A run folder (or its metrics.json) -> report_run. */
fer_status report_load_run(const char *arg, report_run *out);

/* Each returns the process exit code; argv[0] is the subcommand name. */
int report_seeds(int argc, char **argv);
int report_compare(int argc, char **argv);
int report_curves(int argc, char **argv);

#endif
