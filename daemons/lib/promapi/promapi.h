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
void promapi_selectors_free(struct promapi_selector *s, size_t n);

/* The widest times Prometheus accepts ("the beginning and end of time"). */
#define PROMAPI_MIN_TIME INT64_C(-9223309901257974)
#define PROMAPI_MAX_TIME INT64_C(9223309901257974)

#endif
