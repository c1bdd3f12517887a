/* The epoch loop: sample, augment, step, validate, checkpoint, log (see trainer.h).
 * Ctrl-C / SIGTERM only set a flag; the loop finishes the batch, saves last.fer (mid-epoch
 * position included) and returns, so a resume continues exactly. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "batch.h"
#include "dist.h"
#include "prefetch.h"
#include "rng.h"
#include "train_loss.h"
#include "trainer.h"

volatile int fer_stop_requested = 0;

static void on_signal(int sig)
{
    fer_stop_requested = sig;
    signal(sig, SIG_DFL); /* a second Ctrl-C ends the process at once */
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Data-parallel (dist.h): the batch's soft targets need all of it when images are mixed
 * across the batch (or looked up by batch position), so each rank assembles the whole batch and
 * cuts its shard out after mixing; otherwise it assembles its shard only. */
static int assembles_whole_batch(const fer_trainer *t)
{
    return fer_dist_size() > 1 && (t->train_soft || fer_mix_enabled(&t->mix));
}

/* Images in batch b (all ranks together). */
static int batch_images(const fer_trainer *t, int b)
{
    const int bs = t->o.batch_size, first = b * bs;
    return t->train->n - first < bs ? t->train->n - first : bs;
}

/* The training batch b of epoch e, or this rank's shard of it (its images are keyed by their
 * position in the epoch, so a shard gets the draws the whole batch would). */
static fer_batch_request batch_request(const fer_trainer *t, int epoch, int b)
{
    const int first = b * t->o.batch_size;
    int lo = 0, n = batch_images(t, b);
    if (fer_dist_size() > 1 && !assembles_whole_batch(t))
        fer_dist_shard(batch_images(t, b), fer_dist_rank(), fer_dist_size(), &lo, &n);
    fer_batch_request req = {
        .data = t->train, .indices = t->order + first + lo, .n = n, .augment = &t->augment,
        .seed = (uint64_t)t->o.seed, .epoch = epoch, .position = first + lo, .norm = t->norm};
    return req;
}

/* Data-parallel: whether to stop after this step, the same on every rank (from the step's
 * all-reduce; a signal seen by some ranks only counts from the next step). */
static int stop_agreed;

/* Data-parallel: steps and their seconds in this invocation (the communication summary). */
static long dist_steps;
static double dist_step_seconds;

static int stop_now(void)
{
    return fer_dist_size() > 1 ? stop_agreed : fer_stop_requested;
}

/* Data-parallel step on this rank's shard (n_local of the batch's n images, from image lo):
 * forward and backward (or only the synchronised batch norm's sums when the shard is empty),
 * then one all-reduce of the share-weighted gradients with the step's loss, correct count and
 * stop flag. *loss becomes the global batch's mean, *correct its count. */
static fer_status train_shard(fer_trainer *t, int n_local, int n, const float *x,
                              const int32_t *labels, const float *targets, int epoch,
                              uint64_t dropout_seed, float *loss, long *correct)
{
    fer_status s = FER_OK;
    *correct = 0;
    *loss = 0.0f;
    if (n_local > 0) {
        int lo, count; /* dropout masks keyed by the global batch position */
        fer_dist_shard(n, fer_dist_rank(), fer_dist_size(), &lo, &count);
        fer_model_set_sample_offset(t->model, lo);
        s = fer_trainer_teacher_batch(t, x, n_local);
        if (!s) s = fer_model_forward(t->model, x, n_local, FER_MODE_TRAIN, labels, dropout_seed,
                                      t->logits);
        if (!s) s = fer_trainer_loss(t, epoch, n_local, labels, targets, loss);
        if (!s) s = fer_model_backward(t->model);
        for (int i = 0; !s && i < n_local; i++)
            *correct += argmax(t->logits + (size_t)i * t->n_classes, t->n_classes) == labels[i];
    } else {
        s = fer_model_bn_sync_empty_step(t->model);
    }
    if (s) return s;
    double extras[4] = {(double)*loss * n_local, (double)*correct, 0.0, fer_stop_requested != 0};
    s = fer_dist_combine_step(t->model, (double)n_local / n, !t->sync_bn, extras, 4);
    *loss = (float)(extras[0] / n);
    *correct = (long)(extras[1] + 0.5);
    stop_agreed = extras[3] > 0.0;
    return s;
}

