/* Batch mixing for training: mixup (Zhang et al. 2018), CutMix (Yun et al. 2019) and the
 * class-aware Remix label rule (Chou et al. 2020). Every draw of a batch (whether it is mixed,
 * which method, lambda, the partner permutation, the CutMix box) is a pure function of
 * (seed, epoch, batch index), so an interrupted and resumed run mixes exactly as an
 * uninterrupted one. Mixed batches train on soft targets (fer_model_loss_soft). */
#ifndef FER_TRAIN_MIX_H
#define FER_TRAIN_MIX_H
#include <stdint.h>
#include "rng.h"

typedef struct fer_mix_config {
    double mixup_alpha;  /* Beta(alpha, alpha) for lambda; 0: off */
    double cutmix_alpha; /* 0: off */
    double prob;         /* probability that a batch is mixed */
    double remix_kappa;  /* Remix count ratio threshold; 0: off (labels mix with lambda) */
    double remix_tau;    /* Remix lambda threshold */
} fer_mix_config;

typedef enum fer_mix_kind { FER_MIX_NONE = 0, FER_MIX_MIXUP, FER_MIX_CUTMIX } fer_mix_kind;

typedef struct fer_mix_draw {
    fer_mix_kind kind;
    double lambda; /* weight of each sample's own image; CutMix: 1 - box area / image area */
    int y0, y1, x0, x1; /* CutMix: rows [y0, y1) and columns [x0, x1) come from the partner */
} fer_mix_draw;

int fer_mix_enabled(const fer_mix_config *c);

/* Beta(alpha, alpha) from the stream r (alpha > 0), via two Gamma draws (Marsaglia-Tsang). */
double fer_rng_beta_sym(fer_rng *r, double alpha);

/* The draw of batch `batch` of epoch `epoch` and its partner permutation perm[0..n-1]
 * (sample i is mixed with sample perm[i]); images are h x w. */
void fer_mix_draw_batch(const fer_mix_config *c, uint64_t seed, int epoch, int batch, int n,
                        int h, int w, fer_mix_draw *d, int32_t *perm);

/* The mixed images (n x h x w, one channel) of x into out (not x); a FER_MIX_NONE draw
 * copies x. */
void fer_mix_images(const fer_mix_draw *d, const int32_t *perm, int n, int h, int w,
                    const float *x, float *out);

/* Remix's label weight of sample i (image weight lambda, class count n_i) mixed with a sample
 * of class count n_j: 0 when n_i / n_j >= kappa and lambda < tau (the label goes to the
 * minority partner), 1 when n_i / n_j <= 1 / kappa and 1 - lambda < tau, else lambda.
 * kappa <= 0: lambda. */
double fer_mix_remix_weight(double lambda, double n_i, double n_j, double kappa, double tau);

/* Mixes the target rows (n x classes, in place; scratch n * classes floats): row i becomes
 * l_i * t_i + (1 - l_i) * t_perm[i], l_i the label weight (lambda, or Remix's rule with the
 * classes of labels[] and their class_counts). */
void fer_mix_targets(const fer_mix_config *c, const fer_mix_draw *d, const int32_t *perm, int n,
                     int classes, const int32_t *labels, const int64_t *class_counts,
                     float *targets, float *scratch);
#endif
