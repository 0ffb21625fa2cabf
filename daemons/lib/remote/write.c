/*
 * Remote-write request decoding and per-series validation. The zero-copy decoder
 * (wire.c) reads what senders send; what it does not recognise goes to protobuf-c,
 * whose structs are turned into the same batch here. Both end in
 * remote_accept_series(), so a series is judged the same way whichever decoder read
 * it. Samples are copied into one contiguous array per series in the arena: the
 * storage layer wants (t, v) pairs.
 */
#include "remote/remote_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "compress/compress.h"
#include "prometheus/remote.pb-c.h"
#include "proto/proto.h"

#define MAX_REPORTED 5

void remote_limits_defaults(const struct remote_write_limits *in, struct remote_write_limits *out)
{
	*out = in ? *in : (struct remote_write_limits){ 0 };
	if (!out->max_labels)
		out->max_labels = 128;
	if (!out->max_name_length)
		out->max_name_length = 1024;
	if (!out->max_value_length)
		out->max_value_length = 16384;
	if (!out->max_decoded_bytes)
		out->max_decoded_bytes = 256u << 20;
}

static void report(struct remote_write_batch *b, const struct labels *ls, const char *why)
{
	b->invalid_series++;
	if (b->invalid_series > MAX_REPORTED)
		return;
	if (b->errors.len)
		buf_puts(&b->errors, "; ");
	buf_puts(&b->errors, why);
	if (ls) {
		buf_puts(&b->errors, " for series ");
		labels_format(ls, &b->errors);
	}
}

/* Why a series is invalid, or NULL. */
static const char *check_series(const struct labels *ls, const struct remote_write_limits *lim,
				char *why, size_t whylen)
{
	if (ls->n > lim->max_labels) {
		snprintf(why, whylen, "series has %zu labels, more than the limit of %zu", ls->n,
			 lim->max_labels);
		return why;
	}
	for (size_t i = 0; i < ls->n; i++) {
		if (strlen(ls->v[i].name) > lim->max_name_length) {
			snprintf(why, whylen, "label name longer than %zu bytes", lim->max_name_length);
			return why;
		}
		if (strlen(ls->v[i].value) > lim->max_value_length) {
			snprintf(why, whylen, "value of label %s longer than %zu bytes", ls->v[i].name,
				 lim->max_value_length);
			return why;
		}
	}
	if (!labels_get(ls, LABELS_METRIC_NAME))
		return "series has no metric name (__name__)";
	if (labels_check(ls, why, whylen) < 0)
		return why;
	return NULL;
}

int remote_accept_series(struct remote_write_batch *b, struct labels *ls, size_t nbad,
			 const struct remote_write_limits *lim)
{
	struct tsdb_db_series *s = &b->series[b->nseries];
	char why[512];
	const char *bad;

	labels_sort(ls);
	bad = check_series(ls, lim, why, sizeof(why));
	if (bad) {
		/* Describe the series only when its labels are small enough to print. */
		report(b, ls->n <= 64 ? ls : NULL, bad);
		b->invalid_samples += nbad;
		return 0;
	}
	s->labels = ls;
	b->nsamples += s->n;
	b->nexemplars += s->nexemplars;
	b->nseries++;
	return 0;
}

/* A batch of 2000 series takes ~110 KiB (series and spans). Shared by the threads and
 * given back before a request waits for its fsync (remote_write_batch_done()), as the
 * HTTP layer does with decoded bodies. */
static struct buf_pool series_pool = BUF_POOL_INIT(2, 1 << 20);

int remote_batch_series(struct remote_write_batch *b, size_t n)
{
	size_t one = sizeof(*b->series) + sizeof(*b->wire);

	b->series_mem = buf_pool_take(&series_pool);
	if (!n)
		n = 1;
	if (n > SIZE_MAX / one || buf_reserve(&b->series_mem, n * one) < 0)
		return -1;
	b->series = (struct tsdb_db_series *)(void *)b->series_mem.data;
	b->wire = (struct remote_wire_span *)(void *)(b->series + n);
	return 0;
}

void remote_batch_release(struct remote_write_batch *b)
{
	buf_pool_give(&series_pool, &b->series_mem);
	b->series = NULL;
	b->wire = NULL;
}

int remote_batch_finish(struct remote_write_batch *b)
{
	if (b->invalid_series > MAX_REPORTED)
		buf_printf(&b->errors, "; and %zu more invalid series", b->invalid_series - MAX_REPORTED);
	return b->errors.oom ? -1 : 0;
}

/* --- the protobuf-c path ------------------------------------------------------------------ */

/* Labels of a series or an exemplar, empty values dropped (unsorted); NULL on
 * allocation failure. */
static struct label *series_labels(struct arena *a, Prometheus__Label *const *labels,
				   size_t nlabels, size_t *n)
{
	struct label *v = arena_alloc(a, (nlabels ? nlabels : 1) * sizeof(*v));
	size_t k = 0;

	if (!v)
		return NULL;
	for (size_t i = 0; i < nlabels; i++) {
		if (!labels[i]->value[0])
			continue;
		v[k].name = labels[i]->name;
		v[k].value = labels[i]->value;
		k++;
	}
	*n = k;
	return v;
}

/* The series' exemplars, labels sorted; the exemplar store judges them. */
static int add_exemplars(struct arena *a, const Prometheus__TimeSeries *ts,
			 struct tsdb_db_series *s)
{
	struct tsdb_exemplar *ex;

