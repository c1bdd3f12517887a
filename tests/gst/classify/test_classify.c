/* ferclassify under GstHarness: a param on every face in every format, stable track ids,
 * properties, state-change failures, JSON Lines, messages, caps changes, min-confidence. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gst/check/gstharness.h>

#include "fer/quant.h"
#include "fer_gst_test.h"
#include "ferclassify.h"
#include "fervideo.h"

/* The fixed model answers softmax(LOGITS) for every face (training class order: angry,
 * disgust, fear, happy, neutral, sad, surprise): "happy" first, "surprise" second. */
static const gfloat LOGITS[7] = { 0.0f, -1.0f, 0.5f, 3.0f, 0.2f, 0.0f, 1.5f };
static gdouble expected[7];
static gchar *tmpdir, *fixed_model, *random_model;

static const GstVideoFormat all_formats[] = {
  GST_VIDEO_FORMAT_GRAY8, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx,
  GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
};

static GstHarness *
classify_harness (const gchar * model, GstVideoFormat format, gint w, gint h, ...)
{
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);
  GstHarness *hr;
  gchar *caps = fer_gst_test_caps_string (format, w, h);
  const gchar *first;
  va_list ap;

  FER_CHECK (e != NULL, "ferclassify not registered");
  g_object_set (e, "model", model, "backend", 1 /* cpu */ , NULL);
  va_start (ap, h);
  first = va_arg (ap, const gchar *);
  if (first)
    g_object_set_valist (G_OBJECT (e), first, ap);
  va_end (ap);
  hr = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (hr, caps);
  g_free (caps);
  return hr;
}

static GstStructure *
expression_of (GstVideoRegionOfInterestMeta * roi)
{
  return gst_video_region_of_interest_meta_get_param (roi, FER_EXPRESSION_PARAM);
}

static guint
count_params (GstVideoRegionOfInterestMeta * roi)
{
  guint n = 0;
  for (GList * l = roi->params; l; l = l->next)
    n += gst_structure_has_name (l->data, FER_EXPRESSION_PARAM);
  return n;
}

/* Checks the param against the fixed model's answer; returns its track id. */
static gint
check_expression (GstVideoRegionOfInterestMeta * roi, const gchar * where)
{
  GstStructure *s = expression_of (roi);
  const GValue *probs, *names;
  gdouble conf, sum = 0.0;
  gint id;

  FER_CHECK (s != NULL, "%s: face %u,%u %ux%u has no %s param", where, roi->x, roi->y, roi->w,
      roi->h, FER_EXPRESSION_PARAM);
  FER_CHECK (count_params (roi) == 1, "%s: %u expression params", where, count_params (roi));
  FER_CHECK (g_strcmp0 (gst_structure_get_string (s, "label"), "happy") == 0,
      "%s: label %s", where, gst_structure_get_string (s, "label"));
  FER_CHECK (gst_structure_get_double (s, "confidence", &conf), "%s: no confidence", where);
  FER_CHECK (fabs (conf - expected[3]) < 1e-4, "%s: confidence %f, expected %f", where, conf,
      expected[3]);
  FER_CHECK (gst_structure_get_int (s, "track-id", &id) && id > 0, "%s: track-id", where);
  probs = gst_structure_get_value (s, "probabilities");
  names = gst_structure_get_value (s, "class-names");
  FER_CHECK (probs && gst_value_array_get_size (probs) == 7, "%s: probabilities", where);
  FER_CHECK (names && gst_value_array_get_size (names) == 7, "%s: class-names", where);
  for (guint c = 0; c < 7; c++) {
    gdouble p = g_value_get_double (gst_value_array_get_value (probs, c));
    FER_CHECK (fabs (p - expected[c]) < 1e-4, "%s: p[%u] = %f, expected %f", where, c, p,
        expected[c]);
    sum += p;
  }
  FER_CHECK (fabs (sum - 1.0) < 1e-4, "%s: probabilities sum to %f", where, sum);
  FER_CHECK (g_strcmp0 (g_value_get_string (gst_value_array_get_value (names, 3)), "happy") == 0
      && g_strcmp0 (g_value_get_string (gst_value_array_get_value (names, 0)), "angry") == 0,
      "%s: class-names not in training order", where);
  return id;
}

