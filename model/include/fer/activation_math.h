/* Per-element math of the parameter-free activations (leaky_relu, relu6, hardswish, sigmoid),
 * shared by every backend: ref, the cpu loops and the CUDA kernel bodies call these functions.
 * Each has its forward value and its input gradient from the layer INPUT x (hardswish cannot be
 * inverted from its output), with PyTorch's values at the kinks:
 *   leaky_relu: x > 0 ? x : slope*x;           grad x > 0 ? dy : slope*dy (slope at 0)
 *   relu6:      clamp(x, 0, 6) (hardtanh);     grad 0 at x <= 0 and x >= 6 (hardtanh_backward)
 *   hardswish:  x * clamp(x + 3, 0, 6) / 6;    grad 0 below -3, dy*(x/3 + 1/2) on [-3, 3],
 *                                              dy above 3 (torch's scalar CPU loop and CUDA
 *                                              kernel; its vectorised CPU loop gives dy at 3)
 *   sigmoid:    1 / (1 + exp(-x));             grad dy * (1 - s) * s, s = sigmoid(x) */
#ifndef FER_ACTIVATION_MATH_H
#define FER_ACTIVATION_MATH_H
#include <math.h>
#include "fer/hd.h"

/* The activation of an activation layer (backend ops take it as an argument). */
typedef enum fer_activation {
    FER_ACT_LEAKY_RELU = 0, /* param: negative slope */
    FER_ACT_RELU6,
    FER_ACT_HARDSWISH,
    FER_ACT_SIGMOID
} fer_activation;

FER_HD float fer_leaky_relu(float x, float slope) { return x > 0.0f ? x : x * slope; }

FER_HD float fer_leaky_relu_backward(float x, float slope, float dy)
{
    return x > 0.0f ? dy : dy * slope;
}

/* NaN passes through (neither comparison holds), as torch.clamp. */
FER_HD float fer_relu6(float x) { return x <= 0.0f ? 0.0f : (x >= 6.0f ? 6.0f : x); }

FER_HD float fer_relu6_backward(float x, float dy)
{
    return (x <= 0.0f || x >= 6.0f) ? 0.0f : dy;
}

FER_HD float fer_hardswish(float x)
{
    float gate = x + 3.0f;
    gate = gate < 0.0f ? 0.0f : (gate > 6.0f ? 6.0f : gate);
    return x * gate / 6.0f;
}

FER_HD float fer_hardswish_backward(float x, float dy)
{
    if (x < -3.0f)
        return 0.0f;
    if (x <= 3.0f)
        return dy * (x / 3.0f + 0.5f);
    return dy;
}

FER_HD float fer_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

FER_HD float fer_sigmoid_backward(float x, float dy)
{
    float s = fer_sigmoid(x);
    return dy * (1.0f - s) * s;
}

/* Dispatch on the kind: one element. Backends with a hot loop switch outside the loop. */
FER_HD float fer_activation_apply(fer_activation kind, float param, float x)
{
    switch (kind) {
    case FER_ACT_LEAKY_RELU: return fer_leaky_relu(x, param);
    case FER_ACT_RELU6: return fer_relu6(x);
    case FER_ACT_HARDSWISH: return fer_hardswish(x);
    case FER_ACT_SIGMOID: return fer_sigmoid(x);
    }
    return x;
}

FER_HD float fer_activation_grad(fer_activation kind, float param, float x, float dy)
{
    switch (kind) {
    case FER_ACT_LEAKY_RELU: return fer_leaky_relu_backward(x, param, dy);
    case FER_ACT_RELU6: return fer_relu6_backward(x, dy);
    case FER_ACT_HARDSWISH: return fer_hardswish_backward(x, dy);
    case FER_ACT_SIGMOID: return fer_sigmoid_backward(x, dy);
    }
    return dy;
}
#endif
