/* The CNN face detector (fer/face_detector.h): a BlazeFace .fer from fer-convert-tfjs on any
 * backend, the letterbox in front of it and the anchor decoding, tiling and NMS after it.
 * Decoding follows @vladmandic/human 3.3.6 (src/face/blazeface.ts): per anchor 1 logit (score =
 * sigmoid) and 16 regressors in input pixels: box centre offset x, y from the anchor, box w, h,
 * then six keypoints as offsets from the anchor.
 * A header whose config says "decoder": "tiny_yolo" (face-api's TinyFaceDetector, converted by
 * fer-convert-tfjs from its weights manifest) is decoded as @vladmandic/face-api 1.7.15's
 * TinyYolov2Base.extractBoxes: per grid cell and anchor tx, ty, tw, th, score logit; centre
 * (cell + sigmoid(t)) * stride, size exp(t) * anchor * stride; no keypoints. */
#include "fer/face_detector.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/checkpoint.h"
#include "fer/model.h"

/* Smallest face side, in network pixels, that the detector is asked to find in one pass: a
 * frame whose min_face_px shrinks below this in the whole-frame letterbox gets tiles.
 * tests/detector/test_detector_real.c measures BlazeFace's recall against face size. */
#define NET_MIN_FACE 20.0f
#define MAX_PASSES 16       /* whole frame + tiles, one batched forward */
#define MAX_BATCH 2         /* passes per forward call: every layer keeps its output (73 MB a pass) */
#define N_REGRESSORS 16     /* 4 box values + 6 keypoints x 2 */
#define MAX_HEADS 4         /* anchor grids */
#define MAX_YOLO_ANCHORS 16
#define YOLO_BOX_VALUES 5   /* tx, ty, tw, th, score logit */

#define FER_TRY_DET(expr)                                                                      \
    do {                                                                                       \
        fer_status st_ = (expr);                                                               \
        if (st_ != FER_OK)                                                                     \
            return st_;                                                                        \
    } while (0)

/* One TF.js output inside the flat model output (fer-convert-tfjs's config.outputs). */
typedef struct head_output {
    int rows, cols, channels, height, width;
    size_t offset;
} head_output;

/* A grid of anchors: classifier and regressor outputs of one scale. */
typedef struct anchor_grid {
    head_output cls, reg;
    int grid, per_cell;
    float stride;
} anchor_grid;

typedef struct pass {
    int x, y, w, h;    /* frame region */
    int is_tile;       /* 0: the whole frame */
    fer_face_letterbox geom;
} pass;

struct fer_face_detector {
    fer_backend *backend;
    fer_model *model;
    int size;           /* network input side */
    size_t out_floats;  /* per pass */
    anchor_grid grids[MAX_HEADS];
    int n_grids;
    int tiny_yolo;      /* decoder: 0 BlazeFace anchors, 1 YOLO grid (then grids[0].cls) */
    float yolo_anchors[MAX_YOLO_ANCHORS][2]; /* box sizes in grid cells */
    int n_yolo_anchors;
    float suggested_min_score, suggested_nms_iou; /* the header's, else FER_FACE_DEFAULT_* */
    float *x;           /* MAX_BATCH input planes */
    float *out;         /* MAX_BATCH outputs */
    fer_face *cand;     /* candidates before NMS */
    int cand_cap;
};

/* ---- building blocks --------------------------------------------------------------------- */

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Separable area-average weights: output i covers source [i/scale, (i+1)/scale) of n_src;
 * first[i] its first source index, w[i*taps + k] the weight of source first[i] + k. */
