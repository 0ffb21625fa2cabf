/* labels: validation, sort/compare/hash/format, checks, and regex semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "labels/labels.h"

#define LS(...) ((struct labels){ (struct label[]){ __VA_ARGS__ }, \
	sizeof((struct label[]){ __VA_ARGS__ }) / sizeof(struct label) })

static void test_names(void **state)
{
	assert_true(labels_valid_name("job", 3));
	assert_true(labels_valid_name("_a1", 3));
	assert_false(labels_valid_name("1a", 2));
	assert_false(labels_valid_name("a:b", 3));
	assert_false(labels_valid_name("", 0));
	assert_true(labels_valid_metric_name("node:cpu_seconds:rate5m", 23));
	assert_false(labels_valid_metric_name("a-b", 3));
	assert_true(labels_valid_utf8("h\xc3\xa9", 3));
	assert_false(labels_valid_utf8("\xc3", 1));
	assert_false(labels_valid_utf8("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(labels_valid_utf8("\xc0\x80", 2));     /* overlong */
}

static void test_sort_get_compare_hash(void **state)
{
	struct labels a = LS({ "job", "node" }, { "__name__", "up" }, { "instance", "h:1" });
	struct labels b = LS({ "__name__", "up" }, { "instance", "h:1" }, { "job", "node" });
	struct labels c = LS({ "__name__", "up" }, { "instance", "h:2" });

	labels_sort(&a);
	assert_string_equal(a.v[0].name, "__name__");
	assert_string_equal(a.v[2].name, "job");
	assert_true(labels_equal(&a, &b));
	assert_int_equal(labels_hash(&a), labels_hash(&b));
	assert_true(labels_hash(&a) != labels_hash(&c));
	assert_true(labels_compare(&a, &c) < 0);
	assert_true(labels_compare(&c, &a) > 0);
	assert_string_equal(labels_get(&a, "instance"), "h:1");
	assert_null(labels_get(&a, "zone"));
	/* A prefix set sorts first. */
	struct labels p = LS({ "__name__", "up" });
	assert_true(labels_compare(&p, &a) < 0);
	/* Hashing must not confuse a=bc with ab=c. */
	struct labels h1 = LS({ "a", "bc" }), h2 = LS({ "ab", "c" });
	assert_true(labels_hash(&h1) != labels_hash(&h2));
}

static void check_case(struct labels ls, const char *want)
{
	char err[256] = "";

	labels_sort(&ls);
	if (!want) {
		assert_int_equal(labels_check(&ls, err, sizeof(err)), 0);
		return;
	}
	assert_int_equal(labels_check(&ls, err, sizeof(err)), -1);
	assert_non_null(strstr(err, want));
}

static void test_check(void **state)
{
	check_case(LS({ "__name__", "up" }, { "job", "x" }), NULL);
	check_case(LS({ "__name__", "up" }, { "job", "x" }, { "job", "y" }), "duplicate label name: job");
	check_case(LS({ "__name__", "up" }, { "bad-name", "x" }), "invalid label name: bad-name");
	check_case(LS({ "__name__", "1up" }), "invalid metric name: 1up");
	check_case(LS({ "job", "" }), "empty value for label job");
	check_case(LS({ "job", "\xff" }), "invalid UTF-8");
}

static void test_format(void **state)
{
	struct labels a = LS({ "__name__", "up" }, { "path", "a\"b\\c\nd" });
	struct buf b = { 0 };

	labels_format(&a, &b);
	assert_string_equal(b.data, "{__name__=\"up\", path=\"a\\\"b\\\\c\\nd\"}");
	buf_free(&b);
}

static void test_copy(void **state)
{
	struct labels a = LS({ "a", "1" }, { "b", "2" }), c;
	struct arena *ar = arena_new(0);

	assert_int_equal(labels_copy(ar, &a, &c), 0);
	assert_true(labels_equal(&a, &c));
	assert_ptr_not_equal(a.v[0].name, c.v[0].name);
	arena_free(ar);
}

static struct labels_regex *compile(const char *p)
{
	struct labels_regex *re = NULL;
	char err[256];

	assert_int_equal(labels_regex_compile(p, &re, err, sizeof(err)), 0);
	return re;
}

static void test_regex_anchoring_and_dotall(void **state)
{
	struct labels_regex *re = compile("foo|bar");

	assert_true(labels_regex_match(re, "foo", 3));
	assert_true(labels_regex_match(re, "bar", 3));
	assert_false(labels_regex_match(re, "foobar", 6)); /* anchored around the alternation */
	assert_false(labels_regex_match(re, "xfoo", 4));
	assert_false(labels_regex_match(re, "foo\n", 4));  /* $ does not match before \n */
	labels_regex_free(re);

	re = compile("a.c");
	assert_true(labels_regex_match(re, "a\nc", 3));    /* Prometheus 3: . matches newline */
	assert_true(labels_regex_match(re, "a\xc3\xa9" "c", 4)); /* one UTF-8 character */
	labels_regex_free(re);

	re = compile(".*");
	assert_true(labels_regex_match(re, "", 0));
	labels_regex_free(re);
}

static void test_regex_errors(void **state)
{
	struct labels_regex *re = NULL;
	char err[256];

	assert_int_equal(labels_regex_compile("a(b", &re, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "error parsing regexp"));
	assert_non_null(strstr(err, "\"a(b\""));
	assert_null(re);
	/* A pattern that closes the wrapper group early must not escape the anchors. */
	assert_int_equal(labels_regex_compile("a)|(b", &re, err, sizeof(err)), -1);
}

static void test_regex_captures_and_expand(void **state)
{
	struct labels_regex *re = compile("(?P<host>[^:]+):(\\d+)");
	long ov[20];
	struct buf b = { 0 };
	const char *s = "node1:9100";
	int n = labels_regex_captures(re, s, strlen(s), ov, 10);

	assert_int_equal(n, 3);
	labels_regex_expand(re, "${host}-$2-$1x-$$-${9}-$", s, ov, n, &b);
	/* $1x names no group (Go reads the longest word), ${9} is unset: both empty;
	 * a lone trailing $ is kept. */
	assert_string_equal(b.data, "node1-9100--$--$");
	buf_reset(&b);
	labels_regex_expand(re, "$1", s, ov, n, &b);
	assert_string_equal(b.data, "node1");
	assert_int_equal(labels_regex_captures(re, "nope", 4, ov, 10), -1);
	buf_free(&b);
	labels_regex_free(re);
	labels_regex_thread_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_sort_get_compare_hash),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_regex_anchoring_and_dotall),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_regex_captures_and_expand),
	};
	int rc = cmocka_run_group_tests_name("labels", tests, NULL, NULL);
	labels_regex_thread_cleanup();
	return rc;
}
