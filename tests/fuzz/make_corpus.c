/* Writes the binary and library-made seed files of the fuzz corpora, and the issue-18
 * reproducers that need a valid CRC, into OUT_DIR/<target>/NAME:
 *
 *   make_corpus OUT_DIR
 *
 * Checkpoints start from a tiny model saved by fer_checkpoint_save (the library's own writer);
 * a reproducer edits the saved header JSON (or a payload float) and the file is framed again by
 * tests/common/ckpt_craft.h (lengths, offset, CRC), so every variant has a valid checksum and reaches the code under test. PNG seeds are
 * written with libpng, metrics.json with fer_metrics_write_json. Text seeds (architecture JSON,
 * configs, CSV, cascades, history lines) are committed as written by hand.
 *
 * The committed files under corpus/ and pending/ came from this program; README.md says how to
 * regenerate them and where each one belongs. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fer/checkpoint.h"
#include "fer/metrics.h"
#include "fer/optim.h"
#include "../common/ckpt_craft.h"


static const char *out_dir;

static void die(const char *what)
{
    fprintf(stderr, "make_corpus: %s%s%s\n", what, fer_last_error()[0] ? ": " : "",
            fer_last_error());
    exit(1);
}

static char *out_path(const char *target, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    return path;
}

static void write_bytes(const char *target, const char *name, const void *data, size_t len)
{
    const char *path = out_path(target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    printf("%s (%zu bytes)\n", path, len);
}

/* ---- checkpoints ------------------------------------------------------------------------- */

/* The tiny 48x48 network of the checkpoint seeds: every layer kind, 200-odd parameters. */
static const char *const TINY_ARCH =
    "{\"name\":\"fuzz_tiny\",\"input\":[1,48,48],\"classes\":7,\"layers\":["
    "{\"type\":\"conv2d\",\"out\":2,\"k\":3,\"stride\":4,\"pad\":1,\"bias\":false},"
    "{\"type\":\"batchnorm2d\"},{\"type\":\"relu\"},{\"type\":\"maxpool2d\",\"k\":4,\"stride\":4},"
    "{\"type\":\"flatten\"},{\"type\":\"linear\",\"out\":4},{\"type\":\"relu\"},"
    "{\"type\":\"dropout\",\"p\":0.3},{\"type\":\"linear\",\"out\":3}],"
    "\"head\":{\"type\":\"softmax\"}}";

/* A tiny 48x48 graph: a residual add, a channel_pad, a squeeze-excitation mul gate, a concat and
 * prelu, under 200 parameters (no batchnorm1d: the training step below has a batch of 1). */
static const char *const GRAPH_ARCH =
    "{\"name\":\"fuzz_graph\",\"input\":[1,48,48],\"classes\":7,\"layers\":["
    "{\"name\":\"stem\",\"type\":\"conv2d\",\"out\":2,\"k\":3,\"stride\":4,\"pad\":1},"
    "{\"type\":\"batchnorm2d\"},{\"name\":\"act\",\"type\":\"prelu\"},"
    "{\"name\":\"b1\",\"type\":\"conv2d\",\"out\":2,\"k\":3,\"pad\":1,\"bias\":false},"
    "{\"name\":\"sum\",\"type\":\"add\",\"inputs\":[\"b1\",\"act\"]},"
    "{\"name\":\"wide\",\"type\":\"channel_pad\",\"out\":3},"
    "{\"type\":\"global_avgpool\"},{\"type\":\"conv2d\",\"out\":3,\"k\":1},"
    "{\"name\":\"gate\",\"type\":\"sigmoid\"},"
    "{\"name\":\"gated\",\"type\":\"mul\",\"inputs\":[\"wide\",\"gate\"]},"
    "{\"type\":\"concat\",\"inputs\":[\"gated\",\"wide\"]},"
    "{\"type\":\"maxpool2d\",\"k\":4,\"stride\":4},{\"type\":\"flatten\"},"
    "{\"type\":\"linear\",\"out\":4},{\"type\":\"prelu\"},"
    "{\"type\":\"dropout\",\"p\":0.3},{\"type\":\"linear\",\"out\":3}],"
    "\"head\":{\"type\":\"softmax\"}}";

typedef struct saved {
    unsigned char *data; /* the file as the library wrote it */
    size_t size;
    craft_ckpt c;        /* its header JSON and payload, to edit and frame again */
} saved;

/* Saves a tiny model of architecture arch_json (Adam state, config, trainer state; with_ema: a
 * weight EMA block of half the weights and the buffers) with the library and reads it back. */
