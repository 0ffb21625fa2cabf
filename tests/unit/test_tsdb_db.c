/* tsdb db: append -> reopen round trip, refusal accounting, and the two WAL orderings
 * the live path can produce (samples before their series record; samples of one
 * series out of time order), which replay must keep. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/db.h"

#define LS(...) ((struct labels){ (struct label[]){ __VA_ARGS__ }, \
	sizeof((struct label[]){ __VA_ARGS__ }) / sizeof(struct label) })

static char dir[256];
static char err[512];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lgtm-test-db-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static enum tsdb_wal_encoding wal_enc; /* what open_db() logs samples as */

static struct tsdb_db *open_db(void)
{
	struct tsdb_db_options o = { .dir = dir, .fsync = TSDB_WAL_FSYNC_NEVER,
				     .wal_encoding = wal_enc };
	struct tsdb_db *db = NULL;

	assert_int_equal(tsdb_db_open(&o, &db, err, sizeof(err)), 0);
	return db;
}

/* All samples of the series with __name__ = name, in order. */
static size_t read_all(struct tsdb_db *db, const char *name, struct tsdb_sample *out, size_t max)
{
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	struct tsdb_matcher m;
	size_t n = 0;

	assert_int_equal(tsdb_matcher_init(&m, TSDB_MATCH_EQ, "__name__", name, err, sizeof(err)), 0);
	assert_int_equal(tsdb_db_querier(db, INT64_MIN, INT64_MAX, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, &m, 1, NULL, &ss, err, sizeof(err)), 0);
	while (tsdb_series_set_next(ss)) {
		struct tsdb_iterator *it = tsdb_series_set_iterator(ss);
		while (tsdb_iterator_next(it) && n < max) {
			tsdb_iterator_at(it, &out[n].t, &out[n].v);
			n++;
		}
	}
	tsdb_querier_close(q);
	tsdb_matcher_free(&m);
	return n;
}

static void test_append_reopen(void **state)
{
	struct tsdb_db *db = open_db();
	struct arena *a = arena_new(0);
	struct labels l1 = LS({ "__name__", "up" }, { "job", "a" });
	struct tsdb_sample s1[] = { { 1000, 1 }, { 2000, 2 }, { 1500, 9 }, { 2000, 3 } };
	struct tsdb_db_series in[] = { { .labels = &l1, .samples = s1, .n = 4 } };
	struct tsdb_db_result res;
	struct tsdb_sample got[8];

	assert_int_equal(tsdb_db_append(db, in, 1, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.appended, 2);
	assert_int_equal(res.rejected, 2);
	assert_int_equal(res.out_of_order, 1);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(res.series_created, 1);
	assert_non_null(strstr(res.errors.data, "out of order sample for series {__name__=\"up\", job=\"a\"} at timestamp 1500"));
	buf_free(&res.errors);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);

	db = open_db();
	assert_int_equal(read_all(db, "up", got, 8), 2);
	assert_int_equal(got[1].t, 2000);
	assert_true(got[1].v == 2);
	assert_int_equal(tsdb_db_replay_stats(db)->series, 1);
	assert_int_equal(tsdb_db_replay_stats(db)->samples, 2);
	/* The series record is not logged twice for a series the WAL already has. */
	struct tsdb_sample s2[] = { { 3000, 4 } };
	in[0].samples = s2;
	in[0].n = 1;
	assert_int_equal(tsdb_db_append(db, in, 1, a, &res, err, sizeof(err)), 0);
	buf_free(&res.errors);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	db = open_db();
	assert_int_equal(tsdb_db_replay_stats(db)->series, 1);
	assert_int_equal(read_all(db, "up", got, 8), 3);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	arena_free(a);
}

/* Samples logged in lgtm's columnar layout replay, and a WAL holding both layouts
 * (the setting changed across restarts) replays whole either way. Edge values come
 * back bit for bit. */
