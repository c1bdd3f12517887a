/* Batch preparation for the training loop (trainer/src/prefetch.c): the inline mode (host
 * backends) assembles on the given pool and starts no thread of its own; the background mode
 * (cuda) starts its thread and pool; both deliver, batch for batch, exactly what a serial
 * fer_batch_fill gives (augmentation keyed by seed, epoch, position). */
#include <string.h>
#include "fixtures.h"
#include "prefetch.h"

enum { N_IMAGES = 100, BATCH = 32, EPOCH = 3 };

static int tasks_in_process(void)
{
    return fx_count_dir_entries("/proc/self/task");
}

static fer_batch_request request(const fer_dataset *d, const int32_t *order,
                                 const fer_augment_config *aug, int b)
{
    int first = b * BATCH;
    fer_batch_request r = {.data = d, .indices = order + first,
                           .n = d->n - first < BATCH ? d->n - first : BATCH, .augment = aug,
                           .seed = 42, .epoch = EPOCH, .position = first,
                           .norm = {0.5f, 0.5f}};
    return r;
}

/* Drives p as train_loop.c does (wait b, submit b+1, use b) and compares with ref. While the
 * batch is in use, the process has exactly expect_tasks threads. */
static void run_epoch(fer_prefetch *p, const fer_dataset *d, const int32_t *order,
                      const fer_augment_config *aug, const float *ref_x,
                      const int32_t *ref_labels, int expect_tasks)
{
    const int n_batches = (d->n + BATCH - 1) / BATCH;
    const size_t px = (size_t)FER_INPUT_SIZE * FER_INPUT_SIZE;
    fer_batch_request r = request(d, order, aug, 0);
    fer_prefetch_submit(p, &r);
    for (int b = 0; b < n_batches; b++) {
        float *x;
        int32_t *labels;
        fer_prefetch_wait(p, &x, &labels);
        int n = request(d, order, aug, b).n;
        if (b + 1 < n_batches) {
            r = request(d, order, aug, b + 1);
            fer_prefetch_submit(p, &r);
        }
        CHECK(tasks_in_process() == expect_tasks);
        CHECK(!memcmp(x, ref_x + (size_t)b * BATCH * px, sizeof(float) * px * (size_t)n));
        CHECK(!memcmp(labels, ref_labels + (size_t)b * BATCH, sizeof(int32_t) * (size_t)n));
    }
}

int main(void)
{
    const size_t px = (size_t)FER_INPUT_SIZE * FER_INPUT_SIZE;
    uint8_t *pixels = malloc(px * N_IMAGES);
    int32_t labels[N_IMAGES], order[N_IMAGES];
    CHECK(pixels);
    for (int i = 0; i < N_IMAGES; i++) {
        fx_face(i, i % 3, 3, pixels + (size_t)i * px);
        labels[i] = i % 3;
        order[i] = (i * 37 + 11) % N_IMAGES; /* a permutation (gcd(37, 100) = 1) */
    }
    fer_dataset d = {.n = N_IMAGES, .h = FER_INPUT_SIZE, .w = FER_INPUT_SIZE, .pixels = pixels,
                     .labels = labels, .n_classes = 3};
    fer_augment_config aug;
    fer_augment_config_seed(&aug);

    /* reference: the whole epoch filled serially on this thread */
    float *ref_x = malloc(sizeof(float) * px * N_IMAGES);
    int32_t ref_labels[N_IMAGES];
    CHECK(ref_x);
    fer_batch_request all = {.data = &d, .indices = order, .n = N_IMAGES, .augment = &aug,
                             .seed = 42, .epoch = EPOCH, .position = 0, .norm = {0.5f, 0.5f},
                             .x = ref_x, .labels = ref_labels};
    fer_batch_fill(NULL, &all);

    const int base = tasks_in_process();
    CHECK(base >= 1);
    fer_threadpool *backend_pool = NULL; /* stands in for fer_backend_threadpool() */
    CHECK(fer_threadpool_new(2, &backend_pool) == FER_OK);
    CHECK(tasks_in_process() == base + 1);

    /* inline (host backends): the backend's pool and nothing else */
    fer_prefetch *p = NULL;
    CHECK(fer_prefetch_new_inline(BATCH, backend_pool, &p) == FER_OK);
    CHECK(fer_prefetch_own_threads(p) == 0);
    run_epoch(p, &d, order, &aug, ref_x, ref_labels, base + 1);
    fer_prefetch_free(p);

    /* inline without a pool: the calling thread */
    CHECK(fer_prefetch_new_inline(BATCH, NULL, &p) == FER_OK);
    run_epoch(p, &d, order, &aug, ref_x, ref_labels, base + 1);
    fer_prefetch_free(p);

    /* background (cuda): its thread plus a pool of 2 (one more thread) */
    CHECK(fer_prefetch_new_background(BATCH, 2, &p) == FER_OK);
    CHECK(fer_prefetch_own_threads(p) == 2);
    run_epoch(p, &d, order, &aug, ref_x, ref_labels, base + 1 + 2);
    fer_prefetch_free(p);
    CHECK(tasks_in_process() == base + 1);

    CHECK(fer_prefetch_new_background(BATCH, 1, &p) == FER_OK);
    CHECK(fer_prefetch_own_threads(p) == 1);
    run_epoch(p, &d, order, &aug, ref_x, ref_labels, base + 1 + 1);
    fer_prefetch_free(p);

    fer_threadpool_free(backend_pool);
    free(ref_x);
    free(pixels);
    printf("test_prefetch: ok\n");
    return 0;
}
