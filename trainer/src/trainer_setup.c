/* fer-train set-up: settings (flags > --config > resumed checkpoint's config > defaults),
 * data, backend, model, optimiser, and resuming (see trainer.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fer/fileio.h"
#include "fer/losses.h"
#include "crt.h"
#include "dist.h"
#include "train_loss.h"
#include "trainer.h"

/* `fer-train --resume RUNS/EXP/last.fer` with neither --exp nor --runs_dir (flag or --config)
 * continues training in the folder the user named, RUNS/EXP: a path from the command line, not
 * the checkpoint's stored settings. Evaluation-only runs (--epochs 0) and other file names keep
 * the defaults, so they never write over a run's own outputs. */
static fer_status continue_in_resumed_folder(fer_cli *cli)
{
    fer_train_options *o = &cli->opt;
    if (!o->resume[0] || o->epochs == 0 || fer_options_source(cli, "exp") != FER_SRC_DEFAULT ||
        fer_options_source(cli, "runs_dir") != FER_SRC_DEFAULT)
        return FER_OK;
    const char *slash = strrchr(o->resume, '/');
    if (strcmp(slash ? slash + 1 : o->resume, "last.fer") != 0) return FER_OK;
    char dir[PATH_MAX], real[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - o->resume) : 1,
             slash ? o->resume : ".");
    if (!dir[0]) snprintf(dir, sizeof dir, "/");
    if (!realpath(dir, real))
        return fer_fail(FER_ERR_IO, "%s: cannot resolve the run folder: %s", o->resume,
                        strerror(errno));
    char *base = strrchr(real, '/');
    if (!base || !base[1])
        return fer_fail(FER_ERR_ARG, "%s: the run folder is /; name --runs_dir and --exp",
                        o->resume);
    if (strlen(base + 1) >= sizeof o->exp || (size_t)(base - real) + 1 >= sizeof o->runs_dir)
        return fer_fail(FER_ERR_ARG, "%s: run folder path too long", o->resume);
    snprintf(o->exp, sizeof o->exp, "%s", base + 1);
    size_t dir_len = (size_t)(base - real);
    if (dir_len == 0) {
        snprintf(o->runs_dir, sizeof o->runs_dir, "/");
    } else {
        memcpy(o->runs_dir, real, dir_len); /* fits: checked above */
        o->runs_dir[dir_len] = 0;
    }
    fprintf(stderr, "fer-train: continuing in %s/%s, the folder of --resume (--exp and "
            "--runs_dir choose another)\n", o->runs_dir, o->exp);
    return FER_OK;
}

/* --describe: the network a run would build, without data (so with the architecture's own
 * class count: 7 for the presets). */
static fer_status describe_network(const fer_train_options *o)
{
    fer_arch arch;
    fer_head_kind head = !strcmp(o->head, "arcface") ? FER_HEAD_ARCFACE : FER_HEAD_SOFTMAX;
    if (o->resume[0]) {
        fer_status s = fer_checkpoint_read_header(o->resume, &arch, NULL);
        return s ? s : fer_arch_describe(&arch, o->resume, stdout);
    }
    fer_status s = fer_arch_load(o->arch, head, &arch);
    if (s) return s;
    if (head == FER_HEAD_ARCFACE) {
        arch.arc_s = (float)o->arc_s;
        arch.arc_m = (float)o->arc_m;
    }
    return fer_arch_describe(&arch, o->arch, stdout);
}