static void
test_params_on_every_face_all_formats (void)
{
  for (gsize f = 0; f < G_N_ELEMENTS (all_formats); f++) {
    const gchar *fmt = gst_video_format_to_string (all_formats[f]);
    GstHarness *h = classify_harness (fixed_model, all_formats[f], 320, 240, NULL);
    GstBuffer *in = fer_gst_test_frame (all_formats[f], 320, 240, (guint) f), *out;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    guint n_faces = 0, n_eyes = 0;
    gint ids[4] = { 0 };

    fer_gst_test_add_face (in, 40, 30, 80, 90);
    fer_gst_test_add_face (in, 250, 180, 120, 120);   /* reaches past the frame edge */
    fer_gst_test_add_face (in, 5, 5, 1, 1);            /* degenerate but still a face */
    gst_buffer_add_video_region_of_interest_meta (in, "eyes", 50, 50, 30, 10);
    out = gst_harness_push_and_pull (h, in);
    FER_CHECK (out != NULL, "%s: no output buffer", fmt);
    while ((roi = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (out,
                &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
      if (roi->roi_type == g_quark_from_string ("eyes")) {
        FER_CHECK (expression_of (roi) == NULL, "%s: non-face ROI was classified", fmt);
        n_eyes++;
        continue;
      }
      ids[n_faces] = check_expression (roi, fmt);
      n_faces++;
    }
    FER_CHECK (n_faces == 3 && n_eyes == 1, "%s: %u faces + %u eyes out (metas dropped)", fmt,
        n_faces, n_eyes);
    FER_CHECK (ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "%s: faces share track ids", fmt);
    gst_buffer_unref (out);
    FER_CHECK (gst_harness_buffers_in_queue (h) == 0, "%s: extra buffers", fmt);
    gst_harness_teardown (h);
  }
}

/* The same gray picture in every format reaches the network as (nearly) the same face. */
static void
test_same_face_every_format (void)
{
  gdouble ref[7] = { 0 };

  for (gsize f = 0; f < G_N_ELEMENTS (all_formats); f++) {
    GstVideoFormat format = all_formats[f];
    GstHarness *h = classify_harness (random_model, format, 160, 120, "smoothing", 0, NULL);
    GstVideoInfo info;
    GstVideoFrame frame;
    GstBuffer *in, *out;
    gpointer state = NULL;
    GstVideoRegionOfInterestMeta *roi;
    const GValue *probs;

    gst_video_info_set_format (&info, format, 160, 120);
    in = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
    FER_CHECK (gst_video_frame_map (&frame, &info, in, GST_MAP_WRITE), "map");
    for (gint y = 0; y < 120; y++)
      for (gint x = 0; x < 160; x++) {
        guint8 v = (guint8) ((x * 37 + y * 11 + ((x / 9) ^ (y / 7)) * 50) & 255);
        if (GST_VIDEO_INFO_IS_RGB (&info)) {
          for (gint c = 0; c < 3; c++) {
            guint8 *p = GST_VIDEO_FRAME_COMP_DATA (&frame, c);
            p[y * GST_VIDEO_FRAME_COMP_STRIDE (&frame, c) +
                x * GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c)] = v;
          }
        } else {
          guint8 *p = GST_VIDEO_FRAME_COMP_DATA (&frame, 0);
          /* YUV caps default to limited range: store 16..235 */
          if (GST_VIDEO_INFO_IS_YUV (&info))
            v = (guint8) (16 + (v * 219 + 127) / 255);
          p[y * GST_VIDEO_FRAME_COMP_STRIDE (&frame, 0) + x] = v;
        }
      }
    if (GST_VIDEO_INFO_IS_YUV (&info))
      for (gint c = 1; c < 3; c++)
        for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&frame, c); y++)
          for (gint x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&frame, c); x++)
            ((guint8 *) GST_VIDEO_FRAME_COMP_DATA (&frame, c))[y *
                GST_VIDEO_FRAME_COMP_STRIDE (&frame, c) +
                x * GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c)] = 128;
    gst_video_frame_unmap (&frame);
    fer_gst_test_add_face (in, 40, 20, 70, 70);
    out = gst_harness_push_and_pull (h, in);
    roi = fer_buffer_iterate_faces (out, &state);
    FER_CHECK (roi && expression_of (roi), "%s: no expression",
        gst_video_format_to_string (format));
    probs = gst_structure_get_value (expression_of (roi), "probabilities");
    for (guint c = 0; c < 7; c++) {
      gdouble p = g_value_get_double (gst_value_array_get_value (probs, c));
      if (f == 0)
        ref[c] = p;
      else
        FER_CHECK (fabs (p - ref[c]) < 0.01, "%s: p[%u] = %f but GRAY8 gave %f",
            gst_video_format_to_string (format), c, p, ref[c]);
    }
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

/* The probabilities the random model gives the one face of a GRAY8 frame (an asymmetric
 * pattern, the face box off-centre), or of the mirror image of that frame (the box mirrored
 * too), with the given tta. */
static void
probs_of_face (gint tta, gboolean mirrored, gdouble * probs)
{
  const gint w = 160, h = 120, bx = 30, by = 20, bs = 70;
  GstHarness *hr = classify_harness (random_model, GST_VIDEO_FORMAT_GRAY8, w, h, "smoothing",
      0, "tta", tta, NULL);
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *in, *out;
  gpointer state = NULL;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_GRAY8, w, h);
  in = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  FER_CHECK (gst_video_frame_map (&frame, &info, in, GST_MAP_WRITE), "map");
  for (gint y = 0; y < h; y++)
    for (gint x = 0; x < w; x++) {
      gint sx = mirrored ? w - 1 - x : x;       /* the source column */
      ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0))[y *
          GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0) + x] =
          (guint8) ((sx * 37 + y * 11 + sx * sx / 7 + ((sx / 9) ^ (y / 7)) * 50) & 255);
    }
  gst_video_frame_unmap (&frame);
  fer_gst_test_add_face (in, mirrored ? w - bx - bs : bx, by, bs, bs);
  out = gst_harness_push_and_pull (hr, in);
  FER_CHECK (fer_gst_test_expression_probs (fer_buffer_iterate_faces (out, &state), probs, 7),
      "tta %d: no probabilities", tta);
  gst_buffer_unref (out);
  gst_harness_teardown (hr);
}

