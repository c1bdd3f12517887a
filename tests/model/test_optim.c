/* Optimisers against hand-written reference updates (independent double-precision formulas of
 * torch.optim), optimiser state get/set, gradient clipping, class weights, and schedules against
 * the PyTorch formulas. */
#include "../../model/src/backend_ref.h"
#include "fer/losses.h"
#include "fer/optim.h"
#include "fer/rng_math.h"
#include <string.h>

#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

#define N 5
static const double P0[N] = {1.0, -0.5, 0.25, 2.0, -1.5};
static const double G[3][N] = {{0.5, -0.2, 0.0, 1e-3, -3.0},
                               {-0.2, -0.1, 0.3, 2e-3, 1.0},
                               {0.4, 0.05, -0.3, -1e-3, 0.5}};

/* torch.optim.Adam/AdamW, written out */
static void adam_ref(double lr, double b1, double b2, double eps, double wd, int decoupled,
                     double *p)
{
    double m[N] = {0}, v[N] = {0};
    for (int t = 1; t <= 3; t++)
        for (int i = 0; i < N; i++) {
            double g = G[t - 1][i];
            if (decoupled)
                p[i] *= 1 - lr * wd;
            else
                g += wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mhat = m[i] / (1 - pow(b1, t)), vhat = v[i] / (1 - pow(b2, t));
            p[i] -= lr * mhat / (sqrt(vhat) + eps);
        }
}

/* torch.optim.SGD, written out */
static void sgd_ref(double lr, double mom, double damp, double wd, int nesterov, double *p)
{
    double buf[N] = {0};
    for (int t = 1; t <= 3; t++)
        for (int i = 0; i < N; i++) {
            double g = G[t - 1][i] + wd * p[i];
            if (mom != 0) {
                buf[i] = t == 1 ? g : mom * buf[i] + (1 - damp) * g;
                g = nesterov ? g + mom * buf[i] : buf[i];
            }
            p[i] -= lr * g;
        }
}

static void check_op(const char *what, fer_optim_args a, const double *want)
{
    float p[N], g[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++)
        p[i] = (float)P0[i];
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < N; i++)
            g[i] = (float)G[t - 1][i];
        a.step = t;
        OK(fer_ref_optimizer_step(NULL, &a, N, p, g, m, v));
    }
    for (int i = 0; i < N; i++)
        CHECK_NEAR(p[i], want[i], 2e-6 * fmax(1.0, fabs(want[i])), "%s", what);
}

static void test_rules(void)
{
    double p[N];
    memcpy(p, P0, sizeof p);
    adam_ref(0.1, 0.9, 0.999, 1e-8, 0, 0, p);
    check_op("adam", (fer_optim_args){FER_OPTIM_ADAM, 0.1f, 0.9f, 0.999f, 1e-8f, 0, 0, 0, 0, 0},
             p);
    /* first Adam step is lr * sign(g) (bias correction) */
    CHECK_NEAR(P0[0] - 0.1, 0.9, 1e-12, "%s", "sanity");
    memcpy(p, P0, sizeof p);
    adam_ref(0.05, 0.8, 0.99, 1e-6, 0.1, 0, p);
    check_op("adam + L2", (fer_optim_args){FER_OPTIM_ADAM, 0.05f, 0.8f, 0.99f, 1e-6f, 0.1f, 0, 0, 0,
                                            0},
             p);
    memcpy(p, P0, sizeof p);
    adam_ref(0.05, 0.9, 0.999, 1e-8, 0.1, 1, p);
    check_op("adamw", (fer_optim_args){FER_OPTIM_ADAMW, 0.05f, 0.9f, 0.999f, 1e-8f, 0.1f, 0, 0, 0,
                                        0},
             p);
    memcpy(p, P0, sizeof p);
    sgd_ref(0.1, 0, 0, 0, 0, p);
    check_op("sgd", (fer_optim_args){FER_OPTIM_SGD, 0.1f, 0, 0, 0, 0, 0, 0, 0, 0}, p);
    memcpy(p, P0, sizeof p);
    sgd_ref(0.1, 0.9, 0.25, 0.01, 0, p);
    check_op("sgd momentum dampening wd",
             (fer_optim_args){FER_OPTIM_SGD, 0.1f, 0, 0, 0, 0.01f, 0.9f, 0.25f, 0, 0}, p);
    memcpy(p, P0, sizeof p);
    sgd_ref(0.1, 0.9, 0, 5e-4, 1, p);
    check_op("sgd nesterov", (fer_optim_args){FER_OPTIM_SGD, 0.1f, 0, 0, 0, 5e-4f, 0.9f, 0, 1, 0},
             p);
}

