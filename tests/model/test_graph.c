/* Graph architectures: each kind of bad graph is refused with one line naming the node; files
 * out of order are stored in a topological order; sequential JSON and the presets mean what they
 * always meant; the residual preset's size; a graph runs forward and backward alike on ref and
 * on the other backends, with the gradients of a tensor that feeds several nodes summed. */
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "fer/checkpoint.h"
#include "fer/model.h"
#include "fer/rng_math.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

/* {"input":[2,6,6],"classes":3,"layers":[<body>]} */
static fer_status from_body(const char *body, fer_arch *a)
{
    char json[4096];
    snprintf(json, sizeof json, "{\"input\":[2,6,6],\"classes\":3,\"layers\":[%s]}", body);
    return fer_arch_from_json(json, "graph.json", a);
}

static void expect_error(const char *body, const char *needle1, const char *needle2)
{
    fer_arch a;
    fer_status st = from_body(body, &a);
    const char *msg = fer_last_error();
    CHECK(st == FER_ERR_FORMAT, "accepted: %s", body);
    CHECK(st != FER_OK && strstr(msg, "graph.json") && strstr(msg, needle1) &&
              (!needle2 || strstr(msg, needle2)) && !strchr(msg, '\n'),
          "message '%s' lacks '%s' / '%s'", msg, needle1, needle2 ? needle2 : "");
}

#define CONV(name, extra) "{\"name\":\"" name "\",\"type\":\"conv2d\",\"out\":4,\"k\":3,\"pad\":1" extra "}"
#define TAIL "{\"name\":\"gap\",\"type\":\"global_avgpool\"},{\"name\":\"flat\",\"type\":\"flatten\"}"

