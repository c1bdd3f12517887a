/* Finite-difference gradient checks of the ref backend's graph ops with learned or gated
 * inputs: mul (x and the gate, per-channel and full-shape gates) and PReLU (x and the slopes).
 * test_backend_ops compares the other backends with ref, so this is what ties them all to the
 * mathematical gradient.
 *
 * Objective: J = sum_i r_i * y_i with fixed random r (dJ/dy = r). Central differences with step
 * H in float32, J accumulated in double. mul is bilinear and PReLU linear in w, so there the
 * difference is exact up to float rounding of y; for PReLU's dx the inputs stay >= 0.05 from
 * the kink at 0, so a step never crosses it. Tolerance per element:
 * |numeric - analytic| <= ATOL + RTOL * max(|numeric|, |analytic|). A wrong gradient (a missed
 * broadcast sum, the wrong side of the kink) is off by O(1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../model/src/backend_ref.h"
#include "fer/rng_math.h"
#include "fer/status.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "../common/fer_check.h"

#define H 1e-2f
#define ATOL 1e-5
#define RTOL 1e-4

typedef struct op_ctx {
    fer_mul_args mul;
    fer_prelu_args prelu;
    int is_prelu;
    float *x, *p; /* input and gate / slopes */
} op_ctx;

static void forward(const op_ctx *k, float *y)
{
    fer_status st = k->is_prelu ? fer_ref_prelu_forward(NULL, &k->prelu, k->x, k->p, y)
                                : fer_ref_mul_forward(NULL, &k->mul, k->x, k->p, y);
    CHECK(st == FER_OK, "forward");
}

static double objective(const op_ctx *k, float *y, size_t ny, const float *r)
{
    forward(k, y);
    double s = 0.0;
    for (size_t i = 0; i < ny; i++)
        s += (double)r[i] * y[i];
    return s;
}

/* Central difference of J in every element of v (k->x or k->p) against analytic. */
static void check_against_fd(const char *what, const op_ctx *k, float *v, size_t nv,
                             const float *analytic, size_t ny, const float *r)
{
    float *y = malloc(ny * sizeof *y);
    int bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < nv; i++) {
        const float keep = v[i];
        v[i] = keep + H;
        double plus = objective(k, y, ny, r);
        v[i] = keep - H;
        double minus = objective(k, y, ny, r);
        v[i] = keep;
        double numeric = (plus - minus) / (2.0 * (double)H);
        double err = fabs(numeric - (double)analytic[i]);
        double tol = ATOL + RTOL * fmax(fabs(numeric), fabs((double)analytic[i]));
        worst = fmax(worst, err / tol);
        if (err > tol && bad++ < 5)
            fprintf(stderr, "  %s[%zu]: analytic %.7g numeric %.7g\n", what, i,
                    (double)analytic[i], numeric);
    }
    CHECK(bad == 0, "%s: %d of %zu elements differ", what, bad, nv);
    printf("  %-34s %5zu elements, worst error/tolerance %.3f\n", what, nv, worst);
    free(y);
}

static float *sym(size_t n, uint64_t seed, float scale, float offset)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = offset + scale * fer_rng_symmetric(seed, i);
    return v;
}

static void check_mul(int n, int c, int hw, int gate_full)
{
    op_ctx k = {.mul = {n, c, hw, gate_full ? hw : 1}};
    size_t nx = (size_t)n * c * hw, ng = (size_t)n * c * k.mul.g_hw;
    float *r = sym(nx, 101, 1.0f, 0.0f), *dx = calloc(nx, 4), *dg = calloc(ng, 4);
    k.x = sym(nx, 102, 1.0f, 0.0f);
    k.p = sym(ng, 103, 0.5f, 0.5f);
    CHECK(fer_ref_mul_backward(NULL, &k.mul, k.x, k.p, r, dx, dg) == FER_OK, "mul backward");
    char what[96];
    snprintf(what, sizeof what, "mul(%d,%d,%d,%s) dx", n, c, hw, gate_full ? "full" : "chan");
    check_against_fd(what, &k, k.x, nx, dx, nx, r);
    snprintf(what, sizeof what, "mul(%d,%d,%d,%s) dg", n, c, hw, gate_full ? "full" : "chan");
    check_against_fd(what, &k, k.p, ng, dg, nx, r);
    free(r), free(dx), free(dg), free(k.x), free(k.p);
}

