/*
 * From a checked AST to the evaluator's plan, which is what upstream does to its
 * AST before evaluating it:
 * - parentheses disappear and a unary plus is its operand;
 * - duration expressions become milliseconds (durationVisitor; a range or step
 *   must come out > 0, "duration must be greater than 0");
 * - matchers are compiled for the storage;
 * - start()/end() become timestamps, and every step-invariant subtree (one whose
 *   value cannot change between steps, such as anything under @) is wrapped in a
 *   PQ_STEPINV node that evaluates it once (PreprocessExpr);
 * - offsets are adjusted for @ relative to the evaluation start
 *   (setOffsetForAtModifier), and each selector gets the time range it reads
 *   (getTimeRangesForSelector), whose union is the querier's range.
 * The plan lives in the query arena; it is only mutated by the offset adjustment,
 * which subqueries repeat for their own start time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

static struct pq_node *new_node(struct pq_query *q, enum pq_kind k, const struct promql_node *ast,
				size_t nargs)
{
	struct pq_node *n = arena_calloc(q->a, 1, sizeof(*n));

	if (!n)
		return NULL;
	n->kind = k;
	n->ast = ast;
	if (ast) {
		n->pos = ast->pos;
		n->type = promql_node_type(ast);
	}
	if (nargs) {
		n->args = arena_calloc(q->a, nargs, sizeof(*n->args));
		if (!n->args)
			return NULL;
	}
	n->nargs = nargs;
	return n;
}

static int duration_ms(struct pq_query *q, const struct promql_node *e, bool allow_neg,
		       int64_t *ms)
{
	char err[256];
	double secs;

	if (promql_duration_eval(e, q->interval, q->end - q->start, &secs, err, sizeof(err)))
		return pq_fail(q, PROMQL_ERR_BAD_DATA, "%s", err);
	if (promql_seconds_to_ms(secs, ms, err, sizeof(err)))
		return pq_fail(q, PROMQL_ERR_BAD_DATA, "%s", err);
	if (!allow_neg && *ms <= 0)
		return pq_fail(q, PROMQL_ERR_BAD_DATA, "duration must be greater than 0");
	return 0;
}

static int add_matcher(struct pq_query *q, struct tsdb_matcher *m)
{
	if (pq_reserve(q, &q->matchers, &q->matchers_cap, q->nmatchers + 1, sizeof(*q->matchers)))
		return -1;
	q->matchers[q->nmatchers++] = m;
	return 0;
}

static const enum tsdb_match_type match_types[] = {
	[PROMQL_MATCH_EQ] = TSDB_MATCH_EQ,
	[PROMQL_MATCH_NEQ] = TSDB_MATCH_NEQ,
	[PROMQL_MATCH_RE] = TSDB_MATCH_RE,
	[PROMQL_MATCH_NRE] = TSDB_MATCH_NRE,
};

/* offset (literal or an expression) and @ of a selector or subquery */
static int plan_modifiers(struct pq_query *q, const struct promql_modifiers *mod, struct pq_node *n)
{
	n->orig_offset = mod->offset_ms;
	if (mod->offset_expr && duration_ms(q, mod->offset_expr, true, &n->orig_offset))
		return -1;
	n->offset = n->orig_offset;
	if (mod->at == PROMQL_AT_TIMESTAMP) {
		n->has_at = true;
		n->at = mod->at_ms;
	}
	return 0;
}

static int plan_selector(struct pq_query *q, const struct promql_node *ast, struct pq_node *n)
{
	char err[512];

	n->nms = ast->vs.nmatchers;
	n->ms = arena_calloc(q->a, n->nms ? n->nms : 1, sizeof(*n->ms));
	if (!n->ms)
		return pq_oom(q);
	for (size_t i = 0; i < n->nms; i++) {
		const struct promql_matcher *pm = &ast->vs.matchers[i];

		if (tsdb_matcher_init(&n->ms[i], match_types[pm->type], pm->name.s, pm->value.s,
				      err, sizeof(err)))
			return pq_fail(q, PROMQL_ERR_BAD_DATA, "%s", err);
		if (add_matcher(q, &n->ms[i])) {
			tsdb_matcher_free(&n->ms[i]);
			return -1;
		}
	}
	n->anchored = ast->vs.anchored;
	n->smoothed = ast->vs.smoothed;
	return plan_modifiers(q, &ast->vs.mod, n);
}

