/* Private state of the CUDA backend, shared by its host files (cuda_*.c).
 *
 * Everything runs in order on one stream per backend, so a temporary buffer can be reused by
 * the next op without synchronisation. Host-visible results (loss, sums) are copied back and
 * the stream synchronised before the op returns. A backend instance is used by one thread. */
#ifndef FER_CUDA_INTERNAL_H
#define FER_CUDA_INTERNAL_H
#include <stddef.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <cublas_v2.h>
#include "fer/backend.h"

/* One convolution shape with its descriptors and the algorithms chosen for it. */
typedef struct cuda_conv_plan {
    fer_conv2d_args args;
    fer_precision precision;
    cudnnTensorDescriptor_t x_desc, y_desc, bias_desc;
    cudnnFilterDescriptor_t w_desc;
    cudnnConvolutionDescriptor_t conv_desc;
    cudnnConvolutionFwdAlgo_t fwd_algo;
    cudnnConvolutionBwdDataAlgo_t bwd_data_algo;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo;
    cudnnMathType_t fwd_math, bwd_data_math, bwd_filter_math;
    size_t fwd_ws, bwd_data_ws, bwd_filter_ws;
} cuda_conv_plan;

typedef struct cuda_ctx {
    int device;
    int cc_major, cc_minor;
    char device_name[96];
    cudaStream_t stream;
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    cublasComputeType_t gemm_compute; /* from the precision (cuda_blas.c) */
    fer_precision precision;

    /* cuDNN workspace; grows to the largest request */
    void *workspace;
    size_t workspace_bytes;
    /* temporary buffer of one op at a time (scaled gradients, unused dx, ...) */
    void *scratch;
    size_t scratch_bytes;
    /* small fixed buffer for reduction partials and device scalars */
    void *small;
    size_t small_bytes;

    cuda_conv_plan *conv_plans;
    int n_conv_plans, cap_conv_plans;
    cudnnActivationDescriptor_t relu_desc;
} cuda_ctx;

#define CUDA_SMALL_BYTES ((size_t)1 << 20)
/* Largest cuDNN workspace we accept for an algorithm (a faster one needing more is skipped). */
#define CUDA_MAX_WORKSPACE ((size_t)512 << 20)

static inline cuda_ctx *cuda_ctx_of(fer_backend *b) { return (cuda_ctx *)b->ctx; }

/* Turn library errors into fer_status with a "cuda: <call> failed: <reason>" message. */
fer_status cuda_fail_rt(cudaError_t e, const char *what);
fer_status cuda_fail_dnn(cudnnStatus_t s, const char *what);
fer_status cuda_fail_blas(cublasStatus_t s, const char *what);

#define CUDA_TRY(call)                                                                         \
    do {                                                                                       \
        cudaError_t cuda_e_ = (call);                                                          \
        if (cuda_e_ != cudaSuccess) return cuda_fail_rt(cuda_e_, #call);                       \
    } while (0)
#define DNN_TRY(call)                                                                          \
    do {                                                                                       \
        cudnnStatus_t dnn_s_ = (call);                                                         \
        if (dnn_s_ != CUDNN_STATUS_SUCCESS) return cuda_fail_dnn(dnn_s_, #call);               \
    } while (0)
#define BLAS_TRY(call)                                                                         \
    do {                                                                                       \
        cublasStatus_t blas_s_ = (call);                                                       \
        if (blas_s_ != CUBLAS_STATUS_SUCCESS) return cuda_fail_blas(blas_s_, #call);           \
    } while (0)
#define FER_TRY(call)                                                                          \
    do {                                                                                       \
        fer_status fer_s_ = (call);                                                            \
        if (fer_s_ != FER_OK) return fer_s_;                                                   \
    } while (0)

/* Device buffers owned by the context, grown on demand (contents are not preserved). */
fer_status cuda_workspace(cuda_ctx *c, size_t bytes, void **out);
fer_status cuda_scratch(cuda_ctx *c, size_t bytes, void **out);

/* Rejects sizes that do not fit the int dimensions of cuDNN/cuBLAS and our kernels. */
fer_status cuda_check_count(size_t n, const char *what);

/* FP16 tensor-core math needs a scaled copy of an incoming gradient (README, "--amp"):
 * dy_scaled = dy * S with S a power of two chosen on the device from max|dy|, and
 * scale_dev pointing at S. Afterwards cuda_amp_unscale multiplies results by 1/S. */
int cuda_amp_scales_gradients(const cuda_ctx *c);
fer_status cuda_amp_scale_gradient(cuda_ctx *c, const float *dy, size_t n, const float **dy_scaled,
                                   const float **scale_dev);
fer_status cuda_amp_unscale(cuda_ctx *c, float *x, size_t n, const float *scale_dev);

/* cuda_dnn.c */
fer_status cuda_dnn_init(cuda_ctx *c);
void cuda_dnn_free(cuda_ctx *c);
fer_status cuda_conv2d_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                               const float *w, const float *bias, float *y);
fer_status cuda_conv2d_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                const float *w, const float *dy, float *dx, float *dw,
                                float *dbias);
fer_status cuda_batchnorm_forward(fer_backend *b, const fer_bn_args *a, int training,
                                  const float *x, const float *gamma, const float *beta,
                                  float *running_mean, float *running_var, float *y,
                                  float *save_mean, float *save_invstd);
fer_status cuda_batchnorm_backward(fer_backend *b, const fer_bn_args *a, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *save_mean,
                                   const float *save_invstd, const float *dy, float *dx,
                                   float *dgamma, float *dbeta);
fer_status cuda_relu_forward(fer_backend *b, size_t n, const float *x, float *y);
fer_status cuda_relu_backward(fer_backend *b, size_t n, const float *y, const float *dy,
                              float *dx);

/* cuda_blas.c */
fer_status cuda_blas_set_precision(cuda_ctx *c, fer_precision p);
fer_status cuda_linear_forward(fer_backend *b, const fer_linear_args *a, const float *x,
                               const float *w, const float *bias, float *y);
fer_status cuda_linear_backward(fer_backend *b, const fer_linear_args *a, const float *x,
                                const float *w, const float *dy, float *dx, float *dw,
                                float *dbias);

/* cuda_ops.c: our own kernels */
fer_status cuda_fill(fer_backend *b, float *dst, float value, size_t n);
fer_status cuda_maxpool_forward(fer_backend *b, const fer_pool_args *a, const float *x, float *y,
                                int32_t *argmax);
fer_status cuda_maxpool_backward(fer_backend *b, const fer_pool_args *a, const int32_t *argmax,
                                 const float *dy, float *dx);
fer_status cuda_dropout_forward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                                const float *x, float *y);
fer_status cuda_dropout_backward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                                 const float *dy, float *dx);
fer_status cuda_activation_forward(fer_backend *b, fer_activation kind, float param, size_t n,
                                   const float *x, float *y);
