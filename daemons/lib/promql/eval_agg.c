/*
 * Aggregation operators, as upstream's rangeEvalAgg / aggregation /
 * aggregationK / aggregationCountValues: input series are mapped to groups once
 * (by the hash of the by(...) labels, or of all labels but the without(...) ones
 * and __name__), then each step folds the values present at that step.
 *
 * Numerics are upstream's: Kahan-Neumaier summation for sum and avg (avg switches
 * to an incremental mean once the running sum would overflow), Welford updates
 * for stddev/stdvar, and Go's container/heap for topk/bottomk/limitk so that ties
 * come out in the same order.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

#define MAX_INT64_F 9223372036854774784.0
#define MIN_INT64_F (-9223372036854775808.0)

void pq_kahan_inc(double inc, double *sum, double *c)
{
	double t = *sum + inc;

	if (isinf(t))
		*c = 0;
	else if (fabs(*sum) >= fabs(inc))
		*c += (*sum - t) + inc;
	else
		*c += (inc - t) + *sum;
	*sum = t;
}

/* --- parameters (fParams) -------------------------------------------------------------- */

struct fparams {
	struct pq_matrix m;
	size_t next;
	bool constant, present, any_nan;
	double min, max;
};

static int fparams_eval(struct pq_ev *ev, struct pq_node *p, struct fparams *fp)
{
	memset(fp, 0, sizeof(*fp));
	if (!p)
		return 0;
	if (pq_eval_matrix(ev, p, &fp->m))
		return -1;
	if (!fp->m.n)
		return 0;
	fp->present = true;
	fp->constant = p->kind == PQ_NUM;
	fp->min = INFINITY;
	fp->max = -INFINITY;
	for (uint32_t i = 0; i < fp->m.v[0].n; i++) {
		double f = fp->m.v[0].pts[i].f;

		fp->min = pq_go_min(fp->min, f);
		fp->max = pq_go_max(fp->max, f);
		fp->any_nan |= isnan(f);
	}
	return 0;
}

static double fparams_next(struct fparams *fp)
{
	if (!fp->present)
		return 0;
	if (fp->constant)
		return fp->m.v[0].pts[0].f;
	if (fp->next < fp->m.v[0].n)
		return fp->m.v[0].pts[fp->next++].f;
	return 0;
}

/* --- Go's container/heap over samples --------------------------------------------------- */

struct heap {
	struct pq_sample *v;
	size_t n, cap;
	bool reverse;		/* vectorByReverseValueHeap */
};

static bool heap_less(const struct heap *h, size_t i, size_t j)
{
	double a = h->v[i].f, b = h->v[j].f;

	if (isnan(a))
		return true;
	return h->reverse ? a > b : a < b;
}

static void heap_swap(struct heap *h, size_t i, size_t j)
{
	struct pq_sample t = h->v[i];

	h->v[i] = h->v[j];
	h->v[j] = t;
}

static void heap_up(struct heap *h, size_t j)
{
	while (j > 0) {
		size_t i = (j - 1) / 2;

		if (i == j || !heap_less(h, j, i))
			break;
		heap_swap(h, i, j);
		j = i;
	}
}

static bool heap_down(struct heap *h, size_t i0, size_t n)
{
	size_t i = i0;

	for (;;) {
		size_t j1 = 2 * i + 1, j;

		if (j1 >= n)
			break;
		j = j1;
		if (j1 + 1 < n && heap_less(h, j1 + 1, j1))
			j = j1 + 1;
		if (!heap_less(h, j, i))
			break;
		heap_swap(h, i, j);
		i = j;
	}
	return i > i0;
}

static int heap_grow(struct pq_query *q, struct heap *h)
{
	return pq_reserve(q, &h->v, &h->cap, h->n + 1, sizeof(*h->v));
}

static int heap_push(struct pq_query *q, struct heap *h, const struct pq_sample *s)
{
	if (heap_grow(q, h))
		return -1;
	h->v[h->n++] = *s;
	heap_up(h, h->n - 1);
	return 0;
}

/* A plain append (quantile() sorts the whole set later). */
static int heap_append(struct pq_query *q, struct heap *h, double f)
{
	if (heap_grow(q, h))
		return -1;
	h->v[h->n++] = (struct pq_sample){ .f = f };
	return 0;
}

static void heap_fix(struct heap *h, size_t i)
{
	if (!heap_down(h, i, h->n))
		heap_up(h, i);
}

static bool rev_topk_less(const struct pq_sample *a, const struct pq_sample *b, void *arg)
{
	(void)arg;
	/* sort.Reverse(vectorByValueHeap): b < a, NaN last */
	if (isnan(b->f))
		return true;
	return b->f < a->f;
}

