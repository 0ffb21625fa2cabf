/*
 * The exemplar store: Prometheus' circular exemplar storage (see tsdb.h).
 *
 * One array of `max` slots is the ring: slot `next` is written next, so the slot
 * overwritten is always the one stored longest ago, whatever its series. Each
 * series (found by label hash in a tsdb_ptab) threads its slots into a doubly
 * linked list in time order. Upstream's list is singly linked and relies on ring
 * order equalling time order per series; WAL replay can file an exemplar behind
 * newer ones (concurrent batches log in another order than they were stored), so
 * eviction here unlinks a slot wherever it sits in its list.
 *
 * Label copies (the series' and each exemplar's) are single malloc'd blocks: the
 * label array followed by its strings. Blocks are built before the lock is taken,
 * so the lock covers only the ring and index updates.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

#define NONE UINT32_MAX
/* How far behind the newest exemplar replay may file one. */
#define REPLAY_REACH 64

struct ex_series {
	uint64_t hash;
	uint32_t oldest, newest; /* NONE when empty */
	struct labels ls;        /* points just past this struct */
};

struct ex_entry {
	struct ex_series *series; /* NULL: free slot */
	uint32_t prev, next;      /* neighbours in the series, by time */
	int64_t t;
	double v;
	struct labels labels;     /* labels.v: a malloc'd block with the strings; NULL if none */
};

struct tsdb_exemplars {
	pthread_rwlock_t lock;
	struct ex_entry *ring;
	uint32_t cap, next;
	struct tsdb_ptab index;   /* label hash -> struct ex_series */
	uint64_t stored, appended, out_of_order;
};

int tsdb_exemplars_new(size_t max, struct tsdb_exemplars **out, char *err, size_t errlen)
{
	struct tsdb_exemplars *s;

	*out = NULL;
	if (max == 0 || max >= NONE) {
		snprintf(err, errlen, "exemplar storage size must be between 1 and %u", NONE - 1);
		return TSDB_EFAIL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->ring = calloc(max, sizeof(*s->ring)))) {
		free(s);
		snprintf(err, errlen, "out of memory allocating %zu exemplars", max);
		return TSDB_EFAIL;
	}
	pthread_rwlock_init(&s->lock, NULL);
	s->cap = (uint32_t)max;
	*out = s;
	return 0;
}

void tsdb_exemplars_free(struct tsdb_exemplars *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->cap; i++)
		free(s->ring[i].labels.v);
	for (uint32_t i = 0; s->index.slot && i <= s->index.mask; i++)
		free(s->index.slot[i].e);
	tsdb_ptab_free(&s->index);
	pthread_rwlock_destroy(&s->lock);
	free(s->ring);
	free(s);
}

/* Deep copy of ls into one malloc'd block, after `head` bytes (a multiple of 8) that
 * the caller uses; out points into the block. NULL when memory runs out. */
static void *copy_labels(const struct labels *ls, size_t head, struct labels *out)
{
	size_t size = head + ls->n * sizeof(struct label);
	struct label *v;
	char *b, *p;

	for (size_t i = 0; i < ls->n; i++)
		size += strlen(ls->v[i].name) + strlen(ls->v[i].value) + 2;
	b = malloc(size ? size : 1);
	if (!b)
		return NULL;
	v = (struct label *)(void *)(b + head);
	p = (char *)(v + ls->n);
	for (size_t i = 0; i < ls->n; i++) {
		size_t nl = strlen(ls->v[i].name) + 1, vl = strlen(ls->v[i].value) + 1;

		v[i].name = memcpy(p, ls->v[i].name, nl);
		p += nl;
		v[i].value = memcpy(p, ls->v[i].value, vl);
		p += vl;
	}
	*out = (struct labels){ ls->n ? v : NULL, ls->n };
	return b;
}

/* Code points, as Go's utf8.RuneCountInString counts them (a stray byte is one). */
static size_t chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static bool labels_too_long(const struct labels *ls)
{
	size_t n = 0;

	for (size_t i = 0; i < ls->n; i++)
		n += chars(ls->v[i].name) + chars(ls->v[i].value);
	return n > TSDB_EXEMPLAR_MAX_LABEL_CHARS;
}

/* Upstream's order: time, then value, then label hash. */
static bool before(const struct tsdb_exemplar *a, const struct ex_entry *b)
{
	if (a->t != b->t)
		return a->t < b->t;
	if (a->v != b->v)
		return a->v < b->v;
	return labels_hash(&a->labels) < labels_hash(&b->labels);
}

static bool same(const struct tsdb_exemplar *a, const struct ex_entry *b)
{
	return a->t == b->t && a->v == b->v && labels_equal(&a->labels, &b->labels);
}

static bool series_eq(const void *e, const void *arg)
{
	return labels_equal(&((const struct ex_series *)e)->ls, arg);
}

