/* Finite-difference gradient checks of every layer, head op and loss of the ref backend, and of
 * whole tiny networks (both heads, every loss) through fer_model_backward.
 *
 * Objective: J = sum_i r_i * y_i with fixed random r (so dJ/dy = r); central differences with
 * step h in float32, accumulated in double. Inputs avoid kinks (ReLU at 0, max-pool ties, the
 * ArcFace threshold and clamp) by construction, so a mismatch is a real bug. The whole-network
 * checks use looser tolerances (a float32 loss and ReLU/max-pool kinks that a step may cross);
 * they verify the wiring, where a bug gives errors of order one. */
#include "../../model/src/backend_ref.h"
#include "fer/model.h"
#include "fer/rng_math.h"
#include <string.h>

#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

typedef void (*forward_fn)(void *ctx, float *y);

static double objective(forward_fn f, void *ctx, float *y, size_t ny, const float *r)
{
    f(ctx, y);
    double s = 0.0;
    for (size_t i = 0; i < ny; i++)
        s += (double)y[i] * (r ? r[i] : 1.0f);
    return s;
}

/* Compares analytic[i] with the central difference of J w.r.t. x[i] for every element. */
static void gradcheck(const char *what, forward_fn f, void *ctx, float *x, size_t nx,
                      const float *analytic, size_t ny, const float *r, float h, double atol,
                      double rtol)
{
    float *y = malloc(ny * sizeof *y);
    int bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < nx; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double jp = objective(f, ctx, y, ny, r);
        x[i] = keep - h;
        double jm = objective(f, ctx, y, ny, r);
        x[i] = keep;
        double num = (jp - jm) / (2.0 * (double)h);
        double err = fabs(num - (double)analytic[i]);
        double tol = atol + rtol * fmax(fabs(num), fabs((double)analytic[i]));
        if (err / tol > worst)
            worst = err / tol;
        if (err > tol && bad++ < 5)
            fprintf(stderr, "  %s[%zu]: analytic %.7g numeric %.7g\n", what, i,
                    (double)analytic[i], num);
    }
    CHECK(bad == 0, "%s: %d of %zu elements differ", what, bad, nx);
    printf("  %-28s %6zu elements, worst error/tolerance %.3f\n", what, nx, worst);
    free(y);
}

static void fill_sym(float *x, size_t n, uint64_t seed, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * fer_rng_symmetric(seed, i);
}

/* Values bounded away from zero: |x| in [0.1, 1] * scale. */
static void fill_away_from_zero(float *x, size_t n, uint64_t seed, float scale)
{
    for (size_t i = 0; i < n; i++) {
        float u = fer_rng_symmetric(seed, i);
        x[i] = scale * (u < 0 ? u - 0.1f : u + 0.1f) / 1.1f;
    }
}

/* ---- conv2d ---------------------------------------------------------------------------- */

typedef struct conv_ctx {
    fer_conv2d_args a;
    float *x, *w, *b;
} conv_ctx;

static void conv_fwd(void *c, float *y)
{
    conv_ctx *k = c;
    fer_ref_conv2d_forward(NULL, &k->a, k->x, k->w, k->b, y);
}

