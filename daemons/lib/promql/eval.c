/*
 * The evaluator core, upstream's evaluator.eval: every node evaluates to a matrix
 * over the steps [start, end] of its evaluator (a subquery or a step-invariant
 * subtree gets an evaluator of its own). This file has the dispatch, rangeEval
 * (operands gathered into per-step vectors for an operator), the vector and
 * matrix selectors with lookback and staleness, subqueries, step invariants,
 * unary minus and the final delayed __name__ removal.
 *
 * Limits: every loop over steps or series checks the deadline and the cancel
 * flag; samples held in memory are counted as upstream counts them (its
 * currentSamples) and the query fails once the count passes the limit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

int pq_fail(struct pq_query *q, enum promql_errtype t, const char *fmt, ...)
{
	va_list ap;

	if (q->errtype != PROMQL_ERR_NONE)
		return -1;
	q->errtype = t;
	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	return -1;
}

int pq_oom(struct pq_query *q)
{
	return pq_fail(q, PROMQL_ERR_INTERNAL, "out of memory");
}

int pq_too_many_samples(struct pq_query *q)
{
	return pq_fail(q, PROMQL_ERR_EXECUTION, "query processing would load too many samples "
		       "into memory in query execution");
}

int pq_check(struct pq_query *q)
{
	struct timespec now;

	if (q->errtype != PROMQL_ERR_NONE)
		return -1;
	if ((q->tick++ & 63) != 0)
		return 0;
	if (q->cancel && *q->cancel)
		return pq_fail(q, PROMQL_ERR_CANCELED, "query was canceled in expression evaluation");
	if (!q->deadline.tv_sec)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > q->deadline.tv_sec ||
	    (now.tv_sec == q->deadline.tv_sec && now.tv_nsec >= q->deadline.tv_nsec))
		return pq_fail(q, PROMQL_ERR_TIMEOUT, "query timed out in expression evaluation");
	return 0;
}

static size_t num_steps(const struct pq_ev *ev)
{
	return (size_t)((ev->end - ev->start) / ev->interval) + 1;
}

int pq_eval_matrix(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	struct pq_value v;

	if (pq_eval(ev, n, &v))
		return -1;
	*out = v.m;
	return 0;
}

/* --- rangeEval ----------------------------------------------------------------------- */

struct range_state {
	struct pq_matrix *in;
	uint32_t **sigs;	/* per input matrix and series: signature ordinal */
	size_t **cursor;
	struct pq_vector *vec;
	size_t n;
};

static void range_state_free(struct range_state *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		pq_matrix_free(&rs->in[i]);
		pq_vector_free(&rs->vec[i]);
		if (rs->sigs)
			free(rs->sigs[i]);
		free(rs->cursor[i]);
	}
	free(rs->in);
	free(rs->sigs);
	free(rs->cursor);
	free(rs->vec);
}

static uint64_t join_sig(const struct pq_node *binop, const struct labels *ls)
{
	return pq_hash_subset(ls, binop->match_names, binop->nmatch_names, !binop->vm->on);
}

/* Number the distinct join signatures of all operands' series. */
static int compute_sigs(struct pq_ev *ev, const struct pq_node *binop, struct range_state *rs,
			size_t *nsigs)
{
	struct pq_hmap ord = { 0 };
	int rc = 0;

	*nsigs = 0;
	rs->sigs = calloc(rs->n, sizeof(*rs->sigs));
	if (!rs->sigs)
		return pq_oom(ev->q);
	for (size_t i = 0; i < rs->n && !rc; i++) {
		rs->sigs[i] = malloc((rs->in[i].n ? rs->in[i].n : 1) * sizeof(uint32_t));
		if (!rs->sigs[i]) {
			rc = pq_oom(ev->q);
			break;
		}
		for (size_t j = 0; j < rs->in[i].n; j++) {
			bool found;
			uint64_t *slot = pq_hmap_put(&ord, join_sig(binop, &rs->in[i].v[j].ls->ls),
						     &found);

			if (!slot) {
				rc = pq_oom(ev->q);
				break;
			}
			if (!found)
				*slot = (*nsigs)++;
			rs->sigs[i][j] = (uint32_t)*slot;
		}
	}
	pq_hmap_free(&ord);
	return rc;
}

