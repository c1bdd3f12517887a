/* The CUDA kernels' per-thread bodies (model/src/backend_cuda/cuda_kernel_bodies.h), run on
 * the CPU over every index and compared bit for bit with the ref backend / preprocess.c. This
 * needs no GPU and no CUDA toolkit: it is what makes the GPU's custom math tested everywhere.
 * (The thread mapping and the cuDNN/cuBLAS paths are covered by test_cuda_smoke on a GPU.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_kernel_bodies.h"
#include "fer/backend.h"
#include "fer/preprocess.h"

#define FER_CHECK_CONTINUE /* report every mismatch, not only the first */
#include "../common/fer_check.h"

static int irand(int n) { return (int)(((frand() + 1.0f) * 0.5f) * (float)n) % n; }

static float *randv(size_t n, float scale)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand() * scale;
    return v;
}

/* bitwise equality (NaN == NaN) */
static int same(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            CHECK(0, "%s: element %zu differs: body %.9g ref %.9g", what, i, a[i], b[i]);
            return 0;
        }
    }
    return 1;
}

static void test_maxpool(fer_backend *ref)
{
    const fer_pool_args cases[] = {
        {2, 3, 8, 8, 4, 4, 2, 2},  /* the SimpleCNN pool */
        {1, 2, 7, 9, 3, 4, 3, 2},  /* overlapping windows, ragged edge */
        {2, 1, 5, 5, 2, 2, 2, 2},  /* last row/column unused */
        {1, 1, 6, 6, 5, 5, 2, 1},  /* stride 1 */
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const fer_pool_args *a = &cases[t];
        size_t nin = (size_t)a->n * a->c * a->in_h * a->in_w;
        size_t nout = (size_t)a->n * a->c * a->out_h * a->out_w;
        float *x = randv(nin, 1.0f);
        for (size_t i = 0; i < nin; i += 7)
            x[i] = x[i / 2]; /* ties */
        if (t == 1)
            x[5] = NAN;
        float *y0 = calloc(nout, 4), *y1 = calloc(nout, 4), *dy = randv(nout, 1.0f);
        int32_t *am0 = calloc(nout, 4), *am1 = calloc(nout, 4);
        float *dx0 = calloc(nin, 4), *dx1 = calloc(nin, 4);
        for (size_t o = 0; o < nout; o++)
            fer_kb_maxpool_forward(o, a, x, y1, am1);
        for (size_t i = 0; i < nin; i++)
            fer_kb_maxpool_backward(i, a, am1, dy, dx1);
        OK(ref->ops->maxpool_forward(ref, a, x, y0, am0));
        OK(ref->ops->maxpool_backward(ref, a, am0, dy, dx0));
        same(y1, y0, nout, "maxpool y");
        CHECK(memcmp(am0, am1, nout * 4) == 0, "maxpool argmax case %zu", t);
        same(dx1, dx0, nin, "maxpool dx");
        free(x), free(y0), free(y1), free(dy), free(am0), free(am1), free(dx0), free(dx1);
    }
}

static void test_linear_bias(fer_backend *ref)
{
    fer_linear_args a = {5, 6, 4, 1};
    float *x = randv(30, 1.0f), *w = randv(24, 1.0f), *dy = randv(20, 1.0f);
    float *dx = calloc(30, 4), *dw = calloc(24, 4), *db0 = calloc(4, 4), *db1 = calloc(4, 4);
    float bias[4] = {0.5f, -1.0f, 2.0f, 0.25f}, y[20];
    for (int c = 0; c < a.out; c++)
        fer_kb_col_sum(c, a.n, a.out, dy, db1);
    OK(ref->ops->linear_backward(ref, &a, x, w, dy, dx, dw, db0));
    same(db1, db0, 4, "linear dbias");
    for (size_t i = 0; i < 20; i++)
        fer_kb_bias_rows(i, a.out, bias, y);
    for (size_t i = 0; i < 20; i++)
        CHECK(y[i] == bias[i % 4], "bias broadcast %zu", i);
    free(x), free(w), free(dy), free(dx), free(dw), free(db0), free(db1);
}