static gdouble
max_abs_diff (const gdouble * a, const gdouble * b)
{
  return fer_gst_test_max_abs_diff (a, b, 7);
}

/* tta=flip averages the logits of a face and its mirror image: the same answer for a frame
 * and its mirror, equal to the softmax of the mean of the two one-pass log-probabilities
 * (logits up to a constant); tta=tencrop's views are mirror-closed too, and differ from flip. */
static void
test_tta (void)
{
  gdouble none[2][7], flip[2][7], ten[2][7], mean[7], z = 0.0, mx = -1e30;

  for (gint m = 0; m < 2; m++) {
    probs_of_face (FER_TTA_NONE, m, none[m]);
    probs_of_face (FER_TTA_FLIP, m, flip[m]);
    probs_of_face (FER_TTA_TENCROP, m, ten[m]);
  }
  /* the tiny random model's probabilities are near uniform: differences of 1e-3 are large */
  FER_CHECK (max_abs_diff (none[0], none[1]) > 2e-4,
      "the random model answers a face and its mirror alike (%g): the test needs them apart",
      max_abs_diff (none[0], none[1]));
  FER_CHECK (max_abs_diff (flip[0], flip[1]) < 2e-5, "tta=flip: mirrored frame differs by %g",
      max_abs_diff (flip[0], flip[1]));
  for (gint c = 0; c < 7; c++) {
    mean[c] = 0.5 * (log (none[0][c]) + log (none[1][c]));
    mx = MAX (mx, mean[c]);
  }
  for (gint c = 0; c < 7; c++)
    z += exp (mean[c] - mx);
  for (gint c = 0; c < 7; c++)
    mean[c] = exp (mean[c] - mx) / z;
  FER_CHECK (max_abs_diff (flip[0], mean) < 2e-5,
      "tta=flip differs from the mean of the two one-pass logits by %g",
      max_abs_diff (flip[0], mean));
  FER_CHECK (max_abs_diff (ten[0], ten[1]) < 2e-5, "tta=tencrop: mirrored frame differs by %g",
      max_abs_diff (ten[0], ten[1]));
  FER_CHECK (max_abs_diff (ten[0], flip[0]) > 2e-4, "tta=tencrop gave flip's answer");
  g_print ("tta: frame vs mirror: one pass %.2g, flip %.2g, tencrop %.2g; flip vs mean of "
      "logits %.2g; tencrop vs flip %.2g\n", max_abs_diff (none[0], none[1]),
      max_abs_diff (flip[0], flip[1]), max_abs_diff (ten[0], ten[1]),
      max_abs_diff (flip[0], mean), max_abs_diff (ten[0], flip[0]));
}

/* Luma of RGB formats uses the 601 weights the gray training images were made with. */
static void
test_luma_weights (void)
{
  const guint8 rgb[4][3] = { {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {200, 100, 50} };
  const guint8 expect[4] = { 76, 150, 29, 124 };
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buf;
  FerLumaScratch scratch = { 0 };
  const guint8 *luma;
  gint stride;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 4, 1);
  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_video_frame_map (&frame, &info, buf, GST_MAP_READWRITE);
  for (gint i = 0; i < 4; i++) {
    guint8 *p = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) + 4 * i;
    p[0] = rgb[i][2];
    p[1] = rgb[i][1];
    p[2] = rgb[i][0];
    p[3] = 0;
  }
  luma = fer_video_frame_luma (&frame, &scratch, &stride);
  for (gint i = 0; i < 4; i++)
    FER_CHECK (luma[i] == expect[i], "luma of (%u,%u,%u) = %u, expected %u", rgb[i][0],
        rgb[i][1], rgb[i][2], luma[i], expect[i]);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  fer_luma_scratch_clear (&scratch);
}

/* Two faces moving across 40 frames, one missing for a frame now and then: stable ids. */
static void
test_tracking_sequence (void)
{
  GstHarness *h = classify_harness (fixed_model, GST_VIDEO_FORMAT_GRAY8, 640, 480, NULL);
  gint first_a = 0, first_b = 0;

  for (gint f = 0; f < 40; f++) {
    GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8, 640, 480, (guint) f), *out;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    gboolean with_b = f % 9 != 4;

    GST_BUFFER_PTS (in) = f * 40 * GST_MSECOND;
    if (with_b)
      fer_gst_test_add_face (in, 500 - 4 * f, 100 + f, 90, 90);
    fer_gst_test_add_face (in, 30 + 3 * f, 200, 100, 110);
    out = gst_harness_push_and_pull (h, in);
    while ((roi = fer_buffer_iterate_faces (out, &state))) {
      gint id = check_expression (roi, "tracking");
      gboolean is_a = roi->y == 200;
      gint *first = is_a ? &first_a : &first_b;
      if (!*first)
        *first = id;
      FER_CHECK (id == *first, "frame %d: face %s changed id %d -> %d", f, is_a ? "A" : "B",
          *first, id);
    }
    gst_buffer_unref (out);
  }
  FER_CHECK (first_a && first_b && first_a != first_b, "ids %d %d", first_a, first_b);
  gst_harness_teardown (h);
}

