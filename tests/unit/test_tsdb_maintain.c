/* tsdb db maintenance: cutting blocks from the head (WAL checkpoint after the cut,
 * replay afterwards equal to what was stored), out-of-order samples in a cut, compaction
 * through the database, retention by time and by size, snapshots, start-up clean-up
 * (corrupt blocks skipped, interrupted writes and compactions), the background thread,
 * and the head's status report. Block ranges are one minute so everything runs in
 * milliseconds. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log/log.h"
#include "tsdb/db.h"

#define MIN 60000LL
#define NSERIES 10

static char dir[256];
static char err[1024];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lgtm-test-maint-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static struct tsdb_db_options opts(void)
{
	return (struct tsdb_db_options){
		.dir = dir, .fsync = TSDB_WAL_FSYNC_NEVER, .block_range_ms = MIN,
		.maintain_interval_ms = -1,
	};
}

static struct tsdb_db *open_with(struct tsdb_db_options o)
{
	struct tsdb_db *db = NULL;

	if (tsdb_db_open(&o, &db, err, sizeof(err)) < 0)
		fail_msg("open: %s", err);
	return db;
}

static void close_db(struct tsdb_db *db)
{
	assert_int_equal(tsdb_db_close(db, err, sizeof(err)), 0);
}

/* One sample at t for each of NSERIES series "m"{s="0".."9"}, value t + s. */
static void append_at(struct tsdb_db *db, int64_t t, struct tsdb_db_result *res)
{
	struct label lv[NSERIES][2];
	struct labels ls[NSERIES];
	struct tsdb_sample smp[NSERIES];
	struct tsdb_db_series in[NSERIES];
	char names[NSERIES][16];
	struct arena *a = arena_new(0);

	for (int s = 0; s < NSERIES; s++) {
		snprintf(names[s], sizeof(names[s]), "%d", s);
		lv[s][0] = (struct label){ "__name__", "m" };
		lv[s][1] = (struct label){ "s", names[s] };
		ls[s] = (struct labels){ lv[s], 2 };
		smp[s] = (struct tsdb_sample){ t, (double)(t + s) };
		in[s] = (struct tsdb_db_series){ .labels = &ls[s], .samples = &smp[s], .n = 1 };
	}
	assert_int_equal(tsdb_db_append(db, in, NSERIES, a, res, err, sizeof(err)), 0);
	buf_free(&res->errors);
	arena_free(a);
}

static void fill(struct tsdb_db *db, int64_t from, int64_t to, int64_t step)
{
	struct tsdb_db_result res;

	for (int64_t t = from; t < to; t += step) {
		append_at(db, t, &res);
		assert_int_equal(res.rejected, 0);
	}
}

/* Samples of every series in [mint, maxt]; each must be value t + s. */
static size_t count_samples(struct tsdb_db *db, int64_t mint, int64_t maxt, int64_t *first)
{
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	size_t n = 0;

	*first = INT64_MAX;
	assert_int_equal(tsdb_db_querier(db, mint, maxt, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	while (tsdb_series_set_next(ss)) {
		struct tsdb_iterator *it = tsdb_series_set_iterator(ss);
		const char *s = labels_get(tsdb_series_set_labels(ss), "s");
		int64_t t, prev = INT64_MIN;
		double v;

		assert_non_null(s);
		while (tsdb_iterator_next(it)) {
			tsdb_iterator_at(it, &t, &v);
			assert_true(t > prev);
			if (v != (double)(t + atoi(s)))
				fail_msg("series %s at %lld: %g", s, (long long)t, v);
			*first = t < *first ? t : *first;
			prev = t;
			n++;
		}
		assert_int_equal(tsdb_iterator_err(it, err, sizeof(err)), 0);
	}
	assert_int_equal(tsdb_series_set_err(ss, err, sizeof(err)), 0);
	tsdb_querier_close(q);
	return n;
}

/* Close db, open it again and check it still holds `want` samples (then close). */
static void reopen_holds(struct tsdb_db *db, struct tsdb_db_options o, size_t want)
{
	int64_t first;

	close_db(db);
	db = open_with(o);
	assert_int_equal(tsdb_db_replay_stats(db)->unknown_refs, 0);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), want);
	close_db(db);
}

