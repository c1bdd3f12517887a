/* Inference folding: conv2d + batchnorm2d (+ activation) folded into one node gives the
 * unfolded network's eval-mode logits within float rounding, on every backend, for the presets
 * and for a graph whose convs feed several readers (left alone); the folded copy refuses
 * training. A folded model's weights changed by any API (set_tensor, init, the param arena)
 * give a fresh model's logits: the weight generation it hands the backend's caches is
 * renewed. */
#include <string.h>

#include "fer/model.h"
#include "fer/rng_math.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

/* conv->bn->relu6 (folded with its activation), conv->bn read by two nodes (its conv folds, no
 * activation), conv read by two nodes (left alone), conv->leaky_relu without batch norm (the
 * activation folds), and a batch norm after an add (stays). */
static const char *graph_json =
    "{\"name\":\"foldnet\",\"input\":[2,9,8],\"classes\":4,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1,\"bias\":false},"
    "{\"name\":\"b1\",\"type\":\"batchnorm2d\"},{\"name\":\"r1\",\"type\":\"relu6\"},"
    "{\"name\":\"c2\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1,\"groups\":3},"
    "{\"name\":\"b2\",\"type\":\"batchnorm2d\"},"
    "{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"b2\",\"r1\"]},"
    "{\"name\":\"bs\",\"type\":\"batchnorm2d\"},"
    "{\"name\":\"c3\",\"type\":\"conv2d\",\"out\":6,\"k\":1,\"inputs\":[\"b2\"]},"
    "{\"name\":\"c4\",\"type\":\"conv2d\",\"out\":4,\"k\":3,\"stride\":2,\"pad\":1},"
    "{\"name\":\"l4\",\"type\":\"leaky_relu\",\"slope\":0.2},"
    "{\"name\":\"c5\",\"type\":\"conv2d\",\"out\":6,\"k\":1,\"inputs\":[\"c3\"]},"
    "{\"name\":\"m\",\"type\":\"add\",\"inputs\":[\"c5\",\"bs\"]},"
    "{\"name\":\"gap\",\"type\":\"global_avgpool\"},{\"name\":\"f\",\"type\":\"flatten\"},"
    "{\"name\":\"g2\",\"type\":\"global_avgpool\",\"inputs\":[\"l4\"]},"
    "{\"name\":\"f2\",\"type\":\"flatten\"},"
    "{\"name\":\"cat\",\"type\":\"linear\",\"out\":5,\"inputs\":[\"f\"]},"
    "{\"name\":\"cat2\",\"type\":\"linear\",\"out\":5,\"inputs\":[\"f2\"]},"
    "{\"name\":\"sum\",\"type\":\"add\",\"inputs\":[\"cat\",\"cat2\"]}]}";

/* Batch-norm statistics and affine parameters away from 1/0, as after training. */
static void perturb_batchnorm(fer_model *m)
{
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        const char *suffix = strrchr(ti.name, '.');
        int mean = strcmp(suffix, ".running_mean") == 0, var = strcmp(suffix, ".running_var") == 0;
        int affine = ti.role == FER_TENSOR_PARAM && ti.ndim == 1 && !strstr(ti.name, "head");
        if (!mean && !var && !affine)
            continue;
        float v[512];
        for (size_t i = 0; i < ti.numel && i < 512; i++) {
            float r = fer_rng_symmetric(100 + (uint64_t)t, i);
            v[i] = var ? 0.3f + 2.0f * r * r : mean ? 0.5f * r : 1.0f + 0.4f * r;
        }
        if (ti.numel <= 512)
            OK(fer_model_set_tensor(m, ti.name, v, ti.numel));
    }
}

static void check_fold(const char *backend, const char *name, const char *json, int n_removed)
{
    fer_backend *b;
    if (fer_backend_new(backend, 2, &b) != FER_OK) {
        printf("SKIP %s on %s: %s\n", name, backend, fer_last_error());
        return;
    }
    fer_arch a;
    if (json)
        OK(fer_arch_from_json(json, name, &a));
    else
        OK(fer_arch_preset(name, FER_HEAD_SOFTMAX, &a));
    enum { N = 3 };
    fer_model *m, *f;
    OK(fer_model_new(&a, b, N, &m));
    OK(fer_model_init(m, 5));
    perturb_batchnorm(m);
    int removed = -1;
    OK(fer_model_fold(m, b, N, &f, &removed));
    CHECK(removed == n_removed, "%s: %d nodes folded, expected %d", name, removed, n_removed);
    CHECK(fer_model_is_folded(f) && !fer_model_is_folded(m), "%s: folded flag", name);
    CHECK(fer_model_arch(f)->n_layers == a.n_layers - n_removed, "%s: %d nodes", name,
          fer_model_arch(f)->n_layers);
    size_t in = (size_t)a.in_c * a.in_h * a.in_w;
    float *x = malloc(N * in * sizeof *x);
    for (size_t i = 0; i < N * in; i++)
        x[i] = 1.5f * fer_rng_symmetric(42, i);
    float lm[N * 16], lf[N * 16];
    OK(fer_model_forward(m, x, N, FER_MODE_EVAL, NULL, 0, lm));
    OK(fer_model_forward(f, x, N, FER_MODE_EVAL, NULL, 0, lf));
    double num = 0, den = 0, worst = 0;
    for (int i = 0; i < N * a.n_classes; i++) {
        double d = (double)lm[i] - lf[i];
        num += d * d;
        den += (double)lm[i] * lm[i];
        worst = fmax(worst, fabs(d));
    }
    /* float rounding of the folded weights and of one fewer pass: ~1e-13 relative squared */
    CHECK(num <= 1e-10 * den, "%s on %s: logits NMSE %g", name, backend, num / den);
    printf("%-10s on %-4s: %2d nodes folded, logits NMSE %.2g, worst |diff| %.2g\n", name,
           backend, removed, num / den, worst);
    int32_t labels[N] = {0, 1, 2};
    CHECK(fer_model_forward(f, x, N, FER_MODE_TRAIN, labels, 0, NULL) == FER_ERR_ARG &&
              strstr(fer_last_error(), "inference only"),
          "%s: folded training refused", name);
    free(x);
    fer_model_free(f);
    fer_model_free(m);
    fer_backend_free(b);
}

