/*
 * lgtm-metrics' Prometheus HTTP API over its storage: the metadata endpoints now,
 * PromQL queries as the engine lands. Routes live in the shared promapi module so
 * lgtm-longterm serves the same API under /prometheus.
 */
#ifndef LGTM_METRICS_API_H
#define LGTM_METRICS_API_H

#include <stddef.h>

struct runtime;

int api_register(struct runtime *rt, char *err, size_t errlen);

#endif