int fer_trainer_parse(fer_trainer *t, int argc, char **argv, int *done)
{
    *done = 0;
    fer_cli cli;
    fer_options_defaults(&cli);
    fer_status s = fer_options_parse_args(&cli, argc - 1, argv + 1);
    if (!s && cli.help) {
        fer_options_usage(stdout);
        *done = 1;
        return FER_EXIT_OK;
    }
    if (!s) s = fer_options_apply_config_file(&cli);
    if (!s && cli.opt.resume[0]) {
        fer_arch arch;
        fer_checkpoint_meta meta;
        fer_checkpoint_meta_init(&meta);
        s = fer_checkpoint_read_header(cli.opt.resume, &arch, &meta);
        if (!s && meta.config_json)
            s = fer_options_apply_json(&cli, meta.config_json, cli.opt.resume, FER_SRC_CHECKPOINT,
                                       1);
        int crt_usage = !s && (s = fer_crt_settings(&cli, &meta)) != FER_OK; /* crt.c */
        fer_checkpoint_meta_clear(&meta);
        if (s) {
            fprintf(stderr, "fer-train: %s\n", fer_last_error());
            return crt_usage ? FER_EXIT_USAGE : FER_EXIT_ERROR;
        }
    }
    if (!s) s = continue_in_resumed_folder(&cli);
    if (!s) s = fer_options_validate(&cli.opt);
    if (s) {
        fprintf(stderr, "fer-train: %s\n", fer_last_error());
        return FER_EXIT_USAGE;
    }
    if (cli.opt.describe) {
        *done = 1;
        s = describe_network(&cli.opt);
        if (s) fprintf(stderr, "fer-train: %s\n", fer_last_error());
        return s ? FER_EXIT_ERROR : FER_EXIT_OK;
    }
    t->o = cli.opt;
    size_t len = 0;
    for (int i = 0; i < argc && len + 2 < sizeof t->command_line; i++)
        len += (size_t)snprintf(t->command_line + len, sizeof t->command_line - len, "%s%s",
                                i ? " " : "", argv[i]);
    return FER_EXIT_OK;
}

static void on_skip(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "fer-train: skipped: %s\n", message);
}

static fer_status load_split(fer_trainer *t, const char *split, fer_dataset **out)
{
    fer_load_options lo = {.skip_bad = t->o.skip_bad, .progress = fer_dist_rank() == 0, /* one log */
                           .on_skip = on_skip,
                           .csv_any_size = t->o.csv_any_size};
    return fer_dataset_load(t->o.data_root, split, &lo, out);
}

static fer_status same_classes(const fer_dataset *a, const fer_dataset *b, const char *root,
                               const char *split)
{
    int same = a->n_classes == b->n_classes;
    for (int c = 0; same && c < a->n_classes; c++)
        same = !strcmp(a->class_names[c], b->class_names[c]);
    if (!same)
        return fer_fail(FER_ERR_FORMAT, "%s: the %s split has other classes than %s", root,
                        split, a->n ? "train" : "the first split");
    return FER_OK;
}

static fer_status load_data(fer_trainer *t)
{
    fer_status s = FER_OK;
    if (!t->eval_only) {
        if ((s = load_split(t, "train", &t->train))) return s;
        if ((s = load_split(t, "val", &t->val))) return s;
    }
    if ((s = load_split(t, "test", &t->test))) return s;
    const fer_dataset *ref = t->train ? t->train : t->test;
    if (t->val && (s = same_classes(ref, t->val, t->o.data_root, "val"))) return s;
    if ((s = same_classes(ref, t->test, t->o.data_root, "test"))) return s;
    t->n_classes = ref->n_classes;
    memcpy(t->class_names, ref->class_names, sizeof t->class_names);
    if (t->train) {
        for (int c = 0; c < t->n_classes; c++)
            t->class_prior[c] = (float)((double)t->train->class_counts[c] / t->train->n);
    }
    return FER_OK;
}

