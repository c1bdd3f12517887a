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
#include <stdarg.h>
#include <stdint.h>
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

/* ---- TF.js graph models (fuzz_tfjs) -------------------------------------------------------- */

/* A fuzz_tfjs input: model.json, "\n--weights--\n", its one shard (w.bin). The models are made
 * here from the converter's documented op list (model/tools/fer_convert_tfjs.c), with weights
 * from a fixed formula, not from any published model. */
typedef struct tfjs {
    char nodes[16384], manifest[8192];
    unsigned char bin[16384];
    size_t bin_len;
} tfjs;

#define TF_SAME "{\"s\":\"U0FNRQ==\"}"
#define TF_VALID "{\"s\":\"VkFMSUQ=\"}"
#define TF_STRIDES(s) "{\"list\":{\"i\":[\"1\",\"" s "\",\"" s "\",\"1\"]}}"

static void tf_append(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tf_append(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - len) {
        fprintf(stderr, "make_corpus: a TF.js seed outgrew its buffer\n");
        exit(1);
    }
}

static void tf_begin(tfjs *m, int h, int w, int c)
{
    memset(m, 0, sizeof *m);
    tf_append(m->nodes, sizeof m->nodes,
              "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"shape\":{\"shape\":{\"dim\":["
              "{\"size\":\"-1\"},{\"size\":\"%d\"},{\"size\":\"%d\"},{\"size\":\"%d\"}]}}}}",
              h, w, c);
}

static void tf_node(tfjs *m, const char *json)
{
    tf_append(m->nodes, sizeof m->nodes, ",%s", json);
}

static void tf_put_u32(tfjs *m, uint32_t u)
{
    if (m->bin_len + 4 > sizeof m->bin) {
        fprintf(stderr, "make_corpus: a TF.js seed's weights outgrew their buffer\n");
        exit(1);
    }
    for (int i = 0; i < 4; i++)
        m->bin[m->bin_len++] = (unsigned char)(u >> (8 * i));
}

/* A Const node and its manifest entry; float32 values from a formula in [-0.5, 0.5], or the
 * int32 values given. */
static void tf_const(tfjs *m, const char *name, const int *shape, int ndim, const int32_t *ints)
{
    tf_append(m->nodes, sizeof m->nodes, ",{\"name\":\"%s\",\"op\":\"Const\"}", name);
    tf_append(m->manifest, sizeof m->manifest, "%s{\"name\":\"%s\",\"shape\":[",
              m->manifest[0] ? "," : "", name);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        tf_append(m->manifest, sizeof m->manifest, "%s%d", i ? "," : "", shape[i]);
        count *= (size_t)shape[i];
    }
    tf_append(m->manifest, sizeof m->manifest, "],\"dtype\":\"%s\"}", ints ? "int32" : "float32");
    for (size_t i = 0; i < count; i++) {
        if (ints) {
            tf_put_u32(m, (uint32_t)ints[i]);
        } else {
            float v = (float)(0.5 * sin(1.7 * (double)(m->bin_len / 4) + 0.3));
            uint32_t u;
            memcpy(&u, &v, 4);
            tf_put_u32(m, u);
        }
    }
}

/* A float32 weight stored quantized (TF.js "quantization": q * scale + min) as uint8 (bytes 1)
 * or uint16 (bytes 2), with q from a formula; a Const node as tf_const. */
static void tf_const_quantized(tfjs *m, const char *name, const int *shape, int ndim, int bytes,
                               double min, double scale)
{
    tf_append(m->nodes, sizeof m->nodes, ",{\"name\":\"%s\",\"op\":\"Const\"}", name);
    tf_append(m->manifest, sizeof m->manifest, "%s{\"name\":\"%s\",\"shape\":[",
              m->manifest[0] ? "," : "", name);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        tf_append(m->manifest, sizeof m->manifest, "%s%d", i ? "," : "", shape[i]);
        count *= (size_t)shape[i];
    }
    tf_append(m->manifest, sizeof m->manifest,
              "],\"dtype\":\"float32\",\"quantization\":{\"dtype\":\"%s\",\"min\":%g,"
              "\"scale\":%g}}", bytes == 1 ? "uint8" : "uint16", min, scale);
    for (size_t i = 0; i < count * (size_t)bytes; i++) {
        if (m->bin_len == sizeof m->bin) {
            fprintf(stderr, "make_corpus: a TF.js seed's weights outgrew their buffer\n");
            exit(1);
        }
        m->bin[m->bin_len++] = (unsigned char)(i * 37 + 11);
    }
}

