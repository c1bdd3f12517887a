/* Compute backends behind one small interface (ggml style).
 *
 * A backend owns its memory (host for ref/cpu, device for cuda) and implements batch-oriented
 * layer ops over flat float32 NCHW buffers that it allocated. Callers (model.c) never branch on
 * the backend. Gradient outputs are overwritten, not accumulated (each parameter is used once).
 * An op pointer may be NULL when a backend lacks it; fer_backend_* wrappers then report
 * FER_ERR_UNSUPPORTED. Names: "ref" (plain loops, the test oracle), "cpu" (fast), "cuda".
 */
#ifndef FER_BACKEND_H
#define FER_BACKEND_H
#include <stddef.h>
#include <stdint.h>
#include "fer/activation_math.h"
#include "fer/pool_math.h"
#include "fer/status.h"
#include "fer/threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_backend fer_backend;

typedef enum fer_precision { FER_PREC_FP32 = 0, FER_PREC_BF16, FER_PREC_FP16 } fer_precision;

/* y[n,out_c,out_h,out_w] = conv(x[n,in_c,in_h,in_w], w[out_c,in_c/groups,k,k]) + b[out_c].
 * groups >= 1 divides in_c and out_c: output channel oc sees only the input channels of its
 * group, g*in_c/groups .. (g+1)*in_c/groups - 1 with g = oc / (out_c/groups), as PyTorch's
 * nn.Conv2d(groups=...); groups == in_c == out_c is a depthwise convolution. */
typedef struct fer_conv2d_args {
    int n, in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int k, stride, pad;
    int has_bias;
    int groups;
    /* 0: w may have changed since any earlier call. Nonzero: the caller promises that w holds
     * the same values in every call that passes the same (w, weights_gen), so a backend may
     * reuse what it derived from them without reading them again (the cpu backend's packed
     * weights, which it otherwise validates by hashing every weight on each call). */
    uint64_t weights_gen;
} fer_conv2d_args;

typedef struct fer_pool_args {
    int n, c, in_h, in_w;
    int out_h, out_w;
    int k, stride;
} fer_pool_args;

/* Batch norm over (n, hw) per channel c. */
typedef struct fer_bn_args {
    int n, c, hw;
    float eps;      /* 1e-5 */
    float momentum; /* 0.1: running = (1-momentum)*running + momentum*batch (unbiased var) */
    /* 1 (only on a backend with fuses_relu): forward writes relu(BN(x)); backward's dy is
     * the gradient of that output, masked by the sign of BN(x) recomputed from x, the saved
     * statistics, gamma and beta exactly as forward computed it */
    int relu;
    /* non-NULL (only on a backend with fuses_pool, forward only): the 2x2 stride-2 max pool
     * that reads this output runs inside the output pass, plane by plane from cache: y is not
     * written; pool_y and pool_argmax get what maxpool_forward(pool, y) would write, bit for
     * bit */
    const fer_pool_args *pool;
    float *pool_y;
    int32_t *pool_argmax;
} fer_bn_args;

/* Average pooling of n*c planes (fer/pool_math.h: windows, divisor, PyTorch semantics). */
typedef struct fer_avgpool_args {
    int n, c;
    fer_avgpool_geom g;
} fer_avgpool_args;

/* y[n,out] = x[n,in] . w[out,in]^T + b[out] */
typedef struct fer_linear_args {
    int n, in, out;
    int has_bias;
} fer_linear_args;

/* Channel-block copy between two NCHW tensors of n samples with hw values per channel:
 * dst[s, dst_off + j, :] = src[s, src_off + j, :] for j < c. concat (forward: each input into its
 * slice; backward: each slice back out) and channel_pad use it. */
typedef struct fer_channel_copy_args {
    int n, hw, c;
    int src_c, src_off; /* channels of src per sample, first channel copied */
    int dst_c, dst_off; /* channels of dst per sample, first channel written */
} fer_channel_copy_args;

/* y[s,c,p] = x[s,c,p] * g[s,c,g_hw == 1 ? 0 : p] for n samples, c channels, hw values each:
 * g is a per-sample, per-channel gate (g_hw == 1, squeeze-excitation) or a tensor of x's shape
 * (g_hw == hw). */
typedef struct fer_mul_args {
    int n, c, hw, g_hw;
} fer_mul_args;

