/* Numbers read from JSON that a user handed us (architectures, checkpoint headers, trainer state,
 * configs, metrics files): cJSON stores every number as a double, and converting an absurd one
 * (1e300, inf, -1 where a count belongs) to an integer type is undefined behaviour or a silently
 * wrong size. These helpers check the value is finite, integral where an integer is wanted and
 * within [lo, hi] before converting, and leave "ORIGIN: "KEY" must be ..." on failure. */
#ifndef FER_JSON_NUM_H
#define FER_JSON_NUM_H

#include <cjson/cJSON.h>

#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An integer in [lo, hi] (|lo|, |hi| <= 2^53, exactly representable). item NULL: FER_ERR_FORMAT
 * "ORIGIN: missing "KEY"". KEY only names the value in the message. */
fer_status fer_json_int(const cJSON *item, const char *origin, const char *key, long long lo,
                        long long hi, long long *out);

/* Like fer_json_int, but a missing item gives *out = def and FER_OK. */
fer_status fer_json_int_opt(const cJSON *item, const char *origin, const char *key, long long lo,
                            long long hi, long long def, long long *out);

/* A finite number in [lo, hi]. */
fer_status fer_json_double(const cJSON *item, const char *origin, const char *key, double lo,
                           double hi, double *out);

#ifdef __cplusplus
}
#endif
#endif
