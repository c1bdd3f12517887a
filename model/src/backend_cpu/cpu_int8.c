/* int8 kernels: the portable reference GEMM and the choice of a kernel set (CPUID, once). */
#include "cpu_int8.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The epilogue of one value, as every kernel set computes it (see cpu_int8.h). */
static inline float i8_epilogue(int32_t acc, int32_t comp, float mult, float add, float lo,
                                float hi)
{
    float y = (float)(acc - comp) * mult;
    y = y + add;
    y = y < lo ? lo : y;
    return y > hi ? hi : y;
}

static void gemm_portable(const fer_i8_gemm *g, int m0, int m1)
{
    for (int i = m0; i < m1; i++) {
        const uint8_t *a = g->a + (size_t)i * g->lda;
        for (int o = 0; o < g->n_pad; o++) {
            int32_t acc = 0;
            for (int k = 0; k < g->k; k++)
                acc += (int32_t)a[k] * (int32_t)g->b[fer_i8_pack_index(g->k, k, o)];
            float y = i8_epilogue(acc, g->comp[o], g->mult[o], g->add[o], g->lo, g->hi);
            if (g->out_u8)
                g->out_u8[(size_t)i * g->ldo + o] = (uint8_t)nearbyintf(y);
            else
                g->out_f32[(size_t)i * g->ldf + o] = y;
        }
    }
}

void fer_i8_add_ref(const fer_i8_add *p)
{
    for (size_t e = 0; e < p->n; e++) {
        float y = ((float)p->a[e] - p->za) * p->ma + ((float)p->b[e] - p->zb) * p->mb + p->zo;
        y = y > p->lo ? y : p->lo;
        y = y < 255.0f ? y : 255.0f;
        p->out[e] = fer_i8_round_u8(y);
    }
}

const fer_i8_kernels fer_i8_kernels_portable = {"portable", gemm_portable, fer_i8_add_ref};

static struct {
    int avx512_vnni, avx_vnni;
} i8_cpu;
static pthread_once_t i8_cpu_once = PTHREAD_ONCE_INIT;

static void read_i8_cpu(void)
{
#if defined(FER_CPU_HAVE_VNNI) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    /* GCC's feature bits include the OS's register-state check (xgetbv) */
    i8_cpu.avx512_vnni = __builtin_cpu_supports("avx512vnni") &&
                         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f");
    i8_cpu.avx_vnni = __builtin_cpu_supports("avxvnni") && __builtin_cpu_supports("avx2");
#endif
}

const char *fer_i8_missing(const char *name)
{
    pthread_once(&i8_cpu_once, read_i8_cpu);
    if (strcmp(name, "portable") == 0)
        return NULL;
#if !defined(FER_CPU_HAVE_VNNI)
    return strcmp(name, "avx512_vnni") == 0 || strcmp(name, "avx_vnni") == 0
               ? "VNNI kernels in this build"
               : "such kernel set";
#else
    if (strcmp(name, "avx512_vnni") == 0)
        return i8_cpu.avx512_vnni ? NULL : "AVX512_VNNI";
    if (strcmp(name, "avx_vnni") == 0)
        return i8_cpu.avx_vnni ? NULL : "AVX-VNNI";
    return "such kernel set";
#endif
}

static const fer_i8_kernels *i8_named(const char *name)
{
#if defined(FER_CPU_HAVE_VNNI)
    if (strcmp(name, "avx512_vnni") == 0)
        return &fer_i8_kernels_avx512_vnni;
    if (strcmp(name, "avx_vnni") == 0)
        return &fer_i8_kernels_avx_vnni;
#endif
    if (strcmp(name, "portable") == 0)
        return &fer_i8_kernels_portable;
    return NULL;
}

fer_status fer_i8_select(const char *name, const fer_i8_kernels **out)
{
    *out = NULL;
    if (!name || !*name || strcmp(name, "auto") == 0) {
        static const char *const best_first[] = {"avx512_vnni", "avx_vnni", "portable"};
        for (int i = 0;; i++)
            if (!fer_i8_missing(best_first[i]))
                return *out = i8_named(best_first[i]), FER_OK;
    }
    if (strcmp(name, "avx512_vnni") && strcmp(name, "avx_vnni") && strcmp(name, "portable"))
        return fer_fail(FER_ERR_ARG, "int8: unknown kernel set '%s' (expected avx512_vnni, "
                        "avx_vnni, portable or auto)", name);
    const char *missing = fer_i8_missing(name);
    if (missing)
        return fer_fail(FER_ERR_UNSUPPORTED, "int8: kernel set %s cannot run here (no %s)",
                        name, missing);
    *out = i8_named(name);
    return FER_OK;
}

fer_status fer_i8_select_env(const fer_i8_kernels **out)
{
    const char *isa = getenv("FER_ISA");
    if (!isa || !*isa || strcmp(isa, "auto") == 0)
        return fer_i8_select("auto", out);
    if (strcmp(isa, "avx512") == 0)
        return fer_i8_select("avx512_vnni", out);
    if (strcmp(isa, "avx2") == 0)
        return fer_i8_select(fer_i8_missing("avx_vnni") ? "portable" : "avx_vnni", out);
    if (strcmp(isa, "portable") == 0)
        return fer_i8_select("portable", out);
    return fer_fail(FER_ERR_ARG, "int8: FER_ISA=%s: expected avx512, avx2, portable or auto", isa);
}
