/*
 * WAL record codecs, byte-compatible with Prometheus' tsdb/record (version 1 of the
 * samples record): a type byte, then big-endian 64-bit refs and base timestamps,
 * Go-style varints (LEB128; signed ones zigzag-encoded) for deltas and lengths, and
 * float64 values as their big-endian IEEE bits. Deltas are taken against the first
 * entry, not the previous one, exactly as upstream, so records stay interchangeable.
 *
 * Record types of our own, outside Prometheus' numbers: lgtm's columnar samples
 * records (written only when asked for), the same entries laid out so that a
 * compressor finds their redundancy. A record holds one remote-write request's
 * samples, one per series and mostly at one timestamp; row by row, snappy and zstd
 * see 8-byte values with no repeats. Column by column, refs and times as deltas from
 * the previous entry are runs of 1 and 0. Values: most are decimals (integer
 * counters, page-sized gauges, hundredths, nanosecond durations), whose binary
 * fractions look random to a compressor while their decimal mantissas are short.
 *   0x82 | uvarint n | n zigzag varints ref - previous ref (the first from 0)
 *        | n zigzag varints t - previous t (the first from 0)
 *        | n kind bytes: k * 9 + L for a value m / 10^k (tsdb_decimal_split),
 *          0xff for any other (NaN, stale markers, infinities, -0, full-precision)
 *        | per value in order: L bytes of zigzag(m), most significant first, or the
 *          8 bytes of the IEEE bits (big-endian) for a 0xff kind.
 * The kinds repeat from target to target and the mantissa bytes are mostly the
 * value's information: 2.1 bytes per sample after zstd on the benchmark's WAL. Older
 * builds wrote 0x81, still read: the same refs and times, then the 8n bytes of the
 * values' bits one significance plane at a time (the most significant byte of every
 * value, then the next, ...): 3.6 bytes per sample after zstd.
 *
 * Decoding treats the input as hostile even though every fragment passed its CRC:
 * counts are bounded by the bytes left before anything is allocated, arithmetic on
 * deltas wraps in unsigned space, and trailing bytes are an error.
 */
#include "tsdb/internal.h"
#include "tsdb/wal_internal.h"

#include <endian.h>
#include <string.h>

/* --- encoding --------------------------------------------------------------------- */

static void put_double(struct buf *b, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, 8);
	tsdb_put_be64(b, bits);
}

static void put_labels(struct buf *b, const struct labels *ls)
{
	tsdb_put_uvarint(b, ls->n);
	for (size_t i = 0; i < ls->n; i++) {
		size_t nl = strlen(ls->v[i].name), vl = strlen(ls->v[i].value);

		tsdb_put_uvarint(b, nl);
		buf_append(b, ls->v[i].name, nl);
		tsdb_put_uvarint(b, vl);
		buf_append(b, ls->v[i].value, vl);
	}
}

void tsdb_wal_encode_series(struct buf *out, const struct tsdb_wal_series *s, size_t n)
{
	buf_putc(out, TSDB_WAL_REC_SERIES);
	for (size_t i = 0; i < n; i++) {
		tsdb_put_be64(out, s[i].ref);
		put_labels(out, &s[i].labels);
	}
}

/* A samples or exemplars entry: ref and time as deltas from the record's first entry,
 * which is preceded by that base (big-endian, as upstream). */
static void put_delta(struct buf *out, bool first, uint64_t ref0, int64_t t0, uint64_t ref,
		      int64_t t, double v)
{
	if (first) {
		tsdb_put_be64(out, ref0);
		tsdb_put_be64(out, (uint64_t)t0);
	}
	tsdb_put_varint(out, (int64_t)(ref - ref0));
	tsdb_put_varint(out, (int64_t)((uint64_t)t - (uint64_t)t0));
	put_double(out, v);
}

static unsigned char *raw_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
	return p + 8;
}

