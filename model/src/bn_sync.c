/* Synchronised batch norm (see bn_sync.h and fer_model_set_bn_sync in fer/model.h).
 *
 * Built from the backends' own batch-norm ops, so every backend has it without a kernel of
 * its own: per channel only a few numbers cross the host (means, variances, the two gradient
 * sums), the passes over the activations stay on the backend.
 *
 * Forward: the backend's training pass gives this process's mean and 1/sqrt(var + eps); the
 * processes' means are summed to the global mean, then their variances as
 * n_r * ((var_r + eps) + (mean_r - mean)^2), the parallel-variance formula (no cancellation of
 * E[x^2] - mean^2). The output is the backend's eval pass with the global statistics in place
 * of the running ones, and the running statistics are updated from the global ones (the
 * unbiased variance over the global count), identically on every process.
 *
 * Backward: the trainer weights process r's gradients by w_r = n_r / N (its share), so with
 * m_r = n_r * hw values per channel here, process r's input gradient must be
 *   gamma * invstd * (dy - S1 / m_r - xhat * S2 / m_r),  S1 = sum_r w_r sum(dy), S2 likewise
 * for dy * xhat; the backend's local pass uses its own sums instead, so the difference, affine
 * in xhat per channel, is added: the backend's eval pass computes it (gamma' = the xhat
 * coefficient, beta' = the constant, variance 1 - eps) into dy's slot, dead once this layer's
 * backward ran (batch norm's input gradient lives in another slot), and `add` sums it in. */
#include <math.h>
#include <stdlib.h>
#include "bn_sync.h"
#include "fer/layer_math.h"
#include "layer_ops.h"

static int is_bn(const fer_layer_rt *l)
{
    return l->spec.kind == FER_LAYER_BATCHNORM2D || l->spec.kind == FER_LAYER_BATCHNORM1D;
}

/* Host scratch: doubles first (3 x max_c + 1), then floats (8 x max_c). */
static double *host_doubles(fer_model *m)
{
    return m->bn_host;
}

static float *host_floats(fer_model *m, int k)
{
    return (float *)(m->bn_host + 3 * (size_t)m->bn_max_c + 1) + (size_t)k * m->bn_max_c;
}

static void release_scratch(fer_model *m)
{
    if (m->bn_scratch && m->b->ops->release)
        m->b->ops->release(m->b, m->bn_scratch);
    free(m->bn_host);
    m->bn_scratch = NULL;
    m->bn_host = NULL;
    m->bn_max_c = 0;
}

fer_status fer_model_set_bn_sync(fer_model *m, fer_sum_fn sum, void *ctx)
{
    release_scratch(m);
    m->bn_sum = NULL;
    m->bn_sum_ctx = NULL;
    if (!sum)
        return FER_OK;
    int max_c = 1;
    for (int i = 0; i < m->arch.n_layers; i++)
        if (is_bn(&m->layers[i]) && m->layers[i].in.c > max_c)
            max_c = m->layers[i].in.c;
    size_t bytes = (3 * (size_t)max_c + 1) * sizeof(double) + 8 * (size_t)max_c * sizeof(float);
    if (!(m->bn_host = malloc(bytes)))
        return fer_fail(FER_ERR_NOMEM, "model: out of memory");
    m->bn_max_c = max_c;
    fer_status s = FER_OP(m->b, alloc, 3 * (size_t)max_c * sizeof(float), (void **)&m->bn_scratch);
    if (s) {
        release_scratch(m);
        return s;
    }
    m->bn_sum = sum;
    m->bn_sum_ctx = ctx;
    return FER_OK;
}

void fer_bn_sync_release(fer_model *m)
{
    release_scratch(m);
}

int fer_bn_sync_on(const fer_model *m)
{
    return m->bn_sum != NULL;
}

static fer_status sum(fer_model *m, double *v, int count)
{
    return m->bn_sum(m->bn_sum_ctx, v, count);
}

