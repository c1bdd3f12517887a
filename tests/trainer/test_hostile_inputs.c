/* Issue 18: inputs crafted as an attacker would, for fer-train and libferdata. Each case gets a
 * clear one-line error naming the file (or the correct behaviour), never a crash, hang or a
 * silently odd result:
 *   item 4  a checkpoint's stored runs_dir/exp never choose where fer-train writes; --exp is a
 *           plain name; stale temporary files of a killed run are removed;
 *   item 7  absurd numbers in the trainer state, config and history are refused before any
 *           conversion, and a resumed state must fit the run;
 *   item 8  FIFOs and devices in a class folder or as --config do not block; symlink loops in a
 *           class folder end; a PNG header declaring 100000x100000 is refused before allocating;
 *   item 9  CSV rows must be 48x48 unless csv_any_size; a UTF-8 BOM before the header is fine.
 * argv[1]: the fer-train executable; argv[2] (optional): run only that part (walk, csv, state,
 * config, history, cli). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fer/checkpoint.h"
#include "fer/dataset.h"
#include "fixtures.h"
#include "options.h"
#include "run_files.h"
#include "train_state.h"

static const char *const names[3] = {"a", "b", "c"};
static const int ids[3] = {0, 1, 2};
static char fer_train[PATH_MAX], dir[4096];

/* fer_last_error() of a failed call contains every needle and is one line. */
static void expect_error(fer_status s, const char *what, const char *needle1, const char *needle2)
{
    const char *msg = fer_last_error();
    if (s == FER_OK || !strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)) ||
        strchr(msg, '\n')) {
        fprintf(stderr, "%s: status %d, message \"%s\" (wanted \"%s\" and \"%s\")\n", what, s, msg,
                needle1, needle2 ? needle2 : "");
        exit(1);
    }
}

static int skipped;
static void count_skip(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
    skipped++;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* ---- item 8: FIFOs, devices, symlink loops, hostile PNG headers ---------------------------- */

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* A well-formed PNG signature + IHDR (valid CRC) declaring w x h 8-bit gray, then an empty IDAT
 * and IEND. */
static void write_png_header(const char *path, uint32_t w, uint32_t h)
{
    uint8_t b[8 + 25 + 12 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *ihdr = b + 8;
    put32(ihdr, 13);
    memcpy(ihdr + 4, "IHDR", 4);
    put32(ihdr + 8, w);
    put32(ihdr + 12, h);
    ihdr[16] = 8; /* bit depth; colour type 0 (gray), compression, filter, interlace 0 */
    put32(ihdr + 21, crc32_png(ihdr + 4, 17));
    uint8_t *idat = b + 33;
    memcpy(idat + 4, "IDAT", 4);
    put32(idat + 8, crc32_png(idat + 4, 4));
    uint8_t *iend = b + 45;
    memcpy(iend + 4, "IEND", 4);
    put32(iend + 8, crc32_png(iend + 4, 4));
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b, 1, sizeof b, f) == sizeof b);
    fclose(f);
}

