/* Post-hoc imbalance corrections (fer/posthoc.h, the checkpoint's "logit_offsets" block,
 * fer_classifier's adjustment) and the prediction-share report:
 * 1. tau-normalised heads: the linear formula equals running the normalised head (1e-4), rows
 *    end with norm^(1-P); tuning P on logits from an over-scaled class finds P > 0;
 * 2. a checkpoint with offsets: round trip (offsets bit for bit, tau, general offsets, head
 *    note), the classifier adds them by default (exactly), not when told not to;
 * 3. hostile offsets blocks (wrong class count, NaN, truncated, bad tau / head note, not an
 *    object): refused with one line naming the file; the writer refuses NaN offsets;
 * 4. fer_write_adjusted_checkpoint: the copy's logits are the source's normalised head + the
 *    offsets, bit for bit; it never replaces its source;
 * 5. prediction shares: hand-computed, in metrics.json; fitting offsets that match them to the
 *    labels' shares (--match_shares) brings an over-predicted class down to its share,
 *    deterministically;
 * 6. end to end: fer-train, then fer-eval --tune_tau --tune_tau_norm --write_adjusted; the
 *    copy evaluated by fer-eval reproduces the tuned run's metrics exactly and names the
 *    offsets it applied; the same for --match_shares; --no_adjust turns them off; misuse is
 *    refused.
 * argv[1], argv[2]: fer-train and fer-eval. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "fer/status.h"
#include "../common/ckpt_craft.h"
#include "fer/checkpoint.h"
#include "fer/evaluate.h"
#include "fer/posthoc.h"
#include "fixtures.h"

#define S FER_INPUT_SIZE
#define PX (S * S)

static char dir[4096];

static void make_face(int seed, uint8_t *face)
{
    for (int i = 0; i < PX; i++)
        face[i] = (uint8_t)((i * 7 + seed * 53 + (i / S) * (seed + 3)) & 0xff);
}

/* The tiny preset with 7 classes, counter-initialised; offsets (NULL: none) stored. */
static void save_tiny(const char *path, const float *offsets, float tau)
{
    fer_arch arch;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_model *m;
    OK(fer_model_new(&arch, b, 4, &m));
    OK(fer_model_init(m, 11));
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.has_prior = 1;
    for (int k = 0; k < 7; k++)
        meta.class_prior[k] = (float)(k + 1) / 28.0f;
    if (offsets) {
        meta.has_logit_offsets = 1;
        meta.logit_offsets_tau = tau;
        memcpy(meta.logit_offsets, offsets, sizeof(float) * 7);
    }
    OK(fer_checkpoint_save(path, m, &meta, NULL));
    fer_model_free(m);
    fer_backend_free(b);
}

static void logits_of(fer_classifier *c, int n, float *logits)
{
    uint8_t faces[6 * PX];
    for (int i = 0; i < n; i++)
        make_face(i, faces + i * PX);
    OK(fer_classifier_run_u8(c, faces, n, logits, NULL));
}

static void test_tau_norm(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/plain.fer", dir);
    save_tiny(path, NULL, 0.0f);
    fer_classifier *c;
    OK(fer_classifier_new(path, "ref", 1, 8, &c));
    float raw[6 * 7], normed[6 * 7], formula[6 * 7], norms[7], norms_after[7], bias[7];
    logits_of(c, 6, raw);
    OK(fer_classifier_head_bias(c, bias));
    OK(fer_classifier_tau_norm(c, 0.0f, norms)); /* P = 0: norms only, weights unchanged */
    logits_of(c, 6, normed);
    CHECK(!memcmp(raw, normed, sizeof raw));
    const float p = 0.7f;
    OK(fer_classifier_tau_norm(c, p, NULL));
    logits_of(c, 6, normed);
    fer_tau_norm_logits(raw, 6, 7, norms, bias, p, formula);
    for (int i = 0; i < 6 * 7; i++)
        CHECK_NEAR(normed[i], formula[i], 1e-4);
    OK(fer_classifier_tau_norm(c, 0.0f, norms_after));
    for (int k = 0; k < 7; k++)
        CHECK_NEAR(norms_after[k], pow(norms[k], 1.0 - p), 1e-4 * norms[k]);
    CHECK(fer_classifier_tau_norm(c, -1.0f, NULL) == FER_ERR_ARG);
    fer_classifier_free(c);

    /* class 0's row is 5x the others: its logits dominate; P = 1 undoes the scale */
    enum { N = 60 };
    float logits[N * 3], rn[3] = {5.0f, 1.0f, 1.0f}, b0[3] = {0, 0, 0};
    int32_t labels[N];
    for (int i = 0; i < N; i++) {
        labels[i] = i % 3;
        for (int k = 0; k < 3; k++)
            logits[i * 3 + k] = rn[k] * (k == labels[i] ? 1.0f : 0.3f + 0.1f * (float)(i % 5));
    }
    double best;
    float tuned = fer_eval_tune_tau_norm(logits, labels, N, 3, rn, b0, NULL, &best);
    fer_metrics at0;
    fer_metrics_init(&at0, 3, NULL);
    fer_eval_score_offsets(logits, labels, N, 3, NULL, &at0, NULL, NULL);
    CHECK(tuned > 0.0f && tuned <= FER_TAU_NORM_GRID_MAX);
    CHECK(best == 1.0 && at0.macro_f1 < 0.9);
}

