/* Checks shared by the tests: CHECK(cond, fmt, ...) prints "FAIL file:line: message".
 * By default a failed check ends the test (exit 1); a test that defines FER_CHECK_CONTINUE
 * before the include counts failures instead and returns fer_check_summary() from main.
 * OK(call) checks a fer_status call and shows fer_last_error() (include fer/status.h first).
 * frand() is a deterministic LCG in [-1, 1) so fixtures are the same on every run. */
#ifndef FER_TEST_CHECK_H
#define FER_TEST_CHECK_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__GNUC__)
#define FER_CHECK_UNUSED_ __attribute__((unused))
#else
#define FER_CHECK_UNUSED_
#endif

static int fer_check_failures FER_CHECK_UNUSED_;

#ifdef FER_CHECK_CONTINUE
#define FER_CHECK_FAILED_() fer_check_failures++
#else
#define FER_CHECK_FAILED_() exit(1)
#endif

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fprintf(stderr, "\n");                                                             \
            FER_CHECK_FAILED_();                                                               \
        }                                                                                      \
    } while (0)

#ifdef FER_STATUS_H
#define OK(call) CHECK((call) == FER_OK, "%s: %s", #call, fer_last_error())
#endif

/* Exit code for main: 0, or 1 after printing how many checks failed. */
static inline int fer_check_summary(void)
{
    if (fer_check_failures) {
        printf("%d check(s) failed\n", fer_check_failures);
        return 1;
    }
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
