/*
 * promqltest: run upstream's PromQL test scripts (the format is described in
 * ../shared/conformance/promql/FORMAT.md) against our parser and engine over an
 * in-memory TSDB head.
 *
 *   promqltest [-v] [-q] [-x] [--no-delayed-name-removal] FILE...
 *
 * Every eval is one case. A case is skipped when it needs native histograms (a
 * histogram literal among its expected results, or a selector that matches a
 * series that was loaded as a native histogram) or start timestamps (@st lines,
 * which the storage does not keep). Per file the harness prints its counts and,
 * with -v, every failure with its line and reason; skipped cases are listed
 * unless -q. With -x every instant eval is also run as a range query around its
 * time, whose middle step must agree (one of the reference harness's checks).
 * The last line is `N passed, N failed, N skipped`; the exit status
 * is 1 when a case failed.
 *
 * Engine settings are the reference suite's: lookback 5m, timeout 100s, 10,000
 * samples per query, subquery step 1m, delayed name removal, every experimental
 * syntax feature.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "labels/labels.h"
#include "promql/eval_internal.h"
#include "promql/internal.h"
#include "promql/promql.h"
#include "tsdb/tsdb.h"

struct counts {
	unsigned pass, fail, skip;
};

struct opts {
	bool verbose, quiet, extra;
};

struct state {
	const char *file;
	struct opts o;
	struct tsdb_head *head;
	struct arena *a;		/* labels of histogram series; reset by clear */
	struct labels *hist;
	size_t nhist, cap;
	bool start_timestamps;
	bool touched_hist;
	struct promql_engine *eng;
	struct counts c;
};

/* --- small helpers ------------------------------------------------------------------ */

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = 0;
	return s;
}

static bool word(char **p, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(*p, w, n) || ((*p)[n] && (*p)[n] != ' ' && (*p)[n] != '\t'))
		return false;
	*p += n;
	while (**p == ' ' || **p == '\t')
		(*p)++;
	return true;
}

static char *next_token(char **p)
{
	char *s = *p, *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strcspn(s, " \t");
	if (*e)
		*e++ = 0;
	while (*e == ' ' || *e == '\t')
		e++;
	*p = e;
	return s;
}

static int parse_dur(const char *s, int64_t *ms)
{
	char err[256];

	return promql_parse_duration(s, strlen(s), ms, err, sizeof(err));
}

/* --- value notation ------------------------------------------------------------------ */

enum slot_kind { SLOT_VALUE, SLOT_EMPTY, SLOT_STALE };

struct slot {
	enum slot_kind kind;
	double v;
};

struct slots {
	struct slot *v;
	size_t n, cap;
	bool histogram;
};

static int slots_push(struct slots *s, enum slot_kind k, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct slot *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return -1;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = (struct slot){ k, v };
	return 0;
}

/* A number of the series notation; *end after it. */
static bool scan_number(const char *p, const char **end, double *v, bool allow_sign)
{
	const char *s = p;
	char tmp[128];
	size_t n;

	if (allow_sign && (*s == '+' || *s == '-'))
		s++;
	if (!strncasecmp(s, "inf", 3) && !isalnum((unsigned char)s[3])) {
		s += 3;
	} else if (!strncasecmp(s, "nan", 3) && !isalnum((unsigned char)s[3])) {
		s += 3;
	} else {
		bool digits = false;

		while (isdigit((unsigned char)*s)) {
			s++;
			digits = true;
		}
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				s++;
				digits = true;
			}
		}
		if (!digits)
			return false;
		if ((*s == 'e' || *s == 'E') &&
		    (isdigit((unsigned char)s[1]) ||
		     ((s[1] == '+' || s[1] == '-') && isdigit((unsigned char)s[2])))) {
			s += 2;
			while (isdigit((unsigned char)*s))
				s++;
		}
	}
	n = (size_t)(s - p);
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = 0;
	*v = strtod(tmp, NULL);
	*end = s;
	return true;
}

static bool scan_count(const char *p, const char **end, long *k)
{
	if (*p != 'x' || !isdigit((unsigned char)p[1]))
		return false;
	*k = strtol(p + 1, (char **)end, 10);
	return true;
}

