/*
 * The zero-copy remote-write decoder. protobuf-c unpacks a WriteRequest into one
 * allocated struct per series, label and sample, with two string copies per label;
 * on the ingestion path that was the largest single cost. This decoder walks the bytes
 * once, copies only the samples (as (t, v) pairs) and the label strings of series the
 * cache does not know, and does not even look inside the labels of a series it does.
 *
 * It reads a plain subset of the wire format, the one every sender produces: one-byte
 * tags of the fields below with their declared wire types, no unknown fields, no
 * singular field twice, length prefixes of at most 5 bytes, no metadata and no native
 * histograms. Anything else is REMOTE_WIRE_OTHER and goes to protobuf-c, so this
 * decoder never has to reject: it only has to be sure that protobuf-c, behind
 * proto_decode(), would accept the bytes and produce the same values. Within the
 * subset protobuf-c's framing checks and ours agree (tags, varints of at most 10 bytes
 * with proto_decode's 64-bit rule, lengths within the message), and the one other way
 * proto_decode() fails, its memory budget, is mirrored: `mem` adds up, as an upper
 * bound, what protobuf-c would allocate from the arena (each message struct, the
 * pointer arrays of repeated fields, its scratch slabs beyond 16 fields, each string
 * plus its NUL, all rounded to the arena's 16 bytes), and a body over the budget goes
 * to protobuf-c to be refused in its words.
 */
#include "remote/remote_internal.h"

#include <stdint.h>
#include <string.h>

#include "prometheus/remote.pb-c.h"
#include "prometheus/types.pb-c.h"
#include "proto/proto.h"

/* Tags (field number << 3 | wire type) of the fields read here. */
#define TAG_TIMESERIES   0x0a /* WriteRequest.timeseries = 1, LEN */
#define TAG_TS_LABEL     0x0a /* TimeSeries.labels = 1, LEN */
#define TAG_TS_SAMPLE    0x12 /* TimeSeries.samples = 2, LEN */
#define TAG_TS_EXEMPLAR  0x1a /* TimeSeries.exemplars = 3, LEN */
#define TAG_LABEL_NAME   0x0a /* Label.name = 1, LEN */
#define TAG_LABEL_VALUE  0x12 /* Label.value = 2, LEN */
#define TAG_SAMPLE_VALUE 0x09 /* Sample.value = 1, I64 */
#define TAG_SAMPLE_TIME  0x10 /* Sample.timestamp = 2, VARINT */
#define TAG_EX_LABEL     0x0a /* Exemplar.labels = 1, LEN */
#define TAG_EX_VALUE     0x11 /* Exemplar.value = 2, I64 */
#define TAG_EX_TIME      0x18 /* Exemplar.timestamp = 3, VARINT */

#define WIRE_VARINT 0
#define WIRE_I64    1
#define WIRE_LEN    2

/* protobuf-c's scanned-member scratch: 16 on the stack, then slabs of 32, 64, ...
 * members of at most 32 bytes each, allocated from the arena and never given back. */
#define PC_MEMBER_BYTES 32
#define PC_STACK_MEMBERS 16

/* Placeholder for an absent string: protobuf-c's default is "" too. */
static const char empty[] = "";

struct wire {
	struct arena *a;
	const struct remote_write_limits *lim;
	struct remote_series_cache *cache;
	size_t mem;     /* upper bound of protobuf-c's arena use so far */
	size_t budget;  /* proto_decode()'s memory budget for this body */
};

/* One label as sent; absent strings have has_* false. */
struct wlabel {
	const unsigned char *name, *value;
	size_t nlen, vlen;
	bool has_name, has_value;
};

/* --- primitives ---------------------------------------------------------------------- */

static size_t r16(size_t n)
{
	return ((n ? n : 1) + 15) & ~(size_t)15;
}

/* protobuf-c's slab bytes for a message with k fields on the wire. */
static size_t pc_slabs(size_t k)
{
	size_t total = 0, cap = PC_STACK_MEMBERS;

	for (unsigned i = 1; k > cap; i++) {
		total += (size_t)PC_MEMBER_BYTES << (i + 4);
		cap += (size_t)PC_STACK_MEMBERS << i;
	}
	return total;
}

