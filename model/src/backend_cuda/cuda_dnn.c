/* cuDNN layers: convolution (forward, backward data, backward filter, bias), batch norm
 * (training with batch statistics, inference with running statistics, backward) and ReLU.
 *
 * Convolution algorithms are chosen once per shape and precision from cuDNN's heuristics
 * (cudnnGet*Algorithm_v7: no benchmarking, so the choice is reproducible) and cached with the
 * descriptors. A candidate is accepted only when cuDNN reports a workspace size for it under
 * the math type it comes with (which proves the pair is supported for the shape); the math
 * type is set again before every call since forward and backward may differ. Deterministic
 * algorithms win over faster non-deterministic ones so training runs repeat exactly.
 *
 * Batch norm semantics match PyTorch: cuDNN normalises with the biased batch variance, saves
 * mean and 1/sqrt(var+eps), and updates the running variance with the unbiased one using
 * running = (1-momentum)*running + momentum*batch (exponentialAverageFactor = momentum). */
#include <stdlib.h>
#include <string.h>
#include "../backend_ref.h" /* fer_ref_conv2d_groups_check: one definition of valid groups */
#include "cuda_internal.h"

static const float one = 1.0f, zero = 0.0f;

/* ---- convolution plans ------------------------------------------------------------------- */

static cudnnMathType_t wanted_math(fer_precision p)
{
    switch (p) {
    case FER_PREC_FP16: return CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; /* FP16 tensor cores */
    case FER_PREC_BF16: return CUDNN_TENSOR_OP_MATH;                  /* TF32 tensor cores */
    default: return CUDNN_FMA_MATH;                                   /* plain FP32 */
    }
}

typedef struct algo_candidate {
    int algo;
    cudnnStatus_t status;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math; /* the math type cuDNN wants this algorithm run with */
} algo_candidate;

enum conv_dir { DIR_FWD = 0, DIR_BWD_DATA, DIR_BWD_FILTER };

static cudnnStatus_t workspace_size(cuda_ctx *c, const cuda_conv_plan *p, enum conv_dir dir,
                                    int algo, size_t *bytes)
{
    switch (dir) {
    case DIR_FWD:
        return cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->x_desc, p->w_desc, p->conv_desc,
                                                       p->y_desc,
                                                       (cudnnConvolutionFwdAlgo_t)algo, bytes);
    case DIR_BWD_DATA:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            c->dnn, p->w_desc, p->y_desc, p->conv_desc, p->x_desc,
            (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
    default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(
            c->dnn, p->x_desc, p->y_desc, p->conv_desc, p->w_desc,
            (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
    }
}

/* Heuristic candidates, best first. */
static fer_status candidates(cuda_ctx *c, const cuda_conv_plan *p, enum conv_dir dir,
                             algo_candidate *out, int *n_out)
{
    int got = 0;
    *n_out = 0;
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        DNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, p->x_desc, p->w_desc, p->conv_desc,
                                                       p->y_desc,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                                       perf));
        for (int i = 0; i < got; i++)
            out[i] = (algo_candidate){(int)perf[i].algo, perf[i].status, perf[i].determinism,
                                      perf[i].mathType};
    } else if (dir == DIR_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        DNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(
            c->dnn, p->w_desc, p->y_desc, p->conv_desc, p->x_desc,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf));
        for (int i = 0; i < got; i++)
            out[i] = (algo_candidate){(int)perf[i].algo, perf[i].status, perf[i].determinism,
                                      perf[i].mathType};
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        DNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            c->dnn, p->x_desc, p->y_desc, p->conv_desc, p->w_desc,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf));
        for (int i = 0; i < got; i++)
            out[i] = (algo_candidate){(int)perf[i].algo, perf[i].status, perf[i].determinism,
                                      perf[i].mathType};
    }
    *n_out = got;
    return FER_OK;
}

