/*
 * One HTTP GET of a target, with the headers Prometheus 2.42 sends: the Accept
 * header preferring OpenMetrics, Accept-Encoding gzip (curl decodes it, so the
 * body limit applies to the decoded bytes as upstream's does), the timeout in
 * X-Prometheus-Scrape-Timeout-Seconds. Credentials are built per request so a
 * password_file or credentials_file is read at every scrape, as upstream does;
 * rotating a secret needs no reload. Errors read like upstream's lastError where
 * the words are Prometheus' own ("server returned HTTP status 404 Not Found",
 * "body size limit exceeded").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dynload/dynload.h"
#include "log/log.h"
#include "scrape/mgr_internal.h"

#define ACCEPT_HEADER                                                                          \
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;" \
	"q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

/* Secrets are short; a longer file is cut (the header would not fit anyway). */
#define MAX_SECRET 2048

/* Go's http.StatusText for what targets answer. */
static const char *status_text(int code)
{
	static const struct {
		int code;
		const char *text;
	} t[] = {
		{ 201, "Created" }, { 202, "Accepted" }, { 204, "No Content" },
		{ 206, "Partial Content" }, { 301, "Moved Permanently" }, { 302, "Found" },
		{ 303, "See Other" }, { 304, "Not Modified" }, { 307, "Temporary Redirect" },
		{ 308, "Permanent Redirect" }, { 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" }, { 408, "Request Timeout" }, { 410, "Gone" },
		{ 413, "Request Entity Too Large" }, { 415, "Unsupported Media Type" },
		{ 429, "Too Many Requests" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == code)
			return t[i].text;
	return "";
}

/* A secret file's content with surrounding white space removed, into out. */
static int read_secret(const char *path, const char *what, char *out, size_t cap, char *err,
		       size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t n, start = 0;

	if (!f) {
		snprintf(err, errlen, "unable to read %s %s: %s", what, path, strerror(errno));
		return -1;
	}
	n = fread(out, 1, cap - 1, f);
	fclose(f);
	while (n && strchr(" \t\r\n\v\f", out[n - 1]))
		n--;
	out[n] = '\0';
	while (start < n && strchr(" \t\r\n\v\f", out[start]))
		start++;
	memmove(out, out + start, n - start + 1);
	return 0;
}

/* "Basic <base64>" or "<type> <credentials>", or "" without credentials. */
static int authorization(const struct sm_pool *p, char *out, size_t cap, char *err,
			 size_t errlen)
{
	const struct scrape_config *c = p->cfg;
	const struct scrape_basic_auth *b = &c->basic_auth;
	const struct scrape_authorization *a = &c->authorization;
	char secret[MAX_SECRET], plain[2 * MAX_SECRET + 2];
	const struct dynload_crypto *cr;
	int n;

	out[0] = '\0';
	if (b->pos.line) {
		if (p->files.password && read_secret(p->files.password, "basic auth password file",
						     secret, sizeof(secret), err, errlen))
			return -1;
		n = snprintf(plain, sizeof(plain), "%s:%s", b->username ? b->username : "",
			     p->files.password ? secret : b->password ? b->password : "");
		if (n < 0 || (size_t)n >= sizeof(plain) || cap < 7 + 4 * (((size_t)n + 2) / 3)) {
			snprintf(err, errlen, "basic auth credentials too long");
			return -1;
		}
		if (dynload_crypto(&cr, err, errlen) < 0)
			return -1;
		memcpy(out, "Basic ", 6);
		cr->encode_block((unsigned char *)out + 6, (unsigned char *)plain, n);
	} else if (a->pos.line) {
		if (p->files.credentials &&
		    read_secret(p->files.credentials, "authorization credentials file", secret,
				sizeof(secret), err, errlen))
			return -1;
		snprintf(out, cap, "%s %s", a->type,
			 p->files.credentials ? secret : a->credentials ? a->credentials : "");
	}
	return 0;
}

/* strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64) for whole milliseconds. */
static void timeout_seconds(int64_t ms, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));

	while (n > 0 && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
}

static int http_error(struct sm_target *t, int rc, const char *why, char *err, size_t errlen)
{
	const struct httpc_response *r = &t->resp;

	if (rc == HTTPC_ETOOBIG) {
		sm_count(t->pool->m->met.exceeded_body_size, 1);
		snprintf(err, errlen, "body size limit exceeded");
		return -1;
	}
	if (rc < 0 && !(rc == HTTPC_ESTATUS && r->status)) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (r->status != 200) {
		snprintf(err, errlen, "server returned HTTP status %d %s", r->status,
			 status_text(r->status));
		return -1;
	}
	return 0;
}

int sm_fetch(struct sm_target *t, char *err, size_t errlen)
{
	const struct scrape_config *c = t->pool->cfg;
	char timeout[32], auth[3 * MAX_SECRET + 16], why[1024];
	struct httpc_header h[5];
	size_t nh = 0;
	int rc;

	if (!t->client) {
		snprintf(err, errlen, "%s", t->client_err);
		return -1;
	}
	if (authorization(t->pool, auth, sizeof(auth), err, errlen))
		return -1;
	timeout_seconds(t->spec.timeout_ms, timeout, sizeof(timeout));
	h[nh++] = (struct httpc_header){ "Accept", ACCEPT_HEADER };
	h[nh++] = (struct httpc_header){ "Accept-Encoding", c->enable_compression ? "gzip" : "identity" };
	h[nh++] = (struct httpc_header){ "X-Prometheus-Scrape-Timeout-Seconds", timeout };
	if (auth[0])
		h[nh++] = (struct httpc_header){ "Authorization", auth };
	rc = httpc_do(t->client,
		      &(struct httpc_req){ .method = "GET", .url = t->spec.url, .headers = h,
					   .nheaders = nh, .cancel = &t->cancel },
		      &t->resp, why, sizeof(why));
	if (atomic_load(&t->cancel))
		return SM_FETCH_CANCELED;
	return http_error(t, rc, why, err, errlen);
}
