/* conv2d on the CPU backend.
 *
 * 3x3 stride-1 layers with >= 8 channels go to Winograd (cpu_winograd.c). Other stride-1
 * convolutions (and SimpleCNN's first layer, 1 input channel) use "flat planes". A chunk of images is copied into per-worker scratch
 * where channel c is one plane and image n, row h, column w sits at flat index
 * (g + n*hp + h)*wp + w, with wp = W + g, hp = H + g; the g columns right of every row and the g
 * rows below every image are zero (g = max(pad, k-1-pad)). A tap (kh, kw) is then the constant
 * offset (kh-pad)*wp + (kw-pad), so
 *   - the forward pass is an implicit GEMM over row-aligned tiles (6 positions x 16 output
 *     channels) with no im2col; the tile is transposed into the NCHW output,
 *   - the input gradient is the same kernel over the zero-gapped output gradient with negated
 *     offsets and transposed weights,
 *   - the weight gradient is a dot product along the flat index (gaps are zero in dy).
 * Chunks are sized so their planes stay in L2; the chunk is packed and consumed by one task.
 * Weight-gradient partial sums live in a fixed number of slots reduced in order, so results do
 * not depend on the thread count.
 *
 * Stride 2 (ResNet downsampling, k >= 2) runs on the same tiles through phase planes: x is split
 * into its four (row parity, column parity) sub-planes, phase p = (ph, pw) holding
 * x[2r + ph][2q + pw] at grid position (r, q), laid out as four sets of in_c planes. Input row
 * 2*oh + kh - pad = 2*(oh + dh) + ph, so tap (kh, kw) reads phase (ph, pw) at the constant offset
 * dh*wp + dw from output position (oh, ow): the forward pass and the weight gradient are the
 * stride-1 code with other offsets (the weight-gradient tile takes any 3 taps, each by its own
 * offset). The input gradient of phase p is a
 * stride-1 tile pass over dy with p's taps (offsets negated), scattered back to every second
 * element of dx. This replaced im2col + SGEMM for these layers (bench/conv_kinds.sh); in bf16
 * mode too, where it stays FP32 and still beats the bf16 im2col GEMMs (bench/RESULTS.md).
 * Other groups == 1 convolutions (stride > 2, k > 7) go to cpu_conv_strided.c (im2col + SGEMM);
 * groups > 1 go to cpu_conv_grouped.c. */
#include <limits.h>
#include <string.h>

#include "../backend_ref.h"
#include "cpu_internal.h"
#include "cpu_pointwise.h"

#define MAX_K 7
#define MAX_KK (MAX_K * MAX_K)
#define FRONT 64               /* floats before flat index 0 of each plane (>= the gap g) */
#define CHUNK_BUDGET (96 * 1024) /* floats of scratch planes per chunk (~384 KiB, L2) */
/* The stride-2 backward takes 4 budgets: its phase grids are a quarter of the input, and a
 * weight-gradient pass over one image's grid is too short to pay for its reduction (measured,
 * bench/conv_kinds.sh). */
#define WGRAD_SPAN 1024        /* flat positions per weight-gradient pass: dy rows stay in L1 */
#define WGRAD_SLOTS 8

typedef struct flat_geom {
    int n, h, w;          /* images per chunk, input plane */
    int out_h, out_w, k, pad;
    int s;                /* stride: 1, or 2 (x as four phase planes per channel) */
    int gh, gw;           /* grid per image: the input (stride 1), else max(phase, output) */
    int g, wp, hp;        /* gap, padded row length, rows per image */
    size_t plane;         /* floats per plane (multiple of 16) */
    int offs_fwd[MAX_KK]; /* tap offsets of the forward pass (stride 2: into the tap's phase set) */
    int tap_phase[MAX_KK], tap_shift[MAX_KK]; /* stride 2: phase 2*ph + pw, dh*wp + dw */
    /* weight-gradient runs: the taps of one weight-gradient tile (up to 3) */
    int n_runs, run_len[MAX_KK], run_tap[MAX_KK][3];
} flat_geom;

