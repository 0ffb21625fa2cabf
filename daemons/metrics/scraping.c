/*
 * Scrape wiring. A scrape's samples are collected in a transaction and appended with
 * one tsdb_db_append() at commit, so a scrape is logged to the WAL as one batch and
 * costs one group-commit wait, not one per sample.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "metrics_config.h"
#include "promapi/promapi.h"
#include "runtime/runtime.h"
#include "scrape/scrape.h"
#include "storage.h"
#include "tsdb/db.h"

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
	t->series[t->n++] = (struct tsdb_db_series){ copy, s, 1 };
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
};

static void handle_targets(struct http_req *req, void *ctx)
{
	const char *state = http_req_arg(req, "state");
	struct buf b = { 0 };
	struct jw w;

	promapi_begin(&w, &b);
	if (scrape_manager_targets_json(g_mgr, &w, state && *state ? state : "any",
					http_req_arg(req, "scrapePool")) < 0)
		w.err = true;
	promapi_reply(req, &w, &b, NULL, 0);
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
	if (http_route(runtime_http(rt), HTTP_GET, "/api/v1/targets", "/api/v1/targets",
		       handle_targets, NULL) < 0) {
		snprintf(err, errlen, "registering /api/v1/targets failed");
		goto out;
	}
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
