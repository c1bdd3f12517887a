/* Fuzz target: the .fer checkpoint reader (model/src/checkpoint.c), followed by what its users
 * do next: fer-eval and ferclassify load it and classify a face (fer_classifier on ref),
 * fer-train --resume reads its header, applies its stored config and trainer state, loads the
 * optimiser state and takes a training step.
 *
 * Each input runs up to three times: as given (the framing checks: magic, sizes, CRC) and, when
 * it starts with the magic, with file_size and the CRC trailer repaired, and framed again around
 * the JSON header's new length (reframe), so that mutations reach the header and the payload
 * instead of dying at the checksum or a shifted offset. Reproducers made by make_corpus.c already
 * carry a valid frame and run once.
 *
 * Findings besides crashes: a loaded model over the caps, non-finite weights or normalisation,
 * a payload offset that is not 64-byte aligned, a loaded model that the library cannot save and
 * read back unchanged, an EMA block (fer_checkpoint_load_ema) that loads with non-finite floats
 * or with sizes other than the model's. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fer/checkpoint.h"
#include "fer/classifier.h"
#include "fer/crc.h"
#include "fer/optim.h"
#include "fer/status.h"
#include "fuzz_common.h"
#include "options.h"
#include "train_state.h"

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void check_meta(const fer_checkpoint_meta *meta, const fer_arch *a)
{
    if (meta->n_classes != a->n_classes)
        fuzz_fail("loaded checkpoint: %d class names for %d classes", meta->n_classes,
                  a->n_classes);
    if (!isfinite(meta->norm.mean) || !isfinite(meta->norm.std) || !(meta->norm.std > 0) ||
        !isfinite(1.0f / meta->norm.std) || !isfinite(meta->norm.mean / meta->norm.std))
        fuzz_fail("loaded checkpoint: normalisation mean %g std %g cannot normalise a pixel",
                  (double)meta->norm.mean, (double)meta->norm.std);
    for (int k = 0; meta->has_logit_offsets && k < meta->n_classes; k++)
        if (!(fabsf(meta->logit_offsets[k]) <= 1000.0f)) /* the loader's bound */
            fuzz_fail("loaded checkpoint: logit offset %d is %g", k,
                      (double)meta->logit_offsets[k]);
}

/* fer-train --resume --ema: the weight EMA block, when the header has one. On FER_OK the block
 * must be there exactly when the header has an "ema" object, whose param_floats and
 * buffer_floats must be the model's arena sizes (the contract in fer/checkpoint.h), and every
 * float of the parameter-then-buffer layout must be finite. */
static void check_ema(const char *path, fer_model *m, const uint8_t *data, size_t size)
{
    float *ema = NULL;
    fer_status st = fer_checkpoint_load_ema(path, m, &ema);
    fuzz_note("load ema", st);
    if (st != FER_OK)
        return;
    size_t header_len = (size_t)get_u64(data + 12) & 0xffffffffu; /* loaded: 32 + len <= size */
    /* the loader's own parse: the header's exact length, not up to a NUL */
    cJSON *hdr = cJSON_ParseWithLength((const char *)data + 32,
                                       header_len <= size - 32 ? header_len : size - 32);
    const cJSON *je = cJSON_GetObjectItemCaseSensitive(hdr, "ema");
    if (!ema != !je)
        fuzz_fail("fer_checkpoint_load_ema returned %s EMA for a header %s an \"ema\" section",
                  ema ? "an" : "no", je ? "with" : "without");
    if (ema) {
        size_t n_params = 0, n_buffers = 0;
        (void)fer_model_param_arena(m, &n_params);
        (void)fer_model_buffer_arena(m, &n_buffers);
        const cJSON *jp = cJSON_GetObjectItemCaseSensitive(je, "param_floats");
        const cJSON *jb = cJSON_GetObjectItemCaseSensitive(je, "buffer_floats");
        if (!cJSON_IsNumber(jp) || !cJSON_IsNumber(jb) || jp->valuedouble != (double)n_params ||
            jb->valuedouble != (double)n_buffers)
            fuzz_fail("an EMA was loaded whose header sizes are not the model's %zu + %zu floats",
                      n_params, n_buffers);
        for (size_t i = 0; i < n_params + n_buffers; i++)
            if (!isfinite(ema[i]))
                fuzz_fail("loaded EMA float %zu of %zu is %g", i, n_params + n_buffers,
                          (double)ema[i]);
    }
    cJSON_Delete(hdr);
    free(ema);
}

/* What fer-train does after resuming: save the model again (with the stored config and state).
 * Whatever the library writes it must read back, with the same weights. A save that fails is
 * an answer (e.g. a stored config that is not an object), not a finding. */
