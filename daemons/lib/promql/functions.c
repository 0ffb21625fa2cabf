/*
 * The function table: upstream's promql/parser/functions.go (argument types,
 * variadic counts, result types, experimental flags), plus the functions newer
 * than that file that the conformance scripts use (min_of, max_of,
 * start_timestamp). Indexed by enum promql_func_id so the evaluator can switch on
 * fn->id; lookups by name use a binary search over the name-sorted ids.
 */
#include <string.h>

#include "promql/internal.h"

#define S PROMQL_TYPE_SCALAR
#define V PROMQL_TYPE_VECTOR
#define M PROMQL_TYPE_MATRIX
#define T PROMQL_TYPE_STRING

#define FN(ID, NAME, RET, VAR, EXP, ...)                                                    \
	[PROMQL_FN_##ID] = { .id = PROMQL_FN_##ID, .name = NAME, .ret = RET, .variadic = VAR, \
			     .experimental = EXP, .args = { __VA_ARGS__ },                      \
			     .nargs = sizeof((enum promql_type[]){ __VA_ARGS__ }) /              \
				      sizeof(enum promql_type) }
#define FN0(ID, NAME, RET, EXP)                                                             \
	[PROMQL_FN_##ID] = { .id = PROMQL_FN_##ID, .name = NAME, .ret = RET, .experimental = EXP }

static const struct promql_function functions[PROMQL_FN_COUNT] = {
	FN(ABS, "abs", V, 0, false, V),
	FN(ABSENT, "absent", V, 0, false, V),
	FN(ABSENT_OVER_TIME, "absent_over_time", V, 0, false, M),
	FN(ACOS, "acos", V, 0, false, V),
	FN(ACOSH, "acosh", V, 0, false, V),
	FN(ASIN, "asin", V, 0, false, V),
	FN(ASINH, "asinh", V, 0, false, V),
	FN(ATAN, "atan", V, 0, false, V),
	FN(ATANH, "atanh", V, 0, false, V),
	FN(AVG_OVER_TIME, "avg_over_time", V, 0, false, M),
	FN(CEIL, "ceil", V, 0, false, V),
	FN(CHANGES, "changes", V, 0, false, M),
	FN(CLAMP, "clamp", V, 0, false, V, S, S),
	FN(CLAMP_MAX, "clamp_max", V, 0, false, V, S),
	FN(CLAMP_MIN, "clamp_min", V, 0, false, V, S),
	FN(COS, "cos", V, 0, false, V),
	FN(COSH, "cosh", V, 0, false, V),
	FN(COUNT_OVER_TIME, "count_over_time", V, 0, false, M),
	FN(DAYS_IN_MONTH, "days_in_month", V, 1, false, V),
	FN(DAY_OF_MONTH, "day_of_month", V, 1, false, V),
	FN(DAY_OF_WEEK, "day_of_week", V, 1, false, V),
	FN(DAY_OF_YEAR, "day_of_year", V, 1, false, V),
	FN(DEG, "deg", V, 0, false, V),
	FN(DELTA, "delta", V, 0, false, M),
	FN(DERIV, "deriv", V, 0, false, M),
	FN(DOUBLE_EXPONENTIAL_SMOOTHING, "double_exponential_smoothing", V, 0, true, M, S, S),
	FN0(END, "end", S, true),
	FN(EXP, "exp", V, 0, false, V),
	FN(FIRST_OVER_TIME, "first_over_time", V, 0, true, M),
	FN(FLOOR, "floor", V, 0, false, V),
	FN(HISTOGRAM_AVG, "histogram_avg", V, 0, false, V),
	FN(HISTOGRAM_COUNT, "histogram_count", V, 0, false, V),
	FN(HISTOGRAM_FRACTION, "histogram_fraction", V, 0, false, S, S, V),
	FN(HISTOGRAM_QUANTILE, "histogram_quantile", V, 0, false, S, V),
	FN(HISTOGRAM_QUANTILES, "histogram_quantiles", V, 9, true, V, T, S, S),
	FN(HISTOGRAM_STDDEV, "histogram_stddev", V, 0, false, V),
	FN(HISTOGRAM_STDVAR, "histogram_stdvar", V, 0, false, V),
	FN(HISTOGRAM_SUM, "histogram_sum", V, 0, false, V),
	FN(HOUR, "hour", V, 1, false, V),
	FN(IDELTA, "idelta", V, 0, false, M),
	FN(INCREASE, "increase", V, 0, false, M),
	FN(INFO, "info", V, 1, true, V, V),
	FN(INTEGRAL, "integral", V, 1, true, M, S),
	FN(IRATE, "irate", V, 0, false, M),
	FN(LABEL_JOIN, "label_join", V, -1, false, V, T, T, T),
	FN(LABEL_REPLACE, "label_replace", V, 0, false, V, T, T, T, T),
	FN(LAST_OVER_TIME, "last_over_time", V, 0, false, M),
	FN(LN, "ln", V, 0, false, V),
	FN(LOG10, "log10", V, 0, false, V),
	FN(LOG2, "log2", V, 0, false, V),
	FN(MAD_OVER_TIME, "mad_over_time", V, 0, true, M),
	FN(MAX_OF, "max_of", S, 0, true, S, S),
	FN(MAX_OVER_TIME, "max_over_time", V, 0, false, M),
	FN(MIN_OF, "min_of", S, 0, true, S, S),
	FN(MIN_OVER_TIME, "min_over_time", V, 0, false, M),
	FN(MINUTE, "minute", V, 1, false, V),
	FN(MONTH, "month", V, 1, false, V),
	FN0(PI, "pi", S, false),
	FN(PREDICT_LINEAR, "predict_linear", V, 0, false, M, S),
	FN(PRESENT_OVER_TIME, "present_over_time", V, 0, false, M),
	FN(QUANTILE_OVER_TIME, "quantile_over_time", V, 0, false, S, M),
	FN(RAD, "rad", V, 0, false, V),
	FN0(RANGE, "range", S, true),
	FN(RATE, "rate", V, 0, false, M),
	FN(RESETS, "resets", V, 0, false, M),
	FN(ROUND, "round", V, 1, false, V, S),
	FN(SCALAR, "scalar", S, 0, false, V),
	FN(SGN, "sgn", V, 0, false, V),
	FN(SIN, "sin", V, 0, false, V),
	FN(SINH, "sinh", V, 0, false, V),
	FN(SORT, "sort", V, 0, false, V),
	FN(SORT_BY_LABEL, "sort_by_label", V, -1, true, V, T),
	FN(SORT_BY_LABEL_DESC, "sort_by_label_desc", V, -1, true, V, T),
	FN(SORT_DESC, "sort_desc", V, 0, false, V),
	FN(SQRT, "sqrt", V, 0, false, V),
	FN0(START, "start", S, true),
	FN(START_TIMESTAMP, "start_timestamp", V, 0, true, V),
	FN(STDDEV_OVER_TIME, "stddev_over_time", V, 0, false, M),
	FN(STDVAR_OVER_TIME, "stdvar_over_time", V, 0, false, M),
	FN0(STEP, "step", S, true),
	FN(SUM_OVER_TIME, "sum_over_time", V, 0, false, M),
	FN(TAN, "tan", V, 0, false, V),
	FN(TANH, "tanh", V, 0, false, V),
	FN0(TIME, "time", S, false),
	FN(TIMESTAMP, "timestamp", V, 0, false, V),
	FN(TS_OF_FIRST_OVER_TIME, "ts_of_first_over_time", V, 0, true, M),
	FN(TS_OF_LAST_OVER_TIME, "ts_of_last_over_time", V, 0, true, M),
	FN(TS_OF_MAX_OVER_TIME, "ts_of_max_over_time", V, 0, true, M),
	FN(TS_OF_MIN_OVER_TIME, "ts_of_min_over_time", V, 0, true, M),
	FN(VECTOR, "vector", V, 0, false, S),
	FN(YEAR, "year", V, 1, false, V),
};

const struct promql_function *promql_function_get(enum promql_func_id id)
{
	return (unsigned)id < PROMQL_FN_COUNT ? &functions[id] : NULL;
}

/* The enum is in byte order of the names (checked by the unit tests), so the
 * table itself is the sorted index. */
const struct promql_function *promql_function_lookup(const char *name, size_t len)
{
	size_t lo = 0, hi = PROMQL_FN_COUNT;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *fn = functions[mid].name;
		size_t fl = strlen(fn);
		int c = memcmp(name, fn, len < fl ? len : fl);

		if (c == 0)
			c = len < fl ? -1 : len > fl ? 1 : 0;
		if (c == 0)
			return &functions[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
