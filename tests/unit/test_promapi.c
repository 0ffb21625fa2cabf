/* promapi: Prometheus' time and duration parameter rules and error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "promapi/promapi.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_durations),
	};
	return cmocka_run_group_tests_name("promapi", tests, NULL, NULL);
}