static unsigned char *raw_uvarint(unsigned char *p, uint64_t u)
{
	while (u >= 0x80) {
		*p++ = (unsigned char)(u | 0x80);
		u >>= 7;
	}
	*p++ = (unsigned char)u;
	return p;
}

static unsigned char *raw_varint(unsigned char *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (u >= 0x80) {
		*p++ = (unsigned char)(u | 0x80);
		u >>= 7;
	}
	*p++ = (unsigned char)u;
	return p;
}

/* The remote-write path logs one of these per request with thousands of entries:
 * written in place after one reservation rather than field by field through
 * buf_append(). Same bytes as put_delta() would produce. */
void tsdb_wal_encode_samples(struct buf *out, const struct tsdb_wal_sample *s, size_t n)
{
	enum { ENTRY_MAX = 10 + 10 + 8 };
	unsigned char *p;
	uint64_t bits;

	if (n > (SIZE_MAX - 17) / ENTRY_MAX || buf_reserve(out, 17 + n * ENTRY_MAX) < 0)
		return;
	p = (unsigned char *)out->data + out->len;
	*p++ = TSDB_WAL_REC_SAMPLES;
	if (n) {
		p = raw_be64(p, s[0].ref);
		p = raw_be64(p, (uint64_t)s[0].t);
	}
	for (size_t i = 0; i < n; i++) {
		p = raw_varint(p, (int64_t)(s[i].ref - s[0].ref));
		p = raw_varint(p, (int64_t)((uint64_t)s[i].t - (uint64_t)s[0].t));
		memcpy(&bits, &s[i].v, 8);
		p = raw_be64(p, bits);
	}
	out->len = (size_t)(p - (unsigned char *)out->data);
	out->data[out->len] = '\0';
}

/* The 0x82 record's kind byte for a value that is not a decimal. */
#define KIND_RAW 0xff
#define KIND_DECIMALS (19 * 9) /* k <= 18, L <= 8 */

static unsigned char *put_refs_times(unsigned char *p, const struct tsdb_wal_sample *s,
				     size_t n)
{
	uint64_t ref = 0, t = 0;

	p = raw_uvarint(p, n);
	for (size_t i = 0; i < n; i++) {
		p = raw_varint(p, (int64_t)(s[i].ref - ref));
		ref = s[i].ref;
	}
	for (size_t i = 0; i < n; i++) {
		p = raw_varint(p, (int64_t)((uint64_t)s[i].t - t));
		t = (uint64_t)s[i].t;
	}
	return p;
}

/* One value: its kind byte in *kind, its bytes at p (8 bytes may be written: each
 * entry has 8 reserved for its value). */
static unsigned char *put_value(unsigned char *p, unsigned char *kind, double v)
{
	int64_t m;
	int k, len;
	uint64_t z, bits;

	if (!tsdb_decimal_split(v, &m, &k)) {
		*kind = KIND_RAW;
		memcpy(&bits, &v, 8);
		return raw_be64(p, bits);
	}
	z = ((uint64_t)m << 1) ^ (uint64_t)(m >> 63);
	len = z ? (71 - __builtin_clzll(z)) / 8 : 0;
	*kind = (unsigned char)(k * 9 + len);
	if (len) {
		bits = htobe64(z << (64 - 8 * len)); /* the len low bytes, first */
		memcpy(p, &bits, 8);
	}
	return p + len;
}

void tsdb_wal_encode_samples_dense(struct buf *out, const struct tsdb_wal_sample *s, size_t n)
{
	enum { ENTRY_MAX = 10 + 10 + 1 + 8 };
	unsigned char *p, *kinds;

	if (n > (SIZE_MAX - 11) / ENTRY_MAX || buf_reserve(out, 11 + n * ENTRY_MAX) < 0)
		return;
	p = (unsigned char *)out->data + out->len;
	*p++ = TSDB_WAL_REC_SAMPLES_DENSE2;
	p = put_refs_times(p, s, n);
	kinds = p;
	p += n;
	for (size_t i = 0; i < n; i++)
		p = put_value(p, &kinds[i], s[i].v);
	out->len = (size_t)(p - (unsigned char *)out->data);
	out->data[out->len] = '\0';
}

