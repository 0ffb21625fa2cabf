/*
 * A scrape loop's memory of series, after Prometheus' scrapeCache:
 * - entries: scraped label set -> what it became after target labels and metric
 *   relabeling, so a steady target is relabeled once, not every scrape;
 * - series: the label sets actually appended, with the storage's ref and two
 *   iteration numbers: when the series last appeared, and when it was last
 *   appended without its own timestamp (only those take part in staleness).
 * Staleness compares iterations instead of swapping two sets: a series tracked in
 * the previous iteration and not in this one has gone. Tracking is staged during a
 * scrape and committed only if the scrape succeeds, so a failed scrape leaves the
 * previous set as it was (and stales all of it).
 *
 * Both tables chain on a 64-bit label hash, compare labels on a hit, and grow by
 * doubling. Each node is one allocation holding its label array and strings.
 */
#include <stdlib.h>
#include <string.h>

#include "scrape/mgr_internal.h"

static int htab_grow(struct sm_htab *t)
{
	size_t nb = t->nb ? t->nb * 2 : 64;
	struct sm_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < t->nb; i++) {
		struct sm_node *n = t->b[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

static int htab_add(struct sm_htab *t, struct sm_node *n)
{
	if (t->n >= t->nb && htab_grow(t))
		return -1;
	n->next = t->b[n->hash & (t->nb - 1)];
	t->b[n->hash & (t->nb - 1)] = n;
	t->n++;
	return 0;
}

/* Remove and free every node `keep` rejects. */
static void htab_prune(struct sm_htab *t, bool (*keep)(const struct sm_node *n, uint64_t iter),
		       uint64_t iter)
{
	for (size_t i = 0; i < t->nb; i++) {
		struct sm_node **pp = &t->b[i];

		while (*pp) {
			struct sm_node *n = *pp;

			if (keep && keep(n, iter)) {
				pp = &n->next;
				continue;
			}
			*pp = n->next;
			free(n);
			t->n--;
		}
	}
}

static void htab_free(struct sm_htab *t)
{
	htab_prune(t, NULL, 0);
	free(t->b);
	*t = (struct sm_htab){ 0 };
}

/* One allocation: `head` bytes of node, then the labels array, then the strings. */
static void *node_with_labels(size_t head, const struct labels *src, struct labels *dst)
{
	size_t strs = 0, off;
	char *p, *s;

	for (size_t i = 0; i < src->n; i++)
		strs += strlen(src->v[i].name) + strlen(src->v[i].value) + 2;
	off = (head + _Alignof(struct label) - 1) / _Alignof(struct label) * _Alignof(struct label);
	p = calloc(1, off + src->n * sizeof(struct label) + strs);
	if (!p)
		return NULL;
	dst->v = (struct label *)(p + off);
	dst->n = src->n;
	s = p + off + src->n * sizeof(struct label);
	for (size_t i = 0; i < src->n; i++) {
		size_t nl = strlen(src->v[i].name) + 1, vl = strlen(src->v[i].value) + 1;

		dst->v[i].name = memcpy(s, src->v[i].name, nl);
		dst->v[i].value = memcpy(s + nl, src->v[i].value, vl);
		s += nl + vl;
	}
	return p;
}

static struct sm_series *series_find(struct sm_cache *c, const struct labels *ls, uint64_t h)
{
	struct sm_node *n = c->series.nb ? c->series.b[h & (c->series.nb - 1)] : NULL;

	for (; n; n = n->next) {
		struct sm_series *s = (struct sm_series *)n;

		if (n->hash == h && labels_equal(&s->ls, ls))
			return s;
	}
	return NULL;
}

struct sm_centry *sm_cache_get(struct sm_cache *c, const struct labels *in, uint64_t h)
{
	struct sm_node *n = c->entries.nb ? c->entries.b[h & (c->entries.nb - 1)] : NULL;

	for (; n; n = n->next) {
		struct sm_centry *e = (struct sm_centry *)n;

		if (n->hash != h || !labels_equal(&e->in, in))
			continue;
		e->seen = c->iter;
		if (e->s)
			e->s->seen = c->iter;
		return e;
	}
	return NULL;
}

static struct sm_series *series_get(struct sm_cache *c, const struct labels *out, bool *added)
{
	uint64_t h = labels_hash(out);
	struct sm_series *s = series_find(c, out, h);
	struct labels tmp;

	*added = false;
	if (s)
		return s;
	s = node_with_labels(sizeof(*s), out, &tmp);
	if (!s)
		return NULL;
	s->ls = tmp;
	s->node.hash = h;
	if (htab_add(&c->series, &s->node)) {
		free(s);
		return NULL;
	}
	*added = true;
	return s;
}

struct sm_centry *sm_cache_put(struct sm_cache *c, const struct labels *in, uint64_t h,
			       const struct labels *out, bool *added)
{
	struct labels tmp;
	struct sm_centry *e;
	struct sm_series *s = NULL;

	*added = false;
	if (out) {
		s = series_get(c, out, added);
		if (!s)
			return NULL;
		s->seen = c->iter;
	}
	e = node_with_labels(sizeof(*e), in, &tmp);
	if (!e)
		return NULL;
	e->in = tmp;
	e->node.hash = h;
	e->seen = c->iter;
	e->s = s;
	if (htab_add(&c->entries, &e->node)) {
		free(e);
		return NULL;
	}
	return e;
}

void sm_cache_begin(struct sm_cache *c)
{
	c->iter++;
	c->ncur = 0;
}

int sm_cache_track(struct sm_cache *c, struct sm_series *s)
{
	if (c->ncur == c->capcur) {
		size_t cap = c->capcur ? c->capcur * 2 : 256;
		struct sm_series **v = realloc(c->cur, cap * sizeof(*v));

		if (!v)
			return -1;
		c->cur = v;
		c->capcur = cap;
	}
	c->cur[c->ncur++] = s;
	return 0;
}

void sm_cache_commit(struct sm_cache *c)
{
	for (size_t i = 0; i < c->ncur; i++)
		c->cur[i]->tracked = c->iter;
	c->ncur = 0;
}

static int each_tracked(struct sm_cache *c, uint64_t iter,
			int (*fn)(void *arg, struct sm_series *s), void *arg)
{
	for (size_t i = 0; i < c->series.nb; i++)
		for (struct sm_node *n = c->series.b[i]; n; n = n->next) {
			struct sm_series *s = (struct sm_series *)n;

			if (s->tracked == iter && iter && fn(arg, s))
				return -1;
		}
	return 0;
}

int sm_cache_each_stale(struct sm_cache *c, int (*fn)(void *arg, struct sm_series *s), void *arg)
{
	return each_tracked(c, c->iter - 1, fn, arg);
}

int sm_cache_each_current(struct sm_cache *c, int (*fn)(void *arg, struct sm_series *s),
			  void *arg)
{
	return each_tracked(c, c->iter, fn, arg);
}

static bool entry_seen(const struct sm_node *n, uint64_t iter)
{
	return ((const struct sm_centry *)n)->seen == iter;
}

static bool series_seen(const struct sm_node *n, uint64_t iter)
{
	return ((const struct sm_series *)n)->seen == iter;
}

void sm_cache_flush(struct sm_cache *c)
{
	/* Entries first: an entry seen now points at a series seen now. */
	htab_prune(&c->entries, entry_seen, c->iter);
	htab_prune(&c->series, series_seen, c->iter);
}

void sm_cache_handoff(struct sm_cache *from, struct sm_cache *to)
{
	htab_free(&from->entries);
	to->series = from->series;
	to->iter = from->iter;
	from->series = (struct sm_htab){ 0 };
}

void sm_cache_free(struct sm_cache *c)
{
	htab_free(&c->entries);
	htab_free(&c->series);
	free(c->cur);
	*c = (struct sm_cache){ 0 };
}
