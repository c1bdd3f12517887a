/* Architectures: built-in presets and the JSON form (see fer/arch.h). */
#include "fer/arch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_internal.h"
#include "layer_ops.h"
#include "fer/fileio.h"
#include "fer/json_num.h"
#include "fer/layer_math.h"

static fer_layer_spec conv(int out, int k, int stride, int pad, int bias)
{
    fer_layer_spec s = {.kind = FER_LAYER_CONV2D, .out = out, .k = k, .stride = stride,
                        .pad = pad, .bias = bias, .groups = 1};
    return s;
}

static fer_layer_spec simple(fer_layer_kind kind)
{
    fer_layer_spec s = {.kind = kind};
    return s;
}

static fer_layer_spec pool(int k, int stride)
{
    fer_layer_spec s = {.kind = FER_LAYER_MAXPOOL2D, .k = k, .stride = stride};
    return s;
}

static fer_layer_spec linear(int out, int bias)
{
    fer_layer_spec s = {.kind = FER_LAYER_LINEAR, .out = out, .bias = bias};
    return s;
}

static fer_layer_spec dropout(float p)
{
    fer_layer_spec s = {.kind = FER_LAYER_DROPOUT, .p = p};
    return s;
}

static void push(fer_arch *a, fer_layer_spec s)
{
    a->layers[a->n_layers++] = s;
}

/* conv3x3(no bias) + BN + ReLU, twice, then maxpool 2: the seed's ConvBlock. */
static void conv_block(fer_arch *a, int channels)
{
    for (int i = 0; i < 2; i++) {
        push(a, conv(channels, 3, 1, 1, 0));
        push(a, simple(FER_LAYER_BATCHNORM2D));
        push(a, simple(FER_LAYER_RELU));
    }
    push(a, pool(2, 2));
}

/* Graph presets: every node named "<prefix>_<what>", inputs given by index. */
#define PREVIOUS (-2) /* push_node: take the node before */

static int push_node(fer_arch *a, const char *prefix, const char *what, fer_layer_spec s,
                     int in0, int in1)
{
    snprintf(s.name, sizeof s.name, "%s_%s", prefix, what);
    s.n_inputs = 0;
    if (in0 != PREVIOUS && !(in1 == PREVIOUS && in0 == a->n_layers - 1)) {
        s.inputs[s.n_inputs++] = in0;
        if (in1 != PREVIOUS)
            s.inputs[s.n_inputs++] = in1;
    }
    a->layers[a->n_layers] = s;
    return a->n_layers++;
}

/* ResNet's basic block on node x: conv3x3(stride)-BN-ReLU-conv3x3-BN, plus x or, where the
 * shape changes, a 1x1 conv(stride)-BN projection of x; ReLU after the sum. Returns the output. */
static int basic_block(fer_arch *a, const char *prefix, int x, int c_in, int c_out, int stride)
{
    push_node(a, prefix, "conv1", conv(c_out, 3, stride, 1, 0), x, PREVIOUS);
    push_node(a, prefix, "bn1", simple(FER_LAYER_BATCHNORM2D), PREVIOUS, PREVIOUS);
    push_node(a, prefix, "relu1", simple(FER_LAYER_RELU), PREVIOUS, PREVIOUS);
    push_node(a, prefix, "conv2", conv(c_out, 3, 1, 1, 0), PREVIOUS, PREVIOUS);
    int main_path = push_node(a, prefix, "bn2", simple(FER_LAYER_BATCHNORM2D), PREVIOUS,
                              PREVIOUS);
    int skip = x;
    if (stride != 1 || c_in != c_out) {
        push_node(a, prefix, "proj", conv(c_out, 1, stride, 0, 0), x, PREVIOUS);
        skip = push_node(a, prefix, "proj_bn", simple(FER_LAYER_BATCHNORM2D), PREVIOUS,
                         PREVIOUS);
    }
    push_node(a, prefix, "add", simple(FER_LAYER_ADD), main_path, skip);
    return push_node(a, prefix, "out", simple(FER_LAYER_RELU), PREVIOUS, PREVIOUS);
}

static void set_head(fer_arch *a, fer_head_kind head)
{
    a->head = head;
    a->n_classes = 7;
    a->arc_s = 30.0f;
    a->arc_m = 0.5f;
}

