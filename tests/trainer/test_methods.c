/* Issue-21 training methods of fer-train:
 * 1. math (fer/loss_math.h, losses.c): LDAM margins K/n^(1/4) with the largest = max_margin;
 *    the LDAM row loss against a double-precision evaluation of its formula and its gradient
 *    against central finite differences; LDAM with margin 0 and s = 1 is cross-entropy; the
 *    distillation term likewise, zero (with zero gradient) when student and teacher agree;
 * 2. --tencrop_train: each of the ten training views is fer-eval's ten-crop view, byte for byte
 *    after normalisation; the draw picks all ten, and leaves the rotation draw alone;
 * 3. --drs_epoch's sampler switch; end to end on an imbalanced set with --loss ldam,
 *    --drw_epoch, --drs_epoch and --tencrop_train: interrupted before and after the switches
 *    and resumed, bit-identical to the straight run; DRW and DRS each change the training;
 * 4. --teacher: a student distilled with kd_alpha 1 is nearer the teacher (KL at T) than one
 *    trained on labels; an ensemble's probabilities are the mean of its members' tempered
 *    softmax; an ensemble of two runs and resumes exactly; a garbage, a truncated, a missing
 *    teacher file and one with another class count are refused in one line naming the file;
 *    bad values of the new flags are usage errors; --help lists every new flag.
 * argv[1]: the fer-train executable. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include "fer/augment.h"
#include "fer/checkpoint.h"
#include "fer/evaluate.h"
#include "fer/loss_math.h"
#include "fer/losses.h"
#include "fixtures.h"
#include "rng.h"
#include "train_loss.h"

static const char *fer_train;
static char root[4096], runs[4096], logp[4300];

/* ---- 1. math ----------------------------------------------------------------------------- */

/* -w * log softmax(s * (z - m e_y))_y in double */
static double ldam_reference(const float *z, int c, int y, double m, double s, double w)
{
    double mx = -1e300, v[8], sum = 0;
    for (int j = 0; j < c; j++) {
        v[j] = s * ((double)z[j] - (j == y ? m : 0.0));
        mx = fmax(mx, v[j]);
    }
    for (int j = 0; j < c; j++) sum += exp(v[j] - mx);
    return -w * (v[y] - mx - log(sum));
}

/* T^2 * KL(pt || softmax(z / T)) in double */
static double kd_reference(const float *z, const float *pt, int c, double T)
{
    double mx = -1e300, sum = 0, kl = 0;
    for (int j = 0; j < c; j++) mx = fmax(mx, z[j] / T);
    for (int j = 0; j < c; j++) sum += exp(z[j] / T - mx);
    for (int j = 0; j < c; j++)
        if (pt[j] > 0) kl += pt[j] * (log((double)pt[j]) - (z[j] / T - mx - log(sum)));
    return T * T * kl;
}

