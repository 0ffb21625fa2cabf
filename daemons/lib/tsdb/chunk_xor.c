/*
 * XOR chunks in Prometheus' chunkenc format (Gorilla compression adapted to
 * milliseconds), written bit for bit as Prometheus writes them so our blocks and
 * remote-read responses are interchangeable with upstream's.
 *
 * Layout: a 2-byte big-endian sample count, then a bit stream written most significant
 * bit first: sample 0 is a zigzag varint timestamp and the raw 64-bit value; sample 1
 * is the uvarint timestamp delta and an XOR'd value; later samples carry the delta of
 * the delta in one of five buckets ('0', '10'+14 bits, '110'+17, '1110'+20, '1111'+64)
 * and an XOR'd value: '0' when unchanged, '10' + the significant bits when they fit in
 * the previous leading/trailing-zero window, else '11' + 5 bits of leading zeros
 * (capped at 31) + 6 bits of significant-bit count (64 written as 0) + the bits.
 *
 * The buffer always holds a complete chunk: every append rewrites the header after
 * the bits are in place, so a copy taken between appends is readable. Arithmetic on
 * timestamps is done in uint64 so wrap-around matches Go's int64 arithmetic.
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

#define HEADER 2
#define MAX_SAMPLE_BYTES 24 /* worst case: 4+64 bits of dod, 2+5+6+64 bits of value */
#define NO_WINDOW 0xff

double tsdb_stale_nan(void)
{
	return tsdb_b2f(TSDB_STALE_NAN_BITS);
}

uint16_t tsdb_xor_samples(const uint8_t *chunk, size_t len)
{
	if (len < HEADER)
		return 0;
	return (uint16_t)(chunk[0] << 8 | chunk[1]);
}

/* --- writing ------------------------------------------------------------------------ */

void tsdb_xor_appender_init(struct tsdb_xor_appender *a)
{
	memset(a, 0, sizeof(*a));
	a->leading = NO_WINDOW;
}

void tsdb_xor_appender_free(struct tsdb_xor_appender *a)
{
	free(a->buf);
	tsdb_xor_appender_init(a);
}

uint16_t tsdb_xor_appender_samples(const struct tsdb_xor_appender *a)
{
	return a->n;
}

/* Grow for one more sample. The first allocation is small on purpose: most series in
 * a head hold one open chunk, and most chunks never reach their last sample's size.
 * Past 64 bytes it grows by 64 bytes at a time: as many steps as growing by a
 * quarter up to a full chunk of ~1 KB, with less than 64 bytes of unused capacity per
 * open chunk (a quarter wastes up to 20 %, most of it when a head's chunks are
 * fullest); malloc's own rounding is taken as capacity too. */
static int reserve(struct tsdb_xor_appender *a)
{
	uint32_t need = a->len + MAX_SAMPLE_BYTES, cap;
	uint8_t *nb;

	if (a->buf && need <= a->cap)
		return 0;
	cap = a->cap ? a->cap : 8;
	while (cap < need)
		cap = cap < 64 ? cap * 2 : cap + 64;
	nb = realloc(a->buf, cap);
	if (!nb)
		return -1;
	cap = (uint32_t)malloc_usable_size(nb) > cap ? (uint32_t)malloc_usable_size(nb) : cap;
	if (!a->buf) {
		nb[0] = nb[1] = 0;
		a->len = HEADER;
		a->bits_free = 0;
	}
	a->buf = nb;
	a->cap = cap;
	return 0;
}

/* Write the low `n` bits of u (n <= 64), most significant first. */
static void put_bits(struct tsdb_xor_appender *a, uint64_t u, unsigned n)
{
	while (n > 0) {
		unsigned take;

		if (a->bits_free == 0) {
			a->buf[a->len++] = 0;
			a->bits_free = 8;
		}
		take = n < a->bits_free ? n : a->bits_free;
		a->buf[a->len - 1] |= (uint8_t)(((u >> (n - take)) & ((1u << take) - 1))
						<< (a->bits_free - take));
		a->bits_free -= take;
		n -= take;
	}
}

static void put_uvarint(struct tsdb_xor_appender *a, uint64_t x)
{
	while (x >= 0x80) {
		put_bits(a, (x & 0x7f) | 0x80, 8);
		x >>= 7;
	}
	put_bits(a, x, 8);
}

static void put_varint(struct tsdb_xor_appender *a, int64_t x)
{
	uint64_t ux = (uint64_t)x << 1;

	if (x < 0)
		ux = ~ux;
	put_uvarint(a, ux);
}

/* -(2^(n-1) - 1) <= x <= 2^(n-1): the range Prometheus packs into n bits. */
static bool in_bits(int64_t x, unsigned n)
{
	int64_t lim = (int64_t)1 << (n - 1);

	return x >= -(lim - 1) && x <= lim;
}

