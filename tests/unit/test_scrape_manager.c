/*
 * scrape manager: real scrape loops against targets served by the project's own
 * HTTP server on 127.0.0.1 (port 0), writing into a recording appendable that
 * keeps every committed sample as "<labels> t v". Configs are YAML through the
 * scrape_configs schema and validation, as a prometheus.yml would give them.
 * Intervals are 100 ms, so each case runs in well under a second; waits poll the
 * recorder with a deadline and fail the test when it passes. The metadata readers
 * are tested here too, with real loops feeding the per-target caches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "compress/compress.h"
#include "http/http.h"
#include "json/json.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "scrape/scrape.h"

#define WAIT_MS 10000 /* a deadline, not a speed check: loaded CI machines and ASan are slow */
#define ACCEPT_242                                                                             \
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;" \
	"q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

/* ---- recording appendable ---------------------------------------------------- */

struct rec {
	char *series;
	int64_t t;
	double v;
};

struct recorder {
	pthread_mutex_t mu;
	struct rec *v;
	size_t n, cap;
	size_t commits, rollbacks;
	char ooo_series[128]; /* add() answers out-of-order for series containing this */
	uint64_t refuse_at_commit; /* commit() reports this many duplicates refused */
	struct rec *ex;            /* exemplars: "<series> <exemplar labels>" t v */
	size_t nex, capex;
};

struct txn {
	struct recorder *r;
	struct rec *v;
	size_t n, cap;
	struct rec *ex;
	size_t nex, capex;
};

static void push(struct rec **v, size_t *n, size_t *cap, struct rec r)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = realloc(*v, *cap * sizeof(**v));
		assert_non_null(*v);
	}
	(*v)[(*n)++] = r;
}

static void *rec_begin(void *ctx)
{
	struct txn *t = calloc(1, sizeof(*t));

	t->r = ctx;
	return t;
}

static int rec_add(void *txn, uint64_t *ref, const struct labels *ls, int64_t ts, double v)
{
	struct txn *t = txn;
	struct buf b = { 0 };

	labels_format(ls, &b);
	if (t->r->ooo_series[0] && strstr(b.data, t->r->ooo_series)) {
		buf_free(&b);
		return SCRAPE_APPEND_OUT_OF_ORDER;
	}
	*ref = 42;
	push(&t->v, &t->n, &t->cap, (struct rec){ buf_steal(&b, NULL), ts, v });
	return 0;
}

/* Negative values are answered out-of-order, to see them counted. */
static int rec_add_exemplar(void *txn, uint64_t *ref, const struct labels *ls,
			    const struct scrape_exemplar *e)
{
	struct txn *t = txn;
	struct buf b = { 0 };

	assert_int_equal(*ref, 42); /* the sample's, right before */
	assert_true(e->has_ts);
	if (e->value < 0)
		return SCRAPE_APPEND_OUT_OF_ORDER;
	labels_format(ls, &b);
	buf_putc(&b, ' ');
	labels_format(&e->labels, &b);
	push(&t->ex, &t->nex, &t->capex, (struct rec){ buf_steal(&b, NULL), e->ts_ms, e->value });
	return 0;
}

static int rec_commit(void *txn, struct scrape_append_result *res)
{
	struct txn *t = txn;

	pthread_mutex_lock(&t->r->mu);
	for (size_t i = 0; i < t->n; i++)
		push(&t->r->v, &t->r->n, &t->r->cap, t->v[i]);
	for (size_t i = 0; i < t->nex; i++)
		push(&t->r->ex, &t->r->nex, &t->r->capex, t->ex[i]);
	free(t->ex);
	t->r->commits++;
	res->duplicate += t->r->refuse_at_commit;
	pthread_mutex_unlock(&t->r->mu);
	free(t->v);
	free(t);
	return 0;
}

static void rec_rollback(void *txn)
{
	struct txn *t = txn;

	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].series);
	for (size_t i = 0; i < t->nex; i++)
		free(t->ex[i].series);
	pthread_mutex_lock(&t->r->mu);
	t->r->rollbacks++;
	pthread_mutex_unlock(&t->r->mu);
	free(t->v);
	free(t->ex);
	free(t);
}

static bool is_stale(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits == SCRAPE_STALE_NAN_BITS;
}

/* Samples of a series (exact label string), oldest first, into out (max cap). */
static size_t samples(struct recorder *r, const char *series, struct rec *out, size_t cap)
{
	size_t k = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].series, series)) {
			if (k < cap)
				out[k] = r->v[i];
			k++;
		}
	pthread_mutex_unlock(&r->mu);
	return k;
}

static size_t count(struct recorder *r, const char *series)
{
	return samples(r, series, NULL, 0);
}

static size_t count_stale(struct recorder *r, const char *series)
{
	struct rec v[512];
	size_t n = samples(r, series, v, 512), k = 0;

	for (size_t i = 0; i < n && i < 512; i++)
		k += is_stale(v[i].v);
	return k;
}

/* Any sample whose series contains `part`. */
static size_t count_matching(struct recorder *r, const char *part)
{
	size_t k = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n; i++)
		k += strstr(r->v[i].series, part) != NULL;
	pthread_mutex_unlock(&r->mu);
	return k;
}

static bool last(struct recorder *r, const char *series, struct rec *out)
{
	struct rec v[2048];
	size_t n = samples(r, series, v, 2048);

	if (!n)
		return false;
	*out = v[(n > 2048 ? 2048 : n) - 1];
	return true;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until series has at least n samples. */
static void wait_count(struct recorder *r, const char *series, size_t n)
{
	int64_t end = now_ms() + WAIT_MS;

	while (count(r, series) < n) {
		if (now_ms() > end)
			fail_msg("timed out waiting for %zu samples of %s (have %zu)", n, series,
				 count(r, series));
		sleep_ms(10);
	}
}

static void wait_stale(struct recorder *r, const char *series)
{
	int64_t end = now_ms() + WAIT_MS;

	while (!count_stale(r, series)) {
		if (now_ms() > end)
			fail_msg("timed out waiting for a stale marker on %s", series);
		sleep_ms(10);
	}
}

/* The value of series at timestamp t, if it has one. */
static bool value_at(struct recorder *r, const char *series, int64_t t, double *v)
{
	bool found = false;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].t == t && !strcmp(r->v[i].series, series)) {
			*v = r->v[i].v;
			found = true;
		}
	pthread_mutex_unlock(&r->mu);
	return found;
}

/*
 * Stale markers of `series` that are not explained by a failed scrape: a loaded
 * machine can make a scrape time out (up=0 and every series stale at once), so
 * cases that count markers leave out those written with up=0 at the same time.
 */
static size_t count_stale_real(struct recorder *r, const char *series, const char *up)
{
	struct rec v[512];
	size_t n = samples(r, series, v, 512), k = 0;
	double u;

	for (size_t i = 0; i < n && i < 512; i++)
		if (is_stale(v[i].v) && !(value_at(r, up, v[i].t, &u) && u == 0))
			k++;
	return k;
}

static bool has_value(struct recorder *r, const char *series, double want)
{
	struct rec v[2048];
	size_t n = samples(r, series, v, 2048);

	for (size_t i = 0; i < n && i < 2048; i++)
		if (v[i].v == want)
			return true;
	return false;
}

/* Wait until the newest sample of series is `want` (when `newest`), or any is. */
static void wait_value(struct recorder *r, const char *series, double want, bool newest)
{
	int64_t end = now_ms() + WAIT_MS;
	struct rec last_rec;

	for (;;) {
		if (newest ? last(r, series, &last_rec) && last_rec.v == want :
			     has_value(r, series, want))
			return;
		if (now_ms() > end)
			fail_msg("timed out waiting for %s to be %g", series, want);
		sleep_ms(10);
	}
}

static void recorder_free(struct recorder *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].series);
	free(r->v);
	for (size_t i = 0; i < r->nex; i++)
		free(r->ex[i].series);
	free(r->ex);
	pthread_mutex_destroy(&r->mu);
}

