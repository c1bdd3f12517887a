/* Range-checked numbers from JSON (see fer/json_num.h). */
#include "fer/json_num.h"

#include <math.h>

fer_status fer_json_double(const cJSON *item, const char *origin, const char *key, double lo,
                           double hi, double *out)
{
    if (!item)
        return fer_fail(FER_ERR_FORMAT, "%s: missing \"%s\"", origin, key);
    if (!cJSON_IsNumber(item))
        return fer_fail(FER_ERR_FORMAT, "%s: \"%s\" must be a number", origin, key);
    double v = item->valuedouble;
    if (!isfinite(v) || v < lo || v > hi)
        return fer_fail(FER_ERR_FORMAT, "%s: \"%s\" = %g is out of range [%g, %g]", origin, key,
                        v, lo, hi);
    *out = v;
    return FER_OK;
}

fer_status fer_json_int(const cJSON *item, const char *origin, const char *key, long long lo,
                        long long hi, long long *out)
{
    if (!item)
        return fer_fail(FER_ERR_FORMAT, "%s: missing \"%s\"", origin, key);
    if (!cJSON_IsNumber(item))
        return fer_fail(FER_ERR_FORMAT, "%s: \"%s\" must be an integer", origin, key);
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v))
        return fer_fail(FER_ERR_FORMAT, "%s: \"%s\" must be an integer", origin, key);
    /* compared as doubles: lo and hi are exact, so no conversion of v happens out of range */
    if (v < (double)lo || v > (double)hi)
        return fer_fail(FER_ERR_FORMAT, "%s: \"%s\" = %.17g is out of range [%lld, %lld]", origin,
                        key, v, lo, hi);
    *out = (long long)v;
    return FER_OK;
}

fer_status fer_json_int_opt(const cJSON *item, const char *origin, const char *key, long long lo,
                            long long hi, long long def, long long *out)
{
    if (!item) {
        *out = def;
        return FER_OK;
    }
    return fer_json_int(item, origin, key, lo, hi, out);
}