static void folder_walk(void)
{
    char root[4300], p[4400], q[4400];
    snprintf(root, sizeof root, "%s/f", dir);
    fx_dataset_spec spec = {3, names, ids, 2, 1, 1};
    fx_make_dataset(root, NULL, &spec);
    fer_dataset *d = NULL;
    fer_load_options skip = {.skip_bad = 1, .on_skip = count_skip};

    /* a FIFO among the images: refused at once (nobody ever writes to it), with --skip_bad
     * skipped and counted like any bad file */
    snprintf(p, sizeof p, "%s/train/a/pipe.png", root);
    CHECK(mkfifo(p, 0600) == 0);
    expect_error(fer_dataset_load(root, "train", NULL, &d), "FIFO", "pipe.png",
                 "not a regular file (a FIFO)");
    skipped = 0;
    CHECK(fer_dataset_load(root, "train", &skip, &d) == FER_OK);
    CHECK(d->n == 6 && d->n_skipped == 1 && skipped == 1);
    fer_dataset_free(d);
    remove(p);
    /* a device (through a symlink) */
    snprintf(p, sizeof p, "%s/train/b/null.png", root);
    CHECK(symlink("/dev/null", p) == 0);
    expect_error(fer_dataset_load(root, "train", NULL, &d), "device", "null.png",
                 "not a regular file");
    remove(p);

    /* symlink loops: two links to "." and one to the class folder's parent's copy of it; a
     * second link to a subfolder. Each folder is walked once: no hang, no image twice. */
    snprintf(p, sizeof p, "%s/train/b/loop1", root);
    CHECK(symlink(".", p) == 0);
    snprintf(p, sizeof p, "%s/train/b/loop2", root);
    CHECK(symlink(".", p) == 0);
    snprintf(p, sizeof p, "%s/train/b/sub", root);
    fx_mkdir(p);
    snprintf(q, sizeof q, "%s/train/b/sub/up", root);
    CHECK(symlink("..", q) == 0);
    snprintf(q, sizeof q, "%s/train/a/00000.png", root);
    char *png = fx_read_file(q, NULL);
    CHECK(png);
    free(png);
    snprintf(q, sizeof q, "%s/train/b/sub/extra.png", root);
    uint8_t face[48 * 48];
    fx_face(0, 1, 3, face);
    fx_write_gray48(q, face);
    snprintf(q, sizeof q, "%s/train/b/sub_again", root);
    CHECK(symlink("sub", q) == 0);
    CHECK(fer_dataset_load(root, "train", NULL, &d) == FER_OK);
    CHECK(d->n == 7); /* 2 + 2 + 2, plus sub/extra.png once */
    CHECK(d->class_counts[1] == 3);
    fer_dataset_free(d);

    /* PNG headers: 100000x100000 is refused from the header, before any allocation; so is a
     * file larger than any image */
    snprintf(p, sizeof p, "%s/train/c/huge.png", root);
    write_png_header(p, 100000, 100000);
    expect_error(fer_dataset_load(root, "train", NULL, &d), "huge header", "huge.png",
                 "image is 100000x100000, at most 4096x4096");
    write_png_header(p, 0x7fffffffu, 0x7fffffffu);
    expect_error(fer_dataset_load(root, "train", NULL, &d), "2^31 header", "huge.png",
                 "at most 4096x4096");
    int fd = open(p, O_WRONLY);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)65 << 20) == 0); /* sparse: costs no disk */
    close(fd);
    expect_error(fer_dataset_load(root, "train", NULL, &d), "large file", "huge.png",
                 "larger than any image");
    remove(p);
}

/* ---- item 9: CSV row sizes and the BOM ------------------------------------------------------ */

static void csv_rows(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/rows.csv", dir);
    static char text[1 << 21];
    char *q = text;
    q += sprintf(q, "emotion,pixels,Usage\n0,");
    for (int i = 0; i < 47 * 47; i++) q += sprintf(q, i ? " %d" : "%d", i % 256);
    q += sprintf(q, ",Training\n3,7,Training\n");
    fx_write_text(path, text);
    fer_dataset *d = NULL;
    expect_error(fer_dataset_load(path, "train", NULL, &d), "47x47 row", "rows.csv: line 2 (row 0)",
                 "2209 pixels, expected 48x48 = 2304 (--csv_any_size");
    skipped = 0;
    fer_load_options skip = {.skip_bad = 1, .on_skip = count_skip};
    CHECK(fer_dataset_load(path, "train", &skip, &d) == FER_ERR_FORMAT); /* both rows bad */
    CHECK(skipped == 2 && strstr(fer_last_error(), "no rows"));
    fer_load_options any = {.csv_any_size = 1};
    CHECK(fer_dataset_load(path, "train", &any, &d) == FER_OK);
    CHECK(d->n == 2 && d->h == 48 && d->w == 48); /* resized, as before the flag existed */
    fer_dataset_free(d);
    /* a 1-pixel row alone */
    fx_write_text(path, "emotion,pixels,Usage\n3,7,Training\n");
    expect_error(fer_dataset_load(path, "train", NULL, &d), "1-pixel row", "line 2 (row 0)",
                 "1 pixels, expected 48x48");

    /* a UTF-8 BOM before the header (spreadsheet exports write one) */
    q = text;
    q += sprintf(q, "\xef\xbb\xbf" "emotion,pixels,Usage\r\n5,");
    for (int i = 0; i < 48 * 48; i++) q += sprintf(q, i ? " %d" : "%d", (3 * i) % 256);
    sprintf(q, ",Training\r\n");
    fx_write_text(path, text);
    CHECK(fer_dataset_load(path, "train", NULL, &d) == FER_OK);
    CHECK(d->n == 1 && d->labels[0] == 6 && d->pixels[1] == 3); /* 5 surprise -> index 6 */
    fer_dataset_free(d);

    /* a line longer than any valid row is refused, not buffered whole */
    q = text;
    q += sprintf(q, "emotion,pixels,Usage\n0,");
    memset(q, '1', (size_t)(sizeof text - 64 - (size_t)(q - text)));
    q[sizeof text - 64 - (size_t)(q - text)] = 0;
    fx_write_text(path, text);
    expect_error(fer_dataset_load(path, "train", NULL, &d), "long line", "rows.csv: line 2",
                 "longer than");
}

