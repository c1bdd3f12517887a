#include "tracker.h"

#include <stdlib.h>
#include <string.h>

typedef struct FerTrack {
  gint id;
  FerBox box;
  gint missed;     /* consecutive frames without a matching box */
  gint since_classified;  /* frames since the last observe; -1: never classified */
  gfloat *probs;   /* smoothed, n_classes */
} FerTrack;

struct FerTracker {
  gint n_classes;
  FerTrackerConfig cfg;
  GArray *tracks;  /* FerTrack */
  gint next_id;
};

typedef struct Candidate {
  gfloat iou;
  gint track, box;
} Candidate;

void
fer_tracker_default_config (FerTrackerConfig * cfg)
{
  cfg->iou_threshold = 0.3f;
  cfg->max_missed = 10;
  cfg->smoothing = FER_SMOOTHING_EMA;
  cfg->alpha = 0.4f;
}

static void
track_clear (gpointer p)
{
  FerTrack *tr = p;
  g_free (tr->probs);
  tr->probs = NULL;
}

FerTracker *
fer_tracker_new (gint n_classes)
{
  FerTracker *t = g_new0 (FerTracker, 1);
  t->n_classes = n_classes;
  fer_tracker_default_config (&t->cfg);
  t->tracks = g_array_new (FALSE, TRUE, sizeof (FerTrack));
  g_array_set_clear_func (t->tracks, track_clear);
  t->next_id = 1;
  return t;
}

void
fer_tracker_free (FerTracker * t)
{
  if (!t)
    return;
  g_array_unref (t->tracks);
  g_free (t);
}

void
fer_tracker_clear (FerTracker * t)
{
  g_array_set_size (t->tracks, 0);
}

void
fer_tracker_reset (FerTracker * t)
{
  fer_tracker_clear (t);
  t->next_id = 1;
}

void
fer_tracker_configure (FerTracker * t, const FerTrackerConfig * cfg)
{
  t->cfg = *cfg;
  t->cfg.alpha = CLAMP (cfg->alpha, 1e-3f, 1.0f);
}

gint
fer_tracker_n_tracks (const FerTracker * t)
{
  return (gint) t->tracks->len;
}

gfloat
fer_box_iou (const FerBox * a, const FerBox * b)
{
  gint x0 = MAX (a->x, b->x), y0 = MAX (a->y, b->y);
  gint x1 = MIN (a->x + a->w, b->x + b->w), y1 = MIN (a->y + a->h, b->y + b->h);
  gdouble inter, uni;

  if (x1 <= x0 || y1 <= y0)
    return 0.0f;
  inter = (gdouble) (x1 - x0) * (y1 - y0);
  uni = (gdouble) a->w * a->h + (gdouble) b->w * b->h - inter;
  return uni > 0 ? (gfloat) (inter / uni) : 0.0f;
}

static int
candidate_cmp (const void *pa, const void *pb)
{
  const Candidate *a = pa, *b = pb;
  if (a->iou != b->iou)
    return a->iou < b->iou ? 1 : -1;
  /* ties: older tracks (lower index) and earlier boxes first, for determinism */
  if (a->track != b->track)
    return a->track - b->track;
  return a->box - b->box;
}

static FerTrack *
find_track (const FerTracker * t, gint id)
{
  for (guint i = 0; i < t->tracks->len; i++) {
    FerTrack *tr = &g_array_index (t->tracks, FerTrack, i);
    if (tr->id == id)
      return tr;
  }
  return NULL;
}

