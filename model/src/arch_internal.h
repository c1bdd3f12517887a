/* Internal helpers shared by arch.c, model.c and checkpoint.c. */
#ifndef FER_ARCH_INTERNAL_H
#define FER_ARCH_INTERNAL_H
#include <cjson/cJSON.h>

#include "fer/arch.h"

/* Output shape of a layer; flat: a feature vector (c features, h = w = 1). */
typedef struct fer_shape {
    int c, h, w, flat;
} fer_shape;

/* Validates the stack and writes every layer's output shape (shapes may be NULL). */
fer_status fer_arch_shapes(const fer_arch *a, const char *origin, fer_shape *shapes);
const char *fer_layer_kind_name(fer_layer_kind k);
/* cJSON forms used inside the checkpoint header; def_head applies when there is no "head". */
cJSON *fer_arch_to_json_obj(const fer_arch *a);
fer_status fer_arch_from_json_obj(const cJSON *root, const char *origin, fer_head_kind def_head,
                                  fer_arch *out);
#endif
