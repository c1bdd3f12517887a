/* The fast CPU backend ("cpu"): op table, run-time kernel selection, workspaces.
 *
 * Kernel set, from CPUID (read once per process): avx512 when the CPU has AVX512F (+ AVX2, FMA)
 * and the OS saves the zmm state, else avx2 when it has AVX2+FMA, else portable C
 * (-Dcpu_backend=portable builds the portable set only). FER_ISA=avx512|avx2|portable forces a
 * set (fer-train / fer-eval --isa set it); forcing one the CPU lacks fails, naming the missing
 * feature. FER_CPU_KERNELS=portable, the older knob, still forces the portable set.
 * Threads: every parallel loop runs on the backend's fer_threadpool (b->pool), the process's one
 * pool, so compute never oversubscribes the cores. Heads, losses and softmax are tiny (n x 7)
 * and reuse the reference ops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend_ref.h"
#include "cpu_amx.h"
#include "cpu_bf16.h"
#include "cpu_internal.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* ---- CPU features ----------------------------------------------------------------------- */

unsigned cpu_os_xsave_states(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d) || !(c & (1u << 27))) /* OSXSAVE */
        return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return lo;
#else
    return 0;
#endif
}

/* What the CPU (and the OS, for the register state) offers, read once. */
static struct {
    int avx2, fma, avx512f, zmm_state;
} cpu_features;
static pthread_once_t cpu_features_once = PTHREAD_ONCE_INIT;

static void read_cpu_features(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    cpu_features.avx2 = __builtin_cpu_supports("avx2");
    cpu_features.fma = __builtin_cpu_supports("fma");
    cpu_features.avx512f = __builtin_cpu_supports("avx512f");
    /* xmm, ymm, opmask, zmm state enabled */
    cpu_features.zmm_state = (cpu_os_xsave_states() & 0xE6u) == 0xE6u;
#endif
}

/* NULL when the kernel set can run here, else what is missing ("AVX512F", ...). */
static const char *isa_missing(const char *isa)
{
    pthread_once(&cpu_features_once, read_cpu_features);
    if (strcmp(isa, "portable") == 0)
        return NULL;
    if (strcmp(isa, "avx2") == 0 || strcmp(isa, "avx512") == 0) {
#if !defined(FER_CPU_HAVE_AVX2)
        return "AVX2 kernels in this build";
#else
        if (!cpu_features.avx2)
            return "AVX2";
        if (!cpu_features.fma)
            return "FMA";
#endif
    }
    if (strcmp(isa, "avx512") == 0) {
#if !defined(FER_CPU_HAVE_AVX512)
        return "AVX-512 kernels in this build";
#else
        if (!cpu_features.avx512f)
            return "AVX512F";
        if (!cpu_features.zmm_state)
            return "OS support for the zmm registers";
#endif
    }
    return NULL;
}

static const cpu_kernels *kernels_named(const char *isa)
{
    (void)isa; /* unused in a portable-only build */
#if defined(FER_CPU_HAVE_AVX512)
    if (strcmp(isa, "avx512") == 0)
        return &cpu_kernels_avx512;
#endif
#if defined(FER_CPU_HAVE_AVX2)
    if (strcmp(isa, "avx2") == 0)
        return &cpu_kernels_avx2;
#endif
    return &cpu_kernels_portable;
}

/* AVX512F + AVX512_BF16 with the OS saving the zmm state. */
static int cpu_has_avx512_bf16(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if ((cpu_os_xsave_states() & 0xE6u) != 0xE6u) /* xmm, ymm, opmask, zmm state enabled */
        return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 16))) /* AVX512F */
        return 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d))
        return 0;
    return (a >> 5) & 1u; /* AVX512_BF16 */
#else
    return 0;
#endif
}

/* *k = the kernel set FER_ISA asks for (or the best this CPU runs); FER_ERR_ARG for an unknown
 * name, FER_ERR_UNSUPPORTED naming the missing feature when the forced set cannot run here. */
