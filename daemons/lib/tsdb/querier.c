/*
 * Reading the head: the head querier and the block writer's walk over all series.
 *
 * A reader registers with the head's reclaimer for its whole life, so the series,
 * closed chunks and label strings it reaches stay allocated even if a truncation
 * unlinks them meanwhile, and a truncation cutting into its range waits for it. Its
 * range starts no earlier than the last truncation point: older data lives in blocks. Select resolves matchers to refs through the index, looks the
 * series up, and sorts them by labels; the series set then snapshots one series at a
 * time under its lock (closed chunk pointers and a copy of the open chunk's bytes), so
 * an append waits at most for one short copy and memory stays bounded by the largest
 * series. Results live in the querier's arena until close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

struct head_set;

struct head_querier {
	struct tsdb_querier q;
	struct tsdb_head *h;
	struct tsdb_reader reader;
	struct head_set *sets;
};

struct head_set {
	struct tsdb_snap_set s; /* first */
	struct head_set *next;
	struct tsdb_head *h;
	struct arena *arena; /* the querier's */
	struct tsdb_series **series;
	size_t n, i;
};

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return TSDB_EFAIL;
}

static int cmp_series(const void *a, const void *b)
{
	return tsdb_series_compare(*(struct tsdb_series *const *)a,
				   *(struct tsdb_series *const *)b);
}

/* The live series for a sorted ref list, in an arena array. */
static int resolve(struct tsdb_head *h, const struct tsdb_plist *refs, struct arena *a,
		   struct tsdb_series ***out, size_t *n)
{
	struct tsdb_series **v = arena_alloc(a, (refs->n + 1) * sizeof(*v));

	*n = 0;
	if (!v)
		return -1;
	for (size_t i = 0; i < refs->n; i++) {
		struct tsdb_series *s = tsdb_head_series_by_ref(h, refs->v[i]);

		if (s)
			v[(*n)++] = s;
	}
	*out = v;
	return 0;
}

static bool head_overlaps(const struct tsdb_head *h, int64_t mint, int64_t maxt)
{
	int64_t hmin = tsdb_head_min_time(h), hmax = tsdb_head_max_time(h);

	return mint <= maxt && hmin <= hmax && hmin <= maxt && hmax >= mint;
}

/* Series matching ms, unsorted. */
static int matching(struct head_querier *hq, const struct tsdb_matcher *ms, size_t n,
		    struct tsdb_series ***out, size_t *count)
{
	struct tsdb_plist refs = { 0 };
	int rc = tsdb_postings_select(&hq->h->ix, ms, n, &refs);

	if (rc == 0)
		rc = resolve(hq->h, &refs, hq->q.arena, out, count);
	tsdb_plist_free(&refs);
	return rc;
}

/* --- series set ----------------------------------------------------------------------- */

static bool set_next(struct tsdb_series_set *base)
{
	struct head_set *hs = (struct head_set *)base;

	while (hs->i < hs->n && !hs->s.failed) {
		struct tsdb_series *s = hs->series[hs->i++];
		int rc = tsdb_series_snapshot(hs->h, s, hs->s.mint, hs->s.maxt, hs->s.labels_only,
					      &hs->s.snap);

		if (rc < 0)
			return tsdb_snap_set_fail(&hs->s, "out of memory");
		if (rc == 0)
			continue;
		/* In the arena: callers may keep a series' labels until the querier closes. */
		hs->s.cur.v = arena_alloc(hs->arena, (s->nlabels + 1) * sizeof(*hs->s.cur.v));
		if (!hs->s.cur.v)
			return tsdb_snap_set_fail(&hs->s, "out of memory");
		tsdb_series_labels(s, hs->s.cur.v);
		hs->s.cur.n = s->nlabels;
		return true;
	}
	return false;
}

static const struct tsdb_series_set_ops set_ops = TSDB_SNAP_SET_OPS(set_next);

/* --- querier ------------------------------------------------------------------------- */

static int hq_select(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
		     const struct tsdb_select_hints *hints, struct tsdb_series_set **out,
		     char *err, size_t errlen)
{
	struct head_querier *hq = (struct head_querier *)q;
	struct head_set *hs = tsdb_snap_set_new(q, sizeof(*hs), &set_ops, hints);

	*out = tsdb_empty_series_set();
	if (!hs)
		return oom(err, errlen);
	if (!head_overlaps(hq->h, hs->s.mint, hs->s.maxt))
		return 0;
	if (matching(hq, ms, n, &hs->series, &hs->n) < 0)
		return oom(err, errlen);
	qsort(hs->series, hs->n, sizeof(*hs->series), cmp_series);
	hs->h = hq->h;
	hs->arena = q->arena;
	hs->next = hq->sets;
	hq->sets = hs;
	*out = &hs->s.ss;
	return 0;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const char *const *)a;
	uintptr_t y = (uintptr_t)*(const char *const *)b;

	return x < y ? -1 : x > y;
}

void tsdb_strings_unique_interned(struct tsdb_strings *s)
{
	size_t w = 0;

	qsort(s->v, s->n, sizeof(*s->v), cmp_ptr);
	for (size_t i = 0; i < s->n; i++)
		if (w == 0 || s->v[w - 1] != s->v[i])
			s->v[w++] = s->v[i];
	s->n = w;
	qsort(s->v, s->n, sizeof(*s->v), tsdb_strp_cmp);
}

