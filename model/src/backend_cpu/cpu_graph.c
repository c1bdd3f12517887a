/* Graph ops of the CPU backend (add, channel copy, mul gate, PReLU, pad2d), threaded over the pool:
 * add in fixed-size chunks, the others in groups of whole planes (one sample-channel's hw
 * values) so a per-channel slope or gate is looked up once per plane. Per-element math comes
 * from graph_math.h, so forward values and non-reduced gradients equal ref bit for bit.
 * Reductions: mul's broadcast dg is each plane's sum in order (as ref); PReLU's dw sums each
 * plane in double, then the planes of a channel in sample order (ref sums the channel in one
 * pass), so it is deterministic and independent of the thread count. */
#include <string.h>

#include "cpu_internal.h"
#include "fer/graph_math.h"
#include "fer/layer_math.h"

#define ADD_CHUNK 16384    /* elements per add task */
#define TASK_FLOATS 32768  /* ~128 KiB of input per plane-group task */

typedef struct graph_job {
    size_t n;             /* add: elements */
    size_t planes, hw;    /* plane-group ops */
    size_t planes_per_task;
    int c;                /* channels per sample */
    int g_hw;             /* mul: gate values per plane (1 or hw) */
    const fer_channel_copy_args *copy;
    const fer_pad2d_args *pad;
    const float *x, *x1, *g, *w, *dy;
    float *y, *dx, *dg;
    double *partial;      /* prelu: dw per plane */
    int relu;             /* add: relu(x0 + x1) */
} graph_job;

static size_t plane_group(cpu_ctx *cx, size_t planes, size_t hw)
{
    size_t by_size = (TASK_FLOATS + hw - 1) / (hw ? hw : 1);
    size_t by_balance = planes / (size_t)(8 * cx->threads);
    size_t per = by_size < by_balance ? by_size : by_balance;
    return per < 1 ? 1 : per;
}

static int n_tasks_of(const graph_job *j)
{
    return (int)((j->planes + j->planes_per_task - 1) / j->planes_per_task);
}

static void plane_range(const graph_job *j, int task, size_t *p0, size_t *p1)
{
    *p0 = (size_t)task * j->planes_per_task;
    *p1 = *p0 + j->planes_per_task < j->planes ? *p0 + j->planes_per_task : j->planes;
}

/* Runs fn over planes x hw values in groups of whole planes (j holds the op's own fields). */
static void run_planes(cpu_ctx *cx, graph_job *j, size_t planes, size_t hw, fer_task_fn fn)
{
    j->planes = planes;
    j->hw = hw;
    j->planes_per_task = plane_group(cx, planes, hw);
    cpu_parallel(cx, n_tasks_of(j), fn, j);
}

/* ---- add -------------------------------------------------------------------------------- */

static void add_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    size_t a = (size_t)task * ADD_CHUNK, b = a + ADD_CHUNK < j->n ? a + ADD_CHUNK : j->n;
    const float *x0 = j->x, *x1 = j->x1; /* y may be x0 or x1: element i reads, then writes */
    float *y = j->y;
    if (j->relu)
        for (size_t i = a; i < b; i++)
            y[i] = fer_relu(fer_add(x0[i], x1[i]));
    else
        for (size_t i = a; i < b; i++)
            y[i] = fer_add(x0[i], x1[i]);
}

static fer_status add_run(fer_backend *b, size_t n, const float *x0, const float *x1, float *y,
                          int relu)
{
    graph_job j = {.n = n, .x = x0, .x1 = x1, .y = y, .relu = relu};
    cpu_parallel(cpu_of(b), (int)((n + ADD_CHUNK - 1) / ADD_CHUNK), add_task, &j);
    return FER_OK;
}

fer_status cpu_add(fer_backend *b, size_t n, const float *x0, const float *x1, float *y)
{
    return add_run(b, n, x0, x1, y, 0);
}

/* a residual block's add and the ReLU after it in one pass (model.c plan_fusions) */
fer_status cpu_add_relu(fer_backend *b, size_t n, const float *x0, const float *x1, float *y)
{
    return add_run(b, n, x0, x1, y, 1);
}

/* ---- channel copy: plane p of the block is sample p / c, channel p % c ------------------- */

static void copy_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    const fer_channel_copy_args *a = j->copy;
    size_t p0, p1;
    plane_range(j, task, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        size_t src_i, dst_i;
        fer_channel_copy_offsets(a, p * j->hw, &src_i, &dst_i);
        memcpy(j->y + dst_i, j->x + src_i, j->hw * sizeof(float));
    }
}

