/* TTA views (shapes, mirror symmetry, crop geometry), the shared evaluation loop against
 * direct classifier calls (batch-size invariance, flip/tencrop averaging), logit adjustment
 * and tau tuning, on a tiny randomly initialised checkpoint. */
#include <string.h>
#include <unistd.h>

#include "fer/status.h"
#include "../common/fer_check.h"
#include "fer/checkpoint.h"
#include "fer/evaluate.h"

#define S FER_INPUT_SIZE
#define PX (S * S)

static void make_face(int seed, uint8_t *face)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            face[y * S + x] = (uint8_t)((x * 5 + y * 3 + seed * 37 + (x * y) % 11) & 0xff);
}

static void test_views(void)
{
    fer_norm norm = {0.5f, 0.5f};
    CHECK(fer_tta_n_views(FER_TTA_NONE) == 1 && fer_tta_n_views(FER_TTA_FLIP) == 2 &&
          fer_tta_n_views(FER_TTA_TENCROP) == 10);
    fer_tta t;
    CHECK(fer_tta_parse("tencrop", &t) == FER_OK && t == FER_TTA_TENCROP);
    CHECK(fer_tta_parse("flip", &t) == FER_OK && t == FER_TTA_FLIP);
    CHECK(fer_tta_parse("ten", &t) == FER_ERR_ARG && strstr(fer_last_error(), "tencrop"));
    CHECK(!strcmp(fer_tta_name(FER_TTA_TENCROP), "tencrop"));

    uint8_t face[PX];
    make_face(1, face);
    float plain[PX], views[10 * PX];
    fer_normalize_u8(face, PX, &norm, plain);
    /* guard values after the views catch writes past the documented shape */
    float buf[10 * PX + 16];
    for (int i = 0; i < 10 * PX + 16; i++)
        buf[i] = 12345.0f;
    fer_tta_make_views(FER_TTA_NONE, face, &norm, NULL, buf);
    CHECK(!memcmp(buf, plain, sizeof plain) && buf[PX] == 12345.0f);
    fer_tta_make_views(FER_TTA_FLIP, face, &norm, NULL, buf);
    CHECK(!memcmp(buf, plain, sizeof plain) && buf[2 * PX] == 12345.0f);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            CHECK(buf[PX + y * S + x] == plain[y * S + (S - 1 - x)]);
    for (int i = 0; i < 10 * PX + 16; i++)
        buf[i] = 12345.0f;
    fer_tta_make_views(FER_TTA_TENCROP, face, &norm, NULL, buf);
    CHECK(buf[10 * PX] == 12345.0f);
    memcpy(views, buf, sizeof views);
    for (int i = 0; i < 10 * PX; i++)
        CHECK(views[i] >= -1.0f && views[i] <= 1.0f);
    /* views 5..9 are the mirrors of views 0..4 (the resize treats left and right alike) */
    for (int k = 0; k < 5; k++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                CHECK_NEAR(views[(k + 5) * PX + y * S + x], views[k * PX + y * S + (S - 1 - x)],
                           2.5 / 127.5);
    /* crop geometry: a face bright only in its top-left 4x4 corner shows it in the top-left
     * crop (view 0) and not in the bottom-right one (view 3) */
    uint8_t corner[PX];
    memset(corner, 0, sizeof corner);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            corner[y * S + x] = 255;
    fer_tta_make_views(FER_TTA_TENCROP, corner, &norm, NULL, views);
    CHECK(views[0] > 0.9f);                 /* view 0, pixel (0,0) */
    CHECK(views[3 * PX] < -0.99f);          /* view 3: bottom-right crop, all dark */
    CHECK(views[4 * PX] > 0.5f);            /* centre crop starts at (2,2): still bright */
    CHECK(views[4 * PX + 10 * S + 10] < -0.99f);
    CHECK(views[5 * PX + S - 1] > 0.9f);    /* mirrored top-left crop: bright at top-right */
}

/* A resize that counts its calls (through a global: the callback has no context). */
static int resize_calls;
static void counting_resize(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    resize_calls++;
    CHECK(sw == FER_TTA_CROP && sh == FER_TTA_CROP && dw == S && dh == S);
    fer_resize_gray(src, sw, sh, sw, dst, dw, dh);
}

static const char *make_checkpoint(const char *dir, int with_prior)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/tiny_%d.fer", dir, with_prior);
    fer_arch arch;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_model *m;
    OK(fer_model_new(&arch, b, 4, &m));
    OK(fer_model_init(m, 7));
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.n_classes = arch.n_classes;
    if (with_prior) {
        meta.has_prior = 1;
        for (int k = 0; k < arch.n_classes; k++)
            meta.class_prior[k] = (float)(k + 1) / (arch.n_classes * (arch.n_classes + 1) / 2);
    }
    OK(fer_checkpoint_save(path, m, &meta, NULL));
    fer_checkpoint_meta_clear(&meta);
    fer_model_free(m);
    fer_backend_free(b);
    return path;
}

