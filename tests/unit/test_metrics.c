/* Unit tests for metrics: registration rules, values, the exact exposition text,
 * concurrency, scrape-time functions and collectors, process metrics, and the
 * output checked by the real promtool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "version/version.h"

static const char *const no_labels[] = { NULL };

static char *scrape(struct metrics_registry *r)
{
	struct buf b = { 0 };

	assert_int_equal(metrics_write_text(r, &b), 0);
	return b.data ? buf_steal(&b, NULL) : strdup("");
}

static void assert_scrape(struct metrics_registry *r, const char *want)
{
	char *got = scrape(r);

	assert_string_equal(got, want);
	free(got);
}

/* --- registration rules ------------------------------------------------------------ */

static void test_metric_names(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const bad[] = {
		"", "1abc", "a-b", "a b", "a.b", "é",
		/* histogram sample suffixes are reserved for histograms */
		"x_count", "x_sum", "x_bucket",
	};

	assert_non_null(r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(metrics_gauge(r, bad[i], "h", NULL));
	assert_null(metrics_gauge(r, NULL, "h", NULL));
	assert_non_null(metrics_gauge(r, "_ok:name_1", "h", NULL));
	assert_non_null(metrics_gauge(r, "A", "h", no_labels));
	/* counters must end in _total (promtool's rule) */
	assert_null(metrics_counter(r, "requests", "h", NULL));
	assert_null(metrics_counter(r, "_total", "h", NULL));
	assert_non_null(metrics_counter(r, "requests_total", "h", NULL));
	/* HELP is required and must be UTF-8 */
	assert_null(metrics_gauge(r, "no_help", NULL, NULL));
	assert_null(metrics_gauge(r, "no_help", "", NULL));
	assert_null(metrics_gauge(r, "no_help", "bad \xff byte", NULL));
	assert_non_null(metrics_gauge(r, "no_help", "now with help, ünïcode", NULL));
	/* no registry */
	assert_null(metrics_gauge(NULL, "g", "h", NULL));
	metrics_registry_free(r);
}

static void test_duplicates(void **state)
{
	struct metrics_registry *r = metrics_registry_new();

	assert_non_null(metrics_gauge(r, "dup", "h", NULL));
	assert_null(metrics_gauge(r, "dup", "h", NULL));
	assert_null(metrics_histogram(r, "dup", "h", NULL, NULL, 0));
	assert_int_equal(metrics_func(r, "dup", "h", METRIC_GAUGE, NULL, NULL), -1);
	/* a histogram's _sum/_count/_bucket samples clash with other families */
	assert_non_null(metrics_histogram(r, "lat", "h", NULL, NULL, 0));
	assert_null(metrics_histogram(r, "lat_sum", "h", NULL, NULL, 0));
	assert_null(metrics_histogram(r, "lat_count", "h", NULL, NULL, 0));
	assert_non_null(metrics_histogram(r, "lat_sum_x", "h", NULL, NULL, 0));
	assert_non_null(metrics_histogram(r, "base", "h", NULL, NULL, 0));
	assert_null(metrics_histogram(r, "base_bucket", "h", NULL, NULL, 0));
	assert_non_null(metrics_histogram(r, "pre_bucket", "h", NULL, NULL, 0));
	assert_null(metrics_histogram(r, "pre", "h", NULL, NULL, 0));
	/* collectors own the process_* names */
	assert_int_equal(metrics_register_process(r), 0);
	assert_int_equal(metrics_register_process(r), -1);
	assert_null(metrics_gauge(r, "process_open_fds", "h", NULL));
	assert_non_null(metrics_gauge(r, "process_open_fds_other", "h", NULL));
	assert_int_equal(metrics_register_build_info(r, "x"), 0);
	assert_int_equal(metrics_register_build_info(r, "x"), -1);
	metrics_registry_free(r);
}

static void test_label_names(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const bad[][4] = {
		{ "__name" }, { "le" }, { "quantile" }, { "a:b" }, { "1a" }, { "" }, { "a-b" },
		{ "a", "b", "a" },
	};
	static const char *const good[] = { "a", "_b", "c9", NULL };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(metrics_gauge(r, "g", "h", bad[i]));
		assert_null(metrics_histogram(r, "g", "h", bad[i], NULL, 0));
	}
	/* a rejected family leaves the name free */
	assert_non_null(metrics_gauge(r, "g", "h", good));
	metrics_registry_free(r);
}

