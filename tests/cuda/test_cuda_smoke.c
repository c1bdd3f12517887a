/* GPU smoke test (needs a CUDA device; exits 77 = SKIP without one):
 *  1. the cuDNN/cuBLAS ops on a few shapes against ref (conv, batch norm, ReLU, linear,
 *     max-pool, loss), through the backend interface;
 *  2. a whole training step of SimpleCNN (softmax + CE, SGD-Nesterov) and of the tiny net
 *     (ArcFace + weighted focal loss with label smoothing, Adam) on cuda vs ref: logits, loss,
 *     every gradient, BN running statistics, clipped norm, parameters after the step;
 *  3. the same step with --amp precisions (FP16, BF16) within looser tolerances;
 *  4. the video element's batch path: crop_faces_48 against fer_crop_face_48, and
 *     fer_classifier on "cuda" vs "ref" for a batch larger than max_batch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fer/backend.h"
#include "fer/checkpoint.h"
#include "fer/classifier.h"
#include "fer/model.h"
#include "fer/optim.h"
#include "fer/preprocess.h"

#define FER_CHECK_CONTINUE /* report every mismatch, not only the first */
#include "../common/fer_check.h"

static float *randv(size_t n, float scale)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = frand() * scale;
    return v;
}

/* max|a-b| / max(max|b|, floor): one number per tensor, printed for the record */
static double rel_err(const float *a, const float *b, size_t n, double floor)
{
    double md = 0.0, mb = floor;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) /* NaN counts as infinite error */
            md = isnan(d) ? INFINITY : d;
        if (fabs((double)b[i]) > mb)
            mb = fabs((double)b[i]);
    }
    return md / mb;
}

/* slack: absolute error allowed on top (Adam moves a parameter by about lr whatever the
 * gradient's size, so a gradient near 0 may step either way on either backend) */
static void expect_close_slack(const char *what, const float *got, const float *want, size_t n,
                               double tol, double slack)
{
    double mb = 1e-6;
    for (size_t i = 0; i < n; i++)
        mb = fabs((double)want[i]) > mb ? fabs((double)want[i]) : mb;
    double e = rel_err(got, want, n, 1e-6);
    double allowed = tol + slack / mb;
    printf("  %-44s rel err %.2e (tol %.1e)\n", what, e, allowed);
    CHECK(e <= allowed, "%s: relative error %.3g > %.3g", what, e, allowed);
}

static void expect_close(const char *what, const float *got, const float *want, size_t n,
                         double tol)
{
    expect_close_slack(what, got, want, n, tol, 0.0);
}

/* ---- device buffers -------------------------------------------------------------------- */

static void *dev_copy(fer_backend *b, const void *host, size_t bytes)
{
    void *d = NULL;
    if (b->ops->alloc(b, bytes, &d) != FER_OK)
        return NULL;
    if (host && b->ops->upload(b, d, host, bytes) != FER_OK) {
        b->ops->release(b, d);
        return NULL;
    }
    return d;
}

static void host_copy(fer_backend *b, void *host, const void *dev, size_t bytes)
{
    OK(b->ops->download(b, host, dev, bytes));
}

/* ---- 1. ops ---------------------------------------------------------------------------- */