fer_status cpu_channel_copy(fer_backend *b, const fer_channel_copy_args *a, const float *src,
                            float *dst)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->hw;
    if (planes == 0 || hw == 0)
        return FER_OK;
    graph_job j = {.copy = a, .x = src, .y = dst};
    run_planes(cx, &j, planes, hw, copy_task);
    return FER_OK;
}

/* ---- pad2d: whole planes, rows copied between zero borders (exact, as ref) ------------- */

static void pad2d_fwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    const fer_pad2d_args *a = j->pad;
    const size_t ow = (size_t)a->left + a->in_w + a->right, in_hw = (size_t)a->in_h * a->in_w;
    size_t p0, p1;
    plane_range(j, task, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        float *y = j->y + p * j->hw;
        const float *x = j->x + p * in_hw;
        memset(y, 0, (size_t)a->top * ow * sizeof(float));
        y += (size_t)a->top * ow;
        for (int r = 0; r < a->in_h; r++, y += ow, x += a->in_w) {
            memset(y, 0, (size_t)a->left * sizeof(float));
            memcpy(y + a->left, x, (size_t)a->in_w * sizeof(float));
            memset(y + a->left + a->in_w, 0, (size_t)a->right * sizeof(float));
        }
        memset(y, 0, (size_t)a->bottom * ow * sizeof(float));
    }
}

static void pad2d_bwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    const fer_pad2d_args *a = j->pad;
    const size_t ow = (size_t)a->left + a->in_w + a->right;
    const size_t out_hw = ((size_t)a->top + a->in_h + a->bottom) * ow;
    size_t p0, p1;
    plane_range(j, task, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        const float *dy = j->dy + p * out_hw + (size_t)a->top * ow + a->left;
        float *dx = j->dx + p * j->hw;
        for (int r = 0; r < a->in_h; r++, dy += ow, dx += a->in_w)
            memcpy(dx, dy, (size_t)a->in_w * sizeof(float));
    }
}

fer_status cpu_pad2d_forward(fer_backend *b, const fer_pad2d_args *a, const float *x, float *y)
{
    size_t out_hw = ((size_t)a->top + a->in_h + a->bottom) * ((size_t)a->left + a->in_w + a->right);
    if (a->n <= 0 || out_hw == 0)
        return FER_OK;
    graph_job j = {.pad = a, .x = x, .y = y};
    run_planes(cpu_of(b), &j, (size_t)a->n, out_hw, pad2d_fwd_task);
    return FER_OK;
}

fer_status cpu_pad2d_backward(fer_backend *b, const fer_pad2d_args *a, const float *dy, float *dx)
{
    size_t in_hw = (size_t)a->in_h * a->in_w;
    if (a->n <= 0 || in_hw == 0)
        return FER_OK;
    graph_job j = {.pad = a, .dy = dy, .dx = dx};
    run_planes(cpu_of(b), &j, (size_t)a->n, in_hw, pad2d_bwd_task);
    return FER_OK;
}

/* ---- mul -------------------------------------------------------------------------------- */

/* dst = src * the gate of plane p (one value broadcast, or the gate's own plane): mul's
 * forward (src x) and its input gradient (src dy) */
static void gate_plane(const graph_job *j, size_t p, const float *restrict src,
                       float *restrict dst)
{
    const size_t hw = j->hw;
    if (j->g_hw == 1) {
        const float gate = j->g[p];
        for (size_t i = 0; i < hw; i++)
            dst[i] = fer_mul(src[i], gate);
    } else {
        const float *restrict g = j->g + p * hw;
        for (size_t i = 0; i < hw; i++)
            dst[i] = fer_mul(src[i], g[i]);
    }
}

static void mul_fwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    size_t p0, p1;
    plane_range(j, task, &p0, &p1);
    for (size_t p = p0; p < p1; p++)
        gate_plane(j, p, j->x + p * j->hw, j->y + p * j->hw);
}

fer_status cpu_mul_forward(fer_backend *b, const fer_mul_args *a, const float *x, const float *g,
                           float *y)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->hw;
    if (planes == 0 || hw == 0)
        return FER_OK;
    graph_job j = {.g_hw = a->g_hw, .x = x, .g = g, .y = y};
    run_planes(cx, &j, planes, hw, mul_fwd_task);
    return FER_OK;
}

