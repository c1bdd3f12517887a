/* fer-convert-tfjs on hand-made face-api weights manifests of TinyFaceDetector's layout (narrow
 * layers: 4 channels instead of 16..512, same 416 input, same pools):
 *   a valid manifest (uint8-quantized and float32 weights mixed, biases pushed negative so the
 *   padded max pools' edge windows hold only negative values) is converted, run on ref and cpu,
 *   and compared with face-api's runMobilenet computed here directly in NHWC in double (within
 *   TOL_ABS + TOL_REL * |ref|); the converted header drives the face detector's YOLO decoder;
 *   hostile manifests (a missing weight, a wrong shape, an unknown quantization, a short shard)
 *   are refused with exit 1 and one line naming the file, never a crash.
 *   Usage: test_convert_tiny PATH/TO/fer-convert-tfjs */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fer/checkpoint.h"
#include "fer/face_detector.h"
#include "fer/model.h"
#define FER_CHECK_CONTINUE
#include "../common/fer_check.h"

#define TOL_ABS 1e-4 /* float32 through 8 layers against double */
#define TOL_REL 1e-4
#define SIZE 416
#define CH 4      /* every layer's width here */
#define OUT 25    /* 5 anchors x (4 box values + score) */
#define N_STAGES 5 /* separable convs conv1..conv5 */

static const char *tool;
static char dir[256];

/* weights, in manifest order */
static float conv0_f[3 * 3 * 3 * CH], conv0_b[CH];
static float dw_f[N_STAGES][3 * 3 * CH], pw_f[N_STAGES][CH * CH], pw_b[N_STAGES][CH];
static float conv8_f[CH * OUT], conv8_b[OUT];

/* uint8-quantized weights are stored as q with value q * scale + min */
#define Q_MIN -0.5
#define Q_SCALE (1.0 / 255.0)

