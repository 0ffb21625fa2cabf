/*
 * The database's blocks: loading them at open (with the clean-up a crash may call
 * for), the list queriers take references from, retention, listing and snapshots.
 * The list is a sorted array under a read-write lock; readers copy it with a
 * reference on each block, so dropping a block from the list (and its directory from
 * disk) never pulls memory from under a querier: the mappings go with the last
 * reference.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"
#include "tsdb/block_internal.h"
#include "tsdb/db_internal.h"

static int cmp_block(const void *a, const void *b)
{
	const struct tsdb_block_meta *x = tsdb_block_meta(*(struct tsdb_block *const *)a);
	const struct tsdb_block_meta *y = tsdb_block_meta(*(struct tsdb_block *const *)b);

	if (x->mint != y->mint)
		return x->mint < y->mint ? -1 : 1;
	return strcmp(x->ulid, y->ulid);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

static void add_stat(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* Insert into the sorted list; the caller holds the write lock. */
static int insert_locked(struct tsdb_db *db, struct tsdb_block *b)
{
	if (tsdb_grow((void **)&db->blocks, &db->capblocks, db->nblocks + 1,
		      sizeof(*db->blocks)) < 0)
		return -1;
	db->blocks[db->nblocks++] = b;
	qsort(db->blocks, db->nblocks, sizeof(*db->blocks), cmp_block);
	return 0;
}

static void load_entry(struct tsdb_db *db, const char *name)
{
	char path[4096], err[1024];
	struct tsdb_block *b;

	snprintf(path, sizeof(path), "%s/%s", db->dir, name);
	if (has_suffix(name, BLOCK_TMP_CREATE) || has_suffix(name, BLOCK_TMP_DELETE)) {
		LOG_INFO("tsdb", "Removing an interrupted block write or deletion", "dir", path);
		if (tsdb_fs_remove_tree(path, err, sizeof(err)) < 0)
			LOG_WARN("tsdb", "Removing a leftover directory failed", "err", err);
		return;
	}
	if (!tsdb_ulid_valid(name))
		return;
	if (tsdb_block_open(path, &b, err, sizeof(err)) < 0) {
		LOG_WARN("tsdb", "Skipping a block that fails validation", "err", err);
		add_stat(&db->st.blocks_skipped, 1);
		return;
	}
	if (insert_locked(db, b) < 0) {
		LOG_WARN("tsdb", "Skipping a block: out of memory", "block", path);
		tsdb_block_unref(b);
	}
}

/* Is `ulid` a parent of another loaded block (a compaction finished writing its
 * result but not deleting its sources)? */
static bool replaced(const struct tsdb_db *db, const char *ulid)
{
	for (size_t i = 0; i < db->nblocks; i++) {
		const struct tsdb_block_meta *m = tsdb_block_meta(db->blocks[i]);

		for (size_t k = 0; k < m->nparents; k++)
			if (!strcmp(m->parents[k].ulid, ulid))
				return true;
	}
	return false;
}

int tsdb_db_load_blocks(struct tsdb_db *db, char *err, size_t errlen)
{
	struct tsdb_block **gone;
	struct dirent *de;
	size_t ngone = 0;
	DIR *d = opendir(db->dir);
	int rc = 0;

	if (!d) {
		snprintf(err, errlen, "open %s: %s", db->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)))
		load_entry(db, de->d_name);
	closedir(d);
	gone = malloc((db->nblocks + 1) * sizeof(*gone));
	if (!gone) {
		snprintf(err, errlen, "out of memory loading blocks");
		return -1;
	}
	for (size_t i = 0; i < db->nblocks; i++)
		if (replaced(db, tsdb_block_meta(db->blocks[i])->ulid))
			gone[ngone++] = db->blocks[i];
	if (ngone) {
		LOG_INFO("tsdb", "Deleting blocks an interrupted compaction replaced");
		rc = tsdb_db_drop_blocks(db, gone, ngone, err, errlen);
	}
	free(gone);
	return rc;
}

int tsdb_db_add_block(struct tsdb_db *db, const char *ulid, char *err, size_t errlen)
{
	char path[4096];
	struct tsdb_block *b;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", db->dir, ulid);
	if (tsdb_block_open(path, &b, err, errlen) < 0)
		return -1;
	pthread_rwlock_wrlock(&db->blocks_lock);
	rc = insert_locked(db, b);
	pthread_rwlock_unlock(&db->blocks_lock);
	if (rc < 0) {
		tsdb_block_unref(b);
		snprintf(err, errlen, "out of memory adding block %s", ulid);
	}
	return rc;
}

