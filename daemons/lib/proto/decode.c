/*
 * Guarded protobuf decoding. protobuf-c unpacks recursively with no depth limit and
 * allocates freely, so untrusted bytes first get one cheap pass over the wire format
 * that follows the message descriptors: it checks every tag, varint and length
 * against the buffer and counts submessage nesting, recursing at most max_depth
 * levels itself. Only bytes that pass are handed to protobuf-c, whose allocator is
 * the caller's arena behind a byte budget, so an allocation-amplifying payload (many
 * empty submessages) ends as a clean PROTO_ETOOBIG instead of a memory spike.
 *
 * The scan only frames; field types, packed arrays and oneofs stay protobuf-c's job.
 */
#include "proto/proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define WIRE_VARINT  0
#define WIRE_FIXED64 1
#define WIRE_LEN     2
#define WIRE_FIXED32 5

#define MAX_FIELD_NUMBER ((1u << 29) - 1)

struct scan {
	const uint8_t *base; /* start of the whole payload, for offsets in messages */
	unsigned max_depth;
	char *err;
	size_t errlen;
};

struct budget {
	struct arena *arena;
	size_t start;
	size_t max;
	bool over;
	bool oom;
};

/* Reads a varint at *p (< end); advances *p. Returns -1 when cut short or > 64 bits. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int scan_fail(struct scan *s, int rc, const ProtobufCMessageDescriptor *d,
		     const uint8_t *at, const char *what, uint64_t field)
{
	snprintf(s->err, s->errlen, "%s: %s (field %llu, offset %zu)", d->name, what,
		 (unsigned long long)field, (size_t)(at - s->base));
	return rc;
}

/* Skips one non-message value of wire type wt; returns the new position or NULL. */
static const uint8_t *skip_value(const uint8_t *p, const uint8_t *end, unsigned wt)
{
	uint64_t v;

	switch (wt) {
	case WIRE_VARINT:
		return read_varint(&p, end, &v) < 0 ? NULL : p;
	case WIRE_FIXED64:
		return end - p < 8 ? NULL : p + 8;
	case WIRE_FIXED32:
		return end - p < 4 ? NULL : p + 4;
	default:
		return NULL;
	}
}

static int scan_message(struct scan *s, const ProtobufCMessageDescriptor *d,
			const uint8_t *p, const uint8_t *end, unsigned depth)
{
	while (p < end) {
		const uint8_t *at = p;
		const ProtobufCFieldDescriptor *f;
		uint64_t tag, field, len;
		unsigned wt;

		if (read_varint(&p, end, &tag) < 0)
			return scan_fail(s, PROTO_EINVAL, d, at, "bad tag", 0);
		field = tag >> 3;
		wt = tag & 7;
		if (field == 0 || field > MAX_FIELD_NUMBER)
			return scan_fail(s, PROTO_EINVAL, d, at, "bad field number", field);
		if (wt != WIRE_LEN) {
			p = skip_value(p, end, wt);
			if (!p)
				return scan_fail(s, PROTO_EINVAL, d, at,
						 wt == 3 || wt == 4 || wt > 5 ?
						 "unsupported wire type" : "truncated value", field);
			continue;
		}
		if (read_varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
			return scan_fail(s, PROTO_EINVAL, d, at, "truncated value", field);
		f = protobuf_c_message_descriptor_get_field(d, (unsigned)field);
		if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
			int rc;

			if (depth >= s->max_depth)
				return scan_fail(s, PROTO_ETOOBIG, d, at, "nested too deeply", field);
			rc = scan_message(s, f->descriptor, p, p + len, depth + 1);
			if (rc < 0)
				return rc;
		}
		p += len;
	}
	return 0;
}

static void *budget_alloc(void *ud, size_t size)
{
	struct budget *b = ud;
	void *p;

	if (size > b->max || arena_used(b->arena) - b->start > b->max - size) {
		b->over = true;
		return NULL;
	}
	p = arena_alloc(b->arena, size);
	if (!p)
		b->oom = true;
	return p;
}

/* The arena owns everything; protobuf-c's frees (on its error paths) are no-ops. */
static void budget_free(void *ud, void *p)
{
	(void)ud;
	(void)p;
}

static size_t default_mem(size_t len)
{
	if (len > (SIZE_MAX - PROTO_DEFAULT_MEM_SLACK) / PROTO_DEFAULT_MEM_FACTOR)
		return SIZE_MAX;
	return len * PROTO_DEFAULT_MEM_FACTOR + PROTO_DEFAULT_MEM_SLACK;
}

int proto_decode(const ProtobufCMessageDescriptor *desc, const void *data, size_t len,
		 const struct proto_limits *lim, struct arena *arena, ProtobufCMessage **out,
		 char *err, size_t errlen)
{
	static const struct proto_limits none;
	struct scan s = { .base = data, .err = err, .errlen = errlen };
	struct budget b = { .arena = arena, .start = arena_used(arena) };
	ProtobufCAllocator alloc = { budget_alloc, budget_free, &b };
	size_t max_bytes;
	ProtobufCMessage *msg;
	int rc;

	if (!lim)
		lim = &none;
	max_bytes = lim->max_bytes ? lim->max_bytes : PROTO_DEFAULT_MAX_BYTES;
	s.max_depth = lim->max_depth ? lim->max_depth : PROTO_DEFAULT_MAX_DEPTH;
	b.max = lim->max_mem ? lim->max_mem : default_mem(len);
	if (len > max_bytes) {
		snprintf(err, errlen, "%s: message of %zu bytes exceeds the limit of %zu",
			 desc->name, len, max_bytes);
		return PROTO_ETOOBIG;
	}
	rc = scan_message(&s, desc, data, (const uint8_t *)data + len, 0);
	if (rc < 0)
		return rc;
	msg = protobuf_c_message_unpack(desc, &alloc, len, data);
	if (msg) {
		*out = msg;
		return 0;
	}
	if (b.over) {
		snprintf(err, errlen, "%s: decoded form exceeds the memory limit of %zu bytes",
			 desc->name, b.max);
		return PROTO_ETOOBIG;
	}
	if (b.oom) {
		snprintf(err, errlen, "%s: out of memory", desc->name);
		return PROTO_EOOM;
	}
	snprintf(err, errlen, "%s: malformed message (a value does not fit its field's type)",
		 desc->name);
	return PROTO_EINVAL;
}
