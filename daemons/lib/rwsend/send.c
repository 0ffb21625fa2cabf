/*
 * One batch on the wire: a WriteRequest with the batch's samples and exemplars
 * grouped by series (one TimeSeries per series, samples and exemplars each in queue
 * order, which is WAL order; Prometheus sends one TimeSeries per sample or exemplar,
 * receivers accept both), protobuf-packed, snappy-compressed, and POSTed until it is
 * handled. Exemplars count towards max_samples_per_send, as upstream.
 *
 * Outcomes follow Prometheus' queue manager: 2xx sent; 5xx, 429 when
 * retry_on_http_429, and transport errors are recoverable and retried with backoff
 * for as long as the queue runs (the WAL still holds the data, so waiting costs
 * nothing but lag); any other status drops the batch (samples_failed_total), since
 * sending it again cannot succeed. The httpclient makes one attempt per call so
 * that each retry is counted, logged and observed here, and the wait between
 * attempts can be cut short by the queue's cancel flag. Credentials from files are
 * read for every attempt, so a rotated token is picked up without a reload.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress/compress.h"
#include "dynload/dynload.h"
#include "log/log.h"
#include "prometheus/remote.pb-c.h"
#include "proto/proto.h"
#include "rwsend/internal.h"

/* --- encoding -------------------------------------------------------------------------- */

struct group {
	const struct rws_series **keys;
	uint32_t *index;
	size_t mask;
};

static uint32_t group_of(struct group *g, const struct rws_series *s, size_t *next)
{
	size_t i = (size_t)(((uintptr_t)s >> 4) * 0x9e3779b97f4a7c15ULL) & g->mask;

	while (g->keys[i] && g->keys[i] != s)
		i = (i + 1) & g->mask;
	if (!g->keys[i]) {
		g->keys[i] = s;
		g->index[i] = (uint32_t)(*next)++;
	}
	return g->index[i];
}

static Prometheus__Label **proto_labels(struct arena *a, const struct labels *ls)
{
	Prometheus__Label *lv = arena_alloc(a, (ls->n ? ls->n : 1) * sizeof(*lv));
	Prometheus__Label **lp = arena_alloc(a, (ls->n ? ls->n : 1) * sizeof(*lp));

	if (!lv || !lp)
		return NULL;
	for (size_t i = 0; i < ls->n; i++) {
		prometheus__label__init(&lv[i]);
		lv[i].name = (char *)ls->v[i].name;
		lv[i].value = (char *)ls->v[i].value;
		lp[i] = &lv[i];
	}
	return lp;
}

static int fill_series(struct arena *a, Prometheus__TimeSeries *ts, const struct rws_series *s,
		       size_t nsamples, size_t nexemplars)
{
	prometheus__time_series__init(ts);
	ts->labels = proto_labels(a, &s->ls);
	ts->samples = arena_alloc(a, (nsamples ? nsamples : 1) * sizeof(*ts->samples));
	ts->exemplars = arena_alloc(a, (nexemplars ? nexemplars : 1) * sizeof(*ts->exemplars));
	if (!ts->labels || !ts->samples || !ts->exemplars)
		return -1;
	ts->n_labels = s->ls.n;
	return 0;
}

/* An entry into its series' TimeSeries, in sm or ex (storage for it). */
static int add_entry(struct arena *a, Prometheus__TimeSeries *t, const struct rws_entry *e,
		     Prometheus__Sample *sm, Prometheus__Exemplar *ex)
{
	if (!e->ex) {
		prometheus__sample__init(sm);
		sm->timestamp = e->t;
		sm->value = e->v;
		t->samples[t->n_samples++] = sm;
		return 0;
	}
	prometheus__exemplar__init(ex);
	ex->timestamp = e->t;
	ex->value = e->v;
	ex->labels = proto_labels(a, e->ex);
	if (!ex->labels)
		return -1;
	ex->n_labels = e->ex->n;
	t->exemplars[t->n_exemplars++] = ex;
	return 0;
}

