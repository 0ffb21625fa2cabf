/*
 * scrape: a target's metadata cache (scrape/metadata.c) on its own. Lines come
 * from the real parsers (text format and OpenMetrics bodies), so the family names
 * and type words are the ones a scrape loop would record. A cache is rendered as
 * "name type help|unit" lines sorted by name and compared whole; help text is
 * shown with NUL bytes as \0 and newlines as \n.
 *
 * The manager-level readers (merging across targets, limits, target filters) are
 * tested with real loops in test_scrape_manager.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/mgr_internal.h"

struct feed {
	struct sm_meta *m;
	int refused; /* lines sm_meta_set() answered 1 */
};

static int on_meta(void *ctx, const struct scrape_meta *line, char *err, size_t errlen)
{
	struct feed *f = ctx;
	int rc = sm_meta_set(f->m, line);

	assert_true(rc >= 0);
	f->refused += rc;
	return 0;
}

static int on_sample(void *ctx, const struct scrape_sample *s, char *err, size_t errlen)
{
	return 0;
}

/* One scrape's worth of lines into the cache; returns the lines refused. */
static int feed_n(struct sm_meta *m, enum scrape_format fmt, const char *body, size_t len)
{
	struct feed f = { m, 0 };
	const struct scrape_handler h = { on_sample, on_meta, &f };
	char err[512];

	if (scrape_parse(fmt, body, len, NULL, &h, NULL, err, sizeof(err)))
		fail_msg("parse: %s", err);
	return f.refused;
}

static int feed(struct sm_meta *m, enum scrape_format fmt, const char *body)
{
	return feed_n(m, fmt, body, strlen(body));
}

static int render_entries(void *arg, const struct sm_meta_entry *const *v, size_t n)
{
	struct buf *b = arg;

	for (size_t i = 0; i < n; i++) {
		buf_printf(b, "%s %s ", v[i]->name, scrape_type_name(v[i]->type));
		for (size_t k = 0; k < v[i]->help_len; k++) {
			char c = v[i]->help[k];

			if (c == '\0')
				buf_puts(b, "\\0");
			else if (c == '\n')
				buf_puts(b, "\\n");
			else
				buf_putc(b, c);
		}
		buf_printf(b, "|%s\n", v[i]->unit);
	}
	return 0;
}

static void expect(struct sm_meta *m, const char *family, const char *want)
{
	struct buf b = { 0 };

	assert_int_equal(sm_meta_view(m, family, render_entries, &b), 0);
	assert_string_equal(b.data ? b.data : "", want);
	buf_free(&b);
}

static void init(struct sm_meta *m, size_t max_bytes)
{
	assert_int_equal(sm_meta_init(m, max_bytes), 0);
}

/* What one scrape's lines leave in a fresh cache. */
static const struct {
	const char *what;
	enum scrape_format fmt;
	const char *body, *want;
} parsed_cases[] = {
	{ "text format: HELP escapes, untyped is unknown, a family without TYPE is unknown",
	  SCRAPE_FORMAT_TEXT,
	  "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
	  "# TYPE node_cpu_seconds_total counter\n"
	  "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1\n"
	  "# TYPE go_gc_duration_seconds summary\n"
	  "# HELP plain untyped\\nwith a \\\\ and a \\\" kept\n"
	  "# TYPE plain untyped\n"
	  "# HELP only_help no TYPE line: unknown\n"
	  "# TYPE h histogram\n"
	  "# TYPE g gauge\n"
	  "# HELP g \n",
	  "g gauge |\n"
	  "go_gc_duration_seconds summary |\n"
	  "h histogram |\n"
	  "node_cpu_seconds_total counter Seconds the CPUs spent in each mode.|\n"
	  "only_help unknown no TYPE line: unknown|\n"
	  "plain unknown untyped\\nwith a \\ and a \\\" kept|\n" },
	/* Every type word Prometheus reports, units, escaped help, and the family
	 * names as written (a counter family without _total). */
	{ "OpenMetrics", SCRAPE_FORMAT_OPENMETRICS,
	  "# TYPE a counter\n# HELP a Requests \\\"served\\\".\n"
	  "# UNIT a_seconds seconds\n# TYPE a_seconds gauge\n"
	  "# TYPE gh gaugehistogram\n# TYPE i info\n# TYPE s stateset\n"
	  "# TYPE u unknown\n# TYPE hi histogram\n# TYPE su summary\n"
	  "a_total 1\n# EOF\n",
	  "a counter Requests \"served\".|\n"
	  "a_seconds gauge |seconds\n"
	  "gh gaugehistogram |\n"
	  "hi histogram |\n"
	  "i info |\n"
	  "s stateset |\n"
	  "su summary |\n"
	  "u unknown |\n" },
};

static void test_parsed(void **state)
{
	for (size_t i = 0; i < sizeof(parsed_cases) / sizeof(parsed_cases[0]); i++) {
		struct sm_meta m;

		print_message("%s\n", parsed_cases[i].what);
		init(&m, 0);
		assert_int_equal(feed(&m, parsed_cases[i].fmt, parsed_cases[i].body), 0);
		expect(&m, NULL, parsed_cases[i].want);
		sm_meta_free(&m);
	}
}

