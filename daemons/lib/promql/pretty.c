/*
 * The prettifier: upstream's Pretty(level), the multi-line layout that
 * /api/v1/format_query returns. A node whose one-line String() fits in 100 bytes
 * is printed as that line; a longer one is broken around its children, each child
 * on its own lines indented two spaces per level. The quirks are upstream's: a
 * subquery that fits is not indented, and a unary operator sticks to its child.
 */
#include <string.h>

#include "promql/internal.h"

#define COLUMN_LIMIT 100

static void pretty(const struct promql_node *n, int level, struct buf *out);

static void indent(int level, struct buf *out)
{
	for (int i = 0; i < level; i++)
		buf_puts(out, "  ");
}

static bool needs_split(const struct promql_node *n)
{
	struct buf b = { 0 };
	bool split;

	promql_format(n, &b);
	split = b.len > COLUMN_LIMIT;
	buf_free(&b);
	return split;
}

static void pretty_call(const struct promql_node *n, int level, struct buf *out)
{
	buf_puts(out, n->call.fn->name);
	buf_puts(out, "(\n");
	for (size_t i = 0; i < n->call.nargs; i++) {
		if (i)
			buf_puts(out, ",\n");
		pretty(n->call.args[i], level + 1, out);
	}
	buf_putc(out, '\n');
	indent(level, out);
	buf_putc(out, ')');
}

static void pretty_aggregate(const struct promql_node *n, int level, struct buf *out)
{
	promql_format_agg_prefix(n, out);
	buf_puts(out, "(\n");
	if (n->agg.param) {
		pretty(n->agg.param, level + 1, out);
		buf_puts(out, ",\n");
	}
	pretty(n->agg.expr, level + 1, out);
	buf_putc(out, '\n');
	indent(level, out);
	buf_putc(out, ')');
}

static void pretty_binary(const struct promql_node *n, int level, struct buf *out)
{
	pretty(n->binary.lhs, level + 1, out);
	buf_putc(out, '\n');
	indent(level, out);
	buf_puts(out, promql_binop_str(n->binary.op));
	if (n->binary.return_bool)
		buf_puts(out, " bool");
	if (n->binary.vm)
		promql_format_matching(n->binary.vm, out);
	buf_putc(out, '\n');
	pretty(n->binary.rhs, level + 1, out);
}

/* The child is printed at the operator's level, then its indentation dropped. */
static void pretty_unary(const struct promql_node *n, int level, struct buf *out)
{
	struct buf child = { 0 };
	size_t a = 0, z;

	pretty(n->unary.expr, level, &child);
	z = child.len;
	while (a < z && strchr(" \t\n\r", child.data[a]))
		a++;
	while (z > a && strchr(" \t\n\r", child.data[z - 1]))
		z--;
	indent(level, out);
	buf_puts(out, promql_binop_str(n->unary.op));
	if (child.oom)
		out->oom = true;
	else if (z > a)
		buf_append(out, child.data + a, z - a);
	buf_free(&child);
}

static void pretty(const struct promql_node *n, int level, struct buf *out)
{
	bool split;

	if (n->kind == PROMQL_UNARY) {
		pretty_unary(n, level, out);
		return;
	}
	split = needs_split(n);
	if (n->kind == PROMQL_SUBQUERY) {
		if (!split) {
			promql_format(n, out);
			return;
		}
		pretty(n->subquery.expr, level, out);
		promql_format_subquery_suffix(n, out);
		return;
	}
	if (split && n->kind == PROMQL_BINARY) {
		/* Its operands indent themselves. */
		pretty_binary(n, level, out);
		return;
	}
	indent(level, out);
	if (!split) {
		promql_format(n, out);
		return;
	}
	switch (n->kind) {
	case PROMQL_AGGREGATE:
		pretty_aggregate(n, level, out);
		break;
	case PROMQL_CALL:
		pretty_call(n, level, out);
		break;
	case PROMQL_PAREN:
		buf_puts(out, "(\n");
		pretty(n->paren.expr, level + 1, out);
		buf_putc(out, '\n');
		indent(level, out);
		buf_putc(out, ')');
		break;
	default:
		promql_format(n, out);
	}
}

void promql_format_pretty(const struct promql_node *n, struct buf *out)
{
	pretty(n, 0, out);
}
