/* Prepares the next training batch on a background thread while the model computes the
 * current one (double buffering), so augmentation never stalls the model. The batch content is
 * a pure function of (seed, epoch, position), so prefetching changes no result.
 * With a CPU backend the worker fills batches serially (one core; the backend's pool keeps the
 * others); with CUDA the host cores are idle during GPU steps, so it gets its own pool. */
#ifndef FER_TRAIN_PREFETCH_H
#define FER_TRAIN_PREFETCH_H
#include "batch.h"

typedef struct fer_prefetch fer_prefetch;

/* pool_threads <= 1: the worker fills batches by itself. */
fer_status fer_prefetch_new(int max_batch, int pool_threads, fer_prefetch **out);
void fer_prefetch_free(fer_prefetch *p);
/* Starts filling req (its x/labels are replaced by the prefetcher's next buffer). */
void fer_prefetch_submit(fer_prefetch *p, const fer_batch_request *req);
/* Waits for the submitted batch; its buffers stay valid until the next-but-one submit. */
void fer_prefetch_wait(fer_prefetch *p, float **x, int32_t **labels);
#endif
