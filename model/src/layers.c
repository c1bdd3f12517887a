/* The layer table (see layer_ops.h): conv2d, batchnorm2d, relu, maxpool2d, flatten, linear,
 * dropout, leaky_relu, relu6, hardswish, sigmoid, global_avgpool, avgpool2d, each one entry from
 * JSON fields to backward pass. */
#include <stdio.h>
#include <string.h>

#include "fer/activation_math.h"
#include "fer/dropout_math.h"
#include "fer/json_num.h"
#include "fer/layer_math.h"
#include "layer_ops.h"

/* ---- shared helpers ------------------------------------------------------------------- */

/* An integer field; the wide range only guards the conversion, infer applies the caps. */
static fer_status get_int(const cJSON *jl, const char *key, int def, int *out, const char *origin,
                          int i)
{
    char where[64];
    snprintf(where, sizeof where, "layer %d: %s", i, key);
    long long v;
    FER_TRY(fer_json_int_opt(cJSON_GetObjectItemCaseSensitive(jl, key), origin, where,
                         -1000000000LL, 1000000000LL, def, &v));
    *out = (int)v;
    return FER_OK;
}

static fer_status get_bool(const cJSON *jl, const char *key, int def, int *out,
                           const char *origin, int i)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(jl, key);
    if (!v) {
        *out = def;
        return FER_OK;
    }
    if (!cJSON_IsBool(v))
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d: \"%s\" must be true or false", origin, i,
                        key);
    *out = cJSON_IsTrue(v);
    return FER_OK;
}

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

static void plan_output(fer_layer_rt *l, fer_act_plan *p, float *prev)
{
    (void)prev;
    l->y = fer_act_take(p, p->batch * l->out_numel * sizeof(float));
}

/* relu and flatten: the output is the input's memory */
static void plan_alias(fer_layer_rt *l, fer_act_plan *p, float *prev)
{
    (void)p;
    l->y = prev;
}

/* ---- conv2d --------------------------------------------------------------------------- */

static const char *const conv_keys[] = {"out", "k", "stride", "pad", "bias", "groups", NULL};

static fer_status conv_parse(const cJSON *jl, const char *origin, int i, fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "out", 0, &l->out, origin, i));
    FER_TRY(get_int(jl, "k", 3, &l->k, origin, i));
    FER_TRY(get_int(jl, "stride", 1, &l->stride, origin, i));
    FER_TRY(get_int(jl, "pad", 0, &l->pad, origin, i));
    FER_TRY(get_int(jl, "groups", 1, &l->groups, origin, i));
    return get_bool(jl, "bias", 1, &l->bias, origin, i);
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

static fer_status conv_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                             fer_shape *out, fer_layer_cost *cost)
{
    if (l->out <= 0 || l->out > FER_MAX_WIDTH || l->k <= 0 || l->k > FER_MAX_CONV_KERNEL ||
        l->stride <= 0 || l->stride > FER_MAX_CONV_KERNEL || l->pad < 0 || l->pad > l->k)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: layer %d (conv2d) needs 1 <= out <= %d, 1 <= k <= %d, "
                        "1 <= stride <= %d, 0 <= pad <= k (got out %d, k %d, stride %d, "
                        "pad %d)", origin, i, FER_MAX_WIDTH, FER_MAX_CONV_KERNEL,
                        FER_MAX_CONV_KERNEL, l->out, l->k, l->stride, l->pad);
    if (l->groups < 1 || in.c % l->groups != 0 || l->out % l->groups != 0)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: layer %d (conv2d) needs groups >= 1 dividing in channels %d and "
                        "out %d (got groups %d)", origin, i, in.c, l->out, l->groups);
    long long h = in.h + 2LL * l->pad < l->k ? 0 : (in.h + 2LL * l->pad - l->k) / l->stride + 1;
    long long w = in.w + 2LL * l->pad < l->k ? 0 : (in.w + 2LL * l->pad - l->k) / l->stride + 1;
    *out = (fer_shape){l->out, (int)h, (int)w, 0}; /* h, w <= in + 2k: fit an int */
    long long in_per_group = in.c / l->groups; /* each output channel sees one group */
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

static fer_conv2d_args conv_args(const fer_layer_rt *l, int n)
{
    fer_conv2d_args a = {n, l->in.c, l->in.h, l->in.w, l->out.c, l->out.h, l->out.w,
                         l->spec.k, l->spec.stride, l->spec.pad, l->spec.bias,
                         l->spec.groups};
    return a;
}

