/* The cpu backend's bf16 mode (fer_backend_set_precision FER_PREC_BF16, fer-train --amp)
 * against `ref`, layer by layer, and one short training run against FP32.
 *
 * The bf16 mode rounds the operands of the Winograd convolution GEMMs (3x3 stride-1 layers with
 * >= 8 channels: forward, input gradient, weight gradient) to bf16 and sums in FP32.
 *
 * Tolerance, per output element: |got - ref| <= 2^-5 * S + 1e-6, where S is the same
 * computation on absolute values (ref's conv on |x|, |w|; its input gradient on |w|, |dy|; its
 * weight gradient on |x|, |dy|). Why: bf16 keeps 8 significant bits, so each rounded operand is
 * off by at most 2^-9 relative and each product by about 2^-8; the sums are FP32 (exact
 * enough). The rounded operands are the Winograd-transformed tiles, which mix neighbouring
 * taps: in F(2x2,3x3) the transforms B, G, A (entries 0, +-1, 1/2) sum about 7x as many
 * |x||w| products per output as the direct convolution (8/3 per dimension), so the worst case
 * is about 7 * 2^-8 = 0.027 of S; 2^-5 = 0.031 covers it. A wrong operand, a dropped half of a
 * bf16 pair or a missing block gives errors of the order of S itself.
 * The test also requires that bf16 was really used: somewhere the result differs from the FP32
 * cpu backend by more than 2^-12 * S (FP32 Winograd is ~1e-7 S off), so a silent fall back to
 * FP32 fails; and that 1 and 2 threads give the same bits (fixed reduction order).
 * The blocked SGEMM (linear layers, im2col convolutions) rounds its operands themselves, not
 * transformed ones: 2^-7 * S there (each product within ~2^-8, twice that as margin).
 *
 * On a CPU with AMX-BF16 the Winograd GEMMs run on AMX tiles (cpu_amx.h) unless FER_CPU_AMX=0;
 * the meson tests run both (backend_bf16 with FER_CPU_AMX=0, backend_bf16_amx with
 * FER_CPU_AMX=1, which makes the backend refuse bf16 without AMX). Same tolerance: only the FP32
 * summation order differs.
 *
 * Without AVX512_BF16 (or without the kernels in this build) the backend refuses bf16: the
 * test prints SKIP with its message and exits 77. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/arch.h"
#include "fer/backend.h"
#include "fer/model.h"
#include "fer/optim.h"
#include "fer/rng_math.h"
#include "fer/status.h"

#define TOL_REL 0x1p-5        /* Winograd (transformed operands, see above) */
#define TOL_REL_DIRECT 0x1p-7 /* GEMMs on the operands themselves (linear, im2col) */
#define TOL_ABS 1e-6
#define USED_REL 0x1p-12

static int failures;
static fer_backend *bf_one_thread; /* bf16 on 1 thread: results must equal 2 threads' bits */

static void check_same_bits(const char *name, const char *what, const float *a, const float *b,
                            size_t n)
{
    if (memcmp(a, b, n * sizeof(float)) != 0) {
        fprintf(stderr, "FAIL %s: %s differs between 1 and 2 threads\n", name, what);
        failures++;
    }
}

static void die(const char *what)
{
    fprintf(stderr, "test_backend_bf16: %s: %s\n", what, fer_last_error());
    exit(1);
}

static float *buf(fer_backend *b, size_t n)
{
    void *p = NULL;
    if (b->ops->alloc(b, (n ? n : 1) * sizeof(float), &p) != FER_OK)
        die("alloc");
    return p;
}

static float *rand_buf(fer_backend *b, size_t n, uint64_t seed, float scale)
{
    float *v = buf(b, n);
    for (size_t i = 0; i < n; i++)
        v[i] = scale * fer_rng_symmetric(seed, i);
    return v;
}

static float *abs_copy(fer_backend *b, const float *x, size_t n)
{
    float *v = buf(b, n);
    for (size_t i = 0; i < n; i++)
        v[i] = fabsf(x[i]);
    return v;
}

/* got (bf16) against want (ref) with the scale s; fp32: the FP32 cpu backend's result. Returns
 * the largest |got - fp32| / s (evidence that bf16 was used). */
