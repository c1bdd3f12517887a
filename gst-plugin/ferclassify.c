/**
 * SECTION:element-ferclassify
 *
 * For every "face" #GstVideoRegionOfInterestMeta on a buffer (from ferfacedetect or any other
 * detector, e.g. gst-plugins-bad facedetect), ferclassify crops a square around the box, turns
 * it into a 48x48 gray face exactly like the training preprocessing, classifies all faces of
 * the frame in one batch and attaches a "fer/expression" #GstStructure param to the meta:
 * label, confidence, probabilities (training class order), class-names, track-id.
 *
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! ferfacedetect ! ferclassify ! feroverlay ! \
 *     videoconvert ! autovideosink
 * ]|
 */
#include "ferclassify.h"

#include <math.h>
#include <string.h>

#include "fer/augment.h"
#include "fer/evaluate.h"
#include "fer/loss_math.h"
#include "fer/preprocess.h"
#include "fer_config.h"
#include "ferclassify_align.h"
#include "detect/gstferfacedetect.h"

GST_DEBUG_CATEGORY_STATIC (gst_fer_classify_debug);
#define GST_CAT_DEFAULT gst_fer_classify_debug

#define DEFAULT_MODEL_NAME "fer_best.fer"
#define DEFAULT_BACKEND GST_FER_BACKEND_AUTO
#define DEFAULT_THREADS 1
#define DEFAULT_MIN_CONFIDENCE 0.0
#define DEFAULT_POST_MESSAGES FALSE
#define DEFAULT_MARGIN 0.1
#define DEFAULT_SMOOTHING FER_SMOOTHING_EMA
#define DEFAULT_SMOOTHING_ALPHA 0.4
#define DEFAULT_CLASSIFY_EVERY 3
#define DEFAULT_ALIGN TRUE
#define DEFAULT_ADJUST TRUE
#define DEFAULT_TTA FER_TTA_NONE
#define MAX_BATCH 16

