/*
 * Label matchers with Prometheus semantics. Every regex is compiled (which validates it
 * and keeps the exact semantics at hand), then the pattern's shape is checked for a
 * form that plain string operations answer identically: a literal (no metacharacters;
 * `\` before punctuation is that character), `lit.*`, `.*lit`, `.*lit.*`, an
 * alternation of literals (optionally wrapped in one group) and the bare `.*` / `.+`.
 * These are exact because the regex is anchored and `.` matches newlines (DOTALL);
 * byte comparisons agree with PCRE2's UTF mode on the valid UTF-8 that label values
 * are. Anything else goes to PCRE2.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsdb/internal.h"

static bool meta(char c)
{
	return strchr("\\.+*?()|[]{}^$", c) != NULL;
}

/* Decode a literal pattern into out (capacity >= n + 1); false if it is not one. */
static bool literal(const char *p, size_t n, char *out, size_t *outlen)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\\') {
			if (i + 1 >= n || (unsigned char)p[i + 1] >= 0x80 ||
			    !ispunct((unsigned char)p[i + 1]))
				return false;
			c = p[++i];
		} else if (meta(c)) {
			return false;
		}
		out[w++] = c;
	}
	out[w] = '\0';
	*outlen = w;
	return true;
}

/* `a|b|c` or `(a|b|c)` with literal alternatives. */
static int try_set(struct tsdb_matcher *m, const char *p, size_t n)
{
	size_t nalt = 1, w = 0, start;
	bool group = false;
	char *mem;

	if (n >= 2 && p[0] == '(' && p[n - 1] == ')' && p[1] != '?') {
		p++;
		n -= 2;
		group = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '|')
			nalt++;
	}
	if (nalt < 2) {
		if (!group || !literal(p, n, m->lit, &m->lit_len))
			return 0;
		m->kind = TSDB_MK_LITERAL; /* `(foo)` */
		return 1;
	}
	mem = malloc(n + nalt);
	m->set = malloc(nalt * sizeof(*m->set));
	if (!mem || !m->set) {
		free(mem);
		return -1;
	}
	m->set_mem = mem;
	start = 0;
	for (size_t i = 0; i <= n; i++) {
		size_t len;

		if (i < n && p[i] == '\\') {
			i++;
			continue;
		}
		if (i < n && p[i] != '|')
			continue;
		if (!literal(p + start, i - start, mem + w, &len))
			return 0;
		m->set[m->nset++] = mem + w;
		w += len + 1;
		start = i + 1;
	}
	qsort(m->set, m->nset, sizeof(*m->set), tsdb_strp_cmp);
	m->kind = TSDB_MK_SET;
	return 1;
}

static bool ends_with(const char *p, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(p + n - k, suffix, k) == 0;
}

/* A trailing `.*` only counts when its dot is not escaped (`a\.*` is "a" then dots). */
static bool ends_with_any(const char *p, size_t n)
{
	size_t bs = 0;

	if (!ends_with(p, n, ".*"))
		return false;
	while (bs < n - 2 && p[n - 3 - bs] == '\\')
		bs++;
	return bs % 2 == 0;
}

static int classify(struct tsdb_matcher *m)
{
	const char *p = m->value;
	size_t n = strlen(p);
	bool pre, post;

	m->lit = malloc(n + 1);
	if (!m->lit)
		return -1;
	if (strcmp(p, ".*") == 0) {
		m->kind = TSDB_MK_ALL;
		return 0;
	}
	if (strcmp(p, ".+") == 0) {
		m->kind = TSDB_MK_NONEMPTY;
		return 0;
	}
	if (literal(p, n, m->lit, &m->lit_len)) {
		m->kind = TSDB_MK_LITERAL;
		return 0;
	}
	pre = n >= 2 && memcmp(p, ".*", 2) == 0;
	post = ends_with_any(p, n);
	if (pre && post && n >= 4 && literal(p + 2, n - 4, m->lit, &m->lit_len)) {
		m->kind = TSDB_MK_CONTAINS;
		return 0;
	}
	if (post && literal(p, n - 2, m->lit, &m->lit_len)) {
		m->kind = TSDB_MK_PREFIX;
		return 0;
	}
	if (pre && literal(p + 2, n - 2, m->lit, &m->lit_len)) {
		m->kind = TSDB_MK_SUFFIX;
		return 0;
	}
	m->kind = TSDB_MK_REGEX;
	if (try_set(m, p, n) < 0)
		return -1;
	if (m->kind == TSDB_MK_REGEX) {
		free(m->set);
		free(m->set_mem);
		m->set = NULL;
		m->set_mem = NULL;
		m->nset = 0;
	}
	return 0;
}

