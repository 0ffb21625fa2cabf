/*
 * Small things the manager's files share: the two clocks (monotonic for
 * schedules, wall for sample timestamps), a label builder with Prometheus'
 * labels.Builder semantics for the few labels of a target, and Go-style quoting
 * for messages that repeat what the user wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scrape/internal.h"
#include "scrape/mgr_internal.h"

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sm_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t sm_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static struct label *find(const struct sm_lb *b, const char *name)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].name, name))
			return &b->v[i];
	return NULL;
}

const char *sm_lb_get(const struct sm_lb *b, const char *name)
{
	const struct label *l = find(b, name);

	return l ? l->value : "";
}

void sm_lb_del(struct sm_lb *b, const char *name)
{
	struct label *l = find(b, name);

	if (l)
		*l = b->v[--b->n];
}

int sm_lb_init(struct sm_lb *b, struct arena *a, size_t cap, const struct labels *from)
{
	*b = (struct sm_lb){ .a = a, .cap = cap + (from ? from->n : 0) };
	b->v = arena_alloc(a, (b->cap ? b->cap : 1) * sizeof(*b->v));
	if (!b->v)
		return -1;
	for (size_t i = 0; from && i < from->n; i++)
		b->v[b->n++] = from->v[i];
	return 0;
}

/* name and value must outlive the builder (arena or input strings). */
int sm_lb_set(struct sm_lb *b, const char *name, const char *value)
{
	struct label *l;

	if (!*value) {
		sm_lb_del(b, name);
		return 0;
	}
	l = find(b, name);
	if (l) {
		l->value = value;
		return 0;
	}
	if (b->n == b->cap)
		return -1;
	b->v[b->n++] = (struct label){ name, value };
	return 0;
}

struct labels sm_lb_labels(struct sm_lb *b)
{
	struct labels ls = { b->v, b->n };

	labels_sort(&ls);
	return ls;
}

void sm_quote(const char *s, char *out, size_t cap)
{
	struct buf q = { 0 };

	sp_go_quote(&q, s, strlen(s));
	snprintf(out, cap, "%s", q.data && !q.oom ? q.data : "\"\"");
	buf_free(&q);
}
