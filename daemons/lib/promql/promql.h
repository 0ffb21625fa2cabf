/*
 * promql: the PromQL front end shared by lgtm-metrics and lgtm-longterm: lexer,
 * parser, type checker and printer for the Prometheus 3 query language, including
 * the experimental syntax upstream gates behind feature flags (duration
 * expressions, anchored/smoothed range selectors, fill modifiers, experimental
 * functions and aggregators) and the native-histogram trim operators `</` `>/`.
 *
 * Contract:
 * - promql_parse() turns a NUL-terminated query into a typed AST allocated in the
 *   caller's arena (nothing else is allocated that outlives the call; free the arena
 *   to free the tree). The tree is read-only afterwards and may be shared between
 *   threads. Queries longer than PROMQL_MAX_QUERY_LEN or nested deeper than
 *   PROMQL_MAX_DEPTH are refused with a parse error, so every recursive walk of a
 *   tree (checker, printer, evaluator) has a bounded depth.
 * - The checks are upstream's (promql/parser): syntax, then types; the first
 *   error is reported in upstream's form `<line>:<col>: parse error: <message>`,
 *   with upstream's wording, so API clients see what Prometheus would say.
 * - The AST is made for evaluation: functions are resolved to a table entry with
 *   an id, every node's type is known (promql_node_type()), matchers are kept as
 *   name/type/value strings (the storage compiles them), and times are integer
 *   milliseconds. Where a duration is an expression (`[5m+step()]`, `offset
 *   (1h/2)`) the literal field is 0 and the *_expr field holds a PROMQL_DURATION
 *   tree that the evaluator resolves with promql_duration_eval().
 * - Printing: promql_format() is upstream's String() (canonical one-line text),
 *   promql_format_pretty() its Pretty(0) (what /api/v1/format_query returns).
 * - Strings (string literals, matcher values, label names) carry an explicit
 *   length because escapes can put NUL and non-UTF-8 bytes in them; they are also
 *   NUL-terminated for convenience.
 * - Everything here is reentrant; the function table is static and immutable.
 * - The engine (promql_engine_*) evaluates instant and range queries with
 *   Prometheus 3 semantics over any tsdb querier: staleness and the lookback
 *   delta, left-open ranges (t-range, t], offset and @, subqueries, vector
 *   matching, every aggregation and function on float samples, and upstream's
 *   annotations. Native histograms are not stored, so a query never sees one.
 *   Limits (samples in memory, timeout, concurrent queries) fail the one query
 *   that exceeds them with upstream's error text. An engine is safe for any number
 *   of threads; one query runs on the calling thread.
 *
 * Errors: functions return 0 or -1 with `err` filled (and *perr, when given).
 */
#ifndef LGTM_PROMQL_H
#define LGTM_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "labels/labels.h"

/* Longest query accepted (bytes) and deepest AST built; deeper queries fail with a
 * parse error instead of exhausting the stack of every recursive walker. */
#define PROMQL_MAX_QUERY_LEN (16u << 20)
#define PROMQL_MAX_DEPTH 1000

enum promql_type {
	PROMQL_TYPE_NONE,
	PROMQL_TYPE_SCALAR,
	PROMQL_TYPE_VECTOR,	/* instant vector */
	PROMQL_TYPE_MATRIX,	/* range vector */
	PROMQL_TYPE_STRING,
};

enum promql_kind {
	PROMQL_NUMBER,
	PROMQL_STRING,
	PROMQL_VECTOR_SELECTOR,
	PROMQL_MATRIX_SELECTOR,
	PROMQL_SUBQUERY,
	PROMQL_CALL,
	PROMQL_AGGREGATE,
	PROMQL_BINARY,
	PROMQL_UNARY,
	PROMQL_PAREN,
	PROMQL_DURATION,	/* only inside ranges, steps and offsets */
};