static void test_loop(const char *dir)
{
    fer_classifier *c;
    OK(fer_classifier_new(make_checkpoint(dir, 1), "ref", 1, 64, &c));
    int nc = fer_classifier_n_classes(c), n = 7;
    const fer_norm *norm = &fer_classifier_meta(c)->norm;
    uint8_t faces[7 * PX];
    int32_t labels[7];
    for (int i = 0; i < n; i++) {
        make_face(i, faces + i * PX);
        labels[i] = i % nc;
    }
    float direct[7 * FER_MAX_CLASSES], got[7 * FER_MAX_CLASSES], got2[7 * FER_MAX_CLASSES];
    float x[10 * PX], vl[10 * FER_MAX_CLASSES];
    /* none: the classifier on the normalised faces, whatever the batch size */
    for (int i = 0; i < n; i++) {
        fer_normalize_u8(faces + i * PX, PX, norm, x);
        OK(fer_classifier_run_f32(c, x, 1, direct + i * nc, NULL));
    }
    for (int bs = 1; bs <= 8; bs += 3) {
        fer_eval_options opt = {FER_TTA_NONE, bs, NULL, NULL, NULL};
        OK(fer_eval_logits(c, faces, n, &opt, got));
        for (int i = 0; i < n * nc; i++)
            CHECK_NEAR(got[i], direct[i], 1e-5);
    }
    /* flip and tencrop: the mean of the views' logits */
    for (int t = FER_TTA_FLIP; t <= FER_TTA_TENCROP; t++) {
        int views = fer_tta_n_views((fer_tta)t);
        resize_calls = 0;
        fer_eval_options opt = {(fer_tta)t, 3, counting_resize, NULL, NULL};
        OK(fer_eval_logits(c, faces, n, &opt, got));
        CHECK(resize_calls == (t == FER_TTA_TENCROP ? 10 * n : 0));
        opt.batch_size = 64;
        OK(fer_eval_logits(c, faces, n, &opt, got2));
        for (int i = 0; i < n; i++) {
            fer_tta_make_views((fer_tta)t, faces + i * PX, norm, NULL, x);
            OK(fer_classifier_run_f32(c, x, views, vl, NULL));
            for (int k = 0; k < nc; k++) {
                double mean = 0;
                for (int v = 0; v < views; v++)
                    mean += vl[v * nc + k];
                mean /= views;
                CHECK_NEAR(got[i * nc + k], mean, 1e-4);
                CHECK_NEAR(got2[i * nc + k], got[i * nc + k], 1e-5);
            }
        }
    }
    /* the whole loop: metrics over the labels, logits returned unadjusted */
    fer_metrics m;
    fer_eval_options opt = {FER_TTA_NONE, 4, NULL, NULL, NULL};
    OK(fer_evaluate_arrays(c, faces, labels, n, &opt, 0.0f, &m, got));
    CHECK(m.total == n && m.n_classes == nc && m.has_calibration);
    CHECK(!strcmp(m.class_names[0], fer_classifier_class_name(c, 0)));
    for (int i = 0; i < n * nc; i++)
        CHECK_NEAR(got[i], direct[i], 1e-5);
    OK(fer_evaluate_arrays(c, faces, labels, n, &opt, 1.0f, &m, NULL));
    CHECK(fer_evaluate_arrays(c, faces, labels, 0, &opt, 0.0f, &m, NULL) == FER_OK &&
          m.total == 0);
    fer_classifier_free(c);

    /* no stored prior: logit adjustment is refused with a clear message */
    OK(fer_classifier_new(make_checkpoint(dir, 0), "ref", 1, 8, &c));
    CHECK(fer_evaluate_arrays(c, faces, labels, n, &opt, 1.0f, &m, NULL) == FER_ERR_ARG);
    CHECK(strstr(fer_last_error(), "prior"));
    fer_classifier_free(c);
}