static void check_conv(int in_c, int in_h, int in_w, int out_c, int ksz, int stride, int pad,
                       int bias, int groups)
{
    conv_ctx k;
    k.a = (fer_conv2d_args){2, in_c, in_h, in_w, out_c, (in_h + 2 * pad - ksz) / stride + 1,
                            (in_w + 2 * pad - ksz) / stride + 1, ksz, stride, pad, bias, groups, 0};
    size_t nx = (size_t)2 * in_c * in_h * in_w;
    size_t nw = (size_t)out_c * (in_c / groups) * ksz * ksz;
    size_t ny = (size_t)2 * out_c * k.a.out_h * k.a.out_w;
    k.x = malloc(nx * 4);
    k.w = malloc(nw * 4);
    k.b = malloc((size_t)out_c * 4);
    float *r = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4),
          *db = malloc((size_t)out_c * 4);
    fill_sym(k.x, nx, 1, 1.0f);
    fill_sym(k.w, nw, 2, 0.5f);
    fill_sym(k.b, (size_t)out_c, 3, 0.5f);
    fill_sym(r, ny, 4, 1.0f);
    fer_ref_conv2d_backward(NULL, &k.a, k.x, k.w, r, dx, dw, db);
    char name[64];
    snprintf(name, sizeof name, "conv k%d s%d p%d g%d dx", ksz, stride, pad, groups);
    gradcheck(name, conv_fwd, &k, k.x, nx, dx, ny, r, 1e-2f, 1e-4, 1e-3);
    snprintf(name, sizeof name, "conv k%d s%d p%d g%d dw", ksz, stride, pad, groups);
    gradcheck(name, conv_fwd, &k, k.w, nw, dw, ny, r, 1e-2f, 1e-4, 1e-3);
    if (bias) {
        snprintf(name, sizeof name, "conv k%d s%d p%d g%d dbias", ksz, stride, pad, groups);
        gradcheck(name, conv_fwd, &k, k.b, (size_t)out_c, db, ny, r, 1e-2f, 1e-4, 1e-3);
    }
    free(k.x), free(k.w), free(k.b), free(r), free(dx), free(dw), free(db);
}

/* ---- batch norm ------------------------------------------------------------------------ */

typedef struct bn_ctx {
    fer_bn_args a;
    float *x, *gamma, *beta, *rm, *rv, *sm, *si;
} bn_ctx;

static void bn_fwd(void *c, float *y)
{
    bn_ctx *k = c;
    fer_ref_batchnorm_forward(NULL, &k->a, 1, k->x, k->gamma, k->beta, k->rm, k->rv, y, k->sm,
                              k->si);
}

static void check_batchnorm(void)
{
    bn_ctx k;
    k.a = (fer_bn_args){.n = 3, .c = 4, .hw = 5, .eps = 1e-5f, .momentum = 0.1f};
    size_t nx = 3 * 4 * 5;
    k.x = malloc(nx * 4);
    float g[4], be[4], rm[4] = {0}, rv[4] = {1, 1, 1, 1}, sm[4], si[4], dg[4], dbe[4];
    k.gamma = g, k.beta = be, k.rm = rm, k.rv = rv, k.sm = sm, k.si = si;
    float *r = malloc(nx * 4), *y = malloc(nx * 4), *dx = malloc(nx * 4);
    fill_sym(k.x, nx, 5, 2.0f);
    fill_sym(g, 4, 6, 1.0f);
    fill_sym(be, 4, 7, 1.0f);
    fill_sym(r, nx, 8, 1.0f);
    bn_fwd(&k, y);
    fer_ref_batchnorm_backward(NULL, &k.a, k.x, g, be, sm, si, r, dx, dg, dbe);
    gradcheck("batchnorm dx", bn_fwd, &k, k.x, nx, dx, nx, r, 1e-2f, 1e-4, 2e-3);
    gradcheck("batchnorm dgamma", bn_fwd, &k, g, 4, dg, nx, r, 1e-2f, 1e-4, 1e-3);
    gradcheck("batchnorm dbeta", bn_fwd, &k, be, 4, dbe, nx, r, 1e-2f, 1e-4, 1e-3);
    free(k.x), free(r), free(y), free(dx);
}

/* ---- relu, maxpool, linear, dropout ----------------------------------------------------- */

typedef struct elt_ctx {
    size_t n;
    float *x;
    fer_pool_args pa;
    int32_t *argmax;
    float p;
    uint64_t seed;
} elt_ctx;

static void relu_fwd(void *c, float *y)
{
    elt_ctx *k = c;
    fer_ref_relu_forward(NULL, k->n, k->x, y);
}

static void pool_fwd(void *c, float *y)
{
    elt_ctx *k = c;
    fer_ref_maxpool_forward(NULL, &k->pa, k->x, y, k->argmax);
}

static void dropout_fwd(void *c, float *y)
{
    elt_ctx *k = c;
    fer_ref_dropout_forward(NULL, k->n, k->p, k->seed, 0, k->x, y);
}

