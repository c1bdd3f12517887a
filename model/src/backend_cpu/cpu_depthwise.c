/* Depthwise conv2d (one input channel per group, any channel multiplier) with 3x3 or 5x5 kernels
 * at stride 1 or 2 and pad <= k - 1: the fast case of cpu_conv_grouped.c.
 *
 * Every plane is first copied into a zero-padded "split" buffer (cpu_dw_impl.h): stride-S rows
 * stored as S phase rows, so each tap of an output row is a unit-stride vector load and nothing
 * inside the loops tests an edge. A worker zeroes its buffers once per call; later planes
 * overwrite only the interior. The kernels are written once over the vector width and compiled
 * three times, portable and AVX2+FMA with 8 lanes, AVX-512 with 16, and chosen with the
 * backend's kernel set.
 *   - forward: 4 (stride 1, 3x3) or 2 output rows per pass share their input row loads; tasks
 *     cover several planes when planes are small, so the pool's per-task cost is amortised;
 *   - input gradient (multiplier 1): stride 1 is the forward of dy with the kernel rotated by
 *     180 degrees and pad k - 1 - pad; stride 2 computes the two column phases of a dx row in
 *     registers from a zero-padded copy of dy and interleaves them (the adjoint of the forward
 *     as a gather, no scatter);
 *   - weight and bias gradients: tasks of (image group, channel block), planes in memory
 *     order; per plane the k*k tap sums are vector partial sums, summed across lanes in a fixed
 *     order and added in double to the group's partial sums, which are added in group order at
 *     the end (the groups depend on the batch only). With the input gradient asked for too,
 *     the same task computes it for each of its planes right after, while dy is in cache.
 * Every output element is computed by one task in one fixed order, so results do not depend on
 * the thread count. */
#include <stdlib.h>
#include <string.h>

#include "cpu_depthwise.h"
#include "fer/threadpool.h"

/* The kernels' short row copies and fills must stay inline vector loops: turned into
 * memcpy/memset calls (GCC's loop distribution) they cost more than the convolution of a
 * 12x12 plane. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* 8 lanes (portable, AVX2) */
#define DW_V dv8
#define DW_VU dv8u
#define DW_VW 8
#define DW_EVEN(lo, hi) __builtin_shufflevector((lo), (hi), 0, 2, 4, 6, 8, 10, 12, 14)
#define DW_ODD(lo, hi) __builtin_shufflevector((lo), (hi), 1, 3, 5, 7, 9, 11, 13, 15)
#define DW_ZIPLO(a, b) __builtin_shufflevector((a), (b), 0, 8, 1, 9, 2, 10, 3, 11)
#define DW_ZIPHI(a, b) __builtin_shufflevector((a), (b), 4, 12, 5, 13, 6, 14, 7, 15)
#define DW_HSUM(a) DW_HSUM8(a)
#define DW_NAME(x) x##_portable
#define DW_FMA(a, b, c) ((a) * (b) + (c))
#include "cpu_dw_impl.h"
#undef DW_NAME
#undef DW_FMA

#if defined(FER_CPU_HAVE_AVX2)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#define DW_NAME(x) x##_avx2
#define DW_FMA(a, b, c) ((dv8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#include "cpu_dw_impl.h"
#undef DW_NAME
#undef DW_FMA
#pragma GCC pop_options
#endif
#undef DW_V
#undef DW_VU
#undef DW_VW
#undef DW_EVEN
#undef DW_ODD
#undef DW_ZIPLO
#undef DW_ZIPHI
#undef DW_HSUM