static int area_taps(int n_dst, int n_src, float scale, int *first, float *w, int taps)
{
    for (int i = 0; i < n_dst; i++) {
        double a = i / (double)scale, b = (i + 1) / (double)scale;
        if (b > n_src)
            b = n_src;
        int f = (int)floor(a);
        if (f > n_src - 1)
            f = n_src - 1;
        first[i] = f;
        double sum = 0.0;
        for (int k = 0; k < taps; k++) {
            double lo = f + k > a ? f + k : a, hi = f + k + 1 < b ? f + k + 1 : b;
            double c = hi > lo ? hi - lo : 0.0;
            w[i * taps + k] = (float)c;
            sum += c;
        }
        if (sum <= 0.0) { /* growing: the pixel under the output pixel's start */
            w[i * taps] = 1.0f;
            sum = 1.0;
        }
        for (int k = 0; k < taps; k++)
            w[i * taps + k] = (float)(w[i * taps + k] / sum);
    }
    return 0;
}

void fer_face_letterbox_rgb(const uint8_t *rgb, int stride, int src_x, int src_y, int src_w,
                            int src_h, int size, float *dst, fer_face_letterbox *geom)
{
    int longest = src_w > src_h ? src_w : src_h;
    float scale = (float)size / (float)longest;
    int cw = (int)lroundf(src_w * scale), ch = (int)lroundf(src_h * scale);
    cw = cw < 1 ? 1 : cw > size ? size : cw;
    ch = ch < 1 ? 1 : ch > size ? size : ch;
    int ox = (size - cw) / 2, oy = (size - ch) / 2;
    *geom = (fer_face_letterbox){scale, (float)ox, (float)oy, src_x, src_y};
    const float black = -1.0f; /* (0/255 - 0.5)/0.5 */
    for (size_t i = 0; i < (size_t)3 * size * size; i++)
        dst[i] = black;
    /* taps: a window of 1/scale source pixels straddles at most ceil(1/scale) + 1 of them */
    int taps = (int)ceilf(1.0f / scale) + 1;
    int *fx = malloc((size_t)cw * sizeof *fx), *fy = malloc((size_t)ch * sizeof *fy);
    float *wx = malloc((size_t)cw * taps * sizeof *wx), *wy = malloc((size_t)ch * taps * sizeof *wy);
    float *row = malloc((size_t)3 * cw * sizeof *row);
    if (!fx || !fy || !wx || !wy || !row) { /* left black: the caller's forward finds nothing */
        free(fx), free(fy), free(wx), free(wy), free(row);
        return;
    }
    area_taps(cw, src_w, scale, fx, wx, taps);
    area_taps(ch, src_h, scale, fy, wy, taps);
    /* The horizontal pass once per source row in use, then the vertical one: the same sums in
     * the same order as filtering a source row again for every output row that reads it (about
     * 2 of them when shrinking a 640x480 frame to 256, 4 or more for an enlarged tile). */
    const int sy0 = fy[0], sy1 = fy[ch - 1] + taps < src_h ? fy[ch - 1] + taps : src_h;
    const size_t row_floats = (size_t)3 * cw;
    float *hrows = malloc((size_t)(sy1 - sy0) * row_floats * sizeof *hrows);
    if (!hrows) {
        free(fx), free(fy), free(wx), free(wy), free(row);
        return;
    }
    for (int sy = sy0; sy < sy1; sy++) {
        const uint8_t *line = rgb + (size_t)(src_y + sy) * stride + (size_t)src_x * 3;
        float *h = hrows + (size_t)(sy - sy0) * row_floats;
        for (int x = 0; x < cw; x++) {
            float r = 0.0f, g = 0.0f, b = 0.0f;
            for (int kx = 0; kx < taps; kx++) {
                int sx = fx[x] + kx;
                float w = wx[x * taps + kx];
                if (w == 0.0f || sx >= src_w)
                    continue;
                r += w * line[3 * sx];
                g += w * line[3 * sx + 1];
                b += w * line[3 * sx + 2];
            }
            h[3 * x] = r, h[3 * x + 1] = g, h[3 * x + 2] = b;
        }
    }
    const size_t plane = (size_t)size * size;
    for (int y = 0; y < ch; y++) {
        for (size_t i = 0; i < row_floats; i++)
            row[i] = 0.0f;
        for (int ky = 0; ky < taps; ky++) {
            float wyk = wy[y * taps + ky];
            int sy = fy[y] + ky;
            if (wyk == 0.0f || sy >= src_h)
                continue;
            const float *h = hrows + (size_t)(sy - sy0) * row_floats;
            for (size_t i = 0; i < row_floats; i++)
                row[i] += wyk * h[i];
        }
        size_t at = (size_t)(oy + y) * size + ox;
        for (int x = 0; x < cw; x++)
            for (int c = 0; c < 3; c++)
                dst[c * plane + at + x] = (row[3 * x + c] / 255.0f - 0.5f) / 0.5f;
    }
    free(hrows);
    free(fx), free(fy), free(wx), free(wy), free(row);
}

