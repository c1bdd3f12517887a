/* Issue-21 recipe pieces of fer-train:
 * 1. the weight EMA (ema.h) after k updates equals the float recurrence bit for bit and the
 *    closed form d^k e0 + (1 - d^k) w within 1e-6, on ref and cpu; warm-up decays; swapping twice
 *    restores the model bit for bit;
 * 2. end to end with --ema, --ema_warmup, --warmup_epochs and every augmentation: a run
 *    interrupted mid-epoch and resumed ends with the same weights, optimiser state, EMA and
 *    best.fer as the uninterrupted run; the logged LR follows the warm-up; best.fer is the
 *    average (differs from the raw weights);
 * 3. hostile last.fer: an EMA block of the wrong size or with a NaN is refused, one line naming
 *    the file; bad flag values are refused.
 * argv[1]: the fer-train executable. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include "../common/ckpt_craft.h"
#include "ema.h"
#include "fer/checkpoint.h"
#include "fixtures.h"

static const char *fer_train;
static char root[4096], runs[4096], logp[4300];

static fer_model *tiny_model(fer_backend *be)
{
    fer_arch tiny;
    CHECK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &tiny) == FER_OK);
    tiny.n_classes = 3;
    fer_model *m = NULL;
    CHECK(fer_model_new(&tiny, be, 1, &m) == FER_OK);
    CHECK(fer_model_init_pytorch(m, 7) == FER_OK);
    return m;
}

/* every tensor of m, params then buffers in the arenas' order, to host (the EMA's layout) */
static float *arena_copy(fer_model *m, size_t *n_out)
{
    size_t np, nb;
    fer_model_param_arena(m, &np);
    fer_model_buffer_arena(m, &nb);
    float *h = calloc(np + nb + 1, sizeof(float));
    CHECK(h);
    fer_backend *b = fer_model_backend(m);
    CHECK(b->ops->download(b, h, fer_model_param_arena(m, NULL), np * sizeof(float)) == FER_OK);
    if (nb)
        CHECK(b->ops->download(b, h + np, fer_model_buffer_arena(m, NULL), nb * sizeof(float)) ==
              FER_OK);
    *n_out = np + nb;
    return h;
}

static void arena_set(fer_model *m, const float *h)
{
    size_t np, nb;
    fer_model_param_arena(m, &np);
    fer_model_buffer_arena(m, &nb);
    fer_backend *b = fer_model_backend(m);
    CHECK(b->ops->upload(b, fer_model_param_arena(m, NULL), h, np * sizeof(float)) == FER_OK);
    if (nb) CHECK(b->ops->upload(b, fer_model_buffer_arena(m, NULL), h + np, nb * sizeof(float)) == FER_OK);
}

