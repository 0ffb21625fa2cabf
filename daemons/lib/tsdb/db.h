/*
 * db: the storage engine as a daemon uses it: a data directory holding the head (in
 * memory, tsdb.h), its write-ahead log (wal.h) and persistent blocks (block.h):
 *
 *   <dir>/wal/                 segments and checkpoints
 *   <dir>/<ULID>/              blocks (Prometheus' format)
 *   <dir>/snapshots/<name>/    tsdb_db_snapshot()
 *
 * Maintenance (a background thread, or tsdb_db_maintain()): when the head spans more
 * than 1.5 block ranges, its oldest range [t, t + range) (t aligned to the range) is
 * written as a block; then the head is truncated to the block's end, the WAL is cut
 * and everything before the cut checkpointed (series still in the head, samples at or
 * after the block's end), and the old segments deleted. Blocks are compacted into
 * larger ranges (range x 3^i, at most max_block_ms) and deleted by retention: time
 * (blocks wholly older than the newest data minus retention_ms) and size (oldest
 * blocks first while blocks plus WAL exceed retention_bytes).
 *
 * Durability: tsdb_db_append() applies a batch to the head, logs what the head
 * accepted (series records for series the WAL does not have yet, then the samples,
 * then the exemplars the exemplar store took) as one WAL batch, and returns 0 only
 * when that batch is durable under the fsync policy. Only then may the caller
 * acknowledge. If logging fails (ENOSPC, EIO) the call returns -1 and nothing may
 * be acknowledged: the samples stay queryable until a restart but are not promised;
 * the sender retries.
 * Blocks: a block is durable (files and directories fsynced, renamed into place) before
 * the head drops its samples and before the WAL segments holding them are checkpointed
 * away; a compacted block is durable before its sources are deleted. A crash at any
 * point leaves either the old or the new state, plus possibly a .tmp-for-creation or
 * .tmp-for-deletion directory (removed at open) or blocks a compaction had already
 * replaced (the newer block names them as parents; they are deleted at open).
 * Recovery: tsdb_db_open() loads the blocks (a block that fails validation is logged
 * and skipped), raises the head's min valid time to the newest block's end (samples
 * the blocks hold are not replayed twice), then replays the WAL into the head before
 * anything is served.
 * Replay keeps every logged sample, whatever order concurrent batches reached the
 * log in, and samples logged before their series record (a batch may use a series
 * another, not yet logged batch created) are applied once that record is read.
 *
 * Thread-safety: tsdb_db_append(), tsdb_db_querier(), tsdb_db_maintain(),
 * tsdb_db_snapshot(), tsdb_db_blocks() and tsdb_db_stats() are safe from any number of
 * threads (maintenance and snapshots run one at a time; appends and queries never
 * wait for them, except that a head truncation waits for queriers reading below it);
 * open and close are not.
 */
#ifndef LGTM_TSDB_DB_H
#define LGTM_TSDB_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "labels/labels.h"
#include "tsdb/block.h"
#include "tsdb/tsdb.h"
#include "tsdb/wal.h"

#define TSDB_DB_DEFAULT_RETENTION_MS (15 * 24 * 3600 * 1000LL)

struct tsdb_db_options {
	const char *dir;            /* data directory; the WAL lives in <dir>/wal */
	enum tsdb_wal_fsync fsync;
	enum tsdb_wal_compression wal_compression; /* of WAL records and checkpoints */
	enum tsdb_wal_encoding wal_encoding; /* of samples records logged; 0: Prometheus' */
	size_t wal_segment_size;    /* 0: default */
	int64_t ooo_window_ms;      /* 0: out-of-order samples are refused */
	int64_t block_range_ms;     /* head chunk and first block range; 0: 2h */
	enum tsdb_block_encoding block_encoding; /* of blocks written; 0: Prometheus' */
	int64_t retention_ms;       /* delete blocks older than this; 0: keep (no time limit) */
	uint64_t retention_bytes;   /* delete oldest blocks beyond this; 0: no size limit */
	int64_t max_block_ms;       /* largest compacted block; 0: min(retention / 10, 31d) */
	int64_t maintain_interval_ms; /* background maintenance period; 0: 1 min; < 0: no
				       * background thread (call tsdb_db_maintain()) */
	/* Replay progress for systemd's STATUS= ("replaying WAL segment 3/10"); optional. */
	void (*progress)(void *arg, const char *status);
	void *progress_arg;
	/* Exemplar ring size (tsdb.h's exemplar store); 0: exemplars are not stored. */
	size_t max_exemplars;
};

struct tsdb_db;

struct tsdb_db_replay_stats {
	uint64_t series, samples;
	uint64_t unknown_refs;   /* samples whose series record never came: dropped */
	uint64_t refused;        /* samples the head refused (below the min valid time) */
	int64_t truncated_bytes; /* torn tail cut from the last segment */
	uint64_t exemplars;      /* exemplars stored again */
};

int tsdb_db_open(const struct tsdb_db_options *o, struct tsdb_db **out, char *err,
		 size_t errlen);
/* Flush and fsync the WAL, free everything. */
int tsdb_db_close(struct tsdb_db *db, char *err, size_t errlen);

/* One series of a batch: labels (any order) and its samples in time order; optionally
 * exemplars of the series, in time order (labels any order; empty values dropped).
 * ref: optional, the ref an earlier append reported for these very labels (see
 * tsdb_db_append_ex()); labels may then be NULL. */