static void bad_graphs(void)
{
    /* unknown input, named */
    expect_error(CONV("a", "") "," CONV("b", ",\"inputs\":[\"nope\"]") "," TAIL,
                 "layer 1 'b'", "unknown input 'nope'");
    /* a cycle: a <- b <- a (the file order does not matter, the cycle does) */
    expect_error(CONV("a", ",\"inputs\":[\"b\"]") "," CONV("b", ",\"inputs\":[\"a\"]") "," TAIL,
                 "cycle", "conv2d");
    expect_error(CONV("a", ",\"inputs\":[\"a\"]") "," TAIL, "layer 0 'a'", "own input");
    /* shape mismatch in add: 4 channels + 5 channels */
    expect_error(CONV("a", "") ","
                 "{\"name\":\"b\",\"type\":\"conv2d\",\"out\":5,\"k\":1},"
                 "{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"a\",\"b\"]}," TAIL,
                 "layer 2 's' (add)", "one shape");
    /* unknown type, named */
    expect_error(CONV("a", "") ",{\"name\":\"z\",\"type\":\"warp\"}," TAIL, "layer 1 'z'",
                 "unknown type \"warp\"");
    /* duplicate name; the reserved name; an odd name; a name too long */
    expect_error(CONV("a", "") "," CONV("a", "") "," TAIL, "'a'", "already used by layer 0");
    expect_error(CONV("input", "") "," TAIL, "layer 0", "\"name\"");
    expect_error(CONV("a b", "") "," TAIL, "layer 0", "\"name\"");
    expect_error(CONV("abcdefghijabcdefghijabcdefghijabcdefghij", "") "," TAIL, "layer 0",
                 "\"name\"");
    /* arity: add with one input, mul with three, concat with nine, a conv with two */
    expect_error(CONV("a", "") ",{\"name\":\"s\",\"type\":\"add\"}," TAIL, "'s' (add)",
                 "needs 2 inputs (got 1)");
    expect_error(CONV("a", "") ",{\"name\":\"s\",\"type\":\"mul\",\"inputs\":[\"a\",\"input\","
                 "\"a\"]}," TAIL, "'s' (mul)", "needs 2 inputs (got 3)");
    expect_error(CONV("a", "") ",{\"name\":\"c\",\"type\":\"concat\",\"inputs\":[\"a\",\"a\","
                 "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}," TAIL, "'c'", "\"inputs\"");
    expect_error(CONV("a", "") "," CONV("b", ",\"inputs\":[\"a\",\"input\"]") "," TAIL,
                 "'b' (conv2d)", "needs 1 input (got 2)");
    /* the same input twice */
    expect_error(CONV("a", "") ",{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"a\",\"a\"]},"
                 TAIL, "'s' (add)", "same input twice");
    /* inputs not a list of names */
    expect_error(CONV("a", ",\"inputs\":\"input\"") "," TAIL, "'a'", "\"inputs\"");
    expect_error(CONV("a", ",\"inputs\":[3]") "," TAIL, "'a'", "\"inputs\"");
    /* a dead branch: b leads nowhere */
    expect_error(CONV("a", "") "," CONV("b", ",\"inputs\":[\"input\"]") ","
                 "{\"name\":\"gap\",\"type\":\"global_avgpool\",\"inputs\":[\"a\"]},"
                 "{\"name\":\"flat\",\"type\":\"flatten\"}", "'b'", "does not lead to the output");
    /* mul gate of the wrong width; concat of two plane sizes; channel_pad narrowing */
    expect_error(CONV("a", "") ",{\"name\":\"g\",\"type\":\"global_avgpool\"},"
                 "{\"name\":\"gf\",\"type\":\"flatten\"},{\"name\":\"gl\",\"type\":\"linear\","
                 "\"out\":3},{\"name\":\"m\",\"type\":\"mul\",\"inputs\":[\"a\",\"gl\"]}," TAIL,
                 "'m' (mul)", "4 values per sample");
    expect_error(CONV("a", "") ",{\"name\":\"p\",\"type\":\"maxpool2d\",\"k\":2},"
                 "{\"name\":\"c\",\"type\":\"concat\",\"inputs\":[\"a\",\"p\"]}," TAIL,
                 "'c' (concat)", "plane size");
    expect_error(CONV("a", "") ",{\"name\":\"p\",\"type\":\"channel_pad\",\"out\":3}," TAIL,
                 "'p' (channel_pad)", "out");
    /* image ops on a flat vector; batchnorm1d on an image */
    expect_error(CONV("a", "") "," TAIL ",{\"name\":\"p\",\"type\":\"channel_pad\",\"out\":9}",
                 "'p' (channel_pad)", "after flatten");
    expect_error(CONV("a", "") ",{\"name\":\"b\",\"type\":\"batchnorm1d\"}," TAIL, "'b'",
                 "flattened input");
    /* the output must be flat */
    expect_error(CONV("a", ""), "flat feature vector", NULL);
    /* pad2d: a negative or too wide side, after flatten; concat of a flat and an image input */
    expect_error(CONV("a", "") ",{\"name\":\"p\",\"type\":\"pad2d\",\"bottom\":-1}," TAIL,
                 "'p' (pad2d)", "top, left, bottom, right in 0..64");
    expect_error(CONV("a", "") ",{\"name\":\"p\",\"type\":\"pad2d\",\"left\":65}," TAIL,
                 "'p' (pad2d)", "(got 0, 65, 0, 0)");
    expect_error(CONV("a", "") "," TAIL ",{\"name\":\"p\",\"type\":\"pad2d\",\"top\":1}",
                 "'p' (pad2d)", "after flatten");
    expect_error(CONV("a", "") "," TAIL ",{\"name\":\"c\",\"type\":\"concat\",\"inputs\":"
                 "[\"flat\",\"a\"]},{\"name\":\"f2\",\"type\":\"flatten\"}",
                 "'c' (concat)", "all inputs flat or all images");
    expect_error(CONV("a", "") ",{\"name\":\"p\",\"type\":\"pad2d\",\"top\":1,\"size\":2},"
                 TAIL, "'p'", "unknown field \"size\"");
}

