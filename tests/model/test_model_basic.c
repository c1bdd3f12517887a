/* Smoke test of the model API on every requested backend: tensor table names, a training step
 * (forward, loss, backward, clip, optimiser) that lowers the loss, eval determinism, errors. */
#include "fer/model.h"
#include "fer/optim.h"
#include "fer/rng_math.h"
#include <string.h>

#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

static void make_batch(int n, size_t in_numel, float *x, int32_t *labels)
{
    for (size_t i = 0; i < (size_t)n * in_numel; i++)
        x[i] = fer_rng_symmetric(99, i);
    for (int i = 0; i < n; i++)
        labels[i] = i % 7;
}

static void run(const char *backend_name, fer_head_kind head)
{
    fer_backend *b;
    fer_status st = fer_backend_new(backend_name, 1, &b);
    if (st == FER_ERR_UNSUPPORTED || st == FER_ERR_NODEVICE) {
        printf("backend %s unavailable: %s\n", backend_name, fer_last_error());
        exit(77);
    }
    OK(st);
    fer_arch arch;
    OK(fer_arch_preset("tiny", head, &arch));
    fer_model *m;
    OK(fer_model_new(&arch, b, 8, &m));
    OK(fer_model_init(m, 1234));

    fer_tensor_info ti;
    OK(fer_model_tensor_info(m, 0, &ti));
    CHECK(strcmp(ti.name, "layers.0.weight") == 0, "first tensor %s", ti.name);
    CHECK(ti.ndim == 4 && ti.shape[0] == 8 && ti.shape[1] == 1 && ti.shape[2] == 3, "shape");
    OK(fer_model_tensor_info(m, 2, &ti));
    CHECK(strcmp(ti.name, "layers.1.bias") == 0, "bn bias %s", ti.name);
    OK(fer_model_tensor_info(m, 5, &ti));
    CHECK(strcmp(ti.name, "layers.1.num_batches_tracked") == 0 && ti.ndim == 0 && ti.numel == 1,
          "nbt %s", ti.name);
    CHECK(fer_model_tensor_info(m, fer_model_n_tensors(m), &ti) == FER_ERR_ARG, "range");

    const int n = 8;
    float x[8 * 48 * 48], logits[8 * 7], logits2[8 * 7];
    int32_t labels[8];
    make_batch(n, 48 * 48, x, labels);

    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_ADAM, 1e-2f, &oc);
    fer_optimizer *opt;
    OK(fer_optimizer_new(m, &oc, &opt));
    fer_loss_config lc = {.kind = FER_LOSS_CE, .gamma = 2.0f};
    float first = 0, last = 0;
    for (int step = 0; step < 15; step++) {
        float loss, norm;
        OK(fer_model_forward(m, x, n, FER_MODE_TRAIN, labels, (uint64_t)step, NULL));
        OK(fer_model_loss(m, &lc, labels, &loss));
        OK(fer_model_backward(m));
        OK(fer_model_clip_grad_norm(m, 5.0f, &norm));
        CHECK(isfinite(loss) && isfinite(norm), "loss %g norm %g", loss, norm);
        OK(fer_optimizer_step(opt, 1e-2f));
        if (step == 0)
            first = loss;
        last = loss;
    }
    CHECK(last < first * 0.7f, "loss did not fall: %g -> %g", first, last);
    CHECK(fer_optimizer_steps(opt) == 15, "steps");
    float nbt;
    OK(fer_model_get_tensor(m, "layers.1.num_batches_tracked", &nbt, 1));
    CHECK(nbt == 15.0f, "num_batches_tracked %g", nbt);

    /* eval is deterministic and independent of the dropout seed and labels */
    OK(fer_model_forward(m, x, n, FER_MODE_EVAL, NULL, 1, logits));
    OK(fer_model_forward(m, x, n, FER_MODE_EVAL, labels, 2, logits2));
    CHECK(memcmp(logits, logits2, sizeof logits) == 0, "eval not deterministic");
    /* a smaller batch gives the same per-sample logits in eval mode */
    OK(fer_model_forward(m, x, 3, FER_MODE_EVAL, NULL, 0, logits2));
    for (int i = 0; i < 3 * 7; i++)
        CHECK_NEAR(logits[i], logits2[i], 1e-5, "%s", "batch independence");

    /* soft targets: one-hot rows give the int-label loss and gradients bit for bit (same
     * formula), also with smoothing, class weights and logit offsets; bad rows are refused */
    {
        float onehot[8 * 7] = {0}, g_soft[8 * 7 * 8], g_lab[8 * 7 * 8];
        for (int i = 0; i < n; i++)
            onehot[i * 7 + labels[i]] = 1.0f;
        fer_loss_config sc = {.kind = FER_LOSS_WCE, .label_smoothing = 0.1f,
                              .use_logit_offset = 1};
        for (int j = 0; j < 7; j++) {
            sc.class_weights[j] = 0.5f + 0.25f * (float)j;
            sc.logit_offset[j] = -0.3f * (float)j;
        }
        fer_tensor_info hw;
        OK(fer_model_tensor_info(m, fer_model_n_tensors(m) - 2, &hw));
        CHECK(hw.numel <= sizeof g_soft / sizeof *g_soft, "head tensor %s fits", hw.name);
        float l_soft = 0, l_lab = 0;
        OK(fer_model_forward(m, x, n, FER_MODE_TRAIN, labels, 7, NULL));
        OK(fer_model_loss_soft(m, &sc, onehot, &l_soft));
        OK(fer_model_backward(m));
        OK(fer_model_get_grad(m, hw.name, g_soft, hw.numel));
        OK(fer_model_forward(m, x, n, FER_MODE_TRAIN, labels, 7, NULL));
        OK(fer_model_loss(m, &sc, labels, &l_lab));
        OK(fer_model_backward(m));
        OK(fer_model_get_grad(m, hw.name, g_lab, hw.numel));
        CHECK(l_soft == l_lab, "one-hot soft loss %.9g vs label loss %.9g", l_soft, l_lab);
        CHECK(memcmp(g_soft, g_lab, hw.numel * sizeof(float)) == 0, "%s grads differ", hw.name);
        sc.use_logit_offset = 0;
        OK(fer_model_loss(m, &sc, labels, &l_soft));
        CHECK(l_soft != l_lab, "logit offsets change the loss (%g)", l_soft);

        float bad_t[8 * 7];
        memcpy(bad_t, onehot, sizeof bad_t);
        bad_t[3 * 7 + 1] = -0.25f;
        bad_t[3 * 7 + labels[3]] = 1.25f;
        CHECK(fer_model_loss_soft(m, &sc, bad_t, NULL) == FER_ERR_ARG, "negative target");
        CHECK(strstr(fer_last_error(), "sample 3") != NULL, "message: %s", fer_last_error());
        memcpy(bad_t, onehot, sizeof bad_t);
        bad_t[5 * 7 + labels[5]] = 0.9998f; /* sum off by 2e-4 > 1e-4 */
        CHECK(fer_model_loss_soft(m, &sc, bad_t, NULL) == FER_ERR_ARG, "row sum 0.9998");
        CHECK(strstr(fer_last_error(), "sum") != NULL, "message: %s", fer_last_error());
        bad_t[5 * 7 + labels[5]] = 0.99995f; /* within 1e-4 */
        OK(fer_model_loss_soft(m, &sc, bad_t, NULL));
        bad_t[5 * 7 + labels[5]] = NAN;
        CHECK(fer_model_loss_soft(m, &sc, bad_t, NULL) == FER_ERR_ARG, "NaN target");
        fer_loss_config fc = {.kind = FER_LOSS_FOCAL, .gamma = 2.0f};
        CHECK(fer_model_loss_soft(m, &fc, onehot, NULL) == FER_ERR_ARG, "focal soft");
        CHECK(strstr(fer_last_error(), "not supported") != NULL, "message: %s",
              fer_last_error());
        sc.use_logit_offset = 1;
        sc.logit_offset[2] = INFINITY;
        CHECK(fer_model_loss_soft(m, &sc, onehot, NULL) == FER_ERR_ARG, "infinite offset");
    }

    /* errors */
    CHECK(fer_model_forward(m, x, 9, FER_MODE_EVAL, NULL, 0, NULL) == FER_ERR_ARG, "batch > max");
    CHECK(fer_model_backward(m) == FER_ERR_ARG, "backward after eval forward");
    int32_t bad[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK(fer_model_forward(m, x, n, FER_MODE_TRAIN, bad, 0, NULL) == FER_ERR_ARG, "label 7");
    CHECK(strstr(fer_last_error(), "label 7") != NULL, "message: %s", fer_last_error());
    float tmp[3];
    CHECK(fer_model_get_tensor(m, "nope", tmp, 3) == FER_ERR_ARG, "unknown tensor");
    CHECK(fer_model_get_tensor(m, "layers.0.weight", tmp, 3) == FER_ERR_ARG, "numel mismatch");
    CHECK(fer_model_get_grad(m, "layers.1.running_mean", tmp, 8) == FER_ERR_ARG, "buffer grad");

    fer_optimizer_free(opt);
    fer_model_free(m);
    fer_backend_free(b);
}

int main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "ref";
    run(backend, FER_HEAD_SOFTMAX);
    run(backend, FER_HEAD_ARCFACE);
    return fer_check_summary("test_model_basic");
}