enum promql_binop {
	PROMQL_OP_ADD,
	PROMQL_OP_SUB,
	PROMQL_OP_MUL,
	PROMQL_OP_DIV,
	PROMQL_OP_MOD,
	PROMQL_OP_POW,
	PROMQL_OP_ATAN2,
	PROMQL_OP_EQL,		/* == */
	PROMQL_OP_NEQ,
	PROMQL_OP_GTR,
	PROMQL_OP_LSS,
	PROMQL_OP_GTE,
	PROMQL_OP_LTE,
	PROMQL_OP_TRIM_UPPER,	/* </ */
	PROMQL_OP_TRIM_LOWER,	/* >/ */
	PROMQL_OP_AND,
	PROMQL_OP_OR,
	PROMQL_OP_UNLESS,
};

enum promql_aggop {
	PROMQL_AGG_SUM,
	PROMQL_AGG_AVG,
	PROMQL_AGG_COUNT,
	PROMQL_AGG_MIN,
	PROMQL_AGG_MAX,
	PROMQL_AGG_GROUP,
	PROMQL_AGG_STDDEV,
	PROMQL_AGG_STDVAR,
	PROMQL_AGG_TOPK,
	PROMQL_AGG_BOTTOMK,
	PROMQL_AGG_COUNT_VALUES,
	PROMQL_AGG_QUANTILE,
	PROMQL_AGG_LIMITK,
	PROMQL_AGG_LIMIT_RATIO,
};

enum promql_match { PROMQL_MATCH_EQ, PROMQL_MATCH_NEQ, PROMQL_MATCH_RE, PROMQL_MATCH_NRE };

enum promql_card {
	PROMQL_CARD_ONE_TO_ONE,
	PROMQL_CARD_MANY_TO_ONE,	/* group_left */
	PROMQL_CARD_ONE_TO_MANY,	/* group_right */
	PROMQL_CARD_MANY_TO_MANY,	/* set operators */
};

enum promql_at { PROMQL_AT_NONE, PROMQL_AT_TIMESTAMP, PROMQL_AT_START, PROMQL_AT_END };

/* Duration expression operators; SUB/ADD with lhs == NULL are unary. */
enum promql_durop {
	PROMQL_DUR_ADD,
	PROMQL_DUR_SUB,
	PROMQL_DUR_MUL,
	PROMQL_DUR_DIV,
	PROMQL_DUR_MOD,
	PROMQL_DUR_POW,
	PROMQL_DUR_STEP,	/* step() */
	PROMQL_DUR_RANGE,	/* range() */
	PROMQL_DUR_MIN_OF,
	PROMQL_DUR_MAX_OF,
};

