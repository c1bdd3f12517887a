/* int8 inference (fer/quant.h) end to end, on the cpu backend:
 *   - random-initialised tiny, simplecnn (softmax and arcface) and resnet_s, folded, calibrated
 *     on 32 synthetic faces and run on 32 others: logits within a relative L2 error of
 *     REL_TOL_RANDOM of FP32; the same bits on 1 and 3 threads and on every kernel set the CPU
 *     has (the kernels are bit-exact, test_int8_kernels);
 *   - the committed pretrained/E5_balanced_best.fer (a trained SimpleCNN): calibrated on 64
 *     synthetic faces, top-1 agreement with FP32 >= AGREE_SYNTH on 192 others; with
 *     ../shared/fer2013 (argv[2]; skipped with a message without it) calibrated on 512 val
 *     images, agreement >= AGREE_REAL on the first 1000 test images;
 *   - the checkpoint block: written by fer_int8_write_calibrated, read back exactly; a file
 *     without one refused naming the file; hostile blocks (inf, negative, missing, wrong node
 *     count, wrong version, not an object, zero input range) refused with one line naming the
 *     file while the FP32 classifier still loads;
 *   - nodes without an int8 form (depthwise conv, hardswish) run in FP32 between int8 nodes.
 * argv: the pretrained/ folder, the FER-2013 folder (may be absent). */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/ckpt_craft.h"
#include "fer/checkpoint.h"
#include "fer/classifier.h"
#include "fer/dataset.h"
#include "fer/preprocess.h"
#include "fer/quant.h"
#include "../common/fer_check.h"
#include "../common/test_dir.h"

#define FACE (FER_INPUT_SIZE * FER_INPUT_SIZE)
#define REL_TOL_RANDOM 0.10 /* ||int8 - fp32|| / ||fp32|| over a batch's logits */
#define AGREE_SYNTH 0.90    /* top-1 agreement, trained model, synthetic faces */
#define AGREE_REAL 0.97     /* top-1 agreement, trained model, FER-2013 test images */

