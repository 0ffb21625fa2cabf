/* tsdb XOR chunks: golden bytes, round trips of random and edge values, limits,
 * seeking, resuming, and malformed input; the dense block encoding likewise. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/internal.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}


/*
 * The golden chunk, derived by hand from the format (Prometheus tsdb/chunkenc xor.go,
 * bstream.go) and cross-checked with a separate throwaway encoder written from the
 * same description:
 *   00 06                     6 samples
 *   d0 0f                     varint t0 = 1000 (zigzag 2000 = 0x7d0 -> 0xd0 0x0f)
 *   3f f0 00 00 00 00 00 00   v0 = 1.0
 *   e8 07                     uvarint delta 1000
 * then bits: v1 same '0' | t2 dod 0 '0', v2 2.0 (xor 0x7ff0.., lead 1, trail 52) '11'
 * 00001 001011 11111111111 | t3 dod +10 '10' 00000000001010, v3 3.0 (xor 0x0008..,
 * lead 12, trail 51: not inside 1/52) '11' 01100 000001 1 | t4 dod -20 '10'
 * 11111111101100, v4 same '0' | t5 dod +10 '10' 00000000001010, v5 2.0 (same xor,
 * reuses 12/51) '10' 1 | zero padding:
 *   30 97 ff e0 02 b6 03 bf ec 40 05 50
 */
static const uint8_t golden[] = {
	0x00, 0x06, 0xd0, 0x0f, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe8,
	0x07, 0x30, 0x97, 0xff, 0xe0, 0x02, 0xb6, 0x03, 0xbf, 0xec, 0x40, 0x05, 0x50,
};
static const struct tsdb_sample golden_samples[] = {
	{ 1000, 1.0 }, { 2000, 1.0 }, { 3000, 2.0 }, { 4010, 3.0 }, { 5000, 3.0 }, { 6000, 2.0 },
};

static void encode(struct tsdb_xor_appender *a, const struct tsdb_sample *s, size_t n)
{
	char err[128];

	tsdb_xor_appender_init(a);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tsdb_xor_append(a, s[i].t, s[i].v, err, sizeof(err)), 0);
}

/* Decode and compare bit for bit (NaN payloads included). */
static void expect_samples(const uint8_t *b, size_t len, const struct tsdb_sample *s, size_t n)
{
	struct tsdb_xor_iter it;
	char err[128];
	size_t i = 0;

	assert_int_equal(tsdb_xor_samples(b, len), n);
	tsdb_xor_iter_init(&it, b, len);
	while (tsdb_xor_iter_next(&it)) {
		int64_t t;
		double v;

		assert_true(i < n);
		tsdb_xor_iter_at(&it, &t, &v);
		assert_int_equal(t, s[i].t);
		assert_int_equal(tsdb_f2b(v), tsdb_f2b(s[i].v));
		i++;
	}
	assert_int_equal(tsdb_xor_iter_err(&it, err, sizeof(err)), 0);
	assert_int_equal(i, n);
}

static void test_golden(void **state)
{
	struct tsdb_xor_appender a;
	size_t n = sizeof(golden_samples) / sizeof(golden_samples[0]);

	encode(&a, golden_samples, n);
	assert_int_equal(a.len, sizeof(golden));
	assert_memory_equal(a.buf, golden, sizeof(golden));
	expect_samples(golden, sizeof(golden), golden_samples, n);
	tsdb_xor_appender_free(&a);
}

static double edge_value(void)
{
	static const double fixed[] = { 0.0, -0.0, 1.0, -1.0, 0.1, 1e300, -1e-300,
					DBL_MAX, -DBL_MAX, DBL_MIN, 4.9e-324, INFINITY,
					-INFINITY, NAN };
	switch (rnd() % 6) {
	case 0:
		return fixed[rnd() % (sizeof(fixed) / sizeof(fixed[0]))];
	case 1:
		return tsdb_stale_nan();
	case 2:
		return tsdb_b2f(rnd()); /* any bits, odd NaN payloads included */
	case 3:
		return (double)(rnd() % 1000);
	default:
		return -1; /* caller repeats the previous value */
	}
}

static int64_t next_ts(int64_t t)
{
	switch (rnd() % 8) {
	case 0:
		return t + 1 + (int64_t)(rnd() % 10);               /* dod in the small buckets */
	case 1:
		return t + 1 + (int64_t)(rnd() % 200000);           /* 17/20-bit buckets */
	case 2:
		return t + 1 + (int64_t)(rnd() % (1ULL << 40));     /* big gaps: 64-bit bucket */
	default:
		return t + 15000;                                   /* regular scrapes: dod 0 */
	}
}

static void test_roundtrip_random(void **state)
{
	for (int round = 0; round < 300; round++) {
		size_t n = 1 + rnd() % 300;
		struct tsdb_sample *s = calloc(n, sizeof(*s));
		struct tsdb_xor_appender a;
		int64_t t = (int64_t)(rnd() % (1ULL << 50)) - (1LL << 49);
		double prev = 0;

		assert_non_null(s);
		for (size_t i = 0; i < n; i++) {
			double v = edge_value();

			if (i > 0)
				t = next_ts(t);
			if (v == -1)
				v = prev;
			s[i] = (struct tsdb_sample){ t, v };
			prev = v;
		}
		encode(&a, s, n);
		expect_samples(a.buf, a.len, s, n);
		tsdb_xor_appender_free(&a);
		free(s);
	}
}

