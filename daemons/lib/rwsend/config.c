/*
 * remote_write entries as configuration: the schema, Prometheus 2.42's defaults, and
 * its validation (config.RemoteWriteConfig.UnmarshalYAML, the HTTP client config's
 * Validate, and the duplicate checks of Config.UnmarshalYAML and remote.WriteStorage.
 * ApplyConfig). Checks live in plain functions so that the field checks a YAML load
 * runs (with file positions) and rwsend_configs_validate() for configs built in code
 * apply the same rules. Prometheus accepts zero shards or batch sizes and then
 * crashes; those are refused here.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dynload/dynload.h"
#include "relabel/relabel.h"
#include "rwsend/internal.h"

void rwsend_config_init(struct rwsend_config *c)
{
	memset(c, 0, sizeof(*c));
	c->remote_timeout_ms = 30 * 1000;
	c->follow_redirects = true;
	c->enable_http2 = true;
	c->queue_config = (struct rwsend_queue_config){
		.capacity = 2500,
		.max_shards = 200,
		.min_shards = 1,
		.max_samples_per_send = 500,
		.batch_send_deadline_ms = 5 * 1000,
		.min_backoff_ms = 30,
		.max_backoff_ms = 5 * 1000,
		.retry_on_http_429 = false,
	};
}

static void init_elem(void *elem)
{
	rwsend_config_init(elem);
}

static const char *str(const char *s)
{
	return s ? s : "";
}

static bool set(const char *s)
{
	return s && *s;
}

/* --- the checks ---------------------------------------------------------------------- */

static int check_url(const char *url, char *err, size_t errlen)
{
	const struct dynload_curl *cu;
	char *scheme = NULL, *host = NULL;
	CURLU *u;
	CURLUcode uc;
	int rc = -1;

	if (!set(url)) {
		snprintf(err, errlen, "url for remote_write is empty");
		return -1;
	}
	/* The first remote_write entry is where a sender first needs libcurl. */
	if (dynload_curl(&cu, err, errlen) < 0)
		return -1;
	u = cu->url();
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uc = cu->url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc) {
		snprintf(err, errlen, "invalid remote_write url \"%s\": %s", url, cu->url_strerror(uc));
		goto out;
	}
	if (cu->url_get(u, CURLUPART_SCHEME, &scheme, 0) || cu->url_get(u, CURLUPART_HOST, &host, 0) ||
	    !set(host)) {
		snprintf(err, errlen, "invalid remote_write url \"%s\": no host", url);
		goto out;
	}
	if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
		snprintf(err, errlen, "unsupported protocol scheme \"%s\" in remote_write url (http or https)",
			 scheme);
		goto out;
	}
	rc = 0;
out:
	cu->free(scheme);
	cu->free(host);
	cu->url_cleanup(u);
	return rc;
}

static const char *const reserved_headers[] = {
	"host", "content-encoding", "content-length", "content-type", "user-agent", "connection",
	"keep-alive", "proxy-authenticate", "proxy-authorization", "www-authenticate",
	"accept-encoding", "x-prometheus-remote-write-version", "x-prometheus-remote-read-version",
	"x-amz-date", "x-amz-security-token", "x-amz-content-sha256", NULL,
};

static int check_headers(const void *value, char *err, size_t errlen)
{
	const struct cfg_strmap *h = value;

	for (size_t i = 0; i < h->n; i++) {
		const char *k = str(h->keys[i]);

		if (!strcasecmp(k, "authorization")) {
			snprintf(err, errlen, "authorization header must be changed via the basic_auth, "
					      "authorization, oauth2, or sigv4 parameter");
			return -1;
		}
		for (const char *const *r = reserved_headers; *r; r++)
			if (!strcasecmp(k, *r)) {
				snprintf(err, errlen, "%s is a reserved header. It must not be changed", k);
				return -1;
			}
		if (!*k || strpbrk(k, " \t\r\n:") || strpbrk(str(h->vals[i]), "\r\n")) {
			snprintf(err, errlen, "invalid header \"%s\"", k);
			return -1;
		}
	}
	return 0;
}

static int check_basic_auth(const void *value, char *err, size_t errlen)
{
	const struct rwsend_basic_auth *b = value;

	if (set(b->password) && set(b->password_file)) {
		snprintf(err, errlen, "at most one of basic_auth password & password_file must be configured");
		return -1;
	}
	return 0;
}

