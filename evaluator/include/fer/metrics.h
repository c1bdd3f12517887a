/* Classification metrics, one definition for fer-train, fer-eval and fer-report.
 * Conventions follow scikit-learn with zero_division=0: a class with no support or no
 * predictions gets precision/recall/F1 of 0, never NaN. */
#ifndef FER_METRICS_H
#define FER_METRICS_H
#include <stdint.h>
#include <stdio.h>
#include "fer/arch.h"
#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FER_ECE_BINS 15

typedef struct fer_metrics {
    int n_classes;
    char class_names[FER_MAX_CLASSES][FER_NAME_LEN];
    int64_t confusion[FER_MAX_CLASSES][FER_MAX_CLASSES]; /* [true][pred] */
    int64_t total;
    double accuracy, macro_f1, weighted_f1;
    double precision[FER_MAX_CLASSES], recall[FER_MAX_CLASSES], f1[FER_MAX_CLASSES];
    int64_t support[FER_MAX_CLASSES];
    /* calibration (only when probabilities were given) */
    int has_calibration;
    double ece;
    int64_t bin_count[FER_ECE_BINS];
    double bin_confidence[FER_ECE_BINS], bin_accuracy[FER_ECE_BINS]; /* per-bin means */
    /* accumulators behind the bins (fer_metrics_finish may be called again after more adds) */
    double bin_conf_sum[FER_ECE_BINS];
    int64_t bin_correct[FER_ECE_BINS];
    int64_t n_ignored;    /* adds with a label outside [0, n_classes) */
    int has_confusion;    /* 0 only after reading a metrics.json without confusion_matrix */
} fer_metrics;

void fer_metrics_init(fer_metrics *m, int n_classes, const char names[][FER_NAME_LEN]);
/* Adds one prediction; probs (n_classes, may be NULL) feeds the calibration bins with the
 * confidence probs[pred_label]. Bins are (i/15, (i+1)/15], confidence 0 goes to bin 0.
 * A label outside [0, n_classes) is not counted (n_ignored grows). */
void fer_metrics_add(fer_metrics *m, int true_label, int pred_label, const float *probs);
/* Computes accuracy, per-class P/R/F1, macro/weighted F1, ECE from the counts. */
void fer_metrics_finish(fer_metrics *m);

/* metrics.json with the seed's keys (accuracy, macro_f1, per_class_f1, per_class_precision,
 * per_class_recall, f1_<class>) plus confusion_matrix, weighted_f1, support, ece; extra_json
 * (a JSON object text or NULL) is merged in (e.g. {"tta":"flip","checkpoint":"..."}).
 * Written to PATH.tmp then renamed. */
fer_status fer_metrics_write_json(const fer_metrics *m, const char *extra_json, const char *path);
/* Reads back the fields written above (for fer-report); values are taken as written, not
 * recomputed. Also accepts the seed's metrics.json (no confusion_matrix: has_confusion = 0;
 * class names from the f1_<class> keys). */
fer_status fer_metrics_read_json(const char *path, fer_metrics *out);
/* Human-readable per-class table (precision, recall, F1, support) + summary lines. */
void fer_metrics_print_table(const fer_metrics *m, FILE *out);
/* Per class: the share of the predictions and of the true labels (fractions of m->total; 0
 * when total is 0), from the confusion matrix. metrics.json carries them as
 * "prediction_share" and "true_share". */
void fer_metrics_shares(const fer_metrics *m, double *pred_share, double *true_share);
/* Over-prediction shows as predicted share >= this times the true share. */
#define FER_OVERPREDICT_RATIO 1.25
/* Table: class, predicted share, true share, their ratio; over-predicted classes marked. */
void fer_metrics_print_shares(const fer_metrics *m, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
