/* ferfacedetect
 *
 * Finds faces and attaches one GstVideoRegionOfInterestMeta of type "face" per face (plus a
 * "fer/detection" param and, for the CNN, a "fer/landmarks" param with six keypoints), in
 * place. Two methods: "cnn" (default), the BlazeFace detector of libfermodel
 * (fer/face_detector.h) on an RGB copy of the frame, and "cascade", the built-in Viola-Jones
 * evaluator of gst-plugin/detect/cascade.h, which reads the cascade XML files of Debian's
 * opencv-data without the OpenCV library, on the frame's luma.
 *
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! ferfacedetect ! \
 *     ferclassify ! feroverlay ! videoconvert ! autovideosink
 */
#include <math.h>
#include <string.h>

#include "fer_config.h"
#include "gstferfacedetect.h"

GST_DEBUG_CATEGORY_STATIC (gst_fer_face_detect_debug);
#define GST_CAT_DEFAULT gst_fer_face_detect_debug

#define DEFAULT_MIN_SIZE 24
#define DEFAULT_MAX_SIZE 0
#define DEFAULT_SCALE_FACTOR 1.2
#define DEFAULT_MIN_NEIGHBORS 3
#define DEFAULT_DETECT_EVERY 0    /* auto: CNN_DETECT_EVERY for the CNN, 1 for the cascade */
/* The CNN with its tiles for 24 px faces takes ~70 ms per 640x480 frame on one core (a
 * whole-frame pass ~11 ms): detecting on every 8th frame and carrying the boxes gives detect +
 * classify at least twice facedetect's frame rate (bench/gst/run.sh, bench/RESULTS.md). */
#define CNN_DETECT_EVERY 8
#define DEFAULT_EXHAUSTIVE FALSE
#define DEFAULT_TRACK TRUE
#define DEFAULT_METHOD GST_FER_DETECT_METHOD_CNN
#define DEFAULT_MIN_SCORE 0.6
#define DEFAULT_NMS_IOU 0.3
#define DEFAULT_BACKEND GST_FER_BACKEND_CPU
#define DEFAULT_THREADS 1
#define DEFAULT_MODEL_NAME "blazeface.fer"
#define MAX_CNN_FACES 256

static const gchar *const landmark_names[FER_FACE_MAX_KEYPOINTS] = {
  "right-eye", "left-eye", "nose", "mouth", "right-ear", "left-ear",
};

/* Known frontal-face cascades, best first, under each system data dir. haarcascade_frontalface_alt
 * found every face of the bundled samples without false positives (see README); the others
 * are fallbacks for partial installs. */
static const gchar *const default_cascades[] = {
  "opencv4/haarcascades/haarcascade_frontalface_alt.xml",
  "opencv/haarcascades/haarcascade_frontalface_alt.xml",
  "opencv4/haarcascades/haarcascade_frontalface_default.xml",
  "opencv/haarcascades/haarcascade_frontalface_default.xml",
  "opencv4/lbpcascades/lbpcascade_frontalface.xml",
  "opencv/lbpcascades/lbpcascade_frontalface.xml",
};

enum
{
  PROP_0,
  PROP_CASCADE,
  PROP_MIN_SIZE,
  PROP_MAX_SIZE,
  PROP_SCALE_FACTOR,
  PROP_MIN_NEIGHBORS,
  PROP_DETECT_EVERY,
  PROP_TRACK,
  PROP_EXHAUSTIVE,
  PROP_METHOD,
  PROP_MODEL,
  PROP_MIN_SCORE,
  PROP_NMS_IOU,
  PROP_BACKEND,
  PROP_THREADS,
};

#define GST_TYPE_FER_DETECT_METHOD (gst_fer_detect_method_get_type ())
static GType
gst_fer_detect_method_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_FER_DETECT_METHOD_CASCADE, "Viola-Jones on an OpenCV cascade (no landmarks)",
        "cascade"},
    {GST_FER_DETECT_METHOD_CNN, "BlazeFace CNN with six keypoints (falls back to cascade "
          "when its default model is not installed)", "cnn"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstFerDetectMethod", values));
  return type;
}

