/* The detector on real faces at chosen sizes: the astronaut's face (data/samples/astronaut.png,
 * recorded box 173,62 104x104) shrunk to S pixels and pasted at several places into a 640x480
 * gray frame, found
 *   - by one whole-frame pass (min_face_px 0): prints the smallest S found, the measurement
 *     behind NET_MIN_FACE in face_detector.c;
 *   - with min_face_px 24 (tiles): every S from 24 up, at every place, tile borders included,
 *     exactly once (IoU >= 0.4 with the pasted box, no second box).
 *   Usage: test_detector_real REPO_ROOT MODEL.fer [BACKEND]   (77 without MODEL.fer) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../evaluator/png_read.h"
#include "fer/face_detector.h"
#define FER_CHECK_CONTINUE
#include "../common/fer_check.h"

#define FW 640
#define FH 480
static const int face_box[4] = {173, 62, 104, 104};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Area-average shrink (or replicate when growing) of the crop [cx, cy, cs, cs] of src into a
 * ds x ds patch at (px, py) of the frame. */
static void paste(const test_image *src, int cx, int cy, int cs, uint8_t *frame, int px, int py,
                  int ds)
{
    double r = (double)cs / ds;
    for (int y = 0; y < ds; y++)
        for (int x = 0; x < ds; x++) {
            double a0 = x * r, a1 = (x + 1) * r, b0 = y * r, b1 = (y + 1) * r;
            double acc[3] = {0, 0, 0}, wsum = 0;
            for (int sy = (int)b0; sy < (int)ceil(b1) && sy < cs; sy++)
                for (int sx = (int)a0; sx < (int)ceil(a1) && sx < cs; sx++) {
                    double w = (fmin(sx + 1, a1) - fmax(sx, a0)) * (fmin(sy + 1, b1) - fmax(sy, b0));
                    const uint8_t *p = test_px(src, cx + sx, cy + sy);
                    for (int c = 0; c < 3; c++)
                        acc[c] += w * p[c];
                    wsum += w;
                }
            uint8_t *o = frame + ((size_t)(py + y) * FW + px + x) * 3;
            for (int c = 0; c < 3; c++)
                o[c] = (uint8_t)lround(acc[c] / wsum);
        }
}