/* Expand the value items of a load or result line into slots. */
static int parse_values(const char *p, struct slots *out)
{
	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *e;
		double a, b = 0;
		long k = 0;
		int sign = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return 0;
		if (p[0] == '{' && p[1] == '{') {
			out->histogram = true;
			return 0;
		}
		if (*p == '_') {
			p++;
			k = 1;
			if (scan_count(p, &e, &k))
				p = e;	/* "_xK" is K empty slots */
			for (long i = 0; i < k; i++)
				if (slots_push(out, SLOT_EMPTY, 0))
					return -1;
			continue;
		}
		if (!strncmp(p, "stale", 5)) {
			p += 5;
			if (slots_push(out, SLOT_STALE, 0))
				return -1;
			continue;
		}
		if (!scan_number(p, &e, &a, true))
			return -1;
		p = e;
		if ((*p == '+' || *p == '-') && scan_number(p + 1, &e, &b, false)) {
			sign = *p == '+' ? 1 : -1;
			p = e;
		}
		if (scan_count(p, &e, &k)) {
			p = e;
			for (long i = 0; i <= k; i++)
				if (slots_push(out, SLOT_VALUE, a + sign * b * (double)i))
					return -1;
		} else {
			if (sign)
				return -1;
			if (slots_push(out, SLOT_VALUE, a))
				return -1;
		}
		if (*p && *p != ' ' && *p != '\t')
			return -1;
	}
}

/* Split "<series> <values>" and parse the series into sorted labels. */
static int parse_series(struct arena *a, char *line, struct labels *ls, char **rest)
{
	char *p = line, *sel;
	struct promql_node *n;
	char err[1024];
	bool quoted = false;

	while (*p && *p != '{' && *p != ' ' && *p != '\t')
		p++;
	if (*p == '{') {
		for (; *p; p++) {
			if (quoted && *p == '\\' && p[1]) {
				p++;
				continue;
			}
			if (*p == '"' || *p == '\'' || *p == '`')
				quoted = !quoted;
			if (!quoted && *p == '}') {
				p++;
				break;
			}
		}
	}
	sel = arena_strndup(a, line, (size_t)(p - line));
	*rest = p;
	if (!sel || promql_parse_selector(a, sel, &n, NULL, err, sizeof(err)))
		return -1;
	ls->v = arena_calloc(a, n->vs.nmatchers + 1, sizeof(struct label));
	ls->n = 0;
	if (!ls->v)
		return -1;
	for (size_t i = 0; i < n->vs.nmatchers; i++) {
		const struct promql_matcher *m = &n->vs.matchers[i];

		if (m->type != PROMQL_MATCH_EQ)
			return -1;
		if (!m->value.len)
			continue;
		ls->v[ls->n].name = m->name.s;
		ls->v[ls->n].value = m->value.s;
		ls->n++;
	}
	labels_sort(ls);
	return 0;
}

/* --- storage ------------------------------------------------------------------------------ */

static int reset_store(struct state *st)
{
	struct tsdb_head_options ho = { .chunk_range_ms = INT64_C(1) << 50,
					.ooo_window_ms = INT64_C(1) << 50 };
	char err[256];

	if (st->head)
		tsdb_head_free(st->head);
	st->head = NULL;
	arena_free(st->a);
	st->a = arena_new(0);
	st->nhist = 0;
	st->start_timestamps = false;
	if (!st->a)
		return -1;
	return tsdb_head_new(&ho, &st->head, err, sizeof(err));
}

static int add_hist(struct state *st, const struct labels *ls)
{
	if (st->nhist == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		struct labels *v = realloc(st->hist, cap * sizeof(*v));

		if (!v)
			return -1;
		st->hist = v;
		st->cap = cap;
	}
	return labels_copy(st->a, ls, &st->hist[st->nhist++]);
}

/* load_with_nhcb: X_bucket/X_count/X_sum also make a native histogram X. */
static int add_nhcb(struct state *st, const struct labels *ls)
{
	static const char *const sfx[] = { "_bucket", "_count", "_sum" };
	const char *name = labels_get(ls, LABELS_METRIC_NAME);
	struct labels h;
	size_t nl;

	if (!name)
		return 0;
	nl = strlen(name);
	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(sfx[i]);

		if (nl <= k || strcmp(name + nl - k, sfx[i]))
			continue;
		h.v = arena_calloc(st->a, ls->n, sizeof(struct label));
		h.n = 0;
		if (!h.v)
			return -1;
		for (size_t j = 0; j < ls->n; j++) {
			if (!strcmp(ls->v[j].name, "le"))
				continue;
			h.v[h.n] = ls->v[j];
			if (!strcmp(ls->v[j].name, LABELS_METRIC_NAME))
				h.v[h.n].value = arena_strndup(st->a, name, nl - k);
			h.n++;
		}
		return add_hist(st, &h);
	}
	return 0;
}

struct load_line {
	struct labels ls;
	struct slots sl;
	size_t lineno;
	long next_same;		/* the next line of the block for the same series, or -1 */
};

