/*
 * Function calls (upstream's eval of *parser.Call): functions of instant vectors
 * and scalars run per step through rangeEval; a function of a range vector runs
 * one series at a time, sliding that series' window over the steps (the window
 * comes from storage for a matrix selector, or from the evaluated points of a
 * subquery), which keeps memory per series bounded by the range. Its output series
 * are collected into a matrix, or handed one at a time to a sink (an aggregation
 * that folds them as they come, so the matrix never exists). label_replace,
 * label_join, info and timestamp() of a plain selector have their own paths, as
 * upstream.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

static struct pq_node *unwrap_inv(struct pq_node *n)
{
	return n->kind == PQ_STEPINV ? n->args[0] : n;
}

/* timestamp(selector): the timestamp of the sample each step selected. */
static int eval_timestamp_selector(struct pq_ev *ev, struct pq_node *vs, struct pq_matrix *out)
{
	struct pq_query *q = ev->q;

	if (vs->has_at ? pq_eval_selector_fixed(ev, vs, vs->at, out) :
			 pq_eval_selector(ev, vs, true, out))
		return -1;
	for (size_t i = 0; i < out->n; i++) {
		struct pq_series *s = &out->v[i];

		if (!q->delayed && !(s->ls = pq_lset_strip(q, s->ls)))
			goto fail;
		s->drop_name = true;
		for (uint32_t j = 0; j < s->n; j++)
			s->pts[j].f /= 1000;
	}
	if (!q->delayed && pq_merge_same_labels(ev, out))
		goto fail;
	return 0;
fail:
	pq_matrix_free(out);
	return -1;
}

/* upstream's createLabelsForAbsentFunction. */
const struct pq_lset *pq_absent_labels(struct pq_query *q, const struct pq_node *arg)
{
	const struct pq_node *vs = arg->kind == PQ_MS ? arg->args[0] : arg;
	const struct promql_node *ast;
	bool has[64] = { false };

	if (vs->kind != PQ_VS)
		return q->empty;
	ast = vs->ast;
	if (pq_lb_reset(q, &q->lb, NULL))
		return NULL;
	for (size_t i = 0; i < ast->vs.nmatchers; i++) {
		const struct promql_matcher *m = &ast->vs.matchers[i];
		bool seen = false;

		if (!strcmp(m->name.s, LABELS_METRIC_NAME))
			continue;
		for (size_t j = 0; j < i && j < 64; j++)
			if (has[j] && !strcmp(ast->vs.matchers[j].name.s, m->name.s))
				seen = true;
		if (m->type == PROMQL_MATCH_EQ && !seen) {
			if (pq_lb_set(q, &q->lb, m->name.s, m->value.s))
				return NULL;
			if (i < 64)
				has[i] = true;
		} else {
			pq_lb_del(&q->lb, m->name.s);
		}
	}
	return pq_lb_finish(q, &q->lb);
}

static int absent_over_time_result(struct pq_ev *ev, const struct pq_node *arg,
				   struct pq_matrix *mat, struct pq_matrix *out)
{
	size_t steps = (size_t)((ev->end - ev->start) / ev->interval) + 1, nfound = 0;
	uint8_t *found = calloc(steps, 1);
	const struct pq_lset *ls;
	struct pq_series *s;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!found)
		return pq_oom(ev->q);
	for (size_t i = 0; i < mat->n; i++)
		if (mat->v[i].n == steps) {
			rc = 0;
			goto done;
		}
	for (size_t i = 0; i < mat->n; i++) {
		for (uint32_t j = 0; j < mat->v[i].n; j++) {
			size_t k = (size_t)((mat->v[i].pts[j].t - ev->start) / ev->interval);

			if (k < steps && !found[k]) {
				found[k] = 1;
				nfound++;
			}
		}
		if (i > 0 && nfound == steps) {
			rc = 0;
			goto done;
		}
	}
	ls = pq_absent_labels(ev->q, arg);
	if (!ls || !(s = pq_matrix_add(ev->q, out, ls, true)))
		goto done;
	for (size_t k = 0; k < steps; k++)
		if (!found[k] && pq_series_push(ev->q, s, ev->start + (int64_t)k * ev->interval, 1))
			goto done;
	rc = 0;
done:
	free(found);
	if (rc)
		pq_matrix_free(out);
	return rc;
}