static void test_offsets_checkpoint(void)
{
    char path[4200], general[4200];
    snprintf(path, sizeof path, "%s/adjusted.fer", dir);
    snprintf(general, sizeof general, "%s/general.fer", dir);
    const float off[7] = {0.5f, -1.25f, 2.0f, 0.0f, -0.125f, 3.5f, 1e-3f};
    save_tiny(path, off, 1.5f);
    save_tiny(general, off, -1.0f);
    fer_checkpoint_meta meta;
    OK(fer_checkpoint_read_header(path, NULL, &meta));
    CHECK(meta.has_logit_offsets && meta.logit_offsets_tau == 1.5f);
    CHECK(!memcmp(meta.logit_offsets, off, sizeof off) && meta.head_tau_norm == 0.0f);
    fer_checkpoint_meta_clear(&meta);
    OK(fer_checkpoint_read_header(general, NULL, &meta));
    CHECK(meta.has_logit_offsets && meta.logit_offsets_tau < 0.0f);
    fer_checkpoint_meta_clear(&meta);

    /* the classifier adds them by default, exactly; off on request */
    fer_classifier *c;
    OK(fer_classifier_new(path, "ref", 1, 4, &c));
    CHECK(fer_classifier_logit_offsets(c) && fer_classifier_logit_offsets(c)[2] == 2.0f);
    float adjusted[6 * 7], raw[6 * 7], probs[6 * 7];
    logits_of(c, 6, adjusted); /* 6 > max_batch 4: two chunks */
    fer_classifier_set_adjust(c, 0);
    CHECK(fer_classifier_logit_offsets(c) == NULL);
    logits_of(c, 6, raw);
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 7; k++)
            CHECK(adjusted[i * 7 + k] == raw[i * 7 + k] + off[k]);
    fer_classifier_set_adjust(c, 1);
    uint8_t face[PX];
    make_face(0, face);
    OK(fer_classifier_run_u8(c, face, 1, NULL, probs));
    int arg = 0;
    for (int k = 1; k < 7; k++)
        if (probs[k] > probs[arg])
            arg = k;
    int arg_adj = 0;
    for (int k = 1; k < 7; k++)
        if (adjusted[k] > adjusted[arg_adj])
            arg_adj = k;
    CHECK(arg == arg_adj);
    fer_classifier_free(c);

    /* the writer refuses offsets it could not read back */
    fer_arch arch;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_model *m;
    OK(fer_model_new(&arch, b, 1, &m));
    OK(fer_model_init(m, 1));
    fer_checkpoint_meta_init(&meta);
    meta.has_logit_offsets = 1;
    meta.logit_offsets[3] = NAN;
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/never.fer", dir);
    CHECK(fer_checkpoint_save(bad, m, &meta, NULL) == FER_ERR_ARG);
    CHECK(access(bad, F_OK) != 0);
    fer_model_free(m);
    fer_backend_free(b);
}

/* src's header and payload changed by `how`, written to dir/name, must be refused by the
 * loader and the classifier with one line naming the file and containing needle. */
