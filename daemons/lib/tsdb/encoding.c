/*
 * The byte encodings Prometheus' on-disk formats share (its tsdb/encoding package):
 * big-endian fixed-width integers, Go varints (LEB128; signed ones zigzag-encoded)
 * and uvarint-prefixed strings. Writers append to a struct buf (its sticky oom is
 * checked once by the caller); the reader is a cursor that turns every overrun or
 * malformed varint into a sticky `bad` flag, so parsers of untrusted files check once
 * per record instead of after every field.
 */
#include <string.h>

#include "tsdb/internal.h"

void tsdb_put_be32(struct buf *b, uint32_t v)
{
	unsigned char s[4] = { v >> 24, v >> 16, v >> 8, v };

	buf_append(b, s, 4);
}

void tsdb_put_be64(struct buf *b, uint64_t v)
{
	tsdb_put_be32(b, (uint32_t)(v >> 32));
	tsdb_put_be32(b, (uint32_t)v);
}

void tsdb_put_uvarint(struct buf *b, uint64_t v)
{
	unsigned char s[10];
	size_t n = 0;

	while (v >= 0x80) {
		s[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	s[n++] = (unsigned char)v;
	buf_append(b, s, n);
}

void tsdb_put_varint(struct buf *b, int64_t v)
{
	tsdb_put_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void tsdb_put_uvarint_str(struct buf *b, const char *s, size_t n)
{
	tsdb_put_uvarint(b, n);
	buf_append(b, s, n);
}

size_t tsdb_uvarint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

uint32_t tsdb_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t tsdb_be64(const uint8_t *p)
{
	return (uint64_t)tsdb_be32(p) << 32 | tsdb_be32(p + 4);
}

static bool need(struct tsdb_dec *d, size_t n)
{
	if (d->bad || (size_t)(d->end - d->p) < n) {
		d->bad = true;
		return false;
	}
	return true;
}

uint64_t tsdb_dec_uvarint(struct tsdb_dec *d)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		uint8_t c;

		if (!need(d, 1))
			return 0;
		c = *d->p++;
		if (shift == 63 && c > 1)
			break;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	d->bad = true;
	return 0;
}

int64_t tsdb_dec_varint(struct tsdb_dec *d)
{
	uint64_t u = tsdb_dec_uvarint(d);

	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

uint32_t tsdb_dec_be32(struct tsdb_dec *d)
{
	uint32_t v;

	if (!need(d, 4))
		return 0;
	v = tsdb_be32(d->p);
	d->p += 4;
	return v;
}

uint64_t tsdb_dec_be64(struct tsdb_dec *d)
{
	uint64_t v;

	if (!need(d, 8))
		return 0;
	v = tsdb_be64(d->p);
	d->p += 8;
	return v;
}

uint8_t tsdb_dec_byte(struct tsdb_dec *d)
{
	return need(d, 1) ? *d->p++ : 0;
}

const uint8_t *tsdb_dec_bytes(struct tsdb_dec *d, size_t n)
{
	const uint8_t *p = d->p;

	if (!need(d, n))
		return NULL;
	d->p += n;
	return p;
}

const char *tsdb_dec_uvarint_str(struct tsdb_dec *d, size_t *n)
{
	uint64_t len = tsdb_dec_uvarint(d);

	*n = 0;
	if (d->bad || len > (uint64_t)(d->end - d->p)) {
		d->bad = true;
		return NULL;
	}
	*n = (size_t)len;
	return (const char *)tsdb_dec_bytes(d, (size_t)len);
}
