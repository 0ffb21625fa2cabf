/* remotewrite: a real sender's body decodes to the right batch; every bad input is
 * either a whole-request error or a per-series rejection, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compress/compress.h"
#include "prometheus/remote.pb-c.h"
#include "proto/proto.h"
#include "remote/remote.h"

static char *read_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("LGTM_FIXTURES");
	char path[512];
	FILE *f;
	char *data;
	long n;

	snprintf(path, sizeof(path), "%s/proto/%s", dir ? dir : "tests/fixtures", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

/* The body prometheus-remote-write (npm) POSTs, with no Content-Encoding header. */
static void test_golden_body(void **state)
{
	struct arena *a = arena_new(0);
	struct remote_write_batch b;
	char err[256];
	size_t len;
	char *body = read_fixture("prom_write.snappy", &len);

	assert_int_equal(remote_write_decode(body, len, NULL, NULL, NULL, a, &b, err, sizeof(err)), 0);
	assert_int_equal(b.nseries, 2);
	assert_int_equal(b.nsamples, 3);
	assert_int_equal(b.invalid_series, 0);
	assert_string_equal(labels_get(b.series[0].labels, "__name__"), "http_requests_total");
	assert_string_equal(labels_get(b.series[0].labels, "env"), "test");
	/* sorted */
	for (size_t i = 1; i < b.series[0].labels->n; i++)
		assert_true(strcmp(b.series[0].labels->v[i - 1].name, b.series[0].labels->v[i].name) < 0);
	assert_int_equal(b.series[0].samples[1].t, 1700000015000);
	assert_true(b.series[0].samples[1].v == 1042.5);
	assert_string_equal(labels_get(b.series[1].labels, "room"), "k\xc3\xbc" "che");
	assert_true(b.series[1].samples[0].v == -3.25);
	remote_write_batch_free(&b);
	free(body);
	arena_free(a);
}

/* Build a snappy WriteRequest body from label sets given as "n=v,n=v" strings. */
static void build(struct buf *out, const char *const *series, size_t nseries)
{
	Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
	Prometheus__TimeSeries ts[8], *tsp[8];
	Prometheus__Label lab[8][16], *labp[8][16];
	Prometheus__Sample smp = PROMETHEUS__SAMPLE__INIT, *smpp = &smp;
	char copies[8][256];
	struct buf pb = { 0 };
	char err[128];

	smp.timestamp = 1000;
	smp.value = 1;
	for (size_t i = 0; i < nseries; i++) {
		char *p, *save = NULL;
		size_t n = 0;
		prometheus__time_series__init(&ts[i]);
		snprintf(copies[i], sizeof(copies[i]), "%s", series[i]);
		for (p = strtok_r(copies[i], ",", &save); p; p = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(p, '=');
			prometheus__label__init(&lab[i][n]);
			*eq = '\0';
			lab[i][n].name = p;
			lab[i][n].value = eq + 1;
			labp[i][n] = &lab[i][n];
			n++;
		}
		ts[i].n_labels = n;
		ts[i].labels = labp[i];
		ts[i].n_samples = 1;
		ts[i].samples = &smpp;
		tsp[i] = &ts[i];
	}
	req.n_timeseries = nseries;
	req.timeseries = tsp;
	assert_int_equal(proto_pack(&req.base, &pb, err, sizeof(err)), 0);
	assert_int_equal(compress_encode(COMPRESS_SNAPPY, pb.data, pb.len, 0, out, err, sizeof(err)), 0);
	buf_free(&pb);
}

static void test_partially_bad_request(void **state)
{
	static const char *const series[] = {
		"__name__=good,job=a",
		"__name__=dup,job=a,job=b",
		"__name__=badname,bad-label=x",
		"job=nameless",
		"__name__=1startsdigit",
		"__name__=also_good,empty=,job=b",
	};
	struct arena *a = arena_new(0);
	struct buf body = { 0 };
	struct remote_write_batch b;
	char err[256];

	build(&body, series, 6);
	assert_int_equal(remote_write_decode(body.data, body.len, NULL, NULL, NULL, a, &b, err, sizeof(err)), 0);
	assert_int_equal(b.nseries, 2);
	assert_int_equal(b.invalid_series, 4);
	assert_int_equal(b.invalid_samples, 4);
	assert_string_equal(labels_get(b.series[1].labels, "__name__"), "also_good");
	assert_null(labels_get(b.series[1].labels, "empty")); /* empty value = no label */
	assert_non_null(strstr(b.errors.data, "duplicate label name: job"));
	assert_non_null(strstr(b.errors.data, "invalid label name: bad-label"));
	assert_non_null(strstr(b.errors.data, "no metric name"));
	assert_non_null(strstr(b.errors.data, "invalid metric name: 1startsdigit"));
	remote_write_batch_free(&b);
	buf_free(&body);
	arena_free(a);
}

