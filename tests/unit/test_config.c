/*
 * config: YAML decoded by schema tables. A small nested schema stands in for a
 * daemon's config (object, list of objects, string list, string map, object map,
 * every scalar type, a required field, a field check); each error case asserts the
 * whole message, position and key path included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "arena/arena.h"
#include "config/config.h"

struct t_target {
	struct cfg_strlist targets;
	struct cfg_strmap labels;
};

struct t_job {
	char *job_name;
	int64_t interval;
	bool honor;
	int64_t limit;
	double ratio;
	uint64_t max_body;
	struct cfg_list static_configs;
};

struct t_tls {
	char *ca;
	bool insecure;
};

struct t_receiver {
	char *endpoint;
	struct t_tls tls;
};

struct t_global {
	int64_t scrape_interval;
	int64_t port;
	struct cfg_strmap external_labels;
};

struct t_root {
	struct t_global global;
	struct cfg_list scrape_configs;
	struct cfg_objmap receivers;
	struct cfg_strlist rule_files;
	char *name;
	char *template; /* CFG_VERBATIM */
};

static int check_port(const void *v, char *err, size_t errlen)
{
	int64_t p = *(const int64_t *)v;

	if (p >= 1 && p <= 65535)
		return 0;
	snprintf(err, errlen, "must be between 1 and 65535");
	return -1;
}

static void job_init(void *p)
{
	struct t_job *j = p;

	j->interval = 60000;
	j->honor = true;
	j->ratio = 0.5;
}

static void receiver_init(void *p)
{
	struct t_receiver *r = p;

	r->endpoint = "0.0.0.0:4317";
}

/* Designated initializers keep each row to what it sets; `{ 0 }` ends a table. */
#define FIELD(st, k, t, member, ...) \
	{ .key = (k), .type = (t), .offset = offsetof(struct st, member), __VA_ARGS__ }

static const struct cfg_field target_fields[] = {
	FIELD(t_target, "targets", CFG_STRING_LIST, targets),
	FIELD(t_target, "labels", CFG_STRING_MAP, labels),
	{ 0 },
};
static const struct cfg_schema target_schema = { "static_config", target_fields, NULL };

static const struct cfg_field job_fields[] = {
	FIELD(t_job, "job_name", CFG_STRING, job_name, .flags = CFG_REQUIRED),
	FIELD(t_job, "scrape_interval", CFG_DURATION, interval),
	FIELD(t_job, "honor_labels", CFG_BOOL, honor),
	FIELD(t_job, "sample_limit", CFG_INT, limit),
	FIELD(t_job, "ratio", CFG_DOUBLE, ratio),
	FIELD(t_job, "body_size_limit", CFG_BYTES, max_body),
	FIELD(t_job, "static_configs", CFG_LIST, static_configs, .sub = &target_schema,
	      .elem_size = sizeof(struct t_target)),
	{ 0 },
};
static const struct cfg_schema job_schema = { "scrape_config", job_fields, job_init };

static const struct cfg_field tls_fields[] = {
	FIELD(t_tls, "ca_file", CFG_STRING, ca),
	FIELD(t_tls, "insecure", CFG_BOOL, insecure),
	{ 0 },
};
static const struct cfg_schema tls_schema = { "tls", tls_fields, NULL };

static const struct cfg_field receiver_fields[] = {
	FIELD(t_receiver, "endpoint", CFG_STRING, endpoint),
	FIELD(t_receiver, "tls", CFG_OBJECT, tls, .sub = &tls_schema),
	{ 0 },
};
static const struct cfg_schema receiver_schema = { "receiver", receiver_fields, receiver_init };

static const struct cfg_field global_fields[] = {
	FIELD(t_global, "scrape_interval", CFG_DURATION, scrape_interval),
	FIELD(t_global, "port", CFG_INT, port, .check = check_port),
	FIELD(t_global, "external_labels", CFG_STRING_MAP, external_labels),
	{ 0 },
};
static const struct cfg_schema global_schema = { "global", global_fields, NULL };

static const struct cfg_field root_fields[] = {
	FIELD(t_root, "global", CFG_OBJECT, global, .sub = &global_schema),
	FIELD(t_root, "scrape_configs", CFG_LIST, scrape_configs, .sub = &job_schema,
	      .elem_size = sizeof(struct t_job)),
	FIELD(t_root, "receivers", CFG_OBJECT_MAP, receivers, .sub = &receiver_schema,
	      .elem_size = sizeof(struct t_receiver)),
	FIELD(t_root, "rule_files", CFG_STRING_LIST, rule_files),
	FIELD(t_root, "name", CFG_STRING, name),
	FIELD(t_root, "template", CFG_STRING, template, .flags = CFG_VERBATIM),
	{ 0 },
};
static const struct cfg_schema root_schema = { "test", root_fields, NULL };

struct fixture {
	struct arena *a;
	struct t_root cfg;
	char err[512];
};

static void defaults(struct t_root *c)
{
	memset(c, 0, sizeof(*c));
	c->global.scrape_interval = 60000;
	c->global.port = 9090;
	c->name = "default";
}

static int load(struct fixture *fx, const char *yaml)
{
	if (!fx->a)
		fx->a = arena_new(0);
	assert_non_null(fx->a);
	defaults(&fx->cfg);
	fx->err[0] = '\0';
	return cfg_load_buffer("t.yml", yaml, strlen(yaml), &root_schema, &fx->cfg, fx->a,
			       fx->err, sizeof(fx->err));
}

