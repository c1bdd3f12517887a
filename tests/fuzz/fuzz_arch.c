/* Fuzz target: the architecture JSON (fer_arch_from_json, what `fer-train --arch FILE` and every
 * checkpoint header hold). An accepted architecture must fit the documented caps, read back the
 * same after fer_arch_to_json, and build a model on the ref backend that runs one forward pass
 * and one training step on a batch of 1 (when small enough to do thousands of times). */
#include <stdlib.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    fuzz_check_arch_json(text);
    free(text);
    return 0;
}