/* Zero padding of n planes (samples x channels) of in_h x in_w: the output planes are
 * (top + in_h + bottom) x (left + in_w + right) with the input at (top, left); backward crops
 * dy back to the input's window (fer/graph_math.h: fer_pad2d_source). */
typedef struct fer_pad2d_args {
    int n, in_h, in_w;
    int top, left, bottom, right;
} fer_pad2d_args;

/* PReLU with one learned slope per channel: y = x > 0 ? x : w[c] * x (nn.PReLU(c)). */
typedef struct fer_prelu_args {
    int n, c, hw;
} fer_prelu_args;

typedef enum fer_loss_kind { FER_LOSS_CE = 0, FER_LOSS_WCE, FER_LOSS_FOCAL } fer_loss_kind;

/* Mean-reduced loss over a batch of logits[n,c] with int32 labels[n].
 * class_weights (backend memory, length c) may be NULL; when given the mean is
 * sum(w_y * l) / sum(w_y), as PyTorch's weighted cross_entropy / nll_loss.
 * targets (backend memory, n x c rows that each sum to 1) replaces the labels when not NULL
 * (labels may then be NULL; CE/WCE only): soft-target cross-entropy, a row's weight
 * sum_j w_j t_j. logit_offset (backend memory, length c) may be NULL; when given the loss
 * sees logits + offset (logit adjustment / Balanced Softmax). Math: fer/loss_math.h. */
typedef struct fer_loss_args {
    int n, c;
    fer_loss_kind kind;
    float gamma;               /* focal */
    float label_smoothing;     /* 0..1 */
    const float *targets;      /* NULL: int labels */
    const float *logit_offset; /* NULL: none */
} fer_loss_args;

/* ArcFace additive angular margin on raw cosines cos[n,c]; the op clamps them to
 * [-1+1e-7, 1-1e-7] (zero gradient outside): logits = s*cos except the label column, which gets
 * s*phi, phi = cos(theta+m) or cos - mm below th (fer_arcface_logit in head_math.h). */
typedef struct fer_arcface_args {
    int n, c;
    float s, m;
} fer_arcface_args;

typedef enum fer_optim_kind { FER_OPTIM_ADAM = 0, FER_OPTIM_ADAMW, FER_OPTIM_SGD } fer_optim_kind;

typedef struct fer_optim_args {
    fer_optim_kind kind;
    float lr, beta1, beta2, eps, weight_decay;
    float momentum, dampening;
    int nesterov;
    long step; /* 1-based step count after increment (Adam bias correction; SGD first step) */
} fer_optim_args;

/* A batch of faces to cut out of one 8-bit gray frame (the video element's batch path). */
typedef struct fer_face_batch_args {
    int n;             /* faces (boxes) */
    int w, h, stride;  /* frame size and row stride in bytes */
    float margin;      /* box growth per side, as fer_crop_face_48 */
    float mean, std;   /* normalisation, as fer_normalize_pixel */
} fer_face_batch_args;

