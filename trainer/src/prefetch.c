/* Batch preparation for the training loop, inline or in the background (see prefetch.h). */
#include <pthread.h>
#include <stdlib.h>
#include "prefetch.h"

struct fer_prefetch {
    int background;
    fer_threadpool *pool;     /* inline: borrowed from the backend; background: owned */
    float *x[2];              /* inline uses buffer 0 only */
    int32_t *labels[2];
    fer_batch_request req;    /* the submitted batch */
    /* background only */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int slot;        /* buffer the next submit fills */
    int has_work;    /* submitted, not yet picked up by the worker */
    int busy;        /* submitted, not yet finished */
    int quit;
};

static void *worker(void *arg)
{
    fer_prefetch *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->has_work && !p->quit) pthread_cond_wait(&p->cond, &p->lock);
        if (p->quit) break;
        fer_batch_request req = p->req;
        p->has_work = 0;
        pthread_mutex_unlock(&p->lock);
        fer_batch_fill(p->pool, &req);
        pthread_mutex_lock(&p->lock);
        p->busy = 0;
        pthread_cond_broadcast(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void free_buffers(fer_prefetch *p)
{
    for (int i = 0; i < 2; i++) {
        free(p->x[i]);
        free(p->labels[i]);
    }
    free(p);
}

static fer_status new_buffers(int max_batch, int n_buffers, fer_prefetch **out)
{
    *out = NULL;
    fer_prefetch *p = calloc(1, sizeof *p);
    if (!p) return fer_fail(FER_ERR_NOMEM, "out of memory");
    size_t px = (size_t)FER_INPUT_SIZE * FER_INPUT_SIZE;
    int ok = 1;
    for (int i = 0; i < n_buffers; i++) {
        p->x[i] = malloc(sizeof(float) * px * (size_t)max_batch);
        p->labels[i] = malloc(sizeof(int32_t) * (size_t)max_batch);
        ok = ok && p->x[i] && p->labels[i];
    }
    if (!ok) {
        free_buffers(p);
        return fer_fail(FER_ERR_NOMEM, "out of memory");
    }
    *out = p;
    return FER_OK;
}

fer_status fer_prefetch_new_inline(int max_batch, fer_threadpool *pool, fer_prefetch **out)
{
    fer_status s = new_buffers(max_batch, 1, out);
    if (!s) (*out)->pool = pool;
    return s;
}

fer_status fer_prefetch_new_background(int max_batch, int pool_threads, fer_prefetch **out)
{
    fer_prefetch *p;
    fer_status s = new_buffers(max_batch, 2, &p);
    if (s) return s;
    p->background = 1;
    if (pool_threads > 1) s = fer_threadpool_new(pool_threads, &p->pool);
    if (!s) {
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        if (pthread_create(&p->thread, NULL, worker, p) != 0) {
            pthread_mutex_destroy(&p->lock);
            pthread_cond_destroy(&p->cond);
            s = fer_fail(FER_ERR_INTERNAL, "cannot start the batch prefetch thread");
        }
    }
    if (s) {
        fer_threadpool_free(p->pool);
        free_buffers(p);
        return s;
    }
    *out = p;
    return FER_OK;
}

void fer_prefetch_free(fer_prefetch *p)
{
    if (!p) return;
    if (p->background) {
        pthread_mutex_lock(&p->lock);
        while (p->busy) pthread_cond_wait(&p->cond, &p->lock);
        p->quit = 1;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        fer_threadpool_free(p->pool);
    }
    free_buffers(p);
}

int fer_prefetch_own_threads(const fer_prefetch *p)
{
    if (!p->background) return 0;
    return 1 + (p->pool ? fer_threadpool_size(p->pool) - 1 : 0);
}

void fer_prefetch_submit(fer_prefetch *p, const fer_batch_request *req)
{
    if (!p->background) {
        p->req = *req;
        p->req.x = p->x[0];
        p->req.labels = p->labels[0];
        return;
    }
    pthread_mutex_lock(&p->lock);
    while (p->busy) pthread_cond_wait(&p->cond, &p->lock);
    p->req = *req;
    p->req.x = p->x[p->slot];
    p->req.labels = p->labels[p->slot];
    p->slot ^= 1;
    p->has_work = p->busy = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void fer_prefetch_wait(fer_prefetch *p, float **x, int32_t **labels)
{
    if (!p->background) {
        fer_batch_fill(p->pool, &p->req);
    } else {
        pthread_mutex_lock(&p->lock);
        while (p->busy) pthread_cond_wait(&p->cond, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    *x = p->req.x;
    *labels = p->req.labels;
}
