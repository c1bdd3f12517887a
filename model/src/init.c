/* Initial weights: the shared per-tensor rules (BN affine 1/0, running statistics 0/1, uniform
 * within a bound elsewhere) with two sources of randomness. fer_model_init draws from the
 * counter-based streams of fer/rng_math.h (any value reproducible on its own);
 * fer_model_init_pytorch reproduces PyTorch's draws bit for bit, so a seed means the same initial
 * network as in the seed project's `torch.manual_seed(seed); build_model(...)`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fer/model.h"
#include "fer/rng_math.h"
#include "layer_ops.h"
#include "model_internal.h"

/* Fan-in of the layer owning tensor t (the layer table's fan_in; the head: its features); 0 for
 * constant-initialised weights (batch norm, prelu), whose value goes to *weight_fill. */
static int tensor_fan_in(const fer_model *m, int t, float *weight_fill)
{
    *weight_fill = 1.0f;
    for (int i = 0; i < m->arch.n_layers; i++) {
        const fer_layer_rt *l = &m->layers[i];
        if (l->t_weight != t && l->t_bias != t)
            continue;
        const fer_layer_op *op = fer_layer_op_of(l->spec.kind);
        *weight_fill = op->weight_fill;
        return op->fan_in ? op->fan_in(l) : 0;
    }
    return m->feat_dim; /* head */
}

typedef enum init_kind {
    INIT_FILL,      /* constant */
    INIT_KAIMING,   /* conv / linear weight: kaiming_uniform(a = sqrt(5)) */
    INIT_BIAS,      /* linear bias: uniform(+-1/sqrt(fan_in)) */
    INIT_XAVIER     /* ArcFace weight: xavier_uniform */
} init_kind;

/* How PyTorch's modules initialise tensor t: a constant (*fill) or a kind of uniform draw. */
static init_kind tensor_init_kind(const fer_model *m, int t, float *fill)
{
    const fer_tensor *tt = &m->tensors[t];
    const char *suffix = strrchr(tt->info.name, '.');
    *fill = 0.0f;
    if (strcmp(suffix, ".running_var") == 0) {
        *fill = 1.0f;
        return INIT_FILL;
    }
    if (tt->info.role == FER_TENSOR_BUFFER)
        return INIT_FILL;
    float weight_fill;
    if (tensor_fan_in(m, t, &weight_fill) == 0) { /* batch norm affine 1 / 0, prelu 0.25 */
        *fill = strcmp(suffix, ".weight") == 0 ? weight_fill : 0.0f;
        return INIT_FILL;
    }
    if (t == m->t_head_weight && m->arch.head == FER_HEAD_ARCFACE)
        return INIT_XAVIER;
    return strcmp(suffix, ".bias") == 0 ? INIT_BIAS : INIT_KAIMING;
}

/* Constants filled here, random tensors through fill_tensor(m, t, kind, host, ctx); every tensor
 * uploaded, gradients zeroed. */
typedef void (*tensor_filler)(const fer_model *m, int t, init_kind kind, float *host, void *ctx);

static fer_status init_tensors(fer_model *m, tensor_filler fill_tensor, void *ctx)
{
    size_t max_numel = 1;
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].info.numel > max_numel)
            max_numel = m->tensors[t].info.numel;
    float *host = malloc(max_numel * sizeof *host);
    if (!host)
        return fer_fail(FER_ERR_NOMEM, "model: out of memory");
    fer_model_weights_changed(m);
    fer_status st = FER_OK;
    for (int t = 0; t < m->n_tensors && st == FER_OK; t++) {
        fer_tensor *tt = &m->tensors[t];
        float fill;
        init_kind kind = tensor_init_kind(m, t, &fill);
        if (kind == INIT_FILL)
            for (size_t i = 0; i < tt->info.numel; i++) host[i] = fill;
        else
            fill_tensor(m, t, kind, host, ctx);
        st = FER_OP(m->b, upload, tt->data, host, tt->info.numel * sizeof(float));
    }
    free(host);
    if (st == FER_OK && m->grads)
        st = FER_OP(m->b, fill, m->grads, 0.0f, m->n_param_floats);
    m->have_forward = m->have_loss = 0;
    return st;
}

/* ---- counter-based ------------------------------------------------------------------- */

