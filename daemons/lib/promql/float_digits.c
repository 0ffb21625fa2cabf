/*
 * Shortest round-trip decimal digits of a double: the digits Prometheus (Go's
 * strconv.FormatFloat(v, 'f'/'g', -1, 64)) prints for a sample value, a literal or
 * a duration. Every value of a query answer goes through here, so it is on the hot
 * path of /api/v1/query_range (a 400-series, 960-step answer formats 384 000 values).
 *
 * The digits are those of the first precision p that reads back as v: for a normal
 * double p = 15, 16 or 17 (any decimal of at most 15 digits survives the trip to a
 * double and back, so a value whose shortest form is shorter prints exactly that,
 * zero-padded, at 15), for a subnormal any p from 1. The p-digit candidate is v
 * correctly rounded to p digits (ties to even, as printf), which is the closest
 * p-digit decimal to v.
 *
 * Exact path: for normal doubles from about 1e-11 to 1e43, v = m * 2^e is scaled by
 * 10^k in 128-bit integer arithmetic (powers of 5 up to 5^27 fit in 64 bits), so
 * the rounding of v * 10^k to p digits and the test whether the candidate lies in
 * v's rounding interval (between the midpoints to its neighbours; on a midpoint it
 * reads back as the neighbour with the even mantissa) are exact integer comparisons.
 * Anything outside that range, or whose products would not fit, takes the reference
 * path: printf("%.*e") then strtod, which gives the same digits, at ~20x the cost.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/internal.h"

typedef unsigned __int128 u128;

#define MAX_POW5 27 /* 5^27 < 2^63 */

static uint64_t pow5(int k)
{
	uint64_t r = 1;

	while (k-- > 0)
		r *= 5;
	return r;
}

/* x * 2^s2 * 5^s5 as the fraction a / b (positive powers on a, negative on b);
 * false when a factor would not fit in 128 bits. */
static bool scaled(u128 x, int s2, int s5, u128 *a, u128 *b)
{
	u128 num = x, den = 1;

	if (s5 > MAX_POW5 || s5 < -MAX_POW5)
		return false;
	if (s5 >= 0) {
		if (__builtin_mul_overflow(num, (u128)pow5(s5), &num))
			return false;
	} else {
		den = pow5(-s5);
	}
	if (s2 > 0) {
		if (s2 >= 128 || (num >> (128 - s2)) != 0)
			return false;
		num <<= s2;
	} else if (s2 < 0) {
		if (-s2 >= 128 || (den >> (128 + s2)) != 0)
			return false;
		den <<= -s2;
	}
	*a = num;
	*b = den;
	return true;
}

/* v = m * 2^e, rounded to an integer after scaling by 10^k, ties to even. */
static bool round_scaled(uint64_t m, int e, int k, u128 *out)
{
	u128 a, b, q, r;

	if (!scaled(m, e + k, k, &a, &b))
		return false;
	if ((b & (b - 1)) == 0) { /* k >= 0: a power of two, no division */
		int sh = (uint64_t)b ? __builtin_ctzll((uint64_t)b)
				     : 64 + __builtin_ctzll((uint64_t)(b >> 64));

		q = a >> sh;
		r = a & (b - 1);
	} else {
		q = a / b;
		r = a % b;
	}
	if (r > b - r || (r == b - r && (q & 1)))
		q++;
	*out = q;
	return true;
}

/* Is d * 10^-k strictly below (cmp < 0), on (0) or above (> 0) c * 2^(e-2)? */
static bool compare(uint64_t d, int k, int e, uint64_t c, int *cmp)
{
	u128 a, b, cb;

	if (!scaled(d, 2 - e - k, -k, &a, &b) || __builtin_mul_overflow((u128)c, b, &cb))
		return false;
	*cmp = a < cb ? -1 : a > cb;
	return true;
}

static const uint64_t p10[] = { 1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
				10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
				100000000000ull, 1000000000000ull, 10000000000000ull,
				100000000000000ull, 1000000000000000ull, 10000000000000000ull,
				100000000000000000ull };

/* v = m * 2^e correctly rounded to p digits: d in [10^(p-1), 10^p) and the decimal
 * exponent of its first digit (v ~ d * 10^(exp10 - p + 1)); *exp10 comes in as a
 * guess (off by one at most) and goes out corrected. */
