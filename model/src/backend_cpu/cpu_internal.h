/* Internal interface of the fast CPU backend ("cpu").
 *
 * Design (measured choice, see bench/RESULTS.md): own kernels, threaded over the backend's
 * fer_threadpool (the one pool of the process), with runtime ISA dispatch between AVX-512,
 * AVX2+FMA and portable C kernel sets that compute the same thing (bf16 mode: vdpbf16ps or AMX
 * tiles, cpu_bf16.h / cpu_amx.h).
 *
 * 3x3 stride-1 convolutions with >= 8 channels use Winograd F(4x4,3x3) or F(2x2,3x3)
 * (cpu_winograd.c, cpu_wino_tile); other
 * stride-1 convolutions run on "flat planes" (cpu_conv.c), where each filter tap is a constant
 * offset and the convolution an implicit GEMM without im2col; stride 2 runs there too, on the
 * input's four phase planes; other groups == 1 layers (stride > 2, k > 7) use im2col + SGEMM
 * (cpu_conv_strided.c).
 * Workspaces live in per-backend arenas that only grow, prepared weights in a hash-validated
 * cache: after the first step of a given batch size nothing is allocated (model/src/backend_cpu/
 * README.md). */
#ifndef FER_CPU_INTERNAL_H
#define FER_CPU_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "fer/backend.h"

/* ---- kernels (one table per ISA) -------------------------------------------------------- */

#define CPU_CONV_PX 6   /* flat positions per conv tile */
#define CPU_CONVW_MR 4  /* output channels per weight-gradient tile */
#define CPU_GEMM_MR 6
#define CPU_GEMM_NR_MAX 32 /* widest gemm_micro tile of any set (cpu_kernels.gemm_nr) */

/* Tile transforms of one Winograd variant F(m x m, 3x3) (cpu_wino_impl.h). */
typedef struct cpu_wino_fns {
    /* input tiles B^T d B (and the weight gradient's dy tiles A e A^T) of a blocked band */
    void (*in)(const float *xb, int cols, int tr, int tw, float *v, size_t xi_stride,
               size_t tile_stride);
    void (*dy)(const float *xb, int cols, int tr, int tw, float *v, size_t xi_stride,
               size_t tile_stride);
    /* A^T m A (+ bias) into NCHW planes */
    void (*out)(const float *m, size_t xi_stride, size_t tile_stride, int tr, int tw,
                const float *bias, int n_co, float *y, size_t plane, int out_w, int rows_valid,
                int cols_valid);
    /* in, written rounded to bf16 (the bf16 mode's GEMM operand, the same bits as converting
     * in's floats): one pass less over the tiles. NULL where the set has no bf16 store. */
    void (*in_bf16)(const float *xb, int cols, int tr, int tw, uint16_t *v, size_t xi_stride,
                    size_t tile_stride);
} cpu_wino_fns;

/* A batch norm's per-channel output map, y = x * scale + shift: the backward pass of a fused
 * batch norm + ReLU recomputes y's sign from x with it instead of reading a saved mask. */
typedef struct cpu_relu_gate {
    float scale, shift;
} cpu_relu_gate;

