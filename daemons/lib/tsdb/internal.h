/*
 * Shared between the tsdb files only; not part of the public API.
 *
 * Lock order (outer first): hash stripe -> ref stripe; hash stripe -> index names ->
 * index name; ref stripe -> series; hash stripe -> series. No other lock is taken
 * while a series lock is held but the chunk store's, a leaf like the reclaim mutex.
 */
#ifndef LGTM_TSDB_INTERNAL_H
#define LGTM_TSDB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf/buf.h"
#include "tsdb/tsdb.h"

#define TSDB_CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* Sample values are compared and stored by their bits (NaN payloads matter). */
static inline uint64_t tsdb_f2b(double v)
{
	uint64_t b;

	__builtin_memcpy(&b, &v, sizeof(b));
	return b;
}

static inline double tsdb_b2f(uint64_t b)
{
	double v;

	__builtin_memcpy(&v, &b, sizeof(v));
	return v;
}

/* qsort/bsearch comparator for arrays of C strings. */
int tsdb_strp_cmp(const void *a, const void *b);
/* Sort and deduplicate strings that are interned (equal strings are equal pointers,
 * as in the head's index and a block's symbols): by address first, then by content. */
void tsdb_strings_unique_interned(struct tsdb_strings *s);

/* Monotonic atomic bounds (head min/max time, min valid time). */
static inline void tsdb_atomic_raise(int64_t *p, int64_t v)
{
	int64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELEASE,
						       __ATOMIC_RELAXED))
		;
}

static inline void tsdb_atomic_lower(int64_t *p, int64_t v)
{
	int64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v < cur && !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELEASE,
						       __ATOMIC_RELAXED))
		;
}

/* ---- array.c ---------------------------------------------------------------------- */

/* Make room for `need` elements of `elem` bytes in *p (capacity *cap, doubling);
 * 0 or -1 (the array is unchanged). */
int tsdb_grow(void **p, size_t *cap, size_t need, size_t elem);

/* ---- encoding.c: Prometheus' byte encodings (tsdb/encoding) ------------------------ */

void tsdb_put_be32(struct buf *b, uint32_t v);
void tsdb_put_be64(struct buf *b, uint64_t v);
void tsdb_put_uvarint(struct buf *b, uint64_t v);
void tsdb_put_varint(struct buf *b, int64_t v);       /* zigzag */
void tsdb_put_uvarint_str(struct buf *b, const char *s, size_t n);
size_t tsdb_uvarint_len(uint64_t v);
uint32_t tsdb_be32(const uint8_t *p);
uint64_t tsdb_be64(const uint8_t *p);

/* A read cursor over [p, end); any overrun or bad varint sets `bad` (sticky) and the
 * reads return 0 / NULL from then on. */
struct tsdb_dec {
	const uint8_t *p, *end;
	bool bad;
};

uint64_t tsdb_dec_uvarint(struct tsdb_dec *d);
int64_t tsdb_dec_varint(struct tsdb_dec *d);
uint32_t tsdb_dec_be32(struct tsdb_dec *d);
uint64_t tsdb_dec_be64(struct tsdb_dec *d);
uint8_t tsdb_dec_byte(struct tsdb_dec *d);
const uint8_t *tsdb_dec_bytes(struct tsdb_dec *d, size_t n);
/* A uvarint-prefixed string (not NUL-terminated); *n gets its length. */
const char *tsdb_dec_uvarint_str(struct tsdb_dec *d, size_t *n);

/* ---- ptab.c: open-addressing table of (key, pointer) ------------------------------ */

struct tsdb_ptab_slot {
	uint64_t key;
	void *e; /* NULL: empty */
};

struct tsdb_ptab {
	struct tsdb_ptab_slot *slot;
	uint32_t mask; /* capacity - 1 (0 when empty) */
	uint32_t n;
};

int tsdb_ptab_insert(struct tsdb_ptab *t, uint64_t key, void *e);
/* The element under `key` for which eq(e, arg) holds (eq NULL: keys are unique). */
void *tsdb_ptab_find(const struct tsdb_ptab *t, uint64_t key,
		     bool (*eq)(const void *e, const void *arg), const void *arg);
