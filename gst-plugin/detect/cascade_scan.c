/* Sliding the window over one pyramid level: exhaustively (as OpenCV) or coarse-to-fine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cascade_eval.h"

static fer_status ivec_push(fer_cascade *c, fer_ivec *v, int32_t x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int32_t *p = realloc(v->v, cap * sizeof *p);
        if (!p)
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", c->path);
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return FER_OK;
}

static fer_status push_hit(fer_cascade *c, const fer_scan_level *lv, int x, int y)
{
    fer_cascade_box b = {(int)lrint(x * lv->factor), (int)lrint(y * lv->factor), lv->ww, lv->wh, 1};
    return fer_cascade_boxes_push(&c->raw, b);
}

fer_status fer_scan_exhaustive(fer_cascade *c, const fer_scan_level *lv)
{
    int step = lv->step, stride = c->ofs_stride;
    for (int y = 0; y + c->win_h <= lv->lh; y += step) {
        const uint32_t *row = c->ints + (size_t)y * stride;
        for (int x = 0; x + c->win_w <= lv->lw; x += step) {
            int r = fer_eval_window(c, row + x);
            if (r > 0) {
                fer_status st = push_hit(c, lv, x, y);
                if (st != FER_OK)
                    return st;
            } else if (r == 0) {
                x += step; /* rejected by the first stage: the neighbour likely is too */
            }
        }
    }
    return FER_OK;
}

/* The exhaustive scan with 8 windows at a time: every window on the step grid is evaluated,
 * and a hit right after a window rejected by the first stage is dropped, so the hits are
 * exactly those of fer_scan_exhaustive. Needs the SIMD path; at steps > 1 the split layout
 * prepared for lanes step pixels apart. */
fer_status fer_scan_dense(fer_cascade *c, const fer_scan_level *lv)
{
    int step = lv->step;
    int nx = (lv->lw - c->win_w) / step + 1, ny = (lv->lh - c->win_h) / step + 1;
    if (step > 1)
        fer_simd_split(c, lv->lw, lv->lh);
    for (int iy = 0; iy < ny; iy++) {
        int skip = 0;
        for (int ix = 0; ix < nx; ix += 8) {
            int n = nx - ix < 8 ? nx - ix : 8, res[8];
            if (step == 1)
                fer_simd_eval8_adjacent(c, ix, iy, (1u << n) - 1, res);
            else
                fer_simd_eval8(c, ix * step, iy * step, n, res);
            for (int l = 0; l < n; l++) {
                if (skip) {
                    skip = 0;
                    continue;
                }
                if (res[l] > 0) {
                    fer_status st = push_hit(c, lv, (ix + l) * step, iy * step);
                    if (st != FER_OK)
                        return st;
                } else if (res[l] == 0) {
                    skip = 1;
                }
            }
        }
    }
    return FER_OK;
}

/* Window cells of the fine grid: cell (ix, iy) is the window at (ix * step, iy * step). */
enum { CELL_NEW = 0, CELL_PENDING = 1, CELL_DONE = 2 };

typedef struct grid {
    int nx, ny;
    int deep; /* a window rejected at this stage or later counts as promising */
} grid;

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Handles the result of one evaluated cell. */
static fer_status settle(fer_cascade *c, const fer_scan_level *lv, const grid *g, int32_t cell,
                         int r)
{
    c->visited[cell] = CELL_DONE;
    fer_status st = FER_OK;
    if (r > 0)
        st = push_hit(c, lv, (cell % g->nx) * lv->step, (cell / g->nx) * lv->step);
    if (st == FER_OK && (r > 0 || -r >= g->deep))
        st = ivec_push(c, &c->todo, cell);
    return st;
}

/* The eight cells around each promising cell that were never looked at become pending. */
static fer_status expand(fer_cascade *c, const grid *g)
{
    c->pending.n = 0;
    fer_status st = FER_OK;
    for (size_t i = 0; i < c->todo.n && st == FER_OK; i++) {
        int cx = c->todo.v[i] % g->nx, cy = c->todo.v[i] / g->nx;
        for (int iy = cy - 1; iy <= cy + 1 && st == FER_OK; iy++)
            for (int ix = cx - 1; ix <= cx + 1 && st == FER_OK; ix++) {
                if (ix < 0 || iy < 0 || ix >= g->nx || iy >= g->ny)
                    continue;
                int32_t cell = iy * g->nx + ix;
                if (c->visited[cell] != CELL_NEW)
                    continue;
                c->visited[cell] = CELL_PENDING;
                st = ivec_push(c, &c->pending, cell);
            }
    }
    c->todo.n = 0;
    return st;
}

