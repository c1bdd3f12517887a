/* CUDA backend: device probe, context (stream, cuDNN and cuBLAS handles, work buffers), device
 * memory and the ops table. Layer math lives in cuda_dnn.c (cuDNN), cuda_blas.c (cuBLAS) and
 * cuda_ops.c (our kernels, whose per-element math is the shared FER_HD header code). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cuda_internal.h"
#include "cuda_kernels.h"

/* ---- errors ---------------------------------------------------------------------------- */

fer_status cuda_fail_rt(cudaError_t e, const char *what)
{
    fer_status st = e == cudaErrorMemoryAllocation ? FER_ERR_NOMEM : FER_ERR_INTERNAL;
    return fer_fail(st, "cuda: %s failed: %s", what, cudaGetErrorString(e));
}

fer_status cuda_fail_dnn(cudnnStatus_t s, const char *what)
{
    fer_status st = s == CUDNN_STATUS_ALLOC_FAILED ? FER_ERR_NOMEM : FER_ERR_INTERNAL;
    return fer_fail(st, "cuda: %s failed: %s", what, cudnnGetErrorString(s));
}

fer_status cuda_fail_blas(cublasStatus_t s, const char *what)
{
    fer_status st = s == CUBLAS_STATUS_ALLOC_FAILED ? FER_ERR_NOMEM : FER_ERR_INTERNAL;
    return fer_fail(st, "cuda: %s failed: %s", what, cublasGetStatusString(s));
}

fer_status cuda_check_count(size_t n, const char *what)
{
    if (n > (size_t)0x7fffffff)
        return fer_fail(FER_ERR_ARG, "cuda: %s has %zu elements (limit 2^31-1)", what, n);
    return FER_OK;
}

/* ---- device probe ---------------------------------------------------------------------- */

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_count;
static char probe_reason[128];
static void *probe_driver;

/* The only CUDA call a CPU-only run makes. Without the driver library we do not even start
 * cudart; with it, any error from cudart (no device, driver too old, ...) means zero devices,
 * never a crash. */
static void probe_devices(void)
{
    int n = 0;
    probe_driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!probe_driver) {
        snprintf(probe_reason, sizeof probe_reason, "no NVIDIA driver: libcuda.so.1 not found");
        probe_count = 0;
        return;
    }
    /* kept loaded: cudart opens it again and drivers are not meant to be unloaded */
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(probe_reason, sizeof probe_reason, "%s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        n = 0;
    } else if (n == 0) {
        snprintf(probe_reason, sizeof probe_reason, "no device reported");
    }
    probe_count = n;
}

int fer_cuda_device_count(void)
{
    pthread_once(&probe_once, probe_devices);
    return probe_count;
}

/* ---- context buffers ------------------------------------------------------------------- */

static fer_status grow(cuda_ctx *c, void **buf, size_t *have, size_t bytes, const char *what)
{
    if (bytes <= *have) return FER_OK;
    if (*buf) {
        /* earlier ops on the stream may still read the old buffer */
        CUDA_TRY(cudaStreamSynchronize(c->stream));
        CUDA_TRY(cudaFree(*buf));
        *buf = NULL;
        *have = 0;
    }
    size_t want = bytes + bytes / 4; /* headroom: shapes vary a little (last batch, eval) */
    cudaError_t e = cudaMalloc(buf, want);
    if (e != cudaSuccess) {
        *buf = NULL;
        (void)cudaGetLastError();
        return fer_fail(e == cudaErrorMemoryAllocation ? FER_ERR_NOMEM : FER_ERR_INTERNAL,
                        "cuda: cannot allocate %zu bytes of %s: %s", want, what,
                        cudaGetErrorString(e));
    }
    *have = want;
    return FER_OK;
}

fer_status cuda_workspace(cuda_ctx *c, size_t bytes, void **out)
{
    *out = NULL;
    if (bytes == 0) return FER_OK;
    FER_TRY(grow(c, &c->workspace, &c->workspace_bytes, bytes, "cuDNN workspace"));
    *out = c->workspace;
    return FER_OK;
}

fer_status cuda_scratch(cuda_ctx *c, size_t bytes, void **out)
{
    *out = NULL;
    FER_TRY(grow(c, &c->scratch, &c->scratch_bytes, bytes ? bytes : 1, "scratch memory"));
    *out = c->scratch;
    return FER_OK;
}

/* ---- memory ops -------------------------------------------------------------------------- */

static fer_status cuda_alloc(fer_backend *b, size_t bytes, void **ptr)
{
    cuda_ctx *c = cuda_ctx_of(b);
    *ptr = NULL;
    if (bytes == 0) bytes = 1; /* distinct non-NULL pointer, like malloc(1) */
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        *ptr = NULL;
        (void)cudaGetLastError();
        return fer_fail(e == cudaErrorMemoryAllocation ? FER_ERR_NOMEM : FER_ERR_INTERNAL,
                        "cuda: cannot allocate %zu bytes on %s: %s", bytes, c->device_name,
                        cudaGetErrorString(e));
    }
    e = cudaMemsetAsync(*ptr, 0, bytes, c->stream);
    if (e != cudaSuccess) {
        cudaFree(*ptr);
        *ptr = NULL;
        return cuda_fail_rt(e, "cudaMemsetAsync");
    }
    return FER_OK;
}