static double check_close(const char *what, const char *case_name, double tol_rel,
                          const float *got, const float *want, const float *s, const float *fp32,
                          size_t n)
{
    double worst = 0.0, used = 0.0;
    size_t worst_i = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]), lim = tol_rel * s[i] + TOL_ABS;
        if (!(err <= lim)) {
            if (!bad || err / lim > worst) {
                worst = err / lim;
                worst_i = i;
            }
            bad = 1;
        }
        if (s[i] > 0) {
            double u = fabs((double)got[i] - fp32[i]) / s[i];
            if (u > used)
                used = u;
        }
    }
    if (bad) {
        fprintf(stderr, "FAIL %s %s: [%zu] = %g, ref %g, scale %g (tolerance %g * scale)\n",
                case_name, what, worst_i, got[worst_i], want[worst_i], s[worst_i], tol_rel);
        failures++;
    }
    return used;
}

typedef struct conv_case {
    int n, in_c, h, w, out_c, k, stride, pad, bias;
} conv_case;

/* every part must show bf16 rounding (else the bf16 kernels did not run) */
static void check_used(const char *name, double used_y, double used_dx, double used_dw)
{
    const char *fp32_like = used_y <= USED_REL     ? "forward"
                            : used_dx <= USED_REL ? "input gradient"
                            : used_dw <= USED_REL ? "weight gradient"
                                                  : NULL;
    if (fp32_like) {
        fprintf(stderr, "FAIL %s: the %s matches FP32 (max diff %.2g of the scale): bf16 "
                        "kernels not used\n", name, fp32_like,
                used_y <= USED_REL ? used_y : used_dx <= USED_REL ? used_dx : used_dw);
        failures++;
    }
    printf("  %-44s bf16 vs fp32, max diff / scale: y %.1e dx %.1e dw %.1e\n", name, used_y,
           used_dx, used_dw);
}

