/* fer_model: tensor table, the three arenas (parameters + gradients, buffers, activations),
 * initialisation, forward/backward orchestration over the backend ops, loss and clipping. */
#include "fer/model.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bn_sync.h"
#include "layer_ops.h"
#include "model_internal.h"

#define PARAM_PAD 16 /* floats: every tensor starts 64-byte aligned */

static size_t pad_floats(size_t n)
{
    return (n + PARAM_PAD - 1) / PARAM_PAD * PARAM_PAD;
}

/* ---- tensor table --------------------------------------------------------------------- */

int fer_model_add_tensor(fer_model *m, int *cap, const char *name, fer_tensor_role role, int ndim,
                         const int *shape)
{
    if (m->n_tensors == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        fer_tensor *nt = realloc(m->tensors, (size_t)nc * sizeof *nt);
        if (!nt)
            return -1;
        m->tensors = nt;
        *cap = nc;
    }
    fer_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->info.name, sizeof t->info.name, "%s", name);
    t->info.role = role;
    t->info.ndim = ndim;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->info.shape[d] = shape[d];
        numel *= (size_t)shape[d];
    }
    t->info.numel = numel;
    return m->n_tensors++;
}

static fer_status build_tensor_table(fer_model *m)
{
    int cap = 0;
    for (int i = 0; i < m->arch.n_layers; i++) {
        fer_layer_rt *l = &m->layers[i];
        l->t_weight = l->t_bias = l->t_running_mean = l->t_running_var = l->t_nbt = -1;
        const fer_layer_op *op = fer_layer_op_of(l->spec.kind);
        if (op->declare)
            FER_TRY(op->declare(m, i, &cap));
    }
    int hs[2] = {m->arch.n_classes, m->feat_dim};
    m->t_head_weight = fer_model_add_tensor(m, &cap, "head.weight", FER_TENSOR_PARAM, 2, hs);
    m->t_head_bias = -1;
    if (m->arch.head == FER_HEAD_SOFTMAX)
        m->t_head_bias = fer_model_add_tensor(m, &cap, "head.bias", FER_TENSOR_PARAM, 1,
                                              &m->arch.n_classes);
    if (m->t_head_weight < 0 || (m->arch.head == FER_HEAD_SOFTMAX && m->t_head_bias < 0))
        return fer_fail(FER_ERR_NOMEM, "model: out of memory");
    /* arena offsets */
    size_t pofs = 0, bofs = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        fer_tensor *tt = &m->tensors[t];
        if (tt->info.role == FER_TENSOR_PARAM) {
            tt->offset = pofs;
            pofs += pad_floats(tt->info.numel);
        } else {
            tt->offset = bofs;
            bofs += pad_floats(tt->info.numel);
        }
    }
    m->n_param_floats = pofs;
    m->n_buffer_floats = bofs;
    return FER_OK;
}

int fer_model_find_tensor(const fer_model *m, const char *name)
{
    for (int t = 0; t < m->n_tensors; t++)
        if (strcmp(m->tensors[t].info.name, name) == 0)
            return t;
    return -1;
}