static void expect_refused(const char *src, const char *name, void (*how)(craft_ckpt *),
                           const char *needle)
{
    craft_ckpt c;
    CHECK(craft_read(src, &c) == 0);
    how(&c);
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(craft_write(path, &c, 0) == 0);
    craft_free(&c);
    fer_checkpoint_meta meta;
    CHECK(fer_checkpoint_read_header(path, NULL, &meta) == FER_ERR_FORMAT);
    const char *msg = fer_last_error();
    if (!strstr(msg, needle) || !strstr(msg, path) || strchr(msg, '\n')) {
        fprintf(stderr, "%s: expected one line naming the file with \"%s\", got: %s\n", name,
                needle, msg);
        exit(1);
    }
    fer_classifier *cl = NULL;
    CHECK(fer_classifier_new(path, "ref", 1, 2, &cl) == FER_ERR_FORMAT && !cl);
    CHECK(strstr(fer_last_error(), path));
}

static cJSON *offsets_obj(craft_ckpt *c)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(c->hdr, "logit_offsets");
    CHECK(o);
    return o;
}

static cJSON *block_of(craft_ckpt *c)
{
    return cJSON_GetObjectItemCaseSensitive(offsets_obj(c), "block");
}

static void wrong_count(craft_ckpt *c)
{
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(block_of(c), "numel"), 5);
}

static void nan_offset(craft_ckpt *c)
{
    size_t off = (size_t)cJSON_GetObjectItemCaseSensitive(block_of(c), "offset")->valuedouble;
    const unsigned char nan_le[4] = {0x00, 0x00, 0xc0, 0x7f};
    memcpy(c->payload + off + 4 * 2, nan_le, 4);
}

static void huge_offset(craft_ckpt *c)
{
    size_t off = (size_t)cJSON_GetObjectItemCaseSensitive(block_of(c), "offset")->valuedouble;
    const float big = 1e30f;
    memcpy(c->payload + off, &big, 4); /* little-endian hosts only run this test */
}

static void truncated(craft_ckpt *c)
{
    /* the block's floats cut off: the payload ends inside it */
    size_t off = (size_t)cJSON_GetObjectItemCaseSensitive(block_of(c), "offset")->valuedouble;
    c->payload_bytes = off + 8;
}

static void bad_tau(craft_ckpt *c)
{
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(offsets_obj(c), "tau"), -2.0);
}

static void not_object(craft_ckpt *c)
{
    cJSON_ReplaceItemInObjectCaseSensitive(c->hdr, "logit_offsets", cJSON_CreateNumber(3));
}

static void bad_head_note(craft_ckpt *c)
{
    cJSON_AddNumberToObject(c->hdr, "head_tau_norm", 1e300);
}

static void test_hostile(void)
{
    char src[4200];
    snprintf(src, sizeof src, "%s/adjusted.fer", dir);
    expect_refused(src, "count.fer", wrong_count, "logit offsets block has 5 elements, expected 7");
    expect_refused(src, "nan.fer", nan_offset, "logit offset[2] = nan is not a sane value");
    expect_refused(src, "huge.fer", huge_offset, "logit offset[0] = 1e+30 is not a sane value");
    expect_refused(src, "truncated.fer", truncated, "lies outside the payload");
    expect_refused(src, "tau.fer", bad_tau, "logit_offsets.tau");
    expect_refused(src, "object.fer", not_object, "\"logit_offsets\" is not an object");
    expect_refused(src, "note.fer", bad_head_note, "head_tau_norm");
}

