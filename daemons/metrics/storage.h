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
	int64_t read_sample_limit;
	bool remote_write_receiver;   /* accepted for compatibility: always on */
};

extern struct storage_flags storage_flags;
/* Flag table entries (terminated by the caller's table). */
#define STORAGE_FLAGS \
	{ "storage.tsdb.wal-fsync", CLI_STRING, &storage_flags.wal_fsync, \
	  "When an appended batch is durable: always (fsync per request), batch (group commit, fsync before ack), never.", "<policy>", false }, \
	{ "storage.remote.read-sample-limit", CLI_INT, &storage_flags.read_sample_limit, \
	  "Maximum samples one remote read request may return (0: no limit).", NULL, false }, \
	{ "web.enable-remote-write-receiver", CLI_BOOL, &storage_flags.remote_write_receiver, \
	  "Accepted for compatibility; the remote-write receiver is always on.", NULL, false }

/* Open (replaying the WAL, with STATUS= progress), register metrics and routes. */
int storage_start(struct runtime *rt, char *err, size_t errlen);
void storage_stop(void);
struct tsdb_db *storage_db(void);

#endif
