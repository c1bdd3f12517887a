/* Trainer state <-> JSON (see train_state.h). Doubles are printed by cJSON with enough digits
 * to read back bit-exactly. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>
#include "train_state.h"

void fer_train_state_init(fer_train_state *s, long seed, int total_epochs)
{
    memset(s, 0, sizeof *s);
    s->best_metric = -1.0;
    s->best_epoch = -1;
    s->seed = seed;
    s->total_epochs = total_epochs;
}

char *fer_train_state_to_json(const fer_train_state *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "epoch", s->epoch);
    cJSON_AddNumberToObject(o, "batch", s->batch);
    cJSON_AddNumberToObject(o, "epoch_loss_sum", s->loss_sum);
    cJSON_AddNumberToObject(o, "epoch_correct", (double)s->correct);
    cJSON_AddNumberToObject(o, "epoch_seen", (double)s->seen);
    cJSON_AddNumberToObject(o, "epoch_seconds", s->epoch_seconds);
    cJSON_AddNumberToObject(o, "best_metric", s->best_metric);
    cJSON_AddNumberToObject(o, "best_epoch", s->best_epoch);
    cJSON_AddNumberToObject(o, "total_epochs", s->total_epochs);
    cJSON_AddNumberToObject(o, "optimizer_steps", (double)s->optimizer_steps);
    cJSON *rng = cJSON_AddObjectToObject(o, "rng");
    if (rng) {
        cJSON_AddNumberToObject(rng, "seed", (double)s->seed);
        cJSON_AddStringToObject(rng, "scheme", "splitmix64 keyed by (seed, epoch, position)");
    }
    cJSON *sc = cJSON_AddObjectToObject(o, "schedule");
    if (sc) {
        cJSON_AddNumberToObject(sc, "kind", s->schedule.kind);
        cJSON_AddNumberToObject(sc, "plateau_lr", s->schedule.plateau_lr);
        if (isfinite(s->schedule.plateau_best)) /* JSON has no infinity: -inf is null */
            cJSON_AddNumberToObject(sc, "plateau_best", s->schedule.plateau_best);
        else
            cJSON_AddNullToObject(sc, "plateau_best");
        cJSON_AddNumberToObject(sc, "plateau_bad_epochs", s->schedule.plateau_bad_epochs);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

static int get_num(const cJSON *o, const char *key, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it)) return -1;
    *out = it->valuedouble;
    return 0;
}

fer_status fer_train_state_from_json(const char *json, const char *origin, fer_train_state *s)
{
    cJSON *o = cJSON_Parse(json);
    if (!o) return fer_fail(FER_ERR_FORMAT, "%s: trainer state is not valid JSON", origin);
    double v[9] = {0}, seed = 0, kind = 0, plr = 0, pbest = 0, pbad = 0;
    static const char *keys[9] = {"epoch",      "batch",        "epoch_loss_sum",
                                  "epoch_correct", "epoch_seen", "best_metric",
                                  "best_epoch", "total_epochs", "optimizer_steps"};
    int bad = 0;
    for (int i = 0; i < 9; i++) bad |= get_num(o, keys[i], &v[i]);
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(o, "rng");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "schedule");
    bad |= get_num(rng, "seed", &seed);
    bad |= get_num(sc, "kind", &kind) | get_num(sc, "plateau_lr", &plr) |
           get_num(sc, "plateau_bad_epochs", &pbad);
    if (get_num(sc, "plateau_best", &pbest)) pbest = -INFINITY;
    double epoch_seconds = 0; /* absent in checkpoints of earlier builds */
    (void)get_num(o, "epoch_seconds", &epoch_seconds);
    cJSON_Delete(o);
    if (bad) return fer_fail(FER_ERR_FORMAT, "%s: trainer state lacks fields", origin);
    s->epoch = (int)v[0];
    s->batch = (int)v[1];
    s->loss_sum = v[2];
    s->correct = (long)v[3];
    s->seen = (long)v[4];
    s->epoch_seconds = epoch_seconds;
    s->best_metric = v[5];
    s->best_epoch = (int)v[6];
    s->total_epochs = (int)v[7];
    s->optimizer_steps = (long)v[8];
    s->seed = (long)seed;
    s->schedule.kind = (fer_schedule_kind)(int)kind;
    s->schedule.plateau_lr = (float)plr;
    s->schedule.plateau_best = (float)pbest;
    s->schedule.plateau_bad_epochs = (int)pbad;
    return FER_OK;
}
