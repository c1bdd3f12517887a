/* int8 inference of a folded model (fer/quant.h): planning (which node runs how, with which
 * scales), weight quantisation, calibration of activation ranges, and the forward pass over
 * channels-last u8 tensors. The GEMM kernels are the cpu backend's (backend_cpu/cpu_int8.h). */
#include "fer/quant.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cpu/cpu_int8.h"
#include "fer/checkpoint.h"
#include "fer/head_math.h"
#include "fer/json_num.h"
#include "fer/threadpool.h"
#include "arch_internal.h"
#include "layer_ops.h"
#include "model_internal.h"
#include "quant_internal.h"

#define CALIB_BINS 2048
#define COL_ROWS 48 /* rows of one im2col task: a multiple of every tile's row count */
#define ZP_SIGNED 128

/* A channels-last u8 tensor: sample s, pixel (y, x), channel c at
 * u8[((s * h + y) * w + x) * cs + c]; channels c..cs-1 hold the zero point. */
typedef struct q_tensor {
    int c, h, w, cs;
    float scale;
    int zp; /* 0: non-negative values (after a ReLU), ZP_SIGNED otherwise */
    uint8_t *u8;
} q_tensor;

typedef struct q_node {
    fer_layer_kind kind;
    int n_src, src[FER_MAX_INPUTS];
    int alias;      /* >= 0: this node's output is that node's (flatten, dropout, fused ReLU) */
    int relu;       /* a ReLU in the epilogue */
    int float_out;  /* the network's feature output, written as float to net->feat */
    int range_node; /* whose calibrated range sets the output scale */
    int fp32;       /* no int8 form: the FP32 layer on dequantised inputs, output requantised */
    q_tensor out;
    /* conv2d / linear */
    int k, stride, pad, kdim, n_pad, direct; /* direct: 1x1 stride 1 reads the input as is */
    int8_t *w;
    int32_t *comp;
    float *mult, *add, lo, hi;
} q_node;

struct fer_int8_net {
    fer_model *m;
    const fer_i8_kernels *kern;
    fer_threadpool *pool;
    int max_batch, n_nodes, feat_dim;
    q_node nodes[FER_MAX_LAYERS];
    q_tensor input;
    uint8_t **col; /* one im2col buffer per worker */
    size_t col_bytes;
    float *feat, *head_w, *head_b, *feat_norm;
    float *fx[FER_MAX_INPUTS]; /* dequantised inputs of FP32 nodes */
    int n_fp32;
    char note[320];
};

static const char *forced_kernels;

fer_status fer_int8_force_kernels(const char *name)
{
    if (!name || !strcmp(name, "auto")) {
        forced_kernels = NULL;
        return FER_OK;
    }
    const fer_i8_kernels *k;
    FER_TRY(fer_i8_select(name, &k));
    forced_kernels = k->name;
    return FER_OK;
}

/* ---- coverage ----------------------------------------------------------------------------- */

/* The int8 form of a covered kind: output shape, scale and weights of node i from its input
 * tensor, and the computation (flatten and dropout are views and have neither). */
typedef struct q_op {
    fer_status (*plan)(struct fer_int8_net *q, const fer_int8_calib *calib, int i, q_tensor *in);
    void (*run)(struct fer_int8_net *q, int i, int n);
} q_op;
static const q_op *op_of(fer_layer_kind kind);

static int covered(const fer_layer_spec *s)
{
    if (!op_of(s->kind))
        return 0;
    return s->kind != FER_LAYER_CONV2D ||
           (s->groups <= 1 && (!s->has_act || s->act_kind == FER_LAYER_RELU));
}

const char *fer_int8_covers(const fer_arch *a, char *buf, size_t cap)
{
    for (int i = 0; i < a->n_layers; i++) {
        const fer_layer_spec *s = &a->layers[i];
        if (covered(s))
            continue;
        const char *why = s->kind == FER_LAYER_CONV2D
                              ? (s->groups > 1 ? "grouped conv2d" : "conv2d with a non-ReLU activation")
                              : fer_layer_kind_name(s->kind);
        snprintf(buf, cap, "node %d%s%s%s (%s)", i, s->name[0] ? " '" : "", s->name,
                 s->name[0] ? "'" : "", why);
        return buf;
    }
    return NULL;
}

fer_status fer_int8_calib_check(const fer_int8_calib *c, int n_nodes, const char *origin)
{
    if (c->n_nodes != n_nodes)
        return fer_fail(FER_ERR_FORMAT, "%s: int8 calibration has %d node ranges, the folded "
                        "model has %d nodes (calibrate again: fer-eval --calibrate_int8)",
                        origin, c->n_nodes, n_nodes);
    if (!(c->input_range > 0.0f && c->input_range <= FER_INT8_MAX_RANGE))
        return fer_fail(FER_ERR_FORMAT, "%s: int8 input range %g is not in (0, %g]", origin,
                        (double)c->input_range, (double)FER_INT8_MAX_RANGE);
    for (int i = 0; i < c->n_nodes; i++)
        if (!(c->ranges[i] >= 0.0f && c->ranges[i] <= FER_INT8_MAX_RANGE))
            return fer_fail(FER_ERR_FORMAT, "%s: int8 range of node %d is %g (expected finite, "
                            "0..%g)", origin, i, (double)c->ranges[i],
                            (double)FER_INT8_MAX_RANGE);
    if (!(c->percentile >= 50.0f && c->percentile <= 100.0f))
        return fer_fail(FER_ERR_FORMAT, "%s: int8 calibration percentile %g is not in 50..100",
                        origin, (double)c->percentile);
    if (c->images < 1)
        return fer_fail(FER_ERR_FORMAT, "%s: int8 calibration on %d images", origin, c->images);
    return FER_OK;
}

