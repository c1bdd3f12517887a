/* Per-layer convolution benchmark behind the cpu backend's design choice: SimpleCNN's six 3x3
 * convolutions at batch N, forward and backward (input + weight gradients), timed for
 *   ours         - the cpu backend's ops (NCHW in and out, the backend interface),
 *   dnnl-nchw    - oneDNN 2.x with NCHW tensors at the interface (reorders to its blocked
 *                  layout and back included: what an NCHW-interface backend pays),
 *   dnnl-blocked - the oneDNN primitives alone (layouts kept blocked between layers),
 *   blas-im2col  - im2col + OpenBLAS SGEMM per image (forward only).
 * Best of R repetitions (robust to load from other processes); GFLOP/s = 2*MACs/time.
 * With "cpu" as 4th argument times are process CPU seconds divided by the thread count, which
 * measures kernel efficiency on a machine shared with other jobs (wall time otherwise).
 * Usage: bench_layers [batch=256] [threads=2] [reps=3] [cpu] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fer/backend.h"

#ifdef FER_BENCH_DNNL
#include <dnnl.h>
#include <omp.h>
#endif
#ifdef FER_BENCH_OPENBLAS
#include <cblas.h>
#endif

typedef struct conv_shape {
    int ci, co, hw;
} conv_shape;

static const conv_shape shapes[] = {{1, 32, 48}, {32, 32, 48}, {32, 64, 24},
                                    {64, 64, 24}, {64, 128, 12}, {128, 128, 12}};
#define N_SHAPES 6

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double cpu_div = 1.0; /* CPU-time mode: seconds of CPU per thread */

static double now(void)
{
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return ((double)t.tv_sec + (double)t.tv_nsec * 1e-9) / cpu_div;
}

static float *rnd(size_t n)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_layers: out of memory\n");
        exit(1);
    }
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

static double flops(int n, const conv_shape *s)
{
    return 2.0 * n * s->hw * s->hw * (double)s->co * s->ci * 9;
}

static void row(const char *impl, int layer, const conv_shape *s, double f, double tf, double tb,
                int bwd_has_dx)
{
    /* backward = weight gradient + (input gradient except the first layer) */
    double fb = f * (bwd_has_dx ? 2.0 : 1.0);
    printf("%-13s conv%d %3d->%3d %2dx%-2d  fwd %7.2f ms %6.1f GF/s", impl, layer, s->ci, s->co,
           s->hw, s->hw, tf * 1e3, f / tf * 1e-9);
    if (tb > 0)
        printf("   bwd %7.2f ms %6.1f GF/s", tb * 1e3, fb / tb * 1e-9);
    printf("\n");
}

/* ---- ours ------------------------------------------------------------------------------- */

static void bench_ours(int n, int threads, int reps, double *tot_f, double *tot_b)
{
    fer_backend *b;
    if (fer_backend_new("cpu", threads, &b) != FER_OK) {
        fprintf(stderr, "bench_layers: %s\n", fer_last_error());
        exit(1);
    }
    printf("# ours: %s\n", fer_backend_note(b));
    *tot_f = *tot_b = 0;
    for (int l = 0; l < N_SHAPES; l++) {
        const conv_shape *s = &shapes[l];
        fer_conv2d_args a = {n, s->ci, s->hw, s->hw, s->co, s->hw, s->hw, 3, 1, 1, 0, 1, 0};
        size_t nx = (size_t)n * s->ci * s->hw * s->hw, ny = (size_t)n * s->co * s->hw * s->hw;
        float *x = rnd(nx), *w = rnd((size_t)s->co * s->ci * 9), *y = rnd(ny), *dy = rnd(ny);
        float *dx = rnd(nx), *dw = rnd((size_t)s->co * s->ci * 9);
        double bf = 1e30, bb = 1e30;
        for (int r = 0; r <= reps; r++) { /* r == 0: warm-up (workspace growth) */
            double t0 = now();
            b->ops->conv2d_forward(b, &a, x, w, NULL, y);
            double t1 = now();
            b->ops->conv2d_backward(b, &a, x, w, dy, l ? dx : NULL, dw, NULL);
            double t2 = now();
            if (r && t1 - t0 < bf)
                bf = t1 - t0;
            if (r && t2 - t1 < bb)
                bb = t2 - t1;
        }
        row("ours", l, s, flops(n, s), bf, bb, l > 0);
        *tot_f += bf;
        *tot_b += bb;
        free(x), free(w), free(y), free(dy), free(dx), free(dw);
    }
    fer_backend_free(b);
}