int fer_face_blazeface_anchors(int size, float *xy, int max)
{
    const int strides[2] = {size / 16, size / 8}, per_cell[2] = {2, 6};
    int n = 0;
    for (int s = 0; s < 2; s++) {
        int stride = strides[s] > 0 ? strides[s] : 1;
        int grid = (size + stride - 1) / stride;
        for (int gy = 0; gy < grid; gy++)
            for (int gx = 0; gx < grid; gx++)
                for (int a = 0; a < per_cell[s]; a++) {
                    if (n >= max)
                        return -1;
                    xy[2 * n] = stride * (gx + 0.5f);
                    xy[2 * n + 1] = stride * (gy + 0.5f);
                    n++;
                }
    }
    return n;
}

float fer_face_iou(const fer_face *a, const fer_face *b)
{
    if (!(a->w > 0.0f && a->h > 0.0f && b->w > 0.0f && b->h > 0.0f) || !isfinite(a->x + a->y + a->w + a->h) ||
        !isfinite(b->x + b->y + b->w + b->h))
        return 0.0f; /* empty or not a number: overlaps nothing */
    float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
    float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
    float inter = (x1 > x0 && y1 > y0) ? (x1 - x0) * (y1 - y0) : 0.0f;
    float uni = a->w * a->h + b->w * b->h - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

int fer_face_nms(fer_face *faces, int n, float iou)
{
    /* insertion sort: stable, and n is at most a few hundred candidates */
    for (int i = 1; i < n; i++) {
        fer_face f = faces[i];
        int j = i;
        while (j > 0 && faces[j - 1].score < f.score) {
            faces[j] = faces[j - 1];
            j--;
        }
        faces[j] = f;
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int keep = 1;
        for (int k = 0; k < kept && keep; k++)
            if (fer_face_iou(&faces[i], &faces[k]) > iou)
                keep = 0;
        if (keep)
            faces[kept++] = faces[i];
    }
    return kept;
}

/* ---- loading ------------------------------------------------------------------------------ */

static fer_status read_output(const cJSON *o, const char *path, int i, head_output *h)
{
    const char *keys[] = {"rows", "cols", "channels", "height", "width", "offset"};
    double v[6];
    for (int k = 0; k < 6; k++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
        if (!cJSON_IsNumber(j) || j->valuedouble < (k == 5 ? 0 : 1) ||
            j->valuedouble > (1 << 24) || j->valuedouble != floor(j->valuedouble))
            return fer_fail(FER_ERR_FORMAT, "%s: output %d of the detector header has no valid "
                            "\"%s\"", path, i, keys[k]);
        v[k] = j->valuedouble;
    }
    *h = (head_output){(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (size_t)v[5]};
    return FER_OK;
}

/* A YOLO grid header (fer-convert-tfjs's TinyFaceDetector): one output of [g*g*anchors, 5]
 * rows from a g x g x (5 * anchors) tensor, and "anchors": [[w, h], ...] in grid cells. */
static fer_status read_yolo_layout(fer_face_detector *d, const char *path, const cJSON *root)
{
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    const cJSON *anchors = cJSON_GetObjectItemCaseSensitive(root, "anchors"), *a;
    int n = cJSON_GetArraySize(anchors);
    if (!cJSON_IsArray(anchors) || n < 1 || n > MAX_YOLO_ANCHORS)
        return fer_fail(FER_ERR_FORMAT, "%s: a tiny_yolo detector header needs 1..%d "
                        "\"anchors\"", path, MAX_YOLO_ANCHORS);
    cJSON_ArrayForEach(a, anchors) {
        const cJSON *w = cJSON_GetArrayItem(a, 0), *h = cJSON_GetArrayItem(a, 1);
        if (cJSON_GetArraySize(a) != 2 || !cJSON_IsNumber(w) || !cJSON_IsNumber(h) ||
            !(w->valuedouble > 0.0 && w->valuedouble < 1e3) ||
            !(h->valuedouble > 0.0 && h->valuedouble < 1e3))
            return fer_fail(FER_ERR_FORMAT, "%s: detector anchor %d is not [w, h] of positive "
                            "cell counts", path, d->n_yolo_anchors);
        d->yolo_anchors[d->n_yolo_anchors][0] = (float)w->valuedouble;
        d->yolo_anchors[d->n_yolo_anchors][1] = (float)h->valuedouble;
        d->n_yolo_anchors++;
    }
    head_output h;
    if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) != 1)
        return fer_fail(FER_ERR_FORMAT, "%s: a tiny_yolo detector header needs one output",
                        path);
    FER_TRY_DET(read_output(cJSON_GetArrayItem(outs, 0), path, 0, &h));
    int g = h.height;
    if (h.width != g || h.cols != YOLO_BOX_VALUES || h.channels != YOLO_BOX_VALUES * n ||
        (size_t)h.rows != (size_t)g * g * n || d->size % g != 0 ||
        h.offset + (size_t)h.rows * h.cols > d->out_floats)
        return fer_fail(FER_ERR_FORMAT, "%s: detector output is not a square %d-anchor YOLO grid "
                        "that fits the network's output", path, n);
    d->grids[0] = (anchor_grid){h, h, g, n, (float)d->size / (float)g};
    d->n_grids = 1;
    d->tiny_yolo = 1;
    return FER_OK;
}