static void ema_math(const char *backend)
{
    fer_backend *be = NULL;
    CHECK(fer_backend_new(backend, 2, &be) == FER_OK);
    fer_model *m = tiny_model(be);
    size_t n;
    float *e0 = arena_copy(m, &n), *w = malloc(n * sizeof(float)), *expect = malloc(n * sizeof(float));
    CHECK(w && expect && n > 100);
    const double decay = 0.9;
    fer_ema *ema = NULL;
    CHECK(fer_ema_new(m, decay, 0, &ema) == FER_OK);
    CHECK(fer_ema_floats(ema) == n);
    /* constant w for k updates: the float recurrence exactly, the closed form closely */
    for (size_t i = 0; i < n; i++) w[i] = (float)(0.5 * sin(0.37 * (double)i)) + 0.25f;
    arena_set(m, w);
    memcpy(expect, e0, n * sizeof(float));
    const float df = (float)decay, one_minus = (float)(1.0 - decay);
    const int k = 20;
    for (int step = 0; step < k; step++) {
        CHECK(fer_ema_update(ema, m, step) == FER_OK);
        for (size_t i = 0; i < n; i++) {
            volatile float a = df * expect[i], b = one_minus * w[i]; /* no fused multiply-add */
            expect[i] = a + b;
        }
    }
    float *got = malloc(n * sizeof(float));
    CHECK(got && fer_ema_get_host(ema, got) == FER_OK);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(got[i] == expect[i]);
        double dk = pow(decay, k), closed = dk * e0[i] + (1 - dk) * w[i];
        worst = fmax(worst, fabs(got[i] - closed));
    }
    printf("%s: EMA after %d updates: bit-exact recurrence, max |ema - closed form| %.2e\n",
           backend, k, worst);
    CHECK(worst < 1e-6); /* 20 float roundings of values below 2 */
    /* swap: the model holds the average, the average the weights; twice: as before */
    CHECK(fer_ema_swap(ema, m) == FER_OK);
    float *mine = arena_copy(m, &n);
    CHECK(!memcmp(mine, got, n * sizeof(float)));
    free(mine);
    CHECK(fer_ema_swap(ema, m) == FER_OK);
    mine = arena_copy(m, &n);
    CHECK(!memcmp(mine, w, n * sizeof(float)));
    free(mine);
    /* set/get round trip */
    CHECK(fer_ema_set_host(ema, e0) == FER_OK && fer_ema_get_host(ema, got) == FER_OK);
    CHECK(!memcmp(got, e0, n * sizeof(float)));
    fer_ema_free(ema);
    /* warm-up: min(decay, (1 + k) / (10 + k)) */
    CHECK(fer_ema_new(m, 0.999, 1, &ema) == FER_OK);
    CHECK(fer_ema_decay_at(ema, 0) == 0.1 && fabs(fer_ema_decay_at(ema, 90) - 0.91) < 1e-15);
    CHECK(fer_ema_decay_at(ema, 100000) == 0.999);
    fer_ema_free(ema);
    free(e0), free(w), free(expect), free(got);
    fer_model_free(m);
    fer_backend_free(be);
}

/* ---- end to end ------------------------------------------------------------------------- */

static int train(const char *exp, const char *epochs, const char *a1, const char *a2)
{
    const char *fixed[] = {fer_train, "--data_root", root, "--runs_dir", runs, "--exp", exp,
                           "--arch", "tiny", "--backend", "ref", "--threads", "2",
                           "--batch_size", "32", "--lr", "3e-3", "--progress", "plain",
                           "--ema", "0.9", "--ema_warmup", "--warmup_epochs", "2",
                           "--random_erasing", "0.5", "--aug_frame_jitter", "0.5",
                           "--aug_blur", "0.5", "--aug_jpeg", "0.5", "--aug_photometric", "0.5",
                           "--aug_rotate_max", "10", "--aug_rrc", "0.5", "--aug_rrc_scale", "0.5"};
    return fx_train(fixed, sizeof fixed / sizeof *fixed, epochs, a1, a2, runs, exp, logp,
                    sizeof logp);
}

#define EXPECT_EXIT(call, code) FX_EXPECT_EXIT(call, code, logp)

static void run_path(char *out, size_t cap, const char *exp, const char *name)
{
    snprintf(out, cap, "%s/%s/%s", runs, exp, name);
}

/* the EMA block of exp's last.fer (host floats) and the model it was read for */
static float *stored_ema(const char *exp, fer_backend *be, fer_model **m_out, size_t *n)
{
    char p[4500];
    run_path(p, sizeof p, exp, "last.fer");
    CHECK(fer_checkpoint_load(p, be, 1, m_out, NULL) == FER_OK);
    float *h = NULL;
    CHECK(fer_checkpoint_load_ema(p, *m_out, &h) == FER_OK && h);
    size_t np, nb;
    fer_model_param_arena(*m_out, &np);
    fer_model_buffer_arena(*m_out, &nb);
    *n = np + nb;
    return h;
}

