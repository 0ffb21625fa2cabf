/*
 * The manager's own metrics, under Prometheus' names so its dashboards work.
 * Families are registered once per manager; a registry therefore serves one
 * manager. Without a registry every family is NULL and updates do nothing.
 */
#include <stdio.h>

#include "scrape/mgr_internal.h"

static const char *const job_label[] = { "scrape_job", NULL };
static const char *const interval_label[] = { "interval", NULL };
static const char *const filename_label[] = { "filename", NULL };
static const char *const discovered_labels[] = { "config", "name", NULL };

/* Intervals from sub-second test jobs to the 5 minutes some exporters want. */
static const double interval_buckets[] = { 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 15, 30, 60, 120, 300 };

struct counter_def {
	size_t off;
	const char *name, *help;
};

#define C(member, name, help) { offsetof(struct sm_metrics, member), name, help }
static const struct counter_def counters[] = {
	C(pools, "prometheus_target_scrape_pools_total", "Total number of scrape pool creation attempts."),
	C(pools_failed, "prometheus_target_scrape_pools_failed_total", "Total number of scrape pool creations that failed."),
	C(reloads, "prometheus_target_scrape_pool_reloads_total", "Total number of scrape pool reloads."),
	C(reloads_failed, "prometheus_target_scrape_pool_reloads_failed_total", "Total number of failed scrape pool reloads."),
	C(exceeded_sample_limit, "prometheus_target_scrapes_exceeded_sample_limit_total", "Total number of scrapes that hit the sample limit and were rejected."),
	C(exceeded_body_size, "prometheus_target_scrapes_exceeded_body_size_limit_total", "Total number of scrapes that hit the body size limit"),
	C(exceeded_label_limits, "prometheus_target_scrape_pool_exceeded_label_limits_total", "Total number of times scrape pools hit the label limits, during sync or config reload."),
	C(out_of_order, "prometheus_target_scrapes_sample_out_of_order_total", "Total number of samples rejected due to not being out of the expected order."),
	C(duplicate, "prometheus_target_scrapes_sample_duplicate_timestamp_total", "Total number of samples rejected due to duplicate timestamps but different values."),
	C(out_of_bounds, "prometheus_target_scrapes_sample_out_of_bounds_total", "Total number of samples rejected due to timestamp falling outside of the time bounds."),
	C(exemplar_out_of_order, "prometheus_target_scrapes_exemplar_out_of_order_total", "Total number of exemplar rejected due to not being out of the expected order."),
	C(sd_read_errors, "prometheus_sd_file_read_errors_total", "The number of File-SD read errors."),
};
#undef C

static struct metric **slot(struct sm_metrics *m, size_t off)
{
	return (struct metric **)((char *)m + off);
}

int sm_metrics_init(struct sm_metrics *m, struct metrics_registry *r, char *err, size_t errlen)
{
	*m = (struct sm_metrics){ 0 };
	if (!r)
		return 0;
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		*slot(m, counters[i].off) = metrics_counter(r, counters[i].name, counters[i].help, NULL);
		if (!*slot(m, counters[i].off))
			goto fail;
	}
	m->pool_targets = metrics_gauge(r, "prometheus_target_scrape_pool_targets",
					"Current number of targets in this scrape pool.", job_label);
	m->pool_sync = metrics_counter(r, "prometheus_target_scrape_pool_sync_total",
				       "Total number of syncs that were executed on a scrape pool.",
				       job_label);
	m->interval_length = metrics_histogram(r, "prometheus_target_interval_length_seconds",
					       "Actual intervals between scrapes.", interval_label,
					       interval_buckets,
					       sizeof(interval_buckets) / sizeof(interval_buckets[0]));
	m->sd_mtime = metrics_gauge(r, "prometheus_sd_file_mtime_seconds",
				    "Timestamp (mtime) of files read by FileSD. Timestamp is set at read time.",
				    filename_label);
	m->sd_discovered = metrics_gauge(r, "prometheus_sd_discovered_targets",
					 "Current number of discovered targets.", discovered_labels);
	if (m->pool_targets && m->pool_sync && m->interval_length && m->sd_mtime && m->sd_discovered)
		return 0;
fail:
	snprintf(err, errlen, "scrape: cannot register self metrics (registered twice?)");
	return -1;
}

void sm_count(struct metric *m, double n)
{
	if (m && n > 0)
		metrics_add(metrics_only(m), n);
}
