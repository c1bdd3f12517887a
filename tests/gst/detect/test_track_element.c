/* ferfacedetect track=true in GstHarness: astronaut.png moved by known offsets frame after frame
 * (the picture translated, borders repeated), detect-every=4. On the three carried frames
 * (fresh=FALSE) the box, and for method=cnn each keypoint, must be within 2 px of the detected
 * one moved by the offset; with track=false the box stays where it was detected (more than
 * 2 px off: the check can fail). The default is track=true. Needs data/samples/astronaut.png
 * and the cascade of opencv-data (exit 77 without them); method=cnn only with the converted
 * model (data/models/fetch.sh), skipped with a message otherwise.
 * On the sample clip (cap13_edit2.mp4, method=cascade, detect-every=8; skipped without it) the
 * carried boxes are compared with a detection on every frame: the 95th percentile of the centre
 * distance, in face widths, must be at most CLIP_P95 with tracking and no larger than without
 * (measured 0.025 tracked, 0.065 carried). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gst/app/gstappsink.h>
#include <gst/check/gstharness.h>

#include "detect_test.h"
#include "gstferfacedetect.h"

#define TOL_PX 2.0
#define N_FRAMES 4              /* one detection, three carried frames */
#define CLIP_FRAMES 765
#define CLIP_P95 0.04

/* Cumulative offsets of the picture; moves between frames under a quarter of the 104 px face. */
static const gint shift[N_FRAMES][2] = { {0, 0}, {6, 4}, {19, -3}, {35, 8} };

typedef struct Face {
  gint x, y, w, h, n;
  gboolean fresh;
  gint n_keypoints;
  gfloat kx[6], ky[6];
} Face;

/* The picture moved by dx, dy (content at x comes from x - dx), edges repeated. */
static GstBuffer *
shifted (GstSample * sample, gint dx, gint dy)
{
  GstVideoInfo info;
  GstVideoFrame in, out;
  GstBuffer *src = gst_sample_get_buffer (sample);
  GstBuffer *dst;

  FER_CHECK (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)), "caps");
  dst = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  FER_CHECK (gst_video_frame_map (&in, &info, src, GST_MAP_READ) &&
      gst_video_frame_map (&out, &info, dst, GST_MAP_WRITE), "map");
  gint w = GST_VIDEO_INFO_WIDTH (&info), h = GST_VIDEO_INFO_HEIGHT (&info);
  gint bpp = GST_VIDEO_FRAME_COMP_PSTRIDE (&in, 0);
  const guint8 *s = GST_VIDEO_FRAME_PLANE_DATA (&in, 0);
  guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (&out, 0);
  gint ss = GST_VIDEO_FRAME_PLANE_STRIDE (&in, 0), ds = GST_VIDEO_FRAME_PLANE_STRIDE (&out, 0);
  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++)
      memcpy (d + (gsize) y * ds + (gsize) x * bpp,
          s + (gsize) CLAMP (y - dy, 0, h - 1) * ss + (gsize) CLAMP (x - dx, 0, w - 1) * bpp,
          bpp);
  gst_video_frame_unmap (&in);
  gst_video_frame_unmap (&out);
  return dst;
}

static Face
face_of (GstBuffer * buf)
{
  Face f = { 0 };
  gpointer state = NULL;
  GstVideoRegionOfInterestMeta *roi;

  while ((roi = fer_buffer_iterate_faces (buf, &state))) {
    if (f.n++ > 0)
      continue;
    GstStructure *det = gst_video_region_of_interest_meta_get_param (roi, FER_DETECTION_PARAM);
    GstStructure *lm = gst_video_region_of_interest_meta_get_param (roi, FER_LANDMARKS_PARAM);
    FER_CHECK (det && gst_structure_get_boolean (det, "fresh", &f.fresh), "no fresh field");
    f.x = (gint) roi->x;
    f.y = (gint) roi->y;
    f.w = (gint) roi->w;
    f.h = (gint) roi->h;
    if (lm) {
      const GValue *xs = gst_structure_get_value (lm, "x"), *ys = gst_structure_get_value (lm,
          "y");
      f.n_keypoints = MIN (6, (gint) gst_value_array_get_size (xs));
      for (gint k = 0; k < f.n_keypoints; k++) {
        f.kx[k] = g_value_get_float (gst_value_array_get_value (xs, k));
        f.ky[k] = g_value_get_float (gst_value_array_get_value (ys, k));
      }
    }
  }
  return f;
}

/* Largest distance of a carried box (or keypoint) from the detected one moved with the
 * picture, over the carried frames. */
static gdouble
run (GstSample * sample, const gchar * props, gboolean track)
{
  gchar *desc = g_strdup_printf ("ferfacedetect detect-every=%d track=%s %s", N_FRAMES,
      track ? "true" : "false", props);
  GstHarness *h = gst_harness_new_parse (desc);
  Face first = { 0 };
  gdouble worst = 0;

  gst_harness_set_src_caps (h, gst_caps_ref (gst_sample_get_caps (sample)));
  for (gint i = 0; i < N_FRAMES; i++) {
    GstBuffer *out = gst_harness_push_and_pull (h, shifted (sample, shift[i][0],
            shift[i][1]));
    FER_CHECK (out, "%s: no output buffer", desc);
    Face f = face_of (out);
    gst_buffer_unref (out);
    FER_CHECK (f.n == 1, "%s frame %d: %d faces, want 1", desc, i, f.n);
    FER_CHECK (f.fresh == (i == 0), "%s frame %d: fresh %d", desc, i, f.fresh);
    if (i == 0) {
      first = f;
      continue;
    }
    gint dx = shift[i][0], dy = shift[i][1];
    FER_CHECK (f.w == first.w && f.h == first.h, "%s frame %d: size changed", desc, i);
    worst = MAX (worst, MAX (ABS (f.x - first.x - dx), ABS (f.y - first.y - dy)));
    FER_CHECK (f.n_keypoints == first.n_keypoints, "%s: keypoints lost", desc);
    for (gint k = 0; k < f.n_keypoints; k++)
      worst = MAX (worst, MAX (fabs (f.kx[k] - first.kx[k] - dx),
              fabs (f.ky[k] - first.ky[k] - dy)));
  }
  gst_harness_teardown (h);
  g_free (desc);
  return worst;
}

