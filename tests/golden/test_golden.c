/* Golden tests against PyTorch (fixtures from make_golden.py; see its docstring).
 *
 *   test_golden BACKEND CONFIG FIXTURE_DIR
 *   BACKEND: ref | cpu | cuda | auto
 *   CONFIG:  ce | wce | focal | arcface   SimpleCNN, batch of 4: eval logits/loss; train logits,
 *                                         loss, every parameter gradient, BN running statistics;
 *                                         parameters, statistics, losses, clipped-norms and eval
 *                                         logits after 3 steps of Adam and of SGD-Nesterov
 *            losses                        every loss flavour (CE, weighted, label smoothing, focal)
 *            optim                         every optimiser flavour, 4 steps on 1000 parameters
 *            sched                         cosine / step / plateau learning rates per epoch
 *            init                          fer_model_init_pytorch = PyTorch's initial weights, exactly
 *            groupconv                     grouped and depthwise conv2d: PyTorch's initial weights
 *                                          exactly, train logits, loss and every gradient
 *            resnet                        the graph network of golden_resnet.json (residual add,
 *                                          channel pad, SE gate, concat, prelu, batchnorm1d) from
 *                                          the fixture's weights: train logits, loss, every
 *                                          gradient; weights and BN statistics after 3 Adam steps
 *
 * Tolerances (|actual - expected| <= atol + rtol * |expected|, atol relative to the tensor's
 * largest magnitude) are stated next to each comparison; besides the stored (sampled) values, the
 * sum, sum of magnitudes and L2 norm of the whole tensor must match. Exit 77 when the backend is
 * not available. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/losses.h"
#include "fer/model.h"
#include "fer/optim.h"
#include "fer/rng_math.h"
#include "golden.h"
#include "../common/fer_check.h"

/* must match make_golden.py */
#define INIT_SEED 2024
#define PERTURB_SEED 777
#define X_SEED 31337
#define BATCH 4
#define CLIP 5.0f
#define STEPS 3

static int failures = 0;
static golden_file G;
static fer_backend *B;

#define DIE(...)                                                                               \
    do {                                                                                       \
        fprintf(stderr, __VA_ARGS__);                                                          \
        fprintf(stderr, "\n");                                                                 \
        exit(1);                                                                               \
    } while (0)

static const golden_entry *need(const char *name)
{
    const golden_entry *e = golden_get(&G, name);
    if (!e)
        exit(1);
    return e;
}

/* Compares a whole actual tensor with a fixture entry. Returns the worst error / tolerance. */
static double compare_full(const char *entry, const float *actual, size_t total, double rtol,
                           double atol_frac, const golden_entry *base, double stat_tol,
                           double outlier_frac)
{
    const golden_entry *e = need(entry);
    if (base && (base->total != e->total || base->stride != e->stride)) {
        fprintf(stderr, "%s: base entry %s has another layout\n", entry, base->name);
        failures++;
        return INFINITY;
    }
    if (e->total != total || e->kind == 2) {
        fprintf(stderr, "%s: fixture has %llu elements, actual %zu\n", entry,
                (unsigned long long)e->total, total);
        failures++;
        return INFINITY;
    }
    /* with a base, the update (value - base) is compared instead of the value */
#define EXPECTED(k) ((double)e->f[k] - (base ? (double)base->f[k] : 0.0))
    double scale = 0.0;
    for (uint32_t k = 0; k < e->count; k++)
        scale = fmax(scale, fabs(EXPECTED(k)));
    double atol = atol_frac * fmax(scale, 1e-30), worst = 0.0;
    double l2_got = 0.0, l2_want = 0.0; /* of the stored values or updates */
    int outliers = 0, allowed = (int)(outlier_frac * e->count), bad = 0;
    for (uint32_t k = 0; k < e->count; k++) {
        size_t idx = (size_t)k * e->stride;
        double want = EXPECTED(k), got = actual[idx] - (base ? (double)base->f[k] : 0.0);
        double tol = atol + rtol * fabs(want);
        double r = fabs(got - want) / tol;
        l2_got += got * got;
        l2_want += want * want;
        if (!(r <= 1.0) && ++outliers <= allowed)
            continue; /* tolerated outlier */
        if (!(r <= worst))
            worst = isnan(r) ? INFINITY : fmax(worst, r);
        if (!(r <= 1.0) && bad++ < 3)
            fprintf(stderr, "  %s[%zu]: got %.8g want %.8g%s\n", entry, idx, got, want,
                    base ? " (update)" : "");
    }
    if (allowed > 0 && outliers > 0)
        printf("    %s: %d of %u sampled values beyond tolerance (%d allowed)\n", entry, outliers,
               e->count, allowed);
    if (allowed > 0) { /* the outliers must not move the norm of the stored values/updates */
        double r = fabs(sqrt(l2_got) - sqrt(l2_want)) / (2 * rtol * fmax(sqrt(l2_want), 1e-30));
        worst = fmax(worst, r);
        if (!(r <= 1.0) && bad++ < 3)
            fprintf(stderr, "  %s: norm of the compared values %.8g, want %.8g\n", entry,
                    sqrt(l2_got), sqrt(l2_want));
    }
    double sum = 0, sum_abs = 0, l2 = 0;
    for (size_t i = 0; i < total; i++) {
        sum += actual[i];
        sum_abs += fabs((double)actual[i]);
        l2 += (double)actual[i] * actual[i];
    }
    l2 = sqrt(l2);
#undef EXPECTED
    double r_abs = fabs(sum_abs - e->sum_abs) / (stat_tol * fmax(e->sum_abs, 1e-30));
    double r_l2 = fabs(l2 - e->l2) / (stat_tol * fmax(e->l2, 1e-30));
    double r_sum = fabs(sum - e->sum) / (stat_tol * fmax(e->sum_abs, 1e-30));
    double rs = fmax(r_abs, fmax(r_l2, r_sum));
    if (!(rs <= 1.0)) {
        fprintf(stderr, "  %s: whole-tensor stats sum %.8g/%.8g abs %.8g/%.8g l2 %.8g/%.8g\n",
                entry, sum, e->sum, sum_abs, e->sum_abs, l2, e->l2);
        bad++;
    }
    worst = fmax(worst, rs);
    if (bad) {
        fprintf(stderr, "FAIL %s (worst error/tolerance %.3g)\n", entry, worst);
        failures++;
    }
    return worst;
}