/* Passes, best first: request the wanted math type and take a candidate that runs with it
 * (deterministic, then any); then, for reduced precisions, any math cuDNN pairs with a
 * candidate; last, default math (may be TF32 on Ampere: better than no convolution). */
static fer_status choose_algo(cuda_ctx *c, cuda_conv_plan *p, enum conv_dir dir, int *algo,
                              cudnnMathType_t *math, size_t *ws)
{
    enum { MAXC = 16, PASSES = 6 };
    algo_candidate cand[MAXC];
    const cudnnMathType_t wanted = wanted_math(p->precision);
    for (int pass = 0; pass < PASSES; pass++) {
        int exact = pass < 2, need_det = pass % 2 == 0, fallback = pass >= 4;
        if (pass >= 2 && pass < 4 && p->precision == FER_PREC_FP32)
            continue; /* FP32 never takes tensor-core math unless nothing else exists */
        cudnnMathType_t request = fallback ? CUDNN_DEFAULT_MATH : wanted;
        int n = 0;
        DNN_TRY(cudnnSetConvolutionMathType(p->conv_desc, request));
        FER_TRY(candidates(c, p, dir, cand, &n));
        for (int i = 0; i < n && i < MAXC; i++) {
            size_t bytes = 0;
            if (cand[i].status != CUDNN_STATUS_SUCCESS) continue;
            if (need_det && cand[i].determinism != CUDNN_DETERMINISTIC) continue;
            if (exact && cand[i].math != wanted) continue;
            /* proves the (algorithm, math type) pair is supported for this shape */
            DNN_TRY(cudnnSetConvolutionMathType(p->conv_desc, cand[i].math));
            if (workspace_size(c, p, dir, cand[i].algo, &bytes) != CUDNN_STATUS_SUCCESS)
                continue;
            if (bytes > CUDA_MAX_WORKSPACE) continue;
            *algo = cand[i].algo;
            *math = cand[i].math;
            *ws = bytes;
            return FER_OK;
        }
    }
    return fer_fail(FER_ERR_UNSUPPORTED,
                    "cuda: cuDNN offers no algorithm for conv %dx%d stride %d pad %d on "
                    "%dx%dx%dx%d",
                    p->args.k, p->args.k, p->args.stride, p->args.pad, p->args.n,
                    p->args.in_c, p->args.in_h, p->args.in_w);
}

static void plan_destroy(cuda_conv_plan *p)
{
    if (p->x_desc) cudnnDestroyTensorDescriptor(p->x_desc);
    if (p->y_desc) cudnnDestroyTensorDescriptor(p->y_desc);
    if (p->bias_desc) cudnnDestroyTensorDescriptor(p->bias_desc);
    if (p->w_desc) cudnnDestroyFilterDescriptor(p->w_desc);
    if (p->conv_desc) cudnnDestroyConvolutionDescriptor(p->conv_desc);
    memset(p, 0, sizeof *p);
}

