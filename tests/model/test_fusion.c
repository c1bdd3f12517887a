/* ReLU fusion (fer_model_fused_relus): on the cpu backend a ReLU that runs in place on a batch
 * norm's or an add's output runs inside that node's passes. The fused model must give the same
 * bits as the same backend with fusion off (fer_backend.fuses_relu cleared): logits, loss,
 * every gradient, the running statistics and the eval-mode logits, on the presets and on a graph
 * with the cases that must not fuse (a batch norm output that another node also reads), planes
 * whose sizes leave vector tails, batchnorm1d, a residual add, and the synchronised batch norm
 * path (one process, an identity sum). A fused ReLU run alone on other memory (as quant.c's
 * FP32 fallback runs a node) still computes its ReLU.
 * Max-pool fusion (fer_model_fused_pools): a 2x2 stride-2 pool that alone reads a batch norm's
 * output (after its fused ReLU or not) runs inside the batch norm's output pass; the same bits
 * again, on SimpleCNN (three) and on a graph with odd planes, a pool straight after a batch norm
 * and one that must not fuse (the ReLU's output also feeds a global pool); an absorbed pool run
 * alone on other memory still pools. */
#include <stdlib.h>
#include <string.h>

#include "../../model/src/layer_ops.h" /* one node's forward, as quant.c runs it */
#include "fer/backend.h"
#include "fer/model.h"
#include "fer/rng_math.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

/* 3x7x9 input: 63-value planes leave tails at every vector width. r1, r3, r5 (after the add
 * s2) and r4 (after batchnorm1d) fuse; r2 does not (bn2's output also feeds the add s). */
static const char *mixed_json =
    "{\"name\":\"mixed\",\"input\":[3,7,9],\"classes\":3,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1,\"bias\":false},"
    "{\"name\":\"bn1\",\"type\":\"batchnorm2d\"},{\"name\":\"r1\",\"type\":\"relu\"},"
    "{\"name\":\"c2\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1},"
    "{\"name\":\"bn2\",\"type\":\"batchnorm2d\"},{\"name\":\"r2\",\"type\":\"relu\"},"
    "{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"r2\",\"bn2\"]},"
    "{\"name\":\"bn3\",\"type\":\"batchnorm2d\"},{\"name\":\"r3\",\"type\":\"relu\"},"
    "{\"name\":\"s2\",\"type\":\"add\",\"inputs\":[\"r3\",\"r1\"]},{\"name\":\"r5\",\"type\":\"relu\"},"
    "{\"name\":\"gap\",\"type\":\"global_avgpool\"},{\"name\":\"f\",\"type\":\"flatten\"},"
    "{\"name\":\"l\",\"type\":\"linear\",\"out\":8,\"bias\":false},"
    "{\"name\":\"b1\",\"type\":\"batchnorm1d\"},{\"name\":\"r4\",\"type\":\"relu\"}]}";

/* 3x7x9 input again: p1 (after bn1 + r1, 7x9 -> 3x4, a row and a column left over) and p2
 * (straight after bn2) fuse; p3 does not (r3 also feeds g3). */
static const char *pooled_json =
    "{\"name\":\"pooled\",\"input\":[3,7,9],\"classes\":3,\"layers\":["
    "{\"name\":\"c1\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1,\"bias\":false},"
    "{\"name\":\"bn1\",\"type\":\"batchnorm2d\"},{\"name\":\"r1\",\"type\":\"relu\"},"
    "{\"name\":\"p1\",\"type\":\"maxpool2d\",\"k\":2,\"stride\":2},"
    "{\"name\":\"c2\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1},"
    "{\"name\":\"bn2\",\"type\":\"batchnorm2d\"},"
    "{\"name\":\"p2\",\"type\":\"maxpool2d\",\"k\":2,\"stride\":2},"
    "{\"name\":\"c3\",\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1,\"inputs\":[\"p1\"]},"
    "{\"name\":\"bn3\",\"type\":\"batchnorm2d\"},{\"name\":\"r3\",\"type\":\"relu\"},"
    "{\"name\":\"p3\",\"type\":\"maxpool2d\",\"k\":2,\"stride\":2},"
    "{\"name\":\"s\",\"type\":\"add\",\"inputs\":[\"p3\",\"p2\"]},"
    "{\"name\":\"g1\",\"type\":\"global_avgpool\"},"
    "{\"name\":\"g3\",\"type\":\"global_avgpool\",\"inputs\":[\"r3\"]},"
    "{\"name\":\"s2\",\"type\":\"add\",\"inputs\":[\"g1\",\"g3\"]},"
    "{\"name\":\"f\",\"type\":\"flatten\"},{\"name\":\"l\",\"type\":\"linear\",\"out\":4}]}";