/* upstream's gatherVector: the points of `in` at ts, moving each series on. */
static int gather(struct pq_ev *ev, struct range_state *rs, size_t i, int64_t ts)
{
	struct pq_matrix *m = &rs->in[i];
	struct pq_vector *v = &rs->vec[i];

	v->n = 0;
	for (size_t j = 0; j < m->n; j++) {
		struct pq_series *s = &m->v[j];
		size_t *c = &rs->cursor[i][j];
		struct pq_sample smp;

		if (*c >= s->n || s->pts[*c].t != ts)
			continue;
		smp.ls = s->ls;
		smp.f = s->pts[*c].f;
		smp.t = ts;
		smp.sig = rs->sigs ? rs->sigs[i][j] : (uint32_t)j;
		smp.drop_name = s->drop_name;
		(*c)++;
		if (pq_vector_push(ev->q, v, &smp) || pq_add_samples(ev, 1))
			return -1;
	}
	return 0;
}

static int instant_output(struct pq_ev *ev, const struct pq_vector *res, int64_t ts,
			  struct pq_matrix *out)
{
	int err;

	if (!ev->q->delayed && pq_vector_dup_labels(ev->q, res, &err))
		return pq_fail(ev->q, PROMQL_ERR_EXECUTION,
			       "vector cannot contain metrics with the same labelset");
	if (!ev->q->delayed && err)
		return -1;
	for (size_t k = 0; k < res->n; k++) {
		struct pq_series *s = pq_matrix_add(ev->q, out, res->v[k].ls, res->v[k].drop_name);

		if (!s || pq_series_push(ev->q, s, ts, res->v[k].f))
			return -1;
	}
	return 0;
}

/* Append a step's output to the output matrix, one series per label set. */
static int collect(struct pq_ev *ev, const struct pq_vector *res, int64_t ts,
		   struct pq_hmap *index, int64_t **last_ts, size_t *last_cap, struct pq_matrix *out)
{
	for (size_t k = 0; k < res->n; k++) {
		const struct pq_sample *smp = &res->v[k];
		bool found;
		uint64_t *slot = pq_hmap_put(index, smp->ls->hash, &found);
		struct pq_series *s;

		if (!slot)
			return pq_oom(ev->q);
		if (found) {
			s = &out->v[*slot];
			if ((*last_ts)[*slot] == ts)
				return pq_fail(ev->q, PROMQL_ERR_EXECUTION,
					       "vector cannot contain metrics with the same labelset");
		} else {
			*slot = out->n;
			if (!pq_matrix_add(ev->q, out, smp->ls, smp->drop_name))
				return -1;
			s = &out->v[*slot];
			if (pq_reserve(ev->q, last_ts, last_cap, out->n, sizeof(**last_ts)))
				return -1;
		}
		(*last_ts)[*slot] = ts;
		if (pq_series_push(ev->q, s, ts, smp->f))
			return -1;
	}
	return 0;
}

static int range_state_init(struct pq_ev *ev, struct pq_node **exprs, size_t n,
			    struct range_state *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->n = n;
	rs->in = calloc(n ? n : 1, sizeof(*rs->in));
	rs->cursor = calloc(n ? n : 1, sizeof(*rs->cursor));
	rs->vec = calloc(n ? n : 1, sizeof(*rs->vec));
	if (!rs->in || !rs->cursor || !rs->vec)
		return pq_oom(ev->q);
	for (size_t i = 0; i < n; i++) {
		if (exprs && exprs[i] && exprs[i]->type != PROMQL_TYPE_STRING &&
		    pq_eval_matrix(ev, exprs[i], &rs->in[i]))
			return -1;
		rs->cursor[i] = calloc(rs->in[i].n ? rs->in[i].n : 1, sizeof(size_t));
		if (!rs->cursor[i])
			return pq_oom(ev->q);
	}
	return 0;
}

