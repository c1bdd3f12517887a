/* Cheap face-box tracking between two detections (ferfacedetect track=true).
 *
 * At a detection the box's luma is reduced to a small template: blocks of b x b pixels averaged,
 * b chosen so that the template is about template_width blocks wide. On a later frame the same
 * blocks are sampled around the previous position (an integral image of the search area) and
 * compared with the template by zero-mean normalised cross-correlation (NCC): a coarse search
 * every b pixels within +-search * box side, then refined to one pixel. The box moves by the
 * best offset, its size kept; below min_score the face counts as lost and the box stays.
 * Blocks outside the frame are left out of the correlation, so a face can leave the frame by
 * up to half the template.
 *
 * Plain C on an 8-bit gray buffer: no GLib or GStreamer (tests/gst/detect/test_face_track.c). */
#ifndef FER_FACE_TRACK_H
#define FER_FACE_TRACK_H

#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_track_params {
    int template_width; /* blocks across the box (default 20) */
    float search;       /* search radius, fraction of the box side (default 0.25) */
    float min_score;    /* best NCC below this: lost (default 0.5) */
} fer_track_params;

void fer_track_params_default(fer_track_params *p);

/* Result of one fer_track_update. */
typedef struct fer_track_step {
    int found;   /* 1: the face was found (score >= min_score) and the box moved by dx, dy */
    float dx, dy; /* move since the previous frame, frame pixels (0 when not found) */
    float score; /* best NCC, -1..1 (-1 when no candidate had enough blocks in the frame) */
} fer_track_step;

typedef struct fer_track fer_track;

/* Template of the box x, y, w, h (frame pixels; w, h >= 4; it may reach outside the frame) in
 * gray (width x height, rows stride bytes apart). params NULL: the defaults. FER_ERR_ARG for a
 * bad box or frame, FER_ERR_NOMEM. */
fer_status fer_track_new(const unsigned char *gray, int width, int height, int stride, float x,
                         float y, float w, float h, const fer_track_params *params,
                         fer_track **out);
/* Finds the box in the next frame (same size as the one of fer_track_new) near its last
 * position. */
fer_status fer_track_update(fer_track *t, const unsigned char *gray, int width, int height,
                            int stride, fer_track_step *step);
void fer_track_free(fer_track *t);

#ifdef __cplusplus
}
#endif
#endif
