/* ferfacedetect
 *
 * Finds faces and attaches one GstVideoRegionOfInterestMeta of type "face" per face (plus a
 * "fer/detection" param with the number of merged windows), in place. The detector is the
 * built-in Viola-Jones evaluator of gst-plugin/detect/cascade.h, which reads the cascade XML
 * files of Debian's opencv-data without the OpenCV library. It works on the luma of GRAY8,
 * I420, NV12 and packed RGB frames.
 *
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! ferfacedetect ! \
 *     ferclassify ! feroverlay ! videoconvert ! autovideosink
 */
#include <string.h>

#include "gstferfacedetect.h"

GST_DEBUG_CATEGORY_STATIC (gst_fer_face_detect_debug);
#define GST_CAT_DEFAULT gst_fer_face_detect_debug

#define DEFAULT_MIN_SIZE 24
#define DEFAULT_MAX_SIZE 0
#define DEFAULT_SCALE_FACTOR 1.2
#define DEFAULT_MIN_NEIGHBORS 3
#define DEFAULT_DETECT_EVERY 1
#define DEFAULT_EXHAUSTIVE FALSE

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
  PROP_EXHAUSTIVE,
};

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

  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !ensure_cascade (self))
    return GST_STATE_CHANGE_FAILURE;

  ret = GST_ELEMENT_CLASS (gst_fer_face_detect_parent_class)->change_state (element,
      transition);

  if (transition == GST_STATE_CHANGE_READY_TO_NULL) {
    GST_OBJECT_LOCK (self);
    fer_cascade_free (self->cascade);
    self->cascade = NULL;
    g_clear_pointer (&self->loaded_path, g_free);
    GST_OBJECT_UNLOCK (self);
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
  return TRUE;
}

static gboolean
gst_fer_face_detect_stop (GstBaseTransform * trans)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (trans);

  self->have_boxes = FALSE;
  fer_cascade_boxes_clear (&self->boxes);
  fer_luma_scratch_clear (&self->luma);
  return TRUE;
}

static GstFlowReturn
detect (GstFerFaceDetect * self, GstVideoFrame * frame, const fer_cascade_params * params)
{
  gint stride = 0;
  const guint8 *luma = fer_video_frame_luma (frame, &self->luma, &stride);
  fer_status st = fer_cascade_detect (self->cascade, luma, GST_VIDEO_FRAME_WIDTH (frame),
      GST_VIDEO_FRAME_HEIGHT (frame), stride, params, &self->boxes);

  if (st != FER_OK) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Face detection failed: %s",
            fer_last_error ()), (NULL));
    return GST_FLOW_ERROR;
  }
  self->have_boxes = TRUE;
  self->frames_since_detect = 0;
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_fer_face_detect_transform_frame_ip (GstVideoFilter * filter, GstVideoFrame * frame)
{
  GstFerFaceDetect *self = GST_FER_FACE_DETECT (filter);
  fer_cascade_params params;
  guint every;
  gboolean fresh = FALSE;

  GST_OBJECT_LOCK (self);
  params = self->params;
  every = self->detect_every;
  GST_OBJECT_UNLOCK (self);

  if (!ensure_cascade (self))   /* the cascade property may have changed */
    return GST_FLOW_ERROR;

  if (!self->have_boxes || ++self->frames_since_detect >= every) {
    GstFlowReturn ret = detect (self, frame, &params);
    if (ret != GST_FLOW_OK)
      return ret;
    fresh = TRUE;
  }

  for (gsize i = 0; i < self->boxes.n; i++) {
    const fer_cascade_box *b = &self->boxes.v[i];
    GstVideoRegionOfInterestMeta *roi =
        gst_buffer_add_video_region_of_interest_meta (frame->buffer, "face", b->x, b->y, b->w,
        b->h);
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new (FER_DETECTION_PARAM, "neighbors", G_TYPE_INT, b->neighbors,
            "fresh", G_TYPE_BOOLEAN, fresh, NULL));
  }
  GST_LOG_OBJECT (self, "%" G_GSIZE_FORMAT " faces%s", self->boxes.n,
      fresh ? "" : " (carried)");
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
    case PROP_EXHAUSTIVE:
      self->params.exhaustive = g_value_get_boolean (value);
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
    case PROP_EXHAUSTIVE:
      g_value_set_boolean (value, self->params.exhaustive);
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
  self->cascade_path = gst_fer_face_detect_default_cascade ();
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

  GST_DEBUG_CATEGORY_INIT (gst_fer_face_detect_debug, "ferfacedetect", 0,
      "fer face detector");

  gobject_class->set_property = gst_fer_face_detect_set_property;
  gobject_class->get_property = gst_fer_face_detect_get_property;
  gobject_class->finalize = gst_fer_face_detect_finalize;

  g_object_class_install_property (gobject_class, PROP_CASCADE,
      g_param_spec_string ("cascade", "Cascade",
          "OpenCV cascade XML file (Haar or LBP, \"opencv-cascade-classifier\" format). "
          "Default: haarcascade_frontalface_alt.xml of opencv-data, found at run time in the "
          "system data dirs; NULL restores the default", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_MIN_SIZE,
      g_param_spec_int ("min-size", "Minimum size",
          "Smallest face side in pixels (0: the cascade window)", 0, G_MAXINT,
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
          "Run the detector every N frames and attach the last boxes in between", 1,
          G_MAXUINT, DEFAULT_DETECT_EVERY, rw));
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
