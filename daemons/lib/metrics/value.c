/*
 * Lock-free value updates.
 *
 * A counter or gauge is one _Atomic uint64_t holding the double's bits; adding is a
 * compare-exchange loop, setting a plain store. A histogram child counts each
 * observation in its own (non-cumulative) bucket, then adds to the sum, then bumps
 * the count with release order. A scrape reads the count, the buckets and the count
 * again and retries while they disagree, so the cumulative +Inf bucket and _count it
 * writes always match. Every update accepts NULL (a child whose creation failed) and
 * does nothing, so an allocation failure at start-up never becomes a crash later.
 */
#include "metrics/internal.h"

#include <math.h>
#include <string.h>

#define READ_RETRIES 16

static uint64_t to_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static double from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static void atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, to_bits(from_bits(old) + v),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void metrics_add(struct metric_child *c, double v)
{
	if (!c || c->m->type == METRIC_HISTOGRAM)
		return;
	/* A counter only goes up; a negative or NaN increment would break rate(). */
	if (c->m->type == METRIC_COUNTER && !(v >= 0))
		return;
	atomic_add_double(&c->bits, v);
}

void metrics_inc(struct metric_child *c)
{
	metrics_add(c, 1);
}

void metrics_set(struct metric_child *c, double v)
{
	if (!c || c->m->type == METRIC_HISTOGRAM)
		return;
	atomic_store_explicit(&c->bits, to_bits(v), memory_order_relaxed);
}

double metrics_value(const struct metric_child *c)
{
	if (!c || c->m->type == METRIC_HISTOGRAM)
		return NAN;
	return from_bits(atomic_load_explicit(&c->bits, memory_order_relaxed));
}

/* First bucket whose upper bound is >= v; NaN lands in +Inf, as in client_golang. */
static size_t bucket_index(const struct metric *m, double v)
{
	size_t lo = 0, hi = m->nbounds;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->bounds[mid] >= v)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void metrics_observe(struct metric_child *c, double v)
{
	if (!c || c->m->type != METRIC_HISTOGRAM)
		return;
	atomic_fetch_add_explicit(&c->buckets[bucket_index(c->m, v)], 1, memory_order_relaxed);
	atomic_add_double(&c->sum_bits, v);
	atomic_fetch_add_explicit(&c->count, 1, memory_order_release);
}

void metrics_histogram_read(const struct metric_child *c, uint64_t *counts, uint64_t *count,
			    double *sum)
{
	size_t n = c->m->nbounds + 1;
	uint64_t before, after, total;

	for (int tries = 0;; tries++) {
		before = atomic_load_explicit(&c->count, memory_order_acquire);
		total = 0;
		for (size_t i = 0; i < n; i++) {
			counts[i] = atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
			total += counts[i];
		}
		*sum = from_bits(atomic_load_explicit(&c->sum_bits, memory_order_relaxed));
		after = atomic_load_explicit(&c->count, memory_order_acquire);
		if ((before == after && total == after) || tries == READ_RETRIES)
			break;
	}
	/* Under a storm of observations, settle for the buckets' own total. */
	*count = total;
}