static void test_bad_buckets(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	const double desc[] = { 1, 0.5 }, same[] = { 1, 1 }, nan_[] = { 1, NAN };
	const double inf_last[] = { 1, INFINITY };
	struct metric *m;

	assert_null(metrics_histogram(r, "h", "h", NULL, desc, 2));
	assert_null(metrics_histogram(r, "h", "h", NULL, same, 2));
	assert_null(metrics_histogram(r, "h", "h", NULL, nan_, 2));
	/* an explicit +Inf is implied anyway and not written twice */
	m = metrics_histogram(r, "h", "h", NULL, inf_last, 2);
	assert_non_null(m);
	metrics_observe(metrics_only(m), 5);
	assert_scrape(r, "# HELP h h\n# TYPE h histogram\n"
			 "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum 5\nh_count 1\n");
	metrics_registry_free(r);
}

/* --- children ------------------------------------------------------------------------ */

static void test_children(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const labels[] = { "a", "b", NULL };
	struct metric *m = metrics_counter(r, "c_total", "h", labels);
	struct metric *plain = metrics_counter(r, "p_total", "h", NULL);
	struct metric_child *first, *c;
	const char *v[2];
	char name[32];

	assert_non_null(m);
	first = metrics_childv(m, "x", "y", NULL);
	assert_non_null(first);
	assert_ptr_equal(metrics_childv(m, "x", "y", NULL), first);
	v[0] = "x";
	v[1] = "y";
	assert_ptr_equal(metrics_child(m, v), first);
	/* separators keep ("xy","") and ("x","y") apart */
	c = metrics_childv(m, "xy", "", NULL);
	assert_non_null(c);
	assert_ptr_not_equal(c, first);
	/* many children: the table grows, pointers stay */
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		assert_non_null(metrics_childv(m, name, "z", NULL));
	}
	assert_ptr_equal(metrics_childv(m, "x", "y", NULL), first);
	/* wrong arity, NULL and invalid UTF-8 values */
	assert_null(metrics_childv(m, "x", NULL));
	assert_null(metrics_childv(m, "x", "y", "z", NULL));
	assert_null(metrics_child(m, NULL));
	v[1] = NULL;
	assert_null(metrics_child(m, v));
	assert_null(metrics_childv(m, "x", "\xc0\x80", NULL));
	assert_null(metrics_childv(m, "x", "\xed\xa0\x80", NULL));
	assert_non_null(metrics_childv(m, "x", "\xf0\x9f\x93\x88", NULL));
	/* metrics_only is for label-less families */
	assert_null(metrics_only(m));
	assert_null(metrics_only(NULL));
	assert_non_null(metrics_only(plain));
	assert_ptr_equal(metrics_child(plain, NULL), metrics_only(plain));
	assert_ptr_equal(metrics_childv(plain, NULL), metrics_only(plain));
	metrics_registry_free(r);
}

/* --- values -------------------------------------------------------------------------- */