static int range_loop(struct pq_ev *ev, struct range_state *rs, const struct pq_node *binop,
		      pq_step_fn fn, void *ctx, struct pq_matrix *out)
{
	int64_t orig = ev->cur_samples, temp, *last_ts = NULL;
	size_t last_cap = 0, nsigs = 0;
	struct pq_vector res = { 0 };
	struct pq_hmap index = { 0 };
	struct pq_step st;
	int rc = -1;

	if (binop && binop->vm && compute_sigs(ev, binop, rs, &nsigs))
		goto done;
	temp = ev->cur_samples;
	for (int64_t ts = ev->start; ts <= ev->end; ts += ev->interval) {
		if (pq_check(ev->q))
			goto done;
		ev->cur_samples = temp;
		for (size_t i = 0; i < rs->n; i++)
			if (gather(ev, rs, i, ts))
				goto done;
		res.n = 0;
		st = (struct pq_step){ .ev = ev, .ts = ts, .in = rs->vec, .nin = rs->n,
				       .nsigs = nsigs, .ctx = ctx, .out = &res };
		if (fn(&st))
			goto done;
		ev->cur_samples += (int64_t)res.n;
		temp += (int64_t)res.n;
		if (ev->cur_samples > ev->q->max_samples) {
			pq_too_many_samples(ev->q);
			goto done;
		}
		if (ev->start == ev->end) {
			if (instant_output(ev, &res, ts, out))
				goto done;
			break;
		}
		if (collect(ev, &res, ts, &index, &last_ts, &last_cap, out))
			goto done;
	}
	ev->cur_samples = orig + (int64_t)pq_matrix_samples(out);
	rc = 0;
done:
	pq_vector_free(&res);
	pq_hmap_free(&index);
	free(last_ts);
	return rc;
}

int pq_range_eval(struct pq_ev *ev, struct pq_node **exprs, size_t n,
		  const struct pq_node *binop, pq_step_fn fn, void *ctx, struct pq_matrix *out)
{
	struct range_state rs;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!range_state_init(ev, exprs, n, &rs))
		rc = range_loop(ev, &rs, binop, fn, ctx, out);
	range_state_free(&rs);
	if (rc)
		pq_matrix_free(out);
	return rc;
}

int pq_range_eval_matrices(struct pq_ev *ev, struct pq_matrix *a, struct pq_matrix *b,
			   pq_step_fn fn, void *ctx, struct pq_matrix *out)
{
	struct range_state rs;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!range_state_init(ev, NULL, 2, &rs)) {
		rs.in[0] = *a;
		rs.in[1] = *b;
		memset(a, 0, sizeof(*a));
		memset(b, 0, sizeof(*b));
		for (size_t i = 0; i < 2; i++) {
			free(rs.cursor[i]);
			rs.cursor[i] = calloc(rs.in[i].n ? rs.in[i].n : 1, sizeof(size_t));
		}
		if (!rs.cursor[0] || !rs.cursor[1])
			pq_oom(ev->q);
		else
			rc = range_loop(ev, &rs, NULL, fn, ctx, out);
	}
	range_state_free(&rs);
	if (rc)
		pq_matrix_free(out);
	return rc;
}

/* --- selectors ----------------------------------------------------------------------- */

static int select_series(struct pq_ev *ev, struct pq_node *vs, struct tsdb_series_set **ss)
{
	struct tsdb_select_hints hints = { .start = vs->hint_start, .end = vs->hint_end };
	char err[512];

	if (hints.start > hints.end)
		hints.start = hints.end;
	if (tsdb_querier_select(ev->q->querier, vs->ms, vs->nms, &hints, ss, err, sizeof(err)))
		return pq_fail(ev->q, PROMQL_ERR_INTERNAL, "expanding series: %s", err);
	return 0;
}

