/*
 * lgtm-metrics' Prometheus HTTP API over its storage: PromQL queries (instant, range,
 * format, exemplars) and the metadata endpoints. The routes live in the shared
 * promapi module so lgtm-longterm serves the same API under /prometheus.
 */
#ifndef LGTM_METRICS_API_H
#define LGTM_METRICS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

struct runtime;
struct metrics_config;

struct query_flags {
	int64_t lookback_delta_ms;
	int64_t timeout_ms;
	int64_t max_samples;
	int64_t max_concurrency;
};

extern struct query_flags query_flags;
#define QUERY_FLAGS \
	{ "query.lookback-delta", CLI_DURATION, &query_flags.lookback_delta_ms, \
	  "How far back a query looks for the latest sample of a series.", NULL, false }, \
	{ "query.timeout", CLI_DURATION, &query_flags.timeout_ms, \
	  "Maximum time a query may take before it is aborted.", NULL, false }, \
	{ "query.max-samples", CLI_INT, &query_flags.max_samples, \
	  "Maximum number of samples a single query can load into memory.", NULL, false }, \
	{ "query.max-concurrency", CLI_INT, &query_flags.max_concurrency, \
	  "Maximum number of queries executed concurrently.", NULL, false }

int api_register(struct runtime *rt, char *err, size_t errlen);
/* A (re)loaded config: global.evaluation_interval becomes the step of subqueries
 * that have none. */
void api_apply(const struct metrics_config *cfg);
/* After the server has drained: free the query engine. */
void api_stop(void);

#endif