/* ---- calibration -------------------------------------------------------------------------- */

static float abs_max(const float *y, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float v = fabsf(y[i]);
        m = v > m ? v : m;
    }
    return m;
}

fer_status fer_int8_calibrate(fer_model *m, const float *x, int n, float percentile,
                              fer_int8_calib *out)
{
    memset(out, 0, sizeof *out);
    if (!m->folded)
        return fer_fail(FER_ERR_ARG, "int8 calibration: the model is not folded");
    if (!strcmp(fer_backend_name(m->b), "cuda"))
        return fer_fail(FER_ERR_ARG, "int8 calibration runs on a host backend (cpu or ref)");
    if (n < 1)
        return fer_fail(FER_ERR_ARG, "int8 calibration: no images");
    if (!(percentile >= 50.0f && percentile <= 100.0f))
        return fer_fail(FER_ERR_ARG, "int8 calibration: percentile %g is not in 50..100",
                        (double)percentile);
    int L = m->arch.n_layers;
    size_t in_numel = (size_t)m->arch.in_c * m->arch.in_h * m->arch.in_w;
    float maxes[FER_MAX_LAYERS] = {0};
    unsigned long long *hist = calloc((size_t)L * CALIB_BINS, sizeof *hist);
    if (!hist)
        return fer_fail(FER_ERR_NOMEM, "int8 calibration: out of memory");
    out->input_range = abs_max(x, (size_t)n * in_numel);
    for (int pass = 0; pass < 2; pass++) {
        for (int done = 0; done < n;) {
            int k = n - done < m->max_batch ? n - done : m->max_batch;
            fer_status st = fer_model_forward(m, x + (size_t)done * in_numel, k, FER_MODE_EVAL,
                                              NULL, 0, NULL);
            if (st != FER_OK) {
                free(hist);
                return st;
            }
            for (int i = 0; i < L; i++) {
                const float *y = m->layers[i].y;
                size_t cnt = (size_t)k * m->layers[i].out_numel;
                if (pass == 0) {
                    float v = abs_max(y, cnt);
                    maxes[i] = v > maxes[i] ? v : maxes[i];
                    continue;
                }
                if (maxes[i] <= 0.0f)
                    continue;
                unsigned long long *h = hist + (size_t)i * CALIB_BINS;
                float to_bin = (float)CALIB_BINS / maxes[i];
                for (size_t e = 0; e < cnt; e++) {
                    float t = fabsf(y[e]) * to_bin; /* NaN: the last bin */
                    h[t < (float)CALIB_BINS ? (int)t : CALIB_BINS - 1]++;
                }
            }
            done += k;
        }
        if (percentile >= 100.0f)
            break;
    }
    for (int i = 0; i < L; i++) {
        out->ranges[i] = maxes[i];
        if (percentile >= 100.0f || maxes[i] <= 0.0f)
            continue;
        const unsigned long long *h = hist + (size_t)i * CALIB_BINS;
        unsigned long long total = 0, seen = 0;
        for (int b = 0; b < CALIB_BINS; b++)
            total += h[b];
        double want = (double)percentile / 100.0 * (double)total;
        for (int b = 0; b < CALIB_BINS; b++) {
            seen += h[b];
            if ((double)seen >= want) {
                out->ranges[i] = maxes[i] * (float)(b + 1) / (float)CALIB_BINS;
                break;
            }
        }
    }
    free(hist);
    out->n_nodes = L;
    out->percentile = percentile;
    out->images = n;
    /* a non-finite activation (or input) makes an unusable range: refuse it here, not at load */
    return fer_int8_calib_check(out, L, "int8 calibration");
}

/* ---- planning ----------------------------------------------------------------------------- */

static int round_up(int v, int to)
{
    return (v + to - 1) / to * to;
}

/* The node whose tensor node i's output is (following aliases); FER_INPUT_NODE for the input. */
static int root_of(const fer_int8_net *q, int i)
{
    while (i != FER_INPUT_NODE && q->nodes[i].alias >= 0)
        i = q->nodes[i].alias;
    return i;
}

static q_tensor *tensor_of(fer_int8_net *q, int i)
{
    i = root_of(q, i);
    return i == FER_INPUT_NODE ? &q->input : &q->nodes[i].out;
}

/* The only node reading node j's output, or -1 when none or several do. */
static int only_reader(const fer_arch *a, int j)
{
    int reader = -1;
    for (int i = j + 1; i < a->n_layers; i++) {
        int in[FER_MAX_INPUTS];
        int n = fer_arch_node_inputs(a, i, in);
        for (int k = 0; k < n; k++)
            if (in[k] == j) {
                if (reader >= 0)
                    return -1;
                reader = i;
            }
    }
    return reader;
}

static void set_scale(q_tensor *t, float range, int zp)
{
    t->zp = zp;
    float r = range > 1e-12f ? range : 1e-12f;
    t->scale = r / (zp ? 127.0f : 255.0f);
}

static fer_status alloc_tensor(q_tensor *t, int max_batch)
{
    size_t bytes = (size_t)max_batch * t->h * t->w * t->cs;
    t->u8 = malloc(bytes ? bytes : 1);
    return t->u8 ? FER_OK : fer_fail(FER_ERR_NOMEM, "int8: out of memory");
}

