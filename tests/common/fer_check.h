/* The checks every test uses (one definition for the whole tree).
 *
 *   CHECK(cond)                        CHECK(cond, "fmt", ...)
 *   CHECK_NEAR(a, b, tol)              CHECK_NEAR(a, b, tol, "fmt", ...)
 *   OK(call)                           a fer_status call (include fer/status.h first)
 *
 * A failed CHECK prints "FAIL file:line: CHECK(cond)[: message]". By default it ends the test
 * (exit 1); a test that defines FER_CHECK_CONTINUE before the include counts failures instead and
 * returns fer_check_summary(name) from main. A failed OK always ends the test: what follows
 * would read outputs the call did not produce. frand() is a deterministic LCG in [-1, 1) so
 * fixtures are the same on every run. The message must be a string literal (use "%s", s). */
#ifndef FER_TEST_CHECK_H
#define FER_TEST_CHECK_H
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define FER_CHECK_UNUSED_ __attribute__((unused))
#define FER_CHECK_PRINTF_(f, a) __attribute__((format(printf, f, a)))
#else
#define FER_CHECK_UNUSED_
#define FER_CHECK_PRINTF_(f, a)
#endif

static int fer_check_failures FER_CHECK_UNUSED_;

#ifdef FER_CHECK_CONTINUE
#define FER_CHECK_FAILED_() fer_check_failures++
#else
#define FER_CHECK_FAILED_() exit(1)
#endif

static FER_CHECK_UNUSED_ FER_CHECK_PRINTF_(4, 5) void fer_check_report_(const char *file,
                                                                          int line,
                                                                          const char *what,
                                                                          const char *fmt, ...)
{
    fprintf(stderr, "FAIL %s:%d: %s", file, line, what);
    if (fmt[0] && fmt[1]) { /* " message" */
        va_list ap;
        va_start(ap, fmt);
        fputc(':', stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}

/* " " __VA_ARGS__ makes the message optional: it is "" when absent. */
#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fer_check_report_(__FILE__, __LINE__, "CHECK(" #cond ")", " " __VA_ARGS__);         \
            FER_CHECK_FAILED_();                                                               \
        }                                                                                      \
    } while (0)

#define CHECK_NEAR(a, b, tol, ...)                                                             \
    do {                                                                                       \
        double fer_a_ = (double)(a), fer_b_ = (double)(b), fer_tol_ = (double)(tol);           \
        if (!(fabs(fer_a_ - fer_b_) <= fer_tol_)) {                                            \
            char fer_what_[512];                                                               \
            snprintf(fer_what_, sizeof fer_what_, "%s = %.17g, expected %s = %.17g (tol %g)",  \
                     #a, fer_a_, #b, fer_b_, fer_tol_);                                        \
            fer_check_report_(__FILE__, __LINE__, fer_what_, " " __VA_ARGS__);                  \
            FER_CHECK_FAILED_();                                                               \
        }                                                                                      \
    } while (0)

#ifdef FER_STATUS_H
#define OK(call)                                                                               \
    do {                                                                                       \
        fer_status fer_st_ = (call);                                                           \
        if (fer_st_ != FER_OK) {                                                               \
            fer_check_report_(__FILE__, __LINE__, #call, " %s (%s)", fer_last_error(),          \
                              fer_status_name(fer_st_));                                       \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)
#endif

/* Exit code for main: 0 after printing "name: ok", or 1 after counting the failed checks. */
static inline int fer_check_summary(const char *name)
{
    if (fer_check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, fer_check_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

/* Test data generator state; a test may set another start value before its first frand(). */
static uint64_t fer_rng_state FER_CHECK_UNUSED_ = 0x12345678u;
static inline float frand(void) /* [-1, 1) */
{
    fer_rng_state = fer_rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((fer_rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}
#endif
