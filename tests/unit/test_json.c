/* json: writer structure and commas, escaping, invalid UTF-8, Prometheus float format. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "json/json.h"

static void test_structure(void **state)
{
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "status", "success");
	jw_key(&w, "data");
	jw_arr_begin(&w);
	jw_int(&w, -3);
	jw_uint(&w, 18446744073709551615ull);
	jw_bool(&w, true);
	jw_null(&w);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_double(&w, 1.5);
	jw_double(&w, NAN);
	jw_raw(&w, "{\"a\":1}", 7);
	jw_arr_end(&w);
	jw_obj_end(&w);
	assert_false(jw_failed(&w));
	assert_string_equal(b.data, "{\"status\":\"success\",\"data\":[-3,18446744073709551615,true,null,{},[],1.5,null,{\"a\":1}]}");
	buf_free(&b);
}

static void test_escaping(void **state)
{
	struct buf b = { 0 };

	json_escape_into(&b, "a\"b\\c\n\t\x01\xc3\xa9\xff\xe2\x82", 13);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	buf_free(&b);
}

static void test_depth_limit(void **state)
{
	struct buf b = { 0 };
	struct jw w;

	jw_init(&w, &b);
	for (int i = 0; i < JW_MAX_DEPTH + 5; i++)
		jw_arr_begin(&w);
	assert_true(jw_failed(&w));
	buf_free(&b);
}

static void check_float(double v, const char *want)
{
	char out[400];

	json_format_prom_float(out, sizeof(out), v);
	assert_string_equal(out, want);
}

/* Expected strings are what Go's strconv.FormatFloat(v, 'f', -1, 64) prints. */
static void test_prom_float(void **state)
{
	check_float(0, "0");
	check_float(1, "1");
	check_float(-2.5, "-2.5");
	check_float(0.1, "0.1");
	check_float(1e-7, "0.0000001");
	check_float(123456789.125, "123456789.125");
	check_float(1e21, "1000000000000000000000");
	check_float(1.2345678901234567e30, "1234567890123456700000000000000");
	check_float(0.30000000000000004, "0.30000000000000004");
	check_float(NAN, "NaN");
	check_float(INFINITY, "+Inf");
	check_float(-INFINITY, "-Inf");
	check_float(1700000000.123, "1700000000.123");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_prom_float),
	};
	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