/* face-api's TinyFaceDetector weights manifest (a JSON list, no graph), at width c: conv0
 * [3,3,3,c], separable conv1..conv5 (+ conv6 when extra), conv8 to 5 anchors x 5. */
static void tf_tiny_face(tfjs *m, int c, int extra, int quantized)
{
    memset(m, 0, sizeof *m);
    const int f0[] = {3, 3, 3, c}, bc[] = {c}, dw[] = {3, 3, c, 1}, pw[] = {1, 1, c, c};
    const int f8[] = {1, 1, c, 25}, b8[] = {25};
    char name[64];
    tf_const(m, "conv0/filters", f0, 4, NULL);
    tf_const(m, "conv0/bias", bc, 1, NULL);
    for (int i = 1; i <= 5 + extra; i++) {
        snprintf(name, sizeof name, "conv%d/depthwise_filter", i);
        if (quantized)
            tf_const_quantized(m, name, dw, 4, 1, -0.5, 1.0 / 255);
        else
            tf_const(m, name, dw, 4, NULL);
        snprintf(name, sizeof name, "conv%d/pointwise_filter", i);
        tf_const(m, name, pw, 4, NULL);
        snprintf(name, sizeof name, "conv%d/bias", i);
        tf_const(m, name, bc, 1, NULL);
    }
    tf_const(m, "conv8/filters", f8, 4, NULL);
    tf_const(m, "conv8/bias", b8, 1, NULL);
}

static void tf_write_manifest_only(const tfjs *m, const char *name)
{
    static char text[40000];
    int n = snprintf(text, sizeof text, "[{\"paths\":[\"w.bin\"],\"weights\":[%s]}]"
                     "\n--weights--\n", m->manifest);
    if (n < 0 || (size_t)n + m->bin_len > sizeof text) {
        fprintf(stderr, "make_corpus: TF.js seed %s is too large\n", name);
        exit(1);
    }
    memcpy(text + n, m->bin, m->bin_len);
    write_bytes("tfjs", name, text, (size_t)n + m->bin_len);
}

/* Writes tfjs/NAME: the model with signature outputs `outputs` (JSON object members), its
 * manifest, and the shard cut short by `cut` bytes. */
static void tf_write(const tfjs *m, const char *name, const char *outputs, size_t cut)
{
    static char text[40000];
    int n = snprintf(text, sizeof text,
                     "{\"format\":\"graph-model\",\"generatedBy\":\"make_corpus\","
                     "\"convertedBy\":\"make_corpus\",\"modelTopology\":{\"node\":[%s]},"
                     "\"userDefinedMetadata\":{\"signature\":{\"outputs\":{%s}}},"
                     "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":[%s]}]}"
                     "\n--weights--\n",
                     m->nodes, outputs, m->manifest);
    if (n < 0 || (size_t)n + m->bin_len > sizeof text) {
        fprintf(stderr, "make_corpus: TF.js seed %s is too large\n", name);
        exit(1);
    }
    memcpy(text + n, m->bin, m->bin_len);
    write_bytes("tfjs", name, text, (size_t)n + m->bin_len - cut);
}

