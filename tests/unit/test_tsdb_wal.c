/* tsdb WAL: CRC32C, record codecs, framing, replay, torn tails, corruption, group
 * commit, checkpoints, write failures and tailing. Every test works in its own
 * temporary directory and checks the log against a model of what was acknowledged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compress/compress.h"
#include "log/log.h"
#include "tsdb/internal.h"
#include "tsdb/wal.h"
#include "tsdb/wal_internal.h"

#define LS(...) ((struct labels){ (struct label[]){ __VA_ARGS__ }, \
	sizeof((struct label[]){ __VA_ARGS__ }) / sizeof(struct label) })

/* --- files ------------------------------------------------------------------------- */

static char err[512];

static const struct tsdb_wal_opts never = { .fsync = TSDB_WAL_FSYNC_NEVER };
/* One page per segment: many segments from little data. */
static const struct tsdb_wal_opts small = { .segment_size = TSDB_WAL_PAGE_SIZE,
					    .fsync = TSDB_WAL_FSYNC_NEVER };

static struct tsdb_wal *open_wal(const char *dir, const struct tsdb_wal_opts *o)
{
	struct tsdb_wal *w = NULL;
	int rc = tsdb_wal_open(dir, o, &w, err, sizeof(err));

	if (rc != 0)
		fail_msg("open: %s", err);
	return w;
}

static void close_wal(struct tsdb_wal *w)
{
	int rc = tsdb_wal_close(w, err, sizeof(err));

	if (rc != 0)
		fail_msg("close: %s", err);
}

static char *seg_path(const char *dir, int seg)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%08d", dir, seg);
	return p;
}

static int64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	int64_t n = file_size(path);
	unsigned char *d = malloc(n > 0 ? (size_t)n : 1);
	int fd = open(path, O_RDONLY);

	assert_non_null(d);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, d, (size_t)n), n);
	close(fd);
	*len = (size_t)n;
	return d;
}

static void write_all(const char *path, const void *d, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, d, len), (ssize_t)len);
	close(fd);
}

static void flip_byte(const char *path, int64_t off, unsigned char x)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= x;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

/* --- a model of acknowledged records --------------------------------------------- */

/* Records are opaque here (type byte 0x7f, which the codecs do not know, so replay
 * hands them to `other`); their bytes encode batch and position for checking. */
struct model {
	struct buf data;
	size_t *len;
	size_t *batch;          /* batch index of each record */
	size_t n, cap;
	size_t nbatches;
	int64_t batch_end[4096]; /* segment file size after each batch */
	int batch_seg[4096];
};

static void model_free(struct model *m)
{
	buf_free(&m->data);
	free(m->len);
	free(m->batch);
	memset(m, 0, sizeof(*m));
}

static void gen_record(struct buf *b, size_t bi, size_t ri, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf_putc(b, k == 0 ? 0x7f : (char)((bi * 131 + ri * 17 + k * 7) & 0xff));
}

static void model_push(struct model *m, const void *d, size_t len, size_t batch)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->len = realloc(m->len, m->cap * sizeof(*m->len));
		m->batch = realloc(m->batch, m->cap * sizeof(*m->batch));
		assert_non_null(m->len);
		assert_non_null(m->batch);
	}
	buf_append(&m->data, d, len);
	m->len[m->n] = len;
	m->batch[m->n] = batch;
	m->n++;
}

/* Build batch number m->nbatches with records of the given sizes into recs/scratch. */
static size_t build_batch(struct model *m, struct buf *scratch, struct tsdb_wal_rec *recs,
			  size_t n, const size_t *lens)
{
	size_t off = 0;

	buf_reset(scratch);
	for (size_t i = 0; i < n; i++)
		gen_record(scratch, m->nbatches, i, lens[i]);
	assert_false(scratch->oom);
	for (size_t i = 0; i < n; i++) {
		recs[i].data = scratch->data + off;
		recs[i].len = lens[i];
		off += lens[i];
	}
	return n;
}

static void model_ack(struct model *m, struct tsdb_wal *w, const struct tsdb_wal_rec *recs,
		      size_t n)
{
	struct tsdb_wal_stats st;

	for (size_t i = 0; i < n; i++)
		model_push(m, recs[i].data, recs[i].len, m->nbatches);
	tsdb_wal_stats(w, &st);
	m->batch_seg[m->nbatches] = st.segment;
	m->batch_end[m->nbatches] = st.offset; /* the file may go on: zeros written ahead */
	m->nbatches++;
}

/* Log one batch that must succeed, and record it. */
static void log_batch(struct model *m, struct tsdb_wal *w, size_t n, const size_t *lens)
{
	struct tsdb_wal_rec recs[64];
	struct buf scratch = { 0 };

	assert_true(n <= 64);
	build_batch(m, &scratch, recs, n, lens);
	if (tsdb_wal_log(w, recs, n, err, sizeof(err)) != 0)
		fail_msg("log: %s", err);
	model_ack(m, w, recs, n);
	buf_free(&scratch);
}

/* Sizes from a small deterministic generator: mostly small, some empty, some large. */
static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t rnd_len(void)
{
	uint64_t r = rnd() % 100;

	if (r < 5)
		return 0;
	if (r < 10)
		return 1;
	if (r < 15)
		return 20000 + rnd() % 60000; /* crosses pages */
	return 1 + rnd() % 600;
}

/* Log nb batches of 1..maxrec records of random sizes. */
static void log_random(struct model *m, struct tsdb_wal *w, int nb, size_t maxrec)
{
	for (int b = 0; b < nb; b++) {
		size_t lens[16], n = 1 + rnd() % maxrec;

		for (size_t i = 0; i < n; i++)
			lens[i] = rnd_len();
		log_batch(m, w, n, lens);
	}
}

/* --- collecting what replay hands back ------------------------------------------- */

struct coll {
	struct model got;
	int series, samples, tombstones, exemplars;
	int progress_calls, progress_n, last_i;
	bool saw_checkpoint;
};

static int coll_other(void *ctx, const void *rec, size_t len, char *e, size_t elen)
{
	struct coll *c = ctx;

	model_push(&c->got, rec, len, 0);
	return 0;
}

static void coll_progress(void *ctx, const struct tsdb_wal_progress *p)
{
	struct coll *c = ctx;

	c->progress_calls++;
	c->progress_n = p->n;
	assert_int_equal(p->i, c->last_i + 1);
	c->last_i = p->i;
	if (p->checkpoint)
		c->saw_checkpoint = true;
}

static const struct tsdb_wal_replay_ops raw_ops = {
	.other = coll_other,
	.progress = coll_progress,
};

static int replay(const char *dir, struct coll *c, struct tsdb_wal_replay_result *res)
{
	model_free(&c->got);
	memset(c, 0, sizeof(*c));
	return tsdb_wal_replay(dir, &raw_ops, c, res, err, sizeof(err));
}

/* --- per-test directory and state ------------------------------------------------ */