static void
test_properties (void)
{
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);
  gchar *model = NULL, *loc = NULL;
  gint backend, threads, smoothing;
  gdouble minc, margin, alpha;
  gboolean post;

  g_object_get (e, "model", &model, "results-location", &loc, NULL);
  FER_CHECK (g_strcmp0 (model, gst_fer_classify_default_model ()) == 0,
      "default model %s", model);
  FER_CHECK (g_str_has_suffix (model, "fer_best.fer"), "default model %s", model);
  FER_CHECK (loc == NULL, "default results-location %s", loc);
  g_free (model);
  g_object_get (e, "backend", &backend, "smoothing", &smoothing, "margin", &margin,
      "smoothing-alpha", &alpha, "min-confidence", &minc, "post-messages", &post, NULL);
  FER_CHECK (backend == 0 && smoothing == 1 && post == FALSE && minc == 0.0,
      "defaults: backend %d smoothing %d post %d min-confidence %f", backend, smoothing, post,
      minc);
  FER_CHECK (margin > 0.0 && margin < 0.5 && alpha > 0.0 && alpha < 1.0, "defaults");

  gst_util_set_object_arg (G_OBJECT (e), "backend", "cuda");
  gst_util_set_object_arg (G_OBJECT (e), "smoothing", "none");
  g_object_set (e, "model", "/some/model.fer", "threads", 3, "min-confidence", 0.42,
      "post-messages", TRUE, "results-location", "/tmp/x.jsonl", "margin", 0.25,
      "smoothing-alpha", 0.7, NULL);
  gint every = 0;
  g_object_get (e, "classify-every", &every, NULL);
  FER_CHECK (every == 3, "default classify-every %d", every);
  g_object_set (e, "classify-every", 4, NULL);
  g_object_get (e, "classify-every", &every, NULL);
  FER_CHECK (every == 4, "classify-every read back %d", every);
  gboolean adjust = FALSE; /* the model's stored logit offsets: on by default */
  g_object_get (e, "adjust", &adjust, NULL);
  FER_CHECK (adjust, "default adjust %d", adjust);
  g_object_set (e, "adjust", FALSE, NULL);
  g_object_get (e, "adjust", &adjust, NULL);
  FER_CHECK (!adjust, "adjust read back %d", adjust);
  gint tta = -1;
  g_object_get (e, "tta", &tta, NULL);
  FER_CHECK (tta == FER_TTA_NONE, "default tta %d", tta);
  gst_util_set_object_arg (G_OBJECT (e), "tta", "tencrop");
  g_object_get (e, "tta", &tta, NULL);
  FER_CHECK (tta == FER_TTA_TENCROP, "tta read back %d", tta);
  g_object_get (e, "model", &model, "results-location", &loc, "backend", &backend,
      "threads", &threads, "smoothing", &smoothing, "margin", &margin, "smoothing-alpha",
      &alpha, "min-confidence", &minc, "post-messages", &post, NULL);
  FER_CHECK (g_strcmp0 (model, "/some/model.fer") == 0, "model read back %s", model);
  FER_CHECK (g_strcmp0 (loc, "/tmp/x.jsonl") == 0, "results-location read back %s", loc);
  FER_CHECK (backend == 2 && threads == 3 && smoothing == 0 && post, "enum/int/bool read back");
  FER_CHECK (margin == 0.25 && alpha == 0.7 && minc == 0.42, "doubles read back");
  g_free (model);
  g_free (loc);
  gst_object_unref (e);
}