/* Values within atol + rtol*|want| (atol relative to the largest stored magnitude); whole-tensor
 * sum, sum of magnitudes and L2 norm within 4*rtol + atol_frac relative. */
static double compare(const char *entry, const float *actual, size_t total, double rtol,
                      double atol_frac)
{
    return compare_full(entry, actual, total, rtol, atol_frac, NULL, 4 * rtol + atol_frac, 0.0);
}

/* Worst ratio per group, printed once per group. */
typedef struct group {
    const char *name;
    double worst;
    int n;
} group;

static void group_add(group *g, double r)
{
    g->worst = fmax(g->worst, r);
    g->n++;
}

static void group_print(const group *g)
{
    printf("  %-28s %3d tensors  worst error/tolerance %.3f\n", g->name, g->n, g->worst);
}

/* ---- the SimpleCNN configurations ------------------------------------------------------ */

static fer_head_kind config_head(const char *config)
{
    return strcmp(config, "arcface") == 0 ? FER_HEAD_ARCFACE : FER_HEAD_SOFTMAX;
}

/* fer_model_init(INIT_SEED), then BN affine and running statistics moved away from 1/0 so the
 * goldens exercise them (same rule as Net.init_like_c in make_golden.py). */
static fer_model *golden_model(const char *config)
{
    fer_arch arch;
    OK(fer_arch_preset("simplecnn", config_head(config), &arch));
    fer_model *m;
    OK(fer_model_new(&arch, B, BATCH, &m));
    OK(fer_model_init(m, INIT_SEED));
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        int layer;
        char leaf[48];
        if (sscanf(ti.name, "layers.%d.%47s", &layer, leaf) != 2 ||
            arch.layers[layer].kind != FER_LAYER_BATCHNORM2D ||
            strcmp(leaf, "num_batches_tracked") == 0)
            continue;
        uint64_t pert = fer_rng_substream(PERTURB_SEED, (uint64_t)t);
        float *v = malloc(ti.numel * sizeof *v);
        for (size_t i = 0; i < ti.numel; i++) {
            float s = fer_rng_symmetric(pert, i);
            if (strcmp(leaf, "weight") == 0)
                v[i] = 1.0f + 0.25f * s;
            else if (strcmp(leaf, "bias") == 0)
                v[i] = 0.25f * s;
            else if (strcmp(leaf, "running_mean") == 0)
                v[i] = 0.1f * s;
            else
                v[i] = 1.0f + 0.5f * fer_rng_uniform(pert, i);
        }
        OK(fer_model_set_tensor(m, ti.name, v, ti.numel));
        free(v);
    }
    return m;
}

static void golden_batch(float *x, int32_t *labels)
{
    uint64_t s = fer_rng_substream(X_SEED, 0);
    for (size_t i = 0; i < (size_t)BATCH * 48 * 48; i++)
        x[i] = fer_rng_symmetric(s, i);
    const golden_entry *e = need("labels");
    for (int i = 0; i < BATCH; i++)
        labels[i] = e->i[i];
}

static fer_loss_config golden_loss(const char *config)
{
    fer_loss_config lc;
    memset(&lc, 0, sizeof lc);
    lc.kind = FER_LOSS_CE;
    lc.gamma = 2.0f;
    if (strcmp(config, "wce") == 0 || strcmp(config, "focal") == 0) {
        const golden_entry *ec = need("counts");
        int64_t counts[7];
        for (int c = 0; c < 7; c++)
            counts[c] = ec->i[c];
        OK(fer_class_weights(counts, 7, FER_WEIGHT_INV_SQRT, 0.999f, lc.class_weights));
        compare("class_weights", lc.class_weights, 7, 1e-6, 1e-7);
        lc.kind = strcmp(config, "wce") == 0 ? FER_LOSS_WCE : FER_LOSS_FOCAL;
        lc.use_class_weights = 1;
    }
    return lc;
}

/* Compares every tensor of the model (role filter: -1 all) with entries prefix + name. */
static void compare_tensors(fer_model *m, const char *prefix, int grads, int role,
                            double rtol, double atol_frac, group *g_param, group *g_buffer,
                            const char *base_prefix, double stat_tol, double outlier_frac)
{
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        if (role >= 0 && (int)ti.role != role)
            continue;
        float *v = malloc(ti.numel * sizeof *v);
        if (grads)
            OK(fer_model_get_grad(m, ti.name, v, ti.numel));
        else
            OK(fer_model_get_tensor(m, ti.name, v, ti.numel));
        char entry[160];
        snprintf(entry, sizeof entry, "%s%s", prefix, ti.name);
        group *g = ti.role == FER_TENSOR_PARAM ? g_param : g_buffer;
        const golden_entry *base = NULL;
        if (base_prefix) {
            char bname[160];
            snprintf(bname, sizeof bname, "%s%s", base_prefix, ti.name);
            base = need(bname);
        }
        group_add(g, compare_full(entry, v, ti.numel, rtol, atol_frac, base,
                                  stat_tol > 0 ? stat_tol : 4 * rtol + atol_frac, outlier_frac));
        free(v);
    }
}

/* One training forward/backward from the initial weights: logits, loss, every gradient (float32
 * sums of thousands of terms in another order than PyTorch: 2e-3), BN running statistics. */
