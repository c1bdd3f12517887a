/* Helpers of the ferfacedetect / cascade tests: sample images decoded through GStreamer, the
 * recorded expected face boxes, and box matching. */
#ifndef FER_DETECT_TEST_H
#define FER_DETECT_TEST_H

#include <gst/gst.h>
#include <gst/video/video.h>

#include "cascade.h"
#include "fer_gst_test.h"

G_BEGIN_DECLS

typedef struct DtBox {
  gint x, y, w, h;
} DtBox;

/* Faces found with the element's defaults (haarcascade_frontalface_alt, min-size 48 then, scale
 * 1.2, min-neighbors 3) on the full-size images decoded to GRAY8 by videoconvert. Checked by
 * eye and against OpenCV: gst-plugins-bad facedetect with the same cascade and parameters
 * finds these faces (IoU >= 0.85 each), plus two false positives on sample5.jpg. */
extern const DtBox dt_astronaut_faces[1];
extern const DtBox dt_sample5_faces[5];

/* Path of data/samples/NAME (astronaut.png also from python3-skimage); exits 77 (skip) with
 * a message when it is missing. */
gchar *dt_sample (const gchar * name);

/* First frame of an image or clip, converted to format and scaled to width x height
 * (0: unchanged) by videoconvert/videoscale. */
GstSample *dt_decode (const gchar * path, GstVideoFormat format, gint width, gint height);
/* The same for frame number index (0-based) of a clip. */
GstSample *dt_decode_frame (const gchar * path, GstVideoFormat format, gint width,
    gint height, gint index);
/* Tightly packed GRAY8 of a file (g_free it). */
guint8 *dt_gray (const gchar * path, gint * width, gint * height);

/* Number of expected boxes that some found box overlaps with IoU >= min_iou. */
gint dt_matched (const DtBox * expected, gint n_expected, const DtBox * found, gint n_found,
    gdouble min_iou);
gdouble dt_iou (const DtBox * a, const DtBox * b);
/* Fails when two boxes overlap with IoU > max_iou (duplicates). */
void dt_check_no_duplicates (const DtBox * boxes, gint n, gdouble max_iou, const gchar * what);
/* "[x y w h] ..." for messages (g_free it). */
gchar *dt_boxes_string (const DtBox * boxes, gint n);

G_END_DECLS

#endif