static void end_to_end(void)
{
    EXPECT_EXIT(train("straight", "3", NULL, NULL), 0);
    EXPECT_EXIT(train("cut", "3", "--interrupt_after", "4"), 130);
    char path[4500];
    run_path(path, sizeof path, "cut", "last.fer");
    EXPECT_EXIT(train("cut", NULL, "--resume", path), 0);
    char a[4500], b[4500];
    run_path(a, sizeof a, "straight", "last.fer");
    run_path(b, sizeof b, "cut", "last.fer");
    fx_same_training_state(a, b);
    fx_same_test_metrics(runs, "straight", "cut");
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    fer_model *ma, *mb;
    size_t na, nb;
    float *ea = stored_ema("straight", be, &ma, &na), *eb = stored_ema("cut", be, &mb, &nb);
    CHECK(na == nb && !memcmp(ea, eb, na * sizeof(float)));
    /* best.fer holds the average: same in both runs, not the raw weights */
    fer_model *best_a, *best_b;
    fer_checkpoint_meta meta;
    run_path(a, sizeof a, "straight", "best.fer");
    run_path(b, sizeof b, "cut", "best.fer");
    CHECK(fer_checkpoint_load(a, be, 1, &best_a, &meta) == FER_OK);
    fer_checkpoint_meta_clear(&meta);
    CHECK(fer_checkpoint_load(b, be, 1, &best_b, NULL) == FER_OK);
    size_t n1, n2, nraw;
    float *wa = arena_copy(best_a, &n1), *wb = arena_copy(best_b, &n2), *raw = arena_copy(ma, &nraw);
    CHECK(n1 == n2 && n1 == na && !memcmp(wa, wb, n1 * sizeof(float)));
    CHECK(memcmp(wa, raw, n1 * sizeof(float)) != 0);
    float *h = NULL;
    CHECK(fer_checkpoint_load_ema(a, best_a, &h) == FER_OK && !h); /* best.fer: no EMA block */
    /* when the last epoch was the best, best.fer is exactly last.fer's average */
    cJSON *state = NULL;
    fer_arch arch;
    run_path(a, sizeof a, "straight", "last.fer");
    CHECK(fer_checkpoint_read_header(a, &arch, &meta) == FER_OK);
    state = cJSON_Parse(meta.state_json);
    if (fx_json_number(state, "best_epoch") == 3) CHECK(!memcmp(wa, ea, na * sizeof(float)));
    cJSON_Delete(state);
    fer_checkpoint_meta_clear(&meta);
    free(wa), free(wb), free(raw), free(ea), free(eb);
    fer_model_free(best_a), fer_model_free(best_b), fer_model_free(ma), fer_model_free(mb);
    fer_backend_free(be);
    /* warm-up over 2 epochs of 3 batches, logged LR = the epoch's last batch: lr/2, lr; then
     * cosine over the 1 remaining epoch starts at lr */
    run_path(a, sizeof a, "straight", "history.jsonl");
    char *hist = fx_read_file(a, NULL);
    CHECK(hist);
    const double want[3] = {1.5e-3, 3e-3, 3e-3};
    char *line = hist;
    for (int e = 0; e < 3; e++) {
        cJSON *row = cJSON_Parse(line);
        CHECK(row);
        double lr = fx_json_number(row, "lr");
        CHECK(fabs(lr - want[e]) < 1e-9);
        cJSON_Delete(row);
        line = strchr(line, '\n');
        CHECK(line);
        line++;
    }
    free(hist);
    /* the settings travel in config.json */
    run_path(a, sizeof a, "straight", "config.json");
    cJSON *cfg = fx_load_json(a);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(cfg, "settings");
    CHECK(fx_json_number(settings, "ema") == 0.9 && fx_json_number(settings, "warmup_epochs") == 2);
    CHECK(fx_json_number(settings, "aug_jpeg") == 0.5 && fx_json_number(settings, "aug_rotate_max") == 10);
    cJSON_Delete(cfg);
}

/* ---- hostile EMA blocks and flags -------------------------------------------------------- */