static void save_tiny(saved *s, const char *arch_json, int with_optimizer, int with_ema)
{
    fer_arch arch;
    if (fer_arch_from_json(arch_json, "tiny", &arch) != FER_OK)
        die("tiny architecture");
    fer_backend *b;
    fer_model *m;
    if (fer_backend_new("ref", 1, &b) != FER_OK || fer_model_new(&arch, b, 1, &m) != FER_OK ||
        fer_model_init_pytorch(m, 40) != FER_OK)
        die("tiny model");
    fer_optimizer *opt = NULL;
    if (with_optimizer) {
        fer_optim_config cfg;
        fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &cfg);
        if (fer_optimizer_new(m, &cfg, &opt) != FER_OK)
            die("optimizer");
        /* one real step, so the moments are not all zero */
        float x[48 * 48];
        for (int i = 0; i < 48 * 48; i++)
            x[i] = (float)(i % 11) / 11.0f - 0.5f;
        int32_t label = 3;
        fer_loss_config loss = {.kind = FER_LOSS_CE, .gamma = 2.0f};
        float value;
        if (fer_model_forward(m, x, 1, FER_MODE_TRAIN, &label, 1, NULL) != FER_OK ||
            fer_model_loss(m, &loss, &label, &value) != FER_OK ||
            fer_model_backward(m) != FER_OK || fer_optimizer_step(opt, 1e-3f) != FER_OK)
            die("training step");
    }
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.epoch = 1;
    meta.best_metric = 0.25f;
    meta.has_prior = 1;
    for (int i = 0; i < 7; i++)
        meta.class_prior[i] = 1.0f / 7;
    meta.config_json = strdup("{\"exp\":\"fuzz_tiny\",\"epochs\":2,\"batch_size\":1,\"lr\":0.001}");
    meta.state_json = strdup(
        "{\"epoch\":1,\"batch\":0,\"epoch_loss_sum\":0,\"epoch_correct\":0,\"epoch_seen\":0,"
        "\"epoch_seconds\":0,\"best_metric\":0.25,\"best_epoch\":1,\"total_epochs\":2,"
        "\"optimizer_steps\":1,\"rng\":{\"seed\":40,\"scheme\":\"splitmix64 keyed by (seed, "
        "epoch, position)\"},\"schedule\":{\"kind\":1,\"plateau_lr\":0.001,\"plateau_best\":null,"
        "\"plateau_bad_epochs\":0}}");
    float *ema = NULL;
    if (with_ema) {
        size_t n_params = 0, n_buffers = 0;
        const float *params = fer_model_param_arena(m, &n_params); /* ref: host memory */
        const float *buffers = fer_model_buffer_arena(m, &n_buffers);
        if (!(ema = malloc((n_params + n_buffers + 1) * sizeof(float))))
            die("ema");
        for (size_t i = 0; i < n_params; i++)
            ema[i] = 0.5f * params[i];
        memcpy(ema + n_params, buffers, n_buffers * sizeof(float));
        meta.ema_host = ema;
        meta.ema_floats = n_params + n_buffers;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/.tiny.fer", out_dir);
    if (fer_checkpoint_save(tmp, m, &meta, opt) != FER_OK)
        die("fer_checkpoint_save");
    free(ema);
    fer_checkpoint_meta_clear(&meta);
    fer_optimizer_free(opt);
    fer_model_free(m);
    fer_backend_free(b);

    FILE *f = fopen(tmp, "rb");
    if (!f)
        die("reopen the saved checkpoint");
    fseek(f, 0, SEEK_END);
    s->size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    s->data = malloc(s->size);
    if (!s->data || fread(s->data, 1, s->size, f) != s->size)
        die("read the saved checkpoint");
    fclose(f);
    if (craft_read(tmp, &s->c) != 0)
        die("parse the saved checkpoint");
    remove(tmp);
}

static void saved_free(saved *s)
{
    free(s->data);
    craft_free(&s->c);
}

/* Frames header + payload as a .fer with a valid CRC (tests/common/ckpt_craft.h).
 * payload_shift != 0 moves the payload offset off the 64-byte grid. */
static void write_fer(const char *target, const char *name, const cJSON *hdr,
                      const unsigned char *payload, size_t payload_len, size_t payload_shift)
{
    char *json = cJSON_PrintUnformatted(hdr);
    if (!json)
        die("print header");
    const char *path = out_path(target, name);
    if (craft_write_json(path, json, payload, payload_len, payload_shift) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    printf("%s\n", path);
    free(json);
}

/* A copy of the saved header with one edit applied by the caller. */
static cJSON *header_copy(const saved *s)
{
    cJSON *h = cJSON_Duplicate(s->c.hdr, 1);
    if (!h)
        die("duplicate header");
    return h;
}

static void set_number(cJSON *obj, const char *key, double v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, cJSON_CreateNumber(v));
}

