/* The layer table (see layer_ops.h): conv2d, batchnorm2d, relu, maxpool2d, flatten, linear,
 * dropout, leaky_relu, relu6, hardswish, sigmoid, global_avgpool, avgpool2d, add, concat, mul,
 * channel_pad, prelu, batchnorm1d, pad2d, each one entry from JSON fields to backward pass. */
#include <stdio.h>
#include <string.h>

#include "fer/activation_math.h"
#include "fer/dropout_math.h"
#include "fer/json_num.h"
#include "fer/layer_math.h"
#include "bn_sync.h"
#include "layer_ops.h"

/* ---- shared helpers ------------------------------------------------------------------- */

/* An integer field; the wide range only guards the conversion, infer applies the caps. */
static fer_status get_int(const cJSON *jl, const char *key, int def, int *out, const char *origin,
                          const char *node)
{
    char where[96];
    snprintf(where, sizeof where, "%s: %s", node, key);
    long long v;
    FER_TRY(fer_json_int_opt(cJSON_GetObjectItemCaseSensitive(jl, key), origin, where,
                         -1000000000LL, 1000000000LL, def, &v));
    *out = (int)v;
    return FER_OK;
}

static fer_status get_bool(const cJSON *jl, const char *key, int def, int *out,
                           const char *origin, const char *node)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(jl, key);
    if (!v) {
        *out = def;
        return FER_OK;
    }
    if (!cJSON_IsBool(v))
        return fer_fail(FER_ERR_FORMAT, "%s: %s: \"%s\" must be true or false", origin, node,
                        key);
    *out = cJSON_IsTrue(v);
    return FER_OK;
}

static fer_activation activation_of(const fer_layer_spec *s, float *param);

static float *tdata(fer_model *m, int t)
{
    return t >= 0 ? m->tensors[t].data : NULL;
}

static float *tgrad(fer_model *m, int t)
{
    return t >= 0 ? m->tensors[t].grad : NULL;
}

/* layers.<i>.<suffix> */
static int add_layer_tensor(fer_model *m, int *cap, int i, const char *suffix,
                            fer_tensor_role role, int ndim, const int *shape)
{
    char name[64];
    snprintf(name, sizeof name, "layers.%d.%s", i, suffix);
    return fer_model_add_tensor(m, cap, name, role, ndim, shape);
}

/* weight [shape] and, when bias, bias [out]: conv2d and linear */
static fer_status declare_weight_bias(fer_model *m, int i, int *cap, int ndim, const int *shape)
{
    fer_layer_rt *l = &m->layers[i];
    l->t_weight = add_layer_tensor(m, cap, i, "weight", FER_TENSOR_PARAM, ndim, shape);
    l->t_bias = -1;
    if (l->spec.bias)
        l->t_bias = add_layer_tensor(m, cap, i, "bias", FER_TENSOR_PARAM, 1, &l->spec.out);
    if (l->t_weight < 0 || (l->spec.bias && l->t_bias < 0))
        return fer_fail(FER_ERR_NOMEM, "model: out of memory");
    return FER_OK;
}

static void plan_output(fer_layer_rt *l, fer_act_plan *p, float *in0, int in0_exclusive)
{
    (void)in0, (void)in0_exclusive;
    l->y = fer_act_take(p, p->batch * l->out_numel * sizeof(float));
}

/* flatten: the output is the input's memory, unchanged */
static void plan_view(fer_layer_rt *l, fer_act_plan *p, float *in0, int in0_exclusive)
{
    (void)p, (void)in0_exclusive;
    l->y = in0;
}

/* relu: over its input when nothing else reads that (relu_backward needs only the output) */
static void plan_in_place(fer_layer_rt *l, fer_act_plan *p, float *in0, int in0_exclusive)
{
    if (in0_exclusive)
        l->y = in0;
    else
        plan_output(l, p, in0, in0_exclusive);
}

/* ---- conv2d --------------------------------------------------------------------------- */

static const char *const conv_keys[] = {"out", "k", "stride", "pad", "bias", "groups", NULL};

static fer_status conv_parse(const cJSON *jl, const char *origin, const char *node,
                             fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "out", 0, &l->out, origin, node));
    FER_TRY(get_int(jl, "k", 3, &l->k, origin, node));
    FER_TRY(get_int(jl, "stride", 1, &l->stride, origin, node));
    FER_TRY(get_int(jl, "pad", 0, &l->pad, origin, node));
    FER_TRY(get_int(jl, "groups", 1, &l->groups, origin, node));
    return get_bool(jl, "bias", 1, &l->bias, origin, node);
}

static void conv_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "out", l->out);
    cJSON_AddNumberToObject(jl, "k", l->k);
    cJSON_AddNumberToObject(jl, "stride", l->stride);
    cJSON_AddNumberToObject(jl, "pad", l->pad);
    cJSON_AddBoolToObject(jl, "bias", l->bias);
    if (l->groups != 1) /* absent means 1: files written before groups existed stay the same */
        cJSON_AddNumberToObject(jl, "groups", l->groups);
}

static int conv_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->out == b->out && a->k == b->k && a->stride == b->stride && a->pad == b->pad &&
           !a->bias == !b->bias && a->groups == b->groups;
}

static fer_status conv_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    if (l->out <= 0 || l->out > FER_MAX_WIDTH || l->k <= 0 || l->k > FER_MAX_CONV_KERNEL ||
        l->stride <= 0 || l->stride > FER_MAX_CONV_KERNEL || l->pad < 0 || l->pad > l->k)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: %s (conv2d) needs 1 <= out <= %d, 1 <= k <= %d, "
                        "1 <= stride <= %d, 0 <= pad <= k (got out %d, k %d, stride %d, "
                        "pad %d)", origin, node, FER_MAX_WIDTH, FER_MAX_CONV_KERNEL,
                        FER_MAX_CONV_KERNEL, l->out, l->k, l->stride, l->pad);
    if (l->groups < 1 || in[0].c % l->groups != 0 || l->out % l->groups != 0)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: %s (conv2d) needs groups >= 1 dividing in channels %d and "
                        "out %d (got groups %d)", origin, node, in[0].c, l->out, l->groups);
    long long h = in[0].h + 2LL * l->pad < l->k ? 0 : (in[0].h + 2LL * l->pad - l->k) / l->stride + 1;
    long long w = in[0].w + 2LL * l->pad < l->k ? 0 : (in[0].w + 2LL * l->pad - l->k) / l->stride + 1;
    *out = (fer_shape){l->out, (int)h, (int)w, 0}; /* h, w <= in + 2k: fit an int */
    long long in_per_group = in[0].c / l->groups; /* each output channel sees one group */
    cost->params = (long long)l->out * in_per_group * l->k * l->k + (l->bias ? l->out : 0);
    cost->tensors = l->bias ? 2 : 1;
    cost->macs = (long long)l->out * h * w * in_per_group * l->k * l->k;
    return FER_OK;
}