static void math(void)
{
    /* margins: 0.5 * (n_min_count / n)^(1/4): the rarest class gets 0.5 */
    const int64_t counts[4] = {1600, 100, 1, 0};
    float m[4];
    CHECK(fer_ldam_margins(counts, 4, 0.5f, m) == FER_OK);
    CHECK(fabsf(m[2] - 0.5f) < 1e-7f && fabsf(m[3] - 0.5f) < 1e-7f); /* 0 counts as 1 */
    CHECK(fabsf(m[1] - 0.5f / sqrtf(sqrtf(100.0f))) < 1e-7f);
    CHECK(fabsf(m[0] - 0.5f / sqrtf(sqrtf(1600.0f))) < 1e-7f);
    CHECK(fabsf(m[0] / m[1] - 0.5f) < 1e-6f); /* 16x the count: half the margin */
    CHECK(fer_ldam_margins(counts, 4, 0.0f, m) == FER_ERR_ARG);
    const int64_t negative[2] = {3, -1};
    CHECK(fer_ldam_margins(negative, 2, 0.5f, m) == FER_ERR_ARG);

    const int c = 7;
    const float z[7] = {0.3f, -1.2f, 0.8f, 0.05f, -0.4f, 1.1f, -0.7f};
    double worst_val = 0, worst_grad = 0;
    for (int y = 0; y < c; y++) {
        const float margin = 0.1f + 0.05f * (float)y, s = y % 2 ? 30.0f : 4.0f,
                    w = 0.5f + 0.25f * (float)y;
        float dz[7];
        float loss = fer_ldam_row(z, c, y, margin, s, w, dz);
        double ref = ldam_reference(z, c, y, margin, s, w);
        worst_val = fmax(worst_val, fabs(loss - ref) / fmax(1.0, fabs(ref)));
        for (int j = 0; j < c; j++) { /* central differences of the double formula */
            const double h = 1e-3;
            float zp[7], zm[7];
            memcpy(zp, z, sizeof zp);
            memcpy(zm, z, sizeof zm);
            zp[j] += (float)h;
            zm[j] -= (float)h;
            double fd = (ldam_reference(zp, c, y, margin, s, w) -
                         ldam_reference(zm, c, y, margin, s, w)) / ((double)zp[j] - zm[j]);
            worst_grad = fmax(worst_grad, fabs(dz[j] - fd) / fmax(1.0, fabs(fd)));
        }
    }
    printf("LDAM row: max relative error of the loss %.2e, of the gradient vs central "
           "differences %.2e\n", worst_val, worst_grad);
    /* float rows of 7 terms: ~1e-6; differences with h = 1e-3 at s = 30: O((s h)^2 / 6) ~ 2e-4 */
    CHECK(worst_val < 1e-5);
    CHECK(worst_grad < 2e-3);
    /* no margin, s = 1, w = 1: cross-entropy, as fer_loss_row */
    float d1[7], d2[7];
    float a = fer_ldam_row(z, c, 2, 0.0f, 1.0f, 1.0f, d1);
    float b = fer_loss_row(z, NULL, c, 2, NULL, NULL, 0.0f, 0.0f, d2);
    CHECK(fabsf(a - b) < 1e-6f);
    for (int j = 0; j < c; j++) CHECK(fabsf(d1[j] - d2[j]) < 1e-6f);

    /* distillation term */
    worst_val = worst_grad = 0;
    const float teacher_z[7] = {1.5f, -0.3f, 0.2f, 0.9f, -2.0f, 0.4f, 0.0f};
    for (int k = 0; k < 4; k++) {
        const float T = k == 0 ? 1.0f : k == 1 ? 2.0f : k == 2 ? 4.0f : 10.0f, scale = 0.7f;
        float pt[7], dz[7] = {0};
        fer_softmax_row_temp(teacher_z, c, T, pt);
        if (k == 3) pt[4] = 0, pt[0] += fer_row_max(pt, 1) * 0; /* a zero probability: 0 log 0 */
        float sum = 0;
        for (int j = 0; j < c; j++) sum += pt[j];
        for (int j = 0; j < c; j++) pt[j] /= sum;
        float kd = fer_kd_row(z, pt, c, T, scale, dz);
        double ref = kd_reference(z, pt, c, T);
        worst_val = fmax(worst_val, fabs(kd - ref) / fmax(1.0, fabs(ref)));
        for (int j = 0; j < c; j++) {
            const double h = 1e-2;
            float zp[7], zm[7];
            memcpy(zp, z, sizeof zp);
            memcpy(zm, z, sizeof zm);
            zp[j] += (float)h;
            zm[j] -= (float)h;
            double fd = scale * (kd_reference(zp, pt, c, T) - kd_reference(zm, pt, c, T)) /
                        ((double)zp[j] - zm[j]);
            worst_grad = fmax(worst_grad, fabs(dz[j] - fd) / fmax(1.0, fabs(fd)));
        }
    }
    printf("distillation row: max relative error of the loss %.2e, of the gradient vs central "
           "differences %.2e\n", worst_val, worst_grad);
    CHECK(worst_val < 1e-5);
    CHECK(worst_grad < 1e-4); /* h = 1e-2 on z / T >= z / 10 ... z: O(h^2) ~ 1e-5 */
    /* the student equals the teacher: no loss, no gradient; dz accumulates */
    float pt[7], dz[7];
    for (int j = 0; j < c; j++) dz[j] = 1.0f;
    fer_softmax_row_temp(z, c, 4.0f, pt);
    CHECK(fabsf(fer_kd_row(z, pt, c, 4.0f, 1.0f, dz)) < 1e-5f);
    for (int j = 0; j < c; j++) CHECK(fabsf(dz[j] - 1.0f) < 1e-6f);
}

