/*
 * Responses. The http_reply* calls only record the reply; after the handler returns,
 * http_response_queue() turns it into a libmicrohttpd response (so a handler that
 * never replies can still be answered with 500). The body is gzipped on the way
 * out when it is large enough and the client's Accept-Encoding allows gzip.
 */
#include "http/http_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json/json.h"
#include "log/log.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"

static void add_header(struct http_req *r, const char *name, const char *value)
{
	struct http_header *h = arena_alloc(r->arena, sizeof(*h)), **tail;

	if (!h)
		return;
	h->next = NULL;
	h->name = arena_strdup(r->arena, name);
	h->value = arena_strdup(r->arena, value);
	if (!h->name || !h->value)
		return;
	for (tail = &r->resp_headers; *tail; tail = &(*tail)->next)
		;
	*tail = h;
}

void http_set_header(struct http_req *r, const char *name, const char *value)
{
	if (!r->replied)
		add_header(r, name, value);
}

/* Record the reply; takes `body` (malloc'd) whatever happens. */
static void set_reply(struct http_req *r, int status, const char *content_type, char *body,
		      size_t len)
{
	if (r->replied) {
		LOG_WARN("http", "handler replied twice", "path", r->path, "status_dropped",
			 arena_sprintf(r->arena, "%d", status));
		free(body);
		return;
	}
	r->replied = true;
	r->status = status;
	r->content_type = content_type ? arena_strdup(r->arena, content_type) : NULL;
	r->resp_body = body;
	r->resp_len = body ? len : 0;
}

void http_reply(struct http_req *r, int status, const char *content_type, const void *body,
		size_t len)
{
	char *copy = NULL;

	if (len) {
		copy = malloc(len);
		if (!copy) {
			http_reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
			return;
		}
		memcpy(copy, body, len);
	}
	set_reply(r, status, content_type, copy, len);
}

void http_reply_buf(struct http_req *r, int status, const char *content_type, struct buf *b)
{
	char *data;
	size_t len;

	if (b->oom) {
		buf_free(b);
		http_reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		return;
	}
	data = buf_steal(b, &len);
	set_reply(r, status, content_type, data, len);
}

static void reply_vtext(struct http_req *r, int status, const char *fmt, va_list ap)
{
	struct buf b = { 0 };

	buf_vprintf(&b, fmt, ap);
	buf_putc(&b, '\n');
	if (b.oom) {
		/* Nothing to say it with; the status alone must do. */
		buf_free(&b);
		set_reply(r, status, NULL, NULL, 0);
		return;
	}
	http_set_header(r, "X-Content-Type-Options", "nosniff");
	http_reply_buf(r, status, TEXT_PLAIN, &b);
}

void http_reply_text(struct http_req *r, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_vtext(r, status, fmt, ap);
	va_end(ap);
}

void http_reply_prom_error(struct http_req *r, int status, const char *error_type,
			   const char *fmt, ...)
{
	struct buf b = { 0 }, msg = { 0 };
	struct jw w;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "status", "error");
	jw_kstr(&w, "errorType", error_type);
	jw_key(&w, "error");
	jw_strn(&w, msg.data ? msg.data : "", msg.len);
	jw_obj_end(&w);
	if (jw_failed(&w) || msg.oom)
		b.oom = true;
	buf_free(&msg);
	http_reply_buf(r, status, "application/json", &b);
}

/* --- Accept-Encoding ---------------------------------------------------------------- */

/* q-value of one list element ("gzip;q=0.5"); 1 when absent, 0 when malformed. */
static double element_q(const char *params, const char *end)
{
	while (params < end) {
		const char *semi = memchr(params, ';', (size_t)(end - params));
		const char *p = params;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char tmp[16];
			size_t n = (size_t)((semi ? semi : end) - (p + 2));

			if (n == 0 || n >= sizeof(tmp))
				return 0;
			memcpy(tmp, p + 2, n);
			tmp[n] = '\0';
			return strtod(tmp, NULL);
		}
		if (!semi)
			break;
		params = semi + 1;
	}
	return 1;
}

static bool token_is(const char *s, const char *end, const char *tok)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return (size_t)(end - s) == strlen(tok) && strncasecmp(s, tok, (size_t)(end - s)) == 0;
}

/* RFC 9110 12.5.3: gzip is acceptable if listed with q > 0, or covered by "*" with
 * q > 0 and not listed itself. */
static bool accepts_gzip(const char *ae)
{
	double gzip_q = -1, star_q = -1;

	while (ae && *ae) {
		const char *comma = strchr(ae, ',');
		const char *end = comma ? comma : ae + strlen(ae);
		const char *semi = memchr(ae, ';', (size_t)(end - ae));
		const char *tok_end = semi ? semi : end;

		if (token_is(ae, tok_end, "gzip") || token_is(ae, tok_end, "x-gzip"))
			gzip_q = element_q(semi ? semi + 1 : end, end);
		else if (token_is(ae, tok_end, "*"))
			star_q = element_q(semi ? semi + 1 : end, end);
		ae = comma ? comma + 1 : end;
	}
	if (gzip_q >= 0)
		return gzip_q > 0;
	return star_q > 0;
}

static bool handler_set(const struct http_req *r, const char *name)
{
	for (const struct http_header *h = r->resp_headers; h; h = h->next)
		if (strcasecmp(h->name, name) == 0)
			return true;
	return false;
}

static bool may_have_body(const struct http_req *r)
{
	return r->status >= 200 && r->status != MHD_HTTP_NO_CONTENT &&
	       r->status != MHD_HTTP_NOT_MODIFIED && r->method_bit != HTTP_HEAD;
}

/* Replace the body with its gzip form when worth it; false: leave it as it is. */
static bool maybe_gzip(struct http_req *r)
{
	struct buf z = { 0 };
	char err[64];

	if (r->resp_len < HTTP_GZIP_MIN || !may_have_body(r) ||
	    handler_set(r, MHD_HTTP_HEADER_CONTENT_ENCODING))
		return false;
	add_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (!accepts_gzip(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_ACCEPT_ENCODING)))
		return false;
	if (compress_encode(COMPRESS_GZIP, r->resp_body, r->resp_len, 0, &z, err,
			    sizeof(err)) < 0 || z.oom) {
		buf_free(&z);
		return false;
	}
	free(r->resp_body);
	r->resp_body = buf_steal(&z, &r->resp_len);
	add_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	return true;
}

static struct MHD_Response *build(struct http_req *r)
{
	struct MHD_Response *resp;

	maybe_gzip(r);
	if (r->resp_len) {
		resp = MHD_create_response_from_buffer_with_free_callback(r->resp_len, r->resp_body,
									   free);
		if (!resp)
			return NULL;
		r->resp_body = NULL; /* MHD frees it with the response */
	} else {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return NULL;
	}
	if (r->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	for (const struct http_header *h = r->resp_headers; h; h = h->next)
		if (MHD_add_response_header(resp, h->name, h->value) != MHD_YES)
			LOG_WARN("http", "response header refused", "name", h->name);
	if (atomic_load(&r->srv->draining))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	return resp;
}

enum MHD_Result http_response_queue(struct http_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!r->replied)
		http_reply_text(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "handler did not reply");
	resp = build(r);
	if (!resp) {
		LOG_WARN("http", "cannot build response", "path", r->path);
		return MHD_NO;
	}
	r->resp_wire = may_have_body(r) ? r->resp_len : 0;
	r->seconds = http_elapsed(&r->t0);
	r->stage = HTTP_STAGE_QUEUED;
	ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}
