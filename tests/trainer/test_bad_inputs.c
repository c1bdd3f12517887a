/* Bad input gives one clear line naming the file (and CSV row) and the problem; with skip_bad
 * the loader skips and counts instead. Never a crash. */
#include <string.h>
#include "fer/dataset.h"
#include "fixtures.h"

static const char *const names[3] = {"a", "b", "c"};
static const int ids[3] = {0, 1, 2};

static int skipped_calls;
static void on_skip(void *ctx, const char *msg)
{
    (void)ctx;
    CHECK(msg && msg[0] && !strchr(msg, '\n'));
    skipped_calls++;
}

/* Loading fails with a message containing every needle; with skip_bad it loads n_ok images and
 * skips n_bad. n_ok < 0: fails even with skip_bad. */
static void expect_bad(const char *root, const char *split, const char *needle1,
                       const char *needle2, int n_ok, int n_bad)
{
    fer_dataset *d = NULL;
    fer_status s = fer_dataset_load(root, split, NULL, &d);
    const char *msg = fer_last_error();
    if (s == FER_OK || !strstr(msg, needle1) || (needle2 && !strstr(msg, needle2)) ||
        strchr(msg, '\n')) {
        fprintf(stderr, "unexpected: status %d message \"%s\" (wanted \"%s\" \"%s\")\n", s, msg,
                needle1, needle2 ? needle2 : "");
        exit(1);
    }
    CHECK(d == NULL);
    skipped_calls = 0;
    fer_load_options lo = {.skip_bad = 1, .on_skip = on_skip};
    s = fer_dataset_load(root, split, &lo, &d);
    if (n_ok < 0) {
        CHECK(s != FER_OK && d == NULL);
        return;
    }
    CHECK(s == FER_OK);
    CHECK(d->n == n_ok);
    CHECK(d->n_skipped == n_bad && skipped_calls == n_bad);
    fer_dataset_free(d);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f);
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void folders(const char *dir)
{
    char root[4096], p[4300];
    snprintf(root, sizeof root, "%s/f", dir);
    fx_dataset_spec spec = {3, names, ids, 2, 1, 1};
    fx_make_dataset(root, NULL, &spec);
    /* truncated PNG */
    snprintf(p, sizeof p, "%s/train/a/00000.png", root);
    size_t n = 0;
    char *png = fx_read_file(p, &n);
    CHECK(png && n > 60);
    snprintf(p, sizeof p, "%s/train/b/trunc.png", root);
    write_bytes(p, png, n / 2);
    expect_bad(root, "train", "trunc.png", "corrupt PNG", 6, 1);
    /* bit flip inside the image data: CRC error */
    png[n / 2] ^= 0x40;
    write_bytes(p, png, n);
    expect_bad(root, "train", "trunc.png", "corrupt PNG", 6, 1);
    free(png);
    /* a text file */
    snprintf(p, sizeof p, "%s/train/b/trunc.png", root);
    remove(p);
    snprintf(p, sizeof p, "%s/train/c/notes.txt", root);
    fx_write_text(p, "not an image\n");
    expect_bad(root, "train", "notes.txt", "not a PNG file", 6, 1);
    remove(p);
    /* empty file */
    fx_write_text(p, "");
    expect_bad(root, "train", "notes.txt", "empty file", 6, 1);
    remove(p);
    /* empty class folder */
    snprintf(p, sizeof p, "%s/val/b", root);
    fx_rm_rf(p);
    fx_mkdir(p);
    expect_bad(root, "val", "val/b", "empty class folder", 2, 1);
    /* missing split */
    snprintf(p, sizeof p, "%s/test", root);
    fx_rm_rf(p);
    expect_bad(root, "test", "f/test", "missing split", -1, 0);
    /* no such root */
    snprintf(p, sizeof p, "%s/nothing", dir);
    expect_bad(p, "train", "nothing", "no such file", -1, 0);
}

static void csv(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    char good[2304 * 4 + 64], *q = good;
    for (int i = 0; i < 2304; i++) q += sprintf(q, i ? " %d" : "%d", i % 256);
    static char text[200000];
    /* rows: 0 ok, 1 bad field count, 2 bad label, 3 short pixels, 4 pixel out of range,
     * 5 unknown Usage, 6 ok, 7 non-number pixel */
    snprintf(text, sizeof text,
             "emotion,pixels,Usage\n"
             "0,%s,Training\n"
             "1,%s\n"
             "9,%s,Training\n"
             "2,1 2 3,Training\n"
             "3,256 %s,Training\n"
             "3,%s,Validation\n"
             "6,%s,Training\n"
             "4,1 x 3,Training\n",
             good, good, good, good + 2, good, good);
    fx_write_text(path, text);
    fer_dataset *d = NULL;
    CHECK(fer_dataset_load(path, "train", NULL, &d) != FER_OK);
    const char *msg = fer_last_error();
    CHECK(strstr(msg, "bad.csv") && strstr(msg, "line 3 (row 1)") && strstr(msg, "fields"));
    skipped_calls = 0;
    fer_load_options lo = {.skip_bad = 1, .on_skip = on_skip};
    CHECK(fer_dataset_load(path, "train", &lo, &d) == FER_OK);
    CHECK(d->n == 2 && d->n_skipped == 6 && skipped_calls == 6);
    CHECK(d->labels[0] == 0 && d->labels[1] == 4); /* neutral (6) -> alphabetical 4 */
    CHECK(!strcmp(d->sources[1], path) == 0 && strstr(d->sources[1], ":6"));
    fer_dataset_free(d);
    /* each malformed row alone names its line and problem */
    struct { const char *row; const char *needle; } cases[] = {
        {"9,1 2,Training\n", "emotion \"9\" is not 0..6"},
        {"2,1 2 3,Training\n", "3 pixels, expected 48x48 = 2304"},
        {"2,1 2 300,Training\n", "out of range"},
        {"2,1 2 3,Elsewhere\n", "unknown Usage"},
        {"2,1 y 3,Training\n", "not a number"},
        {"2\n", "1 fields, expected 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "emotion,pixels,Usage\n%s", cases[i].row);
        fx_write_text(path, text);
        CHECK(fer_dataset_load(path, "train", NULL, &d) != FER_OK);
        msg = fer_last_error();
        if (!strstr(msg, cases[i].needle) || !strstr(msg, "line 2 (row 0)")) {
            fprintf(stderr, "case %zu: \"%s\"\n", i, msg);
            exit(1);
        }
    }
    fx_write_text(path, "a,b\n1,2\n");
    CHECK(fer_dataset_load(path, "train", NULL, &d) != FER_OK);
    CHECK(strstr(fer_last_error(), "header"));
    fx_write_text(path, "");
    CHECK(fer_dataset_load(path, "train", NULL, &d) != FER_OK);
    CHECK(strstr(fer_last_error(), "empty file"));
    snprintf(text, sizeof text, "emotion,pixels,Usage\n0,%s,Training\n", good);
    fx_write_text(path, text);
    CHECK(fer_dataset_load(path, "test", NULL, &d) != FER_OK);
    CHECK(strstr(fer_last_error(), "no rows for split \"test\""));
    CHECK(fer_dataset_load(path, "dev", NULL, &d) != FER_OK);
    CHECK(strstr(fer_last_error(), "unknown split"));
}

int main(void)
{
    char *dir = fx_tempdir("bad");
    folders(dir);
    csv(dir);
    fx_rm_rf(dir);
    free(dir);
    printf("test_bad_inputs: ok\n");
    return 0;
}