static bool rounded(uint64_t m, int e, int p, uint64_t *d, int *exp10)
{
	u128 q = 0;

	for (int tries = 0; tries < 3; tries++) {
		if (!round_scaled(m, e, p - 1 - *exp10, &q))
			return false;
		if (q >= p10[p])
			(*exp10)++;
		else if (q < p10[p - 1])
			(*exp10)--;
		else
			break;
	}
	if (q < p10[p - 1] || q >= p10[p])
		return false;
	*d = (uint64_t)q;
	return true;
}

/* The p-digit candidate (p < 17) from the 17-digit rounding d17: rounded again,
 * unless the dropped digits are exactly 5000...: d17 may itself have been rounded
 * onto that midpoint, so only v knows which way to go. Elsewhere rounding d17 gives
 * v's own rounding (every p-digit midpoint has at most 17 digits, and rounding to 17
 * digits keeps v on its side of it). */
static bool candidate(uint64_t m, int e, uint64_t d17, int exp17, int p, uint64_t *d,
		      int *exp10)
{
	uint64_t unit = p10[17 - p], r = d17 % unit;

	*exp10 = exp17;
	if (r == unit / 2)
		return rounded(m, e, p, d, exp10);
	*d = d17 / unit + (r > unit / 2);
	if (*d == p10[p]) { /* 999... rounded up to 1000... */
		*d = p10[p - 1];
		(*exp10)++;
	}
	return true;
}

/* Does d * 10^-k read back as v = m * 2^e: is it between the midpoints to v's
 * neighbours, or on one of them with m even (ties go to the even mantissa)? */
static bool reads_back(uint64_t m, int e, uint64_t d, int k, bool *back)
{
	/* in units of 2^(e-2); below a power of two (above the smallest normal) the
	 * neighbour is half as far */
	uint64_t lo = m == 1ull << 52 && e > -1074 ? 4 * m - 1 : 4 * m - 2, hi = 4 * m + 2;
	bool even = (m & 1) == 0;
	int lo_cmp, hi_cmp;

	if (!compare(d, k, e, lo, &lo_cmp) || !compare(d, k, e, hi, &hi_cmp))
		return false;
	*back = (lo_cmp > 0 || (lo_cmp == 0 && even)) && (hi_cmp < 0 || (hi_cmp == 0 && even));
	return true;
}

/* The shortest digits by the exact path; 0 when it does not reach. */
static int exact_shortest(double v, char *digits, int *dp)
{
	uint64_t bits, m, d17, d = 0;
	int e, exp17 = (int)floor(log10(v)), exp10 = 0, p;
	bool back = false;

	memcpy(&bits, &v, sizeof(bits));
	m = (bits & ((1ull << 52) - 1)) | 1ull << 52;
	e = (int)((bits >> 52) & 0x7ff) - 1075;
	if (!rounded(m, e, 17, &d17, &exp17))
		return 0;
	for (p = 15; p <= 17 && !back; p++) {
		d = d17;
		exp10 = exp17;
		if (p < 17 && !candidate(m, e, d17, exp17, p, &d, &exp10))
			return 0;
		if (!reads_back(m, e, d, p - 1 - exp10, &back))
			return 0;
	}
	if (!back)
		return 0;
	p--;
	for (int i = p - 1; i >= 0; i--) {
		digits[i] = (char)('0' + d % 10);
		d /= 10;
	}
	*dp = exp10 + 1;
	while (p > 1 && digits[p - 1] == '0')
		p--;
	return p;
}

/* Digits and decimal exponent of a "%.*e" rendering ([-]d[.ddd]e[+-]xx). */
static int e_digits(const char *tmp, char *digits, int *dp)
{
	int nd = 0;

	for (const char *c = tmp; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	*dp = atoi(strchr(tmp, 'e') + 1) + 1;
	return nd;
}

int pq_reference_digits(double v, char *digits, int *dp)
{
	char tmp[40];
	int nd;

	for (int p = fpclassify(v) == FP_NORMAL ? 15 : 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
		if (strtod(tmp, NULL) == v || p == 17)
			break;
	}
	nd = e_digits(tmp, digits, dp);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	return nd;
}

int pq_shortest_digits(double v, char *digits, int *dp)
{
	int nd = fpclassify(v) == FP_NORMAL && v > 0 ? exact_shortest(v, digits, dp) : 0;

	return nd ? nd : pq_reference_digits(v, digits, dp);
}