static void test_edge_values_exact(void **state)
{
	struct tsdb_sample s[] = {
		{ 0, tsdb_stale_nan() }, { 1, NAN }, { 2, -0.0 }, { 3, 0.0 }, { 4, INFINITY },
		{ 5, -INFINITY }, { 6, tsdb_stale_nan() }, { 7, DBL_MAX }, { 8, 4.9e-324 },
	};
	struct tsdb_xor_appender a;
	struct tsdb_xor_iter it;
	int64_t t;
	double v;

	encode(&a, s, 9);
	expect_samples(a.buf, a.len, s, 9);
	tsdb_xor_iter_init(&it, a.buf, a.len);
	assert_true(tsdb_xor_iter_next(&it));
	tsdb_xor_iter_at(&it, &t, &v);
	assert_true(tsdb_is_stale_nan(v));
	assert_int_equal(tsdb_f2b(v), TSDB_STALE_NAN_BITS);
	assert_true(tsdb_xor_iter_next(&it));
	tsdb_xor_iter_at(&it, &t, &v);
	assert_true(isnan(v) && !tsdb_is_stale_nan(v));
	assert_true(tsdb_xor_iter_next(&it));
	tsdb_xor_iter_at(&it, &t, &v);
	assert_true(v == 0 && signbit(v));
	tsdb_xor_appender_free(&a);
}

static void test_extreme_timestamps(void **state)
{
	struct tsdb_sample s[] = {
		{ INT64_MIN, 1 }, { -1, 2 }, { 0, 3 }, { INT64_MAX - 1, 4 }, { INT64_MAX, 5 },
	};
	struct tsdb_xor_appender a;

	encode(&a, s, 5);
	expect_samples(a.buf, a.len, s, 5);
	tsdb_xor_appender_free(&a);
	/* Negative first timestamp and negative deltas of deltas. */
	struct tsdb_sample n[] = { { -5000, 1 }, { -4000, 1 }, { -3999, 1 }, { 100000000, 1 } };
	encode(&a, n, 4);
	expect_samples(a.buf, a.len, n, 4);
	tsdb_xor_appender_free(&a);
}

static void test_order_rejected(void **state)
{
	struct tsdb_sample s[] = { { 100, 1 }, { 200, 2 } };
	struct tsdb_xor_appender a;
	uint8_t copy[64];
	uint32_t len;
	char err[128];

	encode(&a, s, 2);
	len = a.len;
	memcpy(copy, a.buf, len);
	assert_int_equal(tsdb_xor_append(&a, 150, 9, err, sizeof(err)), TSDB_EOUT_OF_ORDER);
	assert_string_equal(err, "out of order sample");
	assert_int_equal(tsdb_xor_append(&a, 200, 9, err, sizeof(err)), TSDB_EDUPLICATE);
	assert_string_equal(err, "duplicate sample for timestamp");
	assert_int_equal(tsdb_xor_append(&a, INT64_MIN, 9, err, sizeof(err)), TSDB_EOUT_OF_ORDER);
	/* A refused sample leaves the chunk untouched and appending goes on. */
	assert_int_equal(a.len, len);
	assert_memory_equal(a.buf, copy, len);
	assert_int_equal(tsdb_xor_append(&a, 300, 3, err, sizeof(err)), 0);
	expect_samples(a.buf, a.len, (struct tsdb_sample[]){ { 100, 1 }, { 200, 2 }, { 300, 3 } }, 3);
	tsdb_xor_appender_free(&a);
}

static void test_one_and_120_samples(void **state)
{
	struct tsdb_sample s[120];
	struct tsdb_xor_appender a;

	s[0] = (struct tsdb_sample){ 1700000000000, 42.5 };
	encode(&a, s, 1);
	/* header + varint(1.7e12 zigzag) 6 bytes + 8 bytes of value */
	assert_int_equal(a.len, 2 + 6 + 8);
	expect_samples(a.buf, a.len, s, 1);
	tsdb_xor_appender_free(&a);

	for (int i = 0; i < 120; i++)
		s[i] = (struct tsdb_sample){ 1700000000000 + i * 15000LL, (double)(i / 10) };
	encode(&a, s, 120);
	expect_samples(a.buf, a.len, s, 120);
	/* Regular scrapes of a slow gauge compress to well under 2 bytes a sample. */
	assert_true(a.len < 120 * 2);
	tsdb_xor_appender_free(&a);
}

static void test_full_chunk(void **state)
{
	struct tsdb_xor_appender a;
	char err[128];

	tsdb_xor_appender_init(&a);
	for (int64_t i = 0; i < TSDB_XOR_MAX_SAMPLES; i++)
		assert_int_equal(tsdb_xor_append(&a, i * 1000, (double)(i % 7), err, sizeof(err)), 0);
	assert_int_equal(tsdb_xor_appender_samples(&a), TSDB_XOR_MAX_SAMPLES);
	assert_int_equal(tsdb_xor_append(&a, INT64_MAX, 1, err, sizeof(err)), TSDB_EFAIL);
	assert_non_null(strstr(err, "chunk full"));
	assert_int_equal(tsdb_xor_appender_samples(&a), TSDB_XOR_MAX_SAMPLES);
	tsdb_xor_appender_free(&a);
}

