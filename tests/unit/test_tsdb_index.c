/* tsdb matchers (semantics table, every fast path against the plain regex), postings
 * algebra, and the index's answers for matcher sets against brute force. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsdb/internal.h"

/* Deterministic: random() is never seeded here. */
static uint64_t rnd(void)
{
	return (uint64_t)random();
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool m_matches(enum tsdb_match_type type, const char *pattern, const char *v)
{
	struct tsdb_matcher m;
	char err[256];
	bool r;

	assert_int_equal(tsdb_matcher_init(&m, type, "l", pattern, err, sizeof(err)), 0);
	r = tsdb_matcher_matches(&m, v);
	tsdb_matcher_free(&m);
	return r;
}

static void test_semantics_table(void **state)
{
	static const struct {
		enum tsdb_match_type type;
		const char *pattern, *value;
		bool want;
	} cases[] = {
		{ TSDB_MATCH_EQ, "bar", "bar", true },
		{ TSDB_MATCH_EQ, "bar", "baz", false },
		{ TSDB_MATCH_EQ, "bar", "", false },
		{ TSDB_MATCH_EQ, "", "", true },       /* {l=""}: series without l */
		{ TSDB_MATCH_EQ, "", "x", false },
		{ TSDB_MATCH_NEQ, "x", "", true },     /* {l!="x"} keeps series without l */
		{ TSDB_MATCH_NEQ, "x", "x", false },
		{ TSDB_MATCH_NEQ, "x", "y", true },
		{ TSDB_MATCH_NEQ, "", "", false },
		{ TSDB_MATCH_NEQ, "", "y", true },
		{ TSDB_MATCH_RE, "|bar", "", true },   /* {l=~"|bar"} keeps series without l */
		{ TSDB_MATCH_RE, "|bar", "bar", true },
		{ TSDB_MATCH_RE, "|bar", "baz", false },
		{ TSDB_MATCH_RE, "ba.", "bar", true },
		{ TSDB_MATCH_RE, "ba.", "ba", false },
		{ TSDB_MATCH_RE, "ba.", "xbar", false }, /* anchored at both ends */
		{ TSDB_MATCH_RE, "ba.", "bar2", false },
		{ TSDB_MATCH_RE, "a.b", "a\nb", true },  /* . matches newline */
		{ TSDB_MATCH_RE, ".*", "", true },
		{ TSDB_MATCH_RE, ".*", "anything\n", true },
		{ TSDB_MATCH_RE, ".+", "", false },
		{ TSDB_MATCH_RE, ".+", "x", true },
		{ TSDB_MATCH_RE, "", "", true },
		{ TSDB_MATCH_RE, "", "a", false },
		{ TSDB_MATCH_RE, "(?i)FOO", "foo", true },
		{ TSDB_MATCH_RE, "foo.*", "foo", true },
		{ TSDB_MATCH_RE, "foo.*", "fo", false },
		{ TSDB_MATCH_RE, ".*foo", "xfoo", true },
		{ TSDB_MATCH_RE, ".*foo", "foox", false },
		{ TSDB_MATCH_RE, ".*o.*", "xoy", true },
		{ TSDB_MATCH_RE, "a\\.b", "a.b", true },
		{ TSDB_MATCH_RE, "a\\.b", "axb", false },
		{ TSDB_MATCH_RE, "a\\.*", "a...", true }, /* a then dots, not a prefix */
		{ TSDB_MATCH_RE, "a\\.*", "ab", false },
		{ TSDB_MATCH_RE, "(a|b)", "b", true },
		{ TSDB_MATCH_RE, "(a|b)", "ab", false },
		{ TSDB_MATCH_NRE, "ba.", "", true },
		{ TSDB_MATCH_NRE, "ba.", "bar", false },
		{ TSDB_MATCH_NRE, ".*", "", false },
		{ TSDB_MATCH_NRE, ".+", "", true },
		{ TSDB_MATCH_NRE, "|bar", "", false },
	};

	for (size_t i = 0; i < N(cases); i++) {
		bool got = m_matches(cases[i].type, cases[i].pattern, cases[i].value);

		if (got != cases[i].want)
			fail_msg("case %zu: %s%s\"%s\" on \"%s\": got %d", i, "l",
				 tsdb_match_type_str(cases[i].type), cases[i].pattern,
				 cases[i].value, got);
	}
}

static void test_bad_regex_and_helper(void **state)
{
	struct tsdb_matcher m[3];
	char err[256] = "";

	assert_int_equal(tsdb_matcher_init(&m[0], TSDB_MATCH_RE, "l", "a(b", err, sizeof(err)),
			 TSDB_EFAIL);
	assert_non_null(strstr(err, "a(b"));
	assert_int_equal(tsdb_matcher_init(&m[0], TSDB_MATCH_NRE, "l", "*", err, sizeof(err)),
			 TSDB_EFAIL);
	assert_int_equal(tsdb_matcher_init(&m[0], 42, "l", "x", err, sizeof(err)), TSDB_EFAIL);

	assert_int_equal(tsdb_matcher_init(&m[0], TSDB_MATCH_RE, "a", ".*", err, sizeof(err)), 0);
	assert_int_equal(tsdb_matcher_init(&m[1], TSDB_MATCH_NEQ, "b", "x", err, sizeof(err)), 0);
	assert_int_equal(tsdb_matcher_init(&m[2], TSDB_MATCH_EQ, "c", "y", err, sizeof(err)), 0);
	assert_false(tsdb_matchers_selective(m, 0));
	assert_false(tsdb_matchers_selective(m, 2)); /* {a=~".*", b!="x"} is refused */
	assert_true(tsdb_matchers_selective(m, 3));
	for (int i = 0; i < 3; i++)
		tsdb_matcher_free(&m[i]);
	assert_string_equal(tsdb_match_type_str(TSDB_MATCH_NRE), "!~");
}

/* Random valid UTF-8 made of pieces that hit the fast paths' edges. */
static void random_string(char *out, size_t cap)
{
	static const char *pieces[] = { "a", "b", "c", "foo", "bar", ".", "|", "\n", "\xc3\xa9",
					"x y", "-", "\\", "fo", "oo", "ba" };
	size_t n = rnd() % 5, len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[rnd() % N(pieces)];

		if (len + strlen(p) + 1 >= cap)
			break;
		strcpy(out + len, p);
		len += strlen(p);
	}
}