static void fill(float *v, int n, int seed, float offset, int quantized)
{
    for (int i = 0; i < n; i++) {
        float x = (float)sin(seed * 12.9898 + i * 78.233) * 0.5f;
        if (quantized) /* exactly what the uint8 code decodes to */
            x = (float)(Q_SCALE * (unsigned char)lround((x - Q_MIN) / Q_SCALE) + Q_MIN);
        v[i] = x + offset;
    }
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

typedef struct entry {
    char name[40];
    int shape[4], ndim;
    const float *v;
    int quantized;
} entry;

static entry entries[32];
static int n_entries;

static void add(const char *name, int ndim, int d0, int d1, int d2, int d3, const float *v,
                int quantized)
{
    entry *e = &entries[n_entries++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    e->shape[0] = d0, e->shape[1] = d1, e->shape[2] = d2, e->shape[3] = d3;
    e->v = v;
    e->quantized = quantized;
}

static size_t count(const entry *e)
{
    size_t n = 1;
    for (int i = 0; i < e->ndim; i++)
        n *= (size_t)e->shape[i];
    return n;
}

static void make_entries(void)
{
    n_entries = 0;
    add("conv0/filters", 4, 3, 3, 3, CH, conv0_f, 1);
    add("conv0/bias", 1, CH, 0, 0, 0, conv0_b, 0);
    for (int s = 0; s < N_STAGES; s++) {
        char n[40];
        snprintf(n, sizeof n, "conv%d/depthwise_filter", s + 1);
        add(n, 4, 3, 3, CH, 1, dw_f[s], 1);
        snprintf(n, sizeof n, "conv%d/pointwise_filter", s + 1);
        add(n, 4, 1, 1, CH, CH, pw_f[s], s % 2);
        snprintf(n, sizeof n, "conv%d/bias", s + 1);
        add(n, 1, CH, 0, 0, 0, pw_b[s], 0);
    }
    add("conv8/filters", 4, 1, 1, CH, OUT, conv8_f, 1);
    add("conv8/bias", 1, OUT, 0, 0, 0, conv8_b, 0);
}

/* Writes m.json and m.bin; quant_dtype replaces "uint8" and skip drops the entry of that name
 * (hostile cases); cut bytes are left off the shard's end. */
static void write_manifest(const char *quant_dtype, const char *skip, const char *reshape,
                           size_t cut)
{
    size_t cap = 1 << 16, len = 0, bin_len = 0;
    char *json = malloc(cap);
    unsigned char *bin = malloc(1 << 20);
    len += (size_t)snprintf(json + len, cap - len, "[{\"paths\":[\"m.bin\"],\"weights\":[");
    int first = 1;
    for (int i = 0; i < n_entries; i++) {
        const entry *e = &entries[i];
        if (skip && strcmp(skip, e->name) == 0)
            continue;
        int shape[4] = {e->shape[0], e->shape[1], e->shape[2], e->shape[3]};
        if (reshape && strcmp(reshape, e->name) == 0)
            shape[e->ndim - 1] += 1; /* wrong shape, the shard holds the new count */
        len += (size_t)snprintf(json + len, cap - len, "%s{\"name\":\"%s\",\"shape\":[",
                                first ? "" : ",", e->name);
        first = 0;
        size_t n = 1;
        for (int k = 0; k < e->ndim; k++) {
            len += (size_t)snprintf(json + len, cap - len, "%s%d", k ? "," : "", shape[k]);
            n *= (size_t)shape[k];
        }
        len += (size_t)snprintf(json + len, cap - len, "],\"dtype\":\"float32\"");
        if (e->quantized)
            len += (size_t)snprintf(json + len, cap - len,
                                    ",\"quantization\":{\"dtype\":\"%s\",\"min\":%.17g,"
                                    "\"scale\":%.17g}",
                                    quant_dtype, Q_MIN, Q_SCALE);
        len += (size_t)snprintf(json + len, cap - len, "}");
        for (size_t k = 0; k < n; k++) {
            float v = k < count(e) ? e->v[k] : 0.0f;
            if (e->quantized) {
                bin[bin_len++] = (unsigned char)lround((v - Q_MIN) / Q_SCALE);
            } else {
                memcpy(bin + bin_len, &v, 4); /* little-endian hosts only, as the shard is */
                bin_len += 4;
            }
        }
    }
    len += (size_t)snprintf(json + len, cap - len, "]}]");
    write_file("m.json", json, len);
    write_file("m.bin", bin, bin_len - cut);
    free(json);
    free(bin);
}

/* ---- face-api's runMobilenet in NHWC, double ------------------------------------------- */

static double leaky(double v)
{
    return v > 0.0 ? v : 0.1 * v;
}

/* k x k conv (depthwise when dw), zero padding pad on every side, stride 1 */
static double *conv(const double *x, int h, int w, int c, const float *f, const float *b, int k,
                    int out_c, int pad, int dw, int *oh, int *ow)
{
    *oh = h + 2 * pad - k + 1, *ow = w + 2 * pad - k + 1;
    double *y = calloc((size_t)*oh * *ow * out_c, sizeof *y);
    for (int i = 0; i < *oh; i++)
        for (int j = 0; j < *ow; j++)
            for (int o = 0; o < out_c; o++) {
                double s = b ? b[o] : 0.0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int yy = i + ky - pad, xx = j + kx - pad;
                        if (yy < 0 || yy >= h || xx < 0 || xx >= w)
                            continue;
                        const double *px = x + ((size_t)yy * w + xx) * c;
                        if (dw)
                            s += px[o] * f[(ky * k + kx) * c + o];
                        else
                            for (int ci = 0; ci < c; ci++)
                                s += px[ci] * f[((ky * k + kx) * c + ci) * out_c + o];
                    }
                y[((size_t)i * *ow + j) * out_c + o] = s;
            }
    return y;
}

/* TF "SAME" 2x2 max pool of stride s: padded cells are ignored */
static double *maxpool(const double *x, int h, int w, int c, int s, int *oh, int *ow)
{
    *oh = (h + s - 1) / s, *ow = (w + s - 1) / s;
    double *y = malloc((size_t)*oh * *ow * c * sizeof *y);
    for (int i = 0; i < *oh; i++)
        for (int j = 0; j < *ow; j++)
            for (int o = 0; o < c; o++) {
                double m = -INFINITY;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int yy = i * s + dy, xx = j * s + dx;
                        if (yy < h && xx < w)
                            m = fmax(m, x[((size_t)yy * w + xx) * c + o]);
                    }
                y[((size_t)i * *ow + j) * c + o] = m;
            }
    return y;
}

static void leaky_all(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = leaky(x[i]);
}