/* Replaces a number by raw text (numbers cJSON would print differently: 1e300, -1, 1e999). */
static void set_raw(cJSON *obj, const char *key, const char *raw)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, cJSON_CreateRaw(raw));
}

static cJSON *tensor(cJSON *hdr, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(hdr, "tensors"), i);
}

/* The header with "arch" replaced by the architecture text (tensors left as saved). */
static void write_with_arch(const saved *s, const char *target, const char *name,
                            const char *arch_json)
{
    cJSON *h = header_copy(s);
    cJSON *a = cJSON_Parse(arch_json);
    if (!a)
        die("reproducer architecture");
    cJSON_ReplaceItemInObjectCaseSensitive(h, "arch", a);
    write_fer(target, name, h, s->c.payload, s->c.payload_bytes, 0);
    cJSON_Delete(h);
}

/* Issue 21: s with post-hoc logit offsets (fer-eval --write_adjusted) appended as a payload
 * block and the head_tau_norm note; bad: 0 valid, 1 a NaN offset, 2 a block of 5 floats for
 * 7 classes (both refused at load). */
static void write_with_offsets(const saved *s, const char *name, int bad)
{
    cJSON *h = header_copy(s);
    size_t at = (s->c.payload_bytes + 63) / 64 * 64, len = at + 64;
    unsigned char *p = calloc(1, len);
    if (!p)
        die("offsets payload");
    memcpy(p, s->c.payload, s->c.payload_bytes);
    for (int k = 0; k < 7; k++) {
        float v = bad == 1 && k == 2 ? NAN : 0.25f * (float)(k - 3);
        uint32_t bits;
        memcpy(&bits, &v, 4);
        craft_put_le_(p + at + 4 * k, bits, 4);
    }
    cJSON *jl = cJSON_AddObjectToObject(h, "logit_offsets");
    cJSON *blk = jl ? cJSON_AddObjectToObject(jl, "block") : NULL;
    if (!blk)
        die("offsets header");
    cJSON_AddNumberToObject(jl, "tau", 1.0);
    cJSON_AddNumberToObject(blk, "offset", (double)at);
    cJSON_AddNumberToObject(blk, "numel", bad == 2 ? 5 : 7);
    cJSON_AddNumberToObject(h, "head_tau_norm", 0.5);
    write_fer("checkpoint", name, h, p, len, 0);
    cJSON_Delete(h);
    free(p);
}

/* Issue 18 architectures (the same text is in corpus or pending arch/ as .json). */
static const char *const ARCH_HUGE_K = /* item 1: parameter count wraps size_t */
    "{\"name\":\"huge_k\",\"input\":[1,48,48],\"classes\":7,\"layers\":["
    "{\"type\":\"conv2d\",\"out\":16,\"k\":536870912,\"stride\":1000000000,\"pad\":268435456},"
    "{\"type\":\"flatten\"}],\"head\":{\"type\":\"softmax\"}}";
static const char *const ARCH_PAD_POOL = /* item 2: activation size wraps */
    "{\"name\":\"pad_pool\",\"input\":[1,48,48],\"classes\":7,\"layers\":["
    "{\"type\":\"conv2d\",\"out\":16,\"k\":49,\"stride\":1,\"pad\":536870912},"
    "{\"type\":\"maxpool2d\",\"k\":1000000000,\"stride\":1000000000},"
    "{\"type\":\"flatten\"}],\"head\":{\"type\":\"softmax\"}}";
static const char *const ARCH_BIG_LINEAR = /* item 3: 4608 -> 60000 declared, tiny payload */
    "{\"name\":\"big_linear\",\"input\":[1,48,48],\"classes\":7,\"layers\":["
    "{\"type\":\"conv2d\",\"out\":8,\"k\":3,\"stride\":1,\"pad\":1,\"bias\":false},"
    "{\"type\":\"maxpool2d\",\"k\":2,\"stride\":2},{\"type\":\"flatten\"},"
    "{\"type\":\"linear\",\"out\":60000}],\"head\":{\"type\":\"softmax\"}}";
static const char *const ARCH_CLASSES_HUGE = /* item 7 */
    "{\"name\":\"classes\",\"input\":[1,48,48],\"classes\":1e300,\"layers\":["
    "{\"type\":\"flatten\"}]}";
