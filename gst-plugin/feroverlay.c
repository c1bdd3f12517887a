/**
 * SECTION:element-feroverlay
 *
 * Draws each face classified by ferclassify: its box, "label 91%" in the built-in bitmap font
 * and, with show-probabilities, a bar per class, in class-specific colours. The label sits
 * above the box (below it when there is no room above), always whole and inside the frame;
 * the box and label have dark edges so every class colour reads on light and dark backgrounds.
 * Frames without classified faces are passed on untouched (not even mapped for writing).
 *
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! ferfacedetect ! \
 *     ferclassify ! feroverlay show-probabilities=true ! videoconvert ! autovideosink
 * ]|
 */
#include "feroverlay.h"

#include <string.h>

#include "fervideo.h"
#include "feroverlay_draw.h"

GST_DEBUG_CATEGORY_STATIC (gst_fer_overlay_debug);
#define GST_CAT_DEFAULT gst_fer_overlay_debug

#define DEFAULT_SHOW_PROBABILITIES FALSE
#define DEFAULT_SHOW_TRACK_ID FALSE
#define DEFAULT_FONT_SCALE 0    /* auto: fer_overlay_auto_font_scale */
#define MAX_FONT_SCALE 16
#define MAX_CLASSES 16
#define MAX_COORD (1 << 24)

enum {
  PROP_0,
  PROP_SHOW_PROBABILITIES,
  PROP_SHOW_TRACK_ID,
  PROP_FONT_SCALE,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS (FER_VIDEO_CAPS));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC,
    GST_PAD_ALWAYS, GST_STATIC_CAPS (FER_VIDEO_CAPS));

