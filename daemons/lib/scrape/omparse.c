/*
 * OpenMetrics 1.0 text, following openmetricslex.l / openmetricsparse.go (2.x
 * grammar): exactly one space between tokens, no blank lines, "#" lines are only
 * HELP, TYPE, UNIT and EOF, labels separated by commas with none trailing, label
 * values without raw newlines, timestamps in (fractional) seconds, an optional
 * exemplar after " # ", and "# EOF" as the last line.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scrape/internal.h"

/* After "# ": HELP, TYPE or UNIT and one space, or EOF with an optional newline. */
static enum tok lex_comment(struct sp *p, int c)
{
	static const struct {
		const char *word;
		enum tok t;
	} kws[] = { { "HELP ", T_HELP }, { "TYPE ", T_TYPE }, { "UNIT ", T_UNIT }, { "EOF", T_EOFWORD } };

	for (size_t k = 0; k < sizeof(kws) / sizeof(kws[0]); k++) {
		const char *w = kws[k].word;
		if (c != w[0])
			continue;
		for (w++; *w; w++)
			if ((c = sp_next(p)) != *w)
				return T_INVALID;
		c = sp_next(p);
		if (kws[k].t == T_EOFWORD) {
			if (c == '\n')
				sp_next(p);
			p->state = S_INIT;
		} else {
			p->state = S_META1;
		}
		return kws[k].t;
	}
	return T_INVALID;
}

/* " " then [^ \n]+: values and timestamps. */
static enum tok space_run(struct sp *p, enum lstate then, enum tok t)
{
	int c = sp_next(p);

	if (c == 0 || c == ' ' || c == '\n')
		return T_INVALID;
	while (c != 0 && c != ' ' && c != '\n')
		c = sp_next(p);
	p->state = then;
	return t;
}

static enum tok lex_meta2(struct sp *p, int c)
{
	if (c != ' ')
		return T_INVALID;
	/* NUL bytes are stepped over here: only the newline ends the text. */
	p->i = sp_line_end(p, p->i + 1);
	if (p->i >= p->len)
		return T_INVALID;
	sp_next(p);
	p->state = S_INIT;
	return T_TEXT;
}

static enum tok lex_timestamp(struct sp *p, int c, bool exemplar)
{
	if (c == '\n') {
		sp_next(p);
		p->state = S_INIT;
		return T_LINEBREAK;
	}
	if (c != ' ')
		return T_INVALID;
	if (!exemplar && sp_at(p, p->i + 1) == '#' && sp_at(p, p->i + 2) == ' ' &&
	    sp_at(p, p->i + 3) == '{') {
		p->i += 3;
		sp_next(p);
		p->state = S_EXEMPLAR;
		return T_COMMENT;
	}
	return space_run(p, p->state, T_TIMESTAMP);
}

static enum tok lex(struct sp *p)
{
	int c;

	if (p->i >= p->n)
		return T_EOF;
	p->start = p->i;
	c = sp_cur(p);
	switch (p->state) {
	case S_INIT:
		if (c == '#') {
			if (sp_next(p) != ' ')
				return T_INVALID;
			c = sp_next(p);
			p->state = S_COMMENT;
			return lex_comment(p, c);
		}
		return sp_is_m(c) ? sp_consume_ident(p, true, S_VALUE, T_MNAME) : T_INVALID;
	case S_META1:
		return sp_is_m(c) ? sp_consume_ident(p, true, S_META2, T_MNAME) : T_INVALID;
	case S_META2:
		return lex_meta2(p, c);
	case S_VALUE:
		if (c == '{') {
			sp_next(p);
			p->state = S_LABELS;
			return T_BOPEN;
		}
		return c == ' ' ? space_run(p, S_TIMESTAMP, T_VALUE) : T_INVALID;
	case S_LABELS:
		return sp_lex_labels(p, c, S_LABELS, S_LVALUE, S_VALUE);
	case S_LVALUE:
		return c == '"' ? sp_lex_qstring(p, false, S_LABELS) : T_INVALID;
	case S_TIMESTAMP:
		return lex_timestamp(p, c, false);
	case S_EXEMPLAR:
		return sp_lex_labels(p, c, S_EXEMPLAR, S_EVALUE, S_EVALUE);
	case S_EVALUE:
		if (c == '"')
			return sp_lex_qstring(p, false, S_EXEMPLAR);
		return c == ' ' ? space_run(p, S_ETIMESTAMP, T_VALUE) : T_INVALID;
	case S_ETIMESTAMP:
		return lex_timestamp(p, c, true);
	default:
		return T_INVALID;
	}
}