static void test_write_adjusted(void)
{
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/plain.fer", dir);
    snprintf(dst, sizeof dst, "%s/shipped.fer", dir);
    const float off[7] = {0.25f, 1.0f, -0.5f, 0.0f, 0.75f, -2.0f, 0.125f};
    OK(fer_write_adjusted_checkpoint(src, dst, off, 0.8f, 0.6f));
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    CHECK(access(tmp, F_OK) != 0); /* renamed into place */
    fer_classifier *a, *b;
    OK(fer_classifier_new(src, "ref", 1, 8, &a));
    OK(fer_classifier_new(dst, "ref", 1, 8, &b));
    const fer_checkpoint_meta *mb = fer_classifier_meta(b);
    CHECK(mb->has_logit_offsets && mb->logit_offsets_tau == 0.8f && mb->head_tau_norm == 0.6f);
    CHECK(mb->has_prior && !memcmp(mb->class_prior, fer_classifier_meta(a)->class_prior,
                                   sizeof mb->class_prior));
    OK(fer_classifier_tau_norm(a, 0.6f, NULL));
    float la[6 * 7], lb[6 * 7];
    logits_of(a, 6, la);
    logits_of(b, 6, lb);
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 7; k++)
            CHECK(lb[i * 7 + k] == la[i * 7 + k] + off[k]);
    fer_classifier_free(a);
    fer_classifier_free(b);
    /* a tau-normalised head is not normalised twice; the source is never replaced */
    char again[4300];
    snprintf(again, sizeof again, "%s/twice.fer", dir);
    CHECK(fer_write_adjusted_checkpoint(dst, again, NULL, 0.0f, 0.5f) == FER_ERR_ARG);
    CHECK(strstr(fer_last_error(), "tau-normalised already"));
    CHECK(fer_write_adjusted_checkpoint(src, src, off, 1.0f, 0.0f) == FER_ERR_ARG);
    CHECK(strstr(fer_last_error(), "must not replace"));
    /* no offsets: a copy without the block */
    OK(fer_write_adjusted_checkpoint(dst, again, NULL, 0.0f, 0.0f));
    fer_checkpoint_meta meta;
    OK(fer_checkpoint_read_header(again, NULL, &meta));
    CHECK(!meta.has_logit_offsets && meta.head_tau_norm == 0.6f);
    fer_checkpoint_meta_clear(&meta);
}

