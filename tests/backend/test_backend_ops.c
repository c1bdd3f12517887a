/* Backend-vs-ref op tests (ggml test-backend-ops style).
 *
 * Every compiled backend from fer_backend_list() other than "ref" runs a table of layer cases
 * with odd shapes (batch 1 and 3, odd channel counts, non-square planes, several kernel sizes,
 * strides and pads), forward and every gradient, on the same random inputs as "ref". Outputs are
 * compared by normalised mean squared error, NMSE = sum((a-b)^2) / sum(b^2), against the stated
 * tolerance of each case; integer outputs (argmax) and outputs that share the per-element math
 * headers (dropout, optimiser steps) must match exactly or to a tighter bound.
 * A compiled backend without a device (cuda here) prints SKIP for its cases. Exit status: 1 on
 * any failure, 77 when every case was skipped, else 0.
 * Usage: test_backend_ops [backend ...]   (default: all compiled backends) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/arch.h"
#include "fer/backend.h"
#include "fer/model.h"
#include "fer/rng_math.h"

/* Tolerances (NMSE). fp32 kernels that sum in another order differ by ~1e-14..1e-11. */
#define TOL_GEMM 1e-9   /* conv2d, linear: long dot products */
#define TOL_NORM 1e-9   /* batch norm outputs and gradients */
#define TOL_STAT 1e-10  /* batch statistics, running statistics */
#define TOL_EXACT 0.0   /* shared per-element math, pooling, copies */

static int n_pass, n_fail, n_skip;
static const char *cur_backend;
static int threads_opt = 2;

/* ---- helpers ---------------------------------------------------------------------------- */

static void die(const char *what)
{
    fprintf(stderr, "test_backend_ops: %s: %s\n", what, fer_last_error());
    exit(1);
}

static void *dev_from(fer_backend *b, const void *host, size_t bytes)
{
    void *p = NULL;
    if (b->ops->alloc(b, bytes ? bytes : 4, &p) != FER_OK)
        die("alloc");
    if (host && bytes && b->ops->upload(b, p, host, bytes) != FER_OK)
        die("upload");
    return p;
}

static void fetch(fer_backend *b, void *host, const void *dev, size_t bytes)
{
    if (b->ops->synchronize && b->ops->synchronize(b) != FER_OK)
        die("synchronize");
    if (bytes && b->ops->download(b, host, dev, bytes) != FER_OK)
        die("download");
}

static float *rand_vec(size_t n, uint64_t seed, float scale, float offset)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        die("malloc");
    for (size_t i = 0; i < n; i++)
        v[i] = offset + scale * fer_rng_symmetric(seed, i);
    return v;
}

/* A float tensor mirrored on ref (r) and on the backend under test (d). */
typedef struct mirror {
    size_t n;
    float *r, *d;
} mirror;

static mirror mk(fer_backend *ref, fer_backend *be, const float *host, size_t n)
{
    mirror m = {n, dev_from(ref, host, n * sizeof(float)), dev_from(be, host, n * sizeof(float))};
    return m;
}

static mirror mk_rand(fer_backend *ref, fer_backend *be, size_t n, uint64_t seed, float scale,
                      float offset)
{
    float *h = rand_vec(n, seed, scale, offset);
    mirror m = mk(ref, be, h, n);
    free(h);
    return m;
}

static void rm(fer_backend *ref, fer_backend *be, mirror *m)
{
    ref->ops->release(ref, m->r);
    be->ops->release(be, m->d);
}

/* Compares a mirrored output; NMSE against tol (exact when tol == 0). */
static int compare(fer_backend *ref, fer_backend *be, const mirror *m, const char *what, double tol,
                   char *line, size_t cap)
{
    float *a = malloc(m->n * sizeof *a + 4), *b = malloc(m->n * sizeof *b + 4);
    if (!a || !b)
        die("malloc");
    fetch(ref, b, m->r, m->n * sizeof(float));
    fetch(be, a, m->d, m->n * sizeof(float));
    double num = 0.0, den = 0.0;
    int bad_nan = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (isnan(a[i]) != isnan(b[i]))
            bad_nan = 1;
        if (isnan(b[i]))
            continue;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    double nmse = den > 0.0 ? num / den : num;
    int ok = !bad_nan && (tol == 0.0 ? num == 0.0 : nmse <= tol);
    size_t len = strlen(line);
    snprintf(line + len, cap - len, " %s=%.1e%s", what, nmse, ok ? "" : (bad_nan ? "(NaN!)" : "(!)"));
    free(a);
    free(b);
    return ok;
}

static int compare_i32(fer_backend *ref, fer_backend *be, const void *r, const void *d, size_t n,
                       const char *what, char *line, size_t cap)
{
    int32_t *a = malloc(n * sizeof *a + 4), *b = malloc(n * sizeof *b + 4);
    if (!a || !b)
        die("malloc");
    fetch(ref, b, r, n * sizeof(int32_t));
    fetch(be, a, d, n * sizeof(int32_t));
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += a[i] != b[i];
    size_t len = strlen(line);
    snprintf(line + len, cap - len, " %s:%zu-diff%s", what, diff, diff ? "(!)" : "");
    free(a);
    free(b);
    return diff == 0;
}

static void verdict(const char *name, int ok, const char *line)
{
    printf("  %-60s %s %s\n", name, ok ? "OK  " : "FAIL", line);
    if (ok)
        n_pass++;
    else
        n_fail++;
}

/* Op missing in the backend: the case is skipped, like ggml's "not supported". */
#define NEED(be, op, name)                                                                     \
    do {                                                                                       \
        if (!(be)->ops->op) {                                                                  \
            printf("  %-60s SKIP (%s has no %s op)\n", name, cur_backend, #op);                \
            n_skip++;                                                                          \
            return;                                                                            \
        }                                                                                      \
    } while (0)

#define RUN(b, op, ...)                                                                        \
    do {                                                                                       \
        if ((b)->ops->op((b), __VA_ARGS__) != FER_OK)                                          \
            die(#op);                                                                          \
    } while (0)

#include "backend_cases.h"

/* ---- driver ----------------------------------------------------------------------------- */

static void run_backend(const char *name, fer_backend *ref)
{
    cur_backend = name;
    fer_backend *be = NULL;
    fer_status st = fer_backend_new(name, threads_opt, &be);
    if (st == FER_ERR_NODEVICE || st == FER_ERR_UNSUPPORTED) {
        printf("backend %s: SKIP (%s)\n", name, fer_last_error());
        for (int i = 0; i < n_all_cases(); i++)
            n_skip++;
        return;
    }
    if (st != FER_OK)
        die(name);
    printf("backend %s (%s) vs ref, %d threads\n", name, fer_backend_note(be), be->threads);
    run_all_cases(ref, be);
    fer_backend_free(be);
}

int main(int argc, char **argv)
{
    const char *env_threads = getenv("FER_TEST_THREADS");
    if (env_threads)
        threads_opt = atoi(env_threads);
    fer_backend *ref;
    if (fer_backend_new("ref", 1, &ref) != FER_OK)
        die("ref backend");
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run_backend(argv[i], ref);
    } else {
        for (const char *const *n = fer_backend_list(); *n; n++)
            if (strcmp(*n, "ref") != 0)
                run_backend(*n, ref);
    }
    fer_backend_free(ref);
    printf("%d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
    if (n_fail)
        return 1;
    if (n_pass == 0)
        return 77;
    return 0;
}
