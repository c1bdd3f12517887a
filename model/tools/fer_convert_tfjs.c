/* fer-convert-tfjs: a TensorFlow.js graph model (model.json + weight shards) -> a .fer graph.
 *
 *   fer-convert-tfjs MODEL.json OUT.fer
 *
 * Written for BlazeFace as @vladmandic/human ships it (data/models/fetch.sh), but it reads any
 * graph model made of the ops below; anything else is refused with one line naming the file
 * and the node.
 *   Placeholder [1,H,W,C]       -> the network input C x H x W (NHWC -> NCHW)
 *   _FusedConv2D (BiasAdd[,Relu|Relu6]), Conv2D, DepthwiseConv2dNative
 *                               -> conv2d (groups = in for depthwise), HWIO -> OIHW weights;
 *                                  "SAME" padding that pads more after than before (stride 2
 *                                  on even sizes) -> a pad2d node before a symmetric conv
 *   AddV2/Add, Relu, Relu6      -> add, relu, relu6
 *   MaxPool                     -> maxpool2d ("SAME" only where it pads nothing)
 *   Pad (zero)                  -> pad2d (rows/columns) and/or channel_pad (channels after)
 *   Identity, Reshape           -> the outputs: each output named in the signature (sorted by
 *                                  name) is flattened in NCHW order and all are concatenated
 *                                  into the one flat output vector of the .fer.
 * How an output's TF.js rows map into that vector is recorded in the checkpoint's "config"
 * object ("outputs": name, rows, cols, channels, height, width, offset): element (r, k) of a
 * [rows, cols] output reshaped from NHWC [height, width, channels] is t = r * cols + k, channel
 * t % channels at position t / channels, i.e. vector[offset + (t % channels) * height * width +
 * t / channels]. The .fer has a 2-class softmax head of zeros that nothing reads (the format
 * needs one); readers take the graph output with fer_model_get_features.
 *
 * A face-api weights manifest (a JSON list of {paths, weights}, no graph: the package builds the
 * network in code) holding TinyFaceDetector's weights (conv0/filters ... conv8/bias, as
 * @vladmandic/face-api 1.7.15 ships tiny_face_detector_model-weights_manifest.json) becomes the
 * network face-api's TinyYolov2Base.runMobilenet runs: see build_tiny_yolo. Weights quantized
 * to uint8/uint16 with {min, scale} are read as q * scale + min (as TF.js decodeWeights). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/checkpoint.h"
#include "fer/fileio.h"
#include "fer/model.h"
#include "fer_convert_tfjs.h"

#define FER_TRY(expr)                                                                          \
    do {                                                                                       \
        fer_status st_ = (expr);                                                               \
        if (st_ != FER_OK)                                                                     \
            return st_;                                                                        \
    } while (0)

#define MAX_JSON_BYTES ((size_t)64 << 20)
#define MAX_WEIGHT_BYTES ((size_t)256 << 20)
#define MAX_TF_NODES 4096
#define MAX_OUTPUTS FER_MAX_INPUTS
#define MAX_DIM (1 << 20)
#define MAX_ABS_WEIGHT 1e6f /* fer_checkpoint_load refuses larger (model/src/checkpoint.c) */

typedef struct weight {
    const char *name;
    int is_int;
    int ndim;
    int shape[4];
    size_t count;
    const void *data; /* little-endian float32 or int32 inside the shard buffer or owned */
    unsigned char *owned; /* dequantized or made-up values (little-endian float32), or NULL */
} weight;

typedef enum { UNSEEN = 0, VISITING, DONE } visit_state;

typedef struct tf_node {
    const cJSON *j;
    const char *name, *op;
    int n_in;
    const char *in[4];
    visit_state state;
    char fer_name[FER_NAME_LEN]; /* the .fer node giving this tensor ("input" for the input) */
    int c, h, w;                 /* its shape */
} tf_node;

typedef struct layer {
    cJSON *spec;        /* owned until added to the layers array */
    char name[FER_NAME_LEN];
    const weight *w;    /* conv: TF filter; NULL otherwise */
    const weight *bias; /* conv bias or NULL */
    int depthwise;
} layer;

typedef struct converter {
    const char *path; /* model.json, the origin of every message */
    cJSON *root;
    char *bin;
    size_t bin_len;
    weight *weights;
    int n_weights;
    tf_node *nodes;
    int n_nodes;
    layer *layers;
    int n_layers, cap_layers;
    int in_c, in_h, in_w, have_input;
    weight extra[8]; /* weights the converter makes up (TinyFaceDetector's pool masks) */
    int n_extra;
} converter;

/* ---- small helpers ---------------------------------------------------------------------- */

static int32_t le_i32(const void *p)
{
    const unsigned char *b = p;
    return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24);
}

static void put_le_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(u >> 8 * i);
}

static float le_f32(const void *p)
{
    uint32_t u = (uint32_t)le_i32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static const cJSON *obj(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const weight *find_weight(const converter *cv, const char *name)
{
    for (int i = 0; i < cv->n_weights; i++)
        if (strcmp(cv->weights[i].name, name) == 0)
            return &cv->weights[i];
    return NULL;
}

static tf_node *find_node(converter *cv, const char *name)
{
    for (int i = 0; i < cv->n_nodes; i++)
        if (strcmp(cv->nodes[i].name, name) == 0)
            return &cv->nodes[i];
    return NULL;
}

/* attr.<key>.list.i[] as ints (TF.js stores int64 lists as strings); count written to *n. */
static fer_status attr_ints(const converter *cv, const tf_node *t, const char *key, int *out,
                            int cap, int *n)
{
    const cJSON *a = obj(obj(obj(obj(t->j, "attr"), key), "list"), "i");
    *n = 0;
    if (!a)
        return FER_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > cap)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s': attribute %s is not a list of up to %d "
                        "integers", cv->path, t->name, key, cap);
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        long v;
        char *end = NULL;
        if (cJSON_IsString(e)) {
            errno = 0;
            v = strtol(e->valuestring, &end, 10);
            if (errno || !end || *end || end == e->valuestring)
                v = LONG_MIN;
        } else if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble <= MAX_DIM) {
            v = (long)e->valuedouble; /* range first: converting 1e300 to long is undefined */
        } else {
            v = LONG_MIN;
        }
        if (v < 0 || v > MAX_DIM)
            return fer_fail(FER_ERR_FORMAT, "%s: node '%s': attribute %s holds a value outside "
                            "0..%d", cv->path, t->name, key, MAX_DIM);
        out[(*n)++] = (int)v;
    }
    return FER_OK;
}

/* attr.<key>.s decoded from base64 into buf ("" when absent). */
static fer_status attr_string(const converter *cv, const tf_node *t, const char *key, char *buf,
                              size_t cap)
{
    buf[0] = '\0';
    const cJSON *s = obj(obj(obj(t->j, "attr"), key), "s");
    if (!s)
        return FER_OK;
    if (!cJSON_IsString(s))
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s': attribute %s is not a string", cv->path,
                        t->name, key);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *in = s->valuestring;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *p = strchr(b64, *in);
        if (!p || !*in)
            return fer_fail(FER_ERR_FORMAT, "%s: node '%s': attribute %s is not base64",
                            cv->path, t->name, key);
        acc = acc << 6 | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= cap)
                return fer_fail(FER_ERR_FORMAT, "%s: node '%s': attribute %s is too long",
                                cv->path, t->name, key);
            buf[o++] = (char)(acc >> bits & 0xff);
        }
    }
    buf[o] = '\0';
    return FER_OK;
}

