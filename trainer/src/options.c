/* fer-train settings table, parsing from flags and JSON, and the JSON dump. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "fer/fileio.h"
#include "fer/json_num.h"
#include "options.h"
#include "fer/arch.h"

#define FER_CONFIG_MAX_BYTES ((size_t)1 << 20) /* a settings file is a few hundred bytes */

typedef enum { T_STR, T_CHOICE, T_INT, T_LONG, T_DBL, T_BOOL } opt_type;

typedef struct opt_desc {
    const char *name;
    opt_type type;
    size_t offset, size;
    const char *def;
    const char *choices; /* "a|b|c" for T_CHOICE */
    const char *help;
    int runtime;         /* per-invocation: not taken from a checkpoint's stored config */
} opt_desc;

/* Where outputs go: only the command line or the user's --config chooses it, never a checkpoint
 * (a downloaded .fer must not decide which folders we create and write). */
static int is_output_path(const char *name)
{
    return !strcmp(name, "runs_dir") || !strcmp(name, "exp");
}

#define F(field) offsetof(fer_train_options, field), sizeof(((fer_train_options *)0)->field)

static const opt_desc table[] = {
    /* the seed's command line (src/train.py), same names and defaults */
    {"data_root", T_STR, F(data_root), "data/fer2013", NULL,
     "data folder ROOT/{train,val,test}/<class>/*.png, or fer2013.csv", 0},
    {"exp", T_STR, F(exp), "E0", NULL,
     "experiment name, a plain folder name: outputs go to RUNS_DIR/EXP/ (never taken from a "
     "--resume checkpoint)", 0},
    {"head", T_CHOICE, F(head), "softmax", "softmax|arcface", "classifier head", 0},
    {"loss", T_CHOICE, F(loss), "ce", "ce|wce|focal|ldam",
     "loss (wce and focal use class weights; ldam: label-distribution-aware margins, see "
     "--ldam_max_margin)", 0},
    {"epochs", T_INT, F(epochs), "30", NULL, "epochs in total (0 with --resume: evaluate only)", 0},
    {"batch_size", T_INT, F(batch_size), "256", NULL, "images per batch", 0},
    {"lr", T_DBL, F(lr), "1e-3", NULL, "base learning rate", 0},
    {"seed", T_LONG, F(seed), "42", NULL, "random seed (init, sampling, augmentation, dropout)", 0},
    {"amp", T_BOOL, F(amp), "false", NULL, "reduced precision (bf16) where the backend has it", 0},
    {"arc_s", T_DBL, F(arc_s), "30.0", NULL, "ArcFace scale", 0},
    {"arc_m", T_DBL, F(arc_m), "0.5", NULL, "ArcFace margin", 0},
    {"sampler", T_CHOICE, F(sampler), "default", "default|balanced",
     "default: shuffle; balanced: with replacement, weight 1/count^sampler_power", 0},
    {"weight_mode", T_CHOICE, F(weight_mode), "inv_sqrt", "inv|inv_sqrt|effective",
     "class weights for wce/focal", 0},
    {"beta", T_DBL, F(beta), "0.999", NULL, "beta of the effective-number class weights", 0},
    {"resume", T_STR, F(resume), "", NULL,
     "checkpoint: last.fer continues exactly; other checkpoints give initial weights", 1},
    /* added */
    {"init", T_CHOICE, F(init), "pytorch", "pytorch|counter",
     "initial weights: pytorch = what torch.manual_seed(SEED) and PyTorch's default init draw, bit "
     "for bit; counter = fer's counter-based streams (runs made before this option)", 0},
    {"optimizer", T_CHOICE, F(optimizer), "adam", "adam|adamw|sgd", "optimiser", 0},
    {"momentum", T_DBL, F(momentum), "0.9", NULL, "SGD momentum", 0},
    {"nesterov", T_BOOL, F(nesterov), "false", NULL, "SGD Nesterov momentum", 0},
    {"weight_decay", T_DBL, F(weight_decay), "0", NULL,
     "weight decay (adam/sgd: L2 in the gradient; adamw: decoupled)", 0},
    {"scheduler", T_CHOICE, F(scheduler), "cosine", "cosine|step|plateau|none",
     "LR schedule, stepped per epoch (cosine: T_max = epochs, as the seed)", 0},
    {"eta_min", T_DBL, F(eta_min), "0", NULL, "cosine: final learning rate", 0},
    {"step_size", T_INT, F(step_size), "10", NULL, "step: epochs between decays", 0},
    {"step_gamma", T_DBL, F(step_gamma), "0.1", NULL, "step: decay factor", 0},
    {"plateau_factor", T_DBL, F(plateau_factor), "0.1", NULL, "plateau: decay factor", 0},
    {"plateau_patience", T_INT, F(plateau_patience), "10", NULL,
     "plateau: epochs without val macro-F1 gain before decaying", 0},
    {"label_smoothing", T_DBL, F(label_smoothing), "0", NULL, "label smoothing (0..1)", 0},
    {"focal_gamma", T_DBL, F(focal_gamma), "2.0", NULL, "focal loss gamma", 0},
    {"clip_grad", T_DBL, F(clip_grad), "5.0", NULL, "global L2 gradient clipping (0: off)", 0},
    {"threads", T_INT, F(threads), "0", NULL, "worker threads (0: all cores)", 0},
    {"backend", T_CHOICE, F(backend), "auto", "auto|ref|cpu|cuda", "compute backend", 0},
    {"isa", T_CHOICE, F(isa), "auto", "auto|avx512|avx2|portable",
     "cpu backend kernel set (sets FER_ISA; auto: the best this CPU runs)", 0},
    {"arch", T_STR, F(arch), "simplecnn", NULL, "architecture: preset (" FER_ARCH_PRESETS ") or JSON file", 0},
    {"runs_dir", T_STR, F(runs_dir), "runs", NULL,
     "where RUNS_DIR/EXP/ is created (never taken from a --resume checkpoint)", 0},
    {"config", T_STR, F(config), "", NULL, "JSON file with these keys; flags override it", 1},
    {"sampler_power", T_DBL, F(sampler_power), "0.5", NULL,
     "balanced sampler: per-sample weight 1/count^power", 0},
    {"ema", T_DBL, F(ema), "0", NULL,
     "decay of an exponential moving average of the weights and BN statistics, updated after "
     "every step (0: off; e.g. 0.999): validation, best.fer and the test use the average", 0},
    {"ema_warmup", T_BOOL, F(ema_warmup), "false", NULL,
     "EMA decay min(ema, (1 + step) / (10 + step)): early averages forget the initial weights", 0},
    {"warmup_epochs", T_INT, F(warmup_epochs), "0", NULL,
     "linear LR warm-up from lr/(steps of N epochs) to lr over the first N epochs, per batch; "
     "the scheduler then runs over the remaining epochs", 0},
    {"random_erasing", T_DBL, F(random_erasing), "0", NULL,
     "RandomErasing probability (area 0.02-0.33, aspect 0.3-3.3, value 0 after normalising)", 0},
    {"aug_frame_jitter", T_DBL, F(aug_frame_jitter), "0", NULL,
     "probability of reframing like a face detector's box (scale +-15%, shift +-10%)", 0},
    {"aug_blur", T_DBL, F(aug_blur), "0", NULL, "probability of a Gaussian blur, sigma 0.5-1.5", 0},
    {"aug_jpeg", T_DBL, F(aug_jpeg), "0", NULL,
     "probability of JPEG-like 8x8 DCT quantisation at quality 30-90", 0},
    {"aug_photometric", T_DBL, F(aug_photometric), "0", NULL,
     "probability of gamma 0.7-1.4, contrast 0.7-1.3, brightness +-0.15", 0},
    {"aug_rrc", T_DBL, F(aug_rrc), "0", NULL,
     "probability of a RandomResizedCrop before the rotation: a box of area share "
     "U(--aug_rrc_scale, 1) and aspect log-uniform in [3/4, 4/3] (torchvision's rule), resized "
     "back to 48x48 (bilinear)", 0},
    {"aug_rrc_scale", T_DBL, F(aug_rrc_scale), "0.6", NULL,
     "--aug_rrc: smallest area share of the box, in (0, 1]", 0},
    {"aug_rotate_max", T_DBL, F(aug_rotate_max), "15", NULL,
     "in-plane rotation range in degrees: angle uniform in [-max, max] (0: none)", 0},
    {"mixup", T_DBL, F(mixup), "0", NULL,
     "mixup alpha: a mixed batch blends each image with a partner's, lambda ~ Beta(alpha, "
     "alpha), and trains on the blended targets (0: off)", 0},
    {"cutmix", T_DBL, F(cutmix), "0", NULL,
     "CutMix alpha: a box of area 1-lambda from a partner image, lambda recomputed from the "
     "clipped box (0: off; with --mixup each mixed batch picks one, 50/50)", 0},
    {"mix_prob", T_DBL, F(mix_prob), "1", NULL,
     "probability that a batch is mixed when --mixup or --cutmix is on", 0},
    {"remix_kappa", T_DBL, F(remix_kappa), "0", NULL,
     "Remix: when a sample's class count is >= kappa times its partner's and its image share "
     "lambda < remix_tau, the label goes to the partner's (minority) class; the converse with "
     "1-lambda (0: off, labels mix as the images; paper: kappa 3, tau 0.5)", 0},
    {"remix_tau", T_DBL, F(remix_tau), "0.5", NULL, "Remix lambda threshold", 0},
    {"labels", T_CHOICE, F(labels), "fer2013", "fer2013|ferplus_soft|ferplus_majority",
     "training labels: FER-2013's, the FER+ vote shares over the seven classes (soft "
     "targets), or the FER+ majority vote (ties to the FER-2013 label when it is among the "
     "maxima); images without FER+ votes for the seven classes keep their FER-2013 label. "
     "Validation chooses the model on FER-2013 labels and also logs FER+ majority scores; test "
     "is FER-2013", 0},
    {"ferplus", T_STR, F(ferplus), "", NULL,
     "FER+ votes.tsv for --labels ferplus_* (default: DATA/../ferplus/votes.tsv, DATA the "
     "--data_root folder or the folder holding its .csv)", 0},
    {"logit_adjust", T_DBL, F(logit_adjust), "0", NULL,
     "logit-adjusted loss: training logits + tau * log(train class prior) (0: off; 1 with "
     "--loss ce is Balanced Softmax); inference logits are unchanged", 0},
    {"ldam_max_margin", T_DBL, F(ldam_max_margin), "0.5", NULL,
     "--loss ldam: margin subtracted from the true class's logit, K/count^(1/4), K such that "
     "the rarest class gets this", 0},
    {"ldam_s", T_DBL, F(ldam_s), "30", NULL,
     "--loss ldam: logit scale s (the loss sees s * (logit - margin)); the paper's 30 is meant "
     "for normalised (cosine) logits, raw softmax-head logits may want ~1", 0},
    {"drw_epoch", T_INT, F(drw_epoch), "0", NULL,
     "deferred re-weighting (--loss ce or ldam): after E epochs the loss weighs classes by "
     "effective-number weights with --drw_beta (0: off)", 0},
    {"drw_beta", T_DBL, F(drw_beta), "0.9999", NULL, "beta of --drw_epoch's class weights", 0},
    {"drs_epoch", T_INT, F(drs_epoch), "0", NULL,
     "deferred re-sampling: after E epochs the sampler switches to balanced (weight "
     "1/count^sampler_power) (0: off; needs --sampler default)", 0},
    {"teacher", T_STR, F(teacher), "", NULL,
     "knowledge distillation from teacher checkpoint(s) CKPT[,CKPT...] (an ensemble: tempered "
     "softmaxes averaged), run in eval mode on the same augmented batch; loss = (1 - kd_alpha) "
     "* CE + kd_alpha * kd_T^2 * KL(teacher || student) at temperature kd_T", 0},
    {"kd_T", T_DBL, F(kd_T), "4", NULL, "distillation temperature", 0},
    {"kd_alpha", T_DBL, F(kd_alpha), "0.5", NULL, "weight of the distillation term (0..1)", 0},
    {"tencrop_train", T_BOOL, F(tencrop_train), "false", NULL,
     "training crop and flip: one of the ten views of fer-eval --tta tencrop (44x44 corners "
     "and centre, and their mirrors, resized to 48) per image, uniformly, instead of a random "
     "crop and flip", 0},
    {"crt", T_BOOL, F(crt), "false", NULL,
     "classifier re-training (cRT) on frozen features: from the --resume checkpoint's weights, "
     "every layer below the head is frozen (no updates, batch norm in eval mode) and the head "
     "trains --epochs N with the balanced sampler (unless --sampler says otherwise); needs "
     "--resume and its own --exp. A cRT run's last.fer resumes exactly", 0},
    {"crt_head", T_CHOICE, F(crt_head), "reinit", "reinit|keep",
     "--crt: start from a freshly initialised head (--seed, --init) or keep the checkpoint's", 0},
    {"skip_bad", T_BOOL, F(skip_bad), "false", NULL,
     "skip (and count) unreadable images / malformed CSV rows instead of stopping", 0},
    {"csv_any_size", T_BOOL, F(csv_any_size), "false", NULL,
     "CSV data: resize rows of another square size to 48x48 (default: such rows are errors)", 0},
    {"progress", T_CHOICE, F(progress), "auto", "auto|tty|plain",
     "live progress line (tty), plain log lines, or auto-detect", 1},
    {"describe", T_BOOL, F(describe), "false", NULL,
     "print the network (--arch with --head, or --resume's) layer by layer: output shapes, "
     "parameters, multiply-adds per image; then exit without loading data", 1},
    {"sync_bn", T_CHOICE, F(sync_bn), "auto", "auto|on|off",
     "under mpirun (data-parallel): batch-norm statistics over every rank's images, as one "
     "process would see the global batch; auto: on when the per-rank batch is below 64", 1},
    {"interrupt_after", T_INT, F(interrupt_after), "0", NULL,
     "testing aid: behave as if Ctrl-C came after N training batches", 1},
};
#define N_OPTS ((int)(sizeof table / sizeof table[0]))
_Static_assert(sizeof table / sizeof table[0] <= sizeof(((fer_cli *)0)->source),
               "fer_cli.source needs an entry per setting");

