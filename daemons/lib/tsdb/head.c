/*
 * The head: every series in two striped hash tables (by label hash, to find a series
 * from its labels; by ref, for appends and queries), an index, and the head's time
 * bounds. There is no head-wide lock on the append path: an append locks one stripe to
 * find the series, locks the series, and drops the stripe before touching samples.
 *
 * Truncation removes a series in steps that keep each path safe: under its hash stripe
 * and its own lock it is marked dead and leaves the label table (so nobody finds it by
 * labels); then it leaves the ref table; a lock/unlock of the series waits out any
 * appender that found it just before; the index forgets it; and its memory goes to a
 * grave that is freed once the queriers that might still read it are closed. Chunks
 * wholly before the cut are freed at once instead, as Prometheus' head does: the
 * truncation first waits out every reader of a range below the cut, and readers
 * (their range starts at the head's floor or later) copy only chunks in range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "tsdb/internal.h"

#define DEFAULT_STRIPES 1024
/* Address space and sparse file size for parked chunks: 2048 segments, tens of
 * millions of chunks; the blocks used follow the live chunks. */
#define DEFAULT_STORE_BYTES (8ull << 30)
#define MAX_STRIPES (1u << 20)
#define STACK_LABELS 32

/* --- tables ------------------------------------------------------------------------- */

static bool series_has_labels(const struct tsdb_series *e, const void *arg)
{
	return tsdb_series_has_labels(e, arg);
}

static struct tsdb_stripe *hash_stripe(struct tsdb_head *h, uint64_t hash)
{
	return &h->by_hash[hash & h->smask];
}

static struct tsdb_stripe *ref_stripe(struct tsdb_head *h, uint64_t ref)
{
	return &h->by_ref[ref & h->smask];
}

/* Called with the ref stripe held. */
static struct tsdb_series *find_ref(struct tsdb_stripe *st, uint64_t ref)
{
	return tsdb_stab_find(&st->tab, TSDB_STAB_REF, ref, NULL, NULL);
}

struct tsdb_series *tsdb_head_series_by_ref(struct tsdb_head *h, uint64_t ref)
{
	struct tsdb_stripe *st = ref_stripe(h, ref);
	struct tsdb_series *s;

	pthread_mutex_lock(&st->mu);
	s = find_ref(st, ref);
	pthread_mutex_unlock(&st->mu);
	return s;
}

static struct tsdb_stripe *stripes_new(unsigned n)
{
	struct tsdb_stripe *st;

	if (posix_memalign((void **)&st, 64, n * sizeof(*st)) != 0)
		return NULL;
	memset(st, 0, n * sizeof(*st));
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&st[i].mu, NULL);
	return st;
}

static void stripes_free(struct tsdb_stripe *st, unsigned n)
{
	if (!st)
		return;
	for (unsigned i = 0; i < n; i++) {
		tsdb_stab_free(&st[i].tab);
		pthread_mutex_destroy(&st[i].mu);
	}
	free(st);
}

static struct tsdb_lock *locks_new(unsigned n)
{
	struct tsdb_lock *l;

	if (posix_memalign((void **)&l, 64, n * sizeof(*l)) != 0)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&l[i].mu, NULL);
	return l;
}

static void locks_free(struct tsdb_lock *l, unsigned n)
{
	if (!l)
		return;
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_destroy(&l[i].mu);
	free(l);
}

/* --- life cycle ----------------------------------------------------------------------- */

