/* remote_wire: the zero-copy remote-write decoder and the series cache. The decoder is
 * held to protobuf-c: on golden payloads, on generated ones with every kind of series,
 * on hand-made unusual encodings, on every truncation and on random mutations, a body
 * the fast decoder accepts must be one protobuf-c accepts, decoded to the same batch;
 * and remote_write_decode() (fast or fallback) must always answer as the protobuf-c
 * path does, error messages included. */
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
#include "remote/remote_internal.h"

#include "fixture.h"

/* splitmix64: deterministic, so a failure reproduces. */
static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* --- comparing batches ---------------------------------------------------------------- */

static void same_labels(const struct labels *a, const struct labels *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].name, b->v[i].name);
		assert_string_equal(a->v[i].value, b->v[i].value);
	}
}

static void same_bits(double x, double y)
{
	assert_memory_equal(&x, &y, sizeof(x));
}

/* Either may come from a cache-using decode: labels are asked for. */
static void same_batch(const struct remote_write_batch *a, const struct remote_write_batch *b,
		       struct arena *ar)
{
	assert_int_equal(a->nseries, b->nseries);
	assert_int_equal(a->nsamples, b->nsamples);
	assert_int_equal(a->nexemplars, b->nexemplars);
	assert_int_equal(a->nhistograms, b->nhistograms);
	assert_int_equal(a->invalid_series, b->invalid_series);
	assert_int_equal(a->invalid_samples, b->invalid_samples);
	assert_int_equal(a->errors.len, b->errors.len);
	if (a->errors.len)
		assert_memory_equal(a->errors.data, b->errors.data, a->errors.len);
	for (size_t i = 0; i < a->nseries; i++) {
		const struct tsdb_db_series *x = &a->series[i], *y = &b->series[i];
		struct labels lx, ly;

		assert_int_equal(remote_write_series_labels(a, i, ar, &lx), 0);
		assert_int_equal(remote_write_series_labels(b, i, ar, &ly), 0);
		same_labels(&lx, &ly);
		assert_int_equal(x->n, y->n);
		for (size_t k = 0; k < x->n; k++) {
			assert_int_equal(x->samples[k].t, y->samples[k].t);
			same_bits(x->samples[k].v, y->samples[k].v);
		}
		assert_int_equal(x->nexemplars, y->nexemplars);
		for (size_t k = 0; k < x->nexemplars; k++) {
			same_labels(&x->exemplars[k].labels, &y->exemplars[k].labels);
			assert_int_equal(x->exemplars[k].t, y->exemplars[k].t);
			same_bits(x->exemplars[k].v, y->exemplars[k].v);
		}
	}
}

struct outcome {
	int pc_rc, fast_rc;
};

/* Decode pb both ways and hold them to each other; also the public entry point. */
static struct outcome check_body(const void *pb, size_t len)
{
	struct remote_write_limits lim;
	struct arena *a = arena_new(0);
	struct remote_write_batch slow, fast, pub;
	char e1[512], e2[512];
	struct outcome o;
	int rc;

	remote_limits_defaults(NULL, &lim);
	o.pc_rc = remote_write_decode_pc(pb, len, &lim, a, &slow, e1, sizeof(e1));
	o.fast_rc = remote_wire_decode(pb, len, &lim, NULL, a, &fast);
	assert_int_not_equal(o.fast_rc, REMOTE_WIRE_OOM);
	if (o.fast_rc == REMOTE_WIRE_OK) {
		/* Whatever the fast decoder takes, protobuf-c takes and reads alike. */
		assert_int_equal(o.pc_rc, 0);
		same_batch(&slow, &fast, a);
	}
	remote_write_batch_free(&fast);
	if (len) {
		rc = remote_write_decode(pb, len, "snappy", NULL, NULL, a, &pub, e2, sizeof(e2));
		assert_int_equal(rc, o.pc_rc);
		if (rc == 0)
			same_batch(&slow, &pub, a);
		else
			assert_string_equal(e1, e2);
		if (rc == 0)
			remote_write_batch_free(&pub);
	}
	if (o.pc_rc == 0)
		remote_write_batch_free(&slow);
	arena_free(a);
	return o;
}