static fer_status make_backend(fer_trainer *t)
{
    /* the cpu backend reads its kernel set from FER_ISA when it is created */
    if (strcmp(t->o.isa, "auto") != 0 && setenv("FER_ISA", t->o.isa, 1) != 0)
        return fer_fail(FER_ERR_NOMEM, "fer-train: --isa: cannot set FER_ISA");
    int threads = t->o.threads;
    if (threads == 0 && fer_dist_local_size() > 1) { /* ranks on one machine share its cores */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores / fer_dist_local_size() > 1 ? (int)(cores / fer_dist_local_size()) : 1;
    }
    fer_status s = fer_backend_new(t->o.backend, threads, &t->backend);
    if (s) return s;
    if (fer_backend_note(t->backend)[0] && fer_dist_rank() == 0)
        fprintf(stderr, "fer-train: %s\n", fer_backend_note(t->backend));
    if (t->o.amp) {
        if (!strcmp(t->o.head, "arcface")) {
            fprintf(stderr, "fer-train: AMP disabled for ArcFace for stability (as the seed).\n");
        } else if ((s = fer_backend_set_precision(t->backend, FER_PREC_BF16))) {
            if (s != FER_ERR_UNSUPPORTED) return s;
            fprintf(stderr, "fer-train: note: --amp: %s; training in float32\n",
                    fer_last_error()); /* e.g. the CPU has no AVX512_BF16 */
            fer_clear_error();
        } else if (fer_dist_rank() == 0) {
            fprintf(stderr, "fer-train: --amp: bf16 training step (validation in float32): %s\n",
                    fer_backend_note(t->backend)); /* names the bf16 unit (AMX tiles or not) */
        }
    }
    return FER_OK;
}

static fer_status make_loss(fer_trainer *t)
{
    fer_loss_config *l = &t->loss;
    memset(l, 0, sizeof *l);
    l->kind = !strcmp(t->o.loss, "wce") ? FER_LOSS_WCE
            : !strcmp(t->o.loss, "focal") ? FER_LOSS_FOCAL : FER_LOSS_CE;
    l->gamma = (float)t->o.focal_gamma;
    l->label_smoothing = (float)t->o.label_smoothing;
    /* --logit_adjust: tau * log(prior), a class without training images counted once */
    l->use_logit_offset = t->o.logit_adjust > 0 && t->train;
    for (int c = 0; l->use_logit_offset && c < t->n_classes; c++) {
        double count = t->train->class_counts[c] > 0 ? (double)t->train->class_counts[c] : 1.0;
        l->logit_offset[c] = (float)(t->o.logit_adjust * log(count / t->train->n));
    }
    /* as the seed: weights computed for wce and focal */
    l->use_class_weights = l->kind != FER_LOSS_CE;
    if (!l->use_class_weights || !t->train) return FER_OK;
    fer_weight_mode mode;
    fer_status s = fer_weight_mode_parse(t->o.weight_mode, &mode);
    if (!s) s = fer_class_weights(t->train->class_counts, t->n_classes, mode, (float)t->o.beta,
                                  l->class_weights);
    return s;
}

static fer_status make_optimizer(fer_trainer *t)
{
    fer_optim_kind kind = !strcmp(t->o.optimizer, "sgd")     ? FER_OPTIM_SGD
                        : !strcmp(t->o.optimizer, "adamw") ? FER_OPTIM_ADAMW : FER_OPTIM_ADAM;
    fer_optim_config cfg;
    fer_optim_config_default(kind, (float)t->o.lr, &cfg);
    cfg.weight_decay = (float)t->o.weight_decay;
    if (kind == FER_OPTIM_SGD) {
        cfg.momentum = (float)t->o.momentum;
        cfg.nesterov = t->o.nesterov;
    }
    fer_status s = fer_optimizer_new(t->model, &cfg, &t->optim);
    if (s) return s;
    fer_schedule_kind sk;
    if ((s = fer_schedule_parse(t->o.scheduler, &sk))) return s;
    fer_schedule *sc = &t->st.schedule;
    /* after a warm-up the schedule spans the remaining epochs (train_loop.c: batch_lr) */
    fer_schedule_init(sc, sk, (float)t->o.lr, t->o.epochs - t->o.warmup_epochs);
    sc->eta_min = (float)t->o.eta_min;
    sc->step_size = t->o.step_size;
    sc->gamma = (float)t->o.step_gamma;
    sc->factor = (float)t->o.plateau_factor;
    sc->patience = t->o.plateau_patience;
    return FER_OK;
}

