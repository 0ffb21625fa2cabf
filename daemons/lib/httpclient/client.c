/*
 * Client lifetime: validate the config once, copy what requests need, set up the
 * handle pool and the cache shared by its handles. Everything built here is
 * read-only afterwards, which is what lets requests run concurrently without a
 * client-wide lock (only the pool's free list and curl's share take mutexes).
 */
#include "httpclient/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "version/version.h"

#define DEFAULT_TIMEOUT_MS 30000u
#define DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define DEFAULT_MIN_BACKOFF_MS 30u
#define DEFAULT_MAX_BACKOFF_MS 5000u
#define DEFAULT_MAX_RESPONSE_BYTES ((size_t)64 << 20)
#define DEFAULT_MAX_IDLE 16u

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* Runs once, after httpc_new() bound libcurl (dynload), before any other curl call. */
static void global_init(void)
{
	const struct dynload_curl *cu;
	char unused[8];

	if (dynload_curl(&cu, unused, sizeof(unused)) == 0)
		global_rc = cu->global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct httpc *c = arg;

	(void)h;
	(void)access;
	pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct httpc *c = arg;

	(void)h;
	pthread_mutex_unlock(&c->share_mu[data]);
}

static int share_new(struct httpc *c)
{
	CURLSHcode rc;

	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_mu[i], NULL);
	c->share = c->cu->share_init();
	if (!c->share)
		return -1;
	rc = c->cu->share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	if (!rc)
		rc = c->cu->share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	if (!rc)
		rc = c->cu->share_setopt(c->share, CURLSHOPT_USERDATA, c);
	if (!rc)
		rc = c->cu->share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (!rc)
		rc = c->cu->share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return rc ? -1 : 0;
}

/* NULL and "" both mean "not set", so callers can pass empty YAML values through. */
static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s || !*s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -1;
}

static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
	if (!path || !*path || access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "httpclient: %s %s: %s", what, path, strerror(errno));
	return HTTPC_EINVAL;
}

static int validate(const struct httpc_config *cfg, char *err, size_t errlen)
{
	unsigned min = cfg->min_backoff_ms ? cfg->min_backoff_ms : DEFAULT_MIN_BACKOFF_MS;
	unsigned max = cfg->max_backoff_ms ? cfg->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
	bool basic = (cfg->username && *cfg->username) || (cfg->password && *cfg->password);
	int rc;

	if (min > max) {
		snprintf(err, errlen, "httpclient: min_backoff %u ms exceeds max_backoff %u ms",
			 min, max);
		return HTTPC_EINVAL;
	}
	if (basic && !(cfg->username && *cfg->username)) {
		snprintf(err, errlen, "httpclient: password set without username");
		return HTTPC_EINVAL;
	}
	if (basic && strchr(cfg->username, ':')) {
		snprintf(err, errlen, "httpclient: basic auth username must not contain ':'");
		return HTTPC_EINVAL;
	}
	if (basic && cfg->bearer_token && *cfg->bearer_token) {
		snprintf(err, errlen, "httpclient: basic auth and bearer_token are exclusive");
		return HTTPC_EINVAL;
	}
	if (cfg->bearer_token && strpbrk(cfg->bearer_token, "\r\n")) {
		snprintf(err, errlen, "httpclient: bearer_token contains a line break");
		return HTTPC_EINVAL;
	}
	if (cfg->key_file && *cfg->key_file && !(cfg->cert_file && *cfg->cert_file)) {
		snprintf(err, errlen, "httpclient: key_file set without cert_file");
		return HTTPC_EINVAL;
	}
	for (size_t i = 0; i < cfg->nheaders; i++) {
		if (!httpc_header_valid(&cfg->headers[i])) {
			snprintf(err, errlen, "httpclient: invalid header %zu (%s)", i,
				 cfg->headers[i].name ? cfg->headers[i].name : "no name");
			return HTTPC_EINVAL;
		}
	}
	rc = check_readable("ca_file", cfg->ca_file, err, errlen);
	if (!rc)
		rc = check_readable("cert_file", cfg->cert_file, err, errlen);
	if (!rc)
		rc = check_readable("key_file", cfg->key_file, err, errlen);
	return rc;
}