/* Winograd (16 -> 16), flat-plane tiles (in_c 4), 1x1 GEMM and im2col (5x5 stride 3): every
 * cpu path that caches packed weights. */
static const char *cache_json =
    "{\"name\":\"cachenet\",\"input\":[4,12,10],\"classes\":3,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":16,\"k\":3,\"pad\":1,\"bias\":false},"
    "{\"name\":\"b1\",\"type\":\"batchnorm2d\"},{\"name\":\"r1\",\"type\":\"relu\"},"
    "{\"name\":\"c2\",\"type\":\"conv2d\",\"out\":16,\"k\":3,\"pad\":1,\"bias\":false},"
    "{\"name\":\"b2\",\"type\":\"batchnorm2d\"},"
    "{\"name\":\"c3\",\"type\":\"conv2d\",\"out\":24,\"k\":1},"
    "{\"name\":\"c4\",\"type\":\"conv2d\",\"out\":8,\"k\":5,\"stride\":3,\"pad\":2},"
    "{\"name\":\"gap\",\"type\":\"global_avgpool\"},{\"name\":\"f\",\"type\":\"flatten\"}]}";

/* f's logits must be those of a fresh (unfolded, uncached) model holding f's tensors. */
static void expect_fresh_logits(fer_model *f, const char *backend, const float *x, int n,
                                const char *change)
{
    enum { MAXL = 64 };
    float got[MAXL], want[MAXL];
    fer_backend *b2;
    fer_model *r;
    OK(fer_backend_new(backend, 2, &b2));
    OK(fer_model_new(fer_model_arch(f), b2, n, &r));
    for (int t = 0; t < fer_model_n_tensors(f); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(f, t, &ti));
        float *v = malloc(ti.numel * sizeof *v);
        OK(fer_model_get_tensor(f, ti.name, v, ti.numel));
        OK(fer_model_set_tensor(r, ti.name, v, ti.numel));
        free(v);
    }
    OK(fer_model_forward(f, x, n, FER_MODE_EVAL, NULL, 0, got));
    OK(fer_model_forward(r, x, n, FER_MODE_EVAL, NULL, 0, want));
    CHECK(memcmp(got, want, (size_t)n * fer_model_arch(f)->n_classes * sizeof *got) == 0,
          "cachenet on %s: after %s the folded model used stale packed weights", backend,
          change);
    fer_model_free(r);
    fer_backend_free(b2);
}

static void check_weight_changes(const char *backend)
{
    fer_backend *b;
    if (fer_backend_new(backend, 2, &b) != FER_OK) {
        printf("SKIP weight changes on %s: %s\n", backend, fer_last_error());
        return;
    }
    enum { N = 2 };
    fer_arch a;
    fer_model *m, *f;
    OK(fer_arch_from_json(cache_json, "cachenet", &a));
    OK(fer_model_new(&a, b, N, &m));
    OK(fer_model_init(m, 3));
    perturb_batchnorm(m);
    OK(fer_model_fold(m, b, N, &f, NULL));
    float x[N * 4 * 12 * 10];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = fer_rng_symmetric(44, i);
    expect_fresh_logits(f, backend, x, N, "folding");
    expect_fresh_logits(f, backend, x, N, "nothing"); /* the cached packing */
    float w[16 * 16 * 9];
    const char *c2 = "layers.1.weight"; /* c2 after c1 + b1 + r1 became node 0 */
    OK(fer_model_get_tensor(f, c2, w, 16 * 16 * 9));
    w[100] += 0.5f;
    OK(fer_model_set_tensor(f, c2, w, 16 * 16 * 9));
    expect_fresh_logits(f, backend, x, N, "fer_model_set_tensor");
    OK(fer_model_init(f, 11));
    expect_fresh_logits(f, backend, x, N, "fer_model_init");
    size_t n_floats;
    float *p = fer_model_param_arena(f, &n_floats); /* host memory on cpu and ref */
    for (size_t i = 0; i < n_floats; i += 7)
        p[i] = -p[i];
    expect_fresh_logits(f, backend, x, N, "writes through fer_model_param_arena");
    printf("weight changes on %-4s: fresh logits after set_tensor, init, arena writes\n",
           backend);
    fer_model_free(f);
    fer_model_free(m);
    fer_backend_free(b);
}

int main(void)
{
    check_weight_changes("cpu");
    check_weight_changes("ref");
    const char *const *names = fer_backend_list();
    for (int k = 0; names[k]; k++) {
        check_fold(names[k], "simplecnn", NULL, 12); /* 6 x (BN + ReLU) */
        check_fold(names[k], "tiny", NULL, 4);
        check_fold(names[k], "vgg_gap", NULL, 16);
        /* stem BN+ReLU, per block bn1+relu1, bn2, projection BN: 2 + 6*3 + 3 */
        check_fold(names[k], "resnet_s", NULL, 23);
        /* b1+r1, b2 (c2's only reader; b2 itself has two), l4 */
        check_fold(names[k], "foldnet", graph_json, 4);
    }
    return fer_check_summary("test_fold");
}
