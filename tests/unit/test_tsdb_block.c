/* tsdb blocks: ULIDs, writing the head as a block and reading it back (out-of-order
 * samples merged, range clipping), index lookups compared against the head's answers,
 * corruption detection, compaction planning and merging, and promtool (Prometheus
 * 2.42) reading our blocks as the format oracle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mapped_rss.h"

#include "tsdb/block_internal.h"
#include "tsdb/wal.h"

#define LS(...) ((struct labels){ (struct label[]){ __VA_ARGS__ }, \
	sizeof((struct label[]){ __VA_ARGS__ }) / sizeof(struct label) })
#define PROMTOOL "/usr/bin/promtool"
#define MIN 60000LL

static char dir[256];
static char err[1024];
/* The encoding write_head() uses: the tests that run for both set it. */
static enum tsdb_block_encoding wenc = TSDB_BLOCK_PROMETHEUS;

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lgtm-test-block-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	wenc = TSDB_BLOCK_PROMETHEUS;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct tsdb_head *head(int64_t ooo_window)
{
	struct tsdb_head_options o = { .chunk_range_ms = MIN, .ooo_window_ms = ooo_window };
	struct tsdb_head *h;

	assert_int_equal(tsdb_head_new(&o, &h, err, sizeof(err)), 0);
	return h;
}

static void add(struct tsdb_head *h, struct labels ls, int64_t t, double v)
{
	uint64_t ref;
	bool created;

	assert_int_equal(tsdb_head_append_labels(h, &ls, t, v, &ref, &created, err, sizeof(err)), 0);
}

/* Every series and sample a select returns, as text ("{labels} t=bits ..."). */
static void dump_set(struct tsdb_series_set *ss, struct buf *out)
{
	while (tsdb_series_set_next(ss)) {
		struct tsdb_iterator *it = tsdb_series_set_iterator(ss);

		labels_format(tsdb_series_set_labels(ss), out);
		while (tsdb_iterator_next(it)) {
			int64_t t;
			double v;
			uint64_t bits;

			tsdb_iterator_at(it, &t, &v);
			memcpy(&bits, &v, 8);
			buf_printf(out, " %lld=%llx", (long long)t, (unsigned long long)bits);
		}
		assert_int_equal(tsdb_iterator_err(it, err, sizeof(err)), 0);
		buf_putc(out, '\n');
	}
	assert_int_equal(tsdb_series_set_err(ss, err, sizeof(err)), 0);
}

static char *dump(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n)
{
	struct tsdb_series_set *ss;
	struct buf out = { 0 };

	assert_int_equal(tsdb_querier_select(q, ms, n, NULL, &ss, err, sizeof(err)), 0);
	dump_set(ss, &out);
	buf_putc(&out, '.');
	return buf_steal(&out, NULL);
}

static char *strings(const struct tsdb_strings *s)
{
	struct buf out = { 0 };

	for (size_t i = 0; i < s->n; i++)
		buf_printf(&out, "%s,", s->v[i]);
	buf_putc(&out, '.');
	return buf_steal(&out, NULL);
}

static void write_head(struct tsdb_head *h, int64_t mint, int64_t maxt,
		       struct tsdb_block_meta *meta)
{
	bool written;

	memset(meta, 0, sizeof(*meta));
	assert_int_equal(tsdb_block_write_head(h, dir, mint, maxt, wenc, meta,
					       &written, err,
					       sizeof(err)), 0);
	assert_true(written);
}

/* Open the block whose index is at `index_path`; 0 or TSDB_EFAIL. */
static int open_block_at(const char *index_path, struct tsdb_block **b)
{
	char d[512];

	snprintf(d, sizeof(d), "%s", index_path);
	*strrchr(d, '/') = '\0';
	return tsdb_block_open(d, b, err, sizeof(err));
}

static struct tsdb_block *open_block(const char *ulid)
{
	char path[512];
	struct tsdb_block *b;

	snprintf(path, sizeof(path), "%s/%s", dir, ulid);
	if (tsdb_block_open(path, &b, err, sizeof(err)) < 0)
		fail_msg("open: %s", err);
	return b;
}

/* --- ULIDs ----------------------------------------------------------------------------- */

