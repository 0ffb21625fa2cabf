/*
 * Compaction, as Prometheus' leveled compactor does it. Planning: block ranges grow by
 * 3x (2h, 6h, 18h, ...); overlapping blocks (left by a crash or an out-of-order
 * backfill) are merged first; otherwise the newest block stays out (it was just cut,
 * and leaving it alone lets an operator back it up before it changes), and the first
 * aligned window of a larger range holding two or more blocks is compacted once it is
 * full or ends before the last block kept starts.
 *
 * Merging walks every source block's series in index (= label) order, k-way. A series'
 * chunks from all sources are taken together: when they do not overlap in time they
 * are copied byte for byte (after their CRC is checked); otherwise the series is
 * decoded, deduplicated by timestamp (the block listed first wins) and re-encoded
 * into chunks of 120 samples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"

#define MAX_RANGES 10
/* Source bytes read between two releases of the sources' mapped pages: small, since
 * every page read in between counts in the RSS, and more with the kernel's fault-around
 * (one madvise per 256 KiB is cheap). */
#define RELEASE_EVERY (256u << 10)
/* What reading one series entry of a source's index costs in pages, about. */
#define SERIES_ENTRY_BYTES 64

size_t tsdb_compact_ranges(int64_t base, int64_t max, int64_t *out, size_t cap)
{
	size_t n = 0;
	int64_t r = base;

	for (int i = 0; i < MAX_RANGES && n < cap && r > 0; i++) {
		if (n > 0 && r > max)
			break;
		out[n++] = r;
		if (r > INT64_MAX / 3)
			break;
		r *= 3;
	}
	return n;
}

/* --- planning --------------------------------------------------------------------------- */

/* The first run of overlapping blocks. */
static size_t plan_overlapping(const struct tsdb_block_meta *const *m, size_t n,
			       const bool *skip, size_t *sel)
{
	size_t k = 0;
	int64_t maxt;

	if (n < 2)
		return 0;
	maxt = m[0]->maxt;
	for (size_t i = 1; i < n; i++) {
		if (m[i]->mint < maxt) {
			if (k == 0)
				sel[k++] = i - 1;
			sel[k++] = i;
		} else if (k > 0) {
			break;
		}
		if (m[i]->maxt > maxt)
			maxt = m[i]->maxt;
	}
	for (size_t i = 0; i < k; i++)
		if (skip && skip[sel[i]])
			return 0;
	return k;
}

/* Start of the window of width tr holding t (floor division). */
static int64_t window(int64_t t, int64_t tr)
{
	return t >= 0 ? tr * (t / tr) : tr * ((t - tr + 1) / tr);
}

/* Blocks [0, n) split into aligned windows of width tr; returns the first window's
 * run [*lo, *hi) that qualifies, scanning from *lo. */
static bool qualifying_run(const struct tsdb_block_meta *const *m, size_t n, const bool *skip,
			   int64_t tr, int64_t newest_mint, size_t *out_lo, size_t *out_hi)
{
	for (size_t i = 0; i < n;) {
		int64_t t0 = window(m[i]->mint, tr);
		size_t lo = i;
		bool failed = false;

		if (m[i]->maxt > t0 + tr) {
			i++; /* does not fit any window of this width */
			continue;
		}
		for (; i < n && m[i]->maxt <= t0 + tr; i++)
			failed |= skip && skip[i];
		if (failed || i - lo < 2)
			continue;
		if (m[i - 1]->maxt - m[lo]->mint == tr || m[i - 1]->maxt <= newest_mint) {
			*out_lo = lo;
			*out_hi = i;
			return true;
		}
	}
	return false;
}

size_t tsdb_compact_plan(const struct tsdb_block_meta *const *metas, size_t n,
			 const bool *skip, const int64_t *ranges, size_t nranges, size_t *sel)
{
	size_t k = plan_overlapping(metas, n, skip, sel), lo, hi;

	if (k > 0 || n < 2)
		return k;
	/* Leave the newest block out; windows must then be full or end before the start
	 * of the last block kept. */
	for (size_t r = 1; r < nranges; r++) {
		if (!qualifying_run(metas, n - 1, skip, ranges[r], metas[n - 2]->mint, &lo, &hi))
			continue;
		for (size_t i = lo; i < hi; i++)
			sel[k++] = i;
		return k;
	}
	return 0;
}

/* --- merging -------------------------------------------------------------------------------- */