/* The fused ops of a _FusedConv2D, joined with ',' ("BiasAdd,Relu"). */
static fer_status fused_ops(const converter *cv, const tf_node *t, char *buf, size_t cap)
{
    buf[0] = '\0';
    const cJSON *a = obj(obj(obj(obj(t->j, "attr"), "fused_ops"), "list"), "s");
    if (!a)
        return FER_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > 4)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s': fused_ops is not a short list",
                        cv->path, t->name);
    for (int i = 0; i < cJSON_GetArraySize(a); i++) {
        /* decode each entry through a fake node holding it as attr.x.s */
        cJSON *fake = cJSON_CreateObject(), *attr = cJSON_AddObjectToObject(fake, "attr");
        cJSON *x = attr ? cJSON_AddObjectToObject(attr, "x") : NULL;
        const cJSON *e = cJSON_GetArrayItem(a, i);
        if (!x || !cJSON_IsString(e) || !cJSON_AddStringToObject(x, "s", e->valuestring)) {
            cJSON_Delete(fake);
            return fer_fail(FER_ERR_FORMAT, "%s: node '%s': fused_ops entry %d is not a string",
                            cv->path, t->name, i);
        }
        tf_node ft = {.j = fake, .name = t->name};
        char one[32];
        fer_status st = attr_string(cv, &ft, "x", one, sizeof one);
        cJSON_Delete(fake);
        FER_TRY(st);
        if (strlen(buf) + strlen(one) + 2 > cap)
            return fer_fail(FER_ERR_FORMAT, "%s: node '%s': fused_ops too long", cv->path,
                            t->name);
        if (i)
            strcat(buf, ",");
        strcat(buf, one);
    }
    return FER_OK;
}

/* ---- reading the model ------------------------------------------------------------------- */

/* The folder of path with '/' (or "" for a bare name) + rel; rel must stay inside it. */
static fer_status shard_path(const converter *cv, const char *rel, char *out, size_t cap)
{
    if (rel[0] == '/' || strstr(rel, "..") || strchr(rel, '\\'))
        return fer_fail(FER_ERR_FORMAT, "%s: weight shard path \"%s\" leaves the model's folder",
                        cv->path, rel);
    const char *slash = strrchr(cv->path, '/');
    int dir_len = slash ? (int)(slash - cv->path + 1) : 0;
    if ((size_t)snprintf(out, cap, "%.*s%s", dir_len, cv->path, rel) >= cap)
        return fer_fail(FER_ERR_FORMAT, "%s: weight shard path \"%s\" is too long", cv->path, rel);
    return FER_OK;
}

/* A weight's "quantization": {dtype uint8|uint16, min, scale} (float32 weights only). */
static fer_status read_quantization(const converter *cv, const cJSON *e, int *bytes,
                                    double *q_min, double *q_scale)
{
    const cJSON *q = obj(e, "quantization"), *dt = obj(q, "dtype"), *mn = obj(q, "min"),
                *sc = obj(q, "scale"), *wdt = obj(e, "dtype");
    const char *name = cJSON_GetStringValue(obj(e, "name"));
    if (!cJSON_IsString(dt) || !cJSON_IsNumber(mn) || !cJSON_IsNumber(sc) ||
        !isfinite(mn->valuedouble) || !isfinite(sc->valuedouble) || !cJSON_IsString(wdt) ||
        strcmp(wdt->valuestring, "float32") != 0)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: weight '%s' is quantized other than as "
                        "{dtype, min, scale} of a float32 weight", cv->path, name ? name : "?");
    if (strcmp(dt->valuestring, "uint8") == 0)
        *bytes = 1;
    else if (strcmp(dt->valuestring, "uint16") == 0)
        *bytes = 2;
    else
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: weight '%s' is quantized to %s (uint8 or "
                        "uint16 only)", cv->path, name ? name : "?", dt->valuestring);
    /* bounded so q * scale + min stays far inside float's range (converting more is undefined) */
    if (!(fabs(mn->valuedouble) <= MAX_ABS_WEIGHT && fabs(sc->valuedouble) <= MAX_ABS_WEIGHT))
        return fer_fail(FER_ERR_FORMAT, "%s: weight '%s': quantization min %g or scale %g "
                        "outside +-%g", cv->path, name ? name : "?", mn->valuedouble,
                        sc->valuedouble, (double)MAX_ABS_WEIGHT);
    *q_min = mn->valuedouble;
    *q_scale = sc->valuedouble;
    return FER_OK;
}

static fer_status read_weights(converter *cv)
{
    const cJSON *manifest =
        cJSON_IsArray(cv->root) ? cv->root : obj(cv->root, "weightsManifest"); /* face-api */
    if (!cJSON_IsArray(manifest) || cJSON_GetArraySize(manifest) < 1)
        return fer_fail(FER_ERR_FORMAT, "%s: no \"weightsManifest\" list (not a TF.js graph "
                        "model?)", cv->path);
    /* every shard of every group, in order, into one buffer */
    const cJSON *group;
    int n_weights = 0;
    cJSON_ArrayForEach(group, manifest) {
        const cJSON *paths = obj(group, "paths"), *ws = obj(group, "weights"), *p;
        if (!cJSON_IsArray(paths) || !cJSON_IsArray(ws))
            return fer_fail(FER_ERR_FORMAT, "%s: a weightsManifest group lacks \"paths\" or "
                            "\"weights\"", cv->path);
        cJSON_ArrayForEach(p, paths) {
            if (!cJSON_IsString(p))
                return fer_fail(FER_ERR_FORMAT, "%s: a weight shard path is not a string",
                                cv->path);
            char full[4096];
            FER_TRY(shard_path(cv, p->valuestring, full, sizeof full));
            char *data;
            size_t len;
            FER_TRY(fer_read_file(full, MAX_WEIGHT_BYTES, &data, &len));
            if (len > MAX_WEIGHT_BYTES - cv->bin_len) {
                free(data);
                return fer_fail(FER_ERR_FORMAT, "%s: weight shards exceed %zu MiB", cv->path,
                                MAX_WEIGHT_BYTES >> 20);
            }
            char *grown = realloc(cv->bin, cv->bin_len + len + 1);
            if (!grown) {
                free(data);
                return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
            }
            cv->bin = grown;
            memcpy(cv->bin + cv->bin_len, data, len);
            cv->bin_len += len;
            free(data);
        }
        if (cJSON_GetArraySize(ws) > MAX_TF_NODES - n_weights)
            return fer_fail(FER_ERR_FORMAT, "%s: more than %d weights", cv->path, MAX_TF_NODES);
        n_weights += cJSON_GetArraySize(ws);
    }
    cv->weights = calloc((size_t)n_weights + 1, sizeof *cv->weights);
    if (!cv->weights)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
    size_t off = 0;
    cJSON_ArrayForEach(group, manifest) {
        const cJSON *e;
        cJSON_ArrayForEach(e, obj(group, "weights")) {
            weight *w = &cv->weights[cv->n_weights];
            const cJSON *name = obj(e, "name"), *shape = obj(e, "shape"), *dtype = obj(e, "dtype");
            if (!cJSON_IsString(name) || !cJSON_IsArray(shape) || !cJSON_IsString(dtype))
                return fer_fail(FER_ERR_FORMAT, "%s: weight %d lacks a name, shape or dtype",
                                cv->path, cv->n_weights);
            int bytes = 4;
            double q_min = 0.0, q_scale = 0.0;
            if (obj(e, "quantization"))
                FER_TRY(read_quantization(cv, e, &bytes, &q_min, &q_scale));
            if (strcmp(dtype->valuestring, "float32") == 0)
                w->is_int = 0;
            else if (strcmp(dtype->valuestring, "int32") == 0)
                w->is_int = 1;
            else
                return fer_fail(FER_ERR_UNSUPPORTED, "%s: weight '%s' has dtype %s (float32 or "
                                "int32 only)", cv->path, name->valuestring, dtype->valuestring);
            if (cJSON_GetArraySize(shape) > 4)
                return fer_fail(FER_ERR_FORMAT, "%s: weight '%s' has more than 4 dimensions",
                                cv->path, name->valuestring);
            w->name = name->valuestring;
            w->count = 1;
            const cJSON *d;
            cJSON_ArrayForEach(d, shape) {
                if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > MAX_DIM ||
                    d->valuedouble != (int)d->valuedouble)
                    return fer_fail(FER_ERR_FORMAT, "%s: weight '%s' has a dimension outside "
                                    "0..%d", cv->path, w->name, MAX_DIM);
                w->shape[w->ndim++] = (int)d->valuedouble;
                w->count *= (size_t)d->valuedouble; /* <= 2^20 each: checked below */
                if (w->count > MAX_WEIGHT_BYTES / 4)
                    return fer_fail(FER_ERR_FORMAT, "%s: weight '%s' is too large", cv->path,
                                    w->name);
            }
            if (w->count * bytes > cv->bin_len - off)
                return fer_fail(FER_ERR_FORMAT, "%s: the weight shards end inside weight '%s' "
                                "(%zu bytes, it ends at byte %zu)", cv->path, w->name,
                                cv->bin_len, off + w->count * bytes);
            w->data = cv->bin + off;
            if (bytes != 4) {
                const unsigned char *q = (const unsigned char *)cv->bin + off;
                if (!(w->owned = malloc(w->count * 4 + 1)))
                    return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
                for (size_t i = 0; i < w->count; i++)
                    put_le_f32(w->owned + 4 * i,
                               (float)(q_scale * (bytes == 1 ? q[i] : q[2 * i] | q[2 * i + 1] << 8) +
                                       q_min));
                w->data = w->owned;
            }
            off += w->count * bytes;
            cv->n_weights++;
        }
    }
    if (off != cv->bin_len)
        return fer_fail(FER_ERR_FORMAT, "%s: the weight shards hold %zu bytes, the manifest "
                        "describes %zu", cv->path, cv->bin_len, off);
    return FER_OK;
}

