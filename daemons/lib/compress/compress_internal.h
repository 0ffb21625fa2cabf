/*
 * What the codec files of the compress module share; not a public header.
 */
#ifndef LGTM_COMPRESS_INTERNAL_H
#define LGTM_COMPRESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "buf/buf.h"

/* Output is produced in pieces of at least this size, so a bomb is caught after at
 * most one piece past the limit is attempted (and that piece is never kept). */
#define COMPRESS_CHUNK (64 * 1024)

/* Fill err and return code, so codec files can `return compress_fail(...)`. */
int compress_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Room for at least min(want, limit) more bytes in out; returns how many bytes can be
 * written at out->data + out->len without passing limit, or 0 on allocation failure. */
size_t compress_room(struct buf *out, size_t want, size_t limit);

/* Account for n bytes written at out->data + out->len (room reserved beforehand). */
void compress_commit(struct buf *out, size_t n);

/* Every codec has this pair of signatures (level: 0 = the codec's default; out-of-range
 * levels are clamped). */
int compress_snappy_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			   char *err, size_t errlen);
int compress_snappy_encode(const void *in, size_t in_len, int level, struct buf *out,
			   char *err, size_t errlen);

/* gzip: RFC 1952 framing; deflate: RFC 1950 (what HTTP calls "deflate"). */
int compress_gzip_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			 char *err, size_t errlen);
int compress_gzip_encode(const void *in, size_t in_len, int level, struct buf *out, char *err,
			 size_t errlen);
int compress_deflate_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			    char *err, size_t errlen);
int compress_deflate_encode(const void *in, size_t in_len, int level, struct buf *out,
			    char *err, size_t errlen);

int compress_zstd_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			 char *err, size_t errlen);
int compress_zstd_encode(const void *in, size_t in_len, int level, struct buf *out, char *err,
			 size_t errlen);

#endif