G_DEFINE_TYPE (GstFerFaceDetect, gst_fer_face_detect, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (ferfacedetect, "ferfacedetect", GST_RANK_NONE,
    GST_TYPE_FER_FACE_DETECT);

gchar *
gst_fer_face_detect_default_cascade (void)
{
  const gchar *const *dirs = g_get_system_data_dirs ();

  for (gsize i = 0; i < G_N_ELEMENTS (default_cascades); i++) {
    for (gsize d = 0; dirs[d]; d++) {
      gchar *path = g_build_filename (dirs[d], default_cascades[i], NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return path;
      g_free (path);
    }
  }
  return NULL;
}

gchar *
gst_fer_face_detect_default_model (void)
{
  /* FER_DETECTOR_MODEL names the default for a run (even a missing file: the element then
   * falls back to the cascade as when nothing is installed) */
  const gchar *env = g_getenv ("FER_DETECTOR_MODEL");
  if (env && *env)
    return g_strdup (env);
  gchar *installed = g_build_filename (FER_PRETRAINED_DIR, "..", "models", DEFAULT_MODEL_NAME,
      NULL);
  gchar *source = g_build_filename (FER_SOURCE_DIR, "data", "models", DEFAULT_MODEL_NAME, NULL);
  gchar *found = NULL;

  if (g_file_test (installed, G_FILE_TEST_IS_REGULAR))
    found = g_steal_pointer (&installed);
  else if (g_file_test (source, G_FILE_TEST_IS_REGULAR))
    found = g_steal_pointer (&source);
  g_free (installed);
  g_free (source);
  return found;
}

/* Picks the method for this run and loads the CNN if it is the one: a default model that is
 * not installed falls back to the cascade with a warning; a model the user named must load.
 * State change only. */
static gboolean
ensure_detector (GstFerFaceDetect * self)
{
  GstFerDetectMethod method;
  gchar *model;
  gboolean is_default;
  GstFerBackend backend;
  gint threads;
  fer_face_detector *d = NULL;
  fer_status st;

  GST_OBJECT_LOCK (self);
  method = self->method;
  model = g_strdup (self->model_path);
  is_default = self->model_is_default;
  backend = self->backend;
  threads = self->threads;
  GST_OBJECT_UNLOCK (self);

  self->active = method;
  if (method != GST_FER_DETECT_METHOD_CNN) {
    g_free (model);
    return TRUE;
  }
  if (is_default && (!model || !g_file_test (model, G_FILE_TEST_EXISTS))) {
    GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
        ("CNN face detector model %s not found (data/models/fetch.sh converts it); using "
            "method=cascade", model ? model : DEFAULT_MODEL_NAME), (NULL));
    self->active = GST_FER_DETECT_METHOD_CASCADE;
    g_free (model);
    return TRUE;
  }
  if (!model || !*model) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No face detector model: the model property is empty (unset it for the default)"),
        (NULL));
    g_free (model);
    return FALSE;
  }
  fer_clear_error ();
  st = fer_face_detector_new (model, gst_fer_backend_name (backend), threads, &d);
  if (st != FER_OK) {
    if (!g_file_test (model, G_FILE_TEST_EXISTS))
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Face detector model \"%s\" does not exist", model), ("%s", fer_last_error ()));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
          ("Cannot load face detector model \"%s\": %s", model, fer_last_error ()), (NULL));
    g_free (model);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "CNN face detector %s on %s", model,
      fer_face_detector_backend_name (d));
  fer_face_detector_free (self->detector);
  self->detector = d;
  g_free (model);
  return TRUE;
}

/* Loads the cascade named by the property unless it is the one already loaded. On failure
 * posts an error naming the file and the problem. Streaming thread or state change only. */
