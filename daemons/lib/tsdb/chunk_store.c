/*
 * Head chunks parked in a file, so they leave the heap (Prometheus mmaps its full
 * head chunks for the same reason): closed chunks, and the settled first bytes of open
 * ones (series.c). The bytes are written through one shared mapping of an unlinked
 * scratch file and read through it too: they sit in the page cache, counted in the
 * process's RSS only while a page of them is mapped. Every thread drops the pages it
 * wrote from the process after every DROP_WRITES writes (and truncation after a block
 * write drops the whole mapping), so what the process keeps mapped is the few pages
 * written last, not the store. A reader of many chunks (the block writer) uses
 * tsdb_chunk_store_read() instead, since every fault in the mapping also maps the
 * pages around it. The file is not part of the durable state (the WAL is): it has no
 * name, so nothing is left behind by a crash.
 *
 * Writing through a mapping rather than with pwrite(2) costs no system call: a chunk
 * is written in small steps (an open chunk every few dozen bytes), and in order of
 * arrival most steps land on a page that the previous one faulted in. A write fault
 * on a file hole the file system cannot fill (disk full) would be a SIGBUS, so every
 * segment's blocks are allocated (fallocate) before it is filled; when that fails the
 * store takes nothing and chunks stay on the heap. On a file system without fallocate
 * the store writes closed chunks with pwrite(2) and takes no open chunks' bytes.
 *
 * The file is cut into segments filled in turn; each counts its live chunks. A
 * segment whose chunks were all released (head truncation, once no reader reads
 * below the cut, or a removed series' grave, so no reader can still see them; an open
 * chunk's bytes, which readers copy under the series lock, at once) has its blocks
 * punched out and is filled again
 * later. Chunks are released roughly in the order they were closed, so segments empty
 * in turn; when none is free the caller keeps the chunk on the heap, as it does when
 * the store cannot be created.
 *
 * Thread-safety: reserve, put and release from any thread; a mutex (a leaf) guards the
 * fill position and segment states, live counts are atomic. The bytes of a reservation
 * are its owner's to write (under its own lock) and nobody else's.
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
/* Writes a thread makes through the mapping before it drops the pages it wrote: a
 * write touches one or two pages, and consecutive ones mostly the same. Every 256
 * writes, ~40 % fewer page faults (~0.2 % of the ingestion CPU) for ~1 MiB more RSS. */
#define DROP_WRITES 64

enum seg_state { SEG_FREE, SEG_FILLING, SEG_FULL };

struct seg {
	uint32_t live;  /* atomic: chunks put and not released */
	uint8_t state;  /* under mu */
};

struct tsdb_chunk_store {
	int fd;
	uint8_t *base;    /* nseg * seg bytes, shared, writable */
	uint32_t nseg, seg;
	pthread_mutex_t mu;
	uint32_t cur;     /* the segment being filled */
	uint32_t off;     /* fill position in it */
	bool mapped;      /* under mu: written through the mapping (else with pwrite) */
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
	m = mmap(NULL, nseg * cs->seg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, cs->fd,
		 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "head chunk store: mmap: %s", strerror(errno));
		goto fail;
	}
	cs->base = m;
	/* No readahead: a fault then maps the page it needs, not a large folio of the
	 * pages around it (2 MiB at a time were seen mapped by one small write). */
	madvise(m, nseg * cs->seg, MADV_RANDOM);
	cs->mapped = true;
	pthread_mutex_init(&cs->mu, NULL);
	cs->cur = cs->nseg - 1;
	cs->off = cs->seg; /* the first reservation takes segment 0 */
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

/* Move to the next free segment after the current one is full, its blocks allocated
 * first; false if none (or the file system has no room for one). */
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

		if (cs->segs[i].state != SEG_FREE)
			continue;
		if (cs->mapped && fallocate(cs->fd, 0, (off_t)i * cs->seg, cs->seg) < 0) {
			if (errno != EOPNOTSUPP)
				return false; /* cs->off stays past the end: the next call retries */
			cs->mapped = false;
		}
		cs->segs[i].state = SEG_FILLING;
		cs->cur = i;
		cs->off = 0;
		return true;
	}
	return false;
}

/* Room for len bytes; NULL when no segment has it, or when need_mapped and the store
 * cannot be written through its mapping. *mapped: whether it can. */
static uint8_t *take(struct tsdb_chunk_store *cs, size_t len, bool need_mapped, bool *mapped)
{
	uint64_t at;
	uint32_t seg;

	if (!cs || len == 0 || len > cs->seg)
		return NULL;
	pthread_mutex_lock(&cs->mu);
	if ((cs->off + len > cs->seg && !next_segment(cs)) || (need_mapped && !cs->mapped)) {
		pthread_mutex_unlock(&cs->mu);
		return NULL;
	}
	*mapped = cs->mapped;
	seg = cs->cur;
	at = (uint64_t)seg * cs->seg + cs->off;
	cs->off += (uint32_t)len;
	__atomic_fetch_add(&cs->segs[seg].live, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&cs->mu);
	return cs->base + at;
}

uint8_t *tsdb_chunk_store_reserve(struct tsdb_chunk_store *cs, size_t len)
{
	bool mapped;

	return take(cs, len, true, &mapped);
}

/* What this thread wrote through a store's mapping since it last dropped it. */
struct written {
	const struct tsdb_chunk_store *cs;
	uintptr_t lo, hi;
	unsigned n;
};

static __thread struct written tw;

void tsdb_chunk_store_wrote(struct tsdb_chunk_store *cs, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, base = (uintptr_t)cs->base, lo, hi;

	if (tw.cs != cs || tw.n == 0) {
		tw = (struct written){ cs, a, a + len, 0 };
	} else {
		tw.lo = a < tw.lo ? a : tw.lo;
		tw.hi = a + len > tw.hi ? a + len : tw.hi;
	}
	if (++tw.n < DROP_WRITES)
		return;
	tw.n = 0;
	/* Within this store's mapping, whatever tw holds: a store closed since may have
	 * left its address to this one. */
	lo = tw.lo > base ? tw.lo : base;
	hi = base + (size_t)cs->nseg * cs->seg;
	hi = tw.hi < hi ? tw.hi : hi;
	lo &= ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
	if (lo < hi)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

const uint8_t *tsdb_chunk_store_put(struct tsdb_chunk_store *cs, const void *data, size_t len)
{
	bool mapped;
	uint8_t *p = take(cs, len, false, &mapped);
	ssize_t n;

	if (!p)
		return NULL;
	/* The range is ours alone; readers see it only once the caller publishes it. */
	if (mapped) {
		memcpy(p, data, len);
		tsdb_chunk_store_wrote(cs, p, len);
		return p;
	}
	do
		n = pwrite(cs->fd, data, len, (off_t)(p - cs->base));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		tsdb_chunk_store_release(cs, p);
		return NULL;
	}
	return p;
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

size_t tsdb_chunk_store_live(const struct tsdb_chunk_store *cs)
{
	size_t n = 0;

	for (uint32_t i = 0; cs && i < cs->nseg; i++)
		n += __atomic_load_n(&cs->segs[i].live, __ATOMIC_RELAXED);
	return n;
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