/* Hand-built graphs (as checkpoint headers arrive) are checked as strictly as files. */
static void bad_structs(void)
{
    fer_arch a;
    OK(from_body("{\"name\":\"a\",\"type\":\"conv2d\",\"out\":2,\"k\":3,\"pad\":1},"
                 "{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"a\",\"input\"]},"
                 "{\"type\":\"global_avgpool\"},{\"type\":\"flatten\"}", &a));
    fer_arch b = a;
    b.layers[1].inputs[1] = 3; /* a later node: out of order, or a cycle */
    CHECK(fer_arch_sizes(&b, "crafted", NULL) == FER_ERR_FORMAT &&
              strstr(fer_last_error(), "not an earlier node"),
          "%s", fer_last_error());
    b = a;
    b.layers[1].n_inputs = 9;
    CHECK(fer_arch_sizes(&b, "crafted", NULL) == FER_ERR_FORMAT, "9 inputs");
    b = a;
    b.layers[1].inputs[1] = -7;
    CHECK(fer_arch_sizes(&b, "crafted", NULL) == FER_ERR_FORMAT, "input -7");
    b = a;
    b.layers[0].name[0] = 0; /* referenced by name but unnamed */
    CHECK(fer_arch_sizes(&b, "crafted", NULL) == FER_ERR_FORMAT &&
              strstr(fer_last_error(), "has no name"),
          "%s", fer_last_error());
    b = a;
    memset(b.layers[0].name, 'x', sizeof b.layers[0].name); /* not terminated */
    CHECK(fer_arch_sizes(&b, "crafted", NULL) == FER_ERR_FORMAT, "unterminated name");
}

/* A file listed out of order is stored topologically; writing and reading it back is the
 * identity; explicit inputs to the previous node equal the plain sequential form. */
static void order_and_round_trip(void)
{
    fer_arch a, b, c;
    OK(from_body("{\"name\":\"flat\",\"type\":\"flatten\",\"inputs\":[\"gap\"]},"
                 "{\"name\":\"gap\",\"type\":\"global_avgpool\",\"inputs\":[\"s\"]},"
                 "{\"name\":\"a\",\"type\":\"conv2d\",\"out\":2,\"k\":3,\"pad\":1,"
                 "\"inputs\":[\"input\"]},"
                 "{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"a\",\"input\"]},"
                 "{\"name\":\"out\",\"type\":\"linear\",\"out\":3,\"inputs\":[\"flat\"]}", &a));
    const char *want[] = {"a", "s", "gap", "flat", "out"};
    for (int i = 0; i < 5; i++)
        CHECK(strcmp(a.layers[i].name, want[i]) == 0, "node %d is '%s'", i, a.layers[i].name);
    CHECK(a.layers[1].n_inputs == 2 && a.layers[1].inputs[0] == 0 &&
              a.layers[1].inputs[1] == FER_INPUT_NODE && a.layers[2].n_inputs == 0,
          "inputs after sorting");
    char *json = fer_arch_to_json(&a);
    OK(fer_arch_from_json(json, "<round trip>", &b));
    char *again = fer_arch_to_json(&b);
    CHECK(fer_arch_equal(&a, &b) && strcmp(json, again) == 0, "round trip: %s", again);
    free(json);
    free(again);

    OK(from_body("{\"type\":\"conv2d\",\"out\":2,\"k\":3},{\"type\":\"relu\"},"
                 "{\"type\":\"flatten\"},{\"type\":\"linear\",\"out\":3}", &b));
    OK(from_body("{\"name\":\"c\",\"type\":\"conv2d\",\"out\":2,\"k\":3,\"inputs\":[\"input\"]},"
                 "{\"name\":\"r\",\"type\":\"relu\",\"inputs\":[\"c\"]},"
                 "{\"name\":\"f\",\"type\":\"flatten\",\"inputs\":[\"r\"]},"
                 "{\"type\":\"linear\",\"out\":3,\"inputs\":[\"f\"]}", &c));
    CHECK(fer_arch_equal(&b, &c), "explicit previous inputs = sequential");
    for (int i = 0; i < c.n_layers; i++)
        CHECK(c.layers[i].n_inputs == 0, "node %d keeps the default form", i);

    /* the presets write no graph fields except where they are graphs */
    const char *seq[] = {"simplecnn", "tiny", "vgg_gap"};
    for (int p = 0; p < 3; p++) {
        OK(fer_arch_preset(seq[p], FER_HEAD_SOFTMAX, &a));
        json = fer_arch_to_json(&a);
        CHECK(json && !strstr(json, "\"inputs\""), "%s writes inputs", seq[p]);
        OK(fer_arch_from_json(json, seq[p], &b));
        for (int i = 0; i < b.n_layers; i++)
            CHECK(!b.layers[i].name[0] && !b.layers[i].n_inputs, "%s node %d", seq[p], i);
        CHECK(fer_arch_equal(&a, &b), "%s round trip", seq[p]);
        free(json);
    }
    OK(fer_arch_preset("resnet_s", FER_HEAD_SOFTMAX, &a));
    json = fer_arch_to_json(&a);
    OK(fer_arch_from_json(json, "resnet_s", &b));
    CHECK(fer_arch_equal(&a, &b), "resnet_s round trip");
    free(json);
    b.layers[8].inputs[1] = 1; /* the first block's skip from stem_bn instead of stem_relu */
    CHECK(!fer_arch_equal(&a, &b), "inputs are part of equality");
}

