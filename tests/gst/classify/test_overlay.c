/* feroverlay under GstHarness: in every format it changes pixels only where each classified
 * face's drawing goes (the box with its dark edges, the label above or below it, the bars
 * beside it: fer_face_layout, with 1 pixel of slack for subsampled chroma) and some there,
 * leaves unclassified faces and face-less frames alone, draws more with show-probabilities,
 * keeps metas, and reads its properties back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gst/check/gstharness.h>

#include "fer_gst_test.h"
#include "fervideo.h"
#include "feroverlay_draw.h"

static const GstVideoFormat all_formats[] = {
  GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx,
  GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
};

typedef struct Box {
  gint x, y, w, h;
} Box;

/* The param ferclassify would attach (track < 0: without a track id). */
static void
add_classified_face (GstBuffer * buf, Box b, const gchar * label, gint best, gint track)
{
  static const gchar *names[7] =
      { "angry", "disgust", "fear", "happy", "neutral", "sad", "surprise" };
  GstVideoRegionOfInterestMeta *roi = fer_gst_test_add_face (buf, b.x, b.y, b.w, b.h);
  GstStructure *s = gst_structure_new (FER_EXPRESSION_PARAM, "label", G_TYPE_STRING, label,
      "confidence", G_TYPE_DOUBLE, 0.91, NULL);
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
  if (track >= 0)
    gst_structure_set (s, "track-id", G_TYPE_INT, track, NULL);
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

/* Where feroverlay may draw for one face: its box, label and bars (fer_face_layout), each
 * grown by 1 pixel (a chroma sample of a 2x2 block touching a thin line is written). */
typedef struct Drawn {
  Box rects[3];
} Drawn;

static Drawn
drawn_area (Box b, const gchar * label, gint frame_w, gint frame_h, gboolean show_probs)
{
  FerFaceLayout l;
  FerRect face = { b.x, b.y, b.w, b.h };
  gchar *text = fer_overlay_label_text (label, 0.91, -1);
  Drawn d;

  fer_face_layout (face, text, 0, show_probs ? 7 : 0, frame_w, frame_h, &l);
  g_free (text);
  d.rects[0] = (Box) { l.box.x - 1, l.box.y - 1, l.box.w + 2, l.box.h + 2 };
  d.rects[1] = (Box) { l.label.strip.x - 1, l.label.strip.y - 1, l.label.strip.w + 2,
    l.label.strip.h + 2 };
  d.rects[2] = l.bars.w > 0 ? (Box) { l.bars.x - 1, l.bars.y - 1, l.bars.w + 2, l.bars.h + 2 } :
      (Box) { 0, 0, 0, 0 };
  return d;
}

static gboolean
block_inside (gint x0, gint y0, gint x1, gint y1, const Drawn * areas, gint n)
{
  for (gint i = 0; i < n; i++)
    for (gint r = 0; r < 3; r++) {
      const Box *b = &areas[i].rects[r];
      if (b->w > 0 && x0 >= b->x && y0 >= b->y && x1 <= b->x + b->w && y1 <= b->y + b->h)
        return TRUE;
    }
  return FALSE;
}

/* Compares every component sample; each changed one must cover pixels inside a face's drawn
 * area. Returns the number of changed samples per face in changed[] (luma/first component). */
static void
compare_frames (GstVideoFormat format, gint w, gint h, GstBuffer * before, GstBuffer * after,
    const Drawn * boxes, gint n_boxes, guint * changed)
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
            "%s: component %u changed at pixel %d,%d outside every face's drawing", fmt,
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
      const Drawn areas[2] = { drawn_area (boxes[0], "happy", 320, 240, show),
        drawn_area (boxes[1], "surprise", 320, 240, show)
      };

      add_classified_face (in, boxes[0], "happy", 3, 1);
      add_classified_face (in, boxes[1], "surprise", 6, 2);
      fer_gst_test_add_face (in, unclassified.x, unclassified.y, unclassified.w,
          unclassified.h);
      out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
      FER_CHECK (out != NULL, "%s: no output", fmt);
      FER_CHECK (count_faces (out) == 3, "%s: face metas dropped", fmt);
      compare_frames (format, 320, 240, in, out, areas, 2, changed);
      for (gint i = 0; i < 2; i++)
        FER_CHECK (changed[i] > 100, "%s: only %u pixels drawn for face %d", fmt, changed[i],
            i);
      if (show) {
        /* the bar chart adds drawing beside the big box */
        GstHarness *h2 = overlay_harness (format, 320, 240, FALSE);
        GstBuffer *plain = gst_harness_push_and_pull (h2, gst_buffer_ref (in));
        guint changed_plain[2];
        compare_frames (format, 320, 240, in, plain, areas, 2, changed_plain);
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

/* Boxes partly outside the frame and tiny boxes are clipped, never crash; their labels move
 * inside the frame. */
static void
test_clipping (void)
{
  const Box boxes[3] = { {-20, -30, 100, 90}, {280, 200, 100, 100}, {150, 100, 3, 2} };
  GstHarness *h = overlay_harness (GST_VIDEO_FORMAT_NV12, 320, 240, TRUE);
  GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_NV12, 320, 240, 9), *out;
  GstVideoRegionOfInterestMeta *roi;
  Drawn areas[3];
  guint changed[3];

  /* the ROI meta stores unsigned coordinates; negative ones read back as negative ints */
  for (gint i = 0; i < 3; i++) {
    add_classified_face (in, boxes[i], "fear", 2, i + 1);
    areas[i] = drawn_area (boxes[i], "fear", 320, 240, TRUE);
  }
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  compare_frames (GST_VIDEO_FORMAT_NV12, 320, 240, in, out, areas, 3, changed);
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
  gint scale = -1;

  g_object_get (e, "show-probabilities", &probs, "show-track-id", &ids, "font-scale", &scale,
      NULL);
  FER_CHECK (!probs && !ids && scale == 0, "defaults");
  g_object_set (e, "show-probabilities", TRUE, "show-track-id", TRUE, "font-scale", 3, NULL);
  g_object_get (e, "show-probabilities", &probs, "show-track-id", &ids, "font-scale", &scale,
      NULL);
  FER_CHECK (probs && ids && scale == 3, "read back");
  gst_object_unref (e);
}

/* The frame feroverlay draws for one happy face, drawn here with the draw code directly. */
static GstBuffer *
expected_frame (Box b, const gchar * text, gint font_scale)
{
  GstBuffer *buf = fer_gst_test_frame (GST_VIDEO_FORMAT_RGBx, 320, 240, 4);
  GstVideoInfo info;
  GstVideoFrame frame;
  FerCanvas cv;
  FerFaceLayout l;
  FerRect face = { b.x, b.y, b.w, b.h };

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGBx, 320, 240);
  FER_CHECK (gst_video_frame_map (&frame, &info, buf, GST_MAP_READWRITE), "map");
  fer_canvas_init (&cv, &frame);
  fer_face_layout (face, text, font_scale, 0, 320, 240, &l);
  fer_canvas_draw_face (&cv, &l, face, text, fer_expression_color ("happy", 3), NULL, NULL);
  gst_video_frame_unmap (&frame);
  return buf;
}