static void mul_bwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    size_t p0, p1;
    plane_range(j, task, &p0, &p1);
    const size_t hw = j->hw;
    for (size_t p = p0; p < p1; p++) {
        const float *restrict x = j->x + p * hw, *restrict dy = j->dy + p * hw;
        if (j->dx)
            gate_plane(j, p, dy, j->dx + p * hw);
        if (j->dg && j->g_hw == 1) {
            double s = 0.0; /* the plane in order, as ref */
            for (size_t i = 0; i < hw; i++)
                s += fer_mul_dg_term(x[i], dy[i]);
            j->dg[p] = (float)s;
        } else if (j->dg) {
            float *restrict dg = j->dg + p * hw;
            for (size_t i = 0; i < hw; i++)
                dg[i] = (float)fer_mul_dg_term(x[i], dy[i]);
        }
    }
}

fer_status cpu_mul_backward(fer_backend *b, const fer_mul_args *a, const float *x,
                            const float *g, const float *dy, float *dx, float *dg)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->hw;
    if (planes == 0 || hw == 0 || (!dx && !dg))
        return FER_OK;
    graph_job j = {.g_hw = a->g_hw, .x = x, .g = g, .dy = dy, .dx = dx, .dg = dg};
    run_planes(cx, &j, planes, hw, mul_bwd_task);
    return FER_OK;
}

/* ---- PReLU ------------------------------------------------------------------------------ */

static void prelu_fwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    size_t p0, p1;
    plane_range(j, task, &p0, &p1);
    const size_t hw = j->hw;
    for (size_t p = p0; p < p1; p++) {
        const float *restrict x = j->x + p * hw;
        float *restrict y = j->y + p * hw;
        const float w = j->w[p % (size_t)j->c];
        for (size_t i = 0; i < hw; i++)
            y[i] = fer_prelu(x[i], w);
    }
}

fer_status cpu_prelu_forward(fer_backend *b, const fer_prelu_args *a, const float *x,
                             const float *w, float *y)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->hw;
    if (planes == 0 || hw == 0)
        return FER_OK;
    graph_job j = {.c = a->c, .x = x, .w = w, .y = y};
    run_planes(cx, &j, planes, hw, prelu_fwd_task);
    return FER_OK;
}

/* One pass per plane: each element's dw term is read from dy before dx (which may be dy)
 * overwrites that element. */
static void prelu_bwd_task(void *ctx, int task, int worker)
{
    (void)worker;
    const graph_job *j = ctx;
    size_t p0, p1;
    plane_range(j, task, &p0, &p1);
    const size_t hw = j->hw;
    for (size_t p = p0; p < p1; p++) {
        const float *x = j->x + p * hw, *dy = j->dy + p * hw;
        float *dx = j->dx ? j->dx + p * hw : NULL;
        const float w = j->w[p % (size_t)j->c];
        double s = 0.0;
        for (size_t i = 0; i < hw; i++) {
            float d = dy[i];
            s += fer_prelu_dw_term(x[i], d);
            if (dx)
                dx[i] = fer_prelu_backward(x[i], w, d);
        }
        if (j->partial)
            j->partial[p] = s;
    }
}

fer_status cpu_prelu_backward(fer_backend *b, const fer_prelu_args *a, const float *x,
                              const float *w, const float *dy, float *dx, float *dw)
{
    cpu_ctx *cx = cpu_of(b);
    size_t planes = (size_t)a->n * a->c, hw = (size_t)a->hw;
    if (dw)
        memset(dw, 0, (size_t)(a->c > 0 ? a->c : 0) * sizeof(float));
    if (planes == 0 || hw == 0 || (!dx && !dw))
        return FER_OK;
    double *partial = NULL;
    if (dw) {
        /* one double (2 floats) per plane in the op workspace */
        partial = (double *)(void *)cpu_workspace(cx, 2 * planes);
        if (!partial)
            return FER_ERR_NOMEM;
    }
    graph_job j = {.c = a->c, .x = x, .w = w, .dy = dy, .dx = dx, .partial = partial};
    run_planes(cx, &j, planes, hw, prelu_bwd_task);
    if (dw) {
        for (int c = 0; c < a->c; c++) {
            double s = 0.0;
            for (int n = 0; n < a->n; n++)
                s += partial[(size_t)n * a->c + c];
            dw[c] = (float)s;
        }
    }
    return FER_OK;
}
