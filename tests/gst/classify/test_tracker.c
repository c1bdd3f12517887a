/* tracker.c: IoU, stable ids over a sequence, track expiry, EMA smoothing math. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

#include "../../common/fer_check.h"

static void
test_iou (void)
{
  FerBox a = { 0, 0, 10, 10 }, b = { 5, 0, 10, 10 }, c = { 20, 20, 5, 5 };
  CHECK (fabsf (fer_box_iou (&a, &a) - 1.0f) < 1e-6f, "self IoU");
  CHECK (fabsf (fer_box_iou (&a, &b) - 50.0f / 150.0f) < 1e-6f, "half overlap IoU %f",
      fer_box_iou (&a, &b));
  CHECK (fer_box_iou (&a, &c) == 0.0f, "disjoint IoU");
}

/* Two faces walk towards each other for 60 frames (boxes overlap slightly near the middle),
 * the detector misses face B on a few frames: ids must never change. */
static void
test_stable_ids (void)
{
  FerTracker *t = fer_tracker_new (7);
  gint first[2] = { 0, 0 };

  for (gint f = 0; f < 60; f++) {
    FerBox a = { 20 + 2 * f, 50, 80, 80 }, b = { 400 - 2 * f, 60, 80, 80 };
    FerBox boxes[2];
    gint face[2], ids[2] = { -1, -1 }, n = 0;
    gboolean miss_b = (f % 17) == 5;
    /* the detector's order varies from frame to frame */
    if (f % 2 == 0) {
      boxes[n] = a;
      face[n++] = 0;
    }
    if (!miss_b) {
      boxes[n] = b;
      face[n++] = 1;
    }
    if (f % 2 == 1) {
      boxes[n] = a;
      face[n++] = 0;
    }
    fer_tracker_update (t, boxes, n, NULL, ids);
    for (gint i = 0; i < n; i++) {
      if (!first[face[i]])
        first[face[i]] = ids[i];
      CHECK (ids[i] == first[face[i]], "frame %d: face %d got id %d, expected %d", f,
          face[i], ids[i], first[face[i]]);
    }
  }
  CHECK (first[0] != first[1] && first[0] > 0 && first[1] > 0, "ids %d %d", first[0],
      first[1]);
  fer_tracker_free (t);
}

static void
test_expiry_and_new_ids (void)
{
  FerTracker *t = fer_tracker_new (7);
  FerTrackerConfig cfg;
  FerBox a = { 10, 10, 50, 50 }, far = { 300, 300, 50, 50 };
  gint id, id2, id3;

  fer_tracker_default_config (&cfg);
  cfg.max_missed = 3;
  fer_tracker_configure (t, &cfg);
  fer_tracker_update (t, &a, 1, NULL, &id);
  /* absent for max_missed frames: the track survives */
  for (gint i = 0; i < 3; i++)
    fer_tracker_update (t, NULL, 0, NULL, NULL);
  fer_tracker_update (t, &a, 1, NULL, &id2);
  CHECK (id2 == id, "track lost after a short gap (%d vs %d)", id2, id);
  /* absent for longer: forgotten, the face comes back with a new id */
  for (gint i = 0; i < 4; i++)
    fer_tracker_update (t, NULL, 0, NULL, NULL);
  CHECK (fer_tracker_n_tracks (t) == 0, "%d tracks left", fer_tracker_n_tracks (t));
  fer_tracker_update (t, &a, 1, NULL, &id3);
  CHECK (id3 > id2, "expired track id reused: %d", id3);
  /* a box far away is a new face */
  fer_tracker_update (t, &far, 1, NULL, &id);
  CHECK (id != id3, "distant box continued track %d", id3);
  /* reset restarts ids */
  fer_tracker_reset (t);
  fer_tracker_update (t, &a, 1, NULL, &id);
  CHECK (id == 1, "first id after reset is %d", id);
  fer_tracker_free (t);
}

static void
test_ema (void)
{
  FerTracker *t = fer_tracker_new (2);
  FerTrackerConfig cfg;
  FerBox a = { 10, 10, 50, 50 };
  gfloat p[2];
  gint id;

  fer_tracker_default_config (&cfg);
  cfg.smoothing = FER_SMOOTHING_EMA;
  cfg.alpha = 0.25f;
  fer_tracker_configure (t, &cfg);
  p[0] = 1.0f;
  p[1] = 0.0f;
  fer_tracker_update (t, &a, 1, p, &id);
  CHECK (p[0] == 1.0f && p[1] == 0.0f, "first frame of a track is not smoothed");
  gfloat expect = 1.0f;
  for (gint f = 0; f < 5; f++) {
    p[0] = 0.0f;
    p[1] = 1.0f;
    fer_tracker_update (t, &a, 1, p, &id);
    expect = 0.75f * expect;
    CHECK (fabsf (p[0] - expect) < 1e-6f && fabsf (p[1] - (1.0f - expect)) < 1e-6f,
        "frame %d: EMA gave %f %f, expected %f", f, p[0], p[1], expect);
  }
  cfg.smoothing = FER_SMOOTHING_NONE;
  fer_tracker_configure (t, &cfg);
  p[0] = 0.3f;
  p[1] = 0.7f;
  fer_tracker_update (t, &a, 1, p, &id);
  CHECK (p[0] == 0.3f && p[1] == 0.7f, "smoothing none changed probabilities");
  fer_tracker_free (t);
}

/* due/observe/current: a new track is due at once, then every `every` frames. */
static void
test_due (void)
{
  FerTracker *t = fer_tracker_new (2);
  FerBox a = { 10, 10, 50, 50 };
  const gfloat fresh[2] = { 0.25f, 0.75f };
  gfloat out[2];
  gint id;

  fer_tracker_match (t, &a, 1, &id);
  CHECK (fer_tracker_due (t, id, 3), "new track not due");
  CHECK (!fer_tracker_current (t, id, out), "new track has probabilities");
  fer_tracker_observe (t, id, fresh, out);
  CHECK (out[0] == 0.25f && out[1] == 0.75f, "first observation");
  for (gint f = 1; f <= 6; f++) {
    fer_tracker_match (t, &a, 1, &id);
    gboolean due = fer_tracker_due (t, id, 3);
    CHECK (due == (f % 3 == 0), "frame %d: due %d", f, due);
    if (due)
      fer_tracker_observe (t, id, fresh, out);
    else
      CHECK (fer_tracker_current (t, id, out) && out[1] == 0.75f, "frame %d: carried", f);
    CHECK (fer_tracker_due (t, id, 1), "every=1 is always due");
  }
  fer_tracker_free (t);
}

int
main (void)
{
  test_iou ();
  test_stable_ids ();
  test_expiry_and_new_ids ();
  test_ema ();
  test_due ();
  printf ("tracker: ok\n");
  return 0;
}
