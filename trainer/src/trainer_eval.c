/* Evaluation on a split and the end-of-run outputs (see trainer.h). Validation scores the
 * training model's logits with libfereval's fer_eval_score; the final test evaluation runs the
 * saved checkpoint through libfereval's shared loop (fer_evaluate_arrays), the same code
 * fer-eval uses, so both report identical numbers for the same checkpoint and split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "dist.h"
#include "fer/evaluate.h"
#include "fer/figures.h"
#include "fer/fileio.h"
#include "train_loss.h"
#include "trainer.h"

fer_status fer_trainer_evaluate(fer_trainer *t, const fer_dataset *d, fer_metrics *m)
{
    return fer_trainer_evaluate_alt(t, d, NULL, m, NULL); /* train_targets.c */
}

/* Data-parallel: the confusion counts of every rank's shard added up, metrics recomputed. */
static fer_status sum_confusion(fer_metrics *m)
{
    const int C = m->n_classes;
    double v[FER_MAX_CLASSES * FER_MAX_CLASSES + 1];
    for (int i = 0; i < C * C; i++) v[i] = (double)m->confusion[i / C][i % C];
    v[C * C] = (double)m->n_ignored;
    fer_status s = fer_dist_sum_doubles(v, (size_t)C * C + 1);
    if (s) return s;
    for (int i = 0; i < C * C; i++) m->confusion[i / C][i % C] = (int64_t)v[i];
    m->n_ignored = (int64_t)v[C * C];
    fer_metrics_finish(m);
    return FER_OK;
}

fer_status fer_trainer_evaluate_sharded(fer_trainer *t, const fer_dataset *d,
                                        const int32_t *alt_labels, fer_metrics *m,
                                        fer_metrics *m_alt)
{
    if (fer_dist_size() == 1) return fer_trainer_evaluate_alt(t, d, alt_labels, m, m_alt);
    int first, n;
    fer_dist_shard(d->n, fer_dist_rank(), fer_dist_size(), &first, &n);
    fer_dataset shard = *d; /* a view: this rank's images */
    shard.n = n;
    shard.pixels = d->pixels + (size_t)first * d->h * d->w;
    shard.labels = d->labels + first;
    shard.sources = d->sources ? d->sources + first : NULL;
    fer_status s = fer_trainer_evaluate_alt(t, &shard, alt_labels ? alt_labels + first : NULL, m,
                                            m_alt);
    if (!s) s = sum_confusion(m);
    if (!s && alt_labels) s = sum_confusion(m_alt);
    return s;
}

/* The checkpoint on the test split through the evaluator's loop (as fer-eval). The classifier
 * brings a backend (and pool) of its own, so the training model, optimiser and backend are
 * released first: one pool in the process at any time, and no second model's memory. */
static fer_status evaluate_checkpoint(fer_trainer *t, const char *ckpt, fer_metrics *m)
{
    char backend[32];
    snprintf(backend, sizeof backend, "%s", fer_backend_name(t->backend));
    fer_ema_free(t->ema); /* backend memory: before the backend goes */
    fer_trainer_free_methods(t);
    fer_optimizer_free(t->optim);
    fer_model_free(t->model);
    fer_backend_free(t->backend);
    t->ema = NULL;
    t->optim = NULL;
    t->model = NULL;
    t->backend = NULL;
    fer_classifier *c = NULL;
    fer_status s = fer_classifier_new(ckpt, backend, t->o.threads, t->o.batch_size, &c);
    if (s) return s;
    fer_eval_options eo = {.tta = FER_TTA_NONE, .batch_size = t->o.batch_size};
    s = fer_evaluate_arrays(c, t->test->pixels, t->test->labels, t->test->n, &eo, 0.0f, m, NULL);
    fer_classifier_free(c);
    return s;
}

/* metrics.json as written a moment ago, to stdout (the seed printed its metrics dict). */
static fer_status print_file(const char *path)
{
    char *text = NULL;
    size_t n = 0;
    fer_status s = fer_read_file(path, (size_t)16 << 20, &text, &n);
    if (s) return s;
    fwrite(text, 1, n, stdout);
    free(text);
    fputc('\n', stdout);
    fflush(stdout);
    return FER_OK;
}

fer_status fer_trainer_finish(fer_trainer *t)
{
    if (fer_dist_rank() != 0) return FER_OK; /* data-parallel: rank 0 tests and writes */
    fer_status s;
    const char *ckpt = t->o.resume;
    if (!t->eval_only) ckpt = t->st.best_epoch >= 1 ? t->best_path : t->last_path;
    fer_metrics m;
    if ((s = evaluate_checkpoint(t, ckpt, &m))) return s;
    char extra[8600], path[4300], title[512];
    char *esc = malloc(2 * strlen(ckpt) + 1), *q = esc;
    if (!esc) return fer_fail(FER_ERR_NOMEM, "out of memory");
    for (const char *p = ckpt; *p; p++) { /* JSON string escape of the path */
        if (*p == '"' || *p == '\\') *q++ = '\\';
        *q++ = (unsigned char)*p < 0x20 ? '?' : *p;
    }
    *q = 0;
    /* --labels ferplus_*: the best epoch's val scores on FER+ majority labels (test: FER-2013) */
    char ferplus[160] = "";
    for (int i = 0; !t->eval_only && i < t->n_history; i++)
        if (t->history[i].epoch == t->st.best_epoch && isfinite(t->history[i].val_ferplus_acc))
            snprintf(ferplus, sizeof ferplus,
                     ",\"val_ferplus_best_epoch\":{\"accuracy\":%.9g,\"macro_f1\":%.9g}",
                     t->history[i].val_ferplus_acc, t->history[i].val_ferplus_macro_f1);
    snprintf(extra, sizeof extra,
             "{\"split\":\"test\",\"checkpoint\":\"%s\",\"best_epoch\":%d,\"test_images\":%d,"
             "\"data_fingerprint\":\"%s\"%s}",
             esc, t->eval_only ? -1 : t->st.best_epoch, t->test->n, t->test->fingerprint, ferplus);
    free(esc);
    snprintf(path, sizeof path, "%s/metrics.json", t->run_dir);
    if ((s = fer_metrics_write_json(&m, extra, path))) return s;
    char json_path[4300];
    snprintf(json_path, sizeof json_path, "%s", path);
    snprintf(path, sizeof path, "%s/confusion_matrix.png", t->run_dir);
    snprintf(title, sizeof title, "Confusion matrix: %s (test)", t->o.exp);
    if ((s = fer_figure_confusion(&m, 0, title, path))) return s;
    if (t->test->n_skipped || (t->train && t->train->n_skipped) || (t->val && t->val->n_skipped))
        fprintf(stderr, "fer-train: skipped %d bad inputs (--skip-bad)\n",
                t->test->n_skipped + (t->train ? t->train->n_skipped : 0) +
                    (t->val ? t->val->n_skipped : 0));
    fprintf(stderr, "fer-train: test accuracy %.4f, macro-F1 %.4f (%s); outputs in %s/\n",
            m.accuracy, m.macro_f1, ckpt, t->run_dir);
    return print_file(json_path);
}
