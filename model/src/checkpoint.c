/* The .fer checkpoint (format in model/README.md):
 *   0  "FERMODEL"        8-byte magic
 *   8  u32 version       FER_CKPT_VERSION
 *  12  u32 header_bytes  JSON header length
 *  16  u64 payload_offset  64-byte aligned, after the header
 *  24  u64 file_size     total bytes including the CRC trailer
 *  32  JSON header (UTF-8), space padded up to payload_offset
 *      payload: float32 little-endian tensors at 64-byte aligned offsets
 *  end u32 CRC-32 (IEEE) of every byte before it
 * All integers little-endian. Written to PATH.tmp, flushed, fsync'ed, renamed into place. */
#include "fer/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/crc.h"
#include "fer/fileio.h"
#include "fer/json_num.h"
#include "model_internal.h"
#include "quant_internal.h"

#define FER_CKPT_MAGIC "FERMODEL"
#define FER_CKPT_VERSION 1u
#define FIXED_BYTES 32
#define ALIGN 64
/* parameters at FER_MAX_PARAMS floats plus the optimiser's two moments, and the header */
#define MAX_FILE_BYTES ((uint64_t)1 << 30)
/* What a trained network holds: anything beyond is a corrupt or hostile file whose predictions
 * would be garbage (a 1e38 weight overflows the first layer), so it is refused at load. */
#define MAX_ABS_PARAM 1e6f
#define MAX_ABS_BUFFER 1e12f
/* norm is applied to pixels already scaled to [0, 1] */
#define NORM_MEAN_RANGE 10.0
#define NORM_STD_MIN 1e-3
#define NORM_STD_MAX 100.0
#define MAX_EPOCH 1000000
#define MAX_OPTIM_STEP 1000000000000LL
/* Post-hoc adjustment: tau * |log prior| stays far below this for any real prior and tau, and
 * softmax of such logits is still exact in float */
#define MAX_ABS_LOGIT_OFFSET 1000.0f
#define MAX_LOGIT_TAU 100.0
#define MAX_HEAD_TAU_NORM 10.0


static const char *const fer2013_classes[7] = {"angry", "disgust", "fear",    "happy",
                                                "neutral", "sad",   "surprise"};

void fer_checkpoint_meta_init(fer_checkpoint_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->n_classes = 7;
    for (int i = 0; i < 7; i++)
        snprintf(meta->class_names[i], FER_NAME_LEN, "%s", fer2013_classes[i]);
    meta->norm.mean = 0.5f;
    meta->norm.std = 0.5f;
    meta->epoch = 0;
    meta->best_metric = -1.0f;
}

void fer_checkpoint_meta_clear(fer_checkpoint_meta *meta)
{
    if (!meta)
        return;
    free(meta->config_json);
    free(meta->state_json);
    meta->config_json = meta->state_json = NULL;
}

/* ---- little-endian helpers ------------------------------------------------------------ */

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* In-place float32 byte order conversion between host and little-endian (no-op on LE hosts). */
static void floats_le(void *data, size_t n)
{
    if (host_is_le())
        return;
    unsigned char *p = data;
    for (size_t i = 0; i < n; i++, p += 4) {
        unsigned char t = p[0];
        p[0] = p[3];
        p[3] = t;
        t = p[1];
        p[1] = p[2];
        p[2] = t;
    }
}

static size_t align_up(size_t v)
{
    return (v + ALIGN - 1) / ALIGN * ALIGN;
}

static const char *optim_kind_name(fer_optim_kind k)
{
    return k == FER_OPTIM_ADAM ? "adam" : k == FER_OPTIM_ADAMW ? "adamw" : "sgd";
}

/* ---- save ----------------------------------------------------------------------------- */

static fer_status add_json_string(cJSON *root, const char *key, const char *text,
                                  const char *path)
{
    if (!text)
        return FER_OK;
    cJSON *obj = cJSON_Parse(text);
    if (!obj || !cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        return fer_fail(FER_ERR_ARG, "%s: %s is not a JSON object", path, key);
    }
    cJSON_AddItemToObject(root, key, obj);
    return FER_OK;
}

static cJSON *tensor_entry(const char *name, const char *role, int ndim, const int *shape,
                           size_t offset, size_t numel)
{
    cJSON *e = cJSON_CreateObject();
    if (!e)
        return NULL;
    cJSON_AddStringToObject(e, "name", name);
    if (role)
        cJSON_AddStringToObject(e, "role", role);
    if (shape)
        cJSON_AddItemToObject(e, "shape", cJSON_CreateIntArray(shape, ndim));
    cJSON_AddNumberToObject(e, "offset", (double)offset);
    cJSON_AddNumberToObject(e, "numel", (double)numel);
    return e;
}

