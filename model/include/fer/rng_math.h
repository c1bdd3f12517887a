/* Counter-based random numbers: value i of stream `seed` is a pure function of (seed, i), so any
 * thread, GPU kernel or the Python fixture generator (tests/golden/make_golden.py) reproduces it
 * without shared state. SplitMix64 finaliser; 24-bit uniforms are exact in float32. */
#ifndef FER_RNG_MATH_H
#define FER_RNG_MATH_H
#include <stdint.h>
#include "fer/hd.h"

FER_HD uint64_t fer_splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Seed of sub-stream `k` of `seed` (per layer, per tensor). */
FER_HD uint64_t fer_rng_substream(uint64_t seed, uint64_t k)
{
    return fer_splitmix64(seed ^ fer_splitmix64(k + 0x632BE59BD9B4E019ull));
}

/* Uniform in [0, 1) with 24 random bits: k / 2^24. */
FER_HD float fer_rng_uniform(uint64_t seed, uint64_t i)
{
    uint64_t h = fer_splitmix64(seed ^ fer_splitmix64(i));
    return (float)(uint32_t)(h >> 40) * (1.0f / 16777216.0f);
}

/* Uniform in [-1, 1): 2u - 1 (exact in float32). */
FER_HD float fer_rng_symmetric(uint64_t seed, uint64_t i)
{
    return 2.0f * fer_rng_uniform(seed, i) - 1.0f;
}
#endif
