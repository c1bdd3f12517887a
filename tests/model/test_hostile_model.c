/* Hostile model files (issue 18, items 1, 2, 3, 6 and the model's part of 7): well-framed
 * checkpoints (valid CRC) and architecture JSON whose numbers would wrap a size, overflow an
 * activation, make us allocate a network the file does not carry, or load garbage. Each must be
 * refused with a one-line FER_ERR_FORMAT message naming the file and the problem, before any
 * model is allocated where the header already tells (fer_checkpoint_read_header fails too).
 * Architectures that pass must report sizes that agree with the model actually built. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "fer/arch.h"
#include "fer/checkpoint.h"
#include "fer/model.h"
#include "fer/optim.h"
#include "fer/rng_math.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/ckpt_craft.h"
#include "../common/fer_check.h"
#include "../common/test_dir.h"

static char dir[64];
static char base_path[128];
static fer_backend *backend;

typedef void (*mutate_fn)(cJSON *hdr, unsigned char *payload, size_t payload_bytes);

static cJSON *layer(cJSON *hdr, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(hdr, "arch"), "layers"), i);
}

static void set_num(cJSON *obj, const char *key, double v)
{
    cJSON_DeleteItemFromObject(obj, key);
    cJSON_AddNumberToObject(obj, key, v);
}

static void replace_layer(cJSON *hdr, int i, const char *json)
{
    cJSON *layers = cJSON_GetObjectItem(cJSON_GetObjectItem(hdr, "arch"), "layers");
    cJSON_ReplaceItemInArray(layers, i, cJSON_Parse(json));
}

static cJSON *tensor(cJSON *hdr, int t)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(hdr, "tensors"), t);
}

/* item 1: a conv kernel so large that the parameter count wraps size_t */
static void huge_kernel(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    replace_layer(h, 0, "{\"type\":\"conv2d\",\"out\":16,\"k\":536870912,\"stride\":1000000000,"
                        "\"pad\":268435456,\"bias\":false}");
}
/* item 2: huge padding, then a pool that brings the shape back to 1x1 */
static void huge_pad(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    replace_layer(h, 0, "{\"type\":\"conv2d\",\"out\":16,\"k\":49,\"stride\":1,\"pad\":536870912,"
                        "\"bias\":false}");
    replace_layer(h, 3, "{\"type\":\"maxpool2d\",\"k\":1000000000,\"stride\":1000000000}");
}
/* item 3: a wide linear layer the payload does not carry (within the parameter cap) */
static void wide_linear(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(layer(h, 10), "out", 4000);
}
/* item 3 as the issue found it: 4608 -> 60000 (above the parameter cap) */
static void linear_4608_60000(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    cJSON *arch = cJSON_GetObjectItem(h, "arch");
    cJSON_ReplaceItemInObject(arch, "input", cJSON_Parse("[2,96,96]"));
    set_num(layer(h, 10), "out", 60000);
}
/* item 7 (arch.c) */
static void input_4096(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h, "arch"), "input",
                              cJSON_Parse("[1,4096,4096]"));
    replace_layer(h, 0, "{\"type\":\"conv2d\",\"out\":256,\"k\":3,\"stride\":1,\"pad\":1,"
                        "\"bias\":false}");
}
static void classes_1e300(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(cJSON_GetObjectItem(h, "arch"), "classes", 1e300);
}
/* item 7 (checkpoint.c) */
static void numel_1e30(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(tensor(h, 0), "numel", 1e30);
}
static void numel_inf(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    /* raw text: cJSON never prints infinity, but reads 1e999 as one */
    cJSON_DeleteItemFromObject(tensor(h, 0), "numel");
    cJSON_AddRawToObject(tensor(h, 0), "numel", "1e999");
}
static void shape_1e12(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    cJSON_ReplaceItemInObject(tensor(h, 0), "shape", cJSON_Parse("[1e12,1,3,3]"));
}
static void epoch_1e300(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(h, "epoch", 1e300);
}
static void version_minus1(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(h, "version", -1);
}
static void step_1e300(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(cJSON_GetObjectItem(h, "optimizer"), "step", 1e300);
}
/* item 6 */
static void std_tiny(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(cJSON_GetObjectItem(h, "norm"), "std", 1e-300);
}
static void mean_huge(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    set_num(cJSON_GetObjectItem(h, "norm"), "mean", 1e300);
}
static void put_float(unsigned char *p, size_t n, size_t at, float v)
{
    if (at + 4 <= n)
        memcpy(p + at, &v, 4); /* the tests run on little-endian hosts, as the format is */
}
static void nan_weight(cJSON *h, unsigned char *p, size_t n)
{
    (void)h;
    put_float(p, n, 8, NAN);
}
static void huge_weight(cJSON *h, unsigned char *p, size_t n)
{
    (void)h;
    put_float(p, n, 12, 1e38f);
}
static void negative_running_var(cJSON *h, unsigned char *p, size_t n)
{
    /* tensors 0-4: layers.0.weight, layers.1.{weight, bias, running_mean, running_var} */
    cJSON *jo = cJSON_GetObjectItem(tensor(h, 4), "offset");
    put_float(p, n, (size_t)jo->valuedouble, -1.0f);
}
static void tensor_offset_unaligned(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    cJSON *t = tensor(h, 1);
    set_num(t, "offset", cJSON_GetObjectItem(t, "offset")->valuedouble + 4);
}
static void tensor_outside_payload(cJSON *h, unsigned char *p, size_t n)
{
    (void)p;
    set_num(tensor(h, 1), "offset", (double)((n + 63) / 64 * 64));
}
static void prior_negative(cJSON *h, unsigned char *p, size_t n)
{
    (void)p, (void)n;
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(h, "class_prior"), 2, cJSON_CreateNumber(-0.5));
}