static void test_every_prefix_readable(void **state)
{
	struct tsdb_xor_appender a;
	char err[128];
	struct tsdb_sample s[50];

	tsdb_xor_appender_init(&a);
	for (int i = 0; i < 50; i++) {
		s[i] = (struct tsdb_sample){ i * 1000 + (i % 3), tsdb_b2f(rnd()) };
		assert_int_equal(tsdb_xor_append(&a, s[i].t, s[i].v, err, sizeof(err)), 0);
		/* What a query copies between two appends is a complete chunk. */
		expect_samples(a.buf, a.len, s, (size_t)i + 1);
	}
	tsdb_xor_appender_free(&a);
}

static void test_seek(void **state)
{
	struct tsdb_xor_iter it;
	int64_t t;
	double v;

	tsdb_xor_iter_init(&it, golden, sizeof(golden));
	assert_true(tsdb_xor_iter_seek(&it, -5));
	tsdb_xor_iter_at(&it, &t, &v);
	assert_int_equal(t, 1000);
	assert_true(tsdb_xor_iter_seek(&it, 2500));
	tsdb_xor_iter_at(&it, &t, &v);
	assert_int_equal(t, 3000);
	assert_true(v == 2.0);
	assert_true(tsdb_xor_iter_seek(&it, 3000)); /* stays */
	assert_true(tsdb_xor_iter_seek(&it, 1000)); /* never backwards */
	tsdb_xor_iter_at(&it, &t, &v);
	assert_int_equal(t, 3000);
	assert_true(tsdb_xor_iter_seek(&it, 6000));
	tsdb_xor_iter_at(&it, &t, &v);
	assert_true(t == 6000 && v == 2.0);
	assert_false(tsdb_xor_iter_seek(&it, 6001));
	assert_false(tsdb_xor_iter_next(&it));
}

static void test_resume(void **state)
{
	struct tsdb_xor_appender a, b;
	struct tsdb_sample s[40];
	char err[128];

	for (int i = 0; i < 40; i++)
		s[i] = (struct tsdb_sample){ i * 500 + (i % 4) * 7, (double)(i * i) / 3 };
	for (size_t cut = 0; cut <= 40; cut += 5) {
		encode(&a, s, cut);
		assert_int_equal(tsdb_xor_appender_resume(&b, a.buf ? a.buf : (uint8_t[]){ 0, 0 },
							  a.buf ? a.len : 2, err, sizeof(err)), 0);
		for (size_t i = cut; i < 40; i++)
			assert_int_equal(tsdb_xor_append(&b, s[i].t, s[i].v, err, sizeof(err)), 0);
		expect_samples(b.buf, b.len, s, 40);
		tsdb_xor_appender_free(&a);
		tsdb_xor_appender_free(&b);
	}
	/* Resuming an empty chunk encodes exactly like a fresh one. */
	assert_int_equal(tsdb_xor_appender_resume(&b, (uint8_t[]){ 0, 0 }, 2, err, sizeof(err)), 0);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(tsdb_xor_append(&b, golden_samples[i].t, golden_samples[i].v, err,
						 sizeof(err)), 0);
	assert_memory_equal(b.buf, golden, sizeof(golden));
	tsdb_xor_appender_free(&b);
}

static void test_finish(void **state)
{
	struct tsdb_xor_appender a;
	uint8_t *b;
	size_t len;

	encode(&a, golden_samples, 6);
	b = tsdb_xor_appender_finish(&a, &len);
	assert_int_equal(len, sizeof(golden));
	assert_memory_equal(b, golden, len);
	assert_null(a.buf);
	assert_int_equal(tsdb_xor_appender_samples(&a), 0);
	free(b);
	b = tsdb_xor_appender_finish(&a, &len); /* empty: a valid 0-sample chunk */
	assert_int_equal(len, 2);
	assert_int_equal(tsdb_xor_samples(b, len), 0);
	free(b);
}

static void test_malformed(void **state)
{
	struct tsdb_xor_iter it;
	char err[128];
	uint8_t buf[64];

	/* Every truncation of a valid chunk ends in an error, never a crash. */
	for (size_t len = 3; len < sizeof(golden); len++) {
		tsdb_xor_iter_init(&it, golden, len);
		while (tsdb_xor_iter_next(&it))
			;
		assert_int_equal(tsdb_xor_iter_err(&it, err, sizeof(err)), TSDB_EFAIL);
	}
	tsdb_xor_iter_init(&it, golden, 1);
	assert_false(tsdb_xor_iter_next(&it));
	assert_int_equal(tsdb_xor_iter_err(&it, err, sizeof(err)), TSDB_EFAIL);
	assert_int_equal(tsdb_xor_appender_resume(&(struct tsdb_xor_appender){ 0 }, golden, 10,
						  err, sizeof(err)), TSDB_EFAIL);
	/* Random garbage: decoding stops cleanly (ASan checks the reads). */
	for (int round = 0; round < 2000; round++) {
		size_t len = rnd() % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd();
		tsdb_xor_iter_init(&it, buf, len);
		while (tsdb_xor_iter_next(&it))
			;
		tsdb_xor_iter_seek(&it, INT64_MAX);
	}
}

