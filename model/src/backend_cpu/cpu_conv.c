/* conv2d on the CPU backend.
 *
 * Stride-1 convolutions use "flat planes": channel c of the whole batch becomes one plane in
 * which image n, row h, column w sits at flat index (g + n*hp + h)*wp + w, with wp = W + g and
 * hp = H + g; the g columns right of every row and the g rows below every image are zero
 * (g = max(pad, k-1-pad)). A tap (kh, kw) is then the constant offset (kh-pad)*wp + (kw-pad), so
 * the convolution is an implicit GEMM over contiguous loads (no im2col), the input gradient is
 * the same kernel over the zero-gapped output gradient with negated offsets, and the weight
 * gradient is a dot product along the flat index. A few positions per row are computed and
 * discarded (the gap): 2-8% for SimpleCNN's planes.
 * Other convolutions (stride > 1, very large kernels) use the reference ops. */
#include <string.h>

#include "../backend_ref.h"
#include "cpu_internal.h"

#define MAX_K 7
#define MAX_KK (MAX_K * MAX_K)
#define FRONT 64 /* floats before flat index 0 of each plane (>= the gap g) */

typedef struct flat_geom {
    int n, h, w;          /* input planes */
    int out_h, out_w, k, pad;
    int g, wp, hp;        /* gap, padded row length, rows per image */
    size_t plane;         /* floats per plane (multiple of 16) */
    int offs_fwd[MAX_KK]; /* tap offsets of the forward pass; backward data uses -offs */
} flat_geom;

static int flat_supported(const fer_conv2d_args *a)
{
    return a->stride == 1 && a->k >= 1 && a->k <= MAX_K && a->pad >= 0 && a->pad <= a->k - 1 &&
           a->out_h == a->in_h + 2 * a->pad - a->k + 1 && a->out_w == a->in_w + 2 * a->pad - a->k + 1;
}

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static void flat_geom_init(flat_geom *gm, const fer_conv2d_args *a)
{
    gm->n = a->n;
    gm->h = a->in_h;
    gm->w = a->in_w;
    gm->out_h = a->out_h;
    gm->out_w = a->out_w;
    gm->k = a->k;
    gm->pad = a->pad;
    gm->g = a->pad > a->k - 1 - a->pad ? a->pad : a->k - 1 - a->pad;
    gm->wp = a->in_w + gm->g;
    gm->hp = a->in_h + gm->g;
    size_t rows = (size_t)gm->g + (size_t)a->n * gm->hp;
    /* tail: tile overrun (one tile) + the largest tap offset + slack for 8-wide loads */
    size_t tail = CPU_CONV_NR + (size_t)(a->k) * (gm->wp + 1) + 64;
    gm->plane = round_up(FRONT + rows * gm->wp + tail, 16);
    for (int kh = 0; kh < a->k; kh++)
        for (int kw = 0; kw < a->k; kw++)
            gm->offs_fwd[kh * a->k + kw] = (kh - a->pad) * gm->wp + (kw - a->pad);
}

/* Flat index of (image n, row h, column w). */
static inline size_t flat_at(const flat_geom *gm, int n, int h, int w)
{
    return ((size_t)gm->g + (size_t)n * gm->hp + (size_t)h) * gm->wp + (size_t)w;
}

/* ---- packing dense NCHW into flat planes ------------------------------------------------ */

typedef struct pack_job {
    const flat_geom *gm;
    const float *src; /* dense [n][c][rows][cols] */
    float *dst;       /* planes: dst + c*plane + FRONT is flat index 0 */
    int c, rows, cols; /* channels, valid rows/cols (input or output grid) */
    int c_pad;        /* planes to fill (>= c; extra planes are all zero) */
    int img_per_task, n_chunks;
} pack_job;

