/*
 * The series cache: keyed hash of a series' label bytes -> storage ref. Striped by the
 * key's low bits, each stripe an open-addressing table of (key, ref) with linear
 * probing under its own mutex, so concurrent requests rarely meet and nothing is
 * process-wide. An entry is 16 bytes (24 before): 96 bits of the 128-bit key (the
 * first word, whose low bits also choose the stripe, and the high half of the second,
 * whose low bits choose the slot) and a 32-bit ref; a series whose ref does not fit
 * (after four billion series created) is simply not remembered. A probe touches one cache
 * line or two and never the storage. A slot with ref 0 is empty (refs start at 1).
 * Entries are never wrong for long: a ref the storage dropped is noticed by the
 * append (the series' labels are then decoded and looked up as for a new series, and
 * the new ref replaces the old), and trim sweeps such entries out once the cache has
 * grown an eighth past the storage's series count (it held up to twice as many, a
 * megabyte more per 20k series, before). Tables fill to 7/8: entries are looked up by
 * a key the table holds, so a longer probe run costs a few compares in the lines it
 * loads anyway.
 */
#include "remote/remote_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#define STRIPES 256
#define MIN_CAP 16
#define TRIM_SLACK 1024

struct entry {
	uint64_t k0;
	uint32_t k1; /* the second key word's high half */
	uint32_t ref;
};

struct stripe {
	pthread_mutex_t mu;
	struct entry *slot;
	uint32_t mask; /* capacity - 1 */
	uint32_t n;
} __attribute__((aligned(64)));

struct remote_series_cache {
	struct stripe st[STRIPES];
	uint64_t seed;
	atomic_size_t n;
	atomic_size_t floor;  /* no sweep until the cache is larger than this */
	atomic_bool sweeping;
};

struct remote_series_cache *remote_series_cache_new(void)
{
	struct remote_series_cache *c;

	if (posix_memalign((void **)&c, 64, sizeof(*c)) != 0)
		return NULL;
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->st[i].mu, NULL);
	/* The seed keeps keys unpredictable to senders; failing that, anything varying. */
	if (getrandom(&c->seed, sizeof(c->seed), GRND_NONBLOCK) != (ssize_t)sizeof(c->seed))
		c->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;
	atomic_init(&c->n, 0);
	atomic_init(&c->floor, 0);
	atomic_init(&c->sweeping, false);
	return c;
}

void remote_series_cache_free(struct remote_series_cache *c)
{
	if (!c)
		return;
	for (int i = 0; i < STRIPES; i++) {
		free(c->st[i].slot);
		pthread_mutex_destroy(&c->st[i].mu);
	}
	free(c);
}

void remote_series_cache_key(const struct remote_series_cache *c, const void *wire, size_t len,
			     uint64_t key[2])
{
	XXH128_hash_t h = XXH3_128bits_withSeed(wire, len, c->seed);

	key[0] = h.low64;
	key[1] = h.high64;
}

static struct stripe *stripe_of(struct remote_series_cache *c, const uint64_t key[2])
{
	return &c->st[key[0] & (STRIPES - 1)];
}

/* The slot an entry's probe run starts from: bits of the key the entry keeps, so that
 * a rebuild, which has only the entry, finds it again. */
static uint32_t home(uint32_t k1, uint32_t mask)
{
	return k1 & mask;
}

/* The key's slot in st: its entry, or the empty slot ending its probe run. */
static struct entry *probe(struct stripe *st, uint64_t k0, uint32_t k1)
{
	uint32_t i = home(k1, st->mask);

	while (st->slot[i].ref && (st->slot[i].k0 != k0 || st->slot[i].k1 != k1))
		i = (i + 1) & st->mask;
	return &st->slot[i];
}

static uint32_t k1_of(const uint64_t key[2])
{
	return (uint32_t)(key[1] >> 32);
}

/* Without the lock: slot and mask are read atomically (rebuild stores them so) and may
 * not match, but a prefetch of a stale address is harmless. */
void remote_series_cache_prefetch(struct remote_series_cache *c, const uint64_t key[2])
{
	struct stripe *st = stripe_of(c, key);
	struct entry *slot = __atomic_load_n(&st->slot, __ATOMIC_RELAXED);
	uint32_t mask = __atomic_load_n(&st->mask, __ATOMIC_RELAXED);

	if (slot)
		__builtin_prefetch(&slot[home(k1_of(key), mask)]);
}

