/*
 * One head series: its open XOR chunk, its closed (immutable) chunks, and its sorted
 * out-of-order buffer. Everything here runs under the series lock.
 *
 * Chunks are cut as Prometheus cuts them: a new chunk's end is first the end of its
 * chunk range; at 30 samples (a quarter of the 120 target) the end is re-estimated so
 * the rest of the range splits into equal chunks at the observed rate; a chunk is also
 * cut at 240 samples in case the rate rises. A closed chunk goes to the head's chunk
 * store (chunk_store.c) when it has one, else its buffer is shrunk to size.
 *
 * With a store, the open chunk does not grow on the heap either: every 16 samples (and
 * whenever its buffer is full past 64 bytes) the bytes no append will change again (all
 * but a last, partly filled one) are spilled to a reservation in the store, sized for
 * the whole chunk as projected from its rate so far, and the buffer starts over from
 * the last byte. The heap thus holds a small buffer per series instead of the chunk:
 * every series of a head fills its chunk in step, so just before a cut the open chunks
 * of a node_exporter head weighed ~300 bytes a series (6 MiB for 20k series). Spilling
 * on a sample count rather than a byte count keeps the series of one scrape spilling
 * together, in the order they arrive, so consecutive spills land on the same pages of
 * the store: a write fault per page rather than per spill. The cut writes the rest
 * after the spilled bytes and the header in front, so the closed chunk is whole in its
 * reservation, and the buffer is kept for the next chunk. A reader copies the open
 * chunk under the lock from both places. A chunk that outgrows its reservation moves to
 * a bigger one; when the store has no room, the chunk grows on the heap as before.
 *
 * Out-of-order samples (only with a window) go to a sorted array of raw samples; the
 * window is short, so the array stays small, and queries merge it with the chunks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

#define SAMPLES_PER_CHUNK 120
/* Spill every SPILL_EVERY samples, or when a buffer of SPILL_BUFFER bytes or more
 * would have to grow (malloc's 64-byte size gives 72 usable bytes). Every 32 kept
 * buffers of ~140 bytes. Every 8 (and 32 bytes) keeps them at 24-40 bytes, 48 bytes a
 * series less heap, but nearly every spill faults a page of the store's mapping back
 * in: 3.7 times the page faults, +0.7 s user and +2 s system time over the 3.6 M
 * appends of unit test tsdb_head's heap test (CPU per sample up a third in the
 * benchmark). */
#define SPILL_EVERY 16
#define SPILL_BUFFER 64

struct tsdb_series *tsdb_series_new(uint64_t ref, uint64_t hash, size_t nlabels)
{
	struct tsdb_series *s = calloc(1, sizeof(*s) + nlabels * sizeof(s->values[0]));

	if (!s)
		return NULL;
	s->ref = ref;
	s->hash = hash;
	s->nlabels = (uint16_t)nlabels;
	tsdb_xor_appender_init(&s->app);
	return s;
}

void tsdb_series_labels(const struct tsdb_series *s, struct label *out)
{
	for (uint16_t i = 0; i < s->nlabels; i++)
		out[i] = (struct label){ tsdb_ix_name_of(s->values[i]), s->values[i] };
}

int tsdb_series_compare(const struct tsdb_series *a, const struct tsdb_series *b)
{
	uint16_t n = a->nlabels < b->nlabels ? a->nlabels : b->nlabels;

	for (uint16_t i = 0; i < n; i++) {
		const char *x = a->values[i], *y = b->values[i];
		int c;

		if (x == y)
			continue; /* interned: the same pair */
		c = strcmp(tsdb_ix_name_of(x), tsdb_ix_name_of(y));
		if (c)
			return c;
		c = strcmp(x, y);
		if (c)
			return c;
	}
	return a->nlabels < b->nlabels ? -1 : a->nlabels > b->nlabels;
}

bool tsdb_series_has_labels(const struct tsdb_series *s, const struct labels *ls)
{
	if (ls->n != s->nlabels)
		return false;
	for (uint16_t i = 0; i < s->nlabels; i++)
		if (strcmp(ls->v[i].value, s->values[i]) != 0 ||
		    strcmp(ls->v[i].name, tsdb_ix_name_of(s->values[i])) != 0)
			return false;
	return true;
}

