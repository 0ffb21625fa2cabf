/*
 * The printer: upstream's String() for every node, the canonical text that
 * /api/v1/format_query returns and that error messages and rule files show.
 *
 * Canonical means: keywords in lower case, "by (a, b) " before the argument list,
 * " on (a) group_left (b)" with spaces, matchers sorted and joined by ",", ranges
 * and offsets as model.Duration ("1h30m"), @ timestamps with three decimals,
 * numbers in shortest fixed notation, strings re-quoted with double quotes,
 * duration expressions as written (step(), min_of(...), parentheses kept).
 */
#include <stdlib.h>
#include <string.h>

#include "labels/labels.h"
#include "promql/internal.h"

static const char *const binop_strs[] = {
	[PROMQL_OP_ADD] = "+", [PROMQL_OP_SUB] = "-", [PROMQL_OP_MUL] = "*",
	[PROMQL_OP_DIV] = "/", [PROMQL_OP_MOD] = "%", [PROMQL_OP_POW] = "^",
	[PROMQL_OP_ATAN2] = "atan2", [PROMQL_OP_EQL] = "==", [PROMQL_OP_NEQ] = "!=",
	[PROMQL_OP_GTR] = ">", [PROMQL_OP_LSS] = "<", [PROMQL_OP_GTE] = ">=",
	[PROMQL_OP_LTE] = "<=", [PROMQL_OP_TRIM_UPPER] = "</", [PROMQL_OP_TRIM_LOWER] = ">/",
	[PROMQL_OP_AND] = "and", [PROMQL_OP_OR] = "or", [PROMQL_OP_UNLESS] = "unless",
};

static const char *const aggop_strs[] = {
	[PROMQL_AGG_SUM] = "sum", [PROMQL_AGG_AVG] = "avg", [PROMQL_AGG_COUNT] = "count",
	[PROMQL_AGG_MIN] = "min", [PROMQL_AGG_MAX] = "max", [PROMQL_AGG_GROUP] = "group",
	[PROMQL_AGG_STDDEV] = "stddev", [PROMQL_AGG_STDVAR] = "stdvar",
	[PROMQL_AGG_TOPK] = "topk", [PROMQL_AGG_BOTTOMK] = "bottomk",
	[PROMQL_AGG_COUNT_VALUES] = "count_values", [PROMQL_AGG_QUANTILE] = "quantile",
	[PROMQL_AGG_LIMITK] = "limitk", [PROMQL_AGG_LIMIT_RATIO] = "limit_ratio",
};

const char *promql_binop_str(enum promql_binop op)
{
	return (unsigned)op < sizeof(binop_strs) / sizeof(binop_strs[0]) ? binop_strs[op] : "?";
}

const char *promql_aggop_str(enum promql_aggop op)
{
	return (unsigned)op < sizeof(aggop_strs) / sizeof(aggop_strs[0]) ? aggop_strs[op] : "?";
}

bool promql_binop_is_comparison(enum promql_binop op)
{
	return op >= PROMQL_OP_EQL && op <= PROMQL_OP_LTE;
}

bool promql_binop_is_set(enum promql_binop op)
{
	return op == PROMQL_OP_AND || op == PROMQL_OP_OR || op == PROMQL_OP_UNLESS;
}

bool promql_aggop_has_param(enum promql_aggop op)
{
	switch (op) {
	case PROMQL_AGG_TOPK: case PROMQL_AGG_BOTTOMK: case PROMQL_AGG_COUNT_VALUES:
	case PROMQL_AGG_QUANTILE: case PROMQL_AGG_LIMITK: case PROMQL_AGG_LIMIT_RATIO:
		return true;
	default:
		return false;
	}
}

static void put_labels(const struct promql_labels *l, struct buf *out)
{
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			buf_puts(out, ", ");
		promql_format_label_name(&l->v[i], out);
	}
}

static void put_number(const struct promql_node *n, struct buf *out)
{
	double v = n->number.val;

	if (!n->number.duration) {
		promql_format_float(v, out);
		return;
	}
	/* model.Duration(v * 1e9): nanoseconds, shown at millisecond resolution. */
	v = v * 1e9 / 1e6;
	if (v >= 9.2e15 || v <= -9.2e15 || v != v)
		v = 0;
	promql_format_duration((int64_t)v, out);
}

