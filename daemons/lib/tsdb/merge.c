/*
 * Merging what several queriers return (blocks and the head, later): series sets are
 * merged by label order, k-way by linear scan since k (the number of blocks in range)
 * is small; series with equal labels become one whose iterator merges the inputs'
 * samples by timestamp, keeping the first input's sample on equal timestamps. Label
 * names and values are merged and deduplicated. All memory comes from the arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

/* --- the empty set ----------------------------------------------------------------------- */

static bool empty_next(struct tsdb_series_set *ss)
{
	return false;
}

static const struct labels *empty_labels(const struct tsdb_series_set *ss)
{
	static const struct labels none;

	return &none;
}

static struct tsdb_iterator *empty_iterator(struct tsdb_series_set *ss)
{
	return NULL;
}

static int empty_err(const struct tsdb_series_set *ss, char *err, size_t errlen)
{
	return 0;
}

static const struct tsdb_series_set_ops empty_ops = {
	.next = empty_next,
	.labels = empty_labels,
	.iterator = empty_iterator,
	.err = empty_err,
};

static struct tsdb_series_set empty_set = { &empty_ops };

struct tsdb_series_set *tsdb_empty_series_set(void)
{
	return &empty_set;
}

/* --- merged samples --------------------------------------------------------------------- */

struct merge_iter {
	struct tsdb_iterator it;
	struct tsdb_iterator **its;
	bool *ok;
	size_t n;
	int64_t t;
	double v;
	bool started, done;
	/* Inputs rarely overlap (blocks cover disjoint ranges): while the input `cur`
	 * that gave the current sample stays strictly below `other_t`, the earliest
	 * current sample of the others (none when !has_other), next() advances it alone
	 * and takes its sample without looking at the others. */
	bool lead;
	size_t cur;
	bool has_other;
	int64_t other_t;
};

static bool mi_pick(struct merge_iter *m)
{
	size_t best = m->n;
	int64_t bt = 0, second = 0;
	bool has_second = false;

	for (size_t k = 0; k < m->n; k++) {
		int64_t t;
		double v;

		if (!m->ok[k])
			continue;
		tsdb_iterator_at(m->its[k], &t, &v);
		if (best == m->n || t < bt) {
			if (best != m->n) {
				second = bt;
				has_second = true;
			}
			best = k;
			bt = t;
			m->v = v;
		} else if (!has_second || t < second) {
			second = t;
			has_second = true;
		}
	}
	if (best == m->n) {
		m->done = true;
		return false;
	}
	m->t = bt;
	m->cur = best;
	m->has_other = has_second;
	m->other_t = second;
	m->lead = !has_second || second > bt;
	return true;
}

static bool mi_next(struct tsdb_iterator *base)
{
	struct merge_iter *m = (struct merge_iter *)base;

	if (m->done)
		return false;
	if (m->started && m->lead) {
		struct tsdb_iterator *it = m->its[m->cur];
		int64_t t;
		double v;

		m->ok[m->cur] = tsdb_iterator_next(it);
		if (!m->ok[m->cur])
			return mi_pick(m);
		tsdb_iterator_at(it, &t, &v);
		if (m->has_other && t >= m->other_t)
			return mi_pick(m);
		m->t = t;
		m->v = v;
		return true;
	}
	for (size_t k = 0; k < m->n; k++) {
		int64_t t;
		double v;

		if (!m->started) {
			m->ok[k] = tsdb_iterator_next(m->its[k]);
			continue;
		}
		if (!m->ok[k])
			continue;
		tsdb_iterator_at(m->its[k], &t, &v);
		if (t == m->t)
			m->ok[k] = tsdb_iterator_next(m->its[k]);
	}
	m->started = true;
	return mi_pick(m);
}

static bool mi_seek(struct tsdb_iterator *base, int64_t t)
{
	struct merge_iter *m = (struct merge_iter *)base;

	if (m->done)
		return false;
	if (m->started && m->t >= t)
		return true;
	for (size_t k = 0; k < m->n; k++)
		if (!m->started || m->ok[k])
			m->ok[k] = tsdb_iterator_seek(m->its[k], t);
	m->started = true;
	return mi_pick(m);
}

/* While one input leads, its own fill runs up to the others' earliest sample; then
 * the inputs are picked again without advancing any (the leader stopped on a sample
 * it did not copy, or ended). */
