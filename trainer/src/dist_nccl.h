/* NCCL collectives on backend (GPU) memory for dist.c's cuda path; only in builds with
 * FER_HAVE_NCCL (MPI + the cuda backend + nccl.h). The communicator is made on first use. */
#ifndef FER_TRAIN_DIST_NCCL_H
#define FER_TRAIN_DIST_NCCL_H
#include <stddef.h>
#include "fer/backend.h"
#include "fer/status.h"

/* Sums n floats of device memory over every rank, in place. */
fer_status fer_dist_nccl_sum(fer_backend *b, float *device, size_t n);
/* Rank 0's n floats of device memory to every rank. */
fer_status fer_dist_nccl_from_root(fer_backend *b, float *device, size_t n);
void fer_dist_nccl_finalize(void);
#endif