/* The model: from the checkpoint's architecture when resuming, else preset/JSON + head. */
static fer_status make_model(fer_trainer *t, fer_checkpoint_meta *ckpt_meta)
{
    fer_status s;
    fer_head_kind head = !strcmp(t->o.head, "arcface") ? FER_HEAD_ARCFACE : FER_HEAD_SOFTMAX;
    if (t->o.resume[0]) {
        if ((s = fer_checkpoint_read_header(t->o.resume, &t->arch, ckpt_meta))) return s;
        if (t->arch.head != head)
            return fer_fail(FER_ERR_ARG, "%s: checkpoint has a %s head, --head says %s",
                            t->o.resume, t->arch.head == FER_HEAD_ARCFACE ? "arcface" : "softmax",
                            t->o.head);
        int same = ckpt_meta->n_classes == t->n_classes;
        for (int c = 0; same && c < t->n_classes; c++)
            same = !strcmp(ckpt_meta->class_names[c], t->class_names[c]);
        if (!same)
            return fer_fail(FER_ERR_FORMAT, "%s: checkpoint classes differ from the data's "
                            "class folders", t->o.resume);
        t->norm = ckpt_meta->norm;
        if (t->eval_only && ckpt_meta->has_prior)
            memcpy(t->class_prior, ckpt_meta->class_prior, sizeof t->class_prior);
    } else {
        if ((s = fer_arch_load(t->o.arch, head, &t->arch))) return s;
        t->arch.n_classes = t->n_classes;
        t->arch.arc_s = (float)t->o.arc_s;
        t->arch.arc_m = (float)t->o.arc_m;
    }
    if ((s = fer_model_new(&t->arch, t->backend, t->o.batch_size, &t->model))) return s;
    return strcmp(t->o.init, "counter") == 0 ? fer_model_init(t->model, (uint64_t)t->o.seed)
                                             : fer_model_init_pytorch(t->model, (uint64_t)t->o.seed);
}

/* Resuming into another run folder: bring the run's best.fer along, so the end-of-run test
 * evaluation uses the best epoch as it would have. */
static fer_status carry_best(fer_trainer *t)
{
    char src[FER_OPT_STR + 16];
    snprintf(src, sizeof src, "%s", t->o.resume);
    char *slash = strrchr(src, '/');
    if (slash) strcpy(slash + 1, "best.fer");
    else strcpy(src, "best.fer");
    if (access(src, R_OK) != 0)
        return fer_fail(FER_ERR_IO, "%s: the run's best.fer is needed to continue it", src);
    char a[4300], b[4300]; /* resumed in the same folder: nothing to copy */
    if (realpath(src, a) && realpath(t->best_path, b) && !strcmp(a, b)) return FER_OK;
    char *buf;
    size_t n;
    fer_status s = fer_read_file(src, 0, &buf, &n);
    if (s) return s;
    s = fer_write_file_atomic(t->best_path, buf, n);
    free(buf);
    return s;
}

/* The saved position must exist in this run: a state that points past the last epoch or batch
 * would resume silently somewhere else (or size buffers from nonsense). */
