/*
 * The query endpoints of Prometheus' HTTP API: /api/v1/query, /api/v1/query_range,
 * /api/v1/format_query and /api/v1/query_exemplars, GET or POST (form), with
 * Prometheus' parameter rules, error envelopes and JSON shapes.
 *
 * JSON follows upstream's jsoniter encoders exactly: a timestamp is a JSON number of
 * unix seconds written as <seconds>[.<3 digits>] (1700000000.5 is "1700000000.500"),
 * a value a JSON string in Go's shortest 'f' form ('e' below 1e-6 or from 1e21 on),
 * "NaN", "+Inf" or "-Inf". Annotations go to "warnings" and "infos", at most ten of
 * each with a closing "N more ... annotations omitted", as upstream's AsStrings.
 *
 * Errors: bad parameters and parse errors are 400 bad_data with upstream's
 * `invalid parameter "<name>": ...` prefix; evaluation errors 422 execution;
 * timeouts 503 timeout; cancellations 499 canceled; storage failures 500.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "promapi/promapi.h"
#include "promql/promql.h"

#define MAX_ANNOTATIONS 10
#define MAX_POINTS 11000

struct promapi_query_api {
	struct promql_engine *engine;
	promql_querier_open_fn open;
	void *open_arg;
	promapi_exemplars_fn exemplars;
	void *exemplars_arg;
	char *routes[4];
};

/* --- JSON pieces ------------------------------------------------------------------- */

/* jsonutil.MarshalTimestamp: seconds, and the milliseconds as three digits. */
static void put_timestamp(struct jw *w, int64_t t)
{
	char b[32], *p = b + sizeof(b);
	uint64_t u = t < 0 ? (uint64_t)(-(t + 1)) + 1 : (uint64_t)t, s = u / 1000;
	unsigned ms = (unsigned)(u % 1000);

	if (ms) {
		*--p = (char)('0' + ms % 10);
		*--p = (char)('0' + ms / 10 % 10);
		*--p = (char)('0' + ms / 100);
		*--p = '.';
	}
	do {
		*--p = (char)('0' + s % 10);
		s /= 10;
	} while (s);
	if (t < 0)
		*--p = '-';
	jw_raw(w, p, (size_t)(b + sizeof(b) - p));
}

void promapi_put_timestamp(struct jw *w, int64_t ms)
{
	put_timestamp(w, ms);
}

void promapi_format_value(double v, char *out, size_t cap)
{
	promql_format_value(v, out, cap);
}

/* Values are strings; they never need escaping. */
static void put_value(struct jw *w, double v)
{
	char b[48];
	size_t n;

	b[0] = '"';
	n = promql_format_value(v, b + 1, sizeof(b) - 2);
	b[n + 1] = '"';
	jw_raw(w, b, n + 2);
}

static void put_metric(struct jw *w, const struct labels *ls)
{
	jw_obj_begin(w);
	for (size_t i = 0; i < ls->n; i++)
		jw_kstr(w, ls->v[i].name, ls->v[i].value);
	jw_obj_end(w);
}

void promapi_put_labels(struct jw *w, const struct labels *ls)
{
	put_metric(w, ls);
}

static void put_point(struct jw *w, const struct promql_point *p)
{
	jw_arr_begin(w);
	put_timestamp(w, p->t);
	put_value(w, p->v);
	jw_arr_end(w);
}

static void put_result(struct jw *w, const struct promql_result *r)
{
	jw_obj_begin(w);
	jw_kstr(w, "resultType", promql_type_name(r->type));
	jw_key(w, "result");
	switch (r->type) {
	case PROMQL_TYPE_SCALAR:
		put_point(w, &r->scalar);
		break;
	case PROMQL_TYPE_STRING:
		jw_arr_begin(w);
		put_timestamp(w, r->scalar.t);
		jw_strn(w, r->string.s, r->string.len);
		jw_arr_end(w);
		break;
	default:
		jw_arr_begin(w);
		for (size_t i = 0; i < r->nseries; i++) {
			const struct promql_series *s = &r->series[i];

			jw_obj_begin(w);
			jw_key(w, "metric");
			put_metric(w, &s->metric);
			if (r->type == PROMQL_TYPE_VECTOR) {
				jw_key(w, "value");
				put_point(w, &s->points[0]);
			} else {
				jw_key(w, "values");
				jw_arr_begin(w);
				for (size_t k = 0; k < s->npoints; k++)
					put_point(w, &s->points[k]);
				jw_arr_end(w);
			}
			jw_obj_end(w);
		}
		jw_arr_end(w);
		break;
	}
	jw_obj_end(w);
}

static void put_annotations(struct jw *w, const char *key, const char *what,
			    const char *const *v, size_t n)
{
	if (!n)
		return;
	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < n && i < MAX_ANNOTATIONS; i++)
		jw_str(w, v[i]);
	if (n > MAX_ANNOTATIONS) {
		char b[96];

		snprintf(b, sizeof(b), "%zu more %s annotations omitted", n - MAX_ANNOTATIONS, what);
		jw_str(w, b);
	}
	jw_arr_end(w);
}