static gboolean
ensure_cascade (GstFerFaceDetect * self)
{
  gchar *path;
  fer_cascade *c = NULL;
  fer_status st;

  GST_OBJECT_LOCK (self);
  if (self->cascade && self->cascade_path &&
      g_strcmp0 (self->cascade_path, self->loaded_path) == 0) {
    GST_OBJECT_UNLOCK (self);
    return TRUE;                /* the usual case: nothing to do */
  }
  path = g_strdup (self->cascade_path);
  GST_OBJECT_UNLOCK (self);
  if (!path) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No face cascade: none of the OpenCV frontal-face cascades is installed "
            "(Debian package opencv-data); set the cascade property"), (NULL));
    return FALSE;
  }
  if (!*path) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No face cascade: the cascade property is empty (unset it for the default)"), (NULL));
    g_free (path);
    return FALSE;
  }
  st = fer_cascade_load (path, &c);
  if (st == FER_ERR_IO) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot load face cascade %s",
            fer_last_error ()), ("cascade property: %s", path));
  } else if (st != FER_OK) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot load face cascade %s",
            fer_last_error ()), ("cascade property: %s", path));
  }
  if (st != FER_OK) {
    g_free (path);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "loaded %s cascade %s", fer_cascade_feature_type (c) ==
      FER_CASCADE_LBP ? "LBP" : "Haar", path);
  fer_cascade_free (self->cascade);
  GST_OBJECT_LOCK (self);       /* loaded_path is compared under the lock */
  g_free (self->loaded_path);
  self->cascade = c;
  self->loaded_path = path;
  GST_OBJECT_UNLOCK (self);
  self->have_boxes = FALSE;     /* boxes of another cascade are not carried over */
  return TRUE;
}

static GstStateChangeReturn
gst_fer_face_detect_change_state (GstElement * element, GstStateChange transition)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY && (!ensure_detector (self) ||
          (self->active == GST_FER_DETECT_METHOD_CASCADE && !ensure_cascade (self))))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (gst_fer_face_detect_parent_class)->change_state (element,
      transition);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
    GST_OBJECT_LOCK (self);
    fer_cascade_free (self->cascade);
    self->cascade = NULL;
    g_clear_pointer (&self->loaded_path, g_free);
    GST_OBJECT_UNLOCK (self);
    fer_face_detector_free (self->detector);
    self->detector = NULL;
  }
  return ret;
}

static gboolean
gst_fer_face_detect_set_info (GstVideoFilter * filter, GstCaps * incaps,
    GstVideoInfo * in_info, GstCaps * outcaps, GstVideoInfo * out_info)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (filter);

  (void) incaps;
  (void) outcaps;
  (void) out_info;
  GST_DEBUG_OBJECT (self, "%s %dx%d", gst_video_format_to_string (GST_VIDEO_INFO_FORMAT
          (in_info)), GST_VIDEO_INFO_WIDTH (in_info), GST_VIDEO_INFO_HEIGHT (in_info));
  /* New size or format: boxes of the old frames mean nothing now. */
  self->have_boxes = FALSE;
  g_clear_pointer (&self->to_rgb, gst_video_converter_free);
  gst_clear_buffer (&self->rgb_buf);
  return TRUE;
}

static gboolean
gst_fer_face_detect_stop (GstBaseTransform * trans)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (trans);

  self->have_boxes = FALSE;
  g_ptr_array_set_size (self->tracks, 0);
  fer_cascade_boxes_clear (&self->boxes);
  fer_luma_scratch_clear (&self->luma);
  g_clear_pointer (&self->to_rgb, gst_video_converter_free);
  gst_clear_buffer (&self->rgb_buf);
  return TRUE;
}

static fer_status
detect_cascade (GstFerFaceDetect * self, GstVideoFrame * frame,
    const fer_cascade_params * params)
{
  gint stride = 0;
  const guint8 *luma = fer_video_frame_luma (frame, &self->luma, &stride);
  fer_status st = fer_cascade_detect (self->cascade, luma, GST_VIDEO_FRAME_WIDTH (frame),
      GST_VIDEO_FRAME_HEIGHT (frame), stride, params, &self->boxes);

  for (gsize i = 0; st == FER_OK && i < self->boxes.n; i++) {
    const fer_cascade_box *b = &self->boxes.v[i];
    FerDetectedFace f = { .neighbors = b->neighbors };
    f.face.x = b->x;
    f.face.y = b->y;
    f.face.w = b->w;
    f.face.h = b->h;
    f.face.score = MIN (1.0f, b->neighbors / 100.0f);
    g_array_append_val (self->faces, f);
  }
  return st;
}