static void apply_numbers(struct httpc *c, const struct httpc_config *cfg)
{
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms = cfg->connect_timeout_ms;
	if (!c->connect_timeout_ms)
		c->connect_timeout_ms = c->timeout_ms < DEFAULT_CONNECT_TIMEOUT_MS ?
					c->timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->max_retries = cfg->max_retries;
	c->min_backoff_ms = cfg->min_backoff_ms ? cfg->min_backoff_ms : DEFAULT_MIN_BACKOFF_MS;
	c->max_backoff_ms = cfg->max_backoff_ms ? cfg->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
	c->max_response_bytes = cfg->max_response_bytes ? cfg->max_response_bytes :
							  DEFAULT_MAX_RESPONSE_BYTES;
	c->insecure_skip_verify = cfg->insecure_skip_verify;
	c->follow_redirects = cfg->follow_redirects;
	c->decompress_response = cfg->decompress_response;
	c->cancel = cfg->cancel;
}

static int copy_strings(struct httpc *c, const struct httpc_config *cfg)
{
	char ua[128];

	snprintf(ua, sizeof(ua), "lgtm-native/%s", lgtm_version());
	if (dup_opt(cfg->ca_file, &c->ca_file) || dup_opt(cfg->cert_file, &c->cert_file) ||
	    dup_opt(cfg->key_file, &c->key_file) ||
	    dup_opt(cfg->server_name, &c->server_name) ||
	    dup_opt(cfg->username, &c->username) || dup_opt(cfg->password, &c->password) ||
	    dup_opt(cfg->proxy_url, &c->proxy_url) ||
	    dup_opt(cfg->user_agent ? cfg->user_agent : ua, &c->user_agent))
		return -1;
	return 0;
}

static int copy_headers(struct httpc *c, const struct httpc_config *cfg)
{
	bool bearer = cfg->bearer_token && *cfg->bearer_token;
	size_t n = cfg->nheaders + (bearer ? 1 : 0);

	if (!n)
		return 0;
	c->header_lines = calloc(n, sizeof(*c->header_lines));
	if (!c->header_lines)
		return -1;
	if (bearer) {
		if (asprintf(&c->header_lines[0], "Authorization: Bearer %s",
			     cfg->bearer_token) < 0) {
			c->header_lines[0] = NULL;
			return -1;
		}
		c->nheader_lines++;
	}
	for (size_t i = 0; i < cfg->nheaders; i++) {
		if (httpc_header_line(&cfg->headers[i], &c->header_lines[c->nheader_lines]) < 0)
			return -1;
		c->nheader_lines++;
	}
	return 0;
}

int httpc_new(const struct httpc_config *cfg, struct httpc **out, char *err, size_t errlen)
{
	const struct dynload_curl *cu;
	struct httpc *c = NULL;
	int rc;

	if (!cfg || !out) {
		snprintf(err, errlen, "httpclient: no config or result pointer");
		return HTTPC_EINVAL;
	}
	*out = NULL;
	rc = validate(cfg, err, errlen);
	if (rc < 0)
		return rc;
	if (dynload_curl(&cu, err, errlen) < 0)
		return HTTPC_EINVAL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		snprintf(err, errlen, "httpclient: curl_global_init: %s",
			 cu->easy_strerror(global_rc));
		return HTTPC_ENOMEM;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->cu = cu;
	apply_numbers(c, cfg);
	httpc_pool_init(&c->pool, cu, cfg->max_idle_handles ? cfg->max_idle_handles :
							  DEFAULT_MAX_IDLE);
	if (share_new(c) < 0 || copy_strings(c, cfg) < 0 || copy_headers(c, cfg) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	httpc_free(c);
	snprintf(err, errlen, "httpclient: out of memory");
	return HTTPC_ENOMEM;
}

void httpc_free(struct httpc *c)
{
	if (!c)
		return;
	/* Handles first: they hold references into the share. */
	httpc_pool_destroy(&c->pool);
	if (c->share)
		c->cu->share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_mu[i]);
	for (size_t i = 0; i < c->nheader_lines; i++)
		free(c->header_lines[i]);
	free(c->header_lines);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->server_name);
	free(c->username);
	free(c->password);
	free(c->user_agent);
	free(c->proxy_url);
	free(c);
}