static void put_duration(const struct promql_node *n, struct buf *out)
{
	const struct promql_node *l = n->duration.lhs, *r = n->duration.rhs;

	if (n->duration.wrapped)
		buf_putc(out, '(');
	switch (n->duration.op) {
	case PROMQL_DUR_STEP:
		buf_puts(out, "step()");
		break;
	case PROMQL_DUR_RANGE:
		buf_puts(out, "range()");
		break;
	case PROMQL_DUR_MIN_OF:
	case PROMQL_DUR_MAX_OF:
		buf_puts(out, n->duration.op == PROMQL_DUR_MIN_OF ? "min_of(" : "max_of(");
		promql_format(l, out);
		buf_puts(out, ", ");
		promql_format(r, out);
		buf_putc(out, ')');
		break;
	default:
		if (!l) {
			if (n->duration.op == PROMQL_DUR_SUB)
				buf_putc(out, '-');
			promql_format(r, out);
			break;
		}
		promql_format(l, out);
		buf_printf(out, " %s ", binop_strs[n->duration.op - PROMQL_DUR_ADD + PROMQL_OP_ADD]);
		promql_format(r, out);
	}
	if (n->duration.wrapped)
		buf_putc(out, ')');
}

static void put_at(const struct promql_modifiers *m, struct buf *out)
{
	switch (m->at) {
	case PROMQL_AT_TIMESTAMP:
		buf_printf(out, " @ %.3f", (double)m->at_ms / 1000.0);
		break;
	case PROMQL_AT_START:
		buf_puts(out, " @ start()");
		break;
	case PROMQL_AT_END:
		buf_puts(out, " @ end()");
		break;
	default:
		break;
	}
}

static void put_offset(const struct promql_modifiers *m, struct buf *out)
{
	if (m->offset_expr) {
		buf_puts(out, " offset ");
		promql_format(m->offset_expr, out);
	} else if (m->offset_ms) {
		buf_puts(out, " offset ");
		promql_format_duration(m->offset_ms, out);
	}
}

static void put_range(int64_t ms, const struct promql_node *expr, struct buf *out)
{
	if (expr)
		promql_format(expr, out);
	else
		promql_format_duration(ms, out);
}

static void put_matcher(const struct promql_matcher *m, struct buf *out)
{
	static const char *const ops[] = { "=", "!=", "=~", "!~" };
	bool plain = m->name.len > 0;

	for (size_t i = 0; i < m->name.len && plain; i++) {
		char c = m->name.s[i];

		plain = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(i > 0 && c >= '0' && c <= '9');
	}
	if (plain)
		buf_append(out, m->name.s, m->name.len);
	else
		promql_quote(m->name.s, m->name.len, out);
	buf_puts(out, ops[m->type]);
	promql_quote(m->value.s, m->value.len, out);
}

