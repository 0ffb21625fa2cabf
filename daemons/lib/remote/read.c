/*
 * Remote read, SAMPLES response type. Each query opens its own querier over its time
 * range; the response is built as protobuf-c structs in the request arena, pointing
 * at label strings the queriers own, so every querier stays open until the response
 * is packed. The sample limit counts across all queries of a request, as
 * Prometheus' --storage.remote.read-sample-limit does.
 */
#include <stdio.h>
#include <string.h>

#include "compress/compress.h"
#include "prometheus/remote.pb-c.h"
#include "proto/proto.h"
#include "remote/remote.h"

#define READ_BAD (-1)
#define READ_FAIL (-2)

struct read_ctx {
	struct arena *a;
	uint64_t samples, max_samples;
	struct tsdb_querier **open; /* one per query, closed after packing */
	size_t nopen;
};

/* A growable array of pointers in the arena. */
static void **push(struct arena *a, void **v, size_t *n, size_t *cap, void *x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		void **bigger = arena_alloc(a, c * sizeof(*v));
		if (!bigger)
			return NULL;
		if (*n)
			memcpy(bigger, v, *n * sizeof(*v));
		v = bigger;
		*cap = c;
	}
	v[(*n)++] = x;
	return v;
}

static int convert_matchers(const Prometheus__Query *q, struct tsdb_matcher *ms, size_t *n,
			    char *err, size_t errlen)
{
	static const enum tsdb_match_type types[] = {
		[PROMETHEUS__LABEL_MATCHER__TYPE__EQ] = TSDB_MATCH_EQ,
		[PROMETHEUS__LABEL_MATCHER__TYPE__NEQ] = TSDB_MATCH_NEQ,
		[PROMETHEUS__LABEL_MATCHER__TYPE__RE] = TSDB_MATCH_RE,
		[PROMETHEUS__LABEL_MATCHER__TYPE__NRE] = TSDB_MATCH_NRE,
	};

	*n = 0;
	for (size_t i = 0; i < q->n_matchers; i++) {
		const Prometheus__LabelMatcher *m = q->matchers[i];

		if ((unsigned)m->type > PROMETHEUS__LABEL_MATCHER__TYPE__NRE) {
			snprintf(err, errlen, "unknown matcher type %d", (int)m->type);
			return -1;
		}
		if (tsdb_matcher_init(&ms[i], types[m->type], m->name, m->value, err, errlen) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static int series_labels(struct arena *a, const struct labels *ls, Prometheus__TimeSeries *ts)
{
	ts->labels = arena_alloc(a, (ls->n ? ls->n : 1) * sizeof(*ts->labels));
	if (!ts->labels)
		return -1;
	for (size_t i = 0; i < ls->n; i++) {
		Prometheus__Label *l = arena_alloc(a, sizeof(*l));
		if (!l)
			return -1;
		prometheus__label__init(l);
		l->name = (char *)ls->v[i].name;
		l->value = (char *)ls->v[i].value;
		ts->labels[i] = l;
	}
	ts->n_labels = ls->n;
	return 0;
}

/* One series of the answer, or NULL (err says why; the limit is a bad request). */
static Prometheus__TimeSeries *series_out(struct read_ctx *c, struct tsdb_series_set *ss,
					  int *code, char *err, size_t errlen)
{
	struct tsdb_iterator *it = tsdb_series_set_iterator(ss);
	Prometheus__TimeSeries *ts = arena_alloc(c->a, sizeof(*ts));
	void **smp = NULL;
	size_t n = 0, cap = 0;

	*code = READ_FAIL;
	if (!ts)
		goto oom;
	prometheus__time_series__init(ts);
	if (series_labels(c->a, tsdb_series_set_labels(ss), ts) < 0)
		goto oom;
	while (tsdb_iterator_next(it)) {
		Prometheus__Sample *s = arena_alloc(c->a, sizeof(*s));

		if (++c->samples > c->max_samples) {
			snprintf(err, errlen, "exceeded sample limit (%llu)",
				 (unsigned long long)c->max_samples);
			*code = READ_BAD;
			return NULL;
		}
		if (!s)
			goto oom;
		prometheus__sample__init(s);
		tsdb_iterator_at(it, &s->timestamp, &s->value);
		if (!(smp = push(c->a, smp, &n, &cap, s)))
			goto oom;
	}
	if (tsdb_iterator_err(it, err, errlen) < 0)
		return NULL;
	ts->samples = (Prometheus__Sample **)smp;
	ts->n_samples = n;
	return ts;
oom:
	snprintf(err, errlen, "out of memory building the remote read response");
	return NULL;
}

static int run_query(struct read_ctx *c, const Prometheus__Query *q, remote_open_querier_fn open,
		     void *arg, Prometheus__QueryResult *res, char *err, size_t errlen)
{
	struct tsdb_matcher *ms = arena_calloc(c->a, q->n_matchers ? q->n_matchers : 1, sizeof(*ms));
	struct tsdb_querier *qr = NULL;
	struct tsdb_series_set *ss;
	void **out = NULL;
	size_t nm = 0, n = 0, cap = 0;
	int rc = READ_BAD;

	if (!ms) {
		snprintf(err, errlen, "out of memory");
		return READ_FAIL;
	}
	if (convert_matchers(q, ms, &nm, err, errlen) < 0)
		goto done;
	rc = READ_FAIL;
	if (open(arg, q->start_timestamp_ms, q->end_timestamp_ms, &qr, err, errlen) < 0)
		goto done;
	c->open[c->nopen++] = qr;
	if (tsdb_querier_select(qr, ms, nm, NULL, &ss, err, errlen) < 0)
		goto done;
	while (tsdb_series_set_next(ss)) {
		Prometheus__TimeSeries *ts = series_out(c, ss, &rc, err, errlen);
		if (!ts)
			goto done;
		if (!(out = push(c->a, out, &n, &cap, ts))) {
			rc = READ_FAIL;
			goto done;
		}
	}
	if (tsdb_series_set_err(ss, err, errlen) < 0) {
		rc = READ_FAIL;
		goto done;
	}
	res->timeseries = (Prometheus__TimeSeries **)out;
	res->n_timeseries = n;
	rc = 0;
done:
	for (size_t i = 0; i < nm; i++)
		tsdb_matcher_free(&ms[i]);
	return rc;
}

static bool accepts_samples(const Prometheus__ReadRequest *req)
{
	if (req->n_accepted_response_types == 0)
		return true;
	for (size_t i = 0; i < req->n_accepted_response_types; i++)
		if (req->accepted_response_types[i] == PROMETHEUS__READ_REQUEST__RESPONSE_TYPE__SAMPLES)
			return true;
	return false;
}

/* Decode the request body (snappy unless the HTTP layer already decoded it). */
static int decode_request(const void *body, size_t len, const char *enc, size_t max,
			  struct arena *a, Prometheus__ReadRequest **req, char *err, size_t errlen)
{
	struct proto_limits pl = { .max_bytes = max };
	struct buf plain = { 0 };
	ProtobufCMessage *msg;
	int rc = -1;

	if (!enc || !*enc) {
		if (compress_decode(COMPRESS_SNAPPY, body, len, max, &plain, err, errlen) < 0)
			goto out;
		body = plain.data;
		len = plain.len;
	}
	if (proto_decode(&prometheus__read_request__descriptor, body, len, &pl, a, &msg, err, errlen) < 0)
		goto out;
	*req = (Prometheus__ReadRequest *)msg;
	rc = 0;
out:
	buf_free(&plain);
	return rc;
}

int remote_read(const void *body, size_t len, const char *content_encoding,
		const struct remote_read_limits *lim, remote_open_querier_fn open_querier,
		void *arg, struct arena *a, struct buf *out, char *err, size_t errlen)
{
	Prometheus__ReadResponse resp = PROMETHEUS__READ_RESPONSE__INIT;
	struct read_ctx c = { .a = a };
	Prometheus__ReadRequest *req;
	struct buf packed = { 0 };
	size_t max = lim && lim->max_decoded_bytes ? lim->max_decoded_bytes : 64u << 20;
	int rc;

	c.max_samples = lim && lim->max_samples ? lim->max_samples : 50000000;
	if (decode_request(body, len, content_encoding, max, a, &req, err, errlen) < 0)
		return READ_BAD;
	if (!accepts_samples(req)) {
		snprintf(err, errlen, "none of the accepted response types is supported (only SAMPLES)");
		return READ_BAD;
	}
	c.open = arena_calloc(a, req->n_queries ? req->n_queries : 1, sizeof(*c.open));
	resp.results = arena_calloc(a, req->n_queries ? req->n_queries : 1, sizeof(*resp.results));
	if (!c.open || !resp.results) {
		snprintf(err, errlen, "out of memory");
		return READ_FAIL;
	}
	rc = 0;
	for (size_t i = 0; i < req->n_queries && rc == 0; i++) {
		Prometheus__QueryResult *r = arena_alloc(a, sizeof(*r));
		if (!r) {
			snprintf(err, errlen, "out of memory");
			rc = READ_FAIL;
			break;
		}
		prometheus__query_result__init(r);
		rc = run_query(&c, req->queries[i], open_querier, arg, r, err, errlen);
		resp.results[resp.n_results++] = r;
	}
	if (rc == 0 && (proto_pack(&resp.base, &packed, err, errlen) < 0 ||
			compress_encode(COMPRESS_SNAPPY, packed.data, packed.len, 0, out, err, errlen) < 0))
		rc = READ_FAIL;
	for (size_t i = 0; i < c.nopen; i++)
		tsdb_querier_close(c.open[i]);
	buf_free(&packed);
	return rc;
}
