/*
 * Opening a block: the index and the chunk segments are mapped read-only, and the
 * index is checked in full before anything trusts it (TOC, symbols, every postings
 * list and series entry with their CRC32C, references from series to symbols, chunk
 * references within the segments, sort orders the lookups depend on). What lookups
 * need is decoded once: the symbols (copied out NUL-terminated, so labels can point
 * at them) and the postings offset table (label name -> its sorted values -> postings
 * list offset). Series entries and chunks are read in place from the mappings when
 * queried. The chunk segments themselves are not read at open: a chunk's length,
 * encoding and CRC are checked when a reader resolves it, so opening costs a read of
 * the index, not of the whole block, and the process' resident set holds the chunk
 * pages that queries touched, not every page of every block.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb/block_internal.h"
#include "tsdb/wal.h"

#define CORRUPT(...) (snprintf(err, errlen, __VA_ARGS__), TSDB_EFAIL)

static int map_file(const char *path, const uint8_t **p, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	void *m;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return CORRUPT("open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size == 0) {
		close(fd);
		return CORRUPT("%s: %s", path, st.st_size == 0 ? "empty file" : strerror(errno));
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return CORRUPT("mmap %s: %s", path, strerror(errno));
	*p = m;
	*len = (size_t)st.st_size;
	return 0;
}

/* A `len | body | CRC` section at off: its body, checked. */
static bool section(const struct tsdb_block *b, uint64_t off, const uint8_t **body,
		    uint32_t *len, bool check)
{
	uint32_t n;

	if (off > b->ixlen || b->ixlen - off < 8)
		return false;
	n = tsdb_be32(b->ix + off);
	if ((uint64_t)n + 8 > b->ixlen - off)
		return false;
	*body = b->ix + off + 4;
	*len = n;
	return !check || tsdb_wal_crc32c(0, *body, n) == tsdb_be32(*body + n);
}

/* Validation reads the whole index; its pages leave the process every 256 KiB read,
 * not only at the end: a compacted block's index is several MiB, all of it resident
 * at once otherwise (the peak RSS of a compaction). */
#define VALIDATE_RELEASE (256u << 10)

static void validated(struct tsdb_block *b, size_t n)
{
	b->unreleased += n;
	if (b->unreleased < VALIDATE_RELEASE)
		return;
	b->unreleased = 0;
	madvise((void *)b->ix, b->ixlen, MADV_DONTNEED);
}

/* --- symbols ------------------------------------------------------------------------- */

static int load_symbols(struct tsdb_block *b, uint64_t off, char *err, size_t errlen)
{
	struct tsdb_dec d;
	const uint8_t *body;
	uint32_t len, n;
	char *w;

	if (!section(b, off, &body, &len, true) || len < 4)
		return CORRUPT("symbol table: bad length or checksum");
	d = (struct tsdb_dec){ body + 4, body + len, false };
	n = tsdb_be32(body);
	if (n > len)
		return CORRUPT("symbol table: %u symbols in %u bytes", n, len);
	b->symmem = malloc(len);
	b->syms = malloc(((size_t)n + 1) * sizeof(*b->syms));
	if (!b->symmem || !b->syms)
		return CORRUPT("out of memory reading symbols");
	w = b->symmem;
	for (uint32_t i = 0; i < n; i++) {
		size_t sl;
		const char *s = tsdb_dec_uvarint_str(&d, &sl);

		if (d.bad || memchr(s, 0, sl))
			return CORRUPT("symbol table: symbol %u is malformed", i);
		memcpy(w, s, sl);
		w[sl] = '\0';
		b->syms[i] = w;
		if (i > 0 && strcmp(b->syms[i - 1], w) >= 0)
			return CORRUPT("symbol table: symbols out of order at %u", i);
		w += sl + 1;
	}
	b->nsyms = n;
	return 0;
}

struct strn {
	const char *s;
	size_t n;
};

