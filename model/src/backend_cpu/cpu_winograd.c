/* Winograd F(m x m, 3x3) convolution for 3x3, stride-1 layers with at least 8 input and output
 * channels: (m+2)^2 multiplications per m x m output tile and channel pair instead of 9 m^2
 * (m = 2: 16 for 36, the default; m = 4: 36 for 144, less accurate).
 *
 * A task takes a band of tile rows of some images: it blocks the input band into vectors of
 * 8 channels (16 in the avx512 set, cpu_kernels.wino_cb), transforms every tile (B^T d B),
 * multiplies the 36 transformed planes by the transformed weights (G g G^T, computed once per
 * call) with the set's register tile (6 or 12 tiles x wino_co channels), and transforms back
 * (A^T m A) straight into the NCHW output. The task's transformed tiles stay in L2 (in deep
 * layers, each xi's slice of them: TILE_BUDGET). The same code computes the input gradient: a
 * convolution of dy with the weights transposed and rotated 180 degrees, padding k-1-pad.
 * fp32 error is a few ulp larger than the direct convolution (transform constants up to 8);
 * the backend-vs-ref tests bound it. */
#include <string.h>

#include "cpu_amx.h"
#include "cpu_bf16.h"
#include "cpu_internal.h"

/* Floats of transformed tiles (in + out) per task: L2. But at least as many as the transformed
 * weights (forward) or the weight gradient's partial sums hold, xi x cip x cop, which every task
 * streams once: with fewer tiles the GEMMs move more weights or partial sums than operands (128
 * channels: 2.4 MB per 18 tiles) and the deep layers wait on memory. Each xi's slice of the
 * tiles, which the GEMMs take one after another, still fits L2. */
#define TILE_BUDGET (160 * 1024)
#define TILE_BUDGET_MAX (4 * 1024 * 1024) /* the floor's cap: 16 MB a worker (512 channels) */
#define MIN_TASKS 8

int cpu_wino_supported(const fer_conv2d_args *a)
{
    return a->k == 3 && a->stride == 1 && a->pad >= 0 && a->pad <= 2 && a->in_c >= 8 &&
           a->out_c >= 8 && a->out_h == a->in_h + 2 * a->pad - 2 &&
           a->out_w == a->in_w + 2 * a->pad - 2 && a->out_h >= 1 && a->out_w >= 1;
}

/* Below this many F(4x4) tiles in a call (batch 1 on 6x6 planes: 4), F(2x2) instead: the
 * transformed weights, (m+2)^2 per filter tap pair, are streamed once per call, and F(4x4)'s
 * 36 against F(2x2)'s 16 dominate when few tiles share them. resnet_s batch-1 latency
 * 3.22-3.26 -> 2.98-3.00 ms (bench/RESULTS.md). */
#define WINO4_MIN_TILES 5

int cpu_wino_tile(const cpu_ctx *c, const fer_conv2d_args *a)
{
    if (c->wino != CPU_WINO_AUTO)
        return c->wino == 2 ? 2 : 4;
    if (c->bf16)
        return 2;
    size_t n = (size_t)a->n;
    size_t tiles4 = n * (size_t)((a->out_h + 3) / 4) * (size_t)((a->out_w + 3) / 4);
    size_t tiles2 = n * (size_t)((a->out_h + 1) / 2) * (size_t)((a->out_w + 1) / 2);
    /* F(2x2) also where it needs no more multiplications: planes that F(4x4) tiles badly (6x6:
     * 4 tiles of 16 outputs for 36, as many products as F(2x2)'s 9 exact tiles) get F(2x2)'s
     * cheaper transforms and 2.25x smaller GEMM operands (3x3 256->256 on 6x6, batch 256:
     * forward 130 -> 216, backward 77 -> 152 GFLOP/s, bench_conv_kinds) */
    return tiles4 < WINO4_MIN_TILES || tiles4 * 36 >= tiles2 * 16 ? 2 : 4;
}