static fer_status plan_build(cuda_ctx *c, cuda_conv_plan *p)
{
    const fer_conv2d_args *a = &p->args;
    DNN_TRY(cudnnCreateTensorDescriptor(&p->x_desc));
    DNN_TRY(cudnnCreateTensorDescriptor(&p->y_desc));
    DNN_TRY(cudnnCreateTensorDescriptor(&p->bias_desc));
    DNN_TRY(cudnnCreateFilterDescriptor(&p->w_desc));
    DNN_TRY(cudnnCreateConvolutionDescriptor(&p->conv_desc));
    DNN_TRY(cudnnSetTensor4dDescriptor(p->x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, a->n,
                                       a->in_c, a->in_h, a->in_w));
    DNN_TRY(cudnnSetTensor4dDescriptor(p->y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, a->n,
                                       a->out_c, a->out_h, a->out_w));
    DNN_TRY(cudnnSetTensor4dDescriptor(p->bias_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                       a->out_c, 1, 1));
    DNN_TRY(cudnnSetFilter4dDescriptor(p->w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, a->out_c,
                                       a->in_c / a->groups, a->k, a->k));
    DNN_TRY(cudnnSetConvolution2dDescriptor(p->conv_desc, a->pad, a->pad, a->stride, a->stride,
                                            1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN_TRY(cudnnSetConvolutionGroupCount(p->conv_desc, a->groups));
    int n, ch, h, w;
    DNN_TRY(cudnnGetConvolution2dForwardOutputDim(p->conv_desc, p->x_desc, p->w_desc, &n, &ch,
                                                  &h, &w));
    if (n != a->n || ch != a->out_c || h != a->out_h || w != a->out_w)
        return fer_fail(FER_ERR_ARG,
                        "cuda: conv output shape %dx%dx%dx%d does not match cuDNN's %dx%dx%dx%d",
                        a->n, a->out_c, a->out_h, a->out_w, n, ch, h, w);
    int algo;
    FER_TRY(choose_algo(c, p, DIR_FWD, &algo, &p->fwd_math, &p->fwd_ws));
    p->fwd_algo = (cudnnConvolutionFwdAlgo_t)algo;
    FER_TRY(choose_algo(c, p, DIR_BWD_DATA, &algo, &p->bwd_data_math, &p->bwd_data_ws));
    p->bwd_data_algo = (cudnnConvolutionBwdDataAlgo_t)algo;
    FER_TRY(choose_algo(c, p, DIR_BWD_FILTER, &algo, &p->bwd_filter_math, &p->bwd_filter_ws));
    p->bwd_filter_algo = (cudnnConvolutionBwdFilterAlgo_t)algo;
    return FER_OK;
}

static fer_status conv_args_check(const fer_conv2d_args *a)
{
    if (a->n <= 0 || a->in_c <= 0 || a->in_h <= 0 || a->in_w <= 0 || a->out_c <= 0 ||
        a->out_h <= 0 || a->out_w <= 0 || a->k <= 0 || a->stride <= 0 || a->pad < 0)
        return fer_fail(FER_ERR_ARG, "cuda: invalid conv2d shape");
    FER_TRY(fer_ref_conv2d_groups_check(a));
    FER_TRY(cuda_check_count((size_t)a->n * a->in_c * a->in_h * a->in_w, "conv2d input"));
    FER_TRY(cuda_check_count((size_t)a->n * a->out_c * a->out_h * a->out_w, "conv2d output"));
    return FER_OK;
}

static fer_status plan_get(cuda_ctx *c, const fer_conv2d_args *args, cuda_conv_plan **out)
{
    *out = NULL;
    fer_conv2d_args key = *args;
    key.weights_gen = 0; /* a plan depends on the shapes only */
    const fer_conv2d_args *a = &key;
    for (int i = 0; i < c->n_conv_plans; i++) {
        cuda_conv_plan *p = &c->conv_plans[i];
        if (p->precision == c->precision && memcmp(&p->args, a, sizeof *a) == 0) {
            *out = p;
            return FER_OK;
        }
    }
    FER_TRY(conv_args_check(a));
    if (c->n_conv_plans == c->cap_conv_plans) {
        int cap = c->cap_conv_plans ? 2 * c->cap_conv_plans : 16;
        cuda_conv_plan *np = realloc(c->conv_plans, (size_t)cap * sizeof *np);
        if (!np) return fer_fail(FER_ERR_NOMEM, "cuda: out of host memory (conv plans)");
        c->conv_plans = np;
        c->cap_conv_plans = cap;
    }
    cuda_conv_plan *p = &c->conv_plans[c->n_conv_plans];
    memset(p, 0, sizeof *p);
    p->args = *a;
    p->precision = c->precision;
    fer_status st = plan_build(c, p);
    if (st != FER_OK) {
        plan_destroy(p);
        return st;
    }
    c->n_conv_plans++;
    *out = p;
    return FER_OK;
}

void cuda_dnn_free(cuda_ctx *c)
{
    for (int i = 0; i < c->n_conv_plans; i++) plan_destroy(&c->conv_plans[i]);
    free(c->conv_plans);
    c->conv_plans = NULL;
    c->n_conv_plans = c->cap_conv_plans = 0;
    if (c->relu_desc) cudnnDestroyActivationDescriptor(c->relu_desc);
    c->relu_desc = NULL;
}

fer_status cuda_dnn_init(cuda_ctx *c)
{
    DNN_TRY(cudnnCreateActivationDescriptor(&c->relu_desc));
    DNN_TRY(cudnnSetActivationDescriptor(c->relu_desc, CUDNN_ACTIVATION_RELU,
                                         CUDNN_NOT_PROPAGATE_NAN, 0.0)); /* NaN -> 0, as ref */
    return FER_OK;
}

/* ---- convolution ------------------------------------------------------------------------- */

fer_status cuda_conv2d_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                               const float *w, const float *bias, float *y)
{
    cuda_ctx *c = cuda_ctx_of(b);
    cuda_conv_plan *p;
    void *ws;
    if (a->n == 0) return FER_OK; /* empty batch, as ref (cuDNN rejects zero dimensions) */
    FER_TRY(plan_get(c, a, &p));
    FER_TRY(cuda_workspace(c, p->fwd_ws, &ws));
    DNN_TRY(cudnnSetConvolutionMathType(p->conv_desc, p->fwd_math));
    DNN_TRY(cudnnConvolutionForward(c->dnn, &one, p->x_desc, x, p->w_desc, w, p->conv_desc,
                                    p->fwd_algo, ws, p->fwd_ws, &zero, p->y_desc, y));
    if (a->has_bias && bias)
        DNN_TRY(cudnnAddTensor(c->dnn, &one, p->bias_desc, bias, &one, p->y_desc, y));
    return FER_OK;
}

fer_status cuda_conv2d_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                const float *w, const float *dy, float *dx, float *dw,
                                float *dbias)
{
    cuda_ctx *c = cuda_ctx_of(b);
    cuda_conv_plan *p;
    void *ws;
    if (a->n == 0) { /* empty batch: zero parameter gradients, as ref */
        FER_TRY(fer_ref_conv2d_groups_check(a));
        if (dw)
            CUDA_TRY(cudaMemsetAsync(dw, 0,
                                     (size_t)a->out_c * (a->in_c / a->groups) * a->k * a->k * 4,
                                     c->stream));
        if (a->has_bias && dbias)
            CUDA_TRY(cudaMemsetAsync(dbias, 0, (size_t)a->out_c * 4, c->stream));
        return FER_OK;
    }
    FER_TRY(plan_get(c, a, &p));
    /* bias gradient is a plain FP32 reduction over the unscaled gradient */
    if (a->has_bias && dbias)
        DNN_TRY(cudnnConvolutionBackwardBias(c->dnn, &one, p->y_desc, dy, &zero, p->bias_desc,
                                             dbias));
    const float *g = dy, *scale_dev = NULL;
    if (cuda_amp_scales_gradients(c))
        FER_TRY(cuda_amp_scale_gradient(c, dy, (size_t)a->n * a->out_c * a->out_h * a->out_w,
                                        &g, &scale_dev));
    if (dx) {
        FER_TRY(cuda_workspace(c, p->bwd_data_ws, &ws));
        DNN_TRY(cudnnSetConvolutionMathType(p->conv_desc, p->bwd_data_math));
        DNN_TRY(cudnnConvolutionBackwardData(c->dnn, &one, p->w_desc, w, p->y_desc, g,
                                             p->conv_desc, p->bwd_data_algo, ws, p->bwd_data_ws,
                                             &zero, p->x_desc, dx));
        if (scale_dev)
            FER_TRY(cuda_amp_unscale(c, dx, (size_t)a->n * a->in_c * a->in_h * a->in_w,
                                     scale_dev));
    }
    if (dw) {
        FER_TRY(cuda_workspace(c, p->bwd_filter_ws, &ws));
        DNN_TRY(cudnnSetConvolutionMathType(p->conv_desc, p->bwd_filter_math));
        DNN_TRY(cudnnConvolutionBackwardFilter(c->dnn, &one, p->x_desc, x, p->y_desc, g,
                                               p->conv_desc, p->bwd_filter_algo, ws,
                                               p->bwd_filter_ws, &zero, p->w_desc, dw));
        if (scale_dev)
            FER_TRY(cuda_amp_unscale(
                c, dw, (size_t)a->out_c * (a->in_c / a->groups) * a->k * a->k, scale_dev));
    }
    return FER_OK;
}

