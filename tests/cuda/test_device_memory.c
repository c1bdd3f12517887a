/* Device-memory discipline of the callers, without a GPU.
 *
 * On the cuda backend, tensors live in device memory: library code (model.c, optim.c,
 * checkpoint.c, ...) must reach them only through the backend ops, and must pass the ops
 * backend memory, never host pointers. A mistake works on ref/cpu and crashes (or reads
 * garbage) on a GPU. This test runs the callers on a "guarded" ref backend whose allocations
 * are mapped PROT_NONE except while one of its own ops runs, and whose ops check that every
 * tensor argument lies inside one of its allocations. A direct host access then faults here,
 * and a host pointer given to an op is reported. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fer/backend.h"
#include "fer/checkpoint.h"
#include "fer/model.h"
#include "fer/optim.h"

#define FER_CHECK_CONTINUE /* report every mismatch, not only the first */
#include "../common/fer_check.h"

/* ---- guarded memory ------------------------------------------------------------------------ */

typedef struct region {
    char *base;
    size_t len;
} region;

enum { MAX_REGIONS = 256 };
static region regions[MAX_REGIONS];
static int n_regions;
static const fer_backend_ops *inner; /* the ref ops doing the work */
static const char *current_phase = "";

static void set_access(int prot)
{
    for (int i = 0; i < n_regions; i++)
        if (regions[i].base && mprotect(regions[i].base, regions[i].len, prot) != 0)
            CHECK(0, "mprotect failed");
}
#define OPEN() set_access(PROT_READ | PROT_WRITE)
#define CLOSE() set_access(PROT_NONE)

/* p .. p+bytes must be inside one allocation of this backend */
static void need(const void *p, size_t bytes, const char *op, const char *arg)
{
    if (!p)
        return;
    const char *c = p;
    for (int i = 0; i < n_regions; i++)
        if (regions[i].base && c >= regions[i].base &&
            c + bytes <= regions[i].base + regions[i].len)
            return;
    CHECK(0, "%s: %s: argument '%s' (%zu bytes) is not backend memory", current_phase, op, arg,
          bytes);
}

