/*
 * Maintenance: cutting blocks from the head, WAL checkpoints, compaction and
 * retention, run by one background thread (woken by a timer, or by the append path
 * when the head has grown past 1.5 block ranges) or by tsdb_db_maintain().
 *
 * A cut follows Prometheus' order, which is what keeps acknowledged samples safe:
 *   1. raise the head's min valid time to the range's end, so nothing can be
 *      appended into the range behind the walk;
 *   2. write the block (fsynced and renamed into place) and add it to the list;
 *   3. truncate the head to the range's end (queriers already see the block);
 *   4. cut the WAL and checkpoint the segments before the cut, keeping series the
 *      head still has and samples from the range's end on, then delete them.
 * A failure before 3 leaves the head whole (the cut is retried next round); a failed
 * checkpoint only leaves more WAL to replay. Replay then refuses samples below the
 * newest block's end, so nothing is counted twice.
 *
 * After cuts and compactions a round rewrites one block whose encoding is not the
 * configured one (see reencode_one).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "tsdb/block_internal.h"
#include "tsdb/db_internal.h"

static void add_stat(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* End of the range holding t: Prometheus' rangeForTimestamp (truncating division, as
 * the head's chunk cutting uses, so chunks never straddle a block boundary). */
static int64_t range_end(int64_t t, int64_t width)
{
	int64_t base = (t / width) * width;

	return base > INT64_MAX - width ? INT64_MAX : base + width;
}

static bool needs_cut(const struct tsdb_db *db, int64_t from)
{
	int64_t hmax = tsdb_head_max_time(db->head);

	return from <= hmax && hmax - from > db->range / 2 * 3;
}

/* --- WAL checkpoint --------------------------------------------------------------------- */

static int cmp_remap_key(const void *key, const void *elem)
{
	uint64_t k = *(const uint64_t *)key, f = ((const struct tsdb_remap *)elem)->from;

	return k < f ? -1 : k > f;
}

/* A series record stays in the checkpoint while the head has the series, under its
 * ref or under the one replay mapped it to. */
static bool keep_series(void *ctx, uint64_t ref)
{
	struct tsdb_db *db = ctx;
	const struct tsdb_remap *r;

	if (tsdb_head_series_exists(db->head, ref))
		return true;
	if (!db->nremap)
		return false; /* remap is NULL then: bsearch must not see it */
	r = bsearch(&ref, db->remap, db->nremap, sizeof(*db->remap), cmp_remap_key);
	return r && tsdb_head_series_exists(db->head, r->to);
}

static int checkpoint(struct tsdb_db *db, int64_t mint, char *err, size_t errlen)
{
	struct tsdb_wal_checkpoint_stats st;
	int seg;

	if (tsdb_wal_cut(db->wal, &seg, err, errlen) < 0)
		return -1;
	if (seg == 0)
		return 0;
	if (tsdb_wal_checkpoint(db->wal, seg - 1, keep_series, db, mint, &st, err, errlen) < 0) {
		add_stat(&db->st.checkpoints_failed);
		return -1;
	}
	if (st.from >= 0 || st.previous >= 0)
		add_stat(&db->st.checkpoints);
	return 0;
}

/* --- cutting the head ---------------------------------------------------------------------- */

struct first_sample {
	int64_t t;
};

static int earliest(void *arg, const struct tsdb_head_series *s)
{
	struct first_sample *f = arg;

	if (s->nchunks && s->chunks[0].mint < f->t)
		f->t = s->chunks[0].mint;
	if (s->nooo && s->ooo[0].t < f->t)
		f->t = s->ooo[0].t;
	return 0;
}

/* The oldest sample at or after `from` (INT64_MAX: none). The head's min time only
 * moves at truncations, so after a gap it lags the data; this finds where data
 * resumes instead of stepping through empty ranges one by one. */
static int64_t data_from(struct tsdb_db *db, int64_t from)
{
	struct first_sample f = { INT64_MAX };
	char err[256];

	if (tsdb_head_foreach(db->head, from, INT64_MAX, false, earliest, &f, err,
			      sizeof(err)) < 0)
		return from; /* out of memory: step by one range instead */
	return f.t;
}

/* Write [from, end) as a block and drop it from the head and the WAL. *wrote says
 * whether there was data. */
