/*
 * Route table. Patterns are split into segments once, at registration; a request's
 * path arrives already split and percent-decoded per segment, so an encoded '/'
 * stays inside its segment. The table is small (tens of routes) and read-only once
 * the server runs, so matching is a linear scan that keeps the most specific match:
 * comparing segment kinds left to right, literal beats :param beats *rest, and the
 * earlier registration wins a tie. HEAD is served by GET routes.
 */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned bit;
} method_names[] = {
	{ "GET", HTTP_GET },     { "HEAD", HTTP_HEAD },       { "POST", HTTP_POST },
	{ "PUT", HTTP_PUT },     { "DELETE", HTTP_DELETE },   { "OPTIONS", HTTP_OPTIONS },
};

unsigned http_method_bit(const char *method)
{
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
		if (strcmp(method, method_names[i].name) == 0)
			return method_names[i].bit;
	return 0;
}

char *http_allow_header(unsigned methods, struct arena *a)
{
	char buf[64] = "";
	size_t len = 0;

	if (methods & HTTP_GET)
		methods |= HTTP_HEAD;
	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (!(methods & method_names[i].bit))
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? ", " : "",
					method_names[i].name);
	}
	return arena_strdup(a, buf);
}

static void route_free(struct http_route *r)
{
	for (size_t i = 0; i < r->nsegs; i++)
		free(r->segs[i].text);
	free(r->segs);
	free(r->pattern);
	free(r->name);
}

static int parse_pattern(struct http_route *r, const char *pattern, char *err, size_t errlen)
{
	const char *p = pattern + 1;
	size_t n = 1;

	for (const char *q = p; *q; q++)
		n += *q == '/';
	r->segs = calloc(n, sizeof(*r->segs));
	if (!r->segs)
		goto oom;
	for (;;) {
		size_t len = strcspn(p, "/");
		struct http_seg *s = &r->segs[r->nsegs];

		s->kind = HTTP_SEG_LITERAL;
		if (len && (*p == ':' || *p == '*')) {
			s->kind = *p == ':' ? HTTP_SEG_PARAM : HTTP_SEG_REST;
			p++;
			len--;
			if (len == 0) {
				snprintf(err, errlen, "route %s: unnamed parameter", pattern);
				return -1;
			}
			r->nparams++;
		}
		s->text = strndup(p, len);
		if (!s->text)
			goto oom;
		r->nsegs++;
		p += len;
		if (s->kind == HTTP_SEG_REST && *p) {
			snprintf(err, errlen, "route %s: *%s must be the last segment", pattern,
				 s->text);
			return -1;
		}
		if (!*p)
			return 0;
		p++;
	}
oom:
	snprintf(err, errlen, "route %s: out of memory", pattern);
	return -1;
}

int http_router_add(struct http_router *rt, unsigned methods, const char *pattern,
		    const char *name, http_handler_fn fn, void *ctx, char *err, size_t errlen)
{
	struct http_route r = { .methods = methods, .fn = fn, .ctx = ctx };

	if (!pattern || pattern[0] != '/' || !fn || !methods || (methods & ~(unsigned)HTTP_ANY)) {
		snprintf(err, errlen, "route %s: invalid pattern, methods or handler",
			 pattern ? pattern : "(null)");
		return -1;
	}
	if (rt->n == rt->cap) {
		size_t cap = rt->cap ? rt->cap * 2 : 16;
		struct http_route *p = realloc(rt->routes, cap * sizeof(*p));

		if (!p)
			goto oom;
		rt->routes = p;
		rt->cap = cap;
	}
	r.pattern = strdup(pattern);
	r.name = strdup(name ? name : pattern);
	if (!r.pattern || !r.name)
		goto oom;
	if (parse_pattern(&r, pattern, err, errlen) < 0)
		goto fail;
	rt->routes[rt->n++] = r;
	return 0;
oom:
	snprintf(err, errlen, "route %s: out of memory", pattern);
fail:
	route_free(&r);
	return -1;
}

void http_router_free(struct http_router *rt)
{
	for (size_t i = 0; i < rt->n; i++)
		route_free(&rt->routes[i]);
	free(rt->routes);
	memset(rt, 0, sizeof(*rt));
}

static bool path_matches(const struct http_route *r, const char *const *segs, size_t nsegs)
{
	for (size_t i = 0; i < r->nsegs; i++) {
		const struct http_seg *s = &r->segs[i];

		if (s->kind == HTTP_SEG_REST)
			return true;
		if (i >= nsegs)
			return false;
		if (s->kind == HTTP_SEG_LITERAL && strcmp(s->text, segs[i]) != 0)
			return false;
	}
	return r->nsegs == nsegs;
}

/* Negative when a is more specific than b. */
static int specificity_cmp(const struct http_route *a, const struct http_route *b)
{
	size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;

	for (size_t i = 0; i < n; i++)
		if (a->segs[i].kind != b->segs[i].kind)
			return (int)a->segs[i].kind - (int)b->segs[i].kind;
	return 0;
}

static char *join_rest(const char *const *segs, size_t from, size_t nsegs, struct arena *a)
{
	size_t len = 0;
	char *s, *p;

	for (size_t i = from; i < nsegs; i++)
		len += strlen(segs[i]) + 1;
	s = p = arena_alloc(a, len + 1);
	if (!s)
		return NULL;
	for (size_t i = from; i < nsegs; i++)
		p += sprintf(p, "%s%s", i > from ? "/" : "", segs[i]);
	*p = '\0';
	return s;
}

static int bind_params(const struct http_route *r, const char *const *segs, size_t nsegs,
		       struct arena *a, struct http_match *m)
{
	size_t k = 0;

	m->params = arena_calloc(a, r->nparams + 1, sizeof(*m->params));
	if (!m->params)
		return -1;
	for (size_t i = 0; i < r->nsegs; i++) {
		if (r->segs[i].kind == HTTP_SEG_PARAM)
			m->params[k++] = segs[i];
		else if (r->segs[i].kind == HTTP_SEG_REST &&
			 !(m->params[k++] = join_rest(segs, i, nsegs, a)))
			return -1;
	}
	return 0;
}

int http_router_match(const struct http_router *rt, unsigned method, const char *const *segs,
		      size_t nsegs, struct arena *a, struct http_match *m)
{
	unsigned want = method == HTTP_HEAD ? (HTTP_HEAD | HTTP_GET) : method;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < rt->n; i++) {
		const struct http_route *r = &rt->routes[i];

		if (!path_matches(r, segs, nsegs))
			continue;
		m->allow |= r->methods;
		if (!(r->methods & want))
			continue;
		if (!m->route || specificity_cmp(r, m->route) < 0)
			m->route = r;
	}
	if (!m->route)
		return 0;
	return bind_params(m->route, segs, nsegs, a, m);
}
