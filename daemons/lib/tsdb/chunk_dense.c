/*
 * lgtm's dense chunk encoding for blocks (--storage.tsdb.block-encoding=dense). Not a
 * Prometheus format: promtool and Prometheus cannot read these chunks.
 *
 * Most metric values are decimals in disguise: counters of hundredths of a second,
 * integer byte counts, page-sized gauges, loads with two decimals. XOR compression
 * sees their binary fractions as noise; as integers scaled by a power of ten they
 * are small, slowly changing numbers. A chunk is stored densely when every value v
 * is m / 10^k with one k for the chunk and |m| < 2^53, checked bit for bit when
 * encoding: decoding computes (double)m / 10^k, a correctly rounded division of two
 * exact numbers, which is the value we checked. Anything else (NaN, stale markers,
 * infinities, -0, full-precision floats) stays an XOR chunk, as does a chunk the
 * dense form would not make smaller. Lossless either way.
 *
 * Layout (after the segment's encoding byte):
 *   uvarint n | varint t0 | [n >= 2] uvarint t1 - t0 | [n >= 3] FOR(n - 2 dods)
 *   u8 k | u8 mode | mode 0: FOR(n values) | mode 1: varint m0, FOR(n - 1 deltas)
 *                  | mode 2: varint m0, [n >= 2] varint d1, FOR(n - 2 dods)
 * FOR (frame of reference): varint min | u8 width | [width > 0: uvarint step] | each
 * value as (value - min) / step in `width` bits, packed least significant bit first,
 * padded to a byte; step is the greatest common divisor of the values above min, so
 * page-sized gauges and round numbers pack small. Regular scrapes make the timestamp
 * dods all equal (width 0: no bits at all); counters and gauges take whichever of
 * raw, delta or delta-of-delta packs smallest.
 *
 * The iterator decodes sample by sample (a corrupt count cannot make it allocate),
 * after checking once that the packed sections fit in the chunk.
 */
#include <endian.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

#define MAX_K 18            /* 10^18 < 2^63; 10^k is exact in a double up to 10^22 */
#define EXACT (1LL << 53)   /* |m| below this is exact in a double */
#define MAX_N 65535u        /* as an XOR chunk's count */