static void expect_ok(struct fixture *fx, const char *yaml)
{
	int rc = load(fx, yaml);

	if (rc)
		print_error("unexpected error: %s\n", fx->err);
	assert_int_equal(rc, 0);
}

static void expect_err(const char *yaml, const char *msg)
{
	struct fixture fx = { 0 };

	assert_int_equal(load(&fx, yaml), -1);
	assert_string_equal(fx.err, msg);
	arena_free(fx.a);
}

static const struct t_job *job(const struct t_root *c, size_t i)
{
	assert_true(i < c->scrape_configs.n);
	return (const struct t_job *)c->scrape_configs.v + i;
}

static void test_full_decode(void **state)
{
	struct fixture fx = { 0 };
	const struct t_job *j;
	const struct t_target *t;
	const struct t_receiver *r;

	expect_ok(&fx,
		  "global:\n"
		  "  scrape_interval: 15s\n"
		  "  port: 8080\n"
		  "  external_labels:\n"
		  "    region: eu\n"
		  "    env: prod\n"
		  "scrape_configs:\n"
		  "  - job_name: node\n"
		  "    scrape_interval: 1m30s\n"
		  "    honor_labels: False\n"
		  "    sample_limit: -42\n"
		  "    ratio: 2.5e-1\n"
		  "    body_size_limit: 10MiB\n"
		  "    static_configs:\n"
		  "      - targets: [\"a:9100\", 'b:9100']\n"
		  "        labels: {dc: one}\n"
		  "      - targets: []\n"
		  "  - job_name: \"prom\"\n"
		  "receivers:\n"
		  "  otlp:\n"
		  "    endpoint: 127.0.0.1:4317\n"
		  "    tls:\n"
		  "      insecure: TRUE\n"
		  "  otlp/2:\n"
		  "rule_files: [a.yml, b.yml]\n"
		  "name: x\n");
	assert_int_equal(fx.cfg.global.scrape_interval, 15000);
	assert_int_equal(fx.cfg.global.port, 8080);
	assert_int_equal(fx.cfg.global.external_labels.n, 2);
	assert_string_equal(fx.cfg.global.external_labels.keys[0], "region");
	assert_string_equal(fx.cfg.global.external_labels.vals[0], "eu");
	assert_string_equal(fx.cfg.global.external_labels.keys[1], "env");
	assert_string_equal(fx.cfg.global.external_labels.vals[1], "prod");

	assert_int_equal(fx.cfg.scrape_configs.n, 2);
	j = job(&fx.cfg, 0);
	assert_string_equal(j->job_name, "node");
	assert_int_equal(j->interval, 90000);
	assert_false(j->honor);
	assert_int_equal(j->limit, -42);
	assert_true(j->ratio == 0.25);
	assert_int_equal(j->max_body, 10u << 20);
	assert_int_equal(j->static_configs.n, 2);
	t = j->static_configs.v;
	assert_int_equal(t[0].targets.n, 2);
	assert_string_equal(t[0].targets.v[0], "a:9100");
	assert_string_equal(t[0].targets.v[1], "b:9100");
	assert_int_equal(t[0].labels.n, 1);
	assert_string_equal(t[0].labels.keys[0], "dc");
	assert_string_equal(t[0].labels.vals[0], "one");
	assert_int_equal(t[1].targets.n, 0);

	/* The second job got the element defaults from schema->init. */
	j = job(&fx.cfg, 1);
	assert_string_equal(j->job_name, "prom");
	assert_int_equal(j->interval, 60000);
	assert_true(j->honor);
	assert_true(j->ratio == 0.5);
	assert_int_equal(j->static_configs.n, 0);

	assert_int_equal(fx.cfg.receivers.n, 2);
	assert_string_equal(fx.cfg.receivers.keys[0], "otlp");
	assert_string_equal(fx.cfg.receivers.keys[1], "otlp/2");
	r = fx.cfg.receivers.vals;
	assert_string_equal(r[0].endpoint, "127.0.0.1:4317");
	assert_true(r[0].tls.insecure);
	assert_null(r[0].tls.ca);
	/* `otlp/2:` with no body is the component with its defaults. */
	assert_string_equal(r[1].endpoint, "0.0.0.0:4317");

	assert_int_equal(fx.cfg.rule_files.n, 2);
	assert_string_equal(fx.cfg.rule_files.v[1], "b.yml");
	assert_string_equal(fx.cfg.name, "x");
	arena_free(fx.a);
}

static void test_defaults_kept(void **state)
{
	struct fixture fx = { 0 };

	expect_ok(&fx, "global:\n  port: 1234\n");
	assert_int_equal(fx.cfg.global.scrape_interval, 60000);
	assert_int_equal(fx.cfg.global.port, 1234);
	assert_string_equal(fx.cfg.name, "default");
	assert_int_equal(fx.cfg.scrape_configs.n, 0);

	/* Null in every spelling leaves the default; a quoted "" is a value. */
	expect_ok(&fx, "global:\n  scrape_interval: ~\n  port: null\nname:\nrule_files: NULL\n");
	assert_int_equal(fx.cfg.global.scrape_interval, 60000);
	assert_int_equal(fx.cfg.global.port, 9090);
	assert_string_equal(fx.cfg.name, "default");
	expect_ok(&fx, "name: \"\"\n");
	assert_string_equal(fx.cfg.name, "");
	expect_ok(&fx, "name: 'null'\n");
	assert_string_equal(fx.cfg.name, "null");

	/* Empty documents keep everything. */
	expect_ok(&fx, "");
	assert_string_equal(fx.cfg.name, "default");
	expect_ok(&fx, "# only a comment\n");
	expect_ok(&fx, "---\n...\n");
	assert_int_equal(fx.cfg.global.port, 9090);
	arena_free(fx.a);
}