static void test_shares(void)
{
    char names[3][FER_NAME_LEN] = {"a", "b", "c"};
    fer_metrics m;
    fer_metrics_init(&m, 3, (const char(*)[FER_NAME_LEN])names);
    /* true a a a b b c, predicted a b b b b b: b over-predicted (5/6 vs 2/6) */
    const int t[6] = {0, 0, 0, 1, 1, 2}, p[6] = {0, 1, 1, 1, 1, 1};
    for (int i = 0; i < 6; i++)
        fer_metrics_add(&m, t[i], p[i], NULL);
    fer_metrics_finish(&m);
    double ps[3], ts[3];
    fer_metrics_shares(&m, ps, ts);
    CHECK_NEAR(ps[0], 1.0 / 6, 1e-12);
    CHECK_NEAR(ps[1], 5.0 / 6, 1e-12);
    CHECK(ps[2] == 0.0);
    CHECK_NEAR(ts[0], 0.5, 1e-12);
    CHECK_NEAR(ts[1], 2.0 / 6, 1e-12);
    CHECK_NEAR(ts[2], 1.0 / 6, 1e-12);
    char path[4200];
    snprintf(path, sizeof path, "%s/shares.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fer_metrics_print_shares(&m, f);
    fclose(f);
    char *text = fx_read_file(path, NULL);
    CHECK(text && strstr(text, "over-predicted"));
    const char *b_line = strstr(text, "\n           b");
    CHECK(b_line && strstr(b_line, "over-predicted") < strstr(b_line + 1, "\n           c"));
    free(text);
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    OK(fer_metrics_write_json(&m, NULL, path));
    cJSON *j = fx_load_json(path);
    cJSON *jp = cJSON_GetObjectItemCaseSensitive(j, "prediction_share");
    cJSON *jt = cJSON_GetObjectItemCaseSensitive(j, "true_share");
    CHECK(cJSON_GetArraySize(jp) == 3 && cJSON_GetArraySize(jt) == 3);
    CHECK_NEAR(cJSON_GetArrayItem(jp, 1)->valuedouble, 5.0 / 6, 1e-9);
    CHECK_NEAR(cJSON_GetArrayItem(jt, 0)->valuedouble, 0.5, 1e-9);
    cJSON_Delete(j);
}

/* --match_shares' fit: 600 images of 3 classes (shares 1/2, 1/3, 1/6) whose logits favour
 * class 1 by 1.5 on top of a noisy signal of the label, so class 1 is over-predicted */
static void test_fit_shares(void)
{
    enum { N = 600 };
    static float logits[N * 3];
    static int32_t labels[N];
    uint32_t r = 12345u;
    for (int i = 0; i < N; i++) {
        labels[i] = i % 6 < 3 ? 0 : i % 6 < 5 ? 1 : 2;
        for (int k = 0; k < 3; k++) {
            r = r * 1664525u + 1013904223u;
            const float noise = (float)(r >> 8) / (float)(1u << 24) * 3.0f;
            logits[i * 3 + k] = noise + (k == labels[i] ? 1.0f : 0.0f) + (k == 1 ? 1.5f : 0.0f);
        }
    }
    const float zero[3] = {0};
    const double want[3] = {0.5, 1.0 / 3, 1.0 / 6};
    double before[3] = {0}, after[3] = {0}, gap = -1.0, gap0 = 0.0;
    float off[3], again[3];
    fer_eval_fit_share_offsets(logits, labels, N, 3, off, &gap);
    fer_eval_fit_share_offsets(logits, labels, N, 3, again, NULL);
    CHECK(!memcmp(off, again, sizeof off)); /* deterministic */
    for (int i = 0; i < N; i++) {
        int b0 = 0, b1 = 0;
        for (int k = 1; k < 3; k++) {
            if (logits[i * 3 + k] + zero[k] > logits[i * 3 + b0] + zero[b0])
                b0 = k;
            if (logits[i * 3 + k] + off[k] > logits[i * 3 + b1] + off[b1])
                b1 = k;
        }
        before[b0] += 1.0 / N;
        after[b1] += 1.0 / N;
    }
    for (int k = 0; k < 3; k++)
        gap0 += fabs(before[k] - want[k]);
    printf("match shares: before %.3f %.3f %.3f, after %.3f %.3f %.3f (gap %.4f -> %.4f), "
           "offsets %+.3f %+.3f %+.3f\n", before[0], before[1], before[2], after[0], after[1],
           after[2], gap0, gap, off[0], off[1], off[2]);
    CHECK(before[1] > want[1] + 0.2, "the fixture must over-predict class 1 (%.3f)", before[1]);
    for (int k = 0; k < 3; k++)
        CHECK_NEAR(after[k], want[k], 0.02);
    CHECK(gap < 0.05 && gap < gap0 / 10);
    CHECK(off[1] < off[0] && off[1] < off[2]); /* the over-predicted class is pushed down */
    CHECK_NEAR(off[0] + off[1] + off[2], 0.0, 1e-5);
    /* no images: zero offsets */
    fer_eval_fit_share_offsets(logits, labels, 0, 3, off, &gap);
    CHECK(off[0] == 0.0f && off[1] == 0.0f && off[2] == 0.0f && gap == 0.0);
}

/* ---- end to end ------------------------------------------------------------------------ */

static const char *fer_eval;

static int run_eval(const char *log_name, const char *const *args, char *log_out)
{
    const char *argv[32] = {fer_eval};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    snprintf(log_out, 4300, "%s/%s", dir, log_name);
    return fx_run((char *const *)argv, log_out);
}

static cJSON *metrics_of(const char *out)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/metrics.json", out);
    return fx_load_json(path);
}

static const char *json_str(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    CHECK(cJSON_IsString(v), "%s", key);
    return v->valuestring;
}

static void same_key(const cJSON *a, const cJSON *b, const char *key)
{
    char *ta = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, key));
    char *tb = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, key));
    CHECK(ta && tb && !strcmp(ta, tb), "%s", key);
    free(ta);
    free(tb);
}

/* Deletes all but `keep` of the files in folder path. */
static void keep_pngs(const char *path, int keep)
{
    DIR *d = opendir(path);
    CHECK(d);
    int seen = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || seen++ < keep)
            continue;
        char file[4800];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        CHECK(unlink(file) == 0);
    }
    closedir(d);
    CHECK(seen > keep);
}

