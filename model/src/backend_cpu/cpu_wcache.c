/* Cache of repacked / transformed convolution weights.
 *
 * Inference calls conv2d_forward with the same weights again and again; repacking them costs
 * as much as a batch-1 layer. An entry is keyed by (source pointer, layout, shape) and
 * validated by a 64-bit hash of the source floats, so weights changed by any means (upload,
 * optimiser step, direct writes) are repacked: never a stale result. A caller that knows when
 * its weights change (a folded inference model) passes a weight generation instead and the
 * hash is skipped: at batch 1 it reads every weight on each call (12% of resnet_s's latency).
 * Buffers are kept and reused, so steady-state calls allocate nothing. */
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"

/* 16 lanes of 64 bits, each acc += lo32(v ^ k) * hi32(v ^ k) + v over its words (the
 * accumulate step of the xxHash3 family: any single changed word changes its lane), then the
 * lanes mixed. Vector-extension code, cloned per ISA (GCC picks the clone at load time): at
 * batch 1 the check reads every weight once per forward, so it runs at memory speed (the
 * scalar 4-lane hash before it was 18% of resnet_s's batch-1 latency). */
typedef uint64_t u64x8 __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static uint64_t weights_hash(const float *w, size_t n)
{
    const unsigned char *p = (const unsigned char *)w;
    size_t bytes = n * sizeof(float), blocks = bytes / 128;
    const u64x8 k0 = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull,
                      0x27D4EB2F165667C5ull, 0xFF51AFD7ED558CCDull, 0xC4CEB9FE1A85EC53ull,
                      0x85EBCA77C2B2AE63ull, 0x61C8864680B583EBull};
    const u64x8 k1 = k0 ^ (k0 >> 17), lo32 = k0 * 0 + 0xFFFFFFFFull;
    u64x8 a0 = k0, a1 = k1;
    for (size_t i = 0; i < blocks; i++) {
        u64x8 v0, v1;
        memcpy(&v0, p + i * 128, 64);
        memcpy(&v1, p + i * 128 + 64, 64);
        u64x8 d0 = v0 ^ k0, d1 = v1 ^ k1;
        a0 += (d0 & lo32) * (d0 >> 32) + v0;
        a1 += (d1 & lo32) * (d1 >> 32) + v1;
    }
    uint64_t h = (uint64_t)bytes * 0x9E3779B97F4A7C15ull;
    for (int l = 0; l < 8; l++) {
        h = (h ^ a0[l]) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
        h = (h ^ a1[l]) * 0xC4CEB9FE1A85EC53ull;
        h ^= h >> 32;
    }
    for (size_t i = blocks * 128; i < bytes; i += 4) { /* the last < 32 floats */
        uint32_t v;
        memcpy(&v, p + i, 4);
        h = (h ^ v) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    return h ^ (h >> 31);
}

float *cpu_wcache_get(cpu_ctx *c, const float *w, size_t n, uint64_t gen, int kind, int s0,
                      int s1, int s2, size_t packed_floats, cpu_pack_fn pack,
                      const void *pack_ctx)
{
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
    uint64_t h = gen ? 0 : weights_hash(w, n);
    if (hit && hit->packed_floats == packed_floats &&
        (gen ? hit->gen == gen : hit->has_hash && hit->hash == h)) {
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
    e->gen = gen;
    e->hash = h;
    e->has_hash = gen == 0;
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
