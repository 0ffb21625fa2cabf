/*
 * The PromQL parser: recursive descent with precedence climbing, written to give
 * the same trees and the same first error as upstream's yacc grammar.
 *
 * Upstream's grammar facts this follows:
 * - Binary precedence, loosest first: or; and unless; comparisons (and the trim
 *   operators </ >/); + -; * / % atan2; ^ (right-associative).
 * - A unary sign binds like * (its operand may contain ^), so -1^2 is -(1^2) and
 *   -1*2 is (-1)*2; a sign applied to a number literal folds into the literal.
 * - Postfix modifiers ([range], [range:step], offset, @, anchored, smoothed) bind
 *   tighter than any operator and apply to the primary expression before them.
 * - Aggregator and other keywords are metric names wherever an expression may
 *   start, unless what follows makes them an aggregation or a function call.
 * - Inside [...] a duration may be an arithmetic expression; after `offset` only a
 *   signed literal, a duration function or a parenthesized expression is taken,
 *   so `foo offset 5s - 8` subtracts 8 from the offset selector.
 *
 * Errors: upstream collects errors and reports the first; this parser stops at the
 * first one, which is the one upstream reports. Every node is allocated in the
 * caller's arena; the only other allocation (compiling regex matchers to validate
 * them) is freed before returning.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "labels/labels.h"
#include "promql/internal.h"

enum {
	PREC_OR = 1,
	PREC_AND,
	PREC_CMP,
	PREC_ADD,
	PREC_MUL,
	PREC_POW,
};

static const char DUR_EXPECTED[] = "number, duration, step(), or range()";

struct parser {
	struct lexer lx;
	struct token tok;
	const char *in;
	uint32_t len;
	struct arena *a;
	struct promql_parse_opts opts;
	uint32_t last_closing;	/* end of the last ) } ] number or duration read */
	int nest;
	bool failed;
	struct promql_pos epos;
	char emsg[1024];
};

struct bin_mods {
	bool ret_bool, on, fill_lhs_set, fill_rhs_set, fill_both;
	enum promql_card card;
	struct promql_labels matching, include;
	double fill_lhs, fill_rhs;
};

static struct promql_node *parse_expr(struct parser *p, int min_prec);
static struct promql_node *parse_duration_expr(struct parser *p, const char *ctx, int min_prec);

/* --- errors and tokens -------------------------------------------------------------- */

static void failv(struct parser *p, uint32_t start, uint32_t end, const char *fmt, va_list ap)
{
	if (p->failed)
		return;
	p->failed = true;
	p->epos.start = start;
	p->epos.end = end;
	vsnprintf(p->emsg, sizeof(p->emsg), fmt, ap);
}

