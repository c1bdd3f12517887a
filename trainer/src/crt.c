/* fer-train --crt: classifier re-training on frozen features (see crt.h). */
#include "crt.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fer_crt_continues(const char *path, const fer_checkpoint_meta *meta)
{
    if (!meta->config_json || !meta->state_json || !fer_checkpoint_has_optimizer(path))
        return 0;
    cJSON *cfg = cJSON_Parse(meta->config_json);
    int crt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "crt"));
    cJSON_Delete(cfg);
    return crt;
}

/* 1 when the folders a and b are the same one (0 when either does not exist). */
static int same_folder(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

fer_status fer_crt_settings(fer_cli *cli, const fer_checkpoint_meta *meta)
{
    fer_train_options *o = &cli->opt;
    if (!o->crt || o->epochs == 0 || fer_crt_continues(o->resume, meta))
        return FER_OK;
    if (fer_options_source(cli, "exp") < FER_SRC_CONFIG)
        return fer_fail(FER_ERR_ARG, "--crt: name the re-training run with --exp (it gets a "
                        "folder of its own; %s is not written to)", o->resume);
    char run_dir[2 * FER_OPT_STR], ckpt_dir[FER_OPT_STR];
    snprintf(run_dir, sizeof run_dir, "%s/%s", o->runs_dir, o->exp);
    const char *slash = strrchr(o->resume, '/');
    snprintf(ckpt_dir, sizeof ckpt_dir, "%.*s", slash ? (int)(slash - o->resume) : 1,
             slash ? o->resume : ".");
    if (same_folder(run_dir, ckpt_dir[0] ? ckpt_dir : "/"))
        return fer_fail(FER_ERR_ARG, "--crt: %s is the folder of %s; give the re-training run "
                        "another --exp or --runs_dir", run_dir, o->resume);
    if (fer_options_source(cli, "sampler") < FER_SRC_CONFIG)
        snprintf(o->sampler, sizeof o->sampler, "balanced");
    /* the feature run's weight EMA belongs to that run: only the head trains here, so an EMA
     * setting inherited from the checkpoint is dropped (one the user gives is still refused) */
    if (o->ema > 0 && fer_options_source(cli, "ema") < FER_SRC_CONFIG) {
        fprintf(stderr, "fer-train: cRT: not using the --ema %g of %s (its features are frozen; "
                        "the head trains without an average)\n", o->ema, o->resume);
        o->ema = 0;
        o->ema_warmup = 0;
    }
    return FER_OK;
}

/* The head's tensors: weight, then bias for the softmax head. */
static int head_tensors(fer_model *m, fer_tensor_info *ti)
{
    int n = 0;
    for (int t = 0; t < fer_model_n_tensors(m) && n < 2; t++)
        if (fer_model_tensor_info(m, t, &ti[n]) == FER_OK && !strncmp(ti[n].name, "head.", 5))
            n++;
    return n;
}

fer_status fer_crt_save_initial_head(fer_trainer *t, const fer_checkpoint_meta *meta,
                                     float **head_out)
{
    *head_out = NULL;
    if (fer_crt_continues(t->o.resume, meta) || strcmp(t->o.crt_head, "reinit") != 0)
        return FER_OK;
    fer_tensor_info ti[2];
    int n = head_tensors(t->model, ti);
    size_t total = 0;
    for (int k = 0; k < n; k++)
        total += ti[k].numel;
    float *head = malloc(sizeof(float) * (total ? total : 1));
    if (!head)
        return fer_fail(FER_ERR_NOMEM, "out of memory");
    fer_status s = FER_OK;
    for (int k = 0, at = 0; k < n && !s; at += (int)ti[k].numel, k++)
        s = fer_model_get_tensor(t->model, ti[k].name, head + at, ti[k].numel);
    if (s) {
        free(head);
        return s;
    }
    *head_out = head;
    return FER_OK;
}

fer_status fer_crt_begin(fer_trainer *t, const fer_checkpoint_meta *meta, const float *head)
{
    fer_status s = FER_OK;
    if (head) {
        fer_tensor_info ti[2];
        int n = head_tensors(t->model, ti);
        for (int k = 0, at = 0; k < n && !s; at += (int)ti[k].numel, k++)
            s = fer_model_set_tensor(t->model, ti[k].name, head + at, ti[k].numel);
    }
    if (!s) s = fer_model_freeze_features(t->model, 1);
    if (s) return s;
    if (!fer_crt_continues(t->o.resume, meta))
        fprintf(stderr, "fer-train: cRT: the features of %s are frozen (batch norm in eval mode); "
                        "the head (%s) trains %d epochs with the %s sampler\n", t->o.resume,
                head ? "initialised afresh" : "as in the checkpoint", t->o.epochs, t->o.sampler);
    return FER_OK;
}