static void pack_task(void *ctx, int task, int worker)
{
    (void)worker;
    const pack_job *j = ctx;
    const flat_geom *gm = j->gm;
    int c = task / j->n_chunks, chunk = task % j->n_chunks;
    int n0 = chunk * j->img_per_task, n1 = n0 + j->img_per_task;
    if (n1 > gm->n)
        n1 = gm->n;
    float *plane = j->dst + (size_t)c * gm->plane;
    float *base = plane + FRONT;
    if (c >= j->c) { /* padding plane (channel count rounded up to the tile): all zero */
        if (chunk == 0)
            memset(plane, 0, gm->plane * sizeof(float));
        return;
    }
    if (chunk == 0) /* front guard and the g leading rows */
        memset(plane, 0, (FRONT + (size_t)gm->g * gm->wp) * sizeof(float));
    size_t src_plane = (size_t)j->rows * j->cols;
    for (int n = n0; n < n1; n++) {
        const float *s = j->src + ((size_t)n * j->c + c) * src_plane;
        float *d = base + flat_at(gm, n, 0, 0);
        for (int h = 0; h < j->rows; h++) {
            memcpy(d, s, (size_t)j->cols * sizeof(float));
            memset(d + j->cols, 0, (size_t)(gm->wp - j->cols) * sizeof(float));
            s += j->cols;
            d += gm->wp;
        }
        /* rows below the valid ones up to the next image */
        memset(d, 0, (size_t)(gm->hp - j->rows) * gm->wp * sizeof(float));
    }
    if (chunk == j->n_chunks - 1) { /* tail guard */
        size_t a = FRONT + flat_at(gm, gm->n, 0, 0);
        memset(plane + a, 0, (gm->plane - a) * sizeof(float));
    }
}

static void pack_planes(cpu_ctx *cx, const flat_geom *gm, const float *src, int c, int c_pad,
                        int rows, int cols, float *dst)
{
    pack_job j = {gm, src, dst, c, rows, cols, c_pad, 1, 1};
    int want = 4 * cx->threads; /* enough tasks to balance, few enough to stay cheap */
    int chunks = c_pad >= want ? 1 : (want + c_pad - 1) / c_pad;
    if (chunks > gm->n)
        chunks = gm->n;
    j.img_per_task = (gm->n + chunks - 1) / chunks;
    j.n_chunks = (gm->n + j.img_per_task - 1) / j.img_per_task;
    cpu_parallel(cx, c_pad * j.n_chunks, pack_task, &j);
}

/* ---- implicit-GEMM tiles ---------------------------------------------------------------- */

/* A run of consecutive tile lanes that land contiguously in the dense output. */
typedef struct lane_run {
    int lane, len;
    size_t dst; /* offset of the run in channel 0 of its image: n*c_out*plane + h*cols + w */
} lane_run;

typedef struct conv_job {
    const cpu_kernels *k;
    const flat_geom *gm;
    const float *xp;   /* input planes (flat index 0) */
    const float *wpk;  /* packed weights [blk][c_in][kk][MR] */
    const float *bias; /* padded to a multiple of MR, or NULL */
    const int *offs;
    int c_in, c_out, kk;
    int rows, cols;    /* valid output grid (dense) */
    size_t q_first, n_tiles;
    int tiles_per_task;
    float *y;          /* dense NCHW [n][c_out][rows][cols] */
} conv_job;

/* Splits the tile at flat q0 into runs of valid output lanes. */
static int tile_runs(const conv_job *j, size_t q0, lane_run *runs)
{
    const flat_geom *gm = j->gm;
    size_t out_plane = (size_t)j->rows * j->cols;
    size_t r = q0 / (size_t)gm->wp;
    int col = (int)(q0 - r * (size_t)gm->wp);
    long rr = (long)r - gm->g;
    int n = (int)(rr / gm->hp), h = (int)(rr % gm->hp);
    int nr = 0, lane = 0;
    while (lane < CPU_CONV_NR) {
        int span = gm->wp - col; /* lanes left in this flat row */
        if (span > CPU_CONV_NR - lane)
            span = CPU_CONV_NR - lane;
        if (n < gm->n && h < j->rows && col < j->cols) {
            int len = j->cols - col < span ? j->cols - col : span;
            runs[nr].lane = lane;
            runs[nr].len = len;
            runs[nr].dst = (size_t)n * j->c_out * out_plane + (size_t)h * j->cols + (size_t)col;
            nr++;
        }
        lane += span;
        col += span;
        if (col == gm->wp) {
            col = 0;
            if (++h == gm->hp) {
                h = 0;
                n++;
            }
        }
    }
    return nr;
}

#define MAX_TILES_PER_TASK 32

