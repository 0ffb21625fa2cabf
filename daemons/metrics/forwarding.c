/* remote_write wiring: configs and external labels in, the rwsend manager out. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_config.h"
#include "runtime/runtime.h"
#include "rwsend/rwsend.h"

#include "forwarding.h"

static struct rwsend_manager *g_mgr;

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