static void test_dropout(fer_backend *ref)
{
    const size_t n = 4096;
    const float ps[] = {0.0f, 0.3f, 0.5f, 1.0f};
    float *x = randv(n, 2.0f), *y0 = calloc(n, 4), *y1 = calloc(n, 4);
    for (size_t t = 0; t < 4; t++) {
        uint64_t seed = fer_dropout_layer_seed(1234u + t, 9);
        float scale = fer_dropout_scale(ps[t]);
        for (size_t i = 0; i < n; i++)
            fer_kb_dropout(i, ps[t], seed, 0, scale, x, y1);
        OK(ref->ops->dropout_forward(ref, n, ps[t], seed, 0, x, y0));
        same(y1, y0, n, "dropout forward");
        OK(ref->ops->dropout_backward(ref, n, ps[t], seed, 0, x, y0));
        same(y1, y0, n, "dropout backward");
    }
    free(x), free(y0), free(y1);
}

static void test_activations(fer_backend *ref)
{
    const size_t n = 4096;
    float *x = randv(n, 8.0f), *dy = randv(n, 1.0f);
    const float kinks[] = {0.0f, -0.0f, 3.0f, -3.0f, 6.0f, -6.0f, NAN};
    for (size_t i = 0; i < sizeof kinks / sizeof *kinks; i++)
        x[i] = kinks[i];
    float *y0 = calloc(n, 4), *y1 = calloc(n, 4), *dx0 = calloc(n, 4), *dx1 = calloc(n, 4);
    for (int k = FER_ACT_LEAKY_RELU; k <= FER_ACT_SIGMOID; k++) {
        fer_activation kind = (fer_activation)k;
        for (size_t i = 0; i < n; i++) {
            fer_kb_activation_forward(i, kind, 0.1f, x, y1);
            fer_kb_activation_backward(i, kind, 0.1f, x, dy, dx1);
        }
        OK(ref->ops->activation_forward(ref, kind, 0.1f, n, x, y0));
        OK(ref->ops->activation_backward(ref, kind, 0.1f, n, x, dy, dx0));
        same(y1, y0, n, "activation forward");
        same(dx1, dx0, n, "activation backward");
    }
    free(x), free(dy), free(y0), free(y1), free(dx0), free(dx1);
}

static void test_avgpool(fer_backend *ref)
{
    const fer_avgpool_args cases[] = {
        {2, 3, {7, 9, 3, 4, 2, 2, 2, 2, 0, 0}},  /* ragged edge */
        {1, 2, {9, 7, 5, 4, 3, 3, 2, 2, 1, 1}},  /* stride 2, pad 1 */
        {2, 1, {6, 5, 6, 5, 3, 3, 1, 1, 1, 1}},  /* stride 1: overlapping windows */
        {3, 5, {7, 5, 1, 1, 7, 5, 1, 1, 0, 0}},  /* global */
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const fer_avgpool_args *a = &cases[t];
        size_t nin = (size_t)a->n * a->c * a->g.in_h * a->g.in_w;
        size_t nout = (size_t)a->n * a->c * a->g.out_h * a->g.out_w;
        float *x = randv(nin, 1.0f), *dy = randv(nout, 1.0f);
        float *y0 = calloc(nout, 4), *y1 = calloc(nout, 4), *dx0 = calloc(nin, 4),
              *dx1 = calloc(nin, 4);
        for (size_t o = 0; o < nout; o++)
            fer_kb_avgpool_forward(o, a, x, y1);
        for (size_t i = 0; i < nin; i++)
            fer_kb_avgpool_backward(i, a, dy, dx1);
        OK(ref->ops->avgpool_forward(ref, a, x, y0));
        OK(ref->ops->avgpool_backward(ref, a, dy, dx0));
        same(y1, y0, nout, "avgpool forward");
        same(dx1, dx0, nin, "avgpool backward");
        free(x), free(dy), free(y0), free(y1), free(dx0), free(dx1);
    }
}

