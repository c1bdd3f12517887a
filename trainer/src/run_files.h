/* Files under runs/<exp>/ other than checkpoints and the event file: history.jsonl (one JSON
 * object per epoch, the same scalars as TensorBoard), curves.png, config.json. All written to
 * PATH.tmp and renamed into place. */
#ifndef FER_RUN_FILES_H
#define FER_RUN_FILES_H
#include <stddef.h>
#include "fer/arch.h"
#include "fer/fileio.h"
#include "fer/status.h"

typedef struct fer_history_row {
    int epoch; /* 1-based, as the seed's TensorBoard steps */
    double train_loss, train_acc, val_acc, val_macro_f1, lr, seconds;
    double val_f1[FER_MAX_CLASSES]; /* per class, keys "val/f1_<class>" */
    /* --labels ferplus_*: val scored against FER+ majority labels ("val_ferplus/acc",
     * "val_ferplus/macro_f1"); NaN (not written) otherwise */
    double val_ferplus_acc, val_ferplus_macro_f1;
} fer_history_row;

typedef const char (*fer_class_names)[FER_NAME_LEN];

fer_status fer_run_mkdirs(const char *path);
/* Rows with epoch <= max_epoch from an existing history.jsonl (missing file: 0 rows).
 * *rows is malloc'd with room for extra more rows. */
fer_status fer_history_read(const char *path, int max_epoch, int extra, fer_class_names names,
                            int n_classes, fer_history_row **rows, int *n);
fer_status fer_history_write(const char *path, const fer_history_row *rows, int n,
                             fer_class_names names, int n_classes);
fer_status fer_history_curves(const char *path, const fer_history_row *rows, int n,
                              const char *title);
/* "abc1234" (+"-dirty"), or "unknown" when the source tree is not a git checkout. */
void fer_git_revision(char *buf, size_t n);
#endif