fer_status fer_model_tensor_to_host(fer_model *m, const char *name, const char *who, float **out,
                                    size_t *numel)
{
    *out = NULL;
    int t = fer_model_find_tensor(m, name);
    if (t < 0)
        return fer_fail(FER_ERR_ARG, "%s: no tensor '%s'", who, name);
    *numel = m->tensors[t].info.numel;
    *out = malloc((*numel ? *numel : 1) * sizeof(float));
    if (!*out)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", who);
    fer_status st = fer_model_get_tensor(m, name, *out, *numel);
    if (st != FER_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- activation arena ----------------------------------------------------------------- */

/* 1 when nothing but node `reader` reads the output of node j (FER_INPUT_NODE: the input) and
 * the memory behind it, so reader may overwrite it. */
static int exclusive_reader(const fer_model *m, int j, int reader)
{
    for (;;) {
        for (int i = 0; i < m->arch.n_layers; i++)
            for (int k = 0; k < m->layers[i].n_in; k++)
                if (m->layers[i].src[k] == j && i != reader)
                    return 0;
        if (j == FER_INPUT_NODE)
            return 1;
        /* an output that is a view of its input (flatten, relu in place) shares its memory */
        const fer_layer_rt *l = &m->layers[j];
        if (l->n_in != 1 || l->y != (l->src[0] == FER_INPUT_NODE ? m->x0
                                                                  : m->layers[l->src[0]].y))
            return 1;
        reader = j;
        j = l->src[0];
    }
}

/* The backward pass's gradient buffers ("slots" of max_batch * max_numel floats), planned once:
 * walking the nodes backwards, a node's output gradient lives in a slot from the first (last in
 * order) consumer's backward to its own. The first input of a FER_GRAD_IN_PLACE / SHARED node
 * takes over dy's slot; other inputs get a free slot. An input whose gradient already lives
 * somewhere (it feeds several nodes) is written to a temporary slot and added there. A straight
 * stack needs two slots, as the ping-pong it replaces; each open skip connection one more. */
static int plan_gradients(fer_model *m)
{
    int L = m->arch.n_layers, n_slots = 0, n_free = 0;
    int owner[FER_MAX_LAYERS], free_slots[FER_MAX_LAYERS * (FER_MAX_INPUTS + 1)];
#define TAKE_SLOT() (n_free ? free_slots[--n_free] : n_slots++)
    for (int i = 0; i < L; i++)
        owner[i] = -1;
    owner[L - 1] = TAKE_SLOT(); /* the head writes d loss / d features here */
    for (int i = L - 1; i >= 0; i--) {
        fer_layer_rt *l = &m->layers[i];
        const fer_layer_op *op = fer_layer_op_of(l->spec.kind);
        int s = owner[i], keep_s = 0, temps[FER_MAX_INPUTS], n_temps = 0;
        l->dy_slot = s;
        for (int k = 0; k < l->n_in; k++) {
            int j = l->src[k];
            l->dx_slot[k] = l->dx_add[k] = -1;
            if (j == FER_INPUT_NODE)
                continue; /* no gradient for the data */
            if (k == 0 && op->grad != FER_GRAD_NEW) {
                l->dx_slot[k] = s;
                if (owner[j] < 0)
                    owner[j] = s, keep_s = 1;
                else
                    l->dx_add[k] = owner[j];
            } else if (owner[j] < 0) {
                owner[j] = l->dx_slot[k] = TAKE_SLOT();
            } else {
                l->dx_slot[k] = temps[n_temps++] = TAKE_SLOT();
                l->dx_add[k] = owner[j];
            }
        }
        while (n_temps)
            free_slots[n_free++] = temps[--n_temps];
        if (!keep_s)
            free_slots[n_free++] = s;
    }
#undef TAKE_SLOT
    return n_slots;
}

/* A 2x2 stride-2 max pool that alone reads a 2D batch norm's output (directly, or through the
 * ReLU in place after it): the batch norm pools each output plane while it is in cache instead
 * of writing the plane for the pool to read back, two full-size memory passes fewer (SimpleCNN
 * has three). Nothing else needs that output: the batch norm's backward reads its input, the
 * pool's its argmax. A ReLU between them must be absorbed by the batch norm, forward and
 * backward (its backward would read the unwritten output). Planned after the ReLU fusion. */
static void plan_pool_fusions(fer_model *m)
{
    if (!m->b->fuses_pool)
        return;
    for (int q = 0; q < m->arch.n_layers; q++) {
        fer_layer_rt *pl = &m->layers[q];
        if (pl->spec.kind != FER_LAYER_MAXPOOL2D || pl->n_in != 1 || pl->spec.k != 2 ||
            pl->spec.stride != 2 || pl->src[0] == FER_INPUT_NODE)
            continue;
        int s = pl->src[0], bn = s;
        const fer_layer_rt *src = &m->layers[s];
        if (src->spec.kind == FER_LAYER_RELU) {
            if (!src->absorbed_grad)
                continue;
            bn = src->src[0]; /* absorbed_grad: in place on a batch norm that runs it */
        }
        /* the readers of s and, through the in-place ReLU, of the batch norm's output */
        if (m->layers[bn].spec.kind != FER_LAYER_BATCHNORM2D || !exclusive_reader(m, s, q))
            continue;
        m->layers[bn].pool_into = q;
        pl->pool_absorbed = 1;
    }
}

/* A ReLU that runs in place on the output of a batch norm or an add, which nothing else reads:
 * that node applies it in its own output pass, one streaming pass fewer. After a batch norm,
 * whose gradient stays in its output gradient's slot, the batch norm's backward passes also
 * gate the incoming gradient (the sign recomputed from the batch norm's input), so the ReLU's
 * backward pass goes too. Only on backends that say so (fer_backend.fuses_relu). */
static void plan_fusions(fer_model *m)
{
    for (int i = 0; i < m->arch.n_layers; i++) {
        m->layers[i].relu_fused = m->layers[i].absorbed = m->layers[i].absorbed_grad = 0;
        m->layers[i].pool_into = -1;
        m->layers[i].pool_absorbed = 0;
    }
    if (!m->b->fuses_relu)
        return;
    for (int i = 0; i < m->arch.n_layers; i++) {
        fer_layer_rt *r = &m->layers[i];
        if (r->spec.kind != FER_LAYER_RELU || r->n_in != 1 || r->src[0] == FER_INPUT_NODE)
            continue;
        fer_layer_rt *p = &m->layers[r->src[0]];
        if (r->y != p->y || !exclusive_reader(m, r->src[0], i))
            continue;
        if (p->spec.kind == FER_LAYER_BATCHNORM2D || p->spec.kind == FER_LAYER_BATCHNORM1D) {
            if (r->dx_slot[0] != r->dy_slot || r->dx_add[0] >= 0)
                continue;
            p->relu_fused = r->absorbed = r->absorbed_grad = 1;
        } else if (p->spec.kind == FER_LAYER_ADD && m->b->ops->add_relu) {
            p->relu_fused = r->absorbed = 1;
        }
    }
    plan_pool_fusions(m);
}

void fer_model_set_folded(fer_model *m)
{
    m->folded = 1;
    for (int i = 0; i < m->arch.n_layers; i++) {
        m->layers[i].pool_into = -1;
        m->layers[i].pool_absorbed = 0;
    }
}

int fer_model_fused_pools(const fer_model *m)
{
    int n = 0;
    for (int i = 0; i < m->arch.n_layers; i++)
        n += m->layers[i].pool_absorbed;
    return n;
}

int fer_model_fused_relus(const fer_model *m)
{
    int n = 0;
    for (int i = 0; i < m->arch.n_layers; i++)
        n += m->layers[i].absorbed;
    return n;
}

/* Arena blocks free for reuse while planning shared activations (offsets, 64-byte units). */
typedef struct free_blocks {
    size_t off[FER_MAX_LAYERS + 1], size[FER_MAX_LAYERS + 1];
    int n;
} free_blocks;

/* First fit, else the top of the arena (p->cursor). */
static size_t take_block(free_blocks *fb, fer_act_plan *p, size_t bytes)
{
    for (int i = 0; i < fb->n; i++)
        if (fb->size[i] >= bytes) {
            size_t at = fb->off[i];
            fb->off[i] += bytes;
            fb->size[i] -= bytes;
            return at;
        }
    size_t at = p->cursor;
    p->cursor += bytes;
    return at;
}

/* Returns a block, merged with free neighbours; a full list drops the block (never reused). */
static void give_block(free_blocks *fb, size_t off, size_t bytes)
{
    for (int i = 0; i < fb->n; i++) {
        if (fb->off[i] + fb->size[i] == off) {
            fb->size[i] += bytes;
            return;
        }
        if (off + bytes == fb->off[i]) {
            fb->off[i] = off;
            fb->size[i] += bytes;
            return;
        }
    }
    if (fb->n < FER_MAX_LAYERS + 1) {
        fb->off[fb->n] = off;
        fb->size[fb->n++] = bytes;
    }
}

/* The node whose fresh buffer node i's output lives in (views and in-place nodes share their
 * input's), FER_INPUT_NODE for the input's; from a measuring pass's stand-in addresses. */
static int memory_root(const fer_model *m, int i)
{
    while (i != FER_INPUT_NODE) {
        const fer_layer_rt *l = &m->layers[i];
        const float *in0 = l->src[0] == FER_INPUT_NODE ? m->x0 : m->layers[l->src[0]].y;
        if (l->y != in0)
            return i;
        i = l->src[0];
    }
    return FER_INPUT_NODE;
}

/* Shared activations (after a plain measuring pass set the stand-ins): each fresh output (with
 * what its plan takes besides) is one block, handed back after the last reader of its memory;
 * the graph output's block is kept. base NULL: measures again, leaving stand-ins. */
static void plan_shared(fer_model *m, fer_act_plan *p, char *base)
{
    int L = m->arch.n_layers, root[FER_MAX_LAYERS], last_use[FER_MAX_LAYERS];
    size_t block_off[FER_MAX_LAYERS], block_bytes[FER_MAX_LAYERS];
    for (int i = 0; i < L; i++) {
        root[i] = memory_root(m, i);
        last_use[i] = i;
    }
    for (int i = 0; i < L; i++)
        for (int k = 0; k < m->layers[i].n_in; k++) {
            int s = m->layers[i].src[k];
            int r = s == FER_INPUT_NODE ? FER_INPUT_NODE : root[s];
            if (r != FER_INPUT_NODE && last_use[r] < i)
                last_use[r] = i;
        }
    if (root[L - 1] != FER_INPUT_NODE)
        last_use[root[L - 1]] = L; /* the output outlives the forward pass */
    for (int i = 0; i < L; i++)
        if (root[i] != FER_INPUT_NODE && last_use[root[i]] < last_use[i])
            last_use[root[i]] = last_use[i];
    free_blocks fb = {.n = 0};
    for (int i = 0; i < L; i++) {
        fer_layer_rt *l = &m->layers[i];
        const fer_layer_op *op = fer_layer_op_of(l->spec.kind);
        float *in0 = l->src[0] == FER_INPUT_NODE ? m->x0 : m->layers[l->src[0]].y;
        int excl = exclusive_reader(m, l->src[0], i);
        fer_act_plan probe = {NULL, 0, p->batch};
        float *keep_y = l->y;
        op->plan(l, &probe, in0, excl); /* how much it takes; 0: a view of its input */
        block_bytes[i] = probe.cursor;
        if (probe.cursor == 0) {
            if (!base)
                l->y = keep_y; /* the measuring pass's own view */
        } else {
            block_off[i] = take_block(&fb, p, probe.cursor);
            fer_act_plan at = {base ? base + block_off[i] : NULL, 0, p->batch};
            op->plan(l, &at, in0, excl);
            if (!base)
                l->y = keep_y; /* keep the stand-in: views below compare addresses */
        }
        for (int j = 0; j <= i; j++) /* blocks whose memory nothing reads after node i */
            if (root[j] == j && block_bytes[j] > 0 && last_use[j] == i)
                give_block(&fb, block_off[j], block_bytes[j]);
    }
}

/* With base == NULL only measures; otherwise assigns every activation pointer. */
static size_t plan_activations(fer_model *m, char *base)
{
    fer_act_plan p = {base, 0, (size_t)m->max_batch};
    size_t B = p.batch;
#define PLACE(field, type, count)                                                              \
    do {                                                                                       \
        type *at_ = fer_act_take(&p, (size_t)(count) * sizeof(type));                          \
        if (base)                                                                              \
            (field) = at_;                                                                     \
    } while (0)
    size_t in_numel = (size_t)m->arch.in_c * m->arch.in_h * m->arch.in_w;
    size_t max_numel = in_numel;
    /* while measuring, stand-in addresses keep the views and in-place layers apart */
    PLACE(m->x0, float, B * in_numel);
    if (!base)
        m->x0 = (float *)(uintptr_t)64;
    /* shared activations plan from a plain measuring pass's stand-ins (a scratch cursor) */
    fer_act_plan plain = {NULL, 0, p.batch};
    fer_act_plan *first = m->share_activations ? &plain : &p;
    for (int i = 0; i < m->arch.n_layers; i++) {
        fer_layer_rt *l = &m->layers[i];
        if (l->out_numel > max_numel)
            max_numel = l->out_numel;
        float *in0 = l->src[0] == FER_INPUT_NODE ? m->x0 : m->layers[l->src[0]].y;
        if (m->share_activations)
            l->y = NULL; /* measured afresh: stand-ins below */
        fer_layer_op_of(l->spec.kind)->plan(l, first, in0, exclusive_reader(m, l->src[0], i));
        if ((!base || m->share_activations) && !l->y) /* measuring: a distinct stand-in */
            l->y = (float *)(uintptr_t)(128 + 64 * (size_t)i);
    }
    if (m->share_activations)
        plan_shared(m, &p, base);
    size_t C = (size_t)m->arch.n_classes, D = (size_t)m->feat_dim;
    for (int k = 0; k < m->n_grad_slots && !m->share_activations; k++)
        PLACE(m->grad_slots[k], float, B * max_numel);
    PLACE(m->logits, float, B * C);
    PLACE(m->dlogits, float, B * C);
    PLACE(m->labels, int32_t, B);
    PLACE(m->class_weights, float, FER_MAX_CLASSES);
    PLACE(m->targets, float, B * C);
    PLACE(m->logit_offset, float, FER_MAX_CLASSES);
    if (m->arch.head == FER_HEAD_ARCFACE) {
        PLACE(m->xnorm, float, B * D);
        PLACE(m->xnorms, float, B);
        PLACE(m->wnorm, float, C * D);
        PLACE(m->wnorms, float, C);
        PLACE(m->cos, float, B * C);
        PLACE(m->dcos, float, B * C);
        PLACE(m->dxnorm, float, B * D);
        PLACE(m->dwnorm, float, C * D);
    }
#undef PLACE
    return p.cursor;
}

/* ---- lifetime ------------------------------------------------------------------------- */

static fer_status model_new(const fer_arch *arch, fer_backend *backend, int max_batch,
                            int share_activations, fer_model **out);

fer_status fer_model_new(const fer_arch *arch, fer_backend *backend, int max_batch,
                         fer_model **out)
{
    return model_new(arch, backend, max_batch, 0, out);
}

fer_status fer_model_new_shared(const fer_arch *arch, fer_backend *backend, int max_batch,
                                fer_model **out)
{
    return model_new(arch, backend, max_batch, 1, out);
}

static fer_status model_new(const fer_arch *arch, fer_backend *backend, int max_batch,
                            int share_activations, fer_model **out)
{
    *out = NULL;
    if (!arch || !backend)
        return fer_fail(FER_ERR_ARG, "model: no architecture or backend");
    if (max_batch < 1 || max_batch > 65536)
        return fer_fail(FER_ERR_ARG, "model: max_batch %d out of range 1..65536", max_batch);
    const char *origin = arch->name[0] ? arch->name : "<arch>";
    fer_shape shapes[FER_MAX_LAYERS];
    fer_arch_size_info sz;
    FER_TRY(fer_arch_sizes(arch, origin, &sz));
    FER_TRY(fer_arch_shapes(arch, origin, shapes));
    /* Kernels index one batch tensor with int: keep every tensor of the batch below 2^31. */
    if (sz.max_floats * max_batch > INT32_MAX)
        return fer_fail(FER_ERR_ARG, "%s: a batch of %d needs a tensor of %lld values (at most "
                        "2^31 - 1): lower the batch size", origin, max_batch,
                        sz.max_floats * max_batch);
    fer_model *m = calloc(1, sizeof *m);
    if (!m)
        return fer_fail(FER_ERR_NOMEM, "model: out of memory");
    m->arch = *arch;
    m->b = backend;
    m->max_batch = max_batch;
    m->share_activations = share_activations;
    const fer_shape input = {arch->in_c, arch->in_h, arch->in_w, 0};
    for (int i = 0; i < arch->n_layers; i++) {
        fer_layer_rt *l = &m->layers[i];
        l->spec = arch->layers[i];
        l->n_in = fer_arch_node_inputs(arch, i, l->src);
        for (int k = 0; k < l->n_in; k++)
            l->ins[k] = l->src[k] == FER_INPUT_NODE ? input : shapes[l->src[k]];
        l->in = l->ins[0];
        l->out = shapes[i];
        l->in_numel = (size_t)l->in.c * l->in.h * l->in.w;
        l->out_numel = (size_t)l->out.c * l->out.h * l->out.w;
    }
    m->feat_dim = shapes[arch->n_layers - 1].c;
    m->n_grad_slots = plan_gradients(m);
    m->grad_slots = calloc((size_t)m->n_grad_slots, sizeof *m->grad_slots);
    fer_status st = m->grad_slots ? build_tensor_table(m)
                                  : fer_fail(FER_ERR_NOMEM, "model: out of memory");
    if (st == FER_OK)
        st = FER_OP(backend, alloc, m->n_param_floats * sizeof(float), (void **)&m->params);
    if (st == FER_OK)
        st = FER_OP(backend, alloc, m->n_param_floats * sizeof(float), (void **)&m->grads);
    if (st == FER_OK)
        st = FER_OP(backend, alloc, (m->n_buffer_floats ? m->n_buffer_floats : 1) * sizeof(float),
                    (void **)&m->buffers);
    size_t act_bytes = st == FER_OK ? plan_activations(m, NULL) : 0;
    if (st == FER_OK && act_bytes > FER_MAX_ACTIVATION_BYTES)
        st = fer_fail(FER_ERR_ARG, "%s: a batch of %d needs %zu MiB of activations (at most %llu "
                      "MiB): lower the batch size", origin, max_batch, act_bytes >> 20,
                      (unsigned long long)(FER_MAX_ACTIVATION_BYTES >> 20));
    if (st == FER_OK)
        st = FER_OP(backend, alloc, act_bytes, &m->acts);
    if (st != FER_OK) {
        fer_model_free(m);
        return st;
    }
    plan_activations(m, m->acts);
    plan_fusions(m);
    for (int t = 0; t < m->n_tensors; t++) {
        fer_tensor *tt = &m->tensors[t];
        if (tt->info.role == FER_TENSOR_PARAM) {
            tt->data = m->params + tt->offset;
            tt->grad = m->grads + tt->offset;
        } else {
            tt->data = m->buffers + tt->offset;
        }
    }
    st = fer_model_init(m, 0);
    if (st != FER_OK) {
        fer_model_free(m);
        return st;
    }
    *out = m;
    return FER_OK;
}

void fer_model_free(fer_model *m)
{
    if (!m)
        return;
    if (m->b && m->b->ops->release) {
        if (m->params)
            m->b->ops->release(m->b, m->params);
        if (m->grads)
            m->b->ops->release(m->b, m->grads);
        if (m->buffers)
            m->b->ops->release(m->b, m->buffers);
        if (m->acts)
            m->b->ops->release(m->b, m->acts);
    }
    fer_bn_sync_release(m);
    free(m->tensors);
    free(m->grad_slots);
    free(m);
}

void fer_model_set_sample_offset(fer_model *m, long first)
{
    m->sample_offset = first;
}

const fer_arch *fer_model_arch(const fer_model *m)
{
    return &m->arch;
}

fer_backend *fer_model_backend(fer_model *m)
{
    return m->b;
}

/* ---- tensor access -------------------------------------------------------------------- */

size_t fer_model_param_count(const fer_model *m)
{
    size_t n = 0;
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].info.role == FER_TENSOR_PARAM)
            n += m->tensors[t].info.numel;
    return n;
}

