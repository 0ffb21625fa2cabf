/*
 * ULIDs name blocks (github.com/ulid/spec, as Prometheus uses them through
 * oklog/ulid): 48 bits of milliseconds since the epoch, then 80 random bits, written
 * as 26 characters of Crockford's base32, most significant first. The text sorts like
 * the creation time, which is what makes a directory listing chronological.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "tsdb/block.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* The 5-bit group that holds bits [shift, shift + 5) of the 128-bit number hi:lo. */
static unsigned group(uint64_t hi, uint64_t lo, unsigned shift)
{
	uint64_t v;

	if (shift >= 64)
		v = shift >= 128 ? 0 : hi >> (shift - 64);
	else if (shift > 59)
		v = (lo >> shift) | (hi << (64 - shift));
	else
		v = lo >> shift;
	return (unsigned)(v & 31);
}

static int value(char c)
{
	const char *p;

	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

int tsdb_ulid_new(int64_t ms, char out[TSDB_ULID_LEN + 1])
{
	uint8_t r[10];
	uint64_t hi, lo = 0;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	hi = ((uint64_t)ms << 16) | (uint64_t)r[0] << 8 | r[1];
	for (int i = 2; i < 10; i++)
		lo = lo << 8 | r[i];
	for (int i = 0; i < TSDB_ULID_LEN; i++)
		out[i] = alphabet[group(hi, lo, 5u * (TSDB_ULID_LEN - 1 - i))];
	out[TSDB_ULID_LEN] = '\0';
	return 0;
}

bool tsdb_ulid_valid(const char *s)
{
	if (strlen(s) != TSDB_ULID_LEN || value(s[0]) > 7)
		return false;
	for (int i = 0; i < TSDB_ULID_LEN; i++)
		if (value(s[i]) < 0)
			return false;
	return true;
}

int64_t tsdb_ulid_time(const char *s)
{
	uint64_t t = 0;

	if (!tsdb_ulid_valid(s))
		return -1;
	/* The first 10 characters carry 50 bits: the top 2 are zero, the next 48 the time. */
	for (int i = 0; i < 10; i++)
		t = t << 5 | (uint64_t)value(s[i]);
	return (int64_t)t;
}