static int cmp_sym(const void *key, const void *elem)
{
	const struct strn *k = key;
	const char *e = *(const char *const *)elem;
	size_t el = strlen(e);
	int c = memcmp(k->s, e, k->n < el ? k->n : el);

	return c ? c : (k->n > el) - (k->n < el);
}

/* The block's copy of s[0..n), or NULL when it is not a symbol. */
static const char *symbol(const struct tsdb_block *b, const char *s, size_t n)
{
	struct strn k = { s, n };
	const char *const *p = bsearch(&k, b->syms, b->nsyms, sizeof(*b->syms), cmp_sym);

	return p ? *p : NULL;
}

/* --- postings ------------------------------------------------------------------------ */

static bool postings_ok(struct tsdb_block *b, uint64_t off)
{
	const uint8_t *body;
	uint32_t len, n, prev = 0;

	if (!section(b, off, &body, &len, true) || len < 4)
		return false;
	validated(b, len);
	n = tsdb_be32(body);
	if ((uint64_t)n * 4 + 4 != len)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = tsdb_be32(body + 4 + 4 * (size_t)i);

		if ((i > 0 && id <= prev) || (uint64_t)id * BLOCK_SERIES_ALIGN < b->series_lo ||
		    (uint64_t)id * BLOCK_SERIES_ALIGN >= b->series_hi)
			return false;
		prev = id;
	}
	return true;
}

/* Append the pair (symbols) to the lookup tables, checked for order against the
 * previous one: names ascending, and values ascending within a name. */
static int add_pair(struct tsdb_block *b, const char *nsym, const char *vsym, uint64_t off,
		    uint32_t i, char *err, size_t errlen)
{
	struct tsdb_block_name *cur = b->nnames ? &b->names[b->nnames - 1] : NULL;

	if (!cur || strcmp(cur->name, nsym) < 0) {
		cur = &b->names[b->nnames++];
		*cur = (struct tsdb_block_name){ nsym, b->nposts, 0 };
	} else if (cur->name != nsym ||
		   strcmp(b->posts[b->nposts - 1].value, vsym) >= 0) {
		return CORRUPT("postings offset table: entries out of order at %u", i);
	}
	b->posts[b->nposts++] = (struct tsdb_block_posting){ nsym, vsym, off };
	cur->n++;
	return 0;
}

/* The postings offset table's section at off: its entries (count read, each at
 * least `min` bytes) in *d, and room for them in the lookup tables. */
static int open_table(struct tsdb_block *b, uint64_t off, uint32_t min, struct tsdb_dec *d,
		      uint32_t *n, char *err, size_t errlen)
{
	const uint8_t *body;
	uint32_t len;

	if (!section(b, off, &body, &len, true) || len < 4)
		return CORRUPT("postings offset table: bad length or checksum");
	*n = tsdb_be32(body);
	if ((uint64_t)*n * min > len)
		return CORRUPT("postings offset table: %u entries in %u bytes", *n, len);
	*d = (struct tsdb_dec){ body + 4, body + len, false };
	b->names = malloc(((size_t)*n + 1) * sizeof(*b->names));
	b->posts = malloc(((size_t)*n + 1) * sizeof(*b->posts));
	if (!b->names || !b->posts)
		return CORRUPT("out of memory reading the postings table");
	return 0;
}

/* One postings offset table entry, checked for order against the previous one. */
static int posting_entry(struct tsdb_block *b, struct tsdb_dec *d, uint32_t i, char *err,
			 size_t errlen)
{
	size_t nl, vl;
	const char *name, *value, *nsym, *vsym;
	uint64_t keys = tsdb_dec_uvarint(d), off;

	name = tsdb_dec_uvarint_str(d, &nl);
	value = tsdb_dec_uvarint_str(d, &vl);
	off = tsdb_dec_uvarint(d);
	if (d->bad || keys != 2)
		return CORRUPT("postings offset table: entry %u is malformed", i);
	if (!postings_ok(b, off))
		return CORRUPT("postings list %u: bad length, checksum or series ids", i);
	if (i == 0 && nl == 0 && vl == 0) {
		b->all_off = off;
		return 0;
	}
	nsym = symbol(b, name, nl);
	vsym = symbol(b, value, vl);
	if (!nsym || !vsym)
		return CORRUPT("postings offset table: entry %u names no symbol", i);
	return add_pair(b, nsym, vsym, off, i, err, errlen);
}

