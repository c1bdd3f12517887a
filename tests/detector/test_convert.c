/* fer-convert-tfjs on hand-made TF.js graph models:
 *   a small valid graph with every op the converter reads (_FusedConv2D stride 2 "SAME" on an
 *   even and an odd side, so pad2d comes in; DepthwiseConv2dNative with multiplier 2; Pad of
 *   rows, columns and channels; MaxPool; Conv2D; AddV2; Relu; Identity and Reshape outputs) is
 *   converted, run on ref and cpu, and compared with TensorFlow's semantics computed here
 *   directly in NHWC (within 1e-5);
 *   hostile model.json files and weight shards are refused with exit 1 and one line naming the
 *   file, never a crash (also non-finite or out-of-range numbers and weight values, and text
 *   after the JSON object).
 *   Usage: test_convert PATH/TO/fer-convert-tfjs */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fer/checkpoint.h"
#include "fer/model.h"
#define FER_CHECK_CONTINUE
#include "../common/fer_check.h"

static const char *tool;
static char dir[256];

/* ---- the valid graph -------------------------------------------------------------------- */

enum { H = 5, W = 6, C = 2 };
/* weights in manifest order: w1 [3,3,2,4], b1 [4], dw [3,3,4,2], pads int32 [4,2], w2 [1,1,10,10],
 * shape int32 [3] */
#define N_W1 (3 * 3 * 2 * 4)
#define N_B1 4
#define N_DW (3 * 3 * 4 * 2)
#define N_W2 (10 * 10)
static float w1[N_W1], b1[N_B1], dw[N_DW], w2[N_W2];
static int32_t pads[8] = {0, 0, 1, 0, 0, 1, 0, 2}; /* hostile cases change them for a while */
static int32_t shape[3] = {1, 8, 5};

static const char *valid_json =
    "{\"format\":\"graph-model\",\"generatedBy\":\"test\",\"convertedBy\":\"test\","
    "\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":"
    "[{\"size\":\"1\"},{\"size\":\"5\"},{\"size\":\"6\"},{\"size\":\"2\"}]}}}},"
    "{\"name\":\"w1\",\"op\":\"Const\"},{\"name\":\"b1\",\"op\":\"Const\"},"
    "{\"name\":\"dw\",\"op\":\"Const\"},{\"name\":\"pads\",\"op\":\"Const\"},"
    "{\"name\":\"w2\",\"op\":\"Const\"},{\"name\":\"shape\",\"op\":\"Const\"},"
    "{\"name\":\"m/c1/Relu\",\"op\":\"_FusedConv2D\",\"input\":[\"x\",\"w1\",\"b1\"],\"attr\":{"
    "\"strides\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}},\"padding\":{\"s\":\"U0FNRQ==\"},"
    "\"data_format\":{\"s\":\"TkhXQw==\"},\"dilations\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}},"
    "\"fused_ops\":{\"list\":{\"s\":[\"Qmlhc0FkZA==\",\"UmVsdQ==\"]}}}},"
    "{\"name\":\"m/d1/depthwise\",\"op\":\"DepthwiseConv2dNative\",\"input\":[\"m/c1/Relu\",\"dw\"],"
    "\"attr\":{\"strides\":{\"list\":{\"i\":[\"1\",\"1\",\"1\",\"1\"]}},\"padding\":{\"s\":\"U0FNRQ==\"}}},"
    "{\"name\":\"m/p1/Pad\",\"op\":\"Pad\",\"input\":[\"m/d1/depthwise\",\"pads\"]},"
    "{\"name\":\"m/mp/MaxPool\",\"op\":\"MaxPool\",\"input\":[\"m/p1/Pad\"],\"attr\":{"
    "\"ksize\":{\"list\":{\"i\":[\"1\",\"2\",\"2\",\"1\"]}},\"strides\":{\"list\":{\"i\":[\"1\",\"2\","
    "\"2\",\"1\"]}},\"padding\":{\"s\":\"VkFMSUQ=\"}}},"
    "{\"name\":\"m/c2/Conv2D\",\"op\":\"Conv2D\",\"input\":[\"m/mp/MaxPool\",\"w2\"],\"attr\":{"
    "\"padding\":{\"s\":\"VkFMSUQ=\"}}},"
    "{\"name\":\"m/add/add\",\"op\":\"AddV2\",\"input\":[\"m/mp/MaxPool\",\"m/c2/Conv2D:0\"]},"
    "{\"name\":\"m/r/Relu\",\"op\":\"Relu\",\"input\":[\"m/add/add\"]},"
    "{\"name\":\"m/out/Reshape\",\"op\":\"Reshape\",\"input\":[\"m/r/Relu\",\"shape\"]},"
    "{\"name\":\"Identity\",\"op\":\"Identity\",\"input\":[\"m/out/Reshape\"]},"
    "{\"name\":\"Identity_1\",\"op\":\"Identity\",\"input\":[\"m/d1/depthwise\"]}]},"
    "\"userDefinedMetadata\":{\"signature\":{\"outputs\":{\"Identity_1:0\":{},\"Identity:0\":{}}}},"
    "\"weightsManifest\":[{\"paths\":[\"g.bin\"],\"weights\":["
    "{\"name\":\"w1\",\"shape\":[3,3,2,4],\"dtype\":\"float32\"},"
    "{\"name\":\"b1\",\"shape\":[4],\"dtype\":\"float32\"},"
    "{\"name\":\"dw\",\"shape\":[3,3,4,2],\"dtype\":\"float32\"},"
    "{\"name\":\"pads\",\"shape\":[4,2],\"dtype\":\"int32\"},"
    "{\"name\":\"w2\",\"shape\":[1,1,10,10],\"dtype\":\"float32\"},"
    "{\"name\":\"shape\",\"shape\":[3],\"dtype\":\"int32\"}]}]}";