static void op_conv(fer_backend *g, fer_backend *r, fer_conv2d_args a)
{
    size_t nx = (size_t)a.n * a.in_c * a.in_h * a.in_w;
    size_t ny = (size_t)a.n * a.out_c * a.out_h * a.out_w;
    size_t nw = (size_t)a.out_c * (a.in_c / a.groups) * a.k * a.k;
    float *x = randv(nx, 1.0f), *w = randv(nw, 0.3f), *bias = randv((size_t)a.out_c, 0.5f);
    float *dy = randv(ny, 1.0f);
    float *y0 = calloc(ny, 4), *y1 = calloc(ny, 4), *dx0 = calloc(nx, 4), *dx1 = calloc(nx, 4);
    float *dw0 = calloc(nw, 4), *dw1 = calloc(nw, 4);
    float *db0 = calloc(a.out_c, 4), *db1 = calloc(a.out_c, 4);
    float *gx = dev_copy(g, x, nx * 4), *gw = dev_copy(g, w, nw * 4);
    float *gb = dev_copy(g, bias, (size_t)a.out_c * 4), *gdy = dev_copy(g, dy, ny * 4);
    float *gy = dev_copy(g, NULL, ny * 4), *gdx = dev_copy(g, NULL, nx * 4);
    float *gdw = dev_copy(g, NULL, nw * 4), *gdb = dev_copy(g, NULL, (size_t)a.out_c * 4);
    char what[96];
    snprintf(what, sizeof what, "conv k%d s%d p%d g%d bias%d %dx%dx%dx%d", a.k, a.stride, a.pad,
             a.groups, a.has_bias, a.n, a.in_c, a.in_h, a.in_w);
    OK(r->ops->conv2d_forward(r, &a, x, w, bias, y0));
    OK(r->ops->conv2d_backward(r, &a, x, w, dy, dx0, dw0, db0));
    OK(g->ops->conv2d_forward(g, &a, gx, gw, gb, gy));
    OK(g->ops->conv2d_backward(g, &a, gx, gw, gdy, gdx, gdw, gdb));
    host_copy(g, y1, gy, ny * 4);
    host_copy(g, dx1, gdx, nx * 4);
    host_copy(g, dw1, gdw, nw * 4);
    host_copy(g, db1, gdb, (size_t)a.out_c * 4);
    printf(" %s\n", what);
    expect_close("y", y1, y0, ny, 1e-4);
    expect_close("dx", dx1, dx0, nx, 1e-4);
    expect_close("dw", dw1, dw0, nw, 1e-4);
    if (a.has_bias)
        expect_close("dbias", db1, db0, (size_t)a.out_c, 1e-5);
    void *gp[] = {gx, gw, gb, gdy, gy, gdx, gdw, gdb};
    for (size_t i = 0; i < sizeof gp / sizeof gp[0]; i++)
        g->ops->release(g, gp[i]);
    free(x), free(w), free(bias), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(dw0),
        free(dw1), free(db0), free(db1);
}

