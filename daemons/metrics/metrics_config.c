/*
 * prometheus.yml schema and Prometheus' defaults (scrape every 1m with a 10s
 * timeout, evaluate every 1m) and its rule that a scrape timeout may not exceed the
 * scrape interval.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "metrics_config.h"

#define G(key, type, member) \
	{ key, type, offsetof(struct metrics_global_config, member), NULL, 0, 0, NULL }
static const struct cfg_field global_fields[] = {
	G("scrape_interval", CFG_DURATION, scrape_interval_ms),
	G("scrape_timeout", CFG_DURATION, scrape_timeout_ms),
	G("evaluation_interval", CFG_DURATION, evaluation_interval_ms),
	G("external_labels", CFG_STRING_MAP, external_labels),
	{ 0 },
};
#undef G

static const struct cfg_schema global_schema = { "global", global_fields, NULL };

static const struct cfg_field top_fields[] = {
	{ "global", CFG_OBJECT, offsetof(struct metrics_config, global), &global_schema, 0, 0, NULL },
	{ 0 },
};

const struct cfg_schema metrics_config_schema = { "config", top_fields, NULL };

void metrics_config_defaults(void *p)
{
	struct metrics_config *c = p;

	memset(c, 0, sizeof(*c));
	c->global.scrape_interval_ms = 60 * 1000;
	c->global.scrape_timeout_ms = 0; /* resolved by the check */
	c->global.evaluation_interval_ms = 60 * 1000;
}

/* Prometheus' GlobalConfig rules: an unset scrape_timeout becomes min(10s, interval);
 * a timeout longer than the interval is an error. */
int metrics_config_check(void *p, char *err, size_t errlen)
{
	struct metrics_global_config *g = &((struct metrics_config *)p)->global;

	if (g->scrape_interval_ms <= 0 || g->evaluation_interval_ms <= 0) {
		snprintf(err, errlen, "global: scrape_interval and evaluation_interval must be positive");
		return -1;
	}
	if (g->scrape_timeout_ms == 0)
		g->scrape_timeout_ms = g->scrape_interval_ms < 10000 ? g->scrape_interval_ms : 10000;
	if (g->scrape_timeout_ms > g->scrape_interval_ms) {
		snprintf(err, errlen, "global scrape timeout greater than scrape interval");
		return -1;
	}
	return 0;
}
