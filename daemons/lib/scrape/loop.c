/*
 * One target, one thread. The loop follows Prometheus' scrapeLoop.run: the first
 * scrape waits for the target's offset in the interval (hash of labels and URL,
 * mixed with the manager's seed, on the wall-clock grid, so targets spread out
 * and keep their slot across restarts); then a scrape per tick on a monotonic
 * schedule, ticks missed by a slow scrape skipped. Timestamps are the wall clock
 * at the start of the scrape, snapped to the ideal tick when within 2 ms (for
 * intervals above 200 ms), which keeps timestamp deltas constant and chunks small.
 *
 * A scrape: fetch, begin a transaction, append the samples (on failure: roll back
 * and begin again), stale markers, the report series, commit; then the status the
 * targets API shows. Stopping sets a flag and a cancel flag the HTTP client polls,
 * so a loop leaves promptly even mid-request; a scrape interrupted that way
 * appends nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "scrape/mgr_internal.h"

#define TIMESTAMP_TOLERANCE_NS (2 * 1000000LL)

static void set_status(struct sm_target *t, bool up, const char *err, int64_t start_wall_ns,
		       double duration_s)
{
	pthread_mutex_lock(&t->mu);
	t->health = up ? SM_UP : SM_DOWN;
	snprintf(t->last_error, sizeof(t->last_error), "%s", err ? err : "");
	t->last_scrape_ns = start_wall_ns;
	t->last_duration_s = duration_s;
	pthread_mutex_unlock(&t->mu);
}

static void observe_interval(struct sm_target *t, int64_t start)
{
	if (t->last_start_mono)
		metrics_observe(t->c_interval, (double)(start - t->last_start_mono) / 1e9);
	t->last_start_mono = start;
}

/* Samples, stale markers and reports in one transaction; *ok: the scrape was good. */
static int append_all(struct sm_target *t, struct sm_scrape *s, bool fetched, int64_t start,
		      bool *ok)
{
	const struct scrape_appendable *app = &t->pool->m->app;
	const struct buf *body = &t->resp.body;
	struct scrape_append_result res = { 0 };

	*ok = fetched;
	if (fetched && sm_append_body(s, t->resp.content_type, body->len ? body->data : "",
				      body->len)) {
		*ok = false;
		app->rollback(s->txn);
		s->txn = app->begin(app->ctx);
		if (!s->txn)
			return -1;
	}
	if (*ok)
		sm_cache_commit(&t->cache);
	if (sm_append_stale(s) ||
	    sm_append_report(s, *ok, (double)(sm_mono_ns() - start) / 1e9)) {
		app->rollback(s->txn);
		return -1;
	}
	if (app->commit(s->txn, &res)) {
		snprintf(s->err, s->errlen, "storage commit failed");
		return -1;
	}
	sm_append_refused(s, &res);
	sm_append_log(s);
	return 0;
}

static void scrape_once(struct sm_target *t, int64_t ts_ns)
{
	const struct scrape_appendable *app = &t->pool->m->app;
	char err[512] = "", app_err[512] = "";
	struct sm_scrape s = { .t = t, .ts_ms = ts_ns / 1000000, .err = app_err,
			       .errlen = sizeof(app_err) };
	int64_t start = sm_mono_ns();
	int rc = sm_fetch(t, err, sizeof(err));
	bool ok = false;

	if (rc == SM_FETCH_CANCELED)
		return;
	observe_interval(t, start);
	arena_reset(t->scratch);
	sm_cache_begin(&t->cache);
	s.txn = app->begin(app->ctx);
	if (!s.txn || append_all(t, &s, rc == 0, start, &ok)) {
		/* Storage refused the scrape as a whole: nothing of it was kept. */
		snprintf(err, sizeof(err), "%s", app_err[0] ? app_err : "storage unavailable");
		set_status(t, false, err, ts_ns, (double)(sm_mono_ns() - start) / 1e9);
		return;
	}
	t->last_ts_ms = s.ts_ms;
	if (ok && t->resp.body.len)
		sm_cache_flush(&t->cache);
	if (rc == 0 && !ok)
		snprintf(err, sizeof(err), "%s", app_err);
	set_status(t, ok, err, ts_ns, (double)(sm_mono_ns() - start) / 1e9);
	if (!ok)
		LOG_DEBUG("scrape", "scrape failed", "scrape_pool", t->pool->cfg->job_name,
			  "target", t->spec.url, "err", err);
}

/* Sleep until `deadline` (monotonic ns); true when asked to stop. */
static bool wait_until(struct sm_target *t, int64_t deadline)
{
	struct timespec ts = { deadline / 1000000000, deadline % 1000000000 };
	bool stop;

	pthread_mutex_lock(&t->mu);
	while (!t->stop && sm_mono_ns() < deadline)
		pthread_cond_timedwait(&t->cond, &t->mu, &ts);
	stop = t->stop;
	pthread_mutex_unlock(&t->mu);
	return stop;
}

/* Upstream's Target.offset: the next point of the wall-clock interval grid
 * shifted by the target's hash. */
