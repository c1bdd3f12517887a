/* fer-report end to end on a fixed set of generated runs: seeds (golden CSV, Markdown and
 * LaTeX), compare (golden Markdown, figure sizes), curves (history.jsonl, bad lines), and the
 * promised errors. argv: fer-report, golden dir. FER_TEST_KEEP=DIR keeps the outputs. */
#include <string.h>
#include <unistd.h>

#include "fer/metrics.h"
#include "fixtures.h"
#include "png_read.h"

static const char names[7][FER_NAME_LEN] = {"angry", "disgust", "fear",    "happy",
                                            "neutral", "sad",   "surprise"};
static const int base_cm[7][7] = {{308, 12, 40, 20, 60, 40, 11},  {13, 26, 3, 3, 5, 4, 1},
                                  {70, 4, 140, 20, 80, 150, 64},  {20, 1, 10, 756, 40, 20, 32},
                                  {40, 2, 20, 40, 450, 60, 14},   {60, 3, 50, 40, 170, 271, 0},
                                  {12, 1, 30, 20, 20, 10, 323}};

static const char *report, *golden;
static char root[512];

/* A run whose confusion matrix moves `shift` samples per row onto the diagonal (and, with
 * disgust_boost, moves disgust's errors there too). */
static void make_run(const char *name, int shift, int disgust_boost)
{
    char dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/runs/%s", root, name);
    fx_mkdir(dir);
    fer_metrics m;
    fer_metrics_init(&m, 7, names);
    for (int t = 0; t < 7; t++) {
        int moved = 0;
        for (int p = 0; p < 7; p++) {
            int n = base_cm[t][p];
            if (p != t) {
                int take = n < shift - moved ? n : shift - moved;
                if (t == 1 && disgust_boost)
                    take = n;
                n -= take;
                moved += take;
            }
            for (int k = 0; k < n; k++)
                fer_metrics_add(&m, t, p, NULL);
        }
        for (int k = 0; k < base_cm[t][t] + moved; k++)
            fer_metrics_add(&m, t, t, NULL);
    }
    fer_metrics_finish(&m);
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    if (fer_metrics_write_json(&m, "{\"split\":\"test\"}", path) != FER_OK) {
        fprintf(stderr, "%s\n", fer_last_error());
        exit(1);
    }
}

static int run_report(const char *log, const char *a1, const char *a2, const char *a3,
                      const char *a4, const char *a5, const char *a6)
{
    char *argv[] = {(char *)report, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5,
                    (char *)a6, NULL};
    char log_path[700];
    snprintf(log_path, sizeof log_path, "%s/%s", root, log);
    return fx_run(argv, log_path);
}

static int log_has(const char *log, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", root, log);
    char *s = fx_read_file(path, NULL);
    int found = s && strstr(s, text);
    if (!found)
        fprintf(stderr, "%s does not contain '%s':\n%s\n", log, text, s ? s : "(missing)");
    free(s);
    return found;
}

static void check_golden(const char *out_name, const char *golden_name)
{
    char a[800], b[800];
    snprintf(a, sizeof a, "%s/out/%s", root, out_name);
    snprintf(b, sizeof b, "%s/%s", golden, golden_name);
    char *got = fx_read_file(a, NULL), *want = fx_read_file(b, NULL);
    CHECK(got && want);
    if (strcmp(got, want)) {
        fprintf(stderr, "%s differs from the golden %s\n--- got ---\n%s\n--- want ---\n%s\n",
                a, b, got, want);
        exit(1);
    }
    free(got);
    free(want);
}

static void png_size(const char *name, int *w, int *h)
{
    char path[800];
    snprintf(path, sizeof path, "%s/out/%s", root, name);
    test_image im;
    CHECK(test_png_read(path, &im));
    *w = im.w;
    *h = im.h;
    free(im.rgb);
}

