/* Viola-Jones cascade face detector that evaluates OpenCV cascade XML files (the
 * "opencv-cascade-classifier" format shipped by Debian's opencv-data: BOOST stages of Haar,
 * incl. tilted, or LBP features) without the OpenCV library.
 *
 * Behaviour follows cv::CascadeClassifier::detectMultiScale: the image (not the window) is
 * scaled down by powers of scale_factor (bilinear), each level gets integral images (sum,
 * squared sum for Haar variance normalisation, 45-degree sum for tilted features), the window
 * slides with OpenCV's step, each window runs the stage cascade with OpenCV's arithmetic, and
 * the hits are merged like cv::groupRectangles (eps 0.2). Differences, all deliberate:
 *  - by default the scan is coarse-to-fine (params.exhaustive = 0): a grid of twice the step,
 *    refined on the fine grid around every window that is a hit or passes half the stages;
 *    it finds the faces of the exhaustive scan at about a third of its cost (cascade_scan.c);
 *    levels whose window is under 2.5 cascade windows (small faces) are always scanned
 *    exhaustively, 8 windows at a time, with the exhaustive scan's exact hits;
 *  - stump cascades evaluate 8 windows at once (cascade_simd.c), identical results;
 *  - LBP stage sums are fixed point (integers end to end);
 *  - a last pass drops boxes that overlap a stronger box (IoU > 0.3, or 70% of the smaller
 *    inside it): one box per face, also where cv::groupRectangles leaves two;
 *  - min_neighbors 0 still merges the hits of one face (OpenCV returns them all).
 *
 * Independent of GStreamer so it is unit-testable. A fer_cascade owns scratch buffers reused
 * across calls: use one cascade per thread. */
#ifndef FER_CASCADE_H
#define FER_CASCADE_H
#include <stddef.h>
#include <stdint.h>
#include "fer/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fer_cascade fer_cascade;

typedef enum fer_cascade_feature {
    FER_CASCADE_HAAR = 0,
    FER_CASCADE_LBP = 1
} fer_cascade_feature;

typedef struct fer_cascade_params {
    double scale_factor; /* 1.01 .. 16: size ratio between pyramid levels */
    int min_neighbors;   /* a face needs more than this many raw hits (cv::groupRectangles) */
    int min_size;        /* smallest face side in pixels; 0 = the cascade window */
    int max_size;        /* largest face side in pixels; 0 = unlimited */
    int step;            /* window step in pyramid-level pixels; 0 = OpenCV's (2, or 1 at >= 2x) */
    int exhaustive;      /* 1: every window on the step grid (as OpenCV); 0: coarse-to-fine, a
                          * grid of twice the step refined around promising windows */
} fer_cascade_params;

typedef struct fer_cascade_box {
    int x, y, w, h;
    int neighbors; /* raw windows merged into this box: a confidence measure */
} fer_cascade_box;

/* A growable list of boxes, filled by fer_cascade_detect. Zero-initialise, free with
 * fer_cascade_boxes_clear. */
typedef struct fer_cascade_boxes {
    fer_cascade_box *v;
    size_t n, cap;
} fer_cascade_boxes;

void fer_cascade_boxes_clear(fer_cascade_boxes *b);
fer_status fer_cascade_boxes_push(fer_cascade_boxes *b, fer_cascade_box box);

/* Defaults tuned for faces in video: scale 1.2, min_neighbors 3, min_size 24, max unlimited,
 * step 0 (OpenCV's rule), coarse-to-fine. */
void fer_cascade_params_default(fer_cascade_params *p);

/* Largest cascade file read (Debian's largest, haarcascade_frontalface_alt_tree.xml, is 2.7 MB). */
#define FER_CASCADE_MAX_BYTES (16 << 20)

/* Loads an OpenCV cascade XML file. Errors name the file and the problem ("PATH: line N: ..."):
 * missing file, not a regular file (FIFO, device, folder: refused without blocking), larger than
 * FER_CASCADE_MAX_BYTES, malformed XML, old "opencv-haar-classifier" format, unsupported stage
 * or feature type, more stages/trees/features/nodes than the caps of cascade_internal.h,
 * out-of-range feature/node/leaf indices, rectangles outside the window. */
fer_status fer_cascade_load(const char *path, fer_cascade **out);
void fer_cascade_free(fer_cascade *c);

fer_cascade_feature fer_cascade_feature_type(const fer_cascade *c);
void fer_cascade_window(const fer_cascade *c, int *width, int *height);
int fer_cascade_n_stages(const fer_cascade *c);
int fer_cascade_has_tilted(const fer_cascade *c);

/* Detects objects in an 8-bit gray image (w x h, row stride in bytes). out is cleared first
 * and receives the grouped boxes in image coordinates, clipped to the image, sorted by
 * neighbors (most first). */
fer_status fer_cascade_detect(fer_cascade *c, const uint8_t *gray, int w, int h, int stride,
                              const fer_cascade_params *p, fer_cascade_boxes *out);

/* cv::groupRectangles(rects, min_neighbors, eps) followed by the duplicate-removal pass:
 * in holds raw window hits (neighbors ignored); out is cleared first. Exposed for tests. */
fer_status fer_cascade_group(const fer_cascade_box *in, size_t n, int min_neighbors, double eps,
                             fer_cascade_boxes *out);

/* Intersection over union of two boxes (0 when either is empty). */
double fer_cascade_box_iou(const fer_cascade_box *a, const fer_cascade_box *b);

#ifdef __cplusplus
}
#endif
#endif
