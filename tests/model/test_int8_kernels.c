/* int8 GEMM kernels (model/src/backend_cpu/cpu_int8.h): the portable reference against a plain
 * integer computation written here from the definition (weights unpacked, epilogue spelled
 * out), then the kernel set named by argv[1] (avx512_vnni, avx_vnni or portable) against the
 * portable reference: every output byte / float bit-identical, over odd shapes (rows not a
 * multiple of the tile, 16..144 channels, reductions 4..65536 at the largest values), both
 * output kinds, row ranges split in two. A set this CPU lacks exits 77 naming the feature.
 * The residual add likewise: the reference (fer_i8_add_ref) against hand-worked values of the
 * definition, then the set's add against it over every pair of input bytes, in place too. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "backend_cpu/cpu_int8.h"
#include "fer/status.h"
#include "../common/fer_check.h"

typedef struct shape {
    int m, k, n_pad, lda_extra;
    int extreme; /* all inputs 255, weights +-127: the largest sums */
} shape;

static uint32_t lcg = 12345u;
static uint32_t next_u32(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return lcg >> 8;
}

typedef struct gemm_case {
    fer_i8_gemm g;
    uint8_t *a;
    int8_t *w;      /* unpacked: w[o * k + kk] */
    int8_t *packed;
    int32_t *comp;
    float *mult, *add;
} gemm_case;

static void make_case(const shape *s, int float_out, gemm_case *c)
{
    size_t lda = (size_t)s->k + (size_t)s->lda_extra;
    c->a = malloc((size_t)s->m * lda);
    c->w = malloc((size_t)s->n_pad * s->k);
    c->packed = malloc((size_t)s->n_pad * s->k);
    c->comp = malloc((size_t)s->n_pad * sizeof(int32_t));
    c->mult = malloc((size_t)s->n_pad * sizeof(float));
    c->add = malloc((size_t)s->n_pad * sizeof(float));
    CHECK(c->a && c->w && c->packed && c->comp && c->mult && c->add);
    for (size_t i = 0; i < (size_t)s->m * lda; i++)
        c->a[i] = s->extreme ? 255 : (uint8_t)(next_u32() & 255u);
    for (int o = 0; o < s->n_pad; o++)
        for (int kk = 0; kk < s->k; kk++) {
            int8_t v = s->extreme ? (int8_t)(o % 2 ? -127 : 127)
                                  : (int8_t)((int)(next_u32() % 255u) - 127);
            c->w[(size_t)o * s->k + kk] = v;
            c->packed[fer_i8_pack_index(s->k, kk, o)] = v;
        }
    for (int o = 0; o < s->n_pad; o++) {
        c->comp[o] = (int32_t)(next_u32() % 200001u) - 100000;
        /* scales so the outputs cross both clamps of the u8 range */
        c->mult[o] = (float)(next_u32() % 1000u + 1u) / (float)(60.0 * s->k * 16.0);
        c->add[o] = (float)(next_u32() % 2561u) / 10.0f - 0.5f;
    }
    fer_i8_gemm g = {.m = s->m, .k = s->k, .n_pad = s->n_pad, .a = c->a, .lda = lda,
                     .b = c->packed, .comp = c->comp, .mult = c->mult, .add = c->add,
                     .lo = float_out ? -INFINITY : 0.0f, .hi = float_out ? INFINITY : 255.0f,
                     .ldo = (size_t)s->n_pad + 3, .ldf = (size_t)s->n_pad + 5};
    c->g = g;
}

static void free_case(gemm_case *c)
{
    free(c->a);
    free(c->w);
    free(c->packed);
    free(c->comp);
    free(c->mult);
    free(c->add);
}

/* Output buffers of one run, filled with a canary first. */
static void alloc_out(fer_i8_gemm *g, int float_out, uint8_t **u8, float **f32)
{
    size_t nu = (size_t)g->m * g->ldo, nf = (size_t)g->m * g->ldf;
    *u8 = NULL;
    *f32 = NULL;
    if (float_out) {
        *f32 = malloc(nf * sizeof(float));
        CHECK(*f32);
        for (size_t i = 0; i < nf; i++)
            (*f32)[i] = -12345.0f;
        g->out_f32 = *f32;
        g->out_u8 = NULL;
    } else {
        *u8 = malloc(nu);
        CHECK(*u8);
        memset(*u8, 0xA5, nu);
        g->out_u8 = *u8;
        g->out_f32 = NULL;
    }
}

/* The definition: sum in int64 (must fit int32), the epilogue as cpu_int8.h states it. */
static void check_portable_against_definition(const shape *s, int float_out)
{
    gemm_case c;
    make_case(s, float_out, &c);
    uint8_t *u8;
    float *f32;
    alloc_out(&c.g, float_out, &u8, &f32);
    fer_i8_kernels_portable.gemm(&c.g, 0, s->m);
    for (int i = 0; i < s->m; i++)
        for (int o = 0; o < s->n_pad; o++) {
            int64_t acc = 0;
            for (int kk = 0; kk < s->k; kk++)
                acc += (int64_t)c.a[(size_t)i * c.g.lda + kk] * c.w[(size_t)o * s->k + kk];
            CHECK(acc >= INT32_MIN && acc <= INT32_MAX);
            float y = (float)((int32_t)acc - c.comp[o]) * c.mult[o];
            y = y + c.add[o];
            y = fminf(fmaxf(y, c.g.lo), c.g.hi);
            if (float_out) {
                CHECK(f32[(size_t)i * c.g.ldf + o] == y, "m %d k %d row %d ch %d", s->m, s->k, i,
                      o);
            } else {
                CHECK(u8[(size_t)i * c.g.ldo + o] == (uint8_t)lrintf(y), "m %d k %d row %d ch %d",
                      s->m, s->k, i, o);
            }
        }
    /* the row padding (ldo, ldf beyond n_pad) untouched */
    for (int i = 0; i < s->m; i++) {
        if (float_out)
            CHECK(f32[(size_t)i * c.g.ldf + s->n_pad] == -12345.0f);
        else
            CHECK(u8[(size_t)i * c.g.ldo + s->n_pad] == 0xA5);
    }
    free(u8);
    free(f32);
    free_case(&c);
}

