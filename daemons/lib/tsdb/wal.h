/*
 * wal: the TSDB's write-ahead log. It owns the files in one WAL directory
 * (conventionally <storage dir>/wal): numbered segments 00000000, 00000001, ... and
 * checkpoint.NNNNNNNN/ directories. It knows nothing about the head; it stores opaque
 * records, and provides encoders/decoders for Prometheus' record types and for lgtm's
 * columnar samples record.
 *
 * On-disk format (Prometheus' tsdb/docs/format/wal.md): segments are written in
 * 32 KiB pages; a record is split into fragments (full, first, middle, last) that
 * never cross a page, each with a 7-byte header: type <1b>, length <2b BE>, CRC32C of
 * the fragment data <4b BE>. A page with fewer than 7 bytes left is zero-padded.
 * Records never cross segments; a record larger than a segment gets a larger segment.
 * Compression (opts): a record may be compressed whole before it is fragmented, its
 * fragments then carrying Prometheus' bit in the type byte (0x08 snappy, 0x10 zstd);
 * CRCs cover the stored bytes. A record that does not shrink is stored uncompressed.
 * Readers decompress transparently: every reader here yields records as encoded.
 * One extension: bit 0x20 of the type byte marks a record that is not the last of its
 * batch ("batch continues"). Readers here deliver a batch only when its last record
 * is complete, so a batch logged by one tsdb_wal_log() call replays entirely or not
 * at all; Prometheus' reader ignores the bit. A batch never crosses segments either.
 * While a segment is written under an fsync policy, the writer keeps up to 1 MiB
 * past its data written as zeros, so that fsyncs overwrite blocks the file already
 * has (no allocation or size change to write: on ext4 half the CPU and latency); a
 * segment is cut to its data when closed, and a crash leaves the zeros, cut at the
 * next open like a torn tail. A zero byte where a fragment header would still fit in
 * the page is therefore the end of the data (Prometheus pads that much only at a
 * segment's end): readers check that only zeros follow in a closed segment, and wait
 * there in the one being written, whose batches are written first byte last so that
 * a reader never sees half of one.
 *
 * Durability: tsdb_wal_log() returns 0 only once the batch is durable under the
 * policy: ALWAYS fsyncs inside every call; BATCH (group commit, the default) lets
 * concurrent callers share one fsync, each returning after an fsync that began
 * after its records were written; NEVER leaves flushing to the kernel. A failed
 * write or fsync (ENOSPC, EIO) returns an error and cuts the segment back to the
 * last point known good, so the next write starts at a record boundary and nothing
 * unacknowledged is left half-written; a failed fsync fails every caller waiting for
 * it, and those that wrote meanwhile. Writes resume when the cause goes away.
 *
 * Recovery: tsdb_wal_open() and tsdb_wal_replay() truncate a torn or corrupt tail of
 * the last segment at the end of its last complete batch, with a LOG_WARN naming
 * segment and offset. Corruption anywhere else stops replay with TSDB_WAL_ECORRUPT
 * and a message naming segment and offset; what was replayed before it stands, and
 * tsdb_wal_repair() can cut the log there if the caller decides to go on.
 *
 * Thread-safety: tsdb_wal_log(), tsdb_wal_cut(), tsdb_wal_stats() and the accessors
 * may be called from any number of threads. tsdb_wal_checkpoint() may run alongside
 * logging (it reads closed segments only) but not alongside another checkpoint.
 * tsdb_wal_close() must not race with anything. A reader belongs to one thread; any
 * number of readers may tail a log while it is written. The record codecs are
 * reentrant.
 *
 * Errors: functions returning int give 0 (or a count, where stated) on success and a
 * negative value with `err` filled on failure: TSDB_WAL_ECORRUPT for damaged data,
 * TSDB_WAL_EGONE when a reader's segment was removed under it, -1 otherwise.
 * Library code never exits or aborts; allocation failures are errors.
 */
#ifndef LGTM_TSDB_WAL_H
#define LGTM_TSDB_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "labels/labels.h"

#define TSDB_WAL_PAGE_SIZE (32 * 1024)
#define TSDB_WAL_DEFAULT_SEGMENT_SIZE (128 * 1024 * 1024)

#define TSDB_WAL_ECORRUPT (-2)
#define TSDB_WAL_EGONE (-3)

/* --- CRC32C (Castagnoli) ----------------------------------------------------------- */

/* Running CRC32C: start with crc = 0, feed the previous result to continue.
 * Uses the SSE4.2 instruction when the CPU has it, a slicing-by-8 table otherwise. */
uint32_t tsdb_wal_crc32c(uint32_t crc, const void *data, size_t len);

/* --- records (Prometheus' tsdb/record encoding) ------------------------------------ */

