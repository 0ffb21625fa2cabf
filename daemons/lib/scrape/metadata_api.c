/*
 * The manager's two metadata readers, behind GET /api/v1/metadata and
 * GET /api/v1/targets/metadata. Both walk the active targets in the targets API's
 * order under the manager's lock (which keeps the targets alive) and read each
 * target's cache through a sorted view under that cache's own lock, so a scrape
 * loop waits at most for one target's share of the answer.
 *
 * The merged answer deduplicates as it goes: each distinct {type, help, unit} of a
 * family is copied once into a scratch arena, so a thousand targets exposing the
 * same families cost the memory of one.
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "json/json.h"
#include "scrape/mgr_internal.h"

#define WALK_STOP 1

/* Every active target in order, until fn answers non-zero (WALK_STOP: done;
 * negative: failed). */
static int walk(struct scrape_manager *m, int (*fn)(void *arg, struct sm_target *t), void *arg)
{
	struct sm_pool **pools;
	size_t n;
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	pools = sm_sorted_pools(m, NULL, &n);
	rc = pools ? 0 : -1;
	for (size_t i = 0; i < n && !rc; i++) {
		struct sm_target **v = sm_sorted_targets(pools[i]);

		if (!v) {
			rc = -1;
			break;
		}
		for (size_t j = 0; j < pools[i]->ntargets && !rc; j++)
			rc = fn(arg, v[j]);
		free(v);
	}
	pthread_mutex_unlock(&m->mu);
	free(pools);
	return rc < 0 ? -1 : 0;
}

static const char *metric_filter(const char *metric)
{
	return metric && *metric ? metric : NULL;
}

static void write_triple(struct jw *w, enum scrape_type type, const char *help, size_t help_len,
			 const char *unit)
{
	jw_kstr(w, "type", scrape_type_name(type));
	jw_key(w, "help");
	jw_strn(w, help, help_len);
	jw_kstr(w, "unit", unit);
}

/* ---- /api/v1/metadata ---------------------------------------------------------- */

struct triple {
	struct triple *next;
	enum scrape_type type;
	const char *help;
	size_t help_len;
	const char *unit;
};

struct family {
	struct sm_node node; /* hash of the name; the node lives in the arena */
	const char *name;
	struct triple *first, **tail;
	size_t n;
};

struct merge {
	const struct scrape_metadata_query *q;
	struct arena *a;
	struct sm_htab idx;
};

/* The family's record, created on first sight; NULL when out of memory. */
static struct family *family_get(struct merge *mg, const char *name)
{
	uint64_t h = XXH3_64bits(name, strlen(name));
	struct family *f;

	for (struct sm_node *n = sm_htab_bucket(&mg->idx, h); n; n = n->next) {
		f = (struct family *)n;
		if (n->hash == h && !strcmp(f->name, name))
			return f;
	}
	f = arena_calloc(mg->a, 1, sizeof(*f));
	if (!f || !(f->name = arena_strdup(mg->a, name)))
		return NULL;
	f->node.hash = h;
	f->tail = &f->first;
	return sm_htab_add(&mg->idx, &f->node) ? NULL : f;
}

static bool known(const struct family *f, const struct sm_meta_entry *e)
{
	for (const struct triple *t = f->first; t; t = t->next)
		if (t->type == e->type && t->help_len == e->help_len &&
		    !memcmp(t->help, e->help, e->help_len) && !strcmp(t->unit, e->unit))
			return true;
	return false;
}

static int add_triple(struct merge *mg, struct family *f, const struct sm_meta_entry *e)
{
	struct triple *t = arena_calloc(mg->a, 1, sizeof(*t));
	char *help = arena_alloc(mg->a, e->help_len + 1);

	if (!t || !help || !(t->unit = arena_strdup(mg->a, e->unit)))
		return -1;
	memcpy(help, e->help, e->help_len);
	t->type = e->type;
	t->help = help;
	t->help_len = e->help_len;
	*f->tail = t;
	f->tail = &t->next;
	f->n++;
	return 0;
}