static void cuda_release(fer_backend *b, void *ptr)
{
    if (!ptr) return;
    /* the stream may still use the buffer; release is rare (model teardown) */
    cudaStreamSynchronize(cuda_ctx_of(b)->stream);
    cudaFree(ptr);
}

static fer_status cuda_upload(fer_backend *b, void *dst, const void *host_src, size_t bytes)
{
    cuda_ctx *c = cuda_ctx_of(b);
    if (bytes == 0) return FER_OK;
    CUDA_TRY(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, c->stream));
    /* the caller may reuse host_src as soon as we return */
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    return FER_OK;
}

static fer_status cuda_download(fer_backend *b, void *host_dst, const void *src, size_t bytes)
{
    cuda_ctx *c = cuda_ctx_of(b);
    if (bytes == 0) return FER_OK;
    CUDA_TRY(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    return FER_OK;
}

static fer_status cuda_copy(fer_backend *b, void *dst, const void *src, size_t bytes)
{
    if (bytes == 0 || dst == src) return FER_OK;
    CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_ctx_of(b)->stream));
    return FER_OK;
}

static fer_status cuda_synchronize(fer_backend *b)
{
    CUDA_TRY(cudaStreamSynchronize(cuda_ctx_of(b)->stream));
    return FER_OK;
}

/* ---- precision ---------------------------------------------------------------------------- */

/* FP16: tensor cores with FP32 storage (cuDNN down-converts, cuBLAS FAST_16F), gradients
 * entering FP16 math are loss-scaled per tensor. BF16: cuBLAS FAST_16BF, cuDNN TF32 tensor
 * cores (its legacy API has no FP32->BF16 conversion); same exponent range as FP32, so no
 * scaling. FP32: no tensor-core shortcuts at all (matches the CPU backends closely). */
static fer_status cuda_set_precision(fer_backend *b, fer_precision p)
{
    cuda_ctx *c = cuda_ctx_of(b);
    if (p != FER_PREC_FP32 && p != FER_PREC_FP16 && p != FER_PREC_BF16)
        return fer_fail(FER_ERR_ARG, "cuda: unknown precision %d", (int)p);
    if (p == FER_PREC_FP16 && c->cc_major < 7)
        return fer_fail(FER_ERR_UNSUPPORTED, "cuda: %s (sm_%d%d) has no FP16 tensor cores",
                        c->device_name, c->cc_major, c->cc_minor);
    if (p == FER_PREC_BF16 && c->cc_major < 8)
        return fer_fail(FER_ERR_UNSUPPORTED, "cuda: %s (sm_%d%d) has no BF16 tensor cores",
                        c->device_name, c->cc_major, c->cc_minor);
    FER_TRY(cuda_blas_set_precision(c, p));
    c->precision = p;
    b->precision = p;
    return FER_OK; /* conv plans are keyed by precision, so they re-select on next use */
}

int cuda_amp_scales_gradients(const cuda_ctx *c) { return c->precision == FER_PREC_FP16; }

fer_status cuda_amp_scale_gradient(cuda_ctx *c, const float *dy, size_t n, const float **dy_scaled,
                                   const float **scale_dev)
{
    FER_TRY(cuda_check_count(n, "gradient"));
    void *buf;
    FER_TRY(cuda_scratch(c, n * sizeof(float), &buf));
    /* small buffer layout: [0] = max|dy| as bits, [1] = S (float) */
    unsigned int *maxbits = (unsigned int *)c->small;
    float *scale = (float *)c->small + 1;
    CUDA_TRY(fer_cuda_amp_scale_launch(dy, (float *)buf, n, maxbits, scale, c->stream));
    *dy_scaled = (const float *)buf;
    *scale_dev = scale;
    return FER_OK;
}

