/* Shared by db*.c; not a public header. */
#ifndef LGTM_TSDB_DB_INTERNAL_H
#define LGTM_TSDB_DB_INTERNAL_H

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

struct tsdb_db {
	char *dir;
	char *waldir;
	struct tsdb_head *head;
	struct tsdb_wal *wal;
	struct tsdb_logged *logged;
	struct tsdb_db_replay_stats replay;
};

/* db_replay.c: fill the head from the WAL and mark the logged series. */
int tsdb_db_replay(struct tsdb_db *db, const struct tsdb_db_options *o, char *err,
		   size_t errlen);

#endif
