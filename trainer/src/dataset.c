/* fer_dataset_load: dispatch to the folder or CSV loader, plus the in-memory builder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data_internal.h"

const char *const fer_fer2013_classes[7] = {"angry", "disgust", "fear",    "happy",
                                            "neutral", "sad",   "surprise"};

fer_status fer_builder_init(fer_dataset_builder *b, int h, int w)
{
    b->capacity = 0;
    b->d = calloc(1, sizeof(fer_dataset));
    if (!b->d) return fer_fail(FER_ERR_NOMEM, "out of memory");
    b->d->h = h;
    b->d->w = w;
    return FER_OK;
}

fer_status fer_builder_add(fer_dataset_builder *b, const uint8_t *pixels, int label,
                           const char *source)
{
    fer_dataset *d = b->d;
    size_t img = (size_t)d->h * d->w;
    if (d->n == b->capacity) {
        int cap = b->capacity ? b->capacity * 2 : 1024;
        uint8_t *px = realloc(d->pixels, (size_t)cap * img);
        if (!px) return fer_fail(FER_ERR_NOMEM, "out of memory");
        d->pixels = px;
        int32_t *lb = realloc(d->labels, (size_t)cap * sizeof(int32_t));
        if (!lb) return fer_fail(FER_ERR_NOMEM, "out of memory");
        d->labels = lb;
        char **src = realloc(d->sources, (size_t)cap * sizeof(char *));
        if (!src) return fer_fail(FER_ERR_NOMEM, "out of memory");
        d->sources = src;
        b->capacity = cap;
    }
    char *s = strdup(source);
    if (!s) return fer_fail(FER_ERR_NOMEM, "out of memory");
    memcpy(d->pixels + (size_t)d->n * img, pixels, img);
    d->labels[d->n] = label;
    d->sources[d->n] = s;
    d->n++;
    return FER_OK;
}

/* FNV-1a, 64 bit: a cheap, stable identity of the loaded data (not a security hash). */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

fer_dataset *fer_builder_finish(fer_dataset_builder *b)
{
    fer_dataset *d = b->d;
    b->d = NULL;
    memset(d->class_counts, 0, sizeof d->class_counts);
    for (int i = 0; i < d->n; i++) d->class_counts[d->labels[i]]++;
    size_t img = (size_t)d->h * d->w;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < d->n; i++) {
        uint8_t lb[4] = {(uint8_t)d->labels[i], (uint8_t)(d->labels[i] >> 8),
                         (uint8_t)(d->labels[i] >> 16), (uint8_t)(d->labels[i] >> 24)};
        h = fnv1a(h, lb, 4);
        h = fnv1a(h, d->pixels + (size_t)i * img, img);
    }
    snprintf(d->fingerprint, sizeof d->fingerprint, "%016llx", (unsigned long long)h);
    return d;
}

void fer_builder_abort(fer_dataset_builder *b)
{
    fer_dataset_free(b->d);
    b->d = NULL;
}

fer_status fer_bad_input(const fer_load_options *opt, fer_dataset *d, fer_status st)
{
    if (!opt || !opt->skip_bad) return st;
    d->n_skipped++;
    if (opt->on_skip) opt->on_skip(opt->ctx, fer_last_error());
    fer_clear_error();
    return FER_OK;
}

void fer_load_progress(const fer_load_options *opt, const char *what, int done, int total,
                       int final)
{
    if (!opt || !opt->progress) return;
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\rloading %s: %d/%d%s", what, done, total, final ? "\n" : "");
    } else if (final) {
        fprintf(stderr, "loading %s: %d/%d\n", what, done, total);
    }
}

static int ends_with_csv(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".csv") == 0;
}

fer_status fer_dataset_load(const char *root, const char *split, const fer_load_options *opt,
                            fer_dataset **out)
{
    *out = NULL;
    if (!root || !split) return fer_fail(FER_ERR_ARG, "fer_dataset_load: no root or split");
    if (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test"))
        return fer_fail(FER_ERR_ARG, "%s: unknown split \"%s\" (train, val or test)", root, split);
    struct stat st;
    if (stat(root, &st) != 0) return fer_fail(FER_ERR_IO, "%s: no such file or directory", root);
    fer_dataset_builder b;
    fer_status s = fer_builder_init(&b, 48, 48);
    if (s) return s;
    if (S_ISDIR(st.st_mode)) {
        s = fer_dataset_load_folder(root, split, opt, &b);
    } else if (S_ISREG(st.st_mode) && ends_with_csv(root)) {
        s = fer_dataset_load_csv(root, split, opt, &b);
    } else {
        s = fer_fail(FER_ERR_ARG, "%s: neither a data folder nor a .csv file", root);
    }
    if (s) {
        fer_builder_abort(&b);
        return s;
    }
    *out = fer_builder_finish(&b);
    return FER_OK;
}

void fer_dataset_free(fer_dataset *d)
{
    if (!d) return;
    if (d->sources)
        for (int i = 0; i < d->n; i++) free(d->sources[i]);
    free(d->sources);
    free(d->pixels);
    free(d->labels);
    free(d);
}
