/* fer-eval: evaluate a checkpoint on a data split; per-class table, metrics.json, figures,
 * optional per-image predictions. The numbers come from fer_evaluate (libfereval), the same
 * code fer-train uses for its final test metrics. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "cli_util.h"
#include "evalutil.h"
#include "fer/augment.h"
#include "fer/classifier.h"
#include "fer/dataset.h"
#include "fer/evaluate.h"
#include "fer/figures.h"
#include "fer/quant.h"
#include "fer/posthoc.h"

static const char *PROG = "fer-eval";

typedef struct eval_args {
    const char *precision, *calibrate_int8; /* fp32|int8; OUT.fer of --calibrate_int8 */
    float calib_percentile;
    const char *model, *data_root, *split, *out, *backend, *predictions, *isa, *write_adjusted;
    fer_tta tta;
    int batch_size, threads, tune_tau, skip_bad, csv_any_size, no_adjust, tune_tau_norm;
    int batch_given, match_shares, perturb_video;
    float tau, tau_norm;
} eval_args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fer-eval --model CKPT --data_root DIR|CSV [options]\n"
            "  --split test|val|train   split to evaluate (default test)\n"
            "  --out DIR                output folder (default runs/<checkpoint name>_eval)\n"
            "  --tta none|flip|tencrop  test-time augmentation, logits averaged (default none)\n"
            "  --perturb none|video     video: score a fixed video-like copy of the split\n"
            "                           (detector-like reframing, lighting, blur, JPEG; the\n"
            "                           same images for every model)\n"
            "  --batch_size N           images per forward pass (default %d; with TTA\n"
            "                           divided by the views per image: flip 2, tencrop 10)\n"
            "  --backend auto|ref|cpu|cuda   compute backend (default auto)\n"
            "  --threads N              worker threads (default 0: all cores)\n"
            "  --isa auto|avx512|avx2|portable   cpu backend kernel set (sets FER_ISA;\n"
            "                           default auto: the best this CPU runs)\n"
            "  --predictions FILE.csv   one row per image: source, true, predicted, 7 probs\n"
            "  --precision fp32|int8    int8: the checkpoint's calibrated int8 network (u8 x s8\n"
            "                           vpdpbusd with AVX512_VNNI / AVX-VNNI; default fp32)\n"
            "  --calibrate_int8 OUT.fer measure int8 activation ranges on --split (val or\n"
            "                           train) and write a copy of the checkpoint with them\n"
            "  --calib_percentile P     percentile of |activation| kept (default 99.99; 100: max)\n"
            "  --logit_adjust TAU       subtract TAU*log(train prior) from the logits\n"
            "  --tune_tau               pick TAU on val (max macro-F1), report the split at it\n"
            "                           (either replaces logit offsets stored in the checkpoint)\n"
            "  --match_shares           fit logit offsets on val so that each class is predicted\n"
            "                           as often as it occurs there (replaces stored offsets)\n"
            "  --no_adjust              do not apply the checkpoint's stored logit offsets\n"
            "  --tau_norm P             divide each head weight row by its L2 norm^P\n"
            "  --tune_tau_norm          pick P on val (max macro-F1; before --tune_tau)\n"
            "  --write_adjusted OUT.fer write a copy of the checkpoint carrying the offsets and\n"
            "                           head normalisation this run applied (OUT.tmp, renamed)\n"
            "  --skip_bad               skip unreadable images (counted) instead of stopping\n"
            "  --csv_any_size           CSV data: resize square rows of another size to 48x48\n"
            "                           (default: such rows are errors)\n"
            "Hyphenated spellings (--data-root, ...) work too.\n",
            FER_EVAL_BATCH_DEFAULT);
}