static void test_counter_gauge_values(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metric_child *c = metrics_only(metrics_counter(r, "c_total", "h", NULL));
	struct metric_child *g = metrics_only(metrics_gauge(r, "g", "h", NULL));
	struct metric_child *h = metrics_only(metrics_histogram(r, "hist", "h", NULL, NULL, 0));

	assert_true(metrics_value(c) == 0);
	metrics_inc(c);
	metrics_add(c, 2.5);
	metrics_add(c, -1); /* counters never go down */
	metrics_add(c, NAN);
	assert_true(metrics_value(c) == 3.5);
	metrics_set(g, 10);
	metrics_add(g, -12.5);
	metrics_inc(g);
	assert_true(metrics_value(g) == -1.5);
	metrics_observe(g, 1); /* wrong kind: ignored */
	assert_true(metrics_value(g) == -1.5);
	metrics_inc(h); /* wrong kind: ignored */
	assert_true(isnan(metrics_value(h)));
	/* a NULL child (failed creation) is a no-op, not a crash */
	metrics_inc(NULL);
	metrics_add(NULL, 1);
	metrics_set(NULL, 1);
	metrics_observe(NULL, 1);
	assert_true(isnan(metrics_value(NULL)));
	metrics_registry_free(r);
}

static void test_histogram_default_buckets(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metric_child *h = metrics_only(metrics_histogram(r, "d_seconds", "h", NULL, NULL, 0));

	metrics_observe(h, 0.005); /* bounds are inclusive */
	metrics_observe(h, 0.3);
	metrics_observe(h, 10);
	metrics_observe(h, 11);
	metrics_observe(h, NAN); /* as client_golang: +Inf bucket, sum becomes NaN */
	assert_scrape(r, "# HELP d_seconds h\n# TYPE d_seconds histogram\n"
			 "d_seconds_bucket{le=\"0.005\"} 1\n"
			 "d_seconds_bucket{le=\"0.01\"} 1\n"
			 "d_seconds_bucket{le=\"0.025\"} 1\n"
			 "d_seconds_bucket{le=\"0.05\"} 1\n"
			 "d_seconds_bucket{le=\"0.1\"} 1\n"
			 "d_seconds_bucket{le=\"0.25\"} 1\n"
			 "d_seconds_bucket{le=\"0.5\"} 2\n"
			 "d_seconds_bucket{le=\"1\"} 2\n"
			 "d_seconds_bucket{le=\"2.5\"} 2\n"
			 "d_seconds_bucket{le=\"5\"} 2\n"
			 "d_seconds_bucket{le=\"10\"} 3\n"
			 "d_seconds_bucket{le=\"+Inf\"} 5\n"
			 "d_seconds_sum NaN\n"
			 "d_seconds_count 5\n");
	metrics_registry_free(r);
}

/* --- exposition ---------------------------------------------------------------------- */

static void test_exposition_exact(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const req_labels[] = { "method", "code", NULL };
	static const char *const x[] = { "x", NULL };
	static const char *const handler[] = { "handler", NULL };
	const double bounds[] = { 0.1, 0.5, 1 };
	struct metric *req = metrics_counter(r, "http_requests_total", "Requests served.", req_labels);
	struct metric *temp = metrics_gauge(r, "temperature_celsius", "Current temperature.", NULL);
	struct metric *empty = metrics_gauge(r, "empty_family", "Never used.", x);
	struct metric *lat = metrics_histogram(r, "request_duration_seconds", "Latency.", handler,
					       bounds, 3);
	struct metric *untouched = metrics_counter(r, "untouched_total", "Zero from the start.", NULL);
	struct metric_child *api;

	assert_non_null(req);
	assert_non_null(empty);
	assert_non_null(untouched);
	for (int i = 0; i < 3; i++)
		metrics_inc(metrics_childv(req, "GET", "200", NULL));
	metrics_add(metrics_childv(req, "POST", "500", NULL), 2.5);
	metrics_inc(metrics_childv(req, "GET", "404", NULL));
	metrics_set(metrics_only(temp), -3.25);
	api = metrics_childv(lat, "/api", NULL);
	metrics_observe(api, 0.25);
	metrics_observe(api, 0.5);
	metrics_observe(api, 0.75);
	metrics_observe(api, 2);
	assert_scrape(r,
		      "# HELP http_requests_total Requests served.\n"
		      "# TYPE http_requests_total counter\n"
		      "http_requests_total{code=\"200\",method=\"GET\"} 3\n"
		      "http_requests_total{code=\"404\",method=\"GET\"} 1\n"
		      "http_requests_total{code=\"500\",method=\"POST\"} 2.5\n"
		      "# HELP temperature_celsius Current temperature.\n"
		      "# TYPE temperature_celsius gauge\n"
		      "temperature_celsius -3.25\n"
		      "# HELP request_duration_seconds Latency.\n"
		      "# TYPE request_duration_seconds histogram\n"
		      "request_duration_seconds_bucket{handler=\"/api\",le=\"0.1\"} 0\n"
		      "request_duration_seconds_bucket{handler=\"/api\",le=\"0.5\"} 2\n"
		      "request_duration_seconds_bucket{handler=\"/api\",le=\"1\"} 3\n"
		      "request_duration_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 4\n"
		      "request_duration_seconds_sum{handler=\"/api\"} 3.5\n"
		      "request_duration_seconds_count{handler=\"/api\"} 4\n"
		      "# HELP untouched_total Zero from the start.\n"
		      "# TYPE untouched_total counter\n"
		      "untouched_total 0\n");
	assert_int_equal(metrics_write_text(NULL, NULL), -1);
	metrics_registry_free(r);
}

