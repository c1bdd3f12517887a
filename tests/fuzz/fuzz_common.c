/* Helpers shared by the fuzz targets; see fuzz_common.h. */
#include "fuzz_common.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fer/status.h"

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ FINDING: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

void fuzz_note(const char *what, int st)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FER_FUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "fuzz: %s: %s%s\n", what, st ? "refused: " : "ok",
                st ? fer_last_error() : "");
}

/* ---- scratch folder ------------------------------------------------------------------ */

static char scratch[256];

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(child);
            else
                unlink(child);
        }
        closedir(d);
    }
    rmdir(path);
}

static void remove_scratch(void)
{
    if (scratch[0])
        remove_tree(scratch);
}

static const char *scratch_dir(void)
{
    if (!scratch[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/ferfuzz.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(scratch))
            fuzz_fail("cannot create a scratch folder under %s", base ? base : "/tmp");
        atexit(remove_scratch);
    }
    return scratch;
}

#define N_PATHS 8
static char paths[N_PATHS][320];
static char path_names[N_PATHS][64];

static char *path_slot(const char *name)
{
    for (int i = 0; i < N_PATHS; i++) {
        if (!path_names[i][0] || !strcmp(path_names[i], name)) {
            snprintf(path_names[i], sizeof path_names[i], "%s", name);
            snprintf(paths[i], sizeof paths[i], "%s/%s", scratch_dir(), name);
            return paths[i];
        }
    }
    fuzz_fail("fuzz_common: more than %d scratch names", N_PATHS);
}