static int parse_args(int argc, char **argv, eval_args *a)
{
    memset(a, 0, sizeof *a);
    a->split = "test";
    a->backend = "auto";
    a->batch_size = FER_EVAL_BATCH_DEFAULT;
    a->precision = "fp32";
    a->calib_percentile = 99.99f;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
#define VALUED(name, dst)                                                                    \
    if ((r = cli_flag(PROG, argc, argv, &i, name, &v)) != 0) {                               \
        if (r < 0)                                                                           \
            return 2;                                                                        \
        dst;                                                                                 \
        continue;                                                                            \
    }
        VALUED("model", a->model = v)
        VALUED("data_root", a->data_root = v)
        VALUED("split", a->split = v)
        VALUED("out", a->out = v)
        VALUED("backend", a->backend = v)
        VALUED("isa", a->isa = v)
        VALUED("predictions", a->predictions = v)
        VALUED("precision", a->precision = v)
        VALUED("calibrate_int8", a->calibrate_int8 = v)
        VALUED("calib_percentile", if (!cli_float(PROG, "calib_percentile", v, &a->calib_percentile)) return 2)
        VALUED("tta", if (fer_tta_parse(v, &a->tta) != FER_OK) return cli_fail(PROG, FER_ERR_ARG) + 1)
        VALUED("batch_size", if (!cli_int(PROG, "batch_size", v, 1, 65536, &a->batch_size)) return 2;
               a->batch_given = 1)
        VALUED("threads", if (!cli_int(PROG, "threads", v, 0, 1024, &a->threads)) return 2)
        VALUED("logit_adjust", if (!cli_float(PROG, "logit_adjust", v, &a->tau)) return 2)
        VALUED("tau_norm", if (!cli_float(PROG, "tau_norm", v, &a->tau_norm)) return 2)
        VALUED("write_adjusted", a->write_adjusted = v)
        VALUED("perturb", if (!strcmp(v, "video")) a->perturb_video = 1;
               else if (strcmp(v, "none")) {
                   fprintf(stderr, "%s: --perturb: '%s' is not one of none, video\n", PROG, v);
                   return 2;
               })
#undef VALUED
        if ((r = cli_flag(PROG, argc, argv, &i, "tune_tau", NULL)) != 0) {
            if (r < 0)
                return 2;
            a->tune_tau = 1;
            continue;
        }
        if ((r = cli_flag(PROG, argc, argv, &i, "match_shares", NULL)) != 0) {
            if (r < 0)
                return 2;
            a->match_shares = 1;
            continue;
        }
        if ((r = cli_flag(PROG, argc, argv, &i, "no_adjust", NULL)) != 0) {
            if (r < 0)
                return 2;
            a->no_adjust = 1;
            continue;
        }
        if ((r = cli_flag(PROG, argc, argv, &i, "tune_tau_norm", NULL)) != 0) {
            if (r < 0)
                return 2;
            a->tune_tau_norm = 1;
            continue;
        }
        if ((r = cli_flag(PROG, argc, argv, &i, "skip_bad", NULL)) != 0) {
            if (r < 0)
                return 2;
            a->skip_bad = 1;
            continue;
        }
        if ((r = cli_flag(PROG, argc, argv, &i, "csv_any_size", NULL)) != 0) {
            if (r < 0)
                return 2;
            a->csv_any_size = 1;
            continue;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            exit(0);
        }
        fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", PROG, argv[i]);
        return 2;
    }
    if (!a->model || !a->data_root) {
        fprintf(stderr, "%s: --model and --data_root are required (see --help)\n", PROG);
        return 2;
    }
    if (a->isa && strcmp(a->isa, "auto") && strcmp(a->isa, "avx512") && strcmp(a->isa, "avx2") &&
        strcmp(a->isa, "portable")) {
        fprintf(stderr, "%s: --isa: '%s' is not one of auto, avx512, avx2, portable\n", PROG,
                a->isa);
        return 2;
    }
    /* the cpu backend reads its kernel set from FER_ISA when it is created */
    if (a->isa && strcmp(a->isa, "auto") && setenv("FER_ISA", a->isa, 1) != 0) {
        fprintf(stderr, "%s: --isa: cannot set FER_ISA\n", PROG);
        return 2;
    }
    if (strcmp(a->split, "test") && strcmp(a->split, "val") && strcmp(a->split, "train")) {
        fprintf(stderr, "%s: --split: '%s' is not one of test, val, train\n", PROG, a->split);
        return 2;
    }
    if (strcmp(a->precision, "fp32") && strcmp(a->precision, "int8")) {
        fprintf(stderr, "%s: --precision: '%s' is not one of fp32, int8\n", PROG, a->precision);
        return 2;
    }
    if (a->calibrate_int8 && !strcmp(a->split, "test")) {
        fprintf(stderr, "%s: --calibrate_int8 measures on --split val or train, never test\n",
                PROG);
        return 2;
    }
    if (!(a->calib_percentile >= 50.0f && a->calib_percentile <= 100.0f)) {
        fprintf(stderr, "%s: --calib_percentile must be in 50..100\n", PROG);
        return 2;
    }
    if (a->tune_tau && a->tau != 0.0f) {
        fprintf(stderr, "%s: use either --logit_adjust TAU or --tune_tau, not both\n", PROG);
        return 2;
    }
    if (a->match_shares && (a->tune_tau || a->tau != 0.0f)) {
        fprintf(stderr, "%s: use one of --match_shares, --logit_adjust TAU and --tune_tau\n",
                PROG);
        return 2;
    }
    if (!(a->tau >= 0.0f && a->tau <= 100.0f)) {
        fprintf(stderr, "%s: --logit_adjust: tau must be in [0, 100]\n", PROG);
        return 2;
    }
    if (!(a->tau_norm >= 0.0f && a->tau_norm <= 10.0f)) {
        fprintf(stderr, "%s: --tau_norm: P must be in [0, 10]\n", PROG);
        return 2;
    }
    if (a->tune_tau_norm && a->tau_norm != 0.0f) {
        fprintf(stderr, "%s: use either --tau_norm P or --tune_tau_norm, not both\n", PROG);
        return 2;
    }
    return 0;
}