/* PAUSED must fail with an error message that names the file (precision NULL: the default). */
static void
expect_state_failure (const gchar * model, const gchar * results, const gchar * precision,
    const gchar * must_name)
{
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;

  g_object_set (e, "model", model, "results-location", results, NULL);
  if (precision)
    g_object_set (e, "precision", precision, NULL);
  gst_element_set_bus (e, bus);
  FER_CHECK (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE,
      "state change succeeded with model %s", model);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  FER_CHECK (msg != NULL, "no error message for %s", must_name);
  gst_message_parse_error (msg, &err, &dbg);
  FER_CHECK (strstr (err->message, must_name) != NULL, "error \"%s\" does not name %s",
      err->message, must_name);
  g_printerr ("expected error: %s\n", err->message);
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

static void
test_bad_model_fails_state_change (void)
{
  gchar *missing = g_build_filename (tmpdir, "missing.fer", NULL);
  gchar *corrupt = g_build_filename (tmpdir, "corrupt.fer", NULL);
  gchar *truncated = g_build_filename (tmpdir, "truncated.fer", NULL);
  gchar *bad_results = g_build_filename (tmpdir, "no-dir", "out.jsonl", NULL);
  gchar *data = NULL;
  gsize len = 0;

  expect_state_failure (missing, NULL, NULL, missing);
  g_file_set_contents (corrupt, "this is not a checkpoint\n", -1, NULL);
  expect_state_failure (corrupt, NULL, NULL, corrupt);
  FER_CHECK (g_file_get_contents (fixed_model, &data, &len, NULL), "read model");
  g_file_set_contents (truncated, data, (gssize) (len / 2), NULL);
  expect_state_failure (truncated, NULL, NULL, truncated);
  expect_state_failure (fixed_model, bad_results, NULL, bad_results);
  g_free (data);
  g_free (missing);
  g_free (corrupt);
  g_free (truncated);
  g_free (bad_results);
}

/* TRUE when tmpdir holds a PREFIX*.tmp file (the writer's LOCATION.XXXXXX.tmp). */
static gboolean
has_tmp_file (const gchar * prefix)
{
  GDir *d = g_dir_open (tmpdir, 0, NULL);
  const gchar *name;
  gboolean found = FALSE;

  while (d && !found && (name = g_dir_read_name (d)))
    found = g_str_has_prefix (name, prefix) && g_str_has_suffix (name, ".tmp");
  if (d)
    g_dir_close (d);
  return found;
}

static void
test_jsonl_complete_after_eos (void)
{
  gchar *path = g_build_filename (tmpdir, "frames.jsonl", NULL);
  gchar *tmp = g_strconcat (path, ".tmp", NULL);
  GstHarness *h = classify_harness (fixed_model, GST_VIDEO_FORMAT_I420, 320, 240,
      "results-location", path, NULL);
  const gint n = 25;
  gchar *text = NULL, **lines;

  for (gint f = 0; f < n; f++) {
    GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_I420, 320, 240, (guint) f);
    GST_BUFFER_PTS (in) = f * 40 * GST_MSECOND;
    for (gint k = 0; k < f % 3; k++)
      fer_gst_test_add_face (in, 20 + 120 * k, 40, 80, 80);
    gst_buffer_unref (gst_harness_push_and_pull (h, in));
  }
  FER_CHECK (!g_file_test (path, G_FILE_TEST_EXISTS), "results renamed before EOS");
  FER_CHECK (has_tmp_file ("frames.jsonl."), "no temporary results file while playing");
  FER_CHECK (gst_harness_push_event (h, gst_event_new_eos ()), "EOS not handled");
  FER_CHECK (!g_file_test (tmp, G_FILE_TEST_EXISTS) && !has_tmp_file ("frames.jsonl."),
      "temp file left after EOS");
  FER_CHECK (g_file_get_contents (path, &text, NULL, NULL), "no results file after EOS");
  lines = g_strsplit (text, "\n", -1);
  FER_CHECK (g_strv_length (lines) == (guint) n + 1 && *lines[n] == '\0',
      "%u lines for %d frames", g_strv_length (lines) - 1, n);
  for (gint f = 0; f < n; f++) {
    cJSON *root = cJSON_Parse (lines[f]), *faces;
    FER_CHECK (root != NULL, "line %d is not valid JSON: %s", f, lines[f]);
    FER_CHECK (cJSON_GetObjectItem (root, "frame")->valueint == f, "line %d: frame", f);
    FER_CHECK (cJSON_GetObjectItem (root, "pts_ns")->valuedouble == f * 40e6,
        "line %d: pts_ns", f);
    faces = cJSON_GetObjectItem (root, "faces");
    FER_CHECK (cJSON_GetArraySize (faces) == f % 3, "line %d: %d faces", f,
        cJSON_GetArraySize (faces));
    for (gint k = 0; k < f % 3; k++) {
      cJSON *face = cJSON_GetArrayItem (faces, k), *box = cJSON_GetObjectItem (face, "box");
      cJSON *probs = cJSON_GetObjectItem (face, "probabilities");
      FER_CHECK (cJSON_GetArrayItem (box, 0)->valueint == 20 + 120 * k &&
          cJSON_GetArrayItem (box, 3)->valueint == 80, "line %d: box", f);
      FER_CHECK (strcmp (cJSON_GetObjectItem (face, "label")->valuestring, "happy") == 0,
          "line %d: label", f);
      FER_CHECK (cJSON_GetObjectItem (face, "track_id")->valueint > 0, "line %d: track", f);
      FER_CHECK (cJSON_GetArraySize (probs) == 7 &&
          strcmp (cJSON_GetArrayItem (probs, 3)->string, "happy") == 0 &&
          fabs (cJSON_GetArrayItem (probs, 6)->valuedouble - expected[6]) < 1e-3,
          "line %d: probabilities: %s", f, lines[f]);
    }
    cJSON_Delete (root);
  }
  g_strfreev (lines);
  g_free (text);
  gst_harness_teardown (h);
  g_unlink (path);
  g_free (path);
  g_free (tmp);
}

