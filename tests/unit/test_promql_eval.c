/*
 * promql_eval: the evaluator and the query API. Engine pieces are checked on small
 * hand-computed cases (rate/increase extrapolation, histogram_quantile, staleness
 * and lookback, matching errors) and on the limits (samples, timeout, cancel,
 * concurrency); the API through a real HTTP server on a loopback port.
 */
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>

#include "http/http.h"
#include "labels/labels.h"
#include "promapi/promapi.h"
#include "promql/promql.h"
#include "tsdb/tsdb.h"

/* --- fixture: a head with a few series ------------------------------------------------ */

struct db {
	struct tsdb_head *head;
	int open_delay_ms;
	sem_t *block;		/* when set, open waits on it */
	sem_t *entered;
};

static void add(struct db *d, const char *spec, int64_t t, double v)
{
	char buf[512], *save = NULL, *tok;
	struct label l[16];
	struct labels ls = { l, 0 };
	uint64_t ref;
	bool created;
	char err[128];

	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		assert_non_null(eq);
		*eq = 0;
		l[ls.n].name = strdup(tok);
		l[ls.n].value = strdup(eq + 1);
		ls.n++;
	}
	labels_sort(&ls);
	assert_int_equal(tsdb_head_append_labels(d->head, &ls, t, v, &ref, &created, err,
						 sizeof(err)), 0);
	for (size_t i = 0; i < ls.n; i++) {
		free((char *)l[i].name);
		free((char *)l[i].value);
	}
}

/* Several samples at one time: spec, value, spec, value, ..., NULL. */
static void adds(struct db *d, int64_t t, ...)
{
	va_list ap;
	const char *spec;

	va_start(ap, t);
	while ((spec = va_arg(ap, const char *)))
		add(d, spec, t, va_arg(ap, double));
	va_end(ap);
}

static int open_head(void *arg, int64_t mint, int64_t maxt, struct tsdb_querier **out, char *err,
		     size_t errlen)
{
	struct db *d = arg;

	if (d->entered)
		sem_post(d->entered);
	if (d->block)
		sem_wait(d->block);
	if (d->open_delay_ms)
		usleep((useconds_t)d->open_delay_ms * 1000);
	return tsdb_head_querier(d->head, mint, maxt, out, err, errlen);
}

static struct db *db_new(void)
{
	struct db *d = calloc(1, sizeof(*d));
	char err[128];

	assert_non_null(d);
	assert_int_equal(tsdb_head_new(NULL, &d->head, err, sizeof(err)), 0);
	return d;
}

static void db_free(struct db *d)
{
	tsdb_head_free(d->head);
	free(d);
}

static struct promql_engine *engine(const struct promql_engine_opts *o)
{
	struct promql_engine *e;
	char err[128];

	assert_int_equal(promql_engine_new(o, &e, err, sizeof(err)), 0);
	return e;
}

static int run(struct promql_engine *e, struct db *d, const char *expr, int64_t start,
	       int64_t end, int64_t step, struct promql_result *r)
{
	struct promql_query q = { .expr = expr, .start_ms = start, .end_ms = end,
				  .step_ms = step };

	return promql_engine_exec(e, &q, open_head, d, r);
}

/* The value of the one element of an instant vector (or of a scalar). */
static double one(struct promql_engine *e, struct db *d, const char *expr, int64_t t)
{
	struct promql_result r;
	double v;

	assert_int_equal(run(e, d, expr, t, t, 0, &r), 0);
	if (r.type == PROMQL_TYPE_SCALAR) {
		v = r.scalar.v;
	} else {
		assert_int_equal(r.type, PROMQL_TYPE_VECTOR);
		assert_int_equal(r.nseries, 1);
		v = r.series[0].points[0].v;
	}
	promql_result_free(&r);
	return v;
}

static size_t count(struct promql_engine *e, struct db *d, const char *expr, int64_t t)
{
	struct promql_result r;
	size_t n;

	assert_int_equal(run(e, d, expr, t, t, 0, &r), 0);
	n = r.nseries;
	promql_result_free(&r);
	return n;
}

static void fails_with(struct promql_engine *e, struct db *d, const char *expr, int64_t t,
		       enum promql_errtype type, const char *substr)
{
	struct promql_result r;

	assert_int_equal(run(e, d, expr, t, t, 0, &r), -1);
	assert_int_equal(r.errtype, type);
	if (!strstr(r.err, substr))
		fail_msg("error \"%s\" does not contain \"%s\"", r.err, substr);
	promql_result_free(&r);
}