static void test_scalars(void **state)
{
	struct fixture fx = { 0 };
	const struct t_job *j;

	expect_ok(&fx, "global: {port: 0x1F90}\n");
	assert_int_equal(fx.cfg.global.port, 8080);
	expect_ok(&fx, "global: {port: +0o17}\n");
	assert_int_equal(fx.cfg.global.port, 15);
	expect_ok(&fx, "scrape_configs:\n"
		       "- {job_name: a, sample_limit: -9223372036854775808, ratio: -.inf}\n"
		       "- {job_name: b, sample_limit: 9223372036854775807, ratio: 1e3,"
		       "   honor_labels: true, body_size_limit: 0}\n");
	j = job(&fx.cfg, 0);
	assert_true(j->limit == INT64_MIN);
	assert_true(j->ratio < -1e308);
	j = job(&fx.cfg, 1);
	assert_true(j->limit == INT64_MAX);
	assert_true(j->ratio == 1000.0);
	assert_int_equal(j->max_body, 0);
	/* A number-looking value is still a string where a string belongs. */
	expect_ok(&fx, "name: 123\n");
	assert_string_equal(fx.cfg.name, "123");
	arena_free(fx.a);
}

static void test_anchors_and_merge(void **state)
{
	struct fixture fx = { 0 };
	const struct t_job *j;
	const struct t_target *t;

	expect_ok(&fx,
		  "global:\n"
		  "  external_labels: &lbl {team: a}\n"
		  "scrape_configs:\n"
		  "  - &base\n"
		  "    job_name: one\n"
		  "    scrape_interval: 5s\n"
		  "    static_configs:\n"
		  "      - &common\n"
		  "        targets: [x:1]\n"
		  "        labels: *lbl\n"
		  "  - <<: *base\n"
		  "    job_name: two\n"
		  "  - <<: [{job_name: three, sample_limit: 7}, *base]\n"
		  "    static_configs: [*common, *common]\n");
	assert_int_equal(fx.cfg.scrape_configs.n, 3);
	j = job(&fx.cfg, 1);
	assert_string_equal(j->job_name, "two");
	assert_int_equal(j->interval, 5000);
	assert_int_equal(j->static_configs.n, 1);
	t = j->static_configs.v;
	assert_string_equal(t->targets.v[0], "x:1");
	assert_string_equal(t->labels.vals[0], "a");
	j = job(&fx.cfg, 2);
	assert_string_equal(j->job_name, "three");
	assert_int_equal(j->limit, 7);
	assert_int_equal(j->interval, 5000);
	assert_int_equal(j->static_configs.n, 2);
	assert_string_equal(fx.cfg.global.external_labels.keys[0], "team");
	arena_free(fx.a);
}

static void test_errors(void **state)
{
	/* Unknown keys: reported at the key, with the full path. */
	expect_err("global:\n  scrape_intervall: 15s\n",
		   "t.yml:2:3: global.scrape_intervall: unknown key");
	expect_err("scrape_configs:\n"
		   "  - job_name: a\n"
		   "  - job_name: b\n"
		   "  - job_name: c\n"
		   "    static_configs:\n"
		   "      - targetz: [x]\n",
		   "t.yml:6:9: scrape_configs[2].static_configs[0].targetz: unknown key");
	expect_err("nmae: x\n", "t.yml:1:1: nmae: unknown key");
	expect_err("receivers:\n  otlp:\n    tls: {insecure: true, cafile: x}\n",
		   "t.yml:3:27: receivers.otlp.tls.cafile: unknown key");

	/* Bad values: reported at the value. */
	expect_err("global:\n  port: 12x\n", "t.yml:2:9: global.port: invalid integer \"12x\"");
	expect_err("global:\n  port: \" 12\"\n",
		   "t.yml:2:9: global.port: invalid integer \" 12\"");
	expect_err("global:\n  port: 9223372036854775808\n",
		   "t.yml:2:9: global.port: integer \"9223372036854775808\" out of range");
	expect_err("global:\n  port: 1.5\n", "t.yml:2:9: global.port: invalid integer \"1.5\"");
	expect_err("global:\n  port: 010x\n",
		   "t.yml:2:9: global.port: invalid integer \"010x\"");
	expect_err("global: {scrape_interval: 1.5h}\n",
		   "t.yml:1:27: global.scrape_interval: invalid duration \"1.5h\"");
	expect_err("scrape_configs:\n- job_name: a\n  honor_labels: yes\n",
		   "t.yml:3:17: scrape_configs[0].honor_labels: "
		   "invalid boolean (want true or false) \"yes\"");
	expect_err("scrape_configs:\n- job_name: a\n  ratio: 1e999\n",
		   "t.yml:3:10: scrape_configs[0].ratio: number \"1e999\" out of range");
	expect_err("scrape_configs:\n- job_name: a\n  ratio: infinity\n",
		   "t.yml:3:10: scrape_configs[0].ratio: invalid number \"infinity\"");
	expect_err("scrape_configs:\n- job_name: a\n  body_size_limit: 1.5GB\n",
		   "t.yml:3:20: scrape_configs[0].body_size_limit: invalid byte size \"1.5GB\"");

	/* A field check reports at the value, in the check's words. */
	expect_err("global:\n  port: 70000\n",
		   "t.yml:2:9: global.port: must be between 1 and 65535");

	/* Wrong kind of node. */
	expect_err("rule_files:\n  a: b\n",
		   "t.yml:2:3: rule_files: expected a sequence, got a mapping");
	expect_err("scrape_configs:\n  job_name: a\n",
		   "t.yml:2:3: scrape_configs: expected a sequence, got a mapping");
	expect_err("global: 5\n", "t.yml:1:9: global: expected a mapping, got a scalar");
	expect_err("global:\n  port: [1]\n",
		   "t.yml:2:9: global.port: expected a scalar, got a sequence");
	expect_err("rule_files: [a, {b: c}]\n",
		   "t.yml:1:17: rule_files[1]: expected a scalar, got a mapping");
	expect_err("global:\n  external_labels: {a: [b]}\n",
		   "t.yml:2:24: global.external_labels.a: expected a scalar, got a sequence");
	expect_err("- a\n", "t.yml:1:1: expected a mapping, got a sequence");
	expect_err("? [a]\n: b\n", "t.yml:1:3: mapping key must be a scalar");

	/* Duplicate keys, at the second one. */
	expect_err("global:\n  port: 1\n  scrape_interval: 1s\n  port: 2\n",
		   "t.yml:4:3: global.port: duplicate key (first at line 2, column 3)");
	expect_err("global:\n  external_labels: {a: x, b: y, a: z}\n",
		   "t.yml:2:33: global.external_labels.a: duplicate key "
		   "(first at line 2, column 21)");

	/* Required fields, reported at the mapping that lacks them. */
	expect_err("scrape_configs:\n  - scrape_interval: 5s\n",
		   "t.yml:2:5: scrape_configs[0].job_name: missing required key");
	expect_err("scrape_configs:\n  - job_name: a\n  - job_name: ~\n",
		   "t.yml:3:5: scrape_configs[1].job_name: missing required key");
	expect_err("scrape_configs:\n  - job_name: a\n  -\n",
		   "t.yml:3:4: scrape_configs[1].job_name: missing required key");
}