fer_status cuda_amp_unscale(cuda_ctx *c, float *x, size_t n, const float *scale_dev)
{
    if (!x || n == 0) return FER_OK;
    CUDA_TRY(fer_cuda_amp_unscale_launch(x, n, scale_dev, c->stream));
    return FER_OK;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static void cuda_ctx_free(cuda_ctx *c)
{
    if (!c) return;
    if (c->stream) cudaStreamSynchronize(c->stream);
    cuda_dnn_free(c);
    if (c->workspace) cudaFree(c->workspace);
    if (c->scratch) cudaFree(c->scratch);
    if (c->small) cudaFree(c->small);
    if (c->blas) cublasDestroy(c->blas);
    if (c->dnn) cudnnDestroy(c->dnn);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

static void cuda_destroy(fer_backend *b)
{
    if (!b) return;
    cuda_ctx_free(cuda_ctx_of(b));
    b->ctx = NULL;
}

static const fer_backend_ops cuda_ops = {
    .destroy = cuda_destroy,
    .alloc = cuda_alloc,
    .release = cuda_release,
    .upload = cuda_upload,
    .download = cuda_download,
    .copy = cuda_copy,
    .fill = cuda_fill,
    .synchronize = cuda_synchronize,
    .set_precision = cuda_set_precision,
    .conv2d_forward = cuda_conv2d_forward,
    .conv2d_backward = cuda_conv2d_backward,
    .batchnorm_forward = cuda_batchnorm_forward,
    .batchnorm_backward = cuda_batchnorm_backward,
    .relu_forward = cuda_relu_forward,
    .relu_backward = cuda_relu_backward,
    .maxpool_forward = cuda_maxpool_forward,
    .maxpool_backward = cuda_maxpool_backward,
    .linear_forward = cuda_linear_forward,
    .linear_backward = cuda_linear_backward,
    .dropout_forward = cuda_dropout_forward,
    .dropout_backward = cuda_dropout_backward,
    .activation_forward = cuda_activation_forward,
    .activation_backward = cuda_activation_backward,
    .avgpool_forward = cuda_avgpool_forward,
    .avgpool_backward = cuda_avgpool_backward,
    .add = cuda_add,
    .channel_copy = cuda_channel_copy,
    .pad2d_forward = cuda_pad2d_forward,
    .pad2d_backward = cuda_pad2d_backward,
    .mul_forward = cuda_mul_forward,
    .mul_backward = cuda_mul_backward,
    .prelu_forward = cuda_prelu_forward,
    .prelu_backward = cuda_prelu_backward,
    .l2norm_rows_forward = cuda_l2norm_rows_forward,
    .l2norm_rows_backward = cuda_l2norm_rows_backward,
    .arcface_forward = cuda_arcface_forward,
    .arcface_backward = cuda_arcface_backward,
    .loss_forward_backward = cuda_loss_forward_backward,
    .softmax_rows = cuda_softmax_rows,
    .optimizer_step = cuda_optimizer_step,
    .sum_squares = cuda_sum_squares,
    .scale = cuda_scale,
    .crop_faces_48 = cuda_crop_faces_48,
};

static fer_status ctx_init(cuda_ctx *c)
{
    struct cudaDeviceProp prop;
    c->device = 0; /* CUDA_VISIBLE_DEVICES picks the GPU */
    CUDA_TRY(cudaSetDevice(c->device));
    CUDA_TRY(cudaGetDeviceProperties(&prop, c->device));
    snprintf(c->device_name, sizeof c->device_name, "%.95s", prop.name);
    c->cc_major = prop.major;
    c->cc_minor = prop.minor;
    /* Our kernels are built for sm_80/sm_90 (+ compute_90 PTX); an older GPU has no image. */
    cudaError_t e = fer_cuda_kernels_available();
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return fer_fail(FER_ERR_UNSUPPORTED,
                        "cuda: %s (sm_%d%d) cannot run this build's kernels (sm_80, sm_90, "
                        "compute_90 PTX): %s",
                        c->device_name, c->cc_major, c->cc_minor, cudaGetErrorString(e));
    }
    CUDA_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    DNN_TRY(cudnnCreate(&c->dnn));
    DNN_TRY(cudnnSetStream(c->dnn, c->stream));
    FER_TRY(cuda_dnn_init(c));
    BLAS_TRY(cublasCreate(&c->blas));
    BLAS_TRY(cublasSetStream(c->blas, c->stream));
    BLAS_TRY(cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST));
    FER_TRY(cuda_blas_set_precision(c, FER_PREC_FP32));
    c->small_bytes = CUDA_SMALL_BYTES;
    CUDA_TRY(cudaMalloc(&c->small, c->small_bytes));
    c->precision = FER_PREC_FP32;
    return FER_OK;
}

fer_status fer_backend_cuda_new(int threads, fer_backend **out)
{
    *out = NULL;
    if (fer_cuda_device_count() == 0)
        return fer_fail(FER_ERR_NODEVICE, "cuda: no CUDA device found (%s)", probe_reason);

    fer_backend *b = calloc(1, sizeof *b);
    cuda_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        return fer_fail(FER_ERR_NOMEM, "cuda: out of host memory");
    }
    fer_status st = ctx_init(c);
    if (st == FER_OK) st = fer_threadpool_new(threads, &b->pool);
    if (st != FER_OK) {
        cuda_ctx_free(c);
        free(b);
        return st;
    }
    b->ops = &cuda_ops;
    b->ctx = c;
    snprintf(b->name, sizeof b->name, "cuda");
    snprintf(b->note, sizeof b->note, "cuda: %s (sm_%d%d)", c->device_name, c->cc_major,
             c->cc_minor);
    b->threads = fer_threadpool_size(b->pool);
    b->precision = FER_PREC_FP32;
    *out = b;
    return FER_OK;
}