bool tsdb_ptab_remove(struct tsdb_ptab *t, uint64_t key, const void *e);
/* Start loading key's home slot; safe without the table's lock (a hint only). */
void tsdb_ptab_prefetch(const struct tsdb_ptab *t, uint64_t key);
void tsdb_ptab_free(struct tsdb_ptab *t);
uint64_t tsdb_hash_str(const char *s);

/* ---- reclaim.c: deferred frees behind open readers ---------------------------------- */

struct tsdb_reader {
	struct tsdb_reader *prev, *next;
	uint64_t epoch;
	int64_t mint; /* the oldest timestamp it reads */
};

struct tsdb_retired {
	union {
		void (*plain)(void *p);
		void (*with_ctx)(void *ctx, void *p); /* when ctx is set */
	} fn;
	void *p, *ctx;
};

/* A batch of memory unlinked from every shared structure, to free once no reader that
 * could have seen it remains. */
struct tsdb_grave {
	struct tsdb_grave *next;
	uint64_t epoch;
	size_t n, cap;
	struct tsdb_retired *items;
};

struct tsdb_reclaim {
	pthread_mutex_t mu;
	pthread_cond_t left; /* a reader left */
	uint64_t epoch;
	struct tsdb_reader readers; /* list sentinel, oldest first */
	struct tsdb_grave *graves;
};

int tsdb_reclaim_init(struct tsdb_reclaim *rc);
void tsdb_reclaim_destroy(struct tsdb_reclaim *rc); /* frees every grave */
/* Register a reader of data from `mint` on, raised to *floor (read under the mutex, so a
 * truncation that raised the floor before waiting never waits for it); returns the
 * reader's effective mint. */
int64_t tsdb_reclaim_enter(struct tsdb_reclaim *rc, struct tsdb_reader *r, int64_t mint,
			   const int64_t *floor);
void tsdb_reclaim_leave(struct tsdb_reclaim *rc, struct tsdb_reader *r);
/* Wait until no reader reads anything below `mint`. */
void tsdb_reclaim_wait(struct tsdb_reclaim *rc, int64_t mint);
/* Reserve room so the next `n` adds cannot fail. */
int tsdb_grave_reserve(struct tsdb_grave *g, size_t n);
void tsdb_grave_add(struct tsdb_grave *g, void (*fn)(void *p), void *p);
/* ctx must not be NULL. */
void tsdb_grave_add_ctx(struct tsdb_grave *g, void (*fn)(void *ctx, void *p), void *ctx,
			void *p);
/* Hand a heap-allocated grave over (NULL or empty is fine). */
void tsdb_reclaim_retire(struct tsdb_reclaim *rc, struct tsdb_grave *g);

/* ---- postings.c: sorted ref lists ------------------------------------------------------ */

struct tsdb_plist {
	uint64_t *v;
	size_t n, cap;
};

int tsdb_plist_reserve(struct tsdb_plist *p, size_t extra);
int tsdb_plist_append(struct tsdb_plist *p, const uint64_t *v, size_t n);
void tsdb_plist_free(struct tsdb_plist *p);
/* Sort and drop duplicates (after appending several lists). */
void tsdb_plist_normalize(struct tsdb_plist *p);
/* a = a ∩ b, a = a \ b (both sorted). */
void tsdb_plist_intersect(struct tsdb_plist *a, const struct tsdb_plist *b);
void tsdb_plist_subtract(struct tsdb_plist *a, const struct tsdb_plist *b);
bool tsdb_plist_contains(const uint64_t *v, size_t n, uint64_t x);

/* ---- index.c: label name -> value -> refs ------------------------------------------- */

/* A value owns its refs (sorted) and the one copy of its string; series labels point
 * at `s`, so the entry is found back from a label with TSDB_CONTAINER_OF. A list of
 * more than one ref holds them in 32 bits while they fit (a head creates 4 billion
 * series before they do not), in 64 from the first that does not: half the size for
 * the index's largest part. */
