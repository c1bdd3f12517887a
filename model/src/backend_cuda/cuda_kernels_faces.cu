// The video element's batch path: every face of a frame cropped, resized to 48x48 and
// normalised in one launch, one thread per output pixel. Math: fer/preprocess_math.h via
// cuda_kernel_bodies.h (the same code the host crop uses).
#include "cuda_kernels.h"
#include "cuda_launch.cuh"

__global__ void k_crop_faces(fer_face_batch_args a, size_t n, const uint8_t *frame,
                             const int32_t *boxes, float *x)
{
    FER_CUDA_FOR_EACH(i, n) fer_kb_face_pixel(i, &a, frame, boxes, x);
}

extern "C" cudaError_t fer_cuda_crop_faces_launch(const fer_face_batch_args *a,
                                                  const uint8_t *frame, const int32_t *boxes,
                                                  float *x, cudaStream_t s)
{
    size_t n = (size_t)a->n * FER_INPUT_SIZE * FER_INPUT_SIZE;
    FER_CUDA_LAUNCH(k_crop_faces, n, s, *a, n, frame, boxes, x);
}
