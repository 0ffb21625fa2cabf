/*
 * Checkpoints: compacting the head of the WAL into checkpoint.N so segments <= N can
 * go. Prometheus' procedure: read the previous checkpoint and segments up to N, keep
 * the series the head still has and the data newer than the head's min time, write
 * that to checkpoint.N.tmp in the ordinary segment format, fsync, rename into place,
 * and only then delete what it replaces. A crash at any step leaves either the old
 * state or the new one: a .tmp directory is ignored by replay and removed by the next
 * checkpoint, and segments <= N surviving an interrupted deletion are skipped.
 *
 * Records are filtered and re-encoded one by one; records from consecutive source
 * batches are gathered into output batches of about 64 KiB so a checkpoint costs a
 * few large writes. Merging batches keeps their atomicity (a merged batch is still
 * all-or-nothing), and the checkpoint is only visible once complete anyway.
 *
 * keep() is asked once per ref, not once per entry: every sample names its series, a
 * head answers by looking the ref up in a table spread over its whole memory, and the
 * same refs come back in every samples record. The answers are remembered in two bits
 * per ref (asked, kept), in an array indexed by ref: a head's refs are dense, so that
 * is a quarter of a byte per series; refs too large for it are asked every time. A
 * checkpoint is a snapshot of which series the head has anyway, so an answer may be
 * reused for the whole run.
 */
#include "tsdb/wal_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Output batch size: large enough for few writes, small since reading, filtering,
 * compressing and framing a batch each hold a copy of it during a checkpoint (which
 * runs right after a block write, at the RSS's peak). */
#define FLUSH_BYTES (64 * 1024)
/* Refs whose keep() answer is remembered: at most 16 MiB of memo. */
#define MEMO_REFS (1ull << 26)

struct cp {
	bool (*keep)(void *ctx, uint64_t ref);
	void *keep_ctx;
	uint64_t *memo;  /* 32 refs a word: bit 2k ref 32w + k was asked, 2k + 1 kept */
	size_t nmemo;    /* words */
	bool memo_full;  /* could not grow: ask keep() beyond nmemo */
	int64_t mint;
	struct tsdb_wal *out;
	struct arena *arena;
	struct buf data;           /* output records, back to back */
	size_t *lens;              /* their lengths */
	size_t nlens, caplens;
	struct tsdb_wal_checkpoint_stats *st;
	const char *dir;
};

static int flush(struct cp *c, char *err, size_t errlen)
{
	struct tsdb_wal_rec *recs;
	size_t off = 0;
	int rc;

	if (c->nlens == 0)
		return 0;
	recs = calloc(c->nlens, sizeof(*recs));
	if (!recs)
		return WAL_FAIL(err, errlen, -1, "checkpoint: out of memory");
	for (size_t i = 0; i < c->nlens; i++) {
		recs[i].data = c->data.data + off;
		recs[i].len = c->lens[i];
		off += c->lens[i];
	}
	rc = tsdb_wal_log(c->out, recs, c->nlens, err, errlen);
	free(recs);
	buf_reset(&c->data);
	c->nlens = 0;
	return rc;
}

/* Account for a record just appended to c->data at `start`. */
static int added(struct cp *c, size_t start, char *err, size_t errlen)
{
	if (c->data.oom)
		return WAL_FAIL(err, errlen, -1, "checkpoint: out of memory");
	if (c->nlens == c->caplens) {
		size_t ncap = c->caplens ? c->caplens * 2 : 64;
		size_t *n = realloc(c->lens, ncap * sizeof(*n));

		if (!n)
			return WAL_FAIL(err, errlen, -1, "checkpoint: out of memory");
		c->lens = n;
		c->caplens = ncap;
	}
	c->lens[c->nlens++] = c->data.len - start;
	return 0;
}

/* Make the memo cover word w (zeroed); false when it cannot. */
static bool memo_cover(struct cp *c, size_t w)
{
	size_t n = c->nmemo ? c->nmemo : 1024;
	uint64_t *m;

	if (c->memo_full)
		return false;
	while (n <= w)
		n *= 2;
	m = realloc(c->memo, n * sizeof(*m));
	if (!m) {
		c->memo_full = true;
		return false;
	}
	memset(m + c->nmemo, 0, (n - c->nmemo) * sizeof(*m));
	c->memo = m;
	c->nmemo = n;
	return true;
}

/* keep(ref), through the memo. */
static bool keep_ref(struct cp *c, uint64_t ref)
{
	size_t w = (size_t)(ref / 32);
	unsigned sh = (unsigned)(ref % 32) * 2;
	bool kept;

	if (!c->keep)
		return true;
	if (ref >= MEMO_REFS || (w >= c->nmemo && !memo_cover(c, w)))
		return c->keep(c->keep_ctx, ref);
	if (c->memo[w] >> sh & 1)
		return c->memo[w] >> sh & 2;
	kept = c->keep(c->keep_ctx, ref);
	c->memo[w] |= (uint64_t)(1 | (kept ? 2 : 0)) << sh;
	return kept;
}

/* Filter one record into c->data (nothing when no entry survives). Records of types
 * this code does not know are kept as they are: not ours to judge. */
static int filter(struct cp *c, const void *rec, size_t len, char *why, size_t whylen)
{
	const struct wal_kind *k = wal_kind_of(tsdb_wal_record_type(rec, len));
	unsigned char *v;
	size_t n, kept = 0;
	void *out;
	int rc;

	if (!k) {
		buf_append(&c->data, rec, len);
		return 0;
	}
	arena_reset(c->arena);
	rc = wal_decode(k, rec, len, c->arena, &out, &n, why, whylen);
	if (rc < 0)
		return rc;
	v = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char *e = v + i * k->elem;
		uint64_t ref;
		int64_t t = INT64_MAX;

		memcpy(&ref, e, sizeof(ref));
		if (k->t_off >= 0)
			memcpy(&t, e + k->t_off, sizeof(t));
		if (t < c->mint || !keep_ref(c, ref))
			continue;
		if (kept != i)
			memcpy(v + kept * k->elem, e, k->elem);
		kept++;
	}
	if (k->type == TSDB_WAL_REC_SERIES) {
		c->st->series_kept += kept;
		c->st->series_dropped += n - kept;
	} else if (tsdb_wal_is_samples(k->type)) {
		c->st->samples_kept += kept;
		c->st->samples_dropped += n - kept;
	}
	if (kept)
		k->encode(&c->data, v, kept);
	return 0;
}