static fer_status pick_kernels(const cpu_kernels **k)
{
    const char *force = getenv("FER_ISA");
    if (!force || !*force || strcmp(force, "auto") == 0) {
        const char *old = getenv("FER_CPU_KERNELS");
        if (old && strcmp(old, "portable") == 0)
            return *k = &cpu_kernels_portable, FER_OK;
        static const char *const best_first[] = {"avx512", "avx2", "portable"};
        for (int i = 0;; i++)
            if (!isa_missing(best_first[i]))
                return *k = kernels_named(best_first[i]), FER_OK;
    }
    if (strcmp(force, "avx512") != 0 && strcmp(force, "avx2") != 0 &&
        strcmp(force, "portable") != 0) {
        return fer_fail(FER_ERR_ARG,
                        "cpu backend: FER_ISA=%s: expected avx512, avx2, portable or auto", force);
    }
    const char *missing = isa_missing(force);
    if (missing)
        return fer_fail(FER_ERR_UNSUPPORTED, "cpu backend: FER_ISA=%s cannot run here (no %s)",
                        force, missing);
    *k = kernels_named(force);
    return FER_OK;
}

/* ---- workspace and threads -------------------------------------------------------------- */

fer_status cpu_grow(float **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return FER_OK;
    free(*buf);
    *buf = NULL;
    *cap = 0;
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p)
        return fer_fail(FER_ERR_NOMEM, "cpu backend: cannot allocate a %zu MiB workspace",
                        bytes >> 20);
    *buf = p;
    *cap = bytes / sizeof(float);
    return FER_OK;
}

float *cpu_workspace(cpu_ctx *c, size_t n)
{
    if (cpu_grow(&c->ws, &c->ws_floats, n) != FER_OK)
        return NULL;
    return c->ws;
}

void cpu_parallel(cpu_ctx *c, int n_tasks, fer_task_fn fn, void *ctx)
{
    fer_threadpool_run(c->pool, n_tasks, fn, ctx);
}

/* ---- precision -------------------------------------------------------------------------- */

/* The backend's one-line description (printed by fer-train, fer-eval, bench and the tests):
 * kernel set, threads, and in bf16 mode which unit runs the GEMMs. */
static void write_note(fer_backend *b)
{
    const cpu_ctx *c = cpu_of(b);
    snprintf(b->note, sizeof b->note, "cpu backend: %s kernels, %d thread%s%s", c->k->name,
             c->threads, c->threads == 1 ? "" : "s",
             !c->bf16 ? "" : c->amx ? ", bf16 GEMMs on AMX tiles" : ", bf16 GEMMs by vdpbf16ps");
}

static fer_status cpu_set_precision(fer_backend *b, fer_precision p)
{
    cpu_ctx *c = cpu_of(b);
    if (p == FER_PREC_FP32) {
        c->bf16 = c->amx = 0;
        write_note(b);
        return FER_OK;
    }
    if (p == FER_PREC_BF16 && !c->has_bf16)
        return fer_fail(FER_ERR_UNSUPPORTED,
                        "cpu backend: bf16 needs a CPU with AVX512_BF16; this one has %s kernels "
                        "only (train in fp32)",
                        c->k->name);
    if (p == FER_PREC_BF16 && !cpu_bf16_built())
        return fer_fail(FER_ERR_UNSUPPORTED,
                        "cpu backend: this build has no bf16 kernels (train in fp32)");
    if (p == FER_PREC_BF16 && strcmp(c->k->name, "avx512") != 0) /* the bf16 GEMMs are zmm */
        return fer_fail(FER_ERR_UNSUPPORTED,
                        "cpu backend: bf16 runs with the avx512 kernel set, not %s (FER_ISA)",
                        c->k->name);
    if (p == FER_PREC_BF16) {
        /* AMX tiles where the CPU has them (many times vdpbf16ps's throughput); FER_CPU_AMX=0
         * keeps the vdpbf16ps kernels, FER_CPU_AMX=1 insists on AMX */
        const char *amx = getenv("FER_CPU_AMX");
        int want = !amx || strcmp(amx, "0") != 0;
        int usable = want && cpu_amx_usable();
        if (amx && strcmp(amx, "1") == 0 && !usable)
            return fer_fail(FER_ERR_UNSUPPORTED,
                            "cpu backend: FER_CPU_AMX=1, but %s", cpu_amx_built()
                                ? "this CPU (or its OS) offers no AMX-BF16 tiles"
                                : "this build has no AMX kernels");
        c->bf16 = 1;
        c->amx = usable;
        write_note(b);
        return FER_OK;
    }
    return fer_fail(FER_ERR_UNSUPPORTED, "cpu backend: fp16 is not supported (use bf16 or fp32)");
}

/* ---- the backend ------------------------------------------------------------------------ */

static void cpu_destroy(fer_backend *b)
{
    cpu_ctx *c = cpu_of(b);
    if (!c)
        return;
    free(c->ws);
    free(c->gemm_ws);
    cpu_wcache_free(c);
    free(c);
    b->ctx = NULL;
}