static fer_status read_nodes(converter *cv)
{
    const cJSON *nodes = obj(obj(cv->root, "modelTopology"), "node");
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) < 1)
        return fer_fail(FER_ERR_FORMAT, "%s: no \"modelTopology\".\"node\" list (not a TF.js "
                        "graph model?)", cv->path);
    int n = cJSON_GetArraySize(nodes);
    if (n > MAX_TF_NODES)
        return fer_fail(FER_ERR_FORMAT, "%s: %d nodes (at most %d)", cv->path, n, MAX_TF_NODES);
    cv->nodes = calloc((size_t)n, sizeof *cv->nodes);
    if (!cv->nodes)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
    const cJSON *e;
    cJSON_ArrayForEach(e, nodes) {
        tf_node *t = &cv->nodes[cv->n_nodes];
        const cJSON *name = obj(e, "name"), *op = obj(e, "op"), *in = obj(e, "input"), *s;
        if (!cJSON_IsString(name) || !cJSON_IsString(op))
            return fer_fail(FER_ERR_FORMAT, "%s: node %d lacks a name or op", cv->path,
                            cv->n_nodes);
        t->j = e;
        t->name = name->valuestring;
        t->op = op->valuestring;
        if (in && !cJSON_IsArray(in))
            return fer_fail(FER_ERR_FORMAT, "%s: node '%s': \"input\" is not a list", cv->path,
                            t->name);
        cJSON_ArrayForEach(s, in) {
            if (!cJSON_IsString(s))
                return fer_fail(FER_ERR_FORMAT, "%s: node '%s': an input is not a string",
                                cv->path, t->name);
            if (s->valuestring[0] == '^')
                continue; /* control dependency: no data */
            if (t->n_in == 4)
                return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (%s) has more than 4 inputs",
                                cv->path, t->name, t->op);
            char *colon = strrchr(s->valuestring, ':');
            if (colon && strcmp(colon, ":0") != 0)
                return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' reads output %s of another "
                                "node (single-output ops only)", cv->path, t->name, colon);
            if (colon)
                *colon = '\0'; /* "x:0" names x */
            t->in[t->n_in++] = s->valuestring;
        }
        cv->n_nodes++;
    }
    return FER_OK;
}

/* ---- emitting .fer nodes ----------------------------------------------------------------- */

static fer_status add_layer(converter *cv, const char *type, const char *name, const char *input,
                            layer **out)
{
    if (cv->n_layers >= FER_MAX_LAYERS)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: the converted graph needs more than %d nodes",
                        cv->path, FER_MAX_LAYERS);
    if (cv->n_layers == cv->cap_layers) {
        int cap = cv->cap_layers ? 2 * cv->cap_layers : 64;
        layer *g = realloc(cv->layers, (size_t)cap * sizeof *g);
        if (!g)
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
        cv->layers = g;
        cv->cap_layers = cap;
    }
    layer *l = &cv->layers[cv->n_layers];
    memset(l, 0, sizeof *l);
    l->spec = cJSON_CreateObject();
    if (!l->spec)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
    cv->n_layers++;
    snprintf(l->name, sizeof l->name, "%.31s", name);
    cJSON_AddStringToObject(l->spec, "name", name);
    cJSON_AddStringToObject(l->spec, "type", type);
    if (input) {
        cJSON *ins = cJSON_AddArrayToObject(l->spec, "inputs");
        cJSON_AddItemToArray(ins, cJSON_CreateString(input));
    }
    *out = l;
    return FER_OK;
}

/* "n<index>_<TF layer name>", at most 24 characters; suffix (<= 6) is appended by callers. */
static void base_name(const converter *cv, const tf_node *t, char *out)
{
    /* the last path component that is not the op's own name ("conv2d_3" of
     * ".../conv2d_3/BiasAdd") */
    const char *end = strrchr(t->name, '/'), *start = t->name;
    if (end) {
        const char *p = end;
        while (p > t->name && p[-1] != '/')
            p--;
        start = p;
    } else {
        end = t->name + strlen(t->name);
    }
    char tag[32];
    int k = 0;
    for (const char *p = start; p < end && k < 31; p++)
        tag[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'
                       ? *p
                       : '_';
    tag[k] = '\0';
    snprintf(out, 25, "n%d_%.18s", (int)(t - cv->nodes), tag);
}

static fer_status visit(converter *cv, tf_node *t);

/* The producer of input k of t, visited. */
static fer_status input_of(converter *cv, tf_node *t, int k, tf_node **out)
{
    if (k >= t->n_in)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s' (%s) has %d inputs, needs more", cv->path,
                        t->name, t->op, t->n_in);
    tf_node *src = find_node(cv, t->in[k]);
    if (!src)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s' reads unknown node '%s'", cv->path,
                        t->name, t->in[k]);
    FER_TRY(visit(cv, src));
    *out = src;
    return FER_OK;
}

/* A Const input: its weight. */
static fer_status const_input(converter *cv, tf_node *t, int k, int is_int, const weight **out)
{
    if (k >= t->n_in)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s' (%s) lacks input %d", cv->path, t->name,
                        t->op, k);
    const weight *w = find_weight(cv, t->in[k]);
    if (!w || w->is_int != is_int)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s' (%s): input '%s' is not an %s weight",
                        cv->path, t->name, t->op, t->in[k], is_int ? "int32" : "float32");
    *out = w;
    return FER_OK;
}

static fer_status strides_of(converter *cv, tf_node *t, int *s)
{
    int v[4], n;
    FER_TRY(attr_ints(cv, t, "strides", v, 4, &n));
    if (n == 0) {
        *s = 1;
        return FER_OK;
    }
    if (n != 4 || v[0] != 1 || v[3] != 1 || v[1] != v[2] || v[1] < 1 || v[1] > FER_MAX_CONV_KERNEL)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (%s): strides must be [1,s,s,1]",
                        cv->path, t->name, t->op);
    *s = v[1];
    return FER_OK;
}

static fer_status check_nhwc_undilated(converter *cv, tf_node *t)
{
    char fmt[16];
    FER_TRY(attr_string(cv, t, "data_format", fmt, sizeof fmt));
    if (fmt[0] && strcmp(fmt, "NHWC") != 0)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (%s): data format %s (NHWC only)",
                        cv->path, t->name, t->op, fmt);
    int d[4], n;
    FER_TRY(attr_ints(cv, t, "dilations", d, 4, &n));
    for (int i = 0; i < n; i++)
        if (d[i] != 1)
            return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (%s): dilated (dilations 1 "
                            "only)", cv->path, t->name, t->op);
    return FER_OK;
}

/* TF padding along one axis: before and after, from "SAME"/"VALID". */
static fer_status same_pads(converter *cv, tf_node *t, int in, int k, int s, int *before,
                            int *after, int *out)
{
    char pad[16];
    FER_TRY(attr_string(cv, t, "padding", pad, sizeof pad));
    if (strcmp(pad, "VALID") == 0) {
        *before = *after = 0;
        *out = in < k ? 0 : (in - k) / s + 1;
    } else if (strcmp(pad, "SAME") == 0) {
        *out = (in + s - 1) / s;
        int total = (*out - 1) * s + k - in;
        total = total < 0 ? 0 : total;
        *before = total / 2;
        *after = total - *before;
    } else {
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (%s): padding \"%s\" (SAME or "
                        "VALID only)", cv->path, t->name, t->op, pad);
    }
    if (*out < 1)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s' (%s): empty output", cv->path, t->name,
                        t->op);
    return FER_OK;
}