static void
check_method (GstSample * sample, const gchar * props)
{
  gdouble tracked = run (sample, props, TRUE), carried = run (sample, props, FALSE);
  FER_CHECK (tracked <= TOL_PX, "%s track=true: box or keypoint off by %.1f px (tolerance "
      "%.0f)", props, tracked, TOL_PX);
  FER_CHECK (carried > TOL_PX, "%s track=false: only %.1f px off, the check cannot fail",
      props, carried);
  g_print ("ok  %s detect-every=%d: carried boxes within %.0f px of the moving face "
      "(track=false: %.0f px off)\n", props, N_FRAMES, tracked, carried);
}

/* First face of every frame of the clip through ferfacedetect method=cascade props (w = 0:
 * none). Returns the number of frames. */
static gint
clip_faces (const gchar * clip, const gchar * props, Face * out)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=GRAY8 ! ferfacedetect method=cascade %s ! appsink name=sink "
      "sync=false", clip, props);
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);
  GstSample *sample;
  gint n = 0;

  FER_CHECK (pipe && !err, "%s: %s", desc, err ? err->message : "no pipeline");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  FER_CHECK (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE,
      "%s: cannot play", desc);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    if (n < CLIP_FRAMES)
      out[n++] = face_of (gst_sample_get_buffer (sample));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_free (desc);
  return n;
}

static int
cmp_double (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

/* 95th percentile of the carried boxes' centre distance from the every-frame detection, in
 * face widths. */
static gdouble
clip_p95 (const Face * truth, const Face * run, gint n)
{
  gdouble *d = g_new (gdouble, n);
  gint m = 0;

  for (gint i = 0; i < n; i++) {
    if (run[i].fresh || !run[i].w || !truth[i].w)
      continue;
    gdouble dx = run[i].x + run[i].w / 2.0 - truth[i].x - truth[i].w / 2.0;
    gdouble dy = run[i].y + run[i].h / 2.0 - truth[i].y - truth[i].h / 2.0;
    d[m++] = hypot (dx, dy) / truth[i].w;
  }
  FER_CHECK (m > n / 2, "only %d of %d frames with a carried face and a detected one", m, n);
  qsort (d, m, sizeof *d, cmp_double);
  gdouble p = d[(gint) (0.95 * (m - 1))];
  g_free (d);
  return p;
}

static void
test_clip (void)
{
  gchar *clip = fer_gst_test_find_sample ("cap13_edit2.mp4", NULL);
  if (!clip) {
    g_print ("skip sample clip: cap13_edit2.mp4 not found (data/samples/fetch.sh)\n");
    return;
  }
  Face *truth = g_new0 (Face, CLIP_FRAMES), *tracked = g_new0 (Face, CLIP_FRAMES),
      *carried = g_new0 (Face, CLIP_FRAMES);
  gint n = clip_faces (clip, "detect-every=1", truth);
  FER_CHECK (n > 100 && clip_faces (clip, "detect-every=8 track=true", tracked) == n &&
      clip_faces (clip, "detect-every=8 track=false", carried) == n, "clip frames %d", n);
  gdouble p_tracked = clip_p95 (truth, tracked, n), p_carried = clip_p95 (truth, carried, n);
  FER_CHECK (p_tracked <= CLIP_P95 && p_tracked <= p_carried, "sample clip: carried boxes' "
      "centre off by %.3f face widths (95th percentile) with tracking, %.3f without (want <= "
      "%.2f and no worse)", p_tracked, p_carried, CLIP_P95);
  g_print ("ok  sample clip, detect-every=8: carried boxes' centre within %.3f face widths of "
      "an every-frame detection (95th percentile; track=false: %.3f)\n", p_tracked, p_carried);
  g_free (truth);
  g_free (tracked);
  g_free (carried);
  g_free (clip);
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);

  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  gboolean track = FALSE;
  FER_CHECK (e, "cannot make ferfacedetect");
  g_object_get (e, "track", &track, NULL);
  FER_CHECK (track, "track should default to true");
  gst_object_unref (e);

  gchar *path = dt_sample ("astronaut.png");
  gchar *cascade = gst_fer_face_detect_default_cascade ();
  if (!cascade) {
    g_print ("SKIP: no OpenCV frontal-face cascade installed (opencv-data)\n");
    return FER_TEST_SKIP;
  }
  g_free (cascade);
  GstSample *gray = dt_decode (path, GST_VIDEO_FORMAT_GRAY8, 0, 0);
  check_method (gray, "method=cascade");
  gst_sample_unref (gray);
  test_clip ();

  gchar *model = gst_fer_face_detect_default_model ();
  if (model && g_file_test (model, G_FILE_TEST_IS_REGULAR)) {
    GstSample *rgb = dt_decode (path, GST_VIDEO_FORMAT_RGB, 0, 0);
    check_method (rgb, "method=cnn");
    gst_sample_unref (rgb);
  } else {
    g_print ("skip method=cnn: the converted face detector model is not installed "
        "(data/models/fetch.sh)\n");
  }
  g_free (model);
  g_free (path);
  return 0;
}