static void *fail(struct parser *p, uint32_t start, uint32_t end, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void *fail(struct parser *p, uint32_t start, uint32_t end, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(p, start, end, fmt, ap);
	va_end(ap);
	return NULL;
}

static void *fail_at(struct parser *p, const struct promql_node *n, const char *msg)
{
	return fail(p, n->pos.start, n->pos.end, "%s", msg);
}

static void *oom(struct parser *p)
{
	return fail(p, 0, 0, "out of memory");
}

/* "unexpected <token>[ in <ctx>][, expected <what>]" about the current token. */
static void *unexpected(struct parser *p, const char *ctx, const char *expected)
{
	struct buf b = { 0 };

	buf_puts(&b, "unexpected ");
	promql_tok_desc(&p->tok, p->in, &b);
	if (ctx && *ctx)
		buf_printf(&b, " in %s", ctx);
	if (expected && *expected)
		buf_printf(&b, ", expected %s", expected);
	if (b.oom)
		oom(p);
	else
		fail(p, p->tok.pos, p->tok.pos + p->tok.len, "%s", b.data);
	buf_free(&b);
	return NULL;
}

/* Consume the current token and read the next one. last_closing follows consumed
 * tokens only: upstream's reductions happen before the lookahead is read, so node
 * ends never include it. */
static int advance(struct parser *p)
{
	switch (p->tok.type) {
	case TOK_RPAREN: case TOK_RBRACE: case TOK_RBRACKET: case TOK_NUMBER: case TOK_DURATION:
		p->last_closing = p->tok.pos + p->tok.len;
		break;
	default:
		break;
	}
	do
		promql_lex_next(&p->lx, &p->tok);
	while (p->tok.type == TOK_COMMENT);
	if (p->tok.type == TOK_ERROR) {
		fail(p, p->lx.err_start, p->len, "%s", p->lx.errmsg);
		return -1;
	}
	return 0;
}

static bool is(const struct parser *p, enum tok_type t)
{
	return p->tok.type == t;
}

/* Consume a token of type t, or report it as unexpected. */
static int expect(struct parser *p, enum tok_type t, const char *ctx, const char *expected)
{
	if (!is(p, t)) {
		unexpected(p, ctx, expected);
		return -1;
	}
	return advance(p);
}

/* --- nodes ------------------------------------------------------------------------- */

static struct promql_node *new_node(struct parser *p, enum promql_kind kind, uint32_t start,
				    uint32_t end)
{
	struct promql_node *n = arena_calloc(p->a, 1, sizeof(*n));

	if (!n)
		return oom(p);
	n->kind = kind;
	n->pos.start = start;
	n->pos.end = end;
	n->depth = 1;
	return n;
}

/* Account for a child; deep trees are refused so that every recursive walker
 * (checker, printer, evaluator) stays within the stack. */
static bool add_child(struct parser *p, struct promql_node *n, const struct promql_node *c)
{
	if (c && c->depth + 1 > n->depth)
		n->depth = c->depth + 1;
	if (n->depth > PROMQL_MAX_DEPTH) {
		fail(p, n->pos.start, n->pos.end, "query is too deeply nested (more than %d levels)",
		     PROMQL_MAX_DEPTH);
		return false;
	}
	return true;
}

static bool str_copy(struct parser *p, const char *s, size_t n, struct promql_str *out)
{
	out->s = arena_strndup(p->a, s, n);
	out->len = n;
	if (!out->s)
		oom(p);
	return out->s != NULL;
}

/* A STRING token's value; upstream reports failures at the current token. */
static bool unquote_tok(struct parser *p, const struct token *t, struct promql_str *out)
{
	struct buf q = { 0 };

	if (promql_unquote(p->a, p->in + t->pos, t->len, out) == 0)
		return true;
	promql_quote(p->in + t->pos, t->len, &q);
	fail(p, p->tok.pos, p->tok.pos + p->tok.len, "error unquoting string %s: invalid syntax",
	     q.data ? q.data : "");
	buf_free(&q);
	return false;
}

/* Growable arrays in the arena (old blocks are simply left behind). */
static void *grow(struct parser *p, void *v, size_t n, size_t *cap, size_t size)
{
	void *nv;

	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 4;
	nv = arena_alloc(p->a, *cap * size);
	if (!nv)
		return oom(p);
	if (n)
		memcpy(nv, v, n * size);
	return nv;
}

/* --- number and duration literals --------------------------------------------------- */

static bool literal_out_of_range(double v)
{
	return v > 9223372036854775808.0 / 1e9 || v < -9223372036854775808.0 / 1e9;
}

/* NUMBER or DURATION at the current token. */
static struct promql_node *number_literal(struct parser *p)
{
	struct token t = p->tok;
	struct promql_node *n = new_node(p, PROMQL_NUMBER, t.pos, t.pos + t.len);
	char err[1024];
	int64_t ms;

	if (!n)
		return NULL;
	if (t.type == TOK_DURATION) {
		if (promql_parse_duration(p->in + t.pos, t.len, &ms, err, sizeof(err)))
			return fail(p, t.pos, t.pos + t.len, "%s", err);
		n->number.val = (double)ms / 1000.0;
		n->number.duration = true;
	} else if (promql_parse_number(p->in + t.pos, t.len, &n->number.val, err, sizeof(err))) {
		return fail(p, t.pos, t.pos + t.len, "error parsing number: %s", err);
	}
	return advance(p) ? NULL : n;
}

static bool is_number_tok(const struct parser *p)
{
	return is(p, TOK_NUMBER) || is(p, TOK_DURATION);
}

static bool experimental_duration(struct parser *p, const struct promql_node *n)
{
	if (p->opts.duration_expr)
		return true;
	fail_at(p, n, "experimental duration expression is not enabled");
	return false;
}

static struct promql_node *dur_node(struct parser *p, enum promql_durop op,
				    struct promql_node *lhs, struct promql_node *rhs,
				    uint32_t start, uint32_t end)
{
	struct promql_node *n = new_node(p, PROMQL_DURATION, start, end);

	if (!n)
		return NULL;
	n->duration.op = op;
	n->duration.lhs = lhs;
	n->duration.rhs = rhs;
	if (!add_child(p, n, lhs) || !add_child(p, n, rhs))
		return NULL;
	return n;
}

/* A parenthesized duration marks itself Wrapped so that printing round-trips; a
 * bare literal gets a unary-plus node to carry the mark (as upstream does). */
static struct promql_node *wrap_paren(struct parser *p, struct promql_node *e, uint32_t start,
				      uint32_t end)
{
	struct promql_node *w;

	if (e->kind == PROMQL_DURATION) {
		e->duration.wrapped = true;
		return e;
	}
	w = dur_node(p, PROMQL_DUR_ADD, NULL, e, start, end);
	if (w)
		w->duration.wrapped = true;
	return w;
}

static struct promql_node *apply_dur_sign(struct parser *p, const struct token *op,
					  struct promql_node *e)
{
	if (e->kind == PROMQL_NUMBER) {
		if (op->type == TOK_SUB)
			e->number.val = -e->number.val;
		if (literal_out_of_range(e->number.val))
			return fail(p, op->pos, op->pos + op->len, "duration out of range");
		e->pos.start = op->pos;
		return e;
	}
	if (op->type == TOK_ADD)
		return e;
	return dur_node(p, PROMQL_DUR_SUB, NULL, e, op->pos, e->pos.end);
}

/* step(), range(), min_of(a, b) or max_of(a, b), the name being the current token. */
static struct promql_node *dur_func(struct parser *p, const char *ctx)
{
	static const enum promql_durop ops[] = {
		[TOK_STEP - TOK_STEP] = PROMQL_DUR_STEP, [TOK_RANGE - TOK_STEP] = PROMQL_DUR_RANGE,
		[TOK_MIN_OF - TOK_STEP] = PROMQL_DUR_MIN_OF, [TOK_MAX_OF - TOK_STEP] = PROMQL_DUR_MAX_OF,
	};
	struct token kw = p->tok;
	struct promql_node *l = NULL, *r = NULL, *n;

	if (advance(p) || expect(p, TOK_LPAREN, ctx, DUR_EXPECTED))
		return NULL;
	if (kw.type == TOK_MIN_OF || kw.type == TOK_MAX_OF) {
		l = parse_duration_expr(p, ctx, PREC_OR);
		if (!l || expect(p, TOK_COMMA, ctx, DUR_EXPECTED))
			return NULL;
		r = parse_duration_expr(p, ctx, PREC_OR);
		if (!r)
			return NULL;
	}
	if (!is(p, TOK_RPAREN))
		return unexpected(p, ctx, DUR_EXPECTED);
	n = dur_node(p, ops[kw.type - TOK_STEP], l, r, kw.pos, p->tok.pos + 1);
	return n && !advance(p) && experimental_duration(p, n) ? n : NULL;
}

static struct promql_node *dur_paren(struct parser *p, const char *ctx)
{
	uint32_t start = p->tok.pos;
	struct promql_node *e;

	if (advance(p))
		return NULL;
	e = parse_duration_expr(p, ctx, PREC_OR);
	if (!e)
		return NULL;
	if (!is(p, TOK_RPAREN))
		return unexpected(p, ctx, DUR_EXPECTED);
	if (advance(p) || !experimental_duration(p, e))
		return NULL;
	return wrap_paren(p, e, start, p->last_closing);
}

static struct promql_node *dur_primary(struct parser *p, const char *ctx)
{
	struct promql_node *n;

	switch (p->tok.type) {
	case TOK_NUMBER:
	case TOK_DURATION:
		n = number_literal(p);
		if (n && literal_out_of_range(n->number.val))
			return fail_at(p, n, "duration out of range");
		return n;
	case TOK_STEP:
	case TOK_RANGE:
	case TOK_MIN_OF:
	case TOK_MAX_OF:
		return dur_func(p, ctx);
	case TOK_LPAREN:
		return dur_paren(p, ctx);
	default:
		return unexpected(p, ctx, DUR_EXPECTED);
	}
}

static int dur_prec(enum tok_type t, enum promql_durop *op)
{
	switch (t) {
	case TOK_ADD: *op = PROMQL_DUR_ADD; return PREC_ADD;
	case TOK_SUB: *op = PROMQL_DUR_SUB; return PREC_ADD;
	case TOK_MUL: *op = PROMQL_DUR_MUL; return PREC_MUL;
	case TOK_DIV: *op = PROMQL_DUR_DIV; return PREC_MUL;
	case TOK_MOD: *op = PROMQL_DUR_MOD; return PREC_MUL;
	case TOK_POW: *op = PROMQL_DUR_POW; return PREC_POW;
	default: return 0;
	}
}

static struct promql_node *dur_binary(struct parser *p, const char *ctx, int min_prec,
				      struct promql_node *lhs)
{
	enum promql_durop op;
	int prec;

	while (lhs && (prec = dur_prec(p->tok.type, &op)) && prec >= min_prec) {
		struct token optok = p->tok;
		struct promql_node *rhs;

		if (advance(p) || !experimental_duration(p, lhs))
			return NULL;
		rhs = parse_duration_expr(p, ctx, prec == PREC_POW ? prec : prec + 1);
		if (!rhs)
			return NULL;
		if ((op == PROMQL_DUR_DIV || op == PROMQL_DUR_MOD) && rhs->kind == PROMQL_NUMBER &&
		    rhs->number.val == 0)
			return fail(p, optok.pos, optok.pos + optok.len, "%s",
				    op == PROMQL_DUR_DIV ? "division by zero" : "modulo by zero");
		lhs = dur_node(p, op, lhs, rhs, lhs->pos.start, rhs->pos.end);
	}
	return lhs;
}

static struct promql_node *parse_duration_expr(struct parser *p, const char *ctx, int min_prec)
{
	struct promql_node *lhs;

	if (++p->nest > PROMQL_MAX_DEPTH)
		return fail(p, p->tok.pos, p->tok.pos, "query is too deeply nested (more than %d levels)",
			    PROMQL_MAX_DEPTH);
	if (is(p, TOK_ADD) || is(p, TOK_SUB)) {
		struct token op = p->tok;

		if (advance(p))
			return NULL;
		lhs = parse_duration_expr(p, ctx, PREC_POW);
		if (lhs)
			lhs = apply_dur_sign(p, &op, lhs);
	} else {
		lhs = dur_primary(p, ctx);
	}
	lhs = dur_binary(p, ctx, min_prec, lhs);
	p->nest--;
	return lhs;
}

/* A range or step: literals must be positive; expressions are checked when the
 * evaluator resolves them. */
static struct promql_node *positive_duration(struct parser *p, const char *ctx)
{
	struct promql_node *n = parse_duration_expr(p, ctx, PREC_OR);

	if (n && n->kind == PROMQL_NUMBER && n->number.val <= 0)
		return fail_at(p, n, "duration must be greater than 0");
	return n;
}

static int literal_ms(struct parser *p, const struct promql_node *n, int64_t *ms)
{
	char err[128];

	if (promql_seconds_to_ms(n->number.val, ms, err, sizeof(err))) {
		fail_at(p, n, err);
		return -1;
	}
	return 0;
}

/* Split a parsed duration into the literal milliseconds or the expression. */
static int set_duration(struct parser *p, struct promql_node *d, int64_t *ms,
			struct promql_node **expr)
{
	*ms = 0;
	*expr = NULL;
	if (d->kind == PROMQL_NUMBER)
		return literal_ms(p, d, ms);
	*expr = d;
	return 0;
}

/* --- modifiers (offset, @, anchored, smoothed) ---------------------------------- */

/* The modifiers and the end position a modifier updates, per node kind. */
static struct promql_modifiers *mods_of(struct promql_node *e, uint32_t **endp)
{
	switch (e->kind) {
	case PROMQL_VECTOR_SELECTOR:
		*endp = &e->pos.end;
		return &e->vs.mod;
	case PROMQL_MATRIX_SELECTOR:
		*endp = &e->pos.end;
		return &e->matrix.vs->vs.mod;
	case PROMQL_SUBQUERY:
		*endp = &e->pos.end;
		return &e->subquery.mod;
	default:
		return NULL;
	}
}

static struct promql_node *apply_offset(struct parser *p, struct promql_node *e,
					struct promql_node *d)
{
	uint32_t *endp;
	struct promql_modifiers *m = mods_of(e, &endp);

	if (!m)
		return fail_at(p, e, "offset modifier must be preceded by an instant vector "
			       "selector or range vector selector or a subquery");
	if (m->offset_ms != 0 || m->offset_expr)
		return fail_at(p, e, "offset may not be set multiple times");
	if (set_duration(p, d, &m->offset_ms, &m->offset_expr) ||
	    (m->offset_expr && !add_child(p, e, d)))
		return NULL;
	*endp = p->last_closing;
	return e;
}

/* What may follow `offset`: a signed literal, step()/range()/min_of()/max_of() with
 * an optional sign, or a parenthesized duration expression. */
static struct promql_node *parse_offset(struct parser *p, struct promql_node *e)
{
	struct promql_node *d;
	struct token sign = { .type = TOK_EOF };

	if (is(p, TOK_ADD) || is(p, TOK_SUB)) {
		sign = p->tok;
		if (advance(p))
			return NULL;
	}
	switch (p->tok.type) {
	case TOK_NUMBER:
	case TOK_DURATION:
		/* A signed literal is range-checked after the sign, at the sign. */
		d = number_literal(p);
		if (d && sign.type == TOK_EOF && literal_out_of_range(d->number.val))
			return fail_at(p, d, "duration out of range");
		break;
	case TOK_STEP:
	case TOK_RANGE:
	case TOK_MIN_OF:
	case TOK_MAX_OF:
	case TOK_LPAREN:
		d = dur_primary(p, "offset");
		break;
	default:
		return unexpected(p, "offset", DUR_EXPECTED);
	}
	if (d && sign.type != TOK_EOF)
		d = apply_dur_sign(p, &sign, d);
	return d ? apply_offset(p, e, d) : NULL;
}

static struct promql_node *apply_at(struct parser *p, struct promql_node *e,
				    enum promql_at at, int64_t ms)
{
	uint32_t *endp;
	struct promql_modifiers *m = mods_of(e, &endp);

	if (!m)
		return fail_at(p, e, "@ modifier must be preceded by an instant vector selector "
			       "or range vector selector or a subquery");
	if (m->at != PROMQL_AT_NONE)
		return fail_at(p, e, "@ <timestamp> may not be set multiple times");
	m->at = at;
	m->at_ms = ms;
	*endp = p->last_closing;
	return e;
}

/* timestamp.FromFloatSeconds; out-of-range conversions give what Go on amd64 gives. */
static int64_t seconds_to_ts(double ts)
{
	double v = round(ts * 1000.0);

	if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)v;
}

