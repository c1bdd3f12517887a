/* Fixtures that need libfermodel (kept apart from fixtures.c, so tests that only write data
 * files do not link the model library). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fer/checkpoint.h"
#include "fixtures.h"

void fx_same_training_state(const char *pa, const char *pb)
{
    fer_backend *be = NULL;
    CHECK(fer_backend_new("ref", 1, &be) == FER_OK);
    fer_model *ma = NULL, *mb = NULL;
    fer_checkpoint_meta meta_a, meta_b;
    CHECK(fer_checkpoint_load(pa, be, 4, &ma, &meta_a) == FER_OK);
    CHECK(fer_checkpoint_load(pb, be, 4, &mb, &meta_b) == FER_OK);
    CHECK(meta_a.epoch == meta_b.epoch);
    int nt = fer_model_n_tensors(ma);
    CHECK(nt == fer_model_n_tensors(mb) && nt > 0);
    for (int i = 0; i < nt; i++) {
        fer_tensor_info info;
        CHECK(fer_model_tensor_info(ma, i, &info) == FER_OK);
        float *a = malloc(sizeof(float) * info.numel), *b = malloc(sizeof(float) * info.numel);
        CHECK(a && b);
        CHECK(fer_model_get_tensor(ma, info.name, a, info.numel) == FER_OK);
        CHECK(fer_model_get_tensor(mb, info.name, b, info.numel) == FER_OK);
        if (memcmp(a, b, sizeof(float) * info.numel)) {
            fprintf(stderr, "tensor %s differs between %s and %s\n", info.name, pa, pb);
            exit(1);
        }
        free(a);
        free(b);
    }
    fer_optim_config oc;
    fer_optim_config_default(FER_OPTIM_ADAM, 1e-3f, &oc);
    fer_optimizer *oa = NULL, *ob = NULL;
    CHECK(fer_optimizer_new(ma, &oc, &oa) == FER_OK && fer_optimizer_new(mb, &oc, &ob) == FER_OK);
    CHECK(fer_checkpoint_load_into(pa, ma, oa, NULL) == FER_OK);
    CHECK(fer_checkpoint_load_into(pb, mb, ob, NULL) == FER_OK);
    size_t n = fer_optimizer_state_floats(oa);
    float *m1 = malloc(4 * n), *v1 = malloc(4 * n), *m2 = malloc(4 * n), *v2 = malloc(4 * n);
    long s1, s2;
    CHECK(fer_optimizer_get_state(oa, &s1, m1, v1) == FER_OK);
    CHECK(fer_optimizer_get_state(ob, &s2, m2, v2) == FER_OK);
    CHECK(s1 == s2 && s1 > 0 && !memcmp(m1, m2, 4 * n) && !memcmp(v1, v2, 4 * n));
    free(m1), free(v1), free(m2), free(v2);
    fer_optimizer_free(oa);
    fer_optimizer_free(ob);
    fer_checkpoint_meta_clear(&meta_a);
    fer_checkpoint_meta_clear(&meta_b);
    fer_model_free(ma);
    fer_model_free(mb);
    fer_backend_free(be);
}