/* Each engine test gets a fresh head and a default engine. */
struct fx {
	struct db *d;
	struct promql_engine *e;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->d = db_new();
	f->e = engine(NULL);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	promql_engine_free(f->e);
	db_free(f->d);
	free(f);
	return 0;
}

#define FIXTURE(state)                              \
	struct fx *f = *(state);                    \
	struct db *d = f->d;                        \
	struct promql_engine *e = f->e

/* --- rate / increase / delta ------------------------------------------------------------- */

static void test_rate_extrapolation(void **state)
{
	FIXTURE(state);

	for (int i = 0; i <= 8; i++)
		add(d, "__name__=steady_total", i * 15000, i * 15.0);
	/* (0, 60s]: 15..60 over 45s, extrapolated by 15s to the range start: 1/s */
	assert_float_equal(one(e, d, "rate(steady_total[1m])", 60000), 1.0, 1e-12);
	assert_float_equal(one(e, d, "increase(steady_total[1m])", 60000), 60.0, 1e-9);

	add(d, "__name__=reset_total", 15000, 10);
	add(d, "__name__=reset_total", 30000, 20);
	add(d, "__name__=reset_total", 45000, 5);
	add(d, "__name__=reset_total", 60000, 15);
	/* 15-10 plus 20 lost at the reset, over 45s, extrapolated to 60s */
	assert_float_equal(one(e, d, "increase(reset_total[1m])", 60000), 25.0 * 60 / 45, 1e-9);

	add(d, "__name__=low_total", 15000, 1);
	add(d, "__name__=low_total", 30000, 11);
	add(d, "__name__=low_total", 45000, 21);
	add(d, "__name__=low_total", 60000, 31);
	/* a counter is not extrapolated below zero: it reached 0 only 1.5s before */
	assert_float_equal(one(e, d, "increase(low_total[1m])", 60000), 31.0, 1e-9);
	/* delta is no counter and extrapolates the full 15s */
	assert_float_equal(one(e, d, "delta(low_total[1m])", 60000), 40.0, 1e-9);
	/* irate uses the last two samples */
	assert_float_equal(one(e, d, "irate(low_total[1m])", 60000), 10.0 / 15, 1e-12);
	/* one sample is not enough */
	assert_int_equal(count(e, d, "rate(low_total[10s])", 60000), 0);
	/* the name does not end in _total: an info annotation */
	add(d, "__name__=gauge", 15000, 1);
	add(d, "__name__=gauge", 30000, 2);
	{
		struct promql_result r;

		assert_int_equal(run(e, d, "rate(gauge[1m])", 60000, 60000, 0, &r), 0);
		assert_int_equal(r.ninfos, 1);
		assert_string_equal(r.infos[0], "PromQL info: metric might not be a counter, name "
				    "does not end in _total/_sum/_count/_bucket: \"gauge\" (1:6)");
		promql_result_free(&r);
	}
}

/* --- histogram_quantile ------------------------------------------------------------------ */

static void test_histogram_quantile(void **state)
{
	FIXTURE(state);
	struct promql_result r;

	adds(d, 0,
	     "__name__=h_bucket,le=0.1", 10.0,
	     "__name__=h_bucket,le=0.5", 20.0,
	     "__name__=h_bucket,le=1", 40.0,
	     "__name__=h_bucket,le=+Inf", 40.0,
	     NULL);
	assert_float_equal(one(e, d, "histogram_quantile(0.5, h_bucket)", 0), 0.5, 1e-12);
	assert_float_equal(one(e, d, "histogram_quantile(0.9, h_bucket)", 0), 0.9, 1e-12);
	/* the lowest bucket interpolates from 0 */
	assert_float_equal(one(e, d, "histogram_quantile(0.05, h_bucket)", 0), 0.02, 1e-12);
	assert_float_equal(one(e, d, "histogram_fraction(0, 0.5, h_bucket)", 0), 0.5, 1e-12);
	/* outside [0, 1]: +Inf and a warning at the parameter */
	assert_int_equal(run(e, d, "histogram_quantile(1.5, h_bucket)", 0, 0, 0, &r), 0);
	assert_true(isinf(r.series[0].points[0].v));
	assert_int_equal(r.nwarnings, 1);
	assert_string_equal(r.warnings[0], "PromQL warning: quantile value should be between 0 "
			    "and 1, got 1.5 (1:20)");
	assert_int_equal(r.series[0].metric.n, 0);
	promql_result_free(&r);

	/* no +Inf bucket: NaN */
	add(d, "__name__=open_bucket,le=1", 0, 1);
	assert_true(isnan(one(e, d, "histogram_quantile(0.5, open_bucket)", 0)));

	/* decreasing counts are flattened, and an info says so */
	adds(d, 0,
	     "__name__=bad_bucket,le=1", 10.0,
	     "__name__=bad_bucket,le=2", 5.0,
	     "__name__=bad_bucket,le=+Inf", 20.0,
	     NULL);
	assert_int_equal(run(e, d, "histogram_quantile(0.25, bad_bucket)", 0, 0, 0, &r), 0);
	assert_float_equal(r.series[0].points[0].v, 0.5, 1e-12);
	assert_int_equal(r.ninfos, 1);
	assert_non_null(strstr(r.infos[0], "needed to be fixed for monotonicity"));
	promql_result_free(&r);
}