int tsdb_db_drop_blocks(struct tsdb_db *db, struct tsdb_block *const *bs, size_t n, char *err,
			size_t errlen)
{
	struct tsdb_block **mine = calloc(n + 1, sizeof(*mine));
	size_t w = 0, k = 0;
	int rc = 0;

	if (!mine) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_rwlock_wrlock(&db->blocks_lock);
	for (size_t i = 0; i < db->nblocks; i++) {
		bool drop = false;

		for (size_t j = 0; j < n && !drop; j++)
			drop = db->blocks[i] == bs[j];
		if (drop)
			mine[k++] = db->blocks[i];
		else
			db->blocks[w++] = db->blocks[i];
	}
	db->nblocks = w;
	pthread_rwlock_unlock(&db->blocks_lock);
	for (size_t i = 0; i < k; i++) {
		if (tsdb_fs_remove_block(tsdb_block_dir(mine[i]), err, errlen) < 0)
			rc = -1;
		tsdb_block_unref(mine[i]);
	}
	free(mine);
	if (k && tsdb_fs_fsync_dir(db->dir, rc ? NULL : err, rc ? 0 : errlen) < 0)
		rc = -1;
	return rc;
}

int tsdb_db_grab_blocks(struct tsdb_db *db, struct tsdb_block ***out, size_t *n)
{
	struct tsdb_block **v;

	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&db->blocks_lock);
	v = malloc((db->nblocks + 1) * sizeof(*v));
	if (v) {
		for (size_t i = 0; i < db->nblocks; i++) {
			v[i] = db->blocks[i];
			tsdb_block_ref(v[i]);
		}
		*n = db->nblocks;
	}
	pthread_rwlock_unlock(&db->blocks_lock);
	*out = v;
	return v ? 0 : -1;
}

void tsdb_db_release_blocks(struct tsdb_block **bs, size_t n)
{
	for (size_t i = 0; bs && i < n; i++)
		tsdb_block_unref(bs[i]);
	free(bs);
}

int64_t tsdb_db_blocks_maxt(struct tsdb_db *db)
{
	int64_t t = INT64_MIN;

	pthread_rwlock_rdlock(&db->blocks_lock);
	for (size_t i = 0; i < db->nblocks; i++)
		if (tsdb_block_meta(db->blocks[i])->maxt > t)
			t = tsdb_block_meta(db->blocks[i])->maxt;
	pthread_rwlock_unlock(&db->blocks_lock);
	return t;
}

void tsdb_db_free_blocks(struct tsdb_db *db)
{
	for (size_t i = 0; i < db->nblocks; i++)
		tsdb_block_unref(db->blocks[i]);
	free(db->blocks);
	db->blocks = NULL;
	db->nblocks = 0;
}

