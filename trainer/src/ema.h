/* Exponential moving average of a model's weights (fer-train --ema), as timm's ModelEmaV2: after
 * every optimiser step, for every parameter and every BN running statistic,
 *     ema = decay * ema + (1 - decay) * w        (in float: fl(fl(decay*ema) + fl((1-decay)*w)))
 * with decay = min(decay, (1 + k) / (10 + k)) at update k (0-based) when warm-up is on. The
 * average lives in backend memory beside the model (two arenas shaped as the model's parameter
 * and buffer arenas) and is updated with the backend's own scale/add/copy ops, so no weights
 * cross to the host per step. */
#ifndef FER_TRAIN_EMA_H
#define FER_TRAIN_EMA_H
#include "fer/model.h"

typedef struct fer_ema fer_ema;

/* Starts the average at m's current weights and buffers. */
fer_status fer_ema_new(fer_model *m, double decay, int warmup, fer_ema **out);
void fer_ema_free(fer_ema *e);
/* The decay update k (0-based: the number of updates before it) uses. */
double fer_ema_decay_at(const fer_ema *e, long k);
/* One update from m's current weights; k as above. */
fer_status fer_ema_update(fer_ema *e, fer_model *m, long k);
/* Exchanges m's weights and buffers with the average (twice: back as before, bit for bit), so
 * validation and best.fer can run on the average with the model's own code. */
fer_status fer_ema_swap(fer_ema *e, fer_model *m);
/* Host copy for checkpoints: the parameter arena then the buffer arena. */
size_t fer_ema_floats(const fer_ema *e);
fer_status fer_ema_get_host(fer_ema *e, float *host);
fer_status fer_ema_set_host(fer_ema *e, const float *host);
#endif
