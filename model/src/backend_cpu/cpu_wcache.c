/* Cache of repacked / transformed convolution weights.
 *
 * Inference calls conv2d_forward with the same weights again and again; repacking them costs
 * as much as a batch-1 layer. An entry is keyed by (source pointer, layout, shape) and
 * validated by a 64-bit hash of the source floats, so weights changed by any means (upload,
 * optimiser step, direct writes) are repacked: never a stale result. Buffers are kept and
 * reused, so steady-state calls allocate nothing. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* 4 independent multiply-xorshift lanes over 64-bit words (sequential reads, ~memory speed) */
static uint64_t weights_hash(const float *w, size_t n)
{
    const unsigned char *p = (const unsigned char *)w;
    size_t bytes = n * sizeof(float), words = bytes / 8;
    uint64_t h[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                     0x27D4EB2F165667C5ull};
    size_t i = 0;
    for (; i + 4 <= words; i += 4)
        for (int l = 0; l < 4; l++) {
            uint64_t v;
            memcpy(&v, p + (i + (size_t)l) * 8, 8);
            h[l] = (h[l] ^ v) * 0xFF51AFD7ED558CCDull;
            h[l] ^= h[l] >> 29;
        }
    for (; i < words; i++) {
        uint64_t v;
        memcpy(&v, p + i * 8, 8);
        h[i % 4] = (h[i % 4] ^ v) * 0xFF51AFD7ED558CCDull;
    }
    uint64_t tail = 0;
    memcpy(&tail, p + words * 8, bytes - words * 8); /* 0 or 4 bytes */
    h[0] = (h[0] ^ tail ^ (uint64_t)bytes) * 0xC4CEB9FE1A85EC53ull;
    uint64_t r = h[0] ^ (h[1] * 31) ^ (h[2] * 131) ^ (h[3] * 1031);
    return r ^ (r >> 31);
}

float *cpu_wcache_get(cpu_ctx *c, const float *w, size_t n, int kind, int s0, int s1, int s2,
                      size_t packed_floats, cpu_pack_fn pack, const void *pack_ctx)
{
    uint64_t h = weights_hash(w, n);
    cpu_wcache_entry *hit = NULL, *victim = &c->wcache[0];
    for (int i = 0; i < CPU_WCACHE_ENTRIES; i++) {
        cpu_wcache_entry *e = &c->wcache[i];
        if (e->w == w && e->n == n && e->kind == kind && e->s[0] == s0 && e->s[1] == s1 &&
            e->s[2] == s2) {
            hit = e;
            break;
        }
        if (e->last_use < victim->last_use)
            victim = e;
    }
    c->wcache_clock++;
    if (hit && hit->hash == h && hit->packed_floats == packed_floats) {
        hit->last_use = c->wcache_clock;
        return hit->packed;
    }
    cpu_wcache_entry *e = hit ? hit : victim;
    if (cpu_grow(&e->packed, &e->cap, packed_floats) != FER_OK) {
        e->w = NULL;
        return NULL;
    }
    pack(pack_ctx, e->packed);
    e->w = w;
    e->n = n;
    e->kind = kind;
    e->s[0] = s0;
    e->s[1] = s1;
    e->s[2] = s2;
    e->hash = h;
    e->packed_floats = packed_floats;
    e->last_use = c->wcache_clock;
    return e->packed;
}

void cpu_wcache_free(cpu_ctx *c)
{
    for (int i = 0; i < CPU_WCACHE_ENTRIES; i++) {
        free(c->wcache[i].packed);
        memset(&c->wcache[i], 0, sizeof c->wcache[i]);
    }
}
