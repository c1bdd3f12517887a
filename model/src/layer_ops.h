/* The layer table: one entry per layer kind holds everything the model module knows about it,
 * from its JSON fields to its backward pass (as kann and ggml keep an operator in one place).
 * arch.c reads the description half (JSON, validation with shape inference and costs), model.c
 * and init.c the runtime half (tensors, activation memory, forward, backward, fan-in). Adding a
 * layer kind is adding one entry in layers.c. */
#ifndef FER_LAYER_OPS_H
#define FER_LAYER_OPS_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "model_internal.h"

/* What one layer adds to a network (fer_arch_sizes sums these). */
typedef struct fer_layer_cost {
    long long params, buffers, macs;
    int tensors;
} fer_layer_cost;

/* Carves the activation arena: with base NULL it only measures. */
typedef struct fer_act_plan {
    char *base;
    size_t cursor;
    size_t batch;
} fer_act_plan;

/* Bytes from the arena, 64-byte aligned; NULL while measuring. */
void *fer_act_take(fer_act_plan *p, size_t bytes);

/* How backward hands the gradient to its first input: into a fresh buffer, over dy itself
 * (element-wise layers, add), or not at all (flatten: same memory, same gradient). Inputs after
 * the first always get a fresh buffer. model.c plans the buffers and sums the gradients of a
 * tensor that feeds several nodes. */
typedef enum fer_grad_memory { FER_GRAD_NEW, FER_GRAD_IN_PLACE, FER_GRAD_SHARED } fer_grad_memory;

typedef struct fer_layer_op {
    const char *type;        /* JSON "type" and the name in messages */
    const char *const *keys; /* JSON fields besides "type", NULL-terminated */
    int image_input;         /* needs C x H x W (refused after flatten) */
    int flat_input;          /* needs a flattened feature vector */
    int min_inputs, max_inputs;
    fer_grad_memory grad;
    float weight_fill;       /* value of a constant-initialised weight (fan_in NULL): BN, prelu */

    /* JSON fields -> spec, defaults for absent ones (NULL: no fields). node names the node in
     * messages ("layer 3" or "layer 3 'b1_conv'"). */
    fer_status (*parse)(const cJSON *jl, const char *origin, const char *node, fer_layer_spec *l);
    /* spec -> JSON fields (NULL: no fields) */
    void (*print)(const fer_layer_spec *l, cJSON *jl);
    /* 1 when two specs of this kind are the same layer (NULL: always) */
    int (*same)(const fer_layer_spec *a, const fer_layer_spec *b);
    /* Checks the fields against the caps of fer/arch.h and infers the output shape and what the
     * layer costs; in[0..n_in-1] are valid shapes (n_in within min/max_inputs). Every product
     * is formed in long long from bounded fields, so nothing can wrap. */
    fer_status (*infer)(const fer_layer_spec *l, const fer_shape *in, int n_in, const char *origin,
                        const char *node, fer_shape *out, fer_layer_cost *cost);

    /* Declares the layer's tensors in PyTorch state_dict order (NULL: none). */
    fer_status (*declare)(fer_model *m, int i, int *cap);
    /* fan-in of its weight and bias for initialisation (0: constants, as batch norm) */
    int (*fan_in)(const fer_layer_rt *l);
    /* Places l->y and what forward saves for backward; in0 is the first input's activation,
     * which the layer may overwrite (run in place) only when in0_exclusive (no other reader). */
    void (*plan)(fer_layer_rt *l, fer_act_plan *p, float *in0, int in0_exclusive);
    fer_status (*forward)(fer_model *m, int i, const float *const *x, int n, int train,
                          uint64_t dropout_seed);
    /* dx[k] is the gradient of input k, NULL when not needed (the network input); dx[0] == dy
     * for FER_GRAD_IN_PLACE when the planner gave it dy's buffer */
    fer_status (*backward)(fer_model *m, int i, int n, const float *const *x, const float *dy,
                           float *const *dx);
} fer_layer_op;

/* The entry of a kind, or NULL for a value outside the enum. */
const fer_layer_op *fer_layer_op_of(fer_layer_kind kind);
/* The kind whose type is `type`; -1 when none. */
int fer_layer_kind_named(const char *type);

/* model.c: appends tensor `name` to m's table; its index, or -1 out of memory. */
int fer_model_add_tensor(fer_model *m, int *cap, const char *name, fer_tensor_role role, int ndim,
                         const int *shape);
#endif