/* ---- oneDNN ----------------------------------------------------------------------------- */

#ifdef FER_BENCH_DNNL
#define CK(x)                                                                                  \
    do {                                                                                       \
        if ((x) != dnnl_success) {                                                             \
            fprintf(stderr, "bench_layers: %s failed\n", #x);                                  \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static dnnl_engine_t eng;
static dnnl_stream_t stream;

static dnnl_memory_t mem(const dnnl_memory_desc_t *md)
{
    dnnl_memory_t m;
    CK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    void *p;
    CK(dnnl_memory_get_data_handle(m, &p));
    memset(p, 0, dnnl_memory_desc_get_size(md));
    return m;
}

typedef struct prim {
    dnnl_primitive_t p;
    int nargs;
    dnnl_exec_arg_t args[4];
} prim;

static void exec(prim *p)
{
    CK(dnnl_primitive_execute(p->p, stream, p->nargs, p->args));
}

/* reorder between two memories (NULL primitive when the layouts already match) */
static prim reorder(dnnl_memory_t from, dnnl_memory_t to)
{
    prim r = {NULL, 2, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}}};
    const dnnl_memory_desc_t *a, *b;
    CK(dnnl_memory_get_memory_desc(from, &a));
    CK(dnnl_memory_get_memory_desc(to, &b));
    if (dnnl_memory_desc_equal(a, b))
        return r;
    dnnl_primitive_desc_t pd;
    CK(dnnl_reorder_primitive_desc_create(&pd, a, eng, b, eng, NULL));
    CK(dnnl_primitive_create(&r.p, pd));
    dnnl_primitive_desc_destroy(pd);
    return r;
}

static void run_opt(prim *p)
{
    if (p->p)
        exec(p);
}

static void bench_dnnl(int n, int threads, int reps, double *tf_nchw, double *tb_nchw,
                       double *tf_blk, double *tb_blk)
{
    omp_set_num_threads(threads);
    CK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    *tf_nchw = *tb_nchw = *tf_blk = *tb_blk = 0;
    for (int l = 0; l < N_SHAPES; l++) {
        const conv_shape *s = &shapes[l];
        dnnl_dims_t sd = {n, s->ci, s->hw, s->hw}, wd = {s->co, s->ci, 3, 3},
                    dd = {n, s->co, s->hw, s->hw}, st = {1, 1}, pad = {1, 1};
        dnnl_memory_desc_t any_s, any_w, any_d, pl_s, pl_w, pl_d;
        CK(dnnl_memory_desc_init_by_tag(&any_s, 4, sd, dnnl_f32, dnnl_format_tag_any));
        CK(dnnl_memory_desc_init_by_tag(&any_w, 4, wd, dnnl_f32, dnnl_format_tag_any));
        CK(dnnl_memory_desc_init_by_tag(&any_d, 4, dd, dnnl_f32, dnnl_format_tag_any));
        CK(dnnl_memory_desc_init_by_tag(&pl_s, 4, sd, dnnl_f32, dnnl_nchw));
        CK(dnnl_memory_desc_init_by_tag(&pl_w, 4, wd, dnnl_f32, dnnl_oihw));
        CK(dnnl_memory_desc_init_by_tag(&pl_d, 4, dd, dnnl_f32, dnnl_nchw));
        dnnl_convolution_desc_t fd, bd, wgd;
        CK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                              &any_s, &any_w, NULL, &any_d, st, pad, pad));
        CK(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &any_s, &any_w,
                                                     &any_d, st, pad, pad));
        CK(dnnl_convolution_backward_weights_desc_init(&wgd, dnnl_convolution_direct, &any_s,
                                                       &any_w, NULL, &any_d, st, pad, pad));
        dnnl_primitive_desc_t fpd, bpd, wpd;
        CK(dnnl_primitive_desc_create(&fpd, &fd, NULL, eng, NULL));
        CK(dnnl_primitive_desc_create(&bpd, &bd, NULL, eng, fpd));
        CK(dnnl_primitive_desc_create(&wpd, &wgd, NULL, eng, fpd));
        /* plain (interface) memories */
        dnnl_memory_t x = mem(&pl_s), w = mem(&pl_w), y = mem(&pl_d), dy = mem(&pl_d),
                      dx = mem(&pl_s), dw = mem(&pl_w);
        /* primitive-layout memories */
