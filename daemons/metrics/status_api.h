/*
 * lgtm-metrics' /api/v1/status/{config,runtimeinfo} in Prometheus' envelopes.
 * (/api/v1/status/buildinfo is the runtime's; /api/v1/status/flags is deliberately
 * absent: Grafana's alerting UI takes any 200 there for Thanos.)
 */
#ifndef LGTM_METRICS_STATUS_API_H
#define LGTM_METRICS_STATUS_API_H

#include <stddef.h>

struct runtime;

int status_api_register(struct runtime *rt, char *err, size_t errlen);

#endif