static void test_escaping(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const labels[] = { "path", NULL };
	struct metric *m = metrics_gauge(r, "esc", "A \\ backslash,\na newline and \"quotes\".",
					 labels);

	metrics_set(metrics_childv(m, "C:\\dir \"q\"\nnext", NULL), 1);
	assert_scrape(r, "# HELP esc A \\\\ backslash,\\na newline and \"quotes\".\n"
			 "# TYPE esc gauge\n"
			 "esc{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 1\n");
	metrics_registry_free(r);
}

static void test_sorting(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const labels[] = { "zone", "app", NULL };
	struct metric *m = metrics_gauge(r, "s", "h", labels);
	/* registered out of order; sorted by app, then zone (label name order) */
	static const char *const pairs[][2] = {
		{ "b", "web" }, { "a", "web" }, { "c", "api" }, { "a", "api" }, { "", "web" },
		{ "a", "Web" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		metrics_set(metrics_childv(m, pairs[i][0], pairs[i][1], NULL), (double)i);
	assert_scrape(r, "# HELP s h\n# TYPE s gauge\n"
			 "s{app=\"Web\",zone=\"a\"} 5\n"
			 "s{app=\"api\",zone=\"a\"} 3\n"
			 "s{app=\"api\",zone=\"c\"} 2\n"
			 "s{app=\"web\",zone=\"\"} 4\n"
			 "s{app=\"web\",zone=\"a\"} 1\n"
			 "s{app=\"web\",zone=\"b\"} 0\n");
	metrics_registry_free(r);
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64), as client_golang writes sample values. */
static void test_float_format(void **state)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{ 0, "0" },
		{ -0.0, "0" },
		{ 1, "1" },
		{ -1, "-1" },
		{ 0.1, "0.1" },
		{ 2.5, "2.5" },
		{ 100, "100" },
		{ 123456, "123456" },
		{ 999999, "999999" },
		{ 123456.7, "123456.7" },
		{ 1e6, "1e+06" },
		{ 1234567.8, "1.2345678e+06" },
		{ 1.71234567891e9, "1.71234567891e+09" },
		{ 9007199254740992.0, "9.007199254740992e+15" },
		{ 1e21, "1e+21" },
		{ 1e100, "1e+100" },
		{ 0.0001, "0.0001" },
		{ 0.00012, "0.00012" },
		{ 0.00001, "1e-05" },
		{ 1.0 / 3, "0.3333333333333333" },
		{ -2.0 / 3e10, "-6.666666666666667e-11" },
		{ 5e-324, "5e-324" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ NAN, "NaN" },
		{ INFINITY, "+Inf" },
		{ -INFINITY, "-Inf" },
	};
	char want[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metrics_registry *r = metrics_registry_new();

		metrics_set(metrics_only(metrics_gauge(r, "f", "h", NULL)), cases[i].v);
		snprintf(want, sizeof(want), "# HELP f h\n# TYPE f gauge\nf %s\n", cases[i].want);
		assert_scrape(r, want);
		metrics_registry_free(r);
	}
}

