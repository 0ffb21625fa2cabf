/*
 * The index file, format version 2 (Prometheus' tsdb/docs/format/index.md), written
 * in one pass from what the block writer collected:
 *
 *   magic, version | symbols | series ... | label indices | postings | label offset
 *   table | postings offset table | TOC
 *
 * Every section is `len <4b> | body | CRC32C(body) <4b>` except series entries, whose
 * length is a uvarint. Series are 16-byte aligned and their id is offset / 16, so
 * postings lists hold 4-byte ids; label indices and postings lists are 4-byte aligned.
 * Postings: the writer counted the series of every label pair, so each pair gets its
 * stretch of one id array before the series are written, and ids land there in
 * series order (which is ascending); pairs are sorted by symbol numbers, which are
 * in string order. The first postings list is the all-series list under the empty
 * name and value, as readers expect. Writes go through one buffer; the file is
 * fsynced before the function returns.
 *
 * Dense blocks get lgtm's own index (version byte BLOCK_INDEX_DENSE), since nothing
 * but lgtm reads their chunks anyway. Prometheus' layout costs a block ~65 bytes a
 * series: entries padded to 16 bytes with a CRC each, the first chunk's time in full,
 * two symbol numbers a label, and four bytes a series in each postings list. With
 * every series repeated in every block, that was a third of a dense block. Ours:
 *
 *   magic, 0x81 | symbols (as v2) | series | postings | postings offset table | TOC
 *   series:   len <4b> | base <8b> | entries | CRC32C; an entry is
 *             uvarint len | uvarint nlabels | uvarint pair number x nlabels |
 *             chunk metas as v2 but the first mint as uvarint mint - base
 *             and its id is its offset in the file (no alignment)
 *   postings: len <4b> | lists | CRC32C; a list is uvarint n | uvarint first id |
 *             uvarint id - previous id x (n - 1); the all-series list first
 *   table:    len <4b> | count <4b> | uvarint offset of the all-series list |
 *             per pair, in (name, value) order: uvarint name symbol | uvarint value
 *             symbol | uvarint list offset | CRC32C
 * A label is the number of its pair in the table (pairs are the postings lists, so
 * the reader already holds them); TOC entries 2 and 3 (label indices, which no lgtm
 * reader uses) are 0. base is the block's mint. About 30 bytes a series.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/wal.h"

/* The write buffer is flushed before it would reach this, so it never grows past it
 * (small: it is in the RSS of every block write, see CHUNK_FLUSH). */
#define FLUSH_AT (64u << 10)
#define MAX_INDEX_BYTES (16ull * UINT32_MAX)
#define MAX_DENSE_INDEX_BYTES ((uint64_t)UINT32_MAX) /* series ids are offsets */

struct fw {
	int fd;
	struct buf b;
	uint64_t pos;
	int err; /* errno of the first failure; ENOMEM for the buffer */
};

static void fw_write(struct fw *f, const char *p, size_t len)
{
	size_t off = 0;

	while (!f->err && off < len) {
		ssize_t n = write(f->fd, p + off, len - off);

		if (n < 0 && errno != EINTR)
			f->err = errno;
		else if (n > 0)
			off += (size_t)n;
	}
}

static void fw_flush(struct fw *f)
{
	if (f->b.oom && !f->err)
		f->err = ENOMEM;
	fw_write(f, f->b.data, f->b.len);
	buf_reset(&f->b);
}

/* Large pieces (a section body) go straight to the file instead of through the
 * buffer, which would otherwise grow to the largest section. */
static void fw_put(struct fw *f, const void *p, size_t n)
{
	f->pos += n;
	if (n >= FLUSH_AT / 2) {
		fw_flush(f);
		fw_write(f, p, n);
		return;
	}
	if (f->b.len + n >= FLUSH_AT)
		fw_flush(f);
	buf_append(&f->b, p, n);
	if (f->b.oom)
		fw_flush(f);
}

