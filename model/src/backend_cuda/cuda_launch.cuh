/* Thread-to-index mapping shared by the .cu files: 1-D grids with grid-stride loops, so any
 * element count runs with a bounded grid and every index is visited exactly once. */
#ifndef FER_CUDA_LAUNCH_CUH
#define FER_CUDA_LAUNCH_CUH
#include <stddef.h>
#include <cuda_runtime.h>

#define FER_CUDA_THREADS 256
#define FER_CUDA_MAX_BLOCKS 65535u

static inline unsigned fer_cuda_blocks(size_t n)
{
    size_t b = (n + FER_CUDA_THREADS - 1) / FER_CUDA_THREADS;
    return b > FER_CUDA_MAX_BLOCKS ? FER_CUDA_MAX_BLOCKS : (unsigned)(b ? b : 1);
}

/* for (size_t i = first index of this thread; i < n; i += all threads) */
#define FER_CUDA_FOR_EACH(i, n)                                                                \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (size_t)(n);           \
         i += (size_t)gridDim.x * blockDim.x)

#define FER_CUDA_LAUNCH(kernel, n, stream, ...)                                                \
    do {                                                                                       \
        if ((n) == 0) return cudaSuccess;                                                      \
        kernel<<<fer_cuda_blocks(n), FER_CUDA_THREADS, 0, (stream)>>>(__VA_ARGS__);            \
        return cudaGetLastError();                                                             \
    } while (0)

#endif