/* --- staleness and lookback ------------------------------------------------------------- */

static void test_staleness_lookback(void **state)
{
	FIXTURE(state);
	struct promql_engine_opts o = { .lookback_delta_ms = 60000 };
	struct promql_engine *short_lb = engine(&o);
	struct promql_query q = { .expr = "once", .start_ms = 60000, .end_ms = 60000,
				  .lookback_delta_ms = 30000 };
	struct promql_result r;

	add(d, "__name__=once", 0, 7);
	assert_float_equal(one(e, d, "once", 299999), 7, 0);
	assert_int_equal(count(e, d, "once", 300000), 0);
	assert_float_equal(one(e, d, "once", 0), 7, 0);
	assert_int_equal(count(e, d, "once", -1), 0);
	/* the engine's and a query's own lookback delta */
	assert_float_equal(one(short_lb, d, "once", 59999), 7, 0);
	assert_int_equal(count(short_lb, d, "once", 60000), 0);
	assert_int_equal(promql_engine_exec(e, &q, open_head, d, &r), 0);
	assert_int_equal(r.nseries, 0);
	promql_result_free(&r);

	/* a staleness marker ends the series at once */
	add(d, "__name__=gone", 0, 1);
	add(d, "__name__=gone", 10000, tsdb_stale_nan());
	assert_float_equal(one(e, d, "gone", 9999), 1, 0);
	assert_int_equal(count(e, d, "gone", 10000), 0);
	assert_int_equal(count(e, d, "gone", 20000), 0);
	/* and is not a sample of a range */
	assert_float_equal(one(e, d, "count_over_time(gone[1m])", 20000), 1, 0);
	/* ranges are left-open: a sample exactly at t-range is out */
	assert_int_equal(count(e, d, "count_over_time(once[1m])", 60000), 0);
	assert_float_equal(one(e, d, "count_over_time(once[1m])", 59999), 1, 0);

	/* a range query: one point per step within the lookback */
	assert_int_equal(run(e, d, "once", 0, 600000, 60000, &r), 0);
	assert_int_equal(r.type, PROMQL_TYPE_MATRIX);
	assert_int_equal(r.nseries, 1);
	assert_int_equal(r.series[0].npoints, 5);
	assert_int_equal(r.series[0].points[4].t, 240000);
	promql_result_free(&r);
	promql_engine_free(short_lb);
}

/* --- subqueries without a step ---------------------------------------------------------- */

static void test_subquery_default_step(void **state)
{
	FIXTURE(state);
	struct promql_engine_opts o = { .subquery_step_ms = 15000 };
	struct promql_engine *e15 = engine(&o);

	/* A sample every 10 s for 15 minutes: every subquery step finds one. */
	for (int64_t t = 0; t <= 900000; t += 10000)
		add(d, "__name__=foo", t, 1);
	/* (300 s, 900 s] at 1m: 360, 420, ... 900 */
	assert_float_equal(one(e, d, "count_over_time(foo[5m:])", 900000), 5, 0);
	assert_float_equal(one(e15, d, "count_over_time(foo[5m:])", 900000), 20, 0);
	/* The config's evaluation_interval, changed while the engine runs. */
	promql_engine_set_subquery_step(e, 30000);
	assert_float_equal(one(e, d, "count_over_time(foo[5m:])", 900000), 10, 0);
	assert_float_equal(one(e, d, "count_over_time(foo[5m:1m])", 900000), 5, 0);
	promql_engine_set_subquery_step(e, 0); /* back to the default, 1m */
	assert_float_equal(one(e, d, "count_over_time(foo[5m:])", 900000), 5, 0);
	promql_engine_free(e15);
}

