/*
 * Choosing the parser from a Content-Type as Prometheus does (textparse.New and
 * extractMediaType): the media type is parsed with Go's mime.ParseMediaType rules
 * (tokens, a subtype after '/', ";key=value" parameters with token or quoted
 * values, trailing semicolons ignored); anything malformed or unknown falls back.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "scrape/internal.h"

static bool token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static const char *token(const char *s)
{
	while (*s && token_char((unsigned char)*s))
		s++;
	return s;
}

static const char *quoted(const char *s)
{
	for (s++; *s && *s != '"'; s++)
		if (*s == '\\' && s[1])
			s++;
	return *s == '"' ? s + 1 : NULL;
}

/* ";" key "=" (token | quoted-string), repeated; NULL when malformed. */
static bool params_ok(const char *s)
{
	for (;;) {
		const char *e;

		s = skip_ws(s);
		if (!*s)
			return true;
		if (*s != ';')
			return false;
		s = skip_ws(s + 1);
		if (!*s)
			return true; /* trailing semicolon */
		e = token(s);
		if (e == s)
			return false;
		s = skip_ws(e);
		if (*s != '=')
			return false;
		s = skip_ws(s + 1);
		e = *s == '"' ? quoted(s) : token(s);
		if (!e || e == s)
			return false;
		s = e;
	}
}

/* Lower-cased "type/subtype" into out; false when it does not parse. */
static bool media_type(const char *ct, char *out, size_t cap)
{
	const char *semi = strchr(ct, ';'), *end = semi ? semi : ct + strlen(ct), *s, *e;
	size_t n = 0;

	while (ct < end && isspace((unsigned char)*ct))
		ct++;
	while (end > ct && isspace((unsigned char)end[-1]))
		end--;
	if ((size_t)(end - ct) >= cap)
		return false;
	for (s = ct; s < end; s++)
		out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
	e = token(out);
	if (e == out)
		return false;
	if (*e) {
		if (*e != '/')
			return false;
		s = token(e + 1);
		if (s == e + 1 || *s)
			return false;
	}
	return params_ok(semi ? semi : "");
}

static const char *format_media(enum scrape_format f)
{
	return f == SCRAPE_FORMAT_OPENMETRICS ? "application/openmetrics-text" : "text/plain";
}

static int fallback_or_fail(const char *ct, enum scrape_format fallback, enum scrape_format *out,
			    const char *with, const char *without, char *err, size_t errlen)
{
	struct buf q = { 0 };

	sp_go_quote(&q, ct, strlen(ct));
	if (fallback == SCRAPE_FORMAT_NONE) {
		snprintf(err, errlen, without, q.data && !q.oom ? q.data : "\"\"");
		buf_free(&q);
		return -1;
	}
	snprintf(err, errlen, with, q.data && !q.oom ? q.data : "\"\"", format_media(fallback));
	buf_free(&q);
	*out = fallback;
	return 1;
}

int scrape_format_detect(const char *content_type, enum scrape_format fallback,
			 enum scrape_format *out, char *err, size_t errlen)
{
	char mt[128];

	*out = SCRAPE_FORMAT_NONE;
	if (!content_type || !*content_type) {
		if (fallback == SCRAPE_FORMAT_NONE) {
			snprintf(err, errlen, "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target");
			return -1;
		}
		snprintf(err, errlen, "non-compliant scrape target sending blank Content-Type, using fallback_scrape_protocol \"%s\"",
			 format_media(fallback));
		*out = fallback;
		return 1;
	}
	if (!media_type(content_type, mt, sizeof(mt)))
		return fallback_or_fail(content_type, fallback, out,
					"could not parse received Content-Type %s, using fallback_scrape_protocol \"%s\"",
					"cannot parse Content-Type %s and no fallback_scrape_protocol for target",
					err, errlen);
	if (strcmp(mt, "application/openmetrics-text") == 0) {
		*out = SCRAPE_FORMAT_OPENMETRICS;
		return 0;
	}
	if (strcmp(mt, "text/plain") == 0) {
		*out = SCRAPE_FORMAT_TEXT;
		return 0;
	}
	return fallback_or_fail(content_type, fallback, out,
				"received unsupported Content-Type %s, using fallback_scrape_protocol \"%s\"",
				"received unsupported Content-Type %s and no fallback_scrape_protocol specified for target",
				err, errlen);
}