/* train_batch's data-parallel half: x, labels and targets as fer_trainer_batch_targets left
 * them (this rank's shard, or the whole batch when assembles_whole_batch). Every rank ends the
 * step with the same gradients, so the same optimiser step. */
static fer_status train_batch_dist(fer_trainer *t, int epoch, int b, float lr, const float *x,
                                   const int32_t *labels, const float *targets,
                                   uint64_t dropout_seed, double t0)
{
    const int n = batch_images(t, b);
    int lo, n_local;
    fer_dist_shard(n, fer_dist_rank(), fer_dist_size(), &lo, &n_local);
    if (assembles_whole_batch(t)) { /* cut this rank's shard out of the (mixed) batch */
        x += (size_t)lo * FER_INPUT_SIZE * FER_INPUT_SIZE;
        labels += lo;
        if (targets) targets += (size_t)lo * t->n_classes;
    }
    float loss;
    long correct;
    fer_status s = train_shard(t, n_local, n, x, labels, targets, epoch, dropout_seed, &loss,
                               &correct);
    if (s) return s;
    if (!isfinite(loss))
        return fer_fail(FER_ERR_INTERNAL, "non-finite loss at epoch %d batch %d; stopping "
                        "(try a lower --lr)", epoch + 1, b + 1);
    if (t->o.clip_grad > 0 && (s = fer_model_clip_grad_norm(t->model, (float)t->o.clip_grad, NULL)))
        return s;
    if ((s = fer_optimizer_step(t->optim, lr))) return s;
    t->st.optimizer_steps++;
    if (t->ema && (s = fer_ema_update(t->ema, t->model, t->st.optimizer_steps - 1))) return s;
    t->st.loss_sum += (double)loss * n;
    t->st.correct += correct;
    t->st.seen += n;
    t->epoch_step_s += fer_now() - t0;
    dist_steps++;
    dist_step_seconds += fer_now() - t0;
    return FER_OK;
}

/* Learning rate of batch b of epoch e: with --warmup_epochs W, linear from lr/(W * batches) up
 * to lr over the first W epochs' batches, then the schedule over the remaining epochs. A pure
 * function of (e, b) and the schedule state, so a resumed run gets the same rates. */
static float batch_lr(const fer_trainer *t, int e, int b, int n_batches)
{
    const int w = t->o.warmup_epochs;
    if (e < w)
        return (float)(t->o.lr * ((double)e * n_batches + b + 1) / ((double)w * n_batches));
    return fer_schedule_lr(&t->st.schedule, e - w);
}

/* One optimisation step on a prepared batch; adds to the epoch sums. */
static fer_status train_batch(fer_trainer *t, int epoch, int b, float lr, int n, const float *x,
                              const int32_t *labels)
{
    double t0 = fer_now();
    uint64_t dropout_seed = fer_rng_key((uint64_t)t->o.seed, (uint64_t)epoch, (uint64_t)b,
                                        FER_RNG_DROPOUT);
    float loss = 0.0f;
    const float *targets; /* soft targets of a mixed or FER+ batch, else NULL */
    fer_status s = fer_trainer_batch_targets(t, epoch, b, n, x, labels, &x, &targets);
    if (!s && fer_dist_size() > 1) /* data-parallel: this rank's shard, one all-reduce */
        return train_batch_dist(t, epoch, b, lr, x, labels, targets, dropout_seed, t0);
    if (!s) s = fer_trainer_teacher_batch(t, x, n); /* --teacher: before the student's pass */
    if (!s) s = fer_model_forward(t->model, x, n, FER_MODE_TRAIN, labels, dropout_seed, t->logits);
    if (!s) s = fer_trainer_loss(t, epoch, n, labels, targets, &loss); /* train_loss.c */
    if (s) return s;
    if (!isfinite(loss))
        return fer_fail(FER_ERR_INTERNAL, "non-finite loss at epoch %d batch %d; stopping "
                        "(try a lower --lr)", epoch + 1, b + 1);
    if ((s = fer_model_backward(t->model))) return s;
    if (t->o.clip_grad > 0 && (s = fer_model_clip_grad_norm(t->model, (float)t->o.clip_grad, NULL)))
        return s;
    if ((s = fer_optimizer_step(t->optim, lr))) return s;
    t->st.optimizer_steps++;
    if (t->ema && (s = fer_ema_update(t->ema, t->model, t->st.optimizer_steps - 1))) return s;
    t->st.loss_sum += (double)loss * n;
    for (int i = 0; i < n; i++)
        t->st.correct += argmax(t->logits + (size_t)i * t->n_classes, t->n_classes) == labels[i];
    t->st.seen += n;
    t->epoch_step_s += fer_now() - t0;
    return FER_OK;
}