static size_t pc_array(size_t n)
{
	return n ? r16(n * sizeof(void *)) : 0;
}

/* A length prefix (protobuf-c reads at most 5 bytes) that fits in what is left. */
static inline bool get_len(const unsigned char **pp, const unsigned char *end, size_t *len)
{
	const unsigned char *p = *pp;
	uint64_t v = 0;

	for (unsigned i = 0; i < 5 && p < end; i++) {
		unsigned char b = *p++;

		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (v > (uint64_t)(end - p))
				return false;
			*len = (size_t)v;
			*pp = p;
			return true;
		}
	}
	return false;
}

/* A varint value: at most 10 bytes, the 10th at most 1 (proto_decode's scan). */
static inline bool get_varint(const unsigned char **pp, const unsigned char *end, uint64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
		unsigned char b = *p++;

		if (shift == 63 && b > 1)
			return false;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			*pp = p;
			return true;
		}
	}
	return false;
}

static inline bool get_double(const unsigned char **pp, const unsigned char *end, double *v)
{
	const unsigned char *p = *pp;
	uint64_t bits = 0;

	if (end - p < 8)
		return false;
	for (int i = 7; i >= 0; i--)
		bits = (bits << 8) | p[i];
	memcpy(v, &bits, sizeof(*v));
	*pp = p + 8;
	return true;
}

/* Skip the value of a field whose tag was already accepted by a shape pass. */
static void skip(const unsigned char **pp, const unsigned char *end, unsigned char tag)
{
	uint64_t v;
	size_t len;

	switch (tag & 7) {
	case WIRE_VARINT:
		get_varint(pp, end, &v);
		break;
	case WIRE_I64:
		*pp += 8;
		break;
	default:
		if (get_len(pp, end, &len))
			*pp += len;
		break;
	}
}

/* --- labels -------------------------------------------------------------------------- */

static bool get_label(const unsigned char *p, const unsigned char *end, struct wlabel *l)
{
	memset(l, 0, sizeof(*l));
	while (p < end) {
		unsigned char tag = *p++;
		size_t len;

		if ((tag != TAG_LABEL_NAME || l->has_name) && (tag != TAG_LABEL_VALUE || l->has_value))
			return false;
		if (!get_len(&p, end, &len))
			return false;
		if (tag == TAG_LABEL_NAME) {
			l->name = p;
			l->nlen = len;
			l->has_name = true;
		} else {
			l->value = p;
			l->vlen = len;
			l->has_value = true;
		}
		p += len;
	}
	return true;
}

static size_t label_mem(const struct wlabel *l)
{
	return r16(sizeof(Prometheus__Label)) + (l->has_name ? r16(l->nlen + 1) : 0) +
	       (l->has_value ? r16(l->vlen + 1) : 0);
}

/* protobuf-c's NUL-terminated copy (a string with a NUL in it ends there for C, for
 * both decoders alike). */
static const char *copy_str(char **str, const unsigned char *s, size_t n)
{
	char *d = *str;

	memcpy(d, s, n);
	d[n] = '\0';
	*str = d + n + 1;
	return d;
}

/*
 * The labels among a message's fields (tag `tag`; the other fields were checked by a
 * shape pass): the ones with a non-empty value, in order, strings copied. nlabels and
 * bytes (the label fields' payload bytes) size the copy: a string's copy with its NUL
 * is never longer than its field. w may be NULL (no memory accounting).
 */
static int decode_labels(struct wire *w, struct arena *a, const unsigned char *p,
			 const unsigned char *end, unsigned char tag, size_t nlabels, size_t bytes,
			 struct labels *out)
{
	struct label *v = arena_alloc(a, nlabels * sizeof(*v) + bytes);
	char *str = (char *)(v + nlabels);
	size_t k = 0;