/* ---- targets ------------------------------------------------------------------- */

struct target {
	struct http_server *srv;
	unsigned short port;
	pthread_mutex_t mu;
	char body[4096];
	char ctype[128];
	int status;
	int delay_ms;
	bool gzip;
	_Atomic bool closing;
	int hits;
	char accept[512], encoding[128], agent[128], timeout[32], auth[256];
	char module[64], path[128], remote[64];
};

static void copy_header(struct http_req *req, const char *name, char *out, size_t cap)
{
	const char *v = http_req_header(req, name);

	snprintf(out, cap, "%s", v ? v : "");
}

static void record_request(struct target *t, struct http_req *req)
{
	const char *module = http_req_arg(req, "module");

	t->hits++;
	copy_header(req, "Accept", t->accept, sizeof(t->accept));
	copy_header(req, "Accept-Encoding", t->encoding, sizeof(t->encoding));
	copy_header(req, "User-Agent", t->agent, sizeof(t->agent));
	copy_header(req, "X-Prometheus-Scrape-Timeout-Seconds", t->timeout, sizeof(t->timeout));
	copy_header(req, "Authorization", t->auth, sizeof(t->auth));
	snprintf(t->module, sizeof(t->module), "%s", module ? module : "");
	snprintf(t->path, sizeof(t->path), "%s", http_req_path(req));
	snprintf(t->remote, sizeof(t->remote), "%s", http_req_remote_addr(req));
}

static void serve(struct http_req *req, void *ctx)
{
	struct target *t = ctx;
	char body[4096], ctype[128];
	struct buf out = { 0 };
	int status, delay;
	bool gz;

	pthread_mutex_lock(&t->mu);
	record_request(t, req);
	snprintf(body, sizeof(body), "%s", t->body);
	snprintf(ctype, sizeof(ctype), "%s", t->ctype);
	status = t->status;
	delay = t->delay_ms;
	gz = t->gzip;
	pthread_mutex_unlock(&t->mu);
	for (int i = 0; i < delay / 10 && !atomic_load(&t->closing); i++)
		sleep_ms(10);
	if (gz) {
		char err[128];

		assert_int_equal(compress_encode(COMPRESS_GZIP, body, strlen(body), 0, &out, err,
						 sizeof(err)), 0);
		http_set_header(req, "Content-Encoding", "gzip");
		http_reply_buf(req, status, ctype, &out);
		return;
	}
	http_reply(req, status, ctype, body, strlen(body));
}

static void target_start(struct target *t, const char *body)
{
	struct http_server_config cfg = { .listen_address = "127.0.0.1:0", .threads = 48 };
	char err[256];

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	snprintf(t->body, sizeof(t->body), "%s", body);
	snprintf(t->ctype, sizeof(t->ctype), "text/plain; version=0.0.4; charset=utf-8");
	t->status = 200;
	assert_int_equal(http_server_new(&cfg, &t->srv, err, sizeof(err)), 0);
	assert_int_equal(http_route(t->srv, HTTP_GET, "/*rest", "all", serve, t), 0);
	assert_int_equal(http_server_start(t->srv, err, sizeof(err)), 0);
	t->port = http_server_port(t->srv);
}

static void target_set(struct target *t, const char *body, int status)
{
	pthread_mutex_lock(&t->mu);
	snprintf(t->body, sizeof(t->body), "%s", body);
	t->status = status;
	pthread_mutex_unlock(&t->mu);
}

static void target_stop(struct target *t)
{
	atomic_store(&t->closing, true);
	http_server_free(t->srv);
	pthread_mutex_destroy(&t->mu);
}

/* ---- configs and the manager ------------------------------------------------------ */

struct tcfg {
	struct cfg_list scrape_configs;
};

static const struct cfg_field tcfg_fields[] = {
	SCRAPE_CONFIGS_FIELD("scrape_configs", struct tcfg, scrape_configs),
	{ 0 },
};
static const struct cfg_schema tcfg_schema = { "test", tcfg_fields, NULL };

#define MAX_TARGETS 3

struct fx {
	struct target targets[MAX_TARGETS];
	size_t ntargets;
	struct recorder rec;
	struct scrape_appendable app;
	struct metrics_registry *reg;
	struct scrape_manager *m;
	struct arena *cfg_arena;
	struct tcfg cfg;
	char cfg_name[256]; /* the config file's name: relative paths start there */
};

/* Load YAML (printf-style, for ports and paths) into fx->cfg; defaults as a global
 * section of 100 ms / 80 ms would give. */
static int load_cfg(struct fx *f, char *err, size_t errlen, const char *fmt, ...)
{
	char yaml[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(yaml, sizeof(yaml), fmt, ap);
	va_end(ap);
	arena_free(f->cfg_arena);
	f->cfg_arena = arena_new(0);
	memset(&f->cfg, 0, sizeof(f->cfg));
	if (cfg_load_buffer(f->cfg_name[0] ? f->cfg_name : "p.yml", yaml, strlen(yaml),
			    &tcfg_schema, &f->cfg, f->cfg_arena, err, errlen))
		return -1;
	return scrape_configs_validate(&f->cfg.scrape_configs, 100, 100, err, errlen);
}

#define LOAD(f, ...)                                                                       \
	do {                                                                               \
		char e_[512];                                                              \
		if (load_cfg((f), e_, sizeof(e_), __VA_ARGS__))                            \
			fail_msg("config: %s", e_);                                        \
	} while (0)

static void fx_init(struct fx *f)
{
	pthread_mutex_init(&f->rec.mu, NULL);
	f->app = (struct scrape_appendable){ .ctx = &f->rec, .begin = rec_begin, .add = rec_add,
					     .commit = rec_commit, .rollback = rec_rollback };
	f->reg = metrics_registry_new();
	assert_non_null(f->reg);
}

static void fx_start(struct fx *f)
{
	char err[512];

	assert_int_equal(scrape_manager_new(f->cfg.scrape_configs.v, f->cfg.scrape_configs.n,
					    &f->app, f->reg, NULL, &f->m, err, sizeof(err)),
			 0);
}

static void fx_apply(struct fx *f)
{
	char err[512];

	if (scrape_manager_apply(f->m, f->cfg.scrape_configs.v, f->cfg.scrape_configs.n, err,
				 sizeof(err)))
		fail_msg("apply: %s", err);
}

static struct target *target_new(struct fx *f, const char *body)
{
	struct target *t;

	assert_true(f->ntargets < MAX_TARGETS);
	t = &f->targets[f->ntargets++];
	target_start(t, body);
	return t;
}

/* Each case gets a fixture on the heap, torn down even when it fails, so loops of
 * a failed case never outlive it. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	fx_init(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	scrape_manager_free(f->m); /* loops first: they talk to the targets */
	for (size_t i = 0; i < f->ntargets; i++)
		target_stop(&f->targets[i]);
	metrics_registry_free(f->reg);
	arena_free(f->cfg_arena);
	recorder_free(&f->rec);
	free(f);
	return 0;
}

/* One target serving `body` and a manager scraping it as `yaml` says, where every
 * %u (up to three) is the target's port. */
static struct target *scrape_one(struct fx *f, const char *body, const char *yaml)
{
	struct target *t = target_new(f, body);

	LOAD(f, yaml, t->port, t->port, t->port);
	fx_start(f);
	return t;
}

/* What a writer produced, parsed (and the buffer freed). */
static json_t *parsed(struct buf *b)
{
	json_error_t je;
	json_t *j = json_loadb(b->data, b->len, 0, &je);

	if (!j)
		fail_msg("bad JSON %s: %s", b->data, je.text);
	buf_free(b);
	return j;
}

/* The targets API answer, parsed. */
static json_t *targets(struct fx *f, const char *state)
{
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	assert_int_equal(scrape_manager_targets_json(f->m, &w, state, NULL), 0);
	return parsed(&b);
}