static void put_value(struct tsdb_xor_appender *a, uint64_t vbits)
{
	uint64_t delta = vbits ^ a->vbits;
	unsigned lead, trail, sig;

	if (delta == 0) {
		put_bits(a, 0, 1);
		return;
	}
	put_bits(a, 1, 1);
	lead = (unsigned)__builtin_clzll(delta);
	trail = (unsigned)__builtin_ctzll(delta);
	if (lead >= 32)
		lead = 31;
	if (a->leading != NO_WINDOW && lead >= a->leading && trail >= a->trailing) {
		put_bits(a, 0, 1);
		put_bits(a, delta >> a->trailing, 64 - a->leading - a->trailing);
		return;
	}
	a->leading = (uint8_t)lead;
	a->trailing = (uint8_t)trail;
	sig = 64 - lead - trail;
	put_bits(a, 1, 1);
	put_bits(a, lead, 5);
	put_bits(a, sig & 63, 6); /* 64 does not fit: it is written as 0 */
	put_bits(a, delta >> trail, sig);
}

static void put_dod(struct tsdb_xor_appender *a, int64_t dod)
{
	if (dod == 0) {
		put_bits(a, 0, 1);
	} else if (in_bits(dod, 14)) {
		put_bits(a, 0x2, 2);
		put_bits(a, (uint64_t)dod, 14);
	} else if (in_bits(dod, 17)) {
		put_bits(a, 0x6, 3);
		put_bits(a, (uint64_t)dod, 17);
	} else if (in_bits(dod, 20)) {
		put_bits(a, 0xe, 4);
		put_bits(a, (uint64_t)dod, 20);
	} else {
		put_bits(a, 0xf, 4);
		put_bits(a, (uint64_t)dod, 64);
	}
}

int tsdb_xor_append(struct tsdb_xor_appender *a, int64_t t, double v, char *err,
		    size_t errlen)
{
	uint16_t n = a->n;
	uint64_t vb = tsdb_f2b(v), tdelta = 0;

	if (n >= TSDB_XOR_MAX_SAMPLES) {
		snprintf(err, errlen, "chunk full (%d samples)", TSDB_XOR_MAX_SAMPLES);
		return TSDB_EFAIL;
	}
	if (n > 0 && t < a->t) {
		snprintf(err, errlen, "out of order sample");
		return TSDB_EOUT_OF_ORDER;
	}
	if (n > 0 && t == a->t) {
		snprintf(err, errlen, "duplicate sample for timestamp");
		return TSDB_EDUPLICATE;
	}
	if (reserve(a) < 0) {
		snprintf(err, errlen, "out of memory");
		return TSDB_EFAIL;
	}
	if (n == 0) {
		put_varint(a, t);
		put_bits(a, vb, 64);
	} else if (n == 1) {
		tdelta = (uint64_t)t - (uint64_t)a->t;
		put_uvarint(a, tdelta);
		put_value(a, vb);
	} else {
		tdelta = (uint64_t)t - (uint64_t)a->t;
		put_dod(a, (int64_t)(tdelta - a->tdelta));
		put_value(a, vb);
	}
	a->t = t;
	a->vbits = vb;
	a->tdelta = tdelta;
	a->n = ++n;
	if (a->base == 0)
		tsdb_xor_put_header(a->buf, n);
	return 0;
}

void tsdb_xor_put_header(uint8_t *chunk, uint16_t n)
{
	chunk[0] = (uint8_t)(n >> 8);
	chunk[1] = (uint8_t)n;
}

void tsdb_xor_appender_restart(struct tsdb_xor_appender *a)
{
	uint8_t *b = a->buf;
	uint32_t cap = a->cap;

	tsdb_xor_appender_init(a);
	if (!b)
		return;
	a->buf = b;
	a->cap = cap;
	tsdb_xor_put_header(b, 0);
	a->len = HEADER;
}

bool tsdb_xor_appender_full(const struct tsdb_xor_appender *a)
{
	return !a->buf || a->len + MAX_SAMPLE_BYTES > a->cap;
}

uint32_t tsdb_xor_appender_settled(const struct tsdb_xor_appender *a)
{
	return a->bits_free ? a->len - 1 : a->len;
}

void tsdb_xor_appender_shed(struct tsdb_xor_appender *a, uint8_t *dst)
{
	uint32_t k = tsdb_xor_appender_settled(a);

	memcpy(dst, a->buf, k);
	memmove(a->buf, a->buf + k, a->len - k);
	a->len -= k;
	a->base = (uint16_t)(a->base + k);
}

