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
 * Layout written (block encoding byte 0x82, TSDB_ENC_DENSE2), after the segment's
 * encoding byte; t0 and the last timestamp are the chunk's mint and maxt from the
 * index, which the reader is given, so a chunk does not repeat them:
 *   u8 flags: k (bits 0-4) | value mode (bits 5-6) | irregular timestamps (bit 7)
 *   uvarint n
 *   [irregular] [n >= 2] uvarint t1 - t0 | [n >= 3] FOR(n - 2 dods)
 *   [regular: every interval the same] nothing: t_i = mint + i (maxt - mint) / (n - 1)
 *   mode 3 (constant): varint m | mode 0: TB(n values) | mode 1: varint m0, TB(n - 1
 *   deltas) | mode 2: varint m0, [n >= 2] varint d1, TB(n - 2 dods)
 * FOR (frame of reference): varint min | u8 width | [width > 0: uvarint step] | each
 * value as (value - min) / step in `width` bits, least significant bit first, padded
 * to a byte; step is the greatest common divisor of the values above min, so
 * page-sized gauges and round numbers pack small.
 * TB: varint min | uvarint span | [span > 0: uvarint step] | each (value - min) / step
 * (0..span) in truncated binary to the end of the chunk: with w the bits of span and
 * u = 2^w - 1 - span, a code below u takes w - 1 bits, the others (c = x + u) take
 * w: c >> 1 in w - 1 bits, then c & 1. Increments spread over a range that is not a
 * power of two thus cost log2(range) bits, not the next whole bit (3 % of the bits
 * on the benchmark). Counters and gauges take whichever mode packs smallest.
 *
 * Older builds wrote 0x81 (TSDB_ENC_DENSE), still read: uvarint n | varint t0 |
 * [n >= 2] uvarint t1 - t0 | [n >= 3] FOR(n - 2 dods) | u8 k | u8 mode (0-2) | the
 * values as above but FOR-packed. v2 saves ~12 bytes a chunk (t0, the interval, the
 * empty dods frame, a byte of k and mode), which across every series of every block
 * is most of a chunk's header.
 *
 * The iterator decodes sample by sample (a corrupt count cannot make it allocate),
 * after checking once that the fixed-width sections fit in the chunk; truncated
 * binary codes are bounds-checked as they are read.
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

#define F_K 0x1f
#define F_MODE_SHIFT 5
#define F_IRREGULAR 0x80
#define MODE_CONST 3