static void check_train_step(fer_model *m, const float *logits, float loss)
{
    group g = {"train logits + loss", 0, 0};
    group_add(&g, compare("train/logits", logits, BATCH * 7, 1e-4, 1e-4));
    group_add(&g, compare("train/loss", &loss, 1, 1e-4, 1e-6));
    group_print(&g);
    group gg = {"gradients", 0, 0}, gb = {"BN running statistics", 0, 0};
    compare_tensors(m, "train/grad/", 1, FER_TENSOR_PARAM, 2e-3, 2e-3, &gg, &gg, NULL, 0, 0);
    compare_tensors(m, "train/", 0, FER_TENSOR_BUFFER, 1e-5, 1e-6, &gb, &gb, NULL, 0, 0);
    group_print(&gg);
    group_print(&gb);
}

static void run_network(const char *config)
{
    float x[BATCH * 48 * 48], logits[BATCH * 7], loss;
    int32_t labels[BATCH];
    const uint64_t dseed = (uint64_t)need("dropout_seed0")->i[0]; /* step s uses dseed + s */
    golden_batch(x, labels);
    fer_loss_config lc = golden_loss(config);

    fer_model *m = golden_model(config);
    group g_init = {"initial parameters", 0, 0}, g_initb = {"initial buffers", 0, 0};
    compare_tensors(m, "init/", 0, -1, 0.0, 1e-7, &g_init, &g_initb, NULL, 0, 0);
    group_print(&g_init);
    group_print(&g_initb);

    /* eval mode: running statistics, no dropout, arcface without margin */
    group g = {"eval logits + loss", 0, 0};
    OK(fer_model_forward(m, x, BATCH, FER_MODE_EVAL, NULL, 0, logits));
    group_add(&g, compare("eval/logits", logits, BATCH * 7, 1e-4, 1e-4));
    OK(fer_model_loss(m, &lc, labels, &loss));
    group_add(&g, compare("eval/loss", &loss, 1, 1e-4, 1e-6));
    group_print(&g);

    /* three optimiser steps with clipping, from the initial weights (an eval forward changes
     * nothing, so the Adam run continues with m); the first step's forward/backward is also
     * the "one training step" check of logits, loss, every gradient and BN statistics */
    for (int k = 0; k < 2; k++) {
        const char *name = k == 0 ? "adam" : "sgd";
        if (k == 1)
            m = golden_model(config);
        fer_optim_config oc;
        if (k == 0) {
            fer_optim_config_default(FER_OPTIM_ADAM, 1e-4f, &oc);
        } else {
            fer_optim_config_default(FER_OPTIM_SGD, 1e-3f, &oc);
            oc.momentum = 0.9f;
            oc.nesterov = 1;
            oc.weight_decay = 5e-4f;
        }
        fer_optimizer *opt;
        OK(fer_optimizer_new(m, &oc, &opt));
        float losses[STEPS], norms[STEPS];
        for (int s = 0; s < STEPS; s++) {
            OK(fer_model_forward(m, x, BATCH, FER_MODE_TRAIN, labels, dseed + s, logits));
            OK(fer_model_loss(m, &lc, labels, &losses[s]));
            OK(fer_model_backward(m));
            if (k == 0 && s == 0)
                check_train_step(m, logits, losses[0]);
            OK(fer_model_clip_grad_norm(m, CLIP, &norms[s]));
            OK(fer_optimizer_step(opt, oc.lr));
        }
        char entry[64], gname[64];
        snprintf(gname, sizeof gname, "%s: losses + norms", name);
        g = (group){gname, 0, 0};
        snprintf(entry, sizeof entry, "%s/losses", name);
        group_add(&g, compare(entry, losses, STEPS, 1e-4, 1e-6));
        snprintf(entry, sizeof entry, "%s/norms", name);
        group_add(&g, compare(entry, norms, STEPS, 1e-3, 1e-6));
        group_print(&g);
        char prefix[16], gp_name[64], gb_name[64];
        snprintf(prefix, sizeof prefix, "%s/", name);
        snprintf(gp_name, sizeof gp_name, "%s: parameters", name);
        snprintf(gb_name, sizeof gb_name, "%s: BN statistics", name);
        group gp = {gp_name, 0, 0};
        group gb = {gb_name, 0, 0};
        /* The update of every parameter (final - initial) within 2% of the largest update of
         * its tensor + 2% relative; a wrong rule (bias correction, momentum, Nesterov, decay) is
         * off by far more, and golden_optim checks the rules themselves to 1e-5. Adam scales
         * every element's step to ~lr, so elements whose gradient is near zero are chaotic:
         * PyTorch itself moves up to 15% of a tensor's elements beyond 2% when the input is
         * perturbed by 1e-6. For Adam, up to 20% of the sampled elements may be outliers, as
         * long as the norm of the sampled updates stays within 4%. Final values' whole-tensor
         * statistics within 1e-4. Running statistics after three steps within 1e-3 (their exact
         * rule is checked at step 0). */
        compare_tensors(m, prefix, 0, FER_TENSOR_PARAM, 2e-2, 2e-2, &gp, &gp, "init/", 1e-4,
                        k == 0 ? 0.2 : 0.0);
        compare_tensors(m, prefix, 0, FER_TENSOR_BUFFER, 1e-3, 1e-3, &gb, &gb, NULL, 0, 0);
        group_print(&gp);
        group_print(&gb);
        snprintf(gname, sizeof gname, "%s: eval logits after", name);
        g = (group){gname, 0, 0};
        OK(fer_model_forward(m, x, BATCH, FER_MODE_EVAL, NULL, 0, logits));
        snprintf(entry, sizeof entry, "%s/eval_logits", name);
        group_add(&g, compare(entry, logits, BATCH * 7, 1e-3, 1e-3));
        group_print(&g);
        fer_optimizer_free(opt);
        fer_model_free(m);
    }
}

/* ---- losses, optimisers, schedules on their own ---------------------------------------- */

