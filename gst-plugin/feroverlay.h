/* feroverlay: draws every classified face (ROI meta with a "fer/expression" param) into the
 * frame: its box, "label 91%" in the built-in bitmap font above (or below) the box and
 * optionally a probability bar chart beside it, in class-specific colours with dark edges.
 * Labels are never cut: they move sideways or below the box to stay inside the frame. */
#ifndef GST_FER_OVERLAY_H
#define GST_FER_OVERLAY_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_FER_OVERLAY (gst_fer_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstFerOverlay, gst_fer_overlay, GST, FER_OVERLAY, GstVideoFilter)

struct _GstFerOverlay {
  GstVideoFilter parent;

  /* properties, under the object lock */
  gboolean show_probabilities;
  gboolean show_track_id;
  gint font_scale;              /* 0: auto */
};

GST_ELEMENT_REGISTER_DECLARE (feroverlay);

G_END_DECLS

#endif
