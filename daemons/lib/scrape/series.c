/*
 * From token spans to what the handler sees. The lexers only record where names
 * and values are; here they are copied into the per-entry arena with escapes
 * resolved, sorted, checked and handed over. The arena is reset at every entry, so
 * a scrape of any size runs in the memory of its longest line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/internal.h"

int sp_span_add(struct sp *p, struct spanset *s, struct span name, struct span value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct span *v = realloc(s->v, cap * 2 * sizeof(*v));
		if (!v)
			return sp_fail(p, "out of memory");
		s->v = v;
		s->cap = cap;
	}
	s->v[2 * s->n] = name;
	s->v[2 * s->n + 1] = value;
	s->n++;
	return 0;
}

/* The label value token just lexed (quotes included) must be UTF-8. */
static int check_lvalue_utf8(struct sp *p)
{
	struct buf q = { 0 };
	int rc;

	if (labels_valid_utf8(p->b + p->start, p->i - p->start))
		return 0;
	sp_quote(&q, p, p->start, p->i);
	rc = sp_fail(p, "invalid UTF-8 label value: %s", q.data ? q.data : "");
	buf_free(&q);
	return rc;
}

int sp_label_pair(struct sp *p, struct spanset *set, enum tok (*lex)(struct sp *p))
{
	struct span name = { p->start, p->i - p->start };
	enum tok t;

	if ((t = lex(p)) != T_EQUAL)
		return sp_parse_error(p, "expected equal", t);
	if ((t = lex(p)) != T_LVALUE)
		return sp_parse_error(p, "expected label value", t);
	if (check_lvalue_utf8(p))
		return -1;
	return sp_span_add(p, set, name, (struct span){ p->start + 1, p->i - p->start - 2 });
}

/* Copy with \\ and \n resolved, and \" too where the format escapes quotes (label
 * values always, HELP only in OpenMetrics); other backslashes stay as written. */