static void unlink_slot(struct tsdb_exemplars *s, struct ex_series *ser, uint32_t i)
{
	struct ex_entry *e = &s->ring[i];

	if (e->prev == NONE)
		ser->oldest = e->next;
	else
		s->ring[e->prev].next = e->next;
	if (e->next == NONE)
		ser->newest = e->prev;
	else
		s->ring[e->next].prev = e->prev;
}

static void link_after(struct tsdb_exemplars *s, struct ex_series *ser, uint32_t anchor,
		       uint32_t i)
{
	struct ex_entry *e = &s->ring[i];
	uint32_t next = anchor == NONE ? ser->oldest : s->ring[anchor].next;

	e->prev = anchor;
	e->next = next;
	if (anchor == NONE)
		ser->oldest = i;
	else
		s->ring[anchor].next = i;
	if (next == NONE)
		ser->newest = i;
	else
		s->ring[next].prev = i;
}

/* Free slot i for reuse. A series left empty leaves the index, unless it is `keep`
 * (the series about to take the slot). */
static void evict(struct tsdb_exemplars *s, uint32_t i, struct ex_series *keep)
{
	struct ex_entry *e = &s->ring[i];
	struct ex_series *ser = e->series;

	if (!ser)
		return;
	unlink_slot(s, ser, i);
	free(e->labels.v);
	memset(e, 0, sizeof(*e));
	s->stored--;
	if (ser->oldest == NONE && ser != keep) {
		tsdb_ptab_remove(&s->index, ser->hash, ser);
		free(ser);
	}
}

static struct ex_series *series_new(struct tsdb_exemplars *s, const struct labels *ls,
				    uint64_t hash)
{
	struct labels copy;
	struct ex_series *ser = copy_labels(ls, sizeof(*ser), &copy);

	if (!ser)
		return NULL;
	*ser = (struct ex_series){ hash, NONE, NONE, copy };
	if (tsdb_ptab_insert(&s->index, hash, ser) < 0) {
		free(ser);
		return NULL;
	}
	return ser;
}

/* Where e goes in ser's list: the slot to link it after (NONE: first), or NONE with
 * *rc set when it is a duplicate or lies more than `reach` entries back. */
static uint32_t anchor_for(struct tsdb_exemplars *s, const struct ex_series *ser,
			   const struct tsdb_exemplar *e, int reach, int *rc)
{
	uint32_t cur = ser->newest;

	*rc = 0;
	for (int steps = 0; cur != NONE && before(e, &s->ring[cur]); steps++) {
		if (steps == reach) {
			*rc = TSDB_EEXEMPLAR_OUT_OF_ORDER;
			return NONE;
		}
		cur = s->ring[cur].prev;
	}
	if (cur != NONE && same(e, &s->ring[cur]))
		*rc = TSDB_EDUPLICATE;
	return cur;
}

/* Under the write lock: file one exemplar whose label block is `block` (taken over on
 * success). 0 or a refusal in *rc; TSDB_EFAIL when memory runs out. */
static int place(struct tsdb_exemplars *s, const struct labels *series, uint64_t hash,
		 const struct tsdb_exemplar *e, struct label *block, int reach, int *rc)
{
	struct ex_series *ser = tsdb_ptab_find(&s->index, hash, series_eq, series);
	uint32_t slot = s->next, anchor = NONE;

	if (ser) {
		anchor_for(s, ser, e, reach, rc);
		if (*rc) {
			if (*rc == TSDB_EEXEMPLAR_OUT_OF_ORDER)
				s->out_of_order++;
			return 0;
		}
	} else if (!(ser = series_new(s, series, hash))) {
		return TSDB_EFAIL;
	}
	evict(s, slot, ser);
	/* Eviction may have taken the anchor: look again (it cannot refuse now). */
	if (reach)
		anchor = anchor_for(s, ser, e, REPLAY_REACH + 1, rc);
	else
		anchor = ser->newest;
	*rc = 0;
	s->ring[slot] = (struct ex_entry){ ser, NONE, NONE, e->t, e->v,
					   { block, e->labels.n } };
	link_after(s, ser, anchor, slot);
	s->next = slot + 1 == s->cap ? 0 : slot + 1;
	s->stored++;
	s->appended++;
	return 0;
}

/* Validate and copy one exemplar's labels outside the lock: 0 (block set, NULL for
 * none), a refusal in *rc, or TSDB_EFAIL. */
static int prepare(const struct tsdb_exemplar *e, struct label **block, int *rc)
{
	struct labels copy;

	*block = NULL;
	*rc = 0;
	if (labels_too_long(&e->labels)) {
		*rc = TSDB_EEXEMPLAR_LABELS;
		return 0;
	}
	if (e->labels.n && !(*block = copy_labels(&e->labels, 0, &copy)))
		return TSDB_EFAIL;
	return 0;
}

