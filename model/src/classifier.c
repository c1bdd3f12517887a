/* Inference convenience: checkpoint + backend + model in eval mode (batch norm folded into the
 * convolutions, fer_model_fold), batches of faces in, logits/probabilities out. */
#include "fer/classifier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fer/loss_math.h"
#include "fer/quant.h"

struct fer_classifier {
    fer_backend *backend;
    fer_model *model;
    fer_checkpoint_meta meta;
    int max_batch, n_classes;
    size_t in_numel;
    float *x;      /* max_batch * in_numel, normalised input */
    float *logits; /* max_batch * classes */
    char *path;    /* the checkpoint (its int8 block is read by fer_classifier_set_precision) */
    int threads;
    fer_int8_net *int8;      /* precision int8: runs instead of the folded FP32 model */
    char precision_note[320];
    int adjust;    /* add meta.logit_offsets (when the checkpoint has them) */
};

fer_status fer_classifier_new(const char *checkpoint_path, const char *backend, int threads,
                              int max_batch, fer_classifier **out)
{
    *out = NULL;
    if (max_batch < 1)
        return fer_fail(FER_ERR_ARG, "classifier: max_batch must be >= 1");
    fer_classifier *c = calloc(1, sizeof *c);
    if (!c)
        return fer_fail(FER_ERR_NOMEM, "classifier: out of memory");
    fer_status st = fer_backend_new(backend, threads, &c->backend);
    fer_model *trained = NULL;
    if (st == FER_OK)
        st = fer_checkpoint_load(checkpoint_path, c->backend, max_batch, &trained, &c->meta);
    /* inference only: batch norm (and the activation after it) folded into the convolutions */
    if (st == FER_OK)
        st = fer_model_fold(trained, c->backend, max_batch, &c->model, NULL);
    fer_model_free(trained);
    if (st == FER_OK) {
        const fer_arch *a = fer_model_arch(c->model);
        c->max_batch = max_batch;
        c->adjust = 1;
        c->threads = threads;
        c->path = strdup(checkpoint_path);
        c->n_classes = a->n_classes;
        c->in_numel = (size_t)a->in_c * a->in_h * a->in_w;
        c->x = malloc((size_t)max_batch * c->in_numel * sizeof(float));
        c->logits = malloc((size_t)max_batch * c->n_classes * sizeof(float));
        if (!c->x || !c->logits || !c->path)
            st = fer_fail(FER_ERR_NOMEM, "classifier: out of memory");
    }
    if (st != FER_OK) {
        fer_classifier_free(c);
        return st;
    }
    *out = c;
    return FER_OK;
}

void fer_classifier_free(fer_classifier *c)
{
    if (!c)
        return;
    fer_int8_net_free(c->int8);
    free(c->path);
    fer_model_free(c->model);
    fer_backend_free(c->backend);
    fer_checkpoint_meta_clear(&c->meta);
    free(c->x);
    free(c->logits);
    free(c);
}

int fer_classifier_n_classes(const fer_classifier *c)
{
    return c->n_classes;
}

const char *fer_classifier_class_name(const fer_classifier *c, int i)
{
    return i >= 0 && i < c->n_classes ? c->meta.class_names[i] : "";
}

const fer_checkpoint_meta *fer_classifier_meta(const fer_classifier *c)
{
    return &c->meta;
}

const char *fer_classifier_backend_name(const fer_classifier *c)
{
    return fer_backend_name(c->backend);
}

const char *fer_classifier_backend_note(const fer_classifier *c)
{
    return fer_backend_note(c->backend);
}