/* Stride 1, or stride 2 with k >= 2 (1x1 stride 2 is cpu_pointwise.c's); pad <= k - 1. */
static int flat_supported(const fer_conv2d_args *a)
{
    if (a->k < 1 || a->k > MAX_K || a->pad < 0 || a->pad > a->k - 1)
        return 0;
    if (a->stride == 2)
        return a->k >= 2 && a->out_h == (a->in_h + 2 * a->pad - a->k) / 2 + 1 &&
               a->out_w == (a->in_w + 2 * a->pad - a->k) / 2 + 1;
    return a->stride == 1 && a->out_h == a->in_h + 2 * a->pad - a->k + 1 &&
           a->out_w == a->in_w + 2 * a->pad - a->k + 1;
}

static int floor_half(int e)
{
    return e >= 0 ? e / 2 : -((1 - e) / 2);
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Gap and grid of the flat layout. Stride 2: every read of a valid output (forward, weight
 * gradient: phase row oh + dh) and of a valid dx phase element (input gradient: dy row r - dh)
 * must land in the grid or in a zero gap, never in a neighbouring row's data. */
static void flat_grid(const fer_conv2d_args *a, int *g, int *gh, int *gw)
{
    if (a->stride == 1) {
        *g = a->pad > a->k - 1 - a->pad ? a->pad : a->k - 1 - a->pad;
        *gh = a->in_h;
        *gw = a->in_w;
        return;
    }
    int hh = (a->in_h + 1) / 2, hw = (a->in_w + 1) / 2;
    int dmin = floor_half(-a->pad), dmax = floor_half(a->k - 1 - a->pad);
    *gh = imax(hh, a->out_h);
    *gw = imax(hw, a->out_w);
    int gap = imax(imax(1, -dmin), dmax);
    gap = imax(gap, imax(a->out_h + dmax - *gh, hh - dmin - *gh));
    *g = imax(gap, imax(a->out_w + dmax - *gw, hw - dmin - *gw));
}

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static void add_run(flat_geom *gm, const int *taps, int n)
{
    for (int i = 0; i < n; i += 3) {
        int len = n - i < 3 ? n - i : 3;
        gm->run_len[gm->n_runs] = len;
        for (int t = 0; t < len; t++)
            gm->run_tap[gm->n_runs][t] = taps[i + t];
        gm->n_runs++;
    }
}

static void flat_geom_init(flat_geom *gm, const fer_conv2d_args *a, int imgs)
{
    memset(gm, 0, sizeof *gm);
    gm->n = imgs;
    gm->h = a->in_h;
    gm->w = a->in_w;
    gm->out_h = a->out_h;
    gm->out_w = a->out_w;
    gm->k = a->k;
    gm->pad = a->pad;
    gm->s = a->stride;
    flat_grid(a, &gm->g, &gm->gh, &gm->gw);
    gm->wp = gm->gw + gm->g;
    gm->hp = gm->gh + gm->g;
    size_t rows = (size_t)gm->g + (size_t)imgs * gm->hp;
    /* tail: a tile or a weight-gradient pass may overrun by a row plus the largest tap offset */
    size_t tail = (size_t)(a->k + 1) * (gm->wp + 1) + 64;
    gm->plane = round_up(FRONT + rows * gm->wp + tail, 16);
    const int K = a->k;
    int taps[MAX_KK];
    for (int kh = 0; kh < K; kh++)
        for (int kw = 0; kw < K; kw++) {
            int t = kh * K + kw;
            taps[t] = t;
            if (gm->s == 1) {
                gm->offs_fwd[t] = (kh - a->pad) * gm->wp + (kw - a->pad);
                continue;
            }
            int dh = floor_half(kh - a->pad), ph = kh - a->pad - 2 * dh;
            int dw = floor_half(kw - a->pad), pw = kw - a->pad - 2 * dw;
            gm->tap_phase[t] = 2 * ph + pw;
            gm->tap_shift[t] = dh * gm->wp + dw;
            /* the caller checked that 4 * in_c planes fit an int offset */
            gm->offs_fwd[t] =
                (int)((size_t)gm->tap_phase[t] * a->in_c * gm->plane) + gm->tap_shift[t];
        }
    add_run(gm, taps, K * K); /* any 3 taps fill a weight-gradient tile */
}

/* Images per chunk so that `planes` planes of the chunk fit `budget` floats (stride 2: planes
 * of the phase grid). */
static int chunk_images(const fer_conv2d_args *a, int planes, size_t budget)
{
    int g, gh, gw;
    flat_grid(a, &g, &gh, &gw);
    size_t per_img = (size_t)planes * (size_t)(gh + g) * (size_t)(gw + g);
    size_t imgs = per_img ? budget / per_img : 1;
    if (imgs < 1)
        imgs = 1;
    if (imgs > (size_t)a->n)
        imgs = (size_t)a->n;
    return (int)imgs;
}

static inline size_t flat_at(const flat_geom *gm, int n, int h, int w)
{
    return ((size_t)gm->g + (size_t)n * gm->hp + (size_t)h) * gm->wp + (size_t)w;
}

/* Copies images [n0, n0+n_imgs) of a dense [N][c][src_rows][src_cols] tensor into c_pad planes
 * (zero gaps, zero planes past c): grid position (r, q) holds element (r0 + step*r, q0 + step*q)
 * (step 1, r0 = q0 = 0: the tensor itself; step 2: one phase of it). */
static void pack_planes(const flat_geom *gm, const float *src, int c, int c_pad, int src_rows,
                        int src_cols, int step, int r0, int q0, int n0, int n_imgs, float *dst)
{
    size_t src_plane = (size_t)src_rows * src_cols;
    int rows = (src_rows - r0 + step - 1) / step, cols = (src_cols - q0 + step - 1) / step;
    for (int ci = 0; ci < c_pad; ci++) {
        float *plane = dst + (size_t)ci * gm->plane;
        if (ci >= c) {
            memset(plane, 0, gm->plane * sizeof(float));
            continue;
        }
        float *d = plane + FRONT + flat_at(gm, 0, 0, 0);
        memset(plane, 0, (FRONT + flat_at(gm, 0, 0, 0)) * sizeof(float)); /* front + top gap */
        for (int n = 0; n < n_imgs; n++) {
            const float *img = src + ((size_t)(n0 + n) * c + ci) * src_plane;
            for (int h = 0; h < rows; h++) {
                if (cols > 0) { /* no pointer formed past a row that has no element */
                    const float *s = img + (size_t)(r0 + step * h) * src_cols + q0;
                    if (step == 1)
                        memcpy(d, s, (size_t)cols * sizeof(float));
                    else
                        for (int q = 0; q < cols; q++)
                            d[q] = s[(size_t)q * step];
                }
                memset(d + cols, 0, (size_t)(gm->wp - cols) * sizeof(float));
                d += gm->wp;
            }
            memset(d, 0, (size_t)(gm->hp - rows) * gm->wp * sizeof(float));
            d += (size_t)(gm->hp - rows) * gm->wp;
        }
        memset(d, 0, (size_t)(plane + gm->plane - d) * sizeof(float)); /* tail */
    }
}

/* A dense [N][c][rows][cols] tensor (dy, or x at stride 1) into c_pad planes of the grid. */
static void pack_chunk(const flat_geom *gm, const float *src, int c, int c_pad, int rows,
                       int cols, int n0, int n_imgs, float *dst)
{
    pack_planes(gm, src, c, c_pad, rows, cols, 1, 0, 0, n0, n_imgs, dst);
}

/* x of a chunk: in_c planes, or at stride 2 four phase sets of in_c planes (phase 2*ph + pw) */
static void pack_x(const flat_geom *gm, const fer_conv2d_args *a, const float *x, int n0,
                   int n_imgs, float *dst)
{
    if (gm->s == 1) {
        pack_chunk(gm, x, a->in_c, a->in_c, a->in_h, a->in_w, n0, n_imgs, dst);
        return;
    }
    for (int p = 0; p < 4; p++)
        pack_planes(gm, x, a->in_c, a->in_c, a->in_h, a->in_w, 2, p >> 1, p & 1, n0, n_imgs,
                    dst + (size_t)p * a->in_c * gm->plane);
}

/* Runs the tile kernel over every row-aligned tile of a packed chunk for output channels
 * [co0, co1): out = dense [N][c_out][rows][cols], chunk images start at n0. */
static void conv_chunk(const cpu_kernels *k, const flat_geom *gm, const float *planes, int c_in,
                       const int *offs, int kk, const float *wpk, const float *bias, int c_out,
                       int co0, int co1, int rows, int cols, int n0, int n_imgs, float *out)
{
    const int CO = k->conv_co;
    size_t out_plane = (size_t)rows * cols;
    int tiles_per_row = (cols + CPU_CONV_PX - 1) / CPU_CONV_PX;
    const float *base = planes + FRONT;
    for (int cb = co0; cb < co1; cb += CO) {
        int n_co = c_out - cb < CO ? c_out - cb : CO;
        const float *w = wpk + (size_t)(cb / CO) * c_in * kk * CO;
        const float *bb = bias ? bias + cb : NULL;
        for (int n = 0; n < n_imgs; n++) {
            float *yo = out + ((size_t)(n0 + n) * c_out + cb) * out_plane;
            for (int h = 0; h < rows; h++) {
                const float *xr = base + flat_at(gm, n, h, 0);
                float *yr = yo + (size_t)h * cols;
                int t = 0;
                if (k->conv_tile12) /* whole 12-position spans only: no reads past the row */
                    for (; (t + 2) * CPU_CONV_PX <= cols; t += 2)
                        k->conv_tile12(xr + t * CPU_CONV_PX, gm->plane, c_in, offs, kk, w, bb,
                                       yr + t * CPU_CONV_PX, out_plane, n_co);
                for (; t < tiles_per_row; t++) {
                    int c0 = t * CPU_CONV_PX;
                    int n_px = cols - c0 < CPU_CONV_PX ? cols - c0 : CPU_CONV_PX;
                    k->conv_tile(xr + c0, gm->plane, c_in, offs, kk, w, bb, yr + c0, out_plane,
                                 n_co, n_px);
                }
            }
        }
    }
}

/* Forward weights [c_out][c_in][kk] into [blk][c_in][kk][CO] (zero columns past c_out),
 * CO = the kernel set's conv_co.
 * Blocked so the 16 read streams and the written block stay in L1. */
static void pack_weights_fwd(const float *w, int c_out, int c_in, int kk, int CO, float *dst)
{
    int blocks = (c_out + CO - 1) / CO;
    size_t row = (size_t)c_in * kk, per_blk = row * CO;
    for (int blk = 0; blk < blocks; blk++) {
        float *d = dst + (size_t)blk * per_blk;
        int n_co = c_out - blk * CO < CO ? c_out - blk * CO : CO;
        if (n_co < CO)
            memset(d, 0, per_blk * sizeof(float));
        for (size_t i0 = 0; i0 < row; i0 += 64) {
            size_t i1 = i0 + 64 < row ? i0 + 64 : row;
            for (int r = 0; r < n_co; r++) {
                const float *s = w + (size_t)(blk * CO + r) * row;
                for (size_t i = i0; i < i1; i++)
                    d[i * CO + r] = s[i];
            }
        }
    }
}

typedef struct pack_ctx {
    const float *w;
    int c_out, c_in, kk, co;
} pack_ctx;

static void pack_fwd_cb(const void *ctx, float *dst)
{
    const pack_ctx *p = ctx;
    pack_weights_fwd(p->w, p->c_out, p->c_in, p->kk, p->co, dst);
}

/* Input-gradient weights of the taps taps[0..n_taps) (of kk): block over c_in, reduce over
 * c_out: [blk][c_out][n_taps][CO]. */
static void pack_weights_bwd(const float *w, int c_out, int c_in, int kk, const int *taps,
                             int n_taps, int CO, float *dst)
{
    int blocks = (c_in + CO - 1) / CO;
    size_t per_blk = (size_t)c_out * n_taps * CO;
    if (c_in % CO)
        memset(dst + (size_t)(blocks - 1) * per_blk, 0, per_blk * sizeof(float));
    for (int co = 0; co < c_out; co++)
        for (int ci = 0; ci < c_in; ci++) {
            const float *s = w + ((size_t)co * c_in + ci) * kk;
            float *d = dst + (size_t)(ci / CO) * per_blk + (size_t)co * n_taps * CO +
                       ci % CO;
            for (int t = 0; t < n_taps; t++)
                d[t * CO] = s[taps[t]];
        }
}

/* Planes that x of a chunk takes: in_c, or four phase sets at stride 2. */
static int x_planes(const fer_conv2d_args *a)
{
    return (a->stride == 2 ? 4 : 1) * a->in_c;
}

/* Sets up the geometry for chunks sized for `planes` planes per image; 0 when a tap offset into
 * the phase sets would not fit an int (huge layers: the caller takes im2col + SGEMM). */
static int flat_setup(flat_geom *gm, const fer_conv2d_args *a, int planes, size_t budget)
{
    if (!flat_supported(a))
        return 0;
    flat_geom_init(gm, a, chunk_images(a, planes, budget));
    return gm->s == 1 || (size_t)x_planes(a) * gm->plane + FRONT < (size_t)INT_MAX;
}

/* ---- forward ---------------------------------------------------------------------------- */

typedef struct fwd_job {
    const cpu_kernels *k;
    const fer_conv2d_args *a;
    const flat_geom *gm;
    const float *x, *wpk, *bias;
    float *y, *scratch; /* scratch: per worker, in_c planes */
    int kk, n_chunks, groups, blocks_per_group;
} fwd_job;

static void fwd_task(void *ctx, int task, int worker)
{
    const fwd_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    int chunk = task / j->groups, grp = task % j->groups;
    int n0 = chunk * j->gm->n;
    int n_imgs = a->n - n0 < j->gm->n ? a->n - n0 : j->gm->n;
    int co0 = grp * j->blocks_per_group * j->k->conv_co;
    int co1 = co0 + j->blocks_per_group * j->k->conv_co;
    if (co1 > a->out_c)
        co1 = a->out_c;
    if (co0 >= co1)
        return;
    float *planes = j->scratch + (size_t)worker * x_planes(a) * j->gm->plane;
    pack_x(j->gm, a, j->x, n0, n_imgs, planes);
    conv_chunk(j->k, j->gm, planes, a->in_c, j->gm->offs_fwd, j->kk, j->wpk, j->bias, a->out_c,
               co0, co1, a->out_h, a->out_w, n0, n_imgs, j->y);
}

fer_status cpu_conv2d_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                              const float *w, const float *bias, float *y)
{
    cpu_ctx *cx = cpu_of(b);
    if (a->groups != 1)
        return cpu_conv2d_grouped_forward(b, a, x, w, bias, y);
    if (cpu_wino_supported(a) && cx->wino)
        return cpu_wino_conv(cx, a, x, w, 0, a->has_bias ? bias : NULL, y);
    if (cpu_pointwise_supported(a))
        return cpu_pointwise_forward(cx, a, x, w, a->has_bias ? bias : NULL, y);
    flat_geom gm;
    if (!flat_setup(&gm, a, x_planes(a), CHUNK_BUDGET))
        return cpu_conv_strided_supported(a)
                   ? cpu_conv_strided_forward(cx, a, x, w, a->has_bias ? bias : NULL, y)
                   : fer_ref_conv2d_forward(b, a, x, w, bias, y);
    int kk = a->k * a->k, CO = cx->k->conv_co;
    int blocks = (a->out_c + CO - 1) / CO;
    size_t w_floats = round_up((size_t)blocks * CO * a->in_c * kk, 16);
    size_t scratch = (size_t)x_planes(a) * gm.plane;
    pack_ctx pc = {w, a->out_c, a->in_c, kk, CO};
    /* the kind tells the block width apart: a packing never serves another width's tiles */
    const float *wpk = cpu_wcache_get(cx, w, (size_t)a->out_c * a->in_c * kk, a->weights_gen, 1 + 100 * CO,
                                      a->out_c, a->in_c, kk, w_floats, pack_fwd_cb, &pc);
    float *ws = cpu_workspace(cx, scratch * (size_t)cx->threads);
    if (!ws || !wpk)
        return FER_ERR_NOMEM;
    fwd_job j = {cx->k, a, &gm, x, wpk, a->has_bias ? bias : NULL, y, ws, kk,
                 (a->n + gm.n - 1) / gm.n, 1, blocks};
    /* few chunks (small batches): split output channels too, so every thread has work */
    if (cx->threads > 1 && j.n_chunks < 4 * cx->threads) {
        int want = (4 * cx->threads + j.n_chunks - 1) / j.n_chunks;
        j.groups = want < blocks ? want : blocks;
        j.blocks_per_group = (blocks + j.groups - 1) / j.groups;
        j.groups = (blocks + j.blocks_per_group - 1) / j.blocks_per_group;
    }
    cpu_parallel(cx, j.n_chunks * j.groups, fwd_task, &j);
    return FER_OK;
}