/* The metadata API answers, parsed. */
static json_t *metadata(struct fx *f, const char *metric, long limit, long per_metric)
{
	const struct scrape_metadata_query q = { metric, limit, per_metric };
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	assert_int_equal(scrape_manager_metadata_json(f->m, &w, &q), 0);
	return parsed(&b);
}

static json_t *target_metadata(struct fx *f, const struct scrape_target_metadata_query *q)
{
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	assert_int_equal(scrape_manager_target_metadata_json(f->m, &w, q), 0);
	return parsed(&b);
}

static json_t *active(json_t *data, size_t i)
{
	return json_array_get(json_object_get(data, "activeTargets"), i);
}

static const char *jstr(json_t *obj, const char *path)
{
	char key[128];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		obj = json_object_get(obj, key);
		path = dot + 1;
	}
	return json_string_value(json_object_get(obj, path));
}

static double metric_value(struct fx *f, const char *line_prefix);

static void wait_metric(struct fx *f, const char *line_prefix, double min)
{
	int64_t end = now_ms() + WAIT_MS;

	while (!(metric_value(f, line_prefix) >= min)) {
		if (now_ms() > end)
			fail_msg("timed out waiting for %s >= %g", line_prefix, min);
		sleep_ms(10);
	}
}

/* Wait until activeTargets[i] has this lastError (timeouts on a loaded machine can
 * show for a scrape first). */
static void wait_error(struct fx *f, size_t i, const char *want)
{
	int64_t end = now_ms() + WAIT_MS;
	char got[512] = "";

	for (;;) {
		json_t *j = targets(f, NULL);
		const char *e = jstr(active(j, i), "lastError");

		snprintf(got, sizeof(got), "%s", e ? e : "(none)");
		json_decref(j);
		if (!strcmp(got, want))
			return;
		if (now_ms() > end)
			fail_msg("lastError of target %zu: got \"%s\", want \"%s\"", i, got, want);
		sleep_ms(10);
	}
}

static double metric_value(struct fx *f, const char *line_prefix)
{
	struct buf b = { 0 };
	double v = NAN;
	char *p;

	metrics_write_text(f->reg, &b);
	for (p = b.data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, line_prefix, strlen(line_prefix)) && p[strlen(line_prefix)] == ' ') {
			v = strtod(p + strlen(line_prefix) + 1, NULL);
			break;
		}
	buf_free(&b);
	return v;
}

/* "{__name__=\"<name>\", <rest>}" for a target on port p of job j. */
static const char *series(char *buf, size_t cap, const char *name, const char *before,
			  unsigned short port, const char *job, const char *after)
{
	snprintf(buf, cap, "{__name__=\"%s\"%s, instance=\"127.0.0.1:%u\", job=\"%s\"%s}", name,
		 before, port, job, after);
	return buf;
}

/* ---- cases --------------------------------------------------------------------------- */

static void test_basic_scrape(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char up[256], a[256], scraped[256], added[256], post[256], dur[256];
	struct rec v[64], r;
	size_t n, good = 0;
	double x;
	json_t *j;

	t = scrape_one(f, "# TYPE a counter\na_total 1\nb{x=\"1\"} 2.5\n",
		       "scrape_configs:\n"
		       "  - job_name: basic\n"
		       "    static_configs:\n"
		       "      - targets: ['127.0.0.1:%u']\n"
		       "        labels: {env: test}\n");
	series(up, sizeof(up), "up", ", env=\"test\"", t->port, "basic", "");
	series(a, sizeof(a), "a_total", ", env=\"test\"", t->port, "basic", "");
	series(scraped, sizeof(scraped), "scrape_samples_scraped", ", env=\"test\"", t->port, "basic", "");
	series(post, sizeof(post), "scrape_samples_post_metric_relabeling", ", env=\"test\"", t->port,
	       "basic", "");
	series(added, sizeof(added), "scrape_series_added", ", env=\"test\"", t->port, "basic", "");
	series(dur, sizeof(dur), "scrape_duration_seconds", ", env=\"test\"", t->port, "basic", "");
	wait_count(&f->rec, a, 3);
	wait_value(&f->rec, up, 1, false);

	/* One scrape per interval, on a schedule (a loaded machine may skip a tick). */
	n = samples(&f->rec, up, v, 64);
	for (size_t i = 1; i < n && i < 64; i++)
		assert_in_range(v[i].t - v[i - 1].t, 50, 350);
	/* Every good scrape: the samples and the report at the scrape's timestamp;
	 * the first adds both series, later ones none. */
	for (size_t i = 0; i < n && i < 64; i++) {
		if (v[i].v != 1)
			continue;
		assert_true(value_at(&f->rec, a, v[i].t, &x) && x == 1);
		assert_true(value_at(&f->rec, scraped, v[i].t, &x) && x == 2);
		assert_true(value_at(&f->rec, post, v[i].t, &x) && x == 2);
		assert_true(value_at(&f->rec, added, v[i].t, &x) && x == (good ? 0 : 2));
		assert_true(value_at(&f->rec, dur, v[i].t, &x) && x > 0 && x < 1);
		good++;
	}
	assert_true(good >= 1);
	assert_true(last(&f->rec, a, &r));
	assert_int_equal(count_matching(&f->rec, "{__name__=\"b\", env=\"test\", instance"), count(&f->rec, a));

	/* What the target saw: Prometheus 2.42's headers. */
	pthread_mutex_lock(&t->mu);
	assert_string_equal(t->accept, ACCEPT_242);
	assert_string_equal(t->encoding, "gzip");
	assert_string_equal(t->timeout, "0.1");
	assert_string_equal(t->path, "/metrics");
	assert_int_equal(strncmp(t->agent, "lgtm-metrics/", 13), 0);
	pthread_mutex_unlock(&t->mu);

	wait_error(f, 0, "");
	j = targets(f, NULL);
	assert_string_equal(jstr(active(j, 0), "health"), "up");
	assert_string_equal(jstr(active(j, 0), "scrapePool"), "basic");
	assert_string_equal(jstr(active(j, 0), "scrapeInterval"), "100ms");
	assert_string_equal(jstr(active(j, 0), "scrapeTimeout"), "100ms");
	assert_string_equal(jstr(active(j, 0), "labels.env"), "test");
	assert_string_equal(jstr(active(j, 0), "labels.job"), "basic");
	assert_null(jstr(active(j, 0), "labels.__address__"));
	assert_string_equal(jstr(active(j, 0), "discoveredLabels.__metrics_path__"), "/metrics");
	assert_string_equal(jstr(active(j, 0), "discoveredLabels.__scheme__"), "http");
	assert_non_null(strchr(jstr(active(j, 0), "lastScrape"), 'T'));
	assert_true(json_real_value(json_object_get(active(j, 0), "lastScrapeDuration")) > 0);
	assert_int_equal(json_array_size(json_object_get(j, "droppedTargets")), 0);
	json_decref(j);
	assert_true(metric_value(f, "prometheus_target_scrape_pool_targets{scrape_job=\"basic\"}") == 1);
	assert_true(metric_value(f, "prometheus_target_interval_length_seconds_count{interval=\"100ms\"}") >= 1);
}