/* One family, by its exact name. */
static void test_lookup(void **state)
{
	struct sm_meta m;

	init(&m, 0);
	feed(&m, SCRAPE_FORMAT_TEXT, parsed_cases[0].body);
	assert_int_equal(sm_meta_count(&m), 6);
	expect(&m, "node_cpu_seconds_total",
	       "node_cpu_seconds_total counter Seconds the CPUs spent in each mode.|\n");
	expect(&m, "node_cpu_seconds", "");
	expect(&m, "", "");
	sm_meta_free(&m);
}

/* Later lines change an entry; what a target stopped saying stays, as upstream. */
static void test_updates(void **state)
{
	static const char nul_help[] = "# HELP x a\0b with a NUL\n# TYPE x gauge\n";
	struct sm_meta m;

	init(&m, 0);
	feed(&m, SCRAPE_FORMAT_TEXT, "# TYPE x counter\n# HELP x old help\n");
	feed(&m, SCRAPE_FORMAT_TEXT, "# HELP x new help\n");
	expect(&m, NULL, "x counter new help|\n");
	feed(&m, SCRAPE_FORMAT_TEXT, "# TYPE x gauge\n");
	expect(&m, NULL, "x gauge new help|\n");
	/* Help text may hold a NUL byte: it is kept, and compared, whole. */
	feed_n(&m, SCRAPE_FORMAT_TEXT, nul_help, sizeof(nul_help) - 1);
	expect(&m, NULL, "x gauge a\\0b with a NUL|\n");
	feed_n(&m, SCRAPE_FORMAT_TEXT, nul_help, sizeof(nul_help) - 1);
	expect(&m, NULL, "x gauge a\\0b with a NUL|\n");
	feed(&m, SCRAPE_FORMAT_OPENMETRICS, "# UNIT x_kilo_bytes bytes\n# EOF\n");
	expect(&m, "x_kilo_bytes", "x_kilo_bytes unknown |bytes\n");
	feed(&m, SCRAPE_FORMAT_OPENMETRICS, "# UNIT x_kilo_bytes kilo_bytes\n# EOF\n");
	expect(&m, "x_kilo_bytes", "x_kilo_bytes unknown |kilo_bytes\n");
	sm_meta_free(&m);
}

/* Upstream's rule: a family missing from more than 10 successful scrapes in a row
 * goes; one that comes back before that stays. */
static void test_retention(void **state)
{
	struct sm_meta m;
	size_t bytes_one;

	init(&m, 0);
	feed(&m, SCRAPE_FORMAT_TEXT,
	     "# TYPE gone counter\n# TYPE back gauge\n# TYPE stays gauge\n");
	sm_meta_flush(&m);
	bytes_one = m.bytes;
	assert_true(bytes_one > 0);
	for (int i = 1; i <= SM_META_KEEP_SCRAPES; i++) {
		feed(&m, SCRAPE_FORMAT_TEXT, i == 5 ? "# TYPE stays gauge\n# TYPE back gauge\n" :
						      "# TYPE stays gauge\n");
		sm_meta_flush(&m);
	}
	/* Absent from 10 scrapes: still listed. */
	expect(&m, NULL, "back gauge |\ngone counter |\nstays gauge |\n");
	feed(&m, SCRAPE_FORMAT_TEXT, "# TYPE stays gauge\n");
	sm_meta_flush(&m);
	expect(&m, NULL, "back gauge |\nstays gauge |\n");
	for (int i = 0; i < 5; i++) {
		feed(&m, SCRAPE_FORMAT_TEXT, "# TYPE stays gauge\n");
		sm_meta_flush(&m);
	}
	expect(&m, NULL, "stays gauge |\n");
	assert_true(m.bytes < bytes_one);
	/* Flushing without lines empties it and gives every byte back. */
	for (int i = 0; i <= SM_META_KEEP_SCRAPES; i++)
		sm_meta_flush(&m);
	expect(&m, NULL, "");
	assert_int_equal(m.bytes, 0);
	assert_int_equal(sm_meta_count(&m), 0);
	sm_meta_free(&m);
}

/* The bound: new families and growing entries past it are refused, the entry
 * keeps what it had, and room comes back when families go. */
