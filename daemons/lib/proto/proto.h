/*
 * proto: the wire messages we speak, and the one door through which untrusted
 * protobuf bytes become C structs.
 *
 * Messages. The .proto files beside this header are ours, written from the upstream
 * definitions with the same packages, field names, numbers and types, so that
 * `protoc --decode`, real senders and our generated code agree byte for byte.
 * protoc-c turns each daemons/lib/proto/<path>.proto into build/gen/<path>.pb-c.[ch]
 * (compiled into liblgtm.a; include e.g. "prometheus/remote.pb-c.h"):
 *   prometheus/types.proto, prometheus/remote.proto      package prometheus
 *     WriteRequest, TimeSeries, Label, Labels, Sample, Exemplar, MetricMetadata
 *     (+MetricType), Histogram (+ResetHint), BucketSpan; remote read: ReadRequest
 *     (+ResponseType), ReadResponse, Query, QueryResult, LabelMatcher, ReadHints,
 *     ChunkedReadResponse, ChunkedSeries, Chunk.           C: Prometheus__*
 *   loki/push.proto                                      package logproto
 *     PushRequest, PushResponse, StreamAdapter, EntryAdapter, LabelPairAdapter.
 *                                                          C: Logproto__*
 *   lgtm/timestamp.proto                                 package lgtm
 *     Timestamp: wire-identical stand-in for google.protobuf.Timestamp, which
 *     Debian ships only in a package we do not install.   C: Lgtm__Timestamp
 *   opentelemetry/proto/{common,resource,trace,logs,metrics}/v1/<name>.proto and
 *   opentelemetry/proto/collector/{trace,logs,metrics}/v1/<signal>_service.proto
 *     OTLP 1.x: AnyValue, KeyValue, InstrumentationScope, EntityRef, Resource,
 *     TracesData/ResourceSpans/ScopeSpans/Span/Status, LogsData/.../LogRecord,
 *     MetricsData/.../Metric with all five point kinds, and
 *     Export{Trace,Logs,Metrics}Service{Request,Response}, Export*PartialSuccess.
 *                                                          C: Opentelemetry__Proto__*
 *   protoc-c 1.4 has no proto3 `optional`; OTLP's optional sum/min/max are one-member
 *   oneofs (optional_sum_case etc.), which is the same thing on the wire.
 *
 * Decoding. protobuf-c itself has no size, depth or memory limits and recurses once
 * per nesting level, so a few MB of nested AnyValues would overflow the stack.
 * proto_decode() is therefore the only sanctioned way to unpack bytes from outside:
 * it checks the length, walks the wire format once (with the descriptors) to bound
 * nesting and reject malformed framing with a precise reason, and then lets
 * protobuf-c unpack into the caller's arena under a memory budget.
 *
 * Contract:
 * - Decoded messages live in the arena: no free call; they die with arena_reset()
 *   or arena_free(). On error the arena may hold garbage from the attempt.
 * - Strings are NUL-terminated copies but are not checked for UTF-8 and may contain
 *   NUL bytes; bytes fields are copied too. Unknown fields are kept and ignored, so
 *   newer senders still decode.
 * - Errors: PROTO_EINVAL (malformed), PROTO_ETOOBIG (a limit was hit), PROTO_EOOM;
 *   `err` gets a one-line reason fit for a 400 response body.
 * - Stateless; thread-safe as long as each thread uses its own arena.
 */
#ifndef LGTM_PROTO_H
#define LGTM_PROTO_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "arena/arena.h"
#include "buf/buf.h"

#define PROTO_EINVAL  (-1)
#define PROTO_ETOOBIG (-2)
#define PROTO_EOOM    (-3)

/* Defaults applied to zero fields of struct proto_limits (or a NULL pointer). */
#define PROTO_DEFAULT_MAX_BYTES  (64u << 20)
/* Deep enough for OTLP's ten fixed levels plus ~40 levels of nested attribute
 * values; shallow enough that protobuf-c's recursion stays far from any stack limit. */
#define PROTO_DEFAULT_MAX_DEPTH  100u
/* Decoded structs cost a few times the wire size (a 2-byte empty submessage becomes
 * a 100+ byte struct); real payloads stay well under this factor. */
#define PROTO_DEFAULT_MEM_FACTOR 16u
#define PROTO_DEFAULT_MEM_SLACK  (64u << 10)

struct proto_limits {
	size_t max_bytes;   /* encoded size; 0: PROTO_DEFAULT_MAX_BYTES */
	unsigned max_depth; /* submessage levels below the top; 0: default */
	size_t max_mem;     /* arena bytes the decode may use; 0: factor * len + slack */
};

/*
 * Unpack `len` bytes as a `desc` message into `arena`; *out is set only on success
 * (cast it to the generated struct type). lim may be NULL for the defaults.
 */
int proto_decode(const ProtobufCMessageDescriptor *desc, const void *data, size_t len,
		 const struct proto_limits *lim, struct arena *arena, ProtobufCMessage **out,
		 char *err, size_t errlen);

/* Append the encoding of msg to out. 0, or PROTO_EOOM (out keeps its old length). */
int proto_pack(const ProtobufCMessage *msg, struct buf *out, char *err, size_t errlen);

#endif