/* A required field at the top: an empty file lacks it too. */
static void test_required_top(void **state)
{
	struct arena *a = arena_new(0);
	struct t_job j;
	char err[256];

	assert_non_null(a);
	memset(&j, 0, sizeof(j));
	assert_int_equal(cfg_load_buffer("j.yml", "", 0, &job_schema, &j, a, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "j.yml:1:1: job_name: missing required key");
	assert_int_equal(cfg_load_buffer("j.yml", "~\n", 2, &job_schema, &j, a, err,
					 sizeof(err)), -1);
	assert_string_equal(err, "j.yml:1:1: job_name: missing required key");
	assert_int_equal(cfg_load_buffer("j.yml", "job_name: x\n", 12, &job_schema, &j, a, err,
					 sizeof(err)), 0);
	assert_string_equal(j.job_name, "x");
	arena_free(a);
}

static void test_yaml_errors(void **state)
{
	expect_err("global:\n  port: 1\n bad: 2\n",
		   "t.yml:3:2: yaml: did not find expected key "
		   "(while parsing a block mapping at 1:1)");
	expect_err("name: [a, b\n",
		   "t.yml:2:1: yaml: did not find expected ',' or ']' "
		   "(while parsing a flow sequence at 1:7)");
	expect_err("name: \"x\ty\\q\"\n",
		   "t.yml:1:11: yaml: found unknown escape character "
		   "(while parsing a quoted scalar at 1:7)");
	expect_err("name: a\n---\nname: b\n",
		   "t.yml:2:1: more than one YAML document in the file");
	expect_err("name: *nope\n", "t.yml:1:7: name: unknown anchor \"nope\"");
	expect_err("rule_files: &a [x, *a]\n",
		   "t.yml:1:20: rule_files[1]: alias \"a\" refers to a node that contains it");
	expect_err("name: \"a\\0b\"\n", "t.yml:1:7: name: NUL character in a scalar");
	/* Encoding errors are placed by their byte offset, counted in characters. */
	expect_err("name: a\nglobal: {port: \xc3\xa9\xff}\n",
		   "t.yml:2:17: yaml: invalid leading UTF-8 octet");
	expect_err("global:\n  <<: 5\n",
		   "t.yml:2:7: global.<<: merge value must be a mapping or a list of mappings");
	expect_err("global:\n  <<: [{port: 1}, [2]]\n",
		   "t.yml:2:7: global.<<: merge value must be a mapping or a list of mappings");
}

/* Each level holds ten aliases of the one before: 10^k nodes at level k. */
static void test_alias_bomb(void **state)
{
	static const char bomb[] =
		"rule_files: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"scrape_configs:\n"
		"  - job_name: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"  - job_name: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"  - job_name: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"  - job_name: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"  - job_name: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"  - job_name: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"  - job_name: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"  - job_name: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

	expect_err(bomb, "t.yml:7:47: scrape_configs[4].job_name[7]: "
			 "document expands to more than 1000000 nodes (alias bomb?)");
}

static void test_limits(void **state)
{
	struct fixture fx = { 0 };
	char *deep, *big;
	size_t i, n = CFG_MAX_DEPTH + 1;

	/* The top-level mapping is the first level: "name: " + 63 brackets is the
	 * limit, the 64th bracket one too many. */
	deep = calloc(1, 2 * n + 64);
	assert_non_null(deep);
	strcpy(deep, "name: ");
	for (i = 0; i < CFG_MAX_DEPTH; i++)
		strcat(deep, "[");
	for (i = 0; i < CFG_MAX_DEPTH; i++)
		strcat(deep, "]");
	expect_err(deep, "t.yml:1:70: name[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
			 "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
			 "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
			 "[0][0][0][0][0][0]: nesting deeper than 64 levels");
	strcpy(deep, "rule_files: ");
	for (i = 0; i < CFG_MAX_DEPTH - 1; i++)
		strcat(deep, "[");
	for (i = 0; i < CFG_MAX_DEPTH - 1; i++)
		strcat(deep, "]");
	assert_int_equal(load(&fx, deep), -1);
	assert_string_equal(fx.err, "t.yml:1:14: rule_files[0]: expected a scalar, got a sequence");
	free(deep);

	/* An alias may not stack nesting past the limit either: &a is 62 deep and sits
	 * at level 3, fine; its alias one level further down would reach 65. */
	deep = calloc(1, 4 * n + 64);
	assert_non_null(deep);
	strcpy(deep, "rule_files: [&a ");
	for (i = 0; i < CFG_MAX_DEPTH - 2; i++)
		strcat(deep, "[");
	for (i = 0; i < CFG_MAX_DEPTH - 2; i++)
		strcat(deep, "]");
	strcat(deep, ", [*a]]");
	assert_int_equal(load(&fx, deep), -1);
	assert_string_equal(fx.err, "t.yml:1:144: rule_files[1][0]: alias \"a\" nests too deep");
	/* At the same level as its anchor the alias is fine: loading gets past it. */
	strcpy(strstr(deep, ", [*a]]"), ", *a]");
	expect_err(deep, "t.yml:1:14: rule_files[0]: expected a scalar, got a sequence");
	free(deep);

	big = malloc(CFG_MAX_INPUT + 1);
	assert_non_null(big);
	memset(big, '#', CFG_MAX_INPUT + 1);
	defaults(&fx.cfg);
	assert_int_equal(cfg_load_buffer("big.yml", big, CFG_MAX_INPUT + 1, &root_schema,
					 &fx.cfg, fx.a, fx.err, sizeof(fx.err)), -1);
	assert_string_equal(fx.err, "big.yml: larger than the 16 MiB limit for a config file");
	/* A comment of exactly the limit is fine. */
	big[CFG_MAX_INPUT - 1] = '\n';
	assert_int_equal(cfg_load_buffer("big.yml", big, CFG_MAX_INPUT, &root_schema,
					 &fx.cfg, fx.a, fx.err, sizeof(fx.err)), 0);
	free(big);
	arena_free(fx.a);
}

static void test_env_in_yaml(void **state)
{
	struct fixture fx = { 0 };

	setenv("CFG_T_PORT", "7070", 1);
	setenv("CFG_T_NAME", "from-env", 1);
	unsetenv("CFG_T_UNSET");
	expect_ok(&fx, "global:\n  port: ${CFG_T_PORT}\n"
		       "  external_labels: {who: \"${env:CFG_T_NAME}\", lit: $$HOME}\n"
		       "name: ${CFG_T_UNSET:-fallback}-x\n");
	assert_int_equal(fx.cfg.global.port, 7070);
	assert_string_equal(fx.cfg.global.external_labels.vals[0], "from-env");
	assert_string_equal(fx.cfg.global.external_labels.vals[1], "$HOME");
	assert_string_equal(fx.cfg.name, "fallback-x");
	arena_free(fx.a);

	/* Expansion happens before typing, so an unset variable is an empty integer. */
	expect_err("global:\n  port: ${CFG_T_UNSET}\n",
		   "t.yml:2:9: global.port: invalid integer \"\"");
	expect_err("name: x${CFG_T_NAME\n",
		   "t.yml:1:7: name: unterminated \"${\" reference");
	expect_err("name: ${CFG-T}\n",
		   "t.yml:1:7: name: invalid variable reference \"${CFG-T}\"");

	/* A verbatim field keeps relabel-style templates as written. */
	struct fixture fv = { 0 };
	expect_ok(&fv, "template: ${1}-${CFG_T_NAME}-$$\n");
	assert_string_equal(fv.cfg.template, "${1}-${CFG_T_NAME}-$$");
	arena_free(fv.a);
}

static void test_expand_env(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "", "" },
		{ "plain", "plain" },
		{ "${CFG_T_A}", "alpha" },
		{ "x${CFG_T_A}y${CFG_T_A}", "xalphayalpha" },
		{ "${env:CFG_T_A}", "alpha" },
		{ "${CFG_T_UNSET}", "" },
		{ "${CFG_T_UNSET:-dflt}", "dflt" },
		{ "${CFG_T_EMPTY:-dflt}", "dflt" },
		{ "${CFG_T_A:-dflt}", "alpha" },
		{ "${env:CFG_T_UNSET:-d}", "d" },
		{ "${CFG_T_UNSET:-}", "" },
		{ "${CFG_T_UNSET:-${CFG_T_A}!}", "alpha!" },
		{ "${CFG_T_UNSET:-a}b}", "ab}" },
		{ "${CFG_T_UNSET:-$${X}}", "${X}" },
		{ "$$", "$" },
		{ "$${CFG_T_A}", "${CFG_T_A}" },
		{ "$$$$", "$$" },
		{ "a$b", "a$b" },
		{ "cost: 5$", "cost: 5$" },
		{ "^foo$", "^foo$" },
		{ "${CFG_T_DOLLAR}", "$${CFG_T_A}" },
	};
	static const char *const bad[] = {
		"${", "${CFG_T_A", "x${CFG_T_UNSET:-${CFG_T_A}", "${}", "${1X}", "${A-B}",
		"${A:B}", "${env:}", "${A:-${B:-${C:-${D:-${E:-${F:-${G:-${H:-${I:-x}}}}}}}}}",
	};
	struct arena *a = arena_new(0);
	char err[128];
	size_t i;
	char *s;

	assert_non_null(a);
	setenv("CFG_T_A", "alpha", 1);
	setenv("CFG_T_EMPTY", "", 1);
	setenv("CFG_T_DOLLAR", "$${CFG_T_A}", 1);
	unsetenv("CFG_T_UNSET");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		s = cfg_expand_env(a, good[i].in, err, sizeof(err));
		if (!s)
			print_error("%s: %s\n", good[i].in, err);
		assert_non_null(s);
		assert_string_equal(s, good[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		s = cfg_expand_env(a, bad[i], err, sizeof(err));
		if (s)
			print_error("accepted: %s\n", bad[i]);
		assert_null(s);
		assert_true(err[0] != '\0');
	}
	arena_free(a);
}