#define MD(pd, q) dnnl_primitive_desc_query_md(pd, q, 0)
        dnnl_memory_t fx = mem(MD(fpd, dnnl_query_src_md)), fw = mem(MD(fpd, dnnl_query_weights_md)),
                      fy = mem(MD(fpd, dnnl_query_dst_md));
        dnnl_memory_t bdy = mem(MD(bpd, dnnl_query_diff_dst_md)),
                      bw = mem(MD(bpd, dnnl_query_weights_md)),
                      bdx = mem(MD(bpd, dnnl_query_diff_src_md));
        dnnl_memory_t wx = mem(MD(wpd, dnnl_query_src_md)), wdy = mem(MD(wpd, dnnl_query_diff_dst_md)),
                      wdw = mem(MD(wpd, dnnl_query_diff_weights_md));
        prim pf = {NULL, 3, {{DNNL_ARG_SRC, fx}, {DNNL_ARG_WEIGHTS, fw}, {DNNL_ARG_DST, fy}}};
        prim pb = {NULL, 3, {{DNNL_ARG_DIFF_DST, bdy}, {DNNL_ARG_WEIGHTS, bw}, {DNNL_ARG_DIFF_SRC, bdx}}};
        prim pw = {NULL, 3, {{DNNL_ARG_SRC, wx}, {DNNL_ARG_DIFF_DST, wdy}, {DNNL_ARG_DIFF_WEIGHTS, wdw}}};
        CK(dnnl_primitive_create(&pf.p, fpd));
        CK(dnnl_primitive_create(&pb.p, bpd));
        CK(dnnl_primitive_create(&pw.p, wpd));
        prim r_x = reorder(x, fx), r_w = reorder(w, fw), r_y = reorder(fy, y);
        prim r_dy = reorder(dy, bdy), r_bw = reorder(w, bw), r_dx = reorder(bdx, dx);
        prim r_wx = reorder(x, wx), r_wdy = reorder(dy, wdy), r_dw = reorder(wdw, dw);
        double bf = 1e30, bb = 1e30, bfk = 1e30, bbk = 1e30;
        for (int r = 0; r <= reps; r++) {
            double t0 = now();
            run_opt(&r_x), run_opt(&r_w);
            double t1 = now();
            exec(&pf);
            double t2 = now();
            run_opt(&r_y);
            double t3 = now();
            run_opt(&r_wx), run_opt(&r_wdy);
            if (l)
                run_opt(&r_dy), run_opt(&r_bw);
            double t4 = now();
            exec(&pw);
            if (l)
                exec(&pb);
            double t5 = now();
            run_opt(&r_dw);
            if (l)
                run_opt(&r_dx);
            double t6 = now();
            dnnl_stream_wait(stream);
            if (!r)
                continue;
            if (t3 - t0 < bf)
                bf = t3 - t0;
            if (t2 - t1 < bfk)
                bfk = t2 - t1;
            if (t6 - t3 < bb)
                bb = t6 - t3;
            if (t5 - t4 < bbk)
                bbk = t5 - t4;
        }
        const char *impl;
        CK(dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &impl));
        row("dnnl-nchw", l, s, flops(n, s), bf, bb, l > 0);
        row("dnnl-blocked", l, s, flops(n, s), bfk, bbk, l > 0);
        *tf_nchw += bf, *tb_nchw += bb, *tf_blk += bfk, *tb_blk += bbk;
        dnnl_memory_t ms[] = {x, w, y, dy, dx, dw, fx, fw, fy, bdy, bw, bdx, wx, wdy, wdw};
        for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
            dnnl_memory_destroy(ms[i]);
        prim *ps[] = {&pf, &pb, &pw, &r_x, &r_w, &r_y, &r_dy, &r_bw, &r_dx, &r_wx, &r_wdy, &r_dw};
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
            if (ps[i]->p)
                dnnl_primitive_destroy(ps[i]->p);
        dnnl_primitive_desc_destroy(fpd);
        dnnl_primitive_desc_destroy(bpd);
        dnnl_primitive_desc_destroy(wpd);
        if (l == 0)
            printf("# oneDNN forward implementation: %s\n", impl);
    }
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(eng);
}
#endif

