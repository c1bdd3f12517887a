/* The detector's building blocks on synthetic inputs (no model needed): BlazeFace anchors,
 * IoU, NMS, the letterbox (geometry, black borders, area averages, pixel replication, regions);
 * hostile detector files (a classifier .fer, headers whose output layout is missing or wrong, a
 * truncated file, a missing one) refused with one line naming the file; bad detect() arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fer/checkpoint.h"
#include "fer/face_detector.h"
#include "fer/model.h"
#define FER_CHECK_CONTINUE
#include "../common/fer_check.h"

static void anchors(void)
{
    float xy[2 * 900];
    int n = fer_face_blazeface_anchors(256, xy, 900);
    CHECK(n == 896, "896 anchors for 256 (got %d)", n);
    /* 16x16 cells of stride 16 with 2 anchors, then 8x8 of stride 32 with 6 */
    CHECK(xy[0] == 8 && xy[1] == 8 && xy[2] == 8 && xy[3] == 8, "first cell (8, 8) twice");
    CHECK(xy[4] == 24 && xy[5] == 8, "second cell (24, 8)");
    CHECK(xy[2 * 32] == 8 && xy[2 * 32 + 1] == 24, "row 2 starts at (8, 24)");
    CHECK(xy[2 * 511] == 248 && xy[2 * 511 + 1] == 248, "last fine anchor (248, 248)");
    CHECK(xy[2 * 512] == 16 && xy[2 * 512 + 1] == 16 && xy[2 * 517] == 16,
          "coarse grid starts at (16, 16), 6 anchors");
    CHECK(xy[2 * 895] == 240 && xy[2 * 895 + 1] == 240, "last anchor (240, 240)");
    CHECK(fer_face_blazeface_anchors(256, xy, 895) == -1, "too small a buffer");
    CHECK(fer_face_blazeface_anchors(128, xy, 900) == 896 && xy[0] == 4 && xy[2 * 512] == 8,
          "128: strides 8 and 16, the same grids");
}

static fer_face box(float x, float y, float w, float h, float score)
{
    fer_face f;
    memset(&f, 0, sizeof f);
    f.x = x, f.y = y, f.w = w, f.h = h, f.score = score;
    return f;
}

static void iou_nms(void)
{
    fer_face a = box(0, 0, 10, 10, 0.9f), b = box(5, 0, 10, 10, 0.8f);
    CHECK_NEAR(fer_face_iou(&a, &a), 1.0, 1e-6, "self");
    CHECK_NEAR(fer_face_iou(&a, &b), 50.0 / 150.0, 1e-6, "half overlap");
    fer_face c = box(20, 20, 5, 5, 0.5f), e = box(0, 0, 0, 10, 0.5f);
    CHECK(fer_face_iou(&a, &c) == 0.0f && fer_face_iou(&a, &e) == 0.0f, "disjoint / empty");
    fer_face nan_box = box(NAN, 0, 10, 10, 0.5f);
    CHECK(!(fer_face_iou(&a, &nan_box) > 0.0f), "NaN box overlaps nothing");

    /* unsorted input; b overlaps a by 1/3, d sits inside a (IoU 0.25), c apart */
    fer_face f[5] = {box(20, 20, 5, 5, 0.5f), box(5, 0, 10, 10, 0.8f), box(0, 0, 10, 10, 0.9f),
                     box(2.5f, 2.5f, 5, 5, 0.95f), box(21, 20, 5, 5, 0.5f)};
    int kept = fer_face_nms(f, 5, 0.3f);
    /* order by score: d .95, a .9, b .8, c .5, c' .5 (stable); a vs d 0.25 kept; b vs a 0.33
     * dropped; c' vs c (16/34 = 0.47) dropped */
    CHECK(kept == 3, "kept %d of 5 (expected 3)", kept);
    CHECK(f[0].score == 0.95f && f[1].score == 0.9f && f[2].x == 20.0f,
          "kept best first, stable among equal scores");
    fer_face g[2] = {box(0, 0, 10, 10, 0.9f), box(5, 0, 10, 10, 0.8f)};
    CHECK(fer_face_nms(g, 2, 1.0f / 3.0f + 1e-6f) == 2, "IoU equal to the threshold is kept");
    CHECK(fer_face_nms(g, 0, 0.3f) == 0, "no faces");
}