/* --- the dense block encoding ----------------------------------------------------------- */

/* XOR-encode s, convert to dense (want: 1 dense, 0 stays XOR) and, when dense, decode
 * and compare bit for bit; returns the dense size (0 when it stayed XOR). */
/* The meta a block gives a dense chunk of d: its first and last timestamps. */
static struct tsdb_chunk_meta dense_meta(const struct buf *d, int64_t mint, int64_t maxt)
{
	return (struct tsdb_chunk_meta){ mint, maxt, (const uint8_t *)d->data, d->len,
					 TSDB_ENC_DENSE2 };
}

static size_t dense_roundtrip(const struct tsdb_sample *s, size_t n, int want)
{
	struct tsdb_xor_appender a;
	struct tsdb_dense_iter it;
	struct tsdb_chunk_meta c;
	struct buf d = { 0 };
	size_t i = 0, len;

	encode(&a, s, n);
	len = a.len;
	/* a meta that does not match the samples: no dense chunk */
	assert_int_equal(tsdb_dense_from_xor(a.buf, a.len, s[0].t - 1, s[n - 1].t, &d), 0);
	assert_int_equal(tsdb_dense_from_xor(a.buf, a.len, s[0].t, s[n - 1].t + 1, &d), 0);
	assert_int_equal(d.len, 0);
	{
		int got = tsdb_dense_from_xor(a.buf, a.len, s[0].t, s[n - 1].t, &d);

		if (got != want)
			fail_msg("%zu samples from %.17g: dense_from_xor gave %d (dense %zu bytes, "
				 "XOR %zu)", n, s[0].v, got, d.len, len);
	}
	tsdb_xor_appender_free(&a);
	if (want == 0) {
		assert_int_equal(d.len, 0);
		buf_free(&d);
		return 0;
	}
	assert_true(d.len < len);
	assert_int_equal(tsdb_dense_samples(TSDB_ENC_DENSE2, (const uint8_t *)d.data, d.len), n);
	c = dense_meta(&d, s[0].t, s[n - 1].t);
	tsdb_dense_iter_init(&it, &c);
	while (tsdb_dense_iter_next(&it)) {
		int64_t t;
		double v;

		assert_true(i < n);
		tsdb_dense_iter_at(&it, &t, &v);
		assert_int_equal(t, s[i].t);
		if (tsdb_f2b(v) != tsdb_f2b(s[i].v))
			fail_msg("sample %zu: %.17g (%016llx) came back as %.17g (%016llx)", i,
				 s[i].v, (unsigned long long)tsdb_f2b(s[i].v), v,
				 (unsigned long long)tsdb_f2b(v));
		i++;
	}
	assert_false(it.corrupt);
	assert_int_equal(i, n);
	len = d.len;
	buf_free(&d);
	return len;
}

/* Hand-derived: (1000, 1.5) (2000, 2.5) (3000, 3.5) at k = 1 are 15, 25, 35, best as
 * m0 and deltas of 10 (a frame of span 0); the timestamps are regular, so the meta's
 * 1000 and 3000 give them all:
 *   21 (k 1, mode 1) | 03 | 1e (m0 15) | 14 00 (deltas: min 10, span 0) */
static void test_dense_golden(void **state)
{
	static const uint8_t want[] = { 0x21, 0x03, 0x1e, 0x14, 0x00 };
	struct tsdb_sample s[] = { { 1000, 1.5 }, { 2000, 2.5 }, { 3000, 3.5 } };
	struct tsdb_xor_appender a;
	struct buf d = { 0 };

	encode(&a, s, 3);
	assert_int_equal(tsdb_dense_from_xor(a.buf, a.len, 1000, 3000, &d), 1);
	assert_int_equal(d.len, sizeof(want));
	assert_memory_equal(d.data, want, sizeof(want));
	tsdb_xor_appender_free(&a);
	buf_free(&d);
	assert_int_equal(dense_roundtrip(s, 3, 1), sizeof(want));
}