static const double ten_to[MAX_K + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

int tsdb_parse_dense(const char *s)
{
	if (!strcmp(s, "prometheus"))
		return 0;
	return strcmp(s, "dense") ? -1 : 1;
}

/* --- encoding ------------------------------------------------------------------------- */

/* v as m / 10^k with the smallest k; false when there is none. */
static bool decimal_of(double v, int64_t *m, int *k)
{
	uint64_t bits = tsdb_f2b(v);

	if (!isfinite(v))
		return false;
	for (int i = 0; i <= MAX_K; i++) {
		double x = v * ten_to[i];
		int64_t mm;

		if (!(fabs(x) < (double)EXACT))
			return false;
		mm = llround(x);
		if (tsdb_f2b((double)mm / ten_to[i]) == bits) {
			*m = mm;
			*k = i;
			return true;
		}
	}
	return false;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int bits_for(uint64_t r)
{
	return r ? 64 - __builtin_clzll(r) : 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t r = a % b;

		a = b;
		b = r;
	}
	return a;
}

struct for_hdr {
	int64_t min;
	uint64_t mult; /* the values' common step above min (0: all equal) */
	int width;
};

/* Plan FOR(x[0..n)): bytes it takes (max - min always fits uint64). */
static size_t for_plan(const int64_t *x, size_t n, struct for_hdr *f)
{
	int64_t lo = n ? x[0] : 0, hi = lo;
	uint64_t g = 0;

	for (size_t i = 1; i < n; i++) {
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
	}
	for (size_t i = 0; i < n && g != 1; i++)
		g = gcd((uint64_t)x[i] - (uint64_t)lo, g);
	f->min = lo;
	f->mult = g;
	f->width = g ? bits_for(((uint64_t)hi - (uint64_t)lo) / g) : 0;
	return tsdb_uvarint_len(zigzag(lo)) + 1 + (f->width ? tsdb_uvarint_len(g) : 0) +
	       (n * (size_t)f->width + 7) / 8;
}

/* Bits packed least significant first through a 64-bit accumulator. */
struct packer {
	struct buf *b;
	uint64_t acc;
	unsigned have; /* bits in acc, < 64 */
};

static void emit(struct packer *p, unsigned bytes)
{
	for (unsigned k = 0; k < bytes; k++)
		buf_putc(p->b, (char)(p->acc >> (8 * k)));
}

static void pack(struct packer *p, uint64_t u, unsigned w)
{
	unsigned used;

	if (w == 0)
		return;
	if (w < 64)
		u &= (1ULL << w) - 1;
	p->acc |= u << p->have;
	if (p->have + w < 64) {
		p->have += w;
		return;
	}
	emit(p, 8);
	used = 64 - p->have; /* bits of u that went out, 1..64 */
	p->acc = used < 64 ? u >> used : 0;
	p->have = p->have + w - 64;
}

static void put_for(struct buf *b, const int64_t *x, size_t n)
{
	struct packer pk = { .b = b };
	struct for_hdr f;

	for_plan(x, n, &f);
	tsdb_put_varint(b, f.min);
	buf_putc(b, (char)f.width);
	if (f.width == 0)
		return;
	tsdb_put_uvarint(b, f.mult);
	for (size_t i = 0; i < n; i++)
		pack(&pk, ((uint64_t)x[i] - (uint64_t)f.min) / f.mult, (unsigned)f.width);
	emit(&pk, (pk.have + 7) / 8);
}

/* x[i] - x[i - 1] for i >= 1 into d[0..n-1); false on overflow. */
static bool deltas(const int64_t *x, size_t n, int64_t *d)
{
	for (size_t i = 1; i < n; i++)
		if (__builtin_sub_overflow(x[i], x[i - 1], &d[i - 1]))
			return false;
	return true;
}

struct dense_in {
	size_t n;
	const int64_t *t;
	int64_t *m, *d, *dd; /* mantissas, scratch */
	int *ks;
	int k;
};

/* The mantissas at one common k; false when a value is not such a decimal. */
static bool to_decimal(struct dense_in *in, const double *v)
{
	in->k = 0;
	for (size_t i = 0; i < in->n; i++) {
		if (!decimal_of(v[i], &in->m[i], &in->ks[i]))
			return false;
		in->k = in->ks[i] > in->k ? in->ks[i] : in->k;
	}
	for (size_t i = 0; i < in->n; i++) {
		int64_t s = (int64_t)ten_to[in->k - in->ks[i]];

		if (__builtin_mul_overflow(in->m[i], s, &in->m[i]) || in->m[i] >= EXACT ||
		    in->m[i] <= -EXACT ||
		    tsdb_f2b((double)in->m[i] / ten_to[in->k]) != tsdb_f2b(v[i]))
			return false;
	}
	return true;
}

/* Timestamps: t0, t1 - t0, then the dods packed. */
static bool put_times(struct buf *b, struct dense_in *in)
{
	size_t n = in->n;

	tsdb_put_varint(b, in->t[0]);
	if (n < 2)
		return true;
	if (!deltas(in->t, n, in->d) || in->d[0] <= 0)
		return false;
	tsdb_put_uvarint(b, (uint64_t)in->d[0]);
	if (n < 3)
		return true;
	if (!deltas(in->d, n - 1, in->dd))
		return false;
	put_for(b, in->dd, n - 2);
	return true;
}

/* Values: whichever of raw, deltas, dods packs smallest. */
static bool put_values(struct buf *b, struct dense_in *in)
{
	size_t n = in->n, s0, s1 = SIZE_MAX, s2 = SIZE_MAX;
	struct for_hdr f;

	s0 = for_plan(in->m, n, &f);
	if (n >= 2 && deltas(in->m, n, in->d)) {
		size_t m0 = tsdb_uvarint_len(zigzag(in->m[0]));

		s1 = m0 + for_plan(in->d, n - 1, &f);
		if (n >= 3 && deltas(in->d, n - 1, in->dd))
			s2 = m0 + tsdb_uvarint_len(zigzag(in->d[0])) + for_plan(in->dd, n - 2, &f);
	}
	buf_putc(b, (char)in->k);
	if (s0 <= s1 && s0 <= s2) {
		buf_putc(b, 0);
		put_for(b, in->m, n);
	} else if (s1 <= s2) {
		buf_putc(b, 1);
		tsdb_put_varint(b, in->m[0]);
		put_for(b, in->d, n - 1);
	} else {
		buf_putc(b, 2);
		tsdb_put_varint(b, in->m[0]);
		tsdb_put_varint(b, in->d[0]);
		put_for(b, in->dd, n - 2);
	}
	return true;
}

int tsdb_dense_encode(const int64_t *t, const double *v, size_t n, size_t limit,
		      struct buf *out)
{
	struct dense_in in = { .n = n, .t = t };
	size_t start = out->len;
	int rc = -1;

	if (n == 0 || n > MAX_N)
		return 0;
	in.m = malloc(n * sizeof(*in.m));
	in.d = malloc(n * sizeof(*in.d));
	in.dd = malloc(n * sizeof(*in.dd));
	in.ks = malloc(n * sizeof(*in.ks));
	if (!in.m || !in.d || !in.dd || !in.ks)
		goto out;
	rc = 0;
	if (!to_decimal(&in, v))
		goto out;
	tsdb_put_uvarint(out, n);
	if (!put_times(out, &in) || !put_values(out, &in) || out->oom ||
	    out->len - start >= limit) {
		rc = out->oom ? -1 : 0;
		out->len = start;
		out->oom = false;
		goto out;
	}
	rc = 1;
out:
	free(in.m);
	free(in.d);
	free(in.dd);
	free(in.ks);
	return rc;
}

int tsdb_dense_from_xor(const uint8_t *chunk, size_t len, struct buf *out)
{
	struct tsdb_xor_iter it;
	int64_t *t = NULL;
	double *v = NULL;
	size_t n = tsdb_xor_samples(chunk, len), got = 0;
	int rc = -1;

	if (n == 0)
		return 0;
	t = malloc(n * sizeof(*t));
	v = malloc(n * sizeof(*v));
	if (!t || !v)
		goto out;
	tsdb_xor_iter_init(&it, chunk, len);
	while (got < n && tsdb_xor_iter_next(&it)) {
		tsdb_xor_iter_at(&it, &t[got], &v[got]);
		got++;
	}
	if (it.corrupt || got != n)
		goto out;
	rc = tsdb_dense_encode(t, v, n, len, out);
out:
	free(t);
	free(v);
	return rc;
}

/* --- decoding ------------------------------------------------------------------------- */

/* Read a FOR header and check its packed bits fit; the reader is left on the bits. */
static bool for_open(struct tsdb_dec *d, size_t count, struct tsdb_for *f)
{
	f->min = tsdb_dec_varint(d);
	f->width = tsdb_dec_byte(d);
	f->mult = f->width ? tsdb_dec_uvarint(d) : 0;
	if (d->bad || f->width > 64 || (f->width && f->mult == 0))
		return false;
	f->p = d->p;
	if ((uint64_t)count * f->width > (uint64_t)(d->end - d->p) * 8)
		return false;
	f->nbytes = (count * f->width + 7) / 8;
	d->p += f->nbytes;
	f->pos = 0;
	return true;
}

static int64_t for_next(struct tsdb_for *f)
{
	uint64_t u = 0;
	unsigned got = 0, w = f->width;
	size_t at = f->pos >> 3;

	/* Common case: one unaligned little-endian load holds the whole value. */
	if (w <= 56 && at + 8 <= f->nbytes) {
		memcpy(&u, f->p + at, sizeof(u));
		u = le64toh(u) >> (f->pos & 7);
		f->pos += w;
		u &= w ? ~0ULL >> (64 - w) : 0;
		return (int64_t)((uint64_t)f->min + f->mult * u);
	}
	while (got < w) {
		size_t byte = f->pos >> 3;
		unsigned off = f->pos & 7, take = 8 - off;

		if (take > w - got)
			take = w - got;
		u |= (uint64_t)((f->p[byte] >> off) & ((1u << take) - 1)) << got;
		got += take;
		f->pos += take;
	}
	return (int64_t)((uint64_t)f->min + f->mult * u);
}

uint16_t tsdb_dense_samples(const uint8_t *chunk, size_t len)
{
	struct tsdb_dec d = { chunk, chunk + len, false };
	uint64_t n = tsdb_dec_uvarint(&d);

	return d.bad || n > MAX_N ? 0 : (uint16_t)n;
}

void tsdb_dense_iter_init(struct tsdb_dense_iter *it, const uint8_t *chunk, size_t len)
{
	struct tsdb_dec d = { chunk, chunk + len, false };
	uint64_t n = tsdb_dec_uvarint(&d);

	memset(it, 0, sizeof(*it));
	if (d.bad || n == 0 || n > MAX_N)
		goto bad;
	it->total = (uint32_t)n;
	it->t = tsdb_dec_varint(&d);
	if (n >= 2)
		it->dt = (int64_t)tsdb_dec_uvarint(&d);
	if (n >= 3 && !for_open(&d, n - 2, &it->tf))
		goto bad;
	it->k = tsdb_dec_byte(&d);
	it->mode = tsdb_dec_byte(&d);
	if (d.bad || it->k > MAX_K || it->mode > 2)
		goto bad;
	if (it->mode == 0) {
		if (!for_open(&d, n, &it->vf))
			goto bad;
	} else {
		it->m = tsdb_dec_varint(&d);
		if (it->mode == 2 && n >= 2)
			it->dm = tsdb_dec_varint(&d);
		if (n > it->mode && !for_open(&d, n - it->mode, &it->vf))
			goto bad;
	}
	if (d.bad)
		goto bad;
	return;
bad:
	it->total = 0;
	it->corrupt = true;
}

bool tsdb_dense_iter_next(struct tsdb_dense_iter *it)
{
	uint32_t i = it->read;

	if (it->corrupt || i >= it->total)
		return false;
	/* Timestamps: t0 as read, then t1 = t0 + dt, then dt grows by each dod. */
	if (i == 1)
		it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->dt);
	else if (i >= 2) {
		it->dt = (int64_t)((uint64_t)it->dt + (uint64_t)for_next(&it->tf));
		it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->dt);
	}
	switch (it->mode) {
	case 0:
		it->m = for_next(&it->vf);
		break;
	case 1:
		if (i >= 1)
			it->m = (int64_t)((uint64_t)it->m + (uint64_t)for_next(&it->vf));
		break;
	default:
		if (i >= 2)
			it->dm = (int64_t)((uint64_t)it->dm + (uint64_t)for_next(&it->vf));
		if (i >= 1)
			it->m = (int64_t)((uint64_t)it->m + (uint64_t)it->dm);
		break;
	}
	it->read++;
	return true;
}

bool tsdb_dense_iter_seek(struct tsdb_dense_iter *it, int64_t t)
{
	while (it->read == 0 || it->t < t)
		if (!tsdb_dense_iter_next(it))
			return false;
	return true;
}

void tsdb_dense_iter_at(const struct tsdb_dense_iter *it, int64_t *t, double *v)
{
	*t = it->t;
	*v = (double)it->m / ten_to[it->k];
}
