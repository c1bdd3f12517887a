/* Post-hoc imbalance corrections: logit offsets, tau-normalised heads, their tuning on val and
 * the adjusted checkpoint copy (see fer/posthoc.h). */
#include "fer/posthoc.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fer/checkpoint.h"
#include "fer/evaluate.h"

void fer_prior_offsets(const float *log_prior, int n_classes, float tau, float *offsets)
{
    for (int k = 0; k < n_classes; k++)
        offsets[k] = -(tau * log_prior[k]);
}

void fer_eval_score_offsets(const float *logits, const int32_t *labels, int n, int n_classes,
                            const float *offsets, fer_metrics *m, int32_t *pred, float *probs)
{
    float adj[FER_MAX_CLASSES], p[FER_MAX_CLASSES];
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * n_classes;
        int best = 0;
        for (int k = 0; k < n_classes; k++) {
            adj[k] = offsets ? z[k] + offsets[k] : z[k];
            if (adj[k] > adj[best])
                best = k;
        }
        /* as fer_eval_score: float exponentials, double sum */
        double sum = 0.0;
        for (int k = 0; k < n_classes; k++)
            sum += (p[k] = expf(adj[k] - adj[best]));
        for (int k = 0; k < n_classes; k++)
            p[k] = (float)(p[k] / sum);
        fer_metrics_add(m, labels[i], best, p);
        if (pred)
            pred[i] = best;
        if (probs)
            memcpy(probs + (size_t)i * n_classes, p, sizeof(float) * n_classes);
    }
    fer_metrics_finish(m);
}

/* argmax shares of logits + offsets; returns the total |share - target| */
static double share_gap(const float *logits, int n, int nc, const float *offsets,
                        const double *target, double *share)
{
    for (int k = 0; k < nc; k++)
        share[k] = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * nc;
        int best = 0;
        for (int k = 1; k < nc; k++)
            if (z[k] + offsets[k] > z[best] + offsets[best])
                best = k;
        share[best] += 1.0 / n;
    }
    double gap = 0.0;
    for (int k = 0; k < nc; k++)
        gap += fabs(share[k] - target[k]);
    return gap;
}

void fer_eval_fit_share_offsets(const float *logits, const int32_t *labels, int n, int n_classes,
                                float *offsets, double *gap_out)
{
    double target[FER_MAX_CLASSES] = {0}, share[FER_MAX_CLASSES];
    float cur[FER_MAX_CLASSES] = {0};
    for (int k = 0; k < n_classes; k++)
        offsets[k] = 0.0f;
    if (n <= 0) {
        if (gap_out)
            *gap_out = 0.0;
        return;
    }
    for (int i = 0; i < n; i++)
        if (labels[i] >= 0 && labels[i] < n_classes)
            target[labels[i]] += 1.0 / n;
    double best = share_gap(logits, n, n_classes, cur, target, share);
    for (int it = 0; it < FER_SHARE_ITERS && best > 0.0; it++) {
        for (int k = 0; k < n_classes; k++)
            if (target[k] > 0.0) /* a share of 0 counts as half an image */
                cur[k] += FER_SHARE_STEP *
                          (float)log(target[k] / (share[k] > 0.0 ? share[k] : 0.5 / n));
        const double gap = share_gap(logits, n, n_classes, cur, target, share);
        if (gap < best) {
            best = gap;
            memcpy(offsets, cur, sizeof(float) * n_classes);
        }
    }
    double mean = 0.0;
    for (int k = 0; k < n_classes; k++)
        mean += offsets[k];
    mean /= n_classes;
    for (int k = 0; k < n_classes; k++)
        offsets[k] -= (float)mean;
    if (gap_out)
        *gap_out = best;
}

void fer_tau_norm_logits(const float *logits, int n, int n_classes, const float *row_norms,
                         const float *bias, float p, float *out)
{
    float s[FER_MAX_CLASSES];
    for (int k = 0; k < n_classes; k++)
        s[k] = fer_tau_norm_scale(row_norms[k], p);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n_classes; k++) {
            size_t at = (size_t)i * n_classes + k;
            out[at] = s[k] * (logits[at] - bias[k]) + bias[k];
        }
}