char *sp_unescape(struct sp *p, size_t off, size_t len, bool quote_escape, size_t *outlen)
{
	const char *s = p->b + off;
	char *out = arena_alloc(p->a, len + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	for (size_t k = 0; k < len; k++) {
		char c = s[k];
		if (c == '\\' && k + 1 < len) {
			char e = s[k + 1];
			if (e == '\\' || e == 'n' || (e == '"' && quote_escape)) {
				out[n++] = e == 'n' ? '\n' : e;
				k++;
				continue;
			}
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return out;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* le of histograms and quantile of summaries in OpenMetrics float form, when it
 * parses as a float at all (Prometheus 3). */
static const char *normalize(struct sp *p, const char *name, const char *value)
{
	char tmp[64];
	double f;
	bool range;

	if (!((p->type == SCRAPE_TYPE_HISTOGRAM && strcmp(name, "le") == 0) ||
	      (p->type == SCRAPE_TYPE_SUMMARY && strcmp(name, "quantile") == 0)))
		return value;
	if (sp_parse_float(value, strlen(value), &f, &range))
		return value;
	sp_format_om_float(f, tmp, sizeof(tmp));
	return arena_strdup(p->a, tmp);
}

/* Drop the empty values (after duplicates were looked for among all of them). */
static void drop_empty(struct labels *ls)
{
	size_t k = 0;

	for (size_t j = 0; j < ls->n; j++)
		if (ls->v[j].value[0])
			ls->v[k++] = ls->v[j];
	ls->n = k;
}

/* Build a label set from spans; `name` (the metric name) goes first when given. */
static int build(struct sp *p, const struct spanset *s, const char *name, struct labels *out)
{
	size_t n = s->n + (name ? 1 : 0), k = 0;
	struct label *v = arena_alloc(p->a, (n ? n : 1) * sizeof(*v));

	if (!v)
		return sp_fail(p, "out of memory");
	if (name)
		v[k++] = (struct label){ LABELS_METRIC_NAME, name };
	for (size_t j = 0; j < s->n; j++) {
		struct span ln = s->v[2 * j], lv = s->v[2 * j + 1];
		size_t vlen;
		char *val;

		v[k].name = arena_strndup(p->a, p->b + ln.off, ln.len);
		val = sp_unescape(p, lv.off, lv.len, true, &vlen);
		if (!v[k].name || !val)
			return sp_fail(p, "out of memory");
		if (memchr(val, '\0', vlen))
			return sp_fail(p, "label %s: NUL byte in the value", v[k].name);
		v[k].value = name && p->opts->normalize_floats ? normalize(p, v[k].name, val) : val;
		if (!v[k].value)
			return sp_fail(p, "out of memory");
		k++;
	}
	out->v = v;
	out->n = n;
	labels_sort(out);
	return 0;
}

int sp_exemplar_labels(struct sp *p, struct labels *out)
{
	if (build(p, &p->elbl, NULL, out))
		return -1;
	drop_empty(out);
	return 0;
}

static bool skipped_created(const struct sp *p, const char *name)
{
	return p->opts->skip_created &&
	       (p->type == SCRAPE_TYPE_COUNTER || p->type == SCRAPE_TYPE_HISTOGRAM ||
		p->type == SCRAPE_TYPE_SUMMARY) &&
	       ends_with(name, "_created");
}

static int deliver(struct sp *p, struct scrape_sample *s)
{
	const struct scrape_limits *lim = p->opts->limits;

	if (lim && scrape_limits_check_labels(lim, &s->labels, p->err, p->errlen))
		return -1;
	p->stats.samples++;
	if (lim && lim->sample_limit && p->stats.samples > lim->sample_limit) {
		/* Prometheus keeps parsing to count the samples, then fails the scrape. */
		p->over_limit = true;
		return 0;
	}
	if (p->h->sample && p->h->sample(p->h->ctx, s, p->err, p->errlen)) {
		if (!p->err[0])
			snprintf(p->err, p->errlen, "line %zu: sample rejected", p->line);
		return -1;
	}
	return 0;
}

int sp_emit_series(struct sp *p, double v, bool has_ts, int64_t ts,
		   const struct scrape_exemplar *ex, bool has_ex)
{
	struct scrape_sample s = { 0 };
	char *name = arena_strndup(p->a, p->b + p->name.off, p->name.len);

	if (!name)
		return sp_fail(p, "out of memory");
	if (skipped_created(p, name))
		return 0;
	if (build(p, &p->lbl, name, &s.labels))
		return -1;
	for (size_t j = 1; j < s.labels.n; j++)
		if (strcmp(s.labels.v[j - 1].name, s.labels.v[j].name) == 0)
			return sp_fail(p, "label name \"%s\" is not unique", s.labels.v[j].name);
	drop_empty(&s.labels);
	s.name = name;
	s.value = v;
	s.has_ts = has_ts;
	s.ts_ms = ts;
	s.exemplar = has_ex ? ex : NULL;
	s.type = p->type;
	s.line = p->line;
	return deliver(p, &s);
}

int sp_emit_meta(struct sp *p, enum scrape_meta_kind kind, const char *text, size_t len)
{
	struct scrape_meta m = { .kind = kind, .type = p->type, .text = text,
				 .text_len = len, .line = p->line };

	if (!p->h->meta)
		return 0;
	m.family = arena_strndup(p->a, p->b + p->name.off, p->name.len);
	if (!m.family)
		return sp_fail(p, "out of memory");
	if (p->h->meta(p->h->ctx, &m, p->err, p->errlen)) {
		if (!p->err[0])
			snprintf(p->err, p->errlen, "line %zu: metadata rejected", p->line);
		return -1;
	}
	return 0;
}

enum scrape_type sp_type_from(const char *s, size_t n, bool om, bool *ok)
{
	static const struct {
		const char *word;
		enum scrape_type t;
		int formats; /* 1 text, 2 OpenMetrics */
	} types[] = {
		{ "counter", SCRAPE_TYPE_COUNTER, 3 },
		{ "gauge", SCRAPE_TYPE_GAUGE, 3 },
		{ "histogram", SCRAPE_TYPE_HISTOGRAM, 3 },
		{ "summary", SCRAPE_TYPE_SUMMARY, 3 },
		{ "untyped", SCRAPE_TYPE_UNKNOWN, 1 },
		{ "gaugehistogram", SCRAPE_TYPE_GAUGEHISTOGRAM, 2 },
		{ "info", SCRAPE_TYPE_INFO, 2 },
		{ "stateset", SCRAPE_TYPE_STATESET, 2 },
		{ "unknown", SCRAPE_TYPE_UNKNOWN, 2 },
	};

	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if ((types[k].formats & (om ? 2 : 1)) && strlen(types[k].word) == n &&
		    memcmp(types[k].word, s, n) == 0) {
			*ok = true;
			return types[k].t;
		}
	*ok = false;
	return SCRAPE_TYPE_UNKNOWN;
}

const char *scrape_type_name(enum scrape_type t)
{
	switch (t) {
	case SCRAPE_TYPE_COUNTER: return "counter";
	case SCRAPE_TYPE_GAUGE: return "gauge";
	case SCRAPE_TYPE_HISTOGRAM: return "histogram";
	case SCRAPE_TYPE_GAUGEHISTOGRAM: return "gaugehistogram";
	case SCRAPE_TYPE_SUMMARY: return "summary";
	case SCRAPE_TYPE_INFO: return "info";
	case SCRAPE_TYPE_STATESET: return "stateset";
	case SCRAPE_TYPE_UNKNOWN: break;
	}
	return "unknown";
}