int tsdb_matcher_init(struct tsdb_matcher *m, enum tsdb_match_type type, const char *name,
		      const char *value, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	if (type < TSDB_MATCH_EQ || type > TSDB_MATCH_NRE) {
		snprintf(err, errlen, "invalid matcher type %d", (int)type);
		return TSDB_EFAIL;
	}
	m->name = strdup(name);
	m->value = strdup(value);
	if (!m->name || !m->value)
		goto oom;
	if (type == TSDB_MATCH_EQ || type == TSDB_MATCH_NEQ) {
		m->kind = TSDB_MK_LITERAL;
		m->lit = strdup(value);
		if (!m->lit)
			goto oom;
		m->lit_len = strlen(value);
		return 0;
	}
	if (labels_regex_compile(value, &m->re, err, errlen) < 0) {
		tsdb_matcher_free(m);
		return TSDB_EFAIL;
	}
	if (classify(m) < 0)
		goto oom;
	return 0;
oom:
	tsdb_matcher_free(m);
	snprintf(err, errlen, "out of memory");
	return TSDB_EFAIL;
}

void tsdb_matcher_free(struct tsdb_matcher *m)
{
	free(m->name);
	free(m->value);
	free(m->lit);
	free(m->set);
	free(m->set_mem);
	labels_regex_free(m->re);
	memset(m, 0, sizeof(*m));
}

bool tsdb_matcher_negated(const struct tsdb_matcher *m)
{
	return m->type == TSDB_MATCH_NEQ || m->type == TSDB_MATCH_NRE;
}

static bool in_set(const struct tsdb_matcher *m, const char *v)
{
	size_t lo = 0, hi = m->nset;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->set[mid], v);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool tsdb_matcher_positive(const struct tsdb_matcher *m, const char *v, size_t n)
{
	switch (m->kind) {
	case TSDB_MK_LITERAL:
		return n == m->lit_len && memcmp(v, m->lit, n) == 0;
	case TSDB_MK_ALL:
		return true;
	case TSDB_MK_NONEMPTY:
		return n > 0;
	case TSDB_MK_PREFIX:
		return n >= m->lit_len && memcmp(v, m->lit, m->lit_len) == 0;
	case TSDB_MK_SUFFIX:
		return n >= m->lit_len && memcmp(v + n - m->lit_len, m->lit, m->lit_len) == 0;
	case TSDB_MK_CONTAINS:
		return memmem(v, n, m->lit, m->lit_len) != NULL;
	case TSDB_MK_SET:
		return in_set(m, v);
	default:
		return labels_regex_match(m->re, v, n);
	}
}

bool tsdb_matcher_matches(const struct tsdb_matcher *m, const char *v)
{
	return tsdb_matcher_positive(m, v, strlen(v)) != tsdb_matcher_negated(m);
}

bool tsdb_matchers_selective(const struct tsdb_matcher *ms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!tsdb_matcher_matches(&ms[i], ""))
			return true;
	return false;
}

const char *tsdb_match_type_str(enum tsdb_match_type t)
{
	switch (t) {
	case TSDB_MATCH_EQ:
		return "=";
	case TSDB_MATCH_NEQ:
		return "!=";
	case TSDB_MATCH_RE:
		return "=~";
	case TSDB_MATCH_NRE:
		return "!~";
	}
	return "?";
}