/* Packed RGB of the frame: the frame itself when it is RGB, else converted into rgb_buf. */
static const guint8 *
frame_rgb (GstFerFaceDetect * self, GstVideoFrame * frame, gint * stride,
    GstVideoFrame * rgb_frame, gboolean * mapped)
{
  *mapped = FALSE;
  if (GST_VIDEO_FRAME_FORMAT (frame) == GST_VIDEO_FORMAT_RGB) {
    *stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
    return GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  }
  if (!self->to_rgb) {
    gst_video_info_set_format (&self->rgb_info, GST_VIDEO_FORMAT_RGB,
        GST_VIDEO_FRAME_WIDTH (frame), GST_VIDEO_FRAME_HEIGHT (frame));
    /* the converter wants the rest of the info (rate, aspect, interlacing) equal */
    GST_VIDEO_INFO_FPS_N (&self->rgb_info) = GST_VIDEO_INFO_FPS_N (&frame->info);
    GST_VIDEO_INFO_FPS_D (&self->rgb_info) = GST_VIDEO_INFO_FPS_D (&frame->info);
    GST_VIDEO_INFO_PAR_N (&self->rgb_info) = GST_VIDEO_INFO_PAR_N (&frame->info);
    GST_VIDEO_INFO_PAR_D (&self->rgb_info) = GST_VIDEO_INFO_PAR_D (&frame->info);
    GST_VIDEO_INFO_INTERLACE_MODE (&self->rgb_info) =
        GST_VIDEO_INFO_INTERLACE_MODE (&frame->info);
    self->to_rgb = gst_video_converter_new (&frame->info, &self->rgb_info, NULL);
    self->rgb_buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&self->rgb_info), NULL);
    if (!self->to_rgb || !self->rgb_buf)
      return NULL;
  }
  if (!gst_video_frame_map (rgb_frame, &self->rgb_info, self->rgb_buf, GST_MAP_WRITE))
    return NULL;
  *mapped = TRUE;
  gst_video_converter_frame (self->to_rgb, frame, rgb_frame);
  *stride = GST_VIDEO_FRAME_PLANE_STRIDE (rgb_frame, 0);
  return GST_VIDEO_FRAME_PLANE_DATA (rgb_frame, 0);
}

static fer_status
detect_cnn (GstFerFaceDetect * self, GstVideoFrame * frame, gint min_size, gfloat min_score,
    gfloat nms_iou)
{
  GstVideoFrame rgb_frame;
  gboolean mapped;
  gint stride = 0, n = 0;
  const guint8 *rgb = frame_rgb (self, frame, &stride, &rgb_frame, &mapped);
  fer_face faces[MAX_CNN_FACES];

  if (!rgb)
    return fer_fail (FER_ERR_NOMEM, "cannot convert the %s frame to RGB",
        gst_video_format_to_string (GST_VIDEO_FRAME_FORMAT (frame)));
  fer_status st = fer_face_detector_detect (self->detector, rgb, GST_VIDEO_FRAME_WIDTH (frame),
      GST_VIDEO_FRAME_HEIGHT (frame), stride, min_score, nms_iou, min_size, faces,
      MAX_CNN_FACES, &n);
  if (mapped)
    gst_video_frame_unmap (&rgb_frame);
  for (gint i = 0; st == FER_OK && i < n; i++) {
    FerDetectedFace f = { faces[i], 0 };
    g_array_append_val (self->faces, f);
  }
  return st;
}

static GstFlowReturn
detect (GstFerFaceDetect * self, GstVideoFrame * frame, const fer_cascade_params * params,
    gfloat min_score, gfloat nms_iou)
{
  fer_status st;

  g_array_set_size (self->faces, 0);
  if (self->active == GST_FER_DETECT_METHOD_CNN)
    st = detect_cnn (self, frame, params->min_size, min_score, nms_iou);
  else
    st = detect_cascade (self, frame, params);
  if (st != FER_OK) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Face detection failed: %s",
            fer_last_error ()), (NULL));
    return GST_FLOW_ERROR;
  }
  self->have_boxes = TRUE;
  self->frames_since_detect = 0;
  return GST_FLOW_OK;
}