static fer_status conv_declare(fer_model *m, int i, int *cap)
{
    const fer_layer_rt *l = &m->layers[i];
    int shape[4] = {l->spec.out, l->in.c / l->spec.groups, l->spec.k, l->spec.k};
    return declare_weight_bias(m, i, cap, 4, shape);
}

static int conv_fan_in(const fer_layer_rt *l)
{
    return l->in.c / l->spec.groups * l->spec.k * l->spec.k; /* as PyTorch's init */
}

static fer_conv2d_args conv_args(const fer_model *m, const fer_layer_rt *l, int n)
{
    fer_conv2d_args a = {n, l->in.c, l->in.h, l->in.w, l->out.c, l->out.h, l->out.w,
                         l->spec.k, l->spec.stride, l->spec.pad, l->spec.bias,
                         l->spec.groups, m->weights_gen};
    return a;
}

static fer_status conv_forward(fer_model *m, int i, const float *const *x, int n, int train,
                               uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_conv2d_args a = conv_args(m, l, n);
    FER_TRY(FER_OP(m->b, conv2d_forward, &a, x[0], tdata(m, l->t_weight), tdata(m, l->t_bias),
                   l->y));
    if (!l->spec.has_act) /* a folded model's absorbed activation, in place on the output */
        return FER_OK;
    size_t count = (size_t)n * l->out_numel;
    if (l->spec.act_kind == FER_LAYER_RELU)
        return FER_OP(m->b, relu_forward, count, l->y, l->y);
    fer_layer_spec act = {.kind = l->spec.act_kind, .slope = l->spec.slope};
    float param;
    fer_activation kind = activation_of(&act, &param);
    return FER_OP(m->b, activation_forward, kind, param, count, l->y, l->y);
}

static fer_status conv_backward(fer_model *m, int i, int n, const float *const *x,
                                const float *dy, float *const *dx)
{
    fer_layer_rt *l = &m->layers[i];
    if (l->spec.has_act) /* fer_model_forward refuses training for folded models */
        return fer_fail(FER_ERR_ARG, "model: a folded convolution has no backward pass");
    fer_conv2d_args a = conv_args(m, l, n);
    return FER_OP(m->b, conv2d_backward, &a, x[0], tdata(m, l->t_weight), dy, dx[0],
                  tgrad(m, l->t_weight), tgrad(m, l->t_bias));
}

/* ---- batchnorm2d ---------------------------------------------------------------------- */

static fer_status bn_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    (void)l, (void)origin, (void)node, (void)n_in;
    *out = in[0];
    cost->params = 2LL * in[0].c;
    cost->buffers = 2LL * in[0].c + 1;
    cost->tensors = 5;
    return FER_OK;
}

static fer_status bn_declare(fer_model *m, int i, int *cap)
{
    fer_layer_rt *l = &m->layers[i];
    int c = l->in.c;
    l->t_weight = add_layer_tensor(m, cap, i, "weight", FER_TENSOR_PARAM, 1, &c);
    l->t_bias = add_layer_tensor(m, cap, i, "bias", FER_TENSOR_PARAM, 1, &c);
    l->t_running_mean = add_layer_tensor(m, cap, i, "running_mean", FER_TENSOR_BUFFER, 1, &c);
    l->t_running_var = add_layer_tensor(m, cap, i, "running_var", FER_TENSOR_BUFFER, 1, &c);
    l->t_nbt = add_layer_tensor(m, cap, i, "num_batches_tracked", FER_TENSOR_BUFFER, 0, NULL);
    if (l->t_weight < 0 || l->t_bias < 0 || l->t_running_mean < 0 || l->t_running_var < 0 ||
        l->t_nbt < 0)
        return fer_fail(FER_ERR_NOMEM, "model: out of memory");
    return FER_OK;
}

static void bn_plan(fer_layer_rt *l, fer_act_plan *p, float *in0, int in0_exclusive)
{
    plan_output(l, p, in0, in0_exclusive);
    l->save_mean = fer_act_take(p, (size_t)l->out.c * sizeof(float));
    l->save_invstd = fer_act_take(p, (size_t)l->out.c * sizeof(float));
}

static fer_bn_args bn_args(const fer_layer_rt *l, int n)
{
    fer_bn_args a = {.n = n, .c = l->in.c, .hw = l->in.h * l->in.w, .eps = 1e-5f,
                     .momentum = 0.1f};
    return a;
}

static fer_status bump_batches_tracked(fer_model *m, int t)
{
    float v;
    FER_TRY(FER_OP(m->b, download, &v, m->tensors[t].data, sizeof v));
    v += 1.0f;
    return FER_OP(m->b, upload, m->tensors[t].data, &v, sizeof v);
}

static fer_pool_args pool_args(const fer_layer_rt *l, int n);

/* The max pool node whose forward this batch norm runs (plan_pool_fusions), or NULL. */
static const fer_layer_rt *fused_pool(const fer_model *m, const fer_layer_rt *l)
{
    return l->pool_into >= 0 ? &m->layers[l->pool_into] : NULL;
}