/* Evaluates the pending cells in row order, runs of up to 8 neighbours at once on the SIMD
 * path (windows one pixel apart are adjacent in the integral image). */
static fer_status evaluate_pending(fer_cascade *c, const fer_scan_level *lv, const grid *g,
                                   int simd)
{
    if (c->pending.n == 0) /* pending.v may still be NULL; qsort(NULL, 0, ...) is undefined */
        return FER_OK;
    qsort(c->pending.v, c->pending.n, sizeof *c->pending.v, cmp_i32);
    fer_status st = FER_OK;
    size_t i = 0;
    while (i < c->pending.n && st == FER_OK) {
        int32_t first = c->pending.v[i];
        int fx = first % g->nx, fy = first / g->nx;
        unsigned lanes = 0;
        size_t j = i;
        while (j < c->pending.n && c->pending.v[j] / g->nx == fy &&
               c->pending.v[j] % g->nx - fx < 8)
            lanes |= 1u << (c->pending.v[j++] % g->nx - fx);
        int res[8];
        if (simd) {
            fer_simd_eval8_adjacent(c, fx * lv->step, fy * lv->step, lanes, res);
        } else {
            const uint32_t *row = c->ints + (size_t)fy * lv->step * c->ofs_stride;
            for (int l = 0; l < 8; l++)
                if (lanes & (1u << l))
                    res[l] = fer_eval_window(c, row + (fx + l) * lv->step);
        }
        for (int l = 0; l < 8 && st == FER_OK; l++)
            if (lanes & (1u << l))
                st = settle(c, lv, g, first + l, res[l]);
        i = j;
    }
    return st;
}

/* Coarse-to-fine: windows on a grid of twice the step first; around every window that is a
 * hit or gets deep into the cascade, the neighbours on the fine grid are evaluated too, and
 * so on while they keep being promising (a flood fill over each cluster). A face produces a
 * cluster of neighbouring hits, so this finds nearly all the hits of the exhaustive scan at
 * about a third of its cost. The set of evaluated windows does not depend on the order, so
 * the SIMD and scalar paths give the same boxes. */
fer_status fer_scan_coarse_to_fine(fer_cascade *c, const fer_scan_level *lv)
{
    int step = lv->step;
    grid g = {(lv->lw - c->win_w) / step + 1, (lv->lh - c->win_h) / step + 1, 0};
    g.deep = c->n_stages / 2 > 1 ? c->n_stages / 2 : 1;
    size_t cells = (size_t)g.nx * g.ny;
    fer_status st = fer_cascade_grow((void **)&c->visited, &c->visited_cap, cells, c->path);
    if (st != FER_OK)
        return st;
    memset(c->visited, CELL_NEW, cells);
    c->todo.n = 0;
    int simd = fer_simd_usable(c);
    if (simd)
        fer_simd_split(c, lv->lw, lv->lh);
    for (int iy = 0; iy < g.ny && st == FER_OK; iy += 2) {
        const uint32_t *row = c->ints + (size_t)iy * step * c->ofs_stride;
        for (int ix = 0; ix < g.nx && st == FER_OK;) {
            int res[8], n = 1;
            if (simd) {
                n = (g.nx - ix + 1) / 2 < 8 ? (g.nx - ix + 1) / 2 : 8;
                fer_simd_eval8(c, ix * step, iy * step, n, res);
            } else {
                res[0] = fer_eval_window(c, row + ix * step);
            }
            for (int l = 0; l < n && st == FER_OK; l++, ix += 2)
                st = settle(c, lv, &g, iy * g.nx + ix, res[l]);
        }
    }
    /* Adjacent fine windows are one pixel apart only at step 1. */
    int simd_fine = simd && step == 1;
    while (st == FER_OK && c->todo.n > 0) {
        st = expand(c, &g);
        if (st == FER_OK)
            st = evaluate_pending(c, lv, &g, simd_fine);
    }
    return st;
}
