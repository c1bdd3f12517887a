/* Loads OpenCV "opencv-cascade-classifier" XML (Haar incl. tilted, LBP; BOOST stages) with
 * GLib's GMarkupParser. The parser only collects raw numbers; cascade_build() then checks
 * every index and rectangle so the evaluator never reads outside its arrays. */
#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cascade_internal.h"
#include "fer/fileio.h"

#define MAX_DEPTH 16
#define MAX_WINDOW 256

/* Numbers of one <internalNodes>: left, right, feature and a threshold or LBP subset words. */
#define MAX_NODE_NUMBERS (FER_CASCADE_MAX_TREE_NODES * (3 + FER_LBP_SUBSET_WORDS))

typedef struct raw_tree {
    GArray *nodes;  /* double: internalNodes values */
    GArray *leaves; /* double: leafValues */
} raw_tree;

typedef struct raw_stage {
    double threshold;
    int has_threshold;
    int first_tree, n_trees;
} raw_stage;

typedef struct raw_feature {
    GArray *rects; /* double: 5 values (Haar) or 4 (LBP) per rectangle */
    int tilted;
} raw_feature;

typedef struct parse_state {
    const char *path;
    char stack[MAX_DEPTH][32]; /* element names (GMarkup's are only valid in the callback) */
    int depth;
    int skip_depth; /* > 0: inside an ignored extra top-level node */
    GString *text;
    int seen_cascade;
    char *stage_type, *feature_type;
    int width, height, max_cat_count, have_max_cat;
    GArray *stages;   /* raw_stage */
    GArray *trees;    /* raw_tree */
    GArray *features; /* raw_feature */
} parse_state;

/* Element path below the cascade element: path_is(st, 3, "stages", "_", "stageThreshold"). */
static int path_is(const parse_state *st, int n, ...)
{
    if (st->depth != n + 2)
        return 0;
    va_list ap;
    va_start(ap, n);
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        ok = strcmp(st->stack[2 + i], va_arg(ap, const char *)) == 0;
    va_end(ap);
    return ok;
}

