/* Fuzz target: a structured generator of extreme architectures. The fuzzer's bytes choose a
 * well-formed JSON architecture graph (conv/bn/relu/pool stacks, residual add blocks with or
 * without a channel_pad skip, squeeze-excitation mul gates from a global_avgpool branch, concat
 * of 2..9 branches, prelu, a flatten, linear / batchnorm1d / flat gates, a head) whose numbers
 * are drawn from edge values: 0, negative, 2^29, 1e9, 2^31, 1e12, 1e300, input sides up to 4096
 * and past it, dropout p at 0 / 1 / just below 1, class counts out of range; and whose graph is
 * sometimes broken: inputs naming a later node (cycles), the node itself, an unknown name, "input",
 * a name used twice, names that are not identifiers, "inputs" that is not a list of 1..8 names,
 * dead branches, nodes listed out of order (legal when acyclic), up to 135 nodes.
 * The text goes through fuzz_check_arch_json: whatever the library accepts must fit the caps,
 * read back the same, build, and run forward and backward on a batch of 1.
 *
 * Byte-level mutation of architecture JSON rarely produces such numbers in a valid stack; this
 * target reaches them in a few thousand runs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

typedef struct byte_source {
    const uint8_t *p;
    size_t n;
} byte_source;

/* 0 .. bound-1 from the next byte (0 once the bytes run out). */
static unsigned pick(byte_source *s, unsigned bound)
{
    if (!s->n || bound <= 1)
        return 0;
    unsigned v = *s->p++;
    s->n--;
    return v % bound;
}

/* Integer-like fields (k, stride, pad, out): edge values first, then small ones. */
static const char *const EDGE_INTS[] = {
    "1",          "2",          "3",         "0",          "-1",          "5",
    "7",          "48",         "49",        "255",        "4096",        "65536",
    "268435456",  "536870912",  "1000000000", "2147483647", "2147483648", "-2147483648",
    "1e12",       "1e300",      "-1e9",      "4097",       "1.5",         "-0",
    "16777217",   "46341",      "1073741824", "9007199254740993"};
#define N_EDGE_INTS (sizeof EDGE_INTS / sizeof EDGE_INTS[0])

static void put_int(byte_source *s, char *buf, size_t cap)
{
    unsigned r = pick(s, 2);
    if (r == 0)
        snprintf(buf, cap, "%u", 1 + pick(s, 64)); /* an ordinary value */
    else
        snprintf(buf, cap, "%s", EDGE_INTS[pick(s, N_EDGE_INTS)]);
}

static const char *const DIMS[] = {"1",  "2",    "3",    "47", "48",    "64",  "4096",
                                   "96", "4097", "0",    "-1", "1e300", "2.5", "2048"};
static const char *const PROBS[] = {"0",        "0.3",   "0.5", "0.999999", "1",    "-0",
                                    "-1e-300",  "1e-45", "2",   "1e300",    "0.99999999999"};
static const char *const CLASSES[] = {"7",  "2",     "16",         "0",   "1",
                                      "17", "-1",    "1e300",      "7.5", "2147483648"};
static const char *const ARC_S[] = {"30", "0", "-1", "1e300", "1e-45", "64"};
static const char *const ARC_M[] = {"0.5", "0", "1.57", "1.6", "-0.1", "1e300"};
#define PICK(s, table) table[pick(s, sizeof table / sizeof table[0])]

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            fuzz_fail("vsnprintf failed");
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = 2 * t->cap + (size_t)n;
        t->p = realloc(t->p, t->cap);
        if (!t->p)
            fuzz_fail("out of memory");
    }
}

/* ---- the graph being written ------------------------------------------------------------- */

#define MAX_GEN_NODES 288 /* past FER_MAX_LAYERS on purpose */

typedef struct graph {
    byte_source *s;
    text nodes[MAX_GEN_NODES]; /* one JSON object each, in the order they are written */
    int n;
    char last[48];  /* the name of the node written last ("input" before the first) */
    int explicit_inputs; /* every node names its inputs (the list may then be shuffled) */
    int hostile; /* names, references and inputs lists are sometimes broken */
} graph;