static void
take_float_array (GstStructure * s, const gchar * field, const gfloat * v, gint n, gint stride)
{
  GValue arr = G_VALUE_INIT;

  g_value_init (&arr, GST_TYPE_ARRAY);
  for (gint i = 0; i < n; i++) {
    GValue f = G_VALUE_INIT;
    g_value_init (&f, G_TYPE_FLOAT);
    g_value_set_float (&f, v[i * stride]);
    gst_value_array_append_and_take_value (&arr, &f);
  }
  gst_structure_take_value (s, field, &arr);
}

static GstStructure *
landmarks_param (const fer_face * f)
{
  GstStructure *s = gst_structure_new_empty (FER_LANDMARKS_PARAM);
  GValue names = G_VALUE_INIT;
  gint n = MIN (f->n_keypoints, FER_FACE_MAX_KEYPOINTS);

  take_float_array (s, "x", &f->keypoints[0][0], n, 2);
  take_float_array (s, "y", &f->keypoints[0][1], n, 2);
  g_value_init (&names, GST_TYPE_ARRAY);
  for (gint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_static_string (&v, landmark_names[i]);
    gst_value_array_append_and_take_value (&names, &v);
  }
  gst_structure_take_value (s, "names", &names);
  return s;
}

/* Attaches one ROI meta per face, the box rounded and clipped to the frame. */
static void
attach_faces (GstFerFaceDetect * self, GstVideoFrame * frame, gboolean fresh)
{
  gint fw = GST_VIDEO_FRAME_WIDTH (frame), fh = GST_VIDEO_FRAME_HEIGHT (frame);
  const gchar *method = self->active == GST_FER_DETECT_METHOD_CNN ? "cnn" : "cascade";

  for (guint i = 0; i < self->faces->len; i++) {
    const FerDetectedFace *d = &g_array_index (self->faces, FerDetectedFace, i);
    const fer_face *f = &d->face;
    gint x0 = CLAMP ((gint) lrintf (f->x), 0, fw), y0 = CLAMP ((gint) lrintf (f->y), 0, fh);
    gint x1 = CLAMP ((gint) lrintf (f->x + f->w), 0, fw);
    gint y1 = CLAMP ((gint) lrintf (f->y + f->h), 0, fh);
    if (x1 <= x0 || y1 <= y0)
      continue;
    GstVideoRegionOfInterestMeta *roi =
        gst_buffer_add_video_region_of_interest_meta (frame->buffer, FER_ROI_TYPE_FACE, x0,
        y0, x1 - x0, y1 - y0);
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new (FER_DETECTION_PARAM, "method", G_TYPE_STRING, method,
            "score", G_TYPE_DOUBLE, (gdouble) f->score, "neighbors", G_TYPE_INT, d->neighbors,
            "fresh", G_TYPE_BOOLEAN, fresh, NULL));
    if (f->n_keypoints > 0)
      gst_video_region_of_interest_meta_add_param (roi, landmarks_param (f));
  }
}

/* Templates of the boxes just found, followed by follow_tracks until the next detection. */
static void
start_tracks (GstFerFaceDetect * self, GstVideoFrame * frame)
{
  gint stride = 0;
  const guint8 *luma = fer_video_frame_luma (frame, &self->luma, &stride);

  g_ptr_array_set_size (self->tracks, 0);
  for (guint i = 0; luma && i < self->faces->len; i++) {
    const fer_face *f = &g_array_index (self->faces, FerDetectedFace, i).face;
    fer_track *t = NULL;
    /* a box the tracker refuses (under 4 px) is carried unchanged */
    if (fer_track_new (luma, GST_VIDEO_FRAME_WIDTH (frame), GST_VIDEO_FRAME_HEIGHT (frame),
            stride, f->x, f->y, f->w, f->h, NULL, &t) != FER_OK)
      GST_DEBUG_OBJECT (self, "face %u not tracked: %s", i, fer_last_error ());
    g_ptr_array_add (self->tracks, t);
  }
}

