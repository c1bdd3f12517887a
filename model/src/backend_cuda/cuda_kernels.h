/* C-callable launchers of our CUDA kernels (defined in cuda_kernels_*.cu). Each enqueues its
 * work on `stream` and returns the launch status; errors inside a kernel surface at the next
 * synchronisation. Pointers are device memory unless named *_host. */
#ifndef FER_CUDA_KERNELS_H
#define FER_CUDA_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime_api.h>
#include "fer/backend.h"
#include "cuda_kernel_bodies.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cudaSuccess when this build has kernel code the current device can run. */
cudaError_t fer_cuda_kernels_available(void);

/* cuda_kernels_elementwise.cu */
cudaError_t fer_cuda_fill_launch(float *dst, float value, size_t n, cudaStream_t s);
cudaError_t fer_cuda_scale_launch(float *x, float alpha, size_t n, cudaStream_t s);
cudaError_t fer_cuda_bias_rows_launch(float *y, const float *bias, int rows, int cols,
                                      cudaStream_t s);
cudaError_t fer_cuda_col_sums_launch(const float *dy, int rows, int cols, float *out,
                                     cudaStream_t s);
cudaError_t fer_cuda_dropout_launch(size_t n, float p, uint64_t seed, uint64_t first,
                                    const float *x, float *y, cudaStream_t s);
cudaError_t fer_cuda_activation_forward_launch(fer_activation kind, float param, size_t n,
                                              const float *x, float *y, cudaStream_t s);
cudaError_t fer_cuda_activation_backward_launch(fer_activation kind, float param, size_t n,
                                               const float *x, const float *dy, float *dx,
                                               cudaStream_t s);
cudaError_t fer_cuda_optim_launch(const fer_optim_args *a, size_t n, float *param,
                                  const float *grad, float *m, float *v, cudaStream_t s);
/* AMP: dst = src * S, S = fer_kb_amp_scale_for(max|src|) stored at *scale; maxbits is a
 * device word used for the reduction. */
cudaError_t fer_cuda_amp_scale_launch(const float *src, float *dst, size_t n, uint32_t *maxbits,
                                      float *scale, cudaStream_t s);
/* x *= 1 / *scale */
cudaError_t fer_cuda_amp_unscale_launch(float *x, size_t n, const float *scale, cudaStream_t s);

/* cuda_kernels_rows.cu */
cudaError_t fer_cuda_l2norm_forward_launch(int rows, int dim, const float *x, float *y,
                                           float *norms, cudaStream_t s);
cudaError_t fer_cuda_l2norm_backward_launch(int rows, int dim, const float *x,
                                            const float *norms, const float *dy, float *dx,
                                            cudaStream_t s);
cudaError_t fer_cuda_arcface_forward_launch(const fer_arcface_args *a, const float *cos,
                                            const int32_t *labels, float *logits,
                                            cudaStream_t s);
cudaError_t fer_cuda_arcface_backward_launch(const fer_arcface_args *a, const float *cos,
                                             const int32_t *labels, const float *dlogits,
                                             float *dcos, cudaStream_t s);
cudaError_t fer_cuda_softmax_launch(int rows, int cols, const float *x, float *y,
                                    cudaStream_t s);
/* Row terms into row_num/row_den (n floats each), ordered sum into *res, dlogits scaled by
 * 1/den when given. */
cudaError_t fer_cuda_loss_launch(const fer_loss_args *a, const float *logits,
                                 const int32_t *labels, const float *class_weights,
                                 float *dlogits, float *row_num, float *row_den,
                                 fer_kb_loss_result *res, cudaStream_t s);
/* Sum of squares in double: per-block partials (at most FER_CUDA_SUMSQ_BLOCKS doubles in
 * `partials`), then one ordered sum into *out. Deterministic for a given n. */
#define FER_CUDA_SUMSQ_BLOCKS 1024
cudaError_t fer_cuda_sum_squares_launch(const float *x, size_t n, double *partials, double *out,
                                        cudaStream_t s);

/* cuda_kernels_pool.cu */
cudaError_t fer_cuda_maxpool_forward_launch(const fer_pool_args *a, const float *x, float *y,
                                            int32_t *argmax, cudaStream_t s);
cudaError_t fer_cuda_maxpool_backward_launch(const fer_pool_args *a, const int32_t *argmax,
                                             const float *dy, float *dx, cudaStream_t s);
cudaError_t fer_cuda_avgpool_forward_launch(const fer_avgpool_args *a, const float *x, float *y,
                                            cudaStream_t s);
cudaError_t fer_cuda_avgpool_backward_launch(const fer_avgpool_args *a, const float *dy,
                                             float *dx, cudaStream_t s);

/* cuda_kernels_graph.cu */
cudaError_t fer_cuda_add_launch(size_t n, const float *x0, const float *x1, float *y,
                                cudaStream_t s);
cudaError_t fer_cuda_channel_copy_launch(const fer_channel_copy_args *a, const float *src,
                                         float *dst, cudaStream_t s);
cudaError_t fer_cuda_pad2d_forward_launch(const fer_pad2d_args *a, const float *x, float *y,
                                          cudaStream_t s);
cudaError_t fer_cuda_pad2d_backward_launch(const fer_pad2d_args *a, const float *dy, float *dx,
                                           cudaStream_t s);
cudaError_t fer_cuda_mul_forward_launch(const fer_mul_args *a, const float *x, const float *g,
                                        float *y, cudaStream_t s);
cudaError_t fer_cuda_mul_dx_launch(const fer_mul_args *a, const float *g, const float *dy,
                                   float *dx, cudaStream_t s);
/* per plane (g_hw == 1) or per element (g_hw == hw) */
cudaError_t fer_cuda_mul_dg_launch(const fer_mul_args *a, const float *x, const float *dy,
                                   float *dg, cudaStream_t s);
cudaError_t fer_cuda_prelu_forward_launch(const fer_prelu_args *a, const float *x,
                                          const float *w, float *y, cudaStream_t s);
/* dw in two stages: n*c plane sums into partial (doubles), then per channel into dw */
cudaError_t fer_cuda_prelu_dw_planes_launch(const fer_prelu_args *a, const float *x,
                                            const float *dy, double *partial, cudaStream_t s);
cudaError_t fer_cuda_prelu_dw_channels_launch(const fer_prelu_args *a, const double *partial,
                                              float *dw, cudaStream_t s);
cudaError_t fer_cuda_prelu_dx_launch(const fer_prelu_args *a, const float *x, const float *w,
                                     const float *dy, float *dx, cudaStream_t s);

/* cuda_kernels_faces.cu */
cudaError_t fer_cuda_crop_faces_launch(const fer_face_batch_args *a, const uint8_t *frame,
                                       const int32_t *boxes, float *x, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
