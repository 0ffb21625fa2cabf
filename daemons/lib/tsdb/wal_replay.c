/*
 * Start-up replay and explicit repair.
 *
 * Replay reads the newest checkpoint, then the WAL segments after it, handing each
 * record to the caller decoded. The checkpoint and every segment but the last are
 * closed files that were fsynced before anything after them existed, so damage there
 * is real corruption: replay stops and says where. The last segment is the one a
 * crash can leave torn; its damaged tail is cut at the last complete batch.
 */
#include "tsdb/wal_internal.h"

#include <stdlib.h>
#include <string.h>

struct replay {
	const struct tsdb_wal_replay_ops *ops;
	void *ctx;
	struct arena *arena;
	const char *dir;
	bool checkpoint; /* walking the checkpoint, which repair cannot cut */
	struct tsdb_wal_replay_result *res;
};

static bool wanted(const struct tsdb_wal_replay_ops *ops, int type)
{
	switch (type) {
	case TSDB_WAL_REC_SERIES:
		return ops->series;
	case TSDB_WAL_REC_SAMPLES:
	case TSDB_WAL_REC_SAMPLES_DENSE:
	case TSDB_WAL_REC_SAMPLES_DENSE2:
		return ops->samples;
	case TSDB_WAL_REC_TOMBSTONES:
		return ops->tombstones;
	case TSDB_WAL_REC_EXEMPLARS:
		return ops->exemplars;
	}
	return false;
}

/* Decode one record and hand it to its callback. A decoder's message goes to why (the
 * caller adds the position), a callback's to err. */
static int dispatch(struct replay *rp, const void *rec, size_t len, char *why, size_t whylen,
		    char *err, size_t errlen)
{
	const struct tsdb_wal_replay_ops *ops = rp->ops;
	int type = tsdb_wal_record_type(rec, len);
	const struct wal_kind *k = wal_kind_of(type);
	void *v;
	size_t n;
	int rc;

	if (!k)
		return ops->other ? ops->other(rp->ctx, rec, len, err, errlen) : 0;
	if (!wanted(ops, type))
		return 0;
	arena_reset(rp->arena);
	rc = wal_decode(k, rec, len, rp->arena, &v, &n, why, whylen);
	if (rc < 0)
		return rc;
	switch (type) {
	case TSDB_WAL_REC_SERIES:
		return ops->series(rp->ctx, v, n, err, errlen);
	case TSDB_WAL_REC_SAMPLES:
	case TSDB_WAL_REC_SAMPLES_DENSE:
	case TSDB_WAL_REC_SAMPLES_DENSE2:
		return ops->samples(rp->ctx, v, n, err, errlen);
	case TSDB_WAL_REC_TOMBSTONES:
		return ops->tombstones(rp->ctx, v, n, err, errlen);
	default:
		return ops->exemplars(rp->ctx, v, n, err, errlen);
	}
}

static int replay_batch(void *ctx, const struct wal_seg_reader *r, char *err, size_t errlen)
{
	struct replay *rp = ctx;
	char why[256] = "";

	for (size_t i = 0; i < r->nrecs; i++) {
		const struct wal_rec_ref *ref = &r->recs[i];
		int rc = dispatch(rp, r->batch.data + ref->off, ref->len, why, sizeof(why), err,
				  errlen);

		if (rc < 0 && why[0]) {
			if (rc == TSDB_WAL_ECORRUPT && !rp->checkpoint) {
				rp->res->corrupt_segment = r->seg;
				rp->res->corrupt_offset = ref->pos;
				rp->res->good_offset = r->recs[0].pos;
			}
			return WAL_FAIL(err, errlen, rc, "WAL segment %s/%08d, record at offset %lld: %s",
					rp->dir, r->seg, (long long)ref->pos, why);
		}
		if (rc < 0)
			return rc;
		rp->res->records++;
	}
	rp->res->batches++;
	return 0;
}

static int walk(struct replay *rp, struct wal_walk *wk, char *err, size_t errlen)
{
	int rc;

	rp->dir = wk->dir;
	rp->checkpoint = wk->checkpoint;
	rc = wal_walk(wk, err, errlen);
	if (rc == TSDB_WAL_ECORRUPT && wk->corrupt_segment >= 0 && !wk->checkpoint) {
		rp->res->corrupt_segment = wk->corrupt_segment;
		rp->res->corrupt_offset = wk->corrupt_offset;
		rp->res->good_offset = wk->good_offset;
	}
	rp->res->truncated_bytes += wk->truncated;
	return rc;
}

