#include "cli_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Compares a flag name ignoring the '-' / '_' spelling difference. */
static int same_name(const char *a, const char *b, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        char x = a[k] == '-' ? '_' : a[k], y = b[k] == '-' ? '_' : b[k];
        if (x != y)
            return 0;
    }
    return 1;
}

int cli_flag(const char *prog, int argc, char **argv, int *i, const char *name,
             const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, "--", 2) != 0 || strlen(arg + 2) < n || !same_name(arg + 2, name, n))
        return 0;
    const char *rest = arg + 2 + n;
    if (*rest == '=') {
        if (!value) {
            fprintf(stderr, "%s: --%s takes no value\n", prog, name);
            return -1;
        }
        *value = rest + 1;
        return 1;
    }
    if (*rest != 0)
        return 0;
    if (!value)
        return 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: --%s needs a value\n", prog, name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_int(const char *prog, const char *flag, const char *text, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        fprintf(stderr, "%s: --%s: '%s' is not an integer in %d..%d\n", prog, flag, text, min,
                max);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_float(const char *prog, const char *flag, const char *text, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(text, &end);
    if (errno || end == text || *end || v != v) {
        fprintf(stderr, "%s: --%s: '%s' is not a number\n", prog, flag, text);
        return 0;
    }
    *out = v;
    return 1;
}

fer_status cli_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return fer_fail(FER_ERR_ARG, "%s: path too long", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return fer_fail(FER_ERR_IO, "%s: cannot create directory: %s", buf,
                                strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fer_fail(FER_ERR_IO, "%s: not a directory", path);
    return FER_OK;
}

void cli_stem(const char *path, int strip_ext, char *out, size_t cap)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t end = len;
    if (strip_ext)
        for (size_t k = len; k > start + 1; k--)
            if (path[k - 1] == '.') {
                end = k - 1;
                break;
            }
    size_t n = end - start < cap - 1 ? end - start : cap - 1;
    memcpy(out, path + start, n);
    out[n] = 0;
}

int cli_fail(const char *prog, fer_status st)
{
    const char *msg = fer_last_error();
    fprintf(stderr, "%s: %s\n", prog, msg && *msg ? msg : fer_status_name(st));
    return 1;
}
