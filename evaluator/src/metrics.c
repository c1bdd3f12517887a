/* Classification metrics with scikit-learn's conventions (zero_division=0). */
#include "fer/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "evalutil.h"
#include "fer/json_num.h"

void fer_metrics_init(fer_metrics *m, int n_classes, const char names[][FER_NAME_LEN])
{
    memset(m, 0, sizeof *m);
    if (n_classes < 0)
        n_classes = 0;
    if (n_classes > FER_MAX_CLASSES)
        n_classes = FER_MAX_CLASSES;
    m->n_classes = n_classes;
    m->has_confusion = 1;
    for (int i = 0; i < n_classes; i++) {
        if (names && names[i][0])
            snprintf(m->class_names[i], FER_NAME_LEN, "%s", names[i]);
        else
            snprintf(m->class_names[i], FER_NAME_LEN, "class%d", i);
    }
}

static int ece_bin(double conf)
{
    /* bins are (lo, hi]: ceil(conf * 15) - 1, with 0 in the first bin */
    int b = (int)ceil(conf * FER_ECE_BINS) - 1;
    if (b < 0)
        b = 0;
    if (b >= FER_ECE_BINS)
        b = FER_ECE_BINS - 1;
    return b;
}

void fer_metrics_add(fer_metrics *m, int true_label, int pred_label, const float *probs)
{
    if (true_label < 0 || true_label >= m->n_classes || pred_label < 0 ||
        pred_label >= m->n_classes) {
        m->n_ignored++;
        return;
    }
    m->confusion[true_label][pred_label]++;
    if (probs) {
        double conf = probs[pred_label];
        if (!(conf >= 0.0)) /* NaN */
            conf = 0.0;
        if (conf > 1.0)
            conf = 1.0;
        int b = ece_bin(conf);
        m->bin_count[b]++;
        m->bin_conf_sum[b] += conf;
        m->bin_correct[b] += (true_label == pred_label);
        m->has_calibration = 1;
    }
}

static double ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

void fer_metrics_finish(fer_metrics *m)
{
    int n = m->n_classes;
    int64_t total = 0, correct = 0;
    for (int t = 0; t < n; t++) {
        m->support[t] = 0;
        for (int p = 0; p < n; p++)
            m->support[t] += m->confusion[t][p];
        total += m->support[t];
        correct += m->confusion[t][t];
    }
    m->total = total;
    m->accuracy = ratio((double)correct, (double)total);

    double f1_sum = 0.0, weighted = 0.0;
    for (int c = 0; c < n; c++) {
        int64_t predicted = 0;
        for (int t = 0; t < n; t++)
            predicted += m->confusion[t][c];
        int64_t tp = m->confusion[c][c];
        int64_t fp = predicted - tp, fn = m->support[c] - tp;
        m->precision[c] = ratio((double)tp, (double)predicted);
        m->recall[c] = ratio((double)tp, (double)m->support[c]);
        /* F1 = 2tp / (2tp + fp + fn): equal to 2PR/(P+R), exact in one division */
        m->f1[c] = ratio(2.0 * (double)tp, (double)(2 * tp + fp + fn));
        f1_sum += m->f1[c];
        weighted += m->f1[c] * (double)m->support[c];
    }
    m->macro_f1 = n > 0 ? f1_sum / n : 0.0;
    m->weighted_f1 = ratio(weighted, (double)total);

    if (m->has_calibration) {
        int64_t binned = 0;
        double ece = 0.0;
        for (int b = 0; b < FER_ECE_BINS; b++)
            binned += m->bin_count[b];
        for (int b = 0; b < FER_ECE_BINS; b++) {
            m->bin_confidence[b] = ratio(m->bin_conf_sum[b], (double)m->bin_count[b]);
            m->bin_accuracy[b] = ratio((double)m->bin_correct[b], (double)m->bin_count[b]);
            ece += ratio((double)m->bin_count[b], (double)binned) *
                   fabs(m->bin_accuracy[b] - m->bin_confidence[b]);
        }
        m->ece = ece;
    }
}

/* ---- JSON ---------------------------------------------------------------------------- */

static cJSON *float_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, fev_json_float(v[i]));
    return a;
}

static cJSON *int_array(const int64_t *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

static void put(cJSON *obj, const char *key, cJSON *item)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    else
        cJSON_AddItemToObject(obj, key, item);
}

