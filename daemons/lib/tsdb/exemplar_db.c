/*
 * Exemplars on the db's paths. Appends: the store is keyed by the series' identity,
 * so the batch's labels (any order, maybe with empty values) are brought to the
 * head's form first; what the store took is logged for the head's ref, the way
 * samples are. Replay: a logged exemplar names its series by ref, and the head
 * (filled from the same log just before) gives the labels back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/db_internal.h"
#include "tsdb/internal.h"

/* ls sorted and without empty values: ls itself when it already is (scrapes and
 * remote-write hand over such sets), else a copy of the pairs in `a`. */
static int canonical(struct arena *a, const struct labels *ls, struct labels *out)
{
	bool ok = true;

	for (size_t i = 0; i < ls->n && ok; i++)
		ok = ls->v[i].value[0] && (!i || strcmp(ls->v[i - 1].name, ls->v[i].name) < 0);
	if (ok) {
		*out = *ls;
		return 0;
	}
	out->n = 0;
	out->v = arena_alloc(a, (ls->n ? ls->n : 1) * sizeof(*out->v));
	if (!out->v)
		return -1;
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].value[0])
			out->v[out->n++] = ls->v[i];
	labels_sort(out);
	return 0;
}

int tsdb_db_store_exemplars(struct tsdb_db *db, uint64_t ref, const struct tsdb_db_series *in,
			    struct arena *a, struct tsdb_wal_exemplar *out, size_t *nout,
			    struct tsdb_db_result *res, char *err, size_t errlen)
{
	size_t n = in->nexemplars;
	struct tsdb_exemplar *ex;
	struct labels series;
	int *rc;

	if (!db->exemplars || !n)
		return 0;
	ex = arena_alloc(a, n * sizeof(*ex));
	rc = arena_alloc(a, n * sizeof(*rc));
	if (!ex || !rc || canonical(a, in->labels, &series) < 0)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		ex[i] = in->exemplars[i];
		if (canonical(a, &in->exemplars[i].labels, &ex[i].labels) < 0)
			goto oom;
	}
	if (tsdb_exemplars_add(db->exemplars, &series, ex, n, rc, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		switch (rc[i]) {
		case 0:
			out[(*nout)++] = (struct tsdb_wal_exemplar){ ref, ex[i].t, ex[i].v, ex[i].labels };
			res->exemplars_appended++;
			break;
		case TSDB_EEXEMPLAR_OUT_OF_ORDER:
			res->exemplars_out_of_order++;
			break;
		case TSDB_EEXEMPLAR_LABELS:
			res->exemplars_invalid++;
			break;
		default: /* a duplicate of the newest: already stored and logged */
			break;
		}
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory storing exemplars");
	return -1;
}

int tsdb_db_replay_exemplar(struct tsdb_db *db, uint64_t ref, const struct tsdb_wal_exemplar *e,
			    char *err, size_t errlen)
{
	/* Replay runs alone, before anything can truncate the head: the pointer stays. */
	struct tsdb_series *s = tsdb_head_series_by_ref(db->head, ref);
	struct tsdb_exemplar ex = { e->labels, e->t, e->v };
	struct labels ls;
	int rc, ok;

	if (!s)
		return 1;
	ls = (struct labels){ malloc((s->nlabels + 1) * sizeof(*ls.v)), s->nlabels };
	if (!ls.v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	tsdb_series_labels(s, ls.v);
	ok = tsdb_exemplars_replay(db->exemplars, &ls, &ex, &rc, err, errlen);
	free(ls.v);
	if (ok < 0)
		return -1;
	if (rc == 0)
		db->replay.exemplars++;
	return 0;
}
