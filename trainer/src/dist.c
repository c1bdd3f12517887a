/* Data-parallel training across processes (see dist.h). The MPI calls are all here; a build
 * without MPI compiles the world-of-one half only. */
#include "dist.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fer_config.h"
#include "progress.h"
#if FER_HAVE_MPI
#include <mpi.h>
#endif
#if FER_HAVE_NCCL
#include "dist_nccl.h"
#endif

static struct {
    int rank, size, local_size;
    int joined;               /* MPI_Init ran (and MPI_Finalize is due) */
    double comm_seconds, comm_bytes;
    float *buf;               /* fer_dist_combine_step's host buffer */
    size_t buf_cap;
} world = {0, 1, 1, 0, 0.0, 0.0, NULL, 0};

/* The process count mpirun announced, 0 when not started by a launcher. */
static int launcher_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v) > 0 ? atoi(v) : 1;
    }
    return getenv("PMIX_RANK") ? 1 : 0;
}

int fer_dist_rank(void) { return world.rank; }
int fer_dist_size(void) { return world.size; }
int fer_dist_local_size(void) { return world.local_size; }
double fer_dist_comm_seconds(void) { return world.comm_seconds; }
double fer_dist_comm_bytes(void) { return world.comm_bytes; }

void fer_dist_shard(int n, int rank, int size, int *first, int *count)
{
    int q = n / size, r = n % size;
    *count = q + (rank < r);
    *first = rank * q + (rank < r ? rank : r);
}

#if FER_HAVE_MPI
static fer_status mpi_fail(int err, const char *what)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(err, text, &len);
    return fer_fail(FER_ERR_IO, "rank %d of %d: %s failed: %s (did another rank die?)",
                    world.rank, world.size, what, text);
}

fer_status fer_dist_init(int *argc, char ***argv)
{
    int announced = launcher_size();
    if (announced == 0) return FER_OK; /* plain fer-train: no MPI at all */
    int provided = 0;
    /* threads (the backend's pool) never call MPI: funneled is enough */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return fer_fail(FER_ERR_IO, "MPI_Init_thread failed");
    world.joined = 1;
    /* errors come back as codes (a message naming the rank, then MPI_Abort) rather than
     * MPI's default abort without context */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    MPI_Comm local;
    int local_rank = 0;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) ==
        MPI_SUCCESS) {
        MPI_Comm_size(local, &world.local_size);
        MPI_Comm_rank(local, &local_rank);
        MPI_Comm_free(&local);
    }
    /* the cuda backend runs on the first visible GPU: one GPU per rank of a machine, unless
     * the user chose (before any CUDA call: the backend is created later) */
    if (world.local_size > 1 && !getenv("CUDA_VISIBLE_DEVICES")) {
        char gpu[16];
        snprintf(gpu, sizeof gpu, "%d", local_rank);
        setenv("CUDA_VISIBLE_DEVICES", gpu, 0);
    }
    return FER_OK;
}

void fer_dist_finalize(void)
{
    free(world.buf);
    world.buf = NULL;
    world.buf_cap = 0;
#if FER_HAVE_NCCL
    fer_dist_nccl_finalize();
#endif
    if (world.joined) MPI_Finalize();
    world.joined = 0;
}

void fer_dist_abort(int code)
{
    if (world.joined && world.size > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
}

static fer_status sum_in_place(void *v, size_t n, MPI_Datatype type, size_t elem_bytes)
{
    if (world.size == 1) return FER_OK;
    if (n > INT32_MAX) return fer_fail(FER_ERR_ARG, "all-reduce of %zu values: too many", n);
    double t0 = fer_now();
    int err = MPI_Allreduce(MPI_IN_PLACE, v, (int)n, type, MPI_SUM, MPI_COMM_WORLD);
    world.comm_seconds += fer_now() - t0;
    world.comm_bytes += (double)n * (double)elem_bytes;
    return err == MPI_SUCCESS ? FER_OK : mpi_fail(err, "MPI_Allreduce");
}

fer_status fer_dist_sum_doubles(double *v, size_t n)
{
    return sum_in_place(v, n, MPI_DOUBLE, sizeof(double));
}

static fer_status sum_floats(float *v, size_t n)
{
    return sum_in_place(v, n, MPI_FLOAT, sizeof(float));
}
#else
fer_status fer_dist_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    int announced = launcher_size();
    if (announced > 1)
        return fer_fail(FER_ERR_UNSUPPORTED, "this fer-train was built without MPI (meson "
                        "-Dmpi=enabled needs libopenmpi-dev) but mpirun started %d of it; "
                        "they would all write one run folder", announced);
    return FER_OK;
}

void fer_dist_finalize(void)
{
    free(world.buf);
    world.buf = NULL;
    world.buf_cap = 0;
}

void fer_dist_abort(int code)
{
    (void)code;
}

fer_status fer_dist_sum_doubles(double *v, size_t n)
{
    (void)v, (void)n;
    return FER_OK;
}

static fer_status sum_floats(float *v, size_t n)
{
    (void)v, (void)n;
    return FER_OK;
}
#endif

fer_status fer_dist_sum_fn(void *ctx, double *values, int count)
{
    (void)ctx;
    return count < 0 ? fer_fail(FER_ERR_ARG, "all-reduce of %d values", count)
                     : fer_dist_sum_doubles(values, (size_t)count);
}

fer_status fer_dist_combine_step(fer_model *m, double share, int buffers_from_root,
                                 double *extras, int n_extras)
{
    if (world.size == 1) return FER_OK;
    size_t n_grad = 0, n_buf = 0;
    float *grads = fer_model_grad_arena(m, &n_grad);
    float *buffers = fer_model_buffer_arena(m, &n_buf);
    if (!buffers_from_root) n_buf = 0;
    size_t n = n_grad + n_buf + (size_t)n_extras;
    if (n > world.buf_cap) {
        float *grown = realloc(world.buf, n * sizeof(float));
        if (!grown) return fer_fail(FER_ERR_NOMEM, "out of memory");
        world.buf = grown;
        world.buf_cap = n;
    }
    float *g = world.buf, *b = g + n_grad, *e = b + n_buf;
    fer_backend *be = fer_model_backend(m);
    fer_status s = FER_OK;
#if FER_HAVE_NCCL
    if (!strcmp(be->name, "cuda")) { /* GPU to GPU: the arenas never leave the devices */
        s = be->ops->scale(be, n_grad, grads, (float)share);
        if (!s) s = fer_dist_nccl_sum(be, grads, n_grad);
        if (!s && n_buf) s = fer_dist_nccl_from_root(be, buffers, n_buf);
        if (!s) s = fer_dist_sum_doubles(extras, (size_t)n_extras);
        return s;
    }
#endif
    if (n_grad) s = be->ops->download(be, g, grads, n_grad * sizeof(float));
    if (!s && n_buf && world.rank == 0) s = be->ops->download(be, b, buffers, n_buf * sizeof(float));
    if (s) return s;
    const float w = (float)share;
    for (size_t i = 0; i < n_grad; i++) g[i] *= w;
    if (world.rank != 0) memset(b, 0, n_buf * sizeof(float)); /* x + 0 == x: rank 0's exactly */
    for (int i = 0; i < n_extras; i++) e[i] = (float)extras[i];
    if ((s = sum_floats(world.buf, n))) return s;
    for (int i = 0; i < n_extras; i++) extras[i] = e[i];
    if (n_grad) s = be->ops->upload(be, grads, g, n_grad * sizeof(float));
    if (!s && n_buf) s = be->ops->upload(be, buffers, b, n_buf * sizeof(float));
    return s;
}
