/*
 * Checks of scrape_configs that need more than one value: the HTTP client rules
 * of Prometheus' common config, the per-job interval and timeout resolved against
 * the global ones, targets written as URLs, and unique job names. They run in
 * upstream's order (each job's own rules, then its timeout, then the duplicate
 * check) and report at the object's recorded position with upstream's words.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scrape/mgr_internal.h"

static bool set(const char *s)
{
	return s && *s;
}

static int quote_err(const struct cfg_pos *pos, char *err, size_t errlen, const char *fmt,
		     const char *s)
{
	char q[512];

	sm_quote(s, q, sizeof(q));
	return cfg_pos_error(pos, err, errlen, fmt, q);
}

/* Trim spaces as strings.TrimSpace does for the ASCII ones. */
static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
		s++;
	n = strlen(s);
	while (n && strchr(" \t\n\r\v\f", s[n - 1]))
		n--;
	/* A value from the config arena: shortening it in place is ours to do. */
	s[n] = '\0';
	return s;
}

static int check_auth(struct scrape_config *c, char *err, size_t errlen)
{
	struct scrape_basic_auth *b = &c->basic_auth;
	struct scrape_authorization *a = &c->authorization;

	if (b->pos.line && set(b->password) && set(b->password_file))
		return cfg_pos_error(&b->pos, err, errlen,
				     "at most one of basic_auth password & password_file must be configured");
	if (!a->pos.line)
		return 0;
	if (set(a->credentials) && set(a->credentials_file))
		return cfg_pos_error(&a->pos, err, errlen,
				     "at most one of authorization credentials & credentials_file must be configured");
	a->type = a->type ? trim(a->type) : NULL;
	if (!set(a->type))
		a->type = "Bearer";
	if (!strcasecmp(a->type, "basic"))
		return cfg_pos_error(&a->pos, err, errlen,
				     "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
	if (b->pos.line)
		return cfg_pos_error(&a->pos, err, errlen,
				     "at most one of basic_auth, oauth2 & authorization must be configured");
	return 0;
}

static int check_tls(const struct scrape_config *c, char *err, size_t errlen)
{
	const struct scrape_tls_config *t = &c->tls_config;

	if (set(t->cert_file) && !set(t->key_file))
		return cfg_pos_error(&c->pos, err, errlen,
				     "exactly one of key or key_file must be configured when a client certificate is configured");
	if (set(t->key_file) && !set(t->cert_file))
		return cfg_pos_error(&c->pos, err, errlen,
				     "exactly one of cert or cert_file must be configured when a client key is configured");
	return 0;
}

/* Without relabeling nothing can turn a URL into an address, so upstream refuses
 * one written as a target (checkStaticTargets). */
static int check_static_targets(const struct scrape_config *c, char *err, size_t errlen)
{
	const struct scrape_static_config *sc = c->static_configs.v;

	if (c->relabel_configs.n)
		return 0;
	for (size_t i = 0; i < c->static_configs.n; i++)
		for (size_t j = 0; j < sc[i].targets.n; j++)
			if (strchr(sc[i].targets.v[j], '/'))
				return quote_err(&c->pos, err, errlen, "%s is not a valid hostname",
						 sc[i].targets.v[j]);
	return 0;
}

static int check_file_sd(const struct scrape_config *c, char *err, size_t errlen)
{
	const struct scrape_file_sd_config *f = c->file_sd_configs.v;

	for (size_t i = 0; i < c->file_sd_configs.n; i++)
		if (!f[i].files.n)
			return cfg_pos_error(f[i].pos.line ? &f[i].pos : &c->pos, err, errlen,
					     "file service discovery config must contain at least one path name");
	return 0;
}

static int resolve_times(struct scrape_config *c, int64_t g_interval, int64_t g_timeout,
			 char *err, size_t errlen)
{
	if (!c->scrape_interval_ms)
		c->scrape_interval_ms = g_interval;
	if (c->scrape_timeout_ms > c->scrape_interval_ms)
		return quote_err(&c->pos, err, errlen,
				 "scrape timeout greater than scrape interval for scrape config with job name %s",
				 c->job_name);
	if (!c->scrape_timeout_ms)
		c->scrape_timeout_ms = g_timeout < c->scrape_interval_ms ? g_timeout :
									   c->scrape_interval_ms;
	return 0;
}

int scrape_configs_validate(struct cfg_list *l, int64_t g_interval, int64_t g_timeout,
			    char *err, size_t errlen)
{
	struct scrape_config *c = l->v;

	for (size_t i = 0; i < l->n; i++) {
		if (check_auth(&c[i], err, errlen) || check_tls(&c[i], err, errlen) ||
		    check_static_targets(&c[i], err, errlen) || check_file_sd(&c[i], err, errlen) ||
		    resolve_times(&c[i], g_interval, g_timeout, err, errlen))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c[j].job_name, c[i].job_name))
				return quote_err(&c[i].pos, err, errlen,
						 "found multiple scrape configs with job name %s",
						 c[i].job_name);
	}
	return 0;
}
