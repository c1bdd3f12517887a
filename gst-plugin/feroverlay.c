/**
 * SECTION:element-feroverlay
 *
 * Draws each face classified by ferclassify: its box, "label 91%" in the built-in bitmap font
 * and, with show-probabilities, a bar per class, in class-specific colours. All drawing stays
 * inside the face box; frames without classified faces are passed on untouched (not even
 * mapped for writing).
 *
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! ferfacedetect ! \
 *     ferclassify ! feroverlay show-probabilities=true ! videoconvert ! autovideosink
 * ]|
 */
#include "feroverlay.h"

#include <math.h>
#include <string.h>

#include "fer/font.h"
#include "fervideo.h"
#include "feroverlay_draw.h"

GST_DEBUG_CATEGORY_STATIC (gst_fer_overlay_debug);
#define GST_CAT_DEFAULT gst_fer_overlay_debug

#define DEFAULT_SHOW_PROBABILITIES FALSE
#define DEFAULT_SHOW_TRACK_ID FALSE
#define MAX_CLASSES 16

enum {
  PROP_0,
  PROP_SHOW_PROBABILITIES,
  PROP_SHOW_TRACK_ID,
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

static gboolean
read_face (GstVideoRegionOfInterestMeta * roi, FaceView * f)
{
  GstStructure *s = gst_video_region_of_interest_meta_get_param (roi, FER_EXPRESSION_PARAM);
  const GValue *probs, *names;

  if (!s)
    return FALSE;
  memset (f, 0, sizeof *f);
  f->x = (gint) roi->x;
  f->y = (gint) roi->y;
  f->w = (gint) roi->w;
  f->h = (gint) roi->h;
  f->label = gst_structure_get_string (s, "label");
  if (!f->label)
    f->label = "?";
  if (!gst_structure_get_double (s, "confidence", &f->confidence))
    f->confidence = 0.0;
  if (!gst_structure_get_int (s, "track-id", &f->track_id))
    f->track_id = -1;
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

/* Bars for every class at the bottom of the box (at most 45% of its height, so the face stays
 * visible), with 3-letter names when there is room. */
static void
draw_probabilities (FerCanvas * cv, const FaceView * f, gint top, gint t)
{
  gint avail = MIN (f->y + f->h - t - top, f->h * 45 / 100), n = f->n_classes;
  gint row_h, label_w, x0 = f->x + t, w = f->w - 2 * t, y0;
  gboolean with_names;
  FerRgb panel = { 0, 0, 0 }, white = { 255, 255, 255 };

  if (n <= 0 || w < 8)
    return;
  row_h = MIN (FER_FONT_H + 1, avail / n);
  if (row_h < 2)
    return;
  with_names = row_h >= FER_FONT_H + 1 && w >= 3 * FER_FONT_W + 24;
  label_w = with_names ? 3 * FER_FONT_W + 2 : 0;
  y0 = f->y + f->h - t - n * row_h;
  fer_canvas_fill_rect (cv, x0, y0, w, n * row_h, panel, 150);
  for (gint c = 0; c < n; c++) {
    gint y = y0 + c * row_h;
    gint bar_max = w - label_w - 1;
    gint bar = (gint) lround (CLAMP (f->probs[c], 0.0, 1.0) * bar_max);
    if (with_names) {
      gchar abbrev[4] = { 0 };
      g_strlcpy (abbrev, f->class_names[c], sizeof abbrev);
      fer_canvas_draw_text (cv, abbrev, x0 + 1, y, 1, white);
    }
    fer_canvas_fill_rect (cv, x0 + label_w, y, bar, row_h - 1,
        fer_expression_color (f->class_names[c], c), 255);
  }
}

static void
draw_face (FerCanvas * cv, const FaceView * f, gboolean show_probs, gboolean show_id)
{
  FerRgb color = fer_expression_color (f->label, f->best);
  gint t = CLAMP (MIN (f->w, f->h) / 50, 1, 6);
  gint scale = CLAMP (f->w / 160, 1, 4);
  gint pad = scale + 1;
  gint strip_h = fer_font_text_height (scale) + 2 * pad;
  gint pct = (gint) lround (CLAMP (f->confidence, 0.0, 1.0) * 100.0);
  gchar *text = show_id && f->track_id >= 0 ?
      g_strdup_printf ("#%d %s %d%%", f->track_id, f->label, pct) :
      g_strdup_printf ("%s %d%%", f->label, pct);

  fer_canvas_set_clip (cv, f->x, f->y, f->w, f->h);
  fer_canvas_outline_rect (cv, f->x, f->y, f->w, f->h, MAX (t, 2), color);
  if (f->h >= strip_h + 2 * t) {
    fer_canvas_fill_rect (cv, f->x, f->y, f->w, strip_h, color, 255);
    fer_canvas_draw_text (cv, text, f->x + t + pad, f->y + pad, scale,
        fer_text_color_on (color));
  }
  if (show_probs)
    draw_probabilities (cv, f, f->y + strip_h, t);
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
  GST_OBJECT_UNLOCK (self);

  if (!gst_video_frame_map (&frame, &filter->in_info, buf, GST_MAP_READWRITE)) {
    g_array_unref (faces);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Cannot map video frame for drawing"), (NULL));
    return GST_FLOW_ERROR;
  }
  fer_canvas_init (&cv, &frame);
  for (guint i = 0; i < faces->len; i++)
    draw_face (&cv, &g_array_index (faces, FaceView, i), show_probs, show_id);
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
          "Draw a bar per class inside each face box", DEFAULT_SHOW_PROBABILITIES, rw));
  g_object_class_install_property (gobject_class, PROP_SHOW_TRACK_ID,
      g_param_spec_boolean ("show-track-id", "Show track id",
          "Prefix each label with the face's track id (\"#3 happy 91%\")",
          DEFAULT_SHOW_TRACK_ID, rw));

  gst_element_class_set_static_metadata (element_class, "Facial expression overlay",
      "Filter/Effect/Video",
      "Draws classified faces: box, expression label and confidence, probability bars",
      "fer project");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  /* our own transform_ip: frames without classified faces are not mapped at all */
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_fer_overlay_transform_ip);
}
