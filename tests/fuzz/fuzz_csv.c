/* Fuzz target: the fer2013.csv reader (trainer/src/data_csv.c) through fer_dataset_load, as
 * `fer-train --data_root FILE.csv` calls it: the train split strictly (first bad row is an
 * error), the test split with --skip_bad. */
#include <stdint.h>

#include "fer/dataset.h"
#include "fuzz_common.h"

static void count_skip(void *ctx, const char *message)
{
    (void)message;
    ++*(int *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("fer2013.csv", data, size);
    fer_dataset *d = NULL;
    fer_load_options strict = {0};
    if (fer_dataset_load(path, "train", &strict, &d) == FER_OK) {
        for (int i = 0; i < d->n; i++)
            if (d->labels[i] < 0 || d->labels[i] >= d->n_classes)
                fuzz_fail("row %d has label %d outside 0..%d", i, (int)d->labels[i],
                          d->n_classes - 1);
        if (d->h != 48 || d->w != 48)
            fuzz_fail("the data set has %dx%d images, not 48x48", d->w, d->h);
        fer_dataset_free(d);
    }
    int skipped = 0;
    fer_load_options lenient = {.skip_bad = 1, .on_skip = count_skip, .ctx = &skipped};
    d = NULL;
    if (fer_dataset_load(path, "test", &lenient, &d) == FER_OK)
        fer_dataset_free(d);
    return 0;
}