typedef struct fer_backend_ops {
    void (*destroy)(fer_backend *b);
    /* memory */
    fer_status (*alloc)(fer_backend *b, size_t bytes, void **ptr); /* zero-filled */
    void (*release)(fer_backend *b, void *ptr);
    fer_status (*upload)(fer_backend *b, void *dst, const void *host_src, size_t bytes);
    fer_status (*download)(fer_backend *b, void *host_dst, const void *src, size_t bytes);
    fer_status (*copy)(fer_backend *b, void *dst, const void *src, size_t bytes);
    fer_status (*fill)(fer_backend *b, float *dst, float value, size_t n);
    fer_status (*synchronize)(fer_backend *b);
    fer_status (*set_precision)(fer_backend *b, fer_precision p); /* NULL: FP32 only */

    /* layers; dx pointers may be NULL when the input gradient is not needed (first layer) */
    fer_status (*conv2d_forward)(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                 const float *w, const float *bias, float *y);
    fer_status (*conv2d_backward)(fer_backend *b, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *dbias);
    /* training: batch statistics, updates running stats, saves mean and 1/sqrt(var+eps);
     * eval (training == 0): running statistics, save_* untouched (may be NULL). */
    fer_status (*batchnorm_forward)(fer_backend *b, const fer_bn_args *a, int training,
                                    const float *x, const float *gamma, const float *beta,
                                    float *running_mean, float *running_var, float *y,
                                    float *save_mean, float *save_invstd);
    fer_status (*batchnorm_backward)(fer_backend *b, const fer_bn_args *a, const float *x,
                                     const float *gamma, const float *beta,
                                     const float *save_mean,
                                     const float *save_invstd, const float *dy, float *dx,
                                     float *dgamma, float *dbeta);
    fer_status (*relu_forward)(fer_backend *b, size_t n, const float *x, float *y);
    /* uses the output y (x > 0 <=> y > 0), so in-place forward is allowed */
    fer_status (*relu_backward)(fer_backend *b, size_t n, const float *y, const float *dy,
                                float *dx);
    fer_status (*maxpool_forward)(fer_backend *b, const fer_pool_args *a, const float *x,
                                  float *y, int32_t *argmax);
    fer_status (*maxpool_backward)(fer_backend *b, const fer_pool_args *a, const int32_t *argmax,
                                   const float *dy, float *dx);
    fer_status (*linear_forward)(fer_backend *b, const fer_linear_args *a, const float *x,
                                 const float *w, const float *bias, float *y);
    fer_status (*linear_backward)(fer_backend *b, const fer_linear_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *dbias);
    /* inverted dropout; the keep mask is a pure function of (seed, i) (dropout_math.h) so
     * backward regenerates it instead of storing it; element k of x is mask element first + k
     * (a data-parallel shard draws what the whole batch would) */
    fer_status (*dropout_forward)(fer_backend *b, size_t n, float p, uint64_t seed,
                                  uint64_t first, const float *x, float *y);
    fer_status (*dropout_backward)(fer_backend *b, size_t n, float p, uint64_t seed,
                                   uint64_t first, const float *dy, float *dx);
    /* y = act(x) element-wise (fer/activation_math.h; param: leaky_relu's slope). Backward
     * reads the layer INPUT x, so forward must not run in place; dx may be dy (in place). */
    fer_status (*activation_forward)(fer_backend *b, fer_activation kind, float param, size_t n,
                                     const float *x, float *y);
    fer_status (*activation_backward)(fer_backend *b, fer_activation kind, float param, size_t n,
                                      const float *x, const float *dy, float *dx);
    fer_status (*avgpool_forward)(fer_backend *b, const fer_avgpool_args *a, const float *x,
                                  float *y);
    fer_status (*avgpool_backward)(fer_backend *b, const fer_avgpool_args *a, const float *dy,
                                   float *dx);
    /* y = x0 + x1 (n values); y may be x0 or x1 (the model accumulates branch gradients with
     * y == x0) */
    fer_status (*add)(fer_backend *b, size_t n, const float *x0, const float *x1, float *y);
    /* y = relu(x0 + x1), the same aliasing (only on a backend with fuses_relu) */
    fer_status (*add_relu)(fer_backend *b, size_t n, const float *x0, const float *x1, float *y);
    fer_status (*channel_copy)(fer_backend *b, const fer_channel_copy_args *a, const float *src,
                               float *dst);
    fer_status (*mul_forward)(fer_backend *b, const fer_mul_args *a, const float *x,
                              const float *g, float *y);
    /* dx = dy * g (broadcast); dg = dy * x, summed over hw when g_hw == 1. Either output may be
     * NULL (not needed); neither may alias dy. */
    fer_status (*mul_backward)(fer_backend *b, const fer_mul_args *a, const float *x,
                               const float *g, const float *dy, float *dx, float *dg);
    fer_status (*prelu_forward)(fer_backend *b, const fer_prelu_args *a, const float *x,
                                const float *w, float *y);
    /* dw[c] = sum over (n, hw) of dy * x where x <= 0 (overwritten); dx = dy * (x > 0 ? 1 : w[c]).
     * dx may be dy (in place: dw is formed before dx overwrites it) or NULL. */
    fer_status (*prelu_backward)(fer_backend *b, const fer_prelu_args *a, const float *x,
                                 const float *w, const float *dy, float *dx, float *dw);
    /* y = pad(x) (zeros around each plane); dx = the input window of dy */
    fer_status (*pad2d_forward)(fer_backend *b, const fer_pad2d_args *a, const float *x,
                                float *y);
    fer_status (*pad2d_backward)(fer_backend *b, const fer_pad2d_args *a, const float *dy,
                                 float *dx);

    /* heads */
    /* y[r,:] = x[r,:] / max(||x[r,:]||, 1e-12) (F.normalize); norms[r] saved for backward */
    fer_status (*l2norm_rows_forward)(fer_backend *b, int rows, int dim, const float *x, float *y,
                                      float *norms);
    fer_status (*l2norm_rows_backward)(fer_backend *b, int rows, int dim, const float *x,
                                       const float *norms, const float *dy, float *dx);
    /* labels == NULL: inference, logits = s*clamp(cos) */
    fer_status (*arcface_forward)(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                  const int32_t *labels, float *logits);
    fer_status (*arcface_backward)(fer_backend *b, const fer_arcface_args *a, const float *cos,
                                   const int32_t *labels, const float *dlogits, float *dcos);
    /* loss: writes the mean loss to *loss_host and d(mean loss)/dlogits to dlogits */
    fer_status (*loss_forward_backward)(fer_backend *b, const fer_loss_args *a,
                                        const float *logits, const int32_t *labels,
                                        const float *class_weights, float *loss_host,
                                        float *dlogits);
    fer_status (*softmax_rows)(fer_backend *b, int rows, int cols, const float *x, float *y);

    /* optimisation */
    fer_status (*optimizer_step)(fer_backend *b, const fer_optim_args *a, size_t n, float *param,
                                 const float *grad, float *m, float *v);
    fer_status (*sum_squares)(fer_backend *b, size_t n, const float *x, double *out_host);
    fer_status (*scale)(fer_backend *b, size_t n, float *x, float alpha);

    /* optional (NULL when not offered; callers then crop on the host with fer_crop_face_48):
     * crops, resizes and normalises n faces into x[n,1,48,48] with the math of
     * fer_crop_face_48 + fer_normalize_pixel (fer/preprocess_math.h). frame (stride * h bytes)
     * and boxes (n x 4 int32: x, y, w, h in frame pixels) are backend memory. */
    fer_status (*crop_faces_48)(fer_backend *b, const fer_face_batch_args *a,
                                const uint8_t *frame, const int32_t *boxes, float *x);
} fer_backend_ops;

