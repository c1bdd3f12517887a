/* 1x1 convolutions (groups 1, pad 0, any stride): pointwise layers and ResNet's strided
 * projections, as a GEMM per image on NCHW planes, without im2col.
 *
 * With Xg[n] = the input pixels the output sees ([in_c][out_h*out_w]: x itself at stride 1, the
 * strided pixels otherwise):
 *   - forward:        Y[n]   = W   x Xg[n]       (M = out_c, K = in_c)
 *   - input gradient: dXg[n] = W^T x dY[n]       (M = in_c, K = out_c), at stride > 1 expanded
 *                     into dx with zeros at the pixels no output reads;
 *   - weight:         dW     = sum_n dY[n] x Xg[n]^T.
 * The first two run the kernel set's GEMM micro-kernel (gemm_micro, 6 x gemm_nr) with the
 * weights packed once into 6-row panels (cached), one task per image (or column range of an
 * image for small batches): a B panel of gemm_nr pixels is packed (copied at stride 1, gathered
 * at stride 2 by vector even-lane extraction) and every A panel runs against it while it sits
 * in L1. The weight gradient contracts along the pixels, contiguous in both dY and Xg, so it
 * uses a dot-product tile (cpu_pointwise_impl.h: vectors along the pixels, lanes summed at the
 * end of a chunk of images) instead of transposing either operand; images are split into a
 * fixed number of groups (from the batch size only) with one partial sum each, reduced in group
 * order, so results do not depend on the thread count. */
#include <string.h>

#include "cpu_pointwise.h"
#include "fer/threadpool.h"

#define PW_KC 256                  /* K block of the GEMM (B panel rows kept in L1) */
#define PW_WGRAD_GROUPS 8          /* weight-gradient partial sums */
#define PW_CHUNK_BUDGET (160 * 1024) /* floats of dY and Xg per weight-gradient chunk (L2) */
#define PW_SLACK 16                /* floats after buffers that vector tails may touch */
#define PW_PACK_BUDGET (64 * 1024) /* floats of packed B panels per block of pixels */
#define PW_A_BUDGET (6 * 1024)     /* floats of packed A panels run against one B panel (L1) */

#define PW_NAME(x) x##_portable
#define PW_V pv8
#define PW_VU pv8u
#define PW_VW 8
#define PW_R 3
#define PW_T 4
#define PW_FMA(a, b, c) ((a) * (b) + (c))
#define PW_EVEN(lo, hi) __builtin_shufflevector((lo), (hi), 0, 2, 4, 6, 8, 10, 12, 14)
#define PW_ZIPLO(v, z) __builtin_shufflevector((v), (z), 0, 8, 1, 9, 2, 10, 3, 11)
#include "cpu_pointwise_impl.h"
#undef PW_NAME
#undef PW_FMA

#if defined(FER_CPU_HAVE_AVX2)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#define PW_NAME(x) x##_avx2
#define PW_FMA(a, b, c) ((pv8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#include "cpu_pointwise_impl.h"
#undef PW_NAME
#undef PW_FMA
#pragma GCC pop_options
#endif
#undef PW_V
#undef PW_VU
#undef PW_VW
#undef PW_R
#undef PW_T
#undef PW_EVEN
#undef PW_ZIPLO

