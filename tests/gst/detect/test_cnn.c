/* ferfacedetect method=cnn in GstHarness: property defaults and validation; a missing or
 * corrupt model fails NULL->READY with one error line naming the file (runs without the
 * model); with the converted model (data/models/fetch.sh; the rest skips with exit 77
 * without it): the recorded faces of sample5.jpg are found in every input format, each ROI
 * carries a "fer/landmarks" param with six keypoints whose eyes lie in the upper half of the
 * box, and detect-every carries boxes and landmarks. */
#include <string.h>
#include <gst/check/gstharness.h>

#include "detect_test.h"
#include "gstferfacedetect.h"

static void
test_properties (void)
{
  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  gint method = -1, threads = -1;
  gdouble min_score = -1, nms_iou = -1;

  FER_CHECK (e, "cannot make ferfacedetect");
  g_object_get (e, "method", &method, "min-score", &min_score, "nms-iou", &nms_iou,
      "threads", &threads, NULL);
  FER_CHECK (method == GST_FER_DETECT_METHOD_CNN && min_score == 0.6 && nms_iou == 0.3 &&
      threads == 1, "defaults: method %d min-score %g nms-iou %g threads %d", method,
      min_score, nms_iou, threads);
  /* Out-of-range values are refused by the GParamSpec (the value stays). */
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), "min-score");
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_DOUBLE);
  g_value_set_double (&v, 1.5);
  FER_CHECK (g_param_value_validate (ps, &v), "min-score 1.5 accepted");
  g_value_unset (&v);
  gst_object_unref (e);
  g_print ("ok  properties: method=cnn min-score=0.6 nms-iou=0.3 threads=1 by default\n");
}