typedef struct cpu_kernels {
    const char *name; /* "avx512", "avx2" or "portable" */
    /* columns of gemm_micro's tile (B panels are gemm_nr wide) and output channels of
     * wino_gemm / wino_gemm_tn (the transformed weights are packed in blocks of wino_co):
     * 16 in the avx2 and portable sets, 32 in the avx512 set */
    int gemm_nr, wino_co;
    /* channels per vector of the Winograd transforms and of wino_block's band (cpu_wino_impl.h:
     * 8 in the avx2 and portable sets, 16 in the avx512 set; cpu_winograd.c rounds the input
     * channels up to it) */
    int wino_cb;
    /* output channels of conv_tile (cpu_conv.c packs the weights in blocks of conv_co): 16 in
     * the avx2 and portable sets, 32 in the avx512 set */
    int conv_co;
    /* out[o*out_stride + p] = bias[o] + sum_{c<cin, t<kk} x[c*x_stride + offs[t] + p] *
     * w[(c*kk + t)*CO + o] for o < n_co, p < n_px (CO = conv_co, n_co <= CO, n_px <= PX; bias
     * may be NULL). x points at the tile's first flat position; w is 32-byte aligned. */
    void (*conv_tile)(const float *x, size_t x_stride, int cin, const int *offs, int kk,
                      const float *w, const float *bias, float *out, size_t out_stride, int n_co,
                      int n_px);
    /* the same over 2 * CPU_CONV_PX positions, all of them stored (NULL where the set has too
     * few registers for 24 accumulators); the same bits as two conv_tile calls */
    void (*conv_tile12)(const float *x, size_t x_stride, int cin, const int *offs, int kk,
                        const float *w, const float *bias, float *out, size_t out_stride,
                        int n_co);
    /* acc[r*ntaps + t] += sum_{j<len} dy[r*dy_stride + j] * x[offs[t] + j] for r < CONVW_MR,
     * t < ntaps (1..3); len is a multiple of 8. Each (r, t) sum is its own chain, so grouping
     * taps differently gives the same bits. */
    void (*convw_tile)(const float *dy, size_t dy_stride, const float *x, const int *offs,
                       int ntaps, size_t len, float *acc);
    /* C[i*ldc + j] (+)= sum_p a[p*MR + i] * b[p*NR + j], i < MR, j < NR = gemm_nr (packed panels);
     * accumulate: 0 overwrites C. */
    void (*gemm_micro)(int kc, const float *a, const float *b, float *c, size_t ldc,
                       int accumulate);
    /* the same for two A panels, a (rows 0-5) and a + a_next (rows 6-11), into 12 rows of C
     * (NULL where the set has too few registers); the same bits as two gemm_micro calls */
    void (*gemm_micro12)(int kc, const float *a, size_t a_next, const float *b, float *c,
                         size_t ldc, int accumulate);
    /* streaming ops (memory bound; x and y may be the same buffer) */
    void (*relu_fwd)(size_t n, const float *x, float *y);                   /* fer_relu */
    void (*relu_bwd)(size_t n, const float *y, const float *dy, float *dx); /* fer_relu_backward */
    /* y = x * scale + shift, then relu when relu != 0; in the vector sets every element is
     * one fused multiply-add whichever loop takes it, so a gate recomputes its sign exactly */
    void (*affine)(size_t n, const float *x, float scale, float shift, int relu, float *y);
    /* dx = gi * (dy - mdy - (x - mean) * invstd * mdyx) (fer_bn_backward_x); with a gate, dy
     * is first zeroed where affine(x, gate) <= 0 (the fused ReLU's backward) */
    void (*bn_bwd_apply)(size_t n, const float *x, const float *dy, float mean, float invstd,
                         float gi, float mdy, float mdyx, const cpu_relu_gate *gate, float *dx);
    /* s[0] += sum(x - pivot), s[1] += sum((x - pivot)^2) */
    void (*shifted_sums)(size_t n, const float *x, float pivot, double *s);
    /* s[0] += sum(dy), s[1] += sum(dy * (x - mean)); dy gated as bn_bwd_apply's */
    void (*grad_sums)(size_t n, const float *x, const float *dy, float mean,
                      const cpu_relu_gate *gate, double *s);
    /* 2x2 stride-2 max pooling of one plane (first maximum wins, NaN propagates, as ref);
     * argmax (index in the input plane) may be NULL */
    void (*maxpool2x2)(const float *x, int in_w, int out_h, int out_w, float *y,
                       int32_t *argmax);
    /* y[i] += alpha * x[i] */
    void (*axpy)(size_t n, float alpha, const float *x, float *y);
    /* dst = src, with non-temporal (streaming) stores where the set has them: for outputs
     * far larger than the caches, which skip the read-for-ownership of every line; the caller
     * calls cpu_stream_fence before other threads read dst */
    void (*stream_copy)(float *dst, const float *src, size_t n);
    /* C[j] (one row, j < n) from a[k] and rows b[j*ldb + k], k < kc, with exactly
     * gemm_micro's arithmetic for that element: acc = chain over k, then
     * C = first ? acc : C + acc (small-batch linear without packing, same bits) */
    void (*gemm_row_nt)(int kc, const float *a, const float *b, size_t ldb, int n, float *c,
                        int first);
    /* Winograd pieces (cpu_wino_impl.h, cpu_winograd.c) */
    void (*wino_block)(const float *x, int c, int h, int w, int c0, int row0, int rows, int col0,
                       int cols, float *xb);
    cpu_wino_fns f23, f43; /* F(2x2,3x3), F(4x4,3x3) tile transforms */
    /* depthwise 3x3 forward on a band blocked by wino_block (cpu_wino_impl.h dw3_blocked;
     * small planes, cpu_depthwise.c) */
    void (*dw3_blocked)(const float *xb, int cols, int stride, const float *w, const float *bias,
                        int n_co, float *y, size_t plane, int out_h, int out_w);
    /* c[p*ldc + o] = sum_{k<kc} a[p*lda + k] * b[k*W + o], p < 6, o < W = wino_co */
    void (*wino_gemm)(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc);
    /* the same for p < 12 (24 accumulators: only sets with 32 vector registers; NULL
     * elsewhere), the same bits as two wino_gemm calls */
    void (*wino_gemm12)(int kc, const float *a, size_t lda, const float *b, float *c,
                        size_t ldc);
    /* c[p*ldc + o] += sum_{k<kc} a[k*lda + p] * b[k*ldb + o], p < 6, o < wino_co (weight
     * gradient) */
    void (*wino_gemm_tn)(int kc, const float *a, size_t lda, const float *b, size_t ldb, float *c,
                         size_t ldc);
    /* the same for p < 12 (NULL where wino_gemm12 is), the same bits as two calls */
    void (*wino_gemm_tn12)(int kc, const float *a, size_t lda, const float *b, size_t ldb,
                           float *c, size_t ldc);
} cpu_kernels;

