/*
 * Reading one series' samples for the evaluator: a source (a storage iterator, or
 * the points of an evaluated subquery) with one sample of lookahead, and a window
 * over (mint, maxt] that only moves forward, as upstream's buffered iterator and
 * matrixIterSlice: points already in the window are kept when the next step's
 * window overlaps, stale markers never enter it, and its size is counted against
 * the sample limit while it is held. Points leave the front by moving the view, not
 * the points; the buffer is compacted only once the dead front is as long as the
 * window, so each point is copied at most once on average. The window also counts
 * the points that are
 * below their predecessor, so rate() and increase() can skip their scan for
 * counter resets when there is none (each point is compared once, when it enters,
 * instead of at every step that sees it).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "promql/eval_internal.h"

void pq_source_init_iter(struct pq_source *s, struct tsdb_iterator *it)
{
	memset(s, 0, offsetof(struct pq_source, buf)); /* buf is written before it is read */
	s->it = it;
}

void pq_source_init_array(struct pq_source *s, const struct pq_point *p, size_t n)
{
	memset(s, 0, offsetof(struct pq_source, buf));
	s->arr = p;
	s->arr_n = n;
}

/* The iterator ended: a storage error becomes the source's error. */
static void iter_ended(struct pq_source *s)
{
	char err[256];

	s->it_end = true;
	if (tsdb_iterator_err(s->it, err, sizeof(err)))
		s->err = -1;
}

bool pq_source_refill(struct pq_source *s)
{
	enum tsdb_fill_state st;

	s->bi = s->bn = 0;
	if (s->it_end)
		return false;
	s->bn = tsdb_iterator_fill(s->it, INT64_MAX, s->buf, PQ_SOURCE_BATCH - 1, &st);
	if (st == TSDB_FILL_LIMIT) { /* a sample at INT64_MAX: on it, not copied */
		tsdb_iterator_at(s->it, &s->buf[s->bn].t, &s->buf[s->bn].v);
		s->bn++;
	}
	if (st == TSDB_FILL_END)
		iter_ended(s);
	return s->bn > 0;
}

void pq_source_seek(struct pq_source *s, int64_t target)
{
	if (!s->it) {
		while (s->arr_i < s->arr_n && s->arr[s->arr_i].t < target)
			s->arr_i++;
		return;
	}
	while (s->bi < s->bn && s->buf[s->bi].t < target)
		s->bi++;
	if (s->bi < s->bn || s->it_end)
		return;
	/* past everything read: the iterator is on buf's last sample (or has not
	 * started), below target */
	s->bi = s->bn = 0;
	if (!tsdb_iterator_seek(s->it, target)) {
		iter_ended(s);
		return;
	}
	tsdb_iterator_at(s->it, &s->buf[0].t, &s->buf[0].v);
	s->bn = 1;
}

static int window_push(struct pq_ev *ev, struct pq_window *w, struct pq_point p)
{
	size_t start = w->buf ? (size_t)(w->v - w->buf) : 0;

	if (start + w->n == w->cap) {
		if (start > 0 && start >= w->n) {
			memmove(w->buf, w->v, w->n * sizeof(*w->v));
			w->v = w->buf;
		} else {
			if (pq_reserve(ev->q, &w->buf, &w->cap, start + w->n + 1, sizeof(*w->buf)))
				return -1;
			w->v = w->buf + start;
		}
	}
	if (w->n && p.f < w->v[w->n - 1].f)
		w->ndec++;
	w->v[w->n++] = p;
	return pq_add_samples(ev, 1);
}

void pq_window_clear(struct pq_ev *ev, struct pq_window *w)
{
	ev->cur_samples -= (int64_t)w->n;
	w->v = w->buf;
	w->n = 0;
	w->ndec = 0;
}

int pq_window_advance(struct pq_ev *ev, struct pq_window *w, struct pq_source *src,
		      int64_t mint, int64_t maxt)
{
	size_t drop = 0;
	struct pq_point p;

	while (drop < w->n && w->v[drop].t <= mint) {
		if (drop + 1 < w->n && w->v[drop + 1].f < w->v[drop].f)
			w->ndec--;
		drop++;
	}
	if (drop) {
		w->v += drop;
		w->n -= drop;
		if (!w->n)
			w->v = w->buf;
		ev->cur_samples -= (int64_t)drop;
	}
	if (mint == maxt)
		return 0;
	if (!w->n)
		pq_source_seek(src, mint + 1);
	while (pq_source_peek(src, &p) && p.t <= maxt) {
		pq_source_take(src);
		if (p.t <= mint || tsdb_is_stale_nan(p.f))
			continue;
		if (w->n && p.t <= w->v[w->n - 1].t)
			continue;
		if (window_push(ev, w, p))
			return -1;
	}
	if (src->err)
		return pq_fail(ev->q, PROMQL_ERR_INTERNAL, "reading series: iterator failed");
	return 0;
}

void pq_window_free(struct pq_window *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}
