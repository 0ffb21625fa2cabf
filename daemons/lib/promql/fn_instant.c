/*
 * Functions of instant vectors and scalars, called once per step with the
 * arguments gathered at that step (upstream's simpleFloatFunc users, clamp,
 * round, scalar, vector, time and date functions, absent, sort*). Results that
 * change a sample's meaning drop its metric name (delayed, or at once without
 * delayed name removal).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promql/eval_internal.h"

const struct pq_lset *pq_absent_labels(struct pq_query *q, const struct pq_node *arg);

static double sgn(double v)
{
	return v < 0 ? -1 : v > 0 ? 1 : v;
}

static double rad(double v) { return v * M_PI / 180; }
static double deg(double v) { return v * 180 / M_PI; }

typedef double (*unary_fn)(double);

static unary_fn unary(enum promql_func_id id)
{
	switch (id) {
	case PROMQL_FN_ABS: return fabs;
	case PROMQL_FN_CEIL: return ceil;
	case PROMQL_FN_FLOOR: return floor;
	case PROMQL_FN_EXP: return exp;
	case PROMQL_FN_SQRT: return sqrt;
	case PROMQL_FN_LN: return log;
	case PROMQL_FN_LOG2: return log2;
	case PROMQL_FN_LOG10: return log10;
	case PROMQL_FN_SIN: return sin;
	case PROMQL_FN_COS: return cos;
	case PROMQL_FN_TAN: return tan;
	case PROMQL_FN_ASIN: return asin;
	case PROMQL_FN_ACOS: return acos;
	case PROMQL_FN_ATAN: return atan;
	case PROMQL_FN_SINH: return sinh;
	case PROMQL_FN_COSH: return cosh;
	case PROMQL_FN_TANH: return tanh;
	case PROMQL_FN_ASINH: return asinh;
	case PROMQL_FN_ACOSH: return acosh;
	case PROMQL_FN_ATANH: return atanh;
	case PROMQL_FN_RAD: return rad;
	case PROMQL_FN_DEG: return deg;
	case PROMQL_FN_SGN: return sgn;
	default: return NULL;
	}
}

/* Push a copy of s with a new value, its name dropped. */
static int push_dropped(struct pq_step *st, const struct pq_sample *s, double f)
{
	struct pq_query *q = st->ev->q;
	struct pq_sample o = *s;

	o.f = f;
	o.drop_name = true;
	if (!q->delayed && !(o.ls = pq_lset_strip(q, s->ls)))
		return -1;
	return pq_vector_push(q, st->out, &o);
}

static int push_scalar(struct pq_step *st, double f)
{
	struct pq_sample o = { .ls = st->ev->q->empty, .f = f, .t = st->ts };

	return pq_vector_push(st->ev->q, st->out, &o);
}

static double arg_scalar(const struct pq_step *st, size_t i)
{
	return i < st->nin && st->in[i].n ? st->in[i].v[0].f : NAN;
}

static int clamp(struct pq_step *st, double lo, double hi)
{
	if (hi < lo)
		return 0;
	for (size_t i = 0; i < st->in[0].n; i++) {
		double f = pq_go_max(lo, pq_go_min(hi, st->in[0].v[i].f));

		if (push_dropped(st, &st->in[0].v[i], f))
			return -1;
	}
	return 0;
}

static int round_fn(struct pq_step *st)
{
	double to = st->nin > 1 ? arg_scalar(st, 1) : 1, inv = 1.0 / to;

	for (size_t i = 0; i < st->in[0].n; i++) {
		double f = floor(st->in[0].v[i].f * inv + 0.5) / inv;

		if (push_dropped(st, &st->in[0].v[i], f))
			return -1;
	}
	return 0;
}

static int scalar_fn(struct pq_step *st)
{
	return push_scalar(st, st->in[0].n == 1 ? st->in[0].v[0].f : NAN);
}

/* Date parts of a unix time (seconds), in UTC, as Go's time package gives them. */
static double date_part(enum promql_func_id id, int64_t secs)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	time_t t = (time_t)secs;
	struct tm tm;
	int y;

	if (!gmtime_r(&t, &tm))
		return NAN;
	y = tm.tm_year + 1900;
	switch (id) {
	case PROMQL_FN_DAYS_IN_MONTH:
		if (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
			return 29;
		return mdays[tm.tm_mon];
	case PROMQL_FN_DAY_OF_MONTH: return tm.tm_mday;
	case PROMQL_FN_DAY_OF_WEEK: return tm.tm_wday;
	case PROMQL_FN_DAY_OF_YEAR: return tm.tm_yday + 1;
	case PROMQL_FN_HOUR: return tm.tm_hour;
	case PROMQL_FN_MINUTE: return tm.tm_min;
	case PROMQL_FN_MONTH: return tm.tm_mon + 1;
	default: return y;
	}
}

/* Go's int64(f) on amd64: out of range and NaN give the minimum int64. */
static int64_t go_int64(double f)
{
	if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)f;
}

static int date_fn(struct pq_step *st, enum promql_func_id id)
{
	if (!st->nin)
		return push_scalar(st, date_part(id, st->ts / 1000));
	for (size_t i = 0; i < st->in[0].n; i++)
		if (push_dropped(st, &st->in[0].v[i], date_part(id, go_int64(st->in[0].v[i].f))))
			return -1;
	return 0;
}

static bool sort_asc_less(const struct pq_sample *a, const struct pq_sample *b, void *arg)
{
	(void)arg;
	if (isnan(b->f))
		return true;
	return b->f > a->f;
}

static bool sort_desc_less(const struct pq_sample *a, const struct pq_sample *b, void *arg)
{
	(void)arg;
	if (isnan(b->f))
		return true;
	return b->f < a->f;
}

