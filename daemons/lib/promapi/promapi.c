/*
 * Prometheus API envelope and parameter parsing. Times follow Prometheus' parseTime:
 * a float is unix seconds (rounded to milliseconds), anything else must be RFC 3339.
 */
#include "promapi/promapi.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "http/http.h"

void promapi_begin(struct jw *w, struct buf *b)
{
	jw_init(w, b);
	jw_obj_begin(w);
	jw_kstr(w, "status", "success");
	jw_key(w, "data");
}

void promapi_reply(struct http_req *req, struct jw *w, struct buf *b, const char *const *warnings,
		   size_t nwarn)
{
	if (nwarn) {
		jw_key(w, "warnings");
		jw_arr_begin(w);
		for (size_t i = 0; i < nwarn; i++)
			jw_str(w, warnings[i]);
		jw_arr_end(w);
	}
	jw_obj_end(w);
	if (jw_failed(w)) {
		buf_free(b);
		http_reply_prom_error(req, 500, "internal", "out of memory encoding the response");
		return;
	}
	http_reply_buf(req, 200, "application/json", b);
}

static bool parse_float(const char *s, double *out)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return *end == '\0' && errno != ERANGE;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm). */
static int parse_rfc3339(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	double frac = 0;
	int off = 0;

	if (!p)
		return -1;
	if (*p == '.') {
		const char *q = p + 1;
		double scale = 0.1;
		if (*q < '0' || *q > '9')
			return -1;
		for (; *q >= '0' && *q <= '9'; q++, scale /= 10)
			frac += (*q - '0') * scale;
		p = q;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6)
			return -1;
		off = (hh * 60 + mm) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*ms = ((int64_t)timegm(&tm) - off) * 1000 + (int64_t)llround(frac * 1000);
	return 0;
}

int promapi_parse_time(const char *s, int64_t *ms, char *err, size_t errlen)
{
	double f;

	if (parse_float(s, &f) && isfinite(f) && fabs(f) < 9.2e15) {
		*ms = (int64_t)llround(f * 1000);
		return 0;
	}
	if (parse_rfc3339(s, ms) == 0)
		return 0;
	snprintf(err, errlen, "cannot parse \"%s\" to a valid timestamp", s);
	return -1;
}

int promapi_parse_duration(const char *s, int64_t *ms, char *err, size_t errlen)
{
	double f;

	if (parse_float(s, &f)) {
		if (!isfinite(f) || f * 1000 > 9.2e18 || f * 1000 < -9.2e18) {
			snprintf(err, errlen, "cannot parse \"%s\" to a valid duration. It overflows int64", s);
			return -1;
		}
		*ms = (int64_t)llround(f * 1000);
		return 0;
	}
	if (cfg_parse_duration(s, ms) == 0)
		return 0;
	snprintf(err, errlen, "cannot parse \"%s\" to a valid duration", s);
	return -1;
}

int promapi_time_param(const char *v, int64_t dflt, int64_t *ms, char *err, size_t errlen)
{
	if (!v || !*v) {
		*ms = dflt;
		return 0;
	}
	return promapi_parse_time(v, ms, err, errlen);
}