/* add, channel copy, mul and PReLU, each body over every index in the launchers' order. */
static void test_graph_ops(fer_backend *ref)
{
    /* add, in place over x0 as the model accumulates gradients */
    {
        const size_t n = 1001;
        float *x0 = randv(n, 1.0f), *x1 = randv(n, 2.0f), *y0 = calloc(n, 4), *acc = malloc(n * 4);
        memcpy(acc, x0, n * 4);
        for (size_t i = 0; i < n; i++)
            fer_kb_add(i, acc, x1, acc);
        OK(ref->ops->add(ref, n, x0, x1, y0));
        same(acc, y0, n, "add (y == x0)");
        free(x0), free(x1), free(y0), free(acc);
    }
    /* channel copy: offsets on both sides; channels outside the block keep their values */
    const fer_channel_copy_args copies[] = {
        {3, 35, 3, 5, 1, 9, 4}, {1, 13, 4, 4, 0, 7, 3}, {3, 42, 2, 5, 3, 2, 0}};
    for (size_t t = 0; t < sizeof copies / sizeof copies[0]; t++) {
        const fer_channel_copy_args *a = &copies[t];
        size_t ns = (size_t)a->n * a->src_c * a->hw, nd = (size_t)a->n * a->dst_c * a->hw;
        float *src = randv(ns, 1.0f), *d0 = randv(nd, 1.0f), *d1 = malloc(nd * 4);
        memcpy(d1, d0, nd * 4);
        for (size_t i = 0; i < (size_t)a->n * a->c * a->hw; i++)
            fer_kb_channel_copy(i, a, src, d1);
        OK(ref->ops->channel_copy(ref, a, src, d0));
        same(d1, d0, nd, "channel copy");
        free(src), free(d0), free(d1);
    }
    /* mul: per-channel gate (with a 1x1 plane) and a gate of x's shape */
    const fer_mul_args muls[] = {{3, 5, 63, 1}, {1, 3, 1, 1}, {3, 5, 63, 63}};
    for (size_t t = 0; t < sizeof muls / sizeof muls[0]; t++) {
        const fer_mul_args *a = &muls[t];
        size_t nx = (size_t)a->n * a->c * a->hw, planes = (size_t)a->n * a->c;
        size_t ng = planes * a->g_hw;
        float *x = randv(nx, 1.0f), *g = randv(ng, 1.0f), *dy = randv(nx, 1.0f);
        float *y0 = calloc(nx, 4), *y1 = calloc(nx, 4), *dx0 = calloc(nx, 4),
              *dx1 = calloc(nx, 4), *dg0 = calloc(ng, 4), *dg1 = calloc(ng, 4);
        for (size_t i = 0; i < nx; i++) {
            fer_kb_mul_forward(i, a, x, g, y1);
            fer_kb_mul_dx(i, a, g, dy, dx1);
            if (a->g_hw != 1)
                fer_kb_mul_dg_elem(i, x, dy, dg1);
        }
        if (a->g_hw == 1)
            for (size_t p = 0; p < planes; p++)
                fer_kb_mul_dg_plane(p, a->hw, x, dy, dg1);
        OK(ref->ops->mul_forward(ref, a, x, g, y0));
        OK(ref->ops->mul_backward(ref, a, x, g, dy, dx0, dg0));
        same(y1, y0, nx, "mul forward");
        same(dx1, dx0, nx, "mul dx");
        same(dg1, dg0, ng, "mul dg");
        free(x), free(g), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(dg0), free(dg1);
    }
    /* PReLU: zeros in x, a negative slope; backward in place (dx over dy) after dw, as the
     * launcher orders it */
    const fer_prelu_args prelus[] = {{3, 5, 63}, {1, 3, 1}, {2, 7, 35}};
    for (size_t t = 0; t < sizeof prelus / sizeof prelus[0]; t++) {
        const fer_prelu_args *a = &prelus[t];
        size_t nx = (size_t)a->n * a->c * a->hw, planes = (size_t)a->n * a->c;
        float *x = randv(nx, 1.0f), *w = randv((size_t)a->c, 0.5f), *dy = randv(nx, 1.0f);
        for (size_t i = 0; i < nx; i += 4)
            x[i] = 0.0f;
        w[0] = -0.5f;
        float *y0 = calloc(nx, 4), *y1 = calloc(nx, 4), *dx0 = calloc(nx, 4),
              *dx1 = malloc(nx * 4), *dw0 = calloc((size_t)a->c, 4),
              *dw1 = calloc((size_t)a->c, 4);
        double *partial = calloc(planes, sizeof *partial);
        memcpy(dx1, dy, nx * 4);
        for (size_t i = 0; i < nx; i++)
            fer_kb_prelu_forward(i, a, x, w, y1);
        for (size_t p = 0; p < planes; p++)
            fer_kb_prelu_dw_plane(p, a->hw, x, dx1, partial);
        for (int c = 0; c < a->c; c++)
            fer_kb_prelu_dw_channel(c, a, partial, dw1);
        for (size_t i = 0; i < nx; i++)
            fer_kb_prelu_dx(i, a, x, w, dx1, dx1);
        OK(ref->ops->prelu_forward(ref, a, x, w, y0));
        OK(ref->ops->prelu_backward(ref, a, x, w, dy, dx0, dw0));
        same(y1, y0, nx, "prelu forward");
        same(dx1, dx0, nx, "prelu dx (in place)");
        /* dw: plane sums then samples, ref one pass per channel; both in double, so the
         * float results are at most an ulp apart (relative 1e-6 allows a few) */
        for (int c = 0; c < a->c; c++)
            CHECK(fabs((double)dw1[c] - dw0[c]) <= 1e-6 * fabs((double)dw0[c]) + 1e-30,
                  "prelu dw[%d]: body %.9g ref %.9g", c, (double)dw1[c], (double)dw0[c]);
        free(x), free(w), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(dw0),
            free(dw1), free(partial);
    }
}