/* --- matching and labels ---------------------------------------------------------------- */

static void test_matching_errors(void **state)
{
	FIXTURE(state);
	struct promql_result r;

	adds(d, 0,
	     "__name__=a,job=x,i=1", 1.0,
	     "__name__=a,job=x,i=2", 2.0,
	     "__name__=b,job=x", 10.0,
	     "__name__=c,job=x", 3.0,
	     "__name__=c,job=y", 4.0,
	     NULL);

	fails_with(e, d, "b + on(job) a", 0, PROMQL_ERR_EXECUTION,
		   "found duplicate series for the match group {job=\"x\"} on the right hand-side "
		   "of the operation: [{__name__=\"a\", i=\"2\", job=\"x\"}, {__name__=\"a\", "
		   "i=\"1\", job=\"x\"}];many-to-many matching not allowed: matching labels must "
		   "be unique on one side");
	fails_with(e, d, "a + on(job) b", 0, PROMQL_ERR_EXECUTION,
		   "multiple matches for labels: many-to-one matching must be explicit "
		   "(group_left/group_right)");
	/* group_left makes it a valid many-to-one match */
	assert_int_equal(count(e, d, "a + on(job) group_left b", 0), 2);
	assert_float_equal(one(e, d, "sum(a * on(job) group_left b)", 0), 30, 0);
	/* unmatched series drop out; set operators */
	assert_int_equal(count(e, d, "c - on(job) b", 0), 1);
	assert_int_equal(count(e, d, "c unless on(job) b", 0), 1);
	assert_int_equal(count(e, d, "a or c", 0), 4);
	/* comparisons keep the name, arithmetic drops it */
	assert_int_equal(run(e, d, "c > 3", 0, 0, 0, &r), 0);
	assert_int_equal(r.nseries, 1);
	assert_string_equal(labels_get(&r.series[0].metric, "__name__"), "c");
	promql_result_free(&r);
	assert_int_equal(run(e, d, "c{job=\"y\"} * 2", 0, 0, 0, &r), 0);
	assert_null(labels_get(&r.series[0].metric, "__name__"));
	assert_float_equal(r.series[0].points[0].v, 8, 0);
	promql_result_free(&r);
	/* two series that differ only by name collide once the name is dropped */
	fails_with(e, d, "ceil({__name__=~\"b|c\", job=\"x\"})", 0, PROMQL_ERR_EXECUTION,
		   "vector cannot contain metrics with the same labelset");
	/* type errors are bad data */
	fails_with(e, d, "rate(a)", 0, PROMQL_ERR_BAD_DATA, "expected type range vector");
}

static void test_aggregations(void **state)
{
	FIXTURE(state);
	struct promql_result r;

	for (int i = 1; i <= 4; i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "__name__=m,g=%s,i=%d", i <= 2 ? "a" : "b", i);
		add(d, spec, 0, i * 1.5);
	}
	assert_float_equal(one(e, d, "sum(m)", 0), 15, 0);
	assert_float_equal(one(e, d, "avg(m)", 0), 3.75, 1e-12);
	assert_float_equal(one(e, d, "quantile(0.5, m)", 0), 3.75, 1e-12);
	assert_float_equal(one(e, d, "stdvar(m)", 0), 2.8125, 1e-12);
	assert_int_equal(count(e, d, "sum by (g) (m)", 0), 2);
	assert_int_equal(count(e, d, "count_values(\"v\", m)", 0), 4);
	assert_int_equal(run(e, d, "topk(2, m)", 0, 0, 0, &r), 0);
	assert_int_equal(r.nseries, 2);
	assert_float_equal(r.series[0].points[0].v, 6, 0);
	assert_float_equal(r.series[1].points[0].v, 4.5, 0);
	promql_result_free(&r);
	assert_int_equal(run(e, d, "sort_desc(sum by (g) (m))", 0, 0, 0, &r), 0);
	assert_string_equal(labels_get(&r.series[0].metric, "g"), "b");
	promql_result_free(&r);
	fails_with(e, d, "topk(scalar(nothing), m)", 0, PROMQL_ERR_EXECUTION,
		   "Parameter value is NaN");
}

static int cmp_series(const void *a, const void *b)
{
	return labels_compare(&((const struct promql_series *)a)->metric,
			      &((const struct promql_series *)b)->metric);
}