int fer_model_n_tensors(const fer_model *m)
{
    return m->n_tensors;
}

fer_status fer_model_tensor_info(const fer_model *m, int i, fer_tensor_info *out)
{
    if (i < 0 || i >= m->n_tensors)
        return fer_fail(FER_ERR_ARG, "model: tensor index %d out of range", i);
    *out = m->tensors[i].info;
    return FER_OK;
}

static fer_status lookup(fer_model *m, const char *name, size_t numel, fer_tensor **out)
{
    int t = fer_model_find_tensor(m, name);
    if (t < 0)
        return fer_fail(FER_ERR_ARG, "model: no tensor named '%s'", name);
    if (m->tensors[t].info.numel != numel)
        return fer_fail(FER_ERR_ARG, "model: tensor '%s' has %zu elements, not %zu", name,
                        m->tensors[t].info.numel, numel);
    *out = &m->tensors[t];
    return FER_OK;
}

fer_status fer_model_get_tensor(fer_model *m, const char *name, float *host, size_t numel)
{
    fer_tensor *t = NULL; /* set by lookup; NULL quiets -O3 maybe-uninitialized */
    FER_TRY(lookup(m, name, numel, &t));
    return FER_OP(m->b, download, host, t->data, numel * sizeof(float));
}

fer_status fer_model_set_tensor(fer_model *m, const char *name, const float *host, size_t numel)
{
    fer_tensor *t = NULL; /* set by lookup; NULL quiets -O3 maybe-uninitialized */
    FER_TRY(lookup(m, name, numel, &t));
    fer_model_weights_changed(m);
    return FER_OP(m->b, upload, t->data, host, numel * sizeof(float));
}

