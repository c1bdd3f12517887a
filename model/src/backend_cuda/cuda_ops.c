/* Ops implemented by our own kernels: argument checks here, thread mapping in the .cu files,
 * per-element math in cuda_kernel_bodies.h over the shared fer/..._math.h headers. */
#include <limits.h>
#include "cuda_internal.h"
#include "cuda_kernels.h"

/* Small-buffer layout (device): AMP words at 0, loss result at 64, sums from 128. */
#define SMALL_LOSS_OFFSET 64
#define SMALL_SUMSQ_OFFSET 128

static cudaStream_t stream_of(fer_backend *b) { return cuda_ctx_of(b)->stream; }

fer_status cuda_fill(fer_backend *b, float *dst, float value, size_t n)
{
    CUDA_TRY(fer_cuda_fill_launch(dst, value, n, stream_of(b)));
    return FER_OK;
}

fer_status cuda_scale(fer_backend *b, size_t n, float *x, float alpha)
{
    CUDA_TRY(fer_cuda_scale_launch(x, alpha, n, stream_of(b)));
    return FER_OK;
}

static fer_status pool_check(const fer_pool_args *a)
{
    if (a->n < 0 || a->c <= 0 || a->k <= 0 || a->stride <= 0 || a->in_h <= 0 || a->in_w <= 0 ||
        a->out_h <= 0 || a->out_w <= 0 || (a->out_h - 1) * a->stride + a->k > a->in_h ||
        (a->out_w - 1) * a->stride + a->k > a->in_w)
        return fer_fail(FER_ERR_ARG, "cuda: invalid maxpool shape");
    /* argmax is an int32 index inside one input plane */
    return cuda_check_count((size_t)a->n * a->c * a->in_h * a->in_w, "maxpool input");
}

fer_status cuda_maxpool_forward(fer_backend *b, const fer_pool_args *a, const float *x, float *y,
                                int32_t *argmax)
{
    FER_TRY(pool_check(a));
    CUDA_TRY(fer_cuda_maxpool_forward_launch(a, x, y, argmax, stream_of(b)));
    return FER_OK;
}

fer_status cuda_maxpool_backward(fer_backend *b, const fer_pool_args *a, const int32_t *argmax,
                                 const float *dy, float *dx)
{
    FER_TRY(pool_check(a));
    CUDA_TRY(fer_cuda_maxpool_backward_launch(a, argmax, dy, dx, stream_of(b)));
    return FER_OK;
}