static void set_error(GMarkupParseContext *ctx, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static void set_error(GMarkupParseContext *ctx, GError **error, const char *fmt, ...)
{
    int line = 0, col = 0;
    g_markup_parse_context_get_position(ctx, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT, "line %d: %s", line, msg);
    g_free(msg);
}

/* Parses whitespace-separated numbers into arr (double); returns FALSE on a bad token. */
static gboolean parse_numbers(const char *s, GArray *arr, char bad[32])
{
    while (*s) {
        while (g_ascii_isspace(*s))
            s++;
        if (!*s)
            break;
        char *end = NULL;
        double v = g_ascii_strtod(s, &end);
        /* All values of a cascade (indices, coordinates, LBP subset words, thresholds) fit
         * 32 bits; anything larger is corrupt and must not reach an int conversion. */
        if (end == s || (*end && !g_ascii_isspace(*end)) || !isfinite(v) ||
            fabs(v) > 4294967295.0) {
            g_strlcpy(bad, s, 32);
            for (char *p = bad; *p; p++)
                if (g_ascii_isspace(*p))
                    *p = '\0';
            return FALSE;
        }
        g_array_append_val(arr, v);
        s = end;
    }
    return TRUE;
}

static gboolean parse_int(const char *s, int *out)
{
    while (g_ascii_isspace(*s))
        s++;
    char *end = NULL;
    gint64 v = g_ascii_strtoll(s, &end, 10);
    if (end == s)
        return FALSE;
    while (g_ascii_isspace(*end))
        end++;
    if (*end || v < G_MININT || v > G_MAXINT)
        return FALSE;
    *out = (int)v;
    return TRUE;
}

static void on_start(GMarkupParseContext *ctx, const char *name, const char **attr_names,
                     const char **attr_values, gpointer user, GError **error)
{
    parse_state *st = user;
    if (st->depth >= MAX_DEPTH) {
        set_error(ctx, error, "elements nested too deeply");
        return;
    }
    g_strlcpy(st->stack[st->depth++], name, sizeof st->stack[0]);
    g_string_truncate(st->text, 0);
    if (st->skip_depth)
        return;

    if (st->depth == 1 && strcmp(name, "opencv_storage") != 0) {
        set_error(ctx, error, "root element is <%s>, expected <opencv_storage> (not an OpenCV "
                  "cascade file)", name);
        return;
    }
    if (st->depth == 2) {
        if (st->seen_cascade) {
            st->skip_depth = st->depth; /* OpenCV reads only the first top-level node */
            return;
        }
        st->seen_cascade = 1;
        for (int i = 0; attr_names[i]; i++) {
            if (strcmp(attr_names[i], "type_id") != 0)
                continue;
            if (strcmp(attr_values[i], "opencv-haar-classifier") == 0) {
                set_error(ctx, error, "old-style cascade format \"opencv-haar-classifier\" is "
                          "not supported; use a cascade in the \"opencv-cascade-classifier\" "
                          "format");
                return;
            }
            if (strcmp(attr_values[i], "opencv-cascade-classifier") != 0) {
                set_error(ctx, error, "unsupported type_id \"%s\"", attr_values[i]);
                return;
            }
        }
        return;
    }
    if (path_is(st, 2, "stages", "_")) {
        if (st->stages->len >= FER_CASCADE_MAX_STAGES) {
            set_error(ctx, error, "more than %d stages", FER_CASCADE_MAX_STAGES);
            return;
        }
        raw_stage s = {0};
        s.first_tree = (int)st->trees->len;
        g_array_append_val(st->stages, s);
    } else if (path_is(st, 4, "stages", "_", "weakClassifiers", "_")) {
        if (st->trees->len >= FER_CASCADE_MAX_TREES) {
            set_error(ctx, error, "more than %d weak classifiers", FER_CASCADE_MAX_TREES);
            return;
        }
        raw_tree t = {g_array_new(FALSE, FALSE, sizeof(double)),
                      g_array_new(FALSE, FALSE, sizeof(double))};
        g_array_append_val(st->trees, t);
        g_array_index(st->stages, raw_stage, st->stages->len - 1).n_trees++;
    } else if (path_is(st, 2, "features", "_")) {
        if (st->features->len >= FER_CASCADE_MAX_FEATURES) {
            set_error(ctx, error, "more than %d features", FER_CASCADE_MAX_FEATURES);
            return;
        }
        raw_feature f = {g_array_new(FALSE, FALSE, sizeof(double)), 0};
        g_array_append_val(st->features, f);
    }
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer user,
                    GError **error)
{
    (void)ctx;
    (void)error;
    parse_state *st = user;
    g_string_append_len(st->text, text, (gssize)len);
}

static void read_numbers(GMarkupParseContext *ctx, parse_state *st, GArray *arr,
                         const char *what, GError **error)
{
    char bad[32];
    if (!parse_numbers(st->text->str, arr, bad))
        set_error(ctx, error, "bad number \"%s\" in <%s>", bad, what);
}

static void read_int(GMarkupParseContext *ctx, parse_state *st, int *out, GError **error)
{
    if (!parse_int(st->text->str, out))
        set_error(ctx, error, "<%s> must be an integer, got \"%s\"", st->stack[st->depth - 1],
                  g_strstrip(st->text->str));
}

static void on_end(GMarkupParseContext *ctx, const char *name, gpointer user, GError **error)
{
    (void)name;
    parse_state *st = user;
    if (st->skip_depth) {
        if (st->depth-- == st->skip_depth)
            st->skip_depth = 0;
        return;
    }
    if (path_is(st, 1, "stageType")) {
        g_free(st->stage_type);
        st->stage_type = g_strstrip(g_strdup(st->text->str));
    } else if (path_is(st, 1, "featureType")) {
        g_free(st->feature_type);
        st->feature_type = g_strstrip(g_strdup(st->text->str));
    } else if (path_is(st, 1, "width")) {
        read_int(ctx, st, &st->width, error);
    } else if (path_is(st, 1, "height")) {
        read_int(ctx, st, &st->height, error);
    } else if (path_is(st, 2, "featureParams", "maxCatCount")) {
        read_int(ctx, st, &st->max_cat_count, error);
        st->have_max_cat = 1;
    } else if (path_is(st, 3, "stages", "_", "stageThreshold")) {
        GArray *v = g_array_new(FALSE, FALSE, sizeof(double));
        read_numbers(ctx, st, v, "stageThreshold", error);
        raw_stage *s = &g_array_index(st->stages, raw_stage, st->stages->len - 1);
        if (v->len == 1) {
            s->threshold = g_array_index(v, double, 0);
            s->has_threshold = 1;
        } else if (!*error) {
            set_error(ctx, error, "<stageThreshold> must hold one number");
        }
        g_array_free(v, TRUE);
    } else if (path_is(st, 5, "stages", "_", "weakClassifiers", "_", "internalNodes")) {
        raw_tree *t = &g_array_index(st->trees, raw_tree, st->trees->len - 1);
        read_numbers(ctx, st, t->nodes, "internalNodes", error);
        if (!*error && t->nodes->len > MAX_NODE_NUMBERS)
            set_error(ctx, error, "weak classifier %u: <internalNodes> has more than %d numbers",
                      st->trees->len - 1, MAX_NODE_NUMBERS);
    } else if (path_is(st, 5, "stages", "_", "weakClassifiers", "_", "leafValues")) {
        raw_tree *t = &g_array_index(st->trees, raw_tree, st->trees->len - 1);
        read_numbers(ctx, st, t->leaves, "leafValues", error);
        if (!*error && t->leaves->len > FER_CASCADE_MAX_TREE_NODES + 1)
            set_error(ctx, error, "weak classifier %u: more than %d <leafValues>",
                      st->trees->len - 1, FER_CASCADE_MAX_TREE_NODES + 1);
    } else if (path_is(st, 4, "features", "_", "rects", "_") ||
               path_is(st, 3, "features", "_", "rect")) {
        raw_feature *f = &g_array_index(st->features, raw_feature, st->features->len - 1);
        guint before = f->rects->len;
        read_numbers(ctx, st, f->rects, "rect", error);
        guint want = strcmp(st->stack[st->depth - 1], "rect") == 0 ? 4 : 5;
        if (!*error && f->rects->len - before != want)
            set_error(ctx, error, "feature %u: a rectangle needs %u numbers, got %u",
                      st->features->len - 1, want, f->rects->len - before);
        else if (!*error && f->rects->len > 5 * FER_HAAR_MAX_RECTS)
            set_error(ctx, error, "feature %u: more than %d rectangles", st->features->len - 1,
                      FER_HAAR_MAX_RECTS);
    } else if (path_is(st, 3, "features", "_", "tilted")) {
        raw_feature *f = &g_array_index(st->features, raw_feature, st->features->len - 1);
        read_int(ctx, st, &f->tilted, error);
    }
    st->depth--;
    g_string_truncate(st->text, 0);
}

static void parse_state_free(parse_state *st)
{
    for (guint i = 0; st->trees && i < st->trees->len; i++) {
        raw_tree *t = &g_array_index(st->trees, raw_tree, i);
        g_array_free(t->nodes, TRUE);
        g_array_free(t->leaves, TRUE);
    }
    for (guint i = 0; st->features && i < st->features->len; i++)
        g_array_free(g_array_index(st->features, raw_feature, i).rects, TRUE);
    if (st->trees)
        g_array_free(st->trees, TRUE);
    if (st->features)
        g_array_free(st->features, TRUE);
    if (st->stages)
        g_array_free(st->stages, TRUE);
    if (st->text)
        g_string_free(st->text, TRUE);
    g_free(st->stage_type);
    g_free(st->feature_type);
}

/* --- building the validated cascade --------------------------------------------------- */

/* A whole number of at most 2^24 in magnitude (indices, coordinates): sums of a few of them
 * cannot overflow an int. */
static int as_int(double v, int *out)
{
    if (v != floor(v) || fabs(v) > 16777216.0)
        return 0;
    *out = (int)v;
    return 1;
}

static fer_status build_features(fer_cascade *c, const parse_state *st)
{
    const char *path = st->path;
    c->n_features = (int)st->features->len;
    if (c->n_features == 0)
        return fer_fail(FER_ERR_FORMAT, "%s: no <features>", path);
    if (c->type == FER_CASCADE_HAAR)
        c->haar = calloc((size_t)c->n_features, sizeof *c->haar);
    else
        c->lbp = calloc((size_t)c->n_features, sizeof *c->lbp);
    if (!c->haar && !c->lbp)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);

    for (int i = 0; i < c->n_features; i++) {
        const raw_feature *f = &g_array_index(st->features, raw_feature, i);
        const double *v = (const double *)(void *)f->rects->data;
        if (c->type == FER_CASCADE_LBP) {
            if (f->rects->len != 4)
                return fer_fail(FER_ERR_FORMAT, "%s: LBP feature %d needs one <rect> of 4 "
                                "numbers", path, i);
            fer_lbp_feature *l = &c->lbp[i];
            if (!as_int(v[0], &l->x) || !as_int(v[1], &l->y) || !as_int(v[2], &l->w) ||
                !as_int(v[3], &l->h))
                return fer_fail(FER_ERR_FORMAT, "%s: LBP feature %d: rectangle values must be "
                                "integers (|v| <= 2^24)", path, i);
            if (l->x < 0 || l->y < 0 || l->w <= 0 || l->h <= 0 || l->x + 3 * l->w > c->win_w ||
                l->y + 3 * l->h > c->win_h)
                return fer_fail(FER_ERR_FORMAT, "%s: LBP feature %d (%d %d %d %d) lies outside "
                                "the %dx%d window", path, i, l->x, l->y, l->w, l->h, c->win_w,
                                c->win_h);
            continue;
        }
        int n = (int)f->rects->len / 5;
        if (n < 1 || n > FER_HAAR_MAX_RECTS)
            return fer_fail(FER_ERR_FORMAT, "%s: Haar feature %d has %d rectangles (1..3 "
                            "allowed)", path, i, n);
        fer_haar_feature *h = &c->haar[i];
        h->n_rects = n;
        h->tilted = f->tilted != 0;
        c->has_tilted |= h->tilted;
        for (int r = 0; r < n; r++) {
            fer_haar_rect *q = &h->r[r];
            if (!as_int(v[5 * r], &q->x) || !as_int(v[5 * r + 1], &q->y) ||
                !as_int(v[5 * r + 2], &q->w) || !as_int(v[5 * r + 3], &q->h))
                return fer_fail(FER_ERR_FORMAT, "%s: Haar feature %d rectangle %d: coordinates "
                                "must be integers (|v| <= 2^24)", path, i, r);
            q->weight = (float)v[5 * r + 4];
            int inside = h->tilted
                ? q->x - q->h >= 0 && q->y >= 0 && q->x + q->w <= c->win_w &&
                  q->y + q->w + q->h <= c->win_h
                : q->x >= 0 && q->y >= 0 && q->x + q->w <= c->win_w && q->y + q->h <= c->win_h;
            if (q->w <= 0 || q->h <= 0 || !inside)
                return fer_fail(FER_ERR_FORMAT, "%s: Haar feature %d rectangle %d (%d %d %d %d%s) "
                                "lies outside the %dx%d window", path, i, r, q->x, q->y, q->w,
                                q->h, h->tilted ? ", tilted" : "", c->win_w, c->win_h);
        }
    }
    return FER_OK;
}

