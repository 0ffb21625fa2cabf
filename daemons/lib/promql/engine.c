/*
 * The query engine: parses a query, plans it, opens one querier over the whole
 * time range the query reads, evaluates it, and turns the result into the public
 * shape (upstream's Engine.exec / execEvalStmt).
 *
 * Concurrency is limited by a counting semaphore; a query that cannot start before
 * its deadline fails with "query timed out in query queue". Every query has its own
 * arena; labels of the result are copied into the result's arena because the
 * querier (which owns the storage's label strings) is closed before returning.
 *
 * The step of subqueries without one is read when a query starts, so a reload can
 * change it (upstream's noStepSubqueryInterval, the config's evaluation_interval).
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

#define DEFAULT_LOOKBACK (5 * 60 * 1000LL)
#define DEFAULT_TIMEOUT (2 * 60 * 1000LL)
#define DEFAULT_MAX_SAMPLES 50000000ULL
#define DEFAULT_CONCURRENCY 20u
#define DEFAULT_SUBQUERY_STEP (60 * 1000LL)

struct promql_engine {
	struct promql_engine_opts opts;
	_Atomic int64_t subq_step;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned running;
};

int promql_engine_new(const struct promql_engine_opts *opts, struct promql_engine **out,
		      char *err, size_t errlen)
{
	struct promql_engine *e = calloc(1, sizeof(*e));
	pthread_condattr_t ca;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (opts)
		e->opts = *opts;
	if (e->opts.lookback_delta_ms <= 0)
		e->opts.lookback_delta_ms = DEFAULT_LOOKBACK;
	if (e->opts.timeout_ms <= 0)
		e->opts.timeout_ms = DEFAULT_TIMEOUT;
	if (!e->opts.max_samples)
		e->opts.max_samples = DEFAULT_MAX_SAMPLES;
	if (!e->opts.max_concurrency)
		e->opts.max_concurrency = DEFAULT_CONCURRENCY;
	if (e->opts.subquery_step_ms <= 0)
		e->opts.subquery_step_ms = DEFAULT_SUBQUERY_STEP;
	atomic_init(&e->subq_step, e->opts.subquery_step_ms);
	pthread_mutex_init(&e->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = e;
	return 0;
}

void promql_engine_free(struct promql_engine *e)
{
	if (!e)
		return;
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

const struct promql_engine_opts *promql_engine_options(const struct promql_engine *e)
{
	return &e->opts;
}

void promql_engine_set_subquery_step(struct promql_engine *e, int64_t ms)
{
	atomic_store(&e->subq_step, ms > 0 ? ms : DEFAULT_SUBQUERY_STEP);
}

static int acquire(struct promql_engine *e, const struct timespec *deadline)
{
	int rc = 0;

	pthread_mutex_lock(&e->mu);
	while (e->running >= e->opts.max_concurrency && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&e->cv, &e->mu, deadline);
	if (e->running < e->opts.max_concurrency) {
		e->running++;
		rc = 0;
	}
	pthread_mutex_unlock(&e->mu);
	return rc ? -1 : 0;
}

static void release(struct promql_engine *e)
{
	pthread_mutex_lock(&e->mu);
	e->running--;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

static void set_error(struct promql_result *res, enum promql_errtype t, const char *msg)
{
	size_t n = strlen(msg);

	res->type = PROMQL_TYPE_NONE;
	res->errtype = t;
	if (n >= sizeof(res->err))
		n = sizeof(res->err) - 1;
	memcpy(res->err, msg, n);
	res->err[n] = 0;
}

/* "sort is ineffective" for every sort function of a range query. */
static void sort_warnings(struct pq_query *q, const struct promql_node *n)
{
	switch (n->kind) {
	case PROMQL_CALL:
		switch (n->call.fn->id) {
		case PROMQL_FN_SORT: case PROMQL_FN_SORT_DESC:
		case PROMQL_FN_SORT_BY_LABEL: case PROMQL_FN_SORT_BY_LABEL_DESC:
			pq_annof(q, PQ_WARN, n->pos, "PromQL warning: sort is ineffective for range "
				 "queries since results are always ordered by labels");
			break;
		default:
			break;
		}
		for (size_t i = 0; i < n->call.nargs; i++)
			sort_warnings(q, n->call.args[i]);
		return;
	case PROMQL_AGGREGATE:
		sort_warnings(q, n->agg.expr);
		if (n->agg.param)
			sort_warnings(q, n->agg.param);
		return;
	case PROMQL_BINARY:
		sort_warnings(q, n->binary.lhs);
		sort_warnings(q, n->binary.rhs);
		return;
	case PROMQL_UNARY:
		sort_warnings(q, n->unary.expr);
		return;
	case PROMQL_PAREN:
		sort_warnings(q, n->paren.expr);
		return;
	case PROMQL_SUBQUERY:
		sort_warnings(q, n->subquery.expr);
		return;
	default:
		return;
	}
}

