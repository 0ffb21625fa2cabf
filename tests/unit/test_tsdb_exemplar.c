/* tsdb exemplars: the circular store's rules (ring eviction across series, out of
 * order, duplicates, the 128-character label limit, selection by matcher sets),
 * replay's in-order filing, concurrent use, and the db path: exemplars logged with
 * their batch, replayed at open (also ahead of their series record and after a
 * checkpoint), ignored when the store is off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/db.h"

#define LS(...) ((struct labels){ (struct label[]){ __VA_ARGS__ }, \
	sizeof((struct label[]){ __VA_ARGS__ }) / sizeof(struct label) })
#define NOLABELS ((struct labels){ NULL, 0 })

static char err[512];

static struct tsdb_exemplars *store(size_t max)
{
	struct tsdb_exemplars *s;

	assert_int_equal(tsdb_exemplars_new(max, &s, err, sizeof(err)), 0);
	return s;
}

static int add1(struct tsdb_exemplars *s, const struct labels *series, struct labels ex,
		int64_t t, double v)
{
	struct tsdb_exemplar e = { ex, t, v };
	int rc = 99;

	assert_int_equal(tsdb_exemplars_add(s, series, &e, 1, &rc, err, sizeof(err)), 0);
	return rc;
}

static int replay1(struct tsdb_exemplars *s, const struct labels *series, int64_t t, double v)
{
	struct tsdb_exemplar e = { NOLABELS, t, v };
	int rc = 99;

	assert_int_equal(tsdb_exemplars_replay(s, series, &e, &rc, err, sizeof(err)), 0);
	return rc;
}

/* Everything in [start, end] for series whose __name__ matches `re`, as
 * "name:t,t,...;name:..." (series in label order). */
static const char *dump(struct tsdb_exemplars *s, const char *re, int64_t start, int64_t end,
			char *out, size_t cap)
{
	struct arena *a = arena_new(0);
	struct tsdb_matcher m;
	struct tsdb_matcher_set set = { &m, 1 };
	struct tsdb_exemplar_series *res;
	size_t n, off = 0;

	assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_RE, "__name__", re, err, sizeof(err)), 0);
	assert_int_equal(tsdb_exemplars_select(s, start, end, &set, 1, a, &res, &n, err, sizeof(err)), 0);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		off += (size_t)snprintf(out + off, cap - off, "%s%s:", i ? ";" : "",
					labels_get(&res[i].series, "__name__"));
		for (size_t k = 0; k < res[i].n; k++)
			off += (size_t)snprintf(out + off, cap - off, "%s%lld", k ? "," : "",
						(long long)res[i].v[k].t);
	}
	tsdb_matcher_free(&m);
	arena_free(a);
	return out;
}

/* stored, series, appended and the oldest timestamp, as "3 2 5 10". */
static const char *stats(struct tsdb_exemplars *s, char *out, size_t cap)
{
	struct tsdb_exemplars_stats st;

	tsdb_exemplars_stats(s, &st);
	snprintf(out, cap, "%llu %llu %llu %lld", (unsigned long long)st.stored,
		 (unsigned long long)st.series, (unsigned long long)st.appended,
		 (long long)st.oldest_t);
	return out;
}