static void letterbox(void)
{
    /* 4x2 -> 8: scale 2, content 8x4 centred (rows 2..5), each pixel replicated 2x2 */
    uint8_t img[2 * 4 * 3];
    for (int i = 0; i < 24; i++)
        img[i] = (uint8_t)(i * 10);
    float out[3 * 64];
    fer_face_letterbox g;
    fer_face_letterbox_rgb(img, 12, 0, 0, 4, 2, 8, out, &g);
    CHECK(g.scale == 2.0f && g.off_x == 0.0f && g.off_y == 2.0f, "geometry %g %g %g", g.scale,
          g.off_x, g.off_y);
    int black = 1, same = 1;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                float v = out[c * 64 + y * 8 + x];
                if (y < 2 || y >= 6)
                    black &= v == -1.0f;
                else
                    same &= fabsf(v - (img[((y - 2) / 2 * 4 + x / 2) * 3 + c] / 255.0f - 0.5f) /
                                          0.5f) < 1e-6f;
            }
    CHECK(black, "borders black (-1)");
    CHECK(same, "growing replicates pixels");

    /* 8x4 -> 4: 2x2 area averages, rows 1..2 */
    uint8_t big[4 * 8 * 3];
    for (int i = 0; i < 96; i++)
        big[i] = (uint8_t)((i * 37) % 251);
    float small[3 * 16];
    fer_face_letterbox_rgb(big, 24, 0, 0, 8, 4, 4, small, &g);
    double worst = 0.0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 4; x++) {
                double m = 0.0;
                for (int k = 0; k < 4; k++)
                    m += big[((2 * y + k / 2) * 8 + 2 * x + k % 2) * 3 + c] / 4.0;
                worst = fmax(worst, fabs(small[c * 16 + (y + 1) * 4 + x] - (m / 255 - 0.5) / 0.5));
            }
    CHECK(worst < 1e-5, "2x2 averages (off by %g)", worst);

    /* 3x3 -> 2: windows of 1.5 pixels: weights 1, 0.5 per axis */
    uint8_t three[9 * 3];
    for (int i = 0; i < 27; i++)
        three[i] = (uint8_t)(i * 9);
    float two[3 * 4];
    fer_face_letterbox_rgb(three, 9, 0, 0, 3, 3, 2, two, &g);
    double v00 = (three[0] * 1.0 + three[3] * 0.5 + three[9] * 0.5 + three[12] * 0.25) / 2.25;
    CHECK_NEAR(two[0], (v00 / 255 - 0.5) / 0.5, 1e-5, "fractional window");

    /* a region: (2, 1) 4x4 of a 7x6 frame with a stride larger than the row */
    uint8_t frame[6 * 25];
    memset(frame, 0, sizeof frame);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 7; x++)
            for (int c = 0; c < 3; c++)
                frame[y * 25 + x * 3 + c] = (uint8_t)(x >= 2 && x < 6 && y >= 1 && y < 5 ? 200 : 10);
    float region[3 * 16];
    fer_face_letterbox_rgb(frame, 25, 2, 1, 4, 4, 4, region, &g);
    int inside = 1;
    for (int i = 0; i < 48; i++)
        inside &= fabsf(region[i] - (200 / 255.0f - 0.5f) / 0.5f) < 1e-6f;
    CHECK(inside && g.src_x == 2 && g.src_y == 1, "the region only");
}

/* ---- hostile detector files ---------------------------------------------------------------- */

static char dir[64];

/* A small RGB network saved with config (may be NULL); its path in out. */
static void save_net(const char *name, const char *arch_json, const char *config, char *out)
{
    fer_arch a;
    OK(fer_arch_from_json(arch_json, name, &a));
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_model *m;
    OK(fer_model_new(&a, b, 1, &m));
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.n_classes = a.n_classes;
    meta.config_json = config ? strdup(config) : NULL;
    snprintf(out, 256, "%s/%s", dir, name);
    OK(fer_checkpoint_save(out, m, &meta, NULL));
    fer_checkpoint_meta_clear(&meta);
    fer_model_free(m);
    fer_backend_free(b);
}

