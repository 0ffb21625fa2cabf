/*
 * Name and text validation. The exposition is only as good as its inputs: a bad
 * metric name, a reserved label name or a label value that is not UTF-8 makes the
 * Prometheus text parser reject the whole scrape, so they are refused up front.
 */
#include "metrics/internal.h"

#include <string.h>

static bool is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool metrics_valid_metric_name(const char *s)
{
	if (!s || !*s || is_digit(*s))
		return false;
	for (; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s) && *s != ':')
			return false;
	return true;
}

/*
 * [a-zA-Z_][a-zA-Z0-9_]*, not "__"-prefixed (reserved for Prometheus itself), and
 * neither "le" nor "quantile": those belong to histograms and summaries and promtool
 * rejects them on any other family (our histograms add "le" themselves).
 */
bool metrics_valid_label_name(const char *s)
{
	if (!s || !*s || is_digit(*s) || strncmp(s, "__", 2) == 0)
		return false;
	if (strcmp(s, "le") == 0 || strcmp(s, "quantile") == 0)
		return false;
	for (; *s; s++)
		if (!is_alpha_(*s) && !is_digit(*s))
			return false;
	return true;
}

/*
 * Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. The second byte's range depends on the lead byte; the rest are plain
 * continuation bytes.
 */
bool metrics_valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned char c = *s++, lo = 0x80, hi = 0xbf;
		int more;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (*s < lo || *s > hi)
			return false;
		for (s++; --more > 0; s++)
			if ((*s & 0xc0) != 0x80)
				return false;
	}
	return true;
}