static void test_optimizer(fer_backend *ref)
{
    const size_t n = 257;
    fer_optim_args cases[] = {
        {FER_OPTIM_ADAM, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, 0, 0, 1},
        {FER_OPTIM_ADAM, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, 0, 0, 0, 7},
        {FER_OPTIM_ADAMW, 3e-4f, 0.8f, 0.99f, 1e-6f, 1e-2f, 0, 0, 0, 3},
        {FER_OPTIM_SGD, 0.05f, 0, 0, 0, 5e-4f, 0.9f, 0.0f, 1, 1},
        {FER_OPTIM_SGD, 0.05f, 0, 0, 0, 0.0f, 0.9f, 0.1f, 0, 4},
        {FER_OPTIM_SGD, 0.05f, 0, 0, 0, 0.0f, 0.0f, 0.0f, 0, 2},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        float *p0 = randv(n, 1.0f), *g = randv(n, 0.1f), *m0 = randv(n, 0.01f);
        float *v0 = randv(n, 0.01f);
        for (size_t i = 0; i < n; i++)
            v0[i] = fabsf(v0[i]);
        float *p1 = malloc(n * 4), *m1 = malloc(n * 4), *v1 = malloc(n * 4);
        memcpy(p1, p0, n * 4), memcpy(m1, m0, n * 4), memcpy(v1, v0, n * 4);
        fer_optim_coeffs k = fer_optim_make_coeffs(&cases[t]);
        for (size_t i = 0; i < n; i++)
            fer_kb_optim(i, &k, p1, g, m1, v1);
        OK(ref->ops->optimizer_step(ref, &cases[t], n, p0, g, m0, v0));
        same(p1, p0, n, "optimizer param");
        same(m1, m0, n, "optimizer m");
        same(v1, v0, n, "optimizer v");
        free(p0), free(g), free(m0), free(v0), free(p1), free(m1), free(v1);
    }
}