static fer_status host_tensor(fer_model *m, const char *name, float **out, size_t *numel)
{
    return fer_model_tensor_to_host(m, name, "int8", out, numel);
}

/* Quantises conv/linear weights (out x per_out floats, per_out = cin * taps) into the packed
 * s8 layout: weight (o, ci, tap) lands at reduction index tap * cs + ci (channels-last), and
 * sets the epilogue from the input's and output's scales. */
static fer_status quantise_weights(fer_int8_net *q, q_node *nd, int layer, int cin, int taps,
                                   const q_tensor *in, int out_ch)
{
    char name[64];
    float *w = NULL, *b = NULL;
    size_t nw, nb;
    snprintf(name, sizeof name, "layers.%d.weight", layer);
    FER_TRY(host_tensor(q->m, name, &w, &nw));
    fer_status st = FER_OK;
    if (q->m->arch.layers[layer].bias) {
        snprintf(name, sizeof name, "layers.%d.bias", layer);
        st = host_tensor(q->m, name, &b, &nb);
    }
    size_t per_out = (size_t)cin * taps;
    if (st == FER_OK && nw != (size_t)out_ch * per_out)
        st = fer_fail(FER_ERR_INTERNAL, "int8: layer %d has %zu weights, expected %zu", layer,
                      nw, (size_t)out_ch * per_out);
    nd->w = st == FER_OK ? calloc((size_t)nd->n_pad * nd->kdim, 1) : NULL;
    nd->comp = calloc((size_t)nd->n_pad, sizeof *nd->comp);
    nd->mult = calloc((size_t)nd->n_pad, sizeof *nd->mult);
    nd->add = calloc((size_t)nd->n_pad, sizeof *nd->add);
    if (st == FER_OK && (!nd->w || !nd->comp || !nd->mult || !nd->add))
        st = fer_fail(FER_ERR_NOMEM, "int8: out of memory");
    for (int o = 0; st == FER_OK && o < nd->n_pad; o++) {
        if (o >= out_ch) { /* padding channels: zero in float */
            nd->add[o] = nd->float_out ? 0.0f : (float)nd->out.zp;
            continue;
        }
        const float *wo = w + (size_t)o * per_out;
        float wmax = abs_max(wo, per_out);
        float sw = wmax > 0.0f ? wmax / 127.0f : 1.0f;
        int32_t sum = 0;
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < taps; t++) {
                float v = nearbyintf(wo[(size_t)ci * taps + t] / sw);
                int8_t s8 = (int8_t)(v > 127.0f ? 127 : (v < -127.0f ? -127 : (int)v));
                nd->w[fer_i8_pack_index(nd->kdim, t * in->cs + ci, o)] = s8;
                sum += s8;
            }
        float bias = b ? b[o] : 0.0f;
        nd->comp[o] = in->zp * sum;
        if (nd->float_out) {
            nd->mult[o] = in->scale * sw;
            nd->add[o] = bias;
        } else {
            nd->mult[o] = in->scale * sw / nd->out.scale;
            nd->add[o] = bias / nd->out.scale + (float)nd->out.zp;
        }
    }
    if (nd->float_out) {
        nd->lo = nd->relu ? 0.0f : -INFINITY;
        nd->hi = INFINITY;
    } else {
        nd->lo = 0.0f;
        nd->hi = 255.0f;
    }
    free(w);
    free(b);
    return st;
}

static float node_range(const fer_int8_calib *c, const q_node *nd)
{
    return c->ranges[nd->range_node];
}

/* Output shape, scale and weights of node i (its input tensor `in`), per kind. */
static fer_status plan_gemm(fer_int8_net *q, const fer_int8_calib *calib, int i, q_tensor *in)
{
    q_node *nd = &q->nodes[i];
    const fer_layer_spec *s = &q->m->layers[i].spec;
    q_tensor *o = &nd->out;
    int conv = nd->kind == FER_LAYER_CONV2D;
    nd->k = conv ? s->k : 1;
    nd->stride = conv ? s->stride : 1;
    nd->pad = conv ? s->pad : 0;
    nd->n_pad = round_up(s->out, FER_I8_GROUP);
    long long kdim = conv ? (long long)s->k * s->k * in->cs : (long long)in->h * in->w * in->cs;
    if (kdim > FER_I8_MAX_K)
        return fer_fail(FER_ERR_UNSUPPORTED, "int8: node %d reduces over %lld values (at most "
                        "%d)", i, kdim, FER_I8_MAX_K);
    nd->kdim = (int)kdim;
    nd->direct = conv && s->k == 1 && s->stride == 1 && s->pad == 0;
    o->cs = nd->n_pad;
    if (!conv)
        o->h = o->w = 1;
    if (!nd->float_out)
        set_scale(o, node_range(calib, nd), nd->relu ? 0 : ZP_SIGNED);
    int taps = conv ? s->k * s->k : in->h * in->w;
    return quantise_weights(q, nd, i, in->c, taps, in, s->out);
}

static fer_status plan_add(fer_int8_net *q, const fer_int8_calib *calib, int i, q_tensor *in)
{
    q_node *nd = &q->nodes[i];
    q_tensor *b = tensor_of(q, nd->src[1]);
    if (b->cs != in->cs)
        return fer_fail(FER_ERR_UNSUPPORTED, "int8: node %d adds tensors of %d and %d stored "
                        "channels", i, in->cs, b->cs);
    nd->out.cs = in->cs;
    set_scale(&nd->out, node_range(calib, nd), nd->relu ? 0 : ZP_SIGNED);
    return FER_OK;
}

