/* Per-element math of the layers (shape arithmetic, ReLU, batch norm), shared by every backend. */
#ifndef FER_LAYER_MATH_H
#define FER_LAYER_MATH_H
#include <stddef.h>
#include "fer/hd.h"

/* PyTorch Conv2d / MaxPool2d (ceil_mode=False) output size; <= 0 means the input is too small. */
FER_HD int fer_conv_out_size(int in, int k, int stride, int pad)
{
    return (in + 2 * pad - k) / stride + 1;
}

FER_HD int fer_pool_out_size(int in, int k, int stride)
{
    return in < k ? 0 : (in - k) / stride + 1;
}

/* Flat NCHW index. */
FER_HD size_t fer_nchw(int n, int c, int h, int w, int C, int H, int W)
{
    return (((size_t)n * (size_t)C + (size_t)c) * (size_t)H + (size_t)h) * (size_t)W + (size_t)w;
}

FER_HD float fer_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* Backward through ReLU from its output y (PyTorch threshold_backward on the result). */
FER_HD float fer_relu_backward(float y, float dy) { return y > 0.0f ? dy : 0.0f; }

/* Batch norm output for one element. */
FER_HD float fer_bn_apply(float x, float mean, float invstd, float gamma, float beta)
{
    return (x - mean) * invstd * gamma + beta;
}

/* Running statistics update (PyTorch): running = (1 - momentum) * running + momentum * batch,
 * with the unbiased variance var * count / (count - 1) for running_var. */
FER_HD float fer_bn_running(float running, float batch, float momentum)
{
    return (1.0f - momentum) * running + momentum * batch;
}

FER_HD float fer_bn_unbiased(float var_biased, double count)
{
    return count > 1.0 ? (float)((double)var_biased * count / (count - 1.0)) : var_biased;
}

/* Input gradient of training-mode batch norm for one element, given the per-channel means of dy
 * and of dy * xhat: dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)). */
FER_HD float fer_bn_backward_x(float dy, float xhat, float gamma_invstd, float mean_dy,
                               float mean_dy_xhat)
{
    return gamma_invstd * (dy - mean_dy - xhat * mean_dy_xhat);
}
#endif
