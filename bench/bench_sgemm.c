/* The measured FP32 ceiling: SGEMM on large squares (C = A B, n x n) with T threads.
 * OpenBLAS when built in (the reference figure of the issue), and ours (the cpu backend's
 * SGEMM, through its linear layer) for comparison. Best of R runs.
 * Prints `sgemm_openblas_gflops X` and `sgemm_ours_gflops Y`.
 * Usage: bench_sgemm [threads=2] [n=2048] [reps=3] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fer/backend.h"

#ifdef FER_BENCH_OPENBLAS
#include <cblas.h>
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, n = argc > 2 ? atoi(argv[2]) : 2048;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    if (threads < 1 || n < 16 || reps < 1) {
        fprintf(stderr, "usage: bench_sgemm [threads] [n] [reps]\n");
        return 2;
    }
    size_t nn = (size_t)n * n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_sgemm: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(i % 97) * 0.01f;
        b[i] = (float)(i % 89) * 0.01f;
    }
    double flop = 2.0 * n * (double)n * n;
#ifdef FER_BENCH_OPENBLAS
    openblas_set_num_threads(threads);
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        t = now() - t;
        if (r && t < best)
            best = t;
    }
    printf("sgemm_openblas_gflops %.1f\n", flop / best * 1e-9);
#else
    printf("# OpenBLAS not built in (libopenblas-dev missing)\n");
#endif
    fer_backend *be;
    if (fer_backend_new("cpu", threads, &be) != FER_OK) {
        fprintf(stderr, "bench_sgemm: %s\n", fer_last_error());
        return 1;
    }
    /* linear: y[n][out] = x[n][in] . w[out][in]^T, a square SGEMM. The backend caches packed
     * weights; touching one value per run makes it pack them again, as a plain SGEMM would. */
    fer_linear_args la = {n, n, n, 0};
    double best_ours = 1e30;
    for (int r = 0; r <= reps; r++) {
        b[r % nn] += 1.0f;
        double t = now();
        if (be->ops->linear_forward(be, &la, a, b, NULL, c) != FER_OK) {
            fprintf(stderr, "bench_sgemm: %s\n", fer_last_error());
            return 1;
        }
        t = now() - t;
        if (r && t < best_ours)
            best_ours = t;
    }
    printf("sgemm_ours_gflops %.1f\n", flop / best_ours * 1e-9);
    fer_backend_free(be);
    free(a);
    free(b);
    free(c);
    return 0;
}