static void fw_pad(struct fw *f, unsigned align)
{
	static const char zeros[16];

	if (f->pos % align)
		fw_put(f, zeros, align - f->pos % align);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* `len <4b> | body | CRC32C(body)`. */
static void fw_section(struct fw *f, const struct buf *body)
{
	uint8_t be[4];

	if (body->oom) {
		f->err = f->err ? f->err : ENOMEM;
		return;
	}
	be32(be, (uint32_t)body->len);
	fw_put(f, be, 4);
	fw_put(f, body->data, body->len);
	be32(be, tsdb_wal_crc32c(0, body->data, body->len));
	fw_put(f, be, 4);
}

/* A section written piece by piece: its length is patched in at the end. */
struct sec {
	uint64_t start;
	uint32_t crc;
};

static void sec_begin(struct fw *f, struct sec *s)
{
	s->start = f->pos;
	s->crc = 0;
	fw_put(f, "\0\0\0\0", 4);
}

static void sec_put(struct fw *f, struct sec *s, const void *p, size_t n)
{
	s->crc = tsdb_wal_crc32c(s->crc, p, n);
	fw_put(f, p, n);
}

static void sec_end(struct fw *f, struct sec *s)
{
	uint64_t len = f->pos - s->start - 4;
	uint8_t be[4];

	be32(be, s->crc);
	fw_put(f, be, 4);
	fw_flush(f);
	if (len > UINT32_MAX && !f->err)
		f->err = EFBIG;
	be32(be, (uint32_t)len);
	if (!f->err && pwrite(f->fd, be, 4, (off_t)s->start) != 4)
		f->err = errno ? errno : EIO;
}

/* What the index writer accumulates between sections. */
/* The writer's series records: its buffer, or its scratch file mapped. */
struct records {
	const uint8_t *p;
	size_t len;
	void *map;     /* to unmap, or NULL */
	size_t dropped; /* bytes at p whose pages were dropped */
};

struct ixw {
	const struct tsdb_block_writer *w;
	bool dense;
	struct records rec;
	struct fw f;
	struct buf body;
	uint64_t toc[6]; /* symbols, series, label indices, label table, postings, postings table */
	uint32_t *ids;             /* series ids in order: the all-series list */
	struct tsdb_wpair **order; /* the pairs by name, then value (symbol numbers) */
	uint32_t *post;            /* the pairs' series ids, list after list in `order` */
	struct buf ltable, ptable; /* bodies of the two offset tables, without their count */
	uint32_t nltable, nptable;
};

static void write_symbols(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;

	x->toc[0] = x->f.pos;
	buf_reset(&x->body);
	tsdb_put_be32(&x->body, (uint32_t)w->nstr);
	for (size_t i = 0; i < w->nstr; i++)
		tsdb_put_uvarint_str(&x->body, w->strv[i]->s, w->strv[i]->len);
	fw_section(&x->f, &x->body);
}

/* The chunk metas of a series record with the first mint from the block's mint, as
 * the dense index stores them. */
static int rebase_metas(struct ixw *x, const uint8_t *metas, size_t len)
{
	struct tsdb_dec d = { metas, metas + len, false };
	uint64_t n = tsdb_dec_uvarint(&d);
	int64_t mint = n ? tsdb_dec_varint(&d) : 0;

	if (d.bad || (n && mint < x->w->mint))
		return -1;
	tsdb_put_uvarint(&x->body, n);
	if (n)
		tsdb_put_uvarint(&x->body, (uint64_t)mint - (uint64_t)x->w->mint);
	buf_append(&x->body, d.p, (size_t)(d.end - d.p));
	return 0;
}

/* One series record (block_internal.h) as an index entry's body; its id goes to the
 * postings of each of its pairs. */
static int encode_series(struct ixw *x, struct tsdb_dec *d, uint32_t id)
{
	const struct tsdb_block_writer *w = x->w;
	uint64_t nls = tsdb_dec_uvarint(d), mlen;
	const uint8_t *metas;

	buf_reset(&x->body);
	tsdb_put_uvarint(&x->body, nls);
	for (uint64_t k = 0; k < nls && !d->bad; k++) {
		uint64_t pn = tsdb_dec_uvarint(d);
		struct tsdb_wpair *p;

		if (pn >= w->npair)
			return -1;
		p = w->pairv[pn];
		if (x->dense) {
			tsdb_put_uvarint(&x->body, p->rank);
		} else {
			tsdb_put_uvarint(&x->body, p->name->sym);
			tsdb_put_uvarint(&x->body, p->value->sym);
		}
		x->post[p->at++] = id;
	}
	mlen = tsdb_dec_uvarint(d);
	metas = tsdb_dec_bytes(d, (size_t)mlen);
	if (d->bad)
		return -1;
	if (x->dense)
		return rebase_metas(x, metas, (size_t)mlen);
	buf_append(&x->body, metas, (size_t)mlen);
	return 0;
}

/* Records read between two drops of the mapping's pages: they are read once, in
 * order, and the kernel's fault-around maps ahead of the reader. */
#define RECORDS_RELEASE (256u << 10)

static int records_open(const struct tsdb_block_writer *w, struct records *r)
{
	void *m;

	*r = (struct records){ (const uint8_t *)w->series.data, w->series.len, NULL, 0 };
	if (w->rfd < 0 || w->rlen == 0)
		return 0;
	m = mmap(NULL, w->rlen, PROT_READ, MAP_SHARED, w->rfd, 0);
	if (m == MAP_FAILED)
		return -1;
	*r = (struct records){ m, w->rlen, m, 0 };
	return 0;
}

/* The index writer has read the records up to `at`. */
static void records_read(struct records *r, const uint8_t *at)
{
	size_t upto = (size_t)(at - r->p) & ~(size_t)4095;

	if (!r->map || upto < r->dropped + RECORDS_RELEASE)
		return;
	madvise(r->map, upto, MADV_DONTNEED);
	r->dropped = upto;
}

static void records_close(struct records *r)
{
	if (r->map)
		munmap(r->map, r->len);
	r->map = NULL;
}

/* Dense: one section, entries back to back, ids their offsets. */
static int write_series_dense(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;
	struct tsdb_dec d = { x->rec.p, x->rec.p + x->rec.len, false };
	struct buf len = { 0 };
	struct sec sec;
	int rc = 0;

	x->toc[1] = x->f.pos;
	sec_begin(&x->f, &sec);
	buf_reset(&len);
	tsdb_put_be64(&len, (uint64_t)w->mint);
	sec_put(&x->f, &sec, len.data, len.len);
	for (uint64_t i = 0; i < w->nser && rc == 0; i++) {
		if (x->f.pos > UINT32_MAX) {
			rc = -1;
			break;
		}
		x->ids[i] = (uint32_t)x->f.pos;
		rc = encode_series(x, &d, x->ids[i]);
		records_read(&x->rec, d.p);
		buf_reset(&len);
		tsdb_put_uvarint(&len, x->body.len);
		sec_put(&x->f, &sec, len.data, len.len);
		sec_put(&x->f, &sec, x->body.data, x->body.len);
	}
	sec_end(&x->f, &sec);
	rc = rc == 0 && (len.oom || x->body.oom) ? -1 : rc;
	buf_free(&len);
	return rc;
}

static int write_series(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;
	struct tsdb_dec d = { x->rec.p, x->rec.p + x->rec.len, false };
	struct buf len = { 0 };
	int rc = 0;

	x->toc[1] = x->f.pos;
	for (uint64_t i = 0; i < w->nser && rc == 0; i++) {
		fw_pad(&x->f, BLOCK_SERIES_ALIGN);
		if (x->f.pos / BLOCK_SERIES_ALIGN > UINT32_MAX) {
			rc = -1;
			break;
		}
		x->ids[i] = (uint32_t)(x->f.pos / BLOCK_SERIES_ALIGN);
		rc = encode_series(x, &d, x->ids[i]);
		records_read(&x->rec, d.p);
		buf_reset(&len);
		tsdb_put_uvarint(&len, x->body.len);
		tsdb_put_be32(&x->body, tsdb_wal_crc32c(0, x->body.data, x->body.len));
		fw_put(&x->f, len.data, len.len);
		fw_put(&x->f, x->body.data, x->body.len);
	}
	buf_free(&len);
	return rc;
}

/* One label index per name: its values' symbol numbers. */
static void write_label_indices(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;

	x->toc[2] = x->f.pos;
	for (size_t i = 0; i < w->npair;) {
		const struct tsdb_wstr *name = x->order[i]->name;
		uint32_t nvals = 0;

		fw_pad(&x->f, 4);
		tsdb_put_uvarint(&x->ltable, 1);
		tsdb_put_uvarint_str(&x->ltable, name->s, name->len);
		tsdb_put_uvarint(&x->ltable, x->f.pos);
		x->nltable++;
		buf_reset(&x->body);
		tsdb_put_be32(&x->body, 1);
		tsdb_put_be32(&x->body, 0); /* patched below */
		for (; i < w->npair && x->order[i]->name == name; i++, nvals++)
			tsdb_put_be32(&x->body, x->order[i]->value->sym);
		if (!x->body.oom)
			be32((uint8_t *)x->body.data + 4, nvals);
		fw_section(&x->f, &x->body);
	}
}

static void posting_entry(struct ixw *x, const char *name, size_t nl, const char *value,
			  size_t vl)
{
	tsdb_put_uvarint(&x->ptable, 2);
	tsdb_put_uvarint_str(&x->ptable, name, nl);
	tsdb_put_uvarint_str(&x->ptable, value, vl);
	tsdb_put_uvarint(&x->ptable, x->f.pos);
	x->nptable++;
}

static void write_postings(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;

	x->toc[4] = x->f.pos;
	fw_pad(&x->f, 4);
	posting_entry(x, "", 0, "", 0);
	buf_reset(&x->body);
	tsdb_put_be32(&x->body, (uint32_t)w->nser);
	for (uint64_t i = 0; i < w->nser; i++)
		tsdb_put_be32(&x->body, x->ids[i]);
	fw_section(&x->f, &x->body);
	for (size_t i = 0; i < w->npair; i++) {
		const struct tsdb_wpair *p = x->order[i];
		const uint32_t *ids = x->post + (p->at - p->n); /* at is past its list now */

		fw_pad(&x->f, 4);
		posting_entry(x, p->name->s, p->name->len, p->value->s, p->value->len);
		buf_reset(&x->body);
		tsdb_put_be32(&x->body, p->n);
		for (uint32_t k = 0; k < p->n; k++)
			tsdb_put_be32(&x->body, ids[k]);
		fw_section(&x->f, &x->body);
	}
}

/* One list of the dense postings section: count, first id, deltas. */
static void dense_list(struct fw *f, struct sec *sec, struct buf *b, const uint32_t *ids,
		       uint32_t n)
{
	buf_reset(b);
	tsdb_put_uvarint(b, n);
	for (uint32_t k = 0; k < n; k++)
		tsdb_put_uvarint(b, ids[k] - (k ? ids[k - 1] : 0));
	if (b->oom && !f->err)
		f->err = ENOMEM;
	sec_put(f, sec, b->data, b->len);
}

/* Dense: every list in one section, and the table of pairs as symbol numbers. */
static void write_postings_dense(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;
	struct sec sec;

	x->toc[4] = x->f.pos;
	sec_begin(&x->f, &sec);
	tsdb_put_uvarint(&x->ptable, x->f.pos);
	dense_list(&x->f, &sec, &x->body, x->ids, (uint32_t)w->nser);
	for (size_t i = 0; i < w->npair; i++) {
		const struct tsdb_wpair *p = x->order[i];

		tsdb_put_uvarint(&x->ptable, p->name->sym);
		tsdb_put_uvarint(&x->ptable, p->value->sym);
		tsdb_put_uvarint(&x->ptable, x->f.pos);
		x->nptable++;
		dense_list(&x->f, &sec, &x->body, x->post + (p->at - p->n), p->n);
	}
	sec_end(&x->f, &sec);
}

/* An offset table: `len | count | entries | CRC`. */
static void write_table(struct ixw *x, const struct buf *entries, uint32_t n)
{
	buf_reset(&x->body);
	tsdb_put_be32(&x->body, n);
	buf_append(&x->body, entries->data, entries->len);
	fw_section(&x->f, &x->body);
}

static void write_toc(struct ixw *x)
{
	buf_reset(&x->body);
	for (int i = 0; i < 6; i++)
		tsdb_put_be64(&x->body, x->toc[i]);
	if (!x->body.oom)
		tsdb_put_be32(&x->body, tsdb_wal_crc32c(0, x->body.data, x->body.len));
	fw_put(&x->f, x->body.data, x->body.len);
}

static int write_dense(struct ixw *x)
{
	static const uint8_t header[] = { 0xba, 0xaa, 0xd7, 0x00, BLOCK_INDEX_DENSE };

	fw_put(&x->f, header, sizeof(header));
	write_symbols(x);
	if (write_series_dense(x) < 0)
		return -1;
	write_postings_dense(x);
	x->toc[5] = x->f.pos;
	write_table(x, &x->ptable, x->nptable);
	write_toc(x);
	fw_flush(&x->f);
	return x->f.pos > MAX_DENSE_INDEX_BYTES ? -1 : 0;
}

static int write_all(struct ixw *x)
{
	static const uint8_t header[] = { 0xba, 0xaa, 0xd7, 0x00, BLOCK_INDEX_V2 };

	if (x->dense)
		return write_dense(x);
	fw_put(&x->f, header, sizeof(header));
	write_symbols(x);
	if (write_series(x) < 0)
		return -1;
	write_label_indices(x);
	write_postings(x);
	x->toc[3] = x->f.pos;
	write_table(x, &x->ltable, x->nltable);
	x->toc[5] = x->f.pos;
	write_table(x, &x->ptable, x->nptable);
	write_toc(x);
	fw_flush(&x->f);
	return x->f.pos > MAX_INDEX_BYTES ? -1 : 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct tsdb_wpair *x = *(struct tsdb_wpair *const *)a;
	const struct tsdb_wpair *y = *(struct tsdb_wpair *const *)b;

	if (x->name->sym != y->name->sym)
		return x->name->sym < y->name->sym ? -1 : 1;
	return x->value->sym < y->value->sym ? -1 : x->value->sym > y->value->sym;
}

/* Sort the pairs and give each its stretch of the postings array. */
static int plan_postings(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;
	uint64_t at = 0;

	x->ids = malloc((w->nser + 1) * sizeof(*x->ids));
	x->order = malloc((w->npair + 1) * sizeof(*x->order));
	x->post = malloc((w->nlabels + 1) * sizeof(*x->post));
	if (!x->ids || !x->order || !x->post)
		return -1;
	memcpy(x->order, w->pairv, w->npair * sizeof(*x->order));
	qsort(x->order, w->npair, sizeof(*x->order), cmp_pair);
	for (size_t i = 0; i < w->npair; i++) {
		x->order[i]->at = at;
		x->order[i]->rank = (uint32_t)i;
		at += x->order[i]->n;
	}
	return at == w->nlabels ? 0 : -1;
}

int tsdb_block_index_write(const struct tsdb_block_writer *w, const char *path, char *err,
			   size_t errlen)
{
	struct ixw x = { .w = w, .dense = w->enc == TSDB_BLOCK_DENSE, .f = { .fd = -1 } };
	int rc = TSDB_EFAIL;

	if (plan_postings(&x) < 0) {
		snprintf(err, errlen, "out of memory writing %s", path);
		goto out;
	}
	if (records_open(w, &x.rec) < 0) {
		snprintf(err, errlen, "map the series records for %s: %s", path, strerror(errno));
		goto out;
	}
	x.f.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (x.f.fd < 0) {
		snprintf(err, errlen, "create %s: %s", path, strerror(errno));
		goto out;
	}
	if (write_all(&x) < 0 && !x.f.err) {
		snprintf(err, errlen, "%s: index exceeds %s or its series records are damaged",
			 path, x.dense ? "4 GiB" : "64 GiB");
		goto out;
	}
	if (x.body.oom || x.ltable.oom || x.ptable.oom)
		x.f.err = ENOMEM;
	if (!x.f.err && fsync(x.f.fd) < 0)
		x.f.err = errno;
	if (x.f.err) {
		snprintf(err, errlen, "write %s: %s", path, strerror(x.f.err));
		goto out;
	}
	rc = 0;
out:
	records_close(&x.rec);
	if (x.f.fd >= 0)
		close(x.f.fd);
	buf_free(&x.f.b);
	buf_free(&x.body);
	buf_free(&x.ltable);
	buf_free(&x.ptable);
	free(x.ids);
	free(x.order);
	free(x.post);
	return rc;
}