struct fer_backend {
    const fer_backend_ops *ops;
    void *ctx;              /* backend private state */
    char name[16];          /* "ref", "cpu", "cuda" */
    char note[160];         /* one informative line, e.g. why auto fell back to cpu */
    int threads;
    fer_threadpool *pool;   /* host worker pool (also lent to data augmentation) */
    fer_precision precision;
    /* 1: the model runs a ReLU that follows a batch norm or an add inside that node: the batch
     * norm ops honour fer_bn_args.relu, and ops->add_relu exists (tests clear it to compare) */
    int fuses_relu;
    /* 1: batchnorm_forward honours fer_bn_args.pool (tests clear it to compare) */
    int fuses_pool;
};

/* name: "auto" (cuda when a device answers, else cpu), "ref", "cpu", "cuda".
 * threads <= 0: all cores. "cuda" without a device: FER_ERR_NODEVICE with a clear message. */
fer_status fer_backend_new(const char *name, int threads, fer_backend **out);
void fer_backend_free(fer_backend *b);
const char *fer_backend_name(const fer_backend *b);
/* "" or one line the caller should log (e.g. "no CUDA device found; using cpu"). */
const char *fer_backend_note(const fer_backend *b);
fer_threadpool *fer_backend_threadpool(fer_backend *b);
/* FER_ERR_UNSUPPORTED when the backend has no reduced-precision path. */
fer_status fer_backend_set_precision(fer_backend *b, fer_precision p);
/* 1 when the CUDA backend is compiled in and at least one device answers (no CUDA call otherwise). */
int fer_cuda_device_count(void);
/* Names of the compiled-in backends, NULL-terminated. */
const char *const *fer_backend_list(void);

/* Backend constructors, one per backend file; used by fer_backend_new and by tests. */
fer_status fer_backend_ref_new(int threads, fer_backend **out);
fer_status fer_backend_cpu_new(int threads, fer_backend **out);
fer_status fer_backend_cuda_new(int threads, fer_backend **out); /* FER_ERR_UNSUPPORTED if not built */

#ifdef __cplusplus
}
#endif
#endif
