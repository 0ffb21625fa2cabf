/*
 * Internal interfaces of the PromQL evaluator (engine.c and the eval_*.c,
 * fn_*.c files). Nothing here is part of the public contract (see promql.h).
 *
 * The evaluator follows upstream's model: every expression evaluates to a matrix
 * over the query's steps (a scalar is one series without labels, an instant vector
 * one point per step and series), and operators work step by step on vectors
 * gathered from their operands' matrices. One query is single-threaded.
 *
 * Memory: label sets, strings and everything small live in the query's arena and
 * are immutable once made, so a label set can be shared by pointer. Point arrays
 * and matrices, which grow with the query's size, are malloc'd and freed as soon as
 * an operator has consumed them, so the live set is bounded by the sample limit.
 *
 * Errors: evaluation functions return 0 or -1; on -1 the query carries the message
 * and its class (pq_fail). Nothing is retried; the first error ends the query.
 */
#ifndef LGTM_PROMQL_EVAL_INTERNAL_H
#define LGTM_PROMQL_EVAL_INTERNAL_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "labels/labels.h"
#include "promql/promql.h"
#include "tsdb/tsdb.h"

/* --- label sets (lset.c) ------------------------------------------------------- */

/* An immutable label set in the query arena with upstream's labels.Hash(). */
struct pq_lset {
	struct labels ls;
	uint64_t hash;
	/* The set without __name__/__type__/__unit__, made on first use. */
	const struct pq_lset *stripped;
};

struct pq_query;

/* Wrap a sorted set (array and strings must outlive the query). NULL on oom. */
const struct pq_lset *pq_lset_wrap(struct pq_query *q, const struct labels *ls);
const struct pq_lset *pq_lset_empty(struct pq_query *q);
/* upstream's Labels.Hash(): XXH64 over name 0xff value 0xff ... */
uint64_t pq_labels_hash(const struct labels *ls);
/* Hash of the labels named in `names` (sorted) or, with `without`, of all others
 * (and never __name__), as HashForLabels / HashWithoutLabels. */
uint64_t pq_hash_subset(const struct labels *ls, const char *const *names, size_t n,
			bool without);
/* Hash of all labels but `name`. */
uint64_t pq_hash_except(const struct labels *ls, const char *name);
/* The set without the metadata labels (__name__, __type__, __unit__). */
const struct pq_lset *pq_lset_strip(struct pq_query *q, const struct pq_lset *l);
const char *pq_lset_get(const struct pq_lset *l, const char *name);
bool pq_is_metadata_label(const char *name);
bool pq_sorted_contains(const char *const *names, size_t n, const char *name);

/* A scratch builder: start from a set, change it, then make an immutable set. */
struct pq_lbuilder {
	struct label *v;
	size_t n, cap;
};

int pq_lb_reset(struct pq_query *q, struct pq_lbuilder *b, const struct labels *from);
/* Set (value "" deletes), delete, keep only the given names. */
int pq_lb_set(struct pq_query *q, struct pq_lbuilder *b, const char *name, const char *value);
void pq_lb_del(struct pq_lbuilder *b, const char *name);
void pq_lb_keep(struct pq_lbuilder *b, const char *const *names, size_t n);
void pq_lb_del_metadata(struct pq_lbuilder *b);
const char *pq_lb_get(const struct pq_lbuilder *b, const char *name);
const struct pq_lset *pq_lb_finish(struct pq_query *q, struct pq_lbuilder *b);
void pq_lb_free(struct pq_lbuilder *b);

/* --- hash map: uint64 key -> uint64 value (hmap.c) ---------------------------- */

struct pq_hmap {
	uint64_t *keys, *vals;
	uint8_t *used;
	size_t cap, n;
};

/* Returns a pointer to the value slot for key, inserting it (value 0) if absent;
 * *found says whether it existed. NULL on oom. */
uint64_t *pq_hmap_put(struct pq_hmap *m, uint64_t key, bool *found);
uint64_t *pq_hmap_get(const struct pq_hmap *m, uint64_t key);
void pq_hmap_clear(struct pq_hmap *m);
void pq_hmap_free(struct pq_hmap *m);