static void test_dense_roundtrips(void **state)
{
	static struct tsdb_sample s[240];
	double cnt = 45326.63, gauge = 4096.0 * 1000;

	/* A counter in hundredths, scraped every 15 s with a little jitter. */
	for (int i = 0; i < 240; i++) {
		cnt = round((cnt + (double)(rnd() % 2000) / 100) * 100) / 100;
		s[i] = (struct tsdb_sample){ 1700000000000LL + i * 15000 + (int64_t)(rnd() % 7),
					     cnt };
	}
	assert_true(dense_roundtrip(s, 240, 1) < 240 * 3);
	/* Page-sized gauge, regular timestamps: a few bits per sample. */
	for (int i = 0; i < 120; i++) {
		gauge += 4096.0 * (double)((int)(rnd() % 9) - 4);
		s[i] = (struct tsdb_sample){ 60000LL * i, gauge };
	}
	assert_true(dense_roundtrip(s, 120, 1) < 120);
	/* A constant: a dozen bytes whatever the count. */
	for (int i = 0; i < 120; i++)
		s[i] = (struct tsdb_sample){ 60000LL * i, 1 };
	assert_true(dense_roundtrip(s, 120, 1) < 16);
	/* Negative and mixed scales (one k for the chunk), zero, many-digit decimals. */
	{
		static const double v[] = { -3, 0, 2.5, -1.25, 0.001, 123.789, -0.001, 0.1, 0.2,
					    1e-10, 9007199254740.5 };

		for (int i = 0; i < 90; i++)
			s[i] = (struct tsdb_sample){ 1000LL * i, v[i % 9] };
		dense_roundtrip(s, 90, 1);
		for (int i = 0; i < 90; i++)
			s[i] = (struct tsdb_sample){ 1000LL * i, v[i % 11] };
		dense_roundtrip(s, 90, 0); /* 1e-10 and 9007199254740.5: no common k */
		for (int i = 0; i < 90; i++)
			s[i] = (struct tsdb_sample){ 1000LL * i, i % 2 ? 1.123456789012345 : 2 };
		dense_roundtrip(s, 90, 1);
	}
	/* Integers up to 2^53, and beyond, where doubles are no longer every integer. */
	for (int i = 0; i < 50; i++)
		s[i] = (struct tsdb_sample){ 1000LL * i,
					     9007199254740991.0 - (double)(rnd() % 1000) };
	dense_roundtrip(s, 50, 1);
	for (int i = 0; i < 50; i++)
		s[i] = (struct tsdb_sample){ 1000LL * i, 18014398509481984.0 + 2.0 * i };
	dense_roundtrip(s, 50, 0);
	/* One and two samples; timestamps with huge gaps and near the int64 limits. */
	s[0] = (struct tsdb_sample){ -5, 7.5 };
	dense_roundtrip(s, 1, 1);
	s[1] = (struct tsdb_sample){ 3, 7.5 };
	dense_roundtrip(s, 2, 1);
	s[0] = (struct tsdb_sample){ INT64_MIN + 10, 100 };
	s[1] = (struct tsdb_sample){ 0, 200 };
	s[2] = (struct tsdb_sample){ INT64_MAX - 10, 300 };
	dense_roundtrip(s, 3, 1);
	s[1] = (struct tsdb_sample){ INT64_MAX - 10, 300 };
	dense_roundtrip(s, 2, 0); /* the delta overflows int64: stays XOR */
	for (int i = 0; i < 120; i++)
		s[i] = (struct tsdb_sample){ (int64_t)i * i * 100000000LL, (double)(i % 3) };
	dense_roundtrip(s, 120, 1);
}

/* The definition tsdb_decimal_split() implements faster: the smallest k <= 18 for
 * which llround(v 10^k) / 10^k is v again, bit for bit, with |m| < 2^53. */
static bool decimal_ref(double v, int64_t *m, int *k)
{
	if (!isfinite(v))
		return false;
	for (int i = 0; i <= 18; i++) {
		double x = v * tsdb_ten_to(i);

		if (!(fabs(x) < 9007199254740992.0))
			return false;
		*m = llround(x);
		if (tsdb_f2b((double)*m / tsdb_ten_to(i)) == tsdb_f2b(v)) {
			*k = i;
			return true;
		}
	}
	return false;
}

static void split_agrees(double v)
{
	int64_t m1 = 0, m2 = 0;
	int k1 = -1, k2 = -1;
	bool a = decimal_ref(v, &m1, &k1), b = tsdb_decimal_split(v, &m2, &k2);

	if (a != b || (a && (m1 != m2 || k1 != k2)))
		fail_msg("%.17g (%016llx): reference %d m %lld k %d, split %d m %lld k %d", v,
			 (unsigned long long)tsdb_f2b(v), a, (long long)m1, k1, b, (long long)m2,
			 k2);
}

/* Decimals at every scale and digit count (up to 2^53), their neighbours one ulp
 * away, integers, and arbitrary doubles: the same answer as the definition. */
static void test_decimal_split(void **state)
{
	static const double odd[] = { 0.0, -0.0, NAN, INFINITY, -INFINITY, 5e-324, DBL_MIN,
				      DBL_MAX, 1e-300, 1e300, 0.1, 0.2, 0.3, 1.0 / 3, M_PI, 1e-18,
				      1.5e-18, 1e-19, 9007199254740991.0, 9007199254740992.0,
				      1125899906842623.0, 1125899906842624.0, 0.1 + 0.2,
				      123456789012345.6, 12345678901234.56, 4503599627370495.5 };

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		split_agrees(odd[i]);
		split_agrees(-odd[i]);
	}
	for (int r = 0; r < 400000; r++) {
		int digits = 1 + (int)(rnd() % 17), k = (int)(rnd() % 19);
		int64_t m = (int64_t)(rnd() % (uint64_t)pow(10, digits));
		double v = (double)(r % 2 ? -m : m) / tsdb_ten_to(k);

		split_agrees(v);
		split_agrees(nextafter(v, INFINITY));
		split_agrees(nextafter(v, -INFINITY));
		split_agrees(tsdb_b2f(rnd() ^ rnd() << 32));
		split_agrees((double)(m >> (rnd() % 40)) * (r % 3 ? 1 : 4096));
	}
}

