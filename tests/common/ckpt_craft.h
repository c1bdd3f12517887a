/* Tests and fuzz corpora that need a hostile but well-framed .fer file: read a checkpoint's
 * header JSON and payload, let the test change them, write them back with fresh lengths and a
 * valid CRC (format in model/src/checkpoint.c), so the loader's checks past the framing are
 * what gets exercised. Header-only; include fer/crc.h's library (libfermodel). */
#ifndef FER_TEST_CKPT_CRAFT_H
#define FER_TEST_CKPT_CRAFT_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fer/crc.h"

typedef struct craft_ckpt {
    cJSON *hdr;
    unsigned char *payload;
    size_t payload_bytes;
} craft_ckpt;

static inline uint64_t craft_le_(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline void craft_put_le_(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* 0 on success; the checkpoint must be one the library wrote. */
static inline int craft_read(const char *path, craft_ckpt *c)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = n > 36 ? malloc((size_t)n) : NULL;
    int ok = d && fread(d, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        free(d);
        return -1;
    }
    size_t json_len = (size_t)craft_le_(d + 12, 4), off = (size_t)craft_le_(d + 16, 8);
    c->hdr = cJSON_ParseWithLength((const char *)d + 32, json_len);
    c->payload_bytes = (size_t)n - 4 - off;
    c->payload = malloc(c->payload_bytes + 1);
    if (c->payload)
        memcpy(c->payload, d + off, c->payload_bytes);
    free(d);
    return c->hdr && c->payload ? 0 : -1;
}

/* Writes header text + payload framed as the library does, the payload offset moved by misalign
 * bytes past its 64-byte boundary (0 for a well-formed file). Text form, so a test can put in
 * numbers cJSON would never print (1e999). 0 on success. */
static inline int craft_write_json(const char *path, const char *json, const unsigned char *payload,
                                   size_t payload_bytes, size_t misalign)
{
    size_t json_len = strlen(json);
    size_t off = (32 + json_len + 63) / 64 * 64 + misalign;
    size_t size = off + payload_bytes + 4;
    unsigned char *d = calloc(1, size);
    if (!d)
        return -1;
    memcpy(d, "FERMODEL", 8);
    craft_put_le_(d + 8, 1, 4);
    craft_put_le_(d + 12, json_len, 4);
    craft_put_le_(d + 16, off, 8);
    craft_put_le_(d + 24, size, 8);
    memcpy(d + 32, json, json_len);
    memset(d + 32 + json_len, ' ', off - 32 - json_len);
    memcpy(d + off, payload, payload_bytes);
    craft_put_le_(d + size - 4, fer_crc32(0, d, size - 4), 4);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(d, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = 0;
    free(d);
    return ok ? 0 : -1;
}

/* craft_write_json with the header printed from c->hdr. */
static inline int craft_write(const char *path, const craft_ckpt *c, size_t misalign)
{
    char *json = cJSON_PrintUnformatted(c->hdr);
    if (!json)
        return -1;
    int rc = craft_write_json(path, json, c->payload, c->payload_bytes, misalign);
    free(json);
    return rc;
}

static inline void craft_free(craft_ckpt *c)
{
    cJSON_Delete(c->hdr);
    free(c->payload);
    memset(c, 0, sizeof *c);
}
#endif
