/*
 * scrape: parsers for what a Prometheus scrape target answers, the text exposition
 * format 0.0.4 and OpenMetrics 1.0 text, over a complete body held in memory.
 *
 * Contract:
 * - scrape_parse() walks the body once and calls the handler for every sample and
 *   every TYPE / HELP / UNIT line, in the order of the body. Everything handed to a
 *   callback (labels, strings, the exemplar) lives only until the callback returns;
 *   a caller that keeps something copies it (labels_copy).
 * - The grammar, the accepted spellings of numbers, the escapes and the error texts
 *   follow Prometheus' own parsers (model/textparse, 2.x grammar: no quoted UTF-8
 *   names). Errors read "line N: <upstream message>", e.g.
 *     line 3: expected equal, got "x\"" ("INVALID") while parsing: "a{b x\""
 * - Sample labels are sorted, carry __name__, and have their escapes resolved. As
 *   Prometheus' label builder does, labels whose value is empty are left out.
 *   Duplicate label names, invalid UTF-8 and (unlike upstream, which keeps them) NUL
 *   bytes in label values are errors.
 * - NaN values arrive as Prometheus' canonical NaN (SCRAPE_NORMAL_NAN_BITS), so a
 *   target can never write a staleness marker.
 * - Text format timestamps are integer milliseconds; OpenMetrics timestamps are
 *   seconds with decimals, converted to milliseconds as Prometheus does (truncated).
 * - OpenMetrics: the body must end with "# EOF" (an optional newline after it, and
 *   nothing else); exemplars are reported with their sample. `_created` samples of
 *   counter, histogram and summary families are reported as ordinary samples, as
 *   Prometheus does by default; skip_created drops them (what Prometheus does with
 *   created-timestamp-zero-ingestion on).
 * - A callback returning non-zero stops the parse; scrape_parse() then returns -1
 *   with whatever the callback wrote into err.
 * - Limits (struct scrape_limits, 0 = none) reproduce Prometheus' scrape-failing
 *   checks with its error texts (no line number, as upstream reports them). The
 *   parser applies opts->limits to samples as parsed; a scrape loop that relabels
 *   calls scrape_limits_check_*() after metric relabeling instead, which is where
 *   Prometheus applies them. Past sample_limit the parse goes on (counting, and
 *   still failing on bad syntax) without calling the handler, then fails with
 *   "sample limit exceeded", as Prometheus' scrape loop does.
 *
 * Thread-safety: reentrant, no global state.
 * Errors: 0 / -1 with `err` filled; allocation failure is an error too.
 */
#ifndef LGTM_SCRAPE_H
#define LGTM_SCRAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "labels/labels.h"

/* Prometheus' value.NormalNaN: the NaN every parsed NaN becomes. */
#define SCRAPE_NORMAL_NAN_BITS 0x7ff8000000000001ull

enum scrape_format {
	SCRAPE_FORMAT_NONE = 0,
	SCRAPE_FORMAT_TEXT,        /* text/plain; version=0.0.4 */
	SCRAPE_FORMAT_OPENMETRICS, /* application/openmetrics-text */
};

enum scrape_type {
	SCRAPE_TYPE_UNKNOWN = 0, /* no TYPE, "untyped" (text) or "unknown" (OpenMetrics) */
	SCRAPE_TYPE_COUNTER,
	SCRAPE_TYPE_GAUGE,
	SCRAPE_TYPE_HISTOGRAM,
	SCRAPE_TYPE_GAUGEHISTOGRAM,
	SCRAPE_TYPE_SUMMARY,
	SCRAPE_TYPE_INFO,
	SCRAPE_TYPE_STATESET,
};

struct scrape_exemplar {
	struct labels labels; /* sorted; may be empty */
	double value;
	bool has_ts;
	int64_t ts_ms;
};

struct scrape_sample {
	struct labels labels; /* sorted, with __name__ */
	const char *name;     /* the __name__ value */
	double value;
	bool has_ts;
	int64_t ts_ms;
	const struct scrape_exemplar *exemplar; /* OpenMetrics only; NULL when absent */
	/* Type of the last TYPE line seen, which is what Prometheus uses for the
	 * le/quantile normalisation and the _created rule. */
	enum scrape_type type;
	size_t line;
};

enum scrape_meta_kind {
	SCRAPE_META_TYPE,
	SCRAPE_META_HELP,
	SCRAPE_META_UNIT,
};

struct scrape_meta {
	enum scrape_meta_kind kind;
	const char *family;    /* metric family name as written */
	enum scrape_type type; /* SCRAPE_META_TYPE */
	const char *text;      /* help (escapes resolved), unit, or the type word */
	size_t text_len;       /* help text may hold NUL bytes, as upstream allows */
	size_t line;
};

/* Prometheus' per-scrape limits; 0 disables one. */
struct scrape_limits {
	size_t sample_limit;
	size_t label_limit;
	size_t label_name_length_limit;
	size_t label_value_length_limit;
};

struct scrape_handler {
	int (*sample)(void *ctx, const struct scrape_sample *s, char *err, size_t errlen);
	/* Optional. */
	int (*meta)(void *ctx, const struct scrape_meta *m, char *err, size_t errlen);
	void *ctx;
};

struct scrape_options {
	const struct scrape_limits *limits; /* NULL: the parser checks none */
	/* OpenMetrics: drop _created samples of counter/histogram/summary families. */
	bool skip_created;
	/* Prometheus 3: rewrite le (histogram) and quantile (summary) label values in
	 * OpenMetrics float form, so le="1" becomes "1.0". Prometheus 2 keeps them. */
	bool normalize_floats;
};

struct scrape_stats {
	size_t samples; /* samples parsed, including those past sample_limit */
};

/*
 * Pick the parser for a response's Content-Type as Prometheus does:
 * application/openmetrics-text -> OpenMetrics, text/plain -> text. A blank,
 * unparsable or unsupported type uses `fallback` (Prometheus 3's
 * fallback_scrape_protocol; pass SCRAPE_FORMAT_TEXT for Prometheus 2's behaviour):
 * returns 1 with a warning in err. Without a fallback (SCRAPE_FORMAT_NONE) it is an
 * error (-1), and the scrape fails. 0: the type was recognised.
 */
int scrape_format_detect(const char *content_type, enum scrape_format fallback,
			 enum scrape_format *out, char *err, size_t errlen);

/* opts and stats may be NULL. */
int scrape_parse(enum scrape_format format, const char *body, size_t len,
		 const struct scrape_options *opts, const struct scrape_handler *h,
		 struct scrape_stats *stats, char *err, size_t errlen);

/* Prometheus' label_limit / label_name_length_limit / label_value_length_limit
 * check of one final label set, with upstream's messages. */
int scrape_limits_check_labels(const struct scrape_limits *lim, const struct labels *ls,
			       char *err, size_t errlen);
/* sample_limit: fails ("sample limit exceeded") once `samples` is above it. */
int scrape_limits_check_samples(const struct scrape_limits *lim, size_t samples,
				char *err, size_t errlen);

/* "counter", "gauge", ..., "unknown": the names Prometheus' metadata API uses. */
const char *scrape_type_name(enum scrape_type t);

#endif