/* rgb: SIZE x SIZE x 3 bytes; out: 13 x 13 x OUT */
static double *reference(const unsigned char *rgb, int *side)
{
    static const double mean[3] = {117.001, 114.697, 97.404};
    double *x = malloc((size_t)SIZE * SIZE * 3 * sizeof *x);
    for (size_t i = 0; i < (size_t)SIZE * SIZE * 3; i++)
        x[i] = (rgb[i] - mean[i % 3]) / 255.0;
    double bias[OUT];
    int h, w;
    double *y = conv(x, SIZE, SIZE, 3, conv0_f, NULL, 3, CH, 0, 0, &h, &w);
    for (size_t i = 0; i < (size_t)h * w * CH; i++)
        y[i] += conv0_b[i % CH];
    free(x);
    leaky_all(y, (size_t)h * w * CH);
    x = maxpool(y, h, w, CH, 2, &h, &w);
    free(y);
    for (int s = 0; s < N_STAGES; s++) {
        y = conv(x, h, w, CH, dw_f[s], NULL, 3, CH, 1, 1, &h, &w);
        free(x);
        x = conv(y, h, w, CH, pw_f[s], NULL, 1, CH, 0, 0, &h, &w);
        free(y);
        for (size_t i = 0; i < (size_t)h * w * CH; i++)
            x[i] = leaky(x[i] + pw_b[s][i % CH]);
        y = maxpool(x, h, w, CH, s == N_STAGES - 1 ? 1 : 2, &h, &w);
        free(x);
        x = y;
    }
    for (int o = 0; o < OUT; o++)
        bias[o] = conv8_b[o];
    y = conv(x, h, w, CH, conv8_f, NULL, 1, OUT, 0, 0, &h, &w);
    for (size_t i = 0; i < (size_t)h * w * OUT; i++)
        y[i] += bias[i % OUT];
    free(x);
    *side = h;
    return y;
}

/* ---- the checks ------------------------------------------------------------------------- */