/* --- building bodies ------------------------------------------------------------------ */

static const char *const names[] = {
	"__name__", "job", "instance", "cpu", "mode", "le", "bad-name", "", "9lives", "a_b",
};
static const char *const values[] = {
	"up", "node", "10.0.0.1:9100", "0", "idle", "", "k\xc3\xbc" "che", "bad\xff", "1ok",
	"node_cpu_seconds_total", "x",
};

#define MAXS 12
#define MAXL 10

struct gen {
	Prometheus__WriteRequest req;
	Prometheus__TimeSeries ts[MAXS], *tsp[MAXS];
	Prometheus__Label lab[MAXS][MAXL], *labp[MAXS][MAXL];
	Prometheus__Sample smp[MAXS][4], *smpp[MAXS][4];
	Prometheus__Exemplar ex[MAXS][2], *exp_[MAXS][2];
	Prometheus__Label exl[MAXS][2][3], *exlp[MAXS][2][3];
};

static void gen_labels(Prometheus__Label *lab, Prometheus__Label **labp, size_t n, bool named)
{
	for (size_t i = 0; i < n; i++) {
		prometheus__label__init(&lab[i]);
		lab[i].name = (char *)names[rnd() % (sizeof(names) / sizeof(names[0]))];
		lab[i].value = (char *)values[rnd() % (sizeof(values) / sizeof(values[0]))];
		if (i == 0 && named) {
			lab[i].name = "__name__";
			lab[i].value = rnd() % 8 ? "metric_a" : "1bad";
		}
		labp[i] = &lab[i];
	}
}

static void gen_body(struct gen *g, struct buf *out)
{
	static const double specials[] = { 0, -0.0, 1.5, 1e300, -3.25 };
	size_t ns = rnd() % MAXS;
	char err[128];

	prometheus__write_request__init(&g->req);
	for (size_t i = 0; i < ns; i++) {
		Prometheus__TimeSeries *t = &g->ts[i];

		prometheus__time_series__init(t);
		t->n_labels = rnd() % MAXL;
		gen_labels(g->lab[i], g->labp[i], t->n_labels, rnd() % 6);
		t->labels = g->labp[i];
		t->n_samples = rnd() % 4;
		for (size_t k = 0; k < t->n_samples; k++) {
			prometheus__sample__init(&g->smp[i][k]);
			g->smp[i][k].timestamp = (int64_t)(rnd() % 4 ? rnd() % 2000000000000ULL : rnd());
			g->smp[i][k].value = specials[rnd() % 5];
			g->smpp[i][k] = &g->smp[i][k];
		}
		t->samples = g->smpp[i];
		t->n_exemplars = rnd() % 5 == 0 ? rnd() % 3 : 0;
		for (size_t k = 0; k < t->n_exemplars; k++) {
			Prometheus__Exemplar *e = &g->ex[i][k];

			prometheus__exemplar__init(e);
			e->n_labels = rnd() % 3;
			gen_labels(g->exl[i][k], g->exlp[i][k], e->n_labels, false);
			e->labels = g->exlp[i][k];
			e->value = 0.25;
			e->timestamp = -(int64_t)(rnd() % 1000);
			g->exp_[i][k] = e;
		}
		t->exemplars = g->exp_[i];
		g->tsp[i] = t;
	}
	g->req.n_timeseries = ns;
	g->req.timeseries = g->tsp;
	buf_reset(out);
	assert_int_equal(proto_pack(&g->req.base, out, err, sizeof(err)), 0);
}

/* --- tests -------------------------------------------------------------------------------- */

