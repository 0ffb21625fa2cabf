/*
 * From a discovered target to what a scrape loop needs, as Prometheus 2's
 * PopulateLabels and Target.URL do: the scrape labels are added where discovery
 * did not set them, relabel_configs run, then the address gets its scheme's
 * default port, the interval and timeout labels are checked, __meta_ labels go,
 * instance defaults to the address. The URL is built from the __ labels with Go's
 * escaping (path as url.URL.EscapedPath, query as url.Values.Encode, keys sorted).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "scrape/mgr_internal.h"

#define PARAM_PREFIX "__param_"
#define META_PREFIX "__meta_"

/* Go's net.SplitHostPort succeeds on s. */
static bool has_port(const char *s)
{
	const char *colon = strrchr(s, ':');

	if (!colon)
		return false;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		return end && end + 1 == colon && !strchr(end + 1, '[') && !strchr(end + 1, ']');
	}
	for (const char *p = s; p < colon; p++)
		if (*p == ':' || *p == '[' || *p == ']')
			return false;
	return !strchr(colon, '[') && !strchr(colon, ']');
}

/* Upstream adds a port when the address has none and adding one makes it valid. */
static bool needs_port(struct arena *a, const char *addr)
{
	const char *with;

	if (has_port(addr))
		return false;
	with = arena_sprintf(a, "%s:1234", addr);
	return with && has_port(with);
}

static int add_port(struct sm_lb *b, const char **addr, char *err, size_t errlen)
{
	const char *scheme = sm_lb_get(b, "__scheme__"), *port;
	char *with;
	char q[256];

	if (!needs_port(b->a, *addr))
		return 0;
	if (!*scheme || !strcmp(scheme, "http")) {
		port = "80";
	} else if (!strcmp(scheme, "https")) {
		port = "443";
	} else {
		sm_quote(scheme, q, sizeof(q));
		snprintf(err, errlen, "invalid scheme: %s", q);
		return -1;
	}
	with = arena_sprintf(b->a, "%s:%s", *addr, port);
	if (!with || sm_lb_set(b, "__address__", with))
		return snprintf(err, errlen, "out of memory"), -1;
	*addr = with;
	return 0;
}

/* The interval or timeout label as milliseconds, with upstream's messages. */
static int duration_label(const struct sm_lb *b, const char *name, const char *what,
			  int64_t *ms, char *err, size_t errlen)
{
	const char *v = sm_lb_get(b, name);
	char q[256];

	if (cfg_parse_duration(v, ms)) {
		sm_quote(v, q, sizeof(q));
		snprintf(err, errlen, "error parsing scrape %s: not a valid duration string: %s", what, q);
		return -1;
	}
	if (*ms == 0) {
		snprintf(err, errlen, "scrape %s cannot be 0", what);
		return -1;
	}
	return 0;
}

static int check_times(struct sm_lb *b, struct sm_tspec *out, char *err, size_t errlen)
{
	char qi[256], qt[256];

	if (duration_label(b, "__scrape_interval__", "interval", &out->interval_ms, err, errlen) ||
	    duration_label(b, "__scrape_timeout__", "timeout", &out->timeout_ms, err, errlen))
		return -1;
	if (out->timeout_ms <= out->interval_ms)
		return 0;
	sm_quote(sm_lb_get(b, "__scrape_timeout__"), qt, sizeof(qt));
	sm_quote(sm_lb_get(b, "__scrape_interval__"), qi, sizeof(qi));
	snprintf(err, errlen, "scrape timeout cannot be greater than scrape interval (%s > %s)", qt, qi);
	return -1;
}

/* Discovery's labels (the target's win over its group's), then the job's
 * defaults where still unset, then the params. */
static int discovered(const struct scrape_config *c, const struct sm_tgroup *g, size_t i,
		      struct sm_lb *b)
{
	char iv[32], to[32];
	const struct labels *tl = &g->targets[i];
	const char *const defaults[][2] = {
		{ "job", c->job_name }, { "__scrape_interval__", iv },
		{ "__scrape_timeout__", to }, { "__metrics_path__", c->metrics_path },
		{ "__scheme__", c->scheme },
	};