/* Node names: "nI" for the I-th node; a hostile one now and then. */
static void node_name(graph *g, char *buf, size_t cap)
{
    switch (g->hostile ? pick(g->s, 48) : 48) {
    case 0:
        snprintf(buf, cap, "input");
        break;
    case 1:
        snprintf(buf, cap, "n%d", g->n > 0 ? (int)pick(g->s, (unsigned)g->n) : 0); /* taken */
        break;
    case 2:
        snprintf(buf, cap, "%s", pick(g->s, 2) ? "a b" : "n\\u00e9");
        break;
    case 3: /* 31 characters (the longest legal) or 40 */
        snprintf(buf, cap, "%s%d", pick(g->s, 2) ? "abcdefghijabcdefghijabcdefghi"
                                                   : "abcdefghijabcdefghijabcdefghijabcdefg",
                 10 + g->n % 90);
        break;
    case 4:
        snprintf(buf, cap, "%s", "");
        break;
    default:
        snprintf(buf, cap, "n%d", g->n);
    }
}

/* A reference to node NAME; now and then another one: the node itself or a later one (a
 * cycle, or just out of order), an unknown name, "input", a random earlier node. */
static const char *ref(graph *g, const char *name, char *buf, size_t cap)
{
    switch (g->hostile ? pick(g->s, 48) : 48) {
    case 0:
        snprintf(buf, cap, "n%d", g->n); /* itself */
        return buf;
    case 1:
        snprintf(buf, cap, "n%d", g->n + 1 + (int)pick(g->s, 3)); /* later */
        return buf;
    case 2:
        return "nowhere";
    case 3:
        return "input";
    case 4:
        snprintf(buf, cap, "n%d", g->n > 0 ? (int)pick(g->s, (unsigned)g->n) : 0);
        return buf;
    default:
        return name;
    }
}

/* Writes one node: {"name":..., "type":..., fields (body), "inputs":[...]}. The inputs are left
 * out when the node reads only the node written before it (the default), unless the graph
 * names every input; the list is sometimes not a list of 1..8 names. */
static void emit(graph *g, const char *const *inputs, int n_in, const char *body)
{
    if (g->n >= MAX_GEN_NODES)
        return;
    char name[64];
    node_name(g, name, sizeof name);
    text *t = &g->nodes[g->n];
    t->cap = 128;
    t->len = 0;
    t->p = malloc(t->cap);
    if (!t->p)
        fuzz_fail("out of memory");
    add(t, "{\"name\":\"%s\",%s", name, body);
    int by_default = n_in == 1 && !strcmp(inputs[0], g->last) && !g->explicit_inputs;
    if (!by_default || pick(g->s, 8) == 0) {
        switch (g->hostile ? pick(g->s, 48) : 48) {
        case 0:
            add(t, ",\"inputs\":\"%s\"", inputs[0]);
            break;
        case 1:
            add(t, ",\"inputs\":[]");
            break;
        case 2:
            add(t, ",\"inputs\":[%s]", pick(g->s, 2) ? "7" : "null");
            break;
        case 3: /* the first input twice */
            add(t, ",\"inputs\":[\"%s\",\"%s\"]", inputs[0], inputs[0]);
            break;
        default: {
            char buf[48];
            add(t, ",\"inputs\":[");
            for (int k = 0; k < n_in; k++)
                add(t, "%s\"%s\"", k ? "," : "", ref(g, inputs[k], buf, sizeof buf));
            add(t, "]");
        }
        }
    }
    add(t, "}");
    snprintf(g->last, sizeof g->last, "n%d", g->n);
    g->n++;
}

/* A width: usually small, sometimes an edge value. */
static void put_width(byte_source *s, char *buf, size_t cap)
{
    if (pick(s, 6))
        snprintf(buf, cap, "%u", 1 + pick(s, 8));
    else
        put_int(s, buf, cap);
}

/* ---- layers and blocks -------------------------------------------------------------------- */

static void spatial_layer(byte_source *s, char *body, size_t cap)
{
    char a[32], b[32], c[32], d[32];
    switch (pick(s, 6)) {
    case 0: {
        put_int(s, a, sizeof a);
        put_int(s, b, sizeof b);
        put_int(s, c, sizeof c);
        put_int(s, d, sizeof d);
        const char *bias = pick(s, 2) ? "true" : "false";
        snprintf(body, cap, "\"type\":\"conv2d\",\"out\":%s,\"k\":%s,\"stride\":%s,\"pad\":%s,"
                 "\"bias\":%s", a, b, c, d, bias);
        break;
    }
    case 1:
        snprintf(body, cap, "\"type\":\"%s\"", pick(s, 2) ? "batchnorm2d" : "prelu");
        break;
    case 2:
        snprintf(body, cap, "\"type\":\"%s\"", pick(s, 2) ? "relu" : "hardswish");
        break;
    case 3:
        put_int(s, a, sizeof a);
        snprintf(body, cap, "\"type\":\"channel_pad\",\"out\":%s", a);
        break;
    case 4:
        put_int(s, a, sizeof a);
        put_int(s, b, sizeof b);
        put_int(s, c, sizeof c);
        snprintf(body, cap, "\"type\":\"avgpool2d\",\"k\":%s,\"stride\":%s,\"pad\":%s", a, b, c);
        break;
    default:
        put_int(s, a, sizeof a);
        if (pick(s, 2)) {
            put_int(s, b, sizeof b);
            snprintf(body, cap, "\"type\":\"maxpool2d\",\"k\":%s,\"stride\":%s", a, b);
        } else {
            snprintf(body, cap, "\"type\":\"maxpool2d\",\"k\":%s", a);
        }
    }
}