static void test_golden(void **state)
{
	struct buf z = { 0 }, pb = { 0 };
	char err[128];
	struct outcome o;

	read_fixture("prom_write.snappy", &z);
	assert_int_equal(compress_decode(COMPRESS_SNAPPY, z.data, z.len, 1 << 20, &pb, err, sizeof(err)), 0);
	o = check_body(pb.data, pb.len);
	assert_int_equal(o.fast_rc, REMOTE_WIRE_OK); /* a real sender's body takes the fast path */
	buf_reset(&pb);
	read_fixture("prom_write_full.pb", &pb);
	o = check_body(pb.data, pb.len);
	assert_int_equal(o.pc_rc, 0);
	assert_int_equal(o.fast_rc, REMOTE_WIRE_OTHER); /* metadata: protobuf-c's */
	buf_reset(&pb);
	read_fixture("prom_write_histogram.pb", &pb);
	o = check_body(pb.data, pb.len);
	assert_int_equal(o.pc_rc, 0);
	assert_int_equal(o.fast_rc, REMOTE_WIRE_OTHER); /* native histograms: protobuf-c's */
	buf_free(&z);
	buf_free(&pb);
}

/* Generated bodies, each also cut at every length. */
static void test_generated_and_truncated(void **state)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct buf pb = { 0 };
	size_t fast = 0;

	for (int i = 0; i < 300; i++) {
		gen_body(g, &pb);
		fast += check_body(pb.data, pb.len).fast_rc == REMOTE_WIRE_OK;
		if (i % 10 == 0)
			for (size_t cut = 0; cut < pb.len; cut++)
				check_body(pb.data, cut);
	}
	assert_true(fast >= 290); /* protobuf-c's own encoding is the fast decoder's */
	buf_free(&pb);
	free(g);
}

/* Random byte changes: never a crash, never a disagreement. */
static void test_mutations(void **state)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct buf pb = { 0 };
	size_t fast = 0, accepted = 0;

	for (int i = 0; i < 3000; i++) {
		struct outcome o;

		gen_body(g, &pb);
		if (!pb.len)
			continue;
		for (int m = 1 + (int)(rnd() % 3); m > 0; m--) {
			size_t at = rnd() % pb.len;

			switch (rnd() % 4) {
			case 0: pb.data[at] = (char)rnd(); break;
			case 1: pb.data[at] ^= (char)(1u << (rnd() % 8)); break;
			case 2: pb.data[at] = (char)(pb.data[at] | 0x80); break;
			default: pb.len = at + 1; break;
			}
		}
		o = check_body(pb.data, pb.len);
		fast += o.fast_rc == REMOTE_WIRE_OK;
		accepted += o.pc_rc == 0;
	}
	assert_true(fast > 100); /* the mutations do reach the fast decoder */
	assert_true(accepted > fast);
	buf_free(&pb);
	free(g);
}

/* Encodings protobuf-c never writes but senders might: each decodes as protobuf-c
 * decodes it, whichever decoder takes it. */
