/* Trainer test fixtures (see fixtures.h). */
#include "fixtures.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *fx_tempdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/fer-%s-XXXXXX", base && base[0] ? base : "/tmp", tag);
    char *d = strdup(tmpl);
    CHECK(d && mkdtemp(d));
    return d;
}

void fx_rm_rf(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

void fx_mkdir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0777);
            *p = '/';
        }
    CHECK(mkdir(buf, 0777) == 0 || errno == EEXIST);
}

void fx_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fputs(text, f);
    fclose(f);
}

void fx_write_png(const char *path, int w, int h, int color_type, int bit_depth,
                  const uint16_t *samples, const uint8_t *palette, int n_palette)
{
    FILE *f = fopen(path, "wb");
    CHECK(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    CHECK(png && info);
    if (setjmp(png_jmpbuf(png))) CHECK(!"libpng write error");
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, bit_depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (int i = 0; i < n_palette; i++) {
            pal[i].red = palette[3 * i];
            pal[i].green = palette[3 * i + 1];
            pal[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, pal, n_palette);
    }
    png_write_info(png, info);
    int ch = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4
           : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = ((size_t)w * ch * bit_depth + 7) / 8;
    uint8_t *row = calloc(1, rowbytes);
    CHECK(row);
    for (int y = 0; y < h; y++) {
        memset(row, 0, rowbytes);
        for (int i = 0; i < w * ch; i++) {
            unsigned v = samples[(size_t)y * w * ch + i];
            if (bit_depth == 16) {
                row[2 * i] = (uint8_t)(v >> 8);
                row[2 * i + 1] = (uint8_t)v;
            } else if (bit_depth == 8) {
                row[i] = (uint8_t)v;
            } else { /* packed, most significant bits first */
                int per = 8 / bit_depth;
                int shift = 8 - bit_depth * (i % per + 1);
                row[i / per] |= (uint8_t)(v << shift);
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

void fx_write_gray48(const char *path, const uint8_t *pixels)
{
    uint16_t s[48 * 48];
    for (int i = 0; i < 48 * 48; i++) s[i] = pixels[i];
    fx_write_png(path, 48, 48, PNG_COLOR_TYPE_GRAY, 8, s, NULL, 0);
}

void fx_face(int row, int label, int n_classes, uint8_t *out)
{
    uint32_t h = (uint32_t)row * 2654435761u + 12345u;
    int base = 30 + (190 * label) / (n_classes > 1 ? n_classes - 1 : 1);
    for (int i = 0; i < 48 * 48; i++) {
        h = h * 1664525u + 1013904223u;
        int v = base + (int)((h >> 24) % 41) - 20;
        out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

void fx_make_dataset(const char *root, const char *csv_path, const fx_dataset_spec *spec)
{
    static const char *const splits[3] = {"train", "val", "test"};
    static const char *const usage[3] = {"Training", "PublicTest", "PrivateTest"};
    const int per[3] = {spec->n_train, spec->n_val, spec->n_test};
    FILE *csv = csv_path ? fopen(csv_path, "wb") : NULL;
    if (csv_path) CHECK(csv);
    if (csv) fputs("emotion,pixels,Usage\n", csv);
    int row = 0;
    uint8_t img[48 * 48];
    char path[4096];
    for (int s = 0; s < 3; s++) {
        for (int c = 0; c < spec->n_classes; c++) {
            snprintf(path, sizeof path, "%s/%s/%s", root, splits[s], spec->class_names[c]);
            fx_mkdir(path);
        }
        /* interleave classes, as the real CSV does */
        for (int k = 0; k < per[s]; k++)
            for (int c = 0; c < spec->n_classes; c++, row++) {
                fx_face(row, c, spec->n_classes, img);
                snprintf(path, sizeof path, "%s/%s/%s/%05d.png", root, splits[s],
                         spec->class_names[c], row);
                fx_write_gray48(path, img);
                if (!csv) continue;
                fprintf(csv, "%d,", spec->csv_ids[c]);
                for (int i = 0; i < 48 * 48; i++) fprintf(csv, i ? " %d" : "%d", img[i]);
                fprintf(csv, ",%s\n", usage[s]);
            }
    }
    if (csv) fclose(csv);
}

pid_t fx_spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int fx_run(char *const argv[], const char *log_path)
{
    pid_t pid = fx_spawn(argv, log_path);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

int fx_train(const char *const *fixed, size_t n_fixed, const char *epochs, const char *a1,
             const char *a2, const char *runs, const char *exp, char *log_out, size_t log_cap)
{
    char *argv[96];
    size_t n = 0;
    if (n_fixed > sizeof argv / sizeof *argv - 5) {
        fprintf(stderr, "fx_train: %zu fixed arguments is too many\n", n_fixed);
        exit(1);
    }
    for (size_t i = 0; i < n_fixed; i++)
        argv[n++] = (char *)fixed[i];
    if (epochs) {
        argv[n++] = "--epochs";
        argv[n++] = (char *)epochs;
    }
    if (a1)
        argv[n++] = (char *)a1;
    if (a2)
        argv[n++] = (char *)a2;
    argv[n] = NULL;
    snprintf(log_out, log_cap, "%s/%s.log", runs, exp);
    return fx_run(argv, log_out);
}

void fx_expect_exit_(int rc, int want, const char *log_path, const char *file, int line)
{
    if (rc == want)
        return;
    char *log = fx_read_file(log_path, NULL);
    fprintf(stderr, "---- %s\n%s----\n", log_path, log ? log : "(no log)");
    free(log);
    fprintf(stderr, "%s:%d: exit %d, expected %d\n", file, line, rc, want);
    exit(1);
}

int fx_count_dir_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

char *fx_read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    CHECK(buf);
    size_t got = fread(buf, 1, (size_t)len, f);
    buf[got] = 0;
    fclose(f);
    if (n) *n = got;
    return buf;
}

cJSON *fx_load_json(const char *path)
{
    char *text = fx_read_file(path, NULL);
    CHECK(text, "%s: cannot read", path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    CHECK(j, "%s: not valid JSON", path);
    return j;
}

double fx_json_number(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    CHECK(cJSON_IsNumber(v), "'%s' missing or not a number", key);
    return v->valuedouble;
}

void fx_same_test_metrics(const char *runs_dir, const char *exp_a, const char *exp_b)
{
    char path_a[4500], path_b[4500];
    snprintf(path_a, sizeof path_a, "%s/%s/metrics.json", runs_dir, exp_a);
    snprintf(path_b, sizeof path_b, "%s/%s/metrics.json", runs_dir, exp_b);
    cJSON *a = fx_load_json(path_a), *b = fx_load_json(path_b);
    CHECK(fx_json_number(a, "accuracy") == fx_json_number(b, "accuracy") &&
              fx_json_number(a, "macro_f1") == fx_json_number(b, "macro_f1"),
          "%s and %s differ in accuracy or macro-F1", path_a, path_b);
    char *ca = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, "confusion_matrix"));
    char *cb = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, "confusion_matrix"));
    CHECK(ca && cb && !strcmp(ca, cb), "%s and %s differ in the confusion matrix", path_a, path_b);
    free(ca);
    free(cb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}