static void op_batchnorm(fer_backend *g, fer_backend *r)
{
    fer_bn_args a = {.n = 4, .c = 5, .hw = 36, .eps = 1e-5f, .momentum = 0.1f};
    size_t n = (size_t)a.n * a.c * a.hw;
    float *x = randv(n, 2.0f), *dy = randv(n, 1.0f);
    float *gam = randv(a.c, 1.0f), *bet = randv(a.c, 1.0f);
    for (size_t i = 0; i < n; i++)
        x[i] += 0.7f; /* non-zero mean */
    float rm0[5] = {0}, rv0[5] = {1, 1, 1, 1, 1}, sm0[5], si0[5], rm1[5], rv1[5], sm1[5], si1[5];
    float *y0 = calloc(n, 4), *y1 = calloc(n, 4), *dx0 = calloc(n, 4), *dx1 = calloc(n, 4);
    float dg0[5], dg1[5], dbt0[5], dbt1[5];
    float *gx = dev_copy(g, x, n * 4), *gdy = dev_copy(g, dy, n * 4), *gg = dev_copy(g, gam, 20);
    float *gbt = dev_copy(g, bet, 20), *grm = dev_copy(g, rm0, 20), *grv = dev_copy(g, rv0, 20);
    float *gy = dev_copy(g, NULL, n * 4), *gdx = dev_copy(g, NULL, n * 4);
    float *gsm = dev_copy(g, NULL, 20), *gsi = dev_copy(g, NULL, 20);
    float *gdg = dev_copy(g, NULL, 20), *gdb = dev_copy(g, NULL, 20);
    OK(r->ops->batchnorm_forward(r, &a, 1, x, gam, bet, rm0, rv0, y0, sm0, si0));
    OK(r->ops->batchnorm_backward(r, &a, x, gam, bet, sm0, si0, dy, dx0, dg0, dbt0));
    OK(g->ops->batchnorm_forward(g, &a, 1, gx, gg, gbt, grm, grv, gy, gsm, gsi));
    OK(g->ops->batchnorm_backward(g, &a, gx, gg, gbt, gsm, gsi, gdy, gdx, gdg, gdb));
    host_copy(g, y1, gy, n * 4);
    host_copy(g, dx1, gdx, n * 4);
    host_copy(g, rm1, grm, 20), host_copy(g, rv1, grv, 20), host_copy(g, sm1, gsm, 20);
    host_copy(g, si1, gsi, 20), host_copy(g, dg1, gdg, 20), host_copy(g, dbt1, gdb, 20);
    printf(" batchnorm train %dx%dx%d\n", a.n, a.c, a.hw);
    expect_close("y", y1, y0, n, 1e-4);
    expect_close("running_mean", rm1, rm0, 5, 1e-5);
    expect_close("running_var (unbiased, as PyTorch)", rv1, rv0, 5, 1e-5);
    expect_close("save_mean", sm1, sm0, 5, 1e-5);
    expect_close("save_invstd", si1, si0, 5, 1e-5);
    expect_close("dx", dx1, dx0, n, 1e-4);
    expect_close("dgamma", dg1, dg0, 5, 1e-4);
    expect_close("dbeta", dbt1, dbt0, 5, 1e-5);
    /* eval mode uses the running statistics */
    OK(r->ops->batchnorm_forward(r, &a, 0, x, gam, bet, rm0, rv0, y0, NULL, NULL));
    OK(g->ops->batchnorm_forward(g, &a, 0, gx, gg, gbt, grm, grv, gy, NULL, NULL));
    host_copy(g, y1, gy, n * 4);
    printf(" batchnorm eval\n");
    expect_close("y", y1, y0, n, 1e-5);
    void *gp[] = {gx, gdy, gg, gbt, grm, grv, gy, gdx, gsm, gsi, gdg, gdb};
    for (size_t i = 0; i < sizeof gp / sizeof gp[0]; i++)
        g->ops->release(g, gp[i]);
    free(x), free(dy), free(gam), free(bet), free(y0), free(y1), free(dx0), free(dx1);
}

