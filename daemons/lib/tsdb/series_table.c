/*
 * The head's series tables (one by label hash and one by ref in every stripe): open
 * addressing with linear probing and backward-shift deletion, as tsdb_ptab, but a slot
 * is 8 bytes instead of 16: the series pointer in the low 48 bits (user-space
 * addresses on x86-64 and arm64; an insert refuses any other) and 16 bits of its key's
 * hash above as a tag. A probe still touches only series whose tag matches (one in
 * 65 536 by chance besides the one sought), so appends take no more cache misses; the
 * key itself is read from the series (its ref or its label hash) to confirm a match,
 * and when the table grows or a removal shifts entries back. With 20k series the two
 * tables took ~1.2 MiB at 16 bytes a slot.
 */
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

#define MIN_CAP 8
#define PTR_MASK ((1ull << 48) - 1)

static uint64_t key_of(const struct tsdb_series *s, enum tsdb_stab_key by)
{
	return by == TSDB_STAB_HASH ? s->hash : s->ref;
}

/* Fibonacci hashing (refs are sequential, label hashes lost their low bits to the
 * stripe choice): the slot from the product's bits 32 and up, the tag from its top 16
 * bits, apart from the slot's bits in tables of up to 65 536 slots. */
static uint64_t mix(uint64_t key)
{
	return key * 0x9e3779b97f4a7c15ULL;
}

static uint32_t home(uint64_t key, uint32_t mask)
{
	return (uint32_t)(mix(key) >> 32) & mask;
}

static uint64_t tag(uint64_t key)
{
	return mix(key) & ~PTR_MASK;
}

static struct tsdb_series *ptr(uint64_t slot)
{
	return (struct tsdb_series *)(uintptr_t)(slot & PTR_MASK);
}

static void place(uint64_t *slot, uint32_t mask, uint64_t key, uint64_t v)
{
	uint32_t i = home(key, mask);

	while (slot[i])
		i = (i + 1) & mask;
	slot[i] = v;
}

static int grow(struct tsdb_stab *t, enum tsdb_stab_key by)
{
	uint32_t cap = t->slot ? (t->mask + 1) * 2 : MIN_CAP;
	uint64_t *ns = calloc(cap, sizeof(*ns));

	if (!ns)
		return -1;
	if (t->slot) {
		for (uint32_t i = 0; i <= t->mask; i++)
			if (t->slot[i])
				place(ns, cap - 1, key_of(ptr(t->slot[i]), by), t->slot[i]);
		free(t->slot);
	}
	/* Atomic stores: tsdb_stab_prefetch() reads these without the table's lock. */
	__atomic_store_n(&t->slot, ns, __ATOMIC_RELAXED);
	__atomic_store_n(&t->mask, cap - 1, __ATOMIC_RELAXED);
	return 0;
}

struct tsdb_series *tsdb_stab_at(const struct tsdb_stab *t, uint32_t i)
{
	return ptr(t->slot[i]);
}

void tsdb_stab_prefetch(const struct tsdb_stab *t, uint64_t key)
{
	uint64_t *slot = __atomic_load_n(&t->slot, __ATOMIC_RELAXED);
	uint32_t mask = __atomic_load_n(&t->mask, __ATOMIC_RELAXED);

	/* slot and mask may be from two generations: a prefetch of a stale address only
	 * wastes a load. */
	if (slot)
		__builtin_prefetch(&slot[home(key, mask)]);
}

int tsdb_stab_insert(struct tsdb_stab *t, enum tsdb_stab_key by, struct tsdb_series *s)
{
	uint64_t key = key_of(s, by);

	if ((uintptr_t)s & ~PTR_MASK)
		return -1;
	if ((!t->slot || (uint64_t)(t->n + 1) * 8 > (uint64_t)(t->mask + 1) * 7) &&
	    grow(t, by) < 0)
		return -1;
	place(t->slot, t->mask, key, tag(key) | (uintptr_t)s);
	t->n++;
	return 0;
}

struct tsdb_series *tsdb_stab_find(const struct tsdb_stab *t, enum tsdb_stab_key by,
				   uint64_t key,
				   bool (*eq)(const struct tsdb_series *s, const void *arg),
				   const void *arg)
{
	uint64_t want = tag(key);

	if (!t->slot)
		return NULL;
	for (uint32_t i = home(key, t->mask); t->slot[i]; i = (i + 1) & t->mask) {
		struct tsdb_series *s;

		if ((t->slot[i] & ~PTR_MASK) != want)
			continue;
		s = ptr(t->slot[i]);
		if (key_of(s, by) == key && (!eq || eq(s, arg)))
			return s;
	}
	return NULL;
}

bool tsdb_stab_remove(struct tsdb_stab *t, enum tsdb_stab_key by, const struct tsdb_series *s)
{
	uint32_t i, j;

	if (!t->slot)
		return false;
	for (i = home(key_of(s, by), t->mask); ptr(t->slot[i]) != s; i = (i + 1) & t->mask)
		if (!t->slot[i])
			return false;
	t->slot[i] = 0;
	t->n--;
	/* Pull back every later entry of the run whose home is not in (i, j]. */
	for (j = (i + 1) & t->mask; t->slot[j]; j = (j + 1) & t->mask) {
		uint32_t h = home(key_of(ptr(t->slot[j]), by), t->mask);
		bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);

		if (stays)
			continue;
		t->slot[i] = t->slot[j];
		t->slot[j] = 0;
		i = j;
	}
	return true;
}

void tsdb_stab_free(struct tsdb_stab *t)
{
	free(t->slot);
	memset(t, 0, sizeof(*t));
}
