/* Face preprocessing: normalisation, area resize (identity, integer and fractional ratios,
 * upsampling), square crops shifted into the frame, and the classifier that uses them. */
#include <string.h>
#include <unistd.h>

#include "fer/checkpoint.h"
#include "fer/classifier.h"
#include "fer/preprocess.h"
#include "fer/rng_math.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

static void test_normalize(void)
{
    const uint8_t px[3] = {0, 255, 51};
    float out[3];
    fer_norm n = {0.5f, 0.5f};
    fer_normalize_u8(px, 3, &n, out);
    CHECK_NEAR(out[0], -1.0, 1e-7, "%s", "0 -> -1");
    CHECK_NEAR(out[1], 1.0, 1e-7, "%s", "255 -> 1");
    CHECK_NEAR(out[2], (51 / 255.0 - 0.5) / 0.5, 1e-6, "%s", "51");
}

static void test_resize(void)
{
    uint8_t src[96 * 96], dst[48 * 48];
    for (int i = 0; i < 96 * 96; i++)
        src[i] = (uint8_t)(fer_rng_uniform(3, (uint64_t)i) * 256);
    /* identity */
    uint8_t id[96 * 96];
    fer_resize_gray(src, 96, 96, 96, id, 96, 96);
    CHECK(memcmp(src, id, sizeof id) == 0, "identity resize");
    /* 2:1 = mean of 2x2 cells, rounded half up */
    fer_resize_gray(src, 96, 96, 96, dst, 48, 48);
    int bad = 0;
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++) {
            int s = src[2 * y * 96 + 2 * x] + src[2 * y * 96 + 2 * x + 1] +
                    src[(2 * y + 1) * 96 + 2 * x] + src[(2 * y + 1) * 96 + 2 * x + 1];
            bad += dst[y * 48 + x] != (s + 2) / 4;
        }
    CHECK(bad == 0, "2:1 area average: %d pixels differ", bad);
    /* stride: a 48x48 window of a wider image */
    uint8_t win[48 * 48];
    fer_resize_gray(src + 10 * 96 + 7, 48, 48, 96, win, 48, 48);
    CHECK(win[0] == src[10 * 96 + 7] && win[47 * 48 + 47] == src[57 * 96 + 54], "stride");
    /* fractional 3:2: a constant image stays constant, a ramp stays monotone */
    uint8_t c72[72 * 72], ramp[72 * 72];
    memset(c72, 77, sizeof c72);
    for (int y = 0; y < 72; y++)
        for (int x = 0; x < 72; x++)
            ramp[y * 72 + x] = (uint8_t)(x * 3);
    fer_resize_gray(c72, 72, 72, 72, dst, 48, 48);
    for (int i = 0; i < 48 * 48; i++)
        bad += dst[i] != 77;
    CHECK(bad == 0, "constant 72 -> 48");
    fer_resize_gray(ramp, 72, 72, 72, dst, 48, 48);
    for (int x = 1; x < 48; x++)
        bad += dst[x] < dst[x - 1];
    CHECK(bad == 0 && dst[0] < 5 && dst[47] > 200, "ramp 72 -> 48: %d %d", dst[0], dst[47]);
    /* upsampling is bilinear: constant stays constant, values stay within range */
    uint8_t small[24 * 24];
    memset(small, 200, sizeof small);
    small[0] = 0;
    fer_resize_gray(small, 24, 24, 24, dst, 48, 48);
    CHECK(dst[0] == 0 && dst[47 * 48 + 47] == 200 && dst[2] > 0 && dst[2] <= 200,
          "upsampling %d %d", dst[0], dst[2]);
}