static fer_status conv_forward(fer_model *m, int i, const float *x, int n, int train,
                               uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_conv2d_args a = conv_args(l, n);
    return FER_OP(m->b, conv2d_forward, &a, x, tdata(m, l->t_weight), tdata(m, l->t_bias), l->y);
}

static fer_status conv_backward(fer_model *m, int i, int n, const float *x, const float *dy,
                                float *dx)
{
    fer_layer_rt *l = &m->layers[i];
    fer_conv2d_args a = conv_args(l, n);
    return FER_OP(m->b, conv2d_backward, &a, x, tdata(m, l->t_weight), dy, dx,
                  tgrad(m, l->t_weight), tgrad(m, l->t_bias));
}

/* ---- batchnorm2d ---------------------------------------------------------------------- */

static fer_status bn_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                           fer_shape *out, fer_layer_cost *cost)
{
    (void)l, (void)origin, (void)i;
    *out = in;
    cost->params = 2LL * in.c;
    cost->buffers = 2LL * in.c + 1;
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

static void bn_plan(fer_layer_rt *l, fer_act_plan *p, float *prev)
{
    plan_output(l, p, prev);
    l->save_mean = fer_act_take(p, (size_t)l->out.c * sizeof(float));
    l->save_invstd = fer_act_take(p, (size_t)l->out.c * sizeof(float));
}

static fer_bn_args bn_args(const fer_layer_rt *l, int n)
{
    fer_bn_args a = {n, l->in.c, l->in.h * l->in.w, 1e-5f, 0.1f};
    return a;
}

static fer_status bump_batches_tracked(fer_model *m, int t)
{
    float v;
    FER_TRY(FER_OP(m->b, download, &v, m->tensors[t].data, sizeof v));
    v += 1.0f;
    return FER_OP(m->b, upload, m->tensors[t].data, &v, sizeof v);
}

static fer_status bn_forward(fer_model *m, int i, const float *x, int n, int train,
                             uint64_t seed)
{
    (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_bn_args a = bn_args(l, n);
    if (train && (size_t)n * l->in.h * l->in.w < 2)
        return fer_fail(FER_ERR_ARG,
                        "model: batch norm needs more than one value per channel in training "
                        "(batch %d of %dx%d)", n, l->in.h, l->in.w);
    FER_TRY(FER_OP(m->b, batchnorm_forward, &a, train, x, tdata(m, l->t_weight),
                   tdata(m, l->t_bias), tdata(m, l->t_running_mean),
                   tdata(m, l->t_running_var), l->y, l->save_mean, l->save_invstd));
    return train ? bump_batches_tracked(m, l->t_nbt) : FER_OK;
}

static fer_status bn_backward(fer_model *m, int i, int n, const float *x, const float *dy,
                              float *dx)
{
    fer_layer_rt *l = &m->layers[i];
    fer_bn_args a = bn_args(l, n);
    return FER_OP(m->b, batchnorm_backward, &a, x, tdata(m, l->t_weight), l->save_mean,
                  l->save_invstd, dy, dx, tgrad(m, l->t_weight), tgrad(m, l->t_bias));
}

/* ---- relu ----------------------------------------------------------------------------- */

static fer_status same_shape(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                             fer_shape *out, fer_layer_cost *cost)
{
    (void)l, (void)origin, (void)i, (void)cost;
    *out = in;
    return FER_OK;
}

static fer_status relu_forward(fer_model *m, int i, const float *x, int n, int train,
                               uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    return FER_OP(m->b, relu_forward, (size_t)n * l->out_numel, x, l->y);
}

static fer_status relu_backward(fer_model *m, int i, int n, const float *x, const float *dy,
                                float *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    return dx ? FER_OP(m->b, relu_backward, (size_t)n * l->out_numel, l->y, dy, dx) : FER_OK;
}

/* ---- maxpool2d ------------------------------------------------------------------------ */

static const char *const pool_keys[] = {"k", "stride", NULL};

static fer_status pool_parse(const cJSON *jl, const char *origin, int i, fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "k", 2, &l->k, origin, i));
    return get_int(jl, "stride", l->k, &l->stride, origin, i);
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

static fer_status pool_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                             fer_shape *out, fer_layer_cost *cost)
{
    (void)cost;
    if (l->k <= 0 || l->k > FER_MAX_POOL || l->stride <= 0 || l->stride > FER_MAX_POOL)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: layer %d (maxpool2d) needs 1 <= k, stride <= %d (got k %d, "
                        "stride %d)", origin, i, FER_MAX_POOL, l->k, l->stride);
    *out = (fer_shape){in.c, fer_pool_out_size(in.h, l->k, l->stride),
                       fer_pool_out_size(in.w, l->k, l->stride), 0};
    return FER_OK;
}