/* ---- 2. ten-crop training views ------------------------------------------------------------ */

static void tencrop(void)
{
    uint8_t face[48 * 48], out[48 * 48];
    for (int i = 0; i < 48 * 48; i++) face[i] = (uint8_t)((i * 37 + (i / 48) * 11) % 251);
    fer_norm norm = {0.5f, 0.5f};
    static float views[10 * 48 * 48];
    fer_tta_make_views(FER_TTA_TENCROP, face, &norm, fer_resize_bilinear_pil, views);
    fer_augment_config cfg;
    fer_augment_config_seed(&cfg);
    cfg.tencrop = 1;
    for (int k = 0; k < 10; k++) {
        fer_augment_params p;
        memset(&p, 0, sizeof p);
        p.jitter_scale = 1.0;
        fer_augment_tencrop_view(&cfg, k, &p);
        fer_augment_apply(&cfg, &p, face, out);
        for (int i = 0; i < 48 * 48; i++) {
            float x = fer_normalize_pixel(out[i], norm.mean, norm.std);
            if (x != views[k * 48 * 48 + i]) {
                fprintf(stderr, "ten-crop view %d differs from fer-eval's at pixel %d\n", k, i);
                exit(1);
            }
        }
    }
    /* the draw: every view, the same rotation as without --tencrop_train */
    int seen[10] = {0};
    fer_augment_config plain;
    fer_augment_config_seed(&plain);
    for (uint64_t seed = 1; seed <= 400; seed++) {
        fer_augment_params p, q, v;
        fer_augment_draw(&cfg, seed, &p);
        fer_augment_draw(&plain, seed, &q);
        CHECK(p.degrees == q.degrees);
        int k = 0;
        for (; k < 10; k++) {
            memset(&v, 0, sizeof v);
            fer_augment_tencrop_view(&cfg, k, &v);
            if (v.flip == p.flip && v.top == p.top && v.left == p.left) break;
        }
        CHECK(k < 10);
        seen[k]++;
    }
    for (int k = 0; k < 10; k++) CHECK(seen[k] > 15); /* 40 expected of each; P(<= 15) ~ 1e-6 */
}

/* ---- 3. end to end: LDAM, DRW, DRS ------------------------------------------------------------ */

#define EXPECT_EXIT(call, code) FX_EXPECT_EXIT(call, code, logp)

/* fer-train on the fixture with the common flags, then extra (NULL-terminated) */
static int train(const char *exp, const char *const *extra)
{
    const char *args[80] = {fer_train, "--data_root", root, "--runs_dir", runs, "--exp", exp,
                            "--arch", "tiny", "--backend", "ref", "--threads", "2",
                            "--batch_size", "32", "--lr", "3e-3", "--progress", "plain"};
    size_t n = 19;
    for (; extra && *extra; extra++) {
        CHECK(n < sizeof args / sizeof *args);
        args[n++] = *extra;
    }
    return fx_train(args, n, NULL, NULL, NULL, runs, exp, logp, sizeof logp);
}

static void run_path(char *out, size_t cap, const char *exp, const char *name)
{
    snprintf(out, cap, "%s/%s/%s", runs, exp, name);
}

/* the parameters and buffers of two checkpoints, bit for bit */
static int same_weights(const char *a, const char *b)
{
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    fer_model *ma = NULL, *mb = NULL;
    CHECK(fer_checkpoint_load(a, be, 1, &ma, NULL) == FER_OK);
    CHECK(fer_checkpoint_load(b, be, 1, &mb, NULL) == FER_OK);
    int same = fer_model_n_tensors(ma) == fer_model_n_tensors(mb);
    for (int i = 0; same && i < fer_model_n_tensors(ma); i++) {
        fer_tensor_info ia, ib;
        CHECK(fer_model_tensor_info(ma, i, &ia) == FER_OK && fer_model_tensor_info(mb, i, &ib) == FER_OK);
        float *ha = malloc(ia.numel * sizeof(float)), *hb = malloc(ia.numel * sizeof(float));
        CHECK(ha && hb && ia.numel == ib.numel);
        CHECK(fer_model_get_tensor(ma, ia.name, ha, ia.numel) == FER_OK);
        CHECK(fer_model_get_tensor(mb, ib.name, hb, ib.numel) == FER_OK);
        same = !memcmp(ha, hb, ia.numel * sizeof(float));
        free(ha), free(hb);
    }
    fer_model_free(ma), fer_model_free(mb);
    fer_backend_free(be);
    return same;
}