void tsdb_wal_encode_tombstones(struct buf *out, const struct tsdb_wal_tombstone *s, size_t n)
{
	buf_putc(out, TSDB_WAL_REC_TOMBSTONES);
	for (size_t i = 0; i < n; i++) {
		tsdb_put_be64(out, s[i].ref);
		tsdb_put_varint(out, s[i].mint);
		tsdb_put_varint(out, s[i].maxt);
	}
}

void tsdb_wal_encode_exemplars(struct buf *out, const struct tsdb_wal_exemplar *s, size_t n)
{
	buf_putc(out, TSDB_WAL_REC_EXEMPLARS);
	for (size_t i = 0; i < n; i++) {
		put_delta(out, i == 0, s[0].ref, s[0].t, s[i].ref, s[i].t, s[i].v);
		put_labels(out, &s[i].labels);
	}
}

int tsdb_wal_parse_encoding(const char *s, enum tsdb_wal_encoding *out)
{
	int dense = tsdb_parse_dense(s);

	if (dense < 0)
		return -1;
	*out = dense ? TSDB_WAL_ENC_DENSE : TSDB_WAL_ENC_PROMETHEUS;
	return 0;
}

int tsdb_wal_record_type(const void *rec, size_t len)
{
	return len ? *(const unsigned char *)rec : -1;
}

/* --- decoding --------------------------------------------------------------------- */

struct wal_dec {
	const unsigned char *p, *end;
	uint64_t ref0, t0; /* base of delta-encoded records */
	const char *why;   /* first problem seen; later reads return zeros */
	bool oom;
};

static size_t dec_left(const struct wal_dec *d)
{
	return (size_t)(d->end - d->p);
}

static bool dec_need(struct wal_dec *d, size_t n)
{
	if (d->why)
		return false;
	if (dec_left(d) < n) {
		d->why = "unexpected end of record";
		return false;
	}
	return true;
}

static uint64_t get_be64(struct wal_dec *d)
{
	uint64_t v = 0;

	if (!dec_need(d, 8))
		return 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | *d->p++;
	return v;
}

static uint64_t get_uvarint(struct wal_dec *d)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (!dec_need(d, 1))
			return 0;
		unsigned char c = *d->p++;

		if (shift == 63 && c > 1)
			break;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	d->why = "varint overflows 64 bits";
	return 0;
}

static inline int64_t unzigzag(uint64_t u)
{
	return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

static int64_t get_varint(struct wal_dec *d)
{
	return unzigzag(get_uvarint(d));
}

static double get_double(struct wal_dec *d)
{
	uint64_t bits = get_be64(d);
	double v;

	memcpy(&v, &bits, 8);
	return v;
}

/* A length-prefixed string copied NUL-terminated into the arena, or NULL. */
static const char *get_str(struct wal_dec *d, struct arena *a)
{
	uint64_t n = get_uvarint(d);
	char *s;

	if (!dec_need(d, n))
		return NULL;
	if (memchr(d->p, 0, n)) {
		d->why = "NUL byte in a label";
		return NULL;
	}
	s = arena_strndup(a, (const char *)d->p, n);
	if (!s) {
		d->oom = true;
		return NULL;
	}
	d->p += n;
	return s;
}

static void get_labels(struct wal_dec *d, struct arena *a, struct labels *ls)
{
	uint64_t n = get_uvarint(d);

	ls->v = NULL;
	ls->n = 0;
	if (d->why || n == 0)
		return;
	if (n > dec_left(d) / 2) { /* each label takes at least two length bytes */
		d->why = "label count exceeds record size";
		return;
	}
	ls->v = arena_calloc(a, n, sizeof(*ls->v));
	if (!ls->v) {
		d->oom = true;
		return;
	}
	for (uint64_t i = 0; i < n && !d->why && !d->oom; i++) {
		ls->v[i].name = get_str(d, a);
		if (ls->v[i].name)
			ls->v[i].value = get_str(d, a);
	}
	ls->n = n;
}

/* Entries of each record type. Samples and exemplars carry their ref and time as
 * deltas from the base (d->ref0, d->t0) read before the first entry. */
static void get_series(struct wal_dec *d, struct arena *a, void *e)
{
	struct tsdb_wal_series *s = e;

	s->ref = get_be64(d);
	get_labels(d, a, &s->labels);
}

static void get_sample(struct wal_dec *d, struct arena *a, void *e)
{
	struct tsdb_wal_sample *s = e;

	s->ref = d->ref0 + (uint64_t)get_varint(d);
	s->t = (int64_t)(d->t0 + (uint64_t)get_varint(d));
	s->v = get_double(d);
}

/* A uvarint from p, which has at least 10 bytes: what get_uvarint() reads, without a
 * bounds check per byte. false (p unchanged) for a varint get_uvarint() refuses. */
static inline bool fast_uvarint(const unsigned char **p, uint64_t *out)
{
	const unsigned char *q = *p;
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		unsigned char c = *q++;

		if (shift == 63 && c > 1)
			return false;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			*p = q;
			return true;
		}
	}
	return false;
}

