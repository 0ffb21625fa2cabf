/*
 * Record compression, Prometheus' --storage.tsdb.wal-compression: a whole record is
 * compressed before it is split into fragments, and every fragment of it carries the
 * codec's bit in its type byte (0x08 snappy, 0x10 zstd). The fragment CRCs cover the
 * stored (compressed) bytes, so torn-tail detection and repair work as before, and
 * the batch bit is untouched. A record that does not shrink is stored as it is,
 * without a bit, as upstream does; readers take all three forms in any mix, so the
 * setting can change between restarts.
 *
 * Compression runs in the appending thread before the WAL's mutex is taken. zstd
 * keeps one compression context per thread (a context is a few hundred KiB set up
 * per use otherwise, on every remote-write request); it is freed when the thread
 * exits. Decompression goes through the compress module, whose output limit turns a
 * damaged length into an error rather than a huge allocation.
 */
#include "tsdb/wal_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "compress/compress.h"

/* zstd's fastest regular level: about 0.5x of a samples record at snappy's speed;
 * higher levels gain a few percent for twice the CPU. */
#define ZSTD_LEVEL 1
/* No record we write comes near this; a larger claim is damage. */
#define MAX_RECORD ((size_t)1 << 30)

static const char *const names[] = { "none", "snappy", "zstd" };

int tsdb_wal_parse_compression(const char *s, enum tsdb_wal_compression *out)
{
	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum tsdb_wal_compression)i;
			return 0;
		}
	}
	return -1;
}

const char *tsdb_wal_compression_name(enum tsdb_wal_compression c)
{
	return (unsigned)c < 3 ? names[c] : "unknown";
}

/* --- the per-thread zstd context ----------------------------------------------------- */

static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;
static int cctx_key_ok;

static void cctx_free(void *p)
{
	ZSTD_freeCCtx(p);
}

static void cctx_key_init(void)
{
	cctx_key_ok = pthread_key_create(&cctx_key, cctx_free) == 0;
}

static ZSTD_CCtx *thread_cctx(void)
{
	ZSTD_CCtx *c;

	pthread_once(&cctx_once, cctx_key_init);
	if (!cctx_key_ok)
		return NULL;
	c = pthread_getspecific(cctx_key);
	if (c)
		return c;
	c = ZSTD_createCCtx();
	if (c && pthread_setspecific(cctx_key, c) != 0) {
		ZSTD_freeCCtx(c);
		c = NULL;
	}
	return c;
}

/* --- packing a batch ----------------------------------------------------------------- */

/* Append rec compressed to out; 1 when it shrank, 0 when it did not (out unchanged),
 * -1 when out of memory. */
static int squeeze(enum tsdb_wal_compression c, const struct tsdb_wal_rec *rec,
		   struct buf *out)
{
	size_t start = out->len, bound, n;
	char why[64];

	if (c == TSDB_WAL_COMPRESS_SNAPPY) {
		if (compress_encode(COMPRESS_SNAPPY, rec->data, rec->len, 0, out, why,
				    sizeof(why)) < 0)
			return -1;
	} else {
		ZSTD_CCtx *cc = thread_cctx();

		bound = ZSTD_compressBound(rec->len);
		if (!cc || buf_reserve(out, bound) < 0)
			return -1;
		n = ZSTD_compressCCtx(cc, out->data + out->len, bound, rec->data, rec->len,
				      ZSTD_LEVEL);
		if (ZSTD_isError(n))
			return -1;
		out->len += n;
	}
	if (out->len - start < rec->len)
		return 1;
	out->len = start;
	return 0;
}

static int packed_reserve(struct wal_packed *p, size_t n)
{
	struct tsdb_wal_rec *nr;
	unsigned char *nf;
	size_t *ne;

	if (n <= p->cap)
		return 0;
	nr = realloc(p->recs, n * sizeof(*nr));
	if (nr)
		p->recs = nr;
	ne = realloc(p->end, n * sizeof(*ne));
	if (ne)
		p->end = ne;
	nf = realloc(p->flags, n);
	if (nf)
		p->flags = nf;
	if (!nr || !ne || !nf)
		return -1;
	p->cap = n;
	return 0;
}

int wal_pack(enum tsdb_wal_compression c, const struct tsdb_wal_rec *recs, size_t n,
	     struct wal_packed *p, char *err, size_t errlen)
{
	unsigned char bit = c == TSDB_WAL_COMPRESS_SNAPPY ? WAL_FLAG_SNAPPY : WAL_FLAG_ZSTD;
	size_t start = 0;

	buf_reset(&p->data);
	if (packed_reserve(p, n) < 0)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		int rc = c == TSDB_WAL_COMPRESS_NONE ? 0 : squeeze(c, &recs[i], &p->data);

		if (rc < 0)
			goto oom;
		p->flags[i] = rc ? bit : 0;
		p->end[i] = p->data.len;
	}
	/* Pointers last: the data may have moved while it grew. */
	for (size_t i = 0; i < n; i++) {
		if (!p->flags[i]) {
			p->recs[i] = recs[i];
			continue;
		}
		p->recs[i] = (struct tsdb_wal_rec){ p->data.data + start, p->end[i] - start };
		start = p->end[i];
	}
	return 0;
oom:
	return WAL_FAIL(err, errlen, -1, "WAL: out of memory compressing %zu records", n);
}

void wal_packed_free(struct wal_packed *p)
{
	buf_free(&p->data);
	free(p->recs);
	free(p->end);
	free(p->flags);
	memset(p, 0, sizeof(*p));
}

/* --- reading -------------------------------------------------------------------------- */

int wal_unpack_tail(struct buf *batch, size_t off, unsigned flags, struct buf *scratch,
		    char *why, size_t whylen)
{
	enum compress_codec c = flags & WAL_FLAG_SNAPPY ? COMPRESS_SNAPPY : COMPRESS_ZSTD;
	char e[128];
	int rc;

	buf_reset(scratch);
	rc = compress_decode(c, batch->data + off, batch->len - off, MAX_RECORD, scratch, e,
			     sizeof(e));
	if (rc == COMPRESS_EOOM || scratch->oom) {
		snprintf(why, whylen, "out of memory decompressing a record");
		return -1;
	}
	if (rc < 0) {
		snprintf(why, whylen, "compressed record does not decode (%s)", e);
		return 1;
	}
	batch->len = off;
	buf_append(batch, scratch->data, scratch->len);
	if (batch->oom) {
		snprintf(why, whylen, "out of memory decompressing a record");
		return -1;
	}
	if (scratch->cap > 4 * WAL_PAGE) /* keep a huge record's memory no longer */
		buf_free(scratch);
	return 0;
}
