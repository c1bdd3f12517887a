/* Shared by the fuzz targets (tests/fuzz/fuzz_TARGET.c): a per-process scratch folder for readers
 * that only take a path, the ref and cpu backends, size estimates of an architecture computed in
 * double (so they cannot wrap), and the checks every target applies to what a reader accepted.
 *
 * The targets are built twice: as libFuzzer binaries (clang, -Dfuzz=enabled, tests/fuzz/run.sh)
 * and as replay programs (replay_main.c, any compiler) that run the committed corpora as meson
 * tests. A finding is an abort() with a one-line reason on stderr. */
#ifndef FER_FUZZ_COMMON_H
#define FER_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>

#include "fer/arch.h"
#include "fer/backend.h"
#include "fer/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The caps the model library documents (fer/arch.h, model/README.md): anything it accepts must
 * fit them, so a target aborts when an architecture over them loads. */
#define FUZZ_CAP_PARAMS ((double)FER_MAX_PARAMS)            /* parameters + buffers */
#define FUZZ_CAP_LAYER_NUMEL ((double)FER_MAX_SAMPLE_FLOATS) /* input or a layer output */
#define FUZZ_CAP_MACS ((double)FER_MAX_MACS)                /* one sample's forward pass */

/* What a target is willing to build and run per input (a fuzzer runs thousands per second). */
#define FUZZ_BUILD_PARAMS ((double)(1u << 20))
#define FUZZ_BUILD_ACT_FLOATS ((double)(1u << 20))
#define FUZZ_FORWARD_WORK 5e6 /* fuzz_arch_size.work */

/* Reports a finding and aborts (the fuzzer saves the input; the replay test fails). */
void fuzz_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

/* With FER_FUZZ_VERBOSE set: one line saying whether step WHAT of a target succeeded (st 0) or
 * what the library answered; for finding out why an input stops early. */
void fuzz_note(const char *what, int st);

/* Writes data to NAME inside this process's scratch folder (created on first use, removed at
 * exit); returns the path (valid until the next call with the same name). */
const char *fuzz_write_file(const char *name, const void *data, size_t size);
/* A fresh empty sub-folder of the scratch folder (emptied if it exists); returns its path. */
const char *fuzz_fresh_dir(const char *name);

/* One ref and one cpu backend (1 thread each) for the whole process. */
fer_backend *fuzz_ref_backend(void);
fer_backend *fuzz_cpu_backend(void);

/* Sizes of an architecture as the layer formulas give them, in double. The graph (inputs,
 * arity, dead nodes) and each kind's shape rules are re-derived from fer/arch.h here, not taken
 * from the library, so a disagreement shows up as a finding. */
typedef struct fuzz_arch_size {
    int valid;              /* 0: the graph is malformed (the library must refuse it anyway) */
    double params;          /* trained scalars, head included */
    double buffers;         /* batch-norm running statistics and counters */
    double largest_numel;   /* largest layer output per sample */
    double act_floats;      /* every layer output summed, per sample */
    double macs;            /* multiply-adds of one sample's conv, linear and head layers */
    double work;            /* macs + pooling window reads + element-wise work: run time */
} fuzz_arch_size;
void fuzz_arch_size_of(const fer_arch *a, fuzz_arch_size *out);

/* 1 when the sizes are over a cap (or the graph is malformed): the library must refuse it. */
int fuzz_arch_over_caps(const fuzz_arch_size *s);
/* Aborts: "WHAT over the caps was accepted: ...sizes...". */
void fuzz_fail_over_caps(const char *what, const fuzz_arch_size *s)
#if defined(__GNUC__)
    __attribute__((noreturn))
#endif
    ;

/* Everything the model library does with an architecture it accepted (fer_arch_from_json or a
 * checkpoint header): checks it fits the caps (else: a model that loads is a finding), that
 * fer_arch_sizes counts exactly the parameters, buffers, largest output and multiply-adds of the
 * formulas here (when it validates within the caps), builds the
 * model on ref when small enough, checks its tensor table against the formulas, runs one eval
 * forward pass on a batch of 1, the same on the cpu backend with the same weights (the logits
 * must agree), and one training step on ref when train != 0. */
void fuzz_exercise_arch(const fer_arch *a, int train);

/* fer_arch_from_json on text; when accepted: it must read back the same after fer_arch_to_json,
 * then fuzz_exercise_arch(train = 1). */
void fuzz_check_arch_json(const char *text);

/* One eval forward pass of a batch of 1 (a fixed pattern in [-0.75, 0.75]); a failure is not a
 * finding (an error status is an answer), a crash is. */
void fuzz_forward_once(fer_model *m);
/* Every value of every tensor of m is finite; else a finding "WHAT: tensor NAME[i] is v". */
void fuzz_check_weights_finite(const char *what, fer_model *m);

/* NUL-terminated malloc'd copy of data (abort on allocation failure). */
char *fuzz_strndup(const uint8_t *data, size_t size);
#endif
