/*
 * Progress: which WAL position every sample before has been sent (or dropped). The
 * watcher reads batches in order and counts the samples each one queued into the
 * open slot; shards finish samples out of order (several shards, retries) and
 * subtract from the slot each came from. Slots complete in any order but are popped
 * only from the front, so the safe position never passes a sample still in flight.
 *
 * A slot's end is the end of the last WAL batch whose samples were all counted, so
 * a slot may be sealed at any time, even in the middle of a batch: the rest of that
 * batch goes to the next slot, which also gets its end. Marks only move forward,
 * and batches without samples just extend the newest slot (or the safe position
 * when nothing is in flight), so they cost no slot.
 */
#include <stdlib.h>

#include "rwsend/internal.h"

int rws_progress_init(struct rws_progress *p, size_t cap, uint64_t target)
{
	*p = (struct rws_progress){ .cap = cap, .head_id = 1, .target = target ? target : 1 };
	p->ring = calloc(cap, sizeof(*p->ring));
	if (!p->ring)
		return -1;
	if (pthread_mutex_init(&p->mu, NULL)) {
		free(p->ring);
		return -1;
	}
	if (rws_cond_init(&p->cv)) {
		pthread_mutex_destroy(&p->mu);
		free(p->ring);
		return -1;
	}
	return 0;
}

void rws_progress_destroy(struct rws_progress *p)
{
	if (!p->ring)
		return;
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->ring);
	p->ring = NULL;
}

static struct rws_slot *last(struct rws_progress *p)
{
	return p->count ? &p->ring[(p->head + p->count - 1) % p->cap] : NULL;
}

static void pop(struct rws_progress *p)
{
	bool popped = false;

	while (p->count) {
		struct rws_slot *s = &p->ring[p->head];

		if (!s->sealed || s->outstanding)
			break;
		if (s->has_end && (!p->safe_valid || rws_pos_after(s->end, p->safe))) {
			p->safe = s->end;
			p->safe_valid = true;
		}
		p->head = (p->head + 1) % p->cap;
		p->head_id++;
		p->count--;
		popped = true;
	}
	if (popped)
		pthread_cond_broadcast(&p->cv);
}

void rws_progress_start(struct rws_progress *p, struct rws_pos pos)
{
	pthread_mutex_lock(&p->mu);
	p->safe = pos;
	p->safe_valid = true;
	pthread_mutex_unlock(&p->mu);
}

int rws_progress_add(struct rws_progress *p, uint64_t n, uint64_t *id)
{
	struct rws_slot *s;

	pthread_mutex_lock(&p->mu);
	s = last(p);
	if (!s || s->sealed) {
		if (p->count == p->cap) {
			pthread_mutex_unlock(&p->mu);
			return -1;
		}
		s = &p->ring[(p->head + p->count) % p->cap];
		*s = (struct rws_slot){ 0 };
		p->count++;
	}
	s->added += n;
	s->outstanding += n;
	*id = p->head_id + p->count - 1;
	if (s->added >= p->target)
		s->sealed = true;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void rws_progress_mark(struct rws_progress *p, struct rws_pos pos)
{
	struct rws_slot *s;

	pthread_mutex_lock(&p->mu);
	s = last(p);
	if (!s) {
		if (!p->safe_valid || rws_pos_after(pos, p->safe)) {
			p->safe = pos;
			p->safe_valid = true;
		}
	} else if (!s->has_end || rws_pos_after(pos, s->end)) {
		s->end = pos;
		s->has_end = true;
	}
	pthread_mutex_unlock(&p->mu);
}

void rws_progress_seal(struct rws_progress *p)
{
	struct rws_slot *s;

	pthread_mutex_lock(&p->mu);
	s = last(p);
	if (s)
		s->sealed = true;
	pop(p);
	pthread_mutex_unlock(&p->mu);
}

void rws_progress_ack(struct rws_progress *p, uint64_t id, uint64_t n)
{
	struct rws_slot *s;

	pthread_mutex_lock(&p->mu);
	if (id >= p->head_id && id - p->head_id < p->count) {
		s = &p->ring[(p->head + (size_t)(id - p->head_id)) % p->cap];
		s->outstanding = s->outstanding > n ? s->outstanding - n : 0;
		pop(p);
	}
	pthread_mutex_unlock(&p->mu);
}

bool rws_progress_safe(struct rws_progress *p, struct rws_pos *out)
{
	bool ok;

	pthread_mutex_lock(&p->mu);
	ok = p->safe_valid;
	if (ok)
		*out = p->safe;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

uint64_t rws_progress_done_below(struct rws_progress *p)
{
	uint64_t id;

	pthread_mutex_lock(&p->mu);
	id = p->head_id;
	pthread_mutex_unlock(&p->mu);
	return id;
}

uint64_t rws_progress_last_id(struct rws_progress *p)
{
	uint64_t id;

	pthread_mutex_lock(&p->mu);
	id = p->head_id + p->count - 1;
	pthread_mutex_unlock(&p->mu);
	return id;
}

void rws_progress_wait(struct rws_progress *p, int64_t ms)
{
	pthread_mutex_lock(&p->mu);
	rws_cond_wait_ms(&p->cv, &p->mu, ms);
	pthread_mutex_unlock(&p->mu);
}

void rws_progress_set_target(struct rws_progress *p, uint64_t target)
{
	pthread_mutex_lock(&p->mu);
	p->target = target ? target : 1;
	pthread_mutex_unlock(&p->mu);
}