static bool rev_bottomk_less(const struct pq_sample *a, const struct pq_sample *b, void *arg)
{
	(void)arg;
	if (isnan(b->f))
		return true;
	return b->f > a->f;
}

/* --- groups --------------------------------------------------------------------------- */

struct group {
	double value, mean, kahan, count;
	struct heap heap;
	bool seen, incremental_mean, drop_name, complete;
};

struct agg {
	struct pq_ev *ev;
	struct pq_node *n;
	struct pq_matrix in;
	size_t *cursor;
	uint32_t *group_of;
	struct group *groups;
	size_t ngroups;
	struct pq_matrix out;		/* non-K: one series per group */
	struct pq_hmap out_index;	/* K: labels hash -> output series */
	double *values;			/* quantile scratch */
	size_t values_cap;
};

static bool next_value(struct agg *a, size_t si, int64_t ts, double *f)
{
	struct pq_series *s = &a->in.v[si];
	size_t *c = &a->cursor[si];

	if (*c < s->n && s->pts[*c].t == ts) {
		*f = s->pts[*c].f;
		(*c)++;
		return true;
	}
	return false;
}

static const struct pq_lset *grouping_labels(struct pq_query *q, const struct pq_node *n,
					     const struct pq_lset *ls)
{
	if (!n->without && !n->ngrouping)
		return q->empty;
	if (pq_lb_reset(q, &q->lb, &ls->ls))
		return NULL;
	if (n->without) {
		for (size_t i = 0; i < n->ngrouping; i++)
			pq_lb_del(&q->lb, n->grouping[i]);
		pq_lb_del(&q->lb, LABELS_METRIC_NAME);
	} else {
		pq_lb_keep(&q->lb, n->grouping, n->ngrouping);
	}
	return pq_lb_finish(q, &q->lb);
}

static uint64_t grouping_key(const struct pq_node *n, const struct labels *ls,
			     const char *const *grouping, size_t ng)
{
	if (!n->without && !ng)
		return 0;
	return pq_hash_subset(ls, grouping, ng, n->without);
}

static bool is_k_op(enum promql_aggop op)
{
	return op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK || op == PROMQL_AGG_LIMITK ||
	       op == PROMQL_AGG_LIMIT_RATIO;
}

static int map_groups(struct agg *a)
{
	struct pq_query *q = a->ev->q;
	struct pq_hmap idx = { 0 };
	int rc = -1;

	a->group_of = malloc((a->in.n ? a->in.n : 1) * sizeof(*a->group_of));
	a->cursor = calloc(a->in.n ? a->in.n : 1, sizeof(*a->cursor));
	if (!a->group_of || !a->cursor) {
		pq_oom(q);
		goto done;
	}
	for (size_t i = 0; i < a->in.n; i++) {
		uint64_t key = grouping_key(a->n, &a->in.v[i].ls->ls, a->n->grouping,
					    a->n->ngrouping);
		bool found;
		uint64_t *slot = pq_hmap_put(&idx, key, &found);

		if (!slot) {
			pq_oom(q);
			goto done;
		}
		if (!found) {
			*slot = a->ngroups++;
			if (!is_k_op(a->n->aggop)) {
				const struct pq_lset *g = grouping_labels(q, a->n, a->in.v[i].ls);

				if (!g || !pq_matrix_add(q, &a->out, g, false))
					goto done;
			}
		}
		a->group_of[i] = (uint32_t)*slot;
	}
	a->groups = calloc(a->ngroups ? a->ngroups : 1, sizeof(*a->groups));
	if (!a->groups) {
		pq_oom(q);
		goto done;
	}
	rc = 0;
done:
	pq_hmap_free(&idx);
	return rc;
}