struct cursor {
	struct tsdb_block *b;
	struct tsdb_block_ids ids; /* in the source's mapped index, not copied */
	struct tsdb_block_series s;
	bool has, cur;
};

static int advance(struct cursor *c, char *err, size_t errlen)
{
	uint64_t id;

	c->has = tsdb_block_ids_next(&c->ids, &id);
	if (!c->has)
		return 0;
	return tsdb_block_read_series(c->b, id, &c->s, err, errlen);
}

struct merge_ctx {
	struct tsdb_block_writer *w;
	struct cursor *cs;
	size_t n;
	struct tsdb_chunk_meta *chunks; /* the current series' chunks from every source */
	size_t nchunks, cap;
	struct arena *a;
	size_t unreleased; /* source bytes read since the sources' pages were released */
	char *err;
	size_t errlen;
};

/* Series and chunks are laid out in the order the merge reads them, so pages behind
 * the cursors are not needed again: drop them from the RSS now and then instead of
 * letting a compaction map every source in full. */
static void release_sources(struct merge_ctx *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->cs[i].b)
			tsdb_block_release_pages(m->cs[i].b);
	m->unreleased = 0;
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct tsdb_chunk_meta *x = a, *y = b;

	if (x->mint != y->mint)
		return x->mint < y->mint ? -1 : 1;
	return x->maxt < y->maxt ? -1 : x->maxt > y->maxt;
}

/* Decode the sources' chunks of this series, merge and re-encode. */
static int reencode(struct merge_ctx *m, const struct labels *ls)
{
	struct tsdb_iterator **its = arena_alloc(m->a, (m->n + 1) * sizeof(*its));
	size_t k = 0;
	struct tsdb_iterator *it;

	if (!its)
		goto oom;
	for (size_t i = 0; i < m->n; i++) {
		struct tsdb_snap *snap = arena_calloc(m->a, 1, sizeof(*snap));
		struct tsdb_snap_iter *si = arena_alloc(m->a, sizeof(*si));

		if (!m->cs[i].cur)
			continue;
		if (!snap || !si)
			goto oom;
		snap->chunks = m->cs[i].s.chunks;
		snap->nchunks = m->cs[i].s.nchunks;
		tsdb_snap_iter_init(si, snap, INT64_MIN, INT64_MAX);
		its[k++] = &si->it;
	}
	it = tsdb_merge_iterators(m->a, its, k);
	if (!it)
		goto oom;
	return tsdb_block_writer_add_samples(m->w, ls, it, m->err, m->errlen);
oom:
	snprintf(m->err, m->errlen, "out of memory compacting");
	return TSDB_EFAIL;
}

/* Write the series the current cursors share. */
static int merge_series(struct merge_ctx *m, const struct labels *ls)
{
	bool overlap = false;
	int rc;

	m->nchunks = 0;
	arena_reset(m->a);
	for (size_t i = 0; i < m->n; i++) {
		struct tsdb_block_series *s = &m->cs[i].s;

		if (!m->cs[i].cur)
			continue;
		for (size_t k = 0; k < s->nchunks; k++)
			if (tsdb_block_series_chunk(m->cs[i].b, s, k, m->err, m->errlen) < 0)
				return TSDB_EFAIL;
		if (tsdb_grow((void **)&m->chunks, &m->cap, m->nchunks + s->nchunks,
			      sizeof(*m->chunks)) < 0) {
			snprintf(m->err, m->errlen, "out of memory compacting");
			return TSDB_EFAIL;
		}
		memcpy(m->chunks + m->nchunks, s->chunks, s->nchunks * sizeof(*s->chunks));
		m->nchunks += s->nchunks;
		m->unreleased += SERIES_ENTRY_BYTES;
		for (size_t k = 0; k < s->nchunks; k++)
			m->unreleased += s->chunks[k].len;
	}
	qsort(m->chunks, m->nchunks, sizeof(*m->chunks), cmp_chunk);
	for (size_t k = 1; k < m->nchunks; k++)
		overlap |= m->chunks[k].mint <= m->chunks[k - 1].maxt;
	rc = overlap ? reencode(m, ls)
		     : tsdb_block_writer_add(m->w, ls, m->chunks, m->nchunks, m->err, m->errlen);
	if (m->unreleased >= RELEASE_EVERY)
		release_sources(m);
	return rc;
}