/* Frame with the face at size s, its top-left at (fx, fy); *expect gets the face box. */
static void make_frame(const test_image *astro, int s, int fx, int fy, uint8_t *frame,
                       fer_face *expect)
{
    memset(frame, 128, (size_t)FW * FH * 3);
    /* crop twice the face box around it (clipped to the image) so hair and chin come along */
    int cs = 2 * face_box[2], cx = face_box[0] - face_box[2] / 2, cy = face_box[1] - face_box[3] / 2;
    if (cy < 0)
        cy = 0;
    int ds = 2 * s;
    int px = fx - (face_box[0] - cx) * s / face_box[2], py = fy - (face_box[1] - cy) * s / face_box[3];
    /* keep the patch inside the frame: place it, then report where the face really went */
    px = px < 0 ? 0 : px + ds > FW ? FW - ds : px;
    py = py < 0 ? 0 : py + ds > FH ? FH - ds : py;
    paste(astro, cx, cy, cs, frame, px, py, ds);
    *expect = (fer_face){.x = px + (float)(face_box[0] - cx) * s / face_box[2],
                         .y = py + (float)(face_box[1] - cy) * s / face_box[3],
                         .w = (float)s, .h = (float)s};
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_detector_real REPO_ROOT MODEL.fer [BACKEND]\n");
        return 2;
    }
    const char *backend = argc > 3 ? argv[3] : "cpu";
    if (access(argv[2], R_OK) != 0) {
        printf("SKIP: %s not found (make it with data/models/fetch.sh BUILD_DIR)\n", argv[2]);
        return 77;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data/samples/astronaut.png", argv[1]);
    test_image astro;
    if (!test_png_read(path, &astro)) {
        printf("SKIP: %s unreadable\n", path);
        return 77;
    }
    fer_face_detector *d;
    fer_status st = fer_face_detector_new(argv[2], backend, 1, &d);
    if (st == FER_ERR_NODEVICE || st == FER_ERR_UNSUPPORTED) {
        printf("SKIP: backend %s: %s\n", backend, fer_last_error());
        free(astro.rgb);
        return 77;
    }
    OK(st);
    uint8_t *frame = malloc((size_t)FW * FH * 3);
    static const int sizes[] = {16, 20, 24, 28, 32, 40, 48, 64, 96, 160, 220};
    /* places: corners, the middle, and where 640x480 tiles for 24 px faces overlap */
    static const int places[][2] = {{8, 8}, {300, 220}, {600, 440}, {280, 40}, {170, 250}};
    const int n_places = (int)(sizeof places / sizeof *places);
    printf("face px | whole-frame pass found | min_face_px 24 found (%d passes)\n",
           fer_face_detector_passes(d, FW, FH, 24));
    int smallest_whole = 0, n_whole = 0, n_tiled = 0;
    double ms_whole = 0.0, ms_tiled = 0.0;
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int s = sizes[si], found_whole = 0, found_tiles = 0, extra = 0;
        for (int p = 0; p < n_places; p++) {
            fer_face expect, faces[16];
            make_frame(&astro, s, places[p][0], places[p][1], frame, &expect);
            int n;
            double t0 = now_ms();
            OK(fer_face_detector_detect(d, frame, FW, FH, 3 * FW, FER_FACE_DEFAULT_MIN_SCORE,
                                        FER_FACE_DEFAULT_NMS_IOU, 0, faces, 16, &n));
            ms_whole += now_ms() - t0;
            n_whole++;
            for (int i = 0; i < n; i++)
                if (fer_face_iou(&faces[i], &expect) >= 0.4f) {
                    found_whole++;
                    break;
                }
            t0 = now_ms();
            OK(fer_face_detector_detect(d, frame, FW, FH, 3 * FW, FER_FACE_DEFAULT_MIN_SCORE,
                                        FER_FACE_DEFAULT_NMS_IOU, 24, faces, 16, &n));
            ms_tiled += now_ms() - t0;
            n_tiled++;
            int hits = 0;
            for (int i = 0; i < n; i++)
                hits += fer_face_iou(&faces[i], &expect) >= 0.4f;
            if (n != (hits >= 1)) /* what else was found, for the log */
                for (int i = 0; i < n; i++)
                    printf("  %d px at (%d,%d): box %.0f,%.0f %.0fx%.0f score %.3f\n", s,
                           places[p][0], places[p][1], faces[i].x, faces[i].y, faces[i].w,
                           faces[i].h, faces[i].score);
            found_tiles += hits >= 1;
            extra += n - (hits >= 1);
            if (s >= 24)
                CHECK(hits == 1 && n == 1, "%d px face at (%d,%d): %d matching boxes of %d", s,
                      places[p][0], places[p][1], hits, n);
        }
        if (!smallest_whole && found_whole == n_places)
            smallest_whole = s;
        printf("%7d | %d/%d | %d/%d, %d extra boxes\n", s, found_whole, n_places, found_tiles,
               n_places, extra);
    }
    printf("smallest face every place found by the whole-frame pass: %d px (%.1f network px)\n",
           smallest_whole, smallest_whole * 256.0 / FW);
    printf("%s, 1 thread, %dx%d: %.1f ms per frame whole-frame only, %.1f ms with min_face_px 24 "
           "(a loaded machine reads slower)\n", backend, FW, FH, ms_whole / n_whole,
           ms_tiled / n_tiled);
    free(frame);
    free(astro.rgb);
    fer_face_detector_free(d);
    return fer_check_summary("test_detector_real");
}