/* Moves each carried box (and its keypoints) with its face; a face not found stays put. */
static void
follow_tracks (GstFerFaceDetect * self, GstVideoFrame * frame)
{
  gint stride = 0;
  const guint8 *luma;

  if (self->tracks->len != self->faces->len)
    return;                     /* track was off at the last detection */
  luma = fer_video_frame_luma (frame, &self->luma, &stride);
  for (guint i = 0; luma && i < self->faces->len; i++) {
    fer_track *t = g_ptr_array_index (self->tracks, i);
    fer_face *f = &g_array_index (self->faces, FerDetectedFace, i).face;
    fer_track_step step;
    if (!t)
      continue;
    if (fer_track_update (t, luma, GST_VIDEO_FRAME_WIDTH (frame),
            GST_VIDEO_FRAME_HEIGHT (frame), stride, &step) != FER_OK) {
      GST_WARNING_OBJECT (self, "face %u: %s", i, fer_last_error ());
      continue;
    }
    GST_LOG_OBJECT (self, "face %u: %s %+.0f,%+.0f (score %.2f)", i, step.found ? "moved" :
        "lost, held", step.dx, step.dy, step.score);
    if (!step.found)
      continue;
    f->x += step.dx;
    f->y += step.dy;
    for (gint k = 0; k < f->n_keypoints && k < FER_FACE_MAX_KEYPOINTS; k++) {
      f->keypoints[k][0] += step.dx;
      f->keypoints[k][1] += step.dy;
    }
  }
}

static GstFlowReturn
gst_fer_face_detect_transform_frame_ip (GstVideoFilter * filter, GstVideoFrame * frame)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (filter);
  fer_cascade_params params;
  guint every;
  gfloat min_score, nms_iou;
  gboolean fresh = FALSE, track;

  GST_OBJECT_LOCK (self);
  params = self->params;
  every = self->detect_every;
  if (every == 0)
    every = self->active == GST_FER_DETECT_METHOD_CNN ? CNN_DETECT_EVERY : 1;
  min_score = (gfloat) self->min_score;
  nms_iou = (gfloat) self->nms_iou;
  if (self->active == GST_FER_DETECT_METHOD_CNN && self->detector) {
    gfloat sm, sn;
    fer_face_detector_suggested_thresholds (self->detector, &sm, &sn);
    if (!self->min_score_set)
      min_score = sm;
    if (!self->nms_iou_set)
      nms_iou = sn;
  }
  track = self->track && every > 1;
  GST_OBJECT_UNLOCK (self);

  /* the cascade property may have changed */
  if (self->active == GST_FER_DETECT_METHOD_CASCADE && !ensure_cascade (self))
    return GST_FLOW_ERROR;

  if (!self->have_boxes || ++self->frames_since_detect >= every) {
    GstFlowReturn ret = detect (self, frame, &params, min_score, nms_iou);
    if (ret != GST_FLOW_OK)
      return ret;
    fresh = TRUE;
    g_ptr_array_set_size (self->tracks, 0);
    if (track)
      start_tracks (self, frame);
  } else if (track) {
    follow_tracks (self, frame);
  } else {
    g_ptr_array_set_size (self->tracks, 0);     /* no stale templates when track comes back */
  }
  attach_faces (self, frame, fresh);
  GST_LOG_OBJECT (self, "%u faces%s", self->faces->len, fresh ? "" : " (carried)");
  return GST_FLOW_OK;
}