	cfg_format_duration(c->scrape_interval_ms, iv, sizeof(iv));
	cfg_format_duration(c->scrape_timeout_ms, to, sizeof(to));
	for (size_t j = 0; j < tl->n; j++)
		if (sm_lb_set(b, tl->v[j].name, tl->v[j].value))
			return -1;
	for (size_t j = 0; j < g->labels.n; j++)
		if (!*sm_lb_get(b, g->labels.v[j].name) &&
		    sm_lb_set(b, g->labels.v[j].name, g->labels.v[j].value))
			return -1;
	for (size_t j = 0; j < sizeof(defaults) / sizeof(defaults[0]); j++) {
		const char *v;

		if (*sm_lb_get(b, defaults[j][0]))
			continue;
		v = arena_strdup(b->a, defaults[j][1] ? defaults[j][1] : "");
		if (!v || sm_lb_set(b, defaults[j][0], v))
			return -1;
	}
	for (size_t j = 0; j < c->params.n; j++) {
		const char *name;

		if (!c->params.vals[j].n)
			continue;
		name = arena_sprintf(b->a, PARAM_PREFIX "%s", c->params.keys[j]);
		if (!name || sm_lb_set(b, name, c->params.vals[j].v[0]))
			return -1;
	}
	return 0;
}

static int copy_labels(struct arena *a, struct labels ls, struct labels *out)
{
	return labels_copy(a, &ls, out);
}

/* After relabeling: address, port, times, meta labels, instance, values. */
static int finish(struct sm_lb *b, struct sm_tspec *out, char *err, size_t errlen)
{
	const char *addr = sm_lb_get(b, "__address__");
	char q[256], qv[512];

	if (!*addr)
		return snprintf(err, errlen, "no address"), -1;
	if (add_port(b, &addr, err, errlen))
		return -1;
	if (strchr(addr, '/')) {
		sm_quote(addr, q, sizeof(q));
		return snprintf(err, errlen, "%s is not a valid hostname", q), -1;
	}
	if (check_times(b, out, err, errlen))
		return -1;
	for (size_t j = b->n; j-- > 0;)
		if (!strncmp(b->v[j].name, META_PREFIX, strlen(META_PREFIX)))
			sm_lb_del(b, b->v[j].name);
	if (!*sm_lb_get(b, "instance") && sm_lb_set(b, "instance", addr))
		return snprintf(err, errlen, "out of memory"), -1;
	for (size_t j = 0; j < b->n; j++) {
		if (labels_valid_utf8(b->v[j].value, strlen(b->v[j].value)))
			continue;
		sm_quote(b->v[j].name, q, sizeof(q));
		sm_quote(b->v[j].value, qv, sizeof(qv));
		return snprintf(err, errlen, "invalid label value for %s: %s", q, qv), -1;
	}
	return 0;
}

/* --- URL ------------------------------------------------------------------------ */

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* url.QueryEscape (path = false) or the path part of url.URL.String (true). */
static void escape(struct buf *out, const char *s, bool path)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (unreserved(c) || (path && strchr("$&+,/:;=@", c)))
			buf_putc(out, (char)c);
		else if (c == ' ' && !path)
			buf_putc(out, '+');
		else
			buf_printf(out, "%%%02X", c);
	}
}

struct param {
	const char *key, *value;
	size_t order; /* keeps a key's values in their configured order */
};

static int by_key(const void *pa, const void *pb)
{
	const struct param *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	return c ? c : (a->order > b->order) - (a->order < b->order);
}

/* The job's params, the first value of each replaced (or added) by __param_ labels. */
static struct param *collect_params(const struct scrape_config *c, const struct labels *all,
				    struct arena *a, size_t *n)
{
	size_t cap = all->n + 1, k = 0;
	struct param *p;