static void end_to_end(const char *fer_train)
{
    static const char *const names[3] = {"calm", "happy", "sad"};
    static const int ids[3] = {0, 1, 2};
    char data[4200], runs[4200], logp[4300];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    fx_dataset_spec spec = {3, names, ids, 20, 10, 10};
    fx_make_dataset(data, NULL, &spec);
    /* an imbalanced training set (20 / 8 / 4), so the prior and the adjustment matter */
    char cls[4400];
    for (int c = 1; c < 3; c++) {
        snprintf(cls, sizeof cls, "%s/train/%s", data, names[c]);
        keep_pngs(cls, c == 1 ? 8 : 4);
    }
    const char *fixed[] = {fer_train, "--data_root", data, "--runs_dir", runs, "--exp", "base",
                           "--arch", "tiny", "--backend", "ref",
                           "--threads", "1", "--batch_size", "20", "--progress", "plain"};
    FX_EXPECT_EXIT(fx_train(fixed, sizeof fixed / sizeof *fixed, "2", NULL, NULL, runs, "base",
                            logp, sizeof logp),
                   0, logp);
    char ckpt[4300], tuned[4300], shipped[4300], again[4300];
    snprintf(ckpt, sizeof ckpt, "%s/base/best.fer", runs);
    /* tuned on val, then fixed settings (so the shipped block is exercised whatever val picks) */
    const char *modes[2][5] = {{"--tune_tau", "--tune_tau_norm", NULL},
                               {"--logit_adjust", "1.0", "--tau_norm", "0.5", NULL}};
    double tau = 0.0, p = 0.0;
    for (int mode = 0; mode < 2; mode++) {
        snprintf(tuned, sizeof tuned, "%s/eval_mode%d", dir, mode);
        snprintf(shipped, sizeof shipped, "%s/shipped%d.fer", runs, mode);
        snprintf(again, sizeof again, "%s/eval_shipped%d", dir, mode);
        const char *args[20] = {"--model", ckpt, "--data_root", data, "--backend", "ref",
                                "--out", tuned, "--write_adjusted", shipped};
        int n = 10;
        for (int k = 0; modes[mode][k]; k++)
            args[n++] = modes[mode][k];
        args[n] = NULL;
        FX_EXPECT_EXIT(run_eval("tuned.log", args, logp), 0, logp);
        const char *src = mode == 0 ? "tuned_on_val" : "logit_adjust";
        const char *norm_src = mode == 0 ? "tuned_on_val" : "tau_norm";
        char *log = fx_read_file(logp, NULL);
        char want[128];
        snprintf(want, sizeof want, "post-hoc logit offsets: %s", src);
        CHECK(log && strstr(log, want), "%s", want);
        snprintf(want, sizeof want, "post-hoc head tau-norm: %s", norm_src);
        CHECK(strstr(log, want) && strstr(log, "share of"), "%s", want);
        CHECK(strstr(log, "wrote ") && strstr(log, shipped));
        free(log);
        const char *args2[] = {"--model", shipped, "--data_root", data, "--backend", "ref",
                               "--out", again, NULL};
        FX_EXPECT_EXIT(run_eval("shipped.log", args2, logp), 0, logp);
        /* what was measured is what ships: the same numbers, key for key (a tuned tau or P of
         * 0 ships nothing of it) */
        cJSON *a = metrics_of(tuned), *b = metrics_of(again);
        tau = fx_json_number(a, "logit_adjust_tau");
        p = fx_json_number(a, "head_tau_norm");
        printf("%s: tau %.2f, P %.2f\n", src, tau, p);
        CHECK(mode == 0 || (tau == 1.0 && p == 0.5));
        log = fx_read_file(logp, NULL);
        CHECK(log && strstr(log, tau > 0.0 ? "post-hoc logit offsets: checkpoint"
                                           : "post-hoc logit offsets: none"));
        CHECK(strstr(log, p > 0.0 ? "post-hoc head tau-norm: checkpoint"
                                  : "post-hoc head tau-norm: none"));
        free(log);
        const char *keys[] = {"accuracy", "macro_f1", "per_class_f1", "confusion_matrix",
                              "prediction_share", "true_share", "ece", "head_tau_norm"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            same_key(a, b, keys[k]);
        CHECK(!strcmp(json_str(a, "logit_offsets_source"), src));
        CHECK(!strcmp(json_str(b, "logit_offsets_source"), tau > 0.0 ? "checkpoint" : "none"));
        CHECK(!strcmp(json_str(a, "head_tau_norm_source"), norm_src));
        CHECK(!strcmp(json_str(b, "head_tau_norm_source"), p > 0.0 ? "checkpoint" : "none"));
        CHECK(mode == 1 ||
              cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a, "val_macro_f1_at_tau_norm")));
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(a, "logit_offsets");
        CHECK(tau > 0.0 ? cJSON_GetArraySize(offs) == 3 : cJSON_IsNull(offs));
        if (tau > 0.0)
            same_key(a, b, "logit_offsets");
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    /* --match_shares: fitted on val, shipped, and the copy reproduces the run */
    {
        char ms_out[4300], ms_fer[4300], ms_again[4300];
        snprintf(ms_out, sizeof ms_out, "%s/eval_shares", dir);
        snprintf(ms_fer, sizeof ms_fer, "%s/shipped_shares.fer", runs);
        snprintf(ms_again, sizeof ms_again, "%s/eval_shipped_shares", dir);
        const char *args[] = {"--model", ckpt, "--data_root", data, "--backend", "ref",
                              "--out", ms_out, "--match_shares", "--write_adjusted", ms_fer,
                              NULL};
        FX_EXPECT_EXIT(run_eval("shares.log", args, logp), 0, logp);
        char *log = fx_read_file(logp, NULL);
        CHECK(log && strstr(log, "post-hoc logit offsets: shares_on_val") &&
              strstr(log, "fitted on val"));
        free(log);
        const char *args2[] = {"--model", ms_fer, "--data_root", data, "--backend", "ref",
                               "--out", ms_again, NULL};
        FX_EXPECT_EXIT(run_eval("shares_shipped.log", args2, logp), 0, logp);
        cJSON *a = metrics_of(ms_out), *b = metrics_of(ms_again);
        const char *keys[] = {"accuracy", "macro_f1", "confusion_matrix", "prediction_share",
                              "logit_offsets"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            same_key(a, b, keys[k]);
        CHECK(!strcmp(json_str(a, "logit_offsets_source"), "shares_on_val"));
        CHECK(!strcmp(json_str(b, "logit_offsets_source"), "checkpoint"));
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a, "val_share_gap_after_matching")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "logit_adjust_tau")));
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    /* --no_adjust: the stored offsets are not applied, and the report says so */
    snprintf(again, sizeof again, "%s/eval_noadjust", dir);
    {
        const char *args[] = {"--model", shipped, "--data_root", data, "--backend", "ref",
                              "--out", again, "--no_adjust", NULL};
        FX_EXPECT_EXIT(run_eval("noadjust.log", args, logp), 0, logp);
    }
    cJSON *b = metrics_of(again);
    CHECK(!strcmp(json_str(b, "logit_offsets_source"), tau > 0.0 ? "disabled" : "none"));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(b, "logit_offsets")));
    cJSON_Delete(b);
    /* misuse: normalising twice, replacing the model, both P flags, tau out of range */
    const char *bad[][4] = {{"--tau_norm", "0.5", NULL, NULL},
                            {"--write_adjusted", shipped, NULL, NULL},
                            {"--tau_norm", "0.5", "--tune_tau_norm", NULL},
                            {"--logit_adjust", "-1", NULL, NULL},
                            {"--match_shares", "--tune_tau", NULL, NULL},
                            {"--match_shares", "--logit_adjust", "0.5", NULL}};
    const int want[] = {1, 1, 2, 2, 2, 2};
    const char *needle[] = {"tau-normalised already", "must not replace", "not both",
                            "--logit_adjust", "use one of", "use one of"};
    for (int i = 0; i < 6; i++) {
        const char *args[12] = {"--model", shipped, "--data_root", data, "--backend", "ref",
                                "--out", again};
        int n = 8;
        for (int k = 0; k < 4 && bad[i][k]; k++)
            args[n++] = bad[i][k];
        args[n] = NULL;
        FX_EXPECT_EXIT(run_eval("bad.log", args, logp), want[i], logp);
        char *log = fx_read_file(logp, NULL);
        CHECK(log && strstr(log, needle[i]), "%s", needle[i]);
        free(log);
    }
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    fer_eval = argv[2];
    char *t = fx_tempdir("fer_test_posthoc");
    snprintf(dir, sizeof dir, "%s", t);
    free(t);
    test_tau_norm();
    test_offsets_checkpoint();
    test_hostile();
    test_write_adjusted();
    test_shares();
    test_fit_shares();
    end_to_end(argv[1]);
    fx_rm_rf(dir);
    printf("posthoc: all checks passed\n");
    return 0;
}
