/* ferclassify align=true|false. The aligned crop (ferclassify_align.h): level eyes give the
 * unaligned crop byte for byte; a dark bar tilted by 20 degrees becomes horizontal in the crop
 * rotated by the eye-line angle and stays tilted without alignment. In the element: a face
 * with level eyes gets the same probabilities with align on and off, a face with eyes tilted
 * by 25 degrees different ones (a random tiny model sees the rotated crop), a face without
 * landmarks the same ones. */
#include <math.h>
#include <string.h>
#include <gst/check/gstharness.h>

#include "fer/preprocess.h"
#include "fer_gst_test.h"
#include "ferclassify.h"
#include "ferclassify_align.h"
#include "detect/gstferfacedetect.h"

#define W 200
#define H 160
#define DEG (G_PI / 180.0)

/* Light frame with a dark bar 8 px thick through (cx, cy) at angle a. */
static void
draw_bar (guint8 * img, double cx, double cy, double a)
{
  for (gint y = 0; y < H; y++)
    for (gint x = 0; x < W; x++) {
      double d = -sin (a) * (x + 0.5 - cx) + cos (a) * (y + 0.5 - cy);
      img[y * W + x] = fabs (d) < 4 ? 30 : 220;
    }
}

/* Mean of a crop row over columns 8..39 (the bar's middle part). */
static double
row_mean (const guint8 * crop, gint row)
{
  double s = 0;
  for (gint x = 8; x < 40; x++)
    s += crop[row * 48 + x];
  return s / 32;
}

static void
test_crop (void)
{
  guint8 img[W * H], a[48 * 48], b[48 * 48];

  for (gint i = 0; i < W * H; i++)
    img[i] = (guint8) ((i * 7) ^ (i >> 5));
  /* Level eyes (below 0.5 degrees): the unaligned crop exactly. */
  fer_crop_face_48 (img, W, H, W, 60, 40, 70, 70, 0.1f, a);
  fer_crop_face_48_aligned (img, W, H, W, 60, 40, 70, 70, 0.1f, 0.2 * DEG, b);
  FER_CHECK (memcmp (a, b, sizeof a) == 0, "level eyes: crop differs from the unaligned one");

  /* A bar at +20 degrees through the box centre (95, 75): level after rotating by 20. */
  draw_bar (img, 95, 75, 20 * DEG);
  fer_crop_face_48_aligned (img, W, H, W, 60, 40, 70, 70, 0.1f, 20 * DEG, a);
  fer_crop_face_48 (img, W, H, W, 60, 40, 70, 70, 0.1f, b);
  double mid = row_mean (a, 24), above = row_mean (a, 14),
      below = row_mean (a, 34);
  /* The bar is 8/84*48 = 4.6 crop rows thick: the middle row is dark along its length, rows
   * 10 above and below are light (tolerance 40 grey levels either way). */
  FER_CHECK (mid < 70 && above > 180 && below > 180,
      "aligned: bar not horizontal (row means %.0f above, %.0f middle, %.0f below)", above,
      mid, below);
  double mid_b = row_mean (b, 24);
  FER_CHECK (mid_b > 100, "unaligned crop should show the bar tilted (middle row %.0f)", mid_b);
  /* Angle of the eye line: right eye (image left) to left eye. */
  FER_CHECK (fabs (fer_eye_angle (10, 10, 20, 10)) < 1e-9 &&
      fabs (fer_eye_angle (0, 0, 10, 10) - G_PI / 4) < 1e-9, "fer_eye_angle");
  g_print ("ok  aligned crop: level eyes = unaligned crop; a 20-degree bar becomes level "
      "(rows %.0f/%.0f/%.0f), unaligned middle row %.0f\n", above, mid, below, mid_b);
}

static void
add_face (GstBuffer * buf, gint x, gint y, gint w, gint h, gdouble eye_angle, gboolean landmarks)
{
  GstVideoRegionOfInterestMeta *roi = fer_gst_test_add_face (buf, x, y, w, h);
  if (!landmarks)
    return;
  GstStructure *s = gst_structure_new_empty (FER_LANDMARKS_PARAM);
  GValue xs = G_VALUE_INIT, ys = G_VALUE_INIT;
  g_value_init (&xs, GST_TYPE_ARRAY);
  g_value_init (&ys, GST_TYPE_ARRAY);
  double cx = x + w / 2.0, cy = y + h * 0.4, r = w * 0.2;
  for (gint e = 0; e < 2; e++) {
    GValue v = G_VALUE_INIT;
    double sgn = e == 0 ? -1 : 1;
    g_value_init (&v, G_TYPE_FLOAT);
    g_value_set_float (&v, (gfloat) (cx + sgn * r * cos (eye_angle)));
    gst_value_array_append_value (&xs, &v);
    g_value_set_float (&v, (gfloat) (cy + sgn * r * sin (eye_angle)));
    gst_value_array_append_value (&ys, &v);
    g_value_unset (&v);
  }
  gst_structure_take_value (s, "x", &xs);
  gst_structure_take_value (s, "y", &ys);
  gst_video_region_of_interest_meta_add_param (roi, s);
}

/* Probabilities ferclassify gives one face of a textured frame. */
static void
classify_once (const gchar * model, gboolean align, gdouble eye_angle, gboolean landmarks,
    gdouble * probs)
{
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);
  g_object_set (e, "model", model, "backend", 1, "align", align, "smoothing", 0, NULL);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gchar *caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_GRAY8, 320, 240);
  gst_harness_set_src_caps_str (h, caps);
  GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8, 320, 240, 7);
  add_face (in, 100, 60, 90, 90, eye_angle, landmarks);
  GstBuffer *out = gst_harness_push_and_pull (h, in);
  gpointer state = NULL;
  GstVideoRegionOfInterestMeta *roi = fer_buffer_iterate_faces (out, &state);
  FER_CHECK (roi, "no face out");
  FER_CHECK (fer_gst_test_expression_probs (roi, probs, 7), "no probabilities");
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  gst_object_unref (e);
  g_free (caps);
}

static gdouble
max_diff (const gdouble * a, const gdouble * b)
{
  return fer_gst_test_max_abs_diff (a, b, 7);
}

static void
test_element (void)
{
  gchar *dir = fer_gst_test_tmpdir ();
  gchar *model = fer_gst_test_tiny_model (dir, "random.fer", NULL);
  gdouble on[7], off[7];
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);
  gboolean align = FALSE;

  g_object_get (e, "align", &align, NULL);
  FER_CHECK (align, "align should default to true");
  gst_object_unref (e);

  classify_once (model, TRUE, 0.0, TRUE, on);
  classify_once (model, FALSE, 0.0, TRUE, off);
  FER_CHECK (max_diff (on, off) == 0, "level eyes: align changed the result by %g",
      max_diff (on, off));
  classify_once (model, TRUE, 25 * DEG, FALSE, on);
  classify_once (model, FALSE, 25 * DEG, FALSE, off);
  FER_CHECK (max_diff (on, off) == 0, "no landmarks: align changed the result");
  classify_once (model, TRUE, 25 * DEG, TRUE, on);
  classify_once (model, FALSE, 25 * DEG, TRUE, off);
  /* A random network separates different crops by far more than float noise. */
  FER_CHECK (max_diff (on, off) > 1e-4, "tilted eyes: align=true gave the unaligned result");
  g_print ("ok  element: level eyes and no landmarks unchanged, tilted eyes realigned "
      "(max probability change %.4f)\n", max_diff (on, off));
  fer_gst_test_rmdir (dir);
  g_free (dir);
  g_free (model);
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);
  test_crop ();
  test_element ();
  return 0;
}