struct tsdb_ix_value {
	uint32_t n, cap;
	union {
		uint64_t one;      /* cap <= 1: the ref is stored inline */
		uint32_t *narrow;  /* cap > 1 and !wide */
		uint64_t *wide;
	} p;
	const char *name; /* its name's string (the name entry's s) */
	uint8_t mark;     /* truncation scratch */
	uint8_t wide;
	char s[];
};

/* The name of a label whose value is an index string (a series' label). */
static inline const char *tsdb_ix_name_of(const char *value)
{
	return TSDB_CONTAINER_OF(value, struct tsdb_ix_value, s)->name;
}

struct tsdb_ix_name {
	pthread_rwlock_t lock; /* the values table and every value's refs */
	struct tsdb_ptab values;
	uint8_t mark;
	char s[];
};

struct tsdb_index {
	pthread_rwlock_t lock; /* the names table */
	struct tsdb_ptab names;
	pthread_rwlock_t all_lock;
	struct tsdb_plist all; /* every indexed ref */
};

int tsdb_ix_init(struct tsdb_index *ix);
void tsdb_ix_destroy(struct tsdb_index *ix);
/* A series' labels as the index holds them: its values' strings in the index (each
 * value's entry knows its name, tsdb_ix_name_of). */
struct tsdb_ix_set {
	const char *const *v;
	size_t n;
};

/* Index `ref` under every label of the sorted set `ls`, and point out[i] at the
 * index's own copy of label i's value. */
int tsdb_ix_add(struct tsdb_index *ix, const struct labels *ls, uint64_t ref,
		const char **out);
/* Take `ref` back out of the postings of `set` and the all-list; entries left empty
 * stay (listings skip them) since readers may hold their strings. */
void tsdb_ix_undo(struct tsdb_index *ix, struct tsdb_ix_set set, uint64_t ref);
/* Forget the series `dead` (sorted refs) whose labels are `sets`; entries left
 * without refs go to the grave. Returns -1 on allocation failure (index unchanged
 * for the rest: stale refs are harmless, lookups skip them). */
int tsdb_ix_remove(struct tsdb_index *ix, const uint64_t *dead, size_t ndead,
		   const struct tsdb_ix_set *sets, size_t nsets, struct tsdb_grave *g);
/* Refs of name=value (appended to out). */
int tsdb_ix_postings(struct tsdb_index *ix, const char *name, const char *value,
		     struct tsdb_plist *out);
/* Refs of every value of `name` for which pred(arg, value) == want (appended,
 * not normalized). */
int tsdb_ix_postings_where(struct tsdb_index *ix, const char *name,
			   bool (*pred)(const void *arg, const char *v), const void *arg,
			   bool want, struct tsdb_plist *out);
int tsdb_ix_all(struct tsdb_index *ix, struct tsdb_plist *out);
/* Sorted names / values with at least one ref; strings point into the index. */
int tsdb_ix_names(struct tsdb_index *ix, struct arena *a, struct tsdb_strings *out);
int tsdb_ix_values(struct tsdb_index *ix, const char *name, struct arena *a,
		   struct tsdb_strings *out);

/* Where postings come from: the head's index or a block's. Each call appends to out
 * (lists of one label's values are disjoint) and returns 0 or -1 (allocation failure,
 * or a corrupt block). */
struct tsdb_postings_src {
	int (*postings)(void *ctx, const char *name, const char *value, struct tsdb_plist *out);
	int (*postings_where)(void *ctx, const char *name,
			      bool (*pred)(const void *arg, const char *v), const void *arg,
			      bool want, struct tsdb_plist *out);
	int (*all)(void *ctx, struct tsdb_plist *out);
	void *ctx;
};

/* Refs matching every matcher (all refs when n == 0), with Prometheus' empty-value
 * semantics; out is sorted and unique. */
int tsdb_postings_select_src(const struct tsdb_postings_src *src, const struct tsdb_matcher *ms,
			     size_t n, struct tsdb_plist *out);