fer_status cuda_dropout_forward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                                const float *x, float *y)
{
    CUDA_TRY(fer_cuda_dropout_launch(n, p, seed, first, x, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_dropout_backward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                                 const float *dy, float *dx)
{
    /* the mask is regenerated from (seed, i): backward is the same map applied to dy */
    CUDA_TRY(fer_cuda_dropout_launch(n, p, seed, first, dy, dx, stream_of(b)));
    return FER_OK;
}

fer_status cuda_activation_forward(fer_backend *b, fer_activation kind, float param, size_t n,
                                   const float *x, float *y)
{
    CUDA_TRY(fer_cuda_activation_forward_launch(kind, param, n, x, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_activation_backward(fer_backend *b, fer_activation kind, float param, size_t n,
                                    const float *x, const float *dy, float *dx)
{
    CUDA_TRY(fer_cuda_activation_backward_launch(kind, param, n, x, dy, dx, stream_of(b)));
    return FER_OK;
}

static fer_status avgpool_check(const fer_avgpool_args *a)
{
    const fer_avgpool_geom *g = &a->g;
    if (a->n < 0 || a->c <= 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 || g->sw <= 0 ||
        g->pad_h < 0 || g->pad_w < 0 || g->in_h <= 0 || g->in_w <= 0 || g->out_h <= 0 ||
        g->out_w <= 0 || (g->out_h - 1) * g->sh + g->kh > g->in_h + 2 * g->pad_h ||
        (g->out_w - 1) * g->sw + g->kw > g->in_w + 2 * g->pad_w)
        return fer_fail(FER_ERR_ARG, "cuda: invalid avgpool shape");
    return cuda_check_count((size_t)a->n * a->c * g->in_h * g->in_w, "avgpool input");
}

fer_status cuda_avgpool_forward(fer_backend *b, const fer_avgpool_args *a, const float *x,
                                float *y)
{
    FER_TRY(avgpool_check(a));
    CUDA_TRY(fer_cuda_avgpool_forward_launch(a, x, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_avgpool_backward(fer_backend *b, const fer_avgpool_args *a, const float *dy,
                                 float *dx)
{
    FER_TRY(avgpool_check(a));
    CUDA_TRY(fer_cuda_avgpool_backward_launch(a, dy, dx, stream_of(b)));
    return FER_OK;
}

/* ---- graph ops ---------------------------------------------------------------------------- */

fer_status cuda_add(fer_backend *b, size_t n, const float *x0, const float *x1, float *y)
{
    CUDA_TRY(fer_cuda_add_launch(n, x0, x1, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_channel_copy(fer_backend *b, const fer_channel_copy_args *a, const float *src,
                             float *dst)
{
    if (a->n < 0 || a->hw < 0 || a->c < 0 || a->src_off < 0 || a->dst_off < 0 ||
        a->src_off + a->c > a->src_c || a->dst_off + a->c > a->dst_c)
        return fer_fail(FER_ERR_ARG, "cuda: invalid channel copy (%d channels from %d of %d "
                        "to %d of %d)", a->c, a->src_off, a->src_c, a->dst_off, a->dst_c);
    FER_TRY(cuda_check_count((size_t)a->n * a->src_c * a->hw, "channel copy source"));
    FER_TRY(cuda_check_count((size_t)a->n * a->dst_c * a->hw, "channel copy destination"));
    CUDA_TRY(fer_cuda_channel_copy_launch(a, src, dst, stream_of(b)));
    return FER_OK;
}

static fer_status pad2d_check(const fer_pad2d_args *a)
{
    if (a->n < 0 || a->in_h < 0 || a->in_w < 0 || a->top < 0 || a->left < 0 || a->bottom < 0 ||
        a->right < 0)
        return fer_fail(FER_ERR_ARG, "cuda: invalid pad2d (%d planes of %dx%d, pads %d %d %d %d)",
                        a->n, a->in_h, a->in_w, a->top, a->left, a->bottom, a->right);
    return cuda_check_count((size_t)a->n * (a->top + a->in_h + a->bottom) *
                                (a->left + a->in_w + a->right), "pad2d output");
}

fer_status cuda_pad2d_forward(fer_backend *b, const fer_pad2d_args *a, const float *x, float *y)
{
    FER_TRY(pad2d_check(a));
    CUDA_TRY(fer_cuda_pad2d_forward_launch(a, x, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_pad2d_backward(fer_backend *b, const fer_pad2d_args *a, const float *dy,
                               float *dx)
{
    FER_TRY(pad2d_check(a));
    CUDA_TRY(fer_cuda_pad2d_backward_launch(a, dy, dx, stream_of(b)));
    return FER_OK;
}

static fer_status mul_check(const fer_mul_args *a)
{
    if (a->n < 0 || a->c < 0 || a->hw <= 0 || (a->g_hw != 1 && a->g_hw != a->hw))
        return fer_fail(FER_ERR_ARG, "cuda: invalid mul shape (hw %d, gate %d per plane)", a->hw,
                        a->g_hw);
    return cuda_check_count((size_t)a->n * a->c * a->hw, "mul input");
}

fer_status cuda_mul_forward(fer_backend *b, const fer_mul_args *a, const float *x,
                            const float *g, float *y)
{
    FER_TRY(mul_check(a));
    CUDA_TRY(fer_cuda_mul_forward_launch(a, x, g, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_mul_backward(fer_backend *b, const fer_mul_args *a, const float *x,
                             const float *g, const float *dy, float *dx, float *dg)
{
    FER_TRY(mul_check(a));
    if (dx)
        CUDA_TRY(fer_cuda_mul_dx_launch(a, g, dy, dx, stream_of(b)));
    if (dg)
        CUDA_TRY(fer_cuda_mul_dg_launch(a, x, dy, dg, stream_of(b)));
    return FER_OK;
}

static fer_status prelu_check(const fer_prelu_args *a)
{
    if (a->n < 0 || a->c <= 0 || a->hw <= 0)
        return fer_fail(FER_ERR_ARG, "cuda: invalid prelu shape (n %d, c %d, hw %d)", a->n, a->c,
                        a->hw);
    return cuda_check_count((size_t)a->n * a->c * a->hw, "prelu input");
}

fer_status cuda_prelu_forward(fer_backend *b, const fer_prelu_args *a, const float *x,
                              const float *w, float *y)
{
    FER_TRY(prelu_check(a));
    CUDA_TRY(fer_cuda_prelu_forward_launch(a, x, w, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_prelu_backward(fer_backend *b, const fer_prelu_args *a, const float *x,
                               const float *w, const float *dy, float *dx, float *dw)
{
    FER_TRY(prelu_check(a));
    cuda_ctx *c = cuda_ctx_of(b);
    if (dw) {
        /* dw before dx: dx may be dy. The stream orders the three launches. */
        void *partial;
        FER_TRY(cuda_scratch(c, (size_t)a->n * a->c * sizeof(double), &partial));
        CUDA_TRY(fer_cuda_prelu_dw_planes_launch(a, x, dy, (double *)partial, c->stream));
        CUDA_TRY(fer_cuda_prelu_dw_channels_launch(a, (const double *)partial, dw, c->stream));
    }
    if (dx)
        CUDA_TRY(fer_cuda_prelu_dx_launch(a, x, w, dy, dx, c->stream));
    return FER_OK;
}

static fer_status rows_check(int rows, int dim, const char *what)
{
    if (rows < 0 || dim <= 0)
        return fer_fail(FER_ERR_ARG, "cuda: invalid %s shape %dx%d", what, rows, dim);
    return cuda_check_count((size_t)rows * dim, what);
}

fer_status cuda_l2norm_rows_forward(fer_backend *b, int rows, int dim, const float *x, float *y,
                                    float *norms)
{
    FER_TRY(rows_check(rows, dim, "l2norm"));
    CUDA_TRY(fer_cuda_l2norm_forward_launch(rows, dim, x, y, norms, stream_of(b)));
    return FER_OK;
}

fer_status cuda_l2norm_rows_backward(fer_backend *b, int rows, int dim, const float *x,
                                     const float *norms, const float *dy, float *dx)
{
    FER_TRY(rows_check(rows, dim, "l2norm"));
    CUDA_TRY(fer_cuda_l2norm_backward_launch(rows, dim, x, norms, dy, dx, stream_of(b)));
    return FER_OK;
}

fer_status cuda_arcface_forward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                const int32_t *labels, float *logits)
{
    FER_TRY(rows_check(a->n, a->c, "arcface"));
    CUDA_TRY(fer_cuda_arcface_forward_launch(a, cos, labels, logits, stream_of(b)));
    return FER_OK;
}

fer_status cuda_arcface_backward(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                 const int32_t *labels, const float *dlogits, float *dcos)
{
    FER_TRY(rows_check(a->n, a->c, "arcface"));
    CUDA_TRY(fer_cuda_arcface_backward_launch(a, cos, labels, dlogits, dcos, stream_of(b)));
    return FER_OK;
}

fer_status cuda_softmax_rows(fer_backend *b, int rows, int cols, const float *x, float *y)
{
    FER_TRY(rows_check(rows, cols, "softmax"));
    CUDA_TRY(fer_cuda_softmax_launch(rows, cols, x, y, stream_of(b)));
    return FER_OK;
}

fer_status cuda_loss_forward_backward(fer_backend *b, const fer_loss_args *a,
                                      const float *logits, const int32_t *labels,
                                      const float *class_weights, float *loss_host,
                                      float *dlogits)
{
    cuda_ctx *c = cuda_ctx_of(b);
    FER_TRY(rows_check(a->n, a->c, "loss"));
    if (a->targets && a->kind == FER_LOSS_FOCAL)
        return fer_fail(FER_ERR_ARG, "loss: focal loss with soft targets is not supported");
    void *rows;
    FER_TRY(cuda_scratch(c, 2 * (size_t)(a->n ? a->n : 1) * sizeof(float), &rows));
    float *row_num = rows, *row_den = row_num + a->n;
    fer_kb_loss_result *res_dev = (fer_kb_loss_result *)((char *)c->small + SMALL_LOSS_OFFSET);
    CUDA_TRY(fer_cuda_loss_launch(a, logits, labels, class_weights, dlogits, row_num, row_den,
                                  res_dev, c->stream));
    fer_kb_loss_result res;
    CUDA_TRY(cudaMemcpyAsync(&res, res_dev, sizeof res, cudaMemcpyDeviceToHost, c->stream));
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    if (res.bad_row >= 0) {
        int32_t label = 0;
        CUDA_TRY(cudaMemcpy(&label, labels + res.bad_row, sizeof label, cudaMemcpyDeviceToHost));
        return fer_fail(FER_ERR_ARG, "loss: label %d of sample %d is outside 0..%d", (int)label,
                        res.bad_row, a->c - 1);
    }
    if (res.den <= 0.0)
        return fer_fail(FER_ERR_ARG, "loss: class weights of the batch sum to %g", res.den);
    if (loss_host) *loss_host = res.loss;
    return FER_OK;
}

fer_status cuda_optimizer_step(fer_backend *b, const fer_optim_args *a, size_t n, float *param,
                               const float *grad, float *m, float *v)
{
    if (a->kind != FER_OPTIM_SGD && (!m || !v) && n)
        return fer_fail(FER_ERR_ARG, "cuda: adam needs both moment buffers");
    CUDA_TRY(fer_cuda_optim_launch(a, n, param, grad, m, v, stream_of(b)));
    return FER_OK;
}

fer_status cuda_sum_squares(fer_backend *b, size_t n, const float *x, double *out_host)
{
    cuda_ctx *c = cuda_ctx_of(b);
    double *out_dev = (double *)((char *)c->small + SMALL_SUMSQ_OFFSET);
    double *partials = out_dev + 1;
    CUDA_TRY(fer_cuda_sum_squares_launch(x, n, partials, out_dev, c->stream));
    CUDA_TRY(cudaMemcpyAsync(out_host, out_dev, sizeof *out_host, cudaMemcpyDeviceToHost,
                             c->stream));
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    return FER_OK;
}

fer_status cuda_crop_faces_48(fer_backend *b, const fer_face_batch_args *a, const uint8_t *frame,
                              const int32_t *boxes, float *x)
{
    if (a->n < 0 || a->w <= 0 || a->h <= 0 || a->stride < a->w || !(a->std != 0.0f))
        return fer_fail(FER_ERR_ARG, "cuda: invalid face batch (n=%d, frame %dx%d stride %d)",
                        a->n, a->w, a->h, a->stride);
    FER_TRY(cuda_check_count((size_t)a->n * FER_INPUT_SIZE * FER_INPUT_SIZE, "face batch"));
    CUDA_TRY(fer_cuda_crop_faces_launch(a, frame, boxes, x, stream_of(b)));
    return FER_OK;
}