static void op_relu_linear_pool_loss(fer_backend *g, fer_backend *r)
{
    /* relu (in place on the device, as the model does) */
    size_t n = 1000;
    float *x = randv(n, 1.0f), *dy = randv(n, 1.0f), *y0 = calloc(n, 4), *y1 = calloc(n, 4);
    float *gx = dev_copy(g, x, n * 4), *gdy = dev_copy(g, dy, n * 4);
    OK(r->ops->relu_forward(r, n, x, y0));
    OK(g->ops->relu_forward(g, n, gx, gx));
    host_copy(g, y1, gx, n * 4);
    printf(" relu\n");
    expect_close("y", y1, y0, n, 0.0);
    OK(r->ops->relu_backward(r, n, y0, dy, y0));
    OK(g->ops->relu_backward(g, n, gx, gdy, gdy));
    host_copy(g, y1, gdy, n * 4);
    expect_close("dx", y1, y0, n, 0.0);
    g->ops->release(g, gx), g->ops->release(g, gdy);
    free(x), free(dy), free(y0), free(y1);

    /* linear, shapes that catch row/column-major mix-ups (all dims distinct) */
    fer_linear_args la = {5, 37, 11, 1};
    size_t nx = 5 * 37, nw = 11 * 37, ny = 5 * 11;
    float *lx = randv(nx, 1.0f), *lw = randv(nw, 0.2f);
    float *lb = randv(11, 0.5f), *ldy = randv(ny, 1.0f);
    float *ly0 = calloc(ny, 4), *ly1 = calloc(ny, 4), *ldx0 = calloc(nx, 4), *ldx1 = calloc(nx, 4);
    float *ldw0 = calloc(nw, 4), *ldw1 = calloc(nw, 4), ldb0[11], ldb1[11];
    float *glx = dev_copy(g, lx, nx * 4), *glw = dev_copy(g, lw, nw * 4);
    float *glb = dev_copy(g, lb, 44);
    float *gldy = dev_copy(g, ldy, ny * 4), *gly = dev_copy(g, NULL, ny * 4);
    float *gldx = dev_copy(g, NULL, nx * 4), *gldw = dev_copy(g, NULL, nw * 4);
    float *gldb = dev_copy(g, NULL, 44);
    OK(r->ops->linear_forward(r, &la, lx, lw, lb, ly0));
    OK(r->ops->linear_backward(r, &la, lx, lw, ldy, ldx0, ldw0, ldb0));
    OK(g->ops->linear_forward(g, &la, glx, glw, glb, gly));
    OK(g->ops->linear_backward(g, &la, glx, glw, gldy, gldx, gldw, gldb));
    host_copy(g, ly1, gly, ny * 4), host_copy(g, ldx1, gldx, nx * 4);
    host_copy(g, ldw1, gldw, nw * 4), host_copy(g, ldb1, gldb, 44);
    printf(" linear 5x37 -> 11\n");
    expect_close("y", ly1, ly0, ny, 1e-5);
    expect_close("dx", ldx1, ldx0, nx, 1e-5);
    expect_close("dw", ldw1, ldw0, nw, 1e-5);
    expect_close("dbias", ldb1, ldb0, 11, 1e-6);
    void *gp[] = {glx, glw, glb, gldy, gly, gldx, gldw, gldb};
    for (size_t i = 0; i < sizeof gp / sizeof gp[0]; i++)
        g->ops->release(g, gp[i]);
    free(lx), free(lw), free(lb), free(ldy), free(ly0), free(ly1), free(ldx0), free(ldx1),
        free(ldw0), free(ldw1);

    /* max-pool */
    fer_pool_args pa = {3, 4, 9, 9, 4, 4, 3, 2};
    size_t pin = 3 * 4 * 81, pout = 3 * 4 * 16;
    float *px = randv(pin, 1.0f), *pdy = randv(pout, 1.0f);
    float *py0 = calloc(pout, 4), *py1 = calloc(pout, 4);
    float *pdx0 = calloc(pin, 4), *pdx1 = calloc(pin, 4);
    int32_t *am0 = calloc(pout, 4), *am1 = calloc(pout, 4);
    float *gpx = dev_copy(g, px, pin * 4), *gpdy = dev_copy(g, pdy, pout * 4);
    float *gpy = dev_copy(g, NULL, pout * 4), *gpdx = dev_copy(g, NULL, pin * 4);
    int32_t *gam = dev_copy(g, NULL, pout * 4);
    OK(r->ops->maxpool_forward(r, &pa, px, py0, am0));
    OK(r->ops->maxpool_backward(r, &pa, am0, pdy, pdx0));
    OK(g->ops->maxpool_forward(g, &pa, gpx, gpy, gam));
    OK(g->ops->maxpool_backward(g, &pa, gam, gpdy, gpdx));
    host_copy(g, py1, gpy, pout * 4), host_copy(g, am1, gam, pout * 4);
    host_copy(g, pdx1, gpdx, pin * 4);
    printf(" maxpool k3 s2 (overlapping)\n");
    expect_close("y", py1, py0, pout, 0.0);
    CHECK(memcmp(am0, am1, pout * 4) == 0, "maxpool argmax differs");
    expect_close("dx", pdx1, pdx0, pin, 0.0);
    void *gq[] = {gpx, gpdy, gpy, gpdx, gam};
    for (size_t i = 0; i < sizeof gq / sizeof gq[0]; i++)
        g->ops->release(g, gq[i]);
    free(px), free(pdy), free(py0), free(py1), free(pdx0), free(pdx1), free(am0), free(am1);

    /* loss with class weights, focal, smoothing; and a bad label must be an error */
    fer_loss_args sa = {6, 7, FER_LOSS_FOCAL, 2.0f, 0.1f, NULL, NULL};
    float *z = randv(42, 3.0f), d0[42], d1[42], w[7] = {1, 2, 0.5f, 1, 1.5f, 0.7f, 1}, l0, l1;
    int32_t lab[6] = {0, 6, 3, 3, 1, 5};
    float *gz = dev_copy(g, z, 168), *gd = dev_copy(g, NULL, 168), *gwt = dev_copy(g, w, 28);
    int32_t *glab = dev_copy(g, lab, 24);
    OK(r->ops->loss_forward_backward(r, &sa, z, lab, w, &l0, d0));
    OK(g->ops->loss_forward_backward(g, &sa, gz, glab, gwt, &l1, gd));
    host_copy(g, d1, gd, 168);
    printf(" focal loss, weighted, smoothed\n");
    expect_close("loss", &l1, &l0, 1, 1e-5);
    expect_close("dlogits", d1, d0, 42, 1e-5);
    /* soft targets (rows summing to 1) with class weights, smoothing and logit offsets */
    float t[42], off[7];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 7; j++)
            t[i * 7 + j] = j == lab[i] ? 0.7f : 0.05f;
    for (int j = 0; j < 7; j++)
        off[j] = -0.25f * (float)j;
    float *gt = dev_copy(g, t, 168), *goff = dev_copy(g, off, 28);
    fer_loss_args ra = {6, 7, FER_LOSS_WCE, 0.0f, 0.1f, t, off};
    fer_loss_args ga = {6, 7, FER_LOSS_WCE, 0.0f, 0.1f, gt, goff};
    OK(r->ops->loss_forward_backward(r, &ra, z, NULL, w, &l0, d0));
    OK(g->ops->loss_forward_backward(g, &ga, gz, NULL, gwt, &l1, gd));
    host_copy(g, d1, gd, 168);
    printf(" soft-target loss, weighted, smoothed, logit offsets\n");
    expect_close("loss", &l1, &l0, 1, 1e-5);
    expect_close("dlogits", d1, d0, 42, 1e-5);
    g->ops->release(g, gt), g->ops->release(g, goff);
    lab[2] = 9;
    OK(g->ops->upload(g, glab, lab, 24));
    CHECK(g->ops->loss_forward_backward(g, &sa, gz, glab, gwt, &l1, gd) == FER_ERR_ARG,
          "label 9 of 7 classes must be FER_ERR_ARG");
    printf("  bad label -> %s\n", fer_last_error());
    g->ops->release(g, gz), g->ops->release(g, gd), g->ops->release(g, gwt);
    g->ops->release(g, glab);
    free(z);
}