static fer_status build_trees(fer_cascade *c, const parse_state *st, int subset_words)
{
    const char *path = st->path;
    int node_step = 3 + (c->type == FER_CASCADE_LBP ? subset_words : 1);
    c->n_stages = (int)st->stages->len;
    c->n_trees = (int)st->trees->len;
    if (c->n_stages == 0)
        return fer_fail(FER_ERR_FORMAT, "%s: no <stages>", path);
    /* The parser capped every count; the totals are still summed in size_t and capped before
     * anything is allocated from them. */
    size_t n_nodes = 0, n_leaves = 0;
    for (int t = 0; t < c->n_trees; t++) {
        const raw_tree *r = &g_array_index(st->trees, raw_tree, t);
        n_nodes += r->nodes->len / (guint)node_step;
        n_leaves += r->leaves->len;
    }
    if (n_nodes > FER_CASCADE_MAX_TOTAL_NODES ||
        n_leaves > FER_CASCADE_MAX_TOTAL_NODES + (size_t)c->n_trees)
        return fer_fail(FER_ERR_FORMAT, "%s: %zu tree nodes in all (at most %d)", path, n_nodes,
                        FER_CASCADE_MAX_TOTAL_NODES);
    c->stages = calloc((size_t)c->n_stages, sizeof *c->stages);
    c->trees = calloc((size_t)c->n_trees + 1, sizeof *c->trees);
    c->nodes = calloc(n_nodes + 1, sizeof *c->nodes);
    c->leaves = calloc(n_leaves + 1, sizeof *c->leaves);
    if (!c->stages || !c->trees || !c->nodes || !c->leaves)
        return fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);

    for (int s = 0; s < c->n_stages; s++) {
        const raw_stage *rs = &g_array_index(st->stages, raw_stage, s);
        if (!rs->has_threshold)
            return fer_fail(FER_ERR_FORMAT, "%s: stage %d has no <stageThreshold>", path, s);
        if (rs->n_trees == 0)
            return fer_fail(FER_ERR_FORMAT, "%s: stage %d has no weak classifiers", path, s);
        c->stages[s].first_tree = rs->first_tree;
        c->stages[s].n_trees = rs->n_trees;
        c->stages[s].threshold = (float)rs->threshold - 1e-5f; /* OpenCV's THRESHOLD_EPS */
    }

    c->all_stumps = 1;
    for (int t = 0; t < c->n_trees; t++) {
        const raw_tree *r = &g_array_index(st->trees, raw_tree, t);
        const double *nv = (const double *)(void *)r->nodes->data;
        int nn = (int)r->nodes->len / node_step;
        if (nn > FER_CASCADE_MAX_TREE_NODES)
            return fer_fail(FER_ERR_FORMAT, "%s: weak classifier %d has %d nodes (at most %d)",
                            path, t, nn, FER_CASCADE_MAX_TREE_NODES);
        if (nn < 1 || (int)r->nodes->len % node_step != 0)
            return fer_fail(FER_ERR_FORMAT, "%s: weak classifier %d: <internalNodes> has %u "
                            "numbers, expected a multiple of %d", path, t, r->nodes->len,
                            node_step);
        if ((int)r->leaves->len != nn + 1)
            return fer_fail(FER_ERR_FORMAT, "%s: weak classifier %d: %d nodes need %d "
                            "<leafValues>, got %u", path, t, nn, nn + 1, r->leaves->len);
        fer_tree *tree = &c->trees[t];
        tree->first_node = c->n_nodes;
        tree->n_nodes = nn;
        tree->first_leaf = c->n_leaves;
        c->all_stumps &= nn == 1;
        for (int k = 0; k < nn; k++) {
            const double *v = nv + (size_t)k * node_step;
            fer_tree_node *node = &c->nodes[c->n_nodes++];
            if (!as_int(v[0], &node->left) || !as_int(v[1], &node->right) ||
                !as_int(v[2], &node->feature))
                return fer_fail(FER_ERR_FORMAT, "%s: weak classifier %d node %d: child and "
                                "feature indices must be integers (|v| <= 2^24)", path, t, k);
            if (node->feature < 0 || node->feature >= c->n_features)
                return fer_fail(FER_ERR_FORMAT, "%s: weak classifier %d node %d uses feature "
                                "%d, but there are %d features", path, t, k, node->feature,
                                c->n_features);
            /* Children must come later in the tree (no cycles) or name an existing leaf. */
            int kids[2] = {node->left, node->right};
            for (int j = 0; j < 2; j++) {
                int ok = kids[j] > 0 ? kids[j] > k && kids[j] < nn : -kids[j] <= nn;
                if (!ok)
                    return fer_fail(FER_ERR_FORMAT, "%s: weak classifier %d node %d has invalid "
                                    "child %d", path, t, k, kids[j]);
            }
            if (c->type == FER_CASCADE_LBP) {
                for (int w = 0; w < subset_words; w++) {
                    double word = v[3 + w]; /* signed (as written by OpenCV) or unsigned */
                    if (word != floor(word) || word < INT32_MIN)
                        return fer_fail(FER_ERR_FORMAT, "%s: weak classifier %d node %d: bad "
                                        "LBP subset word %g", path, t, k, word);
                    node->subset[w] = (uint32_t)(int64_t)word;
                }
            } else {
                node->threshold = (float)v[3];
            }
        }
        for (int k = 0; k <= nn; k++)
            c->leaves[c->n_leaves++] = (float)g_array_index(r->leaves, double, k);
    }
    return FER_OK;
}

