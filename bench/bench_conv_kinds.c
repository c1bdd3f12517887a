/* The convolution kinds of residual and mobile networks on the cpu backend, per FLOP:
 * depthwise 3x3 (stride 1 and 2), pointwise 1x1, 1x1 stride-2 projections, 3x3 stride 2 and 3x3
 * stride 1 (Winograd), at
 * resnet_s / MobileNet-like shapes. bench/conv_kinds.sh runs it beside PyTorch
 * (bench/torch_conv_kinds.py, same shapes and FLOP counts) and prints the ratios.
 * Best of R repetitions after a warm-up; GFLOP/s = 2 * MACs / time (backward: input and weight
 * gradients, twice the forward's MACs).
 * Usage: bench_conv_kinds [batch=64] [threads=2] [reps=5]
 * Development knobs: BENCH_CPU_TIME=1 times by the process's CPU time (all threads) instead of
 * the wall clock, less sensitive to other jobs on a shared machine; BENCH_ONLY=text runs only
 * the shapes whose name contains text.
 * Prints one line per shape: `<name> fwd_gflops X bwd_gflops Y`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fer/backend.h"
#include "fer/rng_math.h"

typedef struct conv_kind {
    const char *name;
    int ci, co, hw, k, stride, pad, groups;
} conv_kind;

/* the same table is in bench/torch_conv_kinds.py */
static const conv_kind kinds[] = {
    {"dw3x3_s1_c64_24", 64, 64, 24, 3, 1, 1, 64},
    {"dw3x3_s2_c64_24", 64, 64, 24, 3, 2, 1, 64},
    {"dw3x3_s1_c128_12", 128, 128, 12, 3, 1, 1, 128},
    {"pw1x1_64_128_24", 64, 128, 24, 1, 1, 0, 1},
    {"pw1x1_128_128_12", 128, 128, 12, 1, 1, 0, 1},
    {"proj1x1_s2_64_128_24", 64, 128, 24, 1, 2, 0, 1},
    {"conv3x3_s2_64_128_24", 64, 128, 24, 3, 2, 1, 1},
    /* 3x3 stride 1 (Winograd), resnet_s's three deeper stages */
    {"conv3x3_s1_64_24", 64, 64, 24, 3, 1, 1, 1},
    {"conv3x3_s1_128_12", 128, 128, 12, 3, 1, 1, 1},
    {"conv3x3_s1_256_6", 256, 256, 6, 3, 1, 1, 1},
};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static float *dev(fer_backend *b, size_t n, uint64_t seed)
{
    float *host = malloc(n * sizeof *host), *d = NULL;
    if (!host || b->ops->alloc(b, n * sizeof(float), (void **)&d) != FER_OK) {
        fprintf(stderr, "bench_conv_kinds: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        host[i] = fer_rng_symmetric(seed, i);
    b->ops->upload(b, d, host, n * sizeof(float));
    free(host);
    return d;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 64, threads = argc > 2 ? atoi(argv[2]) : 2;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    if (n < 1 || threads < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_conv_kinds [batch] [threads] [reps]\n");
        return 2;
    }
    const char *cpu_time = getenv("BENCH_CPU_TIME"), *only = getenv("BENCH_ONLY");
    if (cpu_time && strcmp(cpu_time, "1") == 0)
        bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    fer_backend *b;
    if (fer_backend_new("cpu", threads, &b) != FER_OK) {
        fprintf(stderr, "bench_conv_kinds: %s\n", fer_last_error());
        return 1;
    }
    for (int q = 0; q < N_KINDS; q++) {
        const conv_kind *s = &kinds[q];
        if (only && !strstr(s->name, only))
            continue;
        int oh = (s->hw + 2 * s->pad - s->k) / s->stride + 1;
        fer_conv2d_args a = {n, s->ci, s->hw, s->hw, s->co, oh, oh, s->k, s->stride, s->pad, 0,
                             s->groups, 0};
        size_t nx = (size_t)n * s->ci * s->hw * s->hw, ny = (size_t)n * s->co * oh * oh;
        size_t nw = (size_t)s->co * (s->ci / s->groups) * s->k * s->k;
        float *x = dev(b, nx, 1), *w = dev(b, nw, 2), *y = dev(b, ny, 3), *dy = dev(b, ny, 4);
        float *dx = dev(b, nx, 5), *dw = dev(b, nw, 6);
        double macs = (double)n * s->co * oh * oh * (s->ci / s->groups) * s->k * s->k;
        double bf = 1e30, bb = 1e30;
        for (int r = 0; r <= reps; r++) { /* r == 0: warm-up (workspace, weight cache) */
            double t0 = now();
            if (b->ops->conv2d_forward(b, &a, x, w, NULL, y) != FER_OK)
                return 1;
            double t1 = now();
            if (b->ops->conv2d_backward(b, &a, x, w, dy, dx, dw, NULL) != FER_OK)
                return 1;
            double t2 = now();
            if (r && t1 - t0 < bf)
                bf = t1 - t0;
            if (r && t2 - t1 < bb)
                bb = t2 - t1;
        }
        printf("%s fwd_gflops %.2f bwd_gflops %.2f\n", s->name, 2 * macs / bf * 1e-9,
               4 * macs / bb * 1e-9);
        b->ops->release(b, x), b->ops->release(b, w), b->ops->release(b, y);
        b->ops->release(b, dy), b->ops->release(b, dx), b->ops->release(b, dw);
    }
    fer_backend_free(b);
    return 0;
}
