/*
 * The watcher: one thread per queue that follows the WAL as Prometheus' wal.Watcher
 * does (newest checkpoint first, then every segment after it, tailing the last one)
 * and turns records into queued samples.
 *
 * Which samples are sent:
 * - After a restart the saved position is the gate: batches that end at or before it
 *   were handled by the previous run, so only their series records are read (the
 *   cache needs them); their samples are not even decoded.
 * - On a first start (no position) the gate is absent and samples not newer than the
 *   start time are skipped instead, which is Prometheus' rule.
 * - Exemplars records are read only with send_exemplars, and follow the same rules
 *   as samples (their own per-series newest timestamp in the running case).
 * - The checkpoint's samples are read when the data after the position may have gone
 *   into it: after a restart whose position is in a segment the checkpoint took in,
 *   and after TSDB_WAL_EGONE while running. In the running case each cached series
 *   knows the newest sample queued for it, and only newer ones are sent, so nothing
 *   is sent twice; after a restart that knowledge is gone and all of them are sent.
 *
 * Memory: series the head dropped disappear from the next checkpoint; when a newer
 * checkpoint shows up (checked when a segment is finished) the cache keeps only what
 * it still holds or what later segments named, as Prometheus' SeriesReset does.
 *
 * Damage (corruption, a segment that shrank, I/O errors) is logged and the segment
 * reread after a pause, skipping what was already queued; a segment that stays
 * damaged while a newer one exists is given up on, since waiting cannot fix it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log/log.h"
#include "rwsend/internal.h"
#include "tsdb/wal.h"

enum smode { SAMPLES_NONE, SAMPLES_ALL, SAMPLES_NEWER };

enum wrc { W_OK = 0, W_STOP, W_GONE, W_RETRY };

#define DAMAGE_PAUSE_MS 1000
#define DAMAGE_TRIES 3

struct watch {
	struct rws_queue *q;
	struct arena *a;
	bool gated;
	struct rws_pos gate;      /* batches ending at or before it are done */
	int64_t min_t;            /* samples at or before it are skipped */
	int cp;                   /* checkpoint read, -1: none */
	int gc_cp;                /* checkpoint the cache was last collected at */
	struct rws_entry *acc, *routed;
	size_t acc_cap;
	size_t *counts, ncounts;   /* per shard, sized for the current shard count */
	char err[512];
};

static void idle(struct watch *w, int64_t ms);

static bool stopping(const struct watch *w)
{
	return atomic_load(&w->q->stop_reading);
}

static void log_w(struct watch *w, int level, const char *msg, const char *k1, const char *v1,
		  const char *k2, const char *v2)
{
	struct rws_queue *q = w->q;

	log_kv((enum log_level)level, RWS_LOG, msg, "remote_name", q->conf->name, "url",
	       q->conf->url_label, k1, v1, k2, v2, (char *)0);
}

static int64_t segment_size(const char *dir, int seg)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%08d", dir, seg);
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static bool segment_exists(const char *dir, int seg)
{
	return segment_size(dir, seg) >= 0;
}

/* --- series ------------------------------------------------------------------------ */

/* Series labels plus the external labels it lacks (the series wins), sorted. */
static int with_external(struct watch *w, const struct labels *in, struct labels *out)
{
	const struct labels *ext = &w->q->conf->ext;
	struct labels s = { arena_alloc(w->a, (in->n ? in->n : 1) * sizeof(struct label)), in->n };
	size_t i = 0, j = 0;

	out->v = arena_alloc(w->a, (in->n + ext->n + 1) * sizeof(struct label));
	out->n = 0;
	if (!s.v || !out->v)
		return -1;
	memcpy(s.v, in->v, in->n * sizeof(struct label));
	labels_sort(&s);
	while (i < s.n || j < ext->n) {
		int c = i == s.n ? 1 : j == ext->n ? -1 : strcmp(s.v[i].name, ext->v[j].name);

		if (c <= 0)
			out->v[out->n++] = s.v[i++];
		else
			out->v[out->n++] = ext->v[j];
		if (c >= 0)
			j++;
	}
	return 0;
}

static int store_series(struct watch *w, const struct tsdb_wal_series *ws, int seg)
{
	struct rws_queue *q = w->q;
	const struct cfg_list *rules = &q->conf->c.write_relabel_configs;
	struct labels merged, final;
	struct rws_series *e;
	int rc = RELABEL_KEPT;

	if (with_external(w, &ws->labels, &merged))
		return -1;
	final = merged;
	if (rules->n) {
		rc = relabel_process(rules->v, rules->n, &merged, w->a, &final);
		if (rc < 0)
			return -1;
	}
	return rws_cache_put(&q->cache, ws->ref, rc == RELABEL_KEPT && final.n ? &final : NULL, seg,
			     rws_progress_last_id(&q->prog), &e);
}