static void test_heads(fer_backend *ref)
{
    const int rows = 6, dim = 16, c = 7;
    float *x = randv((size_t)rows * dim, 1.0f), *dy = randv((size_t)rows * dim, 1.0f);
    for (int i = 0; i < dim; i++)
        x[2 * dim + i] = 0.0f; /* a zero row: the eps branch */
    float *y0 = calloc((size_t)rows * dim, 4), *y1 = calloc((size_t)rows * dim, 4);
    float n0[6], n1[6];
    float *dx0 = calloc((size_t)rows * dim, 4), *dx1 = calloc((size_t)rows * dim, 4);
    for (int r = 0; r < rows; r++)
        fer_kb_l2norm_row_forward(r, dim, x, y1, n1);
    OK(ref->ops->l2norm_rows_forward(ref, rows, dim, x, y0, n0));
    same(y1, y0, (size_t)rows * dim, "l2norm y");
    same(n1, n0, rows, "l2norm norms");
    for (int r = 0; r < rows; r++)
        fer_kb_l2norm_row_backward(r, dim, x, n0, dy, dx1);
    OK(ref->ops->l2norm_rows_backward(ref, rows, dim, x, n0, dy, dx0));
    same(dx1, dx0, (size_t)rows * dim, "l2norm dx");

    fer_arcface_args aa = {rows, c, 30.0f, 0.5f};
    float *cosv = randv((size_t)rows * c, 1.0f), *dl = randv((size_t)rows * c, 1.0f);
    cosv[0] = 1.0f, cosv[1] = -1.0f, cosv[2] = -0.95f; /* clamp and th branches */
    int32_t labels[6] = {0, 1, 2, 6, 3, 0};
    float *l0 = calloc((size_t)rows * c, 4), *l1 = calloc((size_t)rows * c, 4);
    fer_arcface_consts k = fer_arcface_make_consts(aa.s, aa.m);
    for (int withl = 0; withl < 2; withl++) {
        const int32_t *lab = withl ? labels : NULL;
        for (size_t i = 0; i < (size_t)rows * c; i++)
            fer_kb_arcface_forward(i, c, &k, cosv, lab, l1);
        OK(ref->ops->arcface_forward(ref, &aa, cosv, lab, l0));
        same(l1, l0, (size_t)rows * c, "arcface logits");
        for (size_t i = 0; i < (size_t)rows * c; i++)
            fer_kb_arcface_backward(i, c, &k, cosv, lab, dl, l1);
        OK(ref->ops->arcface_backward(ref, &aa, cosv, lab, dl, l0));
        same(l1, l0, (size_t)rows * c, "arcface dcos");
    }
    for (int r = 0; r < rows; r++)
        fer_kb_softmax_row(r, c, dl, l1);
    OK(ref->ops->softmax_rows(ref, rows, c, dl, l0));
    same(l1, l0, (size_t)rows * c, "softmax");
    free(x), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(cosv), free(dl), free(l0),
        free(l1);
}