/* tsdb_dense_encode straight from arrays (what block merging uses): long runs at
 * random scales come back bit for bit; the limit, the count cap and non-decimals
 * leave the output untouched. */
static void test_dense_encode_arrays(void **state)
{
	enum { N = 6000 };
	static int64_t t[65536];
	static double v[65536];
	struct buf d = { 0 };

	for (int r = 0; r < 40; r++) {
		int k = r % 10, n = 1 + (int)(rnd() % N);
		double scale = pow(10, k);
		int64_t m = (int64_t)(rnd() % 1000000) - 500000, ts = (int64_t)(rnd() % 1000000);

		for (int i = 0; i < n; i++) {
			/* counters, walks and jumps, with a gap of days now and then */
			m += r % 3 == 0 ? (int64_t)(rnd() % 5000) : (int64_t)(rnd() % 201) - 100;
			if (rnd() % 500 == 0)
				m = -m;
			ts += rnd() % 300 == 0 ? 3 * 86400000LL + (int64_t)(rnd() % 99) : 15000;
			t[i] = ts;
			v[i] = (double)m / scale;
		}
		buf_reset(&d);
		assert_int_equal(tsdb_dense_encode(t, v, (size_t)n, SIZE_MAX, &d), 1);
		{
			struct tsdb_dense_iter it;
			struct tsdb_chunk_meta c = dense_meta(&d, t[0], t[n - 1]);
			int i = 0;

			tsdb_dense_iter_init(&it, &c);
			while (tsdb_dense_iter_next(&it)) {
				int64_t tt;
				double vv;

				tsdb_dense_iter_at(&it, &tt, &vv);
				assert_true(i < n);
				assert_int_equal(tt, t[i]);
				assert_int_equal(tsdb_f2b(vv), tsdb_f2b(v[i]));
				i++;
			}
			assert_false(it.corrupt);
			assert_int_equal(i, n);
		}
		/* one byte short of what it takes: refused, nothing appended */
		{
			size_t need = d.len;

			buf_reset(&d);
			assert_int_equal(tsdb_dense_encode(t, v, (size_t)n, need, &d), 0);
			assert_int_equal(d.len, 0);
			assert_int_equal(tsdb_dense_encode(t, v, (size_t)n, need + 1, &d), 1);
			assert_int_equal(d.len, need);
		}
	}
	/* the count a chunk header can carry, and one more */
	for (int i = 0; i < 65536; i++) {
		t[i] = 1000LL * i;
		v[i] = 0.25 * (i % 7);
	}
	buf_reset(&d);
	assert_int_equal(tsdb_dense_encode(t, v, 65535, SIZE_MAX, &d), 1);
	assert_int_equal(tsdb_dense_samples(TSDB_ENC_DENSE2, (const uint8_t *)d.data, d.len),
			 65535);
	buf_reset(&d);
	assert_int_equal(tsdb_dense_encode(t, v, 65536, SIZE_MAX, &d), 0);
	assert_int_equal(tsdb_dense_encode(t, v, 0, SIZE_MAX, &d), 0);
	/* -0, NaN, stale NaN, infinities, tiny and huge values anywhere: refused */
	{
		const double odd[] = { -0.0, NAN, tsdb_stale_nan(), INFINITY, -INFINITY, 5e-324,
				       1e300, DBL_MAX, 0.1 + 0.2 };

		for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
			v[4000] = odd[k];
			assert_int_equal(tsdb_dense_encode(t, v, 5000, SIZE_MAX, &d), 0);
			assert_int_equal(d.len, 0);
		}
	}
	buf_free(&d);
}

/* Seeking lands where stepping with next() does, in chunks as long as merging makes
 * them: every target before, on, between and after the samples, from a fresh iterator
 * and from one already inside, for each value mode, regular and irregular timestamps. */
static void test_dense_seek_matches_next(void **state)
{
	static int64_t t[512];
	static double v[512];
	struct buf d = { 0 };

	for (int r = 0; r < 24; r++) {
		int n = 3 + (int)(rnd() % 510), mode = r % 3;
		int64_t step = 1 + (int64_t)(rnd() % 60000), ts = (int64_t)(rnd() % 100000) - 50000;
		double m = 0, dm = 0;

		for (int i = 0; i < n; i++) {
			/* raw noise, a counter, an accelerating counter */
			dm += mode == 2 ? (double)(rnd() % 3) : 0;
			m = mode == 0 ? (double)(rnd() % 1000) : m + (mode == 1 ? (double)(rnd() % 50) : dm);
			ts += step + (r % 4 == 3 && rnd() % 7 == 0 ? (int64_t)(rnd() % 1000) : 0);
			t[i] = ts;
			v[i] = m / 100;
		}
		buf_reset(&d);
		assert_int_equal(tsdb_dense_encode(t, v, (size_t)n, SIZE_MAX, &d), 1);
		for (int q = 0; q < 200; q++) {
			int64_t target = t[0] - 5 + (int64_t)(rnd() % (uint64_t)(t[n - 1] - t[0] + 10));
			int pre = (int)(rnd() % 4); /* samples read before the seek */
			struct tsdb_dense_iter a, b;
			struct tsdb_chunk_meta c = dense_meta(&d, t[0], t[n - 1]);
			bool ra, rb;

			if (q % 50 == 0)
				target = q ? t[n - 1] + 1 : t[(int)(rnd() % (uint64_t)n)];
			tsdb_dense_iter_init(&a, &c);
			tsdb_dense_iter_init(&b, &c);
			for (int i = 0; i < pre; i++) {
				assert_true(tsdb_dense_iter_next(&a));
				assert_true(tsdb_dense_iter_next(&b));
			}
			ra = tsdb_dense_iter_seek(&a, target);
			rb = true;
			while (rb && (b.read == 0 || b.t < target))
				rb = tsdb_dense_iter_next(&b);
			assert_int_equal(ra, rb);
			assert_int_equal(a.read, b.read);
			if (!ra)
				continue;
			assert_int_equal(a.t, b.t);
			assert_int_equal(a.m, b.m);
			/* and the iterator goes on identically */
			for (int i = 0; i < 3; i++) {
				assert_int_equal(tsdb_dense_iter_next(&a), tsdb_dense_iter_next(&b));
				assert_int_equal(a.t, b.t);
				assert_int_equal(a.m, b.m);
			}
		}
	}
	buf_free(&d);
}