static bool anchored_ok(enum promql_func_id id)
{
	return id == PROMQL_FN_CHANGES || id == PROMQL_FN_DELTA || id == PROMQL_FN_INCREASE ||
	       id == PROMQL_FN_RATE || id == PROMQL_FN_RESETS;
}

static bool smoothed_ok(enum promql_func_id id)
{
	return id == PROMQL_FN_DELTA || id == PROMQL_FN_INCREASE || id == PROMQL_FN_RATE;
}

static bool counter_name(const char *name)
{
	static const char *const suffixes[] = { "_total", "_sum", "_count", "_bucket" };
	size_t n = strlen(name);

	for (size_t i = 0; i < 4; i++) {
		size_t k = strlen(suffixes[i]);

		if (n >= k && !strcmp(name + n - k, suffixes[i]))
			return true;
	}
	return false;
}

/* The input of a range-vector function: storage series, or a subquery's. */
struct matrix_input {
	struct pq_node *vs;		/* the selector (for a subquery: NULL) */
	struct tsdb_series_set *ss;
	struct pq_matrix sub;		/* evaluated subquery */
	size_t next;
	int64_t range, offset;
	bool has_at, anchored, smoothed;
};

static int input_open(struct pq_ev *ev, struct pq_node *arg, struct matrix_input *in)
{
	memset(in, 0, sizeof(*in));
	if (arg->kind == PQ_MS) {
		struct tsdb_select_hints hints;
		char err[512];

		in->vs = arg->args[0];
		in->range = arg->range;
		in->offset = in->vs->offset;
		in->has_at = in->vs->has_at;
		in->anchored = in->vs->anchored;
		in->smoothed = in->vs->smoothed;
		hints = (struct tsdb_select_hints){ .start = in->vs->hint_start,
						    .end = in->vs->hint_end };
		if (tsdb_querier_select(ev->q->querier, in->vs->ms, in->vs->nms, &hints, &in->ss, err,
					sizeof(err)))
			return pq_fail(ev->q, PROMQL_ERR_INTERNAL, "expanding series: %s", err);
		return 0;
	}
	in->range = arg->range;
	in->has_at = arg->has_at;
	in->offset = arg->has_at ? arg->orig_offset + (ev->start - arg->at) : arg->offset;
	return pq_eval_subquery(ev, arg, &in->sub);
}

/* The next input series: its labels and a source over its samples. */
static int input_next(struct pq_ev *ev, struct matrix_input *in, const struct pq_lset **ls,
		      struct pq_source *src)
{
	if (in->ss) {
		if (!tsdb_series_set_next(in->ss)) {
			char err[512];

			if (tsdb_series_set_err(in->ss, err, sizeof(err)))
				return pq_fail(ev->q, PROMQL_ERR_INTERNAL, "expanding series: %s", err);
			return 0;
		}
		*ls = pq_lset_wrap(ev->q, tsdb_series_set_labels(in->ss));
		if (!*ls)
			return pq_oom(ev->q);
		pq_source_init_iter(src, tsdb_series_set_iterator(in->ss));
		return 1;
	}
	if (in->next >= in->sub.n)
		return 0;
	{
		struct pq_series *s = &in->sub.v[in->next++];

		/* a subquery's series drops a name its expression dropped */
		*ls = s->drop_name ? pq_lset_strip(ev->q, s->ls) : s->ls;
		if (!*ls)
			return -1;
		pq_source_init_array(src, s->pts, s->n);
	}
	return 1;
}

struct scalar_args {
	struct pq_matrix m[2];
	size_t n;
};

static double scalar_at(const struct scalar_args *sa, size_t i, size_t step)
{
	const struct pq_matrix *m = &sa->m[i];

	if (!m->n || step >= m->v[0].n)
		return NAN;
	return m->v[0].pts[step].f;
}

static int check_modifiers(struct pq_ev *ev, const struct pq_node *n, const struct matrix_input *in)
{
	const char *name = n->fn->name;

	if (in->anchored && !anchored_ok(n->fn->id))
		return pq_fail(ev->q, PROMQL_ERR_EXECUTION, "anchored modifier can only be used with: "
			       "changes, delta, increase, rate, resets - not with %s", name);
	if (in->smoothed && !smoothed_ok(n->fn->id))
		return pq_fail(ev->q, PROMQL_ERR_EXECUTION, "smoothed modifier can only be used with: "
			       "delta, increase, rate - not with %s", name);
	return 0;
}