static int cut(struct tsdb_db *db, int64_t from, int64_t end, bool *wrote, char *err,
	       size_t errlen)
{
	struct tsdb_block_meta meta = { 0 };
	int rc;

	tsdb_head_raise_min_valid_time(db->head, end);
	rc = tsdb_block_write_head(db->head, db->dir, from, end, db->block_enc, &meta, wrote, err,
				   errlen);
	if (rc == 0 && *wrote)
		rc = tsdb_db_add_block(db, meta.ulid, err, errlen);
	if (rc == 0 && *wrote) {
		char a[32], b[32];

		snprintf(a, sizeof(a), "%lld", (long long)meta.mint);
		snprintf(b, sizeof(b), "%lld", (long long)meta.maxt);
		LOG_INFO("tsdb", "Wrote block from the head", "ulid", meta.ulid, "mint", a, "maxt", b);
	}
	tsdb_block_meta_free(&meta);
	if (rc < 0) {
		add_stat(&db->st.head_cuts_failed);
		return rc;
	}
	add_stat(&db->st.head_cuts);
	if (tsdb_head_truncate(db->head, end, NULL, err, errlen) < 0)
		return -1;
	return checkpoint(db, end, err, errlen);
}

/* Start of the range holding t (floor division: never above t). */
static int64_t range_start(int64_t t, int64_t width)
{
	int64_t r = t % width;

	return t - (r < 0 ? r + width : r);
}

static int cut_head(struct tsdb_db *db, char *err, size_t errlen)
{
	for (;;) {
		int64_t from = tsdb_head_min_time(db->head), end, resume, skip;
		bool wrote;

		if (!needs_cut(db, from))
			return 0;
		end = range_end(from, db->range);
		if (cut(db, from, end, &wrote, err, errlen) < 0)
			return -1;
		if (wrote)
			continue;
		/* A gap: move the head's start to where data resumes in one step (a cut of
		 * the empty stretch, so a sample racing into it is still kept). */
		resume = data_from(db, end);
		if (resume == INT64_MAX)
			return 0;
		skip = range_start(resume, db->range);
		if (skip > end && cut(db, end, skip, &wrote, err, errlen) < 0)
			return -1;
	}
}

/* --- compaction --------------------------------------------------------------------------- */

static bool failed_before(const struct tsdb_db *db, const char *ulid)
{
	for (size_t i = 0; i < db->nfailed; i++)
		if (!strcmp(db->failed[i], ulid))
			return true;
	return false;
}

static void remember_failure(struct tsdb_db *db, struct tsdb_block *const *bs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (tsdb_grow((void **)&db->failed, &db->capfailed, db->nfailed + 1,
			      sizeof(*db->failed)) < 0)
			return;
		memcpy(db->failed[db->nfailed++], tsdb_block_meta(bs[i])->ulid, TSDB_ULID_LEN + 1);
	}
}

/* Merge the chosen blocks (or rewrite one); the sources go once the result is in the
 * list. `what` is the log message. */
static int compact(struct tsdb_db *db, struct tsdb_block **sel, size_t n, const char *what,
		   char *err, size_t errlen)
{
	struct tsdb_block_meta meta;
	bool written;
	int rc = tsdb_block_compact(sel, n, db->dir, db->block_enc, &meta, &written, err, errlen);

	if (rc == 0 && written)
		rc = tsdb_db_add_block(db, meta.ulid, err, errlen);
	if (rc == 0) {
		char lvl[16];

		snprintf(lvl, sizeof(lvl), "%d", meta.level);
		LOG_INFO("tsdb", what, "ulid", written ? meta.ulid : "(empty)", "level", lvl);
		add_stat(&db->st.compactions);
		rc = tsdb_db_drop_blocks(db, sel, n, err, errlen);
	} else {
		add_stat(&db->st.compactions_failed);
		remember_failure(db, sel, n);
	}
	tsdb_block_meta_free(&meta);
	return rc;
}

/* One plan and its compaction; *done when there was nothing to do. */
static int compact_once(struct tsdb_db *db, bool *done, char *err, size_t errlen)
{
	struct tsdb_block **bs, **sel = NULL;
	const struct tsdb_block_meta **metas = NULL;
	bool *skip = NULL;
	size_t n, k, *idx = NULL;
	int rc = -1;

	*done = true;
	if (tsdb_db_grab_blocks(db, &bs, &n) < 0)
		goto oom;
	metas = malloc((n + 1) * sizeof(*metas));
	skip = calloc(n + 1, sizeof(*skip));
	idx = malloc((n + 1) * sizeof(*idx));
	sel = malloc((n + 1) * sizeof(*sel));
	if (!metas || !skip || !idx || !sel)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		metas[i] = tsdb_block_meta(bs[i]);
		skip[i] = failed_before(db, metas[i]->ulid);
	}
	k = tsdb_compact_plan(metas, n, skip, db->ranges, db->nranges, idx);
	for (size_t i = 0; i < k; i++)
		sel[i] = bs[idx[i]];
	*done = k == 0;
	rc = k ? compact(db, sel, k, "Compacted blocks", err, errlen) : 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory planning compaction");
out:
	tsdb_db_release_blocks(bs, n);
	free(metas);
	free(skip);
	free(idx);
	free(sel);
	return rc;
}

