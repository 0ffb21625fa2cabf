/*
 * block: persistent, immutable blocks in Prometheus' on-disk format
 * (tsdb/docs/format: index.md, chunks.md, tombstones.md, and meta.json), so that
 * promtool and Prometheus read our blocks and we read theirs.
 *
 * A block is a directory <parent>/<ULID>/ holding:
 *   meta.json    ulid, minTime, maxTime ([minTime, maxTime), milliseconds), stats,
 *                compaction {level, sources, parents}, version 1
 *   chunks/NNNNNN  segment files (magic 0x85BD40DD, version 1, 3 padding bytes), each
 *                chunk as uvarint length, encoding byte (1 = XOR; 0x82 = lgtm's dense
 *                encoding, only in blocks written with TSDB_BLOCK_DENSE, and 0x81 as
 *                older builds wrote it), data, CRC32C of encoding and data; a chunk's
 *                reference is segment index << 32 | offset
 *   index        index format version 2: symbols, series (16-byte aligned; a series'
 *                id is its offset / 16), label indices, postings (the all-series list
 *                under the empty name and value first), label offset table, postings
 *                offset table, TOC, each section with its CRC32C. Blocks written with
 *                TSDB_BLOCK_DENSE have lgtm's own index instead (version byte 0x81,
 *                block_index.c), as dense blocks older builds wrote have version 2
 *   tombstones   empty (magic 0x0130BA30, version 1, CRC32C)
 *
 * Writing: files go to <parent>/<ULID>.tmp-for-creation/, are fsynced with their
 * directories, then the directory is renamed to <ULID>/ and the parent fsynced, so a
 * block either exists whole or not at all (a leftover .tmp-for-creation directory is
 * an interrupted write that the owner removes at start-up).
 *
 * Reading: tsdb_block_open() maps the files read-only and validates them before use:
 * meta.json, every index section's CRC32C, the references from series to symbols and
 * into the chunk segments, and the segments' headers. A failure names the file and
 * what is wrong; the caller logs the block and skips it. A chunk's length, encoding
 * and CRC are checked when it is read (a mismatch is an iterator / series set error),
 * since checking them at open would read every block in full at start-up. The index
 * pages validation touched are dropped from the process afterwards (MADV_DONTNEED;
 * the page cache keeps them), and so are the sources' pages as a compaction reads
 * them, so neither leaves whole blocks in the RSS.
 *
 * Thread-safety: an open block is immutable and may be read by any number of threads;
 * it is reference counted (tsdb_block_ref/unref, atomically) and unmapped when the
 * last reference goes, so a block deleted from disk while queriers read it stays
 * readable until they close. A writer belongs to one thread. Queriers follow tsdb.h.
 *
 * Errors: 0 or a negative TSDB_E* code with `err` filled.
 */
#ifndef LGTM_TSDB_BLOCK_H
#define LGTM_TSDB_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsdb/tsdb.h"

/* ---- ULIDs ------------------------------------------------------------------------ */

#define TSDB_ULID_LEN 26

/* A fresh ULID for time `ms` (randomness from getrandom); 0, or -1 without entropy. */
int tsdb_ulid_new(int64_t ms, char out[TSDB_ULID_LEN + 1]);
/* 26 characters of Crockford base32 (either case) that fit in 128 bits. */
bool tsdb_ulid_valid(const char *s);
/* The ULID's millisecond timestamp, -1 when it is not a ULID. */
int64_t tsdb_ulid_time(const char *s);

/* ---- meta.json ---------------------------------------------------------------------- */

struct tsdb_block_desc {
	char ulid[TSDB_ULID_LEN + 1];
	int64_t mint, maxt;
};

/* How a writer stores chunks (see writing below); declared here for the meta. */
enum tsdb_block_encoding { TSDB_BLOCK_PROMETHEUS = 0, TSDB_BLOCK_DENSE };

struct tsdb_block_meta {
	char ulid[TSDB_ULID_LEN + 1];
	int64_t mint, maxt; /* [mint, maxt) */
	uint64_t num_samples, num_series, num_chunks, num_tombstones;
	int level;
	/* The writer's encoding: meta.json carries "lgtm": {"chunkEncoding": "dense"} for
	 * DENSE (Prometheus ignores the field); blocks without it are Prometheus'. */
	enum tsdb_block_encoding encoding;
	char (*sources)[TSDB_ULID_LEN + 1]; /* malloc'd, sorted */
	size_t nsources;
	struct tsdb_block_desc *parents;    /* malloc'd; blocks this one was compacted from */
	size_t nparents;
};

int tsdb_block_meta_read(const char *dir, struct tsdb_block_meta *m, char *err, size_t errlen);
/* meta.json.tmp, fsync, rename over meta.json. */
int tsdb_block_meta_write(const char *dir, const struct tsdb_block_meta *m, char *err,
			  size_t errlen);
/* Deep copy (sources and parents). */
int tsdb_block_meta_copy(struct tsdb_block_meta *dst, const struct tsdb_block_meta *src);
void tsdb_block_meta_free(struct tsdb_block_meta *m);

/* ---- writing ------------------------------------------------------------------------ */

#define TSDB_BLOCK_CHUNK_SEGMENT_MAX (512u * 1024 * 1024)

/* Block encodings. PROMETHEUS: XOR chunks only (encoding 1) and index version 2,
 * readable by promtool and Prometheus. DENSE: a chunk whose values are all decimals
 * (m / 10^k, most counters and gauges) is stored in lgtm's dense encoding (0x82:
 * frame-of-reference packed integers), others stay XOR, and the index is lgtm's
 * (about 40 % of version 2's bytes); Prometheus cannot read either. Either way every
 * sample comes back bit for bit, and readers take every encoding and both index
 * versions; a writer converts the chunks it is given to its own setting. */

