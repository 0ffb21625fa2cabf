/*
 * WAL replay into the head. Two orderings the live path allows are repaired here:
 * a series record can follow samples that use its ref (those samples wait in a
 * pending list and are applied after the whole log is read), and samples of one
 * series can be out of time order (the head keeps them; see
 * tsdb_head_replay_sample). A series record whose labels already have a series maps
 * its ref onto that one; the mapping is kept for the database's life, since the
 * WAL keeps using the old ref until a checkpoint rewrites it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "tsdb/db_internal.h"
#include "tsdb/internal.h"

struct replay_ctx {
	struct tsdb_db *db;
	const struct tsdb_db_options *o;
	struct tsdb_remap *remap; /* refs whose labels already had a series (rare) */
	size_t nremap, capremap;
	struct tsdb_wal_sample *pending; /* samples that came before their series record */
	size_t npending, cappending;
	struct tsdb_wal_exemplar *pending_ex; /* the same for exemplars (labels in ex_arena) */
	size_t npending_ex, cappending_ex;
	struct arena *ex_arena;
};

static uint64_t mapped(const struct replay_ctx *c, uint64_t ref)
{
	for (size_t i = 0; i < c->nremap; i++)
		if (c->remap[i].from == ref)
			return c->remap[i].to;
	return ref;
}

static int on_series(void *ctx, const struct tsdb_wal_series *s, size_t n, char *err,
		     size_t errlen)
{
	struct replay_ctx *c = ctx;

	for (size_t i = 0; i < n; i++) {
		uint64_t actual;

		if (tsdb_head_replay_series(c->db->head, s[i].ref, &s[i].labels, &actual, err,
					    errlen) < 0)
			return -1;
		if (actual != s[i].ref) {
			if (tsdb_grow((void **)&c->remap, &c->capremap, c->nremap + 1, sizeof(*c->remap)) < 0)
				goto oom;
			c->remap[c->nremap++] = (struct tsdb_remap){ s[i].ref, actual };
		}
		if (tsdb_logged_mark(c->db->logged, actual) < 0)
			goto oom;
		c->db->replay.series++;
	}
	return 0;
oom:
	snprintf(err, errlen, "out of memory replaying the WAL");
	return -1;
}

/* 1 when the ref is unknown so far, 0 when applied or refused, -1 on failure. */
static int apply(struct replay_ctx *c, const struct tsdb_wal_sample *s, char *err, size_t errlen)
{
	char why[128];
	int rc = tsdb_head_replay_sample(c->db->head, mapped(c, s->ref), s->t, s->v, why,
					 sizeof(why));

	if (rc == TSDB_ENOT_FOUND)
		return 1;
	if (rc == TSDB_EFAIL) {
		snprintf(err, errlen, "replaying sample: %s", why);
		return -1;
	}
	if (rc < 0)
		c->db->replay.refused++;
	else
		c->db->replay.samples++;
	return 0;
}

static int on_samples(void *ctx, const struct tsdb_wal_sample *s, size_t n, char *err,
		      size_t errlen)
{
	struct replay_ctx *c = ctx;

	for (size_t i = 0; i < n; i++) {
		int rc = apply(c, &s[i], err, errlen);

		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		if (tsdb_grow((void **)&c->pending, &c->cappending, c->npending + 1, sizeof(*c->pending)) < 0) {
			snprintf(err, errlen, "out of memory replaying the WAL");
			return -1;
		}
		c->pending[c->npending++] = s[i];
	}
	return 0;
}

/* Keep an exemplar whose series record has not come yet (its labels copied). */
static int defer_exemplar(struct replay_ctx *c, const struct tsdb_wal_exemplar *e)
{
	struct tsdb_wal_exemplar *d;

	if (!c->ex_arena && !(c->ex_arena = arena_new(0)))
		return -1;
	if (tsdb_grow((void **)&c->pending_ex, &c->cappending_ex, c->npending_ex + 1,
		      sizeof(*c->pending_ex)) < 0)
		return -1;
	d = &c->pending_ex[c->npending_ex];
	*d = *e;
	if (labels_copy(c->ex_arena, &e->labels, &d->labels) < 0)
		return -1;
	c->npending_ex++;
	return 0;
}

static int on_exemplars(void *ctx, const struct tsdb_wal_exemplar *e, size_t n, char *err,
			size_t errlen)
{
	struct replay_ctx *c = ctx;

	for (size_t i = 0; i < n; i++) {
		int rc = tsdb_db_replay_exemplar(c->db, mapped(c, e[i].ref), &e[i], err, errlen);

		if (rc < 0)
			return -1;
		if (rc == 1 && defer_exemplar(c, &e[i]) < 0) {
			snprintf(err, errlen, "out of memory replaying the WAL");
			return -1;
		}
	}
	return 0;
}

static void on_progress(void *ctx, const struct tsdb_wal_progress *p)
{
	struct replay_ctx *c = ctx;
	char status[128];

	if (!c->o->progress)
		return;
	snprintf(status, sizeof(status), "Replaying WAL %s %d (%d/%d)",
		 p->checkpoint ? "checkpoint" : "segment", p->segment, p->i, p->n);
	c->o->progress(c->o->progress_arg, status);
}

static int cmp_remap(const void *a, const void *b)
{
	uint64_t x = ((const struct tsdb_remap *)a)->from, y = ((const struct tsdb_remap *)b)->from;

	return x < y ? -1 : x > y;
}

int tsdb_db_replay(struct tsdb_db *db, const struct tsdb_db_options *o, char *err,
		   size_t errlen)
{
	struct replay_ctx c = { .db = db, .o = o };
	struct tsdb_wal_replay_ops ops = {
		.series = on_series, .samples = on_samples, .progress = on_progress,
		.exemplars = db->exemplars ? on_exemplars : NULL,
	};
	struct tsdb_wal_replay_result res;
	int rc;

	rc = tsdb_wal_replay(db->waldir, &ops, &c, &res, err, errlen);
	if (rc < 0)
		goto out;
	db->replay.truncated_bytes = res.truncated_bytes;
	/* Samples that came before their series record. */
	for (size_t i = 0; i < c.npending; i++) {
		rc = apply(&c, &c.pending[i], err, errlen);
		if (rc < 0)
			goto out;
		if (rc == 1)
			db->replay.unknown_refs++;
	}
	for (size_t i = 0; i < c.npending_ex; i++) {
		rc = tsdb_db_replay_exemplar(db, mapped(&c, c.pending_ex[i].ref), &c.pending_ex[i],
					     err, errlen);
		if (rc < 0)
			goto out;
	}
	rc = 0;
	if (db->replay.unknown_refs) {
		char n[32];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)db->replay.unknown_refs);
		LOG_WARN("tsdb", "WAL samples without a series record were dropped", "samples", n);
	}
out:
	if (rc == 0 && c.nremap) {
		qsort(c.remap, c.nremap, sizeof(*c.remap), cmp_remap);
		db->remap = c.remap;
		db->nremap = c.nremap;
		c.remap = NULL;
	}
	free(c.remap);
	free(c.pending);
	free(c.pending_ex);
	arena_free(c.ex_arena);
	return rc;
}