extern const cpu_kernels cpu_kernels_portable;
#if defined(FER_CPU_HAVE_AVX2)
extern const cpu_kernels cpu_kernels_avx2;
/* AVX2 kernels the avx512 set shares (cpu_kernels_avx2.c; the table's signatures) */
void cpu_avx2_maxpool2x2(const float *x, int in_w, int out_h, int out_w, float *y,
                         int32_t *argmax);
void cpu_avx2_gemm_row_nt(int kc, const float *a, const float *b, size_t ldb, int n, float *c,
                          int first);
#endif
#if defined(FER_CPU_HAVE_AVX512)
extern const cpu_kernels cpu_kernels_avx512;
#endif

/* ---- backend state ---------------------------------------------------------------------- */

/* Repacked / transformed weights (cpu_wcache.c). */
#define CPU_WCACHE_ENTRIES 16
typedef struct cpu_wcache_entry {
    const float *w; /* source */
    size_t n;
    int kind, s[3]; /* layout and shape */
    uint64_t gen;   /* the caller's weight generation (fer_conv2d_args.weights_gen), 0: none */
    uint64_t hash;  /* of the source floats, when has_hash */
    int has_hash;
    float *packed;
    size_t cap, packed_floats;
    unsigned long last_use;
} cpu_wcache_entry;

/* XCR0's low word: the register states the OS saves (bits 1-2 xmm/ymm, 5-7 AVX-512, 17-18
 * AMX tiles); 0 without OSXSAVE or off x86. */
unsigned cpu_os_xsave_states(void);

typedef struct cpu_ctx {
    const cpu_kernels *k;
    fer_threadpool *pool;
    int threads;
    int has_bf16; /* CPU has AVX512_BF16 (only then FER_PREC_BF16 is accepted) */
    int bf16;     /* FER_PREC_BF16 set: Winograd GEMMs round operands to bf16 (cpu_bf16.h) */
    int amx;      /* bf16 mode runs the Winograd GEMMs on AMX tiles (cpu_amx.h): where the CPU
                   * has AMX-BF16, unless FER_CPU_AMX=0 */
    int wino;     /* Winograd tile for 3x3 convolutions: CPU_WINO_AUTO (default; see
                   * cpu_wino_tile), or forced 2, 4, or 0 = off (FER_CPU_WINOGRAD=2|4|0) */
    size_t stream_min_bytes; /* outputs this large leave by stream_copy: CPU_STREAM_MIN_BYTES,
                              * or FER_CPU_STREAM=0|all (SIZE_MAX: never; 0: always) */
    /* workspace arenas: grow to the largest request, never shrink */
    float *ws;
    size_t ws_floats;
    float *gemm_ws;
    size_t gemm_ws_floats;
    cpu_wcache_entry wcache[CPU_WCACHE_ENTRIES];
    unsigned long wcache_clock;
} cpu_ctx;

/* Outputs this large are written with streaming stores (cpu_kernels.stream_copy): at batch
 * 256 a layer's output (SimpleCNN's first: 75 MB) is long out of cache when the next layer
 * reads it, so the read-for-ownership of every line is wasted; small outputs (batch-1
 * inference, the detector) are read back from cache and keep plain stores (bench/RESULTS.md). */
#define CPU_STREAM_MIN_BYTES ((size_t)8 << 20)

/* Orders this thread's streaming stores before what follows (a task's end): x86 sfence. */
static inline void cpu_stream_fence(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#endif
}

static inline cpu_ctx *cpu_of(fer_backend *b)
{
    return (cpu_ctx *)b->ctx;
}

/* Workspace of at least n floats (64-byte aligned); contents undefined. NULL + fer_fail on OOM.
 * Invalidates pointers from earlier calls. */