static int encode(struct rws_shard *s, const struct rws_entry *e, size_t n)
{
	struct arena *a = s->arena;
	Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
	Prometheus__TimeSeries *ts, **tsp;
	Prometheus__Sample *sm;
	Prometheus__Exemplar *ex;
	struct group g;
	uint32_t *of, *count, *nex;
	size_t cap = 16, nts = 0;
	char err[128];

	arena_reset(a);
	while (cap < 2 * n)
		cap *= 2;
	g = (struct group){ arena_calloc(a, cap, sizeof(*g.keys)), arena_alloc(a, cap * sizeof(uint32_t)),
			    cap - 1 };
	of = arena_alloc(a, n * sizeof(*of));
	count = arena_calloc(a, n, sizeof(*count));
	nex = arena_calloc(a, n, sizeof(*nex));
	sm = arena_alloc(a, n * sizeof(*sm));
	ex = arena_alloc(a, n * sizeof(*ex));
	if (!g.keys || !g.index || !of || !count || !nex || !sm || !ex)
		return -1;
	for (size_t i = 0; i < n; i++) {
		of[i] = group_of(&g, e[i].s, &nts);
		if (e[i].ex)
			nex[of[i]]++;
		else
			count[of[i]]++;
	}
	ts = arena_alloc(a, nts * sizeof(*ts));
	tsp = arena_alloc(a, nts * sizeof(*tsp));
	if (!ts || !tsp)
		return -1;
	for (size_t i = 0; i < cap; i++)
		if (g.keys[i] &&
		    fill_series(a, &ts[g.index[i]], g.keys[i], count[g.index[i]], nex[g.index[i]]))
			return -1;
	for (size_t i = 0; i < n; i++)
		if (add_entry(a, &ts[of[i]], &e[i], &sm[i], &ex[i]))
			return -1;
	for (size_t i = 0; i < nts; i++)
		tsp[i] = &ts[i];
	wr.n_timeseries = nts;
	wr.timeseries = tsp;
	s->pb.len = 0;
	s->body.len = 0;
	if (proto_pack(&wr.base, &s->pb, err, sizeof(err)) ||
	    compress_encode(COMPRESS_SNAPPY, s->pb.data, s->pb.len, 0, &s->body, err, sizeof(err)) ||
	    s->body.oom)
		return -1;
	return 0;
}

/* --- credentials ----------------------------------------------------------------------- */

/* A secret file's content without surrounding whitespace, as Prometheus reads it. */
static int read_secret(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
	size_t len, skip = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, errlen, "unable to read %s", path);
		return -1;
	}
	len = fread(out, 1, cap - 1, f);
	fclose(f);
	out[len] = '\0';
	while (len && isspace((unsigned char)out[len - 1]))
		out[--len] = '\0';
	while (out[skip] && isspace((unsigned char)out[skip]))
		skip++;
	memmove(out, out + skip, len - skip + 1);
	return 0;
}

#define SECRET_MAX 4096

/* The Authorization header value into out (empty when the entry has no auth). Stack
 * buffers only: an outage retries for hours and must not grow memory. */