static void fill(float *v, int n, int seed)
{
    for (int i = 0; i < n; i++)
        v[i] = (float)sin(seed * 12.9898 + i * 78.233) * 0.5f;
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

static void write_shard(const char *name, size_t cut)
{
    size_t n = 4 * (N_W1 + N_B1 + N_DW + 8 + N_W2 + 3);
    unsigned char *buf = malloc(n), *p = buf;
#define PUT(arr, cnt)                                                                          \
    memcpy(p, arr, 4 * (size_t)(cnt));                                                         \
    p += 4 * (size_t)(cnt)
    PUT(w1, N_W1);
    PUT(b1, N_B1);
    PUT(dw, N_DW);
    PUT(pads, 8);
    PUT(w2, N_W2);
    PUT(shape, 3);
#undef PUT
    write_file(name, buf, n - cut);
    free(buf);
}

/* TF semantics in NHWC: conv (depthwise when mult > 0) with "SAME" or "VALID" padding. */
static void tf_conv(const float *x, int h, int w, int c, const float *f, int k, int out_c,
                    int mult, int stride, int same, const float *bias, int relu, float *y,
                    int *oh, int *ow)
{
    int ph = 0, pw = 0;
    if (same) {
        *oh = (h + stride - 1) / stride, *ow = (w + stride - 1) / stride;
        int th = (*oh - 1) * stride + k - h, tw = (*ow - 1) * stride + k - w;
        ph = (th > 0 ? th : 0) / 2, pw = (tw > 0 ? tw : 0) / 2;
    } else {
        *oh = (h - k) / stride + 1, *ow = (w - k) / stride + 1;
    }
    for (int oy = 0; oy < *oh; oy++)
        for (int ox = 0; ox < *ow; ox++)
            for (int o = 0; o < out_c; o++) {
                double s = bias ? bias[o] : 0.0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int iy = oy * stride + ky - ph, ix = ox * stride + kx - pw;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;
                        if (mult) {
                            int ci = o / mult, m = o % mult;
                            s += x[(iy * w + ix) * c + ci] * f[((ky * k + kx) * c + ci) * mult + m];
                        } else {
                            for (int ci = 0; ci < c; ci++)
                                s += x[(iy * w + ix) * c + ci] * f[((ky * k + kx) * c + ci) * out_c + o];
                        }
                    }
                y[(oy * *ow + ox) * out_c + o] = relu && s < 0 ? 0.0f : (float)s;
            }
}