static void pool_plan(fer_layer_rt *l, fer_act_plan *p, float *prev)
{
    plan_output(l, p, prev);
    l->argmax = fer_act_take(p, p->batch * l->out_numel * sizeof(int32_t));
}

static fer_pool_args pool_args(const fer_layer_rt *l, int n)
{
    fer_pool_args a = {n, l->in.c, l->in.h, l->in.w, l->out.h, l->out.w, l->spec.k,
                       l->spec.stride};
    return a;
}

static fer_status pool_forward(fer_model *m, int i, const float *x, int n, int train,
                               uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_pool_args a = pool_args(l, n);
    return FER_OP(m->b, maxpool_forward, &a, x, l->y, l->argmax);
}

static fer_status pool_backward(fer_model *m, int i, int n, const float *x, const float *dy,
                                float *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    fer_pool_args a = pool_args(l, n);
    return dx ? FER_OP(m->b, maxpool_backward, &a, l->argmax, dy, dx) : FER_OK;
}

/* ---- flatten -------------------------------------------------------------------------- */

static fer_status flatten_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                                fer_shape *out, fer_layer_cost *cost)
{
    (void)l, (void)origin, (void)i, (void)cost;
    /* in.c * in.h * in.w <= FER_MAX_SAMPLE_FLOATS: every shape was checked against it */
    *out = (fer_shape){in.c * in.h * in.w, 1, 1, 1};
    return FER_OK;
}

static fer_status flatten_forward(fer_model *m, int i, const float *x, int n, int train,
                                  uint64_t seed)
{
    (void)m, (void)i, (void)x, (void)n, (void)train, (void)seed;
    return FER_OK;
}

/* ---- linear --------------------------------------------------------------------------- */

static const char *const linear_keys[] = {"out", "bias", NULL};

static fer_status linear_parse(const cJSON *jl, const char *origin, int i, fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "out", 0, &l->out, origin, i));
    return get_bool(jl, "bias", 1, &l->bias, origin, i);
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

static fer_status linear_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                               fer_shape *out, fer_layer_cost *cost)
{
    if (l->out <= 0 || l->out > FER_MAX_WIDTH)
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d (linear) needs 1 <= out <= %d (got %d)",
                        origin, i, FER_MAX_WIDTH, l->out);
    *out = (fer_shape){l->out, 1, 1, 1};
    cost->params = (long long)l->out * in.c + (l->bias ? l->out : 0);
    cost->tensors = l->bias ? 2 : 1;
    cost->macs = (long long)l->out * in.c;
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

static fer_status linear_forward(fer_model *m, int i, const float *x, int n, int train,
                                 uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_linear_args a = linear_args(l, n);
    return FER_OP(m->b, linear_forward, &a, x, tdata(m, l->t_weight), tdata(m, l->t_bias), l->y);
}

static fer_status linear_backward(fer_model *m, int i, int n, const float *x, const float *dy,
                                  float *dx)
{
    fer_layer_rt *l = &m->layers[i];
    fer_linear_args a = linear_args(l, n);
    return FER_OP(m->b, linear_backward, &a, x, tdata(m, l->t_weight), dy, dx,
                  tgrad(m, l->t_weight), tgrad(m, l->t_bias));
}

/* ---- dropout -------------------------------------------------------------------------- */

static const char *const dropout_keys[] = {"p", NULL};

static fer_status dropout_parse(const cJSON *jl, const char *origin, int i, fer_layer_spec *l)
{
    (void)i;
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

static fer_status dropout_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                                fer_shape *out, fer_layer_cost *cost)
{
    (void)cost;
    if (!(l->p >= 0.0f && l->p < 1.0f))
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d (dropout) needs 0 <= p < 1", origin, i);
    *out = in;
    return FER_OK;
}

static fer_status dropout_forward(fer_model *m, int i, const float *x, int n, int train,
                                  uint64_t dropout_seed)
{
    fer_layer_rt *l = &m->layers[i];
    size_t count = (size_t)n * l->out_numel;
    if (!train || l->spec.p == 0.0f)
        return FER_OP(m->b, copy, l->y, x, count * sizeof(float));
    l->dropout_seed = fer_dropout_layer_seed(dropout_seed, i);
    return FER_OP(m->b, dropout_forward, count, l->spec.p, l->dropout_seed, x, l->y);
}

