/* Depthwise 3x3 / 5x5 convolutions at stride 1 and 2 (cpu_depthwise.c), called by
 * cpu_conv_grouped.c for the layers cpu_depthwise_supported accepts. */
#ifndef FER_CPU_DEPTHWISE_H
#define FER_CPU_DEPTHWISE_H
#include "cpu_internal.h"

/* groups == in_c (any channel multiplier), k 3 or 5, stride 1 or 2, pad <= k - 1 */
int cpu_depthwise_supported(const fer_conv2d_args *a);
/* the input gradient also needs multiplier 1 (out_c == in_c) */
int cpu_depthwise_dx_supported(const fer_conv2d_args *a);
/* bias may be NULL (no bias) */
fer_status cpu_depthwise_forward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                 const float *w, const float *bias, float *y);
/* dx, dw, dbias may each be NULL; dx only when cpu_depthwise_dx_supported */
fer_status cpu_depthwise_backward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *dbias);
#endif
