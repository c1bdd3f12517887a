/* Per-row softmax and classification losses, shared by every backend (one row = one sample).
 *
 * All losses are one formula. With log-probabilities lp_c, probabilities p_c = exp(lp_c), focal
 * factor f_c = (1 - p_c)^gamma (gamma = 0 for CE/WCE: f = 1), t_c = f_c * lp_c, class weights w
 * (1 when absent) and label smoothing e over C classes, the row's contribution is
 *     L_row = -(1 - e) * w_y * t_y - (e / C) * sum_c w_c * t_c
 * and the batch loss is sum(L_row) / sum(w_y): exactly PyTorch's cross_entropy(weight,
 * label_smoothing) for CE/WCE and nll_loss(f * log_softmax, weight) for the seed's focal loss.
 *
 * Soft targets (a distribution t over the classes instead of the label y) use the same formula
 * with the one-hot indicator [c == y] replaced by t_c:
 *     L_row = -sum_c w_c * ((1 - e) * t_c + e / C) * lp_c,   row weight sum_c w_c * t_c
 * (1 when unweighted), so a one-hot row gives the int-label loss bit for bit.
 *
 * Logit adjustment: with an offset o (o_c = tau * log prior_c, or log prior_c for Balanced
 * Softmax) the loss sees z_c + o_c; o is a constant, so d/dz equals d/d(z + o). */
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

/* The logit the loss sees: z_j plus the logit-adjustment offset (offset may be NULL). */
FER_HD float fer_loss_logit(const float *z, const float *offset, int j)
{
    return offset ? z[j] + offset[j] : z[j];
}

/* log(sum(exp(z + offset))), stable. */
FER_HD float fer_loss_logsumexp(const float *z, const float *offset, int c)
{
    float m = fer_loss_logit(z, offset, 0);
    for (int j = 1; j < c; j++) {
        float v = fer_loss_logit(z, offset, j);
        m = v > m ? v : m;
    }
    float s = 0.0f;
    for (int j = 0; j < c; j++)
        s += expf(fer_loss_logit(z, offset, j) - m);
    return m + logf(s);
}

/* Target mass of class j before smoothing: target[j], or [j == y] when target is NULL. */
FER_HD float fer_loss_target(const float *target, int y, int j)
{
    return target ? target[j] : (j == y ? 1.0f : 0.0f);
}

/* The weight that divides the batch sum (the sample's share of the mean): w_y for a label,
 * sum_j w_j t_j for a soft target (in class order), 1 without weights. */
FER_HD float fer_loss_row_weight(const float *w, int y, const float *target, int c)
{
    if (!w)
        return 1.0f;
    if (!target)
        return w[y];
    float s = 0.0f;
    for (int j = 0; j < c; j++)
        s += w[j] * target[j];
    return s;
}

/* Row loss numerator L_row (see top) for label y or soft target row `target` (y ignored when
 * target != NULL), logits shifted by offset (may be NULL); when dz != NULL also writes
 * dL_row/dz (not yet divided by the weight sum). gamma = 0 gives cross-entropy. */
FER_HD float fer_loss_row(const float *z, const float *offset, int c, int y,
                          const float *target, const float *w, float gamma, float smoothing,
                          float *dz)
{
    float lse = fer_loss_logsumexp(z, offset, c);
    float e_over_c = smoothing / (float)c;
    float loss = 0.0f, s = 0.0f;
    for (int j = 0; j < c; j++) {
        float lp = fer_loss_logit(z, offset, j) - lse;
        float p = expf(lp);
        float f = gamma == 0.0f ? 1.0f : powf(1.0f - p, gamma);
        float wj = w ? w[j] : 1.0f;
        float a = -e_over_c * wj; /* coefficient of t_j in L_row */
        float tj = fer_loss_target(target, y, j);
        if (tj != 0.0f) /* a one-hot 1 multiplies exactly: same bits as the label path */
            a -= (1.0f - smoothing) * tj * wj;
        loss += a * f * lp;
        if (dz) {
            float ad = a * fer_focal_dfactor(p, lp, gamma);
            dz[j] = ad; /* first part; p_j * sum(a A) subtracted below */
            s += ad;
        }
    }
    if (dz) {
        for (int j = 0; j < c; j++)
            dz[j] -= expf(fer_loss_logit(z, offset, j) - lse) * s;
    }
    return loss;
}
/* LDAM (label-distribution-aware margin, Cao et al. 2019): the row sees
 * z'_j = s * (z_j - [j == y] * margin_y), margin_y = K / n_y^(1/4) (fer_ldam_margins), and
 *     L_row = -w_y * log softmax(z')_y,   dL_row/dz_j = w_y * s * (softmax(z')_j - [j == y])
 * (w_y = 1 without class weights; the batch loss is sum(L_row) / sum(w_y) as weighted CE).
 * Returns L_row; writes dL_row/dz to dz when not NULL (not yet divided by the weight sum). */
FER_HD float fer_ldam_row(const float *z, int c, int y, float margin_y, float s, float w_y,
                          float *dz)
{
    float m = 0.0f;
    for (int j = 0; j < c; j++) {
        float v = s * (z[j] - (j == y ? margin_y : 0.0f));
        m = (j == 0 || v > m) ? v : m;
    }
    float sum = 0.0f;
    for (int j = 0; j < c; j++)
        sum += expf(s * (z[j] - (j == y ? margin_y : 0.0f)) - m);
    float lse = m + logf(sum);
    if (dz)
        for (int j = 0; j < c; j++) {
            float p = expf(s * (z[j] - (j == y ? margin_y : 0.0f)) - lse);
            dz[j] = w_y * s * (p - (j == y ? 1.0f : 0.0f));
        }
    return -w_y * (s * (z[y] - margin_y) - lse);
}

/* softmax(z / T) of one row: the tempered distribution of knowledge distillation. */
FER_HD void fer_softmax_row_temp(const float *z, int c, float T, float *p)
{
    float m = z[0] / T;
    for (int j = 1; j < c; j++)
        m = z[j] / T > m ? z[j] / T : m;
    float sum = 0.0f;
    for (int j = 0; j < c; j++) {
        p[j] = expf(z[j] / T - m);
        sum += p[j];
    }
    for (int j = 0; j < c; j++)
        p[j] /= sum;
}

/* Distillation term of one row (Hinton et al. 2015): with the teacher's tempered distribution
 * pt (a row summing to 1; an ensemble's is the mean of its members') and q = softmax(z / T),
 *     K_row = T^2 * KL(pt || q) = T^2 * sum_j pt_j * (log pt_j - log q_j)   (0 log 0 = 0),
 *     dK_row/dz_j = T * (q_j - pt_j)
 * (T^2 keeps the gradient's size independent of T). Returns K_row; adds scale * dK_row/dz to
 * dz when not NULL. */
FER_HD float fer_kd_row(const float *z, const float *pt, int c, float T, float scale, float *dz)
{
    float m = z[0] / T;
    for (int j = 1; j < c; j++)
        m = z[j] / T > m ? z[j] / T : m;
    float sum = 0.0f;
    for (int j = 0; j < c; j++)
        sum += expf(z[j] / T - m);
    float lse = m + logf(sum), kl = 0.0f;
    for (int j = 0; j < c; j++) {
        float lq = z[j] / T - lse;
        if (pt[j] > 0.0f)
            kl += pt[j] * (logf(pt[j]) - lq);
        if (dz)
            dz[j] += scale * T * (expf(lq) - pt[j]);
    }
    return T * T * kl;
}
#endif
