/*
 * A small open-addressing hash map from 64-bit keys (label hashes, signature
 * hashes, pointers) to 64-bit values, for the evaluator's per-operator lookups.
 * Keys are already well mixed hashes, so the slot is taken from the key's bits
 * after one multiplicative mix; linear probing; the table doubles at 50% load.
 */
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

static size_t slot(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & (cap - 1);
}

static int grow(struct pq_hmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	uint64_t *keys = malloc(cap * sizeof(*keys)), *vals = malloc(cap * sizeof(*vals));
	uint8_t *used = calloc(cap, 1);

	if (!keys || !vals || !used) {
		free(keys);
		free(vals);
		free(used);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->used[i])
			continue;
		for (j = slot(m->keys[i], cap); used[j]; j = (j + 1) & (cap - 1))
			;
		used[j] = 1;
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	free(m->used);
	m->keys = keys;
	m->vals = vals;
	m->used = used;
	m->cap = cap;
	return 0;
}

uint64_t *pq_hmap_get(const struct pq_hmap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t j = slot(key, m->cap); m->used[j]; j = (j + 1) & (m->cap - 1))
		if (m->keys[j] == key)
			return &m->vals[j];
	return NULL;
}

uint64_t *pq_hmap_put(struct pq_hmap *m, uint64_t key, bool *found)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap && grow(m))
		return NULL;
	for (j = slot(key, m->cap); m->used[j]; j = (j + 1) & (m->cap - 1)) {
		if (m->keys[j] == key) {
			*found = true;
			return &m->vals[j];
		}
	}
	*found = false;
	m->used[j] = 1;
	m->keys[j] = key;
	m->vals[j] = 0;
	m->n++;
	return &m->vals[j];
}

void pq_hmap_clear(struct pq_hmap *m)
{
	if (m->cap)
		memset(m->used, 0, m->cap);
	m->n = 0;
}

void pq_hmap_free(struct pq_hmap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof(*m));
}
