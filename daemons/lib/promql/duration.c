/*
 * Evaluation of duration expressions (`[5m + step()]`, `offset -min_of(step(),
 * 1s)`), which upstream resolves when a query is prepared: step() and range() are
 * the query's step and end - start, arithmetic is float64 in seconds, and the
 * result becomes a time.Duration by rounding to nanoseconds.
 */
#include <math.h>
#include <stdio.h>

#include "promql/internal.h"

static int dur_binop(const struct promql_node *e, double l, double r, double *out, char *err,
		     size_t errlen)
{
	switch (e->duration.op) {
	case PROMQL_DUR_ADD: *out = l + r; return 0;
	case PROMQL_DUR_SUB: *out = l - r; return 0;
	case PROMQL_DUR_MUL: *out = l * r; return 0;
	case PROMQL_DUR_POW: *out = pow(l, r); return 0;
	case PROMQL_DUR_MIN_OF:
	case PROMQL_DUR_MAX_OF:
		/* math.Min/Max: NaN wins. */
		if (isnan(l) || isnan(r))
			*out = NAN;
		else
			*out = e->duration.op == PROMQL_DUR_MIN_OF ? fmin(l, r) : fmax(l, r);
		return 0;
	case PROMQL_DUR_DIV:
	case PROMQL_DUR_MOD:
		if (r == 0) {
			snprintf(err, errlen, "%s", e->duration.op == PROMQL_DUR_DIV ?
				 "division by zero" : "modulo by zero");
			return -1;
		}
		*out = e->duration.op == PROMQL_DUR_DIV ? l / r : fmod(l, r);
		return 0;
	default:
		snprintf(err, errlen, "invalid duration expression");
		return -1;
	}
}

int promql_duration_eval(const struct promql_node *e, int64_t step_ms, int64_t range_ms,
			 double *seconds, char *err, size_t errlen)
{
	double l = 0, r = 0;

	if (e->kind == PROMQL_NUMBER) {
		*seconds = e->number.val;
		return 0;
	}
	if (e->kind != PROMQL_DURATION) {
		snprintf(err, errlen, "invalid duration expression");
		return -1;
	}
	switch (e->duration.op) {
	case PROMQL_DUR_STEP:
		*seconds = (double)step_ms / 1000.0;
		return 0;
	case PROMQL_DUR_RANGE:
		*seconds = (double)range_ms / 1000.0;
		return 0;
	default:
		break;
	}
	if (e->duration.lhs &&
	    promql_duration_eval(e->duration.lhs, step_ms, range_ms, &l, err, errlen))
		return -1;
	if (promql_duration_eval(e->duration.rhs, step_ms, range_ms, &r, err, errlen))
		return -1;
	if (!e->duration.lhs) {
		*seconds = e->duration.op == PROMQL_DUR_SUB ? -r : r;
		return 0;
	}
	return dur_binop(e, l, r, seconds, err, errlen);
}

int promql_seconds_to_ms(double seconds, int64_t *ms, char *err, size_t errlen)
{
	double ns = round(seconds * 1e9);

	if (!(ns > -9223372036854775808.0 && ns < 9223372036854775808.0)) {
		snprintf(err, errlen, "duration out of range");
		return -1;
	}
	*ms = (int64_t)ns / 1000000;
	return 0;
}