static void test_crop(void)
{
    enum { W = 160, H = 120 };
    static uint8_t img[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            img[y * W + x] = (uint8_t)((x * 7 + y * 3) & 0xFF);
    uint8_t out[48 * 48];
    /* a 48x48 box with no margin inside the frame is copied exactly */
    fer_crop_face_48(img, W, H, W, 30, 20, 48, 48, 0.0f, out);
    CHECK(out[0] == img[20 * W + 30] && out[47 * 48 + 47] == img[67 * W + 77], "exact crop");
    /* a box at the top-right corner: side 20 * (1 + 2 * 0.7) = 48, centred at (150, 20), so
     * the square [126, 174) x [-4, 44) shifts to [112, 160) x [0, 48) instead of being cut */
    fer_crop_face_48(img, W, H, W, 140, 10, 20, 20, 0.7f, out);
    int bad = 0;
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 48; x++)
            bad += out[y * 48 + x] != img[y * W + 112 + x];
    CHECK(bad == 0, "shifted into the frame: %d pixels differ", bad);
    /* a box larger than the frame is shrunk to the frame's short side (120), centred at
     * (150, 150), then shifted inside: [40, 160) x [0, 120) */
    fer_crop_face_48(img, W, H, W, -50, -50, 400, 400, 0.2f, out);
    uint8_t ref[48 * 48];
    fer_resize_gray(img + 40, H, H, W, ref, 48, 48);
    CHECK(memcmp(out, ref, sizeof out) == 0, "oversized box");
}

static void test_classifier(void)
{
    char dir[] = "/tmp/fer_clf_XXXXXX";
    if (!mkdtemp(dir))
        abort();
    char path[256];
    snprintf(path, sizeof path, "%s/tiny.fer", dir);
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_arch a;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &a));
    fer_model *m;
    OK(fer_model_new(&a, b, 7, &m));
    OK(fer_model_init(m, 11));
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.norm.mean = 0.4f;
    meta.norm.std = 0.3f;
    OK(fer_checkpoint_save(path, m, &meta, NULL));

    enum { N = 7 };
    static uint8_t faces[N * 48 * 48];
    static float x[N * 48 * 48];
    for (int i = 0; i < N * 48 * 48; i++)
        faces[i] = (uint8_t)(fer_rng_uniform(4, (uint64_t)i) * 256);
    fer_normalize_u8(faces, N * 48 * 48, &meta.norm, x);
    float want[N * 7];
    OK(fer_model_forward(m, x, N, FER_MODE_EVAL, NULL, 0, want));

    fer_classifier *c;
    OK(fer_classifier_new(path, "ref", 1, 3, &c)); /* max_batch 3: 3 + 3 + 1 */
    CHECK(fer_classifier_n_classes(c) == 7 && strcmp(fer_classifier_class_name(c, 3), "happy") == 0,
          "classes");
    CHECK(strcmp(fer_classifier_backend_name(c), "ref") == 0, "backend name");
    CHECK(fer_classifier_meta(c)->norm.mean == 0.4f, "meta norm");
    float logits[N * 7], probs[N * 7], logits2[N * 7];
    OK(fer_classifier_run_u8(c, faces, N, logits, probs));
    for (int i = 0; i < N * 7; i++)
        CHECK_NEAR(logits[i], want[i], 1e-5, "%s", "classifier logits (normalisation from the file)");
    for (int r = 0; r < N; r++) {
        double s = 0;
        for (int j = 0; j < 7; j++)
            s += probs[r * 7 + j];
        CHECK_NEAR(s, 1.0, 1e-5, "%s", "probabilities sum to 1");
    }
    OK(fer_classifier_run_f32(c, x, N, logits2, NULL));
    CHECK(memcmp(logits, logits2, sizeof logits) == 0, "f32 and u8 paths agree");
    OK(fer_classifier_run_u8(c, faces, 0, NULL, NULL));
    fer_classifier_free(c);

    fer_classifier *c2;
    CHECK(fer_classifier_new("/nonexistent.fer", "ref", 1, 4, &c2) == FER_ERR_IO, "missing file");
    CHECK(fer_classifier_new(path, "tpu", 1, 4, &c2) == FER_ERR_ARG, "unknown backend");
    fer_model_free(m);
    fer_backend_free(b);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_normalize();
    test_resize();
    test_crop();
    test_classifier();
    return fer_check_summary("test_preprocess");
}