/* ---- 2./3. training step ---------------------------------------------------------------- */

typedef struct step_result {
    float logits[8 * 7];
    float loss, norm;
    float eval_logits[8 * 7];
} step_result;

/* One training step on backend b; gradients and parameters land in the model for comparison. */
static fer_status train_step(fer_model *m, const fer_loss_config *lc, const fer_optim_config *oc,
                             const float *x, const int32_t *labels, int n, step_result *out,
                             fer_optimizer **opt_out)
{
    fer_status st = fer_model_init(m, 1234);
    if (st == FER_OK) st = fer_model_forward(m, x, n, FER_MODE_TRAIN, labels, 99, out->logits);
    if (st == FER_OK) st = fer_model_loss(m, lc, labels, &out->loss);
    if (st == FER_OK) st = fer_model_backward(m);
    if (st == FER_OK) st = fer_model_clip_grad_norm(m, 5.0f, &out->norm);
    if (st == FER_OK) st = fer_optimizer_new(m, oc, opt_out);
    if (st == FER_OK) st = fer_optimizer_step(*opt_out, oc->lr);
    if (st == FER_OK)
        st = fer_model_forward(m, x, n, FER_MODE_EVAL, NULL, 0, out->eval_logits);
    return st;
}

static void compare_tensors(fer_model *g, fer_model *r, int grads, double tol, double slack)
{
    int nt = fer_model_n_tensors(r);
    for (int i = 0; i < nt; i++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(r, i, &ti));
        if (grads && ti.role != FER_TENSOR_PARAM)
            continue;
        float *a = malloc(ti.numel * 4), *b = malloc(ti.numel * 4);
        fer_status sa = grads ? fer_model_get_grad(g, ti.name, a, ti.numel)
                              : fer_model_get_tensor(g, ti.name, a, ti.numel);
        fer_status sb = grads ? fer_model_get_grad(r, ti.name, b, ti.numel)
                              : fer_model_get_tensor(r, ti.name, b, ti.numel);
        CHECK(sa == FER_OK && sb == FER_OK, "read %s: %s", ti.name, fer_last_error());
        char what[96];
        snprintf(what, sizeof what, "%s %s", grads ? "grad" : "value", ti.name);
        if (sa == FER_OK && sb == FER_OK)
            expect_close_slack(what, a, b, ti.numel, tol,
                               ti.role == FER_TENSOR_PARAM ? slack : 0.0);
        free(a), free(b);
    }
}

