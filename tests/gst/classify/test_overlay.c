/* feroverlay under GstHarness: in every format it changes pixels inside the classified face
 * boxes only (and some inside each), leaves unclassified faces and face-less frames alone,
 * draws more with show-probabilities, keeps metas, and reads its properties back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gst/check/gstharness.h>

#include "fer_gst_test.h"
#include "fervideo.h"

static const GstVideoFormat all_formats[] = {
  GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx,
  GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
};

typedef struct Box {
  gint x, y, w, h;
} Box;

/* The param ferclassify would attach. */
static void
add_classified_face (GstBuffer * buf, Box b, const gchar * label, gint best, gint track)
{
  static const gchar *names[7] =
      { "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise" };
  GstVideoRegionOfInterestMeta *roi = fer_gst_test_add_face (buf, b.x, b.y, b.w, b.h);
  GstStructure *s = gst_structure_new (FER_EXPRESSION_PARAM, "label", G_TYPE_STRING, label,
      "confidence", G_TYPE_DOUBLE, 0.91, "track-id", G_TYPE_INT, track, NULL);
  GValue probs = G_VALUE_INIT, classes = G_VALUE_INIT;

  g_value_init (&probs, GST_TYPE_ARRAY);
  g_value_init (&classes, GST_TYPE_ARRAY);
  for (gint c = 0; c < 7; c++) {
    GValue v = G_VALUE_INIT, n = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, c == best ? 0.91 : 0.015);
    gst_value_array_append_and_take_value (&probs, &v);
    g_value_init (&n, G_TYPE_STRING);
    g_value_set_string (&n, names[c]);
    gst_value_array_append_and_take_value (&classes, &n);
  }
  gst_structure_take_value (s, "probabilities", &probs);
  gst_structure_take_value (s, "class-names", &classes);
  gst_video_region_of_interest_meta_add_param (roi, s);
}

static GstHarness *
overlay_harness (GstVideoFormat format, gint w, gint h, gboolean show_probs)
{
  GstElement *e = gst_element_factory_make ("feroverlay", NULL);
  GstHarness *hr;
  gchar *caps = fer_gst_test_caps_string (format, w, h);

  FER_CHECK (e != NULL, "feroverlay not registered");
  g_object_set (e, "show-probabilities", show_probs, NULL);
  hr = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (hr, caps);
  g_free (caps);
  return hr;
}

static gboolean
block_inside (gint x0, gint y0, gint x1, gint y1, const Box * boxes, gint n)
{
  for (gint i = 0; i < n; i++)
    if (x0 >= boxes[i].x && y0 >= boxes[i].y && x1 <= boxes[i].x + boxes[i].w &&
        y1 <= boxes[i].y + boxes[i].h)
      return TRUE;
  return FALSE;
}

/* Compares every component sample; each changed one must cover pixels inside a box.
 * Returns the number of changed samples per box in changed[] (luma/first component). */
static void
compare_frames (GstVideoFormat format, gint w, gint h, GstBuffer * before, GstBuffer * after,
    const Box * boxes, gint n_boxes, guint * changed)
{
  GstVideoInfo info;
  GstVideoFrame fa, fb;
  const gchar *fmt = gst_video_format_to_string (format);

  gst_video_info_set_format (&info, format, w, h);
  FER_CHECK (gst_video_frame_map (&fa, &info, before, GST_MAP_READ), "map before");
  FER_CHECK (gst_video_frame_map (&fb, &info, after, GST_MAP_READ), "map after");
  memset (changed, 0, sizeof (guint) * n_boxes);
  for (guint comp = 0; comp < GST_VIDEO_FRAME_N_COMPONENTS (&fa); comp++) {
    gint ws = GST_VIDEO_FORMAT_INFO_W_SUB (info.finfo, comp);
    gint hs = GST_VIDEO_FORMAT_INFO_H_SUB (info.finfo, comp);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&fa, comp);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (&fa, comp);
    const guint8 *a = GST_VIDEO_FRAME_COMP_DATA (&fa, comp);
    const guint8 *b = GST_VIDEO_FRAME_COMP_DATA (&fb, comp);
    for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&fa, comp); y++)
      for (gint x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&fa, comp); x++) {
        gsize off = (gsize) y * stride + (gsize) x * pstride;
        if (a[off] == b[off])
          continue;
        gint px0 = x << ws, py0 = y << hs;
        gint px1 = MIN ((x + 1) << ws, w), py1 = MIN ((y + 1) << hs, h);
        FER_CHECK (block_inside (px0, py0, px1, py1, boxes, n_boxes),
            "%s: component %u changed at pixel %d,%d outside every classified box", fmt,
            comp, px0, py0);
        if (comp == 0)
          for (gint i = 0; i < n_boxes; i++)
            if (block_inside (px0, py0, px1, py1, &boxes[i], 1))
              changed[i]++;
      }
  }
  gst_video_frame_unmap (&fa);
  gst_video_frame_unmap (&fb);
}