static fer_status bn_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t seed)
{
    (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_bn_args a = bn_args(l, n);
    const fer_layer_rt *pl = fused_pool(m, l);
    fer_pool_args pa = pl ? pool_args(pl, n) : (fer_pool_args){0};
    if (train && fer_bn_sync_on(m)) { /* data-parallel: statistics of every process's images */
        FER_TRY(fer_bn_sync_forward(m, i, &a, x[0]));
        if (l->relu_fused) /* the absorbed ReLU's own pass */
            FER_TRY(FER_OP(m->b, relu_forward, (size_t)n * l->out_numel, l->y, l->y));
        if (pl) /* the absorbed pool's own pass */
            FER_TRY(FER_OP(m->b, maxpool_forward, &pa, l->y, pl->y, pl->argmax));
        return bump_batches_tracked(m, l->t_nbt);
    }
    a.relu = l->relu_fused;
    if (pl) {
        a.pool = &pa;
        a.pool_y = pl->y;
        a.pool_argmax = pl->argmax;
    }
    if (train && (size_t)n * l->in.h * l->in.w < 2)
        return fer_fail(FER_ERR_ARG,
                        "model: batch norm needs more than one value per channel in training "
                        "(batch %d of %dx%d)", n, l->in.h, l->in.w);
    FER_TRY(FER_OP(m->b, batchnorm_forward, &a, train, x[0], tdata(m, l->t_weight),
                   tdata(m, l->t_bias), tdata(m, l->t_running_mean),
                   tdata(m, l->t_running_var), l->y, l->save_mean, l->save_invstd));
    return train ? bump_batches_tracked(m, l->t_nbt) : FER_OK;
}

static fer_status bn_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    fer_layer_rt *l = &m->layers[i];
    fer_bn_args a = bn_args(l, n);
    if (fer_bn_sync_on(m)) {
        if (l->relu_fused) /* the absorbed ReLU's pass, in place: dy is its slot (plan_fusions) */
            FER_TRY(FER_OP(m->b, relu_backward, (size_t)n * l->out_numel, l->y, dy, (float *)dy));
        return fer_bn_sync_backward(m, i, &a, x[0], dy, dx[0]);
    }
    a.relu = l->relu_fused;
    return FER_OP(m->b, batchnorm_backward, &a, x[0], tdata(m, l->t_weight),
                  tdata(m, l->t_bias), l->save_mean, l->save_invstd, dy, dx[0],
                  tgrad(m, l->t_weight), tgrad(m, l->t_bias));
}

/* ---- relu ----------------------------------------------------------------------------- */

static fer_status same_shape(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)l, (void)origin, (void)node, (void)n_in, (void)cost;
    *out = in[0];
    return FER_OK;
}

static fer_status relu_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    if (l->absorbed && x[0] == l->y) /* the node before wrote relu of its output in place
                                        (plan_fusions); run alone on other memory, it works */
        return FER_OK;
    return FER_OP(m->b, relu_forward, (size_t)n * l->out_numel, x[0], l->y);
}

static fer_status relu_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    if (l->absorbed_grad) /* dx[0] is dy's slot; its batch norm gates the gradient */
        return FER_OK;
    return dx[0] ? FER_OP(m->b, relu_backward, (size_t)n * l->out_numel, l->y, dy, dx[0]) : FER_OK;
}

/* ---- maxpool2d ------------------------------------------------------------------------ */

static const char *const pool_keys[] = {"k", "stride", NULL};

static fer_status pool_parse(const cJSON *jl, const char *origin, const char *node,
                             fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "k", 2, &l->k, origin, node));
    return get_int(jl, "stride", l->k, &l->stride, origin, node);
}

static void pool_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "k", l->k);
    cJSON_AddNumberToObject(jl, "stride", l->stride);
}

static int pool_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->k == b->k && a->stride == b->stride;
}

static fer_status pool_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    (void)cost;
    if (l->k <= 0 || l->k > FER_MAX_POOL || l->stride <= 0 || l->stride > FER_MAX_POOL)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: %s (maxpool2d) needs 1 <= k, stride <= %d (got k %d, "
                        "stride %d)", origin, node, FER_MAX_POOL, l->k, l->stride);
    *out = (fer_shape){in[0].c, fer_pool_out_size(in[0].h, l->k, l->stride),
                       fer_pool_out_size(in[0].w, l->k, l->stride), 0};
    return FER_OK;
}

static void pool_plan(fer_layer_rt *l, fer_act_plan *p, float *in0, int in0_exclusive)
{
    plan_output(l, p, in0, in0_exclusive);
    l->argmax = fer_act_take(p, p->batch * l->out_numel * sizeof(int32_t));
}

static fer_pool_args pool_args(const fer_layer_rt *l, int n)
{
    fer_pool_args a = {n, l->in.c, l->in.h, l->in.w, l->out.h, l->out.w, l->spec.k,
                       l->spec.stride};
    return a;
}

static fer_status pool_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    if (l->pool_absorbed && x[0] == m->layers[l->src[0]].y)
        return FER_OK; /* its batch norm pooled in its output pass; run alone, it pools */
    fer_pool_args a = pool_args(l, n);
    return FER_OP(m->b, maxpool_forward, &a, x[0], l->y, l->argmax);
}

static fer_status pool_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    fer_pool_args a = pool_args(l, n);
    return dx[0] ? FER_OP(m->b, maxpool_backward, &a, l->argmax, dy, dx[0]) : FER_OK;
}

/* ---- flatten -------------------------------------------------------------------------- */

static fer_status flatten_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    (void)l, (void)origin, (void)node, (void)n_in, (void)cost;
    /* in[0].c * in[0].h * in[0].w <= FER_MAX_SAMPLE_FLOATS: every shape was checked against it */
    *out = (fer_shape){in[0].c * in[0].h * in[0].w, 1, 1, 1};
    return FER_OK;
}

static fer_status flatten_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t seed)
{
    (void)m, (void)i, (void)x, (void)n, (void)train, (void)seed;
    return FER_OK;
}

/* ---- linear --------------------------------------------------------------------------- */

static const char *const linear_keys[] = {"out", "bias", NULL};

static fer_status linear_parse(const cJSON *jl, const char *origin, const char *node,
                             fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "out", 0, &l->out, origin, node));
    return get_bool(jl, "bias", 1, &l->bias, origin, node);
}

static void linear_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "out", l->out);
    cJSON_AddBoolToObject(jl, "bias", l->bias);
}

static int linear_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->out == b->out && !a->bias == !b->bias;
}