/* A float32 weight the .fer will hold: finite and within what fer_checkpoint_load accepts. */
static fer_status check_values(const converter *cv, const weight *w)
{
    for (size_t i = 0; i < w->count; i++) {
        float v = le_f32((const char *)w->data + 4 * i);
        if (!(v >= -MAX_ABS_WEIGHT && v <= MAX_ABS_WEIGHT)) /* NaN fails both */
            return fer_fail(FER_ERR_FORMAT, "%s: weight '%s' holds %g at index %zu (finite "
                            "values within +-%g only)", cv->path, w->name, (double)v, i,
                            (double)MAX_ABS_WEIGHT);
    }
    return FER_OK;
}

static fer_status emit_conv(converter *cv, tf_node *t, int depthwise, int fused)
{
    tf_node *x;
    const weight *f, *bias = NULL;
    FER_TRY(input_of(cv, t, 0, &x));
    FER_TRY(const_input(cv, t, 1, 0, &f));
    FER_TRY(check_nhwc_undilated(cv, t));
    char ops[64] = "";
    if (fused) {
        FER_TRY(fused_ops(cv, t, ops, sizeof ops));
        if (strcmp(ops, "BiasAdd") != 0 && strcmp(ops, "BiasAdd,Relu") != 0 &&
            strcmp(ops, "BiasAdd,Relu6") != 0)
            return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s': fused ops \"%s\" (BiasAdd with "
                            "an optional Relu or Relu6 only)", cv->path, t->name, ops);
        FER_TRY(const_input(cv, t, 2, 0, &bias));
    }
    if (f->ndim != 4 || f->shape[0] != f->shape[1] || f->shape[2] != x->c)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s': filter '%s' is not [k,k,%d,n]", cv->path,
                        t->name, f->name, x->c);
    /* 64-bit: an empty [0,0,C,M] filter has no bytes to bound C * M */
    long long out_ll = depthwise ? (long long)x->c * f->shape[3] : f->shape[3];
    int k = f->shape[0];
    if (k < 1 || k > FER_MAX_CONV_KERNEL || out_ll < 1 || out_ll > FER_MAX_WIDTH)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s': kernel %d or %lld channels out of "
                        "range", cv->path, t->name, k, out_ll);
    int out_c = (int)out_ll;
    if (bias && (bias->ndim != 1 || bias->shape[0] != out_c))
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s': bias '%s' is not [%d]", cv->path,
                        t->name, bias->name, out_c);
    int s, bh, ah, bw, aw, oh, ow;
    FER_TRY(strides_of(cv, t, &s));
    FER_TRY(same_pads(cv, t, x->h, k, s, &bh, &ah, &oh));
    FER_TRY(same_pads(cv, t, x->w, k, s, &bw, &aw, &ow));
    int p = bh;
    p = ah < p ? ah : p;
    p = bw < p ? bw : p;
    p = aw < p ? aw : p;
    if (p > k)
        p = k;
    char base[32], name[FER_NAME_LEN];
    base_name(cv, t, base);
    const char *src = x->fer_name;
    layer *l;
    if (bh != p || ah != p || bw != p || aw != p) { /* the asymmetric part before the conv */
        snprintf(name, sizeof name, "%.24s_pad", base);
        FER_TRY(add_layer(cv, "pad2d", name, src, &l));
        cJSON_AddNumberToObject(l->spec, "top", bh - p);
        cJSON_AddNumberToObject(l->spec, "left", bw - p);
        cJSON_AddNumberToObject(l->spec, "bottom", ah - p);
        cJSON_AddNumberToObject(l->spec, "right", aw - p);
        src = cv->layers[cv->n_layers - 1].name;
    }
    FER_TRY(add_layer(cv, "conv2d", base, src, &l));
    cJSON_AddNumberToObject(l->spec, "out", out_c);
    cJSON_AddNumberToObject(l->spec, "k", k);
    cJSON_AddNumberToObject(l->spec, "stride", s);
    cJSON_AddNumberToObject(l->spec, "pad", p);
    cJSON_AddBoolToObject(l->spec, "bias", bias != NULL);
    if (depthwise)
        cJSON_AddNumberToObject(l->spec, "groups", x->c);
    l->w = f;
    l->bias = bias;
    l->depthwise = depthwise;
    snprintf(t->fer_name, sizeof t->fer_name, "%.24s", base);
    if (strstr(ops, "Relu")) {
        snprintf(name, sizeof name, "%.24s_%s", base, strstr(ops, "Relu6") ? "relu6" : "relu");
        FER_TRY(add_layer(cv, strstr(ops, "Relu6") ? "relu6" : "relu", name, base, &l));
        snprintf(t->fer_name, sizeof t->fer_name, "%.31s", name);
    }
    t->c = out_c, t->h = oh, t->w = ow;
    return FER_OK;
}

static fer_status emit_pad(converter *cv, tf_node *t)
{
    tf_node *x;
    const weight *pw;
    FER_TRY(input_of(cv, t, 0, &x));
    FER_TRY(const_input(cv, t, 1, 1, &pw));
    if (pw->count != 8)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s' (Pad): paddings '%s' are not [4,2]",
                        cv->path, t->name, pw->name);
    int v[8];
    for (int i = 0; i < 8; i++) {
        v[i] = le_i32((const char *)pw->data + 4 * i);
        if (v[i] < 0 || v[i] > FER_MAX_WIDTH)
            return fer_fail(FER_ERR_FORMAT, "%s: node '%s' (Pad): padding %d out of range",
                            cv->path, t->name, v[i]);
    }
    if (v[0] || v[1] || v[6])
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (Pad): pads the batch or channels "
                        "before (rows, columns and channels after only)", cv->path, t->name);
    char base[32], name[FER_NAME_LEN];
    base_name(cv, t, base);
    const char *src = x->fer_name;
    layer *l;
    t->c = x->c, t->h = x->h, t->w = x->w;
    if (v[2] || v[3] || v[4] || v[5]) {
        if (v[2] > FER_MAX_CONV_KERNEL || v[3] > FER_MAX_CONV_KERNEL ||
            v[4] > FER_MAX_CONV_KERNEL || v[5] > FER_MAX_CONV_KERNEL)
            return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (Pad): more than %d rows or "
                            "columns", cv->path, t->name, FER_MAX_CONV_KERNEL);
        snprintf(name, sizeof name, "%.24s_pad", base);
        FER_TRY(add_layer(cv, "pad2d", name, src, &l));
        cJSON_AddNumberToObject(l->spec, "top", v[2]);
        cJSON_AddNumberToObject(l->spec, "left", v[4]);
        cJSON_AddNumberToObject(l->spec, "bottom", v[3]);
        cJSON_AddNumberToObject(l->spec, "right", v[5]);
        src = cv->layers[cv->n_layers - 1].name;
        t->h += v[2] + v[3];
        t->w += v[4] + v[5];
    }
    if (v[7] || !(v[2] || v[3] || v[4] || v[5])) {
        snprintf(name, sizeof name, "%.24s_cpad", base);
        FER_TRY(add_layer(cv, "channel_pad", name, src, &l));
        cJSON_AddNumberToObject(l->spec, "out", x->c + v[7]);
        src = cv->layers[cv->n_layers - 1].name;
        t->c += v[7];
    }
    snprintf(t->fer_name, sizeof t->fer_name, "%.31s", src);
    return FER_OK;
}

static fer_status emit_maxpool(converter *cv, tf_node *t)
{
    tf_node *x;
    FER_TRY(input_of(cv, t, 0, &x));
    FER_TRY(check_nhwc_undilated(cv, t));
    int ks[4], n, s, bh, ah, bw, aw, oh, ow;
    FER_TRY(attr_ints(cv, t, "ksize", ks, 4, &n));
    if (n != 4 || ks[0] != 1 || ks[3] != 1 || ks[1] != ks[2] || ks[1] < 1)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (MaxPool): ksize must be [1,k,k,1]",
                        cv->path, t->name);
    FER_TRY(strides_of(cv, t, &s));
    FER_TRY(same_pads(cv, t, x->h, ks[1], s, &bh, &ah, &oh));
    FER_TRY(same_pads(cv, t, x->w, ks[1], s, &bw, &aw, &ow));
    if (bh || ah || bw || aw) /* TF pads max pooling with -inf, which no zero pad reproduces */
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (MaxPool): \"SAME\" padding that "
                        "pads (%dx%d input, k %d, stride %d)", cv->path, t->name, x->h, x->w,
                        ks[1], s);
    layer *l;
    base_name(cv, t, t->fer_name);
    FER_TRY(add_layer(cv, "maxpool2d", t->fer_name, x->fer_name, &l));
    cJSON_AddNumberToObject(l->spec, "k", ks[1]);
    cJSON_AddNumberToObject(l->spec, "stride", s);
    t->c = x->c, t->h = oh, t->w = ow;
    return FER_OK;
}