enum tsdb_wal_rec_type {
	TSDB_WAL_REC_SERIES = 1,
	TSDB_WAL_REC_SAMPLES = 2,
	TSDB_WAL_REC_TOMBSTONES = 3,
	TSDB_WAL_REC_EXEMPLARS = 4,
	/* lgtm's columnar samples records (wal_record.c): the same entries as SAMPLES,
	 * laid out to compress better; Prometheus cannot read them. 0x81 (values as
	 * byte planes) is what older builds wrote and is still read; 0x82 (values as
	 * decimal mantissas) is written. */
	TSDB_WAL_REC_SAMPLES_DENSE = 0x81,
	TSDB_WAL_REC_SAMPLES_DENSE2 = 0x82,
};

/* Is this record type one of the samples layouts? */
static inline bool tsdb_wal_is_samples(int type)
{
	return type == TSDB_WAL_REC_SAMPLES || type == TSDB_WAL_REC_SAMPLES_DENSE ||
	       type == TSDB_WAL_REC_SAMPLES_DENSE2;
}

struct tsdb_wal_series {
	uint64_t ref;
	struct labels labels;
};

struct tsdb_wal_sample {
	uint64_t ref;
	int64_t t; /* milliseconds */
	double v;
};

struct tsdb_wal_tombstone {
	uint64_t ref;
	int64_t mint, maxt;
};

struct tsdb_wal_exemplar {
	uint64_t ref;
	int64_t t;
	double v;
	struct labels labels;
};

/* Encoders append one record to `out` (check out->oom once at the end). Samples and
 * exemplars are delta-encoded against the first entry, as Prometheus does. */
void tsdb_wal_encode_series(struct buf *out, const struct tsdb_wal_series *s, size_t n);
void tsdb_wal_encode_samples(struct buf *out, const struct tsdb_wal_sample *s, size_t n);
/* The same entries as lgtm's columnar record (TSDB_WAL_REC_SAMPLES_DENSE2). */
void tsdb_wal_encode_samples_dense(struct buf *out, const struct tsdb_wal_sample *s, size_t n);
void tsdb_wal_encode_tombstones(struct buf *out, const struct tsdb_wal_tombstone *s,
				size_t n);
void tsdb_wal_encode_exemplars(struct buf *out, const struct tsdb_wal_exemplar *s, size_t n);

/* The record's type byte (an enum tsdb_wal_rec_type, or another value for types this
 * code does not know), or -1 for an empty record. */
int tsdb_wal_record_type(const void *rec, size_t len);

/* Decoders fill an array allocated in `a` (label strings are copied there too, NUL-
 * terminated; a NUL inside a string is an error). They return 0, -1 on allocation
 * failure, or TSDB_WAL_ECORRUPT for a malformed record or one of another type. The
 * samples decoder takes every samples layout. */
int tsdb_wal_decode_series(const void *rec, size_t len, struct arena *a,
			   struct tsdb_wal_series **out, size_t *n, char *err, size_t errlen);
int tsdb_wal_decode_samples(const void *rec, size_t len, struct arena *a,
			    struct tsdb_wal_sample **out, size_t *n, char *err, size_t errlen);
int tsdb_wal_decode_tombstones(const void *rec, size_t len, struct arena *a,
			       struct tsdb_wal_tombstone **out, size_t *n, char *err,
			       size_t errlen);
int tsdb_wal_decode_exemplars(const void *rec, size_t len, struct arena *a,
			      struct tsdb_wal_exemplar **out, size_t *n, char *err,
			      size_t errlen);

/* --- segments ---------------------------------------------------------------------- */

/* First and last segment numbers in `dir` (a WAL or checkpoint directory); both -1
 * when there are none (or the directory does not exist). */
int tsdb_wal_segments(const char *dir, int *first, int *last, char *err, size_t errlen);

/* Newest complete checkpoint in the WAL directory: *n = N and `path` (may be NULL)
 * = "<waldir>/checkpoint.NNNNNNNN"; *n = -1 when there is none. */
int tsdb_wal_checkpoint_last(const char *waldir, int *n, char *path, size_t pathlen,
			     char *err, size_t errlen);

/* --- writer ------------------------------------------------------------------------ */

enum tsdb_wal_fsync { TSDB_WAL_FSYNC_BATCH = 0, TSDB_WAL_FSYNC_ALWAYS, TSDB_WAL_FSYNC_NEVER };

/* "always" | "batch" | "never" (the --storage.tsdb.wal-fsync values); 0 or -1. */
int tsdb_wal_parse_fsync(const char *s, enum tsdb_wal_fsync *out);

