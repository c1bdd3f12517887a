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