static void test_target_relabeling(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char up[256];
	json_t *j, *d;

	t = scrape_one(f, "m 1\n",
		       "scrape_configs:\n"
		       "  - job_name: probe\n"
		       "    metrics_path: /probe\n"
		       "    params: {module: [orig], extra: ['a b', c]}\n"
		       "    static_configs:\n"
		       "      - targets: ['127.0.0.1:%u', '127.0.0.1:%u', 'drop.me:1']\n"
		       "        labels: {__meta_zone: z1}\n"
		       "    relabel_configs:\n"
		       "      - source_labels: [__address__]\n"
		       "        regex: 'drop\\..*'\n"
		       "        action: drop\n"
		       "      - source_labels: [__address__]\n"
		       "        regex: '(.*):.*'\n"
		       "        target_label: host\n"
		       "      - target_label: __param_module\n"
		       "        replacement: mod1\n"
		       "      - source_labels: [__meta_zone]\n"
		       "        target_label: zone\n"
		       "  - job_name: noport\n"
		       "    static_configs:\n"
		       "      - targets: ['localhost', '[::1]']\n"
		       "  - job_name: noaddr\n"
		       "    static_configs:\n"
		       "      - targets: ['x:1']\n"
		       "    relabel_configs:\n"
		       "      - regex: __address__\n"
		       "        action: labeldrop\n");
	snprintf(up, sizeof(up),
		 "{__name__=\"up\", host=\"127.0.0.1\", instance=\"127.0.0.1:%u\", job=\"probe\", zone=\"z1\"}",
		 t->port);
	wait_count(&f->rec, up, 2);
	pthread_mutex_lock(&t->mu);
	assert_string_equal(t->module, "mod1");
	assert_string_equal(t->path, "/probe");
	pthread_mutex_unlock(&t->mu);

	j = targets(f, NULL);
	/* noport sorts before probe; the two equal targets are one. */
	assert_int_equal(json_array_size(json_object_get(j, "activeTargets")), 3);
	assert_string_equal(jstr(active(j, 0), "scrapeUrl"), "http://[::1]:80/metrics");
	assert_string_equal(jstr(active(j, 1), "scrapeUrl"), "http://localhost:80/metrics");
	assert_string_equal(jstr(active(j, 1), "labels.instance"), "localhost:80");
	assert_string_equal(jstr(active(j, 2), "labels.host"), "127.0.0.1");
	assert_null(jstr(active(j, 2), "labels.__param_module"));
	assert_null(jstr(active(j, 2), "labels.__meta_zone"));
	{
		char url[256];

		snprintf(url, sizeof(url), "http://127.0.0.1:%u/probe?extra=a+b&extra=c&module=mod1",
			 t->port);
		assert_string_equal(jstr(active(j, 2), "scrapeUrl"), url);
	}
	assert_string_equal(jstr(active(j, 2), "discoveredLabels.__param_module"), "orig");
	assert_string_equal(jstr(active(j, 2), "discoveredLabels.__meta_zone"), "z1");
	d = json_array_get(json_object_get(j, "droppedTargets"), 0);
	assert_int_equal(json_array_size(json_object_get(j, "droppedTargets")), 1);
	assert_string_equal(jstr(d, "discoveredLabels.__address__"), "drop.me:1");
	assert_string_equal(jstr(d, "scrapePool"), "probe");
	json_decref(j);

	j = targets(f, "dropped");
	assert_int_equal(json_array_size(json_object_get(j, "activeTargets")), 0);
	assert_int_equal(json_array_size(json_object_get(j, "droppedTargets")), 1);
	json_decref(j);
	assert_true(metric_value(f, "prometheus_sd_discovered_targets{config=\"probe\",name=\"scrape\"}") == 3);
}

static void test_honor_labels(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char s[256];

	t = scrape_one(f, "m{job=\"exposed\",instance=\"i2\",foo=\"bar\"} 1\n"
			 "n{job=\"x\",exported_job=\"y\"} 2\n",
		       "scrape_configs:\n"
		       "  - job_name: plain\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		       "  - job_name: honor\n"
		       "    honor_labels: true\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n");
	snprintf(s, sizeof(s), "{__name__=\"m\", exported_instance=\"i2\", exported_job=\"exposed\", foo=\"bar\", instance=\"127.0.0.1:%u\", job=\"plain\"}", t->port);
	wait_count(&f->rec, s, 1);
	snprintf(s, sizeof(s), "{__name__=\"n\", exported_exported_job=\"x\", exported_job=\"y\", instance=\"127.0.0.1:%u\", job=\"plain\"}", t->port);
	wait_count(&f->rec, s, 1);
	wait_count(&f->rec, "{__name__=\"m\", foo=\"bar\", instance=\"i2\", job=\"exposed\"}", 1);
	snprintf(s, sizeof(s), "{__name__=\"n\", exported_job=\"y\", instance=\"127.0.0.1:%u\", job=\"x\"}", t->port);
	wait_count(&f->rec, s, 1);
}

static void test_metric_relabel(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char s[256], post[256], scraped[256];

	t = scrape_one(f, "keep_me{tmp=\"x\"} 1\ndrop_a 2\ndrop_b 3\n",
		       "scrape_configs:\n"
		       "  - job_name: mr\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		       "    metric_relabel_configs:\n"
		       "      - source_labels: [__name__]\n"
		       "        regex: 'drop_.*'\n"
		       "        action: drop\n"
		       "      - regex: tmp\n"
		       "        action: labeldrop\n");
	series(s, sizeof(s), "keep_me", "", t->port, "mr", "");
	series(post, sizeof(post), "scrape_samples_post_metric_relabeling", "", t->port, "mr", "");
	series(scraped, sizeof(scraped), "scrape_samples_scraped", "", t->port, "mr", "");
	wait_count(&f->rec, s, 2);
	wait_value(&f->rec, post, 1, false);
	wait_value(&f->rec, scraped, 3, false);
	assert_false(has_value(&f->rec, post, 3));
	assert_int_equal(count_matching(&f->rec, "drop_"), 0);
	assert_int_equal(count_matching(&f->rec, "tmp="), 0);
}

static void test_limits_fail_scrape(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char up[256], up2[256], scraped[256];

	t = scrape_one(f, "a 1\nb 2\nc{x=\"1\",y=\"2\"} 3\n",
		       "scrape_configs:\n"
		       "  - job_name: samples\n"
		       "    sample_limit: 2\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		       "  - job_name: labels\n"
		       "    label_limit: 4\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		       "  - job_name: body\n"
		       "    body_size_limit: 10B\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n");
	series(up, sizeof(up), "up", "", t->port, "samples", "");
	series(scraped, sizeof(scraped), "scrape_samples_scraped", "", t->port, "samples", "");
	/* Every scrape parses all three samples, fails, and appends none of them. */
	wait_value(&f->rec, scraped, 3, false);
	series(up2, sizeof(up2), "up", "", t->port, "labels", "");
	wait_count(&f->rec, up2, 2);
	series(up2, sizeof(up2), "up", "", t->port, "body", "");
	wait_count(&f->rec, up2, 2);
	wait_error(f, 0, "body size limit exceeded");
	wait_error(f, 1, "label_limit exceeded (metric: c, number of labels: 5, limit: 4)");
	wait_error(f, 2, "sample limit exceeded");
	assert_false(has_value(&f->rec, up, 1));
	assert_false(has_value(&f->rec, up2, 1));
	assert_int_equal(count_matching(&f->rec, "{__name__=\"a\""), 0);
	assert_int_equal(count_matching(&f->rec, "{__name__=\"c\""), 0);
	{
		json_t *j = targets(f, "active");

		assert_string_equal(jstr(active(j, 0), "scrapePool"), "body");
		assert_string_equal(jstr(active(j, 0), "health"), "down");
		json_decref(j);
	}
	assert_true(metric_value(f, "prometheus_target_scrapes_exceeded_sample_limit_total") >= 1);
	assert_true(metric_value(f, "prometheus_target_scrapes_exceeded_body_size_limit_total") >= 1);
	assert_true(metric_value(f, "prometheus_target_scrape_pool_exceeded_label_limits_total") >= 1);
}