static void training_step(fer_backend *g, fer_backend *r, const char *preset, fer_head_kind head,
                          const fer_loss_config *lc, fer_optim_kind ok, fer_precision prec,
                          double tol)
{
    enum { N = 4 };
    fer_arch arch;
    OK(fer_arch_preset(preset, head, &arch));
    printf(" training step: %s, %s head, precision %d\n", preset,
           head == FER_HEAD_ARCFACE ? "arcface" : "softmax", (int)prec);
    fer_status ps = fer_backend_set_precision(g, prec);
    if (ps == FER_ERR_UNSUPPORTED) {
        printf("  precision %d not available on this GPU: %s (skipped)\n", (int)prec,
               fer_last_error());
        return;
    }
    CHECK(ps == FER_OK, "set_precision: %s", fer_last_error());
    size_t nx = (size_t)N * arch.in_c * arch.in_h * arch.in_w;
    float *x = randv(nx, 1.0f);
    int32_t labels[N] = {0, 3, 6, 3};
    fer_model *mg = NULL, *mr = NULL;
    fer_optimizer *og = NULL, *orf = NULL;
    fer_optim_config oc;
    fer_optim_config_default(ok, ok == FER_OPTIM_SGD ? 0.01f : 1e-3f, &oc);
    if (ok == FER_OPTIM_SGD) {
        oc.momentum = 0.9f;
        oc.nesterov = 1;
        oc.weight_decay = 5e-4f;
    }
    static step_result sg, sr;
    OK(fer_model_new(&arch, g, N, &mg));
    OK(fer_model_new(&arch, r, N, &mr));
    if (mg && mr) {
        OK(train_step(mr, lc, &oc, x, labels, N, &sr, &orf));
        OK(train_step(mg, lc, &oc, x, labels, N, &sg, &og));
        size_t nl = (size_t)N * arch.n_classes;
        expect_close("train logits", sg.logits, sr.logits, nl, tol);
        expect_close("loss", &sg.loss, &sr.loss, 1, tol);
        expect_close("grad norm before clipping", &sg.norm, &sr.norm, 1, tol);
        double slack = ok == FER_OPTIM_SGD ? 0.0 : 2.01 * oc.lr;
        compare_tensors(mg, mr, 1, tol * 5, 0.0); /* gradients (after clipping) */
        compare_tensors(mg, mr, 0, tol, slack);   /* params after the step, BN running stats */
        if (ok == FER_OPTIM_SGD)
            expect_close("eval logits after the step", sg.eval_logits, sr.eval_logits, nl,
                         tol * 5);
    }
    fer_optimizer_free(og), fer_optimizer_free(orf);
    fer_model_free(mg), fer_model_free(mr);
    free(x);
    OK(fer_backend_set_precision(g, FER_PREC_FP32));
}