/* Both number parsers through one signature, so one table runner serves them. */
struct parse_case {
	const char *in;
	uint64_t v;
};

static int parse_duration(const char *s, uint64_t *v)
{
	int64_t ms = -1;
	int rc = cfg_parse_duration(s, &ms);

	*v = (uint64_t)ms;
	return rc;
}

static int parse_bytes(const char *s, uint64_t *v)
{
	return cfg_parse_bytes(s, v);
}

static void run_table(int (*parse)(const char *, uint64_t *), const struct parse_case *good,
		      size_t ngood, const char *const *bad, size_t nbad)
{
	uint64_t v;
	size_t i;

	for (i = 0; i < ngood; i++) {
		v = 42;
		if (parse(good[i].in, &v))
			print_error("rejected: %s\n", good[i].in);
		assert_int_equal(parse(good[i].in, &v), 0);
		assert_true(v == good[i].v);
	}
	for (i = 0; i < nbad; i++) {
		if (!parse(bad[i], &v))
			print_error("accepted: \"%s\"\n", bad[i]);
		assert_int_equal(parse(bad[i], &v), -1);
	}
	assert_int_equal(parse(NULL, &v), -1);
}

#define MS_D (86400000LL)

static void test_duration(void **state)
{
	static const struct parse_case good[] = {
		{ "0", 0 },
		{ "0s", 0 },
		{ "0ms", 0 },
		{ "1ms", 1 },
		{ "15s", 15000 },
		{ "5m", 300000 },
		{ "1h30m", 5400000 },
		{ "1d", MS_D },
		{ "2w", 14 * MS_D },
		{ "1y", 365 * MS_D },
		{ "1y2w3d4h5m6s7ms", 365 * MS_D + 17 * MS_D + 4 * 3600000 + 5 * 60000 + 6007 },
		{ "01h", 3600000 },
		{ "90d", 90 * MS_D },
		{ "292y", 292 * 365 * MS_D },
		{ "106751d", 106751 * MS_D },
		{ "9223372036854ms", 9223372036854LL },
	};
	static const char *const bad[] = {
		"", "-1s", "1.5h", "1", "00", "h", "1h1h", "30m1h", "1s1m", "1hm", "1x", " 1s",
		"1s ", "1 s", "+1s", "1H", "1h30", "300y", "106752d", "9223372036855ms",
		"99999999999999999999s", "1ms1s", "1us", "1ns", "s1",
	};

	run_table(parse_duration, good, sizeof(good) / sizeof(good[0]), bad,
		  sizeof(bad) / sizeof(bad[0]));
}