/* --- concurrency --------------------------------------------------------------------- */

#define THREADS 4
#define ITERS 100000

struct worker {
	struct metric *labeled;
	struct metric_child *counter, *gauge, *hist;
	int id;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char name[32];

	for (int i = 0; i < ITERS; i++) {
		metrics_inc(w->counter);
		metrics_add(w->gauge, 0.5);
		metrics_observe(w->hist, 1);
		/* shared and fresh children, looked up and created under contention */
		metrics_inc(metrics_childv(w->labeled, "shared", NULL));
		if (i % 100 == 0) {
			snprintf(name, sizeof(name), "t%d-%d", w->id, i);
			metrics_inc(metrics_childv(w->labeled, name, NULL));
		}
	}
	return NULL;
}

/* The +Inf bucket and _count of a scrape taken mid-storm must agree. */
static void *scraper(void *arg)
{
	struct metrics_registry *r = arg;
	uintptr_t mismatches = 0;

	for (int i = 0; i < 20; i++) {
		char *text = scrape(r), *inf = strstr(text, "hi_bucket{le=\"+Inf\"} "),
		     *count = strstr(text, "\nhi_count ");

		if (!inf || !count ||
		    strtoull(inf + strlen("hi_bucket{le=\"+Inf\"} "), NULL, 10) !=
			    strtoull(count + strlen("\nhi_count "), NULL, 10))
			mismatches++;
		free(text);
	}
	return (void *)mismatches;
}

static void test_concurrent(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	static const char *const k[] = { "k", NULL };
	const double one[] = { 1 };
	struct worker w[THREADS];
	pthread_t t[THREADS + 1];
	struct metric *labeled = metrics_counter(r, "l_total", "h", k);
	struct metric_child *counter = metrics_only(metrics_counter(r, "c_total", "h", NULL));
	struct metric_child *gauge = metrics_only(metrics_gauge(r, "g", "h", NULL));
	struct metric_child *hist = metrics_only(metrics_histogram(r, "hi", "h", NULL, one, 1));
	void *mismatches;
	char *text;

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ labeled, counter, gauge, hist, i };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	assert_int_equal(pthread_create(&t[THREADS], NULL, scraper, r), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_join(t[THREADS], &mismatches);
	assert_null(mismatches);
	assert_true(metrics_value(counter) == THREADS * ITERS);
	assert_true(metrics_value(gauge) == THREADS * ITERS * 0.5);
	assert_true(metrics_value(metrics_childv(labeled, "shared", NULL)) == THREADS * ITERS);
	assert_true(metrics_value(metrics_childv(labeled, "t3-99900", NULL)) == 1);
	text = scrape(r);
	assert_non_null(strstr(text, "\nc_total 400000\n"));
	assert_non_null(strstr(text, "\ng 200000\n"));
	assert_non_null(strstr(text, "\nhi_bucket{le=\"1\"} 400000\nhi_bucket{le=\"+Inf\"} 400000\n"
				     "hi_sum 400000\nhi_count 400000\n"));
	assert_non_null(strstr(text, "\nl_total{k=\"shared\"} 400000\n"));
	free(text);
	metrics_registry_free(r);
}

/* --- functions and collectors ---------------------------------------------------------- */

static double read_double(void *arg)
{
	return *(double *)arg;
}