/* A later line of the same block for the same series overrides a value (the
 * reference loader keeps the last one). */
static bool overridden(const struct load_line *v, size_t i, size_t k)
{
	for (long j = v[i].next_same; j >= 0; j = v[j].next_same)
		if (k < v[j].sl.n && v[j].sl.v[k].kind != SLOT_EMPTY)
			return true;
	return false;
}

static void link_same(struct load_line *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		v[i].next_same = -1;
		for (size_t j = i + 1; j < n && v[i].next_same < 0; j++)
			if (labels_equal(&v[i].ls, &v[j].ls))
				v[i].next_same = (long)j;
	}
}

static void append_lines(struct state *st, struct load_line *v, size_t n, int64_t interval)
{
	char err[256];

	link_same(v, n);
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < v[i].sl.n; k++) {
			const struct slot *s = &v[i].sl.v[k];
			uint64_t ref;
			bool created;

			if (s->kind == SLOT_EMPTY || overridden(v, i, k))
				continue;
			if (tsdb_head_append_labels(st->head, &v[i].ls, (int64_t)k * interval,
						    s->kind == SLOT_STALE ? tsdb_stale_nan() : s->v,
						    &ref, &created, err, sizeof(err)))
				fprintf(stderr, "%s:%zu: append: %s\n", st->file, v[i].lineno, err);
		}
	}
}

static int do_load(struct state *st, char **lines, size_t *i, size_t n, bool nhcb)
{
	char *hdr = trim(lines[*i]), *p = hdr;
	struct load_line *v = NULL;
	size_t nv = 0, cap = 0;
	int64_t interval;
	int rc = -1;

	next_token(&p);
	if (parse_dur(trim(p), &interval))
		return -1;
	for ((*i)++; *i < n; (*i)++) {
		char *line = trim(lines[*i]), *rest;
		struct load_line *l;

		if (!*line || *line == '#')
			break;
		if (strstr(line, "@st")) {
			st->start_timestamps = true;
			continue;
		}
		if (nv == cap) {
			struct load_line *nvv;

			cap = cap ? cap * 2 : 16;
			nvv = realloc(v, cap * sizeof(*v));
			if (!nvv)
				goto done;
			v = nvv;
		}
		l = &v[nv];
		memset(l, 0, sizeof(*l));
		l->lineno = *i + 1;
		if (parse_series(st->a, line, &l->ls, &rest) || parse_values(rest, &l->sl)) {
			fprintf(stderr, "%s:%zu: bad load line\n", st->file, *i + 1);
			free(l->sl.v);
			goto done;
		}
		if (l->sl.histogram) {
			free(l->sl.v);
			if (add_hist(st, &l->ls))
				goto done;
			continue;
		}
		if (nhcb && add_nhcb(st, &l->ls))
			goto done;
		nv++;
	}
	append_lines(st, v, nv, interval);
	rc = 0;
done:
	for (size_t k = 0; k < nv; k++)
		free(v[k].sl.v);
	free(v);
	(*i)--;
	return rc;
}

/* --- the querier wrapper that notices native histogram series ------------------------- */

struct wrap {
	struct tsdb_querier base;
	struct tsdb_querier *inner;
	struct state *st;
};

static bool hist_matches(const struct labels *ls, const struct tsdb_matcher *ms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = labels_get(ls, ms[i].name);

		if (!tsdb_matcher_matches(&ms[i], v ? v : ""))
			return false;
	}
	return true;
}

static int w_select(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
		    const struct tsdb_select_hints *hints, struct tsdb_series_set **out,
		    char *err, size_t errlen)
{
	struct wrap *w = (struct wrap *)q;

	for (size_t i = 0; i < w->st->nhist; i++)
		if (hist_matches(&w->st->hist[i], ms, n))
			w->st->touched_hist = true;
	return tsdb_querier_select(w->inner, ms, n, hints, out, err, errlen);
}

static int w_names(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
		   struct tsdb_strings *out, char *err, size_t errlen)
{
	return tsdb_querier_label_names(((struct wrap *)q)->inner, ms, n, out, err, errlen);
}

static int w_values(struct tsdb_querier *q, const char *name, const struct tsdb_matcher *ms,
		    size_t n, struct tsdb_strings *out, char *err, size_t errlen)
{
	return tsdb_querier_label_values(((struct wrap *)q)->inner, name, ms, n, out, err, errlen);
}

static void w_close(struct tsdb_querier *q)
{
	struct wrap *w = (struct wrap *)q;

	tsdb_querier_close(w->inner);
	free(w);
}