static fer_status dropout_backward(fer_model *m, int i, int n, const float *x, const float *dy,
                                   float *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    size_t count = (size_t)n * l->out_numel;
    if (!dx)
        return FER_OK;
    if (l->spec.p == 0.0f)
        return FER_OP(m->b, copy, dx, dy, count * sizeof(float));
    return FER_OP(m->b, dropout_backward, count, l->spec.p, l->dropout_seed, dy, dx);
}

/* ---- leaky_relu, relu6, hardswish, sigmoid -----------------------------------------------
 * One backend op pair with the activation as an argument (fer/activation_math.h). Backward reads
 * the layer input x (hardswish's output does not determine its gradient), so forward writes a
 * fresh buffer (plan_output) and keeps x intact; the gradient then goes over dy in place. */

static const char *const leaky_keys[] = {"slope", NULL};

static fer_status leaky_parse(const cJSON *jl, const char *origin, int i, fer_layer_spec *l)
{
    char where[64];
    snprintf(where, sizeof where, "layer %d: slope", i);
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

static fer_status leaky_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                              fer_shape *out, fer_layer_cost *cost)
{
    (void)cost;
    if (!(l->slope >= 0.0f && l->slope <= 1.0f)) /* also refuses NaN */
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d (leaky_relu) needs 0 <= slope <= 1",
                        origin, i);
    *out = in;
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

static fer_status activation_forward(fer_model *m, int i, const float *x, int n, int train,
                                     uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    float param;
    fer_activation act = activation_of(&l->spec, &param);
    return FER_OP(m->b, activation_forward, act, param, (size_t)n * l->out_numel, x, l->y);
}

static fer_status activation_backward(fer_model *m, int i, int n, const float *x,
                                      const float *dy, float *dx)
{
    fer_layer_rt *l = &m->layers[i];
    float param;
    fer_activation act = activation_of(&l->spec, &param);
    return dx ? FER_OP(m->b, activation_backward, act, param, (size_t)n * l->out_numel, x, dy,
                       dx)
              : FER_OK;
}

/* ---- avgpool2d, global_avgpool -------------------------------------------------------------
 * One backend op pair (fer/pool_math.h); global_avgpool is the window of the whole plane and
 * keeps the image form C x 1 x 1, so a flatten after it gives the C features. Both count the
 * window additions as multiply-adds. */

static const char *const avgpool_keys[] = {"k", "stride", "pad", NULL};

static fer_status avgpool_parse(const cJSON *jl, const char *origin, int i, fer_layer_spec *l)
{
    FER_TRY(get_int(jl, "k", 2, &l->k, origin, i));
    FER_TRY(get_int(jl, "stride", l->k, &l->stride, origin, i));
    return get_int(jl, "pad", 0, &l->pad, origin, i);
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

static fer_status avgpool_infer(const fer_layer_spec *l, fer_shape in, const char *origin, int i,
                                fer_shape *out, fer_layer_cost *cost)
{
    /* pad <= k/2 as torch.nn.AvgPool2d requires: every window then overlaps the input */
    if (l->k <= 0 || l->k > FER_MAX_POOL || l->stride <= 0 || l->stride > FER_MAX_POOL ||
        l->pad < 0 || l->pad > l->k / 2)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: layer %d (avgpool2d) needs 1 <= k, stride <= %d, 0 <= pad <= k/2 "
                        "(got k %d, stride %d, pad %d)", origin, i, FER_MAX_POOL, l->k,
                        l->stride, l->pad);
    long long ph = in.h + 2LL * l->pad, pw = in.w + 2LL * l->pad;
    long long h = ph < l->k ? 0 : (ph - l->k) / l->stride + 1;
    long long w = pw < l->k ? 0 : (pw - l->k) / l->stride + 1;
    *out = (fer_shape){in.c, (int)h, (int)w, 0}; /* h, w <= in + k: fit an int */
    cost->macs = (long long)in.c * h * w * l->k * l->k;
    return FER_OK;
}

