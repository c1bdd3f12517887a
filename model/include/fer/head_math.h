/* Per-element math of the classification heads (ArcFace margin, row L2 normalisation). */
#ifndef FER_HEAD_MATH_H
#define FER_HEAD_MATH_H
#include <math.h>
#include "fer/hd.h"

/* Cosines are clamped to [-1 + 1e-7, 1 - 1e-7] (as the seed) before the margin. */
#define FER_ARCFACE_EPS 1e-7f
/* F.normalize eps */
#define FER_L2NORM_EPS 1e-12f

/* Constants of the additive angular margin m, computed in double as Python does. */
typedef struct fer_arcface_consts {
    float s, cos_m, sin_m, th, mm;
} fer_arcface_consts;

FER_HD fer_arcface_consts fer_arcface_make_consts(float s, float m)
{
    const double pi = 3.14159265358979323846;
    fer_arcface_consts k;
    k.s = s;
    k.cos_m = (float)cos((double)m);
    k.sin_m = (float)sin((double)m);
    k.th = (float)cos(pi - (double)m);          /* beyond theta = pi - m the margin is not monotone */
    k.mm = (float)(sin(pi - (double)m) * (double)m); /* so fall back to cos - mm */
    return k;
}

FER_HD float fer_arcface_clamp(float c)
{
    const float lo = -1.0f + FER_ARCFACE_EPS, hi = 1.0f - FER_ARCFACE_EPS;
    return c < lo ? lo : (c > hi ? hi : c);
}

/* 1 when the clamp passes the gradient (PyTorch clamp backward: lo <= c <= hi). */
FER_HD int fer_arcface_clamp_passes(float c)
{
    return c >= -1.0f + FER_ARCFACE_EPS && c <= 1.0f - FER_ARCFACE_EPS;
}

/* phi(cos) = cos(theta + m) for cos > th, else cos - mm; cos already clamped. */
FER_HD float fer_arcface_phi(float c, const fer_arcface_consts *k)
{
    float sin2 = 1.0f - c * c;
    sin2 = sin2 < FER_ARCFACE_EPS ? FER_ARCFACE_EPS : sin2;
    float phi = c * k->cos_m - sqrtf(sin2) * k->sin_m;
    return c > k->th ? phi : c - k->mm;
}

FER_HD float fer_arcface_dphi(float c, const fer_arcface_consts *k)
{
    if (!(c > k->th))
        return 1.0f;
    float sin2 = 1.0f - c * c;
    if (sin2 < FER_ARCFACE_EPS)
        return k->cos_m; /* clamp_min blocks the sin gradient */
    return k->cos_m + k->sin_m * c / sqrtf(sin2);
}

/* Logit of one (raw, unclamped) cosine; is_label applies the margin (training only). */
FER_HD float fer_arcface_logit(float cos_raw, int is_label, const fer_arcface_consts *k)
{
    float c = fer_arcface_clamp(cos_raw);
    return k->s * (is_label ? fer_arcface_phi(c, k) : c);
}

/* d logit / d raw cosine times dlogit. */
FER_HD float fer_arcface_backward(float cos_raw, int is_label, float dlogit,
                                  const fer_arcface_consts *k)
{
    if (!fer_arcface_clamp_passes(cos_raw))
        return 0.0f;
    float c = fer_arcface_clamp(cos_raw);
    return dlogit * k->s * (is_label ? fer_arcface_dphi(c, k) : 1.0f);
}

/* F.normalize divisor: max(||x||, 1e-12). */
FER_HD float fer_l2norm_divisor(float norm)
{
    return norm > FER_L2NORM_EPS ? norm : FER_L2NORM_EPS;
}

/* dx_i of y = x / max(||x||, eps), with x_dot_dy = dot(x, dy) over the row:
 * dx = (dy - x * dot(x, dy) / norm^2) / norm when norm >= eps, else dy / eps. */
FER_HD float fer_l2norm_backward(float x, float dy, float norm, float x_dot_dy)
{
    if (norm >= FER_L2NORM_EPS)
        return (dy - x * x_dot_dy / (norm * norm)) / norm;
    return dy / FER_L2NORM_EPS;
}
#endif
