/* FER-2013 splits in memory: ROOT/{train,val,test}/<class>/NAME.png (classes sorted
 * alphabetically) or the original fer2013.csv (emotion,pixels,Usage). Pixels are uint8
 * 48x48 gray, preprocessed by fer/preprocess.h's resize when a PNG has another size. */
#ifndef FER_DATASET_H
#define FER_DATASET_H
#include <stdint.h>
#include "fer/arch.h"
#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_dataset {
    int n;                     /* images */
    int h, w;                  /* 48, 48 */
    uint8_t *pixels;           /* n * h * w */
    int32_t *labels;           /* n, in class-name order below */
    char **sources;            /* n strings: PNG path, or "FILE.csv:ROW" */
    int n_classes;
    char class_names[FER_MAX_CLASSES][FER_NAME_LEN];
    int64_t class_counts[FER_MAX_CLASSES];
    int n_skipped;             /* bad files/rows skipped with skip_bad */
    char fingerprint[17];      /* hex of a 64-bit hash over labels and pixels */
} fer_dataset;

typedef struct fer_load_options {
    int skip_bad;              /* 0: first bad file is an error; 1: skip, count, warn */
    int progress;              /* 1: progress line on stderr */
    /* called once per skipped input with a one-line message; may be NULL */
    void (*on_skip)(void *ctx, const char *message);
    void *ctx;
    int csv_any_size;          /* CSV: resize square rows of another size (default: refuse
                                  rows that are not 48x48 = 2304 pixels) */
} fer_load_options;

/* root: a directory with split folders, or a .csv file. split: "train" | "val" | "test". */
fer_status fer_dataset_load(const char *root, const char *split, const fer_load_options *opt,
                            fer_dataset **out);
void fer_dataset_free(fer_dataset *d);

#ifdef __cplusplus
}
#endif
#endif
