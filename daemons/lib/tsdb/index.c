/*
 * The head's inverted index: label name -> label value -> sorted refs.
 *
 * The index doubles as the head's string table: each (name, value) pair is stored once,
 * in the entry that owns its postings (which points at its name's), and a series
 * keeps only pointers to its values' strings. An entry lives as long as some series
 * carries the pair (its refs are the reference count), and truncation finds the
 * entries of dead series straight from their label pointers, so it never scans the
 * whole index.
 *
 * Refs are handed out in increasing order, so adding a ref is nearly always an append;
 * concurrent creators can still arrive slightly out of order, which a short insertion
 * handles. A singleton list is stored inline (high-cardinality labels cost no extra
 * allocation), longer ones in 32 bits a ref while refs fit. Locks: `lock` guards the
 * names table; each name has its own rwlock for its values and their refs; `all_lock`
 * guards the list of every ref.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

static bool value_eq(const void *e, const void *key)
{
	return strcmp(((const struct tsdb_ix_value *)e)->s, key) == 0;
}

static bool name_eq(const void *e, const void *key)
{
	return strcmp(((const struct tsdb_ix_name *)e)->s, key) == 0;
}

static uint64_t ref_at(const struct tsdb_ix_value *v, uint32_t i)
{
	if (v->cap <= 1)
		return v->p.one;
	return v->wide ? v->p.wide[i] : v->p.narrow[i];
}

/* r fits the list's width (refs_insert widened it first). */
static void ref_set(struct tsdb_ix_value *v, uint32_t i, uint64_t r)
{
	if (v->cap <= 1)
		v->p.one = r;
	else if (v->wide)
		v->p.wide[i] = r;
	else
		v->p.narrow[i] = (uint32_t)r;
}

/* Append a value's refs to out. */
static int refs_append(const struct tsdb_ix_value *v, struct tsdb_plist *out)
{
	if (v->n == 0)
		return 0;
	if (tsdb_plist_reserve(out, v->n) < 0)
		return -1;
	for (uint32_t i = 0; i < v->n; i++)
		out->v[out->n++] = ref_at(v, i);
	return 0;
}

int tsdb_ix_init(struct tsdb_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	if (pthread_rwlock_init(&ix->lock, NULL) != 0)
		return -1;
	if (pthread_rwlock_init(&ix->all_lock, NULL) != 0) {
		pthread_rwlock_destroy(&ix->lock);
		return -1;
	}
	return 0;
}

static void value_free(void *p)
{
	struct tsdb_ix_value *v = p;

	if (v->cap > 1)
		free(v->p.wide);
	free(v);
}

static void name_free(void *p)
{
	struct tsdb_ix_name *nm = p;

	pthread_rwlock_destroy(&nm->lock);
	tsdb_ptab_free(&nm->values);
	free(nm);
}

void tsdb_ix_destroy(struct tsdb_index *ix)
{
	for (uint32_t i = 0; ix->names.slot && i <= ix->names.mask; i++) {
		struct tsdb_ix_name *nm = ix->names.slot[i].e;

		if (!nm)
			continue;
		for (uint32_t j = 0; nm->values.slot && j <= nm->values.mask; j++)
			if (nm->values.slot[j].e)
				value_free(nm->values.slot[j].e);
		name_free(nm);
	}
	tsdb_ptab_free(&ix->names);
	tsdb_plist_free(&ix->all);
	pthread_rwlock_destroy(&ix->lock);
	pthread_rwlock_destroy(&ix->all_lock);
}

/* --- adding ------------------------------------------------------------------------- */

/* Room for cap refs, 64-bit ones if wide; the refs are kept. */
static int refs_resize(struct tsdb_ix_value *v, uint32_t cap, bool wide)
{
	void *nr;

	if (v->cap > 1 && (bool)v->wide == wide) {
		nr = realloc(v->p.wide, (size_t)cap * (wide ? 8 : 4));
		if (!nr)
			return -1;
		v->p.wide = nr;
		v->cap = cap;
		return 0;
	}
	nr = malloc((size_t)cap * (wide ? 8 : 4));
	if (!nr)
		return -1;
	for (uint32_t i = 0; i < v->n; i++) {
		if (wide)
			((uint64_t *)nr)[i] = ref_at(v, i);
		else
			((uint32_t *)nr)[i] = (uint32_t)ref_at(v, i);
	}
	if (v->cap > 1)
		free(v->p.wide);
	v->p.wide = nr;
	v->cap = cap;
	v->wide = wide;
	return 0;
}

