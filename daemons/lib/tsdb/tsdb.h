/*
 * tsdb: the time-series storage engine shared by lgtm-metrics and lgtm-longterm.
 *
 * What it owns:
 * - XOR chunks: Prometheus' chunkenc XOR format, bit for bit (2-byte big-endian sample
 *   count, varint t0, raw float64 v0, uvarint first delta, then delta-of-delta
 *   timestamps and XOR'd values), so blocks and remote-read chunks are interchangeable
 *   with Prometheus'.
 * - The head: the in-memory part of the database. Series are keyed by their sorted label
 *   set and get monotonically increasing uint64 refs. Samples go into per-series XOR
 *   chunks (cut at about 120 samples, never across a chunk-range boundary); an inverted
 *   index maps label name -> value -> sorted refs. Label strings are stored once, in the
 *   index, and series point at them.
 * - Matchers (=, !=, =~, !~) with Prometheus semantics and the querier interface that
 *   PromQL and the HTTP API use over the head and over blocks (block.h).
 * - The exemplar store: Prometheus' circular exemplar storage (its section below).
 *
 * Append rules (Prometheus'): per series, t must be greater than the last in-order
 * sample's; an equal t with the same value bits is accepted silently, with other bits it
 * is "duplicate sample for timestamp"; t below the head's appendable minimum
 * (max(min valid time, head max time - chunk range / 2)) is "out of bounds"; an older t
 * is "out of order sample". With an out-of-order window W, samples older than the last
 * one but not older than head max time - W are kept in a per-series out-of-order buffer
 * and merged at query time; older ones are "too old sample". Below the min valid time
 * (raised when blocks are cut) every path refuses with "out of bounds". The stale NaN
 * (TSDB_STALE_NAN_BITS) is a value like any other and keeps its bits.
 *
 * Thread-safety: a head is safe for any number of threads. Appends take one stripe lock
 * (by ref or by label hash) and the series' own lock, never a head-wide lock. Queriers
 * read a per-series snapshot (closed chunks are immutable; the open chunk's bytes are
 * copied under the series lock) and never hold a lock across calls. Memory that a
 * truncation frees is reclaimed only after every querier opened before it has closed,
 * and a truncation waits for the open queriers whose range reaches below its point (as
 * Prometheus does), so a thread must not truncate while it holds such a querier.
 * Queriers, series sets, iterators and chunk appenders/iterators are single-threaded
 * objects. tsdb_head_free() needs all other users gone.
 *
 * Lifetimes: everything a querier returns (series sets, labels, strings, iterators)
 * lives until the querier is closed; a series set's iterator and its current series'
 * samples are valid until that set's next call to next().
 *
 * Errors: functions return 0 or a negative TSDB_E* code and fill `err` with the
 * upstream message where there is one ("out of order sample", ...).
 */
#ifndef LGTM_TSDB_H
#define LGTM_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena/arena.h"
#include "labels/labels.h"

enum tsdb_err {
	TSDB_EFAIL = -1,          /* allocation failure, bad argument, corrupt data */
	TSDB_EOUT_OF_ORDER = -2,  /* "out of order sample" */
	TSDB_EDUPLICATE = -3,     /* "duplicate sample for timestamp" */
	TSDB_EOUT_OF_BOUNDS = -4, /* "out of bounds" */
	TSDB_ETOO_OLD = -5,       /* "too old sample" (out-of-order window on, sample older) */
	TSDB_ENOT_FOUND = -6,     /* unknown series ref (never created, or truncated away) */
	TSDB_EEXEMPLAR_OUT_OF_ORDER = -7, /* "out of order exemplar" */
	TSDB_EEXEMPLAR_LABELS = -8,       /* "label length for exemplar exceeds maximum of 128 UTF-8 characters" */
};

/* Prometheus' staleness marker: a NaN with this exact bit pattern. */
#define TSDB_STALE_NAN_BITS 0x7ff0000000000002ULL

double tsdb_stale_nan(void);

/* Inline: the evaluator checks every sample it reads. */
static inline bool tsdb_is_stale_nan(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b == TSDB_STALE_NAN_BITS;
}

struct tsdb_sample {
	int64_t t; /* milliseconds since the epoch */
	double v;
};

/* ---- XOR chunks --------------------------------------------------------------------- */