static void test_ulid(void **state)
{
	char a[TSDB_ULID_LEN + 1], b[TSDB_ULID_LEN + 1];
	int64_t t = 1700000000123LL;

	assert_int_equal(tsdb_ulid_new(t, a), 0);
	assert_int_equal(tsdb_ulid_new(t, b), 0);
	assert_int_equal(strlen(a), 26);
	assert_true(tsdb_ulid_valid(a));
	assert_string_not_equal(a, b); /* 80 random bits */
	assert_int_equal(tsdb_ulid_time(a), t);
	assert_int_equal(memcmp(a, b, 10), 0); /* the time part */
	/* The spec's example 01ARZ3NDEKTSV4RRFFQ69G5FAV: its first 10 characters in
	 * Crockford base32 are 1469922850259 ms. */
	assert_int_equal(tsdb_ulid_time("01ARZ3NDEKTSV4RRFFQ69G5FAV"), 1469922850259LL);
	assert_true(tsdb_ulid_valid("01arz3ndektsv4rrffq69g5fav"));
	assert_false(tsdb_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FA"));   /* 25 */
	assert_false(tsdb_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAVX")); /* 27 */
	assert_false(tsdb_ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAU"));  /* no U */
	assert_false(tsdb_ulid_valid("81ARZ3NDEKTSV4RRFFQ69G5FAV"));  /* > 128 bits */
	assert_int_equal(tsdb_ulid_time("nope"), -1);
	/* Later times sort later. */
	assert_int_equal(tsdb_ulid_new(t + 1, b), 0);
	assert_true(strcmp(a, b) < 0);
}

/* --- write and read --------------------------------------------------------------------- */

/* Three series over [0, 3 min) every 15 s; "ooo" gets out-of-order samples. */
static struct tsdb_head *fixture(void)
{
	struct tsdb_head *h = head(10 * MIN);

	for (int64_t t = 0; t < 3 * MIN; t += 15000) {
		add(h, LS({ "__name__", "up" }, { "job", "node" }, { "instance", "a" }), t, 1);
		add(h, LS({ "__name__", "up" }, { "job", "node" }, { "instance", "b" }), t, t % 2);
		add(h, LS({ "__name__", "ooo" }, { "job", "api" }), t + 1000, (double)t / 7);
	}
	/* Out of order, inside and outside the first minute. */
	add(h, LS({ "__name__", "ooo" }, { "job", "api" }), 500, 42);
	add(h, LS({ "__name__", "ooo" }, { "job", "api" }), 2000, 43);
	add(h, LS({ "__name__", "ooo" }, { "job", "api" }), MIN + 500, 44);
	add(h, LS({ "__name__", "ooo" }, { "job", "api" }), 1000, 99); /* duplicate t: kept as first */
	/* A stale marker and a NaN survive bit for bit. */
	add(h, LS({ "__name__", "stale" }), 30000, tsdb_stale_nan());
	return h;
}

static void test_write_read_roundtrip(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_block_meta meta;
	struct tsdb_querier *hq, *bq;
	struct tsdb_block *b;
	char *want, *got, path[512];
	struct stat st;

	write_head(h, 0, MIN, &meta);
	assert_int_equal(meta.mint, 0);
	assert_int_equal(meta.maxt, MIN);
	assert_int_equal(meta.level, 1);
	assert_int_equal(meta.nsources, 1);
	assert_string_equal(meta.sources[0], meta.ulid);
	assert_int_equal(meta.num_series, 4);
	/* a, b: 4 samples each; ooo: 4 in order + 2 out of order; stale: 1. */
	assert_int_equal(meta.num_samples, 4 + 4 + 6 + 1);
	snprintf(path, sizeof(path), "%s/%s.tmp-for-creation", dir, meta.ulid);
	assert_int_not_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/%s/chunks/000001", dir, meta.ulid);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/%s/tombstones", dir, meta.ulid);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 9);

	b = open_block(meta.ulid);
	assert_string_equal(tsdb_block_meta(b)->ulid, meta.ulid);
	assert_int_equal(tsdb_block_meta(b)->num_chunks, meta.num_chunks);
	assert_true(tsdb_block_size(b) > 0);
	assert_int_equal(tsdb_head_querier(h, 0, MIN - 1, &hq, err, sizeof(err)), 0);
	assert_int_equal(tsdb_block_querier(b, 0, MIN - 1, &bq, err, sizeof(err)), 0);
	want = dump(hq, NULL, 0);
	got = dump(bq, NULL, 0);
	assert_string_equal(got, want);
	assert_non_null(strstr(got, "{__name__=\"ooo\", job=\"api\"} 500=4045000000000000 1000="));
	assert_null(strstr(got, "60500=")); /* outside the block */
	assert_non_null(strstr(got, "30000=7ff0000000000002"));
	free(want);
	free(got);
	tsdb_querier_close(hq);
	tsdb_querier_close(bq);
	tsdb_block_unref(b);
	tsdb_block_meta_free(&meta);
	tsdb_head_free(h);
}

/* A block of many series: the writer's series records (~400 KiB here) go to a scratch
 * file and are read back through a mapping dropped as it is read; the block reads as
 * the head does, in both encodings, and nothing of the scratch file is left. */
static void many_series(void)
{
	struct tsdb_head *h = head(0);
	struct tsdb_block_meta meta;
	struct tsdb_querier *hq, *bq;
	struct tsdb_block *b;
	char *want, *got, name[32], inst[32], cmd[600];

	for (int64_t t = 0; t < MIN; t += 15000) {
		for (int i = 0; i < 20000; i++) {
			snprintf(name, sizeof(name), "m%d", i % 97);
			snprintf(inst, sizeof(inst), "host-%d", i);
			add(h, LS({ "__name__", name }, { "instance", inst }, { "job", "node" }), t,
			    (double)(i * t % 1009));
		}
	}
	write_head(h, 0, MIN, &meta);
	assert_int_equal(meta.num_series, 20000);
	b = open_block(meta.ulid);
	assert_int_equal(tsdb_head_querier(h, 0, MIN - 1, &hq, err, sizeof(err)), 0);
	assert_int_equal(tsdb_block_querier(b, 0, MIN - 1, &bq, err, sizeof(err)), 0);
	want = dump(hq, NULL, 0);
	got = dump(bq, NULL, 0);
	assert_string_equal(got, want);
	free(want);
	free(got);
	tsdb_querier_close(hq);
	tsdb_querier_close(bq);
	tsdb_block_unref(b);
	snprintf(cmd, sizeof(cmd), "test $(ls %s/%s | wc -l) -eq 4", dir, meta.ulid);
	assert_int_equal(system(cmd), 0); /* chunks, index, meta.json, tombstones */
	tsdb_block_meta_free(&meta);
	tsdb_head_free(h);
}

static void test_many_series(void **state)
{
	many_series();
	wenc = TSDB_BLOCK_DENSE;
	many_series();
}

static void test_empty_range_writes_nothing(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_block_meta meta = { 0 };
	bool written = true;

	assert_int_equal(tsdb_block_write_head(h, dir, 100 * MIN, 101 * MIN, TSDB_BLOCK_PROMETHEUS,
					       &meta, &written, err, sizeof(err)), 0);
	assert_false(written);
	assert_int_equal(tsdb_block_write_head(h, "/nonexistent/dir", 0, MIN,
					       TSDB_BLOCK_PROMETHEUS, &meta, &written, err,
					       sizeof(err)), TSDB_EFAIL);
	assert_int_equal(tsdb_block_write_head(h, dir, MIN, MIN, TSDB_BLOCK_PROMETHEUS, &meta,
					       &written, err, sizeof(err)), TSDB_EFAIL);
	tsdb_head_free(h);
}

static void test_writer_contract(void **state)
{
	struct tsdb_block_writer *w;
	struct tsdb_xor_appender app;
	struct tsdb_chunk_meta c[2];
	struct labels a = LS({ "a", "1" }), b = LS({ "a", "2" });
	size_t len;

	assert_int_equal(tsdb_block_writer_new(dir, 0, 1000, TSDB_BLOCK_PROMETHEUS, &w, err,
					       sizeof(err)), 0);
	tsdb_xor_appender_init(&app);
	assert_int_equal(tsdb_xor_append(&app, 10, 1, err, sizeof(err)), 0);
	c[0] = (struct tsdb_chunk_meta){ 10, 10, tsdb_xor_appender_finish(&app, &len), 0, 0 };
	c[0].len = len;
	assert_int_equal(tsdb_xor_append(&app, 2000, 1, err, sizeof(err)), 0);
	c[1] = (struct tsdb_chunk_meta){ 2000, 2000, tsdb_xor_appender_finish(&app, &len), 0, 0 };
	c[1].len = len;
	assert_int_equal(tsdb_block_writer_add(w, &b, c, 1, err, sizeof(err)), 0);
	/* Label order, chunk range and overlap are enforced. */
	assert_int_equal(tsdb_block_writer_add(w, &a, c, 1, err, sizeof(err)), TSDB_EFAIL);
	assert_non_null(strstr(err, "label order"));
	b = LS({ "b", "1" });
	assert_int_equal(tsdb_block_writer_add(w, &b, &c[1], 1, err, sizeof(err)), TSDB_EFAIL);
	assert_non_null(strstr(err, "outside the block"));
	c[1].mint = c[1].maxt = 10;
	assert_int_equal(tsdb_block_writer_add(w, &b, c, 2, err, sizeof(err)), TSDB_EFAIL);
	assert_int_equal(tsdb_block_writer_series(w), 1);
	tsdb_block_writer_free(w); /* uncommitted: the temporary directory goes */
	free((void *)c[0].data);
	free((void *)c[1].data);
	tsdb_xor_appender_free(&app);
	assert_int_equal(system("test -z \"$(ls -A /tmp/lgtm-test-block-* 2>/dev/null | grep tmp-for)\""), 0);
}

/* --- index lookups: the block must answer exactly as the head does ------------------------ */

struct mspec {
	enum tsdb_match_type type;
	const char *name, *value;
};

static const struct mspec queries[][3] = {
	{ { TSDB_MATCH_EQ, "__name__", "up" } },
	{ { TSDB_MATCH_EQ, "job", "node" }, { TSDB_MATCH_NEQ, "instance", "a" } },
	{ { TSDB_MATCH_RE, "__name__", "u.|oo+" } },
	{ { TSDB_MATCH_RE, "instance", "a|b" } },
	{ { TSDB_MATCH_NRE, "job", "node" } },
	{ { TSDB_MATCH_EQ, "instance", "" } },       /* series without the label */
	{ { TSDB_MATCH_NEQ, "instance", "" } },
	{ { TSDB_MATCH_RE, "job", ".*" }, { TSDB_MATCH_EQ, "__name__", "stale" } },
	{ { TSDB_MATCH_EQ, "nosuch", "x" } },
	{ { TSDB_MATCH_RE, "job", "n.*" }, { TSDB_MATCH_NRE, "instance", "b|c" } },
};

static size_t compile(const struct mspec *q, struct tsdb_matcher *ms)
{
	size_t n = 0;

	for (; n < 3 && q[n].name; n++)
		assert_int_equal(tsdb_matcher_init(&ms[n], q[n].type, q[n].name, q[n].value, err,
						   sizeof(err)), 0);
	return n;
}

static void compare_strings(struct tsdb_querier *hq, struct tsdb_querier *bq,
			    const struct tsdb_matcher *ms, size_t n, const char *name)
{
	struct tsdb_strings hs, bs;
	char *x, *y;

	if (name) {
		assert_int_equal(tsdb_querier_label_values(hq, name, ms, n, &hs, err, sizeof(err)), 0);
		assert_int_equal(tsdb_querier_label_values(bq, name, ms, n, &bs, err, sizeof(err)), 0);
	} else {
		assert_int_equal(tsdb_querier_label_names(hq, ms, n, &hs, err, sizeof(err)), 0);
		assert_int_equal(tsdb_querier_label_names(bq, ms, n, &bs, err, sizeof(err)), 0);
	}
	x = strings(&hs);
	y = strings(&bs);
	assert_string_equal(y, x);
	free(x);
	free(y);
}

static void test_index_lookups(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_block_meta meta;
	struct tsdb_querier *hq, *bq;
	struct tsdb_select_hints hints = { .start = 0, .end = 30000, .labels_only = true };
	struct tsdb_series_set *ss;
	struct tsdb_block *b;

	write_head(h, 0, 3 * MIN, &meta);
	b = open_block(meta.ulid);
	assert_int_equal(tsdb_head_querier(h, 0, 3 * MIN, &hq, err, sizeof(err)), 0);
	assert_int_equal(tsdb_block_querier(b, 0, 3 * MIN, &bq, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct tsdb_matcher ms[3];
		size_t n = compile(queries[i], ms);
		char *want = dump(hq, ms, n), *got = dump(bq, ms, n);

		if (strcmp(want, got))
			fail_msg("query %zu: head\n%s\nblock\n%s", i, want, got);
		compare_strings(hq, bq, ms, n, NULL);
		compare_strings(hq, bq, ms, n, "job");
		compare_strings(hq, bq, ms, n, "__name__");
		free(want);
		free(got);
		for (size_t k = 0; k < n; k++)
			tsdb_matcher_free(&ms[k]);
	}
	compare_strings(hq, bq, NULL, 0, NULL);
	compare_strings(hq, bq, NULL, 0, "instance");
	compare_strings(hq, bq, NULL, 0, "nosuch");
	/* Hints narrow the range; labels_only still lists the series. */
	assert_int_equal(tsdb_querier_select(bq, NULL, 0, &hints, &ss, err, sizeof(err)), 0);
	{
		size_t count = 0;

		while (tsdb_series_set_next(ss))
			count++;
		assert_int_equal(count, 4);
	}
	tsdb_querier_close(hq);
	tsdb_querier_close(bq);
	tsdb_block_unref(b);
	tsdb_block_meta_free(&meta);
	tsdb_head_free(h);
}

/* --- corruption ------------------------------------------------------------------------------ */

static void flip_byte(const char *ulid, const char *file, long off)
{
	char path[512];
	FILE *f;
	int c;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, ulid, file);
	f = fopen(path, "r+b");
	assert_non_null(f);
	if (off < 0) {
		fseek(f, 0, SEEK_END);
		off += ftell(f);
	}
	fseek(f, off, SEEK_SET);
	c = fgetc(f);
	fseek(f, off, SEEK_SET);
	fputc(c ^ 0x5a, f);
	fclose(f);
}

static void expect_open_fails(const char *ulid, const char *what)
{
	char path[512];
	struct tsdb_block *b = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, ulid);
	assert_int_equal(tsdb_block_open(path, &b, err, sizeof(err)), TSDB_EFAIL);
	assert_null(b);
	if (!strstr(err, what))
		fail_msg("expected \"%s\" in: %s", what, err);
}