static void flat_layer(byte_source *s, char *body, size_t cap)
{
    char a[32];
    switch (pick(s, 5)) {
    case 0:
        put_int(s, a, sizeof a);
        const char *bias = pick(s, 2) ? "true" : "false";
        snprintf(body, cap, "\"type\":\"linear\",\"out\":%s,\"bias\":%s", a, bias);
        break;
    case 1:
        snprintf(body, cap, "\"type\":\"%s\"", pick(s, 2) ? "relu" : "sigmoid");
        break;
    case 2:
        snprintf(body, cap, "\"type\":\"batchnorm1d\"");
        break;
    case 3:
        snprintf(body, cap, "\"type\":\"prelu\"");
        break;
    default:
        snprintf(body, cap, "\"type\":\"dropout\",\"p\":%s", PICK(s, PROBS));
    }
}

/* conv2d k x k keeping the plane (stride 1, pad k/2) with W outputs */
static void same_conv(char *body, size_t cap, const char *w, int k)
{
    snprintf(body, cap, "\"type\":\"conv2d\",\"out\":%s,\"k\":%d,\"pad\":%d,\"bias\":false", w, k,
             k / 2);
}

/* x -> conv W -> [conv W2 -> bn -> act] + skip, the skip x's conv or a channel_pad of it to W2 */
static void residual_block(graph *g)
{
    char w[32], w2[32], body[256];
    put_width(g->s, w, sizeof w);
    const char *from = g->last;
    char x[48], branch[48], skip[48];
    same_conv(body, sizeof body, w, 1);
    emit(g, &from, 1, body);
    snprintf(x, sizeof x, "%s", g->last);
    int widen = pick(g->s, 3) == 0;
    if (widen)
        put_width(g->s, w2, sizeof w2);
    same_conv(body, sizeof body, widen ? w2 : w, 3);
    const char *in = x;
    emit(g, &in, 1, body);
    in = g->last;
    emit(g, &in, 1, "\"type\":\"batchnorm2d\"");
    if (pick(g->s, 2)) {
        in = g->last;
        emit(g, &in, 1, pick(g->s, 2) ? "\"type\":\"prelu\"" : "\"type\":\"relu\"");
    }
    snprintf(branch, sizeof branch, "%s", g->last);
    snprintf(skip, sizeof skip, "%s", x);
    if (widen) {
        snprintf(body, sizeof body, "\"type\":\"channel_pad\",\"out\":%s", w2);
        in = x;
        emit(g, &in, 1, body);
        snprintf(skip, sizeof skip, "%s", g->last);
    }
    const char *pair[2] = {branch, skip};
    if (pick(g->s, 2)) {
        pair[0] = skip;
        pair[1] = branch;
    }
    emit(g, pair, 2, "\"type\":\"add\"");
}

/* x -> gate = sigmoid(linear(relu(linear(flatten(global_avgpool(x)))))) or
 * hardswish(conv1x1(global_avgpool(x))); x * gate (sometimes gate * x: wrong) */
