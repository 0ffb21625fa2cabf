/*
 * The head's cardinality report (Prometheus' PostingsStats behind /api/v1/status/tsdb):
 * one pass over the index keeps the top entries of four rankings in small sorted
 * arrays, and one pass over the series counts chunks. The pass registers as a head
 * reader so the index strings it holds on to outlive a concurrent truncation; the
 * winners are copied into the caller's arena before it leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

struct entry {
	const char *a, *b; /* the name, or name and value of a pair */
	uint64_t v;
};

struct topk {
	struct entry *e;
	size_t n, k;
};

static int entry_cmp(const struct entry *x, const struct entry *y)
{
	int c;

	if (x->v != y->v)
		return x->v > y->v ? -1 : 1;
	c = strcmp(x->a, y->a);
	if (c || !x->b)
		return c;
	return strcmp(x->b, y->b);
}

static void topk_push(struct topk *t, const char *a, const char *b, uint64_t v)
{
	struct entry e = { a, b, v };
	size_t i;

	if (t->k == 0 || (t->n == t->k && entry_cmp(&e, &t->e[t->n - 1]) >= 0))
		return;
	i = t->n < t->k ? t->n++ : t->n - 1;
	while (i > 0 && entry_cmp(&e, &t->e[i - 1]) < 0) {
		t->e[i] = t->e[i - 1];
		i--;
	}
	t->e[i] = e;
}

struct rankings {
	struct topk metric, values, bytes, pair;
	uint64_t pairs;
};

static void rank_name(struct rankings *r, struct tsdb_ix_name *nm)
{
	uint64_t nvalues = 0, bytes = 0;
	bool metric = strcmp(nm->s, LABELS_METRIC_NAME) == 0;

	pthread_rwlock_rdlock(&nm->lock);
	for (uint32_t i = 0; nm->values.slot && i <= nm->values.mask; i++) {
		struct tsdb_ix_value *v = nm->values.slot[i].e;

		if (!v || v->n == 0)
			continue;
		nvalues++;
		bytes += strlen(v->s) * v->n;
		if (metric)
			topk_push(&r->metric, v->s, NULL, v->n);
		topk_push(&r->pair, nm->s, v->s, v->n);
	}
	pthread_rwlock_unlock(&nm->lock);
	if (nvalues == 0)
		return;
	r->pairs += nvalues;
	topk_push(&r->values, nm->s, NULL, nvalues);
	topk_push(&r->bytes, nm->s, NULL, bytes);
}

static void rank_index(struct tsdb_index *ix, struct rankings *r)
{
	pthread_rwlock_rdlock(&ix->lock);
	for (uint32_t i = 0; ix->names.slot && i <= ix->names.mask; i++)
		if (ix->names.slot[i].e)
			rank_name(r, ix->names.slot[i].e);
	pthread_rwlock_unlock(&ix->lock);
}

static uint64_t count_chunks(struct tsdb_head *h)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i <= h->smask; i++) {
		struct tsdb_stripe *st = &h->by_ref[i];

		pthread_mutex_lock(&st->mu);
		for (uint32_t j = 0; st->tab.slot && j <= st->tab.mask; j++) {
			struct tsdb_series *s = tsdb_stab_at(&st->tab, j);

			if (!s)
				continue;
			pthread_mutex_lock(tsdb_series_mu(h, s));
			n += s->nclosed + (s->app.n > 0);
			pthread_mutex_unlock(tsdb_series_mu(h, s));
		}
		pthread_mutex_unlock(&st->mu);
	}
	return n;
}

/* Copy a ranking into the arena ("name=value" for pairs). */
static int export(struct arena *a, const struct topk *t, struct tsdb_stat **out, size_t *n)
{
	*out = arena_alloc(a, (t->n + 1) * sizeof(**out));
	*n = 0;
	if (!*out)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct entry *e = &t->e[i];
		const char *s = e->b ? arena_sprintf(a, "%s=%s", e->a, e->b) : arena_strdup(a, e->a);

		if (!s)
			return -1;
		(*out)[(*n)++] = (struct tsdb_stat){ s, e->v };
	}
	return 0;
}

int tsdb_head_status(struct tsdb_head *h, size_t limit, struct arena *a,
		     struct tsdb_head_status *out, char *err, size_t errlen)
{
	struct rankings r = { 0 };
	struct topk *all[] = { &r.metric, &r.values, &r.bytes, &r.pair };
	struct tsdb_reader reader;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < 4; i++) {
		all[i]->k = limit;
		all[i]->e = malloc((limit + 1) * sizeof(struct entry));
		if (!all[i]->e)
			rc = -1;
	}
	tsdb_reclaim_enter(&h->rc, &reader, INT64_MAX, &h->floor);
	if (rc == 0) {
		rank_index(&h->ix, &r);
		out->chunk_count = count_chunks(h);
		rc = export(a, &r.metric, &out->series_by_metric, &out->nseries_by_metric);
		rc |= export(a, &r.values, &out->values_by_label, &out->nvalues_by_label);
		rc |= export(a, &r.bytes, &out->bytes_by_label, &out->nbytes_by_label);
		rc |= export(a, &r.pair, &out->series_by_pair, &out->nseries_by_pair);
	}
	tsdb_reclaim_leave(&h->rc, &reader);
	for (size_t i = 0; i < 4; i++)
		free(all[i]->e);
	out->num_series = tsdb_head_num_series(h);
	out->num_label_pairs = r.pairs;
	out->min_time = tsdb_head_min_time(h);
	out->max_time = tsdb_head_max_time(h);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return TSDB_EFAIL;
	}
	return 0;
}