static void
gst_fer_face_detect_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CASCADE:
      g_free (self->cascade_path);
      self->cascade_path = g_value_dup_string (value);
      if (!self->cascade_path)  /* back to the default */
        self->cascade_path = gst_fer_face_detect_default_cascade ();
      break;
    case PROP_MIN_SIZE:
      self->params.min_size = g_value_get_int (value);
      break;
    case PROP_MAX_SIZE:
      self->params.max_size = g_value_get_int (value);
      break;
    case PROP_SCALE_FACTOR:
      self->params.scale_factor = g_value_get_double (value);
      break;
    case PROP_MIN_NEIGHBORS:
      self->params.min_neighbors = g_value_get_int (value);
      break;
    case PROP_DETECT_EVERY:
      self->detect_every = g_value_get_uint (value);
      break;
    case PROP_TRACK:
      self->track = g_value_get_boolean (value);
      break;
    case PROP_EXHAUSTIVE:
      self->params.exhaustive = g_value_get_boolean (value);
      break;
    case PROP_METHOD:
      self->method = g_value_get_enum (value);
      break;
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      self->model_is_default = self->model_path == NULL;
      if (!self->model_path)
        self->model_path = gst_fer_face_detect_default_model ();
      break;
    case PROP_MIN_SCORE:
      self->min_score = g_value_get_double (value);
      self->min_score_set = TRUE;
      break;
    case PROP_NMS_IOU:
      self->nms_iou = g_value_get_double (value);
      self->nms_iou_set = TRUE;
      break;
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_fer_face_detect_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CASCADE:
      g_value_set_string (value, self->cascade_path);
      break;
    case PROP_MIN_SIZE:
      g_value_set_int (value, self->params.min_size);
      break;
    case PROP_MAX_SIZE:
      g_value_set_int (value, self->params.max_size);
      break;
    case PROP_SCALE_FACTOR:
      g_value_set_double (value, self->params.scale_factor);
      break;
    case PROP_MIN_NEIGHBORS:
      g_value_set_int (value, self->params.min_neighbors);
      break;
    case PROP_DETECT_EVERY:
      g_value_set_uint (value, self->detect_every);
      break;
    case PROP_TRACK:
      g_value_set_boolean (value, self->track);
      break;
    case PROP_EXHAUSTIVE:
      g_value_set_boolean (value, self->params.exhaustive);
      break;
    case PROP_METHOD:
      g_value_set_enum (value, self->method);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_MIN_SCORE:
      g_value_set_double (value, self->min_score);
      break;
    case PROP_NMS_IOU:
      g_value_set_double (value, self->nms_iou);
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_fer_face_detect_finalize (GObject * object)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (object);

  fer_cascade_free (self->cascade);
  g_free (self->loaded_path);
  g_free (self->cascade_path);
  fer_cascade_boxes_clear (&self->boxes);
  fer_luma_scratch_clear (&self->luma);
  fer_face_detector_free (self->detector);
  g_free (self->model_path);
  g_array_free (self->faces, TRUE);
  g_ptr_array_free (self->tracks, TRUE);
  g_clear_pointer (&self->to_rgb, gst_video_converter_free);
  gst_clear_buffer (&self->rgb_buf);
  G_OBJECT_CLASS (gst_fer_face_detect_parent_class)->finalize (object);
}

static void
gst_fer_face_detect_init (GstFerFaceDetect * self)
{
  fer_cascade_params_default (&self->params);
  self->params.min_size = DEFAULT_MIN_SIZE;
  self->params.max_size = DEFAULT_MAX_SIZE;
  self->params.scale_factor = DEFAULT_SCALE_FACTOR;
  self->params.min_neighbors = DEFAULT_MIN_NEIGHBORS;
  self->params.exhaustive = DEFAULT_EXHAUSTIVE;
  self->detect_every = DEFAULT_DETECT_EVERY;
  self->track = DEFAULT_TRACK;
  self->tracks = g_ptr_array_new_with_free_func ((GDestroyNotify) fer_track_free);
  self->cascade_path = gst_fer_face_detect_default_cascade ();
  self->method = DEFAULT_METHOD;
  self->model_path = gst_fer_face_detect_default_model ();
  self->model_is_default = TRUE;
  self->min_score = DEFAULT_MIN_SCORE;
  self->nms_iou = DEFAULT_NMS_IOU;
  self->backend = DEFAULT_BACKEND;
  self->threads = DEFAULT_THREADS;
  self->faces = g_array_new (FALSE, FALSE, sizeof (FerDetectedFace));
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}