/* 16 lanes (AVX-512): the same kernels, zmm */
#if defined(FER_CPU_HAVE_AVX512)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx2,fma")
#include <immintrin.h>
#define DW_V dv16
#define DW_VU dv16u
#define DW_VW 16
#define DW_EVEN(lo, hi)                                                                            \
    __builtin_shufflevector((lo), (hi), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define DW_ODD(lo, hi)                                                                             \
    __builtin_shufflevector((lo), (hi), 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#define DW_ZIPLO(a, b)                                                                             \
    __builtin_shufflevector((a), (b), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define DW_ZIPHI(a, b)                                                                             \
    __builtin_shufflevector((a), (b), 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
/* the two 8-lane halves added, then the 8-lane order */
#define DW_HSUM(a) dw_hsum16_avx512(a)
static inline float dw_hsum16_avx512(dv16 a)
{
    const dv8 h = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
                  __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
    return DW_HSUM8(h);
}
#define DW_NAME(x) x##_avx512
#define DW_FMA(a, b, c) ((dv16)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#include "cpu_dw_impl.h"
#undef DW_NAME
#undef DW_FMA

/* 3x3 forward of one plane whose input rows fit one zmm (stride 1, in_w <= 16) or two (stride
 * 2, in_w <= 32), pad <= 2: each input row is loaded once (masked, no read past the row) and
 * its three column taps are built by lane permutes, with zeros where a tap falls in the
 * padding; each output row is bias + the 9 taps in row-major order, dw3_blocked's order, so
 * the bits are the same. No copy of the plane into a padded, split or channel-blocked
 * buffer: on small planes those copies cost more than the 9 multiply-adds per output.
 * t holds (in_h + 4) x 3 vectors (two zero rows above and below). */
typedef struct dw3z_geom {
    __m512i idx[3];     /* per column tap kw: the input column of each output lane */
    __mmask16 keep[3];  /* lanes whose tap lies inside the row (the rest are zeros) */
    __mmask16 mlo, mhi; /* the row's columns in the first and second vector */
    __mmask16 mout;     /* the output row's lanes */
} dw3z_geom;

/* floats of the taps buffer t of a plane with in_h rows: (in_h + 4) rows of 3 vectors */
static size_t dw3z_taps_floats(int in_h)
{
    return ((size_t)in_h + 4) * 3 * 16;
}

static void dw3z_geom_init(dw3z_geom *g, int in_w, int stride, int pad, int out_w)
{
    for (int kw = 0; kw < 3; kw++) {
        int lanes[16];
        unsigned m = 0;
        for (int l = 0; l < 16; l++) {
            const int col = stride * l - pad + kw;
            const int ok = l < out_w && col >= 0 && col < in_w;
            lanes[l] = ok ? col : 0;
            m |= (unsigned)ok << l;
        }
        g->idx[kw] = _mm512_loadu_si512((const void *)lanes);
        g->keep[kw] = (__mmask16)m;
    }
    g->mlo = (__mmask16)(in_w >= 16 ? 0xFFFFu : (1u << in_w) - 1);
    g->mhi = (__mmask16)(in_w > 16 ? (1u << (in_w - 16)) - 1 : 0u);
    g->mout = (__mmask16)(out_w >= 16 ? 0xFFFFu : (1u << out_w) - 1);
}

/* The taps of every input row of plane x into t (see dw3_rows_zmm); returns input row 0's
 * three vectors, with rows -2, -1, in_h and in_h + 1 zeros. */
static const __m512 *dw3z_taps(const dw3z_geom *g, const float *x, int in_h, int in_w,
                               __m512 *t)
{
    const __m512 zero = _mm512_setzero_ps();
    __m512 *rows = t + 6; /* input row ih's taps at rows[3 * ih + kw] */
    for (int i = 0; i < 6; i++) {
        t[i] = zero;
        rows[3 * in_h + i] = zero;
    }
    for (int ih = 0; ih < in_h; ih++) {
        const float *r = x + (size_t)ih * in_w;
        const __m512 lo = _mm512_maskz_loadu_ps(g->mlo, r);
        const __m512 hi = g->mhi ? _mm512_maskz_loadu_ps(g->mhi, r + 16) : zero;
        for (int kw = 0; kw < 3; kw++)
            rows[3 * ih + kw] = _mm512_maskz_permutex2var_ps(g->keep[kw], lo, g->idx[kw], hi);
    }
    return rows;
}

static void dw3_rows_zmm(const dw3z_geom *g, const float *x, int in_h, int in_w, int stride,
                         int pad, const float *w, float bias, float *y, int out_h, int out_w,
                         __m512 *t)
{
    const __m512 *rows = dw3z_taps(g, x, in_h, in_w, t);
    __m512 wv[9];
    for (int i = 0; i < 9; i++)
        wv[i] = _mm512_set1_ps(w[i]);
    const __m512 b = _mm512_set1_ps(bias);
    const size_t plane = (size_t)out_h * out_w;
    for (int oh = 0; oh < out_h; oh++) {
        const __m512 *rr = rows + 3 * (stride * oh - pad);
        __m512 acc = b;
        for (int i = 0; i < 9; i++)
            acc = _mm512_fmadd_ps(wv[i], rr[i], acc);
        float *yr = y + (size_t)oh * out_w;
        /* a full store spills into the rows after it, which are stored later; only a store
         * that would leave the plane is masked (masked stores are slow on some AVX-512 cores) */
        if ((size_t)oh * out_w + 16 <= plane)
            _mm512_storeu_ps(yr, acc);
        else
            _mm512_mask_storeu_ps(yr, g->mout, acc);
    }
}

/* Weight and bias gradient sums of one plane on dw3_rows_zmm's geometry: tap[kh*3 + kw] =
 * sum over outputs of dy * the input under tap (kh, kw), as 9 vector sums over the output
 * rows (dy rows loaded masked, no copy) whose lanes are summed at the end. */
static void dw3_wgrad_zmm(const dw3z_geom *g, const float *x, int in_h, int in_w, int stride,
                          int pad, const float *dy, int out_h, int out_w, __m512 *t,
                          float tap[9], float *dbias)
{
    const __m512 *rows = dw3z_taps(g, x, in_h, in_w, t);
    __m512 acc[9], bacc = _mm512_setzero_ps();
    for (int i = 0; i < 9; i++)
        acc[i] = bacc;
    for (int oh = 0; oh < out_h; oh++) {
        const __m512 d = _mm512_maskz_loadu_ps(g->mout, dy + (size_t)oh * out_w);
        const __m512 *rr = rows + 3 * (stride * oh - pad);
        for (int i = 0; i < 9; i++)
            acc[i] = _mm512_fmadd_ps(d, rr[i], acc[i]);
        bacc = _mm512_add_ps(bacc, d);
    }
    for (int i = 0; i < 9; i++)
        tap[i] = _mm512_reduce_add_ps(acc[i]);
    *dbias = _mm512_reduce_add_ps(bacc);
}
#define FER_DW3_ROWS_ZMM 1
#pragma GCC pop_options
#endif

typedef struct dw_fns {
    int vw; /* floats per vector */
    void (*split)(const dw_geom *g, const float *x, float *xq, int zero_pad);
    void (*fwd)(const dw_geom *g, const float *xq, const float *w, float bias, float *y,
                float *tmp);
    /* stride-2 forward from a plainly padded plane (dw_split of geometry gp) */
    void (*fwd_s2d)(const dw_geom *g, const float *xp, const float *w, float bias, float *y,
                    float *tmp);
    void (*dx_s2)(const dw_geom *g, const float *dyp, size_t dyw, const float *w, float *dx,
                  float *tmp, int qvec);
    void (*wgrad)(const dw_geom *g, const float *xq, const float *dyq, size_t dys, float *acc);
    float (*plane_sum)(const dw_geom *g, const float *dyq, size_t dys);
    void (*pad_plane)(float *dst, size_t dst_w, size_t dst_rows, const float *src, size_t src_w,
                      size_t rows, size_t cols, size_t off, int zero_pad);
} dw_fns;

static const dw_fns dw_fns_portable = {8, dw_split_portable, dw_fwd_portable,
                                       dw_fwd_s2d_portable, dw_dx_s2_portable,
                                       dw_wgrad_portable, dw_plane_sum_portable,
                                       dw_pad_plane_portable};
#if defined(FER_CPU_HAVE_AVX2)
static const dw_fns dw_fns_avx2 = {8, dw_split_avx2, dw_fwd_avx2, dw_fwd_s2d_avx2,
                                   dw_dx_s2_avx2, dw_wgrad_avx2,
                                   dw_plane_sum_avx2, dw_pad_plane_avx2};
#endif

#if defined(FER_CPU_HAVE_AVX512)
static const dw_fns dw_fns_avx512 = {16, dw_split_avx512, dw_fwd_avx512, dw_fwd_s2d_avx512,
                                     dw_dx_s2_avx512,
                                     dw_wgrad_avx512, dw_plane_sum_avx512,
                                     dw_pad_plane_avx512};
#endif

/* The kernels of the backend's kernel set: portable, or AVX2 (ymm) for the avx2 and avx512
 * sets. The 16-lane (zmm) build of the same kernels measured slower than the ymm one on the
 * Zen 5 this was tuned on (planes of 12 and 24 columns leave a zmm a quarter empty, and its
 * partial stores cost more than the lanes save; bench/RESULTS.md), so the avx512 set takes it
 * only with FER_CPU_DW_ZMM=1 (tests/backend runs that too). */
static const dw_fns *dw_pick(const cpu_ctx *c)
{
#if defined(FER_CPU_HAVE_AVX512)
    if (c->k == &cpu_kernels_avx512) {
        const char *zmm = getenv("FER_CPU_DW_ZMM");
        if (zmm && strcmp(zmm, "1") == 0)
            return &dw_fns_avx512;
    }
#endif
#if defined(FER_CPU_HAVE_AVX2)
    if (c->k != &cpu_kernels_portable)
        return &dw_fns_avx2;
#else
    (void)c;
#endif
    return &dw_fns_portable;
}

int cpu_depthwise_supported(const fer_conv2d_args *a)
{
    return a->groups == a->in_c && (a->k == 3 || a->k == 5) && (a->stride == 1 || a->stride == 2) &&
           a->pad >= 0 && a->pad <= a->k - 1 && a->out_h > 0 && a->out_w > 0;
}

int cpu_depthwise_dx_supported(const fer_conv2d_args *a)
{
    return cpu_depthwise_supported(a) && a->out_c == a->in_c;
}

/* rows_blk must match dw_fwd's choice (cpu_dw_impl.h): 4 rows for 3x3 stride 1, else 2 */
static void dw_geom_init(dw_geom *g, int vw, int k, int s, int pad, int in_h, int in_w, int out_h,
                         int out_w)
{
    g->k = k, g->s = s, g->pad = pad;
    g->in_h = in_h, g->in_w = in_w, g->out_h = out_h, g->out_w = out_w;
    g->vw = vw;
    g->ovec = (out_w + vw - 1) / vw;
    g->rows_blk = k == 3 && s == 1 ? 4 : 2;
    g->out_rows = (out_h + g->rows_blk - 1) / g->rows_blk * g->rows_blk;
    g->qw = g->ovec * vw + (k - 1) / s;
    g->qrows = (g->out_rows - 1) * s + k;
}

static size_t split_floats(const dw_geom *g)
{
    return (size_t)g->qrows * g->s * g->qw;
}

static size_t round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

/* Each worker's scratch starts with a 16-float header whose first float says whether the
 * worker has zeroed its buffers' padding in this call (the caller clears it). */
#define DW_HEADER 16

/* Image groups of the weight gradient (at most; fewer for smaller batches). A constant, not the
 * thread count: the partial sums, and so the results, must not depend on the split. */
#define DW_WGRAD_GROUPS 16

typedef struct dw_job {
    const fer_conv2d_args *a;
    const dw_fns *f;
    dw_geom g;  /* the layer */
    dw_geom gt; /* stride-1 input gradient as a forward over dy */
    dw_geom gp; /* stride-2 forward: the plainly padded plane (stride-1 split layout) */
    int mult;   /* output channels per input channel */
    int planes_per_task, n_planes;
    size_t scratch_floats; /* per worker */
    float *scratch;
    int dx_qvec; /* stride-2 input gradient: vector pairs per dx row (2 * vw columns each) */
    size_t dyw, dy_rows;
    size_t dx_off; /* input gradient scratch within a worker's */
    int fused;     /* input gradient inside the weight gradient's tasks */
    int share_dy;  /* fused at stride 1 with gt's split layout equal to g's: the weight
                    * gradient reads dy from the input gradient's split copy (one copy less) */
    int dx_zmm;    /* stride-1 input gradient by dw3_rows_zmm straight from the dy plane */
    int w_zmm;     /* weight and bias gradients by dw3_wgrad_zmm */
#if defined(FER_DW3_ROWS_ZMM)
    dw3z_geom gz, gw; /* their geometries */
#endif
    /* weight gradient: image groups, channels per task, channel blocks, and the groups' partial
     * sums [group][out_c][k*k taps + bias] */
    int img_groups, imgs_per_group, ch_per_task, ch_blocks;
    double *partial;
    const float *x, *w, *bias, *dy, *wflip;
    float *y, *dx, *dw, *dbias;
} dw_job;

/* Planes per task: about 64k floats each (`plane`: the floats of a plane the caller counts),
 * but at least 4 tasks per thread when there are enough planes. The pool's cost per task is
 * large next to a 12x12 or 24x24 plane (tasks of 4k outputs ran slower on 2 threads than on
 * 1). Every plane is computed by one task in the
 * same way whatever the split, so results do not depend on it. */
static int planes_per_task(size_t plane, int n_planes, int threads)
{
    size_t p = 65536 / (plane ? plane : 1);
    const size_t spread = ((size_t)n_planes + 4 * (size_t)threads - 1) / (4 * (size_t)threads);
    if (p > spread)
        p = spread;
    return p < 1 ? 1 : p > 512 ? 512 : (int)p;
}

/* The worker's buffers (after its header) in *buf; returns 1 the first time in this call, when
 * the buffers' padding still has to be zeroed. */
static int worker_scratch(const dw_job *j, int worker, float **buf)
{
    float *base = j->scratch + (size_t)worker * j->scratch_floats;
    const int first = base[0] == 0.0f;
    base[0] = 1.0f;
    *buf = base + DW_HEADER;
    return first;
}

static void clear_headers(dw_job *j, size_t workers)
{
    for (size_t i = 0; i < workers; i++)
        j->scratch[i * j->scratch_floats] = 0.0f;
}

static void dw_fwd_task(void *ctx, int task, int worker)
{
    const dw_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    float *xq;
    int zero = worker_scratch(j, worker, &xq);
    float *tmp = xq + round16(a->stride == 2 ? split_floats(&j->gp) : split_floats(&j->g));
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const int p_end = (task + 1) * j->planes_per_task < j->n_planes
                          ? (task + 1) * j->planes_per_task
                          : j->n_planes;
    for (int p = task * j->planes_per_task; p < p_end; p++) {
        const int n = p / a->out_c, oc = p % a->out_c, ic = oc / j->mult;
        const float *xs = j->x + ((size_t)n * a->in_c + ic) * in_plane;
        const float *wk = j->w + (size_t)oc * a->k * a->k;
        const float bk = j->bias ? j->bias[oc] : 0.0f;
        if (a->stride == 2) {
            j->f->split(&j->gp, xs, xq, zero);
            j->f->fwd_s2d(&j->gp, xq, wk, bk, j->y + (size_t)p * out_plane, tmp);
        } else {
            j->f->split(&j->g, xs, xq, zero);
            j->f->fwd(&j->g, xq, wk, bk, j->y + (size_t)p * out_plane, tmp);
        }
        zero = 0;
    }
}

/* dx plane p (image n, channel c; multiplier 1) with the worker's dx scratch:
 * stride 1, the forward of the dy plane with the rotated kernel; stride 2, dy copied with
 * M = (k-1)/2 zero rows and columns before it, then gathered */
static void dx_plane(const dw_job *j, int p, float *scr, int zero)
{
    const fer_conv2d_args *a = j->a;
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const int c = p % a->in_c;
    const float *dys = j->dy + (size_t)p * out_plane;
#if defined(FER_DW3_ROWS_ZMM)
    if (j->dx_zmm) {
        dw3_rows_zmm(&j->gz, dys, a->out_h, a->out_w, 1, 2 - a->pad, j->wflip + (size_t)c * 9,
                     0.0f, j->dx + (size_t)p * in_plane, a->in_h, a->in_w,
                     (__m512 *)(void *)scr);
        return;
    }
#endif
    if (a->stride == 1) {
        j->f->split(&j->gt, dys, scr, zero);
        j->f->fwd(&j->gt, scr, j->wflip + (size_t)c * a->k * a->k, 0.0f,
                  j->dx + (size_t)p * in_plane, scr + round16(split_floats(&j->gt)));
        return;
    }
    const size_t M = (size_t)(a->k - 1) / 2;
    const size_t rows = j->dy_rows - M < (size_t)a->out_h ? j->dy_rows - M : (size_t)a->out_h;
    const size_t cols = j->dyw - M < (size_t)a->out_w ? j->dyw - M : (size_t)a->out_w;
    j->f->pad_plane(scr, j->dyw, j->dy_rows, dys, (size_t)a->out_w, rows, cols, M, zero);
    j->f->dx_s2(&j->g, scr, j->dyw, j->w + (size_t)c * a->k * a->k, j->dx + (size_t)p * in_plane,
                scr + round16(j->dy_rows * j->dyw), j->dx_qvec);
}

static void dw_dx_task(void *ctx, int task, int worker)
{
    const dw_job *j = ctx;
    float *scr;
    int zero = worker_scratch(j, worker, &scr);
    scr += j->dx_off;
    const int p_end = (task + 1) * j->planes_per_task < j->n_planes
                          ? (task + 1) * j->planes_per_task
                          : j->n_planes;
    for (int p = task * j->planes_per_task; p < p_end; p++, zero = 0)
        dx_plane(j, p, scr, zero);
}

/* The weight (and bias) gradient over image groups: task (group gi, channel block) walks its
 * images in order and, per image, its channels in memory order (consecutive planes, which the
 * hardware prefetchers follow), adding each plane's float tap sums in double to the group's
 * partial sums of that channel. The groups' partials are added in group order at the end
 * (dw_wgrad_reduce). The image groups depend on the batch alone (DW_WGRAD_GROUPS), never on the
 * thread count, so the results do not either. With j->fused, the input gradient of each plane
 * (multiplier 1) follows its weight gradient while dy is still in cache. */
static void dw_wgrad_task(void *ctx, int task, int worker)
{
    const dw_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const int KK = a->k * a->k, ovw = j->g.ovec * j->g.vw;
    const int gi = task / j->ch_blocks, cb = task % j->ch_blocks;
    const int n0 = gi * j->imgs_per_group;
    const int n1 = n0 + j->imgs_per_group < a->n ? n0 + j->imgs_per_group : a->n;
    const int c0 = cb * j->ch_per_task;
    const int c1 = c0 + j->ch_per_task < a->out_c ? c0 + j->ch_per_task : a->out_c;
    float *xq;
    int zero = worker_scratch(j, worker, &xq);
    float *dyq = xq + round16(split_floats(&j->g));
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    double *part = j->partial + ((size_t)gi * a->out_c) * (KK + 1);
    memset(part + (size_t)c0 * (KK + 1), 0, (size_t)(c1 - c0) * (KK + 1) * sizeof *part);
    float tap[25];
    float *dxs = xq + j->dx_off; /* the input gradient's scratch */
    for (int n = n0; n < n1; n++)
        for (int oc = c0; oc < c1; oc++, zero = 0) {
            double *acc = part + (size_t)oc * (KK + 1);
            const int p = n * a->out_c + oc;
            const float *dys = j->dy + (size_t)p * out_plane;
#if defined(FER_DW3_ROWS_ZMM)
            if (j->w_zmm) {
                float bsum;
                dw3_wgrad_zmm(&j->gw, j->x + ((size_t)n * a->in_c + oc / j->mult) * in_plane,
                              a->in_h, a->in_w, a->stride, a->pad, dys, a->out_h, a->out_w,
                              (__m512 *)(void *)xq, tap, &bsum);
                if (j->dw)
                    for (int t = 0; t < KK; t++)
                        acc[t] += tap[t];
                if (j->dbias)
                    acc[KK] += bsum;
                if (j->fused)
                    dx_plane(j, p, dxs, zero);
                continue;
            }
#endif
            const float *dyr = dyq;
            size_t dy_stride = (size_t)ovw;
            if (j->share_dy) {
                /* dy at (pad, pad) of its split copy, zeros around it */
                j->f->split(&j->gt, dys, dxs, zero);
                dy_stride = (size_t)j->gt.qw;
                dyr = dxs + (size_t)j->gt.pad * dy_stride + (size_t)j->gt.pad;
            } else {
                j->f->pad_plane(dyq, (size_t)ovw, (size_t)j->g.out_rows, dys, (size_t)a->out_w,
                                (size_t)a->out_h, (size_t)a->out_w, 0, zero);
            }
            if (j->dw) {
                const int ic = oc / j->mult;
                j->f->split(&j->g, j->x + ((size_t)n * a->in_c + ic) * in_plane, xq, zero);
                j->f->wgrad(&j->g, xq, dyr, dy_stride, tap);
                for (int t = 0; t < KK; t++)
                    acc[t] += tap[t];
            }
            if (j->dbias)
                acc[KK] += j->f->plane_sum(&j->g, dyr, dy_stride);
            if (j->share_dy)
                j->f->fwd(&j->gt, dxs, j->wflip + (size_t)oc * KK, 0.0f,
                          j->dx + (size_t)p * in_plane, dxs + round16(split_floats(&j->gt)));
            else if (j->fused)
                dx_plane(j, p, dxs, zero);
        }
}

/* dw and dbias: the image groups' partial sums added in group order */
static void dw_wgrad_reduce(const dw_job *j)
{
    const fer_conv2d_args *a = j->a;
    const int KK = a->k * a->k;
    for (int oc = 0; oc < a->out_c; oc++)
        for (int t = 0; t <= KK; t++) {
            double s = 0.0;
            for (int gi = 0; gi < j->img_groups; gi++)
                s += j->partial[((size_t)gi * a->out_c + oc) * (KK + 1) + t];
            if (t < KK && j->dw)
                j->dw[(size_t)oc * KK + t] = (float)s;
            else if (t == KK && j->dbias)
                j->dbias[oc] = (float)s;
        }
}

static void dw_job_init(dw_job *j, cpu_ctx *c, const fer_conv2d_args *a)
{
    memset(j, 0, sizeof *j);
    j->a = a;
    j->f = dw_pick(c);
    j->mult = a->out_c / a->in_c;
    dw_geom_init(&j->g, j->f->vw, a->k, a->stride, a->pad, a->in_h, a->in_w, a->out_h, a->out_w);
}

/* scratch: workers * per floats from the op workspace */
static fer_status dw_scratch(dw_job *j, cpu_ctx *c, size_t per)
{
    const size_t workers = (size_t)fer_threadpool_size(c->pool);
    j->scratch_floats = DW_HEADER + round16(per);
    j->scratch = cpu_workspace(c, j->scratch_floats * workers);
    if (!j->scratch)
        return FER_ERR_NOMEM;
    clear_headers(j, workers);
    return FER_OK;
}

/* Forward of 3x3 depthwise layers (multiplier 1) on planes at most this wide: per (image, block
 * of the set's wino_cb channels), the band blocked into channel vectors as the Winograd path
 * does, one vector per output position (cpu_wino_impl.h dw3_blocked) */
#define DW_BLOCKED_MAX_W 16

typedef struct dwb_job {
    const cpu_kernels *k;
    const fer_conv2d_args *a;
    const float *x, *w, *bias;
    float *y, *scratch;
    size_t band_floats;
    int rows, cols, cblocks, n_items, per_task;
} dwb_job;

static void dwb_task(void *ctx, int task, int worker)
{
    const dwb_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const int cb = j->k->wino_cb;
    float *xb = j->scratch + (size_t)worker * j->band_floats;
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const int end = (task + 1) * j->per_task < j->n_items ? (task + 1) * j->per_task : j->n_items;
    for (int it = task * j->per_task; it < end; it++) {
        const int n = it / j->cblocks, c0 = it % j->cblocks * cb;
        const int n_co = a->in_c - c0 < cb ? a->in_c - c0 : cb;
        j->k->wino_block(j->x + (size_t)n * a->in_c * in_plane, a->in_c, a->in_h, a->in_w, c0,
                         -a->pad, j->rows, -a->pad, j->cols, xb);
        j->k->dw3_blocked(xb, j->cols, a->stride, j->w + (size_t)c0 * 9,
                          j->bias ? j->bias + c0 : NULL, n_co,
                          j->y + ((size_t)n * a->out_c + c0) * out_plane, out_plane, a->out_h,
                          a->out_w);
    }
}

static fer_status dw_forward_blocked(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                     const float *w, const float *bias, float *y)
{
    dwb_job j = {c->k, a, x, w, bias, y, NULL, 0, 0, 0, 0, 0, 0};
    const int cb = c->k->wino_cb;
    j.rows = (a->out_h - 1) * a->stride + 3;
    j.cols = (a->out_w - 1) * a->stride + 3;
    j.band_floats = round16((size_t)j.rows * j.cols * cb);
    j.scratch = cpu_workspace(c, j.band_floats * (size_t)fer_threadpool_size(c->pool));
    if (!j.scratch)
        return FER_ERR_NOMEM;
    j.cblocks = (a->in_c + cb - 1) / cb;
    j.n_items = a->n * j.cblocks;
    j.per_task = planes_per_task(((size_t)a->in_h * a->in_w + (size_t)a->out_h * a->out_w) * cb,
                                 j.n_items, c->threads);
    cpu_parallel(c, (j.n_items + j.per_task - 1) / j.per_task, dwb_task, &j);
    return FER_OK;
}

#if defined(FER_DW3_ROWS_ZMM)
/* A 3x3 pass (dw3_rows_zmm's geometry) whose input rows fit one zmm at stride 1 or two at
 * stride 2, on the avx512 set */
static int dw3z_fits(const cpu_ctx *c, int k, int stride, int pad, int in_w, int out_w)
{
    return c->k == &cpu_kernels_avx512 && k == 3 && pad <= 2 && out_w <= 16 &&
           in_w <= 16 * stride;
}

static int dw_rows_zmm_fits(const cpu_ctx *c, const fer_conv2d_args *a)
{
    return dw3z_fits(c, a->k, a->stride, a->pad, a->in_w, a->out_w);
}

typedef struct dwz_job {
    const fer_conv2d_args *a;
    const float *x, *w, *bias;
    float *y, *scratch;
    size_t scratch_floats;
    int mult, per_task, n_planes;
    dw3z_geom g;
} dwz_job;

static void dwz_task(void *ctx, int task, int worker)
{
    const dwz_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    __m512 *t = (__m512 *)(void *)(j->scratch + (size_t)worker * j->scratch_floats);
    const size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    const int end = (task + 1) * j->per_task < j->n_planes ? (task + 1) * j->per_task
                                                          : j->n_planes;
    for (int p = task * j->per_task; p < end; p++) {
        const int n = p / a->out_c, oc = p % a->out_c, ic = oc / j->mult;
        dw3_rows_zmm(&j->g, j->x + ((size_t)n * a->in_c + ic) * in_plane, a->in_h, a->in_w,
                     a->stride, a->pad, j->w + (size_t)oc * 9, j->bias ? j->bias[oc] : 0.0f,
                     j->y + (size_t)p * out_plane, a->out_h, a->out_w, t);
    }
}

static fer_status dw_forward_rows_zmm(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                      const float *w, const float *bias, float *y)
{
    dwz_job j;
    memset(&j, 0, sizeof j);
    j.a = a, j.x = x, j.w = w, j.bias = bias, j.y = y, j.n_planes = a->n * a->out_c;
    dw3z_geom_init(&j.g, a->in_w, a->stride, a->pad, a->out_w);
    j.mult = a->out_c / a->in_c;
    /* per worker, 64-byte aligned as the workspace (a multiple of 16 floats) */
    j.scratch_floats = dw3z_taps_floats(a->in_h);
    j.scratch = cpu_workspace(c, j.scratch_floats * (size_t)fer_threadpool_size(c->pool));
    if (!j.scratch)
        return FER_ERR_NOMEM;
    j.per_task = planes_per_task((size_t)a->in_h * a->in_w + (size_t)a->out_h * a->out_w,
                                 j.n_planes, c->threads);
    cpu_parallel(c, (j.n_planes + j.per_task - 1) / j.per_task, dwz_task, &j);
    return FER_OK;
}
#endif

fer_status cpu_depthwise_forward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                 const float *w, const float *bias, float *y)
{
#if defined(FER_DW3_ROWS_ZMM)
    if (dw_rows_zmm_fits(c, a))
        return dw_forward_rows_zmm(c, a, x, w, bias, y);
#endif
    if (a->k == 3 && a->out_c == a->in_c && a->out_w <= DW_BLOCKED_MAX_W && c->k->dw3_blocked)
        return dw_forward_blocked(c, a, x, w, bias, y);
    dw_job j;
    dw_job_init(&j, c, a);
    /* stride 2: the padded plane read by dw_fwd_s2d, 2 * ovec vectors + k - 1 columns a row */
    j.gp = j.g;
    j.gp.s = 1;
    j.gp.qw = 2 * j.g.ovec * j.g.vw + a->k - 1;
    const size_t plane_floats = a->stride == 2 ? split_floats(&j.gp) : split_floats(&j.g);
    fer_status st = dw_scratch(&j, c, round16(plane_floats) + j.g.vw);
    if (st != FER_OK)
        return st;
    j.x = x, j.w = w, j.bias = bias, j.y = y;
    j.n_planes = a->n * a->out_c;
    /* sized by input and output floats: at stride 2 the split of the input costs more than
     * the output (64 planes of 24x24 -> 12x12 made 9 tasks for 2 threads by the output alone) */
    j.planes_per_task = planes_per_task((size_t)a->in_h * a->in_w + (size_t)a->out_h * a->out_w,
                                        j.n_planes, c->threads);
    cpu_parallel(c, (j.n_planes + j.planes_per_task - 1) / j.planes_per_task, dw_fwd_task, &j);
    return FER_OK;
}

fer_status cpu_depthwise_backward(cpu_ctx *c, const fer_conv2d_args *a, const float *x,
                                  const float *w, const float *dy, float *dx, float *dw,
                                  float *dbias)
{
    dw_job j;
    dw_job_init(&j, c, a);
    j.x = x, j.w = w, j.dy = dy, j.dx = dx, j.dw = dw, j.dbias = dbias;
    const int K = a->k, KK = K * K;
    const size_t workers = (size_t)fer_threadpool_size(c->pool);
    /* per worker: the weight gradient's split x and dy planes, then the input gradient's */
    size_t wgrad_floats = 0, dx_floats = 0;
    if (dw || dbias) {
        wgrad_floats =
            round16(split_floats(&j.g)) + round16((size_t)j.g.out_rows * j.g.ovec * j.g.vw);
#if defined(FER_DW3_ROWS_ZMM)
        if (dw_rows_zmm_fits(c, a)) {
            j.w_zmm = 1;
            dw3z_geom_init(&j.gw, a->in_w, a->stride, a->pad, a->out_w);
            wgrad_floats = dw3z_taps_floats(a->in_h);
        }
#endif
    }
    if (dx && a->stride == 1) {
        dw_geom_init(&j.gt, j.g.vw, K, 1, K - 1 - a->pad, a->out_h, a->out_w, a->in_h, a->in_w);
        dx_floats = round16(split_floats(&j.gt)) + j.g.vw;
#if defined(FER_DW3_ROWS_ZMM)
        /* the forward of dy with the rotated kernel and pad 2 - pad */
        if (dw3z_fits(c, K, 1, 2 - a->pad, a->out_w, a->in_w)) {
            j.dx_zmm = 1;
            dw3z_geom_init(&j.gz, a->out_w, 1, 2 - a->pad, a->in_w);
            dx_floats = dw3z_taps_floats(a->out_h);
        }
#endif
    } else if (dx) {
        /* cpu_dw_impl.h, dw_dx_s2_t: 2 * vw dx columns per vector pair */
        const int M = (K - 1) / 2, vw = j.g.vw;
        j.dx_qvec = (a->in_w + 2 * vw - 1) / (2 * vw);
        j.dyw = (size_t)j.dx_qvec * vw + M + (a->pad + 1) / 2;
        j.dy_rows = (size_t)(a->pad + a->in_h - 1) / 2 + M + 1;
        dx_floats = round16(j.dy_rows * j.dyw) + 2 * vw;
    }
    j.dx_off = wgrad_floats;
    j.scratch_floats = DW_HEADER + round16(wgrad_floats + dx_floats);
    if (dw || dbias) {
        j.img_groups = a->n < DW_WGRAD_GROUPS ? a->n : DW_WGRAD_GROUPS;
        j.imgs_per_group = (a->n + j.img_groups - 1) / j.img_groups;
        j.img_groups = (a->n + j.imgs_per_group - 1) / j.imgs_per_group;
        /* about planes_per_task planes per task, channel blocks of even size */
        const int ppt = planes_per_task((size_t)a->in_h * a->in_w + (size_t)a->out_h * a->out_w,
                                        a->n * a->out_c, c->threads);
        int per = ppt / j.imgs_per_group;
        per = per < 1 ? 1 : per > a->out_c ? a->out_c : per;
        j.ch_blocks = (a->out_c + per - 1) / per;
        j.ch_per_task = (a->out_c + j.ch_blocks - 1) / j.ch_blocks;
        j.ch_blocks = (a->out_c + j.ch_per_task - 1) / j.ch_per_task;
    }
    /* after the workers' scratch: the groups' partial sums (doubles), then the rotated kernels
     * of the stride-1 input gradient */
    const size_t part_floats =
        round16(2 * (size_t)j.img_groups * (size_t)a->out_c * (size_t)(KK + 1));
    j.scratch = cpu_workspace(c, j.scratch_floats * workers + part_floats + (size_t)a->in_c * KK);
    if (!j.scratch)
        return FER_ERR_NOMEM;
    clear_headers(&j, workers);
    j.partial = (double *)(void *)(j.scratch + j.scratch_floats * workers);
    if (dx && a->stride == 1) {
        float *wflip = j.scratch + j.scratch_floats * workers + part_floats;
        for (int ch = 0; ch < a->in_c; ch++)
            for (int t = 0; t < KK; t++)
                wflip[(size_t)ch * KK + t] = w[(size_t)ch * KK + (KK - 1 - t)];
        j.wflip = wflip;
    }
    if (dw || dbias) {
        j.fused = dx != NULL;
        j.share_dy = j.fused && a->stride == 1 && !j.dx_zmm && j.gt.pad == j.g.pad &&
                     j.gt.qw == j.g.qw && j.gt.qrows == j.g.qrows && j.gt.out_h == j.g.out_h &&
                     j.gt.out_w == j.g.out_w && j.gt.ovec == j.g.ovec;
        cpu_parallel(c, j.img_groups * j.ch_blocks, dw_wgrad_task, &j);
        dw_wgrad_reduce(&j);
    } else if (dx) {
        j.n_planes = a->n * a->in_c;
        j.planes_per_task = planes_per_task((size_t)a->in_h * a->in_w, j.n_planes, c->threads);
        cpu_parallel(c, (j.n_planes + j.planes_per_task - 1) / j.planes_per_task, dw_dx_task,
                     &j);
    }
    return FER_OK;
}
