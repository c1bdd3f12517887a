// Elementwise kernels: fill, scale, linear bias and dbias, dropout, activations, optimiser update, AMP
// gradient scaling. Per-element math: cuda_kernel_bodies.h over the shared fer/*_math.h.
#include "cuda_kernels.h"
#include "cuda_launch.cuh"

__global__ void k_fill(float *dst, float value, size_t n)
{
    FER_CUDA_FOR_EACH(i, n) dst[i] = value;
}

__global__ void k_scale(float *x, float alpha, size_t n)
{
    FER_CUDA_FOR_EACH(i, n) x[i] *= alpha;
}

__global__ void k_bias_rows(float *y, const float *bias, int cols, size_t n)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_bias_rows(i, cols, bias, y);
}

__global__ void k_col_sums(const float *dy, int rows, int cols, float *out)
{
    FER_CUDA_FOR_EACH(c, cols) fer_kb_col_sum((int)c, rows, cols, dy, out);
}

__global__ void k_dropout(size_t n, float p, uint64_t seed, uint64_t first, float scale,
                          const float *x, float *y)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_dropout(i, p, seed, first, scale, x, y);
}

__global__ void k_activation_forward(fer_activation kind, float param, size_t n, const float *x,
                                     float *y)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_activation_forward(i, kind, param, x, y);
}

__global__ void k_activation_backward(fer_activation kind, float param, size_t n, const float *x,
                                      const float *dy, float *dx)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_activation_backward(i, kind, param, x, dy, dx);
}

__global__ void k_optim(fer_optim_coeffs k, size_t n, float *param, const float *grad, float *m,
                        float *v)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_optim(i, &k, param, grad, m, v);
}

__global__ void k_absmax(const float *x, size_t n, uint32_t *maxbits)
{
    uint32_t best = 0;
    FER_CUDA_FOR_EACH(i, n)
    {
        uint32_t b = fer_kb_abs_bits(x[i]);
        best = b > best ? b : best;
    }
    atomicMax(maxbits, best); // max is order-independent: deterministic
}

__global__ void k_amp_scale(const float *src, float *dst, size_t n, const uint32_t *maxbits,
                            float *scale)
{
    float s = fer_kb_amp_scale_for(fer_kb_float_from_bits(*maxbits));
    if (blockIdx.x == 0 && threadIdx.x == 0) *scale = s;
    FER_CUDA_FOR_EACH(i, n) dst[i] = src[i] * s;
}

__global__ void k_amp_unscale(float *x, size_t n, const float *scale)
{
    float inv = 1.0f / *scale; // exact: the scale is a power of two
    FER_CUDA_FOR_EACH(i, n) x[i] *= inv;
}

extern "C" cudaError_t fer_cuda_kernels_available(void)
{
    cudaFuncAttributes attr;
    return cudaFuncGetAttributes(&attr, k_fill);
}

extern "C" cudaError_t fer_cuda_fill_launch(float *dst, float value, size_t n, cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_fill, n, s, dst, value, n);
}

extern "C" cudaError_t fer_cuda_scale_launch(float *x, float alpha, size_t n, cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_scale, n, s, x, alpha, n);
}

extern "C" cudaError_t fer_cuda_bias_rows_launch(float *y, const float *bias, int rows, int cols,
                                                 cudaStream_t s)
{
    size_t n = (size_t)rows * (size_t)cols;
    FER_CUDA_LAUNCH(k_bias_rows, n, s, y, bias, cols, n);
}

extern "C" cudaError_t fer_cuda_col_sums_launch(const float *dy, int rows, int cols, float *out,
                                                cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_col_sums, (size_t)cols, s, dy, rows, cols, out);
}

extern "C" cudaError_t fer_cuda_dropout_launch(size_t n, float p, uint64_t seed, uint64_t first,
                                               const float *x, float *y, cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_dropout, n, s, n, p, seed, first, fer_dropout_scale(p), x, y);
}

extern "C" cudaError_t fer_cuda_activation_forward_launch(fer_activation kind, float param,
                                                         size_t n, const float *x, float *y,
                                                         cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_activation_forward, n, s, kind, param, n, x, y);
}

extern "C" cudaError_t fer_cuda_activation_backward_launch(fer_activation kind, float param,
                                                          size_t n, const float *x,
                                                          const float *dy, float *dx,
                                                          cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_activation_backward, n, s, kind, param, n, x, dy, dx);
}

extern "C" cudaError_t fer_cuda_optim_launch(const fer_optim_args *a, size_t n, float *param,
                                             const float *grad, float *m, float *v,
                                             cudaStream_t s)
{
    // bias corrections are computed once per step on the host, in double (as PyTorch)
    FER_CUDA_LAUNCH(k_optim, n, s, fer_optim_make_coeffs(a), n, param, grad, m, v);
}

extern "C" cudaError_t fer_cuda_amp_scale_launch(const float *src, float *dst, size_t n,
                                                 uint32_t *maxbits, float *scale, cudaStream_t s)
{
    cudaError_t e = cudaMemsetAsync(maxbits, 0, sizeof *maxbits, s);
    if (e != cudaSuccess) return e;
    if (n == 0) {
        k_amp_scale<<<1, 1, 0, s>>>(src, dst, 0, maxbits, scale); // still publish S = 1
        return cudaGetLastError();
    }
    k_absmax<<<fer_cuda_blocks(n), FER_CUDA_THREADS, 0, s>>>(src, n, maxbits);
    e = cudaGetLastError();
    if (e != cudaSuccess) return e;
    FER_CUDA_LAUNCH(k_amp_scale, n, s, src, dst, n, maxbits, scale);
}

extern "C" cudaError_t fer_cuda_amp_unscale_launch(float *x, size_t n, const float *scale,
                                                   cudaStream_t s)
{
    FER_CUDA_LAUNCH(k_amp_unscale, n, s, x, n, scale);
}