/* ---- 4. the element's batch path --------------------------------------------------------- */

static void face_batch(fer_backend *g)
{
    const int w = 320, h = 240, stride = 320;
    enum { NB = 5 };
    uint8_t *frame = malloc((size_t)stride * h);
    for (int i = 0; i < stride * h; i++)
        frame[i] = (uint8_t)((i * 31 + (i / stride) * 7) & 255);
    int32_t boxes[NB][4] = {{10, 10, 60, 60}, {280, 200, 50, 50}, {100, 50, 200, 180},
                            {150, 120, 20, 24}, {-10, -10, 400, 300}};
    fer_face_batch_args a = {NB, w, h, stride, 0.2f, 0.5f, 0.5f};
    const size_t plane = FER_INPUT_SIZE * FER_INPUT_SIZE;
    float *got = malloc(NB * plane * 4), want[FER_INPUT_SIZE * FER_INPUT_SIZE];
    uint8_t *gframe = dev_copy(g, frame, (size_t)stride * h);
    int32_t *gboxes = dev_copy(g, boxes, sizeof boxes);
    float *gx = dev_copy(g, NULL, NB * plane * 4);
    OK(g->ops->crop_faces_48(g, &a, gframe, gboxes, gx));
    host_copy(g, got, gx, NB * plane * 4);
    fer_norm norm = {0.5f, 0.5f};
    printf(" crop_faces_48 (%d faces) vs fer_crop_face_48\n", NB);
    for (int f = 0; f < NB; f++) {
        uint8_t face[FER_INPUT_SIZE * FER_INPUT_SIZE];
        fer_crop_face_48(frame, w, h, stride, boxes[f][0], boxes[f][1], boxes[f][2], boxes[f][3],
                         a.margin, face);
        fer_normalize_u8(face, plane, &norm, want);
        char what[32];
        snprintf(what, sizeof what, "face %d", f);
        expect_close(what, got + f * plane, want, plane, 0.0);
    }
    g->ops->release(g, gframe), g->ops->release(g, gboxes), g->ops->release(g, gx);
    free(frame), free(got);
}

static void classifier_batch(fer_backend *r, const char *name)
{
    char dir[] = "/tmp/fer_cuda_smoke_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/model.fer", dir);
    fer_arch arch;
    fer_model *m = NULL;
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    OK(fer_arch_preset("simplecnn", FER_HEAD_SOFTMAX, &arch));
    OK(fer_model_new(&arch, r, 8, &m));
    if (m) {
        OK(fer_model_init(m, 77));
        OK(fer_checkpoint_save(path, m, &meta, NULL));
    }
    fer_model_free(m);
    fer_checkpoint_meta_clear(&meta);

    enum { NF = 13 }; /* > max_batch: exercises the split */
    uint8_t *faces = malloc(NF * 48 * 48);
    for (int i = 0; i < NF * 48 * 48; i++)
        faces[i] = (uint8_t)((i * 13 + i / 48) & 255);
    fer_classifier *cg = NULL, *cr = NULL;
    OK(fer_classifier_new(path, name, 1, 8, &cg));
    OK(fer_classifier_new(path, "ref", 1, 8, &cr));
    if (cg && cr) {
        CHECK(strcmp(fer_classifier_backend_name(cg), name) == 0, "classifier runs on %s",
              fer_classifier_backend_name(cg));
        int k = fer_classifier_n_classes(cr);
        float *pg = calloc((size_t)NF * k, 4), *pr = calloc((size_t)NF * k, 4);
        float *lg = calloc((size_t)NF * k, 4), *lr = calloc((size_t)NF * k, 4);
        OK(fer_classifier_run_u8(cg, faces, NF, lg, pg));
        OK(fer_classifier_run_u8(cr, faces, NF, lr, pr));
        printf(" classifier batch of %d (max_batch 8), %s vs ref\n", NF, name);
        expect_close("logits", lg, lr, (size_t)NF * k, 1e-4);
        expect_close("probabilities", pg, pr, (size_t)NF * k, 1e-4);
        free(pg), free(pr), free(lg), free(lr);
    }
    fer_classifier_free(cg), fer_classifier_free(cr);
    free(faces);
    unlink(path);
    rmdir(dir);
}