/* Fold value f of an input series into its group's state for one step. */
static int fold(struct agg *a, struct group *g, bool drop_name, double f)
{
	enum promql_aggop op = a->n->aggop;
	struct pq_query *q = a->ev->q;

	if (!g->seen) {
		g->seen = true;
		g->value = f;
		g->mean = f;
		g->kahan = 0;
		g->count = 1;
		g->incremental_mean = false;
		g->drop_name = drop_name;
		g->heap.n = 0;
		if (op == PROMQL_AGG_STDDEV || op == PROMQL_AGG_STDVAR)
			g->value = isnan(f) || isinf(f) ? NAN : 0;
		else if (op == PROMQL_AGG_GROUP)
			g->value = 1;
		else if (op == PROMQL_AGG_QUANTILE && heap_append(q, &g->heap, f))
			return -1;
		return 0;
	}
	if (drop_name)
		g->drop_name = true;
	switch (op) {
	case PROMQL_AGG_SUM:
		pq_kahan_inc(f, &g->value, &g->kahan);
		break;
	case PROMQL_AGG_AVG:
		g->count++;
		if (!g->incremental_mean) {
			double sum = g->value, c = g->kahan;

			pq_kahan_inc(f, &sum, &c);
			if (!isinf(sum)) {
				g->value = sum;
				g->kahan = c;
				break;
			}
			g->incremental_mean = true;
			g->mean = g->value / (g->count - 1);
			g->kahan /= g->count - 1;
		}
		{
			double k = (g->count - 1) / g->count, m = k * g->mean,
			       c = k * g->kahan;

			pq_kahan_inc(f / g->count, &m, &c);
			g->mean = m;
			g->kahan = c;
		}
		break;
	case PROMQL_AGG_MAX:
		if (g->value < f || isnan(g->value))
			g->value = f;
		break;
	case PROMQL_AGG_MIN:
		if (g->value > f || isnan(g->value))
			g->value = f;
		break;
	case PROMQL_AGG_COUNT:
		g->count++;
		break;
	case PROMQL_AGG_STDDEV:
	case PROMQL_AGG_STDVAR: {
		double delta;

		g->count++;
		delta = f - g->mean;
		g->mean += delta / g->count;
		g->value += delta * (f - g->mean);
		break;
	}
	case PROMQL_AGG_QUANTILE:
		if (heap_append(q, &g->heap, f))
			return -1;
		break;
	default:
		break;
	}
	return 0;
}

/* The group's result for the step at ts, appended to output series gi. */
static int emit(struct agg *a, struct group *g, size_t gi, int64_t ts, double param)
{
	enum promql_aggop op = a->n->aggop;
	struct pq_query *q = a->ev->q;
	double v = g->value;

	switch (op) {
	case PROMQL_AGG_AVG:
		v = g->incremental_mean ? g->mean + g->kahan :
		    g->value / g->count + g->kahan / g->count;
		break;
	case PROMQL_AGG_COUNT:
		v = g->count;
		break;
	case PROMQL_AGG_STDVAR:
		v = g->value / g->count;
		break;
	case PROMQL_AGG_STDDEV:
		v = sqrt(g->value / g->count);
		break;
	case PROMQL_AGG_QUANTILE: {
		if (g->heap.n > a->values_cap) {
			double *nv = realloc(a->values, g->heap.n * sizeof(*nv));

			if (!nv)
				return pq_oom(q);
			a->values = nv;
			a->values_cap = g->heap.n;
		}
		for (size_t k = 0; k < g->heap.n; k++)
			a->values[k] = g->heap.v[k].f;
		v = pq_quantile(param, a->values, g->heap.n);
		break;
	}
	case PROMQL_AGG_SUM:
		v = g->value + g->kahan;
		break;
	default:
		break;
	}
	if (pq_series_push(q, &a->out.v[gi], ts, v))
		return -1;
	a->out.v[gi].drop_name = g->drop_name;
	return 0;
}

/* One step of sum, avg, count, min, max, group, stddev, stdvar, quantile. */
static int aggregate_step(struct agg *a, int64_t ts, double param)
{
	for (size_t i = 0; i < a->ngroups; i++)
		a->groups[i].seen = false;
	for (size_t si = 0; si < a->in.n; si++) {
		double f;

		if (next_value(a, si, ts, &f) &&
		    fold(a, &a->groups[a->group_of[si]], a->in.v[si].drop_name, f))
			return -1;
	}
	for (size_t gi = 0; gi < a->ngroups; gi++)
		if (a->groups[gi].seen && emit(a, &a->groups[gi], gi, ts, param))
			return -1;
	return 0;
}

/*
 * The same over a block of steps at a time, series by series: aggregate_step reads
 * every input series once per step, one point from each (a cache miss per series
 * and step when there are many series); here each series' points for the block are
 * read in one sequential run into per-step group states. Every group state still
 * receives its values in input-series order, so the arithmetic (and its rounding)
 * is the same. The states of one block stay within AGG_BLOCK_BYTES. Not for
 * quantile, whose states own heaps.
 */
#define AGG_BLOCK_BYTES (1u << 20)

