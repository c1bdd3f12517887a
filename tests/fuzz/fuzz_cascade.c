/* Fuzz target: the OpenCV cascade XML reader of ferfacedetect (gst-plugin/detect/cascade_load.c),
 * then detections as the element runs them on video frames: a 64x48 frame with the element's
 * defaults and with an exhaustive scan, and the edge sizes (1x1, the window itself, one pixel
 * narrower than the window). Every box must lie inside its frame. */
#include <stdint.h>
#include <stdlib.h>

#include "cascade.h"
#include "fuzz_common.h"

static void detect_in(fer_cascade *c, int w, int h, const fer_cascade_params *p)
{
    if (w < 1 || h < 1)
        return;
    uint8_t *frame = malloc((size_t)w * h);
    if (!frame)
        fuzz_fail("out of memory for a %dx%d frame", w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            frame[y * w + x] = (uint8_t)((x * 5 + y * 3) ^ (x * y));
    fer_cascade_boxes boxes = {0};
    if (fer_cascade_detect(c, frame, w, h, w, p, &boxes) == FER_OK) {
        for (size_t i = 0; i < boxes.n; i++) {
            const fer_cascade_box *b = &boxes.v[i];
            if (b->x < 0 || b->y < 0 || b->w < 1 || b->h < 1 || b->x + b->w > w ||
                b->y + b->h > h)
                fuzz_fail("box %zu (%d,%d %dx%d) lies outside the %dx%d frame", i, b->x, b->y,
                          b->w, b->h, w, h);
        }
    }
    fer_cascade_boxes_clear(&boxes);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("cascade.xml", data, size);
    fer_cascade *c = NULL;
    if (fer_cascade_load(path, &c) != FER_OK)
        return 0;
    int ww = 0, wh = 0;
    fer_cascade_window(c, &ww, &wh);
    if (ww < 1 || wh < 1 || fer_cascade_n_stages(c) < 1)
        fuzz_fail("a loaded cascade has a %dx%d window and %d stages", ww, wh,
                  fer_cascade_n_stages(c));
    fer_cascade_params p;
    fer_cascade_params_default(&p);
    p.min_size = 0;
    p.min_neighbors = 0;
    detect_in(c, 64, 48, &p);
    detect_in(c, 1, 1, &p);
    detect_in(c, ww, wh, &p);
    detect_in(c, ww - 1, wh, &p);
    p.exhaustive = 1;
    p.scale_factor = 1.5;
    detect_in(c, 64, 48, &p);
    fer_cascade_free(c);
    return 0;
}
