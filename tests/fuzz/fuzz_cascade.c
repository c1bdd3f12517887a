/* Fuzz target: the OpenCV cascade XML reader of ferfacedetect (gst-plugin/detect/cascade_load.c),
 * then a detection on a small synthetic frame with the element's defaults and with an
 * exhaustive scan, as the element does on every video frame. */
#include <stdint.h>

#include "cascade.h"
#include "fuzz_common.h"

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
    enum { W = 64, H = 48 };
    static uint8_t frame[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            frame[y * W + x] = (uint8_t)((x * 5 + y * 3) ^ (x * y));
    fer_cascade_params p;
    fer_cascade_params_default(&p);
    p.min_size = 0;
    p.min_neighbors = 0;
    fer_cascade_boxes boxes = {0};
    (void)fer_cascade_detect(c, frame, W, H, W, &p, &boxes);
    p.exhaustive = 1;
    p.scale_factor = 1.5;
    (void)fer_cascade_detect(c, frame, W, H, W, &p, &boxes);
    for (size_t i = 0; i < boxes.n; i++) {
        const fer_cascade_box *b = &boxes.v[i];
        if (b->x < 0 || b->y < 0 || b->w < 1 || b->h < 1 || b->x + b->w > W || b->y + b->h > H)
            fuzz_fail("box %zu (%d,%d %dx%d) lies outside the %dx%d frame", i, b->x, b->y, b->w,
                      b->h, W, H);
    }
    fer_cascade_boxes_clear(&boxes);
    fer_cascade_free(c);
    return 0;
}