/* relu, maxpool: order-preserving, so the input's scale and zero point */
static fer_status plan_same_scale(fer_int8_net *q, const fer_int8_calib *calib, int i,
                                  q_tensor *in)
{
    (void)calib;
    q_tensor *o = &q->nodes[i].out;
    o->cs = in->cs;
    o->scale = in->scale;
    o->zp = in->zp;
    return FER_OK;
}

static fer_status plan_gap(fer_int8_net *q, const fer_int8_calib *calib, int i, q_tensor *in)
{
    q_node *nd = &q->nodes[i];
    nd->out.cs = in->cs;
    nd->out.h = nd->out.w = 1;
    if (!nd->float_out)
        set_scale(&nd->out, node_range(calib, nd), in->zp ? ZP_SIGNED : 0);
    return FER_OK;
}

static fer_status plan_node(fer_int8_net *q, const fer_int8_calib *calib, int i)
{
    q_node *nd = &q->nodes[i];
    const fer_layer_rt *l = &q->m->layers[i];
    q_tensor *in = tensor_of(q, nd->src[0]);
    if (nd->alias >= 0)
        return FER_OK;
    q_tensor *o = &nd->out;
    o->c = l->out.c;
    o->h = l->out.h;
    o->w = l->out.w;
    if (nd->fp32) {
        o->cs = round_up(o->c, FER_I8_GROUP);
        if (!nd->float_out)
            set_scale(o, node_range(calib, nd), ZP_SIGNED);
    } else {
        FER_TRY(op_of(nd->kind)->plan(q, calib, i, in));
    }
    return nd->float_out ? FER_OK : alloc_tensor(o, q->max_batch);
}

static fer_status plan(fer_int8_net *q, const fer_int8_calib *calib)
{
    const fer_arch *a = &q->m->arch;
    int L = a->n_layers;
    q->n_nodes = L;
    for (int i = 0; i < L; i++) {
        q_node *nd = &q->nodes[i];
        nd->kind = a->layers[i].kind;
        nd->n_src = fer_arch_node_inputs(a, i, nd->src);
        nd->alias = -1;
        nd->range_node = i;
        nd->relu = nd->kind == FER_LAYER_CONV2D && a->layers[i].has_act;
        if (nd->kind == FER_LAYER_FLATTEN || nd->kind == FER_LAYER_DROPOUT)
            nd->alias = nd->src[0];
        else if (!covered(&a->layers[i]))
            nd->fp32 = 1;
    }
    /* a ReLU that is the only reader of a conv / linear / add runs in that node's epilogue */
    for (int i = 0; i < L - 1; i++) {
        q_node *nd = &q->nodes[i];
        int r = only_reader(a, i);
        if (r < 0 || a->layers[r].kind != FER_LAYER_RELU || nd->relu || nd->fp32 ||
            !(nd->kind == FER_LAYER_CONV2D || nd->kind == FER_LAYER_LINEAR ||
              nd->kind == FER_LAYER_ADD))
            continue;
        nd->relu = 1;
        nd->range_node = r;
        q->nodes[r].alias = i;
    }
    /* the feature output: written as float by a linear or global pooling no other node reads */
    int root = root_of(q, L - 1);
    if (root >= 0 && (q->nodes[root].kind == FER_LAYER_LINEAR || q->nodes[root].fp32 ||
                      q->nodes[root].kind == FER_LAYER_GLOBAL_AVGPOOL)) {
        int read = 0;
        for (int i = 0; i < L; i++)
            for (int k = 0; k < q->nodes[i].n_src && q->nodes[i].alias < 0; k++)
                read |= root_of(q, q->nodes[i].src[k]) == root;
        q->nodes[root].float_out = !read;
    }
    q->input.c = a->in_c;
    q->input.h = a->in_h;
    q->input.w = a->in_w;
    q->input.cs = round_up(a->in_c, 4);
    set_scale(&q->input, calib->input_range, ZP_SIGNED);
    FER_TRY(alloc_tensor(&q->input, q->max_batch));
    size_t col = 0;
    for (int i = 0; i < L; i++) {
        FER_TRY(plan_node(q, calib, i));
        q_node *nd = &q->nodes[i];
        if (nd->kind == FER_LAYER_CONV2D && nd->alias < 0 && !nd->direct &&
            (size_t)COL_ROWS * nd->kdim > col)
            col = (size_t)COL_ROWS * nd->kdim;
    }
    q->col_bytes = col ? col : 1;
    size_t fx_floats[FER_MAX_INPUTS] = {0};
    for (int i = 0; i < L; i++) {
        q_node *nd = &q->nodes[i];
        for (int k = 0; nd->fp32 && k < nd->n_src; k++) {
            const q_tensor *t = tensor_of(q, nd->src[k]);
            size_t f = (size_t)q->max_batch * t->c * t->h * t->w;
            fx_floats[k] = f > fx_floats[k] ? f : fx_floats[k];
        }
        q->n_fp32 += nd->fp32;
    }
    for (int k = 0; k < FER_MAX_INPUTS; k++)
        if (fx_floats[k] && !(q->fx[k] = malloc(fx_floats[k] * sizeof(float))))
            return fer_fail(FER_ERR_NOMEM, "int8: out of memory");
    int workers = fer_threadpool_size(q->pool);
    q->col = calloc((size_t)workers, sizeof *q->col);
    if (!q->col)
        return fer_fail(FER_ERR_NOMEM, "int8: out of memory");
    for (int w = 0; w < workers; w++)
        if (!(q->col[w] = malloc(q->col_bytes)))
            return fer_fail(FER_ERR_NOMEM, "int8: out of memory");
    q->feat_dim = q->m->feat_dim;
    size_t C = (size_t)a->n_classes, D = (size_t)q->feat_dim;
    /* a float-output linear writes n_pad columns */
    size_t feat_cols = D;
    if (root >= 0 && q->nodes[root].float_out && q->nodes[root].kind == FER_LAYER_LINEAR)
        feat_cols = (size_t)q->nodes[root].n_pad;
    q->feat = malloc((size_t)q->max_batch * feat_cols * sizeof(float));
    q->feat_norm = malloc(D * sizeof(float));
    q->head_w = malloc(C * D * sizeof(float));
    q->head_b = malloc(C * sizeof(float));
    if (!q->feat || !q->feat_norm || !q->head_w || !q->head_b)
        return fer_fail(FER_ERR_NOMEM, "int8: out of memory");
    return FER_OK;
}