static void test_corruption_detected(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_block_meta m[6];
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	struct tsdb_block *b;
	char path[512];

	for (int i = 0; i < 6; i++)
		write_head(h, 0, MIN, &m[i]);
	flip_byte(m[0].ulid, "index", -3);       /* the TOC's CRC */
	expect_open_fails(m[0].ulid, "TOC");
	flip_byte(m[1].ulid, "index", 12);       /* a symbol */
	expect_open_fails(m[1].ulid, "symbol table");
	flip_byte(m[2].ulid, "meta.json", 2);
	expect_open_fails(m[2].ulid, "meta.json");
	snprintf(path, sizeof(path), "%s/%s/chunks/000001", dir, m[3].ulid);
	assert_int_equal(truncate(path, 4), 0);
	expect_open_fails(m[3].ulid, "chunk");
	/* A flipped bit inside chunk data passes open and fails the read. */
	flip_byte(m[4].ulid, "chunks/000001", 12);
	b = open_block(m[4].ulid);
	assert_int_equal(tsdb_block_querier(b, 0, MIN, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	while (tsdb_series_set_next(ss))
		;
	assert_int_equal(tsdb_series_set_err(ss, err, sizeof(err)), TSDB_EFAIL);
	assert_non_null(strstr(err, "checksum"));
	tsdb_querier_close(q);
	tsdb_block_unref(b);
	/* Open reads the index only: a broken chunk header (the first chunk's length)
	 * passes open too, and fails the read of that chunk. */
	flip_byte(m[5].ulid, "chunks/000001", 8);
	b = open_block(m[5].ulid);
	assert_int_equal(tsdb_block_querier(b, 0, MIN, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	while (tsdb_series_set_next(ss))
		;
	assert_int_equal(tsdb_series_set_err(ss, err, sizeof(err)), TSDB_EFAIL);
	assert_non_null(strstr(err, "chunk"));
	tsdb_querier_close(q);
	tsdb_block_unref(b);
	for (int i = 0; i < 6; i++)
		tsdb_block_meta_free(&m[i]);
	tsdb_head_free(h);
}

/* The same for dense blocks, which have lgtm's own index (block_index.c). */
static void test_dense_write_read_roundtrip(void **state)
{
	wenc = TSDB_BLOCK_DENSE;
	test_write_read_roundtrip(state);
}

static void test_dense_index_lookups(void **state)
{
	wenc = TSDB_BLOCK_DENSE;
	test_index_lookups(state);
}

static void test_dense_corruption_detected(void **state)
{
	wenc = TSDB_BLOCK_DENSE;
	test_corruption_detected(state);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Read everything a querier offers; errors are fine, crashes are not. */
static void read_all(struct tsdb_block *b)
{
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	struct tsdb_strings names, vals;

	assert_int_equal(tsdb_block_querier(b, INT64_MIN, INT64_MAX, &q, err, sizeof(err)), 0);
	if (tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)) == 0) {
		while (tsdb_series_set_next(ss)) {
			struct tsdb_iterator *it = tsdb_series_set_iterator(ss);

			while (tsdb_iterator_next(it))
				;
		}
		(void)tsdb_series_set_err(ss, err, sizeof(err));
	}
	if (tsdb_querier_label_names(q, NULL, 0, &names, err, sizeof(err)) == 0)
		for (size_t i = 0; i < names.n; i++)
			(void)tsdb_querier_label_values(q, names.v[i], NULL, 0, &vals, err,
							sizeof(err));
	tsdb_querier_close(q);
}

/* A dense index mutated with its checksums fixed up (what a checksum cannot catch):
 * opening refuses it or the block reads without going out of bounds. */
static void test_dense_index_hostile(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_block_meta m;
	char path[512];
	struct buf orig = { 0 };
	uint8_t *ix;
	int opened = 0, refused = 0;
	FILE *f;

	wenc = TSDB_BLOCK_DENSE;
	write_head(h, 0, 3 * MIN, &m);
	snprintf(path, sizeof(path), "%s/%s/index", dir, m.ulid);
	{
		char tmp[4096];
		size_t n;

		f = fopen(path, "rb");
		assert_non_null(f);
		while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
			buf_append(&orig, tmp, n);
		fclose(f);
	}
	assert_int_equal((uint8_t)orig.data[4], BLOCK_INDEX_DENSE);
	ix = malloc(orig.len);
	for (int round = 0; round < 600; round++) {
		const uint8_t *toc;
		uint64_t sec[4];
		uint64_t off;
		uint32_t len;
		struct tsdb_block *b;

		memcpy(ix, orig.data, orig.len);
		toc = ix + orig.len - BLOCK_TOC_LEN;
		sec[0] = tsdb_be64(toc);      /* symbols */
		sec[1] = tsdb_be64(toc + 8);  /* series */
		sec[2] = tsdb_be64(toc + 32); /* postings */
		sec[3] = tsdb_be64(toc + 40); /* postings offset table */
		off = sec[round % 4];
		len = tsdb_be32(ix + off);
		for (int k = 0; k < 1 + round % 3; k++)
			ix[off + 4 + (size_t)rand() % len] ^= (uint8_t)(1 + rand() % 255);
		put_be32(ix + off + 4 + len, tsdb_wal_crc32c(0, ix + off + 4, len));
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(ix, 1, orig.len, f), orig.len);
		fclose(f);
		if (open_block_at(path, &b) == 0) {
			opened++;
			read_all(b);
			tsdb_block_unref(b);
		} else {
			refused++;
		}
	}
	print_message("mutated dense indexes: %d refused, %d opened\n", refused, opened);
	assert_true(refused > 0);
	free(ix);
	buf_free(&orig);
	tsdb_block_meta_free(&m);
	tsdb_head_free(h);
}

/* --- memory --------------------------------------------------------------------------- */

/* Opening validates the whole index, a select reads every chunk; neither may leave
 * the files resident in the process, and reading after the release still works. */
static void test_pages_released(void **state)
{
	struct tsdb_head *h = head(0);
	struct tsdb_block_meta m;
	struct tsdb_querier *q;
	struct tsdb_block *b, *merged;
	struct tsdb_block_meta out;
	bool written;
	char *before, *after;

	for (int64_t t = 0; t < MIN; t += 1000)
		for (int i = 0; i < 400; i++) {
			char v[16];

			snprintf(v, sizeof(v), "%d", i);
			add(h, LS({ "__name__", "m" }, { "i", v }), t, (double)(t * i % 977));
		}
	write_head(h, 0, MIN, &m);
	b = open_block(m.ulid);
	assert_int_equal(mapped_rss_kb(m.ulid), 0);
	assert_int_equal(tsdb_block_querier(b, 0, MIN, &q, err, sizeof(err)), 0);
	before = dump(q, NULL, 0);
	tsdb_querier_close(q);
	assert_true(mapped_rss_kb(m.ulid) > 0); /* the check can see pages */
	tsdb_block_release_pages(b);
	assert_int_equal(mapped_rss_kb(m.ulid), 0);
	assert_int_equal(tsdb_block_querier(b, 0, MIN, &q, err, sizeof(err)), 0);
	after = dump(q, NULL, 0);
	assert_string_equal(before, after);
	tsdb_querier_close(q);
	/* A compaction leaves its sources and its result unmapped. */
	assert_int_equal(tsdb_block_compact(&b, 1, dir, TSDB_BLOCK_PROMETHEUS, &out, &written,
					    err, sizeof(err)), 0);
	assert_true(written);
	assert_int_equal(mapped_rss_kb(m.ulid), 0);
	merged = open_block(out.ulid);
	assert_int_equal(mapped_rss_kb(out.ulid), 0);
	free(before);
	free(after);
	tsdb_block_unref(merged);
	tsdb_block_unref(b);
	tsdb_block_meta_free(&out);
	tsdb_block_meta_free(&m);
	tsdb_head_free(h);
}

/* --- compaction --------------------------------------------------------------------------- */

static void test_ranges_and_plan(void **state)
{
	int64_t r[10], h2 = 2 * 3600 * 1000LL;
	struct tsdb_block_meta m[6] = { 0 };
	const struct tsdb_block_meta *mp[6];
	bool skip[6] = { 0 };
	size_t sel[6], n;

	/* 15 d retention caps blocks at 1.5 d: 2h, 6h, 18h. */
	assert_int_equal(tsdb_compact_ranges(h2, 36 * 3600 * 1000LL, r, 10), 3);
	assert_int_equal(r[2], 18 * 3600 * 1000LL);
	assert_int_equal(tsdb_compact_ranges(h2, INT64_MAX, r, 10), 10);
	assert_int_equal(tsdb_compact_ranges(h2, 1, r, 10), 1);
	for (int i = 0; i < 6; i++)
		mp[i] = &m[i];
	/* Four 1-minute blocks: the first three fill a 3-minute window; the newest stays. */
	for (int i = 0; i < 4; i++) {
		m[i].mint = i * MIN;
		m[i].maxt = (i + 1) * MIN;
	}
	assert_int_equal(tsdb_compact_ranges(MIN, 100 * MIN, r, 10), 5);
	n = tsdb_compact_plan(mp, 4, NULL, r, 5, sel);
	assert_int_equal(n, 3);
	assert_int_equal(sel[0], 0);
	assert_int_equal(sel[2], 2);
	/* Only two blocks of the window once the newest is left out, and they reach past
	 * the start of the last remaining one: nothing yet. */
	assert_int_equal(tsdb_compact_plan(mp, 3, NULL, r, 5, sel), 0);
	/* A failed block keeps its window out. */
	skip[1] = true;
	assert_int_equal(tsdb_compact_plan(mp, 4, skip, r, 5, sel), 0);
	/* Overlapping blocks come first, whatever their size. */
	m[4].mint = 30000;
	m[4].maxt = 90000;
	m[5].mint = 10 * MIN;
	m[5].maxt = 11 * MIN;
	mp[1] = &m[4];
	mp[2] = &m[1];
	mp[3] = &m[2];
	mp[4] = &m[3];
	mp[5] = &m[5];
	n = tsdb_compact_plan(mp, 6, NULL, r, 5, sel);
	assert_int_equal(n, 3); /* [0,60s), [30s,90s), [60s,120s) */
	assert_int_equal(sel[0], 0);
	assert_int_equal(sel[1], 1);
	assert_int_equal(sel[2], 2);
	/* A window that is not full compacts once it lies before the last block kept. */
	m[4].mint = 20 * MIN;
	m[4].maxt = 21 * MIN;
	mp[0] = &m[0];
	mp[1] = &m[1];
	mp[2] = &m[5];
	mp[3] = &m[4];
	assert_int_equal(tsdb_compact_plan(mp, 4, NULL, r, 5, sel), 2);
	assert_int_equal(tsdb_compact_plan(mp, 3, NULL, r, 5, sel), 0);
}

static void test_compaction_merges_and_dedups(void **state)
{
	struct tsdb_head *h1 = head(0), *h2 = head(0);
	struct tsdb_block_meta m1, m2, m3, m4, out;
	struct tsdb_block *bs[3], *merged;
	struct tsdb_querier *q, *qs[3];
	char *got, *want;
	bool written;

	/* Overlapping blocks: same series, same timestamps with other values (the block
	 * listed first wins), and series only one block has. */
	for (int64_t t = 0; t < MIN; t += 10000) {
		add(h1, LS({ "__name__", "both" }), t, 1);
		add(h2, LS({ "__name__", "both" }), t + 5000, 2);
		add(h2, LS({ "__name__", "dup" }), t, 3);
		add(h1, LS({ "__name__", "dup" }), t, 4);
		add(h1, LS({ "__name__", "only1" }), t, 5);
	}
	add(h2, LS({ "__name__", "later" }), 2 * MIN, 6);
	write_head(h1, 0, MIN, &m1);
	write_head(h2, 0, MIN, &m2);
	write_head(h2, 2 * MIN, 3 * MIN, &m3);
	bs[0] = open_block(m1.ulid);
	bs[1] = open_block(m2.ulid);
	bs[2] = open_block(m3.ulid);
	assert_int_equal(tsdb_block_compact(bs, 3, dir, TSDB_BLOCK_PROMETHEUS, &out, &written,
					    err, sizeof(err)), 0);
	assert_true(written);
	assert_int_equal(out.level, 2);
	assert_int_equal(out.nsources, 3);
	assert_int_equal(out.nparents, 3);
	assert_int_equal(out.mint, 0);
	assert_int_equal(out.maxt, 3 * MIN);
	assert_int_equal(out.num_series, 4);
	assert_int_equal(out.num_samples, 12 + 6 + 6 + 1);
	merged = open_block(out.ulid);
	assert_int_equal(tsdb_block_querier(merged, INT64_MIN, INT64_MAX, &q, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tsdb_block_querier(bs[i], INT64_MIN, INT64_MAX, &qs[i], err,
						    sizeof(err)), 0);
	{
		struct tsdb_querier *mq;

		assert_int_equal(tsdb_merge_querier(qs, 3, INT64_MIN, INT64_MAX, &mq, err,
						    sizeof(err)), 0);
		want = dump(mq, NULL, 0);
		tsdb_querier_close(mq);
	}
	got = dump(q, NULL, 0);
	assert_string_equal(got, want);
	assert_non_null(strstr(got, "{__name__=\"dup\"} 0=4010000000000000")); /* 4.0 won */
	free(got);
	free(want);
	tsdb_querier_close(q);
	/* Compacting blocks that do not overlap copies their chunks. */
	write_head(h1, 0, MIN, &m4);
	tsdb_block_unref(bs[1]);
	bs[1] = open_block(m3.ulid);
	tsdb_block_meta_free(&out);
	assert_int_equal(tsdb_block_compact(bs, 2, dir, TSDB_BLOCK_PROMETHEUS, &out, &written,
					    err, sizeof(err)), 0);
	assert_int_equal(out.num_chunks, m1.num_chunks + m3.num_chunks);
	for (int i = 0; i < 3; i++)
		tsdb_block_unref(bs[i]);
	tsdb_block_unref(merged);
	tsdb_block_meta_free(&m1);
	tsdb_block_meta_free(&m2);
	tsdb_block_meta_free(&m3);
	tsdb_block_meta_free(&m4);
	tsdb_block_meta_free(&out);
	tsdb_head_free(h1);
	tsdb_head_free(h2);
}

/* --- promtool as the format oracle ----------------------------------------------------------- */

static int run(const char *cmd, struct buf *out)
{
	char line[1024];
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		buf_puts(out, line);
	return pclose(p);
}

static void test_promtool_reads_our_blocks(void **state)
{
	struct tsdb_head *h;
	struct tsdb_block_meta meta;
	char sub[300], cmd[700];
	struct buf out = { 0 };
	int series = 0;

	if (access(PROMTOOL, X_OK) != 0)
		skip();
	h = head(0);
	for (int64_t t = 0; t < 20 * MIN; t += 15000) {
		for (int i = 0; i < 50; i++) {
			char inst[32];

			snprintf(inst, sizeof(inst), "host-%02d", i);
			add(h, LS({ "__name__", "node_cpu_seconds_total" }, { "cpu", "0" },
				  { "instance", inst }, { "mode", i % 2 ? "idle" : "user" }),
			    t, (double)t / 1000 + i);
			if (t == 0)
				add(h, LS({ "__name__", "up" }, { "instance", inst }), 0, 1);
			series += t == 0 ? 2 : 0;
		}
	}
	/* A directory of its own: promtool opens it as a whole database. */
	snprintf(sub, sizeof(sub), "%s/db", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	memset(&meta, 0, sizeof(meta));
	{
		bool written;

		assert_int_equal(tsdb_block_write_head(h, sub, 0, 20 * MIN, TSDB_BLOCK_PROMETHEUS,
						       &meta, &written, err,
						       sizeof(err)), 0);
	}
	snprintf(cmd, sizeof(cmd), PROMTOOL " tsdb list %s 2>&1", sub);
	if (run(cmd, &out) != 0)
		fail_msg("promtool tsdb list failed:\n%s", out.data);
	assert_non_null(strstr(out.data, meta.ulid));
	assert_non_null(strstr(out.data, "4050")); /* samples: 50 x 80 + 50 */
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), PROMTOOL " tsdb analyze %s %s 2>&1", sub, meta.ulid);
	if (run(cmd, &out) != 0)
		fail_msg("promtool tsdb analyze failed:\n%s", out.data);
	{
		char want[64];

		snprintf(want, sizeof(want), "Series: %d", series);
		if (!strstr(out.data, want))
			fail_msg("expected \"%s\" in:\n%s", want, out.data);
	}
	assert_non_null(strstr(out.data, "node_cpu_seconds_total"));
	/* Every sample, as Prometheus decodes it (dump wants a WAL directory, even empty). */
	buf_reset(&out);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/wal && " PROMTOOL " tsdb dump %s 2>&1", sub, sub);
	if (run(cmd, &out) != 0)
		fail_msg("promtool tsdb dump failed:\n%s", out.data);
	{
		size_t lines = 0;

		for (const char *p = out.data; (p = strchr(p, '\n')); p++)
			lines++;
		assert_int_equal(lines, 4050);
	}
	assert_non_null(strstr(out.data, "{__name__=\"node_cpu_seconds_total\", cpu=\"0\", "
				       "instance=\"host-07\", mode=\"idle\"} 907 900000\n"));
	buf_free(&out);
	tsdb_block_meta_free(&meta);
	tsdb_head_free(h);
}

/* --- the dense encoding ------------------------------------------------------------------- */

static void write_head_enc(struct tsdb_head *h, const char *parent, int64_t mint, int64_t maxt,
			   enum tsdb_block_encoding enc, struct tsdb_block_meta *meta)
{
	bool written;

	memset(meta, 0, sizeof(*meta));
	assert_int_equal(tsdb_block_write_head(h, parent, mint, maxt, enc, meta, &written, err,
					       sizeof(err)), 0);
	assert_true(written);
}

static uint64_t chunk_bytes(const char *ulid)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/chunks/000001", dir, ulid);
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static char *dump_block(struct tsdb_block *b)
{
	struct tsdb_querier *q;
	char *s;

	assert_int_equal(tsdb_block_querier(b, INT64_MIN, INT64_MAX, &q, err, sizeof(err)), 0);
	s = dump(q, NULL, 0);
	tsdb_querier_close(q);
	return s;
}

/* Node-exporter-like series for an hour at 15 s: counters in hundredths, byte
 * counters, page-sized gauges, full-precision durations, a series that goes stale. */
static struct tsdb_head *decimal_fixture(void)
{
	struct tsdb_head_options o = { .chunk_range_ms = 60 * MIN };
	struct tsdb_head *h;
	double cpu = 1234.56, bytes = 1e9, mem = 4096.0 * 250000, dur;

	assert_int_equal(tsdb_head_new(&o, &h, err, sizeof(err)), 0);
	for (int64_t t = 0; t < 60 * MIN; t += 15000) {
		cpu = round((cpu + (double)(t % 7) * 0.37) * 100) / 100;
		bytes += (double)((t / 15000) % 13) * 1500;
		mem += 4096.0 * (double)((t / 15000) % 5 - 2);
		dur = 0.0123 * (1.0 + sin((double)t));
		add(h, LS({ "__name__", "cpu_seconds_total" }, { "cpu", "0" }), t, cpu);
		add(h, LS({ "__name__", "rx_bytes_total" }, { "dev", "eth0" }), t, bytes);
		add(h, LS({ "__name__", "mem_free_bytes" }), t, mem);
		add(h, LS({ "__name__", "scrape_duration_seconds" }), t, dur);
		add(h, LS({ "__name__", "up" }), t, t < 50 * MIN ? 1 : tsdb_stale_nan());
	}
	return h;
}

/* Dense blocks read back exactly as Prometheus ones, smaller; writers convert chunks
 * both ways; meta.json says which encoding a block was written in; promtool reads a
 * dense block once compacted back into Prometheus' encoding. */
static void test_dense_blocks(void **state)
{
	struct tsdb_head *h = decimal_fixture();
	struct tsdb_block_meta mp, md, out;
	struct tsdb_block *bp, *bd, *bs[2], *c;
	char *want, *got;
	bool written;

	write_head_enc(h, dir, 0, 30 * MIN, TSDB_BLOCK_PROMETHEUS, &mp);
	write_head_enc(h, dir, 0, 30 * MIN, TSDB_BLOCK_DENSE, &md);
	assert_int_equal(mp.encoding, TSDB_BLOCK_PROMETHEUS);
	assert_int_equal(md.encoding, TSDB_BLOCK_DENSE);
	assert_int_equal(md.num_samples, mp.num_samples);
	assert_int_equal(md.num_chunks, mp.num_chunks);
	print_message("chunk bytes: prometheus %llu, dense %llu\n",
		      (unsigned long long)chunk_bytes(mp.ulid),
		      (unsigned long long)chunk_bytes(md.ulid));
	assert_true(chunk_bytes(md.ulid) * 10 < chunk_bytes(mp.ulid) * 8);
	bp = open_block(mp.ulid);
	bd = open_block(md.ulid);
	assert_int_equal(tsdb_block_meta(bd)->encoding, TSDB_BLOCK_DENSE);
	assert_int_equal(tsdb_block_meta(bp)->encoding, TSDB_BLOCK_PROMETHEUS);
	want = dump_block(bp);
	got = dump_block(bd);
	assert_string_equal(got, want);
	free(got);
	/* Dense + dense-from-the-second-half into Prometheus' encoding, and back. */
	tsdb_block_meta_free(&md);
	write_head_enc(h, dir, 30 * MIN, 60 * MIN, TSDB_BLOCK_DENSE, &md);
	tsdb_block_unref(bp);
	bp = open_block(md.ulid);
	bs[0] = bd;
	bs[1] = bp;
	assert_int_equal(tsdb_block_compact(bs, 2, dir, TSDB_BLOCK_PROMETHEUS, &out, &written,
					    err, sizeof(err)), 0);
	assert_int_equal(out.encoding, TSDB_BLOCK_PROMETHEUS);
	c = open_block(out.ulid);
	free(want);
	{
		struct tsdb_querier *q;

		assert_int_equal(tsdb_head_querier(h, 0, 60 * MIN - 1, &q, err, sizeof(err)), 0);
		want = dump(q, NULL, 0);
		tsdb_querier_close(q);
	}
	got = dump_block(c);
	assert_string_equal(got, want);
	assert_non_null(strstr(got, "=7ff0000000000002")); /* the stale marker */
	free(got);
	if (access(PROMTOOL, X_OK) == 0) {
		char sub[300], cmd[1600];
		struct buf o = { 0 };
		size_t lines = 0;

		snprintf(sub, sizeof(sub), "%s/promtool", dir);
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/wal && cp -r %s/%s %s/ && " PROMTOOL
			 " tsdb dump %s 2>&1", sub, dir, out.ulid, sub, sub);
		if (run(cmd, &o) != 0)
			fail_msg("promtool tsdb dump failed:\n%s", o.data);
		for (const char *p = o.data; (p = strchr(p, '\n')); p++)
			lines++;
		assert_int_equal(lines, out.num_samples);
		buf_free(&o);
	}
	tsdb_block_meta_free(&out);
	assert_int_equal(tsdb_block_compact(&c, 1, dir, TSDB_BLOCK_DENSE, &out, &written, err,
					    sizeof(err)), 0);
	assert_int_equal(out.encoding, TSDB_BLOCK_DENSE);
	tsdb_block_unref(c);
	c = open_block(out.ulid);
	got = dump_block(c);
	assert_string_equal(got, want);
	free(got);
	free(want);
	tsdb_block_unref(c);
	tsdb_block_unref(bd);
	tsdb_block_unref(bp);
	tsdb_block_meta_free(&out);
	tsdb_block_meta_free(&mp);
	tsdb_block_meta_free(&md);
	tsdb_head_free(h);
}

/* --- a dense block older builds wrote (tests/fixtures/tsdb/README.md) --- */

#define V1_ULID "01M7ZW51ZHC3TMNDPHZY9B833N"
#define V1_T0 1795204800000LL
#define V1_SERIES 7

static const char *const v1_names[V1_SERIES] = { "v1_const", "v1_counter", "v1_pages",
						  "v1_ratio", "v1_stale", "v1_accel", "v1_gap" };

/* Sample i of fixture series s; false past its last one. */
static bool v1_sample(int s, int i, int64_t *t, double *v)
{
	int n = s == 1 ? 1000 : s == 6 ? 150 : 300;

	if (i >= n)
		return false;
	*t = V1_T0 + (s == 1 ? 15000LL * i + i * 7 % 5 : 60000LL * i) +
	     (s == 6 && i >= 100 ? 10800000LL : 0);
	switch (s) {
	case 0:
		*v = 1500;
		break;
	case 1:
		*v = (double)(4532663 + 250 * i + (i * i * 37) % 1000) / 100;
		break;
	case 2:
		*v = 4096.0 * (1000 + (i * 5) % 7);
		break;
	case 3:
		*v = 1.0 / (i + 3);
		break;
	case 4:
		*v = i == 299 ? tsdb_stale_nan() : i % 10;
		break;
	case 5:
		*v = (double)(i * i * 3 + 7) / 1000;
		break;
	default:
		*v = i;
	}
	return true;
}

/* What the fixture holds, dumped from a head given the same samples. */
static char *v1_want(void)
{
	struct tsdb_head_options o = { .chunk_range_ms = 120 * MIN };
	struct tsdb_head *h;
	struct tsdb_querier *q;
	char *want;

	assert_int_equal(tsdb_head_new(&o, &h, err, sizeof(err)), 0);
	for (int64_t lim = V1_T0; lim < V1_T0 + 6 * 60 * MIN; lim += MIN)
		for (int s = 0; s < V1_SERIES; s++) {
			int64_t t;
			double v;

			for (int i = 0; v1_sample(s, i, &t, &v); i++)
				if (t >= lim && t < lim + MIN)
					add(h, LS({ "__name__", v1_names[s] }, { "job", "fixture" }), t, v);
		}
	assert_int_equal(tsdb_head_querier(h, INT64_MIN, INT64_MAX, &q, err, sizeof(err)), 0);
	want = dump(q, NULL, 0);
	tsdb_querier_close(q);
	tsdb_head_free(h);
	return want;
}

/* Chunk encodings in a block's first segment: counts of 0x81 and 0x82 chunks. */
static void chunk_kinds(const char *ulid, int *v1, int *v2)
{
	char path[512];
	struct buf b = { 0 };
	FILE *f;
	char tmp[4096];
	size_t n, off = 8;

	snprintf(path, sizeof(path), "%s/%s/chunks/000001", dir, ulid);
	f = fopen(path, "rb");
	assert_non_null(f);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*v1 = *v2 = 0;
	while (off < b.len) {
		struct tsdb_dec d = { (const uint8_t *)b.data + off, (const uint8_t *)b.data + b.len,
				      false };
		uint64_t len = tsdb_dec_uvarint(&d);
		uint8_t enc = tsdb_dec_byte(&d);

		assert_false(d.bad);
		*v1 += enc == 0x81;
		*v2 += enc == 0x82;
		off = (size_t)(d.p - (const uint8_t *)b.data) + len + 4;
	}
	buf_free(&b);
}

/* A dense block as older builds wrote it (0x81 chunks, Prometheus' index) reads back
 * sample for sample, answers label lookups, and compacts into either encoding. */
static void test_dense_v1_block(void **state)
{
	const char *root = getenv("LGTM_FIXTURES");
	char cmd[1024], *want, *got;
	struct tsdb_block *b, *c;
	struct tsdb_block_meta out;
	bool written;
	int v1, v2;

	snprintf(cmd, sizeof(cmd), "cp -r %s/tsdb/dense-v1/" V1_ULID " %s/",
		 root ? root : "tests/fixtures", dir);
	assert_int_equal(system(cmd), 0);
	chunk_kinds(V1_ULID, &v1, &v2);
	assert_true(v1 > 0 && v2 == 0);
	want = v1_want();
	b = open_block(V1_ULID);
	assert_int_equal(tsdb_block_meta(b)->encoding, TSDB_BLOCK_DENSE);
	got = dump_block(b);
	assert_string_equal(got, want);
	free(got);
	{
		struct tsdb_querier *q;
		struct tsdb_matcher m;

		assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_RE, "__name__", "v1_(gap|pages)",
						   err, sizeof(err)), 0);
		assert_int_equal(tsdb_block_querier(b, INT64_MIN, INT64_MAX, &q, err, sizeof(err)),
				 0);
		got = dump(q, &m, 1);
		assert_non_null(strstr(got, "v1_gap"));
		assert_non_null(strstr(got, "v1_pages"));
		assert_null(strstr(got, "v1_const"));
		free(got);
		tsdb_querier_close(q);
		tsdb_matcher_free(&m);
	}
	for (int enc = 0; enc < 2; enc++) {
		assert_int_equal(tsdb_block_compact(&b, 1, dir, enc ? TSDB_BLOCK_DENSE
								 : TSDB_BLOCK_PROMETHEUS,
						    &out, &written, err, sizeof(err)), 0);
		chunk_kinds(out.ulid, &v1, &v2);
		assert_int_equal(v1, 0);
		assert_true(enc ? v2 > 0 : v2 == 0);
		c = open_block(out.ulid);
		got = dump_block(c);
		assert_string_equal(got, want);
		free(got);
		tsdb_block_unref(c);
		tsdb_block_meta_free(&out);
	}
	tsdb_block_unref(b);
	free(want);
}

