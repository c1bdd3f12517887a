/* gst-plugins-bad facedetect -> ferclassify: every face facedetect reports on real face images
 * gets an expression. Skips (77) when facedetect or the images are missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer_gst_test.h"
#include "fervideo.h"

typedef struct Counts {
  guint frames, faces, classified;
} Counts;

static void
on_handoff (G_GNUC_UNUSED GstElement * sink, GstBuffer * buf, G_GNUC_UNUSED GstPad * pad,
    gpointer data)
{
  Counts *c = data;
  GstVideoRegionOfInterestMeta *roi;
  gpointer state = NULL;

  c->frames++;
  while ((roi = fer_buffer_iterate_faces (buf, &state))) {
    c->faces++;
    if (gst_video_region_of_interest_meta_get_param (roi, FER_EXPRESSION_PARAM))
      c->classified++;
  }
}

static gboolean
run_image (const gchar * image, const gchar * model)
{
  /* facedetect works on RGB only; display=false keeps the pixels clean */
  gchar *line = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! facedetect display=false updates=none ! "
      "ferclassify model=\"%s\" ! fakesink name=sink signal-handoffs=true", image, model);
  GError *err = NULL;
  GstElement *pipeline = gst_parse_launch (line, &err), *sink;
  Counts c = { 0 };
  gchar *error;

  FER_CHECK (pipeline && !err, "parse: %s", err ? err->message : "?");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), &c);
  error = fer_gst_test_run_pipeline (pipeline, 60);
  FER_CHECK (error == NULL, "%s: %s", image, error);
  g_print ("%s: %u frame(s), %u face(s) from facedetect, %u classified\n", image, c.frames,
      c.faces, c.classified);
  FER_CHECK (c.frames >= 1, "%s: no frame", image);
  FER_CHECK (c.faces >= 1, "%s: facedetect found no face", image);
  FER_CHECK (c.classified == c.faces, "%s: %u of %u faces classified", image, c.classified,
      c.faces);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (line);
  return TRUE;
}

int
main (int argc, char **argv)
{
  gchar *tmpdir, *model, *images[2];
  gint n_run = 0;

  fer_gst_test_init (&argc, &argv);
  if (!fer_gst_test_have_element ("facedetect")) {
    g_print ("SKIP: gst-plugins-bad facedetect (gstreamer1.0-opencv) is not installed\n");
    return FER_TEST_SKIP;
  }
  images[0] = fer_gst_test_find_sample ("astronaut.png",
      "/usr/lib/python3/dist-packages/skimage/data/astronaut.png", NULL);
  images[1] = fer_gst_test_find_sample ("sample5.jpg", NULL);
  if (!images[0] && !images[1]) {
    g_print ("SKIP: no face image (data/samples/astronaut.png, sample5.jpg)\n");
    return FER_TEST_SKIP;
  }
  tmpdir = fer_gst_test_tmpdir ();
  model = fer_gst_test_tiny_model (tmpdir, "tiny.fer", NULL);
  for (gint i = 0; i < 2; i++)
    if (images[i] && run_image (images[i], model))
      n_run++;
  fer_gst_test_rmdir (tmpdir);
  g_free (tmpdir);
  g_free (model);
  g_free (images[0]);
  g_free (images[1]);
  gst_deinit ();
  g_print ("interop: ok (%d image(s))\n", n_run);
  return 0;
}