static void check_relu_pool_dropout(void)
{
    enum { N = 2 * 3 * 6 * 6 };
    float x[N], y[N], r[N], dx[N];
    elt_ctx k = {.n = N, .x = x};
    fill_away_from_zero(x, N, 9, 1.0f);
    fill_sym(r, N, 10, 1.0f);
    relu_fwd(&k, y);
    fer_ref_relu_backward(NULL, N, y, r, dx);
    gradcheck("relu dx", relu_fwd, &k, x, N, dx, N, r, 1e-2f, 1e-5, 1e-4);

    /* max pool 2/2 and 3/2 (overlapping windows): distinct values 0.02 apart, no ties */
    for (int variant = 0; variant < 2; variant++) {
        int ksz = variant ? 3 : 2;
        k.pa = (fer_pool_args){2, 3, 6, 6, (6 - ksz) / 2 + 1, (6 - ksz) / 2 + 1, ksz, 2};
        for (int i = 0; i < N; i++)
            x[i] = 0.02f * (float)((i * 37) % N) - 1.0f;
        int32_t argmax[N];
        k.argmax = argmax;
        size_t ny = (size_t)2 * 3 * k.pa.out_h * k.pa.out_w;
        pool_fwd(&k, y);
        fer_ref_maxpool_backward(NULL, &k.pa, argmax, r, dx);
        gradcheck(variant ? "maxpool k3 s2 dx" : "maxpool k2 s2 dx", pool_fwd, &k, x, N, dx, ny,
                  r, 2e-3f, 1e-5, 1e-3);
    }

    k.p = 0.3f;
    k.seed = 77;
    fill_sym(x, N, 11, 1.0f);
    fer_ref_dropout_backward(NULL, N, k.p, k.seed, 0, r, dx);
    gradcheck("dropout dx", dropout_fwd, &k, x, N, dx, N, r, 1e-2f, 1e-5, 1e-4);
    int kept = 0;
    dropout_fwd(&k, y);
    for (int i = 0; i < N; i++) {
        kept += y[i] != 0.0f;
        if (y[i] != 0.0f)
            CHECK_NEAR(y[i], x[i] / 0.7f, 1e-6, "%s", "dropout scale");
    }
    CHECK(kept > N * 0.55 && kept < N * 0.85, "dropout kept %d of %d at p=0.3", kept, N);
}

/* ---- activations (leaky_relu, relu6, hardswish, sigmoid), avgpool2d, global_avgpool ------ */

typedef struct act_ctx {
    fer_activation kind;
    float param;
    size_t n;
    float *x;
    fer_avgpool_args pa;
} act_ctx;

static void act_fwd(void *c, float *y)
{
    act_ctx *k = c;
    fer_ref_activation_forward(NULL, k->kind, k->param, k->n, k->x, y);
}

static void avgpool_fwd(void *c, float *y)
{
    act_ctx *k = c;
    fer_ref_avgpool_forward(NULL, &k->pa, k->x, y);
}

