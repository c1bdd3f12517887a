/* 1x1 convolutions with pad 0 and groups 1 at any stride (cpu_pointwise.c), called by cpu_conv.c
 * for the layers cpu_pointwise_supported accepts. */
#ifndef FER_CPU_POINTWISE_H
#define FER_CPU_POINTWISE_H
#include "cpu_internal.h"

int cpu_pointwise_supported(const fer_conv2d_args *a);
/* bias may be NULL */
fer_status cpu_pointwise_forward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                 const float *w, const float *bias, float *y);
/* dx or dw may be NULL; the caller sums the bias gradient */
fer_status cpu_pointwise_backward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw);
#endif
