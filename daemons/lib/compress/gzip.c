/*
 * gzip (RFC 1952) and zlib-wrapped deflate (RFC 1950, what HTTP calls "deflate") via
 * zlib. Decoding writes straight into the output buffer but never offers inflate more
 * room than the limit leaves; once the limit is reached, a one-byte scratch buffer
 * tells whether the stream really has more to give (a bomb) or merely ends there.
 * Concatenated gzip members decode as one body, as gzip(1) and Go's reader do.
 */
#include "compress/compress.h"
#include "compress/compress_internal.h"

#include <limits.h>
#include <zlib.h>

#define WBITS_ZLIB 15
#define WBITS_GZIP (15 + 16)

struct inflate_run {
	z_stream zs;
	const unsigned char *in;
	size_t in_left;   /* input not yet handed to zlib */
	size_t produced;
	size_t max_out;
	const char *name;
};

/* zlib counts in uInt; hand it input in pieces it can represent. */
static void feed(struct inflate_run *r)
{
	if (r->zs.avail_in == 0 && r->in_left) {
		uInt n = r->in_left > UINT_MAX ? UINT_MAX : (uInt)r->in_left;

		r->zs.next_in = (Bytef *)r->in;
		r->zs.avail_in = n;
		r->in += n;
		r->in_left -= n;
	}
}

static bool input_done(const struct inflate_run *r)
{
	return r->zs.avail_in == 0 && r->in_left == 0;
}

/* One inflate() call with zlib's code in *zret; returns 0, or a COMPRESS_* error when
 * the limit or memory is exhausted (the two code spaces overlap, hence the split). */
static int inflate_step(struct inflate_run *r, struct buf *out, int *zret, char *err,
			size_t errlen)
{
	unsigned char scratch;
	size_t room = r->max_out - r->produced;

	feed(r);
	if (room == 0) {
		r->zs.next_out = &scratch;
		r->zs.avail_out = 1;
	} else {
		room = compress_room(out, COMPRESS_CHUNK, room);
		if (room == 0)
			return compress_fail(err, errlen, COMPRESS_EOOM, "%s: out of memory",
					     r->name);
		if (room > UINT_MAX)
			room = UINT_MAX;
		r->zs.next_out = (Bytef *)out->data + out->len;
		r->zs.avail_out = (uInt)room;
	}
	*zret = inflate(&r->zs, Z_NO_FLUSH);
	if (room == 0) {
		if (r->zs.avail_out == 0)
			return compress_fail(err, errlen, COMPRESS_ETOOBIG,
					     "%s: decoded body exceeds the limit of %zu bytes",
					     r->name, r->max_out);
	} else {
		size_t n = room - r->zs.avail_out;

		compress_commit(out, n);
		r->produced += n;
	}
	return 0;
}

static int inflate_all(struct inflate_run *r, bool gzip, struct buf *out, char *err,
		       size_t errlen)
{
	for (;;) {
		int zret = Z_OK, ret = inflate_step(r, out, &zret, err, errlen);

		if (ret < 0)
			return ret;
		switch (zret) {
		case Z_OK:
			continue;
		case Z_STREAM_END:
			if (input_done(r))
				return 0;
			if (!gzip)
				return compress_fail(err, errlen, COMPRESS_ECORRUPT,
						     "%s: trailing data after the stream", r->name);
			/* Another gzip member follows. */
			if (inflateReset(&r->zs) != Z_OK)
				return compress_fail(err, errlen, COMPRESS_ECORRUPT,
						     "%s: reset failed", r->name);
			continue;
		case Z_BUF_ERROR:
			/* No progress with room to write: the input ended early. */
			return compress_fail(err, errlen, COMPRESS_ECORRUPT,
					     "%s: unexpected end of stream", r->name);
		case Z_MEM_ERROR:
			return compress_fail(err, errlen, COMPRESS_EOOM, "%s: out of memory",
					     r->name);
		default:
			return compress_fail(err, errlen, COMPRESS_ECORRUPT, "%s: %s", r->name,
					     r->zs.msg ? r->zs.msg : "corrupt input");
		}
	}
}

static int zlib_decode(bool gzip, const void *in, size_t in_len, size_t max_out,
		       struct buf *out, char *err, size_t errlen)
{
	struct inflate_run r = {
		.in = in,
		.in_left = in_len,
		.max_out = max_out,
		.name = gzip ? "gzip" : "deflate",
	};
	int ret;

	ret = inflateInit2(&r.zs, gzip ? WBITS_GZIP : WBITS_ZLIB);
	if (ret != Z_OK)
		return compress_fail(err, errlen, COMPRESS_EOOM, "%s: out of memory", r.name);
	ret = inflate_all(&r, gzip, out, err, errlen);
	inflateEnd(&r.zs);
	return ret;
}

static int clamp_level(int level)
{
	if (level == 0)
		return Z_DEFAULT_COMPRESSION;
	return level < 1 ? 1 : level > 9 ? 9 : level;
}

static int zlib_encode(bool gzip, const void *in, size_t in_len, int level, struct buf *out,
		       char *err, size_t errlen)
{
	const char *name = gzip ? "gzip" : "deflate";
	const unsigned char *p = in;
	size_t left = in_len;
	z_stream zs = { 0 };
	int zret, ret = 0;

	if (deflateInit2(&zs, clamp_level(level), Z_DEFLATED, gzip ? WBITS_GZIP : WBITS_ZLIB, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return compress_fail(err, errlen, COMPRESS_EOOM, "%s: out of memory", name);
	do {
		size_t room;

		if (zs.avail_in == 0 && left) {
			zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
			zs.next_in = (Bytef *)p;
			p += zs.avail_in;
			left -= zs.avail_in;
		}
		room = compress_room(out, COMPRESS_CHUNK, UINT_MAX);
		if (room == 0) {
			ret = compress_fail(err, errlen, COMPRESS_EOOM, "%s: out of memory", name);
			goto fail;
		}
		zs.next_out = (Bytef *)out->data + out->len;
		zs.avail_out = (uInt)room;
		zret = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
		compress_commit(out, room - zs.avail_out);
		if (zret != Z_OK && zret != Z_STREAM_END && zret != Z_BUF_ERROR) {
			ret = compress_fail(err, errlen, COMPRESS_EOOM, "%s: deflate failed", name);
			goto fail;
		}
	} while (zret != Z_STREAM_END);
fail:
	deflateEnd(&zs);
	return ret;
}

int compress_gzip_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			 char *err, size_t errlen)
{
	return zlib_decode(true, in, in_len, max_out, out, err, errlen);
}

int compress_gzip_encode(const void *in, size_t in_len, int level, struct buf *out, char *err,
			 size_t errlen)
{
	return zlib_encode(true, in, in_len, level, out, err, errlen);
}

int compress_deflate_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			    char *err, size_t errlen)
{
	return zlib_decode(false, in, in_len, max_out, out, err, errlen);
}

int compress_deflate_encode(const void *in, size_t in_len, int level, struct buf *out,
			    char *err, size_t errlen)
{
	return zlib_encode(false, in, in_len, level, out, err, errlen);
}
