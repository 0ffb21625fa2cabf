/*
 * The handle pool. A slot is an easy handle plus the multi handle that drives it;
 * the multi owns the connection cache, so a slot taken from the pool brings its
 * warm connections along. Free slots are a LIFO stack: under light load the same
 * few slots (and connections) serve everything, and the pool grows only to the
 * number of requests actually in flight. The mutex guards the stack only; no curl
 * call is made under it.
 */
#include "httpclient/internal.h"

#include <stdlib.h>

static void slot_free(const struct dynload_curl *cu, struct httpc_slot *s)
{
	if (!s)
		return;
	/* The easy handle was removed from the multi after its last transfer. */
	if (s->multi)
		cu->multi_cleanup(s->multi);
	if (s->easy)
		cu->easy_cleanup(s->easy);
	free(s);
}

static int slot_new(const struct dynload_curl *cu, struct httpc_slot **out)
{
	struct httpc_slot *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return HTTPC_ENOMEM;
	s->easy = cu->easy_init();
	s->multi = cu->multi_init();
	if (!s->easy || !s->multi) {
		slot_free(cu, s);
		return HTTPC_ENOMEM;
	}
	*out = s;
	return 0;
}

void httpc_pool_init(struct httpc_pool *p, const struct dynload_curl *cu, unsigned max_idle)
{
	p->cu = cu;
	pthread_mutex_init(&p->mu, NULL);
	p->idle = NULL;
	p->nidle = 0;
	p->max_idle = max_idle;
}

int httpc_pool_get(struct httpc_pool *p, struct httpc_slot **out)
{
	struct httpc_slot *s;

	pthread_mutex_lock(&p->mu);
	s = p->idle;
	if (s) {
		p->idle = s->next;
		p->nidle--;
	}
	pthread_mutex_unlock(&p->mu);
	if (!s)
		return slot_new(p->cu, out);
	s->next = NULL;
	*out = s;
	return 0;
}

void httpc_pool_put(struct httpc_pool *p, struct httpc_slot *s)
{
	pthread_mutex_lock(&p->mu);
	if (p->nidle < p->max_idle) {
		s->next = p->idle;
		p->idle = s;
		p->nidle++;
		s = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	slot_free(p->cu, s);
}

void httpc_pool_destroy(struct httpc_pool *p)
{
	struct httpc_slot *s, *next;

	for (s = p->idle; s; s = next) {
		next = s->next;
		slot_free(p->cu, s);
	}
	p->idle = NULL;
	p->nidle = 0;
	pthread_mutex_destroy(&p->mu);
}