static void *dev_alloc(size_t bytes)
{
    void *p;
    OK(B->ops->alloc(B, bytes, &p));
    return p;
}

static void run_losses(void)
{
    const golden_entry *ez = need("logits"), *ey = need("labels"), *ew = need("class_weights");
    float *z = dev_alloc(35 * 4), *dz = dev_alloc(35 * 4), *w = dev_alloc(7 * 4);
    int32_t *y = dev_alloc(5 * 4);
    OK(B->ops->upload(B, z, ez->f, 35 * 4));
    OK(B->ops->upload(B, y, ey->i, 5 * 4));
    OK(B->ops->upload(B, w, ew->f, 7 * 4));
    struct {
        const char *name;
        fer_loss_kind kind;
        float gamma, ls;
        int weighted;
    } cases[] = {
        {"ce", FER_LOSS_CE, 0, 0, 0},         {"wce", FER_LOSS_WCE, 0, 0, 1},
        {"ce_ls0.1", FER_LOSS_CE, 0, 0.1f, 0}, {"wce_ls0.2", FER_LOSS_WCE, 0, 0.2f, 1},
        {"focal_g2", FER_LOSS_FOCAL, 2, 0, 0}, {"focal_g2_w", FER_LOSS_FOCAL, 2, 0, 1},
        {"focal_g0.5_w", FER_LOSS_FOCAL, 0.5f, 0, 1},
    };
    group g = {"losses + dlogits", 0, 0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        fer_loss_args a = {5, 7, cases[c].kind, cases[c].gamma, cases[c].ls, NULL, NULL};
        float loss, dzh[35];
        OK(B->ops->loss_forward_backward(B, &a, z, y, cases[c].weighted ? w : NULL, &loss, dz));
        OK(B->ops->download(B, dzh, dz, sizeof dzh));
        char entry[64];
        snprintf(entry, sizeof entry, "%s/loss", cases[c].name);
        group_add(&g, compare(entry, &loss, 1, 1e-5, 1e-7));
        snprintf(entry, sizeof entry, "%s/dlogits", cases[c].name);
        group_add(&g, compare(entry, dzh, 35, 1e-4, 1e-5));
    }
    group_print(&g);
    B->ops->release(B, z);
    B->ops->release(B, dz);
    B->ops->release(B, w);
    B->ops->release(B, y);
}

/* Soft targets and logit offsets through the backend's loss op (the op fer_model_loss_soft and
 * fer_model_loss run): same tolerances as run_losses. */
static void run_soft(void)
{
    enum { N = 4, C = 7 };
    const golden_entry *ez = need("logits"), *et = need("targets"), *ey = need("labels"),
                       *ew = need("class_weights"), *eo = need("logit_offset");
    float *z = dev_alloc(N * C * 4), *t = dev_alloc(N * C * 4), *dz = dev_alloc(N * C * 4),
          *w = dev_alloc(C * 4), *off = dev_alloc(C * 4);
    int32_t *y = dev_alloc(N * 4);
    OK(B->ops->upload(B, z, ez->f, N * C * 4));
    OK(B->ops->upload(B, t, et->f, N * C * 4));
    OK(B->ops->upload(B, y, ey->i, N * 4));
    OK(B->ops->upload(B, w, ew->f, C * 4));
    OK(B->ops->upload(B, off, eo->f, C * 4));
    /* offsets scaled by tau = 1.5 (logit-adjusted loss) on the host, as a trainer would */
    float off15_h[C];
    for (int j = 0; j < C; j++)
        off15_h[j] = 1.5f * eo->f[j];
    float *off15 = dev_alloc(C * 4);
    OK(B->ops->upload(B, off15, off15_h, C * 4));
    struct {
        const char *name;
        fer_loss_kind kind;
        float ls;
        int weighted, soft;
        const float *offset;
    } cases[] = {
        {"soft", FER_LOSS_CE, 0, 0, 1, NULL},
        {"soft_ls0.1", FER_LOSS_CE, 0.1f, 0, 1, NULL},
        {"soft_w", FER_LOSS_WCE, 0, 1, 1, NULL},
        {"soft_w_ls0.2", FER_LOSS_WCE, 0.2f, 1, 1, NULL},
        {"soft_off", FER_LOSS_CE, 0, 0, 1, off},
        {"soft_w_ls0.1_off1.5", FER_LOSS_WCE, 0.1f, 1, 1, off15},
        {"label_off", FER_LOSS_CE, 0, 0, 0, off},
        {"label_w_ls0.1_off1.5", FER_LOSS_WCE, 0.1f, 1, 0, off15},
    };
    group g = {"soft targets + logit offsets", 0, 0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        fer_loss_args a = {N, C, cases[c].kind, 0, cases[c].ls, cases[c].soft ? t : NULL,
                           cases[c].offset};
        float loss, dzh[N * C];
        OK(B->ops->loss_forward_backward(B, &a, z, cases[c].soft ? NULL : y,
                                         cases[c].weighted ? w : NULL, &loss, dz));
        OK(B->ops->download(B, dzh, dz, sizeof dzh));
        char entry[64];
        snprintf(entry, sizeof entry, "%s/loss", cases[c].name);
        group_add(&g, compare(entry, &loss, 1, 1e-5, 1e-7));
        snprintf(entry, sizeof entry, "%s/dlogits", cases[c].name);
        group_add(&g, compare(entry, dzh, N * C, 1e-4, 1e-5));
    }
    group_print(&g);
    float *bufs[] = {z, t, dz, w, off, off15};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        B->ops->release(B, bufs[i]);
    B->ops->release(B, y);
}

