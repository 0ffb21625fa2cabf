/* Shared by db*.c; not a public header. */
#ifndef LGTM_TSDB_DB_INTERNAL_H
#define LGTM_TSDB_DB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "tsdb/db.h"

/* Which series refs the WAL holds a series record for: a two-level bitmap indexed
 * by ref (refs are small increasing integers). Pages are allocated on first use with
 * a compare-and-swap, so marking and testing never take a lock. */
#define LOGGED_PAGE_BITS 65536u
#define LOGGED_PAGES 65536u

struct tsdb_logged {
	_Atomic(uint64_t *) pages[LOGGED_PAGES];
};

bool tsdb_logged_test(struct tsdb_logged *l, uint64_t ref);
/* 0, or -1 when the ref is out of range or a page cannot be allocated. */
int tsdb_logged_mark(struct tsdb_logged *l, uint64_t ref);
void tsdb_logged_free(struct tsdb_logged *l);

/* A WAL ref that replay found already taken by the same labels under another ref. */
struct tsdb_remap {
	uint64_t from, to;
};

#define TSDB_DB_MAX_RANGES 10

struct tsdb_db {
	char *dir;
	char *waldir;
	struct tsdb_head *head;
	struct tsdb_wal *wal;
	struct tsdb_logged *logged;
	struct tsdb_exemplars *exemplars; /* NULL: not stored */
	struct tsdb_db_replay_stats replay;
	/* Refs the WAL still uses for series replay mapped elsewhere (sorted by from);
	 * checkpoints keep them while their target lives. */
	struct tsdb_remap *remap;
	size_t nremap;

	int64_t range;                     /* block range */
	enum tsdb_block_encoding block_enc; /* of blocks written and compacted */
	enum tsdb_wal_encoding wal_enc;     /* of samples records logged */
	int64_t ranges[TSDB_DB_MAX_RANGES]; /* compaction ranges */
	size_t nranges;
	int64_t retention_ms;
	uint64_t retention_bytes;

	/* Loaded blocks by min time. The lock guards the array; blocks are refcounted. */
	pthread_rwlock_t blocks_lock;
	struct tsdb_block **blocks;
	size_t nblocks, capblocks;
	/* ULIDs whose compaction failed (not planned again until restart). */
	char (*failed)[TSDB_ULID_LEN + 1];
	size_t nfailed, capfailed;

	/* One maintenance round or snapshot at a time. */
	pthread_mutex_t maint_mu;
	/* The background thread. */
	pthread_t bg;
	bool bg_running;
	pthread_mutex_t bg_mu;
	pthread_cond_t bg_cv;
	bool bg_stop, bg_kick;
	int64_t interval_ms;
	int kick_pending; /* atomic: the append path asked for a cut */

	struct tsdb_db_stats st; /* counters (atomic) */
};

/* db_replay.c: fill the head from the WAL and mark the logged series. */
int tsdb_db_replay(struct tsdb_db *db, const struct tsdb_db_options *o, char *err,
		   size_t errlen);

/* exemplar_db.c: the exemplar store behind the db. */
/* Give in's exemplars to the store as those of the series `in` describes and append
 * the ones stored, as WAL entries for `ref`, to out[*nout...] (room for
 * in->nexemplars); counts go to res. 0, or -1 when memory runs out. */
int tsdb_db_store_exemplars(struct tsdb_db *db, uint64_t ref, const struct tsdb_db_series *in,
			    struct arena *a, struct tsdb_wal_exemplar *out, size_t *nout,
			    struct tsdb_db_result *res, char *err, size_t errlen);
/* Replay one logged exemplar of head series `ref`: 0 (stored or refused), 1 when the
 * head has no such series (yet), -1 on failure. */
int tsdb_db_replay_exemplar(struct tsdb_db *db, uint64_t ref, const struct tsdb_wal_exemplar *e,
			    char *err, size_t errlen);

/* db_blocks.c: the block list. */
/* Remove leftover temporary directories, load every block (skipping and logging the
 * ones that fail validation), delete blocks a compaction replaced. */
int tsdb_db_load_blocks(struct tsdb_db *db, char *err, size_t errlen);
/* Add a freshly written block (opened from disk) to the list. */
int tsdb_db_add_block(struct tsdb_db *db, const char *ulid, char *err, size_t errlen);
/* Take blocks out of the list and delete them from disk (queriers holding them keep
 * reading their mappings). */
int tsdb_db_drop_blocks(struct tsdb_db *db, struct tsdb_block *const *bs, size_t n,
			char *err, size_t errlen);
/* A referenced copy of the list (release with tsdb_db_release_blocks). */
int tsdb_db_grab_blocks(struct tsdb_db *db, struct tsdb_block ***out, size_t *n);
void tsdb_db_release_blocks(struct tsdb_block **bs, size_t n);
int64_t tsdb_db_blocks_maxt(struct tsdb_db *db); /* INT64_MIN without blocks */
void tsdb_db_free_blocks(struct tsdb_db *db);
/* Retention by time and size. */
int tsdb_db_retention(struct tsdb_db *db, char *err, size_t errlen);

/* db_maintain.c: the background thread. */
int tsdb_db_bg_start(struct tsdb_db *db, char *err, size_t errlen);
void tsdb_db_bg_stop(struct tsdb_db *db);
/* From the append path: wake the thread when the head asks for a cut. */
void tsdb_db_bg_poke(struct tsdb_db *db);

#endif
