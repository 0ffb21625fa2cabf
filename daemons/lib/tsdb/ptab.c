/*
 * An open-addressing hash table of (64-bit key, pointer) with linear probing. The index
 * keeps names and values in these (the head's series tables are series_table.c, half
 * the size a slot). Keys sit in the slots so a probe never touches an element it does
 * not want (each such touch is a cache miss); elements whose keys can collide (hashes)
 * are confirmed with the caller's eq. Deletion shifts later entries back instead of
 * leaving tombstones, so lookups never slow down after churn. Grows at 7/8 load: a
 * probe compares keys in the slots, 4 to a cache line, so a longer run costs little.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "tsdb/internal.h"

#define MIN_CAP 8

uint64_t tsdb_hash_str(const char *s)
{
	return XXH3_64bits(s, strlen(s));
}

/* Fibonacci hashing: refs are sequential and label hashes lost their low bits to the
 * stripe choice, so take the slot from the product's high bits. */
static uint32_t home(uint64_t key, uint32_t mask)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

static void place(struct tsdb_ptab_slot *slot, uint32_t mask, uint64_t key, void *e)
{
	uint32_t i = home(key, mask);

	while (slot[i].e)
		i = (i + 1) & mask;
	slot[i].key = key;
	slot[i].e = e;
}

static int grow(struct tsdb_ptab *t)
{
	uint32_t cap = t->slot ? (t->mask + 1) * 2 : MIN_CAP;
	struct tsdb_ptab_slot *ns = calloc(cap, sizeof(*ns));

	if (!ns)
		return -1;
	if (t->slot) {
		for (uint32_t i = 0; i <= t->mask; i++)
			if (t->slot[i].e)
				place(ns, cap - 1, t->slot[i].key, t->slot[i].e);
		free(t->slot);
	}
	/* Atomic stores: tsdb_ptab_prefetch() reads these without the table's lock. */
	__atomic_store_n(&t->slot, ns, __ATOMIC_RELAXED);
	__atomic_store_n(&t->mask, cap - 1, __ATOMIC_RELAXED);
	return 0;
}

void tsdb_ptab_prefetch(const struct tsdb_ptab *t, uint64_t key)
{
	struct tsdb_ptab_slot *slot = __atomic_load_n(&t->slot, __ATOMIC_RELAXED);
	uint32_t mask = __atomic_load_n(&t->mask, __ATOMIC_RELAXED);

	/* slot and mask may be from two generations: a prefetch of a stale address only
	 * wastes a load. */
	if (slot)
		__builtin_prefetch(&slot[home(key, mask)]);
}

int tsdb_ptab_insert(struct tsdb_ptab *t, uint64_t key, void *e)
{
	if ((!t->slot || (uint64_t)(t->n + 1) * 8 > (uint64_t)(t->mask + 1) * 7) && grow(t) < 0)
		return -1;
	place(t->slot, t->mask, key, e);
	t->n++;
	return 0;
}

void *tsdb_ptab_find(const struct tsdb_ptab *t, uint64_t key,
		     bool (*eq)(const void *e, const void *arg), const void *arg)
{
	if (!t->slot)
		return NULL;
	for (uint32_t i = home(key, t->mask); t->slot[i].e; i = (i + 1) & t->mask)
		if (t->slot[i].key == key && (!eq || eq(t->slot[i].e, arg)))
			return t->slot[i].e;
	return NULL;
}

bool tsdb_ptab_remove(struct tsdb_ptab *t, uint64_t key, const void *e)
{
	uint32_t i, j;

	if (!t->slot)
		return false;
	for (i = home(key, t->mask); t->slot[i].e != e; i = (i + 1) & t->mask)
		if (!t->slot[i].e)
			return false;
	t->slot[i].e = NULL;
	t->n--;
	/* Pull back every later entry of the run whose home is not in (i, j]. */
	for (j = (i + 1) & t->mask; t->slot[j].e; j = (j + 1) & t->mask) {
		uint32_t h = home(t->slot[j].key, t->mask);
		bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);

		if (stays)
			continue;
		t->slot[i] = t->slot[j];
		t->slot[j].e = NULL;
		i = j;
	}
	return true;
}

void tsdb_ptab_free(struct tsdb_ptab *t)
{
	free(t->slot);
	memset(t, 0, sizeof(*t));
}