static int load_postings_table(struct tsdb_block *b, uint64_t off, char *err, size_t errlen)
{
	struct tsdb_dec d;
	uint32_t n;

	if (open_table(b, off, 5, &d, &n, err, errlen) < 0)
		return TSDB_EFAIL;
	b->all_off = UINT64_MAX;
	for (uint32_t i = 0; i < n; i++)
		if (posting_entry(b, &d, i, err, errlen) < 0)
			return TSDB_EFAIL;
	if (b->all_off == UINT64_MAX)
		return CORRUPT("postings offset table: no all-series list");
	return 0;
}

/* --- chunks ------------------------------------------------------------------------------ */

static int seg_number(const char *name)
{
	int n = 0;

	for (int i = 0; i < 6; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		n = n * 10 + (name[i] - '0');
	}
	return name[6] ? -1 : n;
}

static int count_segments(const char *dir, uint32_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	*n = 0;
	if (!d)
		return CORRUPT("open %s: %s", dir, strerror(errno));
	while ((de = readdir(d)))
		if (seg_number(de->d_name) > 0)
			(*n)++;
	closedir(d);
	return 0;
}

static int load_segments(struct tsdb_block *b, char *err, size_t errlen)
{
	char dir[4096], path[4200];
	uint32_t n;

	snprintf(dir, sizeof(dir), "%s/chunks", b->dir);
	if (count_segments(dir, &n, err, errlen) < 0)
		return TSDB_EFAIL;
	b->segs = calloc((size_t)n + 1, sizeof(*b->segs));
	if (!b->segs)
		return CORRUPT("out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct tsdb_block_seg *s = &b->segs[i];

		snprintf(path, sizeof(path), "%s/%06u", dir, i + 1);
		if (map_file(path, &s->p, &s->len, err, errlen) < 0)
			return TSDB_EFAIL; /* a gap in the numbering ends up here too */
		b->nsegs++;
		if (s->len < BLOCK_CHUNKS_HEADER || tsdb_be32(s->p) != BLOCK_CHUNKS_MAGIC ||
		    s->p[4] != 1)
			return CORRUPT("%s: not a chunk segment (magic or version)", path);
	}
	return 0;
}

/* A chunk reference that points inside a segment, after its header. */
static bool ref_ok(const struct tsdb_block *b, uint64_t ref)
{
	uint32_t seq = (uint32_t)(ref >> 32);
	uint64_t off = ref & UINT32_MAX;

	return seq < b->nsegs && off >= BLOCK_CHUNKS_HEADER && off < b->segs[seq].len;
}

/* The chunk at ref (ref_ok), its extent checked: meta->data/len/enc get its bytes. */
static bool chunk_at(const struct tsdb_block *b, uint64_t ref, struct tsdb_chunk_meta *c)
{
	uint32_t seq = (uint32_t)(ref >> 32);
	uint64_t off = ref & UINT32_MAX, len;
	struct tsdb_dec d;
	uint8_t enc;

	d = (struct tsdb_dec){ b->segs[seq].p + off, b->segs[seq].p + b->segs[seq].len, false };
	len = tsdb_dec_uvarint(&d);
	enc = tsdb_dec_byte(&d);
	if (d.bad || (enc != BLOCK_ENC_XOR && enc != BLOCK_ENC_DENSE && enc != BLOCK_ENC_DENSE2) ||
	    len > (uint64_t)(d.end - d.p) || (uint64_t)(d.end - d.p) - len < 4)
		return false;
	c->data = d.p;
	c->len = (size_t)len;
	c->enc = enc == BLOCK_ENC_DENSE2 ? TSDB_ENC_DENSE2
		 : enc == BLOCK_ENC_DENSE ? TSDB_ENC_DENSE : TSDB_ENC_XOR;
	return true;
}

