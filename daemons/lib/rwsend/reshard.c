/*
 * Resharding, as Prometheus' queue manager does it: every shard update period (10 s)
 * the updater thread smooths four rates with an EWMA (weight 0.2): samples coming
 * into local storage, samples whose send finished, samples dropped before sending,
 * and seconds spent sending. The time one sample takes to send, times the samples
 * that must go out per second (the incoming rate times the share not dropped, plus
 * 5 % of the backlog per second, the backlog being the lag between the newest
 * timestamp appended and the newest sent, times that rate) is the number of shards
 * that would keep up. It is rounded up and acted on only outside a 30 % band around
 * the current count, never downwards while more than 10 s behind, clamped to
 * [min_shards, max_shards], and never while the last finished send is older than
 * twice batch_send_deadline (a failing remote is not helped by more connections).
 *
 * The change itself is the watcher's (the one thread that queues samples), between
 * two WAL records: it lets every shard send all it holds and waits for each to
 * finish, then starts the new set. Routing is by series ref modulo the count, so a
 * series may move to another shard; draining first means none of its samples can
 * overtake an older one. Unlike Prometheus, the drain has no deadline (Prometheus
 * drops what did not flush in time): the watcher waits, going on saving positions,
 * and a stop during the drain leaves the old shards to the stop's own flush, so
 * progress and the saved position account for every sample as before.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "log/log.h"
#include "rwsend/internal.h"

#define EWMA_WEIGHT 0.2
#define TOLERANCE 0.3          /* shardToleranceFraction */
#define CATCHUP 0.05           /* share of the backlog to send per second */
#define MAX_DELAY_DOWN_S 10.0  /* no downsharding while further behind than this */

/* --- the computation ------------------------------------------------------------------ */

void rws_ewma_tick(struct rws_ewma *e, double cumulative, double interval_s)
{
	double events = cumulative - e->last, instant;

	e->last = cumulative;
	if (events < 0)
		events = 0;
	instant = events / interval_s;
	if (e->init) {
		e->rate += EWMA_WEIGHT * (instant - e->rate);
	} else if (events > 0) {
		e->init = true;
		e->rate = instant;
	}
}

int rws_desired_shards(const struct rws_shard_calc *c, double *desired)
{
	double kept, delay, pending, per_sample, want, lower, upper;

	*desired = NAN;
	if (c->out_rate <= 0)
		return c->shards;
	kept = c->out_rate / (c->dropped_rate + c->out_rate);
	delay = c->highest_in_s - c->highest_sent_s;
	pending = delay * c->in_rate * kept;
	per_sample = c->out_seconds_rate / c->out_rate;
	want = per_sample * (c->in_rate * kept + CATCHUP * pending);
	*desired = want;

	lower = c->shards * (1.0 - TOLERANCE);
	upper = c->shards * (1.0 + TOLERANCE);
	want = ceil(want);
	if (isnan(want) || (lower <= want && want <= upper))
		return c->shards;
	if (want < c->shards && delay > MAX_DELAY_DOWN_S)
		return c->shards;
	if (want > c->max_shards)
		return c->max_shards;
	if (want < c->min_shards)
		return c->min_shards;
	return (int)want;
}

bool rws_should_reshard(int desired, int shards, int64_t last_send_ms, int64_t now_ms,
			int64_t batch_send_deadline_ms)
{
	if (desired == shards)
		return false;
	return last_send_ms >= now_ms - 2 * batch_send_deadline_ms;
}

/* --- the updater thread ------------------------------------------------------------------ */

struct updater {
	struct rws_queue *q;
	struct rws_ewma in, out, dropped, out_s;
	int shards;                /* the count asked for last (Prometheus' numShards) */
	double interval_s;
};

static void log_q(struct rws_queue *q, int level, const char *msg, const char *k1,
		  const char *v1, const char *k2, const char *v2)
{
	log_kv((enum log_level)level, RWS_LOG, msg, "remote_name", q->conf->name, "url",
	       q->conf->url_label, k1, v1, k2, v2, (char *)0);
}

/* The incoming side: the storage's own count when the daemon supplies it, else what
 * the watcher decoded (which a stalled watcher undercounts). */
