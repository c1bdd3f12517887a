/* Fuzz target: the PNG loader of the folder data sets (trainer/src/png_gray.c: any colour type
 * and bit depth -> 8-bit gray, resized to 48x48), then what training does next with the face:
 * one augmentation draw (flip, rotation, crop, PIL-bilinear resize). */
#include <stdint.h>

#include "data_internal.h"
#include "fer/augment.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("face.png", data, size);
    uint8_t face[48 * 48], out[48 * 48];
    if (fer_png_read_gray(path, 48, 48, face) == FER_OK) {
        fer_augment_config cfg;
        fer_augment_params p;
        fer_augment_config_seed(&cfg);
        fer_augment_draw(&cfg, size, &p);
        fer_augment_apply(&cfg, &p, face, out);
    }
    return 0;
}
