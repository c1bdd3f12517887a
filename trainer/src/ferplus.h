/* FER+ votes (../shared/ferplus/votes.tsv): ten taggers' votes per FER-2013 row of the train
 * and val splits, as soft targets (--labels ferplus_soft) or majority labels
 * (--labels ferplus_majority). File format (tab-separated, header first):
 *   row split neutral happiness surprise sadness anger disgust fear contempt unknown NF
 * row: the FER-2013 row number (the <row>.png name of a split folder, or the data row of
 * fer2013.csv counting from 0); each count 0..10, at most 10 per row; every row once. */
#ifndef FER_TRAIN_FERPLUS_H
#define FER_TRAIN_FERPLUS_H
#include <stdint.h>
#include "fer/dataset.h"
#include "fer/status.h"

#define FER_FERPLUS_EMOTIONS 7       /* the FER+ columns with a FER-2013 class */
#define FER_FERPLUS_MAX_VOTES 10     /* ten taggers */
/* row numbers: FER-2013 has 35,887 rows; the cap bounds the tables (~16 bytes a row) */
#define FER_FERPLUS_MAX_ROW 999999
#define FER_FERPLUS_MAX_BYTES ((size_t)64 << 20) /* the real file is ~1 MB */

typedef struct fer_ferplus {
    int n_rows;       /* largest row number + 1 */
    uint8_t *present; /* n_rows: 1 when the file has the row */
    uint8_t *votes;   /* n_rows x FER_FERPLUS_EMOTIONS, in fer_ferplus_emotions order */
    int n_listed;     /* rows in the file */
} fer_ferplus;

/* FER+ column name and the FER-2013 class name it maps to, per emotion column. */
extern const char *const fer_ferplus_emotions[FER_FERPLUS_EMOTIONS][2];

/* Reads and validates the file; errors name the file and line ("PATH: line N: ..."). */
fer_status fer_ferplus_load(const char *path, fer_ferplus *out);
void fer_ferplus_free(fer_ferplus *fp);

/* The FER-2013 row of a dataset image from its source ("DIR/<row>.png" or "FILE.csv:ROW");
 * -1 when it has none. */
long fer_ferplus_source_row(const char *source);

/* Per image of d (classes matched by name; every class of d needs a FER+ column):
 * soft (may be NULL): n x d->n_classes vote shares; majority (may be NULL): the argmax of the
 * votes, ties going to d's own label when it is among the maxima, else to the first maximum in
 * d's class order. Images without FER+ votes for the seven emotions (not listed, or no such
 * vote) keep d's label (a one-hot row). *n_voted (may be NULL): images with FER+ votes. */
fer_status fer_ferplus_labels(const fer_ferplus *fp, const fer_dataset *d, const char *fp_path,
                              float *soft, int32_t *majority, int *n_voted);
#endif
