/*
 * The storage engine's front door: open (blocks, then WAL replay), append (head, then
 * WAL, then acknowledge), query (blocks + head), close. See db.h for the durability
 * argument; maintenance lives in db_maintain.c, the block list in db_blocks.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/log.h"
#include "tsdb/block_internal.h"
#include "tsdb/db_internal.h"

#define MAX_REPORTED 5
#define MAX_BLOCK_CAP_MS (31 * 24 * 3600 * 1000LL)

struct tsdb_head *tsdb_db_head(struct tsdb_db *db) { return db->head; }
struct tsdb_exemplars *tsdb_db_exemplars(struct tsdb_db *db) { return db->exemplars; }
struct tsdb_wal *tsdb_db_wal(struct tsdb_db *db) { return db->wal; }
const struct tsdb_db_replay_stats *tsdb_db_replay_stats(const struct tsdb_db *db) { return &db->replay; }

static void db_free(struct tsdb_db *db)
{
	if (!db)
		return;
	tsdb_db_free_blocks(db);
	tsdb_head_free(db->head);
	tsdb_exemplars_free(db->exemplars);
	tsdb_logged_free(db->logged);
	pthread_rwlock_destroy(&db->blocks_lock);
	pthread_mutex_destroy(&db->maint_mu);
	pthread_mutex_destroy(&db->bg_mu);
	pthread_cond_destroy(&db->bg_cv);
	free(db->failed);
	free(db->remap);
	free(db->dir);
	free(db->waldir);
	free(db);
}

/* Ranges, retention and the largest block, as Prometheus derives them from its flags. */
static int configure(struct tsdb_db *db, const struct tsdb_db_options *o, char *err,
		     size_t errlen)
{
	int64_t max = o->max_block_ms;

	db->range = o->block_range_ms ? o->block_range_ms : TSDB_DEFAULT_CHUNK_RANGE_MS;
	db->block_enc = o->block_encoding;
	db->wal_enc = o->wal_encoding;
	if (db->range < 0 || o->retention_ms < 0 || max < 0) {
		snprintf(err, errlen, "block range, retention and max block duration must not be negative");
		return -1;
	}
	db->retention_ms = o->retention_ms;
	db->retention_bytes = o->retention_bytes;
	if (max == 0) {
		max = MAX_BLOCK_CAP_MS;
		if (o->retention_ms && o->retention_ms / 10 < max)
			max = o->retention_ms / 10;
	}
	db->nranges = tsdb_compact_ranges(db->range, max, db->ranges, TSDB_DB_MAX_RANGES);
	db->interval_ms = o->maintain_interval_ms ? o->maintain_interval_ms : 60 * 1000;
	return 0;
}

static struct tsdb_db *db_new(const struct tsdb_db_options *o, char *err, size_t errlen)
{
	struct tsdb_db *db = calloc(1, sizeof(*db));
	size_t n = strlen(o->dir) + 8;

	if (!db)
		goto oom;
	pthread_rwlock_init(&db->blocks_lock, NULL);
	pthread_mutex_init(&db->maint_mu, NULL);
	pthread_mutex_init(&db->bg_mu, NULL);
	pthread_cond_init(&db->bg_cv, NULL);
	if (!(db->dir = strdup(o->dir)) || !(db->waldir = malloc(n)) ||
	    !(db->logged = calloc(1, sizeof(*db->logged))))
		goto oom;
	snprintf(db->waldir, n, "%s/wal", o->dir);
	if (configure(db, o, err, errlen) < 0) {
		db_free(db);
		return NULL;
	}
	return db;
oom:
	db_free(db);
	snprintf(err, errlen, "out of memory opening the TSDB");
	return NULL;
}

