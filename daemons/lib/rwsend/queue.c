/*
 * A queue: everything one remote_write entry runs (the watcher, its shards, the
 * shard-update thread, the HTTP client, progress and position), built complete before
 * any thread starts so that a reload can fail without touching running queues. It
 * starts with min_shards shards; reshard.c changes the count while it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "rwsend/internal.h"

/* Slots in the progress ring; each covers at least `target` samples. */
#define PROGRESS_SLOTS 1024

static void children(struct rws_queue *q, const struct rws_families *f)
{
	const char *n = q->conf->name, *u = q->conf->url_label;
	const struct rwsend_queue_config *qc = &q->conf->c.queue_config;

	if (!f)
		return;
	q->mc.samples = metrics_childv(f->samples, n, u, NULL);
	q->mc.failed = metrics_childv(f->failed, n, u, NULL);
	q->mc.retried = metrics_childv(f->retried, n, u, NULL);
	q->mc.dropped = metrics_childv(f->dropped, n, u, NULL);
	q->mc.bytes = metrics_childv(f->bytes, n, u, NULL);
	q->mc.enqueue_retries = metrics_childv(f->enqueue_retries, n, u, NULL);
	q->mc.ex_sent = metrics_childv(f->ex_sent, n, u, NULL);
	q->mc.ex_failed = metrics_childv(f->ex_failed, n, u, NULL);
	q->mc.ex_retried = metrics_childv(f->ex_retried, n, u, NULL);
	q->mc.ex_dropped = metrics_childv(f->ex_dropped, n, u, NULL);
	q->mc.ex_pending = metrics_childv(f->ex_pending, n, u, NULL);
	q->mc.pending = metrics_childv(f->pending, n, u, NULL);
	q->mc.highest_sent = metrics_childv(f->highest_sent, n, u, NULL);
	q->mc.duration = metrics_childv(f->duration, n, u, NULL);
	q->mc.segment = metrics_childv(f->segment, n, NULL);
	q->mc.shards = metrics_childv(f->shards, n, u, NULL);
	q->mc.shards_desired = metrics_childv(f->shards_desired, n, u, NULL);
	metrics_set(q->mc.shards, q->nshards);
	metrics_set(q->mc.shards_desired, q->nshards);
	metrics_set(metrics_childv(f->shards_min, n, u, NULL), (double)qc->min_shards);
	metrics_set(metrics_childv(f->shards_max, n, u, NULL), (double)qc->max_shards);
	metrics_set(metrics_childv(f->capacity, n, u, NULL), (double)qc->capacity);
	metrics_set(metrics_childv(f->max_per_send, n, u, NULL), (double)qc->max_samples_per_send);
}

static int make_client(struct rws_queue *q, char *err, size_t errlen)
{
	const struct rwsend_config *c = &q->conf->c;
	struct httpc_header *h = NULL;
	struct httpc_config hc = {
		.timeout_ms = (unsigned)c->remote_timeout_ms,
		.max_retries = 0, /* retries are the shard's, so each one is counted */
		.max_response_bytes = 1 << 20,
		.ca_file = c->tls_config.ca_file,
		.cert_file = c->tls_config.cert_file,
		.key_file = c->tls_config.key_file,
		.server_name = c->tls_config.server_name,
		.insecure_skip_verify = c->tls_config.insecure_skip_verify,
		.proxy_url = c->proxy_url,
		.follow_redirects = c->follow_redirects,
		.cancel = &q->cancel,
	};
	char why[512];
	int rc;

	if (c->headers.n) {
		h = calloc(c->headers.n, sizeof(*h));
		if (!h)
			return snprintf(err, errlen, "remote_write: out of memory"), -1;
		for (size_t i = 0; i < c->headers.n; i++)
			h[i] = (struct httpc_header){ c->headers.keys[i], c->headers.vals[i] ? c->headers.vals[i] : "" };
		hc.headers = h;
		hc.nheaders = c->headers.n;
	}
	rc = httpc_new(&hc, &q->http, why, sizeof(why));
	free(h); /* httpc_new copied them */
	if (rc)
		snprintf(err, errlen, "remote_write %s: %s", q->conf->name, why);
	return rc ? -1 : 0;
}

static int init_sync(struct rws_queue *q)
{
	if (pthread_mutex_init(&q->mu, NULL))
		return -1;
	if (pthread_mutex_init(&q->sent_mu, NULL))
		goto fail_mu;
	if (pthread_mutex_init(&q->shards_mu, NULL))
		goto fail_sent;
	if (rws_cond_init(&q->cv))
		goto fail_shards;
	q->sync_ready = true;
	return 0;
fail_shards:
	pthread_mutex_destroy(&q->shards_mu);
fail_sent:
	pthread_mutex_destroy(&q->sent_mu);
fail_mu:
	pthread_mutex_destroy(&q->mu);
	return -1;
}