static int64_t first_offset(const struct sm_target *t, int64_t iv, int64_t wall)
{
	int64_t base = iv - wall % iv;
	int64_t off = (int64_t)((t->spec.hash ^ t->pool->m->jitter_seed) % (uint64_t)iv);
	int64_t next = base + off;

	return next > iv ? next - iv : next;
}

static void *loop_main(void *arg)
{
	struct sm_target *t = arg;
	int64_t iv = t->spec.interval_ms * 1000000, wall = sm_wall_ns(), mono = sm_mono_ns();
	int64_t next = first_offset(t, iv, wall);
	int64_t deadline = mono + next, aligned = wall + next;

	if (wait_until(t, deadline))
		return NULL;
	for (;;) {
		int64_t now = sm_wall_ns(), ts = now;

		if (iv > 100 * TIMESTAMP_TOLERANCE_NS) {
			while (now - aligned >= iv)
				aligned += iv;
			if (now - aligned <= TIMESTAMP_TOLERANCE_NS)
				ts = aligned;
		}
		scrape_once(t, ts);
		deadline += iv;
		mono = sm_mono_ns();
		if (deadline <= mono)
			deadline += ((mono - deadline) / iv + 1) * iv;
		if (wait_until(t, deadline))
			break;
	}
	labels_regex_thread_cleanup();
	return NULL;
}

static int client_new(struct sm_target *t)
{
	const struct sm_pool *p = t->pool;
	const struct scrape_config *c = p->cfg;
	const struct scrape_tls_config *tls = &c->tls_config;
	struct httpc_config hc = {
		.timeout_ms = (unsigned)t->spec.timeout_ms,
		.connect_timeout_ms = (unsigned)t->spec.timeout_ms,
		.max_response_bytes = (size_t)c->body_size_limit,
		.max_idle_handles = 1,
		.ca_file = p->files.ca,
		.cert_file = p->files.cert,
		.key_file = p->files.key,
		.server_name = tls->server_name,
		.insecure_skip_verify = tls->insecure_skip_verify,
		.user_agent = p->m->user_agent,
		.follow_redirects = c->follow_redirects,
		.decompress_response = true,
	};

	return httpc_new(&hc, &t->client, t->client_err, sizeof(t->client_err));
}

static int copy_spec(struct sm_target *t, const struct sm_tspec *spec)
{
	t->spec = *spec;
	t->spec.url = arena_strdup(t->arena, spec->url);
	if (!t->spec.url || labels_copy(t->arena, &spec->discovered, &t->spec.discovered) ||
	    labels_copy(t->arena, &spec->all, &t->spec.all))
		return -1;
	/* pub is the subset of `all` without __ labels, in the same order. */
	t->spec.pub.v = arena_calloc(t->arena, t->spec.all.n + 1, sizeof(struct label));
	if (!t->spec.pub.v)
		return -1;
	t->spec.pub.n = 0;
	for (size_t i = 0; i < t->spec.all.n; i++)
		if (strncmp(t->spec.all.v[i].name, "__", 2))
			t->spec.pub.v[t->spec.pub.n++] = t->spec.all.v[i];
	return 0;
}

static int sync_init(struct sm_target *t)
{
	pthread_condattr_t ca;
	int rc;

	if (pthread_condattr_init(&ca))
		return -1;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return -1;
	if (pthread_mutex_init(&t->mu, NULL)) {
		pthread_cond_destroy(&t->cond);
		return -1;
	}
	return 0;
}

int sm_target_new(struct sm_pool *p, const struct sm_tspec *spec, struct sm_target **out,
		  char *err, size_t errlen)
{
	struct sm_target *t = calloc(1, sizeof(*t));
	const char *iv;

	*out = NULL;
	if (!t || sync_init(t)) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->pool = p;
	t->arena = arena_new(0);
	t->scratch = arena_new(0);
	if (!t->arena || !t->scratch || copy_spec(t, spec) || sm_report_labels(t)) {
		sm_target_free(t);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (client_new(t) < 0)
		t->client = NULL; /* every scrape fails with client_err */
	iv = labels_get(&t->spec.all, "__scrape_interval__");
	t->c_interval = metrics_childv(p->m->met.interval_length, iv ? iv : "", NULL);
	*out = t;
	return 0;
}

int sm_target_start(struct sm_target *t)
{
	if (pthread_create(&t->thread, NULL, loop_main, t))
		return -1;
	t->running = true;
	return 0;
}

void sm_target_signal(struct sm_target *t)
{
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	atomic_store(&t->cancel, true);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
}

void sm_target_join(struct sm_target *t)
{
	if (!t->running)
		return;
	pthread_join(t->thread, NULL);
	t->running = false;
}

void sm_target_free(struct sm_target *t)
{
	if (!t)
		return;
	sm_target_signal(t);
	sm_target_join(t);
	httpc_free(t->client);
	httpc_response_free(&t->resp);
	sm_cache_free(&t->cache);
	arena_free(t->scratch);
	arena_free(t->arena);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