/* The same over the head's index. */
int tsdb_postings_select(struct tsdb_index *ix, const struct tsdb_matcher *ms, size_t n,
			 struct tsdb_plist *out);

/* ---- matcher.c ------------------------------------------------------------------------ */

enum tsdb_match_kind {
	TSDB_MK_LITERAL,  /* equality with lit */
	TSDB_MK_ALL,      /* .* */
	TSDB_MK_NONEMPTY, /* .+ */
	TSDB_MK_PREFIX,   /* lit.* */
	TSDB_MK_SUFFIX,   /* .*lit */
	TSDB_MK_CONTAINS, /* .*lit.* */
	TSDB_MK_SET,      /* a|b|c */
	TSDB_MK_REGEX,
};

/* The positive form (ignoring != / !~). */
bool tsdb_matcher_positive(const struct tsdb_matcher *m, const char *v, size_t n);
bool tsdb_matcher_negated(const struct tsdb_matcher *m);

/* ---- chunk_store.c: head chunk bytes parked in a scratch file ---------------------- */

struct tsdb_chunk_store;

/* An unlinked file in dir of max_bytes (sparse), mapped shared. */
int tsdb_chunk_store_open(const char *dir, uint64_t max_bytes, struct tsdb_chunk_store **out,
			  char *err, size_t errlen);
void tsdb_chunk_store_close(struct tsdb_chunk_store *cs);
/* Room for len bytes in the store, for the caller alone to write (through the pointer
 * returned, calling tsdb_chunk_store_wrote() after each write) and released as a put
 * chunk is. NULL (keep the bytes on the heap) when cs is NULL or no segment is free.
 * Callable under a series lock. */
uint8_t *tsdb_chunk_store_reserve(struct tsdb_chunk_store *cs, size_t len);
/* Count a write of [p, p + len) through a reservation: every so many, the thread
 * drops the pages it wrote from the process. */
void tsdb_chunk_store_wrote(struct tsdb_chunk_store *cs, const void *p, size_t len);
/* Copy a chunk into the store (reserve, copy, count); its bytes are then readable at
 * the pointer returned, until released. NULL as for a reservation. */
const uint8_t *tsdb_chunk_store_put(struct tsdb_chunk_store *cs, const void *data, size_t len);
bool tsdb_chunk_store_owns(const struct tsdb_chunk_store *cs, const void *p);
/* Release a reservation or a chunk put earlier, once no reader can still read it
 * (ctx = the store). */
void tsdb_chunk_store_release(void *ctx, void *p);
/* Chunks put and reservations taken, not yet released (tests, status). */
size_t tsdb_chunk_store_live(const struct tsdb_chunk_store *cs);
/* Copy a parked chunk (p as put returned it) with pread, not through the mapping;
 * 0, or -1 with errno. */
int tsdb_chunk_store_read(const struct tsdb_chunk_store *cs, const void *p, size_t len,
			  void *dst);
/* Unmap the store's pages from the process (they stay in the page cache). */
void tsdb_chunk_store_drop_pages(struct tsdb_chunk_store *cs);

/* ---- chunk_dense.c: the dense block chunk encoding ---------------------------------- */

/* The values of the --storage.tsdb.block-encoding and wal-encoding flags: 0 for
 * "prometheus", 1 for "dense", -1 for anything else. */
int tsdb_parse_dense(const char *s);

/* v as m / 10^k (k <= 18, |m| < 2^53) with the smallest k, checked bit for bit:
 * (double)m / 10^k is v again (so -0, NaN and infinities are not decimals). */
bool tsdb_decimal_split(double v, int64_t *m, int *k);
/* 10^k for k <= 18. */
double tsdb_ten_to(int k);

/* The same samples as an XOR chunk, densely (appended to out, TSDB_ENC_DENSE2): 1 when
 * written, 0 when the values are not decimals, it would not be smaller, or the first
 * and last timestamps are not mint and maxt (out unchanged), -1 when out of memory or
 * the XOR chunk is corrupt. The chunk's meta must carry mint and maxt: a dense chunk
 * does not repeat them. */