static fer_status linear_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    if (l->out <= 0 || l->out > FER_MAX_WIDTH)
        return fer_fail(FER_ERR_FORMAT, "%s: %s (linear) needs 1 <= out <= %d (got %d)",
                        origin, node, FER_MAX_WIDTH, l->out);
    *out = (fer_shape){l->out, 1, 1, 1};
    cost->params = (long long)l->out * in[0].c + (l->bias ? l->out : 0);
    cost->tensors = l->bias ? 2 : 1;
    cost->macs = (long long)l->out * in[0].c;
    return FER_OK;
}

static fer_status linear_declare(fer_model *m, int i, int *cap)
{
    const fer_layer_rt *l = &m->layers[i];
    int shape[2] = {l->spec.out, l->in.c};
    return declare_weight_bias(m, i, cap, 2, shape);
}

static int linear_fan_in(const fer_layer_rt *l)
{
    return l->in.c;
}

static fer_linear_args linear_args(const fer_layer_rt *l, int n)
{
    fer_linear_args a = {n, l->in.c, l->out.c, l->spec.bias};
    return a;
}

static fer_status linear_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_linear_args a = linear_args(l, n);
    return FER_OP(m->b, linear_forward, &a, x[0], tdata(m, l->t_weight), tdata(m, l->t_bias), l->y);
}

static fer_status linear_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    fer_layer_rt *l = &m->layers[i];
    fer_linear_args a = linear_args(l, n);
    return FER_OP(m->b, linear_backward, &a, x[0], tdata(m, l->t_weight), dy, dx[0],
                  tgrad(m, l->t_weight), tgrad(m, l->t_bias));
}

/* ---- dropout -------------------------------------------------------------------------- */

static const char *const dropout_keys[] = {"p", NULL};

static fer_status dropout_parse(const cJSON *jl, const char *origin, const char *node,
                             fer_layer_spec *l)
{
    (void)node;
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(jl, "p");
    double p = 0.5;
    if (jp)
        FER_TRY(fer_json_double(jp, origin, "dropout p", 0.0, 0.999999, &p));
    l->p = (float)p;
    return FER_OK;
}

static void dropout_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "p", (double)l->p);
}

static int dropout_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->p == b->p;
}

static fer_status dropout_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    (void)cost;
    if (!(l->p >= 0.0f && l->p < 1.0f))
        return fer_fail(FER_ERR_FORMAT, "%s: %s (dropout) needs 0 <= p < 1", origin, node);
    *out = in[0];
    return FER_OK;
}

static fer_status dropout_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t dropout_seed)
{
    fer_layer_rt *l = &m->layers[i];
    size_t count = (size_t)n * l->out_numel;
    if (!train || l->spec.p == 0.0f)
        return FER_OP(m->b, copy, l->y, x[0], count * sizeof(float));
    l->dropout_seed = fer_dropout_layer_seed(dropout_seed, i);
    return FER_OP(m->b, dropout_forward, count, l->spec.p, l->dropout_seed,
                  (uint64_t)m->sample_offset * l->out_numel, x[0], l->y);
}

static fer_status dropout_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    size_t count = (size_t)n * l->out_numel;
    if (!dx[0])
        return FER_OK;
    if (l->spec.p == 0.0f) /* dx[0] is dy when the planner runs it in place */
        return dx[0] == dy ? FER_OK : FER_OP(m->b, copy, dx[0], dy, count * sizeof(float));
    return FER_OP(m->b, dropout_backward, count, l->spec.p, l->dropout_seed,
                  (uint64_t)m->sample_offset * l->out_numel, dy, dx[0]);
}

/* ---- leaky_relu, relu6, hardswish, sigmoid -----------------------------------------------
 * One backend op pair with the activation as an argument (fer/activation_math.h). Backward reads
 * the layer input x (hardswish's output does not determine its gradient), so forward writes a
 * fresh buffer (plan_output) and keeps x intact; the gradient then goes over dy in place. */

static const char *const leaky_keys[] = {"slope", NULL};

static fer_status leaky_parse(const cJSON *jl, const char *origin, const char *node,
                             fer_layer_spec *l)
{
    char where[64];
    snprintf(where, sizeof where, "%s: slope", node);
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(jl, "slope");
    double slope = 0.01; /* torch.nn.LeakyReLU's default */
    if (js)
        FER_TRY(fer_json_double(js, origin, where, 0.0, 1.0, &slope));
    l->slope = (float)slope;
    return FER_OK;
}

static void leaky_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "slope", (double)l->slope);
}

static int leaky_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->slope == b->slope;
}

static fer_status leaky_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    (void)cost;
    if (!(l->slope >= 0.0f && l->slope <= 1.0f)) /* also refuses NaN */
        return fer_fail(FER_ERR_FORMAT, "%s: %s (leaky_relu) needs 0 <= slope <= 1",
                        origin, node);
    *out = in[0];
    return FER_OK;
}

/* The activation a layer kind applies and its parameter. */
static fer_activation activation_of(const fer_layer_spec *s, float *param)
{
    *param = 0.0f;
    switch (s->kind) {
    case FER_LAYER_LEAKY_RELU: *param = s->slope; return FER_ACT_LEAKY_RELU;
    case FER_LAYER_RELU6: return FER_ACT_RELU6;
    case FER_LAYER_HARDSWISH: return FER_ACT_HARDSWISH;
    default: return FER_ACT_SIGMOID;
    }
}

static fer_status activation_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    float param;
    fer_activation act = activation_of(&l->spec, &param);
    return FER_OP(m->b, activation_forward, act, param, (size_t)n * l->out_numel, x[0], l->y);
}

static fer_status activation_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    fer_layer_rt *l = &m->layers[i];
    float param;
    fer_activation act = activation_of(&l->spec, &param);
    return dx[0] ? FER_OP(m->b, activation_backward, act, param, (size_t)n * l->out_numel, x[0], dy,
                       dx[0])
              : FER_OK;
}

/* ---- avgpool2d, global_avgpool -------------------------------------------------------------
 * One backend op pair (fer/pool_math.h); global_avgpool is the window of the whole plane and
 * keeps the image form C x 1 x 1, so a flatten after it gives the C features. Both count the
 * window additions as multiply-adds. */

static const char *const avgpool_keys[] = {"k", "stride", "pad", NULL};