static fer_status get(fer_model *m, float *host, const float *src, int c)
{
    return FER_OP(m->b, download, host, src, (size_t)c * sizeof(float));
}

static fer_status put(fer_model *m, float *dst, const float *host, int c)
{
    return FER_OP(m->b, upload, dst, host, (size_t)c * sizeof(float));
}

fer_status fer_bn_sync_forward(fer_model *m, int i, const fer_bn_args *a, const float *x)
{
    fer_layer_rt *l = &m->layers[i];
    const int c = a->c;
    const double local = (double)a->n * a->hw;
    double *acc = host_doubles(m), *mean = acc + c + 1;
    float *rm = host_floats(m, 0), *rv = host_floats(m, 1), *lmean = host_floats(m, 2),
          *linv = host_floats(m, 3), *f = host_floats(m, 4);
    float *running_mean = m->tensors[l->t_running_mean].data;
    float *running_var = m->tensors[l->t_running_var].data;
    const float *gamma = m->tensors[l->t_weight].data, *beta = m->tensors[l->t_bias].data;
    FER_TRY(get(m, rm, running_mean, c));
    FER_TRY(get(m, rv, running_var, c));
    if (a->n > 0) { /* this process's statistics (the running update is redone below) */
        FER_TRY(FER_OP(m->b, batchnorm_forward, a, 1, x, gamma, beta, running_mean, running_var,
                       l->y, l->save_mean, l->save_invstd));
        FER_TRY(get(m, lmean, l->save_mean, c));
        FER_TRY(get(m, linv, l->save_invstd, c));
    }
    for (int k = 0; k < c; k++)
        acc[k] = a->n > 0 ? local * lmean[k] : 0.0;
    acc[c] = local;
    FER_TRY(sum(m, acc, c + 1));
    const double count = acc[c];
    if (count < 2.0)
        return fer_fail(FER_ERR_ARG, "model: batch norm needs more than one value per channel "
                        "in training (%.0f over all processes)", count);
    for (int k = 0; k < c; k++)
        mean[k] = acc[k] / count;
    for (int k = 0; k < c; k++) {
        double d = a->n > 0 ? (double)lmean[k] - mean[k] : 0.0;
        double var_eps = a->n > 0 ? 1.0 / ((double)linv[k] * linv[k]) : 0.0;
        acc[k] = a->n > 0 ? local * (var_eps + d * d) : 0.0;
    }
    FER_TRY(sum(m, acc, c));
    m->bn_share = local / count;
    for (int k = 0; k < c; k++) { /* acc: the global biased variance */
        acc[k] = acc[k] / count - (double)a->eps;
        if (acc[k] < 0.0)
            acc[k] = 0.0;
    }
    if (a->n > 0) {
        float *scratch_var = m->bn_scratch;
        for (int k = 0; k < c; k++)
            f[k] = (float)mean[k];
        FER_TRY(put(m, l->save_mean, f, c));
        for (int k = 0; k < c; k++)
            f[k] = (float)acc[k];
        FER_TRY(put(m, scratch_var, f, c));
        FER_TRY(FER_OP(m->b, batchnorm_forward, a, 0, x, gamma, beta, l->save_mean, scratch_var,
                       l->y, NULL, NULL));
        for (int k = 0; k < c; k++) /* what the eval pass used, so backward's xhat matches */
            f[k] = 1.0f / sqrtf(f[k] + a->eps);
        FER_TRY(put(m, l->save_invstd, f, c));
    }
    for (int k = 0; k < c; k++) {
        rm[k] = fer_bn_running(rm[k], (float)mean[k], a->momentum);
        rv[k] = fer_bn_running(rv[k], fer_bn_unbiased((float)acc[k], count), a->momentum);
    }
    FER_TRY(put(m, running_mean, rm, c));
    return put(m, running_var, rv, c);
}

