/* Test fixtures for the trainer: tiny PNG folders and CSV files in a temp dir, a PNG writer for
 * every colour type, and a helper to run fer-train; the checks come from tests/common. */
#ifndef FER_TEST_FIXTURES_H
#define FER_TEST_FIXTURES_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "../common/fer_check.h"

/* mkdtemp under $TMPDIR (or /tmp); removed by rm_rf */
char *fx_tempdir(const char *tag);
void fx_rm_rf(const char *path);
void fx_mkdir(const char *path);
void fx_write_text(const char *path, const char *text);
/* Writes a PNG: color_type/bit_depth as libpng's; samples holds width*height*channels values
 * (0..2^bit_depth-1) row-major; palette (RGB triplets, n_palette) for palette images. */
void fx_write_png(const char *path, int w, int h, int color_type, int bit_depth,
                  const uint16_t *samples, const uint8_t *palette, int n_palette);
/* 48x48 gray PNG */
void fx_write_gray48(const char *path, const uint8_t *pixels);

/* Deterministic 48x48 image for (row, label): separable by mean brightness per class. */
void fx_face(int row, int label, int n_classes, uint8_t *out);

/* Writes ROOT/{train,val,test}/<class>/<row>.png and ROOT.csv (FER-2013 format with
 * class ids in csv_ids order) for n_per_class images per class and split. */
typedef struct fx_dataset_spec {
    int n_classes;
    const char *const *class_names;  /* alphabetical */
    const int *csv_ids;              /* class index -> CSV emotion id */
    int n_train, n_val, n_test;      /* per class */
} fx_dataset_spec;
void fx_make_dataset(const char *root, const char *csv_path, const fx_dataset_spec *spec);

/* Starts argv (NULL-terminated) with stdout+stderr to log_path; returns its pid. */
pid_t fx_spawn(char *const argv[], const char *log_path);
/* fx_spawn and wait: returns the exit status (128+signal when killed). */
int fx_run(char *const argv[], const char *log_path);
/* fer-train's end-to-end runs: argv = fixed[0..n_fixed) (fixed[0] the program), then
 * "--epochs EPOCHS" when epochs is not NULL, then a1 and a2 when not NULL; output to
 * RUNS/EXP.log, whose path goes to log_out. Returns fx_run's status. */
int fx_train(const char *const *fixed, size_t n_fixed, const char *epochs, const char *a1,
             const char *a2, const char *runs, const char *exp, char *log_out, size_t log_cap);
/* Ends the test, printing the log and where, when status rc is not want. */
void fx_expect_exit_(int rc, int want, const char *log_path, const char *file, int line);
#define FX_EXPECT_EXIT(call, want, log_path)                                                  \
    fx_expect_exit_((call), (want), (log_path), __FILE__, __LINE__)
/* Entries of a directory, "." and ".." excepted (threads: /proc/PID/task); 0 when unreadable. */
int fx_count_dir_entries(const char *path);
char *fx_read_file(const char *path, size_t *n);
/* A JSON file parsed (cJSON_Delete it); the test fails, naming the file, when it is unreadable or
 * not JSON. */
struct cJSON *fx_load_json(const char *path);
/* obj[key] as a number; the test fails, naming the key, when it is missing or not a number. */
double fx_json_number(const struct cJSON *obj, const char *key);
/* RUNS_DIR/EXP_A/metrics.json and RUNS_DIR/EXP_B/metrics.json report the same accuracy,
 * macro-F1 and confusion matrix. */
void fx_same_test_metrics(const char *runs_dir, const char *exp_a, const char *exp_b);
/* Two checkpoints with optimiser state hold the same parameters, buffers, optimiser moments and
 * step count, bit for bit, and the same epoch; the test fails naming the first difference.
 * (fixtures_model.c: needs libfermodel.) */
void fx_same_training_state(const char *ckpt_a, const char *ckpt_b);
#endif