enum {
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_THREADS,
  PROP_MIN_CONFIDENCE,
  PROP_POST_MESSAGES,
  PROP_RESULTS_LOCATION,
  PROP_MARGIN,
  PROP_SMOOTHING,
  PROP_SMOOTHING_ALPHA,
  PROP_CLASSIFY_EVERY,
  PROP_PRECISION,
  PROP_ALIGN,
  PROP_ADJUST,
  PROP_TTA,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS (FER_VIDEO_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS (FER_VIDEO_CAPS));

G_DEFINE_TYPE (GstFerClassify, gst_fer_classify, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (ferclassify, "ferclassify", GST_RANK_NONE, GST_TYPE_FER_CLASSIFY);

GType
gst_fer_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_FER_BACKEND_AUTO, "CUDA when a GPU answers, else the fast CPU backend", "auto"},
    {GST_FER_BACKEND_CPU, "Fast CPU backend", "cpu"},
    {GST_FER_BACKEND_CUDA, "CUDA/cuDNN (fails without a GPU)", "cuda"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstFerBackend", values));
  return type;
}

#define GST_TYPE_FER_SMOOTHING (gst_fer_smoothing_get_type ())
static GType
gst_fer_smoothing_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {FER_SMOOTHING_NONE, "Raw per-frame probabilities", "none"},
    {FER_SMOOTHING_EMA, "Exponential moving average per track", "ema"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstFerSmoothing", values));
  return type;
}

/* fer_tta itself (fer/evaluate.h): the same views as fer-eval --tta, so a clip is labelled
 * with the accuracy the README reports for that setting. */
#define GST_TYPE_FER_TTA (gst_fer_tta_get_type ())
static GType
gst_fer_tta_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {FER_TTA_NONE, "One pass per face", "none"},
    {FER_TTA_FLIP, "Logits averaged over the face and its mirror image (2 passes)",
        "flip"},
    {FER_TTA_TENCROP, "Logits averaged over ten 44x44 crops (corners, centre, mirrored; "
          "10 passes)", "tencrop"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstFerTta", values));
  return type;
}

const gchar *
gst_fer_backend_name (GstFerBackend b)
{
  switch (b) {
    case GST_FER_BACKEND_CPU:
      return "cpu";
    case GST_FER_BACKEND_CUDA:
      return "cuda";
    default:
      return "auto";
  }
}

const gchar *
gst_fer_classify_default_model (void)
{
  static gchar *path;

  if (g_once_init_enter (&path)) {
    gchar *p = g_build_filename (FER_PRETRAINED_DIR, DEFAULT_MODEL_NAME, NULL);
    if (!g_file_test (p, G_FILE_TEST_IS_REGULAR)) {
      gchar *src = g_build_filename (FER_SOURCE_DIR, "pretrained", DEFAULT_MODEL_NAME, NULL);
      if (g_file_test (src, G_FILE_TEST_IS_REGULAR)) {
        g_free (p);
        p = src;
      } else {
        g_free (src);
      }
    }
    g_once_init_leave (&path, p);
  }
  return path;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void
release_classifier (GstFerClassify * self)
{
  fer_classifier_free (self->classifier);
  self->classifier = NULL;
  self->n_classes = 0;
  if (G_IS_VALUE (&self->class_names_value))
    g_value_unset (&self->class_names_value);
  fer_tracker_free (self->tracker);
  self->tracker = NULL;
}

static gboolean
load_classifier (GstFerClassify * self, const gchar * model, GstFerBackend backend, gint threads)
{
  fer_status st;
  gint i;

  if (!model || !*model) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No expression model set (property \"model\")"), (NULL));
    return FALSE;
  }
  fer_clear_error ();
  st = fer_classifier_new (model, gst_fer_backend_name (backend), threads, MAX_BATCH,
      &self->classifier);
  if (st != FER_OK) {
    self->classifier = NULL;
    if (!g_file_test (model, G_FILE_TEST_EXISTS))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Expression model \"%s\" does not exist", model), ("%s", fer_last_error ()));
    else if (st == FER_ERR_NODEVICE || st == FER_ERR_UNSUPPORTED)
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Backend \"%s\" is not available for model \"%s\": %s",
              gst_fer_backend_name (backend),
              model, fer_last_error ()), (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Cannot load expression model \"%s\": %s", model, fer_last_error ()), (NULL));
    return FALSE;
  }

  {
    gchar *precision;
    const gchar *note;

    GST_OBJECT_LOCK (self);
    precision = g_strdup (self->precision);
    GST_OBJECT_UNLOCK (self);
    st = fer_classifier_set_precision (self->classifier, precision);
    if (st != FER_OK) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Cannot run expression model \"%s\" at precision \"%s\": %s", model, precision,
              fer_last_error ()), (NULL));
      g_free (precision);
      release_classifier (self);
      return FALSE;
    }
    note = fer_classifier_precision_note (self->classifier);
    if (*note)
      GST_INFO_OBJECT (self, "%s", note);
    g_free (precision);
  }
  self->n_classes = fer_classifier_n_classes (self->classifier);
  if (self->n_classes < 1 || self->n_classes > FER_RESULTS_MAX_CLASSES) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Cannot use expression model \"%s\": %d classes (1..%d supported)", model,
            self->n_classes, FER_RESULTS_MAX_CLASSES), (NULL));
    release_classifier (self);
    return FALSE;
  }
  g_value_init (&self->class_names_value, GST_TYPE_ARRAY);
  for (i = 0; i < self->n_classes; i++) {
    GValue v = G_VALUE_INIT;
    self->class_names[i] = fer_classifier_class_name (self->classifier, i);
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, self->class_names[i]);
    gst_value_array_append_and_take_value (&self->class_names_value, &v);
  }
  self->tracker = fer_tracker_new (self->n_classes);
  GST_INFO_OBJECT (self, "model %s on backend %s (%s), %d classes", model,
      fer_classifier_backend_name (self->classifier),
      fer_classifier_backend_note (self->classifier), self->n_classes);
  return TRUE;
}

static gboolean
gst_fer_classify_start (GstBaseTransform * trans)
{
  GstFerClassify *self = GST_FER_CLASSIFY (trans);
  gchar *model, *results;
  GstFerBackend backend;
  gint threads;
  gboolean ok;
  GError *err = NULL;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model);
  results = g_strdup (self->results_location);
  backend = self->backend;
  threads = self->threads;
  GST_OBJECT_UNLOCK (self);

  ok = load_classifier (self, model, backend, threads);
  if (ok && results && *results) {
    self->writer = fer_results_writer_open (results, &err);
    if (!self->writer) {
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("Cannot write results to \"%s\": %s", results, err->message), (NULL));
      g_clear_error (&err);
      release_classifier (self);
      ok = FALSE;
    }
  }
  self->frame_count = 0;
  self->width = self->height = 0;
  g_free (model);
  g_free (results);
  return ok;
}