/* ---- batch norm -------------------------------------------------------------------------- */

typedef struct bn_descs {
    cudnnTensorDescriptor_t x, param;
} bn_descs;

static void bn_descs_free(bn_descs *d)
{
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->param) cudnnDestroyTensorDescriptor(d->param);
}

/* x viewed as n x c x hw x 1: spatial mode normalises each channel over (n, hw). */
static fer_status bn_descs_make(const fer_bn_args *a, bn_descs *d)
{
    memset(d, 0, sizeof *d);
    if (a->n <= 0 || a->c <= 0 || a->hw <= 0)
        return fer_fail(FER_ERR_ARG, "cuda: invalid batchnorm shape %dx%dx%d", a->n, a->c,
                        a->hw);
    FER_TRY(cuda_check_count((size_t)a->n * a->c * a->hw, "batchnorm input"));
    DNN_TRY(cudnnCreateTensorDescriptor(&d->x));
    DNN_TRY(cudnnCreateTensorDescriptor(&d->param));
    DNN_TRY(cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, a->n, a->c,
                                       a->hw, 1));
    DNN_TRY(cudnnDeriveBNTensorDescriptor(d->param, d->x, CUDNN_BATCHNORM_SPATIAL));
    return FER_OK;
}

static fer_status bn_forward(cuda_ctx *c, const fer_bn_args *a, int training, const bn_descs *d,
                             const float *x, const float *gamma, const float *beta,
                             float *running_mean, float *running_var, float *y, float *save_mean,
                             float *save_invstd)
{
    if (!training) {
        DNN_TRY(cudnnBatchNormalizationForwardInference(
            c->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d->x, x, d->x, y, d->param, gamma,
            beta, running_mean, running_var, (double)a->eps));
        return FER_OK;
    }
    if ((size_t)a->n * a->hw < 2)
        return fer_fail(FER_ERR_ARG,
                        "cuda: batchnorm training needs more than 1 value per channel");
    DNN_TRY(cudnnBatchNormalizationForwardTraining(
        c->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d->x, x, d->x, y, d->param, gamma, beta,
        (double)a->momentum, running_mean, running_var, (double)a->eps, save_mean,
        save_invstd));
    return FER_OK;
}