static void run_optim(void)
{
    enum { N = 1000, STEPS_O = 4 };
    float *p = dev_alloc(N * 4), *gr = dev_alloc(N * 4), *m = dev_alloc(N * 4),
          *v = dev_alloc(N * 4);
    struct {
        const char *name;
        fer_optim_args a;
    } cases[] = {
        {"adam", {FER_OPTIM_ADAM, 1e-2f, 0.9f, 0.999f, 1e-8f, 0, 0, 0, 0, 0}},
        {"adam_wd", {FER_OPTIM_ADAM, 1e-2f, 0.8f, 0.99f, 1e-6f, 0.1f, 0, 0, 0, 0}},
        {"adamw", {FER_OPTIM_ADAMW, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.05f, 0, 0, 0, 0}},
        {"sgd", {FER_OPTIM_SGD, 0.1f, 0, 0, 0, 0, 0, 0, 0, 0}},
        {"sgd_momentum", {FER_OPTIM_SGD, 0.1f, 0, 0, 0, 1e-2f, 0.9f, 0.3f, 0, 0}},
        {"sgd_nesterov", {FER_OPTIM_SGD, 0.1f, 0, 0, 0, 5e-4f, 0.9f, 0, 1, 0}},
    };
    group g = {"optimiser steps", 0, 0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        OK(B->ops->upload(B, p, need("p0")->f, N * 4));
        OK(B->ops->fill(B, m, 0.0f, N));
        OK(B->ops->fill(B, v, 0.0f, N));
        for (int k = 0; k < STEPS_O; k++) {
            char gname[16];
            snprintf(gname, sizeof gname, "grad%d", k);
            OK(B->ops->upload(B, gr, need(gname)->f, N * 4));
            fer_optim_args a = cases[c].a;
            a.step = k + 1;
            OK(B->ops->optimizer_step(B, &a, N, p, gr, m, v));
        }
        float ph[N];
        OK(B->ops->download(B, ph, p, sizeof ph));
        group_add(&g, compare(cases[c].name, ph, N, 1e-5, 1e-6));
    }
    group_print(&g);
    B->ops->release(B, p);
    B->ops->release(B, gr);
    B->ops->release(B, m);
    B->ops->release(B, v);
}

static void run_schedules(void)
{
    enum { E = 30 };
    float lr[E];
    group g = {"lr schedules", 0, 0};
    fer_schedule s;
    fer_schedule_init(&s, FER_SCHED_COSINE, 1e-3f, E);
    for (int e = 0; e < E; e++)
        lr[e] = fer_schedule_lr(&s, e);
    group_add(&g, compare("cosine", lr, E, 1e-5, 1e-7));
    fer_schedule_init(&s, FER_SCHED_STEP, 1e-3f, E);
    s.step_size = 7;
    s.gamma = 0.5f;
    for (int e = 0; e < E; e++)
        lr[e] = fer_schedule_lr(&s, e);
    group_add(&g, compare("step", lr, E, 1e-6, 1e-7));
    fer_schedule_init(&s, FER_SCHED_PLATEAU, 1e-3f, E);
    s.factor = 0.5f;
    s.patience = 2;
    s.threshold = 1e-2f;
    const golden_entry *metric = need("plateau_metric");
    for (int e = 0; e < E; e++) {
        lr[e] = fer_schedule_lr(&s, e);
        fer_schedule_observe(&s, metric->f[e]);
    }
    group_add(&g, compare("plateau", lr, E, 1e-6, 1e-7));
    group_print(&g);
}

/* fer_model_init_pytorch against PyTorch's own initial weights: every stored value bit for
 * bit, whole-tensor sums to rounding (the fixture sums in numpy's order). Seed 2^32 + 40 must
 * give seed 40's weights, as torch.manual_seed keeps the low 32 bits. */
static void check_init_exact(fer_model *m, const char *head, group *g)
{
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        if (ti.role != FER_TENSOR_PARAM)
            continue;
        char name[160];
        snprintf(name, sizeof name, "%s/%s", head, ti.name);
        const golden_entry *e = need(name);
        float *v = malloc(ti.numel * sizeof *v);
        OK(fer_model_get_tensor(m, ti.name, v, ti.numel));
        int bad = e->total != ti.numel;
        for (uint32_t k = 0; !bad && k < e->count; k++)
            if (memcmp(&v[(size_t)k * e->stride], &e->f[k], sizeof(float)) != 0) {
                fprintf(stderr, "  %s[%llu]: got %.9g want %.9g\n", name,
                        (unsigned long long)k * e->stride, v[(size_t)k * e->stride], e->f[k]);
                bad = 1;
            }
        double sum = 0.0;
        for (size_t i = 0; !bad && i < ti.numel; i++) sum += v[i];
        if (!bad && fabs(sum - e->sum) > 1e-9 * fmax(e->sum_abs, 1e-30)) {
            fprintf(stderr, "  %s: sum %.12g want %.12g\n", name, sum, e->sum);
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "FAIL %s\n", name);
            failures++;
            g->worst = INFINITY;
        }
        g->n++;
        free(v);
    }
}

/* ---- grouped and depthwise convolutions (golden_groupconv.bin) ----------------------------
 * The network of make_golden.py's group_net: PyTorch's initial weights for its seed exactly
 * (fer_model_init_pytorch, fan-in in/groups * k * k), then one training forward/backward from
 * them: logits, loss and every gradient. */
#define GROUPCONV_ARCH                                                                         \
    "{\"input\":[4,10,9],\"classes\":3,\"layers\":["                                          \
    "{\"type\":\"conv2d\",\"out\":6,\"k\":3,\"pad\":1,\"groups\":2},{\"type\":\"relu\"},"           \
    "{\"type\":\"conv2d\",\"out\":6,\"k\":3,\"stride\":2,\"pad\":1,\"groups\":6,"                 \
    "\"bias\":false},{\"type\":\"relu\"},"                                                   \
    "{\"type\":\"conv2d\",\"out\":12,\"k\":5,\"pad\":2,\"groups\":6},"                           \
    "{\"type\":\"conv2d\",\"out\":4,\"k\":1,\"groups\":2},{\"type\":\"flatten\"},"                 \
    "{\"type\":\"linear\",\"out\":5}]}"