/* One input series through all steps. */
static int call_series(struct pq_ev *ev, struct pq_node *n, struct matrix_input *in,
		       const struct scalar_args *sa, pq_mfn fn, const struct pq_lset *ls,
		       struct pq_source *src, struct pq_window *w, struct pq_series *out)
{
	int64_t lb = ev->q->lookback;
	struct pq_mcall c = { .ev = ev, .call = n, .sel = in->vs, .range = in->range,
			      .offset = in->offset, .metric = ls };
	size_t step = 0;

	for (int64_t ts = ev->start; ts <= ev->end; ts += ev->interval, step++) {
		double v;
		int r;

		for (size_t i = 0; i < sa->n && i < 2; i++)
			c.sargs[i] = scalar_at(sa, i, step);
		if (ts == ev->start || !in->has_at) {
			int64_t maxt = ts - in->offset, mint = maxt - in->range;

			if (in->anchored) {
				mint -= lb;
			} else if (in->smoothed) {
				mint -= lb;
				maxt += lb;
			}
			if (pq_window_advance(ev, w, src, mint, maxt))
				return -1;
		}
		if (!w->n)
			continue;
		c.ts = ts;
		c.p = w->v;
		c.n = w->n;
		c.no_decrease = w->ndec == 0;
		r = fn(&c, &v);
		if (r < 0)
			return -1;
		if (r && pq_series_push(ev->q, out, ts, v))
			return -1;
	}
	return 0;
}

/* One output series of eval_range_call: to the sink, or into the matrix (counted
 * against the sample limit while it is held). */
static int range_call_put(struct pq_ev *ev, const struct pq_series_sink *sink,
			  struct pq_matrix *mat, struct pq_series *s)
{
	struct pq_query *q = ev->q;

	if (sink)
		return sink->put(sink->arg, s);
	if (ev->cur_samples + (int64_t)s->n > q->max_samples) {
		free(s->pts);
		return pq_too_many_samples(q);
	}
	ev->cur_samples += (int64_t)s->n;
	if (!pq_matrix_add(q, mat, s->ls, s->drop_name)) {
		free(s->pts);
		return -1;
	}
	mat->v[mat->n - 1] = *s;
	return 0;
}

static int eval_range_call(struct pq_ev *ev, struct pq_node *n, size_t mi, struct pq_matrix *out,
			   const struct pq_series_sink *sink)
{
	struct pq_query *q = ev->q;
	enum promql_func_id id = n->fn->id;
	bool drop_name = id != PROMQL_FN_LAST_OVER_TIME && id != PROMQL_FN_FIRST_OVER_TIME;
	/* duplicate label sets are an error without delayed name removal */
	bool dup_check = !q->delayed && id != PROMQL_FN_ABSENT_OVER_TIME;
	pq_mfn fn = pq_range_function(id);
	struct matrix_input in;
	struct scalar_args sa = { .n = 0 };
	struct pq_window w = { 0 };
	struct pq_matrix mat = { 0 };
	struct pq_vector seen = { 0 };
	int64_t sub_samples = 0;
	int rc = -1, err = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!fn)
		return pq_fail(q, PROMQL_ERR_EXECUTION, "function %s is not supported",
			       n->fn->name);
	for (size_t i = 0; i < n->nargs; i++) {
		if (i == mi || n->args[i]->type == PROMQL_TYPE_STRING)
			continue;
		if (sa.n < 2 && pq_eval_matrix(ev, n->args[i], &sa.m[sa.n++]))
			goto done;
	}
	if (input_open(ev, unwrap_inv(n->args[mi]), &in))
		goto done;
	sub_samples = (int64_t)pq_matrix_samples(&in.sub);
	if (check_modifiers(ev, n, &in))
		goto done;
	for (;;) {
		const struct pq_lset *ls;
		struct pq_source src;
		struct pq_series s = { 0 };
		int more;

		if (pq_check(q))
			goto done;
		more = input_next(ev, &in, &ls, &src);
		if (more <= 0) {
			if (more < 0)
				goto done;
			break;
		}
		pq_window_clear(ev, &w);
		s.ls = drop_name && !q->delayed ? pq_lset_strip(q, ls) : ls;
		s.drop_name = drop_name;
		if (!s.ls || call_series(ev, n, &in, &sa, fn, ls, &src, &w, &s)) {
			free(s.pts);
			goto done;
		}
		if (!s.n) {
			free(s.pts);
			continue;
		}
		if (dup_check) {
			struct pq_sample smp = { .ls = s.ls };

			if (pq_vector_push(q, &seen, &smp)) {
				free(s.pts);
				goto done;
			}
		}
		if (range_call_put(ev, sink, &mat, &s))
			goto done;
		if (id == PROMQL_FN_RATE || id == PROMQL_FN_INCREASE) {
			const char *name = labels_get(&ls->ls, LABELS_METRIC_NAME);

			if (name && *name && !counter_name(name))
				pq_annof(q, PQ_INFO, unwrap_inv(n->args[mi])->pos,
					 "PromQL info: metric might not be a counter, name does not "
					 "end in _total/_sum/_count/_bucket: \"%s\"", name);
		}
	}
	ev->cur_samples -= (int64_t)w.n;
	if (dup_check && pq_vector_dup_labels(q, &seen, &err))
		err = pq_fail(q, PROMQL_ERR_EXECUTION,
			      "vector cannot contain metrics with the same labelset");
	if (err)
		goto done;
	if (id == PROMQL_FN_ABSENT_OVER_TIME) {
		if (absent_over_time_result(ev, unwrap_inv(n->args[mi]), &mat, out))
			goto done;
		pq_matrix_free(&mat);
	} else if (!sink) {
		*out = mat;
		memset(&mat, 0, sizeof(mat));
	}
	rc = 0;