static size_t blocks(struct tsdb_db *db, struct tsdb_block_meta **m)
{
	size_t n;

	assert_int_equal(tsdb_db_blocks(db, m, &n, err, sizeof(err)), 0);
	return n;
}

static void free_metas(struct tsdb_block_meta *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsdb_block_meta_free(&m[i]);
	free(m);
}

static void maintain(struct tsdb_db *db)
{
	if (tsdb_db_maintain(db, err, sizeof(err)) < 0)
		fail_msg("maintain: %s", err);
}

static bool exists(const char *fmt, const char *arg)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), fmt, dir, arg);
	return stat(path, &st) == 0;
}

/* --- cutting and the WAL ----------------------------------------------------------------- */

static void test_cut_checkpoint_replay(void **state)
{
	struct tsdb_db *db = open_with(opts());
	struct tsdb_block_meta *m;
	struct tsdb_db_stats st;
	struct tsdb_db_result res;
	int64_t first;
	size_t n;
	int cp;

	fill(db, 0, 200000, 5000); /* 40 timestamps x 10 series */
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 400);
	maintain(db);
	n = blocks(db, &m);
	assert_int_equal(n, 2);
	assert_int_equal(m[0].mint, 0);
	assert_int_equal(m[0].maxt, MIN);
	assert_int_equal(m[0].num_samples, 120);
	assert_int_equal(m[1].mint, MIN);
	assert_int_equal(m[1].maxt, 2 * MIN);
	assert_true(exists("%s/%s/index", m[0].ulid));
	free_metas(m, n);
	assert_int_equal(tsdb_head_min_time(tsdb_db_head(db)), 2 * MIN);
	assert_int_equal(tsdb_head_min_valid_time(tsdb_db_head(db)), 2 * MIN);
	tsdb_db_stats(db, &st);
	assert_int_equal(st.head_cuts, 2);
	assert_true(st.checkpoints >= 1);
	assert_int_equal(st.blocks, 2);
	assert_int_equal(st.lowest_block_time, 0);
	/* Everything is still there, now from blocks and head together. */
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 400);
	assert_int_equal(first, 0);
	assert_int_equal(count_samples(db, 50000, 130000, &first), 170);
	/* The WAL was checkpointed and its first segment is gone. */
	assert_int_equal(tsdb_wal_checkpoint_last(tsdb_wal_dir(tsdb_db_wal(db)), &cp, NULL, 0, err,
						  sizeof(err)), 0);
	assert_true(cp >= 0);
	assert_false(exists("%s/wal/%s", "00000000"));
	/* The blocks' range is closed to appends. */
	append_at(db, 2 * MIN - 1, &res);
	assert_int_equal(res.out_of_bounds, NSERIES);
	/* Nothing more to cut: the head spans 80 s. */
	maintain(db);
	tsdb_db_stats(db, &st);
	assert_int_equal(st.head_cuts, 2);
	close_db(db);

	/* Replay takes only what the blocks do not hold. */
	db = open_with(opts());
	assert_int_equal(tsdb_db_replay_stats(db)->samples, 160); /* [120 s, 200 s) */
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 400);
	fill(db, 200000, 220000, 5000);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 440);
	close_db(db);
}

static void test_ooo_samples_go_into_the_block(void **state)
{
	struct tsdb_db_options o = opts();
	struct tsdb_db *db;
	struct tsdb_block_meta *m;
	struct tsdb_db_result res;
	int64_t first;
	size_t n;

	o.ooo_window_ms = 10 * MIN;
	db = open_with(o);
	fill(db, 10000, 200000, 10000);
	fill(db, 0, 10000, 5000);   /* out of order: t = 0 and 5 s */
	fill(db, 62000, 63000, 1000); /* out of order in the second range */
	maintain(db);
	n = blocks(db, &m);
	assert_int_equal(n, 2);
	assert_int_equal(m[0].mint, 0);
	assert_int_equal(m[0].num_samples, NSERIES * 7); /* 10..50 s, and 0, 5 s */
	assert_int_equal(m[1].num_samples, NSERIES * 7);
	free_metas(m, n);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), NSERIES * 22);
	/* Out-of-order samples below the cut are refused now, above it still taken. */
	append_at(db, 2 * MIN - 1000, &res);
	assert_int_equal(res.out_of_bounds, NSERIES);
	append_at(db, 2 * MIN + 1000, &res);
	assert_int_equal(res.appended, NSERIES);
	reopen_holds(db, o, NSERIES * 23);
}