/* Builds the header; *payload_bytes receives the payload size, offsets are relative to it. */
static fer_status build_header(const char *path, fer_model *m, const fer_checkpoint_meta *meta,
                               fer_optimizer *opt, cJSON **out, size_t *payload_bytes,
                               size_t *opt_m_offset, size_t *opt_v_offset, size_t *ema_offset,
                               size_t *offsets_offset)
{
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    cJSON_AddStringToObject(root, "format", "fer-checkpoint");
    cJSON_AddNumberToObject(root, "version", FER_CKPT_VERSION);
    cJSON_AddItemToObject(root, "arch", fer_arch_to_json_obj(&m->arch));
    cJSON *classes = cJSON_AddArrayToObject(root, "classes");
    for (int i = 0; classes && i < meta->n_classes; i++)
        cJSON_AddItemToArray(classes, cJSON_CreateString(meta->class_names[i]));
    cJSON *norm = cJSON_AddObjectToObject(root, "norm");
    if (norm) {
        cJSON_AddNumberToObject(norm, "mean", (double)meta->norm.mean);
        cJSON_AddNumberToObject(norm, "std", (double)meta->norm.std);
    }
    cJSON_AddNumberToObject(root, "epoch", meta->epoch);
    cJSON_AddNumberToObject(root, "best_metric", (double)meta->best_metric);
    if (meta->has_prior) {
        cJSON *prior = cJSON_AddArrayToObject(root, "class_prior");
        for (int i = 0; prior && i < meta->n_classes; i++)
            cJSON_AddItemToArray(prior, cJSON_CreateNumber((double)meta->class_prior[i]));
    }
    fer_status st = add_json_string(root, "config", meta->config_json, path);
    if (st == FER_OK)
        st = add_json_string(root, "state", meta->state_json, path);
    if (st != FER_OK) {
        cJSON_Delete(root);
        return st;
    }
    size_t pos = 0;
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    for (int t = 0; tensors && t < m->n_tensors; t++) {
        const fer_tensor_info *ti = &m->tensors[t].info;
        cJSON_AddItemToArray(tensors,
                             tensor_entry(ti->name,
                                          ti->role == FER_TENSOR_PARAM ? "param" : "buffer",
                                          ti->ndim, ti->shape, pos, ti->numel));
        pos = align_up(pos + ti->numel * sizeof(float));
    }
    if (opt) {
        const fer_optim_config *c = fer_optimizer_config(opt);
        size_t n = fer_optimizer_state_floats(opt);
        cJSON *jo = cJSON_AddObjectToObject(root, "optimizer");
        if (jo) {
            cJSON_AddStringToObject(jo, "kind", optim_kind_name(c->kind));
            cJSON_AddNumberToObject(jo, "lr", (double)c->lr);
            cJSON_AddNumberToObject(jo, "beta1", (double)c->beta1);
            cJSON_AddNumberToObject(jo, "beta2", (double)c->beta2);
            cJSON_AddNumberToObject(jo, "eps", (double)c->eps);
            cJSON_AddNumberToObject(jo, "weight_decay", (double)c->weight_decay);
            cJSON_AddNumberToObject(jo, "momentum", (double)c->momentum);
            cJSON_AddNumberToObject(jo, "dampening", (double)c->dampening);
            cJSON_AddBoolToObject(jo, "nesterov", c->nesterov);
            cJSON_AddNumberToObject(jo, "step", (double)fer_optimizer_steps(opt));
            cJSON *js = cJSON_AddArrayToObject(jo, "state");
            *opt_m_offset = pos;
            cJSON_AddItemToArray(js, tensor_entry("m", NULL, 0, NULL, pos, n));
            pos = align_up(pos + n * sizeof(float));
            *opt_v_offset = pos;
            cJSON_AddItemToArray(js, tensor_entry("v", NULL, 0, NULL, pos, n));
            pos = align_up(pos + n * sizeof(float));
        }
    }
    if (meta->ema_host) {
        /* the trainer's weight EMA: one block, the model's parameter then buffer arena */
        cJSON *je = cJSON_AddObjectToObject(root, "ema");
        if (je) {
            *ema_offset = pos;
            cJSON_AddNumberToObject(je, "param_floats", (double)m->n_param_floats);
            cJSON_AddNumberToObject(je, "buffer_floats", (double)m->n_buffer_floats);
            cJSON_AddItemToObject(je, "block", tensor_entry("ema", NULL, 0, NULL, pos,
                                                            meta->ema_floats));
            pos = align_up(pos + meta->ema_floats * sizeof(float));
        }
    }
    if (meta->int8_calib) {
        cJSON *jq = fer_int8_calib_to_json(meta->int8_calib);
        if (!jq) {
            cJSON_Delete(root);
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
        }
        cJSON_AddItemToObject(root, "int8", jq);
    }
    if (meta->has_logit_offsets) {
        /* post-hoc logit adjustment: n_classes floats added to the logits at inference */
        cJSON *jl = cJSON_AddObjectToObject(root, "logit_offsets");
        if (jl) {
            *offsets_offset = pos;
            if (meta->logit_offsets_tau >= 0.0f)
                cJSON_AddNumberToObject(jl, "tau", (double)meta->logit_offsets_tau);
            cJSON_AddItemToObject(jl, "block", tensor_entry("logit_offsets", NULL, 0, NULL, pos,
                                                            (size_t)meta->n_classes));
            pos = align_up(pos + (size_t)meta->n_classes * sizeof(float));
        }
    }
    if (meta->head_tau_norm != 0.0f)
        cJSON_AddNumberToObject(root, "head_tau_norm", (double)meta->head_tau_norm);
    cJSON_AddNumberToObject(root, "payload_bytes", (double)pos);
    *payload_bytes = pos;
    *out = root;
    return FER_OK;
}