static fer_status log_epoch(fer_trainer *t, const fer_history_row *row)
{
    if (fer_dist_rank() != 0) return FER_OK; /* data-parallel: rank 0 writes */
    static const char *const tags[5] = {"train/loss", "train/acc", "val/acc", "val/macro_f1",
                                        "lr"};
    const double v[5] = {row->train_loss, row->train_acc, row->val_acc, row->val_macro_f1,
                         row->lr};
    fer_status s = FER_OK;
    double now = wall_clock();
    for (int k = 0; k < 5 && !s; k++) s = fer_tb_scalar(t->tb, tags[k], (float)v[k], row->epoch, now);
    if (!s && isfinite(row->val_ferplus_acc))
        s = fer_tb_scalar(t->tb, "val_ferplus/acc", (float)row->val_ferplus_acc, row->epoch, now);
    if (!s && isfinite(row->val_ferplus_macro_f1))
        s = fer_tb_scalar(t->tb, "val_ferplus/macro_f1", (float)row->val_ferplus_macro_f1,
                          row->epoch, now);
    for (int c = 0; c < t->n_classes && !s; c++) {
        char tag[FER_NAME_LEN + 16];
        snprintf(tag, sizeof tag, "val/f1_%s", t->class_names[c]);
        s = fer_tb_scalar(t->tb, tag, (float)row->val_f1[c], row->epoch, now);
    }
    if (s) return s;
    t->history[t->n_history++] = *row;
    char path[4300], title[512];
    snprintf(path, sizeof path, "%s/history.jsonl", t->run_dir);
    if ((s = fer_history_write(path, t->history, t->n_history,
                               (fer_class_names)t->class_names, t->n_classes)))
        return s;
    snprintf(path, sizeof path, "%s/curves.png", t->run_dir);
    snprintf(title, sizeof title, "%s: training curves", t->o.exp);
    return fer_history_curves(path, t->history, t->n_history, title);
}

