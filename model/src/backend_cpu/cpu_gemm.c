/* Blocked SGEMM (Goto-style): B is packed into KC x NR column panels shared by all workers,
 * each task packs its MC x KC block of A into MR-row panels and runs the ISA's MR x NR
 * micro-kernel. Edges are zero-padded in the panels and written through a small tile.
 * Every C element is summed in the same order whatever M is, so a sample's result does not
 * depend on the batch it came in: batches smaller than a register tile (A B^T, e.g. batch-1
 * inference) read B's rows directly with the micro-kernel's exact per-element arithmetic
 * instead of packing the whole matrix. When B is a weight matrix its packed panels come from
 * the weight cache. */
#include <string.h>

#include "cpu_bf16.h"
#include "cpu_internal.h"

#define KC 256
#define MC 96   /* multiple of CPU_GEMM_MR */
#define NC 2048 /* multiple of every set's gemm_nr (16, 32) */
#define NS 256  /* columns per task (multiple of every gemm_nr) */

typedef struct gemm_job {
    const cpu_kernels *k;
    int ta, tb, M, N, K;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
    int accumulate;
    int jc, nc, pc, kc;
    float *bp;      /* packed B: [nc/NR][kc][NR] */
    float *ap;      /* per worker: [MC/MR][kc][MR] */
    int n_ns;       /* column groups per row block */
    /* bf16 mode (cpu_bf16.h): both panels hold bf16 pairs over k, [kc/2][NR] and [kc/2][MR]
     * 32-bit words (an odd kc's last pair has a zero partner), in the FP32 panels' slots */
    int bf16;
} gemm_job;

/* Packed B of every (jc, pc) block, one fixed-size slot each (weight cache form). */
typedef struct pack_all_ctx {
    gemm_job j;
    size_t slot;
} pack_all_ctx;

static size_t slot_floats(int N, int K, int nr)
{
    size_t nc = (size_t)(N < NC ? N : NC);
    nc = (nc + nr - 1) / nr * nr;
    return nc * (size_t)(K < KC ? K : KC);
}

static void pack_b_task(void *ctx, int panel, int worker);

static void pack_all_cb(const void *ctx, float *dst)
{
    const pack_all_ctx *pa = ctx;
    gemm_job j = pa->j;
    size_t slot = 0;
    for (int jc = 0; jc < j.N; jc += NC)
        for (int pc = 0; pc < j.K; pc += KC, slot++) {
            j.jc = jc;
            j.nc = j.N - jc < NC ? j.N - jc : NC;
            j.pc = pc;
            j.kc = j.K - pc < KC ? j.K - pc : KC;
            j.bp = dst + slot * pa->slot;
            for (int p = 0; p < (j.nc + j.k->gemm_nr - 1) / j.k->gemm_nr; p++)
                pack_b_task(&j, p, 0);
        }
}

static void pack_b_task(void *ctx, int panel, int worker)
{
    (void)worker;
    const gemm_job *j = ctx;
    const int NR = j->k->gemm_nr;
    float *dst = j->bp + (size_t)panel * j->kc * NR;
    int j0 = j->jc + panel * NR;
    int cols = j->N - j0 < NR ? j->N - j0 : NR;
    if (j->bf16) { /* pair word (p/2, c) holds op(B)[p][c] in half p%2 */
        uint32_t *d32 = (uint32_t *)dst;
        if (cols < NR)
            memset(d32, 0, (size_t)(j->kc + 1) / 2 * NR * sizeof(uint32_t));
        if (j->tb)
            cpu_bf16_pack_pairs_t(j->B + (size_t)j0 * j->ldb + j->pc, j->ldb, cols, j->kc, d32,
                                  (size_t)NR);
        else
            cpu_bf16_pack_pairs(j->B + (size_t)j->pc * j->ldb + j0, j->ldb, j->kc, cols, d32,
                                (size_t)NR);
        return;
    }
    if (cols < NR)
        memset(dst, 0, (size_t)j->kc * NR * sizeof(float));
    if (j->tb) { /* op(B)[p][c] = B[c*ldb + p] */
        for (int c = 0; c < cols; c++) {
            const float *src = j->B + (size_t)(j0 + c) * j->ldb + j->pc;
            for (int p = 0; p < j->kc; p++)
                dst[(size_t)p * NR + c] = src[p];
        }
    } else { /* op(B)[p][c] = B[p*ldb + c] */
        for (int p = 0; p < j->kc; p++) {
            const float *src = j->B + (size_t)(j->pc + p) * j->ldb + j0;
            memcpy(dst + (size_t)p * NR, src, (size_t)cols * sizeof(float));
        }
    }
}

