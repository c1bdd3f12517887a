/* CNN face detector (BlazeFace, converted from @vladmandic/human's TF.js model into a .fer graph
 * by the project's converter; see data/models/README.md). Takes any RGB frame, letterboxes it to the network's
 * 256x256 input (plus tiles when small faces are asked for, all in one batched forward), decodes
 * anchors into boxes and six keypoints in frame pixels, and keeps the best boxes after
 * non-maximum suppression. */
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
 * fer_classifier_new (0: the backend's default). A missing or malformed file gives
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

#ifdef __cplusplus
}
#endif
#endif