static void *field(fer_train_options *o, const opt_desc *d)
{
    return (char *)o + d->offset;
}

static const opt_desc *find(const char *name, int *index)
{
    char canon[64];
    size_t n = strlen(name);
    if (n >= sizeof canon) return NULL;
    for (size_t i = 0; i <= n; i++) canon[i] = name[i] == '-' ? '_' : name[i];
    for (int i = 0; i < N_OPTS; i++)
        if (!strcmp(table[i].name, canon)) {
            if (index) *index = i;
            return &table[i];
        }
    return NULL;
}

fer_opt_source fer_options_source(const fer_cli *cli, const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(table[i].name, name)) return (fer_opt_source)cli->source[i];
    return FER_SRC_DEFAULT;
}

const char *fer_options_canonical(const char *flag)
{
    const opt_desc *d = find(flag, NULL);
    return d ? d->name : NULL;
}

static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* origin: "--flag" or "FILE: key" for messages */
static fer_status set_from_string(fer_train_options *o, const opt_desc *d, const char *v,
                                  const char *origin)
{
    void *p = field(o, d);
    char *end;
    switch (d->type) {
    case T_CHOICE:
        if (!choice_ok(d->choices, v))
            return fer_fail(FER_ERR_ARG, "%s: invalid choice \"%s\" (choose from %s)", origin, v,
                            d->choices);
        /* fallthrough */
    case T_STR:
        if (strlen(v) >= d->size)
            return fer_fail(FER_ERR_ARG, "%s: value longer than %zu characters", origin,
                            d->size - 1);
        memcpy(p, v, strlen(v) + 1);
        return FER_OK;
    case T_INT:
    case T_LONG: {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || (d->type == T_INT && (x < -2147483647L || x > 2147483647L)))
            return fer_fail(FER_ERR_ARG, "%s: expected an integer, got \"%s\"", origin, v);
        if (d->type == T_INT) *(int *)p = (int)x;
        else *(long *)p = x;
        return FER_OK;
    }
    case T_DBL: {
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x))
            return fer_fail(FER_ERR_ARG, "%s: expected a number, got \"%s\"", origin, v);
        *(double *)p = x;
        return FER_OK;
    }
    case T_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) *(int *)p = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) *(int *)p = 0;
        else return fer_fail(FER_ERR_ARG, "%s: expected true or false, got \"%s\"", origin, v);
        return FER_OK;
    }
    return fer_fail(FER_ERR_INTERNAL, "%s: bad option type", origin);
}