/* A range query aggregates a block of steps at a time, series by series, when it can;
 * with thousands of groups the blocks are a few steps long. A range function of a
 * selector under a few groups is folded as its series come, without its matrix.
 * Each step must equal the instant query at that time (which aggregates one step at
 * a time), to the bit. */
static void test_aggregation_blocks(void **state)
{
	FIXTURE(state);
	static const char *const exprs[] = {
		"sum by (g) (m)", "avg by (g) (m)", "count by (g) (m)", "max by (g) (m)",
		"min by (g) (m)", "stddev by (g) (m)", "group by (g) (m)", "sum(m)",
		"sum by (h) (rate(m[1m]))", "avg by (h) (rate(m[1m]))",
		"stddev by (h) (rate(m[1m]))", "count without (g, i) (rate(m[1m]))",
		"max by (h) (increase(m[1m]))", "sum(avg_over_time(m[45s]))",
	};
	const int nseries = 6000, nsteps = 12;

	for (int i = 0; i < nseries; i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "__name__=m,g=%d,h=%d,i=%d", i / 2, i % 7, i);
		for (int k = i % 5; k < nsteps; k++)
			add(d, spec, k * 15000, (double)((i * 7 + k * 3) % 101) / 10.0 - 3.3);
	}
	for (size_t x = 0; x < sizeof(exprs) / sizeof(exprs[0]); x++) {
		struct promql_result rr;
		size_t points = 0;

		assert_int_equal(run(e, d, exprs[x], 0, (nsteps - 1) * 15000, 15000, &rr), 0);
		for (int k = 0; k < nsteps; k++) {
			struct promql_result ri;

			assert_int_equal(run(e, d, exprs[x], k * 15000, k * 15000, 0, &ri), 0);
			for (size_t j = 0; j < ri.nseries; j++) {
				const struct promql_series *want = &ri.series[j], *got;
				const struct promql_point *pt = NULL;

				/* a matrix comes sorted by labels */
				got = bsearch(want, rr.series, rr.nseries, sizeof(*got), cmp_series);
				for (size_t p2 = 0; got && p2 < got->npoints; p2++)
					if (got->points[p2].t == k * 15000)
						pt = &got->points[p2];
				if (!pt)
					fail_msg("%s at step %d: a series is missing", exprs[x], k);
				if (memcmp(&pt->v, &want->points[0].v, sizeof(double)))
					fail_msg("%s at step %d: %.17g vs %.17g", exprs[x], k, pt->v,
						 want->points[0].v);
				points++;
			}
			promql_result_free(&ri);
		}
		for (size_t s2 = 0; s2 < rr.nseries; s2++)
			points -= rr.series[s2].npoints;
		assert_int_equal(points, 0);
		promql_result_free(&rr);
	}
}

/* clamp follows Go's math.Min/Max, found by the differential test against Prometheus:
 * the infinity in the clamping direction beats a NaN bound, and zeros keep their sign. */
static void test_clamp_special_values(void **state)
{
	FIXTURE(state);

	assert_true(isinf(one(e, d, "clamp_max(vector(-Inf), NaN)", 0)));
	assert_true(one(e, d, "clamp_max(vector(-Inf), NaN)", 0) < 0);
	assert_true(isinf(one(e, d, "clamp_min(vector(Inf), NaN)", 0)));
	assert_true(one(e, d, "clamp_min(vector(Inf), NaN)", 0) > 0);
	assert_true(isnan(one(e, d, "clamp_max(vector(Inf), NaN)", 0)));
	assert_true(isnan(one(e, d, "clamp_min(vector(1), NaN)", 0)));
	assert_true(isnan(one(e, d, "clamp(vector(NaN), 0, 1)", 0)));
	assert_float_equal(one(e, d, "clamp(vector(7), -Inf, Inf)", 0), 7, 0);
	assert_true(signbit(one(e, d, "clamp(vector(-0), -1, 0)", 0)));
	assert_false(signbit(one(e, d, "clamp(vector(-0), 0, 1)", 0)));
	assert_int_equal(count(e, d, "clamp(vector(1), 2, 1)", 0), 0);
}

/* --- limits -------------------------------------------------------------------------------- */

struct bg {
	struct promql_engine *e;
	struct db *d;
	int rc;
};

static void *bg_query(void *arg)
{
	struct bg *b = arg;
	struct promql_result r;

	b->rc = run(b->e, b->d, "1", 0, 0, 0, &r);
	promql_result_free(&r);
	return NULL;
}

