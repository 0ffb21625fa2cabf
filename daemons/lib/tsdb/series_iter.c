/*
 * The sample iterator over a series snapshot (a head series' chunks and out-of-order
 * samples, or a block series' chunks), and the series-set plumbing around it that the
 * head and block queriers share. Two sorted streams are merged: the
 * in-order chunks, read one after another (they never overlap), and the out-of-order
 * samples. On equal timestamps the in-order sample wins and both streams move on.
 * Seeking skips whole chunks by their max time before decoding anything.
 */
#include <stdio.h>

#include "tsdb/internal.h"

static void load_chunk(struct tsdb_snap_iter *it)
{
	const struct tsdb_chunk_meta *c = &it->chunks[it->ci];

	tsdb_chunk_iter_init(&it->x, c);
	it->x_loaded = true;
}

static void next_chunk(struct tsdb_snap_iter *it)
{
	it->ci++;
	it->x_loaded = false;
	it->x_ok = false;
}

/* A chunk that does not decode ends the in-order stream; err() reports it. */
static bool broken(struct tsdb_snap_iter *it)
{
	if (!tsdb_chunk_iter_corrupt(&it->x))
		return false;
	it->corrupt = true;
	it->x_ok = false;
	it->ci = it->nchunks;
	return true;
}

/* Move the in-order stream to its next sample. */
static void chain_next(struct tsdb_snap_iter *it)
{
	while (it->ci < it->nchunks) {
		if (!it->x_loaded)
			load_chunk(it);
		if (tsdb_chunk_iter_next(&it->x)) {
			it->x_ok = true;
			return;
		}
		if (broken(it))
			return;
		next_chunk(it);
	}
	it->x_ok = false;
}

/* Move the in-order stream to its first sample >= t. */
static void chain_seek(struct tsdb_snap_iter *it, int64_t t)
{
	if (it->x_ok && tsdb_chunk_iter_t(&it->x) >= t)
		return;
	while (it->ci < it->nchunks && it->chunks[it->ci].maxt < t)
		next_chunk(it);
	if (it->ci >= it->nchunks) {
		it->x_ok = false;
		return;
	}
	if (!it->x_loaded)
		load_chunk(it);
	if (tsdb_chunk_iter_seek(&it->x, t)) {
		it->x_ok = true;
		return;
	}
	if (broken(it))
		return;
	next_chunk(it); /* the chunk's max time lied; later chunks are all newer */
	chain_next(it);
}

static void ooo_seek(struct tsdb_snap_iter *it, int64_t t)
{
	while (it->oi < it->nooo && it->ooo[it->oi].t < t)
		it->oi++;
}

/* Take the smaller head of the two streams as the current sample. */
static bool pick(struct tsdb_snap_iter *it)
{
	bool a = it->x_ok, b = it->oi < it->nooo;

	if (a && (!b || tsdb_chunk_iter_t(&it->x) <= it->ooo[it->oi].t))
		tsdb_chunk_iter_at(&it->x, &it->t, &it->v);
	else if (b) {
		it->t = it->ooo[it->oi].t;
		it->v = it->ooo[it->oi].v;
	} else {
		it->done = true;
		return false;
	}
	if (it->t > it->maxt) {
		it->done = true;
		return false;
	}
	return true;
}

static bool snap_next(struct tsdb_iterator *base)
{
	struct tsdb_snap_iter *it = (struct tsdb_snap_iter *)base;

	if (it->done)
		return false;
	if (!it->started) {
		it->started = true;
		chain_seek(it, it->mint);
		ooo_seek(it, it->mint);
		return pick(it);
	}
	if (it->x_ok && tsdb_chunk_iter_t(&it->x) == it->t)
		chain_next(it);
	if (it->oi < it->nooo && it->ooo[it->oi].t == it->t)
		it->oi++;
	return pick(it);
}

static bool snap_seek(struct tsdb_iterator *base, int64_t t)
{
	struct tsdb_snap_iter *it = (struct tsdb_snap_iter *)base;

	if (it->done)
		return false;
	if (it->started && it->t >= t)
		return true;
	if (t < it->mint)
		t = it->mint;
	it->started = true;
	chain_seek(it, t);
	ooo_seek(it, t);
	return pick(it);
}

size_t tsdb_iterator_fill_each(struct tsdb_iterator *it, int64_t tlimit, struct tsdb_sample *out,
			       size_t cap, enum tsdb_fill_state *state)
{
	size_t n = 0;

	while (n < cap) {
		int64_t t;
		double v;

		if (!tsdb_iterator_next(it)) {
			*state = TSDB_FILL_END;
			return n;
		}
		tsdb_iterator_at(it, &t, &v);
		if (t >= tlimit) {
			*state = TSDB_FILL_LIMIT;
			return n;
		}
		out[n++] = (struct tsdb_sample){ t, v };
	}
	*state = TSDB_FILL_FULL;
	return n;
}