static void test_ring_wraps_across_series(void **state)
{
	struct tsdb_exemplars *s = store(3);
	struct labels a = LS({ "__name__", "a" }), b = LS({ "__name__", "b" });
	struct tsdb_exemplars_stats st;
	char got[256];

	assert_int_equal(add1(s, &a, NOLABELS, 10, 1), 0);
	assert_int_equal(add1(s, &b, NOLABELS, 11, 1), 0);
	assert_int_equal(add1(s, &a, NOLABELS, 12, 1), 0);
	assert_string_equal(dump(s, ".+", 0, 100, got, sizeof(got)), "a:10,12;b:11");
	assert_string_equal(stats(s, got, sizeof(got)), "3 2 3 10");
	/* The fourth overwrites the oldest stored (a@10), the fifth b's only one: b goes. */
	assert_int_equal(add1(s, &a, NOLABELS, 13, 1), 0);
	assert_string_equal(dump(s, ".+", 0, 100, got, sizeof(got)), "a:12,13;b:11");
	assert_int_equal(add1(s, &a, NOLABELS, 14, 1), 0);
	assert_string_equal(dump(s, ".+", 0, 100, got, sizeof(got)), "a:12,13,14");
	assert_string_equal(stats(s, got, sizeof(got)), "3 1 5 12");
	tsdb_exemplars_stats(s, &st);
	assert_int_equal(st.max, 3);
	/* b comes back as a new series. */
	assert_int_equal(add1(s, &b, NOLABELS, 5, 1), 0);
	assert_string_equal(dump(s, ".+", 0, 100, got, sizeof(got)), "a:13,14;b:5");
	tsdb_exemplars_free(s);
}

static void test_one_slot(void **state)
{
	struct tsdb_exemplars *s = store(1);
	struct labels a = LS({ "__name__", "a" }), b = LS({ "__name__", "b" });
	char got[256];

	assert_int_equal(add1(s, &a, NOLABELS, 10, 1), 0);
	assert_int_equal(add1(s, &a, NOLABELS, 11, 1), 0);
	assert_string_equal(dump(s, ".+", 0, 100, got, sizeof(got)), "a:11");
	assert_int_equal(add1(s, &b, NOLABELS, 1, 1), 0);
	assert_string_equal(dump(s, ".+", 0, 100, got, sizeof(got)), "b:1");
	/* Refused ones evict nothing. */
	assert_int_equal(add1(s, &b, NOLABELS, 0, 1), TSDB_EEXEMPLAR_OUT_OF_ORDER);
	assert_string_equal(dump(s, ".+", 0, 100, got, sizeof(got)), "b:1");
	tsdb_exemplars_free(s);
	assert_int_equal(tsdb_exemplars_new(0, &s, err, sizeof(err)), TSDB_EFAIL);
	assert_null(s);
}

static void test_order_and_duplicates(void **state)
{
	struct tsdb_exemplars *s = store(16);
	struct labels a = LS({ "__name__", "a" });
	struct labels t1 = LS({ "trace_id", "x" }), t2 = LS({ "trace_id", "y" });
	struct tsdb_exemplars_stats st;
	struct labels lo, hi;
	char got[256];

	assert_int_equal(add1(s, &a, t1, 10, 2), 0);
	assert_int_equal(add1(s, &a, t1, 10, 2), TSDB_EDUPLICATE); /* ignored, not stored */
	assert_int_equal(add1(s, &a, t1, 9, 2), TSDB_EEXEMPLAR_OUT_OF_ORDER);
	assert_int_equal(add1(s, &a, t1, 10, 1), TSDB_EEXEMPLAR_OUT_OF_ORDER); /* lower value */
	assert_int_equal(add1(s, &a, t1, 10, 3), 0);                          /* higher value */
	/* Same time and value, other labels: ordered by label hash, as upstream. */
	lo = labels_hash(&t1) < labels_hash(&t2) ? t1 : t2;
	hi = labels_hash(&t1) < labels_hash(&t2) ? t2 : t1;
	assert_int_equal(add1(s, &a, hi, 11, 1), 0);
	assert_int_equal(add1(s, &a, lo, 11, 1), TSDB_EEXEMPLAR_OUT_OF_ORDER);
	assert_int_equal(add1(s, &a, NOLABELS, 12, 1), 0);
	assert_string_equal(dump(s, "a", 0, 100, got, sizeof(got)), "a:10,10,11,12");
	tsdb_exemplars_stats(s, &st);
	assert_int_equal(st.appended, 4);
	assert_int_equal(st.out_of_order, 3);
	tsdb_exemplars_free(s);
}

