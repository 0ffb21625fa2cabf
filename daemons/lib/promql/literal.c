/*
 * Go-compatible literal conversions: numbers as strconv.ParseInt(s, 0, 64) then
 * ParseFloat read them, Prometheus durations (model.ParseDuration and String()),
 * string literals (strutil.Unquote, strconv.Quote), and the float formats the
 * printer and error messages need ('f' shortest, %v, %f).
 *
 * Exactness matters because these strings reach API clients: a query is printed
 * back by /api/v1/format_query and errors quote the offending input. Shortest
 * float digits come from float_digits.c.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels/labels.h"
#include "promql/internal.h"

/* --- UTF-8 and printability --------------------------------------------------- */

int promql_utf8_decode(const char *s, size_t n, int32_t *r)
{
	const unsigned char *u = (const unsigned char *)s;
	int32_t c;
	int w;

	if (n == 0) {
		*r = 0xFFFD;
		return 0;
	}
	if (u[0] < 0x80) {
		*r = u[0];
		return 1;
	}
	if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		w = 2;
		c = u[0] & 0x1F;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		w = 3;
		c = u[0] & 0x0F;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		w = 4;
		c = u[0] & 0x07;
	} else {
		goto invalid;
	}
	if ((size_t)w > n)
		goto invalid;
	for (int i = 1; i < w; i++) {
		if ((u[i] & 0xC0) != 0x80)
			goto invalid;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if ((w == 3 && c < 0x800) || (w == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		goto invalid;
	*r = c;
	return w;
invalid:
	*r = 0xFFFD;
	return 1;
}

/*
 * Go's unicode.IsPrint without its tables: ASCII exactly, and above it the
 * control, format, separator, surrogate, private-use and noncharacter ranges that
 * Go escapes. Unassigned code points are treated as printable (Go escapes them).
 */
bool promql_is_print(int32_t r)
{
	static const int32_t np[][2] = {
		{ 0x80, 0xA0 }, { 0xAD, 0xAD }, { 0x600, 0x605 }, { 0x61C, 0x61C },
		{ 0x6DD, 0x6DD }, { 0x70F, 0x70F }, { 0x180E, 0x180E }, { 0x1680, 0x1680 },
		{ 0x2000, 0x200F }, { 0x2028, 0x202F }, { 0x205F, 0x2064 }, { 0x2066, 0x206F },
		{ 0x3000, 0x3000 }, { 0xD800, 0xF8FF }, { 0xFEFF, 0xFEFF }, { 0xFFF0, 0xFFFB },
		{ 0x110BD, 0x110BD }, { 0x1D173, 0x1D17A }, { 0xE0000, 0xE0FFF },
		{ 0xF0000, 0x10FFFF },
	};

	if (r < 0x20 || r == 0x7F)
		return false;
	if (r < 0x7F)
		return true;
	if ((r & 0xFFFE) == 0xFFFE || (r >= 0xFDD0 && r <= 0xFDEF))
		return false;
	for (size_t i = 0; i < sizeof(np) / sizeof(np[0]); i++)
		if (r >= np[i][0] && r <= np[i][1])
			return false;
	return true;
}

/* One rune of a Go quoted literal (strconv.appendEscapedRune). */
static void escape_rune(int32_t r, const char *raw, int w, char quote, struct buf *out)
{
	if (r == quote || r == '\\') {
		buf_putc(out, '\\');
		buf_putc(out, (char)r);
		return;
	}
	if (promql_is_print(r)) {
		buf_append(out, raw, (size_t)w);
		return;
	}
	switch (r) {
	case '\a': buf_puts(out, "\\a"); return;
	case '\b': buf_puts(out, "\\b"); return;
	case '\f': buf_puts(out, "\\f"); return;
	case '\n': buf_puts(out, "\\n"); return;
	case '\r': buf_puts(out, "\\r"); return;
	case '\t': buf_puts(out, "\\t"); return;
	case '\v': buf_puts(out, "\\v"); return;
	}
	if (r < ' ' || r == 0x7F)
		buf_printf(out, "\\x%02x", (unsigned)r);
	else if (r < 0x10000)
		buf_printf(out, "\\u%04x", (unsigned)r);
	else
		buf_printf(out, "\\U%08x", (unsigned)r);
}

void promql_quote(const char *s, size_t n, struct buf *out)
{
	buf_putc(out, '"');
	for (size_t i = 0; i < n;) {
		int32_t r;
		int w = promql_utf8_decode(s + i, n - i, &r);

		if (w == 1 && r == 0xFFFD && (unsigned char)s[i] >= 0x80)
			buf_printf(out, "\\x%02x", (unsigned char)s[i]);
		else
			escape_rune(r, s + i, w, '"', out);
		i += (size_t)w;
	}
	buf_putc(out, '"');
}

static int utf8_encode(int32_t r, char *o)
{
	if (r < 0x80) {
		o[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		o[0] = (char)(0xC0 | (r >> 6));
		o[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		o[0] = (char)(0xE0 | (r >> 12));
		o[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		o[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (r >> 18));
	o[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	o[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

void promql_quote_rune(int32_t r, struct buf *out)
{
	char raw[4];

	if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
		r = 0xFFFD;
	buf_putc(out, '\'');
	escape_rune(r, raw, utf8_encode(r, raw), '\'', out);
	buf_putc(out, '\'');
}

void promql_format_U(int32_t r, struct buf *out)
{
	char raw[4];

	buf_printf(out, "U+%04X", (unsigned)r);
	if (r >= 0 && r <= 0x10FFFF && promql_is_print(r)) {
		buf_puts(out, " '");
		buf_append(out, raw, (size_t)utf8_encode(r, raw));
		buf_putc(out, '\'');
	}
}

/* --- string literals ----------------------------------------------------------- */

int promql_hexval(int c)
{
	static const char digits[] = "0123456789abcdef";
	const char *d;

	if (c <= 0 || c >= 0x80)
		return -1;
	d = strchr(digits, (c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c);
	return d ? (int)(d - digits) : -1;
}

/* One (possibly escaped) character of a quoted body: strconv.UnquoteChar. */
static int unquote_char(const char *s, size_t n, char quote, char *o, size_t *used)
{
	int32_t v = 0;
	int digits = 0, base = 16;

	if (s[0] == quote)
		return -1;
	if (s[0] != '\\') {
		o[0] = s[0];
		*used = 1;
		return 1;
	}
	if (n < 2)
		return -1;
	*used = 2;
	switch (s[1]) {
	case 'a': o[0] = '\a'; return 1;
	case 'b': o[0] = '\b'; return 1;
	case 'f': o[0] = '\f'; return 1;
	case 'n': o[0] = '\n'; return 1;
	case 'r': o[0] = '\r'; return 1;
	case 't': o[0] = '\t'; return 1;
	case 'v': o[0] = '\v'; return 1;
	case '\\': o[0] = '\\'; return 1;
	case '\'':
	case '"':
		if (s[1] != quote)
			return -1;
		o[0] = s[1];
		return 1;
	case 'x': digits = 2; break;
	case 'u': digits = 4; break;
	case 'U': digits = 8; break;
	default:
		if (s[1] < '0' || s[1] > '7')
			return -1;
		digits = 3;
		base = 8;
		*used = 1;
	}
	if (n < *used + (size_t)digits)
		return -1;
	for (int i = 0; i < digits; i++) {
		int d = promql_hexval((unsigned char)s[*used + (size_t)i]);

		if (d < 0 || d >= base)
			return -1;
		v = v * base + d;
	}
	*used += (size_t)digits;
	if (s[1] == 'x' || base == 8) {
		if (v > 255)
			return -1;
		o[0] = (char)v;
		return 1;
	}
	if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return -1;
	return utf8_encode(v, o);
}

int promql_unquote(struct arena *a, const char *lit, size_t n, struct promql_str *out)
{
	char quote, *o;
	size_t len = 0;

	if (n < 2 || lit[0] != lit[n - 1])
		return -1;
	quote = lit[0];
	lit++;
	n -= 2;
	if (quote == '`') {
		if (memchr(lit, '`', n))
			return -1;
		out->s = arena_strndup(a, lit, n);
		out->len = n;
		return out->s ? 0 : -1;
	}
	if ((quote != '"' && quote != '\'') || memchr(lit, '\n', n))
		return -1;
	/* Escapes never expand: \U00010111 (10 bytes) is at most 4 bytes of UTF-8. */
	o = arena_alloc(a, n + 1);
	if (!o)
		return -1;
	for (size_t i = 0; i < n;) {
		size_t used;
		int w = unquote_char(lit + i, n - i, quote, o + len, &used);

		if (w < 0)
			return -1;
		len += (size_t)w;
		i += used;
	}
	o[len] = 0;
	out->s = o;
	out->len = len;
	return 0;
}

/* --- numbers --------------------------------------------------------------------- */

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* strconv.underscoreOK: underscores only between digits (a base prefix counts). */
static bool underscore_ok(const char *s, size_t n)
{
	char saw = '^';
	size_t i = 0;
	bool hex = false;

	if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
	}
	if (n >= 2 && s[0] == '0' &&
	    (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
		i = 2;
		saw = '0';
		hex = lower(s[1]) == 'x';
	}
	for (; i < n; i++) {
		char c = lower(s[i]);

		if ((c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f')) {
			saw = '0';
			continue;
		}
		if (c == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/* strconv.ParseInt(s, 0, 64): 1 ok, 0 syntax error, -1 out of range. */
static int parse_int0(const char *s, size_t n, int64_t *out)
{
	bool neg = false, prefixed = false, underscores = false;
	unsigned base = 10;
	uint64_t v = 0, lim;
	size_t i = 0, digits = 0;

	if (n && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (n - i >= 2 && s[i] == '0') {
		char c = lower(s[i + 1]);

		prefixed = true;
		if (c == 'x' || c == 'b' || c == 'o') {
			base = c == 'x' ? 16 : c == 'b' ? 2 : 8;
			i += 2;
		} else {
			base = 8;
			i += 1;
		}
	}
	for (; i < n; i++) {
		int d;

		if (s[i] == '_' && prefixed) {
			underscores = true;
			continue;
		}
		d = promql_hexval((unsigned char)s[i]);
		if (d < 0 || (unsigned)d >= base)
			return 0;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return -1;
		v = v * base + (uint64_t)d;
		digits++;
	}
	if (!digits || (underscores && !underscore_ok(s, n)))
		return 0;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (v > lim)
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

static bool word_eq(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);

	if (n != wl)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != w[i])
			return false;
	return true;
}

/* Inf, Infinity (signed) and NaN in any case, as ParseFloat takes them. */
static bool parse_special(const char *s, size_t n, double *out)
{
	bool neg = n && s[0] == '-', sign = n && (s[0] == '-' || s[0] == '+');

	if (word_eq(s + sign, n - sign, "inf") || word_eq(s + sign, n - sign, "infinity")) {
		*out = neg ? -INFINITY : INFINITY;
		return true;
	}
	if (!sign && word_eq(s, n, "nan")) {
		*out = NAN;
		return true;
	}
	return false;
}

/* Digits (and one '.' if dot) from s[*i], copied to tmp without underscores. */
static size_t copy_digits(const char *s, size_t n, size_t *i, bool dot, char *tmp, size_t *o,
			  bool *underscores)
{
	size_t digits = 0;

	for (; *i < n; (*i)++) {
		char c = s[*i];

		if (c == '_') {
			*underscores = true;
			continue;
		}
		if (c == '.' && dot) {
			dot = false;
		} else if (c >= '0' && c <= '9') {
			digits++;
		} else {
			break;
		}
		tmp[(*o)++] = c;
	}
	return digits;
}

/* strconv.ParseFloat for the decimal forms a NUMBER token can have: 1 ok, 0
 * syntax error, -1 out of range (underflow to zero is not an error in Go). */
static int parse_float(const char *s, size_t n, double *out)
{
	size_t i = 0, o = 0;
	bool underscores = false;
	char tmp[512], *end;

	if (parse_special(s, n, out))
		return 1;
	if (n >= sizeof(tmp))
		return 0;
	if (n && (s[0] == '+' || s[0] == '-'))
		tmp[o++] = s[i++];
	if (!copy_digits(s, n, &i, true, tmp, &o, &underscores))
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		tmp[o++] = s[i++];
		if (i < n && (s[i] == '+' || s[i] == '-'))
			tmp[o++] = s[i++];
		if (!copy_digits(s, n, &i, false, tmp, &o, &underscores))
			return 0;
	}
	if (i < n || (underscores && !underscore_ok(s, n)))
		return 0;
	tmp[o] = 0;
	errno = 0;
	*out = strtod(tmp, &end);
	if (*end)
		return 0;
	if (errno == ERANGE && isinf(*out))
		return -1;
	return 1;
}

int promql_parse_number(const char *s, size_t n, double *out, char *err, size_t errlen)
{
	struct buf q = { 0 };
	int64_t iv;
	int rc;

	if (parse_int0(s, n, &iv) == 1) {
		*out = (double)iv;
		return 0;
	}
	rc = parse_float(s, n, out);
	if (rc == 1)
		return 0;
	promql_quote(s, n, &q);
	snprintf(err, errlen, "strconv.ParseFloat: parsing %s: %s", q.data ? q.data : "\"\"",
		 rc < 0 ? "value out of range" : "invalid syntax");
	buf_free(&q);
	return -1;
}

/* The 'f' rendering of shortest digits. */
static void put_fixed(const char *d, int nd, int dp, struct buf *out)
{
	if (dp <= 0) {
		buf_puts(out, "0.");
		for (int i = 0; i < -dp; i++)
			buf_putc(out, '0');
		buf_append(out, d, (size_t)nd);
		return;
	}
	if (dp >= nd) {
		buf_append(out, d, (size_t)nd);
		for (int i = nd; i < dp; i++)
			buf_putc(out, '0');
		return;
	}
	buf_append(out, d, (size_t)dp);
	buf_putc(out, '.');
	buf_append(out, d + dp, (size_t)(nd - dp));
}

/* Non-finite values and zero, which the digit paths do not handle; 1 if done. */
static int special_float(double v, bool plus_inf, struct buf *out)
{
	if (isnan(v)) {
		buf_puts(out, "NaN");
		return 1;
	}
	if (isinf(v)) {
		buf_puts(out, v < 0 ? "-Inf" : plus_inf ? "+Inf" : "Inf");
		return 1;
	}
	if (v == 0) {
		buf_puts(out, signbit(v) ? "-0" : "0");
		return 1;
	}
	return 0;
}

/* The sign, then the shortest digits of |v| (0 if v was special and is done). */
static int signed_digits(double v, bool plus_inf, char *d, int *dp, struct buf *out)
{
	if (special_float(v, plus_inf, out))
		return 0;
	if (v < 0)
		buf_putc(out, '-');
	return pq_shortest_digits(fabs(v), d, dp);
}

void promql_format_float(double v, struct buf *out)
{
	char d[24];
	int dp, nd = signed_digits(v, true, d, &dp, out);

	if (nd)
		put_fixed(d, nd, dp, out);
}

size_t promql_format_value(double v, char *out, size_t cap)
{
	char d[24];
	struct buf b = { 0 };
	int dp, nd, exp;
	size_t n = 0;
	double a = fabs(v);

	if (cap < 40) {
		if (cap)
			*out = 0;
		return 0;
	}
	if (isnan(v) || isinf(v) || v == 0) {
		special_float(v, true, &b);
		n = b.oom ? 0 : b.len;
		if (n)
			memcpy(out, b.data, n);
		buf_free(&b);
		out[n] = 0;
		return n;
	}
	if (v < 0)
		out[n++] = '-';
	if (a < 1e15 && a == floor(a)) {
		/* integers (raw counters and gauges) need no digit search */
		char t[24], *q = t + sizeof(t);
		uint64_t u = (uint64_t)a;

		do {
			*--q = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		memcpy(out + n, q, (size_t)(t + sizeof(t) - q));
		n += (size_t)(t + sizeof(t) - q);
		out[n] = 0;
		return n;
	}
	nd = pq_shortest_digits(a, d, &dp);
	exp = dp - 1;
	if (a < 1e-6 || a >= 1e21) {
		out[n++] = d[0];
		if (nd > 1) {
			out[n++] = '.';
			memcpy(out + n, d + 1, (size_t)(nd - 1));
			n += (size_t)(nd - 1);
		}
		n += (size_t)snprintf(out + n, cap - n, "e%c%02d", exp < 0 ? '-' : '+',
				      exp < 0 ? -exp : exp);
		return n;
	}
	if (dp <= 0) {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -dp; i++)
			out[n++] = '0';
		memcpy(out + n, d, (size_t)nd);
		n += (size_t)nd;
	} else {
		for (int i = 0; i < dp || i < nd; i++) {
			if (i == dp)
				out[n++] = '.';
			out[n++] = i < nd ? d[i] : '0';
		}
	}
	out[n] = 0;
	return n;
}

void promql_format_float_v(double v, struct buf *out)
{
	char d[24];
	int dp, nd = signed_digits(v, false, d, &dp, out), exp = dp - 1;

	if (!nd)
		return;
	if (exp >= -4 && exp < 6) {
		put_fixed(d, nd, dp, out);
		return;
	}
	buf_putc(out, d[0]);
	if (nd > 1) {
		buf_putc(out, '.');
		buf_append(out, d + 1, (size_t)(nd - 1));
	}
	buf_printf(out, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

void promql_format_float_f6(double v, struct buf *out)
{
	if (isnan(v) || isinf(v))
		special_float(v, true, out);
	else
		buf_printf(out, "%f", v);
}

/* --- durations ---------------------------------------------------------------------- */

/* Largest first, the order they must be written in; y and w are only printed
 * when exact (90d reads better than 12w6d). */
static const struct {
	const char *name;
	uint64_t ms;
	bool exact;
} duration_units[] = {
	{ "y", 365ull * 24 * 3600 * 1000, true },
	{ "w", 7ull * 24 * 3600 * 1000, true },
	{ "d", 24ull * 3600 * 1000, false },
	{ "h", 3600ull * 1000, false },
	{ "m", 60ull * 1000, false },
	{ "s", 1000, false },
	{ "ms", 1, false },
};

#define NUNITS (sizeof(duration_units) / sizeof(duration_units[0]))

static int duration_error(char *err, size_t errlen, const char *fmt, const char *a,
			  size_t an, const char *s, size_t n)
{
	struct buf q1 = { 0 }, q2 = { 0 };

	if (a)
		promql_quote(a, an, &q1);
	promql_quote(s, n, &q2);
	if (a)
		snprintf(err, errlen, fmt, q1.data ? q1.data : "", q2.data ? q2.data : "");
	else
		snprintf(err, errlen, fmt, q2.data ? q2.data : "");
	buf_free(&q1);
	buf_free(&q2);
	return -1;
}

int promql_parse_duration(const char *s, size_t n, int64_t *ms, char *err, size_t errlen)
{
	uint64_t total = 0;
	int last = -1;
	size_t i = 0;

	if (n == 1 && s[0] == '0') {
		*ms = 0;
		return 0;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty duration string");
		return -1;
	}
	while (i < n) {
		uint64_t v = 0;
		size_t d0 = i, u0;
		int unit = -1;

		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (v > (UINT64_MAX - 9) / 10)
				return duration_error(err, errlen, "not a valid duration string: %s",
						      NULL, 0, s, n);
			v = v * 10 + (uint64_t)(s[i] - '0');
		}
		if (i == d0)
			return duration_error(err, errlen, "not a valid duration string: %s", NULL,
					      0, s, n);
		for (u0 = i; i < n && !(s[i] >= '0' && s[i] <= '9'); i++)
			;
		if (i == u0)
			return duration_error(err, errlen, "not a valid duration string: %s", NULL,
					      0, s, n);
		for (int k = 0; k < (int)NUNITS; k++)
			if (strlen(duration_units[k].name) == i - u0 &&
			    !memcmp(duration_units[k].name, s + u0, i - u0))
				unit = k;
		if (unit < 0)
			return duration_error(err, errlen, "unknown unit %s in duration %s", s + u0,
					      i - u0, s, n);
		if (unit <= last)
			return duration_error(err, errlen, "not a valid duration string: %s", NULL,
					      0, s, n);
		last = unit;
		/* Bounded as a time.Duration is: int64 nanoseconds. */
		if (v > ((uint64_t)1 << 63) / (duration_units[unit].ms * 1000000))
			goto range;
		total += v * duration_units[unit].ms * 1000000;
		if (total > (uint64_t)INT64_MAX)
			goto range;
	}
	*ms = (int64_t)(total / 1000000);
	return 0;
range:
	snprintf(err, errlen, "duration out of range");
	return -1;
}

void promql_format_duration(int64_t ms, struct buf *out)
{
	uint64_t rest;

	if (ms == 0) {
		buf_puts(out, "0s");
		return;
	}
	if (ms < 0)
		buf_putc(out, '-');
	rest = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	for (size_t i = 0; i < NUNITS; i++) {
		uint64_t m = duration_units[i].ms;

		if (duration_units[i].exact && rest % m)
			continue;
		if (rest / m) {
			buf_printf(out, "%llu%s", (unsigned long long)(rest / m), duration_units[i].name);
			rest %= m;
		}
	}
}

/* --- label names ----------------------------------------------------------------- */

bool promql_legacy_label_name(const char *s, size_t n)
{
	return labels_valid_name(s, n);
}

void promql_format_label_name(const struct promql_str *s, struct buf *out)
{
	if (promql_legacy_label_name(s->s, s->len))
		buf_append(out, s->s, s->len);
	else
		promql_quote(s->s, s->len, out);
}