static int aggregate_blocked(struct agg *a)
{
	struct pq_ev *ev = a->ev;
	size_t nsteps = (size_t)((ev->end - ev->start) / ev->interval) + 1;
	size_t per = AGG_BLOCK_BYTES / (a->ngroups * sizeof(struct group) + 1);
	size_t bs = per < 1 ? 1 : per > nsteps ? nsteps : per;
	struct group *st = calloc(a->ngroups * bs + 1, sizeof(*st));
	int rc = -1;

	if (!st)
		return pq_oom(ev->q);
	for (size_t k0 = 0; k0 < nsteps; k0 += bs) {
		size_t nb = nsteps - k0 < bs ? nsteps - k0 : bs;
		int64_t t0 = ev->start + (int64_t)k0 * ev->interval;
		int64_t t1 = t0 + (int64_t)(nb - 1) * ev->interval;

		if (pq_check(ev->q))
			goto done;
		for (size_t i = 0; i < a->ngroups * nb; i++)
			st[i].seen = false;
		for (size_t si = 0; si < a->in.n; si++) {
			const struct pq_series *s = &a->in.v[si];
			struct group *row = &st[(size_t)a->group_of[si] * nb];
			size_t *c = &a->cursor[si];

			for (; *c < s->n && s->pts[*c].t <= t1; (*c)++) {
				int64_t d = s->pts[*c].t - t0;

				/* points of an instant vector sit on steps */
				if (d >= 0 && d % ev->interval == 0 &&
				    fold(a, &row[d / ev->interval], s->drop_name, s->pts[*c].f))
					goto done;
			}
		}
		for (size_t k = 0; k < nb; k++)
			for (size_t gi = 0; gi < a->ngroups; gi++)
				if (st[gi * nb + k].seen &&
				    emit(a, &st[gi * nb + k], gi, t0 + (int64_t)k * ev->interval, 0))
					goto done;
	}
	rc = 0;
done:
	free(st);
	return rc;
}

/*
 * Aggregating a range function of a selector (sum by (mode) (rate(x[5m]))) as its
 * series come: each one is folded into per-group, per-step states and dropped, so
 * the function's output matrix (series x steps points) never exists. Groups are made
 * in the order the series come, as map_groups makes them from the matrix, and every
 * state receives its values in series order, so the result is the same. Used when the
 * states of all steps (groups x steps, the groups counted beforehand from the
 * selector's labels) fit AGG_STREAM_BYTES and take less than half the memory the
 * matrix would.
 */
#define AGG_STREAM_BYTES (32u << 20)

struct stream {
	struct agg *a;
	struct pq_hmap idx;	/* group key -> group */
	struct group *st;	/* group-major: ngroups x nsteps */
	size_t nsteps, cap;
};

static bool stream_op(enum promql_aggop op)
{
	switch (op) {
	case PROMQL_AGG_SUM:
	case PROMQL_AGG_AVG:
	case PROMQL_AGG_COUNT:
	case PROMQL_AGG_MIN:
	case PROMQL_AGG_MAX:
	case PROMQL_AGG_GROUP:
	case PROMQL_AGG_STDDEV:
	case PROMQL_AGG_STDVAR:
		return true;
	default:
		return false;
	}
}

/* Groups and series of the selector's series in range (labels only); -1 on error. */
static int count_groups(struct agg *a, struct pq_node *vs, size_t *ngroups, size_t *nseries)
{
	struct pq_query *q = a->ev->q;
	struct tsdb_select_hints hints = { .start = vs->hint_start, .end = vs->hint_end,
					   .labels_only = true };
	struct tsdb_series_set *ss;
	struct pq_hmap keys = { 0 };
	char err[512];
	int rc = -1;

	*ngroups = *nseries = 0;
	if (tsdb_querier_select(q->querier, vs->ms, vs->nms, &hints, &ss, err, sizeof(err)))
		return pq_fail(q, PROMQL_ERR_INTERNAL, "expanding series: %s", err);
	while (tsdb_series_set_next(ss)) {
		bool found;

		if (!pq_hmap_put(&keys, grouping_key(a->n, tsdb_series_set_labels(ss),
						     a->n->grouping, a->n->ngrouping), &found)) {
			pq_oom(q);
			goto done;
		}
		*ngroups += !found;
		(*nseries)++;
	}
	if (tsdb_series_set_err(ss, err, sizeof(err))) {
		pq_fail(q, PROMQL_ERR_INTERNAL, "expanding series: %s", err);
		goto done;
	}
	rc = 0;
done:
	pq_hmap_free(&keys);
	return rc;
}

