/*
 * Reading segments: the fragment parser, the strict walk that replay and checkpoints
 * use, tail repair, and the public reader that follows a live log.
 *
 * The parser works one 32 KiB page at a time with pread(2), since fragments never
 * cross pages; a page read short (end of the data so far) is topped up by the next
 * call, which is all tailing needs. It assembles whole batches: records flagged
 * "more follows" are held until the batch's last record is complete. When the data
 * ends inside a batch the parser rewinds to the end of the last complete batch and
 * says so; a writer in the middle of a write and a torn tail look the same from here,
 * and the caller knows which one it is looking at (live log, or start-up).
 *
 * A compressed record is decoded in place in the batch as soon as its last fragment
 * is in, so everything above the parser sees records as they were encoded.
 *
 * The type byte is not covered by the CRC (upstream's format), so the parser checks
 * the fragment sequence as strictly as the writer produces it: padding never inside a
 * record, middle and last fragments only after a first, flags equal within a record.
 *
 * Where the data ends. Writers pad a page with zeros only when a fragment header no
 * longer fits in it, or (Prometheus') when a segment ends; so a zero byte where a
 * header would still fit is the end of the data. After it come the zeros our writer
 * keeps written ahead of its data (wal_writer.c), or a crash left, or a closed
 * segment's last padding: in a segment no writer appends to any more they must run to
 * the end of the file (anything else is damage); in a live one they are not checked,
 * since the writer is filling them, and are read again on the next call.
 */
#include "tsdb/wal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.h"

/* --- the fragment parser ---------------------------------------------------------- */

int wal_seg_open(struct wal_seg_reader *r, const char *dir, int seg, char *err, size_t errlen)
{
	char path[4096];
	int e;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->seg = seg;
	if (wal_segment_path(path, sizeof(path), dir, seg) < 0) {
		errno = ENAMETOOLONG;
		return WAL_FAIL(err, errlen, -1, "segment path too long");
	}
	r->page = malloc(WAL_PAGE);
	if (!r->page) {
		errno = ENOMEM;
		return WAL_FAIL(err, errlen, -1, "open %s: out of memory", path);
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		e = errno;
		free(r->page);
		r->page = NULL;
		errno = e;
		return WAL_FAIL(err, errlen, -1, "open %s: %s", path, strerror(e));
	}
	return 0;
}

void wal_seg_close(struct wal_seg_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->page);
	r->page = NULL;
	buf_free(&r->batch);
	buf_free(&r->unpacked);
	free(r->recs);
	r->recs = NULL;
	r->nrecs = r->caprecs = 0;
}

