/*
 * lgtm-metrics' prometheus.yml: the schema, Prometheus' defaults and its load-time
 * checks, through metrics_config_check as the runtime calls it. The daemon's
 * config code is not part of liblgtm.a, so this test compiles it in.
 *
 * A realistic file (the kind node_exporter users write) must load with the values
 * Prometheus would give it; every error must name file:line:col and read as
 * Prometheus words it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../daemons/metrics/metrics_config.c"
#include "relabel/relabel.h"
#include "scrape/scrape.h"

struct fx {
	struct arena *a;
	struct metrics_config c;
	char err[512];
};

static int load(struct fx *f, const char *yaml)
{
	f->a = arena_new(0);
	assert_non_null(f->a);
	metrics_config_defaults(&f->c);
	f->err[0] = '\0';
	if (cfg_load_buffer("prometheus.yml", yaml, strlen(yaml), &metrics_config_schema, &f->c,
			    f->a, f->err, sizeof(f->err)))
		return -1;
	return metrics_config_check(&f->c, f->err, sizeof(f->err));
}

static const struct scrape_config *job(const struct fx *f, size_t i)
{
	assert_true(i < f->c.scrape_configs.n);
	return (const struct scrape_config *)f->c.scrape_configs.v + i;
}

static const char realistic[] =
	"# my global config\n"
	"global:\n"
	"  scrape_interval: 15s\n"
	"  evaluation_interval: 15s\n"
	"  external_labels:\n"
	"    monitor: 'codelab-monitor'\n"
	"    region: ''\n"
	"\n"
	"scrape_configs:\n"
	"  - job_name: 'prometheus'\n"
	"    scrape_interval: 5s\n"
	"    static_configs:\n"
	"      - targets: ['localhost:9090']\n"
	"\n"
	"  - job_name: 'node'\n"
	"    static_configs:\n"
	"      - targets: ['localhost:9100', 'db1:9100']\n"
	"        labels:\n"
	"          group: 'production'\n"
	"    relabel_configs:\n"
	"      - source_labels: [__address__]\n"
	"        regex: '([^:]+):\\d+'\n"
	"        target_label: instance\n"
	"        replacement: '${1}'\n"
	"    metric_relabel_configs:\n"
	"      - source_labels: [__name__]\n"
	"        regex: 'node_scrape_collector_.*'\n"
	"        action: drop\n"
	"\n"
	"  - job_name: blackbox\n"
	"    metrics_path: /probe\n"
	"    params:\n"
	"      module: [http_2xx]\n"
	"    static_configs:\n"
	"      - targets:\n"
	"        - https://example.com\n"
	"    relabel_configs:\n"
	"      - source_labels: [__address__]\n"
	"        target_label: __param_target\n"
	"      - source_labels: [__param_target]\n"
	"        target_label: instance\n"
	"      - target_label: __address__\n"
	"        replacement: 127.0.0.1:9115\n"
	"\n"
	"  - job_name: files\n"
	"    scheme: https\n"
	"    honor_labels: true\n"
	"    scrape_timeout: 3s\n"
	"    sample_limit: 10000\n"
	"    body_size_limit: 10MB\n"
	"    file_sd_configs:\n"
	"      - files: ['/etc/prometheus/targets/*.json', 'more/*.yml']\n"
	"        refresh_interval: 1m\n"
	"    tls_config:\n"
	"      ca_file: /etc/ssl/ca.pem\n"
	"      insecure_skip_verify: false\n"
	"    basic_auth:\n"
	"      username: prom\n"
	"      password_file: /etc/prometheus/pw\n"
	"  - job_name: bearer\n"
	"    authorization:\n"
	"      credentials_file: token\n"
	"    static_configs: [{targets: ['app:8080']}]\n";

static void test_realistic(void **state)
{
	struct fx f = { 0 };
	const struct scrape_config *j;
	const struct scrape_file_sd_config *fsd;
	const struct scrape_static_config *sc;
	struct labels ext;

	if (load(&f, realistic))
		fail_msg("%s", f.err);
	assert_int_equal(f.c.scrape_configs.n, 5);

	j = job(&f, 0);
	assert_string_equal(j->job_name, "prometheus");
	assert_int_equal(j->scrape_interval_ms, 5000);
	assert_int_equal(j->scrape_timeout_ms, 5000); /* min(global 10s, 5s) */
	assert_string_equal(j->metrics_path, "/metrics");
	assert_string_equal(j->scheme, "http");
	assert_true(j->honor_timestamps && !j->honor_labels && j->follow_redirects);
	assert_int_equal(j->pos.line, 10);
	assert_int_equal(j->pos.col, 5);

	j = job(&f, 1);
	assert_int_equal(j->scrape_interval_ms, 15000);
	assert_int_equal(j->scrape_timeout_ms, 10000);
	sc = j->static_configs.v;
	assert_int_equal(sc[0].targets.n, 2);
	assert_string_equal(sc[0].labels.keys[0], "group");
	assert_int_equal(j->relabel_configs.n, 1);
	assert_string_equal(((struct relabel_config *)j->relabel_configs.v)[0].replacement, "${1}");
	assert_int_equal(j->metric_relabel_configs.n, 1);

	j = job(&f, 2);
	assert_string_equal(j->metrics_path, "/probe");
	assert_int_equal(j->params.n, 1);
	assert_string_equal(j->params.keys[0], "module");
	assert_string_equal(j->params.vals[0].v[0], "http_2xx");

	j = job(&f, 3);
	assert_string_equal(j->scheme, "https");
	assert_true(j->honor_labels);
	assert_int_equal(j->scrape_timeout_ms, 3000);
	assert_int_equal(j->sample_limit, 10000);
	assert_int_equal(j->body_size_limit, 10u << 20);
	fsd = j->file_sd_configs.v;
	assert_int_equal(fsd[0].files.n, 2);
	assert_int_equal(fsd[0].refresh_interval_ms, 60000);
	assert_string_equal(j->tls_config.ca_file, "/etc/ssl/ca.pem");
	assert_int_not_equal(j->basic_auth.pos.line, 0);
	assert_int_equal(j->authorization.pos.line, 0);
	assert_string_equal(j->basic_auth.password_file, "/etc/prometheus/pw");
	assert_string_equal(j->pos.file, "prometheus.yml");

	j = job(&f, 4);
	assert_string_equal(j->authorization.type, "Bearer");
	assert_string_equal(j->authorization.credentials_file, "token");

	assert_int_equal(metrics_config_external_labels(&f.c, f.a, &ext), 0);
	assert_int_equal(ext.n, 1); /* an empty value is no label */
	assert_string_equal(ext.v[0].name, "monitor");
	arena_free(f.a);
}