/* Fast paths for stump cascades: contiguous stumps, LBP leaves in fixed point. */
static fer_status build_stumps(fer_cascade *c)
{
    if (!c->all_stumps)
        return FER_OK;
    if (c->type == FER_CASCADE_LBP) {
        /* Largest shift that keeps every stage sum and threshold below 2^30. */
        double worst = 0;
        for (int s = 0; s < c->n_stages; s++) {
            const fer_stage *stg = &c->stages[s];
            double m = fabs(stg->threshold);
            for (int t = stg->first_tree; t < stg->first_tree + stg->n_trees; t++) {
                const float *lv = &c->leaves[c->trees[t].first_leaf];
                m += fmax(fabs(lv[0]), fabs(lv[1]));
            }
            worst = fmax(worst, m);
        }
        int shift = 24;
        while (shift > 8 && worst * ldexp(1.0, shift) >= ldexp(1.0, 30))
            shift--;
        if (worst * ldexp(1.0, shift) >= ldexp(1.0, 30))
            return fer_fail(FER_ERR_FORMAT, "%s: leaf values too large (%g)", c->path, worst);
        c->fx_shift = shift;
        c->lbp_stumps = calloc((size_t)c->n_trees + 1, sizeof *c->lbp_stumps);
        if (!c->lbp_stumps)
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", c->path);
        for (int s = 0; s < c->n_stages; s++)
            c->stages[s].threshold_fx = (int32_t)lrint(ldexp(c->stages[s].threshold, shift));
        for (int t = 0; t < c->n_trees; t++) {
            const fer_tree_node *n = &c->nodes[c->trees[t].first_node];
            const float *lv = &c->leaves[c->trees[t].first_leaf];
            fer_lbp_stump *s = &c->lbp_stumps[t];
            s->feature = n->feature;
            /* leaf 0 is reached by child value 0 (left of a stump is "0"), leaf 1 by -1. */
            s->left_fx = (int32_t)lrint(ldexp(lv[-n->left], shift));
            s->right_fx = (int32_t)lrint(ldexp(lv[-n->right], shift));
            memcpy(s->subset, n->subset, sizeof s->subset);
        }
    } else {
        c->haar_stumps = calloc((size_t)c->n_trees + 1, sizeof *c->haar_stumps);
        if (!c->haar_stumps)
            return fer_fail(FER_ERR_NOMEM, "%s: out of memory", c->path);
        for (int t = 0; t < c->n_trees; t++) {
            const fer_tree_node *n = &c->nodes[c->trees[t].first_node];
            const float *lv = &c->leaves[c->trees[t].first_leaf];
            fer_haar_stump *s = &c->haar_stumps[t];
            s->feature = n->feature;
            s->threshold = n->threshold;
            s->left = lv[-n->left];
            s->right = lv[-n->right];
        }
    }
    return FER_OK;
}