static int series_set_done(struct pq_ev *ev, struct tsdb_series_set *ss)
{
	char err[512];

	if (tsdb_series_set_err(ss, err, sizeof(err)))
		return pq_fail(ev->q, PROMQL_ERR_INTERNAL, "expanding series: %s", err);
	return 0;
}

/*
 * upstream's vectorSelectorSingle for a forward-moving reference time: the latest
 * sample at or before ref, if it is newer than ref - lookback and not a staleness
 * marker. *prev carries the latest sample read so far between calls.
 */
static bool lookback_sample(struct pq_ev *ev, struct pq_source *src, int64_t ref,
			    struct pq_point *prev, bool *have_prev, struct pq_point *out)
{
	struct pq_point p;
	int64_t lb = ev->q->lookback;

	if (pq_source_peek(src, &p) && p.t <= ref - lb) {
		pq_source_seek(src, ref - lb + 1);
		*have_prev = false;
	}
	while (pq_source_peek(src, &p) && p.t <= ref) {
		*prev = p;
		*have_prev = true;
		pq_source_take(src);
	}
	if (!*have_prev || prev->t <= ref - lb || tsdb_is_stale_nan(prev->f))
		return false;
	*out = *prev;
	return true;
}

/* Smoothed instant selector: the value at each step interpolated between the
 * samples around it (upstream's smoothSeries). */
static int smooth_one(struct pq_ev *ev, struct pq_node *vs, struct pq_source *src,
		      struct pq_series *s)
{
	struct pq_window w = { 0 };
	int64_t lb = ev->q->lookback;
	int rc = -1;

	for (int64_t step = ev->start; step <= ev->end; step += ev->interval) {
		int64_t ts = step - vs->offset;
		size_t i = 0;

		if (pq_window_advance(ev, &w, src, ts - lb, ts + lb))
			goto done;
		if (!w.n)
			continue;
		while (i < w.n && w.v[i].t < ts)
			i++;
		if (i < w.n && w.v[i].t == ts) {
			if (pq_series_push(ev->q, s, step, w.v[i].f))
				goto done;
		} else if (i > 0 && i < w.n) {
			const struct pq_point *a = &w.v[i - 1], *b = &w.v[i];
			double f = a->f + (b->f - a->f) * (double)(ts - a->t) / (double)(b->t - a->t);

			if (pq_series_push(ev->q, s, step, f))
				goto done;
		} else if (i > 0) {
			if (pq_series_push(ev->q, s, step, w.v[i - 1].f))
				goto done;
		}
	}
	rc = 0;
done:
	ev->cur_samples -= (int64_t)w.n;
	pq_window_free(&w);
	return rc;
}

/*
 * A vector selector over this evaluator's steps (upstream's evalSeries). With
 * record_t the value is the sample's own timestamp (timestamp() and info() need
 * it); with fixed_ref >= 0... see pq_eval_selector_at.
 */
