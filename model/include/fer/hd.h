/* FER_HD marks per-element math that is compiled for both the host (C) and the device
 * (CUDA). CPU backends and CUDA kernels call the same functions, so CPU tests cover the GPU math. */
#ifndef FER_HD_H
#define FER_HD_H
#if defined(__CUDACC__)
#define FER_HD static __host__ __device__ __forceinline__
#else
#define FER_HD static inline
#endif
#endif