uint64_t rws_queue_slot_target(const struct rws_queue *q)
{
	const struct rwsend_queue_config *qc = &q->conf->c.queue_config;

	return (uint64_t)q->nshards * (uint64_t)(qc->capacity + qc->max_samples_per_send) /
	       (PROGRESS_SLOTS / 2);
}

int rws_queue_new(struct rws_conf *conf, const struct rws_env *env,
		  const struct rws_families *fam, struct rws_queue **out, char *err,
		  size_t errlen)
{
	const struct rwsend_queue_config *qc = &conf->c.queue_config;
	struct rws_queue *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q) {
		rws_conf_free(conf);
		return snprintf(err, errlen, "remote_write: out of memory"), -1;
	}
	q->conf = conf;
	q->env = *env;
	q->start_ms = rws_wall_ms();
	q->nshards = (int)qc->min_shards;
	q->segment = -1;
	if (rws_position_path(env->data_dir, conf->name, q->pos_path, sizeof(q->pos_path))) {
		snprintf(err, errlen, "remote_write %s: data directory path too long", conf->name);
		goto fail;
	}
	if (make_client(q, err, errlen))
		goto fail;
	q->shards = calloc((size_t)q->nshards, sizeof(*q->shards));
	if (!q->shards || rws_progress_init(&q->prog, PROGRESS_SLOTS, rws_queue_slot_target(q)) ||
	    init_sync(q))
		goto oom;
	for (int i = 0; i < q->nshards; i++)
		if (rws_shard_init(&q->shards[i], q))
			goto oom;
	children(q, fam);
	*out = q;
	return 0;
oom:
	snprintf(err, errlen, "remote_write %s: out of memory", conf->name);
fail:
	rws_queue_free(q);
	return -1;
}

static void *shard_thread(void *arg)
{
	struct rws_shard *s = arg;
	struct rws_queue *q = s->q;

	rws_shard_main(s);
	/* A reshard waits for the last one to go. */
	pthread_mutex_lock(&q->mu);
	atomic_fetch_sub(&q->live_shards, 1);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int rws_shards_start(struct rws_queue *q)
{
	int i;

	for (i = 0; i < q->nshards; i++) {
		atomic_fetch_add(&q->live_shards, 1);
		if (pthread_create(&q->shards[i].thr, NULL, shard_thread, &q->shards[i])) {
			atomic_fetch_sub(&q->live_shards, 1);
			break;
		}
		q->shards[i].started = true;
	}
	return i;
}

int rws_queue_start(struct rws_queue *q, char *err, size_t errlen)
{
	q->running = true;
	if (rws_shards_start(q) < q->nshards)
		goto fail;
	if (pthread_create(&q->watcher, NULL, rws_watcher_main, q))
		goto fail;
	q->watcher_started = true;
	if (pthread_create(&q->updater, NULL, rws_updater_main, q))
		goto fail;
	q->updater_started = true;
	return 0;
fail:
	snprintf(err, errlen, "remote_write %s: cannot start threads", q->conf->name);
	rws_queue_halt(q);
	rws_queue_finish(q, 0);
	return -1;
}

static void wake_all(struct rws_queue *q)
{
	pthread_mutex_lock(&q->mu);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_mutex_lock(&q->shards_mu);
	for (int i = 0; i < q->nshards; i++)
		rws_shard_wake(&q->shards[i]);
	pthread_mutex_unlock(&q->shards_mu);
}

void rws_queue_halt(struct rws_queue *q)
{
	if (!q->running)
		return;
	atomic_store(&q->stop_reading, true);
	wake_all(q);
	if (q->watcher_started)
		pthread_join(q->watcher, NULL);
	q->watcher_started = false;
	if (q->updater_started)
		pthread_join(q->updater, NULL);
	q->updater_started = false;
	atomic_store(&q->flushing, true);
	wake_all(q);
}

void rws_queue_finish(struct rws_queue *q, int64_t deadline_ms)
{
	char n[24];

	if (!q->running)
		return;
	while (atomic_load(&q->live_shards) > 0 && rws_now_ms() < deadline_ms) {
		pthread_mutex_lock(&q->mu);
		rws_cond_wait_ms(&q->cv, &q->mu, 10);
		pthread_mutex_unlock(&q->mu);
	}
	atomic_store(&q->cancel, true);
	wake_all(q);
	for (int i = 0; i < q->nshards; i++)
		if (q->shards[i].started) {
			pthread_join(q->shards[i].thr, NULL);
			q->shards[i].started = false;
		}
	q->running = false;
	/* Leave the gauge as if they were done: a replacement with the same name
	 * shares it and counts them again. */
	metrics_add(q->mc.pending, -(double)atomic_load(&q->pending));
	metrics_add(q->mc.ex_pending, -(double)atomic_load(&q->ex_pending));
	rws_queue_save_position(q);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)atomic_load(&q->pending));
	LOG_INFO(RWS_LOG, "Remote storage stopped", "remote_name", q->conf->name, "url",
		 q->conf->url_label, "unsent_samples", n);
}