void tsdb_series_free_in(void *h, void *p)
{
	struct tsdb_series *s = p;

	if (s->spill)
		tsdb_chunk_store_release(((struct tsdb_head *)h)->store, s->spill);
	s->spill = NULL;
	tsdb_series_free(s);
}

void tsdb_series_free(void *p)
{
	struct tsdb_series *s = p;

	if (!s)
		return;
	for (uint32_t i = 0; i < s->nclosed; i++)
		if (!s->closed[i].parked)
			free(s->closed[i].data);
	free(s->closed);
	free(s->ooo);
	tsdb_xor_appender_free(&s->app);
	free(s);
}

static void head_bounds(struct tsdb_head *h, int64_t t)
{
	tsdb_atomic_raise(&h->maxt, t);
	tsdb_atomic_lower(&h->mint, t);
}

/* End of the chunk range holding t: Prometheus' rangeForTimestamp (Go's truncating
 * division included), saturated instead of wrapping. */
static int64_t range_end(int64_t t, int64_t width)
{
	int64_t base = (t / width) * width;

	return base > INT64_MAX - width ? INT64_MAX : base + width;
}

/* Prometheus' computeChunkEndTime: assuming the chunk is a quarter full at cur, end it
 * so the rest of [start, max) splits into equal chunks. */
static int64_t chunk_end(int64_t start, int64_t cur, int64_t max)
{
	int64_t n = (max - start) / ((cur - start + 1) * 4);

	if (n <= 1)
		return max;
	return start + (max - start) / n;
}

/* The open chunk's length in all. */
static uint32_t open_len(const struct tsdb_series *s)
{
	return s->app.base + s->app.len;
}

/* Bytes to reserve for the open chunk once `need` are spilled: as many more as the
 * samples still expected before the cut take at the rate so far (the chunk ends at
 * next_at, after 120 samples in the usual case and never past 240), plus an eighth. */
static uint32_t projected(const struct tsdb_series *s, uint32_t need)
{
	uint64_t n = s->app.n ? s->app.n : 1, have = (uint64_t)(s->app.t - s->open_mint);
	uint64_t more = SAMPLES_PER_CHUNK / 4, most;

	if (n >= 2 && have > 0 && s->next_at > s->app.t)
		more = (uint64_t)(s->next_at - s->app.t) * (n - 1) / have;
	most = n < SAMPLES_PER_CHUNK * 2 ? SAMPLES_PER_CHUNK * 2 - n : 1;
	if (more > most)
		more = most;
	if (more > SAMPLES_PER_CHUNK)
		more = SAMPLES_PER_CHUNK;
	more = need * more / n;
	more = need + more + (need + more) / 8 + 8;
	return more < UINT16_MAX ? (uint32_t)more : UINT16_MAX; /* head chunks stay far below */
}

/* Make the spill reservation hold at least `need` bytes, moving what it holds to a
 * bigger one when it is too small; false when the store has no room. */
static bool spill_room(struct tsdb_head *h, struct tsdb_series *s, uint32_t need)
{
	uint32_t cap;
	uint8_t *p;

	if (s->spill && need <= s->spill_cap)
		return true;
	cap = projected(s, need);
	p = tsdb_chunk_store_reserve(h->store, cap);
	if (!p)
		return false;
	if (s->spill) {
		/* Readers copy open chunks under the lock: nobody reads the old place. */
		memcpy(p, s->spill, s->app.base);
		tsdb_chunk_store_wrote(h->store, p, s->app.base);
		tsdb_chunk_store_release(h->store, s->spill);
	}
	s->spill = p;
	s->spill_cap = (uint16_t)cap;
	return true;
}

/* Move the open chunk's settled bytes from its buffer to the store. */
static void spill(struct tsdb_head *h, struct tsdb_series *s)
{
	uint32_t k = tsdb_xor_appender_settled(&s->app);

	if (k < 16 || !spill_room(h, s, s->app.base + k))
		return; /* nothing worth it, or no room: the buffer grows */
	tsdb_chunk_store_wrote(h->store, s->spill + s->app.base, k);
	tsdb_xor_appender_shed(&s->app, s->spill + s->app.base);
}

/* The open chunk, whole, in its spill reservation; false when the store has no room
 * for it there (then it is copied to the heap, into *heap). */