fer_status fer_arch_preset(const char *name, fer_head_kind head, fer_arch *out)
{
    memset(out, 0, sizeof *out);
    if (head != FER_HEAD_SOFTMAX && head != FER_HEAD_ARCFACE)
        return fer_fail(FER_ERR_ARG, "arch: unknown head kind %d", (int)head);
    out->in_c = 1;
    out->in_h = out->in_w = 48;
    set_head(out, head);
    if (strcmp(name, "simplecnn") == 0) {
        snprintf(out->name, sizeof out->name, "simplecnn");
        conv_block(out, 32);
        conv_block(out, 64);
        conv_block(out, 128);
        push(out, simple(FER_LAYER_FLATTEN));
        push(out, linear(256, 1));
        push(out, simple(FER_LAYER_RELU));
        push(out, dropout(0.3f));
        push(out, linear(128, 1));
        return FER_OK;
    }
    if (strcmp(name, "tiny") == 0) {
        /* 1x48x48 -> 8x24x24 -> 16x12x12 -> 16x6x6 -> 64 -> 32 features */
        snprintf(out->name, sizeof out->name, "tiny");
        push(out, conv(8, 3, 1, 1, 0));
        push(out, simple(FER_LAYER_BATCHNORM2D));
        push(out, simple(FER_LAYER_RELU));
        push(out, pool(2, 2));
        push(out, conv(16, 3, 1, 1, 0));
        push(out, simple(FER_LAYER_BATCHNORM2D));
        push(out, simple(FER_LAYER_RELU));
        push(out, pool(2, 2));
        push(out, pool(2, 2));
        push(out, simple(FER_LAYER_FLATTEN));
        push(out, linear(64, 1));
        push(out, simple(FER_LAYER_RELU));
        push(out, dropout(0.3f));
        push(out, linear(32, 1));
        return FER_OK;
    }
    if (strcmp(name, "vgg_gap") == 0) {
        /* VGG-style with global pooling (issue 19's starting point for the accuracy work):
         * four seed ConvBlocks 32/64/128/256 (48 -> 3), global average pooling instead of a
         * 4608-wide flatten, so 1.2 M parameters buy twice SimpleCNN's depth */
        snprintf(out->name, sizeof out->name, "vgg_gap");
        conv_block(out, 32);
        conv_block(out, 64);
        conv_block(out, 128);
        conv_block(out, 256);
        push(out, simple(FER_LAYER_GLOBAL_AVGPOOL));
        push(out, simple(FER_LAYER_FLATTEN));
        push(out, dropout(0.3f));
        push(out, linear(128, 1));
        return FER_OK;
    }
    if (strcmp(name, "resnet_s") == 0) {
        /* a narrow ResNet-18 pattern for 48x48 faces (issue 19's residual starting point):
         * stem 32 @48, basic blocks 32 @48, 64 x2 @24, 128 x2 @12, 256 @6, global average
         * pooling; 1.6 M parameters, about 2.5x SimpleCNN's multiply-adds */
        snprintf(out->name, sizeof out->name, "resnet_s");
        push_node(out, "stem", "conv", conv(32, 3, 1, 1, 0), PREVIOUS, PREVIOUS);
        push_node(out, "stem", "bn", simple(FER_LAYER_BATCHNORM2D), PREVIOUS, PREVIOUS);
        int x = push_node(out, "stem", "relu", simple(FER_LAYER_RELU), PREVIOUS, PREVIOUS);
        x = basic_block(out, "s1b1", x, 32, 32, 1);
        x = basic_block(out, "s2b1", x, 32, 64, 2);
        x = basic_block(out, "s2b2", x, 64, 64, 1);
        x = basic_block(out, "s3b1", x, 64, 128, 2);
        x = basic_block(out, "s3b2", x, 128, 128, 1);
        basic_block(out, "s4b1", x, 128, 256, 2);
        push_node(out, "pool", "gap", simple(FER_LAYER_GLOBAL_AVGPOOL), PREVIOUS, PREVIOUS);
        push_node(out, "pool", "flat", simple(FER_LAYER_FLATTEN), PREVIOUS, PREVIOUS);
        push_node(out, "pool", "drop", dropout(0.3f), PREVIOUS, PREVIOUS);
        return FER_OK;
    }
    return fer_fail(FER_ERR_ARG, "arch: unknown preset '%s' (expected %s)", name,
                    FER_ARCH_PRESETS);
}

static int is_preset(const char *name)
{
    return strcmp(name, "simplecnn") == 0 || strcmp(name, "tiny") == 0 ||
           strcmp(name, "vgg_gap") == 0 || strcmp(name, "resnet_s") == 0;
}

/* ---- validation and shape inference -------------------------------------------------- */

int fer_arch_node_inputs(const fer_arch *a, int i, int *out)
{
    const fer_layer_spec *l = &a->layers[i];
    if (l->n_inputs <= 0) {
        out[0] = i - 1; /* node 0: FER_INPUT_NODE */
        return 1;
    }
    int n = l->n_inputs < FER_MAX_INPUTS ? l->n_inputs : FER_MAX_INPUTS;
    for (int k = 0; k < n; k++)
        out[k] = l->inputs[k];
    return n;
}

/* "layer 3" or "layer 3 'b1_conv'": how messages name node i */
static void node_label(const fer_layer_spec *l, int i, char *buf, size_t cap)
{
    if (l->name[0])
        snprintf(buf, cap, "layer %d '%s'", i, l->name);
    else
        snprintf(buf, cap, "layer %d", i);
}