static size_t mi_fill(struct tsdb_iterator *base, int64_t tlimit, struct tsdb_sample *out,
		      size_t cap, enum tsdb_fill_state *state)
{
	struct merge_iter *m = (struct merge_iter *)base;
	size_t n = 0;

	while (n < cap) {
		if (m->started && m->lead && !m->done) {
			int64_t lim = m->has_other && m->other_t < tlimit ? m->other_t : tlimit;
			enum tsdb_fill_state st;
			size_t k = tsdb_iterator_fill(m->its[m->cur], lim, out + n, cap - n, &st);

			if (k) {
				m->t = out[n + k - 1].t;
				m->v = out[n + k - 1].v;
				n += k;
			}
			if (st == TSDB_FILL_FULL) {
				*state = TSDB_FILL_FULL;
				return n;
			}
			if (st == TSDB_FILL_END)
				m->ok[m->cur] = false;
			if (!mi_pick(m))
				break;
		} else if (!mi_next(base)) {
			break;
		}
		if (m->t >= tlimit) {
			*state = TSDB_FILL_LIMIT;
			return n;
		}
		out[n++] = (struct tsdb_sample){ m->t, m->v };
	}
	*state = n == cap && !m->done ? TSDB_FILL_FULL : TSDB_FILL_END;
	return n;
}

static void mi_at(const struct tsdb_iterator *base, int64_t *t, double *v)
{
	const struct merge_iter *m = (const struct merge_iter *)base;

	*t = m->t;
	*v = m->v;
}