static int eval_selector(struct pq_ev *ev, struct pq_node *vs, bool record_t, bool ref_at_fixed,
			 int64_t fixed_ref, struct pq_matrix *out)
{
	struct tsdb_series_set *ss;

	memset(out, 0, sizeof(*out));
	if (select_series(ev, vs, &ss))
		return -1;
	while (tsdb_series_set_next(ss)) {
		const struct pq_lset *ls = pq_lset_wrap(ev->q, tsdb_series_set_labels(ss));
		struct pq_source src;
		struct pq_point prev = { 0 }, p;
		bool have_prev = false;
		struct pq_series *s;

		if (!ls)
			goto oom;
		if (pq_check(ev->q))
			goto fail;
		pq_source_init_iter(&src, tsdb_series_set_iterator(ss));
		s = pq_matrix_add(ev->q, out, ls, false);
		if (!s)
			goto fail;
		if (vs->smoothed) {
			if (smooth_one(ev, vs, &src, s))
				goto fail;
		} else {
			for (int64_t ts = ev->start; ts <= ev->end; ts += ev->interval) {
				int64_t ref = ref_at_fixed ? fixed_ref : ts - vs->offset;

				if (!lookback_sample(ev, &src, ref, &prev, &have_prev, &p))
					continue;
				if (pq_add_samples(ev, 1) ||
				    pq_series_push(ev->q, s, ts, record_t ? (double)p.t : p.f))
					goto fail;
			}
		}
		if (src.err) {
			pq_fail(ev->q, PROMQL_ERR_INTERNAL, "expanding series: iterator failed");
			goto fail;
		}
		if (!s->n) {
			free(s->pts);
			out->n--;
		}
	}
	if (series_set_done(ev, ss))
		goto fail;
	return 0;
oom:
	pq_oom(ev->q);
fail:
	pq_matrix_free(out);
	return -1;
}

int pq_eval_selector(struct pq_ev *ev, struct pq_node *vs, bool record_t, struct pq_matrix *out)
{
	return eval_selector(ev, vs, record_t, false, 0, out);
}

int pq_eval_selector_fixed(struct pq_ev *ev, struct pq_node *vs, int64_t ref,
			   struct pq_matrix *out)
{
	return eval_selector(ev, vs, true, true, ref, out);
}

/* upstream's extendFloats for anchored and smoothed matrix selectors. */
static double interpolate(const struct pq_point *a, const struct pq_point *b, int64_t t)
{
	return a->f + (b->f - a->f) * (double)(t - a->t) / (double)(b->t - a->t);
}

int pq_extend_floats(struct pq_query *q, const struct pq_point *f, size_t n, int64_t mint,
		     int64_t maxt, bool smoothed, struct pq_series *out)
{
	long first = 0, last;
	double left, right;

	out->n = 0;
	if (!n)
		return 0;
	last = (long)n - 1;
	while (first < last && f[first].t <= mint)
		first++;
	first = first ? first - 1 : 0;
	if (smoothed) {
		long i = 0;

		while (i < last && f[i].t < maxt)
			i++;
		last = i;
	}
	if (f[last].t <= mint)
		return 0;
	left = smoothed && f[first].t < mint ? interpolate(&f[first], &f[first + 1], mint) :
					       f[first].f;
	right = smoothed && last > 0 && f[last].t > maxt ?
		interpolate(&f[last - 1], &f[last], maxt) : f[last].f;
	if (f[first].t <= mint)
		first++;
	if (f[last].t >= maxt)
		last--;
	if (pq_series_push(q, out, mint, left))
		return -1;
	for (long i = first; i <= last; i++)
		if (pq_series_push(q, out, f[i].t, f[i].f))
			return -1;
	return pq_series_push(q, out, maxt, right);
}

/* A matrix selector as a query's value (only in instant queries). */
static int eval_matrix_selector(struct pq_ev *ev, struct pq_node *ms, struct pq_matrix *out)
{
	struct pq_node *vs = ms->args[0];
	int64_t maxt = ev->start - vs->offset, mint = maxt - ms->range;
	int64_t wmint = mint, wmaxt = maxt;
	struct tsdb_series_set *ss;
	struct pq_window w = { 0 };

	memset(out, 0, sizeof(*out));
	if (vs->anchored) {
		wmint -= ev->q->lookback;
	} else if (vs->smoothed) {
		wmint -= ev->q->lookback;
		wmaxt += ev->q->lookback;
	}
	if (select_series(ev, vs, &ss))
		return -1;
	while (tsdb_series_set_next(ss)) {
		const struct pq_lset *ls = pq_lset_wrap(ev->q, tsdb_series_set_labels(ss));
		struct pq_source src;
		struct pq_series *s;

		if (!ls) {
			pq_oom(ev->q);
			goto fail;
		}
		if (pq_check(ev->q))
			goto fail;
		pq_source_init_iter(&src, tsdb_series_set_iterator(ss));
		/* the points stay counted: they go to the output */
		w.n = 0;
		w.ndec = 0;
		if (pq_window_advance(ev, &w, &src, wmint, wmaxt))
			goto fail;
		s = pq_matrix_add(ev->q, out, ls, false);
		if (!s)
			goto fail;
		if (vs->anchored || vs->smoothed) {
			if (pq_extend_floats(ev->q, w.v, w.n, mint, maxt, vs->smoothed, s))
				goto fail;
		} else {
			for (size_t i = 0; i < w.n; i++)
				if (pq_series_push(ev->q, s, w.v[i].t, w.v[i].f))
					goto fail;
		}
		if (!s->n) {
			free(s->pts);
			out->n--;
		}
	}
	pq_window_free(&w);
	return series_set_done(ev, ss);
fail:
	pq_window_free(&w);
	pq_matrix_free(out);
	return -1;
}