static bool spill_all(struct tsdb_head *h, struct tsdb_series *s, uint8_t **heap)
{
	uint32_t len = open_len(s);

	*heap = NULL;
	if (!spill_room(h, s, len)) {
		*heap = malloc(len);
		if (!*heap)
			return false;
		memcpy(*heap, s->spill, s->app.base);
		memcpy(*heap + s->app.base, s->app.buf, s->app.len);
		tsdb_xor_put_header(*heap, s->app.n);
		tsdb_chunk_store_release(h->store, s->spill);
		s->spill = NULL;
		return true;
	}
	memcpy(s->spill + s->app.base, s->app.buf, s->app.len);
	tsdb_xor_put_header(s->spill, s->app.n);
	tsdb_chunk_store_wrote(h->store, s->spill, s->app.base + s->app.len);
	return true;
}

/* Close the open chunk: parked in the head's chunk store when there is one (its heap
 * buffer is kept for the next chunk), else shrunk to size on the heap. */
static int cut(struct tsdb_head *h, struct tsdb_series *s)
{
	struct tsdb_closed_chunk *c;
	const uint8_t *parked = NULL;
	uint8_t *heap = NULL;
	size_t len = open_len(s);

	/* Room for one first: a head of a 2 h range at a 60 s interval holds one closed
	 * chunk per series most of the time, and an empty second slot costs 32 bytes a
	 * series. */
	if (s->nclosed == s->capclosed) {
		uint32_t cap = s->capclosed ? s->capclosed * 2u : 1;
		struct tsdb_closed_chunk *nc;

		if (cap > UINT16_MAX)
			return -1;
		nc = realloc(s->closed, cap * sizeof(*nc));
		if (!nc)
			return -1;
		s->closed = nc;
		s->capclosed = (uint16_t)cap;
	}
	if (s->spill) {
		if (!spill_all(h, s, &heap))
			return -1;
		parked = s->spill;
	} else {
		parked = tsdb_chunk_store_put(h->store, s->app.buf, s->app.len);
	}
	c = &s->closed[s->nclosed];
	c->mint = s->open_mint;
	c->maxt = s->app.t;
	c->len = (uint32_t)len;
	if (parked) {
		c->data = (uint8_t *)parked;
		c->parked = 1;
	} else {
		c->data = heap ? heap : tsdb_xor_appender_finish(&s->app, &len);
		c->parked = 0;
	}
	s->spill = NULL;
	if (parked || heap)
		tsdb_xor_appender_restart(&s->app);
	s->nclosed++;
	return 0;
}

static int append_in_order(struct tsdb_head *h, struct tsdb_series *s, int64_t t, double v,
			   char *err, size_t errlen)
{
	int rc;

	if (s->app.n) {
		uint16_t n = tsdb_xor_appender_samples(&s->app);

		if (n == SAMPLES_PER_CHUNK / 4)
			s->next_at = chunk_end(s->open_mint, s->app.t, s->next_at);
		if ((t >= s->next_at || n >= SAMPLES_PER_CHUNK * 2) && cut(h, s) < 0) {
			snprintf(err, errlen, "out of memory");
			return TSDB_EFAIL;
		}
	}
	if (!s->app.n) {
		s->open_mint = t;
		s->next_at = range_end(t, h->chunk_range);
		__atomic_fetch_add(&h->chunks_created, 1, __ATOMIC_RELAXED);
	} else if (h->store && (s->app.n % SPILL_EVERY == 0 ||
				(s->app.cap >= SPILL_BUFFER && tsdb_xor_appender_full(&s->app)))) {
		spill(h, s);
	}
	rc = tsdb_xor_append(&s->app, t, v, err, errlen);
	if (rc < 0)
		return rc;
	head_bounds(h, t);
	return 0;
}