/* Completes the JSON Lines file (EOS or stop). */
static gboolean
finish_results (GstFerClassify * self)
{
  GError *err = NULL;

  if (!self->writer)
    return TRUE;
  if (!fer_results_writer_finish (self->writer, &err)) {
    self->writer = NULL;
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("%s", err->message), (NULL));
    g_clear_error (&err);
    return FALSE;
  }
  self->writer = NULL;
  return TRUE;
}

static gboolean
gst_fer_classify_stop (GstBaseTransform * trans)
{
  GstFerClassify *self = GST_FER_CLASSIFY (trans);

  finish_results (self);
  release_classifier (self);
  fer_luma_scratch_clear (&self->luma);
  return TRUE;
}

static gboolean
gst_fer_classify_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstFerClassify *self = GST_FER_CLASSIFY (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      /* the file is complete before anyone downstream sees EOS */
      finish_results (self);
      break;
    case GST_EVENT_FLUSH_STOP:
      if (self->tracker)
        fer_tracker_clear (self->tracker);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (gst_fer_classify_parent_class)->sink_event (trans, event);
}

static gboolean
gst_fer_classify_set_info (GstVideoFilter * filter, G_GNUC_UNUSED GstCaps * incaps,
    GstVideoInfo * in_info, G_GNUC_UNUSED GstCaps * outcaps,
    G_GNUC_UNUSED GstVideoInfo * out_info)
{
  GstFerClassify *self = GST_FER_CLASSIFY (filter);
  gint w = GST_VIDEO_INFO_WIDTH (in_info), h = GST_VIDEO_INFO_HEIGHT (in_info);

  if ((self->width || self->height) && (w != self->width || h != self->height)) {
    GST_DEBUG_OBJECT (self, "size %dx%d -> %dx%d: restarting tracks", self->width,
        self->height, w, h);
    if (self->tracker)
      fer_tracker_clear (self->tracker);
  }
  self->width = w;
  self->height = h;
  return TRUE;
}

/* ---- per frame ----------------------------------------------------------------------------- */

typedef struct FrameSettings {
  gdouble min_confidence, margin;
  gint classify_every;
  gboolean align;
  gboolean adjust;
  fer_tta tta;
  gboolean post_messages;
  FerTrackerConfig tracking;
} FrameSettings;

static void
snapshot_settings (GstFerClassify * self, FrameSettings * s)
{
  fer_tracker_default_config (&s->tracking);
  GST_OBJECT_LOCK (self);
  s->min_confidence = self->min_confidence;
  s->margin = self->margin;
  s->classify_every = self->classify_every;
  s->align = self->align;
  s->adjust = self->adjust;
  s->tta = self->tta;
  s->post_messages = self->post_messages;
  s->tracking.smoothing = self->smoothing;
  s->tracking.alpha = (gfloat) self->smoothing_alpha;
  GST_OBJECT_UNLOCK (self);
}

/* Angle of the eye line of a face from its "fer/landmarks" param (x[0], y[0]: the subject's
 * right eye; x[1], y[1]: the left eye); NAN without one. */
static gdouble
eye_angle (GstVideoRegionOfInterestMeta * roi)
{
  GstStructure *lm = gst_video_region_of_interest_meta_get_param (roi, FER_LANDMARKS_PARAM);
  const GValue *xs, *ys;
  gfloat v[4];

  if (!lm || !(xs = gst_structure_get_value (lm, "x")) || !(ys = gst_structure_get_value (lm,
              "y")) || !GST_VALUE_HOLDS_ARRAY (xs) || !GST_VALUE_HOLDS_ARRAY (ys) ||
      gst_value_array_get_size (xs) < 2 || gst_value_array_get_size (ys) < 2)
    return NAN;
  for (guint i = 0; i < 2; i++) {
    const GValue *x = gst_value_array_get_value (xs, i), *y = gst_value_array_get_value (ys, i);
    if (!G_VALUE_HOLDS_FLOAT (x) || !G_VALUE_HOLDS_FLOAT (y))
      return NAN;
    v[2 * i] = g_value_get_float (x);
    v[2 * i + 1] = g_value_get_float (y);
  }
  return fer_eye_angle (v[0], v[1], v[2], v[3]);
}