/* ---- backward --------------------------------------------------------------------------- */

typedef struct bwd_job {
    const cpu_kernels *k;
    const fer_conv2d_args *a;
    const flat_geom *gm;
    const float *x, *dy;
    float *dx;
    float *partial;  /* [slot][c_out_pad][c_in][kk] */
    float *scratch;  /* per worker: x planes + c_out_pad planes (+ stride 2: dx phase buffer) */
    size_t per_worker;
    int kk, c_out_pad, n_chunks, chunks_per_slot;
    /* input-gradient passes: one (stride 1) or one per phase (stride 2), each a tile pass over
     * dy with its taps' negated offsets and packed weights */
    int n_dx_pass, pass_taps[4], offs_bwd[4][MAX_KK];
    const float *wt[4];
} bwd_job;

/* part[co][ci][tap] += sum over the chunk's flat range of dy[co] * x[ci] shifted by the tap */
static void wgrad_chunk(const bwd_job *j, const float *xp, const float *dyp, int n_imgs,
                        float *part)
{
    const flat_geom *gm = j->gm;
    const fer_conv2d_args *a = j->a;
    int kk = j->kk;
    size_t q0 = flat_at(gm, 0, 0, 0);
    size_t len_all = round_up(flat_at(gm, n_imgs - 1, a->out_h - 1, a->out_w - 1) - q0 + 1, 8);
    for (size_t qa = q0; qa < q0 + len_all; qa += WGRAD_SPAN) {
        size_t len = q0 + len_all - qa < WGRAD_SPAN ? q0 + len_all - qa : WGRAD_SPAN;
        for (int co0 = 0; co0 < j->c_out_pad; co0 += CPU_CONVW_MR) {
            const float *dy = dyp + FRONT + (size_t)co0 * gm->plane + qa;
            for (int ci = 0; ci < a->in_c; ci++) {
                const float *xc = xp + FRONT + (size_t)ci * gm->plane + qa;
                for (int run = 0; run < gm->n_runs; run++) {
                    const int ntaps = gm->run_len[run], *taps = gm->run_tap[run];
                    int offs[3];
                    for (int t = 0; t < ntaps; t++)
                        offs[t] = gm->offs_fwd[taps[t]];
                    float acc[CPU_CONVW_MR * 3] = {0};
                    j->k->convw_tile(dy, gm->plane, xc, offs, ntaps, len, acc);
                    for (int r = 0; r < CPU_CONVW_MR; r++) {
                        float *dst = part + ((size_t)(co0 + r) * a->in_c + ci) * kk;
                        for (int t = 0; t < ntaps; t++)
                            dst[taps[t]] += acc[r * ntaps + t];
                    }
                }
            }
        }
    }
}

