/*
 * Closed head chunks parked in a file, so they leave the heap (Prometheus mmaps its
 * full head chunks for the same reason). A closed chunk never changes and is read
 * only by queries and by the block writer, so after it is closed its bytes are
 * written with pwrite(2) to an unlinked scratch file and read through one read-only
 * shared mapping: they sit in the page cache, counted in the process's RSS only while
 * a reader has touched them and until tsdb_chunk_store_drop_pages(). A reader of many
 * chunks (the block writer) uses tsdb_chunk_store_read() instead, since every fault
 * in the mapping also maps the pages around it. The file is not
 * part of the durable state (the WAL is): it has no name, so nothing is left behind
 * by a crash.
 *
 * The file is cut into segments filled in turn; each counts its live chunks. A
 * segment whose chunks were all released (head truncation, through the reclaim
 * graves, so no reader can still see them) has its blocks punched out and is filled
 * again later. Chunks are released roughly in the order they were closed, so
 * segments empty in turn; when none is free the caller keeps the chunk on the heap,
 * as it does when the store cannot be created or a write fails.
 *
 * Thread-safety: put and release from any thread; a mutex (a leaf) guards the fill
 * position and segment states, live counts are atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tsdb/internal.h"

/* Segments of 4 MiB; a small store (tests) has 16 smaller ones. */
#define SEG_MAX (4u << 20)
#define SEG_MIN 4096u

enum seg_state { SEG_FREE, SEG_FILLING, SEG_FULL };

struct seg {
	uint32_t live;  /* atomic: chunks put and not released */
	uint8_t state;  /* under mu */
};

struct tsdb_chunk_store {
	int fd;
	uint8_t *base;    /* nseg * seg bytes, read-only */
	uint32_t nseg, seg;
	pthread_mutex_t mu;
	uint32_t cur;     /* the segment being filled */
	uint32_t off;     /* fill position in it */
	struct seg *segs;
};

static int open_scratch(const char *dir)
{
	char path[4096];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* No O_TMPFILE on this file system: a named file, unlinked at once. */
	if (snprintf(path, sizeof(path), "%s/.head-chunks-XXXXXX", dir) >= (int)sizeof(path))
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int tsdb_chunk_store_open(const char *dir, uint64_t max_bytes, struct tsdb_chunk_store **out,
			  char *err, size_t errlen)
{
	struct tsdb_chunk_store *cs = calloc(1, sizeof(*cs));
	uint64_t nseg;
	void *m;

	*out = NULL;
	if (!cs) {
		snprintf(err, errlen, "out of memory");
		return TSDB_EFAIL;
	}
	cs->fd = -1;
	cs->seg = SEG_MAX;
	if (max_bytes / 16 < SEG_MAX)
		cs->seg = (uint32_t)(max_bytes / 16 / SEG_MIN * SEG_MIN);
	nseg = cs->seg ? max_bytes / cs->seg : 0;
	if (cs->seg < SEG_MIN || nseg > UINT32_MAX) {
		snprintf(err, errlen, "head chunk store: size %llu out of range",
			 (unsigned long long)max_bytes);
		goto fail;
	}
	cs->nseg = (uint32_t)nseg;
	cs->segs = calloc(nseg, sizeof(*cs->segs));
	if (!cs->segs) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	cs->fd = open_scratch(dir);
	/* Sparse: blocks are allocated only where chunks are written. */
	if (cs->fd < 0 || ftruncate(cs->fd, (off_t)(nseg * cs->seg)) < 0) {
		snprintf(err, errlen, "head chunk store in %s: %s", dir, strerror(errno));
		goto fail;
	}
	m = mmap(NULL, nseg * cs->seg, PROT_READ, MAP_SHARED | MAP_NORESERVE, cs->fd, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "head chunk store: mmap: %s", strerror(errno));
		goto fail;
	}
	cs->base = m;
	pthread_mutex_init(&cs->mu, NULL);
	cs->segs[0].state = SEG_FILLING;
	*out = cs;
	return 0;
fail:
	if (cs->fd >= 0)
		close(cs->fd);
	free(cs->segs);
	free(cs);
	return TSDB_EFAIL;
}