#if defined(FER_CPU_HAVE_AVX512)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#include <immintrin.h>
#define PW_NAME(x) x##_avx512
#define PW_V pv16
#define PW_VU pv16u
#define PW_VW 16
#define PW_R 4
#define PW_T 6
#define PW_FMA(a, b, c) ((pv16)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define PW_EVEN(lo, hi)                                                                            \
    __builtin_shufflevector((lo), (hi), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define PW_ZIPLO(v, z)                                                                             \
    __builtin_shufflevector((v), (z), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#include "cpu_pointwise_impl.h"
#undef PW_NAME
#undef PW_FMA
#undef PW_V
#undef PW_VU
#undef PW_VW
#undef PW_R
#undef PW_T
#undef PW_EVEN
#undef PW_ZIPLO
#pragma GCC pop_options
#endif

typedef struct pw_fns {
    int vw, r, t; /* vector width, dot tile rows (dy) x columns (x) */
    void (*dot)(const float *dy, const size_t *dy_off, size_t dy_img, const float *x,
                const size_t *x_off, size_t x_img, int n_img, size_t len, float *out);
    void (*gather)(const float *src, size_t plane, int K, const int32_t *off, int q0, int out_w,
                   int stride, int nr, int NR, float *dst);
    void (*expand)(const float *g, int out_h, int out_w, float *dx, int in_h, int in_w);
} pw_fns;

static const pw_fns pw_portable = {8, 3, 4, pw_dot_tile_portable, pw_gather_panel_portable,
                                   pw_expand_s2_portable};
#if defined(FER_CPU_HAVE_AVX2)
static const pw_fns pw_avx2 = {8, 3, 4, pw_dot_tile_avx2, pw_gather_panel_avx2,
                               pw_expand_s2_avx2};
#endif
#if defined(FER_CPU_HAVE_AVX512)
static const pw_fns pw_avx512 = {16, 4, 6, pw_dot_tile_avx512, pw_gather_panel_avx512,
                                 pw_expand_s2_avx512};
#endif

/* the tile of the backend's kernel set: portable, AVX2 for the avx2 set, AVX-512 for avx512 */
static const pw_fns *pw_pick(const cpu_ctx *c)
{
#if defined(FER_CPU_HAVE_AVX512)
    if (c->k == &cpu_kernels_avx512)
        return &pw_avx512;
#endif
#if defined(FER_CPU_HAVE_AVX2)
    if (c->k != &cpu_kernels_portable)
        return &pw_avx2;
#endif
    (void)c;
    return &pw_portable;
}

int cpu_pointwise_supported(const fer_conv2d_args *a)
{
    return a->groups == 1 && a->k == 1 && a->pad == 0 && a->stride >= 1 && a->n >= 1 &&
           a->in_c >= 1 && a->out_c >= 1 && a->out_h == (a->in_h - 1) / a->stride + 1 &&
           a->out_w == (a->in_w - 1) / a->stride + 1;
}

static size_t round_to(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

/* ---- packed weights: A panels [ceil(M/6)][K][6], zero rows past M ----------------------- */

typedef struct pw_pack {
    const float *w;
    int M, K, trans; /* trans: A = W^T (W is [K][M]) */
} pw_pack;

static void pw_pack_cb(const void *ctx, float *dst)
{
    const pw_pack *p = ctx;
    const int panels = (p->M + CPU_GEMM_MR - 1) / CPU_GEMM_MR;
    for (int ir = 0; ir < panels; ir++) {
        float *d = dst + (size_t)ir * p->K * CPU_GEMM_MR;
        for (int k = 0; k < p->K; k++)
            for (int i = 0; i < CPU_GEMM_MR; i++) {
                const int m = ir * CPU_GEMM_MR + i;
                d[(size_t)k * CPU_GEMM_MR + i] =
                    m >= p->M ? 0.0f
                    : p->trans ? p->w[(size_t)k * p->M + m]
                               : p->w[(size_t)m * p->K + k];
            }
    }
}

static const float *pw_packed(cpu_ctx *c, const float *w, uint64_t gen, int M, int K, int trans)
{
    pw_pack p = {w, M, K, trans};
    size_t floats = round_to((size_t)M, CPU_GEMM_MR) * (size_t)K;
    return cpu_wcache_get(c, w, (size_t)M * K, gen, 50 + trans, M, K, 0, floats, pw_pack_cb,
                          &p);
}

/* off[q] = input offset of output pixel q within a plane */
static void pw_offsets(const fer_conv2d_args *a, int32_t *off)
{
    for (int oh = 0; oh < a->out_h; oh++)
        for (int ow = 0; ow < a->out_w; ow++)
            off[(size_t)oh * a->out_w + ow] = (int32_t)((size_t)oh * a->stride * a->in_w +
                                                        (size_t)ow * a->stride);
}

/* ---- forward and input gradient: GEMM per image ----------------------------------------- */

typedef struct pw_job {
    const cpu_kernels *k;
    const pw_fns *f;
    const fer_conv2d_args *a;
    const float *ap; /* packed A */
    int M, K, Q;     /* rows, reduction, output pixels per image */
    const float *src;
    size_t src_img, src_plane;
    const int32_t *off; /* B gathered through off (forward at stride > 1), else copied */
    float *dst;         /* [n][M][Q], or NULL: the worker's plane, expanded into dx */
    size_t dst_img;
    const float *bias;
    float *dx; /* input gradient at stride > 1 */
    int block_cols; /* pixels packed at a time (a multiple of gemm_nr) */
    float *scratch;
    size_t scratch_floats, tile_off, plane_off;
    int col_parts; /* tasks per image */
} pw_job;

/* Packs pixels [q0, q1) of image n's B rows into panels of NR columns, panel stride pstride:
 * row by row through the source planes, so the reads stream (a panel at a time would touch
 * every channel plane per panel, too many streams for the prefetchers). */
static void pw_pack_block(const pw_job *j, const float *src, int q0, int q1, size_t pstride,
                          float *bp)
{
    const int NR = j->k->gemm_nr;
    for (int r = 0; r < j->K; r++) {
        const float *row = src + (size_t)r * j->src_plane;
        for (int p0 = q0; p0 < q1; p0 += NR) {
            const int nr = q1 - p0 < NR ? q1 - p0 : NR;
            float *d = bp + (size_t)((p0 - q0) / NR) * pstride + (size_t)r * NR;
            if (j->off) {
                j->f->gather(row, j->src_plane, 1, j->off + p0, p0, j->a->out_w,
                             j->a->stride, nr, NR, d);
                continue;
            }
            memcpy(d, row + p0, (size_t)nr * sizeof(float));
            for (int q = nr; q < NR; q++)
                d[q] = 0.0f;
        }
    }
}

/* pixels [lo, hi) of image n with the worker's scratch */
static void pw_gemm_image(const pw_job *j, int n, size_t lo, size_t hi, int worker)
{
    const cpu_kernels *k = j->k;
    const int NR = k->gemm_nr, MR = CPU_GEMM_MR, M = j->M, K = j->K, Q = j->Q;
    float *bp = j->scratch + (size_t)worker * j->scratch_floats;
    float *ct = bp + j->tile_off;
    float *out = j->dst ? j->dst + (size_t)n * j->dst_img : bp + j->plane_off;
    const float *src = j->src + (size_t)n * j->src_img;
    const size_t pstride = round_to((size_t)K * NR + PW_SLACK, 16);
    /* A panels in blocks that stay in L1 beside the B panel they run against (mb rows of all
     * of K): the whole of A streamed from L2 for each B panel cost 10% at 64->128 channels */
    int mb = (int)(PW_A_BUDGET / ((size_t)K * MR)) * MR;
    mb = mb < MR ? MR : mb;
    for (int b0 = (int)lo; b0 < (int)hi; b0 += j->block_cols) {
        const int b1 = (int)hi - b0 < j->block_cols ? (int)hi : b0 + j->block_cols;
        pw_pack_block(j, src, b0, b1, pstride, bp);
        for (int m0 = 0; m0 < M; m0 += mb) {
            const int m1 = M - m0 < mb ? M : m0 + mb;
            for (int q0 = b0; q0 < b1; q0 += NR) {
                const int nr = b1 - q0 < NR ? b1 - q0 : NR;
                const float *bq = bp + (size_t)((q0 - b0) / NR) * pstride;
                for (int pc = 0; pc < K; pc += PW_KC) {
                    const int kc = K - pc < PW_KC ? K - pc : PW_KC;
                    for (int ir = m0; ir < m1; ir += MR) {
                        const float *a = j->ap + (size_t)(ir / MR) * K * MR + (size_t)pc * MR;
                        /* (gemm_micro12 here made pw1x1_64_128_24 20% slower: session 17) */
                        if (M - ir >= MR && nr == NR)
                            k->gemm_micro(kc, a, bq + (size_t)pc * NR, out + (size_t)ir * Q + q0,
                                          (size_t)Q, pc > 0);
                        else
                            k->gemm_micro(kc, a, bq + (size_t)pc * NR, ct + (size_t)ir * NR,
                                          (size_t)NR, pc > 0);
                    }
                }
                /* the edge tiles, computed in ct */
                for (int ir = m0; ir < m1; ir += MR) {
                    const int mr = M - ir < MR ? M - ir : MR;
                    if (mr == MR && nr == NR)
                        continue;
                    for (int i = 0; i < mr; i++)
                        memcpy(out + (size_t)(ir + i) * Q + q0, ct + (size_t)(ir + i) * NR,
                               (size_t)nr * sizeof(float));
                }
            }
        }
    }
    if (j->bias)
        for (int m = 0; m < M; m++) {
            float *row = out + (size_t)m * Q, b0 = j->bias[m];
            for (size_t q = lo; q < hi; q++)
                row[q] += b0;
        }
    if (!j->dst) {
        const fer_conv2d_args *a = j->a;
        const size_t plane_in = (size_t)a->in_h * a->in_w;
        for (int m = 0; m < M; m++) {
            const float *g = out + (size_t)m * Q;
            float *d = j->dx + ((size_t)n * M + m) * plane_in;
            if (a->stride == 2) {
                j->f->expand(g, a->out_h, a->out_w, d, a->in_h, a->in_w);
                continue;
            }
            memset(d, 0, plane_in * sizeof(float));
            for (int oh = 0; oh < a->out_h; oh++)
                for (int ow = 0; ow < a->out_w; ow++)
                    d[(size_t)oh * a->stride * a->in_w + (size_t)ow * a->stride] =
                        g[(size_t)oh * a->out_w + ow];
        }
    }
}

static void pw_gemm_task(void *ctx, int task, int worker)
{
    const pw_job *j = ctx;
    size_t lo, hi;
    cpu_range((size_t)j->Q, j->col_parts, task % j->col_parts, (size_t)j->k->gemm_nr, &lo, &hi);
    pw_gemm_image(j, task / j->col_parts, lo, hi, worker);
}

/* Scratch per worker: B panel, edge tile, and (expand) the dense input-gradient planes of one
 * image. */
static void pw_gemm_layout(const cpu_ctx *c, pw_job *j, int expand)
{
    const int NR = c->k->gemm_nr;
    /* the packed panels of a block stay in L2 */
    const size_t pstride = round_to((size_t)j->K * NR + PW_SLACK, 16);
    size_t panels = PW_PACK_BUDGET / pstride;
    const size_t all = ((size_t)j->Q + NR - 1) / NR;
    panels = panels < 1 ? 1 : panels > all ? all : panels;
    j->block_cols = (int)panels * NR;
    j->tile_off = panels * pstride;
    j->plane_off = j->tile_off + round_to((size_t)j->M, CPU_GEMM_MR) * NR;
    j->scratch_floats = round_to(j->plane_off + (expand ? (size_t)j->M * j->Q + PW_SLACK : 0), 16);
}

/* Runs the job over the images (the offset table first in the workspace at stride > 1). */
static fer_status pw_gemm_run(cpu_ctx *c, pw_job *j, int expand)
{
    const fer_conv2d_args *a = j->a;
    const int NR = c->k->gemm_nr;
    const size_t workers = (size_t)fer_threadpool_size(c->pool);
    pw_gemm_layout(c, j, expand);
    const size_t off_floats = a->stride > 1 ? round_to((size_t)j->Q, 16) : 0;
    float *ws = cpu_workspace(c, off_floats + j->scratch_floats * workers);
    if (!ws)
        return FER_ERR_NOMEM;
    if (off_floats) {
        int32_t *off = (int32_t *)(void *)ws;
        pw_offsets(a, off);
        if (!expand)
            j->off = off;
    }
    j->scratch = ws + off_floats;
    /* small batches: split the pixels too, so every thread has work (never when expanding:
     * the task owns the image's dx planes) */
    const int panels = (j->Q + NR - 1) / NR, threads = c->threads;
    j->col_parts = 1;
    if (!expand && a->n < 4 * threads) {
        int want = (4 * threads + a->n - 1) / a->n;
        j->col_parts = want < panels ? want : panels;
    }
    cpu_parallel(c, a->n * j->col_parts, pw_gemm_task, j);
    return FER_OK;
}

fer_status cpu_pointwise_forward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                 const float *w, const float *bias, float *y)
{
    pw_job j;
    memset(&j, 0, sizeof j);
    j.k = c->k, j.f = pw_pick(c), j.a = a;
    j.M = a->out_c, j.K = a->in_c, j.Q = a->out_h * a->out_w;
    j.ap = pw_packed(c, w, a->weights_gen, a->out_c, a->in_c, 0);
    if (!j.ap)
        return FER_ERR_NOMEM;
    j.src = x, j.src_plane = (size_t)a->in_h * a->in_w;
    j.src_img = (size_t)a->in_c * j.src_plane;
    j.dst = y, j.dst_img = (size_t)a->out_c * j.Q;
    j.bias = bias;
    return pw_gemm_run(c, &j, 0);
}

/* ---- weight gradient: dot-product tiles over chunks of images ---------------------------- */

typedef struct pw_wjob {
    const pw_fns *f;
    const fer_conv2d_args *a;
    int groups, chunk, direct, Q;
    size_t len; /* floats per row in the chunk buffers (Q rounded up to the vector width) */
    const int32_t *off;
    const float *x, *dy;
    float *part, *scratch;
    size_t scratch_floats;
    const pw_job *dxj; /* the input gradient of each image right before its tiles, or NULL */
} pw_wjob;

static void pw_wgrad_task(void *ctx, int g, int worker)
{
    const pw_wjob *j = ctx;
    const fer_conv2d_args *a = j->a;
    const pw_fns *f = j->f;
    const int CO = a->out_c, CI = a->in_c, R = f->r, T = f->t;
    const size_t plane_in = (size_t)a->in_h * a->in_w, Q = (size_t)j->Q;
    float *part = j->part + (size_t)g * CO * CI;
    memset(part, 0, (size_t)CO * CI * sizeof(float));
    const int n0 = (int)((size_t)g * a->n / j->groups), n1 = (int)((size_t)(g + 1) * a->n / j->groups);
    float *xb = j->scratch + (size_t)worker * j->scratch_floats;
    float *dyb = xb + round_to((size_t)j->chunk * CI * j->len + PW_SLACK, 16);
    for (int c0 = n0; c0 < n1; c0 += j->chunk) {
        const int ni = n1 - c0 < j->chunk ? n1 - c0 : j->chunk;
        /* dY of the chunk is read here, and by the tiles below while still in cache */
        if (j->dxj)
            for (int i = 0; i < ni; i++)
                pw_gemm_image(j->dxj, c0 + i, 0, Q, worker);
        const float *xs, *dys;
        size_t x_img, dy_img, rs;
        if (j->direct) {
            xs = j->x + (size_t)c0 * CI * Q, dys = j->dy + (size_t)c0 * CO * Q;
            x_img = (size_t)CI * Q, dy_img = (size_t)CO * Q, rs = Q;
        } else {
            for (int i = 0; i < ni; i++) {
                const float *xi = j->x + (size_t)(c0 + i) * CI * plane_in;
                float *xd = xb + (size_t)i * CI * j->len;
                if (j->off)
                    f->gather(xi, plane_in, CI, j->off, 0, a->out_w, a->stride, j->Q,
                              (int)j->len, xd);
                else
                    for (int ci = 0; ci < CI; ci++) {
                        memcpy(xd + ci * j->len, xi + ci * Q, Q * sizeof(float));
                        memset(xd + ci * j->len + Q, 0, (j->len - Q) * sizeof(float));
                    }
                const float *di = j->dy + (size_t)(c0 + i) * CO * Q;
                float *dd = dyb + (size_t)i * CO * j->len;
                for (int co = 0; co < CO; co++) {
                    memcpy(dd + co * j->len, di + co * Q, Q * sizeof(float));
                    memset(dd + co * j->len + Q, 0, (j->len - Q) * sizeof(float));
                }
            }
            xs = xb, dys = dyb;
            x_img = (size_t)CI * j->len, dy_img = (size_t)CO * j->len, rs = j->len;
        }
        for (int co0 = 0; co0 < CO; co0 += R) {
            size_t dy_off[8], x_off[8];
            for (int r = 0; r < R; r++)
                dy_off[r] = (size_t)(co0 + r < CO ? co0 + r : CO - 1) * rs;
            for (int ci0 = 0; ci0 < CI; ci0 += T) {
                for (int t = 0; t < T; t++)
                    x_off[t] = (size_t)(ci0 + t < CI ? ci0 + t : CI - 1) * rs;
                float o[64] = {0};
                f->dot(dys, dy_off, dy_img, xs, x_off, x_img, ni, j->len, o);
                for (int r = 0; r < R && co0 + r < CO; r++)
                    for (int t = 0; t < T && ci0 + t < CI; t++)
                        part[(size_t)(co0 + r) * CI + ci0 + t] += o[r * T + t];
            }
        }
    }
}

typedef struct pw_reduce {
    const float *part;
    int groups;
    size_t n, per_task;
    float *dw;
} pw_reduce;

static void pw_reduce_task(void *ctx, int task, int worker)
{
    (void)worker;
    const pw_reduce *r = ctx;
    const size_t lo = (size_t)task * r->per_task;
    const size_t hi = lo + r->per_task < r->n ? lo + r->per_task : r->n;
    for (size_t i = lo; i < hi; i++) {
        float s = 0.0f;
        for (int g = 0; g < r->groups; g++)
            s += r->part[(size_t)g * r->n + i];
        r->dw[i] = s;
    }
}

/* dw (and with dxj, the input gradient fused into the same tasks) */
static fer_status pw_wgrad(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                           const float *dy, float *dw, pw_job *dxj)
{
    pw_wjob j;
    memset(&j, 0, sizeof j);
    j.f = pw_pick(c), j.a = a, j.x = x, j.dy = dy, j.dxj = dxj;
    j.Q = a->out_h * a->out_w;
    j.len = round_to((size_t)j.Q, (size_t)j.f->vw);
    j.direct = a->stride == 1 && j.len == (size_t)j.Q;
    j.groups = a->n < PW_WGRAD_GROUPS ? a->n : PW_WGRAD_GROUPS;
    const size_t per_img = (size_t)(a->in_c + a->out_c) * j.len;
    const size_t chunk = PW_CHUNK_BUDGET / per_img;
    j.chunk = chunk < 1 ? 1 : chunk > (size_t)a->n ? a->n : (int)chunk;
    const size_t workers = (size_t)fer_threadpool_size(c->pool);
    j.scratch_floats = j.direct ? 0
                                : round_to((size_t)j.chunk * a->in_c * j.len + PW_SLACK, 16) +
                                      round_to((size_t)j.chunk * a->out_c * j.len + PW_SLACK, 16);
    const size_t nw = (size_t)a->out_c * a->in_c;
    const size_t part_floats = round_to(nw * j.groups, 16);
    const size_t off_floats = a->stride > 1 ? round_to((size_t)j.Q, 16) : 0;
    const size_t dx_floats = dxj ? dxj->scratch_floats : 0;
    float *ws = cpu_workspace(c, part_floats + off_floats + (j.scratch_floats + dx_floats) * workers);
    if (!ws)
        return FER_ERR_NOMEM;
    j.part = ws;
    if (off_floats) {
        int32_t *off = (int32_t *)(void *)(ws + part_floats);
        pw_offsets(a, off);
        j.off = off;
    }
    j.scratch = ws + part_floats + off_floats;
    if (dxj)
        dxj->scratch = j.scratch + j.scratch_floats * workers;
    cpu_parallel(c, j.groups, pw_wgrad_task, &j);
    pw_reduce r = {j.part, j.groups, nw, 4096, dw};
    cpu_parallel(c, (int)((nw + r.per_task - 1) / r.per_task), pw_reduce_task, &r);
    return FER_OK;
}

fer_status cpu_pointwise_backward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw)
{
    if (dx) {
        pw_job j;
        memset(&j, 0, sizeof j);
        j.k = c->k, j.f = pw_pick(c), j.a = a;
        j.M = a->in_c, j.K = a->out_c, j.Q = a->out_h * a->out_w;
        j.ap = pw_packed(c, w, a->weights_gen, a->in_c, a->out_c, 1);
        if (!j.ap)
            return FER_ERR_NOMEM;
        j.src = dy, j.src_plane = (size_t)j.Q, j.src_img = (size_t)a->out_c * j.Q;
        const int expand = a->stride > 1;
        j.dst = expand ? NULL : dx;
        j.dst_img = (size_t)a->in_c * j.Q;
        j.dx = dx;
        /* with the weight gradient: inside its tasks, image by image (dY read once) */
        if (dw) {
            pw_gemm_layout(c, &j, expand);
            return pw_wgrad(c, a, x, dy, dw, &j);
        }
        return pw_gemm_run(c, &j, expand);
    }
    return dw ? pw_wgrad(c, a, x, dy, dw, NULL) : FER_OK;
}
