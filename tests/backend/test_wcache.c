/* The cpu backend's cache of repacked convolution weights (cpu_wcache.c) must never serve a
 * stale packing: weights changed in place between two forward calls at the same address (one
 * float in the hashed 128-byte blocks, one in the tail after them, the sign of a zero, a whole
 * new tensor) give the result of a fresh backend on the new weights, bit for bit. Run for every
 * convolution path: Winograd F(4x4) and F(2x2), the flat-plane tiles, 1x1 GEMM, and im2col.
 * With a weight generation (fer_conv2d_args.weights_gen, a folded model's promise that the
 * weights are unchanged) the packing is reused without reading the weights, and any other
 * generation, or none, packs afresh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/backend.h"
#include "fer/rng_math.h"
#include "fer/status.h"

static int failures;

static void die(const char *what)
{
    fprintf(stderr, "test_wcache: %s: %s\n", what, fer_last_error());
    exit(1);
}

static float *buf(fer_backend *b, size_t n)
{
    void *p = NULL;
    if (b->ops->alloc(b, n * sizeof(float), &p) != FER_OK)
        die("alloc");
    return p;
}

/* y of a fresh cpu backend (an empty cache) */
static void fresh_forward(const fer_conv2d_args *a, const float *x, const float *w, float *y)
{
    fer_backend *b;
    if (fer_backend_new("cpu", 2, &b) || b->ops->conv2d_forward(b, a, x, w, NULL, y))
        die("fresh backend");
    fer_backend_free(b);
}

static void expect_fresh(fer_backend *b, const fer_conv2d_args *a, const float *x,
                         const float *w, float *y, float *want, size_t ny, const char *name,
                         const char *change)
{
    if (b->ops->conv2d_forward(b, a, x, w, NULL, y) != FER_OK)
        die(name);
    fresh_forward(a, x, w, want);
    if (memcmp(y, want, ny * sizeof(float)) != 0) {
        fprintf(stderr, "FAIL %s: after %s the cached packing was used\n", name, change);
        failures++;
    }
}

static void run_case(const char *name, int in_c, int out_c, int k, int stride, int pad,
                     int cached)
{
    int h = 12, wd = 10, n = 2;
    fer_conv2d_args a = {n, in_c, h, wd, out_c, (h + 2 * pad - k) / stride + 1,
                         (wd + 2 * pad - k) / stride + 1, k, stride, pad, 0, 1, 0};
    size_t nx = (size_t)n * in_c * h * wd, nw = (size_t)out_c * in_c * k * k,
           ny = (size_t)n * out_c * a.out_h * a.out_w;
    fer_backend *b;
    if (fer_backend_new("cpu", 2, &b))
        die("cpu backend");
    float *x = buf(b, nx), *w = buf(b, nw), *y = buf(b, ny), *want = buf(b, ny);
    for (size_t i = 0; i < nx; i++)
        x[i] = fer_rng_symmetric(7, i);
    for (size_t i = 0; i < nw; i++)
        w[i] = 0.3f * fer_rng_symmetric(8, i);
    expect_fresh(b, &a, x, w, y, want, ny, name, "nothing");
    w[nw / 3] += 0.25f; /* inside the hashed blocks */
    expect_fresh(b, &a, x, w, y, want, ny, name, "a change of one weight");
    w[nw - 1] = -w[nw - 1] + 0.5f; /* the tail after the last 128-byte block */
    expect_fresh(b, &a, x, w, y, want, ny, name, "a change of the last weight");
    w[0] = 0.0f;
    expect_fresh(b, &a, x, w, y, want, ny, name, "a weight set to +0");
    w[0] = -0.0f; /* same value, other bits: repacking is allowed, a wrong result is not */
    expect_fresh(b, &a, x, w, y, want, ny, name, "+0 changed to -0");
    for (size_t i = 0; i < nw; i++)
        w[i] = 0.3f * fer_rng_symmetric(9, i);
    expect_fresh(b, &a, x, w, y, want, ny, name, "new weights at the same address");

    /* weight generations */
    float *kept = buf(b, ny);
    a.weights_gen = 1000;
    expect_fresh(b, &a, x, w, y, want, ny, name, "generation 1000 after none");
    memcpy(kept, y, ny * sizeof(float));
    w[nw / 2] += 0.5f; /* breaks the promise on purpose: shows the hash is skipped */
    if (b->ops->conv2d_forward(b, &a, x, w, NULL, y) != FER_OK)
        die(name);
    if (cached && memcmp(y, kept, ny * sizeof(float)) != 0) {
        fprintf(stderr, "FAIL %s: the same generation repacked (the hash was not skipped)\n",
                name);
        failures++;
    }
    a.weights_gen = 1001;
    expect_fresh(b, &a, x, w, y, want, ny, name, "a new generation");
    w[1] -= 0.5f;
    a.weights_gen = 0;
    expect_fresh(b, &a, x, w, y, want, ny, name, "generation 0 after 1001");
    a.weights_gen = 1001; /* the entry now holds a packing by hash, not generation 1001 */
    w[2] += 0.5f;
    expect_fresh(b, &a, x, w, y, want, ny, name, "generation 1001 after 0");
    float *t[] = {x, w, y, want, kept};
    for (int i = 0; i < 5; i++)
        b->ops->release(b, t[i]);
    fer_backend_free(b);
    printf("  %-28s ok\n", name);
}

int main(void)
{
    run_case("3x3 s1 (Winograd)", 16, 24, 3, 1, 1, 1);
    run_case("3x3 s1 thin (flat tiles)", 3, 40, 3, 1, 1, 1);
    run_case("1x1 (pointwise GEMM)", 24, 33, 1, 1, 0, 1);
    run_case("5x5 s3 (im2col + GEMM)", 9, 17, 5, 3, 2, 0); /* packs nothing: no cache */
    if (failures) {
        fprintf(stderr, "test_wcache: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_wcache: OK\n");
    return 0;
}
