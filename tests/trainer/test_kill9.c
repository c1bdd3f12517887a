/* kill -9 at random moments of a tiny fer-train run never leaves a half-written best.fer,
 * last.fer or metrics.json (every one present is complete and loads: checkpoints are written to
 * a temporary file and renamed), and resuming from the surviving last.fer ends bit for bit where
 * an uninterrupted run ends (weights, optimiser state, test metrics). The moments are drawn
 * from a seed printed at the start (FER_KILL_SEED=N repeats a run's moments); one more trial is
 * killed the moment its first last.fer appears.
 * argv[1]: the fer-train executable. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "fer/checkpoint.h"
#include "fer/metrics.h"
#include "fixtures.h"

#define TRIALS 4 /* the last one is killed as soon as the first last.fer appears */
#define EPOCHS "3"

static const char *fer_train;
static char root[4096], runs[4096], logp[4300];

static void train_argv(char *argv[32], const char *exp, int resume)
{
    static char resume_path[4400];
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
    argv[n++] = "ref";
    argv[n++] = "--threads";
    argv[n++] = "1";
    argv[n++] = "--batch_size";
    argv[n++] = "32";
    argv[n++] = "--epochs";
    argv[n++] = EPOCHS;
    argv[n++] = "--progress";
    argv[n++] = "plain";
    if (resume) {
        snprintf(resume_path, sizeof resume_path, "%s/%s/last.fer", runs, exp);
        argv[n++] = "--resume";
        argv[n++] = resume_path;
    }
    argv[n] = NULL;
    snprintf(logp, sizeof logp, "%s/%s.log", runs, exp);
}

static void show_log_and_fail(const char *why)
{
    char *log = fx_read_file(logp, NULL);
    fprintf(stderr, "%s\n---- %s\n%s----\n", why, logp, log ? log : "(no log)");
    free(log);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int present(const char *exp, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s/%s", runs, exp, name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* Every output present under its real name is whole: checkpoints load (CRC-checked payload),
 * metrics.json parses as fer-report reads it. */
static void outputs_complete(const char *exp)
{
    char path[4500];
    static const char *const ckpts[2] = {"best.fer", "last.fer"};
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    for (int i = 0; i < 2; i++) {
        if (!present(exp, ckpts[i], path, sizeof path)) continue;
        fer_model *m = NULL;
        fer_checkpoint_meta meta;
        if (fer_checkpoint_load(path, be, 1, &m, &meta) != FER_OK) {
            fprintf(stderr, "%s after kill -9: %s\n", path, fer_last_error());
            exit(1);
        }
        fer_checkpoint_meta_clear(&meta);
        fer_model_free(m);
    }
    fer_backend_free(be);
    if (present(exp, "metrics.json", path, sizeof path)) {
        fer_metrics m;
        if (fer_metrics_read_json(path, &m) != FER_OK) {
            fprintf(stderr, "%s after kill -9: %s\n", path, fer_last_error());
            exit(1);
        }
    }
}

/* No temporary file left behind in a finished run's folder. */
static void no_tmp_files(const char *exp)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", runs, exp);
    DIR *d = opendir(path);
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".tmp")) {
            fprintf(stderr, "%s/%s left behind\n", path, e->d_name);
            exit(1);
        }
    }
    closedir(d);
}


int main(int argc, char **argv)
{
    CHECK(argc == 2);
    fer_train = argv[1];
    char *dir = fx_tempdir("kill9");
    snprintf(root, sizeof root, "%s/data", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    fx_mkdir(runs);
    static const char *const names[3] = {"calm", "happy", "sad"};
    static const int ids[3] = {0, 1, 2};
    fx_dataset_spec spec = {3, names, ids, 30, 6, 6}; /* 3 batches of 32 per epoch */
    fx_make_dataset(root, NULL, &spec);

    char *argv_run[32];
    train_argv(argv_run, "straight", 0);
    double t0 = now();
    if (fx_run(argv_run, logp) != 0) show_log_and_fail("uninterrupted run failed");
    double run_s = now() - t0;

    const char *seed_env = getenv("FER_KILL_SEED");
    unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10)
                             : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    printf("uninterrupted run %.2f s; kill moments from FER_KILL_SEED=%u\n", run_s, seed);
    int resumed = 0;
    for (int k = 0; k < TRIALS; k++) {
        char exp[32];
        snprintf(exp, sizeof exp, "kill%d", k);
        /* trial k < TRIALS-1 is killed somewhere in the k-th part of a run's time, so the trials
         * cover loading, training, checkpointing and the final evaluation; the last one right
         * after its first last.fer appears, so at least one trial resumes whatever the timing */
        double at = run_s * (k + (double)rand() / RAND_MAX) / (TRIALS - 1);
        train_argv(argv_run, exp, 0);
        double started = now();
        pid_t pid = fx_spawn(argv_run, logp);
        if (k < TRIALS - 1) {
            usleep((useconds_t)(at * 1e6));
        } else {
            char first[4500];
            while (!present(exp, "last.fer", first, sizeof first) && now() - started < 60)
                usleep(1000);
            at = now() - started;
        }
        kill(pid, SIGKILL);
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            show_log_and_fail("run ended badly before the kill");
        outputs_complete(exp);
        char last[4500];
        int has_last = present(exp, "last.fer", last, sizeof last);
        printf("trial %d: kill -9 at %.3f s (%s), last.fer %s\n", k, at,
               killed ? "killed" : "already done", has_last ? "present" : "absent");
        /* continue: from last.fer when there is one, else from the start */
        train_argv(argv_run, exp, has_last);
        if (fx_run(argv_run, logp) != 0) show_log_and_fail("continuing after kill -9 failed");
        resumed += has_last;
        no_tmp_files(exp);
        char a[4500], b[4500];
        snprintf(a, sizeof a, "%s/straight/last.fer", runs);
        snprintf(b, sizeof b, "%s/%s/last.fer", runs, exp);
        fx_same_training_state(a, b);
        fx_same_test_metrics(runs, "straight", exp);
    }
    printf("%d of %d trials resumed from a surviving last.fer\n", resumed, TRIALS);
    CHECK(resumed >= 1);
    fx_rm_rf(dir);
    free(dir);
    printf("test_kill9: ok\n");
    return 0;
}