static int render_annotations(struct pq_query *q, struct promql_result *res)
{
	size_t nw = 0, ni = 0;

	res->warnings = arena_calloc(res->arena, q->annos.n + 1, sizeof(char *));
	res->infos = arena_calloc(res->arena, q->annos.n + 1, sizeof(char *));
	if (!res->warnings || !res->infos)
		return -1;
	for (size_t i = 0; i < q->annos.n; i++) {
		const struct pq_anno *a = &q->annos.v[i];
		char *s = pq_anno_render(res->arena, q->qs, a);

		if (!s)
			return -1;
		if (a->level == PQ_WARN)
			res->warnings[nw++] = s;
		else
			res->infos[ni++] = s;
	}
	res->nwarnings = nw;
	res->ninfos = ni;
	return 0;
}

/* Move the evaluated matrix into the result, copying labels out of the querier. */
static int fill_result(struct pq_ev *ev, enum promql_type type, struct pq_matrix *m,
		       struct promql_result *res)
{
	struct pq_query *q = ev->q;
	bool instant = ev->start == ev->end && q->interval == 0;

	if (instant && type == PROMQL_TYPE_SCALAR) {
		res->type = PROMQL_TYPE_SCALAR;
		res->scalar.t = ev->start;
		res->scalar.v = m->n && m->v[0].n ? m->v[0].pts[0].f : 0;
		return 0;
	}
	if (!instant || type == PROMQL_TYPE_MATRIX)
		pq_matrix_sort(m);
	res->type = instant && type == PROMQL_TYPE_VECTOR ? PROMQL_TYPE_VECTOR : PROMQL_TYPE_MATRIX;
	res->series = calloc(m->n ? m->n : 1, sizeof(*res->series));
	if (!res->series)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		struct pq_series *s = &m->v[i];
		struct promql_series *o = &res->series[res->nseries];

		if (labels_copy(res->arena, &s->ls->ls, &o->metric))
			return -1;
		o->points = (struct promql_point *)s->pts;
		o->npoints = s->n;
		s->pts = NULL;
		s->n = 0;
		res->nseries++;
		if (res->type == PROMQL_TYPE_VECTOR && o->npoints)
			o->points[0].t = ev->start;
	}
	return 0;
}

static int run(struct pq_query *q, const struct promql_node *root, promql_querier_open_fn open,
	       void *arg, struct promql_result *res)
{
	struct pq_node *plan;
	int64_t mint, maxt;
	char err[1024];
	struct pq_ev ev = { .q = q, .start = q->start, .end = q->end,
			    .interval = q->interval ? q->interval : 1 };
	struct pq_value v;
	enum promql_type type = promql_node_type(root);

	if (pq_plan(q, root, &plan))
		return -1;
	pq_plan_min_max(q, plan, &mint, &maxt);
	if (open(arg, mint, maxt, &q->querier, err, sizeof(err)))
		return pq_fail(q, PROMQL_ERR_INTERNAL, "%s", err);
	pq_set_offset_for_at(q->start, plan);
	if (q->interval)
		sort_warnings(q, root);
	if (pq_eval(&ev, plan, &v))
		return -1;
	if (v.is_string) {
		res->type = PROMQL_TYPE_STRING;
		res->scalar.t = q->start;
		res->string.s = arena_strndup(res->arena, v.str.s, v.str.len);
		res->string.len = v.str.len;
		return res->string.s ? 0 : pq_oom(q);
	}
	if (q->delayed && pq_cleanup_names(&ev, &v.m, type == PROMQL_TYPE_VECTOR)) {
		pq_matrix_free(&v.m);
		return -1;
	}
	if (fill_result(&ev, type, &v.m, res)) {
		pq_matrix_free(&v.m);
		return pq_oom(q);
	}
	pq_matrix_free(&v.m);
	return 0;
}

