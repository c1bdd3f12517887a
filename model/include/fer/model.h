/* A network instance on a backend: parameters, gradients, activations (one arena each),
 * forward/backward for a batch, the loss, and gradient clipping.
 *
 * Tensor names are PyTorch-like and stable ("layers.0.weight", "layers.1.running_mean",
 * "head.weight", ...) so golden fixtures and checkpoints address tensors by name. */
#ifndef FER_MODEL_H
#define FER_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "fer/arch.h"
#include "fer/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_model fer_model;

typedef enum fer_tensor_role {
    FER_TENSOR_PARAM = 0, /* trained: has a gradient and optimiser state */
    FER_TENSOR_BUFFER     /* BN running statistics (and num_batches_tracked as float) */
} fer_tensor_role;

typedef struct fer_tensor_info {
    char name[64];
    fer_tensor_role role;
    int ndim;
    int shape[4];
    size_t numel;
} fer_tensor_info;

typedef enum fer_mode { FER_MODE_EVAL = 0, FER_MODE_TRAIN = 1 } fer_mode;

typedef struct fer_loss_config {
    fer_loss_kind kind;
    float gamma;            /* focal, default 2 */
    float label_smoothing;  /* default 0 */
    int use_class_weights;  /* wce always; focal when set */
    float class_weights[FER_MAX_CLASSES];
    /* Logit adjustment during the loss only (training): the loss sees logits + logit_offset
     * (tau * log prior: logit-adjusted loss; log prior: Balanced Softmax). Inference logits
     * are unchanged. */
    int use_logit_offset;
    float logit_offset[FER_MAX_CLASSES];
} fer_loss_config;

/* max_batch: the largest batch forward() will see (activation arena size). */
fer_status fer_model_new(const fer_arch *arch, fer_backend *backend, int max_batch,
                         fer_model **out);
void fer_model_free(fer_model *m);
const fer_arch *fer_model_arch(const fer_model *m);
fer_backend *fer_model_backend(fer_model *m);

/* PyTorch's default initialisation rules (kaiming_uniform(a=sqrt(5)) weights, uniform biases,
 * BN gamma 1 beta 0, running 0/1, arcface xavier_uniform), two sources of randomness:
 * fer_model_init: counter-based streams keyed by (seed, tensor, index) (fer/rng_math.h);
 * fer_model_init_pytorch: PyTorch's own draws, bit for bit: the weights
 *   `torch.manual_seed(seed)` then building the same network in PyTorch gives (the low 32 bits
 *   of seed, as PyTorch; tensors in construction order = this model's tensor order). */
fer_status fer_model_init(fer_model *m, uint64_t seed);
fer_status fer_model_init_pytorch(fer_model *m, uint64_t seed);

size_t fer_model_param_count(const fer_model *m); /* trained scalars */
int fer_model_n_tensors(const fer_model *m);
fer_status fer_model_tensor_info(const fer_model *m, int i, fer_tensor_info *out);
fer_status fer_model_get_tensor(fer_model *m, const char *name, float *host, size_t numel);
fer_status fer_model_set_tensor(fer_model *m, const char *name, const float *host, size_t numel);
/* gradient of a PARAM tensor, after fer_model_backward */
fer_status fer_model_get_grad(fer_model *m, const char *name, float *host, size_t numel);

/* x_host: n x in_c x in_h x in_w normalised floats. labels_host is needed in TRAIN mode for the
 * arcface head (margin on the true class), ignored otherwise. logits_host (n x classes) may be
 * NULL. dropout_seed makes the dropout mask reproducible (any value in EVAL mode). */
fer_status fer_model_forward(fer_model *m, const float *x_host, int n, fer_mode mode,
                             const int32_t *labels_host, uint64_t dropout_seed,
                             float *logits_host);
/* After a forward pass of n samples: the graph's output vector, which the head reads (per
 * sample fer_model_feature_size floats), into host (n x that many). Networks whose output is
 * not a classification use it (the face detector's anchor scores and boxes). */
size_t fer_model_feature_size(const fer_model *m);
fer_status fer_model_get_features(fer_model *m, float *host, size_t numel);
/* After a TRAIN forward: mean loss over the batch and d loss / d logits. */
fer_status fer_model_loss(fer_model *m, const fer_loss_config *cfg, const int32_t *labels_host,
                          float *loss_out);
/* As fer_model_loss with soft targets: targets_host is n x classes, each row a distribution
 * (finite, >= 0, sums to 1 within 1e-4). Loss = sum_i sum_j -w_j t'_ij log softmax(z_i)_j /
 * sum_i sum_j w_j t_ij with t' = (1 - eps) t + eps / classes (w = 1 without class weights:
 * the plain batch mean); one-hot rows give fer_model_loss exactly. CE/WCE only: focal is
 * FER_ERR_ARG. */
fer_status fer_model_loss_soft(fer_model *m, const fer_loss_config *cfg,
                               const float *targets_host, float *loss_out);
/* After a TRAIN forward, a loss computed outside the backends (fer-train's LDAM and
 * distillation, on the host from the downloaded logits): dlogits_host (n x classes, finite) is
 * d(mean loss)/d logits and takes the place of fer_model_loss's. */
