/*
 * Label sets as the evaluator uses them: immutable, arena-allocated, each with
 * upstream's labels.Hash() computed once, so output series can be found by hash
 * and a set can be shared by pointer between steps and operators. The hash is
 * XXH64 over "name\xffvalue\xff..." exactly as upstream's, because limit_ratio()
 * turns it into a sampling decision that must agree with Prometheus.
 *
 * A builder (a malloc'd scratch array kept sorted by name) makes new sets.
 */
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

#include "promql/eval_internal.h"

static const unsigned char sep = 0xff;

static void hash_label(XXH64_state_t *st, const struct label *l)
{
	XXH64_update(st, l->name, strlen(l->name));
	XXH64_update(st, &sep, 1);
	XXH64_update(st, l->value, strlen(l->value));
	XXH64_update(st, &sep, 1);
}

uint64_t pq_labels_hash(const struct labels *ls)
{
	XXH64_state_t st;

	XXH64_reset(&st, 0);
	for (size_t i = 0; i < ls->n; i++)
		hash_label(&st, &ls->v[i]);
	return XXH64_digest(&st);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool pq_sorted_contains(const char *const *names, size_t n, const char *name)
{
	return n && bsearch(&name, names, n, sizeof(*names), cmp_name);
}

uint64_t pq_hash_subset(const struct labels *ls, const char *const *names, size_t n,
			bool without)
{
	XXH64_state_t st;

	XXH64_reset(&st, 0);
	for (size_t i = 0; i < ls->n; i++) {
		bool listed = pq_sorted_contains(names, n, ls->v[i].name);

		if (without ? (listed || !strcmp(ls->v[i].name, LABELS_METRIC_NAME)) : !listed)
			continue;
		hash_label(&st, &ls->v[i]);
	}
	return XXH64_digest(&st);
}

uint64_t pq_hash_except(const struct labels *ls, const char *name)
{
	XXH64_state_t st;

	XXH64_reset(&st, 0);
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->v[i].name, name))
			hash_label(&st, &ls->v[i]);
	return XXH64_digest(&st);
}

const struct pq_lset *pq_lset_wrap(struct pq_query *q, const struct labels *ls)
{
	struct pq_lset *l = arena_alloc(q->a, sizeof(*l));

	if (!l)
		return NULL;
	l->ls = *ls;
	l->hash = pq_labels_hash(ls);
	l->stripped = NULL;
	return l;
}

const struct pq_lset *pq_lset_empty(struct pq_query *q)
{
	return q->empty;
}

bool pq_is_metadata_label(const char *name)
{
	return !strcmp(name, "__name__") || !strcmp(name, "__type__") ||
	       !strcmp(name, "__unit__");
}

const char *pq_lset_get(const struct pq_lset *l, const char *name)
{
	const char *v = labels_get(&l->ls, name);

	return v ? v : "";
}

const struct pq_lset *pq_lset_strip(struct pq_query *q, const struct pq_lset *l)
{
	struct pq_lset *m = (struct pq_lset *)l;
	struct labels ls;
	size_t k = 0;
	bool any = false;

	if (l->stripped)
		return l->stripped;
	for (size_t i = 0; i < l->ls.n; i++)
		any |= pq_is_metadata_label(l->ls.v[i].name);
	if (!any) {
		m->stripped = l;
		return l;
	}
	ls.v = arena_alloc(q->a, (l->ls.n ? l->ls.n : 1) * sizeof(struct label));
	if (!ls.v) {
		pq_oom(q);
		return NULL;
	}
	for (size_t i = 0; i < l->ls.n; i++)
		if (!pq_is_metadata_label(l->ls.v[i].name))
			ls.v[k++] = l->ls.v[i];
	ls.n = k;
	m->stripped = pq_lset_wrap(q, &ls);
	if (!m->stripped) {
		pq_oom(q);
		return NULL;
	}
	((struct pq_lset *)m->stripped)->stripped = m->stripped;
	return m->stripped;
}

/* --- builder ----------------------------------------------------------------------- */

static int lb_grow(struct pq_query *q, struct pq_lbuilder *b, size_t need)
{
	return pq_reserve(q, &b->v, &b->cap, need, sizeof(*b->v));
}

int pq_lb_reset(struct pq_query *q, struct pq_lbuilder *b, const struct labels *from)
{
	b->n = 0;
	if (!from || !from->n)
		return 0;
	if (lb_grow(q, b, from->n))
		return -1;
	memcpy(b->v, from->v, from->n * sizeof(*b->v));
	b->n = from->n;
	return 0;
}

/* Label sets are short: a linear scan finds the name or where it belongs. */
static size_t lb_find(const struct pq_lbuilder *b, const char *name, bool *found)
{
	size_t i;

	*found = false;
	for (i = 0; i < b->n; i++) {
		int c = strcmp(b->v[i].name, name);

		if (c >= 0) {
			*found = c == 0;
			break;
		}
	}
	return i;
}

int pq_lb_set(struct pq_query *q, struct pq_lbuilder *b, const char *name, const char *value)
{
	bool found;
	size_t i;

	if (!*value) {
		pq_lb_del(b, name);
		return 0;
	}
	i = lb_find(b, name, &found);
	if (found) {
		b->v[i].value = value;
		return 0;
	}
	if (lb_grow(q, b, b->n + 1))
		return -1;
	memmove(&b->v[i + 1], &b->v[i], (b->n - i) * sizeof(*b->v));
	b->v[i].name = name;
	b->v[i].value = value;
	b->n++;
	return 0;
}

void pq_lb_del(struct pq_lbuilder *b, const char *name)
{
	bool found;
	size_t i = lb_find(b, name, &found);

	if (!found)
		return;
	memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof(*b->v));
	b->n--;
}

void pq_lb_keep(struct pq_lbuilder *b, const char *const *names, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++)
		if (pq_sorted_contains(names, n, b->v[i].name))
			b->v[k++] = b->v[i];
	b->n = k;
}

void pq_lb_del_metadata(struct pq_lbuilder *b)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++)
		if (!pq_is_metadata_label(b->v[i].name))
			b->v[k++] = b->v[i];
	b->n = k;
}

const char *pq_lb_get(const struct pq_lbuilder *b, const char *name)
{
	bool found;
	size_t i = lb_find(b, name, &found);

	return found ? b->v[i].value : "";
}

const struct pq_lset *pq_lb_finish(struct pq_query *q, struct pq_lbuilder *b)
{
	struct labels ls;
	const struct pq_lset *l;

	ls.n = b->n;
	ls.v = arena_alloc(q->a, (b->n ? b->n : 1) * sizeof(struct label));
	if (!ls.v) {
		pq_oom(q);
		return NULL;
	}
	if (b->n)
		memcpy(ls.v, b->v, b->n * sizeof(struct label));
	l = pq_lset_wrap(q, &ls);
	if (!l)
		pq_oom(q);
	return l;
}

void pq_lb_free(struct pq_lbuilder *b)
{
	free(b->v);
	b->v = NULL;
	b->n = b->cap = 0;
}