static int stream_put(void *arg, struct pq_series *s)
{
	struct stream *sm = arg;
	struct agg *a = sm->a;
	struct pq_ev *ev = a->ev;
	bool found;
	uint64_t *slot = pq_hmap_put(&sm->idx, grouping_key(a->n, &s->ls->ls, a->n->grouping,
							     a->n->ngrouping), &found);
	struct group *row;
	int rc = -1;

	if (!slot) {
		pq_oom(ev->q);
		goto done;
	}
	if (!found) {
		const struct pq_lset *g = grouping_labels(ev->q, a->n, s->ls);

		*slot = a->ngroups;
		if (!g || !pq_matrix_add(ev->q, &a->out, g, false))
			goto done;
		if (pq_reserve(ev->q, &sm->st, &sm->cap, (a->ngroups + 1) * sm->nsteps,
			       sizeof(*sm->st)))
			goto done;
		memset(&sm->st[a->ngroups * sm->nsteps], 0, sm->nsteps * sizeof(*sm->st));
		a->ngroups++;
	}
	row = &sm->st[*slot * sm->nsteps];
	for (uint32_t i = 0; i < s->n; i++) {
		int64_t d = s->pts[i].t - ev->start;

		if (d >= 0 && d % ev->interval == 0 &&
		    fold(a, &row[d / ev->interval], s->drop_name, s->pts[i].f))
			goto done;
	}
	rc = 0;
done:
	free(s->pts);
	s->pts = NULL;
	return rc;
}

/* 1: aggregated (a->out holds the result), 0: not worth it here, -1: error. */
static int aggregate_stream(struct agg *a)
{
	struct pq_ev *ev = a->ev;
	struct pq_node *call = a->n->args[0], *vs;
	struct stream sm = { .a = a };
	struct pq_series_sink sink = { stream_put, &sm };
	size_t mi, ngroups, nseries, bytes;
	int rc = -1;

	if (!stream_op(a->n->aggop) || ev->interval <= 0 ||
	    (!a->n->without && pq_sorted_contains(a->n->grouping, a->n->ngrouping,
						  LABELS_METRIC_NAME)))
		return 0;
	vs = pq_range_call_selector(call, &mi);
	if (!vs)
		return 0;
	sm.nsteps = (size_t)((ev->end - ev->start) / ev->interval) + 1;
	if (count_groups(a, vs, &ngroups, &nseries))
		return -1;
	bytes = ngroups * sm.nsteps * sizeof(struct group);
	if (bytes > AGG_STREAM_BYTES || bytes > nseries * sm.nsteps * sizeof(struct pq_point) / 2)
		return 0;
	if (pq_eval_range_call_each(ev, call, mi, &sink))
		goto done;
	for (size_t k = 0; k < sm.nsteps; k++)
		for (size_t gi = 0; gi < a->ngroups; gi++)
			if (sm.st[gi * sm.nsteps + k].seen &&
			    emit(a, &sm.st[gi * sm.nsteps + k], gi,
				 ev->start + (int64_t)k * ev->interval, 0))
				goto done;
	rc = 1;
done:
	free(sm.st);
	pq_hmap_free(&sm.idx);
	return rc;
}

/* --- topk, bottomk, limitk, limit_ratio ------------------------------------------------- */

static bool ratio_sample(double r, const struct pq_lset *ls)
{
	double off = (double)ls->hash / 18446744073709551616.0;

	return (r >= 0 && off < r) || (r < 0 && off >= 1.0 + r);
}

static int k_add(struct agg *a, const struct pq_sample *s, int64_t ts)
{
	struct pq_query *q = a->ev->q;
	bool found;
	uint64_t *slot;

	if (a->ev->start == a->ev->end) {
		struct pq_series *o = pq_matrix_add(q, &a->out, s->ls, s->drop_name);

		return o ? pq_series_push(q, o, ts, s->f) : -1;
	}
	slot = pq_hmap_put(&a->out_index, s->ls->hash, &found);
	if (!slot)
		return pq_oom(q);
	if (!found) {
		*slot = a->out.n;
		if (!pq_matrix_add(q, &a->out, s->ls, s->drop_name))
			return -1;
	}
	return pq_series_push(q, &a->out.v[*slot], ts, s->f);
}

static void consume_rest(struct agg *a, size_t from, int64_t ts)
{
	double f;

	for (size_t i = from; i < a->in.n; i++)
		next_value(a, i, ts, &f);
}