#define TSDB_XOR_MAX_SAMPLES 65535 /* the header's uint16 */

/* Builds one chunk in a malloc'd buffer that it grows; `buf[0..len)` is always a
 * complete, readable chunk while `base` is 0. Zero it with tsdb_xor_appender_init().
 * An owner may move the chunk's settled first bytes elsewhere (shed): buf then holds
 * bytes [base, base + len) of the chunk and the header (the sample count, n) is the
 * owner's to write where those first bytes went. */
struct tsdb_xor_appender {
	uint8_t *buf;
	int64_t t;       /* last timestamp */
	uint64_t vbits;  /* last value's bits */
	uint64_t tdelta; /* last timestamp delta */
	uint32_t len, cap;
	uint16_t base;             /* chunk bytes before buf[0], shed (head chunks only) */
	uint16_t n;                /* samples (mirrors the header, read without touching buf) */
	uint8_t leading, trailing; /* current XOR window; leading 0xff = none yet */
	uint8_t bits_free;         /* unused low bits in buf[len - 1] */
};

void tsdb_xor_appender_init(struct tsdb_xor_appender *a);
/* Continue an existing chunk (copied), in the state Prometheus' Appender() would have. */
int tsdb_xor_appender_resume(struct tsdb_xor_appender *a, const uint8_t *chunk, size_t len,
			     char *err, size_t errlen);
/* t must be greater than the last t (TSDB_EOUT_OF_ORDER / TSDB_EDUPLICATE otherwise);
 * TSDB_EFAIL when the chunk is full or memory runs out (the chunk is unchanged). */
int tsdb_xor_append(struct tsdb_xor_appender *a, int64_t t, double v, char *err,
		    size_t errlen);
uint16_t tsdb_xor_appender_samples(const struct tsdb_xor_appender *a);
/* Give up the buffer (shrunk to its length) to the caller, who frees it; the appender
 * is reset to empty. NULL on allocation failure of a fresh empty chunk. Only for a
 * chunk that shed nothing (base 0). */
uint8_t *tsdb_xor_appender_finish(struct tsdb_xor_appender *a, size_t *len);
void tsdb_xor_appender_free(struct tsdb_xor_appender *a);
/* Start a new, empty chunk in the same buffer. */
void tsdb_xor_appender_restart(struct tsdb_xor_appender *a);
/* Whether the next append might have to grow the buffer. */
bool tsdb_xor_appender_full(const struct tsdb_xor_appender *a);
/* Bytes at the start of buf that no append changes any more (all but a last,
 * partly filled byte). */
uint32_t tsdb_xor_appender_settled(const struct tsdb_xor_appender *a);
/* Copy the settled bytes to dst and drop them from buf (base grows by as many; the
 * caller keeps base + len under 64 KiB). */
void tsdb_xor_appender_shed(struct tsdb_xor_appender *a, uint8_t *dst);
/* Write a chunk's header: its sample count. */
void tsdb_xor_put_header(uint8_t *chunk, uint16_t n);

/* Sample count from a chunk's header (0 for a chunk shorter than the header). */
uint16_t tsdb_xor_samples(const uint8_t *chunk, size_t len);

/* Reads a chunk in place; the bytes must stay valid and unchanged while it is used. */
struct tsdb_xor_iter {
	const uint8_t *b; /* after the header */
	size_t nbits;
	size_t pos;
	uint16_t total, read;
	int64_t t;
	uint64_t vbits;
	uint64_t tdelta;
	uint8_t leading, trailing;
	bool corrupt;
};

void tsdb_xor_iter_init(struct tsdb_xor_iter *it, const uint8_t *chunk, size_t len);
bool tsdb_xor_iter_next(struct tsdb_xor_iter *it);
/* Advance to the first sample with timestamp >= t (never backwards). */
bool tsdb_xor_iter_seek(struct tsdb_xor_iter *it, int64_t t);
void tsdb_xor_iter_at(const struct tsdb_xor_iter *it, int64_t *t, double *v);
/* TSDB_EFAIL if the chunk ended early or is malformed, else 0. */
int tsdb_xor_iter_err(const struct tsdb_xor_iter *it, char *err, size_t errlen);

/* ---- matchers ----------------------------------------------------------------------- */

enum tsdb_match_type { TSDB_MATCH_EQ, TSDB_MATCH_NEQ, TSDB_MATCH_RE, TSDB_MATCH_NRE };

