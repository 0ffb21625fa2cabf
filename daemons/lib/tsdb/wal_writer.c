/*
 * The WAL writer: framing, appends, group commit, segment rollover.
 *
 * Records are compressed first (wal_compress.c), outside the mutex. A batch is framed
 * into one scratch buffer (zero padding and fragments, laid out for the current
 * offset) and written with pwrite(2) at the offset the writer tracks, never
 * O_APPEND: after a failed or short write (ENOSPC) the writer cuts the file back to
 * that offset, so a half-written batch is neither acknowledged nor left for a reader
 * to stumble over, and the next write starts at a record boundary.
 *
 * Group commit (BATCH): writers append under the mutex, then wait. The first waiter
 * with no fsync in flight becomes the leader: it notes the highest batch written so
 * far, fsyncs without the mutex while others keep appending, then completes every
 * waiter up to that batch. Waiters are nodes on their own stacks, each told its own
 * result, so a later failure can never be mistaken for an earlier success.
 *
 * An fsync that fails leaves the page cache's state unknown (the kernel may already
 * have dropped the dirty pages), so the writer cuts the segment back to the offset the
 * last good fsync covered and fails every waiter: nothing after that point was
 * acknowledged. Rollover fsyncs the finished segment before the next one exists, so
 * only the last segment can ever have a torn tail.
 *
 * Zeros ahead (fsync policies only). An fdatasync of writes that extend a file also
 * writes what the extension changed (block allocation, the size in the inode), each
 * its own I/O that the call waits for; on ext4 that is about half of its CPU and
 * latency. So the writer keeps the segment's next ZERO_AHEAD / 2 to ZERO_AHEAD bytes
 * written as zeros (one write every half MiB of data) and its fsyncs only overwrite
 * blocks the file already has. Readers take zeros where a fragment would start as
 * the end of the data (wal_reader.c); a segment is cut to its data when it is closed,
 * and a crash leaves a zero tail that the next open cuts like any torn tail. Since a
 * reader may then read pages while they are being written, a batch is written with
 * its first byte last: until that byte is in, the batch reads as zeros, the end of
 * the data.
 */
#include "tsdb/wal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log/log.h"

#define SCRATCH_KEEP (4 * 1024 * 1024)
#define ZERO_AHEAD (1024 * 1024)

struct waiter {
	uint64_t seq;
	bool done;
	int rc;
	char why[128];
	struct waiter *next;
};

struct tsdb_wal {
	char *dir;
	struct tsdb_wal_opts opts;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd;
	int seg;
	int64_t off;         /* end of the last good write */
	int64_t durable_off; /* what the last good fsync of seg covered */
	bool need_trunc;     /* the file may hold bytes past off from a failed write */
	int64_t zeroed;      /* [off, zeroed) holds zeros written ahead */
	uint64_t write_seq;  /* batches written */
	bool syncing;        /* a leader's fsync is in flight */
	struct waiter *waiters;
	struct buf scratch;
	struct tsdb_wal_stats st;
};

int tsdb_wal_parse_fsync(const char *s, enum tsdb_wal_fsync *out)
{
	static const char *const names[] = { "batch", "always", "never" };

	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum tsdb_wal_fsync)i;
			return 0;
		}
	}
	return -1;
}

/* --- framing ---------------------------------------------------------------------- */