static int series_record(struct watch *w, const void *rec, size_t len, int seg)
{
	struct tsdb_wal_series *s;
	size_t n;
	int rc = tsdb_wal_decode_series(rec, len, w->a, &s, &n, w->err, sizeof(w->err));

	if (rc == TSDB_WAL_ECORRUPT) {
		log_w(w, LOG_LEVEL_WARN, "Undecodable series record skipped", "err", w->err, NULL, NULL);
		return 0;
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = store_series(w, &s[i], seg);
	if (rc < 0)
		log_w(w, LOG_LEVEL_ERROR, "Out of memory caching series", NULL, NULL, NULL, NULL);
	return 0;
}

/* --- samples ----------------------------------------------------------------------- */

static size_t shard_of(uint64_t ref, int nshards)
{
	ref ^= ref >> 31;
	ref *= 0x7fb5d329728ea185ULL;
	ref ^= ref >> 27;
	return (size_t)(ref % (uint64_t)nshards);
}

static int reserve(struct watch *w, size_t n)
{
	size_t cap = w->acc_cap ? w->acc_cap : 1024;
	struct rws_entry *a, *r;

	if (n <= w->acc_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	a = realloc(w->acc, cap * sizeof(*a));
	if (!a)
		return -1;
	w->acc = a;
	r = realloc(w->routed, cap * sizeof(*r));
	if (!r)
		return -1;
	w->routed = r;
	w->acc_cap = cap;
	return 0;
}

/* Keep the samples that are to be sent; count the dropped ones. */
static size_t select_samples(struct watch *w, const struct tsdb_wal_sample *s, size_t n,
			     enum smode mode)
{
	struct rws_queue *q = w->q;
	int64_t hi = INT64_MIN;
	uint64_t dropped = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct rws_series *e = rws_cache_get(&q->cache, s[i].ref);

		if (s[i].t > hi)
			hi = s[i].t;
		if (!e || e->dropped) {
			dropped++;
			continue;
		}
		if (s[i].t <= w->min_t || (mode == SAMPLES_NEWER && s[i].t <= e->last_t))
			continue;
		w->acc[k++] = (struct rws_entry){ e, NULL, s[i].t, s[i].v, 0 };
	}
	if (n)
		rws_queue_note_highest(q, hi);
	atomic_fetch_add(&q->read_in, n);
	if (dropped) {
		atomic_fetch_add(&q->dropped, dropped);
		metrics_add(q->mc.dropped, (double)dropped);
	}
	return k;
}

/* The same for exemplars (send_exemplars), each with its own copy of its labels. */
static size_t select_exemplars(struct watch *w, const struct tsdb_wal_exemplar *x, size_t n,
			       enum smode mode)
{
	struct rws_queue *q = w->q;
	uint64_t dropped = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct rws_series *e = rws_cache_get(&q->cache, x[i].ref);
		struct labels *ls;

		if (!e || e->dropped) {
			dropped++;
			continue;
		}
		if (x[i].t <= w->min_t || (mode == SAMPLES_NEWER && x[i].t <= e->last_ex_t))
			continue;
		ls = rws_labels_dup(&x[i].labels);
		if (!ls) {
			log_w(w, LOG_LEVEL_ERROR, "Out of memory queueing an exemplar", NULL, NULL, NULL,
			      NULL);
			dropped++;
			continue;
		}
		w->acc[k++] = (struct rws_entry){ e, ls, x[i].t, x[i].v, 0 };
	}
	atomic_fetch_add(&q->read_in, n);
	if (dropped) {
		atomic_fetch_add(&q->ex_dropped, dropped);
		metrics_add(q->mc.ex_dropped, (double)dropped);
	}
	return k;
}

static int size_counts(struct watch *w, int nshards)
{
	size_t want = (size_t)nshards + 1;
	size_t *c;

	if (want <= w->ncounts)
		return 0;
	c = realloc(w->counts, want * sizeof(*c));
	if (!c)
		return -1;
	w->counts = c;
	w->ncounts = want;
	return 0;
}

