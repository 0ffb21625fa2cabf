/*
 * zstd via the streaming decoder, never the one-shot API: a frame's declared content
 * size is attacker-controlled (and may be absent), so output is produced piecewise
 * into room bounded by the limit, with a one-byte probe once the limit is reached.
 * The window a frame may demand is capped too, which bounds the decoder's memory.
 */
#include "compress/compress.h"
#include "compress/compress_internal.h"

#include <zstd.h>

/* zstd's own default ceiling (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 128 MiB). */
#define WINDOWLOG_CEIL 27
/* Common encoders use windows up to 8 MiB even for small inputs; accept those. */
#define WINDOWLOG_FLOOR 23

static int window_log_for(size_t max_out)
{
	int log = WINDOWLOG_FLOOR;

	while (log < WINDOWLOG_CEIL && ((size_t)1 << log) < max_out)
		log++;
	return log;
}

/* One ZSTD_decompressStream() call; *hint is its return value (0: a frame ended). */
static int zstd_step(ZSTD_DCtx *dctx, ZSTD_inBuffer *ib, struct buf *out, size_t *produced,
		     size_t max_out, size_t *hint, char *err, size_t errlen)
{
	unsigned char scratch;
	size_t room = max_out - *produced;
	ZSTD_outBuffer ob;

	if (room == 0) {
		ob = (ZSTD_outBuffer){ &scratch, 1, 0 };
	} else {
		room = compress_room(out, COMPRESS_CHUNK, room);
		if (room == 0)
			return compress_fail(err, errlen, COMPRESS_EOOM, "zstd: out of memory");
		ob = (ZSTD_outBuffer){ out->data + out->len, room, 0 };
	}
	*hint = ZSTD_decompressStream(dctx, &ob, ib);
	if (ZSTD_isError(*hint))
		return compress_fail(err, errlen, COMPRESS_ECORRUPT, "zstd: %s",
				     ZSTD_getErrorName(*hint));
	if (room == 0) {
		if (ob.pos)
			return compress_fail(err, errlen, COMPRESS_ETOOBIG,
					     "zstd: decoded body exceeds the limit of %zu bytes",
					     max_out);
	} else {
		compress_commit(out, ob.pos);
		*produced += ob.pos;
	}
	/* Input all consumed, output not filled, frame unfinished: it was cut short. */
	if (*hint != 0 && ib->pos == ib->size && ob.pos < ob.size)
		return compress_fail(err, errlen, COMPRESS_ECORRUPT,
				     "zstd: unexpected end of stream");
	return 0;
}

int compress_zstd_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			 char *err, size_t errlen)
{
	ZSTD_inBuffer ib = { in, in_len, 0 };
	size_t produced = 0, hint = 1;
	ZSTD_DCtx *dctx;
	int ret = 0;

	dctx = ZSTD_createDCtx();
	if (!dctx)
		return compress_fail(err, errlen, COMPRESS_EOOM, "zstd: out of memory");
	if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax,
						window_log_for(max_out)))) {
		ret = compress_fail(err, errlen, COMPRESS_EOOM, "zstd: cannot set window limit");
		goto fail;
	}
	while (ib.pos < ib.size || hint != 0) {
		ret = zstd_step(dctx, &ib, out, &produced, max_out, &hint, err, errlen);
		if (ret < 0)
			goto fail;
	}
fail:
	ZSTD_freeDCtx(dctx);
	return ret;
}

int compress_zstd_encode(const void *in, size_t in_len, int level, struct buf *out, char *err,
			 size_t errlen)
{
	size_t bound = ZSTD_compressBound(in_len), n;
	ZSTD_CCtx *cctx;
	int ret = 0;

	if (level > ZSTD_maxCLevel())
		level = ZSTD_maxCLevel();
	if (level < ZSTD_minCLevel())
		level = ZSTD_minCLevel();
	cctx = ZSTD_createCCtx();
	if (!cctx || buf_reserve(out, bound) < 0) {
		ret = compress_fail(err, errlen, COMPRESS_EOOM, "zstd: out of memory");
		goto fail;
	}
	/* A content checksum lets the reader tell damaged data from valid data. */
	n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(n))
		n = ZSTD_compress2(cctx, out->data + out->len, bound, in, in_len);
	if (ZSTD_isError(n)) {
		ret = compress_fail(err, errlen, COMPRESS_EOOM, "zstd: %s", ZSTD_getErrorName(n));
		goto fail;
	}
	compress_commit(out, n);
fail:
	ZSTD_freeCCtx(cctx);
	return ret;
}
