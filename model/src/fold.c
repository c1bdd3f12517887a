/* Inference folding (fer_model_fold): conv2d + batchnorm2d (+ activation) become one conv2d node
 * with a bias, so evaluation and the video element skip two passes over every activation. The
 * graph is rebuilt without the absorbed nodes and the weights are carried over by name. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer_ops.h"
#include "model_internal.h"

#define BN_EPS 1e-5 /* as the batch-norm layers (layers.c) */

static int is_activation(fer_layer_kind k)
{
    return k == FER_LAYER_RELU || k == FER_LAYER_RELU6 || k == FER_LAYER_LEAKY_RELU ||
           k == FER_LAYER_HARDSWISH || k == FER_LAYER_SIGMOID;
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

/* What folding does to each node of the source graph. */
typedef struct fold_plan {
    int keep[FER_MAX_LAYERS];      /* stays a node of the folded graph */
    int absorbed_by[FER_MAX_LAYERS]; /* a removed node: the conv that took it over */
    int bn_of[FER_MAX_LAYERS];     /* a conv: the batch norm it absorbs, or -1 */
    int new_index[FER_MAX_LAYERS]; /* a kept node's index in the folded graph */
    int n_removed;
} fold_plan;

static void plan_fold(const fer_arch *a, fold_plan *p)
{
    for (int i = 0; i < a->n_layers; i++) {
        p->keep[i] = 1;
        p->absorbed_by[i] = -1;
        p->bn_of[i] = -1;
    }
    p->n_removed = 0;
    /* the last node is the feature output: it must stay */
    for (int i = 0; i < a->n_layers - 1; i++) {
        if (a->layers[i].kind != FER_LAYER_CONV2D)
            continue;
        int r = only_reader(a, i);
        if (r >= 0 && r < a->n_layers - 1 && a->layers[r].kind == FER_LAYER_BATCHNORM2D) {
            p->bn_of[i] = r;
            p->keep[r] = 0;
            p->absorbed_by[r] = i;
            p->n_removed++;
            r = only_reader(a, r);
        }
        if (r >= 0 && r < a->n_layers - 1 && is_activation(a->layers[r].kind)) {
            p->keep[r] = 0;
            p->absorbed_by[r] = i;
            p->n_removed++;
        }
    }
    for (int i = 0, n = 0; i < a->n_layers; i++)
        p->new_index[i] = p->keep[i] ? n++ : -1;
}

/* Source node j's output in the folded graph: j itself or the conv that absorbed it. */
static int folded_source(const fold_plan *p, int j)
{
    return j == FER_INPUT_NODE ? FER_INPUT_NODE
                               : p->new_index[p->keep[j] ? j : p->absorbed_by[j]];
}

static void build_folded_arch(const fer_arch *a, const fold_plan *p, fer_arch *out)
{
    *out = *a;
    out->n_layers = 0;
    memset(out->layers, 0, sizeof out->layers);
    for (int i = 0; i < a->n_layers; i++) {
        if (!p->keep[i])
            continue;
        fer_layer_spec s = a->layers[i];
        int ni = p->new_index[i];
        int in[FER_MAX_INPUTS];
        int n = fer_arch_node_inputs(a, i, in);
        s.n_inputs = n;
        for (int k = 0; k < n; k++)
            s.inputs[k] = folded_source(p, in[k]);
        if (n == 1 && s.inputs[0] == ni - 1)
            s.n_inputs = 0; /* the node before: the plain form */
        if (s.kind == FER_LAYER_CONV2D && p->bn_of[i] >= 0)
            s.bias = 1;
        for (int j = i + 1; j < a->n_layers; j++) { /* the activation it absorbed */
            if (p->absorbed_by[j] != i || !is_activation(a->layers[j].kind))
                continue;
            s.has_act = 1;
            s.act_kind = a->layers[j].kind;
            s.slope = a->layers[j].slope;
        }
        /* a later node may name what this conv absorbed: the conv answers to that name */
        for (int j = i + 1; !s.name[0] && j < a->n_layers; j++)
            if (p->absorbed_by[j] == i && a->layers[j].name[0])
                snprintf(s.name, sizeof s.name, "%s", a->layers[j].name);
        out->layers[out->n_layers++] = s;
    }
}

static fer_status get_host(fer_model *m, const char *name, float **out, size_t *numel)
{
    return fer_model_tensor_to_host(m, name, "fold", out, numel);
}

/* Copies tensor `from` of src into `to` of dst unchanged. */
static fer_status copy_tensor(fer_model *src, const char *from, fer_model *dst, const char *to)
{
    float *host;
    size_t n;
    FER_TRY(get_host(src, from, &host, &n));
    fer_status st = fer_model_set_tensor(dst, to, host, n);
    free(host);
    return st;
}

/* conv i with batch norm j of src -> conv ni of dst: scale = gamma / sqrt(var + eps) per output
 * channel; w' = w * scale, b' = beta + (b - mean) * scale, formed in double. */
static fer_status fold_conv_bn(fer_model *src, int i, int j, fer_model *dst, int ni)
{
    char name[64];
    const char *bn_parts[4] = {"weight", "bias", "running_mean", "running_var"};
    float *w = NULL, *b = NULL, *bn[4] = {NULL, NULL, NULL, NULL};
    size_t nw = 0, nb = 0, nbn[4];
    int c = src->layers[i].spec.out;
    fer_status st = FER_OK;
    snprintf(name, sizeof name, "layers.%d.weight", i);
    st = get_host(src, name, &w, &nw);
    if (st == FER_OK && src->layers[i].spec.bias) {
        snprintf(name, sizeof name, "layers.%d.bias", i);
        st = get_host(src, name, &b, &nb);
    }
    for (int q = 0; q < 4 && st == FER_OK; q++) {
        snprintf(name, sizeof name, "layers.%d.%s", j, bn_parts[q]);
        st = get_host(src, name, &bn[q], &nbn[q]);
    }
    float *bias = st == FER_OK ? malloc((size_t)c * sizeof *bias) : NULL;
    if (st == FER_OK && !bias)
        st = fer_fail(FER_ERR_NOMEM, "fold: out of memory");
    if (st == FER_OK) {
        size_t per_out = nw / (size_t)c;
        for (int o = 0; o < c; o++) {
            double scale = (double)bn[0][o] / sqrt((double)bn[3][o] + BN_EPS);
            for (size_t e = 0; e < per_out; e++)
                w[(size_t)o * per_out + e] = (float)((double)w[(size_t)o * per_out + e] * scale);
            double b0 = b ? (double)b[o] : 0.0;
            bias[o] = (float)((double)bn[1][o] + (b0 - (double)bn[2][o]) * scale);
        }
        snprintf(name, sizeof name, "layers.%d.weight", ni);
        st = fer_model_set_tensor(dst, name, w, nw);
    }
    if (st == FER_OK) {
        snprintf(name, sizeof name, "layers.%d.bias", ni);
        st = fer_model_set_tensor(dst, name, bias, (size_t)c);
    }
    free(w);
    free(b);
    free(bias);
    for (int q = 0; q < 4; q++)
        free(bn[q]);
    return st;
}

/* Every tensor of dst from src: folded convs computed, the rest copied by name. */
static fer_status carry_weights(fer_model *src, const fold_plan *p, fer_model *dst)
{
    char from[160], to[160];
    for (int t = 0; t < src->n_tensors; t++) {
        const char *name = src->tensors[t].info.name;
        int i;
        char suffix[64];
        if (sscanf(name, "layers.%d.%63s", &i, suffix) != 2) { /* the head */
            FER_TRY(copy_tensor(src, name, dst, name));
            continue;
        }
        if (i < 0 || i >= src->arch.n_layers || !p->keep[i])
            continue; /* an absorbed batch norm: inside its conv now */
        int ni = p->new_index[i];
        if (p->bn_of[i] >= 0) {
            if (strcmp(suffix, "weight") == 0)
                FER_TRY(fold_conv_bn(src, i, p->bn_of[i], dst, ni));
            continue; /* its bias is formed with the weight */
        }
        snprintf(from, sizeof from, "layers.%d.%s", i, suffix);
        snprintf(to, sizeof to, "layers.%d.%s", ni, suffix);
        FER_TRY(copy_tensor(src, from, dst, to));
    }
    return FER_OK;
}

static fer_status fold(fer_model *m, fer_backend *b, int max_batch, int lean, fer_model **out,
                       int *n_folded)
{
    *out = NULL;
    fold_plan *p = malloc(sizeof *p);
    fer_arch *folded = malloc(sizeof *folded);
    fer_status st = p && folded ? FER_OK : fer_fail(FER_ERR_NOMEM, "fold: out of memory");
    fer_model *f = NULL;
    if (st == FER_OK) {
        plan_fold(&m->arch, p);
        build_folded_arch(&m->arch, p, folded);
        st = lean ? fer_model_new_shared(folded, b, max_batch, &f)
                  : fer_model_new(folded, b, max_batch, &f);
    }
    if (st == FER_OK)
        st = carry_weights(m, p, f);
    if (st == FER_OK) {
        fer_model_set_folded(f);
        fer_model_weights_changed(f); /* from here on its weights carry a generation */
        if (n_folded)
            *n_folded = p->n_removed;
        *out = f;
    } else {
        fer_model_free(f);
    }
    free(p);
    free(folded);
    return st;
}

fer_status fer_model_fold(fer_model *m, fer_backend *b, int max_batch, fer_model **out,
                          int *n_folded)
{
    return fold(m, b, max_batch, 0, out, n_folded);
}

fer_status fer_model_fold_lean(fer_model *m, fer_backend *b, int max_batch, fer_model **out,
                               int *n_folded)
{
    return fold(m, b, max_batch, 1, out, n_folded);
}

int fer_model_is_folded(const fer_model *m)
{
    return m->folded;
}
