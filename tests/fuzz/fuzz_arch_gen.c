/* Fuzz target: a structured generator of extreme architectures. The fuzzer's bytes choose a
 * well-formed JSON architecture (mostly conv/bn/relu/pool stacks, a flatten, linear layers, a
 * head) whose numbers are drawn from edge values: 0, negative, 2^29, 1e9, 2^31, 1e12, 1e300, input
 * sides up to 4096 and past it, dropout p at 0 / 1 / just below 1, class counts out of range.
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

static void spatial_layer(byte_source *s, text *t)
{
    char a[32], b[32], c[32], d[32];
    switch (pick(s, 4)) {
    case 0:
        put_int(s, a, sizeof a);
        put_int(s, b, sizeof b);
        put_int(s, c, sizeof c);
        put_int(s, d, sizeof d);
        const char *bias = pick(s, 2) ? "true" : "false";
        add(t, "{\"type\":\"conv2d\",\"out\":%s,\"k\":%s,\"stride\":%s,\"pad\":%s,\"bias\":%s}", a,
            b, c, d, bias);
        break;
    case 1:
        add(t, "{\"type\":\"batchnorm2d\"}");
        break;
    case 2:
        add(t, "{\"type\":\"relu\"}");
        break;
    default:
        put_int(s, a, sizeof a);
        if (pick(s, 2)) {
            put_int(s, b, sizeof b);
            add(t, "{\"type\":\"maxpool2d\",\"k\":%s,\"stride\":%s}", a, b);
        } else {
            add(t, "{\"type\":\"maxpool2d\",\"k\":%s}", a);
        }
    }
}

static void flat_layer(byte_source *s, text *t)
{
    char a[32];
    switch (pick(s, 3)) {
    case 0:
        put_int(s, a, sizeof a);
        const char *bias = pick(s, 2) ? "true" : "false";
        add(t, "{\"type\":\"linear\",\"out\":%s,\"bias\":%s}", a, bias);
        break;
    case 1:
        add(t, "{\"type\":\"relu\"}");
        break;
    default:
        add(t, "{\"type\":\"dropout\",\"p\":%s}", PICK(s, PROBS));
    }
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
    /* mostly well-formed: spatial layers, one flatten, flat layers; sometimes a shuffled stack */
    int shuffled = pick(&s, 8) == 0;
    int n_spatial = (int)pick(&s, 12), n_flat = (int)pick(&s, 5);
    if (pick(&s, 16) == 0)
        n_spatial = 60 + (int)pick(&s, 8); /* around FER_MAX_LAYERS */
    int n = 0;
    for (int i = 0; i < n_spatial; i++, n++) {
        add(&t, n ? "," : "");
        if (shuffled && pick(&s, 4) == 0)
            flat_layer(&s, &t);
        else
            spatial_layer(&s, &t);
    }
    if (!shuffled || pick(&s, 2))
        add(&t, "%s{\"type\":\"flatten\"}", n++ ? "," : "");
    for (int i = 0; i < n_flat; i++, n++) {
        add(&t, n ? "," : "");
        if (shuffled && pick(&s, 4) == 0)
            spatial_layer(&s, &t);
        else
            flat_layer(&s, &t);
    }
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
