/*
 * Request headers: validation (nothing from a config or a caller may smuggle a
 * line break onto the wire) and the per-call header list handed to curl. Config
 * headers are formatted once at httpc_new(); a call adds its own and the few that
 * steer curl away from its defaults (no form Content-Type, no Expect: 100-continue
 * round trip).
 */
#include "httpclient/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_token(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

bool httpc_header_valid(const struct httpc_header *h)
{
	return is_token(h->name) && h->value && !strpbrk(h->value, "\r\n");
}

int httpc_header_line(const struct httpc_header *h, char **out)
{
	int n;

	/* curl reads "Name:" as "drop this header"; "Name;" sends it empty. */
	if (*h->value)
		n = asprintf(out, "%s: %s", h->name, h->value);
	else
		n = asprintf(out, "%s;", h->name);
	if (n < 0) {
		*out = NULL;
		return -1;
	}
	return 0;
}

static int add(const struct dynload_curl *cu, struct curl_slist **list, const char *line)
{
	struct curl_slist *n = cu->slist_append(*list, line);

	if (!n)
		return -1;
	*list = n;
	return 0;
}

static int add_header(const struct dynload_curl *cu, struct curl_slist **list, const char *name, const char *value)
{
	struct httpc_header h = { name, value };
	char *line;
	int rc;

	if (httpc_header_line(&h, &line) < 0)
		return -1;
	rc = add(cu, list, line);
	free(line);
	return rc;
}

static bool line_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && (line[n] == ':' || line[n] == ';');
}

static bool req_sets(const struct httpc_req *req, const char *line)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (line_is(line, req->headers[i].name))
			return true;
	return false;
}

static bool req_sets_name(const struct httpc_req *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return true;
	return false;
}

static int check_req(const struct httpc_req *req, char *err, size_t errlen)
{
	const char *m = req->method ? req->method : "GET";

	if (!req->url || !*req->url) {
		snprintf(err, errlen, "no URL");
		return HTTPC_EINVAL;
	}
	if (!is_token(m) || (!strcmp(m, "HEAD") && req->body)) {
		snprintf(err, errlen, "invalid method or a body with HEAD");
		return HTTPC_EINVAL;
	}
	if ((req->content_type && strpbrk(req->content_type, "\r\n")) ||
	    (req->content_encoding && strpbrk(req->content_encoding, "\r\n"))) {
		snprintf(err, errlen, "line break in content type or encoding");
		return HTTPC_EINVAL;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		if (!httpc_header_valid(&req->headers[i])) {
			snprintf(err, errlen, "invalid request header %zu", i);
			return HTTPC_EINVAL;
		}
	}
	return 0;
}

static int build_headers(const struct httpc *c, const struct httpc_req *req,
			 struct curl_slist **list)
{
	for (size_t i = 0; i < c->nheader_lines; i++)
		if (!req_sets(req, c->header_lines[i]) && add(c->cu, list, c->header_lines[i]) < 0)
			return -1;
	for (size_t i = 0; i < req->nheaders; i++)
		if (add_header(c->cu, list, req->headers[i].name, req->headers[i].value) < 0)
			return -1;
	if (req->content_type && *req->content_type) {
		if (add_header(c->cu, list, "Content-Type", req->content_type) < 0)
			return -1;
	} else if (!req_sets_name(req, "Content-Type") && add(c->cu, list, "Content-Type:") < 0) {
		return -1;
	}
	if (req->content_encoding && *req->content_encoding &&
	    add_header(c->cu, list, "Content-Encoding", req->content_encoding) < 0)
		return -1;
	return add(c->cu, list, "Expect:");
}

/* With server_name the URL names the TLS peer and CONNECT_TO the real address. */
static int prepare_sni(const struct httpc *c, struct httpc_prepared *p, char *err,
		       size_t errlen)
{
	char *connect_to = NULL, *host_line = NULL;
	int rc;

	rc = httpc_url_sni(c->cu, p->req->url, c->server_name, &p->sni_url, &connect_to, &host_line);
	if (rc < 0) {
		snprintf(err, errlen, rc == HTTPC_EINVAL ? "invalid URL or server_name" :
							   "out of memory");
		return rc;
	}
	if (p->sni_url) {
		p->url = p->sni_url;
		if (add(c->cu, &p->connect_to, connect_to) < 0 ||
		    (!req_sets_name(p->req, "Host") && add(c->cu, &p->headers, host_line) < 0)) {
			snprintf(err, errlen, "out of memory");
			rc = HTTPC_ENOMEM;
		}
	}
	free(connect_to);
	free(host_line);
	return rc;
}

int httpc_prepare(const struct httpc *c, const struct httpc_req *req, struct httpc_prepared *p,
		  char *err, size_t errlen)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->cu = c->cu;
	p->req = req;
	p->url = req->url;
	rc = check_req(req, err, errlen);
	if (rc < 0)
		return rc;
	if (build_headers(c, req, &p->headers) < 0) {
		snprintf(err, errlen, "out of memory");
		return HTTPC_ENOMEM;
	}
	if (c->server_name)
		return prepare_sni(c, p, err, errlen);
	return 0;
}

void httpc_prepared_free(struct httpc_prepared *p)
{
	if (!p->cu)
		return;
	p->cu->slist_free_all(p->headers);
	p->cu->slist_free_all(p->connect_to);
	p->cu->free(p->sni_url);
	p->headers = p->connect_to = NULL;
	p->sni_url = NULL;
}
