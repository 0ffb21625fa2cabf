/*
 * rwsend end to end: a WAL written with the wal.h writer, a sender manager tailing
 * it, and a remote-write receiver served by the http module on 127.0.0.1 (port 0)
 * that decodes every request with remote_write_decode() and records, per series,
 * the samples in arrival order. The receiver's answer can be switched (204, 400,
 * 429, 503) and it can be stopped and restarted on the same port, so outages,
 * restarts of the sender and checkpoints that overtake it are played out for real.
 *
 * Every series is {__name__="test_metric", s="<ref>"}; round r of the workload is
 * one WAL batch holding one sample per series at BASE + r seconds with value r, so
 * "exactly once, in order" means series s holds exactly rounds r0..r1-1 ascending.
 * Where a sender is stopped with requests in flight the check is "at least once,
 * first seen in order, with a bounded surplus" instead: a receiver may still apply a
 * request its sender abandoned. RWS_DEBUG=1 prints what arrived when a count is off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "relabel/relabel.h"
#include "remote/remote.h"
#include "rwsend/rwsend.h"
#include "rwsend_yaml.h"
#include "tsdb/wal.h"

#define MAX_SERIES 64
#define MAX_ROUNDS 16384
#define MAX_EX 256
#define WAIT_MS 15000

static int64_t base_ms; /* an hour ahead: a first start sends everything newer than itself */
static int64_t round_ms; /* rounds are this far apart (1 s; the reshard tests use less) */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* --- receiver ------------------------------------------------------------------------ */

struct rseries {
	char s[16];
	char labels[256];
	int64_t t[MAX_ROUNDS];
	size_t n;
	int64_t ex_t[MAX_EX];         /* exemplars as they arrived */
	char ex_labels[MAX_EX][48];
	size_t nex;
};

struct recv {
	struct http_server *srv;
	unsigned short port;
	unsigned threads;          /* 0: 2 */
	pthread_mutex_t mu;
	int status;
	int delay_ms;              /* a slow receiver: each request takes this long */
	unsigned requests;
	uint64_t samples, exemplars;
	size_t max_batch;
	struct rseries series[MAX_SERIES];
	size_t nseries;
	char org[64], auth[256], ce[64], ct[64], ua[128], ver[32];
};

static void copy_header(struct http_req *req, const char *name, char *out, size_t cap)
{
	const char *v = http_req_header(req, name);

	snprintf(out, cap, "%s", v ? v : "");
}

/* Series are told apart by their whole label set. */
static struct rseries *find_series(struct recv *r, const struct labels *ls)
{
	const char *s = labels_get(ls, "s");
	struct rseries *rs = NULL;
	struct buf b = { 0 };

	labels_format(ls, &b);
	for (size_t i = 0; i < r->nseries && !rs; i++)
		if (!strcmp(r->series[i].labels, b.data ? b.data : ""))
			rs = &r->series[i];
	if (!rs && r->nseries < MAX_SERIES) {
		rs = &r->series[r->nseries++];
		snprintf(rs->s, sizeof(rs->s), "%s", s ? s : "");
		snprintf(rs->labels, sizeof(rs->labels), "%s", b.data ? b.data : "");
	}
	buf_free(&b);
	return rs;
}

static void handle_write(struct http_req *req, void *ctx)
{
	struct recv *r = ctx;
	struct remote_write_batch b = { 0 };
	const void *body;
	size_t len, n = 0;
	char err[256];
	int status, delay;

	pthread_mutex_lock(&r->mu);
	status = r->status;
	delay = r->delay_ms;
	r->requests++;
	copy_header(req, "X-Scope-OrgID", r->org, sizeof(r->org));
	copy_header(req, "Authorization", r->auth, sizeof(r->auth));
	copy_header(req, "Content-Encoding", r->ce, sizeof(r->ce));
	copy_header(req, "Content-Type", r->ct, sizeof(r->ct));
	copy_header(req, "User-Agent", r->ua, sizeof(r->ua));
	copy_header(req, "X-Prometheus-Remote-Write-Version", r->ver, sizeof(r->ver));
	pthread_mutex_unlock(&r->mu);
	if (delay)
		sleep_ms(delay);
	if (status / 100 != 2) {
		http_reply_text(req, status, "status %d on purpose", status);
		return;
	}
	body = http_req_body(req, &len);
	if (remote_write_decode(body, len, http_req_header(req, "Content-Encoding"), NULL, NULL,
				http_req_arena(req), &b, err, sizeof(err))) {
		http_reply_text(req, 400, "%s", err);
		return;
	}
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < b.nseries; i++) {
		struct rseries *s = find_series(r, b.series[i].labels);

		for (size_t j = 0; s && j < b.series[i].n && s->n < MAX_ROUNDS; j++)
			s->t[s->n++] = b.series[i].samples[j].t;
		for (size_t j = 0; s && j < b.series[i].nexemplars && s->nex < MAX_EX; j++) {
			struct buf lb = { 0 };

			labels_format(&b.series[i].exemplars[j].labels, &lb);
			s->ex_t[s->nex] = b.series[i].exemplars[j].t;
			snprintf(s->ex_labels[s->nex++], sizeof(s->ex_labels[0]), "%s", lb.data ? lb.data : "");
			buf_free(&lb);
		}
		n += b.series[i].n;
		r->exemplars += b.series[i].nexemplars;
	}
	r->samples += n;
	if (n > r->max_batch)
		r->max_batch = n;
	pthread_mutex_unlock(&r->mu);
	remote_write_batch_free(&b);
	http_reply(req, 204, NULL, NULL, 0);
}

