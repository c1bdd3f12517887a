/* Scalar evaluation of one window: feature offsets, LBP codes, Haar values with OpenCV's
 * variance normalisation, and the stage loop (stumps fast paths + general trees). */
#include <math.h>
#include <stdlib.h>

#include "cascade_eval.h"

fer_status fer_cascade_make_offsets(fer_cascade *c, int stride, size_t plane)
{
    if (c->feat_ofs && stride == c->ofs_stride && plane == c->ofs_plane)
        return FER_OK;
    size_t per = c->type == FER_CASCADE_LBP ? 16 : 12;
    int32_t *o = realloc(c->feat_ofs, (size_t)c->n_features * per * sizeof *o);
    if (!o)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", c->path);
    c->feat_ofs = o;
    c->ofs_stride = stride;
    c->ofs_plane = plane;
    fer_layout plain = {stride, 1, 0};
    for (int i = 0; i < c->n_features; i++, o += per) {
        if (c->type == FER_CASCADE_LBP)
            fer_lbp_corners(&c->lbp[i], &plain, o);
        else
            fer_haar_corners(&c->haar[i], &plain, (int32_t)(2 * plane), o);
    }
    fer_norm_corners(c, &plain, c->norm_ofs);
    return FER_OK;
}

#define corner(px, py) fer_layout_at(l, (px), (py))

void fer_lbp_corners(const fer_lbp_feature *f, const fer_layout *l, int32_t o[16])
{
    for (int r = 0; r < 4; r++)
        for (int q = 0; q < 4; q++)
            o[r * 4 + q] = corner(f->x + q * f->w, f->y + r * f->h);
}

void fer_haar_corners(const fer_haar_feature *f, const fer_layout *l, int32_t tilted_plane,
                      int32_t o[12])
{
    for (int i = 0; i < FER_HAAR_MAX_RECTS; i++) {
        const fer_haar_rect *r = &f->r[i];
        int32_t *q = o + 4 * i;
        if (i >= f->n_rects) {
            q[0] = q[1] = q[2] = q[3] = 0; /* weight 0: reads the window corner, adds nothing */
        } else if (f->tilted) {
            q[0] = tilted_plane + corner(r->x, r->y);
            q[1] = tilted_plane + corner(r->x - r->h, r->y + r->h);
            q[2] = tilted_plane + corner(r->x + r->w, r->y + r->w);
            q[3] = tilted_plane + corner(r->x + r->w - r->h, r->y + r->w + r->h);
        } else {
            q[0] = corner(r->x, r->y);
            q[1] = corner(r->x + r->w, r->y);
            q[2] = corner(r->x, r->y + r->h);
            q[3] = corner(r->x + r->w, r->y + r->h);
        }
    }
}

void fer_norm_corners(const fer_cascade *c, const fer_layout *l, int32_t o[4])
{
    o[0] = corner(1, 1);
    o[1] = corner(c->win_w - 1, 1);
    o[2] = corner(1, c->win_h - 1);
    o[3] = corner(c->win_w - 1, c->win_h - 1);
}

#undef corner

float fer_haar_inv_norm(int32_t sum, uint32_t sqsum, int area)
{
    /* Exact in 64 bits: area < 2^16, sqsum < 2^32, sum < 2^24. */
    int64_t nf = (int64_t)area * sqsum - (int64_t)sum * sum;
    if (nf <= 0)
        return 0;
    float inv = (float)(1.0 / sqrt((double)nf));
    return (double)area * inv < 0.1 ? inv : 0; /* std <= 10: too flat, OpenCV skips it */
}

float fer_haar_norm(const fer_cascade *c, const uint32_t *p)
{
    const int32_t *n = c->norm_ofs;
    const uint32_t *q = p + c->ofs_plane;
    return fer_haar_inv_norm((int32_t)FER_RECT_SUM(p, n, 0, 1, 2, 3),
                             FER_RECT_SUM(q, n, 0, 1, 2, 3), (c->win_w - 2) * (c->win_h - 2));
}

static int eval_lbp_stumps(const fer_cascade *c, const uint32_t *p, int first)
{
    const int32_t *ofs = c->feat_ofs;
    for (int si = first; si < c->n_stages; si++) {
        const fer_stage *stage = &c->stages[si];
        const fer_lbp_stump *s = c->lbp_stumps + stage->first_tree;
        int32_t sum = 0;
        for (int t = 0; t < stage->n_trees; t++, s++) {
            int code = fer_lbp_code(p, ofs + 16 * s->feature);
            sum += (s->subset[code >> 5] >> (code & 31)) & 1 ? s->left_fx : s->right_fx;
        }
        if (sum < stage->threshold_fx)
            return -si;
    }
    return 1;
}

static int eval_haar_stumps(const fer_cascade *c, const uint32_t *p, int first, float inv)
{
    for (int si = first; si < c->n_stages; si++) {
        const fer_stage *stage = &c->stages[si];
        const fer_haar_stump *s = c->haar_stumps + stage->first_tree;
        float sum = 0;
        for (int t = 0; t < stage->n_trees; t++, s++) {
            float v = fer_haar_value(&c->haar[s->feature], c->feat_ofs + 12 * s->feature, p) *
                      inv;
            sum += v < s->threshold ? s->left : s->right;
        }
        if (sum < stage->threshold)
            return -si;
    }
    return 1;
}

/* Any tree depth, Haar or LBP (e.g. haarcascade_frontalface_alt2, eye_tree_eyeglasses). */
static int eval_trees(const fer_cascade *c, const uint32_t *p, int first, float inv)
{
    for (int si = first; si < c->n_stages; si++) {
        const fer_stage *stage = &c->stages[si];
        float sum = 0;
        for (int t = stage->first_tree; t < stage->first_tree + stage->n_trees; t++) {
            const fer_tree *tree = &c->trees[t];
            const fer_tree_node *nodes = c->nodes + tree->first_node;
            int idx = 0;
            do {
                const fer_tree_node *n = &nodes[idx];
                if (c->type == FER_CASCADE_LBP) {
                    int code = fer_lbp_code(p, c->feat_ofs + 16 * n->feature);
                    idx = (n->subset[code >> 5] >> (code & 31)) & 1 ? n->left : n->right;
                } else {
                    float v = fer_haar_value(&c->haar[n->feature],
                                             c->feat_ofs + 12 * n->feature, p) * inv;
                    idx = v < n->threshold ? n->left : n->right;
                }
            } while (idx > 0);
            sum += c->leaves[tree->first_leaf - idx];
        }
        if (sum < stage->threshold)
            return -si;
    }
    return 1;
}

int fer_eval_from(const fer_cascade *c, const uint32_t *p, int first_stage, float inv)
{
    if (!c->all_stumps)
        return eval_trees(c, p, first_stage, inv);
    if (c->type == FER_CASCADE_LBP)
        return eval_lbp_stumps(c, p, first_stage);
    return eval_haar_stumps(c, p, first_stage, inv);
}

int fer_eval_window(const fer_cascade *c, const uint32_t *p)
{
    float inv = 1;
    if (c->type == FER_CASCADE_HAAR && (inv = fer_haar_norm(c, p)) == 0)
        return -1;
    return fer_eval_from(c, p, 0, inv);
}
