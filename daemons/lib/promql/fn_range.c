/*
 * Functions of range vectors, one call per series and step on the samples of the
 * window (upstream's funcRate, funcIrate, aggrOverTime users, ...). Each returns
 * 1 with a value, 0 for "no sample at this step", -1 on error.
 *
 * rate/increase/delta extrapolate as upstream: to the range boundary when the
 * first/last sample is within 110% of the average sample spacing from it,
 * otherwise by half a spacing; a counter is never extrapolated below zero. With
 * anchored or smoothed selectors the window also holds the samples just outside
 * the range and the result is taken between the boundary values instead.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

static double interp(const struct pq_point *a, const struct pq_point *b, int64_t t, bool counter)
{
	double y1 = a->f, y2 = b->f;

	if (counter && y2 < y1)
		y1 = 0;
	return y1 + (y2 - y1) * (double)(t - a->t) / (double)(b->t - a->t);
}

/* sort.Search over [0, n) for the first point with t > bound (or >= with ge). */
static long search(const struct pq_point *p, long n, int64_t bound, bool ge)
{
	long lo = 0, hi = n;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;

		if (ge ? p[mid].t >= bound : p[mid].t > bound)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static bool is_anchored(const struct pq_mcall *c)
{
	return c->sel && c->sel->anchored;
}

static bool is_smoothed(const struct pq_mcall *c)
{
	return c->sel && c->sel->smoothed;
}

static int extended_rate(struct pq_mcall *c, bool counter, bool is_rate, double *out)
{
	const struct pq_point *f = c->p;
	int64_t start = c->ts - (c->range + c->offset), end = c->ts - c->offset;
	bool smoothed = is_smoothed(c);
	long last = (long)c->n - 1, first;
	double left, right, res;

	first = search(f, last, start, false) - 1;
	if (first < 0)
		first = 0;
	if (smoothed)
		last = search(f, last, end, true);
	if (f[last].t <= start || (smoothed && f[first].t > end))
		return 0;
	left = smoothed && f[first].t < start ? interp(&f[first], &f[first + 1], start, counter) :
						 f[first].f;
	right = smoothed && last > 0 && f[last].t > end ?
		interp(&f[last - 1], &f[last], end, counter) : f[last].f;
	res = right - left;
	if (counter) {
		double prev = left, corr = 0;

		if (f[first].t <= start)
			first++;
		if (f[last].t >= end)
			last--;
		for (long i = first; i <= last; i++) {
			if (f[i].f < prev)
				corr += prev;
			prev = f[i].f;
		}
		if (right < prev)
			corr += prev;
		res += corr;
	}
	if (is_rate)
		res /= (double)c->range / 1000.0;
	*out = res;
	return 1;
}

static int extrapolated_rate(struct pq_mcall *c, bool counter, bool is_rate, double *out)
{
	const struct pq_point *f = c->p;
	int64_t start = c->ts - (c->range + c->offset), end = c->ts - c->offset;
	double res, to_start, to_end, sampled, avg, threshold, factor;
	size_t n = c->n;

	if (is_anchored(c) || is_smoothed(c))
		return extended_rate(c, counter, is_rate, out);
	if (n < 2)
		return 0;
	res = f[n - 1].f - f[0].f;
	if (counter && !c->no_decrease)
		for (size_t i = 1; i < n; i++)
			if (f[i].f < f[i - 1].f)
				res += f[i - 1].f;
	to_start = (double)(f[0].t - start) / 1000;
	to_end = (double)(end - f[n - 1].t) / 1000;
	sampled = (double)(f[n - 1].t - f[0].t) / 1000;
	avg = sampled / (double)(n - 1);
	threshold = avg * 1.1;
	if (to_start >= threshold)
		to_start = avg / 2;
	if (counter) {
		double to_zero = to_start;

		if (res > 0 && f[0].f >= 0)
			to_zero = sampled * (f[0].f / res);
		if (to_zero < to_start)
			to_start = to_zero;
	}
	if (to_end >= threshold)
		to_end = avg / 2;
	factor = (sampled + to_start + to_end) / sampled;
	if (is_rate)
		factor /= (double)c->range / 1000.0;
	*out = res * factor;
	return 1;
}

static int fn_rate(struct pq_mcall *c, double *out) { return extrapolated_rate(c, true, true, out); }
static int fn_increase(struct pq_mcall *c, double *out) { return extrapolated_rate(c, true, false, out); }
static int fn_delta(struct pq_mcall *c, double *out) { return extrapolated_rate(c, false, false, out); }

static int instant_value(struct pq_mcall *c, bool is_rate, double *out)
{
	const struct pq_point *a, *b;
	int64_t interval;
	double res;

	if (c->n < 2)
		return 0;
	a = &c->p[c->n - 2];
	b = &c->p[c->n - 1];
	interval = b->t - a->t;
	if (!interval)
		return 0;
	res = b->f;
	if (!is_rate || !(b->f < a->f))
		res = b->f - a->f;
	if (is_rate)
		res /= (double)interval / 1000;
	*out = res;
	return 1;
}

static int fn_irate(struct pq_mcall *c, double *out) { return instant_value(c, true, out); }
static int fn_idelta(struct pq_mcall *c, double *out) { return instant_value(c, false, out); }

static void linear_regression(const struct pq_point *p, size_t n, int64_t at, double *slope,
			      double *intercept)
{
	double cnt = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
	double init = p[0].f, cov, var;
	bool const_y = true;

	for (size_t i = 0; i < n; i++) {
		double x = (double)(p[i].t - at) / 1e3;

		if (const_y && i > 0 && p[i].f != init)
			const_y = false;
		cnt += 1;
		pq_kahan_inc(x, &sx, &cx);
		pq_kahan_inc(p[i].f, &sy, &cy);
		pq_kahan_inc(x * p[i].f, &sxy, &cxy);
		pq_kahan_inc(x * x, &sx2, &cx2);
	}
	if (const_y) {
		if (isinf(init)) {
			*slope = *intercept = NAN;
			return;
		}
		*slope = 0;
		*intercept = init;
		return;
	}
	sx += cx;
	sy += cy;
	sxy += cxy;
	sx2 += cx2;
	cov = sxy - sx * sy / cnt;
	var = sx2 - sx * sx / cnt;
	*slope = cov / var;
	*intercept = sy / cnt - *slope * sx / cnt;
}

static int fn_deriv(struct pq_mcall *c, double *out)
{
	double slope, icpt;

	if (c->n < 2)
		return 0;
	linear_regression(c->p, c->n, c->p[0].t, &slope, &icpt);
	*out = slope;
	return 1;
}

static int fn_predict_linear(struct pq_mcall *c, double *out)
{
	double slope, icpt;

	if (c->n < 2)
		return 0;
	linear_regression(c->p, c->n, c->ts, &slope, &icpt);
	*out = slope * c->sargs[0] + icpt;
	return 1;
}

static int fn_holt_winters(struct pq_mcall *c, double *out)
{
	double sf = c->sargs[0], tf = c->sargs[1], s0 = 0, s1, b;

	if (!(sf > 0 && sf < 1))
		return pq_fail(c->ev->q, PROMQL_ERR_EXECUTION, "invalid smoothing factor. Expected: "
			       "0 < sf < 1, got: %f", sf);
	if (!(tf > 0 && tf < 1))
		return pq_fail(c->ev->q, PROMQL_ERR_EXECUTION, "invalid trend factor. Expected: "
			       "0 < tf < 1, got: %f", tf);
	if (c->n < 2)
		return 0;
	s1 = c->p[0].f;
	b = c->p[1].f - c->p[0].f;
	for (size_t i = 1; i < c->n; i++) {
		double x = sf * c->p[i].f, y;

		if (i - 1 > 0)
			b = tf * (s1 - s0) + (1 - tf) * b;
		y = (1 - sf) * (s1 + b);
		s0 = s1;
		s1 = x + y;
	}
	*out = s1;
	return 1;
}

static int fn_avg_over_time(struct pq_mcall *c, double *out)
{
	double sum = c->p[0].f, cnt = 1, mean = 0, kc = 0;
	bool incremental = false;

	for (size_t i = 1; i < c->n; i++) {
		double f = c->p[i].f, q;

		cnt = (double)(i + 1);
		if (!incremental) {
			double ns = sum, nc = kc;

			pq_kahan_inc(f, &ns, &nc);
			if (!isinf(ns)) {
				sum = ns;
				kc = nc;
				continue;
			}
			incremental = true;
			mean = sum / (cnt - 1);
			kc /= cnt - 1;
		}
		q = (cnt - 1) / cnt;
		mean = q * mean;
		kc = q * kc;
		pq_kahan_inc(f / cnt, &mean, &kc);
	}
	*out = incremental ? mean + kc : sum / cnt + kc / cnt;
	return 1;
}

static int fn_count_over_time(struct pq_mcall *c, double *out)
{
	*out = (double)c->n;
	return 1;
}

static int fn_present_over_time(struct pq_mcall *c, double *out)
{
	(void)c;
	*out = 1;
	return 1;
}

static int fn_first_over_time(struct pq_mcall *c, double *out)
{
	*out = c->p[0].f;
	return 1;
}

static int fn_last_over_time(struct pq_mcall *c, double *out)
{
	*out = c->p[c->n - 1].f;
	return 1;
}

static int fn_ts_first(struct pq_mcall *c, double *out)
{
	*out = (double)c->p[0].t / 1000;
	return 1;
}

static int fn_ts_last(struct pq_mcall *c, double *out)
{
	*out = (double)c->p[c->n - 1].t / 1000;
	return 1;
}

/* compareOverTime: keep the sample for which better(cur, best) holds. */
static int compare_over_time(struct pq_mcall *c, int mode, bool want_ts, double *out)
{
	double best = c->p[0].f;
	int64_t bt = c->p[0].t;

	for (size_t i = 0; i < c->n; i++) {
		double f = c->p[i].f;
		bool take;

		switch (mode) {
		case 0: take = f > best; break;		/* max */
		case 1: take = f < best; break;		/* min */
		case 2: take = f >= best; break;	/* ts of max */
		default: take = f <= best; break;	/* ts of min */
		}
		if (take || isnan(best)) {
			best = f;
			bt = c->p[i].t;
		}
	}
	*out = want_ts ? (double)bt / 1000 : best;
	return 1;
}

static int fn_max_over_time(struct pq_mcall *c, double *out) { return compare_over_time(c, 0, false, out); }
static int fn_min_over_time(struct pq_mcall *c, double *out) { return compare_over_time(c, 1, false, out); }
static int fn_ts_max(struct pq_mcall *c, double *out) { return compare_over_time(c, 2, true, out); }
static int fn_ts_min(struct pq_mcall *c, double *out) { return compare_over_time(c, 3, true, out); }

static int fn_sum_over_time(struct pq_mcall *c, double *out)
{
	double sum = 0, kc = 0;

	for (size_t i = 0; i < c->n; i++)
		pq_kahan_inc(c->p[i].f, &sum, &kc);
	*out = isinf(sum) ? sum : sum + kc;
	return 1;
}

static int quantile_of(struct pq_mcall *c, double q, double *out, bool deviation)
{
	double *v = malloc(c->n * sizeof(*v)), med;

	if (!v)
		return pq_oom(c->ev->q);
	for (size_t i = 0; i < c->n; i++)
		v[i] = c->p[i].f;
	med = pq_quantile(q, v, c->n);
	if (deviation) {
		for (size_t i = 0; i < c->n; i++)
			v[i] = fabs(c->p[i].f - med);
		med = pq_quantile(0.5, v, c->n);
	}
	free(v);
	*out = med;
	return 1;
}

static int fn_quantile_over_time(struct pq_mcall *c, double *out)
{
	double q = c->sargs[0];

	if (isnan(q) || q < 0 || q > 1) {
		char b[64];

		pq_fmt_g(q, b, sizeof(b));
		pq_annof(c->ev->q, PQ_WARN, c->call->args[0]->pos, "PromQL warning: quantile value "
			 "should be between 0 and 1, got %s", b);
	}
	return quantile_of(c, q, out, false);
}

static int fn_mad_over_time(struct pq_mcall *c, double *out)
{
	for (size_t i = 0; i < c->n; i++) {
		if (isnan(c->p[i].f)) {
			*out = NAN;
			return 1;
		}
	}
	return quantile_of(c, 0.5, out, true);
}

static double variance(const struct pq_mcall *c)
{
	double cnt = 0, mean = 0, cmean = 0, aux = 0, caux = 0;

	for (size_t i = 0; i < c->n; i++) {
		double f = c->p[i].f, delta;

		cnt++;
		delta = f - (mean + cmean);
		pq_kahan_inc(delta / cnt, &mean, &cmean);
		pq_kahan_inc(delta * (f - (mean + cmean)), &aux, &caux);
	}
	return (aux + caux) / cnt;
}

static int fn_stdvar_over_time(struct pq_mcall *c, double *out)
{
	*out = variance(c);
	return 1;
}

static int fn_stddev_over_time(struct pq_mcall *c, double *out)
{
	*out = sqrt(variance(c));
	return 1;
}

/* pickFirstSampleIndex: anchored selectors start at the last sample at or before
 * the range start. -1: no sample in the range. */
static long first_index(const struct pq_mcall *c)
{
	int64_t start;
	long i;

	if (!is_anchored(c))
		return 0;
	start = c->ts - (c->range + c->offset);
	if (!c->n || c->p[c->n - 1].t <= start)
		return -1;
	i = search(c->p, (long)c->n - 1, start, false) - 1;
	return i < 0 ? 0 : i;
}

static int changes_resets(struct pq_mcall *c, bool resets, double *out)
{
	long first = first_index(c);
	double count = 0;

	if (first < 0)
		return 0;
	for (size_t i = (size_t)first + 1; i < c->n; i++) {
		double prev = c->p[i - 1].f, cur = c->p[i].f;

		if (resets ? cur < prev : (cur != prev && !(isnan(cur) && isnan(prev))))
			count++;
	}
	*out = count;
	return 1;
}

static int fn_changes(struct pq_mcall *c, double *out) { return changes_resets(c, false, out); }
static int fn_resets(struct pq_mcall *c, double *out) { return changes_resets(c, true, out); }

pq_mfn pq_range_function(enum promql_func_id id)
{
	switch (id) {
	case PROMQL_FN_RATE: return fn_rate;
	case PROMQL_FN_INCREASE: return fn_increase;
	case PROMQL_FN_DELTA: return fn_delta;
	case PROMQL_FN_IRATE: return fn_irate;
	case PROMQL_FN_IDELTA: return fn_idelta;
	case PROMQL_FN_DERIV: return fn_deriv;
	case PROMQL_FN_PREDICT_LINEAR: return fn_predict_linear;
	case PROMQL_FN_DOUBLE_EXPONENTIAL_SMOOTHING: return fn_holt_winters;
	case PROMQL_FN_AVG_OVER_TIME: return fn_avg_over_time;
	case PROMQL_FN_COUNT_OVER_TIME: return fn_count_over_time;
	case PROMQL_FN_PRESENT_OVER_TIME: return fn_present_over_time;
	case PROMQL_FN_ABSENT_OVER_TIME: return fn_present_over_time;
	case PROMQL_FN_FIRST_OVER_TIME: return fn_first_over_time;
	case PROMQL_FN_LAST_OVER_TIME: return fn_last_over_time;
	case PROMQL_FN_TS_OF_FIRST_OVER_TIME: return fn_ts_first;
	case PROMQL_FN_TS_OF_LAST_OVER_TIME: return fn_ts_last;
	case PROMQL_FN_MAX_OVER_TIME: return fn_max_over_time;
	case PROMQL_FN_MIN_OVER_TIME: return fn_min_over_time;
	case PROMQL_FN_TS_OF_MAX_OVER_TIME: return fn_ts_max;
	case PROMQL_FN_TS_OF_MIN_OVER_TIME: return fn_ts_min;
	case PROMQL_FN_SUM_OVER_TIME: return fn_sum_over_time;
	case PROMQL_FN_QUANTILE_OVER_TIME: return fn_quantile_over_time;
	case PROMQL_FN_MAD_OVER_TIME: return fn_mad_over_time;
	case PROMQL_FN_STDVAR_OVER_TIME: return fn_stdvar_over_time;
	case PROMQL_FN_STDDEV_OVER_TIME: return fn_stddev_over_time;
	case PROMQL_FN_CHANGES: return fn_changes;
	case PROMQL_FN_RESETS: return fn_resets;
	default: return NULL;
	}
}