/* Make `need` bytes from pos available: 1, 0 at the end of the data, -1 on error. */
static int fill(struct wal_seg_reader *r, size_t need, char *err, size_t errlen)
{
	while (r->page_len < r->pos + need) {
		ssize_t k = pread(r->fd, r->page + r->page_len, WAL_PAGE - r->page_len,
				  r->page_off + (int64_t)r->page_len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return WAL_FAIL(err, errlen, -1, "read segment %08d: %s", r->seg,
					strerror(errno));
		if (k == 0)
			return 0;
		r->page_len += (size_t)k;
	}
	return 1;
}

/* Drop the batch in progress and go back to where the last complete one ended. */
static void rewind_batch(struct wal_seg_reader *r)
{
	r->in_rec = false;
	r->nrecs = 0;
	r->batch.len = 0;
	r->page_off = r->batch_end - r->batch_end % WAL_PAGE;
	r->pos = (size_t)(r->batch_end - r->page_off);
	r->page_len = 0;
}

__attribute__((format(printf, 3, 4)))
static enum wal_scan_rc corrupt(struct wal_seg_reader *r, int64_t at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	r->bad_off = at;
	rewind_batch(r);
	return WAL_SCAN_CORRUPT;
}

static enum wal_scan_rc at_end(struct wal_seg_reader *r, bool zeros_only)
{
	if (!r->in_rec && r->nrecs == 0 && (zeros_only || r->pos == r->page_len))
		return WAL_SCAN_END;
	snprintf(r->why, sizeof(r->why), "data ends inside a batch");
	r->bad_off = r->batch_end;
	rewind_batch(r);
	return WAL_SCAN_PARTIAL;
}

/* A zero type byte: the rest of the page must be zeros (to the end of the data). */
static enum wal_scan_rc skip_padding(struct wal_seg_reader *r, bool *more, char *err,
				     size_t errlen)
{
	int rc;

	*more = false;
	if (r->in_rec)
		return corrupt(r, r->page_off + (int64_t)r->pos, "page padding inside a record");
	rc = fill(r, WAL_PAGE - r->pos, err, errlen);
	if (rc < 0)
		return WAL_SCAN_ERR;
	for (size_t i = r->pos; i < r->page_len; i++)
		if (r->page[i])
			return corrupt(r, r->page_off + (int64_t)i,
				       "non-zero byte 0x%02x in page padding", r->page[i]);
	if (rc == 0)
		return at_end(r, true);
	r->pos = WAL_PAGE;
	*more = true;
	return WAL_SCAN_END;
}

/* A zero byte where a fragment header fits: the end of the data (see the top). */
static enum wal_scan_rc data_end(struct wal_seg_reader *r, char *err, size_t errlen)
{
	int64_t at = r->page_off + (int64_t)r->pos;
	unsigned char b[4096];
	ssize_t k;

	if (r->in_rec)
		return corrupt(r, at, "page padding inside a record");
	if (r->live) {
		r->page_len = r->pos; /* what follows may change: read it again next time */
		return at_end(r, true);
	}
	for (;; at += k) {
		k = pread(r->fd, b, sizeof(b), at);
		if (k < 0 && errno == EINTR) {
			k = 0;
			continue;
		}
		if (k < 0)
			return WAL_FAIL(err, errlen, WAL_SCAN_ERR, "read segment %08d: %s", r->seg,
					strerror(errno));
		if (k == 0)
			return at_end(r, true);
		for (ssize_t i = 0; i < k; i++)
			if (b[i])
				return corrupt(r, at + i,
					       "non-zero byte 0x%02x after the end of the data", b[i]);
	}
}

static int add_record(struct wal_seg_reader *r)
{
	if (r->nrecs == r->caprecs) {
		size_t ncap = r->caprecs ? r->caprecs * 2 : 16;
		struct wal_rec_ref *n = realloc(r->recs, ncap * sizeof(*n));

		if (!n)
			return -1;
		r->recs = n;
		r->caprecs = ncap;
	}
	r->recs[r->nrecs].off = 0;
	r->recs[r->nrecs].len = 0;
	r->recs[r->nrecs].pos = r->page_off + (int64_t)r->pos;
	if (r->nrecs)
		r->recs[r->nrecs].off = r->recs[r->nrecs - 1].off + r->recs[r->nrecs - 1].len;
	r->nrecs++;
	return 0;
}

static const char *frag_name(unsigned type)
{
	static const char *const names[] = { "padding", "full", "first", "middle", "last" };

	return type <= WAL_FRAG_LAST ? names[type] : "invalid";
}

/* Check a fragment header against the record state; NULL when it fits. */
static const char *bad_sequence(const struct wal_seg_reader *r, unsigned type, unsigned flags)
{
	if ((flags & WAL_FLAG_SNAPPY) && (flags & WAL_FLAG_ZSTD))
		return "both compression bits set";
	if (flags & ~(unsigned)(WAL_FLAG_MORE | WAL_FLAG_SNAPPY | WAL_FLAG_ZSTD))
		return "unknown flag bits in fragment type";
	if (type > WAL_FRAG_LAST)
		return "invalid fragment type";
	if ((type == WAL_FRAG_FULL || type == WAL_FRAG_FIRST) && r->in_rec)
		return "new record starts inside a record";
	if ((type == WAL_FRAG_MIDDLE || type == WAL_FRAG_LAST) && !r->in_rec)
		return "continuation fragment without a first fragment";
	if ((type == WAL_FRAG_MIDDLE || type == WAL_FRAG_LAST) && flags != r->rec_flags)
		return "fragment flags change within a record";
	return NULL;
}

/* One fragment at pos. WAL_SCAN_BATCH when it completes a batch, END to go on. */
static enum wal_scan_rc read_fragment(struct wal_seg_reader *r, bool *more, char *err,
				      size_t errlen)
{
	size_t prem = WAL_PAGE - r->pos, len;
	int64_t at = r->page_off + (int64_t)r->pos;
	const unsigned char *h;
	unsigned type, flags;
	uint32_t crc, got;
	const char *bad;
	int rc;

	*more = false;
	if (prem < WAL_HDR)
		return corrupt(r, at, "fragment header crosses a page boundary");
	rc = fill(r, WAL_HDR, err, errlen);
	if (rc <= 0)
		return rc < 0 ? WAL_SCAN_ERR : at_end(r, false);
	h = r->page + r->pos;
	type = h[0] & WAL_FRAG_TYPE_MASK;
	flags = h[0] & ~WAL_FRAG_TYPE_MASK;
	len = (size_t)h[1] << 8 | h[2];
	crc = (uint32_t)h[3] << 24 | (uint32_t)h[4] << 16 | (uint32_t)h[5] << 8 | h[6];
	bad = bad_sequence(r, type, flags);
	if (bad)
		return corrupt(r, at, "%s (type byte 0x%02x, %s)", bad, h[0], frag_name(type));
	if (WAL_HDR + len > prem)
		return corrupt(r, at, "fragment length %zu overruns its page", len);
	rc = fill(r, WAL_HDR + len, err, errlen);
	if (rc <= 0)
		return rc < 0 ? WAL_SCAN_ERR : at_end(r, false);
	h = r->page + r->pos;
	got = tsdb_wal_crc32c(0, h + WAL_HDR, len);
	if (got != crc)
		return corrupt(r, at, "checksum mismatch (stored %08x, computed %08x)", crc, got);
	if (type == WAL_FRAG_FULL || type == WAL_FRAG_FIRST) {
		if (add_record(r) < 0)
			return WAL_FAIL(err, errlen, WAL_SCAN_ERR, "read segment %08d: out of memory",
					r->seg);
		r->in_rec = true;
		r->rec_flags = flags;
	}
	buf_append(&r->batch, h + WAL_HDR, len);
	if (r->batch.oom)
		return WAL_FAIL(err, errlen, WAL_SCAN_ERR, "read segment %08d: out of memory",
				r->seg);
	r->recs[r->nrecs - 1].len += len;
	r->pos += WAL_HDR + len;
	*more = true;
	if (type == WAL_FRAG_FIRST || type == WAL_FRAG_MIDDLE)
		return WAL_SCAN_END;
	r->in_rec = false;
	if (r->rec_flags & (WAL_FLAG_SNAPPY | WAL_FLAG_ZSTD)) {
		struct wal_rec_ref *rec = &r->recs[r->nrecs - 1];

		char why[sizeof(r->why)];

		rc = wal_unpack_tail(&r->batch, rec->off, r->rec_flags, &r->unpacked, why,
				     sizeof(why));
		*more = rc == 0;
		if (rc < 0)
			return WAL_FAIL(err, errlen, WAL_SCAN_ERR, "read segment %08d: %s", r->seg,
					why);
		if (rc > 0)
			return corrupt(r, rec->pos, "%s", why);
		rec->len = r->batch.len - rec->off;
	}
	if (r->rec_flags & WAL_FLAG_MORE)
		return WAL_SCAN_END;
	r->batch_end = r->page_off + (int64_t)r->pos;
	return WAL_SCAN_BATCH;
}

enum wal_scan_rc wal_seg_next(struct wal_seg_reader *r, char *err, size_t errlen)
{
	r->nrecs = 0;
	r->batch.len = 0;
	for (;;) {
		enum wal_scan_rc rc;
		bool more;
		int f;

		if (r->pos == WAL_PAGE) {
			r->page_off += WAL_PAGE;
			r->pos = 0;
			r->page_len = 0;
		}
		f = fill(r, 1, err, errlen);
		if (f < 0)
			return WAL_SCAN_ERR;
		if (f == 0)
			return at_end(r, false);
		if (r->page[r->pos] != WAL_FRAG_PAD)
			rc = read_fragment(r, &more, err, errlen);
		else if (WAL_PAGE - r->pos < WAL_HDR)
			rc = skip_padding(r, &more, err, errlen);
		else
			return data_end(r, err, errlen);
		if (!more)
			return rc;
		if (rc == WAL_SCAN_BATCH)
			return rc;
	}
}

/* --- tail repair and strict walks ------------------------------------------------- */

int wal_seg_cut_tail(const char *dir, int seg, int64_t good, int64_t bad_off, const char *why,
		     int64_t *cut, char *err, size_t errlen)
{
	char path[4096], s_seg[16], s_good[24], s_bad[24], s_size[24];
	struct stat st;

	*cut = 0;
	if (wal_segment_path(path, sizeof(path), dir, seg) < 0)
		return WAL_FAIL(err, errlen, -1, "segment path too long");
	if (stat(path, &st) < 0)
		return WAL_FAIL(err, errlen, -1, "stat %s: %s", path, strerror(errno));
	if (st.st_size <= good)
		return 0;
	snprintf(s_seg, sizeof(s_seg), "%08d", seg);
	snprintf(s_good, sizeof(s_good), "%lld", (long long)good);
	snprintf(s_bad, sizeof(s_bad), "%lld", (long long)bad_off);
	snprintf(s_size, sizeof(s_size), "%lld", (long long)st.st_size);
	if (why && *why)
		LOG_WARN(WAL_LOG_MODULE, "truncating torn or corrupt WAL tail", "dir", dir,
			 "segment", s_seg, "offset", s_good, "damage_at", s_bad, "size", s_size,
			 "reason", why);
	else /* the zeros a writer keeps ahead of its data (wal_writer.c): nothing lost */
		LOG_INFO(WAL_LOG_MODULE, "cutting the zeros after the end of the WAL", "dir", dir,
			 "segment", s_seg, "offset", s_good, "size", s_size);
	if (wal_truncate_segment(dir, seg, good, err, errlen) < 0)
		return -1;
	*cut = st.st_size - good;
	return 0;
}

int wal_seg_repair_tail(const char *dir, int seg, int64_t *good, int64_t *cut, char *err,
			size_t errlen)
{
	struct wal_seg_reader r;
	enum wal_scan_rc rc;

	*good = 0;
	*cut = 0;
	if (wal_seg_open(&r, dir, seg, err, errlen) < 0)
		return -1;
	while ((rc = wal_seg_next(&r, err, errlen)) == WAL_SCAN_BATCH)
		;
	*good = r.batch_end;
	if (rc != WAL_SCAN_ERR)
		rc = wal_seg_cut_tail(dir, seg, r.batch_end, r.bad_off, r.why, cut, err, errlen) < 0
			     ? WAL_SCAN_ERR : WAL_SCAN_END;
	wal_seg_close(&r);
	return rc == WAL_SCAN_ERR ? -1 : 0;
}

static int walk_segment(struct wal_walk *wk, int seg, char *err, size_t errlen)
{
	struct wal_seg_reader r;
	enum wal_scan_rc rc;
	int ret = 0;

	if (wal_seg_open(&r, wk->dir, seg, err, errlen) < 0)
		return -1;
	while ((rc = wal_seg_next(&r, err, errlen)) == WAL_SCAN_BATCH) {
		ret = wk->batch(wk->ctx, &r, err, errlen);
		if (ret < 0)
			goto out;
	}
	if (rc == WAL_SCAN_ERR) {
		ret = -1;
	} else if (rc == WAL_SCAN_PARTIAL || rc == WAL_SCAN_CORRUPT) {
		if (wk->repair_last && seg == wk->last) {
			ret = wal_seg_cut_tail(wk->dir, seg, r.batch_end, r.bad_off, r.why,
					       &wk->truncated, err, errlen);
		} else {
			wk->corrupt_segment = seg;
			wk->corrupt_offset = r.bad_off;
			wk->good_offset = r.batch_end;
			ret = WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT,
				       "WAL corruption in segment %s/%08d at offset %lld: %s",
				       wk->dir, seg, (long long)r.bad_off,
				       rc == WAL_SCAN_PARTIAL ? "segment ends inside a batch"
							      : r.why);
		}
	} else {
		/* A clean end may still be followed by zeros from a crash. */
		if (wk->repair_last && seg == wk->last)
			ret = wal_seg_cut_tail(wk->dir, seg, r.batch_end, r.batch_end, NULL,
					       &wk->truncated, err, errlen);
	}
out:
	wal_seg_close(&r);
	return ret;
}