/* NULL->READY must fail with an error whose text names path and contains needle. */
static void
expect_model_failure (const gchar * path, const gchar * needle)
{
  GstElement *e = gst_element_factory_make ("ferfacedetect", NULL);
  GstBus *bus = gst_bus_new ();
  GError *err = NULL;
  gchar *dbg = NULL;

  gst_element_set_bus (e, bus);
  g_object_set (e, "model", path, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "method", "cnn");
  FER_CHECK (gst_element_set_state (e, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE,
      "model %s: state change did not fail", path);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  FER_CHECK (msg, "model %s: no error message", path);
  gst_message_parse_error (msg, &err, &dbg);
  FER_CHECK (strstr (err->message, path) && strstr (err->message, needle) &&
      !strchr (err->message, '\n'), "model %s: error \"%s\" should be one line naming the "
      "file and saying \"%s\"", path, err->message, needle);
  g_print ("ok  bad model: %s\n", err->message);
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

static void
test_bad_models (void)
{
  gchar *dir = fer_gst_test_tmpdir ();
  gchar *missing = g_build_filename (dir, "missing.fer", NULL);
  gchar *garbage = g_build_filename (dir, "garbage.fer", NULL);

  FER_CHECK (g_file_set_contents (garbage, "not a model at all", -1, NULL), "write");
  expect_model_failure (missing, "does not exist");
  expect_model_failure (garbage, "Cannot load face detector model");
  fer_gst_test_rmdir (dir);
  g_free (dir);
  g_free (missing);
  g_free (garbage);
}

typedef struct CnnFaces {
  DtBox box[16];
  gint n, with_landmarks;
  gboolean fresh;
} CnnFaces;

static gfloat
array_float (const GstStructure * s, const gchar * field, guint i)
{
  const GValue *arr = gst_structure_get_value (s, field);
  FER_CHECK (arr && GST_VALUE_HOLDS_ARRAY (arr) && i < gst_value_array_get_size (arr),
      "landmarks field %s[%u] missing", field, i);
  return g_value_get_float (gst_value_array_get_value (arr, i));
}

static CnnFaces
cnn_faces (GstBuffer * buf)
{
  CnnFaces f = { 0 };
  gpointer state = NULL;
  GstVideoRegionOfInterestMeta *roi;

  f.fresh = TRUE;
  while ((roi = fer_buffer_iterate_faces (buf, &state))) {
    GstStructure *det = gst_video_region_of_interest_meta_get_param (roi, FER_DETECTION_PARAM);
    GstStructure *lm = gst_video_region_of_interest_meta_get_param (roi, FER_LANDMARKS_PARAM);
    gdouble score = 0;
    gboolean fresh = FALSE;
    FER_CHECK (det && gst_structure_get_double (det, "score", &score) &&
        gst_structure_get_boolean (det, "fresh", &fresh) &&
        g_strcmp0 (gst_structure_get_string (det, "method"), "cnn") == 0,
        "face without a cnn %s param", FER_DETECTION_PARAM);
    FER_CHECK (score >= 0.6 && score <= 1.0, "score %g below min-score 0.6", score);
    f.fresh &= fresh;
    if (lm) {
      const GValue *names = gst_structure_get_value (lm, "names");
      FER_CHECK (names && gst_value_array_get_size (names) == 6 &&
          g_strcmp0 (g_value_get_string (gst_value_array_get_value (names, 0)),
              "right-eye") == 0, "landmark names");
      /* Both eyes inside the box, in its upper part (tolerance: a tenth of the box). */
      for (guint k = 0; k < 2; k++) {
        gfloat x = array_float (lm, "x", k), y = array_float (lm, "y", k);
        FER_CHECK (x >= roi->x - 0.1f * roi->w && x <= roi->x + 1.1f * roi->w &&
            y >= roi->y - 0.1f * roi->h && y <= roi->y + 0.6f * roi->h,
            "eye %u at (%.1f, %.1f) outside the upper part of box [%u %u %u %u]", k, x, y,
            roi->x, roi->y, roi->w, roi->h);
      }
      /* The subject's right eye is on the image's left. */
      FER_CHECK (array_float (lm, "x", 0) < array_float (lm, "x", 1), "eyes swapped");
      f.with_landmarks++;
    }
    if (f.n < 16)
      f.box[f.n++] = (DtBox) { (gint) roi->x, (gint) roi->y, (gint) roi->w, (gint) roi->h };
  }
  return f;
}

static void
test_formats (void)
{
  static const GstVideoFormat formats[] = {
    GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
    GST_VIDEO_FORMAT_GRAY8,
  };
  gchar *path = dt_sample ("sample5.jpg");
  DtBox truth[5];

  /* 640 wide: faces of 56-84 px; the boxes of faces.json (two re-centred by eye) */
  const gdouble s = 640.0 / 1920;
  for (gint i = 0; i < 5; i++) {
    DtBox b = dt_sample5_faces[i];
    if (i == 1)
      b = (DtBox) { 609, 456, 174, 180 };
    if (i == 2)
      b = (DtBox) { 1100, 240, 180, 180 };
    truth[i] = (DtBox) { (gint) (b.x * s), (gint) (b.y * s), (gint) (b.w * s), (gint) (b.h * s) };
  }
  for (gsize k = 0; k < G_N_ELEMENTS (formats); k++) {
    GstSample *sample = dt_decode (path, formats[k], 640, 466);
    GstHarness *h = gst_harness_new_parse ("ferfacedetect method=cnn detect-every=2");
    gst_harness_set_src_caps (h, gst_caps_ref (gst_sample_get_caps (sample)));
    for (gint frame = 0; frame < 2; frame++) {
      GstBuffer *out = gst_harness_push_and_pull (h,
          gst_buffer_ref (gst_sample_get_buffer (sample)));
      CnnFaces f = cnn_faces (out);
      gchar *str = dt_boxes_string (f.box, f.n);
      const gchar *fmt = gst_video_format_to_string (formats[k]);
      FER_CHECK (dt_matched (truth, 5, f.box, f.n, 0.5) == 5 && f.n == 5,
          "%s: found %s, want the 5 recorded faces", fmt, str);
      FER_CHECK (f.with_landmarks == 5, "%s: %d of 5 faces with landmarks", fmt,
          f.with_landmarks);
      FER_CHECK (f.fresh == (frame == 0), "%s frame %d: fresh should be %d", fmt, frame,
          frame == 0);
      if (frame == 0)
        g_print ("ok  %s: %s, landmarks on all\n", fmt, str);
      g_free (str);
      gst_buffer_unref (out);
    }
    gst_harness_teardown (h);
    gst_sample_unref (sample);
  }
  g_free (path);
}

/* Video caps with a frame rate (what decoders give; the RGB converter once refused them). */
static void
test_clip_caps (void)
{
  GstHarness *h = gst_harness_new_parse ("ferfacedetect method=cnn");
  gst_harness_set_src_caps_str (h, "video/x-raw,format=I420,width=320,height=240,"
      "framerate=25/1,pixel-aspect-ratio=1/1,interlace-mode=progressive,"
      "colorimetry=bt601,chroma-site=mpeg2");
  GstBuffer *out = gst_harness_push_and_pull (h,
      fer_gst_test_frame (GST_VIDEO_FORMAT_I420, 320, 240, 3));
  FER_CHECK (out, "I420 25/1 frame: no output (conversion to RGB failed?)");
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_print ("ok  I420 with a frame rate and bt601 colorimetry\n");
}

/* A default model that is not installed (FER_DETECTOR_MODEL naming a missing file stands in for
 * a machine without data/models/fetch.sh): READY succeeds, with one warning naming the file and
 * the cascade it runs instead. */
static void
test_missing_default_falls_back (void)
{
  const gchar *missing = "/nonexistent/fer-test/blazeface.fer";
  GstElement *e;
  GstBus *bus = gst_bus_new ();
  GError *err = NULL;
  gchar *dbg = NULL;

  g_setenv ("FER_DETECTOR_MODEL", missing, TRUE);
  e = gst_element_factory_make ("ferfacedetect", NULL);
  g_unsetenv ("FER_DETECTOR_MODEL");
  FER_CHECK (e, "cannot make ferfacedetect");
  gst_element_set_bus (e, bus);
  FER_CHECK (gst_element_set_state (e, GST_STATE_READY) == GST_STATE_CHANGE_SUCCESS,
      "a missing default model failed the state change instead of falling back");
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  FER_CHECK (msg, "no warning for the missing default model");
  gst_message_parse_warning (msg, &err, &dbg);
  FER_CHECK (strstr (err->message, missing) && strstr (err->message, "method=cascade"),
      "warning \"%s\" should name %s and the cascade", err->message, missing);
  g_print ("ok  missing default model: %s\n", err->message);
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

int
main (int argc, char **argv)
{
  fer_gst_test_init (&argc, &argv);
  test_properties ();
  test_bad_models ();
  test_missing_default_falls_back ();
  gchar *model = gst_fer_face_detect_default_model ();
  if (!model) {
    g_print ("SKIP: the converted face detector model is not installed "
        "(data/models/fetch.sh); method=cnn detection not tested\n");
    return FER_TEST_SKIP;
  }
  g_print ("model: %s\n", model);
  g_free (model);
  test_clip_caps ();
  test_formats ();
  return 0;
}
