/* Per-element math of the graph ops (add, channel copy, mul gate, PReLU, pad2d), shared by every
 * backend: ref, the cpu loops and the CUDA kernel bodies call these functions.
 *   mul:   y = x * g, g broadcast over the plane when g_hw == 1 (squeeze-excitation gate)
 *   prelu: y = x > 0 ? x : w[c] * x (nn.PReLU(c)); dx = x > 0 ? dy : w[c] * dy; the slope's
 *          gradient term is dy * x where x <= 0 (x == 0 adds 0, as PyTorch's)
 * Gradient terms that get summed are returned in double: the product of two floats is exact in
 * double, so every backend adds the same terms and only the order of the sum can differ. */
#ifndef FER_GRAPH_MATH_H
#define FER_GRAPH_MATH_H
#include <stddef.h>
#include "fer/backend.h"
#include "fer/hd.h"

FER_HD float fer_add(float a, float b) { return a + b; }

/* Index into g of x's element i (x is [n, c, hw], g is [n, c, g_hw] with g_hw 1 or hw). */
FER_HD size_t fer_mul_gate_index(size_t i, int hw, int g_hw)
{
    return g_hw == 1 ? i / (size_t)hw : i;
}

FER_HD float fer_mul(float x, float g) { return x * g; }

/* dg's term of one element (summed over the plane when g_hw == 1). */
FER_HD double fer_mul_dg_term(float x, float dy) { return (double)dy * (double)x; }

FER_HD float fer_prelu(float x, float w) { return x > 0.0f ? x : w * x; }

FER_HD float fer_prelu_backward(float x, float w, float dy) { return x > 0.0f ? dy : w * dy; }

FER_HD double fer_prelu_dw_term(float x, float dy)
{
    return x > 0.0f ? 0.0 : (double)dy * (double)x;
}

/* Element i of the copied block (n samples of c channels of hw values): its offsets in src
 * and dst. */
FER_HD void fer_channel_copy_offsets(const fer_channel_copy_args *a, size_t i, size_t *src_i,
                                     size_t *dst_i)
{
    const size_t block = (size_t)a->c * a->hw;
    const size_t s = i / block, r = i % block;
    *src_i = (s * a->src_c + a->src_off) * (size_t)a->hw + r;
    *dst_i = (s * a->dst_c + a->dst_off) * (size_t)a->hw + r;
}

/* pad2d: the input element that output element i copies, or -1 for a padding zero. */
FER_HD long long fer_pad2d_source(const fer_pad2d_args *a, size_t i)
{
    const size_t oh = (size_t)a->top + a->in_h + a->bottom, ow = (size_t)a->left + a->in_w + a->right;
    const size_t plane = i / (oh * ow), r = i % (oh * ow);
    const long long y = (long long)(r / ow) - a->top, x = (long long)(r % ow) - a->left;
    if (y < 0 || y >= a->in_h || x < 0 || x >= a->in_w)
        return -1;
    return ((long long)plane * a->in_h + y) * a->in_w + x;
}

/* pad2d backward: where input element j sits in the output (dx[j] = dy[that]). */
FER_HD size_t fer_pad2d_target(const fer_pad2d_args *a, size_t j)
{
    const size_t oh = (size_t)a->top + a->in_h + a->bottom, ow = (size_t)a->left + a->in_w + a->right;
    const size_t hw = (size_t)a->in_h * a->in_w, plane = j / hw, r = j % hw;
    return (plane * oh + r / a->in_w + a->top) * ow + r % a->in_w + a->left;
}
#endif
