/* SIMD evaluation of 8 windows k pixels apart (the coarse grid of the coarse-to-fine scan).
 * The integral planes are copied with their columns split into k sub-planes, so the same
 * corner of the 8 windows is 8 adjacent values: one vector load. (Windows one pixel apart
 * need no split: fer_simd_eval8_adjacent reads the plain planes.) Stages run on all lanes
 * until every lane is rejected or accepted.
 *
 * Written with GCC vector extensions (portable C: the compiler lowers them to SSE2 or plain
 * code); on x86-64 an AVX2 clone is selected at run time. Results equal the scalar path. */
#include <string.h>

#include "cascade_eval.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FER_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FER_SIMD_CLONES
#endif

typedef int32_t vi __attribute__((vector_size(32)));
typedef uint32_t vu __attribute__((vector_size(32)));
typedef float vf __attribute__((vector_size(32)));

#define LANES 8

/* Unaligned load of 8 values (a macro: vectors never cross a call, which keeps the AVX2 clone
 * and the default code ABI-compatible). */
#define LOAD8(p) (__extension__({ vu v_; memcpy(&v_, (p), sizeof v_); v_; }))

#define VRECT(d, o, a, b, c_, e) \
    (LOAD8((d) + (o)[a]) - LOAD8((d) + (o)[b]) - LOAD8((d) + (o)[c_]) + LOAD8((d) + (o)[e]))

int fer_simd_usable(const fer_cascade *c)
{
    return c->all_stumps && !c->no_simd;
}

static int n_channels(const fer_cascade *c)
{
    return c->type == FER_CASCADE_LBP ? 1 : c->has_tilted ? 3 : 2;
}

fer_status fer_simd_prepare(fer_cascade *c, int k, int lw0, int lh0)
{
    int stride = (lw0 + 1 + k - 1) / k + LANES; /* room for lanes past the last window */
    int rows = lh0 + 1;
    if (c->split && c->split_k == k && c->split_stride == stride && c->split_rows == rows)
        return FER_OK;
    size_t sub = (size_t)stride * rows;
    size_t need = (size_t)n_channels(c) * k * sub * sizeof(uint32_t);
    fer_status st = fer_cascade_grow((void **)&c->split, &c->split_cap, need, c->path);
    if (st != FER_OK)
        return st;
    memset(c->split, 0, need); /* lanes past the image read zeros, never garbage */
    size_t per = c->type == FER_CASCADE_LBP ? 16 : 12;
    st = fer_cascade_grow((void **)&c->split_ofs, &c->split_ofs_cap,
                          (size_t)c->n_features * per * sizeof(int32_t), c->path);
    if (st != FER_OK)
        return st;
    c->split_k = k;
    c->split_stride = stride;
    c->split_rows = rows;
    c->split_sub = (int32_t)sub;
    fer_layout l = {stride, k, (int32_t)sub};
    int32_t *o = c->split_ofs;
    for (int i = 0; i < c->n_features; i++, o += per) {
        if (c->type == FER_CASCADE_LBP)
            fer_lbp_corners(&c->lbp[i], &l, o);
        else
            fer_haar_corners(&c->haar[i], &l, (int32_t)(2 * k * sub), o);
    }
    fer_norm_corners(c, &l, c->split_norm);
    return FER_OK;
}

void fer_simd_split(fer_cascade *c, int lw, int lh)
{
    int k = c->split_k;
    for (int ch = 0; ch < n_channels(c); ch++) {
        const uint32_t *src = c->ints + ch * c->ofs_plane;
        for (int q = 0; q < k; q++) {
            uint32_t *dst = c->split + (size_t)(ch * k + q) * c->split_sub;
            for (int y = 0; y <= lh; y++) {
                const uint32_t *s = src + (size_t)y * c->ofs_stride;
                uint32_t *d = dst + (size_t)y * c->split_stride;
                for (int x = q, i = 0; x <= lw; x += k, i++)
                    d[i] = s[x];
            }
        }
    }
}

/* Where the 8 lanes read: base of lane 0, corner offsets, and the squared-sum channel. */
typedef struct view {
    const uint32_t *d;
    const int32_t *feat_ofs;
    const int32_t *norm_ofs;
    size_t sq;
} view;

/* Records the result of lanes that die; returns how many are still alive. */
static inline int retire(vi *alive, const vi *pass, int result, int res[LANES])
{
    int n = 0;
    for (int l = 0; l < LANES; l++) {
        if ((*alive)[l] && !(*pass)[l])
            res[l] = result;
        n += (*alive)[l] && (*pass)[l];
    }
    *alive &= *pass;
    return n;
}

static inline void accept_alive(const vi *alive, int res[LANES])
{
    for (int l = 0; l < LANES; l++)
        if ((*alive)[l])
            res[l] = 1;
}