static size_t round_to(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

typedef struct wino_plan {
    const cpu_kernels *k;
    const fer_conv2d_args *a;
    const float *x, *u, *bias;
    const float *dy;    /* weight gradient */
    float *y, *scratch;
    float *partial;     /* weight gradient: [slot][xi][ci_rows][cop] */
    int ci_rows;        /* cip rounded up to the GEMM's row block (6, or AMX's 16) */
    int chunks_per_slot;
    const cpu_wino_fns *f;
    int m, xi;          /* output tile m x m, transformed tile (m+2)^2 */
    int th, tw;         /* tiles per image */
    int G, R;           /* images per task, tile rows per task */
    int groups, bands;  /* tasks = groups * bands */
    int cip, cop;       /* channels rounded to cb (in) and wob (out) */
    int wob;            /* output channels per GEMM block (the set's wino_co) */
    int cb;             /* channels per transform vector and band block (the set's wino_cb) */
    int band_rows, band_cols;
    size_t tp;          /* tiles per task, rounded up to the GEMM's 6 */
    size_t xb_floats, v_floats, m_floats;
    /* bf16 mode (cpu_bf16.h): u16 the transformed weights as pairs over input channels,
     * w16_floats of per-worker scratch for the operands rounded to bf16 */
    int bf16;
    const uint32_t *u16;
    size_t w16_floats;
    /* bf16 on AMX tiles (cpu_amx.h): the GEMMs take rows by CPU_AMX_ROWS, and the weight
     * gradient's A operand is transposed into t16_floats of per-worker scratch */
    int amx;
    size_t t16_floats;
    /* streamed output when > 0: each tile row's outputs go to stage_floats of per-worker
     * scratch, then to y by stream_copy, one contiguous m-row strip per channel */
    size_t stage_floats;
} wino_plan;

static const float G4[6][3] = {{0.25f, 0.0f, 0.0f},
                              {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                              {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                              {1.0f / 24, 1.0f / 12, 1.0f / 6},
                              {1.0f / 24, -1.0f / 12, 1.0f / 6},
                              {0.0f, 0.0f, 1.0f}};
static const float G2[4][3] = {{1.0f, 0.0f, 0.0f},
                              {0.5f, 0.5f, 0.5f},
                              {0.5f, -0.5f, 0.5f},
                              {0.0f, 0.0f, 1.0f}};

/* U[xi][co/W][ci][co%W] = (G g G^T)[xi] for g = w[co][ci] (flip: w[ci][co] rotated), W = wob,
 * the kernel set's wino_co. u16 != NULL (bf16 mode): written there instead, rounded to bf16, as
 * pairs over ci: U16[xi][co/W][ci/2][co%W][ci%2]. */
static void transform_weights(const fer_conv2d_args *a, const float *w, int flip, int m, int cip,
                              int cop, int wob, float *u, uint16_t *u16)
{
    const float(*G)[3] = m == 4 ? G4 : G2;
    int at = m + 2;
    if (u16)
        memset(u16, 0, (size_t)at * at * cip * cop * sizeof(uint16_t));
    else if (u) /* one of the two is given; the test keeps GCC's -Wnonnull quiet */
        memset(u, 0, (size_t)at * at * cip * cop * sizeof(float));
    int ob_n = cop / wob;
    for (int co = 0; co < a->out_c; co++) {
        for (int ci = 0; ci < a->in_c; ci++) {
            float g[3][3], t[6][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    g[i][j] = flip ? w[(((size_t)ci * a->out_c + co) * 3 + 2 - i) * 3 + 2 - j]
                                   : w[(((size_t)co * a->in_c + ci) * 3 + i) * 3 + j];
            for (int i = 0; i < at; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = G[i][0] * g[0][j] + G[i][1] * g[1][j] + G[i][2] * g[2][j];
            if (u16) {
                uint16_t *d16 =
                    u16 + (((size_t)(co / wob) * (cip / 2) + ci / 2) * wob + co % wob) * 2 + ci % 2;
                for (int i = 0; i < at; i++)
                    for (int j = 0; j < at; j++)
                        d16[(size_t)(i * at + j) * ob_n * cip * wob] = cpu_bf16_round(
                            t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2]);
                continue;
            }
            float *dst = u + ((size_t)(co / wob) * cip + ci) * wob + co % wob;
            for (int i = 0; i < at; i++)
                for (int j = 0; j < at; j++)
                    dst[(size_t)(i * at + j) * ob_n * cip * wob] =
                        t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
        }
    }
}

/* The fewest images from g to 2g (and at most 2 t_max tiles) whose tiles fill blocks of al;
 * 0 if none. */
static int images_aligned(int g, size_t per_img, size_t t_max, int al)
{
    for (int i = g; i <= 2 * g && (size_t)i * per_img <= 2 * t_max; i++)
        if ((i * per_img) % (size_t)al == 0)
            return i;
    return 0;
}

/* Tiles per task: as many as the budget allows; whole images when they fit. */
static void plan_init(wino_plan *p, cpu_ctx *c, const fer_conv2d_args *a)
{
    memset(p, 0, sizeof *p);
    p->k = c->k;
    p->a = a;
    p->m = cpu_wino_tile(c, a);
    p->f = p->m == 4 ? &c->k->f43 : &c->k->f23;
    p->xi = (p->m + 2) * (p->m + 2);
    p->th = (a->out_h + p->m - 1) / p->m;
    p->tw = (a->out_w + p->m - 1) / p->m;
    p->wob = c->k->wino_co;
    p->cb = c->k->wino_cb;
    p->cip = (int)round_to((size_t)a->in_c, (size_t)p->cb);
    p->cop = (int)round_to((size_t)a->out_c, (size_t)p->wob);
    p->bf16 = c->bf16 && p->wob == CPU_BF16_CO;
    p->amx = p->bf16 && c->amx;
    int rows = p->amx ? CPU_AMX_ROWS : 6; /* the GEMM's row block */
    /* tiles per task best a multiple of the forward GEMM's widest block */
    int align = !p->bf16 && c->k->wino_gemm12 ? 12 : rows;
    size_t budget = (size_t)p->xi * p->cip * p->cop;
    if (budget < TILE_BUDGET)
        budget = TILE_BUDGET;
    if (budget > TILE_BUDGET_MAX)
        budget = TILE_BUDGET_MAX;
    size_t t_max = budget / ((size_t)p->xi * (p->cip + p->cop));
    size_t per_img = (size_t)p->th * p->tw;
    if (t_max < (size_t)p->tw)
        t_max = (size_t)p->tw;
    if (per_img <= t_max) {
        p->R = p->th;
        p->G = (int)(t_max / per_img);
        /* the GEMM takes tiles by its row block: avoid padding tiles (and 6-row blocks where
         * it has 12), within twice the budget */
        int g = images_aligned(p->G, per_img, t_max, align);
        if (!g)
            g = images_aligned(p->G, per_img, t_max, rows);
        if (g)
            p->G = g;
        if (p->G > a->n)
            p->G = a->n;
        /* small batches: enough tasks to spread (a constant, not the thread count: the
         * weight gradient sums tile chunks in this grouping, and its bits must not depend on
         * the number of threads) */
        while (p->G > 1 && (a->n + p->G - 1) / p->G < MIN_TASKS)
            p->G = (p->G + 1) / 2;
    } else {
        p->G = 1;
        p->R = (int)(t_max / p->tw);
    }
    p->groups = (a->n + p->G - 1) / p->G;
    p->bands = (p->th + p->R - 1) / p->R;
    p->band_rows = p->m * p->R + 2;
    p->band_cols = p->m * p->tw + 2;
    p->tp = round_to((size_t)p->G * p->R * p->tw, (size_t)rows);
    p->ci_rows = (int)round_to((size_t)p->cip, (size_t)rows);
    p->xb_floats = round_to((size_t)p->band_rows * p->band_cols * p->cb, 16);
    /* + slack: the weight-gradient GEMM reads up to 5 channels past a tile row */
    p->v_floats = round_to((size_t)p->xi * p->tp * p->cip + 16, 16);
    p->m_floats = round_to((size_t)p->xi * p->tp * p->cop, 16);
    /* bf16: the forward GEMM's inputs (v as bf16) or the weight gradient's pairs over tiles
     * (both operands, half the floats each); + slack for the reads past a tile row */
    p->w16_floats = p->bf16 ? round_to((p->v_floats + p->m_floats) / 2 + 64, 16) : 0;
    p->t16_floats = p->amx ? round_to((size_t)p->ci_rows * ((p->tp + 1) / 2), 16) : 0;
}

static size_t worker_floats(const wino_plan *p)
{
    return p->xb_floats + p->v_floats + p->m_floats + p->w16_floats + p->t16_floats +
           p->stage_floats;
}

/* The task's images and tile rows. */
static void task_span(const wino_plan *p, int task, int *n0, int *n_img, int *r0, int *nr)
{
    int gi = task / p->bands, bi = task % p->bands;
    *n0 = gi * p->G;
    *n_img = p->a->n - *n0 < p->G ? p->a->n - *n0 : p->G;
    *r0 = bi * p->R;
    *nr = p->th - *r0 < p->R ? p->th - *r0 : p->R;
}

typedef struct transform_ctx {
    const fer_conv2d_args *a;
    const float *w;
    int flip, m, cip, cop, wob;
} transform_ctx;

static void transform_cb(const void *ctx, float *dst)
{
    const transform_ctx *t = ctx;
    transform_weights(t->a, t->w, t->flip, t->m, t->cip, t->cop, t->wob, dst, NULL);
}

static void transform_bf16_cb(const void *ctx, float *dst)
{
    const transform_ctx *t = ctx;
    transform_weights(t->a, t->w, t->flip, t->m, t->cip, t->cop, t->wob, NULL, (uint16_t *)dst);
}

static void wino_task(void *ctx, int task, int worker)
{
    const wino_plan *p = ctx;
    const fer_conv2d_args *a = p->a;
    const cpu_kernels *k = p->k;
    int n0, n_img, r0, nr;
    task_span(p, task, &n0, &n_img, &r0, &nr);
    float *xb = p->scratch + (size_t)worker * worker_floats(p);
    float *v = xb + p->xb_floats, *m = v + p->v_floats;
    size_t tiles_img = (size_t)nr * p->tw, tiles = (size_t)n_img * tiles_img;
    size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    /* tile-major: element (xi, tile t, channel c) at t*xi_count*C + xi*C + c */
    size_t v_t = (size_t)p->xi * p->cip, m_t = (size_t)p->xi * p->cop;

    int ob_n = p->cop / p->wob;
    uint16_t *v16 = (uint16_t *)(m + p->m_floats);
    /* bf16: the transform writes bf16 itself where the set can (same bits as converting) */
    int direct16 = p->bf16 && p->f->in_bf16;
    /* padding tiles of the GEMM: zero inputs, outputs ignored */
    if (tiles < p->tp) {
        if (direct16)
            memset(v16 + tiles * v_t, 0, (p->tp - tiles) * v_t * sizeof(uint16_t));
        else
            memset(v + tiles * v_t, 0, (p->tp - tiles) * v_t * sizeof(float));
    }
    for (int i = 0; i < n_img; i++) {
        const float *xi_img = p->x + (size_t)(n0 + i) * a->in_c * in_plane;
        for (int cg = 0; cg < p->cip / p->cb; cg++) {
            k->wino_block(xi_img, a->in_c, a->in_h, a->in_w, cg * p->cb, p->m * r0 - a->pad,
                          p->band_rows, -a->pad, p->band_cols, xb);
            if (direct16)
                p->f->in_bf16(xb, p->band_cols, nr, p->tw,
                              v16 + (size_t)i * tiles_img * v_t + cg * p->cb, (size_t)p->cip, v_t);
            else
                p->f->in(xb, p->band_cols, nr, p->tw,
                         v + (size_t)i * tiles_img * v_t + cg * p->cb, (size_t)p->cip, v_t);
        }
    }
    if (p->bf16) { /* the transformed tiles rounded to bf16 once, reused by every ob block */
        if (!direct16)
            cpu_bf16_convert(p->tp * v_t, v, v16);
        if (p->amx) {
            cpu_amx_begin(p->cip / 2);
            for (int xi = 0; xi < p->xi; xi++)
                for (int ob = 0; ob < ob_n; ob++)
                    cpu_amx_gemm((int)p->tp, p->cip / 2, v16 + (size_t)xi * p->cip, v_t,
                                 p->u16 + ((size_t)xi * ob_n + ob) * (p->cip / 2) * p->wob,
                                 CPU_BF16_CO, m + (size_t)xi * p->cop + ob * p->wob, m_t, 0);
            cpu_amx_end();
        } else
        for (int xi = 0; xi < p->xi; xi++)
            for (int ob = 0; ob < ob_n; ob++) {
                const uint32_t *b = p->u16 + ((size_t)xi * ob_n + ob) * (p->cip / 2) * p->wob;
                for (size_t t = 0; t < p->tp; t += 6)
                    cpu_bf16_wino_gemm(p->cip, v16 + t * v_t + (size_t)xi * p->cip, v_t, b,
                                       m + t * m_t + (size_t)xi * p->cop + ob * p->wob, m_t);
            }
    } else
    for (int xi = 0; xi < p->xi; xi++)
        for (int ob = 0; ob < ob_n; ob++) {
            const float *b = p->u + ((size_t)xi * ob_n + ob) * p->cip * p->wob;
            size_t t = 0;
            if (k->wino_gemm12)
                for (; t + 12 <= p->tp; t += 12)
                    k->wino_gemm12(p->cip, v + t * v_t + (size_t)xi * p->cip, v_t, b,
                                   m + t * m_t + (size_t)xi * p->cop + ob * p->wob, m_t);
            for (; t < p->tp; t += 6)
                k->wino_gemm(p->cip, v + t * v_t + (size_t)xi * p->cip, v_t, b,
                             m + t * m_t + (size_t)xi * p->cop + ob * p->wob, m_t);
        }
    if (p->stage_floats) { /* one tile row at a time through the stage: m rows x out_w per channel */
        float *stage = xb + worker_floats(p) - p->stage_floats;
        size_t strip = (size_t)p->m * a->out_w;
        for (int i = 0; i < n_img; i++)
            for (int r = 0; r < nr; r++) {
                int row = p->m * (r0 + r), rows = a->out_h - row < p->m ? a->out_h - row : p->m;
                float *y_row =
                    p->y + (size_t)(n0 + i) * a->out_c * out_plane + (size_t)row * a->out_w;
                for (int og = 0; og < a->out_c; og += p->cb) {
                    int n_co = a->out_c - og < p->cb ? a->out_c - og : p->cb;
                    p->f->out(m + ((size_t)i * tiles_img + (size_t)r * p->tw) * m_t + og,
                              (size_t)p->cop, m_t, 1, p->tw, p->bias ? p->bias + og : NULL, n_co,
                              stage, strip, a->out_w, rows, a->out_w);
                    for (int ch = 0; ch < n_co; ch++)
                        k->stream_copy(y_row + (size_t)(og + ch) * out_plane, stage + ch * strip,
                                       (size_t)rows * a->out_w);
                }
            }
        cpu_stream_fence();
        return;
    }
    for (int i = 0; i < n_img; i++) {
        float *y_img =
            p->y + (size_t)(n0 + i) * a->out_c * out_plane + (size_t)(p->m * r0) * a->out_w;
        for (int og = 0; og < a->out_c; og += p->cb) {
            int n_co = a->out_c - og < p->cb ? a->out_c - og : p->cb;
            p->f->out(m + (size_t)i * tiles_img * m_t + og, (size_t)p->cop, m_t, nr, p->tw,
                      p->bias ? p->bias + og : NULL, n_co, y_img + (size_t)og * out_plane,
                      out_plane, a->out_w, a->out_h - p->m * r0, a->out_w);
        }
    }
}

fer_status cpu_wino_conv(cpu_ctx *c, const fer_conv2d_args *a, const float *x, const float *w,
                         int flip, const float *bias, float *y)
{
    wino_plan p;
    plan_init(&p, c, a);
    p.x = x;
    p.bias = bias;
    p.y = y;
    size_t u_floats = round_to((size_t)p.xi * p.cip * p.cop, 16);
    transform_ctx tc = {a, w, flip, p.m, p.cip, p.cop, p.wob};
    /* the kind tells the block width (and bf16) apart: a packing never serves other kernels */
    const float *u = cpu_wcache_get(
        c, w, (size_t)a->in_c * a->out_c * 9, a->weights_gen, 10 + 2 * p.m + flip + 100 * p.wob + 5000 * p.bf16,
        a->out_c, a->in_c, p.m, p.bf16 ? u_floats / 2 : u_floats,
        p.bf16 ? transform_bf16_cb : transform_cb, &tc);
    p.u = u;
    p.u16 = (const uint32_t *)u;
    /* strips of whole cache lines (F(4x4): 4 rows of 48, 24 or 12 columns; F(2x2): 2 rows of
     * 48 or 24); other widths keep plain stores (the copy's unaligned ends measured slower) */
    size_t out_bytes = (size_t)a->n * a->out_c * a->out_h * a->out_w * sizeof(float);
    int stream = (p.m * a->out_w) % 16 == 0 && out_bytes >= c->stream_min_bytes;
    p.stage_floats = stream ? round_to((size_t)p.cb * p.m * a->out_w, 16) : 0;
    p.scratch = cpu_workspace(c, worker_floats(&p) * (size_t)c->threads);
    if (!p.u || !p.scratch)
        return FER_ERR_NOMEM;
    cpu_parallel(c, p.groups * p.bands, wino_task, &p);
    return FER_OK;
}

/* ---- weight gradient: dW = G^T [ sum over tiles (A E A^T) . (B^T D B) ] G ------------------
 * (F(3x3, m x m): the m x m tiles of dy are the filter; same transforms as above) */

/* Partial sums in slots (a fixed function of the work, reduced in order: the same bits for any
 * thread count); about 4 chunks per slot, at most 16 slots. */
#define WGRAD_SLOTS_MAX 16

static void wgrad_task(void *ctx, int slot, int worker)
{
    const wino_plan *p = ctx;
    const fer_conv2d_args *a = p->a;
    const cpu_kernels *k = p->k;
    size_t per_slot = (size_t)p->xi * p->ci_rows * p->cop;
    float *acc = p->partial + (size_t)slot * per_slot;
    memset(acc, 0, per_slot * sizeof(float));
    float *xb = p->scratch + (size_t)worker * worker_floats(p);
    float *vx = xb + p->xb_floats, *vd = vx + p->v_floats;
    size_t in_plane = (size_t)a->in_h * a->in_w, out_plane = (size_t)a->out_h * a->out_w;
    /* xi-major here: the GEMM below streams contiguous tile rows for each xi */
    size_t vx_xi = p->tp * p->cip, vd_xi = p->tp * p->cop;
    int ob_n = p->cop / p->wob;
    int c0 = slot * p->chunks_per_slot, c1 = c0 + p->chunks_per_slot;
    if (c1 > p->groups * p->bands)
        c1 = p->groups * p->bands;
    for (int chunk = c0; chunk < c1; chunk++) {
        int n0, n_img, r0, nr;
        task_span(p, chunk, &n0, &n_img, &r0, &nr);
        size_t tiles_img = (size_t)nr * p->tw;
        for (int i = 0; i < n_img; i++) {
            const float *x_img = p->x + (size_t)(n0 + i) * a->in_c * in_plane;
            const float *dy_img = p->dy + (size_t)(n0 + i) * a->out_c * out_plane;
            for (int cg = 0; cg < p->cip / p->cb; cg++) {
                k->wino_block(x_img, a->in_c, a->in_h, a->in_w, cg * p->cb, p->m * r0 - a->pad,
                              p->band_rows, -a->pad, p->band_cols, xb);
                p->f->in(xb, p->band_cols, nr, p->tw,
                         vx + (size_t)i * tiles_img * p->cip + cg * p->cb,
                         vx_xi, (size_t)p->cip);
            }
            for (int og = 0; og < p->cop / p->cb; og++) {
                k->wino_block(dy_img, a->out_c, a->out_h, a->out_w, og * p->cb, p->m * r0,
                              p->m * nr, 0, p->m * p->tw, xb);
                p->f->dy(xb, p->m * p->tw, nr, p->tw,
                         vd + (size_t)i * tiles_img * p->cop + og * p->cb,
                         vd_xi, (size_t)p->cop);
            }
        }
        int tiles = (int)((size_t)n_img * tiles_img);
        if (p->bf16) { /* both operands as bf16 pairs over the tiles (a zero partner if odd) */
            size_t kp = (size_t)(tiles + 1) / 2, x2_xi = kp * p->cip, d2_xi = kp * p->cop;
            uint32_t *x2 = (uint32_t *)(vd + p->m_floats), *d2 = x2 + (size_t)p->xi * x2_xi + 16;
            for (int xi = 0; xi < p->xi; xi++) {
                cpu_bf16_pack_pairs(vx + xi * vx_xi, (size_t)p->cip, tiles, p->cip,
                                    x2 + xi * x2_xi, (size_t)p->cip);
                cpu_bf16_pack_pairs(vd + xi * vd_xi, (size_t)p->cop, tiles, p->cop,
                                    d2 + xi * d2_xi, (size_t)p->cop);
            }
            if (p->amx) { /* A = x^T: rows of input channels along the tiles */
                uint32_t *xt = d2 + (size_t)p->xi * d2_xi + 16;
                cpu_amx_begin((int)kp);
                for (int xi = 0; xi < p->xi; xi++) {
                    cpu_amx_transpose_words(x2 + xi * x2_xi, (size_t)p->cip, (int)kp, p->cip, xt,
                                            kp, p->ci_rows);
                    for (int ob = 0; ob < ob_n; ob++)
                        cpu_amx_gemm(p->ci_rows, (int)kp, (const uint16_t *)xt, 2 * kp,
                                     d2 + xi * d2_xi + ob * p->wob, (size_t)p->cop,
                                     acc + (size_t)xi * p->ci_rows * p->cop + ob * p->wob,
                                     (size_t)p->cop, 1);
                }
                cpu_amx_end();
                continue;
            }
            for (int xi = 0; xi < p->xi; xi++)
                for (int ci0 = 0; ci0 < p->cip; ci0 += 6)
                    for (int ob = 0; ob < ob_n; ob++)
                        cpu_bf16_wino_gemm_tn(
                            (int)kp, x2 + xi * x2_xi + ci0, (size_t)p->cip,
                            d2 + xi * d2_xi + ob * p->wob, (size_t)p->cop,
                            acc + ((size_t)xi * p->ci_rows + ci0) * p->cop + ob * p->wob, p->cop);
            continue;
        }
        for (int xi = 0; xi < p->xi; xi++)
            for (int ci0 = 0, step; ci0 < p->cip; ci0 += step) {
                /* 12 rows while they stay inside the accumulator's ci_rows (rows past cip are
                 * slack, as the 6-row tile's) */
                step = k->wino_gemm_tn12 && ci0 + 12 <= p->ci_rows ? 12 : 6;
                for (int ob = 0; ob < ob_n; ob++)
                    (step == 12 ? k->wino_gemm_tn12 : k->wino_gemm_tn)(
                        tiles, vx + xi * vx_xi + ci0, (size_t)p->cip,
                        vd + xi * vd_xi + ob * p->wob, (size_t)p->cop,
                        acc + ((size_t)xi * p->ci_rows + ci0) * p->cop + ob * p->wob, p->cop);
            }
    }
}

typedef struct wgrad_out_job {
    const wino_plan *p;
    int slots;
    size_t n, per_task; /* reduction: floats of a slot, per task */
    float *dw;
} wgrad_out_job;

/* slot 0 += slot 1, += slot 2, ... (a fixed order) */
static void wgrad_reduce_task(void *ctx, int task, int worker)
{
    (void)worker;
    const wgrad_out_job *j = ctx;
    size_t a = (size_t)task * j->per_task, len = j->n - a < j->per_task ? j->n - a : j->per_task;
    for (int s = 1; s < j->slots; s++)
        j->p->k->axpy(len, 1.0f, j->p->partial + (size_t)s * j->n + a, j->p->partial + a);
}

#define OUT_CO 64 /* output channels per pass of the final transform */

/* dw[co][ci] = G^T M[ci][co] G for one input channel, OUT_CO output channels at a time. */
static void wgrad_out_task(void *ctx, int ci, int worker)
{
    (void)worker;
    const wgrad_out_job *j = ctx;
    const wino_plan *p = j->p;
    const fer_conv2d_args *a = p->a;
    const float(*G)[3] = p->m == 4 ? G4 : G2;
    int at = p->m + 2;
    for (int co0 = 0; co0 < a->out_c; co0 += OUT_CO) {
        int n = a->out_c - co0 < OUT_CO ? a->out_c - co0 : OUT_CO;
        float t[3][6][OUT_CO], o[9][OUT_CO];
        for (int r = 0; r < 3; r++) /* t = G^T m (rows) */
            for (int c = 0; c < at; c++) {
                float *tr = t[r][c];
                for (int q = 0; q < n; q++)
                    tr[q] = 0.0f;
                for (int i = 0; i < at; i++) {
                    float g = G[i][r];
                    const float *m =
                        p->partial + ((size_t)(i * at + c) * p->ci_rows + ci) * p->cop + co0;
                    if (g != 0.0f)
                        for (int q = 0; q < n; q++)
                            tr[q] += g * m[q];
                }
            }
        for (int r = 0; r < 3; r++) /* o = t G (columns) */
            for (int c = 0; c < 3; c++) {
                float *orow = o[r * 3 + c];
                for (int q = 0; q < n; q++)
                    orow[q] = 0.0f;
                for (int i = 0; i < at; i++) {
                    float g = G[i][c];
                    if (g != 0.0f)
                        for (int q = 0; q < n; q++)
                            orow[q] += t[r][i][q] * g;
                }
            }
        for (int q = 0; q < n; q++) {
            float *d = j->dw + ((size_t)(co0 + q) * a->in_c + ci) * 9;
            for (int e = 0; e < 9; e++)
                d[e] = o[e][q];
        }
    }
}

fer_status cpu_wino_wgrad(cpu_ctx *c, const fer_conv2d_args *a, const float *x, const float *dy,
                          float *dw)
{
    wino_plan p;
    plan_init(&p, c, a);
    p.x = x;
    p.dy = dy;
    int chunks = p.groups * p.bands;
    int want = chunks / 4 < 1 ? 1 : (chunks / 4 > WGRAD_SLOTS_MAX ? WGRAD_SLOTS_MAX : chunks / 4);
    p.chunks_per_slot = (chunks + want - 1) / want;
    int slots = (chunks + p.chunks_per_slot - 1) / p.chunks_per_slot;
    size_t per_slot = round_to((size_t)p.xi * p.ci_rows * p.cop, 16);
    size_t per_worker = worker_floats(&p);
    float *ws = cpu_workspace(c, per_slot * (size_t)slots + per_worker * (size_t)c->threads);
    if (!ws)
        return FER_ERR_NOMEM;
    p.partial = ws;
    p.scratch = ws + per_slot * (size_t)slots;
    /* the GEMM may read a few floats past the transformed input (bf16: past its pairs): keep
     * them finite */
    for (int t = 0; t < c->threads; t++) {
        float *s = p.scratch + (size_t)t * per_worker + p.xb_floats;
        memset(s, 0, p.v_floats * sizeof(float));
        memset(s + p.v_floats + p.m_floats, 0, p.w16_floats * sizeof(float));
    }
    cpu_parallel(c, slots, wgrad_task, &p);
    wgrad_out_job oj = {&p, slots, (size_t)p.xi * p.ci_rows * p.cop, 16384, dw};
    if (slots > 1)
        cpu_parallel(c, (int)((oj.n + oj.per_task - 1) / oj.per_task), wgrad_reduce_task, &oj);
    cpu_parallel(c, a->in_c, wgrad_out_task, &oj);
    return FER_OK;
}
