/*
 * Scrape wiring. A scrape's samples (and their exemplars) are collected in a
 * transaction and appended with one tsdb_db_append() at commit, so a scrape is
 * logged to the WAL as one batch and costs one group-commit wait, not one per sample.
 *
 * The targets and metadata endpoints answer from the scrape manager, as Prometheus
 * answers them from its scrape caches, not from storage. Their parameters are
 * checked here with Prometheus' messages; match_target is a series selector whose
 * matchers apply to each target's labels (a label the target lacks is "").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "metrics_config.h"
#include "promapi/promapi.h"
#include "promql/promql.h"
#include "runtime/runtime.h"
#include "scrape/scrape.h"
#include "storage.h"
#include "tsdb/db.h"
#include "tsdb/tsdb.h"

#include "scraping.h"

static struct scrape_manager *g_mgr;

/* One scrape: series with one sample each (a scrape has one timestamp per series). */
struct txn {
	struct arena *a;
	struct tsdb_db_series *series;
	size_t n, cap;
};

static void *txn_begin(void *ctx)
{
	struct txn *t = calloc(1, sizeof(*t));

	if (!t || !(t->a = arena_new(64 * 1024))) {
		free(t);
		return NULL;
	}
	return t;
}

static int txn_add(void *p, uint64_t *ref, const struct labels *ls, int64_t t_ms, double v)
{
	struct txn *t = p;
	struct labels *copy;
	struct tsdb_sample *s;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct tsdb_db_series *ns = arena_alloc(t->a, cap * sizeof(*ns));
		if (!ns)
			return -1;
		if (t->n)
			memcpy(ns, t->series, t->n * sizeof(*ns));
		t->series = ns;
		t->cap = cap;
	}
	copy = arena_alloc(t->a, sizeof(*copy));
	s = arena_alloc(t->a, sizeof(*s));
	if (!copy || !s || labels_copy(t->a, ls, copy) < 0)
		return -1;
	*s = (struct tsdb_sample){ t_ms, v };
	t->series[t->n++] = (struct tsdb_db_series){ .labels = copy, .samples = s, .n = 1 };
	return 0;
}

/* The exemplar of the sample txn_add() took last (scrape.h's contract). */
static int txn_add_exemplar(void *p, uint64_t *ref, const struct labels *ls,
			    const struct scrape_exemplar *e)
{
	struct txn *t = p;
	struct tsdb_db_series *s = t->n ? &t->series[t->n - 1] : NULL;
	struct tsdb_exemplar *x;

	if (!s || !labels_equal(s->labels, ls))
		return -1;
	x = arena_alloc(t->a, sizeof(*x));
	if (!x || labels_copy(t->a, &e->labels, &x->labels) < 0)
		return -1;
	x->t = e->ts_ms;
	x->v = e->value;
	s->exemplars = x;
	s->nexemplars = 1;
	return 0;
}

static void txn_free(struct txn *t)
{
	arena_free(t->a);
	free(t);
}

static int txn_commit(void *p, struct scrape_append_result *res)
{
	struct txn *t = p;
	struct tsdb_db_result r;
	char err[256];
	int rc = tsdb_db_append(storage_db(), t->series, t->n, t->a, &r, err, sizeof(err));

	if (rc == 0) {
		res->out_of_order = r.out_of_order;
		res->duplicate = r.duplicate;
		res->out_of_bounds = r.out_of_bounds + r.too_old;
		res->exemplar_out_of_order = r.exemplars_out_of_order;
		buf_free(&r.errors);
	}
	txn_free(t);
	return rc;
}

static void txn_rollback(void *p)
{
	txn_free(p);
}

static const struct scrape_appendable appendable = {
	.begin = txn_begin, .add = txn_add, .commit = txn_commit, .rollback = txn_rollback,
	.add_exemplar = txn_add_exemplar,
};

/* A success envelope around what `write` makes of q. */
static void reply_json(struct http_req *req, int (*write)(struct jw *w, const void *q),
		       const void *q)
{
	struct buf b = { 0 };
	struct jw w;

	promapi_begin(&w, &b);
	if (write(&w, q) < 0)
		w.err = true;
	promapi_reply(req, &w, &b, NULL, 0);
}

struct targets_query {
	const char *state, *pool;
};

static int write_targets(struct jw *w, const void *arg)
{
	const struct targets_query *q = arg;

	return scrape_manager_targets_json(g_mgr, w, q->state, q->pool);
}

static void handle_targets(struct http_req *req, void *ctx)
{
	const char *state = http_req_arg(req, "state");
	const struct targets_query q = { state && *state ? state : "any",
					 http_req_arg(req, "scrapePool") };

	reply_json(req, write_targets, &q);
}

/* An integer parameter as Go's strconv.Atoi reads it; 0, or -1 after replying 400. */
static int int_param(struct http_req *req, const char *name, long *out)
{
	const char *s = http_req_arg(req, name);
	const char *digits = s && (*s == '+' || *s == '-') ? s + 1 : s;
	char *end;
	long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*digits < '0' || *digits > '9' || *end || errno) {
		http_reply_prom_error(req, 400, "bad_data", "%s must be a number", name);
		return -1;
	}
	*out = v;
	return 0;
}

