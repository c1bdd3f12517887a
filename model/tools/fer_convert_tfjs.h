/* The TF.js graph-model converter behind fer-convert-tfjs (fer_convert_tfjs.c has the ops it
 * reads and the output layout), as a function so the fuzz target (tests/fuzz/fuzz_tfjs.c) runs
 * exactly what the tool runs. */
#ifndef FER_CONVERT_TFJS_H
#define FER_CONVERT_TFJS_H
#include <stdio.h>

#include "fer/status.h"

/* Converts the model.json at json_path (its weight shards are read from the same folder) into
 * the .fer graph out_path, written to a temporary file and renamed. On success prints one
 * summary line to summary (NULL: none). On failure nothing is written and fer_last_error() holds
 * one line naming the file and the problem. */
fer_status fer_convert_tfjs_file(const char *json_path, const char *out_path, FILE *summary);
#endif