static const struct tsdb_querier_ops wrap_ops = { w_select, w_names, w_values, w_close };

static int open_querier(void *arg, int64_t mint, int64_t maxt, struct tsdb_querier **out,
			char *err, size_t errlen)
{
	struct state *st = arg;
	struct wrap *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (tsdb_head_querier(st->head, mint, maxt, &w->inner, err, errlen)) {
		free(w);
		return -1;
	}
	w->base.ops = &wrap_ops;
	w->base.mint = w->inner->mint;
	w->base.maxt = w->inner->maxt;
	w->base.arena = w->inner->arena;
	w->st = st;
	*out = &w->base;
	return 0;
}

/* --- eval ---------------------------------------------------------------------------------- */

struct expect_anno {
	int kind;		/* 0 any, 1 msg, 2 regex */
	char *text;
};

struct result_line {
	struct labels ls;
	struct slots vals;
	size_t line;
};

struct eval_case {
	size_t line;
	char *expr;
	bool range;
	int64_t start, end, step;
	bool expect_fail, ordered, has_string, range_vector;
	int fail_kind;		/* 0 any, 1 msg, 2 regex */
	char *fail_text;
	char *string;
	int64_t rv_from, rv_to, rv_step;
	struct expect_anno warn[16], info[16];
	size_t nwarn, ninfo;
	bool no_warn, no_info, has_warn, has_info;
	bool scalar_set;
	double scalar;
	struct result_line *res;
	size_t nres, capres;
	bool histogram_literal;
	char why[2048];
};

/* FORMAT.md 5.3: a stale marker equals only a stale marker, otherwise
 * upstream's almost.Equal with a relative tolerance of 1e-6. */
static bool float_eq(double a, double b)
{
	if (tsdb_is_stale_nan(a) || tsdb_is_stale_nan(b))
		return tsdb_is_stale_nan(a) && tsdb_is_stale_nan(b);
	return pq_almost_equal(a, b, 1e-6);
}

static bool regex_search(const char *re, const char *s)
{
	struct labels_regex *r;
	char err[256], *pat;
	bool m;

	if (asprintf(&pat, ".*(?:%s).*", re) < 0)
		return false;
	if (labels_regex_compile(pat, &r, err, sizeof(err))) {
		free(pat);
		return false;
	}
	m = labels_regex_match(r, s, strlen(s));
	labels_regex_free(r);
	free(pat);
	return m;
}

