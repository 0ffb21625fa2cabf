/*
 * Writing a block. Chunks stream to chunks/NNNNNN as series arrive (series come in
 * label order, so chunk references grow as Prometheus' index writer requires); what
 * the index needs stays in memory, compactly (block_internal.h): strings and label
 * pairs once per block (which also yields the symbol table and the postings lists),
 * and per series a short byte record of pair numbers and pre-encoded chunk metas. The
 * records go on to an unlinked scratch file in the block's directory past
 * RECORDS_SPILL bytes, and the index writer reads them back through a mapping: an 18 h
 * compaction of 50 000 series held ~3 MiB of them, most of its memory.
 * Chunks are converted to the writer's encoding (block.h) on the way. The commit
 * writes index, tombstones and meta.json, fsyncs every file and both directories,
 * then renames <ULID>.tmp-for-creation to <ULID>.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/wal.h"

/* The chunk buffer is flushed before it would reach this, so it never grows past it
 * (64 KiB writes cost no measurable time; the buffer is in the RSS of every block
 * write and compaction). */
#define CHUNK_FLUSH (64u << 10)

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory writing a block");
	return TSDB_EFAIL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Write all of b to fd; 0, or -1 with errno. */
static int write_buf(int fd, const struct buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(fd, b->data + off, b->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* --- chunk segments ------------------------------------------------------------------- */

static int chunk_flush(struct tsdb_block_writer *w, char *err, size_t errlen)
{
	if (w->cbuf.oom)
		return oom(err, errlen);
	if (write_buf(w->cfd, &w->cbuf) < 0) {
		snprintf(err, errlen, "write chunk segment %06u in %s: %s", w->cseq + 1, w->tmpdir,
			 strerror(errno));
		return TSDB_EFAIL;
	}
	buf_reset(&w->cbuf);
	return 0;
}

/* --- series records ----------------------------------------------------------------- */

/* Records kept in memory before they go to the scratch file. */
#define RECORDS_SPILL (64u << 10)

static int open_records(struct tsdb_block_writer *w)
{
	char path[4096];

	w->rfd = open(w->tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (w->rfd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return w->rfd;
	/* No O_TMPFILE here: a named file, unlinked at once. */
	snprintf(path, sizeof(path), "%s/series.tmp", w->tmpdir);
	w->rfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->rfd >= 0)
		unlink(path);
	return w->rfd;
}

/* Move the records in memory to the scratch file. */
static int spill_records(struct tsdb_block_writer *w, char *err, size_t errlen)
{
	if ((w->rfd < 0 && open_records(w) < 0) || write_buf(w->rfd, &w->series) < 0) {
		snprintf(err, errlen, "write series records in %s: %s", w->tmpdir,
			 strerror(errno));
		return TSDB_EFAIL;
	}
	w->rlen += w->series.len;
	buf_reset(&w->series);
	return 0;
}

/* Flush, fsync and close the current segment (if any). */
static int chunk_close(struct tsdb_block_writer *w, char *err, size_t errlen)
{
	int rc;

	if (w->cfd < 0)
		return 0;
	rc = chunk_flush(w, err, errlen);
	if (rc == 0 && fsync(w->cfd) < 0) {
		snprintf(err, errlen, "fsync chunk segment in %s: %s", w->tmpdir, strerror(errno));
		rc = TSDB_EFAIL;
	}
	close(w->cfd);
	w->cfd = -1;
	return rc;
}

static int chunk_open(struct tsdb_block_writer *w, uint32_t seq, char *err, size_t errlen)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/chunks/%06u", w->tmpdir, seq + 1);
	w->cfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->cfd < 0) {
		snprintf(err, errlen, "create %s: %s", path, strerror(errno));
		return TSDB_EFAIL;
	}
	w->cseq = seq;
	tsdb_put_be32(&w->cbuf, BLOCK_CHUNKS_MAGIC);
	buf_append(&w->cbuf, "\x01\0\0\0", 4); /* version 1, 3 bytes of padding */
	w->coff = BLOCK_CHUNKS_HEADER;
	return 0;
}

/* Append one chunk (enc: its encoding byte); *ref gets its reference. */
static int chunk_write(struct tsdb_block_writer *w, const uint8_t *data, size_t len,
		       uint8_t enc, uint64_t *ref, char *err, size_t errlen)
{
	size_t need = tsdb_uvarint_len(len) + 1 + len + 4;
	uint32_t crc;

	if (need > TSDB_BLOCK_CHUNK_SEGMENT_MAX - BLOCK_CHUNKS_HEADER) {
		snprintf(err, errlen, "chunk of %zu bytes is too large", len);
		return TSDB_EFAIL;
	}
	if (w->cfd < 0 || w->coff + need > TSDB_BLOCK_CHUNK_SEGMENT_MAX) {
		uint32_t next = w->cfd < 0 ? 0 : w->cseq + 1;

		if (chunk_close(w, err, errlen) < 0 || chunk_open(w, next, err, errlen) < 0)
			return TSDB_EFAIL;
	}
	if (w->cbuf.len + need >= CHUNK_FLUSH && chunk_flush(w, err, errlen) < 0)
		return TSDB_EFAIL;
	*ref = (uint64_t)w->cseq << 32 | w->coff;
	crc = tsdb_wal_crc32c(tsdb_wal_crc32c(0, &enc, 1), data, len);
	tsdb_put_uvarint(&w->cbuf, len);
	buf_putc(&w->cbuf, (char)enc);
	buf_append(&w->cbuf, data, len);
	tsdb_put_be32(&w->cbuf, crc);
	w->coff += need;
	return w->cbuf.oom ? chunk_flush(w, err, errlen) : 0;
}

/* --- series and strings --------------------------------------------------------------- */

static bool wstr_eq(const void *e, const void *arg)
{
	return strcmp(((const struct tsdb_wstr *)e)->s, arg) == 0;
}

static struct tsdb_wstr *intern(struct tsdb_block_writer *w, const char *s)
{
	uint64_t h = tsdb_hash_str(s);
	struct tsdb_wstr *e = tsdb_ptab_find(&w->strs, h, wstr_eq, s);
	size_t len;

	if (e)
		return e;
	len = strlen(s);
	if (len > UINT32_MAX || w->nstr >= UINT32_MAX ||
	    tsdb_grow((void **)&w->strv, &w->capstr, w->nstr + 1, sizeof(*w->strv)) < 0)
		return NULL;
	e = arena_alloc(w->a, sizeof(*e) + len + 1);
	if (!e || tsdb_ptab_insert(&w->strs, h, e) < 0)
		return NULL;
	e->id = (uint32_t)w->nstr;
	e->len = (uint32_t)len;
	memcpy(e->s, s, len + 1);
	w->strv[w->nstr++] = e;
	return e;
}

/* The pair's number (found or added), or -1 when out of memory. */
static int64_t pair_of(struct tsdb_block_writer *w, const struct label *l)
{
	struct tsdb_wstr *n = intern(w, l->name), *v = n ? intern(w, l->value) : NULL;
	uint64_t key;
	struct tsdb_wpair *p;

	if (!v)
		return -1;
	key = (uint64_t)n->id << 32 | v->id;
	p = tsdb_ptab_find(&w->pairs, key, NULL, NULL);
	if (!p) {
		if (tsdb_grow((void **)&w->pairv, &w->cappair, w->npair + 1, sizeof(*w->pairv)) < 0)
			return -1;
		p = arena_calloc(w->a, 1, sizeof(*p));
		if (!p || tsdb_ptab_insert(&w->pairs, key, p) < 0)
			return -1;
		p->name = n;
		p->value = v;
		p->num = (uint32_t)w->npair;
		w->pairv[w->npair++] = p;
	}
	p->n++;
	return p->num;
}

static int check_chunks(const struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c,
			size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (c[i].mint > c[i].maxt || c[i].mint < w->mint || c[i].maxt >= w->maxt ||
		    (i > 0 && c[i].mint <= c[i - 1].maxt)) {
			snprintf(err, errlen, "chunk [%lld, %lld] out of order or outside the block [%lld, %lld)",
				 (long long)c[i].mint, (long long)c[i].maxt, (long long)w->mint,
				 (long long)w->maxt);
			return TSDB_EFAIL;
		}
	}
	return 0;
}

