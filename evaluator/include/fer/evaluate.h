/* The one evaluation loop shared by fer-train (final test metrics) and fer-eval, so both
 * produce identical numbers for the same checkpoint and split: faces in fixed batches through
 * fer_classifier, optional test-time augmentation (logits averaged over views), optional
 * post-hoc logit adjustment, then fer_metrics. Takes raw arrays (not fer_dataset) because
 * libfereval is built before the trainer's data library. */
#ifndef FER_EVALUATE_H
#define FER_EVALUATE_H
#include <stdint.h>
#include "fer/classifier.h"
#include "fer/metrics.h"
#include "fer/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FER_EVAL_BATCH_DEFAULT 256
#define FER_TTA_CROP 44          /* tencrop: 44x44 crops resized back to 48x48 */
#define FER_TTA_MAX_VIEWS 10

typedef enum fer_tta {
    FER_TTA_NONE = 0, /* the image as is */
    FER_TTA_FLIP,     /* image + horizontal mirror */
    FER_TTA_TENCROP   /* 4 corner + centre crops of 44, and their mirrors, resized to 48 */
} fer_tta;

/* Resizes a packed gray image (stride = sw). The tencrop views use the training pipeline's
 * resize (fer-eval passes the trainer's fer_resize_bilinear_pil, PIL's rule, as the seed's
 * torchvision did); NULL means fer/preprocess.h's fer_resize_gray. */
typedef void (*fer_resize_fn)(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh);

/* "none" | "flip" | "tencrop"; FER_ERR_ARG with a message naming the choices otherwise. */
fer_status fer_tta_parse(const char *name, fer_tta *out);
const char *fer_tta_name(fer_tta t);
int fer_tta_n_views(fer_tta t); /* 1, 2, 10 */
/* The normalised views of one 48x48 face: fer_tta_n_views(t) x 48 x 48 floats. View 0 is
 * always the plain image (none), view 1 its mirror (flip); tencrop: crops at top-left,
 * top-right, bottom-left, bottom-right, centre, then the same five mirrored. */
void fer_tta_make_views(fer_tta t, const uint8_t *face, const fer_norm *norm,
                        fer_resize_fn resize, float *out);

typedef struct fer_eval_options {
    fer_tta tta;
    int batch_size; /* faces per classifier call; <= 0: FER_EVAL_BATCH_DEFAULT */
    fer_resize_fn resize; /* tencrop's 44 -> 48 resize; NULL: fer_resize_gray */
    /* optional progress callback, called after every batch */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} fer_eval_options;

/* Raw logits (n x n_classes) of n faces (n x 48 x 48 uint8), averaged over the TTA views.
 * Normalisation uses the checkpoint's meta.norm. */
fer_status fer_eval_logits(fer_classifier *c, const uint8_t *faces, int n,
                           const fer_eval_options *opt, float *logits);

/* Natural log of a class prior (clamped to >= 1e-12), for logit adjustment. */
void fer_log_prior(const float *prior, int n_classes, float *log_prior);

/* Scores logits into metrics: adjusted = logits - tau * log_prior (log_prior may be NULL:
 * no adjustment), probs = softmax(adjusted), pred = argmax (first on ties). m must be
 * fer_metrics_init'ed; this adds n samples and calls fer_metrics_finish. pred (n) and
 * probs (n x n_classes) are optional outputs. */
void fer_eval_score(const float *logits, const int32_t *labels, int n, int n_classes,
                    const float *log_prior, float tau, fer_metrics *m, int32_t *pred,
                    float *probs);

/* fer_eval_logits + fer_eval_score with the classifier's class names; no adjustment when
 * tau == 0 (else the checkpoint must carry meta.class_prior). logits_out (n x n_classes,
 * raw, before adjustment) is optional. */
fer_status fer_evaluate_arrays(fer_classifier *c, const uint8_t *faces, const int32_t *labels,
                               int n, const fer_eval_options *opt, float tau, fer_metrics *out,
                               float *logits_out);

/* --tune_tau: the tau on a grid 0, 0.05, ..., 3.0 that maximises macro-F1 of the given
 * logits (first best wins, so ties keep the smaller adjustment). */
#define FER_TAU_GRID_STEP 0.05f
#define FER_TAU_GRID_MAX 3.0f
float fer_eval_tune_tau(const float *logits, const int32_t *labels, int n, int n_classes,
                        const float *log_prior, double *best_macro_f1);

#ifdef __cplusplus
}
#endif
#endif
