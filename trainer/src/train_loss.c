/* --loss ldam, --drw_epoch, --drs_epoch and --teacher (see train_loss.h). LDAM and
 * distillation are computed on the host from the student's downloaded logits (a batch is
 * n x 7 floats) with the row functions of fer/loss_math.h, and their gradient goes back
 * through fer_model_loss_grad; everything else stays on the backend's loss. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fer/loss_math.h"
#include "fer/losses.h"
#include "train_loss.h"

fer_status fer_trainer_setup_methods(fer_trainer *t)
{
    if (t->eval_only || !t->train) return FER_OK;
    const int c = t->n_classes;
    fer_status s = FER_OK;
    if (!strcmp(t->o.loss, "ldam"))
        s = fer_ldam_margins(t->train->class_counts, c, (float)t->o.ldam_max_margin,
                             t->ldam_margins);
    if (!s && t->o.drw_epoch > 0)
        s = fer_class_weights(t->train->class_counts, c, FER_WEIGHT_EFFECTIVE,
                              (float)t->o.drw_beta, t->drw_weights);
    if (!s && t->o.teacher[0])
        s = fer_teacher_new(t->o.teacher, t->backend, t->o.batch_size, c, &t->norm, &t->teacher);
    if (s) return s;
    if (t->teacher)
        fprintf(stderr, "fer-train: distilling from %d teacher%s (T %g, alpha %g)\n",
                fer_teacher_size(t->teacher), fer_teacher_size(t->teacher) == 1 ? "" : "s",
                t->o.kd_T, t->o.kd_alpha);
    size_t k = (size_t)t->o.batch_size * c;
    t->loss_dlogits = malloc(sizeof(float) * k);
    t->teacher_probs = t->teacher ? malloc(sizeof(float) * k) : NULL;
    if (!t->loss_dlogits || (t->teacher && !t->teacher_probs))
        return fer_fail(FER_ERR_NOMEM, "out of memory");
    return FER_OK;
}

void fer_trainer_free_methods(fer_trainer *t)
{
    fer_teacher_free(t->teacher);
    t->teacher = NULL;
    free(t->teacher_probs);
    free(t->loss_dlogits);
    t->teacher_probs = t->loss_dlogits = NULL;
}

fer_sampler_kind fer_trainer_epoch_sampler(const fer_trainer *t, int e)
{
    return t->o.drs_epoch > 0 && e >= t->o.drs_epoch ? FER_SAMPLER_BALANCED : t->sampler;
}

fer_status fer_trainer_teacher_batch(fer_trainer *t, const float *x, int n)
{
    if (!t->teacher) return FER_OK;
    return fer_teacher_probs(t->teacher, x, n, (float)t->o.kd_T, t->teacher_probs);
}

/* Weighted LDAM over the batch: sum_i L_i / sum_i w_yi (w = 1 before --drw_epoch). */
static fer_status ldam_loss(fer_trainer *t, const float *w, int n, const int32_t *labels,
                            float *loss)
{
    const int c = t->n_classes;
    double num = 0.0, den = 0.0;
    for (int i = 0; i < n; i++) {
        int y = labels[i];
        float wy = w ? w[y] : 1.0f;
        num += fer_ldam_row(t->logits + (size_t)i * c, c, y, t->ldam_margins[y],
                            (float)t->o.ldam_s, wy, t->loss_dlogits + (size_t)i * c);
        den += wy;
    }
    for (size_t k = 0; k < (size_t)n * c; k++) t->loss_dlogits[k] = (float)(t->loss_dlogits[k] / den);
    *loss = (float)(num / den);
    return fer_model_loss_grad(t->model, t->loss_dlogits);
}

/* (1 - alpha) * CE (labels or soft targets, smoothing and logit offset as --loss ce) + alpha *
 * T^2 * KL(teacher || student), both batch means. */
static fer_status kd_loss(fer_trainer *t, int n, const int32_t *labels, const float *targets,
                          float *loss)
{
    const int c = t->n_classes;
    const float alpha = (float)t->o.kd_alpha, T = (float)t->o.kd_T;
    const float *offset = t->loss.use_logit_offset ? t->loss.logit_offset : NULL;
    double ce = 0.0, kd = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = t->logits + (size_t)i * c;
        float *dz = t->loss_dlogits + (size_t)i * c;
        const float *target = targets ? targets + (size_t)i * c : NULL;
        ce += fer_loss_row(z, offset, c, target ? 0 : labels[i], target, NULL, 0.0f,
                           t->loss.label_smoothing, dz);
        for (int j = 0; j < c; j++) dz[j] *= 1.0f - alpha;
        kd += fer_kd_row(z, t->teacher_probs + (size_t)i * c, c, T, alpha, dz);
    }
    for (size_t k = 0; k < (size_t)n * c; k++) t->loss_dlogits[k] /= (float)n;
    *loss = (float)(((1.0 - alpha) * ce + alpha * kd) / n);
    return fer_model_loss_grad(t->model, t->loss_dlogits);
}

fer_status fer_trainer_loss(fer_trainer *t, int e, int n, const int32_t *labels,
                            const float *targets, float *loss)
{
    const int drw = t->o.drw_epoch > 0 && e >= t->o.drw_epoch;
    if (!strcmp(t->o.loss, "ldam")) return ldam_loss(t, drw ? t->drw_weights : NULL, n, labels, loss);
    if (t->teacher) return kd_loss(t, n, labels, targets, loss);
    fer_loss_config cfg = t->loss;
    if (drw) { /* --loss ce from epoch E on: weighted CE with the effective-number weights */
        cfg.kind = FER_LOSS_WCE;
        cfg.use_class_weights = 1;
        memcpy(cfg.class_weights, t->drw_weights, sizeof cfg.class_weights);
    }
    if (targets) return fer_model_loss_soft(t->model, &cfg, targets, loss);
    return fer_model_loss(t->model, &cfg, labels, loss);
}