/* Names are identifiers, so they print and parse back the same everywhere. */
static int valid_node_name(const char *name)
{
    size_t n = strnlen(name, FER_NAME_LEN);
    if (n == 0 || n >= FER_NAME_LEN || strcmp(name, "input") == 0)
        return 0;
    for (size_t k = 0; k < n; k++) {
        char c = name[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* The graph checks that need no shapes: names, input indices (earlier nodes only: the stored
 * order is topological), arity, and that every node leads to the output (the last node). */
static fer_status check_graph(const fer_arch *a, const char *origin)
{
    int leads[FER_MAX_LAYERS] = {0};
    for (int i = 0; i < a->n_layers; i++) {
        const fer_layer_spec *l = &a->layers[i];
        const fer_layer_op *op = fer_layer_op_of(l->kind);
        char node[64];
        node_label(l, i, node, sizeof node);
        if (!op)
            return fer_fail(FER_ERR_FORMAT, "%s: %s has unknown kind %d", origin, node,
                            (int)l->kind);
        if (memchr(l->name, 0, FER_NAME_LEN) == NULL || (l->name[0] && !valid_node_name(l->name)))
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d has an invalid name (letters, digits, "
                            "'_', '-', '.', at most %d characters, not \"input\")", origin, i,
                            FER_NAME_LEN - 1);
        for (int j = 0; l->name[0] && j < i; j++)
            if (strcmp(a->layers[j].name, l->name) == 0)
                return fer_fail(FER_ERR_FORMAT, "%s: %s: the name is already used by layer %d",
                                origin, node, j);
        if (l->n_inputs < 0 || l->n_inputs > FER_MAX_INPUTS)
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) has %d inputs (at most %d)", origin, node,
                            op->type, l->n_inputs, FER_MAX_INPUTS);
        int in[FER_MAX_INPUTS];
        int n_in = fer_arch_node_inputs(a, i, in);
        if (n_in < op->min_inputs || n_in > op->max_inputs) {
            if (op->min_inputs == op->max_inputs)
                return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) needs %d input%s (got %d)", origin,
                                node, op->type, op->min_inputs, op->min_inputs == 1 ? "" : "s",
                                n_in);
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) needs %d to %d inputs (got %d)", origin,
                            node, op->type, op->min_inputs, op->max_inputs, n_in);
        }
        for (int k = 0; k < n_in; k++) {
            if (in[k] < FER_INPUT_NODE || in[k] >= i)
                return fer_fail(FER_ERR_FORMAT, "%s: %s (%s): input %d is node %d, not an "
                                "earlier node (a cycle, or nodes out of order)", origin, node,
                                op->type, k, in[k]);
            for (int q = 0; q < k; q++)
                if (in[q] == in[k])
                    return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) takes the same input twice",
                                    origin, node, op->type);
            if (l->n_inputs > 0 && in[k] >= 0 && !a->layers[in[k]].name[0])
                return fer_fail(FER_ERR_FORMAT, "%s: %s (%s): input %d (layer %d) has no name",
                                origin, node, op->type, k, in[k]);
        }
    }
    /* every node must lead to the output: mark backwards from the last node */
    leads[a->n_layers - 1] = 1;
    for (int i = a->n_layers - 1; i >= 0; i--) {
        char node[64];
        node_label(&a->layers[i], i, node, sizeof node);
        if (!leads[i])
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) does not lead to the output (the last "
                            "node)", origin, node, fer_layer_kind_name(a->layers[i].kind));
        int in[FER_MAX_INPUTS];
        int n_in = fer_arch_node_inputs(a, i, in);
        for (int k = 0; k < n_in; k++)
            if (in[k] >= 0)
                leads[in[k]] = 1;
    }
    return FER_OK;
}

/* Every count is a long long built from ints that the checks below bound first, so no product
 * can overflow before it is compared with its cap. */
