/* Face-box tracking (gst-plugin/detect/face_track.h) on synthetic frames: a textured face-like
 * patch (skin ellipse, eyes, brows, nose, mouth, fine texture) moves by known offsets over a
 * textured background with fresh sensor noise on every frame. Checked:
 *   - the tracked box stays within 2 px of the truth over 7 frames (faces of 24, 64x72 and 120
 *     px; faces reaching out of the frame on the right and at the top left), while the box
 *     carried unchanged (no tracking) is off by more than 2 px on the same frames, so the check
 *     can fail;
 *   - a face that disappears is not found (score below min_score), one that is there scores
 *     high;
 *   - bad boxes, parameters and frame sizes are refused.
 * Also prints the cost of one update (a 100 px face in 640x480). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "face_track.h"

#include "../../common/fer_check.h"

#define TOL_PX 2.0 /* the brief: the tracked box within 2 px of the truth */

typedef struct scene {
    int w, h;
    unsigned char *bg;   /* static background */
    unsigned char *tex;  /* face texture, face-sized, moves with the face */
    int fw, fh;          /* face size */
} scene;

static int clamp255(float v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (int)lrintf(v);
}

/* Smooth random blobs: random values on a grid of cell pixels, bilinearly interpolated. */
static void smooth_noise(unsigned char *out, int w, int h, int cell, float lo, float hi)
{
    int gw = w / cell + 2, gh = h / cell + 2;
    float *g = malloc((size_t)gw * gh * sizeof *g);
    for (int i = 0; i < gw * gh; i++)
        g[i] = lo + (hi - lo) * 0.5f * (frand() + 1.0f);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float fx = (float)x / cell, fy = (float)y / cell;
            int ix = (int)fx, iy = (int)fy;
            float ax = fx - ix, ay = fy - iy;
            float v = (1 - ay) * ((1 - ax) * g[iy * gw + ix] + ax * g[iy * gw + ix + 1]) +
                      ay * ((1 - ax) * g[(iy + 1) * gw + ix] + ax * g[(iy + 1) * gw + ix + 1]);
            out[(size_t)y * w + x] = (unsigned char)clamp255(v);
        }
    }
    free(g);
}

static scene scene_new(int w, int h, int fw, int fh)
{
    scene s = {w, h, malloc((size_t)w * h), malloc((size_t)fw * fh), fw, fh};
    smooth_noise(s.bg, w, h, 9, 40, 210);
    smooth_noise(s.tex, fw, fh, 3, -25, 25);
    return s;
}

static void scene_free(scene *s)
{
    free(s->bg);
    free(s->tex);
}

static int in_ellipse(float x, float y, float cx, float cy, float rx, float ry)
{
    float dx = (x - cx) / rx, dy = (y - cy) / ry;
    return dx * dx + dy * dy <= 1.0f;
}

/* Face value at face pixel (u, v), or -1 outside the face ellipse (background shows). */
static float face_value(const scene *s, int u, int v)
{
    float W = (float)s->fw, H = (float)s->fh, x = u + 0.5f, y = v + 0.5f;
    if (!in_ellipse(x, y, W / 2, H / 2, W / 2, H / 2))
        return -1;
    float val = 175 + s->tex[v * s->fw + u];
    if (in_ellipse(x, y, 0.32f * W, 0.40f * H, 0.10f * W, 0.06f * H) ||
        in_ellipse(x, y, 0.68f * W, 0.40f * H, 0.10f * W, 0.06f * H))
        val = 45; /* eyes */
    else if (fabsf(y - 0.29f * H) < 0.03f * H + 0.5f &&
             (fabsf(x - 0.32f * W) < 0.12f * W || fabsf(x - 0.68f * W) < 0.12f * W))
        val = 70; /* brows */
    else if (fabsf(x - 0.5f * W) < 0.04f * W + 0.5f && y > 0.42f * H && y < 0.64f * H)
        val = 130; /* nose */
    else if (in_ellipse(x, y, 0.5f * W, 0.78f * H, 0.18f * W, 0.05f * H))
        val = 60; /* mouth */
    return val;
}

/* One frame: background, the face at (fx, fy) when present, sensor noise of +-noise. */
static void render(const scene *s, unsigned char *frame, int fx, int fy, int present,
                   float noise)
{
    for (int y = 0; y < s->h; y++) {
        for (int x = 0; x < s->w; x++) {
            float v = s->bg[(size_t)y * s->w + x];
            int u = x - fx, t = y - fy;
            if (present && u >= 0 && t >= 0 && u < s->fw && t < s->fh) {
                float f = face_value(s, u, t);
                if (f >= 0)
                    v = f;
            }
            frame[(size_t)y * s->w + x] = (unsigned char)clamp255(v + noise * frand());
        }
    }
}

