/* Inference convenience for the evaluator and the video element: load a checkpoint on a
 * backend and turn batches of 48x48 gray faces into class probabilities. */
#ifndef FER_CLASSIFIER_H
#define FER_CLASSIFIER_H
#include <stdint.h>
#include "fer/checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_classifier fer_classifier;

/* backend: "auto" | "cpu" | "cuda" | "ref". */
fer_status fer_classifier_new(const char *checkpoint_path, const char *backend, int threads,
                              int max_batch, fer_classifier **out);
void fer_classifier_free(fer_classifier *c);
int fer_classifier_n_classes(const fer_classifier *c);
const char *fer_classifier_class_name(const fer_classifier *c, int i);
const fer_checkpoint_meta *fer_classifier_meta(const fer_classifier *c);
const char *fer_classifier_backend_name(const fer_classifier *c);
const char *fer_classifier_backend_note(const fer_classifier *c);
/* precision "fp32" (the default) or "int8" (opt-in, fer/quant.h): int8 reads the checkpoint's
 * calibration block (FER_ERR_ARG naming the file when it has none, FER_ERR_FORMAT when it is
 * corrupt or for another graph) and runs the int8 network instead of the folded FP32 model;
 * nodes without an int8 form run in FP32 between int8 ones (the note counts them); on the cuda
 * backend such a model stays FP32 and the note says why. */
fer_status fer_classifier_set_precision(fer_classifier *c, const char *precision);
/* "" for fp32, else what runs ("int8: avx512_vnni kernels, ..." or why FP32 runs). */
const char *fer_classifier_precision_note(const fer_classifier *c);
int fer_classifier_is_int8(const fer_classifier *c);
/* The folded FP32 inference model (e.g. for fer_int8_calibrate). */
fer_model *fer_classifier_model(fer_classifier *c);
/* Post-hoc logit adjustment stored in the checkpoint (meta.has_logit_offsets) is on by default:
 * run_u8/run_f32 add the offsets to every logit before the softmax. on = 0 turns it off (raw
 * logits; fer-eval --no_adjust, ferclassify adjust=false), 1 back on. */
void fer_classifier_set_adjust(fer_classifier *c, int on);
/* The offsets now added to the logits (n_classes floats), NULL when none (the checkpoint has
 * none, or adjustment is off). */
const float *fer_classifier_logit_offsets(const fer_classifier *c);
/* tau-normalisation of the softmax head: every head weight row divided by its L2 norm^p (the
 * bias kept), in this classifier's model (not the file). row_norms_out (n_classes, may be
 * NULL) receives the norms before. p >= 0; FER_ERR_UNSUPPORTED for the arcface head, whose
 * rows are normalised already; FER_ERR_ARG for p > 0 once int8 precision is set. */
fer_status fer_classifier_tau_norm(fer_classifier *c, float p, float *row_norms_out);
/* tau-normalisation of a rows x cols weight matrix: row i scaled by fer_tau_norm_scale(its L2
 * norm, p) = 1 / norm^p (a row of norm 0 stays as it is); norms_out (rows floats, may be NULL)
 * receives the norms before scaling. */
void fer_tau_norm_rows(float *w, int rows, size_t cols, float p, float *norms_out);
float fer_tau_norm_scale(float norm, float p);
/* The softmax head's bias (n_classes floats); FER_ERR_UNSUPPORTED for arcface. */
fer_status fer_classifier_head_bias(fer_classifier *c, float *bias_out);
/* faces: n x 48 x 48 uint8; logits/probs: n x n_classes (either may be NULL). Any n >= 0;
 * batches larger than max_batch are split internally. */
fer_status fer_classifier_run_u8(fer_classifier *c, const uint8_t *faces, int n, float *logits,
                                 float *probs);
/* Already-normalised float input (n x 1 x 48 x 48), e.g. TTA crops from the evaluator. */
fer_status fer_classifier_run_f32(fer_classifier *c, const float *x, int n, float *logits,
                                  float *probs);

#ifdef __cplusplus
}
#endif
#endif