typedef struct hostile_case {
    const char *name;
    mutate_fn mutate;
    size_t misalign;
    int header_refuses; /* the header alone shows it: refused before a model is allocated */
    int needs_optimizer;
    const char *needle;
} hostile_case;

static const hostile_case cases[] = {
    {"item1_huge_kernel", huge_kernel, 0, 1, 0, "layer 0 (conv2d)"},
    {"item2_huge_pad", huge_pad, 0, 1, 0, "layer 0 (conv2d)"},
    {"item3_wide_linear", wide_linear, 0, 1, 0, "architecture mismatch"},
    {"item3_4608x60000", linear_4608_60000, 0, 1, 0, "parameters"},
    {"item7_input_4096", input_4096, 0, 1, 0, "more than"},
    {"item7_classes_1e300", classes_1e300, 0, 1, 0, "\"classes\""},
    {"item7_numel_1e30", numel_1e30, 0, 1, 0, "numel"},
    {"item7_numel_inf", numel_inf, 0, 1, 0, "\"tensor 0 numel\" must be an integer"},
    {"item7_shape_1e12", shape_1e12, 0, 0, 0, "shape"},
    {"item7_epoch_1e300", epoch_1e300, 0, 0, 0, "\"epoch\""},
    {"item7_version_minus1", version_minus1, 0, 1, 0, "\"version\""},
    {"item7_step_1e300", step_1e300, 0, 0, 1, "optimizer.step"},
    {"item6_unaligned_payload", NULL, 4, 1, 0, "aligned"},
    {"item6_std_1e-300", std_tiny, 0, 0, 0, "norm.std"},
    {"item6_mean_1e300", mean_huge, 0, 0, 0, "norm.mean"},
    {"item6_nan_weight", nan_weight, 0, 0, 0, "not a sane value"},
    {"item6_1e38_weight", huge_weight, 0, 0, 0, "not a sane value"},
    {"item6_negative_running_var", negative_running_var, 0, 0, 0, "layers.1.running_var"},
    {"tensor_offset_unaligned", tensor_offset_unaligned, 0, 1, 0, "aligned"},
    {"tensor_outside_payload", tensor_outside_payload, 0, 1, 0, "outside the payload"},
    {"prior_negative", prior_negative, 0, 0, 0, "class_prior"},
};