static const char **sorted_names(struct pq_query *q, const struct promql_labels *l, bool add_name,
				  size_t *n)
{
	const char **v = arena_calloc(q->a, l->n + 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		v[k++] = l->v[i].s;
	if (add_name)
		v[k++] = LABELS_METRIC_NAME;
	/* insertion sort with dedup: these lists are short */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && strcmp(v[j], v[j - 1]) < 0; j--) {
			const char *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*n = 0;
	for (size_t i = 0; i < k; i++)
		if (!*n || strcmp(v[*n - 1], v[i]))
			v[(*n)++] = v[i];
	return v;
}

static int build(struct pq_query *q, const struct promql_node *ast, struct pq_node **out);

static int build_args(struct pq_query *q, struct pq_node *n, struct promql_node *const *asts,
		      size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (build(q, asts[i], &n->args[i]))
			return -1;
	return 0;
}

static int build_subquery(struct pq_query *q, const struct promql_node *ast, struct pq_node **out)
{
	struct pq_node *n = new_node(q, PQ_SUBQ, ast, 1);

	if (!n)
		return pq_oom(q);
	n->range = ast->subquery.range_ms;
	if (ast->subquery.range_expr && duration_ms(q, ast->subquery.range_expr, false, &n->range))
		return -1;
	n->step = ast->subquery.step_ms;
	if (ast->subquery.step_expr && duration_ms(q, ast->subquery.step_expr, false, &n->step))
		return -1;
	if (plan_modifiers(q, &ast->subquery.mod, n))
		return -1;
	*out = n;
	return build(q, ast->subquery.expr, &n->args[0]);
}

static int build_matrix(struct pq_query *q, const struct promql_node *ast, struct pq_node **out)
{
	struct pq_node *n = new_node(q, PQ_MS, ast, 1);

	if (!n)
		return pq_oom(q);
	n->range = ast->matrix.range_ms;
	if (ast->matrix.range_expr && duration_ms(q, ast->matrix.range_expr, false, &n->range))
		return -1;
	*out = n;
	return build(q, ast->matrix.vs, &n->args[0]);
}

static int build_binary(struct pq_query *q, const struct promql_node *ast, struct pq_node **out)
{
	struct pq_node *n = new_node(q, PQ_BIN, ast, 2);
	const struct promql_vector_matching *vm = ast->binary.vm;

	if (!n)
		return pq_oom(q);
	n->binop = ast->binary.op;
	n->return_bool = ast->binary.return_bool;
	n->vm = vm;
	if (vm) {
		n->match_names = sorted_names(q, &vm->matching, !vm->on, &n->nmatch_names);
		if (!n->match_names)
			return pq_oom(q);
	}
	*out = n;
	if (build(q, ast->binary.lhs, &n->args[0]))
		return -1;
	return build(q, ast->binary.rhs, &n->args[1]);
}

static int build_aggregate(struct pq_query *q, const struct promql_node *ast, struct pq_node **out)
{
	struct pq_node *n = new_node(q, PQ_AGG, ast, 2);

	if (!n)
		return pq_oom(q);
	n->aggop = ast->agg.op;
	n->without = ast->agg.without;
	n->grouping = sorted_names(q, &ast->agg.grouping, false, &n->ngrouping);
	if (!n->grouping)
		return pq_oom(q);
	*out = n;
	if (build(q, ast->agg.expr, &n->args[0]))
		return -1;
	if (ast->agg.param)
		return build(q, ast->agg.param, &n->args[1]);
	n->nargs = 1;
	return 0;
}

static int build(struct pq_query *q, const struct promql_node *ast, struct pq_node **out)
{
	struct pq_node *n;

	while (ast->kind == PROMQL_PAREN)
		ast = ast->paren.expr;
	switch (ast->kind) {
	case PROMQL_NUMBER:
		n = new_node(q, PQ_NUM, ast, 0);
		if (!n)
			return pq_oom(q);
		n->num = ast->number.val;
		break;
	case PROMQL_STRING:
		n = new_node(q, PQ_STR, ast, 0);
		if (!n)
			return pq_oom(q);
		n->str = ast->string;
		break;
	case PROMQL_VECTOR_SELECTOR:
		n = new_node(q, PQ_VS, ast, 0);
		if (!n)
			return pq_oom(q);
		if (plan_selector(q, ast, n))
			return -1;
		break;
	case PROMQL_MATRIX_SELECTOR:
		return build_matrix(q, ast, out);
	case PROMQL_SUBQUERY:
		return build_subquery(q, ast, out);
	case PROMQL_CALL:
		n = new_node(q, PQ_CALL, ast, ast->call.nargs);
		if (!n)
			return pq_oom(q);
		n->fn = ast->call.fn;
		*out = n;
		return build_args(q, n, ast->call.args, ast->call.nargs);
	case PROMQL_AGGREGATE:
		return build_aggregate(q, ast, out);
	case PROMQL_BINARY:
		return build_binary(q, ast, out);
	case PROMQL_UNARY:
		if (ast->unary.op == PROMQL_OP_ADD)
			return build(q, ast->unary.expr, out);
		n = new_node(q, PQ_NEG, ast, 1);
		if (!n)
			return pq_oom(q);
		*out = n;
		return build(q, ast->unary.expr, &n->args[0]);
	default:
		return pq_fail(q, PROMQL_ERR_BAD_DATA, "unexpected expression in query");
	}
	*out = n;
	return 0;
}

/* --- step invariance (PreprocessExpr) ---------------------------------------------- */

static bool at_unsafe(const struct promql_function *fn)
{
	switch (fn->id) {
	case PROMQL_FN_DAYS_IN_MONTH: case PROMQL_FN_DAY_OF_MONTH: case PROMQL_FN_DAY_OF_WEEK:
	case PROMQL_FN_DAY_OF_YEAR: case PROMQL_FN_HOUR: case PROMQL_FN_MINUTE:
	case PROMQL_FN_MONTH: case PROMQL_FN_YEAR: case PROMQL_FN_PREDICT_LINEAR:
	case PROMQL_FN_TIME: case PROMQL_FN_TIMESTAMP:
		return true;
	default:
		return false;
	}
}

static struct pq_node *wrap(struct pq_query *q, struct pq_node *n)
{
	struct pq_node *w = new_node(q, PQ_STEPINV, NULL, 1);

	if (!w)
		return NULL;
	w->type = n->type;
	w->pos = n->pos;
	w->ast = n->ast;
	w->args[0] = n;
	return w;
}

static void resolve_at(struct pq_query *q, const struct promql_modifiers *mod, struct pq_node *n)
{
	if (mod->at == PROMQL_AT_START) {
		n->has_at = true;
		n->at = q->start;
	} else if (mod->at == PROMQL_AT_END) {
		n->has_at = true;
		n->at = q->end;
	}
}

/* Returns -1 on oom; else *inv (step invariant) and *should_wrap. */
static int preprocess(struct pq_query *q, struct pq_node *n, bool *inv, bool *should_wrap)
{
	bool li, lw, ri, rw, all;

	switch (n->kind) {
	case PQ_VS:
		resolve_at(q, &n->ast->vs.mod, n);
		*inv = *should_wrap = n->has_at;
		return 0;
	case PQ_AGG:
		return preprocess(q, n->args[0], inv, should_wrap);
	case PQ_BIN:
		if (preprocess(q, n->args[0], &li, &lw) || preprocess(q, n->args[1], &ri, &rw))
			return -1;
		if (li && ri) {
			*inv = *should_wrap = true;
			return 0;
		}
		if (lw && !(n->args[0] = wrap(q, n->args[0])))
			return pq_oom(q);
		if (rw && !(n->args[1] = wrap(q, n->args[1])))
			return pq_oom(q);
		*inv = *should_wrap = false;
		return 0;
	case PQ_CALL: {
		bool wraps[16] = { false };

		all = !at_unsafe(n->fn);
		for (size_t i = 0; i < n->nargs; i++) {
			bool ai, aw;

			if (preprocess(q, n->args[i], &ai, &aw))
				return -1;
			all = all && ai;
			if (i < 16)
				wraps[i] = aw;
		}
		if (all) {
			*inv = *should_wrap = true;
			return 0;
		}
		for (size_t i = 0; i < n->nargs && i < 16; i++)
			if (wraps[i] && !(n->args[i] = wrap(q, n->args[i])))
				return pq_oom(q);
		*inv = *should_wrap = false;
		return 0;
	}
	case PQ_MS:
		if (preprocess(q, n->args[0], inv, should_wrap))
			return -1;
		*should_wrap = false;
		return 0;
	case PQ_SUBQ:
		if (preprocess(q, n->args[0], &li, &lw))
			return -1;
		if (li && !(n->args[0] = wrap(q, n->args[0])))
			return pq_oom(q);
		resolve_at(q, &n->ast->subquery.mod, n);
		*inv = *should_wrap = n->has_at;
		return 0;
	case PQ_NEG:
		return preprocess(q, n->args[0], inv, should_wrap);
	case PQ_STR:
	case PQ_NUM:
		*inv = true;
		*should_wrap = false;
		return 0;
	default:
		*inv = *should_wrap = false;
		return 0;
	}
}

/* --- @ offsets and selector ranges --------------------------------------------------- */

struct subq_path {
	const struct pq_node *v[PROMQL_MAX_DEPTH + 1];
	size_t n;
};

/* upstream's subqueryTimes over the subqueries on the path. */
static void subquery_times(const struct subq_path *p, int64_t *off, int64_t *range, bool *has_ts,
			   int64_t *ts)
{
	*off = *range = 0;
	*has_ts = false;
	for (size_t i = 0; i < p->n; i++) {
		const struct pq_node *s = p->v[i];

		*off += s->orig_offset;
		*range += s->range;
		if (s->has_at) {
			*off = s->orig_offset;
			*range = s->range;
			*has_ts = true;
			*ts = s->at;
		}
	}
}

static int64_t offset_for_at(int64_t eval_time, const struct pq_node *n, const struct subq_path *p)
{
	int64_t soff, srange, sts = 0;
	bool has;

	if (!n->has_at)
		return n->orig_offset;
	subquery_times(p, &soff, &srange, &has, &sts);
	if (has)
		soff += eval_time - sts;
	return n->orig_offset + (eval_time - n->at) - soff;
}

static void set_offsets(int64_t eval_time, struct pq_node *n, struct subq_path *p)
{
	if (n->kind == PQ_VS || n->kind == PQ_SUBQ)
		n->offset = offset_for_at(eval_time, n, p);
	if (n->kind == PQ_SUBQ)
		p->v[p->n++] = n;
	for (size_t i = 0; i < n->nargs; i++)
		if (n->args[i])
			set_offsets(eval_time, n->args[i], p);
	if (n->kind == PQ_SUBQ)
		p->n--;
}

void pq_set_offset_for_at(int64_t eval_time, struct pq_node *n)
{
	struct subq_path *p = malloc(sizeof(*p));

	/* Without memory for the path the offsets stay as they were; the plan's
	 * depth is bounded, so a fixed array would do, but not on the stack. */
	if (!p)
		return;
	p->n = 0;
	set_offsets(eval_time, n, p);
	free(p);
}

struct minmax {
	int64_t mint, maxt;
	bool any;
};

static void selector_range(struct pq_query *q, struct pq_node *vs, const struct subq_path *p,
			   int64_t eval_range, struct minmax *mm)
{
	int64_t start = q->start, end = q->end, soff, srange, sts = 0;
	bool has;

	subquery_times(p, &soff, &srange, &has, &sts);
	if (has)
		start = end = sts;
	if (vs->has_at) {
		start = end = vs->at;
	} else {
		start = start - soff - srange;
		end -= soff;
	}
	if (eval_range == 0) {
		start -= q->lookback - 1;
		if (vs->smoothed)
			end += q->lookback;
	} else if (vs->anchored) {
		start -= q->lookback + eval_range - 1;
	} else if (vs->smoothed) {
		start -= q->lookback + eval_range - 1;
		end += q->lookback;
	} else {
		start -= eval_range - 1;
	}
	start -= vs->orig_offset;
	end -= vs->orig_offset;
	vs->hint_start = start;
	vs->hint_end = end;
	if (!mm->any || start < mm->mint)
		mm->mint = start;
	if (!mm->any || end > mm->maxt)
		mm->maxt = end;
	mm->any = true;
}

static void walk_ranges(struct pq_query *q, struct pq_node *n, struct subq_path *p,
			int64_t eval_range, struct minmax *mm)
{
	switch (n->kind) {
	case PQ_VS:
		selector_range(q, n, p, eval_range, mm);
		return;
	case PQ_MS:
		walk_ranges(q, n->args[0], p, n->range, mm);
		return;
	case PQ_SUBQ:
		p->v[p->n++] = n;
		walk_ranges(q, n->args[0], p, 0, mm);
		p->n--;
		return;
	default:
		for (size_t i = 0; i < n->nargs; i++)
			if (n->args[i])
				walk_ranges(q, n->args[i], p, 0, mm);
	}
}

void pq_plan_min_max(struct pq_query *q, struct pq_node *root, int64_t *mint, int64_t *maxt)
{
	struct minmax mm = { 0, 0, false };
	struct subq_path *p = malloc(sizeof(*p));

	*mint = *maxt = 0;
	if (!p)
		return;
	p->n = 0;
	walk_ranges(q, root, p, 0, &mm);
	free(p);
	if (mm.any) {
		*mint = mm.mint;
		*maxt = mm.maxt;
	}
}

int pq_plan(struct pq_query *q, const struct promql_node *root, struct pq_node **out)
{
	bool inv, should_wrap;

	if (build(q, root, out))
		return -1;
	if (preprocess(q, *out, &inv, &should_wrap))
		return -1;
	if (should_wrap && !(*out = wrap(q, *out)))
		return pq_oom(q);
	return 0;
}
