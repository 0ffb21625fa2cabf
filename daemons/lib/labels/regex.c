/*
 * Prometheus-style regexes on PCRE2. RE2 (what Prometheus uses) and PCRE2 agree on
 * the syntax operators write in matchers and relabel rules; we wrap the pattern as
 * ^(?:pattern)$ so it is fully anchored, and set DOTALL so `.` matches newlines as in
 * Prometheus 3. Patterns are JIT-compiled when the platform allows it; matching
 * falls back to the interpreter otherwise. Match data is per thread and per size so
 * one compiled regex serves any number of threads.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels/labels.h"

struct labels_regex {
	pcre2_code *code;
	uint32_t groups; /* capture groups in the pattern */
	bool jit;
	char *pattern;
};

#define MAX_PAIRS 64
#define REGEX_OPTIONS (PCRE2_DOTALL | PCRE2_UTF | PCRE2_DOLLAR_ENDONLY)

static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *p)
{
	pcre2_match_data_free(p);
}

static void md_init(void)
{
	pthread_key_create(&md_key, md_free);
}

/* One match-data block per thread, freed when the thread exits. */
static pcre2_match_data *match_data(void)
{
	pcre2_match_data *md;

	pthread_once(&md_once, md_init);
	md = pthread_getspecific(md_key);
	if (!md) {
		md = pcre2_match_data_create(MAX_PAIRS, NULL);
		if (md && pthread_setspecific(md_key, md) != 0) {
			pcre2_match_data_free(md);
			md = NULL;
		}
	}
	return md;
}

void labels_regex_thread_cleanup(void)
{
	pcre2_match_data *md;

	pthread_once(&md_once, md_init);
	md = pthread_getspecific(md_key);
	pcre2_match_data_free(md);
	pthread_setspecific(md_key, NULL);
}

int labels_regex_compile(const char *pattern, struct labels_regex **out, char *err,
			 size_t errlen)
{
	struct labels_regex *re = calloc(1, sizeof(*re));
	size_t n = strlen(pattern);
	char *wrapped = malloc(n + 8);
	PCRE2_SIZE erroff;
	int errcode;

	if (!re || !wrapped)
		goto oom;
	/* The pattern alone must be well-formed first: otherwise "a)|(b" would close our
	 * wrapper group and escape the anchors. This also gives offsets in the operator's
	 * own pattern. */
	re->code = pcre2_compile((PCRE2_SPTR)pattern, n, REGEX_OPTIONS, &errcode, &erroff, NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		snprintf(err, errlen, "error parsing regexp: %s at offset %zu: \"%s\"", (char *)msg,
			 (size_t)erroff, pattern);
		free(wrapped);
		free(re);
		return -1;
	}
	pcre2_code_free(re->code);
	snprintf(wrapped, n + 8, "^(?:%s)$", pattern);
	re->code = pcre2_compile((PCRE2_SPTR)wrapped, n + 6, REGEX_OPTIONS, &errcode, &erroff, NULL);
	if (!re->code)
		goto oom;
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->groups);
	if (re->groups + 1 > MAX_PAIRS)
		re->groups = MAX_PAIRS - 1;
	re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
	re->pattern = strdup(pattern);
	free(wrapped);
	if (!re->pattern)
		goto oom;
	*out = re;
	return 0;
oom:
	if (re && re->code)
		pcre2_code_free(re->code);
	free(wrapped);
	free(re);
	snprintf(err, errlen, "out of memory compiling regexp");
	return -1;
}

static int run(const struct labels_regex *re, const char *s, size_t n, pcre2_match_data *md)
{
	if (re->jit)
		return pcre2_jit_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
	return pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
}

bool labels_regex_match(const struct labels_regex *re, const char *s, size_t n)
{
	pcre2_match_data *md = match_data();

	/* Invalid UTF-8 in the subject simply does not match (PCRE2 reports an error). */
	return md && run(re, s, n, md) >= 0;
}

int labels_regex_captures(const struct labels_regex *re, const char *s, size_t n,
			  long *ovector, int max)
{
	pcre2_match_data *md = match_data();
	PCRE2_SIZE *ov;
	int rc, pairs;

	if (!md || (rc = run(re, s, n, md)) < 0)
		return -1;
	ov = pcre2_get_ovector_pointer(md);
	pairs = (int)re->groups + 1;
	if (pairs > max)
		pairs = max;
	/* Groups past rc did not participate in the match. */
	for (int i = 0; i < pairs; i++) {
		bool set = i < rc && ov[2 * i] != PCRE2_UNSET;
		ovector[2 * i] = set ? (long)ov[2 * i] : -1;
		ovector[2 * i + 1] = set ? (long)ov[2 * i + 1] : -1;
	}
	return pairs;
}

/* Group number for a name or number in a template reference; -1 when unknown. */
static int group_index(const struct labels_regex *re, const char *name, size_t len)
{
	char tmp[64];
	bool digits = len > 0;

	for (size_t i = 0; i < len; i++)
		if (name[i] < '0' || name[i] > '9')
			digits = false;
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, name, len);
	tmp[len] = '\0';
	if (digits)
		return atoi(tmp);
	return pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)tmp);
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Go's regexp.Expand: $name takes the longest run of word characters, ${name} is
 * explicit, $$ is a dollar; a reference that is not a valid group expands to "". A
 * '$' not followed by a name or brace is dropped, as Go does. */
void labels_regex_expand(const struct labels_regex *re, const char *tmpl, const char *s,
			 const long *ov, int npairs, struct buf *out)
{
	const char *p = tmpl;

	while (*p) {
		const char *name;
		size_t len;
		int g;

		if (*p != '$') {
			buf_putc(out, *p++);
			continue;
		}
		p++;
		if (*p == '$') {
			buf_putc(out, '$');
			p++;
			continue;
		}
		if (*p == '{') {
			const char *end = strchr(p + 1, '}');
			if (!end) {
				buf_putc(out, '$');
				continue;
			}
			name = p + 1;
			len = (size_t)(end - name);
			p = end + 1;
		} else {
			name = p;
			while (word_char(*p))
				p++;
			len = (size_t)(p - name);
			if (len == 0) {
				buf_putc(out, '$');
				continue;
			}
		}
		g = group_index(re, name, len);
		if (g >= 0 && g < npairs && ov[2 * g] >= 0)
			buf_append(out, s + ov[2 * g], (size_t)(ov[2 * g + 1] - ov[2 * g]));
	}
}

const char *labels_regex_pattern(const struct labels_regex *re)
{
	return re->pattern;
}

void labels_regex_free(struct labels_regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
}