static int cmp_str(const void *a, const void *b)
{
	const struct buf *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->data, y->data, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Selector body: name, then the other matchers' texts sorted bytewise. */
static void put_matchers(const struct promql_node *n, struct buf *out)
{
	struct buf *ms = calloc(n->vs.nmatchers ? n->vs.nmatchers : 1, sizeof(*ms));
	size_t k = 0;

	if (!ms) {
		out->oom = true;
		return;
	}
	for (size_t i = 0; i < n->vs.nmatchers; i++) {
		const struct promql_matcher *m = &n->vs.matchers[i];

		if (!strcmp(m->name.s, LABELS_METRIC_NAME) && m->type == PROMQL_MATCH_EQ &&
		    n->vs.name.len && m->value.len == n->vs.name.len &&
		    !memcmp(m->value.s, n->vs.name.s, m->value.len))
			continue;
		put_matcher(m, &ms[k]);
		if (ms[k].oom || !ms[k].data)
			out->oom = true;
		k++;
	}
	buf_append(out, n->vs.name.s, n->vs.name.len);
	if (k && !out->oom) {
		qsort(ms, k, sizeof(*ms), cmp_str);
		buf_putc(out, '{');
		for (size_t i = 0; i < k; i++) {
			if (i)
				buf_putc(out, ',');
			buf_append(out, ms[i].data, ms[i].len);
		}
		buf_putc(out, '}');
	}
	for (size_t i = 0; i < k; i++)
		buf_free(&ms[i]);
	free(ms);
}

static void put_extended(const struct promql_node *vs, struct buf *out)
{
	if (vs->vs.anchored)
		buf_puts(out, " anchored");
	else if (vs->vs.smoothed)
		buf_puts(out, " smoothed");
}

static void put_vector_selector(const struct promql_node *n, struct buf *out)
{
	put_matchers(n, out);
	put_at(&n->vs.mod, out);
	put_extended(n, out);
	put_offset(&n->vs.mod, out);
}

static void put_matrix(const struct promql_node *n, struct buf *out)
{
	const struct promql_node *vs = n->matrix.vs;

	put_matchers(vs, out);
	buf_putc(out, '[');
	put_range(n->matrix.range_ms, n->matrix.range_expr, out);
	buf_putc(out, ']');
	put_extended(vs, out);
	put_at(&vs->vs.mod, out);
	put_offset(&vs->vs.mod, out);
}

void promql_format_subquery_suffix(const struct promql_node *n, struct buf *out)
{
	buf_putc(out, '[');
	put_range(n->subquery.range_ms, n->subquery.range_expr, out);
	buf_puts(out, n->subquery.aligned ? "::" : ":");
	if (n->subquery.step_ms || n->subquery.step_expr)
		put_range(n->subquery.step_ms, n->subquery.step_expr, out);
	buf_putc(out, ']');
	put_at(&n->subquery.mod, out);
	put_offset(&n->subquery.mod, out);
}

static void put_subquery(const struct promql_node *n, struct buf *out)
{
	promql_format(n->subquery.expr, out);
	promql_format_subquery_suffix(n, out);
}

void promql_format_agg_prefix(const struct promql_node *n, struct buf *out)
{
	buf_puts(out, aggop_strs[n->agg.op]);
	if (n->agg.without || n->agg.grouping.n) {
		buf_puts(out, n->agg.without ? " without (" : " by (");
		put_labels(&n->agg.grouping, out);
		buf_puts(out, ") ");
	}
}

static void put_aggregate(const struct promql_node *n, struct buf *out)
{
	promql_format_agg_prefix(n, out);
	buf_putc(out, '(');
	if (n->agg.param) {
		promql_format(n->agg.param, out);
		buf_puts(out, ", ");
	}
	promql_format(n->agg.expr, out);
	buf_putc(out, ')');
}

static void put_fill_value(const char *name, double v, struct buf *out)
{
	buf_printf(out, " %s (", name);
	promql_format_float_v(v, out);
	buf_putc(out, ')');
}

static void put_fill(const struct promql_vector_matching *vm, struct buf *out)
{
	if (vm->fill_both) {
		put_fill_value("fill", vm->fill_lhs, out);
		return;
	}
	if (vm->fill_lhs_set)
		put_fill_value("fill_left", vm->fill_lhs, out);
	if (vm->fill_rhs_set)
		put_fill_value("fill_right", vm->fill_rhs, out);
}

void promql_format_matching(const struct promql_vector_matching *vm, struct buf *out)
{
	bool grouped = vm->card == PROMQL_CARD_MANY_TO_ONE || vm->card == PROMQL_CARD_ONE_TO_MANY;

	if (vm->matching.n || vm->on || grouped) {
		buf_puts(out, vm->on ? " on (" : " ignoring (");
		put_labels(&vm->matching, out);
		buf_putc(out, ')');
	}
	if (grouped) {
		buf_puts(out, vm->card == PROMQL_CARD_MANY_TO_ONE ? " group_left (" :
			 " group_right (");
		put_labels(&vm->include, out);
		buf_putc(out, ')');
	}
	put_fill(vm, out);
}

static void put_binary(const struct promql_node *n, struct buf *out)
{
	promql_format(n->binary.lhs, out);
	buf_putc(out, ' ');
	buf_puts(out, binop_strs[n->binary.op]);
	if (n->binary.return_bool)
		buf_puts(out, " bool");
	if (n->binary.vm)
		promql_format_matching(n->binary.vm, out);
	buf_putc(out, ' ');
	promql_format(n->binary.rhs, out);
}

static void put_call(const struct promql_node *n, struct buf *out)
{
	buf_puts(out, n->call.fn->name);
	buf_putc(out, '(');
	for (size_t i = 0; i < n->call.nargs; i++) {
		if (i)
			buf_puts(out, ", ");
		promql_format(n->call.args[i], out);
	}
	buf_putc(out, ')');
}

static void put_string(const struct promql_node *n, struct buf *out)
{
	promql_quote(n->string.s, n->string.len, out);
}

static void put_unary(const struct promql_node *n, struct buf *out)
{
	buf_puts(out, binop_strs[n->unary.op]);
	promql_format(n->unary.expr, out);
}

static void put_paren(const struct promql_node *n, struct buf *out)
{
	buf_putc(out, '(');
	promql_format(n->paren.expr, out);
	buf_putc(out, ')');
}

void promql_format(const struct promql_node *n, struct buf *out)
{
	static void (*const printers[])(const struct promql_node *, struct buf *) = {
		[PROMQL_NUMBER] = put_number,
		[PROMQL_STRING] = put_string,
		[PROMQL_VECTOR_SELECTOR] = put_vector_selector,
		[PROMQL_MATRIX_SELECTOR] = put_matrix,
		[PROMQL_SUBQUERY] = put_subquery,
		[PROMQL_CALL] = put_call,
		[PROMQL_AGGREGATE] = put_aggregate,
		[PROMQL_BINARY] = put_binary,
		[PROMQL_UNARY] = put_unary,
		[PROMQL_PAREN] = put_paren,
		[PROMQL_DURATION] = put_duration,
	};

	printers[n->kind](n, out);
}