/* Values that are not decimals keep their XOR chunk, bits and all. */
static void test_dense_refuses(void **state)
{
	static const double odd[] = { NAN, INFINITY, -INFINITY, -0.0, 0.1 + 0.2 - 0.3, M_PI };
	struct tsdb_sample s[60];

	for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
		for (int i = 0; i < 60; i++)
			s[i] = (struct tsdb_sample){ 15000LL * i, i == 30 ? odd[k] : (double)i };
		dense_roundtrip(s, 60, 0);
	}
	for (int i = 0; i < 60; i++)
		s[i] = (struct tsdb_sample){ 15000LL * i, i == 59 ? tsdb_stale_nan() : 1.0 };
	dense_roundtrip(s, 60, 0);
	for (int i = 0; i < 60; i++)
		s[i] = (struct tsdb_sample){ 15000LL * i, tsdb_b2f(rnd() >> 2) };
	dense_roundtrip(s, 60, 0);
}

/* Every truncation and many byte flips of a dense chunk, and metas that do not fit
 * it: the iterator never reads past the chunk (the sanitizer build checks), never
 * yields more samples than the count, and a truncated chunk ends corrupt. */
static void test_dense_malformed(void **state)
{
	struct tsdb_sample s[120];
	struct tsdb_xor_appender a;
	struct tsdb_chunk_meta c;
	struct buf d = { 0 };
	uint8_t *copy;

	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < 120; i++)
			s[i] = (struct tsdb_sample){ 15000LL * i + (r ? 0 : (int64_t)(rnd() % 100)),
						     (double)(rnd() % 100000) / 100 };
		encode(&a, s, 120);
		buf_reset(&d);
		assert_int_equal(tsdb_dense_from_xor(a.buf, a.len, s[0].t, s[119].t, &d), 1);
		tsdb_xor_appender_free(&a);
		for (size_t cut = 0; cut < d.len; cut++) {
			struct tsdb_dense_iter it;
			int n = 0;

			copy = malloc(cut ? cut : 1);
			memcpy(copy, d.data, cut);
			c = (struct tsdb_chunk_meta){ s[0].t, s[119].t, copy, cut, TSDB_ENC_DENSE2 };
			tsdb_dense_iter_init(&it, &c);
			while (tsdb_dense_iter_next(&it))
				n++;
			assert_true(it.corrupt);
			assert_true(n < 120);
			free(copy);
		}
		for (int k = 0; k < 2000; k++) {
			struct tsdb_dense_iter it;
			int n = 0;

			copy = malloc(d.len);
			memcpy(copy, d.data, d.len);
			copy[rnd() % d.len] ^= (uint8_t)(1 + rnd() % 255);
			c = (struct tsdb_chunk_meta){ s[0].t, s[119].t, copy, d.len, TSDB_ENC_DENSE2 };
			if (k % 3 == 1)
				c.maxt += (int64_t)(rnd() % 200000) - 100000;
			if (k % 3 == 2)
				c.mint = c.maxt - (int64_t)(rnd() % 4000000);
			tsdb_dense_iter_init(&it, &c);
			while (tsdb_dense_iter_next(&it))
				n++;
			assert_true(n <= 65535);
			free(copy);
		}
	}
	/* Regular timestamps: a meta whose span does not divide into the count's
	 * intervals, or is empty, or runs backwards, is corrupt. */
	c = dense_meta(&d, s[0].t, s[119].t);
	{
		const int64_t bad[][2] = { { s[0].t, s[119].t + 1 }, { s[0].t, s[0].t },
					   { s[119].t, s[0].t }, { INT64_MIN, INT64_MAX } };

		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			struct tsdb_dense_iter it;

			c.mint = bad[k][0];
			c.maxt = bad[k][1];
			tsdb_dense_iter_init(&it, &c);
			assert_true(it.corrupt);
			assert_false(tsdb_dense_iter_next(&it));
		}
	}
	/* Seeking: to the first sample at or after t, never backwards. */
	{
		struct tsdb_dense_iter it;
		int64_t t;
		double v;

		c = dense_meta(&d, s[0].t, s[119].t);
		tsdb_dense_iter_init(&it, &c);
		assert_true(tsdb_dense_iter_seek(&it, s[50].t));
		tsdb_dense_iter_at(&it, &t, &v);
		assert_int_equal(t, s[50].t);
		assert_true(tsdb_dense_iter_seek(&it, s[10].t));
		tsdb_dense_iter_at(&it, &t, &v);
		assert_int_equal(t, s[50].t);
		assert_false(tsdb_dense_iter_seek(&it, s[119].t + 1));
	}
	buf_free(&d);
}