uint8_t *tsdb_xor_appender_finish(struct tsdb_xor_appender *a, size_t *len)
{
	uint8_t *b = a->buf, *shrunk;

	if (!b) {
		b = calloc(1, HEADER);
		*len = b ? HEADER : 0;
		return b;
	}
	*len = a->len;
	shrunk = realloc(b, a->len);
	tsdb_xor_appender_init(a);
	return shrunk ? shrunk : b;
}

int tsdb_xor_appender_resume(struct tsdb_xor_appender *a, const uint8_t *chunk, size_t len,
			     char *err, size_t errlen)
{
	struct tsdb_xor_iter it;
	int rc;

	tsdb_xor_appender_init(a);
	tsdb_xor_iter_init(&it, chunk, len);
	while (tsdb_xor_iter_next(&it))
		;
	rc = tsdb_xor_iter_err(&it, err, errlen);
	if (rc < 0)
		return rc;
	if (len < HEADER) {
		snprintf(err, errlen, "chunk too short");
		return TSDB_EFAIL;
	}
	a->cap = (uint32_t)len + MAX_SAMPLE_BYTES;
	a->buf = malloc(a->cap);
	if (!a->buf) {
		snprintf(err, errlen, "out of memory");
		return TSDB_EFAIL;
	}
	/* Only the bits the samples used count: a chunk may carry trailing padding. */
	a->len = (uint32_t)(HEADER + (it.pos + 7) / 8);
	memcpy(a->buf, chunk, a->len);
	a->bits_free = (uint8_t)((8 - it.pos % 8) % 8);
	if (a->bits_free)
		a->buf[a->len - 1] &= (uint8_t)(0xff << a->bits_free);
	a->n = it.total;
	a->t = it.t;
	a->vbits = it.vbits;
	a->tdelta = it.tdelta;
	/* Prometheus seeds the appender from the iterator, whose window starts at 0/0;
	 * only an empty chunk starts without a window. Matching that keeps appends to a
	 * resumed chunk byte-identical to upstream's. */
	a->leading = it.total == 0 ? NO_WINDOW : it.leading;
	a->trailing = it.trailing;
	return 0;
}

/* --- reading ------------------------------------------------------------------------ */

void tsdb_xor_iter_init(struct tsdb_xor_iter *it, const uint8_t *chunk, size_t len)
{
	memset(it, 0, sizeof(*it));
	if (len < HEADER) {
		it->corrupt = len != 0;
		return;
	}
	it->b = chunk + HEADER;
	it->nbits = (len - HEADER) * 8;
	it->total = tsdb_xor_samples(chunk, len);
}

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

static bool get_bits(struct tsdb_xor_iter *it, unsigned n, uint64_t *out)
{
	size_t byte = it->pos >> 3;
	unsigned off = it->pos & 7;
	uint64_t v = 0;

	if (n == 0) {
		*out = 0;
		return true;
	}
	if (it->pos + n > it->nbits) {
		it->corrupt = true;
		return false;
	}
	if (n <= 56 && byte + 8 <= it->nbits / 8) {
		*out = (load_be64(it->b + byte) << off) >> (64 - n);
		it->pos += n;
		return true;
	}
	while (n > 0) {
		unsigned avail = 8 - off, take = n < avail ? n : avail;

		v = (v << take) | ((it->b[byte] >> (avail - take)) & ((1u << take) - 1));
		n -= take;
		it->pos += take;
		byte++;
		off = 0;
	}
	*out = v;
	return true;
}

static bool get_uvarint(struct tsdb_xor_iter *it, uint64_t *out)
{
	uint64_t x = 0, byte;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (!get_bits(it, 8, &byte))
			return false;
		if (shift == 63 && byte > 1)
			break; /* overflows 64 bits */
		x |= (byte & 0x7f) << shift;
		if (byte < 0x80) {
			*out = x;
			return true;
		}
	}
	it->corrupt = true;
	return false;
}

/*
 * The next bits without consuming them, left-aligned: at least 57 valid bits when
 * true. Control prefixes (a value's 1-2 bits plus a new window's 11, a timestamp's
 * up to 4 ones, its 0 and up to 20 payload bits) are decoded from one such load
 * instead of bit by bit; near the chunk's end the bit-by-bit path below takes over.
 */
static bool peek57(const struct tsdb_xor_iter *it, uint64_t *w)
{
	size_t byte = it->pos >> 3;

	if (byte + 8 > it->nbits / 8)
		return false;
	*w = load_be64(it->b + byte) << (it->pos & 7);
	return true;
}

/* A new window of meaningful bits: 5 bits of leading zeros, 6 bits of length (0 = 64). */
static bool set_window(struct tsdb_xor_iter *it, uint64_t lead, uint64_t mbits)
{
	if (mbits == 0)
		mbits = 64;
	if (lead + mbits > 64) {
		it->corrupt = true;
		return false;
	}
	it->leading = (uint8_t)lead;
	it->trailing = (uint8_t)(64 - lead - mbits);
	return true;
}