static void test_gap_in_the_head(void **state)
{
	struct tsdb_db *db = open_with(opts());
	struct tsdb_block_meta *m;
	int64_t first;
	size_t n;

	/* One early sample, then data a long time later: the cut skips the empty ranges
	 * instead of stepping through them. */
	fill(db, 0, 1, 1);
	fill(db, 1000 * MIN, 1000 * MIN + 200000, 10000);
	maintain(db);
	n = blocks(db, &m);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].mint, 0);
	assert_int_equal(m[0].maxt, MIN);
	assert_int_equal(m[1].mint, 1000 * MIN);
	free_metas(m, n);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), NSERIES * 21);
	close_db(db);
}

/* A WAL in which one label set has two refs (its series was dropped by a truncation
 * and created again before a crash): replay maps the second ref onto the first, and
 * the checkpoint after a cut must keep the second ref's samples. */
static void log_series(struct tsdb_wal *w, uint64_t ref, int64_t from, int64_t to)
{
	struct label l[2] = { { "__name__", "m" }, { "s", "0" } };
	struct tsdb_wal_series ser = { ref, { l, 2 } };
	struct tsdb_wal_sample smp[64];
	struct buf a = { 0 }, b = { 0 };
	struct tsdb_wal_rec recs[2];
	size_t n = 0;

	for (int64_t t = from; t < to && n < 64; t += 5000)
		smp[n++] = (struct tsdb_wal_sample){ ref, t, (double)t };
	tsdb_wal_encode_series(&a, &ser, 1);
	tsdb_wal_encode_samples(&b, smp, n);
	recs[0] = (struct tsdb_wal_rec){ a.data, a.len };
	recs[1] = (struct tsdb_wal_rec){ b.data, b.len };
	assert_int_equal(tsdb_wal_log(w, recs, 2, err, sizeof(err)), 0);
	buf_free(&a);
	buf_free(&b);
}

static void test_checkpoint_keeps_remapped_refs(void **state)
{
	char waldir[300];
	struct tsdb_wal *w;
	struct tsdb_db *db;
	int64_t first;

	snprintf(waldir, sizeof(waldir), "%s/wal", dir);
	assert_int_equal(tsdb_wal_open(waldir, NULL, &w, err, sizeof(err)), 0);
	log_series(w, 1, 0, 20000);
	log_series(w, 7, 20000, 200000);
	assert_int_equal(tsdb_wal_close(w, err, sizeof(err)), 0);
	db = open_with(opts());
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 40);
	maintain(db); /* blocks up to 120 s, checkpoint of the WAL */
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 40);
	reopen_holds(db, opts(), 40);
}

/* --- compaction and retention ------------------------------------------------------------- */

static void test_compaction_through_db(void **state)
{
	struct tsdb_db_options o = opts();
	struct tsdb_db *db;
	struct tsdb_block_meta *m;
	struct tsdb_db_stats st;
	int64_t first;
	size_t n;

	o.max_block_ms = 30 * MIN;
	db = open_with(o);
	fill(db, 0, 600000, 5000);
	maintain(db);
	/* Nine 1-minute blocks were cut; [0,3) and [3,6) became 3-minute blocks; the
	 * rest waits (the newest block is never compacted right away). */
	n = blocks(db, &m);
	assert_int_equal(n, 5);
	assert_int_equal(m[0].level, 2);
	assert_int_equal(m[0].maxt - m[0].mint, 3 * MIN);
	assert_int_equal(m[0].nsources, 3);
	assert_int_equal(m[0].nparents, 3);
	assert_int_equal(m[0].num_samples, 3 * 12 * NSERIES);
	assert_int_equal(m[1].level, 2);
	assert_int_equal(m[2].level, 1);
	assert_false(exists("%s/%s", m[0].parents[0].ulid)); /* sources deleted */
	free_metas(m, n);
	tsdb_db_stats(db, &st);
	assert_int_equal(st.compactions, 2);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 120 * NSERIES);
	reopen_holds(db, o, 120 * NSERIES);
}