static fer_status emit_add(converter *cv, tf_node *t)
{
    tf_node *a, *b;
    FER_TRY(input_of(cv, t, 0, &a));
    FER_TRY(input_of(cv, t, 1, &b));
    if (a->c != b->c || a->h != b->h || a->w != b->w)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s' (%s) adds %dx%dx%d and %dx%dx%d "
                        "(no broadcasting)", cv->path, t->name, t->op, a->h, a->w, a->c, b->h,
                        b->w, b->c);
    layer *l;
    base_name(cv, t, t->fer_name);
    FER_TRY(add_layer(cv, "add", t->fer_name, NULL, &l));
    cJSON *ins = cJSON_AddArrayToObject(l->spec, "inputs");
    cJSON_AddItemToArray(ins, cJSON_CreateString(a->fer_name));
    cJSON_AddItemToArray(ins, cJSON_CreateString(b->fer_name));
    t->c = a->c, t->h = a->h, t->w = a->w;
    return FER_OK;
}

static fer_status emit_unary(converter *cv, tf_node *t, const char *type)
{
    tf_node *x;
    FER_TRY(input_of(cv, t, 0, &x));
    layer *l;
    base_name(cv, t, t->fer_name);
    FER_TRY(add_layer(cv, type, t->fer_name, x->fer_name, &l));
    t->c = x->c, t->h = x->h, t->w = x->w;
    return FER_OK;
}

static fer_status visit(converter *cv, tf_node *t)
{
    if (t->state == DONE)
        return FER_OK;
    if (t->state == VISITING)
        return fer_fail(FER_ERR_FORMAT, "%s: node '%s' is part of a cycle", cv->path, t->name);
    t->state = VISITING;
    fer_status st;
    if (strcmp(t->op, "Placeholder") == 0) {
        if (!cv->have_input)
            st = fer_fail(FER_ERR_FORMAT, "%s: input node '%s' has no [1,H,W,C] shape", cv->path,
                          t->name);
        else
            st = FER_OK;
        snprintf(t->fer_name, sizeof t->fer_name, "input");
        t->c = cv->in_c, t->h = cv->in_h, t->w = cv->in_w;
    } else if (strcmp(t->op, "_FusedConv2D") == 0) {
        st = emit_conv(cv, t, 0, 1);
    } else if (strcmp(t->op, "Conv2D") == 0) {
        st = emit_conv(cv, t, 0, 0);
    } else if (strcmp(t->op, "DepthwiseConv2dNative") == 0) {
        st = emit_conv(cv, t, 1, 0);
    } else if (strcmp(t->op, "AddV2") == 0 || strcmp(t->op, "Add") == 0) {
        st = emit_add(cv, t);
    } else if (strcmp(t->op, "Relu") == 0) {
        st = emit_unary(cv, t, "relu");
    } else if (strcmp(t->op, "Relu6") == 0) {
        st = emit_unary(cv, t, "relu6");
    } else if (strcmp(t->op, "MaxPool") == 0) {
        st = emit_maxpool(cv, t);
    } else if (strcmp(t->op, "Pad") == 0) {
        st = emit_pad(cv, t);
    } else if (strcmp(t->op, "Identity") == 0) {
        tf_node *x;
        st = input_of(cv, t, 0, &x);
        if (st == FER_OK) {
            memcpy(t->fer_name, x->fer_name, sizeof t->fer_name);
            t->c = x->c, t->h = x->h, t->w = x->w;
        }
    } else {
        st = fer_fail(FER_ERR_UNSUPPORTED, "%s: node '%s': op %s is not converted (see "
                      "fer-convert-tfjs's header for the ops it reads)", cv->path, t->name,
                      t->op);
    }
    t->state = DONE;
    return st;
}

/* ---- the outputs ------------------------------------------------------------------------- */

typedef struct output {
    const char *name;
    tf_node *src;    /* the tensor before any Reshape/Identity */
    int rows, cols;
} output;

/* Follows Identity/Reshape back from a signature output; rows x cols from the last Reshape
 * (or the tensor: H*W*C x 1). */