done:
	pq_vector_free(&seen);
	ev->cur_samples -= sub_samples;
	pq_window_free(&w);
	pq_matrix_free(&mat);
	pq_matrix_free(&in.sub);
	pq_matrix_free(&sa.m[0]);
	pq_matrix_free(&sa.m[1]);
	return rc;
}

int pq_eval_call(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out)
{
	enum promql_func_id id = n->fn->id;

	memset(out, 0, sizeof(*out));
	if (id == PROMQL_FN_TIMESTAMP && unwrap_inv(n->args[0])->kind == PQ_VS)
		return eval_timestamp_selector(ev, unwrap_inv(n->args[0]), out);
	switch (id) {
	case PROMQL_FN_LABEL_REPLACE:
		return pq_eval_label_replace(ev, n, out);
	case PROMQL_FN_LABEL_JOIN:
		return pq_eval_label_join(ev, n, out);
	case PROMQL_FN_INFO:
		return pq_eval_info(ev, n, out);
	default:
		break;
	}
	for (size_t i = 0; i < n->nargs; i++) {
		struct pq_node *a = unwrap_inv(n->args[i]);

		if (a->kind == PQ_MS || a->kind == PQ_SUBQ)
			return eval_range_call(ev, n, i, out, NULL);
	}
	return pq_range_eval(ev, n->args, n->nargs, NULL, pq_instant_function, n, out);
}

struct pq_node *pq_range_call_selector(struct pq_node *n, size_t *mi)
{
	if (n->kind != PQ_CALL || n->fn->id == PROMQL_FN_ABSENT_OVER_TIME ||
	    n->fn->id == PROMQL_FN_TIMESTAMP || n->fn->id == PROMQL_FN_LABEL_REPLACE ||
	    n->fn->id == PROMQL_FN_LABEL_JOIN || n->fn->id == PROMQL_FN_INFO ||
	    !pq_range_function(n->fn->id))
		return NULL;
	for (size_t i = 0; i < n->nargs; i++) {
		struct pq_node *a = n->args[i], *vs;

		if (a->kind == PQ_SUBQ || a->kind == PQ_STEPINV)
			return NULL;
		if (a->kind != PQ_MS)
			continue;
		vs = a->args[0];
		if (vs->has_at || vs->anchored || vs->smoothed)
			return NULL;
		*mi = i;
		return vs;
	}
	return NULL;
}

int pq_eval_range_call_each(struct pq_ev *ev, struct pq_node *n, size_t mi,
			    const struct pq_series_sink *sink)
{
	return eval_range_call(ev, n, mi, NULL, sink);
}