static void on_skip(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "%s: skipped: %s\n", PROG, message);
}

/* Loads a split and maps its labels onto the checkpoint's class order (by class name). */
static fer_status load_split(const eval_args *a, const char *split, fer_classifier *c,
                             fer_dataset **out)
{
    fer_load_options opt = {.skip_bad = a->skip_bad, .progress = isatty(2), .on_skip = on_skip,
                            .csv_any_size = a->csv_any_size};
    fer_status st = fer_dataset_load(a->data_root, split, &opt, out);
    if (st != FER_OK)
        return st;
    fer_dataset *d = *out;
    int map[FER_MAX_CLASSES], n_ck = fer_classifier_n_classes(c);
    for (int j = 0; j < d->n_classes; j++) {
        map[j] = -1;
        for (int i = 0; i < n_ck; i++)
            if (!strcmp(d->class_names[j], fer_classifier_class_name(c, i)))
                map[j] = i;
        if (map[j] < 0) {
            st = fer_fail(FER_ERR_FORMAT, "%s: class '%s' of the %s split is not one of the "
                          "checkpoint's %d classes", a->data_root, d->class_names[j], split, n_ck);
            fer_dataset_free(d);
            *out = NULL;
            return st;
        }
    }
    for (int k = 0; k < d->n; k++)
        d->labels[k] = map[d->labels[k]];
    return FER_OK;
}

static void progress(void *ctx, int done, int total)
{
    (void)ctx;
    fprintf(stderr, "\r%s: %d/%d images", PROG, done, total);
    if (done == total)
        fputc('\n', stderr);
}

static fer_status run_logits(const eval_args *a, fer_classifier *c, const fer_dataset *d,
                             float **logits)
{
    int nc = fer_classifier_n_classes(c);
    *logits = malloc(sizeof(float) * nc * (d->n > 0 ? d->n : 1));
    if (!*logits)
        return fer_fail(FER_ERR_NOMEM, "out of memory for %d logits", d->n);
    fer_eval_options opt = {a->tta, a->batch_size, fer_resize_bilinear_pil,
                            isatty(2) ? progress : NULL, NULL};
    return fer_eval_logits(c, d->pixels, d->n, &opt, *logits);
}