/* Samples while the longest one (two 10-byte varints and a value) surely fits: what
 * get_sample() decodes, inlined and without per-byte checks (replay and checkpoints
 * read every sample logged). Stops at anything unusual; get_sample() then goes on
 * from there and reports it. Returns the entries decoded into v. */
static size_t get_samples_fast(struct wal_dec *d, struct tsdb_wal_sample *v, size_t cap)
{
	size_t i = 0;

	while (i < cap && dec_left(d) >= 28) {
		const unsigned char *p = d->p;
		uint64_t r, t, bits = 0;

		if (!fast_uvarint(&p, &r) || !fast_uvarint(&p, &t))
			break;
		for (int k = 0; k < 8; k++)
			bits = (bits << 8) | p[k];
		v[i].ref = d->ref0 + (uint64_t)unzigzag(r);
		v[i].t = (int64_t)(d->t0 + (uint64_t)unzigzag(t));
		memcpy(&v[i].v, &bits, 8);
		d->p = p + 8;
		i++;
	}
	return i;
}

static void get_tombstone(struct wal_dec *d, struct arena *a, void *e)
{
	struct tsdb_wal_tombstone *s = e;

	s->ref = get_be64(d);
	s->mint = get_varint(d);
	s->maxt = get_varint(d);
}

static void get_exemplar(struct wal_dec *d, struct arena *a, void *e)
{
	struct tsdb_wal_exemplar *x = e;

	x->ref = d->ref0 + (uint64_t)get_varint(d);
	x->t = (int64_t)(d->t0 + (uint64_t)get_varint(d));
	x->v = get_double(d);
	get_labels(d, a, &x->labels);
}

/* The columnar records' count, refs and times, into v[0..*cnt); each entry takes at
 * least `min` bytes of the record (bounds the count before anything is read). */
static bool get_refs_times(struct wal_dec *d, struct tsdb_wal_sample *v, size_t cap,
			   size_t min, size_t *cnt)
{
	uint64_t c = get_uvarint(d), ref = 0, t = 0;

	if (d->why)
		return false;
	if (c > cap || c > dec_left(d) / min) {
		d->why = "sample count exceeds record size";
		return false;
	}
	for (size_t i = 0; i < c; i++) {
		ref += (uint64_t)get_varint(d);
		v[i].ref = ref;
	}
	for (size_t i = 0; i < c; i++) {
		t += (uint64_t)get_varint(d);
		v[i].t = (int64_t)t;
	}
	*cnt = c;
	return !d->why;
}

