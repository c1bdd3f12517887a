/* Small helpers shared inside libfereval (not installed): number formatting and a JSON
 * printer that writes the seed's layout (Python json.dump, indent 2). */
#ifndef FER_EVALUTIL_H
#define FER_EVALUTIL_H
#include <stddef.h>
#include <cjson/cJSON.h>
#include "fer/fileio.h" /* atomic output and whole-file reads for every evaluator file */
#include "fer/status.h"

/* Shortest "%.*g" text that reads back to exactly v (like Python's repr); integral values get
 * ".0"; non-finite values give "null" (JSON has no NaN). buf must hold 32 bytes. */
void fev_fmt_double(char buf[32], double v);
/* cJSON raw node holding fev_fmt_double(v): keeps floats looking like floats ("1.0"). */
cJSON *fev_json_float(double v);
/* Pretty text of a cJSON tree, 2-space indent, "key": value; malloc'd, NULL on no memory. */
char *fev_json_print(const cJSON *root);

#endif