/* The anchor grids from the header's config.outputs (fer-convert-tfjs): classifier outputs
 * (1 column) paired with regressor outputs (16 columns) of the same rows and grid. */
static fer_status read_layout(fer_face_detector *d, const char *path, const char *config)
{
    cJSON *root = config ? cJSON_Parse(config) : NULL;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    const char *decoder = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "decoder"));
    fer_status st = FER_OK;
    /* thresholds the model's makers use with it (fer-convert-tfjs writes face-api's) */
    const char *tkeys[2] = {"default_min_score", "default_nms_iou"};
    float *tdst[2] = {&d->suggested_min_score, &d->suggested_nms_iou};
    d->suggested_min_score = FER_FACE_DEFAULT_MIN_SCORE;
    d->suggested_nms_iou = FER_FACE_DEFAULT_NMS_IOU;
    for (int k = 0; k < 2; k++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, tkeys[k]);
        if (!j)
            continue;
        if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0.0 && j->valuedouble <= 1.0)) {
            st = fer_fail(FER_ERR_FORMAT, "%s: detector header's \"%s\" is not a number in 0..1",
                          path, tkeys[k]);
            goto done;
        }
        *tdst[k] = (float)j->valuedouble;
    }
    if (decoder) {
        st = strcmp(decoder, "tiny_yolo") == 0
                 ? read_yolo_layout(d, path, root)
                 : fer_fail(FER_ERR_FORMAT, "%s: unknown detector decoder \"%.32s\"", path,
                            decoder);
        goto done;
    }
    head_output cls[MAX_HEADS], reg[MAX_HEADS];
    int n_cls = 0, n_reg = 0;
    if (!cJSON_IsArray(outs) || cJSON_GetArraySize(outs) < 2 ||
        cJSON_GetArraySize(outs) > 2 * MAX_HEADS) {
        st = fer_fail(FER_ERR_FORMAT, "%s: not a converted face detector (no \"outputs\" in its "
                      "header; make one with fer-convert-tfjs)", path);
        goto done;
    }
    const cJSON *o;
    int i = 0;
    cJSON_ArrayForEach(o, outs) {
        head_output h;
        if ((st = read_output(o, path, i++, &h)) != FER_OK)
            goto done;
        if ((size_t)h.rows * h.cols != (size_t)h.channels * h.height * h.width ||
            h.offset + (size_t)h.rows * h.cols > d->out_floats) {
            st = fer_fail(FER_ERR_FORMAT, "%s: detector output %d does not fit the network's "
                          "output", path, i - 1);
            goto done;
        }
        if ((h.cols == 1 && n_cls == MAX_HEADS) ||
            (h.cols == N_REGRESSORS && n_reg == MAX_HEADS)) {
            st = fer_fail(FER_ERR_FORMAT, "%s: more than %d score or box outputs", path,
                          MAX_HEADS); /* checked before storing: the tables hold MAX_HEADS */
            goto done;
        }
        if (h.cols == 1)
            cls[n_cls++] = h;
        else if (h.cols == N_REGRESSORS)
            reg[n_reg++] = h;
        else {
            st = fer_fail(FER_ERR_FORMAT, "%s: detector output %d has %d columns (1 for scores "
                          "or %d for boxes and keypoints)", path, i - 1, h.cols, N_REGRESSORS);
            goto done;
        }
        if (n_cls > MAX_HEADS || n_reg > MAX_HEADS)
            break;
    }
    if (n_cls != n_reg || n_cls < 1 || n_cls > MAX_HEADS) {
        st = fer_fail(FER_ERR_FORMAT, "%s: %d score and %d box outputs (expected pairs)", path,
                      n_cls, n_reg);
        goto done;
    }
    for (int c = 0; c < n_cls; c++) {
        int match = -1;
        for (int r = 0; r < n_reg; r++)
            if (reg[r].rows == cls[c].rows && reg[r].height == cls[c].height &&
                reg[r].width == cls[c].width)
                match = r;
        int g = cls[c].height;
        if (match < 0 || cls[c].width != g || d->size % g != 0 ||
            cls[c].rows % (g * g) != 0 || cls[c].channels != cls[c].rows / (g * g) ||
            reg[match].channels != cls[c].channels * N_REGRESSORS) {
            st = fer_fail(FER_ERR_FORMAT, "%s: detector output of %d rows is not a square "
                          "anchor grid with a matching box output", path, cls[c].rows);
            goto done;
        }
        d->grids[d->n_grids++] = (anchor_grid){cls[c], reg[match], g, cls[c].channels,
                                               (float)d->size / (float)g};
    }