/* ---- item 7: absurd numbers ----------------------------------------------------------------- */

static const char *good_state =
    "{\"epoch\": 2, \"batch\": 1, \"epoch_loss_sum\": 3.5, \"epoch_correct\": 10,"
    " \"epoch_seen\": 32, \"epoch_seconds\": 0.25, \"best_metric\": 0.5, \"best_epoch\": 2,"
    " \"total_epochs\": 3, \"optimizer_steps\": 7, \"rng\": {\"seed\": 42},"
    " \"schedule\": {\"kind\": 1, \"plateau_lr\": 0.001, \"plateau_best\": null,"
    " \"plateau_bad_epochs\": 0}}";

/* good_state with "key": value replaced (key may be "rng.seed" / "schedule.kind"). */
static char *state_with(const char *key, const char *value)
{
    cJSON *o = cJSON_Parse(good_state);
    CHECK(o);
    cJSON *parent = o;
    const char *dot = strchr(key, '.');
    if (dot) {
        char head[32];
        snprintf(head, sizeof head, "%.*s", (int)(dot - key), key);
        parent = cJSON_GetObjectItemCaseSensitive(o, head);
        key = dot + 1;
    }
    cJSON *v = cJSON_CreateRaw(value);
    CHECK(v && cJSON_ReplaceItemInObjectCaseSensitive(parent, key, v));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void trainer_state(void)
{
    fer_train_state st;
    fer_train_state_init(&st, 42, 3);
    CHECK(fer_train_state_from_json(good_state, "x.fer", &st) == FER_OK);
    CHECK(st.epoch == 2 && st.batch == 1 && st.seen == 32 && st.optimizer_steps == 7 &&
          st.schedule.kind == FER_SCHED_COSINE && isinf(st.schedule.plateau_best));
    static const struct {
        const char *key, *value, *needle;
    } bad[] = {
        {"epoch", "-5", "\"epoch\" = -5 is out of range"},
        {"epoch", "1e300", "\"epoch\" = 1.0000000000000001e+300 is out of range"},
        {"batch", "1e10", "\"batch\" = 10000000000 is out of range"},
        {"batch", "-7", "\"batch\" = -7 is out of range"},
        {"batch", "1.5", "\"batch\" must be an integer"},
        {"schedule.kind", "77", "\"schedule.kind\" = 77 is out of range [0, 3]"},
        {"optimizer_steps", "1e300", "\"optimizer_steps\" = 1.0000000000000001e+300"},
        {"best_epoch", "1e300", "\"best_epoch\""},
        {"best_epoch", "0", "\"best_epoch\" must be -1 (none yet) or >= 1"},
        {"best_metric", "1e300", "\"best_metric\""},
        {"epoch_correct", "33", "\"epoch_correct\" 33 exceeds \"epoch_seen\" 32"},
        {"epoch_seen", "-1", "\"epoch_seen\" = -1"},
        {"epoch_loss_sum", "1e999", "\"epoch_loss_sum\" = inf"},
        {"epoch_seconds", "-3", "\"epoch_seconds\" = -3"},
        {"rng.seed", "1e300", "\"rng.seed\""},
        {"schedule.plateau_lr", "1e300", "\"schedule.plateau_lr\""}, /* beyond float */
        {"schedule.plateau_best", "-1e39", "\"schedule.plateau_best\""},
        {"schedule.plateau_bad_epochs", "-2", "\"schedule.plateau_bad_epochs\" = -2"},
        {"total_epochs", "\"ten\"", "\"total_epochs\" must be an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *json = state_with(bad[i].key, bad[i].value);
        fer_train_state_init(&st, 42, 3);
        expect_error(fer_train_state_from_json(json, "x.fer", &st), json, "x.fer: trainer state: ",
                     bad[i].needle);
        CHECK(st.epoch == 0 && st.best_epoch == -1); /* untouched on failure */
        free(json);
    }
    expect_error(fer_train_state_from_json("{\"epoch\": 1}", "x.fer", &st), "no rng", "x.fer",
                 "\"rng\" and \"schedule\" must be objects");
    expect_error(fer_train_state_from_json("[1]", "x.fer", &st), "array", "x.fer",
                 "not a JSON object");
}

static void config_numbers(void)
{
    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"epochs\": 1e300}", "\"epochs\" = 1.0000000000000001e+300 is out of range"},
        {"{\"batch_size\": 2.5}", "\"batch_size\" must be an integer"},
        {"{\"seed\": -1e300}", "\"seed\" = -1.0000000000000001e+300 is out of range"},
        {"{\"lr\": 1e999}", "\"lr\" = inf is out of range"},
        {"{\"amp\": 2}", "\"amp\" = 2 is out of range [0, 1]"},
        {"{\"threads\": 4294967296}", "\"threads\" = 4294967296 is out of range"},
    };
    char path[4300];
    snprintf(path, sizeof path, "%s/config.json", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx_write_text(path, bad[i].json);
        fer_cli cli;
        fer_options_defaults(&cli);
        snprintf(cli.opt.config, sizeof cli.opt.config, "%.1000s", path);
        expect_error(fer_options_apply_config_file(&cli), bad[i].json, "config.json",
                     bad[i].needle);
    }
    /* fine numbers still arrive */
    fx_write_text(path, "{\"epochs\": 7, \"lr\": 0.25, \"amp\": 1, \"seed\": 9007199254740992}");
    fer_cli cli;
    fer_options_defaults(&cli);
    snprintf(cli.opt.config, sizeof cli.opt.config, "%.1000s", path);
    CHECK(fer_options_apply_config_file(&cli) == FER_OK);
    CHECK(cli.opt.epochs == 7 && cli.opt.lr == 0.25 && cli.opt.amp == 1 &&
          cli.opt.seed == 9007199254740992L);
    /* a FIFO as --config: refused without blocking (item 8) */
    remove(path);
    CHECK(mkfifo(path, 0600) == 0);
    expect_error(fer_options_apply_config_file(&cli), "config FIFO", "config.json",
                 "not a regular file (a FIFO)");
    remove(path);
}