static void test_loss(fer_backend *ref)
{
    enum { N = 9, C = 7 };
    float *z = randv(N * C, 4.0f);
    int32_t labels[N] = {0, 1, 2, 3, 4, 5, 6, 3, 3};
    float w[C] = {0.5f, 2.0f, 1.0f, 0.75f, 1.5f, 0.25f, 1.0f};
    struct { fer_loss_kind kind; float gamma, smooth; int weighted; } cases[] = {
        {FER_LOSS_CE, 0, 0, 0},    {FER_LOSS_WCE, 0, 0, 1},      {FER_LOSS_FOCAL, 2, 0, 0},
        {FER_LOSS_FOCAL, 2, 0, 1}, {FER_LOSS_CE, 0, 0.1f, 0},    {FER_LOSS_WCE, 0, 0.2f, 1},
        {FER_LOSS_FOCAL, 1.5f, 0.1f, 1},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        fer_loss_args a = {N, C, cases[t].kind, cases[t].gamma, cases[t].smooth, NULL, NULL};
        const float *cw = cases[t].weighted ? w : NULL;
        float d0[N * C], d1[N * C], num[N], den[N], loss0 = 0;
        fer_kb_loss_result res;
        for (int r = 0; r < N; r++)
            CHECK(fer_kb_loss_row(r, &a, z, labels, cw, d1, num, den), "valid label row %d", r);
        fer_kb_loss_finalize(N, num, den, &res);
        for (int i = 0; i < N * C; i++)
            d1[i] *= res.inv; /* what the scale kernel does */
        OK(ref->ops->loss_forward_backward(ref, &a, z, labels, cw, &loss0, d0));
        same(&res.loss, &loss0, 1, "loss value");
        same(d1, d0, N * C, "loss dlogits");
    }
    /* soft targets (rows of a distribution; row 0 one-hot) and logit offsets */
    float targets[N * C], offset[C];
    for (int r = 0; r < N; r++) {
        float sum = 0.0f;
        for (int j = 0; j < C; j++) {
            targets[r * C + j] = r == 0 ? (j == 2) : (float)((r * 5 + j * 3) % 7);
            sum += targets[r * C + j];
        }
        for (int j = 0; j < C; j++)
            targets[r * C + j] /= sum;
    }
    for (int j = 0; j < C; j++)
        offset[j] = logf((float)(j + 1) / 28.0f);
    struct { fer_loss_kind kind; float smooth; int weighted, soft, offs; } soft_cases[] = {
        {FER_LOSS_CE, 0, 0, 1, 0},    {FER_LOSS_WCE, 0.1f, 1, 1, 0}, {FER_LOSS_CE, 0, 0, 0, 1},
        {FER_LOSS_FOCAL, 0, 1, 0, 1}, {FER_LOSS_WCE, 0.2f, 1, 1, 1},
    };
    for (size_t t = 0; t < sizeof soft_cases / sizeof soft_cases[0]; t++) {
        fer_loss_args a = {N, C, soft_cases[t].kind, 2.0f, soft_cases[t].smooth,
                           soft_cases[t].soft ? targets : NULL, soft_cases[t].offs ? offset : NULL};
        const float *cw = soft_cases[t].weighted ? w : NULL;
        const int32_t *lab = soft_cases[t].soft ? NULL : labels;
        float d0[N * C], d1[N * C], num[N], den[N], loss0 = 0;
        fer_kb_loss_result res;
        for (int r = 0; r < N; r++)
            CHECK(fer_kb_loss_row(r, &a, z, lab, cw, d1, num, den), "soft case %zu row %d", t, r);
        fer_kb_loss_finalize(N, num, den, &res);
        for (int i = 0; i < N * C; i++)
            d1[i] *= res.inv;
        OK(ref->ops->loss_forward_backward(ref, &a, z, lab, cw, &loss0, d0));
        same(&res.loss, &loss0, 1, "soft/offset loss value");
        same(d1, d0, N * C, "soft/offset loss dlogits");
    }
    {
        fer_loss_args a = {N, C, FER_LOSS_FOCAL, 2.0f, 0, targets, NULL};
        float d0[N * C], loss0 = 0;
        CHECK(ref->ops->loss_forward_backward(ref, &a, z, NULL, NULL, &loss0, d0) == FER_ERR_ARG,
              "focal with soft targets refused");
    }
    fer_loss_args a = {N, C, FER_LOSS_CE, 0, 0, NULL, NULL};
    int32_t bad[N] = {0, 1, 2, 3, 7, 5, 6, 3, -1};
    float num[N], den[N];
    CHECK(!fer_kb_loss_row(4, &a, z, bad, NULL, NULL, num, den), "label 7 of 7 classes rejected");
    CHECK(!fer_kb_loss_row(8, &a, z, bad, NULL, NULL, num, den), "label -1 rejected");
    CHECK(num[4] == 0.0f && den[4] == 0.0f, "rejected row contributes nothing");
    free(z);
}

static void test_amp_scale(void)
{
    const float maxima[] = {1e-30f, 3e-8f, 1e-5f, 0.015f, 1.0f, 4095.0f, 4096.0f, 1e6f, 3e38f};
    for (size_t i = 0; i < sizeof maxima / sizeof maxima[0]; i++) {
        float s = fer_kb_amp_scale_for(maxima[i]);
        int e;
        CHECK(frexpf(s, &e) == 0.5f, "scale %g for max %g is a power of two", s, maxima[i]);
        double scaled = (double)maxima[i] * s;
        CHECK(scaled >= 2048.0 && scaled < 4096.0, "max %g scaled to %g, want [2048, 4096)",
              maxima[i], scaled);
    }
    CHECK(fer_kb_amp_scale_for(1e-44f) == ldexpf(1.0f, 127), "subnormal max: largest scale");
    CHECK(fer_kb_amp_scale_for(0.0f) == 1.0f, "zero gradient: scale 1");
    CHECK(fer_kb_amp_scale_for(INFINITY) == 1.0f, "inf: scale 1");
    CHECK(fer_kb_amp_scale_for(NAN) == 1.0f, "nan: scale 1");
    CHECK(fer_kb_abs_bits(-2.5f) == fer_kb_abs_bits(2.5f), "abs bits ignore sign");
    CHECK(fer_kb_abs_bits(3.0f) > fer_kb_abs_bits(2.9f), "abs bits keep order");
    CHECK(fer_kb_float_from_bits(fer_kb_abs_bits(-7.25f)) == 7.25f, "bits round trip");
}