/* ---- forward ------------------------------------------------------------------------------ */

typedef struct gemm_job {
    fer_int8_net *q;
    const q_node *nd;
    const q_tensor *in;
    int n, rows, oh, ow;
    uint8_t *out_u8;
    float *out_f32;
    size_t ldf;
} gemm_job;

/* im2col of rows [r0, r0 + count) into col: each row the k x k taps of one output pixel,
 * channels-last, the input's zero point where the window leaves the image. */
static void im2col(const gemm_job *j, int r0, int count, uint8_t *col)
{
    const q_node *nd = j->nd;
    const q_tensor *in = j->in;
    size_t cs = (size_t)in->cs;
    for (int r = 0; r < count; r++) {
        int p = r0 + r, s = p / (j->oh * j->ow), rem = p % (j->oh * j->ow);
        int oy = rem / j->ow, ox = rem % j->ow;
        uint8_t *dst = col + (size_t)r * nd->kdim;
        for (int ky = 0; ky < nd->k; ky++) {
            int iy = oy * nd->stride - nd->pad + ky;
            for (int kx = 0; kx < nd->k; kx++, dst += cs) {
                int ix = ox * nd->stride - nd->pad + kx;
                if (iy < 0 || iy >= in->h || ix < 0 || ix >= in->w)
                    memset(dst, in->zp, cs);
                else
                    memcpy(dst, in->u8 + (((size_t)s * in->h + iy) * in->w + ix) * cs, cs);
            }
        }
    }
}

static void gemm_task(void *ctx, int task, int worker)
{
    const gemm_job *j = ctx;
    const q_node *nd = j->nd;
    int r0 = task * COL_ROWS, count = j->rows - r0 < COL_ROWS ? j->rows - r0 : COL_ROWS;
    fer_i8_gemm g = {.m = count, .k = nd->kdim, .n_pad = nd->n_pad, .b = nd->w,
                     .comp = nd->comp, .mult = nd->mult, .add = nd->add, .lo = nd->lo,
                     .hi = nd->hi, .ldo = (size_t)nd->n_pad, .ldf = j->ldf};
    if (nd->kind == FER_LAYER_LINEAR || nd->direct) {
        g.a = j->in->u8 + (size_t)r0 * nd->kdim;
        g.lda = (size_t)nd->kdim;
    } else {
        im2col(j, r0, count, j->q->col[worker]);
        g.a = j->q->col[worker];
        g.lda = (size_t)nd->kdim;
    }
    if (j->out_u8)
        g.out_u8 = j->out_u8 + (size_t)r0 * nd->n_pad;
    else
        g.out_f32 = j->out_f32 + (size_t)r0 * j->ldf;
    j->q->kern->gemm(&g, 0, count);
}

static void run_gemm_node(fer_int8_net *q, int i, int n)
{
    q_node *nd = &q->nodes[i];
    gemm_job j = {q, nd, tensor_of(q, nd->src[0]), n, 0, 1, 1, nd->out.u8, NULL, 0};
    if (nd->kind == FER_LAYER_CONV2D) {
        j.oh = nd->out.h;
        j.ow = nd->out.w;
    }
    j.rows = n * j.oh * j.ow;
    if (nd->float_out) {
        j.out_f32 = q->feat;
        j.ldf = (size_t)nd->n_pad;
    }
    fer_threadpool_run(q->pool, (j.rows + COL_ROWS - 1) / COL_ROWS, gemm_task, &j);
}

static inline uint8_t requant(float y)
{
    y = y > 0.0f ? (y < 255.0f ? y : 255.0f) : 0.0f; /* NaN: 0 */
    return fer_i8_round_u8(y);
}

static void run_add(fer_int8_net *q, int i, int n)
{
    q_node *nd = &q->nodes[i];
    const q_tensor *a = tensor_of(q, nd->src[0]), *b = tensor_of(q, nd->src[1]);
    q_tensor *o = &nd->out;
    float ma = a->scale / o->scale, mb = b->scale / o->scale, zo = (float)o->zp;
    size_t cnt = (size_t)n * o->h * o->w * o->cs;
    fer_i8_add p = {a->u8, b->u8, o->u8, cnt, (float)a->zp, (float)b->zp, ma, mb, zo,
                    nd->relu && zo > 0.0f ? zo : 0.0f}; /* the fused ReLU clamps at zo */
    q->kern->add(&p);
}

