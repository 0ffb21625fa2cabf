/*
 * A target's metadata cache, after the metadata half of Prometheus' scrapeCache.
 *
 * Each family is one allocation holding the entry, its name, help and unit, so a
 * steady target (the same lines every scrape) costs a lookup and a compare per
 * line and no allocation. A line that changes help or unit builds a new entry and
 * splices it into the old one's place in its chain; the type changes in place.
 * Bytes are counted per allocation, which is what the bound limits.
 *
 * The loop takes the lock once per line rather than once per scrape, so a reader
 * never waits for a whole parse, only for one line's update.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "scrape/mgr_internal.h"

int sm_meta_init(struct sm_meta *m, size_t max_bytes)
{
	memset(m, 0, sizeof(*m));
	m->max_bytes = max_bytes ? max_bytes : SM_META_MAX_BYTES;
	return pthread_mutex_init(&m->mu, NULL) ? -1 : 0;
}

void sm_meta_free(struct sm_meta *m)
{
	sm_htab_free(&m->tab);
	pthread_mutex_destroy(&m->mu);
}

static uint64_t name_hash(const char *name)
{
	return XXH3_64bits(name, strlen(name));
}

/* The link that points at `name`'s entry (to splice a replacement in), or NULL. */
static struct sm_node **find(struct sm_meta *m, const char *name, uint64_t h)
{
	struct sm_node **pp;

	if (!m->tab.nb)
		return NULL;
	for (pp = &m->tab.b[h & (m->tab.nb - 1)]; *pp; pp = &(*pp)->next) {
		const struct sm_meta_entry *e = (const struct sm_meta_entry *)*pp;

		if ((*pp)->hash == h && !strcmp(e->name, name))
			return pp;
	}
	return NULL;
}

struct text {
	const char *s;
	size_t n;
};

/* One allocation: entry, name, help, unit. */
static struct sm_meta_entry *entry_new(const char *name, enum scrape_type type, struct text help,
				       struct text unit)
{
	size_t nl = strlen(name) + 1;
	size_t size = sizeof(struct sm_meta_entry) + nl + help.n + 1 + unit.n + 1;
	struct sm_meta_entry *e = malloc(size);
	char *p;

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->size = size;
	e->type = type;
	memcpy(e->name, name, nl);
	p = e->name + nl;
	memcpy(p, help.s, help.n);
	p[help.n] = '\0';
	e->help = p;
	e->help_len = help.n;
	p += help.n + 1;
	memcpy(p, unit.s, unit.n);
	p[unit.n] = '\0';
	e->unit = p;
	return e;
}

static bool fits(const struct sm_meta *m, size_t drop, size_t add)
{
	return m->bytes - drop + add <= m->max_bytes;
}

/* A family first named now: as upstream, "unknown" with no help or unit yet. */
static struct sm_node **add_family(struct sm_meta *m, const char *name, uint64_t h, int *rc)
{
	struct sm_meta_entry *e = entry_new(name, SCRAPE_TYPE_UNKNOWN, (struct text){ "", 0 },
					    (struct text){ "", 0 });

	*rc = -1;
	if (!e)
		return NULL;
	if (!fits(m, 0, e->size)) {
		free(e);
		*rc = 1;
		return NULL;
	}
	e->node.hash = h;
	if (sm_htab_add(&m->tab, &e->node)) {
		free(e);
		return NULL;
	}
	m->bytes += e->size;
	*rc = 0;
	/* sm_htab_add() puts a node at the head of its chain. */
	return &m->tab.b[h & (m->tab.nb - 1)];
}

/* Replace *pp's entry with one carrying the new help or unit. */
static int replace(struct sm_meta *m, struct sm_node **pp, struct text help, struct text unit)
{
	struct sm_meta_entry *old = (struct sm_meta_entry *)*pp;
	struct sm_meta_entry *e = entry_new(old->name, old->type, help, unit);

	if (!e)
		return -1;
	if (!fits(m, old->size, e->size)) {
		free(e);
		return 1;
	}
	e->node = old->node;
	e->seen = old->seen;
	*pp = &e->node;
	m->bytes = m->bytes - old->size + e->size;
	free(old);
	return 0;
}

