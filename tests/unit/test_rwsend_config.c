/*
 * rwsend configuration: `remote_write:` lists loaded through the schema fragment as
 * a prometheus.yml would write them. Defaults are Prometheus 2.42's (read back from
 * a real `prometheus` 2.42 via /api/v1/status/config); the error texts are those
 * promtool 2.42 prints for the same input, where Prometheus has one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relabel/relabel.h"
#include "rwsend/rwsend.h"
#include "rwsend_yaml.h"

struct wrap {
	struct cfg_list rw;
};

static int load(struct arena *a, const char *yaml, struct wrap *w, char *err, size_t errlen)
{
	return rwsend_yaml_load(yaml, a, &w->rw, err, errlen);
}

static void test_defaults(void **state)
{
	struct arena *a = arena_new(0);
	struct wrap w;
	char err[512];
	const struct rwsend_config *c;

	assert_int_equal(load(a, "  - url: http://127.0.0.1:9009/api/v1/push\n", &w, err, sizeof(err)), 0);
	assert_int_equal(w.rw.n, 1);
	c = w.rw.v;
	assert_string_equal(c->url, "http://127.0.0.1:9009/api/v1/push");
	assert_null(c->name);
	assert_int_equal(c->remote_timeout_ms, 30000);
	assert_true(c->follow_redirects);
	assert_int_equal(c->queue_config.capacity, 2500);
	assert_int_equal(c->queue_config.max_shards, 200);
	assert_int_equal(c->queue_config.min_shards, 1);
	assert_int_equal(c->queue_config.max_samples_per_send, 500);
	assert_int_equal(c->queue_config.batch_send_deadline_ms, 5000);
	assert_int_equal(c->queue_config.min_backoff_ms, 30);
	assert_int_equal(c->queue_config.max_backoff_ms, 5000);
	assert_false(c->queue_config.retry_on_http_429);
	assert_false(c->send_exemplars);
	assert_int_equal(c->write_relabel_configs.n, 0);
	arena_free(a);
}

static void test_full_entry(void **state)
{
	struct arena *a = arena_new(0);
	struct wrap w;
	char err[512];
	const struct rwsend_config *c;
	const struct relabel_config *r;

	assert_int_equal(load(a,
			      "  - url: https://mimir.example:443/api/v1/push\n"
			      "    name: longterm\n"
			      "    remote_timeout: 10s\n"
			      "    headers: {X-Scope-OrgID: tenant-1}\n"
			      "    basic_auth: {username: u, password_file: /etc/lgtm/pw}\n"
			      "    tls_config: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem,\n"
			      "                 server_name: mimir, insecure_skip_verify: true}\n"
			      "    proxy_url: http://proxy:3128\n"
			      "    follow_redirects: false\n"
			      "    enable_http2: false\n"
			      "    send_exemplars: true\n"
			      "    write_relabel_configs:\n"
			      "      - source_labels: [__name__]\n"
			      "        regex: go_.*\n"
			      "        action: drop\n"
			      "    queue_config:\n"
			      "      capacity: 100\n"
			      "      max_shards: 4\n"
			      "      min_shards: 2\n"
			      "      max_samples_per_send: 50\n"
			      "      batch_send_deadline: 1s\n"
			      "      min_backoff: 100ms\n"
			      "      max_backoff: 10s\n"
			      "      retry_on_http_429: true\n",
			      &w, err, sizeof(err)),
			 0);
	c = w.rw.v;
	assert_string_equal(c->name, "longterm");
	assert_int_equal(c->remote_timeout_ms, 10000);
	assert_int_equal(c->headers.n, 1);
	assert_string_equal(c->headers.keys[0], "X-Scope-OrgID");
	assert_string_equal(c->headers.vals[0], "tenant-1");
	assert_string_equal(c->basic_auth.username, "u");
	assert_string_equal(c->basic_auth.password_file, "/etc/lgtm/pw");
	assert_string_equal(c->tls_config.server_name, "mimir");
	assert_true(c->tls_config.insecure_skip_verify);
	assert_false(c->follow_redirects);
	assert_true(c->send_exemplars);
	assert_string_equal(c->proxy_url, "http://proxy:3128");
	assert_int_equal(c->write_relabel_configs.n, 1);
	r = c->write_relabel_configs.v;
	assert_string_equal(r->action, "drop");
	assert_string_equal(r->separator, ";"); /* relabel defaults applied */
	assert_int_equal(c->queue_config.capacity, 100);
	assert_int_equal(c->queue_config.min_shards, 2);
	assert_int_equal(c->queue_config.max_samples_per_send, 50);
	assert_int_equal(c->queue_config.batch_send_deadline_ms, 1000);
	assert_int_equal(c->queue_config.min_backoff_ms, 100);
	assert_true(c->queue_config.retry_on_http_429);
	arena_free(a);
}