static struct promql_node *parse_at(struct parser *p, struct promql_node *e)
{
	struct promql_node *num;
	bool neg = false;
	double ts;

	if (is(p, TOK_START) || is(p, TOK_END)) {
		enum promql_at at = is(p, TOK_START) ? PROMQL_AT_START : PROMQL_AT_END;

		if (advance(p) || expect(p, TOK_LPAREN, "@", "timestamp") ||
		    expect(p, TOK_RPAREN, "@", "timestamp"))
			return NULL;
		return apply_at(p, e, at, 0);
	}
	if (is(p, TOK_ADD) || is(p, TOK_SUB)) {
		neg = is(p, TOK_SUB);
		if (advance(p))
			return NULL;
	}
	if (!is_number_tok(p))
		return unexpected(p, "@", "timestamp");
	num = number_literal(p);
	if (!num)
		return NULL;
	ts = neg ? -num->number.val : num->number.val;
	if (isnan(ts) || isinf(ts) || ts >= 9223372036854775807.0 ||
	    ts <= -9223372036854775808.0) {
		struct buf b = { 0 };

		promql_format_float_f6(ts, &b);
		fail(p, e->pos.start, e->pos.end, "timestamp out of bounds for @ modifier: %s",
		     b.data ? b.data : "");
		buf_free(&b);
		return NULL;
	}
	return apply_at(p, e, PROMQL_AT_TIMESTAMP, seconds_to_ts(ts));
}