int tsdb_head_new(const struct tsdb_head_options *opt, struct tsdb_head **out, char *err,
		  size_t errlen)
{
	struct tsdb_head_options o = opt ? *opt : (struct tsdb_head_options){ 0 };
	struct tsdb_head *h;
	char why[256];
	unsigned n = 1;

	*out = NULL;
	if (o.chunk_range_ms == 0)
		o.chunk_range_ms = TSDB_DEFAULT_CHUNK_RANGE_MS;
	if (o.chunk_range_ms < 0 || o.ooo_window_ms < 0) {
		snprintf(err, errlen, "chunk range and out-of-order window must not be negative");
		return TSDB_EFAIL;
	}
	while (n < (o.stripes ? o.stripes : DEFAULT_STRIPES) && n < MAX_STRIPES)
		n *= 2;
	h = calloc(1, sizeof(*h));
	if (!h)
		goto oom;
	h->chunk_range = o.chunk_range_ms;
	h->ooo_window = o.ooo_window_ms;
	h->smask = n - 1;
	h->mint = INT64_MAX;
	h->maxt = INT64_MIN;
	h->min_valid = INT64_MIN;
	h->floor = INT64_MIN;
	h->next_ref = 1;
	h->gc_watermark = 1;
	h->by_hash = stripes_new(n);
	h->by_ref = stripes_new(n);
	h->locks = locks_new(n);
	if (!h->by_hash || !h->by_ref || !h->locks)
		goto oom;
	if (tsdb_ix_init(&h->ix) < 0)
		goto oom;
	if (tsdb_reclaim_init(&h->rc) < 0) {
		tsdb_ix_destroy(&h->ix);
		goto oom;
	}
	pthread_mutex_init(&h->gc_mu, NULL);
	/* Without a store the head works as before, only with more heap. */
	if (o.chunk_dir && tsdb_chunk_store_open(o.chunk_dir, o.chunk_store_bytes ?
						 o.chunk_store_bytes : DEFAULT_STORE_BYTES,
						 &h->store, why, sizeof(why)) < 0) {
		LOG_WARN("tsdb", "Keeping closed head chunks in memory", "reason", why);
		h->store = NULL;
	}
	*out = h;
	return 0;
oom:
	if (h) {
		stripes_free(h->by_hash, n);
		stripes_free(h->by_ref, n);
		locks_free(h->locks, n);
		free(h);
	}
	snprintf(err, errlen, "out of memory");
	return TSDB_EFAIL;
}

void tsdb_head_free(struct tsdb_head *h)
{
	if (!h)
		return;
	for (uint32_t i = 0; i <= h->smask; i++) {
		struct tsdb_stab *t = &h->by_ref[i].tab;

		for (uint32_t j = 0; t->slot && j <= t->mask; j++)
			tsdb_series_free(tsdb_stab_at(t, j));
	}
	stripes_free(h->by_hash, h->smask + 1);
	stripes_free(h->by_ref, h->smask + 1);
	locks_free(h->locks, h->smask + 1);
	tsdb_ix_destroy(&h->ix);
	tsdb_reclaim_destroy(&h->rc);
	tsdb_chunk_store_close(h->store); /* after the graves, which release into it */
	pthread_mutex_destroy(&h->gc_mu);
	free(h);
}

/* --- label sets -------------------------------------------------------------------------- */

/* The caller's labels, minus empty values, sorted and checked, in a stack buffer when
 * they fit. */
struct lset {
	struct labels ls;
	struct label *heap;
	struct label stack[STACK_LABELS];
	uint64_t hash;
};

static int lset_init(struct lset *c, const struct labels *in, char *err, size_t errlen)
{
	struct label *v = c->stack;
	size_t n = 0;

	c->heap = NULL;
	if (in->n > STACK_LABELS) {
		c->heap = v = malloc(in->n * sizeof(*v));
		if (!v) {
			snprintf(err, errlen, "out of memory");
			return TSDB_EFAIL;
		}
	}
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i].value[0])
			v[n++] = in->v[i];
	c->ls = (struct labels){ v, n };
	if (n == 0) {
		snprintf(err, errlen, "empty labelset: invalid sample");
		goto fail;
	}
	if (n > UINT16_MAX) {
		snprintf(err, errlen, "too many labels (%zu): invalid sample", n);
		goto fail;
	}
	/* Senders nearly always send sorted sets: one pass checks order and duplicates. */
	for (size_t i = 1, sorted = 1; i < n; i++) {
		int cmp = strcmp(v[i - 1].name, v[i].name);

		if (cmp > 0 && sorted) {
			labels_sort(&c->ls);
			sorted = 0;
			i = 0;
		} else if (cmp == 0) {
			snprintf(err, errlen, "label name \"%s\" is not unique: invalid sample",
				 v[i].name);
			goto fail;
		}
	}
	c->hash = labels_hash(&c->ls);
	return 0;
fail:
	free(c->heap);
	c->heap = NULL;
	return TSDB_EFAIL;
}

static void lset_free(struct lset *c)
{
	free(c->heap);
}

/* Called with hs (the label set's hash stripe) held. */
static struct tsdb_series *find_labels(struct tsdb_stripe *hs, const struct lset *c)
{
	return tsdb_stab_find(&hs->tab, TSDB_STAB_HASH, c->hash, series_has_labels,
			      &c->ls);
}