float *cpu_workspace(cpu_ctx *c, size_t n);
/* Grows *buf (64-byte aligned, contents dropped) to at least n floats. */
fer_status cpu_grow(float **buf, size_t *cap, size_t n);

/* Packed form of the n source floats w for (kind, s0..s2), packed_floats long: from the cache
 * when it was packed under the same nonzero weight generation gen (the caller's promise that
 * w is unchanged; fer_conv2d_args.weights_gen) or, with gen 0, when the source hashes the same
 * as when it was packed; else pack(pack_ctx, buffer). Valid until the next cpu_wcache_get call
 * but one. NULL + fer_fail on OOM. */
typedef void (*cpu_pack_fn)(const void *pack_ctx, float *dst);
float *cpu_wcache_get(cpu_ctx *c, const float *w, size_t n, uint64_t gen, int kind, int s0,
                      int s1, int s2, size_t packed_floats, cpu_pack_fn pack,
                      const void *pack_ctx);
void cpu_wcache_free(cpu_ctx *c);

/* Runs fn(ctx, task, worker) over the pool. */
void cpu_parallel(cpu_ctx *c, int n_tasks, fer_task_fn fn, void *ctx);

/* Splits [0, n) into at most `parts` ranges aligned to `align`; returns range i. */
static inline void cpu_range(size_t n, int parts, int i, size_t align, size_t *lo, size_t *hi)
{
    size_t units = (n + align - 1) / align;
    size_t per = units / (size_t)parts, extra = units % (size_t)parts;
    size_t a = (size_t)i * per + ((size_t)i < extra ? (size_t)i : extra);
    size_t b = a + per + ((size_t)i < extra ? 1 : 0);
    *lo = a * align < n ? a * align : n;
    *hi = b * align < n ? b * align : n;
}

/* ---- SGEMM ------------------------------------------------------------------------------ */

/* C[M x N] = op(A) op(B) (+ C when accumulate), row-major; op(A)[i][p] = trans_a ? A[p*lda + i]
 * : A[i*lda + p], op(B)[p][j] = trans_b ? B[j*ldb + p] : B[p*ldb + j]. Threads over the pool;
 * call it from the op's thread, not from inside a pool task. Uses its own arena (gemm_ws), so
 * callers may hold pointers into the op workspace across the call. b_is_weight: B is a weight
 * matrix whose packed form may be cached (cpu_wcache_get). */
fer_status cpu_sgemm(cpu_ctx *c, int trans_a, int trans_b, int M, int N, int K, const float *A,
                     size_t lda, const float *B, size_t ldb, float *C, size_t ldc, int accumulate,
                     int b_is_weight);
/* Floats of workspace cpu_sgemm needs. */
size_t cpu_sgemm_ws_floats(cpu_ctx *c, int M, int N, int K);

/* ---- ops (fer_backend_ops signatures) --------------------------------------------------- */

fer_status cpu_conv2d_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                              const float *w, const float *bias, float *y);
fer_status cpu_conv2d_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                               const float *w, const float *dy, float *dx, float *dw,
                               float *dbias);
/* Winograd F(m x m,3x3) path (cpu_winograd.c) for 3x3 stride-1 convolutions with >= 8 channels,
 * m = c->wino.
 * flip: w is used as the input-gradient filter (transposed, rotated 180 degrees). */
/* groups > 1 (cpu_conv_grouped.c): dense groups through the groups == 1 path on channel
 * slices, thin groups (depthwise) by a direct convolution threaded over planes */
fer_status cpu_conv2d_grouped_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                      const float *w, const float *bias, float *y);
fer_status cpu_conv2d_grouped_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                       const float *w, const float *dy, float *dx, float *dw,
                                       float *dbias);
/* groups == 1 outside the Winograd and flat-plane paths: stride > 2, k > 7, pad > k-1
 * (cpu_conv_strided.c): im2col per chunk of images + cpu_sgemm. dx or dw may be NULL; the
 * caller sums the bias gradient. */
int cpu_conv_strided_supported(const fer_conv2d_args *a);
fer_status cpu_conv_strided_forward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                    const float *w, const float *bias, float *y);
fer_status cpu_conv_strided_backward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                     const float *w, const float *dy, float *dx, float *dw);
int cpu_wino_supported(const fer_conv2d_args *a);
/* The Winograd tile m of F(m x m, 3x3): c->wino when forced (FER_CPU_WINOGRAD=2|4), else
 * (CPU_WINO_AUTO) 4 in FP32, but 2 for calls with fewer than 5 F(4x4) tiles (batch 1 on
 * planes of <= 8x8: the transformed weights' traffic dominates) or where F(4x4) needs no fewer
 * multiplications (6x6 planes), and 2 in bf16 mode (F(4x4)'s
 * transform constants, up to 8, magnify bf16's rounding ~8x: 6e-2 of the scale against 6e-3). */
