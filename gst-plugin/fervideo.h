/* What ferclassify and feroverlay share: the raw formats they accept, the names of the ROI type
 * and param they read and write, and full-range luma access to a mapped frame. */
#ifndef FER_VIDEO_H
#define FER_VIDEO_H

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define FER_VIDEO_FORMATS "{ GRAY8, I420, NV12, RGB, BGR, RGBx, BGRx, RGBA, BGRA }"
#define FER_VIDEO_CAPS GST_VIDEO_CAPS_MAKE (FER_VIDEO_FORMATS)

/* ROI meta type written by ferfacedetect and gst-plugins-bad facedetect. */
#define FER_ROI_TYPE_FACE "face"
/* GstStructure param that ferclassify attaches to each face ROI meta:
 *   label (string), confidence (double), probabilities (GstValueArray of double, training class
 *   order), class-names (GstValueArray of string, same order), track-id (int). */
#define FER_EXPRESSION_PARAM "fer/expression"
/* Label used when the top probability is below min-confidence. */
#define FER_LABEL_UNCERTAIN "uncertain"

/* Reusable buffer for converted luma. */
typedef struct FerLumaScratch {
  guint8 *data;
  gsize size;
} FerLumaScratch;

/* Full-range 8-bit luma of a mapped frame, one byte per pixel, rows *stride bytes apart.
 * GRAY8 and full-range YUV point into the frame itself; limited-range YUV is expanded to 0..255
 * and RGB formats are converted with the ITU-R 601 weights (as PIL's convert("L"), which made
 * the gray training images) into scratch. */
const guint8 *fer_video_frame_luma (const GstVideoFrame * frame, FerLumaScratch * scratch,
    gint * stride);
void fer_luma_scratch_clear (FerLumaScratch * scratch);

/* Iterates the "face" ROI metas of buf (other ROI types, e.g. facedetect's "eyes", are
 * skipped). *state must start as NULL. */
GstVideoRegionOfInterestMeta *fer_buffer_iterate_faces (GstBuffer * buf, gpointer * state);

G_END_DECLS

#endif