static void expect_refused(const char *path, const char *needle)
{
    fer_face_detector *d = (fer_face_detector *)1;
    fer_status st = fer_face_detector_new(path, "ref", 1, &d);
    const char *msg = fer_last_error();
    CHECK(st != FER_OK && d == NULL, "%s: accepted", path);
    CHECK(strstr(msg, path) && strstr(msg, needle) && !strchr(msg, '\n'),
          "%s: message '%s' lacks the path or '%s'", path, msg, needle);
}

/* 3x32x32 input; two heads at 2x2 (2 anchors) and 1x1 (6), as a BlazeFace in small */
#define HEADS_JSON                                                                             \
    "{\"input\":[3,32,32],\"classes\":2,\"layers\":["                                          \
    "{\"name\":\"c\",\"type\":\"conv2d\",\"out\":4,\"k\":16,\"stride\":16},"                   \
    "{\"name\":\"cls\",\"type\":\"conv2d\",\"out\":2,\"k\":1},{\"name\":\"f0\",\"type\":\"flatten\"}," \
    "{\"name\":\"reg\",\"type\":\"conv2d\",\"out\":32,\"k\":1,\"inputs\":[\"c\"]},"            \
    "{\"name\":\"f1\",\"type\":\"flatten\"},"                                                  \
    "{\"name\":\"p\",\"type\":\"maxpool2d\",\"k\":2,\"inputs\":[\"c\"]},"                      \
    "{\"name\":\"cls2\",\"type\":\"conv2d\",\"out\":6,\"k\":1},{\"name\":\"f2\",\"type\":\"flatten\"}," \
    "{\"name\":\"reg2\",\"type\":\"conv2d\",\"out\":96,\"k\":1,\"inputs\":[\"p\"]},"           \
    "{\"name\":\"f3\",\"type\":\"flatten\"},"                                                  \
    "{\"name\":\"out\",\"type\":\"concat\",\"inputs\":[\"f0\",\"f1\",\"f2\",\"f3\"]}]}"
#define OUT(rows, cols, ch, hw, off)                                                          \
    "{\"name\":\"o\",\"rows\":" #rows ",\"cols\":" #cols ",\"channels\":" #ch ",\"height\":" #hw \
    ",\"width\":" #hw ",\"offset\":" #off "}"
#define GOOD_OUTPUTS                                                                           \
    "[" OUT(8, 1, 2, 2, 0) "," OUT(8, 16, 32, 2, 8) "," OUT(6, 1, 6, 1, 136) "," OUT(6, 16, 96, 1, 142) "]"