static void valid_graph(void)
{
    fill(w1, N_W1, 1), fill(b1, N_B1, 2), fill(dw, N_DW, 3), fill(w2, N_W2, 4);
    write_file("g.json", valid_json, strlen(valid_json));
    write_shard("g.bin", 0);
    char json[512], fer[512], cmd[2048];
    snprintf(json, sizeof json, "%s/g.json", dir);
    snprintf(fer, sizeof fer, "%s/g.fer", dir);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' >/dev/null", tool, json, fer);
    CHECK(system(cmd) == 0, "converting the valid graph");

    /* expected outputs, TF order */
    float x[H * W * C], a[3 * 3 * 4], d[3 * 3 * 8], p[4 * 4 * 10], mp[2 * 2 * 10], c2[40], r[40];
    fill(x, H * W * C, 5);
    int oh, ow, h2, w2o;
    tf_conv(x, H, W, C, w1, 3, 4, 0, 2, 1, b1, 1, a, &oh, &ow);
    CHECK(oh == 3 && ow == 3, "stride-2 SAME 5x6 -> 3x3");
    tf_conv(a, 3, 3, 4, dw, 3, 8, 2, 1, 1, NULL, 0, d, &h2, &w2o);
    memset(p, 0, sizeof p); /* Pad: rows [1, 0], columns [0, 1], channels [0, 2] -> 4x4x10 */
    for (int y = 0; y < 3; y++)
        for (int xx = 0; xx < 3; xx++)
            for (int ch = 0; ch < 8; ch++)
                p[((y + 1) * 4 + xx) * 10 + ch] = d[(y * 3 + xx) * 8 + ch];
    for (int y = 0; y < 2; y++)
        for (int xx = 0; xx < 2; xx++)
            for (int ch = 0; ch < 10; ch++) {
                float m = -INFINITY;
                for (int ky = 0; ky < 2; ky++)
                    for (int kx = 0; kx < 2; kx++)
                        m = fmaxf(m, p[((2 * y + ky) * 4 + 2 * xx + kx) * 10 + ch]);
                mp[(y * 2 + xx) * 10 + ch] = m;
            }
    tf_conv(mp, 2, 2, 10, w2, 1, 10, 0, 1, 0, NULL, 0, c2, &oh, &ow);
    for (int i = 0; i < 40; i++)
        r[i] = fmaxf(mp[i] + c2[i], 0.0f);

    const char *backends[] = {"ref", "cpu"};
    for (int bi = 0; bi < 2; bi++) {
        fer_backend *b;
        fer_model *m;
        fer_checkpoint_meta meta;
        fer_checkpoint_meta_init(&meta);
        OK(fer_backend_new(backends[bi], 1, &b));
        OK(fer_checkpoint_load(fer, b, 1, &m, &meta));
        float xin[C * H * W]; /* NCHW */
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++)
                for (int ch = 0; ch < C; ch++)
                    xin[(ch * H + y) * W + xx] = x[(y * W + xx) * C + ch];
        OK(fer_model_forward(m, xin, 1, FER_MODE_EVAL, NULL, 0, NULL));
        size_t n = fer_model_feature_size(m);
        CHECK(n == 40 + 72, "output size %zu", n);
        float out[112];
        OK(fer_model_get_features(m, out, n));
        /* config.outputs: Identity (8x5 of 2x2x10) at 0, Identity_1 (72x1 of 3x3x8) at 40 */
        cJSON *cfg = cJSON_Parse(meta.config_json);
        const cJSON *o = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "outputs"), 1);
        CHECK(o && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "name")), "Identity_1") == 0 &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(o, "offset")) == 40 &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(o, "rows")) == 72,
              "output layout in the header");
        cJSON_Delete(cfg);
        double worst = 0.0;
        for (int t = 0; t < 40; t++) /* TF row-major (row, col) = NHWC element t */
            worst = fmax(worst, fabs(out[(t % 10) * 4 + t / 10] - r[t]));
        for (int t = 0; t < 72; t++)
            worst = fmax(worst, fabs(out[40 + (t % 8) * 9 + t / 8] - d[t]));
        CHECK(worst <= 1e-5, "%s: converted graph differs from TF semantics by %g", backends[bi],
              worst);
        printf("valid graph on %s: worst difference %.2e\n", backends[bi], worst);
        fer_model_free(m);
        fer_checkpoint_meta_clear(&meta);
        fer_backend_free(b);
    }
}

