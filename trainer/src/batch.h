/* Batch assembly: gather images by index, augment (training) and normalise into the float
 * NCHW input, one pool task per image. Each image's augmentation is keyed by
 * (seed, epoch, position in the epoch), so the result does not depend on the thread count. */
#ifndef FER_TRAIN_BATCH_H
#define FER_TRAIN_BATCH_H
#include <stdint.h>
#include "fer/augment.h"
#include "fer/dataset.h"
#include "fer/threadpool.h"

typedef struct fer_batch_request {
    const fer_dataset *data;
    const int32_t *indices;   /* n dataset indices; NULL: images first .. first+n-1 */
    int first;
    int n;
    const fer_augment_config *augment; /* NULL: no augmentation (evaluation) */
    uint64_t seed;
    int epoch;
    long position;            /* position of the first image in the epoch's order */
    fer_norm norm;
    float *x;                 /* out: n x 1 x 48 x 48 */
    int32_t *labels;          /* out: n (may be NULL) */
} fer_batch_request;

/* pool may be NULL (runs on the calling thread). */
void fer_batch_fill(fer_threadpool *pool, const fer_batch_request *req);
#endif