static void test_format_duration(void **state)
{
	static const struct {
		int64_t ms;
		const char *out;
	} tab[] = {
		{ 0, "0s" },
		{ 1, "1ms" },
		{ 1500, "1s500ms" },
		{ 61000, "1m1s" },
		{ 5400000, "1h30m" },
		{ 7 * MS_D, "1w" },
		{ 14 * MS_D + 1, "14d1ms" },
		{ 90 * MS_D, "90d" },
		{ 365 * MS_D, "1y" },
		{ 366 * MS_D, "366d" },
		{ 730 * MS_D, "2y" },
		{ 371 * MS_D, "53w" },
		{ -1500, "-1s500ms" },
		{ INT64_MAX, "106751991167d7h12m55s807ms" },
		{ INT64_MIN, "-106751991167d7h12m55s808ms" },
	};
	char out[64], small[4];
	int64_t back;
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		cfg_format_duration(tab[i].ms, out, sizeof(out));
		assert_string_equal(out, tab[i].out);
		/* What is formatted parses back, within Prometheus' range. */
		if (tab[i].ms >= 0 && tab[i].ms <= 9223372036854LL) {
			assert_int_equal(cfg_parse_duration(out, &back), 0);
			assert_true(back == tab[i].ms);
		}
	}
	cfg_format_duration(5400000, small, sizeof(small));
	assert_string_equal(small, "1h");
	cfg_format_duration(-5400000, small, 2);
	assert_string_equal(small, "-");
	cfg_format_duration(5400000, small, 0);
}

static void test_bytes(void **state)
{
	static const struct parse_case good[] = {
		{ "0", 0 },
		{ "100", 100 },
		{ "1B", 1 },
		{ "1KB", 1024 },
		{ "1KiB", 1024 },
		{ "64KB", 64 << 10 },
		{ "512MB", 512ULL << 20 },
		{ "512MiB", 512ULL << 20 },
		{ "1GB", 1ULL << 30 },
		{ "3GiB", 3ULL << 30 },
		{ "2TB", 2ULL << 40 },
		{ "2TiB", 2ULL << 40 },
		{ "3PB", 3ULL << 50 },
		{ "16383PiB", 16383ULL << 50 },
		{ "18446744073709551615", UINT64_MAX },
		{ "18446744073709551615B", UINT64_MAX },
	};
	static const char *const bad[] = {
		"", "-1", "+1", "1.5GB", "1 KB", " 1", "1 ", "1kb", "1kB", "1XB", "KB", "B",
		"16384PB", "16384PiB", "18446744073709551616", "1KBx", "1EB", "1EiB", "1KB1B",
		"0x10",
	};

	run_table(parse_bytes, good, sizeof(good) / sizeof(good[0]), bad,
		  sizeof(bad) / sizeof(bad[0]));
}

