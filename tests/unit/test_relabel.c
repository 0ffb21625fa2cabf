/*
 * relabel: every action on a table of cases whose inputs and outputs are those of
 * Prometheus' model/relabel/relabel_test.go (the ones valid under legacy label-name
 * rules), plus our own; rules are written as YAML and loaded through the schema
 * fragment, so defaults and validation are exercised the way a config file does.
 *
 * hashmod expectations were computed independently with Python:
 *   import hashlib
 *   def hm(v, m): return int.from_bytes(hashlib.md5(v.encode()).digest()[8:], 'big') % m
 *   hm('baz', 1000) == 976; hm('foo\nbar', 1000) == 734
 *   hm('10.0.0.1:9100;node', 3) == 2; hm('', 7) == 1
 *   hm('x', 2**63 - 1) == 8487128391145514919 (the raw value is above 2^63)
 * (976 and 734 are also what upstream's own test expects.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relabel/relabel.h"

struct wrap {
	struct cfg_list rules;
};

static const struct cfg_field wrap_fields[] = {
	RELABEL_CONFIGS_FIELD("relabel_configs", struct wrap, rules),
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct cfg_schema wrap_schema = { "test", wrap_fields, NULL };

/* "a=foo|b=bar" into a sorted label set in the arena. */
static struct labels parse_labels(struct arena *a, const char *spec)
{
	struct labels ls = { arena_calloc(a, 32, sizeof(struct label)), 0 };
	char *s = arena_strdup(a, spec), *save = NULL;

