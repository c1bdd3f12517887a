/* The converted TinyFaceDetector (fer-convert-tfjs from @vladmandic/face-api 1.7.15's weights
 * manifest) against the package's own network code on TensorFlow.js's CPU backend
 * (tests/detector/make_golden_tiny.mjs), on a 416x416 crop of data/samples/astronaut.png (the
 * network's input size: no resize on either side):
 *   raw outputs: the whole 13x13x25 YOLO grid (4225 values);
 *   faces through fer_face_detector_detect at the package's defaults (score 0.5, NMS IoU 0.4):
 *     the same count, scores and boxes.
 *   Usage: test_tinyface_golden GOLDEN_DIR REPO_ROOT MODEL.fer [BACKEND]
 * Exit 77 (skipped) when MODEL.fer is absent (data/models/fetch.sh --tiny makes it) or the
 * backend has no device. */
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

/* float32 on both sides, in different summation orders through 15 convolutions (the worst
 * raw difference seen is 4e-6): raw values within TOL_ABS + TOL_REL * |ref|; the sigmoid
 * scores within TOL_SCORE; box sides and corners within TOL_PX crop pixels. */
#define TOL_ABS 2e-5
#define TOL_REL 2e-5
#define TOL_SCORE 1e-5
#define TOL_PX 0.01

static const cJSON *item(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_tinyface_golden GOLDEN_DIR REPO_ROOT MODEL.fer [BACKEND]\n");
        return 2;
    }
    const char *golden = argv[1], *root = argv[2], *model = argv[3];
    const char *backend = argc > 4 ? argv[4] : "cpu";
    if (access(model, R_OK) != 0) {
        printf("SKIP: %s not found (make it with data/models/fetch.sh --tiny BUILD_DIR)\n", model);
        return 77;
    }
    fer_face_detector *det;
    fer_status st = fer_face_detector_new(model, backend, 1, &det);
    if (st == FER_ERR_NODEVICE || st == FER_ERR_UNSUPPORTED) {
        printf("SKIP: backend %s: %s\n", backend, fer_last_error());
        return 77;
    }
    OK(st);
    CHECK(fer_face_detector_input_size(det) == 416, "input %d", fer_face_detector_input_size(det));

    char path[4096];
    snprintf(path, sizeof path, "%s/tinyface_golden.json", golden);
    char *text;
    OK(fer_read_file(path, 0, &text, NULL));
    cJSON *g = cJSON_Parse(text);
    const cJSON *crop = item(g, "crop"), *raw = item(g, "raw");
    int cx = (int)cJSON_GetNumberValue(cJSON_GetArrayItem(crop, 0));
    int cy = (int)cJSON_GetNumberValue(cJSON_GetArrayItem(crop, 1));
    int size = (int)cJSON_GetNumberValue(item(g, "size"));
    float min_score = (float)cJSON_GetNumberValue(item(g, "min_score"));
    float nms_iou = (float)cJSON_GetNumberValue(item(g, "nms_iou"));
    CHECK(size == 416 && cJSON_GetArraySize(raw) == 13 * 13 * 25, "%s: a 416 crop, 4225 values",
          path);
    snprintf(path, sizeof path, "%s/data/samples/%s", root,
             cJSON_GetStringValue(item(g, "image")));
    test_image im = {0, 0, NULL};
    CHECK(test_png_read(path, &im), "%s: cannot read", path);
    if (!im.rgb || im.w < cx + size || im.h < cy + size || fer_check_failures)
        return fer_check_summary("test_tinyface_golden");
    const uint8_t *crop_rgb = im.rgb + ((size_t)cy * im.w + cx) * 3;

    /* raw outputs, unfolded model; the flat output is NCHW (25 x 13 x 13), the fixture NHWC */
    fer_backend *b;
    fer_model *m;
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    OK(fer_backend_new(backend, 1, &b));
    OK(fer_checkpoint_load(model, b, 1, &m, &meta));
    size_t nout = fer_model_feature_size(m);
    CHECK(nout == 4225, "%zu outputs", nout);
    float *x = malloc((size_t)3 * size * size * sizeof *x), *out = malloc(nout * sizeof *out);
    fer_face_letterbox geom;
    fer_face_letterbox_rgb(crop_rgb, 3 * im.w, 0, 0, size, size, size, x, &geom);
    CHECK(geom.scale == 1.0f && geom.off_x == 0.0f && geom.off_y == 0.0f, "letterbox not 1:1");
    OK(fer_model_forward(m, x, 1, FER_MODE_EVAL, NULL, 0, NULL));
    OK(fer_model_get_features(m, out, nout));
    int t = 0, bad = 0;
    double worst = 0.0, worst_got = 0.0, worst_ref = 0.0;
    const cJSON *e;
    cJSON_ArrayForEach(e, raw) {
        if ((size_t)t >= nout)
            break;
        double ref = e->valuedouble, got = out[(t % 25) * 169 + t / 25];
        double ratio = fabs(got - ref) / (TOL_ABS + TOL_REL * fabs(ref));
        if (ratio > worst)
            worst = ratio, worst_got = got, worst_ref = ref;
        bad += !(ratio <= 1.0);
        t++;
    }
    CHECK(bad == 0, "%s: %d of %d raw values outside %g + %g|ref|", backend, bad, t, TOL_ABS,
          TOL_REL);
    printf("tinyface %-4s raw: %d values, worst error/tolerance %.3f (%.6g, reference %.6g)\n",
           backend, t, worst, worst_got, worst_ref);

    /* faces through the detector (folded model, one whole-frame pass), in crop pixels */
    fer_face faces[32];
    int n = 0;
    OK(fer_face_detector_detect(det, crop_rgb, size, size, 3 * im.w, min_score, nms_iou, 0, faces,
                                32, &n));
    const cJSON *jfaces = item(g, "faces");
    CHECK(n == cJSON_GetArraySize(jfaces) && n > 0, "%s: %d faces, reference %d", backend, n,
          cJSON_GetArraySize(jfaces));
    double worst_px = 0.0, worst_score = 0.0;
    int i = 0;
    cJSON_ArrayForEach(e, jfaces) {
        if (i >= n)
            break;
        const cJSON *box = item(e, "box");
        float ref[4], got[4] = {faces[i].x, faces[i].y, faces[i].w, faces[i].h};
        for (int k = 0; k < 4; k++) {
            ref[k] = (float)cJSON_GetNumberValue(cJSON_GetArrayItem(box, k));
            worst_px = fmax(worst_px, fabs(got[k] - ref[k]));
        }
        double ds = fabs(faces[i].score - cJSON_GetNumberValue(item(e, "score")));
        worst_score = fmax(worst_score, ds);
        CHECK(ds <= TOL_SCORE, "%s face %d: score %g, reference %g", backend, i, faces[i].score,
              cJSON_GetNumberValue(item(e, "score")));
        CHECK(faces[i].n_keypoints == 0, "face %d has keypoints", i);
        i++;
    }
    CHECK(worst_px <= TOL_PX, "%s: boxes differ by %g px (tolerance %g)", backend, worst_px,
          TOL_PX);
    printf("tinyface %-4s faces: %d, worst box error %.4f px, score %.2g\n", backend, n, worst_px,
           worst_score);
    free(x);
    free(out);
    free(im.rgb);
    fer_model_free(m);
    fer_backend_free(b);
    fer_checkpoint_meta_clear(&meta);
    cJSON_Delete(g);
    free(text);
    fer_face_detector_free(det);
    return fer_check_summary("test_tinyface_golden");
}