static int cp_batch(void *ctx, const struct wal_seg_reader *r, char *err, size_t errlen)
{
	struct cp *c = ctx;
	char why[256];

	for (size_t i = 0; i < r->nrecs; i++) {
		const struct wal_rec_ref *ref = &r->recs[i];
		size_t start = c->data.len;
		int rc = filter(c, r->batch.data + ref->off, ref->len, why, sizeof(why));

		if (rc < 0)
			return WAL_FAIL(err, errlen, rc, "checkpoint: %s/%08d, record at offset %lld: %s",
					c->dir, r->seg, (long long)ref->pos, why);
		if (c->data.len > start || c->data.oom) {
			if (added(c, start, err, errlen) < 0)
				return -1;
		}
	}
	return c->data.len >= FLUSH_BYTES ? flush(c, err, errlen) : 0;
}

/* Feed segments first..last of dir through the filter (strictly: any damage fails). */
static int take_in(struct cp *c, const char *dir, int first, int last, char *err,
		   size_t errlen)
{
	struct wal_walk wk = {
		.dir = dir, .first = first, .last = last, .batch = cp_batch, .ctx = c,
	};

	c->dir = dir;
	return wal_walk(&wk, err, errlen);
}

/* Remove checkpoint directories numbered below upto (complete or unfinished ones). */
static int remove_checkpoints(const char *waldir, bool tmp, int upto, char *err, size_t errlen)
{
	char path[4096];
	int *v;
	size_t n;
	int rc = 0;

	if (wal_list_checkpoints(waldir, tmp, &v, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n && v[i] < upto && rc == 0; i++) {
		if (wal_checkpoint_path(path, sizeof(path), waldir, v[i], tmp) < 0)
			rc = WAL_FAIL(err, errlen, -1, "checkpoint path too long");
		else
			rc = wal_remove_dir(path, err, errlen);
	}
	free(v);
	return rc;
}

/* Delete what checkpoint.upto replaces: segments <= upto (oldest first, so a crash
 * leaves no gap), older checkpoints, and leftovers of interrupted ones. */
static int remove_replaced(const char *waldir, int upto, char *err, size_t errlen)
{
	int *v;
	size_t n;
	int rc = 0;

	if (wal_list_segments(waldir, &v, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n && v[i] <= upto && rc == 0; i++)
		rc = wal_remove_segment(waldir, v[i], err, errlen);
	free(v);
	if (rc == 0)
		rc = remove_checkpoints(waldir, false, upto, err, errlen);
	if (rc == 0)
		rc = remove_checkpoints(waldir, true, upto, err, errlen);
	return rc < 0 ? rc : wal_fsync_dir(waldir, err, errlen);
}

/* The segments checkpoint.upto takes in: the previous checkpoint (*prev, or -1) and
 * WAL segments *from..upto (*from = -1: none). */
static int plan(const char *waldir, int upto, int *prev, int *from, char *err, size_t errlen)
{
	int *v;
	size_t n, i = 0, j;
	int rc = 0;

	*from = -1;
	if (tsdb_wal_checkpoint_last(waldir, prev, NULL, 0, err, errlen) < 0)
		return -1;
	if (*prev >= upto)
		return 0;
	if (wal_list_segments(waldir, &v, &n, err, errlen) < 0)
		return -1;
	while (i < n && v[i] <= *prev)
		i++;
	for (j = i; j < n && v[j] <= upto; j++)
		;
	if (j == i) {
		if (*prev >= 0)
			rc = WAL_FAIL(err, errlen, -1,
				      "checkpoint: WAL segments %08d..%08d are missing in %s",
				      *prev + 1, upto, waldir);
	} else if (!wal_contiguous(v + i, j - i) || (*prev >= 0 && v[i] != *prev + 1) ||
		   v[j - 1] != upto) {
		rc = WAL_FAIL(err, errlen, -1,
			      "checkpoint: WAL segments up to %08d in %s are not complete", upto,
			      waldir);
	} else {
		*from = v[i];
	}
	free(v);
	return rc;
}

static int write_checkpoint(struct cp *c, const char *waldir, int prev, int from, int upto,
			    char *err, size_t errlen)
{
	char cpdir[4096];
	int f, l, rc;

	if (prev >= 0) {
		if (wal_checkpoint_path(cpdir, sizeof(cpdir), waldir, prev, false) < 0)
			return WAL_FAIL(err, errlen, -1, "checkpoint path too long");
		if (tsdb_wal_segments(cpdir, &f, &l, err, errlen) < 0)
			return -1;
		if (f >= 0 && (rc = take_in(c, cpdir, f, l, err, errlen)) < 0)
			return rc;
	}
	if (from >= 0 && (rc = take_in(c, waldir, from, upto, err, errlen)) < 0)
		return rc;
	return flush(c, err, errlen);
}

int tsdb_wal_checkpoint(struct tsdb_wal *w, int upto, bool (*keep)(void *ctx, uint64_t ref),
			void *ctx, int64_t mint, struct tsdb_wal_checkpoint_stats *st, char *err,
			size_t errlen)
{
	struct tsdb_wal_checkpoint_stats local;
	const char *waldir = tsdb_wal_dir(w);
	struct tsdb_wal_opts o = { .segment_size = wal_writer_segment_size(w),
				   .fsync = TSDB_WAL_FSYNC_NEVER,
				   .compression = wal_writer_compression(w) };
	struct cp c = { .keep = keep, .keep_ctx = ctx, .mint = mint };
	char tmp[4096], final[4096];
	int prev, from, rc;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	st->previous = st->from = st->to = -1;
	c.st = st;
	if (upto >= tsdb_wal_current_segment(w))
		return WAL_FAIL(err, errlen, -1,
				"checkpoint: segment %08d is still being written (cut the WAL first)",
				upto);
	if (plan(waldir, upto, &prev, &from, err, errlen) < 0)
		return -1;
	if (prev >= upto || (prev < 0 && from < 0))
		return 0; /* nothing new to take in */
	st->previous = prev;
	st->from = from;
	st->to = from >= 0 ? upto : -1;
	if (wal_checkpoint_path(tmp, sizeof(tmp), waldir, upto, true) < 0 ||
	    wal_checkpoint_path(final, sizeof(final), waldir, upto, false) < 0)
		return WAL_FAIL(err, errlen, -1, "checkpoint path too long");
	if (wal_remove_dir(tmp, err, errlen) < 0)
		return -1;
	c.arena = arena_new(0);
	if (!c.arena)
		return WAL_FAIL(err, errlen, -1, "checkpoint: out of memory");
	rc = tsdb_wal_open(tmp, &o, &c.out, err, errlen);
	if (rc == 0)
		rc = write_checkpoint(&c, waldir, prev, from, upto, err, errlen);
	if (c.out) {
		int crc = tsdb_wal_close(c.out, rc == 0 ? err : NULL, rc == 0 ? errlen : 0);

		if (rc == 0)
			rc = crc;
	}
	if (rc == 0 && rename(tmp, final) < 0)
		rc = WAL_FAIL(err, errlen, -1, "rename %s: %s", tmp, strerror(errno));
	if (rc == 0)
		rc = wal_fsync_dir(waldir, err, errlen);
	if (rc == 0)
		rc = remove_replaced(waldir, upto, err, errlen);
	else
		wal_remove_dir(tmp, NULL, 0);
	arena_free(c.arena);
	free(c.memo);
	buf_free(&c.data);
	free(c.lens);
	return rc;
}
