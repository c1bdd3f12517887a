/* Face-box tracking by block-averaged template matching (see face_track.h). */
#include "face_track.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Boxes and frames beyond these are refused rather than allocated for. */
#define MAX_SIDE (1 << 16)
#define MAX_TEMPLATE_BLOCKS (1 << 16)
/* A candidate needs at least this share of the template's blocks inside the frame. */
#define MIN_COVERED 0.5
/* Hill-climbing steps at one pixel after the coarse search (each a 3x3 neighbourhood). */
#define MAX_FINE_STEPS 4

struct fer_track {
    fer_track_params p;
    int width, height;   /* frame size at fer_track_new */
    int b;               /* block side, frame pixels */
    int tw, th;          /* template size, blocks */
    int ox, oy;          /* frame position of the template's first block, now */
    int rx, ry;          /* search radius, frame pixels */
    int n_valid;         /* blocks of the template inside the frame */
    float *tmpl;         /* tw * th block sums */
    unsigned char *valid; /* 1: the block lay inside the frame at fer_track_new */
    uint32_t *integral;  /* search area's integral image (wraps: only differences are used) */
    size_t integral_cap; /* elements */
};

void fer_track_params_default(fer_track_params *p)
{
    p->template_width = 20;
    p->search = 0.25f;
    p->min_score = 0.5f;
}

static fer_status check_frame(const unsigned char *gray, int width, int height, int stride)
{
    if (!gray || width <= 0 || height <= 0 || width > MAX_SIDE || height > MAX_SIDE ||
        stride < width)
        return fer_fail(FER_ERR_ARG, "face track: bad frame %dx%d, stride %d", width, height,
                        stride);
    return FER_OK;
}

static int block_inside(int x, int y, int b, int width, int height)
{
    return x >= 0 && y >= 0 && x <= width - b && y <= height - b;
}

fer_status fer_track_new(const unsigned char *gray, int width, int height, int stride, float x,
                         float y, float w, float h, const fer_track_params *params,
                         fer_track **out)
{
    fer_track_params p;
    fer_status st;

    *out = NULL;
    if (params)
        p = *params;
    else
        fer_track_params_default(&p);
    if ((st = check_frame(gray, width, height, stride)) != FER_OK)
        return st;
    if (p.template_width < 4 || p.template_width > 256 || !(p.search >= 0.0f && p.search <= 1.0f) ||
        !(p.min_score >= -1.0f && p.min_score <= 1.0f))
        return fer_fail(FER_ERR_ARG, "face track: bad parameters (template %d, search %g, "
                        "min score %g)", p.template_width, (double)p.search,
                        (double)p.min_score);
    /* the box may reach out of the frame, but not absurdly far */
    if (!(w >= 4.0f && h >= 4.0f && w <= MAX_SIDE && h <= MAX_SIDE && fabsf(x) <= 2.0f * MAX_SIDE &&
          fabsf(y) <= 2.0f * MAX_SIDE))
        return fer_fail(FER_ERR_ARG, "face track: bad box %g,%g %gx%g", (double)x, (double)y,
                        (double)w, (double)h);

    int b = (int)lrintf(w / (float)p.template_width);
    if (b < 1)
        b = 1;
    int tw = (int)(w / (float)b), th = (int)(h / (float)b);
    if (tw < 1 || th < 1 || (size_t)tw * (size_t)th > MAX_TEMPLATE_BLOCKS)
        return fer_fail(FER_ERR_ARG, "face track: box %gx%g gives a %dx%d template", (double)w,
                        (double)h, tw, th);

    fer_track *t = calloc(1, sizeof *t);
    if (!t)
        return fer_fail(FER_ERR_NOMEM, "face track: out of memory");
    t->p = p;
    t->width = width;
    t->height = height;
    t->b = b;
    t->tw = tw;
    t->th = th;
    /* the template centred on the box (tw * b <= w) */
    t->ox = (int)lrintf(x + 0.5f * (w - (float)(tw * b)));
    t->oy = (int)lrintf(y + 0.5f * (h - (float)(th * b)));
    t->rx = (int)ceilf(p.search * w);
    t->ry = (int)ceilf(p.search * h);
    t->tmpl = malloc((size_t)tw * th * sizeof *t->tmpl);
    t->valid = malloc((size_t)tw * th);
    if (!t->tmpl || !t->valid) {
        fer_track_free(t);
        return fer_fail(FER_ERR_NOMEM, "face track: out of memory");
    }
    for (int j = 0; j < th; j++) {
        for (int i = 0; i < tw; i++) {
            int bx = t->ox + i * b, by = t->oy + j * b;
            size_t k = (size_t)j * tw + i;
            uint32_t sum = 0;
            t->valid[k] = (unsigned char)block_inside(bx, by, b, width, height);
            if (t->valid[k]) {
                for (int yy = by; yy < by + b; yy++)
                    for (int xx = bx; xx < bx + b; xx++)
                        sum += gray[(size_t)yy * stride + xx];
                t->n_valid++;
            }
            t->tmpl[k] = (float)sum;
        }
    }
    *out = t;
    return FER_OK;
}

void fer_track_free(fer_track *t)
{
    if (!t)
        return;
    free(t->tmpl);
    free(t->valid);
    free(t->integral);
    free(t);
}

/* The search area of one update: frame rectangle [x0, x1) x [y0, y1) and its integral image
 * (stride x1 - x0 + 1). */
typedef struct search_area {
    int x0, y0, x1, y1;
    const uint32_t *integral;
    size_t stride;
} search_area;