done:
    cJSON_Delete(root);
    return st;
}

fer_status fer_face_detector_new(const char *model_path, const char *backend, int threads,
                                 fer_face_detector **out)
{
    *out = NULL;
    fer_face_detector *d = calloc(1, sizeof *d);
    if (!d)
        return fer_fail(FER_ERR_NOMEM, "face detector: out of memory");
    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    fer_model *trained = NULL;
    fer_status st = fer_backend_new(backend, threads, &d->backend);
    if (st == FER_OK)
        st = fer_checkpoint_load(model_path, d->backend, 1, &trained, &meta); /* folded next */
    if (st == FER_OK) {
        const fer_arch *a = fer_model_arch(trained);
        if (a->in_c != 3 || a->in_h != a->in_w || a->in_h < 16)
            st = fer_fail(FER_ERR_FORMAT, "%s: a face detector takes square RGB input (this "
                          "network takes %dx%dx%d)", model_path, a->in_c, a->in_h, a->in_w);
        d->size = a->in_h;
        d->out_floats = fer_model_feature_size(trained);
    }
    if (st == FER_OK)
        st = read_layout(d, model_path, meta.config_json);
    /* inference only: convolution + relu pairs become one node */
    if (st == FER_OK)
        st = fer_model_fold_lean(trained, d->backend, MAX_BATCH, &d->model, NULL);
    fer_model_free(trained);
    fer_checkpoint_meta_clear(&meta);
    if (st == FER_OK) {
        d->x = malloc((size_t)MAX_BATCH * 3 * d->size * d->size * sizeof *d->x);
        d->out = malloc((size_t)MAX_BATCH * d->out_floats * sizeof *d->out);
        if (!d->x || !d->out)
            st = fer_fail(FER_ERR_NOMEM, "face detector: out of memory");
    }
    if (st != FER_OK) {
        fer_face_detector_free(d);
        return st;
    }
    *out = d;
    return FER_OK;
}

