/* Training progress on stderr: on a terminal one live line (epoch, batch, img/s, loss, ETA)
 * redrawn in place; otherwise plain log lines a few times per epoch. */
#ifndef FER_TRAIN_PROGRESS_H
#define FER_TRAIN_PROGRESS_H

typedef struct fer_progress {
    int tty;
    int epochs;
    int epoch, n_batches, start_batch;
    double t_epoch0, t_last_draw;
    long images;           /* images trained this epoch (since start_batch) */
    int next_log_batch;    /* plain mode */
    int line_open;         /* tty: a live line is on screen */
    double done_seconds;   /* finished epochs of this invocation: total time and count */
    int done_epochs;
    int quiet;             /* mode "none": prints nothing (data-parallel ranks other than 0) */
} fer_progress;

double fer_now(void); /* monotonic seconds */
/* mode: "auto" (tty when stderr is a terminal), "tty", "plain" or "none". */
void fer_progress_init(fer_progress *p, const char *mode, int epochs);
void fer_progress_epoch_begin(fer_progress *p, int epoch, int n_batches, int start_batch);
void fer_progress_batch(fer_progress *p, int batches_done, int batch_images, double mean_loss);
void fer_progress_epoch_done(fer_progress *p, double seconds); /* feeds the whole-run ETA */
/* A log line (newline added); clears the live line first. */
void fer_progress_log(fer_progress *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void fer_format_duration(double seconds, char *buf, int n);
#endif