static int write_metadata(struct jw *w, const void *q)
{
	return scrape_manager_metadata_json(g_mgr, w, q);
}

static void handle_metadata(struct http_req *req, void *ctx)
{
	struct scrape_metadata_query q = { .metric = http_req_arg(req, "metric"), .limit = -1,
					   .limit_per_metric = -1 };

	if (int_param(req, "limit", &q.limit) ||
	    int_param(req, "limit_per_metric", &q.limit_per_metric))
		return;
	reply_json(req, write_metadata, &q);
}

struct target_filter {
	struct tsdb_matcher *ms;
	size_t n;
};

static bool match_target(void *arg, const struct labels *target)
{
	const struct target_filter *f = arg;

	for (size_t i = 0; i < f->n; i++) {
		const char *v = labels_get(target, f->ms[i].name);

		if (!tsdb_matcher_matches(&f->ms[i], v ? v : ""))
			return false;
	}
	return true;
}

static void filter_free(struct target_filter *f)
{
	for (size_t i = 0; i < f->n; i++)
		tsdb_matcher_free(&f->ms[i]);
}

static int filter_init(struct arena *a, const char *selector, struct target_filter *f, char *err,
		       size_t errlen)
{
	static const enum tsdb_match_type types[] = {
		[PROMQL_MATCH_EQ] = TSDB_MATCH_EQ, [PROMQL_MATCH_NEQ] = TSDB_MATCH_NEQ,
		[PROMQL_MATCH_RE] = TSDB_MATCH_RE, [PROMQL_MATCH_NRE] = TSDB_MATCH_NRE,
	};
	struct promql_parse_error perr;
	struct promql_node *vs;

	if (promql_parse_selector(a, selector, &vs, &perr, err, errlen) < 0)
		return -1;
	f->ms = arena_calloc(a, vs->vs.nmatchers + 1, sizeof(*f->ms));
	if (!f->ms) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (; f->n < vs->vs.nmatchers; f->n++) {
		const struct promql_matcher *m = &vs->vs.matchers[f->n];

		if (tsdb_matcher_init(&f->ms[f->n], types[m->type], m->name.s, m->value.s, err,
				      errlen) < 0)
			return -1;
	}
	return 0;
}

static int write_target_metadata(struct jw *w, const void *q)
{
	return scrape_manager_target_metadata_json(g_mgr, w, q);
}

static void handle_target_metadata(struct http_req *req, void *ctx)
{
	const char *selector = http_req_arg(req, "match_target");
	struct scrape_target_metadata_query q = { .metric = http_req_arg(req, "metric"),
						  .limit = -1 };
	struct target_filter f = { 0 };
	char err[1200];

	if (int_param(req, "limit", &q.limit))
		return;
	if (selector && *selector) {
		if (filter_init(http_req_arena(req), selector, &f, err, sizeof(err)) < 0) {
			filter_free(&f);
			http_reply_prom_error(req, 400, "bad_data",
					      "invalid parameter \"match_target\": %s", err);
			return;
		}
		q.match = match_target;
		q.match_arg = &f;
	}
	reply_json(req, write_target_metadata, &q);
	filter_free(&f);
}

static int add_routes(struct http_server *s, char *err, size_t errlen)
{
	static const struct {
		const char *path;
		http_handler_fn fn;
	} routes[] = {
		{ "/api/v1/targets", handle_targets },
		{ "/api/v1/targets/metadata", handle_target_metadata },
		{ "/api/v1/metadata", handle_metadata },
	};

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *path = routes[i].path;

		if (http_route(s, HTTP_GET, path, path, routes[i].fn, NULL) < 0) {
			snprintf(err, errlen, "registering %s failed", path);
			return -1;
		}
	}
	return 0;
}

int scraping_start(struct runtime *rt, const struct metrics_config *cfg, char *err, size_t errlen)
{
	struct arena *a = arena_new(0);
	struct labels ext;
	int rc = -1;

	if (!a || metrics_config_external_labels(cfg, a, &ext) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	{
		struct scrape_manager_options opts = { .external_labels = &ext };
		if (scrape_manager_new(cfg->scrape_configs.v, cfg->scrape_configs.n, &appendable,
				       runtime_metrics(rt), &opts, &g_mgr, err, errlen) < 0)
			goto out;
	}
	if (add_routes(runtime_http(rt), err, errlen) < 0)
		goto out;
	rc = 0;
out:
	arena_free(a);
	return rc;
}

int scraping_apply(const struct metrics_config *cfg, char *err, size_t errlen)
{
	return scrape_manager_apply(g_mgr, cfg->scrape_configs.v, cfg->scrape_configs.n, err, errlen);
}

void scraping_stop(void)
{
	if (!g_mgr)
		return;
	scrape_manager_stop(g_mgr);
	scrape_manager_free(g_mgr);
	g_mgr = NULL;
}