static void conv_task(void *ctx, int task, int worker)
{
    (void)worker;
    const conv_job *j = ctx;
    size_t t0 = (size_t)task * j->tiles_per_task, t1 = t0 + j->tiles_per_task;
    if (t1 > j->n_tiles)
        t1 = j->n_tiles;
    int nt = (int)(t1 - t0);
    lane_run runs[MAX_TILES_PER_TASK][CPU_CONV_NR];
    int n_runs[MAX_TILES_PER_TASK], full[MAX_TILES_PER_TASK];
    for (int t = 0; t < nt; t++) {
        n_runs[t] = tile_runs(j, j->q_first + (t0 + t) * CPU_CONV_NR, runs[t]);
        full[t] = n_runs[t] == 1 && runs[t][0].len == CPU_CONV_NR;
    }
    size_t out_plane = (size_t)j->rows * j->cols;
    size_t x_stride = j->gm->plane;
    float tmp[CPU_CONV_MR * CPU_CONV_NR];
    int blocks = (j->c_out + CPU_CONV_MR - 1) / CPU_CONV_MR;
    for (int blk = 0; blk < blocks; blk++) {
        int co0 = blk * CPU_CONV_MR;
        int mr = j->c_out - co0 < CPU_CONV_MR ? j->c_out - co0 : CPU_CONV_MR;
        const float *w = j->wpk + (size_t)blk * j->c_in * j->kk * CPU_CONV_MR;
        const float *bias = j->bias ? j->bias + co0 : NULL;
        for (int t = 0; t < nt; t++) {
            const float *x = j->xp + j->q_first + (t0 + t) * CPU_CONV_NR;
            if (full[t] && mr == CPU_CONV_MR) {
                j->k->conv_tile(x, x_stride, j->c_in, j->offs, j->kk, w, bias,
                                j->y + runs[t][0].dst + (size_t)co0 * out_plane, out_plane);
                continue;
            }
            if (n_runs[t] == 0)
                continue;
            j->k->conv_tile(x, x_stride, j->c_in, j->offs, j->kk, w, bias, tmp, CPU_CONV_NR);
            for (int r = 0; r < mr; r++)
                for (int s = 0; s < n_runs[t]; s++)
                    memcpy(j->y + runs[t][s].dst + (size_t)(co0 + r) * out_plane,
                           tmp + r * CPU_CONV_NR + runs[t][s].lane,
                           (size_t)runs[t][s].len * sizeof(float));
        }
    }
}

static void run_conv(cpu_ctx *cx, conv_job *j)
{
    /* keep the input columns of one task (c_in planes x its span) within ~256 KiB of L2 */
    size_t span_budget = (256u * 1024u / sizeof(float)) / (size_t)j->c_in;
    size_t halo = 2 * (size_t)j->gm->wp * (size_t)(j->gm->k / 2 + 1);
    int tpt = span_budget > halo ? (int)((span_budget - halo) / CPU_CONV_NR) : 1;
    if (tpt < 1)
        tpt = 1;
    if (tpt > MAX_TILES_PER_TASK)
        tpt = MAX_TILES_PER_TASK;
    /* at least ~4 tasks per thread for balance */
    size_t per_thread = j->n_tiles / (size_t)(4 * cx->threads);
    if (per_thread >= 1 && (size_t)tpt > per_thread)
        tpt = (int)per_thread;
    j->tiles_per_task = tpt;
    int tasks = (int)((j->n_tiles + tpt - 1) / tpt);
    cpu_parallel(cx, tasks, conv_task, j);
}

/* Forward weights [c_out][c_in][kk] into [blk][c_in][kk][MR] (zero rows past c_out). */
static void pack_weights_fwd(const float *w, int c_out, int c_in, int kk, float *dst)
{
    int blocks = (c_out + CPU_CONV_MR - 1) / CPU_CONV_MR;
    for (int blk = 0; blk < blocks; blk++)
        for (int ci = 0; ci < c_in; ci++)
            for (int t = 0; t < kk; t++)
                for (int r = 0; r < CPU_CONV_MR; r++) {
                    int co = blk * CPU_CONV_MR + r;
                    *dst++ = co < c_out ? w[((size_t)co * c_in + ci) * kk + t] : 0.0f;
                }
}

/* Input-gradient weights: block over c_in, reduce over c_out: [blk][c_out][kk][MR]. */
static void pack_weights_bwd(const float *w, int c_out, int c_in, int kk, float *dst)
{
    int blocks = (c_in + CPU_CONV_MR - 1) / CPU_CONV_MR;
    for (int blk = 0; blk < blocks; blk++)
        for (int co = 0; co < c_out; co++)
            for (int t = 0; t < kk; t++)
                for (int r = 0; r < CPU_CONV_MR; r++) {
                    int ci = blk * CPU_CONV_MR + r;
                    *dst++ = ci < c_in ? w[((size_t)co * c_in + ci) * kk + t] : 0.0f;
                }
}