static const double ten_to[MAX_K + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

double tsdb_ten_to(int k)
{
	return k >= 0 && k <= MAX_K ? ten_to[k] : 1;
}

int tsdb_parse_dense(const char *s)
{
	if (!strcmp(s, "prometheus"))
		return 0;
	return strcmp(s, "dense") ? -1 : 1;
}

/* --- encoding ------------------------------------------------------------------------- */

/* v as m / 10^i when |m| < 2^53 (rounding to nearest, checked exactly), else false. */
static bool decimal_at(double v, int i, int64_t *m)
{
	double x = v * ten_to[i];

	if (!(fabs(x) < (double)EXACT))
		return false;
	*m = llround(x);
	return tsdb_f2b((double)*m / ten_to[i]) == tsdb_f2b(v);
}

bool tsdb_decimal_split(double v, int64_t *m, int *k)
{
	static const int64_t pow10i[] = { 10000000000000000LL, 100000000, 10000, 100, 10 };
	static const int steps[] = { 16, 8, 4, 2, 1 };
	uint64_t bits = tsdb_f2b(v);
	double a = fabs(v), x;
	int64_t mm;
	int e = (int)((bits >> 52) & 0x7ff) - 1022, i;

	if (!isfinite(v))
		return false;
	/* Most values are integers: one conversion. */
	if (a < (double)EXACT && v == (double)(int64_t)v && bits >> 63 == (v < 0)) {
		*m = (int64_t)v;
		*k = 0;
		return true;
	}
	/* The largest i with |v| 10^i < 2^50. If v is m / 10^j for some j <= i, then
	 * v 10^i is within 2^-52 |v 10^i| < 1/4 of m 10^(i - j), which rounds back to v:
	 * one check at i decides every j <= i, and the trailing zeros of the mantissa
	 * found there give the smallest j. (A loop over j cost ~70 ns for a nanosecond
	 * duration; this is a tenth of that.) */
	/* Tenths and hundredths are common: tried first, the check (a division) only
	 * when v 10^i is near an integer. */
	for (i = 1; i <= 2 && a < 0x1p40; i++) {
		double fr;

		x = v * ten_to[i];
		fr = fabs(x - (double)(int64_t)x);
		if ((fr < 0x1p-12 || fr > 1 - 0x1p-12) && decimal_at(v, i, m)) {
			*k = i;
			return true;
		}
	}
	/* a < 2^e, so i about (50 - e) log10(2); then correct by a step or two */
	i = (int)((50 - e) * 0.30103);
	i = i > MAX_K ? MAX_K : i < 0 ? 0 : i;
	while (i < MAX_K && a * ten_to[i + 1] < 0x1p50)
		i++;
	while (i >= 0 && !(a * ten_to[i] < 0x1p50))
		i--;
	if (i < 0)
		return false; /* |v| >= 2^50: an integer or nothing */
	x = v * ten_to[i];
	mm = (int64_t)(x + copysign(0.5, x)); /* exact: |x| < 2^50 */
	if (tsdb_f2b((double)mm / ten_to[i]) != bits) {
		/* not with |m| < 2^50; one more digit may still fit below 2^53 */
		if (i < MAX_K && decimal_at(v, i + 1, m)) {
			*k = i + 1;
			return true;
		}
		return false;
	}
	for (int s = 0; s < 5; s++) { /* strip zeros 16, 8, 4, 2 and 1 at a time */
		if (i >= steps[s] && mm % pow10i[s] == 0) {
			mm /= pow10i[s];
			i -= steps[s];
		}
	}
	*m = mm;
	*k = i;
	return true;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int bits_for(uint64_t r)
{
	return r ? 64 - __builtin_clzll(r) : 0;
}

static uint64_t low_bits(unsigned w)
{
	return w >= 64 ? ~0ULL : (1ULL << w) - 1;
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

/* A frame of reference over x[0..n): codes (x - min) / mult in [0, span]. */
struct frame {
	int64_t min;
	uint64_t mult; /* the values' common step above min (0: all equal) */
	uint64_t span; /* largest code */
	int width;     /* bits of span */
};

static void frame_of(const int64_t *x, size_t n, struct frame *f)
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
	f->span = g ? ((uint64_t)hi - (uint64_t)lo) / g : 0;
	f->width = bits_for(f->span);
}

/* Codes below this take width - 1 bits in truncated binary. */
static uint64_t tb_short(const struct frame *f)
{
	return low_bits((unsigned)f->width) - f->span;
}

/* Bytes TB(x[0..n)) takes. */
static size_t tb_plan(const int64_t *x, size_t n, struct frame *f)
{
	size_t bits = 0;
	uint64_t u;

	frame_of(x, n, f);
	u = tb_short(f);
	if (f->width)
		for (size_t i = 0; i < n; i++)
			bits += (size_t)f->width -
				(((uint64_t)x[i] - (uint64_t)f->min) / f->mult < u);
	return tsdb_uvarint_len(zigzag(f->min)) + tsdb_uvarint_len(f->span) +
	       (f->span ? tsdb_uvarint_len(f->mult) : 0) + (bits + 7) / 8;
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
	u &= low_bits(w);
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

/* FOR(x[0..n)): fixed width codes (the timestamps' dods, whose length must be known
 * to find what follows). */
static void put_for(struct buf *b, const int64_t *x, size_t n)
{
	struct packer pk = { .b = b };
	struct frame f;

	frame_of(x, n, &f);
	tsdb_put_varint(b, f.min);
	buf_putc(b, (char)f.width);
	if (f.width == 0)
		return;
	tsdb_put_uvarint(b, f.mult);
	for (size_t i = 0; i < n; i++)
		pack(&pk, ((uint64_t)x[i] - (uint64_t)f.min) / f.mult, (unsigned)f.width);
	emit(&pk, (pk.have + 7) / 8);
}

static void put_tb(struct buf *b, const int64_t *x, size_t n)
{
	struct packer pk = { .b = b };
	struct frame f;
	uint64_t u;
	unsigned w;

	frame_of(x, n, &f);
	tsdb_put_varint(b, f.min);
	tsdb_put_uvarint(b, f.span);
	if (f.span == 0)
		return;
	tsdb_put_uvarint(b, f.mult);
	u = tb_short(&f);
	w = (unsigned)f.width;
	for (size_t i = 0; i < n; i++) {
		uint64_t c = ((uint64_t)x[i] - (uint64_t)f.min) / f.mult;

		if (c < u) {
			pack(&pk, c, w - 1);
		} else {
			c += u;
			pack(&pk, c >> 1, w - 1);
			pack(&pk, c & 1, 1);
		}
	}
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
		if (!tsdb_decimal_split(v[i], &in->m[i], &in->ks[i]))
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

/* Timestamps after the count: nothing when every interval is the same (the reader
 * has t0 and the last timestamp), else t1 - t0 and the dods packed. *irregular says
 * which; false when an interval overflows or is not positive. */
static bool put_times(struct buf *b, struct dense_in *in, bool *irregular)
{
	size_t n = in->n;

	*irregular = false;
	if (n < 2)
		return true;
	if (!deltas(in->t, n, in->d) || in->d[0] <= 0)
		return false;
	for (size_t i = 1; i < n - 1 && !*irregular; i++)
		*irregular = in->d[i] != in->d[0];
	if (!*irregular)
		return true;
	tsdb_put_uvarint(b, (uint64_t)in->d[0]);
	if (!deltas(in->d, n - 1, in->dd))
		return false;
	put_for(b, in->dd, n - 2);
	return true;
}

/* Values: whichever of constant, raw, deltas, dods packs smallest (*mode). */
static void put_values(struct buf *b, struct dense_in *in, int *mode)
{
	size_t n = in->n, s0, s1 = SIZE_MAX, s2 = SIZE_MAX;
	struct frame f;

	s0 = tb_plan(in->m, n, &f);
	if (f.span == 0) {
		*mode = MODE_CONST;
		tsdb_put_varint(b, in->m[0]);
		return;
	}
	if (n >= 2 && deltas(in->m, n, in->d)) {
		size_t m0 = tsdb_uvarint_len(zigzag(in->m[0]));

		s1 = m0 + tb_plan(in->d, n - 1, &f);
		if (n >= 3 && deltas(in->d, n - 1, in->dd))
			s2 = m0 + tsdb_uvarint_len(zigzag(in->d[0])) + tb_plan(in->dd, n - 2, &f);
	}
	if (s0 <= s1 && s0 <= s2) {
		*mode = 0;
		put_tb(b, in->m, n);
	} else if (s1 <= s2) {
		*mode = 1;
		tsdb_put_varint(b, in->m[0]);
		put_tb(b, in->d, n - 1);
	} else {
		*mode = 2;
		tsdb_put_varint(b, in->m[0]);
		tsdb_put_varint(b, in->d[0]);
		put_tb(b, in->dd, n - 2);
	}
}

/* The chunk after its flags byte, which is patched in at start once known. */
static bool put_chunk(struct buf *out, size_t start, struct dense_in *in)
{
	bool irregular;
	int mode;

	buf_putc(out, 0);
	tsdb_put_uvarint(out, in->n);
	if (!put_times(out, in, &irregular))
		return false;
	put_values(out, in, &mode);
	if (out->oom)
		return false;
	out->data[start] = (char)((unsigned)in->k | (unsigned)mode << F_MODE_SHIFT |
				  (irregular ? F_IRREGULAR : 0));
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
	if (!put_chunk(out, start, &in) || out->len - start >= limit) {
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

int tsdb_dense_from_xor(const uint8_t *chunk, size_t len, int64_t mint, int64_t maxt,
			struct buf *out)
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
	/* The reader takes the first and last timestamps from the chunk's meta. */
	rc = t[0] == mint && t[n - 1] == maxt ? tsdb_dense_encode(t, v, n, len, out) : 0;
out:
	free(t);
	free(v);
	return rc;
}

/* --- decoding ------------------------------------------------------------------------- */

/* Read a FOR header and check its packed bits fit; the reader is left after them. */
static bool for_open(struct tsdb_dec *d, size_t count, struct tsdb_for *f)
{
	f->min = tsdb_dec_varint(d);
	f->width = tsdb_dec_byte(d);
	f->mult = f->width ? tsdb_dec_uvarint(d) : 0;
	f->tb = false;
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

/* Read a TB header; its codes run to the end of the chunk. */
static bool tb_open(struct tsdb_dec *d, size_t count, struct tsdb_for *f)
{
	uint64_t span;

	f->min = tsdb_dec_varint(d);
	span = tsdb_dec_uvarint(d);
	f->mult = span ? tsdb_dec_uvarint(d) : 0;
	if (d->bad || (span && f->mult == 0))
		return false;
	f->width = (uint8_t)bits_for(span);
	f->tb = f->width > 0;
	f->u = low_bits(f->width) - span;
	f->p = d->p;
	f->nbytes = (size_t)(d->end - d->p);
	f->pos = 0;
	/* At least w - 1 bits a code. */
	if (f->width && (uint64_t)count * (f->width - 1u) > (uint64_t)f->nbytes * 8)
		return false;
	d->p = d->end;
	return true;
}

/* w (<= 64) bits at the reader's position; past the end, f->bad and 0. */
static uint64_t bits_at(struct tsdb_for *f, unsigned w)
{
	uint64_t u = 0;
	unsigned got = 0;

	if ((uint64_t)f->pos + w > (uint64_t)f->nbytes * 8) {
		f->bad = true;
		return 0;
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
	return u;
}

/* A code near the end of its section, or wider than 56 bits: bit by bit. */
static __attribute__((noinline)) uint64_t code_slow(struct tsdb_for *f)
{
	uint64_t x;

	if (!f->tb)
		return bits_at(f, f->width);
	x = bits_at(f, f->width - 1u);
	if (x < f->u)
		return x;
	return (x << 1 | bits_at(f, 1)) - f->u;
}

/* The next value of a frame. A code running past its section sets f->bad (sticky,
 * checked once per sample by the iterator) and yields garbage, never a read out of
 * bounds. Inlined: it is most of the per-sample work. */
static inline int64_t for_next(struct tsdb_for *f)
{
	unsigned w = f->width;
	size_t at = f->pos >> 3;
	uint64_t c;

	if (w == 0) /* constants, regular timestamps */
		return f->min;
	if (w <= 56 && at + 8 <= f->nbytes) {
		uint64_t word, x, y, b;

		memcpy(&word, f->p + at, sizeof(word));
		word = le64toh(word) >> (f->pos & 7);
		if (!f->tb) {
			c = word & ((1ULL << w) - 1);
			f->pos += w;
		} else {
			/* branch-free: codes are long or short at random */
			x = word & ((1ULL << (w - 1)) - 1);
			b = x >= f->u;
			y = (x << 1 | ((word >> (w - 1)) & 1)) - f->u;
			c = x ^ ((x ^ y) & (0 - b));
			f->pos += w - 1 + b;
		}
	} else {
		c = code_slow(f);
	}
	return (int64_t)((uint64_t)f->min + f->mult * c);
}

uint16_t tsdb_dense_samples(uint8_t enc, const uint8_t *chunk, size_t len)
{
	struct tsdb_dec d = { chunk, chunk + len, false };
	uint64_t n;

	if (enc == TSDB_ENC_DENSE2)
		tsdb_dec_byte(&d);
	n = tsdb_dec_uvarint(&d);
	return d.bad || n > MAX_N ? 0 : (uint16_t)n;
}

/* The values after k and mode; sections of the counts the mode leaves. */
static bool open_values(struct tsdb_dense_iter *it, struct tsdb_dec *d, bool v2)
{
	size_t n = it->total;

	if (it->mode == MODE_CONST) {
		it->m = tsdb_dec_varint(d);
		it->vf = (struct tsdb_for){ .min = it->m };
		it->mode = 0; /* a frame whose every code is 0 */
		return !d->bad;
	}
	if (it->mode == 0)
		return v2 ? tb_open(d, n, &it->vf) : for_open(d, n, &it->vf);
	it->m = tsdb_dec_varint(d);
	if (it->mode == 2 && n >= 2)
		it->dm = tsdb_dec_varint(d);
	if (n <= it->mode)
		return !d->bad;
	return v2 ? tb_open(d, n - it->mode, &it->vf) : for_open(d, n - it->mode, &it->vf);
}

/* 0x81: everything from the chunk. */
static bool open_v1(struct tsdb_dense_iter *it, struct tsdb_dec *d)
{
	uint64_t n = tsdb_dec_uvarint(d);

	if (d->bad || n == 0 || n > MAX_N)
		return false;
	it->total = (uint32_t)n;
	it->t = tsdb_dec_varint(d);
	if (n >= 2)
		it->dt = (int64_t)tsdb_dec_uvarint(d);
	if (n >= 3 && !for_open(d, n - 2, &it->tf))
		return false;
	it->k = tsdb_dec_byte(d);
	it->mode = tsdb_dec_byte(d);
	if (d->bad || it->k > MAX_K || it->mode > 2)
		return false;
	return open_values(it, d, false) && !d->bad;
}

/* 0x82: t0 and the last timestamp from the chunk's meta. */
static bool open_v2(struct tsdb_dense_iter *it, struct tsdb_dec *d, int64_t mint, int64_t maxt)
{
	uint8_t flags = tsdb_dec_byte(d);
	uint64_t n = tsdb_dec_uvarint(d), span = (uint64_t)maxt - (uint64_t)mint;

	if (d->bad || n == 0 || n > MAX_N || maxt < mint)
		return false;
	it->total = (uint32_t)n;
	it->k = flags & F_K;
	it->mode = (flags >> F_MODE_SHIFT) & 3;
	it->t = mint;
	if (it->k > MAX_K)
		return false;
	if (flags & F_IRREGULAR) {
		if (n >= 2)
			it->dt = (int64_t)tsdb_dec_uvarint(d);
		if (n >= 3 && !for_open(d, n - 2, &it->tf))
			return false;
	} else if (n >= 2) {
		/* every dod 0: a frame whose every code is 0 */
		if (span == 0 || span % (n - 1) != 0 || span / (n - 1) > INT64_MAX)
			return false;
		it->dt = (int64_t)(span / (n - 1));
	} else if (span != 0) {
		return false;
	}
	return open_values(it, d, true) && !d->bad;
}

void tsdb_dense_iter_init(struct tsdb_dense_iter *it, const struct tsdb_chunk_meta *c)
{
	struct tsdb_dec d = { c->data, c->data + c->len, false };
	bool ok;

	memset(it, 0, sizeof(*it));
	ok = c->enc == TSDB_ENC_DENSE2 ? open_v2(it, &d, c->mint, c->maxt) : open_v1(it, &d);
	if (!ok) {
		it->total = 0;
		it->corrupt = true;
	}
}

bool tsdb_dense_iter_next(struct tsdb_dense_iter *it)
{
	uint32_t i = it->read;

	if (it->corrupt || i >= it->total)
		return false;
	/* Timestamps: t0 as read, then t1 = t0 + dt, then dt grows by each dod. */
	if (i == 1) {
		it->t = (int64_t)((uint64_t)it->t + (uint64_t)it->dt);
	} else if (i >= 2) {
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
	if (it->tf.bad || it->vf.bad) {
		it->corrupt = true;
		return false;
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