static void run_relu(fer_int8_net *q, int i, int n)
{
    q_node *nd = &q->nodes[i];
    const q_tensor *in = tensor_of(q, nd->src[0]);
    q_tensor *o = &nd->out;
    size_t cnt = (size_t)n * o->h * o->w * o->cs;
    uint8_t zp = (uint8_t)in->zp;
    for (size_t e = 0; e < cnt; e++)
        o->u8[e] = in->u8[e] > zp ? in->u8[e] : zp;
}

static void run_maxpool(fer_int8_net *q, int i, int n)
{
    q_node *nd = &q->nodes[i];
    const q_tensor *in = tensor_of(q, nd->src[0]);
    q_tensor *o = &nd->out;
    int k = q->m->layers[i].spec.k, st = q->m->layers[i].spec.stride;
    size_t cs = (size_t)o->cs;
    for (int smp = 0; smp < n; smp++)
        for (int oy = 0; oy < o->h; oy++)
            for (int ox = 0; ox < o->w; ox++) {
                uint8_t *dst = o->u8 + (((size_t)smp * o->h + oy) * o->w + ox) * cs;
                memset(dst, 0, cs);
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        const uint8_t *src =
                            in->u8 + (((size_t)smp * in->h + oy * st + ky) * in->w + ox * st + kx) * cs;
                        for (size_t c = 0; c < cs; c++)
                            dst[c] = src[c] > dst[c] ? src[c] : dst[c];
                    }
            }
}

static void run_gap(fer_int8_net *q, int i, int n)
{
    q_node *nd = &q->nodes[i];
    const q_tensor *in = tensor_of(q, nd->src[0]);
    q_tensor *o = &nd->out;
    size_t cs = (size_t)in->cs, hw = (size_t)in->h * in->w;
    for (int smp = 0; smp < n; smp++)
        for (size_t c = 0; c < cs; c++) {
            int32_t sum = 0;
            const uint8_t *src = in->u8 + (size_t)smp * hw * cs + c;
            for (size_t p = 0; p < hw; p++)
                sum += src[p * cs];
            float y = in->scale * ((float)sum / (float)hw - (float)in->zp);
            if (nd->float_out) {
                if ((int)c < q->feat_dim)
                    q->feat[(size_t)smp * q->feat_dim + c] = y;
            } else {
                o->u8[(size_t)smp * cs + c] = requant(y / o->scale + (float)o->zp);
            }
        }
}

static void quantise_input(fer_int8_net *q, const float *x, int n)
{
    q_tensor *t = &q->input;
    size_t plane = (size_t)t->h * t->w;
    float inv = 1.0f / t->scale;
    memset(t->u8, t->zp, (size_t)n * plane * t->cs);
    for (int s = 0; s < n; s++)
        for (int c = 0; c < t->c; c++) {
            const float *src = x + ((size_t)s * t->c + c) * plane;
            uint8_t *dst = t->u8 + (size_t)s * plane * t->cs + c;
            for (size_t p = 0; p < plane; p++)
                dst[p * t->cs] = requant(src[p] * inv + (float)t->zp);
        }
}

/* A u8 tensor as floats in the channel-major order of the FP32 model (and of a flatten):
 * dst[s][c][p], c < t->c. */
static void dequantise(const q_tensor *t, int n, float *dst)
{
    size_t plane = (size_t)t->h * t->w, per = (size_t)t->c * plane;
    for (int s = 0; s < n; s++)
        for (int c = 0; c < t->c; c++)
            for (size_t p = 0; p < plane; p++)
                dst[(size_t)s * per + (size_t)c * plane + p] =
                    t->scale * (float)(t->u8[((size_t)s * plane + p) * t->cs + c] - t->zp);
}

/* A node without an int8 form: its FP32 layer (the layer table's forward, on the folded
 * model's host memory) on dequantised inputs, the output requantised (or the features). */
static fer_status run_fp32(fer_int8_net *q, int i, int n)
{
    q_node *nd = &q->nodes[i];
    const float *xs[FER_MAX_INPUTS];
    for (int k = 0; k < nd->n_src; k++) {
        dequantise(tensor_of(q, nd->src[k]), n, q->fx[k]);
        xs[k] = q->fx[k];
    }
    FER_TRY(fer_layer_op_of(nd->kind)->forward(q->m, i, xs, n, 0, 0));
    const fer_layer_rt *l = &q->m->layers[i];
    q_tensor *o = &nd->out;
    if (nd->float_out) {
        memcpy(q->feat, l->y, (size_t)n * l->out_numel * sizeof(float));
        return FER_OK;
    }
    size_t plane = (size_t)o->h * o->w;
    float inv = 1.0f / o->scale;
    memset(o->u8, o->zp, (size_t)n * plane * o->cs);
    for (int s = 0; s < n; s++)
        for (int c = 0; c < o->c; c++) {
            const float *src = l->y + ((size_t)s * o->c + c) * plane;
            for (size_t p = 0; p < plane; p++)
                o->u8[((size_t)s * plane + p) * o->cs + c] = requant(src[p] * inv + (float)o->zp);
        }
    return FER_OK;
}