static void residual_preset(fer_backend *ref)
{
    fer_arch a;
    fer_arch_size_info sz;
    OK(fer_arch_preset("resnet_s", FER_HEAD_SOFTMAX, &a));
    OK(fer_arch_sizes(&a, "resnet_s", &sz));
    CHECK(sz.params == 1597031 && sz.params <= 2000000, "resnet_s parameters %lld", sz.params);
    int adds = 0;
    for (int i = 0; i < a.n_layers; i++)
        adds += a.layers[i].kind == FER_LAYER_ADD;
    CHECK(adds == 6, "resnet_s has %d residual adds", adds);
    fer_model *m;
    OK(fer_model_new(&a, ref, 2, &m));
    CHECK(fer_model_param_count(m) == 1597031, "model parameters %zu", fer_model_param_count(m));
    fer_model_free(m);
}

/* The same graph and weights on ref and on `name`: logits, loss and every gradient. */
/* grad_tol: NMSE allowed per gradient tensor. Float sums in another order (Winograd, blocked
 * GEMM) differ by ~1e-7 relative; each batch norm in the backward pass divides by a batch
 * standard deviation and amplifies that, so a 14-BN network like resnet_s needs ~1e-5. */
static void backend_agrees(fer_backend *ref, const char *name, const char *arch_name,
                           const char *json, int n, double grad_tol)
{
    fer_backend *be;
    if (fer_backend_new(name, 2, &be) != FER_OK) {
        printf("SKIP %s on %s: %s\n", arch_name, name, fer_last_error());
        return;
    }
    fer_arch a;
    if (json)
        OK(fer_arch_from_json(json, arch_name, &a));
    else
        OK(fer_arch_preset(arch_name, FER_HEAD_SOFTMAX, &a));
    fer_model *mr, *mb;
    OK(fer_model_new(&a, ref, n, &mr));
    OK(fer_model_new(&a, be, n, &mb));
    OK(fer_model_init(mr, 9));
    OK(fer_model_init(mb, 9));
    size_t in = (size_t)a.in_c * a.in_h * a.in_w;
    float *x = malloc((size_t)n * in * sizeof *x);
    for (size_t i = 0; i < (size_t)n * in; i++)
        x[i] = fer_rng_symmetric(77, i);
    int32_t labels[4] = {1, 0, 2, 1};
    float lr[64], lb[64], loss_r, loss_b;
    fer_loss_config lc = {.kind = FER_LOSS_CE};
    OK(fer_model_forward(mr, x, n, FER_MODE_TRAIN, labels, 3, lr));
    OK(fer_model_forward(mb, x, n, FER_MODE_TRAIN, labels, 3, lb));
    OK(fer_model_loss(mr, &lc, labels, &loss_r));
    OK(fer_model_loss(mb, &lc, labels, &loss_b));
    OK(fer_model_backward(mr));
    OK(fer_model_backward(mb));
    double num = 0, den = 0;
    for (int i = 0; i < n * a.n_classes; i++)
        num += ((double)lr[i] - lb[i]) * ((double)lr[i] - lb[i]), den += (double)lr[i] * lr[i];
    CHECK(num <= 1e-8 * den + 1e-12, "%s on %s: logits NMSE %g", arch_name, name, num / den);
    CHECK(fabsf(loss_r - loss_b) <= 1e-4f * fabsf(loss_r), "%s: loss %g vs %g", arch_name,
          (double)loss_r, (double)loss_b);
    for (int t = 0; t < fer_model_n_tensors(mr); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(mr, t, &ti));
        if (ti.role != FER_TENSOR_PARAM)
            continue;
        float *gr = malloc(ti.numel * 4), *gb = malloc(ti.numel * 4);
        OK(fer_model_get_grad(mr, ti.name, gr, ti.numel));
        OK(fer_model_get_grad(mb, ti.name, gb, ti.numel));
        num = den = 0;
        for (size_t i = 0; i < ti.numel; i++)
            num += ((double)gr[i] - gb[i]) * ((double)gr[i] - gb[i]), den += (double)gr[i] * gr[i];
        /* BN after the sum makes some gradients tiny: NMSE against their own scale */
        CHECK(num <= grad_tol * den + 1e-14, "%s on %s: grad %s NMSE %g", arch_name, name, ti.name,
              den > 0 ? num / den : num);
        free(gr);
        free(gb);
    }
    printf("%s on %s agrees with ref (loss %.6f)\n", arch_name, name, (double)loss_r);
    free(x);
    fer_model_free(mr);
    fer_model_free(mb);
    fer_backend_free(be);
}

