/* Model throughput on one backend, through the public model API (what fer-train and the
 * GStreamer elements run):
 *   train    - forward (training mode) + cross-entropy + backward + clip 5.0 + Adam, img/s
 *   infer    - eval-mode forward with logits downloaded, img/s
 *   latency  - batch-1 eval forward on the given thread count, ms per image
 *   latency_folded - the same through the folded inference copy (what fer_classifier runs)
 *   latency_int8   - the same through the int8 network (fer/quant.h) of the folded copy,
 *              calibrated on the benchmark's own inputs; `# int8: ...` names the kernel set
 *   flops    - FLOP of one image's inference and training step (no backend needed)
 *   json     - the architecture's JSON (fer_arch_to_json), for bench/torch_ref.py --arch-json
 * Random inputs and labels, warm-up iterations first (workspaces reach steady state there).
 * Prints one line per timed iteration, `<mode> <value>`, for bench/run.sh to collect.
 * Usage: bench_model <train|infer|latency|latency_folded|latency_int8|flops|json> [backend=cpu]
 *        [threads=2] [batch=256]
 *        [iters=3] [warmup=1] [--amp]
 * The network is $FER_BENCH_ARCH: a preset name or an architecture JSON path (softmax head;
 * default simplecnn). The timed modes print it first as `# arch: NAME`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fer/arch.h"
#include "fer/model.h"
#include "fer/optim.h"
#include "fer/quant.h"
#include "fer/rng_math.h"

/* FER_BENCH_CPUTIME=1: process CPU seconds per thread instead of wall time (kernel efficiency
 * on a machine shared with other jobs; not what users see). */
static clockid_t bench_clock = CLOCK_MONOTONIC;
static double clock_div = 1.0;

static double now(void)
{
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return ((double)t.tv_sec + (double)t.tv_nsec * 1e-9) / clock_div;
}

static void check(fer_status st, const char *what)
{
    if (st != FER_OK) {
        fprintf(stderr, "bench_model: %s: %s\n", what, fer_last_error());
        exit(1);
    }
}

/* Multiply-adds of one forward pass per image (fer_arch_sizes: every layer and the head), and
 * of the first layer when it is a convolution on the network input: its input gradient is the
 * one a training step skips. */
