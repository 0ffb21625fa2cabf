/*
 * remotewrite: the receiving side of Prometheus remote-write 1.0, up to (not
 * including) storage: body -> validated batch of series and samples. Shared by
 * lgtm-metrics (/api/v1/write) and lgtm-longterm (/api/v1/push).
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
 *   lives in the caller's arena.
 * Thread-safe: no shared state.
 */
#ifndef LGTM_REMOTEWRITE_H
#define LGTM_REMOTEWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "labels/labels.h"

struct rw_limits {
	size_t max_labels;         /* per series; 0: 128 */
	size_t max_name_length;    /* 0: 1024 */
	size_t max_value_length;   /* 0: 16384 */
	size_t max_decoded_bytes;  /* protobuf size after snappy; 0: 256 MiB */
};

struct rw_sample {
	int64_t t; /* ms */
	double v;
};

struct rw_series {
	struct labels labels;
	const struct rw_sample *samples;
	size_t nsamples;
	size_t nhistograms; /* native histograms are not stored yet: counted, reported */
};

struct rw_batch {
	struct rw_series *series;
	size_t nseries;
	size_t nsamples;
	size_t invalid_series;
	size_t invalid_samples;
	struct buf errors;  /* "; "-separated descriptions of the first invalid series */
};

/* content_encoding: the request's Content-Encoding header (NULL when absent). */
int rw_decode(const void *body, size_t len, const char *content_encoding,
	      const struct rw_limits *lim, struct arena *a, struct rw_batch *out, char *err,
	      size_t errlen);
/* Frees out->errors (everything else is in the arena). */
void rw_batch_free(struct rw_batch *b);

#endif