static void test_unusual_encodings(void **state)
{
	static const struct {
		const char *why;
		const char *b;
		size_t len;
		int fast;
	} cases[] = {
#define B(s) s, sizeof(s) - 1
		{ "labels split by a sample", B("\x0a\x1f"
			"\x0a\x0d\x0a\x08__name__\x12\x01x"
			"\x12\x02\x10\x05"
			"\x0a\x0a\x0a\x03job\x12\x03" "abc"), REMOTE_WIRE_OK },
		{ "padded length prefix", B("\x0a\x12\x0a\x8d\x00\x0a\x08__name__\x12\x01x\x12\x00"),
			REMOTE_WIRE_OK },
		{ "length prefix of 6 bytes", B("\x0a\x16\x0a\x8d\x80\x80\x80\x80\x00\x0a\x08__name__\x12\x01x\x12\x00"),
			REMOTE_WIRE_OTHER },
		{ "name twice", B("\x0a\x1a\x0a\x18\x0a\x08__name__\x0a\x08__name__\x12\x02up"),
			REMOTE_WIRE_OTHER },
		{ "unknown field in a label", B("\x0a\x11\x0a\x0f\x0a\x08__name__\x12\x01x\x18\x01"),
			REMOTE_WIRE_OTHER },
		{ "unknown field in the request", B("\x10\x01"), REMOTE_WIRE_OTHER },
		{ "sample value as varint", B("\x0a\x04\x12\x02\x08\x01"), REMOTE_WIRE_OTHER },
		{ "string with a NUL", B("\x0a\x13\x0a\x0f\x0a\x08__name__\x12\x03u\x00p\x12\x00"),
			REMOTE_WIRE_OK },
		{ "ten-byte timestamp", B("\x0a\x0d\x12\x0b\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
			REMOTE_WIRE_OK },
		{ "eleven-byte timestamp", B("\x0a\x0e\x12\x0c\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x00"),
			REMOTE_WIRE_OTHER },
		{ "tag of a group", B("\x0b\x0c"), REMOTE_WIRE_OTHER },
		{ "empty series", B("\x0a\x00\x0a\x00"), REMOTE_WIRE_OK },
#undef B
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome o = check_body(cases[i].b, cases[i].len);

		if (o.fast_rc != cases[i].fast)
			fail_msg("%s: fast decoder gave %d", cases[i].why, o.fast_rc);
	}
}

/* Many tiny series cost protobuf-c more than its budget: the fast decoder must hand
 * such a body over so that it is refused in protobuf-c's words. */
static void test_memory_budget(void **state)
{
	struct arena *a = arena_new(0);
	struct remote_write_batch b;
	struct buf pb = { 0 };
	char err[256];

	for (int i = 0; i < 50000; i++)
		buf_append(&pb, "\x0a\x00", 2);
	assert_int_equal(check_body(pb.data, pb.len).fast_rc, REMOTE_WIRE_OTHER);
	assert_int_equal(remote_write_decode(pb.data, pb.len, "snappy", NULL, NULL, a, &b, err,
					     sizeof(err)), -1);
	assert_non_null(strstr(err, "memory limit"));
	buf_free(&pb);
	arena_free(a);
}

static bool odd_alive(void *arg, uint64_t ref)
{
	(void)arg;
	return ref % 2;
}

/* Rounds of: decode a generated body, remember its series under made-up refs, decode
 * it again. The second decode must find every series in the cache (ref set, no
 * labels) and still give the same batch, labels asked for. own_body: the body comes
 * snappy-compressed without Content-Encoding, so the module decompresses it itself
 * and the cached series point into its copy. Returns the cache hits. */
static size_t cache_rounds(struct remote_series_cache *c, int rounds, bool own_body)
{
	struct gen *g = calloc(1, sizeof(*g));
	struct remote_write_batch b1, b2;
	struct arena *a = arena_new(0);
	struct buf pb = { 0 }, z = { 0 }, *body = own_body ? &z : &pb;
	const char *ce = own_body ? NULL : "snappy";
	uint64_t refs[MAXS];
	char err[256];
	size_t hits = 0;

	for (int round = 0; round < rounds; round++) {
		gen_body(g, &pb);
		if (!pb.len)
			continue;
		buf_reset(&z);
		assert_int_equal(compress_encode(COMPRESS_SNAPPY, pb.data, pb.len, 0, &z, err,
						 sizeof(err)), 0);
		assert_int_equal(remote_write_decode(body->data, body->len, ce, NULL, c, a, &b1,
						     err, sizeof(err)), 0);
		for (size_t i = 0; i < b1.nseries; i++)
			refs[i] = 1000 + (uint64_t)round * MAXS + i;
		remote_series_cache_learn(c, &b1, refs);
		assert_int_equal(remote_write_decode(body->data, body->len, ce, NULL, c, a, &b2,
						     err, sizeof(err)), 0);
		same_batch(&b1, &b2, a);
		for (size_t i = 0; i < b2.nseries; i++) {
			assert_true(b2.series[i].ref >= 1000);
			assert_null(b2.series[i].labels);
		}
		hits += b2.nseries;
		remote_write_batch_free(&b1);
		remote_write_batch_free(&b2);
		arena_reset(a);
	}
	buf_free(&pb);
	buf_free(&z);
	free(g);
	arena_free(a);
	return hits;
}

/* A cached series comes back with its ref and no labels; its labels are still there
 * when asked for; trim leaves a cache the storage's size alone. */
static void test_cache(void **state)
{
	struct remote_series_cache *c = remote_series_cache_new();
	size_t n;

	assert_non_null(c);
	assert_true(cache_rounds(c, 300, false) > 100);
	n = remote_series_cache_size(c);
	assert_true(n > 0);
	remote_series_cache_trim(c, n, odd_alive, NULL);
	assert_int_equal(remote_series_cache_size(c), n);
	remote_series_cache_free(c);
}

/* The body the module decompressed itself lives as long as the batch. */
static void test_cache_own_body(void **state)
{
	struct remote_series_cache *c = remote_series_cache_new();

	assert_true(cache_rounds(c, 100, true) > 10);
	remote_series_cache_free(c);
}

/* A body of n distinct single-label series. */
static void distinct_series(struct buf *pb, int n)
{
	for (int i = 0; i < n; i++) {
		char v[16], lab[64];
		int vl = snprintf(v, sizeof(v), "m%d", i), ll;

		ll = snprintf(lab, sizeof(lab), "\x0a\x08__name__\x12%c%s", vl, v);
		buf_putc(pb, 0x0a);
		buf_putc(pb, (char)(ll + 2));
		buf_putc(pb, 0x0a);
		buf_putc(pb, (char)ll);
		buf_append(pb, lab, (size_t)ll);
	}
}

/* Trim sweeps once the cache outgrows the storage, and keeps the live refs. */
static void test_cache_trim(void **state)
{
	struct remote_series_cache *c = remote_series_cache_new();
	struct remote_write_batch b;
	struct arena *a = arena_new(0);
	struct buf pb = { 0 };
	uint64_t *refs = calloc(10000, sizeof(*refs));
	char err[256];

	distinct_series(&pb, 10000);
	assert_int_equal(remote_write_decode(pb.data, pb.len, "snappy", NULL, c, a, &b, err,
					     sizeof(err)), 0);
	assert_int_equal(b.nseries, 10000);
	for (int i = 0; i < 10000; i++)
		refs[i] = (uint64_t)i + 1;
	remote_series_cache_learn(c, &b, refs);
	remote_write_batch_free(&b);
	assert_int_equal(remote_series_cache_size(c), 10000);
	remote_series_cache_trim(c, 0, odd_alive, NULL);
	assert_int_equal(remote_series_cache_size(c), 5000);
	assert_int_equal(remote_write_decode(pb.data, pb.len, "snappy", NULL, c, a, &b, err,
					     sizeof(err)), 0);
	for (size_t i = 0; i < b.nseries; i++)
		assert_int_equal(b.series[i].ref, i % 2 == 0 ? i + 1 : 0);
	remote_write_batch_free(&b);
	buf_free(&pb);
	free(refs);
	arena_free(a);
	remote_series_cache_free(c);
}

/* Entries keep 32-bit refs: a larger ref is not remembered (never truncated), the
 * largest that fits is. */
static void test_cache_large_refs(void **state)
{
	struct remote_series_cache *c = remote_series_cache_new();
	struct remote_write_batch b;
	struct arena *a = arena_new(0);
	struct buf pb = { 0 };
	uint64_t refs[2] = { (1ull << 32) + 1, UINT32_MAX };
	char err[256];

	distinct_series(&pb, 2);
	assert_int_equal(remote_write_decode(pb.data, pb.len, "snappy", NULL, c, a, &b, err,
					     sizeof(err)), 0);
	remote_series_cache_learn(c, &b, refs);
	remote_write_batch_free(&b);
	assert_int_equal(remote_series_cache_size(c), 1);
	assert_int_equal(remote_write_decode(pb.data, pb.len, "snappy", NULL, c, a, &b, err,
					     sizeof(err)), 0);
	assert_int_equal(b.nseries, 2);
	assert_int_equal(b.series[0].ref, 0);
	assert_non_null(b.series[0].labels);
	assert_int_equal(b.series[1].ref, UINT32_MAX);
	assert_null(b.series[1].labels);
	remote_write_batch_free(&b);
	buf_free(&pb);
	arena_free(a);
	remote_series_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_generated_and_truncated),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_unusual_encodings),
		cmocka_unit_test(test_memory_budget),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_own_body),
		cmocka_unit_test(test_cache_trim),
		cmocka_unit_test(test_cache_large_refs),
	};
	return cmocka_run_group_tests_name("remote_wire", tests, NULL, NULL);
}
