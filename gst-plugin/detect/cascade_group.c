/* Box lists and the grouping of raw window hits (cv::groupRectangles semantics), followed by
 * a duplicate-removal pass so callers never see two boxes for one face. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cascade.h"

void fer_cascade_boxes_clear(fer_cascade_boxes *b)
{
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

fer_status fer_cascade_boxes_push(fer_cascade_boxes *b, fer_cascade_box box)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        fer_cascade_box *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return fer_fail(FER_ERR_NOMEM, "cascade: out of memory for %zu boxes", cap);
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = box;
    return FER_OK;
}

double fer_cascade_box_iou(const fer_cascade_box *a, const fer_cascade_box *b)
{
    int x0 = a->x > b->x ? a->x : b->x;
    int y0 = a->y > b->y ? a->y : b->y;
    int x1 = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    int y1 = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    if (x1 <= x0 || y1 <= y0 || a->w <= 0 || a->h <= 0 || b->w <= 0 || b->h <= 0)
        return 0.0;
    double inter = (double)(x1 - x0) * (y1 - y0);
    double uni = (double)a->w * a->h + (double)b->w * b->h - inter;
    return inter / uni;
}

/* cv::SimilarRects: all four edges within eps * mean of the smaller sides. */
static int similar(const fer_cascade_box *a, const fer_cascade_box *b, double eps)
{
    double delta = eps * ((a->w < b->w ? a->w : b->w) + (a->h < b->h ? a->h : b->h)) * 0.5;
    return fabs((double)a->x - b->x) <= delta && fabs((double)a->y - b->y) <= delta &&
           fabs((double)(a->x + a->w) - (b->x + b->w)) <= delta &&
           fabs((double)(a->y + a->h) - (b->y + b->h)) <= delta;
}

static int find_root(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static int by_neighbors_desc(const void *pa, const void *pb)
{
    const fer_cascade_box *a = pa, *b = pb;
    if (a->neighbors != b->neighbors)
        return b->neighbors - a->neighbors;
    long aa = (long)a->w * a->h, ab = (long)b->w * b->h;
    if (aa != ab)
        return aa < ab ? 1 : -1;
    return a->y != b->y ? a->y - b->y : a->x - b->x;
}

/* Drops a box when a stronger one overlaps it clearly (IoU > 0.3) or mostly contains it. */
static void remove_duplicates(fer_cascade_boxes *out)
{
    /* No cluster passed (out->v may still be NULL): qsort(NULL, 0, ...) is undefined. */
    if (out->n < 2)
        return;
    qsort(out->v, out->n, sizeof *out->v, by_neighbors_desc);
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        const fer_cascade_box *b = &out->v[i];
        int dup = 0;
        for (size_t j = 0; j < kept && !dup; j++) {
            const fer_cascade_box *k = &out->v[j];
            double iou = fer_cascade_box_iou(b, k);
            int x0 = b->x > k->x ? b->x : k->x, y0 = b->y > k->y ? b->y : k->y;
            int x1 = b->x + b->w < k->x + k->w ? b->x + b->w : k->x + k->w;
            int y1 = b->y + b->h < k->y + k->h ? b->y + b->h : k->y + k->h;
            double inter = x1 > x0 && y1 > y0 ? (double)(x1 - x0) * (y1 - y0) : 0.0;
            double small = fmin((double)b->w * b->h, (double)k->w * k->h);
            dup = iou > 0.3 || (small > 0 && inter / small > 0.7);
        }
        if (!dup)
            out->v[kept++] = *b;
    }
    out->n = kept;
}

fer_status fer_cascade_group(const fer_cascade_box *in, size_t n, int min_neighbors, double eps,
                             fer_cascade_boxes *out)
{
    out->n = 0;
    if (n == 0)
        return FER_OK;
    int *parent = malloc(n * sizeof *parent);
    int *label = malloc(n * sizeof *label);
    double *acc = calloc(n * 4, sizeof *acc);
    int *count = calloc(n, sizeof *count);
    fer_status st = FER_OK;
    if (!parent || !label || !acc || !count) {
        st = fer_fail(FER_ERR_NOMEM, "cascade: out of memory grouping %zu boxes", n);
        goto done;
    }
    /* cv::partition: connected components of the "similar" relation. */
    for (size_t i = 0; i < n; i++)
        parent[i] = (int)i;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (similar(&in[i], &in[j], eps)) {
                int a = find_root(parent, (int)i), b = find_root(parent, (int)j);
                if (a != b)
                    parent[b] = a;
            }
    int nclasses = 0;
    for (size_t i = 0; i < n; i++)
        label[i] = -1;
    for (size_t i = 0; i < n; i++) {
        int r = find_root(parent, (int)i);
        if (label[r] < 0)
            label[r] = nclasses++;
        int cls = label[r];
        acc[cls * 4 + 0] += in[i].x;
        acc[cls * 4 + 1] += in[i].y;
        acc[cls * 4 + 2] += in[i].w;
        acc[cls * 4 + 3] += in[i].h;
        count[cls]++;
    }
    fer_cascade_box *avg = malloc((size_t)nclasses * sizeof *avg);
    if (!avg) {
        st = fer_fail(FER_ERR_NOMEM, "cascade: out of memory grouping %zu boxes", n);
        goto done;
    }
    for (int k = 0; k < nclasses; k++) {
        float s = 1.0f / (float)count[k];
        avg[k].x = (int)lrintf((float)acc[k * 4 + 0] * s);
        avg[k].y = (int)lrintf((float)acc[k * 4 + 1] * s);
        avg[k].w = (int)lrintf((float)acc[k * 4 + 2] * s);
        avg[k].h = (int)lrintf((float)acc[k * 4 + 3] * s);
        avg[k].neighbors = count[k];
    }
    /* A cluster needs more than min_neighbors hits; a small cluster inside a bigger, stronger
     * one is dropped (both rules as in cv::groupRectangles). */
    for (int i = 0; i < nclasses && st == FER_OK; i++) {
        const fer_cascade_box *r1 = &avg[i];
        int n1 = r1->neighbors;
        if (n1 <= min_neighbors)
            continue;
        int inside = 0;
        for (int j = 0; j < nclasses && !inside; j++) {
            const fer_cascade_box *r2 = &avg[j];
            int n2 = r2->neighbors;
            if (j == i || n2 <= min_neighbors)
                continue;
            int dx = (int)lrint(r2->w * eps), dy = (int)lrint(r2->h * eps);
            inside = r1->x >= r2->x - dx && r1->y >= r2->y - dy &&
                     r1->x + r1->w <= r2->x + r2->w + dx &&
                     r1->y + r1->h <= r2->y + r2->h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3);
        }
        if (!inside)
            st = fer_cascade_boxes_push(out, *r1);
    }
    free(avg);
    if (st == FER_OK)
        remove_duplicates(out);
done:
    free(parent);
    free(label);
    free(acc);
    free(count);
    return st;
}
