/*
 * lgtm-metrics' configuration: the prometheus.yml format. This revision declares the
 * `global` block; scrape, rule and remote_write sections arrive with their features.
 */
#ifndef LGTM_METRICS_CONFIG_H
#define LGTM_METRICS_CONFIG_H

#include "config/config.h"

struct metrics_global_config {
	int64_t scrape_interval_ms;
	int64_t scrape_timeout_ms;
	int64_t evaluation_interval_ms;
	struct cfg_strmap external_labels;
};

struct metrics_config {
	struct metrics_global_config global;
};

extern const struct cfg_schema metrics_config_schema;
void metrics_config_defaults(void *cfg);
int metrics_config_check(void *cfg, char *err, size_t errlen);

#endif
