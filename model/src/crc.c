/* CRC-32 (IEEE 802.3, reflected 0xEDB88320, as zlib) and CRC-32C (Castagnoli, 0x82F63B78).
 * Table-driven, tables built once on first use (thread-safe via pthread_once). */
#include "fer/crc.h"

#include <pthread.h>

static uint32_t table_ieee[256], table_c[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_table(uint32_t *t, uint32_t poly)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        t[i] = c;
    }
}

static void build_tables(void)
{
    build_table(table_ieee, 0xEDB88320u);
    build_table(table_c, 0x82F63B78u);
}

static uint32_t crc_update(const uint32_t *t, uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = t[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}

uint32_t fer_crc32(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&tables_once, build_tables);
    return crc_update(table_ieee, crc, data, n);
}

uint32_t fer_crc32c(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&tables_once, build_tables);
    return crc_update(table_c, crc, data, n);
}

uint32_t fer_crc32c_masked(const void *data, size_t n)
{
    uint32_t crc = fer_crc32c(0, data, n);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