static void test_defaults(void **state)
{
	struct fx f = { 0 };

	assert_int_equal(load(&f, ""), 0);
	assert_int_equal(f.c.global.scrape_interval_ms, 60000);
	assert_int_equal(f.c.global.scrape_timeout_ms, 10000);
	assert_int_equal(f.c.scrape_configs.n, 0);
	arena_free(f.a);
	assert_int_equal(load(&f, "global: {scrape_interval: 2s}\n"
				  "scrape_configs: [{job_name: a}]\n"), 0);
	assert_int_equal(f.c.global.scrape_timeout_ms, 2000);
	assert_int_equal(job(&f, 0)->scrape_interval_ms, 2000);
	assert_int_equal(job(&f, 0)->scrape_timeout_ms, 2000);
	arena_free(f.a);
}

struct bad {
	const char *yaml;
	const char *err;
};

static const struct bad bad[] = {
	{ "scrape_configs:\n  - job_name: node\n  - job_name: x\n  - job_name: node\n",
	  "prometheus.yml:4:5: scrape_configs[2]: found multiple scrape configs with job name \"node\"" },
	{ "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n",
	  "prometheus.yml:2:5: scrape_configs[0]: scrape timeout greater than scrape interval for scrape config with job name \"a\"" },
	{ "global: {scrape_interval: 5s}\nscrape_configs:\n  - job_name: a\n    scrape_timeout: 6s\n",
	  "prometheus.yml:3:5: scrape_configs[0]: scrape timeout greater than scrape interval for scrape config with job name \"a\"" },
	{ "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: p\n      password_file: f\n",
	  "prometheus.yml:4:7: scrape_configs[0].basic_auth: at most one of basic_auth password & password_file must be configured" },
	{ "scrape_configs:\n  - job_name: a\n    authorization: {credentials: c, credentials_file: f}\n",
	  "prometheus.yml:3:20: scrape_configs[0].authorization: at most one of authorization credentials & credentials_file must be configured" },
	{ "scrape_configs:\n  - job_name: a\n    authorization: {type: ' Basic '}\n",
	  "prometheus.yml:3:20: scrape_configs[0].authorization: authorization type cannot be set to \"basic\", use \"basic_auth\" instead" },
	{ "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u}\n    authorization: {credentials: c}\n",
	  "prometheus.yml:4:20: scrape_configs[0].authorization: at most one of basic_auth, oauth2 & authorization must be configured" },
	{ "scrape_configs:\n  - job_name: a\n    tls_config: {cert_file: c.pem}\n",
	  "prometheus.yml:2:5: scrape_configs[0]: exactly one of key or key_file must be configured when a client certificate is configured" },
	{ "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['http://h:9100/metrics']\n",
	  "prometheus.yml:2:5: scrape_configs[0]: \"http://h:9100/metrics\" is not a valid hostname" },
	{ "scrape_configs:\n  - job_name: a\n    static_configs:\n      - labels: {'bad-name': x}\n",
	  "prometheus.yml:4:17: scrape_configs[0].static_configs[0].labels: \"bad-name\" is not a valid label name" },
	{ "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['/etc/*/x.json']\n",
	  "prometheus.yml:4:16: scrape_configs[0].file_sd_configs[0].files: path name \"/etc/*/x.json\" is not valid for file discovery" },
	{ "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['t.txt']\n",
	  "prometheus.yml:4:16: scrape_configs[0].file_sd_configs[0].files: path name \"t.txt\" is not valid for file discovery" },
	{ "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - refresh_interval: 1m\n",
	  "prometheus.yml:4:9: scrape_configs[0].file_sd_configs[0]: file service discovery config must contain at least one path name" },
	{ "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - {files: [a.yml], refresh_interval: 0s}\n",
	  "prometheus.yml:4:44: scrape_configs[0].file_sd_configs[0].refresh_interval: must be greater than 0" },
	{ "scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
	  "prometheus.yml:3:13: scrape_configs[0].scheme: invalid scheme \"ftp\": must be \"http\" or \"https\"" },
	{ "scrape_configs:\n  - job_name: a\n    sample_limit: -1\n",
	  "prometheus.yml:3:19: scrape_configs[0].sample_limit: cannot unmarshal -1 into an unsigned integer" },
	{ "scrape_configs:\n  - job_name: ''\n",
	  "prometheus.yml:2:15: scrape_configs[0].job_name: job_name is empty" },
	{ "scrape_configs:\n  - scrape_interval: 1m\n",
	  "prometheus.yml:2:5: scrape_configs[0].job_name: missing required key" },
	{ "scrape_configs:\n  - job_name: a\n    scrape_intervall: 1m\n",
	  "prometheus.yml:3:5: scrape_configs[0].scrape_intervall: unknown key" },
	{ "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: explode\n",
	  "prometheus.yml:4:7: scrape_configs[0].relabel_configs: item 0: unknown relabel action \"explode\"" },
	{ "scrape_configs:\n  - job_name: a\n    params: {module: http_2xx}\n",
	  "prometheus.yml:3:22: scrape_configs[0].params.module: expected a sequence, got a scalar" },
	{ "scrape_configs:\n  - job_name: a\n    body_size_limit: 10XB\n",
	  "prometheus.yml:3:22: scrape_configs[0].body_size_limit: invalid byte size \"10XB\"" },
	{ "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
	  "prometheus.yml:2:3: global: global scrape timeout greater than scrape interval" },
	{ "global:\n  scrape_interval: 0s\n",
	  "prometheus.yml:2:3: global: scrape_interval and evaluation_interval must be positive" },
	{ "global:\n  external_labels: {'a-b': c}\n",
	  "prometheus.yml:2:20: global.external_labels: \"a-b\" is not a valid label name" },
	{ "scrape_configs:\n  - job_name: a\n    remote_write: []\n",
	  "prometheus.yml:3:5: scrape_configs[0].remote_write: unknown key" },
};