struct tsdb_db_series {
	const struct labels *labels;
	const struct tsdb_sample *samples;
	size_t n;
	const struct tsdb_exemplar *exemplars;
	size_t nexemplars;
	uint64_t ref;
};

struct tsdb_db_result {
	uint64_t appended;       /* samples stored (identical duplicates included) */
	uint64_t rejected;       /* refused by the head's rules */
	uint64_t out_of_order, duplicate, out_of_bounds, too_old;
	uint64_t series_created;
	struct buf errors;       /* the first refusals, "; "-separated; free with buf_free */
	/* Exemplars stored, and refused by the exemplar store's rules. As upstream, a
	 * refused exemplar is neither in `rejected` nor in `errors`; an ignored duplicate
	 * is in no count. */
	uint64_t exemplars_appended, exemplars_out_of_order, exemplars_invalid;
};

/* Append a batch; see Durability above. Refusals (out of order, duplicate, out of
 * bounds, too old) are counted in `res` and do not fail the call. `a` holds scratch
 * memory for the call.
 * Exemplars (with max_exemplars set; else ignored) go to the exemplar store after
 * their series' samples went to the head, whether or not those samples were
 * accepted, as upstream's appender does; the ones it stores are logged in the same
 * WAL batch as the samples (an exemplars record after the samples record), so they
 * are durable exactly when the samples are, and tsdb_db_open() replays them. */
int tsdb_db_append(struct tsdb_db *db, const struct tsdb_db_series *series, size_t n,
		   struct arena *a, struct tsdb_db_result *res, char *err, size_t errlen);

/*
 * tsdb_db_append() for callers that remember series refs (a remote-write series
 * cache): a series given with a ref skips the lookup by labels while that ref names a
 * live series; when it names none (the head dropped the series), the labels are used
 * as if no ref had been given. A series may come without labels (labels NULL, ref
 * set); `labels` is then asked for them, only when they are needed: a stale ref, a
 * refusal to describe, a series the WAL has no record of yet, exemplars to store. It
 * must give the set the series was created with (sorted, no empty values), in `a`,
 * or -1 (the append then fails as for an allocation failure). refs (optional, n
 * entries) gets the ref each series was appended under, 0 for none (its labels were
 * refused). written (optional) is called at most once, with arg, when the batch has
 * been applied and written to the WAL but before the call waits for it to be durable:
 * refs are filled by then, and neither the input series and labels nor `a` are used
 * after it, so the caller may free them then (a request's buffers need not wait out
 * the fsync). Everything else is
 * tsdb_db_append(), which is this with no options.
 */
struct tsdb_db_append_opts {
	int (*labels)(void *arg, size_t i, struct arena *a, struct labels *out);
	void *arg;
	uint64_t *refs;
	void (*written)(void *arg);
};
int tsdb_db_append_ex(struct tsdb_db *db, const struct tsdb_db_series *series, size_t n,
		      const struct tsdb_db_append_opts *opts, struct arena *a,
		      struct tsdb_db_result *res, char *err, size_t errlen);

/* A querier over everything stored in [mint, maxt]: the blocks overlapping it and the
 * head, merged (tsdb_merge_querier). */
int tsdb_db_querier(struct tsdb_db *db, int64_t mint, int64_t maxt, struct tsdb_querier **out,
		    char *err, size_t errlen);

/* One round of maintenance: cut blocks from the head while it spans more than 1.5
 * ranges (then truncate the head and checkpoint the WAL), compact blocks, apply
 * retention. The background thread calls it; tests call it directly. Failures are
 * returned (and logged); what succeeded stays done. */
int tsdb_db_maintain(struct tsdb_db *db, char *err, size_t errlen);

/* A consistent copy for backups in <dir>/snapshots/<name>/: every block hard-linked,
 * and with_head the head written as one more block. `name` gets
 * "<UTC yyyymmddThhmmssZ>-<16 hex digits>" (Prometheus' form). */
int tsdb_db_snapshot(struct tsdb_db *db, bool with_head, char *name, size_t namelen,
		     char *err, size_t errlen);

/* The loaded blocks' metas, by min time (copies: free each with tsdb_block_meta_free,
 * then the array with free). */
int tsdb_db_blocks(struct tsdb_db *db, struct tsdb_block_meta **out, size_t *n, char *err,
		   size_t errlen);

struct tsdb_db_stats {
	uint64_t blocks, blocks_bytes, wal_bytes;
	uint64_t blocks_skipped;            /* failed validation at open */
	uint64_t head_cuts, head_cuts_failed;
	uint64_t compactions, compactions_failed;
	uint64_t checkpoints, checkpoints_failed;
	uint64_t retention_time_deleted, retention_size_deleted;
	int64_t lowest_block_time;           /* INT64_MAX without blocks */
};
void tsdb_db_stats(struct tsdb_db *db, struct tsdb_db_stats *st);

struct tsdb_head *tsdb_db_head(struct tsdb_db *db);
/* The exemplar store, or NULL when max_exemplars was 0. */
struct tsdb_exemplars *tsdb_db_exemplars(struct tsdb_db *db);
struct tsdb_wal *tsdb_db_wal(struct tsdb_db *db);
const struct tsdb_db_replay_stats *tsdb_db_replay_stats(const struct tsdb_db *db);

#endif