void fer_face_detector_free(fer_face_detector *d)
{
    if (!d)
        return;
    fer_model_free(d->model);
    fer_backend_free(d->backend);
    free(d->x);
    free(d->out);
    free(d->cand);
    free(d);
}

const char *fer_face_detector_backend_name(const fer_face_detector *d)
{
    return fer_backend_name(d->backend);
}

void fer_face_detector_suggested_thresholds(const fer_face_detector *d, float *min_score,
                                            float *nms_iou)
{
    *min_score = d->suggested_min_score;
    *nms_iou = d->suggested_nms_iou;
}

int fer_face_detector_input_size(const fer_face_detector *d)
{
    return d->size;
}

/* ---- passes: the whole frame, then tiles where min_face_px needs a closer look ------------- */

/* Tile origins along one axis: n tiles of side t over [0, len), evenly spread, overlapping by
 * at least ov; returns n (1 when t >= len). */
static int tile_count(int len, int t, int ov)
{
    if (t >= len)
        return 1;
    return (int)ceil((double)(len - ov) / (double)(t - ov));
}

static int tile_origin(int len, int t, int n, int i)
{
    return n <= 1 || t >= len ? 0 : (int)lround((double)i * (len - t) / (n - 1));
}

static int plan_passes(const fer_face_detector *d, int w, int h, int min_face_px, pass *p)
{
    int longest = w > h ? w : h;
    float whole = (float)d->size / (float)longest;
    p[0] = (pass){0, 0, w, h, 0, {0.0f, 0.0f, 0.0f, 0, 0}};
    if (min_face_px <= 0 || min_face_px * whole >= NET_MIN_FACE)
        return 1;
    /* tiles of side t show a min_face_px face at NET_MIN_FACE network pixels; neighbours
     * overlap by more than the smallest face the whole-frame pass finds, so every face lies
     * whole in one tile or is big enough for the whole-frame pass */
    int ov = (int)ceilf(1.5f * NET_MIN_FACE / whole);
    int t = (int)ceilf(d->size * (float)min_face_px / NET_MIN_FACE);
    if (t < 2 * ov)
        t = 2 * ov;
    int nx, ny;
    for (;;) {
        nx = tile_count(w, t, ov);
        ny = tile_count(h, t, ov);
        if (1 + nx * ny <= MAX_PASSES || t >= longest)
            break;
        t = (int)ceilf(t * 1.1f); /* too many tiles: a coarser look, smallest faces missed */
    }
    int n = 1;
    for (int iy = 0; iy < ny; iy++)
        for (int ix = 0; ix < nx; ix++) {
            int tw = t < w ? t : w, th = t < h ? t : h;
            p[n++] = (pass){tile_origin(w, t, nx, ix), tile_origin(h, t, ny, iy), tw, th, 1,
                            {0.0f, 0.0f, 0.0f, 0, 0}};
        }
    return n;
}

