/*
 * Streaming JSON writer. A per-depth "need comma" flag is all the state a writer
 * needs; keys consume the comma so the value after a key never writes one.
 */
#include "json/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

static void sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		buf_putc(w->b, ',');
	w->need_comma[w->depth] = true;
}

static void open_(struct jw *w, char c)
{
	sep(w);
	if (w->depth + 1 >= JW_MAX_DEPTH) {
		w->err = true;
		return;
	}
	buf_putc(w->b, c);
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_(struct jw *w, char c)
{
	if (w->depth == 0) {
		w->err = true;
		return;
	}
	w->depth--;
	buf_putc(w->b, c);
}

void jw_obj_begin(struct jw *w) { open_(w, '{'); }
void jw_obj_end(struct jw *w) { close_(w, '}'); }
void jw_arr_begin(struct jw *w) { open_(w, '['); }
void jw_arr_end(struct jw *w) { close_(w, ']'); }

/* Length of a valid UTF-8 sequence starting at s (at most n bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) { len = 2; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { len = 3; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { len = 4; cp = s[0] & 0x07; }
	else return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and out-of-range code points. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void json_escape_into(struct buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	char tmp[8];

	buf_putc(b, '"');
	while (i < n) {
		unsigned char c = s[i];
		size_t l;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (c >= 0x80 && (l = utf8_seq_len(s + i, n - i)) > 0) {
			i += l;
			run += l;
			continue;
		}
		buf_append(b, s + i - run, run);
		run = 0;
		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		default:
			if (c < 0x20) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", c);
				buf_puts(b, tmp);
			} else {
				buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD for an invalid byte */
			}
		}
		i++;
	}
	buf_append(b, s + i - run, run);
	buf_putc(b, '"');
}

void jw_key(struct jw *w, const char *key)
{
	sep(w);
	json_escape_into(w->b, key, strlen(key));
	buf_putc(w->b, ':');
	w->after_key = true;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	sep(w);
	json_escape_into(w->b, s, n);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
	sep(w);
	buf_printf(w->b, "%" PRId64, v);
}

void jw_uint(struct jw *w, uint64_t v)
{
	sep(w);
	buf_printf(w->b, "%" PRIu64, v);
}

/*
 * Go's strconv.FormatFloat(v, 'f', -1, 64), which Prometheus uses for sample values:
 * the shortest digit string that reads back as v, written in plain decimal notation
 * (never an exponent). The digits come from the shortest round-tripping %.*e form.
 */
int json_format_prom_float(char *out, size_t cap, double v)
{
	char e[40], digits[24], res[400];
	int prec, exp10, nd = 0;
	size_t r = 0;
	const char *p;

	if (isnan(v))
		return snprintf(out, cap, "NaN");
	if (isinf(v))
		return snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
	if (v == 0)
		return snprintf(out, cap, signbit(v) ? "-0" : "0");
	for (prec = 0; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e is "[-]d[.ddd]e[+-]xx": collect digits and exponent. */
	p = e;
	if (*p == '-') {
		res[r++] = '-';
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (exp10 < 0) {
		res[r++] = '0';
		res[r++] = '.';
		for (int i = 0; i < -exp10 - 1; i++)
			res[r++] = '0';
		for (int i = 0; i < nd; i++)
			res[r++] = digits[i];
	} else {
		for (int i = 0; i <= exp10 || i < nd; i++) {
			if (i == exp10 + 1)
				res[r++] = '.';
			res[r++] = i < nd ? digits[i] : '0';
		}
	}
	res[r] = '\0';
	return snprintf(out, cap, "%s", res);
}

void jw_prom_float(struct jw *w, double v)
{
	char tmp[400];

	json_format_prom_float(tmp, sizeof(tmp), v);
	jw_str(w, tmp);
}

void jw_double(struct jw *w, double v)
{
	char tmp[400];

	if (!isfinite(v)) {
		jw_null(w);
		return;
	}
	json_format_prom_float(tmp, sizeof(tmp), v);
	sep(w);
	buf_puts(w->b, tmp);
}

void jw_bool(struct jw *w, bool v)
{
	sep(w);
	buf_puts(w->b, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
	sep(w);
	buf_puts(w->b, "null");
}

void jw_raw(struct jw *w, const char *json, size_t n)
{
	sep(w);
	buf_append(w->b, json, n);
}

bool jw_failed(const struct jw *w)
{
	return w->err || w->b->oom;
}
