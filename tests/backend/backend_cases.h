/* The case table of test_backend_ops.c: one function per op family, one row per shape. */
#ifndef FER_BACKEND_CASES_H
#define FER_BACKEND_CASES_H

#define LINE 512

/* ---- conv2d: forward, input/weight/bias gradients, and the first-layer form (dx = NULL) -- */

typedef struct conv_case {
    int n, ci, co, h, w, k, s, p, bias, groups;
} conv_case;

static const conv_case conv_cases[] = {
    {1, 1, 32, 48, 48, 3, 1, 1, 0, 1},   /* SimpleCNN first layer, batch 1 */
    {3, 32, 64, 24, 24, 3, 1, 1, 0, 1},  /* SimpleCNN block 2 entry, batch 3 */
    {3, 5, 7, 9, 11, 3, 1, 1, 1, 1},     /* odd channels, non-square, bias */
    {1, 33, 31, 13, 13, 3, 1, 1, 0, 1},  /* odd channels, odd plane */
    {3, 3, 6, 7, 5, 1, 1, 0, 1, 1},      /* 1x1 */
    {2, 4, 5, 8, 6, 5, 1, 2, 0, 1},      /* 5x5 same */
    {3, 3, 4, 6, 7, 3, 1, 0, 1, 1},      /* valid (no pad) */
    {1, 2, 3, 5, 4, 3, 1, 2, 0, 1},      /* pad 2 > (k-1)/2: output larger than input */
    {3, 2, 3, 9, 7, 3, 2, 1, 1, 1},      /* stride 2 */
    {2, 3, 5, 10, 9, 4, 1, 1, 0, 1},     /* even kernel, asymmetric reach */
    /* >= 8 channels: the cpu backend's Winograd F(4x4,3x3) path, partial tiles at the edges */
    {3, 9, 17, 13, 11, 3, 1, 1, 1, 1},   /* odd channels and planes, bias */
    {2, 8, 8, 7, 9, 3, 1, 0, 0, 1},      /* valid: input gradient with pad 2 */
    {1, 16, 24, 6, 5, 3, 1, 2, 1, 1},    /* pad 2: input gradient with pad 0 */
    {3, 32, 32, 48, 48, 3, 1, 1, 0, 1},  /* SimpleCNN block 1, several bands per image */
    {2, 128, 128, 12, 12, 3, 1, 1, 0, 1}, /* SimpleCNN block 3 */
    {2, 9, 19, 10, 8, 3, 1, 1, 1, 1},     /* F(4x4) streamed (FER_CPU_STREAM=all): a 2-row last
                                            strip, a partial channel group, bias */
    /* groups (grouped and depthwise): the cpu backend's direct grouped path */
    {3, 4, 6, 7, 9, 3, 1, 1, 1, 2},   /* groups 2, non-square, bias */
    {1, 6, 4, 8, 8, 1, 1, 0, 0, 2},   /* groups 2, 1x1 */
    {2, 9, 6, 11, 7, 3, 2, 1, 0, 3},  /* groups 3, odd channels, stride 2 */
    {1, 7, 7, 9, 9, 3, 1, 1, 1, 7},   /* depthwise, odd channels, batch 1 */
    {3, 8, 8, 12, 10, 3, 2, 1, 0, 8}, /* depthwise, stride 2, non-square */
    {3, 5, 5, 11, 13, 5, 1, 2, 1, 5}, /* depthwise 5x5, pad 2 */
    {2, 6, 6, 9, 8, 5, 2, 0, 0, 6},   /* depthwise 5x5, stride 2, no pad */
    {3, 16, 16, 12, 12, 3, 1, 0, 1, 16}, /* depthwise, no pad */
    {1, 4, 8, 6, 5, 3, 1, 1, 0, 4},   /* depthwise with multiplier 2 (out = 2 x in) */
    /* depthwise 3x3 / 5x5 at stride 1 and 2: the cpu backend's vectorised kernels (split planes,
     * row blocks of 4 or 2 with a partial last block, 8-column vectors with a partial last one) */
    {1, 5, 5, 13, 11, 3, 2, 1, 1, 5},  /* stride 2, odd plane, batch 1 */
    {3, 4, 4, 7, 5, 3, 2, 1, 0, 4},    /* stride 2, plane narrower than a vector */
    {3, 3, 3, 13, 11, 3, 2, 0, 1, 3},  /* stride 2, pad 0 */
    {2, 3, 3, 12, 9, 3, 2, 2, 0, 3},   /* stride 2, pad 2 */
    {3, 6, 6, 3, 3, 3, 1, 1, 1, 6},    /* 3x3 plane */
    {1, 4, 4, 5, 4, 3, 1, 2, 0, 4},    /* pad 2: output larger than the input */
    {3, 5, 5, 11, 17, 3, 1, 0, 1, 5},  /* pad 0, 3 vectors per row, rows not a multiple of 4 */
    {3, 3, 3, 13, 11, 5, 2, 2, 1, 3},  /* 5x5 stride 2, odd plane */
    {1, 4, 4, 9, 10, 5, 2, 4, 0, 4},   /* 5x5 stride 2, pad 4 = k - 1 */
    {3, 3, 3, 5, 4, 5, 1, 1, 1, 3},    /* 5x5 stride 1, pad 1, tiny plane */
    {2, 3, 6, 13, 11, 3, 2, 1, 1, 3},  /* multiplier 2, stride 2 (dx by the direct path) */
    {3, 2, 4, 9, 8, 5, 1, 2, 0, 2},    /* multiplier 2, 5x5 */
    {1, 32, 32, 48, 48, 3, 1, 1, 1, 32}, /* 48x48 c32, bias */
    {2, 32, 32, 48, 48, 3, 2, 1, 0, 32}, /* 48x48 c32, stride 2 */
    {3, 64, 64, 12, 12, 3, 1, 1, 0, 64}, /* 12x12 planes: several planes per task */
    {2, 3, 3, 9, 17, 3, 2, 1, 1, 3},   /* stride 2, 17 columns: odd tail after a 16-column block */
    {1, 2, 2, 7, 35, 5, 2, 2, 0, 2},   /* stride 2, 35 columns: overlapping last block + odd tail */
    {2, 2, 2, 6, 31, 3, 2, 0, 1, 2},   /* stride 2, pad 0, 31 columns */
    {19, 6, 6, 7, 9, 3, 1, 1, 1, 6},   /* batch 19: weight gradient in image groups of 2 + 1 */
    /* 3x3 forward on planes <= 16 wide: channel-vector blocks (cpu_wino_impl.h dw3_blocked);
     * 21 and 19 channels leave a partial block of 8 / 16 */
    {2, 21, 21, 10, 13, 3, 1, 1, 1, 21}, /* stride 1, 13 columns: a 1-column tail after 4s */
    {3, 19, 19, 11, 14, 3, 2, 1, 1, 19}, /* stride 2, 7 output columns */
    {1, 17, 17, 5, 6, 3, 1, 0, 0, 17},   /* pad 0: 4x3 outputs */
    {2, 5, 5, 40, 37, 3, 2, 1, 1, 5},    /* stride 2, 19 output columns: the row-vector path */
    /* rows that fit one zmm (stride 1, <= 16 columns) or two (stride 2, <= 32): the avx512
     * set's dw3_rows_zmm, full vectors at the limits, stores spilling into the next rows */
    {2, 3, 3, 6, 16, 3, 1, 1, 0, 3},     /* stride 1, 16 columns */
    {2, 3, 3, 7, 32, 3, 2, 1, 1, 3},     /* stride 2, 32 columns: 16 outputs a row */
    {1, 2, 2, 4, 31, 3, 2, 2, 0, 2},     /* stride 2, pad 2, 31 columns */
    {2, 2, 4, 3, 2, 3, 1, 2, 1, 2},      /* multiplier 2, pad 2, 2x2 plane: 4x4 outputs */
    {35, 4, 8, 5, 6, 3, 2, 1, 1, 4},   /* batch 35, multiplier 2, stride 2: groups of 3 + 2 */
    /* >= 4 input channels per group: each group through the groups == 1 paths */
    {2, 16, 24, 9, 7, 3, 1, 1, 1, 2}, /* groups 2 of 8 -> 12: Winograd per group, bias */
    {3, 12, 9, 7, 9, 3, 2, 1, 0, 3},  /* groups 3 of 4 -> 3, stride 2 */
    {2, 16, 8, 6, 5, 1, 1, 0, 1, 2},  /* groups 2, 1x1 (flat planes), bias */
    /* groups == 1, stride 2, k >= 2: the cpu backend's phase planes (cpu_conv.c) */
    {1, 33, 31, 13, 11, 3, 2, 1, 0, 1},  /* 3x3 s2 p1, odd channels and planes, batch 1 */
    {3, 33, 31, 13, 11, 3, 2, 1, 1, 1},  /* the same, batch 3, bias */
    {1, 4, 7, 10, 9, 3, 2, 0, 0, 1},     /* 3x3 s2 p0 */
    {3, 16, 8, 64, 64, 5, 2, 2, 1, 1},   /* 5x5 s2: one image per chunk, three chunks */
    {2, 5, 6, 2, 3, 3, 2, 1, 1, 1},      /* 2x3 plane: phases of one row / column */
    {3, 4, 5, 8, 10, 2, 2, 0, 0, 1},     /* k 2: one tap per phase */
    {2, 3, 5, 10, 7, 4, 2, 1, 1, 1},     /* k 4, odd width */
    {2, 3, 4, 10, 12, 7, 2, 3, 1, 1},    /* k 7 p3, even plane: reads 2 phase rows back (gap 2) */
    {1, 6, 8, 9, 13, 5, 2, 4, 0, 1},     /* 5x5 p4 = k-1: taps reach two phase rows up */
    {19, 8, 8, 24, 24, 3, 2, 1, 0, 1},   /* batch 19: several backward chunks */
    /* groups == 1 outside Winograd / flat planes: the cpu backend's im2col + SGEMM path */
    {3, 7, 5, 9, 12, 1, 2, 0, 1, 1},     /* 1x1 s2 (cpu_pointwise.c's strided gather), bias */
    {1, 6, 9, 11, 11, 1, 2, 0, 0, 1},    /* 1x1 s2, odd plane: last row and column dropped */
    {3, 5, 6, 14, 13, 5, 3, 2, 1, 1},    /* 5x5 s3 p2 */
    {2, 3, 4, 12, 11, 9, 1, 4, 1, 1},    /* k 9 > 7 at stride 1 */
    {2, 3, 4, 6, 7, 1, 1, 1, 0, 1},      /* 1x1 with pad 1 > k-1 */
    {3, 6, 8, 5, 6, 3, 2, 3, 1, 1},      /* pad 3 = k: border outputs see padding only */
    {2, 32, 64, 48, 48, 3, 2, 1, 0, 1},  /* resnet_s stage 2 entry (phase planes) */
    {3, 64, 128, 24, 24, 3, 2, 1, 0, 1}, /* resnet_s stage 3 entry */
    {2, 128, 256, 12, 12, 3, 2, 1, 0, 1}, /* resnet_s stage 4 entry */
    {3, 32, 64, 48, 48, 1, 2, 0, 0, 1},  /* resnet_s 1x1 s2 projections */
    {2, 64, 128, 24, 24, 1, 2, 0, 0, 1},
    {3, 128, 256, 12, 12, 1, 2, 0, 1, 1},
    /* 1x1 pad 0: the cpu backend's GEMM per image (cpu_pointwise.c) */
    {3, 13, 20, 8, 6, 1, 1, 0, 1, 1},    /* 48 pixels: weight gradient read in place */
    {1, 7, 13, 5, 7, 1, 1, 0, 0, 1},     /* batch 1: pixels split across tasks, odd rows */
    {2, 300, 7, 4, 4, 1, 1, 0, 1, 1},    /* 300 input channels: K blocks of the forward */
    {2, 7, 260, 4, 4, 1, 1, 0, 0, 1},    /* 260 output channels: K blocks of the input grad */
    {3, 9, 13, 9, 35, 1, 2, 0, 1, 1},    /* stride 2, 18-pixel rows: vector gather + tails */
    {2, 6, 5, 10, 11, 1, 3, 0, 1, 1},    /* stride 3: scalar gather and expand */
    {3, 5, 9, 11, 67, 1, 2, 0, 0, 1},    /* stride 2, 34-pixel rows, odd width */
    {1, 200, 6, 24, 20, 1, 1, 0, 1, 1},  /* 200 x 480 pixels: B packed in two blocks */
    {2, 100, 70, 5, 7, 1, 1, 0, 1, 1},   /* rows in two L1 blocks of A, edge rows and columns */
};