/* tf_write with the first `from` in the nodes or the manifest replaced by `to`. */
static void tf_write_edit(const tfjs *m, const char *name, const char *outputs, const char *from,
                          const char *to)
{
    static tfjs e;
    e = *m;
    char *text = strstr(e.nodes, from) ? e.nodes : e.manifest;
    size_t cap = text == e.nodes ? sizeof e.nodes : sizeof e.manifest;
    char *at = strstr(text, from);
    if (!at || strlen(text) - strlen(from) + strlen(to) >= cap) {
        fprintf(stderr, "make_corpus: TF.js seed %s: cannot replace \"%s\"\n", name, from);
        exit(1);
    }
    memmove(at + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
    memcpy(at, to, strlen(to));
    tf_write(&e, name, outputs, 0);
}

/* Every op the converter reads: _FusedConv2D (BiasAdd + Relu, stride 2 "SAME" on an odd and an
 * even side: a pad2d comes in), DepthwiseConv2dNative (multiplier 2), Pad (rows, columns,
 * channels), MaxPool, Conv2D, AddV2, Add, Relu, Relu6, a fused Relu6, a control input, Identity
 * and Reshape outputs. */
static void tf_all_ops(tfjs *m, int filter_k)
{
    tf_begin(m, 5, 6, 2);
    const int w1[] = {filter_k, filter_k, 2, 4}, b1[] = {4}, dw[] = {3, 3, 4, 2}, pads[] = {4, 2};
    const int w2[] = {1, 1, 10, 10}, b2[] = {10}, w3[] = {1, 1, 10, 10}, shape[] = {3};
    const int32_t pad_v[] = {0, 0, 1, 0, 0, 1, 0, 2}, shape_v[] = {1, 8, 5};
    tf_const(m, "w1", w1, 4, NULL);
    tf_const(m, "b1", b1, 1, NULL);
    tf_const(m, "dw", dw, 4, NULL);
    tf_const(m, "pads", pads, 2, pad_v);
    tf_const(m, "w2", w2, 4, NULL);
    tf_const(m, "b2", b2, 1, NULL);
    tf_const(m, "w3", w3, 4, NULL);
    tf_const(m, "shape", shape, 1, shape_v);
    tf_node(m, "{\"name\":\"m/c1/Relu\",\"op\":\"_FusedConv2D\",\"input\":[\"x\",\"w1\",\"b1\"],"
               "\"attr\":{\"strides\":" TF_STRIDES("2") ",\"padding\":" TF_SAME ","
               "\"data_format\":{\"s\":\"TkhXQw==\"},\"dilations\":{\"list\":{\"i\":[\"1\",\"1\","
               "\"1\",\"1\"]}},\"fused_ops\":{\"list\":{\"s\":[\"Qmlhc0FkZA==\",\"UmVsdQ==\"]}}}}");
    tf_node(m, "{\"name\":\"m/d1/depthwise\",\"op\":\"DepthwiseConv2dNative\",\"input\":["
               "\"m/c1/Relu\",\"dw\",\"^x\"],\"attr\":{\"strides\":" TF_STRIDES("1") ","
               "\"padding\":" TF_SAME "}}");
    tf_node(m, "{\"name\":\"m/p1/Pad\",\"op\":\"Pad\",\"input\":[\"m/d1/depthwise\",\"pads\"]}");
    tf_node(m, "{\"name\":\"m/mp/MaxPool\",\"op\":\"MaxPool\",\"input\":[\"m/p1/Pad\"],\"attr\":{"
               "\"ksize\":" TF_STRIDES("2") ",\"strides\":" TF_STRIDES("2") ",\"padding\":"
               TF_VALID "}}");
    tf_node(m, "{\"name\":\"m/c2/Relu6\",\"op\":\"_FusedConv2D\",\"input\":[\"m/mp/MaxPool\","
               "\"w2\",\"b2\"],\"attr\":{\"padding\":" TF_VALID ",\"fused_ops\":{\"list\":{\"s\":["
               "\"Qmlhc0FkZA==\",\"UmVsdTY=\"]}}}}");
    tf_node(m, "{\"name\":\"m/c3/Conv2D\",\"op\":\"Conv2D\",\"input\":[\"m/c2/Relu6\",\"w3\"],"
               "\"attr\":{\"padding\":" TF_SAME "}}");
    tf_node(m, "{\"name\":\"m/add/add\",\"op\":\"AddV2\",\"input\":[\"m/mp/MaxPool\","
               "\"m/c3/Conv2D:0\"]}");
    tf_node(m, "{\"name\":\"m/r/Relu\",\"op\":\"Relu\",\"input\":[\"m/add/add\"]}");
    tf_node(m, "{\"name\":\"m/add2/add\",\"op\":\"Add\",\"input\":[\"m/r/Relu\",\"m/c2/Relu6\"]}");
    tf_node(m, "{\"name\":\"m/r6/Relu6\",\"op\":\"Relu6\",\"input\":[\"m/add2/add\"]}");
    tf_node(m, "{\"name\":\"m/out/Reshape\",\"op\":\"Reshape\",\"input\":[\"m/r6/Relu6\","
               "\"shape\"]}");
    tf_node(m, "{\"name\":\"Identity\",\"op\":\"Identity\",\"input\":[\"m/out/Reshape\"]}");
    tf_node(m, "{\"name\":\"Identity_1\",\"op\":\"Identity\",\"input\":[\"m/d1/depthwise\"]}");
}

/* A BlazeFace-shaped detector on a 16x16 RGB input: two anchor grids (8x8 with 1 anchor, 4x4
 * with 2), each a score output [1, rows, 1] and a box output [1, rows, 16], so
 * fer_face_detector_new accepts the .fer. n_scores > 2 adds more score outputs of the first
 * grid (the detector must refuse them, not overrun its table). */
static void tf_detector(tfjs *m, int n_scores, char *outputs, size_t cap)
{
    tf_begin(m, 16, 16, 3);
    const int c8[] = {1, 1, 3, 1}, r8[] = {1, 1, 3, 16}, b1[] = {1}, b16[] = {16}, sh[] = {3};
    const int c4[] = {1, 1, 3, 2}, r4[] = {1, 1, 3, 32}, b2[] = {2}, b32[] = {32};
    const int32_t s8c[] = {1, 64, 1}, s8r[] = {1, 64, 16}, s4c[] = {1, 32, 1}, s4r[] = {1, 32, 16};
    tf_const(m, "c8", c8, 4, NULL), tf_const(m, "c8b", b1, 1, NULL);
    tf_const(m, "r8", r8, 4, NULL), tf_const(m, "r8b", b16, 1, NULL);
    tf_const(m, "c4", c4, 4, NULL), tf_const(m, "c4b", b2, 1, NULL);
    tf_const(m, "r4", r4, 4, NULL), tf_const(m, "r4b", b32, 1, NULL);
    tf_const(m, "s8c", sh, 1, s8c), tf_const(m, "s8r", sh, 1, s8r);
    tf_const(m, "s4c", sh, 1, s4c), tf_const(m, "s4r", sh, 1, s4r);
    tf_node(m, "{\"name\":\"p8\",\"op\":\"MaxPool\",\"input\":[\"x\"],\"attr\":{\"ksize\":"
               TF_STRIDES("2") ",\"strides\":" TF_STRIDES("2") ",\"padding\":" TF_VALID "}}");
    tf_node(m, "{\"name\":\"p4\",\"op\":\"MaxPool\",\"input\":[\"p8\"],\"attr\":{\"ksize\":"
               TF_STRIDES("2") ",\"strides\":" TF_STRIDES("2") ",\"padding\":" TF_SAME "}}");
    const char *heads[][4] = {{"cls8", "p8", "c8", "s8c"}, {"reg8", "p8", "r8", "s8r"},
                              {"cls4", "p4", "c4", "s4c"}, {"reg4", "p4", "r4", "s4r"}};
    char node[512];
    for (int i = 0; i < 4; i++) {
        snprintf(node, sizeof node,
                 "{\"name\":\"%s/conv\",\"op\":\"_FusedConv2D\",\"input\":[\"%s\",\"%s\","
                 "\"%sb\"],\"attr\":{\"padding\":" TF_SAME ",\"fused_ops\":{\"list\":{\"s\":["
                 "\"Qmlhc0FkZA==\"]}}}}",
                 heads[i][0], heads[i][1], heads[i][2], heads[i][2]);
        tf_node(m, node);
        snprintf(node, sizeof node,
                 "{\"name\":\"%s/Reshape\",\"op\":\"Reshape\",\"input\":[\"%s/conv\",\"%s\"]}",
                 heads[i][0], heads[i][0], heads[i][3]);
        tf_node(m, node);
    }
    outputs[0] = '\0';
    for (int i = 0; i < 2 + n_scores; i++) {
        const char *src = i < 4 ? heads[i][0] : "cls8";
        snprintf(node, sizeof node, "{\"name\":\"Identity_%d\",\"op\":\"Identity\",\"input\":["
                 "\"%s/Reshape\"]}", i, src);
        tf_node(m, node);
        tf_append(outputs, cap, "%s\"Identity_%d:0\":{}", i ? "," : "", i);
    }
}

static void tfjs_models(void)
{
    static tfjs m;
    char outputs[512];
    const char *two_outputs = "\"Identity_1:0\":{},\"Identity:0\":{}";
    tf_all_ops(&m, 3);
    tf_write(&m, "seed_all_ops.tfjs", two_outputs, 0);
    tf_write(&m, "hostile_shard_short.tfjs", two_outputs, 4);
    tf_detector(&m, 2, outputs, sizeof outputs);
    tf_write(&m, "seed_detector_16px.tfjs", outputs, 0);
    /* 5 score outputs of one grid + 2 box outputs: more score heads than the detector holds */
    tf_detector(&m, 5, outputs, sizeof outputs);
    tf_write(&m, "hostile_detector_5_score_outputs.tfjs", outputs, 0);
    /* the input itself as the only output; no weights at all */
    tf_begin(&m, 3, 2, 1);
    tf_node(&m, "{\"name\":\"Identity\",\"op\":\"Identity\",\"input\":[\"x\"]}");
    tf_write(&m, "seed_input_only.tfjs", "\"Identity:0\":{}", 0);
    /* a non-finite filter value: the first float of w1 becomes NaN */
    tf_all_ops(&m, 3);
    m.bin[0] = 0x00, m.bin[1] = 0x00, m.bin[2] = 0xc0, m.bin[3] = 0x7f;
    tf_write(&m, "hostile_nan_weight.tfjs", two_outputs, 0);
    tf_all_ops(&m, 3);
    tf_write_edit(&m, "hostile_stride_1e300.tfjs", two_outputs, "\"i\":[\"1\",\"2\",\"2\",\"1\"]",
                  "\"i\":[1,1e300,1e300,1]");
    tf_write_edit(&m, "hostile_input_size_1e300.tfjs", two_outputs, "{\"size\":\"5\"}",
                  "{\"size\":1e300}");
    tf_write_edit(&m, "hostile_shape_product_2e80.tfjs", two_outputs, "\"shape\":[3,3,2,4]",
                  "\"shape\":[1048576,1048576,1048576,1048576]");
    tf_write_edit(&m, "hostile_dtype_float16.tfjs", two_outputs, "\"dtype\":\"float32\"",
                  "\"dtype\":\"float16\"");
    tf_write_edit(&m, "hostile_unknown_op.tfjs", two_outputs, "\"op\":\"Relu\"",
                  "\"op\":\"Sigmoid\"");
    tf_write_edit(&m, "hostile_cycle.tfjs", two_outputs, "\"input\":[\"m/c1/Relu\",\"dw\"",
                  "\"input\":[\"m/r/Relu\",\"dw\"");
    /* a depthwise filter [0, 0, 4096, 2^20] (no bytes): 4096 x 2^20 output channels wrap an int */
    tf_begin(&m, 1, 1, 4096);
    const int dw0[] = {0, 0, 4096, 1 << 20};
    tf_const(&m, "dw", dw0, 4, NULL);
    tf_node(&m, "{\"name\":\"d\",\"op\":\"DepthwiseConv2dNative\",\"input\":[\"x\",\"dw\"],"
                "\"attr\":{\"padding\":" TF_VALID "}}");
    tf_node(&m, "{\"name\":\"Identity\",\"op\":\"Identity\",\"input\":[\"d\"]}");
    tf_write(&m, "hostile_depthwise_channels_wrap.tfjs", "\"Identity:0\":{}", 0);
    /* quantized weights: a uint8 bias and a uint16 pointwise filter in the all-ops graph */
    tf_begin(&m, 4, 4, 2);
    const int qf[] = {1, 1, 2, 3}, qb[] = {3};
    tf_const_quantized(&m, "qf", qf, 4, 2, -1.0, 2.0 / 65535);
    tf_const_quantized(&m, "qb", qb, 1, 1, -0.25, 0.5 / 255);
    tf_node(&m, "{\"name\":\"c\",\"op\":\"_FusedConv2D\",\"input\":[\"x\",\"qf\",\"qb\"],"
                "\"attr\":{\"padding\":" TF_VALID ",\"fused_ops\":{\"list\":{\"s\":["
                "\"Qmlhc0FkZA==\"]}}}}");
    tf_node(&m, "{\"name\":\"Identity\",\"op\":\"Identity\",\"input\":[\"c\"]}");
    tf_write(&m, "seed_quantized.tfjs", "\"Identity:0\":{}", 0);
    /* a quantization scale of 1e300: the weights leave float's range */
    tf_write_edit(&m, "hostile_quantized_scale_1e300.tfjs", "\"Identity:0\":{}",
                  "\"scale\":3.0518e-05", "\"scale\":1e300");
    /* face-api's TinyFaceDetector manifest (width 2; with conv6; uint8 depthwise filters) */
    tf_tiny_face(&m, 2, 0, 0);
    tf_write_manifest_only(&m, "seed_faceapi_tiny.tfjs");
    tf_tiny_face(&m, 1, 1, 1);
    tf_write_manifest_only(&m, "seed_faceapi_tiny_conv6_uint8.tfjs");
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
    tfjs_models();
    return 0;
}