static int check_labels(const struct tsdb_block_writer *w, const struct labels *ls, char *err,
			size_t errlen)
{
	struct labels last = { w->prev, w->nprev };

	if (ls->n == 0 || ls->n > UINT16_MAX) {
		snprintf(err, errlen, "a series needs 1 to 65535 labels");
		return TSDB_EFAIL;
	}
	if (w->nser > 0 && labels_compare(ls, &last) <= 0) {
		snprintf(err, errlen, "series added out of label order");
		return TSDB_EFAIL;
	}
	return 0;
}

/* The chunk metas as the index's series entry holds them. */
static void encode_metas(struct buf *b, const struct tsdb_wchunk *c, size_t n)
{
	buf_reset(b);
	tsdb_put_uvarint(b, n);
	tsdb_put_varint(b, c[0].mint);
	tsdb_put_uvarint(b, (uint64_t)(c[0].maxt - c[0].mint));
	tsdb_put_uvarint(b, c[0].ref);
	for (size_t i = 1; i < n; i++) {
		tsdb_put_uvarint(b, (uint64_t)(c[i].mint - c[i - 1].maxt));
		tsdb_put_uvarint(b, (uint64_t)(c[i].maxt - c[i].mint));
		tsdb_put_varint(b, (int64_t)(c[i].ref - c[i - 1].ref));
	}
}

