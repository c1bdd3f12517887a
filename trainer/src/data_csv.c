/* The original fer2013.csv: header with columns emotion, pixels, Usage (any order; a UTF-8 BOM
 * before it is skipped, as spreadsheet exports add one); pixels are space-separated 0..255 values
 * of a 48x48 image (other square sizes only with csv_any_size, resized). Usage Training -> train,
 * PublicTest -> val, PrivateTest -> test. Label ids 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad,
 * 5 surprise, 6 neutral are mapped to the alphabetical order the folder loader uses.
 * Rows are numbered from 0 after the header (as the PNG file names of the folder layout). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data_internal.h"
#include "fer/fileio.h"
#include "fer/preprocess.h"

#define CSV_MAX_SIDE 512
#define CSV_MAX_FIELDS 16
/* The longest line a valid file can have: CSV_MAX_SIDE^2 pixels of up to 4 characters each,
 * plus the other fields. Longer lines are refused before they are buffered whole. */
#define CSV_MAX_LINE ((size_t)CSV_MAX_SIDE * CSV_MAX_SIDE * 4 + 4096)

/* CSV emotion id -> index in fer_fer2013_classes */
static const int csv_to_alpha[7] = {0, 1, 2, 3, 5, 6, 4};

/* Splits line in place at commas (double quotes stripped, no embedded commas in FER files).
 * Returns the number of fields. */
static int split_fields(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) return max + 1;
        char *start = p;
        char *end = strchr(p, ',');
        if (end) *end = 0;
        size_t len = strlen(start);
        while (len && (start[len - 1] == '\r' || start[len - 1] == '\n')) start[--len] = 0;
        if (len >= 2 && start[0] == '"' && start[len - 1] == '"') {
            start[len - 1] = 0;
            start++;
        }
        fields[n++] = start;
        if (!end) return n;
        p = end + 1;
    }
}

static const char *usage_split(const char *usage)
{
    if (!strcmp(usage, "Training")) return "train";
    if (!strcmp(usage, "PublicTest")) return "val";
    if (!strcmp(usage, "PrivateTest")) return "test";
    return NULL;
}

/* Parses space-separated pixel values into buf (capacity cap); returns count or -1. */
static int parse_pixels(const char *s, uint8_t *buf, int cap, char *why, size_t why_n)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        if (!isdigit((unsigned char)*p)) {
            snprintf(why, why_n, "pixel %d is not a number", n);
            return -1;
        }
        long v = 0;
        while (isdigit((unsigned char)*p) && v <= 255) v = v * 10 + (*p++ - '0');
        if (v > 255) {
            snprintf(why, why_n, "pixel %d is out of range 0..255", n);
            return -1;
        }
        if (*p && *p != ' ' && *p != '\t') {
            snprintf(why, why_n, "pixel %d is not a number", n);
            return -1;
        }
        if (n == cap) {
            snprintf(why, why_n, "more than %d pixels", cap);
            return -1;
        }
        buf[n++] = (uint8_t)v;
    }
    return n;
}

static int parse_label(const char *s, int *out)
{
    if (!s[0] || s[1] || s[0] < '0' || s[0] > '6') return -1;
    *out = s[0] - '0';
    return 0;
}

typedef struct csv_columns {
    int emotion, pixels, usage, n;
} csv_columns;

static fer_status read_header(const char *path, char *line, csv_columns *c)
{
    char *f[CSV_MAX_FIELDS + 1];
    c->n = split_fields(line, f, CSV_MAX_FIELDS);
    c->emotion = c->pixels = c->usage = -1;
    for (int i = 0; i < c->n && i < CSV_MAX_FIELDS; i++) {
        if (!strcasecmp(f[i], "emotion")) c->emotion = i;
        if (!strcasecmp(f[i], "pixels")) c->pixels = i;
        if (!strcasecmp(f[i], "usage")) c->usage = i;
    }
    if (c->emotion < 0 || c->pixels < 0 || c->usage < 0)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: line 1: header must name the columns emotion,pixels,Usage", path);
    return FER_OK;
}

typedef struct row_ctx {
    const char *path;
    const char *split;
    csv_columns cols;
    uint8_t *raw;   /* CSV_MAX_SIDE^2 */
    uint8_t *img;   /* h*w */
    int any_size;   /* resize square rows of another size instead of refusing them */
} row_ctx;

/* getline with a length cap: 1 = a line in *line (NUL-terminated, *len bytes), 0 = end of file,
 * -1 = longer than max (the rest of the file is not read), -2 = out of memory. */
static int read_line(FILE *f, char **line, size_t *cap, size_t *len, size_t max)
{
    size_t n = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF) { /* f is ours alone: no locking per byte */
        if (n + 2 > *cap) {
            size_t grown = *cap ? 2 * *cap : 16384;
            if (grown > max + 2) grown = max + 2;
            if (n + 2 > grown) return -1;
            char *p = realloc(*line, grown);
            if (!p) return -2;
            *line = p;
            *cap = grown;
        }
        (*line)[n++] = (char)c;
        if (c == '\n') break;
    }
    if (n == 0) return 0;
    (*line)[n] = 0;
    *len = n;
    return 1;
}