static void test_fast_paths_agree_with_regex(void **state)
{
	static const struct {
		const char *pattern;
		int kind;
	} cases[] = {
		{ "foo", TSDB_MK_LITERAL },       { "", TSDB_MK_LITERAL },
		{ "a\\.b", TSDB_MK_LITERAL },     { "\\|", TSDB_MK_LITERAL },
		{ "\xc3\xa9", TSDB_MK_LITERAL },  { "(foo)", TSDB_MK_LITERAL },
		{ ".*", TSDB_MK_ALL },            { ".+", TSDB_MK_NONEMPTY },
		{ "foo.*", TSDB_MK_PREFIX },      { "a\\\\.*", TSDB_MK_PREFIX },
		{ "\\..*", TSDB_MK_PREFIX },      { ".*foo", TSDB_MK_SUFFIX },
		{ ".*\\.", TSDB_MK_SUFFIX },      { ".*o.*", TSDB_MK_CONTAINS },
		{ ".*\\|.*", TSDB_MK_CONTAINS },  { ".*.*", TSDB_MK_CONTAINS },
		{ "a|b|foo", TSDB_MK_SET },       { "(a|foo|)", TSDB_MK_SET },
		{ "|bar", TSDB_MK_SET },          { "foo|", TSDB_MK_SET },
		{ "a\\|b|c", TSDB_MK_SET },       { "b|a|b", TSDB_MK_SET },
		{ "a\\.*", TSDB_MK_REGEX },       { "fo+", TSDB_MK_REGEX },
		{ "(?i)foo", TSDB_MK_REGEX },     { "[ab]", TSDB_MK_REGEX },
		{ ".*?", TSDB_MK_REGEX },         { "a{2}", TSDB_MK_REGEX },
		{ "(a)|(b)", TSDB_MK_REGEX },     { "^foo$", TSDB_MK_REGEX },
		{ "foo.*bar", TSDB_MK_REGEX },    { "\\d", TSDB_MK_REGEX },
		{ "(a|b).*", TSDB_MK_REGEX },     { "a|b.*", TSDB_MK_REGEX },
	};
	char err[256], s[64];

	for (size_t i = 0; i < N(cases); i++) {
		struct tsdb_matcher re, nre;
		struct labels_regex *plain;

		assert_int_equal(tsdb_matcher_init(&re, TSDB_MATCH_RE, "l", cases[i].pattern, err,
						   sizeof(err)), 0);
		assert_int_equal(tsdb_matcher_init(&nre, TSDB_MATCH_NRE, "l", cases[i].pattern, err,
						   sizeof(err)), 0);
		assert_int_equal(labels_regex_compile(cases[i].pattern, &plain, err, sizeof(err)), 0);
		if (re.kind != cases[i].kind)
			fail_msg("pattern \"%s\": kind %d, want %d", cases[i].pattern, re.kind,
				 cases[i].kind);
		for (int k = 0; k < 3000; k++) {
			bool want;

			random_string(s, sizeof(s));
			if (k == 0)
				s[0] = '\0';
			want = labels_regex_match(plain, s, strlen(s));
			if (tsdb_matcher_matches(&re, s) != want ||
			    tsdb_matcher_matches(&nre, s) == want)
				fail_msg("pattern \"%s\" disagrees with the regex on \"%s\"",
					 cases[i].pattern, s);
		}
		labels_regex_free(plain);
		tsdb_matcher_free(&re);
		tsdb_matcher_free(&nre);
	}
}