static size_t n_tiles_for(const flat_geom *gm, int rows, int cols)
{
    size_t q_first = flat_at(gm, 0, 0, 0);
    size_t q_last = flat_at(gm, gm->n - 1, rows - 1, cols - 1);
    return (q_last - q_first + CPU_CONV_NR) / CPU_CONV_NR;
}

fer_status cpu_conv2d_forward(fer_backend *b, const fer_conv2d_args *a, const float *x,
                              const float *w, const float *bias, float *y)
{
    if (!flat_supported(a))
        return fer_ref_conv2d_forward(b, a, x, w, bias, y);
    cpu_ctx *cx = cpu_of(b);
    flat_geom gm;
    flat_geom_init(&gm, a);
    int kk = a->k * a->k;
    int blocks = (a->out_c + CPU_CONV_MR - 1) / CPU_CONV_MR;
    size_t x_floats = (size_t)a->in_c * gm.plane;
    size_t w_floats = round_up((size_t)blocks * CPU_CONV_MR * a->in_c * kk, 16);
    size_t b_floats = round_up((size_t)blocks * CPU_CONV_MR, 16);
    float *ws = cpu_workspace(cx, x_floats + w_floats + b_floats);
    if (!ws)
        return FER_ERR_NOMEM;
    float *xp = ws, *wpk = ws + x_floats, *bp = wpk + w_floats;
    pack_planes(cx, &gm, x, a->in_c, a->in_c, a->in_h, a->in_w, xp);
    pack_weights_fwd(w, a->out_c, a->in_c, kk, wpk);
    const float *bias_p = NULL;
    if (a->has_bias && bias) {
        for (int i = 0; i < blocks * CPU_CONV_MR; i++)
            bp[i] = i < a->out_c ? bias[i] : 0.0f;
        bias_p = bp;
    }
    conv_job j = {cx->k, &gm, xp + FRONT, wpk, bias_p, gm.offs_fwd, a->in_c, a->out_c, kk,
                  a->out_h, a->out_w, flat_at(&gm, 0, 0, 0), n_tiles_for(&gm, a->out_h, a->out_w),
                  1, y};
    run_conv(cx, &j);
    return FER_OK;
}

/* ---- weight gradient -------------------------------------------------------------------- */

#define WGRAD_CHUNK 1024 /* flat positions per inner pass: 4 gradient rows stay in L1 */
#define WGRAD_SLOTS 8    /* fixed partial sums, reduced in order: deterministic for any thread count */

typedef struct wgrad_job {
    const cpu_kernels *k;
    const flat_geom *gm;
    const float *xp, *dyp; /* planes at flat index 0 */
    int c_in, c_out_pad, k_size;
    size_t q_first, q_len;  /* q_len multiple of 8 */
    size_t chunks_per_slot;
    float *partial;         /* [slot][c_out_pad][c_in][kk] */
} wgrad_job;

static void wgrad_chunk(const wgrad_job *j, size_t chunk, float *part)
{
    const flat_geom *gm = j->gm;
    int K = j->k_size, kk = K * K;
    size_t qa = j->q_first + chunk * WGRAD_CHUNK;
    size_t len = j->q_len - chunk * WGRAD_CHUNK;
    if (len > WGRAD_CHUNK)
        len = WGRAD_CHUNK;
    for (int co0 = 0; co0 < j->c_out_pad; co0 += CPU_CONVW_MR) {
        const float *dy = j->dyp + (size_t)co0 * gm->plane + qa;
        for (int ci = 0; ci < j->c_in; ci++) {
            const float *xc = j->xp + (size_t)ci * gm->plane + qa;
            for (int kh = 0; kh < K; kh++) {
                for (int kw0 = 0; kw0 < K; kw0 += 3) {
                    int ntaps = K - kw0 < 3 ? K - kw0 : 3;
                    float acc[CPU_CONVW_MR * 3] = {0};
                    j->k->convw_tile(dy, gm->plane, xc + gm->offs_fwd[kh * K + kw0], ntaps, len,
                                     acc);
                    for (int r = 0; r < CPU_CONVW_MR; r++) {
                        float *dst = part + ((size_t)(co0 + r) * j->c_in + ci) * kk + kh * K + kw0;
                        for (int t = 0; t < ntaps; t++)
                            dst[t] += acc[r * ntaps + t];
                    }
                }
            }
        }
    }
}