static fer_status sum_identity(void *ctx, double *values, int count)
{
    (void)ctx, (void)values, (void)count; /* one process: its sums are the global ones */
    return FER_OK;
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

/* Every PARAM gradient and every BUFFER tensor of the two models, bit for bit. */
static void same_tensors(fer_model *a, fer_model *b, const char *what)
{
    for (int t = 0; t < fer_model_n_tensors(a); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(a, t, &ti));
        float *va = malloc((ti.numel ? ti.numel : 1) * 4), *vb = malloc((ti.numel ? ti.numel : 1) * 4);
        if (ti.role == FER_TENSOR_PARAM) {
            OK(fer_model_get_grad(a, ti.name, va, ti.numel));
            OK(fer_model_get_grad(b, ti.name, vb, ti.numel));
        } else {
            OK(fer_model_get_tensor(a, ti.name, va, ti.numel));
            OK(fer_model_get_tensor(b, ti.name, vb, ti.numel));
        }
        CHECK(same_floats(va, vb, ti.numel), "%s: %s %s differs with fusion", what,
              ti.role == FER_TENSOR_PARAM ? "gradient" : "buffer", ti.name);
        free(va);
        free(vb);
    }
}

/* Two training steps' forward/backward (the second after the running statistics moved) and an
 * eval forward, fused against unfused. */
static void fused_matches_unfused(const char *name, const char *json, int n, int expect_fused,
                                  int expect_pools, int sync)
{
    fer_backend *fused, *plain;
    OK(fer_backend_new("cpu", 2, &fused));
    OK(fer_backend_new("cpu", 2, &plain));
    plain->fuses_relu = plain->fuses_pool = 0;
    fer_arch a;
    if (json)
        OK(fer_arch_from_json(json, name, &a));
    else
        OK(fer_arch_preset(name, FER_HEAD_SOFTMAX, &a));
    fer_model *mf, *mp;
    OK(fer_model_new(&a, fused, n, &mf));
    OK(fer_model_new(&a, plain, n, &mp));
    int nf = fer_model_fused_relus(mf);
    CHECK(expect_fused < 0 ? nf > 0 : nf == expect_fused, "%s: %d ReLUs fused (expected %d)", name,
          nf, expect_fused);
    CHECK(fer_model_fused_relus(mp) == 0, "%s: fused on a backend that does not fuse", name);
    int np = fer_model_fused_pools(mf);
    CHECK(np == expect_pools, "%s: %d max pools fused (expected %d)", name, np, expect_pools);
    CHECK(fer_model_fused_pools(mp) == 0, "%s: pools fused on a backend that does not", name);
    if (sync) {
        OK(fer_model_set_bn_sync(mf, sum_identity, NULL));
        OK(fer_model_set_bn_sync(mp, sum_identity, NULL));
    }
    OK(fer_model_init(mf, 5));
    OK(fer_model_init(mp, 5));
    size_t in = (size_t)a.in_c * a.in_h * a.in_w, nl = (size_t)n * a.n_classes;
    float *x = malloc((size_t)n * in * sizeof *x);
    float *lf = malloc(nl * 4), *lp = malloc(nl * 4);
    int32_t labels[8];
    for (int i = 0; i < n; i++)
        labels[i] = i % a.n_classes;
    fer_loss_config lc = {.kind = FER_LOSS_CE};
    for (int step = 0; step < 2; step++) {
        for (size_t i = 0; i < (size_t)n * in; i++) /* mean 0.3: some channels mostly > 0 */
            x[i] = 0.3f + fer_rng_symmetric(40 + step, i);
        float loss_f, loss_p;
        OK(fer_model_forward(mf, x, n, FER_MODE_TRAIN, labels, 3 + step, lf));
        OK(fer_model_forward(mp, x, n, FER_MODE_TRAIN, labels, 3 + step, lp));
        CHECK(same_floats(lf, lp, nl), "%s step %d: training logits differ with fusion", name, step);
        OK(fer_model_loss(mf, &lc, labels, &loss_f));
        OK(fer_model_loss(mp, &lc, labels, &loss_p));
        CHECK(loss_f == loss_p, "%s: loss %g vs %g", name, (double)loss_f, (double)loss_p);
        OK(fer_model_backward(mf));
        OK(fer_model_backward(mp));
        same_tensors(mf, mp, name);
    }
    OK(fer_model_forward(mf, x, n, FER_MODE_EVAL, NULL, 0, lf));
    OK(fer_model_forward(mp, x, n, FER_MODE_EVAL, NULL, 0, lp));
    CHECK(same_floats(lf, lp, nl), "%s: eval logits differ with fusion", name);
    printf("%s%s: %d ReLUs and %d max pools fused, same bits as unfused\n", name,
           sync ? " (bn sync)" : "", nf, np);
    free(x);
    free(lf);
    free(lp);
    fer_model_free(mf);
    fer_model_free(mp);
    fer_backend_free(fused);
    fer_backend_free(plain);
}

