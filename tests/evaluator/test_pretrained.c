/* The bundled models against their sidecars (pretrained/NAME_best.json): each sidecar names an
 * existing checkpoint, the command that trained it and its test metrics; on the real FER-2013
 * test split (../shared/fer2013, skipped when absent) fer-eval reproduces those metrics, so the
 * README's results table (made from the sidecars) is what the shipped files score.
 * argv: fer-eval, the pretrained/ folder. */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "fixtures.h"

static const char *const MODELS[] = {"E0_match", "E2b_wce", "E5_balanced", "E6_arcface_focal",
                                     "fer"};
enum { N_MODELS = sizeof MODELS / sizeof MODELS[0], TEST_IMAGES = 3589 };

/* The sidecar's own promises, checked without the data set. */
static cJSON *check_sidecar(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s_best.json", dir, name);
    cJSON *side = fx_load_json(path);
    const cJSON *ckpt = cJSON_GetObjectItemCaseSensitive(side, "checkpoint");
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(side, "command");
    const cJSON *test = cJSON_GetObjectItemCaseSensitive(side, "test");
    CHECK(cJSON_IsString(ckpt) && cJSON_IsString(cmd) && cJSON_IsObject(test));
    char want[300];
    snprintf(want, sizeof want, "%s_best.fer", name);
    CHECK(!strcmp(ckpt->valuestring, want));
    snprintf(path, sizeof path, "%s/%s", dir, want);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 0);
    /* the seed's models: "fer-train ..."; the default model: its recorded last stage */
    CHECK((!strncmp(cmd->valuestring, "fer-train ", 10) ||
           !strncmp(cmd->valuestring, "build/trainer/fer-train ", 24)) &&
              strstr(cmd->valuestring, "--seed "),
          "%s: command", path);
    /* chosen on validation, among the candidates it lists: the best val macro-F1, or (ship.py
     * --video_tiebreak MARGIN) among those within MARGIN of it, the best val macro-F1 on the
     * video-like copy of val */
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(side, "candidates");
    CHECK(cJSON_IsArray(cands) && cJSON_GetArraySize(cands) >= 1);
    double best_val = -1;
    const cJSON *c;
    cJSON_ArrayForEach(c, cands) best_val = fmax(best_val, fx_json_number(c, "val_macro_f1"));
    const cJSON *margin = cJSON_GetObjectItemCaseSensitive(side, "video_tiebreak");
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(side, "run");
    CHECK(cJSON_IsString(run), "%s: no run", path);
    if (!margin) {
        CHECK(fx_json_number(side, "val_macro_f1") == best_val, "%s: not the best on val", path);
    } else {
        CHECK(cJSON_IsNumber(margin) && margin->valuedouble > 0 && margin->valuedouble < 0.05);
        double best_video = -1, chosen_video = -1;
        cJSON_ArrayForEach(c, cands)
        {
            if (fx_json_number(c, "val_macro_f1") < best_val - margin->valuedouble)
                continue;
            double v = fx_json_number(c, "val_video_macro_f1");
            best_video = fmax(best_video, v);
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "run");
            if (cJSON_IsString(r) && !strcmp(r->valuestring, run->valuestring))
                chosen_video = v;
        }
        CHECK(fx_json_number(side, "val_macro_f1") >= best_val - margin->valuedouble,
              "%s: outside the tie-break margin", path);
        CHECK(chosen_video == best_video, "%s: not the best on the video-like val", path);
    }
    double acc = fx_json_number(test, "accuracy"), f1 = fx_json_number(test, "macro_f1");
    CHECK(acc > 0.3 && acc < 1 && f1 > 0.2 && f1 < 1);
    return side;
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    const char *fer_eval = argv[1], *dir = argv[2];
    cJSON *sides[N_MODELS];
    for (int i = 0; i < N_MODELS; i++)
        sides[i] = check_sidecar(dir, MODELS[i]);
    printf("%d sidecars consistent with their checkpoints\n", N_MODELS);

    struct stat st;
    if (stat(FER_SHARED_DATA, &st) != 0) {
        printf("skip: %s not found (real FER-2013 data): the test metrics are not re-measured\n",
               FER_SHARED_DATA);
        for (int i = 0; i < N_MODELS; i++)
            cJSON_Delete(sides[i]);
        return 77;
    }
    char *tmp = fx_tempdir("fer_test_pretrained");
    for (int i = 0; i < N_MODELS; i++) {
        char model[1200], out[1200], log[1300], metrics[1300];
        snprintf(model, sizeof model, "%s/%s_best.fer", dir, MODELS[i]);
        snprintf(out, sizeof out, "%s/%s", tmp, MODELS[i]);
        snprintf(log, sizeof log, "%s.log", out);
        char *args[] = {(char *)fer_eval, "--model", model, "--data_root", FER_SHARED_DATA,
                        "--split", "test", "--out", out, NULL};
        int rc = fx_run(args, log);
        if (rc != 0) {
            char *text = fx_read_file(log, NULL);
            fprintf(stderr, "fer-eval %s: exit %d\n%s\n", model, rc, text ? text : "");
            free(text);
            return 1;
        }
        snprintf(metrics, sizeof metrics, "%s/metrics.json", out);
        cJSON *got = fx_load_json(metrics);
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(sides[i], "test");
        CHECK(fx_json_number(got, "total") == TEST_IMAGES);
        /* Exact in the build that made the sidecars; a build with other kernels (the sanitizer
         * build) may round one borderline image the other way, never more. */
        double d_acc = fabs(fx_json_number(got, "accuracy") - fx_json_number(want, "accuracy"));
        double d_f1 = fabs(fx_json_number(got, "macro_f1") - fx_json_number(want, "macro_f1"));
        printf("%s: test accuracy %.4f macro-F1 %.4f (sidecar %.4f / %.4f)\n", MODELS[i],
               fx_json_number(got, "accuracy"), fx_json_number(got, "macro_f1"),
               fx_json_number(want, "accuracy"), fx_json_number(want, "macro_f1"));
        if (d_acc > 1.5 / TEST_IMAGES || d_f1 > 2e-3) {
            fprintf(stderr, "%s: fer-eval gives other test metrics than its sidecar\n", model);
            return 1;
        }
        cJSON_Delete(got);
        cJSON_Delete(sides[i]);
    }
    fx_rm_rf(tmp);
    free(tmp);
    return 0;
}