static void run_conv_case(fer_backend *ref, fer_backend *bf, fer_backend *fp, const conv_case *cc)
{
    fer_conv2d_args a = {cc->n,
                         cc->in_c,
                         cc->h,
                         cc->w,
                         cc->out_c,
                         (cc->h + 2 * cc->pad - cc->k) / cc->stride + 1,
                         (cc->w + 2 * cc->pad - cc->k) / cc->stride + 1,
                         cc->k,
                         cc->stride,
                         cc->pad,
                         cc->bias,
                         1,
                         0};
    int wino = a.k == 3 && a.stride == 1 && a.in_c >= 8 && a.out_c >= 8;
    double tol = wino ? TOL_REL : TOL_REL_DIRECT;
    char name[96];
    snprintf(name, sizeof name, "conv%dx%d s%d n%d %d->%d %dx%d pad%d%s", a.k, a.k, a.stride, a.n,
             a.in_c, a.out_c, a.in_h, a.in_w, a.pad, a.has_bias ? " bias" : "");
    size_t nx = (size_t)a.n * a.in_c * a.in_h * a.in_w,
           nw = (size_t)a.out_c * a.in_c * a.k * a.k;
    size_t ny = (size_t)a.n * a.out_c * a.out_h * a.out_w;
    uint64_t seed = (uint64_t)(a.n * 131 + a.in_c * 17 + a.out_c * 7 + a.in_h + a.pad);
    float *x = rand_buf(ref, nx, seed, 1.0f), *w = rand_buf(ref, nw, seed + 1, 0.3f);
    float *bias = rand_buf(ref, (size_t)a.out_c, seed + 2, 0.5f);
    float *dy = rand_buf(ref, ny, seed + 3, 1.0f);
    float *ax = abs_copy(ref, x, nx), *aw = abs_copy(ref, w, nw), *ady = abs_copy(ref, dy, ny);
    float *zero_bias = buf(ref, (size_t)a.out_c);
    memset(zero_bias, 0, (size_t)a.out_c * sizeof(float));
    /* [0] ref, [1] bf16, [2] fp32 cpu, [3] ref on absolute values (the scale) */
    float *y[4], *dx[4], *dw[4], *db[4];
    fer_backend *bs[3] = {ref, bf, fp};
    for (int i = 0; i < 4; i++) {
        y[i] = buf(ref, ny);
        dx[i] = buf(ref, nx);
        dw[i] = buf(ref, nw);
        db[i] = buf(ref, (size_t)a.out_c);
    }
    for (int i = 0; i < 3; i++) {
        fer_backend *b = bs[i];
        if (b->ops->conv2d_forward(b, &a, x, w, bias, y[i]) != FER_OK ||
            b->ops->conv2d_backward(b, &a, x, w, dy, dx[i], dw[i], db[i]) != FER_OK)
            die(name);
    }
    {
        float *y1 = buf(ref, ny), *dx1 = buf(ref, nx), *dw1 = buf(ref, nw);
        float *db1 = buf(ref, (size_t)a.out_c);
        fer_backend *b1 = bf_one_thread;
        if (b1->ops->conv2d_forward(b1, &a, x, w, bias, y1) != FER_OK ||
            b1->ops->conv2d_backward(b1, &a, x, w, dy, dx1, dw1, db1) != FER_OK)
            die(name);
        check_same_bits(name, "y", y1, y[1], ny);
        check_same_bits(name, "dx", dx1, dx[1], nx);
        check_same_bits(name, "dw", dw1, dw[1], nw);
        float *t[] = {y1, dx1, dw1, db1};
        for (int i = 0; i < 4; i++)
            ref->ops->release(ref, t[i]);
    }
    fer_conv2d_args aa = a;
    aa.has_bias = 0;
    if (ref->ops->conv2d_forward(ref, &aa, ax, aw, zero_bias, y[3]) != FER_OK ||
        ref->ops->conv2d_backward(ref, &aa, ax, aw, ady, dx[3], dw[3], NULL) != FER_OK)
        die("scale");
    if (a.has_bias) /* the bias adds |bias| to the scale; its gradient is an FP32 sum */
        for (size_t i = 0; i < ny; i++)
            y[3][i] += fabsf(bias[(i / ((size_t)a.out_h * a.out_w)) % (size_t)a.out_c]);
    double used_y = check_close("forward y", name, tol, y[1], y[0], y[3], y[2], ny);
    double used_dx = check_close("input gradient dx", name, tol, dx[1], dx[0], dx[3], dx[2], nx);
    double used_dw = check_close("weight gradient dw", name, tol, dw[1], dw[0], dw[3], dw[2], nw);
    if (a.has_bias)
        for (int c = 0; c < a.out_c; c++)
            if (!(fabsf(db[1][c] - db[0][c]) <= 1e-4f * (1.0f + fabsf(db[0][c])))) {
                fprintf(stderr, "FAIL %s: dbias[%d] = %g, ref %g\n", name, c, db[1][c], db[0][c]);
                failures++;
                break;
            }
    check_used(name, used_y, used_dx, used_dw);
    float *all[] = {x, w, bias, dy, ax, aw, ady, zero_bias};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ref->ops->release(ref, all[i]);
    for (int i = 0; i < 4; i++) {
        ref->ops->release(ref, y[i]);
        ref->ops->release(ref, dx[i]);
        ref->ops->release(ref, dw[i]);
        ref->ops->release(ref, db[i]);
    }
}

/* ---- linear: y = x W^T + b through the blocked GEMM (batches >= 6; smaller forward batches
 * take the FP32 row path) ------------------------------------------------------------------ */

