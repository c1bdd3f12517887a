/* Minimal assertions for the evaluator tests: print the failing expression and exit 1. */
#ifndef FER_TEST_CHECK_H
#define FER_TEST_CHECK_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                 \
    do {                                                                                      \
        double a_ = (double)(a), b_ = (double)(b);                                            \
        if (!(fabs(a_ - b_) <= (tol))) {                                                      \
            fprintf(stderr, "%s:%d: %s = %.17g, expected %s = %.17g (tol %g)\n", __FILE__,    \
                    __LINE__, #a, a_, #b, b_, (double)(tol));                                 \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

#define CHECK_OK(expr)                                                                        \
    do {                                                                                      \
        fer_status st_ = (expr);                                                              \
        if (st_ != FER_OK) {                                                                  \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,             \
                    fer_last_error());                                                        \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

#endif
