/* fer-train --crt, classifier re-training on frozen features:
 * 1. fer_model_freeze_features on ref and cpu: Adam with weight decay and gradient clipping for
 *    several steps leaves every non-head parameter and every batch-norm statistic bit for bit
 *    as it was, the frozen gradients read 0, the head moves, and a frozen TRAIN forward gives
 *    the EVAL logits exactly; unfrozen, the same steps do move the features (the check can fail);
 * 2. end to end: cRT from a trained best.fer: every layers.* tensor of the cRT run's last.fer
 *    and best.fer equals the source's bit for bit, the head differs; the settings record crt
 *    and the balanced sampler;
 * 3. a cRT run interrupted mid-epoch and resumed ends exactly as the uninterrupted one;
 * 4. refused: --crt without --resume, without --exp, into the source's own folder, with --ema;
 * 5. from a source trained with --ema: the inherited EMA is dropped with a note, and cRT runs.
 * argv[1]: the fer-train executable. */
#include <cjson/cJSON.h>
#include <string.h>

#include "fer/checkpoint.h"
#include "fer/optim.h"
#include "fixtures.h"

static const char *fer_train;
static char root[4096], runs[4096], logp[4300];

/* every tensor of m to host, params then buffers, in table order */
static float *all_tensors(fer_model *m, size_t *n_out, size_t *head_at)
{
    size_t total = 0;
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        CHECK(fer_model_tensor_info(m, t, &ti) == FER_OK);
        total += ti.numel;
    }
    float *h = malloc(total * sizeof(float));
    CHECK(h);
    size_t at = 0;
    *head_at = 0;
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        CHECK(fer_model_tensor_info(m, t, &ti) == FER_OK);
        if (!strcmp(ti.name, "head.weight"))
            *head_at = at;
        CHECK(fer_model_get_tensor(m, ti.name, h + at, ti.numel) == FER_OK);
        at += ti.numel;
    }
    *n_out = total;
    return h;
}

static void frozen_steps(const char *backend)
{
    fer_backend *be = NULL;
    CHECK(fer_backend_new(backend, 2, &be) == FER_OK);
    fer_arch tiny;
    CHECK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &tiny) == FER_OK);
    tiny.n_classes = 3;
    enum { N = 6 };
    for (int frozen = 1; frozen >= 0; frozen--) {
        fer_model *m = NULL;
        CHECK(fer_model_new(&tiny, be, N, &m) == FER_OK);
        CHECK(fer_model_init_pytorch(m, 5) == FER_OK);
        CHECK(fer_model_freeze_features(m, frozen) == FER_OK);
        CHECK(fer_model_features_frozen(m) == frozen);
        fer_optim_config cfg;
        fer_optim_config_default(FER_OPTIM_ADAM, 1e-2f, &cfg);
        cfg.weight_decay = 0.1f; /* would move every weight, gradient or not */
        fer_optimizer *opt = NULL;
        CHECK(fer_optimizer_new(m, &cfg, &opt) == FER_OK);
        size_t n, head_at;
        float *before = all_tensors(m, &n, &head_at);
        CHECK(head_at > 0 && head_at < n);
        float x[N * 48 * 48], eval_logits[N * 3], train_logits[N * 3];
        int32_t labels[N];
        for (int i = 0; i < N * 48 * 48; i++)
            x[i] = (float)(0.8 * sin(0.013 * i));
        for (int i = 0; i < N; i++)
            labels[i] = i % 3;
        fer_loss_config loss = {.kind = FER_LOSS_CE};
        for (int step = 0; step < 3; step++) {
            CHECK(fer_model_forward(m, x, N, FER_MODE_EVAL, NULL, 0, eval_logits) == FER_OK);
            CHECK(fer_model_forward(m, x, N, FER_MODE_TRAIN, labels, 99 + step, train_logits) ==
                  FER_OK);
            if (frozen) /* the features as in evaluation: no dropout, running statistics */
                CHECK(!memcmp(eval_logits, train_logits, sizeof eval_logits));
            float value;
            CHECK(fer_model_loss(m, &loss, labels, &value) == FER_OK);
            CHECK(fer_model_backward(m) == FER_OK);
            CHECK(fer_model_clip_grad_norm(m, 0.5f, NULL) == FER_OK);
            CHECK(fer_optimizer_step(opt, 1e-2f) == FER_OK);
        }
        float g[8 * 9];
        CHECK(fer_model_get_grad(m, "layers.0.weight", g, 8 * 9) == FER_OK);
        size_t n2, head_at2;
        float *after = all_tensors(m, &n2, &head_at2);
        CHECK(n2 == n && head_at2 == head_at);
        int features_same = !memcmp(before, after, head_at * sizeof(float));
        int head_same = !memcmp(before + head_at, after + head_at, (n - head_at) * sizeof(float));
        CHECK(!head_same);
        if (frozen) {
            CHECK(features_same, "%s: a frozen feature tensor changed", backend);
            for (int i = 0; i < 8 * 9; i++)
                CHECK(g[i] == 0.0f);
        } else {
            CHECK(!features_same, "%s: unfrozen training left the features alone", backend);
        }
        free(before);
        free(after);
        fer_optimizer_free(opt);
        fer_model_free(m);
    }
    fer_backend_free(be);
}

