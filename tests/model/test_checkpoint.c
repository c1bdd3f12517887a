/* .fer checkpoints: bit-exact round trip (tensors, optimiser state, meta, re-saved file bytes)
 * and rejection of truncated, bit-flipped, wrong-version, wrong-architecture and otherwise
 * unusable files with the promised messages. */
#include <string.h>
#include <unistd.h>

#include "fer/checkpoint.h"
#include "fer/crc.h"
#include "fer/fileio.h"
#include "fer/rng_math.h"
#define FER_CHECK_CONTINUE /* count failures, report them all */
#include "fer/status.h"
#include "../common/fer_check.h"

static char dir[64];

static char *path_in(const char *name)
{
    static char buf[8][256];
    static int k = 0;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (fwrite(b, 1, n, f) != n)
        abort();
    fclose(f);
}

static fer_model *train_tiny(fer_backend *b, fer_head_kind head, fer_optimizer **opt_out)
{
    fer_arch arch;
    OK(fer_arch_preset("tiny", head, &arch));
    fer_model *m;
    OK(fer_model_new(&arch, b, 4, &m));
    OK(fer_model_init(m, 5));
    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
    OK(fer_optimizer_new(m, &oc, opt_out));
    float x[4 * 48 * 48];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = fer_rng_symmetric(8, i);
    int32_t labels[4] = {1, 2, 3, 4};
    fer_loss_config lc = {.kind = FER_LOSS_CE};
    for (int s = 0; s < 2; s++) {
        OK(fer_model_forward(m, x, 4, FER_MODE_TRAIN, labels, (uint64_t)s, NULL));
        OK(fer_model_loss(m, &lc, labels, NULL));
        OK(fer_model_backward(m));
        OK(fer_optimizer_step(*opt_out, 1e-3f));
    }
    return m;
}

static void same_tensors(fer_model *a, fer_model *b)
{
    CHECK(fer_model_n_tensors(a) == fer_model_n_tensors(b), "tensor count");
    for (int t = 0; t < fer_model_n_tensors(a); t++) {
        fer_tensor_info ti;
        OK(fer_model_tensor_info(a, t, &ti));
        float *x = malloc(ti.numel * 4), *y = malloc(ti.numel * 4);
        OK(fer_model_get_tensor(a, ti.name, x, ti.numel));
        OK(fer_model_get_tensor(b, ti.name, y, ti.numel));
        CHECK(memcmp(x, y, ti.numel * 4) == 0, "tensor %s differs after round trip", ti.name);
        free(x);
        free(y);
    }
}

/* Loading `path` into a fresh tiny softmax model must fail with st and a message containing
 * `needle`. */