const char *fuzz_write_file(const char *name, const void *data, size_t size)
{
    char *path = path_slot(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fuzz_fail("cannot write the scratch file %s", path);
    return path;
}

const char *fuzz_fresh_dir(const char *name)
{
    char *path = path_slot(name);
    remove_tree(path);
    if (mkdir(path, 0700) != 0)
        fuzz_fail("cannot create the scratch folder %s", path);
    return path;
}

/* ---- backend -------------------------------------------------------------------------- */

static fer_backend *ref_backend;

static void free_backend(void)
{
    fer_backend_free(ref_backend);
    ref_backend = NULL;
}

static fer_backend *cpu_backend;

static void free_cpu_backend(void)
{
    fer_backend_free(cpu_backend);
    cpu_backend = NULL;
}

fer_backend *fuzz_cpu_backend(void)
{
    if (!cpu_backend) {
        if (fer_backend_new("cpu", 1, &cpu_backend) != FER_OK)
            fuzz_fail("cannot create the cpu backend: %s", fer_last_error());
        atexit(free_cpu_backend);
    }
    return cpu_backend;
}

fer_backend *fuzz_ref_backend(void)
{
    if (!ref_backend) {
        if (fer_backend_new("ref", 1, &ref_backend) != FER_OK)
            fuzz_fail("cannot create the ref backend: %s", fer_last_error());
        atexit(free_backend);
    }
    return ref_backend;
}

/* ---- architecture sizes ----------------------------------------------------------------- */

/* The layer formulas of fer/layer_math.h, in double (floor division as C's for the positive
 * operands that reach here). */
static double conv_out(double in, double k, double stride, double pad)
{
    return floor((in + 2 * pad - k) / stride) + 1;
}

static double pool_out(double in, double k, double stride)
{
    return in < k ? 0 : floor((in - k) / stride) + 1;
}

/* A node's output shape in the size model; flat: a feature vector (after flatten). */
typedef struct size_shape {
    double c, h, w;
    int flat;
} size_shape;

/* How many inputs a kind takes, as fer/arch.h documents it. */
static int arity_fits(fer_layer_kind kind, int n)
{
    switch (kind) {
    case FER_LAYER_ADD:
    case FER_LAYER_MUL:
        return n == 2;
    case FER_LAYER_CONCAT:
        return n >= 2 && n <= FER_MAX_INPUTS;
    default:
        return n == 1;
    }
}

/* Node i's input indices (FER_INPUT_NODE = the network input), resolved here rather than with
 * fer_arch_node_inputs so the model cross-checks the library's reading of n_inputs; -1 when the
 * count is out of range. */
static int resolve_inputs(const fer_arch *a, int i, int *in)
{
    const fer_layer_spec *l = &a->layers[i];
    if (l->n_inputs == 0) {
        in[0] = i == 0 ? FER_INPUT_NODE : i - 1;
        return 1;
    }
    if (l->n_inputs < 0 || l->n_inputs > FER_MAX_INPUTS)
        return -1;
    memcpy(in, l->inputs, (size_t)l->n_inputs * sizeof in[0]);
    return l->n_inputs;
}

/* Input indices earlier than the node (the stored order is topological), the arity each kind
 * takes, and every node leading to the last one (the output). */
static int graph_is_valid(const fer_arch *a)
{
    int leads[FER_MAX_LAYERS] = {0};
    int in[FER_MAX_INPUTS];
    for (int i = 0; i < a->n_layers; i++) {
        int n = resolve_inputs(a, i, in);
        if (n < 0 || !arity_fits(a->layers[i].kind, n))
            return 0;
        for (int k = 0; k < n; k++)
            if (in[k] < FER_INPUT_NODE || in[k] >= i)
                return 0;
    }
    leads[a->n_layers - 1] = 1;
    for (int i = a->n_layers - 1; i >= 0; i--) {
        if (!leads[i])
            return 0;
        int n = resolve_inputs(a, i, in);
        for (int k = 0; k < n; k++)
            if (in[k] >= 0)
                leads[in[k]] = 1;
    }
    return 1;
}

static int is_image_kind(fer_layer_kind kind)
{
    return kind == FER_LAYER_CONV2D || kind == FER_LAYER_BATCHNORM2D ||
           kind == FER_LAYER_MAXPOOL2D || kind == FER_LAYER_AVGPOOL2D ||
           kind == FER_LAYER_GLOBAL_AVGPOOL || kind == FER_LAYER_CHANNEL_PAD ||
           kind == FER_LAYER_PAD2D;
}

static int same_shape(const size_shape *x, const size_shape *y)
{
    return x->c == y->c && x->h == y->h && x->w == y->w && x->flat == y->flat;
}

/* One node's output shape and what it adds to out; 0 when the node is malformed. */
static int node_size(const fer_layer_spec *l, const size_shape *in, int n_in, size_shape *o,
                     fuzz_arch_size *out)
{
    const size_shape *x = &in[0];
    for (int k = 0; k < n_in; k++) {
        if (is_image_kind(l->kind) && in[k].flat)
            return 0;
        if ((l->kind == FER_LAYER_LINEAR || l->kind == FER_LAYER_BATCHNORM1D) && !in[k].flat)
            return 0;
    }
    double c = x->c, h = x->h, w = x->w;
    *o = *x;
    switch (l->kind) {
    case FER_LAYER_CONV2D: {
        if (l->out < 1 || l->k < 1 || l->stride < 1 || l->pad < 0 || l->groups < 1)
            return 0;
        double oh = conv_out(h, l->k, l->stride, l->pad);
        double ow = conv_out(w, l->k, l->stride, l->pad);
        double kk = (double)l->k * l->k;
        double c_per_group = c / l->groups; /* an output channel sees its group only */
        out->params += (double)l->out * c_per_group * kk + (l->bias ? l->out : 0);
        out->macs += (double)l->out * c_per_group * kk * oh * ow;
        *o = (size_shape){l->out, oh, ow, 0};
        break;
    }
    case FER_LAYER_BATCHNORM2D:
    case FER_LAYER_BATCHNORM1D: /* per channel or per feature: weight, bias; mean, var, count */
        out->params += 2 * c;
        out->buffers += 2 * c + 1;
        break;
    case FER_LAYER_MAXPOOL2D:
        if (l->k < 1 || l->stride < 1)
            return 0;
        o->h = pool_out(h, l->k, l->stride);
        o->w = pool_out(w, l->k, l->stride);
        out->work += c * o->h * o->w * (double)l->k * l->k;
        break;
    case FER_LAYER_FLATTEN:
        *o = (size_shape){c * h * w, 1, 1, 1};
        break;
    case FER_LAYER_LINEAR:
        if (l->out < 1)
            return 0;
        out->params += (double)l->out * c + (l->bias ? l->out : 0);
        out->macs += (double)l->out * c;
        o->c = l->out;
        break;
    case FER_LAYER_AVGPOOL2D:
        if (l->k < 1 || l->stride < 1 || l->pad < 0)
            return 0;
        o->h = h + 2.0 * l->pad < l->k ? 0 : conv_out(h, l->k, l->stride, l->pad);
        o->w = w + 2.0 * l->pad < l->k ? 0 : conv_out(w, l->k, l->stride, l->pad);
        out->macs += c * o->h * o->w * (double)l->k * l->k; /* window sums */
        break;
    case FER_LAYER_GLOBAL_AVGPOOL:
        out->macs += c * h * w;
        o->h = o->w = 1;
        break;
    case FER_LAYER_ADD:
        if (!same_shape(&in[0], &in[1]))
            return 0;
        out->macs += c * h * w;
        break;
    case FER_LAYER_MUL: /* a gate: the first input's shape, or one value per channel */
        if (!same_shape(&in[0], &in[1]) && !(in[1].c == c && in[1].h == 1 && in[1].w == 1))
            return 0;
        out->macs += c * h * w;
        break;
    case FER_LAYER_CONCAT: /* all images of one plane size, or all flat */
        o->c = 0;
        for (int k = 0; k < n_in; k++) {
            if (in[k].h != h || in[k].w != w || in[k].flat != x->flat)
                return 0;
            o->c += in[k].c;
        }
        break;
    case FER_LAYER_CHANNEL_PAD:
        if (l->out < c)
            return 0;
        o->c = l->out;
        break;
    case FER_LAYER_PAD2D:
        if (l->pad_top < 0 || l->pad_left < 0 || l->pad_bottom < 0 || l->pad_right < 0)
            return 0;
        o->h = h + l->pad_top + l->pad_bottom;
        o->w = w + l->pad_left + l->pad_right;
        break;
    case FER_LAYER_PRELU: /* one slope per channel (per feature when flat) */
        out->params += c;
        break;
    case FER_LAYER_RELU:
    case FER_LAYER_DROPOUT:
    case FER_LAYER_LEAKY_RELU:
    case FER_LAYER_RELU6:
    case FER_LAYER_HARDSWISH:
    case FER_LAYER_SIGMOID:
        break;
    default:
        return 0;
    }
    return o->c >= 1 && o->h >= 1 && o->w >= 1;
}

void fuzz_arch_size_of(const fer_arch *a, fuzz_arch_size *out)
{
    memset(out, 0, sizeof *out);
    if (a->n_layers < 1 || a->n_layers > FER_MAX_LAYERS || a->in_c < 1 || a->in_h < 1 ||
        a->in_w < 1 || a->n_classes < 1 || !graph_is_valid(a))
        return;
    const size_shape input = {a->in_c, a->in_h, a->in_w, 0};
    size_shape shapes[FER_MAX_LAYERS];
    out->largest_numel = input.c * input.h * input.w;
    out->act_floats = out->largest_numel;
    for (int i = 0; i < a->n_layers; i++) {
        int src[FER_MAX_INPUTS];
        size_shape in[FER_MAX_INPUTS];
        int n_in = resolve_inputs(a, i, src);
        for (int k = 0; k < n_in; k++)
            in[k] = src[k] == FER_INPUT_NODE ? input : shapes[src[k]];
        if (!node_size(&a->layers[i], in, n_in, &shapes[i], out))
            return;
        double numel = shapes[i].c * shapes[i].h * shapes[i].w;
        out->work += numel;
        if (numel > out->largest_numel)
            out->largest_numel = numel;
        out->act_floats += numel;
    }
    const size_shape *last = &shapes[a->n_layers - 1];
    if (!last->flat)
        return;
    out->params +=
        (double)a->n_classes * last->c + (a->head == FER_HEAD_SOFTMAX ? a->n_classes : 0);
    out->macs += (double)a->n_classes * last->c;
    out->work += out->macs;
    out->valid = 1;
}

/* ---- exercising a model ----------------------------------------------------------------- */

/* The fixed input of every forward pass here. */
static float *pattern_input(const fer_arch *a)
{
    size_t in_numel = (size_t)a->in_c * a->in_h * a->in_w;
    float *x = malloc(in_numel * sizeof(float));
    if (!x)
        fuzz_fail("out of memory for an input of %zu floats", in_numel);
    for (size_t i = 0; i < in_numel; i++)
        x[i] = (float)((int)(i % 7) - 3) * 0.25f;
    return x;
}

void fuzz_forward_once(fer_model *m)
{
    float *x = pattern_input(fer_model_arch(m));
    float logits[FER_MAX_CLASSES];
    (void)fer_model_forward(m, x, 1, FER_MODE_EVAL, NULL, 0, logits);
    free(x);
}

/* The cpu backend (what fer-eval and ferclassify use without a GPU) on the same architecture
 * and weights: it must build what ref built, run without a memory error, and agree with ref (the
 * oracle) where the logits are moderate. The tolerance is loose: the fast kernels sum in
 * another order (Winograd, blocked GEMM). */
static void compare_with_cpu(const fer_model *ref_model, const float *x, const float *ref_logits)
{
    const fer_arch *a = fer_model_arch(ref_model);
    fer_model *c = NULL;
    if (fer_model_new(a, fuzz_cpu_backend(), 1, &c) != FER_OK)
        fuzz_fail("the ref backend built this architecture, the cpu backend refused it: %s",
                  fer_last_error());
    for (int t = 0; t < fer_model_n_tensors(ref_model); t++) {
        fer_tensor_info ti;
        float *v;
        if (fer_model_tensor_info(ref_model, t, &ti) != FER_OK ||
            !(v = malloc((ti.numel ? ti.numel : 1) * sizeof(float))))
            fuzz_fail("tensor %d: cannot copy it to the cpu model", t);
        if (fer_model_get_tensor((fer_model *)ref_model, ti.name, v, ti.numel) != FER_OK ||
            fer_model_set_tensor(c, ti.name, v, ti.numel) != FER_OK)
            fuzz_fail("tensor %s: cannot copy it to the cpu model: %s", ti.name,
                      fer_last_error());
        free(v);
    }
    float logits[FER_MAX_CLASSES];
    fer_status st = fer_model_forward(c, x, 1, FER_MODE_EVAL, NULL, 0, logits);
    fuzz_note("cpu forward", st);
    if (st != FER_OK)
        fuzz_fail("ref ran this forward pass, cpu failed: %s", fer_last_error());
    double scale = 0;
    for (int k = 0; k < a->n_classes; k++) {
        if (!isfinite(ref_logits[k]))
            scale = INFINITY;
        else if (fabs(ref_logits[k]) > scale)
            scale = fabs(ref_logits[k]);
    }
    for (int k = 0; k < a->n_classes && scale < 1e4; k++)
        if (!(fabs((double)logits[k] - ref_logits[k]) <= 1e-2 * (1 + scale)))
            fuzz_fail("cpu and ref disagree: logit %d is %.9g on cpu, %.9g on ref", k,
                      (double)logits[k], (double)ref_logits[k]);
    fer_model_free(c);
}

static void train_step_once(fer_model *m)
{
    const fer_arch *a = fer_model_arch(m);
    size_t in_numel = (size_t)a->in_c * a->in_h * a->in_w;
    float *x = calloc(in_numel, sizeof(float));
    int32_t label = a->n_classes - 1;
    if (!x)
        fuzz_fail("out of memory for an input of %zu floats", in_numel);
    for (size_t i = 0; i < in_numel; i++)
        x[i] = (float)((int)(i % 5) - 2) * 0.5f;
    fer_loss_config loss = {.kind = FER_LOSS_CE, .gamma = 2.0f};
    float value = 0;
    if (fer_model_forward(m, x, 1, FER_MODE_TRAIN, &label, 42, NULL) == FER_OK &&
        fer_model_loss(m, &loss, &label, &value) == FER_OK)
        (void)fer_model_backward(m);
    free(x);
}

/* The model's tensor table against the formulas: a wrapped size shows up as a mismatch. */
static void check_tensors(const fer_model *m, const fuzz_arch_size *est)
{
    double params = 0;
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        if (fer_model_tensor_info(m, t, &ti) != FER_OK)
            fuzz_fail("tensor %d of %d has no info: %s", t, fer_model_n_tensors(m),
                      fer_last_error());
        double numel = 1;
        for (int d = 0; d < ti.ndim; d++)
            numel *= ti.shape[d];
        if (numel != (double)ti.numel)
            fuzz_fail("tensor %s: shape gives %.0f elements, numel says %zu", ti.name, numel,
                      ti.numel);
        if (ti.role == FER_TENSOR_PARAM)
            params += numel;
    }
    if (params != est->params || (double)fer_model_param_count(m) != est->params)
        fuzz_fail("model has %.0f parameters in its tensors and %zu by its count; the layer "
                  "formulas give %.0f", params, fer_model_param_count(m), est->params);
}