static void history_numbers(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/history.jsonl", dir);
    fx_write_text(path, "{\"epoch\": 1e300, \"lr\": 1}\n"
                        "{\"epoch\": 1, \"lr\": 1e999, \"train/loss\": 0.5, \"val/f1_a\": -1e999}\n"
                        "{\"epoch\": -7}\n"
                        "{\"epoch\": 2.5}\n"
                        "{\"epoch\": 2, \"seconds\": \"slow\"}\n");
    fer_history_row *rows = NULL;
    int n = -1;
    const char class_names[1][FER_NAME_LEN] = {"a"};
    CHECK(fer_history_read(path, 5, 3, class_names, 1, &rows, &n) == FER_OK);
    CHECK(n == 2 && rows[0].epoch == 1 && rows[1].epoch == 2);
    CHECK(isnan(rows[0].lr) && rows[0].train_loss == 0.5 && isnan(rows[0].val_f1[0]));
    CHECK(isnan(rows[1].seconds));
    free(rows);
    remove(path);
    CHECK(mkfifo(path, 0600) == 0);
    expect_error(fer_history_read(path, 5, 3, class_names, 1, &rows, &n), "history FIFO",
                 "history.jsonl", "not a regular file");
    free(rows);
    remove(path);
}

/* ---- fer-train end to end: item 4 and the resumed state against the run -------------------- */