static fer_status avgpool_parse(const cJSON *jl, const char *origin, const char *node,
                             fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "k", 2, &l->k, origin, node));
    FER_TRY(get_int(jl, "stride", l->k, &l->stride, origin, node));
    return get_int(jl, "pad", 0, &l->pad, origin, node);
}

static void avgpool_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "k", l->k);
    cJSON_AddNumberToObject(jl, "stride", l->stride);
    cJSON_AddNumberToObject(jl, "pad", l->pad);
}

static int avgpool_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->k == b->k && a->stride == b->stride && a->pad == b->pad;
}

static fer_status avgpool_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    /* pad <= k/2 as torch.nn.AvgPool2d requires: every window then overlaps the input */
    if (l->k <= 0 || l->k > FER_MAX_POOL || l->stride <= 0 || l->stride > FER_MAX_POOL ||
        l->pad < 0 || l->pad > l->k / 2)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: %s (avgpool2d) needs 1 <= k, stride <= %d, 0 <= pad <= k/2 "
                        "(got k %d, stride %d, pad %d)", origin, node, FER_MAX_POOL, l->k,
                        l->stride, l->pad);
    long long ph = in[0].h + 2LL * l->pad, pw = in[0].w + 2LL * l->pad;
    long long h = ph < l->k ? 0 : (ph - l->k) / l->stride + 1;
    long long w = pw < l->k ? 0 : (pw - l->k) / l->stride + 1;
    *out = (fer_shape){in[0].c, (int)h, (int)w, 0}; /* h, w <= in + k: fit an int */
    cost->macs = (long long)in[0].c * h * w * l->k * l->k;
    return FER_OK;
}

static fer_status global_avgpool_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                             const char *origin, const char *node, fer_shape *out,
                             fer_layer_cost *cost)
{
    (void)n_in;
    (void)l, (void)origin, (void)node, (void)n_in;
    *out = (fer_shape){in[0].c, 1, 1, 0};
    cost->macs = (long long)in[0].c * in[0].h * in[0].w;
    return FER_OK;
}

static fer_avgpool_args avgpool_args(const fer_layer_rt *l, int n)
{
    fer_avgpool_args a = {n, l->in.c, {l->in.h, l->in.w, l->out.h, l->out.w, 0, 0, 0, 0, 0, 0}};
    if (l->spec.kind == FER_LAYER_GLOBAL_AVGPOOL) {
        a.g.kh = l->in.h, a.g.kw = l->in.w, a.g.sh = a.g.sw = 1;
    } else {
        a.g.kh = a.g.kw = l->spec.k;
        a.g.sh = a.g.sw = l->spec.stride;
        a.g.pad_h = a.g.pad_w = l->spec.pad;
    }
    return a;
}

static fer_status avgpool_forward(fer_model *m, int i, const float *const *x, int n,
                                  int train, uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_avgpool_args a = avgpool_args(l, n);
    return FER_OP(m->b, avgpool_forward, &a, x[0], l->y);
}

static fer_status avgpool_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    fer_avgpool_args a = avgpool_args(l, n);
    return dx[0] ? FER_OP(m->b, avgpool_backward, &a, dy, dx[0]) : FER_OK;
}

/* ---- batchnorm1d ----------------------------------------------------------------------
 * batchnorm2d's math and tensors over a flat vector (one value per feature and sample). */

static fer_status bn1d_forward(fer_model *m, int i, const float *const *x, int n, int train,
                               uint64_t seed)
{
    if (train && n < 2 && !fer_bn_sync_on(m)) /* synchronised: the global count is checked */
        return fer_fail(FER_ERR_ARG,
                        "model: batchnorm1d needs a batch of at least 2 in training (got %d)", n);
    return bn_forward(m, i, x, n, train, seed);
}

/* ---- add ------------------------------------------------------------------------------ */

static fer_status add_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                            const char *origin, const char *node, fer_shape *out,
                            fer_layer_cost *cost)
{
    (void)n_in;
    (void)l, (void)n_in;
    if (in[0].c != in[1].c || in[0].h != in[1].h || in[0].w != in[1].w ||
        in[0].flat != in[1].flat)
        return fer_fail(FER_ERR_FORMAT, "%s: %s (add) needs inputs of one shape (got %dx%dx%d "
                        "and %dx%dx%d)", origin, node, in[0].c, in[0].h, in[0].w, in[1].c,
                        in[1].h, in[1].w);
    *out = in[0];
    cost->macs = (long long)in[0].c * in[0].h * in[0].w;
    return FER_OK;
}

static fer_status add_forward(fer_model *m, int i, const float *const *x, int n, int train,
                              uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    if (l->relu_fused) /* the ReLU after it (plan_fusions) */
        return FER_OP(m->b, add_relu, (size_t)n * l->out_numel, x[0], x[1], l->y);
    return FER_OP(m->b, add, (size_t)n * l->out_numel, x[0], x[1], l->y);
}

/* d(a + b) = dy for both: the first input's gradient is dy's own buffer (FER_GRAD_IN_PLACE),
 * the second a copy */
static fer_status add_backward(fer_model *m, int i, int n, const float *const *x,
                               const float *dy, float *const *dx)
{
    (void)x;
    size_t bytes = (size_t)n * m->layers[i].out_numel * sizeof(float);
    for (int k = 0; k < 2; k++)
        if (dx[k] && dx[k] != dy)
            FER_TRY(FER_OP(m->b, copy, dx[k], dy, bytes));
    return FER_OK;
}

/* ---- concat (channels) ------------------------------------------------------------------ */

static fer_status concat_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                               const char *origin, const char *node, fer_shape *out,
                               fer_layer_cost *cost)
{
    (void)n_in;
    (void)l, (void)cost;
    long long c = 0;
    for (int k = 0; k < n_in; k++) {
        if (in[k].flat != in[0].flat)
            return fer_fail(FER_ERR_FORMAT, "%s: %s (concat) needs all inputs flat or all images",
                            origin, node);
        if (in[k].h != in[0].h || in[k].w != in[0].w)
            return fer_fail(FER_ERR_FORMAT, "%s: %s (concat) needs inputs of one plane size (got "
                            "%dx%d and %dx%d)", origin, node, in[0].h, in[0].w, in[k].h, in[k].w);
        c += in[k].c;
    }
    /* flat vectors (several heads in one output) may be as long as a sample may be */
    long long max_c = in[0].flat ? FER_MAX_SAMPLE_FLOATS : FER_MAX_WIDTH;
    if (c > max_c)
        return fer_fail(FER_ERR_FORMAT, "%s: %s (concat) would have %lld channels (at most %lld)",
                        origin, node, c, max_c);
    *out = (fer_shape){(int)c, in[0].h, in[0].w, in[0].flat};
    return FER_OK;
}