static void test_too_many_labels(void **state)
{
	Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
	Prometheus__TimeSeries ts = PROMETHEUS__TIME_SERIES__INIT, *tsp = &ts;
	enum { N = 10000 };
	Prometheus__Label *lab = calloc(N, sizeof(*lab));
	Prometheus__Label **labp = calloc(N, sizeof(*labp));
	char (*names)[16] = calloc(N, 16);
	struct buf pb = { 0 };
	struct arena *a = arena_new(0);
	struct remote_write_batch b;
	char err[256];

	for (int i = 0; i < N; i++) {
		prometheus__label__init(&lab[i]);
		snprintf(names[i], 16, i ? "l%d" : "__name__", i);
		lab[i].name = names[i];
		lab[i].value = "v";
		labp[i] = &lab[i];
	}
	ts.n_labels = N;
	ts.labels = labp;
	req.n_timeseries = 1;
	req.timeseries = &tsp;
	assert_int_equal(proto_pack(&req.base, &pb, err, sizeof(err)), 0);
	/* Already-decoded body (as after the HTTP layer's Content-Encoding step). */
	assert_int_equal(remote_write_decode(pb.data, pb.len, "snappy", NULL, NULL, a, &b, err, sizeof(err)), 0);
	assert_int_equal(b.nseries, 0);
	assert_int_equal(b.invalid_series, 1);
	assert_non_null(strstr(b.errors.data, "10000 labels, more than the limit of 128"));
	remote_write_batch_free(&b);
	buf_free(&pb);
	free(lab);
	free(labp);
	free(names);
	arena_free(a);
}

/* Exemplars come with their series: labels sorted, empty values dropped; an invalid
 * series takes its exemplars with it. */
static void test_exemplars(void **state)
{
	Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
	Prometheus__TimeSeries ts[2], *tsp[2] = { &ts[0], &ts[1] };
	Prometheus__Label name = PROMETHEUS__LABEL__INIT, bad = PROMETHEUS__LABEL__INIT;
	Prometheus__Label el[3], *elp[3] = { &el[0], &el[1], &el[2] }, *namep = &name, *badp = &bad;
	Prometheus__Exemplar ex[2], *exp0[2] = { &ex[0], &ex[1] };
	Prometheus__Sample smp = PROMETHEUS__SAMPLE__INIT, *smpp = &smp;
	struct arena *a = arena_new(0);
	struct remote_write_batch b;
	struct buf pb = { 0 };
	char err[256];

	name.name = "__name__";
	name.value = "req_total";
	bad.name = "no-name";
	bad.value = "x";
	for (int i = 0; i < 3; i++)
		prometheus__label__init(&el[i]);
	el[0] = (Prometheus__Label){ el[0].base, "trace_id", "abc" };
	el[1] = (Prometheus__Label){ el[1].base, "empty", "" };
	el[2] = (Prometheus__Label){ el[2].base, "span_id", "42" };
	for (int i = 0; i < 2; i++) {
		prometheus__exemplar__init(&ex[i]);
		prometheus__time_series__init(&ts[i]);
		ts[i].n_samples = 1;
		ts[i].samples = &smpp;
		ts[i].n_exemplars = 2;
		ts[i].exemplars = exp0;
	}
	ex[0].n_labels = 3;
	ex[0].labels = elp;
	ex[0].value = 0.5;
	ex[0].timestamp = 1700000000123;
	ex[1].timestamp = 1700000001000;
	ts[0].n_labels = 1;
	ts[0].labels = &namep;
	ts[1].n_labels = 1;
	ts[1].labels = &badp; /* no __name__: invalid */
	req.n_timeseries = 2;
	req.timeseries = tsp;
	assert_int_equal(proto_pack(&req.base, &pb, err, sizeof(err)), 0);
	assert_int_equal(remote_write_decode(pb.data, pb.len, "snappy", NULL, NULL, a, &b, err, sizeof(err)), 0);
	assert_int_equal(b.nseries, 1);
	assert_int_equal(b.invalid_series, 1);
	assert_int_equal(b.nexemplars, 2);
	assert_int_equal(b.series[0].nexemplars, 2);
	assert_int_equal(b.series[0].exemplars[0].labels.n, 2);
	assert_string_equal(b.series[0].exemplars[0].labels.v[0].name, "span_id");
	assert_string_equal(b.series[0].exemplars[0].labels.v[1].value, "abc");
	assert_int_equal(b.series[0].exemplars[0].t, 1700000000123);
	assert_true(b.series[0].exemplars[0].v == 0.5);
	assert_int_equal(b.series[0].exemplars[1].labels.n, 0);
	assert_int_equal(b.series[0].exemplars[1].t, 1700000001000);
	remote_write_batch_free(&b);
	buf_free(&pb);
	arena_free(a);
}

static void test_whole_request_errors(void **state)
{
	static const char *const one[] = { "__name__=x" };
	struct arena *a = arena_new(0);
	struct buf body = { 0 };
	struct remote_write_batch b;
	char err[256];

	assert_int_equal(remote_write_decode("", 0, NULL, NULL, NULL, a, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	/* Truncated snappy. */
	build(&body, one, 1);
	assert_int_equal(remote_write_decode(body.data, body.len - 3, NULL, NULL, NULL, a, &b, err, sizeof(err)), -1);
	/* Garbage protobuf (already decompressed). */
	assert_int_equal(remote_write_decode("\xff\xff\xff\xff\x0f garbage", 14, "snappy", NULL, NULL, a, &b, err,
				   sizeof(err)), -1);
	buf_free(&body);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_body),
		cmocka_unit_test(test_partially_bad_request),
		cmocka_unit_test(test_too_many_labels),
		cmocka_unit_test(test_exemplars),
		cmocka_unit_test(test_whole_request_errors),
	};
	return cmocka_run_group_tests_name("remote", tests, NULL, NULL);
}