/* --- values (value.c) ------------------------------------------------------------ */

struct pq_point {
	int64_t t;
	double f;
};

struct pq_series {
	const struct pq_lset *ls;
	struct pq_point *pts;	/* malloc'd */
	uint32_t n, cap;
	bool drop_name;		/* __name__ is removed at the end (delayed removal) */
};

struct pq_matrix {
	struct pq_series *v;	/* malloc'd */
	size_t n, cap;
};

struct pq_sample {
	const struct pq_lset *ls;
	double f;
	int64_t t;
	uint32_t sig;		/* join signature ordinal (vector matching) */
	bool drop_name;
};

struct pq_vector {
	struct pq_sample *v;	/* malloc'd */
	size_t n, cap;
};

/* Grow the malloc'd array at *arrp (any element type) to hold `need` elements,
 * doubling; 0 or -1 (with q's error set when q is given). */
int pq_reserve(struct pq_query *q, void *arrp, size_t *cap, size_t need, size_t elem);
int pq_series_push(struct pq_query *q, struct pq_series *s, int64_t t, double f);
struct pq_series *pq_matrix_add(struct pq_query *q, struct pq_matrix *m,
				const struct pq_lset *ls, bool drop_name);
void pq_matrix_free(struct pq_matrix *m);
size_t pq_matrix_samples(const struct pq_matrix *m);
int pq_vector_push(struct pq_query *q, struct pq_vector *v, const struct pq_sample *s);
void pq_vector_free(struct pq_vector *v);
/* Does the vector (or matrix) hold two elements with equal labels? */
bool pq_vector_dup_labels(struct pq_query *q, const struct pq_vector *v, int *err);
int pq_matrix_sort(struct pq_matrix *m);

/* --- annotations (annot.c) ------------------------------------------------------- */

enum pq_anno_level { PQ_WARN, PQ_INFO };

struct pq_anno {
	enum pq_anno_level level;
	char *msg;		/* without the position */
	struct promql_pos pos;
	/* histogram_quantile's monotonicity info accumulates over the samples it
	 * was raised for, as upstream's histogramQuantileForcedMonotonicityErr */
	bool mono;
	int64_t min_ts, max_ts;
	double min_bucket, max_bucket, max_diff;
	unsigned count;
};

struct pq_annos {
	struct pq_anno *v;
	size_t n, cap;
};