static fer_status check_resumed_state(const fer_trainer *t, const fer_train_state *st,
                                      const char *path)
{
    const int n_batches = (t->train->n + t->o.batch_size - 1) / t->o.batch_size;
    if (st->epoch > t->o.epochs)
        return fer_fail(FER_ERR_FORMAT, "%s: trainer state: %d epochs done, more than --epochs %d",
                        path, st->epoch, t->o.epochs);
    if (st->batch >= n_batches || (st->batch > 0 && st->epoch == t->o.epochs))
        return fer_fail(FER_ERR_FORMAT, "%s: trainer state: batch %d of epoch %d does not exist "
                        "(%d batches of %d images per epoch, --epochs %d)", path, st->batch,
                        st->epoch + 1, n_batches, t->o.batch_size, t->o.epochs);
    if (st->seen > t->train->n || (st->batch == 0 && st->seen != 0))
        return fer_fail(FER_ERR_FORMAT, "%s: trainer state: %ld images seen in the partial epoch "
                        "(batch %d, %d training images)", path, st->seen, st->batch,
                        t->train->n);
    if (st->best_epoch > st->epoch)
        return fer_fail(FER_ERR_FORMAT, "%s: trainer state: best epoch %d is after the %d epochs "
                        "done", path, st->best_epoch, st->epoch);
    if (st->schedule.plateau_bad_epochs > st->epoch)
        return fer_fail(FER_ERR_FORMAT, "%s: trainer state: %d epochs without improvement, more "
                        "than the %d epochs done", path, st->schedule.plateau_bad_epochs,
                        st->epoch);
    return FER_OK;
}

/* last.fer with optimiser + trainer state: continue exactly; otherwise initial weights only. */
static fer_status resume(fer_trainer *t, const fer_checkpoint_meta *ckpt_meta)
{
    const char *path = t->o.resume;
    int exact = !t->eval_only && ckpt_meta->state_json && fer_checkpoint_has_optimizer(path) &&
                (!t->o.crt || fer_crt_continues(path, ckpt_meta)); /* --crt: a new run */
    fer_status s = fer_checkpoint_load_into(path, t->model, exact ? t->optim : NULL, NULL);
    if (s || !exact) {
        if (!s && !t->eval_only && !t->o.crt)
            fprintf(stderr, "fer-train: %s: initial weights only (no optimiser/trainer state); "
                            "training %d epochs from there\n", path, t->o.epochs);
        return s;
    }
    fer_train_state saved;
    fer_train_state_init(&saved, t->o.seed, t->o.epochs);
    if ((s = fer_train_state_from_json(ckpt_meta->state_json, path, &saved))) return s;
    if ((s = check_resumed_state(t, &saved, path))) return s;
    fer_schedule sched = t->st.schedule; /* configuration from the settings ... */
    sched.plateau_lr = saved.schedule.plateau_lr; /* ... state from the checkpoint */
    sched.plateau_best = saved.schedule.plateau_best;
    sched.plateau_bad_epochs = saved.schedule.plateau_bad_epochs;
    if (saved.seed != t->o.seed || saved.total_epochs != t->o.epochs)
        fprintf(stderr, "fer-train: note: resuming with --seed %ld --epochs %d (the run had %ld, "
                        "%d): not an exact continuation\n", t->o.seed, t->o.epochs, saved.seed,
                saved.total_epochs);
    t->st = saved;
    t->st.schedule = sched;
    if (t->st.best_epoch >= 1 && (s = carry_best(t))) return s;
    t->st.seed = t->o.seed;
    t->st.total_epochs = t->o.epochs;
    fprintf(stderr, "fer-train: resuming %s at epoch %d, batch %d\n", path, t->st.epoch + 1,
            t->st.batch);
    return FER_OK;
}

/* --ema: the average starts at the (initial or resumed) weights; an exact resume continues the
 * average stored in last.fer. */
static fer_status make_ema(fer_trainer *t)
{
    fer_status s = fer_ema_new(t->model, t->o.ema, t->o.ema_warmup, &t->ema);
    if (s || !t->o.resume[0] || t->st.optimizer_steps == 0) return s;
    float *host = NULL;
    if ((s = fer_checkpoint_load_ema(t->o.resume, t->model, &host))) return s;
    if (!host) {
        fprintf(stderr, "fer-train: note: %s holds no weight average; --ema starts from its "
                        "weights\n", t->o.resume);
        return FER_OK;
    }
    s = fer_ema_set_host(t->ema, host);
    free(host);
    return s;
}

