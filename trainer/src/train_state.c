/* Trainer state <-> JSON (see train_state.h). Doubles are printed by cJSON with enough digits
 * to read back bit-exactly. */
#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "fer/json_num.h"
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

/* Every number range-checked before conversion (fer/json_num.h): a crafted last.fer must give
 * "FILE: trainer state: ..." instead of undefined conversions or a silently odd resume. Ranges
 * here are what each field can hold at all; trainer_setup.c checks them against the run. */
#define STATE_MAX_COUNT (1LL << 53) /* image and step counters: exact in a double */

/* key: "name" in o, or "parent.name" for a member of the "rng" / "schedule" objects */
static const cJSON *member(const cJSON *o, const char *key)
{
    const char *dot = strchr(key, '.');
    return cJSON_GetObjectItemCaseSensitive(o, dot ? dot + 1 : key);
}

static fer_status get_int(const cJSON *o, const char *origin, const char *key, long long lo,
                          long long hi, long long *out)
{
    return fer_json_int(member(o, key), origin, key, lo, hi, out);
}

static fer_status get_double(const cJSON *o, const char *origin, const char *key, double lo,
                             double hi, double *out)
{
    return fer_json_double(member(o, key), origin, key, lo, hi, out);
}

static fer_status parse_state(const cJSON *o, const char *origin, fer_train_state *s)
{
    if (!cJSON_IsObject(o)) return fer_fail(FER_ERR_FORMAT, "%s: not a JSON object", origin);
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(o, "rng");
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "schedule");
    if (!cJSON_IsObject(rng) || !cJSON_IsObject(sc))
        return fer_fail(FER_ERR_FORMAT, "%s: \"rng\" and \"schedule\" must be objects", origin);
    long long epoch, batch, correct, seen, best_epoch, total, steps, seed, kind, bad;
    double loss_sum, seconds = 0, best, plr, pbest = -INFINITY;
    fer_status st;
    if ((st = get_int(o, origin, "epoch", 0, INT_MAX, &epoch)) ||
        (st = get_int(o, origin, "batch", 0, INT_MAX, &batch)) ||
        (st = get_double(o, origin, "epoch_loss_sum", 0, DBL_MAX, &loss_sum)) ||
        (st = get_int(o, origin, "epoch_correct", 0, STATE_MAX_COUNT, &correct)) ||
        (st = get_int(o, origin, "epoch_seen", 0, STATE_MAX_COUNT, &seen)) ||
        (st = get_double(o, origin, "best_metric", -1, 1, &best)) ||
        (st = get_int(o, origin, "best_epoch", -1, INT_MAX, &best_epoch)) ||
        (st = get_int(o, origin, "total_epochs", 0, INT_MAX, &total)) ||
        (st = get_int(o, origin, "optimizer_steps", 0, STATE_MAX_COUNT, &steps)) ||
        (st = get_int(rng, origin, "rng.seed", 0, STATE_MAX_COUNT, &seed)) ||
        (st = get_int(sc, origin, "schedule.kind", FER_SCHED_NONE, FER_SCHED_PLATEAU, &kind)) ||
        (st = get_double(sc, origin, "schedule.plateau_lr", 0, FLT_MAX, &plr)) ||
        (st = get_int(sc, origin, "schedule.plateau_bad_epochs", 0, INT_MAX, &bad)))
        return st;
    /* absent in checkpoints of earlier builds */
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(o, "epoch_seconds");
    if (secs && (st = fer_json_double(secs, origin, "epoch_seconds", 0, DBL_MAX, &seconds)))
        return st;
    /* -inf (no plateau observation yet) is written as null */
    const cJSON *pb = member(sc, "schedule.plateau_best");
    if (pb && !cJSON_IsNull(pb) &&
        (st = fer_json_double(pb, origin, "schedule.plateau_best", -FLT_MAX, FLT_MAX, &pbest)))
        return st;
    if (correct > seen)
        return fer_fail(FER_ERR_FORMAT, "%s: \"epoch_correct\" %lld exceeds \"epoch_seen\" %lld",
                        origin, correct, seen);
    if (best_epoch == 0)
        return fer_fail(FER_ERR_FORMAT, "%s: \"best_epoch\" must be -1 (none yet) or >= 1",
                        origin);
    s->epoch = (int)epoch;
    s->batch = (int)batch;
    s->loss_sum = loss_sum;
    s->correct = (long)correct;
    s->seen = (long)seen;
    s->epoch_seconds = seconds;
    s->best_metric = best;
    s->best_epoch = (int)best_epoch;
    s->total_epochs = (int)total;
    s->optimizer_steps = (long)steps;
    s->seed = (long)seed;
    s->schedule.kind = (fer_schedule_kind)kind;
    s->schedule.plateau_lr = (float)plr;
    s->schedule.plateau_best = (float)pbest;
    s->schedule.plateau_bad_epochs = (int)bad;
    return FER_OK;
}

fer_status fer_train_state_from_json(const char *json, const char *origin, fer_train_state *s)
{
    char where[4200];
    snprintf(where, sizeof where, "%s: trainer state", origin);
    cJSON *o = cJSON_Parse(json);
    if (!o) return fer_fail(FER_ERR_FORMAT, "%s is not valid JSON", where);
    fer_train_state parsed = *s; /* s is left untouched on failure */
    fer_status st = parse_state(o, where, &parsed);
    cJSON_Delete(o);
    if (!st) *s = parsed;
    return st;
}
