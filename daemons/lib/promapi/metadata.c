/*
 * The metadata endpoints: series, label names, label values. Each match[] selector is
 * parsed with the PromQL parser (so the syntax and error texts are PromQL's), run as
 * its own select, and the results are unioned, sorted and deduplicated, as
 * Prometheus merges several match[] parameters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "labels/labels.h"
#include "promapi/promapi.h"
#include "promql/promql.h"
#include "tsdb/tsdb.h"

/* The request's common parameters. */
struct meta_params {
	struct promapi_selector *sel;
	size_t nsel;
	int64_t start, end;
	size_t limit; /* 0: none */
};

static void free_params(struct meta_params *p)
{
	promapi_selectors_free(p->sel, p->nsel);
}

void promapi_selectors_free(struct promapi_selector *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < s[i].n; k++)
			tsdb_matcher_free(&s[i].ms[k]);
}

int promapi_selector_from_node(struct arena *a, const struct promql_node *vs,
			       struct promapi_selector *out, char *err, size_t errlen)
{
	static const enum tsdb_match_type types[] = {
		[PROMQL_MATCH_EQ] = TSDB_MATCH_EQ, [PROMQL_MATCH_NEQ] = TSDB_MATCH_NEQ,
		[PROMQL_MATCH_RE] = TSDB_MATCH_RE, [PROMQL_MATCH_NRE] = TSDB_MATCH_NRE,
	};
	size_t n = vs->vs.nmatchers;

	out->ms = arena_calloc(a, n ? n : 1, sizeof(*out->ms));
	out->n = 0;
	if (!out->ms) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct promql_matcher *m = &vs->vs.matchers[i];
		if (tsdb_matcher_init(&out->ms[i], types[m->type], m->name.s, m->value.s, err, errlen) < 0)
			return -1;
		out->n++;
	}
	return 0;
}

/* 0, or -1 after replying 400. */
static int parse_params(struct http_req *req, struct meta_params *p, bool need_match)
{
	const char *const *match;
	size_t nmatch = http_req_arg_all(req, "match[]", &match);
	const char *limit = http_req_arg(req, "limit");
	char err[1200];

	memset(p, 0, sizeof(*p));
	if (promapi_time_param(http_req_arg(req, "start"), PROMAPI_MIN_TIME, &p->start, err, sizeof(err)) < 0) {
		http_reply_prom_error(req, 400, "bad_data", "invalid parameter \"start\": %s", err);
		return -1;
	}
	if (promapi_time_param(http_req_arg(req, "end"), PROMAPI_MAX_TIME, &p->end, err, sizeof(err)) < 0) {
		http_reply_prom_error(req, 400, "bad_data", "invalid parameter \"end\": %s", err);
		return -1;
	}
	if (p->end < p->start) {
		http_reply_prom_error(req, 400, "bad_data", "end timestamp must not be before start timestamp");
		return -1;
	}
	if (limit && *limit) {
		char *end;
		long long v = strtoll(limit, &end, 10);
		if (*end || v < 0) {
			http_reply_prom_error(req, 400, "bad_data", "limit must be a non-negative number");
			return -1;
		}
		p->limit = (size_t)v;
	}
	if (need_match && nmatch == 0) {
		http_reply_prom_error(req, 400, "bad_data", "no match[] parameter provided");
		return -1;
	}
	if (promapi_parse_matches(req, true, &p->sel, &p->nsel, err, sizeof(err)) < 0) {
		http_reply_prom_error(req, 400, "bad_data", "%s", err);
		return -1;
	}
	return 0;
}

int promapi_parse_matches(struct http_req *req, bool selective, struct promapi_selector **out,
			  size_t *n, char *err, size_t errlen)
{
	struct arena *a = http_req_arena(req);
	const char *const *match;
	size_t nmatch = http_req_arg_all(req, "match[]", &match);
	struct promapi_selector *sel = arena_calloc(a, nmatch ? nmatch : 1, sizeof(*sel));
	size_t k = 0;

	if (!sel) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (; k < nmatch; k++) {
		struct promql_parse_error perr;
		struct promql_node *vs;
		char why[1024];

		if (promql_parse_selector(a, match[k], &vs, &perr, why, sizeof(why)) < 0 ||
		    promapi_selector_from_node(a, vs, &sel[k], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "invalid parameter \"match[]\": %s", why);
			goto fail;
		}
		if (selective && !tsdb_matchers_selective(sel[k].ms, sel[k].n)) {
			snprintf(err, errlen, "match[] must contain at least one non-empty matcher");
			goto fail;
		}
	}
	*out = sel;
	*n = nmatch;
	return 0;
fail:
	promapi_selectors_free(sel, k + 1);
	return -1;
}

static int cmp_labels(const void *a, const void *b)
{
	return labels_compare(*(const struct labels *const *)a, *(const struct labels *const *)b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort, drop duplicates, return the new count. */
static size_t sort_unique(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	char *base = v;
	size_t k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, size, cmp);
	for (size_t i = 1; i < n; i++)
		if (cmp(base + k * size, base + i * size) != 0)
			memcpy(base + ++k * size, base + i * size, size);
	return k + 1;
}

/* A growable pointer array in the arena. */
struct ptrs {
	const void **v;
	size_t n, cap;
};

static int ptrs_push(struct arena *a, struct ptrs *p, const void *x)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		const void **v = arena_alloc(a, cap * sizeof(*v));
		if (!v)
			return -1;
		if (p->n)
			memcpy(v, p->v, p->n * sizeof(*v));
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = x;
	return 0;
}

