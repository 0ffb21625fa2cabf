/*
 * Snappy block format via snappy-c. The block header declares the decoded length, so
 * the limit is enforced before a single byte is decoded or allocated: a bomb costs
 * one varint read. snappy_uncompress() validates the rest while decoding.
 */
#include "compress/compress.h"
#include "compress/compress_internal.h"

#include <snappy-c.h>

int compress_snappy_decode(const void *in, size_t in_len, size_t max_out, struct buf *out,
			   char *err, size_t errlen)
{
	size_t n;

	if (snappy_uncompressed_length(in, in_len, &n) != SNAPPY_OK)
		return compress_fail(err, errlen, COMPRESS_ECORRUPT, "snappy: corrupt input");
	if (n > max_out)
		return compress_fail(err, errlen, COMPRESS_ETOOBIG,
				     "snappy: decoded length %zu exceeds the limit of %zu bytes",
				     n, max_out);
	if (buf_reserve(out, n) < 0)
		return compress_fail(err, errlen, COMPRESS_EOOM, "snappy: out of memory");
	if (snappy_uncompress(in, in_len, out->data + out->len, &n) != SNAPPY_OK)
		return compress_fail(err, errlen, COMPRESS_ECORRUPT, "snappy: corrupt input");
	compress_commit(out, n);
	return 0;
}

int compress_snappy_encode(const void *in, size_t in_len, int level, struct buf *out,
			   char *err, size_t errlen)
{
	size_t n = snappy_max_compressed_length(in_len);

	if (buf_reserve(out, n) < 0)
		return compress_fail(err, errlen, COMPRESS_EOOM, "snappy: out of memory");
	if (snappy_compress(in, in_len, out->data + out->len, &n) != SNAPPY_OK)
		return compress_fail(err, errlen, COMPRESS_EOOM, "snappy: compression failed");
	compress_commit(out, n);
	return 0;
}