static void recv_start(struct recv *r)
{
	char addr[32], err[256];
	struct http_server_config cfg = { .listen_address = addr,
					  .threads = r->threads ? r->threads : 2 };

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", r->port);
	/* Coming back on the same port may have to wait for it to be free again. */
	for (int tries = 0;; tries++) {
		assert_int_equal(http_server_new(&cfg, &r->srv, err, sizeof(err)), 0);
		assert_int_equal(http_route(r->srv, HTTP_POST, "/api/v1/write", "write", handle_write, r), 0);
		if (http_server_start(r->srv, err, sizeof(err)) == 0)
			break;
		http_server_free(r->srv);
		if (!r->port || tries == 100)
			fail_msg("receiver: %s", err);
		sleep_ms(20);
	}
	r->port = http_server_port(r->srv);
}

static void recv_stop(struct recv *r)
{
	http_server_free(r->srv);
	r->srv = NULL;
}

static void recv_set(struct recv *r, int status)
{
	pthread_mutex_lock(&r->mu);
	r->status = status;
	pthread_mutex_unlock(&r->mu);
}

/* One of the receiver's counters, read under its lock. */
static uint64_t recv_count(struct recv *r, const uint64_t *counter)
{
	uint64_t n;

	pthread_mutex_lock(&r->mu);
	n = *counter;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static uint64_t recv_samples(struct recv *r)
{
	return recv_count(r, &r->samples);
}

static uint64_t recv_exemplars(struct recv *r)
{
	return recv_count(r, &r->exemplars);
}

static struct rseries *recv_series(struct recv *r, unsigned s)
{
	char key[16];

	snprintf(key, sizeof(key), "%u", s);
	for (size_t i = 0; i < r->nseries; i++)
		if (!strcmp(r->series[i].s, key))
			return &r->series[i];
	return NULL;
}

/* Series s holds exactly rounds r0..r1-1, in order. */
static void expect_rounds(struct recv *r, unsigned s, int r0, int r1)
{
	struct rseries *rs;

	pthread_mutex_lock(&r->mu);
	rs = recv_series(r, s);
	if (r1 == r0 && !rs) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	if (!rs)
		fail_msg("series %u never arrived", s);
	if (rs->n != (size_t)(r1 - r0))
		fail_msg("series %u: %zu samples, want %d", s, rs->n, r1 - r0);
	for (size_t i = 0; i < rs->n; i++)
		if (rs->t[i] != base_ms + (r0 + (int64_t)i) * round_ms)
			fail_msg("series %u: sample %zu is round %lld, want %lld", s, i,
				 (long long)((rs->t[i] - base_ms) / round_ms), (long long)(r0 + (int64_t)i));
	pthread_mutex_unlock(&r->mu);
}

/* --- WAL ----------------------------------------------------------------------------- */

struct fx {
	char dir[64], waldir[96];
	struct tsdb_wal *wal;
	struct recv recv;
	struct metrics_registry *reg;
	struct arena *cfg_arena;
	struct cfg_list rw;
	struct rwsend_manager *m;
	unsigned nseries;
	unsigned update_ms;          /* shard update interval; 0: the default 10 s */
	/* What the WAL holds, for the sender's `appended` hook. */
	_Atomic uint64_t appended;
	_Atomic int64_t highest;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void wal_log(struct fx *f, struct buf *b)
{
	struct tsdb_wal_rec rec = { b->data, b->len };
	char err[256];

	assert_false(b->oom);
	assert_int_equal(tsdb_wal_log(f->wal, &rec, 1, err, sizeof(err)), 0);
	buf_free(b);
}

static void wal_series(struct fx *f, unsigned n)
{
	struct tsdb_wal_series s[MAX_SERIES];
	struct label lv[MAX_SERIES][2];
	char names[MAX_SERIES][16];
	struct buf b = { 0 };

	for (unsigned i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "%u", i);
		lv[i][0] = (struct label){ "__name__", "test_metric" };
		lv[i][1] = (struct label){ "s", names[i] };
		s[i] = (struct tsdb_wal_series){ 100 + i, { lv[i], 2 } };
	}
	tsdb_wal_encode_series(&b, s, n);
	wal_log(f, &b);
	f->nseries = n;
}

/* One round as one WAL batch: 0 or -1 (no cmocka asserts: writer threads use it). */
static int log_round(struct fx *f, int r, int64_t base)
{
	struct tsdb_wal_sample s[MAX_SERIES];
	struct buf b = { 0 };
	struct tsdb_wal_rec rec;
	char err[256];
	int rc;

	for (unsigned i = 0; i < f->nseries; i++)
		s[i] = (struct tsdb_wal_sample){ 100 + i, base + (int64_t)r * round_ms, r };
	tsdb_wal_encode_samples(&b, s, f->nseries);
	rec = (struct tsdb_wal_rec){ b.data, b.len };
	rc = b.oom ? -1 : tsdb_wal_log(f->wal, &rec, 1, err, sizeof(err));
	buf_free(&b);
	if (rc == 0) {
		atomic_fetch_add(&f->appended, f->nseries);
		if (base + (int64_t)r * round_ms > atomic_load(&f->highest))
			atomic_store(&f->highest, base + (int64_t)r * round_ms);
	}
	return rc ? -1 : 0;
}

/* Rounds r0..r1-1 with an exemplar {trace_id="<r>-<series>"} next to every sample of
 * series refs 100 + i for i < nex (and ref 999, which has no series record), each
 * round one WAL batch: the samples record, then the exemplars record. */
static void wal_rounds_ex(struct fx *f, int r0, int r1, unsigned nex)
{
	struct tsdb_wal_sample s[MAX_SERIES];
	struct tsdb_wal_exemplar x[MAX_SERIES + 1];
	struct label lv[MAX_SERIES + 1];
	char ids[MAX_SERIES + 1][32];
	char err[256];

	for (int r = r0; r < r1; r++) {
		struct buf bs = { 0 }, bx = { 0 };
		struct tsdb_wal_rec rec[2];
		int64_t t = base_ms + (int64_t)r * round_ms;

		for (unsigned i = 0; i < f->nseries; i++)
			s[i] = (struct tsdb_wal_sample){ 100 + i, t, r };
		for (unsigned i = 0; i <= nex; i++) {
			snprintf(ids[i], sizeof(ids[i]), "%d-%u", r, i);
			lv[i] = (struct label){ "trace_id", ids[i] };
			x[i] = (struct tsdb_wal_exemplar){ i < nex ? 100 + i : 999, t, r, { &lv[i], 1 } };
		}
		tsdb_wal_encode_samples(&bs, s, f->nseries);
		tsdb_wal_encode_exemplars(&bx, x, nex + 1);
		assert_false(bs.oom || bx.oom);
		rec[0] = (struct tsdb_wal_rec){ bs.data, bs.len };
		rec[1] = (struct tsdb_wal_rec){ bx.data, bx.len };
		assert_int_equal(tsdb_wal_log(f->wal, rec, 2, err, sizeof(err)), 0);
		buf_free(&bs);
		buf_free(&bx);
	}
}

/* Rounds r0..r1-1, one batch each, with the samples at base + r rounds. */
static void wal_rounds_at(struct fx *f, int r0, int r1, int64_t base)
{
	for (int r = r0; r < r1; r++)
		assert_int_equal(log_round(f, r, base), 0);
}

static void wal_rounds(struct fx *f, int r0, int r1)
{
	wal_rounds_at(f, r0, r1, base_ms);
}

static void wal_cut(struct fx *f)
{
	char err[256];

	assert_int_equal(tsdb_wal_cut(f->wal, NULL, err, sizeof(err)), 0);
}

/* Checkpoint everything before the current segment (which deletes those segments). */
static void wal_checkpoint(struct fx *f)
{
	struct tsdb_wal_checkpoint_stats st;
	char err[256];
	int seg;

	assert_int_equal(tsdb_wal_cut(f->wal, &seg, err, sizeof(err)), 0);
	if (tsdb_wal_checkpoint(f->wal, seg - 1, NULL, NULL, INT64_MIN, &st, err, sizeof(err)))
		fail_msg("checkpoint: %s", err);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tsdb_wal_opts o = { .segment_size = 4 * TSDB_WAL_PAGE_SIZE };
	char err[256];

	assert_non_null(f);
	round_ms = 1000;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_rwsend-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->waldir, sizeof(f->waldir), "%s/wal", f->dir);
	assert_int_equal(tsdb_wal_open(f->waldir, &o, &f->wal, err, sizeof(err)), 0);
	pthread_mutex_init(&f->recv.mu, NULL);
	f->recv.status = 204;
	recv_start(&f->recv);
	f->reg = metrics_registry_new();
	assert_non_null(f->reg);
	f->highest = INT64_MIN;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char err[256];

	rwsend_manager_free(f->m);
	if (f->recv.srv)
		recv_stop(&f->recv);
	pthread_mutex_destroy(&f->recv.mu);
	tsdb_wal_close(f->wal, err, sizeof(err));
	metrics_registry_free(f->reg);
	arena_free(f->cfg_arena);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* --- sender -------------------------------------------------------------------------- */

/* The entries as YAML ("%P" stands for the receiver's port). */
static int load_config(struct fx *f, const char *entries, char *err, size_t errlen)
{
	struct buf doc = { 0 };
	int rc;

	for (const char *p = entries; *p; p++) {
		if (p[0] == '%' && p[1] == 'P') {
			buf_printf(&doc, "%u", f->recv.port);
			p++;
		} else {
			buf_putc(&doc, *p);
		}
	}
	arena_free(f->cfg_arena);
	f->cfg_arena = arena_new(0);
	rc = rwsend_yaml_load(doc.data, f->cfg_arena, &f->rw, err, errlen);
	buf_free(&doc);
	return rc;
}

#define QUICK "    queue_config: {capacity: 50, max_samples_per_send: 20, batch_send_deadline: 20ms,\n" \
	      "                   min_backoff: 5ms, max_backoff: 40ms}\n"
#define ENTRY "  - url: http://127.0.0.1:%P/api/v1/write\n    name: r1\n"

static void appended_hook(void *arg, uint64_t *samples, int64_t *highest_ms)
{
	struct fx *f = arg;

	*samples = atomic_load(&f->appended);
	*highest_ms = atomic_load(&f->highest);
}

static const struct rwsend_options *opts(struct fx *f)
{
	static struct rwsend_options o;

	o = (struct rwsend_options){
		.shard_update_interval_ms = f->update_ms,
		.appended = appended_hook,
		.appended_arg = f,
		.data_dir = f->dir,
		.wal_dir = f->waldir,
		.config_dir = f->dir,
		.metrics = f->reg,
		.flush_deadline_ms = 500,
		.position_interval_ms = 20,
		.poll_interval_ms = 5,
	};
	return &o;
}

static void start_sender(struct fx *f, const char *entries, const struct labels *ext)
{
	char err[512];

	if (load_config(f, entries, err, sizeof(err)))
		fail_msg("config: %s", err);
	if (rwsend_manager_new(opts(f), f->rw.v, f->rw.n, ext, &f->m, err, sizeof(err)))
		fail_msg("manager: %s", err);
}

/* A new manager on a new registry (the families are registered once per registry). */
static void restart_sender(struct fx *f, const char *entries)
{
	rwsend_manager_free(f->m);
	f->m = NULL;
	metrics_registry_free(f->reg);
	f->reg = metrics_registry_new();
	start_sender(f, entries, NULL);
}

static struct rwsend_stats stats(struct fx *f, size_t i)
{
	struct rwsend_stats st;

	assert_int_equal(rwsend_manager_stats(f->m, i, &st), 0);
	return st;
}

static void wait_samples(struct fx *f, uint64_t want)
{
	int64_t end = now_ms() + WAIT_MS;

	while (recv_samples(&f->recv) < want && now_ms() < end)
		sleep_ms(5);
	if (recv_samples(&f->recv) != want && getenv("RWS_DEBUG"))
		for (size_t i = 0; i < f->recv.nseries; i++) {
			struct rseries *rs = &f->recv.series[i];

			fprintf(stderr, "series %s n=%zu:", rs->s, rs->n);
			for (size_t j = 0; j < rs->n; j++)
				fprintf(stderr, " %lld", (long long)((rs->t[j] - base_ms) / round_ms));
			fprintf(stderr, "\n");
		}
	if (recv_samples(&f->recv) != want)
		fail_msg("receiver has %llu samples, want %llu",
			 (unsigned long long)recv_samples(&f->recv), (unsigned long long)want);
}

/* The receiver reaches `total` samples, and every series holds rounds r0..r1-1. */
static void expect_delivered(struct fx *f, uint64_t total, int r0, int r1)
{
	wait_samples(f, total);
	sleep_ms(50); /* nothing more may come */
	wait_samples(f, total);
	for (unsigned s = 0; s < f->nseries; s++)
		expect_rounds(&f->recv, s, r0, r1);
}

/* At least once: every series holds every round r0..r1-1, first seen in order, and
 * at most max_extra samples more (a request the sender gave up on at stop may still
 * be applied by the receiver; a checkpoint may hold what was sent before). */
static void expect_no_loss(struct fx *f, int r0, int r1, size_t max_extra)
{
	int64_t end = now_ms() + WAIT_MS;

	while ((recv_samples(&f->recv) < f->nseries * (uint64_t)(r1 - r0) ||
		stats(f, 0).samples_pending) && now_ms() < end)
		sleep_ms(5);
	sleep_ms(50);
	pthread_mutex_lock(&f->recv.mu);
	for (unsigned s = 0; s < f->nseries; s++) {
		struct rseries *rs = recv_series(&f->recv, s);
		bool seen[MAX_ROUNDS] = { false };
		int next = r0;

		if (!rs || rs->n < (size_t)(r1 - r0) || rs->n > (size_t)(r1 - r0) + max_extra)
			fail_msg("series %u: %zu samples for %d rounds", s, rs ? rs->n : 0, r1 - r0);
		for (size_t i = 0; i < rs->n; i++) {
			int r = (int)((rs->t[i] - base_ms) / round_ms);

			if (r < r0 || r >= r1)
				fail_msg("series %u: unexpected round %d", s, r);
			if (seen[r])
				continue;
			if (r != next)
				fail_msg("series %u: round %d first seen before round %d", s, r, next);
			seen[r] = true;
			next++;
		}
		if (next != r1)
			fail_msg("series %u lost rounds from %d", s, next);
	}
	pthread_mutex_unlock(&f->recv.mu);
}

#define WAIT_FOR(cond)                                                                     \
	do {                                                                               \
		int64_t end_ = now_ms() + WAIT_MS;                                         \
		while (!(cond) && now_ms() < end_)                                         \
			sleep_ms(5);                                                       \
		if (!(cond))                                                               \
			fail_msg("timed out waiting for %s", #cond);                       \
	} while (0)

/* The value of one of the queue's gauges in the metrics text (NAN when absent). */
static double queue_gauge(struct fx *f, const char *name)
{
	struct buf text = { 0 };
	char key[128];
	const char *p;
	double v = NAN;

	snprintf(key, sizeof(key), "\n%s{remote_name=\"r1\"", name);
	assert_int_equal(metrics_write_text(f->reg, &text), 0);
	p = strstr(text.data, key);
	if (p && (p = strchr(p, '}')))
		v = strtod(p + 1, NULL);
	buf_free(&text);
	return v;
}

/* Every string in `want` (NULL-terminated) appears in the sender's metrics text. */
static void expect_metrics(struct fx *f, const char *const *want)
{
	struct buf text = { 0 };

	assert_int_equal(metrics_write_text(f->reg, &text), 0);
	for (; *want; want++)
		if (!strstr(text.data, *want))
			fail_msg("no \"%s\" in the metrics", *want);
	buf_free(&text);
}

/* --- tests --------------------------------------------------------------------------- */

static void test_delivery(void **state)
{
	struct fx *f = *state;
	struct label ext_v[] = { { "s", "ignored" }, { "cluster", "c1" } };
	struct labels ext = { ext_v, 2 };
	struct rwsend_stats st;
	char want[256];

	wal_series(f, 10);
	for (int r = 0; r < 100; r += 25) {
		wal_rounds(f, r, r + 25);
		wal_cut(f);
	}
	start_sender(f, ENTRY
		     "    headers: {X-Scope-OrgID: tenant-a}\n"
		     "    authorization: {credentials: secret-token}\n"
		     "    write_relabel_configs:\n"
		     "      - {source_labels: [s], regex: \"3\", action: drop}\n"
		     "      - {target_label: rw, replacement: \"yes\"}\n"
		     "    queue_config: {min_shards: 3, capacity: 50, max_samples_per_send: 20,\n"
		     "                   batch_send_deadline: 20ms, min_backoff: 5ms, max_backoff: 40ms}\n",
		     &ext);
	wal_rounds(f, 100, 150); /* tailed live */
	wal_cut(f);
	wal_rounds(f, 150, 200);
	wait_samples(f, 9 * 200);
	sleep_ms(50);
	for (unsigned s = 0; s < 10; s++)
		expect_rounds(&f->recv, s, 0, s == 3 ? 0 : 200);
	/* External labels where the series lacks them, then relabeling. */
	assert_string_equal(recv_series(&f->recv, 0)->labels,
			    "{__name__=\"test_metric\", cluster=\"c1\", rw=\"yes\", s=\"0\"}");
	assert_string_equal(f->recv.org, "tenant-a");
	assert_string_equal(f->recv.auth, "Bearer secret-token");
	assert_string_equal(f->recv.ce, "snappy");
	assert_string_equal(f->recv.ct, "application/x-protobuf");
	assert_string_equal(f->recv.ver, "0.1.0");
	assert_non_null(strstr(f->recv.ua, "lgtm-native/"));
	assert_true(f->recv.max_batch <= 20);
	WAIT_FOR((st = stats(f, 0), st.samples_pending == 0));
	assert_int_equal(st.samples_sent, 9 * 200);
	assert_int_equal(st.samples_dropped, 200);
	assert_int_equal(st.samples_failed, 0);
	assert_int_equal(st.shards, 3);
	assert_int_equal(st.wal_segment, 5); /* four cuts before the start, one after */
	assert_int_equal(st.position_segment, 5);
	assert_string_equal(st.name, "r1");
	assert_int_equal(rwsend_manager_stats(f->m, 1, &st), -1);
	snprintf(want, sizeof(want),
		 "prometheus_remote_storage_samples_total{remote_name=\"r1\",url=\"http://127.0.0.1:%u/api/v1/write\"} 1800\n",
		 f->recv.port);
	expect_metrics(f, (const char *const[]){
		want,
		"prometheus_remote_storage_samples_dropped_total{remote_name=\"r1\"",
		"prometheus_remote_storage_shards{remote_name=\"r1\"",
		"prometheus_remote_storage_highest_timestamp_in_seconds ",
		"prometheus_remote_storage_queue_highest_sent_timestamp_seconds{",
		"prometheus_remote_storage_sent_batch_duration_seconds_count{",
		NULL });
}

static void test_first_start_skips_old(void **state)
{
	struct fx *f = *state;

	wal_series(f, 4);
	wal_rounds_at(f, 0, 20, base_ms - 7200 * 1000); /* two hours ago */
	start_sender(f, ENTRY QUICK, NULL);
	wal_rounds(f, 20, 30);
	expect_delivered(f, 4 * 10, 20, 30);
}

static void test_receiver_outage(void **state)
{
	struct fx *f = *state;

	wal_series(f, 5);
	recv_set(&f->recv, 503);
	start_sender(f, ENTRY QUICK, NULL);
	wal_rounds(f, 0, 40);
	WAIT_FOR(stats(f, 0).samples_retried > 0 && f->recv.requests >= 3);
	assert_int_equal(recv_samples(&f->recv), 0);
	recv_set(&f->recv, 204);
	wait_samples(f, 5 * 40);
	/* Not listening at all, then back on the same port. */
	recv_stop(&f->recv);
	wal_rounds(f, 40, 80);
	WAIT_FOR(stats(f, 0).samples_retried > 5 * 40 / 2);
	recv_start(&f->recv);
	expect_delivered(f, 5 * 80, 0, 80);
	assert_int_equal(stats(f, 0).samples_failed, 0);
}

static void test_restart_resumes(void **state)
{
	struct fx *f = *state;
	char path[256];
	struct stat st;

	wal_series(f, 4);
	wal_rounds(f, 0, 30);
	start_sender(f, ENTRY QUICK, NULL);
	wait_samples(f, 4 * 30);
	rwsend_manager_free(f->m); /* saves the position */
	f->m = NULL;
	snprintf(path, sizeof(path), "%s/remote_write/r1.pos", f->dir);
	assert_int_equal(stat(path, &st), 0);
	/* Written while the sender is down, older than its next start. */
	wal_rounds(f, 30, 60);
	sleep_ms(20);
	restart_sender(f, ENTRY QUICK);
	expect_delivered(f, 4 * 60, 0, 60);
	/* Stopped while the receiver refuses: nothing is lost; what may come twice is
	 * the one request in flight when the sender gave up (20 samples, 5 rounds). */
	recv_set(&f->recv, 503);
	wal_rounds(f, 60, 80);
	WAIT_FOR(stats(f, 0).samples_retried > 0);
	restart_sender(f, ENTRY QUICK);
	recv_set(&f->recv, 204);
	expect_no_loss(f, 0, 80, 5);
}

static void test_checkpoint_overtakes_reader(void **state)
{
	struct fx *f = *state;

	wal_series(f, 5);
	recv_set(&f->recv, 503);
	/* A tiny queue: the watcher stalls early in the first segments. */
	start_sender(f, ENTRY
		     "    queue_config: {capacity: 10, max_samples_per_send: 5, batch_send_deadline: 10ms,\n"
		     "                   min_backoff: 5ms, max_backoff: 20ms}\n",
		     NULL);
	for (int r = 0; r < 60; r += 6) {
		wal_rounds(f, r, r + 6);
		wal_cut(f);
	}
	WAIT_FOR(stats(f, 0).samples_retried > 0);
	wal_checkpoint(f); /* removes every segment the watcher has not finished */
	recv_set(&f->recv, 204);
	wal_rounds(f, 60, 70);
	expect_delivered(f, 5 * 70, 0, 70);
	/* And it keeps tailing after. */
	wal_rounds(f, 70, 75);
	wait_samples(f, 5 * 75);
}

static void test_restart_after_checkpoint(void **state)
{
	struct fx *f = *state;

	wal_series(f, 3);
	wal_rounds(f, 0, 10);
	start_sender(f, ENTRY QUICK, NULL);
	wait_samples(f, 3 * 10);
	recv_set(&f->recv, 503);
	for (int r = 10; r < 40; r += 5) {
		wal_rounds(f, r, r + 5);
		wal_cut(f);
	}
	WAIT_FOR(stats(f, 0).samples_retried > 0);
	rwsend_manager_free(f->m);
	f->m = NULL;
	/* The segment the position names goes into a checkpoint. */
	wal_checkpoint(f);
	wal_rounds(f, 40, 50);
	recv_set(&f->recv, 204);
	restart_sender(f, ENTRY QUICK);
	/* Rounds 0-9 may come again from the checkpoint (after a restart the sender
	 * cannot know what of it was sent), plus one abandoned request (20 samples of
	 * 3 series: 7 rounds). */
	expect_no_loss(f, 0, 50, 10 + 7);
}

static void test_bad_request_drops_batch(void **state)
{
	struct fx *f = *state;
	struct rwsend_stats st;

	wal_series(f, 4);
	recv_set(&f->recv, 400);
	start_sender(f, ENTRY QUICK, NULL);
	wal_rounds(f, 0, 10);
	WAIT_FOR((st = stats(f, 0), st.samples_failed == 40 && st.samples_pending == 0));
	assert_int_equal(st.samples_retried, 0);
	assert_int_equal(st.samples_sent, 0);
	recv_set(&f->recv, 204);
	wal_rounds(f, 10, 20);
	expect_delivered(f, 4 * 10, 10, 20);
}

static void test_basic_auth_and_429(void **state)
{
	struct fx *f = *state;
	struct rwsend_stats st;
	char path[128];
	FILE *pw;

	snprintf(path, sizeof(path), "%s/pw", f->dir);
	pw = fopen(path, "w");
	assert_non_null(pw);
	fputs("s3cret\n", pw);
	fclose(pw);
	wal_series(f, 2);
	/* 429 without retry_on_http_429 drops the batch, as Prometheus 2.42 does. */
	recv_set(&f->recv, 429);
	start_sender(f, ENTRY "    basic_auth: {username: user, password_file: pw}\n" QUICK, NULL);
	wal_rounds(f, 0, 5);
	WAIT_FOR((st = stats(f, 0), st.samples_failed == 10));
	assert_int_equal(st.samples_retried, 0);
	assert_string_equal(f->recv.auth, "Basic dXNlcjpzM2NyZXQ="); /* user:s3cret */
	/* With it, 429 is retried until accepted (same name: it resumes after the
	 * dropped batches). */
	restart_sender(f, ENTRY
			  "    queue_config: {retry_on_http_429: true, batch_send_deadline: 10ms,\n"
			  "                   min_backoff: 5ms, max_backoff: 20ms}\n");
	wal_rounds(f, 5, 10);
	WAIT_FOR(stats(f, 0).samples_retried >= 10);
	assert_int_equal(stats(f, 0).samples_failed, 0);
	recv_set(&f->recv, 204);
	expect_delivered(f, 2 * 5, 5, 10);
	assert_string_equal(f->recv.auth, "");
}

static void test_apply(void **state)
{
	struct fx *f = *state;
	struct label c2 = { "cluster", "c2" };
	struct labels ext = { &c2, 1 };
	char err[512];

	wal_series(f, 3);
	wal_rounds(f, 0, 10);
	start_sender(f, ENTRY QUICK, NULL);
	wait_samples(f, 3 * 10);
	WAIT_FOR(stats(f, 0).samples_sent == 30);
	/* Unchanged: the same queue keeps running (its counters go on). */
	assert_int_equal(load_config(f, ENTRY QUICK, err, sizeof(err)), 0);
	assert_int_equal(rwsend_manager_apply(f->m, f->rw.v, f->rw.n, NULL, err, sizeof(err)), 0);
	assert_int_equal(stats(f, 0).samples_sent, 30);
	/* Invalid: refused, the running queue untouched. */
	assert_int_equal(load_config(f, ENTRY QUICK "    tls_config: {ca_file: /nonexistent/ca.pem}\n",
				     err, sizeof(err)),
			 0);
	assert_int_equal(rwsend_manager_apply(f->m, f->rw.v, f->rw.n, NULL, err, sizeof(err)), -1);
	assert_int_equal(rwsend_manager_queues(f->m), 1);
	assert_int_equal(stats(f, 0).samples_sent, 30);
	/* Changed (external labels): restarted, resuming where the old one stopped. */
	assert_int_equal(load_config(f, ENTRY QUICK, err, sizeof(err)), 0);
	assert_int_equal(rwsend_manager_apply(f->m, f->rw.v, f->rw.n, &ext, err, sizeof(err)), 0);
	assert_int_equal(stats(f, 0).samples_sent, 0);
	wal_rounds(f, 10, 20);
	wait_samples(f, 3 * 20);
	sleep_ms(50);
	wait_samples(f, 3 * 20);
	/* New labels, so new series at the receiver; each side has 10 rounds once. */
	pthread_mutex_lock(&f->recv.mu);
	assert_int_equal(f->recv.nseries, 6);
	for (size_t i = 0; i < f->recv.nseries; i++)
		assert_int_equal(f->recv.series[i].n, 10);
	assert_non_null(strstr(f->recv.series[5].labels, "cluster=\"c2\""));
	pthread_mutex_unlock(&f->recv.mu);
	/* Removed. */
	assert_int_equal(rwsend_manager_apply(f->m, NULL, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(rwsend_manager_queues(f->m), 0);
}

static void test_stop_is_bounded(void **state)
{
	struct fx *f = *state;
	char path[256];
	struct stat st;
	int64_t t0;

	wal_series(f, 2);
	wal_rounds(f, 0, 10);
	recv_stop(&f->recv); /* nobody listens on that port now */
	start_sender(f, "  - url: http://127.0.0.1:%P/api/v1/write\n    name: team/a b\n"
			"    queue_config: {batch_send_deadline: 5ms, min_backoff: 1s, max_backoff: 5s}\n",
		     NULL);
	WAIT_FOR(stats(f, 0).samples_retried > 0);
	t0 = now_ms();
	rwsend_manager_stop(f->m);
	assert_true(now_ms() - t0 < 2000); /* flush deadline 500 ms */
	rwsend_manager_stop(f->m);         /* idempotent */
	/* The name is escaped into one safe file name; the series batch (no samples)
	 * was handled, so that much is saved. */
	snprintf(path, sizeof(path), "%s/remote_write/team%%2Fa%%20b.pos", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(stats(f, 0).samples_sent, 0);
}

static void test_bad_options(void **state)
{
	struct fx *f = *state;
	struct rwsend_options o = *opts(f);
	struct rwsend_manager *m = NULL;
	char err[512];

	assert_int_equal(load_config(f, ENTRY, err, sizeof(err)), 0);
	o.wal_dir = NULL;
	assert_int_equal(rwsend_manager_new(&o, f->rw.v, f->rw.n, NULL, &m, err, sizeof(err)), -1);
	assert_null(m);
	/* Families cannot be registered twice in one registry. */
	o = *opts(f);
	assert_int_equal(rwsend_manager_new(&o, NULL, 0, NULL, &m, err, sizeof(err)), 0);
	assert_int_equal(rwsend_manager_new(&o, NULL, 0, NULL, &f->m, err, sizeof(err)), -1);
	rwsend_manager_free(m);
	rwsend_manager_free(NULL);
	assert_int_equal(rwsend_manager_queues(NULL), 0);
}

/* --- exemplars ------------------------------------------------------------------------- */

/* Series s holds exemplars of rounds r0..r1-1 in order, with their trace ids. */
static void expect_exemplars(struct recv *r, unsigned s, int r0, int r1)
{
	struct rseries *rs;
	char want[48];

	pthread_mutex_lock(&r->mu);
	rs = recv_series(r, s);
	if (!rs || rs->nex != (size_t)(r1 - r0))
		fail_msg("series %u: %zu exemplars, want %d", s, rs ? rs->nex : 0, r1 - r0);
	for (size_t i = 0; i < rs->nex; i++) {
		int round = r0 + (int)i;

		snprintf(want, sizeof(want), "{trace_id=\"%d-%u\"}", round, s);
		if (rs->ex_t[i] != base_ms + round * round_ms || strcmp(rs->ex_labels[i], want))
			fail_msg("series %u: exemplar %zu is %s at round %lld, want %s", s, i,
				 rs->ex_labels[i], (long long)((rs->ex_t[i] - base_ms) / round_ms), want);
	}
	pthread_mutex_unlock(&r->mu);
}

static void test_exemplars_sent(void **state)
{
	struct fx *f = *state;
	struct rwsend_stats st;

	wal_series(f, 4);
	wal_rounds_ex(f, 0, 20, 3); /* series 3 has samples only */
	start_sender(f, ENTRY "    send_exemplars: true\n" QUICK, NULL);
	wal_rounds_ex(f, 20, 40, 3);
	expect_delivered(f, 4 * 40, 0, 40);
	WAIT_FOR(recv_exemplars(&f->recv) == 3 * 40);
	for (unsigned s = 0; s < 3; s++)
		expect_exemplars(&f->recv, s, 0, 40);
	WAIT_FOR((st = stats(f, 0), st.exemplars_pending == 0 && st.samples_pending == 0));
	assert_int_equal(st.exemplars_sent, 3 * 40);
	assert_int_equal(st.exemplars_dropped, 40); /* ref 999: no series */
	assert_int_equal(st.samples_sent, 4 * 40);
	assert_int_equal(st.samples_dropped, 0);
	/* Exemplars count towards max_samples_per_send. */
	assert_true(f->recv.max_batch <= 20);
	expect_metrics(f, (const char *const[]){
		"prometheus_remote_storage_exemplars_total{remote_name=\"r1\"",
		"prometheus_remote_storage_exemplars_dropped_total{remote_name=\"r1\"",
		"prometheus_remote_storage_exemplars_pending{remote_name=\"r1\"",
		NULL });
}

static void test_exemplars_off_by_default(void **state)
{
	struct fx *f = *state;

	wal_series(f, 2);
	start_sender(f, ENTRY QUICK, NULL);
	wal_rounds_ex(f, 0, 10, 2);
	expect_delivered(f, 2 * 10, 0, 10);
	assert_int_equal(recv_exemplars(&f->recv), 0);
	assert_int_equal(stats(f, 0).exemplars_dropped, 0);
}

static void test_exemplars_outage_and_restart(void **state)
{
	struct fx *f = *state;

	wal_series(f, 3);
	recv_set(&f->recv, 503);
	start_sender(f, ENTRY "    send_exemplars: true\n" QUICK, NULL);
	wal_rounds_ex(f, 0, 15, 3);
	WAIT_FOR(stats(f, 0).samples_retried > 0);
	/* Stopped while failing, restarted: nothing lost, exemplars in order. */
	restart_sender(f, ENTRY "    send_exemplars: true\n" QUICK);
	wal_rounds_ex(f, 15, 30, 3);
	recv_set(&f->recv, 204);
	expect_no_loss(f, 0, 30, 10);
	WAIT_FOR(stats(f, 0).exemplars_pending == 0 && recv_exemplars(&f->recv) >= 3 * 30);
	pthread_mutex_lock(&f->recv.mu);
	for (unsigned s = 0; s < 3; s++) {
		struct rseries *rs = recv_series(&f->recv, s);
		int next = 0;

		for (size_t i = 0; i < rs->nex; i++) {
			int round = (int)((rs->ex_t[i] - base_ms) / round_ms);

			if (round > next)
				fail_msg("series %u: exemplar of round %d before %d", s, round, next);
			if (round == next)
				next++;
		}
		if (next != 30)
			fail_msg("series %u: exemplars stop at round %d", s, next);
	}
	pthread_mutex_unlock(&f->recv.mu);
}

/* --- resharding ------------------------------------------------------------------------ */

/* Appends a round every period_ms (changeable) until stopped. */
struct writer {
	struct fx *f;
	pthread_t thr;
	_Atomic int period_ms;
	_Atomic bool stop, failed;
	_Atomic int rounds;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!atomic_load(&w->stop) && atomic_load(&w->rounds) < MAX_ROUNDS) {
		int r = atomic_load(&w->rounds);

		if (log_round(w->f, r, base_ms)) {
			atomic_store(&w->failed, true);
			break;
		}
		atomic_store(&w->rounds, r + 1);
		sleep_ms(atomic_load(&w->period_ms));
	}
	return NULL;
}

static int writer_finish(struct writer *w)
{
	atomic_store(&w->stop, true);
	pthread_join(w->thr, NULL);
	assert_false(atomic_load(&w->failed));
	return atomic_load(&w->rounds);
}

/* 16 series, a round every 10 ms of sample time, shards updated every 100 ms, and a
 * receiver that takes 20 ms per request on 8 threads: one shard sends about 1000
 * samples/s, so a round every 5 ms (3200 samples/s) needs more, and a round every
 * 100 ms needs one. */
#define RESHARD_QUEUE                                                                             \
	"    queue_config: {min_shards: 1, max_shards: 8, capacity: 100, max_samples_per_send: 20,\n" \
	"                   batch_send_deadline: 100ms, min_backoff: 5ms, max_backoff: 40ms}\n"

#define DESIRED "prometheus_remote_storage_shards_desired"

static void reshard_setup(struct fx *f, struct writer *w, int period_ms)
{
	round_ms = 10;
	f->update_ms = 100;
	recv_stop(&f->recv);
	f->recv.threads = 8;
	f->recv.delay_ms = 20;
	recv_start(&f->recv);
	wal_series(f, 16);
	start_sender(f, ENTRY RESHARD_QUEUE, NULL);
	*w = (struct writer){ .f = f, .period_ms = period_ms };
	assert_int_equal(pthread_create(&w->thr, NULL, writer_main, w), 0);
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

static void test_reshard_grows_and_shrinks(void **state)
{
	struct fx *f = *state;
	struct writer w;
	char want[256];
	int peak = 1, rounds;

	reshard_setup(f, &w, 5);
	WAIT_FOR((peak = max_int(peak, stats(f, 0).shards)) >= 3);
	/* Down to one, and far enough below the band's edge to stay there. */
	atomic_store(&w.period_ms, 100);
	WAIT_FOR(stats(f, 0).shards == 1 && queue_gauge(f, DESIRED) < 0.7);
	rounds = writer_finish(&w);
	/* Every sample once, each series in order, across every change of shard set. */
	expect_delivered(f, 16 * (uint64_t)rounds, 0, rounds);
	assert_int_equal(stats(f, 0).samples_failed, 0);
	snprintf(want, sizeof(want),
		 "prometheus_remote_storage_shards{remote_name=\"r1\",url=\"http://127.0.0.1:%u/api/v1/write\"} 1\n",
		 f->recv.port);
	expect_metrics(f, (const char *const[]){
		want,
		"prometheus_remote_storage_shards_max{remote_name=\"r1\",url=\"http://127.0.0.1:",
		"prometheus_remote_storage_shards_desired{remote_name=\"r1\"",
		NULL });
}

static void test_reshard_then_restart(void **state)
{
	struct fx *f = *state;
	struct writer w;
	int peak = 1, rounds;

	reshard_setup(f, &w, 5);
	WAIT_FOR((peak = max_int(peak, stats(f, 0).shards)) >= 3);
	/* Stopped and started again while the WAL grows: it resumes at its position with
	 * min_shards and grows again. */
	restart_sender(f, ENTRY RESHARD_QUEUE);
	assert_int_equal(stats(f, 0).shards, 1);
	peak = 1;
	WAIT_FOR((peak = max_int(peak, stats(f, 0).shards)) >= 3);
	atomic_store(&w.period_ms, 100);
	rounds = writer_finish(&w);
	/* At least once and first seen in order; what may come twice is what the first
	 * sender held when it stopped and did not flush within its deadline: at most 8
	 * shards of 100 queued and 20 in flight, 60 rounds of the 16 series. */
	expect_no_loss(f, 0, rounds, 60);
}

static void test_no_reshard_while_failing(void **state)
{
	struct fx *f = *state;
	struct writer w;
	int n0, rounds;
	int64_t end;

	/* A light load: one shard, and an estimate (sends finished) well below one. */
	reshard_setup(f, &w, 100);
	WAIT_FOR(stats(f, 0).samples_sent > 0 && queue_gauge(f, DESIRED) < 0.7);
	/* The remote fails; once the last finished send is older than twice
	 * batch_send_deadline the load rises: the computation soon wants more shards,
	 * and does not get them. */
	recv_set(&f->recv, 503);
	sleep_ms(300);
	n0 = stats(f, 0).shards;
	assert_int_equal(n0, 1);
	atomic_store(&w.period_ms, 5);
	WAIT_FOR(ceil(queue_gauge(f, DESIRED)) > 1.3 * n0);
	for (end = now_ms() + 500; now_ms() < end; sleep_ms(10))
		assert_int_equal(stats(f, 0).shards, n0);
	rounds = writer_finish(&w);
	/* Back, and quick: the backlog goes out at once. */
	pthread_mutex_lock(&f->recv.mu);
	f->recv.delay_ms = 0;
	pthread_mutex_unlock(&f->recv.mu);
	recv_set(&f->recv, 204);
	expect_delivered(f, 16 * (uint64_t)rounds, 0, rounds);
	assert_true(stats(f, 0).samples_retried > 0);
}

static void test_url_label_redacted(void **state)
{
	struct fx *f = *state;
	struct buf text = { 0 };

	start_sender(f, "  - url: http://user:secret@127.0.0.1:%P/api/v1/write\n", NULL);
	assert_int_equal(metrics_write_text(f->reg, &text), 0);
	assert_null(strstr(text.data, "secret"));
	assert_non_null(strstr(text.data, "url=\"http://127.0.0.1:"));
	buf_free(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_start_skips_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receiver_outage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_overtakes_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_after_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_request_drops_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basic_auth_and_429, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_label_redacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exemplars_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exemplars_off_by_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exemplars_outage_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reshard_grows_and_shrinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reshard_then_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reshard_while_failing, setup, teardown),
	};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	base_ms = ((int64_t)ts.tv_sec + 3600) * 1000;
	log_setup(!getenv("RWS_DEBUG") ? LOG_LEVEL_ERROR : atoi(getenv("RWS_DEBUG")) > 1 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
	return cmocka_run_group_tests_name("rwsend", tests, NULL, NULL);
}