/* How records are written; every reader takes all of them, in any mix. */
enum tsdb_wal_compression {
	TSDB_WAL_COMPRESS_NONE = 0,
	TSDB_WAL_COMPRESS_SNAPPY, /* Prometheus' format (2.11+); promtool 2.42 reads it */
	TSDB_WAL_COMPRESS_ZSTD,   /* Prometheus 2.49+ reads it */
};

/* How sample records are laid out (the records' users, not the log, choose). */
enum tsdb_wal_encoding {
	TSDB_WAL_ENC_PROMETHEUS = 0, /* Prometheus' samples record */
	TSDB_WAL_ENC_DENSE,          /* lgtm's columnar record: about half the bytes */
};

/* "prometheus" | "dense" (the --storage.tsdb.wal-encoding values); 0 or -1. */
int tsdb_wal_parse_encoding(const char *s, enum tsdb_wal_encoding *out);

/* "none" | "snappy" | "zstd"; 0 or -1. */
int tsdb_wal_parse_compression(const char *s, enum tsdb_wal_compression *out);
const char *tsdb_wal_compression_name(enum tsdb_wal_compression c);

struct tsdb_wal_opts {
	size_t segment_size;         /* multiple of TSDB_WAL_PAGE_SIZE; 0 = 128 MiB */
	enum tsdb_wal_fsync fsync;
	enum tsdb_wal_compression compression; /* of records written (and checkpoints) */
	/* Test hooks, NULL in production: replace pwrite(2) and fdatasync(2) on segment
	 * files so tests can inject short writes, ENOSPC and EIO, or slow fsyncs. */
	long (*pwrite_hook)(void *ctx, int fd, const void *buf, size_t len, int64_t off);
	int (*fsync_hook)(void *ctx, int fd);
	void *hook_ctx;
};

struct tsdb_wal_stats {
	uint64_t log_calls;     /* successful tsdb_wal_log() calls */
	uint64_t records;       /* records in those calls */
	uint64_t bytes;         /* bytes written, framing included */
	uint64_t fsyncs;        /* fdatasync calls on segments */
	double fsync_seconds;   /* time spent in them */
	uint64_t writes_failed; /* tsdb_wal_log() calls that returned an error */
	int segment;            /* segment being written */
	int64_t offset;         /* end of its data (the file may be longer: zeros ahead) */
};

struct tsdb_wal;

/* One encoded record for tsdb_wal_log(). */
struct tsdb_wal_rec {
	const void *data;
	size_t len;
};

/* Open the WAL in `waldir` (created with its parents when missing) for appending to
 * its last segment, or to a new one (00000000, or the one after the newest
 * checkpoint). A torn or corrupt tail of that segment is cut off first (LOG_WARN).
 * opts may be NULL for the defaults. */
int tsdb_wal_open(const char *waldir, const struct tsdb_wal_opts *opts, struct tsdb_wal **out,
		  char *err, size_t errlen);

/* Append n records as one batch (atomic for readers) and make it durable under the
 * fsync policy before returning. n = 0 is a no-op. On error nothing of the batch is
 * acknowledged; the log stays consistent and later calls may succeed. */
int tsdb_wal_log(struct tsdb_wal *w, const struct tsdb_wal_rec *recs, size_t n, char *err,
		 size_t errlen);
/* tsdb_wal_log() that calls written(arg) once the batch is written and recs are no
 * longer needed, before it waits for the batch to be durable (so a caller can free
 * what only the append needed while its fsync is in flight); still returns only once
 * the batch is durable or has failed. Not called when the write itself fails. */
int tsdb_wal_log_ex(struct tsdb_wal *w, const struct tsdb_wal_rec *recs, size_t n,
		    void (*written)(void *arg), void *arg, char *err, size_t errlen);

/* Close the current segment (fsynced) and start the next one; *seg (may be NULL) gets
 * the new segment's number (an empty current segment stays current). Everything
 * logged before is in segments < *seg, which a checkpoint may then take in. */
int tsdb_wal_cut(struct tsdb_wal *w, int *seg, char *err, size_t errlen);

int tsdb_wal_current_segment(struct tsdb_wal *w);
const char *tsdb_wal_dir(const struct tsdb_wal *w);
void tsdb_wal_stats(struct tsdb_wal *w, struct tsdb_wal_stats *out);

/* Flush and fsync, then free (always, even when an error is returned). NULL is ok. */
int tsdb_wal_close(struct tsdb_wal *w, char *err, size_t errlen);

/* --- reader (tailing) -------------------------------------------------------------- */

struct tsdb_wal_reader;

/* Read the segments of `dir` (a WAL or checkpoint directory) in order from segment
 * `first` (-1: the first existing one, or 0 when there is none yet). The reader never
 * writes and never blocks the writer. */
int tsdb_wal_reader_open(const char *dir, int first, struct tsdb_wal_reader **out,
			 char *err, size_t errlen);

