/* Epoch orderings of the training set.
 * default:  a fresh permutation every epoch (DataLoader shuffle=True).
 * balanced: n draws with replacement, sample i with probability proportional to
 *           count(label_i)^-power (the seed's WeightedRandomSampler uses power 0.5), so class c
 *           is drawn with probability count_c^(1-power) / sum_k count_k^(1-power).
 * The order is a pure function of (seed, epoch): resuming reproduces it exactly. */
#ifndef FER_SAMPLER_H
#define FER_SAMPLER_H
#include <stdint.h>
#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fer_sampler_kind { FER_SAMPLER_DEFAULT = 0, FER_SAMPLER_BALANCED } fer_sampler_kind;

fer_status fer_sampler_parse(const char *s, fer_sampler_kind *out); /* "default" | "balanced" */
const char *fer_sampler_name(fer_sampler_kind k);

/* order: n indices into labels (n = number of training images). */
fer_status fer_sampler_epoch(fer_sampler_kind kind, float power, const int32_t *labels, int n,
                             int n_classes, uint64_t seed, int epoch, int32_t *order);
/* Expected fraction of draws per class under the sampler (for tests and the log). */
void fer_sampler_class_probs(fer_sampler_kind kind, float power, const int64_t *class_counts,
                             int n_classes, double *probs);

#ifdef __cplusplus
}
#endif
#endif