static int k_step(struct agg *a, int64_t ts, double param)
{
	enum promql_aggop op = a->n->aggop;
	struct pq_query *q = a->ev->q;
	size_t remaining = a->ngroups;
	int64_t k = 0;
	double r = 0;

	for (size_t i = 0; i < a->ngroups; i++) {
		a->groups[i].seen = false;
		a->groups[i].complete = false;
	}
	for (size_t si = 0; si < a->in.n; si++) {
		struct pq_sample s;
		struct group *g;
		double f;

		if (!next_value(a, si, ts, &f))
			continue;
		s = (struct pq_sample){ .ls = a->in.v[si].ls, .f = f, .t = ts,
					.drop_name = a->in.v[si].drop_name };
		if (op == PROMQL_AGG_LIMIT_RATIO) {
			if (param == 0) {
				consume_rest(a, si + 1, ts);
				return 0;
			}
			r = param < -1.0 ? -1.0 : param > 1.0 ? 1.0 : param;
		} else {
			k = (int64_t)param;
			if (k > (int64_t)a->in.n)
				k = (int64_t)a->in.n;
			if (k < 1) {
				consume_rest(a, si + 1, ts);
				return 0;
			}
		}
		g = &a->groups[a->group_of[si]];
		if (!g->seen) {
			g->seen = true;
			g->heap.n = 0;
			g->heap.reverse = op == PROMQL_AGG_BOTTOMK;
			if (op == PROMQL_AGG_LIMIT_RATIO && !ratio_sample(r, s.ls))
				continue;
			/* as upstream, a group is only found complete on a later sample */
			if (heap_push(q, &g->heap, &s))
				return -1;
			continue;
		}
		switch (op) {
		case PROMQL_AGG_TOPK:
			if ((int64_t)g->heap.n < k) {
				if (heap_push(q, &g->heap, &s))
					return -1;
			} else if (g->heap.v[0].f < s.f || (isnan(g->heap.v[0].f) && !isnan(s.f))) {
				g->heap.v[0] = s;
				if (k > 1)
					heap_fix(&g->heap, 0);
			}
			break;
		case PROMQL_AGG_BOTTOMK:
			if ((int64_t)g->heap.n < k) {
				if (heap_push(q, &g->heap, &s))
					return -1;
			} else if (g->heap.v[0].f > s.f || (isnan(g->heap.v[0].f) && !isnan(s.f))) {
				g->heap.v[0] = s;
				if (k > 1)
					heap_fix(&g->heap, 0);
			}
			break;
		case PROMQL_AGG_LIMITK:
			if ((int64_t)g->heap.n < k && heap_push(q, &g->heap, &s))
				return -1;
			if (!g->complete && (int64_t)g->heap.n == k) {
				g->complete = true;
				if (--remaining == 0) {
					consume_rest(a, si + 1, ts);
					goto emit;
				}
			}
			break;
		default:
			if (ratio_sample(r, s.ls) && heap_push(q, &g->heap, &s))
				return -1;
			break;
		}
	}
emit:
	for (size_t gi = 0; gi < a->ngroups; gi++) {
		struct group *g = &a->groups[gi];

		if (!g->seen)
			continue;
		if (op == PROMQL_AGG_TOPK && g->heap.n > 1 &&
		    pq_sort_samples(g->heap.v, g->heap.n, rev_topk_less, NULL))
			return pq_oom(q);
		if (op == PROMQL_AGG_BOTTOMK && g->heap.n > 1 &&
		    pq_sort_samples(g->heap.v, g->heap.n, rev_bottomk_less, NULL))
			return pq_oom(q);
		for (size_t i = 0; i < g->heap.n; i++)
			if (k_add(a, &g->heap.v[i], ts))
				return -1;
	}
	return 0;
}

/* --- count_values ----------------------------------------------------------------------- */

struct cv_ctx {
	struct pq_node *n;
	const char *label;
	const char **grouping;
	size_t ngrouping;
	struct pq_hmap values;	/* value bits -> formatted string */
	struct pq_hmap groups;	/* per step: key -> output index */
	struct pq_hmap memo;	/* (series, value) -> memo entry */
	struct cv_memo {
		const struct pq_lset *in;
		const char *value;
		uint64_t key;
		const struct pq_lset *group;
	} *m, scratch;
	size_t nm, capm;
};

/* The grouping key and labels of (series, value), made once per pair. */
static const struct cv_memo *cv_lookup(struct pq_query *q, struct cv_ctx *c, struct pq_node *gn,
				       const struct pq_lset *in, const char *v)
{
	uint64_t h = (uint64_t)(uintptr_t)in * 0x9E3779B97F4A7C15ULL ^
		     (uint64_t)(uintptr_t)v * 0xC2B2AE3D27D4EB4FULL;
	bool found;
	uint64_t *slot = pq_hmap_put(&c->memo, h, &found);
	const struct pq_lset *m;
	struct cv_memo e;

	if (!slot) {
		pq_oom(q);
		return NULL;
	}
	if (found && c->m[*slot].in == in && c->m[*slot].value == v)
		return &c->m[*slot];
	if (pq_lb_reset(q, &q->lb, &in->ls) || pq_lb_set(q, &q->lb, c->label, v))
		return NULL;
	m = pq_lb_finish(q, &q->lb);
	if (!m)
		return NULL;
	e = (struct cv_memo){ in, v, grouping_key(gn, &m->ls, c->grouping, c->ngrouping), NULL };
	e.group = grouping_labels(q, gn, m);
	if (!e.group)
		return NULL;
	if (found) {	/* a colliding pair: answer without memoizing */
		c->scratch = e;
		return &c->scratch;
	}
	if (pq_reserve(q, &c->m, &c->capm, c->nm + 1, sizeof(*c->m)))
		return NULL;
	*slot = c->nm;
	c->m[c->nm] = e;
	return &c->m[c->nm++];
}