/* The copy back: what a copies from src to dst, from dst to src (the backward of a copy). */
static fer_channel_copy_args reversed_copy(fer_channel_copy_args a)
{
    fer_channel_copy_args r = {a.n, a.hw, a.c, a.dst_c, a.dst_off, a.src_c, a.src_off};
    return r;
}

/* input k's slice of the output: channels [off, off + ins[k].c) */
static fer_channel_copy_args concat_slice(const fer_layer_rt *l, int n, int k)
{
    int off = 0;
    for (int j = 0; j < k; j++)
        off += l->ins[j].c;
    fer_channel_copy_args a = {n, l->out.h * l->out.w, l->ins[k].c, l->ins[k].c, 0, l->out.c, off};
    return a;
}

static fer_status concat_forward(fer_model *m, int i, const float *const *x, int n, int train,
                                 uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    for (int k = 0; k < l->n_in; k++) {
        fer_channel_copy_args a = concat_slice(l, n, k);
        FER_TRY(FER_OP(m->b, channel_copy, &a, x[k], l->y));
    }
    return FER_OK;
}

static fer_status concat_backward(fer_model *m, int i, int n, const float *const *x,
                                  const float *dy, float *const *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    for (int k = 0; k < l->n_in; k++) {
        if (!dx[k])
            continue;
        fer_channel_copy_args a = reversed_copy(concat_slice(l, n, k));
        FER_TRY(FER_OP(m->b, channel_copy, &a, dy, dx[k]));
    }
    return FER_OK;
}

/* ---- channel_pad ------------------------------------------------------------------------ */

static const char *const channel_pad_keys[] = {"out", NULL};

static fer_status channel_pad_parse(const cJSON *jl, const char *origin, const char *node,
                                    fer_layer_spec *l)
{
    return get_int(jl, "out", 0, &l->out, origin, node);
}

static void channel_pad_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "out", l->out);
}

static int channel_pad_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->out == b->out;
}

static fer_status channel_pad_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                                    const char *origin, const char *node, fer_shape *out,
                                    fer_layer_cost *cost)
{
    (void)n_in;
    (void)n_in, (void)cost;
    if (l->out < in[0].c || l->out > FER_MAX_WIDTH)
        return fer_fail(FER_ERR_FORMAT, "%s: %s (channel_pad) needs in channels %d <= out <= %d "
                        "(got out %d)", origin, node, in[0].c, FER_MAX_WIDTH, l->out);
    *out = (fer_shape){l->out, in[0].h, in[0].w, 0};
    return FER_OK;
}

static fer_channel_copy_args channel_pad_copy(const fer_layer_rt *l, int n)
{
    fer_channel_copy_args a = {n, l->in.h * l->in.w, l->in.c, l->in.c, 0, l->out.c, 0};
    return a;
}

static fer_status channel_pad_forward(fer_model *m, int i, const float *const *x, int n,
                                      int train, uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_channel_copy_args a = channel_pad_copy(l, n);
    FER_TRY(FER_OP(m->b, fill, l->y, 0.0f, (size_t)n * l->out_numel));
    return FER_OP(m->b, channel_copy, &a, x[0], l->y);
}

static fer_status channel_pad_backward(fer_model *m, int i, int n, const float *const *x,
                                       const float *dy, float *const *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    if (!dx[0])
        return FER_OK;
    fer_channel_copy_args a = reversed_copy(channel_pad_copy(l, n));
    return FER_OP(m->b, channel_copy, &a, dy, dx[0]);
}

/* ---- mul (gates) ------------------------------------------------------------------------ */

static fer_status mul_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                            const char *origin, const char *node, fer_shape *out,
                            fer_layer_cost *cost)
{
    (void)n_in;
    (void)l, (void)n_in;
    int same = in[1].c == in[0].c && in[1].h == in[0].h && in[1].w == in[0].w &&
               in[1].flat == in[0].flat;
    int gate = in[1].c == in[0].c && in[1].h == 1 && in[1].w == 1;
    if (!same && !gate)
        return fer_fail(FER_ERR_FORMAT, "%s: %s (mul) needs a second input of the first's shape "
                        "%dx%dx%d or %d values per sample (got %dx%dx%d)", origin, node, in[0].c,
                        in[0].h, in[0].w, in[0].c, in[1].c, in[1].h, in[1].w);
    *out = in[0];
    cost->macs = (long long)in[0].c * in[0].h * in[0].w;
    return FER_OK;
}

static fer_mul_args mul_args(const fer_layer_rt *l, int n)
{
    int hw = l->ins[0].h * l->ins[0].w;
    fer_mul_args a = {n, l->ins[0].c, hw, l->ins[1].h * l->ins[1].w};
    return a;
}

static fer_status mul_forward(fer_model *m, int i, const float *const *x, int n, int train,
                              uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_mul_args a = mul_args(l, n);
    return FER_OP(m->b, mul_forward, &a, x[0], x[1], l->y);
}

static fer_status mul_backward(fer_model *m, int i, int n, const float *const *x,
                               const float *dy, float *const *dx)
{
    fer_layer_rt *l = &m->layers[i];
    fer_mul_args a = mul_args(l, n);
    if (!dx[0] && !dx[1])
        return FER_OK;
    return FER_OP(m->b, mul_backward, &a, x[0], x[1], dy, dx[0], dx[1]);
}

/* ---- prelu ------------------------------------------------------------------------------ */

static fer_status prelu_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                              const char *origin, const char *node, fer_shape *out,
                              fer_layer_cost *cost)
{
    (void)n_in;
    (void)l, (void)n_in, (void)origin, (void)node;
    *out = in[0];
    cost->params = in[0].c;
    cost->tensors = 1;
    return FER_OK;
}