fer_status fer_checkpoint_save(const char *path, fer_model *m, const fer_checkpoint_meta *meta,
                               fer_optimizer *opt)
{
    if (meta->n_classes != m->arch.n_classes)
        return fer_fail(FER_ERR_ARG, "%s: meta has %d class names, the model %d classes", path,
                        meta->n_classes, m->arch.n_classes);
    if (meta->ema_host && meta->ema_floats != m->n_param_floats + m->n_buffer_floats)
        return fer_fail(FER_ERR_ARG, "%s: EMA of %zu floats, the model has %zu", path,
                        meta->ema_floats, m->n_param_floats + m->n_buffer_floats);
    for (int k = 0; meta->has_logit_offsets && k < meta->n_classes; k++)
        if (!(fabsf(meta->logit_offsets[k]) <= MAX_ABS_LOGIT_OFFSET))
            return fer_fail(FER_ERR_ARG, "%s: logit offset %d is %g (must be finite, |x| <= %g)",
                            path, k, (double)meta->logit_offsets[k], (double)MAX_ABS_LOGIT_OFFSET);
    if (meta->has_logit_offsets && !(meta->logit_offsets_tau <= MAX_LOGIT_TAU))
        return fer_fail(FER_ERR_ARG, "%s: logit adjustment tau %g is not <= %g", path,
                        (double)meta->logit_offsets_tau, MAX_LOGIT_TAU);
    if (!(meta->head_tau_norm >= 0.0f && meta->head_tau_norm <= MAX_HEAD_TAU_NORM))
        return fer_fail(FER_ERR_ARG, "%s: head tau-norm exponent %g outside 0..%g", path,
                        (double)meta->head_tau_norm, MAX_HEAD_TAU_NORM);
    cJSON *hdr;
    size_t payload_bytes = 0, m_off = 0, v_off = 0, ema_off = 0, offsets_off = 0;
    FER_TRY(build_header(path, m, meta, opt, &hdr, &payload_bytes, &m_off, &v_off, &ema_off,
                         &offsets_off));
    char *json = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    if (!json)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    size_t json_len = strlen(json);
    size_t payload_offset = align_up(FIXED_BYTES + json_len);
    size_t size = payload_offset + payload_bytes + 4;
    unsigned char *buf = calloc(1, size);
    if (!buf) {
        free(json);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, size);
    }
    memcpy(buf, FER_CKPT_MAGIC, 8);
    put_u32(buf + 8, FER_CKPT_VERSION);
    put_u32(buf + 12, (uint32_t)json_len);
    put_u64(buf + 16, payload_offset);
    put_u64(buf + 24, size);
    memcpy(buf + FIXED_BYTES, json, json_len);
    memset(buf + FIXED_BYTES + json_len, ' ', payload_offset - FIXED_BYTES - json_len);
    free(json);

    unsigned char *payload = buf + payload_offset;
    fer_status st = FER_OK;
    size_t pos = 0;
    for (int t = 0; t < m->n_tensors && st == FER_OK; t++) {
        const fer_tensor *tt = &m->tensors[t];
        st = FER_OP(m->b, download, payload + pos, tt->data, tt->info.numel * sizeof(float));
        floats_le(payload + pos, tt->info.numel);
        pos = align_up(pos + tt->info.numel * sizeof(float));
    }
    if (st == FER_OK && opt) {
        /* the packed state is written straight into the payload */
        size_t n = fer_optimizer_state_floats(opt);
        float *mh = malloc((n ? n : 1) * sizeof(float)), *vh = malloc((n ? n : 1) * sizeof(float));
        if (!mh || !vh)
            st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
        else
            st = fer_optimizer_get_state(opt, NULL, mh, vh);
        if (st == FER_OK) {
            memcpy(payload + m_off, mh, n * sizeof(float));
            memcpy(payload + v_off, vh, n * sizeof(float));
            floats_le(payload + m_off, n);
            floats_le(payload + v_off, n);
        }
        free(mh);
        free(vh);
    }
    if (st == FER_OK && meta->ema_host) {
        memcpy(payload + ema_off, meta->ema_host, meta->ema_floats * sizeof(float));
        floats_le(payload + ema_off, meta->ema_floats);
    }
    if (st == FER_OK && meta->has_logit_offsets) {
        memcpy(payload + offsets_off, meta->logit_offsets, (size_t)meta->n_classes * sizeof(float));
        floats_le(payload + offsets_off, (size_t)meta->n_classes);
    }
    if (st == FER_OK) {
        put_u32(buf + size - 4, fer_crc32(0, buf, size - 4));
        st = fer_write_file_atomic(path, buf, size);
    }
    free(buf);
    return st;
}

/* ---- load ----------------------------------------------------------------------------- */

typedef struct ckpt_file {
    const char *path;
    unsigned char *data;
    size_t size;
    cJSON *hdr;
    const unsigned char *payload;
    size_t payload_bytes;
} ckpt_file;

static void ckpt_close(ckpt_file *f)
{
    free(f->data);
    cJSON_Delete(f->hdr);
    memset(f, 0, sizeof *f);
}

