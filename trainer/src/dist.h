/* Data-parallel fer-train across processes and machines (issue 23), behind one small
 * interface. Built with MPI (meson -Dmpi=auto found Open MPI) and started by mpirun, every rank
 * trains on its shard of each global batch and the calls below combine the ranks over
 * MPI_COMM_WORLD; otherwise (started without mpirun, or a build without MPI) the world is one
 * process and every call returns at once, so fer-train behaves as without this file.
 * MPI is only called from the main thread. */
#ifndef FER_TRAIN_DIST_H
#define FER_TRAIN_DIST_H
#include <stddef.h>
#include "fer/model.h"
#include "fer/status.h"

/* Joins the job when mpirun started the process (Open MPI's or PMIx's environment); a world
 * of one otherwise. A build without MPI started by mpirun with several processes fails here:
 * they would all write the same run folder. Call first thing in main. */
fer_status fer_dist_init(int *argc, char ***argv);
void fer_dist_finalize(void);
/* After an error on this rank: ends every rank of the job (MPI_Abort) with code; a world of one
 * just returns. */
void fer_dist_abort(int code);
int fer_dist_rank(void);
int fer_dist_size(void);
/* Ranks on this machine (for a default thread count that does not oversubscribe it). */
int fer_dist_local_size(void);

/* Sums in place over every rank; all ranks call with the same n. */
fer_status fer_dist_sum_doubles(double *v, size_t n);
/* fer_sum_fn for fer_model_set_bn_sync (ctx unused). */
fer_status fer_dist_sum_fn(void *ctx, double *values, int count);

/* Rank r's part of n items: [*first, *first + *count); the first n % size ranks get one more,
 * so the shards of a global batch differ by at most one image. */
void fer_dist_shard(int n, int rank, int size, int *first, int *count);

/* One optimisation step's combination, one MPI_Allreduce over a host buffer: the gradient
 * arena weighted by share (this rank's images / the global batch's, so the sum is the global
 * batch's mean-loss gradient), the model's buffers from rank 0 when buffers_from_root (batch
 * norm running statistics without --sync_bn, so every rank validates with rank 0's), and
 * n_extras numbers summed as they are (the step's loss sum, correct count, ...). The arena
 * goes through the backend's download/upload (a copy on host backends). With the cuda backend
 * in a build with NCCL (FER_HAVE_NCCL: nccl.h and libnccl under the CUDA toolkit) the arenas
 * stay on the GPUs: NCCL sums the gradients and sends rank 0's buffers (dist_nccl.c,
 * bootstrapped over MPI), the extras go through MPI. That path is compile- and link-checked,
 * not yet run on a multi-GPU machine. */
fer_status fer_dist_combine_step(fer_model *m, double share, int buffers_from_root,
                                 double *extras, int n_extras);

/* Since fer_dist_init: seconds in collectives and bytes handed to them (benchmarks). */
double fer_dist_comm_seconds(void);
double fer_dist_comm_bytes(void);
#endif