static void pack_a(const gemm_job *j, int i0, int rows, float *dst)
{
    int panels = (rows + CPU_GEMM_MR - 1) / CPU_GEMM_MR;
    for (int ir = 0; ir < panels; ir++) {
        float *d = dst + (size_t)ir * j->kc * CPU_GEMM_MR;
        int r0 = i0 + ir * CPU_GEMM_MR;
        int mr = j->M - r0 < CPU_GEMM_MR ? j->M - r0 : CPU_GEMM_MR;
        if (j->bf16) { /* pair word (p/2, i) holds op(A)[i][p] in half p%2 */
            uint32_t *d32 = (uint32_t *)d;
            if (mr < CPU_GEMM_MR)
                memset(d32, 0, (size_t)(j->kc + 1) / 2 * CPU_GEMM_MR * sizeof(uint32_t));
            if (j->ta)
                cpu_bf16_pack_pairs(j->A + (size_t)j->pc * j->lda + r0, j->lda, j->kc, mr, d32,
                                    CPU_GEMM_MR);
            else
                cpu_bf16_pack_pairs_t(j->A + (size_t)r0 * j->lda + j->pc, j->lda, mr, j->kc, d32,
                                      CPU_GEMM_MR);
            continue;
        }
        if (mr < CPU_GEMM_MR)
            memset(d, 0, (size_t)j->kc * CPU_GEMM_MR * sizeof(float));
        if (j->ta) { /* op(A)[i][p] = A[p*lda + i] */
            for (int p = 0; p < j->kc; p++) {
                const float *src = j->A + (size_t)(j->pc + p) * j->lda + r0;
                for (int i = 0; i < mr; i++)
                    d[(size_t)p * CPU_GEMM_MR + i] = src[i];
            }
        } else {
            for (int i = 0; i < mr; i++) {
                const float *src = j->A + (size_t)(r0 + i) * j->lda + j->pc;
                for (int p = 0; p < j->kc; p++)
                    d[(size_t)p * CPU_GEMM_MR + i] = src[p];
            }
        }
    }
}

static void compute_task(void *ctx, int task, int worker)
{
    const gemm_job *j = ctx;
    int ib = task / j->n_ns, ns = task % j->n_ns;
    int i0 = ib * MC, rows = j->M - i0 < MC ? j->M - i0 : MC;
    int c0 = ns * NS, cols = j->nc - c0 < NS ? j->nc - c0 : NS; /* within the jc block */
    float *ap = j->ap + (size_t)worker * MC * KC;
    pack_a(j, i0, rows, ap);
    int acc = j->accumulate || j->pc > 0;
    const int NR = j->k->gemm_nr;
    float tile[CPU_GEMM_MR * CPU_GEMM_NR_MAX];
    for (int jr = 0; jr < cols; jr += NR) {
        int col = j->jc + c0 + jr;
        int nr = j->N - col < NR ? j->N - col : NR;
        const float *bp = j->bp + (size_t)((c0 + jr) / NR) * j->kc * NR;
        for (int ir = 0; ir < rows; ir += CPU_GEMM_MR) {
            int mr = rows - ir < CPU_GEMM_MR ? rows - ir : CPU_GEMM_MR;
            const float *a = ap + (size_t)(ir / CPU_GEMM_MR) * j->kc * CPU_GEMM_MR;
            float *c = j->C + (size_t)(i0 + ir) * j->ldc + col;
            if (!j->bf16 && j->k->gemm_micro12 && rows - ir >= 2 * CPU_GEMM_MR && nr == NR) {
                j->k->gemm_micro12(j->kc, a, (size_t)j->kc * CPU_GEMM_MR, bp, c, j->ldc, acc);
                ir += CPU_GEMM_MR; /* two panels */
                continue;
            }
            if (j->bf16) {
                int kp = (j->kc + 1) / 2;
                const uint32_t *a32 = (const uint32_t *)a, *b32 = (const uint32_t *)bp;
                if (mr == CPU_GEMM_MR && nr == NR) {
                    cpu_bf16_gemm_micro(kp, a32, b32, c, j->ldc, acc);
                    continue;
                }
                cpu_bf16_gemm_micro(kp, a32, b32, tile, NR, 0);
            } else if (mr == CPU_GEMM_MR && nr == NR) {
                j->k->gemm_micro(j->kc, a, bp, c, j->ldc, acc);
                continue;
            } else {
                j->k->gemm_micro(j->kc, a, bp, tile, NR, 0);
            }
            for (int i = 0; i < mr; i++)
                for (int q = 0; q < nr; q++)
                    c[(size_t)i * j->ldc + q] =
                        (acc ? c[(size_t)i * j->ldc + q] : 0.0f) + tile[i * NR + q];
        }
    }
}