static void test_label_limit(void **state)
{
	struct tsdb_exemplars *s = store(4);
	struct labels a = LS({ "__name__", "a" });
	char name[8] = "trace", v124[125], v125[126], wide[256];
	struct tsdb_exemplar batch[3];
	int rc[3];

	/* name (5) + value: 128 characters pass, 129 do not. */
	memset(v124, 'x', 123);
	v124[123] = '\0';
	memset(v125, 'x', 124);
	v125[124] = '\0';
	/* Characters, not bytes: "trace" and 100 two-byte characters are 105 (205 bytes). */
	wide[0] = '\0';
	for (int i = 0; i < 100; i++)
		strcat(wide, "\xc3\xa9");
	batch[0] = (struct tsdb_exemplar){ LS({ name, v124 }), 1, 1 };
	batch[1] = (struct tsdb_exemplar){ LS({ name, v125 }), 2, 1 };
	batch[2] = (struct tsdb_exemplar){ LS({ name, wide }), 3, 1 };
	assert_int_equal(tsdb_exemplars_add(s, &a, batch, 3, rc, err, sizeof(err)), 0);
	assert_int_equal(rc[0], 0);
	assert_int_equal(rc[1], TSDB_EEXEMPLAR_LABELS);
	assert_int_equal(rc[2], 0);
	tsdb_exemplars_free(s);
}

