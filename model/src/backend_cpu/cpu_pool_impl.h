/* Scalar 2x2 stride-2 max pooling of output row oh from column ow0 to the end of the row, with
 * the reference rule (first maximum in window order wins; a NaN wins and ends the window).
 * Shared by the kernel files: whole rows for the portable set, row tails for AVX2. */
#ifndef FER_CPU_POOL_IMPL_H
#define FER_CPU_POOL_IMPL_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>

static void maxpool2x2_row(const float *x, int in_w, int out_w, int oh, int ow0, float *y,
                           int32_t *argmax)
{
    const float *r0 = x + (size_t)(2 * oh) * in_w, *r1 = r0 + in_w;
    int base = 2 * oh * in_w;
    for (int ow = ow0; ow < out_w; ow++) {
        float v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
        int at[4] = {base + 2 * ow, base + 2 * ow + 1, base + in_w + 2 * ow,
                     base + in_w + 2 * ow + 1};
        float bv = v[0];
        int best = at[0];
        for (int k = 1; k < 4 && !isnan(bv); k++)
            if (v[k] > bv || isnan(v[k])) {
                bv = v[k];
                best = at[k];
            }
        y[(size_t)oh * out_w + ow] = bv;
        if (argmax)
            argmax[(size_t)oh * out_w + ow] = best;
    }
}
#endif
