/*
 * proto: our .proto files against payloads made by real, independent encoders
 * (tests/fixtures/proto, see generate.mjs there for who made which), plus the
 * decode guard's behaviour on malformed, truncated, oversized and hostile input.
 *
 * Fixtures are read from $LGTM_FIXTURES/proto, or tests/fixtures/proto relative to
 * the working directory (tests run from the repository root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <snappy-c.h>

#include "proto/proto.h"
#include "prometheus/remote.pb-c.h"
#include "loki/push.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

#include "fixture.h"

#define CMN(t) Opentelemetry__Proto__Common__V1__##t
#define TRC(t) Opentelemetry__Proto__Trace__V1__##t
#define OTL(t) Opentelemetry__Proto__Logs__V1__##t
#define MET(t) Opentelemetry__Proto__Metrics__V1__##t

/* The fixture as an HTTP sender would POST it: snappy block format. */
static void read_snappy_fixture(const char *name, struct buf *out)
{
	struct buf z = { 0 };
	size_t n;

	read_fixture(name, &z);
	assert_int_equal(snappy_uncompressed_length(z.data, z.len, &n), SNAPPY_OK);
	assert_int_equal(buf_reserve(out, n), 0);
	assert_int_equal(snappy_uncompress(z.data, z.len, out->data, &n), SNAPPY_OK);
	out->len = n;
	out->data[n] = '\0';
	buf_free(&z);
}

static void *decode_ok(const ProtobufCMessageDescriptor *d, const struct buf *b,
		       struct arena *a)
{
	ProtobufCMessage *m = NULL;
	char err[256] = "";
	int rc = proto_decode(d, b->data, b->len, NULL, a, &m, err, sizeof(err));

	if (rc != 0)
		fail_msg("decode %s: rc %d: %s", d->name, rc, err);
	assert_non_null(m);
	return m;
}

/* Per-test state: the arena decodes land in and the fixture bytes. */
struct fx {
	struct arena *a;
	struct buf b;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->a = arena_new(0);
	if (!f->a) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	buf_free(&f->b);
	arena_free(f->a);
	free(f);
	return 0;
}

/* Reads a fixture (unsnappying *.snappy ones) into f->b and decodes it as d. */
static void *load(struct fx *f, const char *name, const ProtobufCMessageDescriptor *d)
{
	size_t n = strlen(name);

	buf_reset(&f->b);
	if (n > 7 && strcmp(name + n - 7, ".snappy") == 0)
		read_snappy_fixture(name, &f->b);
	else
		read_fixture(name, &f->b);
	return decode_ok(d, &f->b, f->a);
}

static int decode_rc(const ProtobufCMessageDescriptor *d, const void *data, size_t len,
		     const struct proto_limits *lim, char *err, size_t errlen)
{
	struct arena *a = arena_new(0);
	ProtobufCMessage *m = NULL;
	int rc;

	assert_non_null(a);
	err[0] = '\0';
	rc = proto_decode(d, data, len, lim, a, &m, err, errlen);
	if (rc == 0)
		assert_non_null(m);
	else
		assert_null(m);
	arena_free(a);
	return rc;
}

static void assert_hex(ProtobufCBinaryData b, const char *hex)
{
	char s[128];

	assert_true(b.len * 2 < sizeof(s));
	for (size_t i = 0; i < b.len; i++)
		snprintf(s + 2 * i, 3, "%02x", b.data[i]);
	s[2 * b.len] = '\0';
	assert_string_equal(s, hex);
}

static void assert_label(const Prometheus__Label *l, const char *name, const char *value)
{
	assert_string_equal(l->name, name);
	assert_string_equal(l->value, value);
}

static void assert_sample(const Prometheus__Sample *s, double v, int64_t ts)
{
	assert_true(s->value == v);
	assert_int_equal(s->timestamp, ts);
}

static CMN(AnyValue) *attr(CMN(KeyValue) **kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i]->key, key) == 0) {
			assert_non_null(kv[i]->value);
			return kv[i]->value;
		}
	fail_msg("attribute %s missing", key);
	return NULL;
}

