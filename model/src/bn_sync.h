/* Synchronised batch norm for data-parallel training (issue 23; fer_model_set_bn_sync in
 * fer/model.h). layers.c's batch-norm entries call these when sync is on; everything else of
 * the feature lives in bn_sync.c. */
#ifndef FER_BN_SYNC_H
#define FER_BN_SYNC_H
#include "model_internal.h"

/* 1 when the training passes of batch-norm layers sum their statistics over processes. */
int fer_bn_sync_on(const fer_model *m);
/* Training forward of batch-norm layer i on this process's n images (n may be 0: the process
 * only takes part in the sums): y, save_mean, save_invstd and the running statistics from the
 * statistics of every process's images together. */
fer_status fer_bn_sync_forward(fer_model *m, int i, const fer_bn_args *a, const float *x);
/* Backward of layer i: the backend's local pass, then the input gradient corrected to the
 * global sums of dy and dy * xhat. dx NULL (no input gradient): no sum, as on every process. */
fer_status fer_bn_sync_backward(fer_model *m, int i, const fer_bn_args *a, const float *x,
                                const float *dy, float *dx);
/* fer_model_free: the scratch memory. */
void fer_bn_sync_release(fer_model *m);
#endif
