/*
 * A queue's private copy of its remote_write entry. The daemon's config lives in an
 * arena that a reload frees, so a running queue keeps its own: strings copied,
 * relative file paths resolved against the config file's directory (as Prometheus'
 * SetDirectory does), relabel rules compiled. The fingerprint serialises every field
 * (length-prefixed, so no value can imitate a separator) plus the external labels; a
 * reload keeps a queue exactly when its fingerprint is unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynload/dynload.h"

#include "rwsend/internal.h"

static int dup_str(struct arena *a, char **s)
{
	if (!*s)
		return 0;
	*s = arena_strdup(a, *s);
	return *s ? 0 : -1;
}

static int dup_path(struct arena *a, const char *dir, char **s)
{
	if (!*s || !**s || **s == '/' || !dir || !*dir)
		return dup_str(a, s);
	*s = arena_sprintf(a, "%s/%s", dir, *s);
	return *s ? 0 : -1;
}

static int dup_strs(struct arena *a, char ***v, size_t n)
{
	char **nv;

	if (!n)
		return 0;
	nv = arena_alloc(a, n * sizeof(*nv));
	if (!nv)
		return -1;
	for (size_t i = 0; i < n; i++) {
		nv[i] = (*v)[i];
		if (dup_str(a, &nv[i]))
			return -1;
	}
	*v = nv;
	return 0;
}

static int copy_rules(struct arena *a, struct cfg_list *l)
{
	struct relabel_config *src = l->v, *dst;

	if (!l->n)
		return 0;
	dst = arena_alloc(a, l->n * sizeof(*dst));
	if (!dst)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		dst[i] = src[i];
		dst[i].re = NULL;
		if (dup_strs(a, &dst[i].source_labels.v, dst[i].source_labels.n) ||
		    dup_str(a, &dst[i].separator) || dup_str(a, &dst[i].regex) ||
		    dup_str(a, &dst[i].target_label) || dup_str(a, &dst[i].replacement) ||
		    dup_str(a, &dst[i].action))
			return -1;
	}
	l->v = dst;
	return 0;
}

static int copy_config(struct arena *a, const char *dir, struct rwsend_config *c)
{
	return dup_str(a, &c->url) || dup_str(a, &c->name) ||
	       dup_strs(a, &c->headers.keys, c->headers.n) ||
	       dup_strs(a, &c->headers.vals, c->headers.n) ||
	       dup_str(a, &c->basic_auth.username) || dup_str(a, &c->basic_auth.password) ||
	       dup_path(a, dir, &c->basic_auth.password_file) ||
	       dup_str(a, &c->authorization.type) || dup_str(a, &c->authorization.credentials) ||
	       dup_path(a, dir, &c->authorization.credentials_file) ||
	       dup_path(a, dir, &c->tls_config.ca_file) || dup_path(a, dir, &c->tls_config.cert_file) ||
	       dup_path(a, dir, &c->tls_config.key_file) || dup_str(a, &c->tls_config.server_name) ||
	       dup_str(a, &c->proxy_url) || copy_rules(a, &c->write_relabel_configs)
		       ? -1 : 0;
}

static int copy_ext(struct arena *a, const struct labels *src, struct labels *dst)
{
	dst->v = NULL;
	dst->n = 0;
	if (!src || !src->n)
		return 0;
	if (labels_copy(a, src, dst))
		return -1;
	labels_sort(dst);
	return 0;
}

/* The url without user:password, for the url label and logs; as configured when it
 * has none (curl would normalise it, and dashboards match the configured string).
 * The config was validated, which bound libcurl (dynload), so only OOM is left. */
static char *redact(struct arena *a, const char *url)
{
	const struct dynload_curl *cu;
	char *user = NULL, *out = NULL, *r = NULL;
	char unused[8];
	CURLU *u;

	if (dynload_curl(&cu, unused, sizeof(unused)) < 0)
		return NULL;
	u = cu->url();
	if (u && !cu->url_set(u, CURLUPART_URL, url, 0) &&
	    cu->url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER)
		r = arena_strdup(a, url);
	else if (u && !cu->url_set(u, CURLUPART_USER, NULL, 0) &&
		 !cu->url_set(u, CURLUPART_PASSWORD, NULL, 0) &&
		 !cu->url_get(u, CURLUPART_URL, &out, 0))
		r = arena_strdup(a, out);
	cu->free(user);
	cu->free(out);
	cu->url_cleanup(u);
	return r;
}

