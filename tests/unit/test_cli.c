/* cli: flag forms, aliases, booleans, typed values and every error path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"

struct opts {
	const char *config;
	const char *data;
	bool check;
	int64_t n;
	int64_t dur;
	uint64_t bytes;
};

static int parse(struct opts *o, char *err, int argc, char **argv)
{
	struct cli_flag flags[] = {
		{ "config.file", CLI_STRING, &o->config, "config", NULL, false },
		{ "storage.tsdb.path|storage.path", CLI_STRING, &o->data, "data", NULL, false },
		{ "check-config", CLI_BOOL, &o->check, "check", NULL, false },
		{ "n", CLI_INT, &o->n, "n", NULL, false },
		{ "retention", CLI_DURATION, &o->dur, "d", NULL, false },
		{ "size", CLI_BYTES, &o->bytes, "b", NULL, false },
		{ NULL },
	};
	return cli_parse(flags, argc, argv, err, 256);
}

#define ARGV(...) ((char *[]){ "prog", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "prog", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...) parse(o, err, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void test_forms(void **state)
{
	struct opts o = { 0 };
	char err[256];

	assert_int_equal(PARSE(&o, err, "--config.file=a.yml", "-storage.path", "/d", "--check-config",
			       "--n", "7", "-retention=1h30m", "--size=512MiB"), CLI_OK);
	assert_string_equal(o.config, "a.yml");
	assert_string_equal(o.data, "/d");
	assert_true(o.check);
	assert_int_equal(o.n, 7);
	assert_int_equal(o.dur, 5400000);
	assert_int_equal(o.bytes, 512ull << 20);
	assert_int_equal(PARSE(&o, err, "--no-check-config", "--storage.tsdb.path", "/x"), CLI_OK);
	assert_false(o.check);
	assert_string_equal(o.data, "/x");
	assert_int_equal(PARSE(&o, err, "--check-config=true"), CLI_OK);
	assert_true(o.check);
}

static void test_help_version(void **state)
{
	struct opts o = { 0 };
	char err[256];

	assert_int_equal(PARSE(&o, err, "--help"), CLI_HELP);
	assert_int_equal(PARSE(&o, err, "-h"), CLI_HELP);
	assert_int_equal(PARSE(&o, err, "--version"), CLI_VERSION);
}

static void expect_error(int rc, const char *err, const char *want)
{
	assert_int_equal(rc, CLI_ERROR);
	assert_non_null(strstr(err, want));
}

static void test_errors(void **state)
{
	struct opts o = { 0 };
	char err[256];

	expect_error(PARSE(&o, err, "--nope"), err, "unknown flag --nope");
	expect_error(PARSE(&o, err, "--config.file"), err, "needs a value");
	expect_error(PARSE(&o, err, "--n=abc"), err, "invalid value \"abc\" for flag --n");
	expect_error(PARSE(&o, err, "--retention=1.5h"), err, "--retention");
	expect_error(PARSE(&o, err, "--size=-1"), err, "--size");
	expect_error(PARSE(&o, err, "positional"), err, "unexpected argument");
	expect_error(PARSE(&o, err, "--check-config=maybe"), err, "--check-config");
	expect_error(PARSE(&o, err, "--no-n"), err, "unknown flag");
}

static void test_usage(void **state)
{
	struct opts o = { .config = "/etc/x.yml" };
	struct cli_flag flags[] = {
		{ "config.file", CLI_STRING, &o.config, "Configuration file path.", NULL, false },
		{ NULL },
	};
	char text[2048] = { 0 };
	FILE *f = fmemopen(text, sizeof(text) - 1, "w");

	cli_usage(f, "lgtm-x", "Summary.", flags);
	fclose(f);
	assert_non_null(strstr(text, "usage: lgtm-x [<flags>]"));
	assert_non_null(strstr(text, "--config.file=<string>"));
	assert_non_null(strstr(text, "(default: /etc/x.yml)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_usage),
	};
	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