struct label_sort {
	const struct pq_node *call;
	bool desc;
};

static int label_cmp(const struct pq_sample *a, const struct pq_sample *b, const struct pq_node *n)
{
	for (size_t i = 1; i < n->nargs; i++) {
		const char *name = n->args[i]->str.s;
		const char *x = pq_lset_get(a->ls, name), *y = pq_lset_get(b->ls, name);

		if (!strcmp(x, y))
			continue;
		return pq_natsort_less(x, y) ? -1 : 1;
	}
	return labels_compare(&a->ls->ls, &b->ls->ls);
}

static bool sort_label_less(const struct pq_sample *a, const struct pq_sample *b, void *arg)
{
	const struct label_sort *ls = arg;
	int c = label_cmp(a, b, ls->call);

	return ls->desc ? c > 0 : c < 0;
}

static int sort_fn(struct pq_step *st, enum promql_func_id id)
{
	const struct pq_node *n = st->ctx;
	struct label_sort ls = { n, id == PROMQL_FN_SORT_BY_LABEL_DESC };
	pq_less_fn less;
	void *arg = NULL;

	if (id == PROMQL_FN_SORT) {
		less = sort_asc_less;
	} else if (id == PROMQL_FN_SORT_DESC) {
		less = sort_desc_less;
	} else {
		less = sort_label_less;
		arg = &ls;
	}
	for (size_t i = 0; i < st->in[0].n; i++)
		if (pq_vector_push(st->ev->q, st->out, &st->in[0].v[i]))
			return -1;
	if (pq_sort_samples(st->out->v, st->out->n, less, arg))
		return pq_oom(st->ev->q);
	return 0;
}

static int absent_fn(struct pq_step *st)
{
	const struct pq_node *n = st->ctx;
	const struct pq_lset *ls;
	struct pq_sample o = { .f = 1, .t = st->ts };

	if (st->in[0].n)
		return 0;
	ls = pq_absent_labels(st->ev->q, n->args[0]);
	if (!ls)
		return -1;
	o.ls = ls;
	return pq_vector_push(st->ev->q, st->out, &o);
}

int pq_instant_function(struct pq_step *st)
{
	const struct pq_node *n = st->ctx;
	struct pq_query *q = st->ev->q;
	enum promql_func_id id = n->fn->id;
	unary_fn uf = unary(id);

	if (uf) {
		for (size_t i = 0; i < st->in[0].n; i++)
			if (push_dropped(st, &st->in[0].v[i], uf(st->in[0].v[i].f)))
				return -1;
		return 0;
	}
	switch (id) {
	case PROMQL_FN_CLAMP:
		return clamp(st, arg_scalar(st, 1), arg_scalar(st, 2));
	case PROMQL_FN_CLAMP_MAX:
		return clamp(st, -INFINITY, arg_scalar(st, 1));
	case PROMQL_FN_CLAMP_MIN:
		return clamp(st, arg_scalar(st, 1), INFINITY);
	case PROMQL_FN_ROUND:
		return round_fn(st);
	case PROMQL_FN_SCALAR:
		return scalar_fn(st);
	case PROMQL_FN_VECTOR:
		return push_scalar(st, arg_scalar(st, 0));
	case PROMQL_FN_TIME:
		return push_scalar(st, (double)st->ts / 1000);
	case PROMQL_FN_PI:
		return push_scalar(st, M_PI);
	case PROMQL_FN_START:
		return push_scalar(st, (double)q->start / 1000);
	case PROMQL_FN_END:
		return push_scalar(st, (double)q->end / 1000);
	case PROMQL_FN_STEP:
		return push_scalar(st, (double)q->interval / 1000);
	case PROMQL_FN_RANGE:
		return push_scalar(st, (double)(q->end - q->start) / 1000);
	case PROMQL_FN_MIN_OF:
		return push_scalar(st, pq_go_min(arg_scalar(st, 0), arg_scalar(st, 1)));
	case PROMQL_FN_MAX_OF:
		return push_scalar(st, pq_go_max(arg_scalar(st, 0), arg_scalar(st, 1)));
	case PROMQL_FN_TIMESTAMP:
		for (size_t i = 0; i < st->in[0].n; i++)
			if (push_dropped(st, &st->in[0].v[i], (double)st->in[0].v[i].t / 1000))
				return -1;
		return 0;
	case PROMQL_FN_DAYS_IN_MONTH: case PROMQL_FN_DAY_OF_MONTH: case PROMQL_FN_DAY_OF_WEEK:
	case PROMQL_FN_DAY_OF_YEAR: case PROMQL_FN_HOUR: case PROMQL_FN_MINUTE:
	case PROMQL_FN_MONTH: case PROMQL_FN_YEAR:
		return date_fn(st, id);
	case PROMQL_FN_ABSENT:
		return absent_fn(st);
	case PROMQL_FN_SORT: case PROMQL_FN_SORT_DESC:
	case PROMQL_FN_SORT_BY_LABEL: case PROMQL_FN_SORT_BY_LABEL_DESC:
		return sort_fn(st, id);
	case PROMQL_FN_HISTOGRAM_QUANTILE:
	case PROMQL_FN_HISTOGRAM_FRACTION:
	case PROMQL_FN_HISTOGRAM_QUANTILES:
		return pq_histogram_step(st);
	case PROMQL_FN_HISTOGRAM_AVG: case PROMQL_FN_HISTOGRAM_COUNT:
	case PROMQL_FN_HISTOGRAM_SUM: case PROMQL_FN_HISTOGRAM_STDDEV:
	case PROMQL_FN_HISTOGRAM_STDVAR:
		/* these read native histograms only; float samples give nothing */
		return 0;
	default:
		return pq_fail(q, PROMQL_ERR_EXECUTION, "function %s is not supported", n->fn->name);
	}
}