uint64_t remote_series_cache_find(struct remote_series_cache *c, const uint64_t key[2])
{
	struct stripe *st = stripe_of(c, key);
	uint64_t ref = 0;

	pthread_mutex_lock(&st->mu);
	if (st->slot)
		ref = probe(st, key[0], k1_of(key))->ref;
	pthread_mutex_unlock(&st->mu);
	return ref;
}

/* Rebuild st's table with capacity cap, keeping the entries keep() allows. Called with
 * st held; -1 (table unchanged) when memory runs out. */
static int rebuild(struct remote_series_cache *c, struct stripe *st, uint32_t cap,
		   bool (*alive)(void *arg, uint64_t ref), void *arg)
{
	struct entry *old = st->slot, *ns = calloc(cap, sizeof(*ns));
	uint32_t oldcap = old ? st->mask + 1 : 0, n = 0;

	if (!ns)
		return -1;
	__atomic_store_n(&st->slot, ns, __ATOMIC_RELAXED);
	__atomic_store_n(&st->mask, cap - 1, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < oldcap; i++) {
		if (!old[i].ref)
			continue;
		if (alive && !alive(arg, old[i].ref)) {
			atomic_fetch_sub_explicit(&c->n, 1, memory_order_relaxed);
			continue;
		}
		*probe(st, old[i].k0, old[i].k1) = old[i];
		n++;
	}
	st->n = n;
	free(old);
	return 0;
}

static void put(struct remote_series_cache *c, const uint64_t key[2], uint64_t ref)
{
	struct stripe *st = stripe_of(c, key);
	struct entry *e;

	if (ref > UINT32_MAX)
		return; /* not remembered: the series takes the slower path */
	pthread_mutex_lock(&st->mu);
	if ((!st->slot || (uint64_t)(st->n + 1) * 8 > (uint64_t)(st->mask + 1) * 7) &&
	    rebuild(c, st, st->slot ? (st->mask + 1) * 2 : MIN_CAP, NULL, NULL) < 0)
		goto out; /* not remembered: the series just takes the slower path */
	e = probe(st, key[0], k1_of(key));
	if (!e->ref) {
		st->n++;
		atomic_fetch_add_explicit(&c->n, 1, memory_order_relaxed);
	}
	*e = (struct entry){ key[0], k1_of(key), (uint32_t)ref };
out:
	pthread_mutex_unlock(&st->mu);
}

void remote_series_cache_learn(struct remote_series_cache *c, const struct remote_write_batch *b,
			       const uint64_t *refs)
{
	uint64_t key[2];

	if (!b->wire)
		return;
	/* Only series new to the cache get here, few once senders are known: hashing
	 * their bytes again costs less than keeping every series' key until now. */
	for (size_t i = 0; i < b->nseries; i++) {
		const struct remote_wire_span *sp = &b->wire[i];

		if (!sp->len || !refs[i] || refs[i] == b->series[i].ref)
			continue;
		remote_series_cache_key(c, b->wire_base + sp->off, sp->len, key);
		put(c, key, refs[i]);
	}
}

size_t remote_series_cache_size(struct remote_series_cache *c)
{
	return atomic_load_explicit(&c->n, memory_order_relaxed);
}

void remote_series_cache_trim(struct remote_series_cache *c, uint64_t live,
			      bool (*alive)(void *arg, uint64_t ref), void *arg)
{
	size_t n = remote_series_cache_size(c);

	if (n <= live + live / 8 + TRIM_SLACK || n <= atomic_load(&c->floor) ||
	    atomic_exchange(&c->sweeping, true))
		return;
	for (int i = 0; i < STRIPES; i++) {
		struct stripe *st = &c->st[i];

		pthread_mutex_lock(&st->mu);
		if (st->slot)
			rebuild(c, st, st->mask + 1, alive, arg);
		pthread_mutex_unlock(&st->mu);
	}
	/* What is left is alive (several encodings of one series, say): wait for the
	 * cache to grow by as much again before sweeping again. */
	n = remote_series_cache_size(c);
	atomic_store(&c->floor, n + n / 8 + TRIM_SLACK);
	atomic_store(&c->sweeping, false);
}
