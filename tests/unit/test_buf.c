/* buf: appends, printf, NUL termination, steal, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf/buf.h"

static void test_append_and_printf(void **state)
{
	struct buf b = { 0 };

	buf_puts(&b, "abc");
	buf_putc(&b, '-');
	buf_printf(&b, "%d/%s", 12, "x");
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "abc-12/x");
	for (int i = 0; i < 10000; i++)
		buf_append(&b, "0123456789", 10);
	assert_int_equal(b.len, 8 + 100000);
	assert_int_equal(b.data[b.len], '\0');
	assert_false(b.oom);
	buf_free(&b);
	assert_null(b.data);
}

static void test_steal_and_reset(void **state)
{
	struct buf b = { 0 };
	size_t len;
	char *p;

	buf_puts(&b, "hello");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_puts(&b, "world");
	p = buf_steal(&b, &len);
	assert_int_equal(len, 5);
	assert_string_equal(p, "world");
	assert_null(b.data);
	free(p);
}

static void test_overflow_sets_oom(void **state)
{
	struct buf b = { 0 };

	buf_puts(&b, "x");
	assert_int_equal(buf_reserve(&b, SIZE_MAX - 1), -1);
	assert_true(b.oom);
	buf_puts(&b, "ignored");
	assert_int_equal(b.len, 1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_printf),
		cmocka_unit_test(test_steal_and_reset),
		cmocka_unit_test(test_overflow_sets_oom),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