static void naive_op(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, bool inter,
		     uint64_t *out, size_t *nout)
{
	*nout = 0;
	for (size_t i = 0; i < na; i++) {
		bool in_b = false;

		for (size_t j = 0; j < nb; j++)
			in_b |= a[i] == b[j];
		if (in_b == inter)
			out[(*nout)++] = a[i];
	}
}

static void random_sorted(struct tsdb_plist *p, size_t max)
{
	size_t n = rnd() % max;

	p->n = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t x = rnd() % 200;

		assert_int_equal(tsdb_plist_append(p, &x, 1), 0);
	}
	tsdb_plist_normalize(p);
}

static void test_postings_ops(void **state)
{
	struct tsdb_plist a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t want[200];
	size_t nwant;

	for (int round = 0; round < 500; round++) {
		bool inter = round % 2;

		random_sorted(&a, 120);
		random_sorted(&b, 120);
		for (size_t i = 1; i < a.n; i++)
			assert_true(a.v[i - 1] < a.v[i]); /* normalized: sorted, unique */
		naive_op(a.v, a.n, b.v, b.n, inter, want, &nwant);
		c.n = 0;
		assert_int_equal(tsdb_plist_append(&c, a.v, a.n), 0);
		if (inter)
			tsdb_plist_intersect(&c, &b);
		else
			tsdb_plist_subtract(&c, &b);
		assert_int_equal(c.n, nwant);
		if (nwant)
			assert_memory_equal(c.v, want, nwant * sizeof(*want));
		for (size_t i = 0; i < b.n; i++)
			assert_true(tsdb_plist_contains(b.v, b.n, b.v[i]));
		assert_false(tsdb_plist_contains(b.v, b.n, 1000));
	}
	tsdb_plist_free(&a);
	tsdb_plist_free(&b);
	tsdb_plist_free(&c);
}

/* --- the index against brute force ------------------------------------------------------ */

#define NSERIES 400

static const char *names[] = { "__name__", "job", "instance", "env", "a" };
static const char *values[] = { "up", "node", "foo", "bar", "x1", "x2", "prod", "é" };

