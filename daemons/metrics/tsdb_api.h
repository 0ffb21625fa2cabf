/*
 * GET /api/v1/status/tsdb (the head's cardinality report) and POST|PUT
 * /api/v1/admin/tsdb/snapshot (a hard-linked copy of the blocks plus the head as a
 * block, under <data dir>/snapshots/), with Prometheus' JSON envelopes. The snapshot
 * needs --web.enable-admin-api; without it the answer is Prometheus' own:
 * 500 {"status":"error","errorType":"unavailable","error":"admin APIs disabled"}.
 */
#ifndef LGTM_METRICS_TSDB_API_H
#define LGTM_METRICS_TSDB_API_H

#include <stdbool.h>
#include <stddef.h>

struct runtime;
struct tsdb_db;

int tsdb_api_register(struct runtime *rt, struct tsdb_db *db, bool admin, char *err,
		      size_t errlen);

#endif
