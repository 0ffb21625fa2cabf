/*
 * Reading a block through tsdb.h's querier interface. Matchers become series ids
 * through the block's postings (the same algebra as the head's, over another
 * source); ids grow in label order, so the set is sorted without sorting. The set
 * decodes one series at a time, keeps the chunks that overlap the range, resolves
 * them in the segments (checking their CRC32C), and iterates them with the head's snapshot iterator (which skips chunks by
 * time and clips to the range). Labels point at the block's symbols: the querier holds
 * a reference on the block, so they live until it closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/block_internal.h"

struct block_set;

struct block_querier {
	struct tsdb_querier q;
	struct tsdb_block *b;
	struct block_set *sets;
};

struct block_set {
	struct tsdb_snap_set s; /* first */
	struct block_set *next;
	struct block_querier *bq;
	struct tsdb_plist ids;
	size_t i;
	struct tsdb_block_series cur;
};

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return TSDB_EFAIL;
}

/* --- postings from the index --------------------------------------------------------------- */

/* A dense index's list: count, first id, deltas (checked at open). */
static int append_dense_list(const struct tsdb_block *b, uint64_t off, struct tsdb_plist *out)
{
	struct tsdb_dec d = { b->ix + off, b->ix + b->post_hi, false };
	uint64_t n = tsdb_dec_uvarint(&d), id = 0;

	if (tsdb_plist_reserve(out, n) < 0)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		id += tsdb_dec_uvarint(&d);
		out->v[out->n++] = id;
	}
	return 0;
}

void tsdb_block_ids_init(struct tsdb_block_ids *it, const struct tsdb_block *b)
{
	memset(it, 0, sizeof(*it));
	if (b->dense_ix) {
		it->d = (struct tsdb_dec){ b->ix + b->all_off, b->ix + b->post_hi, false };
		it->n = tsdb_dec_uvarint(&it->d);
	} else {
		it->p = b->ix + b->all_off + 4; /* checked at open */
		it->n = tsdb_be32(it->p);
		it->p += 4;
	}
}

bool tsdb_block_ids_next(struct tsdb_block_ids *it, uint64_t *id)
{
	if (it->i == it->n)
		return false;
	if (it->p)
		it->id = tsdb_be32(it->p + 4 * it->i);
	else
		it->id += tsdb_dec_uvarint(&it->d);
	it->i++;
	*id = it->id;
	return true;
}

static int append_list(const struct tsdb_block *b, uint64_t off, struct tsdb_plist *out)
{
	const uint8_t *p = b->ix + off + 4; /* checked at open */
	uint32_t n;

	if (b->dense_ix)
		return append_dense_list(b, off, out);
	n = tsdb_be32(p);

	if (tsdb_plist_reserve(out, n) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		out->v[out->n++] = tsdb_be32(p + 4 + 4 * (size_t)i);
	return 0;
}

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tsdb_block_name *)elem)->name);
}

static int cmp_posting(const void *key, const void *elem)
{
	return strcmp(key, ((const struct tsdb_block_posting *)elem)->value);
}

static const struct tsdb_block_name *find_name(const struct tsdb_block *b, const char *name)
{
	return bsearch(name, b->names, b->nnames, sizeof(*b->names), cmp_name);
}

static int src_postings(void *ctx, const char *name, const char *value, struct tsdb_plist *out)
{
	const struct tsdb_block *b = ctx;
	const struct tsdb_block_name *n = find_name(b, name);
	const struct tsdb_block_posting *p;

	if (!n)
		return 0;
	p = bsearch(value, b->posts + n->first, n->n, sizeof(*p), cmp_posting);
	return p ? append_list(b, p->off, out) : 0;
}

static int src_where(void *ctx, const char *name, bool (*pred)(const void *arg, const char *v),
		     const void *arg, bool want, struct tsdb_plist *out)
{
	const struct tsdb_block *b = ctx;
	const struct tsdb_block_name *n = find_name(b, name);

	for (uint32_t i = 0; n && i < n->n; i++) {
		const struct tsdb_block_posting *p = &b->posts[n->first + i];

		if (pred(arg, p->value) == want && append_list(b, p->off, out) < 0)
			return -1;
	}
	return 0;
}

