/*
 * What a scrape appends, as Prometheus' scrapeLoop.append and report do:
 * each parsed sample gets the target's labels (mutateSampleLabels: honor_labels
 * keeps the scraped value on a conflict, otherwise the scraped one moves to
 * exported_<name>, shortest names first), then metric_relabel_configs; the result
 * is cached per scraped label set, so steady targets skip that work. Limits are
 * applied after relabeling, where upstream applies them: past sample_limit the
 * parse goes on counting but nothing more is added, and the scrape fails.
 * Appender errors that concern one sample (out of order, duplicate, out of
 * bounds) are counted and skipped; anything else fails the scrape. A sample's
 * exemplar follows it to the appender; its errors never fail a scrape.
 * TYPE / HELP / UNIT lines go to the target's metadata cache as they are parsed,
 * as upstream's scrape loop does; a metadata line never fails a scrape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "scrape/mgr_internal.h"

#define EXPORTED_PREFIX "exported_"

static const char *const report_names[SM_NREPORT] = {
	"up", "scrape_duration_seconds", "scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling", "scrape_series_added",
};

static double stale_nan(void)
{
	uint64_t bits = SCRAPE_STALE_NAN_BITS;
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

static bool is_stale(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits == SCRAPE_STALE_NAN_BITS;
}

/* Insert into a sorted set that has room. */
static void insert_sorted(struct labels *ls, struct label l)
{
	size_t i = ls->n;

	while (i > 0 && strcmp(ls->v[i - 1].name, l.name) > 0) {
		ls->v[i] = ls->v[i - 1];
		i--;
	}
	ls->v[i] = l;
	ls->n++;
}

