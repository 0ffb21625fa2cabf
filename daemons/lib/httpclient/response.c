/*
 * Response capture. curl hands us every header line of every response on the way
 * (1xx, redirects); only the last response's headers are kept, packed into one
 * buffer as NUL-terminated "Name: value" entries so lookups return C strings
 * without allocating. Content-Type and Retry-After, which every caller wants,
 * are resolved once when the transfer ends.
 */
#include "httpclient/internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void httpc_response_begin(struct httpc_response *r)
{
	r->status = 0;
	r->retry_after_s = -1;
	r->content_type = NULL;
	buf_reset(&r->headers);
	buf_reset(&r->body);
}

size_t httpc_response_header_cb(char *line, size_t size, size_t n, void *arg)
{
	struct httpc_response *r = arg;
	size_t len = size * n, end = len;
	const char *colon, *value;

	if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
		buf_reset(&r->headers);
		return len;
	}
	while (end && isspace((unsigned char)line[end - 1]))
		end--;
	colon = memchr(line, ':', end);
	if (!colon)
		return len;
	value = colon + 1;
	while (value < line + end && (*value == ' ' || *value == '\t'))
		value++;
	buf_append(&r->headers, line, (size_t)(colon - line));
	buf_append(&r->headers, ": ", 2);
	buf_append(&r->headers, value, (size_t)(line + end - value));
	buf_append(&r->headers, "", 1);
	/* Out of memory is reported once the transfer ends, from the sticky flag. */
	return len;
}

const char *httpc_response_header(const struct httpc_response *r, const char *name)
{
	size_t n = strlen(name);
	const char *p = r->headers.data, *end;

	if (!p || r->headers.oom)
		return NULL;
	end = p + r->headers.len;
	while (p < end) {
		size_t len = strlen(p);

		if (len >= n + 2 && !strncasecmp(p, name, n) && p[n] == ':')
			return p + n + 2;
		p += len + 1;
	}
	return NULL;
}

/* Seconds or an HTTP date (RFC 9110 section 10.2.3); -1 if neither. */
static int parse_retry_after(const char *v)
{
	const struct dynload_curl *cu;
	unsigned long long s;
	char unused[8];
	time_t t;
	char *end;

	if (isdigit((unsigned char)*v)) {
		s = strtoull(v, &end, 10);
		if (*end)
			return -1;
		return s > INT_MAX ? INT_MAX : (int)s;
	}
	/* A response exists, so a client bound libcurl already: this cannot fail. */
	if (dynload_curl(&cu, unused, sizeof(unused)) < 0)
		return -1;
	t = cu->getdate(v, NULL);
	if (t < 0)
		return -1;
	t -= time(NULL);
	if (t < 0)
		return 0;
	return t > INT_MAX ? INT_MAX : (int)t;
}

void httpc_response_finish(struct httpc_response *r)
{
	const char *ra;

	r->content_type = httpc_response_header(r, "Content-Type");
	ra = httpc_response_header(r, "Retry-After");
	r->retry_after_s = ra ? parse_retry_after(ra) : -1;
}

void httpc_response_free(struct httpc_response *r)
{
	if (!r)
		return;
	buf_free(&r->headers);
	buf_free(&r->body);
	r->content_type = NULL;
}
