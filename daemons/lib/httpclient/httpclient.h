/*
 * httpclient: the outgoing HTTP(S) client every sender shares (remote-write, Loki
 * push, OTLP/HTTP export, scraping, object storage), on libcurl.
 *
 * A client (struct httpc) is built once from a config and then used for many
 * requests. It owns a copy of every config string, a pool of libcurl handles (each
 * keeping its own warm connections), and a DNS and TLS-session cache shared by the
 * pool.
 *
 * Requests:
 * - One call is one logical request: it makes up to 1 + max_retries attempts. An
 *   attempt is retried after connection errors, timeouts, resets, 5xx and 429;
 *   nothing else (other 4xx, TLS verification failures, an over-long body) is
 *   retried. The wait before retry n (1-based) is drawn uniformly from
 *   [min_backoff, min(max_backoff, min_backoff * 2^n)] ("full jitter" above a
 *   floor). A 429 or 503 carrying Retry-After (seconds or an HTTP date) waits that
 *   long instead, capped by max_backoff and never shorter than min_backoff.
 * - timeout_ms bounds one attempt (connect, send, wait, receive), not the total.
 * - The body is sent as given (the caller compresses and names the encoding);
 *   it must stay valid for the whole call. Responses are read into memory and a
 *   body over max_response_bytes stops the transfer (HTTPC_ETOOBIG).
 * - Cancellation: the config's and the request's `cancel` flags are polled about
 *   every 20 ms, both while a transfer runs and while waiting to retry; once
 *   either is true the call returns HTTPC_ECANCELED promptly.
 * - TLS peer and host name verification are on unless insecure_skip_verify.
 *   server_name makes the TLS name (SNI and verification) differ from the URL
 *   host; the TCP connection still goes to the URL host and the Host header keeps
 *   the URL's authority.
 * - No cookies, no environment proxies (only proxy_url), only http and https.
 *   Redirects are followed only with follow_redirects (at most 10), and then
 *   credentials are not sent to another host.
 *
 * Results: httpc_request() returns 0 when a final response arrived: any status that
 * is not retryable (2xx, 3xx, 4xx other than 429); the caller inspects
 * resp->status. It returns a negative HTTPC_E* code otherwise, with `err` holding
 * "METHOD URL: reason (after N attempts)", the URL stripped of any user:password.
 * On HTTPC_ESTATUS (retries spent on 5xx/429) `resp` still holds the last
 * response, so its status and body can be logged.
 *
 * Threads: httpc_request() may be called from any number of threads at once on
 * one client. httpc_new()/httpc_free() are not concurrent with requests on the
 * same client. libcurl itself is loaded by the first httpc_new() (daemons/lib/dynload,
 * to keep it out of the RSS of daemons that never send); when it cannot be, httpc_new()
 * fails with HTTPC_EINVAL and "libcurl.so.4 not loadable: <reason>". libcurl's global
 * init runs exactly once per process, on first use.
 * curl does not install signal handlers here (CURLOPT_NOSIGNAL), so the process
 * should ignore SIGPIPE, as every daemon does.
 */
#ifndef LGTM_HTTPCLIENT_H
#define LGTM_HTTPCLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf/buf.h"

#define HTTPC_EINVAL     (-1) /* bad config, request, URL or method */
#define HTTPC_ENOMEM     (-2)
#define HTTPC_ETRANSPORT (-3) /* no usable response: connect, DNS, TLS, timeout, reset */
#define HTTPC_ESTATUS    (-4) /* 5xx/429 until retries ran out; resp holds the last one */
#define HTTPC_ETOOBIG    (-5) /* response body over max_response_bytes (not retried) */
#define HTTPC_ECANCELED  (-6)

struct httpc;

/* One header; name is a token, value must not contain CR or LF. */
struct httpc_header {
	const char *name;
	const char *value;
};

