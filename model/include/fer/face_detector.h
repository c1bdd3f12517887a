/* CNN face detector (BlazeFace, converted from @vladmandic/human's TF.js model into a .fer graph
 * by the project's converter; see data/models/README.md). Takes any RGB frame, letterboxes it to the network's
 * 256x256 input (plus tiles when small faces are asked for, all in one batched forward), decodes
 * anchors into boxes and six keypoints in frame pixels, and keeps the best boxes after
 * non-maximum suppression.
 * It also runs face-api's TinyFaceDetector (data/models/fetch.sh --tiny; 416x416 input, a YOLO
 * grid, no keypoints: n_keypoints 0; its package's thresholds are 0.5 / 0.4), measured against
 * BlazeFace in docs/results/detector_choice.md; the .fer header's config picks the decoding. */
#ifndef FER_FACE_DETECTOR_H
#define FER_FACE_DETECTOR_H
#include <stdint.h>
#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FER_FACE_MAX_KEYPOINTS 6
/* The two eyes (BlazeFace order: subject's right, left); alignment uses their angle. */
enum { FER_FACE_KP_EYE_A = 0, FER_FACE_KP_EYE_B = 1 };

typedef struct {
    float x, y, w, h;   /* box in frame pixels: top-left corner and size */
    float score;        /* 0..1 */
    int n_keypoints;    /* 6 for BlazeFace: eyes, nose, mouth, ears */
    float keypoints[FER_FACE_MAX_KEYPOINTS][2]; /* x, y in frame pixels */
} fer_face;

typedef struct fer_face_detector fer_face_detector;

/* model_path: a converted detector .fer; backend "auto"|"cpu"|"cuda"|"ref"; threads as for
 * fer_classifier_new (0: the backend's default). A detector runs one detect at a time (it owns
 * its buffers): use one per thread. A missing or malformed file gives
 * FER_ERR_IO / FER_ERR_FORMAT with a one-line message naming it (fer_last_error). */
fer_status fer_face_detector_new(const char *model_path, const char *backend, int threads,
                                 fer_face_detector **out);
void fer_face_detector_free(fer_face_detector *d);
const char *fer_face_detector_backend_name(const fer_face_detector *d);

/* rgb: packed 8-bit RGB, stride bytes per row, any width/height >= 1 (letterboxed to the
 * network's input; tiles/scales as needed so faces >= min_face_px are found; min_face_px <= 0
 * means one whole-frame pass). Faces sorted by score, after NMS: boxes overlapping a better one
 * by IoU > nms_iou are dropped. At most max_faces are written; *n_faces is how many were. */
fer_status fer_face_detector_detect(fer_face_detector *d, const uint8_t *rgb, int width,
                                    int height, int stride, float min_score, float nms_iou,
                                    int min_face_px, fer_face *faces, int max_faces,
                                    int *n_faces);

/* Suggested thresholds. Human's BlazeFace defaults are 0.2 / 0.1, but Human re-checks every box
 * with its face mesh; here nothing does: on tests/detector/test_detector_real.c's frames real
 * faces of 20 px and up score >= 0.64 and the spurious boxes 0.52-0.56. */
#define FER_FACE_DEFAULT_MIN_SCORE 0.6f
#define FER_FACE_DEFAULT_NMS_IOU 0.3f

/* The thresholds to use when the caller has none: the model header's "default_min_score" /
 * "default_nms_iou" (TinyFaceDetector's 0.5 / 0.4), else FER_FACE_DEFAULT_*. */
void fer_face_detector_suggested_thresholds(const fer_face_detector *d, float *min_score,
                                            float *nms_iou);

/* The network's input side (256 for BlazeFace). */
int fer_face_detector_input_size(const fer_face_detector *d);
/* How many network passes (whole frame + tiles) a frame of width x height with min_face_px
 * needs; they run batched in one forward. */
int fer_face_detector_passes(const fer_face_detector *d, int width, int height,
                             int min_face_px);

/* ---- building blocks (the detector uses them; exposed for tests) ------------------------ */

/* Where a frame region lands in the square network input: net = (frame - (src_x, src_y)) *
 * scale + (off_x, off_y). */
typedef struct fer_face_letterbox {
    float scale, off_x, off_y;
    int src_x, src_y;
} fer_face_letterbox;

/* Resizes the src_w x src_h region at (src_x, src_y) of the RGB frame, aspect kept (area average
 * when shrinking, pixel replication when growing), centred in a size x size canvas of black, into
 * dst as planar float RGB (3 x size x size) normalised (v/255 - 0.5)/0.5, as the TF.js detector
 * expects. The region must lie inside the frame. */
void fer_face_letterbox_rgb(const uint8_t *rgb, int stride, int src_x, int src_y, int src_w,
                            int src_h, int size, float *dst, fer_face_letterbox *geom);

/* BlazeFace's anchor centres for a square input (Human's generateAnchors): strides size/16 and
 * size/8 with 2 and 6 anchors per cell, row-major, the finer grid first; xy[2*i], xy[2*i+1] in
 * input pixels. Returns the count (896 for 256), or -1 when max is too small. */
int fer_face_blazeface_anchors(int size, float *xy, int max);

/* Intersection over union of two boxes (0 when either is empty). */
float fer_face_iou(const fer_face *a, const fer_face *b);

/* Sorts faces[0..n) by score (descending, stable) and keeps each face that overlaps no kept
 * better one by IoU > iou; returns how many are kept (they are faces[0..kept)). */
int fer_face_nms(fer_face *faces, int n, float iou);

#ifdef __cplusplus
}
#endif
#endif