/* Dense chunks as the last build writing 0x81 wrote them (revision dd9b111), in hex,
 * one per case of test_dense_v1_chunks() below. */
static const char *const v1_hex[] = {
	/* v1_counter */
	"1480a0abfef9629a7509020521861862080202eea6a904be04bb0e02e8075588"
	"545501",
	/* v1_const */
	"1e80c495a9bf68e0d40300000000b81700",
	/* v1_accel */
	"109f8d06e807000003020e060c00",
	/* v1_noise */
	"1000e0d40300000001e707a10101e8070110",
	/* v1_raw */
	"1000e0d40300000000cf0f0b010088be00a01f00e90320fa02807e00a40f80e8"
	"0b00fa",
	/* v1_pages */
	"1000e0d403000000018080f403ff7f0180e0018944",
	/* v1_one */
	"01090100960100",
	/* v1_two */
	"0209080100960100",
};

/* Chunks in the layout older builds wrote (0x81, TSDB_ENC_DENSE; bytes above written by
 * that code) read back as they were written: each mode, regular and irregular
 * timestamps, one and two samples. */
static void test_dense_v1_chunks(void **state)
{
	static const size_t counts[] = { 20, 30, 16, 16, 16, 16, 1, 2 };
	int64_t t[64];
	double v[64];

	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		uint8_t bytes[64];
		size_t len = strlen(v1_hex[k]) / 2;

		for (size_t i = 0; i < len; i++)
			sscanf(v1_hex[k] + 2 * i, "%2hhx", &bytes[i]);
		/* the samples each was made from */
		for (int i = 0; i < 30; i++) {
			switch (k) {
			case 0:
				t[i] = 1700000000000LL + 15000LL * i + (i * 7 % 5);
				v[i] = (double)(4532663 + 37 * i * i % 1000 + 250 * i) / 100;
				break;
			case 1:
				t[i] = 1795205280000LL + 60000LL * i;
				v[i] = 1500;
				break;
			case 2:
				t[i] = -50000 + 1000LL * i;
				v[i] = (double)(i * i * 3 + 7) / 1000;
				break;
			case 3:
				t[i] = 60000LL * i;
				v[i] = (double)((i * 7919) % 1000 - 500);
				break;
			case 4:
				t[i] = 60000LL * i;
				v[i] = (i % 2 ? 1000 : -1000) + i % 3;
				break;
			case 5:
				t[i] = 60000LL * i;
				v[i] = 4096.0 * (1000 + (i * 5) % 7);
				break;
			default:
				t[i] = i ? 3 : -5;
				v[i] = 7.5;
			}
		}
		{
			struct tsdb_chunk_meta c = { t[0], t[counts[k] - 1], bytes, len,
						     TSDB_ENC_DENSE };
			struct tsdb_chunk_iter it;
			size_t i = 0;

			assert_int_equal(tsdb_chunk_samples(&c), counts[k]);
			tsdb_chunk_iter_init(&it, &c);
			while (tsdb_chunk_iter_next(&it)) {
				int64_t tt;
				double vv;

				assert_true(i < counts[k]);
				tsdb_chunk_iter_at(&it, &tt, &vv);
				assert_int_equal(tt, t[i]);
				assert_int_equal(tsdb_f2b(vv), tsdb_f2b(v[i]));
				i++;
			}
			assert_false(tsdb_chunk_iter_corrupt(&it));
			assert_int_equal(i, counts[k]);
			/* and truncated, corrupt */
			for (size_t cut = 0; cut + 1 < len; cut++) {
				c.len = cut;
				tsdb_chunk_iter_init(&it, &c);
				while (tsdb_chunk_iter_next(&it))
					;
				assert_true(tsdb_chunk_iter_corrupt(&it));
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_roundtrip_random),
		cmocka_unit_test(test_edge_values_exact),
		cmocka_unit_test(test_extreme_timestamps),
		cmocka_unit_test(test_order_rejected),
		cmocka_unit_test(test_one_and_120_samples),
		cmocka_unit_test(test_full_chunk),
		cmocka_unit_test(test_every_prefix_readable),
		cmocka_unit_test(test_seek),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_decimal_split),
		cmocka_unit_test(test_dense_golden),
		cmocka_unit_test(test_dense_roundtrips),
		cmocka_unit_test(test_dense_refuses),
		cmocka_unit_test(test_dense_encode_arrays),
		cmocka_unit_test(test_dense_seek_matches_next),
		cmocka_unit_test(test_dense_malformed),
		cmocka_unit_test(test_dense_v1_chunks),
	};

	return cmocka_run_group_tests_name("tsdb_chunk", tests, NULL, NULL);
}
