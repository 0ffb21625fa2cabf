/*
 * The `data` object of Prometheus' GET /api/v1/targets: activeTargets with their
 * labels, discovered labels, pool, URL and last scrape, and droppedTargets (those
 * relabeling dropped). Pools are listed by name, targets by URL, so the answer is
 * stable between calls. Times are RFC 3339 with nanoseconds as Go marshals them
 * (UTC here); a target never scraped shows Go's zero time and health "unknown".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/json.h"
#include "scrape/mgr_internal.h"

static void write_labels(struct jw *w, const char *key, const struct labels *ls)
{
	jw_key(w, key);
	jw_obj_begin(w);
	for (size_t i = 0; i < ls->n; i++)
		jw_kstr(w, ls->v[i].name, ls->v[i].value);
	jw_obj_end(w);
}

/* time.Time's JSON form: RFC 3339, nanoseconds without trailing zeros. */
static void rfc3339(int64_t ns, char *out, size_t cap)
{
	time_t sec = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	size_t n;

	if (!ns) {
		snprintf(out, cap, "0001-01-01T00:00:00Z");
		return;
	}
	gmtime_r(&sec, &tm);
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac) {
		int len = snprintf(out + n, cap - n, ".%09ld", frac);

		while (len > 1 && out[n + (size_t)len - 1] == '0')
			len--;
		n += (size_t)len;
	}
	snprintf(out + n, cap - n, "Z");
}

static const char *health_name(enum sm_health h)
{
	return h == SM_UP ? "up" : h == SM_DOWN ? "down" : "unknown";
}

static void write_target(struct jw *w, const struct sm_pool *p, struct sm_target *t)
{
	const char *iv = labels_get(&t->spec.all, "__scrape_interval__");
	const char *to = labels_get(&t->spec.all, "__scrape_timeout__");
	char when[64];

	jw_obj_begin(w);
	write_labels(w, "discoveredLabels", &t->spec.discovered);
	write_labels(w, "labels", &t->spec.pub);
	jw_kstr(w, "scrapePool", p->cfg->job_name);
	jw_kstr(w, "scrapeUrl", t->spec.url);
	jw_kstr(w, "globalUrl", t->spec.url);
	pthread_mutex_lock(&t->mu);
	jw_kstr(w, "lastError", t->last_error);
	rfc3339(t->last_scrape_ns, when, sizeof(when));
	jw_kstr(w, "lastScrape", when);
	jw_key(w, "lastScrapeDuration");
	jw_double(w, t->last_duration_s);
	jw_kstr(w, "health", health_name(t->health));
	pthread_mutex_unlock(&t->mu);
	jw_kstr(w, "scrapeInterval", iv ? iv : "");
	jw_kstr(w, "scrapeTimeout", to ? to : "");
	jw_obj_end(w);
}

static int by_pool_name(const void *pa, const void *pb)
{
	const struct sm_pool *a = *(struct sm_pool *const *)pa, *b = *(struct sm_pool *const *)pb;

	return strcmp(a->cfg->job_name, b->cfg->job_name);
}

static int by_url(const void *pa, const void *pb)
{
	const struct sm_target *a = *(struct sm_target *const *)pa;
	const struct sm_target *b = *(struct sm_target *const *)pb;

	return strcmp(a->spec.url, b->spec.url);
}

static void write_active(struct jw *w, struct sm_pool **pools, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sm_target **v = malloc((pools[i]->ntargets + 1) * sizeof(*v));

		if (!v) {
			w->err = true;
			return;
		}
		memcpy(v, pools[i]->targets, pools[i]->ntargets * sizeof(*v));
		qsort(v, pools[i]->ntargets, sizeof(*v), by_url);
		for (size_t j = 0; j < pools[i]->ntargets; j++)
			write_target(w, pools[i], v[j]);
		free(v);
	}
}

static void write_dropped(struct jw *w, struct sm_pool **pools, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < pools[i]->ndropped; j++) {
			jw_obj_begin(w);
			write_labels(w, "discoveredLabels", &pools[i]->dropped[j]);
			jw_kstr(w, "scrapePool", pools[i]->cfg->job_name);
			jw_obj_end(w);
		}
}

static bool want(const char *state, const char *which)
{
	return !state || !*state || !strcmp(state, "any") || !strcmp(state, which);
}

int scrape_manager_targets_json(struct scrape_manager *m, struct jw *w, const char *state,
				const char *scrape_pool)
{
	struct sm_pool **pools;
	size_t n = 0;

	pthread_mutex_lock(&m->mu);
	pools = malloc((m->npools + 1) * sizeof(*pools));
	if (!pools) {
		pthread_mutex_unlock(&m->mu);
		return -1;
	}
	for (size_t i = 0; i < m->npools; i++)
		if (!scrape_pool || !*scrape_pool || !strcmp(m->pools[i]->cfg->job_name, scrape_pool))
			pools[n++] = m->pools[i];
	qsort(pools, n, sizeof(*pools), by_pool_name);
	jw_obj_begin(w);
	jw_key(w, "activeTargets");
	jw_arr_begin(w);
	if (want(state, "active"))
		write_active(w, pools, n);
	jw_arr_end(w);
	jw_key(w, "droppedTargets");
	jw_arr_begin(w);
	if (want(state, "dropped"))
		write_dropped(w, pools, n);
	jw_arr_end(w);
	jw_obj_end(w);
	pthread_mutex_unlock(&m->mu);
	free(pools);
	return jw_failed(w) ? -1 : 0;
}
