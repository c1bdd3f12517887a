/* Core utilities: status messages, CRC-32/CRC-32C check values, the thread pool, and the
 * backend registry ("auto" note, "cuda" without a device or without the build). */
#include <string.h>
#include <stdatomic.h>

#include "fer/backend.h"
#include "fer/crc.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

static atomic_long total;
static atomic_int seen[4];
enum { MAX_TASKS = 5000 };
static atomic_int runs_of[MAX_TASKS]; /* how often each task index ran */

static void task(void *ctx, int t, int worker)
{
    (void)ctx;
    atomic_fetch_add(&total, t);
    if (worker >= 0 && worker < 4)
        atomic_fetch_add(&seen[worker], 1);
    if (t >= 0 && t < MAX_TASKS)
        atomic_fetch_add(&runs_of[t], 1);
}

/* every index in [0, n) exactly once, whatever runs of indices the threads claim */
static void check_each_task_once(fer_threadpool *p, int n, int threads)
{
    for (int t = 0; t < MAX_TASKS; t++)
        atomic_store(&runs_of[t], 0);
    fer_threadpool_run(p, n, task, NULL);
    int bad = 0;
    for (int t = 0; t < MAX_TASKS; t++)
        bad += atomic_load(&runs_of[t]) != (t < n);
    CHECK(bad == 0, "%d tasks on %d threads: %d indices ran other than once", n, threads, bad);
}

int main(void)
{
    /* status */
    CHECK(fer_fail(FER_ERR_FORMAT, "%s: bad %d", "x.fer", 3) == FER_ERR_FORMAT, "fail");
    CHECK(strcmp(fer_last_error(), "x.fer: bad 3") == 0, "message");
    fer_clear_error();
    CHECK(fer_last_error()[0] == 0, "cleared");
    CHECK(strcmp(fer_status_name(FER_ERR_NODEVICE), "no device") == 0, "name");

    /* CRC check values ("123456789") */
    CHECK(fer_crc32(0, "123456789", 9) == 0xCBF43926u, "crc32 %08x", fer_crc32(0, "123456789", 9));
    CHECK(fer_crc32c(0, "123456789", 9) == 0xE3069283u, "crc32c");
    uint32_t inc = fer_crc32(fer_crc32(0, "1234", 4), "56789", 5);
    CHECK(inc == 0xCBF43926u, "incremental crc32");
    uint32_t c = fer_crc32c(0, "123456789", 9);
    CHECK(fer_crc32c_masked("123456789", 9) == ((c >> 15) | (c << 17)) + 0xa282ead8u, "masked");

    /* thread pool */
    for (int threads = 1; threads <= 4; threads++) {
        fer_threadpool *p;
        OK(fer_threadpool_new(threads, &p));
        CHECK(fer_threadpool_size(p) == threads, "size");
        for (int rep = 0; rep < 50; rep++) {
            atomic_store(&total, 0);
            fer_threadpool_run(p, 1000, task, NULL);
            CHECK(atomic_load(&total) == 999L * 1000 / 2, "sum with %d threads", threads);
        }
        /* sizes around the claim granularity (32 claims a thread) and a partial last run */
        const int sizes[] = {1, 2, 63, 64, 65, 127, 128, 129, 1000, 4097, MAX_TASKS};
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++)
            check_each_task_once(p, sizes[k], threads);
        fer_threadpool_run(p, 0, task, NULL);
        fer_threadpool_free(p);
    }

    /* backends */
    fer_backend *b;
    OK(fer_backend_new("ref", 2, &b));
    CHECK(strcmp(fer_backend_name(b), "ref") == 0 && b->threads == 2, "ref");
    CHECK(fer_threadpool_size(fer_backend_threadpool(b)) == 2, "pool");
    CHECK(fer_backend_set_precision(b, FER_PREC_FP32) == FER_OK, "fp32");
    CHECK(fer_backend_set_precision(b, FER_PREC_BF16) == FER_ERR_UNSUPPORTED, "bf16 on ref");
    fer_backend_free(b);
    OK(fer_backend_new("cpu", 1, &b));
    CHECK(strcmp(fer_backend_name(b), "cpu") == 0, "cpu");
    fer_backend_free(b);
    OK(fer_backend_new("auto", 1, &b));
    if (fer_cuda_device_count() == 0)
        CHECK(strcmp(fer_backend_name(b), "cpu") == 0 && fer_backend_note(b)[0] != 0,
              "auto without a GPU picks cpu with a note (%s)", fer_backend_note(b));
    fer_backend_free(b);
    fer_status st = fer_backend_new("cuda", 1, &b);
    if (fer_cuda_device_count() == 0) {
        CHECK((st == FER_ERR_UNSUPPORTED || st == FER_ERR_NODEVICE) && b == NULL &&
                  strstr(fer_last_error(), "cuda"),
              "cuda without a device: %s (%s)", fer_status_name(st), fer_last_error());
    } else {
        OK(st);
        fer_backend_free(b);
    }
    CHECK(fer_backend_new("tpu", 1, &b) == FER_ERR_ARG && strstr(fer_last_error(), "tpu"),
          "unknown backend");
    const char *const *names = fer_backend_list();
    CHECK(strcmp(names[0], "ref") == 0 && strcmp(names[1], "cpu") == 0, "list");
    return fer_check_summary("test_core");
}
