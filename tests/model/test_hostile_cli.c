/* Hostile model files through the programs users run (issue 18, items 1-3 and 6): the same
 * crafted architecture as `fer-train --arch`, as a checkpoint in `fer-eval --model` and in
 * `fer-train --resume` (the README's eval-only form), and model paths that are a FIFO, a folder
 * or /dev/zero. Each run must exit with status 1 or 2 (never a signal, never a hang: a 60 s
 * limit) and print one line naming the file. The element's side is tests/gst.
 * usage: test_hostile_cli FER_TRAIN FER_EVAL */
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fer/arch.h"
#include "fer/checkpoint.h"
#include "fer/model.h"
#define FER_CHECK_CONTINUE
#include "fer/status.h"
#include "../common/ckpt_craft.h"
#include "../common/fer_check.h"
#include "../common/test_dir.h"

static char dir[64];
static const char *fer_train, *fer_eval;

static const char *in_dir(const char *name)
{
    return test_path(dir, name);
}

/* Runs argv with stdout+stderr to LOG; returns the exit status, or -signal, or -1000 after a
 * 60 s timeout (the child is killed). */
static int run_bounded(char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (!f || dup2(fileno(stdout), 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    for (int waited_ms = 0; waited_ms < 60000; waited_ms += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1000;
}

static char *slurp_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

/* The program must refuse: exit 1 or 2, an "error"-free crash is not enough: the output has a
 * line naming `names` and containing `needle`. */
static void expect_refusal(const char *what, char *const argv[], const char *names,
                           const char *needle)
{
    const char *log = in_dir("run.log");
    int rc = run_bounded(argv, log);
    char *out = slurp_text(log);
    CHECK(rc == 1 || rc == 2, "%s: exit status %d (want 1 or 2; negative = signal, -1000 = hung); "
          "output: %s", what, rc, out);
    int found = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, names) && strstr(line, needle))
            found = 1;
    CHECK(found, "%s: no output line names '%s' with '%s'", what, names, needle);
    free(out);
}

/* A three-split fer2013.csv with 3 tiny rows per split, side x side pixels. */
static void write_csv_sized(const char *path, int side)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "emotion,pixels,Usage\n");
    const char *usage[3] = {"Training", "PublicTest", "PrivateTest"};
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < 3; r++) {
            fprintf(f, "%d,", r);
            for (int i = 0; i < side * side; i++)
                fprintf(f, "%s%d", i ? " " : "", (i * 7 + r * 50) % 256);
            fprintf(f, ",%s\n", usage[s]);
        }
    fclose(f);
}