fer_status fer_classifier_set_precision(fer_classifier *c, const char *precision)
{
    if (strcmp(precision, "fp32") && strcmp(precision, "int8"))
        return fer_fail(FER_ERR_ARG, "classifier: precision '%s' is not fp32 or int8", precision);
    fer_int8_net_free(c->int8);
    c->int8 = NULL;
    c->precision_note[0] = 0;
    if (!strcmp(precision, "fp32"))
        return FER_OK;
    fer_int8_calib calib;
    int found;
    fer_status st = fer_checkpoint_load_int8(c->path, &calib, &found);
    if (st != FER_OK)
        return st;
    if (!found)
        return fer_fail(FER_ERR_ARG, "%s: no int8 calibration block (make a calibrated copy: "
                        "fer-eval --model %s --data_root DIR --split val --calibrate_int8 OUT.fer)",
                        c->path, c->path);
    st = fer_int8_calib_check(&calib, fer_model_arch(c->model)->n_layers, c->path);
    if (st == FER_OK)
        st = fer_int8_net_new(c->model, &calib, c->max_batch, c->threads, &c->int8);
    if (st == FER_ERR_UNSUPPORTED) { /* a node without an int8 form: the model stays FP32 */
        snprintf(c->precision_note, sizeof c->precision_note, "%s: running FP32",
                 fer_last_error());
        return FER_OK;
    }
    if (st == FER_OK)
        snprintf(c->precision_note, sizeof c->precision_note, "%s", fer_int8_net_note(c->int8));
    return st;
}

const char *fer_classifier_precision_note(const fer_classifier *c)
{
    return c->precision_note;
}

int fer_classifier_is_int8(const fer_classifier *c)
{
    return c->int8 != NULL;
}

fer_model *fer_classifier_model(fer_classifier *c)
{
    return c->model;
}

void fer_classifier_set_adjust(fer_classifier *c, int on)
{
    c->adjust = on != 0;
}

const float *fer_classifier_logit_offsets(const fer_classifier *c)
{
    return c->adjust && c->meta.has_logit_offsets ? c->meta.logit_offsets : NULL;
}

float fer_tau_norm_scale(float norm, float p)
{
    return norm > 0.0f ? (float)(1.0 / pow((double)norm, (double)p)) : 1.0f;
}

void fer_tau_norm_rows(float *w, int rows, size_t cols, float p, float *norms_out)
{
    for (int r = 0; r < rows; r++) {
        float *row = w + (size_t)r * cols;
        double ss = 0.0;
        for (size_t j = 0; j < cols; j++)
            ss += (double)row[j] * row[j];
        float norm = (float)sqrt(ss), s = fer_tau_norm_scale(norm, p);
        if (norms_out)
            norms_out[r] = norm;
        for (size_t j = 0; j < cols; j++)
            row[j] *= s;
    }
}

/* The head's weight (n_classes x features) on the host; *w_out malloc'd. */
static fer_status head_weight(fer_classifier *c, float **w_out, size_t *numel)
{
    *w_out = NULL;
    const fer_arch *a = fer_model_arch(c->model);
    if (a->head != FER_HEAD_SOFTMAX)
        return fer_fail(FER_ERR_UNSUPPORTED, "classifier: the arcface head has normalised rows "
                        "already (tau-normalisation is for the softmax head)");
    for (int t = 0; t < fer_model_n_tensors(c->model); t++) {
        fer_tensor_info ti;
        fer_status st = fer_model_tensor_info(c->model, t, &ti);
        if (st != FER_OK)
            return st;
        if (strcmp(ti.name, "head.weight") != 0)
            continue;
        float *w = malloc(ti.numel * sizeof(float));
        if (!w)
            return fer_fail(FER_ERR_NOMEM, "classifier: out of memory");
        st = fer_model_get_tensor(c->model, "head.weight", w, ti.numel);
        if (st != FER_OK) {
            free(w);
            return st;
        }
        *w_out = w;
        *numel = ti.numel;
        return FER_OK;
    }
    return fer_fail(FER_ERR_INTERNAL, "classifier: the model has no head.weight");
}