static void bwd_task(void *ctx, int slot, int worker)
{
    const bwd_job *j = ctx;
    const fer_conv2d_args *a = j->a;
    const flat_geom *gm = j->gm;
    size_t per_slot = (size_t)j->c_out_pad * a->in_c * j->kk;
    float *part = j->partial + (size_t)slot * per_slot;
    memset(part, 0, per_slot * sizeof(float));
    float *xp = j->scratch + (size_t)worker * j->per_worker;
    float *dyp = xp + (size_t)x_planes(a) * gm->plane;
    float *dxph = dyp + (size_t)j->c_out_pad * gm->plane; /* stride 2: one phase of dx */
    int c0 = slot * j->chunks_per_slot, c1 = c0 + j->chunks_per_slot;
    if (c1 > j->n_chunks)
        c1 = j->n_chunks;
    for (int chunk = c0; chunk < c1; chunk++) {
        int n0 = chunk * gm->n;
        int n_imgs = a->n - n0 < gm->n ? a->n - n0 : gm->n;
        pack_x(gm, a, j->x, n0, n_imgs, xp);
        pack_chunk(gm, j->dy, a->out_c, j->c_out_pad, a->out_h, a->out_w, n0, n_imgs, dyp);
        wgrad_chunk(j, xp, dyp, n_imgs, part);
        if (!j->dx)
            continue;
        if (gm->s == 1) {
            conv_chunk(j->k, gm, dyp, a->out_c, j->offs_bwd[0], j->kk, j->wt[0], NULL, a->in_c,
                       0, a->in_c, a->in_h, a->in_w, n0, n_imgs, j->dx);
            continue;
        }
        for (int p = 0; p < 4; p++) { /* dx[2r + ph][2q + pw] of phase p = 2*ph + pw */
            int ph = p >> 1, pw = p & 1;
            int rows = (a->in_h - ph + 1) / 2, cols = (a->in_w - pw + 1) / 2;
            if (rows <= 0 || cols <= 0)
                continue;
            /* k >= 2: consecutive taps cover both parities, so every phase has taps */
            conv_chunk(j->k, gm, dyp, a->out_c, j->offs_bwd[p], j->pass_taps[p], j->wt[p], NULL,
                       a->in_c, 0, a->in_c, rows, cols, 0, n_imgs, dxph);
            const float *src = dxph;
            for (int n = 0; n < n_imgs; n++)
                for (int ci = 0; ci < a->in_c; ci++) {
                    float *d = j->dx + ((size_t)(n0 + n) * a->in_c + ci) * a->in_h * a->in_w;
                    for (int r = 0; r < rows; r++, src += cols) {
                        float *dr = d + (size_t)(2 * r + ph) * a->in_w + pw;
                        for (int q = 0; q < cols; q++)
                            dr[(size_t)2 * q] = src[q];
                    }
                }
        }
    }
}

