/* The converted BlazeFace against the reference JavaScript (tests/detector/make_golden.mjs: the
 * package's own model on TensorFlow.js's CPU backend, decoded as @vladmandic/human does), on
 * the astronaut, sample5 (five faces) and a frame of the sample clip:
 *   raw outputs: all 896 score logits and the 16 regressors of selected anchors, network input
 *     built by fer_face_letterbox_rgb (float32) where the generator used float64;
 *   faces through fer_face_detector_detect (one whole-frame pass, the folded model): the same
 *     count, scores, boxes and keypoints in frame pixels.
 *   Usage: test_detector_golden GOLDEN_DIR REPO_ROOT MODEL.fer [BACKEND]
 * Exit 77 (skipped) when MODEL.fer is absent (data/models/fetch.sh makes it) or the backend
 * has no device. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../evaluator/png_read.h"
#include "fer/checkpoint.h"
#include "fer/face_detector.h"
#include "fer/fileio.h"
#include "fer/model.h"
#define FER_CHECK_CONTINUE
#include "../common/fer_check.h"

/* Tolerances (float32 here and in TF.js; they differ in summation order and in the input's
 * last bits (float32 vs float64 resize), so the differences grow through 148 layers):
 * logits and regressors are compared as |a - b| <= TOL_ABS + TOL_REL * |b|. */
#define TOL_ABS 2e-4
#define TOL_REL 2e-4
#define TOL_SCORE 1e-5   /* sigmoid scores */
#define TOL_PX 0.01      /* box corners and keypoints, frame pixels (frames of 256..512 px) */

typedef struct layout {
    int offset[4], channels[4], hw[4]; /* Identity, _1, _2, _3 */
} layout;

static int read_layout(const char *model, layout *lay)
{
    fer_arch arch;
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    if (fer_checkpoint_read_header(model, &arch, &meta) != FER_OK)
        return 0;
    cJSON *root = cJSON_Parse(meta.config_json ? meta.config_json : "");
    const cJSON *o;
    int found = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "outputs")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "name"));
        int k = !name ? -1
                : strcmp(name, "Identity") == 0 ? 0
                : strncmp(name, "Identity_", 9) == 0 ? atoi(name + 9) : -1;
        if (k < 0 || k > 3)
            continue;
        lay->offset[k] = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "offset"));
        lay->channels[k] =
            (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "channels"));
        lay->hw[k] = (int)(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "height")) *
                           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, "width")));
        found |= 1 << k;
    }
    cJSON_Delete(root);
    fer_checkpoint_meta_clear(&meta);
    return found == 15;
}

/* Value (anchor, col) of human's 896 x 17 batch: col 0 the logit, 1..16 the regressors. */
static float batch_value(const float *out, const layout *lay, int anchor, int col)
{
    int cls = anchor < 512 ? 0 : 1, reg = anchor < 512 ? 2 : 3;
    int row = anchor < 512 ? anchor : anchor - 512;
    int k = col == 0 ? cls : reg, cols = col == 0 ? 1 : 16, c = col == 0 ? 0 : col - 1;
    size_t t = (size_t)row * cols + c;
    return out[lay->offset[k] + (t % lay->channels[k]) * lay->hw[k] + t / lay->channels[k]];
}

static int close_to(double a, double b)
{
    return fabs(a - b) <= TOL_ABS + TOL_REL * fabs(b);
}

static float min_score, nms_iou; /* the generator's thresholds */