static struct promql_node *set_extended(struct parser *p, struct promql_node *e,
					enum tok_type kw)
{
	const char *name = kw == TOK_ANCHORED ? "anchored" : "smoothed";
	struct promql_node *vs = e;

	if (!p->opts.extended_range_selectors)
		return fail(p, e->pos.start, e->pos.end,
			    "%s modifier is experimental and not enabled", name);
	if (e->kind == PROMQL_MATRIX_SELECTOR)
		vs = e->matrix.vs;
	else if (e->kind == PROMQL_SUBQUERY)
		return fail(p, e->pos.start, e->pos.end,
			    "%s modifier is not supported for subqueries", name);
	else if (e->kind != PROMQL_VECTOR_SELECTOR)
		return fail(p, e->pos.start, e->pos.end, "%s modifier not implemented", name);
	if (kw == TOK_ANCHORED)
		vs->vs.anchored = true;
	else
		vs->vs.smoothed = true;
	if (vs->vs.anchored && vs->vs.smoothed)
		return fail_at(p, e, "anchored and smoothed modifiers cannot be used together");
	return e;
}

/* --- ranges and subqueries ----------------------------------------------------------- */

static bool can_start_duration(const struct parser *p)
{
	switch (p->tok.type) {
	case TOK_NUMBER: case TOK_DURATION: case TOK_ADD: case TOK_SUB: case TOK_STEP:
	case TOK_RANGE: case TOK_MIN_OF: case TOK_MAX_OF: case TOK_LPAREN:
		return true;
	default:
		return false;
	}
}

static struct promql_node *new_subquery(struct parser *p, struct promql_node *e,
					struct promql_node *range, struct promql_node *step,
					bool aligned)
{
	struct promql_node *n = new_node(p, PROMQL_SUBQUERY, e->pos.start, p->tok.pos + 1);

	if (!n || !add_child(p, n, e) || set_duration(p, range, &n->subquery.range_ms,
						      &n->subquery.range_expr))
		return NULL;
	if (step && set_duration(p, step, &n->subquery.step_ms, &n->subquery.step_expr))
		return NULL;
	n->subquery.expr = e;
	n->subquery.aligned = aligned;
	return advance(p) ? NULL : n;
}

static struct promql_node *new_matrix(struct parser *p, struct promql_node *e,
				      struct promql_node *range, uint32_t lb)
{
	const char *msg = NULL;
	struct promql_node *n;

	if (e->kind != PROMQL_VECTOR_SELECTOR)
		msg = "ranges only allowed for vector selectors";
	else if (e->vs.mod.offset_ms || e->vs.mod.offset_expr)
		msg = "no offset modifiers allowed before range";
	else if (e->vs.mod.at != PROMQL_AT_NONE)
		msg = "no @ modifiers allowed before range";
	if (msg)
		return fail(p, lb, p->tok.pos + 1, "%s", msg);
	if (advance(p))
		return NULL;
	n = new_node(p, PROMQL_MATRIX_SELECTOR, e->pos.start, p->last_closing);
	if (!n || !add_child(p, n, e) ||
	    set_duration(p, range, &n->matrix.range_ms, &n->matrix.range_expr))
		return NULL;
	n->matrix.vs = e;
	return n;
}

static struct promql_node *parse_bracket(struct parser *p, struct promql_node *e)
{
	static const char ctx[] = "subquery or range selector";
	uint32_t lb = p->tok.pos;
	struct promql_node *range, *step = NULL;
	bool aligned;

	if (advance(p))
		return NULL;
	range = positive_duration(p, ctx);
	if (!range)
		return NULL;
	if (is(p, TOK_COLON) || is(p, TOK_DOUBLE_COLON)) {
		aligned = is(p, TOK_DOUBLE_COLON);
		if (advance(p))
			return NULL;
		if (can_start_duration(p))
			step = positive_duration(p, ctx);
		else if (!is(p, TOK_RBRACKET))
			return unexpected(p, "subquery selector",
					  "number, duration, step(), range(), or \"]\"");
		if (p->failed)
			return NULL;
		if (!is(p, TOK_RBRACKET))
			return unexpected(p, "subquery selector", "\"]\"");
		return new_subquery(p, e, range, step, aligned);
	}
	if (!is(p, TOK_RBRACKET))
		return unexpected(p, "subquery or range", "\":\" or \"]\"");
	return new_matrix(p, e, range, lb);
}

static struct promql_node *parse_postfix(struct parser *p, struct promql_node *e)
{
	while (e) {
		enum tok_type t = p->tok.type;

		switch (t) {
		case TOK_LBRACKET:
			e = parse_bracket(p, e);
			break;
		case TOK_OFFSET:
			e = advance(p) ? NULL : parse_offset(p, e);
			break;
		case TOK_AT:
			e = advance(p) ? NULL : parse_at(p, e);
			break;
		case TOK_ANCHORED:
		case TOK_SMOOTHED:
			e = advance(p) ? NULL : set_extended(p, e, t);
			break;
		default:
			return e;
		}
	}
	return NULL;
}

/* --- label matchers and vector selectors -------------------------------------------- */

static bool is_match_op(const struct parser *p)
{
	return is(p, TOK_EQL) || is(p, TOK_NEQ) || is(p, TOK_EQL_REGEX) || is(p, TOK_NEQ_REGEX);
}

