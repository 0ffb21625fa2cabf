/*
 * The `scrape_configs:` schema: one table per YAML object, Prometheus' defaults in
 * the element init hooks, and the checks a single value can make as it loads
 * (label names, the scheme, file SD patterns, limits that upstream reads as
 * unsigned). Checks that need several fields or the global section are in
 * scrapevalidate.c.
 */
#include <stdio.h>
#include <string.h>

#include "relabel/relabel.h"
#include "scrape/mgr_internal.h"

#define DEFAULT_FILE_SD_REFRESH_MS (5 * 60 * 1000)

int sm_check_label_names(const void *p, char *err, size_t errlen)
{
	const struct cfg_strmap *m = p;
	char q[256];

	for (size_t i = 0; i < m->n; i++) {
		if (labels_valid_name(m->keys[i], strlen(m->keys[i])))
			continue;
		sm_quote(m->keys[i], q, sizeof(q));
		snprintf(err, errlen, "%s is not a valid label name", q);
		return -1;
	}
	return 0;
}

static int check_scheme(const void *p, char *err, size_t errlen)
{
	const char *s = *(char *const *)p;
	char q[256];

	if (!strcmp(s, "http") || !strcmp(s, "https"))
		return 0;
	sm_quote(s, q, sizeof(q));
	snprintf(err, errlen, "invalid scheme %s: must be \"http\" or \"https\"", q);
	return -1;
}

static int check_unsigned(const void *p, char *err, size_t errlen)
{
	int64_t v = *(const int64_t *)p;

	if (v >= 0)
		return 0;
	snprintf(err, errlen, "cannot unmarshal %lld into an unsigned integer", (long long)v);
	return -1;
}

static int check_positive(const void *p, char *err, size_t errlen)
{
	if (*(const int64_t *)p > 0)
		return 0;
	snprintf(err, errlen, "must be greater than 0");
	return -1;
}

static int check_not_empty(const void *p, char *err, size_t errlen)
{
	if (**(char *const *)p)
		return 0;
	snprintf(err, errlen, "job_name is empty");
	return -1;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !memcmp(s + n - m, suffix, m);
}

/* Upstream's ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$ : a '*' only in the
 * last path element, and a JSON or YAML extension. */
static bool valid_sd_pattern(const char *s)
{
	static const char *const ext[] = { ".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML" };
	const char *star = strchr(s, '*');
	bool ok = false;

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		ok = ok || has_suffix(s, ext[i]);
	return ok && !(star && strchr(star, '/'));
}

static int check_sd_files(const void *p, char *err, size_t errlen)
{
	const struct cfg_strlist *l = p;
	char q[512];

	for (size_t i = 0; i < l->n; i++) {
		if (valid_sd_pattern(l->v[i]))
			continue;
		sm_quote(l->v[i], q, sizeof(q));
		snprintf(err, errlen, "path name %s is not valid for file discovery", q);
		return -1;
	}
	return 0;
}

#define F(st, k, t, member, ...) \
	{ .key = (k), .type = (t), .offset = offsetof(struct st, member), __VA_ARGS__ }

static const struct cfg_field static_fields[] = {
	F(scrape_static_config, "targets", CFG_STRING_LIST, targets),
	F(scrape_static_config, "labels", CFG_STRING_MAP, labels, .check = sm_check_label_names),
	{ 0 },
};
static const struct cfg_schema static_schema = { "static_config", static_fields, NULL };

static void file_sd_init(void *p)
{
	struct scrape_file_sd_config *c = p;

	memset(c, 0, sizeof(*c));
	c->refresh_interval_ms = DEFAULT_FILE_SD_REFRESH_MS;
}

static const struct cfg_field file_sd_fields[] = {
	F(scrape_file_sd_config, "files", CFG_STRING_LIST, files, .check = check_sd_files),
	F(scrape_file_sd_config, "refresh_interval", CFG_DURATION, refresh_interval_ms,
	  .check = check_positive),
	CFG_POS_FIELD(struct scrape_file_sd_config, pos),
	{ 0 },
};
static const struct cfg_schema file_sd_schema = { "file_sd_config", file_sd_fields, file_sd_init };