/* A label matcher. A label that a series lacks has the value "", so a matcher that
 * matches "" also selects series without the label ({a=""}, {a!="x"}, {a=~"|b"}).
 * Regexes are fully anchored (labels_regex); common shapes skip the regex engine:
 * literals, `lit.*`, `.*lit`, `.*lit.*`, `a|b|c` (optionally in one group), `.*`, `.+`. */
struct tsdb_matcher {
	enum tsdb_match_type type;
	char *name;  /* owned copies */
	char *value;
	/* private: the compiled form */
	int kind;
	struct labels_regex *re;
	char *lit;          /* the literal for the fast paths */
	size_t lit_len;
	const char **set;   /* sorted alternatives (point into set_mem) */
	size_t nset;
	char *set_mem;
};

int tsdb_matcher_init(struct tsdb_matcher *m, enum tsdb_match_type type, const char *name,
		      const char *value, char *err, size_t errlen);
void tsdb_matcher_free(struct tsdb_matcher *m);
/* Does the label value `v` ("" for an absent label) satisfy m? */
bool tsdb_matcher_matches(const struct tsdb_matcher *m, const char *v);
/* PromQL's rule: a selector needs at least one matcher that does not match "".
 * False (selector refused, "vector selector must contain at least one non-empty
 * matcher") when every matcher matches the empty string or there is none. */
bool tsdb_matchers_selective(const struct tsdb_matcher *ms, size_t n);
const char *tsdb_match_type_str(enum tsdb_match_type t); /* "=", "!=", "=~", "!~" */

/* ---- querier interface -------------------------------------------------------------- */

struct tsdb_iterator;

/* Where tsdb_iterator_fill left the iterator. */
enum tsdb_fill_state {
	TSDB_FILL_END,   /* no sample left (or an error: see err()) */
	TSDB_FILL_FULL,  /* cap samples copied; on the last of them */
	TSDB_FILL_LIMIT, /* on a sample at or past tlimit, not copied */
};

struct tsdb_iterator_ops {
	bool (*next)(struct tsdb_iterator *it);
	/* First sample with timestamp >= t; stays put if already there; false at the end. */
	bool (*seek)(struct tsdb_iterator *it, int64_t t);
	void (*at)(const struct tsdb_iterator *it, int64_t *t, double *v);
	int (*err)(const struct tsdb_iterator *it, char *err, size_t errlen);
	/* Optional (NULL: next/at one by one): what tsdb_iterator_fill does. */
	size_t (*fill)(struct tsdb_iterator *it, int64_t tlimit, struct tsdb_sample *out,
		       size_t cap, enum tsdb_fill_state *state);
};

/* Samples of one series, ascending by timestamp, unique timestamps, within the range
 * the series was selected for. */
struct tsdb_iterator {
	const struct tsdb_iterator_ops *ops;
};

static inline bool tsdb_iterator_next(struct tsdb_iterator *it)
{
	return it->ops->next(it);
}

static inline bool tsdb_iterator_seek(struct tsdb_iterator *it, int64_t t)
{
	return it->ops->seek(it, t);
}

static inline void tsdb_iterator_at(const struct tsdb_iterator *it, int64_t *t, double *v)
{
	it->ops->at(it, t, v);
}

static inline int tsdb_iterator_err(const struct tsdb_iterator *it, char *err, size_t errlen)
{
	return it->ops->err(it, err, errlen);
}

/* next() one by one, for iterators without a fill of their own. */
size_t tsdb_iterator_fill_each(struct tsdb_iterator *it, int64_t tlimit, struct tsdb_sample *out,
			       size_t cap, enum tsdb_fill_state *state);

/*
 * Batched next(): advances as next() would, copying each new current sample into
 * out[] while its timestamp is below tlimit, at most cap (> 0) of them; returns how
 * many were copied and, in *state, where the iterator stopped. It is on a sample
 * afterwards unless the state is TSDB_FILL_END, so at(), next() and seek() carry on
 * from there. The readers of many samples (the PromQL evaluator) use it to skip the
 * per-sample indirect calls through the iterator layers.
 */
static inline size_t tsdb_iterator_fill(struct tsdb_iterator *it, int64_t tlimit,
					struct tsdb_sample *out, size_t cap,
					enum tsdb_fill_state *state)
{
	if (it->ops->fill)
		return it->ops->fill(it, tlimit, out, cap, state);
	return tsdb_iterator_fill_each(it, tlimit, out, cap, state);
}

