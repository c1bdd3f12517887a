/* Parallel batch assembly (see batch.h). */
#include "batch.h"
#include "rng.h"

static void fill_one(void *ctx, int i, int worker)
{
    (void)worker;
    const fer_batch_request *r = ctx;
    const fer_dataset *d = r->data;
    int idx = r->indices ? r->indices[i] : r->first + i;
    const size_t px = (size_t)d->h * d->w;
    const uint8_t *src = d->pixels + (size_t)idx * px;
    uint8_t aug[FER_INPUT_SIZE * FER_INPUT_SIZE];
    fer_augment_params p = {0};
    if (r->augment) {
        uint64_t key = fer_rng_key(r->seed, (uint64_t)r->epoch, (uint64_t)(r->position + i),
                                   FER_RNG_AUGMENT);
        fer_augment_draw(r->augment, key, &p);
        fer_augment_apply(r->augment, &p, src, aug);
        src = aug;
    }
    float *x = r->x + (size_t)i * px;
    for (size_t k = 0; k < px; k++) x[k] = fer_normalize_pixel(src[k], r->norm.mean, r->norm.std);
    if (p.erase_h) fer_augment_erase(&p, x); /* RandomErasing's value 0 is in normalised space */
    if (r->labels) r->labels[i] = d->labels[idx];
}

void fer_batch_fill(fer_threadpool *pool, const fer_batch_request *req)
{
    if (pool) {
        fer_threadpool_run(pool, req->n, fill_one, (void *)req);
    } else {
        for (int i = 0; i < req->n; i++) fill_one((void *)req, i, 0);
    }
}
