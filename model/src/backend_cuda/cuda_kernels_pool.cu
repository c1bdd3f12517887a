// Max-pool with argmax. The backend interface keeps the argmax from forward (backward gets no
// x or y), which cuDNN's pooling cannot use, so both directions are our kernels: forward per
// output element, backward per input element (a gather in output order: no atomics, same
// summation order as ref). Math: cuda_kernel_bodies.h.
// Average pooling: the same mapping (forward per output, backward per input as a gather), math
// in pool_math.h.
#include "cuda_kernels.h"
#include "cuda_launch.cuh"

__global__ void k_maxpool_forward(fer_pool_args a, size_t n, const float *x, float *y,
                                  int32_t *argmax)
{
    FER_CUDA_FOR_EACH(o, n) fer_kb_maxpool_forward(o, &a, x, y, argmax);
}

__global__ void k_maxpool_backward(fer_pool_args a, size_t n, const int32_t *argmax,
                                   const float *dy, float *dx)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_maxpool_backward(i, &a, argmax, dy, dx);
}

extern "C" cudaError_t fer_cuda_maxpool_forward_launch(const fer_pool_args *a, const float *x,
                                                       float *y, int32_t *argmax, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->out_h * a->out_w;
    FER_CUDA_LAUNCH(k_maxpool_forward, n, s, *a, n, x, y, argmax);
}

extern "C" cudaError_t fer_cuda_maxpool_backward_launch(const fer_pool_args *a,
                                                        const int32_t *argmax, const float *dy,
                                                        float *dx, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->in_h * a->in_w;
    FER_CUDA_LAUNCH(k_maxpool_backward, n, s, *a, n, argmax, dy, dx);
}

__global__ void k_avgpool_forward(fer_avgpool_args a, size_t n, const float *x, float *y)
{
    FER_CUDA_FOR_EACH(o, n) fer_kb_avgpool_forward(o, &a, x, y);
}

__global__ void k_avgpool_backward(fer_avgpool_args a, size_t n, const float *dy, float *dx)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_avgpool_backward(i, &a, dy, dx);
}

extern "C" cudaError_t fer_cuda_avgpool_forward_launch(const fer_avgpool_args *a, const float *x,
                                                       float *y, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->g.out_h * a->g.out_w;
    FER_CUDA_LAUNCH(k_avgpool_forward, n, s, *a, n, x, y);
}

extern "C" cudaError_t fer_cuda_avgpool_backward_launch(const fer_avgpool_args *a,
                                                        const float *dy, float *dx,
                                                        cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->g.in_h * a->g.in_w;
    FER_CUDA_LAUNCH(k_avgpool_backward, n, s, *a, n, dy, dx);
}