/* Validation, schedule, best/last checkpoints and logs after epoch index e (0-based). */
static fer_status end_epoch(fer_trainer *t, int e, float lr, double seconds)
{
    fer_metrics m, m_ferplus;
    /* --ema: validation (and so best.fer's choice) on the average */
    fer_status s = t->ema ? fer_ema_swap(t->ema, t->model) : FER_OK;
    /* --labels ferplus_*: also scored against FER+ majority labels (FER-2013's choose) */
    if (!s) s = fer_trainer_evaluate_sharded(t, t->val, t->val_ferplus, &m, &m_ferplus);
    if (t->ema) {
        fer_status back = fer_ema_swap(t->ema, t->model);
        if (!s) s = back;
    }
    if (s) return s;
    fer_history_row row = {.epoch = e + 1,
                           .train_loss = t->st.loss_sum / (t->st.seen ? t->st.seen : 1),
                           .train_acc = (double)t->st.correct / (t->st.seen ? t->st.seen : 1),
                           .val_acc = m.accuracy, .val_macro_f1 = m.macro_f1, .lr = lr,
                           .seconds = seconds,
                           .val_ferplus_acc = t->val_ferplus ? m_ferplus.accuracy : NAN,
                           .val_ferplus_macro_f1 = t->val_ferplus ? m_ferplus.macro_f1 : NAN};
    char per_class[FER_MAX_CLASSES * (FER_NAME_LEN + 8)] = "";
    for (int c = 0; c < t->n_classes; c++) {
        row.val_f1[c] = m.f1[c];
        size_t len = strlen(per_class);
        snprintf(per_class + len, sizeof per_class - len, " %s %.3f", t->class_names[c], m.f1[c]);
    }
    if (e >= t->o.warmup_epochs) /* plateau patience counts from the end of the warm-up */
        fer_schedule_observe(&t->st.schedule, (float)m.macro_f1);
    t->st.epoch = e + 1;
    t->st.batch = 0;
    t->st.epoch_seconds = 0.0;
    t->st.loss_sum = 0.0;
    t->st.correct = t->st.seen = 0;
    fer_progress_log(&t->progress,
                     "epoch %d/%d: train loss %.4f acc %.4f | val acc %.4f macro-F1 %.4f | "
                     "lr %.3g | %.1f s (batches: data %.2f s, model %.1f s)", e + 1, t->o.epochs,
                     row.train_loss, row.train_acc, row.val_acc, row.val_macro_f1, lr, seconds,
                     t->epoch_data_s, t->epoch_step_s);
    fer_progress_log(&t->progress, "  val F1:%s", per_class);
    double pred_share[FER_MAX_CLASSES], true_share[FER_MAX_CLASSES]; /* over-predicting a class */
    char shares[FER_MAX_CLASSES * (FER_NAME_LEN + 24)] = "";
    fer_metrics_shares(&m, pred_share, true_share);
    for (int c = 0; c < t->n_classes; c++) {
        size_t len = strlen(shares);
        snprintf(shares + len, sizeof shares - len, " %s %.3f (%.3f)", t->class_names[c],
                 pred_share[c], true_share[c]);
    }
    fer_progress_log(&t->progress, "  val predicted share (true):%s", shares);
    if (t->val_ferplus)
        fer_progress_log(&t->progress, "  val on FER+ majority labels: acc %.4f macro-F1 %.4f",
                         m_ferplus.accuracy, m_ferplus.macro_f1);
    if (m.macro_f1 > t->st.best_metric) {
        t->st.best_metric = m.macro_f1;
        t->st.best_epoch = e + 1;
        if ((s = fer_trainer_save(t, t->best_path, 0))) return s;
        fer_progress_log(&t->progress, "Epoch %d: new best macro-F1 %.4f", e + 1, m.macro_f1);
    }
    if ((s = fer_trainer_save(t, t->last_path, 1))) return s;
    return log_epoch(t, &row);
}

static fer_status open_logs(fer_trainer *t)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/history.jsonl", t->run_dir);
    fer_status s = fer_history_read(path, t->st.epoch, t->o.epochs, (fer_class_names)t->class_names,
                         t->n_classes, &t->history, &t->n_history);
    if (!s && t->n_history == 0 && t->st.epoch > 0 && strrchr(t->o.resume, '/')) {
        /* resumed into another folder: start from the original run's history */
        snprintf(path, sizeof path, "%.*s/history.jsonl",
                 (int)(strrchr(t->o.resume, '/') - t->o.resume), t->o.resume);
        free(t->history);
        s = fer_history_read(path, t->st.epoch, t->o.epochs, (fer_class_names)t->class_names,
                         t->n_classes, &t->history, &t->n_history);
    }
    if (!s) s = fer_tb_open(t->run_dir, &t->tb);
    return s;
}