static void test_staleness(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char up[256], a[256], b[256];
	struct rec v[64];
	size_t n, k;
	double x;

	t = scrape_one(f, "a 1\nb 2\n",
		       "scrape_configs:\n"
		       "  - job_name: st\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n");
	series(up, sizeof(up), "up", "", t->port, "st", "");
	series(a, sizeof(a), "a", "", t->port, "st", "");
	series(b, sizeof(b), "b", "", t->port, "st", "");
	wait_count(&f->rec, b, 2);

	/* b vanishes: one stale marker, at the (good) scrape where it went missing. */
	target_set(t, "a 1\n", 200);
	wait_stale(&f->rec, b);
	sleep_ms(250);
	assert_int_equal(count_stale_real(&f->rec, b, up), 1);
	assert_int_equal(count_stale_real(&f->rec, a, up), 0);
	n = samples(&f->rec, b, v, 64);
	for (size_t i = 0; i < n && i < 64; i++)
		if (is_stale(v[i].v) && value_at(&f->rec, up, v[i].t, &x) && x == 1)
			assert_true(value_at(&f->rec, a, v[i].t, &x) && x == 1);

	/* A failed scrape: every series of the previous one goes stale, with up=0. */
	target_set(t, "a 1\n", 500);
	wait_error(f, 0, "server returned HTTP status 500 Internal Server Error");
	assert_true(last(&f->rec, a, &v[0]) && is_stale(v[0].v));
	assert_true(value_at(&f->rec, up, v[0].t, &x) && x == 0);
	assert_true(last(&f->rec, up, &v[0]) && v[0].v == 0);
	{
		json_t *j = targets(f, NULL);

		assert_string_equal(jstr(active(j, 0), "health"), "down");
		json_decref(j);
	}
	k = count_stale(&f->rec, a);
	sleep_ms(250); /* more failed scrapes: nothing left to mark */
	assert_int_equal(count_stale(&f->rec, a), k);

	/* Back: a resumes; b stays gone without another marker. */
	target_set(t, "a 1\n", 200);
	wait_value(&f->rec, a, 1, true);
	wait_value(&f->rec, up, 1, true);
	assert_int_equal(count_stale_real(&f->rec, b, up), 1);
}

static void test_removed_target_stale(void **state)
{
	struct fx *f = *state;
	struct target *t1, *t2;
	char up1[256], a1[256], up2[256], a2[256];
	size_t n2;

	t1 = target_new(f, "a 1\n");
	t2 = target_new(f, "a 2\n");
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: j\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u', '127.0.0.1:%u']}]\n"
		 "  - job_name: gone\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t1->port, t2->port, t2->port);
	fx_start(f);
	series(up1, sizeof(up1), "up", "", t1->port, "j", "");
	series(a1, sizeof(a1), "a", "", t1->port, "j", "");
	series(up2, sizeof(up2), "up", "", t2->port, "j", "");
	series(a2, sizeof(a2), "a", "", t2->port, "j", "");
	wait_count(&f->rec, a1, 2);
	wait_count(&f->rec, a2, 2);
	wait_count(&f->rec, series((char[256]){ 0 }, 256, "a", "", t2->port, "gone", ""), 1);

	/* t1 leaves job j, job gone goes away: their series end with stale markers. */
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: j\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t2->port);
	fx_apply(f);
	{
		char ga[256], gup[256];
		const char *gone[] = { a1, up1, series(ga, sizeof(ga), "a", "", t2->port, "gone", ""),
				       series(gup, sizeof(gup), "up", "", t2->port, "gone", "") };
		size_t before[4];
		struct rec r;

		for (size_t i = 0; i < 4; i++) {
			assert_true(last(&f->rec, gone[i], &r) && is_stale(r.v));
			before[i] = count(&f->rec, gone[i]);
		}
		/* t2 in job j is untouched: it keeps being scraped, no marker. */
		n2 = count(&f->rec, a2);
		wait_count(&f->rec, a2, n2 + 2);
		for (size_t i = 0; i < 4; i++)
			assert_int_equal(count(&f->rec, gone[i]), before[i]);
	}
	assert_int_equal(count_stale_real(&f->rec, a2, up2), 0);
	assert_int_equal(count_stale(&f->rec, up2), 0);
	assert_true(metric_value(f, "prometheus_target_scrape_pool_targets{scrape_job=\"gone\"}") == 0);
}

static void remote_of(struct target *t, char *out, size_t cap)
{
	pthread_mutex_lock(&t->mu);
	snprintf(out, cap, "%s", t->remote);
	pthread_mutex_unlock(&t->mu);
}

static void test_reload_keeps_loops(void **state)
{
	struct fx *f = *state;
	struct target *t, *t2;
	char up[256], a[256], other[256], before[64], mid[64], after[64];
	struct rec v[256];
	size_t n;
	json_t *j;

	t = target_new(f, "a 1\n");
	t2 = target_new(f, "a 2\n");
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: keep\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t->port);
	fx_start(f);
	series(up, sizeof(up), "up", "", t->port, "keep", "");
	series(a, sizeof(a), "a", "", t->port, "keep", "");
	wait_count(&f->rec, up, 2);
	remote_of(t, before, sizeof(before));

	/* Same job, plus a new one: the running loop is not touched. */
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: other\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		 "  - job_name: keep\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t2->port, t->port);
	fx_apply(f);
	series(other, sizeof(other), "up", "", t2->port, "other", "");
	wait_count(&f->rec, other, 1);
	n = count(&f->rec, up);
	wait_count(&f->rec, up, n + 2);
	assert_int_equal(count_stale_real(&f->rec, a, up), 0);
	assert_int_equal(count_stale(&f->rec, up), 0);
	n = samples(&f->rec, up, v, 256);
	for (size_t i = 1; i < n && i < 256; i++)
		assert_in_range(v[i].t - v[i - 1].t, 50, 350);
	/* Still the same connection: the same loop with the same client. */
	remote_of(t, mid, sizeof(mid));
	assert_string_equal(before, mid);
	assert_true(metric_value(f, "prometheus_target_scrape_pool_reloads_total") == 0);

	/* A changed job (timeout): rebuilt, but its series carry on without markers. */
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: keep\n"
		 "    scrape_timeout: 90ms\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t->port);
	fx_apply(f);
	n = count(&f->rec, a);
	wait_count(&f->rec, a, n + 2);
	assert_int_equal(count_stale_real(&f->rec, a, up), 0);
	assert_int_equal(count_stale(&f->rec, up), 0);
	assert_int_equal(count_stale(&f->rec, other), 1); /* job other went away */
	remote_of(t, after, sizeof(after));
	assert_string_not_equal(before, after);
	j = targets(f, NULL);
	assert_string_equal(jstr(active(j, 0), "scrapeTimeout"), "90ms");
	json_decref(j);
	assert_true(metric_value(f, "prometheus_target_scrape_pool_reloads_total") == 1);
}

static void write_file(const char *path, const char *text)
{
	char tmp[512];
	FILE *fp;

	/* Write and rename, as tools that manage SD files do. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(rename(tmp, path), 0);
}

static void test_file_sd(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char dir[] = "/tmp/scrape-sd-XXXXXX", path[256], yml[256], text[512], s1[256], s2[256],
	     s3[256];
	json_t *j;

	t = target_new(f, "a 1\n");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/targets.json", dir);
	snprintf(yml, sizeof(yml), "%s/more.yml", dir);
	snprintf(text, sizeof(text), "[{\"targets\": [\"127.0.0.1:%u\"], \"labels\": {\"v\": \"1\"}}]",
		 t->port);
	write_file(path, text);
	/* The YAML pattern is relative: to the config file's directory. */
	snprintf(f->cfg_name, sizeof(f->cfg_name), "%s/prometheus.yml", dir);
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: fsd\n"
		 "    file_sd_configs:\n"
		 "      - files: ['%s/*.json']\n"
		 "        refresh_interval: 1h\n"
		 "      - files: ['*.yml']\n", dir);
	fx_start(f);
	series(s1, sizeof(s1), "a", "", t->port, "fsd", ", v=\"1\"");
	wait_count(&f->rec, s1, 2);
	j = targets(f, NULL);
	assert_string_equal(jstr(active(j, 0), "discoveredLabels.__meta_filepath"), path);
	json_decref(j);

	/* A rewrite is seen through inotify (refresh_interval is an hour). */
	snprintf(text, sizeof(text), "[{\"targets\": [\"127.0.0.1:%u\"], \"labels\": {\"v\": \"2\"}}]",
		 t->port);
	write_file(path, text);
	series(s2, sizeof(s2), "a", "", t->port, "fsd", ", v=\"2\"");
	wait_count(&f->rec, s2, 2);
	wait_stale(&f->rec, s1);

	/* A broken file keeps the last good targets, and is counted. */
	write_file(path, "[{\"targets\": [");
	wait_metric(f, "prometheus_sd_file_read_errors_total", 1);
	{
		size_t n = count(&f->rec, s2);
		char up2[256];

		wait_count(&f->rec, s2, n + 2);
		series(up2, sizeof(up2), "up", "", t->port, "fsd", ", v=\"2\"");
		assert_int_equal(count_stale_real(&f->rec, s2, up2), 0);
	}

	/* A YAML file in the other config adds a target group. */
	snprintf(text, sizeof(text), "- targets: ['127.0.0.1:%u']\n  labels: {v: '3'}\n", t->port);
	write_file(yml, text);
	series(s3, sizeof(s3), "a", "", t->port, "fsd", ", v=\"3\"");
	wait_count(&f->rec, s3, 1);

	/* The file goes: its targets go, with stale markers. */
	assert_int_equal(unlink(yml), 0);
	wait_stale(&f->rec, s3);
	unlink(path);
	rmdir(dir);
}

