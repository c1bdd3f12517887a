/* File helpers shared by every part of fer: outputs are written to a fresh temporary file
 * beside PATH and renamed into place only when complete (a crash never leaves a half-written
 * file under the real name), and inputs are opened only when they are regular files, so a FIFO,
 * a device or a folder handed to us as "a file" is refused at once instead of hanging or
 * reading forever. */
#ifndef FER_FILEIO_H
#define FER_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An output being written: f writes the temporary file until commit renames it to PATH. */
typedef struct fer_atomic_file {
    FILE *f;
    char *path; /* final name */
    char *tmp;  /* PATH.XXXXXX.tmp, created by us with O_EXCL|O_NOFOLLOW */
} fer_atomic_file;

/* Creates a new temporary file PATH.XXXXXX.tmp (six random characters) in PATH's folder with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so a file or symlink planted there is never followed or
 * overwritten ("PATH: cannot create a temporary file: ..." on failure; af is then empty). */
fer_status fer_atomic_open(const char *path, fer_atomic_file *af);

/* Flushes, fsyncs, closes and renames the temporary file to PATH. On any failure removes the
 * temporary file and returns "PATH: write failed: ..." or "PATH: cannot rename into place: ...".
 * Always releases af. ferror(af->f) counts as a failure, so callers may ignore single fwrite
 * results. */
fer_status fer_atomic_commit(fer_atomic_file *af);

/* Closes and removes the temporary file, leaving any existing PATH untouched. Safe on an empty
 * af. */
void fer_atomic_abort(fer_atomic_file *af);

/* Removes the temporary files fer_atomic_open leaves behind when a process is killed before its
 * commit (regular files or symlinks named NAME.XXXXXX.tmp) from folder DIR; other files are
 * never touched. Returns how many were removed (0 when DIR cannot be read). */
int fer_remove_stale_tmp(const char *dir);

/* Opens PATH for reading only if it is a regular file. FIFOs, devices, sockets and folders are
 * refused with FER_ERR_IO "PATH: not a regular file (a FIFO)" without blocking. *size (may be
 * NULL) gets the file's size at open. */
fer_status fer_open_regular(const char *path, FILE **f, size_t *size);

/* fer_atomic_open + one fwrite + fer_atomic_commit. */
fer_status fer_write_file_atomic(const char *path, const void *data, size_t len);

/* Reads the whole regular file into a malloc'd, NUL-terminated buffer (*len excludes the NUL; len
 * may be NULL). Errors: "PATH: cannot open: ...", "PATH: not a regular file (...)", "PATH: read
 * error", "PATH: out of memory", and FER_ERR_FORMAT "PATH: file is too large" when it exceeds
 * max_bytes (0 = FER_READ_FILE_MAX). */
#define FER_READ_FILE_MAX ((size_t)1 << 30)
fer_status fer_read_file(const char *path, size_t max_bytes, char **data, size_t *len);

/* fer_read_file for text that is parsed as a C string (JSON, JSON lines): a NUL byte would cut
 * the text short without an error, so a file holding one is refused with FER_ERR_FORMAT
 * "PATH: holds a NUL byte (not text)". */
fer_status fer_read_text_file(const char *path, size_t max_bytes, char **data, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