/* Next record: returns 1 with *rec and *len set (valid until the next call), 0 when no
 * complete batch is available yet (call again later to tail a live log; a partial
 * batch at the end is waited for, not an error), TSDB_WAL_ECORRUPT for damaged data
 * (or a segment that ends inside a batch while a later one exists, or one that the
 * writer cut back below the reader after a failed fsync), TSDB_WAL_EGONE
 * when the segment to read next was deleted (a checkpoint overtook the reader), or
 * -1 for an I/O or allocation error. */
int tsdb_wal_reader_next(struct tsdb_wal_reader *r, const void **rec, size_t *len, char *err,
			 size_t errlen);

/* Where the reader stands: segment, and the offset after the last batch it finished. */
void tsdb_wal_reader_position(const struct tsdb_wal_reader *r, int *seg, int64_t *off);
void tsdb_wal_reader_close(struct tsdb_wal_reader *r);

/* --- replay ------------------------------------------------------------------------ */

struct tsdb_wal_progress {
	bool checkpoint; /* reading the checkpoint (true) or the WAL segments (false) */
	int segment;     /* number of the segment about to be read */
	int i, n;        /* it is the i-th (1-based) of n segments in this replay */
};

/* Callbacks get each record decoded (arrays valid for the call only); NULL skips that
 * type. `other` gets records of unknown types raw. A callback returning < 0 stops the
 * replay with that value and its err. */
struct tsdb_wal_replay_ops {
	int (*series)(void *ctx, const struct tsdb_wal_series *s, size_t n, char *err,
		      size_t errlen);
	int (*samples)(void *ctx, const struct tsdb_wal_sample *s, size_t n, char *err,
		       size_t errlen);
	int (*tombstones)(void *ctx, const struct tsdb_wal_tombstone *t, size_t n, char *err,
			  size_t errlen);
	int (*exemplars)(void *ctx, const struct tsdb_wal_exemplar *e, size_t n, char *err,
			 size_t errlen);
	int (*other)(void *ctx, const void *rec, size_t len, char *err, size_t errlen);
	void (*progress)(void *ctx, const struct tsdb_wal_progress *p);
};

struct tsdb_wal_replay_result {
	int checkpoint;          /* N of the checkpoint replayed, -1 if none */
	int first, last;         /* WAL segments replayed after it (-1, -1: none) */
	uint64_t records;
	uint64_t batches;
	int64_t truncated_bytes; /* cut from the last segment's tail */
	/* On TSDB_WAL_ECORRUPT in a WAL segment: where the damage is and where the last
	 * complete batch before it ends (what tsdb_wal_repair() takes); -1 when the damage
	 * is in the checkpoint, which only an operator can deal with. */
	int corrupt_segment;
	int64_t corrupt_offset, good_offset;
};

/* Replay the newest checkpoint, then the segments after it, in order. A missing WAL
 * directory replays nothing. Run it before the first tsdb_wal_log(). `res` may be
 * NULL. A torn or corrupt tail of the last segment is truncated (LOG_WARN). */
int tsdb_wal_replay(const char *waldir, const struct tsdb_wal_replay_ops *ops, void *ctx,
		    struct tsdb_wal_replay_result *res, char *err, size_t errlen);

/* Cut the WAL at (segment, offset): truncate that segment there and delete every later
 * one (Prometheus' repair). For a caller that accepts losing what follows damage. */
int tsdb_wal_repair(const char *waldir, int segment, int64_t offset, char *err,
		    size_t errlen);

/* --- checkpoint -------------------------------------------------------------------- */

struct tsdb_wal_checkpoint_stats {
	int previous;                          /* checkpoint folded in, -1: none */
	int from, to;                          /* WAL segments taken in (-1: none) */
	uint64_t series_kept, series_dropped;
	uint64_t samples_kept, samples_dropped;
};

/* Write checkpoint.<upto> from the previous checkpoint and segments <= upto: series
 * for which keep(ctx, ref) holds, and samples, exemplars and tombstones of kept series
 * with t (tombstones: maxt) >= mint; records of unknown types are kept as they are.
 * It is written to checkpoint.<upto>.tmp, fsynced and renamed, then segments <= upto
 * and older checkpoints are deleted. `upto` must be below the segment being written
 * (tsdb_wal_cut() first). keep NULL keeps every series; `st` may be NULL. With
 * nothing new to take in (checkpoint.<upto> exists) it returns 0 and does nothing. */
int tsdb_wal_checkpoint(struct tsdb_wal *w, int upto,
			bool (*keep)(void *ctx, uint64_t ref), void *ctx, int64_t mint,
			struct tsdb_wal_checkpoint_stats *st, char *err, size_t errlen);

#endif
