/*
 * labels: Prometheus label sets and the regular expressions that match label values.
 *
 * A label set is an array of (name, value) string pairs sorted by name with unique
 * names; that order is the identity of a series (hash, comparison, formatting).
 * This module does not own the strings: they live wherever the caller put them (an
 * arena, a decoded protobuf, the TSDB's own storage).
 *
 * Regexes follow Prometheus' rules on PCRE2 with JIT: the pattern is fully anchored
 * (`foo` matches only "foo"), `.` matches any character including a newline
 * (Prometheus 3), and the subject is UTF-8.
 *
 * Thread-safety: everything is reentrant; a compiled labels_regex may be used by
 * many threads at once (match data is per thread).
 * Errors: functions returning int give 0 or -1 with `err` filled.
 */
#ifndef LGTM_LABELS_H
#define LGTM_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena/arena.h"
#include "buf/buf.h"

#define LABELS_METRIC_NAME "__name__"

struct label {
	const char *name;
	const char *value;
};

struct labels {
	struct label *v;
	size_t n;
};

/* --- validation (Prometheus' legacy name rules, which remote-write 1.0 uses) --- */

/* [a-zA-Z_][a-zA-Z0-9_]* */
bool labels_valid_name(const char *s, size_t n);
/* [a-zA-Z_:][a-zA-Z0-9_:]* */
bool labels_valid_metric_name(const char *s, size_t n);
/* Well-formed UTF-8 (values and, under Prometheus 3's UTF-8 scheme, names). */
bool labels_valid_utf8(const char *s, size_t n);

/* --- sets --------------------------------------------------------------------- */

/* Sort by name (stable for equal names, so a duplicate check can follow). */
void labels_sort(struct labels *ls);
/* Check a sorted set: non-empty valid names, no duplicates, valid UTF-8 values, and a
 * valid __name__ when present; labels with empty values are errors too (callers that
 * drop them do so first). Messages use Prometheus' wording where it has one. */
int labels_check(const struct labels *ls, char *err, size_t errlen);
/* Value of `name`, or NULL when absent. Binary search: the set must be sorted. */
const char *labels_get(const struct labels *ls, const char *name);
/* Prometheus' labels.Compare: by name, then value, pair by pair; shorter set first. */
int labels_compare(const struct labels *a, const struct labels *b);
bool labels_equal(const struct labels *a, const struct labels *b);
/* 64-bit hash of a sorted set (xxh3 over name 0xff value 0xff ...). */
uint64_t labels_hash(const struct labels *ls);
/* Deep copy (array and strings) into an arena; -1 on allocation failure. */
int labels_copy(struct arena *a, const struct labels *src, struct labels *dst);
/* Prometheus' String() form: {__name__="up", job="node"}; values escaped as Go's %q. */
void labels_format(const struct labels *ls, struct buf *out);

/* --- regexes ------------------------------------------------------------------- */

struct labels_regex;

/* Compile `pattern` anchored at both ends. The error names the pattern and the
 * position PCRE2 reports, e.g. `error parsing regexp: missing ) at offset 3: "a(b"`. */
int labels_regex_compile(const char *pattern, struct labels_regex **out, char *err,
			 size_t errlen);
bool labels_regex_match(const struct labels_regex *re, const char *s, size_t n);
/* Capture groups for relabeling's $1 expansion: fills up to `max` (start, end) pairs
 * (-1 for an unset group) and returns the number of pairs, or -1 on no match. */
int labels_regex_captures(const struct labels_regex *re, const char *s, size_t n,
			  long *ovector, int max);
/* Expand a replacement template (`$1`, `${1}`, `${name}`, `$$`) against a match of
 * the same subject, as Go's regexp.Expand does (unknown groups expand to ""). */
void labels_regex_expand(const struct labels_regex *re, const char *tmpl, const char *s,
			 const long *ovector, int npairs, struct buf *out);
const char *labels_regex_pattern(const struct labels_regex *re);
void labels_regex_free(struct labels_regex *re);
/* Free the calling thread's match data now; the main thread calls this before exit
 * (other threads' data is freed when they exit). */
void labels_regex_thread_cleanup(void);

#endif
