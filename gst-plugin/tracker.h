/* Face tracks across frames for ferclassify: greedy IoU matching of this frame's boxes to the
 * live tracks gives each face a stable id, and each track smooths its class probabilities
 * (exponential moving average) so labels do not flicker from frame to frame. */
#ifndef FER_TRACKER_H
#define FER_TRACKER_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct FerBox {
  gint x, y, w, h;
} FerBox;

typedef enum {
  FER_SMOOTHING_NONE = 0,
  FER_SMOOTHING_EMA = 1,
} FerSmoothing;

typedef struct FerTrackerConfig {
  gfloat iou_threshold;   /* a box continues a track when IoU >= this (0.3) */
  gint max_missed;        /* frames a track survives unmatched (detector gaps) */
  FerSmoothing smoothing;
  gfloat alpha;           /* EMA weight of the newest frame, 0 < alpha <= 1 */
} FerTrackerConfig;

typedef struct FerTracker FerTracker;

FerTracker *fer_tracker_new (gint n_classes);
void fer_tracker_free (FerTracker * t);
/* Forgets all tracks; ids keep increasing so they stay unique within the stream. */
void fer_tracker_clear (FerTracker * t);
/* Forgets tracks and restarts ids at 1 (new stream). */
void fer_tracker_reset (FerTracker * t);
void fer_tracker_configure (FerTracker * t, const FerTrackerConfig * cfg);
void fer_tracker_default_config (FerTrackerConfig * cfg);

/* One frame, step 1: matches boxes[n] to the live tracks (a new track for each unmatched box),
 * writes each box's track id to ids[n], ages unmatched tracks and forgets those unmatched for
 * more than max_missed frames. Each track takes at most one box. */
void fer_tracker_match (FerTracker * t, const FerBox * boxes, gint n, gint * ids);
/* Frames since track id was last classified; -1 when it never was (or is unknown). */
gint fer_tracker_staleness (const FerTracker * t, gint id);
/* TRUE when track id has no probabilities yet or was last classified `every` or more frames
 * ago (every <= 1: always). */
gboolean fer_tracker_due (const FerTracker * t, gint id, gint every);
/* Step 2 for a classified face: feeds its fresh probabilities (n_classes) to track id and
 * writes the track's smoothed probabilities to out (may alias fresh). */
void fer_tracker_observe (FerTracker * t, gint id, const gfloat * fresh, gfloat * out);
/* Step 2 for a face not classified this frame: the track's current smoothed probabilities.
 * FALSE when the track has none. */
gboolean fer_tracker_current (const FerTracker * t, gint id, gfloat * out);

/* Both steps for every box: match, then observe probs[n * n_classes] (smoothed in place;
 * probs may be NULL to only track). */
void fer_tracker_update (FerTracker * t, const FerBox * boxes, gint n, gfloat * probs,
    gint * ids);
gint fer_tracker_n_tracks (const FerTracker * t);

gfloat fer_box_iou (const FerBox * a, const FerBox * b);

G_END_DECLS

#endif
