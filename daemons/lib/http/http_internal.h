/*
 * What the files of the http module share; not a public header.
 *
 * A request lives in its own arena (the struct itself is the arena's first
 * allocation). It is created when libmicrohttpd has read the request line (the URI
 * log callback, which also sees the raw request-target), carried through the access
 * handler calls, and freed in the completion callback after the reply went out.
 * One connection is served by one worker thread, so a request is never touched by
 * two threads at once.
 */
#ifndef LGTM_HTTP_INTERNAL_H
#define LGTM_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "compress/compress.h"
#include "http/http.h"

/* A refused body is read and thrown away, up to http_discard_cap() (the larger of
 * this and max_body_bytes), so the client gets its answer and the connection can
 * carry the next request; a longer one is answered at once (or, when it announced no
 * length, cut off) and the connection closes. */
#define HTTP_DISCARD_MAX (256 * 1024)
/* Response bodies from this size on are worth gzipping. */
#define HTTP_GZIP_MIN 1024

/* --- router.c ------------------------------------------------------------------------ */

enum http_seg_kind { HTTP_SEG_LITERAL, HTTP_SEG_PARAM, HTTP_SEG_REST };

struct http_seg {
	enum http_seg_kind kind;
	char *text; /* the literal, or the parameter's name */
};

struct http_route {
	unsigned methods;
	char *pattern;
	char *name;
	struct http_seg *segs;
	size_t nsegs;
	size_t nparams;
	http_handler_fn fn;
	void *ctx;
};

struct http_router {
	struct http_route *routes;
	size_t n, cap;
};

struct http_match {
	const struct http_route *route; /* NULL: no route for this method */
	const char **params;            /* route->nparams decoded values, in the arena */
	unsigned allow;                 /* methods of all routes matching the path */
};

int http_router_add(struct http_router *rt, unsigned methods, const char *pattern,
		    const char *name, http_handler_fn fn, void *ctx, char *err, size_t errlen);
void http_router_free(struct http_router *rt);
/* Match decoded path segments; returns 0, or -1 when out of memory. */
int http_router_match(const struct http_router *rt, unsigned method, const char *const *segs,
		      size_t nsegs, struct arena *a, struct http_match *m);
/* HTTP_GET... for a method name, 0 for methods we never route. */
unsigned http_method_bit(const char *method);
/* "GET, HEAD, POST" for an Allow header, in the arena. */
char *http_allow_header(unsigned methods, struct arena *a);

/* --- form.c -------------------------------------------------------------------------- */

struct http_kv {
	const char *key;
	const char *value;
};

/* %XX decoding without the '+' rule (paths); -1 on a malformed escape. */
long http_path_unescape(char *s, size_t len);
/* Parse the query string and then the form body (either may be empty) into
 * r->args. Returns 0, -1 for a malformed escape (err says which), -2 out of memory. */
int http_args_parse(struct http_req *r, const char *query, size_t qlen, const char *form,
		    size_t flen, char *err, size_t errlen);

/* --- listen.c ------------------------------------------------------------------------ */

struct http_listen {
	struct sockaddr_storage ss; /* unused when any */
	bool any;                   /* ":port": every interface */
	bool v6;
	unsigned short port;
};

int http_listen_parse(const char *addr, struct http_listen *l, char *err, size_t errlen);

/* --- the server and its requests ----------------------------------------------------- */

struct http_server {
	struct http_server_config cfg;
	char *listen_address;
	struct http_router router;
	struct MHD_Daemon *mhd;
	MHD_socket quiesced_fd;
	unsigned short port;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t idle;    /* signalled when inflight drops to 0 */
	long inflight;          /* requests between URI callback and completion */
	bool stopping;          /* drain entered (guards double drain) */
	atomic_bool draining;   /* replies ask clients to close their connection */
	bool capture_log;       /* during start: keep MHD's message for err */
	char start_err[256];
};

struct http_header {
	struct http_header *next;
	const char *name;
	const char *value;
};

enum http_stage { HTTP_STAGE_HEADERS, HTTP_STAGE_BODY, HTTP_STAGE_QUEUED };

struct http_req {
	struct http_server *srv;
	struct MHD_Connection *conn;
	struct arena *arena;
	struct timespec t0;
	enum http_stage stage;

	const char *raw_uri;
	const char *method;
	unsigned method_bit;
	const char *path;
	const struct http_route *route;
	const char **params;
	struct http_kv *args;
	size_t nargs;

	/* body (body.c) */
	struct buf body;
	size_t body_wire;       /* bytes received, kept or not */
	size_t discarded;       /* bytes received and dropped */
	size_t content_length;  /* declared, when has_length */
	bool has_length;
	bool discarding;
	bool decoded;           /* body holds the decoded bytes (a buffer of ours) */
	enum compress_codec codec;

	/* refusal decided by the server before the handler runs */
	int refuse_status;
	const char *refuse_msg;

	/* response (response.c) */
	bool replied;
	int status;
	const char *content_type;
	char *resp_body;        /* malloc'd; handed to MHD when queued */
	size_t resp_len;
	struct http_header *resp_headers;
	size_t resp_wire;
	double seconds;
	const char *remote;
};

/* body.c: called on the first access-handler call; 0 or a status to refuse with
 * (r->refuse_msg set). */
int http_body_begin(struct http_req *r);
size_t http_discard_cap(const struct http_req *r);
/* Take one piece of upload data; false: abort the connection. */
bool http_body_feed(struct http_req *r, const char *data, size_t len);
/* Decode Content-Encoding; 0 or a status to refuse with. */
int http_body_finish(struct http_req *r);

/* response.c: turn the recorded reply into an MHD response and queue it. */
enum MHD_Result http_response_queue(struct http_req *r);

/* dispatch.c: the libmicrohttpd callbacks. */
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls);
void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		       enum MHD_RequestTerminationCode toe);

double http_elapsed(const struct timespec *t0);

#endif
