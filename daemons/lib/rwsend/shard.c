/*
 * Shards: one ring of queued samples and one sending thread each. The watcher
 * pushes (waiting while the ring is full: that is the backpressure that bounds
 * memory; it goes on saving the position meanwhile); the thread takes up to max_samples_per_send entries once that many are
 * queued (or the ring is full), or once the oldest queued entry has waited
 * batch_send_deadline, sends them, and only then reports them done, so the progress
 * it reports is the receiver's. One thread per shard keeps each series' samples in
 * order: a series always lands in the same shard, and a shard has one batch in
 * flight at a time.
 *
 * Stopping: `flushing` (the queue stops) and `drain` (this shard set is being
 * replaced) make the thread send whatever is queued without waiting for deadlines
 * and exit once the ring is empty; `cancel` makes it exit at once, leaving
 * the batch in flight unreported (the position stays before it, so it is sent again
 * after a restart).
 */
#include <stdlib.h>
#include <string.h>

#include "rwsend/internal.h"

int rws_shard_init(struct rws_shard *s, struct rws_queue *q)
{
	const struct rwsend_queue_config *qc = &q->conf->c.queue_config;

	memset(s, 0, sizeof(*s));
	s->q = q;
	s->cap = (size_t)qc->capacity;
	s->ring = malloc(s->cap * sizeof(*s->ring));
	s->batch = malloc((size_t)qc->max_samples_per_send * sizeof(*s->batch));
	s->arena = arena_new(0);
	if (!s->ring || !s->batch || !s->arena)
		goto fail;
	if (pthread_mutex_init(&s->mu, NULL))
		goto fail;
	if (rws_cond_init(&s->cv)) {
		pthread_mutex_destroy(&s->mu);
		goto fail;
	}
	return 0;
fail:
	free(s->ring);
	free(s->batch);
	arena_free(s->arena);
	memset(s, 0, sizeof(*s));
	return -1;
}

void rws_shard_destroy(struct rws_shard *s)
{
	if (!s->ring)
		return;
	/* What a stop abandoned. */
	for (size_t i = 0; i < s->len; i++)
		rws_entries_release(&s->ring[(s->head + i) % s->cap], 1);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->ring);
	free(s->batch);
	arena_free(s->arena);
	buf_free(&s->pb);
	buf_free(&s->body);
	httpc_response_free(&s->resp);
	memset(s, 0, sizeof(*s));
}

void rws_shard_wake(struct rws_shard *s)
{
	pthread_mutex_lock(&s->mu);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int rws_shard_push(struct rws_shard *s, const struct rws_entry *e, size_t n)
{
	struct rws_queue *q = s->q;
	bool waited = false;

	pthread_mutex_lock(&s->mu);
	while (n) {
		size_t room = s->cap - s->len, k = n < room ? n : room;

		if (!k) {
			if (atomic_load(&q->stop_reading)) {
				pthread_mutex_unlock(&s->mu);
				rws_entries_release(e, n);
				return -1;
			}
			if (!waited)
				metrics_inc(q->mc.enqueue_retries);
			waited = true;
			/* Let what was counted so far complete while we wait. */
			pthread_mutex_unlock(&s->mu);
			rws_progress_seal(&q->prog);
			rws_queue_maybe_save(q);
			pthread_mutex_lock(&s->mu);
			if (s->len == s->cap)
				rws_cond_wait_ms(&s->cv, &s->mu, 100);
			continue;
		}
		if (!s->len)
			s->oldest_ms = rws_now_ms();
		for (size_t i = 0; i < k; i++)
			s->ring[(s->head + s->len + i) % s->cap] = e[i];
		s->len += k;
		e += k;
		n -= k;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Wait for a batch worth sending; its size, or 0 when the thread should exit. */
static size_t take(struct rws_shard *s)
{
	struct rws_queue *q = s->q;
	const struct rwsend_queue_config *qc = &q->conf->c.queue_config;
	size_t want = (size_t)qc->max_samples_per_send, n;

	if (want > s->cap)
		want = s->cap;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		bool now = s->drain || atomic_load(&q->flushing);
		int64_t left;

		if (atomic_load(&q->cancel) || (now && !s->len)) {
			pthread_mutex_unlock(&s->mu);
			return 0;
		}
		if (s->len >= want || (s->len && now))
			break;
		left = s->len ? s->oldest_ms + qc->batch_send_deadline_ms - rws_now_ms() : 1000;
		if (left <= 0)
			break;
		rws_cond_wait_ms(&s->cv, &s->mu, left);
	}
	n = s->len < (size_t)qc->max_samples_per_send ? s->len : (size_t)qc->max_samples_per_send;
	for (size_t i = 0; i < n; i++)
		s->batch[i] = s->ring[(s->head + i) % s->cap];
	s->head = (s->head + n) % s->cap;
	s->len -= n;
	/* The rest waits a full deadline of its own rather than going out in a trickle. */
	s->oldest_ms = rws_now_ms();
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return n;
}

void *rws_shard_main(void *arg)
{
	struct rws_shard *s = arg;
	size_t n;

	while ((n = take(s)) > 0) {
		if (rws_send_batch(s, s->batch, n)) {
			rws_entries_release(s->batch, n); /* abandoned at stop */
			break;
		}
		rws_queue_done(s->q, s->batch, n);
	}
	return NULL;
}
