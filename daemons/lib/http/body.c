/*
 * Request bodies. The limit is enforced on what arrives, before anything is kept: a
 * declared Content-Length over it is refused up front, and a chunked body that
 * crosses it is dropped on the spot and the rest of it read into the void (within
 * http_discard_cap(), then the connection is cut: libmicrohttpd 0.9.75 cannot queue
 * a reply while a body is still arriving). Content-Encoding is decoded only
 * once the whole body is in, with the decoded size capped separately so a bomb
 * fails as a 400 instead of exhausting memory.
 *
 * Decoded bodies go back to a pool shared by the threads (up to POOL_KEEP of up to
 * POOL_MAX bytes) for the next request: a remote-write body decodes to ~250 KiB, which
 * malloc serves from fresh mmap'd pages, ~60 page faults a request (a few percent of
 * the ingestion CPU) for a buffer that is in use again a moment later. Shared rather
 * than one per thread, and given back by handlers as soon as they are done with the
 * body (http_req_body_free()), so fewer of them are resident than threads: a
 * remote-write request lets go of its body before waiting for its WAL fsync, where
 * most of its time goes.
 */
#include "http/http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PREALLOC_MAX (1024 * 1024)
#define POOL_KEEP 2
#define POOL_MAX (1024 * 1024)

static struct buf_pool decoded_pool = BUF_POOL_INIT(POOL_KEEP, POOL_MAX);

void http_req_body_free(struct http_req *r)
{
	if (r->decoded)
		buf_pool_give(&decoded_pool, &r->body);
	else
		buf_free(&r->body);
}

static size_t max_body(const struct http_req *r)
{
	return r->srv->cfg.max_body_bytes;
}

static int refuse(struct http_req *r, int status, const char *msg)
{
	r->refuse_msg = msg ? msg : "refused";
	return status;
}

static int parse_length(struct http_req *r)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long v;
	char *end;

	if (!cl)
		return 0;
	errno = 0;
	v = strtoull(cl, &end, 10);
	/* libmicrohttpd has already rejected a malformed value; be safe regardless. */
	if (errno || end == cl)
		return refuse(r, MHD_HTTP_BAD_REQUEST, "invalid Content-Length");
	r->has_length = true;
	r->content_length = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
	return 0;
}

int http_body_begin(struct http_req *r)
{
	const char *ce = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_ENCODING);
	int status = parse_length(r);

	if (status)
		return status;
	if (r->has_length && r->content_length > max_body(r))
		return refuse(r, MHD_HTTP_CONTENT_TOO_LARGE,
			      arena_sprintf(r->arena, "request body too large (limit %zu bytes)",
					    max_body(r)));
	if (compress_codec_parse(ce, &r->codec) < 0)
		return refuse(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			      arena_sprintf(r->arena, "unsupported Content-Encoding \"%s\"", ce));
	/* Trust the declared length for a first allocation only up to a point: a client
	 * can declare much and send nothing. */
	if (r->has_length && r->content_length &&
	    buf_reserve(&r->body, r->content_length < PREALLOC_MAX ? r->content_length
								   : PREALLOC_MAX) < 0)
		return refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	return 0;
}

size_t http_discard_cap(const struct http_req *r)
{
	return max_body(r) > HTTP_DISCARD_MAX ? max_body(r) : HTTP_DISCARD_MAX;
}

/* Stop keeping the body; what still arrives is counted and dropped. */
static void start_discarding(struct http_req *r, int status, const char *msg)
{
	r->refuse_status = refuse(r, status, msg);
	buf_free(&r->body);
	r->discarding = true;
}

bool http_body_feed(struct http_req *r, const char *data, size_t len)
{
	r->body_wire += len;
	if (!r->discarding && len > max_body(r) - r->body.len)
		start_discarding(r, MHD_HTTP_CONTENT_TOO_LARGE,
				 arena_sprintf(r->arena, "request body too large (limit %zu bytes)",
					       max_body(r)));
	if (r->discarding) {
		r->discarded += len;
		return r->discarded <= http_discard_cap(r);
	}
	buf_append(&r->body, data, len);
	if (r->body.oom)
		start_discarding(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	return true;
}

int http_body_finish(struct http_req *r)
{
	struct buf dec;
	char err[160];
	int ret;

	/* An empty body stays empty whatever it claims to be encoded with. */
	if (r->codec == COMPRESS_NONE || r->body.len == 0)
		return 0;
	dec = buf_pool_take(&decoded_pool);
	ret = compress_decode(r->codec, r->body.data, r->body.len, r->srv->cfg.max_decoded_bytes,
			      &dec, err, sizeof(err));
	if (ret < 0) {
		buf_free(&dec);
		if (ret == COMPRESS_EOOM)
			return refuse(r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
		return refuse(r, MHD_HTTP_BAD_REQUEST, arena_strdup(r->arena, err));
	}
	buf_free(&r->body);
	r->body = dec;
	r->decoded = true;
	return 0;
}
