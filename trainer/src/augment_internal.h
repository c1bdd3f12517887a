/* Between augment.c (the seed's pipeline) and augment_video.c (the issue-21 additions). */
#ifndef FER_AUGMENT_INTERNAL_H
#define FER_AUGMENT_INTERNAL_H
#include <stdint.h>
#include "fer/augment.h"

/* Draws the additions' parameters into out (zero for those at probability 0), each from a
 * stream of its own keyed by seed, after fer_augment_draw's own draws. */
void fer_augment_draw_extra(const fer_augment_config *cfg, uint64_t seed, fer_augment_params *out);
#endif