int fer_face_detector_passes(const fer_face_detector *d, int width, int height, int min_face_px)
{
    pass p[MAX_PASSES];
    return width < 1 || height < 1 ? 0 : plan_passes(d, width, height, min_face_px, p);
}

/* ---- decoding ------------------------------------------------------------------------------ */

/* Element (row, col) of a TF.js [rows, cols] output in the flat NCHW network output. */
static float head_value(const float *out, const head_output *h, int row, int col)
{
    size_t t = (size_t)row * h->cols + col, hw = (size_t)h->height * h->width;
    return out[h->offset + (t % h->channels) * hw + t / h->channels];
}

static fer_status add_candidate(fer_face_detector *d, int *n, const fer_face *f)
{
    if (*n == d->cand_cap) {
        int cap = d->cand_cap ? 2 * d->cand_cap : 256;
        fer_face *g = realloc(d->cand, (size_t)cap * sizeof *g);
        if (!g)
            return fer_fail(FER_ERR_NOMEM, "face detector: out of memory");
        d->cand = g;
        d->cand_cap = cap;
    }
    d->cand[(*n)++] = *f;
    return FER_OK;
}

/* A tile's face whose box reaches an edge the tile shares with the frame's inside is left to
 * the neighbour that holds it whole (tiles overlap by more than such faces) or to the
 * whole-frame pass: a tile sees only part of it and its box and score are unreliable. */
static int cut_by_tile(const pass *p, int w, int h, const fer_face *f)
{
    return (p->x > 0 && f->x < p->x) || (p->y > 0 && f->y < p->y) ||
           (p->x + p->w < w && f->x + f->w > p->x + p->w) ||
           (p->y + p->h < h && f->y + f->h > p->y + p->h);
}