/* Face boxes of the buffer, clipped to at least 1x1 so every face gets a crop. */
static guint
collect_faces (GstFerClassify * self, GstBuffer * buf)
{
  gpointer state = NULL;
  GstVideoRegionOfInterestMeta *roi;

  g_ptr_array_set_size (self->metas, 0);
  g_array_set_size (self->boxes, 0);
  g_array_set_size (self->eye_angles, 0);
  while ((roi = fer_buffer_iterate_faces (buf, &state))) {
    FerBox b = { (gint) roi->x, (gint) roi->y, MAX ((gint) roi->w, 1), MAX ((gint) roi->h, 1) };
    gdouble angle = eye_angle (roi);
    g_ptr_array_add (self->metas, roi);
    g_array_append_val (self->boxes, b);
    g_array_append_val (self->eye_angles, angle);
  }
  return self->metas->len;
}

/* 48x48 faces of the boxes listed in self->due, in that order, into self->faces48. */
static gboolean
crop_due_faces (GstFerClassify * self, GstBuffer * buf, gdouble margin, gboolean align)
{
  GstVideoFilter *filter = GST_VIDEO_FILTER (self);
  GstVideoFrame frame;
  const guint8 *luma;
  gint stride, w, h;
  const gsize face_px = FER_INPUT_SIZE * FER_INPUT_SIZE;

  if (!gst_video_frame_map (&frame, &filter->in_info, buf, GST_MAP_READ))
    return FALSE;
  w = GST_VIDEO_FRAME_WIDTH (&frame);
  h = GST_VIDEO_FRAME_HEIGHT (&frame);
  luma = fer_video_frame_luma (&frame, &self->luma, &stride);
  g_array_set_size (self->faces48, self->due->len * face_px);
  for (guint d = 0; d < self->due->len; d++) {
    gint i = g_array_index (self->due, gint, d);
    const FerBox *b = &g_array_index (self->boxes, FerBox, i);
    guint8 *out = (guint8 *) self->faces48->data + d * face_px;
    gdouble angle = g_array_index (self->eye_angles, gdouble, i);
    if (align && isfinite (angle))
      fer_crop_face_48_aligned (luma, w, h, stride, b->x, b->y, b->w, b->h, (float) margin,
          angle, out);
    else
      fer_crop_face_48 (luma, w, h, stride, b->x, b->y, b->w, b->h, (float) margin, out);
  }
  gst_video_frame_unmap (&frame);
  return TRUE;
}

typedef struct Stale {
  gint face, staleness;
} Stale;

static gint
by_staleness_desc (gconstpointer a, gconstpointer b)
{
  const Stale *x = a, *y = b;
  return x->staleness != y->staleness ? y->staleness - x->staleness : x->face - y->face;
}

static gint
int_cmp (gconstpointer a, gconstpointer b)
{
  return *(const gint *) a - *(const gint *) b;
}

/* Fills self->due (ascending face indices) with the faces to classify this frame: every new
 * face, plus the most overdue tracked faces up to about n/every per frame, so the network's
 * work is spread evenly over the frames instead of every face falling due on the same one.
 * A face is never left unclassified for 2*every frames or more. */
static void
choose_due_faces (GstFerClassify * self, const gint * ids, guint n, gint every)
{
  GArray *overdue = g_array_new (FALSE, FALSE, sizeof (Stale));
  guint budget = every <= 1 ? n : (n + (guint) every - 1) / (guint) every, taken = 0;

  g_array_set_size (self->due, 0);
  for (guint i = 0; i < n; i++) {
    gint s = fer_tracker_staleness (self->tracker, ids[i]);
    if (s < 0 || every <= 1) {
      g_array_append_val (self->due, i);
      taken++;
    } else if (s >= every) {
      Stale st = { (gint) i, s };
      g_array_append_val (overdue, st);
    }
  }
  g_array_sort (overdue, by_staleness_desc);
  for (guint j = 0; j < overdue->len; j++) {
    const Stale *st = &g_array_index (overdue, Stale, j);
    if (taken >= budget && st->staleness < 2 * every)
      break;
    g_array_append_val (self->due, st->face);
    taken++;
  }
  g_array_sort (self->due, int_cmp);
  g_array_unref (overdue);
}

