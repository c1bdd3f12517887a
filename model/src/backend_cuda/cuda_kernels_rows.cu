// Row-wise kernels (one thread per sample row: rows are few and short) for the heads, softmax
// and losses, and the sum-of-squares reduction used by gradient-norm clipping.
// Per-element math: cuda_kernel_bodies.h over the shared fer/*_math.h.
#include <limits.h>
#include "cuda_kernels.h"
#include "cuda_launch.cuh"

__global__ void k_l2norm_forward(int rows, int dim, const float *x, float *y, float *norms)
{
    FER_CUDA_FOR_EACH(r, rows) fer_kb_l2norm_row_forward((int)r, dim, x, y, norms);
}

__global__ void k_l2norm_backward(int rows, int dim, const float *x, const float *norms,
                                  const float *dy, float *dx)
{
    FER_CUDA_FOR_EACH(r, rows) fer_kb_l2norm_row_backward((int)r, dim, x, norms, dy, dx);
}

__global__ void k_arcface_forward(size_t n, int c, fer_arcface_consts k, const float *cos,
                                  const int32_t *labels, float *logits)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_arcface_forward(i, c, &k, cos, labels, logits);
}

__global__ void k_arcface_backward(size_t n, int c, fer_arcface_consts k, const float *cos,
                                   const int32_t *labels, const float *dlogits, float *dcos)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_arcface_backward(i, c, &k, cos, labels, dlogits, dcos);
}

__global__ void k_softmax(int rows, int cols, const float *x, float *y)
{
    FER_CUDA_FOR_EACH(r, rows) fer_kb_softmax_row((int)r, cols, x, y);
}

__global__ void k_loss_init(fer_kb_loss_result *res) { res->bad_row = INT_MAX; }

__global__ void k_loss_rows(fer_loss_args a, const float *logits, const int32_t *labels,
                            const float *class_weights, float *dlogits, float *row_num,
                            float *row_den, fer_kb_loss_result *res)
{
    FER_CUDA_FOR_EACH(r, a.n)
    {
        if (!fer_kb_loss_row((int)r, &a, logits, labels, class_weights, dlogits, row_num,
                             row_den))
            atomicMin(&res->bad_row, (int)r);
    }
}

__global__ void k_loss_finalize(int n, const float *row_num, const float *row_den,
                                fer_kb_loss_result *res)
{
    fer_kb_loss_finalize(n, row_num, row_den, res);
    if (res->bad_row == INT_MAX) res->bad_row = -1;
}

__global__ void k_scale_by(float *x, size_t n, const float *alpha)
{
    float s = *alpha;
    FER_CUDA_FOR_EACH(i, n) x[i] *= s;
}

__global__ void k_sumsq_partials(const float *x, size_t n, double *partials)
{
    __shared__ double sh[FER_CUDA_THREADS];
    double acc = 0.0;
    FER_CUDA_FOR_EACH(i, n) acc += (double)x[i] * (double)x[i];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned half = FER_CUDA_THREADS / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) sh[threadIdx.x] += sh[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partials[blockIdx.x] = sh[0];
}

__global__ void k_sumsq_final(const double *partials, unsigned blocks, double *out)
{
    double s = 0.0;
    for (unsigned b = 0; b < blocks; b++) s += partials[b];
    *out = s;
}

extern "C" cudaError_t fer_cuda_l2norm_forward_launch(int rows, int dim, const float *x, float *y,
                                                      float *norms, cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_l2norm_forward, (size_t)rows, s, rows, dim, x, y, norms);
}

extern "C" cudaError_t fer_cuda_l2norm_backward_launch(int rows, int dim, const float *x,
                                                       const float *norms, const float *dy,
                                                       float *dx, cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_l2norm_backward, (size_t)rows, s, rows, dim, x, norms, dy, dx);
}

extern "C" cudaError_t fer_cuda_arcface_forward_launch(const fer_arcface_args *a,
                                                       const float *cos, const int32_t *labels,
                                                       float *logits, cudaStream_t s)
{
    size_t n = (size_t)a->n * (size_t)a->c;
    FER_CUDA_LAUNCH(k_arcface_forward, n, s, n, a->c, fer_arcface_make_consts(a->s, a->m), cos,
                    labels, logits);
}

extern "C" cudaError_t fer_cuda_arcface_backward_launch(const fer_arcface_args *a,
                                                        const float *cos, const int32_t *labels,
                                                        const float *dlogits, float *dcos,
                                                        cudaStream_t s)
{
    size_t n = (size_t)a->n * (size_t)a->c;
    FER_CUDA_LAUNCH(k_arcface_backward, n, s, n, a->c, fer_arcface_make_consts(a->s, a->m), cos,
                    labels, dlogits, dcos);
}

extern "C" cudaError_t fer_cuda_softmax_launch(int rows, int cols, const float *x, float *y,
                                               cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_softmax, (size_t)rows, s, rows, cols, x, y);
}

extern "C" cudaError_t fer_cuda_loss_launch(const fer_loss_args *a, const float *logits,
                                            const int32_t *labels, const float *class_weights,
                                            float *dlogits, float *row_num, float *row_den,
                                            fer_kb_loss_result *res, cudaStream_t s)
{
    k_loss_init<<<1, 1, 0, s>>>(res);
    if (a->n > 0)
        k_loss_rows<<<fer_cuda_blocks((size_t)a->n), FER_CUDA_THREADS, 0, s>>>(
            *a, logits, labels, class_weights, dlogits, row_num, row_den, res);
    k_loss_finalize<<<1, 1, 0, s>>>(a->n, row_num, row_den, res);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess || !dlogits) return e;
    size_t n = (size_t)a->n * (size_t)a->c;
    FER_CUDA_LAUNCH(k_scale_by, n, s, dlogits, n, &res->inv);
}

extern "C" cudaError_t fer_cuda_sum_squares_launch(const float *x, size_t n, double *partials,
                                                   double *out, cudaStream_t s)
{
    unsigned blocks = fer_cuda_blocks(n);
    if (blocks > FER_CUDA_SUMSQ_BLOCKS) blocks = FER_CUDA_SUMSQ_BLOCKS;
    k_sumsq_partials<<<blocks, FER_CUDA_THREADS, 0, s>>>(x, n, partials);
    k_sumsq_final<<<1, 1, 0, s>>>(partials, blocks, out);
    return cudaGetLastError();
}