static fer_status read_all(const char *path, unsigned char **out, size_t *size)
{
    *out = NULL;
    FILE *f;
    size_t len;
    FER_TRY(fer_open_regular(path, &f, &len));
    if ((uint64_t)len > MAX_FILE_BYTES) {
        fclose(f);
        return fer_fail(FER_ERR_FORMAT, "%s: %zu bytes is larger than any checkpoint (at most "
                        "%llu)", path, len, (unsigned long long)MAX_FILE_BYTES);
    }
    unsigned char *buf = malloc(len + 1);
    if (!buf) {
        fclose(f);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, len);
    }
    size_t got = fread(buf, 1, len, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != len) {
        free(buf);
        return fer_fail(FER_ERR_IO, "%s: read error", path);
    }
    *out = buf;
    *size = len;
    return FER_OK;
}

/* Reads and validates framing, checksum and header JSON. */
static fer_status ckpt_open(const char *path, ckpt_file *f)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    FER_TRY(read_all(path, &f->data, &f->size));
    fer_status st = FER_OK;
    const unsigned char *d = f->data;
    if (f->size < 8 || memcmp(d, FER_CKPT_MAGIC, 8) != 0) {
        st = f->size < 8 && memcmp(d, FER_CKPT_MAGIC, f->size) == 0
                 ? fer_fail(FER_ERR_FORMAT, "%s: truncated (%zu bytes)", path, f->size)
                 : fer_fail(FER_ERR_FORMAT, "%s: not a .fer checkpoint (bad magic)", path);
        goto fail;
    }
    if (f->size < FIXED_BYTES + 4) {
        st = fer_fail(FER_ERR_FORMAT, "%s: truncated (%zu bytes)", path, f->size);
        goto fail;
    }
    uint32_t version = get_u32(d + 8);
    if (version != FER_CKPT_VERSION) {
        st = fer_fail(FER_ERR_FORMAT,
                      "%s: unsupported checkpoint version %u (this build reads version %u)", path,
                      version, FER_CKPT_VERSION);
        goto fail;
    }
    uint64_t json_len = get_u32(d + 12), payload_offset = get_u64(d + 16),
             file_size = get_u64(d + 24);
    if (f->size < file_size) {
        st = fer_fail(FER_ERR_FORMAT, "%s: truncated (%zu of %llu bytes)", path, f->size,
                      (unsigned long long)file_size);
        goto fail;
    }
    if (f->size > file_size) {
        st = fer_fail(FER_ERR_FORMAT, "%s: corrupt (%llu unexpected bytes after the end)", path,
                      (unsigned long long)(f->size - file_size));
        goto fail;
    }
    uint32_t stored = get_u32(d + f->size - 4), computed = fer_crc32(0, d, f->size - 4);
    if (stored != computed) {
        st = fer_fail(FER_ERR_FORMAT,
                      "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                      path, stored, computed);
        goto fail;
    }
    if (FIXED_BYTES + json_len > payload_offset || payload_offset > f->size - 4) {
        st = fer_fail(FER_ERR_FORMAT, "%s: corrupt header lengths", path);
        goto fail;
    }
    if (payload_offset % ALIGN != 0) {
        st = fer_fail(FER_ERR_FORMAT, "%s: payload offset %llu is not %d-byte aligned", path,
                      (unsigned long long)payload_offset, ALIGN);
        goto fail;
    }
    f->payload = d + payload_offset;
    f->payload_bytes = f->size - 4 - (size_t)payload_offset;
    /* cJSON takes raw NUL bytes inside strings; JSON text never holds one, and a reader that
     * stops at the first NUL would see a different header than we do. */
    if (memchr(d + FIXED_BYTES, 0, (size_t)json_len)) {
        st = fer_fail(FER_ERR_FORMAT, "%s: the header holds a NUL byte (not JSON text)", path);
        goto fail;
    }
    f->hdr = cJSON_ParseWithLength((const char *)d + FIXED_BYTES, (size_t)json_len);
    if (!f->hdr || !cJSON_IsObject(f->hdr)) {
        st = fer_fail(FER_ERR_FORMAT, "%s: the header is not valid JSON", path);
        goto fail;
    }
    return FER_OK;
fail:
    ckpt_close(f);
    return st;
}

static fer_status parse_posthoc(const ckpt_file *f, int n_classes, fer_checkpoint_meta *meta);