static gboolean
buffers_equal (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;
  gboolean eq;
  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  eq = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return eq;
}

static guint
count_faces (GstBuffer * buf)
{
  gpointer state = NULL;
  guint n = 0;
  while (fer_buffer_iterate_faces (buf, &state))
    n++;
  return n;
}

static void
test_pixels_inside_boxes_only (void)
{
  /* odd positions and sizes exercise chroma subsampling at the box edges */
  const Box boxes[2] = { {33, 21, 121, 131}, {201, 97, 85, 77} };
  const Box unclassified = { 170, 5, 40, 40 };

  for (gsize f = 0; f < G_N_ELEMENTS (all_formats); f++) {
    for (gint show = 0; show < 2; show++) {
      GstVideoFormat format = all_formats[f];
      const gchar *fmt = gst_video_format_to_string (format);
      GstHarness *h = overlay_harness (format, 320, 240, show);
      GstBuffer *in = fer_gst_test_track (fer_gst_test_frame (format, 320, 240, (guint) f));
      GstBuffer *out;
      guint changed[2];

      add_classified_face (in, boxes[0], "happy", 3, 1);
      add_classified_face (in, boxes[1], "surprise", 6, 2);
      fer_gst_test_add_face (in, unclassified.x, unclassified.y, unclassified.w,
          unclassified.h);
      out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
      FER_CHECK (out != NULL, "%s: no output", fmt);
      FER_CHECK (count_faces (out) == 3, "%s: face metas dropped", fmt);
      compare_frames (format, 320, 240, in, out, boxes, 2, changed);
      for (gint i = 0; i < 2; i++)
        FER_CHECK (changed[i] > 100, "%s: only %u pixels drawn in box %d", fmt, changed[i], i);
      if (show) {
        /* the bar chart adds drawing in the lower part of the big box */
        GstHarness *h2 = overlay_harness (format, 320, 240, FALSE);
        GstBuffer *plain = gst_harness_push_and_pull (h2, gst_buffer_ref (in));
        guint changed_plain[2];
        compare_frames (format, 320, 240, in, plain, boxes, 2, changed_plain);
        FER_CHECK (changed[0] > changed_plain[0] + 200,
            "%s: show-probabilities drew %u vs %u pixels", fmt, changed[0], changed_plain[0]);
        gst_buffer_unref (plain);
        gst_harness_teardown (h2);
      }
      gst_buffer_unref (out);
      gst_buffer_unref (in);
      gst_harness_teardown (h);
    }
  }
}

/* Faces without a classification and frames without faces pass through unchanged. */
static void
test_untouched_without_classification (void)
{
  GstHarness *h = overlay_harness (GST_VIDEO_FORMAT_I420, 160, 120, TRUE);
  GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_I420, 160, 120, 3), *out;

  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  FER_CHECK (buffers_equal (in, out), "frame without faces changed");
  gst_buffer_unref (out);
  fer_gst_test_add_face (in, 10, 10, 50, 50);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  FER_CHECK (buffers_equal (in, out), "unclassified face drawn");
  FER_CHECK (count_faces (out) == 1, "face meta dropped");
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}

