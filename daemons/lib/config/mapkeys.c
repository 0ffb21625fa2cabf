/*
 * A mapping's final keys. Keys written in the mapping come first, then the pairs of
 * each `<<` merge source in order; sorting all of them by (key, arrival) puts every
 * group of equal keys together with the winner first, so one pass finds duplicates
 * among written keys (an error) and drops merged keys that are overridden (not an
 * error), in O(n log n) however large the mapping. Merge sources are mappings that
 * were closed earlier, so their own merges are already applied.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct cfg_node *k, *v;
	size_t order;  /* arrival: written keys first, then merged ones */
	bool written;  /* in the mapping itself, not merged */
	bool keep;
};

static bool is_merge_key(const struct cfg_node *k)
{
	return k->plain && k->len == 2 && !memcmp(k->str, "<<", 2);
}

static int by_key(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	size_t n = a->k->len < b->k->len ? a->k->len : b->k->len;
	int c = memcmp(a->k->str, b->k->str, n);

	if (c)
		return c;
	if (a->k->len != b->k->len)
		return a->k->len < b->k->len ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

static int by_order(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;

	return a->order < b->order ? -1 : a->order > b->order;
}

/* Pairs a merge value contributes, or -1 if it is not a mapping or list of them. */
static int merge_size(const struct cfg_node *v, size_t *n)
{
	size_t i;

	if (v->kind == CFG_NODE_MAP) {
		*n += v->n;
		return 0;
	}
	if (v->kind != CFG_NODE_SEQ)
		return -1;
	for (i = 0; i < v->n; i++) {
		if (v->kids[i]->kind != CFG_NODE_MAP)
			return -1;
		*n += v->kids[i]->n;
	}
	return 0;
}

static void add_map(struct entry *e, size_t *ne, const struct cfg_node *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		e[*ne] = (struct entry){ m->kids[2 * i], m->kids[2 * i + 1], *ne, false, false };
		(*ne)++;
	}
}

static void add_merges(struct entry *e, size_t *ne, struct cfg_node **kv, size_t npairs)
{
	size_t i, j;

	for (i = 0; i < npairs; i++) {
		struct cfg_node *v = kv[2 * i + 1];

		if (!is_merge_key(kv[2 * i]))
			continue;
		if (v->kind == CFG_NODE_MAP)
			add_map(e, ne, v);
		else
			for (j = 0; j < v->n; j++)
				add_map(e, ne, v->kids[j]);
	}
}

static bool same_key(const struct entry *a, const struct entry *b)
{
	return a->k->len == b->k->len && !memcmp(a->k->str, b->k->str, a->k->len);
}

/* Mark the winner of each key group (sorted by key, then arrival). Returns the
 * earliest written key that repeats a written one, and that one in *first. */
static struct entry *pick(struct entry *e, size_t ne, struct entry **first)
{
	struct entry *dup = NULL;
	size_t i, g = 0;

	for (i = 0; i < ne; i++) {
		if (!same_key(&e[g], &e[i]))
			g = i;
		e[i].keep = i == g;
		if (i != g && e[i].written && (!dup || e[i].order < dup->order)) {
			dup = &e[i];
			*first = &e[g];
		}
	}
	return dup;
}

static int duplicate(struct cfg_report *r, const struct entry *dup, const struct entry *first)
{
	cfg_path_key(&r->path, dup->k->str, dup->k->len);
	return cfg_fail(r, dup->k->line, dup->k->col,
			"duplicate key (first at line %u, column %u)", first->k->line,
			first->k->col);
}

static int check_merges(struct cfg_report *r, struct cfg_node **kv, size_t npairs,
			size_t *total, bool *any)
{
	size_t i;

	*total = 0;
	*any = false;
	for (i = 0; i < npairs; i++) {
		const struct cfg_node *v = kv[2 * i + 1];

		if (!is_merge_key(kv[2 * i])) {
			(*total)++;
			continue;
		}
		*any = true;
		if (merge_size(v, total)) {
			cfg_path_key(&r->path, "<<", 2);
			return cfg_fail(r, v->line, v->col,
					"merge value must be a mapping or a list of mappings");
		}
	}
	return 0;
}

int cfg_map_build(struct cfg_report *r, struct arena *tmp, struct cfg_node *map,
		  struct cfg_node **kv, size_t nkv)
{
	struct entry *e, *dup, *first = NULL;
	size_t i, ne = 0, total, npairs = nkv / 2;
	bool merges;

	if (check_merges(r, kv, npairs, &total, &merges))
		return -1;
	if (!total)
		return 0;
	e = arena_alloc(tmp, total * sizeof(*e));
	map->kids = arena_alloc(tmp, 2 * total * sizeof(*map->kids));
	if (!e || !map->kids)
		return cfg_fail(r, map->line, map->col, "out of memory");
	for (i = 0; i < npairs; i++) {
		if (is_merge_key(kv[2 * i]))
			continue;
		e[ne] = (struct entry){ kv[2 * i], kv[2 * i + 1], ne, true, false };
		ne++;
	}
	if (merges)
		add_merges(e, &ne, kv, npairs);
	qsort(e, ne, sizeof(*e), by_key);
	dup = pick(e, ne, &first);
	if (dup)
		return duplicate(r, dup, first);
	qsort(e, ne, sizeof(*e), by_order);
	for (i = 0; i < ne; i++) {
		if (!e[i].keep)
			continue;
		map->kids[2 * map->n] = e[i].k;
		map->kids[2 * map->n + 1] = e[i].v;
		map->n++;
	}
	return 0;
}