/* CSV field, quoted when it needs to be. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static fer_status write_predictions(const char *path, const fer_dataset *d, fer_classifier *c,
                                    const int32_t *pred, const float *probs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    int nc = fer_classifier_n_classes(c);
    fputs("source,true_label,pred_label", f);
    for (int k = 0; k < nc; k++)
        fprintf(f, ",prob_%s", fer_classifier_class_name(c, k));
    fputc('\n', f);
    for (int i = 0; i < d->n; i++) {
        csv_field(f, d->sources ? d->sources[i] : "");
        fprintf(f, ",%s,%s", fer_classifier_class_name(c, d->labels[i]),
                fer_classifier_class_name(c, pred[i]));
        for (int k = 0; k < nc; k++)
            fprintf(f, ",%.6f", probs[(size_t)i * nc + k]);
        fputc('\n', f);
    }
    fclose(f);
    fer_status st = buf ? fer_write_file_atomic(path, buf, len)
                        : fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
    free(buf);
    return st;
}

/* The post-hoc corrections this run applies, and where they came from. */
typedef struct posthoc {
    const char *offsets_source; /* none, checkpoint, logit_adjust, tuned_on_val, disabled */
    int has_offsets;
    float offsets[FER_MAX_CLASSES]; /* added to the logits */
    float tau;                      /* the offsets' tau; < 0: general offsets */
    double val_f1_tau;
    const char *norm_source;        /* none, checkpoint, tau_norm, tuned_on_val */
    float norm_p;                   /* the head's tau-norm exponent in effect (0: none) */
    float norm_p_applied;           /* the part this run applied (not the checkpoint's) */
    double val_f1_norm;
    double val_share_gap; /* --match_shares: total |predicted - true share| on val after */
} posthoc;

static cJSON *json_float_array(const float *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, fev_json_float(v[i]));
    return a;
}

/* The extra metrics.json keys: what was evaluated and how. */
static char *extra_json(const eval_args *a, fer_classifier *c, const fer_dataset *d,
                        const posthoc *ph)
{
    float tau = ph->tau;
    double val_f1 = ph->val_f1_tau;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "split", a->split);
    cJSON_AddStringToObject(o, "checkpoint", a->model);
    cJSON_AddStringToObject(o, "data_root", a->data_root);
    cJSON_AddStringToObject(o, "tta", fer_tta_name(a->tta));
    cJSON_AddStringToObject(o, "perturb", a->perturb_video ? "video" : "none");
    cJSON_AddItemToObject(o, "logit_adjust_tau", tau >= 0.0f ? fev_json_float(tau)
                                                              : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "tau_tuned_on_val", a->tune_tau);
    if (a->match_shares)
        cJSON_AddItemToObject(o, "val_share_gap_after_matching",
                              fev_json_float((float)ph->val_share_gap));
    if (a->tune_tau)
        cJSON_AddItemToObject(o, "val_macro_f1_at_tau", fev_json_float(val_f1));
    int nc = fer_classifier_n_classes(c);
    cJSON_AddItemToObject(o, "logit_offsets", ph->has_offsets
                                                  ? json_float_array(ph->offsets, nc)
                                                  : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "logit_offsets_source", ph->offsets_source);
    cJSON_AddItemToObject(o, "head_tau_norm", fev_json_float(ph->norm_p));
    cJSON_AddStringToObject(o, "head_tau_norm_source", ph->norm_source);
    if (a->tune_tau_norm)
        cJSON_AddItemToObject(o, "val_macro_f1_at_tau_norm", fev_json_float(ph->val_f1_norm));
    cJSON_AddStringToObject(o, "backend", fer_classifier_backend_name(c));
    cJSON_AddStringToObject(o, "precision", fer_classifier_is_int8(c) ? "int8" : "fp32");
    cJSON_AddNumberToObject(o, "batch_size", a->batch_size);
    cJSON_AddNumberToObject(o, "images", d->n);
    cJSON_AddNumberToObject(o, "skipped", d->n_skipped);
    cJSON_AddStringToObject(o, "data_fingerprint", d->fingerprint);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Logit offsets (stored, --logit_adjust or tuned) and head normalisation (stored, --tau_norm or
 * tuned), in that order of precedence; tuning on val: P first, then tau on the normalised head.
 * Applies the head normalisation to the classifier. */