/* Segments of the WAL to replay after checkpoint cp: [*from, *to], or -1, -1. */
static int wal_range(const char *waldir, int cp, int *from, int *to, char *err, size_t errlen)
{
	int *segs;
	size_t n, i = 0;
	int rc = 0;

	*from = *to = -1;
	if (wal_list_segments(waldir, &segs, &n, err, errlen) < 0)
		return -1;
	while (i < n && segs[i] <= cp) /* left behind by an interrupted checkpoint */
		i++;
	if (i == n)
		goto out;
	if (!wal_contiguous(segs + i, n - i)) {
		rc = WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT,
			      "WAL segments in %s are not sequential (%08d..%08d, %zu files)", waldir,
			      segs[i], segs[n - 1], n - i);
		goto out;
	}
	if (cp >= 0 && segs[i] != cp + 1) {
		rc = WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT,
			      "WAL segments %08d..%08d after checkpoint.%08d are missing in %s", cp + 1,
			      segs[i] - 1, cp, waldir);
		goto out;
	}
	*from = segs[i];
	*to = segs[n - 1];
out:
	free(segs);
	return rc;
}

static int checkpoint_range(const char *cpdir, int *from, int *to, char *err, size_t errlen)
{
	int *segs;
	size_t n;
	int rc = 0;

	*from = *to = -1;
	if (wal_list_segments(cpdir, &segs, &n, err, errlen) < 0)
		return -1;
	if (n && !wal_contiguous(segs, n))
		rc = WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT, "segments in %s are not sequential",
			      cpdir);
	else if (n) {
		*from = segs[0];
		*to = segs[n - 1];
	}
	free(segs);
	return rc;
}

static int count(int from, int to)
{
	return from < 0 ? 0 : to - from + 1;
}

int tsdb_wal_replay(const char *waldir, const struct tsdb_wal_replay_ops *ops, void *ctx,
		    struct tsdb_wal_replay_result *res, char *err, size_t errlen)
{
	struct tsdb_wal_replay_result local;
	struct replay rp = { .ops = ops, .ctx = ctx };
	struct wal_walk wk = { .batch = replay_batch, .ctx = &rp, .progress = ops->progress,
			       .progress_ctx = ctx };
	char cpdir[4096];
	int cp, cfrom = -1, cto = -1, rc;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	res->checkpoint = res->first = res->last = res->corrupt_segment = -1;
	res->corrupt_offset = res->good_offset = -1;
	rp.res = res;
	rp.arena = arena_new(0);
	if (!rp.arena)
		return WAL_FAIL(err, errlen, -1, "WAL replay: out of memory");
	rc = tsdb_wal_checkpoint_last(waldir, &cp, cpdir, sizeof(cpdir), err, errlen);
	if (rc == 0 && cp >= 0)
		rc = checkpoint_range(cpdir, &cfrom, &cto, err, errlen);
	if (rc == 0)
		rc = wal_range(waldir, cp, &res->first, &res->last, err, errlen);
	if (rc < 0)
		goto out;
	res->checkpoint = cp;
	wk.progress_total = count(cfrom, cto) + count(res->first, res->last);
	if (cp >= 0) {
		wk.dir = cpdir;
		wk.first = cfrom;
		wk.last = cto;
		wk.checkpoint = true;
		rc = walk(&rp, &wk, err, errlen);
		if (rc < 0)
			goto out;
	}
	wk.dir = waldir;
	wk.first = res->first;
	wk.last = res->last;
	wk.checkpoint = false;
	wk.repair_last = true;
	wk.progress_base = count(cfrom, cto);
	rc = walk(&rp, &wk, err, errlen);
out:
	arena_free(rp.arena);
	return rc;
}

int tsdb_wal_repair(const char *waldir, int segment, int64_t offset, char *err, size_t errlen)
{
	int *segs;
	size_t n;
	int rc = 0;

	if (wal_list_segments(waldir, &segs, &n, err, errlen) < 0)
		return -1;
	/* Newest first, so an interrupted repair never leaves a gap. */
	for (size_t i = n; i-- > 0 && segs[i] > segment && rc == 0;)
		rc = wal_remove_segment(waldir, segs[i], err, errlen);
	free(segs);
	if (rc == 0)
		rc = wal_fsync_dir(waldir, err, errlen);
	if (rc == 0)
		rc = wal_truncate_segment(waldir, segment, offset, err, errlen);
	return rc;
}
