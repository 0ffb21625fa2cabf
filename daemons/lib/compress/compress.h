/*
 * compress: the body codecs our wire protocols use (snappy block format for
 * Prometheus remote-write and Loki push, gzip/deflate for HTTP, zstd for OTLP and
 * storage), each with an output limit so a decompression bomb is a clean error.
 *
 * Contract:
 * - compress_decode() appends the decoded bytes to `out` and never lets it grow past
 *   `max_out` bytes of new output: the codec is stopped as soon as the limit would be
 *   crossed (snappy checks the declared length before decoding anything), and
 *   COMPRESS_ETOOBIG is returned. Corrupt input returns COMPRESS_ECORRUPT. Both fill
 *   `err` with a short reason suitable for a 400 response.
 * - On error `out` may hold partial output; the caller discards it.
 * - Stateless and thread-safe (all state lives on the stack or in `out`).
 */
#ifndef LGTM_COMPRESS_H
#define LGTM_COMPRESS_H

#include <stddef.h>

#include "buf/buf.h"

enum compress_codec {
	COMPRESS_NONE,    /* identity */
	COMPRESS_SNAPPY,  /* snappy block format (not the framing format) */
	COMPRESS_GZIP,    /* RFC 1952 */
	COMPRESS_DEFLATE, /* RFC 1950 zlib stream, as HTTP's "deflate" means */
	COMPRESS_ZSTD,
};

#define COMPRESS_ECORRUPT (-1)
#define COMPRESS_ETOOBIG  (-2)
#define COMPRESS_EOOM     (-3)
#define COMPRESS_EUNKNOWN (-4)

/* Map a Content-Encoding value ("snappy", "gzip", "x-gzip", "deflate", "zstd",
 * "identity" or empty/NULL) to a codec, case-insensitively. Returns 0 or
 * COMPRESS_EUNKNOWN. */
int compress_codec_parse(const char *content_encoding, enum compress_codec *out);
const char *compress_codec_name(enum compress_codec c);

int compress_decode(enum compress_codec c, const void *in, size_t in_len, size_t max_out,
		    struct buf *out, char *err, size_t errlen);

/* Encode `in` and append to out. level: codec default when 0. Returns 0 or negative. */
int compress_encode(enum compress_codec c, const void *in, size_t in_len, int level,
		    struct buf *out, char *err, size_t errlen);

#endif
