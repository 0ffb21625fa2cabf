/*
 * Shared between the two parsers: the lexer cursor (modelled on Prometheus'
 * golex-generated lexers, so token boundaries and therefore error messages agree),
 * the series being assembled, and the number syntax both formats use.
 */
#ifndef LGTM_SCRAPE_INTERNAL_H
#define LGTM_SCRAPE_INTERNAL_H

#include <string.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "scrape/scrape.h"

enum tok {
	T_INVALID = -1,
	T_EOF = 0,
	T_LINEBREAK,
	T_WHITESPACE,
	T_HELP,
	T_TYPE,
	T_UNIT,
	T_EOFWORD,
	T_TEXT,
	T_COMMENT,
	T_MNAME,
	T_BOPEN,
	T_BCLOSE,
	T_LNAME,
	T_LVALUE,
	T_COMMA,
	T_EQUAL,
	T_TIMESTAMP,
	T_VALUE,
};

/* Lexer states, as in promlex.l / openmetricslex.l. */
enum lstate {
	S_INIT,
	S_COMMENT,
	S_META1,
	S_META2,
	S_LABELS,
	S_LVALUE,
	S_VALUE,
	S_TIMESTAMP,
	S_EXEMPLAR,
	S_EVALUE,
	S_ETIMESTAMP,
};

struct span {
	size_t off, len;
};

/* Label name and raw (still escaped, unquoted) value spans of one series. */
struct spanset {
	struct span *v; /* pairs: name, value */
	size_t n, cap;  /* pairs */
};

struct sp {
	const char *b;
	size_t len;      /* body length */
	size_t n;        /* lexer length: the text format sees one extra '\n' */
	size_t i, start; /* cursor and start of the current token */
	enum lstate state;
	size_t entry;    /* start of the current entry (p.start upstream) */
	size_t line;     /* 1-based line of `entry` */
	size_t counted;  /* newlines are counted up to here */

	const struct scrape_options *opts;
	const struct scrape_handler *h;
	struct scrape_stats stats;
	enum scrape_type type;
	bool over_limit;

	struct span name;
	struct spanset lbl, elbl;
	struct arena *a; /* per-entry scratch */
	char *err;
	size_t errlen;
};

/* Byte at i; the text format's virtual trailing newline; 0 past the end. */
static inline int sp_at(const struct sp *p, size_t i)
{
	if (i < p->len)
		return (unsigned char)p->b[i];
	return i < p->n ? '\n' : 0;
}

static inline bool sp_is_l(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline bool sp_is_d(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool sp_is_m(int c)
{
	return sp_is_l(c) || c == ':';
}

/* lexer.c */
int sp_next_slow(struct sp *p);
int sp_cur(const struct sp *p);

/* Advance and return the new current byte (0 at the end); NUL bytes are stepped
 * over in the states where upstream's lexer does so. Inline: it runs per byte. */
static inline int sp_next(struct sp *p)
{
	size_t i = ++p->i;

	if (i < p->len && p->b[i])
		return (unsigned char)p->b[i];
	return sp_next_slow(p);
}

/* Position of the next '\n' at or after i (the virtual one, or the end). */
static inline size_t sp_line_end(const struct sp *p, size_t i)
{
	const char *nl = i < p->len ? memchr(p->b + i, '\n', p->len - i) : NULL;

	return nl ? (size_t)(nl - p->b) : p->len;
}
enum tok sp_consume_ident(struct sp *p, bool colon, enum lstate then, enum tok t);
enum tok sp_lex_qstring(struct sp *p, bool newline_ok, enum lstate then);
enum tok sp_lex_labels(struct sp *p, int c, enum lstate self, enum lstate after_eq,
		       enum lstate after_close);
const char *sp_tok_name(enum tok t);
int sp_fail(struct sp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sp_parse_error(struct sp *p, const char *exp, enum tok got);
void sp_quote(struct buf *out, const struct sp *p, size_t from, size_t to);
void sp_go_quote(struct buf *out, const void *s, size_t n);
/* Start an entry (a line) at the cursor and return its first token. */
enum tok sp_begin_entry(struct sp *p, enum tok (*lex)(struct sp *p));

/* series.c */
int sp_span_add(struct sp *p, struct spanset *s, struct span name, struct span value);
/* After a label name token: "=" and a quoted value, recorded in set. */
int sp_label_pair(struct sp *p, struct spanset *set, enum tok (*lex)(struct sp *p));
int sp_emit_series(struct sp *p, double v, bool has_ts, int64_t ts,
		   const struct scrape_exemplar *ex, bool has_ex);
int sp_exemplar_labels(struct sp *p, struct labels *out);
int sp_emit_meta(struct sp *p, enum scrape_meta_kind kind, const char *text, size_t len);
enum scrape_type sp_type_from(const char *s, size_t n, bool om, bool *ok);
char *sp_unescape(struct sp *p, size_t off, size_t len, bool quote_escape, size_t *outlen);

/* number.c */
int sp_parse_value(struct sp *p, size_t off, size_t len, double *out);
int sp_parse_float(const char *s, size_t n, double *out, bool *range);
void sp_format_om_float(double f, char *out, size_t cap);

/* textparse.c, omparse.c */
int sp_parse_text(struct sp *p);
int sp_parse_om(struct sp *p);

#endif