static int append_ooo(struct tsdb_head *h, struct tsdb_series *s, int64_t t, double v,
		      char *err, size_t errlen)
{
	struct tsdb_ooo *o = s->ooo;
	size_t lo = 0, hi = o ? o->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->s[mid].t < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (o && lo < o->n && o->s[lo].t == t) {
		if (tsdb_f2b(o->s[lo].v) == tsdb_f2b(v))
			return 1;
		__atomic_fetch_add(&h->rej_dup, 1, __ATOMIC_RELAXED);
		snprintf(err, errlen, "duplicate sample for timestamp");
		return TSDB_EDUPLICATE;
	}
	if (!o || o->n == o->cap) {
		uint32_t cap = o ? o->cap * 2 : 4;
		struct tsdb_ooo *no = realloc(o, sizeof(*no) + cap * sizeof(no->s[0]));

		if (!no) {
			snprintf(err, errlen, "out of memory");
			return TSDB_EFAIL;
		}
		if (!o)
			no->n = 0;
		no->cap = cap;
		s->ooo = o = no;
	}
	memmove(&o->s[lo + 1], &o->s[lo], (o->n - lo) * sizeof(o->s[0]));
	o->s[lo] = (struct tsdb_sample){ t, v };
	o->n++;
	__atomic_fetch_add(&h->ooo_appended, 1, __ATOMIC_RELAXED);
	head_bounds(h, t);
	return 0;
}

static int refuse(uint64_t *counter, int code, const char *msg, char *err, size_t errlen)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	snprintf(err, errlen, "%s", msg);
	return code;
}

int tsdb_series_append(struct tsdb_head *h, struct tsdb_series *s, int64_t t, double v,
		       int64_t minv, bool any_order, char *err, size_t errlen)
{
	/* Read again under the series lock: a block cut raises it before walking the
	 * series, so a sample either makes it into the walk or is refused here. */
	if (t < __atomic_load_n(&h->min_valid, __ATOMIC_ACQUIRE))
		return refuse(&h->rej_bounds, TSDB_EOUT_OF_BOUNDS, "out of bounds", err, errlen);
	if (t >= minv) {
		if (!s->app.n || t > s->app.t)
			return append_in_order(h, s, t, v, err, errlen);
		if (t == s->app.t) {
			if (s->app.vbits == tsdb_f2b(v))
				return 1; /* federation and retries resend samples: not an error */
			return refuse(&h->rej_dup, TSDB_EDUPLICATE,
				      "duplicate sample for timestamp", err, errlen);
		}
	}
	/* Replay keeps every logged sample: two batches for one series may reach the WAL in
	 * the other order than the head accepted them. */
	if (any_order && t >= minv)
		return append_ooo(h, s, t, v, err, errlen);
	if (h->ooo_window > 0) {
		int64_t hmax = __atomic_load_n(&h->maxt, __ATOMIC_RELAXED);
		int64_t lim = hmax < INT64_MIN + h->ooo_window ? INT64_MIN : hmax - h->ooo_window;

		if (t >= lim)
			return append_ooo(h, s, t, v, err, errlen);
		return refuse(&h->rej_old, TSDB_ETOO_OLD, "too old sample", err, errlen);
	}
	if (t < minv)
		return refuse(&h->rej_bounds, TSDB_EOUT_OF_BOUNDS, "out of bounds", err, errlen);
	return refuse(&h->rej_order, TSDB_EOUT_OF_ORDER, "out of order sample", err, errlen);
}

void tsdb_series_trim(struct tsdb_head *h, struct tsdb_series *s, int64_t mint)
{
	uint32_t k = 0;

	while (k < s->nclosed && s->closed[k].maxt < mint) {
		if (s->closed[k].parked)
			tsdb_chunk_store_release(h->store, s->closed[k].data);
		else
			free(s->closed[k].data);
		k++;
	}
	if (k) {
		memmove(s->closed, s->closed + k, (s->nclosed - k) * sizeof(*s->closed));
		s->nclosed -= k;
	}
	if (s->ooo && s->ooo->n) {
		struct tsdb_ooo *o = s->ooo;
		uint32_t d = 0;

		while (d < o->n && o->s[d].t < mint)
			d++;
		memmove(o->s, o->s + d, (o->n - d) * sizeof(o->s[0]));
		o->n -= d;
	}
}

bool tsdb_series_empty_since(const struct tsdb_series *s, int64_t mint)
{
	if (s->app.n && s->app.t >= mint)
		return false;
	if (s->nclosed && s->closed[s->nclosed - 1].maxt >= mint)
		return false;
	return !s->ooo || s->ooo->n == 0 || s->ooo->s[s->ooo->n - 1].t < mint;
}