	assert_non_null(ls.v);
	for (char *tok = strtok_r(s, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
		char *eq = strchr(tok, '=');
		assert_non_null(eq);
		*eq = '\0';
		ls.v[ls.n++] = (struct label){ tok, eq + 1 };
	}
	labels_sort(&ls);
	return ls;
}

static int load(struct arena *a, const char *yaml, struct wrap *w, char *err, size_t errlen)
{
	struct buf doc = { 0 };
	int rc;

	buf_printf(&doc, "relabel_configs:\n%s", yaml);
	memset(w, 0, sizeof(*w));
	rc = cfg_load_buffer("test.yml", doc.data, doc.len, &wrap_schema, w, a, err, errlen);
	buf_free(&doc);
	return rc;
}

struct rcase {
	const char *in;
	const char *rules; /* YAML list items */
	const char *want;  /* labels_format() of the result; NULL: dropped */
};

static const struct rcase cases[] = {
	/* upstream TestRelabel */
	{ "a=foo|b=bar|c=baz",
	  "- source_labels: [a]\n  regex: f(.*)\n  target_label: d\n  replacement: ch${1}-ch${1}\n",
	  "{a=\"foo\", b=\"bar\", c=\"baz\", d=\"choo-choo\"}" },
	{ "a=foo|b=bar|c=baz",
	  "- source_labels: [a, b]\n  regex: f(.*);(.*)r\n  target_label: a\n  replacement: b${1}${2}m\n"
	  "- source_labels: [c, a]\n  regex: (b).*b(.*)ba(.*)\n  target_label: d\n  replacement: $1$2$2$3\n",
	  "{a=\"boobam\", b=\"bar\", c=\"baz\", d=\"boooom\"}" },
	{ "a=foo",
	  "- source_labels: [a]\n  regex: .*o.*\n  action: drop\n"
	  "- source_labels: [a]\n  regex: f(.*)\n  target_label: d\n  replacement: ch$1-ch$1\n",
	  NULL },
	{ "a=foo|b=bar", "- source_labels: [a]\n  regex: .*o.*\n  action: drop\n", NULL },
	{ "a=abc", "- source_labels: [a]\n  regex: .*(b).*\n  target_label: d\n  replacement: $1\n",
	  "{a=\"abc\", d=\"b\"}" },
	{ "a=foo", "- source_labels: [a]\n  regex: no-match\n  action: drop\n", "{a=\"foo\"}" },
	{ "a=foo", "- source_labels: [a]\n  regex: f|o\n  action: drop\n", "{a=\"foo\"}" },
	{ "a=foo", "- source_labels: [a]\n  regex: no-match\n  action: keep\n", NULL },
	{ "a=foo", "- source_labels: [a]\n  regex: f.*\n  action: keep\n", "{a=\"foo\"}" },
	/* no replacement when nothing matches */
	{ "a=boo", "- source_labels: [a]\n  regex: f\n  target_label: b\n  replacement: bar\n",
	  "{a=\"boo\"}" },
	/* a blank replacement deletes the label */
	{ "a=foo|f=baz", "- source_labels: [a]\n  regex: (f).*\n  target_label: $1\n  replacement: $2\n",
	  "{a=\"foo\"}" },
	{ "a=foo|b=bar|c=baz", "- source_labels: [c]\n  target_label: d\n  action: hashmod\n  modulus: 1000\n",
	  "{a=\"foo\", b=\"bar\", c=\"baz\", d=\"976\"}" },
	{ "a=foo\nbar", "- source_labels: [a]\n  target_label: b\n  action: hashmod\n  modulus: 1000\n",
	  "{a=\"foo\\nbar\", b=\"734\"}" },
	{ "a=foo|b1=bar|b2=baz", "- regex: (b.*)\n  replacement: bar_${1}\n  action: labelmap\n",
	  "{a=\"foo\", b1=\"bar\", b2=\"baz\", bar_b1=\"bar\", bar_b2=\"baz\"}" },
	{ "a=foo|__meta_my_bar=aaa|__meta_my_baz=bbb|__meta_other=ccc",
	  "- regex: __meta_(my.*)\n  replacement: ${1}\n  action: labelmap\n",
	  "{__meta_my_bar=\"aaa\", __meta_my_baz=\"bbb\", __meta_other=\"ccc\", a=\"foo\", my_bar=\"aaa\", my_baz=\"bbb\"}" },
	{ "a=some-name-value",
	  "- source_labels: [a]\n  regex: some-([^-]+)-([^,]+)\n  replacement: ${2}\n  target_label: ${1}\n",
	  "{a=\"some-name-value\", name=\"value\"}" },
	{ "a=some-name-value",
	  "- source_labels: [a]\n  regex: some-([^-]+)-([^,]+)\n  replacement: ${3}\n  target_label: ${1}\n",
	  "{a=\"some-name-value\"}" },
	{ "a=some-name-0",
	  "- source_labels: [a]\n  regex: some-([^-]+)-([^,]+)\n  replacement: ${1}\n  target_label: ${3}\n"
	  "- source_labels: [a]\n  regex: some-([^-]+)(-[^,]+)\n  replacement: ${1}\n  target_label: ${3}\n",
	  "{a=\"some-name-0\"}" },
	{ "__meta_sd_tags=path:/secret,job:some-job,label:foo=bar",
	  "- source_labels: [__meta_sd_tags]\n  regex: \"(?:.+,|^)path:(/[^,]+).*\"\n  replacement: ${1}\n  target_label: __metrics_path__\n"
	  "- source_labels: [__meta_sd_tags]\n  regex: \"(?:.+,|^)job:([^,]+).*\"\n  replacement: ${1}\n  target_label: job\n"
	  "- source_labels: [__meta_sd_tags]\n  regex: \"(?:.+,|^)label:([^=]+)=([^,]+).*\"\n  replacement: ${2}\n  target_label: ${1}\n",
	  "{__meta_sd_tags=\"path:/secret,job:some-job,label:foo=bar\", __metrics_path__=\"/secret\", foo=\"bar\", job=\"some-job\"}" },
	{ "__meta_kubernetes_pod_container_port_name=foo|__meta_kubernetes_pod_annotation_XXX_metrics_port=9091",
	  "- regex: ^__meta_kubernetes_pod_container_port_name$\n  action: labeldrop\n"
	  "- source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port]\n  regex: (.+)\n  replacement: metrics\n  target_label: __meta_kubernetes_pod_container_port_name\n"
	  "- source_labels: [__meta_kubernetes_pod_container_port_name]\n  regex: ^metrics$\n  action: keep\n",
	  "{__meta_kubernetes_pod_annotation_XXX_metrics_port=\"9091\", __meta_kubernetes_pod_container_port_name=\"metrics\"}" },
	{ "a=foo|b1=bar|b2=baz", "- regex: (b.*)\n  action: labelkeep\n", "{b1=\"bar\", b2=\"baz\"}" },
	{ "a=foo|b1=bar|b2=baz", "- regex: (b.*)\n  action: labeldrop\n", "{a=\"foo\"}" },
	{ "foo=bAr123Foo",
	  "- source_labels: [foo]\n  action: uppercase\n  target_label: foo_uppercase\n"
	  "- source_labels: [foo]\n  action: lowercase\n  target_label: foo_lowercase\n",
	  "{foo=\"bAr123Foo\", foo_lowercase=\"bar123foo\", foo_uppercase=\"BAR123FOO\"}" },
	{ "__tmp_port=1234|__port1=1234|__port2=5678",
	  "- source_labels: [__tmp_port]\n  action: keepequal\n  target_label: __port1\n",
	  "{__port1=\"1234\", __port2=\"5678\", __tmp_port=\"1234\"}" },
	{ "__tmp_port=1234|__port1=1234|__port2=5678",
	  "- source_labels: [__tmp_port]\n  action: dropequal\n  target_label: __port1\n", NULL },
	{ "__tmp_port=1234|__port1=1234|__port2=5678",
	  "- source_labels: [__tmp_port]\n  action: dropequal\n  target_label: __port2\n",
	  "{__port1=\"1234\", __port2=\"5678\", __tmp_port=\"1234\"}" },
	{ "__tmp_port=1234|__port1=1234|__port2=5678",
	  "- source_labels: [__tmp_port]\n  action: keepequal\n  target_label: __port2\n", NULL },
	{ "a=line1\nline2|b=bar|c=baz",
	  "- source_labels: [a]\n  regex: line1.*line2\n  target_label: d\n  replacement: match${1}\n",
	  "{a=\"line1\\nline2\", b=\"bar\", c=\"baz\", d=\"match\"}" },
	{ "a=line1\nline2|b=bar|c=baz",
	  "- source_labels: [a]\n  regex: (line1).*(?<second>line2)\n  target_label: label1_${1}\n  replacement: val_${second}\n"
	  "- source_labels: [a]\n  regex: (line1).*(?<second>line2)\n  target_label: label2_$1\n  replacement: val_$second\n",
	  "{a=\"line1\\nline2\", b=\"bar\", c=\"baz\", label1_line1=\"val_line2\", label2_line1=\"val_line2\"}" },
	{ "__name__=http_requests_total",
	  "- source_labels: [__name__]\n  regex: .*_total$\n  target_label: __type__\n  replacement: counter\n",
	  "{__name__=\"http_requests_total\", __type__=\"counter\"}" },
	/* ours: constant labels, deleting by an empty replacement, missing sources */
	{ "job=node", "- target_label: env\n  replacement: prod\n", "{env=\"prod\", job=\"node\"}" },
	{ "job=node|env=dev", "- target_label: env\n  replacement: \"\"\n", "{job=\"node\"}" },
	{ "job=node", "- source_labels: [missing]\n  regex: \"\"\n  action: keep\n", "{job=\"node\"}" },
	{ "job=node", "- source_labels: [missing, job]\n  regex: ;node\n  action: keep\n", "{job=\"node\"}" },
	/* empty values are absent, as in labels.Builder */
	{ "a=|b=x", "- source_labels: [a]\n  regex: \"\"\n  target_label: c\n  replacement: was-empty\n",
	  "{b=\"x\", c=\"was-empty\"}" },
	/* hashmod: joined sources, empty input, the full uint64 range */
	{ "__address__=10.0.0.1:9100|job=node",
	  "- source_labels: [__address__, job]\n  target_label: __tmp_hash\n  modulus: 3\n  action: HashMod\n"
	  "- source_labels: [__tmp_hash]\n  regex: ^2$\n  action: keep\n"
	  "- regex: __tmp_hash\n  action: labeldrop\n",
	  "{__address__=\"10.0.0.1:9100\", job=\"node\"}" },
	{ "a=b", "- source_labels: [none]\n  target_label: h\n  modulus: 7\n  action: hashmod\n",
	  "{a=\"b\", h=\"1\"}" },
	/* Go's simple case mapping: ToUpper keeps ß, ToLower maps İ to i */
	{ "v=straße ÀÉÎ İ",
	  "- source_labels: [v]\n  target_label: up\n  action: uppercase\n"
	  "- source_labels: [v]\n  target_label: low\n  action: lowercase\n",
	  "{low=\"straße àéî i\", up=\"STRAßE ÀÉÎ İ\", v=\"straße ÀÉÎ İ\"}" },
	/* lowercase of nothing deletes the target */
	{ "t=x", "- source_labels: [none]\n  target_label: t\n  action: lowercase\n", "{}" },
	/* labelmap sees the labels as they were before the rule */
	{ "a_x=1", "- regex: (.*)\n  replacement: a_${1}\n  action: labelmap\n",
	  "{a_a_x=\"1\", a_x=\"1\"}" },
	/* labelkeep can drop __name__ too */
	{ "__name__=up|job=x", "- regex: job\n  action: labelkeep\n", "{job=\"x\"}" },
	/* an invalid target after expansion leaves the set alone */
	{ "a=1-2", "- source_labels: [a]\n  regex: (.*)\n  target_label: x${1}\n  replacement: v\n",
	  "{a=\"1-2\"}" },
};

static void run_case(const struct rcase *c, size_t idx)
{
	struct arena *a = arena_new(0);
	struct labels in, out = { 0 };
	struct wrap w;
	struct buf got = { 0 };
	char err[512];
	int rc;

	assert_non_null(a);
	if (load(a, c->rules, &w, err, sizeof(err)))
		fail_msg("case %zu: load: %s", idx, err);
	if (relabel_configs_compile(w.rules.v, w.rules.n, err, sizeof(err)))
		fail_msg("case %zu: compile: %s", idx, err);
	in = parse_labels(a, c->in);
	rc = relabel_process(w.rules.v, w.rules.n, &in, a, &out);
	if (!c->want) {
		if (rc != RELABEL_DROPPED)
			fail_msg("case %zu: want dropped, got %d", idx, rc);
	} else {
		if (rc != RELABEL_KEPT)
			fail_msg("case %zu: want kept, got %d", idx, rc);
		labels_format(&out, &got);
		if (strcmp(got.data, c->want) != 0)
			fail_msg("case %zu:\nwant %s\ngot  %s", idx, c->want, got.data);
		/* The result stays a valid sorted set. */
		for (size_t i = 1; i < out.n; i++)
			assert_true(strcmp(out.v[i - 1].name, out.v[i].name) < 0);
	}
	buf_free(&got);
	relabel_configs_release(w.rules.v, w.rules.n);
	arena_free(a);
}

static void test_actions(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], i);
}

