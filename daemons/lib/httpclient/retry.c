/*
 * The retry loop around single attempts: what is worth another try, how long to
 * wait, and one error message for the whole call. A slot is held for the whole
 * call so a retry can reuse the connection the previous attempt left behind.
 */
#include "httpclient/internal.h"

#include <stdint.h>
#include <stdio.h>

#include "log/log.h"

static unsigned next_wait_ms(const struct httpc *c, const struct httpc_response *r,
			     unsigned retry)
{
	uint64_t ms;

	if ((r->status == 429 || r->status == 503) && r->retry_after_s >= 0) {
		ms = (uint64_t)r->retry_after_s * 1000;
		if (ms > c->max_backoff_ms)
			ms = c->max_backoff_ms;
		if (ms < c->min_backoff_ms)
			ms = c->min_backoff_ms;
		return (unsigned)ms;
	}
	return httpc_backoff_ms(c->min_backoff_ms, c->max_backoff_ms, retry);
}

static void log_retry(const struct httpc_req *req, unsigned attempt, unsigned wait_ms,
		      const char *reason)
{
	char url[1024], a[16], w[16];

	httpc_url_redact(req->url, url, sizeof(url));
	snprintf(a, sizeof(a), "%u", attempt);
	snprintf(w, sizeof(w), "%u", wait_ms);
	LOG_DEBUG("httpclient", "retrying request", "url", url, "attempt", a, "wait_ms", w,
		  "reason", reason);
}

static void report(const struct httpc_req *req, unsigned attempts, const char *reason,
		   char *err, size_t errlen)
{
	char url[2048];

	httpc_url_redact(req->url, url, sizeof(url));
	if (attempts > 1)
		snprintf(err, errlen, "%s %s: %s (after %u attempts)",
			 req->method ? req->method : "GET", url, reason, attempts);
	else
		snprintf(err, errlen, "%s %s: %s", req->method ? req->method : "GET", url,
			 reason);
}

static int attempts(struct httpc *c, struct httpc_slot *s, const struct httpc_prepared *p,
		    struct httpc_response *resp, char *reason, size_t reasonlen)
{
	const struct httpc_req *req = p->req;
	bool retryable;
	unsigned wait;
	int rc;

	for (;;) {
		if (httpc_canceled(c, req)) {
			snprintf(reason, reasonlen, "canceled");
			return HTTPC_ECANCELED;
		}
		rc = httpc_transfer(c, s, p, resp, &retryable, reason, reasonlen);
		resp->attempts++;
		if (rc == 0 || !retryable || resp->attempts > c->max_retries)
			return rc;
		wait = next_wait_ms(c, resp, resp->attempts);
		if (log_enabled(LOG_LEVEL_DEBUG))
			log_retry(req, resp->attempts, wait, reason);
		if (httpc_sleep(c, req, wait) < 0) {
			snprintf(reason, reasonlen, "canceled while waiting to retry");
			return HTTPC_ECANCELED;
		}
	}
}

int httpc_do(struct httpc *c, const struct httpc_req *req, struct httpc_response *resp,
	     char *err, size_t errlen)
{
	struct httpc_prepared p = { 0 };
	struct httpc_slot *s = NULL;
	char reason[512];
	int rc;

	if (!c || !req || !resp) {
		snprintf(err, errlen, "httpclient: missing client, request or response");
		return HTTPC_EINVAL;
	}
	resp->attempts = 0;
	httpc_response_begin(resp);
	rc = httpc_prepare(c, req, &p, reason, sizeof(reason));
	if (rc < 0)
		goto fail;
	rc = httpc_pool_get(&c->pool, &s);
	if (rc < 0) {
		snprintf(reason, sizeof(reason), "out of memory");
		goto fail;
	}
	rc = attempts(c, s, &p, resp, reason, sizeof(reason));
	httpc_pool_put(&c->pool, s);
	if (rc < 0)
		goto fail;
	httpc_prepared_free(&p);
	return 0;
fail:
	httpc_prepared_free(&p);
	report(req, resp->attempts, reason, err, errlen);
	return rc;
}

int httpc_request(struct httpc *c, const char *method, const char *url,
		  const char *content_type, const void *body, size_t len,
		  const struct httpc_header *headers, size_t nheaders,
		  struct httpc_response *resp, char *err, size_t errlen)
{
	struct httpc_req req = {
		.method = method,
		.url = url,
		.content_type = content_type,
		.body = body,
		.body_len = len,
		.headers = headers,
		.nheaders = nheaders,
	};

	return httpc_do(c, &req, resp, err, errlen);
}