static const char *value_string(struct pq_query *q, struct cv_ctx *c, double f)
{
	uint64_t bits;
	bool found;
	uint64_t *slot;
	struct buf b = { 0 };
	char *s;

	memcpy(&bits, &f, sizeof(bits));
	slot = pq_hmap_put(&c->values, bits, &found);
	if (!slot) {
		pq_oom(q);
		return NULL;
	}
	if (found)
		return (const char *)(uintptr_t)*slot;
	promql_format_float(f, &b);
	s = b.oom ? NULL : arena_strdup(q->a, b.data ? b.data : "0");
	buf_free(&b);
	if (!s) {
		pq_oom(q);
		return NULL;
	}
	*slot = (uint64_t)(uintptr_t)s;
	return s;
}

static int count_values_step(struct pq_step *st)
{
	struct cv_ctx *c = st->ctx;
	struct pq_query *q = st->ev->q;
	const struct pq_vector *in = &st->in[0];
	struct pq_node gn = *c->n;

	gn.grouping = c->grouping;
	gn.ngrouping = c->ngrouping;
	pq_hmap_clear(&c->groups);
	for (size_t i = 0; i < in->n; i++) {
		const char *v = value_string(q, c, in->v[i].f);
		const struct cv_memo *e;
		uint64_t *slot;
		bool found;
		struct pq_sample out;

		if (!v || !(e = cv_lookup(q, c, &gn, in->v[i].ls, v)))
			return -1;
		slot = pq_hmap_put(&c->groups, e->key, &found);
		if (!slot)
			return pq_oom(q);
		if (found) {
			st->out->v[*slot].f++;
			continue;
		}
		*slot = st->out->n;
		out = (struct pq_sample){ .ls = e->group, .f = 1, .t = st->ts };
		if (pq_vector_push(q, st->out, &out))
			return -1;
	}
	return 0;
}

static int eval_count_values(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	struct pq_query *q = ev->q;
	struct cv_ctx c = { .n = n };
	const struct promql_str *lbl = &n->args[1]->str;
	int rc;

	if (!lbl->len || !labels_valid_utf8(lbl->s, lbl->len) || strlen(lbl->s) != lbl->len) {
		struct buf b = { 0 };

		promql_quote(lbl->s, lbl->len, &b);
		pq_fail(q, PROMQL_ERR_EXECUTION, "invalid label name %s", b.data ? b.data : "");
		buf_free(&b);
		return -1;
	}
	c.label = lbl->s;
	c.grouping = n->grouping;
	c.ngrouping = n->ngrouping;
	if (!n->without) {
		const char **g = arena_calloc(q->a, n->ngrouping + 1, sizeof(*g));
		size_t k = 0;
		bool placed = false;

		if (!g)
			return pq_oom(q);
		for (size_t i = 0; i < n->ngrouping; i++) {
			if (!placed && strcmp(c.label, n->grouping[i]) < 0) {
				g[k++] = c.label;
				placed = true;
			}
			g[k++] = n->grouping[i];
		}
		if (!placed)
			g[k++] = c.label;
		c.grouping = g;
		c.ngrouping = k;
	}
	rc = pq_range_eval(ev, n->args, 1, NULL, count_values_step, &c, out);
	pq_hmap_free(&c.values);
	pq_hmap_free(&c.groups);
	pq_hmap_free(&c.memo);
	free(c.m);
	return rc;
}

/* --- rangeEvalAgg --------------------------------------------------------------------- */

static void fmt_param(double v, char *out, size_t cap)
{
	pq_fmt_g(v, out, cap);
}