int tsdb_dense_from_xor(const uint8_t *chunk, size_t len, int64_t mint, int64_t maxt,
			struct buf *out);
/* Samples t[0..n), v[0..n) (timestamps strictly increasing) as one dense chunk
 * (TSDB_ENC_DENSE2, its meta: mint t[0], maxt t[n - 1]) appended to out: 1 when
 * written, 0 when a value is not a decimal, n is 0 or above 65535, or the chunk would
 * take `limit` bytes or more (out unchanged), -1 when out of memory. */
int tsdb_dense_encode(const int64_t *t, const double *v, size_t n, size_t limit,
		      struct buf *out);
/* Sample count from a dense chunk's header (enc: TSDB_ENC_DENSE or _DENSE2; 0 when
 * malformed). */
uint16_t tsdb_dense_samples(uint8_t enc, const uint8_t *chunk, size_t len);

/* A packed sequence being read: fixed width codes, or truncated binary (tb) ones. */
struct tsdb_for {
	const uint8_t *p;
	size_t nbytes;  /* of packed bits at p */
	size_t pos;     /* bit */
	int64_t min;
	uint64_t mult;
	uint64_t u;     /* tb: codes below u take width - 1 bits */
	uint8_t width;
	bool tb;
	bool bad;       /* a code ran past the section */
};

struct tsdb_dense_iter {
	uint32_t total, read;
	int64_t t, dt;  /* current timestamp, last delta */
	int64_t m, dm;  /* current mantissa, last delta */
	uint8_t k, mode;
	bool corrupt;
	struct tsdb_for tf, vf;
};

/* Read a dense chunk of either version (c->enc); a DENSE2 chunk takes its first and
 * last timestamps from c->mint and c->maxt. */
void tsdb_dense_iter_init(struct tsdb_dense_iter *it, const struct tsdb_chunk_meta *c);
bool tsdb_dense_iter_next(struct tsdb_dense_iter *it);
bool tsdb_dense_iter_seek(struct tsdb_dense_iter *it, int64_t t);
void tsdb_dense_iter_at(const struct tsdb_dense_iter *it, int64_t *t, double *v);

/* Either kind of chunk, read alike. */
struct tsdb_chunk_iter {
	uint8_t enc;
	union {
		struct tsdb_xor_iter x;
		struct tsdb_dense_iter d;
	} u;
};

static inline void tsdb_chunk_iter_init(struct tsdb_chunk_iter *it,
					const struct tsdb_chunk_meta *c)
{
	it->enc = c->enc;
	if (c->enc != TSDB_ENC_XOR)
		tsdb_dense_iter_init(&it->u.d, c);
	else
		tsdb_xor_iter_init(&it->u.x, c->data, c->len);
}

static inline bool tsdb_chunk_iter_next(struct tsdb_chunk_iter *it)
{
	return it->enc != TSDB_ENC_XOR ? tsdb_dense_iter_next(&it->u.d)
				       : tsdb_xor_iter_next(&it->u.x);
}

static inline bool tsdb_chunk_iter_seek(struct tsdb_chunk_iter *it, int64_t t)
{
	return it->enc != TSDB_ENC_XOR ? tsdb_dense_iter_seek(&it->u.d, t)
				       : tsdb_xor_iter_seek(&it->u.x, t);
}

static inline void tsdb_chunk_iter_at(const struct tsdb_chunk_iter *it, int64_t *t, double *v)
{
	if (it->enc != TSDB_ENC_XOR)
		tsdb_dense_iter_at(&it->u.d, t, v);
	else
		tsdb_xor_iter_at(&it->u.x, t, v);
}

/* next() repeated: each new sample is copied to out[] until cap are, or one has a
 * timestamp >= tstop (then *stopped, and the iterator is on it, not copied), or the
 * chunk ends (neither: check corruption). Returns how many were copied. XOR chunks
 * (every Prometheus-format block) have their own loop in chunk_xor.c, where the
 * decoder inlines: the generic loop below costs ~20 % more query CPU on them. */