/* The mixed graph on a backend, for batches of 2. */
static void mixed_model(const char *backend, fer_backend **b, fer_model **m)
{
    OK(fer_backend_new(backend, 1, b));
    fer_arch a;
    OK(fer_arch_from_json(mixed_json, "mixed", &a));
    OK(fer_model_new(&a, *b, 2, m));
}

/* The absorbed r1 (node 2 of mixed) run alone on a buffer of its own still applies its ReLU. */
static void absorbed_relu_alone(void)
{
    fer_backend *b;
    fer_model *m;
    mixed_model("cpu", &b, &m);
    const fer_layer_rt *r1 = &m->layers[2];
    CHECK(r1->spec.kind == FER_LAYER_RELU && r1->absorbed, "node 2 is the absorbed r1");
    size_t count = 2 * r1->out_numel;
    float *in = malloc(count * sizeof *in);
    for (size_t i = 0; i < count; i++)
        in[i] = fer_rng_symmetric(3, i);
    const float *xs[1] = {in};
    OK(fer_layer_op_of(FER_LAYER_RELU)->forward(m, 2, xs, 2, 0, 0));
    int bad = 0;
    for (size_t i = 0; i < count; i++)
        bad += r1->y[i] != (in[i] > 0.0f ? in[i] : 0.0f);
    CHECK(bad == 0, "an absorbed ReLU run alone: %d values are not relu(x)", bad);
    free(in);
    fer_model_free(m);
    fer_backend_free(b);
}

/* The absorbed p1 (node 3 of pooled) run alone on a buffer of its own still pools it. */
static void absorbed_pool_alone(void)
{
    fer_backend *b;
    fer_model *m;
    OK(fer_backend_new("cpu", 1, &b));
    fer_arch a;
    OK(fer_arch_from_json(pooled_json, "pooled", &a));
    OK(fer_model_new(&a, b, 2, &m));
    const fer_layer_rt *p1 = &m->layers[3];
    CHECK(p1->spec.kind == FER_LAYER_MAXPOOL2D && p1->pool_absorbed, "node 3 is the absorbed p1");
    const int c = 6, h = 7, w = 9, oh = 3, ow = 4;
    float *in = malloc(2 * (size_t)c * h * w * sizeof *in);
    for (int i = 0; i < 2 * c * h * w; i++)
        in[i] = fer_rng_symmetric(9, (uint64_t)i);
    const float *xs[1] = {in};
    OK(fer_layer_op_of(FER_LAYER_MAXPOOL2D)->forward(m, 3, xs, 2, 0, 0));
    int bad = 0;
    for (int p = 0; p < 2 * c; p++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                const float *q = in + (size_t)p * h * w + (size_t)(2 * y) * w + 2 * x;
                float mx = q[0] > q[1] ? q[0] : q[1];
                mx = q[w] > mx ? q[w] : mx;
                mx = q[w + 1] > mx ? q[w + 1] : mx;
                bad += p1->y[(size_t)p * oh * ow + (size_t)y * ow + x] != mx;
            }
    CHECK(bad == 0, "an absorbed max pool run alone: %d values are not the window maxima", bad);
    free(in);
    fer_model_free(m);
    fer_backend_free(b);
}

int main(void)
{
    absorbed_relu_alone();
    absorbed_pool_alone();
    fused_matches_unfused("mixed", mixed_json, 5, 4, 0, 0);
    fused_matches_unfused("mixed", mixed_json, 5, 4, 0, 1);
    fused_matches_unfused("pooled", pooled_json, 5, 2, 2, 0);
    fused_matches_unfused("pooled", pooled_json, 5, 2, 2, 1);
    fused_matches_unfused("simplecnn", NULL, 3, 6, 3, 0);
    fused_matches_unfused("resnet_s", NULL, 2, -1, 0, 0);

    /* ref (the oracle) runs the plain graph */
    fer_backend *ref;
    fer_model *m;
    mixed_model("ref", &ref, &m);
    CHECK(fer_model_fused_relus(m) == 0, "ref fuses");
    fer_model_free(m);
    fer_backend_free(ref);
    return fer_check_summary("test_fusion");
}