#define CPU_WINO_AUTO (-1)
int cpu_wino_tile(const cpu_ctx *c, const fer_conv2d_args *a);
fer_status cpu_wino_conv(cpu_ctx *c, const fer_conv2d_args *a, const float *x, const float *w,
                         int flip, const float *bias, float *y);
/* dw[co][ci][3][3] of the same layers (F(3x3,4x4): tiles of dy as the filter). */
fer_status cpu_wino_wgrad(cpu_ctx *c, const fer_conv2d_args *a, const float *x, const float *dy,
                          float *dw);
fer_status cpu_batchnorm_forward(fer_backend *b, const fer_bn_args *a, int training,
                                 const float *x, const float *gamma, const float *beta,
                                 float *running_mean, float *running_var, float *y,
                                 float *save_mean, float *save_invstd);
fer_status cpu_batchnorm_backward(fer_backend *b, const fer_bn_args *a, const float *x,
                                  const float *gamma, const float *beta,
                                  const float *save_mean,
                                  const float *save_invstd, const float *dy, float *dx,
                                  float *dgamma, float *dbeta);
fer_status cpu_maxpool_forward(fer_backend *b, const fer_pool_args *a, const float *x, float *y,
                               int32_t *argmax);
fer_status cpu_maxpool_backward(fer_backend *b, const fer_pool_args *a, const int32_t *argmax,
                                const float *dy, float *dx);
fer_status cpu_linear_forward(fer_backend *b, const fer_linear_args *a, const float *x,
                              const float *w, const float *bias, float *y);
fer_status cpu_linear_backward(fer_backend *b, const fer_linear_args *a, const float *x,
                               const float *w, const float *dy, float *dx, float *dw,
                               float *dbias);
fer_status cpu_relu_forward(fer_backend *b, size_t n, const float *x, float *y);
fer_status cpu_relu_backward(fer_backend *b, size_t n, const float *y, const float *dy,
                             float *dx);
fer_status cpu_dropout_forward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                               const float *x, float *y);
fer_status cpu_dropout_backward(fer_backend *b, size_t n, float p, uint64_t seed, uint64_t first,
                                const float *dy, float *dx);
fer_status cpu_activation_forward(fer_backend *b, fer_activation kind, float param, size_t n,
                                  const float *x, float *y);
fer_status cpu_activation_backward(fer_backend *b, fer_activation kind, float param, size_t n,
                                   const float *x, const float *dy, float *dx);
fer_status cpu_avgpool_forward(fer_backend *b, const fer_avgpool_args *a, const float *x,
                               float *y);
fer_status cpu_avgpool_backward(fer_backend *b, const fer_avgpool_args *a, const float *dy,
                                float *dx);
/* cpu_graph.c */
fer_status cpu_add(fer_backend *b, size_t n, const float *x0, const float *x1, float *y);
fer_status cpu_add_relu(fer_backend *b, size_t n, const float *x0, const float *x1, float *y);
fer_status cpu_channel_copy(fer_backend *b, const fer_channel_copy_args *a, const float *src,
                            float *dst);
fer_status cpu_mul_forward(fer_backend *b, const fer_mul_args *a, const float *x, const float *g,
                           float *y);
fer_status cpu_mul_backward(fer_backend *b, const fer_mul_args *a, const float *x,
                            const float *g, const float *dy, float *dx, float *dg);
fer_status cpu_prelu_forward(fer_backend *b, const fer_prelu_args *a, const float *x,
                             const float *w, float *y);
fer_status cpu_pad2d_forward(fer_backend *b, const fer_pad2d_args *a, const float *x, float *y);
fer_status cpu_pad2d_backward(fer_backend *b, const fer_pad2d_args *a, const float *dy,
                              float *dx);
fer_status cpu_prelu_backward(fer_backend *b, const fer_prelu_args *a, const float *x,
                              const float *w, const float *dy, float *dx, float *dw);
fer_status cpu_optimizer_step(fer_backend *b, const fer_optim_args *a, size_t n, float *param,
                              const float *grad, float *m, float *v);
fer_status cpu_sum_squares(fer_backend *b, size_t n, const float *x, double *out_host);
fer_status cpu_scale(fer_backend *b, size_t n, float *x, float alpha);
fer_status cpu_fill(fer_backend *b, float *dst, float value, size_t n);
fer_status cpu_copy(fer_backend *b, void *dst, const void *src, size_t bytes);

#endif