static int check_authorization(const void *value, char *err, size_t errlen)
{
	const struct rwsend_authorization *a = value;

	if (set(a->credentials) && set(a->credentials_file)) {
		snprintf(err, errlen,
			 "at most one of authorization credentials & credentials_file must be configured");
		return -1;
	}
	if (!strcasecmp(str(a->type), "basic")) {
		snprintf(err, errlen, "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
		return -1;
	}
	if (strpbrk(str(a->type), " \t\r\n")) {
		snprintf(err, errlen, "invalid authorization type \"%s\"", a->type);
		return -1;
	}
	return 0;
}

static int check_tls(const void *value, char *err, size_t errlen)
{
	const struct rwsend_tls_config *t = value;

	if (set(t->cert_file) && !set(t->key_file)) {
		snprintf(err, errlen, "client cert file \"%s\" specified without client key file", t->cert_file);
		return -1;
	}
	if (set(t->key_file) && !set(t->cert_file)) {
		snprintf(err, errlen, "client key file \"%s\" specified without client cert file", t->key_file);
		return -1;
	}
	return 0;
}

/* Limits keep the arithmetic on sizes and waits far from overflow. */
#define MAX_COUNT (1 << 24)
#define MAX_WAIT_MS (24LL * 3600 * 1000)

static int check_queue(const void *value, char *err, size_t errlen)
{
	const struct rwsend_queue_config *q = value;

	if (q->capacity < 1 || q->capacity > MAX_COUNT)
		return snprintf(err, errlen, "capacity must be between 1 and %d", MAX_COUNT), -1;
	if (q->max_samples_per_send < 1 || q->max_samples_per_send > MAX_COUNT)
		return snprintf(err, errlen, "max_samples_per_send must be between 1 and %d",
				MAX_COUNT), -1;
	if (q->min_shards < 1 || q->min_shards > 1000)
		return snprintf(err, errlen, "min_shards must be between 1 and 1000"), -1;
	if (q->max_shards < q->min_shards)
		return snprintf(err, errlen, "max_shards (%lld) must not be below min_shards (%lld)",
				(long long)q->max_shards, (long long)q->min_shards), -1;
	if (q->batch_send_deadline_ms < 1 || q->batch_send_deadline_ms > MAX_WAIT_MS)
		return snprintf(err, errlen, "batch_send_deadline must be positive and at most 24h"), -1;
	if (q->min_backoff_ms < 0 || q->max_backoff_ms > MAX_WAIT_MS)
		return snprintf(err, errlen, "backoff must be between 0 and 24h"), -1;
	if (q->min_backoff_ms > q->max_backoff_ms)
		return snprintf(err, errlen, "min_backoff must not exceed max_backoff"), -1;
	return 0;
}

static int check_timeout(const void *value, char *err, size_t errlen)
{
	const int64_t *ms = value;

	if (*ms < 0 || *ms > MAX_WAIT_MS) {
		snprintf(err, errlen, "remote_timeout must be between 0 and 24h");
		return -1;
	}
	return 0;
}

static int check_url_field(const void *value, char *err, size_t errlen)
{
	return check_url(*(char *const *)value, err, errlen);
}

static int check_entry(const struct rwsend_config *c, char *err, size_t errlen)
{
	const struct relabel_config *r = c->write_relabel_configs.v;
	char why[200];

	if (check_url(c->url, err, errlen) || check_timeout(&c->remote_timeout_ms, err, errlen) ||
	    check_headers(&c->headers, err, errlen) || check_basic_auth(&c->basic_auth, err, errlen) ||
	    check_authorization(&c->authorization, err, errlen) ||
	    check_tls(&c->tls_config, err, errlen))
		return -1;
	if (check_queue(&c->queue_config, why, sizeof(why))) {
		snprintf(err, errlen, "queue_config: %s", why);
		return -1;
	}
	if ((set(c->basic_auth.username) || set(c->basic_auth.password) ||
	     set(c->basic_auth.password_file)) &&
	    (set(c->authorization.type) || set(c->authorization.credentials) ||
	     set(c->authorization.credentials_file))) {
		snprintf(err, errlen, "at most one of basic_auth, oauth2 & authorization must be configured");
		return -1;
	}
	for (size_t i = 0; i < c->write_relabel_configs.n; i++)
		if (relabel_config_validate(&r[i], why, sizeof(why))) {
			snprintf(err, errlen, "write_relabel_configs: item %zu: %s", i, why);
			return -1;
		}
	return 0;
}

int rwsend_configs_validate(const struct rwsend_config *c, size_t n, char *err, size_t errlen)
{
	char why[512], ni[RWS_NAME_MAX], nj[RWS_NAME_MAX];

	for (size_t i = 0; i < n; i++) {
		if (check_entry(&c[i], why, sizeof(why))) {
			snprintf(err, errlen, "item %zu: %s", i, why);
			return -1;
		}
		rwsend_config_name(&c[i], ni, sizeof(ni));
		for (size_t j = 0; j < i; j++) {
			rwsend_config_name(&c[j], nj, sizeof(nj));
			if (strcmp(ni, nj))
				continue;
			if (set(c[i].name) || set(c[j].name))
				snprintf(err, errlen, "found multiple remote write configs with job name \"%s\"", ni);
			else
				snprintf(err, errlen, "duplicate remote write configs are not allowed, "
						      "found duplicate for URL: %s", c[i].url);
			return -1;
		}
	}
	return 0;
}

int rwsend_configs_check(const void *list, char *err, size_t errlen)
{
	const struct cfg_list *l = list;

	return rwsend_configs_validate(l->v, l->n, err, errlen);
}

/* --- schema -------------------------------------------------------------------------- */

#define F(type_, key, kind, member, check) \
	{ key, kind, offsetof(type_, member), NULL, 0, 0, check }

static const struct cfg_field basic_auth_fields[] = {
	F(struct rwsend_basic_auth, "username", CFG_STRING, username, NULL),
	F(struct rwsend_basic_auth, "password", CFG_STRING, password, NULL),
	F(struct rwsend_basic_auth, "password_file", CFG_STRING, password_file, NULL),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct cfg_field authorization_fields[] = {
	F(struct rwsend_authorization, "type", CFG_STRING, type, NULL),
	F(struct rwsend_authorization, "credentials", CFG_STRING, credentials, NULL),
	F(struct rwsend_authorization, "credentials_file", CFG_STRING, credentials_file, NULL),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct cfg_field tls_fields[] = {
	F(struct rwsend_tls_config, "ca_file", CFG_STRING, ca_file, NULL),
	F(struct rwsend_tls_config, "cert_file", CFG_STRING, cert_file, NULL),
	F(struct rwsend_tls_config, "key_file", CFG_STRING, key_file, NULL),
	F(struct rwsend_tls_config, "server_name", CFG_STRING, server_name, NULL),
	F(struct rwsend_tls_config, "insecure_skip_verify", CFG_BOOL, insecure_skip_verify, NULL),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct cfg_field queue_fields[] = {
	F(struct rwsend_queue_config, "capacity", CFG_INT, capacity, NULL),
	F(struct rwsend_queue_config, "max_shards", CFG_INT, max_shards, NULL),
	F(struct rwsend_queue_config, "min_shards", CFG_INT, min_shards, NULL),
	F(struct rwsend_queue_config, "max_samples_per_send", CFG_INT, max_samples_per_send, NULL),
	F(struct rwsend_queue_config, "batch_send_deadline", CFG_DURATION, batch_send_deadline_ms, NULL),
	F(struct rwsend_queue_config, "min_backoff", CFG_DURATION, min_backoff_ms, NULL),
	F(struct rwsend_queue_config, "max_backoff", CFG_DURATION, max_backoff_ms, NULL),
	F(struct rwsend_queue_config, "retry_on_http_429", CFG_BOOL, retry_on_http_429, NULL),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct cfg_schema basic_auth_schema = { "basic_auth", basic_auth_fields, NULL };
static const struct cfg_schema authorization_schema = { "authorization", authorization_fields, NULL };
static const struct cfg_schema tls_schema = { "tls_config", tls_fields, NULL };
static const struct cfg_schema queue_schema = { "queue_config", queue_fields, NULL };

#define OBJ(key, member, schema, check) \
	{ key, CFG_OBJECT, offsetof(struct rwsend_config, member), &schema, 0, 0, check }

static const struct cfg_field rw_fields[] = {
	F(struct rwsend_config, "url", CFG_STRING, url, check_url_field),
	F(struct rwsend_config, "name", CFG_STRING, name, NULL),
	F(struct rwsend_config, "remote_timeout", CFG_DURATION, remote_timeout_ms, check_timeout),
	F(struct rwsend_config, "headers", CFG_STRING_MAP, headers, check_headers),
	OBJ("basic_auth", basic_auth, basic_auth_schema, check_basic_auth),
	OBJ("authorization", authorization, authorization_schema, check_authorization),
	OBJ("tls_config", tls_config, tls_schema, check_tls),
	F(struct rwsend_config, "proxy_url", CFG_STRING, proxy_url, NULL),
	F(struct rwsend_config, "follow_redirects", CFG_BOOL, follow_redirects, NULL),
	F(struct rwsend_config, "enable_http2", CFG_BOOL, enable_http2, NULL),
	F(struct rwsend_config, "send_exemplars", CFG_BOOL, send_exemplars, NULL),
	RELABEL_CONFIGS_FIELD("write_relabel_configs", struct rwsend_config, write_relabel_configs),
	OBJ("queue_config", queue_config, queue_schema, check_queue),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

const struct cfg_schema rwsend_config_schema = {
	.name = "remote_write",
	.fields = rw_fields,
	.init = init_elem,
};

/* --- identity ------------------------------------------------------------------------ */

/* url and headers identify an unnamed entry: the same receiver and tenant keep the
 * same position file across edits of everything else. */
void rwsend_config_name(const struct rwsend_config *c, char *out, size_t outlen)
{
	struct label stack[32], *v = stack;
	struct labels ls;
	size_t n = c->headers.n + 1;

	if (set(c->name)) {
		snprintf(out, outlen, "%s", c->name);
		return;
	}
	if (n > sizeof(stack) / sizeof(stack[0]))
		n = sizeof(stack) / sizeof(stack[0]);
	v[0] = (struct label){ "", str(c->url) };
	for (size_t i = 1; i < n; i++)
		v[i] = (struct label){ str(c->headers.keys[i - 1]), str(c->headers.vals[i - 1]) };
	ls = (struct labels){ v, n };
	labels_sort(&ls);
	snprintf(out, outlen, "%06llx", (unsigned long long)(labels_hash(&ls) >> 40));
}