static void
gst_fer_face_detect_class_init (GstFerFaceDetectClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  GstCaps *caps = gst_caps_from_string (FER_VIDEO_CAPS);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING;
  /* read when the element goes to READY */
  const GParamFlags rw_ready = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  GST_DEBUG_CATEGORY_INIT (gst_fer_face_detect_debug, "ferfacedetect", 0,
      "fer face detector");

  gobject_class->set_property = gst_fer_face_detect_set_property;
  gobject_class->get_property = gst_fer_face_detect_get_property;
  gobject_class->finalize = gst_fer_face_detect_finalize;

  g_object_class_install_property (gobject_class, PROP_METHOD,
      g_param_spec_enum ("method", "Method",
          "Detector: cnn (BlazeFace, keypoints; falls back to cascade with a warning when "
          "its default model is not installed) or cascade (Viola-Jones)",
          GST_TYPE_FER_DETECT_METHOD, DEFAULT_METHOD, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "CNN face detector (.fer converted by data/models/fetch.sh). Default: the installed "
          "share/fer/models/blazeface.fer, else the source tree's data/models/blazeface.fer; "
          "NULL restores the default", NULL, rw_ready));
  g_object_class_install_property (gobject_class, PROP_MIN_SCORE,
      g_param_spec_double ("min-score", "Minimum score",
          "CNN: faces with a lower confidence are dropped (unset: the model's suggestion, "
          "which is this default for BlazeFace, 0.5 for TinyFaceDetector)", 0.0, 1.0,
          DEFAULT_MIN_SCORE, rw));
  g_object_class_install_property (gobject_class, PROP_NMS_IOU,
      g_param_spec_double ("nms-iou", "NMS IoU",
          "CNN: a box overlapping a better one by more than this IoU is dropped (unset: the "
          "model's suggestion, this default for BlazeFace, 0.4 for TinyFaceDetector)", 0.0, 1.0,
          DEFAULT_NMS_IOU, rw));
  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend", "CNN: compute backend", GST_TYPE_FER_BACKEND,
          DEFAULT_BACKEND, rw_ready));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "CNN: CPU threads (0 = all cores)", 0, 1024,
          DEFAULT_THREADS, rw_ready));
  g_object_class_install_property (gobject_class, PROP_CASCADE,
      g_param_spec_string ("cascade", "Cascade",
          "OpenCV cascade XML file (Haar or LBP, \"opencv-cascade-classifier\" format). "
          "Default: haarcascade_frontalface_alt.xml of opencv-data, found at run time in the "
          "system data dirs; NULL restores the default", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_MIN_SIZE,
      g_param_spec_int ("min-size", "Minimum size",
          "Smallest face side in pixels, both methods (0: the cascade window; for the CNN "
          "one whole-frame pass)", 0, G_MAXINT,
          DEFAULT_MIN_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_SIZE,
      g_param_spec_int ("max-size", "Maximum size",
          "Largest face side in pixels (0: unlimited)", 0, G_MAXINT, DEFAULT_MAX_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_SCALE_FACTOR,
      g_param_spec_double ("scale-factor", "Scale factor",
          "Size ratio between two levels of the image pyramid", 1.01, 4.0,
          DEFAULT_SCALE_FACTOR, rw));
  g_object_class_install_property (gobject_class, PROP_MIN_NEIGHBORS,
      g_param_spec_int ("min-neighbors", "Minimum neighbors",
          "A face needs more than this many overlapping window hits", 0, 1000,
          DEFAULT_MIN_NEIGHBORS, rw));
  g_object_class_install_property (gobject_class, PROP_DETECT_EVERY,
      g_param_spec_uint ("detect-every", "Detect every",
          "Run the detector every N frames and attach the last boxes in between (0: auto, "
          "8 for method=cnn, 1 for method=cascade)", 0, G_MAXUINT, DEFAULT_DETECT_EVERY, rw));
  g_object_class_install_property (gobject_class, PROP_TRACK,
      g_param_spec_boolean ("track", "Track",
          "Between detections move each box with its face (template matching on the luma; a "
          "face not found keeps its box); false: attach the last boxes unchanged",
          DEFAULT_TRACK, rw));
  g_object_class_install_property (gobject_class, PROP_EXHAUSTIVE,
      g_param_spec_boolean ("exhaustive", "Exhaustive",
          "Evaluate every window like OpenCV instead of the faster coarse-to-fine scan",
          DEFAULT_EXHAUSTIVE, rw));

  gst_element_class_set_static_metadata (element_class, "Face detector",
      "Filter/Analyzer/Video",
      "Finds faces with OpenCV cascade files (no OpenCV library) and attaches "
      "GstVideoRegionOfInterestMeta of type \"face\"", "fer project");
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_element_class_add_pad_template (element_class,
      gst_pad_template_new ("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref (caps);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_fer_face_detect_change_state);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_fer_face_detect_stop);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_fer_face_detect_set_info);
  filter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_fer_face_detect_transform_frame_ip);
}