static float sigmoidf(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

static fer_status decode_yolo(fer_face_detector *d, const float *out, const pass *p, int w,
                              int h, float min_score, int *n)
{
    const fer_face_letterbox *g = &p->geom;
    const anchor_grid *ag = &d->grids[0];
    float inv = 1.0f / g->scale;
    for (int r = 0; r < ag->cls.rows; r++) {
        float score = sigmoidf(head_value(out, &ag->cls, r, 4));
        if (!(score >= min_score))
            continue;
        int cell = r / ag->per_cell, a = r % ag->per_cell;
        float cx = (cell % ag->grid + sigmoidf(head_value(out, &ag->cls, r, 0))) * ag->stride;
        float cy = (cell / ag->grid + sigmoidf(head_value(out, &ag->cls, r, 1))) * ag->stride;
        float bw = expf(head_value(out, &ag->cls, r, 2)) * d->yolo_anchors[a][0] * ag->stride;
        float bh = expf(head_value(out, &ag->cls, r, 3)) * d->yolo_anchors[a][1] * ag->stride;
        fer_face f = {0};
        f.x = (cx - 0.5f * bw - g->off_x) * inv + g->src_x;
        f.y = (cy - 0.5f * bh - g->off_y) * inv + g->src_y;
        f.w = bw * inv;
        f.h = bh * inv;
        f.score = score;
        if (!(f.w > 0.0f && f.h > 0.0f) || !isfinite(f.x + f.y + f.w + f.h))
            continue;
        if (p->is_tile && cut_by_tile(p, w, h, &f))
            continue;
        FER_TRY_DET(add_candidate(d, n, &f));
    }
    return FER_OK;
}

static fer_status decode_pass(fer_face_detector *d, const float *out, const pass *p, int w,
                              int h, float min_score, int *n)
{
    if (d->tiny_yolo)
        return decode_yolo(d, out, p, w, h, min_score, n);
    const fer_face_letterbox *g = &p->geom;
    float inv = 1.0f / g->scale;
    /* the score threshold as a logit: sigmoid(v) >= min_score */
    float ms = clampf(min_score, 1e-6f, 1.0f - 1e-6f), min_logit = logf(ms / (1.0f - ms));
    for (int k = 0; k < d->n_grids; k++) {
        const anchor_grid *ag = &d->grids[k];
        for (int r = 0; r < ag->cls.rows; r++) {
            float logit = head_value(out, &ag->cls, r, 0);
            if (!(logit >= min_logit))
                continue;
            int cell = r / ag->per_cell;
            float ax = ag->stride * (cell % ag->grid + 0.5f);
            float ay = ag->stride * (cell / ag->grid + 0.5f);
            float v[N_REGRESSORS];
            for (int c = 0; c < N_REGRESSORS; c++)
                v[c] = head_value(out, &ag->reg, r, c);
            fer_face f;
            float cx = ax + v[0], cy = ay + v[1], bw = v[2], bh = v[3];
            /* network pixels -> frame pixels */
            f.x = (cx - 0.5f * bw - g->off_x) * inv + g->src_x;
            f.y = (cy - 0.5f * bh - g->off_y) * inv + g->src_y;
            f.w = bw * inv;
            f.h = bh * inv;
            f.score = 1.0f / (1.0f + expf(-logit));
            f.n_keypoints = FER_FACE_MAX_KEYPOINTS;
            for (int j = 0; j < FER_FACE_MAX_KEYPOINTS; j++) {
                f.keypoints[j][0] = (ax + v[4 + 2 * j] - g->off_x) * inv + g->src_x;
                f.keypoints[j][1] = (ay + v[5 + 2 * j] - g->off_y) * inv + g->src_y;
            }
            if (!(f.w > 0.0f && f.h > 0.0f) || !isfinite(f.x) || !isfinite(f.y))
                continue;
            if (p->is_tile && cut_by_tile(p, w, h, &f))
                continue;
            FER_TRY_DET(add_candidate(d, n, &f));
        }
    }
    return FER_OK;
}

fer_status fer_face_detector_detect(fer_face_detector *d, const uint8_t *rgb, int width,
                                    int height, int stride, float min_score, float nms_iou,
                                    int min_face_px, fer_face *faces, int max_faces,
                                    int *n_faces)
{
    *n_faces = 0;
    if (!rgb || width < 1 || height < 1 || stride < 3 * width || max_faces < 0 ||
        (max_faces > 0 && !faces))
        return fer_fail(FER_ERR_ARG, "face detector: bad frame (%dx%d, stride %d) or output",
                        width, height, stride);
    if (!(min_score >= 0.0f && min_score <= 1.0f) || !(nms_iou >= 0.0f && nms_iou <= 1.0f))
        return fer_fail(FER_ERR_ARG, "face detector: min_score and nms_iou must be in 0..1");
    pass passes[MAX_PASSES];
    int n_pass = plan_passes(d, width, height, min_face_px, passes);
    size_t in_floats = (size_t)3 * d->size * d->size;
    int n_cand = 0;
    for (int first = 0; first < n_pass; first += MAX_BATCH) {
        int nb = n_pass - first < MAX_BATCH ? n_pass - first : MAX_BATCH;
        for (int i = 0; i < nb; i++) {
            pass *p = &passes[first + i];
            fer_face_letterbox_rgb(rgb, stride, p->x, p->y, p->w, p->h, d->size,
                                   d->x + i * in_floats, &p->geom);
        }
        FER_TRY_DET(fer_model_forward(d->model, d->x, nb, FER_MODE_EVAL, NULL, 0, NULL));
        FER_TRY_DET(fer_model_get_features(d->model, d->out, (size_t)nb * d->out_floats));
        for (int i = 0; i < nb; i++)
            FER_TRY_DET(decode_pass(d, d->out + i * d->out_floats, &passes[first + i], width,
                                    height, min_score, &n_cand));
    }
    int kept = fer_face_nms(d->cand, n_cand, nms_iou);
    int n = kept < max_faces ? kept : max_faces;
    if (n > 0)
        memcpy(faces, d->cand, (size_t)n * sizeof *faces);
    *n_faces = n;
    return FER_OK;
}
