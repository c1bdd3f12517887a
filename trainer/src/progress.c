/* Progress display (see progress.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "progress.h"

double fer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void fer_format_duration(double s, char *buf, int n)
{
    if (s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, (size_t)n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, (size_t)n, "%ld:%02ld", t / 60, t % 60);
}

void fer_progress_init(fer_progress *p, const char *mode, int epochs)
{
    memset(p, 0, sizeof *p);
    p->epochs = epochs;
    if (!strcmp(mode, "tty")) p->tty = 1;
    else if (!strcmp(mode, "plain")) p->tty = 0;
    else if (!strcmp(mode, "none")) p->quiet = 1;
    else p->tty = isatty(STDERR_FILENO);
}

void fer_progress_epoch_begin(fer_progress *p, int epoch, int n_batches, int start_batch)
{
    p->epoch = epoch;
    p->n_batches = n_batches;
    p->start_batch = start_batch;
    p->t_epoch0 = p->t_last_draw = fer_now();
    p->images = 0;
    int quarter = n_batches / 4 > 0 ? n_batches / 4 : 1;
    p->next_log_batch = (start_batch / quarter + 1) * quarter;
}

void fer_progress_batch(fer_progress *p, int done, int batch_images, double mean_loss)
{
    p->images += batch_images;
    if (p->quiet) return;
    double now = fer_now(), dt = now - p->t_epoch0;
    double ips = dt > 0 ? p->images / dt : 0.0;
    int trained = done - p->start_batch;
    double eta = trained > 0 ? dt / trained * (p->n_batches - done) : 0.0;
    /* whole run: this epoch's rest + later epochs at the mean epoch time seen so far */
    double per_epoch = p->done_epochs ? p->done_seconds / p->done_epochs
                     : trained > 0 ? dt / trained * p->n_batches : 0.0;
    double run_eta = eta + per_epoch * (p->epochs - p->epoch);
    char eta_s[32], run_s[32];
    fer_format_duration(eta, eta_s, sizeof eta_s);
    fer_format_duration(run_eta, run_s, sizeof run_s);
    if (p->tty) {
        if (now - p->t_last_draw < 0.1 && done < p->n_batches) return;
        p->t_last_draw = now;
        fprintf(stderr, "\r\033[Kepoch %d/%d  batch %d/%d  %.0f img/s  loss %.4f  ETA %s (run %s)",
                p->epoch, p->epochs, done, p->n_batches, ips, mean_loss, eta_s, run_s);
        fflush(stderr);
        p->line_open = 1;
    } else if (done >= p->next_log_batch && done < p->n_batches) {
        int quarter = p->n_batches / 4 > 0 ? p->n_batches / 4 : 1;
        p->next_log_batch = done + quarter;
        fprintf(stderr, "epoch %d/%d  batch %d/%d  %.0f img/s  loss %.4f  ETA %s (run %s)\n",
                p->epoch, p->epochs, done, p->n_batches, ips, mean_loss, eta_s, run_s);
    }
}

void fer_progress_epoch_done(fer_progress *p, double seconds)
{
    p->done_seconds += seconds;
    p->done_epochs++;
}

void fer_progress_log(fer_progress *p, const char *fmt, ...)
{
    if (p && p->quiet) return;
    if (p && p->line_open) {
        fputs("\r\033[K", stderr);
        p->line_open = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}
