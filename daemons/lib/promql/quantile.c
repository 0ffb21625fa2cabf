/*
 * Numerics shared by functions and aggregations, each with upstream's exact
 * behaviour: quantile() over values (NaN sorts first), histogram_quantile and
 * histogram_fraction over classic buckets (sorted, coalesced, and with the
 * monotonicity fix that ignores relative differences below 1e-12 and flattens
 * decreases), Go's sort.Sort ordering for small inputs, the natural ordering of
 * sort_by_label (facette/natsort), and Go's %g for annotation texts.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"
#include "promql/internal.h"

#define SMALL_DELTA_TOLERANCE 1e-12
#define MIN_NORMAL 2.2250738585072014e-308

static int cmp_nan_first(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	if (isnan(x))
		return isnan(y) ? 0 : -1;
	if (isnan(y))
		return 1;
	return x < y ? -1 : x > y;
}

double pq_quantile(double q, double *v, size_t n)
{
	double rank, lo, hi, w;

	if (!n || isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	qsort(v, n, sizeof(*v), cmp_nan_first);
	rank = q * (double)(n - 1);
	lo = fmax(0, floor(rank));
	hi = fmin((double)(n - 1), lo + 1);
	w = rank - floor(rank);
	return v[(size_t)lo] * (1 - w) + v[(size_t)hi] * w;
}

static int cmp_bucket(const void *a, const void *b)
{
	const struct pq_bucket *x = a, *y = b;

	return x->upper < y->upper ? -1 : x->upper > y->upper;
}

static size_t coalesce(struct pq_bucket *b, size_t n)
{
	struct pq_bucket last = b[0];
	size_t k = 0;

	for (size_t i = 1; i < n; i++) {
		if (b[i].upper == last.upper) {
			last.count += b[i].count;
		} else {
			b[k++] = last;
			last = b[i];
		}
	}
	b[k++] = last;
	return k;
}

bool pq_almost_equal(double a, double b, double eps)
{
	double sum, diff;

	if (isnan(a) && isnan(b))
		return true;
	if (a == b)
		return true;
	sum = fabs(a) + fabs(b);
	diff = fabs(a - b);
	if (a == 0 || b == 0 || sum < MIN_NORMAL)
		return diff < eps * MIN_NORMAL;
	return diff / fmin(sum, 1.7976931348623157e308) < eps;
}

static void ensure_monotonic(struct pq_bucket *b, size_t n, struct pq_monotonicity *m)
{
	double prev = b[0].count;

	m->min_bucket = INFINITY;
	m->max_bucket = -INFINITY;
	for (size_t i = 1; i < n; i++) {
		double cur = b[i].count;

		if (cur == prev)
			continue;
		if (pq_almost_equal(prev, cur, SMALL_DELTA_TOLERANCE)) {
			b[i].count = prev;
			m->fixed_precision = true;
			continue;
		}
		if (cur < prev) {
			b[i].count = prev;
			m->forced = true;
			if (b[i].upper < m->min_bucket)
				m->min_bucket = b[i].upper;
			if (b[i].upper > m->max_bucket)
				m->max_bucket = b[i].upper;
			if (prev - cur > m->max_diff)
				m->max_diff = prev - cur;
			continue;
		}
		prev = cur;
	}
}

/* Sorted by bound and coalesced; 0 when the highest bucket is not +Inf. */
static size_t prepare_buckets(struct pq_bucket *b, size_t n)
{
	if (!n)
		return 0;
	qsort(b, n, sizeof(*b), cmp_bucket);
	if (!(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
		return 0;
	return coalesce(b, n);
}

double pq_bucket_quantile(double q, struct pq_bucket *b, size_t n, struct pq_monotonicity *mono)
{
	double rank, obs, start = 0, end, count;
	size_t i, lo, hi;

	memset(mono, 0, sizeof(*mono));
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	n = prepare_buckets(b, n);
	if (!n)
		return NAN;
	ensure_monotonic(b, n, mono);
	if (n < 2)
		return NAN;
	obs = b[n - 1].count;
	if (obs == 0)
		return NAN;
	rank = q * obs;
	/* sort.Search over the buckets but the last */
	lo = 0;
	hi = n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b[mid].count >= rank)
			hi = mid;
		else
			lo = mid + 1;
	}
	i = lo;
	if (i == n - 1)
		return b[n - 2].upper;
	if (i == 0 && b[0].upper <= 0)
		return b[0].upper;
	end = b[i].upper;
	count = b[i].count;
	if (i > 0) {
		start = b[i - 1].upper;
		count -= b[i - 1].count;
		rank -= b[i - 1].count;
	}
	return start + (end - start) * (rank / count);
}