/* Zero-mean NCC of the template against the blocks at offset dx, dy from the current
 * position, over the blocks inside the frame in both; -1 when too few are. */
static double ncc_at(const fer_track *t, const search_area *a, int dx, int dy)
{
    const int b = t->b;
    double n = 0, st = 0, stt = 0, sc = 0, scc = 0, stc = 0;

    for (int j = 0; j < t->th; j++) {
        int y = t->oy + dy + j * b;
        if (y < a->y0 || y + b > a->y1)
            continue;
        const uint32_t *r0 = a->integral + (size_t)(y - a->y0) * a->stride;
        const uint32_t *r1 = r0 + (size_t)b * a->stride;
        for (int i = 0; i < t->tw; i++) {
            int x = t->ox + dx + i * b;
            size_t k = (size_t)j * t->tw + i;
            if (!t->valid[k] || x < a->x0 || x + b > a->x1)
                continue;
            size_t xl = (size_t)(x - a->x0);
            double c = (double)(uint32_t)(r1[xl + b] - r1[xl] - r0[xl + b] + r0[xl]);
            double v = t->tmpl[k];
            n += 1;
            st += v;
            stt += v * v;
            sc += c;
            scc += c * c;
            stc += v * c;
        }
    }
    if (n < 2 || n < MIN_COVERED * (double)t->tw * t->th)
        return -1.0;
    double vt = stt - st * st / n, vc = scc - sc * sc / n;
    /* a flat template or candidate correlates with nothing */
    if (vt <= 1e-9 * stt || vc <= 1e-9 * scc || vt <= 0 || vc <= 0)
        return 0.0;
    return (stc - st * sc / n) / sqrt(vt * vc);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

fer_status fer_track_update(fer_track *t, const unsigned char *gray, int width, int height,
                            int stride, fer_track_step *step)
{
    fer_status st;

    step->found = 0;
    step->dx = step->dy = 0.0f;
    step->score = -1.0f;
    if ((st = check_frame(gray, width, height, stride)) != FER_OK)
        return st;
    if (width != t->width || height != t->height)
        return fer_fail(FER_ERR_ARG, "face track: frame %dx%d, the template was made on %dx%d",
                        width, height, t->width, t->height);

    /* every block of every candidate that lies in the frame lies in this area */
    const int b = t->b;
    search_area a;
    a.x0 = clampi(t->ox - t->rx, 0, width);
    a.x1 = clampi(t->ox + t->rx + t->tw * b, 0, width);
    a.y0 = clampi(t->oy - t->ry, 0, height);
    a.y1 = clampi(t->oy + t->ry + t->th * b, 0, height);
    if (a.x1 - a.x0 < b || a.y1 - a.y0 < b)
        return FER_OK; /* the box has left the frame */
    a.stride = (size_t)(a.x1 - a.x0) + 1;
    size_t need = a.stride * ((size_t)(a.y1 - a.y0) + 1); /* <= (2^16 + 1)^2: no overflow */
    if (need > t->integral_cap) {
        uint32_t *grown = realloc(t->integral, need * sizeof *grown);
        if (!grown)
            return fer_fail(FER_ERR_NOMEM, "face track: out of memory");
        t->integral = grown;
        t->integral_cap = need;
    }
    uint32_t *ii = t->integral;
    memset(ii, 0, a.stride * sizeof *ii);
    for (int y = a.y0; y < a.y1; y++) {
        const unsigned char *row = gray + (size_t)y * stride;
        uint32_t *prev = ii + (size_t)(y - a.y0) * a.stride, *cur = prev + a.stride;
        uint32_t run = 0;
        cur[0] = 0;
        for (int x = a.x0; x < a.x1; x++) {
            run += row[x];
            cur[x - a.x0 + 1] = prev[x - a.x0 + 1] + run;
        }
    }
    a.integral = ii;

    /* coarse: every block; staying put wins ties */
    int best_dx = 0, best_dy = 0;
    double best = ncc_at(t, &a, 0, 0);
    const int kx = t->rx / b, ky = t->ry / b;
    for (int j = -ky; j <= ky; j++) {
        for (int i = -kx; i <= kx; i++) {
            if (i == 0 && j == 0)
                continue;
            double s = ncc_at(t, &a, i * b, j * b);
            if (s > best) {
                best = s;
                best_dx = i * b;
                best_dy = j * b;
            }
        }
    }
    /* fine: halve the step down to one pixel, then climb at one pixel */
    int fine_steps = 0;
    for (int d = b / 2 > 0 ? b / 2 : 1; d >= 1;) {
        int cx = best_dx, cy = best_dy;
        for (int j = -1; j <= 1; j++) {
            for (int i = -1; i <= 1; i++) {
                int dx = clampi(cx + i * d, -t->rx, t->rx), dy = clampi(cy + j * d, -t->ry, t->ry);
                if (dx == cx && dy == cy)
                    continue;
                double s = ncc_at(t, &a, dx, dy);
                if (s > best) {
                    best = s;
                    best_dx = dx;
                    best_dy = dy;
                }
            }
        }
        if (d > 1)
            d /= 2;
        else if ((best_dx == cx && best_dy == cy) || ++fine_steps >= MAX_FINE_STEPS)
            break;
    }

    step->score = (float)best;
    if (best >= t->p.min_score) {
        step->found = 1;
        step->dx = (float)best_dx;
        step->dy = (float)best_dy;
        t->ox += best_dx;
        t->oy += best_dy;
    }
    return FER_OK;
}