static void test_timeout(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char up[256];
	struct rec v[16];
	size_t n;
	json_t *j;

	t = target_new(f, "a 1\n");
	t->delay_ms = 600;
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: slow\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t->port);
	fx_start(f);
	series(up, sizeof(up), "up", "", t->port, "slow", "");
	wait_count(&f->rec, up, 3);
	n = samples(&f->rec, up, v, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		assert_true(v[i].v == 0);
	j = targets(f, NULL);
	assert_string_equal(jstr(active(j, 0), "health"), "down");
	assert_non_null(strstr(jstr(active(j, 0), "lastError"), "imed out"));
	assert_true(json_real_value(json_object_get(active(j, 0), "lastScrapeDuration")) < 1.0);
	json_decref(j);
}

static void test_gzip_and_openmetrics(void **state)
{
	struct fx *f = *state;
	struct target *t1, *t2;
	char s[256];
	struct rec r;

	t1 = target_new(f, "zipped 7\n");
	t1->gzip = true;
	t2 = target_new(f, "# TYPE c counter\nc_total 3 1700000000.5\n# TYPE g gauge\ng 4\n# EOF\n");
	snprintf(t2->ctype, sizeof(t2->ctype), "application/openmetrics-text; version=1.0.0; charset=utf-8");
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: gz\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		 "  - job_name: om\n"
		 "    enable_compression: false\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t1->port, t2->port);
	fx_start(f);
	series(s, sizeof(s), "zipped", "", t1->port, "gz", "");
	wait_count(&f->rec, s, 1);
	wait_value(&f->rec, s, 7, false);
	/* OpenMetrics: parsed as such (the # EOF line), its timestamp honoured. */
	series(s, sizeof(s), "c_total", "", t2->port, "om", "");
	wait_count(&f->rec, s, 1);
	wait_value(&f->rec, s, 3, false);
	assert_true(samples(&f->rec, s, &r, 1) && r.t == 1700000000500);
	series(s, sizeof(s), "g", "", t2->port, "om", "");
	wait_count(&f->rec, s, 1);
	pthread_mutex_lock(&t1->mu);
	assert_string_equal(t1->encoding, "gzip");
	pthread_mutex_unlock(&t1->mu);
	pthread_mutex_lock(&t2->mu);
	assert_string_equal(t2->encoding, "identity");
	assert_string_equal(t2->accept, ACCEPT_242);
	pthread_mutex_unlock(&t2->mu);
}

/* The first exemplar recorded under `key` ("<series> <exemplar labels>"), waited for. */
static struct rec wait_exemplar(struct recorder *r, const char *key)
{
	int64_t end = now_ms() + WAIT_MS;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		for (size_t i = 0; i < r->nex; i++)
			if (!strcmp(r->ex[i].series, key)) {
				struct rec found = r->ex[i];

				pthread_mutex_unlock(&r->mu);
				return found;
			}
		pthread_mutex_unlock(&r->mu);
		if (now_ms() > end)
			fail_msg("timed out waiting for an exemplar of %s", key);
		sleep_ms(10);
	}
}

static size_t count_exemplars(struct recorder *r, const char *part)
{
	size_t k = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->nex; i++)
		k += strstr(r->ex[i].series, part) != NULL;
	pthread_mutex_unlock(&r->mu);
	return k;
}

static void test_exemplars(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char s[256], key[512];
	struct rec e;
	double v;

	t = target_new(f, "# TYPE foo counter\n"
			  "foo_total{a=\"1\"} 1 # {trace_id=\"abc\"} 0.5 1700000000.5\n"
			  "# TYPE bar counter\n"
			  "bar_total 2 # {span=\"x\"} 2\n"
			  "# TYPE drop counter\n"
			  "drop_total 3 # {t=\"z\"} 3\n"
			  "# TYPE neg counter\n"
			  "neg_total 4 # {} -1\n"
			  "# EOF\n");
	snprintf(t->ctype, sizeof(t->ctype), "application/openmetrics-text; version=1.0.0");
	f->app.add_exemplar = rec_add_exemplar;
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: ex\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		 "    metric_relabel_configs:\n"
		 "      - {source_labels: [__name__], regex: drop_total, action: drop}\n", t->port);
	fx_start(f);
	/* Its own timestamp kept, with the final series labels. */
	series(s, sizeof(s), "foo_total", ", a=\"1\"", t->port, "ex", "");
	snprintf(key, sizeof(key), "%s {trace_id=\"abc\"}", s);
	e = wait_exemplar(&f->rec, key);
	assert_int_equal(e.t, 1700000000500);
	assert_true(e.v == 0.5);
	/* None given: the sample's (the scrape's) timestamp. */
	series(s, sizeof(s), "bar_total", "", t->port, "ex", "");
	snprintf(key, sizeof(key), "%s {span=\"x\"}", s);
	e = wait_exemplar(&f->rec, key);
	assert_true(value_at(&f->rec, s, e.t, &v) && v == 2);
	/* Out of order: counted; dropped by relabeling: never offered. */
	wait_metric(f, "prometheus_target_scrapes_exemplar_out_of_order_total", 1);
	assert_int_equal(count_exemplars(&f->rec, "drop_total"), 0);
	assert_int_equal(count_exemplars(&f->rec, "neg_total"), 0);
}

static void test_honor_timestamps(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char own[256], mine[256], up[256];
	struct rec r, u;

	t = scrape_one(f, "x 1 1600000000000\n",
		       "scrape_configs:\n"
		       "  - job_name: own\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		       "  - job_name: mine\n"
		       "    honor_timestamps: false\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n");
	series(own, sizeof(own), "x", "", t->port, "own", "");
	series(mine, sizeof(mine), "x", "", t->port, "mine", "");
	series(up, sizeof(up), "up", "", t->port, "mine", "");
	wait_count(&f->rec, own, 1);
	wait_count(&f->rec, mine, 1);
	assert_true(last(&f->rec, own, &r) && r.t == 1600000000000);
	/* Without honor_timestamps the sample has the scrape's time, as up has. */
	samples(&f->rec, mine, &r, 1);
	assert_true(value_at(&f->rec, up, r.t, &u.v) && u.v == 1);
	/* When it vanishes, only the series scraped at our time gets a marker. */
	target_set(t, "y 1\n", 200);
	wait_stale(&f->rec, mine);
	sleep_ms(250);
	assert_int_equal(count_stale(&f->rec, own), 0);
}