void fer_model_weights_changed(fer_model *m)
{
    static _Atomic uint64_t last_gen; /* generations are unique across the process's models */
    if (m->folded)
        m->weights_gen = atomic_fetch_add(&last_gen, 1) + 1;
}

fer_status fer_model_get_grad(fer_model *m, const char *name, float *host, size_t numel)
{
    fer_tensor *t = NULL; /* set by lookup; NULL quiets -O3 maybe-uninitialized */
    FER_TRY(lookup(m, name, numel, &t));
    if (t->info.role != FER_TENSOR_PARAM)
        return fer_fail(FER_ERR_ARG, "model: tensor '%s' is a buffer and has no gradient", name);
    return FER_OP(m->b, download, host, t->grad, numel * sizeof(float));
}

float *fer_model_param_arena(fer_model *m, size_t *n_floats)
{
    fer_model_weights_changed(m); /* the caller may write through the pointer */
    if (n_floats)
        *n_floats = m->n_param_floats;
    return m->params;
}

float *fer_model_grad_arena(fer_model *m, size_t *n_floats)
{
    if (n_floats)
        *n_floats = m->n_param_floats;
    return m->grads;
}

float *fer_model_buffer_arena(fer_model *m, size_t *n_floats)
{
    fer_model_weights_changed(m);
    if (n_floats)
        *n_floats = m->n_buffer_floats;
    return m->buffers;
}