int tsdb_block_series_chunk(const struct tsdb_block *b, struct tsdb_block_series *s, size_t k,
			    char *err, size_t errlen)
{
	struct tsdb_chunk_meta *c = &s->chunks[k];

	if (c->data)
		return 0;
	if (!chunk_at(b, s->refs[k], c))
		return CORRUPT("block %s: malformed chunk at reference %llu", b->meta.ulid,
			       (unsigned long long)s->refs[k]);
	if (tsdb_wal_crc32c(0, c->data - 1, c->len + 1) != tsdb_be32(c->data + c->len)) {
		c->data = NULL;
		return CORRUPT("block %s: chunk checksum mismatch", b->meta.ulid);
	}
	return 0;
}

/* --- series ------------------------------------------------------------------------------- */

static int decode_labels(const struct tsdb_block *b, struct tsdb_dec *d,
			 struct tsdb_block_series *s)
{
	uint64_t n = tsdb_dec_uvarint(d);

	if (d->bad || n == 0 || n > (uint64_t)(d->end - d->p))
		return -1;
	if (tsdb_grow((void **)&s->lbuf, &s->capl, n, sizeof(*s->lbuf)) < 0)
		return -2;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ni = tsdb_dec_uvarint(d), vi;

		if (b->dense_ix) { /* a pair of the postings table */
			if (d->bad || ni >= b->nposts)
				return -1;
			s->lbuf[i] = (struct label){ b->posts[ni].name, b->posts[ni].value };
			continue;
		}
		vi = tsdb_dec_uvarint(d);
		if (d->bad || ni >= b->nsyms || vi >= b->nsyms)
			return -1;
		s->lbuf[i] = (struct label){ b->syms[ni], b->syms[vi] };
	}
	s->ls = (struct labels){ s->lbuf, (size_t)n };
	return 0;
}

/* Chunk references are only bounds-checked here: reading a chunk's length and
 * encoding would fault in its page (at open: every page of every segment). The chunk
 * itself is checked when a reader resolves it (tsdb_block_series_chunk). */
static int decode_chunks(const struct tsdb_block *b, struct tsdb_dec *d,
			 struct tsdb_block_series *s)
{
	uint64_t n = tsdb_dec_uvarint(d), ref = 0;
	int64_t t = 0;

	if (d->bad || n > (uint64_t)(d->end - d->p))
		return -1;
	if (tsdb_grow((void **)&s->chunks, &s->capc, n + 1, sizeof(*s->chunks)) < 0 ||
	    tsdb_grow((void **)&s->refs, &s->caprefs, n + 1, sizeof(*s->refs)) < 0)
		return -2;
	for (uint64_t i = 0; i < n; i++) {
		struct tsdb_chunk_meta *c = &s->chunks[i];

		/* unsigned sums: hostile deltas wrap (and fail the order checks), no UB */
		if (i == 0 && b->dense_ix) {
			uint64_t after = tsdb_dec_uvarint(d);

			if (after > (uint64_t)INT64_MAX ||
			    __builtin_add_overflow(b->base, (int64_t)after, &c->mint))
				return -1;
			c->maxt = (int64_t)((uint64_t)c->mint + tsdb_dec_uvarint(d));
			ref = tsdb_dec_uvarint(d);
		} else if (i == 0) {
			c->mint = tsdb_dec_varint(d);
			c->maxt = (int64_t)((uint64_t)c->mint + tsdb_dec_uvarint(d));
			ref = tsdb_dec_uvarint(d);
		} else {
			c->mint = (int64_t)((uint64_t)t + tsdb_dec_uvarint(d));
			c->maxt = (int64_t)((uint64_t)c->mint + tsdb_dec_uvarint(d));
			ref += (uint64_t)tsdb_dec_varint(d);
			if (c->mint < t) /* wrapped */
				return -1;
		}
		t = c->maxt;
		if (d->bad || c->maxt < c->mint || !ref_ok(b, ref))
			return -1;
		c->data = NULL;
		c->len = 0;
		s->refs[i] = ref;
	}
	s->nchunks = (size_t)n;
	return 0;
}

