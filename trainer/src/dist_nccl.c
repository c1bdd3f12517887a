/* NCCL between GPUs for data-parallel training on the cuda backend (dist.h, dist_nccl.h).
 * Bootstrapped over MPI as llm.c does: rank 0 makes the NCCL unique id, MPI_Bcast hands it to
 * every rank, and each joins the communicator on its own GPU (dist.c makes rank k of a machine
 * see GPU k). Built only with MPI, the cuda backend and nccl.h (FER_HAVE_NCCL); compile-checked,
 * not yet run on a multi-GPU machine. */
#include "dist_nccl.h"
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

static ncclComm_t comm;
static int joined;

static fer_status nccl_fail(ncclResult_t r, const char *what)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return fer_fail(FER_ERR_INTERNAL, "rank %d: %s failed: %s", rank, what,
                    ncclGetErrorString(r));
}

static fer_status join(void)
{
    if (joined) return FER_OK;
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ncclUniqueId id;
    ncclResult_t r = ncclSuccess;
    if (rank == 0 && (r = ncclGetUniqueId(&id)) != ncclSuccess)
        return nccl_fail(r, "ncclGetUniqueId");
    if (MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        return fer_fail(FER_ERR_IO, "rank %d: MPI_Bcast of the NCCL id failed", rank);
    if ((r = ncclCommInitRank(&comm, size, id, rank)) != ncclSuccess)
        return nccl_fail(r, "ncclCommInitRank");
    joined = 1;
    return FER_OK;
}

/* The backend's own stream is private to it: it is drained first, NCCL runs on the default
 * stream and is waited for, so the backend's next op sees the result. */
static fer_status finish(ncclResult_t r, const char *what)
{
    if (r != ncclSuccess) return nccl_fail(r, what);
    cudaError_t e = cudaStreamSynchronize(0);
    return e == cudaSuccess ? FER_OK
                            : fer_fail(FER_ERR_INTERNAL, "%s: %s", what, cudaGetErrorString(e));
}

fer_status fer_dist_nccl_sum(fer_backend *b, float *device, size_t n)
{
    fer_status s = join();
    if (!s && b->ops->synchronize) s = b->ops->synchronize(b);
    if (s) return s;
    return finish(ncclAllReduce(device, device, n, ncclFloat, ncclSum, comm, 0), "ncclAllReduce");
}

fer_status fer_dist_nccl_from_root(fer_backend *b, float *device, size_t n)
{
    fer_status s = join();
    if (!s && b->ops->synchronize) s = b->ops->synchronize(b);
    if (s) return s;
    return finish(ncclBroadcast(device, device, n, ncclFloat, 0, comm, 0), "ncclBroadcast");
}

void fer_dist_nccl_finalize(void)
{
    if (joined) ncclCommDestroy(comm);
    joined = 0;
}