static int src_all(void *ctx, struct tsdb_plist *out)
{
	const struct tsdb_block *b = ctx;

	return append_list(b, b->all_off, out);
}

void tsdb_block_postings_src(const struct tsdb_block *b, struct tsdb_postings_src *src)
{
	*src = (struct tsdb_postings_src){ src_postings, src_where, src_all, (void *)b };
}

static int matching(const struct tsdb_block *b, const struct tsdb_matcher *ms, size_t n,
		    struct tsdb_plist *out)
{
	struct tsdb_postings_src src;

	tsdb_block_postings_src(b, &src);
	return tsdb_postings_select_src(&src, ms, n, out);
}

/* --- series set ------------------------------------------------------------------------------ */

/* Keep the current series' chunks in range (checked); false when there is none. */
static bool chunks_in_range(struct block_set *b)
{
	struct tsdb_snap_set *s = &b->s;

	s->snap.nchunks = 0;
	for (size_t k = 0; k < b->cur.nchunks; k++) {
		const struct tsdb_chunk_meta *c = &b->cur.chunks[k];

		if (c->maxt < s->mint || c->mint > s->maxt)
			continue;
		if (s->labels_only)
			return true;
		if (tsdb_block_series_chunk(b->bq->b, &b->cur, k, s->why, sizeof(s->why)) < 0)
			return tsdb_snap_set_fail(s, s->why);
		if (tsdb_grow((void **)&s->snap.chunks, &s->snap.capchunks, s->snap.nchunks + 1,
			      sizeof(*c)) < 0)
			return tsdb_snap_set_fail(s, "out of memory");
		s->snap.chunks[s->snap.nchunks++] = *c;
	}
	return s->snap.nchunks > 0;
}

static bool set_next(struct tsdb_series_set *base)
{
	struct block_set *b = (struct block_set *)base;
	struct tsdb_snap_set *s = &b->s;

	while (!s->failed && b->i < b->ids.n) {
		if (tsdb_block_read_series(b->bq->b, b->ids.v[b->i++], &b->cur, s->why,
					   sizeof(s->why)) < 0)
			return tsdb_snap_set_fail(s, s->why);
		if (!chunks_in_range(b))
			continue;
		/* Labels outlive next() (tsdb.h): the array goes to the querier's arena. */
		s->cur.n = b->cur.ls.n;
		s->cur.v = arena_alloc(b->bq->q.arena, s->cur.n * sizeof(*s->cur.v));
		if (!s->cur.v)
			return tsdb_snap_set_fail(s, "out of memory");
		memcpy(s->cur.v, b->cur.ls.v, s->cur.n * sizeof(*s->cur.v));
		return true;
	}
	return false;
}

static const struct tsdb_series_set_ops set_ops = TSDB_SNAP_SET_OPS(set_next);

/* --- querier ------------------------------------------------------------------------------- */

static int bq_select(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
		     const struct tsdb_select_hints *hints, struct tsdb_series_set **out,
		     char *err, size_t errlen)
{
	struct block_querier *bq = (struct block_querier *)q;
	struct block_set *b = tsdb_snap_set_new(q, sizeof(*b), &set_ops, hints);

	*out = tsdb_empty_series_set();
	if (!b)
		return oom(err, errlen);
	b->bq = bq;
	b->next = bq->sets;
	bq->sets = b;
	if (b->s.mint > b->s.maxt)
		return 0;
	if (matching(bq->b, ms, n, &b->ids) < 0)
		return oom(err, errlen);
	*out = &b->s.ss;
	return 0;
}

/* Label names (name NULL) or values of `name` over the series matching ms (symbols are
 * interned). */