static void case_conv(fer_backend *ref, fer_backend *be, const conv_case *c)
{
    char name[128], line[LINE] = "";
    int oh = (c->h + 2 * c->p - c->k) / c->s + 1, ow = (c->w + 2 * c->p - c->k) / c->s + 1;
    snprintf(name, sizeof name, "conv2d(n=%d,ci=%d,co=%d,%dx%d,k=%d,s=%d,p=%d,g=%d%s)", c->n,
             c->ci, c->co, c->h, c->w, c->k, c->s, c->p, c->groups, c->bias ? ",bias" : "");
    NEED(be, conv2d_forward, name);
    NEED(be, conv2d_backward, name);
    fer_conv2d_args a = {c->n,    c->ci, c->h, c->w,    c->co,   oh,
                         ow,      c->k,  c->s, c->p,    c->bias, c->groups, 0};
    size_t nx = (size_t)c->n * c->ci * c->h * c->w, ny = (size_t)c->n * c->co * oh * ow;
    size_t nw = (size_t)c->co * (c->ci / c->groups) * c->k * c->k;
    float wscale = 1.0f / sqrtf((float)(c->ci / c->groups * c->k * c->k));
    mirror x = mk_rand(ref, be, nx, 11, 1.0f, 0.0f), w = mk_rand(ref, be, nw, 12, wscale, 0.0f);
    mirror bias = mk_rand(ref, be, (size_t)c->co, 13, 0.5f, 0.0f);
    mirror dy = mk_rand(ref, be, ny, 14, 1.0f, 0.0f);
    mirror y = mk(ref, be, NULL, ny), dx = mk(ref, be, NULL, nx), dw = mk(ref, be, NULL, nw);
    mirror db = mk(ref, be, NULL, (size_t)c->co), dw2 = mk(ref, be, NULL, nw);
    RUN(ref, conv2d_forward, &a, x.r, w.r, bias.r, y.r);
    RUN(be, conv2d_forward, &a, x.d, w.d, bias.d, y.d);
    RUN(ref, conv2d_backward, &a, x.r, w.r, dy.r, dx.r, dw.r, db.r);
    RUN(be, conv2d_backward, &a, x.d, w.d, dy.d, dx.d, dw.d, db.d);
    RUN(ref, conv2d_backward, &a, x.r, w.r, dy.r, NULL, dw2.r, NULL);
    RUN(be, conv2d_backward, &a, x.d, w.d, dy.d, NULL, dw2.d, NULL);
    /* new weights in the same buffer: a backend that caches prepared weights must notice */
    float *w2 = rand_vec(nw, 15, wscale, 0.0f);
    if (ref->ops->upload(ref, w.r, w2, nw * sizeof(float)) != FER_OK ||
        be->ops->upload(be, w.d, w2, nw * sizeof(float)) != FER_OK)
        die("upload");
    free(w2);
    mirror y2 = mk(ref, be, NULL, ny);
    RUN(ref, conv2d_forward, &a, x.r, w.r, bias.r, y2.r);
    RUN(be, conv2d_forward, &a, x.d, w.d, bias.d, y2.d);
    int ok = compare(ref, be, &y, "y", TOL_GEMM, line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_GEMM, line, LINE);
    ok &= compare(ref, be, &dw, "dw", TOL_GEMM, line, LINE);
    if (c->bias)
        ok &= compare(ref, be, &db, "db", TOL_GEMM, line, LINE);
    ok &= compare(ref, be, &dw2, "dw(no dx)", TOL_GEMM, line, LINE);
    ok &= compare(ref, be, &y2, "y(new w)", TOL_GEMM, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &w, &bias, &dy, &y, &dx, &dw, &db, &dw2, &y2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- batch norm: training forward (+ statistics), backward, eval forward ---------------- */

typedef struct bn_case {
    int n, c, h, w;
    float offset; /* data mean: large offsets stress the variance computation */
} bn_case;

static const bn_case bn_cases[] = {
    {1, 32, 48, 48, 0.0f}, {3, 5, 7, 9, 0.0f}, {3, 7, 1, 1, 5.0f}, {1, 3, 5, 3, 20.0f},
    {3, 33, 13, 11, 0.5f},
};

static void case_bn(fer_backend *ref, fer_backend *be, const bn_case *c)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "batchnorm(n=%d,c=%d,%dx%d,mean~%g)", c->n, c->c, c->h, c->w,
             (double)c->offset);
    NEED(be, batchnorm_forward, name);
    NEED(be, batchnorm_backward, name);
    fer_bn_args a = {.n = c->n, .c = c->c, .hw = c->h * c->w, .eps = 1e-5f, .momentum = 0.1f};
    size_t nx = (size_t)c->n * c->c * c->h * c->w, C = (size_t)c->c;
    mirror x = mk_rand(ref, be, nx, 21, 2.0f, c->offset), dy = mk_rand(ref, be, nx, 22, 1.0f, 0.0f);
    mirror g = mk_rand(ref, be, C, 23, 0.5f, 1.0f), bt = mk_rand(ref, be, C, 24, 0.5f, 0.0f);
    mirror rmean = mk_rand(ref, be, C, 25, 0.5f, 0.0f), rvar = mk_rand(ref, be, C, 26, 0.5f, 1.0f);
    mirror y = mk(ref, be, NULL, nx), sm = mk(ref, be, NULL, C), si = mk(ref, be, NULL, C);
    mirror dx = mk(ref, be, NULL, nx), dg = mk(ref, be, NULL, C), dbt = mk(ref, be, NULL, C);
    mirror ye = mk(ref, be, NULL, nx);
    RUN(ref, batchnorm_forward, &a, 1, x.r, g.r, bt.r, rmean.r, rvar.r, y.r, sm.r, si.r);
    RUN(be, batchnorm_forward, &a, 1, x.d, g.d, bt.d, rmean.d, rvar.d, y.d, sm.d, si.d);
    RUN(ref, batchnorm_backward, &a, x.r, g.r, bt.r, sm.r, si.r, dy.r, dx.r, dg.r, dbt.r);
    RUN(be, batchnorm_backward, &a, x.d, g.d, bt.d, sm.d, si.d, dy.d, dx.d, dg.d, dbt.d);
    RUN(ref, batchnorm_forward, &a, 0, x.r, g.r, bt.r, rmean.r, rvar.r, ye.r, NULL, NULL);
    RUN(be, batchnorm_forward, &a, 0, x.d, g.d, bt.d, rmean.d, rvar.d, ye.d, NULL, NULL);
    int ok = compare(ref, be, &y, "y", TOL_NORM, line, LINE);
    ok &= compare(ref, be, &sm, "mean", TOL_STAT, line, LINE);
    ok &= compare(ref, be, &si, "invstd", TOL_STAT, line, LINE);
    ok &= compare(ref, be, &rmean, "run_mean", TOL_STAT, line, LINE);
    ok &= compare(ref, be, &rvar, "run_var", TOL_STAT, line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_NORM, line, LINE);
    ok &= compare(ref, be, &dg, "dgamma", TOL_NORM, line, LINE);
    ok &= compare(ref, be, &dbt, "dbeta", TOL_NORM, line, LINE);
    ok &= compare(ref, be, &ye, "y(eval)", TOL_NORM, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &dy, &g, &bt, &rmean, &rvar, &y, &sm, &si, &dx, &dg, &dbt, &ye};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- max pooling: values, argmax (ties: first maximum wins; NaN propagates), gradient ---- */

typedef struct pool_case {
    int n, c, h, w, k, s;
    int ties; /* inputs quantised to a few levels: many ties */
    int nans; /* a few NaN inputs */
} pool_case;

static const pool_case pool_cases[] = {
    {1, 32, 48, 48, 2, 2, 0, 0}, {3, 5, 7, 9, 2, 2, 0, 0}, {3, 3, 9, 7, 3, 2, 0, 0},
    {2, 4, 9, 9, 3, 3, 1, 0},    {3, 7, 6, 10, 2, 2, 1, 0}, {1, 2, 6, 6, 2, 2, 0, 1},
    {2, 3, 8, 37, 2, 2, 1, 0},   {1, 2, 6, 34, 2, 2, 0, 1}, /* >= 8 outputs per row: vector path */
};

static void case_pool(fer_backend *ref, fer_backend *be, const pool_case *c)
{
    char name[128], line[LINE] = "";
    int oh = (c->h - c->k) / c->s + 1, ow = (c->w - c->k) / c->s + 1;
    snprintf(name, sizeof name, "maxpool(n=%d,c=%d,%dx%d,k=%d,s=%d%s%s)", c->n, c->c, c->h, c->w,
             c->k, c->s, c->ties ? ",ties" : "", c->nans ? ",NaN" : "");
    NEED(be, maxpool_forward, name);
    NEED(be, maxpool_backward, name);
    fer_pool_args a = {c->n, c->c, c->h, c->w, oh, ow, c->k, c->s};
    size_t nx = (size_t)c->n * c->c * c->h * c->w, ny = (size_t)c->n * c->c * oh * ow;
    float *hx = rand_vec(nx, 31, 1.0f, 0.0f);
    for (size_t i = 0; i < nx; i++) {
        if (c->ties)
            hx[i] = roundf(hx[i] * 1.5f);
        if (c->nans && i % 7 == 3)
            hx[i] = NAN;
    }
    mirror x = mk(ref, be, hx, nx), dy = mk_rand(ref, be, ny, 32, 1.0f, 0.0f);
    free(hx);
    /* dx starts as stale values (a reused gradient buffer): every element must be written */
    mirror y = mk(ref, be, NULL, ny), dx = mk_rand(ref, be, nx, 33, 5.0f, 7.0f);
    void *am_r = dev_from(ref, NULL, ny * sizeof(int32_t)), *am_d = dev_from(be, NULL, ny * 4);
    RUN(ref, maxpool_forward, &a, x.r, y.r, am_r);
    RUN(be, maxpool_forward, &a, x.d, y.d, am_d);
    RUN(ref, maxpool_backward, &a, am_r, dy.r, dx.r);
    RUN(be, maxpool_backward, &a, am_d, dy.d, dx.d);
    int ok = compare(ref, be, &y, "y", TOL_EXACT, line, LINE);
    ok &= compare_i32(ref, be, am_r, am_d, ny, "argmax", line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_EXACT, line, LINE);
    verdict(name, ok, line);
    ref->ops->release(ref, am_r);
    be->ops->release(be, am_d);
    mirror *all[] = {&x, &dy, &y, &dx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- linear ----------------------------------------------------------------------------- */

typedef struct linear_case {
    int n, in, out, bias;
} linear_case;

static const linear_case linear_cases[] = {
    {1, 7, 5, 1}, {3, 33, 17, 1}, {3, 130, 257, 0}, {5, 4608, 256, 1}, {7, 256, 128, 1},
    {1, 128, 7, 1},
};

static void case_linear(fer_backend *ref, fer_backend *be, const linear_case *c)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "linear(n=%d,in=%d,out=%d%s)", c->n, c->in, c->out,
             c->bias ? ",bias" : "");
    NEED(be, linear_forward, name);
    NEED(be, linear_backward, name);
    fer_linear_args a = {c->n, c->in, c->out, c->bias};
    size_t nx = (size_t)c->n * c->in, ny = (size_t)c->n * c->out, nw = (size_t)c->out * c->in;
    mirror x = mk_rand(ref, be, nx, 41, 1.0f, 0.0f);
    mirror w = mk_rand(ref, be, nw, 42, 1.0f / sqrtf((float)c->in), 0.0f);
    mirror bias = mk_rand(ref, be, (size_t)c->out, 43, 0.5f, 0.0f);
    mirror dy = mk_rand(ref, be, ny, 44, 1.0f, 0.0f);
    mirror y = mk(ref, be, NULL, ny), dx = mk(ref, be, NULL, nx), dw = mk(ref, be, NULL, nw);
    mirror db = mk(ref, be, NULL, (size_t)c->out);
    RUN(ref, linear_forward, &a, x.r, w.r, bias.r, y.r);
    RUN(be, linear_forward, &a, x.d, w.d, bias.d, y.d);
    RUN(ref, linear_backward, &a, x.r, w.r, dy.r, dx.r, dw.r, db.r);
    RUN(be, linear_backward, &a, x.d, w.d, dy.d, dx.d, dw.d, db.d);
    int ok = compare(ref, be, &y, "y", TOL_GEMM, line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_GEMM, line, LINE);
    ok &= compare(ref, be, &dw, "dw", TOL_GEMM, line, LINE);
    if (c->bias)
        ok &= compare(ref, be, &db, "db", TOL_GEMM, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &w, &bias, &dy, &y, &dx, &dw, &db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- element-wise: relu (also in place), dropout, scale, fill, copy, sum of squares ------ */

static void case_eltwise(fer_backend *ref, fer_backend *be, size_t n)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "relu/dropout/scale/fill/copy/sumsq(n=%zu)", n);
    NEED(be, relu_forward, name);
    NEED(be, relu_backward, name);
    NEED(be, dropout_forward, name);
    NEED(be, dropout_backward, name);
    NEED(be, scale, name);
    NEED(be, fill, name);
    NEED(be, copy, name);
    NEED(be, sum_squares, name);
    float *hx = rand_vec(n, 51, 1.0f, 0.0f);
    hx[0] = 0.0f;
    if (n > 2)
        hx[2] = -0.0f;
    mirror x = mk(ref, be, hx, n), xi = mk(ref, be, hx, n);
    free(hx);
    mirror dy = mk_rand(ref, be, n, 52, 1.0f, 0.0f), dyi = mk_rand(ref, be, n, 52, 1.0f, 0.0f);
    mirror y = mk(ref, be, NULL, n), dx = mk(ref, be, NULL, n), d1 = mk(ref, be, NULL, n),
           d2 = mk(ref, be, NULL, n), cp = mk(ref, be, NULL, n), fl = mk(ref, be, NULL, n);
    fer_backend *bs[2] = {ref, be};
    for (int i = 0; i < 2; i++) {
        fer_backend *b = bs[i];
        int r = i == 0;
        RUN(b, relu_forward, n, r ? x.r : x.d, r ? y.r : y.d);
        RUN(b, relu_forward, n, r ? xi.r : xi.d, r ? xi.r : xi.d); /* in place, as model.c */
        RUN(b, relu_backward, n, r ? y.r : y.d, r ? dy.r : dy.d, r ? dx.r : dx.d);
        RUN(b, relu_backward, n, r ? y.r : y.d, r ? dyi.r : dyi.d, r ? dyi.r : dyi.d);
        RUN(b, dropout_forward, n, 0.3f, 777, 0, r ? x.r : x.d, r ? d1.r : d1.d);
        /* a mask offset (a data-parallel shard's place in the batch) */
        RUN(b, dropout_backward, n, 0.3f, 777, 12345, r ? dy.r : dy.d, r ? d2.r : d2.d);
        RUN(b, copy, r ? cp.r : cp.d, r ? x.r : x.d, n * sizeof(float));
        RUN(b, scale, n, r ? cp.r : cp.d, -0.37f);
        RUN(b, fill, r ? fl.r : fl.d, 2.5f, n);
    }
    double ss_r = 0.0, ss_d = 0.0;
    RUN(ref, sum_squares, n, x.r, &ss_r);
    RUN(be, sum_squares, n, x.d, &ss_d);
    int ok = compare(ref, be, &y, "relu", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &xi, "relu(inpl)", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dx, "relu'", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dyi, "relu'(inpl)", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &d1, "drop", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &d2, "drop'", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &cp, "copy*s", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &fl, "fill", TOL_EXACT, line, LINE);
    double rel = fabs(ss_r - ss_d) / (ss_r > 0.0 ? ss_r : 1.0);
    int ok_ss = rel <= 1e-12;
    size_t len = strlen(line);
    snprintf(line + len, LINE - len, " sumsq=%.1e%s", rel, ok_ss ? "" : "(!)");
    verdict(name, ok && ok_ss, line);
    mirror *all[] = {&x, &xi, &dy, &dyi, &y, &dx, &d1, &d2, &cp, &fl};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- optimiser step: Adam, Adam + L2, AdamW, SGD (momentum, Nesterov, plain) ------------- */

#define TOL_OPTIM 1e-12 /* same per-element math; devices may fuse multiply-adds */

static void case_optim(fer_backend *ref, fer_backend *be, fer_optim_kind kind, float wd,
                       float momentum, int nesterov, size_t n)
{
    static const char *names[] = {"adam", "adamw", "sgd"};
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "optimizer(%s,wd=%g,mom=%g%s,n=%zu,3 steps)", names[kind],
             (double)wd, (double)momentum, nesterov ? ",nesterov" : "", n);
    NEED(be, optimizer_step, name);
    mirror p = mk_rand(ref, be, n, 61, 1.0f, 0.0f), m = mk(ref, be, NULL, n),
           v = mk(ref, be, NULL, n);
    mirror g[3] = {mk_rand(ref, be, n, 62, 1.0f, 0.0f), mk_rand(ref, be, n, 63, 0.1f, 0.0f),
                   mk_rand(ref, be, n, 64, 2.0f, 0.0f)};
    for (long step = 1; step <= 3; step++) {
        fer_optim_args a = {kind, 1e-2f, 0.9f, 0.999f, 1e-8f, wd, momentum, 0.0f, nesterov, step};
        RUN(ref, optimizer_step, &a, n, p.r, g[step - 1].r, m.r, v.r);
        RUN(be, optimizer_step, &a, n, p.d, g[step - 1].d, m.d, v.d);
    }
    int ok = compare(ref, be, &p, "param", TOL_OPTIM, line, LINE);
    ok &= compare(ref, be, &m, "m", TOL_OPTIM, line, LINE);
    if (kind != FER_OPTIM_SGD)
        ok &= compare(ref, be, &v, "v", TOL_OPTIM, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&p, &m, &v, &g[0], &g[1], &g[2]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- heads and loss --------------------------------------------------------------------- */

#define TOL_HEAD 1e-10

static void case_heads(fer_backend *ref, fer_backend *be, int n, int c, int dim)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "l2norm/arcface/softmax(n=%d,c=%d,dim=%d)", n, c, dim);
    NEED(be, l2norm_rows_forward, name);
    NEED(be, l2norm_rows_backward, name);
    NEED(be, arcface_forward, name);
    NEED(be, arcface_backward, name);
    NEED(be, softmax_rows, name);
    int32_t labels[16];
    for (int i = 0; i < n; i++)
        labels[i] = (i * 5 + 3) % c;
    void *lab_r = dev_from(ref, labels, (size_t)n * 4), *lab_d = dev_from(be, labels, (size_t)n * 4);
    mirror x = mk_rand(ref, be, (size_t)n * dim, 71, 1.0f, 0.0f);
    mirror dyn = mk_rand(ref, be, (size_t)n * dim, 72, 1.0f, 0.0f);
    mirror xn = mk(ref, be, NULL, (size_t)n * dim), norms = mk(ref, be, NULL, (size_t)n),
           dxn = mk(ref, be, NULL, (size_t)n * dim);
    mirror cs = mk_rand(ref, be, (size_t)n * c, 73, 0.99f, 0.0f);
    mirror dl = mk_rand(ref, be, (size_t)n * c, 74, 1.0f, 0.0f);
    mirror lg = mk(ref, be, NULL, (size_t)n * c), lgi = mk(ref, be, NULL, (size_t)n * c),
           dcs = mk(ref, be, NULL, (size_t)n * c), sm = mk(ref, be, NULL, (size_t)n * c);
    fer_arcface_args aa = {n, c, 30.0f, 0.5f};
    fer_backend *bs[2] = {ref, be};
    for (int i = 0; i < 2; i++) {
        fer_backend *b = bs[i];
        int r = i == 0;
        RUN(b, l2norm_rows_forward, n, dim, r ? x.r : x.d, r ? xn.r : xn.d, r ? norms.r : norms.d);
        RUN(b, l2norm_rows_backward, n, dim, r ? x.r : x.d, r ? norms.r : norms.d,
            r ? dyn.r : dyn.d, r ? dxn.r : dxn.d);
        RUN(b, arcface_forward, &aa, r ? cs.r : cs.d, r ? lab_r : lab_d, r ? lg.r : lg.d);
        RUN(b, arcface_forward, &aa, r ? cs.r : cs.d, NULL, r ? lgi.r : lgi.d);
        RUN(b, arcface_backward, &aa, r ? cs.r : cs.d, r ? lab_r : lab_d, r ? dl.r : dl.d,
            r ? dcs.r : dcs.d);
        RUN(b, softmax_rows, n, c, r ? dl.r : dl.d, r ? sm.r : sm.d);
    }
    int ok = compare(ref, be, &xn, "l2n", TOL_HEAD, line, LINE);
    ok &= compare(ref, be, &norms, "norms", TOL_HEAD, line, LINE);
    ok &= compare(ref, be, &dxn, "l2n'", TOL_HEAD, line, LINE);
    ok &= compare(ref, be, &lg, "arc", TOL_HEAD, line, LINE);
    ok &= compare(ref, be, &lgi, "arc(inf)", TOL_HEAD, line, LINE);
    ok &= compare(ref, be, &dcs, "arc'", TOL_HEAD, line, LINE);
    ok &= compare(ref, be, &sm, "softmax", TOL_HEAD, line, LINE);
    verdict(name, ok, line);
    ref->ops->release(ref, lab_r);
    be->ops->release(be, lab_d);
    mirror *all[] = {&x, &dyn, &xn, &norms, &dxn, &cs, &dl, &lg, &lgi, &dcs, &sm};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

static void case_loss(fer_backend *ref, fer_backend *be, fer_loss_kind kind, float gamma,
                      float smoothing, int weighted, int n, int c)
{
    static const char *names[] = {"ce", "wce", "focal"};
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "loss(%s,gamma=%g,ls=%g%s,n=%d,c=%d)", names[kind],
             (double)gamma, (double)smoothing, weighted ? ",weights" : "", n, c);
    NEED(be, loss_forward_backward, name);
    int32_t labels[16];
    for (int i = 0; i < n; i++)
        labels[i] = (i * 3 + 1) % c;
    void *lab_r = dev_from(ref, labels, (size_t)n * 4), *lab_d = dev_from(be, labels, (size_t)n * 4);
    mirror z = mk_rand(ref, be, (size_t)n * c, 81, 4.0f, 0.0f);
    mirror w = mk_rand(ref, be, (size_t)c, 82, 0.5f, 1.0f);
    mirror dz = mk(ref, be, NULL, (size_t)n * c);
    fer_loss_args a = {n, c, kind, gamma, smoothing, NULL, NULL};
    float loss_r = 0.0f, loss_d = 0.0f;
    RUN(ref, loss_forward_backward, &a, z.r, lab_r, weighted ? w.r : NULL, &loss_r, dz.r);
    RUN(be, loss_forward_backward, &a, z.d, lab_d, weighted ? w.d : NULL, &loss_d, dz.d);
    int ok = compare(ref, be, &dz, "dlogits", TOL_HEAD, line, LINE);
    double rel = fabs((double)loss_r - loss_d) / fabs((double)loss_r);
    size_t len = strlen(line);
    snprintf(line + len, LINE - len, " loss=%.1e%s", rel, rel <= 1e-6 ? "" : "(!)");
    verdict(name, ok && rel <= 1e-6, line);
    ref->ops->release(ref, lab_r);
    be->ops->release(be, lab_d);
    rm(ref, be, &z);
    rm(ref, be, &w);
    rm(ref, be, &dz);
}

/* Soft targets and logit offsets: backend against ref (TOL_HEAD on dlogits, 1e-6 relative on
 * the loss), and on the backend itself one-hot targets give the int-label loss within 1e-6
 * relative and dlogits within 1e-6 absolute. */
static void case_loss_soft(fer_backend *ref, fer_backend *be, fer_loss_kind kind, float smoothing,
                           int weighted, int offsets, int n, int c)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "loss_soft(%s,ls=%g%s%s,n=%d,c=%d)",
             kind == FER_LOSS_WCE ? "wce" : "ce", (double)smoothing, weighted ? ",weights" : "",
             offsets ? ",offsets" : "", n, c);
    NEED(be, loss_forward_backward, name);
    float *t = rand_vec((size_t)n * c, 83, 1.0f, 1.0f), *onehot = calloc((size_t)n * c, 4);
    int32_t labels[16];
    if (!onehot)
        die("malloc");
    for (int i = 0; i < n; i++) {
        double sum = 0.0;
        for (int j = 0; j < c; j++)
            sum += t[i * c + j];
        for (int j = 0; j < c; j++)
            t[i * c + j] = (float)(t[i * c + j] / sum);
        labels[i] = (i * 5 + 2) % c;
        onehot[i * c + labels[i]] = 1.0f;
    }
    mirror tg = mk(ref, be, t, (size_t)n * c), oh = mk(ref, be, onehot, (size_t)n * c);
    void *lab_d = dev_from(be, labels, (size_t)n * 4);
    mirror z = mk_rand(ref, be, (size_t)n * c, 84, 4.0f, 0.0f);
    mirror w = mk_rand(ref, be, (size_t)c, 85, 0.5f, 1.0f);
    mirror off = mk_rand(ref, be, (size_t)c, 86, 1.5f, -2.0f);
    mirror dz = mk(ref, be, NULL, (size_t)n * c), dz_oh = mk(ref, be, NULL, (size_t)n * c);
    fer_loss_args ar = {n, c, kind, 0.0f, smoothing, tg.r, offsets ? off.r : NULL};
    fer_loss_args ad = {n, c, kind, 0.0f, smoothing, tg.d, offsets ? off.d : NULL};
    float loss_r = 0.0f, loss_d = 0.0f, loss_oh = 0.0f, loss_lab = 0.0f;
    RUN(ref, loss_forward_backward, &ar, z.r, NULL, weighted ? w.r : NULL, &loss_r, dz.r);
    RUN(be, loss_forward_backward, &ad, z.d, NULL, weighted ? w.d : NULL, &loss_d, dz.d);
    int ok = compare(ref, be, &dz, "dlogits", TOL_HEAD, line, LINE);
    double rel = fabs((double)loss_r - loss_d) / fabs((double)loss_r);
    /* one-hot rows against int labels, both on the backend under test */
    fer_loss_args a_oh = ad, a_lab = ad;
    a_oh.targets = oh.d;
    a_lab.targets = NULL;
    RUN(be, loss_forward_backward, &a_oh, z.d, NULL, weighted ? w.d : NULL, &loss_oh, dz_oh.d);
    RUN(be, loss_forward_backward, &a_lab, z.d, lab_d, weighted ? w.d : NULL, &loss_lab, dz.d);
    float *g1 = malloc((size_t)n * c * 4), *g2 = malloc((size_t)n * c * 4);
    if (!g1 || !g2)
        die("malloc");
    fetch(be, g1, dz_oh.d, (size_t)n * c * 4);
    fetch(be, g2, dz.d, (size_t)n * c * 4);
    double worst = 0.0;
    for (int i = 0; i < n * c; i++)
        worst = fmax(worst, fabs((double)g1[i] - g2[i]));
    double rel_oh = fabs((double)loss_oh - loss_lab) / fabs((double)loss_lab);
    size_t len = strlen(line);
    snprintf(line + len, LINE - len, " loss=%.1e%s onehot: loss=%.1e dz=%.1e%s", rel,
             rel <= 1e-6 ? "" : "(!)", rel_oh, worst, rel_oh <= 1e-6 && worst <= 1e-6 ? "" : "(!)");
    verdict(name, ok && rel <= 1e-6 && rel_oh <= 1e-6 && worst <= 1e-6, line);
    free(t), free(onehot), free(g1), free(g2);
    be->ops->release(be, lab_d);
    rm(ref, be, &tg), rm(ref, be, &oh), rm(ref, be, &z), rm(ref, be, &w), rm(ref, be, &off);
    rm(ref, be, &dz), rm(ref, be, &dz_oh);
}

