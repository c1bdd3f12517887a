/* Backend registry: construction by name, "auto" selection, and the shared host-backend object. */
#include "fer/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_ref.h"

fer_status fer_backend_host_new(const char *name, const fer_backend_ops *ops, void *ctx,
                                int threads, fer_backend **out)
{
    *out = NULL;
    fer_backend *b = calloc(1, sizeof *b);
    if (!b)
        return fer_fail(FER_ERR_NOMEM, "backend %s: out of memory", name);
    b->ops = ops;
    b->ctx = ctx;
    snprintf(b->name, sizeof b->name, "%s", name);
    b->precision = FER_PREC_FP32;
    fer_status st = fer_threadpool_new(threads, &b->pool);
    if (st != FER_OK) {
        free(b);
        return st;
    }
    b->threads = fer_threadpool_size(b->pool);
    *out = b;
    return FER_OK;
}

#ifndef FER_WITH_CUDA
/* Built without CUDA: the constructor exists so callers need no #ifdef. */
fer_status fer_backend_cuda_new(int threads, fer_backend **out)
{
    (void)threads;
    *out = NULL;
    return fer_fail(FER_ERR_UNSUPPORTED,
                    "cuda: this build has no CUDA backend (reconfigure with -Dcuda=enabled on a "
                    "machine with nvcc and cuDNN)");
}

int fer_cuda_device_count(void)
{
    return 0;
}
#endif

fer_status fer_backend_new(const char *name, int threads, fer_backend **out)
{
    *out = NULL;
    if (!name || !*name || strcmp(name, "auto") == 0) {
        if (fer_cuda_device_count() > 0) {
            fer_status st = fer_backend_cuda_new(threads, out);
            if (st == FER_OK)
                return FER_OK;
            char why[256];
            snprintf(why, sizeof why, "%s", fer_last_error());
            st = fer_backend_cpu_new(threads, out);
            if (st == FER_OK)
                snprintf((*out)->note, sizeof (*out)->note, "cuda unavailable (%.100s); using cpu",
                         why);
            return st;
        }
        fer_status st = fer_backend_cpu_new(threads, out);
        if (st == FER_OK) { /* keeps the cpu backend's own note (kernel set, threads) */
            char cpu_note[sizeof (*out)->note];
            snprintf(cpu_note, sizeof cpu_note, "%s", (*out)->note);
#ifdef FER_WITH_CUDA
            snprintf((*out)->note, sizeof (*out)->note, "no CUDA device found; using %.128s",
                     cpu_note);
#else
            snprintf((*out)->note, sizeof (*out)->note, "built without CUDA; using %.128s",
                     cpu_note);
#endif
        }
        return st;
    }
    if (strcmp(name, "ref") == 0)
        return fer_backend_ref_new(threads, out);
    if (strcmp(name, "cpu") == 0)
        return fer_backend_cpu_new(threads, out);
    if (strcmp(name, "cuda") == 0)
        return fer_backend_cuda_new(threads, out);
    return fer_fail(FER_ERR_ARG, "backend: unknown backend '%s' (expected auto, cpu, cuda or ref)",
                    name);
}

void fer_backend_free(fer_backend *b)
{
    if (!b)
        return;
    if (b->ops && b->ops->destroy)
        b->ops->destroy(b);
    fer_threadpool_free(b->pool);
    free(b);
}

const char *fer_backend_name(const fer_backend *b)
{
    return b ? b->name : "";
}

const char *fer_backend_note(const fer_backend *b)
{
    return b ? b->note : "";
}

fer_threadpool *fer_backend_threadpool(fer_backend *b)
{
    return b ? b->pool : NULL;
}

fer_status fer_backend_set_precision(fer_backend *b, fer_precision p)
{
    if (p == FER_PREC_FP32) {
        if (b->ops->set_precision) {
            fer_status st = b->ops->set_precision(b, p);
            if (st != FER_OK)
                return st;
        }
        b->precision = p;
        return FER_OK;
    }
    if (!b->ops->set_precision)
        return fer_fail(FER_ERR_UNSUPPORTED, "backend %s: only fp32 is supported", b->name);
    fer_status st = b->ops->set_precision(b, p);
    if (st == FER_OK)
        b->precision = p;
    return st;
}

const char *const *fer_backend_list(void)
{
#ifdef FER_WITH_CUDA
    static const char *const names[] = {"ref", "cpu", "cuda", NULL};
#else
    static const char *const names[] = {"ref", "cpu", NULL};
#endif
    return names;
}
