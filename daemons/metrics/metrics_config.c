/*
 * prometheus.yml schema and Prometheus' defaults (scrape every 1m with a 10s
 * timeout, evaluate every 1m), its rule that a scrape timeout may not exceed the
 * scrape interval, its external label checks, and the scrape_configs section from
 * the scrape module, whose per-job defaults come from `global`.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "metrics_config.h"
#include "rwsend/rwsend.h"
#include "scrape/scrape.h"

/* Label names and values as Prometheus' GlobalConfig checks them. */
static int check_external_labels(const void *p, char *err, size_t errlen)
{
	const struct cfg_strmap *m = p;

	for (size_t i = 0; i < m->n; i++)
		if (!labels_valid_name(m->keys[i], strlen(m->keys[i]))) {
			snprintf(err, errlen, "\"%s\" is not a valid label name", m->keys[i]);
			return -1;
		}
	return 0;
}

#define G(key, type, member, chk) \
	{ key, type, offsetof(struct metrics_global_config, member), NULL, 0, 0, chk }
static const struct cfg_field global_fields[] = {
	G("scrape_interval", CFG_DURATION, scrape_interval_ms, NULL),
	G("scrape_timeout", CFG_DURATION, scrape_timeout_ms, NULL),
	G("evaluation_interval", CFG_DURATION, evaluation_interval_ms, NULL),
	G("external_labels", CFG_STRING_MAP, external_labels, check_external_labels),
	CFG_POS_FIELD(struct metrics_global_config, pos),
	{ 0 },
};
#undef G

static const struct cfg_schema global_schema = { "global", global_fields, NULL };

static int check_window(const void *v, char *err, size_t errlen)
{
	if (*(const int64_t *)v < 0) {
		snprintf(err, errlen, "out_of_order_time_window cannot be negative");
		return -1;
	}
	return 0;
}

static const struct cfg_field tsdb_fields[] = {
	{ "out_of_order_time_window", CFG_DURATION,
	  offsetof(struct metrics_storage_config, out_of_order_time_window_ms), NULL, 0, 0, check_window },
	{ 0 },
};
static const struct cfg_schema tsdb_schema = { "tsdb", tsdb_fields, NULL };

/* prometheus.yml's `storage:` block nests the TSDB settings one level down. */
static const struct cfg_field storage_fields[] = {
	{ "tsdb", CFG_OBJECT, 0, &tsdb_schema, 0, 0, NULL },
	{ 0 },
};
static const struct cfg_schema storage_schema = { "storage", storage_fields, NULL };

static const struct cfg_field top_fields[] = {
	{ "global", CFG_OBJECT, offsetof(struct metrics_config, global), &global_schema, 0, 0, NULL },
	{ "storage", CFG_OBJECT, offsetof(struct metrics_config, storage), &storage_schema, 0, 0, NULL },
	SCRAPE_CONFIGS_FIELD("scrape_configs", struct metrics_config, scrape_configs),
	RWSEND_CONFIGS_FIELD("remote_write", struct metrics_config, remote_write),
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
static int check_global(struct metrics_global_config *g, char *err, size_t errlen)
{
	if (g->scrape_interval_ms <= 0 || g->evaluation_interval_ms <= 0)
		return cfg_pos_error(&g->pos, err, errlen, "%s",
				     "scrape_interval and evaluation_interval must be positive");
	if (g->scrape_timeout_ms == 0)
		g->scrape_timeout_ms = g->scrape_interval_ms < 10000 ? g->scrape_interval_ms : 10000;
	if (g->scrape_timeout_ms > g->scrape_interval_ms)
		return cfg_pos_error(&g->pos, err, errlen, "%s",
				     "global scrape timeout greater than scrape interval");
	return 0;
}

int metrics_config_check(void *p, char *err, size_t errlen)
{
	struct metrics_config *c = p;

	if (check_global(&c->global, err, errlen))
		return -1;
	return scrape_configs_validate(&c->scrape_configs, c->global.scrape_interval_ms,
				       c->global.scrape_timeout_ms, err, errlen);
}

int metrics_config_external_labels(const struct metrics_config *c, struct arena *a,
				   struct labels *out)
{
	const struct cfg_strmap *m = &c->global.external_labels;
	size_t n = 0;

	out->v = arena_calloc(a, m->n + 1, sizeof(*out->v));
	if (!out->v)
		return -1;
	/* An empty value means no label, as everywhere in Prometheus. */
	for (size_t i = 0; i < m->n; i++)
		if (*m->vals[i])
			out->v[n++] = (struct label){ m->keys[i], m->vals[i] };
	out->n = n;
	labels_sort(out);
	return 0;
}