fer_status cuda_activation_backward(fer_backend *b, fer_activation kind, float param, size_t n,
                                    const float *x, const float *dy, float *dx);
fer_status cuda_avgpool_forward(fer_backend *b, const fer_avgpool_args *a, const float *x,
                                float *y);
fer_status cuda_avgpool_backward(fer_backend *b, const fer_avgpool_args *a, const float *dy,
                                 float *dx);
fer_status cuda_add(fer_backend *b, size_t n, const float *x0, const float *x1, float *y);
fer_status cuda_channel_copy(fer_backend *b, const fer_channel_copy_args *a, const float *src,
                             float *dst);
fer_status cuda_pad2d_forward(fer_backend *b, const fer_pad2d_args *a, const float *x, float *y);
fer_status cuda_pad2d_backward(fer_backend *b, const fer_pad2d_args *a, const float *dy,
                               float *dx);
fer_status cuda_mul_forward(fer_backend *b, const fer_mul_args *a, const float *x,
                            const float *g, float *y);
fer_status cuda_mul_backward(fer_backend *b, const fer_mul_args *a, const float *x,
                             const float *g, const float *dy, float *dx, float *dg);
fer_status cuda_prelu_forward(fer_backend *b, const fer_prelu_args *a, const float *x,
                              const float *w, float *y);
fer_status cuda_prelu_backward(fer_backend *b, const fer_prelu_args *a, const float *x,
                               const float *w, const float *dy, float *dx, float *dw);
fer_status cuda_l2norm_rows_forward(fer_backend *b, int rows, int dim, const float *x, float *y,
                                    float *norms);
fer_status cuda_l2norm_rows_backward(fer_backend *b, int rows, int dim, const float *x,
                                     const float *norms, const float *dy, float *dx);
fer_status cuda_arcface_forward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                const int32_t *labels, float *logits);
fer_status cuda_arcface_backward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                 const int32_t *labels, const float *dlogits, float *dcos);
fer_status cuda_loss_forward_backward(fer_backend *b, const fer_loss_args *a,
                                      const float *logits, const int32_t *labels,
                                      const float *class_weights, float *loss_host,
                                      float *dlogits);
fer_status cuda_softmax_rows(fer_backend *b, int rows, int cols, const float *x, float *y);
fer_status cuda_optimizer_step(fer_backend *b, const fer_optim_args *a, size_t n, float *param,
                               const float *grad, float *m, float *v);
fer_status cuda_sum_squares(fer_backend *b, size_t n, const float *x, double *out_host);
fer_status cuda_scale(fer_backend *b, size_t n, float *x, float alpha);
fer_status cuda_crop_faces_48(fer_backend *b, const fer_face_batch_args *a, const uint8_t *frame,
                              const int32_t *boxes, float *x);

#endif
