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
    return fer_fail(FER_ERR_ARG, "arch: unknown preset '%s' (expected %s)", name,
                    FER_ARCH_PRESETS);
}

static int is_preset(const char *name)
{
    return strcmp(name, "simplecnn") == 0 || strcmp(name, "tiny") == 0 ||
           strcmp(name, "vgg_gap") == 0;
}

/* ---- validation and shape inference -------------------------------------------------- */

/* Every count is a long long built from ints that the checks below bound first, so no product
 * can overflow before it is compared with its cap. */
static fer_status validate(const fer_arch *a, const char *origin, fer_shape *shapes,
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
    fer_arch_size_info sz = {0, 0, 0, in_floats, 0};
    fer_shape cur = {a->in_c, a->in_h, a->in_w, 0};
    for (int i = 0; i < a->n_layers; i++) {
        const fer_layer_spec *l = &a->layers[i];
        const fer_layer_op *op = fer_layer_op_of(l->kind);
        if (!op)
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d has unknown kind %d", origin, i,
                            (int)l->kind);
        const char *kind = op->type;
        if (op->image_input && cur.flat)
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d (%s) after flatten", origin, i, kind);
        if (op->flat_input && !cur.flat)
            return fer_fail(FER_ERR_FORMAT,
                            "%s: layer %d (%s) needs a flattened input (add a flatten layer)",
                            origin, i, kind);
        fer_shape next;
        fer_layer_cost cost = {0, 0, 0, 0};
        FER_TRY(op->infer(l, cur, origin, i, &next, &cost));
        if (costs)
            costs[i] = cost;
        sz.params += cost.params;
        sz.buffers += cost.buffers;
        sz.macs += cost.macs;
        sz.n_tensors += cost.tensors;
        long long c = next.c, h = next.h, w = next.w;
        if (c <= 0 || h <= 0 || w <= 0)
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d (%s) output would be empty (%lldx%lldx"
                            "%lld)", origin, i, kind, c, h, w);
        long long floats = c * h * w;
        if (floats > FER_MAX_SAMPLE_FLOATS)
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d (%s) output %lldx%lldx%lld has more than "
                            "%d values", origin, i, kind, c, h, w, FER_MAX_SAMPLE_FLOATS);
        if (floats > sz.max_floats)
            sz.max_floats = floats;
        if (sz.params + sz.buffers > FER_MAX_PARAMS)
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d (%s) brings the network above %d "
                            "parameters", origin, i, kind, FER_MAX_PARAMS);
        if (sz.macs > FER_MAX_MACS)
            return fer_fail(FER_ERR_FORMAT, "%s: layer %d (%s) brings one sample's forward pass "
                            "above %lld multiply-adds", origin, i, kind, FER_MAX_MACS);
        cur = next;
        if (shapes)
            shapes[i] = cur;
    }
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
    fprintf(out, "%3s  %-11s %-38s %-14s %10s %14s\n", "#", "layer", "fields", "output", "params",
            "mult-adds");
    for (int i = 0; i < a->n_layers; i++) {
        char fields[128], shape[32];
        layer_fields(&a->layers[i], fields, sizeof fields);
        if (shapes[i].flat)
            snprintf(shape, sizeof shape, "%d", shapes[i].c);
        else
            snprintf(shape, sizeof shape, "%dx%dx%d", shapes[i].c, shapes[i].h, shapes[i].w);
        /* a name longer than its column (global_avgpool) borrows from the fields column */
        const char *kind = fer_layer_kind_name(a->layers[i].kind);
        int over = (int)strlen(kind) > 11 ? (int)strlen(kind) - 11 : 0;
        fprintf(out, "%3d  %-11s %-*s %-14s %10lld %14lld\n", i, kind, 38 - over, fields, shape,
                costs[i].params, costs[i].macs);
    }
    int feat = shapes[a->n_layers - 1].c;
    long long head_params = (long long)a->n_classes * feat +
                            (a->head == FER_HEAD_SOFTMAX ? a->n_classes : 0);
    char head_fields[64] = "";
    if (a->head == FER_HEAD_ARCFACE)
        snprintf(head_fields, sizeof head_fields, "s=%g m=%g", (double)a->arc_s, (double)a->arc_m);
    fprintf(out, "%3s  %-11s %-38s %-14d %10lld %14lld\n", "", "head", head_fields, a->n_classes,
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

static fer_status parse_layer(const cJSON *jl, int i, const char *origin, fer_layer_spec *l)
{
    if (!cJSON_IsObject(jl))
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d is not an object", origin, i);
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(jl, "type");
    if (!cJSON_IsString(jt))
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d has no \"type\"", origin, i);
    int kind = fer_layer_kind_named(jt->valuestring);
    if (kind < 0)
        return fer_fail(FER_ERR_FORMAT, "%s: layer %d has unknown type \"%s\"", origin, i,
                        jt->valuestring);
    const fer_layer_op *op = fer_layer_op_of((fer_layer_kind)kind);
    char where[32];
    snprintf(where, sizeof where, "layer %d", i);
    for (const cJSON *it = jl->child; it; it = it->next) { /* "type" or one of op->keys */
        int known = strcmp(it->string, "type") == 0;
        for (const char *const *k = op->keys; !known && *k; k++)
            known = strcmp(it->string, *k) == 0;
        if (!known)
            return fer_fail(FER_ERR_FORMAT, "%s: %s: unknown field \"%s\"", origin, where,
                            it->string);
    }
    memset(l, 0, sizeof *l);
    l->kind = (fer_layer_kind)kind;
    return op->parse ? op->parse(jl, origin, i, l) : FER_OK;
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
    int n = cJSON_GetArraySize(jl);
    if (n < 1 || n > FER_MAX_LAYERS)
        return fer_fail(FER_ERR_FORMAT, "%s: %d layers (expected 1..%d)", origin, n,
                        FER_MAX_LAYERS);
    int i = 0;
    for (const cJSON *it = jl->child; it; it = it->next, i++)
        FER_TRY(parse_layer(it, i, origin, &out->layers[i]));
    out->n_layers = n;
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
    cJSON *root = cJSON_Parse(json_text);
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
    fer_status st = fer_read_file(path, (size_t)1 << 24, text, NULL);
    if (st == FER_ERR_FORMAT)
        return fer_fail(FER_ERR_FORMAT, "%s: architecture file is too large", path);
    return st;
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
    cJSON *root = cJSON_Parse(text);
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
        cJSON_AddStringToObject(jl, "type", op ? op->type : "?");
        if (op && op->print)
            op->print(l, jl);
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
        const fer_layer_op *op = fer_layer_op_of(x->kind);
        if (op && op->same && !op->same(x, y))
            return 0;
    }
    return 1;
}
