/*
 * Typed scalars, strictly: the whole text must be the value (no blanks, no trailing
 * junk), and overflow is an error rather than a clamp. strtol/strtod are too lenient
 * for that on their own (leading blanks, "010" as octal, "infinity", hex floats), so
 * integers are scanned here and strtod only sees text already known to be decimal.
 */
#include "config/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* Digits of `base` at *s; -1 when there are none, -2 on overflow. */
static int scan_digits(const char **s, unsigned base, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	int d, rc = 0;

	for (; (d = digit_value(*p)) < (int)base; p++) {
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			rc = -2;
		else
			v = v * base + (uint64_t)d;
	}
	if (p == *s)
		return -1;
	*s = p;
	*out = v;
	return rc;
}

int cfg_scan_u64(const char **s, uint64_t *out)
{
	return scan_digits(s, 10, out) ? -1 : 0;
}

int cfg_scalar_bool(const char *s, void *out)
{
	static const char *const yes[] = { "true", "True", "TRUE" };
	static const char *const no[] = { "false", "False", "FALSE" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (!strcmp(s, yes[i]) || !strcmp(s, no[i])) {
			*(bool *)out = !strcmp(s, yes[i]);
			return 0;
		}
	}
	return -1;
}

int cfg_scalar_int(const char *s, void *out)
{
	bool neg = *s == '-';
	unsigned base = 10;
	uint64_t u;
	int rc;

	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1] == 'o') {
		base = 8;
		s += 2;
	}
	rc = scan_digits(&s, base, &u);
	if (rc == -1 || *s)
		return -1;
	if (rc || u > (uint64_t)INT64_MAX + neg)
		return -2;
	/* -(INT64_MAX + 1) is computed without passing through a signed overflow. */
	*(int64_t *)out = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static int special_double(const char *s, double *out)
{
	static const struct { const char *s; int sign; } tab[] = {
		{ ".inf", 1 }, { ".Inf", 1 }, { ".INF", 1 },
		{ "+.inf", 1 }, { "+.Inf", 1 }, { "+.INF", 1 },
		{ "-.inf", -1 }, { "-.Inf", -1 }, { "-.INF", -1 },
		{ ".nan", 0 }, { ".NaN", 0 }, { ".NAN", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!strcmp(s, tab[i].s)) {
			*out = tab[i].sign ? tab[i].sign * HUGE_VAL : NAN;
			return 0;
		}
	}
	return -1;
}

int cfg_scalar_double(const char *s, void *out)
{
	char *end;
	double v;

	if (!special_double(s, out))
		return 0;
	/* Only decimal digits, sign, point and exponent reach strtod. */
	if (!*s || strspn(s, "0123456789+-.eE") != strlen(s) ||
	    !strpbrk(s, "0123456789"))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end)
		return -1;
	if (errno == ERANGE && isinf(v))
		return -2;
	*(double *)out = v;
	return 0;
}