/* Caps are compared with 5% slack: the sizes here and the library's may count a term
 * differently, and a wrapped size is off by orders of magnitude anyway. */
#define CAP_SLACK 1.05

int fuzz_arch_over_caps(const fuzz_arch_size *s)
{
    return !s->valid || s->params + s->buffers > CAP_SLACK * FUZZ_CAP_PARAMS ||
           s->largest_numel > CAP_SLACK * FUZZ_CAP_LAYER_NUMEL ||
           s->macs > CAP_SLACK * FUZZ_CAP_MACS;
}

void fuzz_fail_over_caps(const char *what, const fuzz_arch_size *s)
{
    fuzz_fail("%s over the caps was accepted: %s%.4g parameters + buffers (cap %.4g), largest "
              "layer output %.4g floats per sample (cap %.4g), %.4g multiply-adds (cap %.4g)",
              what, s->valid ? "" : "malformed graph, ", s->params + s->buffers,
              FUZZ_CAP_PARAMS, s->largest_numel, FUZZ_CAP_LAYER_NUMEL, s->macs, FUZZ_CAP_MACS);
}

/* An architecture within the caps: where the library validates it, its own count (fer_arch_sizes, 64-bit
 * integers) must equal the formulas here exactly (every count is an integer below 2^53, so the
 * doubles hold it exactly); a graph read differently shows up as another count. */
