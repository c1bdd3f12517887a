/* fer-eval end to end on a generated data set: exact agreement with the metrics fer-train
 * wrote for the same checkpoint and split (whatever the batch size, folder or CSV), outputs,
 * predictions CSV, TTA and logit adjustment, and the promised errors.
 * argv: fer-train, fer-eval. */
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "fixtures.h"
#include "png_read.h"

static const char *const CLASSES[7] = {"angry", "disgust", "fear",    "happy",
                                       "neutral", "sad",   "surprise"};
static const int CSV_IDS[7] = {0, 1, 2, 3, 6, 4, 5};
static const char *fer_eval;
static char root[600];

static int run_eval(const char *log, const char *const *args)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)fer_eval;
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    char path[800];
    snprintf(path, sizeof path, "%s/%s", root, log);
    return fx_run(argv, path);
}

static int log_has(const char *log, const char *text)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", root, log);
    char *s = fx_read_file(path, NULL);
    int found = s && strstr(s, text);
    if (!found)
        fprintf(stderr, "%s lacks '%s':\n%s\n", log, text, s ? s : "(missing)");
    free(s);
    return found;
}

/* Every metric key of `want` has the same value (same text) in `got`. */
static void same_metrics(const char *want_path, const char *got_path)
{
    cJSON *want = fx_load_json(want_path), *got = fx_load_json(got_path);
    const char *keys[] = {"accuracy", "macro_f1", "per_class_f1", "per_class_precision",
                          "per_class_recall", "weighted_f1", "support", "confusion_matrix",
                          "ece", "calibration", "f1_disgust", "f1_surprise", "class_names"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        cJSON *a = cJSON_GetObjectItemCaseSensitive(want, keys[k]);
        cJSON *b = cJSON_GetObjectItemCaseSensitive(got, keys[k]);
        CHECK(a && b);
        char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
        if (strcmp(ta, tb)) {
            fprintf(stderr, "%s differs:\n  %s: %s\n  %s: %s\n", keys[k], want_path, ta,
                    got_path, tb);
            exit(1);
        }
        free(ta);
        free(tb);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
}

static double json_number(const char *path, const char *key)
{
    cJSON *j = fx_load_json(path);
    double d = fx_json_number(j, key);
    cJSON_Delete(j);
    return d;
}

static const char *json_string(const char *path, const char *key, char *buf, size_t cap)
{
    cJSON *j = fx_load_json(path);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    snprintf(buf, cap, "%s", cJSON_IsString(v) ? v->valuestring : cJSON_IsTrue(v) ? "true" : "");
    cJSON_Delete(j);
    return buf;
}

static void check_predictions(const char *csv_path, const char *metrics_path, int n_images)
{
    char *text = fx_read_file(csv_path, NULL);
    CHECK(text);
    CHECK(!strncmp(text, "source,true_label,pred_label,prob_angry,prob_disgust,", 53));
    int rows = 0, correct = 0;
    char *save = NULL;
    strtok_r(text, "\n", &save); /* header */
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char src[512], t[32], p[32];
        float pr[7];
        int got = sscanf(line, "%511[^,],%31[^,],%31[^,],%f,%f,%f,%f,%f,%f,%f", src, t, p, &pr[0],
                         &pr[1], &pr[2], &pr[3], &pr[4], &pr[5], &pr[6]);
        CHECK(got == 10);
        CHECK(strstr(src, ".png"));
        double sum = 0;
        int arg = 0;
        for (int k = 0; k < 7; k++) {
            sum += pr[k];
            if (pr[k] > pr[arg])
                arg = k;
        }
        CHECK(fabs(sum - 1.0) < 1e-4);
        CHECK(!strcmp(p, CLASSES[arg]) || pr[arg] - pr[0] < 1e-6); /* argmax (ties: first) */
        correct += !strcmp(t, p);
        rows++;
    }
    CHECK(rows == n_images);
    CHECK(fabs((double)correct / rows - json_number(metrics_path, "accuracy")) < 1e-12);
    free(text);
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    /* absolute paths: the test changes directory later */
    char *fer_train = realpath(argv[1], NULL);
    fer_eval = realpath(argv[2], NULL);
    CHECK(fer_train && fer_eval);
    char *t = fx_tempdir("fer_test_eval_cli");
    snprintf(root, sizeof root, "%s", t);
    free(t);
    char data[700], csv[700], runs[700], out[700], path[900], path2[900], buf[256];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(csv, sizeof csv, "%s/fer2013.csv", root);
    snprintf(runs, sizeof runs, "%s/runs", root);
    fx_dataset_spec spec = {7, CLASSES, CSV_IDS, 10, 5, 6};
    fx_make_dataset(data, csv, &spec);

    /* a short real training run: fer-train writes runs/e2e/{best.fer, metrics.json} */
    char *train_argv[] = {(char *)fer_train, "--data_root", data, "--exp", "e2e", "--arch",
                          "tiny", "--epochs", "2", "--batch_size", "16", "--runs_dir", runs,
                          "--threads", "1", "--seed", "3", "--backend", "cpu", NULL};
    snprintf(path, sizeof path, "%s/train.log", root);
    CHECK(fx_run(train_argv, path) == 0);
    char ckpt[800], train_metrics[800];
    snprintf(ckpt, sizeof ckpt, "%s/e2e/best.fer", runs);
    snprintf(train_metrics, sizeof train_metrics, "%s/e2e/metrics.json", runs);

    /* exact agreement, at the trainer's batch size and at others, from folders and CSV */
    const char *sizes[] = {"16", "5", "256"};
    for (int i = 0; i < 3; i++) {
        snprintf(out, sizeof out, "%s/eval_b%s", root, sizes[i]);
        const char *args[] = {"--model", ckpt, "--data_root", i == 2 ? csv : data, "--out", out,
                              "--batch_size", sizes[i], "--backend", "cpu", "--threads", "1",
                              NULL};
        CHECK(run_eval("eval.log", args) == 0);
        snprintf(path, sizeof path, "%s/metrics.json", out);
        same_metrics(train_metrics, path);
    }
    CHECK(log_has("eval.log", "precision") && log_has("eval.log", "macro avg"));
    CHECK(log_has("eval.log", "surprise"));
    snprintf(path, sizeof path, "%s/eval_b16/metrics.json", root);
    CHECK(!strcmp(json_string(path, "tta", buf, sizeof buf), "none"));
    CHECK(json_number(path, "images") == 42);
    const char *pngs[] = {"confusion_matrix.png", "confusion_matrix_normalized.png",
                          "per_class_f1.png", "reliability.png"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/eval_b16/%s", root, pngs[k]);
        test_image im;
        CHECK(test_png_read(path, &im));
        CHECK(im.w > 300 && im.h > 300);
        free(im.rgb);
    }

    /* default output folder runs/<run>_best_eval (relative to the working directory) and the
     * predictions file */
    CHECK(chdir(root) == 0);
    snprintf(path, sizeof path, "%s/pred.csv", root);
    {
        const char *args[] = {"--model", ckpt, "--data-root", data, "--predictions", path,
                              "--backend", "cpu", NULL};
        CHECK(run_eval("eval2.log", args) == 0);
    }
    snprintf(path2, sizeof path2, "%s/runs/e2e_best_eval/metrics.json", root);
    same_metrics(train_metrics, path2);
    check_predictions(path, path2, 42);

    /* val split, TTA and logit adjustment: run, record what they did */
    const char *modes[][4] = {{"--tta", "flip", "--split", "val"},
                              {"--tta", "tencrop", "--logit_adjust", "1.5"},
                              {"--tune_tau", "--tta", "none", NULL}};
    for (int i = 0; i < 3; i++) {
        snprintf(out, sizeof out, "%s/eval_mode%d", root, i);
        const char *args[12] = {"--model", ckpt, "--data_root", data, "--out", out};
        int n = 6;
        for (int k = 0; k < 4 && modes[i][k]; k++)
            args[n++] = modes[i][k];
        args[n] = NULL;
        CHECK(run_eval("mode.log", args) == 0);
        snprintf(path, sizeof path, "%s/metrics.json", out);
        double acc = json_number(path, "accuracy");
        CHECK(acc >= 0.0 && acc <= 1.0);
        if (i == 0) {
            CHECK(!strcmp(json_string(path, "tta", buf, sizeof buf), "flip"));
            CHECK(!strcmp(json_string(path, "split", buf, sizeof buf), "val"));
            CHECK(json_number(path, "images") == 35);
        } else if (i == 1) {
            CHECK(!strcmp(json_string(path, "tta", buf, sizeof buf), "tencrop"));
            CHECK(json_number(path, "logit_adjust_tau") == 1.5);
        } else {
            CHECK(!strcmp(json_string(path, "tau_tuned_on_val", buf, sizeof buf), "true"));
            double tau = json_number(path, "logit_adjust_tau");
            CHECK(tau >= 0.0 && tau <= 3.0);
            CHECK(log_has("mode.log", "tuned on val"));
        }
    }

    /* --perturb video: recorded, deterministic (two runs write the same predictions) and not
     * the plain images' predictions */
    {
        char pv1[700], pv2[700], plain[700];
        snprintf(plain, sizeof plain, "%s/pred.csv", root);
        snprintf(pv1, sizeof pv1, "%s/pred_video1.csv", root);
        snprintf(pv2, sizeof pv2, "%s/pred_video2.csv", root);
        snprintf(out, sizeof out, "%s/eval_video", root);
        const char *args[] = {"--model", ckpt, "--data_root", data, "--out", out,
                              "--predictions", pv1, "--perturb", "video", "--backend", "cpu",
                              NULL};
        CHECK(run_eval("video.log", args) == 0 && log_has("video.log", "--perturb video"));
        snprintf(path, sizeof path, "%s/metrics.json", out);
        CHECK(!strcmp(json_string(path, "perturb", buf, sizeof buf), "video"));
        args[7] = pv2;
        CHECK(run_eval("video.log", args) == 0);
        char *a = fx_read_file(pv1, NULL), *b = fx_read_file(pv2, NULL), *c = fx_read_file(plain, NULL);
        CHECK(a && b && c && !strcmp(a, b), "--perturb video is not deterministic");
        CHECK(strcmp(a, c) != 0, "--perturb video predicted exactly what the plain images gave");
        free(a);
        free(b);
        free(c);
        snprintf(path, sizeof path, "%s/eval_mode0/metrics.json", root);
        CHECK(!strcmp(json_string(path, "perturb", buf, sizeof buf), "none"));
    }

    /* errors: one clear line, non-zero exit */
    {
        const char *a1[] = {"--data_root", data, NULL};
        CHECK(run_eval("err.log", a1) == 2 && log_has("err.log", "--model and --data_root"));
        const char *a2[] = {"--model", ckpt, "--data_root", data, "--tta", "five", NULL};
        CHECK(run_eval("err.log", a2) == 2 && log_has("err.log", "unknown mode 'five'"));
        const char *a3[] = {"--model", "nope.fer", "--data_root", data, NULL};
        CHECK(run_eval("err.log", a3) == 1 && log_has("err.log", "nope.fer"));
        const char *a4[] = {"--model", ckpt, "--data_root", data, "--split", "dev", NULL};
        CHECK(run_eval("err.log", a4) == 2 && log_has("err.log", "'dev'"));
        const char *a5[] = {"--model", ckpt, "--data_root", data, "--batch_size", "0", NULL};
        CHECK(run_eval("err.log", a5) == 2 && log_has("err.log", "--batch_size"));
        const char *a8[] = {"--model", ckpt, "--data_root", data, "--perturb", "rain", NULL};
        CHECK(run_eval("err.log", a8) == 2 &&
              log_has("err.log", "--perturb: 'rain' is not one of none, video"));
        const char *a6[] = {"--model", ckpt, "--data_root", data, "--bogus", NULL};
        CHECK(run_eval("err.log", a6) == 2 && log_has("err.log", "unknown argument '--bogus'"));
        /* a class the checkpoint does not know */
        snprintf(path, sizeof path, "%s/test/zzz", data);
        fx_mkdir(path);
        uint8_t face[48 * 48];
        fx_face(0, 0, 1, face);
        strcat(path, "/0.png");
        fx_write_gray48(path, face);
        const char *a7[] = {"--model", ckpt, "--data_root", data, NULL};
        CHECK(run_eval("err.log", a7) == 1 && log_has("err.log", "class 'zzz'"));
    }
    fx_rm_rf(root);
    free(fer_train);
    free((char *)fer_eval);
    printf("fer-eval: all checks passed\n");
    return 0;
}