struct bad {
	const char *yaml;
	const char *want;
};

static const struct bad bad_cases[] = {
	{ "  - name: x\n", "url for remote_write is empty" },
	{ "  -\n", "url for remote_write is empty" },
	{ "  - url: ftp://x/y\n", "unsupported protocol scheme \"ftp\"" },
	{ "  - url: \"http://\"\n", "invalid remote_write url" },
	{ "  - url: http://x/\n    headers: {Content-Type: x}\n",
	  "Content-Type is a reserved header. It must not be changed" },
	{ "  - url: http://x/\n    headers: {x-prometheus-remote-write-version: \"2\"}\n",
	  "x-prometheus-remote-write-version is a reserved header" },
	{ "  - url: http://x/\n    headers: {authorization: x}\n",
	  "authorization header must be changed via the basic_auth, authorization, oauth2, or sigv4 parameter" },
	{ "  - url: http://x/\n    basic_auth: {username: a, password: b}\n    authorization: {credentials: c}\n",
	  "at most one of basic_auth, oauth2 & authorization must be configured" },
	{ "  - url: http://x/\n    basic_auth: {username: a, password: b, password_file: /f}\n",
	  "at most one of basic_auth password & password_file must be configured" },
	{ "  - url: http://x/\n    authorization: {credentials: a, credentials_file: /f}\n",
	  "at most one of authorization credentials & credentials_file must be configured" },
	{ "  - url: http://x/\n    authorization: {type: Basic, credentials: a}\n",
	  "authorization type cannot be set to \"basic\", use \"basic_auth\" instead" },
	{ "  - url: http://x/\n    tls_config: {cert_file: /c.pem}\n",
	  "client cert file \"/c.pem\" specified without client key file" },
	{ "  - url: http://x/\n    tls_config: {key_file: /k.pem}\n",
	  "client key file \"/k.pem\" specified without client cert file" },
	{ "  - url: http://x/\n    name: a\n  - url: http://y/\n    name: a\n",
	  "found multiple remote write configs with job name \"a\"" },
	{ "  - url: http://x/\n  - url: http://x/\n",
	  "duplicate remote write configs are not allowed, found duplicate for URL: http://x/" },
	{ "  - url: http://x/\n    queue_config: {capacity: 0}\n", "capacity must be between 1" },
	{ "  - url: http://x/\n    queue_config: {max_samples_per_send: -1}\n",
	  "max_samples_per_send must be between 1" },
	{ "  - url: http://x/\n    queue_config: {min_shards: 0}\n", "min_shards must be between 1" },
	{ "  - url: http://x/\n    queue_config: {min_shards: 5, max_shards: 2}\n",
	  "max_shards (2) must not be below min_shards (5)" },
	{ "  - url: http://x/\n    queue_config: {min_backoff: 10s, max_backoff: 1s}\n",
	  "min_backoff must not exceed max_backoff" },
	{ "  - url: http://x/\n    queue_config: {batch_send_deadline: 0s}\n",
	  "batch_send_deadline must be positive" },
	{ "  - url: http://x/\n    write_relabel_configs:\n      - action: hashmod\n        target_label: x\n",
	  "relabel configuration for hashmod requires non-zero modulus" },
	{ "  - url: http://x/\n    send_native_histograms: true\n", "unknown key" },
	{ "  - url: http://x/\n    queue_config: {capacty: 5}\n", "unknown key" },
};