static int refs_insert(struct tsdb_ix_value *v, uint64_t ref)
{
	bool wide = v->wide || ref > UINT32_MAX ||
		    (v->cap == 1 && v->n && v->p.one > UINT32_MAX);
	uint32_t pos;

	if (v->cap == 0) {
		v->cap = 1;
	} else if (v->n == v->cap || (wide && !v->wide && v->cap > 1)) {
		uint32_t cap = v->n < v->cap ? v->cap : v->cap < 4 ? 4 : v->cap * 2;

		if (refs_resize(v, cap, wide) < 0)
			return -1;
	}
	pos = v->n;
	while (pos > 0 && ref_at(v, pos - 1) > ref) {
		ref_set(v, pos, ref_at(v, pos - 1));
		pos--;
	}
	ref_set(v, pos, ref);
	v->n++;
	return 0;
}

static void refs_remove_one(struct tsdb_ix_value *v, uint64_t ref)
{
	for (uint32_t i = v->n; i > 0; i--) {
		if (ref_at(v, i - 1) == ref) {
			for (uint32_t j = i; j < v->n; j++)
				ref_set(v, j - 1, ref_at(v, j));
			v->n--;
			return;
		}
	}
}

/* Find or create the entry for `name`; returns it with the names lock read-held, so
 * truncation cannot drop it before the caller takes the name's own lock. */
static struct tsdb_ix_name *name_get(struct tsdb_index *ix, const char *name)
{
	uint64_t h = tsdb_hash_str(name);
	struct tsdb_ix_name *nm;
	size_t len;

	pthread_rwlock_rdlock(&ix->lock);
	nm = tsdb_ptab_find(&ix->names, h, name_eq, name);
	if (nm)
		return nm;
	pthread_rwlock_unlock(&ix->lock);
	pthread_rwlock_wrlock(&ix->lock);
	nm = tsdb_ptab_find(&ix->names, h, name_eq, name);
	if (!nm) {
		len = strlen(name);
		nm = calloc(1, sizeof(*nm) + len + 1);
		if (!nm || pthread_rwlock_init(&nm->lock, NULL) != 0)
			goto fail;
		memcpy(nm->s, name, len + 1);
		if (tsdb_ptab_insert(&ix->names, h, nm) < 0) {
			pthread_rwlock_destroy(&nm->lock);
			goto fail;
		}
	}
	/* Downgrade: no truncation can run between these two, the caller only needs the
	 * entry to stay, and a writer never removes a name it did not see empty. */
	pthread_rwlock_unlock(&ix->lock);
	pthread_rwlock_rdlock(&ix->lock);
	nm = tsdb_ptab_find(&ix->names, h, name_eq, name);
	if (nm)
		return nm;
	pthread_rwlock_unlock(&ix->lock);
	return NULL;
fail:
	free(nm);
	pthread_rwlock_unlock(&ix->lock);
	return NULL;
}

/* Called with nm->lock write-held. */
static struct tsdb_ix_value *value_get(struct tsdb_ix_name *nm, const char *value)
{
	uint64_t h = tsdb_hash_str(value);
	struct tsdb_ix_value *v = tsdb_ptab_find(&nm->values, h, value_eq, value);
	size_t len;

	if (v)
		return v;
	len = strlen(value);
	v = calloc(1, sizeof(*v) + len + 1);
	if (!v)
		return NULL;
	memcpy(v->s, value, len + 1);
	v->name = nm->s;
	if (tsdb_ptab_insert(&nm->values, h, v) < 0) {
		free(v);
		return NULL;
	}
	return v;
}