static enum promql_match match_type(enum tok_type t)
{
	switch (t) {
	case TOK_NEQ: return PROMQL_MATCH_NEQ;
	case TOK_EQL_REGEX: return PROMQL_MATCH_RE;
	case TOK_NEQ_REGEX: return PROMQL_MATCH_NRE;
	default: return PROMQL_MATCH_EQ;
	}
}

/* The value of `name op "value"`; regexes must compile (reported on name..value). */
static int matcher_value(struct parser *p, uint32_t name_pos, struct promql_matcher *m)
{
	struct token v = p->tok;
	struct labels_regex *re;
	char err[256];

	if (!is(p, TOK_STRING)) {
		unexpected(p, "label matching", "string");
		return -1;
	}
	if (!unquote_tok(p, &v, &m->value))
		return -1;
	if (m->type == PROMQL_MATCH_RE || m->type == PROMQL_MATCH_NRE) {
		if (strlen(m->value.s) != m->value.len) {
			fail(p, name_pos, v.pos + v.len, "error parsing regexp: invalid NUL byte");
			return -1;
		}
		if (labels_regex_compile(m->value.s, &re, err, sizeof(err))) {
			fail(p, name_pos, v.pos + v.len, "%s", err);
			return -1;
		}
		labels_regex_free(re);
	}
	return advance(p);
}

static int parse_matcher(struct parser *p, struct promql_matcher *m)
{
	struct token name = p->tok;

	if (is(p, TOK_STRING)) {
		if (!unquote_tok(p, &name, &m->name) || advance(p))
			return -1;
		if (!is_match_op(p)) {
			/* {"metric"}: a quoted metric name. */
			m->value = m->name;
			m->type = PROMQL_MATCH_EQ;
			return str_copy(p, LABELS_METRIC_NAME, strlen(LABELS_METRIC_NAME),
					&m->name) ? 0 : -1;
		}
	} else if (is(p, TOK_IDENTIFIER)) {
		if (!str_copy(p, p->in + name.pos, name.len, &m->name) || advance(p))
			return -1;
		if (!is_match_op(p)) {
			unexpected(p, "label matching", "label matching operator");
			return -1;
		}
	} else {
		unexpected(p, "label matching", "identifier or \"}\"");
		return -1;
	}
	m->type = match_type(p->tok.type);
	if (advance(p))
		return -1;
	return matcher_value(p, name.pos, m);
}

/* `{ matcher, ... }` at the current token; *end is the position after '}'. */
static int parse_matchers(struct parser *p, struct promql_matcher **v, size_t *n, size_t *cap,
			  uint32_t *end)
{
	if (advance(p))
		return -1;
	while (!is(p, TOK_RBRACE)) {
		*v = grow(p, *v, *n, cap, sizeof(**v));
		if (!*v || parse_matcher(p, &(*v)[*n]))
			return -1;
		(*n)++;
		if (is(p, TOK_COMMA)) {
			if (advance(p))
				return -1;
			continue;
		}
		if (!is(p, TOK_RBRACE)) {
			unexpected(p, "label matching", "\",\" or \"}\"");
			return -1;
		}
	}
	*end = p->tok.pos + 1;
	return advance(p);
}

/* A selector: `name`, `name{...}` or `{...}`; name_tok is NULL for the last. */
static struct promql_node *vector_selector(struct parser *p, const struct token *name_tok)
{
	struct promql_matcher *v = NULL;
	size_t n = 0, cap = 0;
	uint32_t start = name_tok ? name_tok->pos : p->tok.pos;
	uint32_t end = name_tok ? name_tok->pos + name_tok->len : 0;
	struct promql_node *vs;

	if (is(p, TOK_LBRACE) && parse_matchers(p, &v, &n, &cap, &end))
		return NULL;
	vs = new_node(p, PROMQL_VECTOR_SELECTOR, start, end);
	if (!vs)
		return NULL;
	if (name_tok) {
		struct promql_matcher *m;

		v = grow(p, v, n, &cap, sizeof(*v));
		if (!v || !str_copy(p, p->in + name_tok->pos, name_tok->len, &vs->vs.name))
			return NULL;
		m = &v[n++];
		m->type = PROMQL_MATCH_EQ;
		m->value = vs->vs.name;
		if (!str_copy(p, LABELS_METRIC_NAME, strlen(LABELS_METRIC_NAME), &m->name))
			return NULL;
	} else if (!str_copy(p, "", 0, &vs->vs.name)) {
		return NULL;
	}
	vs->vs.matchers = v;
	vs->vs.nmatchers = n;
	return vs;
}

/* --- grouping labels ------------------------------------------------------------------ */

static bool is_maybe_label(enum tok_type t)
{
	switch (t) {
	case TOK_IDENTIFIER: case TOK_METRIC_IDENTIFIER: case TOK_ATAN2: case TOK_LAND:
	case TOK_LOR: case TOK_LUNLESS: case TOK_START: case TOK_END: case TOK_STEP:
	case TOK_RANGE: case TOK_MIN_OF: case TOK_MAX_OF:
		return true;
	default:
		return (t > TOK_AGG_START && t < TOK_AGG_END) || (t > TOK_KW_START && t < TOK_KW_END);
	}
}

static int grouping_label(struct parser *p, struct promql_str *out)
{
	struct token t = p->tok;

	if (is(p, TOK_STRING)) {
		if (!unquote_tok(p, &t, out))
			return -1;
		if (!out->len || !labels_valid_utf8(out->s, out->len)) {
			unexpected(p, "grouping opts", "label");
			return -1;
		}
	} else if (is_maybe_label(t.type) && promql_legacy_label_name(p->in + t.pos, t.len)) {
		if (!str_copy(p, p->in + t.pos, t.len, out))
			return -1;
	} else {
		unexpected(p, "grouping opts", "label");
		return -1;
	}
	return advance(p);
}

/* `( label, ... )` at the current token. */
static int grouping_labels(struct parser *p, struct promql_labels *out)
{
	struct promql_str *v = NULL;
	size_t n = 0, cap = 0;

	if (!is(p, TOK_LPAREN)) {
		unexpected(p, "grouping opts", "\"(\"");
		return -1;
	}
	if (advance(p))
		return -1;
	while (!is(p, TOK_RPAREN)) {
		v = grow(p, v, n, &cap, sizeof(*v));
		if (!v || grouping_label(p, &v[n]))
			return -1;
		n++;
		if (is(p, TOK_COMMA)) {
			if (advance(p))
				return -1;
		} else if (!is(p, TOK_RPAREN)) {
			unexpected(p, "grouping opts", "\",\" or \")\"");
			return -1;
		}
	}
	out->v = v;
	out->n = n;
	return advance(p);
}