static void run_linear_case(fer_backend *ref, fer_backend *bf, fer_backend *fp, int n, int in,
                            int out, int bias)
{
    fer_linear_args a = {n, in, out, bias};
    char name[96];
    snprintf(name, sizeof name, "linear n%d %d->%d%s", n, in, out, bias ? " bias" : "");
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    uint64_t seed = (uint64_t)(n * 1000 + in * 10 + out);
    float *x = rand_buf(ref, nx, seed, 1.0f), *w = rand_buf(ref, nw, seed + 1, 0.3f);
    float *b = rand_buf(ref, (size_t)out, seed + 2, 0.5f), *dy = rand_buf(ref, ny, seed + 3, 1.0f);
    float *ax = abs_copy(ref, x, nx), *aw = abs_copy(ref, w, nw), *ady = abs_copy(ref, dy, ny);
    float *y[4], *dx[4], *dw[4], *db[4];
    fer_backend *bs[3] = {ref, bf, fp};
    for (int i = 0; i < 4; i++) {
        y[i] = buf(ref, ny);
        dx[i] = buf(ref, nx);
        dw[i] = buf(ref, nw);
        db[i] = buf(ref, (size_t)out);
    }
    for (int i = 0; i < 3; i++)
        if (bs[i]->ops->linear_forward(bs[i], &a, x, w, b, y[i]) != FER_OK ||
            bs[i]->ops->linear_backward(bs[i], &a, x, w, dy, dx[i], dw[i], db[i]) != FER_OK)
            die(name);
    {
        float *y1 = buf(ref, ny), *dx1 = buf(ref, nx), *dw1 = buf(ref, nw);
        float *db1 = buf(ref, (size_t)out);
        fer_backend *b1 = bf_one_thread;
        if (b1->ops->linear_forward(b1, &a, x, w, b, y1) != FER_OK ||
            b1->ops->linear_backward(b1, &a, x, w, dy, dx1, dw1, db1) != FER_OK)
            die(name);
        check_same_bits(name, "y", y1, y[1], ny);
        check_same_bits(name, "dx", dx1, dx[1], nx);
        check_same_bits(name, "dw", dw1, dw[1], nw);
        float *t[] = {y1, dx1, dw1, db1};
        for (int i = 0; i < 4; i++)
            ref->ops->release(ref, t[i]);
    }
    fer_linear_args aa = {n, in, out, 0};
    if (ref->ops->linear_forward(ref, &aa, ax, aw, NULL, y[3]) != FER_OK ||
        ref->ops->linear_backward(ref, &aa, ax, aw, ady, dx[3], dw[3], NULL) != FER_OK)
        die("scale");
    if (bias)
        for (size_t i = 0; i < ny; i++)
            y[3][i] += fabsf(b[i % (size_t)out]);
    double uy = check_close("forward y", name, TOL_REL_DIRECT, y[1], y[0], y[3], y[2], ny);
    double udx =
        check_close("input gradient dx", name, TOL_REL_DIRECT, dx[1], dx[0], dx[3], dx[2], nx);
    double udw =
        check_close("weight gradient dw", name, TOL_REL_DIRECT, dw[1], dw[0], dw[3], dw[2], nw);
    check_used(name, uy, udx, udw);
    float *all[] = {x, w, b, dy, ax, aw, ady};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ref->ops->release(ref, all[i]);
    for (int i = 0; i < 4; i++) {
        ref->ops->release(ref, y[i]);
        ref->ops->release(ref, dx[i]);
        ref->ops->release(ref, dw[i]);
        ref->ops->release(ref, db[i]);
    }
}

/* ---- training: a small network whose 3x3 layers take the bf16 path ------------------------- */

static const char *train_arch =
    "{\"name\":\"bf16_test\",\"input\":[1,16,16],\"classes\":7,\"layers\":["
    "{\"type\":\"conv2d\",\"out\":16,\"k\":3,\"pad\":1},{\"type\":\"batchnorm2d\"},"
    "{\"type\":\"relu\"},"
    "{\"type\":\"conv2d\",\"out\":16,\"k\":3,\"pad\":1},{\"type\":\"batchnorm2d\"},"
    "{\"type\":\"relu\"},{\"type\":\"maxpool2d\",\"k\":2,\"stride\":2},"
    "{\"type\":\"conv2d\",\"out\":24,\"k\":3,\"pad\":1},{\"type\":\"batchnorm2d\"},"
    "{\"type\":\"relu\"},{\"type\":\"maxpool2d\",\"k\":2,\"stride\":2},"
    "{\"type\":\"flatten\"},{\"type\":\"linear\",\"out\":7}],\"head\":{\"type\":\"softmax\"}}";

#define TRAIN_BATCH 16
#define TRAIN_STEPS 8