/*
 * A zeroed config is valid: every 0 / NULL means the default in brackets. Strings
 * are copied by httpc_new(); `cancel` and nothing else is referenced afterwards.
 */
struct httpc_config {
	unsigned timeout_ms;          /* per attempt [30000] */
	unsigned connect_timeout_ms;  /* [min(10000, timeout_ms)] */
	unsigned max_retries;         /* attempts after the first [0: none] */
	unsigned min_backoff_ms;      /* [30] */
	unsigned max_backoff_ms;      /* [5000]; must be >= min_backoff_ms */
	size_t max_response_bytes;    /* decoded body limit, not applied to HEAD [64 MiB] */
	unsigned max_idle_handles;    /* pooled handles kept when idle [16] */

	const char *ca_file;          /* PEM bundle to trust [system store] */
	const char *cert_file;        /* client certificate (PEM) for mutual TLS */
	const char *key_file;         /* its key; requires cert_file [key inside cert_file] */
	const char *server_name;      /* TLS name to send and verify [URL host] */
	bool insecure_skip_verify;

	const char *username;         /* basic auth; excludes bearer_token */
	const char *password;
	const char *bearer_token;     /* Authorization: Bearer <token> */

	const struct httpc_header *headers; /* sent with every request */
	size_t nheaders;
	const char *user_agent;       /* ["lgtm-native/<version>"] */
	const char *proxy_url;        /* e.g. "http://proxy:3128" [no proxy] */
	bool follow_redirects;
	bool decompress_response;     /* send Accept-Encoding and decode gzip/deflate/... */

	_Atomic bool *cancel;         /* optional; e.g. the daemon's shutdown flag */
};

/* The full form of a request; see httpc_request() for the short one. */
struct httpc_req {
	const char *method;           /* "GET", "POST", "PUT", "HEAD", ... [GET] */
	const char *url;              /* http:// or https://; user:password@ is allowed */
	const char *content_type;     /* NULL: no Content-Type header */
	const char *content_encoding; /* e.g. "snappy", "gzip"; the body is already encoded */
	const void *body;             /* NULL: no body (POST/PUT/PATCH send an empty one) */
	size_t body_len;
	const struct httpc_header *headers; /* added to the config's; may override them */
	size_t nheaders;
	_Atomic bool *cancel;         /* optional, checked in addition to the config's */
};

/*
 * Zero it before first use; it may then be passed to further calls (its buffers are
 * reused) and is released with httpc_response_free().
 */
struct httpc_response {
	int status;                   /* last HTTP status; 0 if none arrived */
	unsigned attempts;            /* attempts made by the last call */
	int retry_after_s;            /* Retry-After of the last response; -1 if absent */
	const char *content_type;     /* points into `headers`; NULL if absent */
	struct buf headers;           /* "Name: value" entries, each NUL-terminated */
	struct buf body;
};

/* Validates and copies `cfg` (checks that the TLS files are readable). */
int httpc_new(const struct httpc_config *cfg, struct httpc **out, char *err, size_t errlen);
/* Closes pooled connections; no request may be in flight. NULL is a no-op. */
void httpc_free(struct httpc *c);

int httpc_do(struct httpc *c, const struct httpc_req *req, struct httpc_response *resp,
	     char *err, size_t errlen);

/* httpc_do() with positional arguments and no content encoding or own cancel flag. */
int httpc_request(struct httpc *c, const char *method, const char *url,
		  const char *content_type, const void *body, size_t len,
		  const struct httpc_header *headers, size_t nheaders,
		  struct httpc_response *resp, char *err, size_t errlen);

/* First header of the last response with this name (case-insensitive), or NULL. */
const char *httpc_response_header(const struct httpc_response *resp, const char *name);
void httpc_response_free(struct httpc_response *resp);

/*
 * The jittered wait before retry `retry` (1-based) under the rule above; exposed so
 * that senders which re-queue a whole batch back off the same way. Thread-safe.
 */
unsigned httpc_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned retry);

#endif
