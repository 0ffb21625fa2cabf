/* buf: appends, printf, NUL termination, steal, reset, shared pools. */
#include <pthread.h>
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

static struct buf_pool pool = BUF_POOL_INIT(2, 64 * 1024);

static void *pool_thread(void *arg)
{
	struct buf b = buf_pool_take(&pool);

	/* The pool is shared: what the main thread gave is here. */
	*(size_t *)arg = b.cap;
	buf_pool_give(&pool, &b);
	return NULL;
}

/* A pool hands memory back emptied, keeps up to its count (the larger buffers when
 * full), refuses buffers over its limit or out of memory, and is shared by threads. */
static void test_pool(void **state)
{
	struct buf a = buf_pool_take(&pool), b, c;
	char *big;
	pthread_t t;
	size_t cap = 0;

	assert_null(a.data);
	buf_reserve(&a, 1000);
	buf_puts(&a, "abc");
	b = buf_pool_take(&pool);
	buf_reserve(&b, 40000);
	big = b.data;
	c = buf_pool_take(&pool);
	buf_reserve(&c, 4000);
	buf_pool_give(&pool, &a);
	buf_pool_give(&pool, &b);
	assert_null(a.data);
	buf_pool_give(&pool, &c); /* full: replaces the smallest (a's) */
	a = buf_pool_take(&pool);
	b = buf_pool_take(&pool);
	c = buf_pool_take(&pool);
	assert_null(c.data); /* two kept */
	assert_true(a.data == big || b.data == big);
	assert_true(a.cap >= 4000 && b.cap >= 4000);
	assert_int_equal(a.len, 0);
	buf_reserve(&c, 100000); /* over the limit: freed */
	buf_pool_give(&pool, &c);
	c = buf_pool_take(&pool);
	assert_null(c.data);
	buf_pool_give(&pool, &b);
	a.oom = true;
	buf_pool_give(&pool, &a); /* a failed buffer is not kept */
	assert_int_equal(pthread_create(&t, NULL, pool_thread, &cap), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(cap >= 4000);
	b = buf_pool_take(&pool);
	assert_true(b.cap >= 4000);
	c = buf_pool_take(&pool);
	assert_null(c.data);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_printf),
		cmocka_unit_test(test_steal_and_reset),
		cmocka_unit_test(test_overflow_sets_oom),
		cmocka_unit_test(test_pool),
	};
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