static void collect_custom(struct buf *out, void *arg)
{
	buf_printf(out, "# HELP custom_thing A custom family.\n# TYPE custom_thing gauge\n"
			"custom_thing %d\n", *(int *)arg);
}

static void test_func_collector(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	double queue = 3, done = 12;
	int custom = 7;

	assert_int_equal(metrics_func(r, "queue_length", "Items queued.", METRIC_GAUGE, read_double,
				      &queue), 0);
	assert_int_equal(metrics_collector(r, collect_custom, &custom), 0);
	assert_int_equal(metrics_func(r, "done_total", "Items done.", METRIC_COUNTER, read_double,
				      &done), 0);
	assert_int_equal(metrics_func(r, "done", "h", METRIC_COUNTER, read_double, &done), -1);
	assert_int_equal(metrics_func(r, "h", "h", METRIC_HISTOGRAM, read_double, &done), -1);
	assert_int_equal(metrics_func(r, "nofn", "h", METRIC_GAUGE, NULL, NULL), -1);
	assert_int_equal(metrics_func(r, "queue_length", "h", METRIC_GAUGE, read_double, &done), -1);
	assert_int_equal(metrics_collector(r, NULL, NULL), -1);
	assert_int_equal(metrics_collector(NULL, collect_custom, NULL), -1);
	assert_null(metrics_gauge(r, "done_total", "h", NULL));
	queue = 4.5;
	custom = 8;
	/* registration order, values taken at scrape time */
	assert_scrape(r, "# HELP queue_length Items queued.\n# TYPE queue_length gauge\n"
			 "queue_length 4.5\n"
			 "# HELP custom_thing A custom family.\n# TYPE custom_thing gauge\n"
			 "custom_thing 8\n"
			 "# HELP done_total Items done.\n# TYPE done_total counter\n"
			 "done_total 12\n");
	metrics_registry_free(r);
}

/* --- process and build info ------------------------------------------------------------ */

/* The value of an unlabeled sample line "name value", or NAN when absent. */
static double sample(const char *text, const char *name)
{
	char key[128];
	const char *p;

	snprintf(key, sizeof(key), "\n%s ", name);
	p = strstr(text, key);
	return p ? strtod(p + strlen(key), NULL) : NAN;
}

static void assert_family(const char *text, const char *name, const char *type)
{
	char line[128];

	snprintf(line, sizeof(line), "# HELP %s ", name);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof(line), "\n# TYPE %s %s\n", name, type);
	assert_non_null(strstr(text, line));
}

