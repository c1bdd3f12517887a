/* Training-set orderings (see fer/sampler.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fer/arch.h"
#include "fer/sampler.h"
#include "rng.h"

fer_status fer_sampler_parse(const char *s, fer_sampler_kind *out)
{
    if (!strcmp(s, "default")) *out = FER_SAMPLER_DEFAULT;
    else if (!strcmp(s, "balanced")) *out = FER_SAMPLER_BALANCED;
    else return fer_fail(FER_ERR_ARG, "unknown sampler \"%s\" (default or balanced)", s);
    return FER_OK;
}

const char *fer_sampler_name(fer_sampler_kind k)
{
    return k == FER_SAMPLER_BALANCED ? "balanced" : "default";
}

/* per-class sample weight count^-power, counts clamped to >= 1 as the seed */
static void class_weights(float power, const int64_t *counts, int n_classes, double *w)
{
    for (int c = 0; c < n_classes; c++) w[c] = pow(counts[c] < 1 ? 1.0 : (double)counts[c], -power);
}

fer_status fer_sampler_epoch(fer_sampler_kind kind, float power, const int32_t *labels, int n,
                             int n_classes, uint64_t seed, int epoch, int32_t *order)
{
    if (n <= 0 || n_classes <= 0 || n_classes > FER_MAX_CLASSES)
        return fer_fail(FER_ERR_ARG, "sampler: empty data set or bad class count");
    fer_rng r = {fer_rng_key(seed, (uint64_t)epoch, 0, FER_RNG_SAMPLER)};
    if (kind == FER_SAMPLER_DEFAULT) {
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)fer_rng_below(&r, (uint32_t)i + 1);
            int32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return FER_OK;
    }
    int64_t counts[FER_MAX_CLASSES] = {0};
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= n_classes)
            return fer_fail(FER_ERR_ARG, "sampler: label %d out of range", labels[i]);
        counts[labels[i]]++;
    }
    double w[FER_MAX_CLASSES];
    class_weights(power, counts, n_classes, w);
    double *cdf = malloc(sizeof(double) * (size_t)n);
    if (!cdf) return fer_fail(FER_ERR_NOMEM, "out of memory");
    double acc = 0.0;
    for (int i = 0; i < n; i++) cdf[i] = (acc += w[labels[i]]);
    for (int k = 0; k < n; k++) {
        double u = fer_rng_uniform(&r) * acc;
        int lo = 0, hi = n - 1; /* first i with cdf[i] > u */
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (cdf[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        order[k] = lo;
    }
    free(cdf);
    return FER_OK;
}

void fer_sampler_class_probs(fer_sampler_kind kind, float power, const int64_t *class_counts,
                             int n_classes, double *probs)
{
    double w[FER_MAX_CLASSES], total = 0.0;
    if (kind == FER_SAMPLER_DEFAULT) power = 0.0f;
    class_weights(power, class_counts, n_classes, w);
    for (int c = 0; c < n_classes; c++) total += (probs[c] = w[c] * (double)class_counts[c]);
    for (int c = 0; c < n_classes; c++) probs[c] = total > 0 ? probs[c] / total : 0.0;
}