/* --- subqueries and step invariants ---------------------------------------------------- */

int pq_eval_subquery(struct pq_ev *ev, struct pq_node *sq, struct pq_matrix *out)
{
	struct pq_ev sub = *ev;
	int64_t off = sq->offset, range = sq->range, first;

	sub.end = ev->end - off;
	sub.interval = sq->step ? sq->step : ev->q->subq_step;
	first = ev->start - off - range;
	sub.start = sub.interval * (first / sub.interval);
	if (sub.start <= first)
		sub.start += sub.interval;
	if (sub.start != ev->start)
		pq_set_offset_for_at(sub.start, sq->args[0]);
	if (pq_eval_matrix(&sub, sq->args[0], out))
		return -1;
	ev->cur_samples = sub.cur_samples;
	return 0;
}

static int eval_step_invariant(struct pq_ev *ev, struct pq_node *n, struct pq_value *out)
{
	struct pq_ev once = *ev;
	struct pq_node *inner = n->args[0];

	once.end = ev->start;
	if (pq_eval(&once, inner, out))
		return -1;
	ev->cur_samples = once.cur_samples;
	if (out->is_string || inner->kind == PQ_MS || inner->kind == PQ_SUBQ)
		return 0;
	for (size_t i = 0; i < out->m.n; i++) {
		struct pq_series *s = &out->m.v[i];
		double f;

		if (s->n != 1)
			continue;
		f = s->pts[0].f;
		for (int64_t ts = ev->start + ev->interval; ts <= ev->end; ts += ev->interval)
			if (pq_series_push(ev->q, s, ts, f) || pq_add_samples(ev, 1))
				goto fail;
	}
	return 0;
fail:
	pq_matrix_free(&out->m);
	return -1;
}

/* --- the rest --------------------------------------------------------------------------- */

static int eval_number(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	struct pq_series *s;

	memset(out, 0, sizeof(*out));
	/* counted before the points exist, so a huge step count fails first */
	if (pq_add_samples(ev, (int64_t)num_steps(ev)))
		return -1;
	s = pq_matrix_add(ev->q, out, ev->q->empty, false);
	if (!s)
		return -1;
	for (int64_t ts = ev->start; ts <= ev->end; ts += ev->interval)
		if (pq_series_push(ev->q, s, ts, n->num))
			goto fail;
	return 0;
fail:
	pq_matrix_free(out);
	return -1;
}

static int eval_negate(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	if (pq_eval_matrix(ev, n->args[0], out))
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		struct pq_series *s = &out->v[i];

		if (!ev->q->delayed && !(s->ls = pq_lset_strip(ev->q, s->ls)))
			goto fail;
		s->drop_name = true;
		for (uint32_t j = 0; j < s->n; j++)
			s->pts[j].f = -s->pts[j].f;
	}
	if (!ev->q->delayed && pq_merge_same_labels(ev, out))
		goto fail;
	return 0;