/* Count k entries as queued, in the open progress slot; W_STOP if stopped first. */
static int account(struct watch *w, size_t k)
{
	struct rws_queue *q = w->q;
	size_t nex = 0;
	uint64_t id;

	while (rws_progress_add(&q->prog, k, &id) < 0) {
		if (stopping(w))
			return W_STOP;
		rws_progress_seal(&q->prog);
		rws_progress_wait(&q->prog, 100);
		rws_queue_maybe_save(q);
	}
	for (size_t i = 0; i < k; i++) {
		struct rws_entry *e = &w->acc[i];
		int64_t *last = e->ex ? &e->s->last_ex_t : &e->s->last_t;

		e->slot = id;
		nex += e->ex != NULL;
		if (e->t > *last)
			*last = e->t;
	}
	atomic_fetch_add(&q->pending, k - nex);
	metrics_add(q->mc.pending, (double)(k - nex));
	if (nex) {
		atomic_fetch_add(&q->ex_pending, nex);
		metrics_add(q->mc.ex_pending, (double)nex);
	}
	return W_OK;
}

/* Hand k selected entries to their shards, in order per shard. A reshard asked for
 * happens first, so a record never straddles two shard sets. Entries not handed over
 * when the queue stops are released here. */
static int route(struct watch *w, size_t k)
{
	struct rws_queue *q = w->q;
	size_t off = 0;

	if (rws_reshard_pending(q))
		goto stop;
	while (size_counts(w, q->nshards)) {
		log_w(w, LOG_LEVEL_ERROR, "Out of memory routing samples", NULL, NULL, NULL, NULL);
		idle(w, DAMAGE_PAUSE_MS);
		if (stopping(w))
			goto stop;
	}
	if (account(w, k))
		goto stop;
	if (q->nshards == 1)
		return rws_shard_push(&q->shards[0], w->acc, k) ? W_STOP : W_OK;
	memset(w->counts, 0, ((size_t)q->nshards + 1) * sizeof(*w->counts));
	for (size_t i = 0; i < k; i++)
		w->counts[shard_of(w->acc[i].s->ref, q->nshards) + 1]++;
	for (int i = 0; i < q->nshards; i++)
		w->counts[i + 1] += w->counts[i];
	for (size_t i = 0; i < k; i++)
		w->routed[w->counts[shard_of(w->acc[i].s->ref, q->nshards)]++] = w->acc[i];
	for (int i = 0; i < q->nshards; i++) {
		size_t end = w->counts[i];

		if (end > off && rws_shard_push(&q->shards[i], w->routed + off, end - off)) {
			rws_entries_release(w->routed + end, k - end);
			return W_STOP;
		}
		off = end;
	}
	return W_OK;
stop:
	rws_entries_release(w->acc, k);
	return W_STOP;
}

/* A decoded record of n entries (rc the decoder's result) can be queued: room for its
 * entries exists. Problems are logged, and the record skipped. */
static bool decoded(struct watch *w, int rc, size_t n, const char *what)
{
	char msg[64];

	if (rc < 0) {
		snprintf(msg, sizeof(msg), rc == TSDB_WAL_ECORRUPT ? "Undecodable %s record skipped"
								   : "Out of memory decoding %s", what);
		log_w(w, LOG_LEVEL_WARN, msg, "err", w->err, NULL, NULL);
		return false;
	}
	if (reserve(w, n)) {
		snprintf(msg, sizeof(msg), "Out of memory queueing %s", what);
		log_w(w, LOG_LEVEL_ERROR, msg, NULL, NULL, NULL, NULL);
		return false;
	}
	return true;
}

static int samples_record(struct watch *w, const void *rec, size_t len, enum smode mode)
{
	struct tsdb_wal_sample *s;
	size_t n = 0, k;
	int rc = tsdb_wal_decode_samples(rec, len, w->a, &s, &n, w->err, sizeof(w->err));

	if (!decoded(w, rc, n, "samples"))
		return W_OK;
	k = select_samples(w, s, n, mode);
	return k ? route(w, k) : W_OK;
}

static int exemplars_record(struct watch *w, const void *rec, size_t len, enum smode mode)
{
	struct tsdb_wal_exemplar *x;
	size_t n = 0, k;
	int rc = tsdb_wal_decode_exemplars(rec, len, w->a, &x, &n, w->err, sizeof(w->err));

	if (!decoded(w, rc, n, "exemplars"))
		return W_OK;
	k = select_exemplars(w, x, n, mode);
	return k ? route(w, k) : W_OK;
}