/* Series entry at off: the body's bounds, checked against its CRC when `check` (at
 * open). */
static int series_body(const struct tsdb_block *b, uint64_t off, struct tsdb_dec *body,
		       uint64_t *next, bool check)
{
	struct tsdb_dec d = { b->ix + off, b->ix + b->series_hi, false };
	uint64_t len;

	if (off < b->series_lo || off >= b->series_hi)
		return -1;
	len = tsdb_dec_uvarint(&d);
	if (b->dense_ix) { /* no CRC of its own: the section has one */
		if (d.bad || len > (uint64_t)(d.end - d.p))
			return -1;
		*body = (struct tsdb_dec){ d.p, d.p + len, false };
		*next = (uint64_t)(d.p + len - b->ix);
		return 0;
	}
	if (d.bad || len > (uint64_t)(d.end - d.p) || (uint64_t)(d.end - d.p) - len < 4)
		return -1;
	if (check && tsdb_wal_crc32c(0, d.p, len) != tsdb_be32(d.p + len))
		return -1;
	*body = (struct tsdb_dec){ d.p, d.p + len, false };
	*next = (uint64_t)(d.p + len + 4 - b->ix);
	return 0;
}

static int read_series_at(const struct tsdb_block *b, uint64_t off, struct tsdb_block_series *s,
			  uint64_t *next, bool check)
{
	struct tsdb_dec d;
	int rc = series_body(b, off, &d, next, check);

	if (rc == 0)
		rc = decode_labels(b, &d, s);
	if (rc == 0)
		rc = decode_chunks(b, &d, s);
	if (rc == 0 && d.p != d.end)
		rc = -1;
	return rc;
}

int tsdb_block_read_series(const struct tsdb_block *b, uint64_t id,
			   struct tsdb_block_series *s, char *err, size_t errlen)
{
	uint64_t next;
	int rc = read_series_at(b, b->dense_ix ? id : id * BLOCK_SERIES_ALIGN, s, &next, false);

	if (rc == -2)
		return CORRUPT("out of memory");
	if (rc < 0)
		return CORRUPT("block %s: series %llu is corrupt", b->meta.ulid, (unsigned long long)id);
	return 0;
}

void tsdb_block_series_free(struct tsdb_block_series *s)
{
	free(s->lbuf);
	free(s->chunks);
	free(s->refs);
	memset(s, 0, sizeof(*s));
}

/* Walk the series section checking every entry; for a dense index, mark in `starts`
 * where entries begin (postings must point there). */
static int check_series(struct tsdb_block *b, uint64_t *starts, char *err, size_t errlen)
{
	struct tsdb_block_series s = { 0 };
	uint64_t off = b->series_lo, n = 0;
	int rc = 0;

	while (rc == 0) {
		uint64_t at;

		while (!b->dense_ix && off < b->series_hi && b->ix[off] == 0)
			off++; /* version 2 pads entries to 16 bytes */
		if (off >= b->series_hi)
			break;
		if (b->dense_ix)
			starts[(off - b->series_lo) / 64] |= 1ULL << ((off - b->series_lo) % 64);
		else if (off % BLOCK_SERIES_ALIGN)
			rc = -1;
		at = off;
		if (rc == 0)
			rc = read_series_at(b, off, &s, &off, true);
		validated(b, off - at);
		n++;
	}
	tsdb_block_series_free(&s);
	if (rc == -2)
		return CORRUPT("out of memory");
	if (rc < 0)
		return CORRUPT("series %llu: bad length, checksum, label, symbol or chunk reference",
			       (unsigned long long)n);
	return 0;
}