/* losses[s] of TRAIN_STEPS Adam steps on one fixed batch */
static void train(fer_backend *b, float *losses)
{
    fer_arch arch;
    if (fer_arch_from_json(train_arch, "test", &arch) != FER_OK)
        die("arch");
    fer_model *m;
    if (fer_model_new(&arch, b, TRAIN_BATCH, &m) != FER_OK || fer_model_init(m, 5) != FER_OK)
        die("model");
    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_ADAM, 3e-3f, &oc);
    fer_optimizer *opt;
    if (fer_optimizer_new(m, &oc, &opt) != FER_OK)
        die("optimizer");
    float x[TRAIN_BATCH * 16 * 16];
    int32_t labels[TRAIN_BATCH];
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = fer_rng_symmetric(11, i);
    for (int i = 0; i < TRAIN_BATCH; i++)
        labels[i] = (int32_t)(fer_splitmix64((uint64_t)i + 3) % 7);
    fer_loss_config loss = {0};
    loss.kind = FER_LOSS_CE;
    for (int s = 0; s < TRAIN_STEPS; s++) {
        if (fer_model_forward(m, x, TRAIN_BATCH, FER_MODE_TRAIN, labels, (uint64_t)s, NULL) ||
            fer_model_loss(m, &loss, labels, &losses[s]) || fer_model_backward(m) ||
            fer_optimizer_step(opt, 3e-3f))
            die("training step");
    }
    fer_optimizer_free(opt);
    fer_model_free(m);
}

/* Loss tolerance against FP32: 0.02 * loss + 0.01 at every step. The first loss differs only
 * by the rounded forward (two bf16 Winograd layers and the linear layer, each ~2^-8 relative,
 * through batch norm and the loss: measured 1e-4 relative); later steps also by the rounded
 * gradients (measured 0.8% after 8 steps: 0.3843 against 0.3874); the bound leaves about 5x
 * headroom at the last step. The loss must also fall by 20% (measured: by 82%). */
static void run_training(fer_backend *bf, fer_backend *fp)
{
    float l_bf[TRAIN_STEPS], l_fp[TRAIN_STEPS];
    train(bf, l_bf);
    train(fp, l_fp);
    for (int s = 0; s < TRAIN_STEPS; s++) {
        float tol = 0.02f * l_fp[s] + 0.01f;
        if (!(fabsf(l_bf[s] - l_fp[s]) <= tol)) {
            fprintf(stderr, "FAIL training step %d: bf16 loss %g, fp32 %g (tolerance %g)\n", s,
                    l_bf[s], l_fp[s], tol);
            failures++;
        }
    }
    if (!(l_bf[TRAIN_STEPS - 1] < 0.8f * l_bf[0])) {
        fprintf(stderr, "FAIL training: bf16 loss %g -> %g did not fall by 20%%\n", l_bf[0],
                l_bf[TRAIN_STEPS - 1]);
        failures++;
    }
    printf("  training %d steps: bf16 loss %.4f -> %.4f, fp32 %.4f -> %.4f\n", TRAIN_STEPS,
           l_bf[0], l_bf[TRAIN_STEPS - 1], l_fp[0], l_fp[TRAIN_STEPS - 1]);
}

