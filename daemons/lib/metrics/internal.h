/*
 * Private to the metrics module: the shapes shared by its files.
 *
 * A registry is a singly linked list of entries in registration order. An entry is a
 * family with children, a scrape-time function, or a collector. Entries are appended
 * under the registry lock and published with a release store, so a scrape walks the
 * list without the lock (and a collector may register families while it runs).
 */
#ifndef LGTM_METRICS_INTERNAL_H
#define LGTM_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics/metrics.h"

/* Enough for any real family; keeps per-lookup arrays on the stack. */
#define METRICS_MAX_LABELS 32

enum metrics_entry_kind { ENTRY_FAMILY, ENTRY_FUNC, ENTRY_COLLECTOR };

struct metric_child {
	const struct metric *m;
	uint64_t hash;
	const char **values; /* in the family's label order; strings follow the struct */
	_Atomic uint64_t bits; /* counter/gauge: the double's bit pattern */
	/* histogram only */
	_Atomic uint64_t count;
	_Atomic uint64_t sum_bits;
	_Atomic uint64_t buckets[]; /* nbuckets + 1, not cumulative; last is +Inf */
};

struct metric {
	struct metric *_Atomic next;
	struct metrics_registry *reg;
	enum metrics_entry_kind kind;
	enum metric_type type;
	char *name;
	char *help;
	/* families */
	size_t nlabels;
	char **label_names;
	size_t *order; /* label indexes sorted by name: exposition and sort order */
	double *bounds;
	size_t nbounds;
	pthread_mutex_t lock; /* guards the child table only */
	struct metric_child **table; /* open addressing, power-of-two size */
	size_t table_size;
	size_t nchildren;
	struct metric_child *only; /* the child of a label-less family */
	/* functions and collectors */
	double (*fn)(void *arg);
	metrics_collect_fn collect;
	void *arg;
	const char *const *owned_names; /* names a collector writes, for duplicate checks */
};

struct metrics_registry {
	pthread_mutex_t lock; /* serialises appends and name checks */
	struct metric *_Atomic head;
	struct metric *tail;
};

/* validate.c */
bool metrics_valid_metric_name(const char *s);
bool metrics_valid_label_name(const char *s);
bool metrics_valid_utf8(const char *s);

/* registry.c: append a collector whose families' names are reserved in the registry. */
int metrics_add_collector(struct metrics_registry *r, metrics_collect_fn fn, void *arg,
			  const char *const *owned_names);

/* child.c */
int metrics_children_init(struct metric *m);
void metrics_children_free(struct metric *m);
/* A sorted snapshot of the children (caller frees the array); *n = 0 and NULL when none.
 * Returns -1 on allocation failure. */
int metrics_children_sorted(struct metric *m, struct metric_child ***out, size_t *n);

/* value.c: a consistent read of a histogram child; counts has nbounds + 1 slots. */
void metrics_histogram_read(const struct metric_child *c, uint64_t *counts, uint64_t *count,
			    double *sum);

/* exposition.c */
int metrics_format_float(char *out, size_t cap, double v);
void metrics_write_header(struct buf *out, const char *name, const char *help,
			  enum metric_type type);
void metrics_write_sample(struct buf *out, const char *name, double v);

#endif