static fer_status parse_meta(const ckpt_file *f, int n_classes, fer_checkpoint_meta *meta)
{
    fer_checkpoint_meta_init(meta);
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(f->hdr, "classes");
    if (!cJSON_IsArray(jc) || cJSON_GetArraySize(jc) != n_classes)
        return fer_fail(FER_ERR_FORMAT, "%s: \"classes\" must list %d class names", f->path,
                        n_classes);
    meta->n_classes = n_classes;
    int i = 0;
    for (const cJSON *it = jc->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it) || strlen(it->valuestring) >= FER_NAME_LEN)
            return fer_fail(FER_ERR_FORMAT, "%s: class name %d is not a short string", f->path, i);
        snprintf(meta->class_names[i], FER_NAME_LEN, "%s", it->valuestring);
    }
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(f->hdr, "norm");
    double mean, std, best;
    long long epoch;
    FER_TRY(fer_json_double(cJSON_GetObjectItemCaseSensitive(jn, "mean"), f->path, "norm.mean",
                            -NORM_MEAN_RANGE, NORM_MEAN_RANGE, &mean));
    FER_TRY(fer_json_double(cJSON_GetObjectItemCaseSensitive(jn, "std"), f->path, "norm.std",
                            NORM_STD_MIN, NORM_STD_MAX, &std));
    meta->norm.mean = (float)mean;
    meta->norm.std = (float)std;
    FER_TRY(fer_json_int(cJSON_GetObjectItemCaseSensitive(f->hdr, "epoch"), f->path, "epoch", 0,
                         MAX_EPOCH, &epoch));
    FER_TRY(fer_json_double(cJSON_GetObjectItemCaseSensitive(f->hdr, "best_metric"), f->path,
                            "best_metric", -1e9, 1e9, &best));
    meta->epoch = (int)epoch;
    meta->best_metric = (float)best;
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(f->hdr, "class_prior");
    if (jp) {
        if (!cJSON_IsArray(jp) || cJSON_GetArraySize(jp) != n_classes)
            return fer_fail(FER_ERR_FORMAT, "%s: \"class_prior\" must have %d numbers", f->path,
                            n_classes);
        i = 0;
        for (const cJSON *it = jp->child; it; it = it->next, i++) {
            double prior;
            FER_TRY(fer_json_double(it, f->path, "class_prior", 0.0, 1.0, &prior));
            meta->class_prior[i] = (float)prior;
        }
        meta->has_prior = 1;
    }
    FER_TRY(parse_posthoc(f, n_classes, meta));
    const cJSON *jcfg = cJSON_GetObjectItemCaseSensitive(f->hdr, "config");
    const cJSON *jst = cJSON_GetObjectItemCaseSensitive(f->hdr, "state");
    if (jcfg && !(meta->config_json = cJSON_PrintUnformatted(jcfg)))
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", f->path);
    if (jst && !(meta->state_json = cJSON_PrintUnformatted(jst))) {
        fer_checkpoint_meta_clear(meta);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", f->path);
    }
    return FER_OK;
}

static fer_status check_tensor_table(const ckpt_file *f, const fer_arch *arch);

/* The header's architecture, validated, with its tensor table checked against the payload. */
static fer_status parse_arch(const ckpt_file *f, fer_arch *arch)
{
    long long version;
    FER_TRY(fer_json_int(cJSON_GetObjectItemCaseSensitive(f->hdr, "version"), f->path, "version",
                         0, UINT32_MAX, &version));
    if (version != FER_CKPT_VERSION)
        return fer_fail(FER_ERR_FORMAT, "%s: header version does not match the file version",
                        f->path);
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(f->hdr, "arch");
    if (!ja)
        return fer_fail(FER_ERR_FORMAT, "%s: header has no \"arch\"", f->path);
    FER_TRY(fer_arch_from_json_obj(ja, f->path, FER_HEAD_SOFTMAX, arch));
    return check_tensor_table(f, arch);
}

fer_status fer_checkpoint_read_header(const char *path, fer_arch *arch_out,
                                      fer_checkpoint_meta *meta_out)
{
    ckpt_file f;
    FER_TRY(ckpt_open(path, &f));
    fer_arch arch;
    fer_status st = parse_arch(&f, &arch);
    if (st == FER_OK && arch_out)
        *arch_out = arch;
    if (st == FER_OK && meta_out)
        st = parse_meta(&f, arch.n_classes, meta_out);
    ckpt_close(&f);
    return st;
}

/* Reads a block's {"offset", "numel"} and checks it lies inside the payload, aligned as the
 * writer aligns it. */
static fer_status payload_extent(const ckpt_file *f, const cJSON *e, const char *what,
                                 long long *off, long long *numel)
{
    if (!cJSON_IsObject(e))
        return fer_fail(FER_ERR_FORMAT, "%s: %s: not an object", f->path, what);
    char key[96];
    snprintf(key, sizeof key, "%s offset", what);
    FER_TRY(fer_json_int(cJSON_GetObjectItemCaseSensitive(e, "offset"), f->path, key, 0,
                         (long long)f->payload_bytes, off));
    snprintf(key, sizeof key, "%s numel", what);
    FER_TRY(fer_json_int(cJSON_GetObjectItemCaseSensitive(e, "numel"), f->path, key, 0,
                         FER_MAX_PARAMS, numel));
    if (*off % ALIGN != 0)
        return fer_fail(FER_ERR_FORMAT, "%s: %s: offset %lld is not %d-byte aligned", f->path,
                        what, *off, ALIGN);
    if (*numel * 4 > (long long)f->payload_bytes - *off)
        return fer_fail(FER_ERR_FORMAT, "%s: %s lies outside the payload", f->path, what);
    return FER_OK;
}

/* Before a model is allocated for a header's architecture: the tensor table must have the
 * architecture's number of tensors and elements, each inside the payload, so a small file
 * cannot make us allocate (and touch) a network it does not carry. */