static void test_auth_and_out_of_order(void **state)
{
	struct fx *f = *state;
	struct target *t1, *t2;
	char dir[] = "/tmp/scrape-auth-XXXXXX", pw[256], s[256];
	FILE *fp;

	t1 = target_new(f, "a 1\nooo 2\n");
	t2 = target_new(f, "a 1\n");
	assert_non_null(mkdtemp(dir));
	snprintf(pw, sizeof(pw), "%s/pw", dir);
	fp = fopen(pw, "w");
	fputs("s3cret\n", fp);
	fclose(fp);
	snprintf(f->rec.ooo_series, sizeof(f->rec.ooo_series), "__name__=\"ooo\"");
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: basic\n"
		 "    basic_auth: {username: user, password_file: %s}\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		 "  - job_name: bearer\n"
		 "    authorization: {credentials: tok}\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", pw, t1->port, t2->port);
	fx_start(f);
	series(s, sizeof(s), "a", "", t1->port, "basic", "");
	wait_count(&f->rec, s, 1);
	series(s, sizeof(s), "a", "", t2->port, "bearer", "");
	wait_count(&f->rec, s, 1);
	pthread_mutex_lock(&t1->mu);
	assert_string_equal(t1->auth, "Basic dXNlcjpzM2NyZXQ="); /* user:s3cret */
	pthread_mutex_unlock(&t1->mu);
	pthread_mutex_lock(&t2->mu);
	assert_string_equal(t2->auth, "Bearer tok");
	pthread_mutex_unlock(&t2->mu);
	/* Out of order: counted, skipped, and the scrape is still good. */
	series(s, sizeof(s), "up", "", t1->port, "basic", "");
	wait_value(&f->rec, s, 1, false);
	wait_metric(f, "prometheus_target_scrapes_sample_out_of_order_total", 1);
	assert_int_equal(count_matching(&f->rec, "{__name__=\"ooo\""), 0);
	/* A batch appender reports its refusals at commit: counted the same way. */
	pthread_mutex_lock(&f->rec.mu);
	f->rec.refuse_at_commit = 1;
	pthread_mutex_unlock(&f->rec.mu);
	wait_metric(f, "prometheus_target_scrapes_sample_duplicate_timestamp_total", 1);
	/* The secret is read at every scrape: a rotated one is used at once. */
	fp = fopen(pw, "w");
	fputs("n3w", fp);
	fclose(fp);
	{
		int64_t end = now_ms() + WAIT_MS;
		bool seen = false;

		while (!seen && now_ms() < end) {
			pthread_mutex_lock(&t1->mu);
			seen = !strcmp(t1->auth, "Basic dXNlcjpuM3c="); /* user:n3w */
			pthread_mutex_unlock(&t1->mu);
			sleep_ms(10);
		}
		assert_true(seen);
	}
	unlink(pw);
	rmdir(dir);
}

static void test_stop_is_prompt(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char yaml[4096];
	size_t off;
	int64_t start;

	t = target_new(f, "a 1\n");
	t->delay_ms = 5000;
	off = (size_t)snprintf(yaml, sizeof(yaml), "scrape_configs:\n");
	for (int i = 0; i < 20; i++)
		off += (size_t)snprintf(yaml + off, sizeof(yaml) - off,
					"  - job_name: j%d\n"
					"    scrape_interval: 300ms\n"
					"    scrape_timeout: 300ms\n"
					"    static_configs: [{targets: ['127.0.0.1:%u']}]\n",
					i, t->port);
	LOAD(f, "%s", yaml);
	fx_start(f);
	sleep_ms(350); /* every loop is now inside a request that hangs */
	start = now_ms();
	scrape_manager_stop(f->m);
	assert_in_range(now_ms() - start, 0, 500);
	/* A request cut short by the stop appends nothing. */
	assert_int_equal(count_matching(&f->rec, "{__name__=\"a\""), 0);
}

static void test_apply_errors(void **state)
{
	struct fx *f = *state;
	struct target *t;
	char err[512];

	t = scrape_one(f, "a 1\n",
		       "scrape_configs:\n"
		       "  - job_name: ok\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n");
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: ok\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n"
		 "  - job_name: tls\n"
		 "    scheme: https\n"
		 "    tls_config: {ca_file: /nonexistent/ca.pem}\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t->port, t->port);
	assert_int_equal(scrape_manager_apply(f->m, f->cfg.scrape_configs.v, f->cfg.scrape_configs.n,
					      err, sizeof(err)), -1);
	assert_non_null(strstr(err, "scrape_pool tls: "));
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	assert_true(metric_value(f, "prometheus_target_scrape_pools_failed_total") == 1);
	/* The good job runs regardless. */
	wait_count(&f->rec, series((char[256]){ 0 }, 256, "a", "", t->port, "ok", ""), 1);
	scrape_manager_stop(f->m);
	assert_int_equal(scrape_manager_apply(f->m, f->cfg.scrape_configs.v, 1, err, sizeof(err)), -1);

	scrape_manager_free(f->m);
	f->m = NULL;

	/* An incomplete appendable and a registry used twice are refused. */
	{
		struct scrape_manager *m2;

		f->app.commit = NULL;
		assert_int_equal(scrape_manager_new(NULL, 0, &f->app, NULL, NULL, &m2, err,
						    sizeof(err)), -1);
		assert_null(m2);
		f->app.commit = rec_commit;
		assert_int_equal(scrape_manager_new(NULL, 0, &f->app, f->reg, NULL, &m2, err,
						    sizeof(err)), -1);
		assert_null(m2);
		assert_int_equal(scrape_manager_new(NULL, 0, &f->app, NULL, NULL, &m2, err,
						    sizeof(err)), 0);
		scrape_manager_free(m2);
	}
}

/* ---- metadata ------------------------------------------------------------------ */

#define META_A                                                                             \
	"# HELP shared_total Shared help.\n# TYPE shared_total counter\nshared_total 1\n"      \
	"# HELP differs Help of A.\n# TYPE differs gauge\ndiffers 1\n"                        \
	"# TYPE only_a untyped\nonly_a 1\n"
#define META_B                                                                             \
	"# HELP shared_total Shared help.\n# TYPE shared_total counter\nshared_total 2\n"      \
	"# HELP differs Help of B.\n# TYPE differs gauge\ndiffers 2\n"                        \
	"# HELP only_b Only B.\n# TYPE only_b histogram\nonly_b_count 1\n"

/* "type|help|unit" of entry i of a family in a metadata answer, "" if none. */
static const char *triple(json_t *data, const char *family, size_t i, char *out, size_t cap)
{
	json_t *e = json_array_get(json_object_get(data, family), i);

	snprintf(out, cap, "%s|%s|%s", e ? jstr(e, "type") : "", e ? jstr(e, "help") : "",
		 e ? jstr(e, "unit") : "");
	return e ? out : "";
}

/* The family names of a metadata answer, comma separated, as the object has them. */
static const char *families(json_t *data, char *out, size_t cap)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	out[0] = '\0';
	json_object_foreach(data, key, v)
		n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", key);
	return out;
}

/* Wait until both targets' metadata is in. */
static void wait_metadata(struct fx *f, const char *want)
{
	int64_t end = now_ms() + WAIT_MS;
	char got[512];

	for (;;) {
		json_t *j = metadata(f, NULL, -1, -1);

		families(j, got, sizeof(got));
		json_decref(j);
		if (!strcmp(got, want))
			return;
		if (now_ms() > end)
			fail_msg("metadata families: got \"%s\", want \"%s\"", got, want);
		sleep_ms(10);
	}
}

/* The targets' order is their URLs'. */
static bool scraped_first(const struct target *a, const struct target *b)
{
	char ua[64], ub[64];

	snprintf(ua, sizeof(ua), "http://127.0.0.1:%u/metrics", a->port);
	snprintf(ub, sizeof(ub), "http://127.0.0.1:%u/metrics", b->port);
	return strcmp(ua, ub) < 0;
}

static bool instance_is(void *arg, const struct labels *target)
{
	const char *v = labels_get(target, "instance");

	return v && !strcmp(v, arg);
}

