/* fer-train settings: the seed's flags with its defaults, plus ours. One table describes every
 * setting (name, type, default, choices, help); the same names are the keys of --config JSON
 * files, of config.json and of the config stored in checkpoints. */
#ifndef FER_TRAIN_OPTIONS_H
#define FER_TRAIN_OPTIONS_H
#include <stdio.h>
#include "fer/status.h"

#define FER_OPT_STR 1024
#define FER_MAX_EPOCHS 100000 /* --epochs cap (fer-report reads histories up to this too) */
#define FER_MAX_BATCH 65536   /* --batch_size cap */

typedef struct fer_train_options {
    /* the seed's flags */
    char data_root[FER_OPT_STR];
    char exp[256];
    char head[16];
    char loss[16];
    int epochs;
    int batch_size;
    double lr;
    long seed;
    int amp;
    double arc_s, arc_m;
    char sampler[16];
    char weight_mode[16];
    double beta;
    char resume[FER_OPT_STR];
    /* added */
    char init[16];
    char optimizer[16];
    double momentum;
    int nesterov;
    double weight_decay;
    char scheduler[16];
    double eta_min;
    int step_size;
    double step_gamma;
    double plateau_factor;
    int plateau_patience;
    double label_smoothing;
    double focal_gamma;
    double clip_grad;
    int threads;
    char backend[16];
    char isa[16]; /* cpu backend kernel set: auto (FER_ISA or the best the CPU runs) or forced */
    char arch[FER_OPT_STR];
    char runs_dir[FER_OPT_STR];
    char config[FER_OPT_STR];
    double sampler_power;
    /* issue 21 recipe: EMA, warm-up, random erasing, video-domain augmentation */
    double ema;
    int ema_warmup;
    int warmup_epochs;
    double random_erasing;
    double aug_frame_jitter, aug_blur, aug_jpeg, aug_photometric, aug_rotate_max;
    double aug_rrc, aug_rrc_scale; /* RandomResizedCrop: probability, smallest area share */
    /* issue 21: batch mixing, FER+ labels, logit adjustment */
    double mixup, cutmix, mix_prob, remix_kappa, remix_tau;
    char labels[24];
    char ferplus[FER_OPT_STR];
    double logit_adjust;
    /* issue 21: LDAM + deferred re-weighting, deferred re-sampling, distillation, ten-crop */
    double ldam_max_margin, ldam_s, drw_beta;
    int drw_epoch, drs_epoch;
    char teacher[FER_OPT_STR];
    double kd_T, kd_alpha;
    int tencrop_train;
    /* issue 21: classifier re-training on frozen features (crt.c) */
    int crt;
    char crt_head[8];
    int skip_bad;
    int csv_any_size;
    char progress[8];
    char sync_bn[8];  /* auto|on|off: data-parallel batch norm (dist.h) */
    int interrupt_after;
    int describe;
} fer_train_options;

/* Where a setting's value came from (later sources override earlier ones). */
typedef enum fer_opt_source {
    FER_SRC_DEFAULT = 0,
    FER_SRC_CHECKPOINT, /* config stored in the --resume checkpoint */
    FER_SRC_CONFIG,     /* --config FILE */
    FER_SRC_FLAG        /* command line */
} fer_opt_source;

typedef struct fer_cli {
    fer_train_options opt;
    unsigned char source[128]; /* fer_opt_source per table entry */
    int help;                 /* --help given */
} fer_cli;

void fer_options_defaults(fer_cli *cli);
/* Parses argv (after the program name); errors "--flag: problem". Does not read --config. */
fer_status fer_options_parse_args(fer_cli *cli, int argc, char **argv);
/* Applies a JSON object's keys (unknown keys are an error naming origin) with the given source,
 * never overriding a value from a later source. skip_runtime leaves per-invocation keys alone
 * (resume, config, interrupt_after). */
fer_status fer_options_apply_json(fer_cli *cli, const char *json_text, const char *origin,
                                  fer_opt_source src, int skip_runtime);
/* Reads --config FILE if given and applies it. */
fer_status fer_options_apply_config_file(fer_cli *cli);
/* Range checks across settings. */
fer_status fer_options_validate(const fer_train_options *o);
/* malloc'd JSON object with every setting (keys = flag names with underscores). */
char *fer_options_to_json(const fer_train_options *o);
void fer_options_usage(FILE *out);
/* Where the named setting's value came from. */
fer_opt_source fer_options_source(const fer_cli *cli, const char *name);
/* Name of the table entry for a flag, e.g. "data-root" -> "data_root"; NULL when unknown. */
const char *fer_options_canonical(const char *flag);
#endif