static fer_status plan_posthoc(const eval_args *a, fer_classifier *c, fer_dataset **val,
                               float **val_logits, posthoc *ph)
{
    const fer_checkpoint_meta *meta = fer_classifier_meta(c);
    int nc = fer_classifier_n_classes(c);
    memset(ph, 0, sizeof *ph);
    ph->offsets_source = "none";
    ph->norm_source = meta->head_tau_norm != 0.0f ? "checkpoint" : "none";
    ph->norm_p = meta->head_tau_norm;
    float log_prior[FER_MAX_CLASSES];
    if (meta->has_prior)
        fer_log_prior(meta->class_prior, nc, log_prior);
    if (meta->has_logit_offsets) {
        if (a->tau != 0.0f || a->tune_tau || a->match_shares) {
            fprintf(stderr, "%s: note: %s replaces the logit offsets stored in %s\n", PROG,
                    a->tune_tau       ? "--tune_tau"
                    : a->match_shares ? "--match_shares"
                                      : "--logit_adjust",
                    a->model);
        } else if (a->no_adjust) {
            ph->offsets_source = "disabled";
        } else {
            ph->offsets_source = "checkpoint";
            ph->has_offsets = 1;
            ph->tau = meta->logit_offsets_tau;
            memcpy(ph->offsets, meta->logit_offsets, sizeof(float) * nc);
        }
    }
    if (a->tau != 0.0f) {
        ph->offsets_source = "logit_adjust";
        ph->has_offsets = 1;
        ph->tau = a->tau;
        fer_prior_offsets(log_prior, nc, a->tau, ph->offsets);
    }
    if ((a->tau_norm != 0.0f || a->tune_tau_norm) && meta->head_tau_norm != 0.0f)
        return fer_fail(FER_ERR_ARG, "%s: the head is tau-normalised already (P %g); --tau_norm "
                        "would normalise it twice", a->model, (double)meta->head_tau_norm);
    fer_status st;
    if ((a->tune_tau || a->tune_tau_norm || a->match_shares) &&
        ((st = load_split(a, "val", c, val)) || (st = run_logits(a, c, *val, val_logits))))
        return st;
    float p = a->tau_norm;
    if (a->tune_tau_norm) {
        float norms[FER_MAX_CLASSES], bias[FER_MAX_CLASSES];
        /* P = 0 leaves the weights as they are and reports the row norms */
        if ((st = fer_classifier_tau_norm(c, 0.0f, norms)) ||
            (st = fer_classifier_head_bias(c, bias)))
            return st;
        p = fer_eval_tune_tau_norm(*val_logits, (*val)->labels, (*val)->n, nc, norms, bias,
                                   a->tune_tau || !ph->has_offsets ? NULL : ph->offsets,
                                   &ph->val_f1_norm);
        fprintf(stderr, "%s: tuned on val (%d images): head tau-norm P = %.2f, val macro-F1 "
                "%.4f\n", PROG, (*val)->n, p, ph->val_f1_norm);
        ph->norm_source = "tuned_on_val";
    }
    if (p > 0.0f) {
        if ((st = fer_classifier_tau_norm(c, p, NULL)))
            return st;
        ph->norm_source = a->tune_tau_norm ? "tuned_on_val" : "tau_norm";
        ph->norm_p = ph->norm_p_applied = p;
        /* tau and shares are tuned on what the normalised head gives */
        if ((a->tune_tau || a->match_shares) && (st = run_logits(a, c, *val, val_logits)))
            return st;
    }
    if (a->tune_tau) {
        float tau = fer_eval_tune_tau(*val_logits, (*val)->labels, (*val)->n, nc, log_prior,
                                      &ph->val_f1_tau);
        fprintf(stderr, "%s: tuned on val (%d images): tau = %.2f, val macro-F1 %.4f\n", PROG,
                (*val)->n, tau, ph->val_f1_tau);
        ph->offsets_source = "tuned_on_val";
        ph->tau = tau;
        ph->has_offsets = tau != 0.0f;
        fer_prior_offsets(log_prior, nc, tau, ph->offsets);
    }
    if (a->match_shares) {
        fer_eval_fit_share_offsets(*val_logits, (*val)->labels, (*val)->n, nc, ph->offsets,
                                   &ph->val_share_gap);
        fprintf(stderr, "%s: fitted on val (%d images): offsets that match the prediction "
                "shares to the true shares (total gap %.4f)\n", PROG, (*val)->n,
                ph->val_share_gap);
        ph->offsets_source = "shares_on_val";
        ph->tau = -1.0f; /* general offsets */
        ph->has_offsets = 1;
    }
    if ((a->tune_tau || a->tune_tau_norm || a->match_shares) && !strcmp(a->split, "val"))
        fprintf(stderr, "%s: note: reporting val with settings chosen on val (optimistic)\n",
                PROG);
    return FER_OK;
}