/* "prometheus" | "dense" (the --storage.tsdb.block-encoding values); 0 or -1. */
int tsdb_block_parse_encoding(const char *s, enum tsdb_block_encoding *out);

struct tsdb_block_writer;

/* Start a block for [mint, maxt) under `parent` (which must exist). */
int tsdb_block_writer_new(const char *parent, int64_t mint, int64_t maxt,
			  enum tsdb_block_encoding enc, struct tsdb_block_writer **out,
			  char *err, size_t errlen);
/* Add one series: labels sorted, each set greater (labels_compare) than the previous
 * one's; chunks (either encoding, tsdb_chunk_meta.enc) in time order, not overlapping,
 * within [mint, maxt), written as they are or converted to the writer's encoding.
 * Chunks without samples are skipped, and so is a series left without chunks. The
 * strings are copied. */
int tsdb_block_writer_add(struct tsdb_block_writer *w, const struct labels *ls,
			  const struct tsdb_chunk_meta *chunks, size_t n, char *err, size_t errlen);
/* Add one series from samples (ascending, unique timestamps, within the range),
 * encoded into chunks of up to 120 samples as Prometheus' compactor does. */
int tsdb_block_writer_add_samples(struct tsdb_block_writer *w, const struct labels *ls,
				  struct tsdb_iterator *it, char *err, size_t errlen);
/* Series added so far (a block without series is not worth committing). */
uint64_t tsdb_block_writer_series(const struct tsdb_block_writer *w);
/* Write index, tombstones and meta.json, make everything durable and rename the block
 * into place. `meta` supplies the compaction fields (level; sources, parents may be
 * empty: a fresh block is its own source) and receives the complete meta (ulid,
 * stats; its arrays are the caller's to free). The writer is done either way. */
int tsdb_block_writer_commit(struct tsdb_block_writer *w, struct tsdb_block_meta *meta,
			     char *err, size_t errlen);
/* Discard (removing the temporary directory unless committed). NULL is fine. */
void tsdb_block_writer_free(struct tsdb_block_writer *w);

/* Write the head's data in [mint, maxt) as a level-1 block under `parent`: its chunks
 * are copied as they are, and series that have out-of-order samples in range (or
 * chunks reaching outside it) are re-encoded with those samples merged in.
 * *written is false (and nothing is left on disk) when the range holds no sample;
 * otherwise `meta` describes the block (the caller frees its arrays). */
int tsdb_block_write_head(struct tsdb_head *h, const char *parent, int64_t mint, int64_t maxt,
			  enum tsdb_block_encoding enc, struct tsdb_block_meta *meta,
			  bool *written, char *err, size_t errlen);

/* ---- reading ------------------------------------------------------------------------ */

struct tsdb_block;

/* Open and validate the block in `dir`; one reference for the caller. */
int tsdb_block_open(const char *dir, struct tsdb_block **out, char *err, size_t errlen);
void tsdb_block_ref(struct tsdb_block *b);
/* Drop a reference; the last one unmaps and frees. NULL is fine. */
void tsdb_block_unref(struct tsdb_block *b);
const struct tsdb_block_meta *tsdb_block_meta(const struct tsdb_block *b);
const char *tsdb_block_dir(const struct tsdb_block *b);
/* Bytes on disk (index, chunks, tombstones, meta.json). */
uint64_t tsdb_block_size(const struct tsdb_block *b);

/* A querier over the block's data in [mint, maxt] (tsdb.h's interface). It holds a
 * reference to the block until closed. Series come in index order, which is label
 * order; matchers are answered from the block's postings. */
int tsdb_block_querier(struct tsdb_block *b, int64_t mint, int64_t maxt,
		       struct tsdb_querier **out, char *err, size_t errlen);

/* ---- compaction ----------------------------------------------------------------------- */

/* Prometheus' block ranges: `base` times 3^i for up to 10 steps, stopping before the
 * first range above `max` (base itself always stays). Returns the count written. */
size_t tsdb_compact_ranges(int64_t base, int64_t max, int64_t *out, size_t cap);

/* Prometheus' leveled compaction plan over metas sorted by mint: the first group of
 * overlapping blocks if any; otherwise, leaving out the newest block, the first run of
 * two or more blocks that fills an aligned window of one of ranges[1..] or ends before
 * the last block kept starts. `skip[i]` (may be NULL) excludes a block (a failed
 * compaction). Fills sel with indexes into metas; returns how many (0: nothing). */
size_t tsdb_compact_plan(const struct tsdb_block_meta *const *metas, size_t n,
			 const bool *skip, const int64_t *ranges, size_t nranges, size_t *sel);

/* Merge blocks into one new block under `parent` covering all their ranges: series
 * are merged by labels; when a series' chunks from all the blocks do not overlap in
 * time they are copied as they are (after their CRC is checked), otherwise its samples
 * are deduplicated by timestamp (the block listed first wins) and re-encoded. meta gets
 * level = max + 1, the union of the sources, the blocks as parents (the caller frees
 * its arrays). *written is false, and nothing is left on disk, when there was no
 * sample at all. */
int tsdb_block_compact(struct tsdb_block *const *blocks, size_t n, const char *parent,
		       enum tsdb_block_encoding enc, struct tsdb_block_meta *meta, bool *written,
		       char *err, size_t errlen);

#endif
