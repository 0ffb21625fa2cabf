/*
 * Shared between the httpclient files only; not part of the public API.
 */
#ifndef LGTM_HTTPCLIENT_INTERNAL_H
#define LGTM_HTTPCLIENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "dynload/dynload.h"

#include "httpclient/httpclient.h"

/* One reusable transfer engine: the multi handle holds the warm connections. */
struct httpc_slot {
	CURL *easy;
	CURLM *multi;
	struct httpc_slot *next;
	char errbuf[CURL_ERROR_SIZE];
};

struct httpc_pool {
	const struct dynload_curl *cu;
	pthread_mutex_t mu;
	struct httpc_slot *idle;   /* LIFO, so the warmest connections are reused first */
	unsigned nidle;
	unsigned max_idle;
};

struct httpc {
	unsigned timeout_ms;
	unsigned connect_timeout_ms;
	unsigned max_retries;
	unsigned min_backoff_ms;
	unsigned max_backoff_ms;
	size_t max_response_bytes;
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *server_name;
	bool insecure_skip_verify;
	bool follow_redirects;
	bool decompress_response;
	char *username;
	char *password;
	char *user_agent;
	char *proxy_url;
	char **header_lines;       /* "Name: value", including a bearer Authorization */
	size_t nheader_lines;
	_Atomic bool *cancel;
	const struct dynload_curl *cu; /* libcurl, bound by httpc_new */
	CURLSH *share;             /* DNS and TLS sessions, shared by all slots */
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
	struct httpc_pool pool;
};

/* What one logical request needs on every attempt, prepared once per call. */
struct httpc_prepared {
	const struct dynload_curl *cu;
	const struct httpc_req *req;
	const char *url;                 /* req->url, or its server_name rewrite */
	char *sni_url;                   /* owned rewrite, or NULL */
	struct curl_slist *headers;
	struct curl_slist *connect_to;
};

#define HTTPC_CANCEL_POLL_MS 20

/* pool.c */
void httpc_pool_init(struct httpc_pool *p, const struct dynload_curl *cu, unsigned max_idle);
int httpc_pool_get(struct httpc_pool *p, struct httpc_slot **out);
void httpc_pool_put(struct httpc_pool *p, struct httpc_slot *s);
void httpc_pool_destroy(struct httpc_pool *p);

/* headers.c */
bool httpc_header_valid(const struct httpc_header *h);
int httpc_header_line(const struct httpc_header *h, char **out);
int httpc_prepare(const struct httpc *c, const struct httpc_req *req, struct httpc_prepared *p,
		  char *err, size_t errlen);
void httpc_prepared_free(struct httpc_prepared *p);

/* url.c */
void httpc_url_redact(const char *url, char *out, size_t outlen);
int httpc_url_sni(const struct dynload_curl *cu, const char *url, const char *server_name,
		  char **new_url, char **connect_to, char **host_line);

/* transfer.c: one attempt; *retryable says whether another attempt may help. */
int httpc_transfer(struct httpc *c, struct httpc_slot *s, const struct httpc_prepared *p,
		   struct httpc_response *resp, bool *retryable, char *err, size_t errlen);

/* response.c */
void httpc_response_begin(struct httpc_response *resp);
size_t httpc_response_header_cb(char *line, size_t size, size_t n, void *resp);
void httpc_response_finish(struct httpc_response *resp);

/* backoff.c */
bool httpc_canceled(const struct httpc *c, const struct httpc_req *req);
int httpc_sleep(const struct httpc *c, const struct httpc_req *req, unsigned ms);

#endif