static void count_macs(const fer_arch *a, double *fwd, double *first_conv)
{
    fer_arch_size_info info;
    check(fer_arch_sizes(a, "bench_model", &info), "arch");
    *fwd = (double)info.macs;
    *first_conv = 0;
    const fer_layer_spec *l = &a->layers[0];
    if (a->n_layers > 0 && l->kind == FER_LAYER_CONV2D) {
        int oh = (a->in_h + 2 * l->pad - l->k) / l->stride + 1;
        int ow = (a->in_w + 2 * l->pad - l->k) / l->stride + 1;
        int groups = l->groups > 0 ? l->groups : 1;
        *first_conv = (double)oh * ow * l->out * (a->in_c / groups) * l->k * l->k;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_model <train|infer|latency|latency_folded|latency_int8|flops|json> "
                        "[backend] [threads] "
                        "[batch] [iters] [warmup] [--amp]   (network: $FER_BENCH_ARCH, a preset "
                        "or JSON path; default simplecnn)\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *backend = argc > 2 ? argv[2] : "cpu";
    int threads = argc > 3 ? atoi(argv[3]) : 2, batch = argc > 4 ? atoi(argv[4]) : 256;
    int iters = argc > 5 ? atoi(argv[5]) : 3, warmup = argc > 6 ? atoi(argv[6]) : 1;
    int amp = argc > 7 && strcmp(argv[7], "--amp") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *cpu_time = getenv("FER_BENCH_CPUTIME");
    if (cpu_time && strcmp(cpu_time, "1") == 0) {
        bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        clock_div = threads > 0 ? threads : 1;
    }

    const char *arch_name = getenv("FER_BENCH_ARCH");
    if (!arch_name || !*arch_name)
        arch_name = "simplecnn";
    fer_arch arch;
    check(fer_arch_load(arch_name, FER_HEAD_SOFTMAX, &arch), "arch");
    if (strcmp(mode, "json") == 0) {
        char *text = fer_arch_to_json(&arch);
        if (!text) {
            fprintf(stderr, "bench_model: out of memory\n");
            return 1;
        }
        printf("%s\n", text);
        free(text);
        return 0;
    }
    if (strcmp(mode, "flops") == 0) {
        double fwd, first;
        count_macs(&arch, &fwd, &first);
        /* training: forward + input gradients (all but the first conv) + weight gradients */
        printf("flops_infer %.0f\nflops_train %.0f\n", 2 * fwd, 2 * (3 * fwd - first));
        return 0;
    }
    fer_backend *b;
    check(fer_backend_new(backend, threads, &b), "backend");
    if (amp)
        check(fer_backend_set_precision(b, FER_PREC_BF16), "--amp");
    /* 1: batch norm, ReLU and max pool apart; pool: only the max pool apart */
    const char *no_fusion = getenv("FER_BENCH_NO_FUSION");
    if (no_fusion && strcmp(no_fusion, "1") == 0)
        b->fuses_relu = b->fuses_pool = 0;
    if (no_fusion && strcmp(no_fusion, "pool") == 0)
        b->fuses_pool = 0;
    printf("# backend: %s\n", fer_backend_note(b));
    printf("# arch: %s\n", arch.name);
    fer_model *m;
    check(fer_model_new(&arch, b, batch, &m), "model");
    check(fer_model_init(m, 42), "init");
    size_t in_numel = (size_t)arch.in_c * arch.in_h * arch.in_w;
    float *x = malloc((size_t)batch * in_numel * sizeof *x);
    float *logits = malloc((size_t)batch * arch.n_classes * sizeof *logits);
    int32_t *labels = malloc((size_t)batch * sizeof *labels);
    if (!x || !logits || !labels) {
        fprintf(stderr, "bench_model: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < (size_t)batch * in_numel; i++)
        x[i] = fer_rng_symmetric(7, i);
    for (int i = 0; i < batch; i++)
        labels[i] = (int32_t)(fer_splitmix64((uint64_t)i) % (uint64_t)arch.n_classes);

    fer_optimizer *opt = NULL;
    fer_loss_config loss = {0};
    loss.kind = FER_LOSS_CE;
    if (strcmp(mode, "train") == 0) {
        fer_optim_config oc;
        fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
        check(fer_optimizer_new(m, &oc, &opt), "optimizer");
    } else if (strcmp(mode, "infer") != 0 && strncmp(mode, "latency", 7) != 0) {
        fprintf(stderr, "bench_model: unknown mode '%s'\n", mode);
        return 2;
    }
    fer_model *folded = NULL;
    fer_int8_net *q = NULL;
    if (!strcmp(mode, "latency_folded") || !strcmp(mode, "latency_int8"))
        check(fer_model_fold(m, b, batch, &folded, NULL), "fold");
    if (!strcmp(mode, "latency_int8")) {
        fer_int8_calib calib;
        check(fer_int8_calibrate(folded, x, batch, 99.99f, &calib), "int8 calibration");
        check(fer_int8_net_new(folded, &calib, batch, threads, &q), "int8");
        printf("# %s\n", fer_int8_net_note(q));
    } else if (!strcmp(mode, "latency_folded") || !strcmp(mode, "latency") ||
               !strcmp(mode, "infer") || opt) {
        /* known modes */
    } else {
        fprintf(stderr, "bench_model: unknown mode '%s'\n", mode);
        return 2;
    }
    for (int it = -warmup; it < iters; it++) {
        double t0 = now();
        if (q) {
            check(fer_int8_net_forward(q, x, batch, logits), "int8 forward");
        } else if (folded) {
            check(fer_model_forward(folded, x, batch, FER_MODE_EVAL, NULL, 0, logits), "forward");
        } else if (opt) {
            float l, norm;
            check(fer_model_forward(m, x, batch, FER_MODE_TRAIN, labels, (uint64_t)it, NULL),
                  "forward");
            check(fer_model_loss(m, &loss, labels, &l), "loss");
            check(fer_model_backward(m), "backward");
            check(fer_model_clip_grad_norm(m, 5.0f, &norm), "clip");
            check(fer_optimizer_step(opt, 1e-3f), "step");
        } else {
            check(fer_model_forward(m, x, batch, FER_MODE_EVAL, NULL, 0, logits), "forward");
        }
        double t = now() - t0;
        if (it < 0)
            continue;
        if (strncmp(mode, "latency", 7) == 0)
            printf("%s_ms %.4f\n", mode, t * 1e3 / batch);
        else
            printf("%s_img_s %.2f\n", mode, batch / t);
    }
    fer_optimizer_free(opt);
    fer_int8_net_free(q);
    fer_model_free(folded);
    fer_model_free(m);
    fer_backend_free(b);
    free(x);
    free(logits);
    free(labels);
    return 0;
}
