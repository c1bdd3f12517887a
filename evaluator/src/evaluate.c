/* Shared evaluation loop: batches, TTA views, logit adjustment, metrics. */
#include "fer/evaluate.h"
#include "fer/posthoc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S FER_INPUT_SIZE

fer_status fer_tta_parse(const char *name, fer_tta *out)
{
    static const char *names[] = {"none", "flip", "tencrop"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i])) {
            *out = (fer_tta)i;
            return FER_OK;
        }
    return fer_fail(FER_ERR_ARG, "--tta: unknown mode '%s' (choose none, flip or tencrop)",
                    name ? name : "");
}

const char *fer_tta_name(fer_tta t)
{
    return t == FER_TTA_FLIP ? "flip" : t == FER_TTA_TENCROP ? "tencrop" : "none";
}

int fer_tta_n_views(fer_tta t) { return t == FER_TTA_FLIP ? 2 : t == FER_TTA_TENCROP ? 10 : 1; }

static void mirror(const uint8_t *src, uint8_t *dst)
{
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            dst[y * S + x] = src[y * S + (S - 1 - x)];
}

static void resize_default(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh)
{
    fer_resize_gray(src, sw, sh, sw, dst, dw, dh);
}

void fer_tta_make_views(fer_tta t, const uint8_t *face, const fer_norm *norm,
                        fer_resize_fn resize, float *out)
{
    uint8_t flipped[S * S], view[S * S], crop[FER_TTA_CROP * FER_TTA_CROP];
    const size_t px = (size_t)S * S;
    if (t == FER_TTA_NONE || t == FER_TTA_FLIP) {
        fer_normalize_u8(face, px, norm, out);
        if (t == FER_TTA_FLIP) {
            mirror(face, flipped);
            fer_normalize_u8(flipped, px, norm, out + px);
        }
        return;
    }
    /* tencrop: offsets of the five 44x44 crops, as torchvision's TenCrop */
    const int m = S - FER_TTA_CROP;
    const int ox[5] = {0, m, 0, m, m / 2}, oy[5] = {0, 0, m, m, m / 2};
    if (!resize)
        resize = resize_default;
    mirror(face, flipped);
    for (int k = 0; k < 10; k++) {
        const uint8_t *src = k < 5 ? face : flipped;
        /* mirrored crop k+5 is the mirror of crop k: in the flipped image its x offset is
         * mirrored too */
        int x0 = k < 5 ? ox[k] : m - ox[k - 5], y0 = oy[k % 5];
        for (int y = 0; y < FER_TTA_CROP; y++)
            memcpy(crop + y * FER_TTA_CROP, src + (y0 + y) * S + x0, FER_TTA_CROP);
        resize(crop, FER_TTA_CROP, FER_TTA_CROP, view, S, S);
        fer_normalize_u8(view, px, norm, out + k * px);
    }
}

fer_status fer_eval_logits(fer_classifier *c, const uint8_t *faces, int n,
                           const fer_eval_options *opt, float *logits)
{
    fer_eval_options def = {FER_TTA_NONE, 0, NULL, NULL, NULL};
    if (!opt)
        opt = &def;
    if (n < 0 || (n > 0 && (!faces || !logits)))
        return fer_fail(FER_ERR_ARG, "evaluate: bad arguments (n=%d)", n);
    int n_classes = fer_classifier_n_classes(c);
    const fer_checkpoint_meta *meta = fer_classifier_meta(c);
    int batch = opt->batch_size > 0 ? opt->batch_size : FER_EVAL_BATCH_DEFAULT;
    int views = fer_tta_n_views(opt->tta);
    const size_t px = (size_t)S * S;
    if (batch > n && n > 0)
        batch = n;
    float *x = malloc(sizeof(float) * px * views * (batch > 0 ? batch : 1));
    float *vl = malloc(sizeof(float) * n_classes * views * (batch > 0 ? batch : 1));
    if (!x || !vl) {
        free(x);
        free(vl);
        return fer_fail(FER_ERR_NOMEM, "evaluate: out of memory for a batch of %d", batch);
    }
    fer_status st = FER_OK;
    for (int start = 0; start < n && st == FER_OK; start += batch) {
        int b = n - start < batch ? n - start : batch;
        for (int i = 0; i < b; i++)
            fer_tta_make_views(opt->tta, faces + (size_t)(start + i) * px, &meta->norm,
                               opt->resize, x + (size_t)i * views * px);
        st = fer_classifier_run_f32(c, x, b * views, vl, NULL);
        if (st != FER_OK)
            break;
        for (int i = 0; i < b; i++) {
            float *dst = logits + (size_t)(start + i) * n_classes;
            for (int k = 0; k < n_classes; k++) {
                float sum = 0.0f;
                for (int v = 0; v < views; v++)
                    sum += vl[((size_t)i * views + v) * n_classes + k];
                dst[k] = sum / (float)views;
            }
        }
        if (opt->progress)
            opt->progress(opt->progress_ctx, start + b, n);
    }
    free(x);
    free(vl);
    return st;
}

