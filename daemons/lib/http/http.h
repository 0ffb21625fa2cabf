/*
 * http: the HTTP/1.1 server every daemon serves its APIs with, on libmicrohttpd.
 *
 * A server has a route table (method mask + path pattern -> handler). Patterns are
 * literal segments, `:name` segments (one path segment, URL-decoded, read back with
 * http_req_param) and a final `*name` (the rest of the path, decoded, without a
 * leading '/', possibly empty). Literal routes win over parameter routes; the first
 * registered wins among equals. Unknown paths get 404 "404 page not found", a known
 * path with another method 405 with an Allow header. HEAD is served by GET routes.
 *
 * The request line and headers together must fit in 64 KiB (longer: 414 or 431);
 * each open keep-alive connection holds that much memory.
 *
 * Before a handler runs the server has:
 * - refused a body over max_body_bytes with 413 (from Content-Length up front, or
 *   while reading a chunked body), and never buffered more than that. A refused
 *   body is read and dropped (up to max(256 KiB, max_body_bytes)) so the connection
 *   survives; beyond that the reply comes at once and the connection closes (a
 *   chunked body is cut off, as no reply can be queued mid-body);
 * - decoded Content-Encoding (snappy, gzip, deflate, zstd) with the decoded size
 *   capped at max_decoded_bytes: a bomb or corrupt body gets 400, an unknown
 *   encoding 415;
 * - parsed the query string and, for POST application/x-www-form-urlencoded, the
 *   form body, with `+` as space and %XX escapes (query-string values come first);
 *   a malformed escape gets 400.
 * The handler must call exactly one http_reply* function; if it does not, the
 * client gets 500; later replies are ignored. Response bodies of 1 KiB or more are
 * gzip-compressed when the client's Accept-Encoding allows gzip (q > 0), unless the
 * handler set Content-Encoding itself; such responses carry Vary: Accept-Encoding.
 * After each request the observe callback runs and an access-log line is written at
 * debug level.
 *
 * Threads: handlers run on the server's thread pool (one thread per core by
 * default), concurrently; a handler's ctx must be safe for that. Everything a
 * handler gets from the request (strings, arena) lives until the reply is sent.
 * http_route() must be called before http_server_start(). http_server_drain() may be
 * called from any thread once (later calls do nothing); it waits for requests in
 * progress, not for idle keep-alive connections, and replies sent while draining
 * carry Connection: close. A handler still running at the timeout is waited for.
 *
 * Errors: functions returning int give 0 or a negative value with `err` filled.
 */
#ifndef LGTM_HTTP_H
#define LGTM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "arena/arena.h"
#include "buf/buf.h"

struct http_server;
struct http_req;

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PUT = 1 << 2,
	HTTP_DELETE = 1 << 3,
	HTTP_HEAD = 1 << 4,
	HTTP_OPTIONS = 1 << 5,
	HTTP_ANY = 0x3f,
};

/* What the server reports about each finished request (for metrics). */
struct http_observation {
	const char *method;
	const char *route;   /* the route's name, or "other" for 404/405 */
	int status;
	double seconds;      /* from the first byte of the request to the queued reply */
	size_t request_bytes;  /* body bytes on the wire */
	size_t response_bytes; /* body bytes on the wire (after gzip) */
};

struct http_server_config {
	const char *listen_address;  /* "host:port", "[v6addr]:port" or ":port"; port 0 = pick a free one */
	unsigned threads;            /* 0: two per core, at least 4 (handlers block on fsync) */
	size_t max_body_bytes;       /* 0: 64 MiB */
	size_t max_decoded_bytes;    /* 0: 4 x max_body_bytes */
	unsigned idle_timeout_s;     /* keep-alive idle limit; 0: 120 s */
	/* Optional; called on a server thread after every request, must be thread-safe. */
	void (*observe)(const struct http_observation *o, void *arg);
	void *observe_arg;
};

typedef void (*http_handler_fn)(struct http_req *req, void *ctx);

int http_server_new(const struct http_server_config *cfg, struct http_server **out,
		    char *err, size_t errlen);
/* `name` labels the route in metrics and the access log; NULL uses the pattern. */
int http_route(struct http_server *s, unsigned methods, const char *pattern, const char *name,
	       http_handler_fn fn, void *ctx);
/* Bind and start serving. After this http_server_port() is the bound port. */
int http_server_start(struct http_server *s, char *err, size_t errlen);
unsigned short http_server_port(const struct http_server *s);
/* Stop accepting, let in-flight requests finish (up to timeout_ms), close connections. */
void http_server_drain(struct http_server *s, int timeout_ms);
/* Drains if still running, then frees. */
void http_server_free(struct http_server *s);

/* --- request ---------------------------------------------------------------------- */

const char *http_req_method(const struct http_req *r);   /* "GET", "POST", ... */
const char *http_req_path(const struct http_req *r);     /* decoded path, no query */
const char *http_req_param(const struct http_req *r, const char *name);  /* path parameter */
/* First value of a query-string or form argument, NULL when absent. */
const char *http_req_arg(const struct http_req *r, const char *name);
/* All values of an argument (e.g. match[]) in order; the array is in the request arena. */
size_t http_req_arg_all(const struct http_req *r, const char *name, const char *const **values);
const char *http_req_header(const struct http_req *r, const char *name); /* case-insensitive */
/* The body after Content-Encoding decoding; never NULL (empty body: len 0). */
const void *http_req_body(const struct http_req *r, size_t *len);
/* Let go of the body before the request ends (a handler done with it that still has
 * to wait, e.g. for an fsync); http_req_body() then gives an empty body. The server
 * calls it at every request's end; a decoded body goes back to a shared pool. */
void http_req_body_free(struct http_req *r);
struct arena *http_req_arena(struct http_req *r);
const char *http_req_remote_addr(const struct http_req *r);

/* --- response ----------------------------------------------------------------------- */

/* Extra response header; call before the reply. */
void http_set_header(struct http_req *r, const char *name, const char *value);
/* Reply with a copy of body. */
void http_reply(struct http_req *r, int status, const char *content_type, const void *body,
		size_t len);
/* Reply with the buffer's memory (taken over; b is left empty). */
void http_reply_buf(struct http_req *r, int status, const char *content_type, struct buf *b);
/* text/plain reply, a newline appended (Go's http.Error form). */
void http_reply_text(struct http_req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prometheus API error envelope:
 * {"status":"error","errorType":"<error_type>","error":"<msg>"} */
void http_reply_prom_error(struct http_req *r, int status, const char *error_type,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* --- helpers shared with other modules ----------------------------------------------- */

/* Decode application/x-www-form-urlencoded text in place ('+' -> ' ', %XX);
 * returns the new length, or -1 for a malformed escape. */
long http_form_unescape(char *s, size_t len);

#endif