static void whyf(struct eval_case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void whyf(struct eval_case *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static bool anno_matches(const struct expect_anno *e, const char *s)
{
	switch (e->kind) {
	case 0: return true;
	case 1: return !strcmp(e->text, s);
	default: return regex_search(e->text, s);
	}
}

static bool check_annos(struct eval_case *c, const char *what, const struct expect_anno *ex,
			size_t nex, bool none, bool has, const char **got, size_t ngot)
{
	if (none && ngot) {
		whyf(c, "unexpected %s annotation: %s", what, got[0]);
		return false;
	}
	if (!has)
		return true;
	for (size_t i = 0; i < nex; i++) {
		bool found = false;

		for (size_t j = 0; j < ngot && !found; j++)
			found = anno_matches(&ex[i], got[j]);
		if (!found) {
			whyf(c, "expected %s annotation %s not raised (got %zu: %s)", what,
			     ex[i].text ? ex[i].text : "(any)", ngot, ngot ? got[0] : "");
			return false;
		}
	}
	for (size_t j = 0; j < ngot; j++) {
		bool found = false;

		for (size_t i = 0; i < nex && !found; i++)
			found = anno_matches(&ex[i], got[j]);
		if (!found) {
			whyf(c, "unexpected %s annotation: %s", what, got[j]);
			return false;
		}
	}
	return true;
}

static void fmt_labels(const struct labels *ls, char *out, size_t cap)
{
	struct buf b = { 0 };

	labels_format(ls, &b);
	snprintf(out, cap, "%s", b.data ? b.data : "{}");
	buf_free(&b);
}

static bool check_vector(struct eval_case *c, const struct promql_result *r)
{
	char lb[512];

	if (r->type != PROMQL_TYPE_VECTOR) {
		whyf(c, "expected a vector, got %s", promql_type_name(r->type));
		return false;
	}
	if (r->nseries != c->nres) {
		whyf(c, "expected %zu elements, got %zu", c->nres, r->nseries);
		for (size_t i = 0; i < r->nseries && i < 4; i++) {
			fmt_labels(&r->series[i].metric, lb, sizeof(lb));
			fprintf(stderr, "      got %s %g\n", lb, r->series[i].points[0].v);
		}
		return false;
	}
	for (size_t i = 0; i < c->nres; i++) {
		const struct result_line *e = &c->res[i];
		size_t j;

		if (e->vals.n != 1) {
			whyf(c, "line %zu: an instant result needs exactly one value", e->line);
			return false;
		}
		for (j = 0; j < r->nseries; j++)
			if (labels_equal(&e->ls, &r->series[j].metric))
				break;
		fmt_labels(&e->ls, lb, sizeof(lb));
		if (j == r->nseries) {
			whyf(c, "missing %s", lb);
			return false;
		}
		if (c->ordered && j != i) {
			whyf(c, "%s at position %zu, expected %zu", lb, j + 1, i + 1);
			return false;
		}
		{
			double want = e->vals.v[0].kind == SLOT_STALE ? tsdb_stale_nan() : e->vals.v[0].v;
			double got = r->series[j].points[0].v;

			if (e->vals.v[0].kind == SLOT_EMPTY || !float_eq(want, got)) {
				whyf(c, "%s: expected %.17g, got %.17g", lb, want, got);
				return false;
			}
		}
	}
	return true;
}

static bool check_matrix(struct eval_case *c, const struct promql_result *r, int64_t from,
			 int64_t step)
{
	char lb[512];

	if (r->type != PROMQL_TYPE_MATRIX) {
		whyf(c, "expected a matrix, got %s", promql_type_name(r->type));
		return false;
	}
	if (r->nseries != c->nres) {
		whyf(c, "expected %zu series, got %zu", c->nres, r->nseries);
		for (size_t i = 0; i < r->nseries && i < 4; i++) {
			fmt_labels(&r->series[i].metric, lb, sizeof(lb));
			fprintf(stderr, "      got %s (%zu points)\n", lb, r->series[i].npoints);
		}
		return false;
	}
	for (size_t i = 1; i < r->nseries; i++)
		if (labels_compare(&r->series[i - 1].metric, &r->series[i].metric) >= 0) {
			whyf(c, "matrix not sorted by labels");
			return false;
		}
	for (size_t i = 0; i < c->nres; i++) {
		const struct result_line *e = &c->res[i];
		const struct promql_series *s = NULL;
		size_t k = 0;

		for (size_t j = 0; j < r->nseries && !s; j++)
			if (labels_equal(&e->ls, &r->series[j].metric))
				s = &r->series[j];
		fmt_labels(&e->ls, lb, sizeof(lb));
		if (!s) {
			whyf(c, "missing %s", lb);
			return false;
		}
		for (size_t v = 0; v < e->vals.n; v++) {
			int64_t t = from + (int64_t)v * step;
			double want = e->vals.v[v].kind == SLOT_STALE ? tsdb_stale_nan() :
				      e->vals.v[v].v;

			if (e->vals.v[v].kind == SLOT_EMPTY) {
				if (k < s->npoints && s->points[k].t == t) {
					whyf(c, "%s: unexpected point at %lld", lb, (long long)t);
					return false;
				}
				continue;
			}
			if (k >= s->npoints || s->points[k].t != t) {
				whyf(c, "%s: missing point at %lld", lb, (long long)t);
				return false;
			}
			if (!float_eq(want, s->points[k].v)) {
				whyf(c, "%s at %lld: expected %.17g, got %.17g", lb, (long long)t, want,
				     s->points[k].v);
				return false;
			}
			k++;
		}
		if (k != s->npoints) {
			whyf(c, "%s: %zu unexpected extra points (first at %lld)", lb, s->npoints - k,
			     (long long)s->points[k].t);
			return false;
		}
	}
	return true;
}

static bool check_result(struct eval_case *c, const struct promql_result *r, int rc)
{
	if (c->expect_fail) {
		if (rc == 0) {
			whyf(c, "expected the query to fail");
			return false;
		}
		if (c->fail_kind == 1 && strcmp(r->err, c->fail_text)) {
			whyf(c, "expected error \"%s\", got \"%s\"", c->fail_text, r->err);
			return false;
		}
		if (c->fail_kind == 2 && !regex_search(c->fail_text, r->err)) {
			whyf(c, "error \"%s\" does not match /%s/", r->err, c->fail_text);
			return false;
		}
		return true;
	}
	if (rc) {
		whyf(c, "unexpected error: %s", r->err);
		return false;
	}
	if (!check_annos(c, "warn", c->warn, c->nwarn, c->no_warn, c->has_warn, r->warnings,
			 r->nwarnings) ||
	    !check_annos(c, "info", c->info, c->ninfo, c->no_info, c->has_info, r->infos,
			 r->ninfos))
		return false;
	if (c->has_string) {
		if (r->type != PROMQL_TYPE_STRING || strcmp(r->string.s, c->string)) {
			whyf(c, "expected string \"%s\"", c->string);
			return false;
		}
		return true;
	}
	if (c->scalar_set) {
		if (r->type != PROMQL_TYPE_SCALAR) {
			whyf(c, "expected a scalar, got %s", promql_type_name(r->type));
			return false;
		}
		if (!float_eq(c->scalar, r->scalar.v)) {
			whyf(c, "expected scalar %.17g, got %.17g", c->scalar, r->scalar.v);
			return false;
		}
		return true;
	}
	if (c->range_vector)
		return check_matrix(c, r, c->rv_from, c->rv_step);
	if (c->range)
		return check_matrix(c, r, c->start, c->step);
	return check_vector(c, r);
}

static char *unquote_go(struct arena *a, char *s)
{
	struct promql_str out;

	s = trim(s);
	if (promql_unquote(a, s, strlen(s), &out))
		return s;
	return (char *)out.s;
}

static int parse_expect(struct state *st, struct eval_case *c, char *line)
{
	char *p = line + 6, *kw;
	struct expect_anno *a;

	while (*p == ' ')
		p++;
	kw = next_token(&p);
	if (!strcmp(kw, "fail")) {
		c->expect_fail = true;
		if (!strncmp(p, "msg:", 4)) {
			c->fail_kind = 1;
			c->fail_text = trim(p + 4);
		} else if (!strncmp(p, "regex:", 6)) {
			c->fail_kind = 2;
			c->fail_text = trim(p + 6);
		}
		return 0;
	}
	if (!strcmp(kw, "ordered")) {
		c->ordered = true;
		return 0;
	}
	if (!strcmp(kw, "no_warn")) {
		c->no_warn = true;
		return 0;
	}
	if (!strcmp(kw, "no_info")) {
		c->no_info = true;
		return 0;
	}
	if (!strcmp(kw, "string")) {
		c->has_string = true;
		c->string = unquote_go(st->a, p);
		return 0;
	}
	if (!strcmp(kw, "range")) {
		char *f, *t, *s;

		if (!word(&p, "vector") || !word(&p, "from"))
			return -1;
		f = next_token(&p);
		if (!word(&p, "to"))
			return -1;
		t = next_token(&p);
		if (!word(&p, "step"))
			return -1;
		s = next_token(&p);
		c->range_vector = true;
		return parse_dur(f, &c->rv_from) || parse_dur(t, &c->rv_to) ||
		       parse_dur(s, &c->rv_step);
	}
	if (strcmp(kw, "warn") && strcmp(kw, "info"))
		return -1;
	if (!strcmp(kw, "warn")) {
		c->has_warn = true;
		if (c->nwarn == 16)
			return 0;
		a = &c->warn[c->nwarn++];
	} else {
		c->has_info = true;
		if (c->ninfo == 16)
			return 0;
		a = &c->info[c->ninfo++];
	}
	if (!strncmp(p, "msg:", 4)) {
		a->kind = 1;
		a->text = trim(p + 4);
	} else if (!strncmp(p, "regex:", 6)) {
		a->kind = 2;
		a->text = trim(p + 6);
	}
	return 0;
}

static int add_result(struct state *st, struct eval_case *c, char *line, size_t lineno)
{
	struct result_line *r;
	char *rest;

	if (c->nres == c->capres) {
		size_t cap = c->capres ? c->capres * 2 : 8;
		struct result_line *v = realloc(c->res, cap * sizeof(*v));

		if (!v)
			return -1;
		c->res = v;
		c->capres = cap;
	}
	r = &c->res[c->nres];
	memset(r, 0, sizeof(*r));
	r->line = lineno;
	if (strstr(line, "{{"))
		c->histogram_literal = true;
	if (parse_series(st->a, line, &r->ls, &rest) || parse_values(rest, &r->vals))
		return -1;
	if (r->vals.histogram)
		c->histogram_literal = true;
	c->nres++;
	return 0;
}

static int parse_header(struct eval_case *c, char *p)
{
	char *a, *b, *s;

	if (word(&p, "instant")) {
		if (!word(&p, "at"))
			return -1;
		a = next_token(&p);
		if (parse_dur(a, &c->start))
			return -1;
		c->end = c->start;
	} else if (word(&p, "range")) {
		if (!word(&p, "from"))
			return -1;
		a = next_token(&p);
		if (!word(&p, "to"))
			return -1;
		b = next_token(&p);
		if (!word(&p, "step"))
			return -1;
		s = next_token(&p);
		c->range = true;
		if (parse_dur(a, &c->start) || parse_dur(b, &c->end) || parse_dur(s, &c->step))
			return -1;
	} else {
		return -1;
	}
	c->expr = p;
	return 0;
}

/* The reference harness's second check: an instant eval run as a range query from
 * t-1m to t+1m must give the same result in its middle step. */
static bool range_check(struct state *st, struct eval_case *c)
{
	struct promql_query q = { .expr = c->expr, .start_ms = c->start - 60000,
				  .end_ms = c->start + 60000, .step_ms = 60000 };
	struct promql_result r;
	size_t found = 0;
	bool ok = true;

	if (c->expect_fail || c->ordered || c->has_string || c->range_vector ||
	    strstr(c->expr, "start()") || strstr(c->expr, "end()") || strstr(c->expr, "range()") ||
	    strstr(c->expr, "step()"))
		return true;
	if (promql_engine_exec(st->eng, &q, open_querier, st, &r)) {
		whyf(c, "as a range query: %s", r.err);
		promql_result_free(&r);
		return false;
	}
	for (size_t i = 0; i < r.nseries && ok; i++) {
		const struct promql_series *s = &r.series[i];
		const struct promql_point *mid = NULL;

		for (size_t k = 0; k < s->npoints; k++)
			if (s->points[k].t == c->start)
				mid = &s->points[k];
		if (!mid)
			continue;
		found++;
		if (c->scalar_set) {
			ok = float_eq(c->scalar, mid->v);
			continue;
		}
		ok = false;
		for (size_t j = 0; j < c->nres; j++)
			if (labels_equal(&c->res[j].ls, &s->metric) && c->res[j].vals.n == 1)
				ok = float_eq(c->res[j].vals.v[0].v, mid->v);
	}
	if (ok && found != (c->scalar_set ? 1 : c->nres))
		ok = false;
	if (!ok)
		whyf(c, "as a range query the middle step differs");
	promql_result_free(&r);
	return ok;
}

static void report(struct state *st, struct eval_case *c, const char *status)
{
	if (!strcmp(status, "SKIP") && st->o.quiet)
		return;
	if (!strcmp(status, "FAIL") && !st->o.verbose)
		return;
	printf("  %s %s:%zu: %s%s%s\n", status, st->file, c->line, c->expr,
	       c->why[0] ? "\n      " : "", c->why);
}

static void free_case(struct eval_case *c)
{
	for (size_t i = 0; i < c->nres; i++)
		free(c->res[i].vals.v);
	free(c->res);
}

static int do_eval(struct state *st, char **lines, size_t *i, size_t n)
{
	struct eval_case c;
	char *hdr = trim(lines[*i]), *p = hdr, *cmd;
	struct promql_query q = { 0 };
	struct promql_result r;
	int rc;

	memset(&c, 0, sizeof(c));
	c.line = *i + 1;
	cmd = next_token(&p);
	if (!strcmp(cmd, "eval_fail"))
		c.expect_fail = true;
	else if (!strcmp(cmd, "eval_ordered"))
		c.ordered = true;
	else if (!strcmp(cmd, "eval_warn"))
		c.has_warn = true, c.nwarn = 1;
	else if (!strcmp(cmd, "eval_info"))
		c.has_info = true, c.ninfo = 1;
	if (parse_header(&c, p)) {
		fprintf(stderr, "%s:%zu: bad eval line\n", st->file, c.line);
		st->c.fail++;
		return 0;
	}
	for ((*i)++; *i < n; (*i)++) {
		char *line = trim(lines[*i]);
		double v;
		char err[128];

		if (!*line || *line == '#')
			break;
		if (!strncmp(line, "expect ", 7)) {
			if (parse_expect(st, &c, line))
				whyf(&c, "bad expectation line %zu", *i + 1);
			continue;
		}
		if (!strncmp(line, "expected_fail_message", 21)) {
			c.fail_kind = 1;
			c.fail_text = trim(line + 21);
			continue;
		}
		if (!strncmp(line, "expected_fail_regexp", 20)) {
			c.fail_kind = 2;
			c.fail_text = trim(line + 20);
			continue;
		}
		if (promql_parse_number(line, strlen(line), &v, err, sizeof(err)) == 0) {
			c.scalar_set = true;
			c.scalar = v;
			(*i)++;
			break;
		}
		if (add_result(st, &c, line, *i + 1))
			whyf(&c, "bad result line %zu", *i + 1);
	}
	(*i)--;
	if (c.histogram_literal || st->start_timestamps) {
		snprintf(c.why, sizeof(c.why), "%s", c.histogram_literal ? "native histogram result" :
			 "start timestamps");
		st->c.skip++;
		report(st, &c, "SKIP");
		free_case(&c);
		return 0;
	}
	q.expr = c.expr;
	q.start_ms = c.start;
	q.end_ms = c.end;
	q.step_ms = c.range ? c.step : 0;
	st->touched_hist = false;
	rc = promql_engine_exec(st->eng, &q, open_querier, st, &r);
	if (st->touched_hist) {
		snprintf(c.why, sizeof(c.why), "reads native histogram series");
		st->c.skip++;
		report(st, &c, "SKIP");
	} else if (!c.why[0] && check_result(&c, &r, rc) &&
		   (!st->o.extra || c.range || range_check(st, &c))) {
		st->c.pass++;
	} else {
		st->c.fail++;
		report(st, &c, "FAIL");
	}
	promql_result_free(&r);
	free_case(&c);
	return 0;
}

/* --- files ------------------------------------------------------------------------------- */

static char **read_lines(const char *path, size_t *n, char **data)
{
	FILE *f = fopen(path, "r");
	struct buf b = { 0 };
	char chunk[65536], **lines = NULL;
	size_t k, cap = 0;

	*n = 0;
	if (!f)
		return NULL;
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, k);
	fclose(f);
	if (b.oom || !b.data) {
		buf_free(&b);
		return NULL;
	}
	*data = b.data;
	for (char *p = b.data; p && *p;) {
		char *e = strchr(p, '\n');

		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			lines = realloc(lines, cap * sizeof(*lines));
			if (!lines)
				return NULL;
		}
		lines[(*n)++] = p;
		if (!e)
			break;
		*e = 0;
		p = e + 1;
	}
	return lines;
}