static fer_status validate(const fer_arch *a, const char *origin, fer_shape *shapes_out,
                           fer_arch_size_info *info, fer_layer_cost *costs)
{
    if (a->in_c <= 0 || a->in_h <= 0 || a->in_w <= 0 || a->in_c > FER_MAX_INPUT_DIM ||
        a->in_h > FER_MAX_INPUT_DIM || a->in_w > FER_MAX_INPUT_DIM)
        return fer_fail(FER_ERR_FORMAT, "%s: input shape %dx%dx%d is outside 1..%d", origin,
                        a->in_c, a->in_h, a->in_w, FER_MAX_INPUT_DIM);
    if (a->n_layers <= 0 || a->n_layers > FER_MAX_LAYERS)
        return fer_fail(FER_ERR_FORMAT, "%s: %d layers (expected 1..%d)", origin, a->n_layers,
                        FER_MAX_LAYERS);
    if (a->n_classes < 2 || a->n_classes > FER_MAX_CLASSES)
        return fer_fail(FER_ERR_FORMAT, "%s: %d classes (expected 2..%d)", origin, a->n_classes,
                        FER_MAX_CLASSES);
    if (a->head != FER_HEAD_SOFTMAX && a->head != FER_HEAD_ARCFACE)
        return fer_fail(FER_ERR_FORMAT, "%s: unknown head kind %d", origin, (int)a->head);
    if (a->head == FER_HEAD_ARCFACE &&
        !(a->arc_s > 0.0f && a->arc_s <= FER_MAX_ARC_SCALE && a->arc_m >= 0.0f &&
          a->arc_m < 1.6f))
        return fer_fail(FER_ERR_FORMAT, "%s: arcface needs 0 < s <= %g and 0 <= m < pi/2", origin,
                        (double)FER_MAX_ARC_SCALE);
    long long in_floats = (long long)a->in_c * a->in_h * a->in_w;
    if (in_floats > FER_MAX_SAMPLE_FLOATS)
        return fer_fail(FER_ERR_FORMAT, "%s: input %dx%dx%d has more than %d values", origin,
                        a->in_c, a->in_h, a->in_w, FER_MAX_SAMPLE_FLOATS);
    FER_TRY(check_graph(a, origin));
    fer_arch_size_info sz = {0, 0, 0, in_floats, 0};
    const fer_shape input = {a->in_c, a->in_h, a->in_w, 0};
    fer_shape shapes[FER_MAX_LAYERS];
    for (int i = 0; i < a->n_layers; i++) {
        const fer_layer_spec *l = &a->layers[i];
        const fer_layer_op *op = fer_layer_op_of(l->kind);
        const char *kind = op->type;
        char node[64];
        node_label(l, i, node, sizeof node);
        int src[FER_MAX_INPUTS];
        fer_shape in[FER_MAX_INPUTS];
        int n_in = fer_arch_node_inputs(a, i, src);
        for (int k = 0; k < n_in; k++) {
            in[k] = src[k] == FER_INPUT_NODE ? input : shapes[src[k]];
            if (op->image_input && in[k].flat)
                return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) after flatten", origin, node, kind);
            if (op->flat_input && !in[k].flat)
                return fer_fail(FER_ERR_FORMAT,
                                "%s: %s (%s) needs a flattened input (add a flatten layer)",
                                origin, node, kind);
        }
        fer_shape next;
        fer_layer_cost cost = {0, 0, 0, 0};
        FER_TRY(op->infer(l, in, n_in, origin, node, &next, &cost));
        if (costs)
            costs[i] = cost;
        sz.params += cost.params;
        sz.buffers += cost.buffers;
        sz.macs += cost.macs;
        sz.n_tensors += cost.tensors;
        long long c = next.c, h = next.h, w = next.w;
        if (c <= 0 || h <= 0 || w <= 0)
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) output would be empty (%lldx%lldx"
                            "%lld)", origin, node, kind, c, h, w);
        long long floats = c * h * w;
        if (floats > FER_MAX_SAMPLE_FLOATS)
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) output %lldx%lldx%lld has more than "
                            "%d values", origin, node, kind, c, h, w, FER_MAX_SAMPLE_FLOATS);
        if (floats > sz.max_floats)
            sz.max_floats = floats;
        if (sz.params + sz.buffers > FER_MAX_PARAMS)
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) brings the network above %d "
                            "parameters", origin, node, kind, FER_MAX_PARAMS);
        if (sz.macs > FER_MAX_MACS)
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) brings one sample's forward pass "
                            "above %lld multiply-adds", origin, node, kind, FER_MAX_MACS);
        shapes[i] = next;
        if (shapes_out)
            shapes_out[i] = next;
    }
    fer_shape cur = shapes[a->n_layers - 1];
    if (!cur.flat)
        return fer_fail(FER_ERR_FORMAT, "%s: the layer stack must end in a flat feature vector",
                        origin);
    /* the head: weight [classes, features] (+ bias for softmax) */
    sz.params += (long long)a->n_classes * cur.c + (a->head == FER_HEAD_SOFTMAX ? a->n_classes : 0);
    sz.n_tensors += a->head == FER_HEAD_SOFTMAX ? 2 : 1;
    sz.macs += (long long)a->n_classes * cur.c;
    if (sz.params + sz.buffers > FER_MAX_PARAMS)
        return fer_fail(FER_ERR_FORMAT, "%s: the head brings the network above %d parameters",
                        origin, FER_MAX_PARAMS);
    if (info)
        *info = sz;
    return FER_OK;
}

fer_status fer_arch_shapes(const fer_arch *a, const char *origin, fer_shape *shapes)
{
    return validate(a, origin, shapes, NULL, NULL);
}

fer_status fer_arch_sizes(const fer_arch *a, const char *origin, fer_arch_size_info *info)
{
    return validate(a, origin, NULL, info, NULL);
}

/* "out=32 k=3 stride=1 pad=1 bias=false": the layer's JSON fields, as the table prints them */
static void layer_fields(const fer_layer_spec *l, char *buf, size_t cap)
{
    buf[0] = 0;
    const fer_layer_op *op = fer_layer_op_of(l->kind);
    cJSON *jl = cJSON_CreateObject();
    if (!jl || !op || !op->print) {
        cJSON_Delete(jl);
        return;
    }
    op->print(l, jl);
    size_t n = 0;
    for (const cJSON *it = jl->child; it && n < cap; it = it->next) {
        if (cJSON_IsNumber(it)) { /* 0.3 rather than the float's 0.300000011920929 */
            n += (size_t)snprintf(buf + n, cap - n, "%s%s=%.6g", n ? " " : "", it->string,
                                  it->valuedouble);
            continue;
        }
        char *v = cJSON_PrintUnformatted(it);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s=%s", n ? " " : "", it->string, v ? v : "?");
        free(v);
    }
    cJSON_Delete(jl);
}