/* argv[1] may name another backend ("cpu") to check this program's own logic without a GPU;
 * parts the backend does not offer (face batch op, reduced precision) are then skipped. */
int main(int argc, char **argv)
{
    fer_rng_state = 0x9e3779b97f4a7c15ull;
    const char *name = argc > 1 ? argv[1] : "cuda";
    if (strcmp(name, "cuda") == 0 && fer_cuda_device_count() == 0) {
        fer_backend *b = NULL;
        fer_status st = fer_backend_new("cuda", 1, &b);
        printf("SKIP: no CUDA device (%s); run on a GPU machine: meson test -C BUILD --suite "
               "cuda\n",
               st == FER_OK ? "?" : fer_last_error());
        fer_backend_free(b);
        return 77;
    }
    fer_backend *g = NULL, *r = NULL;
    if (fer_backend_new(name, 1, &g) != FER_OK || fer_backend_new("ref", 1, &r) != FER_OK) {
        printf("FAIL: backends: %s\n", fer_last_error());
        return 1;
    }
    printf("backend %s: %s\n", fer_backend_name(g), fer_backend_note(g));

    printf("1. ops vs ref\n");
    op_conv(g, r, (fer_conv2d_args){2, 3, 12, 12, 8, 12, 12, 3, 1, 1, 0, 1, 0});
    op_conv(g, r, (fer_conv2d_args){3, 4, 11, 9, 5, 5, 4, 3, 2, 0, 1, 1, 0});
    op_conv(g, r, (fer_conv2d_args){2, 6, 7, 7, 3, 7, 7, 1, 1, 0, 1, 1, 0});
    op_conv(g, r, (fer_conv2d_args){3, 6, 9, 7, 6, 5, 4, 3, 2, 1, 1, 6, 0}); /* depthwise */
    op_conv(g, r, (fer_conv2d_args){2, 4, 8, 8, 6, 8, 8, 3, 1, 1, 0, 2, 0}); /* groups 2 */
    op_batchnorm(g, r);
    op_relu_linear_pool_loss(g, r);

    printf("2. whole training steps, FP32\n");
    fer_loss_config ce = {FER_LOSS_CE, 2.0f, 0.0f, 0, {0}, 0, {0}};
    training_step(g, r, "simplecnn", FER_HEAD_SOFTMAX, &ce, FER_OPTIM_SGD, FER_PREC_FP32, 2e-4);
    fer_loss_config focal = {FER_LOSS_FOCAL, 2.0f, 0.1f, 1, {1, 2, 0.5f, 1, 1.5f, 0.7f, 1}, 0, {0}};
    training_step(g, r, "tiny", FER_HEAD_ARCFACE, &focal, FER_OPTIM_ADAM, FER_PREC_FP32, 2e-4);

    printf("3. --amp precisions (tensor cores; looser tolerances)\n");
    training_step(g, r, "simplecnn", FER_HEAD_SOFTMAX, &ce, FER_OPTIM_SGD, FER_PREC_FP16, 3e-2);
    training_step(g, r, "simplecnn", FER_HEAD_SOFTMAX, &ce, FER_OPTIM_SGD, FER_PREC_BF16, 6e-2);

    printf("4. the video element's batch path\n");
    if (g->ops->crop_faces_48)
        face_batch(g);
    else
        printf(" %s has no crop_faces_48 op (skipped)\n", name);
    classifier_batch(r, name);

    fer_backend_free(g);
    fer_backend_free(r);
    if (fer_check_summary("test_cuda_smoke"))
        return 1;
    printf("smoke test passed on %s\n", name);
    return 0;
}