/* ---- forward -------------------------------------------------------------------------- */

fer_status fer_model_forward(fer_model *m, const float *x_host, int n, fer_mode mode,
                             const int32_t *labels_host, uint64_t dropout_seed,
                             float *logits_host)
{
    m->have_forward = m->have_loss = 0;
    if (n < 1 || n > m->max_batch)
        return fer_fail(FER_ERR_ARG, "model: batch of %d outside 1..%d", n, m->max_batch);
    if (mode == FER_MODE_TRAIN && m->folded)
        return fer_fail(FER_ERR_ARG, "model: a folded model runs inference only");
    if (mode == FER_MODE_TRAIN && m->arch.head == FER_HEAD_ARCFACE && !labels_host)
        return fer_fail(FER_ERR_ARG, "model: the arcface head needs labels in training mode");
    m->have_labels = 0;
    if (labels_host) {
        for (int i = 0; i < n; i++)
            if (labels_host[i] < 0 || labels_host[i] >= m->arch.n_classes)
                return fer_fail(FER_ERR_ARG, "model: label %d of sample %d is outside 0..%d",
                                (int)labels_host[i], i, m->arch.n_classes - 1);
        FER_TRY(FER_OP(m->b, upload, m->labels, labels_host, (size_t)n * sizeof(int32_t)));
        m->have_labels = 1;
    }
    size_t in_numel = (size_t)m->arch.in_c * m->arch.in_h * m->arch.in_w;
    FER_TRY(FER_OP(m->b, upload, m->x0, x_host, (size_t)n * in_numel * sizeof(float)));
    for (int i = 0; i < m->arch.n_layers; i++) {
        const fer_layer_rt *l = &m->layers[i];
        const float *xs[FER_MAX_INPUTS];
        for (int k = 0; k < l->n_in; k++)
            xs[k] = l->src[k] == FER_INPUT_NODE ? m->x0 : m->layers[l->src[k]].y;
        FER_TRY(fer_layer_op_of(l->spec.kind)
                    ->forward(m, i, xs, n, mode == FER_MODE_TRAIN && !m->features_frozen,
                              dropout_seed));
    }
    FER_TRY(fer_head_forward(m, m->layers[m->arch.n_layers - 1].y, n, mode));
    if (logits_host)
        FER_TRY(FER_OP(m->b, download, logits_host, m->logits,
                       (size_t)n * m->arch.n_classes * sizeof(float)));
    m->last_n = n;
    m->last_mode = mode;
    m->have_forward = 1;
    return FER_OK;
}