static fer_status prelu_declare(fer_model *m, int i, int *cap)
{
    fer_layer_rt *l = &m->layers[i];
    int c = l->in.c;
    l->t_weight = add_layer_tensor(m, cap, i, "weight", FER_TENSOR_PARAM, 1, &c);
    return l->t_weight < 0 ? fer_fail(FER_ERR_NOMEM, "model: out of memory") : FER_OK;
}

static fer_prelu_args prelu_args(const fer_layer_rt *l, int n)
{
    fer_prelu_args a = {n, l->in.c, l->in.h * l->in.w};
    return a;
}

static fer_status prelu_forward(fer_model *m, int i, const float *const *x, int n, int train,
                                uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_prelu_args a = prelu_args(l, n);
    return FER_OP(m->b, prelu_forward, &a, x[0], tdata(m, l->t_weight), l->y);
}

static fer_status prelu_backward(fer_model *m, int i, int n, const float *const *x,
                                 const float *dy, float *const *dx)
{
    fer_layer_rt *l = &m->layers[i];
    fer_prelu_args a = prelu_args(l, n);
    return FER_OP(m->b, prelu_backward, &a, x[0], tdata(m, l->t_weight), dy, dx[0],
                  tgrad(m, l->t_weight));
}

/* ---- pad2d ------------------------------------------------------------------------------
 * Zero rows and columns around each plane, possibly more after than before (TensorFlow's
 * "SAME" padding at stride 2 on even sizes): one gather per output element, and the backward
 * gathers the input window of dy, so neither needs the other's buffer. */

static const char *const pad2d_keys[] = {"top", "left", "bottom", "right", NULL};

static fer_status pad2d_parse(const cJSON *jl, const char *origin, const char *node,
                              fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "top", 0, &l->pad_top, origin, node));
    FER_TRY(get_int(jl, "left", 0, &l->pad_left, origin, node));
    FER_TRY(get_int(jl, "bottom", 0, &l->pad_bottom, origin, node));
    return get_int(jl, "right", 0, &l->pad_right, origin, node);
}

static void pad2d_print(const fer_layer_spec *l, cJSON *jl)
{
    cJSON_AddNumberToObject(jl, "top", l->pad_top);
    cJSON_AddNumberToObject(jl, "left", l->pad_left);
    cJSON_AddNumberToObject(jl, "bottom", l->pad_bottom);
    cJSON_AddNumberToObject(jl, "right", l->pad_right);
}

static int pad2d_same(const fer_layer_spec *a, const fer_layer_spec *b)
{
    return a->pad_top == b->pad_top && a->pad_left == b->pad_left &&
           a->pad_bottom == b->pad_bottom && a->pad_right == b->pad_right;
}

static fer_status pad2d_infer(const fer_layer_spec *l, const fer_shape *in, int n_in,
                              const char *origin, const char *node, fer_shape *out,
                              fer_layer_cost *cost)
{
    (void)n_in, (void)cost;
    const int pads[4] = {l->pad_top, l->pad_left, l->pad_bottom, l->pad_right};
    for (int k = 0; k < 4; k++)
        if (pads[k] < 0 || pads[k] > FER_MAX_CONV_KERNEL)
            return fer_fail(FER_ERR_FORMAT,
                            "%s: %s (pad2d) needs top, left, bottom, right in 0..%d (got %d, %d, "
                            "%d, %d)", origin, node, FER_MAX_CONV_KERNEL, l->pad_top,
                            l->pad_left, l->pad_bottom, l->pad_right);
    /* in.h, in.w <= FER_MAX_SAMPLE_FLOATS, pads <= 64: the sums fit an int */
    *out = (fer_shape){in[0].c, in[0].h + l->pad_top + l->pad_bottom,
                       in[0].w + l->pad_left + l->pad_right, 0};
    return FER_OK;
}

static fer_pad2d_args pad2d_args(const fer_layer_rt *l, int n)
{
    fer_pad2d_args a = {n * l->in.c, l->in.h, l->in.w, l->spec.pad_top, l->spec.pad_left,
                        l->spec.pad_bottom, l->spec.pad_right};
    return a;
}

static fer_status pad2d_forward(fer_model *m, int i, const float *const *x, int n, int train,
                                uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_pad2d_args a = pad2d_args(l, n);
    return FER_OP(m->b, pad2d_forward, &a, x[0], l->y);
}

static fer_status pad2d_backward(fer_model *m, int i, int n, const float *const *x,
                                 const float *dy, float *const *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    if (!dx[0])
        return FER_OK;
    fer_pad2d_args a = pad2d_args(l, n);
    return FER_OP(m->b, pad2d_backward, &a, dy, dx[0]);
}

/* ---- the table ------------------------------------------------------------------------ */

static const char *const no_keys[] = {NULL};

/* One input, parameter-free, same shape, gradient over dy: the element-wise activations */
#define ELEMENTWISE(name, infer_fn, plan_fn, fwd, bwd)                                         \
    {.type = name, .keys = no_keys, .min_inputs = 1, .max_inputs = 1,                         \
     .grad = FER_GRAD_IN_PLACE, .infer = infer_fn, .plan = plan_fn, .forward = fwd,           \
     .backward = bwd}

