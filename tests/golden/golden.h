/* Reader of the golden fixtures written by make_golden.py ("FERGOLD1"):
 *   magic[8], u32 n_entries, then per entry:
 *   u32 name_len, name, u32 kind (0 float32 full, 1 float32 strided sample, 2 int32 full),
 *   u64 total (elements of the whole tensor), u64 stride (sample step), u32 count,
 *   f64 sum, f64 sum_abs, f64 l2 (of the whole tensor), count values (little-endian).
 * Sampled entries hold elements 0, stride, 2*stride, ... of the flat tensor. */
#ifndef FER_GOLDEN_H
#define FER_GOLDEN_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct golden_entry {
    char name[128];
    uint32_t kind;
    uint64_t total, stride;
    uint32_t count;
    double sum, sum_abs, l2;
    float *f;   /* kind 0/1 */
    int32_t *i; /* kind 2 */
} golden_entry;

typedef struct golden_file {
    int n;
    golden_entry *e;
} golden_file;

static int golden_read_exact(FILE *f, void *p, size_t n)
{
    return fread(p, 1, n, f) == n;
}

/* Returns 0 on success; prints the problem otherwise. Little-endian host assumed (x86/ARM). */
static int golden_load(const char *path, golden_file *g)
{
    memset(g, 0, sizeof *g);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open golden fixture\n", path);
        return -1;
    }
    char magic[8];
    uint32_t n;
    if (!golden_read_exact(f, magic, 8) || memcmp(magic, "FERGOLD1", 8) != 0 ||
        !golden_read_exact(f, &n, 4) || n > 100000) {
        fprintf(stderr, "%s: not a golden fixture\n", path);
        fclose(f);
        return -1;
    }
    g->e = calloc(n, sizeof *g->e);
    for (uint32_t k = 0; g->e && k < n; k++) {
        golden_entry *e = &g->e[k];
        uint32_t len;
        int ok = golden_read_exact(f, &len, 4) && len < sizeof e->name &&
                 golden_read_exact(f, e->name, len) && golden_read_exact(f, &e->kind, 4) &&
                 golden_read_exact(f, &e->total, 8) && golden_read_exact(f, &e->stride, 8) &&
                 golden_read_exact(f, &e->count, 4) && golden_read_exact(f, &e->sum, 8) &&
                 golden_read_exact(f, &e->sum_abs, 8) && golden_read_exact(f, &e->l2, 8) &&
                 e->count <= e->total && e->kind <= 2;
        if (ok) {
            void *buf = malloc((size_t)e->count * 4 + 4);
            ok = buf && golden_read_exact(f, buf, (size_t)e->count * 4);
            if (e->kind == 2)
                e->i = buf;
            else
                e->f = buf;
        }
        if (!ok) {
            fprintf(stderr, "%s: truncated or corrupt at entry %u\n", path, k);
            g->n = (int)k + 1;
            fclose(f);
            return -1;
        }
        g->n = (int)k + 1;
    }
    fclose(f);
    return g->e ? 0 : -1;
}

static void golden_free(golden_file *g)
{
    for (int k = 0; k < g->n; k++) {
        free(g->e[k].f);
        free(g->e[k].i);
    }
    free(g->e);
    memset(g, 0, sizeof *g);
}

static const golden_entry *golden_get(const golden_file *g, const char *name)
{
    for (int k = 0; k < g->n; k++)
        if (strcmp(g->e[k].name, name) == 0)
            return &g->e[k];
    fprintf(stderr, "golden fixture has no entry '%s'\n", name);
    return NULL;
}
#endif