static char data[4300], runs[4300], logp[4400];

static int train(const char *log, const char *a1, const char *a2, const char *a3, const char *a4,
                 const char *a5, const char *a6, const char *a7, const char *a8)
{
    char *argv[] = {fer_train, "--data_root", data, "--arch", "tiny", "--backend", "ref",
                    "--threads", "1", "--batch_size", "32", "--progress", "plain",
                    (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6,
                    (char *)a7, (char *)a8, NULL};
    snprintf(logp, sizeof logp, "%s/%s.log", dir, log);
    return fx_run(argv, logp);
}

static void expect_log(const char *needle)
{
    char *log = fx_read_file(logp, NULL);
    if (!log || !strstr(log, needle)) {
        fprintf(stderr, "%s lacks \"%s\":\n%s\n", logp, needle, log ? log : "(none)");
        exit(1);
    }
    free(log);
}

/* dst = src with its stored config's key set to a string (config_key) and/or its trainer state's
 * key set to raw JSON (state_key); weights and optimiser state carried over. */
static void craft(const char *src, const char *dst, const char *config_key,
                  const char *config_value, const char *state_key, const char *state_value)
{
    fer_backend *be = NULL;
    fer_model *m = NULL;
    fer_optimizer *opt = NULL;
    fer_checkpoint_meta meta;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    CHECK(fer_checkpoint_load(src, be, 4, &m, &meta) == FER_OK);
    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
    CHECK(fer_optimizer_new(m, &oc, &opt) == FER_OK);
    CHECK(fer_checkpoint_load_into(src, m, opt, NULL) == FER_OK);
    if (config_key) {
        cJSON *cfg = cJSON_Parse(meta.config_json);
        CHECK(cfg);
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, config_key, cJSON_CreateString(config_value));
        free(meta.config_json);
        meta.config_json = cJSON_PrintUnformatted(cfg);
        cJSON_Delete(cfg);
    }
    if (state_key) {
        cJSON *st = cJSON_Parse(meta.state_json);
        CHECK(st);
        cJSON *parent = st;
        const char *dot = strchr(state_key, '.');
        if (dot) {
            char head[32];
            snprintf(head, sizeof head, "%.*s", (int)(dot - state_key), state_key);
            parent = cJSON_GetObjectItemCaseSensitive(st, head);
            state_key = dot + 1;
        }
        CHECK(cJSON_ReplaceItemInObjectCaseSensitive(parent, state_key,
                                                     cJSON_CreateRaw(state_value)));
        free(meta.state_json);
        meta.state_json = cJSON_PrintUnformatted(st);
        cJSON_Delete(st);
    }
    CHECK(fer_checkpoint_save(dst, m, &meta, opt) == FER_OK);
    fer_checkpoint_meta_clear(&meta);
    fer_optimizer_free(opt);
    fer_model_free(m);
    fer_backend_free(be);
}

