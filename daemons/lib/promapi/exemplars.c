/*
 * /api/v1/query_exemplars answered from a TSDB exemplar store. As Prometheus'
 * exemplar querier does, the selectors are matched against the labels of the
 * series the store holds exemplars for (the TSDB's series identities), not run
 * through a querier: a series whose samples lie outside [start, end] can still have
 * exemplars inside it, and the exemplar index is far smaller than the series index.
 * The selectors' matchers, results and JSON live in one arena per call.
 */
#include <stdio.h>

#include "arena/arena.h"
#include "promapi/promapi.h"
#include "tsdb/tsdb.h"

static void put_series(struct jw *w, const struct tsdb_exemplar_series *s)
{
	char v[48];

	jw_obj_begin(w);
	jw_key(w, "seriesLabels");
	promapi_put_labels(w, &s->series);
	jw_key(w, "exemplars");
	jw_arr_begin(w);
	for (size_t i = 0; i < s->n; i++) {
		jw_obj_begin(w);
		jw_key(w, "labels");
		promapi_put_labels(w, &s->v[i].labels);
		promapi_format_value(s->v[i].v, v, sizeof(v));
		jw_kstr(w, "value", v);
		jw_key(w, "timestamp");
		promapi_put_timestamp(w, s->v[i].t);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static int select_and_write(struct tsdb_exemplars *store, struct arena *a,
			    const struct promapi_selector *sel, size_t n, int64_t start,
			    int64_t end, struct jw *w, char *err, size_t errlen)
{
	struct tsdb_matcher_set *sets = arena_calloc(a, n, sizeof(*sets));
	struct tsdb_exemplar_series *res;
	size_t nres;

	if (!sets) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		sets[i] = (struct tsdb_matcher_set){ sel[i].ms, sel[i].n };
	if (tsdb_exemplars_select(store, start, end, sets, n, a, &res, &nres, err, errlen) < 0)
		return -1;
	jw_arr_begin(w);
	for (size_t i = 0; i < nres; i++)
		put_series(w, &res[i]);
	jw_arr_end(w);
	return 0;
}

int promapi_store_exemplars(void *arg, const struct promql_node *const *selectors, size_t n,
			    int64_t start_ms, int64_t end_ms, struct jw *w, char *err,
			    size_t errlen)
{
	struct promapi_selector *sel = NULL;
	struct arena *a;
	size_t made = 0;
	int rc = -1;

	if (!arg || !n) {
		jw_arr_begin(w);
		jw_arr_end(w);
		return 0;
	}
	if (!(a = arena_new(0)) || !(sel = arena_calloc(a, n, sizeof(*sel)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (; made < n; made++)
		if (promapi_selector_from_node(a, selectors[made], &sel[made], err, errlen) < 0) {
			made++; /* its matchers made so far are freed too */
			goto out;
		}
	rc = select_and_write(arg, a, sel, n, start_ms, end_ms, w, err, errlen);
out:
	promapi_selectors_free(sel, made);
	arena_free(a);
	return rc;
}