static void straight_and_resumed(const char *tag, const char *const *flags)
{
    char straight[64], cut[64], path[4500];
    snprintf(straight, sizeof straight, "%s_straight", tag);
    snprintf(cut, sizeof cut, "%s_cut", tag);
    const char *extra[40];
    size_t n = 0;
    for (; flags[n]; n++) extra[n] = flags[n];
    extra[n] = NULL;
    EXPECT_EXIT(train(straight, extra), 0);
    /* 3 batches an epoch, switches after epoch 2: stop in epoch 2 (batch 1), then in epoch 3
     * (batch 1, after the switch), then finish */
    extra[n] = "--interrupt_after", extra[n + 1] = "4", extra[n + 2] = NULL;
    EXPECT_EXIT(train(cut, extra), 130);
    run_path(path, sizeof path, cut, "last.fer");
    const char *again[] = {"--resume", path, "--interrupt_after", "3", NULL};
    EXPECT_EXIT(train(cut, again), 130);
    const char *finish[] = {"--resume", path, NULL};
    EXPECT_EXIT(train(cut, finish), 0);
    char a[4500];
    run_path(a, sizeof a, straight, "last.fer");
    fx_same_training_state(a, path);
    fx_same_test_metrics(runs, straight, cut);
    char b1[4500], b2[4500];
    run_path(b1, sizeof b1, straight, "best.fer");
    run_path(b2, sizeof b2, cut, "best.fer");
    CHECK(same_weights(b1, b2));
}

static void imbalance_methods(void)
{
    CHECK(fer_trainer_epoch_sampler(&(fer_trainer){.o.drs_epoch = 0, .sampler =
                                                   FER_SAMPLER_DEFAULT}, 5) ==
          FER_SAMPLER_DEFAULT);
    fer_trainer t = {.o.drs_epoch = 3, .sampler = FER_SAMPLER_DEFAULT};
    CHECK(fer_trainer_epoch_sampler(&t, 2) == FER_SAMPLER_DEFAULT);
    CHECK(fer_trainer_epoch_sampler(&t, 3) == FER_SAMPLER_BALANCED);
    CHECK(fer_trainer_epoch_sampler(&t, 9) == FER_SAMPLER_BALANCED);

    const char *all[] = {"--epochs", "4", "--loss", "ldam", "--ldam_s", "5", "--drw_epoch", "2",
                         "--drs_epoch", "2", "--tencrop_train", NULL};
    straight_and_resumed("ldam", all);
    char *log = fx_read_file(logp, NULL);
    CHECK(log && !strstr(log, "nan"));
    free(log);
    /* each switch changes the training from where it acts: drop one at a time */
    const char *no_drw[] = {"--epochs", "4", "--loss", "ldam", "--ldam_s", "5",
                            "--drs_epoch", "2", "--tencrop_train", NULL};
    const char *no_drs[] = {"--epochs", "4", "--loss", "ldam", "--ldam_s", "5",
                            "--drw_epoch", "2", "--tencrop_train", NULL};
    const char *no_drw_2[] = {"--epochs", "2", "--loss", "ldam", "--ldam_s", "5",
                              "--drs_epoch", "2", "--tencrop_train", NULL};
    const char *all_2[] = {"--epochs", "2", "--loss", "ldam", "--ldam_s", "5", "--drw_epoch", "2",
                           "--drs_epoch", "2", "--tencrop_train", NULL};
    EXPECT_EXIT(train("no_drw", no_drw), 0);
    EXPECT_EXIT(train("no_drs", no_drs), 0);
    char p1[4500], p2[4500], p3[4500];
    run_path(p1, sizeof p1, "ldam_straight", "last.fer");
    run_path(p2, sizeof p2, "no_drw", "last.fer");
    run_path(p3, sizeof p3, "no_drs", "last.fer");
    CHECK(!same_weights(p1, p2));
    CHECK(!same_weights(p1, p3));
    /* ... and not before: two epochs are the same with or without the switches */
    EXPECT_EXIT(train("early_a", no_drw_2), 0);
    EXPECT_EXIT(train("early_b", all_2), 0);
    char a[4500], b[4500];
    run_path(a, sizeof a, "early_a", "last.fer");
    run_path(b, sizeof b, "early_b", "last.fer");
    fx_same_training_state(a, b);
    /* --loss ce with DRW composes too */
    const char *ce_drw[] = {"--epochs", "3", "--drw_epoch", "1", NULL};
    EXPECT_EXIT(train("ce_drw", ce_drw), 0);
}