static int auth_header(const struct rwsend_config *c, char *out, size_t cap, char *err,
		       size_t errlen)
{
	const struct rwsend_basic_auth *b = &c->basic_auth;
	const struct rwsend_authorization *az = &c->authorization;
	char secret[SECRET_MAX], plain[2 * SECRET_MAX];
	const struct dynload_crypto *cr;
	int len;

	out[0] = '\0';
	secret[0] = '\0';
	if (b->username || b->password || b->password_file) {
		if (b->password_file && *b->password_file) {
			if (read_secret(b->password_file, secret, sizeof(secret), err, errlen))
				return -1;
		} else {
			snprintf(secret, sizeof(secret), "%s", b->password ? b->password : "");
		}
		len = snprintf(plain, sizeof(plain), "%s:%s", b->username ? b->username : "", secret);
		if (len < 0 || (size_t)len >= sizeof(plain) || 6 + 4 * ((size_t)len / 3 + 1) >= cap)
			return snprintf(err, errlen, "basic_auth credentials too long"), -1;
		if (dynload_crypto(&cr, err, errlen) < 0)
			return -1;
		memcpy(out, "Basic ", 6);
		cr->encode_block((unsigned char *)out + 6, (const unsigned char *)plain, len);
	} else if (az->type || az->credentials || az->credentials_file) {
		if (az->credentials_file && *az->credentials_file) {
			if (read_secret(az->credentials_file, secret, sizeof(secret), err, errlen))
				return -1;
		} else {
			snprintf(secret, sizeof(secret), "%s", az->credentials ? az->credentials : "");
		}
		len = snprintf(out, cap, "%s %s", az->type && *az->type ? az->type : "Bearer", secret);
		if (len < 0 || (size_t)len >= cap)
			return snprintf(err, errlen, "authorization credentials too long"), -1;
	}
	return 0;
}

/* --- one attempt and its outcome ------------------------------------------------------- */

enum outcome { SENT, DROP, RETRY, CANCELED };

static enum outcome attempt(struct rws_shard *s, char *err, size_t errlen)
{
	struct rws_queue *q = s->q;
	struct httpc_header h[2] = { { "X-Prometheus-Remote-Write-Version", "0.1.0" } };
	struct httpc_req req = {
		.method = "POST",
		.url = q->conf->c.url,
		.content_type = "application/x-protobuf",
		.content_encoding = "snappy",
		.body = s->body.data,
		.body_len = s->body.len,
		.headers = h,
		.nheaders = 1,
	};
	char auth[3 * SECRET_MAX];
	int64_t t0;
	int rc;

	if (auth_header(&q->conf->c, auth, sizeof(auth), err, errlen))
		return RETRY;
	if (auth[0])
		h[req.nheaders++] = (struct httpc_header){ "Authorization", auth };
	t0 = rws_now_ms();
	rc = httpc_do(q->http, &req, &s->resp, err, errlen);
	metrics_observe(q->mc.duration, (double)(rws_now_ms() - t0) / 1000.0);
	if (rc == HTTPC_ECANCELED)
		return CANCELED;
	if (s->resp.status && (rc == 0 || rc == HTTPC_ESTATUS || rc == HTTPC_ETOOBIG)) {
		int st = s->resp.status;
		const char *body = s->resp.body.data ? s->resp.body.data : "";

		if (st / 100 == 2)
			return SENT;
		snprintf(err, errlen, "server returned HTTP status %d: %.*s", st,
			 (int)strcspn(body, "\r\n") > 256 ? 256 : (int)strcspn(body, "\r\n"), body);
		if (st / 100 == 5 || (st == 429 && q->conf->c.queue_config.retry_on_http_429))
			return RETRY;
		return DROP;
	}
	return RETRY;
}

static unsigned wait_ms(struct rws_shard *s)
{
	const struct rwsend_queue_config *qc = &s->q->conf->c.queue_config;
	unsigned ms = httpc_backoff_ms((unsigned)qc->min_backoff_ms, (unsigned)qc->max_backoff_ms,
				       ++s->retry);
	int st = s->resp.status;

	/* Retry-After is the server's say on when to come back; honour it, bounded. */
	if ((st == 429 || st / 100 == 5) && s->resp.retry_after_s > 0)
		ms = (unsigned)(s->resp.retry_after_s < 300 ? s->resp.retry_after_s : 300) * 1000;
	return ms ? ms : 1;
}

static void sleep_cancelable(struct rws_shard *s, unsigned ms)
{
	int64_t end = rws_now_ms() + ms;

	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->q->cancel) && rws_now_ms() < end)
		rws_cond_wait_ms(&s->cv, &s->mu, end - rws_now_ms());
	pthread_mutex_unlock(&s->mu);
}