G_DEFINE_TYPE (GstFerOverlay, gst_fer_overlay, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (feroverlay, "feroverlay", GST_RANK_NONE, GST_TYPE_FER_OVERLAY);

/* One classified face as read back from its "fer/expression" param. */
typedef struct FaceView {
  gint x, y, w, h;
  const gchar *label;
  gdouble confidence;
  gint track_id;
  gint n_classes;
  gdouble probs[MAX_CLASSES];
  const gchar *class_names[MAX_CLASSES];
  gint best;                   /* argmax of probs, -1 when none */
} FaceView;

/* A track id some other element (e.g. a detector that tracks) put in any param of the ROI; -1
 * when none has one. */
static gint
roi_track_id (GstVideoRegionOfInterestMeta * roi)
{
  gint id;

  for (GList * l = roi->params; l; l = l->next)
    if (gst_structure_get_int (l->data, "track-id", &id) && id >= 0)
      return id;
  return -1;
}

static gboolean
read_face (GstVideoRegionOfInterestMeta * roi, FaceView * f)
{
  GstStructure *s = gst_video_region_of_interest_meta_get_param (roi, FER_EXPRESSION_PARAM);
  const GValue *probs, *names;

  if (!s)
    return FALSE;
  memset (f, 0, sizeof *f);
  /* the meta's unsigned fields read back as ints (negative x, y of boxes leaving the frame);
   * clamped so the layout's sums cannot overflow */
  f->x = CLAMP ((gint) roi->x, -MAX_COORD, MAX_COORD);
  f->y = CLAMP ((gint) roi->y, -MAX_COORD, MAX_COORD);
  f->w = CLAMP ((gint) roi->w, 0, MAX_COORD);
  f->h = CLAMP ((gint) roi->h, 0, MAX_COORD);
  f->label = gst_structure_get_string (s, "label");
  if (!f->label)
    f->label = "?";
  if (!gst_structure_get_double (s, "confidence", &f->confidence))
    f->confidence = 0.0;
  if (!gst_structure_get_int (s, "track-id", &f->track_id))
    f->track_id = roi_track_id (roi);
  f->best = -1;
  probs = gst_structure_get_value (s, "probabilities");
  names = gst_structure_get_value (s, "class-names");
  if (probs && GST_VALUE_HOLDS_ARRAY (probs)) {
    f->n_classes = MIN ((gint) gst_value_array_get_size (probs), MAX_CLASSES);
    for (gint c = 0; c < f->n_classes; c++) {
      const GValue *v = gst_value_array_get_value (probs, c);
      f->probs[c] = G_VALUE_HOLDS_DOUBLE (v) ? g_value_get_double (v) : 0.0;
      if (f->best < 0 || f->probs[c] > f->probs[f->best])
        f->best = c;
      f->class_names[c] = "";
      if (names && GST_VALUE_HOLDS_ARRAY (names) &&
          (guint) c < gst_value_array_get_size (names)) {
        const GValue *nv = gst_value_array_get_value (names, c);
        if (G_VALUE_HOLDS_STRING (nv) && g_value_get_string (nv))
          f->class_names[c] = g_value_get_string (nv);
      }
    }
  }
  return f->w > 0 && f->h > 0;
}

static void
draw_face (FerCanvas * cv, const FaceView * f, gboolean show_probs, gboolean show_id,
    gint font_scale)
{
  FerRect face = { f->x, f->y, f->w, f->h };
  FerFaceLayout layout;
  gchar *text = fer_overlay_label_text (f->label, f->confidence, show_id ? f->track_id : -1);

  fer_face_layout (face, text, font_scale, show_probs ? f->n_classes : 0,
      GST_VIDEO_FRAME_WIDTH (cv->frame), GST_VIDEO_FRAME_HEIGHT (cv->frame), &layout);
  fer_canvas_draw_face (cv, &layout, face, text, fer_expression_color (f->label, f->best),
      f->probs, f->class_names);
  g_free (text);
}

static GstFlowReturn
gst_fer_overlay_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstFerOverlay *self = GST_FER_OVERLAY (trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER (trans);
  GstVideoRegionOfInterestMeta *roi;
  gpointer state = NULL;
  GArray *faces = NULL;
  GstVideoFrame frame;
  FerCanvas cv;
  gboolean show_probs, show_id;
  gint font_scale;
  FaceView f;

  if (G_UNLIKELY (!filter->negotiated))
    return GST_FLOW_NOT_NEGOTIATED;

  while ((roi = fer_buffer_iterate_faces (buf, &state))) {
    if (!read_face (roi, &f))
      continue;
    if (!faces)
      faces = g_array_new (FALSE, FALSE, sizeof (FaceView));
    g_array_append_val (faces, f);
  }
  if (!faces)
    return GST_FLOW_OK;        /* nothing to draw: leave the pixels (and their memory) alone */

  GST_OBJECT_LOCK (self);
  show_probs = self->show_probabilities;
  show_id = self->show_track_id;
  font_scale = self->font_scale;
  GST_OBJECT_UNLOCK (self);

  if (!gst_video_frame_map (&frame, &filter->in_info, buf, GST_MAP_READWRITE)) {
    g_array_unref (faces);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map video frame for drawing"), (NULL));
    return GST_FLOW_ERROR;
  }
  fer_canvas_init (&cv, &frame);
  for (guint i = 0; i < faces->len; i++)
    draw_face (&cv, &g_array_index (faces, FaceView, i), show_probs, show_id, font_scale);
  gst_video_frame_unmap (&frame);
  g_array_unref (faces);
  return GST_FLOW_OK;
}

static void
gst_fer_overlay_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstFerOverlay *self = GST_FER_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SHOW_PROBABILITIES:
      self->show_probabilities = g_value_get_boolean (value);
      break;
    case PROP_SHOW_TRACK_ID:
      self->show_track_id = g_value_get_boolean (value);
      break;
    case PROP_FONT_SCALE:
      self->font_scale = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_fer_overlay_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstFerOverlay *self = GST_FER_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SHOW_PROBABILITIES:
      g_value_set_boolean (value, self->show_probabilities);
      break;
    case PROP_SHOW_TRACK_ID:
      g_value_set_boolean (value, self->show_track_id);
      break;
    case PROP_FONT_SCALE:
      g_value_set_int (value, self->font_scale);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_fer_overlay_init (GstFerOverlay * self)
{
  self->show_probabilities = DEFAULT_SHOW_PROBABILITIES;
  self->show_track_id = DEFAULT_SHOW_TRACK_ID;
  self->font_scale = DEFAULT_FONT_SCALE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* drawing is cheap; late frames are the sink's to drop, not ours */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}

static void
gst_fer_overlay_class_init (GstFerOverlayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING | GST_PARAM_CONTROLLABLE;

  GST_DEBUG_CATEGORY_INIT (gst_fer_overlay_debug, "feroverlay", 0,
      "facial expression overlay");

  gobject_class->set_property = gst_fer_overlay_set_property;
  gobject_class->get_property = gst_fer_overlay_get_property;

  g_object_class_install_property (gobject_class, PROP_SHOW_PROBABILITIES,
      g_param_spec_boolean ("show-probabilities", "Show probabilities",
          "Draw a bar per class beside each face box (below or above it where there is no "
          "room beside it)", DEFAULT_SHOW_PROBABILITIES, rw));
  g_object_class_install_property (gobject_class, PROP_SHOW_TRACK_ID,
      g_param_spec_boolean ("show-track-id", "Show track id",
          "Prefix each label with the face's track id (\"#3 happy 91%\"), from ferclassify's "
          "results or any ROI param with a track-id; faces without one show none",
          DEFAULT_SHOW_TRACK_ID, rw));
  g_object_class_install_property (gobject_class, PROP_FONT_SCALE,
      g_param_spec_int ("font-scale", "Font scale",
          "Pixels per font pixel of the 8x13 label font; 0 = auto (1 below 600 rows, then one "
          "more per 400 rows: 2 at 720p, 3 at 1080p). Lowered where a label would not fit the "
          "frame's width", 0, MAX_FONT_SCALE, DEFAULT_FONT_SCALE, rw));

  gst_element_class_set_static_metadata (element_class, "Facial expression overlay",
      "Filter/Effect/Video",
      "Draws classified faces: box, expression label and confidence, probability bars",
      "fer project");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  /* our own transform_ip: frames without classified faces are not mapped at all */
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_fer_overlay_transform_ip);
}