/* --- function calls and aggregations --------------------------------------------------- */

/* `( expr, ... )` at the current token; *end is the position after ')'. */
static int call_args(struct parser *p, struct promql_node ***args, size_t *nargs,
		     uint32_t *end)
{
	size_t cap = 0;

	*args = NULL;
	*nargs = 0;
	if (advance(p))
		return -1;
	while (!is(p, TOK_RPAREN)) {
		struct promql_node *e;

		e = parse_expr(p, PREC_OR);
		*args = grow(p, *args, *nargs, &cap, sizeof(**args));
		if (!e || !*args)
			return -1;
		(*args)[(*nargs)++] = e;
		if (is(p, TOK_COMMA)) {
			struct token comma = p->tok;

			if (advance(p))
				return -1;
			/* upstream reduces `args ,` on ')' or ',' alike */
			if (is(p, TOK_RPAREN) || is(p, TOK_COMMA)) {
				fail(p, comma.pos, comma.pos + 1,
				     "trailing commas not allowed in function call args");
				return -1;
			}
		} else if (!is(p, TOK_RPAREN)) {
			unexpected(p, "", "");
			return -1;
		}
	}
	*end = p->tok.pos + 1;
	return advance(p);
}

static const struct promql_function *resolve_function(struct parser *p, const struct token *t)
{
	const char *name = p->in + t->pos;
	char low[16];
	const struct promql_function *fn;
	struct buf q = { 0 };

	if (t->type != TOK_IDENTIFIER && t->len < sizeof(low)) {
		/* Keyword spellings (STEP, Range) are case-insensitive. */
		for (uint32_t i = 0; i < t->len; i++)
			low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
		name = low;
	}
	fn = promql_function_lookup(name, t->len);
	if (fn && (!fn->experimental || p->opts.experimental_functions))
		return fn;
	promql_quote(p->in + t->pos, t->len, &q);
	fail(p, t->pos, t->pos + t->len, fn ? "function %s is not enabled" :
	     "unknown function with name %s", q.data ? q.data : "");
	buf_free(&q);
	return NULL;
}

static struct promql_node *function_call(struct parser *p, const struct token *name)
{
	struct promql_node **args, *n;
	const struct promql_function *fn;
	size_t nargs;
	uint32_t end;

	if (call_args(p, &args, &nargs, &end))
		return NULL;
	fn = resolve_function(p, name);
	if (!fn)
		return NULL;
	n = new_node(p, PROMQL_CALL, name->pos, end);
	if (!n)
		return NULL;
	for (size_t i = 0; i < nargs; i++)
		if (!add_child(p, n, args[i]))
			return NULL;
	n->call.fn = fn;
	n->call.args = args;
	n->call.nargs = nargs;
	return n;
}

static enum promql_aggop agg_op(enum tok_type t)
{
	static const enum promql_aggop ops[] = {
		PROMQL_AGG_SUM, PROMQL_AGG_AVG, PROMQL_AGG_COUNT, PROMQL_AGG_MIN,
		PROMQL_AGG_MAX, PROMQL_AGG_GROUP, PROMQL_AGG_STDDEV, PROMQL_AGG_STDVAR,
		PROMQL_AGG_TOPK, PROMQL_AGG_BOTTOMK, PROMQL_AGG_COUNT_VALUES,
		PROMQL_AGG_QUANTILE, PROMQL_AGG_LIMITK, PROMQL_AGG_LIMIT_RATIO,
	};

	return ops[t - TOK_SUM];
}

/* upstream's newAggregateExpr checks, in its order. */
static struct promql_node *finish_aggregate(struct parser *p, struct promql_node *n,
					    struct promql_node **args, size_t nargs)
{
	size_t want = promql_aggop_has_param(n->agg.op) ? 2 : 1;

	if (nargs == 0)
		return fail_at(p, n, "no arguments for aggregate expression provided");
	if ((n->agg.op == PROMQL_AGG_LIMITK || n->agg.op == PROMQL_AGG_LIMIT_RATIO) &&
	    !p->opts.experimental_functions)
		return fail(p, n->pos.start, n->pos.end, "%s() is experimental and must be enabled "
			    "with --enable-feature=promql-experimental-functions",
			    promql_aggop_str(n->agg.op));
	if (nargs != want)
		return fail(p, n->pos.start, n->pos.end, "wrong number of arguments for aggregate "
			    "expression provided, expected %zu, got %zu", want, nargs);
	n->agg.expr = args[want - 1];
	n->agg.param = want == 2 ? args[0] : NULL;
	for (size_t i = 0; i < nargs; i++)
		if (!add_child(p, n, args[i]))
			return NULL;
	return n;
}

static int agg_modifier(struct parser *p, struct promql_node *n)
{
	n->agg.without = is(p, TOK_WITHOUT);
	if (advance(p) || grouping_labels(p, &n->agg.grouping))
		return -1;
	n->pos.end = p->last_closing;
	return 0;
}

static struct promql_node *aggregate(struct parser *p, const struct token *op)
{
	struct promql_node *n = new_node(p, PROMQL_AGGREGATE, op->pos, op->pos + op->len);
	struct promql_node **args;
	bool modifier_first;
	size_t nargs;

	if (!n)
		return NULL;
	n->agg.op = agg_op(op->type);
	modifier_first = is(p, TOK_BY) || is(p, TOK_WITHOUT);
	if (modifier_first && agg_modifier(p, n))
		return NULL;
	if (!is(p, TOK_LPAREN))
		return unexpected(p, "aggregation", "");
	if (call_args(p, &args, &nargs, &n->pos.end))
		return NULL;
	if (!modifier_first && (is(p, TOK_BY) || is(p, TOK_WITHOUT)) && agg_modifier(p, n))
		return NULL;
	return finish_aggregate(p, n, args, nargs);
}

/* --- expressions ----------------------------------------------------------------------- */

/* Tokens that name a metric where an expression starts (upstream's metric_identifier). */
static bool is_metric_identifier(enum tok_type t)
{
	switch (t) {
	case TOK_IDENTIFIER: case TOK_METRIC_IDENTIFIER: case TOK_BY: case TOK_WITHOUT:
	case TOK_OFFSET: case TOK_LAND: case TOK_LOR: case TOK_LUNLESS: case TOK_START:
	case TOK_END: case TOK_STEP: case TOK_RANGE: case TOK_ANCHORED: case TOK_SMOOTHED:
	case TOK_FILL: case TOK_FILL_LEFT: case TOK_FILL_RIGHT: case TOK_MIN_OF: case TOK_MAX_OF:
		return true;
	default:
		return t > TOK_AGG_START && t < TOK_AGG_END;
	}
}

