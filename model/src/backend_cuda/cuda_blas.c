/* Linear layers on cuBLAS.
 *
 * Our tensors are row-major; cuBLAS is column-major. A row-major R x C matrix is the same
 * memory as a column-major C x R matrix (its transpose), so with x[n,in], w[out,in], y[n,out]:
 *   forward   y^T[out,n]  = w[out,in] . x^T[in,n]     -> gemm(T, N, out, n, in; w, x)
 *   dx        dx^T[in,n]  = w^T[in,out] . dy^T[out,n] -> gemm(N, N, in, n, out; w, dy)
 *   dw        dw^T[in,out] = x^T[in,n] . dy[n,out]    -> gemm(N, T, in, out, n; x, dy)
 * (each letter pair names the column-major view cuBLAS sees; leading dimensions are the
 * row lengths in, in/out, in.) The bias is broadcast into y first and the product added
 * (beta = 1); dbias is a column sum done by our kernel in a fixed order. */
#include "cuda_internal.h"
#include "cuda_kernels.h"

fer_status cuda_blas_set_precision(cuda_ctx *c, fer_precision p)
{
    switch (p) {
    case FER_PREC_FP16: c->gemm_compute = CUBLAS_COMPUTE_32F_FAST_16F; break;
    case FER_PREC_BF16: c->gemm_compute = CUBLAS_COMPUTE_32F_FAST_16BF; break;
    default: c->gemm_compute = CUBLAS_COMPUTE_32F; break;
    }
    /* the compute type selects tensor cores; the math mode stays default so FP32 mode never
     * silently uses TF32 */
    BLAS_TRY(cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    return FER_OK;
}

static fer_status gemm(cuda_ctx *c, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                       int k, const float *A, int lda, const float *B, int ldb, float beta,
                       float *C, int ldc)
{
    const float alpha = 1.0f;
    BLAS_TRY(cublasGemmEx(c->blas, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F,
                          ldb, &beta, C, CUDA_R_32F, ldc, c->gemm_compute, CUBLAS_GEMM_DEFAULT));
    return FER_OK;
}

static fer_status linear_check(const fer_linear_args *a)
{
    if (a->n < 0 || a->in <= 0 || a->out <= 0)
        return fer_fail(FER_ERR_ARG, "cuda: invalid linear shape n=%d in=%d out=%d", a->n, a->in,
                        a->out);
    FER_TRY(cuda_check_count((size_t)a->n * a->in, "linear input"));
    FER_TRY(cuda_check_count((size_t)a->n * a->out, "linear output"));
    FER_TRY(cuda_check_count((size_t)a->in * a->out, "linear weight"));
    return FER_OK;
}

fer_status cuda_linear_forward(fer_backend *b, const fer_linear_args *a, const float *x,
                               const float *w, const float *bias, float *y)
{
    cuda_ctx *c = cuda_ctx_of(b);
    FER_TRY(linear_check(a));
    if (a->n == 0) return FER_OK;
    float beta = 0.0f;
    if (a->has_bias && bias) {
        CUDA_TRY(fer_cuda_bias_rows_launch(y, bias, a->n, a->out, c->stream));
        beta = 1.0f;
    }
    return gemm(c, CUBLAS_OP_T, CUBLAS_OP_N, a->out, a->n, a->in, w, a->in, x, a->in, beta, y,
                a->out);
}

fer_status cuda_linear_backward(fer_backend *b, const fer_linear_args *a, const float *x,
                                const float *w, const float *dy, float *dx, float *dw,
                                float *dbias)
{
    cuda_ctx *c = cuda_ctx_of(b);
    FER_TRY(linear_check(a));
    if (a->has_bias && dbias)
        CUDA_TRY(fer_cuda_col_sums_launch(dy, a->n, a->out, dbias, c->stream));
    if (a->n == 0) {
        if (dw) CUDA_TRY(cudaMemsetAsync(dw, 0, (size_t)a->in * a->out * sizeof(float),
                                         c->stream));
        return FER_OK;
    }
    const float *g = dy, *scale_dev = NULL;
    if (cuda_amp_scales_gradients(c))
        FER_TRY(cuda_amp_scale_gradient(c, dy, (size_t)a->n * a->out, &g, &scale_dev));
    if (dx) {
        FER_TRY(gemm(c, CUBLAS_OP_N, CUBLAS_OP_N, a->in, a->n, a->out, w, a->in, g, a->out, 0.0f,
                     dx, a->in));
        if (scale_dev) FER_TRY(cuda_amp_unscale(c, dx, (size_t)a->n * a->in, scale_dev));
    }
    if (dw) {
        FER_TRY(gemm(c, CUBLAS_OP_N, CUBLAS_OP_T, a->in, a->out, a->n, x, a->in, g, a->out, 0.0f,
                     dw, a->in));
        if (scale_dev) FER_TRY(cuda_amp_unscale(c, dw, (size_t)a->in * a->out, scale_dev));
    }
    return FER_OK;
}