/* --- the index ---------------------------------------------------------------------------- */

/* Dense: the postings offset table (pairs as symbol numbers, in order). */
static int load_dense_table(struct tsdb_block *b, uint64_t off, char *err, size_t errlen)
{
	struct tsdb_dec d;
	uint32_t n;

	if (open_table(b, off, 3, &d, &n, err, errlen) < 0)
		return TSDB_EFAIL;
	b->all_off = tsdb_dec_uvarint(&d);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t ns = tsdb_dec_uvarint(&d), vs = tsdb_dec_uvarint(&d);

		off = tsdb_dec_uvarint(&d);
		if (d.bad || ns >= b->nsyms || vs >= b->nsyms)
			return CORRUPT("postings offset table: entry %u is malformed", i);
		if (add_pair(b, b->syms[ns], b->syms[vs], off, i, err, errlen) < 0)
			return TSDB_EFAIL;
	}
	if (d.bad || d.p != d.end)
		return CORRUPT("postings offset table: malformed");
	return 0;
}

static bool bit_at(const uint64_t *bits, uint64_t i)
{
	return bits[i / 64] >> (i % 64) & 1;
}

/* Dense: a postings list at off, its ids each the start of a series entry. */
static bool dense_list_ok(const struct tsdb_block *b, uint64_t off, const uint64_t *starts,
			  uint64_t post_lo)
{
	struct tsdb_dec d = { b->ix + off, b->ix + b->post_hi, false };
	uint64_t n, id = 0;

	if (off < post_lo || off >= b->post_hi)
		return false;
	n = tsdb_dec_uvarint(&d);
	if (d.bad || n > (uint64_t)(d.end - d.p))
		return false;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t delta = tsdb_dec_uvarint(&d);

		if (d.bad || (i > 0 && delta == 0) || delta >= b->series_hi - id)
			return false;
		id += delta;
		if (id < b->series_lo || !bit_at(starts, id - b->series_lo))
			return false;
	}
	return true;
}

static int load_dense_index(struct tsdb_block *b, const uint64_t *toc, char *err,
			    size_t errlen)
{
	const uint8_t *body;
	uint32_t len;
	uint64_t *starts, post_lo;
	int rc;

	b->dense_ix = true;
	if (!section(b, toc[1], &body, &len, true) || len < 8)
		return CORRUPT("series: bad length or checksum");
	b->base = (int64_t)tsdb_be64(body);
	b->series_lo = (uint64_t)(body + 8 - b->ix);
	b->series_hi = (uint64_t)(body + len - b->ix);
	if (!section(b, toc[4], &body, &len, true))
		return CORRUPT("postings: bad length or checksum");
	post_lo = (uint64_t)(body - b->ix);
	b->post_hi = post_lo + len;
	if (load_symbols(b, toc[0], err, errlen) < 0 ||
	    load_dense_table(b, toc[5], err, errlen) < 0)
		return TSDB_EFAIL;
	starts = calloc((b->series_hi - b->series_lo) / 64 + 1, sizeof(*starts));
	if (!starts)
		return CORRUPT("out of memory");
	rc = check_series(b, starts, err, errlen);
	if (rc == 0 && !dense_list_ok(b, b->all_off, starts, post_lo))
		rc = CORRUPT("postings: the all-series list is malformed");
	for (uint32_t i = 0; rc == 0 && i < b->nposts; i++)
		if (!dense_list_ok(b, b->posts[i].off, starts, post_lo))
			rc = CORRUPT("postings list %u: malformed or not series ids", i + 1);
	free(starts);
	return rc;
}

