/*
 * Epoch-based reclamation for the head. Queriers read series, chunks and label strings
 * without holding locks across calls, so truncation cannot free what it unlinks right
 * away. It hands the memory over as a grave stamped with a new epoch; a reader records
 * the epoch it entered at, and a grave is freed once every reader still open entered at
 * or after the grave's epoch (those cannot have seen the unlinked memory). Readers are
 * kept in entry order, so the oldest is the list's first. One mutex guards it all: it
 * is taken only when a querier opens or closes and when a truncation starts or ends.
 *
 * Readers also record the oldest timestamp they read, so a truncation can first wait
 * for the readers whose range it cuts into (as Prometheus' head truncation waits for
 * pending readers): a query never loses chunks halfway through.
 */
#include <stdlib.h>

#include "tsdb/internal.h"

int tsdb_reclaim_init(struct tsdb_reclaim *rc)
{
	if (pthread_mutex_init(&rc->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&rc->left, NULL) != 0) {
		pthread_mutex_destroy(&rc->mu);
		return -1;
	}
	rc->epoch = 0;
	rc->readers.next = rc->readers.prev = &rc->readers;
	rc->graves = NULL;
	return 0;
}

static void bury(struct tsdb_grave *g)
{
	while (g) {
		struct tsdb_grave *next = g->next;

		for (size_t i = 0; i < g->n; i++) {
			if (g->items[i].ctx)
				g->items[i].fn.with_ctx(g->items[i].ctx, g->items[i].p);
			else
				g->items[i].fn.plain(g->items[i].p);
		}
		free(g->items);
		free(g);
		g = next;
	}
}

void tsdb_reclaim_destroy(struct tsdb_reclaim *rc)
{
	bury(rc->graves);
	rc->graves = NULL;
	pthread_cond_destroy(&rc->left);
	pthread_mutex_destroy(&rc->mu);
}

int64_t tsdb_reclaim_enter(struct tsdb_reclaim *rc, struct tsdb_reader *r, int64_t mint,
			   const int64_t *floor)
{
	int64_t f;

	pthread_mutex_lock(&rc->mu);
	f = __atomic_load_n(floor, __ATOMIC_ACQUIRE);
	r->mint = mint > f ? mint : f;
	r->epoch = rc->epoch;
	r->prev = rc->readers.prev;
	r->next = &rc->readers;
	rc->readers.prev->next = r;
	rc->readers.prev = r;
	pthread_mutex_unlock(&rc->mu);
	return r->mint;
}

static bool reads_below(struct tsdb_reclaim *rc, int64_t mint)
{
	for (struct tsdb_reader *r = rc->readers.next; r != &rc->readers; r = r->next)
		if (r->mint < mint)
			return true;
	return false;
}

void tsdb_reclaim_wait(struct tsdb_reclaim *rc, int64_t mint)
{
	pthread_mutex_lock(&rc->mu);
	while (reads_below(rc, mint))
		pthread_cond_wait(&rc->left, &rc->mu);
	pthread_mutex_unlock(&rc->mu);
}

/* Detach the graves no open reader can reach; called with the mutex held. */
static struct tsdb_grave *collect(struct tsdb_reclaim *rc)
{
	struct tsdb_grave **pp = &rc->graves, *dead = NULL;
	bool any = rc->readers.next != &rc->readers;
	uint64_t oldest = any ? rc->readers.next->epoch : 0;

	while (*pp) {
		struct tsdb_grave *g = *pp;

		if (!any || oldest >= g->epoch) {
			*pp = g->next;
			g->next = dead;
			dead = g;
		} else {
			pp = &g->next;
		}
	}
	return dead;
}

void tsdb_reclaim_leave(struct tsdb_reclaim *rc, struct tsdb_reader *r)
{
	struct tsdb_grave *dead;

	pthread_mutex_lock(&rc->mu);
	r->prev->next = r->next;
	r->next->prev = r->prev;
	dead = collect(rc);
	pthread_cond_broadcast(&rc->left);
	pthread_mutex_unlock(&rc->mu);
	bury(dead);
}

int tsdb_grave_reserve(struct tsdb_grave *g, size_t n)
{
	size_t cap = g->cap ? g->cap : 64;
	struct tsdb_retired *ni;

	if (g->n + n <= g->cap)
		return 0;
	while (cap < g->n + n)
		cap *= 2;
	ni = realloc(g->items, cap * sizeof(*ni));
	if (!ni)
		return -1;
	g->items = ni;
	g->cap = cap;
	return 0;
}

void tsdb_grave_add(struct tsdb_grave *g, void (*fn)(void *p), void *p)
{
	g->items[g->n++] = (struct tsdb_retired){ .fn.plain = fn, .p = p };
}

void tsdb_grave_add_ctx(struct tsdb_grave *g, void (*fn)(void *ctx, void *p), void *ctx,
			void *p)
{
	g->items[g->n++] = (struct tsdb_retired){ .fn.with_ctx = fn, .ctx = ctx, .p = p };
}

void tsdb_reclaim_retire(struct tsdb_reclaim *rc, struct tsdb_grave *g)
{
	struct tsdb_grave *dead;

	if (!g)
		return;
	if (g->n == 0) {
		free(g->items);
		free(g);
		return;
	}
	pthread_mutex_lock(&rc->mu);
	g->epoch = ++rc->epoch;
	g->next = rc->graves;
	rc->graves = g;
	dead = collect(rc);
	pthread_mutex_unlock(&rc->mu);
	bury(dead);
}
