/* ferfacedetect: finds faces with the built-in Viola-Jones detector (cascade.h, OpenCV cascade
 * XML files, no OpenCV library) and attaches one GstVideoRegionOfInterestMeta of type "face"
 * per face, in place; pixels are left untouched. */
#ifndef GST_FER_FACE_DETECT_H
#define GST_FER_FACE_DETECT_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "cascade.h"
#include "face_track.h"
#include "fer/face_detector.h"
#include "../ferclassify.h"
#include "../fervideo.h"

G_BEGIN_DECLS

#define GST_TYPE_FER_FACE_DETECT (gst_fer_face_detect_get_type ())
G_DECLARE_FINAL_TYPE (GstFerFaceDetect, gst_fer_face_detect, GST, FER_FACE_DETECT,
    GstVideoFilter)

/* ROI param attached to every face: "method" (string, "cnn" or "cascade"), "score" (double:
 * the CNN's confidence 0..1; for the cascade the merged windows over 100, capped at 1),
 * "neighbors" (int, the cascade's raw windows merged into the box; 0 for the CNN) and "fresh"
 * (boolean, FALSE when carried over by detect-every, moved with its face when track=true). */
#define FER_DETECTION_PARAM "fer/detection"
/* ROI param with the face's keypoints (CNN only), in frame pixels: "x" and "y" (GstValueArray
 * of float, same length), "names" (GstValueArray of string: right-eye, left-eye, nose, mouth,
 * right-ear, left-ear, "right" being the subject's). ferclassify align=true levels the eyes. */
#define FER_LANDMARKS_PARAM "fer/landmarks"

typedef enum {
  GST_FER_DETECT_METHOD_CASCADE = 0,
  GST_FER_DETECT_METHOD_CNN = 1,
} GstFerDetectMethod;

/* One detected face as carried between frames. */
typedef struct FerDetectedFace {
  fer_face face;                /* box, score, keypoints (n_keypoints 0 for the cascade) */
  gint neighbors;               /* cascade only */
} FerDetectedFace;

struct _GstFerFaceDetect {
  GstVideoFilter parent;

  /* properties, under the object lock */
  gchar *cascade_path;          /* NULL: none found at init; NULL->READY then fails */
  fer_cascade_params params;
  guint detect_every;
  gboolean track;               /* follow the boxes between detections (face_track.h) */
  GstFerDetectMethod method;
  gchar *model_path;            /* CNN model; NULL: none found at init */
  gboolean model_is_default;    /* not set by the user: a missing one falls back to cascade */
  gdouble min_score, nms_iou;
  /* set by the user: otherwise method=cnn uses its model's suggested thresholds */
  gboolean min_score_set, nms_iou_set;
  GstFerBackend backend;
  gint threads;

  /* streaming state */
  GstFerDetectMethod active;    /* method in use (cnn falls back to cascade without model) */
  fer_cascade *cascade;
  gchar *loaded_path;           /* path of cascade */
  fer_face_detector *detector;
  fer_cascade_boxes boxes;
  GArray *faces;                /* FerDetectedFace: last detection, carried between runs */
  gboolean have_boxes;
  guint64 frames_since_detect;
  GPtrArray *tracks;            /* fer_track per face (NULL: not tracked), made at detection */
  FerLumaScratch luma;
  GstVideoConverter *to_rgb;    /* non-RGB frames -> packed RGB for the CNN */
  GstVideoInfo rgb_info;
  GstBuffer *rgb_buf;           /* the converted frame */
};

GST_ELEMENT_REGISTER_DECLARE (ferfacedetect);

/* The cascade used when the property is not set: the first of the known frontal-face
 * cascades found in the system data dirs (opencv-data); NULL when none is installed. */
gchar *gst_fer_face_detect_default_cascade (void);
/* The CNN model used when the model property is not set: the installed
 * PREFIX/share/fer/models/blazeface.fer, else the source tree's data/models/blazeface.fer
 * (data/models/fetch.sh); NULL when neither exists. */
gchar *gst_fer_face_detect_default_model (void);

G_END_DECLS

#endif