/* The 0x81 record after its type byte: values as byte planes. */
static void get_dense_samples(struct wal_dec *d, struct tsdb_wal_sample *v, size_t cap,
			      size_t *n)
{
	size_t cnt;

	if (!get_refs_times(d, v, cap, 10, &cnt))
		return;
	if (dec_left(d) != cnt * 8) {
		d->why = dec_left(d) < cnt * 8 ? "unexpected end of record" : "trailing bytes";
		return;
	}
	for (size_t i = 0; i < cnt; i++) {
		uint64_t bits = 0;

		for (size_t k = 0; k < 8; k++)
			bits = bits << 8 | d->p[k * cnt + i];
		memcpy(&v[i].v, &bits, 8);
	}
	d->p = d->end;
	*n = cnt;
}

/* One value of the 0x82 record by its kind byte. */
static double get_value(struct wal_dec *d, unsigned kind)
{
	unsigned len = kind == KIND_RAW ? 8 : kind % 9;
	uint64_t z = 0;
	int64_t m;

	if (kind != KIND_RAW && kind >= KIND_DECIMALS) {
		d->why = "bad value kind";
		return 0;
	}
	if (!dec_need(d, len))
		return 0;
	for (unsigned i = 0; i < len; i++)
		z = z << 8 | *d->p++;
	if (kind == KIND_RAW) {
		double v;

		memcpy(&v, &z, 8);
		return v;
	}
	m = (int64_t)((z >> 1) ^ (0 - (z & 1)));
	return (double)m / tsdb_ten_to((int)(kind / 9));
}

/* The 0x82 record after its type byte: values as decimal mantissas. */
static void get_dense2_samples(struct wal_dec *d, struct tsdb_wal_sample *v, size_t cap,
			       size_t *n)
{
	const unsigned char *kinds;
	size_t cnt;

	if (!get_refs_times(d, v, cap, 3, &cnt))
		return;
	if (!dec_need(d, cnt))
		return;
	kinds = d->p;
	d->p += cnt;
	for (size_t i = 0; i < cnt && !d->why; i++)
		v[i].v = get_value(d, kinds[i]);
	if (!d->why && d->p != d->end)
		d->why = "trailing bytes";
	if (!d->why)
		*n = cnt;
}

/* Typed encoders behind one signature, for code that treats all kinds alike. */
static void enc_series(struct buf *o, const void *v, size_t n)
{
	tsdb_wal_encode_series(o, v, n);
}

static void enc_samples(struct buf *o, const void *v, size_t n)
{
	tsdb_wal_encode_samples(o, v, n);
}

static void enc_samples_dense(struct buf *o, const void *v, size_t n)
{
	tsdb_wal_encode_samples_dense(o, v, n);
}

static void enc_tombstones(struct buf *o, const void *v, size_t n)
{
	tsdb_wal_encode_tombstones(o, v, n);
}

static void enc_exemplars(struct buf *o, const void *v, size_t n)
{
	tsdb_wal_encode_exemplars(o, v, n);
}

static const struct wal_kind kinds[] = {
	{ TSDB_WAL_REC_SERIES, "series", sizeof(struct tsdb_wal_series), 9, false, -1,
	  get_series, enc_series },
	{ TSDB_WAL_REC_SAMPLES, "samples", sizeof(struct tsdb_wal_sample), 10, true,
	  offsetof(struct tsdb_wal_sample, t), get_sample, enc_samples },
	{ TSDB_WAL_REC_TOMBSTONES, "tombstones", sizeof(struct tsdb_wal_tombstone), 10, false,
	  offsetof(struct tsdb_wal_tombstone, maxt), get_tombstone, enc_tombstones },
	{ TSDB_WAL_REC_EXEMPLARS, "exemplars", sizeof(struct tsdb_wal_exemplar), 11, true,
	  offsetof(struct tsdb_wal_exemplar, t), get_exemplar, enc_exemplars },
	/* columnar: decoded whole (get_dense_samples(), get_dense2_samples()), not entry
	 * by entry; the encoder writes 0x82, so checkpoints rewrite 0x81 records as 0x82 */
	{ TSDB_WAL_REC_SAMPLES_DENSE, "dense samples", sizeof(struct tsdb_wal_sample), 10,
	  false, offsetof(struct tsdb_wal_sample, t), NULL, enc_samples_dense },
	{ TSDB_WAL_REC_SAMPLES_DENSE2, "dense samples", sizeof(struct tsdb_wal_sample), 3,
	  false, offsetof(struct tsdb_wal_sample, t), NULL, enc_samples_dense },
};

