/* Soft targets of training batches: FER+ labels (--labels) and batch mixing (--mixup,
 * --cutmix, Remix), see trainer.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "batch.h"
#include "fer/evaluate.h"
#include "ferplus.h"
#include "trainer.h"

/* --ferplus, or DATA/../ferplus/votes.tsv with DATA the --data_root folder (or the folder
 * holding --data_root's .csv). */
static void votes_path(const fer_train_options *o, char *out, size_t cap)
{
    if (o->ferplus[0]) {
        snprintf(out, cap, "%s", o->ferplus);
        return;
    }
    struct stat st;
    if (stat(o->data_root, &st) == 0 && S_ISREG(st.st_mode)) {
        const char *slash = strrchr(o->data_root, '/');
        if (slash)
            snprintf(out, cap, "%.*s/../ferplus/votes.tsv", (int)(slash - o->data_root),
                     o->data_root);
        else
            snprintf(out, cap, "../ferplus/votes.tsv");
        return;
    }
    snprintf(out, cap, "%s/../ferplus/votes.tsv", o->data_root);
}

/* --labels ferplus_majority: the training labels become FER+'s; counts and prior follow. */
static void use_majority(fer_trainer *t, const int32_t *majority)
{
    fer_dataset *d = t->train;
    memcpy(d->labels, majority, sizeof *majority * (size_t)d->n);
    memset(d->class_counts, 0, sizeof d->class_counts);
    for (int i = 0; i < d->n; i++)
        d->class_counts[d->labels[i]]++;
    for (int c = 0; c < t->n_classes; c++)
        t->class_prior[c] = (float)((double)d->class_counts[c] / d->n);
}

static fer_status load_ferplus(fer_trainer *t)
{
    char path[FER_OPT_STR + 32];
    votes_path(&t->o, path, sizeof path);
    fer_ferplus fp;
    fer_status s = fer_ferplus_load(path, &fp);
    if (s) {
        char why[1024];
        snprintf(why, sizeof why, "%s", fer_last_error());
        return fer_fail(s, "--labels %s: %s (--ferplus names the votes file)", t->o.labels, why);
    }
    const int soft = !strcmp(t->o.labels, "ferplus_soft");
    const size_t n = (size_t)t->train->n, C = (size_t)t->n_classes;
    int32_t *majority = malloc(sizeof *majority * (n ? n : 1));
    t->val_ferplus = malloc(sizeof *t->val_ferplus * (size_t)(t->val->n ? t->val->n : 1));
    if (soft)
        t->train_soft = malloc(sizeof *t->train_soft * (n * C > 0 ? n * C : 1));
    int voted_train = 0, voted_val = 0;
    if (!majority || !t->val_ferplus || (soft && !t->train_soft))
        s = fer_fail(FER_ERR_NOMEM, "out of memory");
    if (!s)
        s = fer_ferplus_labels(&fp, t->train, path, t->train_soft, majority, &voted_train);
    if (!s)
        s = fer_ferplus_labels(&fp, t->val, path, NULL, t->val_ferplus, &voted_val);
    if (!s && voted_train == 0)
        s = fer_fail(FER_ERR_FORMAT, "%s: no training image has FER+ votes (do its row numbers "
                     "match the data's <row>.png names or CSV rows?)", path);
    if (!s && !soft)
        use_majority(t, majority);
    if (!s)
        fprintf(stderr, "fer-train: --labels %s from %s: FER+ votes for %d of %d training and %d "
                        "of %d validation images (the others keep their FER-2013 label)\n",
                t->o.labels, path, voted_train, t->train->n, voted_val, t->val->n);
    free(majority);
    fer_ferplus_free(&fp);
    return s;
}

fer_status fer_trainer_setup_targets(fer_trainer *t)
{
    t->mix = (fer_mix_config){.mixup_alpha = t->o.mixup, .cutmix_alpha = t->o.cutmix,
                              .prob = t->o.mix_prob, .remix_kappa = t->o.remix_kappa,
                              .remix_tau = t->o.remix_tau};
    if (!t->train)
        return FER_OK;
    fer_status s;
    if (strcmp(t->o.labels, "fer2013") != 0 && (s = load_ferplus(t)))
        return s;
    const size_t bs = (size_t)t->o.batch_size, C = (size_t)t->n_classes;
    t->mix_x = malloc(sizeof(float) * bs * FER_INPUT_SIZE * FER_INPUT_SIZE);
    t->targets = malloc(sizeof(float) * bs * C);
    t->targets_scratch = malloc(sizeof(float) * bs * C);
    t->mix_perm = malloc(sizeof(int32_t) * bs);
    if (!t->mix_x || !t->targets || !t->targets_scratch || !t->mix_perm)
        return fer_fail(FER_ERR_NOMEM, "out of memory");
    return FER_OK;
}

