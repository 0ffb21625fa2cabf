/* tsdb querier: select (order, matchers, range clipping, seek, hints), label names and
 * values, and merging queriers the way blocks and the head will be merged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/tsdb.h"

#define LS(...) ((struct labels){ (struct label[]){ __VA_ARGS__ }, \
	sizeof((struct label[]){ __VA_ARGS__ }) / sizeof(struct label) })

static char err[256];

static struct tsdb_head *head(void)
{
	struct tsdb_head *h;

	assert_int_equal(tsdb_head_new(NULL, &h, err, sizeof(err)), 0);
	return h;
}

/* Samples t = from, from+step, ... < to with value t * mul. */
static void fill(struct tsdb_head *h, struct labels ls, int64_t from, int64_t to, int64_t step,
		 double mul)
{
	uint64_t ref;
	bool created;

	for (int64_t t = from; t < to; t += step)
		assert_int_equal(tsdb_head_append_labels(h, &ls, t, (double)t * mul, &ref, &created,
							 err, sizeof(err)), 0);
}

/* The standard fixture: 4 series, samples every 10 s over [0, 1000 s). */
static struct tsdb_head *fixture(void)
{
	struct tsdb_head *h = head();

	fill(h, LS({ "__name__", "up" }, { "job", "node" }, { "instance", "b" }), 0, 1000000,
	     10000, 1);
	fill(h, LS({ "__name__", "up" }, { "job", "node" }, { "instance", "a" }), 0, 1000000,
	     10000, 1);
	fill(h, LS({ "__name__", "up" }, { "job", "api" }), 0, 1000000, 10000, 1);
	fill(h, LS({ "__name__", "errors" }, { "job", "api" }, { "code", "500" }), 500000,
	     1000000, 10000, 1);
	return h;
}

static struct tsdb_matcher matcher(enum tsdb_match_type type, const char *name, const char *v)
{
	struct tsdb_matcher m;

	assert_int_equal(tsdb_matcher_init(&m, type, name, v, err, sizeof(err)), 0);
	return m;
}

static void free_matchers(struct tsdb_matcher *ms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsdb_matcher_free(&ms[i]);
}

/* "name{a=b,...}:count" for every series of the set, joined by spaces. */
static void describe(struct tsdb_series_set *ss, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	while (tsdb_series_set_next(ss)) {
		const struct labels *ls = tsdb_series_set_labels(ss);
		struct tsdb_iterator *it = tsdb_series_set_iterator(ss);
		size_t n = 0;

		while (it && tsdb_iterator_next(it))
			n++;
		len += (size_t)snprintf(out + len, cap - len, "%s", len ? " " : "");
		for (size_t i = 0; i < ls->n; i++)
			len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", i ? "," : "{",
						ls->v[i].name, ls->v[i].value);
		len += (size_t)snprintf(out + len, cap - len, "}:%zu", n);
	}
	assert_int_equal(tsdb_series_set_err(ss, err, sizeof(err)), 0);
}