/* Once started and with no out-of-order sample left, the in-order chunks alone are
 * read, a chunk's run of samples at a time, without the two-stream pick of next().
 * Samples past maxt end the stream, samples at or past tlimit stop the fill. */
static size_t snap_fill(struct tsdb_iterator *base, int64_t tlimit, struct tsdb_sample *out,
			size_t cap, enum tsdb_fill_state *state)
{
	struct tsdb_snap_iter *it = (struct tsdb_snap_iter *)base;
	int64_t stop = it->maxt < tlimit ? it->maxt + 1 : tlimit;
	size_t n = 0;

	if (!it->started || it->oi < it->nooo)
		return tsdb_iterator_fill_each(base, tlimit, out, cap, state);
	*state = TSDB_FILL_FULL;
	while (n < cap) {
		bool stopped = false;

		if (it->done || !it->x_ok) {
			*state = TSDB_FILL_END;
			break;
		}
		n += tsdb_chunk_iter_fill(&it->x, stop, out + n, cap - n, &stopped);
		if (!stopped && n < cap) { /* the chunk ended: the next one's first sample */
			if (!broken(it)) {
				next_chunk(it);
				chain_next(it);
			}
			if (!it->x_ok)
				continue;
			stopped = tsdb_chunk_iter_t(&it->x) >= stop;
			if (!stopped) {
				tsdb_chunk_iter_at(&it->x, &out[n].t, &out[n].v);
				n++;
			}
		}
		if (stopped) {
			tsdb_chunk_iter_at(&it->x, &it->t, &it->v);
			*state = it->t > it->maxt ? TSDB_FILL_END : TSDB_FILL_LIMIT;
			break;
		}
	}
	if (*state == TSDB_FILL_END)
		it->done = true;
	else if (*state == TSDB_FILL_FULL) {
		it->t = out[n - 1].t;
		it->v = out[n - 1].v;
	}
	return n;
}

static void snap_at(const struct tsdb_iterator *base, int64_t *t, double *v)
{
	const struct tsdb_snap_iter *it = (const struct tsdb_snap_iter *)base;

	*t = it->t;
	*v = it->v;
}

static int snap_err(const struct tsdb_iterator *base, char *err, size_t errlen)
{
	const struct tsdb_snap_iter *it = (const struct tsdb_snap_iter *)base;

	if (!it->corrupt)
		return 0;
	snprintf(err, errlen, "corrupt chunk in series");
	return TSDB_EFAIL;
}

static const struct tsdb_iterator_ops snap_ops = {
	.next = snap_next,
	.seek = snap_seek,
	.at = snap_at,
	.err = snap_err,
	.fill = snap_fill,
};

void tsdb_snap_iter_init(struct tsdb_snap_iter *it, const struct tsdb_snap *snap,
			 int64_t mint, int64_t maxt)
{
	*it = (struct tsdb_snap_iter){
		.it = { &snap_ops },
		.chunks = snap->chunks,
		.nchunks = snap->nchunks,
		.ooo = snap->ooo,
		.nooo = snap->nooo,
		.mint = mint,
		.maxt = maxt,
	};
}

/* --- the shared snapshot series set ---------------------------------------------------- */

void *tsdb_snap_set_new(struct tsdb_querier *q, size_t size,
			const struct tsdb_series_set_ops *ops,
			const struct tsdb_select_hints *hints)
{
	struct tsdb_snap_set *s = arena_calloc(q->arena, 1, size);

	if (!s)
		return NULL;
	s->ss.ops = ops;
	s->mint = q->mint;
	s->maxt = q->maxt;
	if (hints && hints->start <= hints->end) {
		s->mint = hints->start > s->mint ? hints->start : s->mint;
		s->maxt = hints->end < s->maxt ? hints->end : s->maxt;
	}
	s->labels_only = hints && hints->labels_only;
	return s;
}

bool tsdb_snap_set_fail(struct tsdb_snap_set *s, const char *why)
{
	if (why != s->why)
		snprintf(s->why, sizeof(s->why), "%s", why);
	s->failed = true;
	return false;
}

const struct labels *tsdb_snap_set_labels(const struct tsdb_series_set *ss)
{
	return &((const struct tsdb_snap_set *)ss)->cur;
}

struct tsdb_iterator *tsdb_snap_set_iterator(struct tsdb_series_set *ss)
{
	struct tsdb_snap_set *s = (struct tsdb_snap_set *)ss;

	tsdb_snap_iter_init(&s->it, &s->snap, s->mint, s->maxt);
	return &s->it.it;
}

int tsdb_snap_set_err(const struct tsdb_series_set *ss, char *err, size_t errlen)
{
	const struct tsdb_snap_set *s = (const struct tsdb_snap_set *)ss;

	if (!s->failed)
		return 0;
	snprintf(err, errlen, "%s", s->why);
	return TSDB_EFAIL;
}