double pq_bucket_fraction(double lower, double upper, struct pq_bucket *b, size_t n)
{
	double count, rank = 0, lower_rank = 0, upper_rank = 0, lb = 0;
	bool lower_set = false, upper_set = false;

	n = prepare_buckets(b, n);
	if (!n)
		return NAN;
	count = b[n - 1].count;
	if (count == 0 || isnan(lower) || isnan(upper))
		return NAN;
	if (lower >= upper)
		return 0;
	if (b[0].upper <= 0)
		lb = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		double ub = b[i].upper;

		if (i > 0)
			lb = b[i - 1].upper;
#define INTERP(v) (lb == -INFINITY ? b[i].count : \
		   rank + (b[i].count - rank) * ((v) - lb) / (ub - lb))
		if (!lower_set && lb >= lower) {
			lower_rank = rank;
			lower_set = true;
		}
		if (!upper_set && lb >= upper) {
			upper_rank = rank;
			upper_set = true;
		}
		if (lower_set && upper_set)
			break;
		if (!lower_set && lb < lower && ub > lower) {
			lower_rank = INTERP(lower);
			lower_set = true;
		}
		if (!upper_set && lb < upper && ub > upper) {
			upper_rank = INTERP(upper);
			upper_set = true;
		}
#undef INTERP
		if (lower_set && upper_set)
			break;
		rank = b[i].count;
	}
	if (!lower_set || lower_rank > count)
		lower_rank = count;
	if (!upper_set || upper_rank > count)
		upper_rank = count;
	return (upper_rank - lower_rank) / count;
}

/* --- sorting ---------------------------------------------------------------------------- */

static void merge_sort(struct pq_sample *v, struct pq_sample *tmp, size_t n, pq_less_fn less,
		       void *arg)
{
	size_t mid = n / 2, i = 0, j = mid, k = 0;

	if (n < 2)
		return;
	merge_sort(v, tmp, mid, less, arg);
	merge_sort(v + mid, tmp, n - mid, less, arg);
	while (i < mid && j < n) {
		if (less(&v[j], &v[i], arg))
			tmp[k++] = v[j++];
		else
			tmp[k++] = v[i++];
	}
	while (i < mid)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

int pq_sort_samples(struct pq_sample *v, size_t n, pq_less_fn less, void *arg)
{
	struct pq_sample *tmp;

	if (n <= 12) {
		/* Go's insertionSort, which pdqsort uses for short inputs */
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && less(&v[j], &v[j - 1], arg); j--) {
				struct pq_sample t = v[j];

				v[j] = v[j - 1];
				v[j - 1] = t;
			}
		return 0;
	}
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -1;
	merge_sort(v, tmp, n, less, arg);
	free(tmp);
	return 0;
}

/* facette/natsort: chunks of digits and non-digits; digit chunks that fit an int
 * compare as numbers, others as strings. */
struct chunk {
	const char *s;
	size_t n;
	bool digits;
};

static bool next_chunk(const char **p, struct chunk *c)
{
	const char *s = *p;

	if (!*s)
		return false;
	c->s = s;
	c->digits = *s >= '0' && *s <= '9';
	while (*s && (*s >= '0' && *s <= '9') == c->digits)
		s++;
	c->n = (size_t)(s - c->s);
	*p = s;
	return true;
}

static bool chunk_int(const struct chunk *c, long long *v)
{
	char tmp[32];
	char *end;

	if (!c->digits || c->n >= sizeof(tmp))
		return false;
	memcpy(tmp, c->s, c->n);
	tmp[c->n] = 0;
	errno = 0;
	*v = strtoll(tmp, &end, 10);
	return errno == 0 && *end == 0;
}

static int chunk_cmp(const struct chunk *a, const struct chunk *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->s, b->s, n);

	if (c)
		return c;
	return a->n < b->n ? -1 : a->n > b->n;
}

bool pq_natsort_less(const char *a, const char *b)
{
	struct chunk ca, cb;
	const char *pa = a, *pb = b;

	while (next_chunk(&pa, &ca)) {
		long long ia, ib;
		bool last_a, last_b;

		if (!next_chunk(&pb, &cb))
			return false;
		last_a = !*pa;
		last_b = !*pb;
		if (chunk_int(&ca, &ia) && chunk_int(&cb, &ib)) {
			if (ia != ib)
				return ia < ib;
		} else if (chunk_cmp(&ca, &cb)) {
			return chunk_cmp(&ca, &cb) < 0;
		}
		if (last_a)
			return true;
		if (last_b)
			return false;
	}
	return false;
}

/* --- formatting --------------------------------------------------------------------------- */

void pq_fmt_g(double v, char *out, size_t cap)
{
	struct buf b = { 0 };

	if (isinf(v) && v > 0) {
		snprintf(out, cap, "+Inf");
		return;
	}
	promql_format_float_v(v, &b);
	snprintf(out, cap, "%s", b.oom || !b.data ? "?" : b.data);
	buf_free(&b);
}