size_t fer_model_feature_size(const fer_model *m)
{
    return (size_t)m->feat_dim;
}

fer_status fer_model_get_features(fer_model *m, float *host, size_t numel)
{
    if (!m->have_forward)
        return fer_fail(FER_ERR_ARG, "model: features need a forward pass first");
    size_t have = (size_t)m->last_n * (size_t)m->feat_dim;
    if (numel != have)
        return fer_fail(FER_ERR_ARG, "model: features are %zu floats, asked for %zu", have, numel);
    return FER_OP(m->b, download, host, m->layers[m->arch.n_layers - 1].y, numel * sizeof(float));
}

/* ---- loss ----------------------------------------------------------------------------- */

/* Checks cfg and uploads the class weights and logit offsets it asks for; fills a. */
static fer_status loss_setup(fer_model *m, const fer_loss_config *cfg, fer_loss_args *a,
                             const float **weights)
{
    if (!m->have_forward)
        return fer_fail(FER_ERR_ARG, "model: loss needs a forward pass first");
    int n = m->last_n, c = m->arch.n_classes;
    if (cfg->kind != FER_LOSS_CE && cfg->kind != FER_LOSS_WCE && cfg->kind != FER_LOSS_FOCAL)
        return fer_fail(FER_ERR_ARG, "model: unknown loss kind %d", (int)cfg->kind);
    if (!(cfg->label_smoothing >= 0.0f && cfg->label_smoothing <= 1.0f))
        return fer_fail(FER_ERR_ARG, "model: label smoothing %g outside 0..1",
                        (double)cfg->label_smoothing);
    if (cfg->kind == FER_LOSS_FOCAL && !(cfg->gamma >= 0.0f))
        return fer_fail(FER_ERR_ARG, "model: focal gamma %g must be >= 0", (double)cfg->gamma);
    *a = (fer_loss_args){n, c, cfg->kind, cfg->gamma, cfg->label_smoothing, NULL, NULL};
    *weights = NULL;
    if (cfg->kind == FER_LOSS_WCE || (cfg->kind == FER_LOSS_FOCAL && cfg->use_class_weights)) {
        for (int j = 0; j < c; j++)
            if (!(cfg->class_weights[j] >= 0.0f) || !isfinite(cfg->class_weights[j]))
                return fer_fail(FER_ERR_ARG, "model: class weight %d is %g", j,
                                (double)cfg->class_weights[j]);
        FER_TRY(FER_OP(m->b, upload, m->class_weights, cfg->class_weights,
                       (size_t)c * sizeof(float)));
        *weights = m->class_weights;
    }
    if (cfg->use_logit_offset) {
        for (int j = 0; j < c; j++)
            if (!isfinite(cfg->logit_offset[j]))
                return fer_fail(FER_ERR_ARG, "model: logit offset %d is %g", j,
                                (double)cfg->logit_offset[j]);
        FER_TRY(FER_OP(m->b, upload, m->logit_offset, cfg->logit_offset,
                       (size_t)c * sizeof(float)));
        a->logit_offset = m->logit_offset;
    }
    return FER_OK;
}