static void test_select(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	struct tsdb_matcher ms[2];
	char got[1024];

	assert_int_equal(tsdb_head_querier(h, 0, 999999, &q, err, sizeof(err)), 0);
	ms[0] = matcher(TSDB_MATCH_EQ, "__name__", "up");
	assert_int_equal(tsdb_querier_select(q, ms, 1, NULL, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	/* Sorted by labels; "up" series only. */
	assert_string_equal(got, "{__name__=up,instance=a,job=node}:100 "
				 "{__name__=up,instance=b,job=node}:100 {__name__=up,job=api}:100");

	ms[1] = matcher(TSDB_MATCH_EQ, "instance", "");
	assert_int_equal(tsdb_querier_select(q, ms, 2, NULL, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	assert_string_equal(got, "{__name__=up,job=api}:100");
	free_matchers(ms, 2);

	ms[0] = matcher(TSDB_MATCH_RE, "job", "api|nope");
	ms[1] = matcher(TSDB_MATCH_NEQ, "code", "500");
	assert_int_equal(tsdb_querier_select(q, ms, 2, NULL, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	assert_string_equal(got, "{__name__=up,job=api}:100");
	free_matchers(ms, 2);

	/* No matcher: every series. */
	assert_int_equal(tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	assert_string_equal(got, "{__name__=errors,code=500,job=api}:50 "
				 "{__name__=up,instance=a,job=node}:100 "
				 "{__name__=up,instance=b,job=node}:100 {__name__=up,job=api}:100");
	tsdb_querier_close(q);
	tsdb_head_free(h);
}

static void test_range_and_hints(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	struct tsdb_select_hints hints = { .start = 100000, .end = 200000 };
	char got[1024];

	/* [0, 400 s]: "errors" starts at 500 s and is left out; the others are clipped. */
	assert_int_equal(tsdb_head_querier(h, 0, 400000, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	assert_string_equal(got, "{__name__=up,instance=a,job=node}:41 "
				 "{__name__=up,instance=b,job=node}:41 {__name__=up,job=api}:41");
	/* Hints narrow the range further. */
	assert_int_equal(tsdb_querier_select(q, NULL, 0, &hints, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	assert_string_equal(got, "{__name__=up,instance=a,job=node}:11 "
				 "{__name__=up,instance=b,job=node}:11 {__name__=up,job=api}:11");
	/* labels_only: the series with data in range, without samples. */
	hints = (struct tsdb_select_hints){ .start = 0, .end = 400000, .labels_only = true };
	assert_int_equal(tsdb_querier_select(q, NULL, 0, &hints, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	assert_string_equal(got, "{__name__=up,instance=a,job=node}:0 "
				 "{__name__=up,instance=b,job=node}:0 {__name__=up,job=api}:0");
	tsdb_querier_close(q);

	/* A range the head does not cover. */
	assert_int_equal(tsdb_head_querier(h, 2000000, 3000000, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	assert_false(tsdb_series_set_next(ss));
	tsdb_querier_close(q);
	tsdb_head_free(h);
}

static void test_iterator_seek(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	struct tsdb_matcher m = matcher(TSDB_MATCH_EQ, "instance", "a");
	struct tsdb_iterator *it;
	int64_t t;
	double v;

	assert_int_equal(tsdb_head_querier(h, 95000, 905000, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, &m, 1, NULL, &ss, err, sizeof(err)), 0);
	assert_true(tsdb_series_set_next(ss));
	it = tsdb_series_set_iterator(ss);
	assert_true(tsdb_iterator_seek(it, 0)); /* before the range: its first sample */
	tsdb_iterator_at(it, &t, &v);
	assert_int_equal(t, 100000);
	assert_true(v == 100000);
	assert_true(tsdb_iterator_seek(it, 455001)); /* across chunk boundaries */
	tsdb_iterator_at(it, &t, &v);
	assert_int_equal(t, 460000);
	assert_true(tsdb_iterator_seek(it, 200000)); /* never backwards */
	tsdb_iterator_at(it, &t, &v);
	assert_int_equal(t, 460000);
	assert_true(tsdb_iterator_next(it));
	tsdb_iterator_at(it, &t, &v);
	assert_int_equal(t, 470000);
	assert_true(tsdb_iterator_seek(it, 900000));
	assert_false(tsdb_iterator_seek(it, 900001)); /* the rest is past maxt */
	assert_false(tsdb_iterator_next(it));
	assert_int_equal(tsdb_iterator_err(it, err, sizeof(err)), 0);
	/* A fresh iterator starts over. */
	it = tsdb_series_set_iterator(ss);
	assert_true(tsdb_iterator_next(it));
	tsdb_iterator_at(it, &t, &v);
	assert_int_equal(t, 100000);
	assert_false(tsdb_series_set_next(ss));
	tsdb_matcher_free(&m);
	tsdb_querier_close(q);
	tsdb_head_free(h);
}

static void expect_strings(const struct tsdb_strings *s, const char *joined)
{
	char got[512];
	size_t len = 0;

	got[0] = '\0';
	for (size_t i = 0; i < s->n; i++)
		len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s", i ? "," : "", s->v[i]);
	assert_string_equal(got, joined);
}

static void test_labels_api(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_querier *q;
	struct tsdb_strings s;
	struct tsdb_matcher m = matcher(TSDB_MATCH_EQ, "job", "api");

	assert_int_equal(tsdb_head_querier(h, 0, 999999, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_label_names(q, NULL, 0, &s, err, sizeof(err)), 0);
	expect_strings(&s, "__name__,code,instance,job");
	assert_int_equal(tsdb_querier_label_names(q, &m, 1, &s, err, sizeof(err)), 0);
	expect_strings(&s, "__name__,code,job");
	assert_int_equal(tsdb_querier_label_values(q, "job", NULL, 0, &s, err, sizeof(err)), 0);
	expect_strings(&s, "api,node");
	assert_int_equal(tsdb_querier_label_values(q, "__name__", &m, 1, &s, err, sizeof(err)), 0);
	expect_strings(&s, "errors,up");
	assert_int_equal(tsdb_querier_label_values(q, "instance", &m, 1, &s, err, sizeof(err)), 0);
	expect_strings(&s, "");
	assert_int_equal(tsdb_querier_label_values(q, "nope", NULL, 0, &s, err, sizeof(err)), 0);
	expect_strings(&s, "");
	tsdb_querier_close(q);
	assert_int_equal(tsdb_head_querier(h, 5000000, 6000000, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_label_names(q, NULL, 0, &s, err, sizeof(err)), 0);
	expect_strings(&s, "");
	tsdb_querier_close(q);
	tsdb_matcher_free(&m);
	tsdb_head_free(h);
}

/* Two heads stand in for a block and the head: the same series in both merges into one
 * whose samples are deduplicated, the first querier's value winning. */
static void test_merge(void **state)
{
	struct tsdb_head *older = head(), *newer = head();
	struct tsdb_querier *qs[2], *m;
	struct tsdb_series_set *ss;
	struct tsdb_strings s;
	struct tsdb_iterator *it;
	char got[1024];
	int64_t t, prev = -1;
	double v;
	size_t n = 0;

	fill(older, LS({ "__name__", "up" }, { "job", "a" }), 0, 100000, 10000, 1);
	fill(older, LS({ "__name__", "only_old" }), 0, 50000, 10000, 1);
	fill(newer, LS({ "__name__", "up" }, { "job", "a" }), 50000, 150000, 5000, -1);
	fill(newer, LS({ "__name__", "up" }, { "job", "b" }), 0, 20000, 10000, 1);
	assert_int_equal(tsdb_head_querier(older, 0, 200000, &qs[0], err, sizeof(err)), 0);
	assert_int_equal(tsdb_head_querier(newer, 0, 200000, &qs[1], err, sizeof(err)), 0);
	assert_int_equal(tsdb_merge_querier(qs, 2, 0, 200000, &m, err, sizeof(err)), 0);

	assert_int_equal(tsdb_querier_select(m, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	describe(ss, got, sizeof(got));
	/* up{job=a}: 0..90 s every 10 s (10) plus 95..145 s every 5 s beyond them... */
	assert_string_equal(got, "{__name__=only_old}:5 {__name__=up,job=a}:25 "
				 "{__name__=up,job=b}:2");

	assert_int_equal(tsdb_querier_select(m, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	while (tsdb_series_set_next(ss)) {
		if (strcmp(labels_get(tsdb_series_set_labels(ss), "__name__"), "up") ||
		    strcmp(labels_get(tsdb_series_set_labels(ss), "job"), "a"))
			continue;
		it = tsdb_series_set_iterator(ss);
		while (tsdb_iterator_next(it)) {
			tsdb_iterator_at(it, &t, &v);
			assert_true(t > prev);
			/* Timestamps both have come from the first (older) querier. */
			assert_true(t < 100000 && t % 10000 == 0 ? v == (double)t : v == -(double)t);
			prev = t;
			n++;
		}
		assert_int_equal(n, 25);
		it = tsdb_series_set_iterator(ss);
		assert_true(tsdb_iterator_seek(it, 52000));
		tsdb_iterator_at(it, &t, &v);
		assert_int_equal(t, 55000);
		assert_true(v == -55000);
		assert_true(tsdb_iterator_seek(it, 60000));
		tsdb_iterator_at(it, &t, &v);
		assert_true(t == 60000 && v == 60000);
		assert_true(tsdb_iterator_next(it));
		tsdb_iterator_at(it, &t, &v);
		assert_int_equal(t, 65000);
		assert_int_equal(tsdb_iterator_err(it, err, sizeof(err)), 0);
	}
	assert_int_equal(tsdb_querier_label_names(m, NULL, 0, &s, err, sizeof(err)), 0);
	expect_strings(&s, "__name__,job");
	assert_int_equal(tsdb_querier_label_values(m, "__name__", NULL, 0, &s, err, sizeof(err)), 0);
	expect_strings(&s, "only_old,up");
	assert_int_equal(tsdb_querier_label_values(m, "job", NULL, 0, &s, err, sizeof(err)), 0);
	expect_strings(&s, "a,b");
	tsdb_querier_close(m); /* closes both heads' queriers */
	tsdb_head_free(older);
	tsdb_head_free(newer);
}

static void test_merge_edges(void **state)
{
	struct tsdb_head *h = fixture();
	struct tsdb_querier *qs[1], *m;
	struct tsdb_series_set *ss, *sets[3];
	struct arena *a = arena_new(0);
	char got[1024];

	/* No inputs: an empty querier. */
	assert_int_equal(tsdb_merge_querier(NULL, 0, 0, 10, &m, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(m, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	assert_false(tsdb_series_set_next(ss));
	tsdb_querier_close(m);

	/* Empty sets merge away. */
	assert_int_equal(tsdb_head_querier(h, 0, 999999, &qs[0], err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(qs[0], NULL, 0, NULL, &sets[1], err, sizeof(err)), 0);
	sets[0] = tsdb_empty_series_set();
	sets[2] = tsdb_empty_series_set();
	ss = tsdb_merge_series_sets(a, sets, 3);
	assert_non_null(ss);
	describe(ss, got, sizeof(got));
	assert_string_equal(got, "{__name__=errors,code=500,job=api}:50 "
				 "{__name__=up,instance=a,job=node}:100 "
				 "{__name__=up,instance=b,job=node}:100 {__name__=up,job=api}:100");
	assert_true(tsdb_merge_series_sets(a, sets, 0) == tsdb_empty_series_set());
	tsdb_querier_close(qs[0]);
	arena_free(a);
	tsdb_head_free(h);
}

/* What read_by_fill read: got[g] is the sample a seek to seek_to[g] landed on, or
 * (seek_to[g] == INT64_MIN) the one after got[g - 1]; `lost_at`: the target of a last
 * seek that found nothing (INT64_MIN: the reading ended normally). */
struct fill_read {
	struct tsdb_sample got[4096];
	int64_t seek_to[4096];
	size_t n;
	int64_t lost_at;
};

/* Read a series with tsdb_iterator_fill (random batch sizes and limits, a few seeks)
 * the way the evaluator does; the sample a LIMIT leaves the iterator on is taken with
 * at(), as is the one a seek lands on. */
static void read_by_fill(struct tsdb_iterator *it, uint64_t *rng, struct fill_read *r)
{
	struct tsdb_sample buf[64];
	int64_t last = INT64_MIN;

	r->n = 0;
	r->lost_at = INT64_MIN;
	for (;;) {
		enum tsdb_fill_state st;
		size_t want = 1 + (*rng = *rng * 6364136223846793005ull + 1) % 63, k;
		int64_t lim = (*rng >> 20) % 4 ? last + 1 + (int64_t)((*rng >> 8) % 40000) : INT64_MAX;

		assert_true(r->n < 4096 - 64);
		if (r->n && (*rng >> 40) % 13 == 0) { /* seek past what was read */
			int64_t target = last + 1 + (int64_t)((*rng >> 12) % 20000);

			if (!tsdb_iterator_seek(it, target)) {
				r->lost_at = target;
				return;
			}
			tsdb_iterator_at(it, &r->got[r->n].t, &r->got[r->n].v);
			assert_true(r->got[r->n].t >= target);
			r->seek_to[r->n] = target;
			last = r->got[r->n++].t;
			continue;
		}
		k = tsdb_iterator_fill(it, lim, buf, want, &st);
		assert_true(k <= want);
		for (size_t i = 0; i < k; i++) {
			assert_true(buf[i].t > last && buf[i].t < lim);
			last = buf[i].t;
			r->seek_to[r->n] = INT64_MIN;
			r->got[r->n++] = buf[i];
		}
		if (st == TSDB_FILL_END)
			return;
		if (st == TSDB_FILL_FULL) {
			assert_int_equal(k, want);
			continue;
		}
		tsdb_iterator_at(it, &r->got[r->n].t, &r->got[r->n].v);
		assert_true(r->got[r->n].t >= lim && r->got[r->n].t > last);
		r->seek_to[r->n] = INT64_MIN;
		last = r->got[r->n++].t;
	}
}

/* Batched reads give exactly what next()/seek() give, through merged heads whose
 * ranges are disjoint, overlapping and identical, over chunk boundaries and range
 * clipping. */
static void test_fill_matches_next(void **state)
{
	struct tsdb_head *hs[3] = { head(), head(), head() };
	static struct tsdb_sample want[4096];
	static struct fill_read rd;
	uint64_t rng = 42;

	for (int s = 0; s < 6; s++) {
		char job[16];
		struct labels ls = LS({ "__name__", "m" }, { "job", job });

		snprintf(job, sizeof(job), "j%d", s);
		for (int k = 0; k < 3; k++) {
			/* s % 3: disjoint, overlapping, identical ranges across the heads */
			int64_t from = s % 3 == 0 ? k * 1000000 : s % 3 == 1 ? k * 350000 : 0;
			int64_t step = s % 3 == 2 ? 5000 : 2000 + 1000 * k;

			fill(hs[k], ls, from, from + 1000000, step, k + 1);
		}
	}
	for (int round = 0; round < 40; round++) {
		int64_t mint = (int64_t)(rng % 1500000), maxt = mint + (int64_t)((rng >> 24) % 2500000);
		struct tsdb_querier *qs[3], *m;
		struct tsdb_series_set *ss;

		for (int k = 0; k < 3; k++)
			assert_int_equal(tsdb_head_querier(hs[k], mint, maxt, &qs[k], err, sizeof(err)), 0);
		assert_int_equal(tsdb_merge_querier(qs, 3, mint, maxt, &m, err, sizeof(err)), 0);
		assert_int_equal(tsdb_querier_select(m, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
		while (tsdb_series_set_next(ss)) {
			struct tsdb_iterator *it = tsdb_series_set_iterator(ss);
			size_t nw = 0, w = 0;

			while (tsdb_iterator_next(it)) {
				assert_true(nw < 4096);
				tsdb_iterator_at(it, &want[nw].t, &want[nw].v);
				nw++;
			}
			read_by_fill(tsdb_series_set_iterator(ss), &rng, &rd);
			/* rd.got is want[] in order; only a seek skips, and only what lies
			 * below its target; the reading goes to the end */
			for (size_t g = 0; g < rd.n; g++) {
				while (rd.seek_to[g] != INT64_MIN && w < nw && want[w].t < rd.seek_to[g])
					w++;
				assert_true(w < nw);
				assert_int_equal(rd.got[g].t, want[w].t);
				assert_true(rd.got[g].v == want[w].v);
				w++;
			}
			while (rd.lost_at != INT64_MIN && w < nw && want[w].t < rd.lost_at)
				w++;
			assert_int_equal(w, nw);
			assert_int_equal(tsdb_iterator_err(it, err, sizeof(err)), 0);
		}
		tsdb_querier_close(m);
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	}
	for (int k = 0; k < 3; k++)
		tsdb_head_free(hs[k]);
}

/* Appends go on while a querier is open; what it already selected stays readable and
 * every series it returns is a consistent prefix of that series. */
static void test_appends_while_querying(void **state)
{
	struct tsdb_head *h = head();
	struct tsdb_querier *q;
	struct tsdb_series_set *ss;
	struct tsdb_iterator *it;
	uint64_t ref;
	bool created;
	size_t n = 0;

	fill(h, LS({ "__name__", "x" }), 0, 100000, 1000, 1);
	assert_int_equal(tsdb_head_querier(h, 0, INT64_MAX, &q, err, sizeof(err)), 0);
	assert_int_equal(tsdb_querier_select(q, NULL, 0, NULL, &ss, err, sizeof(err)), 0);
	for (int64_t t = 100000; t < 400000; t += 1000)
		assert_int_equal(tsdb_head_append_labels(h, &LS({ "__name__", "x" }), t, (double)t,
							 &ref, &created, err, sizeof(err)), 0);
	assert_true(tsdb_series_set_next(ss));
	it = tsdb_series_set_iterator(ss);
	for (int64_t t, prev = -1; tsdb_iterator_next(it); prev = t, n++) {
		double v;

		tsdb_iterator_at(it, &t, &v);
		assert_int_equal(t, prev + (prev < 0 ? 1 : 1000));
	}
	assert_true(n >= 100);
	tsdb_querier_close(q);
	tsdb_head_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_range_and_hints),
		cmocka_unit_test(test_iterator_seek),
		cmocka_unit_test(test_labels_api),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_edges),
		cmocka_unit_test(test_fill_matches_next),
		cmocka_unit_test(test_appends_while_querying),
	};
	int rc = cmocka_run_group_tests_name("tsdb_querier", tests, NULL, NULL);

	labels_regex_thread_cleanup();
	return rc;
}
