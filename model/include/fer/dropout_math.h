/* Inverted dropout whose keep mask is a pure function of (seed, element index): forward and
 * backward regenerate it, every backend draws the same mask, and the golden fixtures reproduce it
 * in PyTorch (see tests/golden/make_golden.py). */
#ifndef FER_DROPOUT_MATH_H
#define FER_DROPOUT_MATH_H
#include <stdint.h>
#include "fer/hd.h"
#include "fer/rng_math.h"

/* Seed used by dropout layer `layer` (index in the arch stack) for a forward with `seed`. */
FER_HD uint64_t fer_dropout_layer_seed(uint64_t seed, int layer)
{
    return fer_rng_substream(seed, (uint64_t)layer);
}

/* 1 when element i survives (probability 1 - p). */
FER_HD int fer_dropout_keep(uint64_t seed, uint64_t i, float p)
{
    return fer_rng_uniform(seed, i) >= p;
}

/* Scale applied to survivors: 1 / (1 - p) (0 when p >= 1: everything dropped). */
FER_HD float fer_dropout_scale(float p)
{
    return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
}

/* y (forward) or dx (backward): both are x * mask * scale. */
FER_HD float fer_dropout_apply(uint64_t seed, uint64_t i, float p, float scale, float x)
{
    return fer_dropout_keep(seed, i, p) ? x * scale : 0.0f;
}
#endif
