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

/* Parked chunk bytes read between two drops of the chunk store's pages. */
#define DROP_EVERY (1u << 20)

struct head_ctx {
	struct tsdb_head *h;
	struct tsdb_block_writer *w;
	int64_t mint, maxt; /* inclusive */
	size_t unreleased;  /* chunk bytes read since the store's pages were dropped */
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
	int rc;

	if (copyable(s, c->mint, c->maxt)) {
		rc = tsdb_block_writer_add(c->w, s->ls, s->chunks, s->nchunks, c->err, c->errlen);
	} else {
		tsdb_snap_iter_init(&it, &snap, c->mint, c->maxt);
		rc = tsdb_block_writer_add_samples(c->w, s->ls, &it.it, c->err, c->errlen);
	}
	/* Closed chunks read here are parked ones, mostly: reading them all would bring
	 * the whole range into the RSS at once. */
	for (size_t i = 0; i < s->nchunks; i++)
		c->unreleased += s->chunks[i].len;
	if (c->unreleased >= DROP_EVERY) {
		tsdb_chunk_store_drop_pages(c->h->store);
		c->unreleased = 0;
	}
	return rc;
}

int tsdb_block_write_head(struct tsdb_head *h, const char *parent, int64_t mint, int64_t maxt,
			  enum tsdb_block_encoding enc, struct tsdb_block_meta *meta,
			  bool *written, char *err, size_t errlen)
{
	struct head_ctx c = { .h = h, .mint = mint, .maxt = maxt - 1, .err = err,
			      .errlen = errlen };
	int rc;

	*written = false;
	memset(meta, 0, sizeof(*meta));
	rc = tsdb_block_writer_new(parent, mint, maxt, enc, &c.w, err, errlen);
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
