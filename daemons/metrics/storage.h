/*
 * lgtm-metrics' storage: the TSDB under the data directory, its flags, its self
 * metrics, and the remote-write / remote-read endpoints that feed and read it.
 */
#ifndef LGTM_METRICS_STORAGE_H
#define LGTM_METRICS_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"

struct runtime;
struct tsdb_db;

struct storage_flags {
	const char *wal_fsync;        /* always | batch | never */
	bool wal_compression;         /* compress WAL records (default on) */
	const char *wal_compression_type; /* snappy | zstd */
	const char *block_encoding;   /* prometheus | dense */
	const char *wal_encoding;     /* prometheus | dense */
	int64_t read_sample_limit;
	bool remote_write_receiver;   /* accepted for compatibility: always on */
	int64_t retention_time_ms;    /* 0: 15d unless a size limit is set */
	uint64_t retention_size;      /* bytes of blocks + WAL; 0: none */
	int64_t min_block_ms;         /* the head's block range */
	int64_t max_block_ms;         /* 0: 10% of the retention time, at most 31d */
	bool admin_api;               /* POST /api/v1/admin/tsdb/snapshot */
	int64_t exemplars_limit;      /* exemplar ring size; 0: exemplars are not kept */
};

extern struct storage_flags storage_flags;
/* Flag table entries (terminated by the caller's table). */
#define STORAGE_FLAGS \
	{ "storage.tsdb.wal-fsync", CLI_STRING, &storage_flags.wal_fsync, \
	  "When an appended batch is durable: always (fsync per request), batch (group commit, fsync before ack), never.", "<policy>", false }, \
	{ "storage.tsdb.wal-compression", CLI_BOOL, &storage_flags.wal_compression, \
	  "Compress the write-ahead log (--no-storage.tsdb.wal-compression to turn it off).", NULL, false }, \
	{ "storage.tsdb.wal-compression-type", CLI_STRING, &storage_flags.wal_compression_type, \
	  "Compression algorithm for the WAL: snappy (readable by Prometheus 2.11+ and promtool) or zstd (smaller; Prometheus 2.49+).", "<type>", false }, \
	{ "storage.tsdb.wal-encoding", CLI_STRING, &storage_flags.wal_encoding, \
	  "How the WAL lays out samples: prometheus (Prometheus' records: promtool and Prometheus replay the WAL) or dense (lgtm's columnar record, about half the bytes after compression; lgtm only).", "<encoding>", false }, \
	{ "storage.remote.read-sample-limit", CLI_INT, &storage_flags.read_sample_limit, \
	  "Maximum samples one remote read request may return (0: no limit).", NULL, false }, \
	{ "web.enable-remote-write-receiver", CLI_BOOL, &storage_flags.remote_write_receiver, \
	  "Accepted for compatibility; the remote-write receiver is always on.", NULL, false }, \
	{ "storage.tsdb.block-encoding", CLI_STRING, &storage_flags.block_encoding, \
	  "How blocks store chunks: prometheus (Prometheus' XOR chunks: promtool and Prometheus read the blocks) or dense (lgtm's own encoding, about a third smaller; lgtm only). Blocks in the other encoding are rewritten in the background.", "<encoding>", false }, \
	{ "storage.tsdb.retention.time|storage.tsdb.retention", CLI_DURATION, \
	  &storage_flags.retention_time_ms, \
	  "How long to retain samples in storage. If neither this flag nor storage.tsdb.retention.size is set, it defaults to 15d.", NULL, false }, \
	{ "storage.tsdb.retention.size", CLI_BYTES, &storage_flags.retention_size, \
	  "Maximum bytes of blocks and WAL to keep; the oldest blocks are deleted first (units: B, KB, MB, GB, TB, PB; 0: no limit).", "<size>", false }, \
	{ "storage.tsdb.min-block-duration", CLI_DURATION, &storage_flags.min_block_ms, \
	  "Time range of the blocks written from the head (and of head chunks).", NULL, false }, \
	{ "storage.tsdb.max-block-duration", CLI_DURATION, &storage_flags.max_block_ms, \
	  "Largest time range compaction builds blocks up to (0: 10% of the retention time, at most 31d).", NULL, false }, \
	{ "web.enable-admin-api", CLI_BOOL, &storage_flags.admin_api, \
	  "Enable API endpoints for admin control actions (POST /api/v1/admin/tsdb/snapshot).", NULL, false }, \
	{ "storage.exemplars.exemplars-limit", CLI_INT, &storage_flags.exemplars_limit, \
	  "Maximum number of exemplars to keep in memory, shared by all series (0: exemplars are not kept).", NULL, false }

/* Open (replaying the WAL, with STATUS= progress), register metrics and routes. */
int storage_start(struct runtime *rt, char *err, size_t errlen);
void storage_stop(void);
struct tsdb_db *storage_db(void);

#endif