/* Probabilities of the due faces (self->faces48) into probs: one pass, or the logits averaged
 * over the test-time views (fer_eval_logits, the evaluator's loop) and then the softmax. */
static fer_status
run_network (GstFerClassify * self, fer_tta tta, gfloat * probs)
{
  const uint8_t *faces = (const uint8_t *) self->faces48->data;
  const gint n = (gint) self->due->len, k = self->n_classes;
  fer_eval_options opt = { tta, MAX_BATCH / fer_tta_n_views (tta), fer_resize_bilinear_pil,
    NULL, NULL
  };
  fer_status st;

  if (tta == FER_TTA_NONE)
    return fer_classifier_run_u8 (self->classifier, faces, n, NULL, probs);
  /* the logits go to probs, then each row becomes its softmax in place (through a copy) */
  st = fer_eval_logits (self->classifier, faces, n, &opt, probs);
  for (gint i = 0; st == FER_OK && i < n; i++) {
    gfloat row[FER_RESULTS_MAX_CLASSES];
    memcpy (row, probs + (gsize) i * k, sizeof (gfloat) * k);
    fer_softmax_row (row, k, probs + (gsize) i * k);
  }
  return st;
}

/* Tracks the faces, classifies those due (new tracks, and the others every classify-every
 * frames) as one batch, and leaves every face's smoothed probabilities in self->probs. */
static GstFlowReturn
classify_faces (GstFerClassify * self, GstBuffer * buf, const FrameSettings * set)
{
  guint n = self->boxes->len;
  gint k = self->n_classes;
  const gint *ids;
  gfloat *probs, *fresh;

  g_array_set_size (self->probs, (gsize) n * k);
  g_array_set_size (self->ids, n);
  fer_tracker_match (self->tracker, (const FerBox *) self->boxes->data, (gint) n,
      (gint *) self->ids->data);
  ids = (const gint *) self->ids->data;

  choose_due_faces (self, ids, n, set->classify_every);

  if (self->due->len > 0) {
    fer_status st;
    if (!crop_due_faces (self, buf, set->margin, set->align)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map video frame for reading"), (NULL));
      return GST_FLOW_ERROR;
    }
    g_array_set_size (self->fresh, (gsize) self->due->len * k);
    fer_classifier_set_adjust (self->classifier, set->adjust);
    st = run_network (self, set->tta, (float *) self->fresh->data);
    if (st != FER_OK) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Expression classifier failed: %s",
              fer_last_error ()), (NULL));
      return GST_FLOW_ERROR;
    }
  }

  probs = (gfloat *) self->probs->data;
  fresh = (gfloat *) self->fresh->data;
  for (guint d = 0, i = 0; i < n; i++) {
    if (d < self->due->len && (guint) g_array_index (self->due, gint, d) == i)
      fer_tracker_observe (self->tracker, ids[i], fresh + (gsize) (d++) * k, probs + i * k);
    else if (!fer_tracker_current (self->tracker, ids[i], probs + i * k))
      g_warn_if_reached ();     /* not due means the track has probabilities */
  }
  return GST_FLOW_OK;
}

static GstStructure *
expression_param (GstFerClassify * self, const FerFaceResult * r)
{
  GstStructure *s = gst_structure_new (FER_EXPRESSION_PARAM,
      "label", G_TYPE_STRING, r->label,
      "confidence", G_TYPE_DOUBLE, (gdouble) r->confidence,
      "track-id", G_TYPE_INT, r->track_id, NULL);
  GValue probs = G_VALUE_INIT;

  g_value_init (&probs, GST_TYPE_ARRAY);
  for (gint c = 0; c < self->n_classes; c++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_DOUBLE);
    g_value_set_double (&v, r->probs[c]);
    gst_value_array_append_and_take_value (&probs, &v);
  }
  gst_structure_take_value (s, "probabilities", &probs);
  gst_structure_set_value (s, "class-names", &self->class_names_value);
  return s;
}

/* Replaces an earlier "fer/expression" param (e.g. a second ferclassify) instead of adding a
 * second one that get_param would never return. */
static void
set_expression_param (GstVideoRegionOfInterestMeta * roi, GstStructure * s)
{
  for (GList * l = roi->params; l; l = l->next) {
    if (gst_structure_has_name (l->data, FER_EXPRESSION_PARAM)) {
      gst_structure_free (l->data);
      l->data = s;
      return;
    }
  }
  gst_video_region_of_interest_meta_add_param (roi, s);
}

