/*
 * What the wal*.c files share; not a public header.
 *
 * The segment reader is the one parser of the page/fragment framing: the writer uses
 * it to find a clean tail at open, replay and checkpoint to walk closed segments, and
 * the public tailing reader to follow a live one. It yields whole batches only.
 */
#ifndef LGTM_TSDB_WAL_INTERNAL_H
#define LGTM_TSDB_WAL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arena/arena.h"
#include "buf/buf.h"
#include "tsdb/wal.h"

#define WAL_PAGE TSDB_WAL_PAGE_SIZE
#define WAL_HDR 7 /* type <1b>, length <2b>, CRC32C <4b> */

/* Fragment types (low 3 bits of the type byte) and flags. */
#define WAL_FRAG_PAD 0
#define WAL_FRAG_FULL 1
#define WAL_FRAG_FIRST 2
#define WAL_FRAG_MIDDLE 3
#define WAL_FRAG_LAST 4
#define WAL_FRAG_TYPE_MASK 0x07
#define WAL_FLAG_SNAPPY 0x08 /* the record is snappy-compressed (Prometheus' bit) */
#define WAL_FLAG_ZSTD 0x10   /* the record is zstd-compressed (Prometheus' bit) */
#define WAL_FLAG_MORE 0x20   /* our extension: another record of the batch follows */

#define WAL_LOG_MODULE "wal"
#define WAL_CHECKPOINT_PREFIX "checkpoint."

/* The portable CRC (table, slicing-by-8), exposed so tests can check it against the
 * hardware path. */
uint32_t wal_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* Fill err (which may be NULL with errlen 0) and yield code: `return WAL_FAIL(...)`. */
#define WAL_FAIL(err, errlen, code, ...) (snprintf((err), (errlen), __VA_ARGS__), (code))

/* --- records (wal_record.c) --- */

/* How one record type is laid out, for code that treats every type alike (replay
 * dispatch, checkpoint filtering). Every entry struct starts with its uint64_t ref. */
struct wal_dec;
struct wal_kind {
	int type;
	const char *name;
	size_t elem;     /* size of a decoded entry */
	size_t min_size; /* fewest encoded bytes an entry takes */
	bool deltas;     /* refs and times are deltas from a base stored first */
	ptrdiff_t t_off; /* offset of the entry's int64_t time (tombstones: maxt), or -1 */
	void (*get)(struct wal_dec *d, struct arena *a, void *entry);
	void (*encode)(struct buf *out, const void *entries, size_t n);
};

/* The kind of a known record type, or NULL. */
const struct wal_kind *wal_kind_of(int type);
/* Decode a record of kind k into an array of k->elem-sized entries in the arena. */
int wal_decode(const struct wal_kind *k, const void *rec, size_t len, struct arena *a,
	       void **out, size_t *n, char *err, size_t errlen);

/* --- compression (wal_compress.c) --- */

/* A batch as it is framed: each record compressed (flags[i] its codec bit) or, when
 * that does not make it smaller or compression is off, the caller's (flags[i] 0).
 * Reusable across calls. */
struct wal_packed {
	struct tsdb_wal_rec *recs;
	unsigned char *flags;
	size_t *end;     /* scratch: end of each compressed record in data */
	size_t cap;
	struct buf data; /* the compressed records, back to back */
};

int wal_pack(enum tsdb_wal_compression c, const struct tsdb_wal_rec *recs, size_t n,
	     struct wal_packed *p, char *err, size_t errlen);
void wal_packed_free(struct wal_packed *p);
/* Replace the compressed record that occupies batch[off..] with its decoded bytes
 * (flags: the record's fragment flags). 0, 1 when the record does not decode (why
 * says how), -1 when out of memory (why too). */
int wal_unpack_tail(struct buf *batch, size_t off, unsigned flags, struct buf *scratch,
		    char *why, size_t whylen);

/* --- files (wal_segment.c) --- */

/* "<dir>/NNNNNNNN"; -1 when it does not fit. */
int wal_segment_path(char *out, size_t outlen, const char *dir, int seg);
/* Segment numbers in dir, ascending (a missing dir is empty). *segs is malloc'd. */
int wal_list_segments(const char *dir, int **segs, size_t *n, char *err, size_t errlen);
/* Checkpoints in waldir, ascending: complete ones, or (tmp) unfinished ".tmp" ones. */
int wal_list_checkpoints(const char *waldir, bool tmp, int **cps, size_t *n, char *err,
			 size_t errlen);
