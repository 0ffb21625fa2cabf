/*
 * URL decoding and argument parsing. We parse the raw query string ourselves (the URI
 * log callback hands it over untouched) instead of using libmicrohttpd's argument
 * table: that table does not turn '+' into a space, silently accepts malformed
 * escapes, and loses nothing we need. Pairs are split on '&' only (as Go has done
 * since 1.17), kept in order with repeated keys, query string first, then the form.
 */
#include "http/http_internal.h"

#include <stdio.h>
#include <string.h>

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long unescape(char *s, size_t len, bool plus_is_space)
{
	size_t r = 0, w = 0;

	while (r < len) {
		unsigned char c = (unsigned char)s[r];

		if (c == '%') {
			int hi, lo;

			if (len - r < 3 || (hi = hexval((unsigned char)s[r + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[r + 2])) < 0)
				return -1;
			s[w++] = (char)(hi << 4 | lo);
			r += 3;
			continue;
		}
		s[w++] = plus_is_space && c == '+' ? ' ' : (char)c;
		r++;
	}
	return (long)w;
}

long http_form_unescape(char *s, size_t len)
{
	return unescape(s, len, true);
}

long http_path_unescape(char *s, size_t len)
{
	return unescape(s, len, false);
}

static size_t count_pairs(const char *s, size_t len)
{
	size_t n = len ? 1 : 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '&';
	return n;
}

/* Go's wording, quoting the bad escape (up to three bytes of it). */
static void bad_escape(const char *s, size_t len, char *err, size_t errlen)
{
	const char *pct = s;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%')
			continue;
		if (len - i < 3 || hexval((unsigned char)s[i + 1]) < 0 ||
		    hexval((unsigned char)s[i + 2]) < 0) {
			pct = s + i;
			len = len - i < 3 ? len - i : 3;
			break;
		}
	}
	snprintf(err, errlen, "invalid URL escape \"%.*s\"", (int)len, pct);
}

static int decode_part(struct arena *a, const char *s, size_t len, const char **out, char *err,
		       size_t errlen)
{
	char *d = arena_strndup(a, s, len);
	long n;

	if (!d)
		return -2;
	n = http_form_unescape(d, len);
	if (n < 0) {
		bad_escape(s, len, err, errlen);
		return -1;
	}
	d[n] = '\0';
	*out = d;
	return 0;
}

static int parse_into(struct http_req *r, const char *s, size_t len, char *err, size_t errlen)
{
	const char *end;

	if (len == 0)
		return 0;
	end = s + len;
	for (;;) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pe - s));
		struct http_kv *kv = &r->args[r->nargs];
		int ret;

		if (pe > s) {
			ret = decode_part(r->arena, s, (size_t)((eq ? eq : pe) - s), &kv->key, err,
					  errlen);
			if (ret == 0)
				ret = eq ? decode_part(r->arena, eq + 1, (size_t)(pe - eq - 1),
						       &kv->value, err, errlen)
					 : (kv->value = "", 0);
			if (ret < 0)
				return ret;
			r->nargs++;
		}
		if (!amp)
			return 0;
		s = amp + 1;
	}
}

int http_args_parse(struct http_req *r, const char *query, size_t qlen, const char *form,
		    size_t flen, char *err, size_t errlen)
{
	size_t n = count_pairs(query, qlen) + count_pairs(form, flen);
	int ret;

	r->nargs = 0;
	if (n == 0)
		return 0;
	r->args = arena_calloc(r->arena, n, sizeof(*r->args));
	if (!r->args)
		return -2;
	ret = parse_into(r, query, qlen, err, errlen);
	if (ret == 0)
		ret = parse_into(r, form, flen, err, errlen);
	return ret;
}