static void expect_refused(const char *crafted, const char *needle)
{
    EXPECT_EXIT(train("hostile", NULL, "--resume", crafted), 1);
    char *log = fx_read_file(logp, NULL);
    CHECK(log);
    const char *hit = strstr(log, needle);
    if (!hit || !strstr(log, crafted)) {
        fprintf(stderr, "expected \"%s\" naming %s in:\n%s\n", needle, crafted, log);
        exit(1);
    }
    /* one line: the message ends at the next newline, which ends the log */
    const char *nl = strchr(hit, '\n');
    CHECK(nl && nl[1] == 0);
    free(log);
}

static void hostile(void)
{
    char last[4500], bad[4500];
    run_path(last, sizeof last, "straight", "last.fer");
    /* wrong size */
    craft_ckpt c;
    CHECK(craft_read(last, &c) == 0);
    cJSON *ema = cJSON_GetObjectItemCaseSensitive(c.hdr, "ema");
    CHECK(ema);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(ema, "param_floats"),
                         fx_json_number(ema, "param_floats") + 1);
    snprintf(bad, sizeof bad, "%s/straight/ema_size.fer", runs); /* beside best.fer */
    CHECK(craft_write(bad, &c, 0) == 0);
    expect_refused(bad, "the EMA holds");
    craft_free(&c);
    /* block of another length */
    CHECK(craft_read(last, &c) == 0);
    ema = cJSON_GetObjectItemCaseSensitive(c.hdr, "ema");
    cJSON *block = cJSON_GetObjectItemCaseSensitive(ema, "block");
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(block, "numel"),
                         fx_json_number(block, "numel") - 1);
    snprintf(bad, sizeof bad, "%s/straight/ema_numel.fer", runs); /* beside best.fer */
    CHECK(craft_write(bad, &c, 0) == 0);
    expect_refused(bad, "EMA has");
    craft_free(&c);
    /* a NaN in the average */
    CHECK(craft_read(last, &c) == 0);
    ema = cJSON_GetObjectItemCaseSensitive(c.hdr, "ema");
    block = cJSON_GetObjectItemCaseSensitive(ema, "block");
    size_t off = (size_t)fx_json_number(block, "offset");
    const unsigned char nan_le[4] = {0x00, 0x00, 0xc0, 0x7f};
    memcpy(c.payload + off + 4 * 3, nan_le, 4);
    snprintf(bad, sizeof bad, "%s/straight/ema_nan.fer", runs); /* beside best.fer */
    CHECK(craft_write(bad, &c, 0) == 0);
    expect_refused(bad, "is not a sane value");
    craft_free(&c);
    /* flags out of range: usage errors (exit 2) naming the flag */
    const char *flags[][2] = {{"--ema", "1"}, {"--ema", "-0.1"}, {"--random_erasing", "1.5"},
                              {"--aug_blur", "-1"}, {"--aug_rotate_max", "200"},
                              {"--aug_rrc", "1.5"}, {"--aug_rrc_scale", "0"},
                              {"--aug_rrc_scale", "1.2"},
                              {"--warmup_epochs", "9"}};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        EXPECT_EXIT(train("flags", "3", flags[i][0], flags[i][1]), 2);
        char *log = fx_read_file(logp, NULL);
        CHECK(log && strstr(log, flags[i][0]));
        free(log);
    }
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    fer_train = argv[1];
    ema_math("ref");
    ema_math("cpu");
    char *dir = fx_tempdir("recipe");
    snprintf(root, sizeof root, "%s/data", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    fx_mkdir(runs);
    static const char *const names[3] = {"calm", "happy", "sad"};
    static const int ids[3] = {0, 1, 2};
    fx_dataset_spec spec = {3, names, ids, 30, 10, 10}; /* 90 training images: 3 batches */
    fx_make_dataset(root, NULL, &spec);
    end_to_end();
    hostile();
    fx_rm_rf(dir);
    free(dir);
    printf("test_recipe: ok\n");
    return 0;
}
