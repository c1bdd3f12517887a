/* ferclassify's per-frame results: the face record, its JSON Lines form, and a writer that keeps
 * disk I/O off the streaming thread (lines go through a queue to a writer thread that appends
 * to a fresh LOCATION.XXXXXX.tmp; finishing flushes, syncs and renames it to LOCATION). */
#ifndef FER_CLASSIFY_RESULTS_H
#define FER_CLASSIFY_RESULTS_H

#include <glib.h>
#include "tracker.h"

G_BEGIN_DECLS

#define FER_RESULTS_MAX_CLASSES 16

typedef struct FerFaceResult {
  gint track_id;
  FerBox box;
  const gchar *label;   /* class name or FER_LABEL_UNCERTAIN; not owned */
  gfloat confidence;    /* top (smoothed) probability */
  gfloat probs[FER_RESULTS_MAX_CLASSES];
} FerFaceResult;

/* Appends one JSON object (no newline):
 * {"frame":N,"pts_ns":T|null,"faces":[{"track_id":..,"box":[x,y,w,h],"label":"..",
 *  "confidence":c,"probabilities":{"angry":p,...}}]} */
void fer_results_append_json (GString * out, guint64 frame, gint64 pts_ns,
    const FerFaceResult * faces, gint n_faces, const gchar * const *class_names,
    gint n_classes);

typedef struct FerResultsWriter FerResultsWriter;

/* Creates a fresh LOCATION.XXXXXX.tmp (fer_atomic_open: O_CREAT|O_EXCL|O_NOFOLLOW, so a file or
 * symlink planted there is never followed) and starts the writer thread; stale
 * LOCATION.XXXXXX.tmp files of a killed run are removed first. A LOCATION that exists and is a
 * device or FIFO (e.g. /dev/stdout) is written in place; a FIFO without a reader and a folder
 * are refused at once. NULL + error ("LOCATION: ...") when it cannot be created. */
FerResultsWriter *fer_results_writer_open (const gchar * location, GError ** error);
/* Queues one line (a newline is added); never waits for the disk. Takes ownership of line. */
void fer_results_writer_push (FerResultsWriter * w, GString * line);
/* TRUE (and error set once) when the writer thread hit a write error. Non-blocking. */
gboolean fer_results_writer_take_error (FerResultsWriter * w, GError ** error);
/* Writes everything queued, syncs, closes and renames the temporary file to LOCATION, then
 * frees w. FALSE + error if anything failed (the temporary file is then removed). */
gboolean fer_results_writer_finish (FerResultsWriter * w, GError ** error);

G_END_DECLS

#endif