static fer_status loss_run(fer_model *m, const fer_loss_args *a, const float *weights,
                           const int32_t *labels, float *loss_out)
{
    float loss = 0.0f;
    FER_TRY(FER_OP(m->b, loss_forward_backward, a, m->logits, labels, weights, &loss,
                   m->dlogits));
    if (loss_out)
        *loss_out = loss;
    m->have_loss = 1;
    return FER_OK;
}

fer_status fer_model_loss(fer_model *m, const fer_loss_config *cfg, const int32_t *labels_host,
                          float *loss_out)
{
    fer_loss_args a;
    const float *weights;
    FER_TRY(loss_setup(m, cfg, &a, &weights));
    for (int i = 0; i < a.n; i++)
        if (labels_host[i] < 0 || labels_host[i] >= a.c)
            return fer_fail(FER_ERR_ARG, "model: label %d of sample %d is outside 0..%d",
                            (int)labels_host[i], i, a.c - 1);
    FER_TRY(FER_OP(m->b, upload, m->labels, labels_host, (size_t)a.n * sizeof(int32_t)));
    return loss_run(m, &a, weights, m->labels, loss_out);
}

/* Tolerance on a soft target row's sum: float rows built by mixing or from vote counts. */
#define FER_SOFT_TARGET_SUM_TOL 1e-4

fer_status fer_model_loss_soft(fer_model *m, const fer_loss_config *cfg,
                               const float *targets_host, float *loss_out)
{
    fer_loss_args a;
    const float *weights;
    FER_TRY(loss_setup(m, cfg, &a, &weights));
    if (cfg->kind == FER_LOSS_FOCAL)
        return fer_fail(FER_ERR_ARG, "model: focal loss with soft targets is not supported");
    if (!targets_host)
        return fer_fail(FER_ERR_ARG, "model: soft-target loss without targets");
    for (int i = 0; i < a.n; i++) {
        const float *t = targets_host + (size_t)i * a.c;
        double sum = 0.0;
        for (int j = 0; j < a.c; j++) {
            if (!isfinite(t[j]) || t[j] < 0.0f)
                return fer_fail(FER_ERR_ARG,
                                "model: soft target %d of sample %d is %g (must be finite, >= 0)",
                                j, i, (double)t[j]);
            sum += t[j];
        }
        if (fabs(sum - 1.0) > FER_SOFT_TARGET_SUM_TOL)
            return fer_fail(FER_ERR_ARG,
                            "model: soft targets of sample %d sum to %.7g (must be 1 within %g)",
                            i, sum, FER_SOFT_TARGET_SUM_TOL);
    }
    FER_TRY(FER_OP(m->b, upload, m->targets, targets_host,
                   (size_t)a.n * a.c * sizeof(float)));
    a.targets = m->targets;
    return loss_run(m, &a, weights, NULL, loss_out);
}

