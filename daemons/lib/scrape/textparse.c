/*
 * The Prometheus text exposition format 0.0.4, following promlex.l / promparse.go:
 * blanks and tabs between tokens, blank lines, any "#" line that is not HELP or
 * TYPE is a comment, commas between labels are optional (a trailing one too), label
 * values may hold raw newlines, and timestamps are integer milliseconds. The body
 * is read as if it ended with a newline, as upstream appends one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/internal.h"

static bool ws(int c)
{
	return c == ' ' || c == '\t';
}

/* Text after HELP/TYPE and the name: `[^\n]*`, unless blanks alone reach the end of
 * the line, in which case the whitespace rule (listed first) wins the tie. */
static enum tok lex_meta2(struct sp *p)
{
	size_t from = p->i, wend, tend;
	int c = sp_cur(p);

	while (ws(c))
		c = sp_next(p);
	wend = p->i;
	/* NUL bytes inside are stepped over in this state; one at the start ends it. */
	tend = sp_at(p, from) == 0 ? from : sp_line_end(p, from);
	if (wend > from && wend >= tend)
		return T_WHITESPACE;
	p->i = tend;
	p->state = S_INIT;
	return T_TEXT;
}

static enum tok consume_comment(struct sp *p)
{
	/* After "# " NUL bytes are stepped over, so only the newline ends it. */
	if (p->state == S_COMMENT && sp_cur(p) != 0)
		p->i = sp_line_end(p, p->i);
	for (int c = sp_cur(p);; c = sp_next(p)) {
		if (c == 0)
			return T_EOF;
		if (c == '\n') {
			p->state = S_INIT;
			return T_COMMENT;
		}
	}
}

/* After "#" and blanks: HELP or TYPE and blanks, or else a comment. */
static enum tok lex_comment(struct sp *p, int c)
{
	const char *kw = c == 'H' ? "HELP" : c == 'T' ? "TYPE" : NULL;

	for (size_t k = 0; kw && k < 4; k++) {
		if (c != kw[k])
			return consume_comment(p);
		c = sp_next(p);
	}
	if (!kw || !ws(c))
		return consume_comment(p);
	while (ws(c))
		c = sp_next(p);
	p->state = S_META1;
	return kw[0] == 'H' ? T_HELP : T_TYPE;
}

static enum tok lex_init(struct sp *p, int c)
{
	if (c == 0)
		return T_EOF;
	if (c == '\n') {
		sp_next(p);
		return T_LINEBREAK;
	}
	if (c == '#') {
		c = sp_next(p);
		if (!ws(c))
			return consume_comment(p);
		while (ws(c))
			c = sp_next(p);
		p->state = S_COMMENT;
		return lex_comment(p, c);
	}
	if (sp_is_m(c))
		return sp_consume_ident(p, true, S_VALUE, T_MNAME);
	return T_INVALID;
}

static enum tok lex_value(struct sp *p, int c)
{
	if (c == '{') {
		sp_next(p);
		p->state = S_LABELS;
		return T_BOPEN;
	}
	if (c == 0 || c == '\n')
		return T_INVALID;
	while (c != 0 && c != '{' && c != '\n' && !ws(c))
		c = sp_next(p);
	p->state = S_TIMESTAMP;
	return T_VALUE;
}

static enum tok lex(struct sp *p)
{
	int c;

	if (p->i >= p->n)
		return T_EOF;
	p->start = p->i;
	if (p->state == S_META2)
		return lex_meta2(p);
	c = sp_cur(p);
	if (ws(c)) {
		while (ws(c))
			c = sp_next(p);
		return T_WHITESPACE;
	}
	switch (p->state) {
	case S_INIT:
		return lex_init(p, c);
	case S_META1:
		return sp_is_m(c) ? sp_consume_ident(p, true, S_META2, T_MNAME) : T_INVALID;
	case S_VALUE:
		return lex_value(p, c);
	case S_LABELS:
		return sp_lex_labels(p, c, S_LABELS, S_LVALUE, S_VALUE);
	case S_LVALUE:
		return c == '"' ? sp_lex_qstring(p, true, S_LABELS) : T_INVALID;
	case S_TIMESTAMP:
		if (sp_is_d(c)) {
			while (sp_is_d(c))
				c = sp_next(p);
			return T_TIMESTAMP;
		}
		if (c == '\n') {
			sp_next(p);
			p->state = S_INIT;
			return T_LINEBREAK;
		}
		return T_INVALID;
	default:
		return T_INVALID;
	}
}

static enum tok next_token(struct sp *p)
{
	enum tok t;

	while ((t = lex(p)) == T_WHITESPACE)
		;
	return t;
}