/* Moduli are int64 here (uint64 upstream); the largest one still works. */
static void test_big_modulus(void **state)
{
	struct arena *a = arena_new(0);
	struct relabel_config c;
	char *src[] = { "a" };
	struct labels in = parse_labels(a, "a=x"), out;
	char err[256];

	relabel_config_init(&c);
	c.source_labels = (struct cfg_strlist){ src, 1 };
	c.target_label = "h";
	c.action = "hashmod";
	c.modulus = INT64_MAX; /* 2^63 - 1: hash % (2^63-1) */
	assert_int_equal(relabel_configs_compile(&c, 1, err, sizeof(err)), 0);
	assert_int_equal(relabel_process(&c, 1, &in, a, &out), RELABEL_KEPT);
	/* md5("x")'s last 8 bytes are above 2^63: unsigned arithmetic throughout. */
	assert_string_equal(labels_get(&out, "h"), "8487128391145514919");
	relabel_configs_release(&c, 1);
	arena_free(a);
}

static void test_defaults(void **state)
{
	struct arena *a = arena_new(0);
	struct wrap w;
	struct relabel_config *c;
	char err[256];

	assert_int_equal(load(a, "- target_label: x\n- source_labels: [a]\n  separator: \"/\"\n  target_label: y\n"
				 "  action: Replace\n", &w, err, sizeof(err)), 0);
	assert_int_equal(w.rules.n, 2);
	c = w.rules.v;
	assert_string_equal(c[0].separator, ";");
	assert_string_equal(c[0].regex, "(.*)");
	assert_string_equal(c[0].replacement, "$1");
	assert_string_equal(c[0].action, "replace");
	assert_int_equal(c[0].modulus, 0);
	assert_string_equal(c[1].separator, "/");
	assert_int_equal(relabel_configs_compile(c, 2, err, sizeof(err)), 0);
	assert_int_equal(c[1].act, RELABEL_REPLACE);
	assert_string_equal(relabel_action_name(c[1].act), "replace");
	relabel_configs_release(c, 2);
	/* Uncompiled rules are refused, not crashed on. */
	struct labels in = parse_labels(a, "a=1"), out;
	assert_int_equal(relabel_process(c, 2, &in, a, &out), -1);
	/* No rules: the set comes back as it is. */
	assert_int_equal(relabel_process(c, 0, &in, a, &out), RELABEL_KEPT);
	assert_int_equal(out.n, 1);
	arena_free(a);
}

