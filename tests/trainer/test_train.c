/* fer-train end to end on a generated, separable 3-class set with the "tiny" architecture:
 * > 95% test accuracy after 20 epochs and every output present; eval-only mode reproduces the
 * run's test metrics; a run interrupted mid-epoch (--interrupt_after, and a real SIGINT) and
 * resumed from last.fer ends with the same weights and optimiser state as an uninterrupted run;
 * on the cpu backend the run has no threads beyond the backend's pool.
 * argv[1]: the fer-train executable. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "fer/checkpoint.h"
#include "fixtures.h"

static const char *fer_train;
static char root[4096], runs[4096], logp[4300];

/* fer-train on the fixture set with the tiny arch, log in runs/<exp>.log; extras may be NULL */
static void train_argv(char *argv[40], const char *exp, const char *backend, const char *extra1,
                       const char *extra2, const char *extra3, const char *epochs)
{
    int n = 0;
    argv[n++] = (char *)fer_train;
    argv[n++] = "--data_root";
    argv[n++] = root;
    argv[n++] = "--runs_dir";
    argv[n++] = runs;
    argv[n++] = "--exp";
    argv[n++] = (char *)exp;
    argv[n++] = "--arch";
    argv[n++] = "tiny";
    argv[n++] = "--backend";
    argv[n++] = (char *)backend;
    argv[n++] = "--threads";
    argv[n++] = "2";
    argv[n++] = "--batch_size";
    argv[n++] = "32";
    argv[n++] = "--lr";
    argv[n++] = "3e-3";
    argv[n++] = "--progress";
    argv[n++] = "plain";
    if (epochs) {
        argv[n++] = "--epochs";
        argv[n++] = (char *)epochs;
    }
    if (extra1) argv[n++] = (char *)extra1;
    if (extra2) argv[n++] = (char *)extra2;
    if (extra3) argv[n++] = (char *)extra3;
    argv[n] = NULL;
    snprintf(logp, sizeof logp, "%s/%s.log", runs, exp);
}

/* On the ref backend, to the end: the exit status. */
static int run_train(const char *exp, const char *extra1, const char *extra2, const char *extra3,
                     const char *epochs)
{
    char *argv[40];
    train_argv(argv, exp, "ref", extra1, extra2, extra3, epochs);
    return fx_run(argv, logp);
}

/* Started in the background: its pid. */
static pid_t start_train(const char *exp, const char *backend, const char *epochs)
{
    char *argv[40];
    train_argv(argv, exp, backend, NULL, NULL, NULL, epochs);
    return fx_spawn(argv, logp);
}

static void show_log(void)
{
    char *log = fx_read_file(logp, NULL);
    fprintf(stderr, "---- %s\n%s----\n", logp, log ? log : "(no log)");
    free(log);
}