fer_status fer_metrics_write_json(const fer_metrics *m, const char *extra_json, const char *path)
{
    cJSON *extra = NULL;
    if (extra_json) {
        extra = cJSON_Parse(extra_json);
        if (!cJSON_IsObject(extra)) {
            cJSON_Delete(extra);
            return fer_fail(FER_ERR_ARG, "%s: extra metrics JSON is not an object", path);
        }
    }
    int n = m->n_classes;
    cJSON *root = cJSON_CreateObject();
    /* the seed's keys first, in the seed's order */
    put(root, "accuracy", fev_json_float(m->accuracy));
    put(root, "macro_f1", fev_json_float(m->macro_f1));
    put(root, "per_class_f1", float_array(m->f1, n));
    put(root, "per_class_precision", float_array(m->precision, n));
    put(root, "per_class_recall", float_array(m->recall, n));
    char key[FER_NAME_LEN + 8];
    for (int c = 0; c < n; c++) {
        snprintf(key, sizeof key, "f1_%s", m->class_names[c]);
        put(root, key, fev_json_float(m->f1[c]));
    }
    /* ours */
    put(root, "weighted_f1", fev_json_float(m->weighted_f1));
    cJSON *names = cJSON_CreateArray();
    for (int c = 0; c < n; c++)
        cJSON_AddItemToArray(names, cJSON_CreateString(m->class_names[c]));
    put(root, "class_names", names);
    put(root, "support", int_array(m->support, n));
    put(root, "total", cJSON_CreateNumber((double)m->total));
    if (m->has_confusion) {
        cJSON *cm = cJSON_CreateArray();
        for (int t = 0; t < n; t++)
            cJSON_AddItemToArray(cm, int_array(m->confusion[t], n));
        put(root, "confusion_matrix", cm);
        double pred_share[FER_MAX_CLASSES], true_share[FER_MAX_CLASSES];
        fer_metrics_shares(m, pred_share, true_share);
        put(root, "prediction_share", float_array(pred_share, n));
        put(root, "true_share", float_array(true_share, n));
    }
    if (m->has_calibration) {
        put(root, "ece", fev_json_float(m->ece));
        cJSON *cal = cJSON_CreateObject();
        cJSON_AddItemToObject(cal, "bins", cJSON_CreateNumber(FER_ECE_BINS));
        cJSON_AddItemToObject(cal, "count", int_array(m->bin_count, FER_ECE_BINS));
        cJSON_AddItemToObject(cal, "confidence", float_array(m->bin_confidence, FER_ECE_BINS));
        cJSON_AddItemToObject(cal, "accuracy", float_array(m->bin_accuracy, FER_ECE_BINS));
        put(root, "calibration", cal);
    }
    if (extra) {
        while (extra->child) {
            cJSON *item = cJSON_DetachItemViaPointer(extra, extra->child);
            char *k = item->string;
            item->string = NULL;
            put(root, k, item);
            cJSON_free(k);
        }
        cJSON_Delete(extra);
    }
    char *text = fev_json_print(root);
    cJSON_Delete(root);
    if (!text)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    fer_status st = fer_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

/* Reading metrics.json (fer-report's input, possibly someone else's file): every number is
 * range-checked before use (fer/json_num.h). Scores are fractions in [0, 1]; counts are integers
 * up to FER_METRICS_MAX_COUNT, small enough that the row and total sums of a 16x16 confusion
 * matrix cannot overflow int64. */
#define FER_METRICS_MAX_COUNT (1LL << 40)

/* arr: a JSON array of exactly n numbers in [lo, hi] (n < 0: 1..max, count returned in *got). */
static fer_status read_doubles(const cJSON *arr, const char *path, const char *key, int n,
                               int max, double lo, double hi, double *out, int *got)
{
    int size = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 0 ? size < 1 || size > max : size != n) {
        if (n < 0)
            return fer_fail(FER_ERR_FORMAT, "%s: missing or bad \"%s\" (1..%d numbers)", path,
                            key, max);
        return fer_fail(FER_ERR_FORMAT, "%s: \"%s\" must have %d numbers", path, key, n);
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        char item_key[96];
        snprintf(item_key, sizeof item_key, "%s[%d]", key, i);
        fer_status st = fer_json_double(it, path, item_key, lo, hi, &out[i]);
        if (st != FER_OK)
            return st;
        i++;
    }
    if (got)
        *got = i;
    return FER_OK;
}

/* arr: a JSON array of exactly n counts in [0, FER_METRICS_MAX_COUNT]. */
static fer_status read_counts(const cJSON *arr, const char *path, const char *key, int n,
                              int64_t *out)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n)
        return fer_fail(FER_ERR_FORMAT, "%s: \"%s\" must have %d counts", path, key, n);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        char item_key[96];
        long long v;
        snprintf(item_key, sizeof item_key, "%s[%d]", key, i);
        fer_status st = fer_json_int(it, path, item_key, 0, FER_METRICS_MAX_COUNT, &v);
        if (st != FER_OK)
            return st;
        out[i++] = (int64_t)v;
    }
    return FER_OK;
}

