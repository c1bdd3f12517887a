/* Internal layout of fer_model, shared by model.c, heads.c, optim.c and checkpoint.c. */
#ifndef FER_MODEL_INTERNAL_H
#define FER_MODEL_INTERNAL_H
#include "arch_internal.h"
#include "fer/model.h"

/* Calls op `name` of backend b, failing cleanly when the backend lacks it. */
#define FER_OP(b, op, ...)                                                                     \
    ((b)->ops->op ? (b)->ops->op((b), __VA_ARGS__)                                             \
                    : fer_fail(FER_ERR_UNSUPPORTED, "backend %s: no %s op", (b)->name, #op))

#define FER_TRY(expr)                                                                          \
    do {                                                                                       \
        fer_status st_ = (expr);                                                               \
        if (st_ != FER_OK)                                                                     \
            return st_;                                                                        \
    } while (0)

typedef struct fer_tensor {
    fer_tensor_info info;
    float *data; /* backend memory inside the param or buffer arena */
    float *grad; /* PARAM only: same offset in the grad arena */
    size_t offset; /* floats from the start of its arena */
} fer_tensor;

typedef struct fer_layer_rt {
    fer_layer_spec spec;
    int n_in;
    int src[FER_MAX_INPUTS];    /* producing node of each input, FER_INPUT_NODE: the input */
    fer_shape ins[FER_MAX_INPUTS];
    fer_shape in, out;          /* in: ins[0] */
    size_t in_numel, out_numel; /* per sample (in: of input 0) */
    /* backward plan (model.c): the gradient buffer of this node's output, where each input's
     * gradient is written and, when that input feeds several nodes, the buffer it is added to */
    int dy_slot;
    int dx_slot[FER_MAX_INPUTS], dx_add[FER_MAX_INPUTS]; /* -1: none */
    int t_weight, t_bias, t_running_mean, t_running_var, t_nbt; /* tensor index or -1 */
    float *y;                   /* output activation (aliases the input for relu and flatten) */
    float *save_mean, *save_invstd; /* batchnorm, training forward */
    int32_t *argmax;            /* maxpool */
    uint64_t dropout_seed;      /* dropout: seed of the last training forward */
    /* model.c plan_fusions: a batch norm or add that runs the in-place ReLU after it
     * (relu_fused), and that ReLU, whose forward it then does (absorbed) and, after a batch
     * norm, whose backward too (absorbed_grad) */
    int relu_fused, absorbed, absorbed_grad;
    /* plan_fusions: a 2D batch norm whose output (after its fused ReLU) only a 2x2 stride-2
     * max pool reads: that pool's node (-1: none), whose forward it then does; the pool node's
     * pool_absorbed is 1 */
    int pool_into, pool_absorbed;
} fer_layer_rt;

struct fer_model {
    fer_arch arch;
    fer_backend *b;
    int max_batch;
    fer_layer_rt layers[FER_MAX_LAYERS];
    int n_tensors;
    fer_tensor *tensors;
    int t_head_weight, t_head_bias;
    int feat_dim;

    float *params, *grads, *buffers; /* arenas (backend memory) */
    size_t n_param_floats, n_buffer_floats;
    void *acts;                      /* activation arena */

    float *x0;                       /* input batch */
    int n_grad_slots;
    float **grad_slots;              /* gradient buffers of max_batch * max_numel, reused */
    float *logits, *dlogits;         /* max_batch * classes */
    float *xnorm, *xnorms, *wnorm, *wnorms, *cos, *dcos, *dxnorm, *dwnorm; /* arcface */
    int32_t *labels;
    float *class_weights;            /* FER_MAX_CLASSES */
    float *targets;                  /* max_batch * classes: soft targets of the loss */
    float *logit_offset;             /* FER_MAX_CLASSES */

    /* synchronised batch norm (bn_sync.c); bn_sum NULL when off */
    fer_sum_fn bn_sum;
    void *bn_sum_ctx;
    float *bn_scratch;  /* backend memory: 3 x bn_max_c floats */
    double *bn_host;    /* host: 3 x bn_max_c + 1 doubles, then 8 x bn_max_c floats */
    int bn_max_c;
    double bn_share;    /* this process's share of the global batch (last training forward) */
    long sample_offset; /* fer_model_set_sample_offset: the batch's place in the global batch */

    int features_frozen; /* cRT: layers below the head fixed (fer_model_freeze_features) */
    int folded; /* fer_model_fold's inference copy: EVAL forward only */
    /* A folded model's weight generation (fer_conv2d_args.weights_gen), unique in the process
     * and renewed by every call that can change its weights (fer_model_weights_changed);
     * 0 for a trainable model, whose weights the optimiser rewrites each step. */
    uint64_t weights_gen;
    /* fer_model_fold_lean: node outputs share memory once their readers ran (only the graph
     * output stays readable after a forward); no gradient buffers */
    int share_activations;
    int last_n;
    fer_mode last_mode;
    int have_forward, have_loss, have_labels;
};

int fer_model_find_tensor(const fer_model *m, const char *name);
/* A malloc'd host copy of tensor `name` (*numel floats; free() it). `who` prefixes the errors
 * (the caller's step, e.g. "fold"). */
fer_status fer_model_tensor_to_host(fer_model *m, const char *name, const char *who, float **out,
                                    size_t *numel);
/* Call after anything that may change m's weights: a folded model takes a new generation
 * (model.c), so the backend derives its weight caches afresh. */
void fer_model_weights_changed(fer_model *m);
/* Marks fer_model_fold's copy (inference only) and drops its max-pool fusions: quant.c runs
 * a folded model's nodes one at a time, so each must write its own output. */
void fer_model_set_folded(fer_model *m);
/* fer_model_new with share_activations set before the memory is planned (fold.c). */
fer_status fer_model_new_shared(const fer_arch *arch, fer_backend *backend, int max_batch,
                                fer_model **out);

/* heads.c: logits from m->layers[last].y; dfeat written to `dfeat`. */
fer_status fer_head_forward(fer_model *m, const float *feat, int n, fer_mode mode);
fer_status fer_head_backward(fer_model *m, const float *feat, int n, float *dfeat);
#endif
