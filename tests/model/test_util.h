/* Minimal test helpers: CHECK(cond, fmt, ...) records a failure and continues; the test's
 * main returns test_result(). */
#ifndef FER_TEST_UTIL_H
#define FER_TEST_UTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/status.h"

static int test_failures = 0;

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

/* Calls a fer_status expression; on failure prints the library message and aborts the test. */
#define OK(expr)                                                                               \
    do {                                                                                       \
        fer_status st_ = (expr);                                                               \
        if (st_ != FER_OK) {                                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #expr,          \
                    fer_last_error(), fer_status_name(st_));                                   \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define CHECK_CLOSE(a, b, tol, what)                                                           \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", (what),      \
          (double)(a), (double)(b), (double)(tol))

static int test_result(const char *name)
{
    if (test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}
#endif
