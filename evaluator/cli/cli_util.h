/* Small command-line helpers shared by fer-eval and fer-report. */
#ifndef FER_CLI_UTIL_H
#define FER_CLI_UTIL_H
#include <stddef.h>
#include "fer/status.h"

/* Matches argv[*i] against --name (also --name with '-' for '_' and --name=VALUE). For a
 * valued flag (value != NULL) takes the next argument or the =VALUE part and advances *i.
 * Returns 1 when matched, 0 when not, -1 when the value is missing (message printed). */
int cli_flag(const char *prog, int argc, char **argv, int *i, const char *name,
             const char **value);
/* Parses an int/float flag value; prints "prog: --flag: bad value" and returns 0 on error. */
int cli_int(const char *prog, const char *flag, const char *text, int min, int max, int *out);
int cli_float(const char *prog, const char *flag, const char *text, float *out);
/* mkdir -p */
fer_status cli_mkdirs(const char *path);
/* Last path component without a trailing '/' and, when strip_ext, without its extension. */
void cli_stem(const char *path, int strip_ext, char *out, size_t cap);
/* Prints "prog: <last error>" to stderr and returns 1 (the exit code). */
int cli_fail(const char *prog, fer_status st);
#endif