static void
post_frame_message (GstFerClassify * self, GstBuffer * buf, guint64 frame)
{
  GstStructure *s = gst_structure_new ("fer", "frame", G_TYPE_UINT64, frame,
      "timestamp", G_TYPE_UINT64, GST_BUFFER_PTS (buf), NULL);
  GValue faces = G_VALUE_INIT;

  g_value_init (&faces, GST_TYPE_ARRAY);
  for (guint i = 0; i < self->results->len; i++) {
    const FerFaceResult *r = &g_array_index (self->results, FerFaceResult, i);
    GstStructure *face = expression_param (self, r);
    GValue v = G_VALUE_INIT;
    gst_structure_set_name (face, "face");
    gst_structure_set (face, "x", G_TYPE_INT, r->box.x, "y", G_TYPE_INT, r->box.y,
        "width", G_TYPE_INT, r->box.w, "height", G_TYPE_INT, r->box.h, NULL);
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, face);
    gst_value_array_append_and_take_value (&faces, &v);
  }
  gst_structure_take_value (s, "faces", &faces);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static GstFlowReturn
write_results (GstFerClassify * self, GstBuffer * buf, guint64 frame)
{
  GError *err = NULL;
  GString *line;
  gint64 pts = GST_BUFFER_PTS_IS_VALID (buf) ? (gint64) GST_BUFFER_PTS (buf) : -1;

  if (fer_results_writer_take_error (self->writer, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, ("%s", err->message), (NULL));
    g_clear_error (&err);
    return GST_FLOW_ERROR;
  }
  line = g_string_sized_new (128 + 256 * self->results->len);
  fer_results_append_json (line, frame, pts, (const FerFaceResult *) self->results->data,
      (gint) self->results->len, self->class_names, self->n_classes);
  fer_results_writer_push (self->writer, line);
  return GST_FLOW_OK;
}

static void
label_faces (GstFerClassify * self, const FrameSettings * set)
{
  guint n = self->boxes->len;
  gint k = self->n_classes;

  g_array_set_size (self->results, n);
  for (guint i = 0; i < n; i++) {
    FerFaceResult *r = &g_array_index (self->results, FerFaceResult, i);
    const gfloat *p = (const gfloat *) self->probs->data + (gsize) i * k;
    gint best = 0;
    for (gint c = 1; c < k; c++)
      if (p[c] > p[best])
        best = c;
    memset (r, 0, sizeof *r);
    memcpy (r->probs, p, sizeof (gfloat) * k);
    r->track_id = g_array_index (self->ids, gint, i);
    r->box = g_array_index (self->boxes, FerBox, i);
    r->confidence = p[best];
    r->label = p[best] >= set->min_confidence ? self->class_names[best] : FER_LABEL_UNCERTAIN;
    set_expression_param (g_ptr_array_index (self->metas, i), expression_param (self, r));
  }
}

static GstFlowReturn
gst_fer_classify_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstFerClassify *self = GST_FER_CLASSIFY (trans);
  FrameSettings set;
  guint64 frame = self->frame_count++;
  GstFlowReturn ret;

  if (G_UNLIKELY (!self->classifier || !GST_VIDEO_FILTER (self)->negotiated))
    return GST_FLOW_NOT_NEGOTIATED;
  snapshot_settings (self, &set);
  fer_tracker_configure (self->tracker, &set.tracking);

  collect_faces (self, buf);
  ret = classify_faces (self, buf, &set);
  if (ret != GST_FLOW_OK)
    return ret;
  label_faces (self, &set);

  if (set.post_messages)
    post_frame_message (self, buf, frame);
  if (self->writer)
    return write_results (self, buf, frame);
  return GST_FLOW_OK;
}

/* ---- properties ---------------------------------------------------------------------------- */