static void save_and_reload(fer_model *m, const fer_checkpoint_meta *meta)
{
    const char *again = fuzz_write_file("again.fer", "", 0);
    if (fer_checkpoint_save(again, m, meta, NULL) != FER_OK)
        return;
    fer_model *m2 = NULL;
    fer_checkpoint_meta meta2;
    if (fer_checkpoint_load(again, fuzz_ref_backend(), 1, &m2, &meta2) != FER_OK)
        fuzz_fail("a loaded checkpoint, saved again, does not load: %s", fer_last_error());
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        if (fer_model_tensor_info(m, t, &ti) != FER_OK)
            fuzz_fail("tensor %d: %s", t, fer_last_error());
        float *a = malloc((ti.numel ? ti.numel : 1) * sizeof(float));
        float *b = malloc((ti.numel ? ti.numel : 1) * sizeof(float));
        if (!a || !b || fer_model_get_tensor(m, ti.name, a, ti.numel) != FER_OK ||
            fer_model_get_tensor(m2, ti.name, b, ti.numel) != FER_OK)
            fuzz_fail("tensor %s: cannot read it back", ti.name);
        if (memcmp(a, b, ti.numel * sizeof(float)) != 0)
            fuzz_fail("tensor %s changed when saved and loaded again", ti.name);
        free(a);
        free(b);
    }
    if (memcmp(&meta->norm, &meta2.norm, sizeof meta->norm) != 0 ||
        meta->epoch != meta2.epoch || meta->n_classes != meta2.n_classes)
        fuzz_fail("the normalisation, epoch or classes changed when saved and loaded again");
    if (meta->has_logit_offsets != meta2.has_logit_offsets ||
        memcmp(meta->logit_offsets, meta2.logit_offsets, sizeof meta->logit_offsets) != 0 ||
        meta->head_tau_norm != meta2.head_tau_norm)
        fuzz_fail("the logit offsets or the head note changed when saved and loaded again");
    fer_checkpoint_meta_clear(&meta2);
    fer_model_free(m2);
}

/* fer-train --resume: stored config and trainer state, optimiser state, one step. */
static void resume_like_trainer(const char *path, fer_model *m, const uint8_t *data, size_t size,
                                const fer_checkpoint_meta *meta, int cheap)
{
    if (meta->config_json) {
        fer_cli cli;
        fer_options_defaults(&cli);
        if (fer_options_apply_json(&cli, meta->config_json, path, FER_SRC_CHECKPOINT, 1) ==
            FER_OK)
            (void)fer_options_validate(&cli.opt);
    }
    if (meta->state_json) {
        fer_train_state s;
        fer_train_state_init(&s, 0, 1);
        if (fer_train_state_from_json(meta->state_json, path, &s) == FER_OK) {
            char *again = fer_train_state_to_json(&s);
            free(again);
        }
    }
    if (!fer_checkpoint_has_optimizer(path))
        return;
    fer_optim_kind kind = FER_OPTIM_ADAM;
    if (memmem(data, size, "\"kind\":\"sgd\"", 12))
        kind = FER_OPTIM_SGD;
    else if (memmem(data, size, "\"kind\":\"adamw\"", 14))
        kind = FER_OPTIM_ADAMW;
    fer_optim_config cfg;
    fer_optim_config_default(kind, 1e-3f, &cfg);
    fer_optimizer *opt = NULL;
    if (fer_optimizer_new(m, &cfg, &opt) != FER_OK)
        return;
    fer_checkpoint_meta meta2;
    if (fer_checkpoint_load_into(path, m, opt, &meta2) == FER_OK) {
        fer_checkpoint_meta_clear(&meta2);
        if (cheap) {
            const fer_arch *a = fer_model_arch(m);
            size_t n = (size_t)a->in_c * a->in_h * a->in_w;
            float *x = calloc(n, sizeof(float));
            int32_t label = 0;
            fer_loss_config loss = {.kind = FER_LOSS_CE, .gamma = 2.0f};
            float value;
            if (!x)
                fuzz_fail("out of memory for an input of %zu floats", n);
            if (fer_model_forward(m, x, 1, FER_MODE_TRAIN, &label, 7, NULL) == FER_OK &&
                fer_model_loss(m, &loss, &label, &value) == FER_OK &&
                fer_model_backward(m) == FER_OK)
                (void)fer_optimizer_step(opt, 1e-3f);
            free(x);
        }
    }
    fer_optimizer_free(opt);
}