/* In byte order of the function names (the lookup relies on it). */
enum promql_func_id {
	PROMQL_FN_ABS,
	PROMQL_FN_ABSENT,
	PROMQL_FN_ABSENT_OVER_TIME,
	PROMQL_FN_ACOS,
	PROMQL_FN_ACOSH,
	PROMQL_FN_ASIN,
	PROMQL_FN_ASINH,
	PROMQL_FN_ATAN,
	PROMQL_FN_ATANH,
	PROMQL_FN_AVG_OVER_TIME,
	PROMQL_FN_CEIL,
	PROMQL_FN_CHANGES,
	PROMQL_FN_CLAMP,
	PROMQL_FN_CLAMP_MAX,
	PROMQL_FN_CLAMP_MIN,
	PROMQL_FN_COS,
	PROMQL_FN_COSH,
	PROMQL_FN_COUNT_OVER_TIME,
	PROMQL_FN_DAY_OF_MONTH,
	PROMQL_FN_DAY_OF_WEEK,
	PROMQL_FN_DAY_OF_YEAR,
	PROMQL_FN_DAYS_IN_MONTH,
	PROMQL_FN_DEG,
	PROMQL_FN_DELTA,
	PROMQL_FN_DERIV,
	PROMQL_FN_DOUBLE_EXPONENTIAL_SMOOTHING,
	PROMQL_FN_END,
	PROMQL_FN_EXP,
	PROMQL_FN_FIRST_OVER_TIME,
	PROMQL_FN_FLOOR,
	PROMQL_FN_HISTOGRAM_AVG,
	PROMQL_FN_HISTOGRAM_COUNT,
	PROMQL_FN_HISTOGRAM_FRACTION,
	PROMQL_FN_HISTOGRAM_QUANTILE,
	PROMQL_FN_HISTOGRAM_QUANTILES,
	PROMQL_FN_HISTOGRAM_STDDEV,
	PROMQL_FN_HISTOGRAM_STDVAR,
	PROMQL_FN_HISTOGRAM_SUM,
	PROMQL_FN_HOUR,
	PROMQL_FN_IDELTA,
	PROMQL_FN_INCREASE,
	PROMQL_FN_INFO,
	PROMQL_FN_INTEGRAL,
	PROMQL_FN_IRATE,
	PROMQL_FN_LABEL_JOIN,
	PROMQL_FN_LABEL_REPLACE,
	PROMQL_FN_LAST_OVER_TIME,
	PROMQL_FN_LN,
	PROMQL_FN_LOG10,
	PROMQL_FN_LOG2,
	PROMQL_FN_MAD_OVER_TIME,
	PROMQL_FN_MAX_OF,
	PROMQL_FN_MAX_OVER_TIME,
	PROMQL_FN_MIN_OF,
	PROMQL_FN_MIN_OVER_TIME,
	PROMQL_FN_MINUTE,
	PROMQL_FN_MONTH,
	PROMQL_FN_PI,
	PROMQL_FN_PREDICT_LINEAR,
	PROMQL_FN_PRESENT_OVER_TIME,
	PROMQL_FN_QUANTILE_OVER_TIME,
	PROMQL_FN_RAD,
	PROMQL_FN_RANGE,
	PROMQL_FN_RATE,
	PROMQL_FN_RESETS,
	PROMQL_FN_ROUND,
	PROMQL_FN_SCALAR,
	PROMQL_FN_SGN,
	PROMQL_FN_SIN,
	PROMQL_FN_SINH,
	PROMQL_FN_SORT,
	PROMQL_FN_SORT_BY_LABEL,
	PROMQL_FN_SORT_BY_LABEL_DESC,
	PROMQL_FN_SORT_DESC,
	PROMQL_FN_SQRT,
	PROMQL_FN_START,
	PROMQL_FN_START_TIMESTAMP,
	PROMQL_FN_STDDEV_OVER_TIME,
	PROMQL_FN_STDVAR_OVER_TIME,
	PROMQL_FN_STEP,
	PROMQL_FN_SUM_OVER_TIME,
	PROMQL_FN_TAN,
	PROMQL_FN_TANH,
	PROMQL_FN_TIME,
	PROMQL_FN_TIMESTAMP,
	PROMQL_FN_TS_OF_FIRST_OVER_TIME,
	PROMQL_FN_TS_OF_LAST_OVER_TIME,
	PROMQL_FN_TS_OF_MAX_OVER_TIME,
	PROMQL_FN_TS_OF_MIN_OVER_TIME,
	PROMQL_FN_VECTOR,
	PROMQL_FN_YEAR,
	PROMQL_FN_COUNT,	/* number of functions, not a function */
};

/* Upstream's Function: argument types, how many extra arguments the last type
 * may repeat (0 none, -1 unlimited, n at most n more), result type. */
struct promql_function {
	enum promql_func_id id;
	const char *name;
	enum promql_type args[5];
	uint8_t nargs;
	int8_t variadic;
	enum promql_type ret;
	bool experimental;
};

/* Byte offsets [start, end) into the query, as upstream's PositionRange. */
struct promql_pos {
	uint32_t start, end;
};

struct promql_str {
	const char *s;	/* NUL-terminated; may contain NUL itself */
	size_t len;
};