static void query_free(struct pq_query *q)
{
	tsdb_querier_close(q->querier);
	for (size_t i = 0; i < q->nmatchers; i++)
		tsdb_matcher_free(q->matchers[i]);
	free(q->matchers);
	free(q->annos.v);
	pq_lb_free(&q->lb);
	pq_hmap_free(&q->hist_groups);
	arena_free(q->a);
}

static void deadline_after(int64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int prepare(struct promql_engine *e, const struct promql_query *qp, struct pq_query *q,
		   const struct promql_node **root, struct promql_result *res)
{
	struct promql_node *r;
	char err[2048];
	struct labels none = { NULL, 0 };

	if (promql_parse(q->a, qp->expr, &e->opts.parse, &r, NULL, err, sizeof(err))) {
		set_error(res, PROMQL_ERR_BAD_DATA, err);
		return -1;
	}
	if (qp->step_ms && promql_node_type(r) != PROMQL_TYPE_VECTOR &&
	    promql_node_type(r) != PROMQL_TYPE_SCALAR) {
		snprintf(err, sizeof(err), "invalid expression type \"%s\" for range query, must be "
			 "Scalar or instant Vector", promql_type_documented(promql_node_type(r)));
		set_error(res, PROMQL_ERR_BAD_DATA, err);
		return -1;
	}
	q->empty = pq_lset_wrap(q, &none);
	if (!q->empty) {
		set_error(res, PROMQL_ERR_INTERNAL, "out of memory");
		return -1;
	}
	*root = r;
	return 0;
}

int promql_engine_exec(struct promql_engine *e, const struct promql_query *qp,
		       promql_querier_open_fn open, void *arg, struct promql_result *res)
{
	struct pq_query q = { 0 };
	const struct promql_node *root;
	int64_t timeout = qp->timeout_ms > 0 && qp->timeout_ms < e->opts.timeout_ms ?
			  qp->timeout_ms : e->opts.timeout_ms;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	res->arena = arena_new(0);
	q.a = arena_new(0);
	if (!res->arena || !q.a) {
		arena_free(q.a);
		set_error(res, PROMQL_ERR_INTERNAL, "out of memory");
		return -1;
	}
	q.qs = qp->expr;
	q.start = qp->start_ms;
	q.end = qp->end_ms;
	q.interval = qp->step_ms;
	q.lookback = qp->lookback_delta_ms > 0 ? qp->lookback_delta_ms : e->opts.lookback_delta_ms;
	q.subq_step = atomic_load(&e->subq_step);
	q.max_samples = (int64_t)e->opts.max_samples;
	q.delayed = e->opts.delayed_name_removal;
	q.cancel = qp->cancel;
	deadline_after(timeout, &q.deadline);
	if (acquire(e, &q.deadline)) {
		arena_free(q.a);
		set_error(res, PROMQL_ERR_TIMEOUT, "query timed out in query queue");
		return -1;
	}
	if (prepare(e, qp, &q, &root, res) == 0) {
		rc = run(&q, root, open, arg, res);
		if (rc) {
			set_error(res, q.errtype ? q.errtype : PROMQL_ERR_INTERNAL, q.err);
			for (size_t i = 0; i < res->nseries; i++)
				free(res->series[i].points);
			free(res->series);
			res->series = NULL;
			res->nseries = 0;
		}
		if (render_annotations(&q, res)) {
			rc = -1;
			set_error(res, PROMQL_ERR_INTERNAL, "out of memory");
		}
	}
	query_free(&q);
	release(e);
	return rc;
}

void promql_result_free(struct promql_result *res)
{
	for (size_t i = 0; i < res->nseries; i++)
		free(res->series[i].points);
	free(res->series);
	arena_free(res->arena);
	memset(res, 0, sizeof(*res));
}

_Static_assert(sizeof(struct pq_point) == sizeof(struct promql_point) &&
	       offsetof(struct pq_point, t) == offsetof(struct promql_point, t) &&
	       offsetof(struct pq_point, f) == offsetof(struct promql_point, v),
	       "result points are handed over without copying");