static void test_process(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct rlimit rl;
	double now = (double)time(NULL), fds;
	int extra[5];
	char *text;

	assert_int_equal(metrics_register_process(r), 0);
	text = scrape(r);
	assert_family(text, "process_cpu_seconds_total", "counter");
	assert_family(text, "process_open_fds", "gauge");
	assert_family(text, "process_max_fds", "gauge");
	assert_family(text, "process_virtual_memory_bytes", "gauge");
	assert_family(text, "process_resident_memory_bytes", "gauge");
	assert_family(text, "process_start_time_seconds", "gauge");
	assert_true(sample(text, "process_cpu_seconds_total") >= 0);
	assert_true(sample(text, "process_resident_memory_bytes") > 1e5);
	assert_true(sample(text, "process_virtual_memory_bytes") >=
		    sample(text, "process_resident_memory_bytes"));
	assert_true(sample(text, "process_start_time_seconds") <= now + 1);
	assert_true(sample(text, "process_start_time_seconds") > now - 3600);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(sample(text, "process_max_fds") == (double)rl.rlim_cur);
	fds = sample(text, "process_open_fds");
	assert_true(fds >= 1);
	free(text);
	/* five more descriptors are five more open fds */
	for (int i = 0; i < 5; i++)
		assert_true((extra[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	text = scrape(r);
	assert_true(sample(text, "process_open_fds") == fds + 5);
	free(text);
	for (int i = 0; i < 5; i++)
		close(extra[i]);
	metrics_registry_free(r);
}

static void test_build_info(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	char want[512];
	char *text;

	assert_int_equal(metrics_register_build_info(r, NULL), -1);
	assert_int_equal(metrics_register_build_info(r, "metrics"), 0);
	text = scrape(r);
	assert_family(text, "lgtm_build_info", "gauge");
	snprintf(want, sizeof(want),
		 "\nlgtm_build_info{branch=\"%s\",daemon=\"metrics\",revision=\"%s\",version=\"%s\"} 1\n",
		 lgtm_branch(), lgtm_revision(), lgtm_version());
	assert_non_null(strstr(text, want));
	free(text);
	metrics_registry_free(r);
}

/* --- the real promtool ----------------------------------------------------------------- */

#define PROMTOOL "/usr/bin/promtool"

/* Runs `promtool check metrics` on text; returns its exit status, output in out. */
static int promtool_check(const char *text, char *out, size_t outlen)
{
	char path[] = "/tmp/test_metrics_XXXXXX", cmd[256];
	size_t len = strlen(text), n;
	int fd = mkstemp(path), status;
	FILE *p;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), PROMTOOL " check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(path);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_promtool(void **state)
{
	struct metrics_registry *r;
	static const char *const labels[] = { "method", "path", NULL };
	static const char *const op[] = { "op", NULL };
	struct metric *req, *lat;
	double queue = 1e6;
	int custom = 1;
	char out[4096];
	char *text;

	if (access(PROMTOOL, X_OK) != 0)
		skip();
	r = metrics_registry_new();
	req = metrics_counter(r, "lgtm_test_requests_total", "Requests by method and path.", labels);
	metrics_inc(metrics_childv(req, "GET", "/a\\b \"q\"\nx", NULL));
	metrics_add(metrics_childv(req, "POST", "/ü", NULL), 1e9);
	metrics_set(metrics_only(metrics_gauge(r, "lgtm_test_ratio", "A \\ help\nline.", NULL)),
		    1.0 / 3);
	metrics_gauge(r, "lgtm_test_unused", "Labeled, never set.", op);
	lat = metrics_histogram(r, "lgtm_test_duration_seconds", "Durations.", op, NULL, 0);
	metrics_observe(metrics_childv(lat, "read", NULL), 0.02);
	metrics_observe(metrics_childv(lat, "write", NULL), 42);
	metrics_observe(metrics_only(metrics_histogram(r, "lgtm_test_plain_seconds", "Plain.", NULL,
						       NULL, 0)), 1e-7);
	assert_int_equal(metrics_func(r, "lgtm_test_queue_length", "Queue.", METRIC_GAUGE,
				      read_double, &queue), 0);
	assert_int_equal(metrics_collector(r, collect_custom, &custom), 0);
	assert_int_equal(metrics_register_process(r), 0);
	assert_int_equal(metrics_register_build_info(r, "metrics"), 0);
	text = scrape(r);
	if (promtool_check(text, out, sizeof(out)) != 0 || out[0])
		fail_msg("promtool check metrics failed:\n%s\non:\n%s", out, text);
	free(text);
	metrics_registry_free(r);

	/* and it can fail: a counter without _total written by a collector */
	assert_int_not_equal(promtool_check("# HELP bad A counter.\n# TYPE bad counter\nbad 1\n",
					    out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_names),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_label_names),
		cmocka_unit_test(test_bad_buckets),
		cmocka_unit_test(test_children),
		cmocka_unit_test(test_counter_gauge_values),
		cmocka_unit_test(test_histogram_default_buckets),
		cmocka_unit_test(test_exposition_exact),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_sorting),
		cmocka_unit_test(test_float_format),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_func_collector),
		cmocka_unit_test(test_process),
		cmocka_unit_test(test_build_info),
		cmocka_unit_test(test_promtool),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