/* ---- end to end ------------------------------------------------------------------------- */

static int train(const char *exp, const char *epochs, const char *a1, const char *a2)
{
    const char *fixed[] = {fer_train, "--data_root", root, "--runs_dir", runs, "--exp", exp,
                           "--arch", "tiny", "--backend", "ref", "--threads", "2",
                           "--batch_size", "32", "--lr", "3e-3", "--progress", "plain"};
    return fx_train(fixed, sizeof fixed / sizeof *fixed, epochs, a1, a2, runs, exp, logp,
                    sizeof logp);
}

/* fer-train --crt --resume RESUME --epochs 2 [--exp EXP] [extra...] */
static int crt(const char *exp, const char *resume, const char *extra1, const char *extra2)
{
    const char *argv[40] = {fer_train, "--data_root", root, "--runs_dir", runs, "--arch", "tiny",
                            "--backend", "ref", "--threads", "2", "--batch_size", "32",
                            "--progress", "plain", "--crt", "--epochs", "2", "--lr", "1e-2"};
    int n = 20;
    if (resume) {
        argv[n++] = "--resume";
        argv[n++] = resume;
    }
    if (exp) {
        argv[n++] = "--exp";
        argv[n++] = exp;
    }
    if (extra1)
        argv[n++] = extra1;
    if (extra2)
        argv[n++] = extra2;
    argv[n] = NULL;
    snprintf(logp, sizeof logp, "%s/%s.log", runs, exp ? exp : "noexp");
    return fx_run((char *const *)argv, logp);
}

#define EXPECT_EXIT(call, code) FX_EXPECT_EXIT(call, code, logp)

static void log_has(const char *needle)
{
    char *log = fx_read_file(logp, NULL);
    if (!log || !strstr(log, needle)) {
        fprintf(stderr, "expected \"%s\" in %s:\n%s\n", needle, logp, log ? log : "");
        exit(1);
    }
    free(log);
}

static void compare_to_source(const char *source, const char *crt_ckpt)
{
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    fer_model *a = NULL, *b = NULL;
    CHECK(fer_checkpoint_load(source, be, 1, &a, NULL) == FER_OK);
    CHECK(fer_checkpoint_load(crt_ckpt, be, 1, &b, NULL) == FER_OK);
    int head_differs = 0;
    for (int t = 0; t < fer_model_n_tensors(a); t++) {
        fer_tensor_info ti;
        CHECK(fer_model_tensor_info(a, t, &ti) == FER_OK);
        float *va = malloc(ti.numel * sizeof(float)), *vb = malloc(ti.numel * sizeof(float));
        CHECK(va && vb);
        CHECK(fer_model_get_tensor(a, ti.name, va, ti.numel) == FER_OK);
        CHECK(fer_model_get_tensor(b, ti.name, vb, ti.numel) == FER_OK);
        int same = !memcmp(va, vb, ti.numel * sizeof(float));
        if (!strncmp(ti.name, "head.", 5))
            head_differs |= !same;
        else
            CHECK(same, "%s: %s changed during cRT", crt_ckpt, ti.name);
        free(va);
        free(vb);
    }
    CHECK(head_differs, "%s: the head did not train", crt_ckpt);
    fer_model_free(a);
    fer_model_free(b);
    fer_backend_free(be);
}