void fer_options_defaults(fer_cli *cli)
{
    memset(cli, 0, sizeof *cli);
    for (int i = 0; i < N_OPTS; i++) set_from_string(&cli->opt, &table[i], table[i].def, "");
}

fer_status fer_options_parse_args(fer_cli *cli, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli->help = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return fer_fail(FER_ERR_ARG, "unexpected argument \"%s\" (options start with --)", a);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name) return fer_fail(FER_ERR_ARG, "%s: unknown option", a);
        memcpy(name, a + 2, len);
        name[len] = 0;
        int idx = 0;
        const opt_desc *d = find(name, &idx);
        if (!d) return fer_fail(FER_ERR_ARG, "--%s: unknown option (see --help)", name);
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (d->type == T_BOOL) {
            value = "true";
        } else {
            if (i + 1 >= argc) return fer_fail(FER_ERR_ARG, "--%s: expects a value", name);
            value = argv[++i];
        }
        char origin[80];
        snprintf(origin, sizeof origin, "--%s", name);
        fer_status s = set_from_string(&cli->opt, d, value, origin);
        if (s) return s;
        cli->source[idx] = FER_SRC_FLAG;
    }
    return FER_OK;
}

fer_status fer_options_apply_json(fer_cli *cli, const char *json_text, const char *origin,
                                  fer_opt_source src, int skip_runtime)
{
    cJSON *root = cJSON_ParseWithOpts(json_text, NULL, 1);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fer_fail(FER_ERR_FORMAT, "%s: not a JSON object", origin);
    }
    fer_status s = FER_OK;
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        char where[FER_OPT_STR + 80];
        snprintf(where, sizeof where, "%s: key \"%s\"", origin, item->string);
        int idx = 0;
        const opt_desc *d = find(item->string, &idx);
        if (!d) {
            s = fer_fail(FER_ERR_FORMAT, "%s: unknown setting", where);
            break;
        }
        if ((skip_runtime && d->runtime) || cli->source[idx] > src) continue;
        if (src == FER_SRC_CHECKPOINT && is_output_path(d->name)) continue;
        char buf[64];
        const char *v = NULL;
        if (cJSON_IsString(item)) {
            v = item->valuestring;
        } else if (cJSON_IsBool(item)) {
            v = cJSON_IsTrue(item) ? "true" : "false";
        } else if (cJSON_IsNumber(item)) {
            /* range-checked before any conversion: 1e300 or inf must not reach an int */
            long long iv = 0;
            double dv = 0;
            if (d->type == T_STR || d->type == T_CHOICE) {
                s = fer_fail(FER_ERR_FORMAT, "%s: expected a string", where);
            } else if (d->type == T_INT) {
                if (!(s = fer_json_int(item, origin, item->string, -2147483647LL, 2147483647LL,
                                       &iv)))
                    snprintf(buf, sizeof buf, "%lld", iv);
            } else if (d->type == T_LONG) {
                if (!(s = fer_json_int(item, origin, item->string, -(1LL << 53), 1LL << 53, &iv)))
                    snprintf(buf, sizeof buf, "%lld", iv);
            } else if (d->type == T_BOOL) {
                if (!(s = fer_json_int(item, origin, item->string, 0, 1, &iv)))
                    snprintf(buf, sizeof buf, "%lld", iv);
            } else if (!(s = fer_json_double(item, origin, item->string, -DBL_MAX, DBL_MAX, &dv))) {
                snprintf(buf, sizeof buf, "%.17g", dv);
            }
            if (s) break;
            v = buf;
        } else if (cJSON_IsNull(item) && d->type == T_STR) {
            v = "";
        } else {
            s = fer_fail(FER_ERR_FORMAT, "%s: unsupported value type", where);
            break;
        }
        if ((s = set_from_string(&cli->opt, d, v, where))) break;
        cli->source[idx] = (unsigned char)src;
    }
    cJSON_Delete(root);
    return s;
}