/* GET /api/v1/metadata: merged over targets, distinct triples, limits. */
static void test_metadata_merged(void **state)
{
	struct fx *f = *state;
	struct target *a = target_new(f, META_A), *b = target_new(f, META_B);
	char fam[512], t0[256], t1[256];
	json_t *j;

	LOAD(f, "scrape_configs:\n"
		 "  - job_name: meta\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u', '127.0.0.1:%u']}]\n",
	     a->port, b->port);
	fx_start(f);
	wait_metadata(f, "differs,only_a,only_b,shared_total");

	j = metadata(f, NULL, -1, -1);
	assert_string_equal(triple(j, "shared_total", 0, t0, sizeof(t0)), "counter|Shared help.|");
	assert_string_equal(triple(j, "shared_total", 1, t0, sizeof(t0)), "");
	assert_string_equal(triple(j, "only_a", 0, t0, sizeof(t0)), "unknown||");
	assert_string_equal(triple(j, "only_b", 0, t0, sizeof(t0)), "histogram|Only B.|");
	/* Two targets, two helps: both, in the targets' order (by URL). */
	triple(j, "differs", 0, t0, sizeof(t0));
	triple(j, "differs", 1, t1, sizeof(t1));
	assert_string_equal(t0, scraped_first(a, b) ? "gauge|Help of A.|" : "gauge|Help of B.|");
	assert_string_equal(t1, scraped_first(a, b) ? "gauge|Help of B.|" : "gauge|Help of A.|");
	assert_string_equal(triple(j, "differs", 2, t0, sizeof(t0)), "");
	json_decref(j);

	/* limit: the first families by name; 0 gives none, as upstream. */
	j = metadata(f, NULL, 2, -1);
	assert_string_equal(families(j, fam, sizeof(fam)), "differs,only_a");
	json_decref(j);
	j = metadata(f, NULL, 0, -1);
	assert_string_equal(families(j, fam, sizeof(fam)), "");
	json_decref(j);
	/* limit_per_metric: that many triples per family; 0 or less is no limit. */
	j = metadata(f, NULL, -1, 1);
	assert_string_equal(families(j, fam, sizeof(fam)), "differs,only_a,only_b,shared_total");
	assert_int_equal(json_array_size(json_object_get(j, "differs")), 1);
	json_decref(j);
	j = metadata(f, NULL, -1, 0);
	assert_int_equal(json_array_size(json_object_get(j, "differs")), 2);
	json_decref(j);
	/* metric: one family, by its exact name. */
	j = metadata(f, "differs", -1, -1);
	assert_string_equal(families(j, fam, sizeof(fam)), "differs");
	assert_int_equal(json_array_size(json_object_get(j, "differs")), 2);
	json_decref(j);
	j = metadata(f, "differ", -1, -1);
	assert_string_equal(families(j, fam, sizeof(fam)), "");
	json_decref(j);
	j = metadata(f, "only_b", 0, -1);
	assert_string_equal(families(j, fam, sizeof(fam)), "");
	json_decref(j);

	/* A family the target stops exposing goes after 11 good scrapes without it. */
	target_set(a, "# HELP shared_total Shared help.\n# TYPE shared_total counter\n"
		      "shared_total 1\n# HELP differs Help of B.\n# TYPE differs gauge\ndiffers 1\n",
		   200);
	wait_metadata(f, "differs,only_b,shared_total");
	j = metadata(f, "differs", -1, -1);
	assert_string_equal(triple(j, "differs", 0, t0, sizeof(t0)), "gauge|Help of B.|");
	assert_string_equal(triple(j, "differs", 1, t0, sizeof(t0)), "");
	json_decref(j);
}

/* GET /api/v1/targets/metadata: per target, filtered, limited as upstream. */
static void test_metadata_per_target(void **state)
{
	struct fx *f = *state;
	struct target *a = target_new(f, META_A), *b = target_new(f, META_B);
	struct scrape_target_metadata_query q = { .limit = -1 };
	char inst_a[64], t0[256];
	json_t *j, *item;

	LOAD(f, "scrape_configs:\n"
		 "  - job_name: meta\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u', '127.0.0.1:%u'], labels: {env: t}}]\n",
	     a->port, b->port);
	fx_start(f);
	wait_metadata(f, "differs,only_a,only_b,shared_total");
	snprintf(inst_a, sizeof(inst_a), "127.0.0.1:%u", a->port);

	/* Every family of every target, families by name within a target. */
	j = target_metadata(f, &q);
	assert_int_equal(json_array_size(j), 6);
	item = json_array_get(j, scraped_first(a, b) ? 0 : 3);
	assert_string_equal(jstr(item, "target.instance"), inst_a);
	assert_string_equal(jstr(item, "target.job"), "meta");
	assert_string_equal(jstr(item, "target.env"), "t");
	assert_int_equal(json_object_size(json_object_get(item, "target")), 3);
	assert_string_equal(jstr(item, "metric"), "differs");
	assert_string_equal(jstr(item, "type"), "gauge");
	assert_string_equal(jstr(item, "help"), "Help of A.");
	assert_string_equal(jstr(item, "unit"), "");
	json_decref(j);

	/* metric: one item per target that has it, without a "metric" key. */
	q.metric = "only_b";
	j = target_metadata(f, &q);
	assert_int_equal(json_array_size(j), 1);
	assert_null(json_object_get(json_array_get(j, 0), "metric"));
	snprintf(t0, sizeof(t0), "%s|%s", jstr(json_array_get(j, 0), "type"),
		 jstr(json_array_get(j, 0), "help"));
	assert_string_equal(t0, "histogram|Only B.");
	json_decref(j);

	/* A target filter. */
	q.metric = NULL;
	q.match = instance_is;
	q.match_arg = inst_a;
	j = target_metadata(f, &q);
	assert_int_equal(json_array_size(j), 3);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(jstr(json_array_get(j, i), "target.instance"), inst_a);
	json_decref(j);
	q.match_arg = "127.0.0.1:1";
	j = target_metadata(f, &q);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);

	/* limit is checked before each target: a target's items are not cut. */
	q.match = NULL;
	q.limit = 1;
	j = target_metadata(f, &q);
	assert_int_equal(json_array_size(j), 3);
	json_decref(j);
	q.limit = 4;
	j = target_metadata(f, &q);
	assert_int_equal(json_array_size(j), 6);
	json_decref(j);
	q.limit = 0;
	j = target_metadata(f, &q);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
}

/* A changed job's new loop takes the old one's metadata with its series state. */
static void test_metadata_survives_reload(void **state)
{
	struct fx *f = *state;
	struct target *t;
	json_t *j;
	char t0[256];

	t = scrape_one(f, META_A,
		       "scrape_configs:\n"
		       "  - job_name: meta\n"
		       "    static_configs: [{targets: ['127.0.0.1:%u']}]\n");
	wait_metadata(f, "differs,only_a,shared_total");
	/* From now on the target sends no metadata: what the API shows after the reload
	 * can only have come from the old loop. */
	target_set(t, "differs 1\n", 200);
	LOAD(f, "scrape_configs:\n"
		 "  - job_name: meta\n"
		 "    sample_limit: 1000\n"
		 "    static_configs: [{targets: ['127.0.0.1:%u']}]\n", t->port);
	fx_apply(f);
	j = metadata(f, "differs", -1, -1);
	assert_string_equal(triple(j, "differs", 0, t0, sizeof(t0)), "gauge|Help of A.|");
	json_decref(j);
	wait_metadata(f, "");
}

/* Expected errors (a bad target, a broken file) are logged; keep the output clean. */
static int quiet(void **state)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd >= 0 && !getenv("SCRAPE_TEST_LOG"))
		log_set_fd(fd);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_scrape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target_relabeling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_honor_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metric_relabel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_fail_scrape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_staleness, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_target_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_loops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_sd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gzip_and_openmetrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exemplars, setup, teardown),
		cmocka_unit_test_setup_teardown(test_honor_timestamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_and_out_of_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_is_prompt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_per_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_survives_reload, setup, teardown),
	};

	return cmocka_run_group_tests_name("scrape_manager", tests, quiet, NULL);
}
