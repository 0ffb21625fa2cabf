/* Prometheus API wiring: every request reads through a querier on the TSDB, and
 * /api/v1/query_exemplars from the TSDB's exemplar store (its selectors matched
 * against the series that store holds). Subqueries without a step use the config's
 * global.evaluation_interval, as Prometheus does, and follow reloads. */
#include <stdio.h>

#include "metrics_config.h"
#include "promapi/promapi.h"
#include "promql/promql.h"
#include "runtime/runtime.h"
#include "storage.h"
#include "tsdb/db.h"

#include "api.h"

/* Prometheus' defaults. */
struct query_flags query_flags = {
	.lookback_delta_ms = 5 * 60 * 1000,
	.timeout_ms = 2 * 60 * 1000,
	.max_samples = 50000000,
	.max_concurrency = 20,
};

static struct promapi_query_api *g_query;

static int open_for_request(void *arg, struct http_req *req, int64_t mint, int64_t maxt,
			    struct tsdb_querier **q, char *err, size_t errlen)
{
	return tsdb_db_querier(storage_db(), mint, maxt, q, err, errlen);
}

static int open_for_engine(void *arg, int64_t mint, int64_t maxt, struct tsdb_querier **q,
			   char *err, size_t errlen)
{
	return tsdb_db_querier(storage_db(), mint, maxt, q, err, errlen);
}

static const struct promapi_source source = { open_for_request, NULL };

int api_register(struct runtime *rt, char *err, size_t errlen)
{
	struct promql_engine_opts opts = {
		.lookback_delta_ms = query_flags.lookback_delta_ms,
		.timeout_ms = query_flags.timeout_ms,
		.max_samples = query_flags.max_samples > 0 ? (uint64_t)query_flags.max_samples : 0,
		.max_concurrency = query_flags.max_concurrency > 0 ? (unsigned)query_flags.max_concurrency : 0,
	};
	const struct metrics_config *cfg;

	if (query_flags.lookback_delta_ms <= 0 || query_flags.timeout_ms <= 0 ||
	    query_flags.max_samples <= 0 || query_flags.max_concurrency <= 0) {
		snprintf(err, errlen, "--query.* flags must be positive");
		return -1;
	}
	if (promapi_register_query_routes(runtime_http(rt), "", open_for_engine, NULL, &opts,
					  &g_query, err, errlen) < 0)
		return -1;
	cfg = runtime_config_acquire(rt);
	api_apply(cfg);
	runtime_config_release(rt, cfg);
	/* Storage is open before the API (main.c), and outlives it (api_stop first). */
	promapi_query_api_set_exemplars(g_query, promapi_store_exemplars,
					tsdb_db_exemplars(storage_db()));
	if (promapi_register_metadata_routes(runtime_http(rt), "", &source) < 0) {
		snprintf(err, errlen, "registering API routes failed");
		return -1;
	}
	return 0;
}

void api_apply(const struct metrics_config *cfg)
{
	if (g_query)
		promql_engine_set_subquery_step(promapi_query_api_engine(g_query),
						cfg->global.evaluation_interval_ms);
}

void api_stop(void)
{
	promapi_query_api_free(g_query);
	g_query = NULL;
}