/* Size and format change mid-stream: renegotiates, keeps classifying, restarts tracks. */
static void
test_caps_change (void)
{
  GstHarness *h = classify_harness (fixed_model, GST_VIDEO_FORMAT_RGB, 320, 240, NULL);
  gint id_before = 0, id_after = 0;
  gchar *caps;

  for (gint f = 0; f < 10; f++) {
    gboolean big = f >= 5;
    GstVideoFormat fmt = big ? GST_VIDEO_FORMAT_NV12 : GST_VIDEO_FORMAT_RGB;
    GstBuffer *in, *out;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    if (f == 5) {
      caps = fer_gst_test_caps_string (fmt, 640, 480);
      gst_harness_set_src_caps_str (h, caps);
      g_free (caps);
    }
    in = fer_gst_test_frame (fmt, big ? 640 : 320, big ? 480 : 240, (guint) f);
    fer_gst_test_add_face (in, 100, 60, 100, 100);
    out = gst_harness_push_and_pull (h, in);
    FER_CHECK (out && gst_buffer_get_size (out) == gst_buffer_get_size (in),
        "frame %d lost or resized", f);
    roi = fer_buffer_iterate_faces (out, &state);
    FER_CHECK (roi, "frame %d: face meta dropped", f);
    gint id = check_expression (roi, big ? "after caps change" : "before caps change");
    if (!big)
      id_before = id;
    else if (!id_after)
      id_after = id;
    gst_buffer_unref (out);
  }
  FER_CHECK (id_after != id_before, "track survived a size change (%d)", id_before);
  gst_harness_teardown (h);
}

static void
test_messages_and_min_confidence (void)
{
  GstHarness *h = classify_harness (fixed_model, GST_VIDEO_FORMAT_BGRx, 320, 240,
      "post-messages", TRUE, "min-confidence", 0.99, NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  guint n_msgs = 0;

  gst_element_set_bus (h->element, bus);
  for (gint f = 0; f < 4; f++) {
    GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_BGRx, 320, 240, (guint) f), *out;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    for (gint k = 0; k < f; k++)
      fer_gst_test_add_face (in, 10 + 100 * k, 50, 90, 90);
    out = gst_harness_push_and_pull (h, in);
    while ((roi = fer_buffer_iterate_faces (out, &state)))
      FER_CHECK (g_strcmp0 (gst_structure_get_string (expression_of (roi), "label"),
              FER_LABEL_UNCERTAIN) == 0, "low-confidence face not labelled uncertain");
    gst_buffer_unref (out);
  }
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    guint64 frame;
    if (gst_structure_has_name (s, "fer")) {
      const GValue *faces = gst_structure_get_value (s, "faces");
      FER_CHECK (gst_structure_get_uint64 (s, "frame", &frame) && frame == n_msgs,
          "message frame number");
      FER_CHECK (faces && gst_value_array_get_size (faces) == n_msgs,
          "message %u has %u faces", n_msgs, faces ? gst_value_array_get_size (faces) : 0);
      if (n_msgs > 0) {
        const GstStructure *face =
            gst_value_get_structure (gst_value_array_get_value (faces, 0));
        gint x;
        FER_CHECK (gst_structure_get_int (face, "x", &x) && x == 10, "message face box");
        FER_CHECK (gst_structure_has_field (face, "probabilities") &&
            gst_structure_has_field (face, "track-id"), "message face fields");
      }
      n_msgs++;
    }
    gst_message_unref (msg);
  }
  FER_CHECK (n_msgs == 4, "%u fer messages for 4 frames", n_msgs);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* Two classifiers in a row: the second replaces the param instead of stacking a second one. */
static void
test_second_classifier_replaces_param (void)
{
  gchar *line = g_strdup_printf ("ferclassify model=\"%s\" ! ferclassify model=\"%s\"",
      fixed_model, fixed_model);
  GstHarness *h = gst_harness_new_parse (line);
  gchar *caps = fer_gst_test_caps_string (GST_VIDEO_FORMAT_GRAY8, 200, 200);
  GstBuffer *in, *out;
  GstVideoRegionOfInterestMeta *roi;
  gpointer state = NULL;

  gst_harness_set_src_caps_str (h, caps);
  in = fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8, 200, 200, 1);
  fer_gst_test_add_face (in, 50, 50, 80, 80);
  out = gst_harness_push_and_pull (h, in);
  roi = fer_buffer_iterate_faces (out, &state);
  FER_CHECK (roi, "face dropped");
  check_expression (roi, "two classifiers");
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_free (caps);
  g_free (line);
}

/* More faces than one classifier batch; every frame pushed is freed again (none leaked or
 * kept), with faces, without, across EOS and teardown. */