static fer_status run_epochs(fer_trainer *t, fer_prefetch *pf, int *interrupted)
{
    const int n_batches = (t->train->n + t->o.batch_size - 1) / t->o.batch_size;
    long batches_run = 0;
    fer_status s;
    for (int e = t->st.epoch; e < t->o.epochs; e++) {
        float lr = batch_lr(t, e, t->st.batch, n_batches);
        if ((s = fer_sampler_epoch(fer_trainer_epoch_sampler(t, e), (float)t->o.sampler_power,
                                   t->train->labels, t->train->n, t->n_classes, (uint64_t)t->o.seed, e, t->order)))
            return s;
        fer_progress_epoch_begin(&t->progress, e + 1, n_batches, t->st.batch);
        t->epoch_data_s = t->epoch_step_s = 0.0;
        /* a resumed epoch counts the time spent on it before the interruption too (0 else) */
        double t0 = fer_now() - t->st.epoch_seconds;
        fer_batch_request req = batch_request(t, e, t->st.batch);
        fer_prefetch_submit(pf, &req);
        for (int b = t->st.batch; b < n_batches; b++) {
            float *x;
            int32_t *labels;
            double w0 = fer_now();
            fer_prefetch_wait(pf, &x, &labels);
            /* host backends: the assembly itself; cuda: what the background did not hide */
            t->epoch_data_s += fer_now() - w0;
            int n = batch_request(t, e, b).n;
            if (b + 1 < n_batches) {
                req = batch_request(t, e, b + 1);
                fer_prefetch_submit(pf, &req);
            }
            lr = batch_lr(t, e, b, n_batches);
            if ((s = train_batch(t, e, b, lr, n, x, labels))) return s;
            t->st.batch = b + 1;
            batches_run++;
            fer_progress_batch(&t->progress, b + 1, batch_images(t, b),
                               t->st.loss_sum / (t->st.seen ? t->st.seen : 1));
            if (t->o.interrupt_after && batches_run == t->o.interrupt_after) {
                if (!fer_stop_requested) fer_stop_requested = SIGINT;
                stop_agreed = 1; /* data-parallel: the same batch on every rank */
            }
            if (stop_now() && b + 1 < n_batches) {
                t->st.epoch_seconds = fer_now() - t0;
                if ((s = fer_trainer_save(t, t->last_path, 1))) return s;
                fer_progress_log(&t->progress, "fer-train: interrupted: saved %s at epoch %d, "
                                 "batch %d/%d (batches: data %.2f s, model %.1f s); "
                                 "continue with --resume %s --runs_dir %s --exp %s", t->last_path,
                                 e + 1, b + 1, n_batches, t->epoch_data_s, t->epoch_step_s,
                                 t->last_path, t->o.runs_dir, t->o.exp);
                *interrupted = 1;
                return FER_OK;
            }
        }
        if ((s = end_epoch(t, e, lr, fer_now() - t0))) return s;
        fer_progress_epoch_done(&t->progress, fer_now() - t0); /* incl. validation, for the ETA */
        if (stop_now() && e + 1 < t->o.epochs) {
            fer_progress_log(&t->progress, "fer-train: interrupted: saved %s after epoch %d; "
                             "continue with --resume %s --runs_dir %s --exp %s", t->last_path,
                             e + 1, t->last_path, t->o.runs_dir, t->o.exp);
            *interrupted = 1;
            return FER_OK;
        }
    }
    fer_progress_log(&t->progress, "Training done. Best epoch %d with macro-F1 %.4f",
                     t->st.best_epoch, t->st.best_metric);
    if (dist_steps) /* rank 0's view: its waits for slower ranks count as communication */
        fer_progress_log(&t->progress, "data-parallel: %ld steps, %.3f MB all-reduced per step, "
                         "communication %.2f s of %.2f s in steps (%.1f%%)", dist_steps,
                         fer_dist_comm_bytes() / dist_steps / 1e6, fer_dist_comm_seconds(),
                         dist_step_seconds, 100.0 * fer_dist_comm_seconds() / dist_step_seconds);
    return FER_OK;
}

fer_status fer_trainer_train(fer_trainer *t, int *interrupted)
{
    *interrupted = 0;
    /* data-parallel: rank 0 alone keeps the logs and prints progress */
    fer_status s = fer_dist_rank() == 0 ? open_logs(t) : FER_OK;
    if (s) return s;
    install_handlers();
    fer_progress_init(&t->progress, fer_dist_rank() == 0 ? t->o.progress : "none", t->o.epochs);
    /* Host backends: batches are assembled on the backend's own pool between model steps (one
     * pool, no oversubscription); cuda: the host is idle during GPU steps, so a background
     * thread with a pool of its own prepares the next batch meanwhile. */
    fer_prefetch *pf = NULL;
    if (!strcmp(fer_backend_name(t->backend), "cuda"))
        s = fer_prefetch_new_background(t->o.batch_size, t->backend->threads, &pf);
    else
        s = fer_prefetch_new_inline(t->o.batch_size, fer_backend_threadpool(t->backend), &pf);
    if (s) return s;
    s = run_epochs(t, pf, interrupted);
    fer_prefetch_free(pf);
    return s;
}
