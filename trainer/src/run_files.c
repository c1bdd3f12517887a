/* history.jsonl, curves.png, git revision (see run_files.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fer/figures.h"
#include "fer/json_num.h"
#include "fer_config.h"
#include "run_files.h"

fer_status fer_run_mkdirs(const char *path)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf) return fer_fail(FER_ERR_ARG, "%s: path too long", path);
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return fer_fail(FER_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fer_fail(FER_ERR_IO, "%s: not a folder", path);
    return FER_OK;
}

/* history.jsonl: ~200 bytes per class and epoch; far more than any run writes */
#define FER_HISTORY_MAX_BYTES ((size_t)64 << 20)

static const char *const hist_keys[6] = {"train/loss", "train/acc",    "val/acc",
                                         "val/macro_f1", "lr",         "seconds"};

static double *hist_field(fer_history_row *r, int k)
{
    double *f[6] = {&r->train_loss, &r->train_acc, &r->val_acc,
                    &r->val_macro_f1, &r->lr,       &r->seconds};
    return f[k];
}

/* A history value: finite numbers as they are, anything else (null, absent, absurd) NaN. */
static double history_value(const cJSON *o, const char *key)
{
    double v;
    if (fer_json_double(cJSON_GetObjectItemCaseSensitive(o, key), "", key, -DBL_MAX, DBL_MAX, &v)) {
        fer_clear_error();
        return NAN;
    }
    return v;
}

fer_status fer_history_read(const char *path, int max_epoch, int extra, fer_class_names names,
                            int n_classes, fer_history_row **rows, int *n)
{
    *n = 0;
    *rows = NULL;
    if (max_epoch < 0 || extra < 0 || max_epoch > INT_MAX - 1 - extra)
        return fer_fail(FER_ERR_ARG, "%s: bad epoch counts %d + %d", path, max_epoch, extra);
    int cap = max_epoch + extra + 1;
    *rows = calloc((size_t)cap, sizeof(fer_history_row));
    if (!*rows) return fer_fail(FER_ERR_NOMEM, "out of memory");
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) return FER_OK; /* no history yet */
    char *text = NULL;
    fer_status s = fer_read_text_file(path, FER_HISTORY_MAX_BYTES, &text, NULL);
    if (s) return s;
    for (char *line = text, *next; line && *line && *n < cap; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        cJSON *o = cJSON_Parse(line);
        long long epoch;
        /* lines past the resume point (or not ours) are dropped; a resumed run rewrites them */
        if (fer_json_int(cJSON_GetObjectItemCaseSensitive(o, "epoch"), path, "epoch", 1,
                         max_epoch, &epoch) == FER_OK) {
            fer_history_row *r = &(*rows)[*n];
            r->epoch = (int)epoch;
            for (int k = 0; k < 6; k++) *hist_field(r, k) = history_value(o, hist_keys[k]);
            for (int c = 0; c < n_classes; c++) {
                char key[FER_NAME_LEN + 16];
                snprintf(key, sizeof key, "val/f1_%s", names[c]);
                r->val_f1[c] = history_value(o, key);
            }
            r->val_ferplus_acc = history_value(o, "val_ferplus/acc");
            r->val_ferplus_macro_f1 = history_value(o, "val_ferplus/macro_f1");
            (*n)++;
        }
        fer_clear_error();
        cJSON_Delete(o);
    }
    free(text);
    return FER_OK;
}

fer_status fer_history_write(const char *path, const fer_history_row *rows, int n,
                             fer_class_names names, int n_classes)
{
    size_t cap = (256 + 64 * (size_t)n_classes) * (size_t)(n + 1), len = 0;
    char *buf = malloc(cap);
    if (!buf) return fer_fail(FER_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        fer_history_row r = rows[i];
        len += (size_t)snprintf(buf + len, cap - len, "{\"epoch\":%d", r.epoch);
        for (int k = 0; k < 6; k++) {
            double v = *hist_field(&r, k);
            if (isfinite(v)) len += (size_t)snprintf(buf + len, cap - len, ",\"%s\":%.9g", hist_keys[k], v);
            else len += (size_t)snprintf(buf + len, cap - len, ",\"%s\":null", hist_keys[k]);
        }
        for (int c = 0; c < n_classes; c++) {
            if (isfinite(r.val_f1[c]))
                len += (size_t)snprintf(buf + len, cap - len, ",\"val/f1_%s\":%.9g", names[c],
                                        r.val_f1[c]);
            else
                len += (size_t)snprintf(buf + len, cap - len, ",\"val/f1_%s\":null", names[c]);
        }
        if (isfinite(r.val_ferplus_acc) && isfinite(r.val_ferplus_macro_f1))
            len += (size_t)snprintf(buf + len, cap - len,
                                    ",\"val_ferplus/acc\":%.9g,\"val_ferplus/macro_f1\":%.9g",
                                    r.val_ferplus_acc, r.val_ferplus_macro_f1);
        len += (size_t)snprintf(buf + len, cap - len, "}\n");
    }
    fer_status s = fer_write_file_atomic(path, buf, len);
    free(buf);
    return s;
}

fer_status fer_history_curves(const char *path, const fer_history_row *rows, int n,
                              const char *title)
{
    if (n <= 0) return FER_OK;
    double *x = malloc(sizeof(double) * 6 * (size_t)n);
    if (!x) return fer_fail(FER_ERR_NOMEM, "out of memory");
    double *y[5];
    for (int k = 0; k < 5; k++) y[k] = x + (size_t)(k + 1) * n;
    for (int i = 0; i < n; i++) {
        fer_history_row r = rows[i];
        x[i] = r.epoch;
        for (int k = 0; k < 5; k++) y[k][i] = *hist_field(&r, k);
    }
    const fer_curve_series series[5] = {
        {"train loss", 0, y[0]},     {"train acc", 1, y[1]}, {"val acc", 1, y[2]},
        {"val macro-F1", 1, y[3]},   {"learning rate", 2, y[4]},
    };
    const char *const panels[3] = {"loss", "accuracy / macro-F1", "learning rate"};
    fer_status s = fer_figure_curves(x, n, series, 5, panels, 3, title, path);
    free(x);
    return s;
}

void fer_git_revision(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    char cmd[4300];
    snprintf(cmd, sizeof cmd,
             "git -C '%s' describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null",
             FER_SOURCE_DIR);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[128];
    if (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) snprintf(buf, n, "%s", line);
    }
    pclose(p);
}