/* Switching the block encoding rewrites the blocks written in the other one, one per
 * round, samples unchanged, until none is left. */
static void test_block_encoding_switch(void **state)
{
	struct tsdb_db_options o = opts();
	struct tsdb_db *db;
	struct tsdb_block_meta *m;
	int64_t first;
	size_t n, dense = 0;

	o.block_encoding = TSDB_BLOCK_DENSE;
	db = open_with(o);
	fill(db, 0, 300000, 5000);
	maintain(db);
	n = blocks(db, &m);
	assert_true(n >= 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(m[i].encoding, TSDB_BLOCK_DENSE);
	free_metas(m, n);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 60 * NSERIES);
	close_db(db);
	/* Back to Prometheus' encoding: a round rewrites one block. */
	o.block_encoding = TSDB_BLOCK_PROMETHEUS;
	db = open_with(o);
	maintain(db);
	n = blocks(db, &m);
	for (size_t i = 0; i < n; i++)
		dense += m[i].encoding == TSDB_BLOCK_DENSE;
	free_metas(m, n);
	assert_true(dense >= 1);
	for (size_t i = 0; i < 10 && dense; i++) {
		maintain(db);
		n = blocks(db, &m);
		dense = 0;
		for (size_t k = 0; k < n; k++)
			dense += m[k].encoding == TSDB_BLOCK_DENSE;
		free_metas(m, n);
	}
	assert_int_equal(dense, 0);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first), 60 * NSERIES);
	reopen_holds(db, o, 60 * NSERIES);
}

static void test_retention_by_time(void **state)
{
	struct tsdb_db_options o = opts();
	struct tsdb_db *db;
	struct tsdb_block_meta *m;
	struct tsdb_db_stats st;
	int64_t first;
	size_t n;

	o.retention_ms = 3 * MIN; /* which also caps blocks at 18 s: no compaction */
	db = open_with(o);
	fill(db, 0, 600000, 5000); /* newest sample 595 s; blocks [0,1) .. [8,9) minutes */
	maintain(db);
	/* Kept: blocks ending after 595 s - 180 s = 415 s. */
	n = blocks(db, &m);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true(m[i].maxt > 415000);
	assert_int_equal(m[0].mint, 6 * MIN);
	free_metas(m, n);
	tsdb_db_stats(db, &st);
	assert_int_equal(st.retention_time_deleted, 6);
	assert_int_equal(count_samples(db, INT64_MIN, INT64_MAX, &first),
			 (600000 - 360000) / 5000 * NSERIES);
	assert_int_equal(first, 6 * MIN);
	close_db(db);
}

static void test_retention_by_size(void **state)
{
	struct tsdb_db_options o = opts();
	struct tsdb_db *db;
	struct tsdb_block_meta *m;
	struct tsdb_db_stats st;
	uint64_t sizes[16], total = 0;
	char path[600];
	size_t n;

	o.max_block_ms = MIN; /* no compaction */
	db = open_with(o);
	fill(db, 0, 400000, 5000);
	maintain(db); /* blocks [0,1) .. [5,6) minutes */
	n = blocks(db, &m);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < n; i++) {
		struct tsdb_block *b;

		snprintf(path, sizeof(path), "%s/%s", dir, m[i].ulid);
		assert_int_equal(tsdb_block_open(path, &b, err, sizeof(err)), 0);
		sizes[i] = tsdb_block_size(b);
		tsdb_block_unref(b);
	}
	free_metas(m, n);
	close_db(db);
	tsdb_db_stats(db = open_with(o), &st);
	close_db(db);
	/* Room for the WAL and the two newest blocks, and half of the third. */
	total = st.wal_bytes + sizes[5] + sizes[4] + sizes[3] / 2;
	o.retention_bytes = total;
	db = open_with(o);
	maintain(db);
	n = blocks(db, &m);
	assert_int_equal(n, 2);
	assert_int_equal(m[0].mint, 4 * MIN);
	free_metas(m, n);
	tsdb_db_stats(db, &st);
	assert_int_equal(st.retention_size_deleted, 4);
	assert_true(st.blocks_bytes + st.wal_bytes <= total);
	close_db(db);
}