/* ---- determinism: the cpu backend gives identical bits for 1 and 3 threads -------------- */

/* Runs conv (direct and Winograd sizes), batch norm, linear and sum of squares on backend b;
 * returns the outputs concatenated (malloc'd, *n floats). */
static float *invariance_outputs(fer_backend *b, size_t *n)
{
    static const fer_conv2d_args convs[] = {{3, 6, 17, 13, 9, 17, 13, 3, 1, 1, 0, 1, 0},
                                            {3, 9, 17, 13, 11, 17, 13, 3, 1, 1, 1, 1, 0},
                                            {3, 6, 13, 9, 6, 13, 9, 3, 1, 1, 1, 6, 0},
                                            {3, 8, 13, 11, 8, 7, 6, 3, 2, 1, 1, 8, 0},
                                            /* depthwise weight gradient: image
                                             * groups x channel blocks by thread count */
                                            {19, 8, 9, 8, 8, 9, 8, 3, 1, 1, 1, 8, 0},
                                            {3, 6, 13, 9, 8, 7, 5, 3, 2, 1, 0, 2, 0},
                                            {3, 16, 9, 7, 16, 9, 7, 3, 1, 1, 1, 2, 0},
                                            /* stride 2: phase planes, chunks of images */
                                            {3, 6, 13, 9, 8, 7, 5, 3, 2, 1, 1, 1, 0},
                                            {5, 32, 24, 20, 24, 12, 10, 3, 2, 1, 0, 1, 0},
                                            {3, 16, 80, 80, 8, 40, 40, 3, 2, 1, 1, 1, 0},
                                            /* 1x1 GEMM per image: pixels split by the
                                             * thread count at batch 3; 8 weight-gradient
                                             * groups at batch 9, stride 2 */
                                            {3, 13, 16, 12, 20, 16, 12, 1, 1, 0, 1, 1, 0},
                                            {9, 7, 11, 35, 10, 6, 18, 1, 2, 0, 0, 1, 0}};
    size_t total = 0, cap = 1 << 16;
    float *out = malloc(cap * sizeof *out);
    if (!out)
        die("malloc");
#define APPEND(ptr, cnt)                                                                       \
    do {                                                                                       \
        size_t c_ = (cnt);                                                                     \
        while (total + c_ > cap) {                                                             \
            cap *= 2;                                                                          \
            out = realloc(out, cap * sizeof *out);                                             \
            if (!out)                                                                          \
                die("realloc");                                                                \
        }                                                                                      \
        memcpy(out + total, (ptr), c_ * sizeof(float));                                        \
        total += c_;                                                                           \
    } while (0)
    /* host memory is valid backend memory for the cpu backend */
    for (size_t i = 0; i < sizeof convs / sizeof *convs; i++) {
        const fer_conv2d_args *a = &convs[i];
        size_t nx = (size_t)a->n * a->in_c * a->in_h * a->in_w;
        size_t ny = (size_t)a->n * a->out_c * a->out_h * a->out_w;
        size_t nw = (size_t)a->out_c * (a->in_c / a->groups) * a->k * a->k;
        float *x = rand_vec(nx, 91, 1.0f, 0.0f), *w = rand_vec(nw, 92, 0.3f, 0.0f);
        float *dy = rand_vec(ny, 93, 1.0f, 0.0f), *bias = rand_vec((size_t)a->out_c, 94, 1, 0);
        float *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx),
              *dw = malloc(nw * sizeof *dw), *db = malloc((size_t)a->out_c * sizeof *db),
              *z = malloc(ny * sizeof *z);
        if (!y || !dx || !dw || !db || !z)
            die("malloc");
        RUN(b, conv2d_forward, a, x, w, bias, y);
        RUN(b, conv2d_backward, a, x, w, dy, dx, dw, db);
        APPEND(y, ny);
        APPEND(dx, nx);
        APPEND(dw, nw);
        if (a->has_bias)
            APPEND(db, (size_t)a->out_c);
        /* batch norm over the conv output */
        fer_bn_args ba = {.n = a->n, .c = a->out_c, .hw = a->out_h * a->out_w, .eps = 1e-5f,
                          .momentum = 0.1f};
        float rm[32] = {0}, rv[32], sm[32], si[32], dg[32], dbt[32];
        for (int c = 0; c < 32; c++)
            rv[c] = 1.0f;
        RUN(b, batchnorm_forward, &ba, 1, y, NULL, NULL, rm, rv, z, sm, si);
        APPEND(z, ny);
        RUN(b, batchnorm_backward, &ba, y, NULL, NULL, sm, si, dy, z, dg, dbt);
        APPEND(z, ny);
        APPEND(rv, (size_t)a->out_c);
        APPEND(dg, (size_t)a->out_c);
        free(x), free(w), free(dy), free(bias), free(y), free(dx), free(dw), free(db), free(z);
    }
    fer_linear_args la = {5, 130, 67, 1};
    float *x = rand_vec(5 * 130, 95, 1.0f, 0.0f), *w = rand_vec(67 * 130, 96, 0.1f, 0.0f);
    float *bias = rand_vec(67, 97, 1.0f, 0.0f), *dy = rand_vec(5 * 67, 98, 1.0f, 0.0f);
    float y[5 * 67], dx[5 * 130], dw[67 * 130], db[67];
    RUN(b, linear_forward, &la, x, w, bias, y);
    RUN(b, linear_backward, &la, x, w, dy, dx, dw, db);
    APPEND(y, sizeof y / sizeof *y);
    APPEND(dx, sizeof dx / sizeof *dx);
    APPEND(dw, sizeof dw / sizeof *dw);
    APPEND(db, sizeof db / sizeof *db);
    double ss = 0.0;
    RUN(b, sum_squares, 5 * 130, x, &ss);
    float ssf[2] = {(float)ss, (float)(ss - (double)(float)ss)};
    APPEND(ssf, 2);