fer_status fer_arch_describe(const fer_arch *a, const char *origin, FILE *out)
{
    fer_shape shapes[FER_MAX_LAYERS];
    fer_layer_cost costs[FER_MAX_LAYERS];
    fer_arch_size_info sz;
    FER_TRY(validate(a, origin, shapes, &sz, costs));
    fprintf(out, "%s: input %dx%dx%d, %s head, %d classes\n", a->name[0] ? a->name : origin,
            a->in_c, a->in_h, a->in_w, a->head == FER_HEAD_ARCFACE ? "arcface" : "softmax",
            a->n_classes);
    int graph = 0; /* a column of names and inputs only for graphs */
    for (int i = 0; i < a->n_layers; i++)
        graph |= a->layers[i].n_inputs > 0 || a->layers[i].name[0];
    if (graph)
        fprintf(out, "%3s  %-14s %-26s ", "#", "name", "inputs");
    else
        fprintf(out, "%3s  ", "#");
    fprintf(out, "%-11s %-38s %-14s %10s %14s\n", "layer", "fields", "output", "params",
            "mult-adds");
    for (int i = 0; i < a->n_layers; i++) {
        char fields[128], shape[32];
        layer_fields(&a->layers[i], fields, sizeof fields);
        if (shapes[i].flat)
            snprintf(shape, sizeof shape, "%d", shapes[i].c);
        else
            snprintf(shape, sizeof shape, "%dx%dx%d", shapes[i].c, shapes[i].h, shapes[i].w);
        fprintf(out, "%3d  ", i);
        if (graph) {
            char inputs[128] = "";
            size_t n = 0;
            for (int k = 0; k < a->layers[i].n_inputs && n < sizeof inputs; k++) {
                int src = a->layers[i].inputs[k];
                n += (size_t)snprintf(inputs + n, sizeof inputs - n, "%s%s", k ? "," : "",
                                      src >= 0 ? a->layers[src].name : "input");
            }
            fprintf(out, "%-14s %-26s ", a->layers[i].name[0] ? a->layers[i].name : "-",
                    inputs[0] ? inputs : "(previous)");
        }
        /* a name longer than its column (global_avgpool) borrows from the fields column */
        const char *kind = fer_layer_kind_name(a->layers[i].kind);
        int over = (int)strlen(kind) > 11 ? (int)strlen(kind) - 11 : 0;
        fprintf(out, "%-11s %-*s %-14s %10lld %14lld\n", kind, 38 - over, fields, shape,
                costs[i].params, costs[i].macs);
    }
    int feat = shapes[a->n_layers - 1].c;
    long long head_params = (long long)a->n_classes * feat +
                            (a->head == FER_HEAD_SOFTMAX ? a->n_classes : 0);
    char head_fields[64] = "";
    if (a->head == FER_HEAD_ARCFACE)
        snprintf(head_fields, sizeof head_fields, "s=%g m=%g", (double)a->arc_s, (double)a->arc_m);
    fprintf(out, "%3s  ", "");
    if (graph)
        fprintf(out, "%-14s %-26s ", "head", "");
    fprintf(out, "%-11s %-38s %-14d %10lld %14lld\n", "head", head_fields, a->n_classes,
            head_params, (long long)a->n_classes * feat);
    fprintf(out, "total: %lld parameters (+ %lld buffer values), %.1f M multiply-adds per image, "
            "largest activation %lld values per image\n", sz.params, sz.buffers,
            (double)sz.macs / 1e6, sz.max_floats);
    return ferror(out) ? fer_fail(FER_ERR_IO, "%s: cannot write the description", origin) : FER_OK;
}

/* ---- JSON ----------------------------------------------------------------------------- */


static fer_status check_keys(const cJSON *obj, const char *const *allowed, const char *origin,
                             const char *where)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (const char *const *k = allowed; *k; k++)
            if (strcmp(it->string, *k) == 0)
                ok = 1;
        if (!ok)
            return fer_fail(FER_ERR_FORMAT, "%s: %s: unknown field \"%s\"", origin, where,
                            it->string);
    }
    return FER_OK;
}