static void put_header(struct buf *b, unsigned type, const unsigned char *data, size_t len)
{
	uint32_t crc = tsdb_wal_crc32c(0, data, len);
	unsigned char h[WAL_HDR] = {
		(unsigned char)type, (unsigned char)(len >> 8), (unsigned char)len,
		(unsigned char)(crc >> 24), (unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
		(unsigned char)crc,
	};

	buf_append(b, h, WAL_HDR);
}

/* Frame one record starting at file offset *off. */
static void frame_record(struct buf *b, int64_t *off, const unsigned char *data, size_t len,
			 unsigned flags)
{
	static const unsigned char zeros[WAL_HDR];
	bool first = true;

	do {
		size_t prem = WAL_PAGE - (size_t)(*off % WAL_PAGE), l;
		unsigned type;

		if (prem < WAL_HDR) {
			buf_append(b, zeros, prem);
			*off += (int64_t)prem;
			prem = WAL_PAGE;
		}
		l = len < prem - WAL_HDR ? len : prem - WAL_HDR;
		if (first)
			type = l == len ? WAL_FRAG_FULL : WAL_FRAG_FIRST;
		else
			type = l == len ? WAL_FRAG_LAST : WAL_FRAG_MIDDLE;
		put_header(b, type | flags, data, l);
		buf_append(b, data, l);
		*off += (int64_t)(WAL_HDR + l);
		data += l;
		len -= l;
		first = false;
	} while (len > 0);
}

/* flags[i]: record i's compression bit. */
static int frame_batch(struct buf *b, int64_t off, const struct tsdb_wal_rec *recs,
		       const unsigned char *flags, size_t n)
{
	buf_reset(b);
	for (size_t i = 0; i < n; i++)
		frame_record(b, &off, recs[i].data, recs[i].len,
			     flags[i] | (i + 1 < n ? WAL_FLAG_MORE : 0));
	return b->oom ? -1 : 0;
}

/* --- file operations --------------------------------------------------------------- */

static int write_all(struct tsdb_wal *w, const void *data, size_t len, int64_t off)
{
	const char *p = data;

	while (len > 0) {
		long k = w->opts.pwrite_hook
				 ? w->opts.pwrite_hook(w->opts.hook_ctx, w->fd, p, len, off)
				 : (long)pwrite(w->fd, p, len, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0) {
			errno = EIO;
			return -1;
		}
		p += k;
		len -= (size_t)k;
		off += k;
	}
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fdatasync through the hook; returns 0 or errno. Safe without the mutex. */
static int sync_fd(const struct tsdb_wal *w, int fd, double *secs)
{
	double t0 = now_seconds();
	int rc = w->opts.fsync_hook ? w->opts.fsync_hook(w->opts.hook_ctx, fd) : fdatasync(fd);
	int e = rc < 0 ? errno : 0;

	*secs = now_seconds() - t0;
	return rc < 0 ? (e ? e : EIO) : 0;
}

static void count_fsync(struct tsdb_wal *w, double secs)
{
	w->st.fsyncs++;
	w->st.fsync_seconds += secs;
}

/* Cut the file back to off when a failed write may have left bytes after it (the
 * zeros ahead go too). */
static int fix_tail(struct tsdb_wal *w, char *err, size_t errlen)
{
	if (!w->need_trunc)
		return 0;
	if (ftruncate(w->fd, w->off) < 0)
		return WAL_FAIL(err, errlen, -1, "WAL segment %08d: cannot remove a failed write: %s",
				w->seg, strerror(errno));
	w->need_trunc = false;
	w->zeroed = w->off;
	return 0;
}

/* Before a segment is closed for good: remove what is not data. */
static int cut_to_data(struct tsdb_wal *w, char *err, size_t errlen)
{
	if (fix_tail(w, err, errlen) < 0)
		return -1;
	if (w->zeroed <= w->off)
		return 0;
	if (ftruncate(w->fd, w->off) < 0)
		return WAL_FAIL(err, errlen, -1, "WAL segment %08d: cannot cut it to its data: %s",
				w->seg, strerror(errno));
	w->zeroed = w->off;
	return 0;
}

/* Keep zeros written ahead of the data (see the top). A failed write of zeros costs
 * nothing but their benefit: the data is written beyond them as without. */
static void zero_ahead(struct tsdb_wal *w)
{
	static const unsigned char zeros[ZERO_AHEAD / 4];
	int64_t end = (w->off + ZERO_AHEAD) / WAL_PAGE * WAL_PAGE, at;

	if (w->opts.fsync == TSDB_WAL_FSYNC_NEVER || w->zeroed - w->off >= ZERO_AHEAD / 2)
		return;
	if (end > (int64_t)w->opts.segment_size)
		end = (int64_t)w->opts.segment_size;
	at = w->zeroed > w->off ? w->zeroed : w->off;
	for (; at < end; at += (int64_t)sizeof(zeros)) {
		size_t n = end - at < (int64_t)sizeof(zeros) ? (size_t)(end - at) : sizeof(zeros);

		if (write_all(w, zeros, n, at) < 0)
			break;
	}
	w->zeroed = end > w->off ? end : w->off;
}

static void complete_waiters(struct tsdb_wal *w, uint64_t upto, int rc, const char *why)
{
	struct waiter **pp = &w->waiters;

	while (*pp) {
		struct waiter *x = *pp;

		if (x->seq > upto) {
			pp = &x->next;
			continue;
		}
		x->done = true;
		x->rc = rc;
		if (why)
			snprintf(x->why, sizeof(x->why), "%s", why);
		*pp = x->next;
	}
	pthread_cond_broadcast(&w->cv);
}

/* An fsync of the current segment failed: nothing past durable_off is acknowledged. */
static void fsync_failed(struct tsdb_wal *w, int e, char *err, size_t errlen)
{
	char why[128], s_seg[16];

	snprintf(why, sizeof(why), "fsync WAL segment %08d: %s", w->seg, strerror(e));
	snprintf(s_seg, sizeof(s_seg), "%08d", w->seg);
	LOG_ERROR(WAL_LOG_MODULE, "WAL fsync failed; unacknowledged records removed", "segment",
		  s_seg, "error", strerror(e));
	w->off = w->durable_off;
	w->need_trunc = true;
	fix_tail(w, NULL, 0);
	complete_waiters(w, UINT64_MAX, -1, why);
	snprintf(err, errlen, "%s", why);
}

/* --- segments ---------------------------------------------------------------------- */

static int create_segment(const char *dir, int seg, int *fd, char *err, size_t errlen)
{
	char path[4096];

	if (wal_segment_path(path, sizeof(path), dir, seg) < 0)
		return WAL_FAIL(err, errlen, -1, "segment path too long");
	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (*fd < 0)
		return WAL_FAIL(err, errlen, -1, "create WAL segment %s: %s", path, strerror(errno));
	if (wal_fsync_dir(dir, err, errlen) < 0) {
		close(*fd);
		*fd = -1;
		unlink(path);
		return -1;
	}
	return 0;
}

/* Finish the current segment (fsynced) and switch to a new one. Needs the mutex and
 * no leader in flight (the leader fsyncs the current fd without the mutex). */
static int roll(struct tsdb_wal *w, char *err, size_t errlen)
{
	double secs;
	int e, fd;

	if (cut_to_data(w, err, errlen) < 0)
		return -1;
	e = sync_fd(w, w->fd, &secs);
	count_fsync(w, secs);
	if (e) {
		fsync_failed(w, e, err, errlen);
		return -1;
	}
	w->durable_off = w->off;
	complete_waiters(w, w->write_seq, 0, NULL);
	if (create_segment(w->dir, w->seg + 1, &fd, err, errlen) < 0)
		return -1;
	close(w->fd);
	w->fd = fd;
	w->seg++;
	w->st.segment = w->seg;
	w->off = w->durable_off = w->zeroed = 0;
	return 0;
}

/* --- open / close ------------------------------------------------------------------ */

static int open_last_segment(struct tsdb_wal *w, char *err, size_t errlen)
{
	char path[4096];
	int *segs;
	size_t n;
	int64_t good, cut;
	int cp;

	if (tsdb_wal_checkpoint_last(w->dir, &cp, NULL, 0, err, errlen) < 0 ||
	    wal_list_segments(w->dir, &segs, &n, err, errlen) < 0)
		return -1;
	/* Replay skips segments a checkpoint covers, so never write into one. */
	if (n == 0 || segs[n - 1] <= cp) {
		w->seg = cp + 1;
		free(segs);
		return create_segment(w->dir, w->seg, &w->fd, err, errlen);
	}
	w->seg = segs[n - 1];
	free(segs);
	if (wal_seg_repair_tail(w->dir, w->seg, &good, &cut, err, errlen) < 0)
		return -1;
	if (wal_segment_path(path, sizeof(path), w->dir, w->seg) < 0)
		return WAL_FAIL(err, errlen, -1, "segment path too long");
	w->fd = open(path, O_WRONLY | O_CLOEXEC);
	if (w->fd < 0)
		return WAL_FAIL(err, errlen, -1, "open WAL segment %s: %s", path, strerror(errno));
	w->off = w->durable_off = w->zeroed = good;
	return 0;
}

int tsdb_wal_open(const char *waldir, const struct tsdb_wal_opts *opts, struct tsdb_wal **out,
		  char *err, size_t errlen)
{
	struct tsdb_wal *w;

	*out = NULL;
	if (opts && opts->segment_size % WAL_PAGE)
		return WAL_FAIL(err, errlen, -1, "WAL segment size %zu is not a multiple of %d",
				opts->segment_size, WAL_PAGE);
	w = calloc(1, sizeof(*w));
	if (!w)
		return WAL_FAIL(err, errlen, -1, "open WAL: out of memory");
	w->fd = -1;
	if (opts)
		w->opts = *opts;
	if (!w->opts.segment_size)
		w->opts.segment_size = TSDB_WAL_DEFAULT_SEGMENT_SIZE;
	w->dir = strdup(waldir);
	if (!w->dir) {
		free(w);
		return WAL_FAIL(err, errlen, -1, "open WAL: out of memory");
	}
	if (wal_mkdir_p(waldir, err, errlen) < 0 || open_last_segment(w, err, errlen) < 0)
		goto fail;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->st.segment = w->seg;
	*out = w;
	return 0;
fail:
	if (w->fd >= 0)
		close(w->fd);
	free(w->dir);
	free(w);
	return -1;
}

int tsdb_wal_close(struct tsdb_wal *w, char *err, size_t errlen)
{
	double secs;
	int rc = 0, e;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->syncing)
		pthread_cond_wait(&w->cv, &w->mu);
	if (cut_to_data(w, err, errlen) < 0)
		rc = -1;
	e = sync_fd(w, w->fd, &secs);
	count_fsync(w, secs);
	if (e && rc == 0)
		rc = WAL_FAIL(err, errlen, -1, "fsync WAL segment %08d: %s", w->seg, strerror(e));
	pthread_mutex_unlock(&w->mu);
	if (close(w->fd) < 0 && rc == 0)
		rc = WAL_FAIL(err, errlen, -1, "close WAL segment %08d: %s", w->seg, strerror(errno));
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	buf_free(&w->scratch);
	free(w->dir);
	free(w);
	return rc;
}

/* --- logging ----------------------------------------------------------------------- */

/* Frame the batch at the current offset, rolling over first when it would overflow a
 * non-empty segment. Mutex held; on return scratch holds the framed batch. */
static int prepare(struct tsdb_wal *w, const struct wal_packed *p, size_t n, char *err,
		   size_t errlen)
{
	for (;;) {
		if (fix_tail(w, err, errlen) < 0)
			return -1;
		if (frame_batch(&w->scratch, w->off, p->recs, p->flags, n) < 0)
			return WAL_FAIL(err, errlen, -1, "WAL: out of memory framing %zu records", n);
		if (w->off == 0 || w->off + (int64_t)w->scratch.len <= (int64_t)w->opts.segment_size)
			return 0;
		if (w->syncing) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		if (roll(w, err, errlen) < 0)
			return -1;
	}
}

/* Write the framed batch at off. Into zeros a reader may be reading, its first byte
 * goes last (see the top). */
static int write_batch(struct tsdb_wal *w)
{
	const unsigned char *b = (const unsigned char *)w->scratch.data;
	size_t len = w->scratch.len;

	if (w->off < w->zeroed && len > 1) {
		if (write_all(w, b + 1, len - 1, w->off + 1) < 0)
			return -1;
		len = 1;
	}
	return write_all(w, b, len, w->off);
}

static int append(struct tsdb_wal *w, const struct wal_packed *p, size_t n, char *err,
		  size_t errlen)
{
	if (prepare(w, p, n, err, errlen) < 0)
		return -1;
	if (write_batch(w) < 0) {
		int e = errno;

		w->need_trunc = true;
		fix_tail(w, NULL, 0);
		return WAL_FAIL(err, errlen, -1, "write WAL segment %08d at offset %lld: %s", w->seg,
				(long long)w->off, strerror(e));
	}
	w->off += (int64_t)w->scratch.len;
	w->write_seq++;
	w->st.bytes += w->scratch.len;
	if (w->scratch.cap > SCRATCH_KEEP) /* do not hold on to one huge batch's memory */
		buf_free(&w->scratch);
	zero_ahead(w);
	return 0;
}

/* Become the leader: fsync everything written so far, then complete its waiters. */
static void lead(struct tsdb_wal *w)
{
	uint64_t target = w->write_seq;
	int64_t target_off = w->off;
	int fd = w->fd, e;
	double secs;

	w->syncing = true;
	pthread_mutex_unlock(&w->mu);
	e = sync_fd(w, fd, &secs);
	pthread_mutex_lock(&w->mu);
	w->syncing = false;
	count_fsync(w, secs);
	if (e) {
		fsync_failed(w, e, NULL, 0);
		return;
	}
	w->durable_off = target_off;
	complete_waiters(w, target, 0, NULL);
}

/* Wait for the batch just written (written_cb, if any, runs first, without the mutex).
 * The waiter goes on the list before the mutex is let go, so an fsync that fails
 * meanwhile fails it too. */
static int wait_durable(struct tsdb_wal *w, void (*written_cb)(void *arg), void *arg,
			char *err, size_t errlen)
{
	struct waiter me = { .seq = w->write_seq, .next = w->waiters };

	w->waiters = &me;
	if (written_cb) {
		pthread_mutex_unlock(&w->mu);
		written_cb(arg);
		pthread_mutex_lock(&w->mu);
	}
	while (!me.done) {
		if (!w->syncing)
			lead(w);
		else
			pthread_cond_wait(&w->cv, &w->mu);
	}
	if (me.rc < 0)
		return WAL_FAIL(err, errlen, me.rc, "%s", me.why);
	return 0;
}

int tsdb_wal_log_ex(struct tsdb_wal *w, const struct tsdb_wal_rec *recs, size_t n,
		    void (*written)(void *arg), void *arg, char *err, size_t errlen)
{
	struct wal_packed p = { 0 };
	double secs;
	int rc, e;

	if (n == 0)
		return 0;
	/* Compressed before the mutex, so appenders compress in parallel. */
	rc = wal_pack(w->opts.compression, recs, n, &p, err, errlen);
	pthread_mutex_lock(&w->mu);
	if (rc == 0)
		rc = append(w, &p, n, err, errlen);
	if (rc == 0 && w->opts.fsync == TSDB_WAL_FSYNC_BATCH) {
		wal_packed_free(&p); /* framed into the scratch, which was written */
		rc = wait_durable(w, written, arg, err, errlen);
		written = NULL;
	} else if (rc == 0 && w->opts.fsync == TSDB_WAL_FSYNC_ALWAYS) {
		e = sync_fd(w, w->fd, &secs);
		count_fsync(w, secs);
		if (e) {
			fsync_failed(w, e, err, errlen);
			rc = -1;
		} else {
			w->durable_off = w->off;
		}
	}
	if (rc == 0) {
		w->st.log_calls++;
		w->st.records += n;
	} else {
		w->st.writes_failed++;
	}
	pthread_mutex_unlock(&w->mu);
	wal_packed_free(&p);
	if (written && rc == 0)
		written(arg);
	return rc;
}

int tsdb_wal_log(struct tsdb_wal *w, const struct tsdb_wal_rec *recs, size_t n, char *err,
		 size_t errlen)
{
	return tsdb_wal_log_ex(w, recs, n, NULL, NULL, err, errlen);
}

int tsdb_wal_cut(struct tsdb_wal *w, int *seg, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	while (w->syncing)
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->off > 0)
		rc = roll(w, err, errlen);
	if (seg)
		*seg = w->seg;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

int tsdb_wal_current_segment(struct tsdb_wal *w)
{
	int seg;

	pthread_mutex_lock(&w->mu);
	seg = w->seg;
	pthread_mutex_unlock(&w->mu);
	return seg;
}

const char *tsdb_wal_dir(const struct tsdb_wal *w)
{
	return w->dir;
}

size_t wal_writer_segment_size(const struct tsdb_wal *w)
{
	return w->opts.segment_size;
}

enum tsdb_wal_compression wal_writer_compression(const struct tsdb_wal *w)
{
	return w->opts.compression;
}

void tsdb_wal_stats(struct tsdb_wal *w, struct tsdb_wal_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st;
	out->offset = w->off;
	pthread_mutex_unlock(&w->mu);
}