/* ---- batches below one register tile: C = A B^T straight from B's rows ------------------- */

#define ROW_COLS 64 /* output columns per task */

typedef struct row_job {
    const cpu_kernels *k;
    int M, N, K;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
    int accumulate;
} row_job;

static void row_task(void *ctx, int task, int worker)
{
    (void)worker;
    const row_job *j = ctx;
    int j0 = task * ROW_COLS, j1 = j0 + ROW_COLS < j->N ? j0 + ROW_COLS : j->N;
    for (int i = 0; i < j->M; i++) {
        const float *a = j->A + (size_t)i * j->lda;
        float *c = j->C + (size_t)i * j->ldc + j0;
        for (int pc = 0; pc < j->K; pc += KC) { /* the same K blocks as the packed path */
            int kc = j->K - pc < KC ? j->K - pc : KC;
            j->k->gemm_row_nt(kc, a + pc, j->B + (size_t)j0 * j->ldb + pc, j->ldb, j1 - j0, c,
                              pc == 0 && !j->accumulate);
        }
    }
}

size_t cpu_sgemm_ws_floats(cpu_ctx *c, int M, int N, int K)
{
    (void)M;
    size_t nr = (size_t)c->k->gemm_nr, nc = (size_t)(N < NC ? N : NC);
    nc = (nc + nr - 1) / nr * nr;
    size_t kc = (size_t)(K < KC ? K : KC);
    return nc * kc + (size_t)c->threads * MC * KC + 64;
}

fer_status cpu_sgemm(cpu_ctx *c, int trans_a, int trans_b, int M, int N, int K, const float *A,
                     size_t lda, const float *B, size_t ldb, float *C, size_t ldc, int accumulate,
                     int b_is_weight)
{
    if (M <= 0 || N <= 0)
        return FER_OK;
    if (K <= 0) {
        if (!accumulate)
            for (int i = 0; i < M; i++)
                memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return FER_OK;
    }
    if (M < CPU_GEMM_MR && !trans_a && trans_b) { /* e.g. batch-1 inference */
        row_job rj = {c->k, M, N, K, A, B, lda, ldb, ldc, C, accumulate};
        cpu_parallel(c, (N + ROW_COLS - 1) / ROW_COLS, row_task, &rj);
        return FER_OK;
    }
    float *ws = c->gemm_ws;
    size_t need = cpu_sgemm_ws_floats(c, M, N, K);
    if (need > c->gemm_ws_floats) {
        if (cpu_grow(&c->gemm_ws, &c->gemm_ws_floats, need) != FER_OK)
            return FER_ERR_NOMEM;
        ws = c->gemm_ws;
    }
    size_t nc_max = (size_t)(N < NC ? N : NC);
    const int NR = c->k->gemm_nr;
    nc_max = (nc_max + NR - 1) / NR * NR;
    size_t kc_max = (size_t)(K < KC ? K : KC);
    gemm_job j = {c->k, trans_a, trans_b, M, N, K, A, B, lda, ldb, ldc, C, accumulate,
                  0, 0, 0, 0, ws, ws + nc_max * kc_max, 0, c->bf16 && NR == CPU_BF16_CO};
    const float *cached = NULL;
    size_t slot = slot_floats(N, K, NR), n_slots = (size_t)((N + NC - 1) / NC) * ((K + KC - 1) / KC);
    if (b_is_weight && ldb == (size_t)(trans_b ? K : N)) {
        pack_all_ctx pa = {j, slot};
        cached = cpu_wcache_get(c, B, (size_t)N * K, 0, (j.bf16 ? 60 : 30) + trans_b, N, K, NR,
                                slot * n_slots,
                                pack_all_cb, &pa);
        if (!cached)
            return FER_ERR_NOMEM;
    }
    size_t slot_i = 0;
    for (int jc = 0; jc < N; jc += NC) {
        j.jc = jc;
        j.nc = N - jc < NC ? N - jc : NC;
        int panels = (j.nc + NR - 1) / NR;
        j.n_ns = (j.nc + NS - 1) / NS;
        int tasks = ((M + MC - 1) / MC) * j.n_ns;
        for (int pc = 0; pc < K; pc += KC) {
            j.pc = pc;
            j.kc = K - pc < KC ? K - pc : KC;
            if (cached) {
                j.bp = (float *)cached + slot_i * slot;
            } else {
                j.bp = ws;
                cpu_parallel(c, panels, pack_b_task, &j);
            }
            slot_i++;
            cpu_parallel(c, tasks, compute_task, &j);
        }
    }
    return FER_OK;
}