#define GROUPCONV_SEED 11
#define GROUPCONV_BATCH 3

static void run_groupconv(void)
{
    enum { NX = GROUPCONV_BATCH * 4 * 10 * 9 };
    fer_arch arch;
    OK(fer_arch_from_json(GROUPCONV_ARCH, "groupconv", &arch));
    fer_model *m;
    OK(fer_model_new(&arch, B, GROUPCONV_BATCH, &m));
    OK(fer_model_init_pytorch(m, GROUPCONV_SEED));
    group gi = {"initial weights (exact)", 0, 0};
    check_init_exact(m, "init", &gi);
    group_print(&gi);

    float x[NX], logits[GROUPCONV_BATCH * 3], loss;
    int32_t labels[GROUPCONV_BATCH];
    uint64_t s = fer_rng_substream(X_SEED, 1);
    for (size_t i = 0; i < NX; i++)
        x[i] = fer_rng_symmetric(s, i);
    const golden_entry *el = need("labels");
    for (int i = 0; i < GROUPCONV_BATCH; i++)
        labels[i] = el->i[i];
    fer_loss_config lc;
    memset(&lc, 0, sizeof lc);
    lc.kind = FER_LOSS_CE;
    OK(fer_model_forward(m, x, GROUPCONV_BATCH, FER_MODE_TRAIN, labels, 0, logits));
    OK(fer_model_loss(m, &lc, labels, &loss));
    OK(fer_model_backward(m));
    group g = {"train logits + loss", 0, 0};
    group_add(&g, compare("train/logits", logits, GROUPCONV_BATCH * 3, 1e-4, 1e-5));
    group_add(&g, compare("train/loss", &loss, 1, 1e-5, 1e-6));
    group_print(&g);
    /* short sums (at most 4*25 terms per weight tap) in another order than PyTorch: 1e-4 */
    group gg = {"gradients", 0, 0};
    compare_tensors(m, "train/grad/", 1, FER_TENSOR_PARAM, 1e-4, 1e-4, &gg, &gg, NULL, 0, 0);
    group_print(&gg);
    fer_model_free(m);
}

/* ---- a residual graph network (golden_resnet.json, golden_resnet.bin) ---------------------
 * The graph form of an architecture (named nodes, "inputs"): residual add with channel padding,
 * a squeeze-excitation gate (mul), concat, prelu, batchnorm1d. Every tensor is set from the
 * fixture's init/ (PyTorch's initial weights with BN and prelu moved off their defaults), then
 * one training forward/backward, then 3 Adam steps (lr 1e-3) on the same batch, as
 * make_golden.py's run_resnet. */
#define RESNET_BATCH 3
#define RESNET_X_STREAM 3
#define RESNET_LR 1e-3f

/* 1 when tensor `name` is the bias of a layer listed in bias_before_batchnorm (-1 ends it) */
static int resnet_pinned(const char *name)
{
    const golden_entry *e = need("bias_before_batchnorm");
    int layer;
    char tail[8];
    if (sscanf(name, "layers.%d.%7s", &layer, tail) != 2 || strcmp(tail, "bias") != 0)
        return 0;
    for (uint64_t k = 0; k < e->total && e->i[k] >= 0; k++)
        if (e->i[k] == layer)
            return 1;
    return 0;
}

static float *resnet_tensor(fer_model *m, const char *name, size_t numel, int grad)
{
    float *v = malloc(numel * sizeof *v);
    if (!v)
        DIE("out of memory");
    OK(grad ? fer_model_get_grad(m, name, v, numel) : fer_model_get_tensor(m, name, v, numel));
    return v;
}

/* A pinned bias's gradient is rounding noise: it must be within 1e-4 of the largest gradient
 * of its layer's weight (the fixture's is about 2e-6 of it). */
static double resnet_check_noise_grad(fer_model *m, const fer_tensor_info *ti)
{
    char wname[160], entry[192];
    snprintf(wname, sizeof wname, "%.*sweight", (int)(strlen(ti->name) - strlen("bias")),
             ti->name);
    snprintf(entry, sizeof entry, "train/grad/%s", wname);
    const golden_entry *ew = need(entry);
    double wmax = 0.0, worst = 0.0;
    for (uint32_t k = 0; k < ew->count; k++)
        wmax = fmax(wmax, fabs((double)ew->f[k]));
    float *g = resnet_tensor(m, ti->name, ti->numel, 1);
    for (size_t i = 0; i < ti->numel; i++)
        worst = fmax(worst, isnan(g[i]) ? INFINITY : fabs((double)g[i]) / (1e-4 * wmax));
    if (!(worst <= 1.0)) {
        fprintf(stderr, "FAIL train/grad/%s: |gradient| up to %.3g of the weight's largest, "
                        "want <= 1e-4 (the batch norm after it removes the bias)\n",
                ti->name, worst * 1e-4);
        failures++;
    }
    free(g);
    return worst;
}

/* After Adam step `step` (1-based): a pinned bias moved by at most 10 lr per element (Adam moves
 * an element by about lr), then it takes torch's value of that step, so its noise-driven steps
 * do not make the batch norm's running mean diverge. */
static void resnet_pin(fer_model *m, int step, group *g)
{
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        if (!resnet_pinned(ti.name))
            continue;
        char prev[192], next[192];
        if (step == 1)
            snprintf(prev, sizeof prev, "init/%s", ti.name);
        else
            snprintf(prev, sizeof prev, "adam_step%d/%s", step - 1, ti.name);
        snprintf(next, sizeof next, "adam_step%d/%s", step, ti.name);
        const golden_entry *ep = need(prev), *en = need(next);
        if (ep->total != ti.numel || en->total != ti.numel || ep->stride != 1 || en->stride != 1)
            DIE("golden_resnet: %s / %s do not hold %zu values", prev, next, ti.numel);
        float *v = resnet_tensor(m, ti.name, ti.numel, 0);
        double worst = 0.0;
        for (size_t i = 0; i < ti.numel; i++)
            worst = fmax(worst, isnan(v[i]) ? INFINITY
                                            : fabs((double)v[i] - ep->f[i]) / (10.0 * RESNET_LR));
        if (!(worst <= 1.0)) {
            fprintf(stderr, "FAIL %s: Adam step %d moved it by %.3g, want <= 10 lr\n", ti.name,
                    step, worst * 10.0 * RESNET_LR);
            failures++;
        }
        group_add(g, worst);
        OK(fer_model_set_tensor(m, ti.name, en->f, ti.numel));
        free(v);
    }
}