static void fp_str(struct buf *b, const char *s)
{
	buf_printf(b, "%zu:%s|", s ? strlen(s) : (size_t)0, s ? s : "");
}

static void fp_int(struct buf *b, int64_t v)
{
	buf_printf(b, "%lld|", (long long)v);
}

static void fp_rules(struct buf *b, const struct cfg_list *l)
{
	const struct relabel_config *r = l->v;

	fp_int(b, (int64_t)l->n);
	for (size_t i = 0; i < l->n; i++) {
		fp_int(b, (int64_t)r[i].source_labels.n);
		for (size_t j = 0; j < r[i].source_labels.n; j++)
			fp_str(b, r[i].source_labels.v[j]);
		fp_str(b, r[i].separator);
		fp_str(b, r[i].regex);
		fp_int(b, r[i].modulus);
		fp_str(b, r[i].target_label);
		fp_str(b, r[i].replacement);
		fp_str(b, r[i].action);
	}
}

static void fingerprint(struct rws_conf *rc)
{
	const struct rwsend_config *c = &rc->c;
	const struct rwsend_queue_config *q = &c->queue_config;
	struct buf *b = &rc->fingerprint;

	fp_str(b, rc->name);
	fp_str(b, c->url);
	fp_int(b, c->remote_timeout_ms);
	fp_int(b, (int64_t)c->headers.n);
	for (size_t i = 0; i < c->headers.n; i++) {
		fp_str(b, c->headers.keys[i]);
		fp_str(b, c->headers.vals[i]);
	}
	fp_str(b, c->basic_auth.username);
	fp_str(b, c->basic_auth.password);
	fp_str(b, c->basic_auth.password_file);
	fp_str(b, c->authorization.type);
	fp_str(b, c->authorization.credentials);
	fp_str(b, c->authorization.credentials_file);
	fp_str(b, c->tls_config.ca_file);
	fp_str(b, c->tls_config.cert_file);
	fp_str(b, c->tls_config.key_file);
	fp_str(b, c->tls_config.server_name);
	fp_int(b, c->tls_config.insecure_skip_verify);
	fp_str(b, c->proxy_url);
	fp_int(b, c->follow_redirects);
	fp_int(b, c->enable_http2);
	fp_int(b, c->send_exemplars);
	fp_rules(b, &c->write_relabel_configs);
	fp_int(b, q->capacity);
	fp_int(b, q->max_shards);
	fp_int(b, q->min_shards);
	fp_int(b, q->max_samples_per_send);
	fp_int(b, q->batch_send_deadline_ms);
	fp_int(b, q->min_backoff_ms);
	fp_int(b, q->max_backoff_ms);
	fp_int(b, q->retry_on_http_429);
	fp_int(b, (int64_t)rc->ext.n);
	for (size_t i = 0; i < rc->ext.n; i++) {
		fp_str(b, rc->ext.v[i].name);
		fp_str(b, rc->ext.v[i].value);
	}
}

int rws_conf_new(const struct rwsend_config *src, const char *config_dir,
		 const struct labels *ext, struct rws_conf **out, char *err, size_t errlen)
{
	struct rws_conf *rc = calloc(1, sizeof(*rc));

	*out = NULL;
	if (!rc || !(rc->arena = arena_new(0)))
		goto oom;
	rc->c = *src;
	rwsend_config_name(src, rc->name, sizeof(rc->name));
	if (copy_config(rc->arena, config_dir, &rc->c) || copy_ext(rc->arena, ext, &rc->ext) ||
	    !(rc->url_label = redact(rc->arena, rc->c.url)))
		goto oom;
	if (relabel_configs_compile(rc->c.write_relabel_configs.v, rc->c.write_relabel_configs.n,
				    err, errlen))
		goto fail;
	rc->compiled = true;
	fingerprint(rc);
	if (rc->fingerprint.oom)
		goto oom;
	*out = rc;
	return 0;
oom:
	snprintf(err, errlen, "remote_write: out of memory");
fail:
	rws_conf_free(rc);
	return -1;
}

void rws_conf_free(struct rws_conf *c)
{
	if (!c)
		return;
	if (c->compiled)
		relabel_configs_release(c->c.write_relabel_configs.v, c->c.write_relabel_configs.n);
	buf_free(&c->fingerprint);
	arena_free(c->arena);
	free(c);
}
