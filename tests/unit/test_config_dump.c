/* cfg_dump_yaml: what it writes loads back to the same values; secrets are masked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "config/config.h"

struct item {
	char *name;
	char *password;
	int64_t every_ms;
};

struct top {
	char *title;
	bool on;
	int64_t n;
	uint64_t size;
	struct cfg_strlist tags;
	struct cfg_strmap labels;
	struct cfg_list items;
	struct cfg_objmap named;
};

static const struct cfg_field item_fields[] = {
	{ "name", CFG_STRING, offsetof(struct item, name), NULL, 0, 0, NULL },
	{ "password", CFG_STRING, offsetof(struct item, password), NULL, 0, CFG_SECRET, NULL },
	{ "every", CFG_DURATION, offsetof(struct item, every_ms), NULL, 0, 0, NULL },
	{ 0 },
};
static const struct cfg_schema item_schema = { "item", item_fields, NULL };

static const struct cfg_field top_fields[] = {
	{ "title", CFG_STRING, offsetof(struct top, title), NULL, 0, 0, NULL },
	{ "on", CFG_BOOL, offsetof(struct top, on), NULL, 0, 0, NULL },
	{ "n", CFG_INT, offsetof(struct top, n), NULL, 0, 0, NULL },
	{ "size", CFG_BYTES, offsetof(struct top, size), NULL, 0, 0, NULL },
	{ "tags", CFG_STRING_LIST, offsetof(struct top, tags), NULL, 0, 0, NULL },
	{ "labels", CFG_STRING_MAP, offsetof(struct top, labels), NULL, 0, 0, NULL },
	{ "items", CFG_LIST, offsetof(struct top, items), &item_schema, sizeof(struct item), 0, NULL },
	{ "named", CFG_OBJECT_MAP, offsetof(struct top, named), &item_schema, sizeof(struct item), 0, NULL },
	{ 0 },
};
static const struct cfg_schema top_schema = { "top", top_fields, NULL };

static const char *const text =
	"title: \"a: tricky # string\"\n"
	"on: true\n"
	"n: -42\n"
	"size: 512MiB\n"
	"tags: [\"true\", \"123\", plain]\n"
	"labels: {env: prod, \"odd key\": \"with \\\"quotes\\\"\"}\n"
	"items:\n"
	"  - name: first\n"
	"    password: hunter2\n"
	"    every: 1h30m\n"
	"  - name: second\n"
	"named:\n"
	"  x/1:\n"
	"    every: 15s\n";

static void test_round_trip(void **state)
{
	struct arena *a = arena_new(0), *b = arena_new(0);
	struct top t1 = { 0 }, t2 = { 0 };
	struct buf out = { 0 };
	char err[256];

	assert_int_equal(cfg_load_buffer("t.yml", text, strlen(text), &top_schema, &t1, a, err, sizeof(err)), 0);
	cfg_dump_yaml(&top_schema, &t1, &out);
	assert_non_null(strstr(out.data, "password: <secret>"));
	assert_null(strstr(out.data, "hunter2"));
	assert_non_null(strstr(out.data, "every: 1h30m"));
	assert_int_equal(cfg_load_buffer("dump.yml", out.data, out.len, &top_schema, &t2, b, err, sizeof(err)), 0);
	assert_string_equal(t2.title, t1.title);
	assert_true(t2.on);
	assert_int_equal(t2.n, -42);
	assert_int_equal(t2.size, 512ull << 20);
	assert_int_equal(t2.tags.n, 3);
	assert_string_equal(t2.tags.v[0], "true");
	assert_string_equal(t2.tags.v[1], "123");
	assert_int_equal(t2.labels.n, 2);
	assert_string_equal(t2.labels.vals[1], "with \"quotes\"");
	assert_int_equal(t2.items.n, 2);
	assert_string_equal(((struct item *)t2.items.v)[1].name, "second");
	assert_int_equal(((struct item *)t2.items.v)[0].every_ms, 5400000);
	assert_int_equal(t2.named.n, 1);
	assert_string_equal(t2.named.keys[0], "x/1");
	assert_int_equal(((struct item *)t2.named.vals)[0].every_ms, 15000);
	buf_free(&out);
	arena_free(a);
	arena_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests_name("config_dump", tests, NULL, NULL);
}
