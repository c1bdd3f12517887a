/* Class weights for the imbalance-aware losses (the seed's compute_class_weights). */
#include "fer/losses.h"

#include <math.h>
#include <string.h>

#include "fer/arch.h"

fer_status fer_class_weights(const int64_t *counts, int n_classes, fer_weight_mode mode,
                             float beta, float *weights_out)
{
    if (n_classes < 1 || n_classes > FER_MAX_CLASSES)
        return fer_fail(FER_ERR_ARG, "class weights: %d classes (expected 1..%d)", n_classes,
                        FER_MAX_CLASSES);
    if (mode == FER_WEIGHT_EFFECTIVE && !(beta > 0.0f && beta < 1.0f))
        return fer_fail(FER_ERR_ARG, "class weights: beta %g must be in (0, 1)", (double)beta);
    double w[FER_MAX_CLASSES], sum = 0.0;
    for (int c = 0; c < n_classes; c++) {
        if (counts[c] < 0)
            return fer_fail(FER_ERR_ARG, "class weights: negative count for class %d", c);
        double n = counts[c] < 1 ? 1.0 : (double)counts[c]; /* clamp_min(1) */
        switch (mode) {
        case FER_WEIGHT_INV:
            w[c] = 1.0 / n;
            break;
        case FER_WEIGHT_INV_SQRT:
            w[c] = 1.0 / sqrt(n);
            break;
        case FER_WEIGHT_EFFECTIVE:
            w[c] = (1.0 - (double)beta) / (1.0 - pow((double)beta, n));
            break;
        default:
            return fer_fail(FER_ERR_ARG, "class weights: unknown mode %d", (int)mode);
        }
        sum += w[c];
    }
    for (int c = 0; c < n_classes; c++)
        weights_out[c] = (float)(w[c] * (double)n_classes / sum); /* mean 1 */
    return FER_OK;
}

fer_status fer_weight_mode_parse(const char *s, fer_weight_mode *out)
{
    if (strcmp(s, "inv") == 0)
        *out = FER_WEIGHT_INV;
    else if (strcmp(s, "inv_sqrt") == 0)
        *out = FER_WEIGHT_INV_SQRT;
    else if (strcmp(s, "effective") == 0)
        *out = FER_WEIGHT_EFFECTIVE;
    else
        return fer_fail(FER_ERR_ARG,
                        "unknown class-weight mode '%s' (expected inv, inv_sqrt or effective)", s);
    return FER_OK;
}

fer_status fer_ldam_margins(const int64_t *counts, int n_classes, float max_margin,
                            float *margins_out)
{
    if (n_classes < 1 || n_classes > FER_MAX_CLASSES)
        return fer_fail(FER_ERR_ARG, "LDAM margins: %d classes (expected 1..%d)", n_classes,
                        FER_MAX_CLASSES);
    if (!(max_margin > 0.0f) || !isfinite(max_margin))
        return fer_fail(FER_ERR_ARG, "LDAM margins: largest margin %g must be > 0",
                        (double)max_margin);
    double inv_root[FER_MAX_CLASSES], largest = 0.0;
    for (int c = 0; c < n_classes; c++) {
        if (counts[c] < 0)
            return fer_fail(FER_ERR_ARG, "LDAM margins: negative count for class %d", c);
        inv_root[c] = 1.0 / sqrt(sqrt(counts[c] < 1 ? 1.0 : (double)counts[c]));
        largest = inv_root[c] > largest ? inv_root[c] : largest;
    }
    for (int c = 0; c < n_classes; c++)
        margins_out[c] = (float)((double)max_margin * inv_root[c] / largest);
    return FER_OK;
}