static void
gst_fer_classify_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstFerClassify *self = GST_FER_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      break;
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_MIN_CONFIDENCE:
      self->min_confidence = g_value_get_double (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_RESULTS_LOCATION:
      g_free (self->results_location);
      self->results_location = g_value_dup_string (value);
      break;
    case PROP_MARGIN:
      self->margin = g_value_get_double (value);
      break;
    case PROP_SMOOTHING:
      self->smoothing = g_value_get_enum (value);
      break;
    case PROP_SMOOTHING_ALPHA:
      self->smoothing_alpha = g_value_get_double (value);
      break;
    case PROP_CLASSIFY_EVERY:
      self->classify_every = g_value_get_int (value);
      break;
    case PROP_PRECISION:
      g_free (self->precision);
      self->precision = g_value_dup_string (value);
      break;
    case PROP_ALIGN:
      self->align = g_value_get_boolean (value);
      break;
    case PROP_TTA:
      self->tta = g_value_get_enum (value);
      break;
    case PROP_ADJUST:
      self->adjust = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_fer_classify_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstFerClassify *self = GST_FER_CLASSIFY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_MIN_CONFIDENCE:
      g_value_set_double (value, self->min_confidence);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_RESULTS_LOCATION:
      g_value_set_string (value, self->results_location);
      break;
    case PROP_MARGIN:
      g_value_set_double (value, self->margin);
      break;
    case PROP_SMOOTHING:
      g_value_set_enum (value, self->smoothing);
      break;
    case PROP_SMOOTHING_ALPHA:
      g_value_set_double (value, self->smoothing_alpha);
      break;
    case PROP_CLASSIFY_EVERY:
      g_value_set_int (value, self->classify_every);
      break;
    case PROP_PRECISION:
      g_value_set_string (value, self->precision);
      break;
    case PROP_ALIGN:
      g_value_set_boolean (value, self->align);
      break;
    case PROP_TTA:
      g_value_set_enum (value, self->tta);
      break;
    case PROP_ADJUST:
      g_value_set_boolean (value, self->adjust);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_fer_classify_finalize (GObject * object)
{
  GstFerClassify *self = GST_FER_CLASSIFY (object);

  if (self->writer)
    fer_results_writer_finish (self->writer, NULL);
  release_classifier (self);
  fer_luma_scratch_clear (&self->luma);
  g_free (self->model);
  g_free (self->precision);
  g_free (self->results_location);
  g_array_unref (self->faces48);
  g_array_unref (self->probs);
  g_array_unref (self->boxes);
  g_array_unref (self->eye_angles);
  g_array_unref (self->ids);
  g_array_unref (self->due);
  g_array_unref (self->fresh);
  g_ptr_array_unref (self->metas);
  g_array_unref (self->results);
  G_OBJECT_CLASS (gst_fer_classify_parent_class)->finalize (object);
}

static void
gst_fer_classify_init (GstFerClassify * self)
{
  self->model = g_strdup (gst_fer_classify_default_model ());
  self->backend = DEFAULT_BACKEND;
  self->threads = DEFAULT_THREADS;
  self->precision = g_strdup ("fp32");
  self->min_confidence = DEFAULT_MIN_CONFIDENCE;
  self->post_messages = DEFAULT_POST_MESSAGES;
  self->margin = DEFAULT_MARGIN;
  self->smoothing = DEFAULT_SMOOTHING;
  self->smoothing_alpha = DEFAULT_SMOOTHING_ALPHA;
  self->classify_every = DEFAULT_CLASSIFY_EVERY;
  self->faces48 = g_array_new (FALSE, FALSE, 1);
  self->probs = g_array_new (FALSE, FALSE, sizeof (gfloat));
  self->boxes = g_array_new (FALSE, FALSE, sizeof (FerBox));
  self->eye_angles = g_array_new (FALSE, FALSE, sizeof (gdouble));
  self->align = DEFAULT_ALIGN;
  self->adjust = DEFAULT_ADJUST;
  self->tta = DEFAULT_TTA;
  self->ids = g_array_new (FALSE, FALSE, sizeof (gint));
  self->due = g_array_new (FALSE, FALSE, sizeof (gint));
  self->fresh = g_array_new (FALSE, FALSE, sizeof (gfloat));
  self->metas = g_ptr_array_new ();
  self->results = g_array_new (FALSE, FALSE, sizeof (FerFaceResult));
  /* metadata only: pixels are read, never written */
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* every frame gets its results (JSON line, message): never drop late frames for QoS */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}

static void
gst_fer_classify_class_init (GstFerClassifyClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags rw_ready = rw | GST_PARAM_MUTABLE_READY;
  const GParamFlags rw_playing = rw | GST_PARAM_MUTABLE_PLAYING | GST_PARAM_CONTROLLABLE;

  GST_DEBUG_CATEGORY_INIT (gst_fer_classify_debug, "ferclassify", 0,
      "facial expression classifier");

  gobject_class->set_property = gst_fer_classify_set_property;
  gobject_class->get_property = gst_fer_classify_get_property;
  gobject_class->finalize = gst_fer_classify_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Expression model checkpoint (.fer); default: the installed pretrained model",
          FER_PRETRAINED_DIR "/" DEFAULT_MODEL_NAME, rw_ready));
  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend", "Compute backend for the classifier",
          GST_TYPE_FER_BACKEND, DEFAULT_BACKEND, rw_ready));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU threads for the classifier (0 = all cores)", 0, 256, DEFAULT_THREADS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MIN_CONFIDENCE,
      g_param_spec_double ("min-confidence", "Minimum confidence",
          "Faces whose top probability is below this are labelled \"" FER_LABEL_UNCERTAIN "\"",
          0.0, 1.0, DEFAULT_MIN_CONFIDENCE, rw_playing));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post an element message \"fer\" per frame with all faces", DEFAULT_POST_MESSAGES,
          rw_playing));
  g_object_class_install_property (gobject_class, PROP_RESULTS_LOCATION,
      g_param_spec_string ("results-location", "Results location",
          "Write one JSON line per frame to this file (complete at EOS); NULL: none",
          NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MARGIN,
      g_param_spec_double ("margin", "Margin",
          "Grow the square face crop by this fraction of the box on every side",
          0.0, 1.0, DEFAULT_MARGIN, rw_playing));
  g_object_class_install_property (gobject_class, PROP_SMOOTHING,
      g_param_spec_enum ("smoothing", "Smoothing", "Per-track smoothing of probabilities",
          GST_TYPE_FER_SMOOTHING, DEFAULT_SMOOTHING, rw_playing));
  g_object_class_install_property (gobject_class, PROP_SMOOTHING_ALPHA,
      g_param_spec_double ("smoothing-alpha", "Smoothing alpha",
          "EMA weight of the newest frame (1 = no smoothing)", 0.01, 1.0,
          DEFAULT_SMOOTHING_ALPHA, rw_playing));
  g_object_class_install_property (gobject_class, PROP_CLASSIFY_EVERY,
      g_param_spec_int ("classify-every", "Classify every",
          "Run the network on each tracked face every N frames (new faces at once) and carry "
          "its smoothed probabilities in between", 1, 1000, DEFAULT_CLASSIFY_EVERY,
          rw_playing));
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_string ("precision", "Precision",
          "fp32, or int8: the model's calibrated int8 network (a checkpoint made by fer-eval "
          "--calibrate_int8; AVX512_VNNI or AVX-VNNI kernels, portable C otherwise)", "fp32",
          rw_ready));
  g_object_class_install_property (gobject_class, PROP_ALIGN,
      g_param_spec_boolean ("align", "Align",
          "Rotate each crop so the eyes are level, using the face's \"fer/landmarks\" "
          "(ferfacedetect method=cnn); faces without landmarks are cropped unrotated",
          DEFAULT_ALIGN, rw_playing));
  g_object_class_install_property (gobject_class, PROP_ADJUST,
      g_param_spec_boolean ("adjust", "Adjust",
          "Apply the post-hoc logit offsets stored in the model (fer-eval --write_adjusted); "
          "false: the network's raw logits", DEFAULT_ADJUST, rw_playing));
  g_object_class_install_property (gobject_class, PROP_TTA,
      g_param_spec_enum ("tta", "Test-time augmentation",
          "Average the network's logits over views of each face, as fer-eval --tta: flip "
          "(2 passes; the README gives its accuracy) or tencrop (10 passes, for recorded "
          "clips)", GST_TYPE_FER_TTA, DEFAULT_TTA, rw_playing));

  gst_element_class_set_static_metadata (element_class, "Facial expression classifier",
      "Filter/Analyzer/Video",
      "Classifies the expression of every face region-of-interest and attaches the result",
      "fer project");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_fer_classify_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_fer_classify_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_fer_classify_sink_event);
  /* our own transform_ip: the frame is mapped read-only, so pixels shared with upstream are
   * never copied just to attach metadata */
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_fer_classify_transform_ip);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_fer_classify_set_info);

  gst_type_mark_as_plugin_api (GST_TYPE_FER_BACKEND, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_FER_SMOOTHING, 0);
}