static fer_status check_tensor_table(const ckpt_file *f, const fer_arch *arch)
{
    fer_arch_size_info sz;
    FER_TRY(fer_arch_sizes(arch, f->path, &sz));
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(f->hdr, "tensors");
    if (!cJSON_IsArray(jt))
        return fer_fail(FER_ERR_FORMAT, "%s: header has no tensor table", f->path);
    int n = cJSON_GetArraySize(jt);
    if (n != sz.n_tensors)
        return fer_fail(FER_ERR_FORMAT, "%s: architecture mismatch: %d tensors in the file, %d in "
                        "the architecture", f->path, n, sz.n_tensors);
    long long total = 0;
    int t = 0;
    for (const cJSON *e = jt->child; e; e = e->next, t++) {
        char what[32];
        snprintf(what, sizeof what, "tensor %d", t);
        long long off, numel;
        FER_TRY(payload_extent(f, e, what, &off, &numel));
        total += numel;
    }
    if (total != sz.params + sz.buffers)
        return fer_fail(FER_ERR_FORMAT, "%s: architecture mismatch: the tensor table holds %lld "
                        "values, the architecture %lld", f->path, total, sz.params + sz.buffers);
    return FER_OK;
}

/* Locates a payload block described by {"offset", "numel"}. */
static fer_status payload_block(const ckpt_file *f, const cJSON *e, const char *what,
                                size_t numel_expected, const unsigned char **out)
{
    long long off, numel;
    FER_TRY(payload_extent(f, e, what, &off, &numel));
    if ((size_t)numel != numel_expected)
        return fer_fail(FER_ERR_FORMAT, "%s: %s has %lld elements, expected %zu", f->path, what,
                        numel, numel_expected);
    *out = f->payload + (size_t)off;
    return FER_OK;
}

/* Index of the first value that is not finite or lies outside [lo, hi]; n when all are sane. */
static size_t first_insane(const float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= lo && x[i] <= hi)) /* also catches NaN */
            return i;
    return n;
}

static fer_status check_values(const ckpt_file *f, const char *what, const float *x, size_t n,
                               float lo, float hi)
{
    size_t bad = first_insane(x, n, lo, hi);
    if (bad < n)
        return fer_fail(FER_ERR_FORMAT, "%s: %s[%zu] = %g is not a sane value (expected finite, "
                        "%g..%g): the file is corrupt", f->path, what, bad, (double)x[bad],
                        (double)lo, (double)hi);
    return FER_OK;
}

/* The post-hoc adjustment of fer-eval --write_adjusted: "logit_offsets" {"tau" (optional),
 * "block"} with n_classes sane floats, and the "head_tau_norm" note. */