float fer_eval_tune_tau_norm(const float *logits, const int32_t *labels, int n, int n_classes,
                             const float *row_norms, const float *bias, const float *offsets,
                             double *best_macro_f1)
{
    float *z = malloc(sizeof(float) * (size_t)n_classes * (n > 0 ? n : 1));
    float best_p = 0.0f;
    double best = -1.0;
    int steps = (int)lroundf(FER_TAU_NORM_GRID_MAX / FER_TAU_NORM_GRID_STEP);
    for (int s = 0; z && s <= steps; s++) {
        float p = s * FER_TAU_NORM_GRID_STEP;
        fer_tau_norm_logits(logits, n, n_classes, row_norms, bias, p, z);
        fer_metrics m;
        fer_metrics_init(&m, n_classes, NULL);
        fer_eval_score_offsets(z, labels, n, n_classes, offsets, &m, NULL, NULL);
        if (m.macro_f1 > best) {
            best = m.macro_f1;
            best_p = p;
        }
    }
    free(z);
    if (best_macro_f1)
        *best_macro_f1 = best; /* -1 only when out of memory */
    return best_p;
}

static int same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    if (!realpath(a, ra) || !realpath(b, rb))
        return 0; /* dst does not exist yet */
    return strcmp(ra, rb) == 0;
}

fer_status fer_write_adjusted_checkpoint(const char *src, const char *dst, const float *offsets,
                                         float tau, float tau_norm_p)
{
    if (same_file(src, dst))
        return fer_fail(FER_ERR_ARG, "%s: the adjusted copy must not replace the checkpoint it "
                        "is made from; name another file", dst);
    if (!(tau_norm_p >= 0.0f) || !isfinite(tau_norm_p))
        return fer_fail(FER_ERR_ARG, "%s: tau-norm exponent %g must be >= 0", dst,
                        (double)tau_norm_p);
    fer_backend *b = NULL;
    fer_model *m = NULL;
    fer_checkpoint_meta meta;
    int have_meta = 0;
    float *w = NULL;
    fer_status st = fer_backend_new("ref", 1, &b);
    if (st == FER_OK)
        st = fer_checkpoint_load(src, b, 1, &m, &meta);
    have_meta = st == FER_OK;
    if (st == FER_OK && tau_norm_p > 0.0f) {
        const fer_arch *a = fer_model_arch(m);
        if (a->head != FER_HEAD_SOFTMAX) {
            st = fer_fail(FER_ERR_UNSUPPORTED, "%s: tau-normalisation needs the softmax head",
                          src);
        } else if (meta.head_tau_norm != 0.0f) {
            st = fer_fail(FER_ERR_ARG, "%s: the head is tau-normalised already (P %g)", src,
                          (double)meta.head_tau_norm);
        } else {
            fer_tensor_info ti = {0};
            for (int t = 0; t < fer_model_n_tensors(m) && st == FER_OK; t++) {
                st = fer_model_tensor_info(m, t, &ti);
                if (st == FER_OK && !strcmp(ti.name, "head.weight"))
                    break;
            }
            if (st == FER_OK && !(w = malloc(ti.numel * sizeof(float))))
                st = fer_fail(FER_ERR_NOMEM, "%s: out of memory", src);
            if (st == FER_OK)
                st = fer_model_get_tensor(m, "head.weight", w, ti.numel);
            if (st == FER_OK) {
                fer_tau_norm_rows(w, a->n_classes, ti.numel / (size_t)a->n_classes, tau_norm_p,
                                  NULL);
                st = fer_model_set_tensor(m, "head.weight", w, ti.numel);
            }
            meta.head_tau_norm = tau_norm_p;
        }
    }
    if (st == FER_OK) {
        meta.has_logit_offsets = offsets != NULL;
        meta.logit_offsets_tau = tau >= 0.0f ? tau : -1.0f;
        if (offsets)
            memcpy(meta.logit_offsets, offsets, sizeof(float) * (size_t)meta.n_classes);
        st = fer_checkpoint_save(dst, m, &meta, NULL);
    }
    free(w);
    if (have_meta)
        fer_checkpoint_meta_clear(&meta);
    fer_model_free(m);
    fer_backend_free(b);
    return st;
}