static int record(struct watch *w, const void *rec, size_t len, int seg, enum smode mode)
{
	arena_reset(w->a);
	switch (tsdb_wal_record_type(rec, len)) {
	case TSDB_WAL_REC_SERIES:
		return series_record(w, rec, len, seg);
	case TSDB_WAL_REC_SAMPLES:
	case TSDB_WAL_REC_SAMPLES_DENSE:
	case TSDB_WAL_REC_SAMPLES_DENSE2:
		return mode == SAMPLES_NONE ? W_OK : samples_record(w, rec, len, mode);
	case TSDB_WAL_REC_EXEMPLARS:
		if (mode == SAMPLES_NONE || !w->q->conf->c.send_exemplars)
			return W_OK;
		return exemplars_record(w, rec, len, mode);
	default:
		return W_OK;
	}
}

/* --- housekeeping ------------------------------------------------------------------ */

static void idle(struct watch *w, int64_t ms)
{
	struct rws_queue *q = w->q;

	rws_progress_seal(&q->prog);
	rws_cache_release(&q->cache, rws_progress_done_below(&q->prog));
	rws_queue_maybe_save(w->q);
	if (rws_reshard_pending(q))
		return; /* stopping: the callers see it */
	pthread_mutex_lock(&q->mu);
	if (!atomic_load(&q->stop_reading) && !atomic_load(&q->reshard_req))
		rws_cond_wait_ms(&q->cv, &q->mu, ms);
	pthread_mutex_unlock(&q->mu);
}

/* Read every record of a checkpoint directory: load (series, and samples by mode)
 * or, for garbage collection, only mark the cached series it still holds. */
static int read_checkpoint_dir(struct watch *w, const char *dir, int n, enum smode mode,
			       bool touch_only)
{
	struct tsdb_wal_reader *r;
	const void *rec;
	size_t len;
	int rc;

	if (tsdb_wal_reader_open(dir, -1, &r, w->err, sizeof(w->err)))
		return W_RETRY;
	while ((rc = tsdb_wal_reader_next(r, &rec, &len, w->err, sizeof(w->err))) == 1) {
		int wr;

		if (stopping(w)) {
			tsdb_wal_reader_close(r);
			return W_STOP;
		}
		if (!touch_only) {
			wr = record(w, rec, len, n, mode);
			if (wr != W_OK) {
				tsdb_wal_reader_close(r);
				return wr;
			}
		} else if (tsdb_wal_record_type(rec, len) == TSDB_WAL_REC_SERIES) {
			struct tsdb_wal_series *s;
			size_t ns;

			arena_reset(w->a);
			if (tsdb_wal_decode_series(rec, len, w->a, &s, &ns, w->err, sizeof(w->err)))
				continue;
			for (size_t i = 0; i < ns; i++) {
				struct rws_series *e = rws_cache_get(&w->q->cache, s[i].ref);

				if (e && e->seg < n)
					e->seg = n;
			}
		}
	}
	tsdb_wal_reader_close(r);
	return rc == 0 ? W_OK : rc == TSDB_WAL_EGONE ? W_GONE : W_RETRY;
}

/* A newer checkpoint than the one the cache was collected at: drop what it lost. */
static void collect(struct watch *w)
{
	struct rws_queue *q = w->q;
	char path[4096];
	int n;

	if (tsdb_wal_checkpoint_last(q->env.wal_dir, &n, path, sizeof(path), w->err, sizeof(w->err)) ||
	    n <= w->gc_cp)
		return;
	if (read_checkpoint_dir(w, path, n, SAMPLES_NONE, true) != W_OK)
		return;
	rws_cache_collect(&q->cache, n, rws_progress_last_id(&q->prog));
	rws_cache_release(&q->cache, rws_progress_done_below(&q->prog));
	w->gc_cp = n;
}

/* --- the loops --------------------------------------------------------------------- */

static int load_checkpoint(struct watch *w, enum smode mode)
{
	struct rws_queue *q = w->q;
	char path[4096], num[16];
	int n, rc;

	if (tsdb_wal_checkpoint_last(q->env.wal_dir, &n, path, sizeof(path), w->err,
				     sizeof(w->err))) {
		log_w(w, LOG_LEVEL_ERROR, "Error listing WAL checkpoints", "err", w->err, NULL, NULL);
		return W_RETRY;
	}
	w->cp = n;
	if (n < 0)
		return W_OK;
	snprintf(num, sizeof(num), "%08d", n);
	log_w(w, LOG_LEVEL_DEBUG, "Reading checkpoint", "checkpoint", num, NULL, NULL);
	rc = read_checkpoint_dir(w, path, n, mode, false);
	if (rc == W_RETRY)
		log_w(w, LOG_LEVEL_ERROR, "Error reading WAL checkpoint", "err", w->err, NULL, NULL);
	if (rc != W_OK)
		return rc == W_GONE ? W_RETRY : rc;
	if (n > w->gc_cp)
		w->gc_cp = n;
	rws_progress_mark(&q->prog, (struct rws_pos){ n + 1, 0 });
	return W_OK;
}