static fer_status run_head(fer_int8_net *q, int n, size_t ldf, float *logits)
{
    fer_model *m = q->m;
    int C = m->arch.n_classes, D = q->feat_dim;
    FER_TRY(fer_model_get_tensor(m, "head.weight", q->head_w, (size_t)C * D));
    if (m->arch.head == FER_HEAD_SOFTMAX) {
        FER_TRY(fer_model_get_tensor(m, "head.bias", q->head_b, (size_t)C));
        for (int s = 0; s < n; s++)
            for (int c = 0; c < C; c++) {
                float acc = q->head_b[c];
                for (int d = 0; d < D; d++)
                    acc += q->head_w[(size_t)c * D + d] * q->feat[(size_t)s * ldf + d];
                logits[(size_t)s * C + c] = acc;
            }
        return FER_OK;
    }
    fer_arcface_consts k = fer_arcface_make_consts(m->arch.arc_s, m->arch.arc_m);
    for (int c = 0; c < C; c++) { /* class rows normalised in place */
        float *w = q->head_w + (size_t)c * D;
        double ss = 0.0;
        for (int d = 0; d < D; d++)
            ss += (double)w[d] * w[d];
        float div = fer_l2norm_divisor((float)sqrt(ss));
        for (int d = 0; d < D; d++)
            w[d] /= div;
    }
    for (int s = 0; s < n; s++) {
        const float *f = q->feat + (size_t)s * ldf;
        double ss = 0.0;
        for (int d = 0; d < D; d++)
            ss += (double)f[d] * f[d];
        float div = fer_l2norm_divisor((float)sqrt(ss));
        for (int d = 0; d < D; d++)
            q->feat_norm[d] = f[d] / div;
        for (int c = 0; c < C; c++) {
            float cosv = 0.0f;
            for (int d = 0; d < D; d++)
                cosv += q->head_w[(size_t)c * D + d] * q->feat_norm[d];
            logits[(size_t)s * C + c] = fer_arcface_logit(cosv, 0, &k);
        }
    }
    return FER_OK;
}

/* One entry per covered kind. */
static const q_op q_ops[] = {
    [FER_LAYER_CONV2D] = {plan_gemm, run_gemm_node},
    [FER_LAYER_LINEAR] = {plan_gemm, run_gemm_node},
    [FER_LAYER_ADD] = {plan_add, run_add},
    [FER_LAYER_RELU] = {plan_same_scale, run_relu},
    [FER_LAYER_MAXPOOL2D] = {plan_same_scale, run_maxpool},
    [FER_LAYER_GLOBAL_AVGPOOL] = {plan_gap, run_gap},
};
static const q_op view_op = {NULL, NULL};

static const q_op *op_of(fer_layer_kind kind)
{
    if (kind == FER_LAYER_FLATTEN || kind == FER_LAYER_DROPOUT)
        return &view_op;
    if ((size_t)kind >= sizeof q_ops / sizeof q_ops[0] || !q_ops[kind].run)
        return NULL;
    return &q_ops[kind];
}

fer_status fer_int8_net_forward(fer_int8_net *q, const float *x, int n, float *logits)
{
    if (n < 0 || n > q->max_batch)
        return fer_fail(FER_ERR_ARG, "int8: batch of %d (at most %d)", n, q->max_batch);
    if (n == 0)
        return FER_OK;
    quantise_input(q, x, n);
    for (int i = 0; i < q->n_nodes; i++) {
        q_node *nd = &q->nodes[i];
        if (nd->alias >= 0)
            continue;
        if (nd->fp32)
            FER_TRY(run_fp32(q, i, n));
        else
            op_of(nd->kind)->run(q, i, n);
    }
    int root = root_of(q, q->n_nodes - 1);
    size_t ldf = (size_t)q->feat_dim;
    if (root >= 0 && q->nodes[root].float_out) {
        if (q->nodes[root].kind == FER_LAYER_LINEAR)
            ldf = (size_t)q->nodes[root].n_pad;
    } else {
        dequantise(tensor_of(q, q->n_nodes - 1), n, q->feat);
    }
    return run_head(q, n, ldf, logits);
}

/* ---- lifetime ----------------------------------------------------------------------------- */

fer_status fer_int8_net_new(fer_model *m, const fer_int8_calib *calib, int max_batch,
                            int threads, fer_int8_net **out)
{
    *out = NULL;
    char why[160];
    if (!m->folded)
        return fer_fail(FER_ERR_ARG, "int8: the model is not folded (fer_model_fold)");
    if (max_batch < 1 || max_batch > m->max_batch)
        return fer_fail(FER_ERR_ARG, "int8: max_batch %d out of range 1..%d", max_batch,
                        m->max_batch);
    /* nodes without an int8 form run their FP32 layer in the model's memory: a host backend */
    if (fer_int8_covers(&m->arch, why, sizeof why) && !strcmp(fer_backend_name(m->b), "cuda"))
        return fer_fail(FER_ERR_UNSUPPORTED, "int8: %s has no int8 form, and its FP32 "
                        "fallback runs on a host backend (cpu or ref), not cuda", why);
    FER_TRY(fer_int8_calib_check(calib, m->arch.n_layers, "int8 calibration"));
    fer_int8_net *q = calloc(1, sizeof *q);
    if (!q)
        return fer_fail(FER_ERR_NOMEM, "int8: out of memory");
    q->m = m;
    q->max_batch = max_batch;
    fer_status st = forced_kernels ? fer_i8_select(forced_kernels, &q->kern)
                                   : fer_i8_select_env(&q->kern);
    if (st == FER_OK)
        st = fer_threadpool_new(threads, &q->pool);
    if (st == FER_OK)
        st = plan(q, calib);
    if (st != FER_OK) {
        fer_int8_net_free(q);
        return st;
    }
    int convs = 0, linears = 0, fused = 0;
    char fallback[200] = "";
    if (fer_int8_covers(&m->arch, why, sizeof why))
        snprintf(fallback, sizeof fallback, "; FP32: %d node%s, first %s", q->n_fp32,
                 q->n_fp32 == 1 ? "" : "s", why);
    for (int i = 0; i < q->n_nodes; i++) {
        convs += q->nodes[i].kind == FER_LAYER_CONV2D && !q->nodes[i].fp32;
        linears += q->nodes[i].kind == FER_LAYER_LINEAR && !q->nodes[i].fp32;
        fused += q->nodes[i].kind == FER_LAYER_RELU && q->nodes[i].alias >= 0;
    }
    snprintf(q->note, sizeof q->note,
             "int8: %s kernels, %d thread%s, %d of %d nodes int8 (%d conv2d, %d linear, %d ReLU "
             "fused; calibrated on %d images, percentile %g)%s",
             q->kern->name, fer_threadpool_size(q->pool),
             fer_threadpool_size(q->pool) == 1 ? "" : "s", q->n_nodes - q->n_fp32, q->n_nodes,
             convs, linears, fused, calib->images, (double)calib->percentile, fallback);
    *out = q;
    return FER_OK;
}

