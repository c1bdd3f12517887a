/* ferfacedetect in GstHarness (no display): properties read back; a missing or corrupt cascade
 * fails NULL->READY with an error naming the file; every accepted format finds the recorded
 * face and leaves the pixels alone; caps (size and format) change mid-stream; detect-every
 * carries boxes; properties change while playing; metas already on the buffer are kept; the
 * sample clip has its face in (nearly) every frame, never twice, and no buffer leaks. */
#include <string.h>
#include <gst/check/gstharness.h>

#include "detect_test.h"
#include "gstferfacedetect.h"

#define LBP_FRONTAL "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface.xml"

typedef struct Found {
  DtBox box[16];
  gint n;
  gboolean fresh;
  gint other_metas;             /* ROI metas of other types */
} Found;

static Found
faces_of (GstBuffer * buf)
{
  Found f = { 0 };
  gpointer state = NULL;
  GstMeta *meta;

  f.fresh = TRUE;
  while ((meta = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    if (roi->roi_type != g_quark_from_string ("face")) {
      f.other_metas++;
      continue;
    }
    GstStructure *s = gst_video_region_of_interest_meta_get_param (roi, FER_DETECTION_PARAM);
    gint neighbors = 0;
    gboolean fresh = FALSE;
    FER_CHECK (s && gst_structure_get_int (s, "neighbors", &neighbors) &&
        gst_structure_get_boolean (s, "fresh", &fresh), "face meta without %s param",
        FER_DETECTION_PARAM);
    FER_CHECK (neighbors > 0, "neighbors %d", neighbors);
    f.fresh &= fresh;
    if (f.n < 16)
      f.box[f.n++] = (DtBox) { (gint) roi->x, (gint) roi->y, (gint) roi->w, (gint) roi->h };
  }
  return f;
}

static GstHarness *
harness_for (GstSample * sample, const gchar * props)
{
  gchar *desc = g_strdup_printf ("ferfacedetect method=cascade %s", props ? props : "");
  GstHarness *h = gst_harness_new_parse (desc);
  gst_harness_set_src_caps (h, gst_caps_ref (gst_sample_get_caps (sample)));
  g_free (desc);
  return h;
}

/* Pushes the sample's frame, pulls the result and returns its faces. */
static Found
push_pull (GstHarness * h, GstSample * sample, gboolean check_pixels)
{
  GstBuffer *in = gst_sample_get_buffer (sample);
  GstBuffer *out = gst_harness_push_and_pull (h, fer_gst_test_track (gst_buffer_ref (in)));
  Found f;

  FER_CHECK (out != NULL, "no output buffer");
  if (check_pixels) {
    GstMapInfo a, b;
    FER_CHECK (gst_buffer_map (in, &a, GST_MAP_READ) && gst_buffer_map (out, &b, GST_MAP_READ),
        "map");
    FER_CHECK (a.size == b.size && memcmp (a.data, b.data, a.size) == 0,
        "ferfacedetect changed pixels");
    gst_buffer_unmap (in, &a);
    gst_buffer_unmap (out, &b);
  }
  f = faces_of (out);
  gst_buffer_unref (out);
  return f;
}

static DtBox
scaled (DtBox b, gdouble s)
{
  return (DtBox) { (gint) (b.x * s), (gint) (b.y * s), (gint) (b.w * s), (gint) (b.h * s) };
}

/* The recorded faces are found (IoU >= 0.5), each once. Rescaled frames can show a false
 * positive elsewhere, so they may be allowed extra boxes. */
static void
check_faces_extra (const Found * f, const DtBox * expected, gint n, gboolean extra_ok,
    const gchar * what)
{
  gchar *s = dt_boxes_string (f->box, f->n);
  FER_CHECK ((extra_ok ? f->n >= n : f->n == n) &&
      dt_matched (expected, n, f->box, f->n, 0.5) == n,
      "%s: found %s, want the %d recorded faces", what, s, n);
  dt_check_no_duplicates (f->box, f->n, 0.0, what);
  if (f->n > n)
    g_print ("    %s: %d extra box(es): %s\n", what, f->n - n, s);
  g_free (s);
}

static void
check_faces (const Found * f, const DtBox * expected, gint n, const gchar * what)
{
  check_faces_extra (f, expected, n, FALSE, what);
}

static void
test_properties (void)
{
  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  gchar *cascade = NULL;
  gint min_size, max_size, min_neighbors;
  gdouble scale;
  guint every;
  gboolean exhaustive;

  FER_CHECK (e, "cannot make ferfacedetect");
  g_object_get (e, "cascade", &cascade, "min-size", &min_size, "max-size", &max_size,
      "scale-factor", &scale, "min-neighbors", &min_neighbors, "detect-every", &every,
      "exhaustive", &exhaustive, NULL);
  FER_CHECK (cascade && g_str_has_suffix (cascade, "haarcascade_frontalface_alt.xml"),
      "default cascade %s", cascade ? cascade : "(null)");
  FER_CHECK (min_size == 24 && max_size == 0 && scale == 1.2 && min_neighbors == 3 &&
      every == 0 && !exhaustive, "defaults");
  g_free (cascade);

  g_object_set (e, "cascade", LBP_FRONTAL, "min-size", 30, "max-size", 300,
      "scale-factor", 1.1, "min-neighbors", 5, "detect-every", 4u, "exhaustive", TRUE, NULL);
  g_object_get (e, "cascade", &cascade, "min-size", &min_size, "max-size", &max_size,
      "scale-factor", &scale, "min-neighbors", &min_neighbors, "detect-every", &every,
      "exhaustive", &exhaustive, NULL);
  FER_CHECK (g_strcmp0 (cascade, LBP_FRONTAL) == 0 && min_size == 30 && max_size == 300 &&
      scale == 1.1 && min_neighbors == 5 && every == 4 && exhaustive, "read back");
  g_free (cascade);
  g_object_set (e, "cascade", NULL, NULL);
  g_object_get (e, "cascade", &cascade, NULL);
  FER_CHECK (cascade && g_str_has_suffix (cascade, "haarcascade_frontalface_alt.xml"),
      "cascade=NULL restores the default");
  g_free (cascade);
  gst_object_unref (e);
  g_print ("ok  properties\n");
}

/* NULL->READY must fail and post an error whose text names the file. */
static void
expect_state_failure (const gchar * cascade, const gchar * needle)
{
  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  gst_util_set_object_arg (G_OBJECT (e), "method", "cascade");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;

  gst_element_set_bus (e, bus);
  g_object_set (e, "cascade", cascade, NULL);
  FER_CHECK (gst_element_set_state (e, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE,
      "%s: state change succeeded", cascade);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  FER_CHECK (msg, "%s: no error message", cascade);
  gst_message_parse_error (msg, &err, &dbg);
  FER_CHECK (strstr (err->message, cascade) && strstr (err->message, needle),
      "error text \"%s\" lacks the file or \"%s\"", err->message, needle);
  g_print ("ok  bad cascade: %s\n", err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

static void
test_bad_cascade (void)
{
  gchar *dir = fer_gst_test_tmpdir ();
  gchar *missing = g_build_filename (dir, "missing.xml", NULL);
  gchar *corrupt = g_build_filename (dir, "corrupt.xml", NULL);

  FER_CHECK (g_file_set_contents (corrupt, "<opencv_storage><cascade><stageType>BOOST",
          -1, NULL), "write");
  expect_state_failure (missing, "cannot open");
  expect_state_failure (corrupt, "Document ended unexpectedly");
  g_free (missing);
  g_free (corrupt);
  fer_gst_test_rmdir (dir);
  g_free (dir);
}

static void
test_formats (const gchar * astronaut)
{
  const GstVideoFormat formats[] = {
    GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
    GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx,
    GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
  };
  for (gsize i = 0; i < G_N_ELEMENTS (formats); i++) {
    const gchar *name = gst_video_format_to_string (formats[i]);
    GstSample *s = dt_decode (astronaut, formats[i], 0, 0);
    GstHarness *h = harness_for (s, NULL);
    Found f = push_pull (h, s, TRUE);
    check_faces (&f, dt_astronaut_faces, 1, name);
    FER_CHECK (f.fresh, "%s: first frame must be a fresh detection", name);
    g_print ("ok  %-5s [%d %d %d %d]\n", name, f.box[0].x, f.box[0].y, f.box[0].w,
        f.box[0].h);
    gst_harness_teardown (h);
    gst_sample_unref (s);
  }
}

/* Size and format change mid-stream: set_info runs again and the boxes follow. */
static void
test_caps_change (const gchar * astronaut, const gchar * sample5)
{
  GstSample *a = dt_decode (astronaut, GST_VIDEO_FORMAT_I420, 0, 0);
  GstSample *a_small = dt_decode (astronaut, GST_VIDEO_FORMAT_RGBx, 384, 384);
  GstSample *five = dt_decode (sample5, GST_VIDEO_FORMAT_NV12, 960, 699);
  GstHarness *h = harness_for (a, "detect-every=5");
  DtBox small[1] = { scaled (dt_astronaut_faces[0], 0.75) };
  DtBox half[5];
  Found f;

  for (gint i = 0; i < 5; i++)
    half[i] = scaled (dt_sample5_faces[i], 0.5);
  f = push_pull (h, a, FALSE);
  check_faces (&f, dt_astronaut_faces, 1, "512x512 I420");
  /* With detect-every=5 the next frame would carry the box; new caps force a detection. */
  gst_harness_set_src_caps (h, gst_caps_ref (gst_sample_get_caps (a_small)));
  f = push_pull (h, a_small, FALSE);
  check_faces_extra (&f, small, 1, TRUE, "384x384 RGBx after a caps change");
  FER_CHECK (f.fresh, "caps change must not carry boxes of the old size");
  gst_harness_set_src_caps (h, gst_caps_ref (gst_sample_get_caps (five)));
  f = push_pull (h, five, FALSE);
  check_faces_extra (&f, half, 5, TRUE, "960x699 NV12 after a caps change");
  gst_harness_set_src_caps (h, gst_caps_ref (gst_sample_get_caps (a)));
  f = push_pull (h, a, FALSE);
  check_faces (&f, dt_astronaut_faces, 1, "back to 512x512 I420");
  gst_harness_teardown (h);
  gst_sample_unref (a);
  gst_sample_unref (a_small);
  gst_sample_unref (five);
  g_print ("ok  caps change mid-stream (size and format)\n");
}

/* A flat gray frame of the same caps as sample. */
static GstSample *
blank_like (GstSample * sample)
{
  GstBuffer *src = gst_sample_get_buffer (sample);
  GstBuffer *b = gst_buffer_new_allocate (NULL, gst_buffer_get_size (src), NULL);
  gst_buffer_memset (b, 0, 128, gst_buffer_get_size (src));
  GstSample *s = gst_sample_new (b, gst_sample_get_caps (sample), NULL, NULL);
  gst_buffer_unref (b);
  return s;
}

static void
test_detect_every (const gchar * astronaut)
{
  GstSample *a = dt_decode (astronaut, GST_VIDEO_FORMAT_GRAY8, 0, 0);
  GstSample *blank = blank_like (a);
  GstHarness *h = harness_for (a, "detect-every=3");
  Found f;

  f = push_pull (h, a, FALSE);
  check_faces (&f, dt_astronaut_faces, 1, "detect-every frame 0");
  FER_CHECK (f.fresh, "frame 0 is detected");
  for (gint i = 1; i < 3; i++) {
    f = push_pull (h, blank, FALSE);
    check_faces (&f, dt_astronaut_faces, 1, "carried box");
    FER_CHECK (!f.fresh, "frame %d must carry the box (fresh=FALSE)", i);
  }
  f = push_pull (h, blank, FALSE);
  FER_CHECK (f.n == 0, "frame 3 is detected again: the blank frame has no face (%d)", f.n);
  gst_harness_teardown (h);
  gst_sample_unref (a);
  gst_sample_unref (blank);
  g_print ("ok  detect-every carries boxes between detections\n");
}

static void
test_runtime_properties (const gchar * astronaut)
{
  GstSample *a = dt_decode (astronaut, GST_VIDEO_FORMAT_BGRx, 0, 0);
  GstHarness *h = harness_for (a, NULL);
  GstElement *det = gst_harness_find_element (h, "ferfacedetect");
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  Found f;

  gst_element_set_bus (h->element, bus);
  f = push_pull (h, a, FALSE);
  check_faces (&f, dt_astronaut_faces, 1, "playing");
  g_object_set (det, "min-size", 200, NULL);
  f = push_pull (h, a, FALSE);
  FER_CHECK (f.n == 0, "min-size 200 while playing: %d faces (face is 104 px)", f.n);
  g_object_set (det, "min-size", 48, "max-size", 80, NULL);
  f = push_pull (h, a, FALSE);
  FER_CHECK (f.n == 0, "max-size 80 while playing: %d faces", f.n);
  g_object_set (det, "max-size", 0, "cascade", LBP_FRONTAL, NULL);
  f = push_pull (h, a, FALSE);
  check_faces (&f, dt_astronaut_faces, 1, "LBP cascade set while playing");
  g_object_set (det, "cascade", "/nonexistent/cascade.xml", NULL);
  FER_CHECK (gst_harness_push (h, gst_buffer_ref (gst_sample_get_buffer (a))) ==
      GST_FLOW_ERROR, "a bad cascade set while playing must stop the stream");
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  FER_CHECK (msg, "no error message for the bad cascade");
  gst_message_unref (msg);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_object_unref (det);
  gst_harness_teardown (h);
  gst_sample_unref (a);
  g_print ("ok  properties changed while playing\n");
}

static void
test_keeps_metas (const gchar * astronaut)
{
  GstSample *a = dt_decode (astronaut, GST_VIDEO_FORMAT_RGB, 0, 0);
  GstBuffer *in = gst_buffer_copy (gst_sample_get_buffer (a));
  GstHarness *h = harness_for (a, NULL);
  GstBuffer *out;
  Found f;

  gst_buffer_add_video_region_of_interest_meta (in, "eyes", 200, 100, 60, 20);
  out = gst_harness_push_and_pull (h, in);
  f = faces_of (out);
  FER_CHECK (f.other_metas == 1 && f.n == 1, "upstream meta dropped or face missing");
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  gst_sample_unref (a);
  g_print ("ok  metas already on the buffer are kept\n");
}

typedef struct ClipStats {
  gint frames, with_face, multiple;
} ClipStats;

static GstPadProbeReturn
count_faces (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  ClipStats *st = data;
  Found f = faces_of (GST_PAD_PROBE_INFO_BUFFER (info));
  (void) pad;
  st->frames++;
  st->with_face += f.n > 0;
  st->multiple += f.n > 1;
  return GST_PAD_PROBE_OK;
}

static void
test_clip (void)
{
  gchar *clip = fer_gst_test_find_sample ("cap13_edit2.mp4", NULL);
  ClipStats st = { 0 };
  if (!clip) {
    g_print ("note: data/samples/cap13_edit2.mp4 missing, clip check skipped\n");
    return;
  }
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "ferfacedetect name=det method=cascade ! fakesink sync=false", clip);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *det = gst_bin_get_by_name (GST_BIN (pipe), "det");
  GstPad *src = gst_element_get_static_pad (det, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, count_faces, &st, NULL);
  gchar *error = fer_gst_test_run_pipeline (pipe, 240);
  FER_CHECK (error == NULL, "clip pipeline: %s", error);
  FER_CHECK (st.frames == 765, "%d frames, want 765", st.frames);
  FER_CHECK (st.with_face >= st.frames * 95 / 100, "face in only %d of %d frames",
      st.with_face, st.frames);
  FER_CHECK (st.multiple == 0, "%d frames with more than one box (one person)", st.multiple);
  g_print ("ok  sample clip: face in %d of %d frames, never two boxes\n", st.with_face,
      st.frames);
  gst_object_unref (src);
  gst_object_unref (det);
  gst_object_unref (pipe);
  g_free (desc);
  g_free (clip);
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);
  if (!g_file_test (LBP_FRONTAL, G_FILE_TEST_EXISTS)) {
    g_print ("SKIP: opencv-data is not installed\n");
    return FER_TEST_SKIP;
  }
  gchar *astronaut = dt_sample ("astronaut.png");
  gchar *sample5 = dt_sample ("sample5.jpg");

  test_properties ();
  test_bad_cascade ();
  test_formats (astronaut);
  test_caps_change (astronaut, sample5);
  test_detect_every (astronaut);
  test_runtime_properties (astronaut);
  test_keeps_metas (astronaut);
  test_clip ();
  FER_CHECK (fer_gst_test_alive_buffers () == 0, "%d pushed buffers leaked",
      fer_gst_test_alive_buffers ());
  g_free (astronaut);
  g_free (sample5);
  return 0;
}
