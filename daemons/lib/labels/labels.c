/*
 * Label sets: validation, ordering, hashing and formatting. Sets are plain arrays
 * sorted by name; every operation is a linear or binary pass without allocation,
 * except labels_copy, which fills an arena.
 */
#include "labels/labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

static bool name_char(unsigned char c, bool first, bool colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (colon && c == ':')
		return true;
	return !first && c >= '0' && c <= '9';
}

static bool valid_ident(const char *s, size_t n, bool colon)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i], i == 0, colon))
			return false;
	return true;
}

bool labels_valid_name(const char *s, size_t n)
{
	return valid_ident(s, n, false);
}

bool labels_valid_metric_name(const char *s, size_t n)
{
	return valid_ident(s, n, true);
}

bool labels_valid_utf8(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
		else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
		else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
		else return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += len;
	}
	return true;
}

/* Insertion sort: label sets are small (tens), often nearly sorted, and it is stable. */
void labels_sort(struct labels *ls)
{
	for (size_t i = 1; i < ls->n; i++) {
		struct label x = ls->v[i];
		size_t j = i;
		while (j > 0 && strcmp(ls->v[j - 1].name, x.name) > 0) {
			ls->v[j] = ls->v[j - 1];
			j--;
		}
		ls->v[j] = x;
	}
}

int labels_check(const struct labels *ls, char *err, size_t errlen)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct label *l = &ls->v[i];
		size_t nl = strlen(l->name), vl = strlen(l->value);

		if (!labels_valid_name(l->name, nl)) {
			snprintf(err, errlen, "invalid label name: %.*s", (int)(nl > 128 ? 128 : nl), l->name);
			return -1;
		}
		if (i > 0 && strcmp(ls->v[i - 1].name, l->name) == 0) {
			snprintf(err, errlen, "duplicate label name: %s", l->name);
			return -1;
		}
		if (vl == 0) {
			snprintf(err, errlen, "empty value for label %s", l->name);
			return -1;
		}
		if (!labels_valid_utf8(l->value, vl)) {
			snprintf(err, errlen, "invalid UTF-8 in the value of label %s", l->name);
			return -1;
		}
		if (strcmp(l->name, LABELS_METRIC_NAME) == 0 && !labels_valid_metric_name(l->value, vl)) {
			snprintf(err, errlen, "invalid metric name: %.*s", (int)(vl > 128 ? 128 : vl), l->value);
			return -1;
		}
	}
	return 0;
}

const char *labels_get(const struct labels *ls, const char *name)
{
	size_t lo = 0, hi = ls->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ls->v[mid].name, name);
		if (c == 0)
			return ls->v[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int labels_compare(const struct labels *a, const struct labels *b)
{
	size_t n = a->n < b->n ? a->n : b->n;

	for (size_t i = 0; i < n; i++) {
		int c = strcmp(a->v[i].name, b->v[i].name);
		if (c)
			return c;
		c = strcmp(a->v[i].value, b->v[i].value);
		if (c)
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

bool labels_equal(const struct labels *a, const struct labels *b)
{
	return a->n == b->n && labels_compare(a, b) == 0;
}

uint64_t labels_hash(const struct labels *ls)
{
	static const unsigned char sep = 0xff;
	XXH3_state_t st;

	XXH3_64bits_reset(&st);
	for (size_t i = 0; i < ls->n; i++) {
		XXH3_64bits_update(&st, ls->v[i].name, strlen(ls->v[i].name));
		XXH3_64bits_update(&st, &sep, 1);
		XXH3_64bits_update(&st, ls->v[i].value, strlen(ls->v[i].value));
		XXH3_64bits_update(&st, &sep, 1);
	}
	return XXH3_64bits_digest(&st);
}

int labels_copy(struct arena *a, const struct labels *src, struct labels *dst)
{
	struct label *v = arena_alloc(a, (src->n ? src->n : 1) * sizeof(*v));

	if (!v)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		v[i].name = arena_strdup(a, src->v[i].name);
		v[i].value = arena_strdup(a, src->v[i].value);
		if (!v[i].name || !v[i].value)
			return -1;
	}
	dst->v = v;
	dst->n = src->n;
	return 0;
}

/* Go's strconv.Quote for the printable-ASCII-and-UTF-8 case Prometheus values hit. */
static void quote(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\r': buf_puts(out, "\\r"); break;
		case '\t': buf_puts(out, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(out, "\\x%02x", c);
			else
				buf_putc(out, (char)c);
		}
	}
	buf_putc(out, '"');
}

void labels_format(const struct labels *ls, struct buf *out)
{
	buf_putc(out, '{');
	for (size_t i = 0; i < ls->n; i++) {
		if (i)
			buf_puts(out, ", ");
		buf_puts(out, ls->v[i].name);
		buf_putc(out, '=');
		quote(out, ls->v[i].value);
	}
	buf_putc(out, '}');
}
