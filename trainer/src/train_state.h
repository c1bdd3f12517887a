/* The trainer's own state, stored as JSON in every checkpoint (meta.state_json) so that
 * --resume of last.fer continues exactly: position (epoch, batch within the epoch), the partial
 * epoch sums and wall time, best-so-far, the LR schedule state and the RNG scheme. Randomness is counter
 * based (rng.h), so (seed, epoch, batch) is the whole RNG state. */
#ifndef FER_TRAIN_STATE_H
#define FER_TRAIN_STATE_H
#include "fer/optim.h"

typedef struct fer_train_state {
    int epoch;             /* epochs completed */
    int batch;             /* batches of the next epoch already trained (after Ctrl-C), else 0 */
    double loss_sum;       /* partial-epoch sums for the train loss / accuracy */
    long correct, seen;
    double epoch_seconds;  /* wall time of that partial epoch, so its logged time is whole */
    double best_metric;    /* best val macro-F1, -1 before the first epoch */
    int best_epoch;
    long seed;
    int total_epochs;      /* --epochs of the run that wrote the state */
    long optimizer_steps;
    fer_schedule schedule; /* plateau fields are the state; the rest is configuration */
} fer_train_state;

void fer_train_state_init(fer_train_state *s, long seed, int total_epochs);
char *fer_train_state_to_json(const fer_train_state *s); /* malloc'd */
/* Every field range-checked before conversion ("ORIGIN: trainer state: "epoch" = -5 is out of
 * range ..."); s is left untouched on failure. Whether the state fits the run (epoch <= --epochs,
 * batch within an epoch) is trainer_setup.c's check. */
fer_status fer_train_state_from_json(const char *json, const char *origin, fer_train_state *s);
#endif