static void reply_truncated(struct http_req *req, struct jw *w, struct buf *b, bool truncated)
{
	static const char *const warn[] = { "results truncated due to limit" };

	promapi_reply(req, w, b, truncated ? warn : NULL, truncated ? 1 : 0);
}

static void handle_series(struct http_req *req, void *ctx)
{
	const struct promapi_source *c = ctx;
	struct arena *a = http_req_arena(req);
	struct tsdb_select_hints hints = { .labels_only = true };
	struct tsdb_querier *q = NULL;
	struct meta_params p;
	struct ptrs out = { 0 };
	struct buf b = { 0 };
	struct jw w;
	char err[512];
	size_t n;

	if (parse_params(req, &p, true) < 0)
		return;
	hints.start = p.start;
	hints.end = p.end;
	if (c->open(c->arg, req, p.start, p.end, &q, err, sizeof(err)) < 0)
		goto fail;
	for (size_t i = 0; i < p.nsel; i++) {
		struct tsdb_series_set *ss;
		if (tsdb_querier_select(q, p.sel[i].ms, p.sel[i].n, &hints, &ss, err, sizeof(err)) < 0)
			goto fail;
		while (tsdb_series_set_next(ss)) {
			struct labels *copy = arena_alloc(a, sizeof(*copy));
			if (!copy || labels_copy(a, tsdb_series_set_labels(ss), copy) < 0 ||
			    ptrs_push(a, &out, copy) < 0)
				goto oom;
		}
		if (tsdb_series_set_err(ss, err, sizeof(err)) < 0)
			goto fail;
	}
	n = sort_unique(out.v, out.n, sizeof(*out.v), cmp_labels);
	promapi_begin(&w, &b);
	jw_arr_begin(&w);
	for (size_t i = 0; i < n && (!p.limit || i < p.limit); i++) {
		const struct labels *ls = out.v[i];
		jw_obj_begin(&w);
		for (size_t k = 0; k < ls->n; k++)
			jw_kstr(&w, ls->v[k].name, ls->v[k].value);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	reply_truncated(req, &w, &b, p.limit && n > p.limit);
	goto done;
oom:
	snprintf(err, sizeof(err), "out of memory");
fail:
	http_reply_prom_error(req, 500, "internal", "%s", err);
done:
	tsdb_querier_close(q);
	free_params(&p);
}

/* Label names (name == NULL) or the values of label `name`, for the request's match[]. */
static void strings_reply(struct http_req *req, const struct promapi_source *c, const char *name)
{
	struct arena *a = http_req_arena(req);
	struct tsdb_querier *q = NULL;
	struct meta_params p;
	struct ptrs out = { 0 };
	struct buf b = { 0 };
	struct jw w;
	char err[512];
	size_t n, runs;

	if (parse_params(req, &p, false) < 0)
		return;
	if (c->open(c->arg, req, p.start, p.end, &q, err, sizeof(err)) < 0)
		goto fail;
	runs = p.nsel ? p.nsel : 1;
	for (size_t i = 0; i < runs; i++) {
		const struct tsdb_matcher *ms = p.nsel ? p.sel[i].ms : NULL;
		size_t nm = p.nsel ? p.sel[i].n : 0;
		struct tsdb_strings st;
		int rc = name ? tsdb_querier_label_values(q, name, ms, nm, &st, err, sizeof(err))
			      : tsdb_querier_label_names(q, ms, nm, &st, err, sizeof(err));
		if (rc < 0)
			goto fail;
		for (size_t k = 0; k < st.n; k++)
			if (ptrs_push(a, &out, st.v[k]) < 0) {
				snprintf(err, sizeof(err), "out of memory");
				goto fail;
			}
	}
	n = sort_unique(out.v, out.n, sizeof(*out.v), cmp_str);
	promapi_begin(&w, &b);
	jw_arr_begin(&w);
	for (size_t i = 0; i < n && (!p.limit || i < p.limit); i++)
		jw_str(&w, out.v[i]);
	jw_arr_end(&w);
	reply_truncated(req, &w, &b, p.limit && n > p.limit);
	goto done;
fail:
	http_reply_prom_error(req, 500, "internal", "%s", err);
done:
	tsdb_querier_close(q);
	free_params(&p);
}

static void handle_labels(struct http_req *req, void *ctx)
{
	strings_reply(req, ctx, NULL);
}

static void handle_values(struct http_req *req, void *ctx)
{
	const char *name = http_req_param(req, "name");

	if (!labels_valid_name(name, strlen(name))) {
		http_reply_prom_error(req, 400, "bad_data", "invalid label name: \"%s\"", name);
		return;
	}
	strings_reply(req, ctx, name);
}

int promapi_register_metadata_routes(struct http_server *s, const char *prefix,
				     const struct promapi_source *src)
{
	void *c = (void *)src; /* handlers only read it */
	char series[256], labels[256], values[256];

	snprintf(series, sizeof(series), "%s/api/v1/series", prefix);
	snprintf(labels, sizeof(labels), "%s/api/v1/labels", prefix);
	snprintf(values, sizeof(values), "%s/api/v1/label/:name/values", prefix);
	if (http_route(s, HTTP_GET | HTTP_POST, series, "/api/v1/series", handle_series, c) < 0 ||
	    http_route(s, HTTP_GET | HTTP_POST, labels, "/api/v1/labels", handle_labels, c) < 0 ||
	    http_route(s, HTTP_GET, values, "/api/v1/label/:name/values", handle_values, c) < 0)
		return -1;
	return 0;
}