static int mi_err(const struct tsdb_iterator *base, char *err, size_t errlen)
{
	const struct merge_iter *m = (const struct merge_iter *)base;

	for (size_t k = 0; k < m->n; k++) {
		int rc = tsdb_iterator_err(m->its[k], err, errlen);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct tsdb_iterator_ops merge_iter_ops = {
	.next = mi_next,
	.seek = mi_seek,
	.at = mi_at,
	.err = mi_err,
	.fill = mi_fill,
};

struct tsdb_iterator *tsdb_merge_iterators(struct arena *a, struct tsdb_iterator **its, size_t n)
{
	struct merge_iter *m = arena_calloc(a, 1, sizeof(*m));

	if (!m || !(m->its = arena_alloc(a, (n + 1) * sizeof(*m->its))) ||
	    !(m->ok = arena_calloc(a, n + 1, sizeof(*m->ok))))
		return NULL;
	memcpy(m->its, its, n * sizeof(*its));
	m->n = n;
	m->it.ops = &merge_iter_ops;
	return &m->it;
}

/* --- merged series sets ------------------------------------------------------------------ */

struct merge_set {
	struct tsdb_series_set ss;
	struct tsdb_series_set **sets;
	size_t n;
	bool *has;  /* sets[k] is on a series */
	bool *cur;  /* sets[k]'s series is the current one */
	bool started;
	const struct labels *ls;
	struct merge_iter mi;
};

static bool ms_next(struct tsdb_series_set *base)
{
	struct merge_set *m = (struct merge_set *)base;

	m->ls = NULL;
	for (size_t k = 0; k < m->n; k++) {
		if (!m->started || m->cur[k])
			m->has[k] = tsdb_series_set_next(m->sets[k]);
		if (m->has[k]) {
			const struct labels *ls = tsdb_series_set_labels(m->sets[k]);

			if (!m->ls || labels_compare(ls, m->ls) < 0)
				m->ls = ls;
		}
	}
	m->started = true;
	for (size_t k = 0; k < m->n; k++)
		m->cur[k] = m->has[k] && labels_equal(tsdb_series_set_labels(m->sets[k]), m->ls);
	return m->ls != NULL;
}

static const struct labels *ms_labels(const struct tsdb_series_set *base)
{
	return ((const struct merge_set *)base)->ls;
}

static struct tsdb_iterator *ms_iterator(struct tsdb_series_set *base)
{
	struct merge_set *m = (struct merge_set *)base;

	m->mi.n = 0;
	for (size_t k = 0; k < m->n; k++)
		if (m->cur[k])
			m->mi.its[m->mi.n++] = tsdb_series_set_iterator(m->sets[k]);
	if (m->mi.n == 1)
		return m->mi.its[0];
	m->mi.started = m->mi.done = false;
	return &m->mi.it;
}

static int ms_err(const struct tsdb_series_set *base, char *err, size_t errlen)
{
	const struct merge_set *m = (const struct merge_set *)base;

	for (size_t k = 0; k < m->n; k++) {
		int rc = tsdb_series_set_err(m->sets[k], err, errlen);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct tsdb_series_set_ops merge_set_ops = {
	.next = ms_next,
	.labels = ms_labels,
	.iterator = ms_iterator,
	.err = ms_err,
};

struct tsdb_series_set *tsdb_merge_series_sets(struct arena *a, struct tsdb_series_set **sets,
					       size_t n)
{
	struct merge_set *m;

	if (n == 0)
		return tsdb_empty_series_set();
	if (n == 1)
		return sets[0];
	m = arena_calloc(a, 1, sizeof(*m));
	if (!m)
		return NULL;
	m->ss.ops = &merge_set_ops;
	m->n = n;
	m->sets = arena_alloc(a, n * sizeof(*m->sets));
	m->has = arena_calloc(a, n, sizeof(*m->has));
	m->cur = arena_calloc(a, n, sizeof(*m->cur));
	m->mi.its = arena_alloc(a, n * sizeof(*m->mi.its));
	m->mi.ok = arena_calloc(a, n, sizeof(*m->mi.ok));
	if (!m->sets || !m->has || !m->cur || !m->mi.its || !m->mi.ok)
		return NULL;
	memcpy(m->sets, sets, n * sizeof(*sets));
	m->mi.it.ops = &merge_iter_ops;
	return &m->ss;
}

/* --- merged querier ----------------------------------------------------------------------- */

struct merge_querier {
	struct tsdb_querier q;
	struct tsdb_querier **qs;
	size_t n;
};

static int mq_select(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
		     const struct tsdb_select_hints *hints, struct tsdb_series_set **out,
		     char *err, size_t errlen)
{
	struct merge_querier *mq = (struct merge_querier *)q;
	struct tsdb_series_set **sets = arena_alloc(q->arena, (mq->n + 1) * sizeof(*sets));

	*out = tsdb_empty_series_set();
	if (!sets)
		goto oom;
	for (size_t k = 0; k < mq->n; k++) {
		int rc = tsdb_querier_select(mq->qs[k], ms, n, hints, &sets[k], err, errlen);

		if (rc < 0)
			return rc;
	}
	*out = tsdb_merge_series_sets(q->arena, sets, mq->n);
	if (*out)
		return 0;
	*out = tsdb_empty_series_set();
oom:
	snprintf(err, errlen, "out of memory");
	return TSDB_EFAIL;
}

/* Gather each child's strings (name NULL: label names), then sort and deduplicate. */
static int mq_strings(struct merge_querier *mq, const char *name, const struct tsdb_matcher *ms,
		      size_t n, struct tsdb_strings *out, char *err, size_t errlen)
{
	struct tsdb_strings *parts = arena_calloc(mq->q.arena, mq->n + 1, sizeof(*parts));
	size_t total = 0, w = 0;

	*out = (struct tsdb_strings){ 0 };
	if (!parts)
		goto oom;
	for (size_t k = 0; k < mq->n; k++) {
		int rc = name ? tsdb_querier_label_values(mq->qs[k], name, ms, n, &parts[k], err, errlen)
			      : tsdb_querier_label_names(mq->qs[k], ms, n, &parts[k], err, errlen);

		if (rc < 0)
			return rc;
		total += parts[k].n;
	}
	out->v = arena_alloc(mq->q.arena, (total + 1) * sizeof(*out->v));
	if (!out->v)
		goto oom;
	for (size_t k = 0; k < mq->n; k++) {
		if (parts[k].n)
			memcpy(out->v + out->n, parts[k].v, parts[k].n * sizeof(*out->v));
		out->n += parts[k].n;
	}
	qsort(out->v, out->n, sizeof(*out->v), tsdb_strp_cmp);
	for (size_t i = 0; i < out->n; i++)
		if (w == 0 || strcmp(out->v[w - 1], out->v[i]) != 0)
			out->v[w++] = out->v[i];
	out->n = w;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return TSDB_EFAIL;
}

static int mq_label_names(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
			  struct tsdb_strings *out, char *err, size_t errlen)
{
	return mq_strings((struct merge_querier *)q, NULL, ms, n, out, err, errlen);
}

static int mq_label_values(struct tsdb_querier *q, const char *name,
			   const struct tsdb_matcher *ms, size_t n, struct tsdb_strings *out,
			   char *err, size_t errlen)
{
	return mq_strings((struct merge_querier *)q, name, ms, n, out, err, errlen);
}

static void close_all(struct tsdb_querier **qs, size_t n)
{
	for (size_t k = 0; k < n; k++)
		tsdb_querier_close(qs[k]);
}

static void mq_close(struct tsdb_querier *q)
{
	struct merge_querier *mq = (struct merge_querier *)q;

	close_all(mq->qs, mq->n);
	free(mq->qs);
	arena_free(q->arena);
	free(mq);
}

static const struct tsdb_querier_ops merge_querier_ops = {
	.select = mq_select,
	.label_names = mq_label_names,
	.label_values = mq_label_values,
	.close = mq_close,
};

int tsdb_merge_querier(struct tsdb_querier **qs, size_t n, int64_t mint, int64_t maxt,
		       struct tsdb_querier **out, char *err, size_t errlen)
{
	struct merge_querier *mq = calloc(1, sizeof(*mq));

	*out = NULL;
	if (!mq)
		goto oom;
	mq->qs = malloc((n + 1) * sizeof(*mq->qs));
	mq->q.arena = arena_new(0);
	if (!mq->qs || !mq->q.arena) {
		free(mq->qs);
		arena_free(mq->q.arena);
		free(mq);
		goto oom;
	}
	if (n)
		memcpy(mq->qs, qs, n * sizeof(*qs));
	mq->n = n;
	mq->q.ops = &merge_querier_ops;
	mq->q.mint = mint;
	mq->q.maxt = maxt;
	*out = &mq->q;
	return 0;
oom:
	close_all(qs, n);
	snprintf(err, errlen, "out of memory");
	return TSDB_EFAIL;
}