FER_SIMD_CLONES static void lbp8(const fer_cascade *c, const view *v, unsigned lanes,
                                 int res[LANES])
{
    const uint32_t *d = v->d;
    vi alive;
    for (int l = 0; l < LANES; l++)
        alive[l] = lanes & (1u << l) ? -1 : 0;
    for (int si = 0; si < c->n_stages; si++) {
        const fer_stage *stage = &c->stages[si];
        const fer_lbp_stump *s = c->lbp_stumps + stage->first_tree;
        vi sum = {0};
        for (int t = 0; t < stage->n_trees; t++, s++) {
            const int32_t *o = v->feat_ofs + 16 * s->feature;
            vu centre = VRECT(d, o, 5, 6, 9, 10);
            vi code = ((vi)(VRECT(d, o, 0, 1, 4, 5) >= centre) & 128) |
                      ((vi)(VRECT(d, o, 1, 2, 5, 6) >= centre) & 64) |
                      ((vi)(VRECT(d, o, 2, 3, 6, 7) >= centre) & 32) |
                      ((vi)(VRECT(d, o, 6, 7, 10, 11) >= centre) & 16) |
                      ((vi)(VRECT(d, o, 10, 11, 14, 15) >= centre) & 8) |
                      ((vi)(VRECT(d, o, 9, 10, 13, 14) >= centre) & 4) |
                      ((vi)(VRECT(d, o, 8, 9, 12, 13) >= centre) & 2) |
                      ((vi)(VRECT(d, o, 4, 5, 8, 9) >= centre) & 1);
            vu subset;
            memcpy(&subset, s->subset, sizeof subset);
            vu word;
#if defined(__GNUC__) && !defined(__clang__)
            word = __builtin_shuffle(subset, (vu)(code >> 5)); /* 8-entry table lookup */
#else
            for (int l = 0; l < LANES; l++)
                word[l] = subset[code[l] >> 5];
#endif
            vi bit = (vi)((word >> (vu)(code & 31)) & 1);
            sum += s->right_fx + bit * (s->left_fx - s->right_fx);
        }
        vi pass = sum >= (vi){0} + stage->threshold_fx;
        if (retire(&alive, &pass, -si, res) == 0)
            return;
    }
    accept_alive(&alive, res);
}

FER_SIMD_CLONES static void haar8(const fer_cascade *c, const view *v, unsigned lanes,
                                  int res[LANES])
{
    const uint32_t *d = v->d;
    const int32_t *no = v->norm_ofs;
    vi wsum = (vi)VRECT(d, no, 0, 1, 2, 3);
    vu wsq = VRECT(d + v->sq, no, 0, 1, 2, 3);
    int area = (c->win_w - 2) * (c->win_h - 2);
    vf inv;
    vi alive;
    for (int l = 0; l < LANES; l++) {
        alive[l] = lanes & (1u << l) ? -1 : 0;
        inv[l] = alive[l] ? fer_haar_inv_norm(wsum[l], wsq[l], area) : 0;
    }
    vi usable = inv != (vf){0};
    if (retire(&alive, &usable, -1, res) == 0) /* too flat, as on the scalar path */
        return;
    for (int si = 0; si < c->n_stages; si++) {
        const fer_stage *stage = &c->stages[si];
        const fer_haar_stump *s = c->haar_stumps + stage->first_tree;
        vf sum = {0};
        for (int t = 0; t < stage->n_trees; t++, s++) {
            const fer_haar_feature *f = &c->haar[s->feature];
            const int32_t *o = v->feat_ofs + 12 * s->feature;
            vf val = f->r[0].weight * __builtin_convertvector((vi)VRECT(d, o, 0, 1, 2, 3), vf) +
                     f->r[1].weight * __builtin_convertvector((vi)VRECT(d, o, 4, 5, 6, 7), vf);
            if (f->n_rects > 2)
                val += f->r[2].weight *
                       __builtin_convertvector((vi)VRECT(d, o, 8, 9, 10, 11), vf);
            vi left = val * inv < (vf){0} + s->threshold;
            vi l_bits = (vi)((vf){0} + s->left), r_bits = (vi)((vf){0} + s->right);
            sum += (vf)((l_bits & left) | (r_bits & ~left));
        }
        vi pass = sum >= (vf){0} + stage->threshold;
        if (retire(&alive, &pass, -si, res) == 0)
            return;
    }
    accept_alive(&alive, res);
}

static void eval8(const fer_cascade *c, const view *v, unsigned lanes, int res[LANES])
{
    if (c->type == FER_CASCADE_LBP)
        lbp8(c, v, lanes, res);
    else
        haar8(c, v, lanes, res);
}

void fer_simd_eval8(const fer_cascade *c, int x0, int y, int n, int res[8])
{
    view v = {c->split + (size_t)y * c->split_stride + x0 / c->split_k, c->split_ofs,
              c->split_norm, (size_t)c->split_k * c->split_sub};
    for (int l = 0; l < LANES; l++)
        res[l] = -1;
    eval8(c, &v, (1u << n) - 1, res);
}

void fer_simd_eval8_adjacent(const fer_cascade *c, int x, int y, unsigned lanes, int res[8])
{
    view v = {c->ints + (size_t)y * c->ofs_stride + x, c->feat_ofs, c->norm_ofs, c->ofs_plane};
    eval8(c, &v, lanes, res);
}
