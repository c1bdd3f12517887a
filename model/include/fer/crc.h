/* Checksums: CRC-32 (IEEE, as zlib; .fer checkpoints) and CRC-32C (Castagnoli; TensorBoard
 * TFRecord framing). Incremental: start with crc = 0 and feed chunks. */
#ifndef FER_CRC_H
#define FER_CRC_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t fer_crc32(uint32_t crc, const void *data, size_t n);
uint32_t fer_crc32c(uint32_t crc, const void *data, size_t n);
/* TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8 */
uint32_t fer_crc32c_masked(const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
