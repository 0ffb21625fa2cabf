/*
 * The TSDB status and admin endpoints. Both are thin: the numbers and the snapshot
 * come from the tsdb module; this file parses parameters as Prometheus' API does and
 * writes its envelopes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "json/json.h"
#include "log/log.h"
#include "runtime/runtime.h"
#include "tsdb/db.h"

#include "tsdb_api.h"

#define DEFAULT_LIMIT 10

struct tsdb_api {
	struct tsdb_db *db;
	bool admin;
};

static struct tsdb_api g_api;

static void stats(struct jw *w, const char *key, const struct tsdb_stat *s, size_t n)
{
	jw_key(w, key);
	jw_arr_begin(w);
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(w);
		jw_kstr(w, "name", s[i].name);
		jw_key(w, "value");
		jw_uint(w, s[i].value);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static void write_status(struct jw *w, const struct tsdb_head_status *hs)
{
	jw_obj_begin(w);
	jw_kstr(w, "status", "success");
	jw_key(w, "data");
	jw_obj_begin(w);
	jw_key(w, "headStats");
	jw_obj_begin(w);
	jw_key(w, "numSeries");
	jw_uint(w, hs->num_series);
	jw_key(w, "numLabelPairs");
	jw_uint(w, hs->num_label_pairs);
	jw_key(w, "chunkCount");
	jw_uint(w, hs->chunk_count);
	jw_kint(w, "minTime", hs->min_time);
	jw_kint(w, "maxTime", hs->max_time);
	jw_obj_end(w);
	stats(w, "seriesCountByMetricName", hs->series_by_metric, hs->nseries_by_metric);
	stats(w, "labelValueCountByLabelName", hs->values_by_label, hs->nvalues_by_label);
	stats(w, "memoryInBytesByLabelName", hs->bytes_by_label, hs->nbytes_by_label);
	stats(w, "seriesCountByLabelValuePair", hs->series_by_pair, hs->nseries_by_pair);
	jw_obj_end(w);
	jw_obj_end(w);
}

static void reply_json(struct http_req *req, struct jw *w, struct buf *b)
{
	if (jw_failed(w) || b->oom) {
		buf_free(b);
		http_reply_prom_error(req, 500, "internal", "out of memory");
		return;
	}
	http_reply_buf(req, 200, "application/json", b);
}

static void handle_status(struct http_req *req, void *ctx)
{
	struct tsdb_api *api = ctx;
	const char *ls = http_req_arg(req, "limit");
	struct tsdb_head_status hs;
	struct buf b = { 0 };
	long limit = DEFAULT_LIMIT;
	char err[256], *end;
	struct jw w;

	if (ls && *ls) {
		limit = strtol(ls, &end, 10);
		if (*end || limit <= 0) {
			http_reply_prom_error(req, 400, "bad_data", "limit must be a positive number");
			return;
		}
	}
	if (tsdb_head_status(tsdb_db_head(api->db), (size_t)limit, http_req_arena(req), &hs, err,
			     sizeof(err)) < 0) {
		http_reply_prom_error(req, 500, "internal", "%s", err);
		return;
	}
	jw_init(&w, &b);
	write_status(&w, &hs);
	reply_json(req, &w, &b);
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < 6; i++) {
		if (!strcmp(s, t[i]) || !strcmp(s, f[i])) {
			*out = !strcmp(s, t[i]);
			return 0;
		}
	}
	return -1;
}

static void handle_snapshot(struct http_req *req, void *ctx)
{
	struct tsdb_api *api = ctx;
	const char *sh = http_req_arg(req, "skip_head");
	bool skip_head = false;
	char name[64], err[1024];
	struct buf b = { 0 };
	struct jw w;

	if (!api->admin) {
		http_reply_prom_error(req, 500, "unavailable", "admin APIs disabled");
		return;
	}
	if (sh && *sh && parse_bool(sh, &skip_head) < 0) {
		http_reply_prom_error(req, 400, "bad_data",
				      "invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing \"%s\": invalid syntax",
				      sh);
		return;
	}
	if (tsdb_db_snapshot(api->db, !skip_head, name, sizeof(name), err, sizeof(err)) < 0) {
		LOG_ERROR("tsdb", "Snapshot failed", "err", err);
		http_reply_prom_error(req, 500, "internal", "create snapshot: %s", err);
		return;
	}
	LOG_INFO("tsdb", "Snapshot created", "name", name);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "status", "success");
	jw_key(&w, "data");
	jw_obj_begin(&w);
	jw_kstr(&w, "name", name);
	jw_obj_end(&w);
	jw_obj_end(&w);
	reply_json(req, &w, &b);
}

int tsdb_api_register(struct runtime *rt, struct tsdb_db *db, bool admin, char *err,
		      size_t errlen)
{
	struct http_server *s = runtime_http(rt);

	g_api.db = db;
	g_api.admin = admin;
	if (http_route(s, HTTP_GET, "/api/v1/status/tsdb", "/api/v1/status/tsdb", handle_status,
		       &g_api) < 0 ||
	    http_route(s, HTTP_POST | HTTP_PUT, "/api/v1/admin/tsdb/snapshot",
		       "/api/v1/admin/tsdb/snapshot", handle_snapshot, &g_api) < 0) {
		snprintf(err, errlen, "registering TSDB API routes failed");
		return -1;
	}
	return 0;
}
