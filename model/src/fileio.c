/* Atomic output files and whole-file reads (see fer/fileio.h). */
#include "fer/fileio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void release(fer_atomic_file *af)
{
    free(af->path);
    free(af->tmp);
    af->f = NULL;
    af->path = af->tmp = NULL;
}

fer_status fer_atomic_open(const char *path, fer_atomic_file *af)
{
    size_t n = strlen(path);
    af->f = NULL;
    af->path = malloc(n + 1);
    af->tmp = malloc(n + 5);
    if (!af->path || !af->tmp) {
        release(af);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->path, path, n + 1);
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, ".tmp", 5);
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        fer_status st = fer_fail(FER_ERR_IO, "%s: cannot create: %s", af->tmp, strerror(errno));
        release(af);
        return st;
    }
    return FER_OK;
}

fer_status fer_atomic_commit(fer_atomic_file *af)
{
    /* errno from the first failing step; EIO when only the stream's error flag tells */
    errno = 0;
    int ok = !ferror(af->f);
    int err = ok ? 0 : EIO;
    if (fflush(af->f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (fsync(fileno(af->f)) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (fclose(af->f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    af->f = NULL;
    fer_status st = FER_OK;
    if (!ok)
        st = fer_fail(FER_ERR_IO, "%s: write failed: %s", af->path, strerror(err ? err : EIO));
    else if (rename(af->tmp, af->path) != 0)
        st = fer_fail(FER_ERR_IO, "%s: cannot rename into place: %s", af->path, strerror(errno));
    if (st)
        unlink(af->tmp);
    release(af);
    return st;
}

void fer_atomic_abort(fer_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    if (af->tmp)
        unlink(af->tmp);
    release(af);
}

fer_status fer_write_file_atomic(const char *path, const void *data, size_t len)
{
    fer_atomic_file af;
    fer_status st = fer_atomic_open(path, &af);
    if (st)
        return st;
    fwrite(data, 1, len, af.f);
    return fer_atomic_commit(&af);
}

fer_status fer_read_file(const char *path, size_t max_bytes, char **data, size_t *len)
{
    *data = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fer_fail(FER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    fer_status st = FER_OK;
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (max_bytes && n > max_bytes) {
            st = fer_fail(FER_ERR_FORMAT, "%s: file is too large", path);
            break;
        }
        if (got == 0)
            break;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int read_err = ferror(f);
    fclose(f);
    if (!buf)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    if (!st && read_err)
        st = fer_fail(FER_ERR_IO, "%s: read error", path);
    if (st) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *data = buf;
    if (len)
        *len = n;
    return FER_OK;
}