static const char *se_res_json =
    "{\"name\":\"se_res\",\"input\":[3,9,7],\"classes\":3,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":5,\"k\":3,\"pad\":1},"
    "{\"name\":\"a1\",\"type\":\"prelu\"},"
    "{\"name\":\"dw\",\"type\":\"conv2d\",\"out\":5,\"k\":3,\"stride\":2,\"pad\":1,\"groups\":5,"
    "\"bias\":false},{\"name\":\"dwbn\",\"type\":\"batchnorm2d\"},"
    "{\"name\":\"pw\",\"type\":\"conv2d\",\"out\":7,\"k\":1,\"bias\":false},"
    "{\"name\":\"sk\",\"type\":\"avgpool2d\",\"k\":3,\"stride\":2,\"pad\":1,\"inputs\":[\"a1\"]},"
    "{\"name\":\"skp\",\"type\":\"channel_pad\",\"out\":7},"
    "{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"pw\",\"skp\"]},{\"name\":\"r\",\"type\":\"relu\"},"
    "{\"name\":\"g\",\"type\":\"global_avgpool\"},{\"name\":\"gf\",\"type\":\"flatten\"},"
    "{\"name\":\"gl\",\"type\":\"linear\",\"out\":7},{\"name\":\"gs\",\"type\":\"sigmoid\"},"
    "{\"name\":\"m\",\"type\":\"mul\",\"inputs\":[\"r\",\"gs\"]},"
    "{\"name\":\"cat\",\"type\":\"concat\",\"inputs\":[\"m\",\"r\",\"sk\"]},"
    "{\"name\":\"gap\",\"type\":\"global_avgpool\"},{\"name\":\"f\",\"type\":\"flatten\"},"
    "{\"name\":\"l\",\"type\":\"linear\",\"out\":6,\"bias\":false},{\"name\":\"b1\",\"type\":\"batchnorm1d\"},"
    "{\"name\":\"h\",\"type\":\"relu6\"}]}";