static void check_prelu(int n, int c, int hw)
{
    op_ctx k = {.prelu = {n, c, hw}, .is_prelu = 1};
    size_t nx = (size_t)n * c * hw;
    float *r = sym(nx, 111, 1.0f, 0.0f), *dx = calloc(nx, 4), *dw = calloc((size_t)c, 4);
    k.x = sym(nx, 112, 2.0f, 0.0f);
    k.p = sym((size_t)c, 113, 0.3f, 0.25f);
    k.p[0] = -0.5f; /* a negative slope: the sign of the slope side must not matter */
    for (size_t i = 0; i < nx; i++) /* a step of H never crosses the kink at 0 */
        if (fabsf(k.x[i]) < 0.05f)
            k.x[i] = k.x[i] < 0.0f ? -0.05f : 0.05f;
    char what[96];
    CHECK(fer_ref_prelu_backward(NULL, &k.prelu, k.x, k.p, r, dx, dw) == FER_OK, "prelu bwd");
    snprintf(what, sizeof what, "prelu(%d,%d,%d) dx", n, c, hw);
    check_against_fd(what, &k, k.x, nx, dx, nx, r);
    snprintf(what, sizeof what, "prelu(%d,%d,%d) dw", n, c, hw);
    check_against_fd(what, &k, k.p, (size_t)c, dw, nx, r);

    /* exact zeros in x: y is 0 whatever w is, so they are valid for the dw check */
    for (size_t i = 0; i < nx; i += 4)
        k.x[i] = 0.0f;
    CHECK(fer_ref_prelu_backward(NULL, &k.prelu, k.x, k.p, r, dx, dw) == FER_OK, "prelu bwd");
    snprintf(what, sizeof what, "prelu(%d,%d,%d) dw, zeros in x", n, c, hw);
    check_against_fd(what, &k, k.p, (size_t)c, dw, nx, r);

    /* the oracle's in-place form (dx over dy) and dx == NULL give the same dx and dw */
    float *dyi = malloc(nx * sizeof *dyi), *dwi = calloc((size_t)c, 4), *dwn = calloc((size_t)c, 4);
    memcpy(dyi, r, nx * sizeof *dyi);
    CHECK(fer_ref_prelu_backward(NULL, &k.prelu, k.x, k.p, dyi, dyi, dwi) == FER_OK, "in place");
    CHECK(fer_ref_prelu_backward(NULL, &k.prelu, k.x, k.p, r, NULL, dwn) == FER_OK, "no dx");
    CHECK(memcmp(dyi, dx, nx * sizeof *dx) == 0, "prelu in-place dx equals out-of-place dx");
    CHECK(memcmp(dwi, dw, (size_t)c * sizeof *dw) == 0, "prelu in-place dw equals dw");
    CHECK(memcmp(dwn, dw, (size_t)c * sizeof *dw) == 0, "prelu dw without dx equals dw");
    free(r), free(dx), free(dw), free(k.x), free(k.p), free(dyi), free(dwi), free(dwn);
}

int main(void)
{
    check_mul(1, 3, 35, 0);  /* batch 1, odd channels, a 7x5 plane */
    check_mul(3, 5, 6, 0);   /* batch 3, per-channel gate */
    check_mul(3, 5, 6, 1);   /* gate of x's shape */
    check_mul(2, 3, 1, 0);   /* 1x1 planes: gate and x the same shape, broadcast path */
    check_prelu(1, 3, 35);
    check_prelu(3, 5, 6);
    if (fer_check_summary("test_graph_gradcheck"))
        return 1;
    printf("mul and prelu gradients of the ref backend match central differences\n");
    return 0;
}
