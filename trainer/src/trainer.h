/* fer-train's run: everything one training (or evaluation-only) invocation holds.
 * trainer_setup.c builds it (data, backend, model, optimiser, resume), train_loop.c runs the
 * epochs, trainer_eval.c evaluates and writes the end-of-run outputs. */
#ifndef FER_TRAINER_H
#define FER_TRAINER_H
#include "fer/augment.h"
#include "fer/checkpoint.h"
#include "fer/dataset.h"
#include "fer/metrics.h"
#include "fer/sampler.h"
#include "options.h"
#include "progress.h"
#include "run_files.h"
#include "tb_events.h"
#include "train_state.h"
#include "ema.h"
#include "mix.h"

typedef struct fer_trainer {
    fer_train_options o;
    char run_dir[4096];
    char last_path[4200], best_path[4200];
    fer_backend *backend;
    fer_dataset *train, *val, *test;
    int n_classes;
    char class_names[FER_MAX_CLASSES][FER_NAME_LEN];
    float class_prior[FER_MAX_CLASSES];
    fer_arch arch;
    fer_model *model;
    fer_optimizer *optim;
    fer_ema *ema;               /* --ema: the weight average, NULL when off */
    fer_loss_config loss;
    fer_sampler_kind sampler;
    fer_augment_config augment;
    fer_norm norm;
    fer_train_state st;
    char *options_json;         /* every setting (also meta.config_json) */
    int eval_only;
    fer_progress progress;
    fer_tb_writer *tb;
    fer_history_row *history;
    int n_history;
    /* batch buffers */
    float *x, *logits;
    int32_t *labels, *order;
    char command_line[4096];
    double epoch_data_s, epoch_step_s; /* time in batch assembly vs model step, this epoch */
    /* soft targets (train_targets.c): --mixup/--cutmix/Remix and --labels ferplus_* */
    fer_mix_config mix;
    float *train_soft;      /* --labels ferplus_soft: train images x classes, else NULL */
    int32_t *val_ferplus;   /* --labels ferplus_*: FER+ majority labels of val, else NULL */
    float *mix_x, *targets, *targets_scratch; /* batch buffers */
    int32_t *mix_perm;
    int sync_bn;            /* data-parallel (dist.h): batch-norm statistics over all ranks */
    /* train_loss.c: --loss ldam, --drw_epoch, --teacher (distill.c) */
    float ldam_margins[FER_MAX_CLASSES], drw_weights[FER_MAX_CLASSES];
    struct fer_teacher *teacher;
    float *teacher_probs, *loss_dlogits; /* batch x classes */
} fer_trainer;

/* Process exit codes */
enum { FER_EXIT_OK = 0, FER_EXIT_ERROR = 1, FER_EXIT_USAGE = 2, FER_EXIT_INTERRUPTED = 130 };

/* Parses argv, including --config and the --resume checkpoint's stored config. Returns
 * FER_EXIT_OK or an exit code after printing the error (or help). */
int fer_trainer_parse(fer_trainer *t, int argc, char **argv, int *done);
fer_status fer_trainer_setup(fer_trainer *t);
void fer_trainer_free(fer_trainer *t);

/* Trains from t->st to o.epochs; *interrupted set when stopped by a signal (last.fer saved). */
fer_status fer_trainer_train(fer_trainer *t, int *interrupted);
/* Loads best.fer (when training ran), evaluates test, writes metrics.json,
 * confusion_matrix.png and prints the metrics. Releases the training model, optimiser and
 * backend first (the evaluation brings its own). */
fer_status fer_trainer_finish(fer_trainer *t);

fer_status fer_trainer_evaluate(fer_trainer *t, const fer_dataset *d, fer_metrics *m);
fer_status fer_trainer_save(fer_trainer *t, const char *path, int with_optimizer);
fer_status fer_trainer_write_config(fer_trainer *t);

/* train_targets.c. After the data is loaded (training runs): --labels ferplus_* (FER+ votes
 * replace the training labels: soft rows, or majority labels with class counts and prior
 * recomputed; val gets FER+ majority labels for the extra metric), the mixing settings and
 * the batch buffers. */
fer_status fer_trainer_setup_targets(fer_trainer *t);
void fer_trainer_free_targets(fer_trainer *t);
/* The inputs of training batch b of epoch e (n images x, labels): *x_out is x or its mixed
 * copy; *targets_out the batch's soft targets, NULL when the batch trains on labels. */
fer_status fer_trainer_batch_targets(fer_trainer *t, int epoch, int b, int n, const float *x,
                                     const int32_t *labels, const float **x_out,
                                     const float **targets_out);
/* As fer_trainer_evaluate, also scoring the same predictions against alt_labels (d->n labels)
 * into *m_alt when alt_labels is not NULL. */
fer_status fer_trainer_evaluate_alt(fer_trainer *t, const fer_dataset *d,
                                    const int32_t *alt_labels, fer_metrics *m,
                                    fer_metrics *m_alt);
/* trainer_eval.c: fer_trainer_evaluate_alt with every data-parallel rank (dist.h) on its shard
 * of d and the counts summed, so every rank gets the metrics of all of d. */
fer_status fer_trainer_evaluate_sharded(fer_trainer *t, const fer_dataset *d,
                                        const int32_t *alt_labels, fer_metrics *m,
                                        fer_metrics *m_alt);

/* Signal flag set by SIGINT/SIGTERM handlers installed in fer_trainer_train. */
extern volatile int fer_stop_requested;
#endif