struct model {
	struct tsdb_head *h;
	uint64_t ref[NSERIES];
	const char *val[NSERIES][N(names)]; /* NULL: label absent */
};

static void build(struct model *m)
{
	char err[256];

	assert_int_equal(tsdb_head_new(NULL, &m->h, err, sizeof(err)), 0);
	for (int i = 0; i < NSERIES; i++) {
		struct label l[N(names) + 1];
		struct labels ls = { l, 0 };
		bool created;

		/* A unique "id" keeps every series distinct; other labels are random. */
		char *id = malloc(16);

		assert_non_null(id);
		snprintf(id, 16, "%d", i);
		l[ls.n++] = (struct label){ "id", id };
		for (size_t k = 0; k < N(names); k++) {
			m->val[i][k] = rnd() % 4 ? values[rnd() % N(values)] : NULL;
			if (m->val[i][k])
				l[ls.n++] = (struct label){ names[k], m->val[i][k] };
		}
		assert_int_equal(tsdb_head_get_or_create(m->h, &ls, &m->ref[i], &created, err,
							 sizeof(err)), 0);
		assert_true(created);
		assert_int_equal(tsdb_head_append(m->h, m->ref[i], 1000, i, err, sizeof(err)), 0);
		free(id);
	}
}

static void random_matcher(struct tsdb_matcher *m, size_t *name_idx)
{
	static const char *patterns[] = { "", ".*", ".+", "foo|bar", "x.*", ".*o.*", "|prod",
					  "(?i)UP", "x[12]", "nomatch" };
	enum tsdb_match_type type = (enum tsdb_match_type)(rnd() % 4);
	const char *v;
	char err[256];

	*name_idx = rnd() % N(names);
	if (type == TSDB_MATCH_EQ || type == TSDB_MATCH_NEQ)
		v = rnd() % 5 ? values[rnd() % N(values)] : "";
	else
		v = patterns[rnd() % N(patterns)];
	assert_int_equal(tsdb_matcher_init(m, type, names[*name_idx], v, err, sizeof(err)), 0);
}

static void test_select_against_brute_force(void **state)
{
	struct model *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	build(m);
	for (int round = 0; round < 400; round++) {
		struct tsdb_matcher ms[3];
		size_t idx[3], n = rnd() % 4, nwant = 0;
		struct tsdb_plist got = { 0 };
		uint64_t want[NSERIES];

		for (size_t k = 0; k < n; k++)
			random_matcher(&ms[k], &idx[k]);
		for (int i = 0; i < NSERIES; i++) {
			bool ok = true;

			for (size_t k = 0; k < n; k++) {
				const char *v = m->val[i][idx[k]];

				ok = ok && tsdb_matcher_matches(&ms[k], v ? v : "");
			}
			if (ok)
				want[nwant++] = m->ref[i];
		}
		assert_int_equal(tsdb_postings_select(&m->h->ix, ms, n, &got), 0);
		if (got.n != nwant)
			fail_msg("round %d: %zu matchers, got %zu refs, want %zu", round, n, got.n,
				 nwant);
		if (nwant)
			assert_memory_equal(got.v, want, nwant * sizeof(*want));
		tsdb_plist_free(&got);
		for (size_t k = 0; k < n; k++)
			tsdb_matcher_free(&ms[k]);
	}
	tsdb_head_free(m->h);
	free(m);
}

static void test_index_listing(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	struct arena *a = arena_new(0);
	struct tsdb_strings s;

	assert_non_null(m);
	assert_non_null(a);
	build(m);
	assert_int_equal(tsdb_ix_names(&m->h->ix, a, &s), 0);
	assert_int_equal(s.n, N(names) + 1);
	assert_string_equal(s.v[0], "__name__");
	assert_string_equal(s.v[1], "a");
	assert_string_equal(s.v[5], "job");
	assert_int_equal(tsdb_ix_values(&m->h->ix, "id", a, &s), 0);
	assert_int_equal(s.n, NSERIES);
	for (size_t i = 1; i < s.n; i++)
		assert_true(strcmp(s.v[i - 1], s.v[i]) < 0);
	assert_int_equal(tsdb_ix_values(&m->h->ix, "nope", a, &s), 0);
	assert_int_equal(s.n, 0);
	arena_free(a);
	tsdb_head_free(m->h);
	free(m);
}