void fer_trainer_free_targets(fer_trainer *t)
{
    free(t->train_soft);
    free(t->val_ferplus);
    free(t->mix_x);
    free(t->targets);
    free(t->targets_scratch);
    free(t->mix_perm);
    t->train_soft = t->mix_x = t->targets = t->targets_scratch = NULL;
    t->val_ferplus = t->mix_perm = NULL;
}

fer_status fer_trainer_batch_targets(fer_trainer *t, int epoch, int b, int n, const float *x,
                                     const int32_t *labels, const float **x_out,
                                     const float **targets_out)
{
    *x_out = x;
    *targets_out = NULL;
    if (!t->train_soft && !fer_mix_enabled(&t->mix))
        return FER_OK;
    fer_mix_draw d;
    fer_mix_draw_batch(&t->mix, (uint64_t)t->o.seed, epoch, b, n, FER_INPUT_SIZE,
                       FER_INPUT_SIZE, &d, t->mix_perm);
    if (!t->train_soft && d.kind == FER_MIX_NONE)
        return FER_OK; /* an unmixed batch of hard labels: the int-label loss, as without mixing */
    const int C = t->n_classes;
    const int32_t *idx = t->order + (size_t)b * t->o.batch_size; /* the batch's images */
    for (int i = 0; i < n; i++) {
        float *row = t->targets + (size_t)i * C;
        if (t->train_soft) {
            memcpy(row, t->train_soft + (size_t)idx[i] * C, sizeof *row * (size_t)C);
        } else {
            for (int c = 0; c < C; c++)
                row[c] = c == labels[i] ? 1.0f : 0.0f;
        }
    }
    if (d.kind != FER_MIX_NONE) {
        fer_mix_targets(&t->mix, &d, t->mix_perm, n, C, labels, t->train->class_counts,
                        t->targets, t->targets_scratch);
        fer_mix_images(&d, t->mix_perm, n, FER_INPUT_SIZE, FER_INPUT_SIZE, x, t->mix_x);
        *x_out = t->mix_x;
    }
    *targets_out = t->targets;
    return FER_OK;
}

fer_status fer_trainer_evaluate_alt(fer_trainer *t, const fer_dataset *d,
                                    const int32_t *alt_labels, fer_metrics *m,
                                    fer_metrics *m_alt)
{
    fer_metrics_init(m, t->n_classes, (const char(*)[FER_NAME_LEN])t->class_names);
    if (alt_labels)
        fer_metrics_init(m_alt, t->n_classes, (const char(*)[FER_NAME_LEN])t->class_names);
    /* validation runs in FP32 under --amp too: bf16 is for the training step only */
    fer_precision train_prec = t->backend->precision;
    if (train_prec != FER_PREC_FP32) {
        fer_status s = fer_backend_set_precision(t->backend, FER_PREC_FP32);
        if (s)
            return s;
    }
    fer_status s = FER_OK;
    const int bs = t->o.batch_size;
    for (int first = 0; first < d->n && !s; first += bs) {
        int n = d->n - first < bs ? d->n - first : bs;
        fer_batch_request req = {.data = d, .first = first, .n = n, .norm = t->norm,
                                 .x = t->x, .labels = t->labels};
        fer_batch_fill(fer_backend_threadpool(t->backend), &req);
        s = fer_model_forward(t->model, t->x, n, FER_MODE_EVAL, NULL, 0, t->logits);
        if (s)
            break;
        fer_eval_score(t->logits, t->labels, n, t->n_classes, NULL, 0.0f, m, NULL, NULL);
        if (alt_labels)
            fer_eval_score(t->logits, alt_labels + first, n, t->n_classes, NULL, 0.0f, m_alt,
                           NULL, NULL);
    }
    if (train_prec != FER_PREC_FP32) {
        fer_status back = fer_backend_set_precision(t->backend, train_prec);
        if (!s)
            s = back;
    }
    return s;
}