#undef APPEND
    free(x), free(w), free(bias), free(dy);
    *n = total;
    return out;
}

static void case_thread_invariance(fer_backend *ref, fer_backend *be)
{
    (void)ref;
    if (strcmp(be->name, "cpu") != 0)
        return;
    const char *name = "cpu: conv/bn/linear/sumsq bits equal for 1 and 3 threads";
    fer_backend *b1, *b3;
    if (fer_backend_new("cpu", 1, &b1) != FER_OK || fer_backend_new("cpu", 3, &b3) != FER_OK)
        die("cpu backend");
    size_t n1, n3;
    float *o1 = invariance_outputs(b1, &n1), *o3 = invariance_outputs(b3, &n3);
    int ok = n1 == n3 && memcmp(o1, o3, n1 * sizeof(float)) == 0;
    char why[96] = "";
    if (!ok) {
        size_t i = 0;
        while (i < n1 && i < n3 && memcmp(&o1[i], &o3[i], sizeof(float)) == 0)
            i++;
        snprintf(why, sizeof why, "results depend on the thread count (output %zu of %zu)", i, n1);
    }
    verdict(name, ok, why);
    free(o1);
    free(o3);
    fer_backend_free(b1);
    fer_backend_free(b3);
}

/* ---- batch independence: a sample's eval logits do not depend on its batch --------------- */

