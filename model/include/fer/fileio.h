/* File helpers shared by every part of fer: outputs are written to PATH.tmp and renamed into
 * place only when complete (a crash never leaves a half-written file under the real name),
 * and small text inputs are read whole. */
#ifndef FER_FILEIO_H
#define FER_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An output being written: f writes PATH.tmp until commit renames it to PATH. */
typedef struct fer_atomic_file {
    FILE *f;
    char *path; /* final name */
    char *tmp;  /* PATH.tmp */
} fer_atomic_file;

/* Creates PATH.tmp for writing ("PATH.tmp: cannot create: ..." on failure; af is then empty). */
fer_status fer_atomic_open(const char *path, fer_atomic_file *af);

/* Flushes, fsyncs, closes and renames PATH.tmp to PATH. On any failure removes PATH.tmp and
 * returns "PATH: write failed: ..." or "PATH: cannot rename into place: ...". Always releases
 * af. ferror(af->f) counts as a failure, so callers may ignore single fwrite results. */
fer_status fer_atomic_commit(fer_atomic_file *af);

/* Closes and removes PATH.tmp, leaving any existing PATH untouched. Safe on an empty af. */
void fer_atomic_abort(fer_atomic_file *af);

/* fer_atomic_open + one fwrite + fer_atomic_commit. */
fer_status fer_write_file_atomic(const char *path, const void *data, size_t len);

/* Reads the whole file into a malloc'd, NUL-terminated buffer (*len excludes the NUL; len may be
 * NULL). Errors: "PATH: cannot open: ...", "PATH: read error", "PATH: out of memory", and
 * FER_ERR_FORMAT "PATH: file is too large" when it exceeds max_bytes (0 = no limit). */
fer_status fer_read_file(const char *path, size_t max_bytes, char **data, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
