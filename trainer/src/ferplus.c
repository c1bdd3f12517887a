/* FER+ votes file and the labels derived from it (see ferplus.h). */
#include <stdlib.h>
#include <string.h>
#include "fer/fileio.h"
#include "ferplus.h"

const char *const fer_ferplus_emotions[FER_FERPLUS_EMOTIONS][2] = {
    {"neutral", "neutral"}, {"happiness", "happy"}, {"surprise", "surprise"}, {"sadness", "sad"},
    {"anger", "angry"},     {"disgust", "disgust"}, {"fear", "fear"}};

#define FERPLUS_COLUMNS 12 /* row, split, 7 emotions, contempt, unknown, NF */
static const char *const header_names[FERPLUS_COLUMNS] = {
    "row",   "split",   "neutral", "happiness", "surprise", "sadness",
    "anger", "disgust", "fear",    "contempt",  "unknown",  "NF"};

typedef struct parsed_row {
    long row, line;
    uint8_t votes[FER_FERPLUS_EMOTIONS];
} parsed_row;

/* Splits line at tabs into at most max fields; returns the field count (max + 1: too many). */
static int split_tabs(char *line, char **fields, int max)
{
    int n = 0;
    for (char *p = line;;) {
        if (n == max)
            return max + 1;
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            return n;
        *tab = 0;
        p = tab + 1;
    }
}

/* Non-negative decimal of at most max_digits digits; -1 when it is not one. */
static long parse_count(const char *s, int max_digits)
{
    long v = 0;
    int n = 0;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= max_digits)
            return -1;
        v = v * 10 + (s[n] - '0');
    }
    return n ? v : -1;
}

static fer_status parse_line(const char *path, long lineno, char *line, parsed_row *out)
{
    char *f[FERPLUS_COLUMNS + 1];
    int n = split_tabs(line, f, FERPLUS_COLUMNS);
    if (n > FERPLUS_COLUMNS)
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld: more than %d tab-separated fields", path,
                        lineno, FERPLUS_COLUMNS);
    if (n != FERPLUS_COLUMNS)
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld: %d tab-separated fields, expected %d",
                        path, lineno, n, FERPLUS_COLUMNS);
    out->line = lineno;
    out->row = parse_count(f[0], 7);
    if (out->row < 0 || out->row > FER_FERPLUS_MAX_ROW)
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld: row \"%.20s\" is not a number 0..%d", path,
                        lineno, f[0], FER_FERPLUS_MAX_ROW);
    if (strcmp(f[1], "train") && strcmp(f[1], "val"))
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld: split \"%.20s\" is not train or val",
                        path, lineno, f[1]);
    long total = 0;
    for (int k = 2; k < FERPLUS_COLUMNS; k++) {
        long v = parse_count(f[k], 2);
        if (v < 0 || v > FER_FERPLUS_MAX_VOTES)
            return fer_fail(FER_ERR_FORMAT, "%s: line %ld: %s count \"%.20s\" is not 0..%d", path,
                            lineno, header_names[k], f[k], FER_FERPLUS_MAX_VOTES);
        total += v;
        if (k - 2 < FER_FERPLUS_EMOTIONS)
            out->votes[k - 2] = (uint8_t)v;
    }
    if (total > FER_FERPLUS_MAX_VOTES)
        return fer_fail(FER_ERR_FORMAT, "%s: line %ld: %ld votes, more than the %d taggers", path,
                        lineno, total, FER_FERPLUS_MAX_VOTES);
    return FER_OK;
}

static void strip_cr(char *line)
{
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r')
        line[n - 1] = 0;
}

static fer_status check_header(const char *path, char *line)
{
    char *f[FERPLUS_COLUMNS + 1];
    int n = split_tabs(line, f, FERPLUS_COLUMNS);
    int ok = n == FERPLUS_COLUMNS;
    for (int k = 0; ok && k < FERPLUS_COLUMNS; k++)
        ok = !strcmp(f[k], header_names[k]);
    if (!ok)
        return fer_fail(FER_ERR_FORMAT, "%s: line 1: header must be the tab-separated columns "
                        "row split neutral happiness surprise sadness anger disgust fear "
                        "contempt unknown NF", path);
    return FER_OK;
}

static fer_status build_tables(const char *path, const parsed_row *rows, long n, fer_ferplus *out)
{
    long max_row = -1;
    for (long i = 0; i < n; i++)
        max_row = rows[i].row > max_row ? rows[i].row : max_row;
    out->n_rows = (int)(max_row + 1);
    out->n_listed = (int)n;
    out->present = calloc((size_t)out->n_rows + 1, 1);
    out->votes = calloc(((size_t)out->n_rows + 1) * FER_FERPLUS_EMOTIONS, 1);
    long *first_line = calloc((size_t)out->n_rows + 1, sizeof *first_line);
    fer_status s = FER_OK;
    if (!out->present || !out->votes || !first_line)
        s = fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    for (long i = 0; !s && i < n; i++) {
        long r = rows[i].row;
        if (out->present[r]) {
            s = fer_fail(FER_ERR_FORMAT, "%s: line %ld: row %ld repeats line %ld", path,
                         rows[i].line, r, first_line[r]);
            break;
        }
        out->present[r] = 1;
        first_line[r] = rows[i].line;
        memcpy(out->votes + (size_t)r * FER_FERPLUS_EMOTIONS, rows[i].votes,
               FER_FERPLUS_EMOTIONS);
    }
    free(first_line);
    return s;
}