struct fx {
	char root[256];
	char wal[300];
	struct model m; /* what the test got acknowledged */
	struct coll c;  /* what replay handed back */
	struct tsdb_wal_replay_result res;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	/* tmpfs when there is one: the torn-tail loop repairs (and fsyncs) hundreds of
	 * times, and fsync semantics are exercised through the hooks anyway. */
	if (!tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(f->root, sizeof(f->root), "%s/test_tsdb_wal.XXXXXX", tmp);
	if (!mkdtemp(f->root))
		return -1;
	snprintf(f->wal, sizeof(f->wal), "%s/wal", f->root);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	model_free(&f->m);
	model_free(&f->c.got);
	free(f);
	return 0;
}

/* Log lines go to /dev/null, or to a file while a test looks at them. */
static int log_null = -1;

static void log_capture_start(struct fx *f)
{
	char path[400];
	int fd;

	snprintf(path, sizeof(path), "%s/log", f->root);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	log_set_fd(fd);
}

static char *log_capture_end(struct fx *f)
{
	char path[400];
	size_t len;
	unsigned char *d;
	char *s;

	snprintf(path, sizeof(path), "%s/log", f->root);
	d = read_all(path, &len);
	s = realloc(d, len + 1);
	assert_non_null(s);
	s[len] = '\0';
	log_set_fd(log_null);
	return s;
}

/* The collected records are exactly those of the first nb acknowledged batches. */
static void assert_prefix(const struct model *m, const struct coll *c, size_t nb)
{
	size_t n = 0, bytes = 0;

	while (n < m->n && m->batch[n] < nb)
		bytes += m->len[n++];
	if (c->got.n != n)
		fail_msg("replayed %zu records, expected %zu (%zu batches)", c->got.n, n, nb);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(c->got.len[i], m->len[i]);
	assert_int_equal(c->got.data.len, bytes);
	assert_memory_equal(c->got.data.data, m->data.data, bytes);
}

/* --- CRC32C ---------------------------------------------------------------------- */

static void test_crc32c(void **state)
{
	unsigned char b[32], big[4099];

	assert_int_equal(tsdb_wal_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(wal_crc32c_sw(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(tsdb_wal_crc32c(0, "", 0), 0);
	/* RFC 3720 (iSCSI) B.4 vectors. */
	memset(b, 0, sizeof(b));
	assert_int_equal(tsdb_wal_crc32c(0, b, 32), 0x8a9136aau);
	assert_int_equal(wal_crc32c_sw(0, b, 32), 0x8a9136aau);
	memset(b, 0xff, sizeof(b));
	assert_int_equal(tsdb_wal_crc32c(0, b, 32), 0x62a8ab43u);
	assert_int_equal(wal_crc32c_sw(0, b, 32), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)i;
	assert_int_equal(tsdb_wal_crc32c(0, b, 32), 0x46dd794eu);
	assert_int_equal(wal_crc32c_sw(0, b, 32), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		b[i] = (unsigned char)(31 - i);
	assert_int_equal(tsdb_wal_crc32c(0, b, 32), 0x113fdb5cu);
	/* Both paths agree at every length and alignment, and chaining equals one pass. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)rnd();
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len + off <= sizeof(big); len += 1 + len / 7) {
			uint32_t hw = tsdb_wal_crc32c(0, big + off, len);

			assert_int_equal(hw, wal_crc32c_sw(0, big + off, len));
			assert_int_equal(hw, tsdb_wal_crc32c(tsdb_wal_crc32c(0, big + off, len / 3),
							     big + off + len / 3, len - len / 3));
		}
	}
}

/* --- record codecs --------------------------------------------------------------- */

static void test_record_golden(void **state)
{
	/* Byte layouts of Prometheus' tsdb/record encoder. */
	static const unsigned char series[] = {
		1, 0, 0, 0, 0, 0, 0, 0, 5, 1, 1, 'a', 1, 'b',
	};
	static const unsigned char samples[] = {
		2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x03, 0xe8,
		0, 0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,      /* first: deltas 0, 0; 1.0 */
		2, 0x1e, 0x40, 0, 0, 0, 0, 0, 0, 0,      /* ref +1, t +15; 2.0 */
		1, 0x13, 0x40, 0x08, 0, 0, 0, 0, 0, 0,   /* ref -1, t -10; 3.0 */
	};
	static const unsigned char tomb[] = { 3, 0, 0, 0, 0, 0, 0, 0, 7, 0x14, 0x3c };
	struct tsdb_wal_series s = { 5, LS({ "a", "b" }) };
	struct tsdb_wal_sample sm[] = { { 1, 1000, 1.0 }, { 2, 1015, 2.0 }, { 0, 990, 3.0 } };
	struct tsdb_wal_tombstone t = { 7, 10, 30 };
	struct buf b = { 0 };

	tsdb_wal_encode_series(&b, &s, 1);
	assert_int_equal(b.len, sizeof(series));
	assert_memory_equal(b.data, series, sizeof(series));
	buf_reset(&b);
	tsdb_wal_encode_samples(&b, sm, 3);
	assert_int_equal(b.len, sizeof(samples));
	assert_memory_equal(b.data, samples, sizeof(samples));
	buf_reset(&b);
	tsdb_wal_encode_tombstones(&b, &t, 1);
	assert_int_equal(b.len, sizeof(tomb));
	assert_memory_equal(b.data, tomb, sizeof(tomb));
	buf_reset(&b);
	tsdb_wal_encode_samples(&b, NULL, 0);
	assert_int_equal(b.len, 1);
	assert_int_equal(tsdb_wal_record_type(b.data, b.len), TSDB_WAL_REC_SAMPLES);
	assert_int_equal(tsdb_wal_record_type(b.data, 0), -1);
	buf_free(&b);
}

/* The 0x81 layout older builds wrote (values as byte planes), for reading tests:
 * written here independently of the library, which no longer writes it. */
static void encode_v1(struct buf *b, const struct tsdb_wal_sample *s, size_t n)
{
	uint64_t ref = 0, t = 0;

	buf_putc(b, TSDB_WAL_REC_SAMPLES_DENSE);
	tsdb_put_uvarint(b, n);
	for (size_t i = 0; i < n; ref = s[i++].ref)
		tsdb_put_varint(b, (int64_t)(s[i].ref - ref));
	for (size_t i = 0; i < n; t = (uint64_t)s[i++].t)
		tsdb_put_varint(b, (int64_t)((uint64_t)s[i].t - t));
	for (int shift = 56; shift >= 0; shift -= 8)
		for (size_t i = 0; i < n; i++) {
			uint64_t bits;

			memcpy(&bits, &s[i].v, 8);
			buf_putc(b, (char)(bits >> shift));
		}
}

/* Samples in one of the layouts readers take. */
enum layout { L_PROMETHEUS, L_DENSE, L_DENSE_V1 };

static void encode_as(struct buf *b, enum layout l, const struct tsdb_wal_sample *s, size_t n)
{
	buf_reset(b);
	if (l == L_DENSE_V1)
		encode_v1(b, s, n);
	else if (l == L_DENSE)
		tsdb_wal_encode_samples_dense(b, s, n);
	else
		tsdb_wal_encode_samples(b, s, n);
}

static void test_record_roundtrip(void **state)
{
	struct arena *a = arena_new(0);
	struct buf b = { 0 };
	struct tsdb_wal_series s[] = {
		{ 1, LS({ "__name__", "up" }, { "job", "node" }, { "instance", "h:9100" }) },
		{ UINT64_MAX, LS({ "__name__", "\xc3\xa9t\xc3\xa9" }) },
		{ 0, { NULL, 0 } },
	};
	uint64_t stale = 0x7ff0000000000002ull;
	double stale_nan;
	struct tsdb_wal_sample sm[] = {
		{ 100, 1700000000000, 1.5 }, { 3, INT64_MIN, -0.0 }, { UINT64_MAX, INT64_MAX, INFINITY },
		{ 100, -5, -INFINITY }, { 7, 0, 0 }, { 100, 1700000000000, NAN },
	};
	struct tsdb_wal_tombstone tb[] = { { 1, INT64_MIN, INT64_MAX }, { 9, -3, 4 } };
	struct tsdb_wal_exemplar ex[] = {
		{ 4, 1000, 0.25, LS({ "trace_id", "abc" }) }, { 2, 900, 7, { NULL, 0 } },
	};
	struct tsdb_wal_series *os;
	struct tsdb_wal_sample *osm;
	struct tsdb_wal_tombstone *otb;
	struct tsdb_wal_exemplar *oex;
	size_t n;

	memcpy(&stale_nan, &stale, 8);
	sm[4].v = stale_nan;
	assert_non_null(a);
	tsdb_wal_encode_series(&b, s, 3);
	assert_int_equal(tsdb_wal_decode_series(b.data, b.len, a, &os, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_true(os[i].ref == s[i].ref);
		assert_true(labels_equal(&os[i].labels, &s[i].labels));
	}
	buf_reset(&b);
	tsdb_wal_encode_samples(&b, sm, 6);
	assert_int_equal(tsdb_wal_decode_samples(b.data, b.len, a, &osm, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_true(osm[i].ref == sm[i].ref);
		assert_true(osm[i].t == sm[i].t);
		assert_memory_equal(&osm[i].v, &sm[i].v, 8); /* bit-exact: NaN payloads, -0 */
	}
	buf_reset(&b);
	tsdb_wal_encode_tombstones(&b, tb, 2);
	assert_int_equal(tsdb_wal_decode_tombstones(b.data, b.len, a, &otb, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	assert_true(otb[0].mint == INT64_MIN && otb[0].maxt == INT64_MAX && otb[1].ref == 9);
	buf_reset(&b);
	tsdb_wal_encode_exemplars(&b, ex, 2);
	assert_int_equal(tsdb_wal_decode_exemplars(b.data, b.len, a, &oex, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	assert_true(oex[0].ref == 4 && oex[0].t == 1000 && oex[0].v == 0.25);
	assert_true(labels_equal(&oex[0].labels, &ex[0].labels));
	assert_true(oex[1].ref == 2 && oex[1].t == 900 && oex[1].labels.n == 0);
	/* Empty records of each kind (samples in every layout). */
	for (enum layout k = L_PROMETHEUS; k <= L_DENSE_V1; k++) {
		encode_as(&b, k, NULL, 0);
		assert_int_equal(tsdb_wal_decode_samples(b.data, b.len, a, &osm, &n, err,
							 sizeof(err)), 0);
		assert_int_equal(n, 0);
	}
	buf_reset(&b);
	tsdb_wal_encode_series(&b, NULL, 0);
	assert_int_equal(tsdb_wal_decode_series(b.data, b.len, a, &os, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	buf_free(&b);
	arena_free(a);
}

static void check_samples(const struct tsdb_wal_sample *got, const struct tsdb_wal_sample *want,
			  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true(got[i].ref == want[i].ref);
		assert_true(got[i].t == want[i].t);
		assert_memory_equal(&got[i].v, &want[i].v, 8);
	}
}

/* Samples with edge refs, times and values: decimals at every scale, NaN, stale
 * markers, infinities, -0, subnormals, full-precision floats. */
static void edge_samples(struct tsdb_wal_sample *sm, size_t n)
{
	const uint64_t stale = 0x7ff0000000000002ULL, payload = 0xfff8dead0000beefULL;
	const double odd[] = { NAN, INFINITY, -INFINITY, -0.0, 0.0, 5e-324, DBL_MIN, DBL_MAX,
			       -DBL_MAX, 1e-300, 0.1, 123456789.125, 9007199254740991.0,
			       9007199254740992.0, -9007199254740991.0, 1e-18, 1.5e-18,
			       0.000123456789, 1e22, 1.0 / 3 };

	for (size_t i = 0; i < n; i++) {
		uint64_t r = (uint64_t)rand() << 31 ^ (uint64_t)rand();
		int64_t m = (int64_t)(r % 2000000000) - 1000000000;

		sm[i].ref = i % 7 == 0 ? r : 1000 + i;
		sm[i].t = i % 11 == 0 ? (int64_t)(r << 20) : 1700000000000LL + (int64_t)(i / 100);
		sm[i].v = i % 3 ? (double)m / tsdb_ten_to((int)(r % 19)) : odd[i % 20];
	}
	memcpy(&sm[1].v, &stale, 8);
	memcpy(&sm[2].v, &payload, 8);
	sm[3] = (struct tsdb_wal_sample){ UINT64_MAX, INT64_MIN, -0.0 };
	sm[4] = (struct tsdb_wal_sample){ 0, INT64_MAX, 1 };
}

/* lgtm's columnar samples record: hand-derived bytes, bit-exact round trips of edge
 * values, refs and times in any order and at the int64 limits, the older layout, and
 * hostile input. */
static void test_dense_samples_record(void **state)
{
	/* (ref 5, t 1000, 1.0) (ref 6, t 1000, -2.0) (ref 7, t 1000, 0.25) (ref 7, t 1060, NaN):
	 *   82 | 04 | refs 0a 02 02 00 | times d0 0f 00 00 78
	 *   | kinds 01 01 13 ff | 02 | 03 | 32 | 7f f8 00 00 00 00 00 01 */
	static const unsigned char want[] = { 0x82, 0x04, 0x0a, 0x02, 0x02, 0x00, 0xd0, 0x0f,
					      0x00, 0x00, 0x78, 0x01, 0x01, 0x13, 0xff, 0x02,
					      0x03, 0x32, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0x01 };
	/* The same first two samples in the 0x81 layout:
	 *   81 | 02 | refs 0a 02 | times d0 0f 00 | planes: 3f c0 | f0 00 | 00 00 x 6 */
	static const unsigned char v1[] = { 0x81, 0x02, 0x0a, 0x02, 0xd0, 0x0f, 0x00,
					    0x3f, 0xc0, 0xf0, 0x00, 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0, 0, 0 };
	struct tsdb_wal_sample four[] = { { 5, 1000, 1.0 }, { 6, 1000, -2.0 }, { 7, 1000, 0.25 },
					  { 7, 1060, 0 } };
	const uint64_t nan1 = 0x7ff8000000000001ULL;
	static struct tsdb_wal_sample sm[5000];
	struct arena *a = arena_new(0);
	struct buf b = { 0 };
	struct tsdb_wal_sample *o;
	size_t n;

	memcpy(&four[3].v, &nan1, 8);
	tsdb_wal_encode_samples_dense(&b, four, 4);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	assert_int_equal(tsdb_wal_record_type(b.data, b.len), TSDB_WAL_REC_SAMPLES_DENSE2);
	assert_true(tsdb_wal_is_samples(TSDB_WAL_REC_SAMPLES_DENSE2));
	assert_int_equal(tsdb_wal_decode_samples(want, sizeof(want), a, &o, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	check_samples(o, four, 4);
	/* What older builds wrote still reads. */
	assert_true(tsdb_wal_is_samples(TSDB_WAL_REC_SAMPLES_DENSE));
	assert_int_equal(tsdb_wal_decode_samples(v1, sizeof(v1), a, &o, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	check_samples(o, four, 2);
	edge_samples(sm, 5000);
	for (enum layout l = L_PROMETHEUS; l <= L_DENSE_V1; l++) {
		encode_as(&b, l, sm, 5000);
		assert_int_equal(tsdb_wal_decode_samples(b.data, b.len, a, &o, &n, err, sizeof(err)),
				 0);
		assert_int_equal(n, 5000);
		check_samples(o, sm, n);
	}
	/* Every proper prefix and a trailing byte are errors, in both layouts; a count
	 * beyond the bytes is refused before anything is read. (The empty record:
	 * test_record_roundtrip.) */
	for (enum layout l = L_DENSE; l <= L_DENSE_V1; l++) {
		encode_as(&b, l, sm, 40);
		for (size_t len = 1; len < b.len; len++)
			assert_int_equal(tsdb_wal_decode_samples(b.data, len, a, &o, &n, err,
								 sizeof(err)), TSDB_WAL_ECORRUPT);
		buf_putc(&b, 0);
		assert_int_equal(tsdb_wal_decode_samples(b.data, b.len, a, &o, &n, err, sizeof(err)),
				 TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "trailing bytes"));
	}
	for (int layout = 0; layout < 2; layout++) {
		unsigned char big[] = { 0x81, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0 };

		big[0] = layout ? 0x81 : 0x82;
		assert_int_equal(tsdb_wal_decode_samples(big, sizeof(big), a, &o, &n, err,
							 sizeof(err)), TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "exceeds"));
	}
	{
		/* Kind bytes between the decimals and 0xff mean nothing. */
		unsigned char bad[sizeof(want)];

		memcpy(bad, want, sizeof(want));
		bad[13] = 19 * 9;
		assert_int_equal(tsdb_wal_decode_samples(bad, sizeof(bad), a, &o, &n, err,
							 sizeof(err)), TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "kind"));
	}
	/* Random mutations decode or fail cleanly (ASan watches the reads). */
	buf_reset(&b);
	tsdb_wal_encode_samples_dense(&b, sm, 300);
	for (int round = 0; round < 3000; round++) {
		unsigned char *m = malloc(b.len);
		size_t len = b.len - (size_t)rand() % 8;

		memcpy(m, b.data, b.len);
		for (int k = 0; k < 1 + round % 4; k++)
			m[1 + (size_t)rand() % (len - 1)] ^= (unsigned char)(1 + rand() % 255);
		(void)tsdb_wal_decode_samples(m, len, a, &o, &n, err, sizeof(err));
		free(m);
		arena_reset(a);
	}
	/* Other decoders refuse it. */
	assert_int_equal(tsdb_wal_decode_exemplars(b.data, b.len, a, (struct tsdb_wal_exemplar **)&o,
						   &n, err, sizeof(err)), TSDB_WAL_ECORRUPT);
	{
		enum tsdb_wal_encoding e;

		assert_int_equal(tsdb_wal_parse_encoding("dense", &e), 0);
		assert_int_equal(e, TSDB_WAL_ENC_DENSE);
		assert_int_equal(tsdb_wal_parse_encoding("prometheus", &e), 0);
		assert_int_equal(e, TSDB_WAL_ENC_PROMETHEUS);
		assert_int_equal(tsdb_wal_parse_encoding("xor", &e), -1);
	}
	buf_free(&b);
	arena_free(a);
}

/* Samples records of every delta size decode exactly, whole or cut anywhere: a cut
 * at an entry boundary yields the entries before it, any other cut is corrupt (the
 * decoder reads most entries on a fast path and the last ones with full checks). */
static void test_samples_decode_sizes(void **state)
{
	enum { N = 300 };
	struct tsdb_wal_sample sm[N], *out;
	size_t ends[N], n;
	struct arena *a = arena_new(0);
	struct buf b = { 0 };

	assert_non_null(a);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < N; i++) {
			/* Deltas from 0 to all 64 bits, so varints of 1 to 10 bytes. */
			unsigned rbits = (unsigned)(rnd() % 65), tbits = (unsigned)(rnd() % 65);
			uint64_t v = rnd();

			sm[i].ref = i ? sm[0].ref + (rbits == 64 ? rnd() : rnd() & ((1ull << rbits) - 1))
				      : rnd();
			sm[i].t = (int64_t)(i ? (uint64_t)sm[0].t + (tbits == 64 ? rnd()
							: (rnd() & ((1ull << tbits) - 1)) - (1ull << tbits >> 1))
					      : rnd());
			memcpy(&sm[i].v, &v, 8);
			buf_reset(&b);
			tsdb_wal_encode_samples(&b, sm, i + 1);
			ends[i] = b.len;
		}
		assert_false(b.oom);
		assert_int_equal(tsdb_wal_decode_samples(b.data, b.len, a, &out, &n, err,
							 sizeof(err)), 0);
		assert_int_equal(n, N);
		for (size_t i = 0; i < N; i++) {
			assert_true(out[i].ref == sm[i].ref && out[i].t == sm[i].t);
			assert_memory_equal(&out[i].v, &sm[i].v, 8);
		}
		for (size_t len = ends[0] - 20; len < b.len; len += 1 + rnd() % 7) {
			size_t whole = 0;
			int rc;

			arena_reset(a);
			rc = tsdb_wal_decode_samples(b.data, len, a, &out, &n, err, sizeof(err));
			while (whole < N && ends[whole] <= len)
				whole++;
			if (whole && ends[whole - 1] == len) {
				assert_int_equal(rc, 0);
				assert_int_equal(n, whole);
				assert_true(out[whole - 1].ref == sm[whole - 1].ref);
			} else {
				assert_int_equal(rc, TSDB_WAL_ECORRUPT);
			}
		}
		arena_reset(a);
	}
	buf_free(&b);
	arena_free(a);
}

static void test_record_bad_input(void **state)
{
	struct arena *a = arena_new(0);
	struct buf b = { 0 };
	struct tsdb_wal_series s[] = { { 1, LS({ "__name__", "up" }, { "job", "x" }) } };
	struct tsdb_wal_sample sm[] = { { 1, 5, 1 }, { 2, 6, 2 } };
	struct tsdb_wal_exemplar ex[] = { { 4, 1000, 0.25, LS({ "trace_id", "abc" }) } };
	struct tsdb_wal_series *os;
	struct tsdb_wal_sample *osm;
	struct tsdb_wal_exemplar *oex;
	size_t n;

	/* Every proper prefix of a record is an error, never a crash or a short read. */
	tsdb_wal_encode_series(&b, s, 1);
	for (size_t len = 0; len < b.len; len++)
		assert_int_equal(tsdb_wal_decode_series(b.data, len, a, &os, &n, err, sizeof(err)),
				 len == 1 ? 0 : TSDB_WAL_ECORRUPT);
	buf_reset(&b);
	tsdb_wal_encode_samples(&b, sm, 2);
	/* (A cut right after the first sample, 1 + 16 + 10 bytes, is a valid record.) */
	for (size_t len = 2; len < b.len; len++)
		assert_int_equal(tsdb_wal_decode_samples(b.data, len, a, &osm, &n, err, sizeof(err)),
				 len == 27 ? 0 : TSDB_WAL_ECORRUPT);
	assert_int_equal(tsdb_wal_decode_samples(b.data, 27, a, &osm, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tsdb_wal_decode_samples(b.data, 1, a, &osm, &n, err, sizeof(err)), 0);
	/* Wrong type. */
	assert_int_equal(tsdb_wal_decode_series(b.data, b.len, a, &os, &n, err, sizeof(err)),
			 TSDB_WAL_ECORRUPT);
	assert_non_null(strstr(err, "wrong record type"));
	buf_reset(&b);
	tsdb_wal_encode_exemplars(&b, ex, 1);
	for (size_t len = 2; len < b.len; len++)
		assert_int_equal(tsdb_wal_decode_exemplars(b.data, len, a, &oex, &n, err, sizeof(err)),
				 TSDB_WAL_ECORRUPT);
	/* Trailing bytes after the last complete sample. */
	buf_reset(&b);
	tsdb_wal_encode_samples(&b, sm, 2);
	buf_putc(&b, 0);
	assert_int_equal(tsdb_wal_decode_samples(b.data, b.len, a, &osm, &n, err, sizeof(err)),
			 TSDB_WAL_ECORRUPT);
	/* A varint that never ends, a varint over 64 bits, a huge label count, a NUL. */
	{
		unsigned char v1[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
		unsigned char v2[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff,
				       0xff, 0xff, 0xff, 0xff, 0x02 };
		unsigned char v3[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x7f, 1, 'a' };
		unsigned char v4[] = { 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 'a', 2, 'b', 0 };

		assert_int_equal(tsdb_wal_decode_series(v1, sizeof(v1), a, &os, &n, err, sizeof(err)),
				 TSDB_WAL_ECORRUPT);
		assert_int_equal(tsdb_wal_decode_series(v2, sizeof(v2), a, &os, &n, err, sizeof(err)),
				 TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "overflows"));
		assert_int_equal(tsdb_wal_decode_series(v3, sizeof(v3), a, &os, &n, err, sizeof(err)),
				 TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "label count"));
		assert_int_equal(tsdb_wal_decode_series(v4, sizeof(v4), a, &os, &n, err, sizeof(err)),
				 TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "NUL"));
	}
	buf_free(&b);
	arena_free(a);
}

/* --- writing and replaying ------------------------------------------------------- */

static void test_write_replay(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &never);
	int first, last;

	log_random(&f->m, w, 300, 5);
	/* Zero records: nothing written, no error. */
	assert_int_equal(tsdb_wal_log(w, NULL, 0, err, sizeof(err)), 0);
	close_wal(w);
	assert_int_equal(tsdb_wal_segments(f->wal, &first, &last, err, sizeof(err)), 0);
	assert_int_equal(first, 0);
	assert_int_equal(last, 0);
	/* The segment's pages: all but possibly the last are full. */
	assert_int_equal(file_size(seg_path(f->wal, 0)), f->m.batch_end[f->m.nbatches - 1]);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
	assert_int_equal(f->res.batches, f->m.nbatches);
	assert_int_equal(f->res.records, f->m.n);
	assert_int_equal(f->res.truncated_bytes, 0);
	assert_int_equal(f->res.checkpoint, -1);
	assert_int_equal(f->c.progress_calls, 1);

	/* Reopening continues the same segment; replay sees both runs. */
	w = open_wal(f->wal, &never);
	assert_int_equal(tsdb_wal_current_segment(w), 0);
	log_batch(&f->m, w, 2, (size_t[]){ 10, 70000 });
	close_wal(w);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
}

static int typed_series(void *ctx, const struct tsdb_wal_series *s, size_t n, char *e,
			size_t elen)
{
	struct coll *c = ctx;

	c->series += (int)n;
	assert_string_equal(s[0].labels.v[0].value, "up");
	return 0;
}

static int typed_samples(void *ctx, const struct tsdb_wal_sample *s, size_t n, char *e,
			 size_t elen)
{
	struct coll *c = ctx;

	c->samples += (int)n;
	if (s[0].t == 666) {
		snprintf(e, elen, "head refused sample");
		return -7;
	}
	return 0;
}

static int typed_tomb(void *ctx, const struct tsdb_wal_tombstone *t, size_t n, char *e,
		      size_t elen)
{
	((struct coll *)ctx)->tombstones += (int)n;
	return 0;
}

static int typed_ex(void *ctx, const struct tsdb_wal_exemplar *x, size_t n, char *e,
		    size_t elen)
{
	((struct coll *)ctx)->exemplars += (int)n;
	return 0;
}

static void log_encoded(struct tsdb_wal *w, struct buf *recs, size_t n)
{
	struct tsdb_wal_rec r[8];

	for (size_t i = 0; i < n; i++) {
		r[i].data = recs[i].data;
		r[i].len = recs[i].len;
	}
	if (tsdb_wal_log(w, r, n, err, sizeof(err)) != 0)
		fail_msg("log: %s", err);
}

static void test_typed_replay(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &never);
	struct buf r[4] = { 0 };
	struct tsdb_wal_series s = { 1, LS({ "__name__", "up" }) };
	struct tsdb_wal_sample sm[3] = { { 1, 10, 1 }, { 1, 20, 2 }, { 1, 30, 3 } };
	struct tsdb_wal_tombstone tb = { 1, 0, 5 };
	struct tsdb_wal_exemplar ex = { 1, 10, 1, LS({ "trace_id", "t" }) };
	const struct tsdb_wal_replay_ops ops = {
		.series = typed_series, .samples = typed_samples, .tombstones = typed_tomb,
		.exemplars = typed_ex,
	};
	struct tsdb_wal_replay_result res;
	struct coll c = { 0 };

	tsdb_wal_encode_series(&r[0], &s, 1);
	tsdb_wal_encode_samples(&r[1], sm, 3);
	tsdb_wal_encode_tombstones(&r[2], &tb, 1);
	tsdb_wal_encode_exemplars(&r[3], &ex, 1);
	log_encoded(w, r, 4);
	buf_reset(&r[1]);
	tsdb_wal_encode_samples_dense(&r[1], sm, 2); /* both layouts reach .samples */
	log_encoded(w, r + 1, 1);
	buf_reset(&r[1]);
	tsdb_wal_encode_samples(&r[1], sm, 3);
	buf_putc(&r[0], 0); /* undecodable (trailing junk), CRC-valid */
	log_encoded(w, r, 1);
	close_wal(w);
	assert_int_equal(tsdb_wal_replay(f->wal, &ops, &c, &res, err, sizeof(err)),
			 TSDB_WAL_ECORRUPT);
	assert_non_null(strstr(err, "decode series record"));
	assert_non_null(strstr(err, "00000000"));
	assert_int_equal(c.series, 1);
	assert_int_equal(c.samples, 5);
	assert_int_equal(c.tombstones, 1);
	assert_int_equal(c.exemplars, 1);
	assert_int_equal(res.corrupt_segment, 0);
	assert_true(res.good_offset > 0);
	/* Cut it off; a callback's own error stops replay with its code and message. */
	assert_int_equal(tsdb_wal_repair(f->wal, 0, res.good_offset, err, sizeof(err)), 0);
	w = open_wal(f->wal, &never);
	sm[0].t = 666;
	buf_reset(&r[1]);
	tsdb_wal_encode_samples(&r[1], sm, 1);
	log_encoded(w, r + 1, 1);
	close_wal(w);
	memset(&c, 0, sizeof(c));
	assert_int_equal(tsdb_wal_replay(f->wal, &ops, &c, &res, err, sizeof(err)), -7);
	assert_string_equal(err, "head refused sample");
	for (int i = 0; i < 4; i++)
		buf_free(&r[i]);
}

static void test_multi_segment(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal_opts o = { .segment_size = 2 * TSDB_WAL_PAGE_SIZE,
				   .fsync = TSDB_WAL_FSYNC_NEVER };
	struct tsdb_wal *w = open_wal(f->wal, &o);
	struct tsdb_wal_stats st;
	int first, last;

	log_random(&f->m, w, 60, 3);
	/* A record larger than a whole segment gets a segment of its own, oversized. */
	log_batch(&f->m, w, 1, (size_t[]){ 5 * TSDB_WAL_PAGE_SIZE });
	assert_true(f->m.batch_end[f->m.nbatches - 1] > (int64_t)o.segment_size);
	log_batch(&f->m, w, 1, (size_t[]){ 3 });
	tsdb_wal_stats(w, &st);
	assert_int_equal(st.segment, tsdb_wal_current_segment(w));
	assert_int_equal(st.log_calls, f->m.nbatches);
	assert_int_equal(st.records, f->m.n);
	assert_int_equal(st.fsyncs, st.segment); /* one per finished segment, none per call */
	close_wal(w);
	assert_int_equal(tsdb_wal_segments(f->wal, &first, &last, err, sizeof(err)), 0);
	assert_int_equal(first, 0);
	assert_true(last >= 4);
	/* No batch crosses a segment: each segment ends exactly where its last batch does,
	 * and only oversized segments (a single batch) exceed the limit. */
	for (size_t b = 0; b < f->m.nbatches; b++) {
		if (b + 1 < f->m.nbatches && f->m.batch_seg[b + 1] != f->m.batch_seg[b])
			assert_int_equal(file_size(seg_path(f->wal, f->m.batch_seg[b])), f->m.batch_end[b]);
	}
	for (int s = first; s <= last; s++) {
		int64_t sz = file_size(seg_path(f->wal, s));
		size_t nb = 0;

		for (size_t b = 0; b < f->m.nbatches; b++)
			nb += f->m.batch_seg[b] == s;
		assert_true(sz <= (int64_t)o.segment_size || nb == 1);
	}
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
	assert_int_equal(f->c.progress_calls, last - first + 1);
	assert_int_equal(f->c.progress_n, last - first + 1);
	assert_int_equal(f->res.first, first);
	assert_int_equal(f->res.last, last);
}

/* --- torn tails and corruption ---------------------------------------------------- */

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &never);
	unsigned char *full;
	size_t full_len, first_tail;
	char *seg;

	/* Fill to just before a page boundary, then batches that straddle it: one of three
	 * records (the middle one split over the boundary), one empty record, one small. */
	log_batch(&f->m, w, 1, (size_t[]){ TSDB_WAL_PAGE_SIZE - 7 - 300 });
	log_batch(&f->m, w, 1, (size_t[]){ 100 });
	log_batch(&f->m, w, 3, (size_t[]){ 40, 400, 30 });
	log_batch(&f->m, w, 1, (size_t[]){ 0 });
	log_batch(&f->m, w, 2, (size_t[]){ 5, 60 });
	close_wal(w);
	seg = strdup(seg_path(f->wal, 0));
	full = read_all(seg, &full_len);
	assert_int_equal(full_len, f->m.batch_end[f->m.nbatches - 1]);
	first_tail = (size_t)f->m.batch_end[0];

	for (size_t cut = first_tail; cut <= full_len; cut++) {
		size_t nb = 0;
		int64_t good = 0;

		while (nb < f->m.nbatches && f->m.batch_end[nb] <= (int64_t)cut)
			good = f->m.batch_end[nb++];
		write_all(seg, full, cut);
		if (cut == full_len - 1)
			log_capture_start(f);
		if (replay(f->wal, &f->c, &f->res) != 0)
			fail_msg("cut at %zu: %s", cut, err);
		if (cut == full_len - 1) {
			/* The repair is logged as a warning naming segment and offset. */
			char want[64], *text = log_capture_end(f);

			snprintf(want, sizeof(want), "offset=%lld", (long long)good);
			assert_non_null(strstr(text, "level=warn"));
			assert_non_null(strstr(text, "segment=00000000"));
			assert_non_null(strstr(text, want));
			free(text);
		}
		assert_prefix(&f->m, &f->c, nb);
		assert_int_equal(f->res.truncated_bytes, (int64_t)cut - good);
		assert_int_equal(file_size(seg), good);
		/* Every so often: the writer resumes cleanly after the repaired tail. */
		if (cut % 41 == 0) {
			struct tsdb_wal_rec r = { "\x7f" "after", 6 };
			size_t before = f->c.got.n;

			w = open_wal(f->wal, &never);
			assert_int_equal(tsdb_wal_log(w, &r, 1, err, sizeof(err)), 0);
			close_wal(w);
			assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
			assert_int_equal(f->res.truncated_bytes, 0);
			assert_int_equal(f->c.got.n, before + 1);
			assert_memory_equal(f->c.got.data.data + f->c.got.data.len - 6, "\x7f" "after", 6);
		}
	}
	/* Zeros after the data (a crash after the file grew, before data reached disk)
	 * and a writer opening the torn file directly (no replay first). */
	{
		unsigned char *z = calloc(1, full_len + 5000);

		memcpy(z, full, full_len);
		write_all(seg, z, full_len + 5000);
		assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
		assert_prefix(&f->m, &f->c, f->m.nbatches);
		assert_int_equal(f->res.truncated_bytes, 5000);
		write_all(seg, full, full_len - 3);
		w = open_wal(f->wal, &never);
		assert_int_equal(file_size(seg), f->m.batch_end[f->m.nbatches - 2]);
		close_wal(w);
		free(z);
	}
	free(full);
	free(seg);
}

static void test_corruption(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &small);
	unsigned char *seg0;
	size_t len0;
	int first, last;
	char *p0;

	for (int b = 0; b < 100; b++)
		log_batch(&f->m, w, 2, (size_t[]){ 300 + rnd() % 700, 1 + rnd() % 200 });
	close_wal(w);
	assert_int_equal(tsdb_wal_segments(f->wal, &first, &last, err, sizeof(err)), 0);
	assert_true(last >= 2);
	p0 = strdup(seg_path(f->wal, 0));
	seg0 = read_all(p0, &len0);

	/* A flipped data byte in the first segment: a checksum mismatch that names segment
	 * and offset; what came before it was replayed. */
	flip_byte(p0, 500, 0x40);
	assert_int_equal(replay(f->wal, &f->c, &f->res), TSDB_WAL_ECORRUPT);
	assert_non_null(strstr(err, "00000000"));
	assert_non_null(strstr(err, "checksum mismatch"));
	assert_int_equal(f->res.corrupt_segment, 0);
	assert_in_range(f->res.corrupt_offset, 0, 500);
	assert_int_equal(f->res.good_offset, 0);
	assert_int_equal(f->c.got.n, 0);
	/* Flip every byte of segment 0 in turn (header bytes included): always detected or
	 * harmless, never a crash, and what replays is a prefix of the acknowledged log. */
	for (size_t off = 0; off < len0; off += 1 + off / 64) {
		write_all(p0, seg0, len0);
		flip_byte(p0, (int64_t)off, 0xff);
		int rc = replay(f->wal, &f->c, &f->res);

		assert_true(rc == 0 || rc == TSDB_WAL_ECORRUPT);
		if (rc == TSDB_WAL_ECORRUPT) {
			assert_int_equal(f->res.corrupt_segment, 0);
			assert_true(f->res.good_offset <= (int64_t)off);
		}
		size_t nb = 0;

		while (nb < f->m.nbatches && f->m.batch_seg[nb] == 0 && f->m.batch_end[nb] <= (int64_t)off)
			nb++;
		assert_prefix(&f->m, &f->c, nb);
	}
	write_all(p0, seg0, len0);

	/* Explicit repair at the reported point drops everything after it. */
	flip_byte(p0, 500, 0x40);
	assert_int_equal(replay(f->wal, &f->c, &f->res), TSDB_WAL_ECORRUPT);
	assert_int_equal(tsdb_wal_repair(f->wal, 0, f->res.good_offset, err, sizeof(err)), 0);
	assert_int_equal(tsdb_wal_segments(f->wal, &first, &last, err, sizeof(err)), 0);
	assert_int_equal(last, 0);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_int_equal(f->c.got.n, 0);
	free(seg0);
	free(p0);
}

static void test_corrupt_last_segment(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &small);
	int first, last;
	size_t nb = 0, target;

	for (int b = 0; b < 30; b++)
		log_batch(&f->m, w, 1, (size_t[]){ 2000 });
	close_wal(w);
	assert_int_equal(tsdb_wal_segments(f->wal, &first, &last, err, sizeof(err)), 0);
	/* Damage inside the last segment's second batch: cut there with a warning, the
	 * rest replays, and the writer continues from the cut. */
	while (f->m.batch_seg[nb] != last)
		nb++;
	target = nb + 1;
	flip_byte(seg_path(f->wal, last), f->m.batch_end[nb] + 100, 0x01);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, target);
	assert_true(f->res.truncated_bytes > 0);
	assert_int_equal(file_size(seg_path(f->wal, last)), f->m.batch_end[nb]);
}

/* --- durability policies and group commit ---------------------------------------- */

struct hooks {
	pthread_mutex_t mu;
	int fsyncs;
	int64_t durable;   /* data covered by the last successful fsync */
	int64_t written;   /* end of the data written so far (zeros ahead are not data) */
	int delay_us;
	int fail_fsync_at; /* 1-based fsync call to fail with EIO; 0 = never */
	int writes;
	int fail_write_at; /* 1-based pwrite call: write half, then ENOSPC */
	int fail_phase;
	void (*during_write)(void *);
	void *during_ctx;
};

static int hook_fsync(void *ctx, int fd)
{
	struct hooks *h = ctx;
	int n;

	int64_t written;

	/* What was written before the fsync started is what it makes durable. */
	pthread_mutex_lock(&h->mu);
	n = ++h->fsyncs;
	written = h->written;
	pthread_mutex_unlock(&h->mu);
	if (h->delay_us)
		usleep((useconds_t)h->delay_us);
	if (n == h->fail_fsync_at) {
		errno = EIO;
		return -1;
	}
	if (fdatasync(fd) < 0)
		return -1;
	pthread_mutex_lock(&h->mu);
	if (written > h->durable)
		h->durable = written;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

static bool all_zero(const void *buf, size_t len)
{
	const unsigned char *b = buf;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static long hook_pwrite(void *ctx, int fd, const void *buf, size_t len, int64_t off)
{
	struct hooks *h = ctx;
	int n = ++h->writes;
	bool zeros = all_zero(buf, len);

	if (!zeros) {
		pthread_mutex_lock(&h->mu);
		if (off + (int64_t)len > h->written)
			h->written = off + (int64_t)len;
		pthread_mutex_unlock(&h->mu);
	}
	if (h->fail_phase == 1) { /* the retry after a short write: the disk is full */
		h->fail_phase = 0;
		errno = ENOSPC;
		return -1;
	}
	if (n == h->fail_write_at && len > 1) {
		h->fail_phase = 1;
		return (long)pwrite(fd, buf, len / 2, off);
	}
	if (h->during_write && len > 1 && !zeros) {
		/* Half now, let an observer look, then the rest (a write in progress). */
		long k = (long)pwrite(fd, buf, len / 2, off);

		h->during_write(h->during_ctx);
		return k;
	}
	return (long)pwrite(fd, buf, len, off);
}

struct thread_arg {
	struct tsdb_wal *w;
	struct hooks *h;
	const char *seg;
	int id;
	int n;
};

/* Is rec within the first `durable` bytes of the segment? */
static bool covered(const char *seg, const unsigned char *rec, size_t len, int64_t durable)
{
	unsigned char *d = malloc((size_t)durable + 1);
	int fd = open(seg, O_RDONLY);
	bool ok = d && fd >= 0 && pread(fd, d, (size_t)durable, 0) == durable &&
		  memmem(d, (size_t)durable, rec, len);

	if (fd >= 0)
		close(fd);
	free(d);
	return ok;
}

static void *writer_thread(void *p)
{
	struct thread_arg *a = p;
	char e[256];

	for (int i = 0; i < a->n; i++) {
		unsigned char rec[16] = { 0x7f };
		struct tsdb_wal_rec r = { rec, sizeof(rec) };
		int64_t durable;

		rec[1] = (unsigned char)a->id;
		memcpy(rec + 2, &i, sizeof(i));
		if (tsdb_wal_log(a->w, &r, 1, e, sizeof(e)) != 0)
			return (void *)1;
		/* Acknowledged means an fsync that started after the write has finished. */
		pthread_mutex_lock(&a->h->mu);
		durable = a->h->durable;
		pthread_mutex_unlock(&a->h->mu);
		if (!covered(a->seg, rec, sizeof(rec), durable))
			return (void *)2;
	}
	return NULL;
}

static void test_group_commit(void **state)
{
	struct fx *f = *state;
	struct hooks h = { .mu = PTHREAD_MUTEX_INITIALIZER, .delay_us = 2000 };
	struct tsdb_wal_opts o = { .fsync = TSDB_WAL_FSYNC_BATCH, .pwrite_hook = hook_pwrite,
				   .fsync_hook = hook_fsync, .hook_ctx = &h };
	struct tsdb_wal *w = open_wal(f->wal, &o);
	enum { THREADS = 8, PER = 40 };
	pthread_t t[THREADS];
	struct thread_arg a[THREADS];
	struct tsdb_wal_stats st;
	struct coll c = { 0 };
	int next[THREADS] = { 0 };
	char segp[600];

	snprintf(segp, sizeof(segp), "%s", seg_path(f->wal, 0));
	for (int i = 0; i < THREADS; i++) {
		a[i] = (struct thread_arg){ w, &h, segp, i, PER };
		assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &a[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		void *ret;

		pthread_join(t[i], &ret);
		assert_null(ret);
	}
	tsdb_wal_stats(w, &st);
	assert_int_equal(st.log_calls, THREADS * PER);
	assert_int_equal(st.fsyncs, (uint64_t)h.fsyncs);
	/* Concurrent callers shared fsyncs. */
	if (!(st.fsyncs < st.log_calls / 2))
		fail_msg("%llu fsyncs for %llu calls", (unsigned long long)st.fsyncs,
			 (unsigned long long)st.log_calls);
	assert_true(st.fsync_seconds > 0);
	close_wal(w);
	assert_int_equal(replay(f->wal, &c, NULL), 0);
	assert_int_equal(c.got.n, THREADS * PER);
	/* Each thread's records are all there, once, in its order. */
	for (size_t i = 0, off = 0; i < c.got.n; off += c.got.len[i++]) {
		const unsigned char *r = (const unsigned char *)c.got.data.data + off;
		int seq;

		assert_int_equal(c.got.len[i], 16);
		memcpy(&seq, r + 2, sizeof(seq));
		assert_int_equal(seq, next[r[1]]);
		next[r[1]]++;
	}
	model_free(&c.got);
}

static void test_fsync_policies(void **state)
{
	struct fx *f = *state;
	struct hooks h = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct tsdb_wal_opts o = { .fsync = TSDB_WAL_FSYNC_ALWAYS, .fsync_hook = hook_fsync,
				   .hook_ctx = &h };
	struct tsdb_wal_rec r = { "\x7f" "x", 2 };
	struct tsdb_wal_stats st;
	struct tsdb_wal *w = open_wal(f->wal, &o);
	enum tsdb_wal_fsync p;

	for (int i = 0; i < 10; i++)
		assert_int_equal(tsdb_wal_log(w, &r, 1, err, sizeof(err)), 0);
	tsdb_wal_stats(w, &st);
	assert_int_equal(st.fsyncs, 10);
	close_wal(w);
	h.fsyncs = 0;
	o.fsync = TSDB_WAL_FSYNC_NEVER;
	w = open_wal(f->wal, &o);
	for (int i = 0; i < 10; i++)
		assert_int_equal(tsdb_wal_log(w, &r, 1, err, sizeof(err)), 0);
	tsdb_wal_stats(w, &st);
	assert_int_equal(st.fsyncs, 0);
	close_wal(w);
	assert_int_equal(h.fsyncs, 1); /* close makes it durable */

	assert_int_equal(tsdb_wal_parse_fsync("always", &p), 0);
	assert_int_equal(p, TSDB_WAL_FSYNC_ALWAYS);
	assert_int_equal(tsdb_wal_parse_fsync("batch", &p), 0);
	assert_int_equal(p, TSDB_WAL_FSYNC_BATCH);
	assert_int_equal(tsdb_wal_parse_fsync("never", &p), 0);
	assert_int_equal(p, TSDB_WAL_FSYNC_NEVER);
	assert_int_equal(tsdb_wal_parse_fsync("sometimes", &p), -1);
}

/* tsdb_wal_log_ex()'s callback: called once per written batch, before the fsync that
 * makes it durable under "batch" (after it under "always"), not when the write fails,
 * and an fsync failing after it still fails the call. */
struct written_probe {
	struct hooks *h;
	int calls;
	int fsyncs_at_call;
};

static void probe_written(void *arg)
{
	struct written_probe *p = arg;

	p->calls++;
	pthread_mutex_lock(&p->h->mu);
	p->fsyncs_at_call = p->h->fsyncs;
	pthread_mutex_unlock(&p->h->mu);
}

static void test_log_written_callback(void **state)
{
	struct fx *f = *state;
	struct hooks h = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct tsdb_wal_opts o = { .fsync = TSDB_WAL_FSYNC_BATCH, .pwrite_hook = hook_pwrite,
				   .fsync_hook = hook_fsync, .hook_ctx = &h };
	struct tsdb_wal_rec r = { "\x7f" "x", 2 };
	struct written_probe p = { .h = &h };
	struct tsdb_wal *w = open_wal(f->wal, &o);

	assert_int_equal(tsdb_wal_log_ex(w, &r, 1, probe_written, &p, err, sizeof(err)), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.fsyncs_at_call, 0); /* before its fsync */
	assert_int_equal(h.fsyncs, 1);
	h.fail_fsync_at = 2;
	assert_int_equal(tsdb_wal_log_ex(w, &r, 1, probe_written, &p, err, sizeof(err)), -1);
	assert_int_equal(p.calls, 2); /* written, then the fsync failed */
	assert_int_equal(p.fsyncs_at_call, 1);
	assert_int_equal(tsdb_wal_log_ex(w, &r, 0, probe_written, &p, err, sizeof(err)), 0);
	assert_int_equal(p.calls, 2); /* nothing to write */
	close_wal(w);

	h = (struct hooks){ .mu = PTHREAD_MUTEX_INITIALIZER };
	o.fsync = TSDB_WAL_FSYNC_ALWAYS;
	w = open_wal(f->wal, &o);
	h.fail_write_at = h.writes + 1;
	p = (struct written_probe){ .h = &h };
	assert_int_equal(tsdb_wal_log_ex(w, &r, 1, probe_written, &p, err, sizeof(err)), -1);
	assert_int_equal(p.calls, 0); /* the write failed */
	assert_int_equal(tsdb_wal_log_ex(w, &r, 1, probe_written, &p, err, sizeof(err)), 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.fsyncs_at_call, h.fsyncs); /* after its fsync */
	close_wal(w);
}

/* --- write failures -------------------------------------------------------------- */

/* Log a batch that must fail with `want` in the message and leave the segment as it
 * was: the model does not take it (it was never acknowledged). */
static void log_failing(struct fx *f, struct tsdb_wal *w, size_t n, const size_t *lens,
			const char *want)
{
	struct model shadow = f->m; /* only for the batch number in the generated bytes */
	struct tsdb_wal_rec recs[8];
	struct buf sb = { 0 };
	struct tsdb_wal_stats before, after;

	tsdb_wal_stats(w, &before);
	build_batch(&shadow, &sb, recs, n, lens);
	assert_int_equal(tsdb_wal_log(w, recs, n, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("expected \"%s\" in: %s", want, err);
	tsdb_wal_stats(w, &after);
	assert_int_equal(after.segment, before.segment);
	assert_int_equal(after.offset, before.offset);
	/* Cut back to the data, zeros ahead included. */
	assert_int_equal(file_size(seg_path(f->wal, before.segment)), before.offset);
	buf_free(&sb);
}

static void test_write_failures(void **state)
{
	struct fx *f = *state;
	struct hooks h = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct tsdb_wal_opts o = { .fsync = TSDB_WAL_FSYNC_BATCH, .pwrite_hook = hook_pwrite,
				   .fsync_hook = hook_fsync, .hook_ctx = &h };
	struct tsdb_wal *w = open_wal(f->wal, &o);
	struct tsdb_wal_stats st;

	for (int b = 0; b < 5; b++)
		log_batch(&f->m, w, 2, (size_t[]){ 100, 3000 });
	/* A multi-page batch whose write stops half-way with ENOSPC: the half is gone. */
	h.fail_write_at = h.writes + 1;
	log_failing(f, w, 3, (size_t[]){ 500, 70000, 20 }, strerror(ENOSPC));
	assert_non_null(strstr(err, "00000000"));
	/* Space is back: writes succeed and start at a record boundary. */
	for (int b = 0; b < 5; b++)
		log_batch(&f->m, w, 1, (size_t[]){ 1 + rnd() % 5000 });
	/* A small batch failing inside a page. */
	h.fail_write_at = h.writes + 1;
	log_failing(f, w, 1, (size_t[]){ 40 }, strerror(ENOSPC));
	log_batch(&f->m, w, 1, (size_t[]){ 77 });
	/* A failed fsync: not acknowledged, so not kept; the segment is cut back to what
	 * the last good fsync covered. */
	h.fail_fsync_at = h.fsyncs + 1;
	log_failing(f, w, 2, (size_t[]){ 10, 40000 }, "fsync");
	for (int b = 0; b < 3; b++)
		log_batch(&f->m, w, 1, (size_t[]){ 500 });
	tsdb_wal_stats(w, &st);
	assert_int_equal(st.writes_failed, 3);
	assert_int_equal(st.log_calls, f->m.nbatches);
	close_wal(w);
	assert_int_equal(replay(f->wal, &f->c, NULL), 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
}

/* --- checkpoints ------------------------------------------------------------------ */

struct entry {
	int type; /* 1 series, 2 sample */
	uint64_t ref;
	int64_t t;
	int seg;  /* where it was logged; -1 once inside a checkpoint */
};

struct cp_model {
	struct entry e[32768];
	size_t n;
	struct entry got[32768];
	size_t ngot;
};

static bool keep_odd(void *ctx, uint64_t ref)
{
	return ref % 2 == 1;
}

static bool keep_not_five(void *ctx, uint64_t ref)
{
	return ref % 5 != 0;
}

static int cp_series(void *ctx, const struct tsdb_wal_series *s, size_t n, char *e, size_t el)
{
	struct cp_model *m = ctx;

	for (size_t i = 0; i < n; i++)
		m->got[m->ngot++] = (struct entry){ 1, s[i].ref, 0, 0 };
	return 0;
}

static int cp_samples(void *ctx, const struct tsdb_wal_sample *s, size_t n, char *e, size_t el)
{
	struct cp_model *m = ctx;

	for (size_t i = 0; i < n; i++) {
		assert_true(s[i].v == (double)s[i].t * 2);
		m->got[m->ngot++] = (struct entry){ 2, s[i].ref, s[i].t, 0 };
	}
	return 0;
}

/* Log series ref..ref+nser-1 in one record, then samples for them at times t0.. */
/* Log every other batch's samples in lgtm's columnar layout (1: as written now, 2:
 * alternating with the older 0x81 layout). */
static int cp_dense;

static void cp_log(struct cp_model *m, struct tsdb_wal *w, uint64_t ref, int nser, int64_t t0,
		   int nt)
{
	struct tsdb_wal_series s[16] = { 0 };
	struct tsdb_wal_sample sm[2048];
	struct buf b[2] = { 0 };
	char names[16][24];
	struct label lbl[16];
	enum layout l = L_PROMETHEUS;
	size_t k = 0;

	for (int i = 0; i < nser; i++) {
		snprintf(names[i], sizeof(names[i]), "s%llu", (unsigned long long)(ref + i));
		lbl[i] = (struct label){ "__name__", names[i] };
		s[i] = (struct tsdb_wal_series){ ref + i, { &lbl[i], 1 } };
	}
	for (int j = 0; j < nt; j++)
		for (int i = 0; i < nser; i++, k++)
			sm[k] = (struct tsdb_wal_sample){ ref + i, t0 + j * 100, (t0 + j * 100) * 2.0 };
	tsdb_wal_encode_series(&b[0], s, (size_t)nser);
	if (cp_dense == 2 && ref / 10 % 4 == 3)
		l = L_DENSE_V1;
	else if (cp_dense && ref / 10 % 2)
		l = L_DENSE;
	encode_as(&b[1], l, sm, k);
	log_encoded(w, b, 2);
	for (int i = 0; i < nser; i++)
		m->e[m->n++] = (struct entry){ 1, ref + i, 0, tsdb_wal_current_segment(w) };
	for (size_t i = 0; i < k; i++)
		m->e[m->n++] = (struct entry){ 2, sm[i].ref, sm[i].t, tsdb_wal_current_segment(w) };
	buf_free(&b[0]);
	buf_free(&b[1]);
}

static void cp_apply(struct cp_model *m, int upto, bool (*keep)(void *, uint64_t), int64_t mint)
{
	size_t k = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct entry x = m->e[i];

		if (x.seg <= upto) {
			if (!keep(NULL, x.ref) || (x.type == 2 && x.t < mint))
				continue;
			x.seg = -1;
		}
		m->e[k++] = x;
	}
	m->n = k;
}

static void cp_check(struct cp_model *m, const char *dir)
{
	const struct tsdb_wal_replay_ops ops = { .series = cp_series, .samples = cp_samples };

	m->ngot = 0;
	if (tsdb_wal_replay(dir, &ops, m, NULL, err, sizeof(err)) != 0)
		fail_msg("replay: %s", err);
	assert_int_equal(m->ngot, m->n);
	for (size_t i = 0; i < m->n; i++) {
		assert_int_equal(m->got[i].type, m->e[i].type);
		assert_int_equal(m->got[i].ref, m->e[i].ref);
		assert_int_equal(m->got[i].t, m->e[i].t);
	}
}

/* The options test_checkpoint writes with (segments of one page). */
static const struct tsdb_wal_opts *cp_opts = &small;

static void test_checkpoint(void **state)
{
	struct fx *f = *state;
	struct cp_model *m = calloc(1, sizeof(*m));
	struct tsdb_wal *w = open_wal(f->wal, cp_opts);
	struct tsdb_wal_checkpoint_stats st;
	char path[512];
	int seg, first, last, cp;

	assert_non_null(m);
	for (int i = 0; i < 12; i++)
		cp_log(m, w, 1 + (uint64_t)i * 10, 10, i * 500, 100);
	/* Compressed, the same records fill fewer one-page segments. */
	assert_true(cp_opts->compression || tsdb_wal_current_segment(w) >= 3);
	/* The segment being written cannot be checkpointed. */
	assert_int_equal(tsdb_wal_checkpoint(w, tsdb_wal_current_segment(w), keep_odd, NULL, 0,
					     NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "still being written"));
	/* A leftover from an interrupted checkpoint is ignored and cleaned up. */
	snprintf(path, sizeof(path), "%s/checkpoint.00000000.tmp", f->wal);
	assert_int_equal(mkdir(path, 0755), 0);
	write_all(seg_path(path, 0), "junk", 4);

	assert_int_equal(tsdb_wal_cut(w, &seg, err, sizeof(err)), 0);
	cp_log(m, w, 500, 2, 0, 3); /* old samples, but in a segment after the checkpoint */
	assert_int_equal(tsdb_wal_checkpoint(w, seg - 1, keep_odd, NULL, 3000, &st, err,
					     sizeof(err)), 0);
	cp_apply(m, seg - 1, keep_odd, 3000);
	assert_int_equal(st.previous, -1);
	assert_int_equal(st.from, 0);
	assert_int_equal(st.to, seg - 1);
	assert_true(st.series_dropped > 0 && st.samples_dropped > 0 && st.samples_kept > 0);
	assert_int_equal(tsdb_wal_segments(f->wal, &first, &last, err, sizeof(err)), 0);
	assert_int_equal(first, seg);
	assert_int_equal(tsdb_wal_checkpoint_last(f->wal, &cp, path, sizeof(path), err,
						  sizeof(err)), 0);
	assert_int_equal(cp, seg - 1);
	assert_non_null(strstr(path, "/checkpoint."));
	snprintf(path, sizeof(path), "%s/checkpoint.00000000.tmp", f->wal);
	assert_int_equal(file_size(path), -1);
	cp_check(m, f->wal);

	/* A second checkpoint folds the first one in and replaces it. */
	for (int i = 0; i < 6; i++)
		cp_log(m, w, 1000 + (uint64_t)i * 10, 8, 4000 + i * 300, 15);
	int cp1 = cp;

	assert_int_equal(tsdb_wal_cut(w, &seg, err, sizeof(err)), 0);
	assert_int_equal(tsdb_wal_checkpoint(w, seg - 1, keep_not_five, NULL, 5000, &st, err,
					     sizeof(err)), 0);
	cp_apply(m, seg - 1, keep_not_five, 5000);
	assert_int_equal(st.previous, cp1);
	assert_int_equal(st.from, cp1 + 1);
	assert_int_equal(st.to, seg - 1);
	assert_int_equal(tsdb_wal_checkpoint_last(f->wal, &cp, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(cp, seg - 1);
	snprintf(path, sizeof(path), "%s/checkpoint.%08d", f->wal, cp1);
	assert_int_equal(file_size(path), -1);
	cp_check(m, f->wal);
	/* Nothing new: a no-op. */
	assert_int_equal(tsdb_wal_checkpoint(w, seg - 1, keep_odd, NULL, 0, &st, err,
					     sizeof(err)), 0);
	assert_int_equal(st.from, -1);
	assert_int_equal(st.previous, -1);
	/* Writes continue after checkpoints, and a reopened writer finds the right tail. */
	cp_log(m, w, 3001, 1, 9000, 2);
	close_wal(w);
	w = open_wal(f->wal, cp_opts);
	cp_log(m, w, 3003, 1, 9100, 2);
	close_wal(w);
	cp_check(m, f->wal);
	free(m);
}

/* The same with zstd: the checkpoint is written compressed like the log. */
static void test_checkpoint_compressed(void **state)
{
	static const struct tsdb_wal_opts zs = { .segment_size = TSDB_WAL_PAGE_SIZE,
						 .fsync = TSDB_WAL_FSYNC_NEVER,
						 .compression = TSDB_WAL_COMPRESS_ZSTD };
	struct fx *f = *state;
	char path[512];
	unsigned char *d;
	size_t len;
	int cp;

	cp_opts = &zs;
	test_checkpoint(state);
	cp_opts = &small;
	assert_int_equal(tsdb_wal_checkpoint_last(f->wal, &cp, path, sizeof(path), err,
						  sizeof(err)), 0);
	d = read_all(seg_path(path, 0), &len);
	assert_true(len > 0);
	assert_int_equal(d[0] & (WAL_FLAG_SNAPPY | WAL_FLAG_ZSTD), WAL_FLAG_ZSTD);
	free(d);
}

/* Checkpoints keep and drop columnar samples records like Prometheus' ones, and take
 * in the layout older builds wrote. */
static void test_checkpoint_dense_samples(void **state)
{
	cp_dense = 1;
	test_checkpoint(state);
	cp_dense = 0;
}

static void test_checkpoint_dense_v1_samples(void **state)
{
	cp_dense = 2;
	test_checkpoint(state);
	cp_dense = 0;
}

static int keep_calls;

static bool keep_small_counted(void *ctx, uint64_t ref)
{
	keep_calls++;
	return ref < 1000;
}

/* keep() is asked once per ref through the checkpoint's memo, which grows to the refs
 * it meets; refs too large for it (top bit set) are asked every time. */
static void test_checkpoint_keep_memo(void **state)
{
	struct fx *f = *state;
	struct cp_model *m = calloc(1, sizeof(*m));
	struct tsdb_wal *w = open_wal(f->wal, &small);
	int seg;

	assert_non_null(m);
	cp_log(m, w, 1, 16, 0, 100);
	cp_log(m, w, 65537, 16, 0, 100); /* the memo grows */
	cp_log(m, w, 1, 16, 10000, 20);
	cp_log(m, w, (1ull << 63) + 1, 4, 0, 10);
	assert_int_equal(tsdb_wal_cut(w, &seg, err, sizeof(err)), 0);
	keep_calls = 0;
	assert_int_equal(tsdb_wal_checkpoint(w, seg - 1, keep_small_counted, NULL, 0, NULL, err,
					     sizeof(err)), 0);
	/* 16 + 16 memoized refs, and 4 series plus their 40 samples asked each. */
	assert_int_equal(keep_calls, 16 + 16 + 4 + 40);
	cp_apply(m, seg - 1, keep_small_counted, 0);
	close_wal(w);
	cp_check(m, f->wal);
	free(m);
}

static void test_checkpoint_progress(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &small);
	int seg, first, last;
	char path[512];

	for (int b = 0; b < 10; b++)
		log_batch(&f->m, w, 1, (size_t[]){ 20000 });
	assert_int_equal(tsdb_wal_cut(w, &seg, err, sizeof(err)), 0);
	/* Opaque records survive a checkpoint unchanged. */
	assert_int_equal(tsdb_wal_checkpoint(w, seg - 1, NULL, NULL, 0, NULL, err, sizeof(err)),
			 0);
	for (int b = 0; b < 3; b++)
		log_batch(&f->m, w, 1, (size_t[]){ 20000 });
	close_wal(w);
	assert_int_equal(tsdb_wal_segments(f->wal, &first, &last, err, sizeof(err)), 0);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
	assert_int_equal(f->res.checkpoint, seg - 1);
	assert_true(f->c.saw_checkpoint);
	snprintf(path, sizeof(path), "%s/checkpoint.%08d", f->wal, seg - 1);
	{
		int cf, cl;

		assert_int_equal(tsdb_wal_segments(path, &cf, &cl, err, sizeof(err)), 0);
		assert_int_equal(f->c.progress_n, (cl - cf + 1) + (last - first + 1));
		assert_int_equal(f->c.progress_calls, f->c.progress_n);
	}
	/* A gap after the checkpoint is reported, not skipped over. */
	assert_int_equal(unlink(seg_path(f->wal, first)), 0);
	assert_int_equal(replay(f->wal, &f->c, &f->res), TSDB_WAL_ECORRUPT);
	assert_non_null(strstr(err, "missing"));
	/* With every segment gone, a writer starts after the checkpoint, not at 0 (which
	 * replay would skip as covered by it). */
	for (int s = first; s <= last; s++)
		unlink(seg_path(f->wal, s));
	w = open_wal(f->wal, &small);
	assert_int_equal(tsdb_wal_current_segment(w), seg);
	{
		struct tsdb_wal_rec r = { "\x7f" "new", 4 };

		assert_int_equal(tsdb_wal_log(w, &r, 1, err, sizeof(err)), 0);
	}
	close_wal(w);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_int_equal(f->c.got.n, 11);
	assert_memory_equal(f->c.got.data.data, f->m.data.data, f->c.got.data.len - 4);
	assert_memory_equal(f->c.got.data.data + f->c.got.data.len - 4, "\x7f" "new", 4);
}

/* --- tailing reader --------------------------------------------------------------- */

struct tail {
	struct tsdb_wal_reader *r;
	int seen_during_write;
	int calls;
};

static int drain(struct tsdb_wal_reader *r, struct model *into)
{
	const void *rec;
	size_t len;
	int rc, k = 0;

	while ((rc = tsdb_wal_reader_next(r, &rec, &len, err, sizeof(err))) == 1) {
		model_push(into, rec, len, 0);
		k++;
	}
	if (rc < 0)
		return rc;
	return k;
}

static void peek_during_write(void *ctx)
{
	struct tail *t = ctx;
	struct model tmp = { 0 };

	t->calls++;
	t->seen_during_write += drain(t->r, &tmp);
	model_free(&tmp);
}

/* The policy test_tail_reader writes with. */
static enum tsdb_wal_fsync tail_fsync = TSDB_WAL_FSYNC_NEVER;

static void test_tail_reader(void **state)
{
	struct fx *f = *state;
	struct hooks h = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct tsdb_wal_opts o = { .fsync = tail_fsync, .pwrite_hook = hook_pwrite,
				   .hook_ctx = &h, .segment_size = 4 * TSDB_WAL_PAGE_SIZE };
	struct tsdb_wal *w;
	struct tail t = { 0 };
	int seg;
	int64_t off;

	/* A reader may start before the WAL exists. */
	assert_int_equal(tsdb_wal_reader_open(f->wal, -1, &t.r, err, sizeof(err)), 0);
	assert_int_equal(drain(t.r, &f->c.got), 0);
	w = open_wal(f->wal, &o);
	assert_int_equal(drain(t.r, &f->c.got), 0);
	for (int b = 0; b < 3; b++)
		log_batch(&f->m, w, 2, (size_t[]){ 50, 9000 });
	assert_int_equal(drain(t.r, &f->c.got), 6);
	assert_prefix(&f->m, &f->c, 3);
	tsdb_wal_reader_position(t.r, &seg, &off);
	assert_int_equal(seg, 0);
	assert_int_equal(off, f->m.batch_end[2]);
	assert_int_equal(drain(t.r, &f->c.got), 0);
	/* With fsyncs the segment is written ahead with zeros, to its full size here. */
	if (tail_fsync != TSDB_WAL_FSYNC_NEVER)
		assert_int_equal(file_size(seg_path(f->wal, 0)), o.segment_size);
	else
		assert_int_equal(file_size(seg_path(f->wal, 0)), off);

	/* A batch caught half-written is not handed out until it is complete. */
	h.during_write = peek_during_write;
	h.during_ctx = &t;
	log_batch(&f->m, w, 3, (size_t[]){ 100, 40000, 7 });
	h.during_write = NULL;
	assert_true(t.calls > 0);
	assert_int_equal(t.seen_during_write, 0);
	assert_int_equal(drain(t.r, &f->c.got), 3);
	assert_prefix(&f->m, &f->c, 4);

	/* Following the writer into new segments, oversized ones included. */
	for (int b = 0; b < 12; b++) {
		log_batch(&f->m, w, 1, (size_t[]){ 1 + rnd() % 30000 });
		if (b % 5 == 0)
			assert_true(drain(t.r, &f->c.got) >= 0);
	}
	log_batch(&f->m, w, 1, (size_t[]){ 300000 });
	assert_true(tsdb_wal_current_segment(w) >= 3);
	assert_true(drain(t.r, &f->c.got) > 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
	/* Closed segments hold their data and nothing else. */
	for (size_t b = 0; b + 1 < f->m.nbatches; b++)
		if (f->m.batch_seg[b + 1] != f->m.batch_seg[b])
			assert_int_equal(file_size(seg_path(f->wal, f->m.batch_seg[b])),
					 f->m.batch_end[b]);

	/* A second reader from segment 1 sees everything from there. */
	{
		struct tsdb_wal_reader *r2;
		struct model got = { 0 };
		size_t nb = 0, skip = 0, bytes = 0;

		while (f->m.batch_seg[nb] < 1)
			nb++;
		while (skip < f->m.n && f->m.batch[skip] < nb)
			bytes += f->m.len[skip++];
		assert_int_equal(tsdb_wal_reader_open(f->wal, 1, &r2, err, sizeof(err)), 0);
		assert_int_equal(drain(r2, &got), (int)(f->m.n - skip));
		assert_memory_equal(got.data.data, f->m.data.data + bytes, got.data.len);
		tsdb_wal_reader_close(r2);
		model_free(&got);
	}

	/* A checkpoint that deletes the reader's segments is reported as EGONE. */
	tsdb_wal_reader_position(t.r, &seg, &off);
	{
		int s2;

		assert_int_equal(tsdb_wal_cut(w, &s2, err, sizeof(err)), 0);
		log_batch(&f->m, w, 1, (size_t[]){ 10 });
		assert_int_equal(tsdb_wal_cut(w, &s2, err, sizeof(err)), 0);
		assert_int_equal(tsdb_wal_checkpoint(w, s2 - 1, NULL, NULL, 0, NULL, err,
						     sizeof(err)), 0);
	}
	assert_int_equal(drain(t.r, &f->c.got), TSDB_WAL_EGONE);
	assert_non_null(strstr(err, "deleted"));
	tsdb_wal_reader_close(t.r);
	/* Opening behind the first segment is EGONE too. */
	assert_int_equal(tsdb_wal_reader_open(f->wal, 0, &t.r, err, sizeof(err)), 0);
	assert_int_equal(drain(t.r, &f->c.got), TSDB_WAL_EGONE);
	tsdb_wal_reader_close(t.r);
	close_wal(w);
}

/* The same over a log written with fsyncs, so with zeros ahead of its data: a batch
 * is only seen once complete although the file already has its bytes (as zeros). */
static void test_tail_reader_zeros_ahead(void **state)
{
	tail_fsync = TSDB_WAL_FSYNC_BATCH;
	test_tail_reader(state);
	tail_fsync = TSDB_WAL_FSYNC_NEVER;
}

struct tail_race {
	struct fx *f;
	struct tsdb_wal *w;
	int done; /* atomic */
};

static void *race_writer(void *arg)
{
	struct tail_race *tr = arg;

	for (int b = 0; b < 600; b++)
		log_batch(&tr->f->m, tr->w, 1 + rnd() % 3,
			  (size_t[]){ 1 + rnd() % 9000, 1 + rnd() % 40000, 1 + rnd() % 100 });
	__atomic_store_n(&tr->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A reader following a writer that writes into zeros reads every batch once, whole,
 * in order, and never mistakes a page caught mid-write for damage. */
static void test_tail_reader_race(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal_opts o = { .fsync = TSDB_WAL_FSYNC_BATCH,
				   .segment_size = 16 * TSDB_WAL_PAGE_SIZE };
	struct tail_race tr = { .f = f };
	struct tsdb_wal_reader *r;
	pthread_t th;
	int rc;

	tr.w = open_wal(f->wal, &o);
	assert_int_equal(tsdb_wal_reader_open(f->wal, -1, &r, err, sizeof(err)), 0);
	assert_int_equal(pthread_create(&th, NULL, race_writer, &tr), 0);
	while (!__atomic_load_n(&tr.done, __ATOMIC_ACQUIRE)) {
		rc = drain(r, &f->c.got);
		if (rc < 0)
			fail_msg("reader: %s", err);
	}
	pthread_join(th, NULL);
	assert_true(drain(r, &f->c.got) >= 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
	tsdb_wal_reader_close(r);
	close_wal(tr.w);
}

/* A crash leaves the zeros ahead behind: replay takes every batch and cuts them, and a
 * writer carries on from there. */
static void test_zeros_after_crash(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal_opts o = { .fsync = TSDB_WAL_FSYNC_ALWAYS };
	struct tsdb_wal *w = open_wal(f->wal, &o);
	char copy[300], path[600];
	unsigned char *d;
	size_t len;

	for (int b = 0; b < 20; b++)
		log_batch(&f->m, w, 2, (size_t[]){ rnd_len(), rnd_len() });
	assert_true(file_size(seg_path(f->wal, 0)) > f->m.batch_end[19]);
	/* The segment as a crash would leave it: copied while the writer has it open. */
	snprintf(copy, sizeof(copy), "%s/crashed", f->root);
	assert_int_equal(wal_mkdir_p(copy, err, sizeof(err)), 0);
	d = read_all(seg_path(f->wal, 0), &len);
	snprintf(path, sizeof(path), "%s", seg_path(copy, 0));
	write_all(path, d, len);
	free(d);
	close_wal(w);
	assert_int_equal(file_size(seg_path(f->wal, 0)), f->m.batch_end[19]);
	assert_int_equal(replay(copy, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, 20);
	assert_int_equal(file_size(path), f->m.batch_end[19]);
	model_free(&f->c.got);
	w = open_wal(copy, &o);
	log_batch(&f->m, w, 1, (size_t[]){ 5000 });
	close_wal(w);
	assert_int_equal(replay(copy, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, 21);
}

static void test_reader_corruption(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &never);
	struct tsdb_wal_reader *r;

	for (int b = 0; b < 4; b++)
		log_batch(&f->m, w, 1, (size_t[]){ 100 });
	close_wal(w);
	flip_byte(seg_path(f->wal, 0), f->m.batch_end[1] + 10, 0x10);
	assert_int_equal(tsdb_wal_reader_open(f->wal, -1, &r, err, sizeof(err)), 0);
	assert_int_equal(drain(r, &f->c.got), TSDB_WAL_ECORRUPT);
	assert_non_null(strstr(err, "checksum mismatch"));
	assert_prefix(&f->m, &f->c, 2);
	/* It stays an error (the reader does not skip over damage). */
	assert_int_equal(drain(r, &f->c.got), TSDB_WAL_ECORRUPT);
	tsdb_wal_reader_close(r);
	/* A segment cut back below what the reader already handed out is reported. */
	flip_byte(seg_path(f->wal, 0), f->m.batch_end[1] + 10, 0x10);
	assert_int_equal(tsdb_wal_reader_open(f->wal, -1, &r, err, sizeof(err)), 0);
	assert_int_equal(drain(r, &f->c.got), 4);
	assert_int_equal(truncate(seg_path(f->wal, 0), f->m.batch_end[0]), 0);
	assert_int_equal(drain(r, &f->c.got), TSDB_WAL_ECORRUPT);
	assert_non_null(strstr(err, "shrank"));
	tsdb_wal_reader_close(r);
}

/* Hand-made segments: framing the writer never produces must be refused. */
static void frag(struct buf *b, unsigned char type, const char *data, size_t len)
{
	uint32_t crc = tsdb_wal_crc32c(0, data, len);
	unsigned char h[7] = { type, (unsigned char)(len >> 8), (unsigned char)len,
			       (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
			       (unsigned char)(crc >> 8), (unsigned char)crc };

	buf_append(b, h, 7);
	buf_append(b, data, len);
}

static void zeros_to(struct buf *b, size_t off)
{
	while (b->len < off)
		buf_putc(b, 0);
}

static void expect_bad(struct fx *f, const struct buf *seg, size_t good_records,
		       const char *why)
{
	struct tsdb_wal_reader *r;
	struct model got = { 0 };

	assert_int_equal(wal_mkdir_p(f->wal, err, sizeof(err)), 0);
	write_all(seg_path(f->wal, 0), seg->data, seg->len);
	assert_int_equal(tsdb_wal_reader_open(f->wal, 0, &r, err, sizeof(err)), 0);
	assert_int_equal(drain(r, &got), TSDB_WAL_ECORRUPT);
	if (!strstr(err, why))
		fail_msg("expected \"%s\" in: %s", why, err);
	assert_int_equal(got.n, good_records);
	tsdb_wal_reader_close(r);
	/* At start-up the same damage in the last segment is cut off. */
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_int_equal(f->c.got.n, good_records);
	assert_true(f->res.truncated_bytes > 0);
	model_free(&f->c.got);
	model_free(&got);
}

static void test_bad_framing(void **state)
{
	struct fx *f = *state;
	struct buf b = { 0 };

	/* Padding between the first and last fragment of a record. */
	frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
	frag(&b, WAL_FRAG_FIRST, "\x7f" "abc", 4);
	zeros_to(&b, TSDB_WAL_PAGE_SIZE);
	frag(&b, WAL_FRAG_LAST, "def", 3);
	expect_bad(f, &b, 1, "padding inside a record");
	/* A last fragment without a first. */
	buf_reset(&b);
	frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
	frag(&b, WAL_FRAG_LAST, "def", 3);
	expect_bad(f, &b, 1, "without a first");
	/* A new record while one is open. */
	buf_reset(&b);
	frag(&b, WAL_FRAG_FIRST, "\x7f" "abc", 4);
	frag(&b, WAL_FRAG_FULL, "\x7f" "x", 2);
	expect_bad(f, &b, 0, "starts inside a record");
	/* A compressed record that does not decode (its CRC is fine), and both bits. */
	buf_reset(&b);
	frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
	frag(&b, WAL_FRAG_FULL | WAL_FLAG_SNAPPY, "\x7f" "x", 2);
	expect_bad(f, &b, 1, "does not decode");
	buf_reset(&b);
	frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
	frag(&b, WAL_FRAG_FULL | WAL_FLAG_ZSTD, "\x28\xb5\x2f\xfd" "junk", 8);
	expect_bad(f, &b, 1, "does not decode");
	buf_reset(&b);
	frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
	frag(&b, WAL_FRAG_FULL | WAL_FLAG_SNAPPY | WAL_FLAG_ZSTD, "\x7f" "x", 2);
	expect_bad(f, &b, 1, "both compression bits");
	/* A header that would cross into the next page, and a fragment overrunning it. */
	{
		static char big[TSDB_WAL_PAGE_SIZE];

		memset(big, 'x', sizeof(big));
		buf_reset(&b);
		frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
		frag(&b, WAL_FRAG_FULL, big, TSDB_WAL_PAGE_SIZE - 10 - 7 - 4);
		frag(&b, WAL_FRAG_FULL, "\x7f", 1); /* header at 4 bytes before the page end */
		expect_bad(f, &b, 2, "crosses a page boundary");
		buf_reset(&b);
		frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
		frag(&b, WAL_FRAG_FULL, big, TSDB_WAL_PAGE_SIZE - 10 - 7 + 1);
		expect_bad(f, &b, 1, "overruns its page");
	}
	/* Garbage where a page's padding should be. */
	{
		static char big[TSDB_WAL_PAGE_SIZE];

		memset(big, 'x', sizeof(big));
		buf_reset(&b);
		frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
		frag(&b, WAL_FRAG_FULL, big, TSDB_WAL_PAGE_SIZE - 10 - 7 - 4);
		buf_putc(&b, 0);
		buf_putc(&b, 9);
		expect_bad(f, &b, 2, "non-zero byte");
	}
	/* Zeros where a fragment would fit end the data. While the segment is the last one
	 * a writer may be filling them, so a reader waits there; once a later segment
	 * exists, anything but zeros after them is damage, as it is for replay. */
	buf_reset(&b);
	frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
	buf_putc(&b, 0);
	buf_putc(&b, 0);
	buf_putc(&b, 9);
	write_all(seg_path(f->wal, 0), b.data, b.len);
	{
		struct tsdb_wal_reader *r;
		struct model got = { 0 };

		assert_int_equal(tsdb_wal_reader_open(f->wal, 0, &r, err, sizeof(err)), 0);
		assert_int_equal(drain(r, &got), 1);
		assert_int_equal(drain(r, &got), 0);
		write_all(seg_path(f->wal, 1), "", 0);
		assert_int_equal(drain(r, &got), TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "non-zero byte 0x09 after the end of the data"));
		tsdb_wal_reader_close(r);
		assert_int_equal(replay(f->wal, &f->c, &f->res), TSDB_WAL_ECORRUPT);
		unlink(seg_path(f->wal, 1));
		model_free(&got);
		model_free(&f->c.got);
	}
	/* At start-up it is the last segment's tail, cut. */
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_int_equal(f->c.got.n, 1);
	assert_int_equal(f->res.truncated_bytes, 3);
	assert_int_equal(file_size(seg_path(f->wal, 0)), 10);
	model_free(&f->c.got);
	/* A batch whose last record never came, followed by a later segment. */
	buf_reset(&b);
	frag(&b, WAL_FRAG_FULL, "\x7f" "ok", 3);
	frag(&b, WAL_FRAG_FULL | WAL_FLAG_MORE, "\x7f" "x", 2);
	write_all(seg_path(f->wal, 0), b.data, b.len);
	write_all(seg_path(f->wal, 1), "", 0);
	{
		struct tsdb_wal_reader *r;
		struct model got = { 0 };

		assert_int_equal(tsdb_wal_reader_open(f->wal, 0, &r, err, sizeof(err)), 0);
		assert_int_equal(drain(r, &got), TSDB_WAL_ECORRUPT);
		assert_non_null(strstr(err, "ends inside a batch"));
		assert_int_equal(got.n, 1);
		tsdb_wal_reader_close(r);
		model_free(&got);
	}
	buf_free(&b);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal_opts o = { .segment_size = 1000 };
	struct tsdb_wal *w = NULL;
	char path[512];

	assert_int_equal(tsdb_wal_open(f->wal, &o, &w, err, sizeof(err)), -1);
	assert_null(w);
	assert_non_null(strstr(err, "multiple"));
	snprintf(path, sizeof(path), "%s/file", f->root);
	write_all(path, "x", 1);
	snprintf(path, sizeof(path), "%s/file/wal", f->root);
	assert_int_equal(tsdb_wal_open(path, NULL, &w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "file"));
	/* A missing WAL replays as empty. */
	snprintf(path, sizeof(path), "%s/nothing/wal", f->root);
	{
		struct coll c = { 0 };
		struct tsdb_wal_replay_result res;

		assert_int_equal(replay(path, &c, &res), 0);
		assert_int_equal(res.records, 0);
		assert_int_equal(res.first, -1);
	}
	assert_int_equal(tsdb_wal_close(NULL, err, sizeof(err)), 0);
}

/* A test with its own temporary WAL directory and model. */
/* --- compression ----------------------------------------------------------------- */

static const struct tsdb_wal_opts with_snappy = { .fsync = TSDB_WAL_FSYNC_NEVER,
						  .compression = TSDB_WAL_COMPRESS_SNAPPY };
static const struct tsdb_wal_opts with_zstd = { .fsync = TSDB_WAL_FSYNC_NEVER,
						.compression = TSDB_WAL_COMPRESS_ZSTD };

static void test_compression_names(void **state)
{
	enum tsdb_wal_compression c;

	assert_int_equal(tsdb_wal_parse_compression("zstd", &c), 0);
	assert_int_equal(c, TSDB_WAL_COMPRESS_ZSTD);
	assert_int_equal(tsdb_wal_parse_compression("snappy", &c), 0);
	assert_int_equal(c, TSDB_WAL_COMPRESS_SNAPPY);
	assert_int_equal(tsdb_wal_parse_compression("none", &c), 0);
	assert_int_equal(c, TSDB_WAL_COMPRESS_NONE);
	assert_int_equal(tsdb_wal_parse_compression("gzip", &c), -1);
	assert_int_equal(tsdb_wal_parse_compression("", &c), -1);
	assert_string_equal(tsdb_wal_compression_name(TSDB_WAL_COMPRESS_ZSTD), "zstd");
}

/* The same random batches under each codec: identical replay, smaller files, and
 * every fragment of a record flagged with its codec's bit. */
static void test_compressed_write_replay(void **state)
{
	static const struct tsdb_wal_opts *const o[] = { &never, &with_snappy, &with_zstd };
	static const unsigned bit[] = { 0, WAL_FLAG_SNAPPY, WAL_FLAG_ZSTD };
	struct fx *f = *state;
	int64_t size[3];

	for (int k = 0; k < 3; k++) {
		char dir[400];
		struct tsdb_wal *w;
		struct model m = { 0 };
		struct coll c = { 0 };
		unsigned char *d;
		size_t len;

		snprintf(dir, sizeof(dir), "%s/wal%d", f->root, k);
		w = open_wal(dir, o[k]);
		rng_state = 88172645463325252ull;
		log_random(&m, w, 200, 5);
		close_wal(w);
		assert_int_equal(replay(dir, &c, &f->res), 0);
		assert_prefix(&m, &c, m.nbatches);
		assert_int_equal(f->res.records, m.n);
		size[k] = file_size(seg_path(dir, 0));
		/* Fragments of the larger records carry the codec's bit (tiny records do not
		 * shrink), none another codec's. */
		d = read_all(seg_path(dir, 0), &len);
		{
			size_t frags = 0, flagged = 0, other = 0;

			for (size_t p = 0; p + 7 <= len;) {
				if (d[p] == 0) {
					p += TSDB_WAL_PAGE_SIZE - p % TSDB_WAL_PAGE_SIZE;
					continue;
				}
				frags++;
				flagged += bit[k] && (d[p] & bit[k]);
				other += (d[p] & (WAL_FLAG_SNAPPY | WAL_FLAG_ZSTD) & ~bit[k]) != 0;
				p += 7 + ((size_t)d[p + 1] << 8 | d[p + 2]);
			}
			assert_int_equal(other, 0);
			assert_true(bit[k] == 0 || flagged > frags / 3);
		}
		free(d);
		model_free(&m);
		model_free(&c.got);
	}
	assert_true(size[1] < size[0] * 3 / 4);
	assert_true(size[2] < size[1]);
}

/* Records that do not shrink are stored as they are; runs written with different
 * settings share a log and replay as one. */
static void test_compression_mixed(void **state)
{
	static const struct tsdb_wal_opts *const o[] = { &with_zstd, &never, &with_snappy,
							 &with_zstd };
	struct fx *f = *state;
	struct tsdb_wal_rec r;
	unsigned char noise[300], *d;
	size_t len;

	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (unsigned char)rnd();
	noise[0] = 0x7f;
	r = (struct tsdb_wal_rec){ noise, sizeof(noise) };
	for (int k = 0; k < 4; k++) {
		struct tsdb_wal *w = open_wal(f->wal, o[k]);

		if (k == 0) {
			assert_int_equal(tsdb_wal_log(w, &r, 1, err, sizeof(err)), 0);
			model_ack(&f->m, w, &r, 1);
		}
		log_random(&f->m, w, 40, 4);
		close_wal(w);
	}
	d = read_all(seg_path(f->wal, 0), &len);
	assert_int_equal(d[0], WAL_FRAG_FULL); /* noise: no bit */
	assert_int_equal((size_t)d[1] << 8 | d[2], sizeof(noise));
	free(d);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, f->m.nbatches);
	/* The tailing reader decompresses too. */
	{
		struct tsdb_wal_reader *rd;
		struct model got = { 0 };

		assert_int_equal(tsdb_wal_reader_open(f->wal, -1, &rd, err, sizeof(err)), 0);
		assert_int_equal(drain(rd, &got), (int)f->m.n);
		assert_int_equal(got.data.len, f->m.data.len);
		assert_memory_equal(got.data.data, f->m.data.data, got.data.len);
		tsdb_wal_reader_close(rd);
		model_free(&got);
	}
}

/* A record of low-entropy bytes that stays larger than a page once compressed. */
static void log_lumpy(struct fx *f, struct tsdb_wal *w, size_t n)
{
	struct tsdb_wal_rec r;
	unsigned char *d = malloc(n);

	assert_non_null(d);
	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)(rnd() & 0x0f);
	d[0] = 0x7f;
	r = (struct tsdb_wal_rec){ d, n };
	assert_int_equal(tsdb_wal_log(w, &r, 1, err, sizeof(err)), 0);
	model_ack(&f->m, w, &r, 1);
	free(d);
}

/* Torn tails in compressed multi-page records are cut at the last whole batch. */
static void test_compressed_torn_tail(void **state)
{
	struct fx *f = *state;
	struct tsdb_wal *w = open_wal(f->wal, &with_zstd);
	unsigned char *full;
	size_t full_len;
	char *seg;

	log_batch(&f->m, w, 2, (size_t[]){ 100, 3000 });
	log_lumpy(f, w, 150000);
	log_batch(&f->m, w, 3, (size_t[]){ 40, 70000, 30 });
	log_lumpy(f, w, 90000);
	close_wal(w);
	seg = strdup(seg_path(f->wal, 0));
	full = read_all(seg, &full_len);
	assert_int_equal(full_len, f->m.batch_end[f->m.nbatches - 1]);
	assert_true(full_len > 3 * TSDB_WAL_PAGE_SIZE);
	for (size_t cut = 1; cut <= full_len; cut += cut < 200 ? 1 : 173) {
		size_t nb = 0;
		int64_t good = 0;

		while (nb < f->m.nbatches && f->m.batch_end[nb] <= (int64_t)cut)
			good = f->m.batch_end[nb++];
		write_all(seg, full, cut);
		if (replay(f->wal, &f->c, &f->res) != 0)
			fail_msg("cut at %zu: %s", cut, err);
		assert_prefix(&f->m, &f->c, nb);
		assert_int_equal(file_size(seg), good);
	}
	/* Damage inside a compressed record's data is a CRC error like any other. */
	write_all(seg, full, full_len);
	flip_byte(seg, f->m.batch_end[0] + 20, 0x40);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_prefix(&f->m, &f->c, 1);
	free(full);
	free(seg);
}

/* Records as Prometheus writes them with --storage.tsdb.wal-compression: snappy,
 * one record split over a page boundary with the bit on every fragment. */
static void test_prometheus_snappy_records(void **state)
{
	struct fx *f = *state;
	struct buf b = { 0 }, z1 = { 0 }, z2 = { 0 }, r1 = { 0 }, r2 = { 0 };
	size_t off = 0;

	buf_puts(&r1, "\x7f" "small record small record small record");
	for (int i = 0; i < 30000; i++)
		buf_printf(&r2, "%c%d,", i ? 'x' : 0x7f, (int)(rnd() % 1000));
	assert_int_equal(compress_encode(COMPRESS_SNAPPY, r1.data, r1.len, 0, &z1, err,
					 sizeof(err)), 0);
	assert_int_equal(compress_encode(COMPRESS_SNAPPY, r2.data, r2.len, 0, &z2, err,
					 sizeof(err)), 0);
	assert_true(z2.len > 2 * TSDB_WAL_PAGE_SIZE);
	frag(&b, WAL_FRAG_FULL | WAL_FLAG_SNAPPY, z1.data, z1.len);
	/* first, middle..., last: each fragment fills the rest of its page */
	while (off < z2.len) {
		size_t room = TSDB_WAL_PAGE_SIZE - b.len % TSDB_WAL_PAGE_SIZE - 7;
		size_t l = z2.len - off < room ? z2.len - off : room;
		unsigned type = off == 0 ? WAL_FRAG_FIRST
				: off + l == z2.len ? WAL_FRAG_LAST : WAL_FRAG_MIDDLE;

		frag(&b, (unsigned char)(type | WAL_FLAG_SNAPPY), z2.data + off, l);
		off += l;
	}
	assert_int_equal(wal_mkdir_p(f->wal, err, sizeof(err)), 0);
	write_all(seg_path(f->wal, 0), b.data, b.len);
	model_push(&f->m, r1.data, r1.len, 0);
	model_push(&f->m, r2.data, r2.len, 1);
	assert_int_equal(replay(f->wal, &f->c, &f->res), 0);
	assert_int_equal(f->c.got.n, 2);
	assert_prefix(&f->m, &f->c, 2);
	buf_free(&b);
	buf_free(&z1);
	buf_free(&z2);
	buf_free(&r1);
	buf_free(&r2);
}

#define IN_DIR(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_record_golden),
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_record_bad_input),
		cmocka_unit_test(test_samples_decode_sizes),
		cmocka_unit_test(test_dense_samples_record),
		IN_DIR(test_write_replay),
		IN_DIR(test_typed_replay),
		IN_DIR(test_multi_segment),
		IN_DIR(test_torn_tail),
		IN_DIR(test_corruption),
		IN_DIR(test_corrupt_last_segment),
		IN_DIR(test_group_commit),
		IN_DIR(test_fsync_policies),
		IN_DIR(test_log_written_callback),
		IN_DIR(test_write_failures),
		IN_DIR(test_checkpoint),
		IN_DIR(test_checkpoint_compressed),
		IN_DIR(test_checkpoint_dense_samples),
		IN_DIR(test_checkpoint_dense_v1_samples),
		IN_DIR(test_checkpoint_keep_memo),
		IN_DIR(test_checkpoint_progress),
		IN_DIR(test_tail_reader),
		IN_DIR(test_tail_reader_zeros_ahead),
		IN_DIR(test_tail_reader_race),
		IN_DIR(test_zeros_after_crash),
		IN_DIR(test_reader_corruption),
		IN_DIR(test_bad_framing),
		IN_DIR(test_open_errors),
		cmocka_unit_test(test_compression_names),
		IN_DIR(test_compressed_write_replay),
		IN_DIR(test_compression_mixed),
		IN_DIR(test_compressed_torn_tail),
		IN_DIR(test_prometheus_snappy_records),
	};

	/* Repairs and injected failures log by design; keep the test output readable. */
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
	log_null = open("/dev/null", O_WRONLY);
	log_set_fd(log_null);
	return cmocka_run_group_tests_name("tsdb_wal", tests, NULL, NULL);
}