static void case_batch_invariance(fer_backend *ref, fer_backend *be)
{
    (void)ref;
    if (strcmp(be->name, "cpu") != 0)
        return;
    const char *name = "cpu: simplecnn eval logits equal in batches of 7, 5 and 1";
    fer_arch arch;
    fer_model *m;
    if (fer_arch_preset("simplecnn", FER_HEAD_SOFTMAX, &arch) != FER_OK ||
        fer_model_new(&arch, be, 7, &m) != FER_OK || fer_model_init(m, 5) != FER_OK)
        die("model");
    size_t in = (size_t)arch.in_c * arch.in_h * arch.in_w;
    float *x = rand_vec(7 * in, 99, 1.0f, 0.0f), all[7 * 7], part[7 * 7];
    if (fer_model_forward(m, x, 7, FER_MODE_EVAL, NULL, 0, all) != FER_OK)
        die("forward");
    int ok = 1;
    if (fer_model_forward(m, x + 2 * in, 5, FER_MODE_EVAL, NULL, 0, part) != FER_OK)
        die("forward");
    ok &= memcmp(part, all + 2 * 7, 5 * 7 * sizeof(float)) == 0;
    for (int i = 0; i < 7; i++) {
        if (fer_model_forward(m, x + (size_t)i * in, 1, FER_MODE_EVAL, NULL, 0, part) != FER_OK)
            die("forward");
        ok &= memcmp(part, all + i * 7, 7 * sizeof(float)) == 0;
    }
    verdict(name, ok, ok ? "" : "logits depend on the batch size");
    free(x);
    fer_model_free(m);
}