/* One node's type and fields; its "name" and "inputs" are read by parse_graph. */
static fer_status parse_layer(const cJSON *jl, int i, const char *origin, fer_layer_spec *l)
{
    memset(l, 0, sizeof *l);
    if (!cJSON_IsObject(jl))
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d is not an object", origin, i);
    char node[64];
    const cJSON *jname = cJSON_GetObjectItemCaseSensitive(jl, "name");
    if (jname) {
        if (!cJSON_IsString(jname) || !valid_node_name(jname->valuestring))
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d: \"name\" must be letters, digits, "
                            "'_', '-' or '.', 1 to %d characters, not \"input\"", origin, i,
                            FER_NAME_LEN - 1);
        snprintf(l->name, sizeof l->name, "%s", jname->valuestring);
    }
    node_label(l, i, node, sizeof node);
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(jl, "type");
    if (!cJSON_IsString(jt))
        return fer_fail(FER_ERR_FORMAT, "%s: %s has no \"type\"", origin, node);
    int kind = fer_layer_kind_named(jt->valuestring);
    if (kind < 0)
        return fer_fail(FER_ERR_FORMAT, "%s: %s has unknown type \"%s\"", origin, node,
                        jt->valuestring);
    const fer_layer_op *op = fer_layer_op_of((fer_layer_kind)kind);
    for (const cJSON *it = jl->child; it; it = it->next) { /* "type", "name", "inputs", op->keys */
        int known = strcmp(it->string, "type") == 0 || strcmp(it->string, "name") == 0 ||
                    strcmp(it->string, "inputs") == 0;
        for (const char *const *k = op->keys; !known && *k; k++)
            known = strcmp(it->string, *k) == 0;
        if (!known)
            return fer_fail(FER_ERR_FORMAT, "%s: %s: unknown field \"%s\"", origin, node,
                            it->string);
    }
    l->kind = (fer_layer_kind)kind;
    return op->parse ? op->parse(jl, origin, node, l) : FER_OK;
}

/* Node j's inputs as indices into the file's list: "inputs" names, or the node before. */
static fer_status resolve_inputs(const cJSON *jl, const fer_layer_spec *nodes, int n, int j,
                                 const char *origin, int *count, int *in)
{
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(jl, "inputs");
    char node[64];
    node_label(&nodes[j], j, node, sizeof node);
    if (!ji) {
        *count = 1;
        in[0] = j - 1; /* the first node: FER_INPUT_NODE */
        return FER_OK;
    }
    int m = cJSON_IsArray(ji) ? cJSON_GetArraySize(ji) : -1;
    if (m < 1 || m > FER_MAX_INPUTS)
        return fer_fail(FER_ERR_FORMAT, "%s: %s: \"inputs\" must be a list of 1 to %d node names",
                        origin, node, FER_MAX_INPUTS);
    int k = 0;
    for (const cJSON *it = ji->child; it; it = it->next, k++) {
        if (!cJSON_IsString(it))
            return fer_fail(FER_ERR_FORMAT, "%s: %s: \"inputs\" must be a list of node names",
                            origin, node);
        in[k] = -2;
        if (strcmp(it->valuestring, "input") == 0)
            in[k] = FER_INPUT_NODE;
        for (int q = 0; q < n && in[k] == -2; q++)
            if (nodes[q].name[0] && strcmp(nodes[q].name, it->valuestring) == 0)
                in[k] = q;
        if (in[k] == -2)
            return fer_fail(FER_ERR_FORMAT, "%s: %s: unknown input '%.40s'", origin, node,
                            it->valuestring);
        if (in[k] == j)
            return fer_fail(FER_ERR_FORMAT, "%s: %s is its own input (a cycle)", origin, node);
    }
    *count = m;
    return FER_OK;
}

/* Reads the "layers" list into out->layers in a topological order (Kahn's algorithm taking the
 * lowest file index first, so a file already in order keeps it). Errors name the node by its
 * place in the file. */