static int by_name_len(const void *pa, const void *pb)
{
	const struct label *a = pa, *b = pb;
	size_t la = strlen(a->name), lb = strlen(b->name);

	/* Stable: equal lengths keep their (sorted) order. */
	if (la != lb)
		return la < lb ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* Scraped labels conflicting with target labels become exported_<name>, adding the
 * prefix again while that name is taken too. */
static int resolve_conflicts(struct labels *out, struct label *conf, size_t nconf,
			     struct arena *a)
{
	qsort(conf, nconf, sizeof(*conf), by_name_len);
	for (size_t i = 0; i < nconf; i++) {
		const char *name = conf[i].name;

		do {
			name = arena_sprintf(a, EXPORTED_PREFIX "%s", name);
			if (!name)
				return -1;
		} while (labels_get(out, name));
		insert_sorted(out, (struct label){ name, conf[i].value });
	}
	return 0;
}

/* The target's labels merged into a scraped set, both sorted. */
static int merge_target(const struct labels *in, const struct labels *tl, bool honor,
			struct arena *a, struct labels *out)
{
	struct label *conf = arena_alloc(a, (in->n + 1) * sizeof(*conf));
	size_t i = 0, j = 0, nconf = 0;

	out->n = 0;
	out->v = arena_alloc(a, (in->n + tl->n + 1) * sizeof(*out->v));
	if (!out->v || !conf)
		return -1;
	while (i < in->n || j < tl->n) {
		int c = i == in->n ? 1 : j == tl->n ? -1 : strcmp(in->v[i].name, tl->v[j].name);

		if (c < 0) {
			out->v[out->n++] = in->v[i++];
		} else if (c > 0) {
			out->v[out->n++] = tl->v[j++];
		} else if (honor) {
			out->v[out->n++] = in->v[i++];
			j++;
		} else {
			conf[nconf++] = in->v[i++];
			out->v[out->n++] = tl->v[j++];
		}
	}
	return nconf ? resolve_conflicts(out, conf, nconf, a) : 0;
}

/* First sight of a scraped label set in this loop: what does it become? */
static struct sm_centry *new_entry(struct sm_scrape *s, const struct labels *in, uint64_t h,
				   bool *added, char *err, size_t errlen)
{
	struct sm_target *t = s->t;
	const struct scrape_config *c = t->pool->cfg;
	struct labels merged, out;
	struct sm_centry *e;
	int rc = RELABEL_KEPT;

	if (merge_target(in, &t->spec.pub, c->honor_labels, t->scratch, &merged))
		goto oom;
	out = merged;
	if (c->metric_relabel_configs.n)
		rc = relabel_process(c->metric_relabel_configs.v, c->metric_relabel_configs.n,
				     &merged, t->scratch, &out);
	if (rc < 0)
		goto oom;
	if (rc == RELABEL_KEPT && !labels_get(&out, LABELS_METRIC_NAME)) {
		snprintf(err, errlen, "missing metric name (%s label)", LABELS_METRIC_NAME);
		return NULL;
	}
	if (rc == RELABEL_KEPT && scrape_limits_check_labels(&t->pool->limits, &out, err, errlen)) {
		sm_count(t->pool->m->met.exceeded_label_limits, 1);
		return NULL;
	}
	e = sm_cache_put(&t->cache, in, h, rc == RELABEL_KEPT ? &out : NULL, added);
	if (e)
		return e;
oom:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* Per-sample appender errors are counted and skipped; others fail the scrape. */
static int add_error(struct sm_scrape *s, int rc, double v, char *err, size_t errlen)
{
	const struct sm_metrics *met = &s->t->pool->m->met;

	if (is_stale(v) && (rc == SCRAPE_APPEND_OUT_OF_ORDER || rc == SCRAPE_APPEND_DUPLICATE))
		return 0; /* the target came back under a new loop: expected */
	switch (rc) {
	case SCRAPE_APPEND_OUT_OF_ORDER:
		s->ooo++;
		sm_count(met->out_of_order, 1);
		return 0;
	case SCRAPE_APPEND_DUPLICATE:
		s->dup++;
		sm_count(met->duplicate, 1);
		return 0;
	case SCRAPE_APPEND_OUT_OF_BOUNDS:
	case SCRAPE_APPEND_TOO_OLD:
		s->bounds++;
		sm_count(met->out_of_bounds, 1);
		return 0;
	default:
		snprintf(err, errlen, "storage append failed (error %d)", rc);
		return -1;
	}
}

static int add(struct sm_scrape *s, uint64_t *ref, const struct labels *ls, int64_t ts, double v,
	       bool *ok)
{
	const struct scrape_appendable *app = &s->t->pool->m->app;
	int rc = app->add(s->txn, ref, ls, ts, v);

	if (ok)
		*ok = rc == 0;
	return rc ? add_error(s, rc, v, s->err, s->errlen) : 0;
}

/* Upstream treats exemplar storage as best effort: only out-of-order is counted. */
static void add_exemplar(struct sm_scrape *s, uint64_t *ref, const struct labels *ls,
			 const struct scrape_exemplar *ex, int64_t ts)
{
	const struct scrape_appendable *app = &s->t->pool->m->app;
	struct scrape_exemplar e = *ex;

	if (!app->add_exemplar)
		return;
	if (!e.has_ts) {
		e.has_ts = true;
		e.ts_ms = ts;
	}
	if (app->add_exemplar(s->txn, ref, ls, &e) == SCRAPE_APPEND_OUT_OF_ORDER) {
		s->exemplar_ooo++;
		sm_count(s->t->pool->m->met.exemplar_out_of_order, 1);
	}
}

static int on_sample(void *ctx, const struct scrape_sample *smp, char *err, size_t errlen)
{
	struct sm_scrape *s = ctx;
	struct sm_target *t = s->t;
	uint64_t h = labels_hash(&smp->labels);
	bool own_ts = t->pool->cfg->honor_timestamps && smp->has_ts, added = false, ok;
	struct sm_centry *e = sm_cache_get(&t->cache, &smp->labels, h);

	s->total++;
	if (!e && !(e = new_entry(s, &smp->labels, h, &added, err, errlen)))
		return -1;
	if (!e->s)
		return 0;
	s->added++;
	if (scrape_limits_check_samples(&t->pool->limits, s->added, err, errlen)) {
		s->over_limit = true;
		return 0;
	}
	if (add(s, &e->s->ref, &e->s->ls, own_ts ? smp->ts_ms : s->ts_ms, smp->value, &ok))
		return -1;
	if (smp->exemplar)
		add_exemplar(s, &e->s->ref, &e->s->ls, smp->exemplar,
			     own_ts ? smp->ts_ms : s->ts_ms);
	if (ok && added)
		s->series_added++;
	/* A sample with its own timestamp takes no part in staleness (upstream). */
	if (ok && !own_ts && sm_cache_track(&t->cache, e->s)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int on_meta(void *ctx, const struct scrape_meta *m, char *err, size_t errlen)
{
	struct sm_scrape *s = ctx;
	struct sm_target *t = s->t;
	int rc = sm_meta_set(&t->meta, m);

	if (rc && !t->meta.warned) {
		t->meta.warned = true;
		LOG_WARN("scrape", "metadata not kept", "scrape_pool", t->pool->cfg->job_name,
			 "target", t->spec.url, "family", m->family, "err",
			 rc > 0 ? "metadata cache of the target is full" : "out of memory");
	}
	return 0;
}

void sm_append_refused(struct sm_scrape *s, const struct scrape_append_result *res)
{
	const struct sm_metrics *met = &s->t->pool->m->met;

	s->ooo += res->out_of_order;
	s->dup += res->duplicate;
	s->bounds += res->out_of_bounds;
	s->exemplar_ooo += res->exemplar_out_of_order;
	sm_count(met->exemplar_out_of_order, (double)res->exemplar_out_of_order);
	sm_count(met->out_of_order, (double)res->out_of_order);
	sm_count(met->duplicate, (double)res->duplicate);
	sm_count(met->out_of_bounds, (double)res->out_of_bounds);
}

void sm_append_log(const struct sm_scrape *s)
{
	const char *const what[] = { "out-of-order", "duplicate-timestamp", "out-of-bounds" };
	const size_t n[] = { s->ooo, s->dup, s->bounds };
	char num[24];

	for (size_t i = 0; i < 3; i++) {
		if (!n[i])
			continue;
		snprintf(num, sizeof(num), "%zu", n[i]);
		LOG_WARN("scrape", "samples rejected by storage", "kind", what[i], "num_dropped", num,
			 "scrape_pool", s->t->pool->cfg->job_name, "target", s->t->spec.url);
	}
	if (s->exemplar_ooo) {
		snprintf(num, sizeof(num), "%zu", s->exemplar_ooo);
		LOG_WARN("scrape", "Error on ingesting out-of-order exemplars", "num_dropped", num,
			 "scrape_pool", s->t->pool->cfg->job_name, "target", s->t->spec.url);
	}
}

int sm_append_body(struct sm_scrape *s, const char *content_type, const char *body, size_t len)
{
	const struct scrape_handler h = { on_sample, on_meta, s };
	enum scrape_format f;
	char warn[256];
	int rc;

	/* Prometheus 2 reads a missing or unknown type as the text format. */
	if (scrape_format_detect(content_type, SCRAPE_FORMAT_TEXT, &f, warn, sizeof(warn)) < 0)
		f = SCRAPE_FORMAT_TEXT;
	rc = scrape_parse(f, body, len, NULL, &h, NULL, s->err, s->errlen);
	if (!rc && s->over_limit) {
		sm_count(s->t->pool->m->met.exceeded_sample_limit, 1);
		rc = scrape_limits_check_samples(&s->t->pool->limits, s->added, s->err, s->errlen);
	}
	return rc ? -1 : 0;
}

static int stale_one(void *arg, struct sm_series *ser)
{
	struct sm_scrape *s = arg;

	return add(s, &ser->ref, &ser->ls, s->ts_ms, stale_nan(), NULL);
}

int sm_append_stale(struct sm_scrape *s)
{
	return sm_cache_each_stale(&s->t->cache, stale_one, s);
}

static int report_values(struct sm_scrape *s, const double *v)
{
	struct sm_target *t = s->t;

	for (size_t i = 0; i < SM_NREPORT; i++)
		if (add(s, &t->report_refs[i], &t->report[i], s->ts_ms, v[i], NULL))
			return -1;
	return 0;
}

int sm_append_report(struct sm_scrape *s, bool up, double duration_s)
{
	const double v[SM_NREPORT] = { up ? 1 : 0, duration_s, (double)s->total,
				       (double)s->added, (double)s->series_added };

	return report_values(s, v);
}

/* Report label sets: {__name__="up"} plus the target's labels, built once. */
int sm_report_labels(struct sm_target *t)
{
	for (size_t i = 0; i < SM_NREPORT; i++) {
		struct labels *ls = &t->report[i];

		ls->v = arena_calloc(t->arena, t->spec.pub.n + 1, sizeof(*ls->v));
		if (!ls->v)
			return -1;
		ls->v[0] = (struct label){ LABELS_METRIC_NAME, report_names[i] };
		memcpy(ls->v + 1, t->spec.pub.v, t->spec.pub.n * sizeof(*ls->v));
		ls->n = t->spec.pub.n + 1;
		labels_sort(ls);
	}
	return 0;
}

void sm_append_end_of_run(struct sm_target *t)
{
	const struct scrape_appendable *app = &t->pool->m->app;
	int64_t now = sm_wall_ns() / 1000000;
	struct scrape_append_result res = { 0 };
	double v[SM_NREPORT];
	char err[256];
	struct sm_scrape s = { .t = t, .err = err, .errlen = sizeof(err) };

	if (!t->last_ts_ms)
		return;
	s.ts_ms = now > t->last_ts_ms ? now : t->last_ts_ms + 1;
	s.txn = app->begin(app->ctx);
	if (!s.txn)
		return;
	for (size_t i = 0; i < SM_NREPORT; i++)
		v[i] = stale_nan();
	if (sm_cache_each_current(&t->cache, stale_one, &s) || report_values(&s, v)) {
		app->rollback(s.txn);
		LOG_WARN("scrape", "stale markers for a removed target failed", "target",
			 t->spec.url, "err", err);
		return;
	}
	/* Refusals here are markers the target's successor already overtook. */
	if (app->commit(s.txn, &res))
		LOG_WARN("scrape", "stale markers for a removed target failed", "target",
			 t->spec.url, "err", "commit failed");
}