struct tsdb_series_set;

struct tsdb_series_set_ops {
	bool (*next)(struct tsdb_series_set *ss);
	const struct labels *(*labels)(const struct tsdb_series_set *ss);
	/* A fresh iterator over the current series (valid until the next call to next()). */
	struct tsdb_iterator *(*iterator)(struct tsdb_series_set *ss);
	int (*err)(const struct tsdb_series_set *ss, char *err, size_t errlen);
};

/* Series sorted by labels_compare(), each once. */
struct tsdb_series_set {
	const struct tsdb_series_set_ops *ops;
};

static inline bool tsdb_series_set_next(struct tsdb_series_set *ss)
{
	return ss->ops->next(ss);
}

static inline const struct labels *tsdb_series_set_labels(const struct tsdb_series_set *ss)
{
	return ss->ops->labels(ss);
}

static inline struct tsdb_iterator *tsdb_series_set_iterator(struct tsdb_series_set *ss)
{
	return ss->ops->iterator(ss);
}

static inline int tsdb_series_set_err(const struct tsdb_series_set *ss, char *err,
				      size_t errlen)
{
	return ss->ops->err(ss, err, errlen);
}

struct tsdb_select_hints {
	int64_t start, end;  /* narrower than the querier's range when set (start <= end) */
	bool labels_only;    /* the caller will not iterate samples (series API) */
};

/* Sorted, unique strings owned by the querier. */
struct tsdb_strings {
	const char **v;
	size_t n;
};

struct tsdb_querier;

struct tsdb_querier_ops {
	/* Series with data in range matching every matcher (none: all series); hints may
	 * be NULL. The set lives in the querier. */
	int (*select)(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
		      const struct tsdb_select_hints *hints, struct tsdb_series_set **out,
		      char *err, size_t errlen);
	/* Names of labels of the series matching ms (all series when n == 0). */
	int (*label_names)(struct tsdb_querier *q, const struct tsdb_matcher *ms, size_t n,
			   struct tsdb_strings *out, char *err, size_t errlen);
	/* Values of label `name` over the series matching ms (all when n == 0). */
	int (*label_values)(struct tsdb_querier *q, const char *name,
			    const struct tsdb_matcher *ms, size_t n, struct tsdb_strings *out,
			    char *err, size_t errlen);
	void (*close)(struct tsdb_querier *q);
};

/* Reads data in [mint, maxt] (inclusive, milliseconds). */
struct tsdb_querier {
	const struct tsdb_querier_ops *ops;
	int64_t mint, maxt;
	struct arena *arena; /* results live here until close */
};

static inline int tsdb_querier_select(struct tsdb_querier *q, const struct tsdb_matcher *ms,
				      size_t n, const struct tsdb_select_hints *hints,
				      struct tsdb_series_set **out, char *err, size_t errlen)
{
	return q->ops->select(q, ms, n, hints, out, err, errlen);
}

static inline int tsdb_querier_label_names(struct tsdb_querier *q,
					   const struct tsdb_matcher *ms, size_t n,
					   struct tsdb_strings *out, char *err, size_t errlen)
{
	return q->ops->label_names(q, ms, n, out, err, errlen);
}

static inline int tsdb_querier_label_values(struct tsdb_querier *q, const char *name,
					    const struct tsdb_matcher *ms, size_t n,
					    struct tsdb_strings *out, char *err, size_t errlen)
{
	return q->ops->label_values(q, name, ms, n, out, err, errlen);
}

static inline void tsdb_querier_close(struct tsdb_querier *q)
{
	if (q)
		q->ops->close(q);
}

/* Merge several series sets (e.g. blocks and head) into one sorted set allocated in
 * `a`: series with equal labels become one whose samples are merged by timestamp; on
 * equal timestamps the set listed first wins. NULL on allocation failure. */
struct tsdb_series_set *tsdb_merge_series_sets(struct arena *a, struct tsdb_series_set **sets,
					       size_t n);
/* A querier over the union of `qs` (which it owns and closes, also on failure):
 * select merges as above, label names/values are merged and deduplicated. */