	if (!v)
		return REMOTE_WIRE_OOM;
	while (p < end) {
		unsigned char t = *p++;
		struct wlabel l;
		size_t len;

		if (t != tag) {
			skip(&p, end, t);
			continue;
		}
		if (!get_len(&p, end, &len) || !get_label(p, p + len, &l))
			return REMOTE_WIRE_OTHER;
		p += len;
		if (w)
			w->mem += label_mem(&l);
		if (!l.has_value || !l.vlen || !l.value[0])
			continue; /* an empty value means "no such label" */
		v[k].name = l.has_name ? copy_str(&str, l.name, l.nlen) : empty;
		v[k].value = copy_str(&str, l.value, l.vlen);
		k++;
	}
	*out = (struct labels){ v, k };
	return REMOTE_WIRE_OK;
}

int remote_wire_labels(const unsigned char *wire, size_t len, struct arena *a,
		       struct labels *out)
{
	const unsigned char *p = wire, *end = wire + len;
	size_t n = 0, bytes = 0, l;

	while (p < end) {
		if (*p++ != TAG_TS_LABEL || !get_len(&p, end, &l))
			return -1;
		p += l;
		bytes += l;
		n++;
	}
	return decode_labels(NULL, a, wire, end, TAG_TS_LABEL, n, bytes, out) == REMOTE_WIRE_OK ? 0 : -1;
}

/* --- samples and exemplars -------------------------------------------------------------- */

/* A Sample's or an Exemplar's value (I64) or timestamp (VARINT), each at most once:
 * 1 when tag is neither, -1 when malformed or repeated, 0 when read. */
struct point {
	double v;
	int64_t t;
	bool has_v, has_t;
};

static int get_point_field(unsigned char tag, unsigned char vtag, unsigned char ttag,
			   const unsigned char **pp, const unsigned char *end, struct point *pt)
{
	uint64_t t;

	if (tag == vtag) {
		if (pt->has_v || !get_double(pp, end, &pt->v))
			return -1;
		pt->has_v = true;
		return 0;
	}
	if (tag != ttag)
		return 1;
	if (pt->has_t || !get_varint(pp, end, &t))
		return -1;
	pt->t = (int64_t)t;
	pt->has_t = true;
	return 0;
}

static bool get_sample(const unsigned char *p, const unsigned char *end, struct tsdb_sample *s)
{
	struct point pt = { 0 };

	while (p < end) {
		unsigned char tag = *p++;

		if (get_point_field(tag, TAG_SAMPLE_VALUE, TAG_SAMPLE_TIME, &p, end, &pt) != 0)
			return false;
	}
	s->t = pt.t;
	s->v = pt.v;
	return true;
}

static int get_exemplar(struct wire *w, const unsigned char *p, const unsigned char *end,
			struct tsdb_exemplar *e)
{
	const unsigned char *q = p;
	struct point pt = { 0 };
	size_t nlabels = 0, bytes = 0, len;
	int rc;

	while (q < end) {
		unsigned char tag = *q++;

		if (tag == TAG_EX_LABEL) {
			if (!get_len(&q, end, &len))
				return REMOTE_WIRE_OTHER;
			q += len;
			bytes += len;
			nlabels++;
		} else if (get_point_field(tag, TAG_EX_VALUE, TAG_EX_TIME, &q, end, &pt) != 0) {
			return REMOTE_WIRE_OTHER;
		}
	}
	e->t = pt.t;
	e->v = pt.v;
	w->mem += r16(sizeof(Prometheus__Exemplar)) + pc_slabs(nlabels + pt.has_v + pt.has_t) +
		  pc_array(nlabels);
	rc = decode_labels(w, w->a, p, end, TAG_EX_LABEL, nlabels, bytes, &e->labels);
	if (rc == REMOTE_WIRE_OK)
		labels_sort(&e->labels);
	return rc;
}

/* --- series ------------------------------------------------------------------------------- */

/* What a TimeSeries holds, from one pass over its fields. */
struct shape {
	const unsigned char *lab, *lab_end; /* the label fields, when contiguous */
	bool split;                         /* label fields with other fields between */
	size_t nlabels, nsamples, nexemplars;
	size_t label_bytes;                 /* payload bytes of the label fields */
};

