/* Shared by the block*.c, compact.c and db*.c files; not a public header. */
#ifndef LGTM_TSDB_BLOCK_INTERNAL_H
#define LGTM_TSDB_BLOCK_INTERNAL_H

#include "tsdb/block.h"
#include "tsdb/internal.h"

#define BLOCK_INDEX_MAGIC 0xBAAAD700u
#define BLOCK_INDEX_V2 2
#define BLOCK_INDEX_DENSE 0x81 /* ours, for dense blocks (block_index.c) */
#define BLOCK_CHUNKS_MAGIC 0x85BD40DDu
#define BLOCK_CHUNKS_HEADER 8
#define BLOCK_TOMBSTONES_MAGIC 0x0130BA30u
#define BLOCK_ENC_XOR 1
#define BLOCK_ENC_DENSE 0x81  /* ours, outside Prometheus' encodings (1-3): read only */
#define BLOCK_ENC_DENSE2 0x82 /* ours, as written now (chunk_dense.c) */
#define BLOCK_SERIES_ALIGN 16
#define BLOCK_TOC_LEN (6 * 8 + 4)
#define BLOCK_TMP_CREATE ".tmp-for-creation"
#define BLOCK_TMP_DELETE ".tmp-for-deletion"
#define BLOCK_SAMPLES_PER_CHUNK 120

/* ---- block_fs.c: files ------------------------------------------------------------- */

/* Write `len` bytes to path (created or truncated) and fsync it. */
int tsdb_fs_write_file(const char *path, const void *data, size_t len, char *err,
		       size_t errlen);
/* rm -rf; a missing path is fine. */
int tsdb_fs_remove_tree(const char *path, char *err, size_t errlen);
/* Bytes of the regular files under path (recursively); 0 when it is missing. */
uint64_t tsdb_fs_tree_size(const char *path);
int tsdb_fs_fsync_dir(const char *dir, char *err, size_t errlen);
/* Rename a block directory to <dir>.tmp-for-deletion, then remove that, so an
 * interruption never leaves a half-deleted block that looks whole. */
int tsdb_fs_remove_block(const char *dir, char *err, size_t errlen);

/* ---- block_read.c: an open block ---------------------------------------------------- */

struct tsdb_block_name {
	const char *name;       /* a symbol */
	uint32_t first, n;      /* its values: entries [first, first + n) */
};

struct tsdb_block_posting {
	const char *name, *value; /* symbols */
	uint64_t off;           /* of the postings list in the index */
};

struct tsdb_block_seg {
	const uint8_t *p;
	size_t len;
};

struct tsdb_block {
	int refs; /* atomic */
	char *dir;
	struct tsdb_block_meta meta;
	uint64_t size;
	const uint8_t *ix;      /* the mapped index */
	size_t ixlen;
	bool dense_ix;          /* lgtm's dense index (BLOCK_INDEX_DENSE), not Prometheus' */
	int64_t base;           /* dense_ix: chunk times are stored from this */
	uint64_t series_lo, series_hi; /* the series section */
	uint64_t post_hi;       /* dense_ix: end of the postings section */
	char *symmem;           /* every symbol, NUL-terminated */
	const char **syms;      /* sorted */
	uint32_t nsyms;
	struct tsdb_block_name *names;   /* sorted; without the all-series entry */
	uint32_t nnames;
	struct tsdb_block_posting *posts;
	uint32_t nposts;
	uint64_t all_off;       /* the all-series postings list */
	struct tsdb_block_seg *segs;
	uint32_t nsegs;
	size_t unreleased;      /* index bytes validation read since it last released them */
};

/* One decoded series: labels point at the block's symbols. Chunks have their time
 * range and a reference inside the segments' bounds, but no bytes yet (data NULL):
 * reading the index never touches the chunk segments, so opening a block and
 * selecting series cost index reads only, and a query maps in the chunks it reads. */
struct tsdb_block_series {
	struct labels ls;
	struct label *lbuf;
	size_t capl;
	struct tsdb_chunk_meta *chunks;
	uint64_t *refs;
	size_t nchunks, capc, caprefs;
};

/* Decode series `id`; -1 on corruption or allocation failure (err says which). */
int tsdb_block_read_series(const struct tsdb_block *b, uint64_t id,
			   struct tsdb_block_series *s, char *err, size_t errlen);