static void incoming(struct rws_queue *q, double *samples, double *highest_s)
{
	uint64_t n = 0;
	int64_t hi = INT64_MIN;

	if (q->env.appended) {
		q->env.appended(q->env.appended_arg, &n, &hi);
		if (hi != INT64_MIN)
			rws_queue_note_highest(q, hi);
		*samples = (double)n;
	} else {
		*samples = (double)atomic_load(&q->read_in);
	}
	hi = atomic_load(q->env.highest_in_ms);
	*highest_s = hi == INT64_MIN ? 0 : (double)hi / 1000.0;
}

/* Exemplars are data too, as upstream counts them in and out. */
static double out_total(struct rws_queue *q)
{
	return (double)(atomic_load(&q->sent) + atomic_load(&q->failed) + atomic_load(&q->ex_sent) +
			atomic_load(&q->ex_failed));
}

static double dropped_total(struct rws_queue *q)
{
	return (double)(atomic_load(&q->dropped) + atomic_load(&q->ex_dropped));
}

static void tick(struct updater *u, struct rws_shard_calc *c)
{
	struct rws_queue *q = u->q;
	const struct rwsend_queue_config *qc = &q->conf->c.queue_config;
	double in;

	incoming(q, &in, &c->highest_in_s);
	rws_ewma_tick(&u->in, in, u->interval_s);
	rws_ewma_tick(&u->out, out_total(q), u->interval_s);
	rws_ewma_tick(&u->dropped, dropped_total(q), u->interval_s);
	rws_ewma_tick(&u->out_s, (double)atomic_load(&q->send_us) / 1e6, u->interval_s);
	c->in_rate = u->in.rate;
	c->out_rate = u->out.rate;
	c->dropped_rate = u->dropped.rate;
	c->out_seconds_rate = u->out_s.rate;
	c->highest_sent_s = (double)atomic_load(&q->highest_sent) / 1000.0;
	c->shards = u->shards;
	c->min_shards = (int)qc->min_shards;
	c->max_shards = (int)qc->max_shards;
}

static void log_calc(struct rws_queue *q, const struct rws_shard_calc *c, double desired)
{
	char v[6][32];

	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	snprintf(v[0], sizeof(v[0]), "%.3f", c->in_rate);
	snprintf(v[1], sizeof(v[1]), "%.3f", c->out_rate);
	snprintf(v[2], sizeof(v[2]), "%.3f", c->dropped_rate);
	snprintf(v[3], sizeof(v[3]), "%.6f", c->out_rate > 0 ? c->out_seconds_rate / c->out_rate : 0);
	snprintf(v[4], sizeof(v[4]), "%.3f", c->highest_in_s - c->highest_sent_s);
	snprintf(v[5], sizeof(v[5]), "%.3f", desired);
	LOG_DEBUG(RWS_LOG, "QueueManager.calculateDesiredShards", "remote_name", q->conf->name,
		  "dataInRate", v[0], "dataOutRate", v[1], "dataDroppedRate", v[2],
		  "timePerSample", v[3], "delay", v[4], "desiredShards", v[5]);
}

