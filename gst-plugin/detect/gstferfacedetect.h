/* ferfacedetect: finds faces with the built-in Viola-Jones detector (cascade.h, OpenCV cascade
 * XML files, no OpenCV library) and attaches one GstVideoRegionOfInterestMeta of type "face"
 * per face, in place; pixels are left untouched. */
#ifndef GST_FER_FACE_DETECT_H
#define GST_FER_FACE_DETECT_H

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "cascade.h"
#include "../fervideo.h"

G_BEGIN_DECLS

#define GST_TYPE_FER_FACE_DETECT (gst_fer_face_detect_get_type ())
G_DECLARE_FINAL_TYPE (GstFerFaceDetect, gst_fer_face_detect, GST, FER_FACE_DETECT,
    GstVideoFilter)

/* ROI param attached to every face: "neighbors" (int, raw windows merged into the box: a
 * confidence measure) and "fresh" (boolean, FALSE when carried over by detect-every). */
#define FER_DETECTION_PARAM "fer/detection"

struct _GstFerFaceDetect {
  GstVideoFilter parent;

  /* properties, under the object lock */
  gchar *cascade_path;          /* NULL: none found at init; NULL->READY then fails */
  fer_cascade_params params;
  guint detect_every;

  /* streaming state */
  fer_cascade *cascade;
  gchar *loaded_path;           /* path of cascade */
  fer_cascade_boxes boxes;              /* last detection, carried between detector runs */
  gboolean have_boxes;
  guint64 frames_since_detect;
  FerLumaScratch luma;
};

GST_ELEMENT_REGISTER_DECLARE (ferfacedetect);

/* The cascade used when the property is not set: the first of the known frontal-face
 * cascades found in the system data dirs (opencv-data); NULL when none is installed. */
gchar *gst_fer_face_detect_default_cascade (void);

G_END_DECLS

#endif