void pq_annof(struct pq_query *q, enum pq_anno_level lvl, struct promql_pos pos,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pq_anno_monotonicity(struct pq_query *q, struct promql_pos pos, const char *msg, int64_t ts,
			  double min_bucket, double max_bucket, double max_diff);
/* The rendered text: "<msg>[ details] (<line>:<col>)", in the arena. */
char *pq_anno_render(struct arena *a, const char *query, const struct pq_anno *an);

/* --- plan (plan.c) ---------------------------------------------------------------- */

enum pq_kind {
	PQ_NUM,
	PQ_STR,
	PQ_VS,		/* vector selector */
	PQ_MS,		/* matrix selector: args[0] is the PQ_VS */
	PQ_SUBQ,	/* args[0] the inner expression */
	PQ_CALL,
	PQ_AGG,		/* args[0] expr, args[1] param or NULL */
	PQ_BIN,		/* args[0] lhs, args[1] rhs */
	PQ_NEG,		/* unary minus (unary plus is dropped) */
	PQ_STEPINV,	/* evaluate args[0] once at the start, repeat over the steps */
};

struct pq_node {
	enum pq_kind kind;
	enum promql_type type;
	const struct promql_node *ast;	/* parens removed */
	struct promql_pos pos;
	struct pq_node **args;
	size_t nargs;

	double num;			/* PQ_NUM */
	struct promql_str str;		/* PQ_STR */

	/* PQ_VS */
	struct tsdb_matcher *ms;
	size_t nms;
	bool anchored, smoothed;
	int64_t hint_start, hint_end;	/* storage range this selector reads */

	/* PQ_VS, PQ_SUBQ */
	int64_t orig_offset;		/* as written (resolved) */
	int64_t offset;			/* adjusted for @ (setOffsetForAtModifier) */
	bool has_at;
	int64_t at;

	int64_t range;			/* PQ_MS, PQ_SUBQ */
	int64_t step;			/* PQ_SUBQ; 0: the default */

	const struct promql_function *fn;	/* PQ_CALL */

	/* PQ_AGG */
	enum promql_aggop aggop;
	const char **grouping;		/* sorted */
	size_t ngrouping;
	bool without;

	/* PQ_BIN */
	enum promql_binop binop;
	bool return_bool;
	const struct promql_vector_matching *vm;
	const char **match_names;	/* sorted matching labels (+ __name__ when ignoring) */
	size_t nmatch_names;
};

/* --- query and evaluator (engine.c, eval.c) ------------------------------------- */

struct pq_query {
	struct arena *a;
	const char *qs;
	struct tsdb_querier *querier;
	struct pq_annos annos;

	int64_t start, end, interval;	/* the query's own range (interval 0: instant) */
	int64_t lookback;
	int64_t subq_step;		/* default subquery step */
	int64_t max_samples;
	bool delayed;			/* delayed __name__ removal */

	struct timespec deadline;
	const _Atomic bool *cancel;
	unsigned tick;

	struct tsdb_matcher **matchers;	/* every compiled matcher, freed at the end */
	size_t nmatchers, matchers_cap;

	struct pq_lbuilder lb;		/* scratch builder */
	const struct pq_lset *empty;
	struct pq_hmap hist_groups;	/* histogram group signature -> its labels */

	enum promql_errtype errtype;
	char err[1024];
};

struct pq_ev {
	struct pq_query *q;
	int64_t start, end, interval;
	int64_t cur_samples;
};

int pq_fail(struct pq_query *q, enum promql_errtype t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int pq_oom(struct pq_query *q);
/* Timeout and cancellation, checked in every loop over steps or series. */
int pq_check(struct pq_query *q);
int pq_too_many_samples(struct pq_query *q);
static inline int pq_add_samples(struct pq_ev *ev, int64_t n)
{
	ev->cur_samples += n;
	if (ev->cur_samples > ev->q->max_samples)
		return pq_too_many_samples(ev->q);
	return 0;
}

/* Go's math.Min and math.Max, whose special cases come in an order: the infinity in
 * the direction asked for wins even over NaN, then NaN wins, and -0 is below +0
 * (clamp(-Inf, NaN) is -Inf upstream, and a zero keeps its sign in the JSON). */
static inline double pq_go_min(double a, double b)
{
	if (isinf(a) && a < 0)
		return a;
	if (isinf(b) && b < 0)
		return b;
	if (isnan(a) || isnan(b))
		return NAN;
	if (a == 0 && b == 0)
		return signbit(a) ? a : b;
	return a < b ? a : b;
}

static inline double pq_go_max(double a, double b)
{
	if (isinf(a) && a > 0)
		return a;
	if (isinf(b) && b > 0)
		return b;
	if (isnan(a) || isnan(b))
		return NAN;
	if (a == 0 && b == 0)
		return signbit(a) ? b : a;
	return a > b ? a : b;
}

int pq_plan(struct pq_query *q, const struct promql_node *root, struct pq_node **out);
void pq_plan_min_max(struct pq_query *q, struct pq_node *root, int64_t *mint, int64_t *maxt);
void pq_set_offset_for_at(int64_t eval_time, struct pq_node *n);

/* The value of an expression: a matrix, or a string. */
struct pq_value {
	bool is_string;
	struct promql_str str;
	struct pq_matrix m;
};

int pq_eval(struct pq_ev *ev, struct pq_node *n, struct pq_value *out);
/* A vector selector over the evaluator's steps; with record_t each point's value is
 * the timestamp of the sample it took. */
int pq_eval_selector(struct pq_ev *ev, struct pq_node *vs, bool record_t, struct pq_matrix *out);
/* The same with one reference time for every step (timestamp() of an @ selector). */
int pq_eval_selector_fixed(struct pq_ev *ev, struct pq_node *vs, int64_t ref,
			   struct pq_matrix *out);
int pq_eval_subquery(struct pq_ev *ev, struct pq_node *sq, struct pq_matrix *out);
/* upstream's extendFloats: the window of an anchored or smoothed selector with
 * points at its two boundaries. */
int pq_extend_floats(struct pq_query *q, const struct pq_point *f, size_t n, int64_t mint,
		     int64_t maxt, bool smoothed, struct pq_series *out);
/* pq_eval for expressions known to give a matrix. */
int pq_eval_matrix(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out);
/* Apply delayed name removal and merge what then collides (upstream's
 * cleanupMetricLabels) on the final result. */
int pq_cleanup_names(struct pq_ev *ev, struct pq_matrix *m, bool instant_vector);
int pq_merge_same_labels(struct pq_ev *ev, struct pq_matrix *m);

/*
 * upstream's rangeEval: evaluate `exprs` (string arguments are skipped), then call
 * fn once per step with the vectors gathered at that step, and collect its output
 * vectors into a matrix. With `vm` set, each gathered sample carries the ordinal of
 * its join signature (pq_sample.sig) and *nsigs the number of distinct ones.
 */
struct pq_step {
	struct pq_ev *ev;
	int64_t ts;
	struct pq_vector *in;	/* one per expression */
	size_t nin;
	size_t nsigs;
	void *ctx;
	struct pq_vector *out;
};

typedef int (*pq_step_fn)(struct pq_step *st);

int pq_range_eval(struct pq_ev *ev, struct pq_node **exprs, size_t n,
		  const struct pq_node *binop, pq_step_fn fn, void *ctx, struct pq_matrix *out);

/* The same over two matrices already evaluated (taken over and freed). */
int pq_range_eval_matrices(struct pq_ev *ev, struct pq_matrix *a, struct pq_matrix *b,
			   pq_step_fn fn, void *ctx, struct pq_matrix *out);

/* Per-series sample source and window over (mint, maxt] (eval_window.c). */
#define PQ_SOURCE_BATCH 64

/* A series' samples for the evaluator: storage samples are read ahead in batches
 * (tsdb_iterator_fill) into buf, and the next sample is buf[bi] (or arr[arr_i]). */
struct pq_source {
	struct tsdb_iterator *it;	/* storage, or */
	const struct pq_point *arr;	/* an evaluated subquery series */
	size_t arr_n, arr_i;
	int err;
	size_t bi, bn;			/* buf[bi..bn) not yet taken */
	bool it_end;			/* the iterator has nothing after buf */
	struct tsdb_sample buf[PQ_SOURCE_BATCH];
};

void pq_source_init_iter(struct pq_source *s, struct tsdb_iterator *it);
void pq_source_init_array(struct pq_source *s, const struct pq_point *p, size_t n);
/* Read the next batch from the iterator into buf; false when it has nothing more. */
bool pq_source_refill(struct pq_source *s);

/* The next sample (stale markers included), not taken; false at the end. Inline:
 * called for every sample a query reads. */
static inline bool pq_source_peek(struct pq_source *s, struct pq_point *p)
{
	if (s->it) {
		if (s->bi == s->bn && !pq_source_refill(s))
			return false;
		p->t = s->buf[s->bi].t;
		p->f = s->buf[s->bi].v;
		return true;
	}
	if (s->arr_i == s->arr_n)
		return false;
	*p = s->arr[s->arr_i];
	return true;
}

static inline void pq_source_take(struct pq_source *s)
{
	if (s->it)
		s->bi++;
	else
		s->arr_i++;
}

/* Skip to the first sample with t >= target. */
void pq_source_seek(struct pq_source *s, int64_t target);

struct pq_window {
	struct pq_point *v;	/* the window: v[0..n), inside buf */
	size_t n;
	struct pq_point *buf;	/* malloc'd */
	size_t cap;
	size_t ndec;		/* points below their predecessor (counter resets) */
};

/* Move the window to (mint, maxt], dropping stale markers (matrixIterSlice). The
 * window only moves forward. ev->cur_samples follows the window's size. */
int pq_window_advance(struct pq_ev *ev, struct pq_window *w, struct pq_source *src,
		      int64_t mint, int64_t maxt);
/* Empty the window for the next series (its memory stays). */
void pq_window_clear(struct pq_ev *ev, struct pq_window *w);
void pq_window_free(struct pq_window *w);

/* --- operators (eval_binop.c, eval_agg.c) ----------------------------------------- */

int pq_eval_binary(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out);
int pq_eval_aggregate(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out);
double pq_scalar_binop(enum promql_binop op, double l, double r);

/* --- functions (fn_*.c) ---------------------------------------------------------- */

int pq_eval_call(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out);

/* Takes output series one at a time: put() owns s->pts from then on (also when it
 * fails); 0 or -1 (query error set). */
struct pq_series_sink {
	int (*put)(void *arg, struct pq_series *s);
	void *arg;
};

/* A call of a range-vector function whose matrix argument is a plain selector
 * (no @, no anchored/smoothed range, not a subquery) and whose output series are its
 * input series minus __name__ (not absent_over_time): that selector, and in *mi the
 * argument's index; NULL for anything else. */
struct pq_node *pq_range_call_selector(struct pq_node *n, size_t *mi);
/* Evaluate such a call, handing each output series to the sink instead of building
 * a matrix (same checks, annotations and errors). */
int pq_eval_range_call_each(struct pq_ev *ev, struct pq_node *n, size_t mi,
			    const struct pq_series_sink *sink);

/* One call of a range-vector function on the window of one series at one step. */
struct pq_mcall {
	struct pq_ev *ev;
	const struct pq_node *call;	/* the PQ_CALL */
	const struct pq_node *sel;	/* the PQ_VS under the matrix argument */
	int64_t ts, range, offset;
	const struct pq_point *p;
	size_t n;
	bool no_decrease;		/* known: no point below its predecessor */
	const struct pq_lset *metric;	/* the input series */
	double sargs[2];		/* the scalar arguments at this step */
};

/* Returns 1 with *out set, 0 for no value, -1 on error. */
typedef int (*pq_mfn)(struct pq_mcall *c, double *out);
pq_mfn pq_range_function(enum promql_func_id id);

/* Instant-vector function at one step: st->in[i] are the arguments. */
int pq_instant_function(struct pq_step *st);
int pq_eval_label_replace(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out);
int pq_eval_label_join(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out);
int pq_eval_info(struct pq_ev *ev, struct pq_node *n, struct pq_matrix *out);
int pq_histogram_step(struct pq_step *st);

/* Shared numerics (quantile.c). */
struct pq_bucket {
	double upper, count;
};

double pq_quantile(double q, double *v, size_t n);
struct pq_monotonicity {
	bool forced, fixed_precision;
	double min_bucket, max_bucket, max_diff;
};
double pq_bucket_quantile(double q, struct pq_bucket *b, size_t n, struct pq_monotonicity *mono);
double pq_bucket_fraction(double lower, double upper, struct pq_bucket *b, size_t n);
void pq_kahan_inc(double inc, double *sum, double *c);
/* upstream's util/almost.Equal: NaN equals NaN, else a relative tolerance. */
bool pq_almost_equal(double a, double b, double eps);
/* Go's sort.Sort on small inputs (insertion sort, stable) and a stable merge sort
 * for larger ones, over samples with a less function. */
typedef bool (*pq_less_fn)(const struct pq_sample *a, const struct pq_sample *b, void *arg);
int pq_sort_samples(struct pq_sample *v, size_t n, pq_less_fn less, void *arg);
/* facette/natsort's Compare: a sorts before b. */
bool pq_natsort_less(const char *a, const char *b);
/* Go's %g for annotations ("1.1", "NaN", "+Inf"). */
void pq_fmt_g(double v, char *out, size_t cap);

#endif