static void test_limits(void **state)
{
	struct db *d = ((struct fx *)*state)->d;
	struct promql_engine_opts o = { .max_samples = 100 };
	struct promql_engine *e = engine(&o);
	struct promql_result r;
	_Atomic bool cancel = true;
	struct promql_query q = { .expr = "sum(s)", .start_ms = 0, .end_ms = 0, .cancel = &cancel };

	for (int i = 0; i < 150; i++)
		add(d, "__name__=s", i * 1000, i);
	/* a window of 60 samples fits, a range vector of 150 does not */
	assert_float_equal(one(e, d, "count_over_time(s[1m])", 149000), 60, 0);
	fails_with(e, d, "s[3m]", 149000, PROMQL_ERR_EXECUTION,
		   "query processing would load too many samples into memory in query execution");
	/* a range query over many steps fails the same way, alone */
	assert_int_equal(run(e, d, "s", 0, 200000, 1000, &r), -1);
	assert_string_equal(r.err, "query processing would load too many samples into memory "
			    "in query execution");
	promql_result_free(&r);
	assert_float_equal(one(e, d, "sum(s)", 10000), 10, 0);

	/* cancellation */
	assert_int_equal(promql_engine_exec(e, &q, open_head, d, &r), -1);
	assert_int_equal(r.errtype, PROMQL_ERR_CANCELED);
	assert_string_equal(r.err, "query was canceled in expression evaluation");
	promql_result_free(&r);

	/* timeout: the querier takes longer than the query may */
	d->open_delay_ms = 30;
	q.cancel = NULL;
	q.timeout_ms = 5;
	assert_int_equal(promql_engine_exec(e, &q, open_head, d, &r), -1);
	assert_int_equal(r.errtype, PROMQL_ERR_TIMEOUT);
	assert_string_equal(r.err, "query timed out in expression evaluation");
	promql_result_free(&r);
	d->open_delay_ms = 0;
	promql_engine_free(e);
}

static void test_concurrency(void **state)
{
	struct db *d = ((struct fx *)*state)->d;
	struct promql_engine_opts o = { .max_concurrency = 1 };
	struct promql_engine *e = engine(&o);
	struct promql_query q = { .expr = "2", .timeout_ms = 50 };
	struct promql_result r;
	sem_t block, entered;
	struct bg b = { e, d, -5 };
	pthread_t th;

	sem_init(&block, 0, 0);
	sem_init(&entered, 0, 0);
	d->block = &block;
	d->entered = &entered;
	assert_int_equal(pthread_create(&th, NULL, bg_query, &b), 0);
	sem_wait(&entered);	/* the first query holds the only slot */
	assert_int_equal(promql_engine_exec(e, &q, open_head, d, &r), -1);
	assert_int_equal(r.errtype, PROMQL_ERR_TIMEOUT);
	assert_string_equal(r.err, "query timed out in query queue");
	promql_result_free(&r);
	d->entered = NULL;
	sem_post(&block);
	pthread_join(th, NULL);
	assert_int_equal(b.rc, 0);
	d->block = NULL;
	assert_float_equal(one(e, d, "2", 0), 2, 0);
	sem_destroy(&block);
	sem_destroy(&entered);
	promql_engine_free(e);
}

/* --- the HTTP API ---------------------------------------------------------------------------- */

struct api_fixture {
	struct db *d;
	struct http_server *s;
	struct promapi_query_api *api;
	unsigned short port;
	CURL *c;
};

static struct api_fixture *api_start(void)
{
	struct api_fixture *f = calloc(1, sizeof(*f));
	struct http_server_config cfg = { .listen_address = "127.0.0.1:0", .threads = 2 };
	char err[256];

	assert_non_null(f);
	f->d = db_new();
	assert_int_equal(http_server_new(&cfg, &f->s, err, sizeof(err)), 0);
	assert_int_equal(promapi_register_query_routes(f->s, "", open_head, f->d, NULL, &f->api,
						       err, sizeof(err)), 0);
	assert_int_equal(http_server_start(f->s, err, sizeof(err)), 0);
	f->port = http_server_port(f->s);
	f->c = curl_easy_init();
	assert_non_null(f->c);
	return f;
}

static void api_stop(struct api_fixture *f)
{
	curl_easy_cleanup(f->c);
	http_server_free(f->s);
	promapi_query_api_free(f->api);
	db_free(f->d);
	free(f);
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	buf_append(ud, p, sz * n);
	return sz * n;
}