static void se_block(graph *g)
{
    char w[32], r[32], body[256];
    put_width(g->s, w, sizeof w);
    const char *from = g->last;
    char x[48];
    same_conv(body, sizeof body, w, 3);
    emit(g, &from, 1, body);
    snprintf(x, sizeof x, "%s", g->last);
    const char *in = x;
    emit(g, &in, 1, "\"type\":\"global_avgpool\"");
    in = g->last;
    if (pick(g->s, 2)) {
        emit(g, &in, 1, "\"type\":\"flatten\"");
        put_width(g->s, r, sizeof r);
        snprintf(body, sizeof body, "\"type\":\"linear\",\"out\":%s", r);
        in = g->last;
        emit(g, &in, 1, body);
        in = g->last;
        emit(g, &in, 1, "\"type\":\"relu\"");
        snprintf(body, sizeof body, "\"type\":\"linear\",\"out\":%s", pick(g->s, 4) ? w : r);
        in = g->last;
        emit(g, &in, 1, body);
        in = g->last;
        emit(g, &in, 1, "\"type\":\"sigmoid\"");
    } else {
        same_conv(body, sizeof body, pick(g->s, 4) ? w : "1", 1);
        emit(g, &in, 1, body);
        in = g->last;
        emit(g, &in, 1, "\"type\":\"hardswish\"");
    }
    char gate[48];
    snprintf(gate, sizeof gate, "%s", g->last);
    const char *pair[2] = {x, gate};
    if (pick(g->s, 8) == 0) {
        pair[0] = gate;
        pair[1] = x;
    }
    emit(g, pair, 2, "\"type\":\"mul\"");
}

/* 2..9 branches from x (1x1 or 3x3 convs, a same-size avgpool, a channel_pad, x itself,
 * sometimes the network input), concatenated */
static void concat_block(graph *g)
{
    char x[48], names[9][48], body[256], w[32];
    snprintf(x, sizeof x, "%s", g->last);
    int m = pick(g->s, 4) ? 2 + (int)pick(g->s, 3) : 2 + (int)pick(g->s, 8);
    const char *list[9];
    for (int k = 0; k < m; k++) {
        const char *in = x;
        switch (pick(g->s, 6)) {
        case 0:
            snprintf(names[k], sizeof names[k], "%s", k ? x : "input");
            list[k] = names[k];
            continue;
        case 1:
            emit(g, &in, 1, "\"type\":\"avgpool2d\",\"k\":3,\"stride\":1,\"pad\":1");
            break;
        case 2:
            put_width(g->s, w, sizeof w);
            snprintf(body, sizeof body, "\"type\":\"channel_pad\",\"out\":%s", w);
            emit(g, &in, 1, body);
            break;
        default:
            put_width(g->s, w, sizeof w);
            same_conv(body, sizeof body, w, pick(g->s, 2) ? 1 : 3);
            emit(g, &in, 1, body);
        }
        snprintf(names[k], sizeof names[k], "%s", g->last);
        list[k] = names[k];
    }
    if (m > FER_MAX_INPUTS) { /* no inputs list of 9: written by hand */
        if (g->n >= MAX_GEN_NODES)
            return;
        text *t = &g->nodes[g->n];
        t->cap = 512;
        t->len = 0;
        t->p = malloc(t->cap);
        if (!t->p)
            fuzz_fail("out of memory");
        add(t, "{\"name\":\"n%d\",\"type\":\"concat\",\"inputs\":[", g->n);
        for (int k = 0; k < m; k++)
            add(t, "%s\"%s\"", k ? "," : "", list[k]);
        add(t, "]}");
        snprintf(g->last, sizeof g->last, "n%d", g->n);
        g->n++;
        return;
    }
    emit(g, list, m, "\"type\":\"concat\"");
}

/* a branch nobody reads (the library must refuse the graph), then on from where it started */
static void dead_branch(graph *g)
{
    char x[48];
    snprintf(x, sizeof x, "%s", g->last);
    const char *in = x;
    emit(g, &in, 1, "\"type\":\"relu\"");
    snprintf(g->last, sizeof g->last, "%s", x);
}

/* flat x -> x * sigmoid(x) or x + linear(x) (the linear's width usually x's: unknown here) */
static void flat_block(graph *g)
{
    char x[48], body[96], w[32];
    snprintf(x, sizeof x, "%s", g->last);
    const char *in = x;
    int gate = pick(g->s, 2);
    if (gate) {
        emit(g, &in, 1, "\"type\":\"sigmoid\"");
    } else {
        put_width(g->s, w, sizeof w);
        snprintf(body, sizeof body, "\"type\":\"linear\",\"out\":%s", w);
        emit(g, &in, 1, body);
    }
    const char *pair[2] = {x, g->last};
    char y[48];
    snprintf(y, sizeof y, "%s", g->last);
    pair[1] = y;
    emit(g, pair, 2, gate ? "\"type\":\"mul\"" : "\"type\":\"add\"");
}