/* Smooth face-sized images: a few bright and dark blobs over a gradient, some noise. */
static void synthetic_faces(int n, uint32_t seed, uint8_t *out)
{
    fer_rng_state = seed;
    for (int i = 0; i < n; i++) {
        float cx[4], cy[4], amp[4], rad[4];
        for (int b = 0; b < 4; b++) {
            cx[b] = 24.0f + 18.0f * frand();
            cy[b] = 24.0f + 18.0f * frand();
            amp[b] = 90.0f * frand();
            rad[b] = 6.0f + 5.0f * (frand() + 1.0f);
        }
        float base = 120.0f + 40.0f * frand(), gx = 1.5f * frand(), gy = 1.5f * frand();
        for (int y = 0; y < FER_INPUT_SIZE; y++)
            for (int x = 0; x < FER_INPUT_SIZE; x++) {
                float v = base + gx * (x - 24) + gy * (y - 24) + 8.0f * frand();
                for (int b = 0; b < 4; b++) {
                    float d2 = (x - cx[b]) * (x - cx[b]) + (y - cy[b]) * (y - cy[b]);
                    v += amp[b] * expf(-d2 / (2.0f * rad[b] * rad[b]));
                }
                out[(size_t)i * FACE + y * FER_INPUT_SIZE + x] =
                    (uint8_t)(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
            }
    }
}

static float *normalised(const uint8_t *faces, int n)
{
    fer_norm norm = {0.5f, 0.5f};
    float *x = malloc((size_t)n * FACE * sizeof(float));
    CHECK(x);
    fer_normalize_u8(faces, (size_t)n * FACE, &norm, x);
    return x;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

static double rel_error(const float *a, const float *b, size_t n)
{
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return sqrt(d / (s > 0.0 ? s : 1.0));
}

static const char *const SETS[] = {"portable", "avx_vnni", "avx512_vnni"};

static void check_random_model(const char *preset, fer_head_kind head)
{
    enum { CAL = 32, RUN = 32 };
    fer_arch arch;
    OK(fer_arch_preset(preset, head, &arch));
    fer_backend *b;
    OK(fer_backend_new("cpu", 2, &b));
    fer_model *m, *f;
    OK(fer_model_new(&arch, b, RUN, &m));
    OK(fer_model_init(m, 7));
    OK(fer_model_fold(m, b, RUN, &f, NULL));
    uint8_t *faces = malloc((size_t)(CAL + RUN) * FACE);
    CHECK(faces);
    synthetic_faces(CAL + RUN, 99, faces);
    float *x = normalised(faces, CAL + RUN);
    fer_int8_calib calib;
    OK(fer_int8_calibrate(f, x, CAL, 99.99f, &calib));
    CHECK(calib.n_nodes == fer_model_arch(f)->n_layers && calib.images == CAL);
    int C = arch.n_classes;
    float *ref = malloc(sizeof(float) * RUN * C), *q8 = malloc(sizeof(float) * RUN * C),
          *again = malloc(sizeof(float) * RUN * C);
    CHECK(ref && q8 && again);
    OK(fer_model_forward(f, x + (size_t)CAL * FACE, RUN, FER_MODE_EVAL, NULL, 0, ref));
    fer_int8_net *q;
    OK(fer_int8_net_new(f, &calib, RUN, 1, &q));
    OK(fer_int8_net_forward(q, x + (size_t)CAL * FACE, RUN, q8));
    double err = rel_error(q8, ref, (size_t)RUN * C);
    int agree = 0;
    for (int i = 0; i < RUN; i++)
        agree += argmax(q8 + i * C, C) == argmax(ref + i * C, C);
    printf("%s (%s head): %s; logits relative error %.4f, top-1 agreement %d/%d\n", preset,
           head == FER_HEAD_SOFTMAX ? "softmax" : "arcface", fer_int8_net_note(q), err, agree,
           RUN);
    CHECK(err <= REL_TOL_RANDOM, "%s: relative error %g", preset, err);
    fer_int8_net_free(q);
    /* threads and kernel sets change nothing */
    for (int s = 0; s < 3; s++) {
        if (fer_int8_force_kernels(SETS[s]) != FER_OK) {
            printf("  %s: skipped (%s)\n", SETS[s], fer_last_error());
            continue;
        }
        OK(fer_int8_net_new(f, &calib, RUN, s == 1 ? 1 : 3, &q));
        OK(fer_int8_net_forward(q, x + (size_t)CAL * FACE, RUN, again));
        CHECK(!memcmp(again, q8, sizeof(float) * RUN * C), "%s: %s differs", preset, SETS[s]);
        /* a batch of one gives the same logits as its row of the batch */
        OK(fer_int8_net_forward(q, x + (size_t)(CAL + 5) * FACE, 1, again));
        CHECK(!memcmp(again, q8 + 5 * C, sizeof(float) * C));
        fer_int8_net_free(q);
    }
    OK(fer_int8_force_kernels(NULL));
    free(ref);
    free(q8);
    free(again);
    free(x);
    free(faces);
    fer_model_free(f);
    fer_model_free(m);
    fer_backend_free(b);
}

/* Top-1 agreement of a classifier's int8 and FP32 logits on n faces. */
static double agreement(fer_classifier *c, const uint8_t *faces, int n)
{
    int C = fer_classifier_n_classes(c);
    float *a = malloc(sizeof(float) * n * C), *b = malloc(sizeof(float) * n * C);
    CHECK(a && b);
    OK(fer_classifier_set_precision(c, "fp32"));
    OK(fer_classifier_run_u8(c, faces, n, a, NULL));
    OK(fer_classifier_set_precision(c, "int8"));
    CHECK(fer_classifier_is_int8(c), "%s", fer_classifier_precision_note(c));
    OK(fer_classifier_run_u8(c, faces, n, b, NULL));
    int same = 0;
    for (int i = 0; i < n; i++)
        same += argmax(a + i * C, C) == argmax(b + i * C, C);
    free(a);
    free(b);
    return (double)same / n;
}

/* Non-finite inputs: calibration refuses an infinite range; a NaN pixel in a forward pass gives
 * the zero point's value, never undefined behaviour (the ASan + UBSan run checks). */
static void check_non_finite(void)
{
    fer_arch arch;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
    fer_backend *b;
    OK(fer_backend_new("cpu", 1, &b));
    fer_model *m, *f;
    OK(fer_model_new(&arch, b, 4, &m));
    OK(fer_model_init(m, 11));
    OK(fer_model_fold(m, b, 4, &f, NULL));
    uint8_t faces[4 * FACE];
    synthetic_faces(4, 77, faces);
    float *x = normalised(faces, 4);
    fer_int8_calib calib;
    OK(fer_int8_calibrate(f, x, 4, 99.0f, &calib));
    x[100] = INFINITY;
    CHECK(fer_int8_calibrate(f, x, 4, 99.0f, &calib) != FER_OK);
    printf("infinite input: %s\n", fer_last_error());
    OK(fer_int8_calibrate(f, x + FACE, 3, 99.0f, &calib));
    fer_int8_net *q;
    OK(fer_int8_net_new(f, &calib, 4, 1, &q));
    x[100] = NAN;
    float logits[4 * 7];
    OK(fer_int8_net_forward(q, x, 4, logits));
    for (int i = 0; i < 4 * 7; i++)
        CHECK(isfinite(logits[i]));
    CHECK(fer_int8_net_forward(q, x, 5, logits) == FER_ERR_ARG); /* above max_batch */
    fer_int8_net_free(q);
    free(x);
    fer_model_free(f);
    fer_model_free(m);
    fer_backend_free(b);
}

/* Calibrates pretrained `src` on faces, writes dst, checks the block reads back exactly. */
static void calibrate_file(const char *src, const uint8_t *faces, int n, const char *dst)
{
    fer_classifier *c;
    OK(fer_classifier_new(src, "cpu", 2, 64, &c));
    float *x = normalised(faces, n);
    fer_int8_calib calib, back;
    OK(fer_int8_calibrate(fer_classifier_model(c), x, n, 99.99f, &calib));
    OK(fer_int8_write_calibrated(src, &calib, dst));
    int found;
    OK(fer_checkpoint_load_int8(dst, &back, &found));
    CHECK(found && back.n_nodes == calib.n_nodes && back.images == n);
    CHECK(back.input_range == calib.input_range && back.percentile == calib.percentile);
    CHECK(!memcmp(back.ranges, calib.ranges, sizeof(float) * (size_t)calib.n_nodes));
    free(x);
    fer_classifier_free(c);
}

/* One line naming the file, status FER_ERR_FORMAT (or ARG for a missing block). */
static void expect_refused(fer_status st, fer_status want, const char *path, const char *what)
{
    const char *msg = fer_last_error();
    CHECK(st == want, "%s: status %d", what, (int)st);
    CHECK(strstr(msg, path) && !strchr(msg, '\n'), "%s: message '%s'", what, msg);
    printf("  refused (%s): %s\n", what, msg);
}

static void check_hostile(const char *good, const char *dir)
{
    static const struct {
        const char *what, *key;
        const char *value; /* JSON text replacing int8[key]; NULL: the key removed */
    } cases[] = {
        {"infinite range", "ranges", "[1e999,1,1,1,1,1,1,1,1,1,1,1,1,1]"},
        {"negative range", "ranges", "[1,-1,1,1,1,1,1,1,1,1,1,1,1,1]"},
        {"null range (NaN as cJSON writes it)", "ranges", "[1,null,1,1,1,1,1,1,1,1,1,1,1,1]"},
        {"too few ranges", "ranges", "[1,1,1]"},
        {"range too large", "ranges", "[1,1,1,1,1,1,1,1,1,1,1,1,1,3e6]"},
        {"ranges missing", "ranges", NULL},
        {"zero input range", "input_range", "0"},
        {"NaN input range", "input_range", "null"},
        {"version 2", "version", "2"},
        {"percentile 10", "percentile", "10"},
        {"block not an object", NULL, "\"x\""},
        {"13 nodes for a 14-node graph", "nodes", "13"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        craft_ckpt ck;
        CHECK(craft_read(good, &ck) == 0);
        cJSON *blk = cJSON_GetObjectItemCaseSensitive(ck.hdr, "int8");
        CHECK(blk);
        cJSON *val = cases[i].value ? cJSON_Parse(cases[i].value) : NULL;
        if (!val && cases[i].value) /* 1e999 is not JSON cJSON parses: write text */
            val = cJSON_CreateRaw(cases[i].value);
        if (!cases[i].key) {
            cJSON_ReplaceItemInObjectCaseSensitive(ck.hdr, "int8", val);
        } else if (!val) {
            cJSON_DeleteItemFromObjectCaseSensitive(blk, cases[i].key);
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(blk, cases[i].key, val);
            if (!strcmp(cases[i].key, "nodes")) { /* 13 ranges too: the block is consistent */
                cJSON *r = cJSON_GetObjectItemCaseSensitive(blk, "ranges");
                cJSON_DeleteItemFromArray(r, 13);
            }
        }
        const char *path = test_path(dir, "hostile.fer");
        CHECK(craft_write(path, &ck, 0) == 0);
        craft_free(&ck);
        fer_classifier *c;
        OK(fer_classifier_new(path, "cpu", 1, 4, &c)); /* FP32 use is unaffected */
        fer_status st = fer_classifier_set_precision(c, "int8");
        expect_refused(st, FER_ERR_FORMAT, path, cases[i].what);
        CHECK(!fer_classifier_is_int8(c));
        fer_classifier_free(c);
    }
}

/* Nodes without an int8 form (a depthwise conv on an image, a hardswish on features) run their
 * FP32 layer on dequantised inputs between int8 nodes: logits within REL_TOL_RANDOM of FP32,
 * the note names them; through the classifier too. */
static void check_fallback(const char *dir)
{
    const char *json =
        "{\"name\":\"fb\",\"input\":[1,48,48],\"classes\":7,\"layers\":["
        "{\"type\":\"conv2d\",\"out\":8,\"k\":3,\"pad\":1},{\"type\":\"relu\"},"
        "{\"type\":\"conv2d\",\"out\":8,\"k\":3,\"pad\":1,\"groups\":8},{\"type\":\"relu\"},"
        "{\"type\":\"maxpool2d\",\"k\":4,\"stride\":4},{\"type\":\"flatten\"},"
        "{\"type\":\"linear\",\"out\":16},{\"type\":\"hardswish\"},{\"type\":\"linear\",\"out\":8}],"
        "\"head\":{\"type\":\"softmax\"}}";
    enum { N = 16 };
    fer_arch arch;
    OK(fer_arch_from_json(json, "<test>", &arch));
    fer_backend *b;
    OK(fer_backend_new("cpu", 1, &b));
    fer_model *m, *f;
    OK(fer_model_new(&arch, b, N, &m));
    OK(fer_model_init(m, 3));
    OK(fer_model_fold(m, b, N, &f, NULL));
    uint8_t faces[2 * N * FACE];
    synthetic_faces(2 * N, 5, faces);
    float *x = normalised(faces, 2 * N);
    fer_int8_calib calib;
    OK(fer_int8_calibrate(f, x, N, 100.0f, &calib));
    float ref[N * 7], q8[N * 7];
    OK(fer_model_forward(f, x + (size_t)N * FACE, N, FER_MODE_EVAL, NULL, 0, ref));
    fer_int8_net *q = NULL;
    OK(fer_int8_net_new(f, &calib, N, 1, &q));
    OK(fer_int8_net_forward(q, x + (size_t)N * FACE, N, q8));
    double err = rel_error(q8, ref, (size_t)N * 7);
    printf("fallback: %s; logits relative error %.4f\n", fer_int8_net_note(q), err);
    CHECK(strstr(fer_int8_net_note(q), "FP32: 2 nodes, first node 1 (grouped conv2d)"), "%s",
          fer_int8_net_note(q));
    CHECK(err <= REL_TOL_RANDOM, "relative error %g", err);
    fer_int8_net_free(q);
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.int8_calib = &calib;
    const char *path = test_path(dir, "fallback.fer");
    OK(fer_checkpoint_save(path, m, &meta, NULL));
    fer_classifier *c;
    OK(fer_classifier_new(path, "cpu", 1, N, &c));
    OK(fer_classifier_set_precision(c, "int8"));
    CHECK(fer_classifier_is_int8(c));
    CHECK(strstr(fer_classifier_precision_note(c), "hardswish") == NULL &&
          strstr(fer_classifier_precision_note(c), "FP32: 2 nodes"), "%s",
          fer_classifier_precision_note(c));
    fer_classifier_free(c);
    free(x);
    fer_model_free(f);
    fer_model_free(m);
    fer_backend_free(b);
}

/* Up to `want` faces of a FER-2013 split (the trainer's loader); 0 when the folder is absent. */
static int load_real(const char *root, const char *split, int want, uint8_t **out)
{
    *out = NULL;
    struct stat st;
    if (stat(root, &st) != 0)
        return 0;
    fer_load_options opt = {0};
    fer_dataset *d;
    OK(fer_dataset_load(root, split, &opt, &d));
    int n = d->n < want ? d->n : want;
    *out = malloc((size_t)n * FACE);
    CHECK(*out);
    memcpy(*out, d->pixels, (size_t)n * FACE);
    fer_dataset_free(d);
    return n;
}

int main(int argc, char **argv)
{
    const char *pretrained = argc > 1 ? argv[1] : "pretrained";
    const char *data = argc > 2 ? argv[2] : "../shared/fer2013";
    check_random_model("tiny", FER_HEAD_SOFTMAX);
    check_random_model("tiny", FER_HEAD_ARCFACE);
    check_random_model("simplecnn", FER_HEAD_SOFTMAX);
    check_random_model("resnet_s", FER_HEAD_SOFTMAX);
    check_non_finite();

    char dir[64];
    test_dir_make(dir, "int8");
    char src[1200];
    snprintf(src, sizeof src, "%s/E5_balanced_best.fer", pretrained);
    struct stat st;
    CHECK(stat(src, &st) == 0, "no %s", src);

    /* no block: refused naming the file */
    fer_classifier *c;
    OK(fer_classifier_new(src, "cpu", 2, 64, &c));
    expect_refused(fer_classifier_set_precision(c, "int8"), FER_ERR_ARG, src, "no int8 block");
    CHECK(fer_classifier_set_precision(c, "int16") == FER_ERR_ARG);
    fer_classifier_free(c);

    enum { CAL = 64, RUN = 192 };
    uint8_t *faces = malloc((size_t)(CAL + RUN) * FACE);
    CHECK(faces);
    synthetic_faces(CAL + RUN, 2024, faces);
    char calibrated[128];
    snprintf(calibrated, sizeof calibrated, "%s", test_path(dir, "E5_int8.fer"));
    calibrate_file(src, faces, CAL, calibrated);
    OK(fer_classifier_new(calibrated, "cpu", 2, 64, &c));
    double agree = agreement(c, faces + (size_t)CAL * FACE, RUN);
    printf("E5_balanced_best: %s\nE5_balanced_best: top-1 agreement int8 vs FP32 on %d synthetic "
           "faces %.4f (>= %.2f)\n", fer_classifier_precision_note(c), RUN, agree, AGREE_SYNTH);
    CHECK(agree >= AGREE_SYNTH);
    fer_classifier_free(c);

    check_hostile(calibrated, dir);
    check_fallback(dir);

    uint8_t *val = NULL, *test = NULL;
    int n_val = load_real(data, "val", 512, &val), n_test = load_real(data, "test", 1000, &test);
    if (n_val >= 512 && n_test >= 1000) {
        const char *real = test_path(dir, "E5_int8_val.fer");
        calibrate_file(src, val, n_val, real);
        OK(fer_classifier_new(real, "cpu", 2, 64, &c));
        agree = agreement(c, test, n_test);
        printf("E5_balanced_best: top-1 agreement on %d FER-2013 test images %.4f (>= %.2f)\n",
               n_test, agree, AGREE_REAL);
        CHECK(agree >= AGREE_REAL);
        fer_classifier_free(c);
    } else {
        printf("real-data agreement skipped: no FER-2013 at %s\n", data);
    }
    free(val);
    free(test);
    free(faces);
    test_dir_remove(dir);
    printf("test_int8_model: ok\n");
    return 0;
}