static void check_activations_avgpool(void)
{
    enum { N = 3 * 5 * 7 * 6 };
    static const char *const names[] = {"leaky_relu dx", "relu6 dx", "hardswish dx",
                                        "sigmoid dx"};
    float x[N], r[N], dx[N];
    fill_sym(r, N, 31, 1.0f);
    for (int kind = FER_ACT_LEAKY_RELU; kind <= FER_ACT_SIGMOID; kind++) {
        /* -8..8 crosses every kind's kinks; a step never does (they are >= 0.05 away) */
        fill_sym(x, N, 30, 8.0f);
        for (int i = 0; i < N; i++) {
            static const float kinks[] = {-3.0f, 0.0f, 3.0f, 6.0f};
            for (int j = 0; j < 4; j++)
                if (fabsf(x[i] - kinks[j]) < 0.05f)
                    x[i] = kinks[j] + (x[i] < kinks[j] ? -0.05f : 0.05f);
        }
        act_ctx k = {(fer_activation)kind, 0.1f, N, x, {0}};
        fer_ref_activation_backward(NULL, k.kind, k.param, N, x, r, dx);
        gradcheck(names[kind], act_fwd, &k, x, N, dx, N, r, 1e-2f, 1e-4, 1e-3);
    }
    /* avgpool k3 s2 pad 1 (padding in the divisor), k2 s1 (overlaps), global (whole plane) */
    const fer_avgpool_geom geoms[] = {{7, 6, 4, 3, 3, 3, 2, 2, 1, 1},
                                      {7, 6, 6, 5, 2, 2, 1, 1, 0, 0},
                                      {7, 6, 1, 1, 7, 6, 1, 1, 0, 0}};
    static const char *const pool_names[] = {"avgpool k3 s2 p1 dx", "avgpool k2 s1 dx",
                                             "global_avgpool dx"};
    for (int v = 0; v < 3; v++) {
        act_ctx k = {FER_ACT_SIGMOID, 0.0f, N, x, {3, 5, geoms[v]}};
        fill_sym(x, N, 32, 1.0f);
        size_t ny = (size_t)3 * 5 * geoms[v].out_h * geoms[v].out_w;
        fer_ref_avgpool_backward(NULL, &k.pa, r, dx);
        gradcheck(pool_names[v], avgpool_fwd, &k, x, N, dx, ny, r, 1e-2f, 1e-5, 1e-4);
    }
}

typedef struct lin_ctx {
    fer_linear_args a;
    float *x, *w, *b;
} lin_ctx;

static void lin_fwd(void *c, float *y)
{
    lin_ctx *k = c;
    fer_ref_linear_forward(NULL, &k->a, k->x, k->w, k->b, y);
}

static void check_linear(void)
{
    lin_ctx k = {.a = {3, 10, 4, 1}};
    float x[30], w[40], b[4], r[12], dx[30], dw[40], db[4];
    k.x = x, k.w = w, k.b = b;
    fill_sym(x, 30, 12, 1.0f);
    fill_sym(w, 40, 13, 1.0f);
    fill_sym(b, 4, 14, 1.0f);
    fill_sym(r, 12, 15, 1.0f);
    fer_ref_linear_backward(NULL, &k.a, x, w, r, dx, dw, db);
    gradcheck("linear dx", lin_fwd, &k, x, 30, dx, 12, r, 1e-2f, 1e-5, 1e-4);
    gradcheck("linear dw", lin_fwd, &k, w, 40, dw, 12, r, 1e-2f, 1e-5, 1e-4);
    gradcheck("linear dbias", lin_fwd, &k, b, 4, db, 12, r, 1e-2f, 1e-5, 1e-4);
}

/* ---- heads ----------------------------------------------------------------------------- */

typedef struct head_ctx {
    int rows, dim;
    float *x, *norms;
    fer_arcface_args aa;
    int32_t *labels;
} head_ctx;

static void l2norm_fwd(void *c, float *y)
{
    head_ctx *k = c;
    fer_ref_l2norm_rows_forward(NULL, k->rows, k->dim, k->x, y, k->norms);
}

static void arcface_fwd(void *c, float *y)
{
    head_ctx *k = c;
    fer_ref_arcface_forward(NULL, &k->aa, k->x, k->labels, y);
}

