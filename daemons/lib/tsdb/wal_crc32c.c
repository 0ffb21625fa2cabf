/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every WAL
 * fragment. x86-64 CPUs since Nehalem compute it in hardware (SSE4.2 `crc32`), which
 * is several times faster than any table; the choice is made once at run time so one
 * binary runs everywhere. The fallback is slicing-by-8: eight 256-entry tables let it
 * consume a 64-bit word per step instead of a byte.
 */
#include "tsdb/wal_internal.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82f63b78u

static uint32_t table[8][256];
static bool use_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Little-endian load whatever the host order; compilers turn it into one mov. */
static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	while (len >= 8) {
		uint64_t w = load_le64(p) ^ crc;

		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
		      table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
		      table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
		      table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = ~crc;

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

uint32_t wal_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&init_once, crc_init);
	return crc_sw(crc, data, len);
}

uint32_t tsdb_wal_crc32c(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&init_once, crc_init);
#if defined(__x86_64__)
	if (use_hw)
		return crc_hw(crc, data, len);
#endif
	return crc_sw(crc, data, len);
}