/* Boxes partly outside the frame and tiny boxes are clipped, never crash. */
static void
test_clipping (void)
{
  const Box boxes[3] = { {-20, -30, 100, 90}, {280, 200, 100, 100}, {150, 100, 3, 2} };
  GstHarness *h = overlay_harness (GST_VIDEO_FORMAT_NV12, 320, 240, TRUE);
  GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_NV12, 320, 240, 9), *out;
  GstVideoRegionOfInterestMeta *roi;
  Box clipped[3];
  guint changed[3];

  for (gint i = 0; i < 3; i++)
    add_classified_face (in, boxes[i], "fear", 2, i + 1);
  /* the ROI meta stores unsigned coordinates; negative ones read back as negative ints, so
   * drawing must stay inside the box's part within the frame */
  for (gint i = 0; i < 3; i++) {
    gint x0 = MAX (boxes[i].x, 0), y0 = MAX (boxes[i].y, 0);
    gint x1 = MIN (boxes[i].x + boxes[i].w, 320), y1 = MIN (boxes[i].y + boxes[i].h, 240);
    clipped[i] = (Box) { x0, y0, x1 - x0, y1 - y0 };
  }
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  compare_frames (GST_VIDEO_FORMAT_NV12, 320, 240, in, out, clipped, 3, changed);
  FER_CHECK (changed[0] > 0 && changed[1] > 0, "boxes crossing the frame edge not drawn");
  gpointer state = NULL;
  guint n = 0;
  while ((roi = fer_buffer_iterate_faces (out, &state)))
    n++;
  FER_CHECK (n == 3, "metas dropped");
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}

static void
test_properties (void)
{
  GstElement *e = gst_element_factory_make ("feroverlay", NULL);
  gboolean probs = TRUE, ids = TRUE;

  g_object_get (e, "show-probabilities", &probs, "show-track-id", &ids, NULL);
  FER_CHECK (!probs && !ids, "defaults");
  g_object_set (e, "show-probabilities", TRUE, "show-track-id", TRUE, NULL);
  g_object_get (e, "show-probabilities", &probs, "show-track-id", &ids, NULL);
  FER_CHECK (probs && ids, "read back");
  gst_object_unref (e);
}

/* Caps change mid-stream: drawing follows the new size and format. */
static void
test_caps_change (void)
{
  GstHarness *h = overlay_harness (GST_VIDEO_FORMAT_RGBx, 160, 120, FALSE);
  const Box small = { 20, 20, 60, 60 }, big = { 300, 200, 200, 200 };
  GstBuffer *in, *out;
  guint changed;
  gchar *caps;

  in = fer_gst_test_frame (GST_VIDEO_FORMAT_RGBx, 160, 120, 1);
  add_classified_face (in, small, "sad", 5, 1);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  compare_frames (GST_VIDEO_FORMAT_RGBx, 160, 120, in, out, &small, 1, &changed);
  FER_CHECK (changed > 0, "nothing drawn before the caps change");
  gst_buffer_unref (out);
  gst_buffer_unref (in);

  caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_I420, 640, 480);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  in = fer_gst_test_frame (GST_VIDEO_FORMAT_I420, 640, 480, 2);
  add_classified_face (in, big, "angry", 0, 2);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  compare_frames (GST_VIDEO_FORMAT_I420, 640, 480, in, out, &big, 1, &changed);
  FER_CHECK (changed > 0, "nothing drawn after the caps change");
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);
  test_properties ();
  test_pixels_inside_boxes_only ();
  test_untouched_without_classification ();
  test_clipping ();
  test_caps_change ();
  FER_CHECK (fer_gst_test_alive_buffers () == 0, "%d frame(s) leaked",
      fer_gst_test_alive_buffers ());
  gst_deinit ();
  g_print ("feroverlay: ok\n");
  return 0;
}