static fer_status cascade_build(fer_cascade *c, const parse_state *st)
{
    const char *path = st->path;
    if (!st->seen_cascade)
        return fer_fail(FER_ERR_FORMAT, "%s: no cascade inside <opencv_storage>", path);
    if (!st->stage_type)
        return fer_fail(FER_ERR_FORMAT, "%s: no <stageType> (not a cascade in the "
                        "\"opencv-cascade-classifier\" format?)", path);
    if (strcmp(st->stage_type, "BOOST") != 0)
        return fer_fail(FER_ERR_FORMAT, "%s: unsupported stageType \"%s\" (only BOOST)", path,
                        st->stage_type);
    if (!st->feature_type)
        return fer_fail(FER_ERR_FORMAT, "%s: no <featureType>", path);
    if (strcmp(st->feature_type, "HAAR") == 0)
        c->type = FER_CASCADE_HAAR;
    else if (strcmp(st->feature_type, "LBP") == 0)
        c->type = FER_CASCADE_LBP;
    else
        return fer_fail(FER_ERR_FORMAT, "%s: unsupported featureType \"%s\" (HAAR or LBP)", path,
                        st->feature_type);
    if (st->width <= 0 || st->height <= 0 || st->width > MAX_WINDOW || st->height > MAX_WINDOW)
        return fer_fail(FER_ERR_FORMAT, "%s: bad window size %dx%d", path, st->width,
                        st->height);
    c->win_w = st->width;
    c->win_h = st->height;
    /* The variance window's squared sum must fit 32 bits, as in OpenCV. */
    if ((double)(c->win_w - 2) * (c->win_h - 2) * 255.0 * 255.0 >= 4294967296.0)
        return fer_fail(FER_ERR_FORMAT, "%s: window %dx%d is too large", path, c->win_w,
                        c->win_h);
    if (c->win_w < 3 || c->win_h < 3)
        return fer_fail(FER_ERR_FORMAT, "%s: window %dx%d is too small", path, c->win_w,
                        c->win_h);
    int subset_words = 0;
    if (c->type == FER_CASCADE_LBP) {
        if (!st->have_max_cat || st->max_cat_count <= 0 || st->max_cat_count > 256)
            return fer_fail(FER_ERR_FORMAT, "%s: LBP cascade needs featureParams/maxCatCount in "
                            "1..256", path);
        subset_words = (st->max_cat_count + 31) / 32;
    } else if (st->max_cat_count != 0) {
        return fer_fail(FER_ERR_FORMAT, "%s: Haar cascade with maxCatCount %d (must be 0)", path,
                        st->max_cat_count);
    }
    fer_status s = build_features(c, st);
    if (s == FER_OK)
        s = build_trees(c, st, subset_words);
    if (s == FER_OK)
        s = build_stumps(c);
    return s;
}