/* ---- 4. distillation ----------------------------------------------------------------------- */

/* the fixture's 30 test images (3 classes x 10, after 30 train and 10 val rows per class),
 * normalised */
static const float *test_images(void)
{
    static float x[30 * 48 * 48];
    uint8_t img[48 * 48];
    for (int k = 0; k < 10; k++)
        for (int c = 0; c < 3; c++) {
            int row = 3 * 30 + 3 * 10 + 3 * k + c;
            fx_face(row, c, 3, img);
            for (int i = 0; i < 48 * 48; i++)
                x[(size_t)(3 * k + c) * 48 * 48 + i] = fer_normalize_pixel(img[i], 0.5f, 0.5f);
        }
    return x;
}

/* mean over the test images of T^2 KL(teacher_T || model_T) */
static double mean_kl(const char *teacher_ckpt, const char *student_ckpt, double T)
{
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    fer_model *mt = NULL, *ms = NULL;
    CHECK(fer_checkpoint_load(teacher_ckpt, be, 64, &mt, NULL) == FER_OK);
    CHECK(fer_checkpoint_load(student_ckpt, be, 64, &ms, NULL) == FER_OK);
    const float *x = test_images();
    float lt[30 * 3], ls[30 * 3];
    CHECK(fer_model_forward(mt, x, 30, FER_MODE_EVAL, NULL, 0, lt) == FER_OK);
    CHECK(fer_model_forward(ms, x, 30, FER_MODE_EVAL, NULL, 0, ls) == FER_OK);
    double sum = 0;
    for (int i = 0; i < 30; i++) {
        float pt[3];
        fer_softmax_row_temp(lt + 3 * i, 3, (float)T, pt);
        sum += kd_reference(ls + 3 * i, pt, 3, T);
    }
    fer_model_free(mt), fer_model_free(ms);
    fer_backend_free(be);
    return sum / 30;
}

/* fer_teacher_probs of a two-member ensemble = the mean of the members' unfolded eval-mode
 * softmax(logits / T), within the folding's float rounding */
