/* Per-row softmax and classification losses, shared by every backend (one row = one sample).
 *
 * All losses are one formula. With log-probabilities lp_c, probabilities p_c = exp(lp_c), focal
 * factor f_c = (1 - p_c)^gamma (gamma = 0 for CE/WCE: f = 1), t_c = f_c * lp_c, class weights w
 * (1 when absent) and label smoothing e over C classes, the row's contribution is
 *     L_row = -(1 - e) * w_y * t_y - (e / C) * sum_c w_c * t_c
 * and the batch loss is sum(L_row) / sum(w_y): exactly PyTorch's cross_entropy(weight,
 * label_smoothing) for CE/WCE and nll_loss(f * log_softmax, weight) for the seed's focal loss. */
#ifndef FER_LOSS_MATH_H
#define FER_LOSS_MATH_H
#include <math.h>
#include "fer/hd.h"

FER_HD float fer_row_max(const float *x, int c)
{
    float m = x[0];
    for (int j = 1; j < c; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* log(sum(exp(x))), stable. */
FER_HD float fer_row_logsumexp(const float *x, int c)
{
    float m = fer_row_max(x, c);
    float s = 0.0f;
    for (int j = 0; j < c; j++)
        s += expf(x[j] - m);
    return m + logf(s);
}

FER_HD void fer_softmax_row(const float *x, int c, float *y)
{
    float m = fer_row_max(x, c);
    float s = 0.0f;
    for (int j = 0; j < c; j++) {
        y[j] = expf(x[j] - m);
        s += y[j];
    }
    float inv = 1.0f / s;
    for (int j = 0; j < c; j++)
        y[j] *= inv;
}

/* d t_c / d lp_c-direction factor: t_c = f_c * lp_c changes with the logits as
 * A_c * (delta_cj - p_j), A_c = f_c - gamma * p_c * (1 - p_c)^(gamma - 1) * lp_c. */
FER_HD float fer_focal_dfactor(float p, float lp, float gamma)
{
    if (gamma == 0.0f)
        return 1.0f;
    float q = 1.0f - p;
    float f = powf(q, gamma);
    float d = q > 0.0f ? gamma * p * powf(q, gamma - 1.0f) * lp : 0.0f;
    return f - d;
}

/* The weight w_y that divides the batch sum (the sample's share of the mean). */
FER_HD float fer_loss_row_weight(const float *w, int y)
{
    return w ? w[y] : 1.0f;
}

/* Row loss numerator L_row (see top); when dz != NULL also writes dL_row/dz (not yet divided by
 * the weight sum). gamma = 0 gives cross-entropy. */
FER_HD float fer_loss_row(const float *z, int c, int y, const float *w, float gamma,
                          float smoothing, float *dz)
{
    float lse = fer_row_logsumexp(z, c);
    float e_over_c = smoothing / (float)c;
    float loss = 0.0f, s = 0.0f;
    for (int j = 0; j < c; j++) {
        float lp = z[j] - lse;
        float p = expf(lp);
        float f = gamma == 0.0f ? 1.0f : powf(1.0f - p, gamma);
        float wj = w ? w[j] : 1.0f;
        float a = -e_over_c * wj; /* coefficient of t_j in L_row */
        if (j == y)
            a -= (1.0f - smoothing) * wj;
        loss += a * f * lp;
        if (dz) {
            float ad = a * fer_focal_dfactor(p, lp, gamma);
            dz[j] = ad; /* first part; p_j * sum(a A) subtracted below */
            s += ad;
        }
    }
    if (dz) {
        for (int j = 0; j < c; j++)
            dz[j] -= expf(z[j] - lse) * s;
    }
    return loss;
}
#endif