static bool get_shape(const unsigned char *p, const unsigned char *end, struct shape *sh)
{
	unsigned char prev = 0;

	memset(sh, 0, sizeof(*sh));
	while (p < end) {
		const unsigned char *at = p;
		unsigned char tag = *p++;
		size_t len;

		if (tag != TAG_TS_LABEL && tag != TAG_TS_SAMPLE && tag != TAG_TS_EXEMPLAR)
			return false;
		if (!get_len(&p, end, &len))
			return false;
		p += len;
		if (tag == TAG_TS_LABEL) {
			if (!sh->lab)
				sh->lab = at;
			else if (prev != TAG_TS_LABEL)
				sh->split = true;
			sh->lab_end = p;
			sh->nlabels++;
			sh->label_bytes += len;
		} else if (tag == TAG_TS_SAMPLE) {
			sh->nsamples++;
		} else {
			sh->nexemplars++;
		}
		prev = tag;
	}
	return true;
}

/* Samples and exemplars, in order. */
static int get_points(struct wire *w, const unsigned char *p, const unsigned char *end,
		      struct tsdb_sample *smp, struct tsdb_exemplar *ex)
{
	size_t ns = 0, ne = 0, len = 0;
	int rc;

	while (p < end) {
		unsigned char tag = *p++;

		get_len(&p, end, &len); /* the shape pass checked every field */
		if (tag == TAG_TS_SAMPLE) {
			if (!get_sample(p, p + len, &smp[ns++]))
				return REMOTE_WIRE_OTHER;
			w->mem += r16(sizeof(Prometheus__Sample));
		} else if (tag == TAG_TS_EXEMPLAR) {
			rc = get_exemplar(w, p, p + len, &ex[ne++]);
			if (rc != REMOTE_WIRE_OK)
				return rc;
		}
		p += len;
	}
	return REMOTE_WIRE_OK;
}

/* A series read but not yet judged: where it is, its labels' shape and cache key. The
 * decoder keeps the last AHEAD of them, so each cache lookup was prefetched AHEAD
 * series before it is made. */
#define AHEAD 8

struct pending {
	const unsigned char *p, *end;
	size_t nlabels, label_bytes;
	uint64_t key[2];
	bool keyed;
};

/* First pass over series i: everything but the labels, and the cache key. */
static int read_series(struct wire *w, const unsigned char *p, const unsigned char *end,
		       struct remote_write_batch *b, size_t i, struct pending *pd)
{
	struct tsdb_db_series *s = &b->series[i];
	struct remote_wire_span *sp = &b->wire[i];
	struct tsdb_sample *smp;
	struct tsdb_exemplar *ex = NULL;
	struct shape sh;
	int rc;

	if (!get_shape(p, end, &sh))
		return REMOTE_WIRE_OTHER;
	w->mem += r16(sizeof(Prometheus__TimeSeries)) +
		  pc_slabs(sh.nlabels + sh.nsamples + sh.nexemplars) + pc_array(sh.nlabels) +
		  pc_array(sh.nsamples) + pc_array(sh.nexemplars);
	smp = arena_alloc(w->a, (sh.nsamples ? sh.nsamples : 1) * sizeof(*smp));
	if (sh.nexemplars)
		ex = arena_alloc(w->a, sh.nexemplars * sizeof(*ex));
	if (!smp || (sh.nexemplars && !ex))
		return REMOTE_WIRE_OOM;
	rc = get_points(w, p, end, smp, ex);
	if (rc != REMOTE_WIRE_OK)
		return rc;
	/* Field by field: zeroing the struct whole (a rep stos) was a tenth of this file's
	 * time. */
	s->labels = NULL;
	s->ref = 0;
	s->samples = smp;
	s->n = sh.nsamples;
	s->exemplars = ex;
	s->nexemplars = sh.nexemplars;
	*pd = (struct pending){ p, end, sh.nlabels, sh.label_bytes, { 0, 0 }, false };
	if (!sh.nlabels || sh.split) {
		*sp = (struct remote_wire_span){ 0, 0 };
		return REMOTE_WIRE_OK;
	}
	/* The body is at most 4 GiB (remote_wire_decode), so are offsets into it. */
	*sp = (struct remote_wire_span){ (uint32_t)(sh.lab - b->wire_base),
					 (uint32_t)(sh.lab_end - sh.lab) };
	if (w->cache) {
		remote_series_cache_key(w->cache, sh.lab, sp->len, pd->key);
		remote_series_cache_prefetch(w->cache, pd->key);
		pd->keyed = true;
	}
	return REMOTE_WIRE_OK;
}