static void ensemble_probs(const char *a, const char *b)
{
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    char list[9100];
    snprintf(list, sizeof list, "%s,%s", a, b);
    fer_teacher *t = NULL;
    const fer_norm norm = {0.5f, 0.5f};
    CHECK(fer_teacher_new(list, be, 30, 3, &norm, &t) == FER_OK && fer_teacher_size(t) == 2);
    const float *x = test_images();
    float got[30 * 3], want[30 * 3] = {0}, logits[30 * 3], p[3];
    const float T = 3.0f;
    CHECK(fer_teacher_probs(t, x, 30, T, got) == FER_OK);
    CHECK(fer_teacher_probs(t, x, 31, T, got) == FER_ERR_ARG); /* beyond its batch */
    const char *members[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        fer_model *m = NULL;
        CHECK(fer_checkpoint_load(members[k], be, 30, &m, NULL) == FER_OK);
        CHECK(fer_model_forward(m, x, 30, FER_MODE_EVAL, NULL, 0, logits) == FER_OK);
        for (int i = 0; i < 30; i++) {
            fer_softmax_row_temp(logits + 3 * i, 3, T, p);
            for (int j = 0; j < 3; j++) want[3 * i + j] += 0.5f * p[j];
        }
        fer_model_free(m);
    }
    double worst = 0;
    for (int i = 0; i < 30 * 3; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    printf("teacher ensemble: max |probs - mean of the members' tempered softmax| %.2e\n", worst);
    CHECK(worst < 1e-5); /* folded BN: float rounding of the logits, divided by T */
    fer_teacher_free(t);
    /* an empty member and a list that ends in a comma are refused */
    snprintf(list, sizeof list, "%s,", a);
    CHECK(fer_teacher_new(list, be, 30, 3, &norm, &t) == FER_ERR_ARG && !t);
    CHECK(strstr(fer_last_error(), "--teacher"));
    fer_backend_free(be);
}

static void expect_refused_teacher(const char *teacher, const char *needle)
{
    const char *extra[] = {"--epochs", "1", "--teacher", teacher, NULL};
    EXPECT_EXIT(train("bad_teacher", extra), 1);
    char *log = fx_read_file(logp, NULL);
    CHECK(log);
    const char *hit = strstr(log, needle);
    const char *name = strrchr(teacher, '/') ? strrchr(teacher, '/') + 1 : teacher;
    if (!hit || !strstr(log, name) || !strstr(log, "--teacher")) {
        fprintf(stderr, "expected \"%s\" naming %s in:\n%s\n", needle, teacher, log);
        exit(1);
    }
    const char *nl = strchr(hit, '\n');
    CHECK(nl && nl[1] == 0); /* one line, the last */
    free(log);
}

static void distillation(void)
{
    /* the teacher: a different seed, trained longer */
    const char *teach[] = {"--epochs", "6", "--seed", "5", NULL};
    EXPECT_EXIT(train("teacher", teach), 0);
    const char *teach2[] = {"--epochs", "4", "--seed", "6", NULL};
    EXPECT_EXIT(train("teacher2", teach2), 0);
    char teacher[4500], teacher2[4500], pair[9100];
    run_path(teacher, sizeof teacher, "teacher", "best.fer");
    run_path(teacher2, sizeof teacher2, "teacher2", "best.fer");
    snprintf(pair, sizeof pair, "%s,%s", teacher, teacher2);
    const char *labels_only[] = {"--epochs", "3", "--seed", "9", NULL};
    const char *kd[] = {"--epochs", "3", "--seed", "9", "--teacher", teacher, "--kd_alpha", "1",
                        NULL};
    EXPECT_EXIT(train("student_ce", labels_only), 0);
    EXPECT_EXIT(train("student_kd", kd), 0);
    char *log = fx_read_file(logp, NULL);
    CHECK(log && strstr(log, "distilling from 1 teacher"));
    free(log);
    char s_ce[4500], s_kd[4500];
    run_path(s_ce, sizeof s_ce, "student_ce", "last.fer");
    run_path(s_kd, sizeof s_kd, "student_kd", "last.fer");
    double kl_ce = mean_kl(teacher, s_ce, 4.0), kl_kd = mean_kl(teacher, s_kd, 4.0);
    printf("T^2 KL(teacher || student) at T 4 on the test images: labels only %.4f, distilled "
           "(alpha 1) %.4f\n", kl_ce, kl_kd);
    CHECK(kl_kd < kl_ce);
    ensemble_probs(teacher, teacher2);
    /* an ensemble of two, with mixup, interrupted and resumed: exact */
    const char *ens[] = {"--epochs", "3", "--teacher", pair, "--kd_T", "2", "--kd_alpha", "0.7",
                         "--mixup", "0.4", "--label_smoothing", "0.1", NULL};
    straight_and_resumed("ensemble", ens);
    log = fx_read_file(logp, NULL);
    CHECK(log && strstr(log, "distilling from 2 teachers"));
    free(log);

    /* hostile and mismatched teachers */
    char bad[4500];
    snprintf(bad, sizeof bad, "%s/garbage.fer", runs);
    fx_write_text(bad, "FERCKPT\nthis is not a checkpoint\n");
    expect_refused_teacher(bad, "garbage.fer");
    /* a real checkpoint cut short */
    size_t n_teacher;
    char *bytes = fx_read_file(teacher, &n_teacher);
    CHECK(bytes && n_teacher > 400);
    snprintf(bad, sizeof bad, "%s/truncated.fer", runs);
    FILE *f = fopen(bad, "wb");
    CHECK(f && fwrite(bytes, 1, n_teacher - 300, f) == n_teacher - 300 && fclose(f) == 0);
    free(bytes);
    expect_refused_teacher(bad, "truncated.fer");
    snprintf(bad, sizeof bad, "%s/missing.fer", runs);
    expect_refused_teacher(bad, "missing.fer");
    /* a two-class model */
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    fer_arch arch;
    CHECK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch) == FER_OK);
    arch.n_classes = 2;
    fer_model *m = NULL;
    CHECK(fer_model_new(&arch, be, 1, &m) == FER_OK && fer_model_init_pytorch(m, 3) == FER_OK);
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.n_classes = 2;
    snprintf(bad, sizeof bad, "%s/two_classes.fer", runs);
    CHECK(fer_checkpoint_save(bad, m, &meta, NULL) == FER_OK);
    fer_model_free(m);
    fer_backend_free(be);
    expect_refused_teacher(bad, "predicts 2 classes, the training data has 3");
    /* a good and a bad member: the bad one is named */
    snprintf(pair, sizeof pair, "%s,%s", teacher, bad);
    expect_refused_teacher(pair, "two_classes.fer: predicts 2 classes");
}

