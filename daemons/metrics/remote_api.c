/*
 * Remote-write and remote-read handlers. Decoding and validation live in the shared
 * `remote` module, storage in `tsdb/db`; this file maps their outcomes to HTTP.
 */
#include <semaphore.h>
#include <stdio.h>
#include <unistd.h>

#include "http/http.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "remote/remote.h"
#include "runtime/runtime.h"
#include "storage.h"
#include "tsdb/db.h"

#include "remote_api.h"

struct remote_api {
	struct tsdb_db *db;
	struct remote_series_cache *cache;
	/* At most one request per core between decoding and written(): the HTTP threads
	 * outnumber the cores (they wait for fsyncs), and each decoding request holds its
	 * decoded body, batch and arena (~500 KiB for 2000 series) that more decoders at
	 * once than cores would only hold longer, not finish sooner. */
	sem_t decoders;
	bool gate;
	struct metric_child *invalid_labels;
	struct metric_child *rejected;
};

static struct remote_api g_api;

/* One write request between decoding and the reply. Decoding and the append use an
 * arena of their own (samples, new series' labels, the append's pending records:
 * ~150 KiB for 2000 series), freed with the batch before the fsync wait. */
struct write_call {
	struct remote_api *api;
	struct http_req *req;
	struct arena *scratch;
	struct remote_write_batch batch;
	uint64_t *refs;
	bool learned;
	bool gated; /* holds a place in api->decoders */
};

static void gate_enter(struct write_call *c)
{
	if (!c->api->gate)
		return;
	while (sem_wait(&c->api->decoders) != 0)
		; /* EINTR */
	c->gated = true;
}

static void gate_leave(struct write_call *c)
{
	if (c->gated)
		sem_post(&c->api->decoders);
	c->gated = false;
}

static int lazy_labels(void *arg, size_t i, struct arena *a, struct labels *out)
{
	struct write_call *c = arg;

	return remote_write_series_labels(&c->batch, i, a, out);
}

static bool series_alive(void *arg, uint64_t ref)
{
	return tsdb_head_series_exists(arg, ref);
}

static void learn(struct write_call *c)
{
	struct tsdb_head *head = tsdb_db_head(c->api->db);

	c->learned = true;
	if (!c->api->cache)
		return;
	remote_series_cache_learn(c->api->cache, &c->batch, c->refs);
	remote_series_cache_trim(c->api->cache, tsdb_head_num_series(head), series_alive, head);
}

/* The batch is in the head and written to the WAL: remember its refs and let go of
 * the series and the body before the fsync wait, where most of a request's time goes
 * (their memory serves the requests decoding meanwhile). */
static void written(void *arg)
{
	struct write_call *c = arg;

	learn(c);
	remote_write_batch_done(&c->batch);
	http_req_body_free(c->req);
	arena_free(c->scratch);
	c->scratch = NULL;
	gate_leave(c);
}

