/*
 * The PromQL lexer, a state machine with upstream's states: statements (the
 * default), inside braces (where keywords are plain identifiers and '=~' exists),
 * and duration expressions (the first tokens after '[', where step(), range(),
 * min_of(), max_of() and arithmetic appear). Which state reads a token decides both
 * what is accepted and which error upstream reports, so the transitions follow
 * upstream's exactly, including their odd corners: after the first number inside
 * brackets the statements state takes over again, with ':' and the duration
 * keywords allowed while the bracket is open.
 *
 * A lexical error produces one TOK_ERROR whose range runs from the error's start to
 * the end of the input (upstream's convention); after it the lexer only returns
 * TOK_EOF.
 */
#include <stdio.h>
#include <string.h>

#include "promql/internal.h"

#define EOFCH (-1)

static const struct {
	const char *word;
	enum tok_type type;
} keywords[] = {
	{ "and", TOK_LAND },		{ "or", TOK_LOR },
	{ "unless", TOK_LUNLESS },	{ "atan2", TOK_ATAN2 },
	{ "sum", TOK_SUM },		{ "avg", TOK_AVG },
	{ "count", TOK_COUNT },		{ "min", TOK_MIN },
	{ "max", TOK_MAX },		{ "group", TOK_GROUP },
	{ "stddev", TOK_STDDEV },	{ "stdvar", TOK_STDVAR },
	{ "topk", TOK_TOPK },		{ "bottomk", TOK_BOTTOMK },
	{ "count_values", TOK_COUNT_VALUES }, { "quantile", TOK_QUANTILE },
	{ "limitk", TOK_LIMITK },	{ "limit_ratio", TOK_LIMIT_RATIO },
	{ "offset", TOK_OFFSET },	{ "smoothed", TOK_SMOOTHED },
	{ "anchored", TOK_ANCHORED },	{ "by", TOK_BY },
	{ "without", TOK_WITHOUT },	{ "on", TOK_ON },
	{ "ignoring", TOK_IGNORING },	{ "group_left", TOK_GROUP_LEFT },
	{ "group_right", TOK_GROUP_RIGHT }, { "fill", TOK_FILL },
	{ "fill_left", TOK_FILL_LEFT },	{ "fill_right", TOK_FILL_RIGHT },
	{ "bool", TOK_BOOL },		{ "start", TOK_START },
	{ "end", TOK_END },		{ "step", TOK_STEP },
	{ "range", TOK_RANGE },		{ "min_of", TOK_MIN_OF },
	{ "max_of", TOK_MAX_OF },	{ "inf", TOK_NUMBER },
	{ "nan", TOK_NUMBER },
};

static const struct {
	enum tok_type type;
	const char *str;
} symbols[] = {
	{ TOK_LPAREN, "(" },	{ TOK_RPAREN, ")" },	{ TOK_LBRACE, "{" },
	{ TOK_RBRACE, "}" },	{ TOK_LBRACKET, "[" },	{ TOK_RBRACKET, "]" },
	{ TOK_COMMA, "," },	{ TOK_EQL, "=" },	{ TOK_COLON, ":" },
	{ TOK_DOUBLE_COLON, "::" }, { TOK_ADD, "+" },	{ TOK_SUB, "-" },
	{ TOK_MUL, "*" },	{ TOK_DIV, "/" },	{ TOK_MOD, "%" },
	{ TOK_POW, "^" },	{ TOK_EQLC, "==" },	{ TOK_NEQ, "!=" },
	{ TOK_LSS, "<" },	{ TOK_LTE, "<=" },	{ TOK_GTR, ">" },
	{ TOK_GTE, ">=" },	{ TOK_EQL_REGEX, "=~" }, { TOK_NEQ_REGEX, "!~" },
	{ TOK_AT, "@" },	{ TOK_TRIM_UPPER, "</" }, { TOK_TRIM_LOWER, ">/" },
};

const char *promql_tok_str(enum tok_type t)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (keywords[i].type == t && t != TOK_NUMBER)
			return keywords[i].word;
	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++)
		if (symbols[i].type == t)
			return symbols[i].str;
	return NULL;
}

void promql_lex_init(struct lexer *lx, const char *in, uint32_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->in = in;
	lx->len = len;
}

/* --- character access (runes, as upstream reads them) --------------------------- */

