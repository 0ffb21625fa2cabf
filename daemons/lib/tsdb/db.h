/*
 * db: the storage engine as a daemon uses it: a data directory holding the head (in
 * memory, tsdb.h) and its write-ahead log (wal.h). Blocks, compaction and retention
 * join here as they are built.
 *
 * Durability: tsdb_db_append() applies a batch to the head, logs what the head
 * accepted (series records for series the WAL does not have yet, then the samples)
 * as one WAL batch, and returns 0 only when that batch is durable under the fsync
 * policy. Only then may the caller acknowledge. If logging fails (ENOSPC, EIO) the
 * call returns -1 and nothing may be acknowledged: the samples stay queryable until
 * a restart but are not promised; the sender retries.
 * Recovery: tsdb_db_open() replays the WAL into the head before anything is served.
 * Replay keeps every logged sample, whatever order concurrent batches reached the
 * log in, and samples logged before their series record (a batch may use a series
 * another, not yet logged batch created) are applied once that record is read.
 *
 * Thread-safety: tsdb_db_append() and tsdb_db_querier() are safe from any number of
 * threads; open and close are not.
 */
#ifndef LGTM_TSDB_DB_H
#define LGTM_TSDB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "labels/labels.h"
#include "tsdb/tsdb.h"
#include "tsdb/wal.h"

struct tsdb_db_options {
	const char *dir;            /* data directory; the WAL lives in <dir>/wal */
	enum tsdb_wal_fsync fsync;
	size_t wal_segment_size;    /* 0: default */
	int64_t ooo_window_ms;      /* 0: out-of-order samples are refused */
	/* Replay progress for systemd's STATUS= ("replaying WAL segment 3/10"); optional. */
	void (*progress)(void *arg, const char *status);
	void *progress_arg;
};

struct tsdb_db;

struct tsdb_db_replay_stats {
	uint64_t series, samples;
	uint64_t unknown_refs;   /* samples whose series record never came: dropped */
	uint64_t refused;        /* samples the head refused (below the min valid time) */
	int64_t truncated_bytes; /* torn tail cut from the last segment */
};

int tsdb_db_open(const struct tsdb_db_options *o, struct tsdb_db **out, char *err,
		 size_t errlen);
/* Flush and fsync the WAL, free everything. */
int tsdb_db_close(struct tsdb_db *db, char *err, size_t errlen);

/* One series of a batch: labels (any order) and its samples in time order. */
struct tsdb_db_series {
	const struct labels *labels;
	const struct tsdb_sample *samples;
	size_t n;
};

struct tsdb_db_result {
	uint64_t appended;       /* samples stored (identical duplicates included) */
	uint64_t rejected;       /* refused by the head's rules */
	uint64_t out_of_order, duplicate, out_of_bounds, too_old;
	uint64_t series_created;
	struct buf errors;       /* the first refusals, "; "-separated; free with buf_free */
};

/* Append a batch; see Durability above. Refusals (out of order, duplicate, out of
 * bounds, too old) are counted in `res` and do not fail the call. `a` holds scratch
 * memory for the call. */
int tsdb_db_append(struct tsdb_db *db, const struct tsdb_db_series *series, size_t n,
		   struct arena *a, struct tsdb_db_result *res, char *err, size_t errlen);

/* A querier over everything stored in [mint, maxt]. */
int tsdb_db_querier(struct tsdb_db *db, int64_t mint, int64_t maxt, struct tsdb_querier **out,
		    char *err, size_t errlen);

struct tsdb_head *tsdb_db_head(struct tsdb_db *db);
struct tsdb_wal *tsdb_db_wal(struct tsdb_db *db);
const struct tsdb_db_replay_stats *tsdb_db_replay_stats(const struct tsdb_db *db);

#endif