static void assert_str_attr(CMN(KeyValue) **kv, size_t n, const char *key, const char *v)
{
	CMN(AnyValue) *a = attr(kv, n, key);

	assert_int_equal(a->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	assert_string_equal(a->string_value, v);
}

static void assert_int_attr(CMN(KeyValue) **kv, size_t n, const char *key, int64_t v)
{
	CMN(AnyValue) *a = attr(kv, n, key);

	assert_int_equal(a->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE);
	assert_int_equal(a->int_value, v);
}

static void assert_double_attr(CMN(KeyValue) **kv, size_t n, const char *key, double v)
{
	CMN(AnyValue) *a = attr(kv, n, key);

	assert_int_equal(a->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
	assert_true(a->double_value == v);
}

static void assert_scope(const CMN(InstrumentationScope) *sc, const char *name,
			 const char *version)
{
	assert_non_null(sc);
	assert_string_equal(sc->name, name);
	assert_string_equal(sc->version, version);
}

/* Same resource attributes in every OTLP fixture made by the SDKs. */
static void assert_sdk_resource(const Opentelemetry__Proto__Resource__V1__Resource *r)
{
	CMN(AnyValue) *flags;

	assert_non_null(r);
	assert_int_equal(r->n_attributes, 5);
	assert_str_attr(r->attributes, r->n_attributes, "service.name", "checkout");
	assert_str_attr(r->attributes, r->n_attributes, "service.version", "1.4.2");
	assert_int_attr(r->attributes, r->n_attributes, "host.cores", 8);
	assert_double_attr(r->attributes, r->n_attributes, "deployment.weight", 0.75);
	flags = attr(r->attributes, r->n_attributes, "feature.flags");
	assert_int_equal(flags->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
	assert_int_equal(flags->array_value->n_values, 2);
	assert_string_equal(flags->array_value->values[0]->string_value, "a");
	assert_string_equal(flags->array_value->values[1]->string_value, "b");
	assert_int_equal(r->n_entity_refs, 0);
}

/* --- Prometheus remote-write ------------------------------------------------------ */

static void test_prom_write_snappy_body(void **state)
{
	struct fx *f = *state;
	Prometheus__WriteRequest *wr;
	Prometheus__TimeSeries *ts;

	wr = load(f, "prom_write.snappy", &prometheus__write_request__descriptor);
	assert_int_equal(wr->n_timeseries, 2);
	assert_int_equal(wr->n_metadata, 0);

	ts = wr->timeseries[0];
	assert_int_equal(ts->n_labels, 4);
	assert_label(ts->labels[0], "env", "test");
	assert_label(ts->labels[1], "__name__", "http_requests_total");
	assert_label(ts->labels[2], "job", "api");
	assert_label(ts->labels[3], "instance", "10.0.0.1:9090");
	assert_int_equal(ts->n_samples, 2);
	assert_sample(ts->samples[0], 1027, 1700000000000);
	assert_sample(ts->samples[1], 1042.5, 1700000015000);
	assert_int_equal(ts->n_exemplars, 0);
	assert_int_equal(ts->n_histograms, 0);

	ts = wr->timeseries[1];
	assert_int_equal(ts->n_labels, 3);
	assert_label(ts->labels[1], "__name__", "temperature_celsius");
	assert_label(ts->labels[2], "room", "k\xc3\xbc" "che");
	assert_int_equal(ts->n_samples, 1);
	assert_sample(ts->samples[0], -3.25, 1700000000123);

}

static void test_prom_write_exemplars_metadata(void **state)
{
	struct fx *f = *state;
	Prometheus__WriteRequest *wr;
	Prometheus__TimeSeries *ts;
	Prometheus__Exemplar *ex;
	uint64_t bits;

	wr = load(f, "prom_write_full.pb", &prometheus__write_request__descriptor);
	assert_int_equal(wr->n_timeseries, 2);

	ts = wr->timeseries[0];
	assert_label(ts->labels[0], "__name__", "rpc_latency_seconds_bucket");
	assert_label(ts->labels[1], "le", "+Inf");
	assert_int_equal(ts->n_samples, 2);
	assert_true(isinf(ts->samples[0]->value) && ts->samples[0]->value > 0);
	assert_int_equal(ts->samples[0]->timestamp, 1700000030000);
	/* The staleness marker must survive bit for bit, not just as "a NaN". */
	memcpy(&bits, &ts->samples[1]->value, sizeof(bits));
	assert_int_equal(bits, 0x7ff0000000000002ull);
	assert_int_equal(ts->samples[1]->timestamp, 1700000045000);
	assert_int_equal(ts->n_exemplars, 1);
	ex = ts->exemplars[0];
	assert_int_equal(ex->n_labels, 1);
	assert_label(ex->labels[0], "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_true(ex->value == 0.42);
	assert_int_equal(ex->timestamp, 1700000029500);

	ts = wr->timeseries[1];
	assert_label(ts->labels[0], "__name__", "up");
	assert_sample(ts->samples[0], 1, -1000);

	assert_int_equal(wr->n_metadata, 2);
	assert_int_equal(wr->metadata[0]->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER);
	assert_string_equal(wr->metadata[0]->metric_family_name, "http_requests_total");
	assert_string_equal(wr->metadata[0]->help, "Total HTTP requests.");
	assert_string_equal(wr->metadata[0]->unit, "");
	assert_int_equal(wr->metadata[1]->type, PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE);
	assert_string_equal(wr->metadata[1]->unit, "celsius");

}

static void assert_span(const Prometheus__BucketSpan *s, int32_t offset, uint32_t length)
{
	assert_int_equal(s->offset, offset);
	assert_int_equal(s->length, length);
}

static void test_prom_write_native_histograms(void **state)
{
	struct fx *f = *state;
	Prometheus__WriteRequest *wr;
	Prometheus__TimeSeries *ts;
	Prometheus__Histogram *h;

	wr = load(f, "prom_write_histogram.pb", &prometheus__write_request__descriptor);
	assert_int_equal(wr->n_timeseries, 1);
	ts = wr->timeseries[0];
	assert_label(ts->labels[0], "__name__", "rpc_duration_seconds");
	assert_int_equal(ts->n_samples, 0);
	assert_int_equal(ts->n_histograms, 3);

	h = ts->histograms[0];
	assert_int_equal(h->count_case, PROMETHEUS__HISTOGRAM__COUNT_COUNT_INT);
	assert_int_equal(h->count_int, 14);
	assert_true(h->sum == 18.4);
	assert_int_equal(h->schema, 3);
	assert_true(h->zero_threshold == 1e-128);
	assert_int_equal(h->zero_count_case, PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_INT);
	assert_int_equal(h->zero_count_int, 2);
	assert_int_equal(h->n_negative_spans, 0);
	assert_int_equal(h->n_positive_spans, 2);
	assert_span(h->positive_spans[0], -2, 3);
	assert_span(h->positive_spans[1], 4, 1);
	assert_int_equal(h->n_positive_deltas, 4);
	assert_int_equal(h->positive_deltas[0], 2);
	assert_int_equal(h->positive_deltas[2], -1);
	assert_int_equal(h->positive_deltas[3], 3);
	assert_int_equal(h->reset_hint, PROMETHEUS__HISTOGRAM__RESET_HINT__NO);
	assert_int_equal(h->timestamp, 1700000000000);

	h = ts->histograms[1];
	assert_int_equal(h->count_case, PROMETHEUS__HISTOGRAM__COUNT_COUNT_FLOAT);
	assert_true(h->count_float == 7.5);
	assert_true(h->sum == -1.25);
	assert_int_equal(h->schema, 0);
	assert_int_equal(h->zero_count_case, PROMETHEUS__HISTOGRAM__ZERO_COUNT_ZERO_COUNT_FLOAT);
	assert_true(h->zero_count_float == 0.5);
	assert_int_equal(h->n_negative_spans, 1);
	assert_span(h->negative_spans[0], 1, 1);
	assert_int_equal(h->n_negative_counts, 1);
	assert_true(h->negative_counts[0] == 0.5);
	assert_int_equal(h->n_positive_counts, 2);
	assert_true(h->positive_counts[0] == 2.5 && h->positive_counts[1] == 4);
	assert_int_equal(h->n_positive_deltas, 0);
	assert_int_equal(h->reset_hint, PROMETHEUS__HISTOGRAM__RESET_HINT__GAUGE);

	h = ts->histograms[2];
	assert_int_equal(h->schema, -53);
	assert_int_equal(h->zero_count_case, PROMETHEUS__HISTOGRAM__ZERO_COUNT__NOT_SET);
	assert_int_equal(h->n_custom_values, 3);
	assert_true(h->custom_values[0] == 0.1 && h->custom_values[2] == 1);
	assert_int_equal(h->n_positive_deltas, 4);
	assert_int_equal(h->positive_deltas[3], -1);
	assert_int_equal(h->reset_hint, PROMETHEUS__HISTOGRAM__RESET_HINT__UNKNOWN);

}

/* protobuf-c re-encodes a real sender's bytes identically (both write fields in
 * number order and skip defaults), and proto_pack appends rather than overwrites. */
static void assert_repack_identical(const ProtobufCMessageDescriptor *d, const struct buf *orig)
{
	struct arena *a = arena_new(0);
	struct buf out = { 0 };
	char err[128];

	buf_puts(&out, "prefix");
	assert_int_equal(proto_pack(decode_ok(d, orig, a), &out, err, sizeof(err)), 0);
	assert_int_equal(out.len, 6 + orig->len);
	assert_memory_equal(out.data, "prefix", 6);
	assert_memory_equal(out.data + 6, orig->data, orig->len);
	assert_int_equal(out.data[out.len], '\0');
	buf_free(&out);
	arena_free(a);
}

static void test_pack_matches_real_encoders(void **state)
{
	struct buf b = { 0 };

	/* Not the protobufjs-reflection fixtures: those spell out explicit zeros and
	 * empty strings, which proto3 encoders (protobuf-c included) leave out. */
	read_snappy_fixture("prom_write.snappy", &b);
	assert_repack_identical(&prometheus__write_request__descriptor, &b);
	buf_reset(&b);
	read_fixture("loki_push_sm.pb", &b);
	assert_repack_identical(&logproto__push_request__descriptor, &b);
	buf_free(&b);
}

static void test_pack_reports_oom(void **state)
{
	Prometheus__Label l = PROMETHEUS__LABEL__INIT;
	struct buf out = { 0 };
	char err[128] = "";

	l.name = "job";
	l.value = "api";
	out.oom = true;
	assert_int_equal(proto_pack(&l.base, &out, err, sizeof(err)), PROTO_EOOM);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(err, "prometheus.Label"));
}

/* --- Loki push --------------------------------------------------------------------- */

static void assert_entry(const Logproto__EntryAdapter *e, int64_t s, int32_t ns, const char *line)
{
	assert_non_null(e->timestamp);
	assert_int_equal(e->timestamp->seconds, s);
	assert_int_equal(e->timestamp->nanos, ns);
	assert_string_equal(e->line, line);
}

static void test_loki_push_winston(void **state)
{
	struct fx *f = *state;
	Logproto__PushRequest *pr;
	Logproto__StreamAdapter *s;

	pr = load(f, "loki_push_winston.snappy", &logproto__push_request__descriptor);
	assert_int_equal(pr->n_streams, 2);
	assert_string_equal(pr->format, "");

	s = pr->streams[0];
	assert_string_equal(s->labels, "{level=\"info\",job=\"checkout\"}");
	assert_int_equal(s->n_entries, 1);
	assert_entry(s->entries[0], 1700000000, 123000000, "order placed id=42");
	assert_int_equal(s->entries[0]->n_structuredmetadata, 0);
	assert_int_equal(s->hash, 0);

	s = pr->streams[1];
	assert_string_equal(s->labels, "{level=\"warn\",job=\"checkout\"}");
	assert_int_equal(s->n_entries, 2);
	assert_entry(s->entries[0], 1700000001, 0, "retrying payment");
	assert_entry(s->entries[1], 1700000001, 999000000, "payment ok after 2 tries");

}

static void test_loki_push_structured_metadata(void **state)
{
	struct fx *f = *state;
	Logproto__PushRequest *pr;
	Logproto__StreamAdapter *s;
	Logproto__EntryAdapter *e;

	pr = load(f, "loki_push_sm.pb", &logproto__push_request__descriptor);
	assert_int_equal(pr->n_streams, 1);
	s = pr->streams[0];
	assert_string_equal(s->labels, "{service_name=\"payments\", env=\"prod\"}");
	assert_int_equal(s->n_entries, 2);

	e = s->entries[0];
	assert_entry(e, 1700000001, 5, "payment declined");
	assert_int_equal(e->n_structuredmetadata, 2);
	assert_string_equal(e->structuredmetadata[0]->name, "trace_id");
	assert_string_equal(e->structuredmetadata[0]->value, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(e->structuredmetadata[1]->name, "user");
	assert_string_equal(e->structuredmetadata[1]->value, "\xc3\xbcn\xc3\xaf" "code");
	assert_int_equal(e->n_parsed, 0);

	e = s->entries[1];
	assert_entry(e, 1700000002, 999999999, "");
	assert_int_equal(e->n_structuredmetadata, 0);

}

/* --- OTLP traces ------------------------------------------------------------------- */

#define TRACE_A "5b8efff798038103d269b633813fc60c"
#define TRACE_B "0af7651916cd43dd8448eb211c80319c"

static void test_otlp_traces(void **state)
{
	struct fx *f = *state;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;
	TRC(ScopeSpans) *ss;
	TRC(Span) *sp;
	TRC(Span__Link) *ln;

	req = load(f, "otlp_traces.pb", &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor);
	assert_int_equal(req->n_resource_spans, 1);
	assert_sdk_resource(req->resource_spans[0]->resource);
	assert_int_equal(req->resource_spans[0]->n_scope_spans, 1);
	ss = req->resource_spans[0]->scope_spans[0];
	assert_scope(ss->scope, "lgtm-golden", "0.1.0");
	assert_int_equal(ss->n_spans, 3);

	sp = ss->spans[0];
	assert_string_equal(sp->name, "SELECT cart");
	assert_hex(sp->trace_id, TRACE_A);
	assert_hex(sp->span_id, "eee19b7ec3c1b175");
	assert_hex(sp->parent_span_id, "eee19b7ec3c1b174");
	assert_int_equal(sp->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
	assert_int_equal(sp->start_time_unix_nano, 1700000000130000000ull);
	assert_int_equal(sp->end_time_unix_nano, 1700000000140000000ull);
	assert_int_equal(sp->flags, 0x101);
	assert_int_equal(sp->n_links, 1);
	ln = sp->links[0];
	assert_hex(ln->trace_id, TRACE_B);
	assert_hex(ln->span_id, "b7ad6b7169203331");
	assert_int_equal(ln->flags, 0x101);
	assert_str_attr(ln->attributes, ln->n_attributes, "link.kind", "follows");
	assert_int_equal(sp->status->code, OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_UNSET);

	sp = ss->spans[1];
	assert_string_equal(sp->name, "GET /cart");
	assert_hex(sp->span_id, "eee19b7ec3c1b174");
	assert_int_equal(sp->parent_span_id.len, 0);
	assert_int_equal(sp->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
	assert_int_equal(sp->start_time_unix_nano, 1700000000123456789ull);
	assert_int_equal(sp->end_time_unix_nano, 1700000000223456789ull);
	assert_str_attr(sp->attributes, sp->n_attributes, "http.method", "GET");
	assert_int_attr(sp->attributes, sp->n_attributes, "http.status_code", 200);
	assert_int_equal(sp->n_events, 1);
	assert_string_equal(sp->events[0]->name, "cache miss");
	assert_int_equal(sp->events[0]->time_unix_nano, 1700000000150000000ull);
	assert_str_attr(sp->events[0]->attributes, sp->events[0]->n_attributes, "key", "cart:42");
	assert_int_equal(sp->status->code, OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	assert_string_equal(sp->status->message, "upstream timeout");
	assert_int_equal(sp->dropped_attributes_count, 0);

	sp = ss->spans[2];
	assert_string_equal(sp->name, "consume");
	assert_hex(sp->trace_id, TRACE_B);
	assert_hex(sp->parent_span_id, "00f067aa0ba902b7");
	assert_int_equal(sp->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER);
	assert_int_equal(sp->end_time_unix_nano - sp->start_time_unix_nano, 1);
	/* Sampled, parent known to be remote. */
	assert_int_equal(sp->flags, OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK |
		OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | 1);
	assert_int_attr(sp->attributes, sp->n_attributes, "offset", -5);
	assert_double_attr(sp->attributes, sp->n_attributes, "ratio", 0.5);
	assert_int_equal(attr(sp->attributes, sp->n_attributes, "ok")->value_case,
			 OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE);
	assert_true(attr(sp->attributes, sp->n_attributes, "ok")->bool_value);

}

static void test_otlp_trace_response(void **state)
{
	struct fx *f = *state;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *resp;

	resp = load(f, "otlp_trace_response.pb", &opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor);
	assert_non_null(resp->partial_success);
	assert_int_equal(resp->partial_success->rejected_spans, 3);
	assert_string_equal(resp->partial_success->error_message, "3 spans too old");
}

/* --- OTLP logs --------------------------------------------------------------------- */

static void test_otlp_logs(void **state)
{
	struct fx *f = *state;
	Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *req;
	OTL(ScopeLogs) *sl;
	OTL(LogRecord) *lr;
	CMN(KeyValueList) *kv;
	CMN(AnyValue) *tags;

	req = load(f, "otlp_logs.pb", &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor);
	assert_int_equal(req->n_resource_logs, 1);
	assert_sdk_resource(req->resource_logs[0]->resource);
	sl = req->resource_logs[0]->scope_logs[0];
	assert_scope(sl->scope, "lgtm-golden-logs", "0.2.0");
	assert_int_equal(sl->n_log_records, 2);

	lr = sl->log_records[0];
	assert_int_equal(lr->time_unix_nano, 1700000002000000001ull);
	assert_int_equal(lr->observed_time_unix_nano, 1700000002000000500ull);
	assert_int_equal(lr->severity_number, OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_ERROR);
	assert_string_equal(lr->severity_text, "ERROR");
	assert_int_equal(lr->body->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
	assert_string_equal(lr->body->string_value, "disk full");
	assert_str_attr(lr->attributes, lr->n_attributes, "path", "/var/lib/x");
	assert_int_attr(lr->attributes, lr->n_attributes, "free.bytes", 0);
	assert_int_equal(lr->flags & OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD_FLAGS__LOG_RECORD_FLAGS_TRACE_FLAGS_MASK, 1);
	assert_hex(lr->trace_id, TRACE_A);
	assert_hex(lr->span_id, "eee19b7ec3c1b174");
	assert_string_equal(lr->event_name, "disk.alert");

	lr = sl->log_records[1];
	assert_int_equal(lr->severity_number, OPENTELEMETRY__PROTO__LOGS__V1__SEVERITY_NUMBER__SEVERITY_NUMBER_INFO);
	assert_int_equal(lr->time_unix_nano, 1700000003000000000ull);
	assert_int_equal(lr->trace_id.len, 0);
	assert_int_equal(lr->flags, 0);
	assert_string_equal(lr->event_name, "");
	assert_int_equal(lr->body->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE);
	kv = lr->body->kvlist_value;
	assert_int_equal(kv->n_values, 3);
	assert_str_attr(kv->values, kv->n_values, "msg", "hello");
	assert_int_attr(kv->values, kv->n_values, "n", 3);
	tags = attr(kv->values, kv->n_values, "tags");
	assert_int_equal(tags->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
	assert_int_equal(tags->array_value->n_values, 2);
	assert_string_equal(tags->array_value->values[1]->string_value, "y");

}

/* --- OTLP metrics ------------------------------------------------------------------ */

static MET(Metric) *metric(MET(ScopeMetrics) *sm, const char *name)
{
	for (size_t i = 0; i < sm->n_metrics; i++)
		if (strcmp(sm->metrics[i]->name, name) == 0)
			return sm->metrics[i];
	fail_msg("metric %s missing", name);
	return NULL;
}

static MET(ScopeMetrics) *only_scope(struct fx *f, const char *name)
{
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest *req;

	req = load(f, name, &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor);
	assert_int_equal(req->n_resource_metrics, 1);
	assert_int_equal(req->resource_metrics[0]->n_scope_metrics, 1);
	return req->resource_metrics[0]->scope_metrics[0];
}

#define T_START 1700000000000000000ull
#define T_END   1700000060000000250ull

static void check_sdk_sum_and_gauge(MET(ScopeMetrics) *sm)
{
	MET(Metric) *m = metric(sm, "http.server.requests");
	MET(NumberDataPoint) *p;

	assert_string_equal(m->description, "Requests served.");
	assert_string_equal(m->unit, "{request}");
	assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM);
	assert_true(m->sum->is_monotonic);
	assert_int_equal(m->sum->aggregation_temporality,
			 OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE);
	assert_int_equal(m->sum->n_data_points, 2);
	p = m->sum->data_points[0];
	assert_int_equal(p->start_time_unix_nano, T_START);
	assert_int_equal(p->time_unix_nano, T_END);
	assert_int_equal(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE);
	assert_true(p->as_double == 5);
	assert_str_attr(p->attributes, p->n_attributes, "route", "/a");
	p = m->sum->data_points[1];
	assert_true(p->as_double == 2);
	assert_str_attr(p->attributes, p->n_attributes, "route", "/b");

	m = metric(sm, "queue.depth");
	assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE);
	assert_int_equal(m->gauge->n_data_points, 1);
	p = m->gauge->data_points[0];
	assert_int_equal(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
	assert_int_equal(p->as_int, 17);
}

static void check_sdk_histograms(MET(ScopeMetrics) *sm)
{
	MET(Metric) *m = metric(sm, "http.server.duration");
	MET(HistogramDataPoint) *h;
	MET(ExponentialHistogramDataPoint) *e;
	uint64_t total = 0;

	assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM);
	assert_string_equal(m->unit, "s");
	assert_int_equal(m->histogram->n_data_points, 1);
	h = m->histogram->data_points[0];
	assert_int_equal(h->count, 4);
	assert_int_equal(h->optional_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__OPTIONAL_SUM_SUM);
	assert_true(fabs(h->sum - 2.65) < 1e-12);
	assert_int_equal(h->n_bucket_counts, 4);
	assert_int_equal(h->bucket_counts[0], 1);
	assert_int_equal(h->bucket_counts[1], 2);
	assert_int_equal(h->bucket_counts[2], 0);
	assert_int_equal(h->bucket_counts[3], 1);
	assert_int_equal(h->n_explicit_bounds, 3);
	assert_true(h->explicit_bounds[0] == 0.1 && h->explicit_bounds[2] == 1);
	assert_int_equal(h->optional_min_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__OPTIONAL_MIN_MIN);
	assert_true(h->min == 0.05);
	assert_int_equal(h->optional_max_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__OPTIONAL_MAX_MAX);
	assert_true(h->max == 2);

	m = metric(sm, "payload.size");
	assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM);
	assert_int_equal(m->exponential_histogram->n_data_points, 1);
	e = m->exponential_histogram->data_points[0];
	assert_int_equal(e->time_unix_nano, T_END);
	assert_int_equal(e->count, 3);
	assert_true(e->sum == 2100);
	assert_int_equal(e->scale, 5);
	assert_int_equal(e->zero_count, 0);
	assert_int_equal(e->positive->offset, 212);
	assert_true(e->positive->n_bucket_counts > 2);
	assert_int_equal(e->positive->bucket_counts[0], 1);
	assert_int_equal(e->positive->bucket_counts[e->positive->n_bucket_counts - 1], 2);
	for (size_t i = 0; i < e->positive->n_bucket_counts; i++)
		total += e->positive->bucket_counts[i];
	assert_int_equal(total, 3);
	assert_true(e->min == 100 && e->max == 1000);
}

static void test_otlp_metrics_sdk(void **state)
{
	struct fx *f = *state;
	MET(ScopeMetrics) *sm;

	sm = only_scope(f, "otlp_metrics.pb");
	assert_scope(sm->scope, "lgtm-golden-metrics", "0.3.0");
	assert_int_equal(sm->n_metrics, 4);
	check_sdk_sum_and_gauge(sm);
	check_sdk_histograms(sm);
}

static void check_legacy_summary(MET(ScopeMetrics) *sm)
{
	MET(Metric) *m = metric(sm, "rpc.latency");
	MET(SummaryDataPoint) *p;

	assert_int_equal(m->data_case, OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY);
	assert_int_equal(m->summary->n_data_points, 1);
	p = m->summary->data_points[0];
	assert_str_attr(p->attributes, p->n_attributes, "method", "Get");
	assert_int_equal(p->start_time_unix_nano, T_START);
	assert_int_equal(p->time_unix_nano, 1700000060000000000ull);
	assert_int_equal(p->count, 10);
	assert_true(p->sum == 3.5);
	assert_int_equal(p->n_quantile_values, 2);
	assert_true(p->quantile_values[0]->quantile == 0.5 && p->quantile_values[0]->value == 0.2);
	assert_true(p->quantile_values[1]->quantile == 0.99 && p->quantile_values[1]->value == 1.1);
}

static void check_legacy_sum_exemplar(MET(ScopeMetrics) *sm)
{
	MET(Metric) *m = metric(sm, "balance.change");
	MET(NumberDataPoint) *p;
	MET(Exemplar) *ex;

	assert_int_equal(m->sum->aggregation_temporality,
			 OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA);
	assert_false(m->sum->is_monotonic);
	assert_int_equal(m->sum->n_data_points, 2);
	p = m->sum->data_points[0];
	assert_int_equal(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT);
	assert_int_equal(p->as_int, -7);
	assert_int_equal(p->n_exemplars, 1);
	ex = p->exemplars[0];
	assert_int_equal(ex->time_unix_nano, 1700000059000000000ull);
	assert_int_equal(ex->value_case, OPENTELEMETRY__PROTO__METRICS__V1__EXEMPLAR__VALUE_AS_DOUBLE);
	assert_true(ex->as_double == 2.5);
	assert_hex(ex->span_id, "eee19b7ec3c1b174");
	assert_hex(ex->trace_id, TRACE_A);
	assert_str_attr(ex->filtered_attributes, ex->n_filtered_attributes, "user", "u1");

	p = m->sum->data_points[1];
	assert_int_equal(p->value_case, OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE__NOT_SET);
	assert_int_equal(p->flags, OPENTELEMETRY__PROTO__METRICS__V1__DATA_POINT_FLAGS__DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK);
}

static void check_legacy_histograms(MET(ScopeMetrics) *sm)
{
	MET(Metric) *m = metric(sm, "latency.hist");
	MET(HistogramDataPoint) *h = m->histogram->data_points[0];
	MET(ExponentialHistogramDataPoint) *e;

	/* Presence, not value: sum was never sent, min was sent as 0. */
	assert_int_equal(h->optional_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__OPTIONAL_SUM__NOT_SET);
	assert_int_equal(h->optional_min_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__OPTIONAL_MIN_MIN);
	assert_true(h->min == 0);
	assert_int_equal(h->optional_max_case, OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT__OPTIONAL_MAX__NOT_SET);
	assert_int_equal(h->count, 3);
	assert_int_equal(h->n_bucket_counts, 2);
	assert_int_equal(h->bucket_counts[1], 2);

	m = metric(sm, "signed.values");
	e = m->exponential_histogram->data_points[0];
	assert_int_equal(e->count, 6);
	assert_int_equal(e->optional_sum_case, OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__OPTIONAL_SUM_SUM);
	assert_true(e->sum == -4);
	assert_int_equal(e->scale, -1);
	assert_int_equal(e->zero_count, 1);
	assert_int_equal(e->positive->offset, 2);
	assert_int_equal(e->positive->n_bucket_counts, 2);
	assert_int_equal(e->negative->offset, -3);
	assert_int_equal(e->negative->n_bucket_counts, 1);
	assert_int_equal(e->negative->bucket_counts[0], 3);
}

static void test_otlp_metrics_legacy_encoder(void **state)
{
	struct fx *f = *state;
	MET(ScopeMetrics) *sm;

	sm = only_scope(f, "otlp_metrics_legacy.pb");
	assert_scope(sm->scope, "lgtm-golden-legacy", "");
	assert_int_equal(sm->n_metrics, 4);
	check_legacy_summary(sm);
	check_legacy_sum_exemplar(sm);
	check_legacy_histograms(sm);
}

/* --- Bad input and limits ---------------------------------------------------------- */

static void test_garbage_fails_cleanly(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *why;
	} cases[] = {
		{ "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11, "bad tag" },
		{ "\x00", 1, "bad field number" },
		{ "\x0f", 1, "unsupported wire type" },        /* wire type 7 */
		{ "\x0b", 1, "unsupported wire type" },        /* group start */
		{ "\x0a\x05" "ab", 4, "truncated value" },     /* length past the end */
		{ "\x0a\x02\x0a", 3, "truncated value" },      /* inside a TimeSeries */
		{ "\x19\x00\x00", 3, "truncated value" },      /* fixed64 cut short */
		{ "\x08\x01", 2, "malformed" },                /* message field sent as varint */
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = decode_rc(&prometheus__write_request__descriptor, cases[i].bytes,
				   cases[i].len, NULL, err, sizeof(err));

		assert_int_equal(rc, PROTO_EINVAL);
		if (!strstr(err, cases[i].why) || !strstr(err, "prometheus."))
			fail_msg("case %zu: unexpected error \"%s\"", i, err);
	}
}

static void test_random_bytes_never_crash(void **state)
{
	uint8_t junk[2048];
	uint32_t x = 12345;
	char err[256];

	for (int round = 0; round < 200; round++) {
		int rc;

		for (size_t i = 0; i < sizeof(junk); i++) {
			x = x * 1103515245u + 12345u;
			junk[i] = (uint8_t)(x >> 16);
		}
		rc = decode_rc(&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
			       junk, 1 + (size_t)round * 10, NULL, err, sizeof(err));
		assert_true(rc == 0 || rc == PROTO_EINVAL);
		if (rc < 0)
			assert_true(err[0] != '\0');
	}
}

/* Each of these fixtures is one top-level field wrapping everything, so every proper,
 * non-empty prefix cuts a length-delimited value short. */
static void test_truncated_fixtures_fail(void **state)
{
	static const struct {
		const char *file;
		const ProtobufCMessageDescriptor *desc;
	} fx[] = {
		{ "otlp_traces.pb", &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor },
		{ "otlp_logs.pb", &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor },
		{ "otlp_metrics.pb", &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor },
		{ "loki_push_sm.pb", &logproto__push_request__descriptor },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		struct buf b = { 0 };

		read_fixture(fx[i].file, &b);
		for (size_t n = 1; n < b.len; n++)
			if (decode_rc(fx[i].desc, b.data, n, NULL, err, sizeof(err)) != PROTO_EINVAL)
				fail_msg("%s cut at %zu of %zu decoded", fx[i].file, n, b.len);
		assert_int_equal(decode_rc(fx[i].desc, b.data, b.len, NULL, err, sizeof(err)), 0);
		buf_free(&b);
	}
}

static void test_unknown_fields_are_skipped(void **state)
{
	struct fx *f = *state;
	Prometheus__WriteRequest *wr;

	read_fixture("prom_write_full.pb", &f->b);
	/* Field 99 (varint), field 2 (reserved upstream, bytes), field 100 (fixed32). */
	buf_append(&f->b, "\x98\x06\x01" "\x12\x03xyz" "\xa5\x06\x01\x02\x03\x04", 14);
	wr = decode_ok(&prometheus__write_request__descriptor, &f->b, f->a);
	assert_int_equal(wr->n_timeseries, 2);
	assert_int_equal(wr->n_metadata, 2);
	assert_label(wr->timeseries[1]->labels[0], "__name__", "up");
}

static void test_max_bytes(void **state)
{
	struct proto_limits lim = { 0 };
	struct buf b = { 0 };
	char err[256];

	read_fixture("prom_write_full.pb", &b);
	lim.max_bytes = b.len;
	assert_int_equal(decode_rc(&prometheus__write_request__descriptor, b.data, b.len, &lim,
				   err, sizeof(err)), 0);
	lim.max_bytes = b.len - 1;
	assert_int_equal(decode_rc(&prometheus__write_request__descriptor, b.data, b.len, &lim,
				   err, sizeof(err)), PROTO_ETOOBIG);
	assert_non_null(strstr(err, "exceeds the limit"));
	buf_free(&b);
}

static size_t varint_len(size_t v)
{
	size_t n = 1;

	while (v > 0x7f) {
		v >>= 7;
		n++;
	}
	return n;
}

/* AnyValue{array_value{values[AnyValue{array_value{...}}]}}: 2 levels per pair. The
 * content length of every level is known from the inside out, so the headers can
 * then be written front to back in one pass. */
static void nested_any_value(struct buf *b, size_t pairs)
{
	size_t levels = 2 * pairs, *inner = calloc(levels + 1, sizeof(*inner));

	assert_non_null(inner);
	for (size_t i = 1; i <= levels; i++)
		inner[i] = inner[i - 1] + 1 + varint_len(inner[i - 1]);
	buf_reset(b);
	for (size_t i = levels; i > 0; i--) {
		size_t v = inner[i - 1];

		/* Outermost AnyValue.array_value (field 5), then ArrayValue.values (1). */
		buf_putc(b, (levels - i) % 2 == 0 ? 0x2a : 0x0a);
		do {
			buf_putc(b, (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
			v >>= 7;
		} while (v);
	}
	assert_false(b->oom);
	assert_int_equal(b->len, inner[levels]);
	free(inner);
}

static void test_nesting_depth(void **state)
{
	const ProtobufCMessageDescriptor *d = &opentelemetry__proto__common__v1__any_value__descriptor;
	struct proto_limits lim = { .max_depth = 10 };
	struct buf b = { 0 };
	char err[256];

	nested_any_value(&b, 5);
	assert_int_equal(decode_rc(d, b.data, b.len, &lim, err, sizeof(err)), 0);
	nested_any_value(&b, 6);
	assert_int_equal(decode_rc(d, b.data, b.len, &lim, err, sizeof(err)), PROTO_ETOOBIG);
	assert_non_null(strstr(err, "nested too deeply"));

	/* ~1.3 MB that would overflow protobuf-c's recursion; refused before it runs. */
	nested_any_value(&b, 100000);
	assert_int_equal(decode_rc(d, b.data, b.len, NULL, err, sizeof(err)), PROTO_ETOOBIG);
	assert_non_null(strstr(err, "nested too deeply"));
	buf_free(&b);
}

/* Empty Span submessages: 2 wire bytes each, a full Span struct each once decoded. */
static void test_memory_budget(void **state)
{
	const ProtobufCMessageDescriptor *d = &opentelemetry__proto__trace__v1__scope_spans__descriptor;
	struct proto_limits lim = { .max_mem = 4096 };
	struct buf b = { 0 };
	char err[256];

	for (int i = 0; i < 200000; i++)
		buf_append(&b, "\x12\x00", 2);
	assert_false(b.oom);
	assert_int_equal(decode_rc(d, b.data, 2000, &lim, err, sizeof(err)), PROTO_ETOOBIG);
	assert_non_null(strstr(err, "memory limit of 4096"));
	assert_int_equal(decode_rc(d, b.data, 20, &lim, err, sizeof(err)), 0);
	/* The default budget (a multiple of the input) catches the amplification too. */
	assert_int_equal(decode_rc(d, b.data, b.len, NULL, err, sizeof(err)), PROTO_ETOOBIG);
	assert_non_null(strstr(err, "memory limit"));
	buf_free(&b);
}

/* The SDK fixtures decode well inside the default budget. */
static void test_default_budget_fits_real_payloads(void **state)
{
	static const char *files[] = { "otlp_traces.pb", "otlp_logs.pb", "otlp_metrics.pb" };
	static const ProtobufCMessageDescriptor *descs[] = {
		&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
		&opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor,
		&opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor,
	};

	struct fx *f = *state;

	for (size_t i = 0; i < 3; i++) {
		size_t before = arena_used(f->a), used;

		load(f, files[i], descs[i]);
		used = arena_used(f->a) - before;
		if (used > f->b.len * (PROTO_DEFAULT_MEM_FACTOR / 2) + PROTO_DEFAULT_MEM_SLACK)
			fail_msg("%s: %zu bytes decoded to %zu", files[i], f->b.len, used);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prom_write_snappy_body, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_prom_write_exemplars_metadata, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_prom_write_native_histograms, fx_setup, fx_teardown),
		cmocka_unit_test(test_pack_matches_real_encoders),
		cmocka_unit_test(test_pack_reports_oom),
		cmocka_unit_test_setup_teardown(test_loki_push_winston, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_loki_push_structured_metadata, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_otlp_traces, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_otlp_trace_response, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_otlp_logs, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_otlp_metrics_sdk, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_otlp_metrics_legacy_encoder, fx_setup, fx_teardown),
		cmocka_unit_test(test_garbage_fails_cleanly),
		cmocka_unit_test(test_random_bytes_never_crash),
		cmocka_unit_test(test_truncated_fixtures_fail),
		cmocka_unit_test_setup_teardown(test_unknown_fields_are_skipped, fx_setup, fx_teardown),
		cmocka_unit_test(test_max_bytes),
		cmocka_unit_test(test_nesting_depth),
		cmocka_unit_test(test_memory_budget),
		cmocka_unit_test_setup_teardown(test_default_budget_fits_real_payloads, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