fer_status cuda_batchnorm_forward(fer_backend *b, const fer_bn_args *a, int training,
                                  const float *x, const float *gamma, const float *beta,
                                  float *running_mean, float *running_var, float *y,
                                  float *save_mean, float *save_invstd)
{
    if (a->relu || a->pool) /* fuses_relu and fuses_pool are 0 here */
        return fer_fail(FER_ERR_UNSUPPORTED, "cuda backend: batch norm with a fused %s",
                        a->relu ? "ReLU" : "max pool");
    bn_descs d;
    fer_status st = bn_descs_make(a, &d);
    if (st == FER_OK)
        st = bn_forward(cuda_ctx_of(b), a, training, &d, x, gamma, beta, running_mean,
                        running_var, y, save_mean, save_invstd);
    bn_descs_free(&d);
    return st;
}

static fer_status bn_backward(cuda_ctx *c, const fer_bn_args *a, const bn_descs *d,
                              const float *x, const float *gamma, const float *save_mean,
                              const float *save_invstd, const float *dy, float *dx,
                              float *dgamma, float *dbeta)
{
    /* cuDNN always produces all three gradients; unwanted ones go to scratch */
    size_t nx = (size_t)a->n * a->c * a->hw;
    size_t need = (dx ? 0 : nx) + (dgamma ? 0 : (size_t)a->c) + (dbeta ? 0 : (size_t)a->c);
    if (need) {
        void *buf;
        FER_TRY(cuda_scratch(c, need * sizeof(float), &buf));
        float *s = buf;
        if (!dx) { dx = s; s += nx; }
        if (!dgamma) { dgamma = s; s += a->c; }
        if (!dbeta) dbeta = s;
    }
    DNN_TRY(cudnnBatchNormalizationBackward(c->dnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one,
                                            &zero, d->x, x, d->x, dy, d->x, dx, d->param, gamma,
                                            dgamma, dbeta, (double)a->eps, save_mean,
                                            save_invstd));
    return FER_OK;
}

