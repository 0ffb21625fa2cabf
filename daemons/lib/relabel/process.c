/*
 * Applying rules: a small label builder (a sorted array in the caller's arena,
 * binary search, insert and delete in place) stands in for Prometheus'
 * labels.Builder. Actions that walk the labels (labelmap, labeldrop, labelkeep)
 * walk a snapshot taken before the rule, as Builder.Range does, so labels a rule
 * adds are not seen by that same rule.
 */
#include <stdio.h>
#include <string.h>

#include "dynload/dynload.h"

#include "relabel/internal.h"

#define MAX_PAIRS 64

struct builder {
	struct label *v;
	size_t n, cap;
	struct arena *a;
	struct buf tmp; /* template expansions */
};

static size_t find(const struct builder *b, const char *name, bool *found)
{
	size_t lo = 0, hi = b->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->v[mid].name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const char *get(const struct builder *b, const char *name)
{
	bool found;
	size_t i = find(b, name, &found);

	return found ? b->v[i].value : "";
}

static void del(struct builder *b, const char *name)
{
	bool found;
	size_t i = find(b, name, &found);

	if (!found)
		return;
	memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof(*b->v));
	b->n--;
}

/* name and value must outlive the result (input strings or arena copies). */
static int set(struct builder *b, const char *name, const char *value)
{
	bool found;
	size_t i;

	if (!*value) {
		del(b, name);
		return 0;
	}
	i = find(b, name, &found);
	if (found) {
		b->v[i].value = value;
		return 0;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap * 2 + 8;
		struct label *v = arena_alloc(b->a, cap * sizeof(*v));
		if (!v)
			return -1;
		memcpy(v, b->v, b->n * sizeof(*v));
		b->v = v;
		b->cap = cap;
	}
	memmove(&b->v[i + 1], &b->v[i], (b->n - i) * sizeof(*b->v));
	b->v[i] = (struct label){ name, value };
	b->n++;
	return 0;
}

/* Source values joined by the separator (missing labels count as ""). */
static const char *joined(struct builder *b, const struct relabel_config *c, size_t *len)
{
	size_t seplen = strlen(c->separator), total = 0, off = 0;
	char *s;

	for (size_t i = 0; i < c->source_labels.n; i++)
		total += strlen(get(b, c->source_labels.v[i])) + (i ? seplen : 0);
	s = arena_alloc(b->a, total + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < c->source_labels.n; i++) {
		const char *v = get(b, c->source_labels.v[i]);
		size_t vl = strlen(v);
		if (i) {
			memcpy(s + off, c->separator, seplen);
			off += seplen;
		}
		memcpy(s + off, v, vl);
		off += vl;
	}
	s[off] = '\0';
	*len = off;
	return s;
}

/* Expand tmpl against a match of s into an arena string; NULL on OOM. */
static const char *expand(struct builder *b, const struct relabel_config *c, const char *tmpl,
			  const char *s, const long *ov, int np)
{
	buf_reset(&b->tmp);
	labels_regex_expand(c->re, tmpl, s, ov, np, &b->tmp);
	if (b->tmp.oom)
		return NULL;
	return arena_strndup(b->a, b->tmp.data ? b->tmp.data : "", b->tmp.len);
}

static int replace(struct builder *b, const struct relabel_config *c, const char *val, size_t len)
{
	long ov[2 * MAX_PAIRS];
	const char *target, *res;
	int np;

	/* Fast path of upstream, same result: a constant label. */
	if (!*val && strcmp(c->regex, RELABEL_DEFAULT_REGEX) == 0 &&
	    !strchr(c->target_label, '$') && !strchr(c->replacement, '$'))
		return set(b, c->target_label, c->replacement);
	np = labels_regex_captures(c->re, val, len, ov, MAX_PAIRS);
	if (np < 0)
		return 0;
	target = expand(b, c, c->target_label, val, ov, np);
	if (!target)
		return -1;
	if (!labels_valid_name(target, strlen(target)))
		return 0;
	res = expand(b, c, c->replacement, val, ov, np);
	if (!res)
		return -1;
	return set(b, target, res);
}

