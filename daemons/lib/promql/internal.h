/*
 * Internal interfaces of the promql module: the lexer's tokens, the Go-compatible
 * literal conversions the lexer, parser and printer share, and the type checker.
 * Nothing here is part of the public contract (see promql.h).
 */
#ifndef LGTM_PROMQL_INTERNAL_H
#define LGTM_PROMQL_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "promql/promql.h"

/*
 * Token types, grouped as upstream groups them: the group decides how a token is
 * described in "unexpected ..." messages (<op:+>, <aggr:sum>, <by>, "(" ...).
 */
enum tok_type {
	TOK_EOF,
	TOK_ERROR,
	TOK_COMMENT,
	TOK_IDENTIFIER,
	TOK_METRIC_IDENTIFIER,
	TOK_NUMBER,
	TOK_DURATION,
	TOK_STRING,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_COMMA,
	TOK_EQL,
	TOK_COLON,
	TOK_DOUBLE_COLON,

	TOK_OPS_START,
	TOK_ADD,
	TOK_SUB,
	TOK_MUL,
	TOK_DIV,
	TOK_MOD,
	TOK_POW,
	TOK_EQLC,
	TOK_NEQ,
	TOK_LSS,
	TOK_LTE,
	TOK_GTR,
	TOK_GTE,
	TOK_EQL_REGEX,
	TOK_NEQ_REGEX,
	TOK_AT,
	TOK_ATAN2,
	TOK_LAND,
	TOK_LOR,
	TOK_LUNLESS,
	TOK_TRIM_UPPER,
	TOK_TRIM_LOWER,
	TOK_OPS_END,

	TOK_AGG_START,
	TOK_SUM,
	TOK_AVG,
	TOK_COUNT,
	TOK_MIN,
	TOK_MAX,
	TOK_GROUP,
	TOK_STDDEV,
	TOK_STDVAR,
	TOK_TOPK,
	TOK_BOTTOMK,
	TOK_COUNT_VALUES,
	TOK_QUANTILE,
	TOK_LIMITK,
	TOK_LIMIT_RATIO,
	TOK_AGG_END,

	TOK_KW_START,
	TOK_BOOL,
	TOK_BY,
	TOK_GROUP_LEFT,
	TOK_GROUP_RIGHT,
	TOK_IGNORING,
	TOK_OFFSET,
	TOK_ON,
	TOK_WITHOUT,
	TOK_SMOOTHED,
	TOK_ANCHORED,
	TOK_FILL,
	TOK_FILL_LEFT,
	TOK_FILL_RIGHT,
	TOK_KW_END,

	/* Preprocessors: start() end() step() range() min_of() max_of(). */
	TOK_START,
	TOK_END,
	TOK_STEP,
	TOK_RANGE,
	TOK_MIN_OF,
	TOK_MAX_OF,
};

struct token {
	enum tok_type type;
	uint32_t pos, len;	/* the token's text is in[pos, pos+len) */
};

struct lexer {
	const char *in;
	uint32_t len;
	uint32_t pos, start;
	int paren_depth;
	bool brace_open, bracket_open, got_colon, got_duration;
	bool in_duration;	/* the next token is read by the duration-expression state */
	bool done;		/* an error or EOF was returned */
	uint32_t err_start;	/* for TOK_ERROR: where the error range starts */
	char errmsg[256];
};

void promql_lex_init(struct lexer *lx, const char *in, uint32_t len);
void promql_lex_next(struct lexer *lx, struct token *t);
/* Upstream's Item.desc(): `identifier "foo"`, `<op:+>`, `"("`, `end of input`. */
void promql_tok_desc(const struct token *t, const char *in, struct buf *out);
/* The lowercase spelling of an operator, aggregator or keyword token. */
const char *promql_tok_str(enum tok_type t);

/* --- Go-compatible conversions (literal.c) ------------------------------------ */

/* utf8.DecodeRune: width of the rune at s (1 for an invalid byte, *r = 0xFFFD). */
int promql_utf8_decode(const char *s, size_t n, int32_t *r);
bool promql_is_print(int32_t r);
/* The value of a hex digit, -1 for anything else. */
int promql_hexval(int c);
/* strconv.QuoteRune ('x'), fmt %#U (U+0078 'x'). */
void promql_quote_rune(int32_t r, struct buf *out);
void promql_format_U(int32_t r, struct buf *out);
/* fmt %v of a float64 (shortest %g, "Inf" without sign), fmt %f. */
/* float_digits.c: the shortest digits of a finite v > 0 that read back as v (Go's
 * shortest formatting): digits[] (at most 17, no terminator), their count, and the
 * decimal exponent dp (v = 0.d1d2... * 10^dp). pq_reference_digits is the slow
 * printf/strtod search the fast path falls back to (and is tested against). */
int pq_shortest_digits(double v, char *digits, int *dp);
int pq_reference_digits(double v, char *digits, int *dp);
void promql_format_float_v(double v, struct buf *out);
void promql_format_float_f6(double v, struct buf *out);
/* Upstream's parser.number(): strconv.ParseInt(s, 0, 64), else ParseFloat; err gets
 * strconv's message ("strconv.ParseFloat: parsing \"x\": invalid syntax"). */
int promql_parse_number(const char *s, size_t n, double *out, char *err, size_t errlen);
bool promql_legacy_label_name(const char *s, size_t n);
void promql_format_label_name(const struct promql_str *s, struct buf *out);

/* --- printing pieces shared by the printer and the prettifier (print.c) ------- */

/* "sum by (a) " / "sum without (a) " / "sum" */
void promql_format_agg_prefix(const struct promql_node *n, struct buf *out);
/* " on (a) group_left (b) fill (0)" */
void promql_format_matching(const struct promql_vector_matching *vm, struct buf *out);
/* "[5m:1m] @ 1.000 offset 1m" */
void promql_format_subquery_suffix(const struct promql_node *n, struct buf *out);

/* --- type checking (check.c) -------------------------------------------------- */

struct promql_checker {
	const char *in;
	struct promql_pos epos;
	char emsg[1024];
	bool failed;
	bool oom;
};

/* Upstream's checkAST on a parsed tree; on failure c->epos/emsg hold the first
 * error. May rewrite vector matching (set operators, non-vector operands). */
int promql_check(struct promql_checker *c, struct promql_node *n);
/* Whether the matcher matches the empty string; -1 if its regex does not compile. */
int promql_matcher_matches_empty(const struct promql_matcher *m);

#endif