static void test_adjustment(void)
{
    /* 3 classes with prior 0.7 / 0.2 / 0.1 and flat logits: tau 0 picks class 0 (first of
     * ties), any tau > 0 picks the rarest class */
    const float prior[3] = {0.7f, 0.2f, 0.1f};
    float lp[3];
    fer_log_prior(prior, 3, lp);
    CHECK_NEAR(lp[0], log(0.7), 1e-6);
    float flat[3] = {1.0f, 1.0f, 1.0f};
    int32_t label = 2, pred;
    float probs[3];
    fer_metrics m;
    fer_metrics_init(&m, 3, NULL);
    fer_eval_score(flat, &label, 1, 3, NULL, 0.0f, &m, &pred, probs);
    CHECK(pred == 0 && m.accuracy == 0.0);
    CHECK_NEAR(probs[0] + probs[1] + probs[2], 1.0, 1e-6);
    CHECK_NEAR(probs[1], 1.0 / 3.0, 1e-6);
    fer_metrics_init(&m, 3, NULL);
    fer_eval_score(flat, &label, 1, 3, lp, 0.5f, &m, &pred, probs);
    CHECK(pred == 2 && m.accuracy == 1.0);
    /* adjusted probabilities follow prior^-tau */
    CHECK_NEAR(probs[2] / probs[0], pow(0.7 / 0.1, 0.5), 1e-4);
    float zero[3] = {0};
    fer_log_prior(zero, 3, lp);
    CHECK(isfinite(lp[0]) && lp[0] < -20);

    /* tuning: a model biased toward the frequent class; adjustment recovers the rare ones */
    enum { N = 60 };
    float logits[N * 3];
    int32_t labels[N];
    for (int i = 0; i < N; i++) {
        labels[i] = i < 40 ? 0 : i < 52 ? 1 : 2;
        float *z = logits + i * 3;
        z[0] = 2.0f;
        z[1] = labels[i] == 1 ? 1.5f : 0.0f;
        z[2] = labels[i] == 2 ? 1.2f : -0.5f;
    }
    fer_log_prior(prior, 3, lp);
    double best_f1;
    float tau = fer_eval_tune_tau(logits, labels, N, 3, lp, &best_f1);
    fer_metrics at0;
    fer_metrics_init(&at0, 3, NULL);
    fer_eval_score(logits, labels, N, 3, lp, 0.0f, &at0, NULL, NULL);
    CHECK(tau > 0.0f && tau <= FER_TAU_GRID_MAX);
    CHECK(best_f1 > at0.macro_f1 && best_f1 == 1.0);
    /* the grid step: tau is a multiple of 0.05 */
    CHECK_NEAR(tau / FER_TAU_GRID_STEP, floor(tau / FER_TAU_GRID_STEP + 0.5), 1e-4);
}

int main(void)
{
    char dir[] = "/tmp/fer_test_tta_XXXXXX";
    CHECK(mkdtemp(dir));
    test_views();
    test_loop(dir);
    test_adjustment();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    printf("tta/evaluate: all checks passed\n");
    return 0;
}
