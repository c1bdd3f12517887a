/* The checkpoint's "int8" block (checkpoint.c writes and reads it through these):
 * {"version": 1, "nodes": N, "input_range": r, "ranges": [N numbers], "percentile": p,
 *  "images": n}. */
#ifndef FER_QUANT_INTERNAL_H
#define FER_QUANT_INTERNAL_H
#include <cjson/cJSON.h>

#include "fer/quant.h"

/* NULL on allocation failure. */
cJSON *fer_int8_calib_to_json(const fer_int8_calib *c);
/* Parses and checks (fer_int8_calib_check against its own node count) a block read from path;
 * FER_ERR_FORMAT with one line naming path. */
fer_status fer_int8_calib_from_json(const cJSON *j, const char *path, fer_int8_calib *out);
#endif