struct promql_matcher {
	struct promql_str name;
	enum promql_match type;
	struct promql_str value;
};

struct promql_labels {
	const struct promql_str *v;
	size_t n;
};

/* Time modifiers shared by vector selectors and subqueries. */
struct promql_modifiers {
	int64_t offset_ms;		/* literal offset (negative allowed) */
	struct promql_node *offset_expr;	/* or a duration expression */
	enum promql_at at;
	int64_t at_ms;			/* for PROMQL_AT_TIMESTAMP */
};

struct promql_vector_matching {
	enum promql_card card;
	struct promql_labels matching;	/* on(...) / ignoring(...) */
	bool on;
	struct promql_labels include;	/* group_left(...) / group_right(...) */
	bool fill_lhs_set, fill_rhs_set;
	bool fill_both;			/* written as fill(v), not fill_left/fill_right */
	double fill_lhs, fill_rhs;
};

struct promql_node {
	enum promql_kind kind;
	struct promql_pos pos;
	uint32_t depth;		/* 1 for a leaf */
	union {
		struct {
			double val;
			bool duration;	/* written as a duration (printing only) */
		} number;
		struct promql_str string;
		struct {
			/* Metric name written before the braces ("" if none); then its
			 * __name__ matcher is the last element of matchers. */
			struct promql_str name;
			struct promql_matcher *matchers;
			size_t nmatchers;
			struct promql_modifiers mod;
			bool anchored, smoothed;
			bool bypass_empty_matcher_check;	/* info()'s second argument */
		} vs;
		/* Literal ranges and steps are checked > 0 here; an expression's value is
		 * only known once resolved, and the evaluator checks it then. */
		struct {
			struct promql_node *vs;		/* a PROMQL_VECTOR_SELECTOR */
			int64_t range_ms;
			struct promql_node *range_expr;
		} matrix;
		struct {
			struct promql_node *expr;
			int64_t range_ms;
			struct promql_node *range_expr;
			int64_t step_ms;		/* 0: the engine's default step */
			struct promql_node *step_expr;
			bool aligned;			/* written with "::" */
			struct promql_modifiers mod;
		} subquery;
		struct {
			const struct promql_function *fn;
			struct promql_node **args;
			size_t nargs;
		} call;
		struct {
			enum promql_aggop op;
			struct promql_node *expr;
			struct promql_node *param;	/* topk, quantile, count_values... */
			struct promql_labels grouping;
			bool without;
		} agg;
		struct {
			enum promql_binop op;
			struct promql_node *lhs, *rhs;
			bool return_bool;
			/* NULL unless both sides are instant vectors. */
			struct promql_vector_matching *vm;
		} binary;
		struct {
			enum promql_binop op;	/* PROMQL_OP_ADD or PROMQL_OP_SUB */
			struct promql_node *expr;
		} unary;
		struct {
			struct promql_node *expr;
		} paren;
		struct {
			enum promql_durop op;
			struct promql_node *lhs, *rhs;	/* numbers or durations */
			bool wrapped;			/* written in parentheses */
		} duration;
	};
};

/* Upstream's experimental parser options; the conformance scripts need them all. */
struct promql_parse_opts {
	bool experimental_functions;	/* --enable-feature=promql-experimental-functions */
	bool duration_expr;		/* promql-duration-expr */
	bool extended_range_selectors;	/* promql-extended-range-selectors */
	bool binop_fill;		/* promql-binop-fill-modifiers */
};

#define PROMQL_PARSE_OPTS_ALL \
	((struct promql_parse_opts){ true, true, true, true })

struct promql_parse_error {
	struct promql_pos pos;
	uint32_t line, col;	/* 1-based; col counts bytes, as upstream */
	char msg[1024];		/* without the position prefix; long quotes are cut */
};