bool tsdb_series_never_sampled(const struct tsdb_series *s)
{
	return !s->app.n && s->nclosed == 0 && (!s->ooo || s->ooo->n == 0);
}

/* --- snapshots ------------------------------------------------------------------------ */

static bool overlaps(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
	return a0 <= b1 && a1 >= b0;
}

static int push_chunk(struct tsdb_snap *snap, int64_t mint, int64_t maxt, const uint8_t *data,
		      size_t len)
{
	if (snap->nchunks == snap->capchunks) {
		size_t cap = snap->capchunks ? snap->capchunks * 2 : 8;
		struct tsdb_chunk_meta *nc = realloc(snap->chunks, cap * sizeof(*nc));

		if (!nc)
			return -1;
		snap->chunks = nc;
		snap->capchunks = cap;
	}
	snap->chunks[snap->nchunks++] = (struct tsdb_chunk_meta){ mint, maxt, data, len,
								  TSDB_ENC_XOR };
	return 0;
}

static int copy_open(struct tsdb_head *h, struct tsdb_series *s, struct tsdb_snap *snap)
{
	uint32_t len = open_len(s);

	if (snap->capopen < len) {
		uint8_t *no = realloc(snap->open, len);

		if (!no)
			return -1;
		snap->open = no;
		snap->capopen = len;
	}
	if (s->app.base && snap->pread) {
		if (tsdb_chunk_store_read(h->store, s->spill, s->app.base, snap->open) < 0)
			return -1;
	} else if (s->app.base) {
		memcpy(snap->open, s->spill, s->app.base);
	}
	if (s->app.base)
		tsdb_xor_put_header(snap->open, s->app.n);
	memcpy(snap->open + s->app.base, s->app.buf, s->app.len);
	return push_chunk(snap, s->open_mint, s->app.t, snap->open, len);
}

static int copy_ooo(const struct tsdb_ooo *o, int64_t mint, int64_t maxt, struct tsdb_snap *snap)
{
	uint32_t a = 0, b;

	while (a < o->n && o->s[a].t < mint)
		a++;
	for (b = a; b < o->n && o->s[b].t <= maxt; b++)
		;
	if (b - a > snap->capooo) {
		struct tsdb_sample *no = realloc(snap->ooo, (b - a) * sizeof(*no));

		if (!no)
			return -1;
		snap->ooo = no;
		snap->capooo = b - a;
	}
	if (b > a)
		memcpy(snap->ooo, o->s + a, (b - a) * sizeof(*snap->ooo));
	snap->nooo = b - a;
	return 0;
}

static int snapshot_locked(struct tsdb_head *h, struct tsdb_series *s, int64_t mint, int64_t maxt, bool labels_only,
			   struct tsdb_snap *snap)
{
	bool open = s->app.n && overlaps(s->open_mint, s->app.t, mint, maxt);

	for (uint32_t i = 0; i < s->nclosed; i++) {
		const struct tsdb_closed_chunk *c = &s->closed[i];

		if (!overlaps(c->mint, c->maxt, mint, maxt))
			continue;
		if (labels_only)
			return 1;
		if (push_chunk(snap, c->mint, c->maxt, c->data, c->len) < 0)
			return -1;
	}
	if (open && labels_only)
		return 1;
	if (open && copy_open(h, s, snap) < 0)
		return -1;
	if (s->ooo && copy_ooo(s->ooo, mint, maxt, snap) < 0)
		return -1;
	if (labels_only)
		return snap->nooo > 0 ? (snap->nooo = 0, 1) : 0;
	return snap->nchunks > 0 || snap->nooo > 0;
}

int tsdb_series_snapshot(struct tsdb_head *h, struct tsdb_series *s, int64_t mint, int64_t maxt,
			 bool labels_only, struct tsdb_snap *snap)
{
	int rc;

	snap->nchunks = 0;
	snap->nooo = 0;
	pthread_mutex_lock(tsdb_series_mu(h, s));
	rc = snapshot_locked(h, s, mint, maxt, labels_only, snap);
	pthread_mutex_unlock(tsdb_series_mu(h, s));
	return rc;
}

void tsdb_snap_free(struct tsdb_snap *snap)
{
	free(snap->chunks);
	free(snap->open);
	free(snap->ooo);
	memset(snap, 0, sizeof(*snap));
}