/* Follows a face from (x0, y0) through 7 moves; returns the largest distance (max of |dx|, |dy|)
 * between the box and the truth, tracked or (track == 0) carried unchanged. */
static double follow(const scene *s, int x0, int y0, const int moves[7][2], int track,
                     const char *what)
{
    unsigned char *frame = malloc((size_t)s->w * s->h);
    fer_track *t = NULL;
    int fx = x0, fy = y0;
    float bx = (float)x0, by = (float)y0;
    double worst = 0;

    render(s, frame, fx, fy, 1, 10);
    OK(fer_track_new(frame, s->w, s->h, s->w, bx, by, (float)s->fw, (float)s->fh, NULL, &t));
    for (int k = 0; k < 7; k++) {
        fx += moves[k][0];
        fy += moves[k][1];
        render(s, frame, fx, fy, 1, 10);
        if (track) {
            fer_track_step st;
            OK(fer_track_update(t, frame, s->w, s->h, s->w, &st));
            CHECK(st.found, "%s frame %d: face lost (score %.3f)", what, k + 1,
                  (double)st.score);
            bx += st.dx;
            by += st.dy;
        }
        double err = fmax(fabs(bx - fx), fabs(by - fy));
        worst = fmax(worst, err);
    }
    fer_track_free(t);
    free(frame);
    return worst;
}

static void check_sequence(int w, int h, int fw, int fh, int x0, int y0, const int moves[7][2],
                           const char *what)
{
    scene s = scene_new(w, h, fw, fh);
    uint64_t seed = fer_rng_state;
    double tracked = follow(&s, x0, y0, moves, 1, what);
    fer_rng_state = seed; /* the same frames */
    double carried = follow(&s, x0, y0, moves, 0, what);
    CHECK(tracked <= TOL_PX, "%s: tracked box off by %.1f px (tolerance %.0f)", what, tracked,
          TOL_PX);
    CHECK(carried > TOL_PX, "%s: carried box only %.1f px off: the check cannot fail", what,
          carried);
    printf("ok  %s: tracked within %.0f px (carried: %.0f px off)\n", what, tracked, carried);
    scene_free(&s);
}

static void test_moves(void)
{
    static const int wander[7][2] = {{5, 3}, {7, -4}, {-6, 8}, {12, 2}, {-3, -10}, {8, 6},
                                     {-14, -2}};
    /* 64x72 face in the middle: b = 3, search +-16 x +-18 */
    check_sequence(320, 240, 64, 72, 110, 80, wander, "64x72 face wandering");
    /* 24 px face: b = 1 (template at full resolution), search +-6 */
    static const int small[7][2] = {{3, 1}, {-2, 4}, {5, -3}, {1, 1}, {-5, -2}, {4, 5},
                                    {-3, 2}};
    check_sequence(160, 120, 24, 24, 60, 40, small, "24 px face");
    /* 120 px face: b = 6, search +-30 */
    static const int large[7][2] = {{13, -7}, {-20, 9}, {25, 4}, {-4, -17}, {9, 22}, {-27, 3},
                                    {7, -5}};
    check_sequence(640, 480, 120, 120, 250, 170, large, "120 px face");
    /* leaving on the right: 60 px face ending with 35 px of it in the frame */
    static const int right[7][2] = {{5, 2}, {6, -1}, {4, 3}, {5, 0}, {5, -2}, {5, 3}, {5, 1}};
    check_sequence(320, 240, 60, 60, 250, 100, right, "60 px face leaving right");
    /* entering at the top left: starts 10 and 8 px out of the frame */
    static const int enter[7][2] = {{4, 5}, {6, 3}, {3, 6}, {5, 5}, {4, 2}, {6, 4}, {2, 3}};
    check_sequence(320, 240, 60, 60, -10, -8, enter, "60 px face entering top left");
}