static void print_posthoc(const posthoc *ph, fer_classifier *c, FILE *out)
{
    int nc = fer_classifier_n_classes(c);
    fprintf(out, "post-hoc logit offsets: %s", ph->offsets_source);
    if (ph->has_offsets) {
        if (ph->tau >= 0.0f)
            fprintf(out, " (tau %.2f x -log train prior)", ph->tau);
        fputc(':', out);
        for (int k = 0; k < nc; k++)
            fprintf(out, " %s %+.4f", fer_classifier_class_name(c, k), ph->offsets[k]);
    } else if (!strcmp(ph->offsets_source, "tuned_on_val")) {
        fprintf(out, " (tau 0: none)");
    }
    fprintf(out, "\npost-hoc head tau-norm: %s", ph->norm_source);
    if (ph->norm_p != 0.0f)
        fprintf(out, " (rows / |row|^%.2f)", ph->norm_p);
    fputc('\n', out);
}

/* A checkpoint's display name: its file name without extension, with the run folder in front
 * for the trainer's generic best/last files ("E5/best"). */
static void model_label(const char *model, char *out, size_t cap)
{
    char stem[256], dir[4096], parent[256];
    cli_stem(model, 1, stem, sizeof stem);
    snprintf(dir, sizeof dir, "%s", model);
    char *slash = strrchr(dir, '/');
    if (slash && (!strcmp(stem, "best") || !strcmp(stem, "last"))) {
        *slash = 0;
        cli_stem(dir, 0, parent, sizeof parent);
        snprintf(out, cap, "%s/%s", parent, stem);
    } else {
        snprintf(out, cap, "%s", stem);
    }
}

static fer_status write_outputs(const eval_args *a, const char *out_dir, const fer_metrics *m,
                                const char *extra)
{
    char path[4200], title[700], stem[512];
    fer_status st;
    model_label(a->model, stem, sizeof stem);
    snprintf(path, sizeof path, "%s/metrics.json", out_dir);
    if ((st = fer_metrics_write_json(m, extra, path)) != FER_OK)
        return st;
    snprintf(title, sizeof title, "%s on %s (TTA %s)", stem, a->split, fer_tta_name(a->tta));
    snprintf(path, sizeof path, "%s/confusion_matrix.png", out_dir);
    if ((st = fer_figure_confusion(m, 0, title, path)) != FER_OK)
        return st;
    snprintf(path, sizeof path, "%s/confusion_matrix_normalized.png", out_dir);
    if ((st = fer_figure_confusion(m, 1, title, path)) != FER_OK)
        return st;
    snprintf(path, sizeof path, "%s/per_class_f1.png", out_dir);
    if ((st = fer_figure_per_class_f1(m, title, path)) != FER_OK)
        return st;
    snprintf(path, sizeof path, "%s/reliability.png", out_dir);
    snprintf(title, sizeof title, "%s on %s", stem, a->split);
    return fer_figure_reliability(m, title, path);
}