/* --- snapshots ------------------------------------------------------------------------------ */

static size_t count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_snapshot(void **state)
{
	struct tsdb_db *db = open_with(opts());
	struct tsdb_block_meta *m;
	char name[64], name2[64], snap[600], a[1000], b[1000];
	struct stat s1, s2;
	uint64_t samples = 0;
	DIR *d;
	struct dirent *de;
	size_t n;

	fill(db, 0, 200000, 5000);
	maintain(db);
	n = blocks(db, &m);
	assert_int_equal(n, 2);
	assert_int_equal(tsdb_db_snapshot(db, true, name, sizeof(name), err, sizeof(err)), 0);
	/* 20060102T150405Z-0123456789abcdef */
	assert_int_equal(strlen(name), 16 + 1 + 16);
	assert_int_equal(name[8], 'T');
	assert_int_equal(name[15], 'Z');
	assert_int_equal(name[16], '-');
	snprintf(snap, sizeof(snap), "%s/snapshots/%s", dir, name);
	assert_int_equal(count_entries(snap), 3); /* two blocks and the head */
	/* Hard links, not copies. */
	snprintf(a, sizeof(a), "%s/%s/index", dir, m[0].ulid);
	snprintf(b, sizeof(b), "%s/%s/index", snap, m[0].ulid);
	assert_int_equal(stat(a, &s1), 0);
	assert_int_equal(stat(b, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	snprintf(b, sizeof(b), "%s/%s/chunks/000001", snap, m[0].ulid);
	assert_int_equal(stat(b, &s2), 0);
	free_metas(m, n);
	/* Every block of the snapshot opens and together they hold every sample. */
	d = opendir(snap);
	while ((de = readdir(d))) {
		struct tsdb_block *blk;

		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", snap, de->d_name);
		if (tsdb_block_open(a, &blk, err, sizeof(err)) < 0)
			fail_msg("%s", err);
		samples += tsdb_block_meta(blk)->num_samples;
		tsdb_block_unref(blk);
	}
	closedir(d);
	assert_int_equal(samples, 400);
	/* Without the head. */
	assert_int_equal(tsdb_db_snapshot(db, false, name2, sizeof(name2), err, sizeof(err)), 0);
	assert_string_not_equal(name, name2);
	snprintf(snap, sizeof(snap), "%s/snapshots/%s", dir, name2);
	assert_int_equal(count_entries(snap), 2);
	assert_int_equal(tsdb_db_snapshot(db, false, name2, 8, err, sizeof(err)), -1);
	/* Snapshots are not blocks of the database. */
	close_db(db);
	db = open_with(opts());
	n = blocks(db, &m);
	assert_int_equal(n, 2);
	free_metas(m, n);
	close_db(db);
}

/* --- start-up ------------------------------------------------------------------------------- */

static void test_startup_cleanup(void **state)
{
	struct tsdb_db_options o = opts();
	struct tsdb_db *db;
	struct tsdb_block_meta *m;
	struct tsdb_block *bs[2];
	struct tsdb_block_meta out;
	struct tsdb_db_stats st;
	char path[700], tmp[600];
	bool written;
	int64_t first;
	FILE *f;
	size_t n;

	o.max_block_ms = MIN; /* no compaction */
	db = open_with(o);
	fill(db, 0, 300000, 5000);
	maintain(db); /* [0,1) [1,2) [2,3) [3,4) */
	n = blocks(db, &m);
	assert_int_equal(n, 4);
	close_db(db);

	/* A compaction that wrote its block but died before deleting the sources. */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, m[i].ulid);
		assert_int_equal(tsdb_block_open(path, &bs[i], err, sizeof(err)), 0);
	}
	assert_int_equal(tsdb_block_compact(bs, 2, dir, TSDB_BLOCK_PROMETHEUS, &out, &written,
					    err, sizeof(err)), 0);
	tsdb_block_unref(bs[0]);
	tsdb_block_unref(bs[1]);
	/* An interrupted block write. */
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp-for-creation", dir, m[2].ulid);
	assert_int_equal(mkdir(tmp, 0755), 0);
	snprintf(path, sizeof(path), "%s/junk", tmp);
	f = fopen(path, "w");
	fputs("x", f);
	fclose(f);
	/* A corrupt block. */
	snprintf(path, sizeof(path), "%s/%s/index", dir, m[2].ulid);
	assert_int_equal(truncate(path, 100), 0);

	db = open_with(o);
	assert_false(exists("%s/%s", m[0].ulid));
	assert_false(exists("%s/%s", m[1].ulid));
	assert_true(exists("%s/%s", out.ulid));
	assert_false(exists("%s/%s.tmp-for-creation", m[2].ulid));
	tsdb_db_stats(db, &st);
	assert_int_equal(st.blocks_skipped, 1);
	assert_int_equal(st.blocks, 2);
	/* The compacted block serves [0, 2 min); the corrupt one's minute is gone (its
	 * samples were checkpointed away), the head has the rest. */
	assert_int_equal(count_samples(db, INT64_MIN, 2 * MIN - 1, &first), 24 * NSERIES);
	assert_int_equal(count_samples(db, 3 * MIN, INT64_MAX, &first), 24 * NSERIES);
	close_db(db);
	free_metas(m, n);
	tsdb_block_meta_free(&out);
}