struct vcase {
	const char *rules;
	const char *err; /* expected end of the message; NULL: valid */
};

static const struct vcase vcases[] = {
	{ "- action: hashmod\n  target_label: x\n", "relabel configuration for hashmod requires non-zero modulus" },
	{ "- action: replace\n", "relabel configuration for replace action requires 'target_label' value" },
	{ "- action: lowercase\n", "relabel configuration for lowercase action requires 'target_label' value" },
	{ "- action: keepequal\n", "relabel configuration for keepequal action requires 'target_label' value" },
	{ "- action: lowercase\n  target_label: \"${3}\"\n", "\"${3}\" is invalid 'target_label' for lowercase action" },
	{ "- action: hashmod\n  modulus: 2\n  target_label: 1x\n", "\"1x\" is invalid 'target_label' for hashmod action" },
	{ "- target_label: \"-label\"\n", "\"-label\" is invalid 'target_label' for replace action" },
	{ "- target_label: \"foo${\"\n", "\"foo${\" is invalid 'target_label' for replace action" },
	{ "- target_label: \"${}\"\n", "\"${}\" is invalid 'target_label' for replace action" },
	{ "- target_label: \"bar.foo${1}bar\"\n", "\"bar.foo${1}bar\" is invalid 'target_label' for replace action" },
	{ "- target_label: \"${1}label\"\n", NULL },
	{ "- target_label: \"asd$2asd\"\n", NULL },
	{ "- target_label: \"_${1}_\"\n", NULL },
	{ "- target_label: \"foo${bar}foo\"\n", NULL },
	{ "- action: uppercase\n  target_label: a\n  replacement: x\n", "'replacement' can not be set for uppercase action" },
	{ "- action: keepequal\n  target_label: a\n  regex: x\n",
	  "keepequal action requires only 'source_labels' and `target_label`, and no other fields" },
	{ "- action: dropequal\n  target_label: a\n  separator: \",\"\n",
	  "dropequal action requires only 'source_labels' and `target_label`, and no other fields" },
	{ "- action: labeldrop\n  regex: a\n  source_labels: [b]\n", "labeldrop action requires only 'regex', and no other fields" },
	{ "- action: labelkeep\n  regex: a\n  target_label: b\n", "labelkeep action requires only 'regex', and no other fields" },
	{ "- action: labelkeep\n  regex: a\n  modulus: 3\n", "labelkeep action requires only 'regex', and no other fields" },
	{ "- action: labelmap\n  regex: (.*)\n  replacement: \"-x\"\n", "\"-x\" is invalid 'replacement' for labelmap action" },
	{ "- action: labelmap\n  regex: __meta_kubernetes_pod_label_(strimzi_io_.+)\n  replacement: $1\n", NULL },
	{ "- action: bogus\n", "unknown relabel action \"bogus\"" },
	{ "- action: \"\"\n  target_label: x\n", "relabel action cannot be empty" },
	{ "- source_labels: [a-b]\n  target_label: x\n", "\"a-b\" is not a valid label name" },
	{ "- regex: a(b\n  target_label: x\n", "\"a(b\"" },
	{ "- action: hashmod\n  target_label: x\n  modulus: -1\n", "invalid modulus -1: must not be negative" },
	/* A null element keeps only the defaults: a replace without a target. */
	{ "- target_label: ok\n-\n", "item 1: relabel configuration for replace action requires 'target_label' value" },
};