/* Record one series (its chunks are written): labels as pair numbers, then its chunk
 * metas; the label set becomes the one the next series must follow. */
static int add_record(struct tsdb_block_writer *w, const struct labels *ls, size_t nchunks)
{
	tsdb_put_uvarint(&w->series, ls->n);
	if (tsdb_grow((void **)&w->prev, &w->capprev, ls->n, sizeof(*w->prev)) < 0 ||
	    w->npair >= UINT32_MAX)
		return -1;
	for (size_t i = 0; i < ls->n; i++) {
		int64_t p = pair_of(w, &ls->v[i]);

		if (p < 0)
			return -1;
		tsdb_put_uvarint(&w->series, (uint64_t)p);
		w->prev[i] = (struct label){ w->pairv[p]->name->s, w->pairv[p]->value->s };
	}
	w->nprev = ls->n;
	encode_metas(&w->meta, w->tmp, nchunks);
	tsdb_put_uvarint(&w->series, w->meta.len);
	buf_append(&w->series, w->meta.data, w->meta.len);
	if (w->series.oom || w->meta.oom)
		return -1;
	w->nser++;
	w->nlabels += ls->n;
	return 0;
}

/* A dense chunk's samples as an XOR chunk, in w->conv. */
static int dense_to_xor(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c)
{
	struct tsdb_xor_appender app;
	struct tsdb_chunk_iter it;
	uint8_t *data;
	size_t len;
	int rc = 0;
	char e[64];

	tsdb_xor_appender_init(&app);
	tsdb_chunk_iter_init(&it, c);
	while (rc == 0 && tsdb_chunk_iter_next(&it)) {
		int64_t t;
		double v;

		tsdb_chunk_iter_at(&it, &t, &v);
		rc = tsdb_xor_append(&app, t, v, e, sizeof(e));
	}
	if (rc == 0 && tsdb_chunk_iter_corrupt(&it))
		rc = -1;
	data = rc == 0 ? tsdb_xor_appender_finish(&app, &len) : NULL;
	tsdb_xor_appender_free(&app);
	if (!data)
		return -1;
	buf_reset(&w->conv);
	buf_append(&w->conv, data, len);
	free(data);
	return w->conv.oom ? -1 : 0;
}

/* Samples of chunks [i, j) (total of them, timestamps increasing) into w->mt, w->mv;
 * -1 on a corrupt chunk or no memory. */
static int decode_run(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c, size_t i,
		      size_t j, size_t total)
{
	size_t got = 0;

	if (tsdb_grow((void **)&w->mt, &w->capm, total, sizeof(*w->mt)) < 0 ||
	    tsdb_grow((void **)&w->mv, &w->capv, total, sizeof(*w->mv)) < 0)
		return -1;
	for (; i < j; i++) {
		struct tsdb_chunk_iter it;

		tsdb_chunk_iter_init(&it, &c[i]);
		while (got < total && tsdb_chunk_iter_next(&it)) {
			tsdb_chunk_iter_at(&it, &w->mt[got], &w->mv[got]);
			if (got > 0 && w->mt[got] <= w->mt[got - 1])
				return -1;
			got++;
		}
		if (tsdb_chunk_iter_corrupt(&it))
			return -1;
	}
	return got == total ? 0 : -1;
}