void rws_queue_note_highest(struct rws_queue *q, int64_t t)
{
	int64_t cur = atomic_load(q->env.highest_in_ms);

	while (t > cur) {
		if (atomic_compare_exchange_weak(q->env.highest_in_ms, &cur, t)) {
			pthread_mutex_lock(q->env.highest_mu);
			metrics_set(q->env.highest_in, (double)atomic_load(q->env.highest_in_ms) / 1000.0);
			pthread_mutex_unlock(q->env.highest_mu);
			return;
		}
	}
}

void rws_queue_maybe_save(struct rws_queue *q)
{
	int64_t now = rws_now_ms();

	if (now < q->next_save_ms)
		return;
	q->next_save_ms = now + q->env.position_interval_ms;
	rws_queue_save_position(q);
}

void rws_queue_save_position(struct rws_queue *q)
{
	struct rws_pos p;
	char err[512];

	if (!rws_progress_safe(&q->prog, &p))
		return;
	if (q->saved_any && p.seg == q->saved.seg && p.off == q->saved.off)
		return;
	if (rws_position_save(q->pos_path, p, err, sizeof(err))) {
		LOG_ERROR(RWS_LOG, "Saving the remote write position failed", "remote_name",
			  q->conf->name, "err", err);
		return;
	}
	q->saved = p;
	q->saved_any = true;
}

void rws_entries_release(const struct rws_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].ex);
}

void rws_queue_done(struct rws_queue *q, const struct rws_entry *e, size_t n)
{
	size_t i = 0, nex = 0;

	while (i < n) {
		size_t j = i + 1;

		while (j < n && e[j].slot == e[i].slot)
			j++;
		rws_progress_ack(&q->prog, e[i].slot, j - i);
		i = j;
	}
	for (i = 0; i < n; i++)
		nex += e[i].ex != NULL;
	rws_entries_release(e, n);
	atomic_fetch_sub(&q->pending, n - nex);
	metrics_add(q->mc.pending, -(double)(n - nex));
	if (nex) {
		atomic_fetch_sub(&q->ex_pending, nex);
		metrics_add(q->mc.ex_pending, -(double)nex);
	}
}

void rws_queue_free(struct rws_queue *q)
{
	if (!q)
		return;
	if (q->running) {
		rws_queue_halt(q);
		rws_queue_finish(q, rws_now_ms() + q->env.flush_deadline_ms);
	}
	for (int i = 0; q->shards && i < q->nshards; i++)
		rws_shard_destroy(&q->shards[i]);
	free(q->shards);
	rws_cache_free(&q->cache);
	rws_progress_destroy(&q->prog);
	if (q->sync_ready) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->shards_mu);
		pthread_mutex_destroy(&q->sent_mu);
		pthread_mutex_destroy(&q->mu);
	}
	httpc_free(q->http);
	rws_conf_free(q->conf);
	free(q);
}

void rws_queue_stats(struct rws_queue *q, struct rwsend_stats *st)
{
	struct rws_pos p;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", q->conf->name);
	st->samples_sent = atomic_load(&q->sent);
	st->samples_failed = atomic_load(&q->failed);
	st->samples_retried = atomic_load(&q->retried);
	st->samples_dropped = atomic_load(&q->dropped);
	st->samples_pending = atomic_load(&q->pending);
	st->exemplars_sent = atomic_load(&q->ex_sent);
	st->exemplars_failed = atomic_load(&q->ex_failed);
	st->exemplars_dropped = atomic_load(&q->ex_dropped);
	st->exemplars_pending = atomic_load(&q->ex_pending);
	st->batches_sent = atomic_load(&q->batches);
	pthread_mutex_lock(&q->shards_mu);
	st->shards = q->nshards;
	pthread_mutex_unlock(&q->shards_mu);
	st->wal_segment = atomic_load(&q->segment);
	st->highest_sent_ms = atomic_load(&q->highest_sent);
	st->position_segment = -1;
	if (rws_progress_safe(&q->prog, &p)) {
		st->position_segment = p.seg;
		st->position_offset = p.off;
	}
}