fer_status cuda_batchnorm_backward(fer_backend *b, const fer_bn_args *a, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *save_mean, const float *save_invstd,
                                   const float *dy, float *dx, float *dgamma, float *dbeta)
{
    (void)beta;
    if (a->relu) /* fuses_relu is 0 here: the graph runs the ReLU itself */
        return fer_fail(FER_ERR_UNSUPPORTED, "cuda backend: batch norm with a fused ReLU");
    bn_descs d;
    fer_status st = bn_descs_make(a, &d);
    if (st == FER_OK)
        st = bn_backward(cuda_ctx_of(b), a, &d, x, gamma, save_mean, save_invstd, dy, dx,
                         dgamma, dbeta);
    bn_descs_free(&d);
    return st;
}

/* ---- ReLU -------------------------------------------------------------------------------- */

static fer_status flat_desc(size_t n, cudnnTensorDescriptor_t *d)
{
    *d = NULL;
    FER_TRY(cuda_check_count(n, "relu input"));
    DNN_TRY(cudnnCreateTensorDescriptor(d));
    DNN_TRY(cudnnSetTensor4dDescriptor(*d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 1, 1, (int)n));
    return FER_OK;
}

fer_status cuda_relu_forward(fer_backend *b, size_t n, const float *x, float *y)
{
    cuda_ctx *c = cuda_ctx_of(b);
    cudnnTensorDescriptor_t d;
    if (n == 0) return FER_OK;
    fer_status st = flat_desc(n, &d);
    if (st == FER_OK) {
        cudnnStatus_t s = cudnnActivationForward(c->dnn, c->relu_desc, &one, d, x, &zero, d, y);
        if (s != CUDNN_STATUS_SUCCESS) st = cuda_fail_dnn(s, "cudnnActivationForward");
    }
    if (d) cudnnDestroyTensorDescriptor(d);
    return st;
}

/* dx = dy where y > 0. cuDNN's ReLU backward reads x only through its sign, which equals the
 * sign of y, so y is passed for x. */
fer_status cuda_relu_backward(fer_backend *b, size_t n, const float *y, const float *dy,
                              float *dx)
{
    cuda_ctx *c = cuda_ctx_of(b);
    cudnnTensorDescriptor_t d;
    if (n == 0) return FER_OK;
    fer_status st = flat_desc(n, &d);
    if (st == FER_OK) {
        cudnnStatus_t s = cudnnActivationBackward(c->dnn, c->relu_desc, &one, d, y, d, dy, d, y,
                                                  &zero, d, dx);
        if (s != CUDNN_STATUS_SUCCESS) st = cuda_fail_dnn(s, "cudnnActivationBackward");
    }
    if (d) cudnnDestroyTensorDescriptor(d);
    return st;
}
