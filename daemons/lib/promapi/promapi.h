/*
 * promapi: the pieces of Prometheus' HTTP API every endpoint shares: the success
 * envelope {"status":"success","data":...,"warnings":[...]}, and the parsing of time
 * and duration parameters with Prometheus' rules and error texts. Used by
 * lgtm-metrics and lgtm-longterm (and under /prometheus).
 *
 * Thread-safe; no state.
 */
#ifndef LGTM_PROMAPI_H
#define LGTM_PROMAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf/buf.h"
#include "json/json.h"

struct arena;
struct http_req;
struct http_server;

/* Start a success envelope: writes {"status":"success","data": — the caller writes
 * the data value next, then calls promapi_reply(). */
void promapi_begin(struct jw *w, struct buf *b);
/* Close the envelope (with "warnings" when nwarn > 0) and send it with status 200;
 * a writer failure becomes a 500. Takes the buffer. */
void promapi_reply(struct http_req *req, struct jw *w, struct buf *b, const char *const *warnings,
		   size_t nwarn);

/* Prometheus' parseTime: unix seconds with an optional fraction ("1700000000.123"), or
 * RFC 3339 with optional fractional seconds. Result in milliseconds. The error reads
 * `cannot parse "<s>" to a valid timestamp`. */
int promapi_parse_time(const char *s, int64_t *ms, char *err, size_t errlen);
/* Prometheus' parseDuration: float seconds ("15", "0.5") or a duration ("1m30s").
 * The error reads `cannot parse "<s>" to a valid duration`. */
int promapi_parse_duration(const char *s, int64_t *ms, char *err, size_t errlen);
/* A time parameter with a default when absent (Prometheus' minTime/maxTime style). */
int promapi_time_param(const char *v, int64_t dflt, int64_t *ms, char *err, size_t errlen);

/* Opens a querier over [mint, maxt] for a request (the request lets a multi-tenant
 * daemon pick the tenant from X-Scope-OrgID). 0, or -1 with err (a 500/503). */
struct tsdb_querier;
typedef int (*promapi_open_querier_fn)(void *arg, struct http_req *req, int64_t mint,
				       int64_t maxt, struct tsdb_querier **q, char *err,
				       size_t errlen);

/* Where the API's handlers get their data; owned by the caller and kept alive as
 * long as the server serves. */
struct promapi_source {
	promapi_open_querier_fn open;
	void *arg;
};

/* GET|POST <prefix>/api/v1/series, GET|POST <prefix>/api/v1/labels and
 * GET <prefix>/api/v1/label/:name/values, with match[], start, end and limit as
 * Prometheus 3 takes them. prefix is "" or e.g. "/prometheus". */
int promapi_register_metadata_routes(struct http_server *s, const char *prefix,
				     const struct promapi_source *src);

/* match[] parameters parsed as PromQL series selectors into TSDB matchers. */
struct tsdb_matcher;
struct promapi_selector {
	struct tsdb_matcher *ms;
	size_t n;
};

/* All match[] values of the request (query string, then form). With `selective`, a
 * selector whose every matcher matches "" is refused ("match[] must contain at least
 * one non-empty matcher"), as the series API does. Arrays live in the request arena;
 * release the matchers with promapi_selectors_free(). 0, or -1 with err (a 400). */
int promapi_parse_matches(struct http_req *req, bool selective, struct promapi_selector **out,
			  size_t *n, char *err, size_t errlen);
/* The matchers of one parsed vector selector (a PROMQL_VECTOR_SELECTOR node), the
 * array in `a`. out->n counts the matchers made, also on failure (a bad regex):
 * release with promapi_selectors_free() either way. */
struct promql_node;
int promapi_selector_from_node(struct arena *a, const struct promql_node *vs,
			       struct promapi_selector *out, char *err, size_t errlen);
void promapi_selectors_free(struct promapi_selector *s, size_t n);

/* The widest times Prometheus accepts ("the beginning and end of time"). */
#define PROMAPI_MIN_TIME INT64_C(-9223309901257974)
#define PROMAPI_MAX_TIME INT64_C(9223309901257974)

/* ==== query API (query_api.c) ==========================================================
 *
 * /api/v1/query, /api/v1/query_range, /api/v1/format_query and
 * /api/v1/query_exemplars (GET and POST form) over a PromQL engine that this API
 * owns. Handlers are thread-safe; the engine limits concurrent queries.
 */

struct http_server;
struct promapi_query_api;
struct promql_node;
struct promql_engine;
struct promql_engine_opts;

/* The querier factory the engine uses (promql.h's promql_querier_open_fn). */
struct tsdb_querier;
typedef int (*promapi_querier_open_fn)(void *arg, int64_t mint, int64_t maxt,
				       struct tsdb_querier **out, char *err, size_t errlen);

/* An exemplar source: write the "data" array of /api/v1/query_exemplars for the
 * query's selectors over [start_ms, end_ms]; -1 with err filled on failure. Without
 * one the endpoint answers an empty list. */
typedef int (*promapi_exemplars_fn)(void *arg, const struct promql_node *const *selectors,
				    size_t n, int64_t start_ms, int64_t end_ms, struct jw *w,
				    char *err, size_t errlen);

/* Register the query routes under `prefix` ("" or e.g. "/prometheus") and create
 * the engine with `opts` (NULL: defaults). Free with promapi_query_api_free() after
 * the server is freed. */
int promapi_register_query_routes(struct http_server *s, const char *prefix,
				  promapi_querier_open_fn open, void *arg,
				  const struct promql_engine_opts *opts,
				  struct promapi_query_api **out, char *err, size_t errlen);
void promapi_query_api_set_exemplars(struct promapi_query_api *api, promapi_exemplars_fn fn,
				     void *arg);
struct promql_engine *promapi_query_api_engine(struct promapi_query_api *api);
void promapi_query_api_free(struct promapi_query_api *api);

/* A sample value as the API writes it (Go's FormatFloat 'f', or 'e' below 1e-6 and
 * from 1e21 on; "NaN", "+Inf", "-Inf"). */
void promapi_format_value(double v, char *out, size_t cap);
/* A timestamp (ms) as the API writes it: a JSON number of seconds, with three
 * decimals when there are milliseconds (upstream's jsonutil.MarshalTimestamp). */
void promapi_put_timestamp(struct jw *w, int64_t ms);
/* A label set as a JSON object {"name":"value",...}, in the set's order. */
struct labels;
void promapi_put_labels(struct jw *w, const struct labels *ls);

/* ==== exemplars over a TSDB exemplar store (exemplars.c) ================================
 *
 * A promapi_exemplars_fn whose arg is a struct tsdb_exemplars * (tsdb.h): each
 * selector's matchers form one matcher set, a series whose labels match any set
 * gives its exemplars in [start_ms, end_ms], and the data is Prometheus' array
 * [{"seriesLabels":{...},"exemplars":[{"labels":{...},"value":"<v>",
 * "timestamp":<seconds>}]}], series sorted by labels, exemplars by time. A NULL arg
 * (exemplar storage off) answers []. Thread-safe.
 */
int promapi_store_exemplars(void *arg, const struct promql_node *const *selectors, size_t n,
			    int64_t start_ms, int64_t end_ms, struct jw *w, char *err,
			    size_t errlen);

#endif
