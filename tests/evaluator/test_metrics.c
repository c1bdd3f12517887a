/* Metrics against hand-computed cases (scikit-learn semantics, zero_division=0), calibration
 * bins, and metrics.json round trips, including the seed's own file format. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fer/status.h"
#include "../common/fer_check.h"
#include "fer/metrics.h"

static const char names3[3][FER_NAME_LEN] = {"a", "b", "c"};
static const char names4[4][FER_NAME_LEN] = {"w", "x", "y", "z"};

static void add_pairs(fer_metrics *m, const int *t, const int *p, int n)
{
    for (int i = 0; i < n; i++)
        fer_metrics_add(m, t[i], p[i], NULL);
    fer_metrics_finish(m);
}

static void test_three_classes(void)
{
    /* confusion [[2,1,0],[0,1,1],[0,0,1]] */
    const int t[] = {0, 0, 0, 1, 1, 2}, p[] = {0, 0, 1, 1, 2, 2};
    fer_metrics m;
    fer_metrics_init(&m, 3, names3);
    add_pairs(&m, t, p, 6);
    CHECK(m.total == 6 && m.support[0] == 3 && m.support[1] == 2 && m.support[2] == 1);
    CHECK(m.confusion[0][1] == 1 && m.confusion[1][2] == 1 && m.confusion[2][2] == 1);
    CHECK_NEAR(m.accuracy, 4.0 / 6.0, 1e-15);
    CHECK_NEAR(m.precision[0], 1.0, 1e-15);
    CHECK_NEAR(m.precision[1], 0.5, 1e-15);
    CHECK_NEAR(m.precision[2], 0.5, 1e-15);
    CHECK_NEAR(m.recall[0], 2.0 / 3.0, 1e-15);
    CHECK_NEAR(m.recall[1], 0.5, 1e-15);
    CHECK_NEAR(m.recall[2], 1.0, 1e-15);
    CHECK_NEAR(m.f1[0], 0.8, 1e-15);
    CHECK_NEAR(m.f1[1], 0.5, 1e-15);
    CHECK_NEAR(m.f1[2], 2.0 / 3.0, 1e-15);
    CHECK_NEAR(m.macro_f1, 59.0 / 90.0, 1e-15);
    CHECK_NEAR(m.weighted_f1, 61.0 / 90.0, 1e-15);
    CHECK(!m.has_calibration);
}

static void test_zero_support_and_zero_predictions(void)
{
    /* class 2 has support but is never predicted; class 3 has neither */
    const int t[] = {0, 0, 1, 1, 2, 2}, p[] = {0, 0, 1, 0, 0, 1};
    fer_metrics m;
    fer_metrics_init(&m, 4, names4);
    add_pairs(&m, t, p, 6);
    CHECK_NEAR(m.precision[0], 0.5, 1e-15);
    CHECK_NEAR(m.recall[0], 1.0, 1e-15);
    CHECK_NEAR(m.f1[0], 2.0 / 3.0, 1e-15);
    CHECK_NEAR(m.f1[1], 0.5, 1e-15);
    for (int c = 2; c < 4; c++) {
        CHECK(m.precision[c] == 0.0 && m.recall[c] == 0.0 && m.f1[c] == 0.0);
        CHECK(!isnan(m.f1[c]));
    }
    CHECK(m.support[3] == 0);
    CHECK_NEAR(m.accuracy, 0.5, 1e-15);
    CHECK_NEAR(m.macro_f1, 7.0 / 24.0, 1e-15); /* zero classes count in the mean */
    CHECK_NEAR(m.weighted_f1, 7.0 / 18.0, 1e-15);

    /* no samples at all: every number 0, none NaN */
    fer_metrics e;
    fer_metrics_init(&e, 4, names4);
    fer_metrics_finish(&e);
    CHECK(e.accuracy == 0 && e.macro_f1 == 0 && e.weighted_f1 == 0 && e.total == 0);

    /* out-of-range labels are not counted */
    fer_metrics_init(&e, 4, names4);
    fer_metrics_add(&e, 4, 0, NULL);
    fer_metrics_add(&e, 0, -1, NULL);
    fer_metrics_add(&e, 1, 1, NULL);
    fer_metrics_finish(&e);
    CHECK(e.n_ignored == 2 && e.total == 1 && e.accuracy == 1.0);

    /* names default when none given */
    fer_metrics_init(&e, 2, NULL);
    CHECK(!strcmp(e.class_names[1], "class1"));
}

