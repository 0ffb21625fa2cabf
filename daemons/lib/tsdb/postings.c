/*
 * Postings: sorted lists of series refs, and the algebra that turns a set of matchers
 * into one list, as Prometheus' PostingsForMatchers does. A matcher that does not match
 * "" contributes the union of the postings of the values it matches, intersected with
 * the others'; a matcher that does match "" (so it also selects series without the
 * label) instead subtracts the series whose value it rejects. With no matcher of the
 * first kind the starting set is every series. Lists are plain arrays: intersection and
 * subtraction are linear merges, and unions of one label's values (disjoint, since a
 * series has one value per name) are a concatenation and a sort.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

int tsdb_plist_reserve(struct tsdb_plist *p, size_t extra)
{
	size_t cap = p->cap ? p->cap : 16;
	uint64_t *nv;

	if (p->n + extra <= p->cap)
		return 0;
	while (cap < p->n + extra)
		cap *= 2;
	nv = realloc(p->v, cap * sizeof(*nv));
	if (!nv)
		return -1;
	p->v = nv;
	p->cap = cap;
	return 0;
}

int tsdb_plist_append(struct tsdb_plist *p, const uint64_t *v, size_t n)
{
	if (n == 0)
		return 0;
	if (tsdb_plist_reserve(p, n) < 0)
		return -1;
	memcpy(p->v + p->n, v, n * sizeof(*v));
	p->n += n;
	return 0;
}

void tsdb_plist_free(struct tsdb_plist *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void tsdb_plist_normalize(struct tsdb_plist *p)
{
	size_t w = 0;
	bool sorted = true;

	for (size_t i = 1; i < p->n && sorted; i++)
		sorted = p->v[i - 1] <= p->v[i];
	if (!sorted)
		qsort(p->v, p->n, sizeof(*p->v), cmp_u64);
	for (size_t i = 0; i < p->n; i++)
		if (w == 0 || p->v[w - 1] != p->v[i])
			p->v[w++] = p->v[i];
	p->n = w;
}

void tsdb_plist_intersect(struct tsdb_plist *a, const struct tsdb_plist *b)
{
	size_t i = 0, j = 0, w = 0;

	while (i < a->n && j < b->n) {
		if (a->v[i] < b->v[j]) {
			i++;
		} else if (a->v[i] > b->v[j]) {
			j++;
		} else {
			a->v[w++] = a->v[i];
			i++;
			j++;
		}
	}
	a->n = w;
}

void tsdb_plist_subtract(struct tsdb_plist *a, const struct tsdb_plist *b)
{
	size_t i = 0, j = 0, w = 0;

	while (i < a->n) {
		while (j < b->n && b->v[j] < a->v[i])
			j++;
		if (j < b->n && b->v[j] == a->v[i]) {
			i++;
			continue;
		}
		a->v[w++] = a->v[i++];
	}
	a->n = w;
}

bool tsdb_plist_contains(const uint64_t *v, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == x)
			return true;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* --- matchers to postings -------------------------------------------------------------- */

static bool value_matches(const void *arg, const char *v)
{
	return tsdb_matcher_positive(arg, v, strlen(v)) != tsdb_matcher_negated(arg);
}

/* Postings of the values of m->name for which m says `want`, without scanning the
 * values when the matcher names them (= and sets of literals). */
static int values_postings(const struct tsdb_postings_src *src, const struct tsdb_matcher *m,
			   bool want, struct tsdb_plist *out)
{
	bool direct = want != tsdb_matcher_negated(m);

	if (direct && m->kind == TSDB_MK_LITERAL)
		return src->postings(src->ctx, m->name, m->lit, out);
	if (direct && m->kind == TSDB_MK_SET) {
		for (size_t i = 0; i < m->nset; i++)
			if (src->postings(src->ctx, m->name, m->set[i], out) < 0)
				return -1;
		return 0;
	}
	return src->postings_where(src->ctx, m->name, value_matches, m, want, out);
}

static int ix_postings(void *ctx, const char *name, const char *value, struct tsdb_plist *out)
{
	return tsdb_ix_postings(ctx, name, value, out);
}

static int ix_postings_where(void *ctx, const char *name,
			     bool (*pred)(const void *arg, const char *v), const void *arg,
			     bool want, struct tsdb_plist *out)
{
	return tsdb_ix_postings_where(ctx, name, pred, arg, want, out);
}

static int ix_all(void *ctx, struct tsdb_plist *out)
{
	return tsdb_ix_all(ctx, out);
}

int tsdb_postings_select(struct tsdb_index *ix, const struct tsdb_matcher *ms, size_t n,
			 struct tsdb_plist *out)
{
	struct tsdb_postings_src src = { ix_postings, ix_postings_where, ix_all, ix };

	return tsdb_postings_select_src(&src, ms, n, out);
}

int tsdb_postings_select_src(const struct tsdb_postings_src *src, const struct tsdb_matcher *ms,
			     size_t n, struct tsdb_plist *out)
{
	struct tsdb_plist acc = { 0 }, sub = { 0 }, tmp = { 0 };
	bool have = false;

	for (size_t i = 0; i < n; i++) {
		const struct tsdb_matcher *m = &ms[i];
		bool empty_ok = tsdb_matcher_matches(m, "");

		if (empty_ok && m->kind == TSDB_MK_ALL && !tsdb_matcher_negated(m))
			continue; /* =~".*" selects everything */
		tmp.n = 0;
		if (values_postings(src, m, !empty_ok, &tmp) < 0)
			goto fail;
		if (empty_ok) {
			if (tsdb_plist_append(&sub, tmp.v, tmp.n) < 0)
				goto fail;
			continue;
		}
		tsdb_plist_normalize(&tmp);
		if (!have) {
			acc = tmp;
			tmp = (struct tsdb_plist){ 0 };
			have = true;
		} else {
			tsdb_plist_intersect(&acc, &tmp);
		}
		if (acc.n == 0)
			break;
	}
	if (!have && src->all(src->ctx, &acc) < 0)
		goto fail;
	if (sub.n) {
		tsdb_plist_normalize(&sub);
		tsdb_plist_subtract(&acc, &sub);
	}
	tsdb_plist_free(&sub);
	tsdb_plist_free(&tmp);
	*out = acc;
	return 0;
fail:
	tsdb_plist_free(&acc);
	tsdb_plist_free(&sub);
	tsdb_plist_free(&tmp);
	return -1;
}