static fer_status resolve_output(converter *cv, const char *sig_name, output *o)
{
    char name[512];
    snprintf(name, sizeof name, "%s", sig_name);
    char *colon = strrchr(name, ':');
    if (colon)
        *colon = '\0';
    tf_node *t = find_node(cv, name);
    if (!t)
        return fer_fail(FER_ERR_FORMAT, "%s: signature output '%s' names no node", cv->path,
                        sig_name);
    o->name = t->name;
    o->rows = o->cols = 0;
    for (int depth = 0; depth < 16; depth++) {
        if (strcmp(t->op, "Identity") == 0 || strcmp(t->op, "Reshape") == 0) {
            if (strcmp(t->op, "Reshape") == 0 && !o->rows) {
                const weight *sh;
                FER_TRY(const_input(cv, t, 1, 1, &sh));
                if (sh->count != 3 || le_i32(sh->data) != 1)
                    return fer_fail(FER_ERR_UNSUPPORTED, "%s: output '%s': Reshape to other "
                                    "than [1, rows, cols]", cv->path, sig_name);
                o->rows = le_i32((const char *)sh->data + 4);
                o->cols = le_i32((const char *)sh->data + 8);
            }
            if (t->n_in < 1 || !(t = find_node(cv, t->in[0])))
                return fer_fail(FER_ERR_FORMAT, "%s: output '%s' reads an unknown node",
                                cv->path, sig_name);
            continue;
        }
        FER_TRY(visit(cv, t));
        o->src = t;
        long long n = (long long)t->c * t->h * t->w;
        if (!o->rows) {
            o->rows = (int)n;
            o->cols = 1;
        }
        if (o->rows < 1 || o->cols < 1 || (long long)o->rows * o->cols != n)
            return fer_fail(FER_ERR_FORMAT, "%s: output '%s': [%d, %d] does not hold the %lld "
                            "values of %dx%dx%d", cv->path, sig_name, o->rows, o->cols, n, t->h,
                            t->w, t->c);
        return FER_OK;
    }
    return fer_fail(FER_ERR_FORMAT, "%s: output '%s': too many Identity/Reshape nodes", cv->path,
                    sig_name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Emits the flatten + concat tail and the "outputs" description into config. */
static fer_status emit_outputs(converter *cv, cJSON *config)
{
    const cJSON *sig = obj(obj(obj(cv->root, "userDefinedMetadata"), "signature"), "outputs");
    if (!cJSON_IsObject(sig) || cJSON_GetArraySize(sig) < 1)
        return fer_fail(FER_ERR_FORMAT, "%s: no signature outputs "
                        "(\"userDefinedMetadata\".\"signature\".\"outputs\")", cv->path);
    int n = cJSON_GetArraySize(sig);
    if (n > MAX_OUTPUTS)
        return fer_fail(FER_ERR_UNSUPPORTED, "%s: %d outputs (at most %d)", cv->path, n,
                        MAX_OUTPUTS);
    const char *names[MAX_OUTPUTS];
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, sig) names[k++] = e->string;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    cJSON *outs = cJSON_AddArrayToObject(config, "outputs");
    if (!outs)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
    char flat_names[MAX_OUTPUTS][FER_NAME_LEN];
    long long offset = 0;
    for (int i = 0; i < n; i++) {
        output o = {0};
        FER_TRY(resolve_output(cv, names[i], &o));
        layer *l;
        snprintf(flat_names[i], FER_NAME_LEN, "out%d_flat", i);
        FER_TRY(add_layer(cv, "flatten", flat_names[i], o.src->fer_name, &l));
        cJSON *d = cJSON_CreateObject();
        if (!d)
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
        cJSON_AddItemToArray(outs, d);
        cJSON_AddStringToObject(d, "name", o.name);
        cJSON_AddNumberToObject(d, "rows", o.rows);
        cJSON_AddNumberToObject(d, "cols", o.cols);
        cJSON_AddNumberToObject(d, "channels", o.src->c);
        cJSON_AddNumberToObject(d, "height", o.src->h);
        cJSON_AddNumberToObject(d, "width", o.src->w);
        cJSON_AddNumberToObject(d, "offset", (double)offset);
        offset += (long long)o.rows * o.cols;
    }
    if (n > 1) {
        layer *l;
        FER_TRY(add_layer(cv, "concat", "outputs", NULL, &l));
        cJSON *ins = cJSON_AddArrayToObject(l->spec, "inputs");
        for (int i = 0; i < n; i++)
            cJSON_AddItemToArray(ins, cJSON_CreateString(flat_names[i]));
    }
    cJSON_AddNumberToObject(config, "output_size", (double)offset);
    return FER_OK;
}

/* ---- weights into the model ---------------------------------------------------------------- */

static int stored_index(const fer_arch *a, const char *name)
{
    for (int i = 0; i < a->n_layers; i++)
        if (strcmp(a->layers[i].name, name) == 0)
            return i;
    return -1;
}

/* HWIO (conv) or HW C M (depthwise) -> OIHW / [C*M, 1, k, k]. */
static fer_status set_conv_weights(converter *cv, fer_model *m, const fer_arch *a,
                                   const layer *l)
{
    int i = stored_index(a, l->name);
    if (i < 0)
        return fer_fail(FER_ERR_INTERNAL, "%s: node %s vanished", cv->path, l->name);
    const weight *f = l->w;
    FER_TRY(check_values(cv, f)); /* the final values (the face-api path folds into them) */
    if (l->bias)
        FER_TRY(check_values(cv, l->bias));
    int k = f->shape[0], in_c = f->shape[2], n3 = f->shape[3];
    int out_c = l->depthwise ? in_c * n3 : n3, per = l->depthwise ? 1 : in_c;
    size_t count = (size_t)out_c * per * k * k;
    float *w = malloc(count * sizeof *w);
    if (!w)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
    for (int o = 0; o < out_c; o++)
        for (int c = 0; c < per; c++)
            for (int y = 0; y < k; y++)
                for (int x = 0; x < k; x++) {
                    /* TF depthwise: output channel o = input channel * multiplier + m */
                    int tc = l->depthwise ? o / n3 : c, tm = l->depthwise ? o % n3 : o;
                    size_t src = (((size_t)y * k + x) * in_c + tc) * n3 + tm;
                    w[(((size_t)o * per + c) * k + y) * k + x] =
                        le_f32((const char *)f->data + 4 * src);
                }
    char name[64];
    snprintf(name, sizeof name, "layers.%d.weight", i);
    fer_status st = fer_model_set_tensor(m, name, w, count);
    if (st == FER_OK && l->bias) {
        for (int o = 0; o < out_c; o++)
            w[o] = le_f32((const char *)l->bias->data + 4 * o);
        snprintf(name, sizeof name, "layers.%d.bias", i);
        st = fer_model_set_tensor(m, name, w, (size_t)out_c);
    }
    free(w);
    if (st != FER_OK)
        return fer_fail(st, "%s: weights of %s: %s", cv->path, l->name, fer_last_error());
    return FER_OK;
}

/* ---- face-api's TinyFaceDetector (a weights manifest; the graph is face-api's code) ------ */

/* @vladmandic/face-api 1.7.15: src/tinyFaceDetector/const.ts (anchors in grid cells, IoU),
 * src/tinyYolov2/TinyYolov2Options.ts (input 416, score threshold 0.5), TinyFaceDetector.ts
 * (mean RGB subtracted, then / 255). */
#define TINY_SIZE 416
#define TINY_ANCHORS 5
static const double tiny_anchors[TINY_ANCHORS][2] = {
    {1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061},
    {4.266906, 5.178857}, {9.041765, 10.66308}};
static const double tiny_mean_rgb[3] = {117.001, 114.697, 97.404};
/* TF's "SAME" max pool that pads (207 -> 104 after conv1, 13 -> 13 at stride 1 after conv5)
 * ignores the padded cells; the library's pad2d pads zeros. So the padded pre-activations get
 * a mask added that is exactly 0 inside and -TINY_POOL_FLOOR in the padded cells (made from
 * the tensor itself by 1x1 depthwise convs: 0 * x - F, zero-padded, then -1 * m - F), and the
 * leaky ReLU (monotonic, so it commutes with max) comes after the pool. Exact: adding 0 changes
 * nothing. (Shifting the values up by a constant instead cost ulp-sized errors that the later
 * layers grew to 1e-3.) */
#define TINY_POOL_FLOOR 1e5f /* the loader takes parameters up to 1e6 */
#define TINY_LEAKY_SLOPE 0.1 /* src/tinyYolov2/leaky.ts */

static void weight_put(weight *w, size_t i, float v)
{
    put_le_f32((unsigned char *)w->data + 4 * i, v); /* shard buffer or owned: both ours */
}

static fer_status make_weight(converter *cv, const char *name, int ndim, const int *shape,
                              float fill, weight **out)
{
    if (cv->n_extra == (int)(sizeof cv->extra / sizeof cv->extra[0]))
        return fer_fail(FER_ERR_INTERNAL, "%s: too many made-up weights", cv->path);
    weight *w = &cv->extra[cv->n_extra];
    memset(w, 0, sizeof *w);
    w->name = name;
    w->ndim = ndim;
    w->count = 1;
    for (int i = 0; i < ndim; i++)
        w->count *= (size_t)(w->shape[i] = shape[i]);
    if (!(w->owned = malloc(w->count * 4)))
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
    w->data = w->owned;
    cv->n_extra++;
    for (size_t i = 0; i < w->count; i++)
        weight_put(w, i, fill);
    *out = w;
    return FER_OK;
}

/* The float32 weight "<prefix>/<what>" of shape [d0, d1, d2, d3] (ndim 4) or [d0] (ndim 1). */
static fer_status tiny_weight(converter *cv, const char *prefix, const char *what, int ndim,
                              int d0, int d1, int d2, int d3, const weight **out)
{
    char name[64];
    snprintf(name, sizeof name, "%s/%s", prefix, what);
    const weight *w = find_weight(cv, name);
    int want[4] = {d0, d1, d2, d3};
    int ok = w && !w->is_int && w->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = want[i] < 0 || w->shape[i] == want[i];
    if (!ok)
        return fer_fail(FER_ERR_FORMAT, "%s: no float32 weight '%s' of the TinyFaceDetector "
                        "shape (a face-api weights manifest of another network?)", cv->path,
                        name);
    *out = w;
    return FER_OK;
}

static fer_status tiny_conv(converter *cv, const char *name, const char *src, const weight *f,
                            const weight *bias, int depthwise, int pad)
{
    layer *l;
    FER_TRY(add_layer(cv, "conv2d", name, src, &l));
    int out_c = depthwise ? f->shape[2] * f->shape[3] : f->shape[3];
    cJSON_AddNumberToObject(l->spec, "out", out_c);
    cJSON_AddNumberToObject(l->spec, "k", f->shape[0]);
    cJSON_AddNumberToObject(l->spec, "stride", 1);
    cJSON_AddNumberToObject(l->spec, "pad", pad);
    cJSON_AddBoolToObject(l->spec, "bias", bias != NULL);
    if (depthwise)
        cJSON_AddNumberToObject(l->spec, "groups", f->shape[2]);
    l->w = f;
    l->bias = bias;
    l->depthwise = depthwise;
    return FER_OK;
}

static fer_status tiny_leaky(converter *cv, const char *name, const char *src)
{
    layer *l = NULL;
    FER_TRY(add_layer(cv, "leaky_relu", name, src, &l));
    cJSON_AddNumberToObject(l->spec, "slope", TINY_LEAKY_SLOPE);
    return FER_OK;
}

/* Leaky ReLU and face-api's 2x2 "SAME" max pool of stride s after stage i, from the
 * pre-activation node src (side *hw, c channels); the result's name into out. */
static fer_status tiny_pool(converter *cv, int i, const char *src, int c, int *hw, int s,
                            char *out)
{
    char name[FER_NAME_LEN], pooled[FER_NAME_LEN];
    int side = (*hw + s - 1) / s, pad = (side - 1) * s + 2 - *hw;
    layer *l;
    snprintf(pooled, sizeof pooled, "pool%d", i);
    if (pad > 0) {
        weight *zero = NULL, *minus_one = NULL, *floor = NULL;
        int fshape[4] = {1, 1, c, 1};
        FER_TRY(make_weight(cv, "pool mask: zeros", 4, fshape, 0.0f, &zero));
        FER_TRY(make_weight(cv, "pool mask: minus ones", 4, fshape, -1.0f, &minus_one));
        FER_TRY(make_weight(cv, "pool mask: floor", 1, &c, -TINY_POOL_FLOOR, &floor));
        char mask[FER_NAME_LEN], padded[FER_NAME_LEN];
        snprintf(name, sizeof name, "pool%d_floor", i);
        FER_TRY(tiny_conv(cv, name, src, zero, floor, 1, 0));
        snprintf(padded, sizeof padded, "pool%d_floor_pad", i);
        FER_TRY(add_layer(cv, "pad2d", padded, name, &l));
        cJSON_AddNumberToObject(l->spec, "bottom", pad);
        cJSON_AddNumberToObject(l->spec, "right", pad);
        snprintf(mask, sizeof mask, "pool%d_mask", i);
        FER_TRY(tiny_conv(cv, mask, padded, minus_one, floor, 1, 0));
        snprintf(padded, sizeof padded, "pool%d_pad", i);
        FER_TRY(add_layer(cv, "pad2d", padded, src, &l));
        cJSON_AddNumberToObject(l->spec, "bottom", pad);
        cJSON_AddNumberToObject(l->spec, "right", pad);
        snprintf(name, sizeof name, "pool%d_masked", i);
        FER_TRY(add_layer(cv, "add", name, NULL, &l));
        cJSON *ins = cJSON_AddArrayToObject(l->spec, "inputs");
        cJSON_AddItemToArray(ins, cJSON_CreateString(padded));
        cJSON_AddItemToArray(ins, cJSON_CreateString(mask));
        FER_TRY(add_layer(cv, "maxpool2d", pooled, name, &l));
        cJSON_AddNumberToObject(l->spec, "k", 2);
        cJSON_AddNumberToObject(l->spec, "stride", s);
        snprintf(out, FER_NAME_LEN, "pool%d_leaky", i);
        FER_TRY(tiny_leaky(cv, out, pooled));
    } else {
        snprintf(name, sizeof name, "%s_leaky", src);
        FER_TRY(tiny_leaky(cv, name, src));
        FER_TRY(add_layer(cv, "maxpool2d", pooled, name, &l));
        cJSON_AddNumberToObject(l->spec, "k", 2);
        cJSON_AddNumberToObject(l->spec, "stride", s);
        snprintf(out, FER_NAME_LEN, "%s", pooled);
    }
    *hw = side;
    return FER_OK;
}

/* face-api's TinyYolov2Base.runMobilenet with TinyFaceDetector's config (first layer a plain
 * 3x3 "valid" conv, separable convs conv1..conv5 (+ conv6, conv7 when present) each padded by
 * one, a 2x2 max pool after conv0..conv5 (stride 1 after conv5), conv8 a 1x1 conv to 5 anchors
 * x (4 box values + 1 score)), input TINY_SIZE; the input normalisation (x - mean RGB) / 255 is
 * folded into conv0 (it pads nothing, so this is exact) for the library's (x/255 - 0.5)/0.5. */
static fer_status build_tiny_yolo(converter *cv, cJSON *config)
{
    const weight *f, *b, *dw, *pw;
    cv->in_c = 3, cv->in_h = cv->in_w = TINY_SIZE, cv->have_input = 1;
    FER_TRY(tiny_weight(cv, "conv0", "filters", 4, 3, 3, 3, -1, &f));
    int c = f->shape[3], hw = TINY_SIZE - 2;
    FER_TRY(tiny_weight(cv, "conv0", "bias", 1, c, 0, 0, 0, &b));
    /* v = 127.5 (u + 1) for the library's input u: (v - mean) / 255 = 0.5 u + (127.5 - mean)
     * / 255 */
    for (int o = 0; o < c; o++) {
        double bias = le_f32((const char *)b->data + 4 * o);
        for (int k = 0; k < 9; k++)
            for (int ch = 0; ch < 3; ch++) {
                size_t at = ((size_t)k * 3 + ch) * c + o;
                float w = le_f32((const char *)f->data + 4 * at);
                bias += w * (127.5 - tiny_mean_rgb[ch]) / 255.0;
                weight_put((weight *)f, at, 0.5f * w);
            }
        weight_put((weight *)b, o, (float)bias);
    }
    char src[FER_NAME_LEN], name[FER_NAME_LEN];
    FER_TRY(tiny_conv(cv, "conv0", "input", f, b, 0, 0));
    FER_TRY(tiny_pool(cv, 0, "conv0", c, &hw, 2, src));
    for (int i = 1; i <= 7; i++) {
        char prefix[8];
        snprintf(prefix, sizeof prefix, "conv%d", i);
        snprintf(name, sizeof name, "%s/depthwise_filter", prefix);
        if (i >= 6 && !find_weight(cv, name))
            continue; /* conv6, conv7: optional in runMobilenet, absent in TinyFaceDetector */
        FER_TRY(tiny_weight(cv, prefix, "depthwise_filter", 4, 3, 3, c, 1, &dw));
        FER_TRY(tiny_weight(cv, prefix, "pointwise_filter", 4, 1, 1, c, -1, &pw));
        int out_c = pw->shape[3];
        if (out_c < 1 || out_c > FER_MAX_WIDTH)
            return fer_fail(FER_ERR_FORMAT, "%s: %s has %d channels", cv->path, prefix, out_c);
        FER_TRY(tiny_weight(cv, prefix, "bias", 1, out_c, 0, 0, 0, &b));
        snprintf(name, sizeof name, "%s_dw", prefix);
        FER_TRY(tiny_conv(cv, name, src, dw, NULL, 1, 1));
        FER_TRY(tiny_conv(cv, prefix, name, pw, b, 0, 0));
        c = out_c;
        if (i <= 5) {
            FER_TRY(tiny_pool(cv, i, prefix, c, &hw, i == 5 ? 1 : 2, src));
        } else {
            snprintf(src, sizeof src, "%s_leaky", prefix);
            FER_TRY(tiny_leaky(cv, src, prefix));
        }
    }
    FER_TRY(tiny_weight(cv, "conv8", "filters", 4, 1, 1, c, 5 * TINY_ANCHORS, &f));
    FER_TRY(tiny_weight(cv, "conv8", "bias", 1, 5 * TINY_ANCHORS, 0, 0, 0, &b));
    FER_TRY(tiny_conv(cv, "conv8", src, f, b, 0, 0));
    layer *l;
    FER_TRY(add_layer(cv, "flatten", "out0_flat", "conv8", &l));

    /* the detector's header: the YOLO grid as a [cells x anchors, 5] output, its decoding */
    cJSON *outs = cJSON_AddArrayToObject(config, "outputs"), *d = cJSON_CreateObject();
    cJSON *anchors = cJSON_AddArrayToObject(config, "anchors");
    if (!outs || !d || !anchors) {
        cJSON_Delete(d);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
    }
    cJSON_AddItemToArray(outs, d);
    cJSON_AddStringToObject(d, "name", "conv8");
    cJSON_AddNumberToObject(d, "rows", hw * hw * TINY_ANCHORS);
    cJSON_AddNumberToObject(d, "cols", 5);
    cJSON_AddNumberToObject(d, "channels", 5 * TINY_ANCHORS);
    cJSON_AddNumberToObject(d, "height", hw);
    cJSON_AddNumberToObject(d, "width", hw);
    cJSON_AddNumberToObject(d, "offset", 0);
    cJSON_AddNumberToObject(config, "output_size", hw * hw * 5 * TINY_ANCHORS);
    cJSON_AddStringToObject(config, "decoder", "tiny_yolo");
    cJSON_AddStringToObject(config, "network", "face-api TinyFaceDetector");
    for (int a = 0; a < TINY_ANCHORS; a++) {
        cJSON *xy = cJSON_CreateDoubleArray(tiny_anchors[a], 2);
        if (!xy)
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", cv->path);
        cJSON_AddItemToArray(anchors, xy);
    }
    cJSON_AddNumberToObject(config, "default_min_score", 0.5);
    cJSON_AddNumberToObject(config, "default_nms_iou", 0.4);
    return FER_OK;
}

/* ---- the whole conversion ---------------------------------------------------------------------------------- */

static fer_status find_input(converter *cv)
{
    for (int i = 0; i < cv->n_nodes; i++) {
        tf_node *t = &cv->nodes[i];
        if (strcmp(t->op, "Placeholder") != 0)
            continue;
        if (cv->have_input)
            return fer_fail(FER_ERR_UNSUPPORTED, "%s: more than one input node", cv->path);
        const cJSON *dims = obj(obj(obj(obj(t->j, "attr"), "shape"), "shape"), "dim");
        int v[4], n = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, dims) {
            const cJSON *s = obj(d, "size");
            long x = -1;
            if (cJSON_IsString(s))
                x = strtol(s->valuestring, NULL, 10);
            else if (cJSON_IsNumber(s)) /* range first: converting 1e300 is undefined */
                x = s->valuedouble >= -1 && s->valuedouble <= FER_MAX_INPUT_DIM
                        ? (long)s->valuedouble
                        : -2;
            if (n == 4 || x < -1 || x > FER_MAX_INPUT_DIM)
                return fer_fail(FER_ERR_FORMAT, "%s: input '%s' is not [1,H,W,C] with sizes "
                                "up to %d", cv->path, t->name, FER_MAX_INPUT_DIM);
            v[n++] = (int)x;
        }
        if (n != 4 || (v[0] != 1 && v[0] != -1) || v[1] < 1 || v[2] < 1 || v[3] < 1)
            return fer_fail(FER_ERR_FORMAT, "%s: input '%s' is not [1,H,W,C] with known H, W, C",
                            cv->path, t->name);
        cv->in_h = v[1], cv->in_w = v[2], cv->in_c = v[3];
        cv->have_input = 1;
    }
    if (!cv->have_input)
        return fer_fail(FER_ERR_FORMAT, "%s: no input (Placeholder) node", cv->path);
    return FER_OK;
}