static int run_file(struct state *st, const char *path)
{
	size_t n;
	char *data = NULL, **lines = read_lines(path, &n, &data);

	if (!lines) {
		fprintf(stderr, "%s: cannot read\n", path);
		free(data);
		return -1;
	}
	st->file = path;
	if (reset_store(st)) {
		free(lines);
		free(data);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char *line = trim(lines[i]);

		if (!*line || *line == '#')
			continue;
		if (!strncmp(line, "load_with_nhcb", 14))
			do_load(st, lines, &i, n, true);
		else if (!strncmp(line, "load", 4))
			do_load(st, lines, &i, n, false);
		else if (!strcmp(line, "clear"))
			reset_store(st);
		else if (!strncmp(line, "eval", 4))
			do_eval(st, lines, &i, n);
		else
			fprintf(stderr, "%s:%zu: unknown command\n", path, i + 1);
	}
	free(lines);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	struct promql_engine_opts eo = {
		.lookback_delta_ms = 5 * 60 * 1000,
		.timeout_ms = 100 * 1000,
		.max_samples = 10000,
		.subquery_step_ms = 60 * 1000,
		.delayed_name_removal = true,
		.parse = PROMQL_PARSE_OPTS_ALL,
	};
	struct state st = { 0 };
	struct counts total = { 0 };
	char err[256];
	int argi = 1;

	for (; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "-v"))
			st.o.verbose = true;
		else if (!strcmp(argv[argi], "-q"))
			st.o.quiet = true;
		else if (!strcmp(argv[argi], "-x"))
			st.o.extra = true;
		else if (!strcmp(argv[argi], "--no-delayed-name-removal"))
			eo.delayed_name_removal = false;
		else {
			fprintf(stderr, "usage: promqltest [-v] [-q] [-x] [--no-delayed-name-removal] FILE...\n");
			return 2;
		}
	}
	if (promql_engine_new(&eo, &st.eng, err, sizeof(err))) {
		fprintf(stderr, "engine: %s\n", err);
		return 2;
	}
	for (; argi < argc; argi++) {
		memset(&st.c, 0, sizeof(st.c));
		if (run_file(&st, argv[argi]))
			st.c.fail++;
		printf("%s: %u passed, %u failed, %u skipped\n", argv[argi], st.c.pass, st.c.fail,
		       st.c.skip);
		total.pass += st.c.pass;
		total.fail += st.c.fail;
		total.skip += st.c.skip;
	}
	if (st.head)
		tsdb_head_free(st.head);
	arena_free(st.a);
	free(st.hist);
	promql_engine_free(st.eng);
	labels_regex_thread_cleanup();
	printf("%u passed, %u failed, %u skipped\n", total.pass, total.fail, total.skip);
	return total.fail ? 1 : 0;
}