fail:
	pq_matrix_free(out);
	return -1;
}

int pq_eval(struct pq_ev *ev, struct pq_node *n, struct pq_value *out)
{
	memset(out, 0, sizeof(*out));
	if (pq_check(ev->q))
		return -1;
	if (n->kind == PQ_STR) {
		out->is_string = true;
		out->str = n->str;
		return 0;
	}
	if (ev->end < ev->start)
		return 0;
	switch (n->kind) {
	case PQ_NUM:
		return eval_number(ev, n, &out->m);
	case PQ_VS:
		return pq_eval_selector(ev, n, false, &out->m);
	case PQ_MS:
		if (ev->start != ev->end)
			return pq_fail(ev->q, PROMQL_ERR_EXECUTION,
				       "cannot do range evaluation of matrix selector");
		return eval_matrix_selector(ev, n, &out->m);
	case PQ_SUBQ:
		return pq_eval_subquery(ev, n, &out->m);
	case PQ_CALL:
		return pq_eval_call(ev, n, &out->m);
	case PQ_AGG:
		return pq_eval_aggregate(ev, n, &out->m);
	case PQ_BIN:
		return pq_eval_binary(ev, n, &out->m);
	case PQ_NEG:
		return eval_negate(ev, n, &out->m);
	case PQ_STEPINV:
		return eval_step_invariant(ev, n, out);
	default:
		return pq_fail(ev->q, PROMQL_ERR_INTERNAL, "unhandled expression");
	}
}

/* --- name removal ------------------------------------------------------------------------ */

static int cmp_point(const void *a, const void *b)
{
	const struct pq_point *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

/* upstream's mergeSeriesWithSameLabelset: series that became equal (a dropped
 * name) are one series if their points do not collide. */
int pq_merge_same_labels(struct pq_ev *ev, struct pq_matrix *m)
{
	struct pq_hmap first = { 0 };
	size_t k = 0, i;
	bool any = false;

	if (m->n < 2)
		return 0;
	for (i = 0; i < m->n; i++) {
		bool found;

		if (!pq_hmap_put(&first, m->v[i].ls->hash, &found))
			goto oom;
		any |= found;
	}
	pq_hmap_free(&first);
	if (!any)
		return 0;
	for (i = 0; i < m->n; i++) {
		struct pq_series *s = &m->v[i];
		bool found;
		uint64_t *slot = pq_hmap_put(&first, s->ls->hash, &found);

		if (!slot)
			goto broken;
		if (!found) {
			*slot = k;
			if (k != i) {
				m->v[k] = *s;
				memset(s, 0, sizeof(*s));
			}
			k++;
			continue;
		}
		for (uint32_t j = 0; j < s->n; j++)
			if (pq_series_push(ev->q, &m->v[*slot], s->pts[j].t, s->pts[j].f))
				goto broken;
		free(s->pts);
		memset(s, 0, sizeof(*s));
	}
	m->n = k;
	pq_hmap_free(&first);
	for (i = 0; i < m->n; i++) {
		struct pq_series *s = &m->v[i];

		qsort(s->pts, s->n, sizeof(*s->pts), cmp_point);
		for (uint32_t j = 1; j < s->n; j++)
			if (s->pts[j].t == s->pts[j - 1].t)
				return pq_fail(ev->q, PROMQL_ERR_EXECUTION,
					       "vector cannot contain metrics with the same labelset");
	}
	return 0;
broken:
	/* moved-from entries are zeroed, so the matrix stays freeable */
	pq_hmap_free(&first);
	return pq_oom(ev->q);
oom:
	pq_hmap_free(&first);
	return pq_oom(ev->q);
}

int pq_cleanup_names(struct pq_ev *ev, struct pq_matrix *m, bool instant_vector)
{
	(void)instant_vector;
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].drop_name && !(m->v[i].ls = pq_lset_strip(ev->q, m->v[i].ls)))
			return -1;
	return pq_merge_same_labels(ev, m);
}
