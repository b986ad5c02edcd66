/* CRC-32C (Castagnoli, the checksum of iSCSI, ext4 and SCTP): the checksum in
 * a tensor stream's end marker (formats/tensor-stream.md). Standard form:
 * reflected polynomial 0x82F63B78, initial and final value inverted, so
 * vk_crc32c(0, "123456789", 9) == 0xE3069283. Streaming: pass the previous
 * result as crc to continue over the next bytes. Uses the CPU's crc32
 * instruction where it has one (SSE4.2: several GB/s), a table elsewhere. */
#ifndef VK_CRC32C_H
#define VK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t vk_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
