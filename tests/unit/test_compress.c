/*
 * compress: round trips for every codec, corrupt and truncated input, decompression
 * bombs against the output limit, and Content-Encoding name parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zstd.h>

#include "compress/compress.h"

static const enum compress_codec all_codecs[] = {
	COMPRESS_NONE, COMPRESS_SNAPPY, COMPRESS_GZIP, COMPRESS_DEFLATE, COMPRESS_ZSTD,
};
static const enum compress_codec real_codecs[] = {
	COMPRESS_SNAPPY, COMPRESS_GZIP, COMPRESS_DEFLATE, COMPRESS_ZSTD,
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

/* Half random, half repetitive: exercises both literal and match paths. */
static unsigned char *make_input(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);

	assert_non_null(p);
	fill_random(p, n / 2, 42);
	for (size_t i = n / 2; i < n; i++)
		p[i] = (unsigned char)"lgtm-native "[i % 12];
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void round_trip(enum compress_codec c, size_t n, int level)
{
	unsigned char *in = make_input(n);
	struct buf enc = { 0 }, dec = { 0 };
	char err[128] = "";

	assert_int_equal(compress_encode(c, in, n, level, &enc, err, sizeof(err)), 0);
	assert_int_equal(compress_decode(c, enc.data, enc.len, n, &dec, err, sizeof(err)), 0);
	assert_int_equal(dec.len, n);
	if (n)
		assert_memory_equal(dec.data, in, n);
	buf_free(&enc);
	buf_free(&dec);
	free(in);
}

static void test_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 100, 65536, 65537, 1 << 20 };

	for (size_t i = 0; i < N(all_codecs); i++)
		for (size_t j = 0; j < N(sizes); j++)
			round_trip(all_codecs[i], sizes[j], 0);
	round_trip(COMPRESS_GZIP, 100000, 1);
	round_trip(COMPRESS_GZIP, 100000, 99);  /* clamped to 9 */
	round_trip(COMPRESS_ZSTD, 100000, 19);
	round_trip(COMPRESS_ZSTD, 100000, -5);
}

static void test_decode_appends(void **state)
{
	struct buf enc = { 0 }, dec = { 0 };
	char err[128];

	buf_puts(&dec, "prefix:");
	assert_int_equal(compress_encode(COMPRESS_GZIP, "hello", 5, 0, &enc, err, sizeof(err)), 0);
	/* The limit counts new output only. */
	assert_int_equal(compress_decode(COMPRESS_GZIP, enc.data, enc.len, 5, &dec, err,
					 sizeof(err)), 0);
	assert_string_equal(dec.data, "prefix:hello");
	buf_free(&enc);
	buf_free(&dec);
}

static void test_exact_limit(void **state)
{
	unsigned char *in = make_input(200000);
	char err[128];

	for (size_t i = 0; i < N(all_codecs); i++) {
		struct buf enc = { 0 }, dec = { 0 };

		assert_int_equal(compress_encode(all_codecs[i], in, 200000, 0, &enc, err,
						 sizeof(err)), 0);
		assert_int_equal(compress_decode(all_codecs[i], enc.data, enc.len, 200000, &dec,
						 err, sizeof(err)), 0);
		buf_reset(&dec);
		assert_int_equal(compress_decode(all_codecs[i], enc.data, enc.len, 199999, &dec,
						 err, sizeof(err)), COMPRESS_ETOOBIG);
		assert_true(dec.len <= 199999);
		buf_free(&enc);
		buf_free(&dec);
	}
	free(in);
}

static void test_corrupt(void **state)
{
	static const char garbage[] = "this is not compressed data at all, not even close!!";
	unsigned char *in = make_input(50000);
	char err[128];

	for (size_t i = 0; i < N(real_codecs); i++) {
		struct buf enc = { 0 }, dec = { 0 };
		int ret;

		err[0] = '\0';
		ret = compress_decode(real_codecs[i], garbage, sizeof(garbage) - 1, 1 << 20,
				      &dec, err, sizeof(err));
		/* Snappy's header is a bare varint, so garbage may first claim a huge length. */
		assert_true(ret == COMPRESS_ECORRUPT || ret == COMPRESS_ETOOBIG);
		assert_true(err[0] != '\0');

		/* Flip bytes in the middle of a valid stream (snappy has no checksum, so
		 * flipped literals would decode; it gets a crafted case below). */
		if (real_codecs[i] == COMPRESS_SNAPPY) {
			buf_free(&dec);
			continue;
		}
		assert_int_equal(compress_encode(real_codecs[i], in, 50000, 0, &enc, err,
						 sizeof(err)), 0);
		for (size_t k = enc.len / 3; k < enc.len / 3 + 16; k++)
			enc.data[k] ^= 0x5a;
		buf_reset(&dec);
		assert_int_equal(compress_decode(real_codecs[i], enc.data, enc.len, 1 << 20, &dec,
						 err, sizeof(err)), COMPRESS_ECORRUPT);
		buf_free(&enc);
		buf_free(&dec);
	}
	free(in);
}