static void fill_counter(const fer_model *m, int t, init_kind kind, float *host, void *ctx)
{
    uint64_t seed = *(const uint64_t *)ctx;
    float bound = kind == INIT_XAVIER
                      ? (float)sqrt(6.0 / (double)(m->feat_dim + m->arch.n_classes))
                      : (float)(1.0 / sqrt((double)tensor_fan_in(m, t, &(float){0})));
    uint64_t stream = fer_rng_substream(seed, (uint64_t)t);
    for (size_t i = 0; i < m->tensors[t].info.numel; i++)
        host[i] = bound * fer_rng_symmetric(stream, i);
}

fer_status fer_model_init(fer_model *m, uint64_t seed)
{
    return init_tensors(m, fill_counter, &seed);
}

/* ---- PyTorch's draws ------------------------------------------------------------------ */

/* MT19937 as PyTorch's CPU generator runs it: torch.manual_seed(s) seeds it with the low 32
 * bits of s (init_genrand), and random() returns one tempered 32-bit output. */
typedef struct mt19937 {
    uint32_t state[624];
    int next;
} mt19937;

static void mt19937_seed(mt19937 *g, uint32_t seed)
{
    g->state[0] = seed;
    for (int i = 1; i < 624; i++)
        g->state[i] = 1812433253u * (g->state[i - 1] ^ (g->state[i - 1] >> 30)) + (uint32_t)i;
    g->next = 624;
}

static uint32_t mt19937_next(mt19937 *g)
{
    if (g->next >= 624) {
        for (int i = 0; i < 624; i++) {
            uint32_t y = (g->state[i] & 0x80000000u) | (g->state[(i + 1) % 624] & 0x7fffffffu);
            g->state[i] = g->state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        g->next = 0;
    }
    uint32_t y = g->state[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* tensor.uniform_(-bound, bound) for float32: the bounds rounded to float, 24 random bits,
 * x * (hi - lo) + lo rounded once to float, as Debian 12's PyTorch 1.13 gives it (a float
 * multiply and add rounded separately differ in the last bit now and then). Both steps are exact
 * in double (24-bit x 24-bit product, sum within 48 bits), so only the final cast rounds;
 * volatile just keeps the compiler from rearranging it. */
static void uniform_pytorch(mt19937 *g, double bound, float *out, size_t n)
{
    double lo = (double)(float)-bound, hi = (double)(float)bound;
    for (size_t i = 0; i < n; i++) {
        double x = (double)(mt19937_next(g) & 0xffffffu) * (1.0 / 16777216.0);
        volatile double scaled = x * (hi - lo);
        out[i] = (float)(scaled + lo);
    }
}

static void fill_pytorch(const fer_model *m, int t, init_kind kind, float *host, void *ctx)
{
    mt19937 *g = ctx;
    size_t n = m->tensors[t].info.numel;
    double fan_in = (double)tensor_fan_in(m, t, &(float){0}), bound;
    if (kind == INIT_KAIMING) { /* torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5)) */
        double a = sqrt(5.0), gain = sqrt(2.0 / (1.0 + a * a));
        bound = sqrt(3.0) * (gain / sqrt(fan_in));
    } else if (kind == INIT_BIAS) { /* nn.Linear.reset_parameters */
        bound = 1.0 / sqrt(fan_in);
    } else { /* the seed's ArcFaceHead: torch.randn(C, D), then xavier_uniform_ */
        size_t normal_draws = n + (n % 16 ? 16 : 0); /* normal_fill: 16-wide blocks */
        for (size_t i = 0; i < normal_draws; i++) mt19937_next(g);
        bound = sqrt(3.0) * sqrt(2.0 / (double)(m->feat_dim + m->arch.n_classes));
    }
    uniform_pytorch(g, bound, host, n);
}

fer_status fer_model_init_pytorch(fer_model *m, uint64_t seed)
{
    if (m->arch.head == FER_HEAD_ARCFACE &&
        m->tensors[m->t_head_weight].info.numel < 16) /* PyTorch draws those another way */
        return fer_fail(FER_ERR_ARG,
                        "model: PyTorch-identical initialisation needs an ArcFace weight of at "
                        "least 16 values (has %zu)", m->tensors[m->t_head_weight].info.numel);
    mt19937 *g = malloc(sizeof *g);
    if (!g)
        return fer_fail(FER_ERR_NOMEM, "model: out of memory");
    mt19937_seed(g, (uint32_t)seed);
    fer_status st = init_tensors(m, fill_pytorch, g);
    free(g);
    return st;
}