fer_status fer_ferplus_load(const char *path, fer_ferplus *out)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    fer_status s = fer_read_file(path, FER_FERPLUS_MAX_BYTES, &text, &len);
    if (s)
        return s;
    if (strlen(text) != len || len == 0) {
        free(text);
        return fer_fail(FER_ERR_FORMAT, len ? "%s: contains a NUL byte (not a votes table)"
                                            : "%s: empty file (expected a header line)", path);
    }
    long n_lines = 1;
    for (size_t i = 0; i < len; i++)
        n_lines += text[i] == '\n';
    parsed_row *rows = malloc(sizeof *rows * (size_t)n_lines);
    if (!rows) {
        free(text);
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    }
    long n = 0, lineno = 0;
    char *line = text, *next;
    for (; !s && line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        strip_cr(line);
        if (!next && !*line)
            break; /* after the final newline */
        if (lineno == 1)
            s = check_header(path, line);
        else if (!*line)
            s = fer_fail(FER_ERR_FORMAT, "%s: line %ld: empty line", path, lineno);
        else
            s = parse_line(path, lineno, line, &rows[n++]);
    }
    if (!s && n == 0)
        s = fer_fail(FER_ERR_FORMAT, "%s: no rows after the header", path);
    if (!s)
        s = build_tables(path, rows, n, out);
    free(rows);
    free(text);
    if (s)
        fer_ferplus_free(out);
    return s;
}

void fer_ferplus_free(fer_ferplus *fp)
{
    free(fp->present);
    free(fp->votes);
    memset(fp, 0, sizeof *fp);
}

long fer_ferplus_source_row(const char *source)
{
    const char *slash = strrchr(source, '/'), *colon = strrchr(source, ':');
    const char *name = slash ? slash + 1 : source;
    size_t n = strlen(name);
    char digits[16];
    if (n > 4 && !strcmp(name + n - 4, ".png")) { /* DIR/<row>.png */
        if (n - 4 >= sizeof digits)
            return -1;
        memcpy(digits, name, n - 4);
        digits[n - 4] = 0;
    } else if (colon && colon > name) { /* FILE.csv:ROW */
        if (strlen(colon + 1) >= sizeof digits)
            return -1;
        strcpy(digits, colon + 1);
    } else {
        return -1;
    }
    long row = parse_count(digits, 7);
    return row <= FER_FERPLUS_MAX_ROW ? row : -1;
}

fer_status fer_ferplus_labels(const fer_ferplus *fp, const fer_dataset *d, const char *fp_path,
                              float *soft, int32_t *majority, int *n_voted)
{
    const int C = d->n_classes;
    int column[FER_MAX_CLASSES]; /* FER+ emotion column of each class of d */
    for (int c = 0; c < C; c++) {
        column[c] = -1;
        for (int k = 0; k < FER_FERPLUS_EMOTIONS; k++)
            if (!strcmp(d->class_names[c], fer_ferplus_emotions[k][1]))
                column[c] = k;
        if (column[c] < 0)
            return fer_fail(FER_ERR_FORMAT, "%s: the data's class \"%s\" has no FER+ column "
                            "(FER+ labels need the FER-2013 classes)", fp_path, d->class_names[c]);
    }
    int voted = 0;
    for (int i = 0; i < d->n; i++) {
        const int32_t own = d->labels[i];
        long row = fer_ferplus_source_row(d->sources[i]);
        const uint8_t *v = row >= 0 && row < fp->n_rows && fp->present[row]
                               ? fp->votes + (size_t)row * FER_FERPLUS_EMOTIONS
                               : NULL;
        int total = 0, best = -1;
        for (int c = 0; v && c < C; c++) {
            total += v[column[c]];
            if (best < 0 || v[column[c]] > v[column[best]])
                best = c;
        }
        if (total == 0) { /* no FER+ label: FER-2013's, one-hot */
            if (soft)
                for (int c = 0; c < C; c++)
                    soft[(size_t)i * C + c] = c == own ? 1.0f : 0.0f;
            if (majority)
                majority[i] = own;
            continue;
        }
        voted++;
        if (soft)
            for (int c = 0; c < C; c++)
                soft[(size_t)i * C + c] = (float)v[column[c]] / (float)total;
        if (majority)
            majority[i] = v[column[own]] == v[column[best]] ? own : best;
    }
    if (n_voted)
        *n_voted = voted;
    return FER_OK;
}