/* A dense chunk of the older layout in the current one, in w->conv: 1, or 0 when its
 * meta does not match its samples (it is then copied as it is), -1 when corrupt. */
static int dense_upgrade(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c)
{
	size_t n = tsdb_chunk_samples(c);

	if (n == 0 || decode_run(w, c, 0, 1, n) < 0)
		return -1;
	if (w->mt[0] != c->mint || w->mt[n - 1] != c->maxt)
		return 0;
	buf_reset(&w->conv);
	return tsdb_dense_encode(w->mt, w->mv, n, SIZE_MAX, &w->conv);
}

static uint8_t block_enc(uint8_t enc)
{
	return enc == TSDB_ENC_DENSE2 ? BLOCK_ENC_DENSE2
	       : enc == TSDB_ENC_DENSE ? BLOCK_ENC_DENSE : BLOCK_ENC_XOR;
}

/* The chunk in the writer's encoding: *data, *len and *enc (a byte of the segment
 * format) point at c or at w->conv. A dense writer rewrites dense chunks of the older
 * layout in the current one. */
static int convert(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c,
		   const uint8_t **data, size_t *len, uint8_t *enc)
{
	*data = c->data;
	*len = c->len;
	*enc = block_enc(c->enc);
	if (w->enc == TSDB_BLOCK_DENSE && c->enc != TSDB_ENC_DENSE2) {
		int rc;

		buf_reset(&w->conv);
		if (c->enc == TSDB_ENC_XOR)
			rc = tsdb_dense_from_xor(c->data, c->len, c->mint, c->maxt, &w->conv);
		else
			rc = dense_upgrade(w, c);
		if (rc < 0)
			return -1;
		if (rc == 0) /* not decimals, or no smaller: stays as it is */
			return 0;
		*enc = BLOCK_ENC_DENSE2;
	} else if (w->enc == TSDB_BLOCK_PROMETHEUS && c->enc != TSDB_ENC_XOR) {
		if (dense_to_xor(w, c) < 0)
			return -1;
		*enc = BLOCK_ENC_XOR;
	} else {
		return 0;
	}
	*data = (const uint8_t *)w->conv.data;
	*len = w->conv.len;
	return 0;
}

/* A dense writer stores a run of a series' consecutive chunks as one chunk of up to
 * DENSE_MERGE_MAX samples when that is smaller: each chunk costs a length, an encoding
 * byte, a CRC, its own header (first timestamp, interval, scale, reference value) and
 * an index entry, about 30 bytes, which is a quarter of a byte per sample for a
 * 120-sample chunk of a constant. Compaction thus turns 2 h chunks into longer ones.
 * The cap bounds what a seek into the chunk decodes. */
#define DENSE_MERGE_MAX 512

/* The run of chunks [i, *j) that may merge: consecutive, non-empty, dense once
 * converted, DENSE_MERGE_MAX samples at most; *sep = their bytes written apart. */
static int dense_run(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c, size_t i,
		     size_t n, size_t *j, size_t *total, size_t *sep)
{
	*total = *sep = 0;
	for (*j = i; *j < n; (*j)++) {
		uint16_t k = tsdb_chunk_samples(&c[*j]);
		const uint8_t *data;
		size_t len;
		uint8_t enc;

		if (k == 0 || *total + k > DENSE_MERGE_MAX)
			break;
		if (convert(w, &c[*j], &data, &len, &enc) < 0)
			return -1;
		if (enc != BLOCK_ENC_DENSE2)
			break;
		*total += k;
		*sep += tsdb_uvarint_len(len) + 1 + len + 4;
	}
	return 0;
}

/* Chunks [i, j) as one dense chunk in w->conv if that is smaller than sep bytes
 * written apart: 1 when it is, 0 when not, -1 on a corrupt chunk or no memory. */
static int dense_merge(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c, size_t i,
		       size_t j, size_t total, size_t sep)
{
	if (decode_run(w, c, i, j, total) < 0)
		return -1;
	if (w->mt[0] != c[i].mint || w->mt[total - 1] != c[j - 1].maxt)
		return 0; /* the merged chunk's meta would not match its samples */
	buf_reset(&w->conv);
	/* 6 bytes: the merged chunk's own length, encoding byte and CRC (at most). */
	return sep > 6 ? tsdb_dense_encode(w->mt, w->mv, total, sep - 6, &w->conv) : 0;
}

