/*
 * The per-request flow, as libmicrohttpd drives it:
 *
 *   URI callback      request line read: allocate the request (raw URI kept)
 *   access handler 1  headers read: route, check Content-Length and Content-Encoding
 *   access handler n  body pieces: kept up to the limit, or counted and dropped
 *   access handler z  body complete: decode, parse args, run the handler, queue reply
 *   completion        reply sent (or connection gone): observe, log, free
 *
 * A refusal decided at the headers is answered when the request completes if there
 * is no body, or one we are willing to read and drop (http_discard_cap), so the
 * connection stays usable. With a longer or unknown-size body, or Expect:
 * 100-continue, it is answered at once, which makes libmicrohttpd close the
 * connection after the reply instead of reading a body nobody wants. (A client that
 * keeps sending into that close may see a reset instead of the reply: 0.9.75 has no
 * lingering close. Clients that send large bodies use Expect: 100-continue.)
 */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log/log.h"

double http_elapsed(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_server *s = cls;
	struct arena *a = arena_new(0);
	struct http_req *r;

	if (!a)
		return NULL;
	r = arena_calloc(a, 1, sizeof(*r));
	if (!r || !(r->raw_uri = arena_strdup(a, uri))) {
		arena_free(a);
		return NULL;
	}
	r->arena = a;
	r->srv = s;
	r->conn = conn;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	pthread_mutex_lock(&s->mu);
	s->inflight++;
	pthread_mutex_unlock(&s->mu);
	return r;
}

