/*
 * Children: one per label-value combination of a family.
 *
 * A family keeps its children in an open-addressing table keyed by XXH3 of the
 * label values (each followed by a 0xff byte, which UTF-8 never contains, so
 * ("a","bc") and ("ab","c") hash apart). The table holds pointers, so growing it
 * never moves a child: the pointer metrics_child() returns stays valid until the
 * registry is freed, and callers on hot paths keep it and skip the lookup.
 * The family lock covers the table only; values are updated with atomics.
 */
#include "metrics/internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#define INITIAL_TABLE 8

int metrics_children_init(struct metric *m)
{
	const char *none[1] = { NULL };

	if (pthread_mutex_init(&m->lock, NULL) != 0)
		return -1;
	m->table = calloc(INITIAL_TABLE, sizeof(*m->table));
	if (!m->table) {
		pthread_mutex_destroy(&m->lock);
		return -1;
	}
	m->table_size = INITIAL_TABLE;
	/* client_golang exposes a label-less metric from the start, at zero. */
	if (m->nlabels == 0) {
		m->only = metrics_child(m, none);
		if (!m->only)
			return -1;
	}
	return 0;
}

void metrics_children_free(struct metric *m)
{
	if (!m->table)
		return;
	for (size_t i = 0; i < m->table_size; i++)
		free(m->table[i]);
	free(m->table);
	m->table = NULL;
	pthread_mutex_destroy(&m->lock);
}

static uint64_t hash_values(const char *const *values, size_t n)
{
	XXH3_state_t st;
	static const char sep = '\xff';

	XXH3_64bits_reset(&st);
	for (size_t i = 0; i < n; i++) {
		XXH3_64bits_update(&st, values[i], strlen(values[i]));
		XXH3_64bits_update(&st, &sep, 1);
	}
	return XXH3_64bits_digest(&st);
}

static bool same_values(const struct metric_child *c, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c->values[i], values[i]) != 0)
			return false;
	return true;
}

static struct metric_child **slot_for(struct metric *m, uint64_t hash, const char *const *values)
{
	size_t mask = m->table_size - 1, i = hash & mask;

	while (m->table[i]) {
		if (m->table[i]->hash == hash && same_values(m->table[i], values, m->nlabels))
			break;
		i = (i + 1) & mask;
	}
	return &m->table[i];
}

/* Kept at most half full, so probes stay short and an empty slot always exists. */
static int grow(struct metric *m)
{
	size_t size = m->table_size * 2;
	struct metric_child **t = calloc(size, sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < m->table_size; i++) {
		struct metric_child *c = m->table[i];
		size_t j;

		if (!c)
			continue;
		for (j = c->hash & (size - 1); t[j]; j = (j + 1) & (size - 1))
			;
		t[j] = c;
	}
	free(m->table);
	m->table = t;
	m->table_size = size;
	return 0;
}

/* One allocation: the struct, histogram buckets, the value pointers, the strings. */
static struct metric_child *child_new(const struct metric *m, uint64_t hash,
				      const char *const *values)
{
	size_t nb = m->type == METRIC_HISTOGRAM ? m->nbounds + 1 : 0;
	size_t size = sizeof(struct metric_child) + nb * sizeof(uint64_t) +
		      m->nlabels * sizeof(char *);
	struct metric_child *c;
	char *p;

	for (size_t i = 0; i < m->nlabels; i++) {
		if (!values[i] || !metrics_valid_utf8(values[i]))
			return NULL;
		size += strlen(values[i]) + 1;
	}
	c = calloc(1, size);
	if (!c)
		return NULL;
	c->m = m;
	c->hash = hash;
	c->values = (const char **)((char *)c + sizeof(*c) + nb * sizeof(uint64_t));
	p = (char *)(c->values + m->nlabels);
	for (size_t i = 0; i < m->nlabels; i++) {
		size_t len = strlen(values[i]) + 1;

		memcpy(p, values[i], len);
		c->values[i] = p;
		p += len;
	}
	return c;
}

struct metric_child *metrics_child(struct metric *m, const char *const *values)
{
	struct metric_child **slot, *c = NULL;
	uint64_t hash;

	if (!m || m->kind != ENTRY_FAMILY)
		return NULL;
	if (m->only)
		return m->only;
	for (size_t i = 0; i < m->nlabels; i++)
		if (!values || !values[i])
			return NULL;
	hash = hash_values(values, m->nlabels);
	pthread_mutex_lock(&m->lock);
	slot = slot_for(m, hash, values);
	if (*slot) {
		c = *slot;
		goto out;
	}
	if ((m->nchildren + 1) * 2 > m->table_size) {
		if (grow(m) < 0)
			goto out;
		slot = slot_for(m, hash, values);
	}
	c = child_new(m, hash, values);
	if (c) {
		*slot = c;
		m->nchildren++;
	}
out:
	pthread_mutex_unlock(&m->lock);
	return c;
}

struct metric_child *metrics_childv(struct metric *m, ...)
{
	const char *values[METRICS_MAX_LABELS + 1];
	size_t n = 0;
	const char *v;
	va_list ap;

	if (!m)
		return NULL;
	va_start(ap, m);
	while ((v = va_arg(ap, const char *)) != NULL && n <= m->nlabels)
		values[n++] = v;
	va_end(ap);
	if (n != m->nlabels)
		return NULL;
	return metrics_child(m, values);
}

struct metric_child *metrics_only(struct metric *m)
{
	return m ? m->only : NULL;
}

static int cmp_children(const void *pa, const void *pb)
{
	const struct metric_child *a = *(struct metric_child *const *)pa;
	const struct metric_child *b = *(struct metric_child *const *)pb;

	for (size_t i = 0; i < a->m->nlabels; i++) {
		size_t k = a->m->order[i];
		int d = strcmp(a->values[k], b->values[k]);

		if (d)
			return d;
	}
	return 0;
}

int metrics_children_sorted(struct metric *m, struct metric_child ***out, size_t *n)
{
	struct metric_child **v = NULL;
	size_t k = 0;
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (m->nchildren) {
		v = malloc(m->nchildren * sizeof(*v));
		if (!v)
			rc = -1;
		for (size_t i = 0; v && i < m->table_size; i++)
			if (m->table[i])
				v[k++] = m->table[i];
	}
	pthread_mutex_unlock(&m->lock);
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_children);
	*out = v;
	*n = k;
	return rc;
}