	if (!ts->n_exemplars)
		return 0;
	ex = arena_alloc(a, ts->n_exemplars * sizeof(*ex));
	if (!ex)
		return -1;
	for (size_t i = 0; i < ts->n_exemplars; i++) {
		const Prometheus__Exemplar *e = ts->exemplars[i];

		ex[i].labels.v = series_labels(a, e->labels, e->n_labels, &ex[i].labels.n);
		if (!ex[i].labels.v)
			return -1;
		labels_sort(&ex[i].labels);
		ex[i].t = e->timestamp;
		ex[i].v = e->value;
	}
	s->exemplars = ex;
	s->nexemplars = ts->n_exemplars;
	return 0;
}

static int add_series(struct arena *a, const Prometheus__TimeSeries *ts, const struct remote_write_limits *lim,
		      struct remote_write_batch *b)
{
	struct tsdb_db_series *s = &b->series[b->nseries];
	struct labels *ls = arena_alloc(a, sizeof(*ls));
	struct tsdb_sample *smp;
	size_t kept = b->nseries;

	/* The slot may hold an invalid series' leftovers. */
	memset(s, 0, sizeof(*s));
	if (!ls || !(ls->v = series_labels(a, ts->labels, ts->n_labels, &ls->n)))
		return -1;
	smp = arena_alloc(a, (ts->n_samples ? ts->n_samples : 1) * sizeof(*smp));
	if (!smp)
		return -1;
	for (size_t i = 0; i < ts->n_samples; i++) {
		smp[i].t = ts->samples[i]->timestamp;
		smp[i].v = ts->samples[i]->value;
	}
	s->samples = smp;
	s->n = ts->n_samples;
	if (add_exemplars(a, ts, s) < 0)
		return -1;
	if (remote_accept_series(b, ls, ts->n_samples + ts->n_histograms, lim) < 0)
		return -1;
	if (b->nseries > kept)
		b->nhistograms += ts->n_histograms;
	return 0;
}

int remote_write_decode_pc(const void *pb, size_t len, const struct remote_write_limits *lim,
			   struct arena *a, struct remote_write_batch *out, char *err, size_t errlen)
{
	struct proto_limits pl = { .max_bytes = lim->max_decoded_bytes };
	Prometheus__WriteRequest *req;
	ProtobufCMessage *msg;

	memset(out, 0, sizeof(*out));
	if (proto_decode(&prometheus__write_request__descriptor, pb, len, &pl, a, &msg, err,
			 errlen) < 0)
		return -1;
	req = (Prometheus__WriteRequest *)msg;
	out->series = arena_calloc(a, req->n_timeseries ? req->n_timeseries : 1, sizeof(*out->series));
	if (!out->series)
		goto oom;
	for (size_t i = 0; i < req->n_timeseries; i++)
		if (add_series(a, req->timeseries[i], lim, out) < 0)
			goto oom;
	if (remote_batch_finish(out) < 0)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory decoding remote write request");
	buf_free(&out->errors);
	return -1;
}

/* --- entry points ---------------------------------------------------------------------- */

int remote_write_decode(const void *body, size_t len, const char *content_encoding,
			const struct remote_write_limits *limits, struct remote_series_cache *cache,
			struct arena *a, struct remote_write_batch *out, char *err, size_t errlen)
{
	struct remote_write_limits lim;
	struct buf plain = { 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	remote_limits_defaults(limits, &lim);
	if (len == 0) {
		snprintf(err, errlen, "empty remote write request body");
		return -1;
	}
	if (!content_encoding || !*content_encoding) {
		/* Senders that omit Content-Encoding still send snappy (Prometheus assumes it). */
		rc = compress_decode(COMPRESS_SNAPPY, body, len, lim.max_decoded_bytes, &plain, err, errlen);
		if (rc < 0)
			goto out;
		body = plain.data;
		len = plain.len;
	}
	rc = len <= lim.max_decoded_bytes ? remote_wire_decode(body, len, &lim, cache, a, out)
					  : REMOTE_WIRE_OTHER;
	if (rc == REMOTE_WIRE_OTHER) {
		buf_free(&out->errors);
		remote_batch_release(out);
		rc = remote_write_decode_pc(body, len, &lim, a, out, err, errlen);
	} else if (rc < 0) {
		snprintf(err, errlen, "out of memory decoding remote write request");
		buf_free(&out->errors);
		remote_batch_release(out);
	} else {
		/* Cached series keep pointing into the body: it lives as long as the batch. */
		out->plain = plain;
		return 0;
	}
out:
	buf_free(&plain);
	return rc;
}

void remote_write_batch_done(struct remote_write_batch *b)
{
	buf_free(&b->plain);
	remote_batch_release(b);
	b->wire_base = NULL;
}

void remote_write_batch_free(struct remote_write_batch *b)
{
	buf_free(&b->errors);
	remote_write_batch_done(b);
}

int remote_write_series_labels(const struct remote_write_batch *b, size_t i, struct arena *a,
			       struct labels *out)
{
	const struct tsdb_db_series *s = &b->series[i];

	if (s->labels) {
		*out = *s->labels;
		return 0;
	}
	if (!b->wire || !b->wire[i].len ||
	    remote_wire_labels(b->wire_base + b->wire[i].off, b->wire[i].len, a, out) < 0)
		return -1;
	labels_sort(out);
	return 0;
}