int tsdb_db_blocks(struct tsdb_db *db, struct tsdb_block_meta **out, size_t *n, char *err,
		   size_t errlen)
{
	struct tsdb_block **bs;
	size_t nb;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (tsdb_db_grab_blocks(db, &bs, &nb) < 0 || !(*out = calloc(nb + 1, sizeof(**out)))) {
		tsdb_db_release_blocks(bs, nb);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nb && rc == 0; i++) {
		rc = tsdb_block_meta_copy(&(*out)[i], tsdb_block_meta(bs[i]));
		if (rc == 0)
			(*n)++;
	}
	tsdb_db_release_blocks(bs, nb);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* --- retention ------------------------------------------------------------------------ */

static int cmp_newest_first(const void *a, const void *b)
{
	int64_t x = tsdb_block_meta(*(struct tsdb_block *const *)a)->maxt;
	int64_t y = tsdb_block_meta(*(struct tsdb_block *const *)b)->maxt;

	return x > y ? -1 : x < y;
}

/* How many of the blocks (newest first) to keep under the time and size limits;
 * *by_size says whether the size limit decided. */
static size_t keep_count(struct tsdb_db *db, struct tsdb_block **bs, size_t n, bool *by_size)
{
	int64_t newest = tsdb_head_max_time(db->head);
	uint64_t total = tsdb_fs_tree_size(db->waldir);
	size_t keep = n;

	*by_size = false;
	if (n && tsdb_block_meta(bs[0])->maxt - 1 > newest)
		newest = tsdb_block_meta(bs[0])->maxt - 1;
	for (size_t i = 0; db->retention_ms && i < keep; i++)
		if (newest - tsdb_block_meta(bs[i])->maxt >= db->retention_ms)
			keep = i;
	for (size_t i = 0; db->retention_bytes && i < keep; i++) {
		total += tsdb_block_size(bs[i]);
		if (total > db->retention_bytes) {
			keep = i;
			*by_size = true;
		}
	}
	return keep;
}

int tsdb_db_retention(struct tsdb_db *db, char *err, size_t errlen)
{
	struct tsdb_block **bs;
	size_t n, keep;
	bool by_size;
	int rc = 0;

	if (!db->retention_ms && !db->retention_bytes)
		return 0;
	if (tsdb_db_grab_blocks(db, &bs, &n) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	qsort(bs, n, sizeof(*bs), cmp_newest_first);
	keep = keep_count(db, bs, n, &by_size);
	if (keep < n) {
		char count[32];

		snprintf(count, sizeof(count), "%zu", n - keep);
		LOG_INFO("tsdb", "Deleting blocks beyond retention", "blocks", count, "limit",
			 by_size ? "size" : "time");
		add_stat(by_size ? &db->st.retention_size_deleted : &db->st.retention_time_deleted,
			 n - keep);
		rc = tsdb_db_drop_blocks(db, bs + keep, n - keep, err, errlen);
	}
	tsdb_db_release_blocks(bs, n);
	return rc;
}

/* --- snapshots ----------------------------------------------------------------------------- */

static int link_files(const char *from, const char *to, char *err, size_t errlen)
{
	DIR *d = opendir(from);
	struct dirent *de;
	int rc = 0;

	if (!d || mkdir(to, 0755) < 0) {
		snprintf(err, errlen, "snapshot %s: %s", from, strerror(errno));
		if (d)
			closedir(d);
		return -1;
	}
	while (rc == 0 && (de = readdir(d))) {
		char src[4096], dst[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = link_files(src, dst, err, errlen);
		} else if (link(src, dst) < 0) {
			snprintf(err, errlen, "snapshot %s: %s", src, strerror(errno));
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

static int snapshot_name(char *name, size_t namelen, char *err, size_t errlen)
{
	struct tm tm;
	time_t now = time(NULL);
	uint64_t r;
	char ts[32];

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		snprintf(err, errlen, "no randomness for a snapshot name");
		return -1;
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	if (snprintf(name, namelen, "%s-%016llx", ts, (unsigned long long)r) >= (int)namelen) {
		snprintf(err, errlen, "snapshot name buffer too small");
		return -1;
	}
	return 0;
}

static int snapshot_into(struct tsdb_db *db, const char *dir, bool with_head, char *err,
			 size_t errlen)
{
	struct tsdb_block **bs;
	size_t n;
	int rc = 0;

	if (tsdb_db_grab_blocks(db, &bs, &n) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char to[4200];

		snprintf(to, sizeof(to), "%s/%s", dir, tsdb_block_meta(bs[i])->ulid);
		rc = link_files(tsdb_block_dir(bs[i]), to, err, errlen);
	}
	tsdb_db_release_blocks(bs, n);
	if (rc == 0 && with_head) {
		int64_t mint = tsdb_head_min_time(db->head), maxt = tsdb_head_max_time(db->head);
		struct tsdb_block_meta meta = { 0 };
		bool written;

		if (mint <= maxt && maxt < INT64_MAX)
			rc = tsdb_block_write_head(db->head, dir, mint, maxt + 1, db->block_enc,
						   &meta, &written, err, errlen);
		tsdb_block_meta_free(&meta);
	}
	return rc == 0 ? tsdb_fs_fsync_dir(dir, err, errlen) : rc;
}

int tsdb_db_snapshot(struct tsdb_db *db, bool with_head, char *name, size_t namelen, char *err,
		     size_t errlen)
{
	char dir[4096];
	int rc;

	if (snapshot_name(name, namelen, err, errlen) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/snapshots", db->dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "create %s: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/snapshots/%s", db->dir, name);
	if (mkdir(dir, 0755) < 0) {
		snprintf(err, errlen, "create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* No cut, compaction or retention while the blocks and the head are copied. */
	pthread_mutex_lock(&db->maint_mu);
	rc = snapshot_into(db, dir, with_head, err, errlen);
	pthread_mutex_unlock(&db->maint_mu);
	return rc;
}