static void expect_reject(fer_backend *b, const char *path, fer_status st, const char *needle,
                          const char *what)
{
    fer_arch arch;
    OK(fer_arch_preset("tiny", FER_HEAD_SOFTMAX, &arch));
    fer_model *m;
    OK(fer_model_new(&arch, b, 1, &m));
    fer_status got = fer_checkpoint_load_into(path, m, NULL, NULL);
    CHECK(got == st, "%s: status %s, want %s (%s)", what, fer_status_name(got),
          fer_status_name(st), fer_last_error());
    CHECK(strstr(fer_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what,
          fer_last_error(), needle);
    CHECK(strstr(fer_last_error(), path) != NULL, "%s: message '%s' does not name the file",
          what, fer_last_error());
    fer_model_free(m);
    fer_arch hdr;
    CHECK(fer_checkpoint_read_header(path, &hdr, NULL) == st, "%s: read_header", what);
    CHECK(fer_checkpoint_has_optimizer(path) == 0, "%s: has_optimizer", what);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/fer_ckpt_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    fer_backend *b;
    OK(fer_backend_new("ref", 1, &b));
    fer_optimizer *opt;
    fer_model *m = train_tiny(b, FER_HEAD_SOFTMAX, &opt);

    fer_checkpoint_meta meta;
    fer_checkpoint_meta_init(&meta);
    CHECK(meta.n_classes == 7 && strcmp(meta.class_names[0], "angry") == 0 &&
              strcmp(meta.class_names[6], "surprise") == 0 && meta.norm.mean == 0.5f,
          "meta defaults");
    meta.epoch = 3;
    meta.best_metric = 0.4242f;
    meta.has_prior = 1;
    for (int c = 0; c < 7; c++)
        meta.class_prior[c] = 0.1f + 0.01f * c;
    meta.config_json = strdup("{\"loss\":\"focal\",\"lr\":0.001,\"epochs\":30}");
    meta.state_json = strdup("{\"rng\":123,\"plateau_best\":-1}");
    const char *p1 = path_in("a.fer");
    OK(fer_checkpoint_save(p1, m, &meta, opt));
    CHECK(fer_remove_stale_tmp(dir) == 0, "temporary file left behind");
    CHECK(fer_checkpoint_has_optimizer(p1) == 1, "has_optimizer");

    /* round trip */
    fer_arch arch;
    fer_checkpoint_meta got;
    OK(fer_checkpoint_read_header(p1, &arch, &got));
    CHECK(fer_arch_equal(&arch, fer_model_arch(m)), "arch round trip");
    CHECK(got.epoch == 3 && got.best_metric == 0.4242f && got.has_prior &&
              got.class_prior[6] == meta.class_prior[6] && got.norm.std == 0.5f,
          "meta round trip");
    CHECK(got.config_json && strcmp(got.config_json, meta.config_json) == 0, "config %s",
          got.config_json ? got.config_json : "(null)");
    CHECK(got.state_json && strcmp(got.state_json, meta.state_json) == 0, "state");
    fer_checkpoint_meta_clear(&got);

    fer_model *m2;
    OK(fer_model_new(&arch, b, 4, &m2));
    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
    fer_optimizer *opt2;
    OK(fer_optimizer_new(m2, &oc, &opt2));
    OK(fer_checkpoint_load_into(p1, m2, opt2, &got));
    same_tensors(m, m2);
    size_t ns = fer_optimizer_state_floats(opt);
    float *ma = malloc(ns * 4), *va = malloc(ns * 4), *mb = malloc(ns * 4), *vb = malloc(ns * 4);
    long sa, sb;
    OK(fer_optimizer_get_state(opt, &sa, ma, va));
    OK(fer_optimizer_get_state(opt2, &sb, mb, vb));
    CHECK(sa == 2 && sb == 2, "optimiser steps %ld %ld", sa, sb);
    CHECK(memcmp(ma, mb, ns * 4) == 0 && memcmp(va, vb, ns * 4) == 0, "optimiser state");
    free(ma), free(va), free(mb), free(vb);
    const char *p2 = path_in("b.fer");
    OK(fer_checkpoint_save(p2, m2, &got, opt2));
    size_t n1, n2;
    unsigned char *f1 = slurp(p1, &n1), *f2 = slurp(p2, &n2);
    CHECK(f1 && f2 && n1 == n2 && memcmp(f1, f2, n1) == 0, "re-saved file differs");
    CHECK(memcmp(f1, "FERMODEL", 8) == 0, "magic");
    fer_checkpoint_meta_clear(&got);

    /* convenience loader gives the same eval outputs */
    fer_model *m3;
    OK(fer_checkpoint_load(p1, b, 2, &m3, NULL));
    float x[2 * 48 * 48], la[14], lb[14];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = fer_rng_symmetric(9, i);
    OK(fer_model_forward(m, x, 2, FER_MODE_EVAL, NULL, 0, la));
    OK(fer_model_forward(m3, x, 2, FER_MODE_EVAL, NULL, 0, lb));
    CHECK(memcmp(la, lb, sizeof la) == 0, "loaded model gives other logits");
    fer_model_free(m3);

    /* optimiser section problems */
    const char *p3 = path_in("noopt.fer");
    OK(fer_checkpoint_save(p3, m, &meta, NULL));
    CHECK(fer_checkpoint_has_optimizer(p3) == 0, "has_optimizer without section");
    CHECK(fer_checkpoint_load_into(p3, m2, opt2, NULL) == FER_ERR_FORMAT &&
              strstr(fer_last_error(), "no optimiser state"),
          "missing optimiser section: %s", fer_last_error());
    OK(fer_checkpoint_load_into(p3, m2, NULL, NULL));
    fer_optim_config sgd;
    fer_optim_config_default(FER_OPTIM_SGD, 0.1f, &sgd);
    fer_optimizer *opt3;
    OK(fer_optimizer_new(m2, &sgd, &opt3));
    CHECK(fer_checkpoint_load_into(p1, m2, opt3, NULL) == FER_ERR_FORMAT &&
              strstr(fer_last_error(), "optimiser state is for adam"),
          "optimiser kind: %s", fer_last_error());
    fer_optimizer_free(opt3);

    /* truncated copies */
    const char *pt = path_in("trunc.fer");
    size_t cuts[] = {0, 5, 8, 31, 40, n1 / 2, n1 - 4, n1 - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        spit(pt, f1, cuts[k]);
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", cuts[k]);
        expect_reject(b, pt, FER_ERR_FORMAT, "truncated", what);
    }
    /* single bit flips in the header JSON, a tensor, the optimiser section and the CRC */
    const char *pf = path_in("flip.fer");
    size_t flips[] = {40, 100, n1 / 3, n1 / 2, n1 - 100, n1 - 3};
    for (size_t k = 0; k < sizeof flips / sizeof *flips; k++) {
        f1[flips[k]] ^= 0x10;
        spit(pf, f1, n1);
        f1[flips[k]] ^= 0x10;
        char what[64];
        snprintf(what, sizeof what, "bit flip at byte %zu", flips[k]);
        expect_reject(b, pf, FER_ERR_FORMAT, "checksum mismatch", what);
    }
    f1[0] ^= 1;
    spit(pf, f1, n1);
    f1[0] ^= 1;
    expect_reject(b, pf, FER_ERR_FORMAT, "bad magic", "bad magic");
    unsigned char extra[4] = {0};
    spit(pf, f1, n1);
    FILE *fa = fopen(pf, "ab");
    fwrite(extra, 1, 4, fa);
    fclose(fa);
    expect_reject(b, pf, FER_ERR_FORMAT, "unexpected bytes", "trailing bytes");
    /* wrong version */
    f1[8] = 2;
    spit(pf, f1, n1);
    f1[8] = 1;
    expect_reject(b, pf, FER_ERR_FORMAT, "unsupported checkpoint version 2", "version 2");
    /* a NUL byte inside a header string, with a valid CRC: cJSON would take it, a reader that
     * stops at the NUL would see another header (a fuzzer finding) */
    {
        unsigned char *q = memchr(f1 + 32, '"', n1 - 32);
        CHECK(q && q[1] != '"', "no header string to corrupt");
        unsigned char keep = q[1];
        q[1] = 0;
        uint32_t crc = fer_crc32(0, f1, n1 - 4);
        unsigned char keep_crc[4];
        memcpy(keep_crc, f1 + n1 - 4, 4);
        for (int i = 0; i < 4; i++)
            f1[n1 - 4 + i] = (unsigned char)(crc >> (8 * i));
        spit(pf, f1, n1);
        q[1] = keep;
        memcpy(f1 + n1 - 4, keep_crc, 4);
        expect_reject(b, pf, FER_ERR_FORMAT, "NUL byte", "NUL in the header");
    }
    /* not there */
    expect_reject(b, path_in("missing.fer"), FER_ERR_IO, "cannot open", "missing file");

    /* wrong architecture: a tiny softmax file into simplecnn and into tiny-arcface */
    fer_arch other;
    OK(fer_arch_preset("simplecnn", FER_HEAD_SOFTMAX, &other));
    fer_model *mo;
    OK(fer_model_new(&other, b, 1, &mo));
    CHECK(fer_checkpoint_load_into(p1, mo, NULL, NULL) == FER_ERR_FORMAT &&
              strstr(fer_last_error(), "architecture mismatch") && strstr(fer_last_error(), p1),
          "simplecnn: %s", fer_last_error());
    fer_model_free(mo);
    OK(fer_arch_preset("tiny", FER_HEAD_ARCFACE, &other));
    OK(fer_model_new(&other, b, 1, &mo));
    CHECK(fer_checkpoint_load_into(p1, mo, NULL, NULL) == FER_ERR_FORMAT &&
              strstr(fer_last_error(), "architecture mismatch"),
          "arcface: %s", fer_last_error());
    fer_model_free(mo);

    /* an arcface checkpoint round-trips too */
    fer_optimizer *opta;
    fer_model *ma_ = train_tiny(b, FER_HEAD_ARCFACE, &opta);
    const char *pa = path_in("arc.fer");
    OK(fer_checkpoint_save(pa, ma_, &meta, NULL));
    fer_model *mb_;
    OK(fer_checkpoint_load(pa, b, 4, &mb_, NULL));
    CHECK(fer_model_arch(mb_)->head == FER_HEAD_ARCFACE && fer_model_arch(mb_)->arc_s == 30.0f,
          "arcface head settings");
    same_tensors(ma_, mb_);
    fer_model_free(mb_);
    fer_optimizer_free(opta);
    fer_model_free(ma_);

    /* save errors */
    CHECK(fer_checkpoint_save("/nonexistent-dir/x.fer", m, &meta, NULL) == FER_ERR_IO,
          "save into a missing directory");
    meta.n_classes = 6;
    CHECK(fer_checkpoint_save(path_in("c.fer"), m, &meta, NULL) == FER_ERR_ARG, "class count");
    meta.n_classes = 7;
    free(meta.config_json);
    meta.config_json = strdup("not json");
    CHECK(fer_checkpoint_save(path_in("c.fer"), m, &meta, NULL) == FER_ERR_ARG, "bad config");

    fer_checkpoint_meta_clear(&meta);
    free(f1);
    free(f2);
    fer_optimizer_free(opt2);
    fer_model_free(m2);
    fer_optimizer_free(opt);
    fer_model_free(m);
    fer_backend_free(b);
    CHECK(fer_remove_stale_tmp(dir) == 0, "temporary file left behind by a failed save");
    const char *names[] = {"a.fer", "b.fer", "noopt.fer", "trunc.fer", "flip.fer", "arc.fer",
                           "c.fer"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        unlink(path_in(names[k]));
    rmdir(dir);
    return fer_check_summary("test_checkpoint");
}