static void run_checkpoint(const char *path, const uint8_t *data, size_t size)
{
    fer_arch arch;
    fer_checkpoint_meta meta;
    fer_status st = fer_checkpoint_read_header(path, &arch, &meta);
    fuzz_note("read header", st);
    if (st != FER_OK)
        return;
    fer_checkpoint_meta_clear(&meta);
    fuzz_arch_size est;
    fuzz_arch_size_of(&arch, &est);
    fer_backend *b = fuzz_ref_backend();
    fer_model *m = NULL;
    if (fuzz_arch_over_caps(&est)) {
        if (fer_checkpoint_load(path, b, 1, &m, &meta) == FER_OK)
            fuzz_fail_over_caps("a checkpoint", &est);
        return;
    }
    if (est.params > FUZZ_BUILD_PARAMS || est.act_floats > FUZZ_BUILD_ACT_FLOATS)
        return; /* legal but too big to load thousands of times */
    st = fer_checkpoint_load(path, b, 1, &m, &meta);
    fuzz_note("load", st);
    if (st != FER_OK)
        return;
    if (size < 24 || get_u64(data + 16) % 64 != 0)
        fuzz_fail("a checkpoint whose payload offset %llu is not 64-byte aligned loaded",
                  size < 24 ? 0ULL : (unsigned long long)get_u64(data + 16));
    check_meta(&meta, fer_model_arch(m));
    fuzz_check_weights_finite("loaded checkpoint", m);
    check_ema(path, m, data, size);
    save_and_reload(m, &meta);
    int cheap = est.work <= FUZZ_FORWARD_WORK;
    if (cheap)
        fuzz_forward_once(m);
    resume_like_trainer(path, m, data, size, &meta, cheap);
    fer_checkpoint_meta_clear(&meta);
    fer_model_free(m);

    /* fer-eval / ferclassify: the classifier on 48x48 faces, on ref and on cpu (the default
     * without a GPU; its fast kernels are not ref's). Memory safety only: weights up to the
     * library's sanity bound make the two sum orders differ too much to compare logits. */
    if (cheap && arch.in_c == 1 && arch.in_h == 48 && arch.in_w == 48) {
        static const char *const backends[2] = {"ref", "cpu"};
        for (int k = 0; k < 2; k++) {
            fer_classifier *c;
            if (fer_classifier_new(path, backends[k], 1, 2, &c) != FER_OK)
                fuzz_fail("the checkpoint loaded, but not into the %s classifier: %s",
                          backends[k], fer_last_error());
            uint8_t faces[3 * 48 * 48];
            float probs[3 * FER_MAX_CLASSES];
            for (int i = 0; i < 3 * 48 * 48; i++)
                faces[i] = (uint8_t)(i * 7);
            (void)fer_classifier_run_u8(c, faces, 3, NULL, probs); /* 3 > max_batch: split */
            fer_classifier_free(c);
        }
    }
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* file_size and the CRC trailer made to match the bytes (the framing fields otherwise kept). */
static uint8_t *repair_crc(const uint8_t *data, size_t size)
{
    uint8_t *fixed = malloc(size);
    if (!fixed)
        fuzz_fail("out of memory for %zu bytes", size);
    memcpy(fixed, data, size);
    put_le(fixed + 24, size, 8);
    put_le(fixed + size - 4, fer_crc32(0, fixed, size - 4), 4);
    return fixed;
}

/* Framed again around whatever the mutations did to the header's length: the JSON object that
 * starts at byte 32 (its end found by the parser), spaces up to the next multiple of 64, then
 * the bytes after the JSON's padding as the payload, a fresh file_size and CRC. NULL when there
 * is no JSON object at byte 32. */
static uint8_t *reframe(const uint8_t *data, size_t size, size_t *out_size)
{
    char *text = fuzz_strndup(data + 32, size - 36);
    const char *end = NULL;
    cJSON *hdr = cJSON_ParseWithOpts(text, &end, 0);
    cJSON_Delete(hdr);
    if (!hdr || !end) {
        free(text);
        return NULL;
    }
    size_t json_len = (size_t)(end - text), payload_at = 32 + json_len;
    free(text);
    while (payload_at < size - 4 && data[payload_at] == ' ')
        payload_at++;
    size_t payload_len = size - 4 - payload_at;
    size_t offset = (32 + json_len + 63) / 64 * 64;
    size_t n = offset + payload_len + 4;
    uint8_t *out = malloc(n);
    if (!out)
        fuzz_fail("out of memory for %zu bytes", n);
    memcpy(out, data, 12);
    put_le(out + 12, json_len, 4);
    put_le(out + 16, offset, 8);
    put_le(out + 24, n, 8);
    memcpy(out + 32, data + 32, json_len);
    memset(out + 32 + json_len, ' ', offset - 32 - json_len);
    memcpy(out + offset, data + payload_at, payload_len);
    put_le(out + n - 4, fer_crc32(0, out, n - 4), 4);
    *out_size = n;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("model.fer", data, size);
    run_checkpoint(path, data, size);
    if (size < 36 || memcmp(data, "FERMODEL", 8) != 0)
        return 0;
    uint8_t *fixed = repair_crc(data, size);
    if (memcmp(fixed, data, size) != 0) {
        path = fuzz_write_file("model.fer", fixed, size);
        run_checkpoint(path, fixed, size);
    }
    size_t framed_size = 0;
    uint8_t *framed = reframe(data, size, &framed_size);
    if (framed && (framed_size != size || memcmp(framed, fixed, size) != 0)) {
        path = fuzz_write_file("model.fer", framed, framed_size);
        run_checkpoint(path, framed, framed_size);
    }
    free(framed);
    free(fixed);
    return 0;
}