static void hostile_files(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/missing.fer", dir);
    expect_refused(path, "cannot open");

    save_net("gray.fer", "{\"input\":[1,48,48],\"classes\":7,\"layers\":[{\"type\":\"flatten\"}]}",
             NULL, path);
    expect_refused(path, "square RGB input");
    save_net("classifier.fer", "{\"input\":[3,32,32],\"classes\":7,\"layers\":[{\"type\":\"flatten\"}]}",
             NULL, path);
    expect_refused(path, "not a converted face detector");
    save_net("cols.fer", HEADS_JSON,
             "{\"outputs\":[" OUT(8, 1, 2, 2, 0) "," OUT(8, 5, 10, 2, 8) "]}", path);
    expect_refused(path, "columns");
    save_net("beyond.fer", HEADS_JSON,
             "{\"outputs\":[" OUT(8, 1, 2, 2, 0) "," OUT(8, 16, 32, 2, 700) "]}", path);
    expect_refused(path, "does not fit");
    save_net("unpaired.fer", HEADS_JSON,
             "{\"outputs\":[" OUT(8, 1, 2, 2, 0) "," OUT(6, 1, 6, 1, 136) "]}", path);
    expect_refused(path, "pairs");
    save_net("shape.fer", HEADS_JSON,
             "{\"outputs\":[" OUT(8, 1, 2, 2, 0) "," OUT(8, 16, 32, 2, 8) "," OUT(6, 1, 6, 1, 136)
             "," "{\"name\":\"o\",\"rows\":6,\"cols\":16,\"channels\":96,\"height\":1,\"width\":1,"
             "\"offset\":-1}]}", path);
    expect_refused(path, "offset");
    save_net("nan.fer", HEADS_JSON,
             "{\"outputs\":[" OUT(8, 1, 2, 2, 0) "," OUT(8, 16, 32, 2, 8) "," OUT(6, 1, 6, 1, 136)
             "," "{\"name\":\"o\",\"rows\":6,\"cols\":16,\"channels\":96,\"height\":1,\"width\":1,"
             "\"offset\":1e300}]}", path);
    expect_refused(path, "offset");

    save_net("thr.fer", HEADS_JSON,
             "{\"outputs\":" GOOD_OUTPUTS ",\"default_min_score\":1.5}", path);
    expect_refused(path, "default_min_score");

    /* the good layout loads and runs on any frame size */
    save_net("good.fer", HEADS_JSON, "{\"outputs\":" GOOD_OUTPUTS "}", path);
    fer_face_detector *d;
    OK(fer_face_detector_new(path, "ref", 1, &d));
    CHECK(fer_face_detector_input_size(d) == 32, "input size");
    float sug_score = 0, sug_iou = 0; /* no thresholds in the header: BlazeFace's defaults */
    fer_face_detector_suggested_thresholds(d, &sug_score, &sug_iou);
    CHECK(sug_score == FER_FACE_DEFAULT_MIN_SCORE && sug_iou == FER_FACE_DEFAULT_NMS_IOU,
          "suggested thresholds %g / %g", sug_score, sug_iou);
    uint8_t px[7 * 3 * 5];
    memset(px, 77, sizeof px);
    fer_face faces[4];
    int n = -1;
    OK(fer_face_detector_detect(d, px, 7, 5, 21, 0.6f, 0.3f, 24, faces, 4, &n));
    CHECK(n >= 0 && n <= 4, "a 7x5 frame with tiles asked for: %d faces", n);
    OK(fer_face_detector_detect(d, px, 1, 1, 3, 0.4f, 0.3f, 0, faces, 4, &n));
    int sorted = 1;
    for (int i = 0; i < n; i++)
        sorted &= faces[i].score >= 0.4f && (i == 0 || faces[i].score <= faces[i - 1].score) &&
                  isfinite(faces[i].x) && faces[i].n_keypoints == 6;
    CHECK(n >= 0 && n <= 4 && sorted, "a 1x1 frame: at most max_faces, sorted, finite");
    CHECK(fer_face_detector_detect(d, px, 0, 5, 21, 0.6f, 0.3f, 0, faces, 4, &n) == FER_ERR_ARG,
          "width 0");
    CHECK(fer_face_detector_detect(d, px, 7, 5, 20, 0.6f, 0.3f, 0, faces, 4, &n) == FER_ERR_ARG,
          "stride below 3 x width");
    CHECK(fer_face_detector_detect(d, NULL, 7, 5, 21, 0.6f, 0.3f, 0, faces, 4, &n) == FER_ERR_ARG,
          "no pixels");
    CHECK(fer_face_detector_detect(d, px, 7, 5, 21, NAN, 0.3f, 0, faces, 4, &n) == FER_ERR_ARG,
          "NaN threshold");
    CHECK(fer_face_detector_passes(d, 640, 480, 0) == 1, "min_face_px 0: one pass");
    CHECK(fer_face_detector_passes(d, 640, 480, 24) > 1, "min_face_px 24 at 640x480: tiles");
    CHECK(fer_face_detector_passes(d, 640, 480, 2) <= 16, "passes capped");
    fer_face_detector_free(d);

    /* truncated copy of the good file */
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    snprintf(path, sizeof path, "%s/truncated.fer", dir);
    f = fopen(path, "wb");
    CHECK(f && len > 100 && fwrite(buf, 1, len / 2, f) == len / 2, "writing %s", path);
    if (f)
        fclose(f);
    expect_refused(path, "");
}

/* fer_model_fold_lean (node outputs sharing memory) computes what fer_model_fold computes, on
 * a graph with residual adds, in-place relus, a concat of three, channel_pad, pad2d, a
 * stride-2 depthwise conv, batch norm, flatten views and a flat concat of two heads. */
