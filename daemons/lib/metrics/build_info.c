/*
 * lgtm_build_info: the constant-1 gauge whose labels say which build is running,
 * in the shape of prometheus_build_info so the usual "which version is deployed"
 * queries work across our daemons.
 */
#include "metrics/internal.h"

#include "version/version.h"

int metrics_register_build_info(struct metrics_registry *r, const char *daemon)
{
	static const char *const labels[] = { "branch", "daemon", "revision", "version", NULL };
	struct metric *m;
	struct metric_child *c;

	if (!daemon)
		return -1;
	m = metrics_gauge(r, "lgtm_build_info",
			  "A metric with a constant '1' value labeled by version, revision, branch, "
			  "and daemon from which lgtm was built.",
			  labels);
	if (!m)
		return -1;
	c = metrics_childv(m, lgtm_branch(), daemon, lgtm_revision(), lgtm_version(), NULL);
	if (!c)
		return -1;
	metrics_set(c, 1);
	return 0;
}
