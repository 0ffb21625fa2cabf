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

/* The widest times Prometheus accepts ("the beginning and end of time"). */
#define PROMAPI_MIN_TIME INT64_C(-9223309901257974)
#define PROMAPI_MAX_TIME INT64_C(9223309901257974)

#endif