fer_status fer_bn_sync_backward(fer_model *m, int i, const fer_bn_args *a, const float *x,
                                const float *dy, float *dx)
{
    fer_layer_rt *l = &m->layers[i];
    const int c = a->c;
    const double local = (double)a->n * a->hw;
    float *dgamma = m->tensors[l->t_weight].grad, *dbeta = m->tensors[l->t_bias].grad;
    const float *gamma = m->tensors[l->t_weight].data;
    if (a->n > 0)
        FER_TRY(FER_OP(m->b, batchnorm_backward, a, x, gamma, m->tensors[l->t_bias].data,
                       l->save_mean, l->save_invstd, dy, dx, dgamma, dbeta));
    if (!dx)
        return FER_OK;
    double *acc = host_doubles(m);
    float *sdy = host_floats(m, 0), *sdyx = host_floats(m, 1), *g = host_floats(m, 2),
          *inv = host_floats(m, 3), *coef = host_floats(m, 4), *cons = host_floats(m, 5),
          *unit = host_floats(m, 6);
    if (a->n > 0) {
        FER_TRY(get(m, sdy, dbeta, c));
        FER_TRY(get(m, sdyx, dgamma, c));
    }
    for (int k = 0; k < c; k++) {
        acc[k] = a->n > 0 ? m->bn_share * sdy[k] : 0.0;
        acc[c + k] = a->n > 0 ? m->bn_share * sdyx[k] : 0.0;
    }
    FER_TRY(sum(m, acc, 2 * c));
    if (a->n == 0)
        return FER_OK;
    FER_TRY(get(m, g, gamma, c));
    FER_TRY(get(m, inv, l->save_invstd, c));
    for (int k = 0; k < c; k++) {
        double gi = (double)g[k] * inv[k] / local;
        cons[k] = (float)(gi * ((double)sdy[k] - acc[k]));
        coef[k] = (float)(gi * ((double)sdyx[k] - acc[c + k]) * inv[k]); /* per (x - mean) */
        unit[k] = 1.0f - a->eps;                                         /* invstd 1 */
    }
    float *s_var = m->bn_scratch, *s_gamma = s_var + m->bn_max_c, *s_beta = s_gamma + m->bn_max_c;
    FER_TRY(put(m, s_var, unit, c));
    FER_TRY(put(m, s_gamma, coef, c));
    FER_TRY(put(m, s_beta, cons, c));
    float *correction = m->grad_slots[l->dy_slot];
    if (correction != dy)
        return fer_fail(FER_ERR_INTERNAL, "model: batch norm %d: dy is not its slot", i);
    FER_TRY(FER_OP(m->b, batchnorm_forward, a, 0, x, s_gamma, s_beta, l->save_mean, s_var,
                   correction, NULL, NULL));
    return FER_OP(m->b, add, (size_t)a->n * c * a->hw, dx, correction, dx);
}

/* Through the layer table's own batch-norm entries with n = 0, so the arguments are theirs. */
fer_status fer_model_bn_sync_empty_step(fer_model *m)
{
    if (!m->bn_sum || m->features_frozen) /* cRT: batch norm runs as in eval, no sums */
        return FER_OK;
    const float *none[FER_MAX_INPUTS] = {NULL};
    for (int i = 0; i < m->arch.n_layers; i++)
        if (is_bn(&m->layers[i]))
            FER_TRY(fer_layer_op_of(m->layers[i].spec.kind)->forward(m, i, none, 0, 1, 0));
    for (int i = m->arch.n_layers - 1; i >= 0; i--) {
        fer_layer_rt *l = &m->layers[i];
        if (!is_bn(l))
            continue;
        float *dx[FER_MAX_INPUTS] = {l->dx_slot[0] >= 0 ? m->grad_slots[l->dx_slot[0]] : NULL};
        FER_TRY(fer_layer_op_of(l->spec.kind)->backward(m, i, 0, none, NULL, dx));
    }
    return FER_OK;
}