static void log_kv2(bool error, struct rws_queue *q, const char *msg, size_t n, const char *err)
{
	char cnt[24];

	snprintf(cnt, sizeof(cnt), "%zu", n);
	if (error)
		LOG_ERROR(RWS_LOG, msg, "remote_name", q->conf->name, "url", q->conf->url_label,
			  "count", cnt, "err", err);
	else
		LOG_WARN(RWS_LOG, msg, "remote_name", q->conf->name, "url", q->conf->url_label,
			 "count", cnt, "err", err);
}

/* The newest sample timestamp (exemplars do not count, as upstream's highest sent). */
static int64_t newest_sample(const struct rws_entry *e, size_t n)
{
	int64_t hi = INT64_MIN;

	for (size_t i = 0; i < n; i++)
		if (!e[i].ex && e[i].t > hi)
			hi = e[i].t;
	return hi;
}

static size_t count_exemplars(const struct rws_entry *e, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += e[i].ex != NULL;
	return k;
}

/* Add the batch's samples to `samples` and its exemplars to `exemplars`. */
static void count2(struct rws_queue *q, _Atomic uint64_t *samples, struct metric_child *ms,
		   _Atomic uint64_t *exemplars, struct metric_child *mx, size_t n, size_t nex)
{
	atomic_fetch_add(samples, n - nex);
	metrics_add(ms, (double)(n - nex));
	if (nex) {
		atomic_fetch_add(exemplars, nex);
		metrics_add(mx, (double)nex);
	}
}

static void sent(struct rws_shard *s, const struct rws_entry *e, size_t n, size_t nex)
{
	struct rws_queue *q = s->q;
	int64_t hi = newest_sample(e, n);

	count2(q, &q->sent, q->mc.samples, &q->ex_sent, q->mc.ex_sent, n, nex);
	atomic_fetch_add(&q->batches, 1);
	metrics_add(q->mc.bytes, (double)s->body.len);
	pthread_mutex_lock(&q->sent_mu);
	if (hi > atomic_load(&q->highest_sent)) {
		atomic_store(&q->highest_sent, hi);
		metrics_set(q->mc.highest_sent, (double)hi / 1000.0);
	}
	pthread_mutex_unlock(&q->sent_mu);
}

/* What the shard count is computed from: every finished send, sent or failed. */
static void finished(struct rws_queue *q, int64_t t0_us)
{
	atomic_fetch_add(&q->send_us, (uint64_t)(rws_now_us() - t0_us));
	atomic_store(&q->last_send_ms, rws_wall_ms());
}

int rws_send_batch(struct rws_shard *s, const struct rws_entry *e, size_t n)
{
	struct rws_queue *q = s->q;
	int64_t t0 = rws_now_us();
	size_t nex = count_exemplars(e, n);
	char err[512];

	s->retry = 0;
	while (encode(s, e, n)) {
		log_kv2(true, q, "Failed to encode a batch, retrying", n, "out of memory");
		sleep_cancelable(s, wait_ms(s));
		if (atomic_load(&q->cancel))
			return 1;
	}
	for (;;) {
		switch (attempt(s, err, sizeof(err))) {
		case SENT:
			sent(s, e, n, nex);
			finished(q, t0);
			return 0;
		case DROP:
			count2(q, &q->failed, q->mc.failed, &q->ex_failed, q->mc.ex_failed, n, nex);
			log_kv2(true, q, "non-recoverable error", n, err);
			finished(q, t0);
			return 0;
		case CANCELED:
			return 1;
		case RETRY:
			break;
		}
		count2(q, &q->retried, q->mc.retried, &q->ex_retried, q->mc.ex_retried, n, nex);
		log_kv2(false, q, "Failed to send batch, retrying", n, err);
		sleep_cancelable(s, wait_ms(s));
		if (atomic_load(&q->cancel))
			return 1;
	}
}
