/*
 * Numbers as Prometheus reads and writes them. Values go through Go's
 * strconv.ParseFloat, restricted (upstream's parseFloat) to pre-Go-1.13 syntax: no
 * hex floats, no underscores. We check that syntax ourselves and let strtod do
 * the correctly rounded conversion of what passed. Inf and NaN are accepted in
 * Go's spellings: inf, infinity (any case, optional sign), nan (any case, no sign).
 * Formatting reproduces Go's FormatFloat(f, 'g', -1, 64) plus OpenMetrics' ".0".
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scrape/internal.h"

static bool special(const char *s, size_t n, double *out)
{
	double sign = 1;
	size_t k = 0;

	if (n == 3 && strncasecmp(s, "nan", 3) == 0) {
		*out = NAN;
		return true;
	}
	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		sign = s[0] == '-' ? -1 : 1;
		k = 1;
	}
	if ((n - k == 3 && strncasecmp(s + k, "inf", 3) == 0) ||
	    (n - k == 8 && strncasecmp(s + k, "infinity", 8) == 0)) {
		*out = sign * INFINITY;
		return true;
	}
	return false;
}

static size_t digits(const char *s, size_t n, size_t i)
{
	while (i < n && sp_is_d((unsigned char)s[i]))
		i++;
	return i;
}

/* [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)? */
static bool decimal_syntax(const char *s, size_t n)
{
	size_t i = 0, m;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	m = digits(s, n, i);
	bool mant = m > i;
	i = m;
	if (i < n && s[i] == '.') {
		m = digits(s, n, i + 1);
		mant = mant || m > i + 1;
		i = m;
	}
	if (!mant)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		m = digits(s, n, i);
		if (m == i)
			return false;
		i = m;
	}
	return i == n;
}

/* 0 ok; -1 with *range telling overflow from bad syntax. */
int sp_parse_float(const char *s, size_t n, double *out, bool *range)
{
	char tmp[128], *big = NULL, *end;
	char *c = tmp;

	*range = false;
	if (special(s, n, out))
		return 0;
	if (!decimal_syntax(s, n))
		return -1;
	if (n >= sizeof(tmp)) {
		big = malloc(n + 1);
		if (!big)
			return -1;
		c = big;
	}
	memcpy(c, s, n);
	c[n] = '\0';
	errno = 0;
	*out = strtod(c, &end);
	free(big);
	/* Go reports overflow only; underflow to zero or a denormal is fine. */
	if (errno == ERANGE && isinf(*out)) {
		*range = true;
		return -1;
	}
	return 0;
}

static double normal_nan(void)
{
	uint64_t bits = SCRAPE_NORMAL_NAN_BITS;
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* A sample or exemplar value: upstream's parseFloat, errors in its words. */
int sp_parse_value(struct sp *p, size_t off, size_t len, double *out)
{
	struct buf q = { 0 }, line = { 0 };
	bool range;
	int rc;

	for (size_t k = 0; k < len; k++) {
		int c = sp_at(p, off + k);
		if (c == 'p' || c == 'P' || c == '_') {
			sp_quote(&line, p, p->entry, p->i);
			rc = sp_fail(p, "unsupported character in float while parsing: %s",
				     line.data ? line.data : "");
			buf_free(&line);
			return rc;
		}
	}
	if (sp_parse_float(p->b + off, len, out, &range) == 0) {
		if (isnan(*out))
			*out = normal_nan();
		return 0;
	}
	sp_quote(&q, p, off, off + len);
	sp_quote(&line, p, p->entry, p->i);
	rc = sp_fail(p, "strconv.ParseFloat: parsing %s: %s while parsing: %s",
		     q.data ? q.data : "", range ? "value out of range" : "invalid syntax",
		     line.data ? line.data : "");
	buf_free(&q);
	buf_free(&line);
	return rc;
}

/* Shortest decimal digits that read back as f (f finite, > 0): "125" and the
 * decimal exponent `dp` such that f = 0.125 * 10^dp. */
static void shortest(double f, char *dig, size_t cap, int *dp)
{
	char tmp[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, f);
		if (strtod(tmp, NULL) == f || prec == 17)
			break;
	}
	/* tmp is d[.ddd]e±XX */
	size_t n = 0;
	char *e = strchr(tmp, 'e');
	for (char *c = tmp; c < e && n + 1 < cap; c++)
		if (*c != '.')
			dig[n++] = *c;
	while (n > 1 && dig[n - 1] == '0')
		n--;
	dig[n] = '\0';
	*dp = atoi(e + 1) + 1;
}

static void fixed(const char *dig, int dp, struct buf *b)
{
	int nd = (int)strlen(dig);

	if (dp <= 0) {
		buf_puts(b, "0.");
		for (int k = 0; k < -dp; k++)
			buf_putc(b, '0');
		buf_puts(b, dig);
	} else if (dp >= nd) {
		buf_puts(b, dig);
		for (int k = nd; k < dp; k++)
			buf_putc(b, '0');
	} else {
		buf_append(b, dig, (size_t)dp);
		buf_putc(b, '.');
		buf_puts(b, dig + dp);
	}
}

/* Go's FormatFloat(f, 'g', -1, 64), then ".0" when it reads as an integer. */
void sp_format_om_float(double f, char *out, size_t cap)
{
	struct buf b = { 0 };
	char dig[32];
	int dp, exp;

	if (isnan(f)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(f)) {
		snprintf(out, cap, "%s", f > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (f == 0) {
		snprintf(out, cap, "0.0"); /* -0 too: Go's f == 0 test */
		return;
	}
	if (f < 0)
		buf_putc(&b, '-');
	shortest(fabs(f), dig, sizeof(dig), &dp);
	exp = dp - 1;
	if (exp < -4 || exp >= 6) { /* %e form; Go decides with precision 6 when shortest */
		buf_putc(&b, dig[0]);
		if (dig[1]) {
			buf_putc(&b, '.');
			buf_puts(&b, dig + 1);
		}
		buf_printf(&b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else {
		fixed(dig, dp, &b);
	}
	if (b.data && !strpbrk(b.data, ".e"))
		buf_puts(&b, ".0");
	snprintf(out, cap, "%s", b.oom || !b.data ? "" : b.data);
	buf_free(&b);
}
