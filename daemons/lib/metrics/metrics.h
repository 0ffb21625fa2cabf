/*
 * metrics: the daemon's own metrics (self-instrumentation), exposed on /metrics in
 * the Prometheus text format 0.0.4.
 *
 * Model: a registry holds families (counter, gauge, histogram) with fixed label
 * names; a family holds children, one per label-value combination.
 *
 * Contract:
 * - Creating families is meant for start-up; it is thread-safe but takes a lock.
 * - metrics_child()/metrics_childv() are thread-safe; they take the family's lock
 *   only to look up or create the child. The returned pointer stays valid for the
 *   registry's lifetime, so hot paths look it up once and keep it.
 * - metrics_inc/add/set/observe on a child are lock-free (atomics) and thread-safe.
 * - Names and label names are validated against the Prometheus rules
 *   ([a-zA-Z_:][a-zA-Z0-9_:]*, labels without ':' and not starting with "__");
 *   an invalid or duplicate name returns NULL. So that the output always passes
 *   promtool, these are refused too: a counter name not ending in _total, a
 *   non-histogram name ending in _bucket/_sum/_count, a name that collides with a
 *   histogram's sample names (or a collector's reserved names), the label names
 *   "le" and "quantile", a NULL, empty or non-UTF-8 help, histogram buckets not
 *   strictly ascending. Label values must be UTF-8 (else metrics_child* is NULL).
 * - metrics_write_text() output passes `promtool check metrics`: HELP and TYPE for
 *   every family, label values escaped, families in registration order, children
 *   sorted by label values, counters named *_total. It matches client_golang's
 *   text: labels listed by name (histogram "le" last), numbers as Go's
 *   FormatFloat(v,'g',-1,64) ("1e+06", "0.005", "NaN", "+Inf"), and a labeled
 *   family with no children yet writes nothing. A label-less family is written
 *   from the start (at 0).
 * - Updates ignore a NULL child and the wrong kind (observe on a gauge, inc on a
 *   histogram); a negative or NaN metrics_add() to a counter is ignored.
 *   metrics_set() works on counters too (for mirroring a total kept elsewhere).
 * - Allocation failures return NULL / -1; nothing aborts.
 */
#ifndef LGTM_METRICS_H
#define LGTM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf/buf.h"

struct metrics_registry;
struct metric;       /* a family */
struct metric_child; /* one label-value combination */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics_registry *metrics_registry_new(void);
void metrics_registry_free(struct metrics_registry *r);

/* label_names is a NULL-terminated array, or NULL for none. */
struct metric *metrics_counter(struct metrics_registry *r, const char *name, const char *help,
			       const char *const *label_names);
struct metric *metrics_gauge(struct metrics_registry *r, const char *name, const char *help,
			     const char *const *label_names);
/* buckets: ascending upper bounds without +Inf; NULL selects Prometheus' defaults
 * (.005 .01 .025 .05 .1 .25 .5 1 2.5 5 10). */
struct metric *metrics_histogram(struct metrics_registry *r, const char *name, const char *help,
				 const char *const *label_names, const double *buckets,
				 size_t nbuckets);

/* values: as many as the family has label names. */
struct metric_child *metrics_child(struct metric *m, const char *const *values);
/* Same, values as NULL-terminated varargs. */
struct metric_child *metrics_childv(struct metric *m, ...);
/* The single child of a label-less family. */
struct metric_child *metrics_only(struct metric *m);

void metrics_inc(struct metric_child *c);
void metrics_add(struct metric_child *c, double v);     /* counters: v >= 0 */
void metrics_set(struct metric_child *c, double v);     /* gauges */
void metrics_observe(struct metric_child *c, double v); /* histograms */
double metrics_value(const struct metric_child *c);     /* counter/gauge value (tests); else NaN */

/* A counter or gauge without labels whose value is computed when scraped. */
int metrics_func(struct metrics_registry *r, const char *name, const char *help,
		 enum metric_type type, double (*fn)(void *arg), void *arg);

/* A collector writes whole families (with HELP/TYPE lines) at scrape time. */
typedef void (*metrics_collect_fn)(struct buf *out, void *arg);
int metrics_collector(struct metrics_registry *r, metrics_collect_fn fn, void *arg);

/* process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds (from /proc). */
int metrics_register_process(struct metrics_registry *r);
/* lgtm_build_info{version,revision,branch,daemon} 1 */
int metrics_register_build_info(struct metrics_registry *r, const char *daemon);

int metrics_write_text(struct metrics_registry *r, struct buf *out);

/* One sample of an arbitrary series in the text format, for /federate:
 * `name{l="v",...} value timestamp_ms` (labels other than __name__ in the given order,
 * values escaped, the value as Go's 'g' format) and a newline. */
struct labels;
void metrics_text_series_sample(struct buf *out, const struct labels *ls, double v,
				int64_t ts_ms);
/* "# TYPE <name> untyped" and a newline (federation knows no types). */
void metrics_text_untyped_header(struct buf *out, const char *name);

#define METRICS_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