static void spatial_step(graph *g)
{
    char body[256];
    const char *in = g->last;
    char x[48];
    switch (pick(g->s, 10)) {
    case 0:
        residual_block(g);
        break;
    case 1:
        se_block(g);
        break;
    case 2:
        concat_block(g);
        break;
    case 3:
        if (g->hostile && pick(g->s, 4) == 0) {
            dead_branch(g);
            break;
        }
        /* fall through */
    default:
        snprintf(x, sizeof x, "%s", g->last);
        in = x;
        spatial_layer(g->s, body, sizeof body);
        emit(g, &in, 1, body);
    }
}

static void flat_step(graph *g)
{
    char body[256];
    char x[48];
    snprintf(x, sizeof x, "%s", g->last);
    const char *in = x;
    if (pick(g->s, 6) == 0) {
        flat_block(g);
        return;
    }
    flat_layer(g->s, body, sizeof body);
    emit(g, &in, 1, body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byte_source s = {data, size};
    text t = {malloc(512), 0, 512};
    if (!t.p)
        fuzz_fail("out of memory");
    /* one pick per statement: the order of evaluation of function arguments is unspecified, and
     * the same bytes must give the same architecture under every compiler (the replay is gcc) */
    const char *in_c = PICK(&s, DIMS);
    const char *in_h = PICK(&s, DIMS);
    const char *in_w = PICK(&s, DIMS);
    const char *classes = pick(&s, 3) ? "7" : PICK(&s, CLASSES);
    add(&t, "{\"name\":\"gen\",\"input\":[%s,%s,%s],\"classes\":%s,\"layers\":[", in_c, in_h,
        in_w, classes);
    graph *g = calloc(1, sizeof *g);
    if (!g)
        fuzz_fail("out of memory");
    g->s = &s;
    snprintf(g->last, sizeof g->last, "input");
    /* mostly well-formed: spatial steps, one flatten, flat steps; sometimes a shuffled stack,
     * sometimes every input named and the nodes listed out of order */
    int shuffled = pick(&s, 8) == 0;
    int reordered = pick(&s, 8) == 0;
    g->explicit_inputs = reordered;
    g->hostile = pick(&s, 4) == 0;
    int n_spatial = (int)pick(&s, 12), n_flat = (int)pick(&s, 5);
    int long_graph = pick(&s, 16) == 0; /* around FER_MAX_LAYERS: relus take no bytes */
    for (int i = 0; i < n_spatial; i++) {
        if (shuffled && pick(&s, 4) == 0)
            flat_step(g);
        else
            spatial_step(g);
    }
    for (int i = 0; long_graph && i < 246 + (int)pick(&s, 18) && g->n < MAX_GEN_NODES - 8; i++) {
        const char *in = g->last;
        char x[48];
        snprintf(x, sizeof x, "%s", in);
        in = x;
        emit(g, &in, 1, "\"type\":\"relu\"");
    }
    if (!shuffled || pick(&s, 2)) {
        char x[48];
        snprintf(x, sizeof x, "%s", g->last);
        const char *in = x;
        emit(g, &in, 1, "\"type\":\"flatten\"");
    }
    for (int i = 0; i < n_flat; i++) {
        if (shuffled && pick(&s, 4) == 0)
            spatial_step(g);
        else
            flat_step(g);
    }
    /* reordered: swap pairs of nodes other than the last (the output stays last) */
    for (int swaps = reordered ? 1 + (int)pick(&s, 8) : 0; swaps > 0 && g->n > 2; swaps--) {
        int a = (int)pick(&s, (unsigned)(g->n - 1)), b = (int)pick(&s, (unsigned)(g->n - 1));
        text tmp = g->nodes[a];
        g->nodes[a] = g->nodes[b];
        g->nodes[b] = tmp;
    }
    for (int i = 0; i < g->n; i++) {
        add(&t, "%s%s", i ? "," : "", g->nodes[i].p);
        free(g->nodes[i].p);
    }
    free(g);
    add(&t, "]");
    switch (pick(&s, 3)) {
    case 0:
        break;
    case 1:
        add(&t, ",\"head\":{\"type\":\"softmax\"}");
        break;
    default: {
        const char *arc_s = PICK(&s, ARC_S);
        const char *arc_m = PICK(&s, ARC_M);
        add(&t, ",\"head\":{\"type\":\"arcface\",\"s\":%s,\"m\":%s}", arc_s, arc_m);
    }
    }
    add(&t, "}");
    if (getenv("FUZZ_ARCH_GEN_PRINT"))
        fprintf(stderr, "%s\n", t.p);
    fuzz_check_arch_json(t.p);
    free(t.p);
    return 0;
}