	for (size_t i = 0; i < c->params.n; i++)
		cap += c->params.vals[i].n;
	p = arena_calloc(a, cap, sizeof(*p));
	if (!p)
		return NULL;
	for (size_t i = 0; i < c->params.n; i++)
		for (size_t j = 0; j < c->params.vals[i].n; j++, k++)
			p[k] = (struct param){ c->params.keys[i], c->params.vals[i].v[j], k };
	for (size_t i = 0; i < all->n; i++) {
		const char *name = all->v[i].name + strlen(PARAM_PREFIX);
		size_t j;

		if (strncmp(all->v[i].name, PARAM_PREFIX, strlen(PARAM_PREFIX)))
			continue;
		for (j = 0; j < k && strcmp(p[j].key, name); j++)
			;
		if (j < k)
			p[j].value = all->v[i].value;
		else
			p[k++] = (struct param){ name, all->v[i].value, k };
	}
	qsort(p, k, sizeof(*p), by_key);
	*n = k;
	return p;
}

static const char *build_url(const struct scrape_config *c, const struct labels *all,
			     struct arena *a)
{
	const char *path = labels_get(all, "__metrics_path__");
	const char *scheme = labels_get(all, "__scheme__");
	struct buf b = { 0 };
	struct param *p;
	const char *url;
	size_t n = 0;

	p = collect_params(c, all, a, &n);
	if (!p)
		return NULL;
	buf_printf(&b, "%s://%s", scheme ? scheme : "", labels_get(all, "__address__"));
	if (path && *path && path[0] != '/')
		buf_putc(&b, '/');
	escape(&b, path ? path : "", true);
	for (size_t i = 0; i < n; i++) {
		buf_putc(&b, i ? '&' : '?');
		escape(&b, p[i].key, false);
		buf_putc(&b, '=');
		escape(&b, p[i].value, false);
	}
	url = b.oom ? NULL : arena_strndup(a, b.data ? b.data : "", b.len);
	buf_free(&b);
	return url;
}

static void public_labels(const struct labels *all, struct arena *a, struct labels *pub)
{
	pub->n = 0;
	pub->v = arena_calloc(a, all->n + 1, sizeof(*pub->v));
	if (!pub->v)
		return;
	for (size_t i = 0; i < all->n; i++)
		if (strncmp(all->v[i].name, "__", 2))
			pub->v[pub->n++] = all->v[i];
}

/* Discovery labels, five scrape labels, the params. */
#define SCRAPE_LABELS 5

int sm_target_populate(const struct scrape_config *c, const struct sm_tgroup *g, size_t i,
		       struct arena *a, struct sm_tspec *out, char *err, size_t errlen)
{
	struct sm_lb b;
	struct labels pre, res;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sm_lb_init(&b, a, g->targets[i].n + g->labels.n + SCRAPE_LABELS + c->params.n, NULL) ||
	    discovered(c, g, i, &b) || copy_labels(a, sm_lb_labels(&b), &out->discovered))
		goto oom;
	pre = out->discovered;
	rc = relabel_process(c->relabel_configs.v, c->relabel_configs.n, &pre, a, &res);
	if (rc < 0)
		goto oom;
	if (rc == RELABEL_DROPPED)
		return SM_TARGET_DROPPED;
	/* Relabeling's result, with room for the port and the instance label. */
	if (sm_lb_init(&b, a, 2, &res))
		goto oom;
	if (finish(&b, out, err, errlen))
		return -1;
	if (copy_labels(a, sm_lb_labels(&b), &out->all))
		goto oom;
	public_labels(&out->all, a, &out->pub);
	out->url = build_url(c, &out->all, a);
	if (!out->pub.v || !out->url)
		goto oom;
	out->hash = XXH3_64bits_withSeed(out->url, strlen(out->url), labels_hash(&out->all));
	out->ident = labels_hash(&out->pub);
	return SM_TARGET_ACTIVE;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}