size_t tsdb_xor_iter_fill(struct tsdb_xor_iter *it, int64_t tstop, struct tsdb_sample *out,
			  size_t cap, bool *stopped);

static inline size_t tsdb_chunk_iter_fill(struct tsdb_chunk_iter *it, int64_t tstop,
					  struct tsdb_sample *out, size_t cap, bool *stopped)
{
	size_t n = 0;

	if (it->enc == TSDB_ENC_XOR)
		return tsdb_xor_iter_fill(&it->u.x, tstop, out, cap, stopped);
	*stopped = false;
	while (n < cap && tsdb_dense_iter_next(&it->u.d)) {
		tsdb_dense_iter_at(&it->u.d, &out[n].t, &out[n].v);
		if (out[n].t >= tstop) {
			*stopped = true;
			break;
		}
		n++;
	}
	return n;
}

/* The current sample's timestamp (after a successful next or seek). */
static inline int64_t tsdb_chunk_iter_t(const struct tsdb_chunk_iter *it)
{
	return it->enc != TSDB_ENC_XOR ? it->u.d.t : it->u.x.t;
}

static inline bool tsdb_chunk_iter_corrupt(const struct tsdb_chunk_iter *it)
{
	return it->enc != TSDB_ENC_XOR ? it->u.d.corrupt : it->u.x.corrupt;
}

/* Samples in a chunk of either kind (from its header). */
static inline uint16_t tsdb_chunk_samples(const struct tsdb_chunk_meta *c)
{
	return c->enc != TSDB_ENC_XOR ? tsdb_dense_samples(c->enc, c->data, c->len)
				      : tsdb_xor_samples(c->data, c->len);
}

/* ---- the head ----------------------------------------------------------------------- */

struct tsdb_closed_chunk {
	int64_t mint, maxt;
	uint8_t *data; /* immutable; freed (or released to the store) by truncation or
			* with its series */
	uint32_t len;
	uint8_t parked; /* data is in the head's chunk store, not on the heap */
};

struct tsdb_ooo {
	uint32_t n, cap;
	struct tsdb_sample s[]; /* sorted by t */
};

/* A series is sized for the head's millions: no lock of its own (see tsdb_series_mu),
 * 16-bit counts, the open chunk's appender packed. */
struct tsdb_series {
	uint64_t ref;
	uint64_t hash;
	/* Under its lock: */
	struct tsdb_xor_appender app; /* the open chunk's unsettled end (no samples: none) */
	int64_t open_mint;
	int64_t next_at;              /* cut the open chunk at this timestamp */
	uint8_t *spill;               /* the open chunk's first app.base bytes (store), or NULL */
	struct tsdb_closed_chunk *closed;
	struct tsdb_ooo *ooo;
	uint16_t spill_cap;           /* bytes reserved at spill */
	uint16_t nclosed, capclosed;
	uint8_t dead;                 /* removed by truncation */
	/* Immutable: */
	uint16_t nlabels;
	const char *values[];         /* the labels' values in the index, which knows
				       * their names: 8 bytes a label, not 16 */
};

/* Series locks are pooled: a series' lock is the head's lock for its ref. Sharing a
 * lock only serializes (no path holds two series locks), and 40 bytes of mutex per
 * series were a fifth of its size. */
struct tsdb_lock {
	pthread_mutex_t mu;
} __attribute__((aligned(64)));

/* ---- series_table.c: the head's tables of series ------------------------------------ */

/* A slot: the series pointer and a 16-bit tag of its key (0: empty). */
struct tsdb_stab {
	uint64_t *slot;
	uint32_t mask; /* capacity - 1 (0 when empty) */
	uint32_t n;
};

/* Which key of a series a table is by. */
enum tsdb_stab_key {
	TSDB_STAB_REF,
	TSDB_STAB_HASH,
};

