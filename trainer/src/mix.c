/* mixup, CutMix and Remix (see mix.h). */
#include <math.h>
#include <string.h>
#include "mix.h"

int fer_mix_enabled(const fer_mix_config *c)
{
    return (c->mixup_alpha > 0 || c->cutmix_alpha > 0) && c->prob > 0;
}

/* standard normal (Box-Muller; 1 - u keeps the logarithm finite) */
static double rng_normal(fer_rng *r)
{
    double u1 = 1.0 - fer_rng_uniform(r), u2 = fer_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Gamma(a, 1), a > 0: Marsaglia-Tsang for a >= 1; a < 1 as Gamma(a + 1) * U^(1/a). */
static double rng_gamma(fer_rng *r, double a)
{
    if (a < 1.0) {
        double u = 1.0 - fer_rng_uniform(r);
        return rng_gamma(r, a + 1.0) * pow(u, 1.0 / a);
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(r), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = 1.0 - fer_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v;
    }
}

double fer_rng_beta_sym(fer_rng *r, double alpha)
{
    double x = rng_gamma(r, alpha), y = rng_gamma(r, alpha);
    if (!(x + y > 0.0)) /* both underflowed (alpha tiny): Beta is then 0 or 1 */
        return fer_rng_uniform(r) < 0.5 ? 0.0 : 1.0;
    return x / (x + y);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void fer_mix_draw_batch(const fer_mix_config *c, uint64_t seed, int epoch, int batch, int n,
                        int h, int w, fer_mix_draw *d, int32_t *perm)
{
    memset(d, 0, sizeof *d);
    d->lambda = 1.0;
    for (int i = 0; i < n; i++)
        perm[i] = i;
    if (!fer_mix_enabled(c))
        return;
    fer_rng r = {fer_rng_key(seed, (uint64_t)epoch, (uint64_t)batch, FER_RNG_MIX)};
    /* fixed order of draws: mixed?, which, lambda, box, permutation */
    double u_mix = fer_rng_uniform(&r), u_which = fer_rng_uniform(&r);
    if (u_mix >= c->prob)
        return;
    int mixup = c->mixup_alpha > 0 && (c->cutmix_alpha <= 0 || u_which < 0.5);
    d->kind = mixup ? FER_MIX_MIXUP : FER_MIX_CUTMIX;
    d->lambda = fer_rng_beta_sym(&r, mixup ? c->mixup_alpha : c->cutmix_alpha);
    if (!mixup) {
        /* the reference implementation's box: side sqrt(1 - lambda) of the image's, centred at
         * a uniform pixel, clipped to the image; lambda then follows the clipped area */
        double cut = sqrt(1.0 - d->lambda);
        int cut_w = (int)(w * cut), cut_h = (int)(h * cut);
        int cx = (int)fer_rng_below(&r, (uint32_t)w), cy = (int)fer_rng_below(&r, (uint32_t)h);
        d->x0 = clampi(cx - cut_w / 2, 0, w);
        d->x1 = clampi(cx + cut_w / 2, 0, w);
        d->y0 = clampi(cy - cut_h / 2, 0, h);
        d->y1 = clampi(cy + cut_h / 2, 0, h);
        d->lambda = 1.0 - (double)(d->x1 - d->x0) * (d->y1 - d->y0) / ((double)w * h);
    }
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int j = (int)fer_rng_below(&r, (uint32_t)(i + 1));
        int32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

void fer_mix_images(const fer_mix_draw *d, const int32_t *perm, int n, int h, int w,
                    const float *x, float *out)
{
    const size_t plane = (size_t)h * w;
    memcpy(out, x, plane * n * sizeof *x);
    const float lam = (float)d->lambda;
    for (int i = 0; i < n && d->kind != FER_MIX_NONE; i++) {
        float *dst = out + plane * i;
        const float *own = x + plane * i, *other = x + plane * perm[i];
        if (d->kind == FER_MIX_MIXUP) {
            for (size_t k = 0; k < plane; k++)
                dst[k] = lam * own[k] + (1.0f - lam) * other[k];
        } else {
            for (int y = d->y0; y < d->y1; y++)
                memcpy(dst + (size_t)y * w + d->x0, other + (size_t)y * w + d->x0,
                       sizeof *x * (size_t)(d->x1 - d->x0));
        }
    }
}

double fer_mix_remix_weight(double lambda, double n_i, double n_j, double kappa, double tau)
{
    if (kappa <= 0 || !(n_i > 0) || !(n_j > 0))
        return lambda;
    double ratio = n_i / n_j;
    if (ratio >= kappa && lambda < tau)
        return 0.0;
    if (ratio <= 1.0 / kappa && 1.0 - lambda < tau)
        return 1.0;
    return lambda;
}

void fer_mix_targets(const fer_mix_config *c, const fer_mix_draw *d, const int32_t *perm, int n,
                     int classes, const int32_t *labels, const int64_t *class_counts,
                     float *targets, float *scratch)
{
    if (d->kind == FER_MIX_NONE)
        return;
    const size_t row = (size_t)classes;
    memcpy(scratch, targets, row * n * sizeof *targets);
    for (int i = 0; i < n; i++) {
        double l = fer_mix_remix_weight(d->lambda, (double)class_counts[labels[i]],
                                        (double)class_counts[labels[perm[i]]], c->remix_kappa,
                                        c->remix_tau);
        const float *own = scratch + row * i, *other = scratch + row * perm[i];
        for (size_t k = 0; k < row; k++)
            targets[row * i + k] = (float)(l * own[k] + (1.0 - l) * other[k]);
    }
}