static void check_heads(void)
{
    float x[4 * 6], y[24], r[24], dx[24], norms[4];
    head_ctx k = {.rows = 4, .dim = 6, .x = x, .norms = norms};
    fill_sym(x, 24, 16, 2.0f);
    fill_sym(r, 24, 17, 1.0f);
    l2norm_fwd(&k, y);
    fer_ref_l2norm_rows_backward(NULL, 4, 6, x, norms, r, dx);
    gradcheck("l2norm rows dx", l2norm_fwd, &k, x, 24, dx, 24, r, 1e-3f, 1e-4, 1e-3);

    /* ArcFace: 3 rows x 5 classes. Cosines cover the margin branch (> th = -0.8776), the
     * fallback branch (< th) and the clamp (|cos| > 1: zero gradient); none within 0.02 of a
     * kink. */
    float cosv[15] = {0.9f,  -0.3f, 0.2f, 0.5f,  -0.95f, /* label 0 (margin branch) */
                      -0.1f, 0.7f,  1.5f, -0.5f, 0.3f,   /* label 1 */
                      0.4f,  0.1f,  0.6f, -0.93f, -2.0f}; /* label 3 (fallback branch) */
    int32_t labels[3] = {0, 1, 3};
    float lg[15], rr[15], dcos[15];
    k.x = cosv;
    k.aa = (fer_arcface_args){3, 5, 30.0f, 0.5f};
    k.labels = labels;
    fill_sym(rr, 15, 18, 1.0f);
    arcface_fwd(&k, lg);
    fer_ref_arcface_backward(NULL, &k.aa, cosv, labels, rr, dcos);
    gradcheck("arcface dcos (train)", arcface_fwd, &k, cosv, 15, dcos, 15, rr, 1e-3f, 1e-3,
              2e-3);
    CHECK(dcos[7] == 0.0f && dcos[14] == 0.0f, "clamped cosines must get no gradient");
    k.labels = NULL;
    fer_ref_arcface_backward(NULL, &k.aa, cosv, NULL, rr, dcos);
    gradcheck("arcface dcos (inference)", arcface_fwd, &k, cosv, 15, dcos, 15, rr, 1e-3f, 1e-3,
              2e-3);
    /* inference logits are s * clamp(cos) */
    arcface_fwd(&k, lg);
    CHECK_NEAR(lg[7], 30.0f * (1.0f - 1e-7f), 1e-4, "%s", "arcface clamp high");
    CHECK_NEAR(lg[0], 30.0f * 0.9f, 1e-5, "%s", "arcface inference");
}

/* ---- losses ---------------------------------------------------------------------------- */

typedef struct loss_ctx {
    fer_loss_args a;
    float *z;
    int32_t *labels;
    const float *w;
} loss_ctx;

static void loss_fwd(void *c, float *y)
{
    loss_ctx *k = c;
    fer_ref_loss_forward_backward(NULL, &k->a, k->z, k->labels, k->w, y, NULL);
}