/* The index's postings of one value, checked against a sorted model. */
static void check_postings(struct tsdb_index *ix, const char *value, const uint64_t *want,
			   size_t n)
{
	struct tsdb_plist got = { 0 };

	assert_int_equal(tsdb_ix_postings(ix, "a", value, &got), 0);
	assert_int_equal(got.n, n);
	if (n)
		assert_memory_equal(got.v, want, n * sizeof(*want));
	tsdb_plist_free(&got);
}

static int cmp_ref(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Lists hold refs in 32 bits while they fit: refs past 2^32, in any order, widen them
 * without losing or reordering any (an inline wide ref included). */
static void test_postings_wide_refs(void **state)
{
	static const uint64_t seq[] = { 5, 3, (1ULL << 33), 7, 2, (1ULL << 32) + 1, 4,
					UINT32_MAX, 1, (1ULL << 32) };
	struct label in[2] = { { "a", "x" }, { "a", "y" } };
	const char *out[2], *kept[N(seq)];
	struct tsdb_index ix;
	struct tsdb_reclaim rc;
	struct tsdb_grave *g = calloc(1, sizeof(*g));
	uint64_t model[N(seq)], dead[3] = { 3, (1ULL << 32) + 1, (1ULL << 33) };
	size_t n = 0, w = 0;

	assert_non_null(g);
	assert_int_equal(tsdb_ix_init(&ix), 0);
	assert_int_equal(tsdb_reclaim_init(&rc), 0);
	for (size_t i = 0; i < N(seq); i++) {
		struct labels ls = { &in[0], 1 };

		assert_int_equal(tsdb_ix_add(&ix, &ls, seq[i], &kept[i]), 0);
		model[n++] = seq[i];
		qsort(model, n, sizeof(*model), cmp_ref);
		check_postings(&ix, "x", model, n);
	}
	/* An inline 64-bit ref, then a small one. */
	assert_int_equal(tsdb_ix_add(&ix, &(struct labels){ &in[1], 1 }, 1ULL << 40, out), 0);
	assert_int_equal(tsdb_ix_add(&ix, &(struct labels){ &in[1], 1 }, 9, out), 0);
	check_postings(&ix, "y", (uint64_t[]){ 9, 1ULL << 40 }, 2);
	assert_string_equal(out[0], "y");
	assert_string_equal(tsdb_ix_name_of(out[0]), "a");
	tsdb_ix_undo(&ix, (struct tsdb_ix_set){ out, 1 }, 1ULL << 40);
	check_postings(&ix, "y", (uint64_t[]){ 9 }, 1);
	/* Truncation's removal keeps the rest sorted. */
	assert_int_equal(tsdb_ix_remove(&ix, dead, N(dead), (struct tsdb_ix_set[]){ { kept, 1 } },
					1, g), 0);
	for (size_t i = 0; i < n; i++)
		if (!bsearch(&model[i], dead, N(dead), sizeof(*dead), cmp_ref))
			model[w++] = model[i];
	check_postings(&ix, "x", model, w);
	tsdb_reclaim_retire(&rc, g);
	tsdb_reclaim_destroy(&rc);
	tsdb_ix_destroy(&ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semantics_table),
		cmocka_unit_test(test_bad_regex_and_helper),
		cmocka_unit_test(test_fast_paths_agree_with_regex),
		cmocka_unit_test(test_postings_ops),
		cmocka_unit_test(test_select_against_brute_force),
		cmocka_unit_test(test_index_listing),
		cmocka_unit_test(test_postings_wide_refs),
	};
	int rc = cmocka_run_group_tests_name("tsdb_index", tests, NULL, NULL);

	labels_regex_thread_cleanup();
	return rc;
}