static void check_library_sizes(const fer_arch *a, const fuzz_arch_size *est)
{
    fer_arch_size_info info;
    if (fer_arch_sizes(a, "fuzz", &info) != FER_OK)
        return; /* refused by a cap of its own (a width): not a size the formulas disagree on */
    if ((double)info.params != est->params || (double)info.buffers != est->buffers ||
        (double)info.max_floats != est->largest_numel || (double)info.macs != est->macs)
        fuzz_fail("fer_arch_sizes counts %lld parameters, %lld buffers, %lld floats in the "
                  "largest output, %lld multiply-adds; the formulas give %.0f, %.0f, %.0f, %.0f",
                  info.params, info.buffers, info.max_floats, info.macs, est->params,
                  est->buffers, est->largest_numel, est->macs);
}

void fuzz_exercise_arch(const fer_arch *a, int train)
{
    fuzz_arch_size est;
    fuzz_arch_size_of(a, &est);
    fer_backend *b = fuzz_ref_backend();
    fer_model *m = NULL;
    if (est.valid && est.params + est.buffers <= FUZZ_CAP_PARAMS &&
        est.largest_numel <= FUZZ_CAP_LAYER_NUMEL && est.macs <= FUZZ_CAP_MACS)
        check_library_sizes(a, &est);
    if (fuzz_arch_over_caps(&est)) {
        /* Over the caps (or malformed): building it must fail, before it allocates. */
        if (fer_model_new(a, b, 1, &m) == FER_OK) {
            fer_model_free(m);
            fuzz_fail_over_caps("an architecture", &est);
        }
        return;
    }
    if (est.params > FUZZ_BUILD_PARAMS || est.act_floats > FUZZ_BUILD_ACT_FLOATS)
        return; /* legal, but too big to build thousands of times */
    fer_status st = fer_model_new(a, b, 1, &m);
    fuzz_note("fer_model_new", st);
    if (st != FER_OK)
        return;
    check_tensors(m, &est);
    if (est.work <= FUZZ_FORWARD_WORK) {
        float *x = pattern_input(a);
        float logits[FER_MAX_CLASSES];
        if (fer_model_forward(m, x, 1, FER_MODE_EVAL, NULL, 0, logits) == FER_OK)
            compare_with_cpu(m, x, logits);
        free(x);
        if (train)
            train_step_once(m);
    }
    fer_model_free(m);
}