static int merge_all(struct merge_ctx *m)
{
	for (;;) {
		const struct labels *min = NULL;

		for (size_t i = 0; i < m->n; i++)
			if (m->cs[i].has && (!min || labels_compare(&m->cs[i].s.ls, min) < 0))
				min = &m->cs[i].s.ls;
		if (!min)
			return 0;
		for (size_t i = 0; i < m->n; i++)
			m->cs[i].cur = m->cs[i].has && labels_equal(&m->cs[i].s.ls, min);
		if (merge_series(m, min) < 0)
			return TSDB_EFAIL;
		for (size_t i = 0; i < m->n; i++)
			if (m->cs[i].cur && advance(&m->cs[i], m->err, m->errlen) < 0)
				return TSDB_EFAIL;
	}
}

static int cmp_ulid(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int compacted_meta(struct tsdb_block *const *blocks, size_t n, struct tsdb_block_meta *m)
{
	size_t ns = 0, w = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		const struct tsdb_block_meta *b = tsdb_block_meta(blocks[i]);

		m->level = b->level + 1 > m->level ? b->level + 1 : m->level;
		ns += b->nsources;
	}
	m->sources = malloc((ns + 1) * sizeof(*m->sources));
	m->parents = malloc((n + 1) * sizeof(*m->parents));
	if (!m->sources || !m->parents)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct tsdb_block_meta *b = tsdb_block_meta(blocks[i]);

		memcpy(m->sources + m->nsources, b->sources, b->nsources * sizeof(*b->sources));
		m->nsources += b->nsources;
		memcpy(m->parents[i].ulid, b->ulid, sizeof(b->ulid));
		m->parents[i].mint = b->mint;
		m->parents[i].maxt = b->maxt;
	}
	m->nparents = n;
	qsort(m->sources, m->nsources, sizeof(*m->sources), cmp_ulid);
	for (size_t i = 0; i < m->nsources; i++)
		if (w == 0 || strcmp(m->sources[w - 1], m->sources[i]))
			memmove(m->sources[w++], m->sources[i], sizeof(*m->sources));
	m->nsources = w;
	return 0;
}

static int open_cursors(struct merge_ctx *m, struct tsdb_block *const *blocks)
{
	for (size_t i = 0; i < m->n; i++) {
		m->cs[i].b = blocks[i];
		tsdb_block_ids_init(&m->cs[i].ids, blocks[i]);
		if (advance(&m->cs[i], m->err, m->errlen) < 0)
			return TSDB_EFAIL;
	}
	return 0;
}

int tsdb_block_compact(struct tsdb_block *const *blocks, size_t n, const char *parent,
		       enum tsdb_block_encoding enc, struct tsdb_block_meta *meta, bool *written,
		       char *err, size_t errlen)
{
	struct merge_ctx m = { .n = n, .err = err, .errlen = errlen };
	int64_t mint = INT64_MAX, maxt = INT64_MIN;
	int rc;

	*written = false;
	memset(meta, 0, sizeof(*meta));
	for (size_t i = 0; i < n; i++) {
		const struct tsdb_block_meta *b = tsdb_block_meta(blocks[i]);

		mint = b->mint < mint ? b->mint : mint;
		maxt = b->maxt > maxt ? b->maxt : maxt;
	}
	m.cs = calloc(n + 1, sizeof(*m.cs));
	m.a = arena_new(0);
	if (!m.cs || !m.a) {
		snprintf(err, errlen, "out of memory compacting");
		rc = TSDB_EFAIL;
		goto out;
	}
	rc = tsdb_block_writer_new(parent, mint, maxt, enc, &m.w, err, errlen);
	if (rc == 0)
		rc = open_cursors(&m, blocks);
	if (rc == 0)
		rc = merge_all(&m);
	if (m.cs)
		release_sources(&m);
	if (rc == 0 && tsdb_block_writer_series(m.w) > 0) {
		if (compacted_meta(blocks, n, meta) < 0) {
			snprintf(err, errlen, "out of memory compacting");
			rc = TSDB_EFAIL;
		} else {
			rc = tsdb_block_writer_commit(m.w, meta, err, errlen);
			*written = rc == 0;
		}
	}
out:
	if (rc < 0)
		tsdb_block_meta_free(meta);
	tsdb_block_writer_free(m.w);
	for (size_t i = 0; m.cs && i < n; i++)
		tsdb_block_series_free(&m.cs[i].s);
	free(m.cs);
	free(m.chunks);
	arena_free(m.a);
	return rc;
}