/* --calibrate_int8: activation ranges of the folded model on the split's images, written with
 * the checkpoint's weights to a new file. */
static fer_status calibrate_int8(const eval_args *a, fer_classifier *c)
{
    fer_dataset *d = NULL;
    fer_status st = load_split(a, a->split, c, &d);
    if (st != FER_OK)
        return st;
    const fer_checkpoint_meta *meta = fer_classifier_meta(c);
    size_t face = (size_t)FER_INPUT_SIZE * FER_INPUT_SIZE, total = (size_t)d->n * face;
    float *x = malloc((total ? total : 1) * sizeof(float));
    st = x ? FER_OK : fer_fail(FER_ERR_NOMEM, "out of memory for %d images", d->n);
    fer_int8_calib calib;
    if (st == FER_OK) {
        fer_normalize_u8(d->pixels, total, &meta->norm, x);
        st = fer_int8_calibrate(fer_classifier_model(c), x, d->n, a->calib_percentile, &calib);
    }
    if (st == FER_OK)
        st = fer_int8_write_calibrated(a->model, &calib, a->calibrate_int8);
    if (st == FER_OK)
        printf("%s: int8 ranges of %d nodes measured on %d %s images (percentile %g); wrote %s\n"
               "evaluate with: fer-eval --model %s --data_root %s --precision int8\n", PROG,
               calib.n_nodes, d->n, a->split, (double)calib.percentile, a->calibrate_int8,
               a->calibrate_int8, a->data_root);
    free(x);
    fer_dataset_free(d);
    return st;
}