/* A dense compaction stores a series' consecutive chunks as one when that is smaller
 * (constants, counters), keeps them apart when not (a chunk of full-precision floats
 * or with a stale marker stays XOR and splits the run; a long gap in the timestamps
 * would cost more merged), and every sample comes back exactly. */
static void test_dense_merges_chunks(void **state)
{
	struct tsdb_head_options o = { .chunk_range_ms = 30 * MIN };
	struct tsdb_block_meta m[4], outd, outp;
	struct tsdb_block *b[4], *cd, *cp;
	struct tsdb_head *h;
	struct tsdb_querier *q;
	uint64_t chunks = 0;
	double cnt = 100.25;
	char *want, *got;
	bool written;

	assert_int_equal(tsdb_head_new(&o, &h, err, sizeof(err)), 0);
	for (int64_t t = 0; t < 4 * 60 * MIN; t += 15000) {
		cnt += (double)(t % 9) * 0.25;
		add(h, LS({ "__name__", "const" }), t, 42);
		add(h, LS({ "__name__", "counter" }), t, cnt);
		add(h, LS({ "__name__", "dur" }), t, t >= 60 * MIN && t < 90 * MIN ?
		    0.1 * (1 + sin((double)t)) : (double)(t / 15000 % 7));
		add(h, LS({ "__name__", "stale" }), t, t == 125 * MIN ? tsdb_stale_nan() : 1);
		if (t < 20 * MIN || t >= 200 * MIN) /* one long gap */
			add(h, LS({ "__name__", "gappy" }), t + (t / 15000 % 3), (double)(t % 1000));
	}
	for (int i = 0; i < 4; i++) {
		write_head_enc(h, dir, i * 60 * MIN, (i + 1) * 60 * MIN, TSDB_BLOCK_DENSE, &m[i]);
		b[i] = open_block(m[i].ulid);
		chunks += m[i].num_chunks;
	}
	assert_int_equal(tsdb_block_compact(b, 4, dir, TSDB_BLOCK_DENSE, &outd, &written, err,
					    sizeof(err)), 0);
	assert_int_equal(tsdb_block_compact(b, 4, dir, TSDB_BLOCK_PROMETHEUS, &outp, &written,
					    err, sizeof(err)), 0);
	print_message("chunks: %llu in the sources, %llu dense, %llu prometheus\n",
		      (unsigned long long)chunks, (unsigned long long)outd.num_chunks,
		      (unsigned long long)outp.num_chunks);
	/* The head's 30-minute chunks already merge in the hour blocks: one per series. */
	assert_int_equal(m[0].num_chunks, 5);
	assert_int_equal(outp.num_chunks, chunks);
	/* const, counter: 4 into 2 (at most 512 samples each); dur: its float half hour
	 * stays XOR and splits the run (5 into 4); stale: the marker's hour too (3);
	 * gappy: 2 chunks 3 h apart stay apart. */
	assert_int_equal(outd.num_chunks, 2 + 2 + 4 + 3 + 2);
	assert_int_equal(outd.num_samples, outp.num_samples);
	assert_int_equal(tsdb_head_querier(h, 0, 4 * 60 * MIN, &q, err, sizeof(err)), 0);
	want = dump(q, NULL, 0);
	tsdb_querier_close(q);
	cd = open_block(outd.ulid);
	cp = open_block(outp.ulid);
	got = dump_block(cd);
	assert_string_equal(got, want);
	free(got);
	got = dump_block(cp);
	assert_string_equal(got, want);
	free(got);
	free(want);
	tsdb_block_unref(cd);
	tsdb_block_unref(cp);
	for (int i = 0; i < 4; i++) {
		tsdb_block_unref(b[i]);
		tsdb_block_meta_free(&m[i]);
	}
	tsdb_block_meta_free(&outd);
	tsdb_block_meta_free(&outp);
	tsdb_head_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulid),
		cmocka_unit_test_setup_teardown(test_write_read_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_range_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_contract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_released, setup, teardown),
		cmocka_unit_test(test_ranges_and_plan),
		cmocka_unit_test_setup_teardown(test_compaction_merges_and_dedups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promtool_reads_our_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_merges_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_v1_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_write_read_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_index_lookups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_corruption_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_index_hostile, setup, teardown),
	};

	return cmocka_run_group_tests_name("tsdb_block", tests, NULL, NULL);
}