/* Second pass over series i: one the cache knows is kept as it is (it was validated
 * when cached, from these very bytes; its labels' share of protobuf-c's memory is
 * bounded from their sizes: two strings cost at most their bytes plus 32); the others
 * have their labels decoded and judged. Kept series move down to b->nseries. */
static int judge_series(struct wire *w, struct remote_write_batch *b, size_t i,
			const struct pending *pd)
{
	struct tsdb_db_series *s = &b->series[b->nseries];
	struct labels *ls;
	int rc;

	if (b->nseries != i) {
		*s = b->series[i];
		b->wire[b->nseries] = b->wire[i];
	}
	if (pd->keyed)
		s->ref = remote_series_cache_find(w->cache, pd->key);
	if (s->ref) {
		w->mem += pd->nlabels * (r16(sizeof(Prometheus__Label)) + 32) + pd->label_bytes;
		b->nsamples += s->n;
		b->nexemplars += s->nexemplars;
		b->nseries++;
		return REMOTE_WIRE_OK;
	}
	ls = arena_alloc(w->a, sizeof(*ls));
	if (!ls)
		return REMOTE_WIRE_OOM;
	rc = decode_labels(w, w->a, pd->p, pd->end, TAG_TS_LABEL, pd->nlabels, pd->label_bytes, ls);
	if (rc != REMOTE_WIRE_OK)
		return rc;
	return remote_accept_series(b, ls, s->n, w->lim) < 0 ? REMOTE_WIRE_OOM : REMOTE_WIRE_OK;
}

/* proto_decode()'s default budget (no max_mem is set for remote write). */
static size_t pc_budget(size_t len)
{
	if (len > (SIZE_MAX - PROTO_DEFAULT_MEM_SLACK) / PROTO_DEFAULT_MEM_FACTOR)
		return SIZE_MAX;
	return len * PROTO_DEFAULT_MEM_FACTOR + PROTO_DEFAULT_MEM_SLACK;
}

int remote_wire_decode(const void *pb, size_t len, const struct remote_write_limits *lim,
		       struct remote_series_cache *cache, struct arena *a,
		       struct remote_write_batch *out)
{
	const unsigned char *p = pb, *end = p + len, *q;
	struct wire w = { .a = a, .lim = lim, .cache = cache, .budget = pc_budget(len) };
	struct pending ring[AHEAD];
	size_t n = 0, l = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > UINT32_MAX)
		return REMOTE_WIRE_OTHER;
	for (q = p; q < end; q += l, n++)
		if (*q++ != TAG_TIMESERIES || !get_len(&q, end, &l))
			return REMOTE_WIRE_OTHER;
	w.mem = r16(sizeof(Prometheus__WriteRequest)) + pc_slabs(n) + pc_array(n);
	out->wire_base = p;
	if (remote_batch_series(out, n) < 0)
		return REMOTE_WIRE_OOM;
	/* Series i is read while series i - AHEAD, whose cache entry is being loaded
	 * since it was read, is judged. */
	for (size_t i = 0; i < n + AHEAD; i++) {
		if (i >= AHEAD) {
			rc = judge_series(&w, out, i - AHEAD, &ring[(i - AHEAD) % AHEAD]);
			if (rc != REMOTE_WIRE_OK)
				return rc;
		}
		if (i >= n)
			continue;
		p++;
		get_len(&p, end, &l);
		rc = read_series(&w, p, p + l, out, i, &ring[i % AHEAD]);
		if (rc != REMOTE_WIRE_OK)
			return rc;
		if (w.mem > w.budget)
			return REMOTE_WIRE_OTHER;
		p += l;
	}
	if (w.mem > w.budget)
		return REMOTE_WIRE_OTHER;
	return remote_batch_finish(out) < 0 ? REMOTE_WIRE_OOM : REMOTE_WIRE_OK;
}