static int load_index(struct tsdb_block *b, char *err, size_t errlen)
{
	uint64_t toc[6];
	const uint8_t *t;

	if (b->ixlen < 5 + BLOCK_TOC_LEN || tsdb_be32(b->ix) != BLOCK_INDEX_MAGIC)
		return CORRUPT("index: bad magic number");
	if (b->ix[4] != BLOCK_INDEX_V2 && b->ix[4] != BLOCK_INDEX_DENSE)
		return CORRUPT("index: unsupported version %u", b->ix[4]);
	t = b->ix + b->ixlen - BLOCK_TOC_LEN;
	if (tsdb_wal_crc32c(0, t, BLOCK_TOC_LEN - 4) != tsdb_be32(t + BLOCK_TOC_LEN - 4))
		return CORRUPT("index: TOC checksum mismatch");
	for (int i = 0; i < 6; i++) {
		toc[i] = tsdb_be64(t + 8 * i);
		if (toc[i] > b->ixlen - BLOCK_TOC_LEN)
			return CORRUPT("index: TOC entry %d out of range", i);
	}
	if (b->ix[4] == BLOCK_INDEX_DENSE)
		return load_dense_index(b, toc, err, errlen);
	if (toc[1] < 5 || toc[2] < toc[1])
		return CORRUPT("index: series section out of range");
	b->series_lo = toc[1];
	b->series_hi = toc[2];
	if (load_symbols(b, toc[0], err, errlen) < 0 ||
	    load_postings_table(b, toc[5], err, errlen) < 0)
		return TSDB_EFAIL;
	return check_series(b, NULL, err, errlen);
}

static uint64_t file_size(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return tsdb_fs_tree_size(path);
}

int tsdb_block_open(const char *dir, struct tsdb_block **out, char *err, size_t errlen)
{
	struct tsdb_block *b = calloc(1, sizeof(*b));
	char path[4096];
	char why[8192];

	*out = NULL;
	if (!b || !(b->dir = strdup(dir))) {
		free(b);
		return CORRUPT("out of memory");
	}
	b->refs = 1;
	snprintf(path, sizeof(path), "%s/index", dir);
	if (tsdb_block_meta_read(dir, &b->meta, why, sizeof(why)) < 0 ||
	    map_file(path, &b->ix, &b->ixlen, why, sizeof(why)) < 0 ||
	    load_segments(b, why, sizeof(why)) < 0 || load_index(b, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "block %s: %s", dir, why);
		tsdb_block_unref(b);
		return TSDB_EFAIL;
	}
	b->size = file_size(dir, "index") + file_size(dir, "chunks") +
		  file_size(dir, "tombstones") + file_size(dir, "meta.json");
	tsdb_block_release_pages(b); /* validation read the whole index */
	*out = b;
	return 0;
}

void tsdb_block_release_pages(const struct tsdb_block *b)
{
	if (b->ix)
		madvise((void *)b->ix, b->ixlen, MADV_DONTNEED);
	for (uint32_t i = 0; i < b->nsegs; i++)
		madvise((void *)b->segs[i].p, b->segs[i].len, MADV_DONTNEED);
}

void tsdb_block_ref(struct tsdb_block *b)
{
	__atomic_fetch_add(&b->refs, 1, __ATOMIC_RELAXED);
}

void tsdb_block_unref(struct tsdb_block *b)
{
	if (!b || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (b->ix)
		munmap((void *)b->ix, b->ixlen);
	for (uint32_t i = 0; i < b->nsegs; i++)
		munmap((void *)b->segs[i].p, b->segs[i].len);
	tsdb_block_meta_free(&b->meta);
	free(b->segs);
	free(b->symmem);
	free(b->syms);
	free(b->names);
	free(b->posts);
	free(b->dir);
	free(b);
}

const struct tsdb_block_meta *tsdb_block_meta(const struct tsdb_block *b)
{
	return &b->meta;
}

const char *tsdb_block_dir(const struct tsdb_block *b)
{
	return b->dir;
}

uint64_t tsdb_block_size(const struct tsdb_block *b)
{
	return b->size;
}