/* A checkpoint records the graph: names and inputs come back, and the same logits. */
static void checkpoint_keeps_graph(fer_backend *ref)
{
    fer_arch a;
    OK(fer_arch_from_json(se_res_json, "se_res", &a));
    fer_model *m, *back;
    OK(fer_model_new(&a, ref, 2, &m));
    OK(fer_model_init(m, 4));
    char path[] = "/tmp/fer_graph_ckpt_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    fer_checkpoint_meta meta, meta_back;
    fer_checkpoint_meta_init(&meta);
    meta.n_classes = a.n_classes;
    OK(fer_checkpoint_save(path, m, &meta, NULL));
    OK(fer_checkpoint_load(path, ref, 2, &back, &meta_back));
    unlink(path);
    const fer_arch *b = fer_model_arch(back);
    CHECK(fer_arch_equal(&a, b), "checkpoint graph differs");
    for (int i = 0; i < a.n_layers; i++)
        CHECK(strcmp(a.layers[i].name, b->layers[i].name) == 0 &&
                  a.layers[i].n_inputs == b->layers[i].n_inputs,
              "node %d: '%s' came back as '%s'", i, a.layers[i].name, b->layers[i].name);
    size_t in = (size_t)a.in_c * a.in_h * a.in_w;
    float x[2 * 3 * 9 * 7], l1[6], l2[6];
    for (size_t i = 0; i < 2 * in; i++)
        x[i] = fer_rng_symmetric(5, i);
    OK(fer_model_forward(m, x, 2, FER_MODE_EVAL, NULL, 0, l1));
    OK(fer_model_forward(back, x, 2, FER_MODE_EVAL, NULL, 0, l2));
    CHECK(memcmp(l1, l2, sizeof l1) == 0, "logits after the round trip");
    fer_checkpoint_meta_clear(&meta);
    fer_checkpoint_meta_clear(&meta_back);
    fer_model_free(m);
    fer_model_free(back);
}

int main(void)
{
    fer_backend *ref;
    OK(fer_backend_new("ref", 1, &ref));
    bad_graphs();
    bad_structs();
    order_and_round_trip();
    residual_preset(ref);
    checkpoint_keeps_graph(ref);
    const char *const *names = fer_backend_list();
    for (int k = 0; names[k]; k++) {
        if (strcmp(names[k], "ref") == 0)
            continue;
        backend_agrees(ref, names[k], "se_res", se_res_json, 3, 1e-8);
        if (strcmp(names[k], "cpu") != 0) {
            backend_agrees(ref, names[k], "resnet_s", NULL, 2, 1e-5);
            continue;
        }
        /* cpu: Winograd F(2x2,3x3) sums within a few ulp of the direct ones; the default
         * F(4x4,3x3) (FP32) has transform constants up to 8 and, through resnet_s's 14 batch
         * norms over a batch of 2, reaches a gradient NMSE of ~1e-4 (a wrong kernel gives ~1) */
        const char *forced = getenv("FER_CPU_WINOGRAD");
        char saved[16] = "";
        if (forced)
            snprintf(saved, sizeof saved, "%s", forced);
        setenv("FER_CPU_WINOGRAD", "2", 1);
        printf("cpu with FER_CPU_WINOGRAD=2:\n");
        backend_agrees(ref, names[k], "resnet_s", NULL, 2, 1e-5);
        if (forced)
            setenv("FER_CPU_WINOGRAD", saved, 1);
        else
            unsetenv("FER_CPU_WINOGRAD");
        printf("cpu with its default Winograd tile:\n");
        backend_agrees(ref, names[k], "resnet_s", NULL, 2, 3e-4);
    }
    fer_backend_free(ref);
    return fer_check_summary("test_graph");
}