fer_status fer_model_loss_grad(fer_model *m, const float *dlogits_host);
/* Gradients of every PARAM tensor (overwritten). */
fer_status fer_model_backward(fer_model *m);
/* Classifier re-training on frozen features (cRT, fer-train --crt). With frozen set, every
 * layer below the head is fixed: a TRAIN forward runs the layers as EVAL does (batch norm
 * normalises with its running statistics and leaves them alone, dropout is off) and only the
 * head sees TRAIN mode; fer_model_backward computes the head's gradients and stops at its
 * input; the frozen parameters' gradients read 0 (clipping measures the head alone) and
 * fer_optimizer_step updates the head's parameters only. frozen 0 undoes it. */
fer_status fer_model_freeze_features(fer_model *m, int frozen);
int fer_model_features_frozen(const fer_model *m);
/* Floats at the start of the parameter arena that the optimiser leaves alone (the frozen
 * layers'; 0 when nothing is frozen). */
size_t fer_model_frozen_param_floats(const fer_model *m);

/* Global L2 norm clipping over all gradients (torch.nn.utils.clip_grad_norm_); max_norm <= 0
 * only measures. */
fer_status fer_model_clip_grad_norm(fer_model *m, float max_norm, float *total_norm_out);

/* An inference copy of m (same weights) on backend b for batches up to max_batch, with batch
 * norm folded away: every conv2d whose only reader is a batchnorm2d takes it into its weights
 * and bias (w * gamma / sqrt(var + eps), beta + (b - mean) * gamma / sqrt(var + eps)), and an
 * activation that is then the conv's only reader runs inside the conv node. The copy computes
 * m's eval-mode logits within float rounding; it runs EVAL forward passes only. *n_folded (may
 * be NULL) counts the nodes removed. */
fer_status fer_model_fold(fer_model *m, fer_backend *b, int max_batch, fer_model **out,
                          int *n_folded);
/* As fer_model_fold, but node outputs share memory once everything reading them ran, so only
 * the graph output (fer_model_get_features) and the logits stay readable after a forward
 * pass; no gradient buffers. A deep net needs a few of its largest outputs instead of all of
 * them (BlazeFace: 73 MB -> a few MB per image). The face detector uses it. */
fer_status fer_model_fold_lean(fer_model *m, fer_backend *b, int max_batch, fer_model **out,
                               int *n_folded);
/* A folded model's weights are meant to stay as folded: its convolutions pass the backend a
 * weight generation (fer_conv2d_args.weights_gen), so the cpu backend reuses its packed
 * weights without hashing them on every batch-1 call. fer_model_set_tensor, fer_model_init*,
 * a checkpoint load and fer_model_param_arena / fer_model_buffer_arena start a new
 * generation: write through an arena pointer only before the next forward pass, or ask for
 * the pointer again after writing. */
/* 1 for a model from fer_model_fold. */
int fer_model_is_folded(const fer_model *m);
/* ReLU nodes that run inside the batch norm before them: a ReLU in place on a batch norm's
 * output that nothing else reads, on a backend with fuses_relu (the cpu backend). The
 * results are the same bits as running the two nodes apart. */
int fer_model_fused_relus(const fer_model *m);
/* 2x2 stride-2 max pools that run inside the 2D batch norm before them (the only reader of its
 * output, after an in-place ReLU or not), on a backend with fuses_pool (the cpu backend), in
 * models that are not folded (fer_model_set_folded drops them). The same bits as running the
 * nodes apart. */
int fer_model_fused_pools(const fer_model *m);

/* Synchronised batch norm for data-parallel training (fer-train under mpirun, issue 23).
 * With sum set, the training forward of every batch-norm layer takes the mean and variance of
 * the images of all processes together, and backward the sums of dy and dy * xhat: sum adds
 * `count` doubles over every process in place, and every process runs the same layers, so the
 * calls match up. The trainer then combines the processes' gradients weighted by their share
 * of the global batch (n_local / n_global), as the mean loss over the global batch does. A
 * process with no images in a step calls fer_model_bn_sync_empty_step instead of
 * forward/backward. sum NULL: off (one process). */
typedef fer_status (*fer_sum_fn)(void *ctx, double *values, int count);
fer_status fer_model_set_bn_sync(fer_model *m, fer_sum_fn sum, void *ctx);
fer_status fer_model_bn_sync_empty_step(fer_model *m);
/* Data-parallel shards: sample k of the next training batches is sample first + k of the global
 * batch for the random draws (dropout masks), so a shard draws what the whole batch would.
 * 0 (the default): the batch is the whole batch. */
void fer_model_set_sample_offset(fer_model *m, long first);

/* Internal views used by the optimiser and checkpoint code. */
float *fer_model_param_arena(fer_model *m, size_t *n_floats); /* backend memory */
float *fer_model_grad_arena(fer_model *m, size_t *n_floats);  /* same layout as params */
float *fer_model_buffer_arena(fer_model *m, size_t *n_floats);

#ifdef __cplusplus
}
#endif
#endif