static void test_select(void **state)
{
	struct tsdb_exemplars *s = store(16);
	struct labels a1 = LS({ "__name__", "req" }, { "job", "a" });
	struct labels a2 = LS({ "__name__", "req" }, { "job", "b" });
	struct labels c = LS({ "__name__", "cpu" }, { "job", "a" });
	struct tsdb_matcher m[3];
	struct tsdb_matcher_set sets[2] = { { &m[0], 2 }, { &m[2], 1 } };
	struct tsdb_exemplar_series *res;
	struct arena *a = arena_new(0);
	char trace[] = "trace_id", abc[] = "abc";
	size_t n;

	assert_int_equal(add1(s, &a2, LS({ trace, abc }), 1000, 0.5), 0);
	assert_int_equal(add1(s, &a1, NOLABELS, 2000, 1), 0);
	assert_int_equal(add1(s, &a1, NOLABELS, 3000, 2), 0);
	assert_int_equal(add1(s, &c, NOLABELS, 1500, 3), 0);
	/* {__name__="req", job=~"a|b"} or {__name__="cpu"}; time range [1000, 2000]. */
	assert_int_equal(tsdb_matcher_init(&m[0], TSDB_MATCH_EQ, "__name__", "req", err, sizeof(err)), 0);
	assert_int_equal(tsdb_matcher_init(&m[1], TSDB_MATCH_RE, "job", "a|b", err, sizeof(err)), 0);
	assert_int_equal(tsdb_matcher_init(&m[2], TSDB_MATCH_EQ, "__name__", "cpu", err, sizeof(err)), 0);
	assert_int_equal(tsdb_exemplars_select(s, 1000, 2000, sets, 2, a, &res, &n, err, sizeof(err)), 0);
	/* The results are copies: they outlive the store. */
	tsdb_exemplars_free(s);
	assert_int_equal(n, 3);
	assert_string_equal(labels_get(&res[0].series, "__name__"), "cpu");
	assert_string_equal(labels_get(&res[1].series, "job"), "a");
	assert_int_equal(res[1].n, 1); /* 3000 is out of range */
	assert_int_equal(res[1].v[0].t, 2000);
	assert_string_equal(labels_get(&res[2].series, "job"), "b");
	assert_string_equal(labels_get(&res[2].v[0].labels, "trace_id"), "abc");
	assert_true(res[2].v[0].v == 0.5);
	/* No sets select nothing; a set no series matches neither. */
	s = store(4);
	assert_int_equal(add1(s, &c, NOLABELS, 1, 1), 0);
	assert_int_equal(tsdb_exemplars_select(s, 0, 10, sets, 0, a, &res, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tsdb_exemplars_select(s, 0, 10, sets, 1, a, &res, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(tsdb_exemplars_select(s, 2, 10, &sets[1], 1, a, &res, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	tsdb_exemplars_free(s);
	for (int i = 0; i < 3; i++)
		tsdb_matcher_free(&m[i]);
	arena_free(a);
}

/* Replay files an older exemplar in time order; evicting it later unlinks it from
 * the middle of its series. */
static void test_replay_files_in_order(void **state)
{
	struct tsdb_exemplars *s = store(3);
	struct labels a = LS({ "__name__", "a" });
	char got[256];

	assert_int_equal(replay1(s, &a, 20, 1), 0);
	assert_int_equal(replay1(s, &a, 10, 1), 0);
	assert_int_equal(replay1(s, &a, 10, 1), TSDB_EDUPLICATE);
	assert_int_equal(replay1(s, &a, 30, 1), 0);
	assert_string_equal(dump(s, "a", 0, 100, got, sizeof(got)), "a:10,20,30");
	/* Ring order is 20, 10, 30: the next one overwrites 20, in the middle. */
	assert_int_equal(add1(s, &a, NOLABELS, 40, 1), 0);
	assert_string_equal(dump(s, "a", 0, 100, got, sizeof(got)), "a:10,30,40");
	assert_int_equal(add1(s, &a, NOLABELS, 50, 1), 0);
	assert_string_equal(dump(s, "a", 0, 100, got, sizeof(got)), "a:30,40,50");
	assert_string_equal(dump(s, "a", 35, 45, got, sizeof(got)), "a:40");
	tsdb_exemplars_free(s);

	/* Further back than 64 newer ones is out of order, even in replay. */
	s = store(128);
	for (int i = 0; i < 65; i++)
		assert_int_equal(replay1(s, &a, 100 + i, 1), 0);
	assert_int_equal(replay1(s, &a, 99, 1), TSDB_EEXEMPLAR_OUT_OF_ORDER);
	assert_int_equal(replay1(s, &a, 101, 2), 0); /* 63 newer ones */
	tsdb_exemplars_free(s);
}

struct worker {
	struct tsdb_exemplars *s;
	int id;
};

static void *hammer(void *p)
{
	struct worker *w = p;
	char name[16], errbuf[128];
	int rc;

	snprintf(name, sizeof(name), "s%d", w->id % 3);
	for (int i = 0; i < 2000; i++) {
		struct labels ls = LS({ "__name__", name }, { "w", w->id % 2 ? "odd" : "even" });
		struct tsdb_exemplar e = { NOLABELS, i, w->id };

		if (tsdb_exemplars_add(w->s, &ls, &e, 1, &rc, errbuf, sizeof(errbuf)) < 0)
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct tsdb_exemplars *s = store(500);
	struct worker w[4];
	pthread_t th[4];
	struct tsdb_exemplars_stats st;
	char got[8192];

	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ s, i };
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
	}
	for (int r = 0; r < 50; r++)
		dump(s, ".+", 0, 5000, got, sizeof(got));
	for (int i = 0; i < 4; i++) {
		void *ret;

		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	tsdb_exemplars_stats(s, &st);
	assert_int_equal(st.stored, 500);
	assert_true(st.appended + st.out_of_order >= 500);
	tsdb_exemplars_free(s);
}

/* ---- through the db ------------------------------------------------------------- */

static char dir[256];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lgtm-test-exemplar-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct tsdb_db *open_db(size_t max, int64_t range)
{
	struct tsdb_db_options o = { .dir = dir, .fsync = TSDB_WAL_FSYNC_NEVER,
				     .max_exemplars = max, .block_range_ms = range,
				     .maintain_interval_ms = -1 };
	struct tsdb_db *db = NULL;

	assert_int_equal(tsdb_db_open(&o, &db, err, sizeof(err)), 0);
	return db;
}

static void close_db(struct tsdb_db *db)
{
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
}

static void test_db_logs_and_replays(void **state)
{
	struct arena *a = arena_new(0);
	char trace[] = "trace_id", abc[] = "abc", def[] = "def", empty[] = "";
	/* Labels out of order, with an empty value: the db brings them to the head's form. */
	struct labels l1 = LS({ "job", "x" }, { "__name__", "req" }, { "zone", empty });
	struct tsdb_sample s1[] = { { 1000, 1 }, { 2000, 2 } };
	struct tsdb_exemplar e1[] = { { LS({ trace, abc }, { "span", empty }), 1500, 0.25 },
				      { LS({ trace, def }), 2000, 0.5 } };
	struct tsdb_exemplar e2[] = { { NOLABELS, 1000, 9 }, { LS({ trace, abc }), 3000, 1 } };
	struct tsdb_db_series in = { .labels = &l1, .samples = s1, .n = 2, .exemplars = e1,
				     .nexemplars = 2 };
	struct tsdb_db_result res;
	struct tsdb_db *db = open_db(100, 0);
	char got[256];

	assert_int_equal(tsdb_db_append(db, &in, 1, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.appended, 2);
	assert_int_equal(res.exemplars_appended, 2);
	buf_free(&res.errors);
	/* A repeat of the batch: samples are identical duplicates, exemplars too. */
	assert_int_equal(tsdb_db_append(db, &in, 1, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.exemplars_appended, 0);
	assert_int_equal(res.exemplars_out_of_order, 1); /* 1500 is behind 2000 */
	buf_free(&res.errors);
	/* Exemplars go in whatever their samples' fate (the sample is out of order). */
	in.samples = s1;
	in.n = 1;
	in.exemplars = e2;
	assert_int_equal(tsdb_db_append(db, &in, 1, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.out_of_order + res.duplicate, 1);
	assert_int_equal(res.exemplars_out_of_order, 1);
	assert_int_equal(res.exemplars_appended, 1);
	assert_int_equal(res.rejected, 1); /* only the sample */
	buf_free(&res.errors);
	assert_string_equal(dump(tsdb_db_exemplars(db), "req", 0, 10000, got, sizeof(got)),
			    "req:1500,2000,3000");
	close_db(db);

	db = open_db(100, 0);
	assert_int_equal(tsdb_db_replay_stats(db)->exemplars, 3);
	assert_string_equal(dump(tsdb_db_exemplars(db), "req", 0, 10000, got, sizeof(got)),
			    "req:1500,2000,3000");
	{
		struct tsdb_matcher m;
		struct tsdb_matcher_set set = { &m, 1 };
		struct tsdb_exemplar_series *r;
		size_t n;

		assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, "job", "x", err, sizeof(err)), 0);
		assert_int_equal(tsdb_exemplars_select(tsdb_db_exemplars(db), 0, 1600, &set, 1, a,
						       &r, &n, err, sizeof(err)), 0);
		tsdb_matcher_free(&m);
		assert_int_equal(n, 1);
		assert_int_equal(r[0].series.n, 2); /* zone="" is no label */
		assert_string_equal(r[0].series.v[0].name, "__name__");
		assert_int_equal(r[0].v[0].labels.n, 1);
		assert_string_equal(labels_get(&r[0].v[0].labels, "trace_id"), "abc");
		assert_true(r[0].v[0].v == 0.25);
	}
	close_db(db);

	/* With the store off, exemplars are neither kept nor replayed. */
	db = open_db(0, 0);
	assert_null(tsdb_db_exemplars(db));
	assert_int_equal(tsdb_db_replay_stats(db)->exemplars, 0);
	assert_int_equal(tsdb_db_append(db, &in, 1, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.exemplars_appended, 0);
	buf_free(&res.errors);
	close_db(db);
	/* A smaller store after restart keeps the newest. */
	db = open_db(2, 0);
	assert_string_equal(dump(tsdb_db_exemplars(db), "req", 0, 10000, got, sizeof(got)),
			    "req:2000,3000");
	close_db(db);
	arena_free(a);
}

/* Exemplars logged ahead of their series record wait for it. */
static void test_db_replay_before_series(void **state)
{
	char waldir[300], trace[] = "trace_id", abc[] = "abc", got[256];
	struct tsdb_wal *w;
	struct buf r1 = { 0 }, r2 = { 0 };
	struct tsdb_wal_exemplar ex[] = { { 7, 5000, 1, LS({ trace, abc }) },
					  { 8, 5000, 1, NOLABELS } }; /* 8: never defined */
	struct tsdb_wal_series ser[] = { { 7, LS({ "__name__", "late" }) } };
	struct tsdb_wal_rec recs[2];
	struct tsdb_db *db;

	snprintf(waldir, sizeof(waldir), "%s/wal", dir);
	assert_int_equal(tsdb_wal_open(waldir, NULL, &w, err, sizeof(err)), 0);
	tsdb_wal_encode_exemplars(&r1, ex, 2);
	tsdb_wal_encode_series(&r2, ser, 1);
	recs[0] = (struct tsdb_wal_rec){ r1.data, r1.len };
	recs[1] = (struct tsdb_wal_rec){ r2.data, r2.len };
	assert_int_equal(tsdb_wal_log(w, recs, 1, err, sizeof(err)), 0);
	assert_int_equal(tsdb_wal_log(w, recs + 1, 1, err, sizeof(err)), 0);
	assert_int_equal(tsdb_wal_close(w, err, sizeof(err)), 0);
	buf_free(&r1);
	buf_free(&r2);

	db = open_db(10, 0);
	assert_int_equal(tsdb_db_replay_stats(db)->exemplars, 1);
	assert_string_equal(dump(tsdb_db_exemplars(db), ".+", 0, 10000, got, sizeof(got)), "late:5000");
	close_db(db);
}

/* A head cut checkpoints the WAL: exemplars at or after the block's end survive it. */
static void test_db_checkpoint_keeps_recent(void **state)
{
	enum { RANGE = 1000 };
	struct arena *a = arena_new(0);
	struct labels ls = LS({ "__name__", "cp" });
	struct tsdb_sample smp;
	struct tsdb_exemplar ex;
	struct tsdb_db_series in = { .labels = &ls, .samples = &smp, .n = 1, .exemplars = &ex,
				     .nexemplars = 1 };
	struct tsdb_db_result res;
	struct tsdb_db_stats st;
	struct tsdb_db *db = open_db(100, RANGE);
	char got[256];

	for (int64_t t = 0; t <= 3000; t += 500) {
		smp = (struct tsdb_sample){ t, 1 };
		ex = (struct tsdb_exemplar){ NOLABELS, t, 2 };
		assert_int_equal(tsdb_db_append(db, &in, 1, a, &res, err, sizeof(err)), 0);
		assert_int_equal(res.exemplars_appended, 1);
		buf_free(&res.errors);
	}
	assert_int_equal(tsdb_db_maintain(db, err, sizeof(err)), 0);
	tsdb_db_stats(db, &st);
	assert_true(st.checkpoints >= 1);
	/* The store itself is not truncated with the head. */
	assert_string_equal(dump(tsdb_db_exemplars(db), "cp", 0, 10000, got, sizeof(got)),
			    "cp:0,500,1000,1500,2000,2500,3000");
	close_db(db);
	db = open_db(100, RANGE);
	tsdb_db_stats(db, &st);
	assert_true(st.blocks >= 1);
	/* The checkpoint dropped what lies before the block it followed (at least 0 and
	 * 500) and kept the rest, in order, once. */
	dump(tsdb_db_exemplars(db), "cp", 0, 10000, got, sizeof(got));
	assert_null(strstr(got, ":0,"));
	assert_null(strstr(got, "500,1000"));
	assert_non_null(strstr(got, "2000,2500,3000"));
	assert_int_equal(strlen(strstr(got, "2000,2500,3000")), strlen("2000,2500,3000"));
	close_db(db);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_wraps_across_series),
		cmocka_unit_test(test_one_slot),
		cmocka_unit_test(test_order_and_duplicates),
		cmocka_unit_test(test_label_limit),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_replay_files_in_order),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test_setup_teardown(test_db_logs_and_replays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_replay_before_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_checkpoint_keeps_recent, setup, teardown),
	};
	return cmocka_run_group_tests_name("tsdb_exemplar", tests, NULL, NULL);
}