/* A face that is gone must not be found; the same face present scores high. */
static void test_disappears(void)
{
    scene s = scene_new(320, 240, 64, 64);
    unsigned char *frame = malloc((size_t)s.w * s.h);
    fer_track *t = NULL;
    fer_track_params p;
    fer_track_step st;

    fer_track_params_default(&p);
    render(&s, frame, 120, 90, 1, 10);
    OK(fer_track_new(frame, s.w, s.h, s.w, 120, 90, 64, 64, NULL, &t));
    render(&s, frame, 124, 87, 1, 10);
    OK(fer_track_update(t, frame, s.w, s.h, s.w, &st));
    CHECK(st.found && st.score >= 0.8f && st.dx == 4 && st.dy == -3,
          "present face: found %d score %.3f move %g,%g (want 4,-3, score >= 0.8)", st.found,
          (double)st.score, (double)st.dx, (double)st.dy);
    printf("ok  present face: score %.3f\n", (double)st.score);
    for (int k = 0; k < 3; k++) {
        render(&s, frame, 0, 0, 0, 10);
        OK(fer_track_update(t, frame, s.w, s.h, s.w, &st));
        CHECK(!st.found && st.score < p.min_score && st.dx == 0 && st.dy == 0,
              "face gone (frame %d): found %d with score %.3f (min_score %.2f)", k, st.found,
              (double)st.score, (double)p.min_score);
    }
    printf("ok  face gone: not found (score %.3f < %.2f)\n", (double)st.score,
           (double)p.min_score);
    /* a flat frame correlates with nothing */
    memset(frame, 128, (size_t)s.w * s.h);
    OK(fer_track_update(t, frame, s.w, s.h, s.w, &st));
    CHECK(!st.found && st.score <= 0.0f, "flat frame: found %d score %.3f", st.found,
          (double)st.score);
    fer_track_free(t);
    free(frame);
    scene_free(&s);
}

static void test_bad_input(void)
{
    unsigned char frame[64 * 48];
    fer_track *t = (fer_track *)frame;
    fer_track_params p;
    fer_track_step st;

    memset(frame, 100, sizeof frame);
    CHECK(fer_track_new(frame, 64, 48, 64, 10, 10, 3, 20, NULL, &t) == FER_ERR_ARG && !t,
          "3 px wide box accepted");
    CHECK(fer_track_new(frame, 64, 48, 64, NAN, 10, 20, 20, NULL, &t) == FER_ERR_ARG,
          "NaN box accepted");
    CHECK(fer_track_new(frame, 64, 48, 63, 10, 10, 20, 20, NULL, &t) == FER_ERR_ARG,
          "stride < width accepted");
    fer_track_params_default(&p);
    p.template_width = 2;
    CHECK(fer_track_new(frame, 64, 48, 64, 10, 10, 20, 20, &p, &t) == FER_ERR_ARG,
          "template_width 2 accepted");
    /* a box entirely outside the frame: allowed, never found */
    OK(fer_track_new(frame, 64, 48, 64, 200, 200, 20, 20, NULL, &t));
    OK(fer_track_update(t, frame, 64, 48, 64, &st));
    CHECK(!st.found, "a box outside the frame was found");
    CHECK(fer_track_update(t, frame, 48, 32, 64, &st) == FER_ERR_ARG, "frame size change accepted");
    fer_track_free(t);
    fer_track_free(NULL);
    printf("ok  bad input refused\n");
}

/* Cost of one update for a 100 px face in 640x480 (informative; the CNN's detection costs
 * ~11 ms per whole-frame pass, ~70 ms with its 24 px tiles, on one core). */
static void time_update(void)
{
    scene s = scene_new(640, 480, 100, 100);
    unsigned char *first = malloc((size_t)s.w * s.h), *second = malloc((size_t)s.w * s.h);
    fer_track *t = NULL;
    fer_track_step st;
    const int reps = 50;
    double ns = 0;

    render(&s, first, 270, 190, 1, 10);
    render(&s, second, 280, 185, 1, 10);
    for (int k = 0; k < reps; k++) {
        struct timespec a, b;
        OK(fer_track_new(first, s.w, s.h, s.w, 270, 190, 100, 100, NULL, &t));
        clock_gettime(CLOCK_MONOTONIC, &a);
        OK(fer_track_update(t, second, s.w, s.h, s.w, &st));
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns += (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
        CHECK(st.found && st.dx == 10 && st.dy == -5, "timed update: moved %g,%g", (double)st.dx,
              (double)st.dy);
        fer_track_free(t);
    }
    printf("    one update (100 px face in 640x480, search +-25 px): %.0f us\n", ns / 1e3 / reps);
    free(first);
    free(second);
    scene_free(&s);
}

int main(void)
{
    test_moves();
    test_disappears();
    test_bad_input();
    time_update();
    printf("test_face_track: ok\n");
    return 0;
}
