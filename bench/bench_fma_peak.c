/* FP32 FMA peak of one core, per vector width: 12 independent FMA chains (enough to cover the
 * latency on current x86 cores) in a timed loop, ymm (AVX2+FMA) and zmm (AVX512F).
 * Prints `fma_peak_ymm_gflops X` and `fma_peak_zmm_gflops X` (or `... skipped (no AVX512F)`),
 * the best of 5 runs of about 0.1 s each; bench/run.sh divides the model's counted GFLOP/s by
 * them. Single-threaded: run it pinned (taskset) for a per-core figure. */
#include <stdio.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define CHAINS 12
/* The accumulators are stored through a volatile sink so the loop is not removed. */
#define PEAK_LOOP(vtype, setzero, set1, fmadd, store, lanes)                                      \
    vtype acc[CHAINS];                                                                           \
    for (int i = 0; i < CHAINS; i++)                                                             \
        acc[i] = setzero();                                                                      \
    vtype a = set1(0.999999f), b = set1(1e-7f);                                                   \
    double t0 = now_s();                                                                         \
    for (long it = 0; it < iters; it++)                                                          \
        for (int i = 0; i < CHAINS; i++)                                                         \
            acc[i] = fmadd(acc[i], a, b);                                                        \
    double dt = now_s() - t0;                                                                    \
    float sink[lanes];                                                                           \
    for (int i = 1; i < CHAINS; i++)                                                             \
        acc[0] = fmadd(acc[0], a, acc[i]);                                                       \
    store(sink, acc[0]);                                                                         \
    volatile float keep = sink[0];                                                               \
    (void)keep;                                                                                  \
    return 2.0 * lanes * CHAINS * (double)iters / dt * 1e-9;

__attribute__((target("avx2,fma"))) static double peak_ymm(long iters)
{
    PEAK_LOOP(__m256, _mm256_setzero_ps, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_storeu_ps, 8)
}

__attribute__((target("avx512f"))) static double peak_zmm(long iters)
{
    PEAK_LOOP(__m512, _mm512_setzero_ps, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_storeu_ps, 16)
}

static double best_of(double (*fn)(long), long iters)
{
    double best = 0.0;
    for (int r = 0; r < 5; r++) {
        double g = fn(iters);
        if (g > best)
            best = g;
    }
    return best;
}

int main(void)
{
    __builtin_cpu_init();
    const long iters = 20L * 1000 * 1000; /* 240M FMA instructions: ~0.1 s at 2 per cycle */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("fma_peak_ymm_gflops %.1f\n", best_of(peak_ymm, iters));
    else
        printf("fma_peak_ymm_gflops skipped (no AVX2+FMA)\n");
    if (__builtin_cpu_supports("avx512f"))
        printf("fma_peak_zmm_gflops %.1f\n", best_of(peak_zmm, iters));
    else
        printf("fma_peak_zmm_gflops skipped (no AVX512F)\n");
    return 0;
}
#else
int main(void)
{
    printf("fma_peak_ymm_gflops skipped (not x86)\nfma_peak_zmm_gflops skipped (not x86)\n");
    return 0;
}
#endif
