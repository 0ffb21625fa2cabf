/*
 * lgtm-collector's configuration: the OpenTelemetry Collector format. This revision
 * declares the health_check extension and service.telemetry; receivers, processors,
 * exporters and pipelines arrive with the collector's own issue.
 */
#ifndef LGTM_COLLECTOR_CONFIG_H
#define LGTM_COLLECTOR_CONFIG_H

#include <stdbool.h>

#include "config/config.h"

struct collector_health_check {
	char *endpoint;  /* default 127.0.0.1:13133 */
	char *path;      /* default "/" */
};

struct collector_telemetry_metrics {
	char *address; /* own metrics; default 127.0.0.1:8888 */
	char *level;   /* none, basic, normal, detailed */
};

struct collector_service {
	struct cfg_strlist extensions; /* ids to start */
	struct {
		struct collector_telemetry_metrics metrics;
	} telemetry;
};

struct collector_config {
	/* extension id ("health_check" or "health_check/<name>") -> settings; the type
	 * before the slash must be one we implement (the check says which). */
	struct cfg_objmap extensions;
	struct collector_service service;
};

/* The health_check extension the service starts, or NULL. */
const struct collector_health_check *collector_config_health_check(const struct collector_config *c);

extern const struct cfg_schema collector_config_schema;
void collector_config_defaults(void *cfg);
int collector_config_check(void *cfg, char *err, size_t errlen);

#endif
