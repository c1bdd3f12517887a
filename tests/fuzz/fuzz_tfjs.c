/* Fuzz target: fer-convert-tfjs (model/tools/fer_convert_tfjs.c), the TF.js graph-model
 * converter, then what its users do with the .fer it writes: fer_checkpoint_load, a forward pass,
 * and the face detector (fer_face_detector_new, one detection) when the output has its layout.
 *
 * An input is the model.json text, then the line "--weights--" (TFJS_SEPARATOR, with the
 * newline before it), then the bytes of its one weight shard, written as w.bin beside
 * model.json in a fresh folder (no separator: all model.json, an empty w.bin). Seeds come from
 * make_corpus.c (tfjs_models()).
 *
 * Findings besides crashes: a refusal whose message is empty, longer than one line or names no
 * file of the input's folder, or that leaves an output (or a temporary file) behind; a
 * conversion whose .fer does not load, holds non-finite weights, or whose "outputs" layout in
 * the header does not tile the network's output vector; a loaded detector whose boxes are not
 * finite. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fer/checkpoint.h"
#include "fer/face_detector.h"
#include "fer/status.h"
#include "fer_convert_tfjs.h"
#include "fuzz_common.h"

#define TFJS_SEPARATOR "\n--weights--\n"

/* The first TFJS_SEPARATOR in data, or NULL (memmem is not C11). */
static const uint8_t *find_separator(const uint8_t *data, size_t size)
{
    size_t n = strlen(TFJS_SEPARATOR);
    for (size_t i = 0; i + n <= size; i++)
        if (data[i] == '\n' && memcmp(data + i, TFJS_SEPARATOR, n) == 0)
            return data + i;
    return NULL;
}

static void write_in(const char *dir, const char *name, const void *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fuzz_fail("cannot write the scratch file %s", path);
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        fuzz_fail("cannot list the scratch folder %s", dir);
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty;
}

/* config.outputs: each [rows, cols] holds its tensor's channels x height x width values, and
 * the outputs lie one after another from offset 0 to output_size = the network's output. */
static void check_layout(const char *config_json, size_t feature_size)
{
    cJSON *cfg = config_json ? cJSON_Parse(config_json) : NULL;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(cfg, "outputs");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(cfg, "output_size");
    if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) < 1 || !cJSON_IsNumber(size))
        fuzz_fail("converted model: header config lacks \"outputs\" or \"output_size\"");
    double offset = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, outs) {
        double v[6];
        const char *keys[] = {"rows", "cols", "channels", "height", "width", "offset"};
        for (int k = 0; k < 6; k++) {
            const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
            if (!cJSON_IsNumber(j))
                fuzz_fail("converted model: an output lacks \"%s\"", keys[k]);
            v[k] = j->valuedouble;
        }
        if (v[0] < 1 || v[1] < 1 || v[0] * v[1] != v[2] * v[3] * v[4] || v[5] != offset)
            fuzz_fail("converted model: output [%g, %g] of %gx%gx%g at %g (expected at %g)", v[0],
                      v[1], v[3], v[4], v[2], v[5], offset);
        offset += v[0] * v[1];
    }
    if (offset != size->valuedouble || offset != (double)feature_size)
        fuzz_fail("converted model: outputs cover %g floats, output_size %g, the network gives "
                  "%zu", offset, size->valuedouble, feature_size);
    cJSON_Delete(cfg);
}

/* ferfacedetect: a detector built from the .fer (refusing it is an answer), one detection on a
 * small frame when the network is cheap to run. */
static void run_detector(const char *path, double work)
{
    fer_face_detector *d = NULL;
    fer_status st = fer_face_detector_new(path, "ref", 1, &d);
    fuzz_note("fer_face_detector_new", st);
    if (st != FER_OK)
        return;
    if (work <= FUZZ_FORWARD_WORK) {
        enum { FW = 40, FH = 30, MAX_FACES = 16 };
        static uint8_t rgb[FW * FH * 3];
        for (int i = 0; i < FW * FH * 3; i++)
            rgb[i] = (uint8_t)(i * 7 ^ i >> 3);
        fer_face faces[MAX_FACES];
        int n = -1;
        if (fer_face_detector_detect(d, rgb, FW, FH, FW * 3, 0.0f, 0.3f, 0, faces, MAX_FACES,
                                     &n) == FER_OK) {
            if (n < 0 || n > MAX_FACES)
                fuzz_fail("detector: %d faces for at most %d", n, MAX_FACES);
            for (int i = 0; i < n; i++)
                if (!isfinite(faces[i].x) || !isfinite(faces[i].y) || !isfinite(faces[i].w) ||
                    !isfinite(faces[i].h) || !(faces[i].score >= 0 && faces[i].score <= 1))
                    fuzz_fail("detector: face %d at (%g, %g) %gx%g score %g", i,
                              (double)faces[i].x, (double)faces[i].y, (double)faces[i].w,
                              (double)faces[i].h, (double)faces[i].score);
        }
    }
    fer_face_detector_free(d);
}

static void check_converted(const char *path)
{
    fer_model *m = NULL;
    fer_checkpoint_meta meta;
    fer_status st = fer_checkpoint_load(path, fuzz_ref_backend(), 1, &m, &meta);
    if (st != FER_OK)
        fuzz_fail("the converted .fer does not load: %s", fer_last_error());
    fuzz_check_weights_finite("converted model", m);
    check_layout(meta.config_json, fer_model_feature_size(m));
    const fer_arch *a = fer_model_arch(m);
    fuzz_arch_size est;
    fuzz_arch_size_of(a, &est);
    if (fuzz_arch_over_caps(&est))
        fuzz_fail_over_caps("a converted graph", &est);
    if (est.work <= FUZZ_FORWARD_WORK)
        fuzz_forward_once(m);
    fer_model_free(m);
    fer_checkpoint_meta_clear(&meta);
    run_detector(path, est.work);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = find_separator(data, size);
    size_t json_len = sep ? (size_t)(sep - data) : size;
    size_t bin_at = sep ? json_len + strlen(TFJS_SEPARATOR) : size;
    const char *dir = fuzz_fresh_dir("tfjs_in");
    const char *out_dir = fuzz_fresh_dir("tfjs_out");
    write_in(dir, "model.json", data, json_len);
    write_in(dir, "w.bin", data + bin_at, size - bin_at);
    char json_path[512], out_path[512];
    snprintf(json_path, sizeof json_path, "%s/model.json", dir);
    snprintf(out_path, sizeof out_path, "%s/out.fer", out_dir);
    fer_status st = fer_convert_tfjs_file(json_path, out_path, NULL);
    fuzz_note("fer_convert_tfjs_file", st);
    if (st != FER_OK) {
        const char *msg = fer_last_error();
        if (!msg || !*msg || strchr(msg, '\n') || !strstr(msg, dir))
            fuzz_fail("a refused model gives the message \"%s\" (expected one line naming a "
                      "file in %s)", msg ? msg : "(null)", dir);
        if (!dir_is_empty(out_dir))
            fuzz_fail("a refused model left a file in %s: %s", out_dir, msg);
        return 0;
    }
    check_converted(out_path);
    return 0;
}
