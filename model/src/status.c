/* Status names and the per-thread last error message. */
#include "fer/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512];

const char *fer_status_name(fer_status st)
{
    switch (st) {
    case FER_OK: return "ok";
    case FER_ERR_NOMEM: return "out of memory";
    case FER_ERR_IO: return "i/o error";
    case FER_ERR_FORMAT: return "format error";
    case FER_ERR_ARG: return "invalid argument";
    case FER_ERR_UNSUPPORTED: return "unsupported";
    case FER_ERR_NODEVICE: return "no device";
    case FER_ERR_INTERNAL: return "internal error";
    case FER_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

fer_status fer_fail(fer_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return st;
}

const char *fer_last_error(void)
{
    return last_error;
}

void fer_clear_error(void)
{
    last_error[0] = '\0';
}