static int meta_text(struct sp *p, enum tok kind, const char *text, size_t len)
{
	struct buf q = { 0 }, m = { 0 };
	size_t off = (size_t)(text - p->b);
	bool ok = true;
	int rc;

	if (kind == T_TYPE)
		p->type = sp_type_from(text, len, true, &ok);
	else if (kind == T_HELP)
		ok = labels_valid_utf8(text, len);
	else if (len > 0) /* the unit must end the family name, after an underscore */
		ok = p->name.len >= len + 1 &&
		     memcmp(p->b + p->name.off + p->name.len - len, text, len) == 0 &&
		     p->b[p->name.off + p->name.len - len - 1] == '_';
	if (ok)
		return 0;
	sp_quote(&q, p, off, off + len);
	sp_quote(&m, p, p->name.off, p->name.off + p->name.len);
	if (q.oom || m.oom)
		rc = sp_fail(p, "out of memory");
	else if (kind == T_TYPE)
		rc = sp_fail(p, "invalid metric type %s", q.data);
	else if (kind == T_HELP)
		rc = sp_fail(p, "help text %s is not a valid utf8 string", q.data);
	else
		rc = sp_fail(p, "unit %s not a suffix of metric %s", q.data, m.data);
	buf_free(&q);
	buf_free(&m);
	return rc;
}

static int meta(struct sp *p, enum tok kind)
{
	enum tok t = lex(p);
	const char *text;
	size_t len, tlen;
	enum scrape_meta_kind mk = kind == T_HELP ? SCRAPE_META_HELP :
				   kind == T_TYPE ? SCRAPE_META_TYPE : SCRAPE_META_UNIT;
	char exp[40];

	if (t != T_MNAME) {
		snprintf(exp, sizeof(exp), "expected metric name after %s", sp_tok_name(kind));
		return sp_parse_error(p, exp, t);
	}
	p->name = (struct span){ p->start, p->i - p->start };
	if (lex(p) != T_TEXT)
		return sp_fail(p, "expected text in %s", sp_tok_name(kind));
	/* The token is " text\n". */
	len = p->i - p->start - 2;
	text = p->b + p->start + 1;
	if (meta_text(p, kind, text, len))
		return -1;
	if (kind == T_HELP)
		text = sp_unescape(p, p->start + 1, len, true, &tlen);
	else
		text = arena_strndup(p->a, text, tlen = len);
	if (!text)
		return sp_fail(p, "out of memory");
	return sp_emit_meta(p, mk, text, tlen);
}

static int label_values(struct sp *p, struct spanset *set)
{
	for (bool first = true;; first = false) {
		enum tok t = lex(p);

		if (t == T_BCLOSE)
			return 0;
		if (t == T_COMMA) {
			if (first)
				return sp_parse_error(p, "expected label name or left brace", t);
			if ((t = lex(p)) != T_LNAME)
				return sp_parse_error(p, "expected label name", t);
		} else if (t != T_LNAME) {
			return sp_parse_error(p, first ? "expected label name or left brace" :
					      "expected comma or left brace", t);
		} else if (!first) {
			return sp_parse_error(p, "expected comma", t);
		}
		if (sp_label_pair(p, set, lex))
			return -1;
	}
}