int tsdb_db_open(const struct tsdb_db_options *o, struct tsdb_db **out, char *err,
		 size_t errlen)
{
	struct tsdb_head_options ho = { .ooo_window_ms = o->ooo_window_ms, .chunk_dir = o->dir };
	struct tsdb_wal_opts wo = { .segment_size = o->wal_segment_size, .fsync = o->fsync,
				    .compression = o->wal_compression };
	struct tsdb_db *db = db_new(o, err, errlen);
	int64_t blocks_end;

	if (!db)
		return -1;
	ho.chunk_range_ms = db->range;
	if (mkdir(o->dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "create %s: %s", o->dir, strerror(errno));
		goto fail;
	}
	if (o->progress)
		o->progress(o->progress_arg, "Loading blocks");
	if (tsdb_db_load_blocks(db, err, errlen) < 0 ||
	    tsdb_head_new(&ho, &db->head, err, errlen) < 0)
		goto fail;
	if (o->max_exemplars &&
	    tsdb_exemplars_new(o->max_exemplars, &db->exemplars, err, errlen) < 0)
		goto fail;
	/* What the blocks hold is not taken again from the WAL. */
	blocks_end = tsdb_db_blocks_maxt(db);
	if (blocks_end != INT64_MIN &&
	    tsdb_head_truncate(db->head, blocks_end, NULL, err, errlen) < 0)
		goto fail;
	if (tsdb_db_replay(db, o, err, errlen) < 0 ||
	    tsdb_wal_open(db->waldir, &wo, &db->wal, err, errlen) < 0)
		goto fail;
	if (o->maintain_interval_ms >= 0 && tsdb_db_bg_start(db, err, errlen) < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	if (db->wal)
		tsdb_wal_close(db->wal, NULL, 0);
	db_free(db);
	return -1;
}

int tsdb_db_close(struct tsdb_db *db, char *err, size_t errlen)
{
	int rc;

	if (!db)
		return 0;
	tsdb_db_bg_stop(db);
	rc = tsdb_wal_close(db->wal, err, errlen);
	db_free(db);
	return rc;
}

static void refused(struct tsdb_db_result *res, int code, const char *why,
		    const struct labels *ls, int64_t t)
{
	res->rejected++;
	switch (code) {
	case TSDB_EOUT_OF_ORDER: res->out_of_order++; break;
	case TSDB_EDUPLICATE: res->duplicate++; break;
	case TSDB_EOUT_OF_BOUNDS: res->out_of_bounds++; break;
	case TSDB_ETOO_OLD: res->too_old++; break;
	default: break;
	}
	if (res->rejected > MAX_REPORTED)
		return;
	if (res->errors.len)
		buf_puts(&res->errors, "; ");
	buf_printf(&res->errors, "%s for series ", why);
	labels_format(ls, &res->errors);
	buf_printf(&res->errors, " at timestamp %lld", (long long)t);
}

/* What one call will log: series records first, then samples, then exemplars. */
struct pending {
	struct tsdb_wal_series *series;
	size_t nseries;
	struct tsdb_wal_sample *samples;
	size_t nsamples;
	struct tsdb_wal_exemplar *exemplars;
	size_t nexemplars;
};

/* One call's inputs that every series shares. */
struct call {
	struct tsdb_db *db;
	const struct tsdb_db_append_opts *o;
	struct arena *a;
	struct pending *p;
	struct tsdb_db_result *res;
};

/* The labels of series i: its own, or the caller's callback's for a series that came
 * with a ref only. NULL (err filled) when they cannot be had. */
static const struct labels *series_labels(const struct call *c, const struct tsdb_db_series *in,
					  size_t i, struct labels *tmp, char *err, size_t errlen)
{
	if (in->labels)
		return in->labels;
	if (c->o && c->o->labels && c->o->labels(c->o->arg, i, c->a, tmp) == 0)
		return tmp;
	snprintf(err, errlen, "out of memory appending (labels of series ref %llu)",
		 (unsigned long long)in->ref);
	return NULL;
}

/* The series' ref from its hint, trying the first sample on the way (*rc0 its result,
 * 1 if not tried); 0 when the hint is absent or stale. */
static uint64_t try_hint(const struct call *c, const struct tsdb_db_series *in, int *rc0,
			 char *why, size_t whylen)
{
	*rc0 = 1;
	if (!in->ref)
		return 0;
	if (!in->n)
		return tsdb_head_series_exists(c->db->head, in->ref) ? in->ref : 0;
	*rc0 = tsdb_head_append_known(c->db->head, in->ref, in->samples[0].t, in->samples[0].v,
				      why, whylen);
	if (*rc0 != TSDB_ENOT_FOUND)
		return in->ref;
	*rc0 = 1;
	return 0;
}

/* Apply series i to the head and collect what must be logged for it. */
static int apply_series(const struct call *c, const struct tsdb_db_series *in, size_t i,
			char *err, size_t errlen)
{
	struct tsdb_db_result *res = c->res;
	struct pending *p = c->p;
	const struct labels *ls = in->labels;
	struct tsdb_db_series ex;
	struct labels tmp;
	char why[256];
	uint64_t ref;
	bool created;
	int rc;

	ref = try_hint(c, in, &rc, why, sizeof(why));
	if (!ref) {
		if (!(ls = series_labels(c, in, i, &tmp, err, errlen)))
			return -1;
		rc = tsdb_head_get_or_create(c->db->head, ls, &ref, &created, why, sizeof(why));
		if (rc < 0) {
			refused(res, rc, why, ls, in->n ? in->samples[0].t : 0);
			res->rejected += in->n ? in->n - 1 : 0;
			return 0;
		}
		res->series_created += created;
		rc = 1;
	}
	if (c->o && c->o->refs)
		c->o->refs[i] = ref;
	if (!tsdb_logged_test(c->db->logged, ref)) {
		if (!ls && !(ls = series_labels(c, in, i, &tmp, err, errlen)))
			return -1;
		p->series[p->nseries++] = (struct tsdb_wal_series){ ref, *ls };
	}
	for (size_t k = 0; k < in->n; k++) {
		const struct tsdb_sample *s = &in->samples[k];

		if (k || rc == 1)
			rc = tsdb_head_append(c->db->head, ref, s->t, s->v, why, sizeof(why));
		if (rc == TSDB_EFAIL) {
			snprintf(err, errlen, "appending to the head: %s", why);
			return -1;
		}
		if (rc < 0) {
			if (!ls && res->rejected < MAX_REPORTED &&
			    !(ls = series_labels(c, in, i, &tmp, err, errlen)))
				return -1;
			refused(res, rc, why, ls, s->t);
			continue;
		}
		p->samples[p->nsamples++] = (struct tsdb_wal_sample){ ref, s->t, s->v };
		res->appended++;
	}
	if (!in->nexemplars || !c->db->exemplars)
		return 0;
	if (!ls && !(ls = series_labels(c, in, i, &tmp, err, errlen)))
		return -1;
	ex = *in;
	ex.labels = ls;
	return tsdb_db_store_exemplars(c->db, ref, &ex, c->a, p->exemplars, &p->nexemplars, res,
				       err, errlen);
}

/* The encoded records, freed as soon as the WAL has written them, and the refs of the
 * series records, copied out of the call's arena then (the caller may free it). */
struct encoded {
	struct buf sr, smp, ex;
	const struct tsdb_db_append_opts *o;
	const struct pending *p;
	uint64_t *refs;
};

static void encoded_written(void *arg)
{
	struct encoded *e = arg;

	buf_free(&e->sr);
	buf_free(&e->smp);
	buf_free(&e->ex);
	if (!e->o || !e->o->written)
		return;
	/* Without memory for the copy the series are not marked logged: their records
	 * are simply logged again with a later batch. */
	if (e->p->nseries && (e->refs = malloc(e->p->nseries * sizeof(*e->refs))))
		for (size_t i = 0; i < e->p->nseries; i++)
			e->refs[i] = e->p->series[i].ref;
	e->p = NULL;
	e->o->written(e->o->arg);
}

static int log_pending(struct tsdb_db *db, const struct pending *p,
		       const struct tsdb_db_append_opts *o, char *err, size_t errlen)
{
	struct encoded e = { .o = o, .p = p };
	struct tsdb_wal_rec recs[3];
	size_t n = 0;
	int rc = -1;

	if (p->nseries) {
		tsdb_wal_encode_series(&e.sr, p->series, p->nseries);
		recs[n++] = (struct tsdb_wal_rec){ e.sr.data, e.sr.len };
	}
	if (p->nsamples) {
		if (db->wal_enc == TSDB_WAL_ENC_DENSE)
			tsdb_wal_encode_samples_dense(&e.smp, p->samples, p->nsamples);
		else
			tsdb_wal_encode_samples(&e.smp, p->samples, p->nsamples);
		recs[n++] = (struct tsdb_wal_rec){ e.smp.data, e.smp.len };
	}
	if (p->nexemplars) {
		tsdb_wal_encode_exemplars(&e.ex, p->exemplars, p->nexemplars);
		recs[n++] = (struct tsdb_wal_rec){ e.ex.data, e.ex.len };
	}
	if (e.sr.oom || e.smp.oom || e.ex.oom) {
		snprintf(err, errlen, "out of memory encoding WAL records");
		goto out;
	}
	rc = tsdb_wal_log_ex(db->wal, recs, n, encoded_written, &e, err, errlen);
	for (size_t i = 0; rc == 0 && i < p->nseries; i++) {
		if (e.p)
			tsdb_logged_mark(db->logged, p->series[i].ref);
		else if (e.refs)
			tsdb_logged_mark(db->logged, e.refs[i]);
	}
out:
	buf_free(&e.sr);
	buf_free(&e.smp);
	buf_free(&e.ex);
	free(e.refs);
	return rc;
}

/* Series known by ref are prefetched in four stages, PREFETCH series apart: stripe,
 * table slot, series, open chunk (tsdb_head_prefetch). Each stage needs what the one
 * before loaded; four appends apart, the loads of one series overlap the appends of
 * the ones before it instead of stalling them. */
#define PREFETCH 4
#define STAGES 4

static void prefetch(struct tsdb_db *db, const struct tsdb_db_series *series, size_t n, size_t i)
{
	for (int stage = 0; stage < STAGES; stage++) {
		size_t k = i + (size_t)(STAGES - stage) * PREFETCH;

		if (k < n && series[k].ref)
			tsdb_head_prefetch(db->head, series[k].ref, stage);
	}
}

int tsdb_db_append_ex(struct tsdb_db *db, const struct tsdb_db_series *series, size_t n,
		      const struct tsdb_db_append_opts *opts, struct arena *a,
		      struct tsdb_db_result *res, char *err, size_t errlen)
{
	struct pending p = { 0 };
	struct call c = { db, opts, a, &p, res };
	size_t total = 0, nex = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	for (size_t i = 0; i < n; i++) {
		total += series[i].n;
		nex += series[i].nexemplars;
	}
	p.series = arena_alloc(a, (n ? n : 1) * sizeof(*p.series));
	p.samples = arena_alloc(a, (total ? total : 1) * sizeof(*p.samples));
	p.exemplars = arena_alloc(a, (nex ? nex : 1) * sizeof(*p.exemplars));
	if (!p.series || !p.samples || !p.exemplars) {
		snprintf(err, errlen, "out of memory appending");
		return -1;
	}
	if (opts && opts->refs)
		memset(opts->refs, 0, n * sizeof(*opts->refs));
	for (size_t i = 0; i < n; i++) {
		prefetch(db, series, n, i);
		if (apply_series(&c, &series[i], i, err, errlen) < 0)
			return -1;
	}
	if (res->rejected > MAX_REPORTED)
		buf_printf(&res->errors, "; and %llu more refused samples",
			   (unsigned long long)(res->rejected - MAX_REPORTED));
	rc = log_pending(db, &p, opts, err, errlen);
	if (rc == 0)
		tsdb_db_bg_poke(db);
	return rc;
}

int tsdb_db_append(struct tsdb_db *db, const struct tsdb_db_series *series, size_t n,
		   struct arena *a, struct tsdb_db_result *res, char *err, size_t errlen)
{
	return tsdb_db_append_ex(db, series, n, NULL, a, res, err, errlen);
}

int tsdb_db_querier(struct tsdb_db *db, int64_t mint, int64_t maxt, struct tsdb_querier **out,
		    char *err, size_t errlen)
{
	struct tsdb_querier *head, **qs = NULL;
	struct tsdb_block **bs = NULL;
	size_t nb = 0, nq = 0;
	int rc;

	*out = NULL;
	/* The head first: a cut that lands in between then either waits for this querier
	 * before dropping head data, or has put its block in the list already. */
	rc = tsdb_head_querier(db->head, mint, maxt, &head, err, errlen);
	if (rc < 0)
		return rc;
	if (tsdb_db_grab_blocks(db, &bs, &nb) < 0 || !(qs = calloc(nb + 1, sizeof(*qs)))) {
		tsdb_db_release_blocks(bs, nb);
		tsdb_querier_close(head);
		snprintf(err, errlen, "out of memory");
		return TSDB_EFAIL;
	}
	for (size_t i = 0; i < nb && rc == 0; i++) {
		const struct tsdb_block_meta *m = tsdb_block_meta(bs[i]);

		if (m->mint <= maxt && m->maxt > mint)
			rc = tsdb_block_querier(bs[i], mint, maxt, &qs[nq++], err, errlen);
	}
	tsdb_db_release_blocks(bs, nb);
	qs[nq++] = head;
	if (rc == 0 && nq == 1)
		*out = head;
	else if (rc == 0)
		rc = tsdb_merge_querier(qs, nq, mint, maxt, out, err, errlen);
	else
		for (size_t i = 0; i < nq; i++)
			tsdb_querier_close(qs[i]);
	free(qs);
	return rc;
}

void tsdb_db_stats(struct tsdb_db *db, struct tsdb_db_stats *st)
{
	struct tsdb_block **bs;
	size_t n;

#define LOAD(f) st->f = __atomic_load_n(&db->st.f, __ATOMIC_RELAXED)
	LOAD(blocks_skipped);
	LOAD(head_cuts);
	LOAD(head_cuts_failed);
	LOAD(compactions);
	LOAD(compactions_failed);
	LOAD(checkpoints);
	LOAD(checkpoints_failed);
	LOAD(retention_time_deleted);
	LOAD(retention_size_deleted);
#undef LOAD
	st->blocks = st->blocks_bytes = 0;
	st->lowest_block_time = INT64_MAX;
	st->wal_bytes = tsdb_fs_tree_size(db->waldir);
	if (tsdb_db_grab_blocks(db, &bs, &n) < 0)
		return;
	st->blocks = n;
	for (size_t i = 0; i < n; i++) {
		const struct tsdb_block_meta *m = tsdb_block_meta(bs[i]);

		st->blocks_bytes += tsdb_block_size(bs[i]);
		if (m->mint < st->lowest_block_time)
			st->lowest_block_time = m->mint;
	}
	tsdb_db_release_blocks(bs, n);
}