int tsdb_merge_querier(struct tsdb_querier **qs, size_t n, int64_t mint, int64_t maxt,
		       struct tsdb_querier **out, char *err, size_t errlen);
/* A set with no series (for queriers with nothing in range). */
struct tsdb_series_set *tsdb_empty_series_set(void);

/* ---- head --------------------------------------------------------------------------- */

#define TSDB_DEFAULT_CHUNK_RANGE_MS (2 * 3600 * 1000LL)

struct tsdb_head_options {
	int64_t chunk_range_ms; /* block range: chunk cuts and the append window; 0 = 2h */
	int64_t ooo_window_ms;  /* out-of-order window; 0 = reject out-of-order samples */
	unsigned stripes;       /* lock stripes per map; 0 = 1024 (rounded to a power of 2) */
	/* Park closed chunks (immutable) in an unlinked scratch file in this directory,
	 * read through a mapping, instead of on the heap; NULL, or a directory where the
	 * file cannot be made: the heap. The file holds nothing durable. */
	const char *chunk_dir;
	uint64_t chunk_store_bytes; /* its size (sparse) and address space; 0 = 8 GiB */
};

struct tsdb_head;

int tsdb_head_new(const struct tsdb_head_options *opt, struct tsdb_head **out, char *err,
		  size_t errlen);
void tsdb_head_free(struct tsdb_head *h);

/* Look up or create the series for `ls` (any order; labels with empty values are
 * dropped, as Prometheus does). Errors: "empty labelset", duplicate names. */
int tsdb_head_get_or_create(struct tsdb_head *h, const struct labels *ls, uint64_t *ref,
			    bool *created, char *err, size_t errlen);
/* Look up only: 0, or TSDB_ENOT_FOUND. */
int tsdb_head_get(struct tsdb_head *h, const struct labels *ls, uint64_t *ref);
/* Append one sample under the append rules above. An accepted duplicate returns 0. */
int tsdb_head_append(struct tsdb_head *h, uint64_t ref, int64_t t, double v, char *err,
		     size_t errlen);
/* Append to a series known by a ref that may be stale (a caller's cache): the series
 * is looked up first, so a ref that names no live series is TSDB_ENOT_FOUND whatever
 * t is and nothing is counted; otherwise exactly tsdb_head_append(). */
int tsdb_head_append_known(struct tsdb_head *h, uint64_t ref, int64_t t, double v, char *err,
			   size_t errlen);
/* Hint that appends to ref follow soon: start loading what the append touches. Four
 * steps, each a few appends ahead of the next (stage 0, 1, 2, then 3): the ref's
 * stripe, its table slot, the series, its open chunk. This memory is spread over the
 * whole head, and a batch that asks ahead waits for it once instead of once per
 * series. Stages 0 and 1 take no lock; 2 and 3 look the series up as an append does
 * (stripe lock; 3 also the series lock, briefly), since each needs what the one
 * before loaded. */
void tsdb_head_prefetch(struct tsdb_head *h, uint64_t ref, int stage);
/* get_or_create + append in one pass (remote-write has no refs): *ref and *created are
 * set even when the sample itself is refused, except for "out of bounds" without an
 * out-of-order window, which is refused before the lookup (*ref = 0), as upstream. */
int tsdb_head_append_labels(struct tsdb_head *h, const struct labels *ls, int64_t t,
			    double v, uint64_t *ref, bool *created, char *err, size_t errlen);

/* WAL replay. A series record: create `ref` for `ls`. If these labels already have a
 * series, nothing is created and *actual is its ref (map later samples to it). Refs
 * handed out afterwards are greater than every replayed ref. Replay runs before the
 * head serves appends (a concurrent create could take a ref the WAL still holds). */
int tsdb_head_replay_series(struct tsdb_head *h, uint64_t ref, const struct labels *ls,
			    uint64_t *actual, char *err, size_t errlen);
/* A sample record: the head's append window does not apply (only the min valid time
 * does), as in Prometheus' replay, and a sample older than the series' newest one is
 * kept as an out-of-order sample whatever the out-of-order window: concurrent batches
 * for one series can reach the WAL in another order than the head accepted them, and
 * every logged sample was acknowledged. Same timestamp, same value: a no-op. */
int tsdb_head_replay_sample(struct tsdb_head *h, uint64_t ref, int64_t t, double v,
			    char *err, size_t errlen);