static void test_bound(void **state)
{
	struct sm_meta m;
	char body[4096];
	int n = 0, refused;

	init(&m, 2048);
	for (int i = 0; i < 40; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			      "# TYPE family_%02d counter\n"
			      "# HELP family_%02d help text %02d\n", i, i, i);
	refused = feed(&m, SCRAPE_FORMAT_TEXT, body);
	assert_true(refused > 0);
	assert_true(m.bytes <= 2048);
	assert_true(sm_meta_count(&m) > 5 && sm_meta_count(&m) < 40);
	expect(&m, "family_00", "family_00 counter help text 00|\n");
	expect(&m, "family_39", "");

	/* A help text too big for what is left: refused, the old one stays. */
	memset(body, 'h', 3000);
	memcpy(body, "# HELP family_00 ", 17);
	memcpy(body + 3000, "\n", 2);
	assert_int_equal(feed(&m, SCRAPE_FORMAT_TEXT, body), 1);
	expect(&m, "family_00", "family_00 counter help text 00|\n");
	assert_true(m.bytes <= 2048);

	/* Everything ages out; then a new family fits again. */
	for (int i = 0; i <= SM_META_KEEP_SCRAPES + 1; i++)
		sm_meta_flush(&m);
	assert_int_equal(m.bytes, 0);
	assert_int_equal(feed(&m, SCRAPE_FORMAT_TEXT, "# TYPE family_39 gauge\n"), 0);
	expect(&m, NULL, "family_39 gauge |\n");
	sm_meta_free(&m);
}

/* A reload hands a target's cache to its new loop: entries, bytes and the
 * iteration count (so retention carries on where it was). */
static void test_handoff(void **state)
{
	struct sm_meta a, b;
	size_t bytes;

	init(&a, 0);
	init(&b, 0);
	feed(&b, SCRAPE_FORMAT_TEXT, "# TYPE stale_in_new gauge\n");
	feed(&a, SCRAPE_FORMAT_TEXT, "# TYPE old counter\n# HELP old carried over\n");
	for (int i = 0; i < 4; i++)
		sm_meta_flush(&a);
	bytes = a.bytes;
	sm_meta_handoff(&a, &b);
	expect(&a, NULL, "");
	assert_int_equal(a.bytes, 0);
	expect(&b, NULL, "old counter carried over|\n");
	assert_int_equal(b.bytes, bytes);
	assert_int_equal(b.iter, 4);
	/* The first flush ended the scrape that named it, so 3 went without it: the
	 * 11th without it (8 more) drops it. */
	for (int i = 0; i < 7; i++)
		sm_meta_flush(&b);
	expect(&b, NULL, "old counter carried over|\n");
	sm_meta_flush(&b);
	expect(&b, NULL, "");
	sm_meta_free(&a);
	sm_meta_free(&b);
}

/* Readers while a loop writes: every view is consistent (each entry's help names
 * the entry and the generation that wrote it, so a torn entry would show). */
struct race {
	struct sm_meta m;
	atomic_bool done;
	atomic_int views;
};

static int check_view(void *arg, const struct sm_meta_entry *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char want[8];

		snprintf(want, sizeof(want), "%s ", v[i]->name);
		assert_int_equal(strncmp(v[i]->help, want, strlen(want)), 0);
		assert_int_equal(strlen(v[i]->help), v[i]->help_len);
		if (i)
			assert_true(strcmp(v[i - 1]->name, v[i]->name) < 0);
	}
	return 0;
}

static void *writer(void *arg)
{
	struct race *r = arg;
	char body[8192];

	for (int gen = 0; gen < 300; gen++) {
		int n = 0;

		for (int i = 0; i < 50; i++)
			if ((i + gen) % 7)
				n += snprintf(body + n, sizeof(body) - (size_t)n,
					      "# HELP f%02d f%02d gen %d%s\n"
					      "# TYPE f%02d %s\n", i, i, gen,
					      gen % 2 ? " with a longer tail" : "", i,
					      gen % 2 ? "gauge" : "counter");
		feed(&r->m, SCRAPE_FORMAT_TEXT, body);
		sm_meta_flush(&r->m);
	}
	atomic_store(&r->done, true);
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	struct race r = { 0 };
	pthread_t th;

	init(&r.m, 0);
	assert_int_equal(pthread_create(&th, NULL, writer, &r), 0);
	while (!atomic_load(&r.done)) {
		assert_int_equal(sm_meta_view(&r.m, NULL, check_view, NULL), 0);
		assert_int_equal(sm_meta_view(&r.m, "f03", check_view, NULL), 0);
		atomic_fetch_add(&r.views, 1);
	}
	pthread_join(th, NULL);
	assert_true(atomic_load(&r.views) > 0);
	/* The last generation (299, odd): families with (i + 299) % 7 == 0 are absent
	 * from that scrape only, so all 50 are still there. */
	assert_int_equal(sm_meta_count(&r.m), 50);
	sm_meta_free(&r.m);
}

/* fn's answer is the view's. */
static int answer_7(void *arg, const struct sm_meta_entry *const *v, size_t n)
{
	return 7;
}

static void test_view_result(void **state)
{
	struct sm_meta m;

	init(&m, 0);
	assert_int_equal(sm_meta_view(&m, NULL, answer_7, NULL), 7);
	assert_int_equal(sm_meta_view(&m, "x", answer_7, NULL), 7);
	sm_meta_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsed),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_updates),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_handoff),
		cmocka_unit_test(test_concurrent_readers),
		cmocka_unit_test(test_view_result),
	};

	return cmocka_run_group_tests_name("scrape_metadata", tests, NULL, NULL);
}
