/* Shared by the dataset loaders (data_png.c, data_csv.c, dataset.c): a growable dataset and
 * the skip-or-fail rule for bad inputs. Not part of the public API. */
#ifndef FER_DATA_INTERNAL_H
#define FER_DATA_INTERNAL_H
#include <stdint.h>
#include "fer/dataset.h"

/* The FER-2013 class names in the order of the seed's ImageFolder (alphabetical). */
extern const char *const fer_fer2013_classes[7];

typedef struct fer_dataset_builder {
    fer_dataset *d;
    int capacity;
} fer_dataset_builder;

fer_status fer_builder_init(fer_dataset_builder *b, int h, int w);
/* Appends one image (h*w gray bytes) with its label and source string (copied). */
fer_status fer_builder_add(fer_dataset_builder *b, const uint8_t *pixels, int label,
                           const char *source);
/* Computes class counts and the fingerprint; hands the dataset over. */
fer_dataset *fer_builder_finish(fer_dataset_builder *b);
void fer_builder_abort(fer_dataset_builder *b);

/* Bad input handling: with skip_bad, counts + reports the message (already set with fer_fail)
 * and returns FER_OK so the caller moves on; otherwise returns st unchanged. */
fer_status fer_bad_input(const fer_load_options *opt, fer_dataset *d, fer_status st);

/* Loaders behind fer_dataset_load. */
fer_status fer_dataset_load_folder(const char *root, const char *split,
                                   const fer_load_options *opt, fer_dataset_builder *b);
fer_status fer_dataset_load_csv(const char *path, const char *split, const fer_load_options *opt,
                                fer_dataset_builder *b);

/* Decodes one PNG file to 8-bit gray (PIL's convert("L") rules), resized to w x h when its size
 * differs. Errors name the file. */
fer_status fer_png_read_gray(const char *path, int w, int h, uint8_t *out);

/* Progress line on stderr (TTY: redrawn in place; otherwise only the final line). */
void fer_load_progress(const fer_load_options *opt, const char *what, int done, int total,
                       int final);
#endif