/* Write chunk c in the writer's encoding as w->tmp[*k]. */
static int write_one(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c, size_t *k,
		     char *err, size_t errlen)
{
	struct tsdb_wchunk *wc = &w->tmp[*k];
	uint16_t samples = tsdb_chunk_samples(c);
	const uint8_t *data;
	size_t len;
	uint8_t enc;

	if (samples == 0)
		return 0;
	if (convert(w, c, &data, &len, &enc) < 0) {
		snprintf(err, errlen, "converting a chunk: corrupt or out of memory");
		return TSDB_EFAIL;
	}
	*wc = (struct tsdb_wchunk){ .mint = c->mint, .maxt = c->maxt };
	if (chunk_write(w, data, len, enc, &wc->ref, err, errlen) < 0)
		return TSDB_EFAIL;
	w->samples += samples;
	(*k)++;
	return 0;
}

/* Write chunks [i, j) merged (dense_merge said so) as w->tmp[*k]. */
static int write_merged(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c, size_t i,
			size_t j, size_t total, size_t *k, char *err, size_t errlen)
{
	struct tsdb_wchunk *wc = &w->tmp[*k];

	*wc = (struct tsdb_wchunk){ .mint = c[i].mint, .maxt = c[j - 1].maxt };
	if (chunk_write(w, (const uint8_t *)w->conv.data, w->conv.len, BLOCK_ENC_DENSE2,
			&wc->ref, err, errlen) < 0)
		return TSDB_EFAIL;
	w->samples += total;
	(*k)++;
	return 0;
}

static int write_chunks(struct tsdb_block_writer *w, const struct tsdb_chunk_meta *c, size_t n,
			size_t *k, char *err, size_t errlen)
{
	size_t i = 0, j, total, sep;
	int rc;

	while (i < n) {
		j = i + 1;
		rc = 0;
		if (w->enc == TSDB_BLOCK_DENSE) {
			if (dense_run(w, c, i, n, &j, &total, &sep) < 0)
				goto bad;
			if (j - i >= 2)
				rc = dense_merge(w, c, i, j, total, sep);
			if (rc < 0)
				goto bad;
			if (rc == 1 && write_merged(w, c, i, j, total, k, err, errlen) < 0)
				return TSDB_EFAIL;
			j = j > i ? j : i + 1;
		}
		for (; rc == 0 && i < j; i++)
			if (write_one(w, &c[i], k, err, errlen) < 0)
				return TSDB_EFAIL;
		i = j;
	}
	return 0;
bad:
	snprintf(err, errlen, "converting a chunk: corrupt or out of memory");
	return TSDB_EFAIL;
}

int tsdb_block_writer_add(struct tsdb_block_writer *w, const struct labels *ls,
			  const struct tsdb_chunk_meta *chunks, size_t n, char *err, size_t errlen)
{
	size_t k = 0;

	if (w->done) {
		snprintf(err, errlen, "block writer already finished");
		return TSDB_EFAIL;
	}
	if (check_labels(w, ls, err, errlen) < 0 || check_chunks(w, chunks, n, err, errlen) < 0)
		return TSDB_EFAIL;
	if (tsdb_grow((void **)&w->tmp, &w->captmp, n + 1, sizeof(*w->tmp)) < 0)
		return oom(err, errlen);
	if (write_chunks(w, chunks, n, &k, err, errlen) < 0)
		return TSDB_EFAIL;
	if (k == 0)
		return 0;
	if (w->tmp[0].mint < w->data_mint)
		w->data_mint = w->tmp[0].mint;
	w->nchk += k;
	if (add_record(w, ls, k) < 0)
		return oom(err, errlen);
	return w->series.len >= RECORDS_SPILL ? spill_records(w, err, errlen) : 0;
}

/* Chunks built from samples, freed by the caller. */
struct built {
	struct tsdb_chunk_meta *c;
	size_t n, cap;
	struct tsdb_xor_appender app;
	int64_t mint;
};