static void test_dense_wal_reopen(void **state)
{
	struct arena *a = arena_new(0);
	struct labels l1 = LS({ "__name__", "v" }, { "job", "a" });
	struct tsdb_sample s[6] = { { 1000, -0.0 }, { 2000, INFINITY }, { 3000, 1e300 },
				    { 4000, 0.1 }, { 5000, 5e-324 }, { 6000, -7 } };
	struct tsdb_db_series in[] = { { .labels = &l1, .samples = s, .n = 3 } };
	struct tsdb_db_result res;
	struct tsdb_sample got[8];
	struct tsdb_db *db;

	wal_enc = TSDB_WAL_ENC_DENSE;
	db = open_db();
	assert_int_equal(tsdb_db_append(db, in, 1, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.appended, 3);
	buf_free(&res.errors);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	wal_enc = TSDB_WAL_ENC_PROMETHEUS;
	db = open_db();
	assert_int_equal(read_all(db, "v", got, 8), 3);
	in[0].samples = s + 3;
	assert_int_equal(tsdb_db_append(db, in, 1, a, &res, err, sizeof(err)), 0);
	buf_free(&res.errors);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	for (int k = 0; k < 2; k++) {
		wal_enc = k ? TSDB_WAL_ENC_DENSE : TSDB_WAL_ENC_PROMETHEUS;
		db = open_db();
		assert_int_equal(tsdb_db_replay_stats(db)->samples, 6);
		assert_int_equal(read_all(db, "v", got, 8), 6);
		for (int i = 0; i < 6; i++) {
			assert_int_equal(got[i].t, s[i].t);
			assert_memory_equal(&got[i].v, &s[i].v, sizeof(double));
		}
		assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	}
	wal_enc = TSDB_WAL_ENC_PROMETHEUS;
	arena_free(a);
}

/* A WAL written by hand in the orders concurrent batches can produce. */
static void test_replay_tolerates_live_orderings(void **state)
{
	char waldir[300];
	struct tsdb_wal *w;
	struct buf r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	struct tsdb_wal_sample early[] = { { 7, 2000, 2 } };       /* before series 7 exists */
	struct tsdb_wal_series ser[] = { { 7, LS({ "__name__", "racy" }) } };
	struct tsdb_wal_sample late[] = { { 7, 3000, 3 }, { 7, 1000, 1 } }; /* 1000 < 3000 */
	struct tsdb_wal_rec recs[3];
	struct tsdb_sample got[8];
	struct tsdb_db *db;

	snprintf(waldir, sizeof(waldir), "%s/wal", dir);
	assert_int_equal(tsdb_wal_open(waldir, NULL, &w, err, sizeof(err)), 0);
	tsdb_wal_encode_samples(&r1, early, 1);
	tsdb_wal_encode_series(&r2, ser, 1);
	tsdb_wal_encode_samples(&r3, late, 2);
	recs[0] = (struct tsdb_wal_rec){ r1.data, r1.len };
	recs[1] = (struct tsdb_wal_rec){ r2.data, r2.len };
	recs[2] = (struct tsdb_wal_rec){ r3.data, r3.len };
	assert_int_equal(tsdb_wal_log(w, recs, 1, err, sizeof(err)), 0);
	assert_int_equal(tsdb_wal_log(w, recs + 1, 2, err, sizeof(err)), 0);
	assert_int_equal(tsdb_wal_close(w, err, sizeof(err)), 0);

	db = open_db();
	assert_int_equal(read_all(db, "racy", got, 8), 3);
	assert_int_equal(got[0].t, 1000);
	assert_int_equal(got[1].t, 2000);
	assert_int_equal(got[2].t, 3000);
	assert_int_equal(tsdb_db_replay_stats(db)->unknown_refs, 0);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	buf_free(&r1);
	buf_free(&r2);
	buf_free(&r3);
}

/* The labels callback of tsdb_db_append_ex(): counts its calls, fails on demand. */
struct lazy {
	const struct labels *ls;
	int calls;
	bool fail;
};

static int lazy_labels(void *arg, size_t i, struct arena *a, struct labels *out)
{
	struct lazy *z = arg;

	(void)i;
	(void)a;
	z->calls++;
	if (z->fail)
		return -1;
	*out = *z->ls;
	return 0;
}

/* written: once per call that logs something, after the refs are filled; the call's
 * arena is not used after it (freed here: ASan would see a use). */
struct written_probe {
	const uint64_t *refs;
	int calls;
	uint64_t ref_seen;
	struct arena *a;
};

static void probe_written(void *arg)
{
	struct written_probe *p = arg;

	p->calls++;
	p->ref_seen = p->refs[0];
	arena_free(p->a);
	p->a = NULL;
}

static int no_labels(void *arg, size_t i, struct arena *a, struct labels *out)
{
	(void)arg;
	(void)i;
	(void)a;
	(void)out;
	return -1;
}

static void test_append_written(void **state)
{
	struct tsdb_db *db = open_db();
	struct arena *a = arena_new(0);
	struct labels l1 = LS({ "__name__", "written" });
	uint64_t refs[1];
	struct written_probe p = { .refs = refs, .a = arena_new(0) };
	struct tsdb_sample got[4];
	struct tsdb_db_append_opts o = { .labels = no_labels, .arg = &p, .refs = refs,
					 .written = probe_written };
	struct tsdb_sample s1[] = { { 1000, 1 } }, s2[] = { { 1000, 2 } };
	struct tsdb_db_series in = { .labels = &l1, .samples = s1, .n = 1 };
	struct tsdb_db_result res;

	assert_int_equal(tsdb_db_append_ex(db, &in, 1, &o, p.a, &res, err, sizeof(err)), 0);
	assert_int_equal(p.calls, 1);
	assert_null(p.a);
	assert_int_not_equal(p.ref_seen, 0);
	assert_int_equal(p.ref_seen, refs[0]);
	buf_free(&res.errors);
	/* Nothing to log (the sample is a refused duplicate): not called. */
	in.samples = s2;
	assert_int_equal(tsdb_db_append_ex(db, &in, 1, &o, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(p.calls, 1);
	buf_free(&res.errors);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	/* The series record logged with the sample replays. */
	db = open_db();
	assert_int_equal(read_all(db, "written", got, 4), 1);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	arena_free(a);
}

/* Series given by ref: no label work while the ref is live; the labels are asked for
 * only to describe a refusal, for a stale ref, or for a WAL series record. */
static void test_append_by_ref(void **state)
{
	struct tsdb_db *db = open_db();
	struct arena *a = arena_new(0);
	struct labels l1 = LS({ "__name__", "byref" }, { "job", "a" });
	struct lazy z = { .ls = &l1 };
	uint64_t refs[1], ref;
	struct tsdb_db_append_opts o = { .labels = lazy_labels, .arg = &z, .refs = refs };
	struct tsdb_sample s1[] = { { 1000, 1 } }, s2[] = { { 2000, 2 }, { 2000, 3 } };
	struct tsdb_sample s3[] = { { 3000, 3 } }, s4[] = { { 4000, 4 } }, got[8];
	struct tsdb_db_series in = { .labels = &l1, .samples = s1, .n = 1 };
	struct tsdb_db_result res;
	bool created;

	/* With labels: the ref comes back. */
	assert_int_equal(tsdb_db_append_ex(db, &in, 1, &o, a, &res, err, sizeof(err)), 0);
	assert_int_not_equal(refs[0], 0);
	ref = refs[0];
	buf_free(&res.errors);
	/* By ref only: appended without asking, refusals described with the labels. */
	in = (struct tsdb_db_series){ .ref = ref, .samples = s2, .n = 2 };
	assert_int_equal(tsdb_db_append_ex(db, &in, 1, &o, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.appended, 1);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(z.calls, 1);
	assert_non_null(strstr(res.errors.data, "duplicate sample for timestamp for series {__name__=\"byref\", job=\"a\"}"));
	assert_int_equal(refs[0], ref);
	buf_free(&res.errors);
	/* A stale ref: the labels find (here: create) the series as if no ref was given. */
	in = (struct tsdb_db_series){ .ref = ref + 1000, .samples = s3, .n = 1 };
	assert_int_equal(tsdb_db_append_ex(db, &in, 1, &o, a, &res, err, sizeof(err)), 0);
	assert_int_equal(res.appended, 1);
	assert_int_equal(res.series_created, 0);
	assert_int_equal(refs[0], ref);
	assert_int_equal(z.calls, 2);
	buf_free(&res.errors);
	/* A failing callback fails the append. */
	z.fail = true;
	in.ref = ref + 1000;
	assert_int_equal(tsdb_db_append_ex(db, &in, 1, &o, a, &res, err, sizeof(err)), -1);
	buf_free(&res.errors);
	z.fail = false;
	/* A series the WAL has no record of (made behind the db's back): the record is
	 * logged from the callback's labels, so a reopen finds the sample. */
	struct labels l2 = LS({ "__name__", "unlogged" });
	assert_int_equal(tsdb_head_get_or_create(tsdb_db_head(db), &l2, &ref, &created, err,
						 sizeof(err)), 0);
	z.ls = &l2;
	in = (struct tsdb_db_series){ .ref = ref, .samples = s4, .n = 1 };
	assert_int_equal(tsdb_db_append_ex(db, &in, 1, &o, a, &res, err, sizeof(err)), 0);
	assert_int_equal(z.calls, 4);
	buf_free(&res.errors);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);

	db = open_db();
	assert_int_equal(read_all(db, "byref", got, 8), 3);
	assert_int_equal(got[2].t, 3000);
	assert_int_equal(read_all(db, "unlogged", got, 8), 1);
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_tolerates_live_orderings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_by_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dense_wal_reopen, setup, teardown),
	};
	return cmocka_run_group_tests_name("tsdb_db", tests, NULL, NULL);
}