/* Under mpirun (dist.h): --sync_bn, and one line on what the ranks do. */
static fer_status setup_data_parallel(fer_trainer *t)
{
    const int ranks = fer_dist_size();
    if (ranks == 1) return FER_OK;
    const int per_rank = (t->o.batch_size + ranks - 1) / ranks;
    t->sync_bn = !strcmp(t->o.sync_bn, "on") || (!strcmp(t->o.sync_bn, "auto") && per_rank < 64);
    if (t->o.batch_size < ranks)
        return fer_fail(FER_ERR_ARG, "--batch_size %d is smaller than the %d ranks (it is the "
                        "global batch, split across them)", t->o.batch_size, ranks);
    /* the step's combination differs between GPU (NCCL) and host ranks: all alike or none
     * (--backend auto falls back to cpu on a rank without a GPU) */
    double on_gpu = !strcmp(fer_backend_name(t->backend), "cuda");
    fer_status s = fer_dist_sum_doubles(&on_gpu, 1);
    if (s) return s;
    if (on_gpu != 0.0 && on_gpu != ranks)
        return fer_fail(FER_ERR_ARG, "%.0f of the %d ranks run the cuda backend and the rest "
                        "do not (a rank without a GPU falls back to cpu): give every rank a GPU "
                        "or use --backend cpu", on_gpu, ranks);
    if (fer_dist_rank() == 0)
        fprintf(stderr, "fer-train: data-parallel: %d ranks, global batch %d (%d or fewer per "
                "rank), %d threads each, sync_bn %s\n", ranks, t->o.batch_size, per_rank,
                t->backend->threads, t->sync_bn ? "on" : "off");
    return t->sync_bn ? fer_model_set_bn_sync(t->model, fer_dist_sum_fn, NULL) : FER_OK;
}

fer_status fer_trainer_setup(fer_trainer *t)
{
    fer_status s;
    t->eval_only = t->o.epochs == 0;
    t->norm.mean = 0.5f;
    t->norm.std = 0.5f;
    fer_augment_config_seed(&t->augment);
    t->augment.max_degrees = (float)t->o.aug_rotate_max;
    t->augment.frame_jitter_p = (float)t->o.aug_frame_jitter;
    t->augment.rrc_p = (float)t->o.aug_rrc;
    t->augment.rrc_scale_min = (float)t->o.aug_rrc_scale;
    t->augment.photometric_p = (float)t->o.aug_photometric;
    t->augment.blur_p = (float)t->o.aug_blur;
    t->augment.jpeg_p = (float)t->o.aug_jpeg;
    t->augment.erase_p = (float)t->o.random_erasing;
    t->augment.tencrop = t->o.tencrop_train;
    fer_train_state_init(&t->st, t->o.seed, t->o.epochs);
    if ((s = fer_sampler_parse(t->o.sampler, &t->sampler))) return s;
    snprintf(t->run_dir, sizeof t->run_dir, "%s/%s", t->o.runs_dir, t->o.exp);
    snprintf(t->last_path, sizeof t->last_path, "%s/last.fer", t->run_dir);
    snprintf(t->best_path, sizeof t->best_path, "%s/best.fer", t->run_dir);
    /* data-parallel (dist.h): rank 0 alone writes the run folder */
    if (fer_dist_rank() == 0 && (s = fer_run_mkdirs(t->run_dir))) return s;
    /* temporary files of a run killed before it could rename them into place */
    int stale = fer_dist_rank() == 0 ? fer_remove_stale_tmp(t->run_dir) : 0;
    if (stale > 0)
        fprintf(stderr, "fer-train: removed %d stale temporary file%s from %s/\n", stale,
                stale == 1 ? "" : "s", t->run_dir);
    if (!(t->options_json = fer_options_to_json(&t->o)))
        return fer_fail(FER_ERR_NOMEM, "out of memory");
    if ((s = load_data(t))) return s;
    if ((s = fer_trainer_setup_targets(t))) return s; /* before the class weights (make_loss) */
    if ((s = make_backend(t))) return s;
    fer_checkpoint_meta ckpt_meta;
    fer_checkpoint_meta_init(&ckpt_meta);
    s = make_model(t, &ckpt_meta);
    if (!s) s = make_loss(t);
    if (!s && !t->eval_only) s = make_optimizer(t);
    float *crt_head = NULL; /* --crt: the seed's fresh head (crt.c) */
    if (!s && t->o.crt && !t->eval_only) s = fer_crt_save_initial_head(t, &ckpt_meta, &crt_head);
    if (!s && t->o.resume[0]) s = resume(t, &ckpt_meta);
    if (!s && t->o.crt && !t->eval_only) s = fer_crt_begin(t, &ckpt_meta, crt_head);
    free(crt_head);
    if (!s && !t->eval_only && t->o.ema > 0) s = make_ema(t);
    if (!s) s = fer_trainer_setup_methods(t); /* LDAM, DRW, --teacher */
    if (!s && !t->eval_only) s = setup_data_parallel(t);
    fer_checkpoint_meta_clear(&ckpt_meta);
    if (s) return s;
    int bs = t->o.batch_size;
    t->x = malloc(sizeof(float) * (size_t)bs * FER_INPUT_SIZE * FER_INPUT_SIZE);
    t->logits = malloc(sizeof(float) * (size_t)bs * t->n_classes);
    t->labels = malloc(sizeof(int32_t) * (size_t)bs);
    t->order = t->train ? malloc(sizeof(int32_t) * (size_t)t->train->n) : NULL;
    if (!t->x || !t->logits || !t->labels || (t->train && !t->order))
        return fer_fail(FER_ERR_NOMEM, "out of memory");
    return fer_trainer_write_config(t);
}

