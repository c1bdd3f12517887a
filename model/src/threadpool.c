/* A fixed pool of pthreads. fer_threadpool_run publishes one job (fn, ctx, n_tasks) under a new
 * generation number; workers and the caller pull runs of consecutive task indices from an
 * atomic counter, and the caller waits until every worker has finished the generation. Both
 * poll for up to POOL_SPIN_NS before sleeping on a condition variable. */
#include "fer/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct worker_arg {
    struct fer_threadpool *pool;
    int index;
} worker_arg;

struct fer_threadpool {
    int size; /* workers including the calling thread */
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    atomic_ulong generation; /* written under mu; read without it while spinning */
    atomic_int stop;
    atomic_int busy; /* helper threads still working on the current generation */
    fer_task_fn fn;
    void *ctx;
    int n_tasks;
    int chunk;              /* task indices claimed at once */
    atomic_long next_task;  /* long: n_tasks + size * chunk cannot wrap it */
};

/* Claims per thread a job is split into at least. Jobs of thousands of tiny tasks (batch
 * norm's per-plane passes) spent 7% of a training step on the shared counter's cache line
 * when each claim took one task; a few dozen claims a thread leave the tail imbalance small. */
#define POOL_CLAIMS_PER_THREAD 32

static void run_tasks(fer_threadpool *p, int worker)
{
    const long n = p->n_tasks, chunk = p->chunk;
    for (;;) {
        long t = atomic_fetch_add(&p->next_task, chunk);
        if (t >= n)
            break;
        long end = t + chunk < n ? t + chunk : n;
        for (; t < end; t++)
            p->fn(p->ctx, (int)t, worker);
    }
}

/* How long a thread polls for the next job (workers) or for the workers to finish (the caller)
 * before sleeping on a condition variable. Waking a sleeping thread took tens of microseconds
 * here, as long as a whole depthwise layer's work on small planes, and layers follow each
 * other closely; the bound keeps an idle pool from holding the cores. */
#define POOL_SPIN_NS 100000

static double pool_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void pool_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* polls until *gen differs from seen, stop is set, or POOL_SPIN_NS passed */
static void spin_for_job(fer_threadpool *p, unsigned long seen)
{
    const double end = pool_now_ns() + POOL_SPIN_NS;
    for (int i = 0;; i++) {
        if (atomic_load(&p->generation) != seen || atomic_load(&p->stop))
            return;
        for (int k = 0; k < 16; k++)
            pool_pause();
        if ((i & 15) == 15 && pool_now_ns() > end)
            return;
    }
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    fer_threadpool *p = wa->pool;
    unsigned long seen = 0;
    spin_for_job(p, seen);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->generation == seen && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, wa->index);
        pthread_mutex_lock(&p->mu);
        if (atomic_fetch_sub(&p->busy, 1) == 1)
            pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
        spin_for_job(p, seen);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

fer_status fer_threadpool_new(int n_threads, fer_threadpool **out)
{
    *out = NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > 256)
        n_threads = 256;
    fer_threadpool *p = calloc(1, sizeof *p);
    if (!p)
        return fer_fail(FER_ERR_NOMEM, "threadpool: out of memory");
    p->size = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    atomic_init(&p->next_task, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->busy, 0);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->args = calloc((size_t)n_threads - 1, sizeof *p->args);
        if (!p->threads || !p->args) {
            p->size = 1;
            fer_threadpool_free(p);
            return fer_fail(FER_ERR_NOMEM, "threadpool: out of memory");
        }
        for (int i = 0; i < n_threads - 1; i++) {
            p->args[i].pool = p;
            p->args[i].index = i + 1;
            if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
                p->size = i + 1; /* join the ones that started */
                fer_threadpool_free(p);
                return fer_fail(FER_ERR_INTERNAL, "threadpool: cannot start thread %d", i + 1);
            }
        }
    }
    *out = p;
    return FER_OK;
}

void fer_threadpool_free(fer_threadpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->size - 1; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->threads);
    free(p->args);
    free(p);
}

int fer_threadpool_size(const fer_threadpool *p)
{
    return p ? p->size : 1;
}

void fer_threadpool_run(fer_threadpool *p, int n_tasks, fer_task_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (!p || p->size == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    p->chunk = n_tasks / (p->size * POOL_CLAIMS_PER_THREAD);
    if (p->chunk < 1)
        p->chunk = 1;
    atomic_store(&p->next_task, 0);
    p->busy = p->size - 1;
    p->generation++;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);

    run_tasks(p, 0);

    const double end = pool_now_ns() + POOL_SPIN_NS;
    for (int i = 0; atomic_load(&p->busy) > 0; i++) {
        pool_pause();
        if ((i & 255) == 255 && pool_now_ns() > end)
            break;
    }
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