static void
test_many_faces_and_no_leaked_frames (void)
{
  gchar *path = g_build_filename (tmpdir, "leak.jsonl", NULL);
  GstHarness *h = classify_harness (fixed_model, GST_VIDEO_FORMAT_NV12, 640, 480,
      "results-location", path, "post-messages", TRUE, NULL);
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (h->element, bus);
  for (gint f = 0; f < 6; f++) {
    GstBuffer *in = fer_gst_test_track (fer_gst_test_frame (GST_VIDEO_FORMAT_NV12, 640, 480,
            (guint) f)), *out;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    guint n = 0, want = f % 2 ? 40 : 0;
    for (guint k = 0; k < want; k++)
      fer_gst_test_add_face (in, (gint) (k % 8) * 78, (gint) (k / 8) * 90, 70, 80);
    out = gst_harness_push_and_pull (h, in);
    while ((roi = fer_buffer_iterate_faces (out, &state))) {
      check_expression (roi, "many faces");
      n++;
    }
    FER_CHECK (n == want, "%u of %u faces came out", n, want);
    gst_buffer_unref (out);
  }
  FER_CHECK (gst_harness_push_event (h, gst_event_new_eos ()), "EOS");
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);       /* with its queued messages */
  gst_harness_teardown (h);
  FER_CHECK (fer_gst_test_alive_buffers () == 0, "%d frame(s) leaked",
      fer_gst_test_alive_buffers ());
  g_unlink (path);
  g_free (path);
}

/* classify-every=3: the network runs on frames 0, 3, 6 of a track; in between the face carries
 * the last probabilities (smoothing none makes that exact); a new face is classified at once. */
static void
test_classify_every (void)
{
  GstHarness *h = classify_harness (random_model, GST_VIDEO_FORMAT_GRAY8, 320, 240,
      "classify-every", 3, "smoothing", 0, NULL);
  gdouble last[7] = { 0 }, first_new = -1.0;
  guint changes = 0;

  for (gint f = 0; f < 9; f++) {
    GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8, 320, 240, (guint) f * 5), *out;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    fer_gst_test_add_face (in, 50, 50, 100, 100);
    if (f == 4)
      fer_gst_test_add_face (in, 200, 60, 90, 90);    /* appears between classifications */
    out = gst_harness_push_and_pull (h, in);
    while ((roi = fer_buffer_iterate_faces (out, &state))) {
      const GValue *probs = gst_structure_get_value (expression_of (roi), "probabilities");
      gboolean same = TRUE;
      if (roi->x == 200) {
        first_new = g_value_get_double (gst_value_array_get_value (probs, 0));
        continue;
      }
      for (guint c = 0; c < 7; c++) {
        gdouble p = g_value_get_double (gst_value_array_get_value (probs, c));
        same &= p == last[c];
        last[c] = p;
      }
      if (f % 3 != 0)
        FER_CHECK (same, "frame %d: probabilities changed between classifications", f);
      else
        changes += !same;
    }
    gst_buffer_unref (out);
  }
  FER_CHECK (changes == 3, "the network changed the answer on %u of 3 classified frames",
      changes);
  FER_CHECK (first_new >= 0.0, "the new face had no probabilities");
  gst_harness_teardown (h);
}

/* Six faces appearing together with classify-every=3: after the first frame the network sees
 * about two faces per frame, and each face is reclassified within 2*3 frames. */
static void
test_classify_every_spreads_work (void)
{
  GstHarness *h = classify_harness (random_model, GST_VIDEO_FORMAT_GRAY8, 640, 240,
      "smoothing", 0, NULL);
  gdouble last[6] = { 0 };
  gint last_change[6] = { 0 };

  for (gint f = 0; f < 13; f++) {
    GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_GRAY8, 640, 240, (guint) f * 3), *out;
    GstVideoRegionOfInterestMeta *roi;
    gpointer state = NULL;
    guint changed = 0;
    for (gint k = 0; k < 6; k++)
      fer_gst_test_add_face (in, 5 + k * 105, 60, 100, 100);
    out = gst_harness_push_and_pull (h, in);
    while ((roi = fer_buffer_iterate_faces (out, &state))) {
      gint k = (gint) (roi->x - 5) / 105;
      gdouble p = g_value_get_double (gst_value_array_get_value (gst_structure_get_value
              (expression_of (roi), "probabilities"), 0));
      if (f == 0 || p != last[k]) {
        changed++;
        last_change[k] = f;
      }
      FER_CHECK (f - last_change[k] < 6, "frame %d: face %d not reclassified since frame %d",
          f, k, last_change[k]);
      last[k] = p;
    }
    if (f == 0)
      FER_CHECK (changed == 6, "new faces classified: %u of 6", changed);
    else
      FER_CHECK (changed <= 3, "frame %d: %u faces classified (work not spread)", f, changed);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

/* A copy of the random tiny model with an int8 calibration block, calibrated on smooth
 * normalised faces (what fer-eval --calibrate_int8 does on val images). */
static gchar *
calibrated_copy (const gchar * name)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);
  fer_backend *be = NULL;
  fer_model *m = NULL, *folded = NULL;
  fer_checkpoint_meta meta;
  fer_int8_calib calib;
  const gint n = 16, px = FER_INPUT_SIZE * FER_INPUT_SIZE;
  gfloat *x = g_new (gfloat, (gsize) n * px);

  for (gint i = 0; i < n * px; i++)
    x[i] = (gfloat) sin (0.37 * i + (i / px)) * 0.9f;
  FER_CHECK (fer_backend_new ("cpu", 1, &be) == FER_OK, "cpu backend");
  FER_CHECK (fer_checkpoint_load (random_model, be, n, &m, &meta) == FER_OK, "load %s: %s",
      random_model, fer_last_error ());
  FER_CHECK (fer_model_fold (m, be, n, &folded, NULL) == FER_OK, "fold: %s", fer_last_error ());
  FER_CHECK (fer_int8_calibrate (folded, x, n, 100.0f, &calib) == FER_OK, "calibrate: %s",
      fer_last_error ());
  FER_CHECK (fer_int8_write_calibrated (random_model, &calib, path) == FER_OK, "write %s: %s",
      path, fer_last_error ());
  fer_model_free (folded);
  fer_model_free (m);
  fer_checkpoint_meta_clear (&meta);
  fer_backend_free (be);
  g_free (x);
  return path;
}