void fer_trainer_free(fer_trainer *t)
{
    fer_tb_close(t->tb);
    fer_ema_free(t->ema);
    fer_trainer_free_methods(t);
    fer_optimizer_free(t->optim);
    fer_model_free(t->model);
    fer_backend_free(t->backend);
    fer_trainer_free_targets(t);
    fer_dataset_free(t->train);
    fer_dataset_free(t->val);
    fer_dataset_free(t->test);
    free(t->options_json);
    free(t->history);
    free(t->x);
    free(t->logits);
    free(t->labels);
    free(t->order);
    memset(t, 0, sizeof *t);
}

fer_status fer_trainer_save(fer_trainer *t, const char *path, int with_optimizer)
{
    if (fer_dist_rank() != 0) return FER_OK; /* data-parallel: the ranks agree; rank 0 writes */
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    meta.n_classes = t->n_classes;
    memcpy(meta.class_names, t->class_names, sizeof meta.class_names);
    meta.norm = t->norm;
    meta.epoch = t->st.epoch;
    meta.best_metric = (float)t->st.best_metric;
    meta.has_prior = 1;
    memcpy(meta.class_prior, t->class_prior, sizeof meta.class_prior);
    meta.config_json = t->options_json;
    meta.state_json = fer_train_state_to_json(&t->st);
    if (!meta.state_json) return fer_fail(FER_ERR_NOMEM, "out of memory");
    /* --ema: last.fer keeps the raw weights and carries the average for --resume; best.fer is
     * the average (what validation chose) */
    float *ema_host = NULL;
    fer_status s = FER_OK;
    if (t->ema && with_optimizer) {
        meta.ema_floats = fer_ema_floats(t->ema);
        if (!(ema_host = malloc(sizeof(float) * (meta.ema_floats ? meta.ema_floats : 1))))
            s = fer_fail(FER_ERR_NOMEM, "out of memory");
        if (!s) s = fer_ema_get_host(t->ema, ema_host);
        meta.ema_host = ema_host;
    }
    const int swap = t->ema && !with_optimizer;
    if (!s && swap) s = fer_ema_swap(t->ema, t->model);
    if (!s) s = fer_checkpoint_save(path, t->model, &meta, with_optimizer ? t->optim : NULL);
    if (swap) {
        fer_status back = fer_ema_swap(t->ema, t->model);
        if (!s) s = back;
    }
    free(ema_host);
    free(meta.state_json);
    return s;
}