static void run_resnet(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/golden_resnet.json", dir);
    fer_arch arch;
    OK(fer_arch_load(path, FER_HEAD_SOFTMAX, &arch));
    fer_model *m;
    OK(fer_model_new(&arch, B, RESNET_BATCH, &m));
    for (int t = 0; t < fer_model_n_tensors(m); t++) { /* every tensor, buffers included */
        fer_tensor_info ti;
        OK(fer_model_tensor_info(m, t, &ti));
        char entry[192];
        snprintf(entry, sizeof entry, "init/%s", ti.name);
        const golden_entry *e = need(entry);
        if (e->total != ti.numel || e->stride != 1 || e->kind != 0)
            DIE("golden_resnet: %s holds %llu values, the model's tensor %zu", entry,
                (unsigned long long)e->total, ti.numel);
        OK(fer_model_set_tensor(m, ti.name, e->f, ti.numel));
    }

    const size_t nx = (size_t)RESNET_BATCH * arch.in_c * arch.in_h * arch.in_w;
    float *x = malloc(nx * sizeof *x), logits[RESNET_BATCH * FER_MAX_CLASSES], loss;
    if (!x)
        DIE("out of memory");
    uint64_t s = fer_rng_substream(X_SEED, RESNET_X_STREAM);
    for (size_t i = 0; i < nx; i++)
        x[i] = fer_rng_symmetric(s, i);
    const golden_entry *el = need("labels");
    if (el->total != RESNET_BATCH)
        DIE("golden_resnet: %llu labels, want %d", (unsigned long long)el->total, RESNET_BATCH);
    int32_t labels[RESNET_BATCH];
    for (int i = 0; i < RESNET_BATCH; i++)
        labels[i] = el->i[i];
    fer_loss_config lc;
    memset(&lc, 0, sizeof lc);
    lc.kind = FER_LOSS_CE;
    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_ADAM, RESNET_LR, &oc); /* torch.optim.Adam(lr=1e-3) */
    fer_optimizer *opt;
    OK(fer_optimizer_new(m, &oc, &opt));
    group g_pin = {"pinned biases' Adam steps", 0, 0};
    for (int step = 1; step <= STEPS; step++) {
        OK(fer_model_forward(m, x, RESNET_BATCH, FER_MODE_TRAIN, labels, 0, logits));
        OK(fer_model_loss(m, &lc, labels, &loss));
        OK(fer_model_backward(m));
        if (step == 1) {
            /* short sums (at most 3 * 12 * 10 terms) in another order than PyTorch, through
             * four batch norms: logits 1e-4, loss 1e-5, gradients 5e-4 relative + 5e-4 of the
             * tensor's largest (torch's own move by 3e-6 when x changes by 1e-6) */
            group g = {"train logits + loss", 0, 0};
            group_add(&g, compare("train/logits", logits, (size_t)RESNET_BATCH * arch.n_classes,
                                  1e-4, 1e-5));
            group_add(&g, compare("train/loss", &loss, 1, 1e-5, 1e-6));
            group_print(&g);
            group gg = {"gradients", 0, 0};
            for (int t = 0; t < fer_model_n_tensors(m); t++) {
                fer_tensor_info ti;
                OK(fer_model_tensor_info(m, t, &ti));
                if (ti.role != FER_TENSOR_PARAM)
                    continue;
                if (resnet_pinned(ti.name)) {
                    group_add(&gg, resnet_check_noise_grad(m, &ti));
                    continue;
                }
                char entry[192];
                snprintf(entry, sizeof entry, "train/grad/%s", ti.name);
                float *v = resnet_tensor(m, ti.name, ti.numel, 1);
                group_add(&gg, compare(entry, v, ti.numel, 5e-4, 5e-4));
                free(v);
            }
            group_print(&gg);
        }
        OK(fer_optimizer_step(opt, RESNET_LR));
        resnet_pin(m, step, &g_pin);
    }
    group_print(&g_pin);
    /* Each parameter's update (after - init) within 1% + 1% of its tensor's largest update
     * (torch moves them by 2e-4 of it when x changes by 1e-6; a wrong bias correction is 3x
     * off), whole-tensor statistics within 1e-4. Running statistics (and num_batches_tracked,
     * 3) within 1e-4 + 1e-4 of the tensor's largest. */
    group gp = {"adam3: parameters", 0, 0}, gb = {"adam3: BN statistics", 0, 0};
    compare_tensors(m, "adam3/", 0, FER_TENSOR_PARAM, 1e-2, 1e-2, &gp, &gp, "init/", 1e-4, 0.0);
    compare_tensors(m, "adam3/", 0, FER_TENSOR_BUFFER, 1e-4, 1e-4, &gb, &gb, NULL, 0, 0);
    group_print(&gp);
    group_print(&gb);
    fer_optimizer_free(opt);
    fer_model_free(m);
    free(x);
}