/*
 * Parse and type-check `query`. On success *out is the root (its type is not
 * PROMQL_TYPE_NONE). On failure `err` gets upstream's full text, e.g.
 * `1:7: parse error: unexpected end of input`, and *perr (if non-NULL) the parts.
 * opts NULL means every experimental feature off, as a stock Prometheus.
 */
int promql_parse(struct arena *a, const char *query, const struct promql_parse_opts *opts,
		 struct promql_node **out, struct promql_parse_error *perr, char *err,
		 size_t errlen);

/* Parse a lone series selector (`up{job="x"}`, `{__name__=~"a.*"}`), as the
 * match[] parameters of the API take them. *out is a PROMQL_VECTOR_SELECTOR. */
int promql_parse_selector(struct arena *a, const char *selector, struct promql_node **out,
			  struct promql_parse_error *perr, char *err, size_t errlen);

/* Line and column (1-based, columns in bytes) of a byte offset in a query, as
 * upstream prints positions in parse errors and annotations ("1:23"). */
void promql_position(const char *query, uint32_t offset, uint32_t *line, uint32_t *col);

enum promql_type promql_node_type(const struct promql_node *n);
/* "scalar", "vector", "matrix", "string", "none" (upstream's ValueType). */
const char *promql_type_name(enum promql_type t);
/* "scalar", "instant vector", "range vector", "string", "none". */
const char *promql_type_documented(enum promql_type t);

/* Upstream's String(): the canonical query text of a (sub)tree, on one line. */
void promql_format(const struct promql_node *n, struct buf *out);
/* Upstream's Pretty(0), what /api/v1/format_query returns: String() for nodes
 * whose text fits in 100 bytes, larger ones split over indented lines. */
void promql_format_pretty(const struct promql_node *n, struct buf *out);
const char *promql_binop_str(enum promql_binop op);
const char *promql_aggop_str(enum promql_aggop op);
bool promql_binop_is_comparison(enum promql_binop op);
bool promql_binop_is_set(enum promql_binop op);
bool promql_aggop_has_param(enum promql_aggop op);

/* The function table: by name (exact, case-sensitive) or id; NULL if unknown. */
const struct promql_function *promql_function_lookup(const char *name, size_t len);
const struct promql_function *promql_function_get(enum promql_func_id id);

/*
 * Evaluate a PROMQL_DURATION tree (or a PROMQL_NUMBER) in seconds, given the
 * query's step and range (end - start) for step() and range(). Errors: "division
 * by zero", "modulo by zero".
 */
int promql_duration_eval(const struct promql_node *e, int64_t step_ms, int64_t range_ms,
			 double *seconds, char *err, size_t errlen);
/* Seconds to whole milliseconds the way upstream converts durations (nanosecond
 * rounding, then truncation to ms); -1 with "duration out of range" if too big. */
int promql_seconds_to_ms(double seconds, int64_t *ms, char *err, size_t errlen);

/* Prometheus duration syntax (model.ParseDuration): "1h30m", "500ms", "0". */
int promql_parse_duration(const char *s, size_t n, int64_t *ms, char *err, size_t errlen);
/* model.Duration.String(): "1h30m", "0s"; negative durations print as "-" + |d|. */
void promql_format_duration(int64_t ms, struct buf *out);
/* strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, no exponent. */
void promql_format_float(double v, struct buf *out);
/* A sample value as Prometheus' API writes it (jsonutil.MarshalFloat): the 'f'
 * form, but 'e' below 1e-6 and from 1e21 on ("1e-07"); "NaN", "+Inf", "-Inf".
 * Needs cap >= 40; returns the length. */
size_t promql_format_value(double v, char *out, size_t cap);
/* strconv.Quote: a double-quoted Go string literal. */
void promql_quote(const char *s, size_t n, struct buf *out);
/* strconv.Unquote-like for "...", '...' and `...` literals (Prometheus strutil). The
 * result is written to the arena; -1 on bad syntax. */