static int add_one(struct tsdb_index *ix, const struct label *l, uint64_t ref,
		   const char **out)
{
	struct tsdb_ix_name *nm = name_get(ix, l->name);
	struct tsdb_ix_value *v;
	int rc = -1;

	if (!nm)
		return -1;
	pthread_rwlock_wrlock(&nm->lock);
	v = value_get(nm, l->value);
	if (v && refs_insert(v, ref) == 0) {
		*out = v->s;
		rc = 0;
	}
	pthread_rwlock_unlock(&nm->lock);
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

/* Undo add_one. An entry left empty stays until a truncation passes by: readers may
 * already hold its string, and listings skip empty entries. */
static void unadd_one(struct tsdb_index *ix, const char *value, uint64_t ref)
{
	struct tsdb_ix_value *v = TSDB_CONTAINER_OF(value, struct tsdb_ix_value, s);
	struct tsdb_ix_name *nm = TSDB_CONTAINER_OF(v->name, struct tsdb_ix_name, s);

	pthread_rwlock_wrlock(&nm->lock);
	refs_remove_one(v, ref);
	pthread_rwlock_unlock(&nm->lock);
}

int tsdb_ix_add(struct tsdb_index *ix, const struct labels *ls, uint64_t ref,
		const char **out)
{
	struct tsdb_plist *all = &ix->all;
	size_t i;
	int rc = 0;

	for (i = 0; i < ls->n; i++)
		if (add_one(ix, &ls->v[i], ref, &out[i]) < 0)
			goto fail;
	pthread_rwlock_wrlock(&ix->all_lock);
	if (tsdb_plist_reserve(all, 1) < 0) {
		rc = -1;
	} else {
		size_t pos = all->n;

		while (pos > 0 && all->v[pos - 1] > ref)
			pos--;
		memmove(all->v + pos + 1, all->v + pos, (all->n - pos) * sizeof(*all->v));
		all->v[pos] = ref;
		all->n++;
	}
	pthread_rwlock_unlock(&ix->all_lock);
	if (rc == 0)
		return 0;
fail:
	while (i-- > 0)
		unadd_one(ix, out[i], ref);
	return -1;
}

void tsdb_ix_undo(struct tsdb_index *ix, struct tsdb_ix_set set, uint64_t ref)
{
	struct tsdb_plist *all = &ix->all;

	for (size_t i = 0; i < set.n; i++)
		unadd_one(ix, set.v[i], ref);
	pthread_rwlock_wrlock(&ix->all_lock);
	for (size_t i = all->n; i > 0; i--) {
		if (all->v[i - 1] == ref) {
			memmove(all->v + i - 1, all->v + i, (all->n - i) * sizeof(*all->v));
			all->n--;
			break;
		}
	}
	pthread_rwlock_unlock(&ix->all_lock);
}

/* --- removing ------------------------------------------------------------------------ */

static void filter_refs(struct tsdb_ix_value *v, const uint64_t *dead, size_t ndead)
{
	uint32_t w = 0;

	for (uint32_t i = 0; i < v->n; i++) {
		uint64_t r = ref_at(v, i);

		if (!tsdb_plist_contains(dead, ndead, r))
			ref_set(v, w++, r);
	}
	v->n = w;
}

/* Drop those of `names` left without values; entries go to the grave (readers may
 * hold them). */
static void drop_empty_names(struct tsdb_index *ix, struct tsdb_ix_name **names, size_t n,
			     struct tsdb_grave *g)
{
	pthread_rwlock_wrlock(&ix->lock);
	for (size_t i = 0; i < n; i++) {
		struct tsdb_ix_name *nm = names[i];

		nm->mark = 0;
		pthread_rwlock_wrlock(&nm->lock);
		if (nm->values.n == 0 && tsdb_ptab_remove(&ix->names, tsdb_hash_str(nm->s), nm))
			tsdb_grave_add(g, name_free, nm);
		pthread_rwlock_unlock(&nm->lock);
	}
	pthread_rwlock_unlock(&ix->lock);
}

int tsdb_ix_remove(struct tsdb_index *ix, const uint64_t *dead, size_t ndead,
		   const struct tsdb_ix_set *sets, size_t nsets, struct tsdb_grave *g)
{
	struct tsdb_ix_value **vals = NULL;
	struct tsdb_ix_name **names = NULL;
	size_t nv = 0, nn = 0, total = 0;
	int rc = -1;

	for (size_t i = 0; i < nsets; i++)
		total += sets[i].n;
	vals = malloc((total + 1) * sizeof(*vals));
	names = malloc((total + 1) * sizeof(*names));
	if (!vals || !names || tsdb_grave_reserve(g, 2 * total) < 0)
		goto out;
	/* Each touched entry once; marks are only ever used by the (serialized) truncation. */
	for (size_t i = 0; i < nsets; i++) {
		for (size_t j = 0; j < sets[i].n; j++) {
			struct tsdb_ix_value *v =
				TSDB_CONTAINER_OF(sets[i].v[j], struct tsdb_ix_value, s);
			struct tsdb_ix_name *nm =
				TSDB_CONTAINER_OF(v->name, struct tsdb_ix_name, s);

			if (!v->mark) {
				v->mark = 1;
				vals[nv] = v;
				names[nv++] = nm; /* parallel: the value's name */
			}
		}
	}
	for (size_t i = 0; i < nv; i++) {
		struct tsdb_ix_name *nm = names[i];

		pthread_rwlock_wrlock(&nm->lock);
		vals[i]->mark = 0;
		filter_refs(vals[i], dead, ndead);
		if (vals[i]->n == 0 &&
		    tsdb_ptab_remove(&nm->values, tsdb_hash_str(vals[i]->s), vals[i]))
			tsdb_grave_add(g, value_free, vals[i]);
		pthread_rwlock_unlock(&nm->lock);
	}
	/* Distinct names, whose tables may now be empty (reuse the array's front). */
	for (size_t i = 0; i < nv; i++) {
		struct tsdb_ix_name *nm = names[i];

		if (!nm->mark) {
			nm->mark = 1;
			names[nn++] = nm;
		}
	}
	drop_empty_names(ix, names, nn, g);
	pthread_rwlock_wrlock(&ix->all_lock);
	tsdb_plist_subtract(&ix->all, &(struct tsdb_plist){ (uint64_t *)dead, ndead, ndead });
	pthread_rwlock_unlock(&ix->all_lock);
	rc = 0;
out:
	free(vals);
	free(names);
	return rc;
}

/* --- reading ------------------------------------------------------------------------- */

/* The name's entry with its lock read-held (and the names lock released), or NULL. */
static struct tsdb_ix_name *name_read(struct tsdb_index *ix, const char *name)
{
	struct tsdb_ix_name *nm;

	pthread_rwlock_rdlock(&ix->lock);
	nm = tsdb_ptab_find(&ix->names, tsdb_hash_str(name), name_eq, name);
	if (nm)
		pthread_rwlock_rdlock(&nm->lock);
	pthread_rwlock_unlock(&ix->lock);
	return nm;
}

int tsdb_ix_postings(struct tsdb_index *ix, const char *name, const char *value,
		     struct tsdb_plist *out)
{
	struct tsdb_ix_name *nm = name_read(ix, name);
	struct tsdb_ix_value *v;
	int rc = 0;

	if (!nm)
		return 0;
	v = tsdb_ptab_find(&nm->values, tsdb_hash_str(value), value_eq, value);
	if (v)
		rc = refs_append(v, out);
	pthread_rwlock_unlock(&nm->lock);
	return rc;
}

int tsdb_ix_postings_where(struct tsdb_index *ix, const char *name,
			   bool (*pred)(const void *arg, const char *v), const void *arg,
			   bool want, struct tsdb_plist *out)
{
	struct tsdb_ix_name *nm = name_read(ix, name);
	int rc = 0;

	if (!nm)
		return 0;
	for (uint32_t i = 0; nm->values.slot && i <= nm->values.mask && rc == 0; i++) {
		struct tsdb_ix_value *v = nm->values.slot[i].e;

		if (v && v->n && pred(arg, v->s) == want)
			rc = refs_append(v, out);
	}
	pthread_rwlock_unlock(&nm->lock);
	return rc;
}

int tsdb_ix_all(struct tsdb_index *ix, struct tsdb_plist *out)
{
	int rc;

	pthread_rwlock_rdlock(&ix->all_lock);
	rc = tsdb_plist_append(out, ix->all.v, ix->all.n);
	pthread_rwlock_unlock(&ix->all_lock);
	return rc;
}

int tsdb_strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Grow an arena-backed string array (the arena cannot free, so double). */
static int strings_push(struct arena *a, struct tsdb_strings *out, size_t *cap, const char *s)
{
	if (out->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		const char **nv = arena_alloc(a, ncap * sizeof(*nv));

		if (!nv)
			return -1;
		if (out->n)
			memcpy(nv, out->v, out->n * sizeof(*nv));
		out->v = nv;
		*cap = ncap;
	}
	out->v[out->n++] = s;
	return 0;
}

static bool name_has_refs(struct tsdb_ix_name *nm)
{
	for (uint32_t i = 0; nm->values.slot && i <= nm->values.mask; i++) {
		struct tsdb_ix_value *v = nm->values.slot[i].e;

		if (v && v->n)
			return true;
	}
	return false;
}

int tsdb_ix_names(struct tsdb_index *ix, struct arena *a, struct tsdb_strings *out)
{
	size_t cap = 0;
	int rc = 0;

	*out = (struct tsdb_strings){ 0 };
	pthread_rwlock_rdlock(&ix->lock);
	for (uint32_t i = 0; ix->names.slot && i <= ix->names.mask && rc == 0; i++) {
		struct tsdb_ix_name *nm = ix->names.slot[i].e;
		bool keep;

		if (!nm)
			continue;
		pthread_rwlock_rdlock(&nm->lock);
		keep = name_has_refs(nm);
		pthread_rwlock_unlock(&nm->lock);
		if (keep)
			rc = strings_push(a, out, &cap, nm->s);
	}
	pthread_rwlock_unlock(&ix->lock);
	if (rc == 0 && out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), tsdb_strp_cmp);
	return rc;
}

int tsdb_ix_values(struct tsdb_index *ix, const char *name, struct arena *a,
		   struct tsdb_strings *out)
{
	struct tsdb_ix_name *nm = name_read(ix, name);
	size_t cap = 0;
	int rc = 0;

	*out = (struct tsdb_strings){ 0 };
	if (!nm)
		return 0;
	for (uint32_t i = 0; nm->values.slot && i <= nm->values.mask && rc == 0; i++) {
		struct tsdb_ix_value *v = nm->values.slot[i].e;

		if (v && v->n)
			rc = strings_push(a, out, &cap, v->s);
	}
	pthread_rwlock_unlock(&nm->lock);
	if (rc == 0 && out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), tsdb_strp_cmp);
	return rc;
}
