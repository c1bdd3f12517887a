/* Internal layout of a loaded cascade, shared by the loader (cascade_load.c), the evaluator
 * (cascade_detect.c) and the tests. Not part of the public API. */
#ifndef FER_CASCADE_INTERNAL_H
#define FER_CASCADE_INTERNAL_H
#include <stdint.h>
#include "cascade.h"

#define FER_LBP_SUBSET_WORDS 8 /* 256 LBP codes, one bit each */
#define FER_HAAR_MAX_RECTS 3

/* What a cascade file may declare (checked while parsing, before the arrays are built). Debian's
 * cascades have at most 47 stages, 8468 weak classifiers and features, 3 nodes per tree. */
#define FER_CASCADE_MAX_STAGES 1000
#define FER_CASCADE_MAX_TREES 100000
#define FER_CASCADE_MAX_FEATURES 100000
#define FER_CASCADE_MAX_TREE_NODES 64
#define FER_CASCADE_MAX_TOTAL_NODES 400000

typedef struct fer_haar_rect {
    int x, y, w, h;
    float weight;
} fer_haar_rect;

typedef struct fer_haar_feature {
    int n_rects;
    int tilted;
    fer_haar_rect r[FER_HAAR_MAX_RECTS];
} fer_haar_feature;

typedef struct fer_lbp_feature {
    int x, y, w, h; /* one cell of the 3x3 grid; the grid spans 3w x 3h */
} fer_lbp_feature;

/* A decision-tree node. left/right > 0: index of the next node within the tree; <= 0: the
 * leaf -value. Haar compares the normalised feature with threshold (less -> left); LBP goes
 * left when the bit of the LBP code is set in subset. */
typedef struct fer_tree_node {
    int feature;
    int left, right;
    float threshold;
    uint32_t subset[FER_LBP_SUBSET_WORDS];
} fer_tree_node;

typedef struct fer_tree {
    int first_node, n_nodes;
    int first_leaf; /* n_nodes + 1 leaves */
} fer_tree;

typedef struct fer_stage {
    int first_tree, n_trees;
    float threshold;      /* file value minus OpenCV's 1e-5 guard */
    int32_t threshold_fx; /* fixed point (LBP stump fast path) */
} fer_stage;

/* LBP stump in the integer fast path: all Debian LBP cascades are stumps. */
typedef struct fer_lbp_stump {
    int feature;
    int32_t left_fx, right_fx;
    uint32_t subset[FER_LBP_SUBSET_WORDS];
} fer_lbp_stump;

typedef struct fer_ivec {
    int32_t *v;
    size_t n, cap;
} fer_ivec;

typedef struct fer_haar_stump {
    int feature;
    float threshold;
    float left, right;
} fer_haar_stump;

struct fer_cascade {
    char *path;
    fer_cascade_feature type;
    int win_w, win_h;
    int has_tilted;

    int n_stages;
    fer_stage *stages;
    int n_trees;
    fer_tree *trees;
    int n_nodes;
    fer_tree_node *nodes;
    int n_leaves;
    float *leaves;
    int all_stumps;       /* every tree has one node: use the stump arrays */
    int fx_shift;         /* LBP leaves in fixed point: value * 2^fx_shift */
    fer_lbp_stump *lbp_stumps;
    fer_haar_stump *haar_stumps;

    int n_features;
    fer_haar_feature *haar;
    fer_lbp_feature *lbp;

    /* Scratch, reused across fer_cascade_detect calls. */
    int ofs_stride;       /* integral-image stride the offsets below were made for */
    size_t ofs_plane;     /* distance between the planes of ints (sum, sqsum, tilted) */
    int32_t *feat_ofs;    /* Haar: 12 per feature (3 rects x 4 corners); LBP: 16 (4x4 grid) */
    int32_t norm_ofs[4];  /* Haar variance window: the window minus a 1-pixel border */
    uint8_t *level;       /* current pyramid level */
    size_t level_cap;
    uint32_t *ints;       /* integral planes: sum, then sqsum and tilted (Haar only) */
    size_t ints_cap;
    uint32_t *tilted_rows; /* 3 padded rows for the tilted recurrence */
    size_t tilted_rows_cap;
    int32_t *resize_tab;  /* horizontal resize: source index + weight per column */
    size_t resize_tab_cap;
    int32_t *resize_rows; /* two horizontally resized rows */
    size_t resize_rows_cap;
    uint8_t *visited;     /* coarse-to-fine scan: windows of the level already evaluated */
    size_t visited_cap;
    fer_ivec todo;        /* coarse-to-fine scan: promising windows whose neighbours are next */
    fer_ivec pending;     /* coarse-to-fine scan: windows to evaluate in this round */
    fer_cascade_boxes raw;        /* ungrouped window hits */
    /* SIMD scan (cascade_simd.c): integral planes with columns split k ways. */
    uint32_t *split;
    size_t split_cap;
    int split_k, split_stride, split_rows;
    int32_t split_sub;    /* distance between sub-planes */
    int32_t *split_ofs;   /* feature corners in the split layout */
    size_t split_ofs_cap;
    int32_t split_norm[4];
    int no_simd;          /* tests: force the scalar path */
};

/* Grows a scratch buffer to at least need bytes (contents kept). */
fer_status fer_cascade_grow(void **buf, size_t *cap, size_t need, const char *path);

/* Bilinear resize like OpenCV INTER_LINEAR (pixel centres aligned, 11-bit weights). */
fer_status fer_resize_bilinear(fer_cascade *c, const uint8_t *src, int sw, int sh,
                               int sstride, uint8_t *dst, int dw, int dh);

/* Integral images with stride (>= w + 1), as cv::integral: sum and squared sum
 * ((w+1) x (h+1), first row/column zero), both as wrapping uint32 so window differences are
 * exact for any image size. */
void fer_integral(const uint8_t *img, int w, int h, int istride, uint32_t *sum,
                  uint32_t *sqsum, int stride);

/* 45-degree integral as cv::integral's "tilted": T(X,Y) = sum of img(x,y) over y < Y and
 * |x - X + 1| <= Y - y - 1 (wrapping uint32). rows: scratch of 3 * (w + 2h + 3) values. */
void fer_integral_tilted(const uint8_t *img, int w, int h, int istride, uint32_t *tilted,
                         int stride, uint32_t *rows);

#endif