/* ---- hostile files ------------------------------------------------------------------------ */

/* json with `from` replaced by `to` (NULL: json as given) must be refused naming the file. */
static void expect_refused(const char *what, const char *from, const char *to, size_t cut,
                           const char *needle)
{
    char *json = strdup(valid_json);
    if (from) {
        const char *at = strstr(valid_json, from);
        if (!at) {
            CHECK(0, "%s: test text '%s' not in the valid graph", what, from);
            free(json);
            return;
        }
        size_t pre = (size_t)(at - valid_json);
        size_t len = strlen(valid_json) - strlen(from) + strlen(to) + 1;
        free(json);
        json = malloc(len);
        snprintf(json, len, "%.*s%s%s", (int)pre, valid_json, to, at + strlen(from));
    }
    write_file("h.json", json, strlen(json));
    write_shard("g.bin", cut);
    char cmd[2048], log[512];
    snprintf(log, sizeof log, "%s/h.log", dir);
    snprintf(cmd, sizeof cmd, "'%s' '%s/h.json' '%s/h.fer' >/dev/null 2>'%s'", tool, dir, dir, log);
    int rc = system(cmd);
    FILE *f = fopen(log, "r");
    char msg[1024] = "";
    size_t got = f ? fread(msg, 1, sizeof msg - 1, f) : 0;
    msg[got] = '\0';
    if (f)
        fclose(f);
    int lines = 0;
    for (char *p = msg; *p; p++)
        lines += *p == '\n';
    CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "%s: exit status %d (expected 1)", what, rc);
    CHECK(lines == 1 && strstr(msg, dir) && strstr(msg, needle), /* names a file of ours */
          "%s: message '%s' lacks the file or '%s'", what, msg, needle);
    char fer[512];
    snprintf(fer, sizeof fer, "%s/h.fer", dir);
    CHECK(access(fer, F_OK) != 0, "%s: an output was written", what);
    free(json);
}

