/* Counter-based randomness for training: every random decision is a pure function of
 * (run seed, epoch, position, purpose), so results do not depend on thread scheduling and a
 * resumed run draws exactly what the uninterrupted run would have drawn. */
#ifndef FER_TRAIN_RNG_H
#define FER_TRAIN_RNG_H
#include <stdint.h>

typedef struct fer_rng {
    uint64_t state;
} fer_rng;

/* splitmix64 step: small state, good statistical quality, trivially seedable */
static inline uint64_t fer_rng_next(fer_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Mixes a key into a stream seed (one splitmix64 finalisation per word). */
static inline uint64_t fer_rng_key(uint64_t seed, uint64_t a, uint64_t b, uint64_t purpose)
{
    fer_rng r = {seed};
    uint64_t h = fer_rng_next(&r);
    r.state = h ^ a;
    h = fer_rng_next(&r);
    r.state = h ^ b;
    h = fer_rng_next(&r);
    r.state = h ^ purpose;
    return fer_rng_next(&r);
}

/* uniform double in [0, 1) with 53 random bits */
static inline double fer_rng_uniform(fer_rng *r)
{
    return (double)(fer_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^32, negligible) */
static inline uint32_t fer_rng_below(fer_rng *r, uint32_t n)
{
    return (uint32_t)(((fer_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

enum fer_rng_purpose {
    FER_RNG_SAMPLER = 1,
    FER_RNG_AUGMENT = 2,
    FER_RNG_DROPOUT = 3,
    FER_RNG_INIT = 4,
    FER_RNG_MIX = 5, /* mixup / CutMix, keyed by (epoch, batch index) */
    FER_RNG_PERTURB = 6 /* fer-eval --perturb, keyed by the image index */
};
#endif
