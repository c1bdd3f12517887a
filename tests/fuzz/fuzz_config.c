/* Fuzz target: the trainer's config JSON (`fer-train --config FILE`, trainer/src/options.c):
 * applied over the defaults, range-checked, written back as JSON (what config.json holds) and
 * read again: a config that was accepted and validated must read back to the same settings. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("config.json", data, size);
    fer_cli cli;
    fer_options_defaults(&cli);
    snprintf(cli.opt.config, sizeof cli.opt.config, "%s", path);
    if (fer_options_apply_config_file(&cli) != FER_OK)
        return 0;
    if (fer_options_validate(&cli.opt) != FER_OK)
        return 0;
    char *json = fer_options_to_json(&cli.opt);
    if (!json)
        fuzz_fail("fer_options_to_json failed on a valid configuration");
    fer_cli again;
    fer_options_defaults(&again);
    if (fer_options_apply_json(&again, json, "config.json (written back)", FER_SRC_CONFIG, 0) !=
        FER_OK)
        fuzz_fail("a valid configuration does not read back: %s", fer_last_error());
    char *json2 = fer_options_to_json(&again.opt);
    if (!json2 || strcmp(json, json2) != 0)
        fuzz_fail("a valid configuration changes when written back and read:\n%s\n%s", json,
                  json2 ? json2 : "(null)");
    free(json);
    free(json2);
    return 0;
}