static void test_load_file(void **state)
{
	static const char text[] = "global:\n  port: 4242\nname: from-file\n";
	char path[] = "/tmp/test_config_XXXXXX";
	char want[512];
	struct fixture fx = { 0 };
	int fd;

	fx.a = arena_new(0);
	assert_non_null(fx.a);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);

	defaults(&fx.cfg);
	assert_int_equal(cfg_load_file(path, &root_schema, &fx.cfg, fx.a, fx.err,
				       sizeof(fx.err)), 0);
	assert_int_equal(fx.cfg.global.port, 4242);
	assert_string_equal(fx.cfg.name, "from-file");

	/* Messages name the file as it was given. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "global:\n  prot: 1\n", 18), 18);
	close(fd);
	assert_int_equal(cfg_load_file(path, &root_schema, &fx.cfg, fx.a, fx.err,
				       sizeof(fx.err)), -1);
	snprintf(want, sizeof(want), "%s:2:3: global.prot: unknown key", path);
	assert_string_equal(fx.err, want);
	unlink(path);

	assert_int_equal(cfg_load_file(path, &root_schema, &fx.cfg, fx.a, fx.err,
				       sizeof(fx.err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(fx.err, want);

	assert_int_equal(cfg_load_file("/tmp", &root_schema, &fx.cfg, fx.a, fx.err,
				       sizeof(fx.err)), -1);
	assert_string_equal(fx.err, "/tmp: cannot read: is a directory");
	arena_free(fx.a);
}

/* A small error buffer truncates the message but never overruns. */
static void test_small_err(void **state)
{
	struct arena *a = arena_new(0);
	struct t_root c;
	char err[8];

	assert_non_null(a);
	defaults(&c);
	memset(err, 'z', sizeof(err));
	assert_int_equal(cfg_load_buffer("t.yml", "nmae: 1\n", 8, &root_schema, &c, a, err,
					 sizeof(err)), -1);
	assert_string_equal(err, "t.yml:1");
	assert_int_equal(cfg_load_buffer("t.yml", "nmae: 1\n", 8, &root_schema, &c, a, NULL, 0),
			 -1);
	arena_free(a);
}

/* ---- positions, string-list maps, list files, equality and copies ---------------- */

struct p_auth {
	char *user;
	struct cfg_pos pos;
};

struct p_job {
	char *name;
	struct cfg_strlistmap params;
	struct cfg_strlist tags;      /* CFG_VERBATIM */
	struct cfg_strmap labels;     /* CFG_VERBATIM */
	struct p_auth auth;
	double ratio;
	struct cfg_pos pos;
};

struct p_root {
	struct cfg_list jobs;
};

static const struct cfg_field p_auth_fields[] = {
	FIELD(p_auth, "user", CFG_STRING, user),
	CFG_POS_FIELD(struct p_auth, pos),
	{ 0 },
};
static const struct cfg_schema p_auth_schema = { "auth", p_auth_fields, NULL };

static const struct cfg_field p_job_fields[] = {
	FIELD(p_job, "name", CFG_STRING, name),
	FIELD(p_job, "params", CFG_STRLIST_MAP, params),
	FIELD(p_job, "tags", CFG_STRING_LIST, tags, .flags = CFG_VERBATIM),
	FIELD(p_job, "labels", CFG_STRING_MAP, labels, .flags = CFG_VERBATIM),
	FIELD(p_job, "auth", CFG_OBJECT, auth, .sub = &p_auth_schema),
	FIELD(p_job, "ratio", CFG_DOUBLE, ratio),
	CFG_POS_FIELD(struct p_job, pos),
	{ 0 },
};
static const struct cfg_schema p_job_schema = { "job", p_job_fields, NULL };

static const struct cfg_field p_root_fields[] = {
	FIELD(p_root, "jobs", CFG_LIST, jobs, .sub = &p_job_schema,
	      .elem_size = sizeof(struct p_job)),
	{ 0 },
};
static const struct cfg_schema p_root_schema = { "root", p_root_fields, NULL };

static const char p_yaml[] =
	"jobs:\n"
	"  - name: a\n"
	"    params: {module: [http_2xx, tcp], empty: [], none: ~}\n"
	"    tags: ['${HOME}', x]\n"
	"    labels: {k: '${HOME}'}\n"
	"    auth:\n"
	"      user: u\n"
	"  - name: b\n"
	"    ratio: .nan\n";

static void p_load(struct arena *a, struct p_root *r, const char *yaml)
{
	char err[256];

	memset(r, 0, sizeof(*r));
	if (cfg_load_buffer("p.yml", yaml, strlen(yaml), &p_root_schema, r, a, err, sizeof(err)))
		fail_msg("%s", err);
}