static void test_validation(void **state)
{
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		struct arena *a = arena_new(0);
		struct wrap w;
		char err[512] = "";
		int rc = load(a, vcases[i].rules, &w, err, sizeof(err));

		if (!vcases[i].err) {
			if (rc)
				fail_msg("vcase %zu: unexpected error %s", i, err);
		} else {
			size_t el = strlen(err), wl = strlen(vcases[i].err);
			if (rc == 0 || el < wl || strcmp(err + el - wl, vcases[i].err) != 0)
				fail_msg("vcase %zu: want ...%s\ngot %s", i, vcases[i].err, err);
			/* The message carries the file position and the key path. */
			assert_true(strncmp(err, "test.yml:", 9) == 0);
			assert_non_null(strstr(err, "relabel_configs"));
		}
		arena_free(a);
	}
}

static void test_compile_errors(void **state)
{
	struct relabel_config c[3];
	char err[256];

	for (int i = 0; i < 3; i++) {
		relabel_config_init(&c[i]);
		c[i].target_label = "t";
	}
	c[2].regex = "(";
	assert_int_equal(relabel_configs_compile(c, 3, err, sizeof(err)), -1);
	assert_true(strncmp(err, "item 2: error parsing regexp", 28) == 0);
	/* Rules compiled before the failing one were released again. */
	assert_null(c[0].re);
	assert_null(c[1].re);
	assert_int_equal(relabel_config_validate(&c[0], err, sizeof(err)), 0);
	c[0].action = "labeldrop";
	c[0].target_label = "";
	assert_int_equal(relabel_configs_compile(c, 1, err, sizeof(err)), 0);
	assert_int_equal(c[0].act, RELABEL_LABELDROP);
	relabel_configs_release(c, 1);
	assert_null(c[0].re);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_big_modulus),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_compile_errors),
	};
	int rc = cmocka_run_group_tests_name("relabel", tests, NULL, NULL);

	labels_regex_thread_cleanup();
	return rc;
}