fer_status fer_classifier_tau_norm(fer_classifier *c, float p, float *row_norms_out)
{
    if (!(p >= 0.0f) || !isfinite(p))
        return fer_fail(FER_ERR_ARG, "classifier: tau-norm exponent %g must be >= 0", (double)p);
    if (c->int8 && p != 0.0f) /* the int8 network holds its own copy of the weights */
        return fer_fail(FER_ERR_ARG, "classifier: tau-normalise the head before choosing int8 "
                        "precision (or calibrate a --write_adjusted copy)");
    float *w;
    size_t numel = 0;
    fer_status st = head_weight(c, &w, &numel);
    if (st != FER_OK)
        return st;
    size_t d = numel / (size_t)c->n_classes;
    fer_tau_norm_rows(w, c->n_classes, d, p, row_norms_out);
    st = fer_model_set_tensor(c->model, "head.weight", w, numel);
    free(w);
    return st;
}

fer_status fer_classifier_head_bias(fer_classifier *c, float *bias_out)
{
    if (fer_model_arch(c->model)->head != FER_HEAD_SOFTMAX)
        return fer_fail(FER_ERR_UNSUPPORTED, "classifier: the arcface head has no bias");
    return fer_model_get_tensor(c->model, "head.bias", bias_out, (size_t)c->n_classes);
}

/* One chunk of at most max_batch already-normalised inputs. */
static fer_status run_chunk(fer_classifier *c, const float *x, int n, float *logits,
                            float *probs)
{
    float *lg = logits ? logits : c->logits;
    fer_status st = c->int8 ? fer_int8_net_forward(c->int8, x, n, lg)
                            : fer_model_forward(c->model, x, n, FER_MODE_EVAL, NULL, 0, lg);
    if (st != FER_OK)
        return st;
    const float *offsets = fer_classifier_logit_offsets(c);
    for (int i = 0; offsets && i < n; i++)
        for (int k = 0; k < c->n_classes; k++)
            lg[(size_t)i * c->n_classes + k] += offsets[k];
    if (probs)
        for (int i = 0; i < n; i++)
            fer_softmax_row(lg + (size_t)i * c->n_classes, c->n_classes,
                            probs + (size_t)i * c->n_classes);
    return FER_OK;
}

fer_status fer_classifier_run_f32(fer_classifier *c, const float *x, int n, float *logits,
                                  float *probs)
{
    if (n < 0)
        return fer_fail(FER_ERR_ARG, "classifier: negative batch size");
    for (int done = 0; done < n;) {
        int k = n - done < c->max_batch ? n - done : c->max_batch;
        size_t oc = (size_t)done * c->n_classes;
        fer_status st = run_chunk(c, x + (size_t)done * c->in_numel, k,
                                  logits ? logits + oc : NULL, probs ? probs + oc : NULL);
        if (st != FER_OK)
            return st;
        done += k;
    }
    return FER_OK;
}

fer_status fer_classifier_run_u8(fer_classifier *c, const uint8_t *faces, int n, float *logits,
                                 float *probs)
{
    const fer_arch *a = fer_model_arch(c->model);
    if (a->in_c != 1 || a->in_h != FER_INPUT_SIZE || a->in_w != FER_INPUT_SIZE)
        return fer_fail(FER_ERR_ARG, "classifier: the model input is %dx%dx%d, not 1x48x48",
                        a->in_c, a->in_h, a->in_w);
    if (n < 0)
        return fer_fail(FER_ERR_ARG, "classifier: negative batch size");
    for (int done = 0; done < n;) {
        int k = n - done < c->max_batch ? n - done : c->max_batch;
        fer_normalize_u8(faces + (size_t)done * c->in_numel, (size_t)k * c->in_numel,
                         &c->meta.norm, c->x);
        size_t oc = (size_t)done * c->n_classes;
        fer_status st = run_chunk(c, c->x, k, logits ? logits + oc : NULL,
                                  probs ? probs + oc : NULL);
        if (st != FER_OK)
            return st;
        done += k;
    }
    return FER_OK;
}