static int collect(struct block_querier *bq, const char *name, const struct tsdb_matcher *ms,
		   size_t n, struct tsdb_strings *out, char *err, size_t errlen)
{
	struct tsdb_block_series s = { 0 };
	struct tsdb_plist ids = { 0 };
	struct buf v = { 0 };
	int rc = 0;

	if (matching(bq->b, ms, n, &ids) < 0)
		rc = oom(err, errlen);
	for (size_t i = 0; rc == 0 && i < ids.n; i++) {
		rc = tsdb_block_read_series(bq->b, ids.v[i], &s, err, errlen);
		for (size_t k = 0; rc == 0 && k < s.ls.n; k++) {
			const char *x = name ? (strcmp(s.ls.v[k].name, name) ? NULL : s.ls.v[k].value)
					     : s.ls.v[k].name;

			if (x)
				buf_append(&v, &x, sizeof(x));
		}
	}
	out->n = v.len / sizeof(char *);
	out->v = arena_alloc(bq->q.arena, (out->n + 1) * sizeof(*out->v));
	if (rc == 0 && (!out->v || v.oom))
		rc = oom(err, errlen);
	if (rc == 0) {
		if (out->n)
			memcpy(out->v, v.data, out->n * sizeof(*out->v));
		tsdb_strings_unique_interned(out);
	}
	tsdb_block_series_free(&s);
	tsdb_plist_free(&ids);
	buf_free(&v);
	return rc;
}

static int bq_label_names(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
			  struct tsdb_strings *out, char *err, size_t errlen)
{
	struct block_querier *bq = (struct block_querier *)q;
	const struct tsdb_block *b = bq->b;

	*out = (struct tsdb_strings){ 0 };
	if (n)
		return collect(bq, NULL, ms, n, out, err, errlen);
	out->v = arena_alloc(q->arena, (b->nnames + 1) * sizeof(*out->v));
	if (!out->v)
		return oom(err, errlen);
	for (uint32_t i = 0; i < b->nnames; i++)
		out->v[out->n++] = b->names[i].name;
	return 0;
}

static int bq_label_values(struct tsdb_querier *q, const char *name,
			   const struct tsdb_matcher *ms, size_t n, struct tsdb_strings *out,
			   char *err, size_t errlen)
{
	struct block_querier *bq = (struct block_querier *)q;
	const struct tsdb_block_name *nm;

	*out = (struct tsdb_strings){ 0 };
	if (n)
		return collect(bq, name, ms, n, out, err, errlen);
	nm = find_name(bq->b, name);
	if (!nm)
		return 0;
	out->v = arena_alloc(q->arena, (nm->n + 1) * sizeof(*out->v));
	if (!out->v)
		return oom(err, errlen);
	for (uint32_t i = 0; i < nm->n; i++)
		out->v[out->n++] = bq->b->posts[nm->first + i].value;
	return 0;
}

static void bq_close(struct tsdb_querier *q)
{
	struct block_querier *bq = (struct block_querier *)q;

	for (struct block_set *b = bq->sets; b; b = b->next) {
		tsdb_plist_free(&b->ids);
		tsdb_block_series_free(&b->cur);
		tsdb_snap_free(&b->s.snap);
	}
	tsdb_block_unref(bq->b);
	arena_free(q->arena);
	free(bq);
}

static const struct tsdb_querier_ops block_querier_ops = {
	.select = bq_select,
	.label_names = bq_label_names,
	.label_values = bq_label_values,
	.close = bq_close,
};

int tsdb_block_querier(struct tsdb_block *b, int64_t mint, int64_t maxt,
		       struct tsdb_querier **out, char *err, size_t errlen)
{
	struct block_querier *bq = calloc(1, sizeof(*bq));

	*out = NULL;
	if (!bq || !(bq->q.arena = arena_new(0))) {
		free(bq);
		return oom(err, errlen);
	}
	bq->q.ops = &block_querier_ops;
	bq->q.mint = mint;
	bq->q.maxt = maxt;
	bq->b = b;
	tsdb_block_ref(b);
	*out = &bq->q;
	return 0;
}
