/*
 * The watcher's series cache: WAL series ref -> the labels this queue sends (after
 * external labels and write relabeling), in an open-addressing table with linear
 * probing. Refs are small increasing integers, so they are mixed before probing.
 * Each entry is one allocation (struct, label array, strings), as is each exemplar's
 * copy of its labels (rws_labels_dup). Removal happens only
 * in bulk (a checkpoint made old series unreachable), by rebuilding the table, so
 * probing needs no tombstones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rwsend/internal.h"

static size_t slot_of(uint64_t ref, size_t cap)
{
	ref ^= ref >> 33;
	ref *= 0xff51afd7ed558ccdULL;
	ref ^= ref >> 33;
	return (size_t)(ref & (cap - 1));
}

struct rws_series *rws_cache_get(const struct rws_cache *c, uint64_t ref)
{
	if (!c->cap)
		return NULL;
	for (size_t i = slot_of(ref, c->cap);; i = (i + 1) & (c->cap - 1)) {
		struct rws_series *s = c->tab[i];

		if (!s || s->ref == ref)
			return s;
	}
}

static void place(struct rws_series **tab, size_t cap, struct rws_series *s)
{
	size_t i = slot_of(s->ref, cap);

	while (tab[i] && tab[i]->ref != s->ref)
		i = (i + 1) & (cap - 1);
	tab[i] = s;
}

static int grow(struct rws_cache *c)
{
	size_t ncap = c->cap ? c->cap * 2 : 1024;
	struct rws_series **nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -1;
	for (size_t i = 0; i < c->cap; i++)
		if (c->tab[i])
			place(nt, ncap, c->tab[i]);
	free(c->tab);
	c->tab = nt;
	c->cap = ncap;
	return 0;
}

/* Bytes the strings of ls take, NULs included. */
static size_t strings_size(const struct labels *ls)
{
	size_t bytes = 0;

	for (size_t i = 0; ls && i < ls->n; i++)
		bytes += strlen(ls->v[i].name) + strlen(ls->v[i].value) + 2;
	return bytes;
}

/* Copy ls into dst, its label array at v and its strings after that array. */
static void copy_into(struct labels *dst, struct label *v, const struct labels *ls)
{
	size_t n = ls ? ls->n : 0;
	char *p = (char *)(v + n);

	dst->v = v;
	dst->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t ln = strlen(ls->v[i].name) + 1, lv = strlen(ls->v[i].value) + 1;

		v[i].name = memcpy(p, ls->v[i].name, ln);
		p += ln;
		v[i].value = memcpy(p, ls->v[i].value, lv);
		p += lv;
	}
}

static struct rws_series *make(uint64_t ref, const struct labels *ls, int seg)
{
	size_t n = ls ? ls->n : 0;
	struct rws_series *s = malloc(sizeof(*s) + n * sizeof(struct label) + strings_size(ls));

	if (!s)
		return NULL;
	*s = (struct rws_series){ .ref = ref, .last_t = INT64_MIN, .last_ex_t = INT64_MIN,
				  .seg = seg, .dropped = !ls };
	copy_into(&s->ls, (struct label *)(s + 1), ls);
	return s;
}

struct labels *rws_labels_dup(const struct labels *ls)
{
	struct labels *d = malloc(sizeof(*d) + ls->n * sizeof(struct label) + strings_size(ls));

	if (d)
		copy_into(d, (struct label *)(d + 1), ls);
	return d;
}

static void to_limbo(struct rws_cache *c, struct rws_series *s, uint64_t tag)
{
	s->limbo_tag = tag;
	s->next = c->limbo;
	c->limbo = s;
}

static bool same(const struct rws_series *s, const struct labels *ls)
{
	return ls ? !s->dropped && labels_equal(&s->ls, ls) : s->dropped;
}

int rws_cache_put(struct rws_cache *c, uint64_t ref, const struct labels *ls, int seg,
		  uint64_t tag, struct rws_series **out)
{
	struct rws_series *old = rws_cache_get(c, ref), *s;

	if (old && same(old, ls)) {
		if (seg > old->seg)
			old->seg = seg;
		*out = old;
		return 0;
	}
	if (!old && (c->n + 1) * 4 > c->cap * 3 && grow(c))
		return -1;
	s = make(ref, ls, seg);
	if (!s)
		return -1;
	if (old) {
		s->last_t = old->last_t;
		s->last_ex_t = old->last_ex_t;
		to_limbo(c, old, tag);
	} else {
		c->n++;
	}
	place(c->tab, c->cap, s);
	*out = s;
	return 0;
}

void rws_cache_collect(struct rws_cache *c, int seg, uint64_t tag)
{
	struct rws_series **old = c->tab;
	size_t cap = c->cap;

	if (!cap)
		return;
	c->tab = calloc(cap, sizeof(*c->tab));
	if (!c->tab) {
		c->tab = old; /* keep everything; a later checkpoint tries again */
		return;
	}
	c->n = 0;
	for (size_t i = 0; i < cap; i++) {
		if (!old[i])
			continue;
		if (old[i]->seg < seg) {
			to_limbo(c, old[i], tag);
		} else {
			place(c->tab, cap, old[i]);
			c->n++;
		}
	}
	free(old);
}

void rws_cache_release(struct rws_cache *c, uint64_t done_below)
{
	struct rws_series **pp = &c->limbo;

	while (*pp) {
		struct rws_series *s = *pp;

		if (s->limbo_tag < done_below) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

void rws_cache_free(struct rws_cache *c)
{
	for (size_t i = 0; i < c->cap; i++)
		free(c->tab[i]);
	free(c->tab);
	rws_cache_release(c, UINT64_MAX);
	*c = (struct rws_cache){ 0 };
}
