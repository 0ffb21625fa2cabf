/* remote_write wiring: configs and external labels in, the rwsend manager out; the
 * TSDB head's append count and newest timestamp feed the shard computation, as
 * Prometheus' appender does for its queues. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_config.h"
#include "runtime/runtime.h"
#include "rwsend/rwsend.h"
#include "tsdb/db.h"
#include "tsdb/tsdb.h"

#include "forwarding.h"
#include "storage.h"

static struct rwsend_manager *g_mgr;

/* Samples and exemplars, as upstream's samplesIn counts both. */
static void appended(void *arg, uint64_t *samples, int64_t *highest_ms)
{
	struct tsdb_head *h = tsdb_db_head(storage_db());
	struct tsdb_exemplars *ex = tsdb_db_exemplars(storage_db());
	struct tsdb_exemplars_stats xs = { 0 };
	struct tsdb_head_stats st;

	tsdb_head_stats(h, &st);
	if (ex)
		tsdb_exemplars_stats(ex, &xs);
	*samples = st.samples_appended + xs.appended;
	*highest_ms = tsdb_head_max_time(h);
}

int forwarding_start(struct runtime *rt, const struct metrics_config *cfg, char *err, size_t errlen)
{
	char *cfgpath = strdup(runtime_config_file(rt));
	char waldir[4096];
	struct arena *a = arena_new(0);
	struct labels ext;
	int rc = -1;

	if (!cfgpath || !a || metrics_config_external_labels(cfg, a, &ext) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(waldir, sizeof(waldir), "%s/wal", runtime_data_dir(rt));
	{
		struct rwsend_options o = {
			.data_dir = runtime_data_dir(rt),
			.wal_dir = waldir,
			.config_dir = dirname(cfgpath),
			.metrics = runtime_metrics(rt),
			.appended = appended,
		};
		rc = rwsend_manager_new(&o, cfg->remote_write.v, cfg->remote_write.n, &ext, &g_mgr,
					err, errlen);
	}
out:
	free(cfgpath);
	arena_free(a);
	return rc;
}

int forwarding_apply(const struct metrics_config *cfg, char *err, size_t errlen)
{
	struct arena *a = arena_new(0);
	struct labels ext;
	int rc = -1;

	if (!a || metrics_config_external_labels(cfg, a, &ext) < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = rwsend_manager_apply(g_mgr, cfg->remote_write.v, cfg->remote_write.n, &ext, err, errlen);
	arena_free(a);
	return rc;
}

void forwarding_stop(void)
{
	if (!g_mgr)
		return;
	rwsend_manager_stop(g_mgr);
	rwsend_manager_free(g_mgr);
	g_mgr = NULL;
}