static void test_background_thread(void **state)
{
	struct tsdb_db_options o = opts();
	struct tsdb_db *db;
	struct tsdb_db_stats st;
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	o.maintain_interval_ms = 60 * 60 * 1000; /* only appends wake it */
	db = open_with(o);
	fill(db, 0, 200000, 5000);
	for (int i = 0; i < 500; i++) {
		tsdb_db_stats(db, &st);
		if (st.head_cuts >= 2)
			break;
		nanosleep(&pause, NULL);
	}
	assert_int_equal(st.head_cuts, 2);
	close_db(db);
}

/* Writers in lockstep (the head only takes samples 30 s behind its newest one) and a
 * reader, while the background thread cuts blocks, truncates the head, checkpoints and
 * compacts under them: every acknowledged sample must stay readable, before and after
 * a reopen. */
#define WRITERS 4
#define STEPS 600

struct stress {
	struct tsdb_db *db;
	pthread_barrier_t step;
	int stop; /* atomic */
	uint64_t acked[WRITERS];
	uint64_t reads;
};

struct writer_arg {
	struct stress *st;
	int id;
};

static void *writer(void *p)
{
	struct writer_arg *wa = p;
	struct arena *a = arena_new(0);
	char id[16];

	snprintf(id, sizeof(id), "w%d", wa->id);
	for (int k = 0; k < STEPS; k++) {
		struct label l[2] = { { "__name__", "m" }, { "s", id } };
		struct labels ls = { l, 2 };
		struct tsdb_sample smp = { (int64_t)k * 1000, (double)((int64_t)k * 1000) };
		struct tsdb_db_series in = { .labels = &ls, .samples = &smp, .n = 1 };
		struct tsdb_db_result res;
		char e[256];

		/* The value check in count_samples wants t + s: id "wN" parses as 0. */
		if (tsdb_db_append(wa->st->db, &in, 1, a, &res, e, sizeof(e)) == 0 &&
		    res.appended == 1)
			wa->st->acked[wa->id]++;
		buf_free(&res.errors);
		arena_reset(a);
		pthread_barrier_wait(&wa->st->step);
	}
	arena_free(a);
	return NULL;
}

static void *reader(void *p)
{
	struct stress *st = p;

	while (!__atomic_load_n(&st->stop, __ATOMIC_RELAXED)) {
		struct tsdb_querier *q;
		struct tsdb_series_set *ss;
		char e[256];

		if (tsdb_db_querier(st->db, INT64_MIN, INT64_MAX, &q, e, sizeof(e)) < 0)
			continue;
		if (tsdb_querier_select(q, NULL, 0, NULL, &ss, e, sizeof(e)) == 0) {
			while (tsdb_series_set_next(ss)) {
				struct tsdb_iterator *it = tsdb_series_set_iterator(ss);

				while (tsdb_iterator_next(it))
					;
			}
		}
		tsdb_querier_close(q);
		st->reads++;
	}
	return NULL;
}