static void write_csv(const char *path)
{
    write_csv_sized(path, 48);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FER_TRAIN FER_EVAL\n", argv[0]);
        return 2;
    }
    fer_train = argv[1];
    fer_eval = argv[2];
    test_dir_make(dir, "hostile_cli");
    char csv[256], runs[256];
    snprintf(csv, sizeof csv, "%s", in_dir("fer2013.csv"));
    snprintf(runs, sizeof runs, "%s", in_dir("runs"));
    write_csv(csv);

    /* item 1 and item 2 as architecture files */
    const char *arch1 = in_dir("item1.json"), *arch2 = in_dir("item2.json");
    static char a1[256], a2[256];
    snprintf(a1, sizeof a1, "%s", arch1);
    snprintf(a2, sizeof a2, "%s", arch2);
    write_text(a1, "{\"layers\":[{\"type\":\"conv2d\",\"out\":16,\"k\":536870912,"
                   "\"stride\":1000000000,\"pad\":268435456},{\"type\":\"flatten\"}]}");
    write_text(a2, "{\"layers\":[{\"type\":\"conv2d\",\"out\":16,\"k\":49,\"pad\":536870912},"
                   "{\"type\":\"maxpool2d\",\"k\":1000000000,\"stride\":1000000000},"
                   "{\"type\":\"flatten\"}]}");
    for (int i = 0; i < 2; i++) {
        const char *arch = i ? a2 : a1;
        char *args[] = {(char *)fer_train, "--data_root", csv,     "--runs_dir", runs,
                        "--exp",           "hostile",     "--arch", (char *)arch, "--epochs",
                        "1",               "--batch_size", "2",     NULL};
        expect_refusal(i ? "fer-train --arch item2" : "fer-train --arch item1", args, arch,
                       "conv2d");
    }

    /* --describe reads the same architecture without data: refused the same way, and a sane
     * one is described with exit 0 */
    for (int i = 0; i < 2; i++) {
        const char *arch = i ? a2 : a1;
        char *args[] = {(char *)fer_train, "--arch", (char *)arch, "--describe", NULL};
        expect_refusal("fer-train --describe", args, arch, "conv2d");
    }
    {   /* a graph with a cycle: one line naming the file and a node of the cycle */
        static char cyc[256];
        snprintf(cyc, sizeof cyc, "%s", in_dir("cycle.json"));
        write_text(cyc, "{\"layers\":[{\"name\":\"a\",\"type\":\"conv2d\",\"out\":4,"
                        "\"inputs\":[\"b\"]},{\"name\":\"b\",\"type\":\"relu\","
                        "\"inputs\":[\"a\"]},{\"type\":\"flatten\"}]}");
        char *args[] = {(char *)fer_train, "--arch", cyc, "--describe", NULL};
        expect_refusal("fer-train --describe (cycle)", args, cyc, "is part of a cycle");
    }
    {   /* a graph preset: names, inputs, totals */
        char *args[] = {(char *)fer_train, "--arch", "resnet_s", "--describe", NULL};
        int rc = run_bounded(args, in_dir("describe.log"));
        char *out = slurp_text(in_dir("describe.log"));
        CHECK(rc == 0 && strstr(out, "resnet_s: input 1x48x48") &&
                  strstr(out, "s1b1_bn2,stem_relu") && strstr(out, "s2b1_proj") &&
                  strstr(out, "total: 1597031 parameters"),
              "fer-train --arch resnet_s --describe: exit %d, output:\n%s", rc, out);
        free(out);
    }
    {
        char *args[] = {(char *)fer_train, "--arch", "tiny", "--describe", NULL};
        int rc = run_bounded(args, in_dir("describe.log"));
        char *out = slurp_text(in_dir("describe.log"));
        CHECK(rc == 0 && strstr(out, "tiny: input 1x48x48") &&
                  strstr(out, "total: 40511 parameters"),
              "fer-train --arch tiny --describe: exit %d, output:\n%s", rc, out);
        free(out);
    }

    /* the same architectures as checkpoints (valid CRC), and item 3 / item 6 ones */
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_arch arch;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
    fer_model *m;
    OK(fer_model_new(&arch, b, 1, &m));
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    static char base[256];
    snprintf(base, sizeof base, "%s", in_dir("base.fer"));
    OK(fer_checkpoint_save(base, m, &meta, NULL));
    fer_model_free(m);
    fer_backend_free(b);

    struct {
        const char *name, *layer0, *needle;
        int layer_index;
    } ck[] = {
        {"item1.fer", "{\"type\":\"conv2d\",\"out\":16,\"k\":536870912,\"stride\":1000000000,"
                      "\"pad\":268435456,\"bias\":false}", "conv2d", 0},
        {"item2.fer", "{\"type\":\"conv2d\",\"out\":16,\"k\":49,\"pad\":536870912,"
                      "\"bias\":false}", "conv2d", 0},
        {"item3.fer", "{\"type\":\"linear\",\"out\":4000}", "architecture mismatch", 10},
    };
    for (size_t i = 0; i < sizeof ck / sizeof *ck; i++) {
        craft_ckpt c;
        CHECK(craft_read(base, &c) == 0, "craft_read");
        cJSON *layers = cJSON_GetObjectItem(cJSON_GetObjectItem(c.hdr, "arch"), "layers");
        cJSON_ReplaceItemInArray(layers, ck[i].layer_index, cJSON_Parse(ck[i].layer0));
        static char path[256];
        snprintf(path, sizeof path, "%s", in_dir(ck[i].name));
        CHECK(craft_write(path, &c, 0) == 0, "craft_write");
        craft_free(&c);
        char *ev[] = {(char *)fer_eval, "--model", path, "--data_root", csv, "--out",
                      (char *)in_dir("eval"), NULL};
        expect_refusal("fer-eval --model", ev, path, ck[i].needle);
        char *tr[] = {(char *)fer_train, "--data_root", csv,       "--runs_dir", runs,
                      "--exp",           "hostile",     "--epochs", "0",        "--batch_size",
                      "2",               "--resume",    path,       NULL};
        expect_refusal("fer-train --epochs 0 --resume", tr, path, ck[i].needle);
    }
    {
        craft_ckpt c;
        CHECK(craft_read(base, &c) == 0, "craft_read");
        cJSON *norm = cJSON_GetObjectItem(c.hdr, "norm");
        cJSON_ReplaceItemInObject(norm, "std", cJSON_CreateNumber(1e-300));
        static char path[256];
        snprintf(path, sizeof path, "%s", in_dir("item6.fer"));
        CHECK(craft_write(path, &c, 0) == 0, "craft_write");
        craft_free(&c);
        char *ev[] = {(char *)fer_eval, "--model", path, "--data_root", csv, "--out",
                      (char *)in_dir("eval"), NULL};
        expect_refusal("fer-eval --model item6", ev, path, "norm.std");
    }

    /* item 8's model side: not regular files */
    static char fifo[256], folder[256];
    snprintf(fifo, sizeof fifo, "%s", in_dir("model.fifo"));
    snprintf(folder, sizeof folder, "%s", in_dir("model_folder.fer"));
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    CHECK(mkdir(folder, 0700) == 0, "mkdir");
    const char *paths[] = {fifo, folder, "/dev/zero"};
    const char *needles[] = {"a FIFO", "a folder", "a character device"};
    for (int i = 0; i < 3; i++) {
        char *ev[] = {(char *)fer_eval, "--model", (char *)paths[i], "--data_root", csv, "--out",
                      (char *)in_dir("eval"), NULL};
        expect_refusal("fer-eval --model (not a regular file)", ev, paths[i], needles[i]);
        char *tr[] = {(char *)fer_train, "--data_root", csv,     "--runs_dir", runs,
                      "--exp",           "hostile",     "--arch", (char *)paths[i], "--epochs",
                      "1",               NULL};
        expect_refusal("fer-train --arch (not a regular file)", tr, paths[i], needles[i]);
    }

    /* item 9 through fer-eval: rows that are not 48x48 only with --csv_any_size */
    static char csv47[256];
    snprintf(csv47, sizeof csv47, "%s", in_dir("fer2013_47.csv"));
    write_csv_sized(csv47, 47);
    {
        char *ev[] = {(char *)fer_eval, "--model", base, "--data_root", csv47, "--out",
                      (char *)in_dir("eval47"), NULL};
        expect_refusal("fer-eval on 47x47 CSV rows", ev, csv47, "--csv_any_size");
        char *ok[] = {(char *)fer_eval, "--model", base, "--data_root", csv47, "--out",
                      (char *)in_dir("eval47"), "--csv_any_size", NULL};
        int rc = run_bounded(ok, in_dir("run.log"));
        CHECK(rc == 0, "fer-eval --csv_any_size on 47x47 rows: exit %d", rc);
    }

    if (!fer_check_failures)
        test_dir_remove(dir);
    return fer_check_summary("test_hostile_cli");
}
