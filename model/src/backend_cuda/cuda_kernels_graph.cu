// Graph ops: add, channel copy (concat, channel padding), mul gate, PReLU, pad2d. One thread per
// element, except the reductions: mul's broadcast dg one thread per plane, PReLU's dw one
// thread per plane (double partials) and then one per channel summing its planes in sample
// order, so every sum has a fixed order (no atomics). Math: cuda_kernel_bodies.h.
#include "cuda_kernels.h"
#include "cuda_launch.cuh"

__global__ void k_add(size_t n, const float *x0, const float *x1, float *y)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_add(i, x0, x1, y);
}

__global__ void k_channel_copy(fer_channel_copy_args a, size_t n, const float *src, float *dst)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_channel_copy(i, &a, src, dst);
}

__global__ void k_pad2d_forward(fer_pad2d_args a, size_t n, const float *x, float *y)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_pad2d_forward(i, &a, x, y);
}

__global__ void k_pad2d_backward(fer_pad2d_args a, size_t n, const float *dy, float *dx)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_pad2d_backward(i, &a, dy, dx);
}

__global__ void k_mul_forward(fer_mul_args a, size_t n, const float *x, const float *g, float *y)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_mul_forward(i, &a, x, g, y);
}

__global__ void k_mul_dx(fer_mul_args a, size_t n, const float *g, const float *dy, float *dx)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_mul_dx(i, &a, g, dy, dx);
}

__global__ void k_mul_dg_elem(size_t n, const float *x, const float *dy, float *dg)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_mul_dg_elem(i, x, dy, dg);
}

__global__ void k_mul_dg_plane(size_t planes, int hw, const float *x, const float *dy, float *dg)
{
    FER_CUDA_FOR_EACH(p, planes) fer_kb_mul_dg_plane(p, hw, x, dy, dg);
}

__global__ void k_prelu_forward(fer_prelu_args a, size_t n, const float *x, const float *w,
                                float *y)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_prelu_forward(i, &a, x, w, y);
}

__global__ void k_prelu_dx(fer_prelu_args a, size_t n, const float *x, const float *w,
                           const float *dy, float *dx)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_prelu_dx(i, &a, x, w, dy, dx);
}

__global__ void k_prelu_dw_plane(size_t planes, int hw, const float *x, const float *dy,
                                 double *partial)
{
    FER_CUDA_FOR_EACH(p, planes) fer_kb_prelu_dw_plane(p, hw, x, dy, partial);
}

__global__ void k_prelu_dw_channel(fer_prelu_args a, const double *partial, float *dw)
{
    FER_CUDA_FOR_EACH(c, a.c) fer_kb_prelu_dw_channel((int)c, &a, partial, dw);
}

extern "C" cudaError_t fer_cuda_add_launch(size_t n, const float *x0, const float *x1, float *y,
                                           cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_add, n, s, n, x0, x1, y);
}

extern "C" cudaError_t fer_cuda_channel_copy_launch(const fer_channel_copy_args *a,
                                                    const float *src, float *dst, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->hw;
    FER_CUDA_LAUNCH(k_channel_copy, n, s, *a, n, src, dst);
}

extern "C" cudaError_t fer_cuda_pad2d_forward_launch(const fer_pad2d_args *a, const float *x,
                                                     float *y, cudaStream_t s)
{
    size_t n = (size_t)a->n * (a->top + a->in_h + a->bottom) * (a->left + a->in_w + a->right);
    FER_CUDA_LAUNCH(k_pad2d_forward, n, s, *a, n, x, y);
}

extern "C" cudaError_t fer_cuda_pad2d_backward_launch(const fer_pad2d_args *a, const float *dy,
                                                      float *dx, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->in_h * a->in_w;
    FER_CUDA_LAUNCH(k_pad2d_backward, n, s, *a, n, dy, dx);
}

extern "C" cudaError_t fer_cuda_mul_forward_launch(const fer_mul_args *a, const float *x,
                                                   const float *g, float *y, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->hw;
    FER_CUDA_LAUNCH(k_mul_forward, n, s, *a, n, x, g, y);
}

extern "C" cudaError_t fer_cuda_mul_dx_launch(const fer_mul_args *a, const float *g,
                                              const float *dy, float *dx, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->hw;
    FER_CUDA_LAUNCH(k_mul_dx, n, s, *a, n, g, dy, dx);
}

extern "C" cudaError_t fer_cuda_mul_dg_launch(const fer_mul_args *a, const float *x,
                                              const float *dy, float *dg, cudaStream_t s)
{
    size_t planes = (size_t)a->n * a->c, n = planes * a->hw;
    if (a->g_hw == 1)
        FER_CUDA_LAUNCH(k_mul_dg_plane, planes, s, planes, a->hw, x, dy, dg);
    else
        FER_CUDA_LAUNCH(k_mul_dg_elem, n, s, n, x, dy, dg);
}

extern "C" cudaError_t fer_cuda_prelu_forward_launch(const fer_prelu_args *a, const float *x,
                                                     const float *w, float *y, cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->hw;
    FER_CUDA_LAUNCH(k_prelu_forward, n, s, *a, n, x, w, y);
}

extern "C" cudaError_t fer_cuda_prelu_dw_planes_launch(const fer_prelu_args *a, const float *x,
                                                       const float *dy, double *partial,
                                                       cudaStream_t s)
{
    size_t planes = (size_t)a->n * a->c;
    FER_CUDA_LAUNCH(k_prelu_dw_plane, planes, s, planes, a->hw, x, dy, partial);
}

extern "C" cudaError_t fer_cuda_prelu_dw_channels_launch(const fer_prelu_args *a,
                                                         const double *partial, float *dw,
                                                         cudaStream_t s)
{
    size_t c = (size_t)a->c;
    FER_CUDA_LAUNCH(k_prelu_dw_channel, c, s, *a, partial, dw);
}

extern "C" cudaError_t fer_cuda_prelu_dx_launch(const fer_prelu_args *a, const float *x,
                                                const float *w, const float *dy, float *dx,
                                                cudaStream_t s)
{
    size_t n = (size_t)a->n * a->c * a->hw;
    FER_CUDA_LAUNCH(k_prelu_dx, n, s, *a, n, x, w, dy, dx);
}