/* After damage at segment seg: reread it (skipping what was queued) or give it up. */
static int recover(struct watch *w, int seg, bool have_cur, struct rws_pos cur, int *tries)
{
	const char *dir = w->q->env.wal_dir;
	int64_t size;

	if (have_cur && (!w->gated || rws_pos_after(cur, w->gate))) {
		w->gate = cur;
		w->gated = true;
	}
	/* A writer that cut back unacknowledged batches appends below our offset next. */
	size = segment_size(dir, seg);
	if (w->gated && w->gate.seg == seg && size >= 0 && size < w->gate.off)
		w->gate.off = size;
	idle(w, DAMAGE_PAUSE_MS);
	if (++*tries >= DAMAGE_TRIES && segment_exists(dir, seg + 1)) {
		char s[16];

		snprintf(s, sizeof(s), "%08d", seg);
		log_w(w, LOG_LEVEL_ERROR, "Giving up on the rest of a damaged WAL segment", "segment",
		      s, NULL, NULL);
		*tries = 0;
		return seg + 1;
	}
	return seg;
}

static int open_at(struct watch *w, int seg, struct tsdb_wal_reader **r)
{
	while (tsdb_wal_reader_open(w->q->env.wal_dir, seg, r, w->err, sizeof(w->err))) {
		log_w(w, LOG_LEVEL_ERROR, "Error opening the WAL", "err", w->err, NULL, NULL);
		if (stopping(w))
			return W_STOP;
		idle(w, DAMAGE_PAUSE_MS);
	}
	return W_OK;
}

static void batch_done(struct watch *w, struct rws_pos p)
{
	rws_progress_mark(&w->q->prog, p);
	atomic_store(&w->q->segment, p.seg);
	metrics_set(w->q->mc.segment, p.seg);
}

static int first_segment(struct watch *w)
{
	int f, l, first = w->cp >= 0 ? w->cp + 1 : -1;

	if (tsdb_wal_segments(w->q->env.wal_dir, &f, &l, w->err, sizeof(w->err)) == 0 && f > first &&
	    first >= 0) {
		log_w(w, LOG_LEVEL_WARN, "WAL segments after the checkpoint are missing", NULL, NULL,
		      NULL, NULL);
		first = f;
	}
	return first;
}

/* Follow the segments until stopped or a checkpoint overtakes us (W_GONE). */
static int tail(struct watch *w)
{
	struct tsdb_wal_reader *r = NULL;
	struct rws_pos cur = { -1, 0 }, p;
	bool have_cur = false;
	int seg = first_segment(w), tries = 0, rc;
	const void *rec;
	size_t len;

	if (open_at(w, seg, &r))
		return W_STOP;
	for (;;) {
		if (stopping(w)) {
			rc = W_STOP;
			break;
		}
		rc = tsdb_wal_reader_next(r, &rec, &len, w->err, sizeof(w->err));
		if (rc == 1) {
			tsdb_wal_reader_position(r, &p.seg, &p.off);
			if (!have_cur || p.seg != cur.seg || p.off != cur.off) {
				if (have_cur)
					batch_done(w, cur);
				if (have_cur && p.seg != cur.seg) {
					collect(w);
					tries = 0;
				}
				cur = p;
				have_cur = true;
				rws_queue_maybe_save(w->q);
			}
			rc = record(w, rec, len, cur.seg,
				    w->gated && !rws_pos_after(cur, w->gate) ? SAMPLES_NONE : SAMPLES_ALL);
			if (rc != W_OK)
				break;
			continue;
		}
		if (have_cur)
			batch_done(w, cur);
		if (rc == 0) {
			idle(w, w->q->env.poll_interval_ms);
			continue;
		}
		if (rc == TSDB_WAL_EGONE) {
			log_w(w, LOG_LEVEL_INFO, "WAL segment removed by a checkpoint, rereading it",
			      "err", w->err, NULL, NULL);
			rc = W_GONE;
			break;
		}
		log_w(w, LOG_LEVEL_ERROR, "Error reading the WAL", "err", w->err, NULL, NULL);
		tsdb_wal_reader_position(r, &seg, &p.off);
		tsdb_wal_reader_close(r);
		r = NULL;
		seg = recover(w, seg, have_cur, cur, &tries);
		have_cur = false;
		if (open_at(w, seg, &r))
			return W_STOP;
	}
	tsdb_wal_reader_close(r);
	return rc;
}

