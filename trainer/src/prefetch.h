/* Where the training loop gets its next batch. Two ways, same batches (the content is a pure
 * function of (seed, epoch, position), so the choice changes no result):
 * - inline (host backends ref, cpu): the batch is assembled on the backend's own pool inside
 *   fer_prefetch_wait, between model steps. No thread of its own: the cores belong to the model,
 *   and assembly costs a few ms per 256 images against seconds of model time, so overlapping
 *   it would buy nothing and oversubscribe the cores.
 * - background (cuda): the host cores are idle during GPU steps, so a thread of its own (with a
 *   pool of its own) fills the next batch while the model computes the current one (double
 *   buffering). */
#ifndef FER_TRAIN_PREFETCH_H
#define FER_TRAIN_PREFETCH_H
#include "batch.h"

typedef struct fer_prefetch fer_prefetch;

/* pool: the backend's pool (fer_backend_threadpool; NULL = the calling thread). */
fer_status fer_prefetch_new_inline(int max_batch, fer_threadpool *pool, fer_prefetch **out);
/* pool_threads <= 1: the background thread fills batches by itself. */
fer_status fer_prefetch_new_background(int max_batch, int pool_threads, fer_prefetch **out);
void fer_prefetch_free(fer_prefetch *p);
/* Threads the prefetcher started itself (0 inline; tests check host runs add none). */
int fer_prefetch_own_threads(const fer_prefetch *p);
/* Queues req (its x/labels are replaced by the prefetcher's buffers); background: starts
 * filling it now. */
void fer_prefetch_submit(fer_prefetch *p, const fer_batch_request *req);
/* Returns the submitted batch (inline: assembles it now). Its buffers stay valid until the next
 * fer_prefetch_wait. */
void fer_prefetch_wait(fer_prefetch *p, float **x, int32_t **labels);
#endif