#define EXPECT_EXIT(call, code)                                                  \
    do {                                                                         \
        int rc_ = (call);                                                        \
        if (rc_ != (code)) {                                                     \
            show_log();                                                          \
            fprintf(stderr, "%s:%d: exit %d, expected %d\n", __FILE__, __LINE__, \
                    rc_, (code));                                                \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static int exists(const char *exp, const char *name)
{
    char p[4500];
    snprintf(p, sizeof p, "%s/%s/%s", runs, exp, name);
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

static cJSON *read_json(const char *exp, const char *name)
{
    char p[4500];
    snprintf(p, sizeof p, "%s/%s/%s", runs, exp, name);
    return fx_load_json(p);
}

static int count_lines(const char *exp, const char *name)
{
    char p[4500];
    snprintf(p, sizeof p, "%s/%s/%s", runs, exp, name);
    char *t = fx_read_file(p, NULL);
    CHECK(t);
    int n = 0;
    for (char *c = t; *c; c++) n += *c == '\n';
    free(t);
    return n;
}

static int has_events_file(const char *exp)
{
    char p[4500];
    snprintf(p, sizeof p, "%s/%s", runs, exp);
    DIR *d = opendir(p);
    CHECK(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)))
        found |= !strncmp(e->d_name, "events.out.tfevents.", 20);
    closedir(d);
    return found;
}

/* Same parameters, buffers and optimiser moments in both runs' last.fer. */
static void same_weights(const char *exp_a, const char *exp_b)
{
    char pa[4500], pb[4500];
    snprintf(pa, sizeof pa, "%s/%s/last.fer", runs, exp_a);
    snprintf(pb, sizeof pb, "%s/%s/last.fer", runs, exp_b);
    fx_same_training_state(pa, pb);
}


int main(int argc, char **argv)
{
    CHECK(argc == 2);
    fer_train = argv[1];
    char *dir = fx_tempdir("train");
    snprintf(root, sizeof root, "%s/data", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    fx_mkdir(runs);
    static const char *const names[3] = {"calm", "happy", "sad"};
    static const int ids[3] = {0, 1, 2};
    fx_dataset_spec spec = {3, names, ids, 30, 10, 10};
    fx_make_dataset(root, NULL, &spec);

    /* 1. 20 epochs reach > 95% test accuracy; every output is written */
    EXPECT_EXIT(run_train("full", NULL, NULL, NULL, "20"), 0);
    cJSON *m = read_json("full", "metrics.json");
    double acc = fx_json_number(m, "accuracy");
    printf("tiny model, 20 epochs: test accuracy %.3f, macro-F1 %.3f\n", acc, fx_json_number(m, "macro_f1"));
    CHECK(acc > 0.95);
    const char *keys[] = {"macro_f1", "per_class_f1", "per_class_precision", "per_class_recall",
                          "f1_calm", "f1_happy", "f1_sad", "confusion_matrix"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CHECK(cJSON_GetObjectItemCaseSensitive(m, keys[i]));
    cJSON_Delete(m);
    const char *files[] = {"best.fer", "last.fer", "confusion_matrix.png", "config.json",
                           "history.jsonl", "curves.png"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) CHECK(exists("full", files[i]));
    CHECK(has_events_file("full"));
    CHECK(count_lines("full", "history.jsonl") == 20);
    snprintf(logp, sizeof logp, "%s/full/history.jsonl", runs);
    char *hist = fx_read_file(logp, NULL);
    CHECK(hist && strstr(hist, "\"val/macro_f1\"") && strstr(hist, "\"val/f1_sad\"") &&
          strstr(hist, "\"lr\"") && strstr(hist, "\"train/acc\""));
    free(hist);
    cJSON *cfg = read_json("full", "config.json");
    CHECK(cJSON_GetObjectItemCaseSensitive(cfg, "git_revision"));
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(cfg, "settings");
    CHECK(settings && fx_json_number(settings, "clip_grad") == 5.0 && fx_json_number(settings, "epochs") == 20);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(cfg, "data");
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(data, "train");
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(train, "fingerprint")));
    cJSON_Delete(cfg);
    fer_arch arch;
    fer_checkpoint_meta meta;
    char path[4500];
    snprintf(path, sizeof path, "%s/full/last.fer", runs);
    CHECK(fer_checkpoint_read_header(path, &arch, &meta) == FER_OK);
    CHECK(meta.epoch == 20 && meta.has_prior && meta.config_json && meta.state_json);
    CHECK(meta.class_prior[0] > 0.33f && meta.class_prior[0] < 0.34f);
    CHECK(fer_checkpoint_has_optimizer(path));
    fer_checkpoint_meta_clear(&meta);

    /* 2. eval-only reproduces the run's test numbers */
    snprintf(path, sizeof path, "%s/full/best.fer", runs);
    EXPECT_EXIT(run_train("full_eval", "--resume", path, NULL, "0"), 0);
    fx_same_test_metrics(runs, "full", "full_eval");

    /* 3. interrupted mid-epoch (batch 4 of 3-batch epochs) + resumed == uninterrupted */
    EXPECT_EXIT(run_train("straight", NULL, NULL, NULL, "3"), 0);
    EXPECT_EXIT(run_train("cut", "--interrupt_after", "4", NULL, "3"), 130);
    CHECK(exists("cut", "last.fer") && !exists("cut", "metrics.json"));
    snprintf(path, sizeof path, "%s/cut/last.fer", runs);
    /* the interrupted epoch's wall time so far travels in the checkpoint ... */
    CHECK(fer_checkpoint_read_header(path, &arch, &meta) == FER_OK);
    cJSON *state = cJSON_Parse(meta.state_json);
    double cut_seconds = fx_json_number(state, "epoch_seconds");
    CHECK(fx_json_number(state, "batch") == 1 && cut_seconds > 0);
    cJSON_Delete(state);
    fer_checkpoint_meta_clear(&meta);
    EXPECT_EXIT(run_train("cut", "--resume", path, NULL, NULL), 0);
    same_weights("straight", "cut");
    fx_same_test_metrics(runs, "straight", "cut");
    CHECK(count_lines("cut", "history.jsonl") == 3);
    /* ... and is part of that epoch's logged seconds after the resume */
    snprintf(logp, sizeof logp, "%s/cut/history.jsonl", runs);
    hist = fx_read_file(logp, NULL);
    char *epoch2 = hist ? strchr(hist, '\n') : NULL;
    CHECK(epoch2);
    cJSON *row2 = cJSON_Parse(epoch2 + 1); /* stops at the end of the first object */
    CHECK(row2 && fx_json_number(row2, "epoch") == 2 && fx_json_number(row2, "seconds") >= cut_seconds);
    cJSON_Delete(row2);
    free(hist);

    /* 4. a real SIGINT: finishes the batch, saves last.fer, exits 130; resume is exact */
    pid_t pid = start_train("sig", "ref", "3");
    for (int i = 0; i < 6000 && !exists("sig", "last.fer"); i++) usleep(10000);
    kill(pid, SIGINT);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    int rc = WEXITSTATUS(status);
    if (rc != 130 && rc != 0) {
        show_log();
        CHECK(!"unexpected exit after SIGINT");
    }
    if (rc == 130) {
        snprintf(path, sizeof path, "%s/sig/last.fer", runs);
        EXPECT_EXIT(run_train("sig", "--resume", path, NULL, NULL), 0);
    }
    same_weights("straight", "sig");

    /* 5. cpu backend, 2 threads: batches are assembled on the backend's pool, so the process
     * never has more than its 2 threads (main + 1 pool worker), sampled all through the run */
    pid = start_train("threads", "cpu", "2");
    int most = 0, samples = 0;
    char task_dir[64];
    snprintf(task_dir, sizeof task_dir, "/proc/%d/task", (int)pid);
    for (;;) {
        int n = fx_count_dir_entries(task_dir);
        most = n > most ? n : most;
        samples += n > 0;
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        usleep(500);
    }
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) show_log();
    CHECK(WEXITSTATUS(status) == 0);
    printf("cpu backend, --threads 2: at most %d threads in %d samples\n", most, samples);
    CHECK(most == 2);

    /* 5b. --init pytorch (the default) trains from fer_model_init_pytorch's weights: a run
     * started from them in a weights-only checkpoint ends bit for bit the same; --init counter
     * starts elsewhere */
    {
        fer_arch tiny;
        CHECK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &tiny) == FER_OK);
        tiny.n_classes = 3;
        fer_backend *be = NULL;
        fer_model *m = NULL;
        CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
        CHECK(fer_model_new(&tiny, be, 1, &m) == FER_OK);
        CHECK(fer_model_init_pytorch(m, 42) == FER_OK); /* fer-train's default --seed */
        fer_checkpoint_meta meta;
        fer_checkpoint_meta_init(&meta);
        meta.n_classes = 3;
        for (int c = 0; c < 3; c++) snprintf(meta.class_names[c], FER_NAME_LEN, "%s", names[c]);
        snprintf(path, sizeof path, "%s/pytorch_init42.fer", dir);
        CHECK(fer_checkpoint_save(path, m, &meta, NULL) == FER_OK);
        fer_checkpoint_meta_clear(&meta);
        fer_model_free(m);
        fer_backend_free(be);
        EXPECT_EXIT(run_train("init_flag", "--interrupt_after", "5", NULL, "2"), 130);
        EXPECT_EXIT(run_train("init_file", "--resume", path, "--interrupt_after=5", "2"), 130);
        EXPECT_EXIT(run_train("init_counter", "--init", "counter", "--interrupt_after=5", "2"),
                    130);
        same_weights("init_flag", "init_file");
        const char *const exps[2] = {"init_flag", "init_counter"}, *const want[2] = {"pytorch",
                                                                                     "counter"};
        for (int k = 0; k < 2; k++) { /* the choice is recorded with the run */
            cJSON *cfg_k = read_json(exps[k], "config.json");
            const cJSON *set = cJSON_GetObjectItemCaseSensitive(cfg_k, "settings");
            const char *init = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(set, "init"));
            CHECK(init && !strcmp(init, want[k]));
            cJSON_Delete(cfg_k);
        }
        snprintf(path, sizeof path, "%s/init_flag/last.fer", runs);
        char other[4500];
        snprintf(other, sizeof other, "%s/init_counter/last.fer", runs);
        CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
        fer_model *ma = NULL, *mb = NULL;
        CHECK(fer_checkpoint_load(path, be, 1, &ma, NULL) == FER_OK);
        CHECK(fer_checkpoint_load(other, be, 1, &mb, NULL) == FER_OK);
        fer_tensor_info info;
        CHECK(fer_model_tensor_info(ma, 0, &info) == FER_OK);
        float *wa = malloc(sizeof(float) * info.numel), *wb = malloc(sizeof(float) * info.numel);
        CHECK(wa && wb && fer_model_get_tensor(ma, info.name, wa, info.numel) == FER_OK &&
              fer_model_get_tensor(mb, info.name, wb, info.numel) == FER_OK);
        CHECK(memcmp(wa, wb, sizeof(float) * info.numel) != 0);
        free(wa), free(wb);
        fer_model_free(ma);
        fer_model_free(mb);
        fer_backend_free(be);
    }

    /* 6. bad input through the CLI: one line, non-zero exit */
    EXPECT_EXIT(run_train("bad", "--head", "linear", NULL, "1"), 2);
    snprintf(path, sizeof path, "%s/nowhere", dir);
    char flag[4600];
    snprintf(flag, sizeof flag, "--data_root=%s", path);
    EXPECT_EXIT(run_train("bad", flag, NULL, NULL, "1"), 1);
    char *log = fx_read_file(logp, NULL);
    CHECK(log && strstr(log, "nowhere") && strstr(log, "no such file"));
    free(log);

    fx_rm_rf(dir);
    free(dir);
    printf("test_train: ok\n");
    return 0;
}