/* ---- the table -------------------------------------------------------------------------- */

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define N_ELTWISE 2
#define N_OPTIM 5
#define N_HEADS 2
#define N_LOSS 5

static int n_all_cases(void)
{
    return COUNT(conv_cases) + COUNT(bn_cases) + COUNT(pool_cases) + COUNT(linear_cases) +
           N_ELTWISE + N_OPTIM + N_HEADS + N_LOSS;
}

/* ---- activations: leaky_relu, relu6, hardswish, sigmoid; forward, backward, backward in
 * place (dx over dy, as model.c), with the kinks and their neighbours in the input ---------- */

#define TOL_ACT 1e-12 /* sigmoid: a device expf may differ from the host's in the last bit */

static void case_activation(fer_backend *ref, fer_backend *be, fer_activation kind, float param,
                            size_t n)
{
    static const char *const names[] = {"leaky_relu", "relu6", "hardswish", "sigmoid"};
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "%s(param=%g,n=%zu)", names[kind], (double)param, n);
    NEED(be, activation_forward, name);
    NEED(be, activation_backward, name);
    float *hx = rand_vec(n, 61, 8.0f, 0.0f); /* spans -8..8: both sides of every kink */
    static const float kinks[] = {0.0f, -0.0f, 3.0f, -3.0f, 6.0f, -6.0f, 2.9999998f, 3.0000002f,
                                  -2.9999998f, -3.0000002f, 5.9999995f, 6.0000005f, 1e-30f,
                                  -1e-30f, 100.0f, -100.0f};
    for (size_t i = 0; i < sizeof kinks / sizeof *kinks && i < n; i++)
        hx[i] = kinks[i];
    mirror x = mk(ref, be, hx, n);
    free(hx);
    mirror dy = mk_rand(ref, be, n, 62, 1.0f, 0.0f), dyi = mk_rand(ref, be, n, 62, 1.0f, 0.0f);
    mirror y = mk(ref, be, NULL, n), dx = mk(ref, be, NULL, n);
    fer_backend *bs[2] = {ref, be};
    for (int i = 0; i < 2; i++) {
        fer_backend *b = bs[i];
        int r = i == 0;
        RUN(b, activation_forward, kind, param, n, r ? x.r : x.d, r ? y.r : y.d);
        RUN(b, activation_backward, kind, param, n, r ? x.r : x.d, r ? dy.r : dy.d,
            r ? dx.r : dx.d);
        RUN(b, activation_backward, kind, param, n, r ? x.r : x.d, r ? dyi.r : dyi.d,
            r ? dyi.r : dyi.d);
    }
    double tol = kind == FER_ACT_SIGMOID ? TOL_ACT : TOL_EXACT;
    int ok = compare(ref, be, &y, "y", tol, line, LINE);
    ok &= compare(ref, be, &dx, "dx", tol, line, LINE);
    ok &= compare(ref, be, &dyi, "dx(inpl)", tol, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &dy, &dyi, &y, &dx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- average pooling: avgpool2d (stride, padding) and the global form (window = plane) ---- */

typedef struct avgpool_case {
    int n, c, h, w, k, s, p; /* k == 0: global (the whole plane) */
} avgpool_case;

static const avgpool_case avgpool_cases[] = {
    {1, 3, 7, 9, 2, 2, 0},   /* batch 1, odd channels, non-square, a column left over */
    {3, 5, 9, 7, 3, 2, 1},   /* stride 2, pad 1: padded zeros in the divisor */
    {3, 3, 6, 5, 3, 1, 1},   /* stride 1: overlapping windows in backward */
    {2, 4, 8, 8, 2, 2, 1},   /* pad 1 = k/2 */
    {3, 7, 5, 11, 5, 3, 2},  /* k 5, stride 3, pad 2 */
    {1, 3, 7, 5, 0, 0, 0},   /* global, batch 1, non-square */
    {3, 33, 6, 6, 0, 0, 0},  /* global, odd channels */
    {3, 5, 1, 1, 0, 0, 0},   /* global over a 1x1 plane */
};

static void case_avgpool(fer_backend *ref, fer_backend *be, const avgpool_case *c)
{
    char name[128], line[LINE] = "";
    int global = c->k == 0;
    fer_avgpool_args a = {c->n, c->c, {c->h, c->w, 1, 1, c->h, c->w, 1, 1, 0, 0}};
    if (!global) {
        a.g = (fer_avgpool_geom){c->h, c->w, (c->h + 2 * c->p - c->k) / c->s + 1,
                                 (c->w + 2 * c->p - c->k) / c->s + 1, c->k, c->k, c->s, c->s,
                                 c->p, c->p};
        snprintf(name, sizeof name, "avgpool2d(n=%d,c=%d,%dx%d,k=%d,s=%d,p=%d)", c->n, c->c, c->h,
                 c->w, c->k, c->s, c->p);
    } else {
        snprintf(name, sizeof name, "global_avgpool(n=%d,c=%d,%dx%d)", c->n, c->c, c->h, c->w);
    }
    NEED(be, avgpool_forward, name);
    NEED(be, avgpool_backward, name);
    size_t nx = (size_t)c->n * c->c * c->h * c->w;
    size_t ny = (size_t)c->n * c->c * a.g.out_h * a.g.out_w;
    mirror x = mk_rand(ref, be, nx, 71, 1.0f, 0.0f), dy = mk_rand(ref, be, ny, 72, 1.0f, 0.0f);
    mirror y = mk(ref, be, NULL, ny), dx = mk(ref, be, NULL, nx);
    RUN(ref, avgpool_forward, &a, x.r, y.r);
    RUN(be, avgpool_forward, &a, x.d, y.d);
    RUN(ref, avgpool_backward, &a, dy.r, dx.r);
    RUN(be, avgpool_backward, &a, dy.d, dx.d);
    /* same terms in the same order on every backend: equal bit for bit */
    int ok = compare(ref, be, &y, "y", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_EXACT, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &dy, &y, &dx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* ---- graph ops: add, channel copy, mul gate, PReLU --------------------------------------- */

#define TOL_PRELU_DW 1e-12 /* dw: double sums in another order (per plane, then per sample),
                            * rounded to float: at most an ulp apart */

/* y = x0 + x1 into a third buffer and in place over x0 (the model's gradient accumulation). */
static void case_add(fer_backend *ref, fer_backend *be, size_t n)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "add(n=%zu)", n);
    NEED(be, add, name);
    mirror x0 = mk_rand(ref, be, n, 81, 1.0f, 0.0f), x1 = mk_rand(ref, be, n, 82, 2.0f, 0.5f);
    mirror acc = mk_rand(ref, be, n, 81, 1.0f, 0.0f), y = mk(ref, be, NULL, n);
    mirror acc1 = mk_rand(ref, be, n, 82, 2.0f, 0.5f);
    RUN(ref, add, n, x0.r, x1.r, y.r);
    RUN(be, add, n, x0.d, x1.d, y.d);
    RUN(ref, add, n, acc.r, x1.r, acc.r);
    RUN(be, add, n, acc.d, x1.d, acc.d);
    RUN(ref, add, n, x0.r, acc1.r, acc1.r); /* in place on the second operand */
    RUN(be, add, n, x0.d, acc1.d, acc1.d);
    int ok = compare(ref, be, &y, "y", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &acc, "y(=x0)", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &acc1, "y(=x1)", TOL_EXACT, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x0, &x1, &acc, &acc1, &y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

typedef struct channel_copy_case {
    int n, h, w, c, src_c, src_off, dst_c, dst_off;
} channel_copy_case;

static const channel_copy_case channel_copy_cases[] = {
    {3, 7, 5, 3, 5, 1, 9, 4},   /* offsets on both sides, odd counts, non-square */
    {1, 13, 1, 4, 4, 0, 7, 3},  /* batch 1, whole source into the tail of dst (concat) */
    {3, 6, 7, 2, 5, 3, 2, 0},   /* a slice of src into the whole dst (concat backward) */
    {3, 5, 5, 5, 5, 0, 8, 0},   /* channel padding: input into the head of a wider tensor */
    {2, 48, 48, 7, 7, 0, 11, 4}, /* several planes per task */
};

/* dst starts random: the channels outside the copied block must keep their values. */
static void case_channel_copy(fer_backend *ref, fer_backend *be, const channel_copy_case *c)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "channel_copy(n=%d,%dx%d,c=%d,src %d@%d,dst %d@%d)", c->n, c->h,
             c->w, c->c, c->src_c, c->src_off, c->dst_c, c->dst_off);
    NEED(be, channel_copy, name);
    fer_channel_copy_args a = {c->n, c->h * c->w, c->c, c->src_c, c->src_off, c->dst_c, c->dst_off};
    size_t hw = (size_t)c->h * c->w;
    mirror src = mk_rand(ref, be, (size_t)c->n * c->src_c * hw, 83, 1.0f, 0.0f);
    mirror dst = mk_rand(ref, be, (size_t)c->n * c->dst_c * hw, 84, 1.0f, 0.0f);
    RUN(ref, channel_copy, &a, src.r, dst.r);
    RUN(be, channel_copy, &a, src.d, dst.d);
    int ok = compare(ref, be, &dst, "dst", TOL_EXACT, line, LINE);
    verdict(name, ok, line);
    rm(ref, be, &src);
    rm(ref, be, &dst);
}

typedef struct pad2d_case {
    int planes, h, w, top, left, bottom, right;
} pad2d_case;

static const pad2d_case pad2d_cases[] = {
    {3, 256, 256, 1, 1, 2, 2}, /* BlazeFace's first convolution (TF "SAME", k 5, stride 2) */
    {5, 16, 16, 0, 0, 1, 1},   /* a stride-2 depthwise layer's "SAME" padding */
    {7, 5, 3, 3, 0, 0, 2},     /* odd, non-square, one-sided */
    {1, 1, 1, 0, 0, 0, 0},     /* nothing to pad: a copy */
    {200, 9, 11, 2, 1, 0, 4},  /* many planes: several per task */
};

/* Forward and backward; y and dx start random, so every element must be written. */
static void case_pad2d(fer_backend *ref, fer_backend *be, const pad2d_case *c)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "pad2d(%d planes of %dx%d, t%d l%d b%d r%d)", c->planes, c->h,
             c->w, c->top, c->left, c->bottom, c->right);
    NEED(be, pad2d_forward, name);
    NEED(be, pad2d_backward, name);
    fer_pad2d_args a = {c->planes, c->h, c->w, c->top, c->left, c->bottom, c->right};
    size_t in_n = (size_t)c->planes * c->h * c->w;
    size_t out_n = (size_t)c->planes * (c->top + c->h + c->bottom) * (c->left + c->w + c->right);
    mirror x = mk_rand(ref, be, in_n, 91, 1.0f, 0.0f), y = mk_rand(ref, be, out_n, 92, 1.0f, 0.0f);
    mirror dy = mk_rand(ref, be, out_n, 93, 1.0f, 0.0f), dx = mk_rand(ref, be, in_n, 94, 1.0f, 0.0f);
    RUN(ref, pad2d_forward, &a, x.r, y.r);
    RUN(be, pad2d_forward, &a, x.d, y.d);
    RUN(ref, pad2d_backward, &a, dy.r, dx.r);
    RUN(be, pad2d_backward, &a, dy.d, dx.d);
    int ok = compare(ref, be, &y, "y", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_EXACT, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &y, &dy, &dx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

typedef struct graph_case {
    int n, c, h, w;
    int gate_full; /* mul: gate of x's shape (g_hw == hw) instead of one per channel */
} graph_case;

static const graph_case mul_cases[] = {
    {1, 3, 7, 5, 0}, {3, 5, 9, 7, 0}, {3, 7, 1, 1, 0}, {2, 33, 12, 12, 0},
    {1, 3, 7, 5, 1}, {3, 5, 9, 7, 1}, {2, 33, 12, 12, 1},
};

/* Forward; backward with both gradients, with dx only and with dg only. */
static void case_mul(fer_backend *ref, fer_backend *be, const graph_case *c)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "mul(n=%d,c=%d,%dx%d,gate %s)", c->n, c->c, c->h, c->w,
             c->gate_full ? "full" : "per channel");
    NEED(be, mul_forward, name);
    NEED(be, mul_backward, name);
    int hw = c->h * c->w;
    fer_mul_args a = {c->n, c->c, hw, c->gate_full ? hw : 1};
    size_t nx = (size_t)c->n * c->c * hw, ng = (size_t)c->n * c->c * a.g_hw;
    mirror x = mk_rand(ref, be, nx, 85, 1.0f, 0.0f), g = mk_rand(ref, be, ng, 86, 0.5f, 0.5f);
    mirror dy = mk_rand(ref, be, nx, 87, 1.0f, 0.0f);
    mirror y = mk(ref, be, NULL, nx), dx = mk(ref, be, NULL, nx), dg = mk(ref, be, NULL, ng);
    mirror dx_only = mk(ref, be, NULL, nx), dg_only = mk(ref, be, NULL, ng);
    RUN(ref, mul_forward, &a, x.r, g.r, y.r);
    RUN(be, mul_forward, &a, x.d, g.d, y.d);
    RUN(ref, mul_backward, &a, x.r, g.r, dy.r, dx.r, dg.r);
    RUN(be, mul_backward, &a, x.d, g.d, dy.d, dx.d, dg.d);
    RUN(ref, mul_backward, &a, x.r, g.r, dy.r, dx_only.r, NULL);
    RUN(be, mul_backward, &a, x.d, g.d, dy.d, dx_only.d, NULL);
    RUN(ref, mul_backward, &a, x.r, g.r, dy.r, NULL, dg_only.r);
    RUN(be, mul_backward, &a, x.d, g.d, dy.d, NULL, dg_only.d);
    /* the broadcast dg is each plane's double sum in order on every backend: exact too */
    int ok = compare(ref, be, &y, "y", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dg, "dg", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dx_only, "dx(no dg)", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dg_only, "dg(no dx)", TOL_EXACT, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &g, &dy, &y, &dx, &dg, &dx_only, &dg_only};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

