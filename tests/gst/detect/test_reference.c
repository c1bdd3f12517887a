/* ferfacedetect against OpenCV itself: gst-plugins-bad facedetect (cv::CascadeClassifier)
 * and ferfacedetect exhaustive=true run with the same cascade and parameters on the same RGB
 * frames; the boxes must agree (IoU >= 0.5) both ways for at least 90% of the boxes over all
 * cases. Both see slightly different gray images (OpenCV's and PIL's RGB weights round
 * differently) and resize differently, so a box near the min-neighbors limit may appear on one
 * side only; and OpenCV can return two boxes for one face, which ferfacedetect merges. Skips (77) when facedetect (gstreamer1.0-opencv) is not installed. */
#include <string.h>

#include "detect_test.h"
#include "gstferfacedetect.h"

typedef struct Boxes {
  DtBox v[64];
  gint n;
} Boxes;

static void
add_box (Boxes * b, gint x, gint y, gint w, gint h)
{
  if (b->n < (gint) G_N_ELEMENTS (b->v))
    b->v[b->n++] = (DtBox) { x, y, w, h };
}

/* Plays pipeline to EOS; returns the bus messages of type ELEMENT (caller frees). */
static GList *
play (const gchar * desc)
{
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);
  GstBus *bus;
  GList *msgs = NULL;
  gboolean done = FALSE;

  FER_CHECK (pipe && !err, "%s: %s", desc, err ? err->message : "?");
  bus = gst_element_get_bus (pipe);
  FER_CHECK (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE,
      "cannot play %s", desc);
  while (!done) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    FER_CHECK (m && GST_MESSAGE_TYPE (m) != GST_MESSAGE_ERROR, "%s failed", desc);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS) {
      done = TRUE;
      gst_message_unref (m);
    } else {
      msgs = g_list_append (msgs, m);
    }
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  return msgs;
}

static Boxes
opencv_boxes (const gchar * image, const gchar * cascade)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! facedetect profile=\"%s\" scale-factor=1.1 min-neighbors=3 "
      "min-size-width=30 min-size-height=30 display=false ! fakesink", image, cascade);
  GList *msgs = play (desc);
  Boxes b = { 0 };

  for (GList * l = msgs; l; l = l->next) {
    const GstStructure *s = gst_message_get_structure (l->data);
    const GValue *faces = s ? gst_structure_get_value (s, "faces") : NULL;
    if (!s || !gst_structure_has_name (s, "facedetect") || !faces)
      continue;
    for (guint i = 0; i < gst_value_list_get_size (faces); i++) {
      const GstStructure *f = gst_value_get_structure (gst_value_list_get_value (faces, i));
      guint x, y, w, h;
      if (gst_structure_get_uint (f, "x", &x) && gst_structure_get_uint (f, "y", &y) &&
          gst_structure_get_uint (f, "width", &w) && gst_structure_get_uint (f, "height", &h))
        add_box (&b, x, y, w, h);
    }
  }
  g_list_free_full (msgs, (GDestroyNotify) gst_message_unref);
  g_free (desc);
  return b;
}

static GstPadProbeReturn
collect (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  gpointer state = NULL;
  GstVideoRegionOfInterestMeta *roi;
  (void) pad;
  while ((roi = fer_buffer_iterate_faces (GST_PAD_PROBE_INFO_BUFFER (info), &state)))
    add_box (data, roi->x, roi->y, roi->w, roi->h);
  return GST_PAD_PROBE_OK;
}

static Boxes
our_boxes (const gchar * image, const gchar * cascade)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! ferfacedetect name=det method=cascade cascade=\"%s\" "
      "scale-factor=1.1 min-neighbors=3 min-size=30 exhaustive=true ! fakesink", image, cascade);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *det = gst_bin_get_by_name (GST_BIN (pipe), "det");
  GstPad *pad = gst_element_get_static_pad (det, "src");
  Boxes b = { 0 };
  gchar *error;

  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect, &b, NULL);
  error = fer_gst_test_run_pipeline (pipe, 120);
  FER_CHECK (!error, "%s: %s", desc, error);
  gst_object_unref (pad);
  gst_object_unref (det);
  gst_object_unref (pipe);
  g_free (desc);
  return b;
}

int
main (int argc, char **argv)
{
  const gchar *cascades[] = {
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
    "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml",
    "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml",
  };
  gchar *images[2];
  gint theirs = 0, theirs_matched = 0, ours = 0, ours_matched = 0;

  fer_gst_test_init (&argc, &argv);
  if (!fer_gst_test_have_element ("facedetect")) {
    g_print ("SKIP: facedetect (gstreamer1.0-opencv) is not installed\n");
    return FER_TEST_SKIP;
  }
  if (!g_file_test (cascades[0], G_FILE_TEST_EXISTS)) {
    g_print ("SKIP: opencv-data is not installed\n");
    return FER_TEST_SKIP;
  }
  images[0] = dt_sample ("astronaut.png");
  images[1] = dt_sample ("sample5.jpg");
  for (gsize c = 0; c < G_N_ELEMENTS (cascades); c++)
    for (gsize i = 0; i < G_N_ELEMENTS (images); i++) {
      Boxes cv = opencv_boxes (images[i], cascades[c]);
      Boxes fer = our_boxes (images[i], cascades[c]);
      gint a = dt_matched (cv.v, cv.n, fer.v, fer.n, 0.5);
      gint b = dt_matched (fer.v, fer.n, cv.v, cv.n, 0.5);
      gchar *scv = dt_boxes_string (cv.v, cv.n), *sfer = dt_boxes_string (fer.v, fer.n);
      g_print ("%s on %s\n  OpenCV (%d, %d matched): %s\n  ours   (%d, %d matched): %s\n",
          strrchr (cascades[c], '/') + 1, strrchr (images[i], '/') + 1, cv.n, a, scv, fer.n,
          b, sfer);
      FER_CHECK (cv.n > 0 && a >= 1, "no common face");
      theirs += cv.n;
      theirs_matched += a;
      ours += fer.n;
      ours_matched += b;
      g_free (scv);
      g_free (sfer);
    }
  g_print ("OpenCV boxes matched by ours: %d of %d; ours matched by OpenCV: %d of %d\n",
      theirs_matched, theirs, ours_matched, ours);
  FER_CHECK (theirs_matched * 10 >= theirs * 9 && ours_matched * 10 >= ours * 9,
      "agreement with OpenCV below 90%%");
  g_free (images[0]);
  g_free (images[1]);
  return 0;
}
