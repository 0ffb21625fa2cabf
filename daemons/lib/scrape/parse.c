/*
 * scrape_parse: sets up the shared cursor and hands it to the parser of the format.
 * The text format lexes one virtual '\n' past the body (upstream appends one), so
 * a last line without a newline parses like any other.
 */
#include <stdio.h>
#include <stdlib.h>

#include "scrape/internal.h"

int scrape_parse(enum scrape_format format, const char *body, size_t len,
		 const struct scrape_options *opts, const struct scrape_handler *h,
		 struct scrape_stats *stats, char *err, size_t errlen)
{
	static const struct scrape_options defaults;
	struct sp p = { .b = body, .len = len, .line = 1, .opts = opts ? opts : &defaults,
			.h = h, .err = err, .errlen = errlen, .state = S_INIT };
	int rc;

	err[0] = '\0';
	if (format != SCRAPE_FORMAT_TEXT && format != SCRAPE_FORMAT_OPENMETRICS) {
		snprintf(err, errlen, "unsupported scrape format %d", (int)format);
		return -1;
	}
	p.n = format == SCRAPE_FORMAT_TEXT ? len + 1 : len;
	p.a = arena_new(0);
	if (!p.a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = format == SCRAPE_FORMAT_TEXT ? sp_parse_text(&p) : sp_parse_om(&p);
	if (rc == 0 && p.over_limit)
		rc = scrape_limits_check_samples(p.opts->limits, p.stats.samples, err, errlen);
	if (stats)
		*stats = p.stats;
	arena_free(p.a);
	free(p.lbl.v);
	free(p.elbl.v);
	return rc ? -1 : 0;
}