/* Messages quote names from the file as they are; a control character in one (a newline in a
 * dtype or node name) would break the one-line message, so it is shown as '?'. */
static fer_status one_line_error(fer_status st)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fer_last_error());
    int changed = 0;
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
            changed = 1;
        }
    return changed ? fer_fail(st, "%s", msg) : st;
}

fer_status fer_convert_tfjs_file(const char *in_path, const char *out_path, FILE *summary)
{
    converter cv = {.path = in_path};
    fer_backend *b = NULL;
    fer_model *m = NULL;
    cJSON *arch_json = NULL, *config = NULL;
    char *arch_text = NULL, *data = NULL;
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    /* cJSON would stop at a NUL and ignore text after the object: refuse both */
    fer_status st = fer_read_text_file(in_path, MAX_JSON_BYTES, &data, NULL);
    if (st != FER_OK)
        goto done;
    cv.root = cJSON_ParseWithOpts(data, NULL, 1);
    int face_api = cJSON_IsArray(cv.root); /* a face-api weights manifest (TinyFaceDetector) */
    if (!cv.root || !(cJSON_IsObject(cv.root) || face_api)) {
        st = fer_fail(FER_ERR_FORMAT, "%s: not a JSON object (or a face-api weights manifest)",
                      in_path);
        goto done;
    }
    const cJSON *fmt = obj(cv.root, "format");
    if (fmt && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "graph-model") != 0)) {
        st = fer_fail(FER_ERR_UNSUPPORTED, "%s: format is not \"graph-model\" (a TF.js layers "
                      "model?)", in_path);
        goto done;
    }
    if ((st = read_weights(&cv)) != FER_OK ||
        (!face_api && ((st = read_nodes(&cv)) != FER_OK || (st = find_input(&cv)) != FER_OK)))
        goto done;
    config = cJSON_CreateObject();
    if (!config) {
        st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", in_path);
        goto done;
    }
    const char *base = strrchr(in_path, '/');
    cJSON_AddStringToObject(config, "converted_from", base ? base + 1 : in_path);
    cJSON_AddStringToObject(config, "converter", "fer-convert-tfjs");
    const cJSON *by = obj(cv.root, "convertedBy"), *gen = obj(cv.root, "generatedBy");
    if (cJSON_IsString(by))
        cJSON_AddStringToObject(config, "tfjs_converted_by", by->valuestring);
    if (cJSON_IsString(gen))
        cJSON_AddStringToObject(config, "tfjs_generated_by", gen->valuestring);
    cJSON_AddStringToObject(config, "input_layout", "RGB, (x/255 - 0.5)/0.5");
    if ((st = face_api ? build_tiny_yolo(&cv, config) : emit_outputs(&cv, config)) != FER_OK)
        goto done;

    /* the architecture, through the library's own parser and checks */
    arch_json = cJSON_CreateObject();
    cJSON *layers = arch_json ? cJSON_AddArrayToObject(arch_json, "layers") : NULL;
    if (!layers) {
        st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", in_path);
        goto done;
    }
    cJSON_AddStringToObject(arch_json, "name", "tfjs_graph");
    cJSON *input = cJSON_AddArrayToObject(arch_json, "input");
    cJSON_AddItemToArray(input, cJSON_CreateNumber(cv.in_c));
    cJSON_AddItemToArray(input, cJSON_CreateNumber(cv.in_h));
    cJSON_AddItemToArray(input, cJSON_CreateNumber(cv.in_w));
    cJSON_AddNumberToObject(arch_json, "classes", 2);
    for (int i = 0; i < cv.n_layers; i++) {
        cJSON_AddItemToArray(layers, cv.layers[i].spec);
        cv.layers[i].spec = NULL;
    }
    arch_text = cJSON_PrintUnformatted(arch_json);
    fer_arch arch;
    if (!arch_text) {
        st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", in_path);
        goto done;
    }
    if ((st = fer_arch_from_json(arch_text, in_path, &arch)) != FER_OK ||
        (st = fer_backend_new("ref", 1, &b)) != FER_OK ||
        (st = fer_model_new(&arch, b, 1, &m)) != FER_OK)
        goto done;
    for (int i = 0; i < cv.n_layers; i++)
        if (cv.layers[i].w && (st = set_conv_weights(&cv, m, &arch, &cv.layers[i])) != FER_OK)
            goto done;
    meta.n_classes = 2;
    snprintf(meta.class_names[0], FER_NAME_LEN, "unused0");
    snprintf(meta.class_names[1], FER_NAME_LEN, "unused1");
    meta.norm = (fer_norm){0.5f, 0.5f}; /* x/127.5 - 1, as the TF.js detectors expect */
    meta.config_json = cJSON_PrintUnformatted(config);
    if (!meta.config_json) {
        st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", in_path);
        goto done;
    }
    st = fer_checkpoint_save(out_path, m, &meta, NULL);
    if (st == FER_OK && summary) {
        fer_arch_size_info info;
        fer_arch_sizes(&arch, in_path, &info);
        fprintf(summary, "%s: %d TF.js nodes -> %d .fer nodes, %lld parameters, %.1f M multiply-adds per "
               "%dx%d image, output %d floats -> %s\n", in_path, cv.n_nodes, arch.n_layers,
               info.params, (double)info.macs / 1e6, cv.in_w, cv.in_h,
               (int)cJSON_GetNumberValue(obj(config, "output_size")), out_path);
    }
done:
    fer_model_free(m);
    fer_backend_free(b);
    fer_checkpoint_meta_clear(&meta);
    for (int i = 0; i < cv.n_layers; i++)
        cJSON_Delete(cv.layers[i].spec);
    free(cv.layers);
    free(cv.nodes);
    for (int i = 0; cv.weights && i < cv.n_weights; i++)
        free(cv.weights[i].owned);
    for (int i = 0; i < cv.n_extra; i++)
        free(cv.extra[i].owned);
    free(cv.weights);
    free(cv.bin);
    cJSON_Delete(cv.root);
    cJSON_Delete(arch_json);
    cJSON_Delete(config);
    free(arch_text);
    free(data);
    return st == FER_OK ? st : one_line_error(st);
}