static void test_calibration(void)
{
    fer_metrics m;
    fer_metrics_init(&m, 2, names3);
    /* confidences 0.9 (right), 0.9 (wrong), 0.5 (right), 0.25 (wrong) */
    float p09[2] = {0.9f, 0.1f}, p05[2] = {0.5f, 0.5f}, p025[2] = {0.75f, 0.25f};
    fer_metrics_add(&m, 0, 0, p09);
    fer_metrics_add(&m, 1, 0, p09);
    fer_metrics_add(&m, 0, 0, p05);
    fer_metrics_add(&m, 0, 1, p025);
    fer_metrics_finish(&m);
    CHECK(m.has_calibration);
    /* bins are (i/15, (i+1)/15]: 0.9 -> 13, 0.5 -> 7, 0.25 -> 3 */
    CHECK(m.bin_count[13] == 2 && m.bin_count[7] == 1 && m.bin_count[3] == 1);
    CHECK_NEAR(m.bin_accuracy[13], 0.5, 1e-12);
    CHECK_NEAR(m.bin_confidence[13], 0.9, 1e-6);
    CHECK_NEAR(m.bin_accuracy[3], 0.0, 1e-12);
    CHECK_NEAR(m.ece, 0.5 * 0.4 + 0.25 * 0.5 + 0.25 * 0.25, 1e-6);

    /* edge confidences: 0 goes to the first bin, 1 to the last */
    float p0[2] = {0.0f, 1.0f}, p1[2] = {1.0f, 0.0f};
    fer_metrics_init(&m, 2, names3);
    fer_metrics_add(&m, 0, 0, p0);
    fer_metrics_add(&m, 0, 0, p1);
    fer_metrics_finish(&m);
    CHECK(m.bin_count[0] == 1 && m.bin_count[FER_ECE_BINS - 1] == 1);
    CHECK_NEAR(m.ece, 0.5 * 1.0 + 0.5 * 0.0, 1e-12);
    /* finish twice gives the same numbers */
    double ece = m.ece;
    fer_metrics_finish(&m);
    CHECK(m.ece == ece);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

static void test_json(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    const int t[] = {0, 0, 1, 1, 2, 2, 3}, p[] = {0, 0, 1, 0, 0, 1, 3};
    float probs[4] = {0.7f, 0.1f, 0.1f, 0.1f};
    fer_metrics m, r;
    fer_metrics_init(&m, 4, names4);
    for (int i = 0; i < 7; i++)
        fer_metrics_add(&m, t[i], p[i], probs);
    fer_metrics_finish(&m);
    OK(fer_metrics_write_json(&m, "{\"tta\":\"flip\",\"accuracy_note\":[1,2]}", path));
    CHECK(access(path, F_OK) == 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed into place */

    /* the seed's layout: 2-space indent, its keys first, in its order */
    FILE *f = fopen(path, "r");
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    CHECK(!strncmp(text, "{\n  \"accuracy\": ", 16));
    const char *keys[] = {"\"accuracy\"", "\"macro_f1\"", "\"per_class_f1\"",
                          "\"per_class_precision\"", "\"per_class_recall\"", "\"f1_w\"",
                          "\"f1_z\"", "\"weighted_f1\"", "\"support\"", "\"confusion_matrix\"",
                          "\"ece\"", "\"tta\": \"flip\""};
    const char *prev = text;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *at = strstr(text, keys[k]);
        if (!at || at < prev)
            fprintf(stderr, "key %s missing or out of order\n", keys[k]);
        CHECK(at && at >= prev);
        prev = at;
    }
    CHECK(strstr(text, "\"f1_y\": 0.0,")); /* zero F1 written as a float */

    OK(fer_metrics_read_json(path, &r));
    CHECK(r.n_classes == 4 && !strcmp(r.class_names[3], "z"));
    CHECK(r.accuracy == m.accuracy && r.macro_f1 == m.macro_f1 && r.weighted_f1 == m.weighted_f1);
    for (int c = 0; c < 4; c++) {
        CHECK(r.f1[c] == m.f1[c] && r.precision[c] == m.precision[c]);
        CHECK(r.recall[c] == m.recall[c] && r.support[c] == m.support[c]);
        for (int k = 0; k < 4; k++)
            CHECK(r.confusion[c][k] == m.confusion[c][k]);
    }
    CHECK(r.has_confusion && r.total == 7);
    CHECK(r.has_calibration && r.ece == m.ece && r.bin_count[10] == 4 && r.bin_count[1] == 3);

    /* the seed's metrics.json (no confusion matrix, names only in f1_<class> keys) */
    write_text(path, "{\n  \"accuracy\": 0.6168849261632767,\n  \"macro_f1\": 0.5760313978902856,\n"
                     "  \"per_class_f1\": [0.55, 0.49523809523809526, 0.3],\n"
                     "  \"per_class_precision\": [0.5, 0.5, 0.5],\n"
                     "  \"per_class_recall\": [0.6, 0.4, 0.2],\n"
                     "  \"f1_angry\": 0.55, \"f1_disgust\": 0.49523809523809526, \"f1_fear\": 0.3\n}");
    OK(fer_metrics_read_json(path, &r));
    CHECK(r.n_classes == 3 && !r.has_confusion && !r.has_calibration);
    CHECK(!strcmp(r.class_names[0], "angry") && !strcmp(r.class_names[2], "fear"));
    CHECK(r.accuracy == 0.6168849261632767 && r.f1[1] == 0.49523809523809526);

    /* bad input: one clear error naming the file */
    write_text(path, "{\"accuracy\": 0.5, \"macro_f1\": 0.5, \"per_class_f1\": [0.1, 0.2],"
                     " \"class_names\": [\"a\"]}");
    CHECK(fer_metrics_read_json(path, &r) == FER_ERR_FORMAT);
    CHECK(strstr(fer_last_error(), path) && strstr(fer_last_error(), "class_names"));
    write_text(path, "{\"accuracy\": 0.5, \"per_class_f1\": [0.1]}");
    CHECK(fer_metrics_read_json(path, &r) == FER_ERR_FORMAT);
    CHECK(strstr(fer_last_error(), "macro_f1"));
    write_text(path, "{\"accuracy\": ");
    CHECK(fer_metrics_read_json(path, &r) == FER_ERR_FORMAT);
    /* absurd numbers (issue 18, item 7): refused before conversion, the key named; counts are
     * capped so a 16x16 matrix's sums cannot overflow */
    static const struct {
        const char *json, *needle;
    } absurd[] = {
        {"\"confusion_matrix\": [[1e300, 0], [0, 1]]", "\"confusion_matrix[0][0]\" = 1"},
        {"\"confusion_matrix\": [[1, -1], [0, 1]]", "\"confusion_matrix[0][1]\" = -1 is out"},
        {"\"confusion_matrix\": [[1, 0], [2.5, 1]]", "\"confusion_matrix[1][0]\" must be an"},
        {"\"confusion_matrix\": [[1099511627777, 0], [0, 1]]", "is out of range [0, 1099511627776]"},
        {"\"support\": [1e19, 1]", "\"support[0]\""},
        {"\"per_class_recall\": [0.5, 1e300]", "\"per_class_recall[1]\""},
        {"\"weighted_f1\": -3", "\"weighted_f1\" = -3"},
        {"\"ece\": 1e999", "\"ece\" = inf"},
        {"\"ece\": 0.1, \"calibration\": {\"count\": [1e300,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"
         " \"confidence\": [], \"accuracy\": []}", "\"calibration.count[0]\""},
    };
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"accuracy\": 0.5, \"macro_f1\": 0.5, \"per_class_f1\": "
                 "[0.1, 0.2], \"class_names\": [\"a\", \"b\"], %s}", absurd[i].json);
        write_text(path, text);
        CHECK(fer_metrics_read_json(path, &r) == FER_ERR_FORMAT);
        if (!strstr(fer_last_error(), path) || !strstr(fer_last_error(), absurd[i].needle)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, fer_last_error(),
                    absurd[i].needle);
            exit(1);
        }
    }
    /* a FIFO is refused at once, not waited on */
    snprintf(tmp, sizeof tmp, "%s/fifo.json", dir);
    CHECK(mkfifo(tmp, 0600) == 0);
    CHECK(fer_metrics_read_json(tmp, &r) == FER_ERR_IO);
    CHECK(strstr(fer_last_error(), "fifo.json: not a regular file"));
    snprintf(tmp, sizeof tmp, "%s/missing.json", dir);
    CHECK(fer_metrics_read_json(tmp, &r) == FER_ERR_IO);
    CHECK(strstr(fer_last_error(), "missing.json"));
    CHECK(fer_metrics_write_json(&m, "[1]", path) == FER_ERR_ARG);
    snprintf(tmp, sizeof tmp, "%s/no/such/dir/metrics.json", dir);
    CHECK(fer_metrics_write_json(&m, NULL, tmp) == FER_ERR_IO);
}

static void test_table(void)
{
    const int t[] = {0, 0, 0, 1, 1, 2}, p[] = {0, 0, 1, 1, 2, 2};
    fer_metrics m;
    fer_metrics_init(&m, 3, names3);
    add_pairs(&m, t, p, 6);
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    fer_metrics_print_table(&m, f);
    fclose(f);
    CHECK(strstr(buf, "precision") && strstr(buf, "support"));
    CHECK(strstr(buf, "0.8000")); /* F1 of class a */
    CHECK(strstr(buf, "macro-F1 0.6556"));
}

int main(void)
{
    char dir[] = "/tmp/fer_test_metrics_XXXXXX";
    CHECK(mkdtemp(dir));
    test_three_classes();
    test_zero_support_and_zero_predictions();
    test_calibration();
    test_json(dir);
    test_table();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    printf("metrics: all checks passed\n");
    return 0;
}