static void test_errors(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx f = { 0 };

		if (load(&f, bad[i].yaml) == 0)
			fail_msg("case %zu loaded: %s", i, bad[i].yaml);
		if (strcmp(f.err, bad[i].err))
			fail_msg("case %zu:\n got: %s\nwant: %s", i, f.err, bad[i].err);
		arena_free(f.a);
	}
}

/* The static target check is skipped with relabeling, which can turn a URL into
 * an address (blackbox exporter style). */
static void test_url_targets_with_relabeling(void **state)
{
	struct fx f = { 0 };

	assert_int_equal(load(&f, "scrape_configs:\n  - job_name: bb\n"
				  "    static_configs: [{targets: ['https://a/b']}]\n"
				  "    relabel_configs: [{target_label: __address__, replacement: 'x:1'}]\n"),
			 0);
	arena_free(f.a);
}

/* /api/v1/status/config shows the config through cfg_dump_yaml: what it writes must
 * load back to the same scrape configs (so the dump is complete), with secrets
 * masked and blocks that were not written left out. */
static void test_dump_round_trip(void **state)
{
	struct fx f = { 0 }, g = { 0 };
	struct buf out = { 0 };

	if (load(&f, realistic))
		fail_msg("%s", f.err);
	cfg_dump_yaml(&metrics_config_schema, &f.c, &out);
	assert_non_null(strstr(out.data, "  params:\n    module:\n    - http_2xx\n"));
	assert_null(strstr(out.data, "basic_auth:\n    tls_config")); /* no empty blocks */
	if (load(&g, out.data))
		fail_msg("%s\n%s", g.err, out.data);
	assert_int_equal(g.c.scrape_configs.n, f.c.scrape_configs.n);
	for (size_t i = 0; i < f.c.scrape_configs.n; i++)
		assert_true(cfg_equal(&scrape_config_schema, job(&f, i), job(&g, i)));
	buf_free(&out);
	arena_free(f.a);
	arena_free(g.a);

	assert_int_equal(load(&f, "scrape_configs:\n  - job_name: a\n"
				  "    basic_auth: {username: u, password: hunter2}\n"), 0);
	cfg_dump_yaml(&metrics_config_schema, &f.c, &out);
	assert_non_null(strstr(out.data, "password: <secret>"));
	assert_null(strstr(out.data, "hunter2"));
	buf_free(&out);
	arena_free(f.a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realistic),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_url_targets_with_relabeling),
		cmocka_unit_test(test_dump_round_trip),
	};

	return cmocka_run_group_tests_name("metrics_config", tests, NULL, NULL);
}