void tsdb_chunk_store_close(struct tsdb_chunk_store *cs)
{
	if (!cs)
		return;
	munmap(cs->base, (size_t)cs->nseg * cs->seg);
	close(cs->fd);
	pthread_mutex_destroy(&cs->mu);
	free(cs->segs);
	free(cs);
}

bool tsdb_chunk_store_owns(const struct tsdb_chunk_store *cs, const void *p)
{
	const uint8_t *q = p;

	return cs && q >= cs->base && q < cs->base + (size_t)cs->nseg * cs->seg;
}

/* Give segment i's blocks back to the file system and reuse it. Under mu. */
static void recycle(struct tsdb_chunk_store *cs, uint32_t i)
{
	off_t at = (off_t)i * cs->seg;

	/* Best effort: without hole punching the blocks stay until overwritten. */
	fallocate(cs->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, cs->seg);
	madvise(cs->base + at, cs->seg, MADV_DONTNEED);
	cs->segs[i].state = SEG_FREE;
}

/* Move to the next free segment after the current one is full; false if none. */
static bool next_segment(struct tsdb_chunk_store *cs)
{
	struct seg *cur = &cs->segs[cs->cur];

	if (cur->state == SEG_FILLING) {
		cur->state = SEG_FULL;
		if (__atomic_load_n(&cur->live, __ATOMIC_ACQUIRE) == 0)
			recycle(cs, cs->cur);
	}
	for (uint32_t k = 1; k <= cs->nseg; k++) {
		uint32_t i = (cs->cur + k) % cs->nseg;

		if (cs->segs[i].state == SEG_FREE) {
			cs->segs[i].state = SEG_FILLING;
			cs->cur = i;
			cs->off = 0;
			return true;
		}
	}
	return false; /* cs->off stays past the end: the next put looks again */
}

const uint8_t *tsdb_chunk_store_put(struct tsdb_chunk_store *cs, const void *data, size_t len)
{
	uint64_t at;
	uint32_t seg;
	ssize_t n;

	if (!cs || len == 0 || len > cs->seg)
		return NULL;
	pthread_mutex_lock(&cs->mu);
	if (cs->off + len > cs->seg && !next_segment(cs)) {
		pthread_mutex_unlock(&cs->mu);
		return NULL;
	}
	seg = cs->cur;
	at = (uint64_t)seg * cs->seg + cs->off;
	cs->off += (uint32_t)len;
	__atomic_fetch_add(&cs->segs[seg].live, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&cs->mu);
	/* The range is ours alone; readers see it only once the caller publishes it. */
	do
		n = pwrite(cs->fd, data, len, (off_t)at);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		tsdb_chunk_store_release(cs, cs->base + at);
		return NULL;
	}
	return cs->base + at;
}

void tsdb_chunk_store_release(void *ctx, void *p)
{
	struct tsdb_chunk_store *cs = ctx;
	uint32_t i = (uint32_t)((size_t)((uint8_t *)p - cs->base) / cs->seg);

	if (__atomic_sub_fetch(&cs->segs[i].live, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_lock(&cs->mu);
	if (cs->segs[i].state == SEG_FULL &&
	    __atomic_load_n(&cs->segs[i].live, __ATOMIC_ACQUIRE) == 0)
		recycle(cs, i);
	pthread_mutex_unlock(&cs->mu);
}

int tsdb_chunk_store_read(const struct tsdb_chunk_store *cs, const void *p, size_t len,
			  void *dst)
{
	off_t at = (off_t)((const uint8_t *)p - cs->base);
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(cs->fd, (char *)dst + got, len - got, at + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

void tsdb_chunk_store_drop_pages(struct tsdb_chunk_store *cs)
{
	if (cs)
		madvise(cs->base, (size_t)cs->nseg * cs->seg, MADV_DONTNEED);
}