static void test_invalid(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct arena *a = arena_new(0);
		struct wrap w;
		char err[512] = "";
		int rc = load(a, bad_cases[i].yaml, &w, err, sizeof(err));

		if (getenv("SHOW"))
			printf("%s\n", err);
		if (rc == 0 || !strstr(err, bad_cases[i].want) || strncmp(err, "test.yml:", 9))
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err, bad_cases[i].want);
		arena_free(a);
	}
}

static void test_names(void **state)
{
	struct arena *a = arena_new(0);
	struct wrap w;
	char err[512], n0[64], n1[64], n2[64], n3[64];
	const struct rwsend_config *c;

	assert_int_equal(load(a,
			      "  - url: http://x/\n    name: primary\n"
			      "  - url: http://x/\n    headers: {X-Scope-OrgID: a}\n"
			      "  - url: http://x/\n    headers: {X-Scope-OrgID: b}\n"
			      "  - url: http://x/\n    headers: {X-Scope-OrgID: a}\n    queue_config: {capacity: 7}\n"
			      "    name: \"\"\n",
			      &w, err, sizeof(err)) == 0 ? -1 : 0, 0);
	/* Entries 1 and 3 are the same receiver and tenant: a duplicate. */
	assert_non_null(strstr(err, "duplicate remote write configs"));
	arena_free(a);

	a = arena_new(0);
	assert_int_equal(load(a,
			      "  - url: http://x/\n    name: primary\n"
			      "  - url: http://x/\n    headers: {X-Scope-OrgID: a}\n"
			      "  - url: http://x/\n    headers: {X-Scope-OrgID: b}\n"
			      "  - url: http://y/\n    headers: {X-Scope-OrgID: a}\n",
			      &w, err, sizeof(err)),
			 0);
	c = w.rw.v;
	rwsend_config_name(&c[0], n0, sizeof(n0));
	rwsend_config_name(&c[1], n1, sizeof(n1));
	rwsend_config_name(&c[2], n2, sizeof(n2));
	rwsend_config_name(&c[3], n3, sizeof(n3));
	assert_string_equal(n0, "primary");
	assert_int_equal(strlen(n1), 6);
	assert_int_equal(strspn(n1, "0123456789abcdef"), 6);
	assert_string_not_equal(n1, n2);
	assert_string_not_equal(n1, n3);
	/* The name does not depend on tuning. */
	{
		struct rwsend_config tuned = c[1];

		tuned.queue_config.capacity = 1;
		tuned.remote_timeout_ms = 1;
		rwsend_config_name(&tuned, n0, sizeof(n0));
		assert_string_equal(n0, n1);
	}
	arena_free(a);
}

static void test_validate_in_code(void **state)
{
	struct rwsend_config c[2];
	char err[512];

	rwsend_config_init(&c[0]);
	rwsend_config_init(&c[1]);
	c[0].url = "http://a/";
	c[1].url = "http://b/";
	assert_int_equal(rwsend_configs_validate(c, 2, err, sizeof(err)), 0);
	assert_int_equal(rwsend_configs_validate(NULL, 0, err, sizeof(err)), 0);
	c[1].queue_config.capacity = 0;
	assert_int_equal(rwsend_configs_validate(c, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "item 1: queue_config: capacity"));
	c[1].queue_config.capacity = 10;
	c[1].url = NULL;
	assert_int_equal(rwsend_configs_validate(c, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "url for remote_write is empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_entry),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_validate_in_code),
	};

	return cmocka_run_group_tests_name("rwsend_config", tests, NULL, NULL);
}