int wal_checkpoint_path(char *out, size_t outlen, const char *waldir, int n, bool tmp);
/* Numbers first..last all present in segs (sorted)? */
bool wal_contiguous(const int *segs, size_t n);
int wal_mkdir_p(const char *dir, char *err, size_t errlen);
int wal_fsync_dir(const char *dir, char *err, size_t errlen);
/* Remove a flat directory (files only) and its contents; a missing one is fine. */
int wal_remove_dir(const char *dir, char *err, size_t errlen);
/* Delete segment `seg` of dir (a missing one is fine); the caller fsyncs dir. */
int wal_remove_segment(const char *dir, int seg, char *err, size_t errlen);
/* Truncate segment `seg` of dir to `size` and fsync it. */
int wal_truncate_segment(const char *dir, int seg, int64_t size, char *err, size_t errlen);

/* --- writer (wal_writer.c) --- */

size_t wal_writer_segment_size(const struct tsdb_wal *w);
enum tsdb_wal_compression wal_writer_compression(const struct tsdb_wal *w);

/* --- segment reader (wal_reader.c) --- */

enum wal_scan_rc {
	WAL_SCAN_ERR = -1,     /* I/O or allocation: err filled */
	WAL_SCAN_END = 0,      /* clean end of the data so far */
	WAL_SCAN_BATCH = 1,    /* a complete batch is ready */
	WAL_SCAN_PARTIAL = 2,  /* the data ends inside a batch; rewound to batch_end */
	WAL_SCAN_CORRUPT = 3,  /* damaged at bad_off; why says how */
};

struct wal_rec_ref {
	size_t off, len; /* in batch */
	int64_t pos;     /* segment offset of the record's first fragment */
};

struct wal_seg_reader {
	int fd;
	int seg;
	/* A writer may still be appending: zeros where a fragment would start end the data
	 * read so far, and are read again next time; otherwise they must run to the end. */
	bool live;
	unsigned char *page;
	int64_t page_off; /* file offset of page[0], a multiple of WAL_PAGE */
	size_t page_len;  /* bytes of page read from the file */
	size_t pos;       /* parse position in page */
	struct buf rec;   /* data of the record being assembled */
	bool in_rec;
	unsigned rec_flags;
	int64_t rec_pos;
	struct buf batch; /* records of the batch being assembled, back to back */
	struct buf unpacked; /* scratch for decompressing a record */
	struct wal_rec_ref *recs;
	size_t nrecs, caprecs;
	int64_t batch_end; /* offset after the last complete batch */
	int64_t bad_off;
	char why[160];
};

/* Open segment `seg` of dir; -1 with errno preserved (ENOENT) and err filled. */
int wal_seg_open(struct wal_seg_reader *r, const char *dir, int seg, char *err, size_t errlen);
/* Parse the next batch; the previous batch's records are discarded. */
enum wal_scan_rc wal_seg_next(struct wal_seg_reader *r, char *err, size_t errlen);
void wal_seg_close(struct wal_seg_reader *r);

/* Read all of segment seg to find where its last complete batch ends (*good), and
 * cut anything after it (LOG_WARN naming segment and offset); *cut = bytes removed.
 * A clean segment is left untouched. */
int wal_seg_repair_tail(const char *dir, int seg, int64_t *good, int64_t *cut, char *err,
			size_t errlen);
/* Cut segment seg at good (known end of its last complete batch) when the file is
 * longer, with the warning; used once the caller has read the segment itself. */
int wal_seg_cut_tail(const char *dir, int seg, int64_t good, int64_t bad_off, const char *why,
		     int64_t *cut, char *err, size_t errlen);

/* Walk segments first..last of dir batch by batch: strict (any damage is
 * TSDB_WAL_ECORRUPT with position) except that with repair_last the last segment's
 * damaged or torn tail is cut instead. */
struct wal_walk {
	const char *dir;
	int first, last;
	bool repair_last;
	bool checkpoint; /* for progress reports */
	int progress_base, progress_total;
	int (*batch)(void *ctx, const struct wal_seg_reader *r, char *err, size_t errlen);
	void *ctx;
	void (*progress)(void *progress_ctx, const struct tsdb_wal_progress *p);
	void *progress_ctx;
	/* out */
	int64_t truncated;
	int corrupt_segment;
	int64_t corrupt_offset, good_offset;
};
int wal_walk(struct wal_walk *wk, char *err, size_t errlen);

#endif