static fer_status global_avgpool_infer(const fer_layer_spec *l, fer_shape in, const char *origin,
                                       int i, fer_shape *out, fer_layer_cost *cost)
{
    (void)l, (void)origin, (void)i;
    *out = (fer_shape){in.c, 1, 1, 0};
    cost->macs = (long long)in.c * in.h * in.w;
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

static fer_status avgpool_forward(fer_model *m, int i, const float *x, int n, int train,
                                  uint64_t seed)
{
    (void)train, (void)seed;
    fer_layer_rt *l = &m->layers[i];
    fer_avgpool_args a = avgpool_args(l, n);
    return FER_OP(m->b, avgpool_forward, &a, x, l->y);
}

static fer_status avgpool_backward(fer_model *m, int i, int n, const float *x, const float *dy,
                                   float *dx)
{
    (void)x;
    fer_layer_rt *l = &m->layers[i];
    fer_avgpool_args a = avgpool_args(l, n);
    return dx ? FER_OP(m->b, avgpool_backward, &a, dy, dx) : FER_OK;
}

/* ---- the table ------------------------------------------------------------------------ */

static const char *const no_keys[] = {NULL};

static const fer_layer_op layer_ops[] = {
    [FER_LAYER_CONV2D] = {"conv2d", conv_keys, 1, 0, FER_GRAD_NEW, conv_parse, conv_print,
                          conv_same, conv_infer, conv_declare, conv_fan_in, plan_output,
                          conv_forward, conv_backward},
    [FER_LAYER_BATCHNORM2D] = {"batchnorm2d", no_keys, 1, 0, FER_GRAD_NEW, NULL, NULL, NULL,
                               bn_infer, bn_declare, NULL, bn_plan, bn_forward, bn_backward},
    [FER_LAYER_RELU] = {"relu", no_keys, 0, 0, FER_GRAD_IN_PLACE, NULL, NULL, NULL, same_shape,
                        NULL, NULL, plan_alias, relu_forward, relu_backward},
    [FER_LAYER_MAXPOOL2D] = {"maxpool2d", pool_keys, 1, 0, FER_GRAD_NEW, pool_parse, pool_print,
                             pool_same, pool_infer, NULL, NULL, pool_plan, pool_forward,
                             pool_backward},
    [FER_LAYER_FLATTEN] = {"flatten", no_keys, 0, 0, FER_GRAD_SHARED, NULL, NULL, NULL,
                           flatten_infer, NULL, NULL, plan_alias, flatten_forward, NULL},
    [FER_LAYER_LINEAR] = {"linear", linear_keys, 0, 1, FER_GRAD_NEW, linear_parse, linear_print,
                          linear_same, linear_infer, linear_declare, linear_fan_in, plan_output,
                          linear_forward, linear_backward},
    [FER_LAYER_DROPOUT] = {"dropout", dropout_keys, 0, 0, FER_GRAD_IN_PLACE, dropout_parse,
                           dropout_print, dropout_same, dropout_infer, NULL, NULL, plan_output,
                           dropout_forward, dropout_backward},
    [FER_LAYER_LEAKY_RELU] = {"leaky_relu", leaky_keys, 0, 0, FER_GRAD_IN_PLACE, leaky_parse,
                              leaky_print, leaky_same, leaky_infer, NULL, NULL, plan_output,
                              activation_forward, activation_backward},
    [FER_LAYER_RELU6] = {"relu6", no_keys, 0, 0, FER_GRAD_IN_PLACE, NULL, NULL, NULL, same_shape,
                         NULL, NULL, plan_output, activation_forward, activation_backward},
    [FER_LAYER_HARDSWISH] = {"hardswish", no_keys, 0, 0, FER_GRAD_IN_PLACE, NULL, NULL, NULL,
                             same_shape, NULL, NULL, plan_output, activation_forward,
                             activation_backward},
    [FER_LAYER_SIGMOID] = {"sigmoid", no_keys, 0, 0, FER_GRAD_IN_PLACE, NULL, NULL, NULL,
                           same_shape, NULL, NULL, plan_output, activation_forward,
                           activation_backward},
    [FER_LAYER_GLOBAL_AVGPOOL] = {"global_avgpool", no_keys, 1, 0, FER_GRAD_NEW, NULL, NULL, NULL,
                                  global_avgpool_infer, NULL, NULL, plan_output, avgpool_forward,
                                  avgpool_backward},
    [FER_LAYER_AVGPOOL2D] = {"avgpool2d", avgpool_keys, 1, 0, FER_GRAD_NEW, avgpool_parse,
                             avgpool_print, avgpool_same, avgpool_infer, NULL, NULL, plan_output,
                             avgpool_forward, avgpool_backward},
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