static int merge_entries(void *arg, const struct sm_meta_entry *const *v, size_t n)
{
	struct merge *mg = arg;
	long per = mg->q->limit_per_metric;

	for (size_t i = 0; i < n; i++) {
		struct family *f = family_get(mg, v[i]->name);

		if (!f)
			return -1;
		if (per > 0 && f->n >= (size_t)per)
			continue;
		if (!known(f, v[i]) && add_triple(mg, f, v[i]))
			return -1;
	}
	return 0;
}

static int merge_target(void *arg, struct sm_target *t)
{
	struct merge *mg = arg;

	return sm_meta_view(&t->meta, metric_filter(mg->q->metric), merge_entries, mg);
}

static int by_family_name(const void *pa, const void *pb)
{
	const struct family *a = *(const struct family *const *)pa;
	const struct family *b = *(const struct family *const *)pb;

	return strcmp(a->name, b->name);
}

static int write_merged(struct jw *w, struct merge *mg)
{
	struct family **v = malloc((mg->idx.n + 1) * sizeof(*v));
	long limit = mg->q->limit;
	size_t n = 0;

	if (!v)
		return -1;
	for (size_t i = 0; i < mg->idx.nb; i++)
		for (struct sm_node *nd = mg->idx.b[i]; nd; nd = nd->next)
			v[n++] = (struct family *)nd;
	qsort(v, n, sizeof(*v), by_family_name);
	jw_obj_begin(w);
	for (size_t i = 0; i < n && (limit < 0 || i < (size_t)limit); i++) {
		jw_key(w, v[i]->name);
		jw_arr_begin(w);
		for (const struct triple *t = v[i]->first; t; t = t->next) {
			jw_obj_begin(w);
			write_triple(w, t->type, t->help, t->help_len, t->unit);
			jw_obj_end(w);
		}
		jw_arr_end(w);
	}
	jw_obj_end(w);
	free(v);
	return 0;
}

int scrape_manager_metadata_json(struct scrape_manager *m, struct jw *w,
				 const struct scrape_metadata_query *q)
{
	struct merge mg = { .q = q, .a = arena_new(0) };
	int rc = -1;

	if (!mg.a || walk(m, merge_target, &mg) || write_merged(w, &mg))
		goto out;
	rc = jw_failed(w) ? -1 : 0;
out:
	/* The index's nodes live in the arena: only the bucket array is the heap's. */
	free(mg.idx.b);
	arena_free(mg.a);
	return rc;
}

/* ---- /api/v1/targets/metadata -------------------------------------------------- */

struct per_target {
	const struct scrape_target_metadata_query *q;
	struct jw *w;
	const struct labels *target;
	size_t items;
};

static int write_items(void *arg, const struct sm_meta_entry *const *v, size_t n)
{
	struct per_target *pt = arg;

	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(pt->w);
		sm_json_labels(pt->w, "target", pt->target);
		if (!metric_filter(pt->q->metric))
			jw_kstr(pt->w, "metric", v[i]->name);
		write_triple(pt->w, v[i]->type, v[i]->help, v[i]->help_len, v[i]->unit);
		jw_obj_end(pt->w);
	}
	pt->items += n;
	return 0;
}

static int target_items(void *arg, struct sm_target *t)
{
	struct per_target *pt = arg;
	const struct scrape_target_metadata_query *q = pt->q;

	if (q->limit >= 0 && pt->items >= (size_t)q->limit)
		return WALK_STOP;
	if (q->match && !q->match(q->match_arg, &t->spec.pub))
		return 0;
	pt->target = &t->spec.pub;
	return sm_meta_view(&t->meta, metric_filter(q->metric), write_items, pt);
}

int scrape_manager_target_metadata_json(struct scrape_manager *m, struct jw *w,
					const struct scrape_target_metadata_query *q)
{
	struct per_target pt = { .q = q, .w = w };

	jw_arr_begin(w);
	if (walk(m, target_items, &pt))
		return -1;
	jw_arr_end(w);
	return jw_failed(w) ? -1 : 0;
}