static int32_t next(struct lexer *lx, int *w)
{
	int32_t r;

	if (lx->pos >= lx->len) {
		*w = 0;
		return EOFCH;
	}
	*w = promql_utf8_decode(lx->in + lx->pos, lx->len - lx->pos, &r);
	lx->pos += (uint32_t)*w;
	return r;
}

static int32_t peek(const struct lexer *lx)
{
	int32_t r;

	if (lx->pos >= lx->len)
		return EOFCH;
	promql_utf8_decode(lx->in + lx->pos, lx->len - lx->pos, &r);
	return r;
}

static int32_t peek_at(const struct lexer *lx, uint32_t off)
{
	return lx->pos + off < lx->len ? (unsigned char)lx->in[lx->pos + off] : EOFCH;
}

static bool accept(struct lexer *lx, const char *valid)
{
	int32_t r = peek(lx);

	if (r > 0 && r < 0x80 && strchr(valid, (int)r)) {
		lx->pos++;
		return true;
	}
	return false;
}

static bool is_in(const struct lexer *lx, const char *valid)
{
	int32_t r = peek(lx);

	return r > 0 && r < 0x80 && strchr(valid, (int)r);
}

static bool is_space(int32_t r)
{
	return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static bool is_alpha(int32_t r)
{
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

static bool is_digit(int32_t r)
{
	return r >= '0' && r <= '9';
}

static bool is_alnum(int32_t r)
{
	return is_alpha(r) || is_digit(r);
}

static void skip_spaces(struct lexer *lx)
{
	while (is_space(peek(lx)))
		lx->pos++;
	lx->start = lx->pos;
}

/* --- emitting --------------------------------------------------------------------- */

static void emit(struct lexer *lx, struct token *t, enum tok_type type)
{
	t->type = type;
	t->pos = lx->start;
	t->len = lx->pos - lx->start;
	lx->start = lx->pos;
}

static void errorf(struct lexer *lx, struct token *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errorf(struct lexer *lx, struct token *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lx->errmsg, sizeof(lx->errmsg), fmt, ap);
	va_end(ap);
	t->type = TOK_ERROR;
	t->pos = lx->start;
	t->len = 0;
	lx->err_start = lx->start;
	lx->done = true;
}

/* An error message with a Go-quoted rune at its end (upstream's "%q"). */
static void error_rune(struct lexer *lx, struct token *t, const char *prefix, int32_t r,
		       const char *suffix)
{
	struct buf b = { 0 };

	promql_quote_rune(r, &b);
	errorf(lx, t, "%s%s%s", prefix, b.data ? b.data : "''", suffix);
	buf_free(&b);
}

/* --- strings ---------------------------------------------------------------------- */

static void error_U(struct lexer *lx, struct token *t, const char *fmt, int32_t r)
{
	struct buf b = { 0 };

	promql_format_U(r, &b);
	errorf(lx, t, fmt, b.data ? b.data : "");
	buf_free(&b);
}

/* Validate one escape after '\' (upstream's lexEscape, from go/scanner). */
static bool lex_escape(struct lexer *lx, struct token *t, int32_t quote)
{
	int w, n;
	uint32_t base, max, x = 0;
	int32_t ch = next(lx, &w);

	switch (ch) {
	case 'a': case 'b': case 'f': case 'n': case 'r': case 't': case 'v': case '\\':
		return true;
	case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		n = 3, base = 8, max = 255;
		break;
	case 'x': case 'u': case 'U':
		/* \xHH is a byte; \uHHHH and \UHHHHHHHH are code points. */
		n = ch == 'x' ? 2 : ch == 'u' ? 4 : 8;
		base = 16;
		max = ch == 'x' ? 255 : 0x10FFFF;
		ch = next(lx, &w);
		break;
	case EOFCH:
		errorf(lx, t, "escape sequence not terminated");
		return false;
	default:
		if (ch == quote)
			return true;
		error_U(lx, t, "unknown escape sequence %s", ch);
		return false;
	}
	while (n > 0) {
		uint32_t d = (uint32_t)promql_hexval(ch);

		if (d >= base) {
			if (ch == EOFCH)
				errorf(lx, t, "escape sequence not terminated");
			else
				error_U(lx, t, "illegal character %s in escape sequence", ch);
			return false;
		}
		x = x * base + d;
		if (--n > 0)
			ch = next(lx, &w);
	}
	if (x > max || (x >= 0xD800 && x < 0xE000)) {
		errorf(lx, t, "escape sequence is an invalid Unicode code point");
		return false;
	}
	return true;
}

/* The opening quote has been read. U+FFFD is rejected like an invalid byte, as
 * upstream's comparison with utf8.RuneError does. */
static void lex_string(struct lexer *lx, struct token *t, int32_t quote)
{
	for (;;) {
		int w;
		int32_t r = next(lx, &w);

		if (r == '\\' && quote != '`') {
			if (!lex_escape(lx, t, quote))
				return;
			continue;
		}
		if (r == 0xFFFD) {
			errorf(lx, t, "invalid UTF-8 rune");
			return;
		}
		if (r == EOFCH || (r == '\n' && quote != '`')) {
			errorf(lx, t, quote == '`' ? "unterminated raw string" :
			       "unterminated quoted string");
			return;
		}
		if (r == quote)
			break;
	}
	emit(lx, t, TOK_STRING);
}

/* --- numbers and durations ----------------------------------------------------- */

/* upstream's scanNumber: consumes what may be a number; true if it ends cleanly.
 * An 'e' at the start of a round is an exponent even in hex ("0x1e" is bad). */
static bool scan_number(struct lexer *lx)
{
	const char *digits = "0123456789", *all = "0123456789._eE";
	uint32_t initial = lx->pos;
	bool dot = false, exp = false, hex = false;

	if (peek_at(lx, 0) == '0' && (peek_at(lx, 1) == 'x' || peek_at(lx, 1) == 'X')) {
		lx->pos += 2;
		accept(lx, "_");
		digits = "0123456789abcdefABCDEF";
		all = "0123456789abcdefABCDEF._eE";
		hex = true;
	}
	accept(lx, ".");
	accept(lx, digits);
	while (is_in(lx, all)) {
		if ((is_in(lx, ".") && dot) || (is_in(lx, "eE") && exp)) {
			lx->pos++;
			return false;
		}
		if (accept(lx, ".")) {
			dot = true;
			if (accept(lx, "_.") || hex)
				return false;
			continue;
		}
		if (accept(lx, "eE")) {
			exp = true;
			accept(lx, "+-");
			if (accept(lx, "._eE") || peek(lx) == EOFCH)
				return false;
			continue;
		}
		if (accept(lx, "_")) {
			if (accept(lx, "._eE") || peek(lx) == EOFCH)
				return false;
			continue;
		}
		while (is_in(lx, digits))
			lx->pos++;
	}
	if (lx->pos == initial)
		return false;
	return !is_alnum(peek(lx));
}

/* After digits: unit letters, possibly repeated digit+unit groups; bad units
 * ("5y1hs") are left for the duration parser to reject with a precise message.
 * Like upstream, the character that ends the duration is consumed to look at it;
 * *w is its width so that the caller can give it back. */
static bool accept_remaining_duration(struct lexer *lx, int *w)
{
	*w = 0;
	if (!accept(lx, "smhdwy"))
		return false;
	accept(lx, "s");
	while (accept(lx, "0123456789")) {
		while (accept(lx, "0123456789"))
			;
		if (!accept(lx, "smhdw"))
			return false;
		accept(lx, "s");
	}
	return !is_alnum(next(lx, w));
}

static void lex_number_or_duration(struct lexer *lx, struct token *t)
{
	struct buf q = { 0 };
	int w;

	if (scan_number(lx)) {
		emit(lx, t, TOK_NUMBER);
		return;
	}
	if (accept_remaining_duration(lx, &w)) {
		lx->pos -= (uint32_t)w;
		emit(lx, t, TOK_DURATION);
		return;
	}
	promql_quote(lx->in + lx->start, lx->pos - lx->start, &q);
	errorf(lx, t, "bad number or duration syntax: %s", q.data ? q.data : "\"\"");
	buf_free(&q);
}

/* --- identifiers and keywords ---------------------------------------------------- */

static enum tok_type keyword(const char *s, size_t n)
{
	char low[16];

	if (n >= sizeof(low))
		return TOK_IDENTIFIER;
	for (size_t i = 0; i < n; i++)
		low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	low[n] = 0;
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (!strcmp(keywords[i].word, low))
			return keywords[i].type;
	return TOK_IDENTIFIER;
}

/* fill, fill_left and fill_right are keywords only before '(', so that they stay
 * usable as metric names. */
static bool followed_by_lparen(const struct lexer *lx)
{
	for (uint32_t i = lx->pos; i < lx->len; i++)
		if (!is_space((unsigned char)lx->in[i]))
			return lx->in[i] == '(';
	return false;
}

static void lex_keyword_or_identifier(struct lexer *lx, struct token *t)
{
	enum tok_type kw;
	bool colon = false;

	while (lx->pos < lx->len && (is_alnum((unsigned char)lx->in[lx->pos]) ||
				     lx->in[lx->pos] == ':')) {
		colon |= lx->in[lx->pos] == ':';
		lx->pos++;
	}
	kw = keyword(lx->in + lx->start, lx->pos - lx->start);
	if ((kw == TOK_FILL || kw == TOK_FILL_LEFT || kw == TOK_FILL_RIGHT) &&
	    !followed_by_lparen(lx))
		kw = TOK_IDENTIFIER;
	if (kw == TOK_IDENTIFIER && colon)
		kw = TOK_METRIC_IDENTIFIER;
	emit(lx, t, kw);
}

/* step, range, min_of, max_of inside brackets; false if the word is none of them. */
static bool scan_duration_keyword(struct lexer *lx, struct token *t)
{
	enum tok_type kw;

	while (lx->pos < lx->len && is_alpha((unsigned char)lx->in[lx->pos]))
		lx->pos++;
	kw = keyword(lx->in + lx->start, lx->pos - lx->start);
	if (kw != TOK_STEP && kw != TOK_RANGE && kw != TOK_MIN_OF && kw != TOK_MAX_OF)
		return false;
	emit(lx, t, kw);
	return true;
}

/* --- states ------------------------------------------------------------------------ */

static void lex_comment(struct lexer *lx, struct token *t)
{
	while (lx->pos < lx->len && lx->in[lx->pos] != '\n' && lx->in[lx->pos] != '\r')
		lx->pos++;
	emit(lx, t, TOK_COMMENT);
}

/* Returns false when it only skipped space (no token yet). */
static bool lex_inside_braces(struct lexer *lx, struct token *t)
{
	int w;
	int32_t r, nr;

	if (peek(lx) == '#') {
		lex_comment(lx, t);
		return true;
	}
	r = next(lx, &w);
	switch (r) {
	case EOFCH:
		errorf(lx, t, "unexpected end of input inside braces");
		return true;
	case ',':
		emit(lx, t, TOK_COMMA);
		return true;
	case '"': case '\'': case '`':
		lex_string(lx, t, r);
		return true;
	case '=':
		emit(lx, t, accept(lx, "~") ? TOK_EQL_REGEX : TOK_EQL);
		return true;
	case '!':
		nr = next(lx, &w);
		if (nr == '~' || nr == '=') {
			emit(lx, t, nr == '~' ? TOK_NEQ_REGEX : TOK_NEQ);
			return true;
		}
		error_rune(lx, t, "unexpected character after '!' inside braces: ", nr, "");
		return true;
	case '{':
		errorf(lx, t, "unexpected left brace '{'");
		return true;
	case '}':
		emit(lx, t, TOK_RBRACE);
		lx->brace_open = false;
		return true;
	}
	if (is_space(r)) {
		skip_spaces(lx);
		return false;
	}
	if (is_alpha(r)) {
		while (lx->pos < lx->len && is_alnum((unsigned char)lx->in[lx->pos]))
			lx->pos++;
		emit(lx, t, TOK_IDENTIFIER);
		return true;
	}
	error_rune(lx, t, "unexpected character inside braces: ", r, "");
	return true;
}

/* Parentheses are counted so that a missing ')' is reported at the end. */
static void lex_paren(struct lexer *lx, struct token *t, int32_t r)
{
	if (r == '(') {
		emit(lx, t, TOK_LPAREN);
		lx->paren_depth++;
		return;
	}
	emit(lx, t, TOK_RPAREN);
	if (--lx->paren_depth < 0)
		errorf(lx, t, "unexpected right parenthesis ')'");
}

static bool lex_duration_expr(struct lexer *lx, struct token *t)
{
	static const struct {
		char c;
		enum tok_type type;
	} ops[] = {
		{ '+', TOK_ADD }, { '-', TOK_SUB }, { '*', TOK_MUL }, { '/', TOK_DIV },
		{ '%', TOK_MOD }, { '^', TOK_POW }, { ',', TOK_COMMA },
	};
	int w;
	int32_t r = next(lx, &w);

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (r == ops[i].c) {
			emit(lx, t, ops[i].type);
			return true;
		}
	}
	switch (r) {
	case EOFCH:
		errorf(lx, t, "unexpected end of input in duration expression");
		return true;
	case ']':
		emit(lx, t, TOK_RBRACKET);
		lx->bracket_open = lx->got_colon = lx->in_duration = false;
		return true;
	case ':':
		emit(lx, t, TOK_COLON);
		if (!lx->got_duration)
			errorf(lx, t, "unexpected colon before duration in duration expression");
		else if (lx->got_colon)
			errorf(lx, t, "unexpected repeated colon in duration expression");
		lx->got_colon = true;
		return true;
	case '(':
	case ')':
		lex_paren(lx, t, r);
		return true;
	case 's': case 'S': case 'm': case 'M': case 'r': case 'R':
		if (!scan_duration_keyword(lx, t))
			error_rune(lx, t, "unexpected character in duration expression: ", r, "");
		return true;
	}
	if (is_space(r)) {
		skip_spaces(lx);
		return false;
	}
	if (is_digit(r) || (r == '.' && is_digit(peek(lx)))) {
		lx->pos = lx->start;
		lx->got_duration = true;
		lx->in_duration = false;
		lex_number_or_duration(lx, t);
		return true;
	}
	error_rune(lx, t, "unexpected character in duration expression: ", r, "");
	return true;
}

/* ':' and the duration keywords while a bracket is open (after its first number). */
static void lex_in_bracket_word(struct lexer *lx, struct token *t, int32_t r)
{
	if (r == ':') {
		if (lx->got_colon) {
			errorf(lx, t, "unexpected colon ':'");
			return;
		}
		if (peek(lx) == ':') {
			lx->pos++;
			emit(lx, t, TOK_DOUBLE_COLON);
		} else {
			emit(lx, t, TOK_COLON);
		}
		lx->got_colon = true;
		return;
	}
	if ((r == 's' || r == 'S' || r == 'm' || r == 'M' || r == 'r' || r == 'R') &&
	    scan_duration_keyword(lx, t))
		return;
	error_rune(lx, t, "unexpected character: ", r, ", expected ':'");
}

/* Two-character operators starting with '=', '!', '<', '>'. */
static bool lex_comparison(struct lexer *lx, struct token *t, int32_t r)
{
	int w;
	int32_t nr;

	switch (r) {
	case '=':
		nr = peek(lx);
		if (nr == '~') {
			error_rune(lx, t, "unexpected character after '=': ", nr, "");
			return true;
		}
		if (nr == '=')
			lx->pos++;
		emit(lx, t, nr == '=' ? TOK_EQLC : TOK_EQL);
		return true;
	case '!':
		nr = next(lx, &w);
		if (nr != '=') {
			error_rune(lx, t, "unexpected character after '!': ", nr, "");
			return true;
		}
		emit(lx, t, TOK_NEQ);
		return true;
	case '<':
	case '>':
		nr = peek(lx);
		if (nr == '=' || nr == '/')
			lx->pos++;
		if (nr == '=')
			emit(lx, t, r == '<' ? TOK_LTE : TOK_GTE);
		else if (nr == '/')
			emit(lx, t, r == '<' ? TOK_TRIM_UPPER : TOK_TRIM_LOWER);
		else
			emit(lx, t, r == '<' ? TOK_LSS : TOK_GTR);
		return true;
	}
	return false;
}

static bool lex_brackets_parens(struct lexer *lx, struct token *t, int32_t r)
{
	switch (r) {
	case '(':
	case ')':
		lex_paren(lx, t, r);
		return true;
	case '{':
		emit(lx, t, TOK_LBRACE);
		lx->brace_open = true;
		return true;
	case '[':
		if (lx->bracket_open) {
			errorf(lx, t, "unexpected left bracket '['");
			return true;
		}
		lx->got_colon = lx->got_duration = false;
		emit(lx, t, TOK_LBRACKET);
		skip_spaces(lx);
		lx->bracket_open = lx->in_duration = true;
		return true;
	case ']':
		if (!lx->bracket_open) {
			errorf(lx, t, "unexpected right bracket ']'");
			return true;
		}
		emit(lx, t, TOK_RBRACKET);
		lx->bracket_open = false;
		return true;
	}
	return false;
}

static bool lex_statements(struct lexer *lx, struct token *t)
{
	static const char single[] = ",*/%+-^@";
	static const enum tok_type single_type[] = {
		TOK_COMMA, TOK_MUL, TOK_DIV, TOK_MOD, TOK_ADD, TOK_SUB, TOK_POW, TOK_AT,
	};
	int w;
	int32_t r;
	const char *s;

	if (peek(lx) == '#') {
		lex_comment(lx, t);
		return true;
	}
	r = next(lx, &w);
	if (r == EOFCH) {
		if (lx->paren_depth != 0)
			errorf(lx, t, "unclosed left parenthesis");
		else if (lx->bracket_open)
			errorf(lx, t, "unclosed left bracket");
		else
			emit(lx, t, TOK_EOF);
		lx->done = true;
		return true;
	}
	if (r > 0 && r < 0x80 && (s = strchr(single, (int)r)) != NULL) {
		emit(lx, t, single_type[s - single]);
		return true;
	}
	if (is_space(r)) {
		skip_spaces(lx);
		return false;
	}
	if (lex_comparison(lx, t, r) || lex_brackets_parens(lx, t, r))
		return true;
	if (is_digit(r) || (r == '.' && is_digit(peek(lx)))) {
		lx->pos = lx->start;
		lex_number_or_duration(lx, t);
		return true;
	}
	if (r == '"' || r == '\'' || r == '`') {
		lex_string(lx, t, r);
		return true;
	}
	if (is_alpha(r) || r == ':') {
		if (lx->bracket_open) {
			lex_in_bracket_word(lx, t, r);
		} else {
			lx->pos = lx->start;
			lex_keyword_or_identifier(lx, t);
		}
		return true;
	}
	error_rune(lx, t, "unexpected character: ", r, "");
	return true;
}

void promql_lex_next(struct lexer *lx, struct token *t)
{
	bool got;

	if (lx->done) {
		t->type = TOK_EOF;
		t->pos = lx->len;
		t->len = 0;
		return;
	}
	do {
		lx->start = lx->pos;
		if (lx->brace_open)
			got = lex_inside_braces(lx, t);
		else if (lx->in_duration)
			got = lex_duration_expr(lx, t);
		else
			got = lex_statements(lx, t);
	} while (!got);
}

/* --- descriptions for error messages ---------------------------------------------- */

static void quote_val(const char *s, size_t n, struct buf *out)
{
	size_t runes = 0, i = 0;

	/* %.10q: at most ten runes, then "..." after the quoted text. */
	while (i < n && runes < 10) {
		int32_t r;

		i += (size_t)promql_utf8_decode(s + i, n - i, &r);
		runes++;
	}
	promql_quote(s, i, out);
	if (i < n)
		buf_puts(out, "...");
}

void promql_tok_desc(const struct token *t, const char *in, struct buf *out)
{
	const char *val = in + t->pos;

	switch (t->type) {
	case TOK_EOF:
		buf_puts(out, "end of input");
		return;
	case TOK_IDENTIFIER:
		buf_puts(out, "identifier ");
		promql_quote(val, t->len, out);
		return;
	case TOK_METRIC_IDENTIFIER:
		buf_puts(out, "metric identifier ");
		promql_quote(val, t->len, out);
		return;
	case TOK_NUMBER:
	case TOK_DURATION:
	case TOK_STRING:
		buf_puts(out, t->type == TOK_NUMBER ? "number " :
			 t->type == TOK_DURATION ? "duration " : "string ");
		if (t->len > 10)
			quote_val(val, t->len, out);
		else
			promql_quote(val, t->len, out);
		return;
	default:
		break;
	}
	if (t->type > TOK_KW_START && t->type < TOK_KW_END)
		buf_printf(out, "<%.*s>", (int)t->len, val);
	else if (t->type > TOK_OPS_START && t->type < TOK_OPS_END)
		buf_printf(out, "<op:%.*s>", (int)t->len, val);
	else if (t->type > TOK_AGG_START && t->type < TOK_AGG_END)
		buf_printf(out, "<aggr:%.*s>", (int)t->len, val);
	else if (t->len > 10)
		quote_val(val, t->len, out);
	else
		promql_quote(val, t->len, out);
}