static void end_to_end(void)
{
    EXPECT_EXIT(train("base", "2", NULL, NULL), 0);
    char source[4300], last[4300], best[4300];
    snprintf(source, sizeof source, "%s/base/best.fer", runs);
    EXPECT_EXIT(crt("crt", source, NULL, NULL), 0);
    log_has("cRT: the features of");
    log_has("balanced sampler");
    log_has("val predicted share (true):");
    snprintf(last, sizeof last, "%s/crt/last.fer", runs);
    snprintf(best, sizeof best, "%s/crt/best.fer", runs);
    compare_to_source(source, last);
    compare_to_source(source, best);
    char cfg_path[4300];
    snprintf(cfg_path, sizeof cfg_path, "%s/crt/config.json", runs);
    cJSON *cfg = fx_load_json(cfg_path);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(cfg, "settings");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(settings, "crt")));
    const cJSON *sampler = cJSON_GetObjectItemCaseSensitive(settings, "sampler");
    CHECK(cJSON_IsString(sampler) && !strcmp(sampler->valuestring, "balanced"));
    cJSON_Delete(cfg);
    /* from base's last.fer (optimiser and trainer state of a normal run): a fresh cRT start */
    char base_last[4300];
    snprintf(base_last, sizeof base_last, "%s/base/last.fer", runs);
    EXPECT_EXIT(crt("crt_from_last", base_last, "--crt_head", "keep"), 0);
    log_has("the head (as in the checkpoint)");

    /* interrupted mid-epoch (3 batches per epoch) and resumed: exactly the straight run */
    EXPECT_EXIT(crt("crt_cut", source, "--interrupt_after", "4"), 130);
    char cut[4300];
    snprintf(cut, sizeof cut, "%s/crt_cut/last.fer", runs);
    const char *resume_argv[] = {fer_train, "--data_root", root, "--resume", cut, "--progress",
                                 "plain", NULL};
    snprintf(logp, sizeof logp, "%s/crt_cut_resume.log", runs);
    EXPECT_EXIT(fx_run((char *const *)resume_argv, logp), 0);
    log_has("resuming");
    fx_same_training_state(last, cut);
    fx_same_test_metrics(runs, "crt", "crt_cut");
    compare_to_source(source, cut);
}

static void refused(void)
{
    char source[4300];
    snprintf(source, sizeof source, "%s/base/best.fer", runs);
    EXPECT_EXIT(crt("nores", NULL, NULL, NULL), 2);
    log_has("--crt: needs --resume");
    EXPECT_EXIT(crt(NULL, source, NULL, NULL), 2);
    log_has("--crt: name the re-training run with --exp");
    EXPECT_EXIT(crt("base", source, NULL, NULL), 2);
    log_has("is the folder of");
    EXPECT_EXIT(crt("ema", source, "--ema", "0.9"), 2);
    log_has("--ema is not supported");
}

/* A source trained with --ema: cRT from its best.fer drops the inherited EMA with a note and
 * trains (the setting is recorded off), instead of refusing a flag the user never gave. */
static void ema_source(void)
{
    EXPECT_EXIT(train("base_ema", "1", "--ema", "0.99"), 0);
    char source[4300];
    snprintf(source, sizeof source, "%s/base_ema/best.fer", runs);
    EXPECT_EXIT(crt("crt_ema", source, NULL, NULL), 0);
    log_has("cRT: not using the --ema 0.99 of");
    char cfg_path[4300];
    snprintf(cfg_path, sizeof cfg_path, "%s/crt_ema/config.json", runs);
    cJSON *cfg = fx_load_json(cfg_path);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(cfg, "settings");
    const cJSON *ema = cJSON_GetObjectItemCaseSensitive(settings, "ema");
    CHECK(cJSON_IsNumber(ema) && ema->valuedouble == 0.0, "%s: ema not recorded as 0", cfg_path);
    cJSON_Delete(cfg);
    char best[4300];
    snprintf(best, sizeof best, "%s/crt_ema/best.fer", runs);
    compare_to_source(source, best);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    fer_train = argv[1];
    frozen_steps("ref");
    frozen_steps("cpu");
    char *dir = fx_tempdir("crt");
    snprintf(root, sizeof root, "%s/data", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    fx_mkdir(runs);
    static const char *const names[3] = {"calm", "happy", "sad"};
    static const int ids[3] = {0, 1, 2};
    fx_dataset_spec spec = {3, names, ids, 30, 10, 10}; /* 90 training images: 3 batches */
    fx_make_dataset(root, NULL, &spec);
    end_to_end();
    refused();
    ema_source();
    fx_rm_rf(dir);
    free(dir);
    printf("test_crt: ok\n");
    return 0;
}