static bool get_value(struct tsdb_xor_iter *it)
{
	uint64_t bit, bits, w;
	unsigned sig;

	if (peek57(it, &w)) {
		if (!(w >> 63)) {
			it->pos += 1;
			return true;
		}
		if (!((w >> 62) & 1)) {
			it->pos += 2;
		} else {
			it->pos += 13;
			if (!set_window(it, (w >> 57) & 31, (w >> 51) & 63))
				return false;
		}
		goto payload;
	}
	if (!get_bits(it, 1, &bit))
		return false;
	if (bit == 0)
		return true;
	if (!get_bits(it, 1, &bit))
		return false;
	if (bit == 1) {
		uint64_t lead, mbits;

		if (!get_bits(it, 5, &lead) || !get_bits(it, 6, &mbits) ||
		    !set_window(it, lead, mbits))
			return false;
	}
payload:
	sig = 64u - it->leading - it->trailing;
	if (!get_bits(it, sig, &bits))
		return false;
	it->vbits ^= it->trailing < 64 ? bits << it->trailing : 0;
	return true;
}

static bool get_dod(struct tsdb_xor_iter *it, int64_t *dod)
{
	static const unsigned size[] = { 0, 14, 17, 20 };
	uint64_t bit, bits, w;
	unsigned ones = 0, sz;

	if (peek57(it, &w)) {
		ones = (unsigned)__builtin_clzll(~w | (1ULL << 59)); /* leading ones, at most 4 */
		if (ones < 4) {
			sz = size[ones];
			it->pos += ones + 1;
			if (sz == 0) {
				*dod = 0;
				return true;
			}
			bits = (w << (ones + 1)) >> (64 - sz);
			it->pos += sz;
			if (bits > (1ULL << (sz - 1)))
				bits -= 1ULL << sz;
			*dod = (int64_t)bits;
			return true;
		}
		it->pos += 4;
		if (!get_bits(it, 64, &bits))
			return false;
		*dod = (int64_t)bits;
		return true;
	}
	while (ones < 4) {
		if (!get_bits(it, 1, &bit))
			return false;
		if (bit == 0)
			break;
		ones++;
	}
	if (ones == 4) {
		if (!get_bits(it, 64, &bits))
			return false;
		*dod = (int64_t)bits;
		return true;
	}
	sz = size[ones];
	if (sz == 0) {
		*dod = 0;
		return true;
	}
	if (!get_bits(it, sz, &bits))
		return false;
	if (bits > (1ULL << (sz - 1)))
		bits -= 1ULL << sz; /* negative: two's complement in sz bits */
	*dod = (int64_t)bits;
	return true;
}

bool tsdb_xor_iter_next(struct tsdb_xor_iter *it)
{
	uint64_t u;

	if (it->corrupt || it->read >= it->total)
		return false;
	if (it->read == 0) {
		if (!get_uvarint(it, &u))
			return false;
		it->t = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
		if (!get_bits(it, 64, &it->vbits))
			return false;
	} else if (it->read == 1) {
		if (!get_uvarint(it, &it->tdelta))
			return false;
		it->t = (int64_t)((uint64_t)it->t + it->tdelta);
		if (!get_value(it))
			return false;
	} else {
		int64_t dod;

		if (!get_dod(it, &dod))
			return false;
		it->tdelta += (uint64_t)dod;
		it->t = (int64_t)((uint64_t)it->t + it->tdelta);
		if (!get_value(it))
			return false;
	}
	it->read++;
	return true;
}

size_t tsdb_xor_iter_fill(struct tsdb_xor_iter *it, int64_t tstop, struct tsdb_sample *out,
			  size_t cap, bool *stopped)
{
	size_t n = 0;

	*stopped = false;
	while (n < cap && tsdb_xor_iter_next(it)) {
		if (it->t >= tstop) {
			*stopped = true;
			break;
		}
		out[n].t = it->t;
		out[n].v = tsdb_b2f(it->vbits);
		n++;
	}
	return n;
}

bool tsdb_xor_iter_seek(struct tsdb_xor_iter *it, int64_t t)
{
	while (it->read == 0 || it->t < t)
		if (!tsdb_xor_iter_next(it))
			return false;
	return true;
}

void tsdb_xor_iter_at(const struct tsdb_xor_iter *it, int64_t *t, double *v)
{
	*t = it->t;
	*v = tsdb_b2f(it->vbits);
}

int tsdb_xor_iter_err(const struct tsdb_xor_iter *it, char *err, size_t errlen)
{
	if (!it->corrupt)
		return 0;
	snprintf(err, errlen, "corrupt XOR chunk: stream ends or is malformed after %u of %u samples",
		 it->read, it->total);
	return TSDB_EFAIL;
}