static void update(struct updater *u)
{
	struct rws_queue *q = u->q;
	struct rws_shard_calc c;
	double desired;
	char from[16], to[16];
	int n, none = 0;

	tick(u, &c);
	n = rws_desired_shards(&c, &desired);
	if (!isnan(desired)) {
		metrics_set(q->mc.shards_desired, desired);
		log_calc(q, &c, desired);
	}
	if (n == u->shards)
		return;
	if (!rws_should_reshard(n, u->shards, atomic_load(&q->last_send_ms), rws_wall_ms(),
				q->conf->c.queue_config.batch_send_deadline_ms)) {
		log_q(q, LOG_LEVEL_WARN, "Skipping resharding, last successful send was beyond threshold",
		      NULL, NULL, NULL, NULL);
		return;
	}
	snprintf(from, sizeof(from), "%d", u->shards);
	snprintf(to, sizeof(to), "%d", n);
	if (!atomic_compare_exchange_strong(&q->reshard_req, &none, n)) {
		log_q(q, LOG_LEVEL_INFO, "Currently resharding, skipping.", NULL, NULL, NULL, NULL);
		return;
	}
	log_q(q, LOG_LEVEL_INFO, "Remote storage resharding", "from", from, "to", to);
	u->shards = n;
	/* The watcher may be idle on the queue's condition variable. */
	pthread_mutex_lock(&q->mu);
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void *rws_updater_main(void *arg)
{
	struct updater u = { .q = arg };
	struct rws_queue *q = u.q;
	int64_t next;
	double in, hi;

	u.shards = q->nshards;
	u.interval_s = q->env.shard_update_ms / 1000.0;
	/* Counting starts now: what the storage appended before is not incoming work. */
	incoming(q, &in, &hi);
	u.in.last = in;
	u.out.last = out_total(q);
	u.dropped.last = dropped_total(q);
	u.out_s.last = (double)atomic_load(&q->send_us) / 1e6;
	next = rws_now_ms() + q->env.shard_update_ms;
	pthread_mutex_lock(&q->mu);
	while (!atomic_load(&q->stop_reading)) {
		int64_t now = rws_now_ms();

		if (now < next) {
			rws_cond_wait_ms(&q->cv, &q->mu, next - now);
			continue;
		}
		next += q->env.shard_update_ms;
		if (next <= now)
			next = now + q->env.shard_update_ms;
		pthread_mutex_unlock(&q->mu);
		update(&u);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* --- the change (watcher thread) ---------------------------------------------------------- */

static void destroy_set(struct rws_shard *set, int n)
{
	for (int i = 0; set && i < n; i++)
		rws_shard_destroy(&set[i]);
	free(set);
}

/* Let every running shard send what it holds and exit; -1 if reading stops first. */
static int drain(struct rws_queue *q)
{
	for (int i = 0; i < q->nshards; i++) {
		struct rws_shard *s = &q->shards[i];

		pthread_mutex_lock(&s->mu);
		s->drain = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	while (atomic_load(&q->live_shards) > 0) {
		if (atomic_load(&q->stop_reading))
			return -1;
		rws_progress_seal(&q->prog);
		rws_queue_maybe_save(q);
		pthread_mutex_lock(&q->mu);
		if (atomic_load(&q->live_shards) > 0 && !atomic_load(&q->stop_reading))
			rws_cond_wait_ms(&q->cv, &q->mu, 50);
		pthread_mutex_unlock(&q->mu);
	}
	for (int i = 0; i < q->nshards; i++)
		if (q->shards[i].started) {
			pthread_join(q->shards[i].thr, NULL);
			q->shards[i].started = false;
		}
	return 0;
}

static void swap_set(struct rws_queue *q, struct rws_shard *set, int n)
{
	struct rws_shard *old = q->shards;
	int nold = q->nshards;

	pthread_mutex_lock(&q->shards_mu);
	q->shards = set;
	q->nshards = n;
	pthread_mutex_unlock(&q->shards_mu);
	destroy_set(old, nold);
}

/* Start the new set; with threads refused, run the ones that did start (at least one,
 * retried until the queue stops: samples must have somewhere to go). */
static int start_set(struct rws_queue *q)
{
	int k;

	while ((k = rws_shards_start(q)) == 0) {
		log_q(q, LOG_LEVEL_ERROR, "Cannot start shard threads, retrying", NULL, NULL, NULL, NULL);
		pthread_mutex_lock(&q->mu);
		if (!atomic_load(&q->stop_reading))
			rws_cond_wait_ms(&q->cv, &q->mu, 1000);
		pthread_mutex_unlock(&q->mu);
		if (atomic_load(&q->stop_reading))
			return -1;
	}
	if (k < q->nshards) {
		int n = q->nshards;

		pthread_mutex_lock(&q->shards_mu);
		q->nshards = k;
		pthread_mutex_unlock(&q->shards_mu);
		for (int i = k; i < n; i++)
			rws_shard_destroy(&q->shards[i]);
	}
	return 0;
}

int rws_reshard_pending(struct rws_queue *q)
{
	int n = atomic_load(&q->reshard_req), rc = 0;
	struct rws_shard *set;

	if (!n)
		return 0;
	if (n == q->nshards)
		goto done;
	set = calloc((size_t)n, sizeof(*set));
	for (int i = 0; set && i < n; i++)
		if (rws_shard_init(&set[i], q)) {
			destroy_set(set, i);
			set = NULL;
		}
	if (!set) {
		log_q(q, LOG_LEVEL_ERROR, "Out of memory resharding, keeping the shards", NULL, NULL,
		      NULL, NULL);
		goto done;
	}
	if (drain(q)) {
		destroy_set(set, n);
		return -1;
	}
	swap_set(q, set, n);
	rws_progress_set_target(&q->prog, rws_queue_slot_target(q));
	rc = start_set(q);
	metrics_set(q->mc.shards, q->nshards);
done:
	atomic_store(&q->reshard_req, 0);
	return rc;
}