static const char *header(const struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static int refuse(struct http_req *r, int status, const char *msg)
{
	r->refuse_msg = msg;
	return status;
}

/* The path part of the request-target, accepting the absolute form too. */
static const char *target_path(const char *uri, size_t *len)
{
	if (strncasecmp(uri, "http://", 7) == 0 || strncasecmp(uri, "https://", 8) == 0) {
		const char *p = strchr(uri + 7 + (uri[4] == 's' || uri[4] == 'S'), '/');

		uri = p ? p : "/";
	}
	*len = strcspn(uri, "?#");
	return uri;
}

static char *decoded(struct arena *a, const char *s, size_t len)
{
	char *d = arena_strndup(a, s, len);
	long n;

	if (!d)
		return NULL;
	n = http_path_unescape(d, len);
	if (n < 0)
		return NULL;
	d[n] = '\0';
	return d;
}

/* Split the raw path into percent-decoded segments ("/a/b" -> "a", "b"). */
static int split_path(struct http_req *r, const char *p, size_t len, const char ***segs,
		      size_t *nsegs)
{
	size_t n = 0, k = 0;
	const char **v;

	for (size_t i = 0; i < len; i++)
		n += p[i] == '/';
	v = arena_calloc(r->arena, n ? n : 1, sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 1; k < n; k++) {
		size_t j = i;

		while (j < len && p[j] != '/')
			j++;
		if (!(v[k] = decoded(r->arena, p + i, j - i)))
			return -1;
		i = j + 1;
	}
	*segs = v;
	*nsegs = n;
	return 0;
}

static int route_request(struct http_req *r)
{
	const char *const *segs;
	const char **sv;
	struct http_match m;
	size_t len, nsegs;
	const char *p = target_path(r->raw_uri, &len);

	r->path = decoded(r->arena, p, len);
	if (!r->path) {
		r->path = arena_strndup(r->arena, p, len);
		return refuse(r, MHD_HTTP_BAD_REQUEST, "invalid URL escape in path");
	}
	if (p[0] != '/')
		return refuse(r, MHD_HTTP_NOT_FOUND, "404 page not found");
	if (split_path(r, p, len, &sv, &nsegs) < 0)
		return refuse(r, MHD_HTTP_BAD_REQUEST, "invalid URL escape in path");
	segs = sv;
	if (http_router_match(&r->srv->router, r->method_bit, segs, nsegs, r->arena, &m) < 0)
		return refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	if (m.route) {
		r->route = m.route;
		r->params = m.params;
		return 0;
	}
	if (!m.allow)
		return refuse(r, MHD_HTTP_NOT_FOUND, "404 page not found");
	http_set_header(r, MHD_HTTP_HEADER_ALLOW, http_allow_header(m.allow, r->arena));
	return refuse(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
}

static enum MHD_Result reply_refusal(struct http_req *r)
{
	http_reply_text(r, r->refuse_status, "%s", r->refuse_msg ? r->refuse_msg : "refused");
	return http_response_queue(r);
}

static bool has_body(const struct http_req *r)
{
	const char *te = header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);

	if (r->has_length)
		return r->content_length > 0;
	return te && strcasestr(te, "chunked");
}

static enum MHD_Result refuse_at_headers(struct http_req *r, int status)
{
	const char *expect = header(r, MHD_HTTP_HEADER_EXPECT);

	r->refuse_status = status;
	r->discarding = true;
	if (!has_body(r))
		return MHD_YES;
	if (!(expect && strcasecmp(expect, "100-continue") == 0) && r->has_length &&
	    r->content_length <= http_discard_cap(r))
		return MHD_YES;
	return reply_refusal(r);
}

static enum MHD_Result on_headers(struct http_req *r, const char *method)
{
	int status;

	r->method = arena_strdup(r->arena, method);
	if (!r->method)
		return MHD_NO;
	r->method_bit = http_method_bit(method);
	r->stage = HTTP_STAGE_BODY;
	status = route_request(r);
	if (!status)
		status = http_body_begin(r);
	if (status)
		return refuse_at_headers(r, status);
	return MHD_YES;
}

static bool is_form(const struct http_req *r)
{
	static const char form[] = "application/x-www-form-urlencoded";
	const char *ct = header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = sizeof(form) - 1;

	if (r->method_bit != HTTP_POST || !ct)
		return false;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, form, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int parse_args(struct http_req *r)
{
	const char *q = strchr(r->raw_uri, '?');
	size_t qlen = q ? strcspn(++q, "#") : 0;
	bool form = is_form(r);
	char err[128];
	int ret;

	ret = http_args_parse(r, q, qlen, form ? r->body.data : NULL, form ? r->body.len : 0, err,
			      sizeof(err));
	if (ret == -1)
		return refuse(r, MHD_HTTP_BAD_REQUEST, arena_strdup(r->arena, err));
	if (ret < 0)
		return refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	return 0;
}

static enum MHD_Result on_complete(struct http_req *r)
{
	if (!r->refuse_status)
		r->refuse_status = http_body_finish(r);
	if (!r->refuse_status)
		r->refuse_status = parse_args(r);
	if (r->refuse_status)
		return reply_refusal(r);
	r->route->fn(r, r->route->ctx);
	if (!r->replied)
		LOG_WARN("http", "handler did not reply", "route", r->route->name);
	return http_response_queue(r);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	struct http_req *r = *con_cls;
	bool ok;

	if (!r)
		return MHD_NO;
	switch (r->stage) {
	case HTTP_STAGE_HEADERS:
		return on_headers(r, method);
	case HTTP_STAGE_BODY:
		if (*upload_size == 0)
			return on_complete(r);
		ok = http_body_feed(r, upload, *upload_size);
		*upload_size = 0;
		return ok ? MHD_YES : MHD_NO;
	case HTTP_STAGE_QUEUED:
		break;
	}
	*upload_size = 0;
	return MHD_YES;
}

static void observe(const struct http_req *r)
{
	struct http_server *s = r->srv;
	struct http_observation o = {
		.method = r->method,
		.route = r->route ? r->route->name : "other",
		.status = r->status,
		.seconds = r->seconds,
		.request_bytes = r->body_wire,
		.response_bytes = r->resp_wire,
	};
	char status[16], dur[32], bytes[32];

	if (s->cfg.observe)
		s->cfg.observe(&o, s->cfg.observe_arg);
	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	snprintf(status, sizeof(status), "%d", o.status);
	snprintf(dur, sizeof(dur), "%.3fms", o.seconds * 1e3);
	snprintf(bytes, sizeof(bytes), "%zu", o.response_bytes);
	LOG_DEBUG("http", "request", "method", o.method, "path", r->path, "route", o.route,
		  "status", status, "duration", dur, "bytes", bytes);
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		       enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_req *r = *con_cls;

	if (!r)
		return;
	*con_cls = NULL;
	if (r->stage == HTTP_STAGE_QUEUED)
		observe(r);
	http_req_body_free(r);
	free(r->resp_body);
	arena_free(r->arena);
	pthread_mutex_lock(&s->mu);
	if (--s->inflight == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
}