static int seal(struct built *b)
{
	size_t len;
	uint8_t *data;

	if (tsdb_xor_appender_samples(&b->app) == 0)
		return 0;
	if (tsdb_grow((void **)&b->c, &b->cap, b->n + 1, sizeof(*b->c)) < 0)
		return -1;
	b->c[b->n] = (struct tsdb_chunk_meta){ b->mint, b->app.t, NULL, 0, TSDB_ENC_XOR };
	data = tsdb_xor_appender_finish(&b->app, &len);
	if (!data)
		return -1;
	b->c[b->n].data = data;
	b->c[b->n++].len = len;
	return 0;
}

static void built_free(struct built *b)
{
	for (size_t i = 0; i < b->n; i++)
		free((void *)b->c[i].data);
	free(b->c);
	tsdb_xor_appender_free(&b->app);
}

int tsdb_block_writer_add_samples(struct tsdb_block_writer *w, const struct labels *ls,
				  struct tsdb_iterator *it, char *err, size_t errlen)
{
	struct built b = { 0 };
	int rc = TSDB_EFAIL;

	tsdb_xor_appender_init(&b.app);
	while (tsdb_iterator_next(it)) {
		int64_t t;
		double v;

		tsdb_iterator_at(it, &t, &v);
		if (tsdb_xor_appender_samples(&b.app) >= BLOCK_SAMPLES_PER_CHUNK && seal(&b) < 0)
			goto oom;
		if (tsdb_xor_appender_samples(&b.app) == 0)
			b.mint = t;
		if (tsdb_xor_append(&b.app, t, v, err, errlen) < 0)
			goto out;
	}
	if (tsdb_iterator_err(it, err, errlen) < 0)
		goto out;
	if (seal(&b) < 0)
		goto oom;
	rc = tsdb_block_writer_add(w, ls, b.c, b.n, err, errlen);
	goto out;
oom:
	rc = oom(err, errlen);
out:
	built_free(&b);
	return rc;
}

uint64_t tsdb_block_writer_series(const struct tsdb_block_writer *w)
{
	return w->nser;
}

/* --- life cycle ---------------------------------------------------------------------- */

int tsdb_block_parse_encoding(const char *s, enum tsdb_block_encoding *out)
{
	int dense = tsdb_parse_dense(s);

	if (dense < 0)
		return -1;
	*out = dense ? TSDB_BLOCK_DENSE : TSDB_BLOCK_PROMETHEUS;
	return 0;
}

int tsdb_block_writer_new(const char *parent, int64_t mint, int64_t maxt,
			  enum tsdb_block_encoding enc, struct tsdb_block_writer **out,
			  char *err, size_t errlen)
{
	struct tsdb_block_writer *w = calloc(1, sizeof(*w));
	char chunks[4096];

	*out = NULL;
	if (!w)
		return oom(err, errlen);
	w->cfd = -1;
	w->rfd = -1;
	w->enc = enc;
	w->data_mint = INT64_MAX;
	w->mint = mint;
	w->maxt = maxt;
	if (mint >= maxt) {
		snprintf(err, errlen, "empty block range [%lld, %lld)", (long long)mint,
			 (long long)maxt);
		goto fail;
	}
	if (tsdb_ulid_new(now_ms(), w->ulid) < 0) {
		snprintf(err, errlen, "no randomness for a block ULID: %s", strerror(errno));
		goto fail;
	}
	w->a = arena_new(0);
	w->parent = strdup(parent);
	w->tmpdir = malloc(strlen(parent) + TSDB_ULID_LEN + sizeof(BLOCK_TMP_CREATE) + 2);
	if (!w->a || !w->parent || !w->tmpdir) {
		oom(err, errlen);
		goto fail;
	}
	sprintf(w->tmpdir, "%s/%s%s", parent, w->ulid, BLOCK_TMP_CREATE);
	snprintf(chunks, sizeof(chunks), "%s/chunks", w->tmpdir);
	if (mkdir(w->tmpdir, 0755) < 0 || mkdir(chunks, 0755) < 0) {
		snprintf(err, errlen, "create %s: %s", chunks, strerror(errno));
		goto fail;
	}
	*out = w;
	return 0;
fail:
	tsdb_block_writer_free(w);
	return TSDB_EFAIL;
}