static void hostile(void)
{
    expect_refused("not JSON", "{\"format\"", "[{\"format\"", 0, "not a JSON object");
    expect_refused("layers model", "\"graph-model\"", "\"layers-model\"", 0, "graph-model");
    expect_refused("no manifest", "\"weightsManifest\"", "\"weightsManifesto\"", 0,
                   "weightsManifest");
    expect_refused("shard outside", "\"g.bin\"", "\"../g.bin\"", 0, "leaves the model's folder");
    expect_refused("shard absent", "\"g.bin\"", "\"nope.bin\"", 0, "nope.bin");
    expect_refused("shard short", NULL, NULL, 4, "end inside weight");
    expect_refused("shard long", "{\"name\":\"shape\",\"shape\":[3]", "{\"name\":\"shape\",\"shape\":[2]",
                   0, "the manifest describes");
    expect_refused("huge shape", "\"shape\":[3,3,2,4]", "\"shape\":[1048576,1048576,2,4]", 0,
                   "too large");
    expect_refused("negative dim", "\"shape\":[4],", "\"shape\":[-4],", 0, "dimension");
    expect_refused("float16", "\"shape\":[4],\"dtype\":\"float32\"",
                   "\"shape\":[4],\"dtype\":\"float16\"", 0, "float16");
    expect_refused("quantized", "\"shape\":[4],\"dtype\":\"float32\"",
                   "\"shape\":[4],\"dtype\":\"float32\",\"quantization\":{}", 0, "quantized");
    expect_refused("unknown op", "\"op\":\"Relu\"", "\"op\":\"Sigmoid\"", 0, "op Sigmoid");
    expect_refused("unknown input", "[\"m/add/add\"]", "[\"m/nothing\"]", 0, "unknown node");
    expect_refused("cycle", "\"input\":[\"m/c1/Relu\",\"dw\"]", "\"input\":[\"m/r/Relu\",\"dw\"]",
                   0, "cycle");
    expect_refused("second output slot", "\"m/c2/Conv2D:0\"", "\"m/c2/Conv2D:1\"", 0, ":1");
    expect_refused("no input shape", "[{\"size\":\"1\"},{\"size\":\"5\"},{\"size\":\"6\"},{\"size\":\"2\"}]",
                   "[{\"size\":\"1\"},{\"size\":\"-1\"},{\"size\":\"6\"},{\"size\":\"2\"}]", 0,
                   "[1,H,W,C]");
    pads[6] = 1; /* channels before */
    expect_refused("channels padded before", NULL, NULL, 0, "channels before");
    pads[6] = 0;
    pads[2] = 65; /* more rows than pad2d takes */
    expect_refused("65 rows of padding", NULL, NULL, 0, "rows or columns");
    pads[2] = 1;
    expect_refused("bad strides", "[\"1\",\"2\",\"2\",\"1\"]}},\"padding\":{\"s\":\"U0FNRQ==\"},",
                   "[\"1\",\"2\",\"3\",\"1\"]}},\"padding\":{\"s\":\"U0FNRQ==\"},", 0,
                   "strides");
    expect_refused("explicit padding", "\"padding\":{\"s\":\"VkFMSUQ=\"}}},{\"name\":\"m/add",
                   "\"padding\":{\"s\":\"RVhQTElDSVQ=\"}}},{\"name\":\"m/add", 0, "EXPLICIT");
    expect_refused("bad base64", "\"padding\":{\"s\":\"VkFMSUQ=\"}}},{\"name\":\"m/add",
                   "\"padding\":{\"s\":\"V*FMSUQ=\"}}},{\"name\":\"m/add", 0, "base64");
    expect_refused("fused sigmoid", "\"UmVsdQ==\"", "\"U2lnbW9pZA==\"", 0, "fused ops");
    expect_refused("filter shape", "{\"name\":\"w1\",\"shape\":[3,3,2,4]",
                   "{\"name\":\"w1\",\"shape\":[3,3,1,8]", 0, "filter");
    expect_refused("no signature", "\"signature\"", "\"signatur\"", 0, "signature");
    shape[2] = 6;
    expect_refused("reshape mismatch", NULL, NULL, 0, "does not hold");
    shape[2] = 5;
    shape[0] = 2;
    expect_refused("reshape of the batch", NULL, NULL, 0, "Reshape");
    shape[0] = 1;
    /* numbers, values and bytes that reached undefined behaviour or an unloadable .fer (the
     * tfjs fuzz target, issue 22) */
    expect_refused("strides of 1e300", "\"i\":[\"1\",\"2\",\"2\",\"1\"]",
                   "\"i\":[1,1e300,1e300,1]", 0, "strides holds a value outside");
    expect_refused("input size 1e300", "{\"size\":\"5\"}", "{\"size\":1e300}", 0,
                   "sizes up to");
    expect_refused("text after the object", "\"dtype\":\"int32\"}]}]}",
                   "\"dtype\":\"int32\"}]}]} {}", 0, "not a JSON object");
    expect_refused("quantization scale 1e300", "\"shape\":[4],\"dtype\":\"float32\"",
                   "\"shape\":[4],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"uint8\","
                   "\"min\":0,\"scale\":1e300}", 0, "scale 1e+300");
    expect_refused("newline in a dtype", "\"shape\":[4],\"dtype\":\"float32\"",
                   "\"shape\":[4],\"dtype\":\"float\\n16\"", 0, "dtype float?16");
    float kept = w1[5];
    w1[5] = NAN;
    expect_refused("NaN filter value", NULL, NULL, 0, "'w1' holds nan at index 5");
    w1[5] = 2e6f; /* fer_checkpoint_load refuses parameters beyond 1e6 */
    expect_refused("filter value 2e6", NULL, NULL, 0, "'w1' holds 2e+06");
    w1[5] = kept;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_convert PATH/TO/fer-convert-tfjs\n");
        return 2;
    }
    tool = argv[1];
    snprintf(dir, sizeof dir, "/tmp/fer_test_convert_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    valid_graph();
    hostile();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return fer_check_summary("test_convert");
}