static int convert(const char *fer, char *msg, size_t cap)
{
    char cmd[2048], log[512];
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(cmd, sizeof cmd, "'%s' '%s/m.json' '%s' >/dev/null 2>'%s'", tool, dir, fer, log);
    int rc = system(cmd);
    FILE *f = fopen(log, "r");
    size_t got = f ? fread(msg, 1, cap - 1, f) : 0;
    msg[got] = '\0';
    if (f)
        fclose(f);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void valid(void)
{
    fill(conv0_f, 3 * 3 * 3 * CH, 1, 0.0f, 1);
    fill(conv0_b, CH, 2, -0.2f, 0);
    for (int s = 0; s < N_STAGES; s++) {
        fill(dw_f[s], 3 * 3 * CH, 10 + s, 0.0f, 1);
        fill(pw_f[s], CH * CH, 20 + s, 0.0f, s % 2);
        /* stages 1 and 5 feed the pools that pad: negative biases make all-negative windows */
        fill(pw_b[s], CH, 30 + s, s == 0 || s == 4 ? -1.0f : 0.0f, 0);
    }
    fill(conv8_f, CH * OUT, 40, 0.0f, 1);
    fill(conv8_b, OUT, 41, 0.0f, 0);
    make_entries();
    write_manifest("uint8", NULL, NULL, 0);
    char fer[512], msg[1024];
    snprintf(fer, sizeof fer, "%s/m.fer", dir);
    int rc = convert(fer, msg, sizeof msg);
    CHECK(rc == 0, "valid manifest: exit %d: %s", rc, msg);
    if (rc != 0)
        return;

    unsigned char *rgb = malloc((size_t)SIZE * SIZE * 3);
    for (size_t i = 0; i < (size_t)SIZE * SIZE * 3; i++)
        rgb[i] = (unsigned char)(i * 2654435761u >> 24);
    int side;
    double *ref = reference(rgb, &side);
    CHECK(side == 13, "reference grid %d", side);
    /* edge windows of the padded pools were negative somewhere: the test can tell a zero pad */
    float *x = malloc((size_t)3 * SIZE * SIZE * sizeof *x);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < SIZE * SIZE; i++)
            x[(size_t)c * SIZE * SIZE + i] = (rgb[(size_t)i * 3 + c] / 255.0f - 0.5f) / 0.5f;
    const char *backends[] = {"ref", "cpu"};
    for (int bi = 0; bi < 2; bi++) {
        fer_backend *b;
        fer_model *m;
        fer_checkpoint_meta meta;
        fer_checkpoint_meta_init(&meta);
        OK(fer_backend_new(backends[bi], 1, &b));
        OK(fer_checkpoint_load(fer, b, 1, &m, &meta));
        size_t n = fer_model_feature_size(m);
        CHECK(n == (size_t)13 * 13 * OUT, "%zu outputs", n);
        float *out = malloc(n * sizeof *out);
        OK(fer_model_forward(m, x, 1, FER_MODE_EVAL, NULL, 0, NULL));
        OK(fer_model_get_features(m, out, n));
        int bad = 0;
        double worst = 0.0;
        for (int t = 0; t < 13 * 13 * OUT && (size_t)t < n; t++) {
            double r = ref[t], got = out[(t % OUT) * 169 + t / OUT];
            double ratio = fabs(got - r) / (TOL_ABS + TOL_REL * fabs(r));
            worst = fmax(worst, ratio);
            bad += !(ratio <= 1.0);
        }
        CHECK(bad == 0, "%s: %d of %d outputs outside %g + %g|ref| (worst %.3g)", backends[bi],
              bad, 13 * 13 * OUT, TOL_ABS, TOL_REL, worst);
        printf("tiny manifest %-3s: 4225 outputs, worst error/tolerance %.3f\n", backends[bi],
               worst);
        CHECK(meta.config_json && strstr(meta.config_json, "\"decoder\":\"tiny_yolo\""),
              "header config names the decoder");
        free(out);
        fer_model_free(m);
        fer_backend_free(b);
        fer_checkpoint_meta_clear(&meta);
    }
    /* the face detector reads the header's YOLO layout and decodes without keypoints */
    fer_face_detector *det;
    OK(fer_face_detector_new(fer, "cpu", 1, &det));
    CHECK(fer_face_detector_input_size(det) == SIZE, "input %d", fer_face_detector_input_size(det));
    float sug_score = 0, sug_iou = 0; /* face-api's thresholds, written by the converter */
    fer_face_detector_suggested_thresholds(det, &sug_score, &sug_iou);
    CHECK(sug_score == 0.5f && sug_iou == 0.4f, "suggested thresholds %g / %g", sug_score,
          sug_iou);
    fer_face faces[8];
    int n_faces = -1;
    OK(fer_face_detector_detect(det, rgb, SIZE, SIZE, 3 * SIZE, 0.0f, 1.0f, 0, faces, 8,
                                &n_faces));
    CHECK(n_faces == 8 && faces[0].n_keypoints == 0, "%d faces at score 0", n_faces);
    fer_face_detector_free(det);
    free(x);
    free(ref);
    free(rgb);
}

static void refused(const char *what, const char *quant, const char *skip, const char *reshape,
                    size_t cut, const char *needle)
{
    write_manifest(quant, skip, reshape, cut);
    char fer[512], msg[1024];
    snprintf(fer, sizeof fer, "%s/h.fer", dir);
    int rc = convert(fer, msg, sizeof msg), lines = 0;
    for (char *p = msg; *p; p++)
        lines += *p == '\n';
    CHECK(rc == 1, "%s: exit status %d (expected 1)", what, rc);
    CHECK(lines == 1 && strstr(msg, dir) && strstr(msg, needle),
          "%s: message '%s' lacks the file or '%s'", what, msg, needle);
    CHECK(access(fer, F_OK) != 0, "%s: an output was written", what);
}

static void hostile(void)
{
    refused("missing weight", "uint8", "conv3/pointwise_filter", NULL, 0,
            "conv3/pointwise_filter");
    refused("wrong shape", "uint8", NULL, "conv8/bias", 0, "conv8/bias");
    refused("unknown quantization", "uint4", NULL, NULL, 0, "quantized");
    refused("short shard", "uint8", NULL, NULL, 1, "end inside");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_convert_tiny PATH/TO/fer-convert-tfjs\n");
        return 2;
    }
    tool = argv[1];
    snprintf(dir, sizeof dir, "/tmp/fer_test_convert_tiny_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    valid();
    hostile();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fer_check_summary("test_convert_tiny");
}