static void test_concurrent_appends_queries_and_cuts(void **state)
{
	struct tsdb_db_options o = opts();
	struct stress st = { 0 };
	struct writer_arg wa[WRITERS];
	pthread_t w[WRITERS], r;
	struct tsdb_db_stats ds;
	uint64_t total = 0;
	int64_t first;

	o.maintain_interval_ms = 5;
	o.max_block_ms = 3 * MIN;
	st.db = open_with(o);
	pthread_barrier_init(&st.step, NULL, WRITERS);
	pthread_create(&r, NULL, reader, &st);
	for (int i = 0; i < WRITERS; i++) {
		wa[i] = (struct writer_arg){ &st, i };
		pthread_create(&w[i], NULL, writer, &wa[i]);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELAXED);
	pthread_join(r, NULL);
	pthread_barrier_destroy(&st.step);
	for (int i = 0; i < WRITERS; i++)
		total += st.acked[i];
	assert_int_equal(total, WRITERS * STEPS);
	assert_true(st.reads > 0);
	maintain(st.db);
	tsdb_db_stats(st.db, &ds);
	assert_true(ds.head_cuts >= 7);
	assert_int_equal(count_samples(st.db, INT64_MIN, INT64_MAX, &first), total);
	reopen_holds(st.db, o, total);
}

static void test_head_status(void **state)
{
	struct tsdb_db *db = open_with(opts());
	struct tsdb_head_status hs;
	struct arena *a = arena_new(0);
	struct tsdb_db_result res;
	struct label l[3] = { { "__name__", "other" }, { "job", "verylongjobname" }, { "s", "1" } };
	struct labels ls = { l, 3 };
	struct tsdb_sample smp = { 0, 1 };
	struct tsdb_db_series in = { .labels = &ls, .samples = &smp, .n = 1 };

	fill(db, 0, 30000, 5000);
	assert_int_equal(tsdb_db_append(db, &in, 1, a, &res, err, sizeof(err)), 0);
	buf_free(&res.errors);
	assert_int_equal(tsdb_head_status(tsdb_db_head(db), 2, a, &hs, err, sizeof(err)), 0);
	assert_int_equal(hs.num_series, NSERIES + 1);
	assert_int_equal(hs.chunk_count, NSERIES + 1);
	assert_int_equal(hs.min_time, 0);
	assert_int_equal(hs.max_time, 25000);
	/* Pairs: __name__ (m, other), s (0..9), job (verylongjobname). */
	assert_int_equal(hs.num_label_pairs, 2 + NSERIES + 1);
	assert_int_equal(hs.nseries_by_metric, 2);
	assert_string_equal(hs.series_by_metric[0].name, "m");
	assert_int_equal(hs.series_by_metric[0].value, NSERIES);
	assert_string_equal(hs.series_by_metric[1].name, "other");
	assert_int_equal(hs.nvalues_by_label, 2);
	assert_string_equal(hs.values_by_label[0].name, "s");
	assert_int_equal(hs.values_by_label[0].value, NSERIES);
	assert_string_equal(hs.values_by_label[1].name, "__name__");
	/* Bytes: __name__ = 10 x "m" + "other" = 15; s = 11; job = 15: ties by name. */
	assert_string_equal(hs.bytes_by_label[0].name, "__name__");
	assert_int_equal(hs.bytes_by_label[0].value, 15);
	assert_string_equal(hs.bytes_by_label[1].name, "job");
	assert_string_equal(hs.series_by_pair[0].name, "__name__=m");
	assert_int_equal(hs.series_by_pair[0].value, NSERIES);
	assert_int_equal(hs.nseries_by_pair, 2);
	assert_int_equal(tsdb_head_status(tsdb_db_head(db), 0, a, &hs, err, sizeof(err)), 0);
	assert_int_equal(hs.nseries_by_pair, 0);
	arena_free(a);
	close_db(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cut_checkpoint_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ooo_samples_go_into_the_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_in_the_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_keeps_remapped_refs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_through_db, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_encoding_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_by_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_cleanup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_background_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_appends_queries_and_cuts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_head_status, setup, teardown),
	};

	log_setup(LOG_LEVEL_ERROR, LOG_FORMAT_LOGFMT);
	return cmocka_run_group_tests_name("tsdb_maintain", tests, NULL, NULL);
}