/* Names (name == NULL) or values of `name` over the series matching ms. */
static int collect(struct head_querier *hq, const char *name, const struct tsdb_matcher *ms,
		   size_t n, struct tsdb_strings *out, char *err, size_t errlen)
{
	struct tsdb_series **ser;
	size_t count, total = 0;

	*out = (struct tsdb_strings){ 0 };
	if (matching(hq, ms, n, &ser, &count) < 0)
		return oom(err, errlen);
	for (size_t i = 0; i < count; i++)
		total += name ? 1 : ser[i]->nlabels;
	out->v = arena_alloc(hq->q.arena, (total + 1) * sizeof(*out->v));
	if (!out->v)
		return oom(err, errlen);
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < ser[i]->nlabels; j++) {
			const char *ln = tsdb_ix_name_of(ser[i]->values[j]);

			if (!name)
				out->v[out->n++] = ln;
			else if (strcmp(ln, name) == 0)
				out->v[out->n++] = ser[i]->values[j];
		}
	}
	tsdb_strings_unique_interned(out);
	return 0;
}

static int hq_label_names(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
			  struct tsdb_strings *out, char *err, size_t errlen)
{
	struct head_querier *hq = (struct head_querier *)q;

	*out = (struct tsdb_strings){ 0 };
	if (!head_overlaps(hq->h, q->mint, q->maxt))
		return 0;
	if (n == 0)
		return tsdb_ix_names(&hq->h->ix, q->arena, out) < 0 ? oom(err, errlen) : 0;
	return collect(hq, NULL, ms, n, out, err, errlen);
}

static int hq_label_values(struct tsdb_querier *q, const char *name,
			   const struct tsdb_matcher *ms, size_t n, struct tsdb_strings *out,
			   char *err, size_t errlen)
{
	struct head_querier *hq = (struct head_querier *)q;

	*out = (struct tsdb_strings){ 0 };
	if (!head_overlaps(hq->h, q->mint, q->maxt))
		return 0;
	if (n == 0)
		return tsdb_ix_values(&hq->h->ix, name, q->arena, out) < 0 ? oom(err, errlen) : 0;
	return collect(hq, name, ms, n, out, err, errlen);
}

static void hq_close(struct tsdb_querier *q)
{
	struct head_querier *hq = (struct head_querier *)q;

	for (struct head_set *s = hq->sets; s; s = s->next)
		tsdb_snap_free(&s->s.snap);
	tsdb_reclaim_leave(&hq->h->rc, &hq->reader);
	arena_free(q->arena);
	free(hq);
}

static const struct tsdb_querier_ops head_querier_ops = {
	.select = hq_select,
	.label_names = hq_label_names,
	.label_values = hq_label_values,
	.close = hq_close,
};

int tsdb_head_querier(struct tsdb_head *h, int64_t mint, int64_t maxt,
		      struct tsdb_querier **out, char *err, size_t errlen)
{
	struct head_querier *hq = calloc(1, sizeof(*hq));

	*out = NULL;
	if (!hq)
		return oom(err, errlen);
	hq->q.arena = arena_new(0);
	if (!hq->q.arena) {
		free(hq);
		return oom(err, errlen);
	}
	hq->q.ops = &head_querier_ops;
	hq->q.maxt = maxt;
	hq->h = h;
	hq->q.mint = tsdb_reclaim_enter(&h->rc, &hq->reader, mint, &h->floor);
	*out = &hq->q;
	return 0;
}

/* --- the block writer's walk ------------------------------------------------------------ */

static int cmp_series_ref(const void *a, const void *b)
{
	uint64_t x = (*(struct tsdb_series *const *)a)->ref;
	uint64_t y = (*(struct tsdb_series *const *)b)->ref;

	return x < y ? -1 : x > y;
}

/* fn's first non-zero result, or 0; *failed on allocation failure. */
static int walk(struct tsdb_head *h, int64_t mint, int64_t maxt, bool sorted,
		int (*fn)(void *arg, const struct tsdb_head_series *s), void *arg,
		struct arena *a, bool *failed)
{
	struct tsdb_plist all = { 0 };
	struct tsdb_snap snap = { .pread = true };
	struct tsdb_series **ser;
	struct label *lv = NULL;
	size_t n, cap = 0;
	int rc = tsdb_ix_all(&h->ix, &all);

	if (rc == 0)
		rc = resolve(h, &all, a, &ser, &n);
	tsdb_plist_free(&all);
	if (rc < 0) {
		*failed = true;
		return TSDB_EFAIL;
	}
	qsort(ser, n, sizeof(*ser), sorted ? cmp_series : cmp_series_ref);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct labels ls = { lv, ser[i]->nlabels };
		struct tsdb_head_series view;
		int got = tsdb_series_snapshot(h, ser[i], mint, maxt, false, &snap);

		/* One array for every series' labels: fn copies what it keeps. */
		if (got > 0 && tsdb_grow((void **)&lv, &cap, ls.n, sizeof(*lv)) < 0)
			got = -1;
		if (got < 0) {
			*failed = true;
			rc = TSDB_EFAIL;
		}
		if (got <= 0)
			continue;
		ls.v = lv;
		tsdb_series_labels(ser[i], lv);
		view = (struct tsdb_head_series){ ser[i]->ref, &ls, snap.chunks, snap.nchunks,
						  snap.ooo, snap.nooo };
		rc = fn(arg, &view);
	}
	tsdb_snap_free(&snap);
	free(lv);
	return rc;
}

int tsdb_head_foreach(struct tsdb_head *h, int64_t mint, int64_t maxt, bool sorted,
		      int (*fn)(void *arg, const struct tsdb_head_series *s), void *arg,
		      char *err, size_t errlen)
{
	struct tsdb_reader r;
	struct arena *a = arena_new(0);
	bool failed = false;
	int rc;

	if (!a)
		return oom(err, errlen);
	mint = tsdb_reclaim_enter(&h->rc, &r, mint, &h->floor);
	rc = walk(h, mint, maxt, sorted, fn, arg, a, &failed);
	tsdb_reclaim_leave(&h->rc, &r);
	arena_free(a);
	return failed ? oom(err, errlen) : rc;
}