static int meta(struct sp *p, enum tok kind)
{
	enum tok t = next_token(p);
	const char *text;
	size_t len, tlen;
	struct buf q = { 0 };
	bool ok;
	int rc;

	if (t != T_MNAME)
		return sp_parse_error(p, kind == T_HELP ? "expected metric name after HELP" :
				      "expected metric name after TYPE", t);
	p->name = (struct span){ p->start, p->i - p->start };
	t = next_token(p);
	if (t != T_TEXT)
		return sp_fail(p, "expected text in %s, got %s", sp_tok_name(kind), sp_tok_name(t));
	/* Upstream drops the first byte of the text token, whatever it is. */
	len = p->i - p->start > 1 ? p->i - p->start - 1 : 0;
	text = p->b + p->i - len;
	if (kind == T_TYPE) {
		p->type = sp_type_from(text, len, false, &ok);
		if (!ok) {
			sp_quote(&q, p, p->i - len, p->i);
			rc = sp_fail(p, "invalid metric type %s", q.data ? q.data : "");
			buf_free(&q);
			return rc;
		}
	} else if (!labels_valid_utf8(text, len)) {
		sp_quote(&q, p, p->i - len, p->i);
		rc = sp_fail(p, "help text %s is not a valid utf8 string", q.data ? q.data : "");
		buf_free(&q);
		return rc;
	}
	t = next_token(p);
	if (t != T_LINEBREAK)
		return sp_parse_error(p, "linebreak expected after metadata", t);
	if (kind == T_TYPE) {
		tlen = len;
		text = arena_strndup(p->a, text, len);
	} else {
		text = sp_unescape(p, (size_t)(text - p->b), len, false, &tlen);
	}
	if (!text)
		return sp_fail(p, "out of memory");
	return sp_emit_meta(p, kind == T_TYPE ? SCRAPE_META_TYPE : SCRAPE_META_HELP, text, tlen);
}

static int label_values(struct sp *p)
{
	enum tok t = next_token(p);

	for (;;) {
		if (t == T_BCLOSE)
			return 0;
		if (t != T_LNAME)
			return sp_parse_error(p, "expected label name", t);
		if (sp_label_pair(p, &p->lbl, next_token))
			return -1;
		/* A comma is optional, and may trail. */
		if ((t = next_token(p)) == T_COMMA)
			t = next_token(p);
	}
}

static int timestamp(struct sp *p, int64_t *ts)
{
	struct buf q = { 0 }, line = { 0 };
	char tmp[32];
	size_t len = p->i - p->start;
	int rc;

	if (len < sizeof(tmp)) {
		memcpy(tmp, p->b + p->start, len);
		tmp[len] = '\0';
		errno = 0;
		*ts = strtoll(tmp, NULL, 10);
		if (errno == 0)
			return 0;
	}
	sp_quote(&q, p, p->start, p->i);
	sp_quote(&line, p, p->entry, p->i);
	rc = sp_fail(p, "strconv.ParseInt: parsing %s: value out of range while parsing: %s",
		     q.data ? q.data : "", line.data ? line.data : "");
	buf_free(&q);
	buf_free(&line);
	return rc;
}

static int series(struct sp *p)
{
	enum tok t;
	double v;
	int64_t ts = 0;
	bool has_ts = false;

	p->name = (struct span){ p->start, p->i - p->start };
	t = next_token(p);
	if (t == T_BOPEN) {
		if (label_values(p))
			return -1;
		t = next_token(p);
	}
	if (t != T_VALUE)
		return sp_parse_error(p, "expected value after metric", t);
	if (sp_parse_value(p, p->start, p->i - p->start, &v))
		return -1;
	t = next_token(p);
	if (t == T_TIMESTAMP) {
		if (timestamp(p, &ts))
			return -1;
		has_ts = true;
		if ((t = next_token(p)) != T_LINEBREAK)
			return sp_parse_error(p, "expected next entry after timestamp", t);
	} else if (t != T_LINEBREAK) {
		return sp_parse_error(p, "expected timestamp or new record", t);
	}
	return sp_emit_series(p, v, has_ts, ts, NULL, false);
}

int sp_parse_text(struct sp *p)
{
	for (;;) {
		enum tok t = sp_begin_entry(p, next_token);
		int rc = 0;

		if (t == T_EOF)
			return 0;
		if (t == T_LINEBREAK) /* blank line */
			continue;
		if (t == T_HELP || t == T_TYPE)
			rc = meta(p, t);
		else if (t == T_MNAME)
			rc = series(p);
		else if (t != T_COMMENT)
			rc = sp_parse_error(p, "expected a valid start token", t);
		else if ((t = next_token(p)) != T_LINEBREAK)
			rc = sp_parse_error(p, "linebreak expected after comment", t);
		if (rc)
			return -1;
	}
}