static void on_segv(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: library code touched backend memory directly (this "
                              "crashes on the cuda backend)\n";
    if (write(1, msg, sizeof msg - 1) < 0) { /* nothing else to do */
    }
    _exit(1);
}

/* ---- guarded ops: check arguments, open memory, run ref, close ------------------------------ */

static fer_status g_alloc(fer_backend *b, size_t bytes, void **ptr)
{
    (void)b;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (bytes + page - 1) / page * page;
    if (len == 0)
        len = page;
    if (n_regions == MAX_REGIONS)
        return fer_fail(FER_ERR_NOMEM, "guarded: too many allocations");
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return fer_fail(FER_ERR_NOMEM, "guarded: mmap failed");
    regions[n_regions++] = (region){p, len};
    *ptr = p; /* anonymous mappings are zero-filled, as alloc promises */
    return FER_OK;
}

static void g_release(fer_backend *b, void *ptr)
{
    (void)b;
    for (int i = 0; i < n_regions; i++)
        if (regions[i].base == ptr) {
            munmap(regions[i].base, regions[i].len);
            regions[i] = regions[--n_regions];
            return;
        }
    if (ptr)
        CHECK(0, "%s: release of a pointer that is not backend memory", current_phase);
}

#define RUN(call)                                                                              \
    do {                                                                                       \
        OPEN();                                                                                \
        fer_status st_ = (call);                                                               \
        CLOSE();                                                                               \
        return st_;                                                                            \
    } while (0)

static fer_status g_upload(fer_backend *b, void *dst, const void *src, size_t bytes)
{
    need(dst, bytes, "upload", "dst");
    RUN(inner->upload(b, dst, src, bytes));
}
static fer_status g_download(fer_backend *b, void *dst, const void *src, size_t bytes)
{
    need(src, bytes, "download", "src");
    RUN(inner->download(b, dst, src, bytes));
}
static fer_status g_copy(fer_backend *b, void *dst, const void *src, size_t bytes)
{
    need(dst, bytes, "copy", "dst");
    need(src, bytes, "copy", "src");
    RUN(inner->copy(b, dst, src, bytes));
}
static fer_status g_fill(fer_backend *b, float *dst, float v, size_t n)
{
    need(dst, n * 4, "fill", "dst");
    RUN(inner->fill(b, dst, v, n));
}
static fer_status g_sync(fer_backend *b) { return inner->synchronize(b); }

static fer_status g_conv_f(fer_backend *b, const fer_conv2d_args *a, const float *x,
                           const float *w, const float *bias, float *y)
{
    need(x, (size_t)a->n * a->in_c * a->in_h * a->in_w * 4, "conv2d_forward", "x");
    need(w, (size_t)a->out_c * a->in_c * a->k * a->k * 4, "conv2d_forward", "w");
    if (a->has_bias)
        need(bias, (size_t)a->out_c * 4, "conv2d_forward", "bias");
    need(y, (size_t)a->n * a->out_c * a->out_h * a->out_w * 4, "conv2d_forward", "y");
    RUN(inner->conv2d_forward(b, a, x, w, bias, y));
}
static fer_status g_conv_b(fer_backend *b, const fer_conv2d_args *a, const float *x,
                           const float *w, const float *dy, float *dx, float *dw, float *dbias)
{
    size_t nx = (size_t)a->n * a->in_c * a->in_h * a->in_w * 4;
    need(x, nx, "conv2d_backward", "x");
    need(w, (size_t)a->out_c * a->in_c * a->k * a->k * 4, "conv2d_backward", "w");
    need(dy, (size_t)a->n * a->out_c * a->out_h * a->out_w * 4, "conv2d_backward", "dy");
    need(dx, nx, "conv2d_backward", "dx");
    need(dw, (size_t)a->out_c * a->in_c * a->k * a->k * 4, "conv2d_backward", "dw");
    if (a->has_bias)
        need(dbias, (size_t)a->out_c * 4, "conv2d_backward", "dbias");
    RUN(inner->conv2d_backward(b, a, x, w, dy, dx, dw, dbias));
}
static fer_status g_bn_f(fer_backend *b, const fer_bn_args *a, int training, const float *x,
                         const float *gamma, const float *beta, float *rm, float *rv, float *y,
                         float *sm, float *si)
{
    size_t nx = (size_t)a->n * a->c * a->hw * 4, nc = (size_t)a->c * 4;
    need(x, nx, "batchnorm_forward", "x");
    need(y, nx, "batchnorm_forward", "y");
    need(gamma, nc, "batchnorm_forward", "gamma");
    need(beta, nc, "batchnorm_forward", "beta");
    need(rm, nc, "batchnorm_forward", "running_mean");
    need(rv, nc, "batchnorm_forward", "running_var");
    need(sm, nc, "batchnorm_forward", "save_mean");
    need(si, nc, "batchnorm_forward", "save_invstd");
    RUN(inner->batchnorm_forward(b, a, training, x, gamma, beta, rm, rv, y, sm, si));
}
static fer_status g_bn_b(fer_backend *b, const fer_bn_args *a, const float *x,
                         const float *gamma, const float *beta, const float *sm, const float *si,
                         const float *dy, float *dx, float *dgamma, float *dbeta)
{
    size_t nx = (size_t)a->n * a->c * a->hw * 4, nc = (size_t)a->c * 4;
    need(x, nx, "batchnorm_backward", "x");
    need(dy, nx, "batchnorm_backward", "dy");
    need(dx, nx, "batchnorm_backward", "dx");
    need(gamma, nc, "batchnorm_backward", "gamma");
    need(sm, nc, "batchnorm_backward", "save_mean");
    need(si, nc, "batchnorm_backward", "save_invstd");
    need(dgamma, nc, "batchnorm_backward", "dgamma");
    need(dbeta, nc, "batchnorm_backward", "dbeta");
    RUN(inner->batchnorm_backward(b, a, x, gamma, beta, sm, si, dy, dx, dgamma, dbeta));
}
static fer_status g_relu_f(fer_backend *b, size_t n, const float *x, float *y)
{
    need(x, n * 4, "relu_forward", "x");
    need(y, n * 4, "relu_forward", "y");
    RUN(inner->relu_forward(b, n, x, y));
}
static fer_status g_relu_b(fer_backend *b, size_t n, const float *y, const float *dy, float *dx)
{
    need(y, n * 4, "relu_backward", "y");
    need(dy, n * 4, "relu_backward", "dy");
    need(dx, n * 4, "relu_backward", "dx");
    RUN(inner->relu_backward(b, n, y, dy, dx));
}
static fer_status g_pool_f(fer_backend *b, const fer_pool_args *a, const float *x, float *y,
                           int32_t *am)
{
    size_t no = (size_t)a->n * a->c * a->out_h * a->out_w * 4;
    need(x, (size_t)a->n * a->c * a->in_h * a->in_w * 4, "maxpool_forward", "x");
    need(y, no, "maxpool_forward", "y");
    need(am, no, "maxpool_forward", "argmax");
    RUN(inner->maxpool_forward(b, a, x, y, am));
}
static fer_status g_pool_b(fer_backend *b, const fer_pool_args *a, const int32_t *am,
                           const float *dy, float *dx)
{
    size_t no = (size_t)a->n * a->c * a->out_h * a->out_w * 4;
    need(am, no, "maxpool_backward", "argmax");
    need(dy, no, "maxpool_backward", "dy");
    need(dx, (size_t)a->n * a->c * a->in_h * a->in_w * 4, "maxpool_backward", "dx");
    RUN(inner->maxpool_backward(b, a, am, dy, dx));
}
static fer_status g_lin_f(fer_backend *b, const fer_linear_args *a, const float *x,
                          const float *w, const float *bias, float *y)
{
    need(x, (size_t)a->n * a->in * 4, "linear_forward", "x");
    need(w, (size_t)a->out * a->in * 4, "linear_forward", "w");
    if (a->has_bias)
        need(bias, (size_t)a->out * 4, "linear_forward", "bias");
    need(y, (size_t)a->n * a->out * 4, "linear_forward", "y");
    RUN(inner->linear_forward(b, a, x, w, bias, y));
}
static fer_status g_lin_b(fer_backend *b, const fer_linear_args *a, const float *x,
                          const float *w, const float *dy, float *dx, float *dw, float *dbias)
{
    need(x, (size_t)a->n * a->in * 4, "linear_backward", "x");
    need(w, (size_t)a->out * a->in * 4, "linear_backward", "w");
    need(dy, (size_t)a->n * a->out * 4, "linear_backward", "dy");
    need(dx, (size_t)a->n * a->in * 4, "linear_backward", "dx");
    need(dw, (size_t)a->out * a->in * 4, "linear_backward", "dw");
    if (a->has_bias)
        need(dbias, (size_t)a->out * 4, "linear_backward", "dbias");
    RUN(inner->linear_backward(b, a, x, w, dy, dx, dw, dbias));
}
static fer_status g_drop_f(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                           const float *x, float *y)
{
    need(x, n * 4, "dropout_forward", "x");
    need(y, n * 4, "dropout_forward", "y");
    RUN(inner->dropout_forward(b, n, p, seed, first, x, y));
}
static fer_status g_drop_b(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                           const float *dy, float *dx)
{
    need(dy, n * 4, "dropout_backward", "dy");
    need(dx, n * 4, "dropout_backward", "dx");
    RUN(inner->dropout_backward(b, n, p, seed, first, dy, dx));
}
static fer_status g_l2_f(fer_backend *b, int rows, int dim, const float *x, float *y,
                         float *norms)
{
    need(x, (size_t)rows * dim * 4, "l2norm_rows_forward", "x");
    need(y, (size_t)rows * dim * 4, "l2norm_rows_forward", "y");
    need(norms, (size_t)rows * 4, "l2norm_rows_forward", "norms");
    RUN(inner->l2norm_rows_forward(b, rows, dim, x, y, norms));
}
static fer_status g_l2_b(fer_backend *b, int rows, int dim, const float *x, const float *norms,
                         const float *dy, float *dx)
{
    need(x, (size_t)rows * dim * 4, "l2norm_rows_backward", "x");
    need(norms, (size_t)rows * 4, "l2norm_rows_backward", "norms");
    need(dy, (size_t)rows * dim * 4, "l2norm_rows_backward", "dy");
    need(dx, (size_t)rows * dim * 4, "l2norm_rows_backward", "dx");
    RUN(inner->l2norm_rows_backward(b, rows, dim, x, norms, dy, dx));
}
static fer_status g_arc_f(fer_backend *b, const fer_arcface_args *a, const float *cos,
                          const int32_t *labels, float *logits)
{
    need(cos, (size_t)a->n * a->c * 4, "arcface_forward", "cos");
    need(labels, (size_t)a->n * 4, "arcface_forward", "labels");
    need(logits, (size_t)a->n * a->c * 4, "arcface_forward", "logits");
    RUN(inner->arcface_forward(b, a, cos, labels, logits));
}
static fer_status g_arc_b(fer_backend *b, const fer_arcface_args *a, const float *cos,
                          const int32_t *labels, const float *dl, float *dcos)
{
    need(cos, (size_t)a->n * a->c * 4, "arcface_backward", "cos");
    need(labels, (size_t)a->n * 4, "arcface_backward", "labels");
    need(dl, (size_t)a->n * a->c * 4, "arcface_backward", "dlogits");
    need(dcos, (size_t)a->n * a->c * 4, "arcface_backward", "dcos");
    RUN(inner->arcface_backward(b, a, cos, labels, dl, dcos));
}
static fer_status g_loss(fer_backend *b, const fer_loss_args *a, const float *logits,
                         const int32_t *labels, const float *cw, float *loss_host, float *dl)
{
    need(logits, (size_t)a->n * a->c * 4, "loss_forward_backward", "logits");
    need(labels, (size_t)a->n * 4, "loss_forward_backward", "labels");
    need(cw, (size_t)a->c * 4, "loss_forward_backward", "class_weights");
    need(dl, (size_t)a->n * a->c * 4, "loss_forward_backward", "dlogits");
    RUN(inner->loss_forward_backward(b, a, logits, labels, cw, loss_host, dl));
}
static fer_status g_softmax(fer_backend *b, int rows, int cols, const float *x, float *y)
{
    need(x, (size_t)rows * cols * 4, "softmax_rows", "x");
    need(y, (size_t)rows * cols * 4, "softmax_rows", "y");
    RUN(inner->softmax_rows(b, rows, cols, x, y));
}
static fer_status g_optim(fer_backend *b, const fer_optim_args *a, size_t n, float *p,
                          const float *g, float *m, float *v)
{
    need(p, n * 4, "optimizer_step", "param");
    need(g, n * 4, "optimizer_step", "grad");
    need(m, n * 4, "optimizer_step", "m");
    need(v, n * 4, "optimizer_step", "v");
    RUN(inner->optimizer_step(b, a, n, p, g, m, v));
}
static fer_status g_sumsq(fer_backend *b, size_t n, const float *x, double *out)
{
    need(x, n * 4, "sum_squares", "x");
    RUN(inner->sum_squares(b, n, x, out));
}
static fer_status g_scale(fer_backend *b, size_t n, float *x, float alpha)
{
    need(x, n * 4, "scale", "x");
    RUN(inner->scale(b, n, x, alpha));
}

static const fer_backend_ops guarded_ops = {
    .alloc = g_alloc, .release = g_release, .upload = g_upload, .download = g_download,
    .copy = g_copy, .fill = g_fill, .synchronize = g_sync,
    .conv2d_forward = g_conv_f, .conv2d_backward = g_conv_b,
    .batchnorm_forward = g_bn_f, .batchnorm_backward = g_bn_b,
    .relu_forward = g_relu_f, .relu_backward = g_relu_b,
    .maxpool_forward = g_pool_f, .maxpool_backward = g_pool_b,
    .linear_forward = g_lin_f, .linear_backward = g_lin_b,
    .dropout_forward = g_drop_f, .dropout_backward = g_drop_b,
    .l2norm_rows_forward = g_l2_f, .l2norm_rows_backward = g_l2_b,
    .arcface_forward = g_arc_f, .arcface_backward = g_arc_b,
    .loss_forward_backward = g_loss, .softmax_rows = g_softmax,
    .optimizer_step = g_optim, .sum_squares = g_sumsq, .scale = g_scale,
};

/* ---- the callers ----------------------------------------------------------------------------- */

static void run_training(fer_backend *b, fer_head_kind head, fer_optim_kind ok,
                         const char *ckpt)
{
    enum { N = 3 };
    fer_arch arch;
    fer_model *m = NULL, *m2 = NULL;
    fer_optimizer *opt = NULL, *opt2 = NULL;
    OK(fer_arch_preset("tiny", head, &arch));
    current_phase = "fer_model_new";
    OK(fer_model_new(&arch, b, N, &m));
    if (!m)
        return;
    size_t nx = (size_t)N * arch.in_c * arch.in_h * arch.in_w;
    float *x = malloc(nx * 4), logits[N * FER_MAX_CLASSES], loss = 0, norm = 0;
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    int32_t labels[N] = {1, 0, 2};
    fer_loss_config lc = {FER_LOSS_FOCAL, 2.0f, 0.1f, 1, {1, 2, 0.5f, 1, 1, 1, 1}, 0, {0}};
    fer_optim_config oc;
    fer_optim_config_default(ok, 1e-3f, &oc);
    oc.momentum = ok == FER_OPTIM_SGD ? 0.9f : oc.momentum;

    current_phase = "fer_model_init";
    OK(fer_model_init(m, 5));
    current_phase = "fer_model_forward(train)";
    OK(fer_model_forward(m, x, N, FER_MODE_TRAIN, labels, 3, logits));
    current_phase = "fer_model_loss";
    OK(fer_model_loss(m, &lc, labels, &loss));
    current_phase = "fer_model_backward";
    OK(fer_model_backward(m));
    current_phase = "fer_model_clip_grad_norm";
    OK(fer_model_clip_grad_norm(m, 0.5f, &norm));
    current_phase = "fer_optimizer";
    OK(fer_optimizer_new(m, &oc, &opt));
    if (opt) {
        OK(fer_optimizer_step(opt, oc.lr));
        size_t ns = fer_optimizer_state_floats(opt);
        float *mh = malloc(ns * 4 + 4), *vh = malloc(ns * 4 + 4);
        long step = 0;
        current_phase = "fer_optimizer_get/set_state";
        OK(fer_optimizer_get_state(opt, &step, mh, vh));
        OK(fer_optimizer_set_state(opt, step, mh, vh));
        free(mh), free(vh);
    }
    current_phase = "fer_model_forward(eval)";
    OK(fer_model_forward(m, x, N, FER_MODE_EVAL, NULL, 0, logits));
    current_phase = "fer_model tensors";
    int nt = fer_model_n_tensors(m);
    for (int i = 0; i < nt; i++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, i, &ti));
        float *h = malloc(ti.numel * 4);
        OK(fer_model_get_tensor(m, ti.name, h, ti.numel));
        OK(fer_model_set_tensor(m, ti.name, h, ti.numel));
        if (ti.role == FER_TENSOR_PARAM)
            OK(fer_model_get_grad(m, ti.name, h, ti.numel));
        free(h);
    }
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    current_phase = "fer_checkpoint_save";
    OK(fer_checkpoint_save(ckpt, m, &meta, opt));
    fer_checkpoint_meta_clear(&meta);
    current_phase = "fer_checkpoint_load";
    OK(fer_checkpoint_load(ckpt, b, N, &m2, &meta));
    if (m2) {
        OK(fer_optimizer_new(m2, &oc, &opt2));
        current_phase = "fer_checkpoint_load_into";
        OK(fer_checkpoint_load_into(ckpt, m2, opt2, NULL));
        float logits2[N * FER_MAX_CLASSES];
        current_phase = "forward after load";
        OK(fer_model_forward(m2, x, N, FER_MODE_EVAL, NULL, 0, logits2));
        CHECK(memcmp(logits, logits2, (size_t)N * arch.n_classes * 4) == 0,
              "reloaded model gives the same logits");
    }
    fer_checkpoint_meta_clear(&meta);
    current_phase = "teardown";
    fer_optimizer_free(opt2);
    fer_model_free(m2);
    fer_optimizer_free(opt);
    fer_model_free(m);
    free(x);
    unlink(ckpt);
}

int main(void)
{
    fer_backend *b = NULL;
    if (fer_backend_new("ref", 1, &b) != FER_OK) {
        printf("FAIL: ref backend: %s\n", fer_last_error());
        return 1;
    }
    inner = b->ops;
    b->ops = &guarded_ops;
    signal(SIGSEGV, on_segv);
    char dir[] = "/tmp/fer_devmem_XXXXXX", path[96];
    if (!mkdtemp(dir)) {
        printf("FAIL: mkdtemp\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/m.fer", dir);
    run_training(b, FER_HEAD_SOFTMAX, FER_OPTIM_SGD, path);
    run_training(b, FER_HEAD_ARCFACE, FER_OPTIM_ADAM, path);
    rmdir(dir);
    CHECK(n_regions == 0, "%d backend allocation(s) not released", n_regions);
    b->ops = inner;
    fer_backend_free(b);
    if (fer_check_summary("test_device_memory"))
        return 1;
    printf("model, optimiser and checkpoint code reach backend memory only through the ops\n");
    return 0;
}
