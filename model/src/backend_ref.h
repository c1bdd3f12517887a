/* Internal: the reference backend's ops, exported so other host backends ("cpu") can fall back
 * to them op by op. Every fer_ref_* function ignores b->ctx and works on plain host memory. */
#ifndef FER_BACKEND_REF_H
#define FER_BACKEND_REF_H
#include "fer/backend.h"

/* Complete op table of the ref backend (host memory, plain loops). */
extern const fer_backend_ops fer_ref_ops;

/* Builds a host backend object with the given ops/ctx/name and a worker pool of `threads`
 * (<= 0: all cores). Used by the ref and cpu constructors. */
fer_status fer_backend_host_new(const char *name, const fer_backend_ops *ops, void *ctx,
                                int threads, fer_backend **out);

/* memory (aligned host allocations, zero-filled) */
fer_status fer_ref_alloc(fer_backend *b, size_t bytes, void **ptr);
void fer_ref_release(fer_backend *b, void *ptr);
fer_status fer_ref_upload(fer_backend *b, void *dst, const void *host_src, size_t bytes);
fer_status fer_ref_download(fer_backend *b, void *host_dst, const void *src, size_t bytes);
fer_status fer_ref_copy(fer_backend *b, void *dst, const void *src, size_t bytes);
fer_status fer_ref_fill(fer_backend *b, float *dst, float value, size_t n);
fer_status fer_ref_synchronize(fer_backend *b);

/* layers */
/* FER_ERR_ARG unless groups >= 1 divides in_c and out_c (shared by the backends) */
fer_status fer_ref_conv2d_groups_check(const fer_conv2d_args *a);
fer_status fer_ref_conv2d_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *bias, float *y);
fer_status fer_ref_conv2d_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                   const float *w, const float *dy, float *dx, float *dw,
                                   float *dbias);
fer_status fer_ref_batchnorm_forward(fer_backend *b, const fer_bn_args *a, int training,
                                     const float *x, const float *gamma, const float *beta,
                                     float *running_mean, float *running_var, float *y,
                                     float *save_mean, float *save_invstd);
fer_status fer_ref_batchnorm_backward(fer_backend *b, const fer_bn_args *a, const float *x,
                                      const float *gamma, const float *beta,
                                      const float *save_mean,
                                      const float *save_invstd, const float *dy, float *dx,
                                      float *dgamma, float *dbeta);
fer_status fer_ref_relu_forward(fer_backend *b, size_t n, const float *x, float *y);
fer_status fer_ref_relu_backward(fer_backend *b, size_t n, const float *y, const float *dy,
                                 float *dx);
fer_status fer_ref_maxpool_forward(fer_backend *b, const fer_pool_args *a, const float *x,
                                   float *y, int32_t *argmax);
fer_status fer_ref_maxpool_backward(fer_backend *b, const fer_pool_args *a,
                                    const int32_t *argmax, const float *dy, float *dx);
fer_status fer_ref_linear_forward(fer_backend *b, const fer_linear_args *a, const float *x,
                                  const float *w, const float *bias, float *y);
fer_status fer_ref_linear_backward(fer_backend *b, const fer_linear_args *a, const float *x,
                                   const float *w, const float *dy, float *dx, float *dw,
                                   float *dbias);
fer_status fer_ref_dropout_forward(fer_backend *b, size_t n, float p, uint64_t seed,
                                   uint64_t first, const float *x, float *y);
fer_status fer_ref_dropout_backward(fer_backend *b, size_t n, float p, uint64_t seed,
                                    uint64_t first, const float *dy, float *dx);
fer_status fer_ref_activation_forward(fer_backend *b, fer_activation kind, float param, size_t n,
                                      const float *x, float *y);
fer_status fer_ref_activation_backward(fer_backend *b, fer_activation kind, float param,
                                       size_t n, const float *x, const float *dy, float *dx);
fer_status fer_ref_avgpool_forward(fer_backend *b, const fer_avgpool_args *a, const float *x,
                                   float *y);
fer_status fer_ref_avgpool_backward(fer_backend *b, const fer_avgpool_args *a, const float *dy,
                                    float *dx);
fer_status fer_ref_add(fer_backend *b, size_t n, const float *x0, const float *x1, float *y);
fer_status fer_ref_channel_copy(fer_backend *b, const fer_channel_copy_args *a, const float *src,
                                float *dst);
fer_status fer_ref_pad2d_forward(fer_backend *b, const fer_pad2d_args *a, const float *x,
                                float *y);
fer_status fer_ref_pad2d_backward(fer_backend *b, const fer_pad2d_args *a, const float *dy,
                                 float *dx);
fer_status fer_ref_mul_forward(fer_backend *b, const fer_mul_args *a, const float *x,
                               const float *g, float *y);
fer_status fer_ref_mul_backward(fer_backend *b, const fer_mul_args *a, const float *x,
                                const float *g, const float *dy, float *dx, float *dg);
fer_status fer_ref_prelu_forward(fer_backend *b, const fer_prelu_args *a, const float *x,
                                 const float *w, float *y);
fer_status fer_ref_prelu_backward(fer_backend *b, const fer_prelu_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw);

/* heads and loss */
fer_status fer_ref_l2norm_rows_forward(fer_backend *b, int rows, int dim, const float *x,
                                       float *y, float *norms);
fer_status fer_ref_l2norm_rows_backward(fer_backend *b, int rows, int dim, const float *x,
                                        const float *norms, const float *dy, float *dx);
fer_status fer_ref_arcface_forward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                   const int32_t *labels, float *logits);
fer_status fer_ref_arcface_backward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                    const int32_t *labels, const float *dlogits, float *dcos);
fer_status fer_ref_loss_forward_backward(fer_backend *b, const fer_loss_args *a,
                                         const float *logits, const int32_t *labels,
                                         const float *class_weights, float *loss_host,
                                         float *dlogits);
fer_status fer_ref_softmax_rows(fer_backend *b, int rows, int cols, const float *x, float *y);

/* optimisation */
fer_status fer_ref_optimizer_step(fer_backend *b, const fer_optim_args *a, size_t n, float *param,
                                  const float *grad, float *m, float *v);
fer_status fer_ref_sum_squares(fer_backend *b, size_t n, const float *x, double *out_host);
fer_status fer_ref_scale(fer_backend *b, size_t n, float *x, float alpha);

#endif