fer_status fer_model_loss_grad(fer_model *m, const float *dlogits_host)
{
    if (!m->have_forward || m->last_mode != FER_MODE_TRAIN)
        return fer_fail(FER_ERR_ARG, "model: a loss gradient needs a training-mode forward pass");
    size_t k = (size_t)m->last_n * m->arch.n_classes;
    for (size_t i = 0; i < k; i++)
        if (!isfinite(dlogits_host[i]))
            return fer_fail(FER_ERR_ARG, "model: loss gradient %zu is %g", i,
                            (double)dlogits_host[i]);
    FER_TRY(FER_OP(m->b, upload, m->dlogits, dlogits_host, k * sizeof(float)));
    m->have_loss = 1;
    return FER_OK;
}

/* ---- backward ------------------------------------------------------------------------- */

fer_status fer_model_backward(fer_model *m)
{
    if (!m->have_forward || m->last_mode != FER_MODE_TRAIN)
        return fer_fail(FER_ERR_ARG, "model: backward needs a training-mode forward pass");
    if (!m->have_loss)
        return fer_fail(FER_ERR_ARG, "model: backward needs fer_model_loss first");
    int n = m->last_n, L = m->arch.n_layers;
    const float *feat = m->layers[L - 1].y;
    if (m->features_frozen) /* cRT: nothing below the head learns */
        return fer_head_backward(m, feat, n, NULL);
    FER_TRY(fer_head_backward(m, feat, n, m->grad_slots[m->layers[L - 1].dy_slot]));
    for (int i = L - 1; i >= 0; i--) { /* the slots of plan_gradients */
        const fer_layer_rt *l = &m->layers[i];
        const fer_layer_op *op = fer_layer_op_of(l->spec.kind);
        const float *xs[FER_MAX_INPUTS];
        float *dxs[FER_MAX_INPUTS];
        for (int k = 0; k < l->n_in; k++) {
            xs[k] = l->src[k] == FER_INPUT_NODE ? m->x0 : m->layers[l->src[k]].y;
            dxs[k] = l->dx_slot[k] >= 0 ? m->grad_slots[l->dx_slot[k]] : NULL;
        }
        const float *dy = m->grad_slots[l->dy_slot];
        if (op->grad != FER_GRAD_SHARED) /* flatten: same memory, same gradient */
            FER_TRY(op->backward(m, i, n, xs, dy, dxs));
        for (int k = 0; k < l->n_in; k++) { /* a tensor read by several nodes: sum */
            if (l->dx_add[k] < 0)
                continue;
            float *acc = m->grad_slots[l->dx_add[k]];
            size_t count = (size_t)n * (l->src[k] == FER_INPUT_NODE ? l->in_numel
                                                                    : m->layers[l->src[k]].out_numel);
            FER_TRY(FER_OP(m->b, add, count, acc, dxs[k], acc));
        }
    }
    return FER_OK;
}

size_t fer_model_frozen_param_floats(const fer_model *m)
{
    /* the head's tensors come last in the parameter arena */
    return m->features_frozen ? m->tensors[m->t_head_weight].offset : 0;
}

fer_status fer_model_freeze_features(fer_model *m, int frozen)
{
    if (frozen && m->folded)
        return fer_fail(FER_ERR_ARG, "model: a folded model runs inference only");
    m->features_frozen = frozen != 0;
    m->have_forward = m->have_loss = 0;
    /* backward no longer writes the frozen gradients: keep them 0 for clipping */
    size_t n = fer_model_frozen_param_floats(m);
    return n ? FER_OP(m->b, fill, m->grads, 0.0f, n) : FER_OK;
}

int fer_model_features_frozen(const fer_model *m)
{
    return m->features_frozen;
}

fer_status fer_model_clip_grad_norm(fer_model *m, float max_norm, float *total_norm_out)
{
    double ss = 0.0;
    FER_TRY(FER_OP(m->b, sum_squares, m->n_param_floats, m->grads, &ss));
    double total = sqrt(ss);
    if (total_norm_out)
        *total_norm_out = (float)total;
    if (max_norm > 0.0f) {
        /* torch.nn.utils.clip_grad_norm_: coef = max_norm / (total + 1e-6), clamped to 1 */
        float coef = (float)((double)max_norm / (total + 1e-6));
        if (coef < 1.0f)
            FER_TRY(FER_OP(m->b, scale, m->n_param_floats, m->grads, coef));
    }
    return FER_OK;
}