/* INT64_MAX / INT64_MIN while the head is empty. */
int64_t tsdb_head_min_time(const struct tsdb_head *h);
int64_t tsdb_head_max_time(const struct tsdb_head *h);
/* Samples below this are refused, on every append path (raised by truncation). */
int64_t tsdb_head_min_valid_time(const struct tsdb_head *h);
/* Raise it without truncating: a block writer raises it to the end of the range it
 * is about to write, so no sample can slip into that range behind its walk; readers
 * still see everything until tsdb_head_truncate(). Never lowers it. */
void tsdb_head_raise_min_valid_time(struct tsdb_head *h, int64_t t);
/* Whether the head has a series with this ref (for WAL checkpoints). */
bool tsdb_head_series_exists(struct tsdb_head *h, uint64_t ref);
uint64_t tsdb_head_num_series(const struct tsdb_head *h);

struct tsdb_head_stats {
	uint64_t series;
	uint64_t series_created, series_removed;
	uint64_t samples_appended;      /* in-order and out-of-order, duplicates excluded */
	uint64_t ooo_appended;
	uint64_t out_of_order, duplicate, out_of_bounds, too_old; /* refused samples */
	uint64_t chunks_created;
};
void tsdb_head_stats(const struct tsdb_head *h, struct tsdb_head_stats *st);

/* Cardinality of the head for /api/v1/status/tsdb, as Prometheus computes it from its
 * postings: the top `limit` label names by number of values, metric names by series,
 * label names by bytes of values (value length times series), and name=value pairs by
 * series; each list sorted by value, descending (ties by name). Strings live in `a`. */
struct tsdb_stat {
	const char *name;
	uint64_t value;
};

struct tsdb_head_status {
	uint64_t num_series, num_label_pairs, chunk_count;
	int64_t min_time, max_time; /* as tsdb_head_min_time / tsdb_head_max_time */
	struct tsdb_stat *series_by_metric, *values_by_label, *bytes_by_label, *series_by_pair;
	size_t nseries_by_metric, nvalues_by_label, nbytes_by_label, nseries_by_pair;
};

int tsdb_head_status(struct tsdb_head *h, size_t limit, struct arena *a,
		     struct tsdb_head_status *out, char *err, size_t errlen);

/* Head truncation after a block is cut: raise the min valid time to `mint`, wait for
 * queriers and walks reading below `mint` to finish (new ones start at mint), drop closed
 * chunks and out-of-order samples wholly before it, and remove series left with no
 * sample at or after it (series created since the previous truncation and still
 * without any sample are kept, so a create-then-append is never cut in two). The index
 * forgets removed series. `removed` (may be NULL) gets the number of series removed. */
int tsdb_head_truncate(struct tsdb_head *h, int64_t mint, uint64_t *removed, char *err,
		       size_t errlen);

/* One series as the block writer sees it. Chunks are in-order, sorted, non-overlapping
 * XOR chunks overlapping the requested range (the open one copied); `ooo` holds the
 * out-of-order samples in range, sorted, which may overlap the chunks' time span. */
struct tsdb_chunk_meta {
	int64_t mint, maxt;
	const uint8_t *data;
	size_t len;
	uint8_t enc; /* 0: an XOR chunk; a block's chunk may be dense (TSDB_ENC_DENSE*) */
};

#define TSDB_ENC_XOR 0
#define TSDB_ENC_DENSE 1  /* lgtm's dense block chunks as older builds wrote them (block.h) */
#define TSDB_ENC_DENSE2 2 /* lgtm's dense block chunks as written now */

struct tsdb_head_series {
	uint64_t ref;
	const struct labels *ls;
	const struct tsdb_chunk_meta *chunks;
	size_t nchunks;
	const struct tsdb_sample *ooo;
	size_t nooo;
};

/* Call fn for every series with data in [mint, maxt] (mint raised to the last
 * truncation point, as for queriers, not to the min valid time), in label order when `sorted`, else in ref order.
 * Pointers are valid during the call. A non-zero return from fn stops the walk and is
 * returned. */
int tsdb_head_foreach(struct tsdb_head *h, int64_t mint, int64_t maxt, bool sorted,
		      int (*fn)(void *arg, const struct tsdb_head_series *s), void *arg,
		      char *err, size_t errlen);

/* A querier over the head's data in [mint, maxt]; mint is raised to the last truncation
 * point (older data belongs to blocks), and q->mint says the range it covers. */