const struct wal_kind *wal_kind_of(int type)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].type == type)
			return &kinds[i];
	return NULL;
}

int wal_decode(const struct wal_kind *k, const void *rec, size_t len, struct arena *a,
	       void **out, size_t *n, char *err, size_t errlen)
{
	struct wal_dec d = { .p = rec, .end = (const unsigned char *)rec + len };
	unsigned char *v = NULL;
	size_t cap, i = 0;

	*out = NULL;
	*n = 0;
	if (len == 0 || d.p[0] != k->type)
		return WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT, "decode %s record: wrong record type",
				k->name);
	d.p++;
	/* Room for as many entries as the bytes could hold, before reading any count. */
	cap = dec_left(&d) / k->min_size + 1;
	v = arena_alloc(a, cap * k->elem);
	if (!v)
		return WAL_FAIL(err, errlen, -1, "decode %s record: out of memory", k->name);
	if (k->deltas && dec_left(&d) > 0) {
		d.ref0 = get_be64(&d);
		d.t0 = get_be64(&d);
		if (!d.why && dec_left(&d) == 0)
			d.why = "no entries after the base";
	}
	if (k->type == TSDB_WAL_REC_SAMPLES_DENSE)
		get_dense_samples(&d, (struct tsdb_wal_sample *)(void *)v, cap, &i);
	else if (k->type == TSDB_WAL_REC_SAMPLES_DENSE2)
		get_dense2_samples(&d, (struct tsdb_wal_sample *)(void *)v, cap, &i);
	else if (k->type == TSDB_WAL_REC_SAMPLES && !d.why)
		i = get_samples_fast(&d, (struct tsdb_wal_sample *)(void *)v, cap);
	for (; k->get && !d.why && !d.oom && dec_left(&d) > 0 && i < cap; i++)
		k->get(&d, a, v + i * k->elem);
	if (d.oom)
		return WAL_FAIL(err, errlen, -1, "decode %s record: out of memory", k->name);
	if (d.why)
		return WAL_FAIL(err, errlen, TSDB_WAL_ECORRUPT, "decode %s record: %s in entry %zu",
				k->name, d.why, i);
	*out = v;
	*n = i;
	return 0;
}

/* The public decoders differ only in their entry type. */
#define DECODER(name, type, rectype)                                                      \
	int tsdb_wal_decode_##name(const void *rec, size_t len, struct arena *a, type **out, \
				   size_t *n, char *err, size_t errlen)                      \
	{                                                                                 \
		void *v;                                                                  \
		int rc = wal_decode(wal_kind_of(rectype), rec, len, a, &v, n, err, errlen); \
		*out = v;                                                                 \
		return rc;                                                                \
	}

DECODER(series, struct tsdb_wal_series, TSDB_WAL_REC_SERIES)
DECODER(tombstones, struct tsdb_wal_tombstone, TSDB_WAL_REC_TOMBSTONES)
DECODER(exemplars, struct tsdb_wal_exemplar, TSDB_WAL_REC_EXEMPLARS)

/* Samples come in either layout. */
int tsdb_wal_decode_samples(const void *rec, size_t len, struct arena *a,
			    struct tsdb_wal_sample **out, size_t *n, char *err, size_t errlen)
{
	int type = tsdb_wal_record_type(rec, len);
	void *v;
	int rc;

	rc = wal_decode(wal_kind_of(tsdb_wal_is_samples(type) ? type : TSDB_WAL_REC_SAMPLES),
			rec, len, a, &v, n, err, errlen);
	*out = v;
	return rc;
}