static void check_losses(void)
{
    float z[5 * 7], dz[35], loss;
    int32_t labels[5] = {0, 3, 6, 3, 1};
    const float w[7] = {0.5f, 3.0f, 0.8f, 0.4f, 1.1f, 0.9f, 1.3f};
    fill_sym(z, 35, 19, 3.0f);
    struct {
        const char *name;
        fer_loss_kind kind;
        float gamma, smoothing;
        int weighted;
    } cases[] = {
        {"loss ce", FER_LOSS_CE, 0, 0, 0},
        {"loss wce", FER_LOSS_WCE, 0, 0, 1},
        {"loss focal g2", FER_LOSS_FOCAL, 2.0f, 0, 0},
        {"loss focal g2 weighted", FER_LOSS_FOCAL, 2.0f, 0, 1},
        {"loss focal g0.5 weighted", FER_LOSS_FOCAL, 0.5f, 0, 1},
        {"loss ce smoothing 0.1", FER_LOSS_CE, 0, 0.1f, 0},
        {"loss wce smoothing 0.2", FER_LOSS_WCE, 0, 0.2f, 1},
        {"loss focal smoothing 0.1", FER_LOSS_FOCAL, 2.0f, 0.1f, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        loss_ctx k = {{5, 7, cases[c].kind, cases[c].gamma, cases[c].smoothing, NULL, NULL},
                      z, labels, cases[c].weighted ? w : NULL};
        CHECK(fer_ref_loss_forward_backward(NULL, &k.a, z, labels, k.w, &loss, dz) == FER_OK,
              "loss");
        CHECK(isfinite(loss) && loss > 0, "%s = %g", cases[c].name, loss);
        gradcheck(cases[c].name, loss_fwd, &k, z, 35, dz, 1, NULL, 1e-2f, 2e-5, 2e-3);
    }
    /* soft targets (rows of mixed and vote-like distributions) and logit offsets */
    float targets[35], offset[7];
    for (int r = 0; r < 5; r++) {
        float sum = 0;
        for (int j = 0; j < 7; j++)
            sum += targets[r * 7 + j] = (float)((r * 3 + j * 5) % 7);
        for (int j = 0; j < 7; j++)
            targets[r * 7 + j] /= sum;
    }
    for (int j = 0; j < 7; j++)
        offset[j] = logf((float)(j + 1) / 28.0f);
    struct {
        const char *name;
        fer_loss_kind kind;
        float smoothing;
        int weighted, soft, offsets;
    } soft_cases[] = {
        {"loss soft ce", FER_LOSS_CE, 0, 0, 1, 0},
        {"loss soft wce smoothing 0.1", FER_LOSS_WCE, 0.1f, 1, 1, 0},
        {"loss soft ce offsets", FER_LOSS_CE, 0, 0, 1, 1},
        {"loss wce offsets (labels)", FER_LOSS_WCE, 0.2f, 1, 0, 1},
        {"loss focal offsets (labels)", FER_LOSS_FOCAL, 0, 1, 0, 1},
    };
    for (size_t c = 0; c < sizeof soft_cases / sizeof *soft_cases; c++) {
        loss_ctx k = {{5, 7, soft_cases[c].kind, 2.0f, soft_cases[c].smoothing,
                       soft_cases[c].soft ? targets : NULL, soft_cases[c].offsets ? offset : NULL},
                      z, soft_cases[c].soft ? NULL : labels, soft_cases[c].weighted ? w : NULL};
        CHECK(fer_ref_loss_forward_backward(NULL, &k.a, z, k.labels, k.w, &loss, dz) == FER_OK,
              "loss");
        CHECK(isfinite(loss) && loss > 0, "%s = %g", soft_cases[c].name, loss);
        gradcheck(soft_cases[c].name, loss_fwd, &k, z, 35, dz, 1, NULL, 1e-2f, 2e-5, 2e-3);
    }
}

/* ---- whole networks -------------------------------------------------------------------- */

typedef struct net_ctx {
    fer_model *m;
    const float *x;
    const int32_t *labels;
    fer_loss_config lc;
    int n;
    float *host; /* tensor under test */
    const char *tensor;
    size_t numel;
} net_ctx;

static void net_fwd(void *c, float *y)
{
    net_ctx *k = c;
    OK(fer_model_set_tensor(k->m, k->tensor, k->host, k->numel));
    OK(fer_model_forward(k->m, k->x, k->n, FER_MODE_TRAIN, k->labels, 5, NULL));
    OK(fer_model_loss(k->m, &k->lc, k->labels, y));
}

/* A small net with every layer kind: conv (bias, stride 2), BN, ReLU, max-pool, flatten,
 * linear, dropout. */
static const char *net_json =
    "{\"name\":\"gradnet\",\"input\":[2,8,8],\"classes\":4,\"layers\":["
    "{\"type\":\"conv2d\",\"out\":3,\"k\":3,\"stride\":1,\"pad\":1,\"bias\":false},"
    "{\"type\":\"batchnorm2d\"},{\"type\":\"relu\"},{\"type\":\"maxpool2d\",\"k\":2},"
    "{\"type\":\"conv2d\",\"out\":4,\"k\":3,\"stride\":2,\"pad\":1,\"bias\":true},"
    "{\"type\":\"flatten\"},{\"type\":\"linear\",\"out\":6},{\"type\":\"relu\"},"
    "{\"type\":\"dropout\",\"p\":0.25},{\"type\":\"linear\",\"out\":5}]}";

/* The activation and average-pooling layers in one net: leaky_relu, hardswish, avgpool2d with
 * padding, relu6, global_avgpool, flatten, sigmoid. */
static const char *act_net_json =
    "{\"name\":\"gradnet_act\",\"input\":[2,8,6],\"classes\":4,\"layers\":["
    "{\"type\":\"conv2d\",\"out\":3,\"k\":3,\"stride\":1,\"pad\":1,\"bias\":true},"
    "{\"type\":\"leaky_relu\",\"slope\":0.1},{\"type\":\"avgpool2d\",\"k\":3,\"stride\":2,"
    "\"pad\":1},{\"type\":\"conv2d\",\"out\":5,\"k\":3,\"stride\":1,\"pad\":1,"
    "\"bias\":true},{\"type\":\"hardswish\"},{\"type\":\"relu6\"},"
    "{\"type\":\"global_avgpool\"},{\"type\":\"flatten\"},{\"type\":\"linear\",\"out\":6},"
    "{\"type\":\"sigmoid\"},{\"type\":\"linear\",\"out\":5}]}";

/* A graph with every multi-input op: a residual add, an SE gate (global_avgpool-flatten-
 * linear-sigmoid, then mul), channel_pad, a three-way concat, then batchnorm1d. "a1" feeds three
 * nodes and "r1" three: their gradients are sums over branches. Smooth activations (sigmoid,
 * hardswish away from +-3) keep kinks out of the early layers, where a step of h that crosses
 * one (prelu or relu at 0, amplified by the batch norms) gives 10-20% errors; prelu's own
 * gradients are checked op by op and against PyTorch (golden resnet). */
static const char *graph_net_json =
    "{\"name\":\"gradnet_graph\",\"input\":[2,8,8],\"classes\":4,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":4,\"k\":3,\"pad\":1},"
    "{\"name\":\"a1\",\"type\":\"sigmoid\"},"
    "{\"name\":\"ca\",\"type\":\"conv2d\",\"out\":4,\"k\":3,\"pad\":1,\"bias\":false},"
    "{\"name\":\"ba\",\"type\":\"batchnorm2d\"},"
    "{\"name\":\"s1\",\"type\":\"add\",\"inputs\":[\"ba\",\"a1\"]},"
    "{\"name\":\"r1\",\"type\":\"hardswish\"},"
    "{\"name\":\"gp\",\"type\":\"global_avgpool\"},{\"name\":\"gf\",\"type\":\"flatten\"},"
    "{\"name\":\"gl\",\"type\":\"linear\",\"out\":4},{\"name\":\"gs\",\"type\":\"sigmoid\"},"
    "{\"name\":\"m1\",\"type\":\"mul\",\"inputs\":[\"r1\",\"gs\"]},"
    "{\"name\":\"pd\",\"type\":\"channel_pad\",\"out\":6,\"inputs\":[\"a1\"]},"
    "{\"name\":\"cat\",\"type\":\"concat\",\"inputs\":[\"m1\",\"pd\",\"r1\"]},"
    "{\"name\":\"ap\",\"type\":\"avgpool2d\",\"k\":2},{\"name\":\"f\",\"type\":\"flatten\"},"
    "{\"name\":\"l1\",\"type\":\"linear\",\"out\":6},{\"name\":\"bn1\",\"type\":\"batchnorm1d\"},"
    "{\"name\":\"h\",\"type\":\"hardswish\"},{\"name\":\"l2\",\"type\":\"linear\",\"out\":5}]}";

/* The face detector's pieces (data/models/convert_blazeface.c): pad2d with more after than
 * before feeding a stride-2 depthwise conv (TensorFlow "SAME"), and two heads of different plane
 * sizes flattened and concatenated into one flat output. */
static const char *detector_net_json =
    "{\"name\":\"gradnet_detector\",\"input\":[2,8,8],\"classes\":4,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":4,\"k\":3,\"pad\":1},"
    "{\"name\":\"a1\",\"type\":\"sigmoid\"},"
    "{\"name\":\"p\",\"type\":\"pad2d\",\"top\":0,\"left\":1,\"bottom\":2,\"right\":1},"
    "{\"name\":\"dw\",\"type\":\"conv2d\",\"out\":4,\"k\":3,\"stride\":2,\"pad\":0,"
    "\"groups\":4,\"bias\":false},"
    "{\"name\":\"hs\",\"type\":\"hardswish\"},"
    "{\"name\":\"h1\",\"type\":\"conv2d\",\"out\":2,\"k\":1},"
    "{\"name\":\"f1\",\"type\":\"flatten\"},"
    "{\"name\":\"h2\",\"type\":\"conv2d\",\"out\":3,\"k\":1,\"inputs\":[\"a1\"]},"
    "{\"name\":\"f2\",\"type\":\"flatten\"},"
    "{\"name\":\"cat\",\"type\":\"concat\",\"inputs\":[\"f1\",\"f2\"]},"
    "{\"name\":\"l\",\"type\":\"linear\",\"out\":5}]}";

static void check_network(const char *json, fer_head_kind head, fer_loss_kind kind,
                          float smoothing)
{
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_arch arch;
    OK(fer_arch_from_json(json, "<gradnet>", &arch));
    arch.head = head;
    arch.arc_s = 8.0f; /* a smaller scale keeps float differences well conditioned */
    fer_model *m;
    OK(fer_model_new(&arch, b, 6, &m));
    OK(fer_model_init(m, 3));
    enum { N = 6 };
    float x[N * 2 * 8 * 8];
    fill_sym(x, sizeof x / sizeof *x, 20, 1.0f);
    int32_t labels[N] = {0, 1, 2, 3, 1, 2};
    net_ctx k = {m, x, labels, {.kind = kind, .gamma = 2.0f, .label_smoothing = smoothing}, N,
                 NULL, NULL, 0};
    k.lc.use_class_weights = 1;
    const float cw[4] = {0.7f, 1.4f, 1.1f, 0.8f};
    memcpy(k.lc.class_weights, cw, sizeof cw);
    float loss;
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        if (ti.role != FER_TENSOR_PARAM)
            continue;
        float *host = malloc(ti.numel * 4), *grad = malloc(ti.numel * 4);
        OK(fer_model_get_tensor(m, ti.name, host, ti.numel));
        k.host = host;
        k.tensor = ti.name;
        k.numel = ti.numel;
        net_fwd(&k, &loss);
        OK(fer_model_backward(m));
        OK(fer_model_get_grad(m, ti.name, grad, ti.numel));
        char name[96];
        snprintf(name, sizeof name, "net %s/%d %s", head == FER_HEAD_ARCFACE ? "arc" : "soft",
                 (int)kind, ti.name);
        gradcheck(name, net_fwd, &k, host, ti.numel, grad, 1, NULL, 1e-3f, 5e-4, 5e-2);
        free(host);
        free(grad);
    }
    fer_model_free(m);
    fer_backend_free(b);
}