void fuzz_check_arch_json(const char *text)
{
    fer_arch a;
    fer_status st = fer_arch_from_json(text, "fuzz.json", &a);
    fuzz_note("fer_arch_from_json", st);
    if (st != FER_OK)
        return;
    char *again = fer_arch_to_json(&a);
    fer_arch b;
    if (!again)
        fuzz_fail("fer_arch_to_json failed on an accepted architecture");
    if (fer_arch_from_json(again, "fuzz.json (written back)", &b) != FER_OK)
        fuzz_fail("an accepted architecture does not load once written back: %s",
                  fer_last_error());
    if (!fer_arch_equal(&a, &b))
        fuzz_fail("an accepted architecture changes when written back: %s", again);
    free(again);
    fuzz_exercise_arch(&a, 1);
}

/* ---- bytes ------------------------------------------------------------------------------ */

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        fuzz_fail("out of memory for %zu bytes", size);
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

void fuzz_check_weights_finite(const char *what, fer_model *m)
{
    for (int t = 0; t < fer_model_n_tensors(m); t++) {
        fer_tensor_info ti;
        if (fer_model_tensor_info(m, t, &ti) != FER_OK)
            fuzz_fail("tensor %d: %s", t, fer_last_error());
        float *v = malloc((ti.numel ? ti.numel : 1) * sizeof(float));
        if (!v)
            fuzz_fail("out of memory for tensor %s (%zu floats)", ti.name, ti.numel);
        if (fer_model_get_tensor(m, ti.name, v, ti.numel) != FER_OK)
            fuzz_fail("cannot read back tensor %s: %s", ti.name, fer_last_error());
        for (size_t i = 0; i < ti.numel; i++)
            if (!isfinite(v[i]))
                fuzz_fail("%s: tensor %s[%zu] is %g", what, ti.name, i, (double)v[i]);
        free(v);
    }
}