void fer_log_prior(const float *prior, int n_classes, float *log_prior)
{
    for (int k = 0; k < n_classes; k++)
        log_prior[k] = logf(prior[k] > 1e-12f ? prior[k] : 1e-12f);
}

void fer_eval_score(const float *logits, const int32_t *labels, int n, int n_classes,
                    const float *log_prior, float tau, fer_metrics *m, int32_t *pred,
                    float *probs)
{
    /* z + -(tau * log_prior) is z - tau * log_prior exactly */
    float offsets[FER_MAX_CLASSES];
    if (log_prior)
        fer_prior_offsets(log_prior, n_classes, tau, offsets);
    fer_eval_score_offsets(logits, labels, n, n_classes, log_prior ? offsets : NULL, m, pred,
                           probs);
}

fer_status fer_evaluate_arrays(fer_classifier *c, const uint8_t *faces, const int32_t *labels,
                               int n, const fer_eval_options *opt, float tau, fer_metrics *out,
                               float *logits_out)
{
    int n_classes = fer_classifier_n_classes(c);
    const fer_checkpoint_meta *meta = fer_classifier_meta(c);
    if (n_classes < 1 || n_classes > FER_MAX_CLASSES)
        return fer_fail(FER_ERR_ARG, "evaluate: classifier has %d classes", n_classes);
    float log_prior[FER_MAX_CLASSES];
    if (tau != 0.0f) {
        if (!meta->has_prior)
            return fer_fail(FER_ERR_ARG, "evaluate: the checkpoint stores no class prior, so "
                            "logit adjustment is not possible");
        fer_log_prior(meta->class_prior, n_classes, log_prior);
    }
    float *logits = logits_out ? logits_out : malloc(sizeof(float) * n_classes * (n > 0 ? n : 1));
    if (!logits)
        return fer_fail(FER_ERR_NOMEM, "evaluate: out of memory for %d logits", n);
    fer_status st = fer_eval_logits(c, faces, n, opt, logits);
    if (st == FER_OK) {
        char names[FER_MAX_CLASSES][FER_NAME_LEN];
        for (int k = 0; k < n_classes; k++) {
            const char *nm = fer_classifier_class_name(c, k);
            snprintf(names[k], FER_NAME_LEN, "%s", nm ? nm : "");
        }
        fer_metrics_init(out, n_classes, (const char(*)[FER_NAME_LEN])names);
        fer_eval_score(logits, labels, n, n_classes, tau != 0.0f ? log_prior : NULL, tau, out,
                       NULL, NULL);
    }
    if (logits != logits_out)
        free(logits);
    return st;
}

float fer_eval_tune_tau(const float *logits, const int32_t *labels, int n, int n_classes,
                        const float *log_prior, double *best_macro_f1)
{
    float best_tau = 0.0f;
    double best = -1.0;
    int steps = (int)lroundf(FER_TAU_GRID_MAX / FER_TAU_GRID_STEP);
    fer_metrics m;
    for (int s = 0; s <= steps; s++) {
        float tau = s * FER_TAU_GRID_STEP;
        fer_metrics_init(&m, n_classes, NULL);
        fer_eval_score(logits, labels, n, n_classes, log_prior, tau, &m, NULL, NULL);
        if (m.macro_f1 > best) {
            best = m.macro_f1;
            best_tau = tau;
        }
    }
    if (best_macro_f1)
        *best_macro_f1 = best;
    return best_tau;
}