int promql_unquote(struct arena *a, const char *lit, size_t n, struct promql_str *out);

/* ---- engine ------------------------------------------------------------------------ */

struct tsdb_querier;

/* Open a querier over [mint, maxt] for one query; the engine closes it. */
typedef int (*promql_querier_open_fn)(void *arg, int64_t mint, int64_t maxt,
				      struct tsdb_querier **out, char *err, size_t errlen);

struct promql_engine_opts {
	int64_t lookback_delta_ms;	/* 0: 5m (--query.lookback-delta) */
	int64_t timeout_ms;		/* 0: 2m (--query.timeout) */
	uint64_t max_samples;		/* 0: 50,000,000 (--query.max-samples) */
	unsigned max_concurrency;	/* 0: 20 (--query.max-concurrency) */
	int64_t subquery_step_ms;	/* step of [range:] subqueries at start; 0: 1m */
	/* Keep __name__ until the end of the query (upstream's
	 * --enable-feature=promql-delayed-name-removal). */
	bool delayed_name_removal;
	struct promql_parse_opts parse;	/* experimental syntax to accept */
};

enum promql_errtype {
	PROMQL_ERR_NONE,
	PROMQL_ERR_BAD_DATA,	/* parse errors, bad parameters (HTTP 400) */
	PROMQL_ERR_EXECUTION,	/* evaluation errors (422) */
	PROMQL_ERR_TIMEOUT,	/* "query timed out in ..." (503) */
	PROMQL_ERR_CANCELED,	/* "query was canceled in ..." (499) */
	PROMQL_ERR_INTERNAL,	/* storage failure, out of memory (500) */
};

struct promql_query {
	const char *expr;
	int64_t start_ms, end_ms;	/* equal for an instant query */
	int64_t step_ms;		/* 0 for an instant query */
	int64_t timeout_ms;		/* 0: the engine's; never longer than the engine's */
	int64_t lookback_delta_ms;	/* 0: the engine's */
	const _Atomic bool *cancel;	/* optional: set to abort the query */
};

struct promql_point {
	int64_t t;
	double v;
};

struct promql_series {
	struct labels metric;
	struct promql_point *points;	/* one for a vector element */
	size_t npoints;
};

/*
 * A query's outcome. type is PROMQL_TYPE_NONE on error (errtype, err). Vectors
 * keep the engine's order (sort() and topk() order them); matrices are sorted by
 * labels. Annotations are rendered as upstream's API does:
 * "PromQL warning: <text> (<line>:<col>)".
 */
struct promql_result {
	enum promql_type type;
	struct promql_series *series;
	size_t nseries;
	struct promql_point scalar;	/* PROMQL_TYPE_SCALAR */
	struct promql_str string;	/* PROMQL_TYPE_STRING, at scalar.t */
	const char **warnings, **infos;
	size_t nwarnings, ninfos;
	enum promql_errtype errtype;
	char err[1024];
	struct arena *arena;		/* private: owns labels and strings */
};

struct promql_engine;

int promql_engine_new(const struct promql_engine_opts *opts, struct promql_engine **out,
		      char *err, size_t errlen);
void promql_engine_free(struct promql_engine *e);
/* The options as created (subquery_step_ms is the initial step). */
const struct promql_engine_opts *promql_engine_options(const struct promql_engine *e);
/* Thread-safe: the step of [range:] subqueries for the queries that start from now on
 * (ms <= 0: 1m). Prometheus uses its config's global evaluation_interval there, and a
 * reload changes it. */
void promql_engine_set_subquery_step(struct promql_engine *e, int64_t ms);

/* Parse, check and run one query. Returns 0 with res filled, or -1 with
 * res->errtype and res->err set; promql_result_free() either way. */
int promql_engine_exec(struct promql_engine *e, const struct promql_query *query,
		       promql_querier_open_fn open, void *arg, struct promql_result *res);
void promql_result_free(struct promql_result *res);

#endif