static fer_status parse_graph(const cJSON *jlayers, const char *origin, fer_arch *out)
{
    int n = cJSON_GetArraySize(jlayers);
    if (n < 1 || n > FER_MAX_LAYERS)
        return fer_fail(FER_ERR_FORMAT, "%s: %d layers (expected 1..%d)", origin, n,
                        FER_MAX_LAYERS);
    fer_layer_spec nodes[FER_MAX_LAYERS];
    const cJSON *jnode[FER_MAX_LAYERS];
    int n_in[FER_MAX_LAYERS], in[FER_MAX_LAYERS][FER_MAX_INPUTS];
    int i = 0;
    for (const cJSON *it = jlayers->child; it; it = it->next, i++) {
        jnode[i] = it;
        FER_TRY(parse_layer(it, i, origin, &nodes[i]));
        for (int j = 0; j < i; j++)
            if (nodes[i].name[0] && strcmp(nodes[j].name, nodes[i].name) == 0)
                return fer_fail(FER_ERR_FORMAT, "%s: layer %d '%s': the name is already used by "
                                "layer %d", origin, i, nodes[i].name, j);
    }
    for (i = 0; i < n; i++)
        FER_TRY(resolve_inputs(jnode[i], nodes, n, i, origin, &n_in[i], in[i]));
    /* order: a node is ready once every input is placed */
    int placed_at[FER_MAX_LAYERS], order[FER_MAX_LAYERS], n_placed = 0;
    for (i = 0; i < n; i++)
        placed_at[i] = -1;
    while (n_placed < n) {
        int next = -1;
        for (i = 0; i < n && next < 0; i++) {
            if (placed_at[i] >= 0)
                continue;
            int ready = 1;
            for (int k = 0; k < n_in[i]; k++)
                if (in[i][k] >= 0 && placed_at[in[i][k]] < 0)
                    ready = 0;
            if (ready)
                next = i;
        }
        if (next < 0) { /* every unplaced node waits: walk inputs until one repeats */
            int at = 0;
            while (placed_at[at] >= 0)
                at++;
            for (int step = 0; step < n; step++)
                for (int k = 0; k < n_in[at]; k++)
                    if (in[at][k] >= 0 && placed_at[in[at][k]] < 0) {
                        at = in[at][k];
                        break;
                    }
            char node[64];
            node_label(&nodes[at], at, node, sizeof node);
            return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) is part of a cycle", origin, node,
                            fer_layer_kind_name(nodes[at].kind));
        }
        placed_at[next] = n_placed;
        order[n_placed++] = next;
    }
    if (order[n - 1] != n - 1) { /* some node does not lead to the file's last node */
        char node[64];
        node_label(&nodes[order[n - 1]], order[n - 1], node, sizeof node);
        return fer_fail(FER_ERR_FORMAT, "%s: %s (%s) does not lead to the output (the last "
                        "node)", origin, node, fer_layer_kind_name(nodes[order[n - 1]].kind));
    }
    for (int p = 0; p < n; p++) {
        int j = order[p];
        fer_layer_spec *l = &out->layers[p];
        *l = nodes[j];
        int dflt = n_in[j] == 1 && (p == 0 ? in[j][0] == FER_INPUT_NODE
                                           : in[j][0] >= 0 && placed_at[in[j][0]] == p - 1);
        l->n_inputs = dflt ? 0 : n_in[j]; /* 0: the node before, written without "inputs" */
        for (int k = 0; !dflt && k < n_in[j]; k++)
            l->inputs[k] = in[j][k] == FER_INPUT_NODE ? FER_INPUT_NODE : placed_at[in[j][k]];
    }
    out->n_layers = n;
    return FER_OK;
}

fer_status fer_arch_from_json_obj(const cJSON *root, const char *origin, fer_head_kind def_head,
                                  fer_arch *out)
{
    static const char *const top_keys[] = {"name", "input", "classes", "layers", "head", NULL};
    static const char *const head_keys[] = {"type", "s", "m", NULL};
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(root))
        return fer_fail(FER_ERR_FORMAT, "%s: architecture is not a JSON object", origin);
    FER_TRY(check_keys(root, top_keys, origin, "architecture"));
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(root, "name");
    snprintf(out->name, sizeof out->name, "%s", cJSON_IsString(jn) ? jn->valuestring : "custom");
    const cJSON *jin = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (jin) {
        if (!cJSON_IsArray(jin) || cJSON_GetArraySize(jin) != 3)
            return fer_fail(FER_ERR_FORMAT, "%s: \"input\" must be [channels, height, width]",
                            origin);
        int dims[3];
        for (int i = 0; i < 3; i++) {
            long long d;
            FER_TRY(fer_json_int(cJSON_GetArrayItem(jin, i), origin, "input", 1, FER_MAX_INPUT_DIM,
                             &d));
            dims[i] = (int)d;
        }
        out->in_c = dims[0];
        out->in_h = dims[1];
        out->in_w = dims[2];
    } else {
        out->in_c = 1;
        out->in_h = out->in_w = 48;
    }
    set_head(out, def_head);
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (jc) {
        long long classes;
        FER_TRY(fer_json_int(jc, origin, "classes", 2, FER_MAX_CLASSES, &classes));
        out->n_classes = (int)classes;
    }
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(jl))
        return fer_fail(FER_ERR_FORMAT, "%s: \"layers\" must be an array", origin);
    FER_TRY(parse_graph(jl, origin, out));
    const cJSON *jh = cJSON_GetObjectItemCaseSensitive(root, "head");
    if (jh) {
        if (!cJSON_IsObject(jh))
            return fer_fail(FER_ERR_FORMAT, "%s: \"head\" must be an object", origin);
        FER_TRY(check_keys(jh, head_keys, origin, "head"));
        const cJSON *jt = cJSON_GetObjectItemCaseSensitive(jh, "type");
        if (!cJSON_IsString(jt))
            return fer_fail(FER_ERR_FORMAT, "%s: head has no \"type\"", origin);
        if (strcmp(jt->valuestring, "softmax") == 0)
            out->head = FER_HEAD_SOFTMAX;
        else if (strcmp(jt->valuestring, "arcface") == 0)
            out->head = FER_HEAD_ARCFACE;
        else
            return fer_fail(FER_ERR_FORMAT, "%s: unknown head \"%s\" (softmax or arcface)",
                            origin, jt->valuestring);
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(jh, "s");
        const cJSON *jm = cJSON_GetObjectItemCaseSensitive(jh, "m");
        double v;
        if (js) {
            FER_TRY(fer_json_double(js, origin, "head s", 1e-6, FER_MAX_ARC_SCALE, &v));
            out->arc_s = (float)v;
        }
        if (jm) {
            FER_TRY(fer_json_double(jm, origin, "head m", 0.0, 1.5707, &v));
            out->arc_m = (float)v;
        }
    }
    return fer_arch_shapes(out, origin, NULL);
}