static struct promql_node *string_literal(struct parser *p)
{
	struct token t = p->tok;
	struct promql_node *n = new_node(p, PROMQL_STRING, t.pos, t.pos + t.len);

	if (!n || !unquote_tok(p, &t, &n->string) || advance(p))
		return NULL;
	return n;
}

static struct promql_node *paren_expr(struct parser *p)
{
	uint32_t start = p->tok.pos;
	struct promql_node *e, *n;

	if (advance(p))
		return NULL;
	e = parse_expr(p, PREC_OR);
	if (!e)
		return NULL;
	if (!is(p, TOK_RPAREN))
		return unexpected(p, "", "");
	n = new_node(p, PROMQL_PAREN, start, p->tok.pos + 1);
	if (!n || !add_child(p, n, e) || advance(p))
		return NULL;
	n->paren.expr = e;
	return n;
}

/* An identifier or keyword where an expression starts. */
static struct promql_node *name_expr(struct parser *p)
{
	struct token t = p->tok;
	bool agg = t.type > TOK_AGG_START && t.type < TOK_AGG_END;
	bool callable = t.type == TOK_IDENTIFIER || t.type == TOK_START || t.type == TOK_END ||
			t.type == TOK_STEP || t.type == TOK_RANGE || t.type == TOK_MIN_OF ||
			t.type == TOK_MAX_OF;

	if (advance(p))
		return NULL;
	if (agg && (is(p, TOK_LPAREN) || is(p, TOK_BY) || is(p, TOK_WITHOUT)))
		return aggregate(p, &t);
	if (callable && is(p, TOK_LPAREN))
		return function_call(p, &t);
	return vector_selector(p, &t);
}

static struct promql_node *parse_primary(struct parser *p)
{
	switch (p->tok.type) {
	case TOK_NUMBER:
	case TOK_DURATION:
		return number_literal(p);
	case TOK_STRING:
		return string_literal(p);
	case TOK_LPAREN:
		return paren_expr(p);
	case TOK_LBRACE:
		return vector_selector(p, NULL);
	default:
		if (is_metric_identifier(p->tok.type))
			return name_expr(p);
		return unexpected(p, "", "");
	}
}

static struct promql_node *parse_unary(struct parser *p)
{
	struct token op = p->tok;
	struct promql_node *e, *n;

	if (!is(p, TOK_ADD) && !is(p, TOK_SUB))
		return parse_postfix(p, parse_primary(p));
	if (advance(p))
		return NULL;
	e = parse_expr(p, PREC_POW);
	if (!e)
		return NULL;
	if (e->kind == PROMQL_NUMBER) {
		if (op.type == TOK_SUB)
			e->number.val = -e->number.val;
		e->pos.start = op.pos;
		return e;
	}
	n = new_node(p, PROMQL_UNARY, op.pos, e->pos.end);
	if (!n || !add_child(p, n, e))
		return NULL;
	n->unary.op = op.type == TOK_SUB ? PROMQL_OP_SUB : PROMQL_OP_ADD;
	n->unary.expr = e;
	return n;
}

static int binop(enum tok_type t, enum promql_binop *op)
{
	static const struct {
		enum tok_type tok;
		enum promql_binop op;
		int prec;
	} ops[] = {
		{ TOK_LOR, PROMQL_OP_OR, PREC_OR },
		{ TOK_LAND, PROMQL_OP_AND, PREC_AND },
		{ TOK_LUNLESS, PROMQL_OP_UNLESS, PREC_AND },
		{ TOK_EQLC, PROMQL_OP_EQL, PREC_CMP },
		{ TOK_NEQ, PROMQL_OP_NEQ, PREC_CMP },
		{ TOK_GTR, PROMQL_OP_GTR, PREC_CMP },
		{ TOK_LSS, PROMQL_OP_LSS, PREC_CMP },
		{ TOK_GTE, PROMQL_OP_GTE, PREC_CMP },
		{ TOK_LTE, PROMQL_OP_LTE, PREC_CMP },
		{ TOK_TRIM_UPPER, PROMQL_OP_TRIM_UPPER, PREC_CMP },
		{ TOK_TRIM_LOWER, PROMQL_OP_TRIM_LOWER, PREC_CMP },
		{ TOK_ADD, PROMQL_OP_ADD, PREC_ADD },
		{ TOK_SUB, PROMQL_OP_SUB, PREC_ADD },
		{ TOK_MUL, PROMQL_OP_MUL, PREC_MUL },
		{ TOK_DIV, PROMQL_OP_DIV, PREC_MUL },
		{ TOK_MOD, PROMQL_OP_MOD, PREC_MUL },
		{ TOK_ATAN2, PROMQL_OP_ATAN2, PREC_MUL },
		{ TOK_POW, PROMQL_OP_POW, PREC_POW },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i].tok == t) {
			*op = ops[i].op;
			return ops[i].prec;
		}
	}
	return 0;
}

/* `( [+-] number )` after fill, fill_left or fill_right. */
static int fill_value(struct parser *p, double *v)
{
	struct promql_node *n;
	bool neg = false;

	if (expect(p, TOK_LPAREN, "", ""))
		return -1;
	if (is(p, TOK_ADD) || is(p, TOK_SUB)) {
		neg = is(p, TOK_SUB);
		if (advance(p))
			return -1;
	}
	if (!is_number_tok(p)) {
		unexpected(p, "", "");
		return -1;
	}
	n = number_literal(p);
	if (!n || expect(p, TOK_RPAREN, "", ""))
		return -1;
	*v = neg ? -n->number.val : n->number.val;
	return 0;
}

static int fill_modifiers(struct parser *p, struct bin_mods *m)
{
	if (is(p, TOK_FILL)) {
		if (advance(p) || fill_value(p, &m->fill_lhs))
			return -1;
		m->fill_rhs = m->fill_lhs;
		m->fill_lhs_set = m->fill_rhs_set = m->fill_both = true;
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (is(p, TOK_FILL_LEFT) && !m->fill_lhs_set) {
			if (advance(p) || fill_value(p, &m->fill_lhs))
				return -1;
			m->fill_lhs_set = true;
		} else if (is(p, TOK_FILL_RIGHT) && !m->fill_rhs_set) {
			if (advance(p) || fill_value(p, &m->fill_rhs))
				return -1;
			m->fill_rhs_set = true;
		}
	}
	return 0;
}