fer_status fer_options_apply_config_file(fer_cli *cli)
{
    const char *path = cli->opt.config;
    if (!path[0]) return FER_OK;
    char *text = NULL;
    fer_status s = fer_read_text_file(path, FER_CONFIG_MAX_BYTES, &text, NULL);
    if (s) return s;
    s = fer_options_apply_json(cli, text, path, FER_SRC_CONFIG, 0);
    free(text);
    return s;
}

fer_status fer_options_validate(const fer_train_options *o)
{
    /* caps far above any real run, so a stored or configured absurd value is an error instead
     * of a huge allocation (per-epoch history, per-batch buffers) */
    if (o->epochs < 0 || o->epochs > FER_MAX_EPOCHS)
        return fer_fail(FER_ERR_ARG, "--epochs: must be in 0..%d", FER_MAX_EPOCHS);
    if (o->batch_size < 1 || o->batch_size > FER_MAX_BATCH)
        return fer_fail(FER_ERR_ARG, "--batch_size: must be in 1..%d", FER_MAX_BATCH);
    if (!(o->lr > 0)) return fer_fail(FER_ERR_ARG, "--lr: must be > 0");
    if (o->seed < 0 || o->seed > (1L << 53))
        return fer_fail(FER_ERR_ARG, "--seed: must be in 0 .. 2^53");
    if (!(o->beta > 0 && o->beta < 1)) return fer_fail(FER_ERR_ARG, "--beta: must be in (0, 1)");
    if (o->label_smoothing < 0 || o->label_smoothing >= 1)
        return fer_fail(FER_ERR_ARG, "--label_smoothing: must be in [0, 1)");
    if (o->clip_grad < 0) return fer_fail(FER_ERR_ARG, "--clip_grad: must be >= 0");
    if (o->threads < 0) return fer_fail(FER_ERR_ARG, "--threads: must be >= 0");
    if (o->weight_decay < 0) return fer_fail(FER_ERR_ARG, "--weight_decay: must be >= 0");
    if (o->momentum < 0) return fer_fail(FER_ERR_ARG, "--momentum: must be >= 0");
    if (o->nesterov && !strcmp(o->optimizer, "sgd") && o->momentum <= 0)
        return fer_fail(FER_ERR_ARG, "--nesterov: needs --momentum > 0");
    if (o->step_size < 1) return fer_fail(FER_ERR_ARG, "--step_size: must be >= 1");
    if (o->plateau_patience < 0) return fer_fail(FER_ERR_ARG, "--plateau_patience: must be >= 0");
    if (o->sampler_power < 0) return fer_fail(FER_ERR_ARG, "--sampler_power: must be >= 0");
    if (o->focal_gamma < 0) return fer_fail(FER_ERR_ARG, "--focal_gamma: must be >= 0");
    if (o->interrupt_after < 0) return fer_fail(FER_ERR_ARG, "--interrupt_after: must be >= 0");
    if (!(o->ema >= 0 && o->ema < 1)) return fer_fail(FER_ERR_ARG, "--ema: must be in [0, 1)");
    if (o->warmup_epochs < 0 || (o->epochs > 0 && o->warmup_epochs > o->epochs))
        return fer_fail(FER_ERR_ARG, "--warmup_epochs: must be in 0..--epochs");
    const struct { const char *flag; double p; } probs[] = {
        {"random_erasing", o->random_erasing}, {"aug_frame_jitter", o->aug_frame_jitter},
        {"aug_blur", o->aug_blur}, {"aug_jpeg", o->aug_jpeg},
        {"aug_photometric", o->aug_photometric}, {"aug_rrc", o->aug_rrc}};
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
        if (!(probs[i].p >= 0 && probs[i].p <= 1))
            return fer_fail(FER_ERR_ARG, "--%s: a probability, must be in [0, 1]", probs[i].flag);
    if (!(o->aug_rrc_scale > 0 && o->aug_rrc_scale <= 1))
        return fer_fail(FER_ERR_ARG, "--aug_rrc_scale: an area share, must be in (0, 1]");
    if (!(o->aug_rotate_max >= 0 && o->aug_rotate_max <= 180))
        return fer_fail(FER_ERR_ARG, "--aug_rotate_max: must be in [0, 180] degrees");
    if (!(o->mixup >= 0 && o->mixup <= 1000) || !(o->cutmix >= 0 && o->cutmix <= 1000))
        return fer_fail(FER_ERR_ARG, "--mixup/--cutmix: alpha must be in [0, 1000]");
    if (!(o->mix_prob >= 0 && o->mix_prob <= 1))
        return fer_fail(FER_ERR_ARG, "--mix_prob: a probability, must be in [0, 1]");
    if (!(o->remix_kappa == 0 || (o->remix_kappa >= 1 && o->remix_kappa <= 1e6)))
        return fer_fail(FER_ERR_ARG, "--remix_kappa: must be 0 (off) or in [1, 1e6]");
    if (!(o->remix_tau >= 0 && o->remix_tau <= 1))
        return fer_fail(FER_ERR_ARG, "--remix_tau: must be in [0, 1]");
    if (!(o->logit_adjust >= 0 && o->logit_adjust <= 100))
        return fer_fail(FER_ERR_ARG, "--logit_adjust: tau must be in [0, 100]");
    if (!strcmp(o->loss, "focal") && (o->mixup > 0 || o->cutmix > 0 ||
                                      !strcmp(o->labels, "ferplus_soft")))
        return fer_fail(FER_ERR_ARG, "--loss focal: soft targets (--mixup, --cutmix, --labels "
                        "ferplus_soft) are not supported with the focal loss");
    if (!(o->ldam_max_margin > 0 && o->ldam_max_margin <= 10))
        return fer_fail(FER_ERR_ARG, "--ldam_max_margin: must be in (0, 10]");
    if (!(o->ldam_s > 0 && o->ldam_s <= 1000))
        return fer_fail(FER_ERR_ARG, "--ldam_s: must be in (0, 1000]");
    if (!strcmp(o->loss, "ldam") && (o->mixup > 0 || o->cutmix > 0 || o->label_smoothing > 0 ||
                                     o->logit_adjust > 0 || !strcmp(o->labels, "ferplus_soft") ||
                                     strcmp(o->head, "softmax") || o->teacher[0]))
        return fer_fail(FER_ERR_ARG, "--loss ldam: needs --head softmax and integer labels "
                        "(no --mixup, --cutmix, --labels ferplus_soft, --label_smoothing, "
                        "--logit_adjust or --teacher)");
    if (o->drw_epoch < 0 || o->drs_epoch < 0)
        return fer_fail(FER_ERR_ARG, "--drw_epoch/--drs_epoch: must be >= 0 (0: off)");
    if (!(o->drw_beta > 0 && o->drw_beta < 1))
        return fer_fail(FER_ERR_ARG, "--drw_beta: must be in (0, 1)");
    if (o->drw_epoch > 0 && strcmp(o->loss, "ce") && strcmp(o->loss, "ldam"))
        return fer_fail(FER_ERR_ARG, "--drw_epoch: needs --loss ce or ldam (wce and focal "
                        "weigh classes from the start)");
    if (o->drw_epoch > 0 && o->teacher[0])
        return fer_fail(FER_ERR_ARG, "--drw_epoch: not with --teacher");
    if (o->drs_epoch > 0 && strcmp(o->sampler, "default"))
        return fer_fail(FER_ERR_ARG, "--drs_epoch: needs --sampler default (the sampler it "
                        "switches from)");
    if (!(o->kd_T > 0 && o->kd_T <= 100)) return fer_fail(FER_ERR_ARG, "--kd_T: must be in (0, 100]");
    if (!(o->kd_alpha >= 0 && o->kd_alpha <= 1))
        return fer_fail(FER_ERR_ARG, "--kd_alpha: must be in [0, 1]");
    if (o->teacher[0] && strcmp(o->loss, "ce"))
        return fer_fail(FER_ERR_ARG, "--teacher: needs --loss ce");
    /* RUNS_DIR/EXP must stay inside RUNS_DIR */
    if (!o->exp[0] || strchr(o->exp, '/') || !strcmp(o->exp, ".") || !strcmp(o->exp, ".."))
        return fer_fail(FER_ERR_ARG, "--exp: \"%s\" is not a plain folder name (not empty, "
                        "not . or .., no '/')", o->exp);
    if (!o->runs_dir[0]) return fer_fail(FER_ERR_ARG, "--runs_dir: must not be empty");
    if (o->crt && !o->resume[0])
        return fer_fail(FER_ERR_ARG, "--crt: needs --resume CHECKPOINT (the features to freeze)");
    if (o->crt && o->ema > 0)
        return fer_fail(FER_ERR_ARG, "--crt: --ema is not supported (only the head trains)");
    if (o->epochs == 0 && !o->resume[0])
        return fer_fail(FER_ERR_ARG, "--epochs 0: evaluation-only mode needs --resume CHECKPOINT");
    return FER_OK;
}