static void cli(void)
{
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    fx_dataset_spec spec = {3, names, ids, 30, 4, 4}; /* 90 training images: 3 batches */
    fx_make_dataset(data, NULL, &spec);
    /* a stale temporary file of a killed run, and a file that only looks like one */
    char run_dir[4400], stale[4500], keep[4500];
    snprintf(run_dir, sizeof run_dir, "%s/base", runs);
    fx_mkdir(runs);
    fx_mkdir(run_dir);
    snprintf(stale, sizeof stale, "%s/last.fer.ab3de9.tmp", run_dir);
    snprintf(keep, sizeof keep, "%s/notes.tmp", run_dir);
    fx_write_text(stale, "half a checkpoint");
    fx_write_text(keep, "mine");
    CHECK(train("base", "--runs_dir", runs, "--exp", "base", "--epochs", "2", NULL, NULL) == 0);
    CHECK(!exists(stale) && exists(keep));
    char last[4500];
    snprintf(last, sizeof last, "%s/last.fer", run_dir);

    /* item 4: a checkpoint whose stored settings point elsewhere ("evil" beside the runs, and
     * exp ".."): the eval-only form writes under the command line's runs_dir/exp ... */
    char evil_dir[4400], evil[4500], ckpt[4500];
    snprintf(evil_dir, sizeof evil_dir, "%s/evil", dir);
    snprintf(ckpt, sizeof ckpt, "%s/evil_runs.fer", dir);
    craft(last, ckpt, "runs_dir", evil_dir, NULL, NULL);
    snprintf(evil, sizeof evil, "%s/evil_exp.fer", dir);
    craft(ckpt, evil, "exp", "..", NULL, NULL);
    CHECK(train("eval", "--runs_dir", runs, "--exp", "E5_eval", "--epochs", "0", "--resume",
                evil) == 0);
    char out[4500];
    snprintf(out, sizeof out, "%s/E5_eval/metrics.json", runs);
    CHECK(exists(out) && !exists(evil_dir));
    /* ... and, with neither flag, the defaults (runs/E0 in the working folder), as README's
     * `fer-train ... --epochs 0 --resume pretrained/E5_balanced_best.fer` */
    char cwd[4400], here[PATH_MAX];
    snprintf(cwd, sizeof cwd, "%s/cwd", dir);
    fx_mkdir(cwd);
    CHECK(getcwd(here, sizeof here) && chdir(cwd) == 0);
    CHECK(train("eval_default", "--epochs", "0", "--resume", evil, NULL, NULL, NULL, NULL) == 0);
    CHECK(chdir(here) == 0);
    snprintf(out, sizeof out, "%s/runs/E0/metrics.json", cwd);
    CHECK(exists(out) && !exists(evil_dir));
    snprintf(out, sizeof out, "%s/metrics.json", dir); /* runs_dir/.. of the crafted config */
    CHECK(!exists(out));
    /* continuing it for training (its best.fer beside it): again the defaults, not the
     * checkpoint's settings */
    char best_src[4500], best_dst[4500];
    snprintf(best_src, sizeof best_src, "%s/best.fer", run_dir);
    snprintf(best_dst, sizeof best_dst, "%s/best.fer", dir);
    size_t n = 0;
    char *best = fx_read_file(best_src, &n);
    CHECK(best);
    FILE *f = fopen(best_dst, "wb");
    CHECK(f && fwrite(best, 1, n, f) == n);
    fclose(f);
    free(best);
    CHECK(chdir(cwd) == 0);
    CHECK(train("cont", "--epochs", "3", "--resume", evil, NULL, NULL, NULL, NULL) == 0);
    CHECK(chdir(here) == 0);
    expect_log("resuming");
    snprintf(out, sizeof out, "%s/runs/E0/last.fer", cwd);
    CHECK(exists(out) && !exists(evil_dir));
    snprintf(out, sizeof out, "%s/last.fer", dir);
    CHECK(!exists(out));
    /* --exp must be a plain name */
    const char *bad_exp[] = {"..", ".", "", "a/b", "../x"};
    for (size_t i = 0; i < sizeof bad_exp / sizeof bad_exp[0]; i++) {
        CHECK(train("bad_exp", "--runs_dir", runs, "--exp", bad_exp[i], "--epochs", "1", NULL,
                    NULL) == 2);
        expect_log("is not a plain folder name");
    }
    CHECK(train("bad_runs", "--runs_dir", "", "--epochs", "1", NULL, NULL, NULL, NULL) == 2);
    expect_log("--runs_dir: must not be empty");

    /* item 7: a resumed state must exist in this run (last.fer after 2 of 3-batch epochs) */
    static const struct {
        const char *key, *value, *needle;
    } bad[] = {
        {"epoch", "-5", "trainer state: \"epoch\" = -5 is out of range"},
        {"epoch", "40", "trainer state: 40 epochs done, more than --epochs 3"},
        {"batch", "1e9", "trainer state: batch 1000000000 of epoch 3 does not exist"},
        {"batch", "-7", "trainer state: \"batch\" = -7 is out of range"},
        {"batch", "3", "trainer state: batch 3 of epoch 3 does not exist (3 batches"},
        {"epoch_seen", "91", "trainer state: 91 images seen in the partial epoch"},
        {"best_epoch", "3", "trainer state: best epoch 3 is after the 2 epochs done"},
        {"schedule.plateau_bad_epochs", "5", "trainer state: 5 epochs without improvement"},
        {"schedule.kind", "77", "trainer state: \"schedule.kind\" = 77 is out of range"},
        {"optimizer_steps", "1e300", "trainer state: \"optimizer_steps\" = 1.0000000000000001e+300"},
    };
    snprintf(ckpt, sizeof ckpt, "%s/state.fer", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        craft(last, ckpt, NULL, NULL, bad[i].key, bad[i].value);
        CHECK(train("state", "--runs_dir", runs, "--exp", "state", "--epochs", "3", "--resume",
                    ckpt) == 1);
        expect_log("state.fer: ");
        expect_log(bad[i].needle);
    }
    /* the untouched state still resumes */
    CHECK(train("state_ok", "--runs_dir", runs, "--exp", "base", "--epochs", "3", "--resume",
                last) == 0);
    expect_log("resuming");

    /* `--resume RUNS/EXP/last.fer` alone continues training in RUNS/EXP, the folder the user
     * named (not the checkpoint's stored settings, which point at "evil" here) ... */
    char cwd2[4400], evil_last_dir[4400], evil_last[4500];
    snprintf(cwd2, sizeof cwd2, "%s/cwd2", dir);
    fx_mkdir(cwd2);
    snprintf(evil_last_dir, sizeof evil_last_dir, "%s/evil_run", dir);
    fx_mkdir(evil_last_dir);
    snprintf(evil_last, sizeof evil_last, "%s/last.fer", evil_last_dir);
    craft(last, evil_last, "runs_dir", evil_dir, NULL, NULL);
    snprintf(best_dst, sizeof best_dst, "%s/best.fer", evil_last_dir);
    best = fx_read_file(best_src, &n);
    CHECK(best);
    f = fopen(best_dst, "wb");
    CHECK(f && fwrite(best, 1, n, f) == n);
    fclose(f);
    free(best);
    CHECK(chdir(cwd2) == 0);
    CHECK(train("cont_here", "--epochs", "4", "--resume", evil_last, NULL, NULL, NULL, NULL) == 0);
    CHECK(chdir(here) == 0);
    expect_log("continuing in");
    expect_log("evil_run");
    snprintf(out, sizeof out, "%s/history.jsonl", evil_last_dir);
    char *hist = fx_read_file(out, NULL);
    CHECK(hist && strstr(hist, "{\"epoch\":4,"), "%s lacks epoch 4", out);
    free(hist);
    snprintf(out, sizeof out, "%s/runs", cwd2);
    CHECK(!exists(out) && !exists(evil_dir));
    /* ... while evaluating it (--epochs 0) keeps the defaults: a run's own metrics.json is not
     * overwritten by an evaluation */
    CHECK(chdir(cwd2) == 0);
    CHECK(train("eval_last", "--epochs", "0", "--resume", evil_last, NULL, NULL, NULL, NULL) == 0);
    CHECK(chdir(here) == 0);
    snprintf(out, sizeof out, "%s/runs/E0/metrics.json", cwd2);
    CHECK(exists(out) && !exists(evil_dir));
}

int main(int argc, char **argv)
{
    CHECK((argc == 2 || argc == 3) && realpath(argv[1], fer_train));
    alarm(120); /* a regression that blocks on a FIFO fails here instead of hanging */
    char *tmp = fx_tempdir("hostile");
    snprintf(dir, sizeof dir, "%s", tmp);
    static const struct {
        const char *name;
        void (*run)(void);
    } parts[] = {{"walk", folder_walk},     {"csv", csv_rows},         {"state", trainer_state},
                 {"config", config_numbers}, {"history", history_numbers}, {"cli", cli}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (argc == 2 || !strcmp(argv[2], parts[i].name)) parts[i].run();
    fx_rm_rf(dir);
    free(tmp);
    printf("test_hostile_inputs: ok\n");
    return 0;
}