void fer_int8_net_free(fer_int8_net *q)
{
    if (!q)
        return;
    for (int i = 0; i < FER_MAX_LAYERS; i++) {
        q_node *nd = &q->nodes[i];
        free(nd->w);
        free(nd->comp);
        free(nd->mult);
        free(nd->add);
        if (nd->alias < 0)
            free(nd->out.u8);
    }
    if (q->col)
        for (int w = 0; w < fer_threadpool_size(q->pool); w++)
            free(q->col[w]);
    free(q->col);
    for (int k = 0; k < FER_MAX_INPUTS; k++)
        free(q->fx[k]);
    free(q->input.u8);
    free(q->feat);
    free(q->feat_norm);
    free(q->head_w);
    free(q->head_b);
    fer_threadpool_free(q->pool);
    free(q);
}

const char *fer_int8_net_note(const fer_int8_net *q)
{
    return q->note;
}

/* ---- the checkpoint block (quant_internal.h) ---------------------------------------------- */

cJSON *fer_int8_calib_to_json(const fer_int8_calib *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *r = j ? cJSON_AddArrayToObject(j, "ranges") : NULL;
    if (!r) {
        cJSON_Delete(j);
        return NULL;
    }
    cJSON_AddNumberToObject(j, "version", FER_INT8_CALIB_VERSION);
    cJSON_AddNumberToObject(j, "nodes", c->n_nodes);
    cJSON_AddNumberToObject(j, "input_range", (double)c->input_range);
    cJSON_AddNumberToObject(j, "percentile", (double)c->percentile);
    cJSON_AddNumberToObject(j, "images", c->images);
    for (int i = 0; i < c->n_nodes; i++)
        cJSON_AddItemToArray(r, cJSON_CreateNumber((double)c->ranges[i]));
    return j;
}

fer_status fer_int8_calib_from_json(const cJSON *j, const char *path, fer_int8_calib *out)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(j))
        return fer_fail(FER_ERR_FORMAT, "%s: the \"int8\" block is not an object", path);
    long long version, nodes, images;
    double v;
    FER_TRY(fer_json_int(cJSON_GetObjectItemCaseSensitive(j, "version"), path, "int8.version",
                         FER_INT8_CALIB_VERSION, FER_INT8_CALIB_VERSION, &version));
    FER_TRY(fer_json_int(cJSON_GetObjectItemCaseSensitive(j, "nodes"), path, "int8.nodes", 1,
                         FER_MAX_LAYERS, &nodes));
    FER_TRY(fer_json_int(cJSON_GetObjectItemCaseSensitive(j, "images"), path, "int8.images", 1,
                         1LL << 31, &images));
    FER_TRY(fer_json_double(cJSON_GetObjectItemCaseSensitive(j, "input_range"), path,
                            "int8.input_range", 0.0, FER_INT8_MAX_RANGE, &v));
    out->input_range = (float)v;
    FER_TRY(fer_json_double(cJSON_GetObjectItemCaseSensitive(j, "percentile"), path,
                            "int8.percentile", 50.0, 100.0, &v));
    out->percentile = (float)v;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "ranges");
    if (!cJSON_IsArray(r) || cJSON_GetArraySize(r) != nodes)
        return fer_fail(FER_ERR_FORMAT, "%s: int8.ranges must list %lld numbers", path, nodes);
    int i = 0;
    for (const cJSON *e = r->child; e; e = e->next, i++) {
        char key[40];
        snprintf(key, sizeof key, "int8.ranges[%d]", i);
        FER_TRY(fer_json_double(e, path, key, 0.0, FER_INT8_MAX_RANGE, &v));
        out->ranges[i] = (float)v;
    }
    out->n_nodes = (int)nodes;
    out->images = images > INT32_MAX ? INT32_MAX : (int)images;
    return fer_int8_calib_check(out, out->n_nodes, path);
}

fer_status fer_int8_write_calibrated(const char *in_path, const fer_int8_calib *calib,
                                     const char *out_path)
{
    fer_backend *b = NULL;
    fer_model *m = NULL;
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    fer_status st = fer_backend_new("ref", 1, &b);
    if (st == FER_OK)
        st = fer_checkpoint_load(in_path, b, 1, &m, &meta);
    if (st == FER_OK) {
        meta.int8_calib = calib;
        st = fer_checkpoint_save(out_path, m, &meta, NULL);
    }
    fer_checkpoint_meta_clear(&meta);
    fer_model_free(m);
    fer_backend_free(b);
    return st;
}
