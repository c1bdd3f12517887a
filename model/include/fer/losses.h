/* Class weights for imbalance-aware losses, as the seed's compute_class_weights:
 * counts clamped to >= 1; inv = 1/n, inv_sqrt = 1/sqrt(n), effective = (1-beta)/(1-beta^n);
 * then scaled so the weights have mean 1. */
#ifndef FER_LOSSES_H
#define FER_LOSSES_H
#include <stdint.h>
#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fer_weight_mode {
    FER_WEIGHT_INV = 0,
    FER_WEIGHT_INV_SQRT,
    FER_WEIGHT_EFFECTIVE
} fer_weight_mode;

fer_status fer_class_weights(const int64_t *counts, int n_classes, fer_weight_mode mode,
                             float beta, float *weights_out);
/* LDAM margins: margin_j = K / n_j^(1/4) (counts clamped to >= 1), K chosen so the largest
 * (the rarest class's) is max_margin > 0. */
fer_status fer_ldam_margins(const int64_t *counts, int n_classes, float max_margin,
                            float *margins_out);
/* "inv" | "inv_sqrt" | "effective" */
fer_status fer_weight_mode_parse(const char *s, fer_weight_mode *out);

#ifdef __cplusplus
}
#endif
#endif
