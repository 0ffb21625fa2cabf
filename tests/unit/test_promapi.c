/* promapi: Prometheus' time and duration parameter rules and error texts, and the
 * query_exemplars data written from a TSDB exemplar store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "promapi/promapi.h"
#include "promql/promql.h"
#include "tsdb/tsdb.h"

static void test_times(void **state)
{
	int64_t ms;
	char err[128];

	assert_int_equal(promapi_parse_time("4", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 4000);
	assert_int_equal(promapi_parse_time("1700000000.123", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 1700000000123);
	assert_int_equal(promapi_parse_time("-1.5", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, -1500);
	assert_int_equal(promapi_parse_time("2024-05-01T10:00:00.250Z", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 1714557600250);
	assert_int_equal(promapi_parse_time("2024-05-01T12:00:00+02:00", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 1714557600000);
	assert_int_equal(promapi_parse_time("yesterday", &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot parse \"yesterday\" to a valid timestamp");
	assert_int_equal(promapi_parse_time("2024-05-01T10:00:00", &ms, err, sizeof(err)), -1);
	assert_int_equal(promapi_parse_time("", &ms, err, sizeof(err)), -1);
	assert_int_equal(promapi_time_param(NULL, 77, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 77);
}

static void test_durations(void **state)
{
	int64_t ms;
	char err[128];

	assert_int_equal(promapi_parse_duration("15", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 15000);
	assert_int_equal(promapi_parse_duration("0.5", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(promapi_parse_duration("1m30s", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(promapi_parse_duration("abc", &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot parse \"abc\" to a valid duration");
	assert_int_equal(promapi_parse_duration("1e300", &ms, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "overflows int64"));
}

#define LS(...) ((struct labels){ (struct label[]){ __VA_ARGS__ }, \
	sizeof((struct label[]){ __VA_ARGS__ }) / sizeof(struct label) })

/* What promapi_store_exemplars() writes for the first n selectors, NUL-terminated. */
static const char *written(struct tsdb_exemplars *st, struct promql_node **sel, size_t n,
			 int64_t start, int64_t end, struct buf *b)
{
	struct jw w;
	char err[256];

	buf_reset(b);
	jw_init(&w, b);
	assert_int_equal(promapi_store_exemplars(st, (const struct promql_node *const *)sel, n,
						 start, end, &w, err, sizeof(err)), 0);
	assert_false(jw_failed(&w));
	buf_putc(b, '\0');
	return b->data;
}

/* Exemplars of the series any selector matches, in range, as Prometheus writes them. */
static void test_store_exemplars(void **state)
{
	struct arena *a = arena_new(0);
	struct tsdb_exemplars *st;
	struct promql_parse_error perr;
	struct promql_node *sel[2];
	struct labels s1 = LS({ "__name__", "foo_total" }, { "job", "a" });
	struct labels s2 = LS({ "__name__", "foo_total" }, { "job", "b" });
	struct labels s3 = LS({ "__name__", "bar" });
	struct tsdb_exemplar e1 = { LS({ "trace_id", "abc" }), 1700000000000, 1 };
	struct tsdb_exemplar e2 = { LS({ "trace_id", "d\"e" }, { "span", "1" }), 1700000000500, 0.25 };
	struct tsdb_exemplar e3 = { { NULL, 0 }, 1700000001000, 1e-7 };
	struct buf b = { 0 };
	char err[256];
	int rc[2];

	assert_int_equal(tsdb_exemplars_new(8, &st, err, sizeof(err)), 0);
	labels_sort(&e2.labels);
	assert_int_equal(tsdb_exemplars_add(st, &s2, &e1, 1, rc, err, sizeof(err)), 0);
	assert_int_equal(tsdb_exemplars_add(st, &s1, &e2, 1, rc, err, sizeof(err)), 0);
	assert_int_equal(tsdb_exemplars_add(st, &s3, &e3, 1, rc, err, sizeof(err)), 0);
	assert_int_equal(promql_parse_selector(a, "foo_total{job=~\"a|b\"}", &sel[0], &perr, err,
					       sizeof(err)), 0);
	assert_int_equal(promql_parse_selector(a, "bar", &sel[1], &perr, err, sizeof(err)), 0);
	assert_string_equal(written(st, sel, 2, 1700000000000, 1700000001000, &b),
		"[{\"seriesLabels\":{\"__name__\":\"bar\"},\"exemplars\":[{\"labels\":{},"
		"\"value\":\"1e-07\",\"timestamp\":1700000001}]},"
		"{\"seriesLabels\":{\"__name__\":\"foo_total\",\"job\":\"a\"},\"exemplars\":"
		"[{\"labels\":{\"span\":\"1\",\"trace_id\":\"d\\\"e\"},\"value\":\"0.25\","
		"\"timestamp\":1700000000.500}]},"
		"{\"seriesLabels\":{\"__name__\":\"foo_total\",\"job\":\"b\"},\"exemplars\":"
		"[{\"labels\":{\"trace_id\":\"abc\"},\"value\":\"1\",\"timestamp\":1700000000}]}]");
	/* Out of range, and without a store: an empty list. */
	assert_string_equal(written(st, sel, 1, 0, 1000, &b), "[]");
	assert_string_equal(written(NULL, sel, 1, 0, 1000, &b), "[]");
	buf_free(&b);
	tsdb_exemplars_free(st);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_store_exemplars),
	};
	return cmocka_run_group_tests_name("promapi", tests, NULL, NULL);
}