void
fer_tracker_match (FerTracker * t, const FerBox * boxes, gint n, gint * ids)
{
  gint n_tracks = (gint) t->tracks->len, n_cand = 0, i, j;
  Candidate *cand = NULL;
  gboolean *track_used = g_new0 (gboolean, n_tracks + 1);
  gint *box_track = g_new (gint, n + 1);

  for (j = 0; j < n; j++)
    box_track[j] = -1;

  if (n > 0 && n_tracks > 0) {
    cand = g_new (Candidate, (gsize) n * n_tracks);
    for (i = 0; i < n_tracks; i++) {
      const FerTrack *tr = &g_array_index (t->tracks, FerTrack, i);
      for (j = 0; j < n; j++) {
        gfloat iou = fer_box_iou (&tr->box, &boxes[j]);
        if (iou >= t->cfg.iou_threshold && iou > 0.0f) {
          cand[n_cand].iou = iou;
          cand[n_cand].track = i;
          cand[n_cand].box = j;
          n_cand++;
        }
      }
    }
    qsort (cand, n_cand, sizeof (Candidate), candidate_cmp);
    for (i = 0; i < n_cand; i++) {
      if (track_used[cand[i].track] || box_track[cand[i].box] >= 0)
        continue;
      track_used[cand[i].track] = TRUE;
      box_track[cand[i].box] = cand[i].track;
    }
  }

  /* age every existing track; matched ones are refreshed below */
  for (i = 0; i < n_tracks; i++) {
    FerTrack *tr = &g_array_index (t->tracks, FerTrack, i);
    if (!track_used[i])
      tr->missed++;
    if (tr->since_classified >= 0)
      tr->since_classified++;
  }

  for (j = 0; j < n; j++) {
    FerTrack *tr;
    if (box_track[j] >= 0) {
      tr = &g_array_index (t->tracks, FerTrack, box_track[j]);
    } else {
      FerTrack nt = { 0 };
      nt.id = t->next_id++;
      nt.since_classified = -1;
      nt.probs = g_new0 (gfloat, t->n_classes);
      g_array_append_val (t->tracks, nt);
      tr = &g_array_index (t->tracks, FerTrack, t->tracks->len - 1);
    }
    tr->box = boxes[j];
    tr->missed = 0;
    ids[j] = tr->id;
  }

  /* forget tracks unmatched for too long (this frame's boxes all have live tracks) */
  for (i = (gint) t->tracks->len - 1; i >= 0; i--)
    if (g_array_index (t->tracks, FerTrack, i).missed > t->cfg.max_missed)
      g_array_remove_index (t->tracks, i);

  g_free (cand);
  g_free (track_used);
  g_free (box_track);
}

gint
fer_tracker_staleness (const FerTracker * t, gint id)
{
  const FerTrack *tr = find_track (t, id);
  return tr ? tr->since_classified : -1;
}

gboolean
fer_tracker_due (const FerTracker * t, gint id, gint every)
{
  gint s = fer_tracker_staleness (t, id);
  return s < 0 || every <= 1 || s >= every;
}

void
fer_tracker_observe (FerTracker * t, gint id, const gfloat * fresh, gfloat * out)
{
  FerTrack *tr = find_track (t, id);
  gint c, k = t->n_classes;

  if (!tr) {
    memmove (out, fresh, sizeof (gfloat) * k);
    return;
  }
  if (tr->since_classified < 0 || t->cfg.smoothing == FER_SMOOTHING_NONE) {
    memcpy (tr->probs, fresh, sizeof (gfloat) * k);
  } else {
    for (c = 0; c < k; c++)
      tr->probs[c] = t->cfg.alpha * fresh[c] + (1.0f - t->cfg.alpha) * tr->probs[c];
  }
  tr->since_classified = 0;
  memmove (out, tr->probs, sizeof (gfloat) * k);
}

gboolean
fer_tracker_current (const FerTracker * t, gint id, gfloat * out)
{
  const FerTrack *tr = find_track (t, id);

  if (!tr || tr->since_classified < 0)
    return FALSE;
  memcpy (out, tr->probs, sizeof (gfloat) * t->n_classes);
  return TRUE;
}

void
fer_tracker_update (FerTracker * t, const FerBox * boxes, gint n, gfloat * probs, gint * ids)
{
  fer_tracker_match (t, boxes, n, ids);
  if (probs)
    for (gint j = 0; j < n; j++)
      fer_tracker_observe (t, ids[j], probs + (gsize) j * t->n_classes,
          probs + (gsize) j * t->n_classes);
}