static void handle_write(struct http_req *req, void *ctx)
{
	struct write_call c = { .api = ctx, .req = req, .scratch = arena_new(0) };
	struct remote_write_batch *batch = &c.batch;
	struct tsdb_db_append_opts opts = { .labels = lazy_labels, .arg = &c, .written = written };
	struct tsdb_db_result res = { 0 };
	const void *body;
	size_t len;
	char err[512];

	if (!c.scratch) {
		http_reply_text(req, 500, "out of memory");
		return;
	}
	gate_enter(&c);
	body = http_req_body(req, &len);
	if (remote_write_decode(body, len, http_req_header(req, "Content-Encoding"), NULL,
				c.api->cache, c.scratch, batch, err, sizeof(err)) < 0) {
		LOG_DEBUG("remote_write", "Error decoding remote write request", "err", err);
		http_reply_text(req, 400, "%s", err);
		goto out;
	}
	c.refs = arena_alloc(c.scratch, (batch->nseries ? batch->nseries : 1) * sizeof(*c.refs));
	if (!c.refs) {
		http_reply_text(req, 500, "out of memory");
		goto out;
	}
	opts.refs = c.refs;
	if (tsdb_db_append_ex(c.api->db, batch->series, batch->nseries, &opts, c.scratch, &res,
			      err, sizeof(err)) < 0) {
		LOG_ERROR("remote_write", "Error while remote writing the request", "err", err);
		http_reply_text(req, 500, "%s", err);
		goto out;
	}
	if (!c.learned)
		learn(&c); /* nothing was logged */
	metrics_add(c.api->invalid_labels, (double)batch->invalid_samples);
	metrics_add(c.api->rejected, (double)res.rejected);
	if (res.exemplars_out_of_order) {
		/* As upstream: exemplars never fail a request, out-of-order ones are logged. */
		char n[24];

		snprintf(n, sizeof(n), "%llu", (unsigned long long)res.exemplars_out_of_order);
		LOG_WARN("remote_write", "Error on ingesting out-of-order exemplars", "num_dropped", n);
	}
	if (batch->invalid_series || res.rejected) {
		http_reply_text(req, 400, "%s%s%s", batch->errors.len ? batch->errors.data : "",
				batch->errors.len && res.errors.len ? "; " : "",
				res.errors.len ? res.errors.data : "");
		goto out;
	}
	http_reply(req, 204, NULL, NULL, 0);
out:
	gate_leave(&c);
	buf_free(&res.errors);
	remote_write_batch_free(batch);
	arena_free(c.scratch);
}

static int open_querier(void *arg, int64_t mint, int64_t maxt, struct tsdb_querier **q,
			char *err, size_t errlen)
{
	return tsdb_db_querier(arg, mint, maxt, q, err, errlen);
}

static void handle_read(struct http_req *req, void *ctx)
{
	struct remote_api *api = ctx;
	struct remote_read_limits lim = { .max_samples = (uint64_t)storage_flags.read_sample_limit };
	struct buf out = { 0 };
	const void *body;
	size_t len;
	char err[512];
	int rc;

	if (storage_flags.read_sample_limit <= 0)
		lim.max_samples = UINT64_MAX;
	body = http_req_body(req, &len);
	rc = remote_read(body, len, http_req_header(req, "Content-Encoding"), &lim, open_querier,
			 api->db, http_req_arena(req), &out, err, sizeof(err));
	if (rc < 0) {
		buf_free(&out);
		http_reply_text(req, rc == -1 ? 400 : 500, "%s", err);
		return;
	}
	http_set_header(req, "Content-Encoding", "snappy");
	http_reply_buf(req, 200, "application/x-protobuf", &out);
}

int remote_api_register(struct runtime *rt, struct tsdb_db *db, char *err, size_t errlen)
{
	struct metrics_registry *r = runtime_metrics(rt);
	struct metric *inv, *rej;

	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	g_api.db = db;
	/* Without a semaphore (it cannot fail for these values) requests are not gated. */
	g_api.gate = sem_init(&g_api.decoders, 0, cores > 0 ? (unsigned)cores : 1) == 0;
	/* Without the cache (no memory for it) every series is decoded and looked up. */
	g_api.cache = remote_series_cache_new();
	inv = metrics_counter(r, "prometheus_api_remote_write_invalid_labels_samples_total",
			      "The total number of remote write samples which contained invalid labels.", NULL);
	rej = metrics_counter(r, "lgtm_remote_write_rejected_samples_total",
			      "Remote write samples refused by the storage rules (out of order, duplicate, out of bounds).", NULL);
	if (!inv || !rej || !(g_api.invalid_labels = metrics_only(inv)) ||
	    !(g_api.rejected = metrics_only(rej)) ||
	    http_route(runtime_http(rt), HTTP_POST, "/api/v1/write", "/api/v1/write", handle_write, &g_api) < 0 ||
	    http_route(runtime_http(rt), HTTP_POST, "/api/v1/read", "/api/v1/read", handle_read, &g_api) < 0) {
		snprintf(err, errlen, "registering remote API routes failed");
		return -1;
	}
	return 0;
}

void remote_api_close(void)
{
	remote_series_cache_free(g_api.cache);
	g_api.cache = NULL;
	if (g_api.gate)
		sem_destroy(&g_api.decoders);
	g_api.gate = false;
}