int main(int argc, char **argv)
{
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    char label[512], out_dir[4096];
    model_label(a.model, label, sizeof label);
    if (a.out) {
        snprintf(out_dir, sizeof out_dir, "%s", a.out);
    } else {
        snprintf(out_dir, sizeof out_dir, "runs/%s_eval", label);
        for (char *p = out_dir + 5; *p; p++)
            if (*p == '/')
                *p = '_'; /* runs/E5/best.fer -> runs/E5_best_eval */
    }

    fer_classifier *c = NULL;
    fer_dataset *d = NULL, *val = NULL;
    float *logits = NULL, *val_logits = NULL, *probs = NULL;
    int32_t *pred = NULL;
    char *extra = NULL;
    fer_status st;
    int views = fer_tta_n_views(a.tta);
    /* the views of an image run in one pass: the default batch counts passes, not images */
    if (!a.batch_given && views > 1)
        a.batch_size = a.batch_size / views > 0 ? a.batch_size / views : 1;
    if ((st = fer_classifier_new(a.model, a.backend, a.threads, a.batch_size * views, &c)))
        goto fail;
    const fer_checkpoint_meta *meta = fer_classifier_meta(c);
    int nc = fer_classifier_n_classes(c);
    if ((a.tau != 0.0f || a.tune_tau) && !meta->has_prior) {
        st = fer_fail(FER_ERR_ARG, "%s: the checkpoint stores no training class prior, so "
                      "--logit_adjust/--tune_tau cannot be used", a.model);
        goto fail;
    }
    const char *note = fer_classifier_backend_note(c);
    if (note && *note)
        fprintf(stderr, "%s: %s\n", PROG, note);
    if (a.calibrate_int8) {
        if ((st = calibrate_int8(&a, c)))
            goto fail;
        rc = 0;
        goto done;
    }
    if (strcmp(a.precision, "fp32") && (st = fer_classifier_set_precision(c, a.precision)))
        goto fail;
    if (*fer_classifier_precision_note(c))
        fprintf(stderr, "%s: %s\n", PROG, fer_classifier_precision_note(c));

    /* fer-eval adds the offsets itself: tuning needs the raw logits, and the report names the
     * offsets it applied */
    fer_classifier_set_adjust(c, 0);
    posthoc ph;
    if ((st = plan_posthoc(&a, c, &val, &val_logits, &ph)))
        goto fail;

    if ((st = load_split(&a, a.split, c, &d)))
        goto fail;
    if (a.perturb_video) /* the scored split only: tuning on val sees the images as they are */
        for (int i = 0; i < d->n; i++)
            fer_augment_video_perturb(d->pixels + (size_t)i * FER_INPUT_SIZE * FER_INPUT_SIZE,
                                      (uint64_t)i);
    if ((st = run_logits(&a, c, d, &logits)))
        goto fail;
    pred = malloc(sizeof(int32_t) * (d->n > 0 ? d->n : 1));
    probs = malloc(sizeof(float) * nc * (d->n > 0 ? d->n : 1));
    if (!pred || !probs) {
        st = fer_fail(FER_ERR_NOMEM, "out of memory");
        goto fail;
    }
    fer_metrics m;
    char names[FER_MAX_CLASSES][FER_NAME_LEN];
    for (int k = 0; k < nc; k++)
        snprintf(names[k], FER_NAME_LEN, "%s", fer_classifier_class_name(c, k));
    fer_metrics_init(&m, nc, (const char(*)[FER_NAME_LEN])names);
    fer_eval_score_offsets(logits, d->labels, d->n, nc, ph.has_offsets ? ph.offsets : NULL, &m,
                           pred, probs);

    printf("fer-eval: %s on the %s split of %s (%d images), backend %s, TTA %s",
           a.model, a.split, a.data_root, d->n, fer_classifier_backend_name(c),
           fer_tta_name(a.tta));
    if (a.perturb_video)
        printf(", video-like perturbation (--perturb video)");
    if (ph.has_offsets && ph.tau > 0.0f)
        printf(", logit adjustment tau %.2f%s", ph.tau, a.tune_tau ? " (tuned on val)" : "");
    printf("\n");
    print_posthoc(&ph, c, stdout);
    printf("\n");
    fer_metrics_print_table(&m, stdout);
    printf("\n");
    fer_metrics_print_shares(&m, stdout);
    if (d->n_skipped)
        fprintf(stderr, "%s: skipped %d bad inputs (--skip_bad)\n", PROG, d->n_skipped);

    if ((st = cli_mkdirs(out_dir)))
        goto fail;
    if (!(extra = extra_json(&a, c, d, &ph))) {
        st = fer_fail(FER_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = write_outputs(&a, out_dir, &m, extra)))
        goto fail;
    if (a.predictions && (st = write_predictions(a.predictions, d, c, pred, probs)))
        goto fail;
    if (a.write_adjusted) {
        if ((st = fer_write_adjusted_checkpoint(a.model, a.write_adjusted,
                                                ph.has_offsets ? ph.offsets : NULL, ph.tau,
                                                ph.norm_p_applied)))
            goto fail;
        printf("wrote %s: logit offsets %s, head tau-norm P %.2f\n", a.write_adjusted,
               ph.has_offsets ? "stored" : "none", ph.norm_p);
    }
    printf("\nwrote %s/{metrics.json, confusion_matrix.png, confusion_matrix_normalized.png, "
           "per_class_f1.png, reliability.png}%s%s\n",
           out_dir, a.predictions ? " and " : "", a.predictions ? a.predictions : "");
    rc = 0;
    goto done;
fail:
    rc = cli_fail(PROG, st);
done:
    cJSON_free(extra);
    free(pred);
    free(probs);
    free(logits);
    free(val_logits);
    fer_dataset_free(d);
    fer_dataset_free(val);
    fer_classifier_free(c);
    return rc;
}