fer_status fer_cascade_load(const char *path, fer_cascade **out)
{
    *out = NULL;
    if (!path || !*path)
        return fer_fail(FER_ERR_ARG, "cascade: no file name given");
    /* Only regular files (a FIFO would block, /dev/zero never ends), and at most
     * FER_CASCADE_MAX_BYTES of them. */
    char *data = NULL;
    size_t len = 0;
    GError *err = NULL;
    fer_status read_st = fer_read_file(path, FER_CASCADE_MAX_BYTES, &data, &len);
    if (read_st == FER_ERR_FORMAT) /* the only format error of fer_read_file: too large */
        return fer_fail(FER_ERR_FORMAT, "%s: file is too large for a cascade (at most %d MiB)",
                        path, FER_CASCADE_MAX_BYTES >> 20);
    if (read_st != FER_OK)
        return read_st;
    parse_state st = {0};
    st.path = path;
    st.text = g_string_new(NULL);
    st.stages = g_array_new(FALSE, FALSE, sizeof(raw_stage));
    st.trees = g_array_new(FALSE, FALSE, sizeof(raw_tree));
    st.features = g_array_new(FALSE, FALSE, sizeof(raw_feature));

    static const GMarkupParser parser = {on_start, on_end, on_text, NULL, NULL};
    GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &st, NULL);
    fer_status s = FER_OK;
    if (len == 0) {
        s = fer_fail(FER_ERR_FORMAT, "%s: file is empty", path);
    } else if (!g_markup_parse_context_parse(ctx, data, (gssize)len, &err) ||
               !g_markup_parse_context_end_parse(ctx, &err)) {
        s = fer_fail(FER_ERR_FORMAT, "%s: %s", path, err->message);
        g_error_free(err);
    }
    g_markup_parse_context_free(ctx);
    free(data);

    fer_cascade *c = NULL;
    if (s == FER_OK) {
        c = calloc(1, sizeof *c);
        if (!c || !(c->path = strdup(path)))
            s = fer_fail(FER_ERR_NOMEM, "%s: out of memory", path);
        else
            s = cascade_build(c, &st);
    }
    parse_state_free(&st);
    if (s != FER_OK) {
        fer_cascade_free(c);
        return s;
    }
    *out = c;
    return FER_OK;
}

fer_cascade_feature fer_cascade_feature_type(const fer_cascade *c) { return c->type; }
int fer_cascade_n_stages(const fer_cascade *c) { return c->n_stages; }
int fer_cascade_has_tilted(const fer_cascade *c) { return c->has_tilted; }

void fer_cascade_window(const fer_cascade *c, int *width, int *height)
{
    if (width)
        *width = c->win_w;
    if (height)
        *height = c->win_h;
}

void fer_cascade_free(fer_cascade *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->stages);
    free(c->trees);
    free(c->nodes);
    free(c->leaves);
    free(c->lbp_stumps);
    free(c->haar_stumps);
    free(c->haar);
    free(c->lbp);
    free(c->feat_ofs);
    free(c->level);
    free(c->ints);
    free(c->tilted_rows);
    free(c->resize_tab);
    free(c->resize_rows);
    free(c->visited);
    free(c->split);
    free(c->split_ofs);
    free(c->todo.v);
    free(c->pending.v);
    fer_cascade_boxes_clear(&c->raw);
    free(c);
}