void tsdb_block_series_free(struct tsdb_block_series *s);
/* Unmap the pages of the block's files from the process (MADV_DONTNEED: they stay in
 * the page cache, and a later read faults them back in), so reading a block in full
 * -- validation at open, compaction -- does not leave it all in the RSS. Safe while
 * other threads read the block: the files never change. */
void tsdb_block_release_pages(const struct tsdb_block *b);
/* Resolve chunk k of s: point its data/len/enc at the chunk bytes in the mapped segment and
 * check them against the chunk's CRC32C; -1 when the chunk is malformed or corrupt. */
int tsdb_block_series_chunk(const struct tsdb_block *b, struct tsdb_block_series *s, size_t k,
			    char *err, size_t errlen);
/* block_querier.c: the block's postings as a tsdb_postings_src (ctx = the block). */
void tsdb_block_postings_src(const struct tsdb_block *b, struct tsdb_postings_src *src);
/* The ids of every series, read in place from the mapped index (either version). */
struct tsdb_block_ids {
	struct tsdb_dec d;  /* a dense index's list: uvarint deltas */
	const uint8_t *p;   /* version 2: big-endian uint32s */
	uint64_t n, i, id;
};

void tsdb_block_ids_init(struct tsdb_block_ids *it, const struct tsdb_block *b);
bool tsdb_block_ids_next(struct tsdb_block_ids *it, uint64_t *id);

/* ---- block_write.c / block_index.c: the writer -------------------------------------- */

/* A string interned by the writer (one per distinct string: the symbol table). */
struct tsdb_wstr {
	uint32_t id;  /* order of interning */
	uint32_t sym; /* index in the sorted symbol table (set at commit) */
	uint32_t len;
	char s[];
};

/* A label pair some series have: one postings list of the index. */
struct tsdb_wpair {
	struct tsdb_wstr *name, *value;
	uint32_t num; /* its index in pairv */
	uint32_t rank; /* commit: its index in (name, value) order */
	uint32_t n;   /* series with the pair */
	uint64_t at;  /* commit: where its next series id goes in the postings array */
};

struct tsdb_wchunk {
	int64_t mint, maxt;
	uint64_t ref;
};

/* What the index needs is kept compact, since a compaction of long blocks holds it for
 * every series at once: per series only a byte record in `series` --
 *   uvarint nlabels | uvarint pair number x nlabels | uvarint len | chunk metas
 * where the chunk metas are already encoded as the index's series entry holds them
 * (count, then times and references delta-encoded) -- so about 2 bytes per label and
 * 7 per chunk, plus each distinct string and label pair once. */
struct tsdb_block_writer {
	char *parent, *tmpdir;
	char ulid[TSDB_ULID_LEN + 1];
	int64_t mint, maxt;
	enum tsdb_block_encoding enc;
	bool done;
	/* the chunk segment being written */
	int cfd;
	uint32_t cseq;
	uint64_t coff;
	struct buf cbuf;
	/* what the index needs */
	struct arena *a;              /* strings and pairs */
	struct tsdb_ptab strs;        /* string hash -> tsdb_wstr */
	struct tsdb_wstr **strv;
	size_t nstr, capstr;
	struct tsdb_ptab pairs;       /* name id << 32 | value id -> tsdb_wpair */
	struct tsdb_wpair **pairv;    /* by pair number */
	size_t npair, cappair;
	struct buf series;            /* the series records, in order (after the rlen in rfd) */
	int rfd;                      /* scratch file of the records written out, or -1 */
	uint64_t rlen;
	uint64_t nser, nchk, nlabels;
	struct label *prev;           /* the last series' labels (interned strings) */
	size_t nprev, capprev;
	struct tsdb_wchunk *tmp;      /* scratch: one series' chunks */
	size_t captmp;
	struct buf meta;              /* scratch: one series' encoded chunk metas */
	struct buf conv;              /* scratch: a chunk converted to the writer's encoding */
	int64_t *mt;                  /* scratch: samples of chunks being merged */
	double *mv;
	size_t capm, capv;
	uint64_t samples;
	int64_t data_mint; /* the oldest chunk start added */
};

/* Write the index of w's series (symbols sorted and numbered) to path, fsynced. */
int tsdb_block_index_write(const struct tsdb_block_writer *w, const char *path, char *err,
			   size_t errlen);

#endif