/* show-track-id draws ferclassify's track id, else one from another param of the ROI (a
 * tracking detector's); font-scale reaches the drawing. Compared with the draw code's own
 * rendering, byte for byte. */
static void
test_track_id_and_scale (void)
{
  const Box b = { 120, 90, 60, 60 };
  const struct {
    gint classify_track, other_track, font_scale;
    gboolean show_id;
    const gchar *text;
  } cases[] = {
    {4, -1, 0, FALSE, "happy 91%"},
    {4, -1, 0, TRUE, "#4 happy 91%"},
    {-1, 9, 0, TRUE, "#9 happy 91%"},
    {4, 9, 0, TRUE, "#4 happy 91%"},
    {-1, -1, 0, TRUE, "happy 91%"},
    {-1, -1, 2, FALSE, "happy 91%"},
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstHarness *h = overlay_harness (GST_VIDEO_FORMAT_RGBx, 320, 240, FALSE);
    GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_RGBx, 320, 240, 4), *out, *want;

    g_object_set (h->element, "show-track-id", cases[i].show_id, "font-scale",
        cases[i].font_scale, NULL);
    add_classified_face (in, b, "happy", 3, cases[i].classify_track);
    if (cases[i].other_track >= 0) {
      gpointer state = NULL;
      GstVideoRegionOfInterestMeta *roi = fer_buffer_iterate_faces (in, &state);
      gst_video_region_of_interest_meta_add_param (roi, gst_structure_new ("tracker/box",
              "track-id", G_TYPE_INT, cases[i].other_track, NULL));
    }
    out = gst_harness_push_and_pull (h, in);
    want = expected_frame (b, cases[i].text, cases[i].font_scale);
    FER_CHECK (buffers_equal (out, want), "case %" G_GSIZE_FORMAT ": not drawn as \"%s\"", i,
        cases[i].text);
    gst_buffer_unref (want);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
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
  Drawn area = drawn_area (small, "sad", 160, 120, FALSE);
  compare_frames (GST_VIDEO_FORMAT_RGBx, 160, 120, in, out, &area, 1, &changed);
  FER_CHECK (changed > 0, "nothing drawn before the caps change");
  gst_buffer_unref (out);
  gst_buffer_unref (in);

  caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_I420, 640, 480);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  in = fer_gst_test_frame (GST_VIDEO_FORMAT_I420, 640, 480, 2);
  add_classified_face (in, big, "angry", 0, 2);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  area = drawn_area (big, "angry", 640, 480, FALSE);
  compare_frames (GST_VIDEO_FORMAT_I420, 640, 480, in, out, &area, 1, &changed);
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
  test_track_id_and_scale ();
  FER_CHECK (fer_gst_test_alive_buffers () == 0, "%d frame(s) leaked",
      fer_gst_test_alive_buffers ());
  gst_deinit ();
  g_print ("feroverlay: ok\n");
  return 0;
}