static int hashmod(struct builder *b, const struct relabel_config *c, const char *val, size_t len)
{
	const struct dynload_crypto *cr;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t h = 0;
	char unused[8];
	char *s;

	/* Compiling the rule bound libcrypto already (config.c), so this cannot fail. */
	if (dynload_crypto(&cr, unused, sizeof(unused)) < 0 ||
	    !cr->digest(val, len, md, &mdlen, cr->md5(), NULL) || mdlen != 16)
		return -1;
	/* The last 8 bytes, big-endian, as upstream has always done. */
	for (int i = 8; i < 16; i++)
		h = (h << 8) | md[i];
	s = arena_sprintf(b->a, "%llu", (unsigned long long)(h % (uint64_t)c->modulus));
	return s ? set(b, c->target_label, s) : -1;
}

/* labelmap, labeldrop, labelkeep: over the label names as they were. */
static int by_name(struct builder *b, const struct relabel_config *c)
{
	size_t n = b->n;
	struct label *snap = arena_alloc(b->a, (n ? n : 1) * sizeof(*snap));

	if (!snap)
		return -1;
	memcpy(snap, b->v, n * sizeof(*snap));
	for (size_t i = 0; i < n; i++) {
		const char *name = snap[i].name;
		long ov[2 * MAX_PAIRS];
		int np = labels_regex_captures(c->re, name, strlen(name), ov, MAX_PAIRS);
		const char *res;

		if (c->act == RELABEL_LABELKEEP) {
			if (np < 0)
				del(b, name);
			continue;
		}
		if (np < 0)
			continue;
		if (c->act == RELABEL_LABELDROP) {
			del(b, name);
			continue;
		}
		res = expand(b, c, c->replacement, name, ov, np);
		if (!res)
			return -1;
		if (*res && set(b, res, snap[i].value))
			return -1;
	}
	return 0;
}

/* 1 keep, 0 drop, -1 out of memory. */
static int apply(struct builder *b, const struct relabel_config *c)
{
	size_t len = 0;
	const char *val = joined(b, c, &len);
	const char *s;

	if (!val)
		return -1;
	switch (c->act) {
	case RELABEL_DROP:
		return !labels_regex_match(c->re, val, len);
	case RELABEL_KEEP:
		return labels_regex_match(c->re, val, len);
	case RELABEL_DROPEQUAL:
		return strcmp(get(b, c->target_label), val) != 0;
	case RELABEL_KEEPEQUAL:
		return strcmp(get(b, c->target_label), val) == 0;
	case RELABEL_REPLACE:
		return replace(b, c, val, len) ? -1 : 1;
	case RELABEL_LOWERCASE:
	case RELABEL_UPPERCASE:
		s = relabel_case(b->a, val, len, c->act == RELABEL_UPPERCASE);
		return !s || set(b, c->target_label, s) ? -1 : 1;
	case RELABEL_HASHMOD:
		return hashmod(b, c, val, len) ? -1 : 1;
	case RELABEL_LABELMAP:
	case RELABEL_LABELDROP:
	case RELABEL_LABELKEEP:
		return by_name(b, c) ? -1 : 1;
	}
	return -1;
}

int relabel_process(const struct relabel_config *c, size_t n, const struct labels *in,
		    struct arena *a, struct labels *out)
{
	struct builder b = { .a = a };
	int rc = RELABEL_KEPT;

	b.cap = in->n + 4;
	b.v = arena_alloc(a, b.cap * sizeof(*b.v));
	if (!b.v)
		return -1;
	/* As labels.NewBuilder: empty values are absent. */
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i].value[0])
			b.v[b.n++] = in->v[i];
	for (size_t i = 0; i < n && rc == RELABEL_KEPT; i++)
		rc = c[i].re ? apply(&b, &c[i]) : -1;
	buf_free(&b.tmp);
	if (rc == RELABEL_KEPT) {
		out->v = b.v;
		out->n = b.n;
	}
	return rc;
}