static void reply_result(struct http_req *req, const struct promql_result *r)
{
	struct buf b = { 0 };
	struct jw w;

	promapi_begin(&w, &b);
	put_result(&w, r);
	put_annotations(&w, "warnings", "warning", r->warnings, r->nwarnings);
	put_annotations(&w, "infos", "info", r->infos, r->ninfos);
	jw_obj_end(&w);
	if (jw_failed(&w)) {
		buf_free(&b);
		http_reply_prom_error(req, 500, "internal", "out of memory encoding the response");
		return;
	}
	http_reply_buf(req, 200, "application/json", &b);
}

/* --- errors ------------------------------------------------------------------------- */

static void bad_param(struct http_req *req, const char *name, const char *msg)
{
	http_reply_prom_error(req, 400, "bad_data", "invalid parameter \"%s\": %s", name, msg);
}

static void reply_error(struct http_req *req, const struct promql_result *r)
{
	switch (r->errtype) {
	case PROMQL_ERR_BAD_DATA:
		bad_param(req, "query", r->err);
		return;
	case PROMQL_ERR_EXECUTION:
		http_reply_prom_error(req, 422, "execution", "%s", r->err);
		return;
	case PROMQL_ERR_TIMEOUT:
		http_reply_prom_error(req, 503, "timeout", "%s", r->err);
		return;
	case PROMQL_ERR_CANCELED:
		http_reply_prom_error(req, 499, "canceled", "%s", r->err);
		return;
	default:
		http_reply_prom_error(req, 500, "internal", "%s", r->err);
		return;
	}
}

/* --- parameters ------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* timeout and lookback_delta, common to both query endpoints. */
static int common_params(struct http_req *req, struct promql_query *q)
{
	const char *to = http_req_arg(req, "timeout"), *lb = http_req_arg(req, "lookback_delta");
	char err[256];

	if (to && *to && promapi_parse_duration(to, &q->timeout_ms, err, sizeof(err))) {
		bad_param(req, "timeout", err);
		return -1;
	}
	if (lb && *lb && promapi_parse_duration(lb, &q->lookback_delta_ms, err, sizeof(err))) {
		http_reply_prom_error(req, 400, "bad_data", "error parsing lookback delta duration: %s",
				      err);
		return -1;
	}
	return 0;
}

static void run_query(struct promapi_query_api *api, struct http_req *req,
		      const struct promql_query *q)
{
	struct promql_result r;

	if (promql_engine_exec(api->engine, q, api->open, api->open_arg, &r))
		reply_error(req, &r);
	else
		reply_result(req, &r);
	promql_result_free(&r);
}

static void handle_query(struct http_req *req, void *ctx)
{
	struct promapi_query_api *api = ctx;
	struct promql_query q = { 0 };
	const char *expr = http_req_arg(req, "query");
	char err[256];
	int64_t t;

	if (promapi_time_param(http_req_arg(req, "time"), now_ms(), &t, err, sizeof(err))) {
		bad_param(req, "time", err);
		return;
	}
	if (common_params(req, &q))
		return;
	q.expr = expr ? expr : "";
	q.start_ms = q.end_ms = t;
	run_query(api, req, &q);
}

static void handle_query_range(struct http_req *req, void *ctx)
{
	struct promapi_query_api *api = ctx;
	struct promql_query q = { 0 };
	const char *expr = http_req_arg(req, "query"), *s = http_req_arg(req, "start");
	const char *e = http_req_arg(req, "end"), *st = http_req_arg(req, "step");
	char err[256];

	if (promapi_parse_time(s ? s : "", &q.start_ms, err, sizeof(err))) {
		bad_param(req, "start", err);
		return;
	}
	if (promapi_parse_time(e ? e : "", &q.end_ms, err, sizeof(err))) {
		bad_param(req, "end", err);
		return;
	}
	if (q.end_ms < q.start_ms) {
		bad_param(req, "end", "end timestamp must not be before start time");
		return;
	}
	if (promapi_parse_duration(st ? st : "", &q.step_ms, err, sizeof(err))) {
		bad_param(req, "step", err);
		return;
	}
	if (q.step_ms <= 0) {
		bad_param(req, "step", "zero or negative query resolution step widths are not "
			  "accepted. Try a positive integer");
		return;
	}
	if ((q.end_ms - q.start_ms) / q.step_ms > MAX_POINTS) {
		http_reply_prom_error(req, 400, "bad_data", "exceeded maximum resolution of 11,000 "
				      "points per timeseries. Try decreasing the query resolution "
				      "(?step=XX)");
		return;
	}
	if (common_params(req, &q))
		return;
	q.expr = expr ? expr : "";
	run_query(api, req, &q);
}

static void handle_format_query(struct http_req *req, void *ctx)
{
	const struct promapi_query_api *api = ctx;
	const char *expr = http_req_arg(req, "query");
	struct arena *a = http_req_arena(req);
	struct promql_node *n;
	struct buf out = { 0 }, b = { 0 };
	struct jw w;
	char err[2048];

	if (promql_parse(a, expr ? expr : "", &promql_engine_options(api->engine)->parse, &n, NULL,
			 err, sizeof(err))) {
		bad_param(req, "query", err);
		return;
	}
	promql_format_pretty(n, &out);
	promapi_begin(&w, &b);
	jw_strn(&w, out.data ? out.data : "", out.len);
	buf_free(&out);
	promapi_reply(req, &w, &b, NULL, 0);
}