static void check_set_against_portable(const fer_i8_kernels *k, const shape *s, int float_out)
{
    gemm_case c;
    make_case(s, float_out, &c);
    uint8_t *ref_u8, *u8;
    float *ref_f32, *f32;
    fer_i8_gemm ref = c.g, g = c.g;
    alloc_out(&ref, float_out, &ref_u8, &ref_f32);
    alloc_out(&g, float_out, &u8, &f32);
    fer_i8_kernels_portable.gemm(&ref, 0, s->m);
    int split = s->m / 3; /* rows in two calls: the row range must be honoured */
    k->gemm(&g, 0, split);
    k->gemm(&g, split, s->m);
    if (float_out)
        CHECK(!memcmp(ref_f32, f32, (size_t)s->m * g.ldf * sizeof(float)),
              "%s: float output differs (m %d k %d n %d)", k->name, s->m, s->k, s->n_pad);
    else
        CHECK(!memcmp(ref_u8, u8, (size_t)s->m * g.ldo), "%s: u8 output differs (m %d k %d n %d)",
              k->name, s->m, s->k, s->n_pad);
    free(ref_u8);
    free(ref_f32);
    free(u8);
    free(f32);
    free_case(&c);
}

/* fer_i8_add_ref against the definition worked by hand: 1 + 3 * 0.5 = 2.5 rounds to 2 (half
 * to even), 3 + 0.5 to 4, clamps at 255 and at lo. */
static void check_add_ref(void)
{
    uint8_t a[3] = {1, 3, 200}, b[3] = {3, 1, 200}, out[3];
    fer_i8_add p = {a, b, out, 3, 0, 0, 1, 0.5f, 0, 0};
    fer_i8_add_ref(&p);
    CHECK(out[0] == 2 && out[1] == 4 && out[2] == 255, "add reference: %d %d %d, want 2 4 255",
          out[0], out[1], out[2]);
    p.zo = -10;
    p.lo = 0;
    a[0] = 0, b[0] = 0;
    fer_i8_add_ref(&p);
    CHECK(out[0] == 0, "add reference: %d below lo = 0", out[0]);
    p.lo = 128; /* a fused ReLU at the output zero point */
    fer_i8_add_ref(&p);
    CHECK(out[0] == 128 && out[1] == 128, "add reference: %d %d, want the ReLU floor 128",
          out[0], out[1]);
}

/* k's add against the reference: every (a, b) byte pair, a length with a tail, out separate
 * and out == a, for factors like the net's (zero points, scale ratios, fused ReLU). */
static void check_add_set(const fer_i8_kernels *k)
{
    enum { N = 65536 + 7 };
    const float params[][6] = {{0, 0, 1, 1, 0, 0},          {128, 3, 0.37f, 1.91f, 17, 0},
                               {255, 0, 0.5f, 0.5f, 128, 128}, {7, 250, 3.3e-3f, 2.5f, 255, 0},
                               {31, 77, 0.7071f, 1.4142f, 64, 64}};
    uint8_t *a = malloc(N), *b = malloc(N), *got = malloc(N), *want = malloc(N);
    for (size_t c = 0; c < sizeof params / sizeof params[0]; c++) {
        for (size_t e = 0; e < N; e++) {
            a[e] = (uint8_t)(e & 255);
            b[e] = (uint8_t)((e >> 8) & 255);
        }
        const float *f = params[c];
        fer_i8_add p = {a, b, want, N, f[0], f[1], f[2], f[3], f[4], f[5]};
        fer_i8_add_ref(&p);
        p.out = got;
        k->add(&p);
        CHECK(memcmp(got, want, N) == 0, "%s add, case %zu: bytes differ from the reference",
              k->name, c);
        p.out = a;
        k->add(&p);
        CHECK(memcmp(a, want, N) == 0, "%s add in place, case %zu: bytes differ", k->name, c);
    }
    free(a), free(b), free(got), free(want);
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "portable";
    const shape shapes[] = {
        {1, 4, 16, 0, 0},    {5, 36, 16, 4, 0},    {6, 36, 32, 0, 0},  {7, 288, 48, 12, 0},
        {13, 288, 64, 0, 0}, {48, 576, 64, 0, 0},  {50, 64, 80, 8, 0}, {25, 1156, 128, 0, 0},
        {12, 132, 144, 4, 0}, {3, 4608, 256, 0, 0}, {2, 65536, 32, 0, 1}, {9, 1152, 16, 0, 1},
    };
    int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < n_shapes; s++)
        for (int f = 0; f < 2; f++)
            check_portable_against_definition(&shapes[s], f);
    check_add_ref();
    const char *missing = fer_i8_missing(name);
    if (missing) {
        printf("SKIP: int8 kernel set %s cannot run here (no %s); the portable reference passed\n",
               name, missing);
        return 77;
    }
    const fer_i8_kernels *k;
    OK(fer_i8_select(name, &k));
    CHECK(!strcmp(k->name, name));
    for (int s = 0; s < n_shapes; s++)
        for (int f = 0; f < 2; f++)
            check_set_against_portable(k, &shapes[s], f);
    check_add_set(k);
    printf("int8 kernels %s: %d shapes x {u8, float} bit-identical to the portable reference, "
           "which matches the definition; the residual add byte-identical to its reference\n",
           name, n_shapes);
    return 0;
}
