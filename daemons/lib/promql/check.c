/*
 * Type checking of a parsed tree, upstream's checkAST: operand types of operators,
 * functions and aggregations, vector-matching rules, and the selector rules (one
 * non-empty matcher, no second metric name). It runs only on a syntactically
 * valid tree and walks it in upstream's order, so the first error found is the
 * one upstream reports; positions are upstream's too (the operator's own range
 * for bool/comparison errors, the whole node for most others).
 *
 * Side effects, as upstream's: set operators get many-to-many matching, and the
 * vector matching of an operator with a scalar operand is dropped (NULL), so the
 * evaluator can rely on vm != NULL meaning vector/vector. info()'s second argument
 * is marked to skip the empty-matcher rule.
 */
#include <stdio.h>
#include <string.h>

#include "labels/labels.h"
#include "promql/internal.h"

static enum promql_type check(struct promql_checker *c, struct promql_node *n);

static void errf(struct promql_checker *c, uint32_t start, uint32_t end, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void errf(struct promql_checker *c, uint32_t start, uint32_t end, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	c->epos.start = start;
	c->epos.end = end;
	va_start(ap, fmt);
	vsnprintf(c->emsg, sizeof(c->emsg), fmt, ap);
	va_end(ap);
}

static void errn(struct promql_checker *c, const struct promql_node *n, const char *msg)
{
	errf(c, n->pos.start, n->pos.end, "%s", msg);
}

enum promql_type promql_node_type(const struct promql_node *n)
{
	switch (n->kind) {
	case PROMQL_NUMBER:
	case PROMQL_DURATION:
		return PROMQL_TYPE_SCALAR;
	case PROMQL_STRING:
		return PROMQL_TYPE_STRING;
	case PROMQL_VECTOR_SELECTOR:
	case PROMQL_AGGREGATE:
		return PROMQL_TYPE_VECTOR;
	case PROMQL_MATRIX_SELECTOR:
	case PROMQL_SUBQUERY:
		return PROMQL_TYPE_MATRIX;
	case PROMQL_CALL:
		return n->call.fn->ret;
	case PROMQL_PAREN:
		return promql_node_type(n->paren.expr);
	case PROMQL_UNARY:
		return promql_node_type(n->unary.expr);
	case PROMQL_BINARY:
		if (promql_node_type(n->binary.lhs) == PROMQL_TYPE_SCALAR &&
		    promql_node_type(n->binary.rhs) == PROMQL_TYPE_SCALAR)
			return PROMQL_TYPE_SCALAR;
		return PROMQL_TYPE_VECTOR;
	}
	return PROMQL_TYPE_NONE;
}

const char *promql_type_name(enum promql_type t)
{
	static const char *names[] = { "none", "scalar", "vector", "matrix", "string" };

	return (unsigned)t < 5 ? names[t] : "none";
}

const char *promql_type_documented(enum promql_type t)
{
	if (t == PROMQL_TYPE_VECTOR)
		return "instant vector";
	if (t == PROMQL_TYPE_MATRIX)
		return "range vector";
	return promql_type_name(t);
}

static void expect_type(struct promql_checker *c, struct promql_node *n, enum promql_type want,
			const char *context)
{
	enum promql_type t = check(c, n);

	if (t != want)
		errf(c, n->pos.start, n->pos.end, "expected type %s in %s, got %s",
		     promql_type_documented(want), context, promql_type_documented(t));
}

static void check_aggregate(struct promql_checker *c, struct promql_node *n)
{
	expect_type(c, n->agg.expr, PROMQL_TYPE_VECTOR, "aggregation expression");
	switch (n->agg.op) {
	case PROMQL_AGG_TOPK: case PROMQL_AGG_BOTTOMK: case PROMQL_AGG_QUANTILE:
	case PROMQL_AGG_LIMITK: case PROMQL_AGG_LIMIT_RATIO:
		expect_type(c, n->agg.param, PROMQL_TYPE_SCALAR, "aggregation parameter");
		break;
	case PROMQL_AGG_COUNT_VALUES:
		expect_type(c, n->agg.param, PROMQL_TYPE_STRING, "aggregation parameter");
		break;
	default:
		break;
	}
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* The operator's text between the operands, trimmed (upstream's opRange). */
static struct promql_pos op_range(const struct promql_checker *c, const struct promql_node *n)
{
	struct promql_pos r;

	for (r.start = n->binary.lhs->pos.end; is_space(c->in[r.start]); r.start++)
		;
	for (r.end = n->binary.rhs->pos.start - 1; r.end > r.start && is_space(c->in[r.end]);
	     r.end--)
		;
	return r;
}

static void check_on_group(struct promql_checker *c, const struct promql_node *n)
{
	const struct promql_vector_matching *vm = n->binary.vm;
	struct promql_pos r;

	if (!vm->on)
		return;
	for (size_t i = 0; i < vm->matching.n; i++) {
		for (size_t j = 0; j < vm->include.n; j++) {
			const struct promql_str *a = &vm->matching.v[i], *b = &vm->include.v[j];
			struct buf q = { 0 };

			if (a->len != b->len || memcmp(a->s, b->s, a->len))
				continue;
			r = op_range(c, n);
			promql_quote(a->s, a->len, &q);
			errf(c, r.start, r.end, "label %s must not occur in ON and GROUP clause at once",
			     q.data ? q.data : "");
			buf_free(&q);
		}
	}
}

static bool has_fill(const struct promql_vector_matching *vm)
{
	return vm->fill_lhs_set || vm->fill_rhs_set;
}

/* The matching rules once both operand types are known. */
static void check_matching(struct promql_checker *c, struct promql_node *n,
			   enum promql_type lt, enum promql_type rt)
{
	struct promql_vector_matching *vm = n->binary.vm;
	enum promql_binop op = n->binary.op;
	const char *ops = promql_binop_str(op);

	if (lt != PROMQL_TYPE_VECTOR || rt != PROMQL_TYPE_VECTOR) {
		if (vm->matching.n > 0)
			errn(c, n, "vector matching only allowed between instant vectors");
		if (has_fill(vm))
			errn(c, n, "filling in missing series only allowed between instant vectors");
		n->binary.vm = NULL;
	} else if (promql_binop_is_set(op)) {
		if (vm->card == PROMQL_CARD_ONE_TO_MANY || vm->card == PROMQL_CARD_MANY_TO_ONE)
			errf(c, n->pos.start, n->pos.end, "no grouping allowed for \"%s\" operation", ops);
		if (vm->card != PROMQL_CARD_MANY_TO_MANY)
			errn(c, n, "set operations must always be many-to-many");
		if (has_fill(vm))
			errn(c, n, "filling in missing series not allowed for set operators");
	}
	if ((lt == PROMQL_TYPE_SCALAR || rt == PROMQL_TYPE_SCALAR) && promql_binop_is_set(op))
		errf(c, n->pos.start, n->pos.end,
		     "set operator \"%s\" not allowed in binary scalar expression", ops);
}

static enum promql_type check_binary(struct promql_checker *c, struct promql_node *n)
{
	enum promql_type lt = check(c, n->binary.lhs), rt = check(c, n->binary.rhs);
	struct promql_vector_matching *vm = n->binary.vm;
	enum promql_binop op = n->binary.op;
	struct promql_pos r;

	if (n->binary.return_bool && !promql_binop_is_comparison(op)) {
		r = op_range(c, n);
		errf(c, r.start, r.end, "bool modifier can only be used on comparison operators");
	}
	if (promql_binop_is_comparison(op) && !n->binary.return_bool &&
	    lt == PROMQL_TYPE_SCALAR && rt == PROMQL_TYPE_SCALAR) {
		r = op_range(c, n);
		errf(c, r.start, r.end, "comparisons between scalars must use BOOL modifier");
	}
	if (promql_binop_is_set(op) && vm->card == PROMQL_CARD_ONE_TO_ONE)
		vm->card = PROMQL_CARD_MANY_TO_MANY;
	check_on_group(c, n);
	if (lt != PROMQL_TYPE_SCALAR && lt != PROMQL_TYPE_VECTOR)
		errn(c, n->binary.lhs, "binary expression must contain only scalar and instant "
		     "vector types");
	if (rt != PROMQL_TYPE_SCALAR && rt != PROMQL_TYPE_VECTOR)
		errn(c, n->binary.rhs, "binary expression must contain only scalar and instant "
		     "vector types");
	check_matching(c, n, lt, rt);
	return lt == PROMQL_TYPE_SCALAR && rt == PROMQL_TYPE_SCALAR ? PROMQL_TYPE_SCALAR :
	       PROMQL_TYPE_VECTOR;
}

static void check_arg_count(struct promql_checker *c, const struct promql_node *n)
{
	const struct promql_function *fn = n->call.fn;
	size_t nargs = fn->nargs, got = n->call.nargs;

	if (fn->variadic == 0) {
		if (nargs != got)
			errf(c, n->pos.start, n->pos.end,
			     "expected %zu argument(s) in call to \"%s\", got %zu", nargs, fn->name, got);
		return;
	}
	if (nargs - 1 > got)
		errf(c, n->pos.start, n->pos.end,
		     "expected at least %zu argument(s) in call to \"%s\", got %zu", nargs - 1,
		     fn->name, got);
	else if (fn->variadic > 0 && nargs - 1 + (size_t)fn->variadic < got)
		errf(c, n->pos.start, n->pos.end,
		     "expected at most %zu argument(s) in call to \"%s\", got %zu",
		     nargs - 1 + (size_t)fn->variadic, fn->name, got);
}

/* info(v, {labels}): the second argument is a bare label selector. */
static void check_info(struct promql_checker *c, struct promql_node *n)
{
	struct promql_node *sel = n->call.args[1];
	enum promql_type t = promql_node_type(sel);

	if (t != PROMQL_TYPE_VECTOR)
		errf(c, n->pos.start, n->pos.end,
		     "expected type instant vector in call to function \"info\", got %s",
		     promql_type_documented(t));
	if (sel->kind != PROMQL_VECTOR_SELECTOR)
		errn(c, sel, "expected label selectors only");
	else if (sel->vs.name.len)
		errn(c, sel, "expected label selectors only, got vector selector instead");
	else
		sel->vs.bypass_empty_matcher_check = true;
}

static enum promql_type check_call(struct promql_checker *c, struct promql_node *n)
{
	const struct promql_function *fn = n->call.fn;

	check_arg_count(c, n);
	if (fn->id == PROMQL_FN_INFO && n->call.nargs > 1)
		check_info(c, n);
	for (size_t i = 0; i < n->call.nargs; i++) {
		size_t k = i;
		enum promql_type t;

		if (k >= fn->nargs) {
			if (fn->variadic == 0)
				break;
			k = fn->nargs - 1;
		}
		t = check(c, n->call.args[i]);
		if (t != fn->args[k])
			errf(c, n->call.args[i]->pos.start, n->call.args[i]->pos.end,
			     "expected type %s in call to function \"%s\", got %s",
			     promql_type_documented(fn->args[k]), fn->name, promql_type_documented(t));
	}
	return fn->ret;
}

int promql_matcher_matches_empty(const struct promql_matcher *m)
{
	struct labels_regex *re;
	char err[256];
	bool match;

	switch (m->type) {
	case PROMQL_MATCH_EQ:
		return m->value.len == 0;
	case PROMQL_MATCH_NEQ:
		return m->value.len != 0;
	default:
		break;
	}
	if (labels_regex_compile(m->value.s, &re, err, sizeof(err)))
		return -1;
	match = labels_regex_match(re, "", 0);
	labels_regex_free(re);
	return m->type == PROMQL_MATCH_RE ? match : !match;
}

static void check_selector(struct promql_checker *c, const struct promql_node *n)
{
	if (n->vs.name.len) {
		/* The last matcher is the one for the name written before the braces. */
		for (size_t i = 0; i + 1 < n->vs.nmatchers; i++) {
			const struct promql_matcher *m = &n->vs.matchers[i];
			struct buf q1 = { 0 }, q2 = { 0 };

			if (strcmp(m->name.s, LABELS_METRIC_NAME))
				continue;
			promql_quote(n->vs.name.s, n->vs.name.len, &q1);
			promql_quote(m->value.s, m->value.len, &q2);
			errf(c, n->pos.start, n->pos.end, "metric name must not be set twice: %s or %s",
			     q1.data ? q1.data : "", q2.data ? q2.data : "");
			buf_free(&q1);
			buf_free(&q2);
		}
		return;
	}
	if (n->vs.bypass_empty_matcher_check)
		return;
	for (size_t i = 0; i < n->vs.nmatchers; i++) {
		int e = promql_matcher_matches_empty(&n->vs.matchers[i]);

		if (e < 0)
			c->oom = true;
		if (e == 0)
			return;
	}
	errn(c, n, "vector selector must contain at least one non-empty matcher");
}

static enum promql_type check(struct promql_checker *c, struct promql_node *n)
{
	enum promql_type t;

	switch (n->kind) {
	case PROMQL_AGGREGATE:
		check_aggregate(c, n);
		return PROMQL_TYPE_VECTOR;
	case PROMQL_BINARY:
		return check_binary(c, n);
	case PROMQL_CALL:
		return check_call(c, n);
	case PROMQL_PAREN:
		return check(c, n->paren.expr);
	case PROMQL_UNARY:
		t = check(c, n->unary.expr);
		if (t != PROMQL_TYPE_SCALAR && t != PROMQL_TYPE_VECTOR)
			errf(c, n->pos.start, n->pos.end, "unary expression only allowed on "
			     "expressions of type scalar or instant vector, got \"%s\"",
			     promql_type_documented(t));
		return t;
	case PROMQL_SUBQUERY:
		t = check(c, n->subquery.expr);
		if (t != PROMQL_TYPE_VECTOR)
			errf(c, n->pos.start, n->pos.end,
			     "subquery is only allowed on instant vector, got %s instead",
			     promql_type_name(t));
		return PROMQL_TYPE_MATRIX;
	case PROMQL_MATRIX_SELECTOR:
		check(c, n->matrix.vs);
		return PROMQL_TYPE_MATRIX;
	case PROMQL_VECTOR_SELECTOR:
		check_selector(c, n);
		return PROMQL_TYPE_VECTOR;
	case PROMQL_DURATION:
		errn(c, n, "unknown node type: *parser.DurationExpr");
		return PROMQL_TYPE_SCALAR;
	default:
		return promql_node_type(n);
	}
}

int promql_check(struct promql_checker *c, struct promql_node *n)
{
	check(c, n);
	return c->failed ? -1 : 0;
}