static void collect_selectors(const struct promql_node *n, const struct promql_node **out,
			      size_t *count, size_t cap)
{
	if (!n)
		return;
	switch (n->kind) {
	case PROMQL_VECTOR_SELECTOR:
		if (*count < cap)
			out[(*count)++] = n;
		return;
	case PROMQL_MATRIX_SELECTOR:
		collect_selectors(n->matrix.vs, out, count, cap);
		return;
	case PROMQL_SUBQUERY:
		collect_selectors(n->subquery.expr, out, count, cap);
		return;
	case PROMQL_CALL:
		for (size_t i = 0; i < n->call.nargs; i++)
			collect_selectors(n->call.args[i], out, count, cap);
		return;
	case PROMQL_AGGREGATE:
		collect_selectors(n->agg.expr, out, count, cap);
		collect_selectors(n->agg.param, out, count, cap);
		return;
	case PROMQL_BINARY:
		collect_selectors(n->binary.lhs, out, count, cap);
		collect_selectors(n->binary.rhs, out, count, cap);
		return;
	case PROMQL_UNARY:
		collect_selectors(n->unary.expr, out, count, cap);
		return;
	case PROMQL_PAREN:
		collect_selectors(n->paren.expr, out, count, cap);
		return;
	default:
		return;
	}
}

static void handle_exemplars(struct http_req *req, void *ctx)
{
	struct promapi_query_api *api = ctx;
	const char *expr = http_req_arg(req, "query");
	struct arena *a = http_req_arena(req);
	const struct promql_node *sels[256];
	struct promql_node *n;
	struct buf b = { 0 };
	struct jw w;
	size_t nsel = 0;
	int64_t start, end;
	char err[2048];

	if (promapi_time_param(http_req_arg(req, "start"), PROMAPI_MIN_TIME, &start, err,
			       sizeof(err))) {
		bad_param(req, "start", err);
		return;
	}
	if (promapi_time_param(http_req_arg(req, "end"), PROMAPI_MAX_TIME, &end, err, sizeof(err))) {
		bad_param(req, "end", err);
		return;
	}
	if (end < start) {
		bad_param(req, "end", "end timestamp must not be before start time");
		return;
	}
	if (promql_parse(a, expr ? expr : "", &promql_engine_options(api->engine)->parse, &n, NULL,
			 err, sizeof(err))) {
		http_reply_prom_error(req, 400, "bad_data", "%s", err);
		return;
	}
	collect_selectors(n, sels, &nsel, sizeof(sels) / sizeof(sels[0]));
	promapi_begin(&w, &b);
	if (!api->exemplars || !nsel) {
		jw_arr_begin(&w);
		jw_arr_end(&w);
	} else if (api->exemplars(api->exemplars_arg, sels, nsel, start, end, &w, err,
				  sizeof(err))) {
		buf_free(&b);
		http_reply_prom_error(req, 422, "execution", "%s", err);
		return;
	}
	promapi_reply(req, &w, &b, NULL, 0);
}

/* --- registration ------------------------------------------------------------------------ */

int promapi_register_query_routes(struct http_server *s, const char *prefix,
				  promapi_querier_open_fn open, void *arg,
				  const struct promql_engine_opts *opts,
				  struct promapi_query_api **out, char *err, size_t errlen)
{
	static const char *const paths[4] = { "/api/v1/query", "/api/v1/query_range",
					      "/api/v1/format_query", "/api/v1/query_exemplars" };
	static const http_handler_fn fns[4] = { handle_query, handle_query_range,
						handle_format_query, handle_exemplars };
	struct promapi_query_api *api = calloc(1, sizeof(*api));

	*out = NULL;
	if (!api) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	api->open = open;
	api->open_arg = arg;
	if (promql_engine_new(opts, &api->engine, err, errlen))
		goto fail;
	for (size_t i = 0; i < 4; i++) {
		if (asprintf(&api->routes[i], "%s%s", prefix ? prefix : "", paths[i]) < 0) {
			api->routes[i] = NULL;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (http_route(s, HTTP_GET | HTTP_POST, api->routes[i], api->routes[i], fns[i], api)) {
			snprintf(err, errlen, "cannot register %s", api->routes[i]);
			goto fail;
		}
	}
	*out = api;
	return 0;
fail:
	promapi_query_api_free(api);
	return -1;
}

void promapi_query_api_set_exemplars(struct promapi_query_api *api, promapi_exemplars_fn fn,
				     void *arg)
{
	api->exemplars = fn;
	api->exemplars_arg = arg;
}

struct promql_engine *promapi_query_api_engine(struct promapi_query_api *api)
{
	return api->engine;
}

void promapi_query_api_free(struct promapi_query_api *api)
{
	if (!api)
		return;
	promql_engine_free(api->engine);
	for (size_t i = 0; i < 4; i++)
		free(api->routes[i]);
	free(api);
}
