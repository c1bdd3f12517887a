/* Atomic output files and whole-file reads (see fer/fileio.h). */
#include "fer/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_RANDOM_LEN 6
#define TMP_SUFFIX ".tmp"

static void release(fer_atomic_file *af)
{
    free(af->path);
    free(af->tmp);
    af->f = NULL;
    af->path = af->tmp = NULL;
}

/* Six characters from [a-z0-9] drawn from a per-call mix of time, pid and a counter: the names
 * only need to differ between attempts, O_EXCL is what makes creation safe. */
static void random_tag(char *out, unsigned attempt)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^
                 ((uint64_t)getpid() << 20) ^ ((uint64_t)__atomic_fetch_add(&counter, 1,
                                                                           __ATOMIC_RELAXED)
                                               << 40) ^ attempt;
    for (int i = 0; i < TMP_RANDOM_LEN; i++) {
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        x ^= x >> 32;
        out[i] = alphabet[x % (sizeof alphabet - 1)];
    }
}

fer_status fer_atomic_open(const char *path, fer_atomic_file *af)
{
    size_t n = strlen(path);
    af->f = NULL;
    af->path = malloc(n + 1);
    af->tmp = malloc(n + 1 + TMP_RANDOM_LEN + sizeof TMP_SUFFIX);
    if (!af->path || !af->tmp) {
        release(af);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->path, path, n + 1);
    memcpy(af->tmp, path, n);
    af->tmp[n] = '.';
    memcpy(af->tmp + n + 1 + TMP_RANDOM_LEN, TMP_SUFFIX, sizeof TMP_SUFFIX);
    int fd = -1, err = 0;
    for (unsigned attempt = 0; attempt < 100 && fd < 0; attempt++) {
        random_tag(af->tmp + n + 1, attempt);
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST)
            break;
    }
    if (fd >= 0) {
        af->f = fdopen(fd, "wb");
        err = errno;
        if (!af->f) {
            close(fd);
            unlink(af->tmp);
        }
    }
    if (!af->f) {
        fer_status st = fer_fail(FER_ERR_IO, "%s: cannot create a temporary file: %s", path,
                                 strerror(err));
        release(af);
        return st;
    }
    return FER_OK;
}

/* NAME.XXXXXX.tmp with XXXXXX from random_tag's alphabet. */
static int is_our_tmp_name(const char *name)
{
    size_t n = strlen(name), tail = 1 + TMP_RANDOM_LEN + strlen(TMP_SUFFIX);
    if (n <= tail || strcmp(name + n - strlen(TMP_SUFFIX), TMP_SUFFIX) != 0 ||
        name[n - tail] != '.')
        return 0;
    for (size_t i = n - tail + 1; i < n - strlen(TMP_SUFFIX); i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
            return 0;
    return 1;
}

int fer_remove_stale_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_our_tmp_name(e->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a folder";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a plain file";
}

fer_status fer_open_regular(const char *path, FILE **f, size_t *size)
{
    *f = NULL;
    if (size)
        *size = 0;
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fer_fail(FER_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return fer_fail(FER_ERR_IO, "%s: cannot open: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fer_fail(FER_ERR_IO, "%s: not a regular file (%s)", path, file_kind(st.st_mode));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *f = fdopen(fd, "rb");
    if (!*f) {
        int err = errno;
        close(fd);
        return fer_fail(FER_ERR_IO, "%s: cannot open: %s", path, strerror(err));
    }
    if (size)
        *size = st.st_size > 0 ? (size_t)st.st_size : 0;
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

fer_status fer_read_text_file(const char *path, size_t max_bytes, char **data, size_t *len)
{
    size_t n = 0;
    fer_status st = fer_read_file(path, max_bytes, data, &n);
    if (st)
        return st;
    if (memchr(*data, 0, n)) {
        free(*data);
        *data = NULL;
        return fer_fail(FER_ERR_FORMAT, "%s: holds a NUL byte (not text)", path);
    }
    if (len)
        *len = n;
    return FER_OK;
}

fer_status fer_read_file(const char *path, size_t max_bytes, char **data, size_t *len)
{
    *data = NULL;
    if (len)
        *len = 0;
    if (!max_bytes)
        max_bytes = FER_READ_FILE_MAX;
    FILE *f;
    fer_status st = fer_open_regular(path, &f, NULL);
    if (st)
        return st;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n > max_bytes) {
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