int tsdb_head_querier(struct tsdb_head *h, int64_t mint, int64_t maxt,
		      struct tsdb_querier **out, char *err, size_t errlen);

/* ---- exemplars (exemplar.c) --------------------------------------------------------------
 *
 * Prometheus' circular exemplar storage: one ring of `max` entries shared by every
 * series, oldest overwritten first (in the order exemplars were stored), and an
 * index from series labels to that series' exemplars, kept in time order. It is
 * independent of the head: truncating the head or cutting blocks does not drop
 * exemplars, only the ring does.
 *
 * Append rules (upstream's): an exemplar's labels may hold at most 128 UTF-8
 * characters, names and values counted together (TSDB_EEXEMPLAR_LABELS); an
 * exemplar equal to the series' newest one (same labels, timestamp and value) is
 * ignored (TSDB_EDUPLICATE, nothing stored, not an error to report); one older than
 * the newest, or at the same timestamp with a lower value, or with the same value
 * and a lower label hash, is refused as "out of order exemplar".
 * Replay (tsdb_exemplars_replay) accepts an exemplar a little older than the
 * series' newest one and files it in time order, since concurrent batches can reach
 * the WAL in another order than they reached the store.
 *
 * Thread-safety: every function but free may be called from any number of threads;
 * one reader-writer lock guards the store (appends hold it for one series'
 * exemplars, queries for the walk that copies their results out).
 * Errors: TSDB_EFAIL for allocation failure or bad arguments, with err filled.
 */

#define TSDB_EXEMPLAR_MAX_LABEL_CHARS 128
#define TSDB_DEFAULT_MAX_EXEMPLARS 100000

struct tsdb_exemplar {
	struct labels labels; /* sorted, no empty values; may be empty */
	int64_t t;            /* milliseconds */
	double v;
};

struct tsdb_exemplars;

/* max: ring entries (> 0). */
int tsdb_exemplars_new(size_t max, struct tsdb_exemplars **out, char *err, size_t errlen);
void tsdb_exemplars_free(struct tsdb_exemplars *s);

/* Store ex[0..n) (in time order) as exemplars of the series `series` (sorted, no
 * empty values: the series' identity). rc[i] gets 0 (stored), TSDB_EDUPLICATE
 * (ignored), TSDB_EEXEMPLAR_OUT_OF_ORDER or TSDB_EEXEMPLAR_LABELS. Returns 0, or
 * TSDB_EFAIL when memory ran out (what was stored before stays). */
int tsdb_exemplars_add(struct tsdb_exemplars *s, const struct labels *series,
		       const struct tsdb_exemplar *ex, size_t n, int *rc, char *err,
		       size_t errlen);
/* One exemplar from the WAL: as add, but one older than the series' newest is
 * filed in time order when it is among the series' 64 newest (else out of order). */
int tsdb_exemplars_replay(struct tsdb_exemplars *s, const struct labels *series,
			  const struct tsdb_exemplar *e, int *rc, char *err, size_t errlen);

/* The matchers of one selector; a series is selected when every one matches. */
struct tsdb_matcher_set {
	const struct tsdb_matcher *ms;
	size_t n;
};

struct tsdb_exemplar_series {
	struct labels series;
	struct tsdb_exemplar *v; /* in time order */
	size_t n;
};

/* Exemplars with start <= t <= end of the series matching any of the sets (none:
 * nothing), grouped by series, series sorted by labels_compare(). Everything is
 * copied into `a`. */
int tsdb_exemplars_select(struct tsdb_exemplars *s, int64_t start, int64_t end,
			  const struct tsdb_matcher_set *sets, size_t nsets, struct arena *a,
			  struct tsdb_exemplar_series **out, size_t *n, char *err, size_t errlen);

struct tsdb_exemplars_stats {
	uint64_t max;          /* ring size */
	uint64_t stored;       /* exemplars in the ring now */
	uint64_t series;       /* series with at least one */
	uint64_t appended;     /* stored since start (replay included) */
	uint64_t out_of_order; /* refused as out of order */
	int64_t oldest_t;      /* of the exemplar stored longest ago (next to go); 0: none */
};
void tsdb_exemplars_stats(struct tsdb_exemplars *s, struct tsdb_exemplars_stats *st);

#endif