static void run_init(void)
{
    const struct { const char *head; uint64_t seed; } cases[] = {
        {"softmax", 40}, {"softmax", (1ull << 32) + 40}, {"arcface", 7}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fer_arch arch;
        OK(fer_arch_preset("simplecnn", config_head(cases[c].head), &arch));
        fer_model *m;
        OK(fer_model_new(&arch, B, 1, &m));
        OK(fer_model_init_pytorch(m, cases[c].seed));
        char label[64];
        snprintf(label, sizeof label, "%s seed %llu", cases[c].head,
                 (unsigned long long)cases[c].seed);
        group g = {label, 0, 0};
        check_init_exact(m, cases[c].head, &g);
        group_print(&g);
        fer_model_free(m);
    }
}

/* ---- activations and average pools against torch (golden_ops.bin) -------------------- */

static void run_ops(void)
{
    enum { N = 3, C = 5, H = 7, W = 6, NX = N * C * H * W };
    const golden_entry *ex = need("x");
    if (ex->total != NX || ex->stride != 1)
        DIE("golden_ops: x has %llu values, want %d", (unsigned long long)ex->total, NX);
    struct {
        const char *name;
        int pool;        /* 0: activation */
        fer_activation act;
        float slope;
        fer_avgpool_geom g; /* pools */
    } cases[] = {
        {"leaky_relu", 0, FER_ACT_LEAKY_RELU, 0.01f, {0}},
        {"leaky_relu_0.2", 0, FER_ACT_LEAKY_RELU, 0.2f, {0}},
        {"relu6", 0, FER_ACT_RELU6, 0, {0}},
        {"hardswish", 0, FER_ACT_HARDSWISH, 0, {0}},
        {"sigmoid", 0, FER_ACT_SIGMOID, 0, {0}},
        {"avgpool_k3_s2_p1", 1, 0, 0, {H, W, 4, 3, 3, 3, 2, 2, 1, 1}},
        {"avgpool_k2_s2", 1, 0, 0, {H, W, 3, 3, 2, 2, 2, 2, 0, 0}},
        {"avgpool_k3_s1_p1", 1, 0, 0, {H, W, H, W, 3, 3, 1, 1, 1, 1}},
        {"global_avgpool", 1, 0, 0, {H, W, 1, 1, H, W, 1, 1, 0, 0}},
    };
    float *x = dev_alloc(NX * 4), *dx = dev_alloc(NX * 4), *y = dev_alloc(NX * 4),
          *dy = dev_alloc(NX * 4);
    float host_y[NX], host_dx[NX];
    OK(B->ops->upload(B, x, ex->f, NX * 4));
    group g = {"activations, avgpools", 0, 0};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char entry[64];
        snprintf(entry, sizeof entry, "%s/dy", cases[c].name);
        const golden_entry *edy = need(entry);
        size_t ny = cases[c].pool ? (size_t)N * C * cases[c].g.out_h * cases[c].g.out_w : NX;
        if (edy->total != ny || edy->stride != 1)
            DIE("golden_ops: %s has %llu values, want %zu", entry,
                (unsigned long long)edy->total, ny);
        OK(B->ops->upload(B, dy, edy->f, ny * 4));
        if (cases[c].pool) {
            fer_avgpool_args a = {N, C, cases[c].g};
            OK(B->ops->avgpool_forward(B, &a, x, y));
            OK(B->ops->avgpool_backward(B, &a, dy, dx));
        } else {
            OK(B->ops->activation_forward(B, cases[c].act, cases[c].slope, NX, x, y));
            OK(B->ops->activation_backward(B, cases[c].act, cases[c].slope, NX, x, dy, dx));
        }
        OK(B->ops->download(B, host_y, y, ny * 4));
        OK(B->ops->download(B, host_dx, dx, NX * 4));
        /* one float rounding apart at most (torch's vectorised exp and sums) */
        snprintf(entry, sizeof entry, "%s/y", cases[c].name);
        group_add(&g, compare(entry, host_y, ny, 1e-6, 1e-7));
        snprintf(entry, sizeof entry, "%s/dx", cases[c].name);
        group_add(&g, compare(entry, host_dx, NX, 1e-6, 1e-7));
    }
    group_print(&g);
    B->ops->release(B, x);
    B->ops->release(B, dx);
    B->ops->release(B, y);
    B->ops->release(B, dy);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        DIE("usage: %s BACKEND ce|wce|focal|arcface|losses|soft|optim|sched|init|ops|groupconv|"
            "resnet "
            "FIXTURE_DIR", argv[0]);
    const char *backend = argv[1], *config = argv[2];
    fer_status st = fer_backend_new(backend, 0, &B);
    if (st == FER_ERR_UNSUPPORTED || st == FER_ERR_NODEVICE) {
        printf("SKIP: backend %s unavailable: %s\n", backend, fer_last_error());
        return 77;
    }
    OK(st);
    char path[4096];
    snprintf(path, sizeof path, "%s/golden_%s.bin", argv[3], config); /* one fixture per config */
    if (golden_load(path, &G) != 0)
        return 1;
    printf("golden %s on backend %s\n", config, fer_backend_name(B));
    if (strcmp(config, "losses") == 0)
        run_losses();
    else if (strcmp(config, "soft") == 0)
        run_soft();
    else if (strcmp(config, "groupconv") == 0)
        run_groupconv();
    else if (strcmp(config, "resnet") == 0)
        run_resnet(argv[3]);
    else if (strcmp(config, "optim") == 0)
        run_optim();
    else if (strcmp(config, "sched") == 0)
        run_schedules();
    else if (strcmp(config, "init") == 0)
        run_init();
    else if (strcmp(config, "ops") == 0)
        run_ops();
    else if (!strcmp(config, "ce") || !strcmp(config, "wce") || !strcmp(config, "focal") ||
             !strcmp(config, "arcface"))
        run_network(config);
    else
        DIE("unknown config '%s'", config);
    golden_free(&G);
    fer_backend_free(B);
    if (failures) {
        fprintf(stderr, "test_golden %s %s: %d comparison(s) failed\n", backend, config,
                failures);
        return 1;
    }
    printf("test_golden %s %s: ok\n", backend, config);
    return 0;
}