static int add(struct tsdb_exemplars *s, const struct labels *series,
	       const struct tsdb_exemplar *ex, size_t n, int reach, int *rc, char *err,
	       size_t errlen)
{
	uint64_t hash = labels_hash(series);
	struct label **blocks = calloc(n ? n : 1, sizeof(*blocks));
	int ret = 0;

	if (!blocks)
		goto oom;
	for (size_t i = 0; i < n; i++)
		if (prepare(&ex[i], &blocks[i], &rc[i]) < 0)
			goto oom;
	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (rc[i])
			continue;
		ret = place(s, series, hash, &ex[i], blocks[i], reach, &rc[i]);
		if (ret == 0 && rc[i] == 0)
			blocks[i] = NULL; /* the ring owns it now */
	}
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		free(blocks[i]);
	free(blocks);
	if (ret == 0)
		return 0;
	snprintf(err, errlen, "out of memory storing exemplars");
	return TSDB_EFAIL;
oom:
	for (size_t i = 0; blocks && i < n; i++)
		free(blocks[i]);
	free(blocks);
	snprintf(err, errlen, "out of memory storing exemplars");
	return TSDB_EFAIL;
}

int tsdb_exemplars_add(struct tsdb_exemplars *s, const struct labels *series,
		       const struct tsdb_exemplar *ex, size_t n, int *rc, char *err,
		       size_t errlen)
{
	return add(s, series, ex, n, 0, rc, err, errlen);
}

int tsdb_exemplars_replay(struct tsdb_exemplars *s, const struct labels *series,
			  const struct tsdb_exemplar *e, int *rc, char *err, size_t errlen)
{
	return add(s, series, e, 1, REPLAY_REACH, rc, err, errlen);
}

static bool matches_set(const struct labels *ls, const struct tsdb_matcher_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const char *v = labels_get(ls, set->ms[i].name);

		if (!tsdb_matcher_matches(&set->ms[i], v ? v : ""))
			return false;
	}
	return true;
}

static bool matches_any(const struct labels *ls, const struct tsdb_matcher_set *sets,
			size_t nsets)
{
	for (size_t i = 0; i < nsets; i++)
		if (matches_set(ls, &sets[i]))
			return true;
	return false;
}

/* Copy the exemplars of ser within [start, end] into out (in the arena). */
static int collect(struct tsdb_exemplars *s, const struct ex_series *ser, int64_t start,
		   int64_t end, struct arena *a, struct tsdb_exemplar_series *out)
{
	size_t n = 0, k = 0;

	for (uint32_t i = ser->oldest; i != NONE && s->ring[i].t <= end; i = s->ring[i].next)
		n += s->ring[i].t >= start;
	out->n = 0;
	if (!n)
		return 0;
	out->v = arena_alloc(a, n * sizeof(*out->v));
	if (!out->v || labels_copy(a, &ser->ls, &out->series) < 0)
		return -1;
	for (uint32_t i = ser->oldest; k < n; i = s->ring[i].next) {
		const struct ex_entry *e = &s->ring[i];

		if (e->t < start)
			continue;
		out->v[k] = (struct tsdb_exemplar){ .t = e->t, .v = e->v };
		if (labels_copy(a, &e->labels, &out->v[k].labels) < 0)
			return -1;
		k++;
	}
	out->n = n;
	return 0;
}

static int cmp_series(const void *a, const void *b)
{
	return labels_compare(&((const struct tsdb_exemplar_series *)a)->series,
			      &((const struct tsdb_exemplar_series *)b)->series);
}

int tsdb_exemplars_select(struct tsdb_exemplars *s, int64_t start, int64_t end,
			  const struct tsdb_matcher_set *sets, size_t nsets, struct arena *a,
			  struct tsdb_exemplar_series **out, size_t *n, char *err, size_t errlen)
{
	struct tsdb_exemplar_series *res = NULL;
	size_t k = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&s->lock);
	if (s->index.n && nsets && !(res = arena_calloc(a, s->index.n, sizeof(*res))))
		rc = TSDB_EFAIL;
	for (uint32_t i = 0; res && rc == 0 && i <= s->index.mask; i++) {
		const struct ex_series *ser = s->index.slot[i].e;

		if (!ser || s->ring[ser->oldest].t > end || s->ring[ser->newest].t < start ||
		    !matches_any(&ser->ls, sets, nsets))
			continue;
		if (collect(s, ser, start, end, a, &res[k]) < 0)
			rc = TSDB_EFAIL;
		else if (res[k].n)
			k++;
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory selecting exemplars");
		return rc;
	}
	if (k)
		qsort(res, k, sizeof(*res), cmp_series);
	*out = res;
	*n = k;
	return 0;
}

void tsdb_exemplars_stats(struct tsdb_exemplars *s, struct tsdb_exemplars_stats *st)
{
	const struct ex_entry *oldest;

	pthread_rwlock_rdlock(&s->lock);
	/* Until the ring wraps, slot 0 holds the first exemplar stored. */
	oldest = s->ring[s->next].series ? &s->ring[s->next] : &s->ring[0];
	*st = (struct tsdb_exemplars_stats){
		.max = s->cap, .stored = s->stored, .series = s->index.n,
		.appended = s->appended, .out_of_order = s->out_of_order,
		.oldest_t = oldest->series ? oldest->t : 0,
	};
	pthread_rwlock_unlock(&s->lock);
}