/* 0, or -1 when out of memory or s is beyond 48-bit addresses. */
int tsdb_stab_insert(struct tsdb_stab *t, enum tsdb_stab_key by, struct tsdb_series *s);
/* The series with that key for which eq(s, arg) holds (eq NULL: keys are unique). */
struct tsdb_series *tsdb_stab_find(const struct tsdb_stab *t, enum tsdb_stab_key by,
				   uint64_t key,
				   bool (*eq)(const struct tsdb_series *s, const void *arg),
				   const void *arg);
bool tsdb_stab_remove(struct tsdb_stab *t, enum tsdb_stab_key by, const struct tsdb_series *s);
/* Slot i's series or NULL (i <= mask, slot not NULL), for walks of the whole table. */
struct tsdb_series *tsdb_stab_at(const struct tsdb_stab *t, uint32_t i);
/* Start loading key's home slot; safe without the table's lock (a hint only). */
void tsdb_stab_prefetch(const struct tsdb_stab *t, uint64_t key);
void tsdb_stab_free(struct tsdb_stab *t);

struct tsdb_stripe {
	pthread_mutex_t mu;
	struct tsdb_stab tab;
	uint64_t appended; /* atomic */
} __attribute__((aligned(64)));

struct tsdb_head {
	int64_t chunk_range;
	int64_t ooo_window;
	uint32_t smask;                 /* stripes - 1, also series locks - 1 */
	struct tsdb_stripe *by_hash, *by_ref;
	struct tsdb_lock *locks;
	int64_t mint, maxt, min_valid; /* atomic */
	int64_t floor;                  /* atomic: readers start here (the last truncation) */
	uint64_t next_ref;              /* atomic */
	uint64_t nseries;               /* atomic */
	uint64_t gc_watermark;          /* under gc_mu: next_ref at the previous truncation */
	pthread_mutex_t gc_mu;
	struct tsdb_index ix;
	struct tsdb_reclaim rc;
	struct tsdb_chunk_store *store; /* NULL: closed chunks stay on the heap */
	/* atomic counters */
	uint64_t created, removed, ooo_appended, chunks_created;
	uint64_t rej_order, rej_dup, rej_bounds, rej_old;
};

static inline pthread_mutex_t *tsdb_series_mu(struct tsdb_head *h, const struct tsdb_series *s)
{
	return &h->locks[s->ref & h->smask].mu;
}

static inline struct tsdb_ix_set tsdb_series_set(const struct tsdb_series *s)
{
	return (struct tsdb_ix_set){ s->values, s->nlabels };
}

/* A series' labels into out (room for s->nlabels), strings in the index. */
void tsdb_series_labels(const struct tsdb_series *s, struct label *out);
/* labels_compare() and labels_equal() of a series' labels and a set. */
int tsdb_series_compare(const struct tsdb_series *a, const struct tsdb_series *b);
bool tsdb_series_has_labels(const struct tsdb_series *s, const struct labels *ls);

/* Series by ref, or NULL; only for readers (the pointer lives until they leave). */
struct tsdb_series *tsdb_head_series_by_ref(struct tsdb_head *h, uint64_t ref);

/* ---- series.c: one series' samples (callers hold its lock) ------------------------ */

struct tsdb_series *tsdb_series_new(uint64_t ref, uint64_t hash, size_t nlabels);
/* Frees the series and its heap chunks; parked chunks are the store's (a series is
 * freed with parked chunks only when the whole head goes, store included). */
void tsdb_series_free(void *p);
/* The same for a series leaving a head that lives on (a grave's fn_ctx, ctx = the
 * head): the open chunk's parked bytes go back to the store. */
void tsdb_series_free_in(void *h, void *p);
/* 0: appended, 1: an identical duplicate (accepted, nothing stored), < 0: refused
 * (counted in h). minv is the lowest timestamp allowed in order. */
int tsdb_series_append(struct tsdb_head *h, struct tsdb_series *s, int64_t t, double v,
		       int64_t minv, bool any_order, char *err, size_t errlen);