static void wgrad_task(void *ctx, int slot, int worker)
{
    (void)worker;
    const wgrad_job *j = ctx;
    size_t per_slot = (size_t)j->c_out_pad * j->c_in * j->k_size * j->k_size;
    float *part = j->partial + (size_t)slot * per_slot;
    memset(part, 0, per_slot * sizeof(float));
    size_t n_chunks = (j->q_len + WGRAD_CHUNK - 1) / WGRAD_CHUNK;
    size_t c0 = (size_t)slot * j->chunks_per_slot, c1 = c0 + j->chunks_per_slot;
    if (c1 > n_chunks)
        c1 = n_chunks;
    for (size_t c = c0; c < c1; c++)
        wgrad_chunk(j, c, part);
}

typedef struct reduce_job {
    const float *partial;
    int slots;
    size_t n, stride, per_task; /* n values, partial slot stride */
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
    if (!flat_supported(a))
        return fer_ref_conv2d_backward(b, a, x, w, dy, dx, dw, dbias);
    cpu_ctx *cx = cpu_of(b);
    flat_geom gm;
    flat_geom_init(&gm, a);
    int K = a->k, kk = K * K;
    int c_out_pad = (int)round_up((size_t)a->out_c, CPU_CONVW_MR);
    int in_blocks = (a->in_c + CPU_CONV_MR - 1) / CPU_CONV_MR;
    size_t x_floats = (size_t)a->in_c * gm.plane;
    size_t dy_floats = (size_t)c_out_pad * gm.plane;
    size_t wt_floats = round_up((size_t)in_blocks * CPU_CONV_MR * a->out_c * kk, 16);
    size_t part_per = (size_t)c_out_pad * a->in_c * kk;
    size_t part_floats = round_up(part_per * WGRAD_SLOTS, 16);
    float *ws = cpu_workspace(cx, x_floats + dy_floats + wt_floats + part_floats);
    if (!ws)
        return FER_ERR_NOMEM;
    float *xp = ws, *dyp = xp + x_floats, *wt = dyp + dy_floats, *part = wt + wt_floats;

    if (a->has_bias && dbias) {
        bias_job bj = {dy, a->n, a->out_c, (size_t)a->out_h * a->out_w, dbias};
        cpu_parallel(cx, a->out_c, bias_task, &bj);
    }
    pack_planes(cx, &gm, dy, a->out_c, c_out_pad, a->out_h, a->out_w, dyp);
    pack_planes(cx, &gm, x, a->in_c, a->in_c, a->in_h, a->in_w, xp);

    /* weight gradient: fixed slots of partial sums over flat chunks, reduced in slot order */
    size_t q_first = flat_at(&gm, 0, 0, 0);
    size_t q_len = round_up(flat_at(&gm, a->n - 1, a->out_h - 1, a->out_w - 1) - q_first + 1, 8);
    size_t n_chunks = (q_len + WGRAD_CHUNK - 1) / WGRAD_CHUNK;
    size_t per_slot = (n_chunks + WGRAD_SLOTS - 1) / WGRAD_SLOTS;
    int slots = (int)((n_chunks + per_slot - 1) / per_slot);
    wgrad_job wj = {cx->k, &gm, xp + FRONT, dyp + FRONT, a->in_c, c_out_pad, K, q_first, q_len,
                    per_slot, part};
    cpu_parallel(cx, slots, wgrad_task, &wj);
    /* partial rows are [c_out_pad][c_in][kk]; the first out_c rows have dw's layout */
    size_t dw_n = (size_t)a->out_c * a->in_c * kk;
    reduce_job rj = {part, slots, dw_n, part_per, 4096, dw};
    cpu_parallel(cx, (int)((dw_n + rj.per_task - 1) / rj.per_task), reduce_task, &rj);

    if (dx) {
        pack_weights_bwd(w, a->out_c, a->in_c, kk, wt);
        int offs_bwd[MAX_KK];
        for (int t = 0; t < kk; t++)
            offs_bwd[t] = -gm.offs_fwd[t];
        conv_job j = {cx->k, &gm, dyp + FRONT, wt, NULL, offs_bwd, a->out_c, a->in_c, kk,
                      a->in_h, a->in_w, q_first, n_tiles_for(&gm, a->in_h, a->in_w), 1, dx};
        run_conv(cx, &j);
    }
    return FER_OK;
}
