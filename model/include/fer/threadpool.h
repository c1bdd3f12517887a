/* One pool of worker threads per process side (backend compute and data augmentation share it,
 * so the cores are never oversubscribed). fer_threadpool_run blocks until all tasks are done. */
#ifndef FER_THREADPOOL_H
#define FER_THREADPOOL_H
#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_threadpool fer_threadpool;

/* task in [0, n_tasks), worker in [0, fer_threadpool_size()). */
typedef void (*fer_task_fn)(void *ctx, int task, int worker);

fer_status fer_threadpool_new(int n_threads, fer_threadpool **out); /* n_threads <= 0: all cores */
void fer_threadpool_free(fer_threadpool *pool);
int fer_threadpool_size(const fer_threadpool *pool);
/* Runs fn for every task; the calling thread takes part. Not re-entrant from inside a task. */
void fer_threadpool_run(fer_threadpool *pool, int n_tasks, fer_task_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