/* Checks before the first step; 1 means "no result at all". */
static int check_params(struct agg *a, const struct fparams *fp)
{
	struct pq_query *q = a->ev->q;
	const struct pq_node *param = a->n->args[1];
	char b[64];

	switch (a->n->aggop) {
	case PROMQL_AGG_TOPK:
	case PROMQL_AGG_BOTTOMK:
	case PROMQL_AGG_LIMITK:
		if (fp->max < 1)
			return 1;
		if (fp->any_nan)
			return pq_fail(q, PROMQL_ERR_EXECUTION, "Parameter value is NaN");
		if (fp->min <= MIN_INT64_F) {
			fmt_param(fp->min, b, sizeof(b));
			return pq_fail(q, PROMQL_ERR_EXECUTION, "Scalar value %s underflows int64", b);
		}
		if (fp->max >= MAX_INT64_F) {
			fmt_param(fp->max, b, sizeof(b));
			return pq_fail(q, PROMQL_ERR_EXECUTION, "Scalar value %s overflows int64", b);
		}
		return 0;
	case PROMQL_AGG_LIMIT_RATIO:
		if (fp->max == 0 && fp->min == 0)
			return 1;
		if (fp->any_nan)
			return pq_fail(q, PROMQL_ERR_EXECUTION, "Ratio value is NaN");
		if (fp->max > 1.0) {
			fmt_param(fp->max, b, sizeof(b));
			pq_annof(q, PQ_WARN, param->pos, "PromQL warning: ratio value should be "
				 "between -1 and 1, got %s, capping to 1", b);
		}
		if (fp->min < -1.0) {
			fmt_param(fp->min, b, sizeof(b));
			pq_annof(q, PQ_WARN, param->pos, "PromQL warning: ratio value should be "
				 "between -1 and 1, got %s, capping to -1", b);
		}
		return 0;
	case PROMQL_AGG_QUANTILE:
		if (fp->any_nan)
			pq_annof(q, PQ_WARN, param->pos, "PromQL warning: quantile value should be "
				 "between 0 and 1, got NaN");
		if (fp->max > 1) {
			fmt_param(fp->max, b, sizeof(b));
			pq_annof(q, PQ_WARN, param->pos, "PromQL warning: quantile value should be "
				 "between 0 and 1, got %s", b);
		}
		if (fp->min < 0) {
			fmt_param(fp->min, b, sizeof(b));
			pq_annof(q, PQ_WARN, param->pos, "PromQL warning: quantile value should be "
				 "between 0 and 1, got %s", b);
		}
		return 0;
	default:
		return 0;
	}
}

static void agg_free(struct agg *a)
{
	pq_matrix_free(&a->in);
	free(a->cursor);
	free(a->group_of);
	if (a->groups)
		for (size_t i = 0; i < a->ngroups; i++)
			free(a->groups[i].heap.v);
	free(a->groups);
	free(a->values);
	pq_hmap_free(&a->out_index);
}

int pq_eval_aggregate(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	int64_t orig = ev->cur_samples, temp;
	struct agg a = { .ev = ev, .n = n };
	struct fparams fp;
	bool k_op = is_k_op(n->aggop);
	int rc = -1, chk, streamed;

	memset(out, 0, sizeof(*out));
	if (n->aggop == PROMQL_AGG_COUNT_VALUES)
		return eval_count_values(ev, n, out);
	if (fparams_eval(ev, n->nargs > 1 ? n->args[1] : NULL, &fp))
		return -1;
	streamed = aggregate_stream(&a);
	if (streamed < 0)
		goto done;
	if (!streamed && pq_eval_matrix(ev, n->args[0], &a.in))
		goto done;
	if (!streamed && map_groups(&a))
		goto done;
	chk = streamed ? 1 : check_params(&a, &fp);
	if (chk < 0)
		goto done;
	if (chk == 0 && !k_op && n->aggop != PROMQL_AGG_QUANTILE && ev->interval > 0 &&
	    a.ngroups > 0) {
		if (aggregate_blocked(&a))
			goto done;
	} else if (chk == 0) {
		temp = ev->cur_samples;
		for (int64_t ts = ev->start; ts <= ev->end; ts += ev->interval) {
			double param = fparams_next(&fp);

			if (pq_check(ev->q))
				goto done;
			ev->cur_samples = temp;
			if (k_op) {
				if (k_step(&a, ts, param))
					goto done;
				if (ev->start == ev->end)
					break;
			} else if (aggregate_step(&a, ts, param)) {
				goto done;
			}
			if (ev->cur_samples > ev->q->max_samples) {
				pq_too_many_samples(ev->q);
				goto done;
			}
		}
	}
	/* drop groups that never had a value */
	{
		size_t k = 0;

		for (size_t i = 0; i < a.out.n; i++) {
			if (a.out.v[i].n)
				a.out.v[k++] = a.out.v[i];
			else
				free(a.out.v[i].pts);
		}
		a.out.n = k;
	}
	*out = a.out;
	memset(&a.out, 0, sizeof(a.out));
	ev->cur_samples = orig + (int64_t)pq_matrix_samples(out);
	rc = 0;
done:
	pq_matrix_free(&fp.m);
	pq_matrix_free(&a.out);
	agg_free(&a);
	return rc;
}