/* fer_optimizer over a model: SGD moves every parameter by -lr * grad; state round trip. */
static void test_optimizer_object(void)
{
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_arch a;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &a));
    fer_model *m;
    OK(fer_model_new(&a, b, 4, &m));
    OK(fer_model_init(m, 1));
    float x[4 * 48 * 48];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = fer_rng_symmetric(2, i);
    int32_t y[4] = {0, 1, 2, 3};
    fer_loss_config lc = {.kind = FER_LOSS_CE};
    OK(fer_model_forward(m, x, 4, FER_MODE_TRAIN, y, 0, NULL));
    OK(fer_model_loss(m, &lc, y, NULL));
    OK(fer_model_backward(m));

    /* clipping: norm of all gradients, then scaled to max_norm */
    double ss = 0;
    size_t total = 0;
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        if (ti.role != FER_TENSOR_PARAM)
            continue;
        float *g = malloc(ti.numel * 4);
        OK(fer_model_get_grad(m, ti.name, g, ti.numel));
        for (size_t i = 0; i < ti.numel; i++)
            ss += (double)g[i] * g[i];
        total += ti.numel;
        free(g);
    }
    CHECK(total == fer_model_param_count(m), "param count");
    float norm, norm2;
    OK(fer_model_clip_grad_norm(m, 0.0f, &norm));
    CHECK_NEAR(norm, sqrt(ss), 1e-5 * sqrt(ss), "%s", "grad norm");
    OK(fer_model_clip_grad_norm(m, norm / 4, &norm2));
    CHECK_NEAR(norm2, norm, 1e-6 * norm, "%s", "norm before clipping is returned");
    OK(fer_model_clip_grad_norm(m, 0.0f, &norm2));
    CHECK_NEAR(norm2, norm / 4, 1e-4 * norm, "%s", "clipped norm");
    OK(fer_model_clip_grad_norm(m, norm, &norm2)); /* no-op above the norm */
    OK(fer_model_clip_grad_norm(m, 0.0f, &norm2));
    CHECK_NEAR(norm2, norm / 4, 1e-4 * norm, "%s", "clip above the norm is a no-op");

    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_SGD, 0.5f, &oc);
    CHECK(oc.momentum == 0 && oc.weight_decay == 0, "sgd defaults");
    fer_optimizer *o;
    OK(fer_optimizer_new(m, &oc, &o));
    fer_tensor_info ti;
    OK(fer_model_tensor_info(m, 0, &ti));
    float w0[72], g0[72], w1[72];
    OK(fer_model_get_tensor(m, ti.name, w0, 72));
    OK(fer_model_get_grad(m, ti.name, g0, 72));
    OK(fer_optimizer_step(o, 0.25f)); /* the schedule's lr wins over the config's */
    OK(fer_model_get_tensor(m, ti.name, w1, 72));
    for (int i = 0; i < 72; i++)
        CHECK_NEAR(w1[i], w0[i] - 0.25f * g0[i], 1e-7, "%s", "sgd step on the model");
    CHECK(fer_optimizer_steps(o) == 1, "steps");
    fer_optimizer_free(o);

    fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
    CHECK(oc.beta1 == 0.9f && oc.beta2 == 0.999f && oc.eps == 1e-8f && oc.weight_decay == 0,
          "adam defaults");
    fer_optim_config_default(FER_OPTIM_ADAMW, 1e-3f, &oc);
    CHECK(oc.weight_decay == 0.01f, "adamw default decay");
    OK(fer_optimizer_new(m, &oc, &o));
    OK(fer_optimizer_step(o, 1e-3f));
    OK(fer_optimizer_step(o, 1e-3f));
    size_t n = fer_optimizer_state_floats(o);
    CHECK(n == fer_model_param_count(m), "state floats");
    float *mm = malloc(n * 4), *vv = malloc(n * 4), *m2 = malloc(n * 4), *v2 = malloc(n * 4);
    long step;
    OK(fer_optimizer_get_state(o, &step, mm, vv));
    CHECK(step == 2, "step %ld", step);
    fer_optimizer *o2;
    OK(fer_optimizer_new(m, &oc, &o2));
    OK(fer_optimizer_set_state(o2, step, mm, vv));
    OK(fer_optimizer_get_state(o2, &step, m2, v2));
    CHECK(step == 2 && memcmp(mm, m2, n * 4) == 0 && memcmp(vv, v2, n * 4) == 0,
          "state round trip");
    CHECK(fer_optimizer_set_state(o2, -1, mm, vv) == FER_ERR_ARG, "negative step");
    fer_optim_config bad = oc;
    bad.kind = FER_OPTIM_SGD;
    bad.nesterov = 1;
    bad.momentum = 0;
    fer_optimizer *o3;
    CHECK(fer_optimizer_new(m, &bad, &o3) == FER_ERR_ARG, "nesterov without momentum");
    free(mm), free(vv), free(m2), free(v2);
    fer_optimizer_free(o2);
    fer_optimizer_free(o);
    fer_model_free(m);
    fer_backend_free(b);
}