int wal_walk(struct wal_walk *wk, char *err, size_t errlen)
{
	wk->truncated = 0;
	wk->corrupt_segment = -1;
	wk->corrupt_offset = wk->good_offset = -1;
	for (int seg = wk->first; seg >= 0 && seg <= wk->last; seg++) {
		int rc;

		if (wk->progress) {
			struct tsdb_wal_progress p = {
				.checkpoint = wk->checkpoint,
				.segment = seg,
				.i = wk->progress_base + (seg - wk->first) + 1,
				.n = wk->progress_total,
			};
			wk->progress(wk->progress_ctx, &p);
		}
		rc = walk_segment(wk, seg, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* --- the public (tailing) reader -------------------------------------------------- */

struct tsdb_wal_reader {
	char *dir;
	struct wal_seg_reader sr;
	bool open;
	int seg;
	bool auto_first; /* opened with first = -1 and nothing read yet */
	bool next_seen;  /* seg + 1 exists: finish seg, then move on */
	bool have_batch;
	size_t cur;      /* next record of sr's batch to hand out */
};

int tsdb_wal_reader_open(const char *dir, int first, struct tsdb_wal_reader **out, char *err,
			 size_t errlen)
{
	struct tsdb_wal_reader *r = calloc(1, sizeof(*r));
	int f, l;

	*out = NULL;
	if (!r)
		return WAL_FAIL(err, errlen, -1, "WAL reader: out of memory");
	r->sr.fd = -1;
	r->dir = strdup(dir);
	if (!r->dir) {
		free(r);
		return WAL_FAIL(err, errlen, -1, "WAL reader: out of memory");
	}
	if (first < 0) {
		if (tsdb_wal_segments(dir, &f, &l, err, errlen) < 0) {
			tsdb_wal_reader_close(r);
			return -1;
		}
		r->auto_first = true;
		first = f < 0 ? 0 : f;
	}
	r->seg = first;
	*out = r;
	return 0;
}

void tsdb_wal_reader_close(struct tsdb_wal_reader *r)
{
	if (!r)
		return;
	if (r->open)
		wal_seg_close(&r->sr);
	free(r->dir);
	free(r);
}

void tsdb_wal_reader_position(const struct tsdb_wal_reader *r, int *seg, int64_t *off)
{
	*seg = r->seg;
	*off = r->open ? r->sr.batch_end : 0;
}

static bool segment_exists(const char *dir, int seg)
{
	char path[4096];
	struct stat st;

	return wal_segment_path(path, sizeof(path), dir, seg) == 0 && stat(path, &st) == 0;
}

/* Open r->seg: 1 when open, 0 when it does not exist yet, < 0 on error. */
static int open_current(struct tsdb_wal_reader *r, char *err, size_t errlen)
{
	int first, last;

	for (;;) {
		if (wal_seg_open(&r->sr, r->dir, r->seg, err, errlen) == 0) {
			r->open = true;
			return 1;
		}
		if (errno != ENOENT)
			return -1;
		if (tsdb_wal_segments(r->dir, &first, &last, err, errlen) < 0)
			return -1;
		if (first < 0 || r->seg > last)
			return 0;
		if (first < r->seg) /* deleted between listing and opening */
			return WAL_FAIL(err, errlen, TSDB_WAL_EGONE,
					"WAL segment %s/%08d no longer exists", r->dir, r->seg);
		if (!r->auto_first)
			return WAL_FAIL(err, errlen, TSDB_WAL_EGONE,
					"WAL segment %s/%08d no longer exists (first is %08d)",
					r->dir, r->seg, first);
		r->seg = first;
	}
}

static void switch_segment(struct tsdb_wal_reader *r)
{
	wal_seg_close(&r->sr);
	r->open = false;
	r->next_seen = false;
	r->seg++;
}

int tsdb_wal_reader_next(struct tsdb_wal_reader *r, const void **rec, size_t *len, char *err,
			 size_t errlen)
{
	for (;;) {
		enum wal_scan_rc rc;
		struct stat st;

		if (r->have_batch && r->cur < r->sr.nrecs) {
			const struct wal_rec_ref *ref = &r->sr.recs[r->cur++];

			*rec = r->sr.batch.data + ref->off;
			*len = ref->len;
			return 1;
		}
		r->have_batch = false;
		if (!r->open) {
			int o = open_current(r, err, errlen);

			if (o <= 0)
				return o;
		}
		r->sr.live = !r->next_seen;
		rc = wal_seg_next(&r->sr, err, errlen);
		if (rc == WAL_SCAN_BATCH) {
			r->have_batch = true;
			r->auto_first = false;
			r->cur = 0;
			continue;
		}
		if (rc == WAL_SCAN_ERR)
			return -1;
		if (rc == WAL_SCAN_CORRUPT)
			return WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT,
					"WAL corruption in segment %s/%08d at offset %lld: %s",
					r->dir, r->seg, (long long)r->sr.bad_off, r->sr.why);
		if (r->next_seen) {
			if (rc == WAL_SCAN_PARTIAL)
				return WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT,
						"WAL segment %s/%08d ends inside a batch at offset %lld",
						r->dir, r->seg, (long long)r->sr.batch_end);
			switch_segment(r);
			continue;
		}
		/* The writer creates seg + 1 only after its last write to seg, so once it
		 * exists, one more pass over seg sees everything seg will ever hold. */
		if (segment_exists(r->dir, r->seg + 1)) {
			r->next_seen = true;
			continue;
		}
		if (fstat(r->sr.fd, &st) < 0)
			return WAL_FAIL(err, errlen, -1, "stat WAL segment %08d: %s", r->seg,
					strerror(errno));
		if (st.st_nlink == 0)
			return WAL_FAIL(err, errlen, TSDB_WAL_EGONE,
					"WAL segment %s/%08d was deleted under the reader", r->dir,
					r->seg);
		/* The writer cut back batches it could not make durable (failed fsync). */
		if (st.st_size < r->sr.batch_end)
			return WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT,
					"WAL segment %s/%08d shrank below the reader (%lld < %lld)",
					r->dir, r->seg, (long long)st.st_size,
					(long long)r->sr.batch_end);
		return 0;
	}
}
