/*
 * Writing the head's data in a time range as a block. Closed head chunks (and the
 * copy of an open one) are XOR chunks already, so they go to the block byte for
 * byte. A series with out-of-order samples in range, or a chunk reaching outside it,
 * is re-encoded instead from the head's own merged view (the snapshot iterator that
 * queries use), clipped to the range, so the block holds exactly what a query of the
 * head over that range returns. Parked chunks are read with pread (unpark()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"

struct head_ctx {
	struct tsdb_head *h;
	struct tsdb_block_writer *w;
	int64_t mint, maxt; /* inclusive */
	struct tsdb_chunk_meta *chunks; /* the series' chunks, parked ones copied */
	size_t capchunks;
	struct buf copies;  /* the parked chunks' bytes */
	char *err;
	size_t errlen;
};

/* The series' chunks with every parked one read into c->copies by pread(2): reading
 * them through the store's mapping would map a window of the file around each one
 * (the kernel's fault-around), so a block write would bring the whole store into
 * the RSS at once. */
static const struct tsdb_chunk_meta *unpark(struct head_ctx *c, const struct tsdb_head_series *s)
{
	struct tsdb_chunk_store *cs = c->h->store;
	size_t need = 0;

	for (size_t i = 0; i < s->nchunks; i++)
		if (tsdb_chunk_store_owns(cs, s->chunks[i].data))
			need += s->chunks[i].len;
	if (need == 0)
		return s->chunks;
	buf_reset(&c->copies);
	if (buf_reserve(&c->copies, need) < 0 ||
	    tsdb_grow((void **)&c->chunks, &c->capchunks, s->nchunks, sizeof(*c->chunks)) < 0)
		return NULL;
	for (size_t i = 0; i < s->nchunks; i++) {
		c->chunks[i] = s->chunks[i];
		if (!tsdb_chunk_store_owns(cs, s->chunks[i].data))
			continue;
		if (tsdb_chunk_store_read(cs, s->chunks[i].data, s->chunks[i].len,
					  c->copies.data + c->copies.len) < 0)
			return NULL;
		c->chunks[i].data = (const uint8_t *)c->copies.data + c->copies.len;
		c->copies.len += s->chunks[i].len;
	}
	return c->chunks;
}

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
	const struct tsdb_chunk_meta *chunks = unpark(c, s);
	struct tsdb_snap snap = {
		.chunks = (struct tsdb_chunk_meta *)chunks, .nchunks = s->nchunks,
		.ooo = (struct tsdb_sample *)s->ooo, .nooo = s->nooo,
	};
	struct tsdb_snap_iter it;

	if (!chunks) {
		snprintf(c->err, c->errlen, "reading parked head chunks: %s", strerror(errno));
		return TSDB_EFAIL;
	}
	if (copyable(s, c->mint, c->maxt))
		return tsdb_block_writer_add(c->w, s->ls, chunks, s->nchunks, c->err, c->errlen);
	tsdb_snap_iter_init(&it, &snap, c->mint, c->maxt);
	return tsdb_block_writer_add_samples(c->w, s->ls, &it.it, c->err, c->errlen);
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
	free(c.chunks);
	buf_free(&c.copies);
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