/* ---- im2col + OpenBLAS ------------------------------------------------------------------ */

#ifdef FER_BENCH_OPENBLAS
static void im2col3(const float *x, int c, int h, int w, float *col)
{
    for (int ci = 0; ci < c; ci++)
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++)
                for (int oh = 0; oh < h; oh++) {
                    int ih = oh + kh - 1;
                    float *d = col + ((size_t)(ci * 9 + kh * 3 + kw) * h + oh) * w;
                    for (int ow = 0; ow < w; ow++) {
                        int iw = ow + kw - 1;
                        d[ow] = (ih < 0 || ih >= h || iw < 0 || iw >= w)
                                    ? 0.0f
                                    : x[((size_t)ci * h + ih) * w + iw];
                    }
                }
}

static void bench_blas(int n, int threads, int reps, double *tot_f)
{
    openblas_set_num_threads(threads);
    *tot_f = 0;
    for (int l = 0; l < N_SHAPES; l++) {
        const conv_shape *s = &shapes[l];
        size_t plane = (size_t)s->hw * s->hw;
        float *x = rnd((size_t)n * s->ci * plane), *w = rnd((size_t)s->co * s->ci * 9);
        float *y = rnd((size_t)n * s->co * plane), *col = rnd((size_t)s->ci * 9 * plane);
        double best = 1e30;
        for (int r = 0; r <= reps; r++) {
            double t0 = now();
            for (int i = 0; i < n; i++) {
                im2col3(x + (size_t)i * s->ci * plane, s->ci, s->hw, s->hw, col);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->co, (int)plane,
                            s->ci * 9, 1.0f, w, s->ci * 9, col, (int)plane, 0.0f,
                            y + (size_t)i * s->co * plane, (int)plane);
            }
            double t = now() - t0;
            if (r && t < best)
                best = t;
        }
        row("blas-im2col", l, s, flops(n, s), best, 0, 0);
        *tot_f += best;
        free(x), free(w), free(y), free(col);
    }
}
#endif

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 256, threads = argc > 2 ? atoi(argv[2]) : 2;
    int reps = argc > 3 ? atoi(argv[3]) : 3;
    if (n < 1 || threads < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_layers [batch] [threads] [reps]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 4 && strcmp(argv[4], "cpu") == 0)
        bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    cpu_div = bench_clock == CLOCK_MONOTONIC ? 1.0 : threads;
    printf("# SimpleCNN 3x3 convolutions, batch %d, %d threads, best of %d\n", n, threads, reps);
    double f = 0, b = 0;
    bench_ours(n, threads, reps, &f, &b);
    printf("%-13s total fwd %.1f ms, bwd %.1f ms\n", "ours", f * 1e3, b * 1e3);
#ifdef FER_BENCH_DNNL
    double fn, bn, fk, bk;
    bench_dnnl(n, threads, reps, &fn, &bn, &fk, &bk);
    printf("%-13s total fwd %.1f ms, bwd %.1f ms\n", "dnnl-nchw", fn * 1e3, bn * 1e3);
    printf("%-13s total fwd %.1f ms, bwd %.1f ms\n", "dnnl-blocked", fk * 1e3, bk * 1e3);
#else
    printf("# oneDNN not built in (libdnnl-dev missing): skipped\n");
#endif
#ifdef FER_BENCH_OPENBLAS
    double fb;
    bench_blas(n, threads, reps, &fb);
    printf("%-13s total fwd %.1f ms\n", "blas-im2col", fb * 1e3);
#else
    printf("# OpenBLAS not built in (libopenblas-dev missing): skipped\n");
#endif
    return 0;
}
