#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#define HAVE_X86_CRC 1
#endif

/* Eight tables for slicing-by-8 (8 KiB), and the operator that feeds 256
 * zero bytes through a CRC register (4 KiB: one table per register byte),
 * which joins the CRCs of three interleaved 256-byte runs (as Mark Adler's
 * crc32c.c does): the crc32 instruction takes one cycle a word but three to
 * give its result, so three independent runs go three times as fast. */
enum { RUN = 256 };
static uint32_t table[8][256], zeros[4][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
	uint32_t op[32]; /* 256 zero bytes applied to each single-bit register */
	for (int b = 0; b < 32; b++) {
		uint32_t c = 1u << b;
		for (int k = 0; k < RUN; k++)
			c = (c >> 8) ^ table[0][c & 0xff];
		op[b] = c;
	}
	for (int k = 0; k < 4; k++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t c = 0;
			for (int b = 0; b < 8; b++)
				if (v >> b & 1)
					c ^= op[8 * k + b];
			zeros[k][v] = c;
		}
}

static uint32_t after_zeros(uint32_t c)
{
	return zeros[0][c & 0xff] ^ zeros[1][(c >> 8) & 0xff] ^ zeros[2][(c >> 16) & 0xff] ^
	       zeros[3][c >> 24];
}

static uint32_t crc_table(uint32_t c, const unsigned char *p, size_t n)
{
	for (; n >= 8; n -= 8, p += 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				   (uint32_t)p[3] << 24);
		c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
		    table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
		    table[0][p[7]];
	}
	while (n--)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	return c;
}

#ifdef HAVE_X86_CRC
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const unsigned char *p,
							      size_t n)
{
	for (; n >= 3 * RUN; n -= 3 * RUN, p += 3 * RUN) {
		uint64_t c0 = c, c1 = 0, c2 = 0, v0, v1, v2;
		for (int i = 0; i < RUN; i += 8) {
			memcpy(&v0, p + i, 8);
			memcpy(&v1, p + RUN + i, 8);
			memcpy(&v2, p + 2 * RUN + i, 8);
			c0 = _mm_crc32_u64(c0, v0);
			c1 = _mm_crc32_u64(c1, v1);
			c2 = _mm_crc32_u64(c2, v2);
		}
		/* crc(A B) = crc(A) through |B| zero bytes, xor crc of B from 0. */
		c = after_zeros(after_zeros((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
	}
	uint64_t c64 = c;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8); /* x86 is little-endian, as the CRC's byte order wants */
		c64 = _mm_crc32_u64(c64, v);
	}
	c = (uint32_t)c64;
	while (n--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#endif

uint32_t vk_crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = ~crc;
	pthread_once(&tables_once, make_tables);
#ifdef HAVE_X86_CRC
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc_sse42(c, buf, len);
#endif
	return ~crc_table(c, buf, len);
}