/* The probabilities ferclassify attaches to the n faces of one frame, at a precision. */
static void
probabilities_at (const gchar * model, const gchar * precision, gint n, gdouble * probs)
{
  GstHarness *h = classify_harness (model, GST_VIDEO_FORMAT_I420, 320, 240, "precision",
      precision, NULL);
  GstBuffer *in = fer_gst_test_frame (GST_VIDEO_FORMAT_I420, 320, 240, 7), *out;
  GstVideoRegionOfInterestMeta *roi;
  gpointer state = NULL;
  gint k = 0;

  for (gint f = 0; f < n; f++)
    fer_gst_test_add_face (in, 10 + 100 * f, 30 + 20 * f, 90, 90);
  out = gst_harness_push_and_pull (h, in);
  FER_CHECK (out != NULL, "precision %s: no output buffer", precision);
  while ((roi = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (out,
              &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    const GValue *p = gst_structure_get_value (expression_of (roi), "probabilities");
    FER_CHECK (k < n && p && gst_value_array_get_size (p) == 7, "precision %s: face %d",
        precision, k);
    for (guint c = 0; c < 7; c++)
      probs[k * 7 + c] = g_value_get_double (gst_value_array_get_value (p, c));
    k++;
  }
  FER_CHECK (k == n, "precision %s: %d of %d faces classified", precision, k, n);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* precision=int8 runs the checkpoint's calibrated int8 network: refused (naming the file)
 * without a calibration block, refused for an unknown precision, close to FP32 with one. */
static void
test_precision_int8 (void)
{
  gchar *calibrated = calibrated_copy ("int8.fer");
  GstElement *e = gst_element_factory_make ("ferclassify", NULL);
  gchar *precision = NULL;
  gdouble p32[3 * 7], p8[3 * 7], worst = 0.0;

  g_object_get (e, "precision", &precision, NULL);
  FER_CHECK (g_strcmp0 (precision, "fp32") == 0, "default precision %s", precision);
  g_free (precision);
  gst_object_unref (e);
  expect_state_failure (random_model, NULL, "int8", random_model);
  expect_state_failure (calibrated, NULL, "int4", "int4");
  probabilities_at (calibrated, "fp32", 3, p32);
  probabilities_at (calibrated, "int8", 3, p8);
  for (gint i = 0; i < 3 * 7; i++)
    worst = MAX (worst, fabs (p8[i] - p32[i]));
  /* 8-bit activations and weights of a random tiny network: probabilities within 0.05 */
  FER_CHECK (worst < 0.05, "int8 probabilities differ from FP32 by %g", worst);
  g_print ("precision=int8: worst probability difference from fp32 %.4f\n", worst);
  g_free (calibrated);
}

int
main (int argc, char **argv)
{
  gdouble z = 0.0, mx = LOGITS[0];

  fer_gst_test_init (&argc, &argv);
  for (gint c = 0; c < 7; c++)
    mx = MAX (mx, LOGITS[c]);
  for (gint c = 0; c < 7; c++)
    z += exp (LOGITS[c] - mx);
  for (gint c = 0; c < 7; c++)
    expected[c] = exp (LOGITS[c] - mx) / z;

  tmpdir = fer_gst_test_tmpdir ();
  fixed_model = fer_gst_test_tiny_model (tmpdir, "fixed.fer", LOGITS);
  random_model = fer_gst_test_tiny_model (tmpdir, "random.fer", NULL);

  test_luma_weights ();
  test_properties ();
  test_params_on_every_face_all_formats ();
  test_same_face_every_format ();
  test_tracking_sequence ();
  test_bad_model_fails_state_change ();
  test_precision_int8 ();
  test_tta ();
  test_jsonl_complete_after_eos ();
  test_caps_change ();
  test_messages_and_min_confidence ();
  test_second_classifier_replaces_param ();
  test_many_faces_and_no_leaked_frames ();
  test_classify_every ();
  test_classify_every_spreads_work ();

  fer_gst_test_rmdir (tmpdir);
  g_free (tmpdir);
  g_free (fixed_model);
  g_free (random_model);
  gst_deinit ();
  g_print ("ferclassify: ok\n");
  return 0;
}
