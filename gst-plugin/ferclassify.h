/* ferclassify: classifies the facial expression of every "face" ROI meta on a video buffer
 * (one batch per frame), tracks faces across frames and attaches a "fer/expression" param to
 * each ROI meta; optionally posts an element message and writes JSON Lines per frame. */
#ifndef GST_FER_CLASSIFY_H
#define GST_FER_CLASSIFY_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "fer/classifier.h"
#include "fer/evaluate.h"
#include "fervideo.h"
#include "tracker.h"
#include "ferclassify_results.h"

G_BEGIN_DECLS

#define GST_TYPE_FER_CLASSIFY (gst_fer_classify_get_type ())
G_DECLARE_FINAL_TYPE (GstFerClassify, gst_fer_classify, GST, FER_CLASSIFY, GstVideoFilter)

typedef enum {
  GST_FER_BACKEND_AUTO = 0,
  GST_FER_BACKEND_CPU,
  GST_FER_BACKEND_CUDA,
} GstFerBackend;
/* The enum type of the backend properties (ferclassify, ferfacedetect) and the name libfermodel
 * takes ("auto", "cpu", "cuda"). */
#define GST_TYPE_FER_BACKEND (gst_fer_backend_get_type ())
GType gst_fer_backend_get_type (void);
const gchar *gst_fer_backend_name (GstFerBackend b);

struct _GstFerClassify {
  GstVideoFilter parent;

  /* properties, under the object lock */
  gchar *model;
  GstFerBackend backend;
  gint threads;
  gchar *precision;           /* "fp32" or "int8" (fer_classifier_set_precision) */
  gdouble min_confidence;
  gboolean post_messages;
  gchar *results_location;
  gdouble margin;
  FerSmoothing smoothing;
  gdouble smoothing_alpha;
  gint classify_every;
  gboolean align;
  gboolean adjust;
  fer_tta tta;                /* test-time views (fer/evaluate.h) */

  /* streaming state (start .. stop) */
  fer_classifier *classifier;
  gint n_classes;
  const gchar *class_names[FER_RESULTS_MAX_CLASSES]; /* owned by classifier */
  GValue class_names_value;   /* GstValueArray of the names, copied into every param */
  FerTracker *tracker;
  FerResultsWriter *writer;
  guint64 frame_count;
  gint width, height;         /* last negotiated size; a change restarts the tracks */
  FerLumaScratch luma;
  GArray *faces48;            /* guint8, n x 48 x 48 */
  GArray *probs;              /* gfloat, n x n_classes, smoothed */
  GArray *boxes;              /* FerBox */
  GArray *eye_angles;         /* gdouble per face: eye-line angle, NAN without landmarks */
  GArray *ids;                /* gint, track id per face */
  GArray *due;                /* gint, indices of the faces classified this frame */
  GArray *fresh;              /* gfloat, due x n_classes network output */
  GPtrArray *metas;           /* GstVideoRegionOfInterestMeta*, borrowed from the buffer */
  GArray *results;            /* FerFaceResult */
};

GST_ELEMENT_REGISTER_DECLARE (ferclassify);

/* Path of the default model: the installed pretrained model, else the source tree's. */
const gchar *gst_fer_classify_default_model (void);

G_END_DECLS

#endif