static void test_corrupt_snappy(void **state)
{
	/* Declares 10 bytes, then copies 4 bytes from 100 bytes before the start. */
	static const unsigned char bad_offset[] = { 0x0a, 0x0e, 0x64, 0x00 };
	/* Declares 10 bytes, delivers a 3-byte literal. */
	static const unsigned char short_lit[] = { 0x0a, 0x08, 'a', 'b', 'c' };
	struct buf dec = { 0 };
	char err[128];

	assert_int_equal(compress_decode(COMPRESS_SNAPPY, bad_offset, sizeof(bad_offset), 100,
					 &dec, err, sizeof(err)), COMPRESS_ECORRUPT);
	assert_int_equal(compress_decode(COMPRESS_SNAPPY, short_lit, sizeof(short_lit), 100,
					 &dec, err, sizeof(err)), COMPRESS_ECORRUPT);
	assert_string_equal(err, "snappy: corrupt input");
	buf_free(&dec);
}

static void test_truncated(void **state)
{
	unsigned char *in = make_input(100000);
	char err[128];

	for (size_t i = 0; i < N(real_codecs); i++) {
		struct buf enc = { 0 }, dec = { 0 };
		size_t cuts[3];

		assert_int_equal(compress_encode(real_codecs[i], in, 100000, 0, &enc, err,
						 sizeof(err)), 0);
		cuts[0] = 0;
		cuts[1] = enc.len / 2;
		cuts[2] = enc.len - 1;
		for (size_t k = 0; k < N(cuts); k++) {
			buf_reset(&dec);
			err[0] = '\0';
			assert_int_equal(compress_decode(real_codecs[i], enc.data, cuts[k], 1 << 20,
							 &dec, err, sizeof(err)),
					 COMPRESS_ECORRUPT);
			assert_true(err[0] != '\0');
		}
		buf_free(&enc);
		buf_free(&dec);
	}
	free(in);
}

static void test_trailing_data(void **state)
{
	struct buf enc = { 0 }, dec = { 0 };
	char err[128];

	/* Two gzip members are one body. */
	assert_int_equal(compress_encode(COMPRESS_GZIP, "abc", 3, 0, &enc, err, sizeof(err)), 0);
	assert_int_equal(compress_encode(COMPRESS_GZIP, "def", 3, 0, &enc, err, sizeof(err)), 0);
	assert_int_equal(compress_decode(COMPRESS_GZIP, enc.data, enc.len, 100, &dec, err,
					 sizeof(err)), 0);
	assert_string_equal(dec.data, "abcdef");
	/* Garbage after a complete stream is not. */
	buf_puts(&enc, "junk");
	buf_reset(&dec);
	assert_int_equal(compress_decode(COMPRESS_GZIP, enc.data, enc.len, 100, &dec, err,
					 sizeof(err)), COMPRESS_ECORRUPT);
	buf_reset(&enc);
	assert_int_equal(compress_encode(COMPRESS_DEFLATE, "abc", 3, 0, &enc, err, sizeof(err)),
			 0);
	buf_puts(&enc, "x");
	buf_reset(&dec);
	assert_int_equal(compress_decode(COMPRESS_DEFLATE, enc.data, enc.len, 100, &dec, err,
					 sizeof(err)), COMPRESS_ECORRUPT);
	buf_free(&enc);
	buf_free(&dec);
}

#define BOMB_SIZE (100u << 20)
#define BOMB_LIMIT (1u << 20)

static void check_bomb(enum compress_codec c, const struct buf *enc)
{
	struct buf dec = { 0 };
	char err[128] = "";
	double t0 = now_s();

	assert_int_equal(compress_decode(c, enc->data, enc->len, BOMB_LIMIT, &dec, err,
					 sizeof(err)), COMPRESS_ETOOBIG);
	assert_true(dec.len <= BOMB_LIMIT);
	assert_non_null(strstr(err, "limit"));
	/* Decoding 1 MiB is milliseconds; all 100 MiB would take far longer. Generous
	 * bound for sanitizer builds. */
	assert_true(now_s() - t0 < 2.0);
	buf_free(&dec);
}

static void test_bombs(void **state)
{
	unsigned char *zeros = calloc(1, BOMB_SIZE);
	char err[128];

	assert_non_null(zeros);
	for (size_t i = 0; i < N(real_codecs); i++) {
		struct buf enc = { 0 };

		assert_int_equal(compress_encode(real_codecs[i], zeros, BOMB_SIZE, 1, &enc, err,
						 sizeof(err)), 0);
		assert_true(enc.len < BOMB_SIZE / 10);
		check_bomb(real_codecs[i], &enc);
		buf_free(&enc);
	}
	free(zeros);
}