static void check_message(const char *what, const char *path, const char *needle)
{
    const char *msg = fer_last_error();
    CHECK(strstr(msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, msg, needle);
    CHECK(strstr(msg, path) != NULL, "%s: message '%s' does not name the file", what, msg);
    CHECK(strchr(msg, '\n') == NULL, "%s: message is not one line", what);
}

static void run_case(const hostile_case *hc)
{
    char path[192];
    snprintf(path, sizeof path, "%s/%s.fer", dir, hc->name);
    craft_ckpt c;
    CHECK(craft_read(base_path, &c) == 0, "%s: cannot read the base checkpoint", hc->name);
    if (hc->mutate)
        hc->mutate(c.hdr, c.payload, c.payload_bytes);
    CHECK(craft_write(path, &c, hc->misalign) == 0, "%s: cannot write", hc->name);
    craft_free(&c);

    fer_model *m = NULL;
    fer_status st = fer_checkpoint_load(path, backend, 2, &m, NULL);
    if (hc->needs_optimizer) { /* for inference the optimiser section is never read */
        CHECK(st == FER_OK, "%s: inference load: %s", hc->name, fer_last_error());
        fer_model_free(m);
    } else {
        CHECK(st == FER_ERR_FORMAT && m == NULL, "%s: fer_checkpoint_load gave %s (%s)",
              hc->name, fer_status_name(st), fer_last_error());
        check_message(hc->name, path, hc->needle);
    }

    fer_arch arch;
    st = fer_checkpoint_read_header(path, &arch, NULL);
    if (hc->header_refuses) {
        CHECK(st == FER_ERR_FORMAT, "%s: the header alone must refuse it (got %s)", hc->name,
              fer_status_name(st));
        check_message(hc->name, path, hc->needle);
    }
    if (hc->needs_optimizer) {
        /* a model and optimiser of the base architecture: the step is read on resume */
        OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
        OK(fer_model_new(&arch, backend, 2, &m));
        fer_optim_config oc;
        fer_optimizer *opt;
        fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
        OK(fer_optimizer_new(m, &oc, &opt));
        st = fer_checkpoint_load_into(path, m, opt, NULL);
        CHECK(st == FER_ERR_FORMAT, "%s: resume gave %s", hc->name, fer_status_name(st));
        check_message(hc->name, path, hc->needle);
        fer_optimizer_free(opt);
        fer_model_free(m);
    }
}

static void expect_arch_refused(const char *json, const char *needle)
{
    fer_arch a;
    fer_status st = fer_arch_from_json(json, "hostile.json", &a);
    CHECK(st == FER_ERR_FORMAT, "arch %s accepted", json);
    CHECK(strstr(fer_last_error(), needle) && strstr(fer_last_error(), "hostile.json"),
          "arch %s: message '%s' lacks '%s'", json, fer_last_error(), needle);
}

/* Architectures at the edges of the caps: accepted ones build, and the sizes fer_arch_sizes
 * reports are those of the model built. */
static void arch_edges(void)
{
    expect_arch_refused("{\"input\":[1,4096,4096],\"layers\":[{\"type\":\"flatten\"},"
                        "{\"type\":\"linear\",\"out\":65536}]}",
                        "parameters");
    expect_arch_refused("{\"input\":[4096,4096,4096],\"layers\":[{\"type\":\"flatten\"}]}",
                        "more than");
    expect_arch_refused("{\"input\":[1,48,48],\"layers\":[{\"type\":\"conv2d\",\"out\":65537,"
                        "\"k\":3},{\"type\":\"flatten\"}]}",
                        "conv2d");
    expect_arch_refused("{\"layers\":[{\"type\":\"conv2d\",\"out\":8,\"k\":1e300},"
                        "{\"type\":\"flatten\"}]}",
                        "\"layer 0: k\"");
    expect_arch_refused("{\"layers\":[{\"type\":\"conv2d\",\"out\":8,\"k\":3,\"stride\":-7},"
                        "{\"type\":\"flatten\"}]}",
                        "conv2d");
    expect_arch_refused("{\"layers\":[{\"type\":\"flatten\"},{\"type\":\"dropout\",\"p\":1e300}]}",
                        "dropout p");
    expect_arch_refused("{\"layers\":[{\"type\":\"flatten\"}],\"head\":{\"type\":\"arcface\","
                        "\"s\":1e300}}",
                        "head s");
    expect_arch_refused("{\"input\":[1,48,48],\"layers\":[{\"type\":\"maxpool2d\",\"k\":49},"
                        "{\"type\":\"flatten\"}]}",
                        "empty");
    /* a deep stack of wide convolutions passes the per-layer caps but not the work cap */
    char deep[8192];
    int n = snprintf(deep, sizeof deep, "{\"input\":[1,256,256],\"layers\":[");
    for (int i = 0; i < 40; i++)
        n += snprintf(deep + n, sizeof deep - (size_t)n,
                      "{\"type\":\"conv2d\",\"out\":256,\"k\":7,\"pad\":3},");
    snprintf(deep + n, sizeof deep - (size_t)n, "{\"type\":\"flatten\"}]}");
    expect_arch_refused(deep, "multiply-adds");

    /* accepted: sizes agree with the built model */
    const char *ok_archs[] = {
        "{\"input\":[1,48,48],\"layers\":[{\"type\":\"conv2d\",\"out\":4,\"k\":64,\"pad\":64,"
        "\"stride\":64},{\"type\":\"batchnorm2d\"},{\"type\":\"flatten\"},{\"type\":\"linear\","
        "\"out\":3}]}",
        "{\"input\":[1,4096,4096],\"layers\":[{\"type\":\"maxpool2d\",\"k\":4096,\"stride\":4096},"
        "{\"type\":\"flatten\"}],\"classes\":16}",
        "{\"input\":[3,64,64],\"layers\":[{\"type\":\"conv2d\",\"out\":8,\"k\":1,\"stride\":2},"
        "{\"type\":\"flatten\"},{\"type\":\"dropout\",\"p\":0}],\"head\":{\"type\":\"arcface\","
        "\"s\":64,\"m\":0.5}}",
    };
    for (size_t i = 0; i < sizeof ok_archs / sizeof *ok_archs; i++) {
        fer_arch a;
        fer_arch_size_info sz;
        fer_status st = fer_arch_from_json(ok_archs[i], "edge.json", &a);
        CHECK(st == FER_OK, "edge arch %zu refused: %s", i, fer_last_error());
        if (st)
            continue;
        OK(fer_arch_sizes(&a, "edge.json", &sz));
        fer_model *m;
        OK(fer_model_new(&a, backend, 2, &m));
        size_t params = fer_model_param_count(m);
        CHECK((long long)params == sz.params, "edge arch %zu: %zu params built, %lld reported",
              i, params, sz.params);
        CHECK(fer_model_n_tensors(m) == sz.n_tensors, "edge arch %zu: tensor count", i);
        float *x = calloc((size_t)(2 * a.in_c * a.in_h * a.in_w), sizeof(float));
        float logits[2 * FER_MAX_CLASSES];
        OK(fer_model_forward(m, x, 2, FER_MODE_EVAL, NULL, 0, logits));
        for (int k = 0; k < 2 * a.n_classes; k++)
            CHECK(isfinite(logits[k]), "edge arch %zu: logit %d not finite", i, k);
        free(x);
        fer_model_free(m);
    }

    /* the batch size is checked against the activation caps before allocating */
    fer_arch big;
    OK(fer_arch_from_json("{\"input\":[1,2048,2048],\"layers\":[{\"type\":\"conv2d\",\"out\":4,"
                          "\"k\":3,\"pad\":1},{\"type\":\"maxpool2d\",\"k\":64},"
                          "{\"type\":\"flatten\"}]}",
                          "big.json", &big));
    fer_model *m = NULL;
    fer_status st = fer_model_new(&big, backend, 256, &m);
    CHECK(st == FER_ERR_ARG && m == NULL && strstr(fer_last_error(), "batch"),
          "batch 256 of 4x2048x2048 activations: %s", fer_last_error());
}

int main(void)
{
    test_dir_make(dir, "hostile");
    OK(fer_backend_new("ref", 1, &backend));

    /* the base: a tiny softmax model with optimiser state and a class prior */
    fer_arch arch;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
    fer_model *m;
    OK(fer_model_new(&arch, backend, 2, &m));
    OK(fer_model_init(m, 3));
    fer_optim_config oc;
    fer_optimizer *opt;
    fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
    OK(fer_optimizer_new(m, &oc, &opt));
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.has_prior = 1;
    for (int c = 0; c < 7; c++)
        meta.class_prior[c] = 1.0f / 7;
    snprintf(base_path, sizeof base_path, "%s/base.fer", dir);
    OK(fer_checkpoint_save(base_path, m, &meta, opt));
    fer_optimizer_free(opt);
    fer_model_free(m);

    /* the crafting round trip itself changes nothing: the base re-framed still loads */
    craft_ckpt c;
    CHECK(craft_read(base_path, &c) == 0, "craft_read");
    char same[160];
    snprintf(same, sizeof same, "%s/same.fer", dir);
    CHECK(craft_write(same, &c, 0) == 0, "craft_write");
    craft_free(&c);
    m = NULL;
    CHECK(fer_checkpoint_load(same, backend, 2, &m, NULL) == FER_OK, "re-framed base: %s",
          fer_last_error());
    fer_model_free(m);

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        run_case(&cases[i]);
    arch_edges();

    fer_backend_free(backend);
    if (!fer_check_failures)
        test_dir_remove(dir);
    return fer_check_summary("test_hostile_model");
}
