/* Status codes and the per-thread error message of libfermodel.
 * Library code never exits or prints: it returns a fer_status and leaves a one-line
 * message ("FILE: what is wrong") that the CLI or element shows to the user. */
#ifndef FER_STATUS_H
#define FER_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fer_status {
    FER_OK = 0,
    FER_ERR_NOMEM,       /* allocation failed */
    FER_ERR_IO,          /* open/read/write/rename failed */
    FER_ERR_FORMAT,      /* input file is malformed, truncated or corrupt */
    FER_ERR_ARG,         /* caller passed an invalid argument or shape */
    FER_ERR_UNSUPPORTED, /* the backend or build lacks this feature */
    FER_ERR_NODEVICE,    /* a requested device (GPU) is not present */
    FER_ERR_INTERNAL,    /* a backend library (cuDNN, oneDNN, ...) failed */
    FER_ERR_INTERRUPTED  /* stopped on request (SIGINT) */
} fer_status;

/* Short constant name of a status ("format error", ...). */
const char *fer_status_name(fer_status st);

/* Sets this thread's last error message (printf format) and returns st, so library code can
 * write `return fer_fail(FER_ERR_FORMAT, "%s: bad magic", path);`. */
fer_status fer_fail(fer_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* This thread's last error message; "" when none. Valid until the next fer_fail on the thread. */
const char *fer_last_error(void);
void fer_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
