/* Architectures: presets (exact SimpleCNN shapes and parameter counts), JSON round trip,
 * loading from a file, equality, and clear errors for malformed descriptions. */
#include <string.h>
#include <unistd.h>

#include "fer/model.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

static void expect_error(const char *json, const char *needle)
{
    fer_arch a;
    fer_status st = fer_arch_from_json(json, "arch.json", &a);
    CHECK(st == FER_ERR_FORMAT, "'%s' accepted", json);
    CHECK(strstr(fer_last_error(), needle) && strstr(fer_last_error(), "arch.json"),
          "message '%s' lacks '%s'", fer_last_error(), needle);
}

int main(void)
{
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));

    /* SimpleCNN exactly as the seed: 3 blocks 32/64/128, 4608 -> 256 -> 128 features, 7 classes */
    fer_arch a;
    OK(fer_arch_preset("simplecnn", FER_HEAD_SOFTMAX, &a));
    CHECK(a.n_layers == 26 && a.in_c == 1 && a.in_h == 48 && a.n_classes == 7, "layers %d",
          a.n_layers);
    CHECK(a.layers[0].kind == FER_LAYER_CONV2D && a.layers[0].out == 32 && !a.layers[0].bias &&
              a.layers[0].k == 3 && a.layers[0].pad == 1,
          "first conv");
    CHECK(a.layers[22].kind == FER_LAYER_LINEAR && a.layers[22].out == 256, "linear 256");
    CHECK(a.layers[24].kind == FER_LAYER_DROPOUT && a.layers[24].p == 0.3f, "dropout 0.3");
    CHECK(a.layers[25].kind == FER_LAYER_LINEAR && a.layers[25].out == 128, "features 128");
    fer_model *m;
    OK(fer_model_new(&a, b, 1, &m));
    CHECK(fer_model_param_count(m) == 1500583, "simplecnn softmax params %zu",
          fer_model_param_count(m));
    CHECK(fer_model_n_tensors(m) == 42, "tensors %d", fer_model_n_tensors(m));
    fer_tensor_info ti;
    OK(fer_model_tensor_info(m, 36, &ti)); /* layers.22.weight */
    CHECK(strcmp(ti.name, "layers.22.weight") == 0 && ti.shape[0] == 256 && ti.shape[1] == 4608,
          "%s", ti.name);
    OK(fer_model_tensor_info(m, 41, &ti));
    CHECK(strcmp(ti.name, "head.bias") == 0 && ti.numel == 7, "%s", ti.name);
    fer_model_free(m);
    OK(fer_arch_preset("simplecnn", FER_HEAD_ARCFACE, &a));
    OK(fer_model_new(&a, b, 1, &m));
    CHECK(fer_model_param_count(m) == 1500576, "simplecnn arcface params %zu",
          fer_model_param_count(m));
    CHECK(a.arc_s == 30.0f && a.arc_m == 0.5f, "arcface defaults");
    fer_model_free(m);
    CHECK(fer_arch_preset("nope", FER_HEAD_SOFTMAX, &a) == FER_ERR_ARG, "unknown preset");

    /* JSON round trip of both presets and both heads */
    const char *presets[] = {"simplecnn", "tiny"};
    for (int p = 0; p < 2; p++)
        for (int h = 0; h < 2; h++) {
            fer_arch x, y;
            OK(fer_arch_preset(presets[p], (fer_head_kind)h, &x));
            char *json = fer_arch_to_json(&x);
            CHECK(json != NULL, "to_json");
            OK(fer_arch_from_json(json, "<roundtrip>", &y));
            CHECK(fer_arch_equal(&x, &y) && strcmp(x.name, y.name) == 0, "round trip %s/%d",
                  presets[p], h);
            free(json);
        }

    /* from a file; JSON defaults as PyTorch (stride 1, pad 0, bias true, pool stride = k) */
    char path[] = "/tmp/fer_arch_XXXXXX";
    int fd = mkstemp(path);
    const char *json =
        "{\"name\":\"mini\",\"input\":[1,12,12],\"classes\":3,\"layers\":["
        "{\"type\":\"conv2d\",\"out\":4,\"k\":3},{\"type\":\"relu\"},"
        "{\"type\":\"maxpool2d\",\"k\":2},{\"type\":\"flatten\"},"
        "{\"type\":\"linear\",\"out\":5}],\"head\":{\"type\":\"arcface\",\"s\":16,\"m\":0.2}}";
    CHECK(write(fd, json, strlen(json)) == (ssize_t)strlen(json), "write");
    close(fd);
    OK(fer_arch_load(path, FER_HEAD_SOFTMAX, &a));
    unlink(path);
    CHECK(a.layers[0].stride == 1 && a.layers[0].pad == 0 && a.layers[0].bias == 1 &&
              a.layers[2].stride == 2 && a.layers[4].bias == 1,
          "json defaults");
    CHECK(a.head == FER_HEAD_ARCFACE && a.arc_s == 16.0f && fabsf(a.arc_m - 0.2f) < 1e-7f &&
              a.n_classes == 3,
          "json head");
    OK(fer_model_new(&a, b, 1, &m));
    /* conv 4x1x3x3 + 4, linear 5x100 + 5, head 3x5 */
    CHECK(fer_model_param_count(m) == 36 + 4 + 500 + 5 + 15, "mini params %zu",
          fer_model_param_count(m));
    fer_model_free(m);
    CHECK(fer_arch_load("/nonexistent/arch.json", FER_HEAD_SOFTMAX, &a) == FER_ERR_IO &&
              strstr(fer_last_error(), "/nonexistent/arch.json"),
          "missing file: %s", fer_last_error());
    OK(fer_arch_load("tiny", FER_HEAD_ARCFACE, &a));
    CHECK(a.head == FER_HEAD_ARCFACE && strcmp(a.name, "tiny") == 0, "preset via load");

    /* equality */
    fer_arch x, y;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &x));
    y = x;
    CHECK(fer_arch_equal(&x, &y), "equal");
    y.layers[0].out = 9;
    CHECK(!fer_arch_equal(&x, &y), "conv width");
    y = x;
    y.head = FER_HEAD_ARCFACE;
    CHECK(!fer_arch_equal(&x, &y), "head");
    y = x;
    y.n_classes = 6;
    CHECK(!fer_arch_equal(&x, &y), "classes");
    y = x;
    snprintf(y.name, sizeof y.name, "renamed");
    CHECK(fer_arch_equal(&x, &y), "name is not part of the shape");
    y = x;
    y.layers[0].groups = 2;
    CHECK(!fer_arch_equal(&x, &y), "conv groups");

    /* grouped and depthwise conv2d: weight [out, in/groups, k, k], parameters and multiply-adds
     * divided by groups, "groups" written only when it is not 1 (old files stay byte-equal) */
    {
        const char *gj =
            "{\"name\":\"grp\",\"input\":[4,6,5],\"classes\":3,\"layers\":["
            "{\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1,\"groups\":2},"
            "{\"type\":\"conv2d\",\"out\":6,\"k\":5,\"pad\":2,\"groups\":6,\"bias\":false},"
            "{\"type\":\"conv2d\",\"out\":2,\"k\":1},{\"type\":\"flatten\"}]}";
        fer_arch g, g2;
        OK(fer_arch_from_json(gj, "grp.json", &g));
        CHECK(g.layers[0].groups == 2 && g.layers[1].groups == 6 && g.layers[2].groups == 1,
              "groups parsed (absent = 1)");
        fer_arch_size_info gs;
        OK(fer_arch_sizes(&g, "grp", &gs));
        /* 6*2*9 + 6, 6*1*25, 2*6*1 + 2, head 3*60 + 3 */
        CHECK(gs.params == 108 + 6 + 150 + 14 + 183, "grouped params %lld", gs.params);
        CHECK(gs.macs == 30LL * (6 * 2 * 9 + 6 * 25 + 2 * 6) + 3 * 60, "grouped macs %lld",
              gs.macs);
        OK(fer_model_new(&g, b, 1, &m));
        OK(fer_model_tensor_info(m, 0, &ti));
        CHECK(ti.ndim == 4 && ti.shape[0] == 6 && ti.shape[1] == 2 && ti.shape[2] == 3,
              "grouped weight shape %dx%dx%dx%d", ti.shape[0], ti.shape[1], ti.shape[2],
              ti.shape[3]);
        OK(fer_model_tensor_info(m, 2, &ti));
        CHECK(ti.shape[0] == 6 && ti.shape[1] == 1 && ti.shape[2] == 5, "depthwise weight shape");
        CHECK(fer_model_param_count(m) == (size_t)gs.params, "model params %zu",
              fer_model_param_count(m));
        fer_model_free(m);
        char *out = fer_arch_to_json(&g);
        CHECK(out && strstr(out, "\"groups\":2") && strstr(out, "\"groups\":6"), "%s",
              out ? out : "(no JSON)");
        /* the 1x1 conv (groups 1) prints no "groups": exactly two occurrences */
        const char *p1 = out ? strstr(out, "\"groups\"") : NULL;
        const char *p2 = p1 ? strstr(p1 + 1, "\"groups\"") : NULL;
        CHECK(p2 && !strstr(p2 + 1, "\"groups\""), "groups printed only when != 1: %s",
              out ? out : "(no JSON)");
        OK(fer_arch_from_json(out, "<roundtrip>", &g2));
        CHECK(fer_arch_equal(&g, &g2), "grouped round trip");
        free(out);
        fer_arch sc;
        OK(fer_arch_preset("simplecnn", FER_HEAD_SOFTMAX, &sc));
        out = fer_arch_to_json(&sc);
        CHECK(out && !strstr(out, "groups"), "dense presets print no groups");
        free(out);
    }

    /* errors */
    expect_error("{", "invalid JSON");
    /* text after the object is an error, not silently dropped */
    expect_error("{\"layers\":[]} {\"layers\":[{\"type\":\"relu\"}]}", "invalid JSON");
    expect_error("{\"layers\":[{\"type\":\"conv3d\"}]}", "unknown type \"conv3d\"");
    expect_error("{\"layers\":[{\"type\":\"conv2d\",\"out\":4,\"kernel\":3}]}",
                 "unknown field \"kernel\"");
    expect_error("{\"layers\":[{\"type\":\"linear\",\"out\":4}]}", "flatten");
    expect_error("{\"layers\":[{\"type\":\"flatten\"},{\"type\":\"conv2d\",\"out\":2}]}",
                 "after flatten");
    expect_error("{\"input\":[1,4,4],\"layers\":[{\"type\":\"maxpool2d\",\"k\":8},"
                 "{\"type\":\"flatten\"}]}",
                 "empty");
    expect_error("{\"classes\":1,\"layers\":[{\"type\":\"flatten\"}]}", "classes");
    expect_error("{\"layers\":[{\"type\":\"flatten\"},{\"type\":\"dropout\",\"p\":1.5}]}",
                 "dropout");
    expect_error("{\"layers\":[{\"type\":\"conv2d\",\"out\":2,\"k\":3}]}", "flat feature");
    expect_error("{\"layers\":[{\"type\":\"flatten\"}],\"head\":{\"type\":\"cosface\"}}",
                 "unknown head");
    expect_error("{\"layers\":[{\"type\":\"conv2d\",\"out\":2.5}]}", "integer");
    expect_error("{\"input\":[4,8,8],\"layers\":[{\"type\":\"conv2d\",\"out\":4,\"groups\":0}]}",
                 "groups >= 1");
    expect_error("{\"input\":[4,8,8],\"layers\":[{\"type\":\"conv2d\",\"out\":4,\"groups\":-2}]}",
                 "groups >= 1");
    expect_error("{\"input\":[4,8,8],\"layers\":[{\"type\":\"conv2d\",\"out\":6,\"groups\":3}]}",
                 "dividing in channels 4");
    expect_error("{\"input\":[6,8,8],\"layers\":[{\"type\":\"conv2d\",\"out\":4,\"groups\":3}]}",
                 "out 4 (got groups 3)");
    expect_error("{\"input\":[4,8,8],\"layers\":[{\"type\":\"conv2d\",\"out\":4,\"groups\":8}]}",
                 "groups");
    expect_error("{\"input\":[4,8,8],\"layers\":[{\"type\":\"conv2d\",\"out\":4,\"groups\":1.5}]}",
                 "integer");

    /* activations and average pools: defaults as PyTorch (slope 0.01, stride = k, pad 0),
     * shapes, multiply-adds (window additions), round trip, equality, describe, errors */
    {
        const char *aj =
            "{\"name\":\"actpool\",\"input\":[3,9,7],\"classes\":3,\"layers\":["
            "{\"type\":\"leaky_relu\"},{\"type\":\"leaky_relu\",\"slope\":0.2},"
            "{\"type\":\"relu6\"},{\"type\":\"hardswish\"},{\"type\":\"sigmoid\"},"
            "{\"type\":\"avgpool2d\",\"k\":3},{\"type\":\"avgpool2d\",\"k\":2,\"stride\":1,"
            "\"pad\":1},{\"type\":\"global_avgpool\"},{\"type\":\"flatten\"},"
            "{\"type\":\"leaky_relu\",\"slope\":0}]}";
        fer_arch g, g2;
        OK(fer_arch_from_json(aj, "act.json", &g));
        CHECK(g.layers[0].kind == FER_LAYER_LEAKY_RELU && g.layers[0].slope == 0.01f &&
                  g.layers[1].slope == 0.2f && g.layers[9].slope == 0.0f,
              "leaky_relu slopes %g %g", (double)g.layers[0].slope, (double)g.layers[1].slope);
        CHECK(g.layers[2].kind == FER_LAYER_RELU6 && g.layers[3].kind == FER_LAYER_HARDSWISH &&
                  g.layers[4].kind == FER_LAYER_SIGMOID &&
                  g.layers[7].kind == FER_LAYER_GLOBAL_AVGPOOL,
              "kinds");
        CHECK(g.layers[5].kind == FER_LAYER_AVGPOOL2D && g.layers[5].k == 3 &&
                  g.layers[5].stride == 3 && g.layers[5].pad == 0 && g.layers[6].stride == 1 &&
                  g.layers[6].pad == 1,
              "avgpool2d defaults");
        fer_arch_size_info gs;
        OK(fer_arch_sizes(&g, "act", &gs));
        /* 9x7 -k3-> 3x2 -k2 s1 p1-> 4x3 -global-> 1x1: 3 features; head 3x3 + 3 */
        CHECK(gs.params == 12, "params %lld", gs.params);
        CHECK(gs.macs == 3LL * (3 * 2 * 9) + 3LL * (4 * 3 * 4) + 3LL * (4 * 3) + 9,
              "macs %lld", gs.macs);
        OK(fer_model_new(&g, b, 2, &m));
        fer_model_free(m);
        char *out = fer_arch_to_json(&g);
        CHECK(out && strstr(out, "\"slope\":0.2") && strstr(out, "\"pad\":1"), "%s",
              out ? out : "(no JSON)");
        OK(fer_arch_from_json(out, "<roundtrip>", &g2));
        CHECK(fer_arch_equal(&g, &g2), "activation/pool round trip: %s", out ? out : "");
        free(out);
        g2 = g;
        g2.layers[1].slope = 0.3f;
        CHECK(!fer_arch_equal(&g, &g2), "slope is part of the shape");
        g2 = g;
        g2.layers[6].pad = 0;
        CHECK(!fer_arch_equal(&g, &g2), "avgpool pad");
        g2 = g;
        g2.layers[3].kind = FER_LAYER_SIGMOID;
        CHECK(!fer_arch_equal(&g, &g2), "activation kind");
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        OK(fer_arch_describe(&g, "act", mem));
        fclose(mem);
        CHECK(strstr(text, "leaky_relu") && strstr(text, "slope=0.2") &&
                  strstr(text, "global_avgpool") && strstr(text, "3x1x1") &&
                  strstr(text, "avgpool2d") && strstr(text, "hardswish"),
              "describe rows:\n%s", text);
        free(text);
        /* a preset's checked fields from elsewhere (a checkpoint header) are validated too */
        g2 = g;
        g2.layers[1].slope = -0.5f;
        CHECK(fer_arch_sizes(&g2, "act", NULL) == FER_ERR_FORMAT &&
                  strstr(fer_last_error(), "slope"),
              "negative slope in a spec: %s", fer_last_error());
    }
    expect_error("{\"layers\":[{\"type\":\"leaky_relu\",\"slope\":1.5},{\"type\":\"flatten\"}]}",
                 "slope");
    expect_error("{\"layers\":[{\"type\":\"leaky_relu\",\"slope\":-0.1},{\"type\":\"flatten\"}]}",
                 "slope");
    expect_error("{\"layers\":[{\"type\":\"leaky_relu\",\"slope\":1e999},{\"type\":\"flatten\"}]}",
                 "slope");
    expect_error("{\"layers\":[{\"type\":\"leaky_relu\",\"slope\":\"x\"},{\"type\":\"flatten\"}]}",
                 "slope");
    expect_error("{\"layers\":[{\"type\":\"relu6\",\"k\":2},{\"type\":\"flatten\"}]}",
                 "unknown field \"k\"");
    expect_error("{\"input\":[1,8,8],\"layers\":[{\"type\":\"avgpool2d\",\"k\":3,\"pad\":2},"
                 "{\"type\":\"flatten\"}]}",
                 "pad <= k/2");
    expect_error("{\"input\":[1,8,8],\"layers\":[{\"type\":\"avgpool2d\",\"k\":2,\"pad\":-1},"
                 "{\"type\":\"flatten\"}]}",
                 "pad <= k/2");
    expect_error("{\"input\":[1,8,8],\"layers\":[{\"type\":\"avgpool2d\",\"k\":5000},"
                 "{\"type\":\"flatten\"}]}",
                 "avgpool2d");
    expect_error("{\"input\":[1,8,8],\"layers\":[{\"type\":\"avgpool2d\",\"k\":2,\"stride\":0},"
                 "{\"type\":\"flatten\"}]}",
                 "stride");
    expect_error("{\"input\":[1,4,4],\"layers\":[{\"type\":\"avgpool2d\",\"k\":8,\"pad\":1},"
                 "{\"type\":\"flatten\"}]}",
                 "empty");
    expect_error("{\"layers\":[{\"type\":\"flatten\"},{\"type\":\"avgpool2d\",\"k\":2}]}",
                 "after flatten");
    expect_error("{\"layers\":[{\"type\":\"flatten\"},{\"type\":\"global_avgpool\"}]}",
                 "after flatten");
    expect_error("{\"input\":[1,8,8],\"layers\":[{\"type\":\"global_avgpool\"}]}",
                 "flat feature");

    /* vgg_gap: the VGG-style preset with global pooling stays under issue 19's 2 M budget and
     * runs the same on ref and cpu (forward in both modes, then a backward pass) */
    {
        fer_arch vg;
        OK(fer_arch_preset("vgg_gap", FER_HEAD_SOFTMAX, &vg));
        fer_arch_size_info vsz;
        OK(fer_arch_sizes(&vg, "vgg_gap", &vsz));
        CHECK(vsz.params == 1206439 && vsz.params <= 2000000, "vgg_gap: %lld parameters",
              vsz.params);
        fer_arch loaded;
        OK(fer_arch_load("vgg_gap", FER_HEAD_SOFTMAX, &loaded));
        CHECK(fer_arch_equal(&vg, &loaded), "vgg_gap through fer_arch_load");
        fer_backend *cpu;
        OK(fer_backend_new("cpu", 2, &cpu));
        fer_model *mr, *mc;
        OK(fer_model_new(&vg, b, 2, &mr));
        OK(fer_model_new(&vg, cpu, 2, &mc));
        OK(fer_model_init_pytorch(mr, 5));
        OK(fer_model_init_pytorch(mc, 5));
        CHECK(fer_model_param_count(mr) == (size_t)vsz.params, "built parameter count");
        float x[2 * 48 * 48], lr[2 * 7], lc[2 * 7];
        for (int i = 0; i < 2 * 48 * 48; i++)
            x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
        int32_t labels[2] = {1, 5};
        fer_loss_config lcfg = {.kind = FER_LOSS_CE};
        for (int mode = 0; mode < 2; mode++) {
            fer_mode md = mode ? FER_MODE_TRAIN : FER_MODE_EVAL;
            OK(fer_model_forward(mr, x, 2, md, labels, 9, lr));
            OK(fer_model_forward(mc, x, 2, md, labels, 9, lc));
            for (int k = 0; k < 14; k++)
                CHECK(isfinite(lr[k]) && fabsf(lr[k] - lc[k]) <= 1e-3f * (1.0f + fabsf(lr[k])),
                      "vgg_gap %s logit %d: ref %g, cpu %g", mode ? "train" : "eval", k,
                      (double)lr[k], (double)lc[k]);
        }
        OK(fer_model_loss(mr, &lcfg, labels, NULL));
        OK(fer_model_backward(mr));
        fer_model_free(mr);
        fer_model_free(mc);
        fer_backend_free(cpu);
    }

    /* --describe's table: one row per layer with its fields, shape, parameters and
     * multiply-adds, the head, and totals equal to fer_arch_sizes and the built model */
    {
        fer_arch sc;
        OK(fer_arch_preset("simplecnn", FER_HEAD_SOFTMAX, &sc));
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        OK(fer_arch_describe(&sc, "simplecnn", mem));
        fclose(mem);
        CHECK(strstr(text, "  0  conv2d      out=32 k=3 stride=1 pad=1 bias=false   32x48x48") &&
                  strstr(text, "663552"),
              "first conv row:\n%s", text);
        CHECK(strstr(text, " 24  dropout     p=0.3 ") != NULL, "dropout row");
        CHECK(strstr(text, "     head ") != NULL, "head row");
        fer_arch_size_info sz;
        OK(fer_arch_sizes(&sc, "simplecnn", &sz));
        char total[160];
        snprintf(total, sizeof total, "total: %lld parameters (+ %lld buffer values), %.1f M",
                 sz.params, sz.buffers, (double)sz.macs / 1e6);
        CHECK(sz.params == 1500583 && strstr(text, total), "totals '%s' in:\n%s", total, text);
        free(text);
    }

    fer_backend_free(b);
    return fer_check_summary("test_arch");
}