static const graph_case prelu_cases[] = {
    {1, 3, 7, 5, 0}, {3, 5, 9, 7, 0}, {3, 7, 1, 1, 0}, {2, 33, 12, 12, 0}, {3, 4, 48, 48, 0},
};

/* Forward; backward into dx, in place (dx == dy) and without dx; x has exact zeros (the
 * slope side) and w a negative and a zero slope. */
static void case_prelu(fer_backend *ref, fer_backend *be, const graph_case *c)
{
    char name[128], line[LINE] = "";
    snprintf(name, sizeof name, "prelu(n=%d,c=%d,%dx%d)", c->n, c->c, c->h, c->w);
    NEED(be, prelu_forward, name);
    NEED(be, prelu_backward, name);
    fer_prelu_args a = {c->n, c->c, c->h * c->w};
    size_t nx = (size_t)c->n * c->c * c->h * c->w, C = (size_t)c->c;
    float *hx = rand_vec(nx, 88, 1.0f, 0.0f), *hw = rand_vec(C, 89, 0.3f, 0.25f);
    for (size_t i = 0; i < nx; i += 5)
        hx[i] = i % 2 ? -0.0f : 0.0f;
    hw[0] = -0.5f;
    if (C > 1)
        hw[1] = 0.0f;
    mirror x = mk(ref, be, hx, nx), w = mk(ref, be, hw, C);
    free(hx);
    free(hw);
    mirror dy = mk_rand(ref, be, nx, 90, 1.0f, 0.0f), dyi = mk_rand(ref, be, nx, 90, 1.0f, 0.0f);
    mirror y = mk(ref, be, NULL, nx), dx = mk(ref, be, NULL, nx);
    mirror dw = mk(ref, be, NULL, C), dwi = mk(ref, be, NULL, C), dwn = mk(ref, be, NULL, C);
    RUN(ref, prelu_forward, &a, x.r, w.r, y.r);
    RUN(be, prelu_forward, &a, x.d, w.d, y.d);
    RUN(ref, prelu_backward, &a, x.r, w.r, dy.r, dx.r, dw.r);
    RUN(be, prelu_backward, &a, x.d, w.d, dy.d, dx.d, dw.d);
    RUN(ref, prelu_backward, &a, x.r, w.r, dyi.r, dyi.r, dwi.r);
    RUN(be, prelu_backward, &a, x.d, w.d, dyi.d, dyi.d, dwi.d);
    RUN(ref, prelu_backward, &a, x.r, w.r, dy.r, NULL, dwn.r);
    RUN(be, prelu_backward, &a, x.d, w.d, dy.d, NULL, dwn.d);
    int ok = compare(ref, be, &y, "y", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dx, "dx", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dw, "dw", TOL_PRELU_DW, line, LINE);
    ok &= compare(ref, be, &dyi, "dx(inpl)", TOL_EXACT, line, LINE);
    ok &= compare(ref, be, &dwi, "dw(inpl)", TOL_PRELU_DW, line, LINE);
    ok &= compare(ref, be, &dwn, "dw(no dx)", TOL_PRELU_DW, line, LINE);
    verdict(name, ok, line);
    mirror *all[] = {&x, &w, &dy, &dyi, &y, &dx, &dw, &dwi, &dwn};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        rm(ref, be, all[i]);
}