int main(void)
{
    check_conv(2, 5, 6, 3, 3, 1, 1, 1, 1);
    check_conv(3, 7, 7, 2, 3, 2, 0, 0, 1);
    check_conv(2, 6, 5, 2, 1, 1, 0, 1, 1);
    check_conv(4, 5, 6, 6, 3, 1, 1, 1, 2); /* grouped */
    check_conv(3, 6, 5, 3, 3, 2, 1, 1, 3); /* depthwise, stride 2 */
    check_conv(3, 7, 6, 6, 5, 1, 2, 0, 3); /* depthwise 5x5, multiplier 2 */
    check_batchnorm();
    check_relu_pool_dropout();
    check_activations_avgpool();
    check_linear();
    check_heads();
    check_losses();
    check_network(net_json, FER_HEAD_SOFTMAX, FER_LOSS_CE, 0.0f);
    check_network(net_json, FER_HEAD_SOFTMAX, FER_LOSS_WCE, 0.1f);
    check_network(net_json, FER_HEAD_SOFTMAX, FER_LOSS_FOCAL, 0.0f);
    check_network(net_json, FER_HEAD_ARCFACE, FER_LOSS_CE, 0.0f);
    check_network(act_net_json, FER_HEAD_SOFTMAX, FER_LOSS_CE, 0.0f);
    check_network(act_net_json, FER_HEAD_ARCFACE, FER_LOSS_CE, 0.0f);
    check_network(graph_net_json, FER_HEAD_SOFTMAX, FER_LOSS_CE, 0.0f);
    check_network(graph_net_json, FER_HEAD_ARCFACE, FER_LOSS_FOCAL, 0.0f);
    check_network(detector_net_json, FER_HEAD_SOFTMAX, FER_LOSS_CE, 0.0f);
    return fer_check_summary("test_gradcheck");
}
