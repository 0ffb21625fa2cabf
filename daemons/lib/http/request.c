/*
 * Request accessors for handlers. Everything returned lives in the request's arena
 * or in libmicrohttpd's connection memory, both valid until the reply is sent.
 */
#include "http/http_internal.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

const char *http_req_method(const struct http_req *r)
{
	return r->method;
}

const char *http_req_path(const struct http_req *r)
{
	return r->path;
}

const char *http_req_param(const struct http_req *r, const char *name)
{
	size_t k = 0;

	if (!r->route || !r->params)
		return NULL;
	for (size_t i = 0; i < r->route->nsegs; i++) {
		const struct http_seg *s = &r->route->segs[i];

		if (s->kind == HTTP_SEG_LITERAL)
			continue;
		if (strcmp(s->text, name) == 0)
			return r->params[k];
		k++;
	}
	return NULL;
}

const char *http_req_arg(const struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nargs; i++)
		if (strcmp(r->args[i].key, name) == 0)
			return r->args[i].value;
	return NULL;
}

size_t http_req_arg_all(const struct http_req *r, const char *name, const char *const **values)
{
	const char **v;
	size_t n = 0, k = 0;

	*values = NULL;
	for (size_t i = 0; i < r->nargs; i++)
		n += strcmp(r->args[i].key, name) == 0;
	if (n == 0)
		return 0;
	v = arena_alloc(r->arena, n * sizeof(*v));
	if (!v)
		return 0;
	for (size_t i = 0; i < r->nargs; i++)
		if (strcmp(r->args[i].key, name) == 0)
			v[k++] = r->args[i].value;
	*values = v;
	return n;
}

const char *http_req_header(const struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const void *http_req_body(const struct http_req *r, size_t *len)
{
	*len = r->body.len;
	return r->body.data ? r->body.data : "";
}

struct arena *http_req_arena(struct http_req *r)
{
	return r->arena;
}

const char *http_req_remote_addr(const struct http_req *r)
{
	const union MHD_ConnectionInfo *ci;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	struct http_req *w = (struct http_req *)r; /* caches into the request */
	socklen_t len;

	if (r->remote)
		return r->remote;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return "";
	len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						     : sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, len, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return "";
	w->remote = arena_sprintf(w->arena, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, serv);
	return w->remote ? w->remote : "";
}