static const struct cfg_field basic_auth_fields[] = {
	F(scrape_basic_auth, "username", CFG_STRING, username),
	F(scrape_basic_auth, "password", CFG_STRING, password, .flags = CFG_SECRET),
	F(scrape_basic_auth, "password_file", CFG_STRING, password_file),
	CFG_POS_FIELD(struct scrape_basic_auth, pos),
	{ 0 },
};
static const struct cfg_schema basic_auth_schema = { "basic_auth", basic_auth_fields, NULL };

static const struct cfg_field authorization_fields[] = {
	F(scrape_authorization, "type", CFG_STRING, type),
	F(scrape_authorization, "credentials", CFG_STRING, credentials, .flags = CFG_SECRET),
	F(scrape_authorization, "credentials_file", CFG_STRING, credentials_file),
	CFG_POS_FIELD(struct scrape_authorization, pos),
	{ 0 },
};
static const struct cfg_schema authorization_schema = { "authorization", authorization_fields,
							 NULL };

static const struct cfg_field tls_fields[] = {
	F(scrape_tls_config, "ca_file", CFG_STRING, ca_file),
	F(scrape_tls_config, "cert_file", CFG_STRING, cert_file),
	F(scrape_tls_config, "key_file", CFG_STRING, key_file),
	F(scrape_tls_config, "server_name", CFG_STRING, server_name),
	F(scrape_tls_config, "insecure_skip_verify", CFG_BOOL, insecure_skip_verify),
	{ 0 },
};
static const struct cfg_schema tls_schema = { "tls_config", tls_fields, NULL };

static void scrape_config_init(void *p)
{
	struct scrape_config *c = p;

	memset(c, 0, sizeof(*c));
	c->metrics_path = "/metrics";
	c->scheme = "http";
	c->honor_timestamps = true;
	c->follow_redirects = true;
	c->enable_compression = true;
}

#define LIMIT(k, member) \
	F(scrape_config, k, CFG_INT, member, .check = check_unsigned)

static const struct cfg_field scrape_fields[] = {
	F(scrape_config, "job_name", CFG_STRING, job_name, .flags = CFG_REQUIRED,
	  .check = check_not_empty),
	F(scrape_config, "scrape_interval", CFG_DURATION, scrape_interval_ms),
	F(scrape_config, "scrape_timeout", CFG_DURATION, scrape_timeout_ms),
	F(scrape_config, "metrics_path", CFG_STRING, metrics_path),
	F(scrape_config, "scheme", CFG_STRING, scheme, .check = check_scheme),
	F(scrape_config, "params", CFG_STRLIST_MAP, params),
	F(scrape_config, "honor_labels", CFG_BOOL, honor_labels),
	F(scrape_config, "honor_timestamps", CFG_BOOL, honor_timestamps),
	F(scrape_config, "follow_redirects", CFG_BOOL, follow_redirects),
	F(scrape_config, "enable_compression", CFG_BOOL, enable_compression),
	F(scrape_config, "static_configs", CFG_LIST, static_configs, .sub = &static_schema,
	  .elem_size = sizeof(struct scrape_static_config)),
	F(scrape_config, "file_sd_configs", CFG_LIST, file_sd_configs, .sub = &file_sd_schema,
	  .elem_size = sizeof(struct scrape_file_sd_config)),
	F(scrape_config, "basic_auth", CFG_OBJECT, basic_auth, .sub = &basic_auth_schema),
	F(scrape_config, "authorization", CFG_OBJECT, authorization, .sub = &authorization_schema),
	F(scrape_config, "tls_config", CFG_OBJECT, tls_config, .sub = &tls_schema),
	RELABEL_CONFIGS_FIELD("relabel_configs", struct scrape_config, relabel_configs),
	RELABEL_CONFIGS_FIELD("metric_relabel_configs", struct scrape_config,
			      metric_relabel_configs),
	LIMIT("sample_limit", sample_limit),
	LIMIT("label_limit", label_limit),
	LIMIT("label_name_length_limit", label_name_length_limit),
	LIMIT("label_value_length_limit", label_value_length_limit),
	F(scrape_config, "body_size_limit", CFG_BYTES, body_size_limit),
	CFG_POS_FIELD(struct scrape_config, pos),
	{ 0 },
};

const struct cfg_schema scrape_config_schema = {
	.name = "scrape_config",
	.fields = scrape_fields,
	.init = scrape_config_init,
};
