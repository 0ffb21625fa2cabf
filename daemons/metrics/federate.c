/*
 * Federation. Every selector is selected over [now - 5m, now]; the series sets are
 * merged (so a series matched twice appears once), each series contributes its last
 * sample unless that is a staleness marker, external labels the series lacks are
 * added, and the result is grouped by metric name in name order, each group under
 * "# TYPE <name> untyped" as Prometheus writes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "metrics/metrics.h"
#include "metrics_config.h"
#include "promapi/promapi.h"
#include "runtime/runtime.h"
#include "storage.h"
#include "tsdb/db.h"

#include "federate.h"

#define LOOKBACK_MS (5 * 60 * 1000)

struct fed_sample {
	struct labels ls;
	const char *name;
	int64_t t;
	double v;
};

static int cmp_sample(const void *a, const void *b)
{
	const struct fed_sample *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : labels_compare(&x->ls, &y->ls);
}

/* The series' labels plus the external labels it lacks, sorted, in the arena. */
static int with_external(struct arena *a, const struct labels *ls, const struct labels *ext,
			 struct labels *out)
{
	struct label *v = arena_alloc(a, (ls->n + ext->n + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -1;
	for (size_t i = 0; i < ls->n; i++)
		v[n++] = ls->v[i];
	for (size_t i = 0; i < ext->n; i++)
		if (!labels_get(ls, ext->v[i].name))
			v[n++] = ext->v[i];
	out->v = v;
	out->n = n;
	labels_sort(out);
	return labels_copy(a, out, out);
}

/* Latest non-stale sample of every series of `ss` into the list. */
static int collect(struct arena *a, struct tsdb_series_set *ss, const struct labels *ext,
		   struct fed_sample **list, size_t *n, size_t *cap)
{
	while (tsdb_series_set_next(ss)) {
		struct tsdb_iterator *it = tsdb_series_set_iterator(ss);
		struct fed_sample s = { 0 };
		bool any = false;

		while (tsdb_iterator_next(it)) {
			tsdb_iterator_at(it, &s.t, &s.v);
			any = true;
		}
		if (!any || tsdb_is_stale_nan(s.v))
			continue;
		if (with_external(a, tsdb_series_set_labels(ss), ext, &s.ls) < 0)
			return -1;
		s.name = labels_get(&s.ls, LABELS_METRIC_NAME);
		if (!s.name)
			s.name = "";
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 256;
			struct fed_sample *bigger = arena_alloc(a, c * sizeof(*bigger));
			if (!bigger)
				return -1;
			if (*n)
				memcpy(bigger, *list, *n * sizeof(*bigger));
			*list = bigger;
			*cap = c;
		}
		(*list)[(*n)++] = s;
	}
	return 0;
}

static void handle_federate(struct http_req *req, void *ctx)
{
	struct runtime *rt = ctx;
	struct arena *a = http_req_arena(req);
	const struct metrics_config *cfg = runtime_config_acquire(rt);
	struct promapi_selector *sel = NULL;
	struct tsdb_querier *q = NULL;
	struct fed_sample *list = NULL;
	size_t nsel = 0, n = 0, cap = 0;
	struct buf out = { 0 };
	struct labels ext;
	const char *const *m;
	char err[1200] = "out of memory";
	int64_t now = (int64_t)time(NULL) * 1000;
	const char *last = NULL;

	if (http_req_arg_all(req, "match[]", &m) == 0) {
		http_reply_text(req, 400, "no match[] parameter provided");
		goto done;
	}
	if (promapi_parse_matches(req, false, &sel, &nsel, err, sizeof(err)) < 0) {
		http_reply_text(req, 400, "%s", err);
		goto done;
	}
	if (metrics_config_external_labels(cfg, a, &ext) < 0 ||
	    tsdb_db_querier(storage_db(), now - LOOKBACK_MS, now, &q, err, sizeof(err)) < 0)
		goto fail;
	for (size_t i = 0; i < nsel; i++) {
		struct tsdb_series_set *ss;
		if (tsdb_querier_select(q, sel[i].ms, sel[i].n, NULL, &ss, err, sizeof(err)) < 0 ||
		    collect(a, ss, &ext, &list, &n, &cap) < 0)
			goto fail;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_sample);
	for (size_t i = 0; i < n; i++) {
		if (i && cmp_sample(&list[i - 1], &list[i]) == 0)
			continue; /* matched by two selectors */
		if (!last || strcmp(last, list[i].name)) {
			metrics_text_untyped_header(&out, list[i].name);
			last = list[i].name;
		}
		metrics_text_series_sample(&out, &list[i].ls, list[i].v, list[i].t);
	}
	if (out.oom)
		goto fail;
	http_reply_buf(req, 200, METRICS_TEXT_CONTENT_TYPE, &out);
	goto done;
fail:
	buf_free(&out);
	http_reply_text(req, 500, "federation failed: %s", err);
done:
	tsdb_querier_close(q);
	promapi_selectors_free(sel, nsel);
	runtime_config_release(rt, cfg);
}

int federate_register(struct runtime *rt, char *err, size_t errlen)
{
	if (http_route(runtime_http(rt), HTTP_GET, "/federate", "/federate", handle_federate, rt) < 0) {
		snprintf(err, errlen, "registering /federate failed");
		return -1;
	}
	return 0;
}
