/* libferdata: the folder and CSV loaders agree on a generated set; every PNG colour type and
 * bit depth becomes 8-bit gray by PIL's rules; non-48x48 images are resized. */
#include <png.h>
#include <string.h>
#include "fer/dataset.h"
#include "fer/preprocess.h"
#include "fixtures.h"

static const char *const names[7] = {"angry", "disgust", "fear",    "happy",
                                     "neutral", "sad",   "surprise"};
static const int csv_ids[7] = {0, 1, 2, 3, 6, 4, 5}; /* alphabetical index -> FER-2013 id */

static int row_of(const char *source)
{
    const char *p = strrchr(source, '/');
    const char *c = strrchr(source, ':');
    if (c && (!p || c > p)) return atoi(c + 1); /* FILE.csv:ROW */
    return atoi(p ? p + 1 : source);            /* .../ROW.png */
}

static void loaders_agree(const char *dir)
{
    char root[4096], csv[4096];
    snprintf(root, sizeof root, "%s/folders", dir);
    snprintf(csv, sizeof csv, "%s/fer2013.csv", dir);
    fx_dataset_spec spec = {7, names, csv_ids, 3, 2, 2};
    fx_make_dataset(root, csv, &spec);
    const char *splits[3] = {"train", "val", "test"};
    const int expect_n[3] = {21, 14, 14};
    for (int s = 0; s < 3; s++) {
        fer_dataset *a = NULL, *b = NULL;
        CHECK(fer_dataset_load(root, splits[s], NULL, &a) == FER_OK);
        CHECK(fer_dataset_load(csv, splits[s], NULL, &b) == FER_OK);
        CHECK(a->n == expect_n[s] && b->n == expect_n[s]);
        CHECK(a->n_classes == 7 && b->n_classes == 7);
        for (int c = 0; c < 7; c++) {
            CHECK(!strcmp(a->class_names[c], names[c]));
            CHECK(!strcmp(b->class_names[c], names[c]));
            CHECK(a->class_counts[c] == b->class_counts[c]);
        }
        CHECK(!strcmp(a->fingerprint, a->fingerprint) && strlen(a->fingerprint) == 16);
        for (int i = 0; i < b->n; i++) {
            int row = row_of(b->sources[i]), j;
            for (j = 0; j < a->n; j++)
                if (row_of(a->sources[j]) == row) break;
            CHECK(j < a->n);
            CHECK(a->labels[j] == b->labels[i]);
            CHECK(!memcmp(a->pixels + (size_t)j * 2304, b->pixels + (size_t)i * 2304, 2304));
            /* the generator's class-by-brightness holds through both loaders */
            uint8_t face[2304];
            fx_face(row, b->labels[i], 7, face);
            CHECK(!memcmp(face, b->pixels + (size_t)i * 2304, 2304));
        }
        /* folder order: classes alphabetical, files sorted */
        for (int j = 1; j < a->n; j++) CHECK(a->labels[j] >= a->labels[j - 1]);
        fer_dataset_free(a);
        fer_dataset_free(b);
    }
}

static uint8_t load_one(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/one/train/x/%s", dir, name);
    fer_dataset *d = NULL;
    char root[4096];
    snprintf(root, sizeof root, "%s/one", dir);
    CHECK(fer_dataset_load(root, "train", NULL, &d) == FER_OK);
    CHECK(d->n == 1 && d->h == 48 && d->w == 48);
    uint8_t v = d->pixels[0];
    for (int i = 1; i < 2304; i++) CHECK(d->pixels[i] == v); /* uniform images stay uniform */
    fer_dataset_free(d);
    fx_rm_rf(path);
    return v;
}

/* One uniform 48x48 image of each colour type; expected gray by PIL's convert rules. */
static void colour_types(const char *dir)
{
    char cdir[4096], path[4200];
    snprintf(cdir, sizeof cdir, "%s/one/train/x", dir);
    fx_mkdir(cdir);
    snprintf(path, sizeof path, "%s/img.png", cdir);
    static uint16_t s[48 * 48 * 4];
    const int n = 48 * 48;
    /* RGB (200, 100, 50): PIL L = (200*19595 + 100*38470 + 50*7471 + 0x8000) >> 16 = 124 */
    for (int i = 0; i < n; i++) s[3 * i] = 200, s[3 * i + 1] = 100, s[3 * i + 2] = 50;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_RGB, 8, s, NULL, 0);
    CHECK(load_one(dir, "img.png") == 124);
    /* RGBA: alpha dropped */
    for (int i = 0; i < n; i++) s[4 * i] = 200, s[4 * i + 1] = 100, s[4 * i + 2] = 50, s[4 * i + 3] = 7;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_RGBA, 8, s, NULL, 0);
    CHECK(load_one(dir, "img.png") == 124);
    /* gray + alpha */
    for (int i = 0; i < n; i++) s[2 * i] = 77, s[2 * i + 1] = 0;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_GRAY_ALPHA, 8, s, NULL, 0);
    CHECK(load_one(dir, "img.png") == 77);
    /* 16-bit gray: scaled v*255/65535 rounded */
    for (int i = 0; i < n; i++) s[i] = 40000;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_GRAY, 16, s, NULL, 0);
    CHECK(load_one(dir, "img.png") == 156);
    /* 16-bit RGB */
    for (int i = 0; i < n; i++) s[3 * i] = s[3 * i + 1] = s[3 * i + 2] = 65535;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_RGB, 16, s, NULL, 0);
    CHECK(load_one(dir, "img.png") == 255);
    /* 1-bit and 4-bit gray: expanded to the full 0..255 range */
    for (int i = 0; i < n; i++) s[i] = 1;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_GRAY, 1, s, NULL, 0);
    CHECK(load_one(dir, "img.png") == 255);
    for (int i = 0; i < n; i++) s[i] = 5;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_GRAY, 4, s, NULL, 0);
    CHECK(load_one(dir, "img.png") == 85);
    /* palette */
    const uint8_t pal[6] = {0, 0, 0, 10, 250, 30};
    for (int i = 0; i < n; i++) s[i] = 1;
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_PALETTE, 8, s, pal, 2);
    CHECK(load_one(dir, "img.png") == (uint8_t)((10 * 19595u + 250 * 38470u + 30 * 7471u + 0x8000u) >> 16));
    /* 96x96 of 2x2 blocks: area resize to 48x48 reproduces the blocks' values */
    uint8_t small[2304];
    fx_face(3, 1, 3, small);
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 96; x++) s[y * 96 + x] = small[(y / 2) * 48 + x / 2];
    fx_write_png(path, 96, 96, PNG_COLOR_TYPE_GRAY, 8, s, NULL, 0);
    char root[4096];
    snprintf(root, sizeof root, "%s/one", dir);
    fer_dataset *d = NULL;
    CHECK(fer_dataset_load(root, "train", NULL, &d) == FER_OK);
    uint8_t expect[2304];
    fer_resize_gray(small, 48, 48, 48, expect, 48, 48);
    CHECK(!memcmp(d->pixels, small, 2304));
    fer_dataset_free(d);
}

int main(void)
{
    char *dir = fx_tempdir("data");
    loaders_agree(dir);
    colour_types(dir);
    fx_rm_rf(dir);
    free(dir);
    printf("test_data: ok\n");
    return 0;
}