/* Depthwise layers of pseudo-random shape (fixed seed): k 3 or 5, stride 1 or 2, every pad up
 * to k - 1, multiplier 1 or 2, planes 1..40 on a side, batch 1..3, bias on or off. The edges
 * of the cpu backend's split-plane kernels (row blocks, vector tails, stride-2 column blocks)
 * meet here in combinations the table above does not list (the stride-2 hang fixed in a1da773
 * was found this way). */
static void depthwise_random_cases(fer_backend *ref, fer_backend *be, int count)
{
    uint32_t state = 20261206u;
#define NEXT(m) ((state = state * 1664525u + 1013904223u), (int)((state >> 8) % (uint32_t)(m)))
    for (int i = 0; i < count; i++) {
        conv_case c;
        c.k = NEXT(2) ? 5 : 3;
        c.s = 1 + NEXT(2);
        c.p = NEXT(c.k);
        c.h = 1 + NEXT(40);
        c.w = 1 + NEXT(40);
        c.groups = c.ci = 2 + NEXT(3); /* groups == in_c >= 2: depthwise */
        c.co = c.ci * (1 + NEXT(2));
        c.n = 1 + NEXT(3);
        c.bias = NEXT(2);
        if (c.h + 2 * c.p < c.k || c.w + 2 * c.p < c.k) {
            i--; /* no output: draw again */
            continue;
        }
        case_conv(ref, be, &c);
    }
#undef NEXT
}

static void run_all_cases(fer_backend *ref, fer_backend *be)
{
    for (int i = 0; i < COUNT(conv_cases); i++)
        case_conv(ref, be, &conv_cases[i]);
    depthwise_random_cases(ref, be, 40);
    for (int i = 0; i < COUNT(bn_cases); i++)
        case_bn(ref, be, &bn_cases[i]);
    for (int i = 0; i < COUNT(pool_cases); i++)
        case_pool(ref, be, &pool_cases[i]);
    for (int i = 0; i < COUNT(linear_cases); i++)
        case_linear(ref, be, &linear_cases[i]);
    case_eltwise(ref, be, 1);
    case_eltwise(ref, be, 70001);
    for (int k = FER_ACT_LEAKY_RELU; k <= FER_ACT_SIGMOID; k++) {
        case_activation(ref, be, (fer_activation)k, 0.01f, 1);
        case_activation(ref, be, (fer_activation)k, 0.01f, 70001); /* several chunks */
    }
    case_activation(ref, be, FER_ACT_LEAKY_RELU, 0.2f, 97);
    case_activation(ref, be, FER_ACT_LEAKY_RELU, 0.0f, 97); /* slope 0: relu with grad 0 at 0 */
    for (int i = 0; i < COUNT(avgpool_cases); i++)
        case_avgpool(ref, be, &avgpool_cases[i]);
    case_add(ref, be, 1);
    case_add(ref, be, 37); /* vectors and a scalar tail */
    case_add(ref, be, 70001); /* several chunks */
    for (int i = 0; i < COUNT(channel_copy_cases); i++)
        case_channel_copy(ref, be, &channel_copy_cases[i]);
    for (int i = 0; i < COUNT(pad2d_cases); i++)
        case_pad2d(ref, be, &pad2d_cases[i]);
    for (int i = 0; i < COUNT(mul_cases); i++)
        case_mul(ref, be, &mul_cases[i]);
    for (int i = 0; i < COUNT(prelu_cases); i++)
        case_prelu(ref, be, &prelu_cases[i]);
    case_optim(ref, be, FER_OPTIM_ADAM, 0.0f, 0.0f, 0, 70001);
    case_optim(ref, be, FER_OPTIM_ADAM, 0.01f, 0.0f, 0, 1001);
    case_optim(ref, be, FER_OPTIM_ADAMW, 0.01f, 0.0f, 0, 70001);
    case_optim(ref, be, FER_OPTIM_SGD, 1e-4f, 0.9f, 1, 70001);
    case_optim(ref, be, FER_OPTIM_SGD, 0.0f, 0.0f, 0, 33);
    case_heads(ref, be, 3, 7, 128);
    case_heads(ref, be, 1, 7, 5);
    case_loss(ref, be, FER_LOSS_CE, 0.0f, 0.0f, 0, 3, 7);
    case_loss(ref, be, FER_LOSS_WCE, 0.0f, 0.0f, 1, 5, 7);
    case_loss(ref, be, FER_LOSS_FOCAL, 2.0f, 0.0f, 0, 3, 7);
    case_loss(ref, be, FER_LOSS_FOCAL, 2.0f, 0.0f, 1, 1, 7);
    case_loss(ref, be, FER_LOSS_CE, 0.0f, 0.1f, 0, 3, 7);
    case_loss_soft(ref, be, FER_LOSS_CE, 0.0f, 0, 0, 4, 7);
    case_loss_soft(ref, be, FER_LOSS_WCE, 0.1f, 1, 0, 5, 7);
    case_loss_soft(ref, be, FER_LOSS_CE, 0.0f, 0, 1, 3, 7);
    case_loss_soft(ref, be, FER_LOSS_WCE, 0.2f, 1, 1, 6, 7);
    case_thread_invariance(ref, be);
    case_batch_invariance(ref, be);
}

#endif