static fer_status get_fraction(const cJSON *root, const char *key, const char *path, int required,
                               double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it && !required)
        return FER_OK;
    return fer_json_double(it, path, key, 0.0, 1.0, out);
}

static fer_status parse_metrics(const cJSON *root, const char *path, fer_metrics *out)
{
    if (!cJSON_IsObject(root))
        return fer_fail(FER_ERR_FORMAT, "%s: not a JSON object", path);
    int n = 0;
    fer_status st = read_doubles(cJSON_GetObjectItemCaseSensitive(root, "per_class_f1"), path,
                                 "per_class_f1", -1, FER_MAX_CLASSES, 0.0, 1.0, out->f1, &n);
    if (st != FER_OK)
        return st;
    out->n_classes = n;
    if ((st = get_fraction(root, "accuracy", path, 1, &out->accuracy)) != FER_OK ||
        (st = get_fraction(root, "macro_f1", path, 1, &out->macro_f1)) != FER_OK ||
        (st = get_fraction(root, "weighted_f1", path, 0, &out->weighted_f1)) != FER_OK)
        return st;

    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "class_names");
    if (names) {
        int i = 0;
        const cJSON *it;
        if (!cJSON_IsArray(names) || cJSON_GetArraySize(names) != n)
            return fer_fail(FER_ERR_FORMAT, "%s: \"class_names\" must list %d names", path, n);
        cJSON_ArrayForEach(it, names) {
            if (!cJSON_IsString(it))
                return fer_fail(FER_ERR_FORMAT, "%s: \"class_names\" has a non-string", path);
            snprintf(out->class_names[i++], FER_NAME_LEN, "%s", it->valuestring);
        }
    } else {
        /* the seed's files: names from the f1_<class> keys, in file order */
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, root) {
            if (it->string && !strncmp(it->string, "f1_", 3) && i < n)
                snprintf(out->class_names[i++], FER_NAME_LEN, "%s", it->string + 3);
        }
        if (i != n)
            return fer_fail(FER_ERR_FORMAT, "%s: %d f1_<class> keys for %d classes", path, i, n);
    }

    const struct {
        const char *key;
        double *dst;
    } arrays[] = {{"per_class_precision", out->precision}, {"per_class_recall", out->recall}};
    for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, arrays[a].key);
        if (it && (st = read_doubles(it, path, arrays[a].key, n, n, 0.0, 1.0, arrays[a].dst,
                                     NULL)) != FER_OK)
            return st;
    }

    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(root, "confusion_matrix");
    out->has_confusion = 0;
    if (cm) {
        if (!cJSON_IsArray(cm) || cJSON_GetArraySize(cm) != n)
            return fer_fail(FER_ERR_FORMAT, "%s: \"confusion_matrix\" must be %dx%d", path, n, n);
        int t = 0;
        const cJSON *row;
        cJSON_ArrayForEach(row, cm) {
            char key[48];
            snprintf(key, sizeof key, "confusion_matrix[%d]", t);
            if ((st = read_counts(row, path, key, n, out->confusion[t])) != FER_OK)
                return st;
            t++;
        }
        out->has_confusion = 1;
        out->total = 0;
        for (t = 0; t < n; t++) {
            out->support[t] = 0;
            for (int p = 0; p < n; p++)
                out->support[t] += out->confusion[t][p];
            out->total += out->support[t];
        }
    }
    const cJSON *sup = cJSON_GetObjectItemCaseSensitive(root, "support");
    if (sup && (st = read_counts(sup, path, "support", n, out->support)) != FER_OK)
        return st;

    const cJSON *ece = cJSON_GetObjectItemCaseSensitive(root, "ece");
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(root, "calibration");
    if (ece && cJSON_IsNumber(ece)) {
        if ((st = fer_json_double(ece, path, "ece", 0.0, 1.0, &out->ece)) != FER_OK)
            return st;
        out->has_calibration = 1;
        if (cJSON_IsObject(cal)) {
            if ((st = read_counts(cJSON_GetObjectItemCaseSensitive(cal, "count"), path,
                                  "calibration.count", FER_ECE_BINS, out->bin_count)) != FER_OK ||
                (st = read_doubles(cJSON_GetObjectItemCaseSensitive(cal, "confidence"), path,
                                   "calibration.confidence", FER_ECE_BINS, FER_ECE_BINS, 0.0,
                                   1.0, out->bin_confidence, NULL)) != FER_OK ||
                (st = read_doubles(cJSON_GetObjectItemCaseSensitive(cal, "accuracy"), path,
                                   "calibration.accuracy", FER_ECE_BINS, FER_ECE_BINS, 0.0, 1.0,
                                   out->bin_accuracy, NULL)) != FER_OK)
                return st;
        }
    }
    return FER_OK;
}