/* [bool] [on|ignoring (...) [group_left|group_right [(...)]]] [fill...] */
static int bin_modifiers(struct parser *p, struct bin_mods *m)
{
	memset(m, 0, sizeof(*m));
	if (is(p, TOK_BOOL)) {
		m->ret_bool = true;
		if (advance(p))
			return -1;
	}
	if (is(p, TOK_ON) || is(p, TOK_IGNORING)) {
		m->on = is(p, TOK_ON);
		if (advance(p) || grouping_labels(p, &m->matching))
			return -1;
		if (is(p, TOK_GROUP_LEFT) || is(p, TOK_GROUP_RIGHT)) {
			m->card = is(p, TOK_GROUP_LEFT) ? PROMQL_CARD_MANY_TO_ONE :
				  PROMQL_CARD_ONE_TO_MANY;
			if (advance(p) || (is(p, TOK_LPAREN) && grouping_labels(p, &m->include)))
				return -1;
		}
	}
	return fill_modifiers(p, m);
}

static struct promql_node *new_binary(struct parser *p, struct promql_node *lhs,
				      enum promql_binop op, const struct bin_mods *m,
				      struct promql_node *rhs)
{
	struct promql_node *n = new_node(p, PROMQL_BINARY, lhs->pos.start, rhs->pos.end);
	struct promql_vector_matching *vm;

	if (!n || !add_child(p, n, lhs) || !add_child(p, n, rhs))
		return NULL;
	if ((m->fill_lhs_set || m->fill_rhs_set) && !p->opts.binop_fill)
		return fail_at(p, n, "binop fill modifiers are experimental and not enabled");
	vm = arena_calloc(p->a, 1, sizeof(*vm));
	if (!vm)
		return oom(p);
	vm->card = m->card;
	vm->matching = m->matching;
	vm->on = m->on;
	vm->include = m->include;
	vm->fill_lhs_set = m->fill_lhs_set;
	vm->fill_rhs_set = m->fill_rhs_set;
	vm->fill_both = m->fill_both;
	vm->fill_lhs = m->fill_lhs;
	vm->fill_rhs = m->fill_rhs;
	n->binary.op = op;
	n->binary.lhs = lhs;
	n->binary.rhs = rhs;
	n->binary.return_bool = m->ret_bool;
	n->binary.vm = vm;
	return n;
}

static struct promql_node *parse_expr(struct parser *p, int min_prec)
{
	struct promql_node *lhs;
	enum promql_binop op;
	int prec;

	if (++p->nest > PROMQL_MAX_DEPTH)
		return fail(p, p->tok.pos, p->tok.pos, "query is too deeply nested (more than %d levels)",
			    PROMQL_MAX_DEPTH);
	lhs = parse_unary(p);
	while (lhs && (prec = binop(p->tok.type, &op)) && prec >= min_prec) {
		struct promql_node *rhs;
		struct bin_mods m;

		if (advance(p) || bin_modifiers(p, &m))
			return NULL;
		rhs = parse_expr(p, op == PROMQL_OP_POW ? prec : prec + 1);
		lhs = rhs ? new_binary(p, lhs, op, &m, rhs) : NULL;
	}
	p->nest--;
	return lhs;
}

/* --- entry points --------------------------------------------------------------------- */

void promql_position(const char *query, uint32_t offset, uint32_t *line, uint32_t *col)
{
	uint32_t nl = 0;
	bool seen = false;

	*line = 1;
	for (uint32_t i = 0; i < offset && query[i]; i++) {
		if (query[i] == '\n') {
			(*line)++;
			nl = i;
			seen = true;
		}
	}
	*col = seen ? offset - nl : offset + 1;
}

static void report(const struct parser *p, const char *q, struct promql_parse_error *perr,
		   char *err, size_t errlen)
{
	struct promql_parse_error e = { .pos = p->epos };

	promql_position(q, p->epos.start, &e.line, &e.col);
	snprintf(e.msg, sizeof(e.msg), "%s", p->emsg);
	if (perr)
		*perr = e;
	if (p->len == 0)
		snprintf(err, errlen, "unknown position: parse error: %s", p->emsg);
	else
		snprintf(err, errlen, "%u:%u: parse error: %s", e.line, e.col, p->emsg);
}

static int init(struct parser *p, struct arena *a, const char *q,
		const struct promql_parse_opts *opts)
{
	size_t len = strlen(q);

	memset(p, 0, sizeof(*p));
	p->a = a;
	p->in = q;
	p->len = (uint32_t)(len > PROMQL_MAX_QUERY_LEN ? PROMQL_MAX_QUERY_LEN : len);
	if (opts)
		p->opts = *opts;
	if (len > PROMQL_MAX_QUERY_LEN) {
		fail(p, 0, 0, "query is too long (more than %u bytes)", PROMQL_MAX_QUERY_LEN);
		return -1;
	}
	promql_lex_init(&p->lx, q, p->len);
	return advance(p);
}

int promql_parse(struct arena *a, const char *query, const struct promql_parse_opts *opts,
		 struct promql_node **out, struct promql_parse_error *perr, char *err,
		 size_t errlen)
{
	struct promql_checker c = { .in = query };
	struct parser p;
	struct promql_node *n = NULL;

	if (init(&p, a, query, opts))
		goto fail;
	if (is(&p, TOK_EOF)) {
		fail(&p, 0, 0, "no expression found in input");
		goto fail;
	}
	n = parse_expr(&p, PREC_OR);
	if (!n)
		goto fail;
	if (!is(&p, TOK_EOF)) {
		unexpected(&p, "", "");
		goto fail;
	}
	if (promql_check(&c, n)) {
		p.failed = true;
		p.epos = c.epos;
		snprintf(p.emsg, sizeof(p.emsg), "%s", c.emsg);
		goto fail;
	}
	*out = n;
	return 0;
fail:
	report(&p, query, perr, err, errlen);
	return -1;
}

int promql_parse_selector(struct arena *a, const char *selector, struct promql_node **out,
			  struct promql_parse_error *perr, char *err, size_t errlen)
{
	struct parser p;
	struct promql_node *n = NULL;
	struct token t;

	if (init(&p, a, selector, NULL))
		goto fail;
	t = p.tok;
	if (is(&p, TOK_LBRACE)) {
		n = vector_selector(&p, NULL);
	} else if (is_metric_identifier(t.type)) {
		n = advance(&p) ? NULL : vector_selector(&p, &t);
	} else {
		unexpected(&p, "", "");
	}
	if (!n)
		goto fail;
	if (!is(&p, TOK_EOF)) {
		unexpected(&p, "", "");
		goto fail;
	}
	*out = n;
	return 0;
fail:
	report(&p, selector, perr, err, errlen);
	return -1;
}