static const fer_backend_ops cpu_ops = {
    .destroy = cpu_destroy,
    .alloc = fer_ref_alloc,
    .release = fer_ref_release,
    .upload = fer_ref_upload,
    .download = fer_ref_download,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .synchronize = fer_ref_synchronize,
    .set_precision = cpu_set_precision,
    .conv2d_forward = cpu_conv2d_forward,
    .conv2d_backward = cpu_conv2d_backward,
    .batchnorm_forward = cpu_batchnorm_forward,
    .batchnorm_backward = cpu_batchnorm_backward,
    .relu_forward = cpu_relu_forward,
    .relu_backward = cpu_relu_backward,
    .maxpool_forward = cpu_maxpool_forward,
    .maxpool_backward = cpu_maxpool_backward,
    .linear_forward = cpu_linear_forward,
    .linear_backward = cpu_linear_backward,
    .dropout_forward = cpu_dropout_forward,
    .dropout_backward = cpu_dropout_backward,
    .activation_forward = cpu_activation_forward,
    .activation_backward = cpu_activation_backward,
    .avgpool_forward = cpu_avgpool_forward,
    .avgpool_backward = cpu_avgpool_backward,
    .add = cpu_add,
    .add_relu = cpu_add_relu,
    .channel_copy = cpu_channel_copy,
    .pad2d_forward = cpu_pad2d_forward,
    .pad2d_backward = cpu_pad2d_backward,
    .mul_forward = cpu_mul_forward,
    .mul_backward = cpu_mul_backward,
    .prelu_forward = cpu_prelu_forward,
    .prelu_backward = cpu_prelu_backward,
    .l2norm_rows_forward = fer_ref_l2norm_rows_forward,
    .l2norm_rows_backward = fer_ref_l2norm_rows_backward,
    .arcface_forward = fer_ref_arcface_forward,
    .arcface_backward = fer_ref_arcface_backward,
    .loss_forward_backward = fer_ref_loss_forward_backward,
    .softmax_rows = fer_ref_softmax_rows,
    .optimizer_step = cpu_optimizer_step,
    .sum_squares = cpu_sum_squares,
    .scale = cpu_scale,
};

fer_status fer_backend_cpu_new(int threads, fer_backend **out)
{
    *out = NULL;
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return fer_fail(FER_ERR_NOMEM, "cpu backend: out of memory");
    fer_status pick = pick_kernels(&c->k);
    if (pick != FER_OK) {
        free(c);
        return pick;
    }
    c->has_bf16 = cpu_has_avx512_bf16();
    /* Winograd F(4x4,3x3) by default in FP32 (1.2x SimpleCNN's training step over F(2x2,3x3);
     * bench/RESULTS.md), F(2x2,3x3) in bf16 mode (cpu_wino_tile). F(4x4)'s larger fp32 error
     * (transform constants up to 8) flips ReLU/max-pool decisions against PyTorch often enough
     * that the golden tests force F(2x2) (FER_CPU_WINOGRAD=2), whose sums stay within a few ulp;
     * F(4x4) is held to the backend-vs-ref tolerances and to an end-to-end training check. */
    const char *wino = getenv("FER_CPU_WINOGRAD");
    c->wino = !wino ? CPU_WINO_AUTO
              : strcmp(wino, "0") == 0 ? 0
              : strcmp(wino, "4") == 0 ? 4
              : strcmp(wino, "2") == 0 ? 2 : CPU_WINO_AUTO;
    /* streaming stores for large outputs (CPU_STREAM_MIN_BYTES); FER_CPU_STREAM=0 turns them
     * off (comparisons), =all on for outputs of any size (tests reach the path on small data) */
    const char *stream = getenv("FER_CPU_STREAM");
    c->stream_min_bytes = stream && strcmp(stream, "0") == 0     ? SIZE_MAX
                          : stream && strcmp(stream, "all") == 0 ? 0
                                                                 : CPU_STREAM_MIN_BYTES;
    fer_status st = fer_backend_host_new("cpu", &cpu_ops, c, threads, out);
    if (st != FER_OK) {
        free(c);
        return st;
    }
    c->pool = (*out)->pool;
    c->threads = (*out)->threads;
    (*out)->fuses_relu = 1; /* the ReLU in batch norm's passes (cpu_layers.c) and add's */
    (*out)->fuses_pool = 1; /* a 2x2 max pool in batch norm's output pass (cpu_layers.c) */
    write_note(*out);
    return FER_OK;
}
