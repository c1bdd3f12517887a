/* --teacher: the teacher ensemble of knowledge distillation (see train_loss.h). Each member is
 * a checkpoint loaded on the training backend and folded (inference only, BN folded into the
 * convolutions), so a teacher costs one eval-mode forward pass per member per batch and shares
 * the backend's thread pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fer/checkpoint.h"
#include "fer/loss_math.h"
#include "fer/model.h"
#include "train_loss.h"

#define FER_MAX_TEACHERS 16

struct fer_teacher {
    int n_members, n_classes, max_batch;
    fer_model *members[FER_MAX_TEACHERS];
    float *logits; /* max_batch x n_classes */
};

/* Prefixes the last error with "--teacher: " (and the file when the message lacks it). */
static fer_status teacher_error(fer_status s, const char *path)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", fer_last_error());
    if (strstr(msg, path)) return fer_fail(s, "--teacher: %s", msg);
    return fer_fail(s, "--teacher: %s: %s", path, msg);
}

/* Loads one member: header checks first, so a wrong file is named before any allocation. */
static fer_status load_member(const char *path, fer_backend *backend, int max_batch,
                              int n_classes, const fer_norm *norm, fer_model **out)
{
    fer_arch arch;
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    fer_status s = fer_checkpoint_read_header(path, &arch, &meta);
    if (s) {
        fer_checkpoint_meta_clear(&meta);
        return teacher_error(s, path);
    }
    int meta_classes = meta.n_classes;
    fer_norm meta_norm = meta.norm;
    fer_checkpoint_meta_clear(&meta);
    if (arch.n_classes != n_classes || meta_classes != n_classes)
        return fer_fail(FER_ERR_FORMAT, "--teacher: %s: predicts %d classes, the training data "
                        "has %d", path, arch.n_classes, n_classes);
    if (arch.in_c != 1 || arch.in_h != FER_INPUT_SIZE || arch.in_w != FER_INPUT_SIZE)
        return fer_fail(FER_ERR_FORMAT, "--teacher: %s: input %dx%dx%d, the student's is 1x%dx%d",
                        path, arch.in_c, arch.in_h, arch.in_w, FER_INPUT_SIZE, FER_INPUT_SIZE);
    if (meta_norm.mean != norm->mean || meta_norm.std != norm->std)
        return fer_fail(FER_ERR_FORMAT, "--teacher: %s: input normalisation mean %g std %g, "
                        "the student's is mean %g std %g", path, (double)meta_norm.mean,
                        (double)meta_norm.std, (double)norm->mean, (double)norm->std);
    fer_model *trained = NULL;
    s = fer_checkpoint_load(path, backend, max_batch, &trained, NULL);
    if (!s) s = fer_model_fold(trained, backend, max_batch, out, NULL);
    fer_model_free(trained);
    return s ? teacher_error(s, path) : FER_OK;
}

fer_status fer_teacher_new(const char *list, fer_backend *backend, int max_batch, int n_classes,
                           const fer_norm *norm, fer_teacher **out)
{
    *out = NULL;
    fer_teacher *t = calloc(1, sizeof *t);
    if (!t) return fer_fail(FER_ERR_NOMEM, "out of memory");
    t->n_classes = n_classes;
    t->max_batch = max_batch;
    fer_status s = FER_OK;
    const char *p = list;
    while (!s) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char path[FER_OPT_STR];
        if (len == 0 || len >= sizeof path) {
            s = fer_fail(FER_ERR_ARG, "--teacher: \"%s\": expected CKPT[,CKPT...] (an empty or "
                         "over-long name)", list);
            break;
        }
        if (t->n_members == FER_MAX_TEACHERS) {
            s = fer_fail(FER_ERR_ARG, "--teacher: more than %d checkpoints", FER_MAX_TEACHERS);
            break;
        }
        memcpy(path, p, len);
        path[len] = 0;
        s = load_member(path, backend, max_batch, n_classes, norm, &t->members[t->n_members]);
        if (!s) t->n_members++;
        if (!comma) break;
        p = comma + 1;
    }
    if (!s && !(t->logits = malloc(sizeof(float) * (size_t)max_batch * n_classes)))
        s = fer_fail(FER_ERR_NOMEM, "out of memory");
    if (s) {
        fer_teacher_free(t);
        return s;
    }
    *out = t;
    return FER_OK;
}

void fer_teacher_free(fer_teacher *t)
{
    if (!t) return;
    for (int i = 0; i < t->n_members; i++) fer_model_free(t->members[i]);
    free(t->logits);
    free(t);
}

int fer_teacher_size(const fer_teacher *t)
{
    return t ? t->n_members : 0;
}

fer_status fer_teacher_probs(fer_teacher *t, const float *x, int n, float T, float *probs)
{
    if (n < 1 || n > t->max_batch)
        return fer_fail(FER_ERR_ARG, "teacher: batch of %d outside 1..%d", n, t->max_batch);
    const int c = t->n_classes;
    memset(probs, 0, sizeof(float) * (size_t)n * c);
    float row[FER_MAX_CLASSES];
    for (int k = 0; k < t->n_members; k++) {
        fer_status s = fer_model_forward(t->members[k], x, n, FER_MODE_EVAL, NULL, 0, t->logits);
        if (s) return s;
        for (int i = 0; i < n; i++) {
            fer_softmax_row_temp(t->logits + (size_t)i * c, c, T, row);
            for (int j = 0; j < c; j++) probs[(size_t)i * c + j] += row[j] / (float)t->n_members;
        }
    }
    return FER_OK;
}
