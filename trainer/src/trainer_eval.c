/* Evaluation on a split and the end-of-run outputs (see trainer.h). Images are fed exactly as
 * fer-eval feeds them (no augmentation, fer/preprocess.h normalisation), so both agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "batch.h"
#include "fer/figures.h"
#include "trainer.h"

static void softmax_row(const float *z, int n, float *p)
{
    float mx = z[0];
    for (int i = 1; i < n; i++) mx = z[i] > mx ? z[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (p[i] = expf(z[i] - mx));
    for (int i = 0; i < n; i++) p[i] = (float)(p[i] / sum);
}

fer_status fer_trainer_evaluate(fer_trainer *t, const fer_dataset *d, fer_metrics *m)
{
    fer_metrics_init(m, t->n_classes, (const char(*)[FER_NAME_LEN])t->class_names);
    const int bs = t->o.batch_size;
    float probs[FER_MAX_CLASSES];
    for (int first = 0; first < d->n; first += bs) {
        int n = d->n - first < bs ? d->n - first : bs;
        fer_batch_request req = {.data = d, .first = first, .n = n, .norm = t->norm,
                                 .x = t->x, .labels = t->labels};
        fer_batch_fill(fer_backend_threadpool(t->backend), &req);
        fer_status s = fer_model_forward(t->model, t->x, n, FER_MODE_EVAL, NULL, 0, t->logits);
        if (s) return s;
        for (int i = 0; i < n; i++) {
            const float *z = t->logits + (size_t)i * t->n_classes;
            int pred = 0;
            for (int c = 1; c < t->n_classes; c++)
                if (z[c] > z[pred]) pred = c;
            softmax_row(z, t->n_classes, probs);
            fer_metrics_add(m, t->labels[i], pred, probs);
        }
    }
    fer_metrics_finish(m);
    return FER_OK;
}

static fer_status print_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fer_fail(FER_ERR_IO, "%s: cannot read back", path);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    fclose(f);
    fputc('\n', stdout);
    fflush(stdout);
    return FER_OK;
}

fer_status fer_trainer_finish(fer_trainer *t)
{
    fer_status s;
    const char *ckpt = t->o.resume;
    if (!t->eval_only) {
        if (t->st.best_epoch >= 1) {
            if ((s = fer_checkpoint_load_into(t->best_path, t->model, NULL, NULL))) return s;
            ckpt = t->best_path;
        } else {
            ckpt = t->last_path;
        }
    }
    fer_metrics m;
    if ((s = fer_trainer_evaluate(t, t->test, &m))) return s;
    char extra[8600], path[4300], title[512];
    char *esc = malloc(2 * strlen(ckpt) + 1), *q = esc;
    if (!esc) return fer_fail(FER_ERR_NOMEM, "out of memory");
    for (const char *p = ckpt; *p; p++) { /* JSON string escape of the path */
        if (*p == '"' || *p == '\\') *q++ = '\\';
        *q++ = (unsigned char)*p < 0x20 ? '?' : *p;
    }
    *q = 0;
    snprintf(extra, sizeof extra,
             "{\"split\":\"test\",\"checkpoint\":\"%s\",\"best_epoch\":%d,\"test_images\":%d,"
             "\"data_fingerprint\":\"%s\"}",
             esc, t->eval_only ? -1 : t->st.best_epoch, t->test->n, t->test->fingerprint);
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