/* --- start ------------------------------------------------------------------------- */

static void start(struct watch *w)
{
	struct rws_queue *q = w->q;
	struct rws_pos pos;
	char s1[16], s2[24];
	int f, l, cp, rc;
	int64_t size;

	w->min_t = q->start_ms;
	rc = rws_position_load(q->pos_path, &pos, w->err, sizeof(w->err));
	if (rc < 0)
		log_w(w, LOG_LEVEL_WARN, "Ignoring unreadable position file", "err", w->err, NULL, NULL);
	if (rc <= 0) {
		log_w(w, LOG_LEVEL_INFO, "Starting WAL watcher", NULL, NULL, NULL, NULL);
		return;
	}
	if (tsdb_wal_segments(q->env.wal_dir, &f, &l, w->err, sizeof(w->err)) == 0 && l < 0 &&
	    tsdb_wal_checkpoint_last(q->env.wal_dir, &cp, NULL, 0, w->err, sizeof(w->err)) == 0 &&
	    cp < 0) {
		/* A new, empty WAL: everything in it will be new. */
		log_w(w, LOG_LEVEL_INFO, "Starting WAL watcher on an empty WAL", NULL, NULL, NULL, NULL);
		w->min_t = INT64_MIN;
		return;
	}
	if (l >= 0) {
		/* The log was cut back (repair) below the position: resume at its end. */
		size = segment_size(q->env.wal_dir, l);
		if (pos.seg > l || (pos.seg == l && pos.off > size)) {
			log_w(w, LOG_LEVEL_WARN, "Position is beyond the end of the WAL", NULL, NULL,
			      NULL, NULL);
			pos = (struct rws_pos){ l, size > 0 ? size : 0 };
		}
	}
	w->gated = true;
	w->gate = pos;
	w->min_t = INT64_MIN;
	rws_progress_start(&q->prog, pos);
	q->saved = pos;
	q->saved_any = true;
	snprintf(s1, sizeof(s1), "%08d", pos.seg);
	snprintf(s2, sizeof(s2), "%lld", (long long)pos.off);
	log_w(w, LOG_LEVEL_INFO, "Resuming WAL watcher", "segment", s1, "offset", s2);
}

/* Checkpoint samples are wanted when the data after the gate may be in it; with
 * SAMPLES_NEWER the per-series last_t makes a second read of it harmless. */
static enum smode checkpoint_mode(const struct watch *w, bool gone)
{
	int n;
	char err[64];

	if (gone || !w->gated)
		return SAMPLES_NEWER; /* a first start filters by the start time too */
	if (tsdb_wal_checkpoint_last(w->q->env.wal_dir, &n, NULL, 0, err, sizeof(err)) || n < 0)
		return SAMPLES_NONE;
	return w->gate.seg <= n ? SAMPLES_NEWER : SAMPLES_NONE;
}

void *rws_watcher_main(void *arg)
{
	struct watch w = { .q = arg, .cp = -1, .gc_cp = -1 };
	struct rws_queue *q = w.q;
	bool gone = false;

	w.a = arena_new(0);
	if (!w.a) {
		log_w(&w, LOG_LEVEL_ERROR, "Out of memory starting the WAL watcher", NULL, NULL, NULL,
		      NULL);
		goto out;
	}
	start(&w);
	q->next_save_ms = rws_now_ms() + q->env.position_interval_ms;
	while (!stopping(&w)) {
		enum smode mode = checkpoint_mode(&w, gone);
		int rc = load_checkpoint(&w, mode);

		if (rc == W_STOP)
			break;
		if (rc == W_RETRY) {
			/* What a partial read queued is not queued again by the next one. */
			gone = gone || mode == SAMPLES_NEWER;
			idle(&w, DAMAGE_PAUSE_MS);
			continue;
		}
		rc = tail(&w);
		if (rc == W_STOP)
			break;
		gone = true;
	}
	rws_progress_seal(&q->prog);
out:
	free(w.acc);
	free(w.routed);
	free(w.counts);
	arena_free(w.a);
	return NULL;
}