static const char *lean_json =
    "{\"input\":[3,12,12],\"classes\":3,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1},"
    "{\"name\":\"b1\",\"type\":\"batchnorm2d\"},{\"name\":\"r1\",\"type\":\"relu\"},"
    "{\"name\":\"c2\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1},"
    "{\"name\":\"s1\",\"type\":\"add\",\"inputs\":[\"c2\",\"r1\"]},"
    "{\"name\":\"r2\",\"type\":\"relu\"},"
    "{\"name\":\"p\",\"type\":\"pad2d\",\"bottom\":1,\"right\":1},"
    "{\"name\":\"dw\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"stride\":2,\"groups\":6,"
    "\"bias\":false},"
    "{\"name\":\"mp\",\"type\":\"maxpool2d\",\"k\":2,\"inputs\":[\"r2\"]},"
    "{\"name\":\"cp\",\"type\":\"channel_pad\",\"out\":8,\"inputs\":[\"mp\"]},"
    "{\"name\":\"cat\",\"type\":\"concat\",\"inputs\":[\"dw\",\"cp\",\"mp\"]},"
    "{\"name\":\"r3\",\"type\":\"relu\"},"
    "{\"name\":\"h1\",\"type\":\"conv2d\",\"out\":2,\"k\":1},{\"name\":\"f1\",\"type\":\"flatten\"},"
    "{\"name\":\"h2\",\"type\":\"conv2d\",\"out\":3,\"k\":1,\"inputs\":[\"r2\"]},"
    "{\"name\":\"f2\",\"type\":\"flatten\"},"
    "{\"name\":\"out\",\"type\":\"concat\",\"inputs\":[\"f1\",\"f2\"]}]}";

static void lean_fold(const char *backend)
{
    fer_arch a;
    OK(fer_arch_from_json(lean_json, "lean", &a));
    fer_backend *b;
    fer_status st = fer_backend_new(backend, 2, &b);
    if (st != FER_OK) {
        printf("lean fold on %s: skipped (%s)\n", backend, fer_last_error());
        return;
    }
    fer_model *m, *full, *lean;
    OK(fer_model_new(&a, b, 3, &m));
    OK(fer_model_init(m, 7));
    OK(fer_model_fold(m, b, 3, &full, NULL));
    OK(fer_model_fold_lean(m, b, 3, &lean, NULL));
    enum { N = 3, IN = 3 * 12 * 12 };
    float x[N * IN], lf[N * 3], ll[N * 3];
    for (int i = 0; i < N * IN; i++)
        x[i] = (float)sin(i * 0.37) * 1.5f;
    size_t nf = fer_model_feature_size(full);
    float *ff = malloc(N * nf * sizeof *ff), *fl = malloc(N * nf * sizeof *fl);
    for (int round = 0; round < 2; round++) { /* twice: reused memory holds stale values */
        OK(fer_model_forward(full, x, N, FER_MODE_EVAL, NULL, 0, lf));
        OK(fer_model_forward(lean, x, N, FER_MODE_EVAL, NULL, 0, ll));
        OK(fer_model_get_features(full, ff, N * nf));
        OK(fer_model_get_features(lean, fl, N * nf));
        int same = memcmp(ff, fl, N * nf * sizeof *ff) == 0 && memcmp(lf, ll, sizeof lf) == 0;
        CHECK(same, "%s: lean fold differs from fold (round %d)", backend, round);
        x[5] += 1.0f;
    }
    CHECK(fer_model_backward(lean) != FER_OK, "%s: lean model has no backward", backend);
    printf("lean fold on %s: features and logits equal to fer_model_fold's\n", backend);
    free(ff);
    free(fl);
    fer_model_free(lean);
    fer_model_free(full);
    fer_model_free(m);
    fer_backend_free(b);
}

int main(void)
{
    lean_fold("ref");
    lean_fold("cpu");
    anchors();
    iou_nms();
    letterbox();
    snprintf(dir, sizeof dir, "/tmp/fer_test_detector_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    hostile_files();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fer_check_summary("test_detector_units");
}