static void raise_ref(struct tsdb_head *h, uint64_t next)
{
	uint64_t cur = __atomic_load_n(&h->next_ref, __ATOMIC_RELAXED);

	while (next > cur && !__atomic_compare_exchange_n(&h->next_ref, &cur, next, true,
							  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Create the series with hs held: index first (label strings come from there), then
 * the label table, then the ref table, where appenders and queries start to see it. */
static struct tsdb_series *create_locked(struct tsdb_head *h, struct tsdb_stripe *hs,
					 const struct lset *c, uint64_t ref)
{
	struct tsdb_series *s = tsdb_series_new(ref, c->hash, c->ls.n);
	struct tsdb_stripe *rs = ref_stripe(h, ref);
	int rc;

	if (!s)
		return NULL;
	if (tsdb_ix_add(&h->ix, &c->ls, ref, s->values) < 0)
		goto fail;
	if (tsdb_stab_insert(&hs->tab, TSDB_STAB_HASH, s) < 0)
		goto fail_ix;
	pthread_mutex_lock(&rs->mu);
	rc = tsdb_stab_insert(&rs->tab, TSDB_STAB_REF, s);
	pthread_mutex_unlock(&rs->mu);
	if (rc < 0) {
		tsdb_stab_remove(&hs->tab, TSDB_STAB_HASH, s);
		goto fail_ix;
	}
	__atomic_fetch_add(&h->nseries, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->created, 1, __ATOMIC_RELAXED);
	return s;
fail_ix:
	tsdb_ix_undo(&h->ix, tsdb_series_set(s), ref);
fail:
	tsdb_series_free(s);
	return NULL;
}

/* Find or create with hs locked; returns the series locked and hs released. */
static int obtain_locked(struct tsdb_head *h, const struct lset *c, struct tsdb_series **out,
			 bool *created, char *err, size_t errlen)
{
	struct tsdb_stripe *hs = hash_stripe(h, c->hash);
	struct tsdb_series *s;

	*created = false;
	pthread_mutex_lock(&hs->mu);
	s = find_labels(hs, c);
	if (!s) {
		s = create_locked(h, hs, c, __atomic_fetch_add(&h->next_ref, 1, __ATOMIC_RELAXED));
		if (!s) {
			pthread_mutex_unlock(&hs->mu);
			snprintf(err, errlen, "out of memory");
			return TSDB_EFAIL;
		}
		*created = true;
	}
	pthread_mutex_lock(tsdb_series_mu(h, s));
	pthread_mutex_unlock(&hs->mu);
	*out = s;
	return 0;
}

int tsdb_head_get_or_create(struct tsdb_head *h, const struct labels *ls, uint64_t *ref,
			    bool *created, char *err, size_t errlen)
{
	struct tsdb_series *s;
	struct lset c;
	int rc;

	if ((rc = lset_init(&c, ls, err, errlen)) < 0)
		return rc;
	rc = obtain_locked(h, &c, &s, created, err, errlen);
	if (rc == 0) {
		*ref = s->ref;
		pthread_mutex_unlock(tsdb_series_mu(h, s));
	}
	lset_free(&c);
	return rc;
}

int tsdb_head_get(struct tsdb_head *h, const struct labels *ls, uint64_t *ref)
{
	struct tsdb_stripe *hs;
	struct tsdb_series *s;
	struct lset c;
	char err[8];

	if (lset_init(&c, ls, err, sizeof(err)) < 0)
		return TSDB_ENOT_FOUND;
	hs = hash_stripe(h, c.hash);
	pthread_mutex_lock(&hs->mu);
	s = find_labels(hs, &c);
	if (s)
		*ref = s->ref;
	pthread_mutex_unlock(&hs->mu);
	lset_free(&c);
	return s ? 0 : TSDB_ENOT_FOUND;
}

/* --- appending ------------------------------------------------------------------------ */

/* max(min valid time, head max time - chunk range / 2), as Prometheus' appenders use;
 * an empty head accepts anything above the min valid time. */
static int64_t appendable_min(const struct tsdb_head *h)
{
	int64_t maxt = __atomic_load_n(&h->maxt, __ATOMIC_RELAXED);
	int64_t mv = __atomic_load_n(&h->min_valid, __ATOMIC_RELAXED);
	int64_t half = h->chunk_range / 2, cw;

	if (maxt == INT64_MIN)
		return mv;
	cw = maxt < INT64_MIN + half ? INT64_MIN : maxt - half;
	return cw > mv ? cw : mv;
}

static int out_of_bounds(struct tsdb_head *h, char *err, size_t errlen)
{
	__atomic_fetch_add(&h->rej_bounds, 1, __ATOMIC_RELAXED);
	snprintf(err, errlen, "out of bounds");
	return TSDB_EOUT_OF_BOUNDS;
}

static int unknown_ref(uint64_t ref, char *err, size_t errlen)
{
	snprintf(err, errlen, "unknown series ref %llu", (unsigned long long)ref);
	return TSDB_ENOT_FOUND;
}

/* Append to a series found by ref, with minv as the in-order floor. */
static int append_ref(struct tsdb_head *h, uint64_t ref, int64_t t, double v, int64_t minv,
		      bool any_order, char *err, size_t errlen)
{
	struct tsdb_stripe *rs = ref_stripe(h, ref);
	struct tsdb_series *s;
	int rc;

	pthread_mutex_lock(&rs->mu);
	s = find_ref(rs, ref);
	if (!s) {
		pthread_mutex_unlock(&rs->mu);
		return unknown_ref(ref, err, errlen);
	}
	pthread_mutex_lock(tsdb_series_mu(h, s));
	pthread_mutex_unlock(&rs->mu);
	if (s->dead) {
		pthread_mutex_unlock(tsdb_series_mu(h, s));
		return unknown_ref(ref, err, errlen);
	}
	rc = tsdb_series_append(h, s, t, v, minv, any_order, err, errlen);
	pthread_mutex_unlock(tsdb_series_mu(h, s));
	if (rc == 0)
		__atomic_fetch_add(&rs->appended, 1, __ATOMIC_RELAXED);
	return rc < 0 ? rc : 0;
}

int tsdb_head_append(struct tsdb_head *h, uint64_t ref, int64_t t, double v, char *err,
		     size_t errlen)
{
	int64_t minv = appendable_min(h);

	if (h->ooo_window == 0 && t < minv)
		return out_of_bounds(h, err, errlen); /* fail fast, as upstream does */
	return append_ref(h, ref, t, v, minv, false, err, errlen);
}

void tsdb_head_prefetch(struct tsdb_head *h, uint64_t ref, int stage)
{
	struct tsdb_stripe *rs = ref_stripe(h, ref);
	const uint8_t *chunk = NULL, *tail = NULL;
	struct tsdb_series *s;

	if (stage == 0) {
		__builtin_prefetch(rs, 1); /* its mutex will be taken */
		return;
	}
	if (stage == 1) {
		tsdb_stab_prefetch(&rs->tab, ref);
		return;
	}
	/* The later stages find the series as an append does (its stripe and slot are in
	 * the cache by now), so nothing is read that could be freed meanwhile. */
	pthread_mutex_lock(&rs->mu);
	s = find_ref(rs, ref);
	if (s && stage == 2) {
		/* What an append touches: its pooled lock, the open chunk's state, `dead`. */
		__builtin_prefetch(tsdb_series_mu(h, s), 1);
		for (const char *p = (const char *)s; p < (const char *)&s->dead; p += 64)
			__builtin_prefetch(p, 1);
		__builtin_prefetch(&s->dead, 1);
	} else if (s) {
		pthread_mutex_lock(tsdb_series_mu(h, s));
		chunk = s->app.buf;
		if (chunk)
			tail = chunk + s->app.len - 1;
		pthread_mutex_unlock(tsdb_series_mu(h, s));
	}
	pthread_mutex_unlock(&rs->mu);
	/* An append adds bits at the end of the chunk's unsettled part (its sample count
	 * is mirrored in the appender): the first and the last line of the buffer. */
	if (chunk) {
		__builtin_prefetch(chunk, 1);
		__builtin_prefetch(tail, 1);
	}
}

int tsdb_head_append_known(struct tsdb_head *h, uint64_t ref, int64_t t, double v, char *err,
			   size_t errlen)
{
	/* No fail-fast bounds check: tsdb_series_append() refuses the same samples, with
	 * the same counter, once the series is found. */
	return append_ref(h, ref, t, v, appendable_min(h), false, err, errlen);
}

int tsdb_head_append_labels(struct tsdb_head *h, const struct labels *ls, int64_t t,
			    double v, uint64_t *ref, bool *created, char *err, size_t errlen)
{
	int64_t minv = appendable_min(h);
	struct tsdb_series *s;
	struct lset c;
	int rc;

	*ref = 0;
	*created = false;
	if (h->ooo_window == 0 && t < minv)
		return out_of_bounds(h, err, errlen);
	if ((rc = lset_init(&c, ls, err, errlen)) < 0)
		return rc;
	rc = obtain_locked(h, &c, &s, created, err, errlen);
	lset_free(&c);
	if (rc < 0)
		return rc;
	*ref = s->ref;
	rc = tsdb_series_append(h, s, t, v, minv, false, err, errlen);
	pthread_mutex_unlock(tsdb_series_mu(h, s));
	if (rc == 0)
		__atomic_fetch_add(&hash_stripe(h, s->hash)->appended, 1, __ATOMIC_RELAXED);
	return rc < 0 ? rc : 0;
}

/* --- WAL replay ------------------------------------------------------------------------- */

int tsdb_head_replay_series(struct tsdb_head *h, uint64_t ref, const struct labels *ls,
			    uint64_t *actual, char *err, size_t errlen)
{
	struct tsdb_stripe *hs;
	struct tsdb_series *s;
	struct lset c;
	int rc = 0;

	if (ref == 0) {
		snprintf(err, errlen, "series ref 0 is reserved");
		return TSDB_EFAIL;
	}
	if ((rc = lset_init(&c, ls, err, errlen)) < 0)
		return rc;
	hs = hash_stripe(h, c.hash);
	pthread_mutex_lock(&hs->mu);
	s = find_labels(hs, &c);
	if (s) {
		*actual = s->ref;
	} else if (tsdb_head_series_by_ref(h, ref)) {
		snprintf(err, errlen, "series ref %llu already belongs to other labels",
			 (unsigned long long)ref);
		rc = TSDB_EFAIL;
	} else if (!create_locked(h, hs, &c, ref)) {
		snprintf(err, errlen, "out of memory");
		rc = TSDB_EFAIL;
	} else {
		*actual = ref;
		raise_ref(h, ref + 1);
	}
	pthread_mutex_unlock(&hs->mu);
	lset_free(&c);
	return rc;
}

int tsdb_head_replay_sample(struct tsdb_head *h, uint64_t ref, int64_t t, double v,
			    char *err, size_t errlen)
{
	int64_t mv = __atomic_load_n(&h->min_valid, __ATOMIC_RELAXED);

	if (h->ooo_window == 0 && t < mv)
		return out_of_bounds(h, err, errlen);
	return append_ref(h, ref, t, v, mv, true, err, errlen);
}

/* --- bounds and stats ------------------------------------------------------------------- */

int64_t tsdb_head_min_time(const struct tsdb_head *h)
{
	return __atomic_load_n(&h->mint, __ATOMIC_RELAXED);
}

int64_t tsdb_head_max_time(const struct tsdb_head *h)
{
	return __atomic_load_n(&h->maxt, __ATOMIC_RELAXED);
}

int64_t tsdb_head_min_valid_time(const struct tsdb_head *h)
{
	return __atomic_load_n(&h->min_valid, __ATOMIC_RELAXED);
}

void tsdb_head_raise_min_valid_time(struct tsdb_head *h, int64_t t)
{
	tsdb_atomic_raise(&h->min_valid, t);
}

bool tsdb_head_series_exists(struct tsdb_head *h, uint64_t ref)
{
	return tsdb_head_series_by_ref(h, ref) != NULL;
}

uint64_t tsdb_head_num_series(const struct tsdb_head *h)
{
	return __atomic_load_n(&h->nseries, __ATOMIC_RELAXED);
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void tsdb_head_stats(const struct tsdb_head *h, struct tsdb_head_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (uint32_t i = 0; i <= h->smask; i++)
		st->samples_appended += LOAD(h->by_ref[i].appended) + LOAD(h->by_hash[i].appended);
	st->series = LOAD(h->nseries);
	st->series_created = LOAD(h->created);
	st->series_removed = LOAD(h->removed);
	st->ooo_appended = LOAD(h->ooo_appended);
	st->out_of_order = LOAD(h->rej_order);
	st->duplicate = LOAD(h->rej_dup);
	st->out_of_bounds = LOAD(h->rej_bounds);
	st->too_old = LOAD(h->rej_old);
	st->chunks_created = LOAD(h->chunks_created);
}

/* --- truncation -------------------------------------------------------------------------- */

struct doomed {
	struct tsdb_series **v;
	size_t n, cap;
};

static int doomed_push(struct doomed *d, struct tsdb_series *s)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 256;
		struct tsdb_series **nv = realloc(d->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		d->v = nv;
		d->cap = cap;
	}
	d->v[d->n++] = s;
	return 0;
}

/* Trim every series of one hash stripe and unlink the ones left empty from it. */
static int sweep_stripe(struct tsdb_head *h, struct tsdb_stripe *hs, int64_t mint,
			uint64_t watermark, struct tsdb_grave *g, struct doomed *d)
{
	size_t first = d->n;
	int rc = 0;

	pthread_mutex_lock(&hs->mu);
	for (uint32_t j = 0; hs->tab.slot && j <= hs->tab.mask && rc == 0; j++) {
		struct tsdb_series *s = tsdb_stab_at(&hs->tab, j);

		if (!s)
			continue;
		pthread_mutex_lock(tsdb_series_mu(h, s));
		/* Room for every doomed series so far plus this one (they are buried
		 * last), so nothing below can fail. */
		rc = tsdb_grave_reserve(g, d->n + 1);
		if (rc == 0) {
			tsdb_series_trim(h, s, mint);
			if (tsdb_series_empty_since(s, mint) &&
			    !(tsdb_series_never_sampled(s) && s->ref >= watermark)) {
				rc = doomed_push(d, s);
				if (rc == 0)
					s->dead = 1;
			}
		}
		pthread_mutex_unlock(tsdb_series_mu(h, s));
	}
	for (size_t k = first; k < d->n; k++)
		tsdb_stab_remove(&hs->tab, TSDB_STAB_HASH, d->v[k]);
	pthread_mutex_unlock(&hs->mu);
	return rc;
}

static int cmp_ref(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The index forgets the dead; failure only leaves stale refs, which lookups skip. */
static int forget(struct tsdb_head *h, const struct doomed *d, struct tsdb_grave *g)
{
	uint64_t *refs = malloc((d->n + 1) * sizeof(*refs));
	struct tsdb_ix_set *sets = malloc((d->n + 1) * sizeof(*sets));
	int rc = -1;

	if (refs && sets) {
		for (size_t i = 0; i < d->n; i++) {
			refs[i] = d->v[i]->ref;
			sets[i] = tsdb_series_set(d->v[i]);
		}
		qsort(refs, d->n, sizeof(*refs), cmp_ref);
		rc = tsdb_ix_remove(&h->ix, refs, d->n, sets, d->n, g);
	}
	free(refs);
	free(sets);
	return rc;
}

int tsdb_head_truncate(struct tsdb_head *h, int64_t mint, uint64_t *removed, char *err,
		       size_t errlen)
{
	struct tsdb_grave *g = calloc(1, sizeof(*g));
	struct doomed d = { 0 };
	uint64_t watermark;
	int rc = 0;

	if (removed)
		*removed = 0;
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return TSDB_EFAIL;
	}
	pthread_mutex_lock(&h->gc_mu);
	tsdb_atomic_raise(&h->min_valid, mint);
	tsdb_atomic_raise(&h->floor, mint);
	tsdb_atomic_raise(&h->mint, mint); /* a no-op on an empty head (INT64_MAX) */
	/* Readers opened from now on start at mint; the older ones that read below it
	 * finish first. */
	tsdb_reclaim_wait(&h->rc, mint);
	watermark = h->gc_watermark;
	h->gc_watermark = __atomic_load_n(&h->next_ref, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i <= h->smask && rc == 0; i++)
		rc = sweep_stripe(h, &h->by_hash[i], mint, watermark, g, &d);
	for (size_t k = 0; k < d.n; k++) {
		struct tsdb_series *s = d.v[k];
		struct tsdb_stripe *rs = ref_stripe(h, s->ref);

		pthread_mutex_lock(&rs->mu);
		tsdb_stab_remove(&rs->tab, TSDB_STAB_REF, s);
		pthread_mutex_unlock(&rs->mu);
		/* An appender that found it before it left the table is done after this. */
		pthread_mutex_lock(tsdb_series_mu(h, s));
		pthread_mutex_unlock(tsdb_series_mu(h, s));
		tsdb_grave_add_ctx(g, tsdb_series_free_in, h, s);
	}
	if (d.n && forget(h, &d, g) < 0)
		rc = -1;
	__atomic_fetch_sub(&h->nseries, d.n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->removed, d.n, __ATOMIC_RELAXED);
	if (removed)
		*removed = d.n;
	pthread_mutex_unlock(&h->gc_mu);
	tsdb_reclaim_retire(&h->rc, g);
	/* A truncation follows a block write, which read every parked chunk it took. */
	tsdb_chunk_store_drop_pages(h->store);
	free(d.v);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory during truncation (partly done)");
		return TSDB_EFAIL;
	}
	return 0;
}