static void test_seeds(void)
{
    char pattern[700], out[700];
    snprintf(pattern, sizeof pattern, "%s/runs/*", root);
    snprintf(out, sizeof out, "%s/out", root);
    /* the glob is expanded by fer-report itself (quoted on a shell command line) */
    CHECK(run_report("seeds.log", "seeds", pattern, "--out", out, NULL, NULL) == 0);
    CHECK(log_has("seeds.log", "notes: no metrics.json, skipped"));
    check_golden("seed_summary.csv", "seed_summary.csv");
    check_golden("seed_summary.md", "seed_summary.md");
    check_golden("seed_summary_table.tex", "seed_summary_table.tex");

    /* explicit folders work the same as a glob and duplicates count once */
    char e0a[700], e0b[700];
    snprintf(e0a, sizeof e0a, "%s/runs/E0_match_seed4*", root);
    snprintf(e0b, sizeof e0b, "%s/runs/E0_match_seed40/", root);
    CHECK(run_report("seeds2.log", "seeds", e0a, e0b, "--out", out, NULL) == 0);
    CHECK(log_has("seeds2.log", "E0_match"));
    char *csv = fx_read_file(strcat(out, "/seed_summary.csv"), NULL);
    CHECK(csv && !strstr(csv, "E5_") && strstr(csv, "\nE0_match,"));
    free(csv);

    /* errors: a folder without metrics.json named explicitly, a pattern matching nothing */
    snprintf(e0a, sizeof e0a, "%s/runs/notes", root);
    CHECK(run_report("seeds3.log", "seeds", e0a, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("seeds3.log", "notes: no metrics.json"));
    snprintf(e0a, sizeof e0a, "%s/runs/nothing*", root);
    CHECK(run_report("seeds4.log", "seeds", e0a, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("seeds4.log", "nothing*: no run folders"));
    CHECK(run_report("seeds5.log", "seeds", NULL, NULL, NULL, NULL, NULL) == 2);
    CHECK(run_report("bad.log", "sedes", NULL, NULL, NULL, NULL, NULL) == 2);
    CHECK(log_has("bad.log", "unknown command 'sedes'"));
}

static void test_compare(void)
{
    char a[700], b[700], c[700], out[700];
    snprintf(a, sizeof a, "%s/runs/E0_match_seed42", root);
    snprintf(b, sizeof b, "%s/runs/E5_balanced_seed42", root);
    snprintf(c, sizeof c, "%s/runs/E6_arcface_focal_10ep", root);
    snprintf(out, sizeof out, "%s/out", root);
    CHECK(run_report("cmp.log", "compare", a, b, "--out", out, NULL) == 0);
    check_golden("compare_E0_match_seed42_vs_E5_balanced_seed42.md",
                 "compare_E0_match_seed42_vs_E5_balanced_seed42.md");
    CHECK(log_has("cmp.log", "| F1 disgust |")); /* the table goes to stdout too */
    int w, h, w2, h2;
    png_size("per_class_f1_E0_match_seed42_vs_E5_balanced_seed42.png", &w, &h);
    CHECK(w > 600 && w < 1200 && h > 380 && h < 700);
    png_size("confusion_E0_match_seed42_vs_E5_balanced_seed42.png", &w2, &h2);
    CHECK(w2 > 1000 && w2 < 2200 && h2 > 600 && h2 < 1000);

    /* the seed's own metrics.json has no confusion matrix: bars yes, matrices no, a warning */
    CHECK(run_report("cmp2.log", "compare", a, c, "--out", out, NULL) == 0);
    CHECK(log_has("cmp2.log", "has no confusion_matrix"));
    png_size("per_class_f1_E0_match_seed42_vs_E6_arcface_focal_10ep.png", &w, &h);
    char path[900];
    snprintf(path, sizeof path, "%s/confusion_E0_match_seed42_vs_E6_arcface_focal_10ep.png", out);
    CHECK(access(path, F_OK) != 0);

    CHECK(run_report("cmp3.log", "compare", a, NULL, NULL, NULL, NULL) == 2);
    snprintf(c, sizeof c, "%s/runs/missing", root);
    CHECK(run_report("cmp4.log", "compare", a, c, NULL, NULL, NULL) == 1);
    CHECK(log_has("cmp4.log", "missing: no such run folder"));

    /* a crafted metrics.json: absurd counts are refused with the file and key, exit 1, before
     * anything converts or sums them (issue 18, item 7) */
    snprintf(c, sizeof c, "%s/runs/hostile", root);
    fx_mkdir(c);
    snprintf(path, sizeof path, "%s/metrics.json", c);
    fx_write_text(path, "{\"accuracy\": 0.5, \"macro_f1\": 0.5, \"per_class_f1\": [0.5, 0.5],"
                        " \"class_names\": [\"a\", \"b\"],"
                        " \"confusion_matrix\": [[1e300, 1], [2, 3]]}");
    CHECK(run_report("cmp5.log", "compare", a, c, "--out", out, NULL) == 1);
    CHECK(log_has("cmp5.log", "hostile/metrics.json: \"confusion_matrix[0][0]\" = "
                              "1.0000000000000001e+300 is out of range"));
}

static void write_history(const char *run, int epochs, const char *extra_line)
{
    char path[800];
    snprintf(path, sizeof path, "%s/runs/%s/history.jsonl", root, run);
    FILE *f = fopen(path, "w");
    CHECK(f);
    for (int e = 1; e <= epochs; e++)
        fprintf(f, "{\"epoch\":%d,\"train/loss\":%.4f,\"train/acc\":%.4f,\"val/acc\":%.4f,"
                   "\"val/macro_f1\":%.4f,\"lr\":%.6g}\n",
                e, 1.8 / e + 0.5, 0.3 + 0.01 * e, 0.28 + 0.01 * e, 0.2 + 0.012 * e,
                1e-3 * (1.0 - (double)e / epochs));
    if (extra_line)
        fputs(extra_line, f);
    fclose(f);
}

static void test_curves(void)
{
    char a[700], b[700], out[700], path[900];
    snprintf(a, sizeof a, "%s/runs/E0_match_seed40", root);
    snprintf(b, sizeof b, "%s/runs/E5_balanced_seed40", root);
    snprintf(out, sizeof out, "%s/out", root);
    write_history("E0_match_seed40", 12, NULL);
    /* a resumed run re-writes epoch 3: the later line wins */
    write_history("E5_balanced_seed40", 10, "{\"epoch\":3,\"train/loss\":0.9,\"lr\":0.0005}\n");
    CHECK(run_report("cur.log", "curves", a, NULL, NULL, NULL, NULL) == 0);
    snprintf(path, sizeof path, "%s/curves.png", a);
    test_image im;
    CHECK(test_png_read(path, &im));
    CHECK(im.w > 1000 && im.h > 250);
    free(im.rgb);
    CHECK(run_report("cur2.log", "curves", a, b, "--out", out, NULL) == 0);
    CHECK(log_has("cur2.log", "12 epochs"));
    int w, h;
    png_size("curves_E0_match_seed40_vs_E5_balanced_seed40.png", &w, &h);
    CHECK(w > 1000 && h > 250);

    write_history("E5_balanced_seed40", 4, "{\"epoch\": \"five\"}\n");
    CHECK(run_report("cur3.log", "curves", b, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("cur3.log", "history.jsonl:5: \"epoch\" must be an integer"));
    write_history("E5_balanced_seed40", 4, "{\"epoch\": 5, \"val/acc\": \"high\"}\n");
    CHECK(run_report("cur4.log", "curves", b, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("cur4.log", "history.jsonl:5: \"val/acc\" must be a number"));
    /* absurd numbers are refused before any conversion (issue 18, item 7) */
    write_history("E5_balanced_seed40", 4, "{\"epoch\": 1e300}\n");
    CHECK(run_report("cur6.log", "curves", b, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("cur6.log", "history.jsonl:5: \"epoch\" = 1.0000000000000001e+300 is out of "
                              "range [1, 100000]"));
    write_history("E5_balanced_seed40", 4, "{\"epoch\": 2, \"lr\": 1e999}\n");
    CHECK(run_report("cur7.log", "curves", b, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("cur7.log", "history.jsonl:5: \"lr\" = inf is out of range"));
    write_history("E5_balanced_seed40", 4, "{\"epoch\": -7}\n");
    CHECK(run_report("cur8.log", "curves", b, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("cur8.log", "history.jsonl:5: \"epoch\" = -7 is out of range"));
    snprintf(a, sizeof a, "%s/runs/E2b_wce_sqrt", root);
    CHECK(run_report("cur5.log", "curves", a, NULL, NULL, NULL, NULL) == 1);
    CHECK(log_has("cur5.log", "E2b_wce_sqrt/history.jsonl: cannot open"));
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    report = argv[1];
    golden = argv[2];
    const char *keep = getenv("FER_TEST_KEEP");
    if (keep && *keep) {
        snprintf(root, sizeof root, "%s", keep);
    } else {
        char *t = fx_tempdir("fer_test_report");
        snprintf(root, sizeof root, "%s", t);
        free(t);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/runs", root);
    fx_mkdir(path);
    make_run("E0_match_seed40", 0, 0);
    make_run("E0_match_seed41", 7, 0);
    make_run("E0_match_seed42", 19, 0);
    make_run("E5_balanced_seed40", 25, 1);
    make_run("E5_balanced_seed41", 31, 1);
    make_run("E5_balanced_seed42", 44, 1);
    make_run("E2b_wce_sqrt", 12, 1);
    /* the seed's own file format: no confusion matrix, names only in the f1_<class> keys */
    snprintf(path, sizeof path, "%s/runs/E6_arcface_focal_10ep", root);
    fx_mkdir(path);
    strcat(path, "/metrics.json");
    fx_write_text(path,
                  "{\n  \"accuracy\": 0.5592,\n  \"macro_f1\": 0.4331,\n  \"per_class_f1\": "
                  "[0.45, 0.0, 0.077, 0.81, 0.52, 0.40, 0.7732],\n  \"per_class_precision\": "
                  "[0.5, 0.0, 0.3, 0.8, 0.5, 0.4, 0.7],\n  \"per_class_recall\": [0.4, 0.0, "
                  "0.05, 0.82, 0.55, 0.4, 0.85],\n  \"f1_angry\": 0.45,\n  \"f1_disgust\": 0.0,\n"
                  "  \"f1_fear\": 0.077,\n  \"f1_happy\": 0.81,\n  \"f1_neutral\": 0.52,\n"
                  "  \"f1_sad\": 0.40,\n  \"f1_surprise\": 0.7732\n}");
    snprintf(path, sizeof path, "%s/runs/notes", root);
    fx_mkdir(path);
    test_seeds();
    test_compare();
    test_curves();
    if (!(keep && *keep))
        fx_rm_rf(root);
    printf("report: all checks passed\n");
    return 0;
}