int main(void)
{
    fer_backend *ref, *bf, *fp;
    if (fer_backend_new("ref", 1, &ref) || fer_backend_new("cpu", 2, &bf) ||
        fer_backend_new("cpu", 2, &fp))
        die("backend");
    fer_status st = fer_backend_set_precision(bf, FER_PREC_BF16);
    if (st == FER_ERR_UNSUPPORTED) {
        printf("SKIP: bf16 needs AVX512_BF16 and the avx512 kernel set (and AMX-BF16 under "
               "FER_CPU_AMX=1): %s\n", fer_last_error());
        return 77;
    }
    if (st != FER_OK)
        die("set_precision bf16");
    if (fer_backend_new("cpu", 1, &bf_one_thread) ||
        fer_backend_set_precision(bf_one_thread, FER_PREC_BF16))
        die("bf16 backend, 1 thread");
    printf("%s, bf16 mode\n", fer_backend_note(bf));
    static const conv_case cases[] = {
        /* Winograd (3x3 stride 1, >= 8 channels) */
        {3, 9, 7, 5, 13, 3, 1, 1, 1},    /* odd channels: padded pairs and blocks */
        {2, 8, 6, 6, 8, 3, 1, 0, 0},     /* valid convolution */
        {1, 11, 5, 9, 33, 3, 1, 2, 1},   /* pad 2, two output blocks, odd tile count */
        {4, 16, 12, 12, 40, 3, 1, 1, 1}, /* several tasks and slots */
        {5, 24, 9, 11, 64, 3, 1, 1, 0},
        /* AMX tiles (cpu_amx.h) where the CPU has them: 16 + 4 pairs of input channels (a
         * full and a remainder tile), odd tile counts; then whole tiles only (32 pairs, 64
         * tiles of an image) */
        {3, 40, 10, 9, 48, 3, 1, 1, 1},
        {2, 64, 16, 16, 32, 3, 1, 1, 0},
        /* im2col + GEMM (stride 3; odd k = in_c * 9 per pair). Stride 2 runs on FP32 phase
         * planes even in bf16 mode (faster than bf16 im2col): checked below */
        {3, 7, 9, 11, 19, 3, 3, 1, 1},
        {2, 32, 12, 12, 64, 3, 3, 1, 0}, /* k = 288: two k blocks */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_conv_case(ref, bf, fp, &cases[i]);
    run_linear_case(ref, bf, fp, 7, 37, 13, 1);   /* odd k, edge tiles */
    run_linear_case(ref, bf, fp, 16, 300, 70, 0); /* two k blocks (256 + 44) */
    run_training(bf, fp);
    { /* stride 2 (ResNet downsampling) stays FP32 under bf16: the same bits as the FP32 backend */
        fer_conv2d_args a = {2, 16, 12, 12, 32, 6, 6, 3, 2, 1, 0, 1, 0};
        size_t nx = 2 * 16 * 144, nw = 32 * 16 * 9, ny = 2 * 32 * 36;
        float *x = rand_buf(ref, nx, 91, 1.0f), *w = rand_buf(ref, nw, 92, 0.3f);
        float *dy = rand_buf(ref, ny, 93, 1.0f);
        float *y0 = buf(ref, ny), *y1 = buf(ref, ny), *dx0 = buf(ref, nx), *dx1 = buf(ref, nx);
        float *dw0 = buf(ref, nw), *dw1 = buf(ref, nw);
        if (bf->ops->conv2d_forward(bf, &a, x, w, NULL, y0) ||
            fp->ops->conv2d_forward(fp, &a, x, w, NULL, y1) ||
            bf->ops->conv2d_backward(bf, &a, x, w, dy, dx0, dw0, NULL) ||
            fp->ops->conv2d_backward(fp, &a, x, w, dy, dx1, dw1, NULL))
            die("stride-2 conv");
        if (memcmp(y0, y1, ny * sizeof(float)) || memcmp(dx0, dx1, nx * sizeof(float)) ||
            memcmp(dw0, dw1, nw * sizeof(float))) {
            fprintf(stderr, "FAIL: a stride-2 conv in bf16 mode is not the FP32 phase-plane result\n");
            failures++;
        }
        float *all[] = {x, w, dy, y0, y1, dx0, dx1, dw0, dw1};
        for (int i = 0; i < 9; i++)
            ref->ops->release(ref, all[i]);
    }
    /* FP32 again on request: results equal the FP32 backend's bit for bit */
    if (fer_backend_set_precision(bf, FER_PREC_FP32) != FER_OK)
        die("set_precision fp32");
    {
        fer_conv2d_args a = {2, 8, 6, 6, 8, 6, 6, 3, 1, 1, 0, 1, 0};
        size_t nx = 2 * 8 * 36, nw = 8 * 8 * 9;
        float *x = rand_buf(ref, nx, 77, 1.0f), *w = rand_buf(ref, nw, 78, 0.3f);
        float *y0 = buf(ref, nx), *y1 = buf(ref, nx);
        if (bf->ops->conv2d_forward(bf, &a, x, w, NULL, y0) ||
            fp->ops->conv2d_forward(fp, &a, x, w, NULL, y1))
            die("fp32 forward");
        if (memcmp(y0, y1, nx * sizeof(float)) != 0) {
            fprintf(stderr, "FAIL: after set_precision(FP32) the result is not FP32's\n");
            failures++;
        }
        float *all[] = {x, w, y0, y1};
        for (int i = 0; i < 4; i++)
            ref->ops->release(ref, all[i]);
    }
    fer_backend_free(bf);
    fer_backend_free(fp);
    fer_backend_free(bf_one_thread);
    fer_backend_free(ref);
    if (failures) {
        fprintf(stderr, "test_backend_bf16: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_backend_bf16: OK\n");
    return 0;
}