/* One data row: FER_OK when added or belonging to another split; FER_ERR_FORMAT when bad. */
static fer_status parse_row(row_ctx *r, char *line, long lineno, long row,
                            fer_dataset_builder *b)
{
    char *f[CSV_MAX_FIELDS + 1];
    int n = split_fields(line, f, CSV_MAX_FIELDS);
    if (n != r->cols.n)
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld (row %ld): %d fields, expected %d", r->path,
                        lineno, row, n, r->cols.n);
    const char *split = usage_split(f[r->cols.usage]);
    if (!split)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: line %ld (row %ld): unknown Usage \"%.40s\" (Training, PublicTest "
                        "or PrivateTest)",
                        r->path, lineno, row, f[r->cols.usage]);
    if (strcmp(split, r->split)) return FER_OK;
    int label;
    if (parse_label(f[r->cols.emotion], &label))
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld (row %ld): emotion \"%.40s\" is not 0..6",
                        r->path, lineno, row, f[r->cols.emotion]);
    char why[96];
    int np = parse_pixels(f[r->cols.pixels], r->raw, CSV_MAX_SIDE * CSV_MAX_SIDE, why, sizeof why);
    if (np < 0)
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld (row %ld): %s", r->path, lineno, row, why);
    fer_dataset *d = b->d;
    const int want = d->w * d->h;
    if (np != want && !r->any_size)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: line %ld (row %ld): %d pixels, expected %dx%d = %d "
                        "(--csv_any_size resizes other square images)",
                        r->path, lineno, row, np, d->w, d->h, want);
    int side = 1;
    while (side * side < np) side++;
    if (np == 0 || side * side != np)
        return fer_fail(FER_ERR_FORMAT,
                        "%s: line %ld (row %ld): %d pixels, not a square image (48x48 = 2304)",
                        r->path, lineno, row, np);
    if (side == d->w && side == d->h)
        memcpy(r->img, r->raw, (size_t)np);
    else
        fer_resize_gray(r->raw, side, side, side, r->img, d->w, d->h);
    char source[4200];
    snprintf(source, sizeof source, "%s:%ld", r->path, row);
    return fer_builder_add(b, r->img, csv_to_alpha[label], source);
}

fer_status fer_dataset_load_csv(const char *path, const char *split, const fer_load_options *opt,
                                fer_dataset_builder *b)
{
    fer_dataset *d = b->d;
    d->n_classes = 7;
    for (int c = 0; c < 7; c++) snprintf(d->class_names[c], FER_NAME_LEN, "%s", fer_fer2013_classes[c]);
    FILE *f = NULL;
    fer_status s = fer_open_regular(path, &f, NULL);
    if (s) return s;
    char *line = NULL;
    size_t cap = 0, len = 0;
    row_ctx r = {.path = path, .split = split, .any_size = opt && opt->csv_any_size};
    r.raw = malloc(CSV_MAX_SIDE * CSV_MAX_SIDE);
    r.img = malloc((size_t)d->h * d->w);
    if (!r.raw || !r.img) s = fer_fail(FER_ERR_NOMEM, "out of memory");
    long row = 0, lineno = 0; /* lines read so far */
    int got = 0;
    if (!s) {
        got = read_line(f, &line, &cap, &len, CSV_MAX_LINE);
        if (got == 0)
            s = fer_fail(FER_ERR_FORMAT, "%s: empty file (expected header emotion,pixels,Usage)",
                         path);
        else if (got == 1) {
            lineno = 1;
            static const char bom[3] = {'\xef', '\xbb', '\xbf'};
            char *header = line;
            if (len >= 3 && !memcmp(header, bom, 3)) header += 3;
            s = read_header(path, header, &r.cols);
        }
    }
    char what[512];
    snprintf(what, sizeof what, "%s (%s)", path, split);
    while (!s && got == 1 && (got = read_line(f, &line, &cap, &len, CSV_MAX_LINE)) == 1) {
        lineno++;
        if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
            continue; /* blank lines are not rows (as pandas) */
        s = parse_row(&r, line, lineno, row, b);
        if (s == FER_ERR_FORMAT) s = fer_bad_input(opt, d, s);
        row++;
        if (row % 4096 == 0) fer_load_progress(opt, what, d->n, d->n, 0);
    }
    if (!s && got == -1)
        s = fer_fail(FER_ERR_FORMAT, "%s: line %ld: longer than %zu bytes", path, lineno + 1,
                     CSV_MAX_LINE);
    if (!s && got == -2) s = fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    if (!s && ferror(f)) s = fer_fail(FER_ERR_IO, "%s: read error", path);
    if (!s) fer_load_progress(opt, what, d->n, d->n, 1);
    if (!s && d->n == 0)
        s = fer_fail(FER_ERR_FORMAT, "%s: no rows for split \"%s\" (Usage %s)", path, split,
                     !strcmp(split, "train") ? "Training"
                     : !strcmp(split, "val") ? "PublicTest" : "PrivateTest");
    free(line);
    free(r.raw);
    free(r.img);
    fclose(f);
    return s;
}