char *fer_options_to_json(const fer_train_options *o)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    fer_train_options *m = (fer_train_options *)o;
    for (int i = 0; i < N_OPTS; i++) {
        const opt_desc *d = &table[i];
        void *p = field(m, d);
        switch (d->type) {
        case T_STR:
        case T_CHOICE: cJSON_AddStringToObject(root, d->name, (const char *)p); break;
        case T_INT: cJSON_AddNumberToObject(root, d->name, *(int *)p); break;
        case T_LONG: cJSON_AddNumberToObject(root, d->name, (double)*(long *)p); break;
        case T_DBL: cJSON_AddNumberToObject(root, d->name, *(double *)p); break;
        case T_BOOL: cJSON_AddBoolToObject(root, d->name, *(int *)p); break;
        }
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

void fer_options_usage(FILE *out)
{
    fprintf(out, "usage: fer-train [--flag VALUE]...   (flags also accept --flag=VALUE and "
                 "hyphens: --data-root)\n\n");
    for (int i = 0; i < N_OPTS; i++) {
        const opt_desc *d = &table[i];
        char left[96];
        if (d->type == T_BOOL) snprintf(left, sizeof left, "--%s", d->name);
        else if (d->type == T_CHOICE) snprintf(left, sizeof left, "--%s {%s}", d->name, d->choices);
        else snprintf(left, sizeof left, "--%s %s", d->name,
                      d->type == T_STR ? "TEXT" : d->type == T_DBL ? "X" : "N");
        for (char *c = left; *c; c++)
            if (*c == '|') *c = ',';
        fprintf(out, "  %-40s %s", left, d->help);
        if (d->type != T_BOOL && d->def[0]) fprintf(out, " [%s]", d->def);
        fputc('\n', out);
    }
}