static void test_class_weights(void)
{
    const int64_t counts[7] = {3995, 436, 4097, 7215, 4965, 4830, 0};
    float w[7];
    const char *modes[] = {"inv", "inv_sqrt", "effective"};
    for (int k = 0; k < 3; k++) {
        fer_weight_mode mode;
        OK(fer_weight_mode_parse(modes[k], &mode));
        OK(fer_class_weights(counts, 7, mode, 0.999f, w));
        double raw[7], sum = 0, mean = 0;
        for (int c = 0; c < 7; c++) {
            double n = counts[c] < 1 ? 1 : (double)counts[c];
            const double beta = (double)0.999f; /* the float the library was given */
            raw[c] = k == 0 ? 1 / n : k == 1 ? 1 / sqrt(n) : (1 - beta) / (1 - pow(beta, n));
            sum += raw[c];
        }
        for (int c = 0; c < 7; c++) {
            CHECK_NEAR(w[c], raw[c] * 7 / sum, 1e-6 * w[c], "%s", modes[k]);
            mean += w[c] / 7;
        }
        CHECK_NEAR(mean, 1.0, 1e-6, "%s", "mean 1");
        CHECK(w[6] > w[1] && w[1] > w[3], "%s: rarer classes weigh more", modes[k]);
    }
    fer_weight_mode mode;
    CHECK(fer_weight_mode_parse("sqrt", &mode) == FER_ERR_ARG, "bad mode");
    CHECK(fer_class_weights(counts, 7, FER_WEIGHT_EFFECTIVE, 1.0f, w) == FER_ERR_ARG, "beta 1");
    const int64_t neg[2] = {3, -1};
    CHECK(fer_class_weights(neg, 2, FER_WEIGHT_INV, 0, w) == FER_ERR_ARG, "negative count");
    CHECK(fer_class_weights(counts, 0, FER_WEIGHT_INV, 0, w) == FER_ERR_ARG, "no classes");
}

static void test_schedules(void)
{
    const double pi = 3.14159265358979323846;
    fer_schedule s;
    fer_schedule_init(&s, FER_SCHED_COSINE, 1e-3f, 30);
    CHECK(s.t_max == 30, "t_max = epochs");
    for (int e = 0; e <= 30; e++)
        CHECK_NEAR(fer_schedule_lr(&s, e), 1e-3 * (1 + cos(pi * e / 30)) / 2, 1e-10, "%s", "cosine");
    CHECK_NEAR(fer_schedule_lr(&s, 0), 1e-3, 1e-10, "%s", "cosine starts at base");
    CHECK_NEAR(fer_schedule_lr(&s, 30), 0.0, 1e-12, "%s", "cosine ends at eta_min");
    s.eta_min = 1e-5f;
    CHECK_NEAR(fer_schedule_lr(&s, 15), 1e-5 + (1e-3 - 1e-5) / 2, 1e-9, "%s", "cosine eta_min");

    fer_schedule_init(&s, FER_SCHED_STEP, 0.1f, 30);
    s.step_size = 10;
    s.gamma = 0.5f;
    CHECK_NEAR(fer_schedule_lr(&s, 9), 0.1, 1e-8, "%s", "step 9");
    CHECK_NEAR(fer_schedule_lr(&s, 10), 0.05, 1e-8, "%s", "step 10");
    CHECK_NEAR(fer_schedule_lr(&s, 25), 0.025, 1e-8, "%s", "step 25");

    fer_schedule_init(&s, FER_SCHED_PLATEAU, 0.1f, 30);
    CHECK(s.factor == 0.1f && s.patience == 10 && s.threshold == 1e-4f, "plateau defaults");
    s.patience = 2;
    s.factor = 0.5f;
    /* improves, then 3 bad epochs (> patience 2) -> halve, counter resets */
    const float metric[] = {0.3f, 0.4f, 0.4f, 0.39f, 0.4f, 0.41f, 0.41f, 0.41f, 0.41f};
    const double want[] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05};
    for (int e = 0; e < 9; e++) {
        CHECK_NEAR(fer_schedule_lr(&s, e), want[e], 1e-7 * want[e], "%s", "plateau");
        fer_schedule_observe(&s, metric[e]);
    }
    CHECK_NEAR(fer_schedule_lr(&s, 9), 0.025, 1e-9, "%s", "plateau second reduction");
    fer_schedule_init(&s, FER_SCHED_NONE, 0.2f, 30);
    CHECK_NEAR(fer_schedule_lr(&s, 17), 0.2, 1e-8, "%s", "none");
    fer_schedule_kind k;
    OK(fer_schedule_parse("cosine", &k));
    CHECK(k == FER_SCHED_COSINE, "parse cosine");
    OK(fer_schedule_parse("plateau", &k));
    CHECK(k == FER_SCHED_PLATEAU, "parse plateau");
    CHECK(fer_schedule_parse("linear", &k) == FER_ERR_ARG, "parse bad");
}

int main(void)
{
    test_rules();
    test_optimizer_object();
    test_class_weights();
    test_schedules();
    return fer_check_summary("test_optim");
}
