/* Milliseconds per frame of the CNN face detector (docs/results/detector_choice.md).
 *
 *   bench_detector MODEL.fer IMAGE.png [MIN_FACE_PX [ROUNDS [BACKEND [THREADS]]]]
 *
 * Scales IMAGE.png to 640x480 (nearest pixel), then times fer_face_detector_detect on it
 * ROUNDS times (default 30, after 3 untimed) with MIN_FACE_PX (default 24, ferfacedetect's
 * min-size default; 0: one whole-frame pass), on BACKEND (default cpu) with THREADS (default
 * 1). Prints the passes per frame, the median and the fastest time, and the faces found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../evaluator/png_read.h"
#include "fer/face_detector.h"

#define W 640
#define H 480

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_detector MODEL.fer IMAGE.png [MIN_FACE_PX [ROUNDS "
                        "[BACKEND [THREADS]]]]\n");
        return 2;
    }
    int min_face = argc > 3 ? atoi(argv[3]) : 24, rounds = argc > 4 ? atoi(argv[4]) : 30;
    const char *backend = argc > 5 ? argv[5] : "cpu";
    int threads = argc > 6 ? atoi(argv[6]) : 1;
    if (rounds < 1 || rounds > 10000 || min_face < 0 || threads < 0) {
        fprintf(stderr, "bench_detector: ROUNDS 1..10000, MIN_FACE_PX and THREADS >= 0\n");
        return 2;
    }
    test_image im = {0, 0, NULL};
    if (!test_png_read(argv[2], &im)) {
        fprintf(stderr, "bench_detector: %s: cannot read the PNG\n", argv[2]);
        return 1;
    }
    uint8_t *frame = malloc((size_t)W * H * 3);
    double *ms = malloc((size_t)rounds * sizeof *ms);
    if (!frame || !ms) {
        fprintf(stderr, "bench_detector: out of memory\n");
        return 1;
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memcpy(frame + ((size_t)y * W + x) * 3,
                   im.rgb + ((size_t)(y * im.h / H) * im.w + (size_t)(x * im.w / W)) * 3, 3);
    fer_face_detector *d;
    if (fer_face_detector_new(argv[1], backend, threads, &d) != FER_OK) {
        fprintf(stderr, "bench_detector: %s\n", fer_last_error());
        return 1;
    }
    fer_face faces[64];
    int n = 0;
    for (int r = -3; r < rounds; r++) {
        double t0 = now_ms();
        if (fer_face_detector_detect(d, frame, W, H, 3 * W, 0.5f, 0.4f, min_face, faces, 64,
                                     &n) != FER_OK) {
            fprintf(stderr, "bench_detector: %s\n", fer_last_error());
            return 1;
        }
        if (r >= 0)
            ms[r] = now_ms() - t0;
    }
    qsort(ms, (size_t)rounds, sizeof *ms, cmp_double);
    printf("%s: %dx%d frame, input %d, %d pass(es) (min face %d px), %s, %d thread(s): median "
           "%.1f ms, fastest %.1f ms over %d rounds; %d faces at score >= 0.5\n",
           argv[1], W, H, fer_face_detector_input_size(d),
           fer_face_detector_passes(d, W, H, min_face), min_face,
           fer_face_detector_backend_name(d),
           threads, ms[rounds / 2], ms[0], rounds, n);
    fer_face_detector_free(d);
    free(frame);
    free(ms);
    free(im.rgb);
    return 0;
}