/* GET when form is NULL, else POST the form. Returns the status; body in out. */
static long call(struct api_fixture *f, const char *path, const char *form, struct buf *out)
{
	char url[1024];
	long status = 0;

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", f->port, path);
	curl_easy_reset(f->c);
	curl_easy_setopt(f->c, CURLOPT_URL, url);
	curl_easy_setopt(f->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(f->c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(f->c, CURLOPT_NOSIGNAL, 1L);
	if (form)
		curl_easy_setopt(f->c, CURLOPT_POSTFIELDS, form);
	assert_int_equal(curl_easy_perform(f->c), CURLE_OK);
	curl_easy_getinfo(f->c, CURLINFO_RESPONSE_CODE, &status);
	buf_putc(out, 0);
	return status;
}

static void expect_body(struct api_fixture *f, const char *path, const char *form, long status,
			const char *body)
{
	struct buf b;
	long got = call(f, path, form, &b);

	if (got != status || strcmp(b.data, body))
		fail_msg("%s: got %ld %s, want %ld %s", path, got, b.data, status, body);
	buf_free(&b);
}

static const struct api_case {
	const char *path, *form;
	long status;
	const char *body;
} api_cases[] = {
	/* Grafana's health check: a scalar with a numeric timestamp */
	{ "/api/v1/query", "query=1%2B1&time=4", 200,
	  "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[4,\"2\"]}}" },
	{ "/api/v1/query?query=up&time=1700000000.123", NULL, 200,
	  "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	  "{\"__name__\":\"up\",\"instance\":\"a\",\"job\":\"node\"},\"value\":"
	  "[1700000000.123,\"1\"]}]}}" },
	{ "/api/v1/query_range", "query=up&start=1700000000&end=1700000015.5&step=7.5",
	  200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{"
	  "\"metric\":{\"__name__\":\"up\",\"instance\":\"a\",\"job\":\"node\"},\"values\":"
	  "[[1700000000,\"1\"],[1700000007.500,\"1\"],[1700000015,\"0\"]]}]}}" },
	{ "/api/v1/query?query=tiny&time=1700000000", NULL, 200,
	  "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
	  "{\"__name__\":\"tiny\"},\"value\":[1700000000,\"1e-07\"]}]}}" },
	{ "/api/v1/query?query=%22hi%22&time=4", NULL, 200,
	  "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[4,\"hi\"]}}" },
	/* annotations */
	{ "/api/v1/query?query=rate(up%5B1m%5D)&time=1700000015", NULL, 200,
	  "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{"
	  "\"metric\":{\"instance\":\"a\",\"job\":\"node\"},\"value\":[1700000015,\"0\"]}]},"
	  "\"infos\":[\"PromQL info: metric might not be a counter, name does not end in "
	  "_total/_sum/_count/_bucket: \\\"up\\\" (1:6)\"]}" },

	/* errors */
	{ "/api/v1/query?query=sum(", NULL, 400,
	  "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
	  "\\\"query\\\": 1:5: parse error: unclosed left parenthesis\"}" },
	{ "/api/v1/query?query=up&time=soon", NULL, 400,
	  "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
	  "\\\"time\\\": cannot parse \\\"soon\\\" to a valid timestamp\"}" },
	{ "/api/v1/query_range?query=up&start=0&end=11001&step=1", NULL, 400,
	  "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"exceeded maximum "
	  "resolution of 11,000 points per timeseries. Try decreasing the query resolution "
	  "(?step=XX)\"}" },
	{ "/api/v1/query_range?query=up&start=10&end=0&step=1", NULL, 400,
	  "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
	  "\\\"end\\\": end timestamp must not be before start time\"}" },
	{ "/api/v1/query_range?query=up&start=0&end=10&step=0", NULL, 400,
	  "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
	  "\\\"step\\\": zero or negative query resolution step widths are not accepted. "
	  "Try a positive integer\"}" },
	{ "/api/v1/query_range?query=up%5B1m%5D&start=0&end=10&step=1", NULL, 400,
	  "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter "
	  "\\\"query\\\": invalid expression type \\\"range vector\\\" for range query, "
	  "must be Scalar or instant Vector\"}" },
	{ "/api/v1/query?query=topk(scalar(x),up)&time=1700000000", NULL, 422,
	  "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"Parameter value is "
	  "NaN\"}" },

	/* format_query and exemplars */
	{ "/api/v1/format_query", "query=sum(rate(x%5B5m%5D))by(job)", 200,
	  "{\"status\":\"success\",\"data\":\"sum by (job) (rate(x[5m]))\"}" },
	{ "/api/v1/query_exemplars?query=test&start=1700000000000&end=1700000001000",
	  NULL, 200, "{\"status\":\"success\",\"data\":[]}" },
};

static void test_api(void **state)
{
	struct api_fixture *f = api_start();

	add(f->d, "__name__=up,job=node,instance=a", 1700000000000, 1);
	add(f->d, "__name__=up,job=node,instance=a", 1700000015000, 0);
	add(f->d, "__name__=tiny", 1700000000000, 1e-7);

	/* Grafana's health check: a scalar with a numeric timestamp */
	for (size_t i = 0; i < sizeof(api_cases) / sizeof(api_cases[0]); i++)
		expect_body(f, api_cases[i].path, api_cases[i].form, api_cases[i].status,
			    api_cases[i].body);
	api_stop(f);
}

static void test_value_format(void **state)
{
	char b[64];

	promapi_format_value(0.1, b, sizeof(b));
	assert_string_equal(b, "0.1");
	promapi_format_value(1e21, b, sizeof(b));
	assert_string_equal(b, "1e+21");
	promapi_format_value(123456789012345678.0, b, sizeof(b));
	assert_string_equal(b, "123456789012345680");
	promapi_format_value(-2.5e-7, b, sizeof(b));
	assert_string_equal(b, "-2.5e-07");
	promapi_format_value(NAN, b, sizeof(b));
	assert_string_equal(b, "NaN");
	promapi_format_value(-INFINITY, b, sizeof(b));
	assert_string_equal(b, "-Inf");
	promapi_format_value(9.9999999999999995e22, b, sizeof(b));
	assert_string_equal(b, "1e+23");
	promapi_format_value(0.30000000000000004, b, sizeof(b));
	assert_string_equal(b, "0.30000000000000004");
}

/* The significant digits of a formatted value, without leading or trailing zeros. */
static void sig_digits(const char *s, char *out)
{
	size_t n = 0;

	for (; *s && *s != 'e'; s++)
		if (*s >= '0' && *s <= '9' && (n || *s != '0'))
			out[n++] = *s;
	while (n > 1 && out[n - 1] == '0')
		n--;
	out[n] = 0;
}

/* The shortest digits that read back, by trying every precision (the slow way). */
static void ref_digits(double v, char *out)
{
	char tmp[40];

	for (int p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	sig_digits(tmp, out);
}

/* Values as computations make them (ratios, rates, sums of decimals), raw bit
 * patterns, values near powers of ten and of two, powers of two, and long decimals:
 * the fast exact path and its fallback must both give the shortest digits. */
static void test_value_shortest(void **state)
{
	uint64_t x = 88172645463325252ull;
	char b[64], got[32], want[32];

	for (int i = 0; i < 200000; i++) {
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		switch (i % 7) {
		case 0: memcpy(&v, &x, sizeof(v)); break;
		case 1: v = (double)(x % 1000000) / (double)(x % 997 + 1); break;
		case 2: v = (double)(x % 100000) / 100.0; break;
		case 3: v = pow(10, (double)(x % 40) - 20) * (1 + (double)(x % 3) * 1e-16); break;
		case 4: v = ldexp(1.0, (int)(x % 200) - 100) - ldexp(1.0, (int)(x % 200) - 153); break;
		case 5: /* powers of two: the rounding interval is narrower below */
			v = ldexp(1.0, (int)(x % 2000) - 1000);
			break;
		default: { /* 16-18 digit decimals: candidates near the interval's edges */
			char dec[40];

			snprintf(dec, sizeof(dec), "%llu.%llue%d", (unsigned long long)(x % 10),
				 (unsigned long long)(x >> 8) % 100000000000000000ull,
				 (int)(x % 80) - 40);
			v = strtod(dec, NULL);
			break;
		}
		}
		if (!isfinite(v) || v == 0)
			continue;
		promapi_format_value(v, b, sizeof(b));
		assert_true(strtod(b, NULL) == v);
		sig_digits(b, got);
		ref_digits(v, want);
		if (strcmp(got, want))
			fail_msg("%.17g: formatted %s, shortest digits %s", v, b, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rate_extrapolation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_histogram_quantile, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_staleness_lookback, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_subquery_default_step, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_matching_errors, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_aggregations, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_aggregation_blocks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_clamp_special_values, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, fx_setup, fx_teardown),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_value_format),
		cmocka_unit_test(test_value_shortest),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("promql_eval", tests, NULL, NULL);
	curl_global_cleanup();
	labels_regex_thread_cleanup();
	return rc;
}