static int float_token(struct sp *p, enum tok t, const char *after, double *v)
{
	char exp[48];

	if (t != T_VALUE) {
		snprintf(exp, sizeof(exp), "expected value after %s", after);
		return sp_parse_error(p, exp, t);
	}
	return sp_parse_value(p, p->start + 1, p->i - p->start - 1, v);
}

/* Seconds with decimals to milliseconds, truncated as Go's int64(ts*1000) does;
 * out of range gives what amd64's conversion gives. */
static int timestamp(struct sp *p, const char *what, int64_t *ms)
{
	double ts;

	if (sp_parse_value(p, p->start + 1, p->i - p->start - 1, &ts))
		return -1;
	if (isnan(ts))
		return sp_fail(p, "invalid %s NaN", what);
	if (isinf(ts))
		return sp_fail(p, "invalid %s %s", what, ts > 0 ? "+Inf" : "-Inf");
	ts *= 1000;
	*ms = ts >= -9223372036854775808.0 && ts < 9223372036854775808.0 ? (int64_t)ts : INT64_MIN;
	return 0;
}

static int exemplar(struct sp *p, struct scrape_exemplar *ex)
{
	enum tok t;

	if (label_values(p, &p->elbl))
		return -1;
	if (float_token(p, lex(p), "exemplar labels", &ex->value))
		return -1;
	t = lex(p);
	if (t == T_EOF)
		return sp_fail(p, "data does not end with # EOF");
	if (t == T_TIMESTAMP) {
		if (timestamp(p, "exemplar timestamp", &ex->ts_ms))
			return -1;
		ex->has_ts = true;
		if ((t = lex(p)) != T_LINEBREAK)
			return sp_parse_error(p, "expected next entry after exemplar timestamp", t);
	} else if (t != T_LINEBREAK) {
		return sp_parse_error(p, "expected timestamp or comment", t);
	}
	return sp_exemplar_labels(p, &ex->labels);
}

static int series(struct sp *p)
{
	struct scrape_exemplar ex = { 0 };
	bool has_ts = false, has_ex = false;
	int64_t ts = 0;
	enum tok t;
	double v;

	p->name = (struct span){ p->start, p->i - p->start };
	t = lex(p);
	if (t == T_BOPEN) {
		if (label_values(p, &p->lbl))
			return -1;
		t = lex(p);
	}
	if (float_token(p, t, "metric", &v))
		return -1;
	t = lex(p);
	if (t == T_TIMESTAMP) {
		if (timestamp(p, "timestamp", &ts))
			return -1;
		has_ts = true;
		t = lex(p);
		if (t != T_LINEBREAK && t != T_COMMENT)
			return sp_parse_error(p, "expected next entry after timestamp", t);
	} else if (t == T_EOF) {
		return sp_fail(p, "data does not end with # EOF");
	} else if (t != T_LINEBREAK && t != T_COMMENT) {
		return sp_parse_error(p, "expected timestamp or # symbol", t);
	}
	if (t == T_COMMENT) {
		if (exemplar(p, &ex))
			return -1;
		has_ex = true;
	}
	return sp_emit_series(p, v, has_ts, ts, &ex, has_ex);
}

int sp_parse_om(struct sp *p)
{
	for (;;) {
		enum tok t = sp_begin_entry(p, lex);
		int rc;

		if (t == T_EOFWORD)
			return lex(p) == T_EOF ? 0 : sp_fail(p, "unexpected data after # EOF");
		if (t == T_EOF)
			return sp_fail(p, "data does not end with # EOF");
		if (t == T_HELP || t == T_TYPE || t == T_UNIT)
			rc = meta(p, t);
		else if (t == T_MNAME)
			rc = series(p);
		else
			rc = sp_parse_error(p, "expected a valid start token", t);
		if (rc)
			return -1;
	}
}