void tsdb_block_writer_free(struct tsdb_block_writer *w)
{
	char err[256];

	if (!w)
		return;
	if (w->cfd >= 0)
		close(w->cfd);
	if (w->rfd >= 0)
		close(w->rfd);
	if (!w->done && w->tmpdir)
		tsdb_fs_remove_tree(w->tmpdir, err, sizeof(err));
	buf_free(&w->cbuf);
	tsdb_ptab_free(&w->strs);
	tsdb_ptab_free(&w->pairs);
	arena_free(w->a);
	free(w->strv);
	free(w->pairv);
	buf_free(&w->series);
	buf_free(&w->meta);
	buf_free(&w->conv);
	free(w->mt);
	free(w->mv);
	free(w->prev);
	free(w->tmp);
	free(w->parent);
	free(w->tmpdir);
	free(w);
}

static int cmp_wstr(const void *a, const void *b)
{
	return strcmp((*(struct tsdb_wstr *const *)a)->s, (*(struct tsdb_wstr *const *)b)->s);
}

/* An empty tombstones file: magic, version 1, and the CRC32C of no tombstones. */
static int write_tombstones(const char *dir, char *err, size_t errlen)
{
	static const uint8_t empty[] = { 0x01, 0x30, 0xba, 0x30, 0x01, 0, 0, 0, 0 };
	char path[4096];

	snprintf(path, sizeof(path), "%s/tombstones", dir);
	return tsdb_fs_write_file(path, empty, sizeof(empty), err, errlen);
}

static int fill_meta(struct tsdb_block_writer *w, struct tsdb_block_meta *m)
{
	memcpy(m->ulid, w->ulid, sizeof(m->ulid));
	m->mint = w->mint;
	m->maxt = w->maxt;
	m->num_samples = w->samples;
	m->num_series = w->nser;
	m->num_chunks = w->nchk;
	m->num_tombstones = 0;
	m->encoding = w->enc;
	if (m->level < 1)
		m->level = 1;
	if (m->nsources == 0) {
		m->sources = malloc(sizeof(*m->sources));
		if (!m->sources)
			return -1;
		memcpy(m->sources[0], w->ulid, sizeof(w->ulid));
		m->nsources = 1;
	}
	return 0;
}

static int finish_files(struct tsdb_block_writer *w, struct tsdb_block_meta *meta, char *err,
			size_t errlen)
{
	char path[4096];

	if (chunk_close(w, err, errlen) < 0)
		return TSDB_EFAIL;
	snprintf(path, sizeof(path), "%s/chunks", w->tmpdir);
	if (tsdb_fs_fsync_dir(path, err, errlen) < 0)
		return TSDB_EFAIL;
	qsort(w->strv, w->nstr, sizeof(*w->strv), cmp_wstr);
	for (size_t i = 0; i < w->nstr; i++)
		w->strv[i]->sym = (uint32_t)i;
	snprintf(path, sizeof(path), "%s/index", w->tmpdir);
	if (w->rfd >= 0 && w->series.len && spill_records(w, err, errlen) < 0)
		return TSDB_EFAIL;
	if (tsdb_block_index_write(w, path, err, errlen) < 0 ||
	    write_tombstones(w->tmpdir, err, errlen) < 0)
		return TSDB_EFAIL;
	if (fill_meta(w, meta) < 0)
		return oom(err, errlen);
	return tsdb_block_meta_write(w->tmpdir, meta, err, errlen);
}

int tsdb_block_writer_commit(struct tsdb_block_writer *w, struct tsdb_block_meta *meta,
			     char *err, size_t errlen)
{
	char final[4096];

	if (w->done) {
		snprintf(err, errlen, "block writer already finished");
		return TSDB_EFAIL;
	}
	if (finish_files(w, meta, err, errlen) < 0 ||
	    tsdb_fs_fsync_dir(w->tmpdir, err, errlen) < 0)
		return TSDB_EFAIL;
	snprintf(final, sizeof(final), "%s/%s", w->parent, w->ulid);
	if (rename(w->tmpdir, final) < 0) {
		snprintf(err, errlen, "rename %s: %s", w->tmpdir, strerror(errno));
		return TSDB_EFAIL;
	}
	w->done = true;
	return tsdb_fs_fsync_dir(w->parent, err, errlen);
}