static void test_faces(void)
{
    const int w = 173, h = 131, stride = 180;
    uint8_t *frame = malloc((size_t)stride * h);
    for (int i = 0; i < stride * h; i++)
        frame[i] = (uint8_t)((i * 37 + (i / stride) * 11 + irand(40)) & 255);
    enum { NB = 12 };
    int32_t boxes[NB][4] = {
        {10, 10, 48, 48},  {0, 0, 24, 24},     {150, 100, 40, 40}, {60, 30, 100, 100},
        {-20, -5, 30, 60}, {5, 70, 300, 200},  {80, 60, 1, 1},     {30, 40, 96, 72},
        {100, 20, 17, 33}, {2, 3, 0, 0},       {40, 50, 47, 49},   {120, 90, 53, 41},
    };
    fer_face_batch_args a = {NB, w, h, stride, 0.2f, 0.5f, 0.5f};
    fer_norm norm = {0.5f, 0.5f};
    const size_t plane = FER_INPUT_SIZE * FER_INPUT_SIZE;
    float *x = malloc(NB * plane * sizeof(float)), ref[FER_INPUT_SIZE * FER_INPUT_SIZE];
    for (size_t i = 0; i < NB * plane; i++)
        fer_kb_face_pixel(i, &a, frame, &boxes[0][0], x);
    for (int f = 0; f < NB; f++) {
        uint8_t face[FER_INPUT_SIZE * FER_INPUT_SIZE];
        fer_crop_face_48(frame, w, h, stride, boxes[f][0], boxes[f][1], boxes[f][2],
                         boxes[f][3], a.margin, face);
        fer_normalize_u8(face, plane, &norm, ref);
        char what[64];
        snprintf(what, sizeof what, "face %d (box %d,%d %dx%d)", f, boxes[f][0], boxes[f][1],
                 boxes[f][2], boxes[f][3]);
        same(x + f * plane, ref, plane, what);
        fer_crop_rect r = fer_face_crop_rect(w, h, boxes[f][0], boxes[f][1], boxes[f][2],
                                             boxes[f][3], a.margin);
        CHECK(r.x >= 0 && r.y >= 0 && r.side >= 1 && r.x + r.side <= w && r.y + r.side <= h,
              "%s: crop %d,%d side %d inside the frame", what, r.x, r.y, r.side);
    }
    /* independent check of the area filter: a 2x2-block image halves to its block means */
    uint8_t src[96 * 96], out[48 * 48];
    for (int y = 0; y < 96; y++)
        for (int xx = 0; xx < 96; xx++)
            src[y * 96 + xx] = (uint8_t)((y / 2 * 5 + xx / 2 * 3) & 255);
    for (int y = 0; y < 48; y++)
        for (int xx = 0; xx < 48; xx++)
            out[y * 48 + xx] = fer_resize_pixel(src, 96, 96, 96, 48, 48, xx, y);
    int bad = 0;
    for (int y = 0; y < 48; y++)
        for (int xx = 0; xx < 48; xx++)
            bad += out[y * 48 + xx] != (uint8_t)((y * 5 + xx * 3) & 255);
    CHECK(bad == 0, "2:1 area resize of a block image keeps the blocks (%d wrong)", bad);
    free(frame), free(x);
}

int main(void)
{
    fer_backend *ref = NULL;
    if (fer_backend_new("ref", 1, &ref) != FER_OK) {
        printf("FAIL: cannot create the ref backend: %s\n", fer_last_error());
        return 1;
    }
    test_maxpool(ref);
    test_linear_bias(ref);
    test_dropout(ref);
    test_activations(ref);
    test_avgpool(ref);
    test_graph_ops(ref);
    test_optimizer(ref);
    test_heads(ref);
    test_loss(ref);
    test_amp_scale();
    test_faces();
    fer_backend_free(ref);
    if (fer_check_summary("test_cuda_bodies"))
        return 1;
    printf("cuda kernel bodies match the ref backend and preprocess.c\n");
    return 0;
}
