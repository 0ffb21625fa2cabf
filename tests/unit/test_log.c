/* log: logfmt and JSON line shape, quoting/escaping, level filtering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log/log.h"

static char *capture(char *out, size_t cap)
{
	int fds[2];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	log_set_fd(fds[1]);
	LOG_DEBUG("mod", "hidden at info");
	LOG_INFO("http", "listening", "addr", "127.0.0.1:9090", "note", "two words", "q", "a\"b\nc", "empty", "");
	LOG_ERROR("x", "boom");
	close(fds[1]);
	n = read(fds[0], out, cap - 1);
	close(fds[0]);
	log_set_fd(2);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void test_logfmt(void **state)
{
	char out[4096];

	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
	capture(out, sizeof(out));
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, " level=info module=http msg=listening addr=127.0.0.1:9090 note=\"two words\" q=\"a\\\"b\\nc\" empty=\"\"\n"));
	assert_non_null(strstr(out, "level=error module=x msg=boom\n"));
	assert_memory_equal(out, "ts=", 3);
}

static void test_json(void **state)
{
	char out[4096];

	log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
	capture(out, sizeof(out));
	assert_non_null(strstr(out, "\"level\":\"debug\",\"module\":\"mod\",\"msg\":\"hidden at info\"}\n"));
	assert_non_null(strstr(out, "\"q\":\"a\\\"b\\nc\""));
	assert_memory_equal(out, "{\"ts\":\"", 7);
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
}

static void test_parse(void **state)
{
	enum log_level l;
	enum log_format f;

	assert_int_equal(log_parse_level("warn", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_parse_level("verbose", &l), -1);
	assert_int_equal(log_parse_format("json", &f), 0);
	assert_int_equal(log_parse_format("xml", &f), -1);
	log_setup(LOG_LEVEL_ERROR, LOG_FORMAT_LOGFMT);
	assert_false(log_enabled(LOG_LEVEL_WARN));
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	log_setup(LOG_LEVEL_INFO, LOG_FORMAT_LOGFMT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_logfmt),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
