/*
 * Writing the head's data in a time range as a block. Closed head chunks (and the
 * copy of an open one) are XOR chunks already, so they go to the block byte for
 * byte. A series with out-of-order samples in range, or a chunk reaching outside it,
 * is re-encoded instead from the head's own merged view (the snapshot iterator that
 * queries use), clipped to the range, so the block holds exactly what a query of the
 * head over that range returns.
 */
#include <stdio.h>
#include <string.h>

#include "tsdb/block_internal.h"

struct head_ctx {
	struct tsdb_block_writer *w;
	int64_t mint, maxt; /* inclusive */
	char *err;
	size_t errlen;
};

static bool copyable(const struct tsdb_head_series *s, int64_t mint, int64_t maxt)
{
	if (s->nooo)
		return false;
	for (size_t i = 0; i < s->nchunks; i++)
		if (s->chunks[i].mint < mint || s->chunks[i].maxt > maxt)
			return false;
	return true;
}

static int on_series(void *arg, const struct tsdb_head_series *s)
{
	struct head_ctx *c = arg;
	struct tsdb_snap snap = {
		.chunks = (struct tsdb_chunk_meta *)s->chunks, .nchunks = s->nchunks,
		.ooo = (struct tsdb_sample *)s->ooo, .nooo = s->nooo,
	};
	struct tsdb_snap_iter it;

	if (copyable(s, c->mint, c->maxt))
		return tsdb_block_writer_add(c->w, s->ls, s->chunks, s->nchunks, c->err, c->errlen);
	tsdb_snap_iter_init(&it, &snap, c->mint, c->maxt);
	return tsdb_block_writer_add_samples(c->w, s->ls, &it.it, c->err, c->errlen);
}

int tsdb_block_write_head(struct tsdb_head *h, const char *parent, int64_t mint, int64_t maxt,
			  struct tsdb_block_meta *meta, bool *written, char *err, size_t errlen)
{
	struct head_ctx c = { .mint = mint, .maxt = maxt - 1, .err = err, .errlen = errlen };
	int rc;

	*written = false;
	memset(meta, 0, sizeof(*meta));
	rc = tsdb_block_writer_new(parent, mint, maxt, &c.w, err, errlen);
	if (rc < 0)
		return rc;
	rc = tsdb_head_foreach(h, mint, maxt - 1, true, on_series, &c, err, errlen);
	if (rc == 0 && tsdb_block_writer_series(c.w) > 0) {
		/* The block starts at its oldest sample, as Prometheus' head blocks do (the
		 * range asked for may begin well before the data after a gap). */
		if (c.w->data_mint > c.w->mint)
			c.w->mint = c.w->data_mint;
		meta->level = 1;
		rc = tsdb_block_writer_commit(c.w, meta, err, errlen);
		*written = rc == 0;
	}
	tsdb_block_writer_free(c.w);
	return rc;
}
