/*
 * lgtm-metrics' configuration: the prometheus.yml format. This revision declares
 * `global`, `scrape_configs` (the scrape module's schema) and `remote_write` (the
 * rwsend module's); rule sections arrive with their feature.
 */
#ifndef LGTM_METRICS_CONFIG_H
#define LGTM_METRICS_CONFIG_H

#include "arena/arena.h"
#include "config/config.h"
#include "labels/labels.h"

struct metrics_global_config {
	int64_t scrape_interval_ms;
	int64_t scrape_timeout_ms;
	int64_t evaluation_interval_ms;
	struct cfg_strmap external_labels;
	struct cfg_pos pos;
};

struct metrics_storage_config {
	int64_t out_of_order_time_window_ms; /* storage.tsdb.out_of_order_time_window */
};

struct metrics_config {
	struct metrics_global_config global;
	struct metrics_storage_config storage;
	struct cfg_list scrape_configs; /* struct scrape_config */
	struct cfg_list remote_write;   /* struct rwsend_config */
};

extern const struct cfg_schema metrics_config_schema;
void metrics_config_defaults(void *cfg);
/* Prometheus' load-time rules: global defaults and limits, then each scrape
 * config's (scrape_configs_validate); messages carry file:line:col. */
int metrics_config_check(void *cfg, char *err, size_t errlen);
/* The external labels as a sorted label set (strings stay the config's), for the
 * scrape offsets and, later, remote_write and federation. 0 or -1 (OOM). */
int metrics_config_external_labels(const struct metrics_config *c, struct arena *a,
				   struct labels *out);

#endif
