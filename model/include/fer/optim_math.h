/* Per-element optimiser updates with torch.optim semantics (Adam, AdamW, SGD with momentum /
 * Nesterov / dampening, L2 or decoupled weight decay). The scalar coefficients (bias
 * corrections) are computed once per step in double, as PyTorch does in Python. */
#ifndef FER_OPTIM_MATH_H
#define FER_OPTIM_MATH_H
#include <math.h>
#include "fer/hd.h"
#include "fer/backend.h"

typedef struct fer_optim_coeffs {
    int kind;           /* fer_optim_kind */
    float lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
    float step_size;    /* adam: lr / (1 - beta1^t) */
    float bc2_sqrt;     /* adam: sqrt(1 - beta2^t) */
    float decay_mul;    /* adamw: 1 - lr * weight_decay */
    float momentum, one_minus_dampening;
    int nesterov, first_step;
} fer_optim_coeffs;

FER_HD fer_optim_coeffs fer_optim_make_coeffs(const fer_optim_args *a)
{
    fer_optim_coeffs k;
    double t = (double)a->step;
    k.kind = (int)a->kind;
    k.lr = a->lr;
    k.beta1 = a->beta1;
    k.one_minus_beta1 = (float)(1.0 - (double)a->beta1);
    k.beta2 = a->beta2;
    k.one_minus_beta2 = (float)(1.0 - (double)a->beta2);
    k.eps = a->eps;
    k.weight_decay = a->weight_decay;
    k.step_size = (float)((double)a->lr / (1.0 - pow((double)a->beta1, t)));
    k.bc2_sqrt = (float)sqrt(1.0 - pow((double)a->beta2, t));
    k.decay_mul = (float)(1.0 - (double)a->lr * (double)a->weight_decay);
    k.momentum = a->momentum;
    k.one_minus_dampening = (float)(1.0 - (double)a->dampening);
    k.nesterov = a->nesterov;
    k.first_step = a->step <= 1;
    return k;
}

/* One element: param p with gradient g; m = exp_avg / momentum buffer, v = exp_avg_sq. */
FER_HD void fer_optim_update(const fer_optim_coeffs *k, float *p, float g, float *m, float *v)
{
    float x = *p;
    if (k->kind == FER_OPTIM_SGD) {
        if (k->weight_decay != 0.0f)
            g = g + k->weight_decay * x;
        if (k->momentum != 0.0f) {
            float buf = k->first_step ? g : k->momentum * *m + k->one_minus_dampening * g;
            *m = buf;
            g = k->nesterov ? g + k->momentum * buf : buf;
        }
        *p = x - k->lr * g;
        return;
    }
    if (k->kind == FER_OPTIM_ADAMW)
        x = x * k->decay_mul;
    else if (k->weight_decay != 0.0f)
        g = g + k->weight_decay * x;
    float mm = k->beta1 * *m + k->one_minus_beta1 * g;
    float vv = k->beta2 * *v + k->one_minus_beta2 * g * g;
    *m = mm;
    *v = vv;
    float denom = sqrtf(vv) / k->bc2_sqrt + k->eps;
    *p = x - k->step_size * (mm / denom);
}
#endif