typedef struct reduce_job {
    const float *partial;
    int slots;
    size_t n, stride, per_task;
    float *out;
} reduce_job;

static void reduce_task(void *ctx, int task, int worker)
{
    (void)worker;
    const reduce_job *j = ctx;
    size_t a = (size_t)task * j->per_task, b = a + j->per_task;
    if (b > j->n)
        b = j->n;
    for (size_t i = a; i < b; i++) {
        float s = 0.0f;
        for (int k = 0; k < j->slots; k++)
            s += j->partial[(size_t)k * j->stride + i];
        j->out[i] = s;
    }
}

typedef struct bias_job {
    const float *dy;
    int n, c;
    size_t plane;
    float *dbias;
} bias_job;

static void bias_task(void *ctx, int c, int worker)
{
    (void)worker;
    const bias_job *j = ctx;
    double s = 0.0;
    for (int n = 0; n < j->n; n++) {
        const float *p = j->dy + ((size_t)n * j->c + c) * j->plane;
        float ps = 0.0f;
        for (size_t i = 0; i < j->plane; i++)
            ps += p[i];
        s += ps;
    }
    j->dbias[c] = (float)s;
}

fer_status cpu_conv2d_backward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                               const float *w, const float *dy, float *dx, float *dw,
                               float *dbias)
{
    cpu_ctx *cx = cpu_of(b);
    if (a->groups != 1)
        return cpu_conv2d_grouped_backward(b, a, x, w, dy, dx, dw, dbias);
    /* the input gradient is a convolution of dy with the rotated, transposed filter */
    fer_conv2d_args da = {a->n, a->out_c, a->out_h, a->out_w, a->in_c, a->in_h, a->in_w,
                          a->k, 1, a->k - 1 - a->pad, 0, 1, a->weights_gen};
    if (cx->wino && cpu_wino_supported(a) && (!dx || cpu_wino_supported(&da))) {
        if (a->has_bias && dbias) {
            bias_job bj = {dy, a->n, a->out_c, (size_t)a->out_h * a->out_w, dbias};
            cpu_parallel(cx, a->out_c, bias_task, &bj);
        }
        fer_status st = cpu_wino_wgrad(cx, a, x, dy, dw);
        if (st == FER_OK && dx)
            st = cpu_wino_conv(cx, &da, dy, w, 1, NULL, dx);
        return st;
    }
    int c_out_pad = (int)round_up((size_t)a->out_c, CPU_CONVW_MR);
    int dx_planes = a->stride == 2 ? a->in_c : 0; /* the dx phase buffer, in grid planes */
    flat_geom gm;
    int flat = !cpu_pointwise_supported(a) &&
               flat_setup(&gm, a, x_planes(a) + c_out_pad + dx_planes,
                          (a->stride == 2 ? 4 : 1) * (size_t)CHUNK_BUDGET);
    if (!flat && !cpu_pointwise_supported(a) && !cpu_conv_strided_supported(a))
        return fer_ref_conv2d_backward(b, a, x, w, dy, dx, dw, dbias);
    if (a->has_bias && dbias) {
        bias_job bj = {dy, a->n, a->out_c, (size_t)a->out_h * a->out_w, dbias};
        cpu_parallel(cx, a->out_c, bias_task, &bj);
    }
    if (!flat)
        return cpu_pointwise_supported(a) ? cpu_pointwise_backward(cx, a, x, w, dy, dx, dw)
                                          : cpu_conv_strided_backward(cx, a, x, w, dy, dx, dw);
    int kk = a->k * a->k;
    int CO = cx->k->conv_co, in_blocks = (a->in_c + CO - 1) / CO;
    size_t wt_floats = round_up((size_t)in_blocks * CO * a->out_c * kk, 16);
    size_t per_slot = (size_t)c_out_pad * a->in_c * kk;
    size_t part_floats = round_up(per_slot * WGRAD_SLOTS, 16);
    size_t dx_phase = a->stride == 2 ? (size_t)gm.n * a->in_c * ((a->in_h + 1) / 2) *
                                           ((a->in_w + 1) / 2)
                                     : 0;
    size_t per_worker = round_up((size_t)(x_planes(a) + c_out_pad) * gm.plane + dx_phase, 16);
    float *ws = cpu_workspace(cx, wt_floats + part_floats + per_worker * (size_t)cx->threads);
    if (!ws)
        return FER_ERR_NOMEM;
    float *wt = ws, *part = ws + wt_floats, *scr = part + part_floats;

    /* input gradient: Winograd when it qualifies, else the tiles below while dy is packed */
    int dx_wino = dx && a->stride == 1 && cx->wino && cpu_wino_supported(&da);
    bwd_job j = {cx->k, a, &gm, x, dy, dx_wino ? NULL : dx, part, scr, per_worker,
                 kk, c_out_pad, (a->n + gm.n - 1) / gm.n, 1, 0, {0}, {{0}}, {NULL}};
    if (j.dx) { /* the taps of each pass, their negated offsets and packed weights */
        j.n_dx_pass = a->stride == 2 ? 4 : 1;
        float *wp = wt;
        for (int p = 0; p < j.n_dx_pass; p++) {
            int taps[MAX_KK], n = 0;
            for (int t = 0; t < kk; t++)
                if (a->stride == 1 || gm.tap_phase[t] == p) {
                    j.offs_bwd[p][n] = a->stride == 1 ? -gm.offs_fwd[t] : -gm.tap_shift[t];
                    taps[n++] = t;
                }
            j.pass_taps[p] = n;
            j.wt[p] = wp;
            pack_weights_bwd(w, a->out_c, a->in_c, kk, taps, n, CO, wp);
            wp += (size_t)in_blocks * CO * a->out_c * n;
        }
    }
    j.chunks_per_slot = (j.n_chunks + WGRAD_SLOTS - 1) / WGRAD_SLOTS;
    int slots = (j.n_chunks + j.chunks_per_slot - 1) / j.chunks_per_slot;
    cpu_parallel(cx, slots, bwd_task, &j);
    /* the first out_c rows of a slot have dw's layout [c_out][c_in][kk] */
    size_t dw_n = (size_t)a->out_c * a->in_c * kk;
    reduce_job rj = {part, slots, dw_n, per_slot, 4096, dw};
    cpu_parallel(cx, (int)((dw_n + rj.per_task - 1) / rj.per_task), reduce_task, &rj);
    if (dx_wino) /* reuses the workspace: nothing above is needed any more */
        return cpu_wino_conv(cx, &da, dy, w, 1, NULL, dx);
    return FER_OK;
}
