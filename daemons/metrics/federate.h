/*
 * GET /federate: the latest sample (within the lookback delta, 5m) of every series
 * matching the match[] selectors, in the text exposition format, with external
 * labels added, as Prometheus' federation endpoint answers.
 */
#ifndef LGTM_METRICS_FEDERATE_H
#define LGTM_METRICS_FEDERATE_H

#include <stddef.h>

struct runtime;

int federate_register(struct runtime *rt, char *err, size_t errlen);

#endif