static void test_positions_and_strlist_map(void **state)
{
	struct arena *a = arena_new(0);
	struct p_root r;
	const struct p_job *j;
	char err[256];

	p_load(a, &r, p_yaml);
	j = r.jobs.v;
	assert_int_equal(j[0].pos.line, 2);
	assert_int_equal(j[0].pos.col, 5);
	assert_string_equal(j[0].pos.path, "jobs[0]");
	assert_string_equal(j[0].pos.file, "p.yml");
	assert_int_equal(j[0].auth.pos.line, 7);
	assert_int_equal(j[0].auth.pos.col, 7);
	assert_string_equal(j[0].auth.pos.path, "jobs[0].auth");
	assert_int_equal(j[1].auth.pos.line, 0); /* no such block */
	assert_int_equal(j[0].params.n, 3);
	assert_string_equal(j[0].params.keys[0], "module");
	assert_int_equal(j[0].params.vals[0].n, 2);
	assert_string_equal(j[0].params.vals[0].v[1], "tcp");
	assert_int_equal(j[0].params.vals[1].n, 0);
	assert_int_equal(j[0].params.vals[2].n, 0);
	/* Verbatim lists and maps keep `$` references as written. */
	assert_string_equal(j[0].tags.v[0], "${HOME}");
	assert_string_equal(j[0].labels.vals[0], "${HOME}");

	assert_int_equal(cfg_pos_error(&j[1].pos, err, sizeof(err), "bad %s", "thing"), -1);
	assert_string_equal(err, "p.yml:8:5: jobs[1]: bad thing");
	assert_int_equal(cfg_pos_error(&j[1].auth.pos, err, sizeof(err), "%s", "no position"), -1);
	assert_string_equal(err, "no position");
	assert_int_equal(cfg_pos_error(NULL, err, sizeof(err), "%s", "none"), -1);
	assert_string_equal(err, "none");

	/* A "(position)" key in the file is just an unknown key. */
	assert_int_equal(cfg_load_buffer("p.yml", "jobs: [{'(position)': 1}]\n", 25, &p_root_schema,
					 &r, a, err, sizeof(err)), -1);
	assert_string_equal(err, "p.yml:1:9: jobs[0].(position): unknown key");
	assert_int_equal(cfg_load_buffer("p.yml", "jobs: [{params: {m: x}}]\n", 25, &p_root_schema,
					 &r, a, err, sizeof(err)), -1);
	assert_string_equal(err, "p.yml:1:21: jobs[0].params.m: expected a sequence, got a scalar");
	arena_free(a);
}

static void test_equal_and_copy(void **state)
{
	struct arena *a = arena_new(0), *b = arena_new(0), *c = arena_new(0);
	struct p_root r1, r2, r3;
	struct p_job copy;

	p_load(a, &r1, p_yaml);
	p_load(b, &r2, p_yaml);
	assert_true(cfg_equal(&p_root_schema, &r1, &r2)); /* NaN equals NaN here */

	/* Where a value is written is not part of it. */
	p_load(b, &r2, "jobs:\n\n\n  - {name: a, params: {module: [http_2xx, tcp], empty: [], none: ~},"
		       " tags: ['${HOME}', x], labels: {k: '${HOME}'}, auth: {user: u}}\n"
		       "  - {name: b, ratio: .nan}\n");
	assert_true(cfg_equal(&p_root_schema, &r1, &r2));
	p_load(b, &r2, "jobs: [{name: a, params: {module: [http_2xx]}}, {name: b, ratio: .nan}]\n");
	assert_false(cfg_equal(&p_root_schema, &r1, &r2));
	p_load(b, &r2, "jobs: [{name: a}]\n");
	assert_false(cfg_equal(&p_root_schema, &r1, &r2));
	p_load(b, &r2, "jobs: [{name: ''}]\n");
	p_load(c, &r3, "jobs: [{name: ~}]\n");
	assert_true(cfg_equal(&p_root_schema, &r2, &r3)); /* "" and unset */

	/* A copy owns its memory: the original's arena can go. */
	memcpy(&copy, r1.jobs.v, sizeof(copy));
	assert_int_equal(cfg_copy(&p_job_schema, &copy, c), 0);
	arena_free(a);
	p_load(b, &r2, p_yaml);
	assert_true(cfg_equal(&p_job_schema, &copy, r2.jobs.v));
	assert_string_equal(copy.pos.path, "jobs[0]");
	assert_string_equal(copy.auth.pos.file, "p.yml");
	assert_string_equal(copy.params.vals[0].v[1], "tcp");
	arena_free(b);
	arena_free(c);
}

static void test_list_file(void **state)
{
	struct arena *a = arena_new(0);
	struct cfg_list l;
	char err[256];

	assert_int_equal(cfg_load_list_buffer("t.yml", "- name: a\n- name: b\n  ratio: 2\n", 31,
					      &p_job_schema, sizeof(struct p_job), &l, a, err,
					      sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(((struct p_job *)l.v)[1].name, "b");
	assert_string_equal(((struct p_job *)l.v)[1].pos.path, "[1]");
	assert_int_equal(cfg_load_list_buffer("t.yml", "", 0, &p_job_schema, sizeof(struct p_job),
					      &l, a, err, sizeof(err)), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(cfg_load_list_buffer("t.yml", "name: a\n", 8, &p_job_schema,
					      sizeof(struct p_job), &l, a, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:1:1: expected a sequence, got a mapping");
	assert_int_equal(cfg_load_list_buffer("t.yml", "- nmae: a\n", 10, &p_job_schema,
					      sizeof(struct p_job), &l, a, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yml:1:3: [0].nmae: unknown key");
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_decode),
		cmocka_unit_test(test_defaults_kept),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_anchors_and_merge),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_required_top),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_env_in_yaml),
		cmocka_unit_test(test_expand_env),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_small_err),
		cmocka_unit_test(test_positions_and_strlist_map),
		cmocka_unit_test(test_equal_and_copy),
		cmocka_unit_test(test_list_file),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