static bool same(struct text a, struct text b)
{
	return a.n == b.n && !memcmp(a.s, b.s, a.n);
}

static int apply(struct sm_meta *m, struct sm_node **pp, const struct scrape_meta *l)
{
	struct sm_meta_entry *e = (struct sm_meta_entry *)*pp;
	struct text text = { l->text, l->text_len }, help = { e->help, e->help_len };
	struct text unit = { e->unit, strlen(e->unit) };
	int rc = 0;

	/* Named in this scrape, whether or not the bound lets the line change it. */
	e->seen = m->iter;
	switch (l->kind) {
	case SCRAPE_META_TYPE:
		e->type = l->type;
		break;
	case SCRAPE_META_HELP:
		if (!same(help, text))
			rc = replace(m, pp, text, unit);
		break;
	case SCRAPE_META_UNIT:
		if (!same(unit, text))
			rc = replace(m, pp, help, text);
		break;
	}
	return rc;
}

int sm_meta_set(struct sm_meta *m, const struct scrape_meta *line)
{
	uint64_t h = name_hash(line->family);
	struct sm_node **pp;
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	pp = find(m, line->family, h);
	if (!pp)
		pp = add_family(m, line->family, h, &rc);
	if (pp)
		rc = apply(m, pp, line);
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/* Keeps the entries seen lately; counts out the bytes of those it lets go. */
static bool recent(const struct sm_node *n, void *arg)
{
	struct sm_meta *m = arg;
	const struct sm_meta_entry *e = (const struct sm_meta_entry *)n;

	if (m->iter - e->seen <= SM_META_KEEP_SCRAPES)
		return true;
	m->bytes -= e->size;
	return false;
}

void sm_meta_flush(struct sm_meta *m)
{
	pthread_mutex_lock(&m->mu);
	sm_htab_prune(&m->tab, recent, m);
	m->iter++;
	pthread_mutex_unlock(&m->mu);
}

void sm_meta_handoff(struct sm_meta *from, struct sm_meta *to)
{
	pthread_mutex_lock(&from->mu);
	pthread_mutex_lock(&to->mu);
	sm_htab_free(&to->tab);
	to->tab = from->tab;
	to->iter = from->iter;
	to->bytes = from->bytes;
	from->tab = (struct sm_htab){ 0 };
	from->bytes = 0;
	pthread_mutex_unlock(&to->mu);
	pthread_mutex_unlock(&from->mu);
}

static int by_name(const void *pa, const void *pb)
{
	const struct sm_meta_entry *a = *(const struct sm_meta_entry *const *)pa;
	const struct sm_meta_entry *b = *(const struct sm_meta_entry *const *)pb;

	return strcmp(a->name, b->name);
}

static const struct sm_meta_entry **collect(struct sm_meta *m, const char *family, size_t *n)
{
	const struct sm_meta_entry **v = malloc((m->tab.n + 1) * sizeof(*v));
	struct sm_node **pp;

	*n = 0;
	if (!v)
		return NULL;
	if (family) {
		pp = find(m, family, name_hash(family));
		if (pp)
			v[(*n)++] = (const struct sm_meta_entry *)*pp;
		return v;
	}
	for (size_t i = 0; i < m->tab.nb; i++)
		for (struct sm_node *nd = m->tab.b[i]; nd; nd = nd->next)
			v[(*n)++] = (const struct sm_meta_entry *)nd;
	qsort(v, *n, sizeof(*v), by_name);
	return v;
}

int sm_meta_view(struct sm_meta *m, const char *family,
		 int (*fn)(void *arg, const struct sm_meta_entry *const *v, size_t n), void *arg)
{
	const struct sm_meta_entry **v;
	size_t n;
	int rc;

	pthread_mutex_lock(&m->mu);
	v = collect(m, family, &n);
	rc = v ? fn(arg, v, n) : -1;
	pthread_mutex_unlock(&m->mu);
	free(v);
	return rc;
}

size_t sm_meta_count(struct sm_meta *m)
{
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = m->tab.n;
	pthread_mutex_unlock(&m->mu);
	return n;
}