static int compact_all(struct tsdb_db *db, char *err, size_t errlen)
{
	bool done = false;

	while (!done)
		if (compact_once(db, &done, err, errlen) < 0)
			return -1;
	return 0;
}

/* --- re-encoding ---------------------------------------------------------------------------- */

/* A block written in the other encoding than the configured one is rewritten, one per
 * round, so switching --storage.tsdb.block-encoding converts the data directory: to
 * prometheus before promtool or Prometheus reads it, or to dense to shrink what is
 * there already. */
static int reencode_one(struct tsdb_db *db, char *err, size_t errlen)
{
	struct tsdb_block **bs;
	size_t n;
	int rc = 0;

	if (tsdb_db_grab_blocks(db, &bs, &n) < 0) {
		snprintf(err, errlen, "out of memory listing blocks");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct tsdb_block_meta *m = tsdb_block_meta(bs[i]);

		if (m->encoding == db->block_enc || failed_before(db, m->ulid))
			continue;
		rc = compact(db, &bs[i], 1, "Rewrote a block in the configured encoding", err,
			     errlen);
		break;
	}
	tsdb_db_release_blocks(bs, n);
	return rc;
}

/* --- the round and the thread -------------------------------------------------------------- */

static uint64_t work_done(struct tsdb_db *db)
{
	return __atomic_load_n(&db->st.head_cuts, __ATOMIC_RELAXED) +
	       __atomic_load_n(&db->st.compactions, __ATOMIC_RELAXED);
}

int tsdb_db_maintain(struct tsdb_db *db, char *err, size_t errlen)
{
	uint64_t before;
	int rc;

	pthread_mutex_lock(&db->maint_mu);
	before = work_done(db);
	/* A cut is the process's peak of memory (the block writer, truncation, checkpoint
	 * and often a compaction on top of the head): give malloc's free pages back first,
	 * so what the round allocates does not come on top of them. */
	if (needs_cut(db, tsdb_head_min_time(db->head)))
		malloc_trim(0);
	rc = cut_head(db, err, errlen);
	if (rc == 0)
		rc = compact_all(db, err, errlen);
	if (rc == 0)
		rc = reencode_one(db, err, errlen);
	if (rc == 0)
		rc = tsdb_db_retention(db, err, errlen);
	/* A cut frees most of the head's chunks and a compaction its writer's memory, in
	 * whichever malloc arenas the appending threads used; hand the free pages back
	 * instead of keeping them until the head grows again. */
	if (work_done(db) != before)
		malloc_trim(0);
	/* Queries read parked head chunks through the store's mapping; let go of what
	 * they brought in at least once a round. */
	tsdb_chunk_store_drop_pages(db->head->store);
	pthread_mutex_unlock(&db->maint_mu);
	return rc;
}

static void *bg_main(void *arg)
{
	struct tsdb_db *db = arg;
	char err[1024];

	pthread_mutex_lock(&db->bg_mu);
	while (!db->bg_stop) {
		pthread_mutex_unlock(&db->bg_mu);
		if (tsdb_db_maintain(db, err, sizeof(err)) < 0)
			LOG_ERROR("tsdb", "Storage maintenance failed", "err", err);
		__atomic_store_n(&db->kick_pending, 0, __ATOMIC_RELAXED);
		pthread_mutex_lock(&db->bg_mu);
		if (!db->bg_stop && !db->bg_kick) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += db->interval_ms / 1000;
			ts.tv_nsec += (db->interval_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&db->bg_cv, &db->bg_mu, &ts);
		}
		db->bg_kick = false;
	}
	pthread_mutex_unlock(&db->bg_mu);
	return NULL;
}

int tsdb_db_bg_start(struct tsdb_db *db, char *err, size_t errlen)
{
	if (pthread_create(&db->bg, NULL, bg_main, db) != 0) {
		snprintf(err, errlen, "starting the storage maintenance thread failed");
		return -1;
	}
	db->bg_running = true;
	return 0;
}

void tsdb_db_bg_stop(struct tsdb_db *db)
{
	if (!db->bg_running)
		return;
	pthread_mutex_lock(&db->bg_mu);
	db->bg_stop = true;
	pthread_cond_signal(&db->bg_cv);
	pthread_mutex_unlock(&db->bg_mu);
	pthread_join(db->bg, NULL);
	db->bg_running = false;
}

void tsdb_db_bg_poke(struct tsdb_db *db)
{
	if (!db->bg_running || !needs_cut(db, tsdb_head_min_time(db->head)))
		return;
	if (__atomic_exchange_n(&db->kick_pending, 1, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&db->bg_mu);
	db->bg_kick = true;
	pthread_cond_signal(&db->bg_cv);
	pthread_mutex_unlock(&db->bg_mu);
}