fer_status fer_arch_from_json(const char *json_text, const char *origin, fer_arch *out)
{
    /* strict: text after the object is an error, not ignored */
    cJSON *root = cJSON_ParseWithOpts(json_text, NULL, 1);
    if (!root) {
        memset(out, 0, sizeof *out);
        return fer_fail(FER_ERR_FORMAT, "%s: invalid JSON near \"%.20s\"", origin,
                        cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
    }
    fer_status st = fer_arch_from_json_obj(root, origin, FER_HEAD_SOFTMAX, out);
    cJSON_Delete(root);
    return st;
}

/* Architecture files are small JSON; the cap stops a wrong path (a dataset, a device) early. */
static fer_status read_arch_text(const char *path, char **text)
{
    return fer_read_text_file(path, (size_t)1 << 24, text, NULL);
}

fer_status fer_arch_load(const char *name_or_path, fer_head_kind head, fer_arch *out)
{
    if (!name_or_path)
        return fer_fail(FER_ERR_ARG, "arch: no architecture given");
    if (is_preset(name_or_path))
        return fer_arch_preset(name_or_path, head, out);
    char *text;
    fer_status st = read_arch_text(name_or_path, &text);
    if (st)
        return st;
    cJSON *root = cJSON_ParseWithOpts(text, NULL, 1);
    free(text);
    if (!root)
        return fer_fail(FER_ERR_FORMAT, "%s: invalid JSON", name_or_path);
    st = fer_arch_from_json_obj(root, name_or_path, head, out);
    cJSON_Delete(root);
    return st;
}

cJSON *fer_arch_to_json_obj(const fer_arch *a)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "name", a->name);
    int dims[3] = {a->in_c, a->in_h, a->in_w};
    cJSON_AddItemToObject(root, "input", cJSON_CreateIntArray(dims, 3));
    cJSON_AddNumberToObject(root, "classes", a->n_classes);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; layers && i < a->n_layers; i++) {
        const fer_layer_spec *l = &a->layers[i];
        cJSON *jl = cJSON_CreateObject();
        if (!jl)
            break;
        const fer_layer_op *op = fer_layer_op_of(l->kind);
        if (l->name[0])
            cJSON_AddStringToObject(jl, "name", l->name);
        cJSON_AddStringToObject(jl, "type", op ? op->type : "?");
        if (op && op->print)
            op->print(l, jl);
        if (l->n_inputs > 0) { /* validation made every referenced node a named one */
            cJSON *ji = cJSON_AddArrayToObject(jl, "inputs");
            for (int k = 0; ji && k < l->n_inputs && k < FER_MAX_INPUTS; k++) {
                int src = l->inputs[k];
                const char *nm = src >= 0 && src < a->n_layers ? a->layers[src].name : "input";
                cJSON_AddItemToArray(ji, cJSON_CreateString(nm));
            }
        }
        cJSON_AddItemToArray(layers, jl);
    }
    cJSON *head = cJSON_AddObjectToObject(root, "head");
    if (head) {
        cJSON_AddStringToObject(head, "type", a->head == FER_HEAD_ARCFACE ? "arcface" : "softmax");
        if (a->head == FER_HEAD_ARCFACE) {
            cJSON_AddNumberToObject(head, "s", (double)a->arc_s);
            cJSON_AddNumberToObject(head, "m", (double)a->arc_m);
        }
    }
    return root;
}

char *fer_arch_to_json(const fer_arch *a)
{
    cJSON *root = fer_arch_to_json_obj(a);
    if (!root)
        return NULL;
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

int fer_arch_equal(const fer_arch *a, const fer_arch *b)
{
    if (a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w ||
        a->n_layers != b->n_layers || a->head != b->head || a->n_classes != b->n_classes)
        return 0;
    if (a->head == FER_HEAD_ARCFACE && (a->arc_s != b->arc_s || a->arc_m != b->arc_m))
        return 0;
    for (int i = 0; i < a->n_layers; i++) {
        const fer_layer_spec *x = &a->layers[i], *y = &b->layers[i];
        if (x->kind != y->kind)
            return 0;
        int xin[FER_MAX_INPUTS], yin[FER_MAX_INPUTS];
        int nx = fer_arch_node_inputs(a, i, xin), ny = fer_arch_node_inputs(b, i, yin);
        if (nx != ny || memcmp(xin, yin, (size_t)nx * sizeof *xin) != 0)
            return 0;
        const fer_layer_op *op = fer_layer_op_of(x->kind);
        if (op && op->same && !op->same(x, y))
            return 0;
    }
    return 1;
}
