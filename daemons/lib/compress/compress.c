/*
 * Codec names and dispatch. Each codec lives in its own file; this file holds the
 * table that maps Content-Encoding tokens to codecs and calls, plus the identity "codec",
 * which still honours the output limit so callers can treat every body alike.
 */
#include "compress/compress.h"
#include "compress/compress_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int compress_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

void compress_commit(struct buf *out, size_t n)
{
	out->len += n;
	out->data[out->len] = '\0';
}

size_t compress_room(struct buf *out, size_t want, size_t limit)
{
	size_t room;

	if (want > limit)
		want = limit;
	if (want == 0 || buf_reserve(out, want) < 0)
		return 0;
	/* Use whatever capacity the buffer's doubling already gave us. */
	room = out->cap - out->len - 1;
	return room < limit ? room : limit;
}

static int identity_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			   char *err, size_t errlen)
{
	if (in_len > max_out)
		return compress_fail(err, errlen, COMPRESS_ETOOBIG,
				     "body of %zu bytes exceeds the limit of %zu bytes",
				     in_len, max_out);
	buf_append(out, in, in_len);
	if (out->oom)
		return compress_fail(err, errlen, COMPRESS_EOOM, "out of memory");
	return 0;
}

static int identity_encode(const void *in, size_t in_len, int level, struct buf *out,
			   char *err, size_t errlen)
{
	return identity_decode(in, in_len, in_len, out, err, errlen);
}

/* Indexed by enum compress_codec; `alias` is a second Content-Encoding token. */
static const struct codec {
	const char *name;
	const char *alias;
	int (*decode)(const void *in, size_t in_len, size_t max_out, struct buf *out, char *err,
		      size_t errlen);
	int (*encode)(const void *in, size_t in_len, int level, struct buf *out, char *err,
		      size_t errlen);
} codecs[] = {
	[COMPRESS_NONE] = { "identity", NULL, identity_decode, identity_encode },
	[COMPRESS_SNAPPY] = { "snappy", NULL, compress_snappy_decode, compress_snappy_encode },
	[COMPRESS_GZIP] = { "gzip", "x-gzip", compress_gzip_decode, compress_gzip_encode },
	[COMPRESS_DEFLATE] = { "deflate", NULL, compress_deflate_decode, compress_deflate_encode },
	[COMPRESS_ZSTD] = { "zstd", NULL, compress_zstd_decode, compress_zstd_encode },
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static bool token_eq(const char *tok, const char *s, size_t n)
{
	return tok && strlen(tok) == n && strncasecmp(tok, s, n) == 0;
}

int compress_codec_parse(const char *content_encoding, enum compress_codec *out)
{
	const char *s = content_encoding ? content_encoding : "";
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0) {
		*out = COMPRESS_NONE;
		return 0;
	}
	for (size_t i = 0; i < NCODECS; i++) {
		if (token_eq(codecs[i].name, s, n) || token_eq(codecs[i].alias, s, n)) {
			*out = (enum compress_codec)i;
			return 0;
		}
	}
	return COMPRESS_EUNKNOWN;
}

const char *compress_codec_name(enum compress_codec c)
{
	return (size_t)c < NCODECS ? codecs[c].name : "unknown";
}

int compress_decode(enum compress_codec c, const void *in, size_t in_len, size_t max_out,
		    struct buf *out, char *err, size_t errlen)
{
	if ((size_t)c >= NCODECS)
		return compress_fail(err, errlen, COMPRESS_EUNKNOWN, "unknown codec %d", (int)c);
	return codecs[c].decode(in, in_len, max_out, out, err, errlen);
}

int compress_encode(enum compress_codec c, const void *in, size_t in_len, int level,
		    struct buf *out, char *err, size_t errlen)
{
	if ((size_t)c >= NCODECS)
		return compress_fail(err, errlen, COMPRESS_EUNKNOWN, "unknown codec %d", (int)c);
	return codecs[c].encode(in, in_len, level, out, err, errlen);
}