static const char *const ARCH_FLATTEN_4096 = /* item 7: flatten of [4096,4096,1] */
    "{\"name\":\"flat4096\",\"input\":[4096,4096,1],\"classes\":7,\"layers\":["
    "{\"type\":\"flatten\"},{\"type\":\"linear\",\"out\":4}]}";

static const char *const ARCH_GRAPH_CYCLE = /* two nodes reading each other */
    "{\"name\":\"cycle\",\"input\":[1,48,48],\"classes\":7,\"layers\":["
    "{\"name\":\"a\",\"type\":\"conv2d\",\"out\":2,\"k\":3,\"inputs\":[\"b\"]},"
    "{\"name\":\"b\",\"type\":\"relu\",\"inputs\":[\"a\"]},{\"type\":\"flatten\"}]}";

static void checkpoints(void)
{
    saved s;
    save_tiny(&s, TINY_ARCH, 1, 0);
    write_bytes("checkpoint", "tiny_adam.fer", s.data, s.size);
    saved w;
    save_tiny(&w, TINY_ARCH, 0, 0);
    write_bytes("checkpoint", "tiny_weights_only.fer", w.data, w.size);
    saved_free(&w);
    saved e; /* fer-train --ema */
    save_tiny(&e, TINY_ARCH, 1, 1);
    write_bytes("checkpoint", "tiny_adam_ema.fer", e.data, e.size);
    saved_free(&e);
    write_with_offsets(&s, "tiny_logit_offsets.fer", 0); /* fer-eval --write_adjusted */
    write_with_offsets(&s, "logit_offsets_nan.fer", 1);
    write_with_offsets(&s, "logit_offsets_numel_5.fer", 2);

    /* a graph in the header: as saved (framed again, byte for byte), and the tiny model's
     * tensors under a header whose graph has a cycle */
    saved g;
    save_tiny(&g, GRAPH_ARCH, 1, 0);
    cJSON *gh = header_copy(&g);
    write_fer("checkpoint", "graph_tiny_adam.fer", gh, g.c.payload, g.c.payload_bytes, 0);
    cJSON_Delete(gh);
    saved_free(&g);
    write_with_arch(&s, "checkpoint", "graph_cycle_in_header.fer", ARCH_GRAPH_CYCLE);

    /* items 1, 2, 3, 7: the architectures inside a checkpoint (fer-eval, ferclassify) */
    write_with_arch(&s, "checkpoint", "item1_huge_k.fer", ARCH_HUGE_K);
    write_with_arch(&s, "checkpoint", "item2_pad_pool.fer", ARCH_PAD_POOL);
    write_with_arch(&s, "checkpoint", "item3_big_linear_small_payload.fer", ARCH_BIG_LINEAR);
    write_with_arch(&s, "checkpoint", "item7_classes_1e300.fer", ARCH_CLASSES_HUGE);
    write_with_arch(&s, "checkpoint", "item7_flatten_4096.fer", ARCH_FLATTEN_4096);

    /* item 6: loaded silently wrong */
    cJSON *h = header_copy(&s);
    write_fer("checkpoint", "item6_unaligned_payload.fer", h, s.c.payload, s.c.payload_bytes, 4);
    cJSON_Delete(h);
    h = header_copy(&s);
    set_raw(cJSON_GetObjectItemCaseSensitive(h, "norm"), "std", "1e-300");
    write_fer("checkpoint", "item6_norm_std_1e-300.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    h = header_copy(&s);
    set_raw(cJSON_GetObjectItemCaseSensitive(h, "norm"), "mean", "1e300");
    write_fer("checkpoint", "item6_norm_mean_1e300.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    unsigned char *p = malloc(s.c.payload_bytes);
    if (!p)
        die("out of memory");
    const float special[2] = {NAN, 1e38f};
    const char *const special_name[2] = {"item6_nan_weight.fer", "item6_1e38_weight.fer"};
    for (int k = 0; k < 2; k++) {
        memcpy(p, s.c.payload, s.c.payload_bytes);
        /* first float of layers.0.weight (offset 0), little-endian like the format */
        uint32_t bits;
        memcpy(&bits, &special[k], 4);
        craft_put_le_(p, bits, 4);
        h = header_copy(&s);
        write_fer("checkpoint", special_name[k], h, p, s.c.payload_bytes, 0);
        cJSON_Delete(h);
    }
    free(p);

    /* item 7: absurd numbers in the header */
    h = header_copy(&s);
    set_raw(tensor(h, 0), "numel", "1e30");
    write_fer("checkpoint", "item7_numel_1e30.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    h = header_copy(&s);
    set_raw(tensor(h, 0), "numel", "1e999"); /* cJSON reads it as infinity */
    write_fer("checkpoint", "item7_numel_inf.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    h = header_copy(&s);
    cJSON *shape = cJSON_GetObjectItemCaseSensitive(tensor(h, 0), "shape");
    cJSON_ReplaceItemInArray(shape, 0, cJSON_CreateRaw("1e12"));
    write_fer("checkpoint", "item7_shape_1e12.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    h = header_copy(&s);
    set_raw(h, "epoch", "1e300");
    write_fer("checkpoint", "item7_epoch_1e300.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    h = header_copy(&s);
    set_number(h, "version", -1);
    write_fer("checkpoint", "item7_version_-1.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    h = header_copy(&s);
    set_raw(cJSON_GetObjectItemCaseSensitive(h, "optimizer"), "step", "1e300");
    write_fer("checkpoint", "item7_optimizer_step_1e300.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    /* item 7: trainer state from last.fer */
    static const struct {
        const char *key, *raw, *name;
    } state_edits[] = {
        {"epoch", "-5", "item7_state_epoch_-5.fer"},
        {"batch", "1e9", "item7_state_batch_1e9.fer"},
        {"batch", "-7", "item7_state_batch_-7.fer"},
        {"epoch_seen", "1e300", "item7_state_seen_1e300.fer"},
    };
    for (size_t i = 0; i < sizeof state_edits / sizeof state_edits[0]; i++) {
        h = header_copy(&s);
        set_raw(cJSON_GetObjectItemCaseSensitive(h, "state"), state_edits[i].key,
                state_edits[i].raw);
        write_fer("checkpoint", state_edits[i].name, h, s.c.payload, s.c.payload_bytes, 0);
        cJSON_Delete(h);
    }
    h = header_copy(&s);
    set_raw(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(h, "state"),
                                             "schedule"),
            "kind", "77");
    write_fer("checkpoint", "item7_state_schedule_kind_77.fer", h, s.c.payload, s.c.payload_bytes, 0);
    cJSON_Delete(h);
    saved_free(&s);
}

/* ---- PNG --------------------------------------------------------------------------------- */

static void write_png(const char *name, int w, int h, int color, int depth, int interlace)
{
    const char *path = out_path("png", name);
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!f || !info || setjmp(png_jmpbuf(png)))
        die("write png");
    png_init_io(png, f);
    png_set_compression_level(png, 9);
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {255, 255, 255}};
        png_set_PLTE(png, info, pal, 4);
    }
    png_write_info(png, info);
    int channels = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4
                   : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = ((size_t)w * channels * depth + 7) / 8;
    unsigned char *row = malloc(rowbytes);
    if (!row)
        die("out of memory");
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++)
                row[i] = (unsigned char)(i * 37 + (size_t)y * 11 + (color == 3 ? 0 : 5));
            if (color == PNG_COLOR_TYPE_PALETTE)
                for (size_t i = 0; i < rowbytes; i++)
                    row[i] &= depth == 8 ? 3 : 0x33 & (0xff >> (8 - depth));
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(row);
    printf("%s\n", path);
}

static void pngs(void)
{
    write_png("gray8_48x48.png", 48, 48, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE);
    write_png("gray1_9x5.png", 9, 5, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE);
    write_png("rgb8_6x4_interlaced.png", 6, 4, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7);
    write_png("rgba16_3x3.png", 3, 3, PNG_COLOR_TYPE_RGBA, 16, PNG_INTERLACE_NONE);
    write_png("palette2_5x7.png", 5, 7, PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE);
    write_png("gray_alpha8_1x1.png", 1, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE);
}

/* ---- metrics.json -------------------------------------------------------------------------- */

static void metrics(void)
{
    char names[FER_MAX_CLASSES][FER_NAME_LEN] = {"angry", "disgust", "fear",    "happy",
                                                "neutral", "sad",    "surprise"};
    fer_metrics m;
    fer_metrics_init(&m, 7, (const char(*)[FER_NAME_LEN])names);
    for (int i = 0; i < 40; i++) {
        float probs[7] = {0};
        int pred = (i * 3) % 7;
        probs[pred] = 0.3f + (float)(i % 7) / 10.0f;
        fer_metrics_add(&m, i % 7, pred, probs);
    }
    fer_metrics_finish(&m);
    const char *path = out_path("metrics", "metrics_fer_eval.json");
    if (fer_metrics_write_json(&m, "{\"checkpoint\":\"tiny.fer\",\"tta\":\"none\"}", path) !=
        FER_OK)
        die("fer_metrics_write_json");
    printf("%s\n", path);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    checkpoints();
    pngs();
    metrics();
    return 0;
}
