/*
 * One attempt. The slot's easy handle is reset and configured from scratch every
 * time (a few dozen setopt calls, far cheaper than the network) so nothing from
 * the previous request can leak into this one; connections, DNS and TLS sessions
 * live outside the easy handle and survive the reset. The transfer is driven by
 * our own multi loop instead of curl_easy_perform so that the cancel flags are
 * polled while waiting on the network.
 */
#include "httpclient/internal.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct xfer {
	struct httpc_response *resp;
	size_t max_body;
	bool too_big;
};

#define SET(e, opt, val) \
	do { if (rc == CURLE_OK) rc = c->cu->easy_setopt(e, opt, val); } while (0)

static size_t body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct buf *b = &x->resp->body;
	size_t len = size * n;

	if (len > x->max_body - b->len) {
		x->too_big = true;
		return 0;
	}
	buf_append(b, data, len);
	return b->oom ? 0 : len;
}

static CURLcode set_common(const struct httpc *c, struct httpc_slot *s, struct xfer *x)
{
	CURL *e = s->easy;
	CURLcode rc = CURLE_OK;

	SET(e, CURLOPT_NOSIGNAL, 1L);
	SET(e, CURLOPT_ERRORBUFFER, s->errbuf);
	SET(e, CURLOPT_PROTOCOLS_STR, "http,https");
	SET(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(e, CURLOPT_SHARE, c->share);
	SET(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	SET(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	SET(e, CURLOPT_TCP_KEEPALIVE, 1L);
	SET(e, CURLOPT_WRITEFUNCTION, body_cb);
	SET(e, CURLOPT_WRITEDATA, x);
	SET(e, CURLOPT_HEADERFUNCTION, httpc_response_header_cb);
	SET(e, CURLOPT_HEADERDATA, x->resp);
	/* "" keeps curl from reading http_proxy and friends from the environment. */
	SET(e, CURLOPT_PROXY, c->proxy_url ? c->proxy_url : "");
	SET(e, CURLOPT_USERAGENT, c->user_agent);
	if (c->follow_redirects) {
		SET(e, CURLOPT_FOLLOWLOCATION, 1L);
		SET(e, CURLOPT_MAXREDIRS, 10L);
	}
	if (c->decompress_response)
		SET(e, CURLOPT_ACCEPT_ENCODING, "");
	if (c->username) {
		SET(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(e, CURLOPT_USERNAME, c->username);
		SET(e, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	return rc;
}

static CURLcode set_tls(const struct httpc *c, CURL *e)
{
	CURLcode rc = CURLE_OK;

	SET(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(e, CURLOPT_SSL_VERIFYPEER, c->insecure_skip_verify ? 0L : 1L);
	SET(e, CURLOPT_SSL_VERIFYHOST, c->insecure_skip_verify ? 0L : 2L);
	if (c->ca_file)
		SET(e, CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file)
		SET(e, CURLOPT_SSLCERT, c->cert_file);
	if (c->key_file)
		SET(e, CURLOPT_SSLKEY, c->key_file);
	return rc;
}

static CURLcode set_request(const struct httpc *c, const struct httpc_prepared *p, CURL *e)
{
	const struct httpc_req *req = p->req;
	const char *m = req->method ? req->method : "GET";
	bool body = req->body || !strcmp(m, "POST") || !strcmp(m, "PUT") ||
		    !strcmp(m, "PATCH");
	CURLcode rc = CURLE_OK;

	SET(e, CURLOPT_URL, p->url);
	SET(e, CURLOPT_HTTPHEADER, p->headers);
	if (p->connect_to)
		SET(e, CURLOPT_CONNECT_TO, p->connect_to);
	if (!strcmp(m, "HEAD")) {
		/* Its Content-Length describes a body that never comes: no size limit. */
		SET(e, CURLOPT_NOBODY, 1L);
		return rc;
	}
	/* Refuses up front when Content-Length is known; body_cb covers the rest. */
	if (c->max_response_bytes <= (size_t)INT64_MAX)
		SET(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
	if (body) {
		SET(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		SET(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	if (strcmp(m, body ? "POST" : "GET"))
		SET(e, CURLOPT_CUSTOMREQUEST, m);
	return rc;
}

/*
 * Returns 0 with *result set when the transfer ended, HTTPC_ECANCELED, or an error
 * from the multi interface itself.
 */
static int run(const struct httpc *c, struct httpc_slot *s, const struct httpc_req *req,
	       CURLcode *result, char *err, size_t errlen)
{
	CURLMcode mc;
	CURLMsg *msg;
	int running = 1, left, rc = 0;

	*result = CURLE_GOT_NOTHING;
	mc = c->cu->multi_add_handle(s->multi, s->easy);
	while (!mc) {
		mc = c->cu->multi_perform(s->multi, &running);
		if (mc || !running)
			break;
		if (httpc_canceled(c, req)) {
			snprintf(err, errlen, "canceled");
			rc = HTTPC_ECANCELED;
			break;
		}
		mc = c->cu->multi_poll(s->multi, NULL, 0, HTTPC_CANCEL_POLL_MS, NULL);
	}
	while ((msg = c->cu->multi_info_read(s->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy)
			*result = msg->data.result;
	/* Removing a handle mid-transfer closes its connection, as a cancel should. */
	c->cu->multi_remove_handle(s->multi, s->easy);
	if (mc && !rc) {
		snprintf(err, errlen, "curl multi: %s", c->cu->multi_strerror(mc));
		rc = mc == CURLM_OUT_OF_MEMORY ? HTTPC_ENOMEM : HTTPC_ETRANSPORT;
	}
	return rc;
}

static bool retryable_code(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* "server returned HTTP 503: <first line of the body>", made printable. */
static void status_reason(const struct httpc_response *r, char *err, size_t errlen)
{
	size_t n = (size_t)snprintf(err, errlen, "server returned HTTP %d", r->status);

	if (!r->body.len || n + 3 >= errlen)
		return;
	err[n++] = ':';
	err[n++] = ' ';
	for (size_t i = 0; i < r->body.len && n + 1 < errlen && i < 200; i++) {
		unsigned char ch = (unsigned char)r->body.data[i];

		if (ch == '\n' || ch == '\r')
			break;
		err[n++] = isprint(ch) ? (char)ch : '?';
	}
	err[n] = '\0';
}

static int classify(const struct httpc *c, struct httpc_slot *s, const struct xfer *x,
		    CURLcode result, bool *retryable, char *err, size_t errlen)
{
	struct httpc_response *r = x->resp;

	if (r->body.oom || r->headers.oom || result == CURLE_OUT_OF_MEMORY) {
		snprintf(err, errlen, "out of memory");
		return HTTPC_ENOMEM;
	}
	if (x->too_big || result == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "response body exceeds max_response_bytes (%zu)",
			 x->max_body);
		return HTTPC_ETOOBIG;
	}
	if (result == CURLE_OK) {
		*retryable = r->status == 429 || r->status >= 500;
		if (!*retryable)
			return 0;
		status_reason(r, err, errlen);
		return HTTPC_ESTATUS;
	}
	snprintf(err, errlen, "%s", s->errbuf[0] ? s->errbuf : c->cu->easy_strerror(result));
	if (result == CURLE_URL_MALFORMAT || result == CURLE_UNSUPPORTED_PROTOCOL)
		return HTTPC_EINVAL;
	*retryable = retryable_code(result);
	return HTTPC_ETRANSPORT;
}

int httpc_transfer(struct httpc *c, struct httpc_slot *s, const struct httpc_prepared *p,
		   struct httpc_response *resp, bool *retryable, char *err, size_t errlen)
{
	struct xfer x = { resp, c->max_response_bytes, false };
	CURLcode result;
	long status = 0;
	int rc;

	*retryable = false;
	httpc_response_begin(resp);
	c->cu->easy_reset(s->easy);
	s->errbuf[0] = '\0';
	result = set_common(c, s, &x);
	if (result == CURLE_OK)
		result = set_tls(c, s->easy);
	if (result == CURLE_OK)
		result = set_request(c, p, s->easy);
	if (result != CURLE_OK) {
		snprintf(err, errlen, "curl_easy_setopt: %s", c->cu->easy_strerror(result));
		return result == CURLE_OUT_OF_MEMORY ? HTTPC_ENOMEM : HTTPC_EINVAL;
	}
	rc = run(c, s, p->req, &result, err, errlen);
	c->cu->easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	resp->status = (int)status;
	httpc_response_finish(resp);
	if (rc < 0)
		return rc;
	return classify(c, s, &x, result, retryable, err, errlen);
}