/* ---- flags ------------------------------------------------------------------------------- */

static void flags(void)
{
    const char *bad[][6] = {
        {"--kd_alpha", "1.5"}, {"--kd_T", "0"}, {"--ldam_s", "0"}, {"--ldam_max_margin", "-1"},
        {"--drw_epoch", "-1"}, {"--drw_beta", "1"},
        {"--loss", "ldam", "--mixup", "0.2"}, {"--loss", "ldam", "--head", "arcface"},
        {"--drs_epoch", "2", "--sampler", "balanced"}, {"--drw_epoch", "2", "--loss", "wce"},
        {"--teacher", "x.fer", "--loss", "focal"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *extra[8] = {"--epochs", "2"};
        int n = 2;
        for (int k = 0; k < 6 && bad[i][k]; k++) extra[n++] = bad[i][k];
        extra[n] = NULL;
        EXPECT_EXIT(train("flags", extra), 2);
        char *log = fx_read_file(logp, NULL);
        CHECK(log && strstr(log, bad[i][0]));
        free(log);
    }
    const char *help[] = {"--help", NULL};
    EXPECT_EXIT(train("help", help), 0);
    char *log = fx_read_file(logp, NULL);
    CHECK(log);
    const char *names[] = {"--loss {ce,wce,focal,ldam}", "--ldam_max_margin", "--ldam_s",
                           "--drw_epoch", "--drw_beta", "--drs_epoch", "--teacher", "--kd_T",
                           "--kd_alpha", "--tencrop_train"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strstr(log, names[i])) {
            fprintf(stderr, "--help lacks %s:\n%s\n", names[i], log);
            exit(1);
        }
    free(log);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    fer_train = argv[1];
    math();
    tencrop();
    char *dir = fx_tempdir("methods");
    snprintf(root, sizeof root, "%s/data", dir);
    snprintf(runs, sizeof runs, "%s/runs", dir);
    fx_mkdir(runs);
    static const char *const names[3] = {"calm", "happy", "sad"};
    static const int ids[3] = {0, 1, 2};
    fx_dataset_spec spec = {3, names, ids, 30, 10, 10};
    fx_make_dataset(root, NULL, &spec);
    /* imbalance: keep 6 of the 30 "sad" training images (rows 3k + 2): 66 images, 3 batches */
    for (int k = 6; k < 30; k++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/train/sad/%05d.png", root, 3 * k + 2);
        CHECK(unlink(path) == 0);
    }
    flags();
    imbalance_methods();
    distillation();
    fx_rm_rf(dir);
    free(dir);
    printf("test_methods: ok\n");
    return 0;
}
