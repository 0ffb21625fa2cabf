/*
 * remote: the receiving side of Prometheus' remote protocols, up to (not including)
 * storage. Shared by lgtm-metrics and lgtm-longterm.
 *
 * Remote write 1.0 (/api/v1/write, Mimir's /api/v1/push): body -> validated batch of
 * series, samples and exemplars.
 *
 * Semantics (Prometheus' receiver, with the 1.0 spec's "invalid series are a 400"):
 * - The body is a snappy-compressed WriteRequest. A body the HTTP layer did not
 *   decompress (no Content-Encoding header, as old senders do) is snappy-decoded here.
 * - Whole-request failures return -1 with `err` (HTTP 400): bad snappy, malformed
 *   protobuf, an empty body.
 * - Per-series problems do not stop the others: a series without __name__, with an
 *   invalid or duplicated label name, invalid UTF-8, an invalid metric name, or more
 *   labels / longer names or values than the limits is left out, counted and described
 *   in `errors` (the first few); the caller stores the good series and then answers
 *   400 with those errors, so a sender does not retry a request that can never
 *   succeed. Labels with empty values are dropped first (an empty value means "no
 *   such label" in Prometheus).
 * - Labels of a batch series are sorted; strings point into the decoded message, which
 *   lives in the caller's arena. The batch's series are what the storage's append
 *   takes (struct tsdb_db_series), so a request's series are not copied again.
 *
 * Decoding. The messages real senders produce are read by a zero-copy decoder of our
 * own; a body it does not fully recognise (metadata, native histograms, unknown
 * fields, unusual encodings) goes to protobuf-c through proto_decode(), so accepted
 * inputs, decoded values, limits and error messages are those of protobuf-c either way.
 *
 * Series cache (optional). Senders resend the same series with the same label bytes
 * request after request. A remote_series_cache maps a keyed 128-bit hash of a series'
 * label fields as sent to the storage ref they were appended under, so a known series
 * is neither decoded, sorted nor validated again, nor looked up by its labels: its
 * batch entry carries the ref and no labels (labels NULL), and
 * remote_write_series_labels() decodes them when the storage needs them (a stale ref,
 * an error message, a WAL series record). Only series that passed validation are
 * cached, so a cache must only be used with one set of limits. The hash is XXH3-128
 * with a random per-cache seed, of which the cache keeps and compares 96 bits: a
 * collision (two label sets, one key) is about as likely as 2^-96 per pair (2^-57
 * among a million series) and cannot be constructed without the seed.
 * Thread-safe: decoding has no shared state; a cache is striped and safe to share.
 */
#ifndef LGTM_REMOTE_H
#define LGTM_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/db.h"
#include "tsdb/tsdb.h"

#include "arena/arena.h"
#include "buf/buf.h"
#include "labels/labels.h"

struct remote_write_limits {
	size_t max_labels;         /* per series; 0: 128 */
	size_t max_name_length;    /* 0: 1024 */
	size_t max_value_length;   /* 0: 16384 */
	size_t max_decoded_bytes;  /* protobuf size after snappy; 0: 256 MiB */
};

/* Where a series' label fields are in the decoded body (private to this module). */
struct remote_wire_span {
	uint32_t off, len; /* len 0: none (labels split by other fields, or protobuf-c's) */
};

struct remote_write_batch {
	/* The series as the storage's append takes them (tsdb_db_append_ex()): labels
	 * sorted, empty values dropped, or labels NULL and ref set for a series the
	 * cache knows (remote_write_series_labels() gives its labels). */
	struct tsdb_db_series *series;
	size_t nseries;
	size_t nsamples;
	size_t nexemplars;
	size_t nhistograms; /* in the valid series: not stored yet, counted */
	size_t invalid_series;
	size_t invalid_samples;
	struct buf errors;  /* "; "-separated descriptions of the first invalid series */
	/* Private: the label fields as sent (per series, NULL when none were kept), the
	 * body they are in, the body when this module decompressed it, and the memory of
	 * series and wire when this module's decoder made them. */
	struct remote_wire_span *wire;
	const unsigned char *wire_base;
	struct buf plain;
	struct buf series_mem;
};

struct remote_series_cache;

/* content_encoding: the request's Content-Encoding header (NULL when absent). cache may
 * be NULL (every series then has its labels). The batch may point into body: keep it
 * until the batch is freed. */
int remote_write_decode(const void *body, size_t len, const char *content_encoding,
			const struct remote_write_limits *lim, struct remote_series_cache *cache,
			struct arena *a, struct remote_write_batch *out, char *err, size_t errlen);
/* Let go of the series (and the body this module decompressed) once the storage has
 * taken them (before waiting for durability, say); counts and errors stay. */
void remote_write_batch_done(struct remote_write_batch *b);
/* Frees what the batch holds outside the arena (after remote_write_batch_done() too). */
void remote_write_batch_free(struct remote_write_batch *b);
/* The labels of batch series i (sorted, empty values dropped) in `a`: its own when it
 * has them, else decoded again from the bytes sent. -1 on allocation failure. */
int remote_write_series_labels(const struct remote_write_batch *b, size_t i, struct arena *a,
			       struct labels *out);

/* A cache of (label bytes -> ref); see "Series cache" above. NULL on allocation
 * failure. */
struct remote_series_cache *remote_series_cache_new(void);
void remote_series_cache_free(struct remote_series_cache *c);
/* After the batch was stored: refs[i] is the ref batch series i was appended under
 * (0: not stored). Series with cacheable label bytes are remembered under that ref;
 * memory failures only mean a series is not remembered. */
void remote_series_cache_learn(struct remote_series_cache *c, const struct remote_write_batch *b,
			       const uint64_t *refs);
/* Entries held. */
size_t remote_series_cache_size(struct remote_series_cache *c);
/* Keep the cache near the storage's size: when it holds an eighth more than `live`
 * (the series the storage has) plus some slack, forget every entry whose ref alive() denies
 * (series the storage dropped). Cheap when there is nothing to do; one sweep runs at
 * a time (a call while another runs returns at once). */
void remote_series_cache_trim(struct remote_series_cache *c, uint64_t live,
			      bool (*alive)(void *arg, uint64_t ref), void *arg);

/*
 * Remote read (/api/v1/read), the SAMPLES response type: a snappy ReadRequest in,
 * a snappy ReadResponse with one QueryResult per query out (series sorted by
 * labels, samples in time order). A request that accepts only streamed chunks is
 * refused. Return codes: 0 (out holds the compressed body), -1 for a bad request
 * (400), -2 when storage failed (500); `err` says why.
 */
typedef int (*remote_open_querier_fn)(void *arg, int64_t mint, int64_t maxt,
				      struct tsdb_querier **q, char *err, size_t errlen);

struct remote_read_limits {
	uint64_t max_samples;       /* over all queries; 0: 50 000 000 (Prometheus' default) */
	size_t max_decoded_bytes;   /* 0: 64 MiB */
};

int remote_read(const void *body, size_t len, const char *content_encoding,
		const struct remote_read_limits *lim, remote_open_querier_fn open_querier,
		void *arg, struct arena *a, struct buf *out, char *err, size_t errlen);

#endif