static const fer_layer_op layer_ops[] = {
    [FER_LAYER_CONV2D] = {.type = "conv2d", .keys = conv_keys, .image_input = 1,
                          .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                          .parse = conv_parse, .print = conv_print, .same = conv_same,
                          .infer = conv_infer, .declare = conv_declare, .fan_in = conv_fan_in,
                          .plan = plan_output, .forward = conv_forward,
                          .backward = conv_backward},
    [FER_LAYER_BATCHNORM2D] = {.type = "batchnorm2d", .keys = no_keys, .image_input = 1,
                               .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                               .weight_fill = 1.0f, .infer = bn_infer, .declare = bn_declare,
                               .plan = bn_plan, .forward = bn_forward, .backward = bn_backward},
    [FER_LAYER_RELU] = ELEMENTWISE("relu", same_shape, plan_in_place, relu_forward,
                                   relu_backward),
    [FER_LAYER_MAXPOOL2D] = {.type = "maxpool2d", .keys = pool_keys, .image_input = 1,
                             .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                             .parse = pool_parse, .print = pool_print, .same = pool_same,
                             .infer = pool_infer, .plan = pool_plan, .forward = pool_forward,
                             .backward = pool_backward},
    [FER_LAYER_FLATTEN] = {.type = "flatten", .keys = no_keys, .min_inputs = 1,
                           .max_inputs = 1, .grad = FER_GRAD_SHARED, .infer = flatten_infer,
                           .plan = plan_view, .forward = flatten_forward},
    [FER_LAYER_LINEAR] = {.type = "linear", .keys = linear_keys, .flat_input = 1,
                          .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                          .parse = linear_parse, .print = linear_print, .same = linear_same,
                          .infer = linear_infer, .declare = linear_declare,
                          .fan_in = linear_fan_in, .plan = plan_output,
                          .forward = linear_forward, .backward = linear_backward},
    [FER_LAYER_DROPOUT] = {.type = "dropout", .keys = dropout_keys, .min_inputs = 1,
                           .max_inputs = 1, .grad = FER_GRAD_IN_PLACE, .parse = dropout_parse,
                           .print = dropout_print, .same = dropout_same, .infer = dropout_infer,
                           .plan = plan_output, .forward = dropout_forward,
                           .backward = dropout_backward},
    [FER_LAYER_LEAKY_RELU] = {.type = "leaky_relu", .keys = leaky_keys, .min_inputs = 1,
                              .max_inputs = 1, .grad = FER_GRAD_IN_PLACE, .parse = leaky_parse,
                              .print = leaky_print, .same = leaky_same, .infer = leaky_infer,
                              .plan = plan_output, .forward = activation_forward,
                              .backward = activation_backward},
    [FER_LAYER_RELU6] = ELEMENTWISE("relu6", same_shape, plan_output, activation_forward,
                                    activation_backward),
    [FER_LAYER_HARDSWISH] = ELEMENTWISE("hardswish", same_shape, plan_output, activation_forward,
                                        activation_backward),
    [FER_LAYER_SIGMOID] = ELEMENTWISE("sigmoid", same_shape, plan_output, activation_forward,
                                      activation_backward),
    [FER_LAYER_GLOBAL_AVGPOOL] = {.type = "global_avgpool", .keys = no_keys, .image_input = 1,
                                  .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                                  .infer = global_avgpool_infer, .plan = plan_output,
                                  .forward = avgpool_forward, .backward = avgpool_backward},
    [FER_LAYER_AVGPOOL2D] = {.type = "avgpool2d", .keys = avgpool_keys, .image_input = 1,
                             .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                             .parse = avgpool_parse, .print = avgpool_print,
                             .same = avgpool_same, .infer = avgpool_infer, .plan = plan_output,
                             .forward = avgpool_forward, .backward = avgpool_backward},
    [FER_LAYER_ADD] = {.type = "add", .keys = no_keys, .min_inputs = 2, .max_inputs = 2,
                       .grad = FER_GRAD_IN_PLACE, .infer = add_infer, .plan = plan_output,
                       .forward = add_forward, .backward = add_backward},
    [FER_LAYER_CONCAT] = {.type = "concat", .keys = no_keys, .min_inputs = 2,
                          .max_inputs = FER_MAX_INPUTS, .grad = FER_GRAD_NEW,
                          .infer = concat_infer, .plan = plan_output,
                          .forward = concat_forward, .backward = concat_backward},
    [FER_LAYER_MUL] = {.type = "mul", .keys = no_keys, .min_inputs = 2, .max_inputs = 2,
                       .grad = FER_GRAD_NEW, .infer = mul_infer, .plan = plan_output,
                       .forward = mul_forward, .backward = mul_backward},
    [FER_LAYER_CHANNEL_PAD] = {.type = "channel_pad", .keys = channel_pad_keys,
                               .image_input = 1, .min_inputs = 1, .max_inputs = 1,
                               .grad = FER_GRAD_NEW, .parse = channel_pad_parse,
                               .print = channel_pad_print, .same = channel_pad_same,
                               .infer = channel_pad_infer, .plan = plan_output,
                               .forward = channel_pad_forward,
                               .backward = channel_pad_backward},
    [FER_LAYER_PRELU] = {.type = "prelu", .keys = no_keys, .min_inputs = 1, .max_inputs = 1,
                         .grad = FER_GRAD_IN_PLACE, .weight_fill = 0.25f, .infer = prelu_infer,
                         .declare = prelu_declare, .plan = plan_output,
                         .forward = prelu_forward, .backward = prelu_backward},
    [FER_LAYER_BATCHNORM1D] = {.type = "batchnorm1d", .keys = no_keys, .flat_input = 1,
                               .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                               .weight_fill = 1.0f, .infer = bn_infer, .declare = bn_declare,
                               .plan = bn_plan, .forward = bn1d_forward,
                               .backward = bn_backward},
    [FER_LAYER_PAD2D] = {.type = "pad2d", .keys = pad2d_keys, .image_input = 1,
                         .min_inputs = 1, .max_inputs = 1, .grad = FER_GRAD_NEW,
                         .parse = pad2d_parse, .print = pad2d_print, .same = pad2d_same,
                         .infer = pad2d_infer, .plan = plan_output, .forward = pad2d_forward,
                         .backward = pad2d_backward},
};

#define N_LAYER_KINDS ((int)(sizeof layer_ops / sizeof *layer_ops))

const fer_layer_op *fer_layer_op_of(fer_layer_kind kind)
{
    return (int)kind >= 0 && (int)kind < N_LAYER_KINDS ? &layer_ops[kind] : NULL;
}

int fer_layer_kind_named(const char *type)
{
    for (int k = 0; k < N_LAYER_KINDS; k++)
        if (strcmp(layer_ops[k].type, type) == 0)
            return k;
    return -1;
}

const char *fer_layer_kind_name(fer_layer_kind k)
{
    const fer_layer_op *op = fer_layer_op_of(k);
    return op ? op->type : "?";
}

void *fer_act_take(fer_act_plan *p, size_t bytes)
{
    size_t at = p->cursor;
    p->cursor += (bytes + 63) / 64 * 64;
    return p->base ? p->base + at : NULL;
}