static void add_dataset(cJSON *obj, const char *split, const fer_dataset *d)
{
    if (!d) return;
    cJSON *o = cJSON_AddObjectToObject(obj, split);
    if (!o) return;
    cJSON_AddStringToObject(o, "fingerprint", d->fingerprint);
    cJSON_AddNumberToObject(o, "images", d->n);
    cJSON_AddNumberToObject(o, "skipped", d->n_skipped);
    cJSON *counts = cJSON_AddObjectToObject(o, "class_counts");
    for (int c = 0; counts && c < d->n_classes; c++)
        cJSON_AddNumberToObject(counts, d->class_names[c], (double)d->class_counts[c]);
}

fer_status fer_trainer_write_config(fer_trainer *t)
{
    if (fer_dist_rank() != 0) return FER_OK; /* data-parallel: rank 0 writes */
    cJSON *root = cJSON_CreateObject();
    if (!root) return fer_fail(FER_ERR_NOMEM, "out of memory");
    cJSON_AddItemToObject(root, "settings", cJSON_Parse(t->options_json));
    char rev[128];
    fer_git_revision(rev, sizeof rev);
    cJSON_AddStringToObject(root, "git_revision", rev);
    cJSON_AddStringToObject(root, "command_line", t->command_line);
    cJSON_AddStringToObject(root, "mode", t->eval_only ? "evaluate" : "train");
    cJSON *data = cJSON_AddObjectToObject(root, "data");
    if (data) {
        cJSON_AddStringToObject(data, "root", t->o.data_root);
        add_dataset(data, "train", t->train);
        add_dataset(data, "val", t->val);
        add_dataset(data, "test", t->test);
    }
    cJSON *names = cJSON_AddArrayToObject(root, "class_names");
    for (int c = 0; names && c < t->n_classes; c++)
        cJSON_AddItemToArray(names, cJSON_CreateString(t->class_names[c]));
    cJSON_AddStringToObject(root, "backend", fer_backend_name(t->backend));
    cJSON_AddNumberToObject(root, "threads", t->backend->threads);
    cJSON_AddStringToObject(root, "precision", t->backend->precision == FER_PREC_BF16 ? "bf16"
                                             : t->backend->precision == FER_PREC_FP16 ? "fp16"
                                                                                       : "fp32");
    char *arch = fer_arch_to_json(&t->arch);
    if (arch) cJSON_AddItemToObject(root, "arch", cJSON_Parse(arch));
    free(arch);
    cJSON_AddNumberToObject(root, "parameters", (double)fer_model_param_count(t->model));
    if (t->loss.use_class_weights) {
        cJSON *w = cJSON_AddArrayToObject(root, "class_weights");
        for (int c = 0; w && c < t->n_classes; c++)
            cJSON_AddItemToArray(w, cJSON_CreateNumber(t->loss.class_weights[c]));
    }
    cJSON_AddStringToObject(root, "augmentation",
                            "hflip 0.5, rotate +-15 deg (nearest), pad 4 + crop 44, "
                            "PIL-bilinear resize 48, normalise (x/255-0.5)/0.5");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return fer_fail(FER_ERR_NOMEM, "out of memory");
    char path[4300];
    /* evaluation-only runs may share a training run's folder: keep its config.json */
    snprintf(path, sizeof path, "%s/%s", t->run_dir,
             t->eval_only ? "eval_config.json" : "config.json");
    fer_status s = fer_write_file_atomic(path, text, strlen(text));
    free(text);
    return s;
}