static void check_frame(const cJSON *jf, const char *root, const char *model,
                        const char *backend, const layout *lay, fer_face_detector *det)
{
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jf, "name"));
    const char *frame = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jf, "frame"));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, frame ? frame : "?");
    test_image im = {0, 0, NULL};
    CHECK(name && test_png_read(path, &im), "%s: cannot read", path);
    if (!name || !im.rgb)
        return;

    /* raw outputs, unfolded model */
    fer_backend *b;
    fer_model *m;
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    OK(fer_backend_new(backend, 1, &b));
    OK(fer_checkpoint_load(model, b, 1, &m, &meta));
    int size = 256;
    float *x = malloc((size_t)3 * size * size * sizeof *x);
    size_t nout = fer_model_feature_size(m);
    float *out = malloc(nout * sizeof *out);
    fer_face_letterbox geom;
    fer_face_letterbox_rgb(im.rgb, 3 * im.w, 0, 0, im.w, im.h, size, x, &geom);
    OK(fer_model_forward(m, x, 1, FER_MODE_EVAL, NULL, 0, NULL));
    OK(fer_model_get_features(m, out, nout));
    double worst = 0.0;
    int bad = 0, n_vals = 0;
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive(jf, "logits"), *e;
    CHECK(cJSON_GetArraySize(jl) == 896, "%s: 896 logits in the fixture", name);
    int a = 0;
    cJSON_ArrayForEach(e, jl) {
        double ref = e->valuedouble, got = batch_value(out, lay, a++, 0);
        worst = fmax(worst, fabs(got - ref) / (TOL_ABS + TOL_REL * fabs(ref)));
        bad += !close_to(got, ref);
        n_vals++;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(jf, "regressors")) {
        int anchor = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "anchor"));
        const cJSON *v;
        int col = 1;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(e, "values")) {
            double ref = v->valuedouble, got = batch_value(out, lay, anchor, col++);
            worst = fmax(worst, fabs(got - ref) / (TOL_ABS + TOL_REL * fabs(ref)));
            bad += !close_to(got, ref);
            n_vals++;
        }
    }
    CHECK(bad == 0, "%s (%s): %d of %d raw values outside %g + %g|ref|", name, backend, bad,
          n_vals, TOL_ABS, TOL_REL);
    printf("%-10s %-4s raw: %d values, worst error/tolerance %.3f\n", name, backend, n_vals,
           worst);

    /* faces through the detector (folded model, one whole-frame pass) */
    fer_face faces[32];
    int n = 0;
    OK(fer_face_detector_detect(det, im.rgb, im.w, im.h, 3 * im.w, min_score, nms_iou, 0, faces,
                                32, &n));
    const cJSON *jfaces = cJSON_GetObjectItemCaseSensitive(jf, "faces");
    CHECK(n == cJSON_GetArraySize(jfaces), "%s (%s): %d faces, reference %d", name, backend, n,
          cJSON_GetArraySize(jfaces));
    double worst_px = 0.0, worst_score = 0.0;
    int i = 0;
    cJSON_ArrayForEach(e, jfaces) {
        if (i >= n)
            break;
        const fer_face *f = &faces[i++];
        const cJSON *box = cJSON_GetObjectItemCaseSensitive(e, "box");
        double ref[4], got[4] = {f->x, f->y, f->w, f->h};
        for (int k = 0; k < 4; k++)
            ref[k] = cJSON_GetArrayItem(box, k)->valuedouble;
        for (int k = 0; k < 4; k++)
            worst_px = fmax(worst_px, fabs(got[k] - ref[k]));
        int j = 0;
        const cJSON *kp;
        cJSON_ArrayForEach(kp, cJSON_GetObjectItemCaseSensitive(e, "keypoints")) {
            worst_px = fmax(worst_px, fabs(f->keypoints[j][0] - cJSON_GetArrayItem(kp, 0)->valuedouble));
            worst_px = fmax(worst_px, fabs(f->keypoints[j][1] - cJSON_GetArrayItem(kp, 1)->valuedouble));
            j++;
        }
        CHECK(j == 6 && f->n_keypoints == 6, "%s: 6 keypoints", name);
        worst_score = fmax(worst_score, fabs(f->score - cJSON_GetNumberValue(
                                                            cJSON_GetObjectItemCaseSensitive(e, "score"))));
    }
    CHECK(worst_px <= TOL_PX, "%s (%s): boxes/keypoints off by %.4f px (tolerance %g)", name,
          backend, worst_px, TOL_PX);
    CHECK(worst_score <= TOL_SCORE, "%s (%s): scores off by %.2e (tolerance %g)", name, backend,
          worst_score, TOL_SCORE);
    printf("%-10s %-4s faces: %d, worst box/keypoint %.4f px, worst score %.2e\n", name, backend,
           n, worst_px, worst_score);
    free(x);
    free(out);
    free(im.rgb);
    fer_model_free(m);
    fer_checkpoint_meta_clear(&meta);
    fer_backend_free(b);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_detector_golden GOLDEN_DIR REPO_ROOT MODEL.fer [BACKEND]\n");
        return 2;
    }
    const char *golden = argv[1], *root = argv[2], *model = argv[3];
    const char *backend = argc > 4 ? argv[4] : "cpu";
    if (access(model, R_OK) != 0) {
        printf("SKIP: %s not found (make it with data/models/fetch.sh BUILD_DIR)\n", model);
        return 77;
    }
    fer_face_detector *det;
    fer_status st = fer_face_detector_new(model, backend, 1, &det);
    if (st == FER_ERR_NODEVICE || st == FER_ERR_UNSUPPORTED) {
        printf("SKIP: backend %s: %s\n", backend, fer_last_error());
        return 77;
    }
    OK(st);
    CHECK(strcmp(fer_face_detector_backend_name(det), backend) == 0, "backend %s",
          fer_face_detector_backend_name(det));
    layout lay;
    CHECK(read_layout(model, &lay), "%s: outputs Identity.._3 in the header", model);
    char path[4096];
    snprintf(path, sizeof path, "%s/blazeface_golden.json", golden);
    char *text;
    OK(fer_read_file(path, 0, &text, NULL));
    cJSON *root_json = cJSON_Parse(text);
    min_score = (float)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(root_json, "min_score"));
    nms_iou = (float)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(root_json, "nms_iou"));
    CHECK(min_score > 0.0f && min_score < 1.0f && nms_iou > 0.0f && nms_iou < 1.0f,
          "%s: thresholds", path);
    const cJSON *jf;
    int frames = 0;
    cJSON_ArrayForEach(jf, cJSON_GetObjectItemCaseSensitive(root_json, "frames")) {
        check_frame(jf, root, model, backend, &lay, det);
        frames++;
    }
    CHECK(frames == 3, "%s: 3 frames", path);
    cJSON_Delete(root_json);
    free(text);
    fer_face_detector_free(det);
    return fer_check_summary("test_detector_golden");
}