static fer_status parse_posthoc(const ckpt_file *f, int n_classes, fer_checkpoint_meta *meta)
{
    const cJSON *jh = cJSON_GetObjectItemCaseSensitive(f->hdr, "head_tau_norm");
    if (jh) {
        double p;
        FER_TRY(fer_json_double(jh, f->path, "head_tau_norm", 0.0, MAX_HEAD_TAU_NORM, &p));
        meta->head_tau_norm = (float)p;
    }
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive(f->hdr, "logit_offsets");
    if (!jl)
        return FER_OK;
    if (!cJSON_IsObject(jl))
        return fer_fail(FER_ERR_FORMAT, "%s: \"logit_offsets\" is not an object", f->path);
    meta->logit_offsets_tau = -1.0f;
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(jl, "tau");
    if (jt) {
        double tau;
        FER_TRY(fer_json_double(jt, f->path, "logit_offsets.tau", 0.0, MAX_LOGIT_TAU, &tau));
        meta->logit_offsets_tau = (float)tau;
    }
    const unsigned char *src = NULL;
    FER_TRY(payload_block(f, cJSON_GetObjectItemCaseSensitive(jl, "block"), "logit offsets block",
                          (size_t)n_classes, &src));
    float v[FER_MAX_CLASSES];
    memcpy(v, src, (size_t)n_classes * sizeof(float));
    floats_le(v, (size_t)n_classes);
    FER_TRY(check_values(f, "logit offset", v, (size_t)n_classes, -MAX_ABS_LOGIT_OFFSET,
                         MAX_ABS_LOGIT_OFFSET));
    memcpy(meta->logit_offsets, v, sizeof(float) * (size_t)n_classes);
    meta->has_logit_offsets = 1;
    return FER_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* What a tensor may hold: parameters within +-MAX_ABS_PARAM, running means within
 * +-MAX_ABS_BUFFER, variances and counts in [0, MAX_ABS_BUFFER]. */
static fer_status check_tensor_values(const ckpt_file *f, const char *what,
                                      const fer_tensor *tt, const float *x)
{
    size_t n = tt->info.numel;
    if (tt->info.role == FER_TENSOR_PARAM)
        return check_values(f, what, x, n, -MAX_ABS_PARAM, MAX_ABS_PARAM);
    return check_values(f, what, x, n,
                        ends_with(tt->info.name, ".running_mean") ? -MAX_ABS_BUFFER : 0.0f,
                        MAX_ABS_BUFFER);
}

static fer_status upload_le(const ckpt_file *f, fer_model *m, const fer_tensor *tt,
                            const unsigned char *src, float *scratch)
{
    size_t n = tt->info.numel;
    memcpy(scratch, src, n * sizeof(float));
    floats_le(scratch, n);
    FER_TRY(check_tensor_values(f, tt->info.name, tt, scratch));
    fer_model_weights_changed(m);
    return FER_OP(m->b, upload, tt->data, scratch, n * sizeof(float));
}

static fer_status load_tensors(const ckpt_file *f, fer_model *m)
{
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(f->hdr, "tensors");
    if (!cJSON_IsArray(jt))
        return fer_fail(FER_ERR_FORMAT, "%s: header has no tensor table", f->path);
    if (cJSON_GetArraySize(jt) != m->n_tensors)
        return fer_fail(FER_ERR_FORMAT, "%s: architecture mismatch: %d tensors in the file, %d in "
                        "the model", f->path, cJSON_GetArraySize(jt), m->n_tensors);
    size_t max_numel = 1;
    for (int t = 0; t < m->n_tensors; t++)
        if (m->tensors[t].info.numel > max_numel)
            max_numel = m->tensors[t].info.numel;
    float *scratch = malloc(max_numel * sizeof(float));
    if (!scratch)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", f->path);
    fer_status st = FER_OK;
    int t = 0;
    for (const cJSON *e = jt->child; e && st == FER_OK; e = e->next, t++) {
        const fer_tensor *tt = &m->tensors[t];
        const cJSON *jn = cJSON_GetObjectItemCaseSensitive(e, "name");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
        if (!cJSON_IsString(jn) || strcmp(jn->valuestring, tt->info.name) != 0) {
            st = fer_fail(FER_ERR_FORMAT, "%s: architecture mismatch: tensor %d is '%s', the "
                          "model expects '%s'", f->path, t,
                          cJSON_IsString(jn) ? jn->valuestring : "?", tt->info.name);
            break;
        }
        int ok = cJSON_IsArray(js) && cJSON_GetArraySize(js) == tt->info.ndim;
        for (int d = 0; ok && d < tt->info.ndim; d++) {
            const cJSON *jd = cJSON_GetArrayItem(js, d);
            ok = cJSON_IsNumber(jd) && jd->valuedouble == (double)tt->info.shape[d];
        }
        if (!ok) {
            st = fer_fail(FER_ERR_FORMAT, "%s: architecture mismatch: tensor '%s' has another "
                          "shape", f->path, tt->info.name);
            break;
        }
        const unsigned char *src = NULL;
        st = payload_block(f, e, tt->info.name, tt->info.numel, &src);
        if (st == FER_OK)
            st = upload_le(f, m, tt, src, scratch);
    }
    free(scratch);
    return st;
}

static fer_status load_optimizer(const ckpt_file *f, fer_optimizer *opt)
{
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(f->hdr, "optimizer");
    if (!jo)
        return fer_fail(FER_ERR_FORMAT, "%s: no optimiser state in this checkpoint (cannot "
                        "resume training exactly)", f->path);
    const cJSON *jk = cJSON_GetObjectItemCaseSensitive(jo, "kind");
    const cJSON *jstep = cJSON_GetObjectItemCaseSensitive(jo, "step");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(jo, "state");
    const char *want = optim_kind_name(fer_optimizer_config(opt)->kind);
    if (!cJSON_IsString(jk) || !cJSON_IsArray(js) || cJSON_GetArraySize(js) != 2)
        return fer_fail(FER_ERR_FORMAT, "%s: malformed optimiser section", f->path);
    long long step;
    FER_TRY(fer_json_int(jstep, f->path, "optimizer.step", 0, MAX_OPTIM_STEP, &step));
    if (strcmp(jk->valuestring, want) != 0)
        return fer_fail(FER_ERR_FORMAT, "%s: optimiser state is for %s, the optimiser is %s",
                        f->path, jk->valuestring, want);
    size_t n = fer_optimizer_state_floats(opt);
    const unsigned char *pm = NULL, *pv = NULL; /* set by payload_block */
    FER_TRY(payload_block(f, cJSON_GetArrayItem(js, 0), "optimiser m", n, &pm));
    FER_TRY(payload_block(f, cJSON_GetArrayItem(js, 1), "optimiser v", n, &pv));
    float *mh = malloc((n ? n : 1) * sizeof(float)), *vh = malloc((n ? n : 1) * sizeof(float));
    fer_status st;
    if (!mh || !vh) {
        st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", f->path);
    } else {
        memcpy(mh, pm, n * sizeof(float));
        memcpy(vh, pv, n * sizeof(float));
        floats_le(mh, n);
        floats_le(vh, n);
        st = check_values(f, "optimiser m", mh, n, -MAX_ABS_BUFFER, MAX_ABS_BUFFER);
        if (st == FER_OK)
            st = check_values(f, "optimiser v", vh, n, 0.0f, MAX_ABS_BUFFER);
        if (st == FER_OK)
            st = fer_optimizer_set_state(opt, (long)step, mh, vh);
    }
    free(mh);
    free(vh);
    return st;
}

static void describe_arch(const fer_arch *a, char *buf, size_t cap)
{
    snprintf(buf, cap, "'%s' %s head, %d layers, %d classes", a->name,
             a->head == FER_HEAD_ARCFACE ? "arcface" : "softmax", a->n_layers, a->n_classes);
}

fer_status fer_checkpoint_load_into(const char *path, fer_model *m, fer_optimizer *opt,
                                    fer_checkpoint_meta *meta_out)
{
    ckpt_file f;
    FER_TRY(ckpt_open(path, &f));
    fer_arch arch;
    fer_status st = parse_arch(&f, &arch);
    if (st == FER_OK && !fer_arch_equal(&arch, &m->arch)) {
        char fa[160], ma[160];
        describe_arch(&arch, fa, sizeof fa);
        describe_arch(&m->arch, ma, sizeof ma);
        st = fer_fail(FER_ERR_FORMAT, "%s: architecture mismatch: the file has %s, the model is "
                      "%s", path, fa, ma);
    }
    fer_checkpoint_meta meta;
    int have_meta = 0;
    if (st == FER_OK) {
        st = parse_meta(&f, arch.n_classes, &meta);
        have_meta = st == FER_OK;
    }
    if (st == FER_OK)
        st = load_tensors(&f, m);
    if (st == FER_OK && opt)
        st = load_optimizer(&f, opt);
    ckpt_close(&f);
    if (have_meta) {
        if (st == FER_OK && meta_out)
            *meta_out = meta;
        else
            fer_checkpoint_meta_clear(&meta);
    }
    m->have_forward = m->have_loss = 0;
    return st;
}

fer_status fer_checkpoint_load(const char *path, fer_backend *backend, int max_batch,
                               fer_model **model_out, fer_checkpoint_meta *meta_out)
{
    *model_out = NULL;
    fer_arch arch;
    FER_TRY(fer_checkpoint_read_header(path, &arch, NULL));
    fer_model *m;
    FER_TRY(fer_model_new(&arch, backend, max_batch, &m));
    fer_status st = fer_checkpoint_load_into(path, m, NULL, meta_out);
    if (st != FER_OK) {
        fer_model_free(m);
        return st;
    }
    *model_out = m;
    return FER_OK;
}

int fer_checkpoint_has_optimizer(const char *path)
{
    ckpt_file f;
    if (ckpt_open(path, &f) != FER_OK)
        return 0;
    int has = cJSON_GetObjectItemCaseSensitive(f.hdr, "optimizer") != NULL;
    ckpt_close(&f);
    return has;
}

fer_status fer_checkpoint_load_int8(const char *path, fer_int8_calib *out, int *found)
{
    *found = 0;
    memset(out, 0, sizeof *out);
    ckpt_file f;
    FER_TRY(ckpt_open(path, &f));
    const cJSON *jq = cJSON_GetObjectItemCaseSensitive(f.hdr, "int8");
    fer_status st = jq ? fer_int8_calib_from_json(jq, path, out) : FER_OK;
    ckpt_close(&f);
    *found = jq && st == FER_OK;
    return st;
}

fer_status fer_checkpoint_load_ema(const char *path, fer_model *m, float **host_out)
{
    *host_out = NULL;
    ckpt_file f;
    FER_TRY(ckpt_open(path, &f));
    const cJSON *je = cJSON_GetObjectItemCaseSensitive(f.hdr, "ema");
    if (!je) {
        ckpt_close(&f);
        return FER_OK;
    }
    long long np = -1, nb = -1;
    fer_status st = cJSON_IsObject(je) ? FER_OK
                                       : fer_fail(FER_ERR_FORMAT, "%s: malformed EMA section", path);
    if (st == FER_OK)
        st = fer_json_int(cJSON_GetObjectItemCaseSensitive(je, "param_floats"), path,
                          "ema.param_floats", 0, FER_MAX_PARAMS, &np);
    if (st == FER_OK)
        st = fer_json_int(cJSON_GetObjectItemCaseSensitive(je, "buffer_floats"), path,
                          "ema.buffer_floats", 0, FER_MAX_PARAMS, &nb);
    if (st == FER_OK && ((size_t)np != m->n_param_floats || (size_t)nb != m->n_buffer_floats))
        st = fer_fail(FER_ERR_FORMAT, "%s: the EMA holds %lld parameter and %lld buffer floats, "
                      "the model %zu and %zu", path, np, nb, m->n_param_floats,
                      m->n_buffer_floats);
    size_t n = m->n_param_floats + m->n_buffer_floats;
    const unsigned char *src = NULL;
    if (st == FER_OK)
        st = payload_block(&f, cJSON_GetObjectItemCaseSensitive(je, "block"), "EMA", n, &src);
    float *host = NULL;
    if (st == FER_OK && !(host = malloc((n ? n : 1) * sizeof(float))))
        st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    if (st == FER_OK) {
        memcpy(host, src, n * sizeof(float));
        floats_le(host, n);
        for (int t = 0; t < m->n_tensors && st == FER_OK; t++) {
            const fer_tensor *tt = &m->tensors[t];
            char what[96];
            snprintf(what, sizeof what, "EMA %s", tt->info.name);
            size_t base = tt->info.role == FER_TENSOR_PARAM ? 0 : m->n_param_floats;
            st = check_tensor_values(&f, what, tt, host + base + tt->offset);
        }
        /* arena padding between tensors too: every value finite */
        if (st == FER_OK)
            st = check_values(&f, "EMA", host, n, -MAX_ABS_BUFFER, MAX_ABS_BUFFER);
    }
    ckpt_close(&f);
    if (st != FER_OK) {
        free(host);
        return st;
    }
    *host_out = host;
    return FER_OK;
}
