/* End to end on the sample clip: decodebin -> ferfacedetect -> ferclassify (JSON Lines) ->
 * feroverlay. Every frame reaches the sink and has its line, faces are found in most frames,
 * every face is classified, and one track follows the talking man through 90% of his frames.
 * Skips (77) when data/samples/cap13_edit2.mp4 is missing. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer_gst_test.h"
#include "fervideo.h"

typedef struct Counts {
  guint frames, frames_with_face, faces, classified;
} Counts;

static void
on_handoff (G_GNUC_UNUSED GstElement * sink, GstBuffer * buf, G_GNUC_UNUSED GstPad * pad,
    gpointer data)
{
  Counts *c = data;
  GstVideoRegionOfInterestMeta *roi;
  gpointer state = NULL;
  guint n = 0;

  c->frames++;
  while ((roi = fer_buffer_iterate_faces (buf, &state))) {
    n++;
    if (gst_video_region_of_interest_meta_get_param (roi, FER_EXPRESSION_PARAM))
      c->classified++;
  }
  c->faces += n;
  c->frames_with_face += n > 0;
}

int
main (int argc, char **argv)
{
  gchar *clip, *tmpdir, *model, *jsonl, *line, *text = NULL, **lines, *error;
  GHashTable *track_frames = g_hash_table_new (g_direct_hash, g_direct_equal);
  GError *err = NULL;
  GstElement *pipeline, *sink;
  Counts c = { 0 };
  guint n_lines, best_track_frames = 0;

  fer_gst_test_init (&argc, &argv);
  clip = fer_gst_test_find_sample ("cap13_edit2.mp4", NULL);
  if (!clip) {
    g_print ("SKIP: data/samples/cap13_edit2.mp4 is missing\n");
    return FER_TEST_SKIP;
  }
  tmpdir = fer_gst_test_tmpdir ();
  model = fer_gst_test_tiny_model (tmpdir, "tiny.fer", NULL);
  jsonl = g_build_filename (tmpdir, "clip.jsonl", NULL);
  line = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "ferfacedetect ! ferclassify model=\"%s\" results-location=\"%s\" ! "
      "feroverlay show-probabilities=true ! fakesink name=sink signal-handoffs=true sync=false",
      clip, model, jsonl);
  pipeline = gst_parse_launch (line, &err);
  FER_CHECK (pipeline && !err, "parse: %s", err ? err->message : "?");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &c);
  error = fer_gst_test_run_pipeline (pipeline, 600);
  FER_CHECK (error == NULL, "pipeline: %s", error);

  FER_CHECK (g_file_get_contents (jsonl, &text, NULL, NULL), "no JSON Lines file");
  lines = g_strsplit (text, "\n", -1);
  n_lines = g_strv_length (lines) - 1;
  FER_CHECK (n_lines == c.frames, "%u lines for %u frames", n_lines, c.frames);
  for (guint i = 0; i < n_lines; i++) {
    cJSON *root = cJSON_Parse (lines[i]), *faces, *face;
    FER_CHECK (root, "line %u is not JSON", i);
    FER_CHECK ((guint) cJSON_GetObjectItem (root, "frame")->valueint == i, "line %u frame", i);
    faces = cJSON_GetObjectItem (root, "faces");
    cJSON_ArrayForEach (face, faces) {
      gint id = cJSON_GetObjectItem (face, "track_id")->valueint;
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (track_frames, GINT_TO_POINTER (id)));
      g_hash_table_insert (track_frames, GINT_TO_POINTER (id), GUINT_TO_POINTER (n + 1));
      best_track_frames = MAX (best_track_frames, n + 1);
    }
    cJSON_Delete (root);
  }
  g_print ("%u frames, %u with a face (%.1f%%), %u faces, %u tracks, longest track %u "
      "frames\n", c.frames, c.frames_with_face, 100.0 * c.frames_with_face / MAX (c.frames,
          1), c.faces, g_hash_table_size (track_frames), best_track_frames);
  FER_CHECK (c.frames >= 700, "only %u frames decoded (the clip has 765)", c.frames);
  FER_CHECK (c.classified == c.faces, "%u of %u faces classified", c.classified, c.faces);
  FER_CHECK (c.frames_with_face >= c.frames * 7 / 10, "face found in only %u of %u frames",
      c.frames_with_face, c.frames);
  FER_CHECK (best_track_frames >= c.frames_with_face * 9 / 10,
      "tracking fragments: the longest track has %u of %u face frames", best_track_frames,
      c.frames_with_face);

  g_strfreev (lines);
  g_free (text);
  g_hash_table_unref (track_frames);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  fer_gst_test_rmdir (tmpdir);
  g_free (tmpdir);
  g_free (model);
  g_free (jsonl);
  g_free (line);
  g_free (clip);
  gst_deinit ();
  g_print ("pipeline: ok\n");
  return 0;
}
