/*
 * The scrape manager: the set of pools, one per job, and the discovery thread.
 * Applying a config compares each job with the running one through the schema
 * (cfg_equal), so an unchanged job is not touched at all; a changed job gets a
 * new pool synced against the old one (see pool.c); a removed job stops with
 * stale markers. All of it happens under the manager's mutex, which scrape loops
 * never take, so scraping goes on while a reload is applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "log/log.h"
#include "scrape/mgr_internal.h"
#include "version/version.h"

/* Prometheus seeds its offsets with the host name and the external labels, so two
 * servers scraping the same targets do not hit them at the same moment. */
static uint64_t jitter_seed(const struct labels *external)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	return XXH3_64bits(host, strlen(host)) ^ (external ? labels_hash(external) : 0);
}

/* Take the running pool of `job` out of the set (NULL when there is none). */
static struct sm_pool *take_pool(struct scrape_manager *m, const char *job)
{
	for (size_t i = 0; i < m->npools; i++) {
		struct sm_pool *p = m->pools[i];

		if (p && !strcmp(p->cfg->job_name, job)) {
			m->pools[i] = NULL;
			return p;
		}
	}
	return NULL;
}

/* A new pool for c, synced against `old` (may be NULL); NULL on failure. */
static struct sm_pool *replace(struct scrape_manager *m, const struct scrape_config *c,
			       struct sm_pool *old, char *err, size_t errlen)
{
	struct sm_pool *p;

	sm_count(old ? m->met.reloads : m->met.pools, 1);
	if (sm_pool_new(m, c, &p, err, errlen)) {
		sm_count(old ? m->met.reloads_failed : m->met.pools_failed, 1);
		LOG_ERROR("scrape", "cannot set up scrape pool", "scrape_pool", c->job_name, "err",
			  err);
		return NULL;
	}
	sm_pool_sync(p, old);
	return p;
}

static int apply_locked(struct scrape_manager *m, const struct scrape_config *cfgs, size_t n,
			char *err, size_t errlen)
{
	struct sm_pool **next = calloc(n + 1, sizeof(*next));
	char why[512];
	size_t k = 0;
	int rc = 0;

	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct sm_pool *old = take_pool(m, cfgs[i].job_name), *p;

		if (old && cfg_equal(&scrape_config_schema, old->orig, &cfgs[i])) {
			p = old;
		} else if (!(p = replace(m, &cfgs[i], old, why, sizeof(why)))) {
			if (!rc)
				snprintf(err, errlen, "scrape_pool %s: %s", cfgs[i].job_name, why);
			rc = -1;
			p = old; /* the job keeps running as it was */
		} else if (old) {
			sm_pool_close(old, false); /* its targets moved on or were stopped */
		}
		if (p)
			next[k++] = p;
	}
	for (size_t j = 0; j < m->npools; j++)
		sm_pool_close(m->pools[j], true); /* jobs no longer configured */
	free(m->pools);
	m->pools = next;
	m->npools = k;
	m->reconfigure = true;
	sm_discovery_wake(m);
	return rc;
}

int scrape_manager_apply(struct scrape_manager *m, const struct scrape_config *cfgs, size_t n,
			 char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&m->mu);
	if (m->stopping) {
		snprintf(err, errlen, "scrape manager stopped");
		rc = -1;
	} else {
		rc = apply_locked(m, cfgs, n, err, errlen);
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

static int init(struct scrape_manager *m, const struct scrape_appendable *app,
		struct metrics_registry *reg, const struct scrape_manager_options *opts,
		char *err, size_t errlen)
{
	char ua[128];

	if (!app || !app->begin || !app->add || !app->commit || !app->rollback) {
		snprintf(err, errlen, "scrape manager: incomplete appendable");
		return -1;
	}
	m->app = *app;
	m->wake_fd = -1;
	if (sm_metrics_init(&m->met, reg, err, errlen))
		return -1;
	snprintf(ua, sizeof(ua), "lgtm-metrics/%s", lgtm_version());
	m->user_agent = strdup(opts && opts->user_agent ? opts->user_agent : ua);
	m->jitter_seed = jitter_seed(opts ? opts->external_labels : NULL);
	m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!m->user_agent || m->wake_fd < 0) {
		snprintf(err, errlen, "scrape manager: out of resources");
		return -1;
	}
	return 0;
}

int scrape_manager_new(const struct scrape_config *cfgs, size_t n,
		       const struct scrape_appendable *app, struct metrics_registry *reg,
		       const struct scrape_manager_options *opts, struct scrape_manager **out,
		       char *err, size_t errlen)
{
	struct scrape_manager *m = calloc(1, sizeof(*m));
	char why[512];

	*out = NULL;
	if (!m || pthread_mutex_init(&m->mu, NULL)) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (init(m, app, reg, opts, err, errlen))
		goto fail;
	/* A job that cannot be set up is logged and counted, as Prometheus starts anyway. */
	scrape_manager_apply(m, cfgs, n, why, sizeof(why));
	if (pthread_create(&m->sd_thread, NULL, sm_discovery_main, m)) {
		snprintf(err, errlen, "scrape manager: cannot start the discovery thread");
		goto fail;
	}
	m->sd_running = true;
	*out = m;
	return 0;
fail:
	scrape_manager_free(m);
	return -1;
}

void scrape_manager_stop(struct scrape_manager *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stopping = true;
	pthread_mutex_unlock(&m->mu);
	if (m->sd_running) {
		sm_discovery_wake(m);
		pthread_join(m->sd_thread, NULL);
		m->sd_running = false;
	}
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->npools; i++)
		for (size_t j = 0; j < m->pools[i]->ntargets; j++)
			sm_target_signal(m->pools[i]->targets[j]);
	for (size_t i = 0; i < m->npools; i++)
		for (size_t j = 0; j < m->pools[i]->ntargets; j++)
			sm_target_join(m->pools[i]->targets[j]);
	pthread_mutex_unlock(&m->mu);
}

void scrape_manager_free(struct scrape_manager *m)
{
	if (!m)
		return;
	scrape_manager_stop(m);
	for (size_t i = 0; i < m->npools; i++)
		sm_pool_close(m->pools[i], false);
	free(m->pools);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	free(m->user_agent);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
