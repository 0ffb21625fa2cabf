/*
 * The collector's health_check extension: its own listener (13133 by default) that
 * answers otelcol's JSON status document, 200 while the collector is ready and 503
 * otherwise. Started from the daemon's start hook, drained from its stop hook.
 */
#ifndef LGTM_COLLECTOR_HEALTH_CHECK_H
#define LGTM_COLLECTOR_HEALTH_CHECK_H

#include <stddef.h>

#include "collector_config.h"

struct runtime;
struct health_check;

int health_check_start(struct runtime *rt, const struct collector_health_check *cfg,
		       struct health_check **out, char *err, size_t errlen);
void health_check_stop(struct health_check *h);

#endif