fer_status fer_metrics_read_json(const char *path, fer_metrics *out)
{
    memset(out, 0, sizeof *out);
    char *text;
    fer_status st = fer_read_text_file(path, (size_t)16 << 20, &text, NULL); /* a few kB in practice */
    if (st != FER_OK)
        return st;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root)
        return fer_fail(FER_ERR_FORMAT, "%s: not valid JSON", path);
    st = parse_metrics(root, path, out);
    cJSON_Delete(root);
    return st;
}

void fer_metrics_print_table(const fer_metrics *m, FILE *out)
{
    int w = 12;
    for (int c = 0; c < m->n_classes; c++) {
        int len = (int)strlen(m->class_names[c]);
        if (len > w)
            w = len;
    }
    double macro_p = 0, macro_r = 0, wp = 0, wr = 0;
    for (int c = 0; c < m->n_classes; c++) {
        macro_p += m->precision[c];
        macro_r += m->recall[c];
        wp += m->precision[c] * (double)m->support[c];
        wr += m->recall[c] * (double)m->support[c];
    }
    if (m->n_classes > 0) {
        macro_p /= m->n_classes;
        macro_r /= m->n_classes;
    }
    if (m->total > 0) {
        wp /= (double)m->total;
        wr /= (double)m->total;
    }
    fprintf(out, "%*s  %9s  %9s  %9s  %9s\n", w, "", "precision", "recall", "f1-score",
            "support");
    for (int c = 0; c < m->n_classes; c++)
        fprintf(out, "%*s  %9.4f  %9.4f  %9.4f  %9lld\n", w, m->class_names[c], m->precision[c],
                m->recall[c], m->f1[c], (long long)m->support[c]);
    fprintf(out, "\n%*s  %9s  %9s  %9.4f  %9lld\n", w, "accuracy", "", "", m->accuracy,
            (long long)m->total);
    fprintf(out, "%*s  %9.4f  %9.4f  %9.4f  %9lld\n", w, "macro avg", macro_p, macro_r,
            m->macro_f1, (long long)m->total);
    fprintf(out, "%*s  %9.4f  %9.4f  %9.4f  %9lld\n", w, "weighted avg", wp, wr, m->weighted_f1,
            (long long)m->total);
    fprintf(out, "\naccuracy %.4f  macro-F1 %.4f  weighted-F1 %.4f", m->accuracy, m->macro_f1,
            m->weighted_f1);
    if (m->has_calibration)
        fprintf(out, "  ECE(%d bins) %.4f", FER_ECE_BINS, m->ece);
    fprintf(out, "\n");
}

void fer_metrics_shares(const fer_metrics *m, double *pred_share, double *true_share)
{
    for (int k = 0; k < m->n_classes; k++) {
        int64_t predicted = 0, actual = 0;
        for (int j = 0; j < m->n_classes; j++) {
            predicted += m->confusion[j][k];
            actual += m->confusion[k][j];
        }
        pred_share[k] = m->total > 0 ? (double)predicted / (double)m->total : 0.0;
        true_share[k] = m->total > 0 ? (double)actual / (double)m->total : 0.0;
    }
}

void fer_metrics_print_shares(const fer_metrics *m, FILE *out)
{
    double pred[FER_MAX_CLASSES], truth[FER_MAX_CLASSES];
    fer_metrics_shares(m, pred, truth);
    int w = 12;
    for (int c = 0; c < m->n_classes; c++)
        if ((int)strlen(m->class_names[c]) > w)
            w = (int)strlen(m->class_names[c]);
    fprintf(out, "%*s  %9s  %9s  %9s\n", w, "share of", "predicted", "true", "ratio");
    for (int c = 0; c < m->n_classes; c++) {
        fprintf(out, "%*s  %9.4f  %9.4f", w, m->class_names[c], pred[c], truth[c]);
        if (truth[c] > 0.0)
            fprintf(out, "  %9.2f%s\n", pred[c] / truth[c],
                    pred[c] >= FER_OVERPREDICT_RATIO * truth[c] ? "  over-predicted" : "");
        else
            fprintf(out, "  %9s\n", "-");
    }
}