/* Free closed chunks and drop out-of-order samples wholly before mint, at once;
 * parked chunks go back to h's store. Only once no reader reads below mint (readers
 * copy only what overlaps their range, which starts at the head's floor or later),
 * so no grave is needed: the one copy of 20k chunk pointers was a cut's largest
 * transient allocation. */
void tsdb_series_trim(struct tsdb_head *h, struct tsdb_series *s, int64_t mint);
/* No sample at or after mint (the open chunk is kept until the series goes). */
bool tsdb_series_empty_since(const struct tsdb_series *s, int64_t mint);
bool tsdb_series_never_sampled(const struct tsdb_series *s);

/* A copy of what a series holds in [mint, maxt], taken under its lock. */
struct tsdb_snap {
	struct tsdb_chunk_meta *chunks;
	size_t nchunks, capchunks;
	uint8_t *open;
	size_t capopen;
	struct tsdb_sample *ooo;
	size_t nooo, capooo;
	/* Copy an open chunk's parked bytes with pread, not through the store's mapping
	 * (a reader of every series, whose faults would map the store around them). */
	bool pread;
};

/* 1: data in range (copied unless labels_only), 0: none, -1: allocation failure. */
int tsdb_series_snapshot(struct tsdb_head *h, struct tsdb_series *s, int64_t mint, int64_t maxt,
			 bool labels_only, struct tsdb_snap *snap);
void tsdb_snap_free(struct tsdb_snap *snap);

/* ---- series_iter.c -------------------------------------------------------------------- */

/* Iterates a snapshot: chained in-order chunks merged with out-of-order samples (the
 * in-order sample wins on equal timestamps), clipped to [mint, maxt]. */
struct tsdb_snap_iter {
	struct tsdb_iterator it;
	const struct tsdb_chunk_meta *chunks;
	size_t nchunks, ci;
	struct tsdb_chunk_iter x;
	bool x_ok;       /* x is on a sample */
	bool x_loaded;   /* x was initialized for chunks[ci] */
	const struct tsdb_sample *ooo;
	size_t nooo, oi;
	int64_t mint, maxt;
	int64_t t;
	double v;
	bool started, done;
	bool corrupt;
};

void tsdb_snap_iter_init(struct tsdb_snap_iter *it, const struct tsdb_snap *snap,
			 int64_t mint, int64_t maxt);

/* A series set whose current series is a snapshot: the head's and a block's sets
 * embed it (first) and differ only in how next() fills it. */
struct tsdb_snap_set {
	struct tsdb_series_set ss;
	int64_t mint, maxt;
	bool labels_only, failed;
	char why[256];        /* what failed */
	struct labels cur;
	struct tsdb_snap snap;
	struct tsdb_snap_iter it;
};

/* A zeroed set of `size` bytes (a struct starting with a tsdb_snap_set) in the
 * querier's arena, reading the querier's range narrowed by hints; NULL when out of
 * memory. */
void *tsdb_snap_set_new(struct tsdb_querier *q, size_t size,
			const struct tsdb_series_set_ops *ops,
			const struct tsdb_select_hints *hints);
/* Mark the set failed with a reason, which may already be in s->why (returns false,
 * for next()). */
bool tsdb_snap_set_fail(struct tsdb_snap_set *s, const char *why);
const struct labels *tsdb_snap_set_labels(const struct tsdb_series_set *ss);
struct tsdb_iterator *tsdb_snap_set_iterator(struct tsdb_series_set *ss);
int tsdb_snap_set_err(const struct tsdb_series_set *ss, char *err, size_t errlen);
/* The ops of such a set, given its next(). */
#define TSDB_SNAP_SET_OPS(next_fn) { .next = (next_fn), .labels = tsdb_snap_set_labels, \
	.iterator = tsdb_snap_set_iterator, .err = tsdb_snap_set_err }

/* ---- merge.c -------------------------------------------------------------------------- */

/* The union of n iterators by timestamp, the first one winning equal timestamps;
 * allocated in a (NULL when it runs out). */
struct tsdb_iterator *tsdb_merge_iterators(struct arena *a, struct tsdb_iterator **its,
					   size_t n);

#endif
