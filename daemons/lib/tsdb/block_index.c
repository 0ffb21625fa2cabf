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
 * Postings come from (name, value, id) triples sorted once: symbols are numbered in
 * string order, so sorting by symbol numbers sorts by strings, and ids grow with the
 * series' label order. The first postings list is the all-series list under the empty
 * name and value, as readers expect. Writes go through one buffer; the file is
 * fsynced before the function returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/wal.h"

#define FLUSH_AT (1u << 20)
#define MAX_INDEX_BYTES (16ull * UINT32_MAX)

struct fw {
	int fd;
	struct buf b;
	uint64_t pos;
	int err; /* errno of the first failure; ENOMEM for the buffer */
};

static void fw_flush(struct fw *f)
{
	size_t off = 0;

	if (f->b.oom && !f->err)
		f->err = ENOMEM;
	while (!f->err && off < f->b.len) {
		ssize_t n = write(f->fd, f->b.data + off, f->b.len - off);

		if (n < 0 && errno != EINTR)
			f->err = errno;
		else if (n > 0)
			off += (size_t)n;
	}
	buf_reset(&f->b);
}

static void fw_put(struct fw *f, const void *p, size_t n)
{
	buf_append(&f->b, p, n);
	f->pos += n;
	if (f->b.len >= FLUSH_AT || f->b.oom)
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

static uint32_t sym(const char *s)
{
	return TSDB_CONTAINER_OF(s, struct tsdb_wstr, s)->sym;
}

struct triple {
	uint32_t name, value, id;
};

static int cmp_triple(const void *a, const void *b)
{
	const struct triple *x = a, *y = b;

	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* What the index writer accumulates between sections. */
struct ixw {
	const struct tsdb_block_writer *w;
	struct fw f;
	struct buf body;
	uint64_t toc[6]; /* symbols, series, label indices, label table, postings, postings table */
	uint32_t *ids;    /* series ids in order */
	struct triple *tr;
	size_t ntr;
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

static void encode_series(struct buf *b, const struct tsdb_block_writer *w,
			  const struct tsdb_wseries *s)
{
	const struct tsdb_wchunk *c = &w->chk[s->first];

	tsdb_put_uvarint(b, s->nls);
	for (uint32_t i = 0; i < s->nls; i++) {
		tsdb_put_uvarint(b, sym(s->ls[i].name));
		tsdb_put_uvarint(b, sym(s->ls[i].value));
	}
	tsdb_put_uvarint(b, s->nchunks);
	tsdb_put_varint(b, c[0].mint);
	tsdb_put_uvarint(b, (uint64_t)(c[0].maxt - c[0].mint));
	tsdb_put_uvarint(b, c[0].ref);
	for (uint32_t i = 1; i < s->nchunks; i++) {
		tsdb_put_uvarint(b, (uint64_t)(c[i].mint - c[i - 1].maxt));
		tsdb_put_uvarint(b, (uint64_t)(c[i].maxt - c[i].mint));
		tsdb_put_varint(b, (int64_t)(c[i].ref - c[i - 1].ref));
	}
}

static int write_series(struct ixw *x)
{
	const struct tsdb_block_writer *w = x->w;
	struct buf len = { 0 };
	size_t t = 0;

	x->toc[1] = x->f.pos;
	for (size_t i = 0; i < w->nser; i++) {
		const struct tsdb_wseries *s = &w->ser[i];
		uint32_t crc;

		fw_pad(&x->f, BLOCK_SERIES_ALIGN);
		if (x->f.pos / BLOCK_SERIES_ALIGN > UINT32_MAX)
			return -1;
		x->ids[i] = (uint32_t)(x->f.pos / BLOCK_SERIES_ALIGN);
		buf_reset(&x->body);
		encode_series(&x->body, w, s);
		buf_reset(&len);
		tsdb_put_uvarint(&len, x->body.len);
		crc = tsdb_wal_crc32c(0, x->body.data, x->body.len);
		tsdb_put_be32(&x->body, crc);
		fw_put(&x->f, len.data, len.len);
		fw_put(&x->f, x->body.data, x->body.len);
		for (uint32_t k = 0; k < s->nls; k++)
			x->tr[t++] = (struct triple){ sym(s->ls[k].name), sym(s->ls[k].value),
						      x->ids[i] };
	}
	buf_free(&len);
	x->ntr = t;
	qsort(x->tr, x->ntr, sizeof(*x->tr), cmp_triple);
	return 0;
}

/* One label index per name: its values' symbol numbers. */
static void write_label_indices(struct ixw *x)
{
	x->toc[2] = x->f.pos;
	for (size_t i = 0; i < x->ntr;) {
		uint32_t name = x->tr[i].name, nvals = 0;

		fw_pad(&x->f, 4);
		tsdb_put_uvarint(&x->ltable, 1);
		tsdb_put_uvarint_str(&x->ltable, x->w->strv[name]->s, x->w->strv[name]->len);
		tsdb_put_uvarint(&x->ltable, x->f.pos);
		x->nltable++;
		buf_reset(&x->body);
		tsdb_put_be32(&x->body, 1);
		tsdb_put_be32(&x->body, 0); /* patched below */
		for (; i < x->ntr && x->tr[i].name == name; i++) {
			if (nvals && x->tr[i].value == x->tr[i - 1].value)
				continue;
			tsdb_put_be32(&x->body, x->tr[i].value);
			nvals++;
		}
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
	for (size_t i = 0; i < w->nser; i++)
		tsdb_put_be32(&x->body, x->ids[i]);
	fw_section(&x->f, &x->body);
	for (size_t i = 0; i < x->ntr;) {
		const struct tsdb_wstr *n = w->strv[x->tr[i].name], *v = w->strv[x->tr[i].value];
		size_t j = i;

		while (j < x->ntr && x->tr[j].name == x->tr[i].name &&
		       x->tr[j].value == x->tr[i].value)
			j++;
		fw_pad(&x->f, 4);
		posting_entry(x, n->s, n->len, v->s, v->len);
		buf_reset(&x->body);
		tsdb_put_be32(&x->body, (uint32_t)(j - i));
		for (; i < j; i++)
			tsdb_put_be32(&x->body, x->tr[i].id);
		fw_section(&x->f, &x->body);
	}
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

static int write_all(struct ixw *x)
{
	static const uint8_t header[] = { 0xba, 0xaa, 0xd7, 0x00, BLOCK_INDEX_V2 };

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

int tsdb_block_index_write(const struct tsdb_block_writer *w, const char *path, char *err,
			   size_t errlen)
{
	struct ixw x = { .w = w, .f = { .fd = -1 } };
	size_t ntr = 0;
	int rc = TSDB_EFAIL;

	for (size_t i = 0; i < w->nser; i++)
		ntr += w->ser[i].nls;
	x.ids = malloc((w->nser + 1) * sizeof(*x.ids));
	x.tr = malloc((ntr + 1) * sizeof(*x.tr));
	if (!x.ids || !x.tr) {
		snprintf(err, errlen, "out of memory writing %s", path);
		goto out;
	}
	x.f.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (x.f.fd < 0) {
		snprintf(err, errlen, "create %s: %s", path, strerror(errno));
		goto out;
	}
	if (write_all(&x) < 0 && !x.f.err) {
		snprintf(err, errlen, "%s: index exceeds 64 GiB", path);
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
	if (x.f.fd >= 0)
		close(x.f.fd);
	buf_free(&x.f.b);
	buf_free(&x.body);
	buf_free(&x.ltable);
	buf_free(&x.ptable);
	free(x.ids);
	free(x.tr);
	return rc;
}
