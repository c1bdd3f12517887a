/* Post-hoc corrections of a trained classifier's class imbalance, chosen on val and shipped in
 * the checkpoint (fer-eval --write_adjusted):
 * - logit adjustment: logits + offsets, offsets = -tau * log(train prior) (or any offsets);
 * - tau-normalised head: every softmax head weight row divided by its L2 norm^P, bias kept.
 * Both are linear in the logits, so tuning works on logits computed once:
 * head-normalised logit k = s_k * (z_k - b_k) + b_k with s_k = 1 / |w_k|^P. */
#ifndef FER_POSTHOC_H
#define FER_POSTHOC_H
#include <stdint.h>
#include "fer/classifier.h"
#include "fer/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --tune_tau_norm: P on the grid 0, 0.05, ..., 2.0 */
#define FER_TAU_NORM_GRID_STEP 0.05f
#define FER_TAU_NORM_GRID_MAX 2.0f

/* offsets[k] = -(tau * log_prior[k]): adding them is exactly fer_eval_score's
 * logits - tau * log_prior. */
void fer_prior_offsets(const float *log_prior, int n_classes, float tau, float *offsets);

/* As fer_eval_score, with logits + offsets (offsets may be NULL: none). */
void fer_eval_score_offsets(const float *logits, const int32_t *labels, int n, int n_classes,
                            const float *offsets, fer_metrics *m, int32_t *pred, float *probs);

/* The logits a tau-normalised head (exponent p) gives, from the plain head's logits, its row
 * norms and bias: out = s_k * (z_k - b_k) + b_k (out may be logits). Equal to running the
 * normalised head within float rounding. */
void fer_tau_norm_logits(const float *logits, int n, int n_classes, const float *row_norms,
                         const float *bias, float p, float *out);

/* --tune_tau_norm: the P on the grid maximising macro-F1 of the normalised logits (+ offsets,
 * may be NULL); the first best wins, so ties keep the smaller P. */
float fer_eval_tune_tau_norm(const float *logits, const int32_t *labels, int n, int n_classes,
                             const float *row_norms, const float *bias, const float *offsets,
                             double *best_macro_f1);

/* --match_shares: offsets (mean 0) with which the argmax predictions of logits + offsets
 * come as close as the updates get to the labels' class shares (a class the network predicts
 * too often, e.g. neutral, is predicted less, and one it misses more). FER_SHARE_ITERS damped
 * multiplicative steps, offset_k += FER_SHARE_STEP * log(true share / predicted share), from
 * zero; the iterate with the smallest total |predicted - true share| is kept and that total
 * goes to *gap_out (may be NULL). Classes absent from the labels keep offset 0 before the mean
 * is removed. Deterministic. */
#define FER_SHARE_ITERS 100
#define FER_SHARE_STEP 0.3f
void fer_eval_fit_share_offsets(const float *logits, const int32_t *labels, int n, int n_classes,
                                float *offsets, double *gap_out);

/* Writes dst: a copy of checkpoint src (weights, classes, norm, prior, config; no optimiser,
 * EMA or int8 calibration: calibrate the copy again) carrying the post-hoc adjustment: offsets (n_classes, NULL: none) with the tau
 * they came from (< 0: general offsets), and, with tau_norm_p > 0, the head's weight rows
 * tau-normalised. dst is written to dst.tmp and renamed into place. dst naming the same file
 * as src is refused. */
fer_status fer_write_adjusted_checkpoint(const char *src, const char *dst, const float *offsets,
                                         float tau, float tau_norm_p);

#ifdef __cplusplus
}
#endif
#endif