static void test_snappy_declared_length(void **state)
{
	/* A header claiming ~4 GiB followed by nothing: refused on the length alone, before
	 * any allocation or decoding (decoding would call it corrupt instead). */
	static const unsigned char hdr[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00 };
	struct buf dec = { 0 };
	char err[128];

	assert_int_equal(compress_decode(COMPRESS_SNAPPY, hdr, sizeof(hdr), BOMB_LIMIT, &dec, err,
					 sizeof(err)), COMPRESS_ETOOBIG);
	assert_int_equal(dec.len, 0);
	assert_null(dec.data);
	buf_free(&dec);
}

static void test_zstd_streamed_bomb(void **state)
{
	/* A frame written by the streaming encoder carries no content size at all. */
	size_t n = 20u << 20, bound = ZSTD_compressBound(n);
	unsigned char *zeros = calloc(1, n), *dst = malloc(bound);
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	ZSTD_inBuffer ib = { zeros, n, 0 };
	ZSTD_outBuffer ob = { dst, bound, 0 };
	struct buf enc = { 0 };
	size_t left;

	assert_non_null(zeros);
	assert_non_null(dst);
	assert_non_null(cctx);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0)));
	do {
		left = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end);
		assert_false(ZSTD_isError(left));
	} while (left);
	assert_int_equal(ZSTD_getFrameContentSize(dst, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	buf_append(&enc, dst, ob.pos);
	check_bomb(COMPRESS_ZSTD, &enc);
	buf_free(&enc);
	ZSTD_freeCCtx(cctx);
	free(dst);
	free(zeros);
}

static void test_codec_parse(void **state)
{
	static const struct {
		const char *s;
		int ret;
		enum compress_codec c;
	} cases[] = {
		{ NULL, 0, COMPRESS_NONE },
		{ "", 0, COMPRESS_NONE },
		{ "identity", 0, COMPRESS_NONE },
		{ "snappy", 0, COMPRESS_SNAPPY },
		{ "SNAPPY", 0, COMPRESS_SNAPPY },
		{ "gzip", 0, COMPRESS_GZIP },
		{ " x-gzip ", 0, COMPRESS_GZIP },
		{ "Deflate", 0, COMPRESS_DEFLATE },
		{ "zstd", 0, COMPRESS_ZSTD },
		{ "br", COMPRESS_EUNKNOWN, COMPRESS_NONE },
		{ "gzip, snappy", COMPRESS_EUNKNOWN, COMPRESS_NONE },
		{ "gzipx", COMPRESS_EUNKNOWN, COMPRESS_NONE },
	};

	for (size_t i = 0; i < N(cases); i++) {
		enum compress_codec c = COMPRESS_ZSTD + 1;
		int ret = compress_codec_parse(cases[i].s, &c);

		assert_int_equal(ret, cases[i].ret);
		if (ret == 0)
			assert_int_equal(c, cases[i].c);
	}
	assert_string_equal(compress_codec_name(COMPRESS_NONE), "identity");
	assert_string_equal(compress_codec_name(COMPRESS_SNAPPY), "snappy");
	assert_string_equal(compress_codec_name(COMPRESS_GZIP), "gzip");
	assert_string_equal(compress_codec_name(COMPRESS_DEFLATE), "deflate");
	assert_string_equal(compress_codec_name(COMPRESS_ZSTD), "zstd");
	for (size_t i = 0; i < N(all_codecs); i++) {
		enum compress_codec c;

		assert_int_equal(compress_codec_parse(compress_codec_name(all_codecs[i]), &c), 0);
		assert_int_equal(c, all_codecs[i]);
	}
}

static void test_unknown_codec(void **state)
{
	struct buf b = { 0 };
	char err[64];

	assert_int_equal(compress_decode((enum compress_codec)99, "x", 1, 10, &b, err,
					 sizeof(err)), COMPRESS_EUNKNOWN);
	assert_int_equal(compress_encode((enum compress_codec)99, "x", 1, 0, &b, err,
					 sizeof(err)), COMPRESS_EUNKNOWN);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_decode_appends),
		cmocka_unit_test(test_exact_limit),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_corrupt_snappy),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_trailing_data),
		cmocka_unit_test(test_bombs),
		cmocka_unit_test(test_snappy_declared_length),
		cmocka_unit_test(test_zstd_streamed_bomb),
		cmocka_unit_test(test_codec_parse),
		cmocka_unit_test(test_unknown_codec),
	};

	return cmocka_run_group_tests_name("compress", tests, NULL, NULL);
}
