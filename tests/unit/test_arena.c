/* arena: alignment, growth across blocks, big allocations, reset reuse, strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "arena/arena.h"

static void test_alignment_and_growth(void **state)
{
	struct arena *a = arena_new(256);
	char *prev = NULL;

	assert_non_null(a);
	for (int i = 1; i < 500; i++) {
		char *p = arena_alloc(a, (size_t)(i % 37) + 1);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		memset(p, 0xab, (size_t)(i % 37) + 1); /* ASan catches overlap/overflow */
		assert_ptr_not_equal(p, prev);
		prev = p;
	}
	arena_free(a);
}

static void test_big_allocation(void **state)
{
	struct arena *a = arena_new(1024);
	char *small1 = arena_alloc(a, 16);
	char *big = arena_alloc(a, 1 << 20);
	char *small2 = arena_alloc(a, 16);

	assert_non_null(big);
	memset(big, 1, 1 << 20);
	/* The big block does not displace the current one. */
	assert_true(small2 == small1 + 16);
	assert_true(arena_used(a) >= (1u << 20) + 32);
	arena_free(a);
}

static void test_reset_reuses(void **state)
{
	struct arena *a = arena_new(512);
	char *first = arena_alloc(a, 8);

	for (int i = 0; i < 100; i++)
		assert_non_null(arena_alloc(a, 100));
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	assert_ptr_equal(arena_alloc(a, 8), first);
	arena_free(a);
}

static void test_strings(void **state)
{
	struct arena *a = arena_new(0);

	assert_string_equal(arena_strdup(a, "hello"), "hello");
	assert_string_equal(arena_strndup(a, "hello", 3), "hel");
	assert_string_equal(arena_sprintf(a, "%s-%d", "x", 42), "x-42");
	char *z = arena_calloc(a, 10, 10);
	for (int i = 0; i < 100; i++)
		assert_int_equal(z[i], 0);
	assert_null(arena_calloc(a, SIZE_MAX / 2, 4));
	assert_null(arena_alloc(a, SIZE_MAX - 4));
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment_and_growth),
		cmocka_unit_test(test_big_allocation),
		cmocka_unit_test(test_reset_reuses),
		cmocka_unit_test(test_strings),
	};
	return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
