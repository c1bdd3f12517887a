/* The real FER-2013 folders (../shared/fer2013): every split loads with the documented counts
 * (shared/fer2013/README.md) and the seed's alphabetical classes. Skips (77) when absent. */
#include <string.h>
#include <sys/stat.h>
#include "fer/dataset.h"
#include "fixtures.h"

int main(void)
{
    struct stat st;
    if (stat(FER_SHARED_DATA, &st) != 0) {
        printf("skip: %s not found (real FER-2013 data)\n", FER_SHARED_DATA);
        return 77;
    }
    static const char *const names[7] = {"angry", "disgust", "fear", "happy", "neutral", "sad",
                                         "surprise"};
    static const int64_t expect[3][7] = {{3995, 436, 4097, 7215, 4965, 4830, 3171},
                                         {467, 56, 496, 895, 607, 653, 415},
                                         {491, 55, 528, 879, 626, 594, 416}};
    static const int totals[3] = {28709, 3589, 3589};
    const char *splits[3] = {"train", "val", "test"};
    for (int s = 0; s < 3; s++) {
        fer_dataset *d = NULL;
        fer_load_options lo = {.progress = 1};
        if (fer_dataset_load(FER_SHARED_DATA, splits[s], &lo, &d) != FER_OK) {
            fprintf(stderr, "%s\n", fer_last_error());
            return 1;
        }
        CHECK(d->n == totals[s] && d->n_skipped == 0 && d->n_classes == 7);
        for (int c = 0; c < 7; c++) {
            CHECK(!strcmp(d->class_names[c], names[c]));
            CHECK(d->class_counts[c] == expect[s][c]);
        }
        printf("%s: %d images, fingerprint %s\n", splits[s], d->n, d->fingerprint);
        fer_dataset_free(d);
    }
    printf("test_real_data: ok\n");
    return 0;
}
